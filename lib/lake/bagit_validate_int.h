/*
 * The BagIt validator's internals, shared by its files: bagit_validate.c
 * (the order of checks, findings, the report), bagit_source.c (the bag
 * read through a transport), bagit_tags.c (bagit.txt, the tag files at
 * the top, bag-info.txt, tag manifests) and bagit_payload.c (payload
 * manifests, fetch.txt, hashing the payload, Payload-Oxum).
 */
#ifndef MIGRATE_BAGIT_VALIDATE_INT_H
#define MIGRATE_BAGIT_VALIDATE_INT_H

#ifndef MIG_BAGIT_INTERNAL
#error "bagit_validate_int.h is private to lib/lake"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "migrate/bagit.h"
#include "migrate/transport.h"
#include "migrate/util.h"

/* The digest algorithms a manifest may name, in manifest-NAME.txt order. */
struct bagv_alg {
	const char	*name;		/* in manifest-NAME.txt */
	const char	*evp;		/* OpenSSL fetch name */
	size_t		 dlen;
};

#define BAGV_NALG	6
#define BAGV_DMAX	64	/* longest digest, bytes */

extern const struct bagv_alg bagv_algs[BAGV_NALG];

/* --- The bag, read through a transport (bagit_source.c) ----------------- */

/* Callbacks of the source: a top-level name, a payload file, an odd entry. */
typedef int (*bagv_top_cb)(void *arg, const char *name);
typedef int (*bagv_file_cb)(void *arg, const char *rel, uint64_t size);
typedef int (*bagv_odd_cb)(void *arg, const char *rel, const char *what);

struct bagv_src {
	struct mig_ctx		*ctx;
	const char		*name;		/* for messages */
	struct mig_transport	*t;
	const char		*bagdir;	/* NULL: the transport's root */
	bool			 any_names;	/* control chars in names */
};

/*
 * Reads the whole tag file rel into *bufp (NUL-terminated, caller frees).
 * MIG_ERR_NOTFOUND when absent; MIG_ERR_FORMAT, message set, when the
 * transport refuses it (a link, not a regular file, over the limit).
 */
int	bagv_read_all(struct bagv_src *s, const char *rel, char **bufp,
	    size_t *lenp);
/* Calls cb for each name directly in the bag directory. */
int	bagv_list_top(struct bagv_src *s, bagv_top_cb cb, void *arg);
/*
 * Walks data/: fcb for each file, ocb for a link, special file or a
 * directory nested too deep.  MIG_ERR_NOTFOUND when there is no data/,
 * MIG_ERR_FORMAT (message set) when it is not a directory.
 */
int	bagv_walk(struct bagv_src *s, bagv_file_cb fcb, bagv_odd_cb ocb,
	    void *arg);
/* Opens rel for reading; the same codes as bagv_read_all(). */
int	bagv_open(struct bagv_src *s, const char *rel, struct mig_reader **rp);

/* --- The validation ------------------------------------------------------ */

/* A payload file (or, up to 0.95, a tag file) a payload manifest lists. */
struct bagv_entry {
	char		*path;		/* "data/...", decoded */
	char		*key;		/* NFD form of path */
	unsigned char	*dig[BAGV_NALG];	/* NULL: not in that manifest */
	int64_t		 known_size;	/* fetch.txt or opts->expect; -1 */
	bool		 in_fetch;
	bool		 found;
	bool		 odd;		/* the walk found no file by its name */
	bool		 tag;		/* 0.93-0.95: tag file in a manifest */
};

/* A 0.93/0.94 tag checksum file NAME.ALG. */
struct bagv_tcfile {
	char		*name;
	int		 alg;
};

struct bagv {
	struct bagv_src			*src;
	struct mig_ctx			*ctx;
	struct mig_bag_report		*rep;
	const struct mig_bag_validate_opts *opts;
	size_t				 max_findings;
	size_t				 cap_findings;
	int				 ver;		/* 93..97, 100 */
	bool				 decode;	/* %0A %0D %25 */
	bool				 utf8;		/* no conversion */
	bool				 every;		/* in every manifest */
	const char			*info_name;	/* bag- or package- */
	unsigned			 payload_mask;
	unsigned			 tag_mask;
	unsigned			 unsupported;	/* count */
	bool				 has_fetch;
	bool				 has_info;
	bool				 walked;	/* data/ was listed */
	unsigned			 tm_listed;	/* manifests in a TM */
	unsigned			 tcf_mask;	/* algs of tcf[] */
	struct bagv_tcfile		*tcf;
	size_t				 ntcf;
	struct bagv_entry		*pe;
	size_t				 npe;
	size_t				 cappe;
	struct mig_htab			 idx;
	EVP_MD				*md[BAGV_NALG];
	EVP_MD_CTX			*mctx[BAGV_NALG];
	unsigned char			*buf;
};

/*
 * Records a finding (bagit_validate.c); past max_findings only counts it.
 * 0 or MIG_ERR_NOMEM.
 */
int	bagv_finding(struct bagv *v, enum mig_bag_kind kind, const char *path,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/*
 * A file the source refused to read (MIG_ERR_FORMAT: a link, a special
 * file) as a format finding with the context's message, which it clears.
 */
int	bagv_refused(struct bagv *v, const char *path);

/* --- Tag files (bagit_tags.c) -------------------------------------------- */

/* One well-formed line of a payload or tag manifest, or of fetch.txt. */
struct bagv_line {
	const char	*tagfile;
	size_t		 lineno;
	const char	*path;		/* decoded, free of traversal */
	unsigned char	 digest[BAGV_DMAX];	/* manifests */
	int64_t		 size;		/* fetch.txt: -1 when "-" */
};

typedef int (*bagv_line_fn)(struct bagv *v, const struct bagv_line *l,
    int a);

/* bagit.txt: version and encoding; a hard error unless they are usable. */
int	bagv_declaration(struct bagv *v);
/* bagv_top_cb for the names at the top: tag files, manifests by algorithm. */
int	bagv_top_entry(void *arg, const char *name);
/* bag-info.txt (package-info.txt up to 0.95) into the report. */
int	bagv_bag_info(struct bagv *v);
/* Every line of tagfile, a manifest of algorithm a or fetch.txt (a < 0). */
int	bagv_each_line(struct bagv *v, const char *tagfile, int a,
	    bagv_line_fn fn);
/* A finding about line l of its tag file. */
int	bagv_line_finding(struct bagv *v, const struct bagv_line *l,
	    const char *why);
/* One line of a tag manifest (or a 0.93/0.94 tag checksum file). */
int	bagv_tag_line(struct bagv *v, const struct bagv_line *l, int a);
/* tagmanifest-ALG.txt for algorithm a. */
int	bagv_tag_manifest(struct bagv *v, int a);
/* "md5,sha256" for the algorithms in mask, into out. */
void	bagv_alg_list(unsigned mask, char *out, size_t outsz);

/* --- The payload (bagit_payload.c) --------------------------------------- */

/* Digests for every algorithm a manifest names, and the read buffer. */
int	bagv_setup_digests(struct bagv *v);
/* manifest-ALG.txt for algorithm a, into the entries. */
int	bagv_payload_manifest(struct bagv *v, int a);
/* fetch.txt, when there is one: lengths and what may be absent. */
int	bagv_fetch(struct bagv *v);
/* Sizes opts->expect knows, to tell truncated from altered. */
void	bagv_known_sizes(struct bagv *v);
/* The walk of data/, what was never found, Payload-Oxum. */
int	bagv_payload(struct bagv *v);
/*
 * Hashes rel with every algorithm in mask; out[a] gets each digest and
 * *nbytes the length.  Codes of bagv_open().
 */
int	bagv_hash_file(struct bagv *v, const char *rel, unsigned mask,
	    unsigned char out[BAGV_NALG][BAGV_DMAX], uint64_t *nbytes);

#endif /* MIGRATE_BAGIT_VALIDATE_INT_H */
