/*
 * AWS Signature Version 4 (the "Authenticating Requests" chapter of the
 * S3 API reference), built here from its definition with OpenSSL's
 * HMAC-SHA256, so that every part is under our control: the path and the
 * query are URI-encoded once, by the same function that builds the URL
 * sent; the query is canonicalised (sorted, "uploads" as "uploads=");
 * the payload hash is the caller's, so the real SHA-256 of the body is
 * signed.  Lib-only: not part of the public API.
 */
#ifndef MIGRATE_SIGV4_INT_H
#define MIGRATE_SIGV4_INT_H

#if !defined(MIG_TRANSPORT_INTERNAL) && !defined(MIG_INTERNAL)
#error "sigv4_int.h is private to lib/transport"
#endif

#include <stdbool.h>
#include <stddef.h>

/* SHA-256 of nothing, hex: the payload hash of a request without body. */
#define MIG_SIGV4_EMPTY_SHA256 \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* One query parameter or header, not encoded. */
struct mig_sigv4_kv {
	const char	*name;
	const char	*value;		/* NULL or "": "name=" */
};

struct mig_sigv4_req {
	const char			*method;	/* "GET", "PUT", ... */
	const char			*path;		/* absolute, not encoded */
	const struct mig_sigv4_kv	*query;
	size_t				 nquery;
	/* Every header to sign, host and x-amz-date included. */
	const struct mig_sigv4_kv	*hdrs;
	size_t				 nhdrs;
	const char			*payload_sha256;	/* hex */
	const char			*amz_date;	/* YYYYMMDDTHHMMSSZ */
	const char			*region;
	const char			*service;	/* "s3" */
};

/*
 * Appends the URI encoding of s (RFC 3986 unreserved bytes kept, every
 * other byte as %XX upper case; '/' kept when keep_slash) to out[*olen..)
 * and NUL-terminates.  Returns false, with out unchanged past *olen, when
 * it does not fit in cap bytes.
 */
bool	mig_sigv4_encode(const char *s, bool keep_slash, char *out, size_t cap,
	    size_t *olen);

/*
 * The canonical query string of q[0..n): each name and value encoded,
 * sorted by name then value, joined by '&' (a value-less name as
 * "name=").  The same string is sent in the URL.  Caller frees *outp;
 * MIG_ERR_NOMEM.
 */
int	mig_sigv4_query(const struct mig_sigv4_kv *q, size_t n, char **outp);

/* The canonical request of rq.  Caller frees *outp. */
int	mig_sigv4_canonical_request(const struct mig_sigv4_req *rq,
	    char **outp);

/* The string to sign of rq (its canonical request hashed).  Caller frees. */
int	mig_sigv4_string_to_sign(const struct mig_sigv4_req *rq, char **outp);

/*
 * The value of the Authorization header of rq signed with the secret key
 * (secret[0..secret_len)): "AWS4-HMAC-SHA256 Credential=..., SignedHeaders
 * =..., Signature=...".  The derived keys are wiped.  Caller frees *outp.
 * MIG_ERR_NOMEM, or MIG_ERR_CRYPTO when OpenSSL fails.
 */
int	mig_sigv4_authorization(const struct mig_sigv4_req *rq,
	    const char *access_key, const char *secret, size_t secret_len,
	    char **outp);

#endif /* MIGRATE_SIGV4_INT_H */
