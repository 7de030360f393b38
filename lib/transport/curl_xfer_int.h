/*
 * The libcurl plumbing that the https (WebDAV) and s3 backends share:
 * global initialisation, the settings of one connection (timeouts, CA,
 * pinned key, the secrets to scrub), one easy-handle setup with strict
 * TLS, the capture of an answer's head, the mapping of curl's codes to
 * MIG_ERR_*, and the timing of retries.  What a backend does with a
 * transfer (multi handle or easy perform, bodies, HTTP statuses) stays in
 * the backend.  Lib-only: not part of the public API.
 */
#ifndef MIGRATE_CURL_XFER_INT_H
#define MIGRATE_CURL_XFER_INT_H

#if !defined(MIG_TRANSPORT_INTERNAL) && !defined(MIG_INTERNAL)
#error "curl_xfer_int.h is private to lib/transport"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "migrate/error.h"
#include "migrate/transport.h"

#include "scrub_int.h"

#define MIG_CURLX_ETAG_MAX	128

/* Settings of one transport, shared by all its transfers. */
struct mig_curlx_conn {
	char		*host;		/* the name TLS checks, for messages */
	char		*ca_file;	/* NULL: the system store */
	char		*pin;		/* "sha256//..." or NULL */
	const char	*proto;		/* "https", or "http" to loopback */
	const char	*user_agent;
	long		 connect_ms;
	long		 io_s;		/* no byte for this long: timed out */
	int		 retries;
	/*
	 * Every failed TLS handshake is a refusal (S3).  Otherwise only
	 * one that fails on the TLS version is; the rest are network
	 * faults, retried.
	 */
	bool		 handshake_refused;
	/* What the credentials look like in a server's echo (secret). */
	char		*secrets[MIG_SCRUB_SECRETS_MAX];
	size_t		 nsecrets;
};

/*
 * One transfer on one easy handle: its outcome, and the head of its
 * answer as the header callback reads it.  A backend embeds it and sets
 * the body callbacks itself.
 */
struct mig_curlx_xfer {
	CURL		*easy;
	CURLcode	 result;
	int		 sink_err;	/* MIG_ERR_* set by a body sink */
	char		 errbuf[CURL_ERROR_SIZE];
	long		 status;	/* of the last status line */
	bool		 headers_done;	/* final (non-1xx) header block read */
	char		 reason[64];
	bool		 reason_cut;	/* the server sent more than reason */
	char		 location[256];	/* of a redirect, for the message */
	bool		 location_cut;
	long		 retry_after;	/* seconds, -1 when absent */
	char		 etag[MIG_CURLX_ETAG_MAX];	/* "" when absent */
	uint64_t	 clen;		/* Content-Length, when have_clen */
	bool		 have_clen;
};

/*
 * curl_global_init, once per process.  0, or MIG_ERR_INTERNAL on ctx
 * when it failed.
 */
int	mig_curlx_global_init(struct mig_ctx *ctx);

/*
 * Fills the timeouts and retries from cfg (its defaults for zeros) and
 * copies ca_file and pinned_pubkey from its keys.  c must be zeroed
 * first; host, proto and user_agent are the caller's to set.  0 or
 * MIG_ERR_NOMEM; mig_curlx_conn_clear frees what was copied either way.
 */
int	mig_curlx_conn_init(struct mig_curlx_conn *c,
	    const struct mig_transport_config *cfg, struct mig_ctx *ctx);

/* Frees what c owns, the secrets wiped first.  c may be zeroed. */
void	mig_curlx_conn_clear(struct mig_curlx_conn *c);

/*
 * Remembers a copy of s[0..len) as a secret to scrub from what servers
 * send (nothing when len is 0).  MIG_ERR_NOMEM, or MIG_ERR_INTERNAL
 * past MIG_SCRUB_SECRETS_MAX.
 */
int	mig_curlx_add_secret(struct mig_curlx_conn *c, const char *s,
	    size_t len, struct mig_ctx *ctx);

/*
 * Text the server sent (or curl's words about it), fit for a message:
 * c's secrets redacted (cut: in is the start of a longer text), control
 * bytes as '?', at most cap - 1 bytes.  Without c, to know the secrets
 * by, nothing is kept.  Returns out.
 */
const char *mig_curlx_server_text(const struct mig_curlx_conn *c,
	    const char *in, size_t inlen, bool cut, char *out, size_t cap);

/*
 * Resets x->easy and x's outcome and head, then sets what every request
 * shares: url, c's protocol alone and no redirect followed, TLS 1.2 or
 * later with peer and host name verified (against ca_file alone when
 * given) and the pinned key, c's timeouts and user agent, the header
 * callback into x and curl's error text into x->errbuf.  The caller
 * sets the body callbacks.  0, or MIG_ERR_NOMEM / MIG_ERR_INTERNAL.
 */
int	mig_curlx_setup(struct mig_curlx_xfer *x,
	    const struct mig_curlx_conn *c, const char *url,
	    struct mig_ctx *ctx);

/* Whether x failed in a way worth another attempt. */
bool	mig_curlx_retryable(const struct mig_curlx_conn *c,
	    const struct mig_curlx_xfer *x);

/*
 * Maps the failed transfer x to MIG_ERR_* with a message naming what:
 * certificate, pin and TLS refusals are MIG_ERR_SECURITY with a fix; a
 * failure a body sink chose returns its x->sink_err.  Returns the code.
 */
int	mig_curlx_error(const struct mig_curlx_conn *c,
	    const struct mig_curlx_xfer *x, struct mig_ctx *ctx,
	    const char *what);

/*
 * Delay before retry number attempt (0-based): retry_after seconds
 * (bounded) when it is not -1, else 250 ms doubled per attempt up to 8 s,
 * with jitter over the upper half.  Sleep it with mig_sleep_ms().
 */
long	mig_curlx_backoff_ms(int attempt, long retry_after);

/* free(s) after wiping it; NULL is fine. */
void	mig_curlx_wipe_free(char *s);

/* Appends a copy of s to *lp.  0 or MIG_ERR_NOMEM (no message set). */
int	mig_curlx_slist_add(struct curl_slist **lp, const char *s);

/* Frees a header list after wiping every entry (one may hold a secret). */
void	mig_curlx_slist_free_wiped(struct curl_slist *l);

#endif /* MIGRATE_CURL_XFER_INT_H */
