/*
 * Scrubbing text a server sent (error bodies, reason phrases, curl's
 * messages about them) before it goes into a message.  Messages reach
 * stderr and the signed, append-only audit log, and a server may echo
 * the request's Authorization header, or the password inside it, in an
 * error body.  Lib-only: not part of the public API.
 */
#ifndef MIGRATE_SCRUB_INT_H
#define MIGRATE_SCRUB_INT_H

#if !defined(MIG_TRANSPORT_INTERNAL) && !defined(MIG_INTERNAL)
#error "scrub_int.h is private to lib/transport"
#endif

#include <stdbool.h>
#include <stddef.h>

#define MIG_SCRUB_REDACTED	"[redacted]"
/* Secrets of one transport: token, or password, user:password, base64. */
#define MIG_SCRUB_SECRETS_MAX	4

/*
 * Copies in[0..inlen) into out (cap > 0 bytes, always NUL-terminated)
 * with every occurrence of each non-empty string of secrets[0..n)
 * replaced by "[redacted]"; where several match, the longest wins.  When
 * cut is set, in is only the start of what the server sent: a tail of in
 * that begins a secret is redacted as well, since the rest was cut off.
 * Output that does not fit is dropped (it holds no secret either way).
 * Binary-safe: newlines and NULs pass.  Returns the length written.
 */
size_t	mig_scrub_secrets(const char *in, size_t inlen, bool cut,
	    const char *const *secrets, size_t n, char *out, size_t cap);

/*
 * mig_scrub_secrets, then every control byte and DEL as '?' (no escape
 * sequence reaches a terminal, no newline splits a log line), and at most
 * max bytes kept.  Returns the length written.
 */
size_t	mig_scrub(const char *in, size_t inlen, bool cut,
	    const char *const *secrets, size_t n, size_t max, char *out,
	    size_t cap);

#endif /* MIGRATE_SCRUB_INT_H */
