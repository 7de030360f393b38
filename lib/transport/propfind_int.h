/*
 * The PROPFIND multistatus parser (RFC 4918 section 14.16) of the https
 * backend, on libexpat with namespaces: only elements of the "DAV:"
 * namespace count.  It reads what a server sends, so it is bounded in
 * every direction: body size, nesting depth, text of one property,
 * number of entries; a document type declaration (and with it every
 * entity definition, internal or external) is refused outright.
 * Lib-only: not part of the public API.
 */
#ifndef MIGRATE_PROPFIND_INT_H
#define MIGRATE_PROPFIND_INT_H

#if !defined(MIG_TRANSPORT_INTERNAL) && !defined(MIG_INTERNAL)
#error "propfind_int.h is private to lib/transport"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "migrate/error.h"
#include "migrate/transport.h"

#define MIG_PF_TEXT_MAX		8192		/* href and property text */
#define MIG_PF_DEPTH_MAX	32		/* element nesting */
#define MIG_PF_MAX_ENTRIES	(1 << 20)	/* entries of one listing */
/* Bytes of one answer: 512 per entry at the entry cap. */
#define MIG_PF_BODY_MAX		((uint64_t)MIG_PF_MAX_ENTRIES * 512)

/* One <response> that names base or a direct child of it. */
struct mig_pf_entry {
	char		*name;		/* "" for base itself */
	struct mig_tstat st;
};

/*
 * A parse.  The fields are visible so that it can live on the stack;
 * read only ents, n and err, through the functions below otherwise.
 */
struct mig_pf {
	void		*xp;		/* the expat parser */
	const char	*base;		/* decoded path asked for, no '/' */
	const char	*what;		/* for messages */
	struct mig_ctx	*ctx;		/* may be NULL */
	uint64_t	 bytes;		/* fed so far */
	unsigned int	 depth;		/* of the open element */
	bool		 root_ms;	/* the root is a DAV: multistatus */
	/* the current <response>, <propstat> and captured text */
	unsigned int	 resp_depth, ps_depth, prop_depth, rtype_depth;
	int		 cap;		/* what the text is for */
	char		 text[MIG_PF_TEXT_MAX];
	size_t		 textlen;
	char		*href;
	struct mig_tstat st;		/* of the response */
	struct mig_tstat ps_st;		/* of the propstat, until its status */
	bool		 ps_len, ps_dir, ps_mtime;	/* which ps_st holds */
	int		 ps_status;	/* 0: none yet */
	/* results */
	struct mig_pf_entry *ents;
	size_t		 n, capn;
	int		 err;		/* the first MIG_ERR_*, 0 */
};

/*
 * Prepares pf to parse the answer to a PROPFIND of base (decoded, without
 * a trailing '/'; borrowed).  what names the request in messages
 * (borrowed), ctx receives them (may be NULL).  0 or MIG_ERR_NOMEM.
 */
int	mig_pf_init(struct mig_pf *pf, const char *base, const char *what,
	    struct mig_ctx *ctx);
/* Forgets everything parsed, for a retried request.  0 or NOMEM. */
int	mig_pf_restart(struct mig_pf *pf, struct mig_ctx *ctx);
/*
 * Parses the next len bytes of the body.  Returns len, or 0 once the
 * answer is refused (pf->err holds why): the signature of a body sink.
 */
size_t	mig_pf_feed(void *pf, const char *buf, size_t len);
/* The body ended: 0, or MIG_ERR_FORMAT (cut short, not well-formed). */
int	mig_pf_finish(struct mig_pf *pf);
/* Frees everything; pf may be inited again. */
void	mig_pf_clear(struct mig_pf *pf);

#endif /* MIGRATE_PROPFIND_INT_H */
