/*
 * Audit internals shared by the files of lib/audit: a strict, allocation-free JSON
 * line scanner (fast enough for verifying millions of lines) and a
 * streaming line reader.  Lib-only; tests and fuzz targets see it through
 * MIG_INTERNAL.
 */
#ifndef MIGRATE_AUDIT_INT_H
#define MIGRATE_AUDIT_INT_H

#if !defined(MIG_AUDIT_INTERNAL) && !defined(MIG_INTERNAL)
#error "audit_int.h is private to lib/audit"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "migrate/audit.h"

struct mig_ctx;

/* Top-level members the library looks at. */
enum audit_field {
	AF_V, AF_SEQ, AF_TS, AF_RUN, AF_PLAN, AF_ACTOR, AF_EVENT, AF_PREV,
	AF_HEAD, AF_SIG, AF_KEY, AF_OBJECT, AF_BYTES, AF_OUTCOME, AF_REASON,
	AF_TORN_OFFSET, AF_TORN_LENGTH, AF_TORN_SHA256,
	AF_COUNT
};

enum audit_type {
	AT_ABSENT = 0, AT_STRING, AT_NUMBER, AT_OTHER
};

/* A member's raw value: for strings, the bytes between the quotes. */
struct audit_span {
	const char	*p;
	size_t		 len;
	unsigned char	 type;		/* enum audit_type */
	bool		 esc;		/* string holds backslash escapes */
};

struct audit_scan {
	struct audit_span	f[AF_COUNT];
};

/*
 * Checks that p[0..n) is exactly one JSON object (RFC 8259, UTF-8, at most
 * 64 levels deep) and records the known top-level members.  Returns 0, or
 * -1 with *why set to a static reason.  A known member given twice is an
 * error.
 */
int	audit_scan_line(const char *p, size_t n, struct audit_scan *s,
	    const char **why);

/*
 * Decodes a string span into out (cap bytes, NUL-terminated).  Returns the
 * length, or -1 when it does not fit.
 */
long	audit_span_str(const struct audit_span *sp, char *out, size_t cap);
/* Parses a non-negative integer span; -1 when not one or > UINT64_MAX. */
int	audit_span_u64(const struct audit_span *sp, uint64_t *out);
/* true when the span is a string equal to s. */
bool	audit_span_eq(const struct audit_span *sp, const char *s);
/* true when the span is a string of 64 lowercase hex digits. */
bool	audit_span_hex64(const struct audit_span *sp);

/*
 * The fields every record must have, checked: v is 1, seq a positive
 * integer, ts an RFC 3339 UTC time with microseconds, run, plan, actor,
 * event non-empty strings, prev 64 hex digits.  Returns 0 or -1 + *why.
 */
int	audit_rec_check(const struct audit_scan *s, uint64_t *seqp,
	    const char **why);

/* SHA-256 (one shot). */
void	audit_sha256(const void *p, size_t n, unsigned char md[32]);

/* ---- Line reader ----------------------------------------------------- */

struct audit_line {
	const char	*p;		/* NULL when toolong */
	size_t		 len;		/* without the newline */
	uint64_t	 lineno;	/* 1-based */
	uint64_t	 offset;	/* of the first byte */
	bool		 terminated;	/* a newline follows */
	bool		 toolong;	/* over MIG_AUDIT_LINE_MAX: skipped */
};

struct audit_reader;

/*
 * Reads the file at path (O_NOFOLLOW) or, when path is NULL, the memory
 * mem[0..memlen) (borrowed).  name is used in messages (copied).
 */
int	audit_reader_open(const char *path, const void *mem, size_t memlen,
	    const char *name, struct mig_ctx *ctx, struct audit_reader **rp);
/* 1: *l is the next line (borrowed until the next call); 0: end; <0. */
int	audit_reader_next(struct audit_reader *r, struct audit_line *l,
	    struct mig_ctx *ctx);
void	audit_reader_free(struct audit_reader *r);

/* ---- Verifier core, fed line by line (used by fuzz targets too) -------- */

struct audit_verifier;

/*
 * pub and head (a head to look for, or NULL) are borrowed; flags are
 * those of mig_audit_verify().
 */
int	audit_verifier_new(const struct mig_sign_key *pub, unsigned int flags,
	    const char *head, struct audit_verifier **vp);
/*
 * 0: go on; MIG_ERR_VERIFY: rep->bad_* set (later lines are only
 * scanned for rep->sig_members); 1: head found (stop).
 */
int	audit_verifier_line(struct audit_verifier *v,
	    const struct audit_line *l, struct mig_audit_report *rep);
/* End of input: 0 intact, MIG_ERR_VERIFY otherwise. */
int	audit_verifier_end(struct audit_verifier *v,
	    struct mig_audit_report *rep);
void	audit_verifier_free(struct audit_verifier *v);

#endif /* MIGRATE_AUDIT_INT_H */
