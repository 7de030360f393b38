/*
 * Error codes and the error context shared by every module.
 *
 * A fallible function returns 0 on success or a negative MIG_ERR_* value.
 * The human-readable detail of the last failure lives on a struct mig_ctx
 * (libarchive's archive_set_error() model): the library never prints,
 * never exits and never reads the environment.
 */
#ifndef MIGRATE_ERROR_H
#define MIGRATE_ERROR_H

#include <stdarg.h>
#include <stddef.h>

enum mig_err {
	MIG_OK = 0,
	MIG_ERR_NOMEM = -1,	/* out of memory */
	MIG_ERR_IO = -2,	/* local I/O failure */
	MIG_ERR_USAGE = -3,	/* bad arguments from the caller */
	MIG_ERR_PARSE = -4,	/* invalid input document (plan, TOML) */
	MIG_ERR_CRYPTO = -5,	/* a cryptographic operation failed */
	MIG_ERR_VERIFY = -6,	/* integrity check failed: tampering */
	MIG_ERR_NOKEY = -7,	/* no identity matches the file */
	MIG_ERR_SECURITY = -8,	/* refused: host key, TLS, mode, path */
	MIG_ERR_NET = -9,	/* network or remote server failure */
	MIG_ERR_PARTIAL = -10,	/* some objects failed; a re-run resumes */
	MIG_ERR_NOTFOUND = -11,	/* a named thing does not exist */
	MIG_ERR_EXISTS = -12,	/* refusing to overwrite */
	MIG_ERR_FORMAT = -13,	/* malformed file format (age, bag, log) */
	MIG_ERR_INTERNAL = -14,	/* a bug: an invariant did not hold */
	MIG_ERR_AGAIN = -15,	/* transient failure, worth a retry */
	MIG_ERR_CANCELLED = -16	/* stopped on request */
};

#define MIG_ERRMSG_MAX	1024

/* Opaque per-thread error context. */
struct mig_ctx;

/* Returns a new context, or NULL on ENOMEM. */
struct mig_ctx	*mig_ctx_new(void);
/* Frees ctx; NULL is a no-op. */
void		 mig_ctx_free(struct mig_ctx *ctx);

/*
 * Records code and a formatted message on ctx and returns code, so that
 * callers can write "return mig_seterr(ctx, MIG_ERR_IO, ...)".
 */
int		 mig_seterr(struct mig_ctx *ctx, int code, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));
int		 mig_vseterr(struct mig_ctx *ctx, int code, const char *fmt,
		    va_list ap) __attribute__((format(printf, 3, 0)));

/*
 * Like mig_seterr(), and appends the reasons drained from the OpenSSL
 * error queue (which is left empty).
 */
int		 mig_seterr_ssl(struct mig_ctx *ctx, int code, const char *fmt,
		    ...) __attribute__((format(printf, 3, 4)));

/*
 * Prefixes the current message with "PREFIX: " (e.g. a file name) and
 * returns the current code.  Used when a lower layer did not know where.
 */
int		 mig_preferr(struct mig_ctx *ctx, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));

/* Forgets the last error. */
void		 mig_clearerr(struct mig_ctx *ctx);

/* Borrowed; valid until the next call that sets an error on ctx. */
const char	*mig_errmsg(const struct mig_ctx *ctx);
int		 mig_errcode(const struct mig_ctx *ctx);

/* Static string for a code. */
const char	*mig_strerror(int code);

/* Exit status documented in migrate(1) for an error code. */
int		 mig_exit_status(int code);

#endif /* MIGRATE_ERROR_H */
