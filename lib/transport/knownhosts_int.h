/*
 * The SFTP host key policy: OpenSSH's known_hosts semantics (sshd(8)
 * "SSH_KNOWN_HOSTS FILE FORMAT", ssh_config(5) "PATTERNS"), written as
 * small pure functions so that unit tests and the fuzzer reach every
 * rule without a server.  Lib-only; tests and fuzz targets see it through
 * MIG_INTERNAL.
 */
#ifndef MIGRATE_KNOWNHOSTS_INT_H
#define MIGRATE_KNOWNHOSTS_INT_H

#if !defined(MIG_TRANSPORT_INTERNAL) && !defined(MIG_INTERNAL)
#error "knownhosts_int.h is private to lib/transport"
#endif

#include <stdbool.h>
#include <stddef.h>

struct mig_ctx;

#define MIG_KH_DEFAULT_PORT	22
/* "SHA256:" and 43 characters of unpadded base64, and a NUL. */
#define MIG_KH_FP_LEN		51

/*
 * Writes the name known_hosts lines are matched against: host in lower
 * case, as "[host]:port" when port is not 22.  Returns 0, or -1 when it
 * does not fit in len bytes.
 */
int	mig_kh_hostname(const char *host, int port, char *buf, size_t len);

/*
 * OpenSSH's match_pattern(): true when all of name matches pat, where
 * '*' matches any run of characters and '?' any one, and pat is compared
 * in lower case (name is expected in lower case).  Iterative, O(namelen *
 * patlen) at worst: no pattern makes it recurse or take exponential time.
 */
bool	mig_kh_match_pattern(const char *name, size_t namelen,
	    const char *pat, size_t patlen);

/*
 * OpenSSH's match_hostname() over a comma-separated pattern list: 1 when
 * some pattern matches name and no negated one ("!pattern") does, -1
 * when a negated pattern matches (the whole list then does not match,
 * whatever else matches), 0 otherwise.
 */
int	mig_kh_match_list(const char *name, const char *list, size_t len);

/*
 * A hashed host field "|1|SALT|HASH" (ssh-keygen -H): 1 when HASH is the
 * HMAC-SHA1 of name keyed with SALT, 0 when not, -1 when the field is
 * malformed, MIG_ERR_CRYPTO when the HMAC cannot be computed.
 */
int	mig_kh_match_hashed(const char *name, const char *field, size_t len);

enum mig_kh_marker {
	MIG_KH_MARK_NONE = 0,
	MIG_KH_MARK_REVOKED,		/* "@revoked" */
	MIG_KH_MARK_CA			/* "@cert-authority" */
};

/* One known_hosts line split into its fields; pointers into the line. */
struct mig_kh_line {
	enum mig_kh_marker	 marker;
	const char		*hosts;
	size_t			 hostslen;
	const char		*type;		/* NULL when absent */
	size_t			 typelen;
	const char		*key;		/* base64; NULL when absent */
	size_t			 keylen;
};

/*
 * Splits one line (len bytes; a final "\n" or "\r\n" is allowed) into
 * *out.  Returns 1 for a line with a host field, 0 for a blank or comment
 * line, -1 for a malformed one (unknown or repeated marker, no host
 * field).  A missing key type or key is left for the caller to judge.
 */
int	mig_kh_parse_line(const char *line, size_t len,
	    struct mig_kh_line *out);

/*
 * Decodes a key field: canonical padded base64 whose blob starts with
 * the SSH string type (as OpenSSH's sshkey_read() insists).  out has
 * room for cap bytes; *outlenp gets the blob's length.  Returns 0, or -1
 * when the field is malformed or does not fit.
 */
int	mig_kh_key_decode(const char *type, size_t typelen, const char *b64,
	    size_t b64len, unsigned char *out, size_t cap, size_t *outlenp);

/* What known_hosts says about one host key, strongest first. */
enum mig_kh_verdict {
	MIG_KH_REVOKED,		/* a matching @revoked line holds the key */
	MIG_KH_REVOKED_BAD,	/* a matching @revoked line's key is unreadable */
	MIG_KH_CA,		/* a matching @cert-authority line (unsupported) */
	MIG_KH_OK,		/* a matching line holds the key */
	MIG_KH_CHANGED,		/* matching lines hold other keys of its type */
	MIG_KH_UNKNOWN		/* no matching line holds a key of its type */
};

/*
 * Checks one host key against known_hosts lines fed one at a time.  Each
 * *_line member is the first line number (from 1) that found that case,
 * or 0.  negated and portless explain an UNKNOWN verdict: a line that
 * holds the key but excludes the host with a "!" pattern, or that names
 * the host without the port it listens on.
 */
struct mig_kh_check {
	const char		*name;		/* mig_kh_hostname(); borrowed */
	const char		*bare;		/* host alone when port != 22 */
	const unsigned char	*key;		/* the server's blob; borrowed */
	size_t			 keylen;
	const char		*ktype;		/* inside key */
	size_t			 ktypelen;
	unsigned char		*buf;		/* decoded keys */
	size_t			 cap;
	size_t			 lineno;
	size_t			 bad;		/* malformed lines skipped */
	size_t			 revoked_line;
	size_t			 revoked_bad_line;
	size_t			 ca_line;
	size_t			 ok_line;
	size_t			 changed_line;
	size_t			 negated_line;
	size_t			 portless_line;
};

/*
 * Starts a check of key (an SSH public key blob) for name, as made by
 * mig_kh_hostname(); bare is the host alone, lower case, when the port is
 * not 22 (for the hint only), else NULL.  All three are borrowed until
 * mig_kh_check_free().  Returns 0, or -1 when key is not an SSH blob.
 */
int	mig_kh_check_init(struct mig_kh_check *c, const char *name,
	    const char *bare, const unsigned char *key, size_t keylen);
/*
 * Feeds the next line (len bytes; NUL ends it early, as in OpenSSH).
 * Malformed lines are counted and skipped.  Returns 0, MIG_ERR_NOMEM or
 * MIG_ERR_CRYPTO.
 */
int	mig_kh_check_line(struct mig_kh_check *c, const char *line,
	    size_t len);
/* The verdict so far; *linep gets the line that decided it (0: none). */
enum mig_kh_verdict mig_kh_check_verdict(const struct mig_kh_check *c,
	    size_t *linep);
/* Frees what the check holds; c itself is the caller's. */
void	mig_kh_check_free(struct mig_kh_check *c);

/*
 * OpenSSH's fingerprint of a key blob: "SHA256:" and the unpadded base64
 * of its SHA-256, into out (MIG_KH_FP_LEN bytes or more).  Returns 0, or
 * -1 when out is too small or the digest fails.
 */
int	mig_kh_fingerprint(const unsigned char *key, size_t len, char *out,
	    size_t outlen);

/*
 * The SFTP transport's host key policy: returns 0 when the known_hosts
 * file at path vouches for key (the server's blob, of display type tname
 * such as "ED25519") for host:port.  Otherwise MIG_ERR_SECURITY with a
 * message, prefixed by where, that names the file and line, the host, the
 * key type and fingerprint and says how to fix it; MIG_ERR_NOMEM or
 * MIG_ERR_CRYPTO on those failures.
 */
int	mig_kh_verify(struct mig_ctx *ctx, const char *where,
	    const char *path, const char *host, int port,
	    const unsigned char *key, size_t keylen, const char *tname);

#endif /* MIGRATE_KNOWNHOSTS_INT_H */
