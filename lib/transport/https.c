/*
 * HTTPS destination: plain WebDAV (RFC 4918) over libcurl.
 *
 *   mkdir_p    MKCOL on every level not yet known to exist (405: exists)
 *   open_write PUT to DIR/.BASE.migrate-tmp-XXXXXXXX, streamed, then MOVE
 *              to the final name (Overwrite: F; on 412, Overwrite: T)
 *   open_read  GET, streamed through a bounded ring buffer
 *   stat       PROPFIND Depth: 0      list  PROPFIND Depth: 1
 *   remove     DELETE
 *
 * Every transfer of one struct mig_transport runs on one curl multi
 * handle, so connections are kept alive and shared between the one-shot
 * requests and the open streams.  Streams are driven from the caller's
 * write() and read(): the upload's read callback hands out the caller's
 * buffer and pauses when it is used up; the download's write callback
 * fills a ring and pauses when it is full.  Memory stays constant
 * whatever the object size.
 *
 * TLS is always verified (peer and host name), against ca_file alone when
 * it is given or the system store otherwise, and optionally against a
 * pinned public key.  Plain http:// is refused unless the caller allows it
 * and the host is a loopback address.
 *
 * Credentials travel only in an Authorization header built here; its
 * copies are wiped before they are freed, and no URL we build carries
 * userinfo.  A server may still echo the header (or the password in it)
 * in an error body or reason phrase: everything a server sends is
 * scrubbed of the credentials (scrub.c) before it goes into a message,
 * so no message, and no audit record made from one, can show a secret.
 *
 * Decisions worth knowing:
 * - 401 and 403 are MIG_ERR_NET (exit status 1) with a message that says
 *   "authentication failed" or "forbidden": the connection was fine and
 *   trusted, the account is not.
 * - A redirect (3xx), to any request including the first, and a server
 *   that offers no TLS 1.2 or later are refusals (MIG_ERR_SECURITY): never
 *   followed, never retried, and audited by the run as security.refused.
 * - A streamed PUT cannot be replayed here; a failure mid-upload returns
 *   MIG_ERR_NET and the run layer re-runs the object.  One-shot requests
 *   (MKCOL, MOVE, DELETE, PROPFIND, OPTIONS) and the start of a GET are
 *   retried on connection errors, 408, 429 and 5xx, with exponential
 *   backoff, jitter and Retry-After (bounded).
 * - Re-landing an object replaces it: MOVE with Overwrite: F answers 412
 *   when the final name exists, and the MOVE is then repeated with
 *   Overwrite: T, which servers such as nginx perform as one rename.
 * - Repr-Digest (RFC 9530) is sent as an HTTP trailer when the size is
 *   unknown (chunked upload).  With a Content-Length the digest is known
 *   only after the body went out, so it is not sent; the bag manifest
 *   and "migrate verify" check every object end to end instead.
 * - stat uses PROPFIND Depth: 0 rather than HEAD: it answers for
 *   collections too.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "migrate/error.h"
#include "migrate/stream.h"
#include "migrate/transport.h"

#include "transport_int.h"

#define MIG_TRANSPORT_INTERNAL
#include "propfind_int.h"
#include "scrub_int.h"

#ifndef MIG_VERSION
#define MIG_VERSION	"0"
#endif

#define DEF_CONNECT_MS	15000L
#define DEF_IO_MS	60000L
#define DEF_RETRIES	4
#define BACKOFF_MS	250L		/* first retry delay */
#define BACKOFF_MAX_MS	8000L
#define RETRY_AFTER_MAX	30L		/* seconds of Retry-After honoured */
#define POLL_MS		1000		/* longest single wait in curl */
#define RING_SIZE	(256 * 1024)	/* download buffer per reader */
#define UPLOAD_BUFSZ	(256 * 1024L)	/* curl's upload buffer */
#define ERRBODY_MAX	512		/* error body bytes kept */
#define DIRCACHE_MAX	1024		/* directories known to exist */
#define URL_MAX		8192

/* Body of every PROPFIND: only the properties we read. */
static const char propfind_body[] =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
    "<D:propfind xmlns:D=\"DAV:\"><D:prop>"
    "<D:resourcetype/><D:getcontentlength/><D:getlastmodified/>"
    "</D:prop></D:propfind>\n";

struct https;
struct stream;

/* One transfer on one easy handle: what the callbacks collect. */
struct xfer {
	struct https	*h;
	CURL		*easy;
	struct curl_slist *hdrs;
	bool		 in_multi;
	bool		 done;		/* CURLMSG_DONE seen */
	bool		 headers_done;	/* final (non-1xx) header block read */
	CURLcode	 result;
	long		 status;
	char		 reason[64];
	bool		 reason_cut;	/* the server sent more than reason */
	char		 location[256];	/* of a redirect, for the message */
	bool		 location_cut;
	long		 retry_after;	/* seconds, -1 when absent */
	char		 errbody[ERRBODY_MAX];
	size_t		 errlen;
	/* Body sink for 2xx answers: returns len, PAUSE, or 0 on error. */
	size_t		(*sink)(void *arg, const char *buf, size_t len);
	void		*sink_arg;
	int		 sink_err;	/* MIG_ERR_* set by the sink */
	char		 errbuf[CURL_ERROR_SIZE];
};

/* An open writer (PUT) or reader (GET). */
struct stream {
	struct https	*h;		/* NULL once the transport closed */
	struct stream	*prev, *next;	/* open streams of h */
	struct xfer	 x;
	char		*path;		/* final relative path */
	char		*tmp;		/* temporary relative path (writer) */
	/* writer */
	int64_t		 size;
	uint64_t	 count;
	const unsigned char *src;
	size_t		 srclen;
	bool		 eof;
	bool		 paused;
	bool		 published;
	bool		 chunked;
	/*
	 * The last byte of an announced-size body, held back until close so
	 * that an abandoned upload never completes on the server.
	 */
	unsigned char	 held;
	bool		 has_held;
	EVP_MD_CTX	*md;
	/* reader */
	unsigned char	*ring;
	size_t		 rhead, rlen;
	bool		 rpaused;
};

struct https {
	struct mig_transport *t;
	struct mig_ctx	*ctx;
	CURLM		*multi;
	CURLSH		*share;
	struct xfer	 sx;		/* the one-shot request handle */
	char		*origin;	/* "https://host:port" */
	char		*root;		/* encoded root path, no trailing '/' */
	char		*root_dec;	/* decoded root path, no trailing '/' */
	char		*host;		/* for messages */
	char		*auth;		/* "Authorization: ..." (secret) */
	/* What auth carries, scrubbed from server text (secret). */
	char		*secrets[MIG_SCRUB_SECRETS_MAX];
	size_t		 nsecrets;
	char		*ca_file;
	char		*pin;
	bool		 plain;
	long		 connect_ms;
	long		 io_s;
	int		 retries;
	char		**dirs;		/* directories known to exist */
	size_t		 ndirs;
	struct stream	*streams;
};

/* One request of the one-shot kind. */
struct req {
	const char	*method;
	const char	*path;		/* relative; "" is the root */
	const char	*abs;		/* encoded path replacing root+path */
	bool		 dir;		/* URL ends with '/' */
	const char	*depth;
	const char	*dest;		/* Destination URL */
	const char	*overwrite;	/* "T" or "F" */
	bool		 propfind;	/* send propfind_body */
	struct mig_pf	*pf;		/* parses a 2xx body */
	int		 retries;	/* -1: the transport's setting */
	bool		 quiet;		/* leave ctx alone */
	long		 status;	/* out */
	int		 attempts;	/* out: how many were made */
};

/* ---------------------------------------------------------------------- */
/* Global initialisation */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void
curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---------------------------------------------------------------------- */
/* Small helpers */

static void
wipe_free(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

/* Frees a header list after wiping every entry (one may hold a secret). */
static void
slist_free_wiped(struct curl_slist *l)
{
	struct curl_slist *p;

	for (p = l; p != NULL; p = p->next)
		if (p->data != NULL)
			OPENSSL_cleanse(p->data, strlen(p->data));
	curl_slist_free_all(l);
}

static int
slist_add(struct curl_slist **lp, const char *s)
{
	struct curl_slist *n;

	if ((n = curl_slist_append(*lp, s)) == NULL)
		return MIG_ERR_NOMEM;
	*lp = n;
	return 0;
}

/* "ROOT/PATH" for messages (never carries credentials). */
static const char *
where(struct https *h, const char *path, char *buf, size_t sz)
{
	const char *root = h->t->root != NULL ? h->t->root : "https";
	size_t rl = strlen(root);

	if (path == NULL || *path == '\0')
		return root;
	if (rl > 0 && root[rl - 1] == '/')
		rl--;
	(void)snprintf(buf, sz, "%.*s/%s", (int)rl, root, path);
	return buf;
}

static bool
unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

/* Appends s percent-encoded (keeping '/') to out[*olen]; false if full. */
static bool
encode_path(const char *s, char *out, size_t cap, size_t *olen)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;
	size_t o = *olen;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (unreserved(*p) || *p == '/') {
			if (cap - o < 2)
				return false;
			out[o++] = (char)*p;
		} else {
			if (cap - o < 4)
				return false;
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	out[o] = '\0';
	*olen = o;
	return true;
}

/* Full URL of a relative path (trailing '/' for a collection). */
static int
make_url(struct https *h, const char *path, bool dir, char *out, size_t cap)
{
	size_t o;
	int n;

	n = snprintf(out, cap, "%s%s", h->origin, h->root);
	if (n < 0 || (size_t)n >= cap)
		return MIG_ERR_USAGE;
	o = (size_t)n;
	if (*path != '\0') {
		if (cap - o < 2)
			return MIG_ERR_USAGE;
		out[o++] = '/';
		out[o] = '\0';
		if (!encode_path(path, out, cap, &o))
			return MIG_ERR_USAGE;
	}
	if (dir) {
		if (cap - o < 2)
			return MIG_ERR_USAGE;
		out[o++] = '/';
		out[o] = '\0';
	}
	return 0;
}

/* Path checks of transport.h, with "" meaning the root where allowed. */
static int
check_path(struct https *h, const char *path, bool root_ok)
{
	if (root_ok && *path == '\0')
		return 0;
	return mig_path_check_relative(path, h->ctx);
}

static void
sleep_ms(long ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		continue;
}

/* Delay before retry number attempt (0-based), with jitter. */
static long
backoff_ms(int attempt, long retry_after)
{
	unsigned int rnd = 0;
	long base;

	if (retry_after >= 0)
		return (retry_after > RETRY_AFTER_MAX ? RETRY_AFTER_MAX :
		    retry_after) * 1000L;
	base = BACKOFF_MS;
	while (attempt-- > 0 && base < BACKOFF_MAX_MS)
		base *= 2;
	if (base > BACKOFF_MAX_MS)
		base = BACKOFF_MAX_MS;
	(void)RAND_bytes((unsigned char *)&rnd, sizeof(rnd));
	/* Full jitter over the upper half: [base/2, base]. */
	return base / 2 + (long)(rnd % (unsigned int)(base / 2 + 1));
}

/* ---------------------------------------------------------------------- */
/* Translating curl and HTTP outcomes: the only place that picks codes */

/*
 * Text the server sent (or curl's words about it), fit for a message:
 * the transport's credentials redacted (cut: in is the start of a longer
 * text), control bytes as '?', at most cap - 1 bytes.  A server may echo
 * the Authorization header, and messages reach the audit log.  Without
 * the transport to know its secrets, nothing is kept.  Returns out.
 */
static const char *
server_text(const struct https *h, const char *in, size_t inlen, bool cut,
    char *out, size_t cap)
{
	if (h == NULL)
		inlen = 0;
	(void)mig_scrub(in, inlen, cut, h != NULL ?
	    (const char *const *)h->secrets : NULL, h != NULL ? h->nsecrets :
	    0, cap - 1, out, cap);
	return out;
}

static bool
curl_transient(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_HTTP3:
	case CURLE_QUIC_CONNECT_ERROR:
		return true;
	default:
		return false;
	}
}

/*
 * Whether a failed handshake failed on the TLS version: the server
 * offers nothing from TLS 1.2 up (or signals a downgrade).  That is a
 * refusal, not a network fault: retrying cannot help.  curl reports the
 * OpenSSL error as "error:0A00042E:SSL routines::...", whose code says
 * it without relying on the wording.
 */
static bool
tls_version_refused(const struct xfer *x)
{
	const char *p = x->errbuf;
	unsigned long e;
	char *end;

	if (x->result != CURLE_SSL_CONNECT_ERROR)
		return false;
	while ((p = strstr(p, "error:")) != NULL) {
		p += 6;
		e = strtoul(p, &end, 16);
		if (end == p || *end != ':' || ERR_GET_LIB(e) != ERR_LIB_SSL)
			continue;
		switch (ERR_GET_REASON(e)) {
		case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
		case SSL_R_UNSUPPORTED_PROTOCOL:
		case SSL_R_VERSION_TOO_LOW:
		case SSL_R_INAPPROPRIATE_FALLBACK:
		case SSL_R_TLSV1_ALERT_INAPPROPRIATE_FALLBACK:
			return true;
		default:
			break;
		}
	}
	return false;
}

/* A failure worth another attempt. */
static bool
retryable(const struct xfer *x)
{
	return curl_transient(x->result) && !tls_version_refused(x);
}

/*
 * Maps a failed transfer to MIG_ERR_* with a message naming what.
 * Certificate, pin and TLS version refusals are MIG_ERR_SECURITY with a
 * fix.
 */
static int
curl_error(struct https *h, struct xfer *x, struct mig_ctx *ctx,
    const char *what)
{
	const char *raw = x->errbuf[0] != '\0' ? x->errbuf :
	    curl_easy_strerror(x->result);
	char detail[CURL_ERROR_SIZE];
	long vr = 0;

	/* curl quotes what the server sent in some of its messages. */
	(void)server_text(h, raw, strlen(raw),
	    strlen(raw) >= CURL_ERROR_SIZE - 1, detail, sizeof(detail));

	switch (x->result) {
	case CURLE_OK:
		return mig_seterr(ctx, MIG_ERR_INTERNAL,
		    "%s: transfer failed without an error", what);
	case CURLE_PEER_FAILED_VERIFICATION:
		/* curl checks the name itself; its message says which. */
		if (strstr(raw, "host name") != NULL ||
		    strstr(raw, "subject name") != NULL)
			return mig_seterr(ctx, MIG_ERR_SECURITY,
			    "%s: TLS certificate does not match host name "
			    "\"%s\" (%s)", what, h->host, detail);
		(void)curl_easy_getinfo(x->easy, CURLINFO_SSL_VERIFYRESULT,
		    &vr);
		if (vr != 0 && vr != X509_V_ERR_UNSPECIFIED)
			return mig_seterr(ctx, MIG_ERR_SECURITY,
			    "%s: TLS certificate not trusted (%s); set "
			    "ca_file to the CA that signed the server "
			    "certificate", what,
			    X509_verify_cert_error_string(vr));
		return mig_seterr(ctx, MIG_ERR_SECURITY,
		    "%s: TLS certificate refused (%s)", what, detail);
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		return mig_seterr(ctx, MIG_ERR_SECURITY,
		    "%s: server public key does not match pinned_pubkey",
		    what);
	case CURLE_SSL_CACERT_BADFILE:
		return mig_seterr(ctx, MIG_ERR_SECURITY,
		    "%s: cannot use ca_file \"%s\" (%s)", what,
		    h->ca_file != NULL ? h->ca_file : "(system store)",
		    detail);
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return mig_seterr(ctx, MIG_ERR_SECURITY, "%s: TLS refused: %s",
		    what, detail);
	case CURLE_UNSUPPORTED_PROTOCOL:
		return mig_seterr(ctx, MIG_ERR_SECURITY,
		    "%s: protocol refused: %s", what, detail);
	case CURLE_SSL_CONNECT_ERROR:
		if (tls_version_refused(x))
			return mig_seterr(ctx, MIG_ERR_SECURITY, "%s: TLS "
			    "version refused: the server offers no TLS 1.2 or "
			    "later (%s)", what, detail);
		return mig_seterr(ctx, MIG_ERR_NET, "%s: %s", what, detail);
	case CURLE_OUT_OF_MEMORY:
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	case CURLE_OPERATION_TIMEDOUT:
		return mig_seterr(ctx, MIG_ERR_NET, "%s: timed out: %s", what,
		    detail);
	case CURLE_WRITE_ERROR:
	case CURLE_ABORTED_BY_CALLBACK:
		if (x->sink_err != 0)
			return x->sink_err;
		return mig_seterr(ctx, MIG_ERR_NET, "%s: %s", what, detail);
	default:
		return mig_seterr(ctx, MIG_ERR_NET, "%s: %s", what, detail);
	}
}

static bool
status_transient(long status)
{
	if (status == 408 || status == 429)
		return true;
	/* Not implemented, bad version, out of space: retrying is futile. */
	return status >= 500 && status <= 599 && status != 501 &&
	    status != 505 && status != 507;
}

/*
 * The server's own words: the <title> of HTML, or a first line, with the
 * credentials redacted first, so that no excerpt can cut a secret short
 * of its match.  A body kept to ERRBODY_MAX bytes may end in a secret's
 * start: that goes too.
 */
static void
body_excerpt(const struct xfer *x, char *out, size_t cap)
{
	const struct https *h = x->h;
	char clean[2 * ERRBODY_MAX];
	const char *b = clean, *s, *e, *end;
	size_t n, i, len;

	out[0] = '\0';
	if (h == NULL)
		return;
	len = mig_scrub_secrets(x->errbody, x->errlen,
	    x->errlen == sizeof(x->errbody), (const char *const *)h->secrets,
	    h->nsecrets, clean, sizeof(clean));
	end = clean + len;
	s = b;
	while (s < end && (*s == ' ' || *s == '\t' || *s == '\r' ||
	    *s == '\n'))
		s++;
	if (s == end)
		return;
	if (*s == '<') {
		/* HTML or XML: the title if there is one, else nothing. */
		s = NULL;
		for (i = 0; i + 7 <= len; i++)
			if (strncasecmp(b + i, "<title>", 7) == 0) {
				s = b + i + 7;
				break;
			}
		if (s == NULL)
			return;
		for (e = s; e < end && *e != '<'; e++)
			continue;
	} else
		for (e = s; e < end && *e != '\r' && *e != '\n'; e++)
			continue;
	n = (size_t)(e - s);
	(void)mig_scrub(s, n, false, NULL, 0, 200, out, cap);
}

/* An unexpected HTTP status as MIG_ERR_* with the server's message. */
static int
http_error(struct xfer *x, struct mig_ctx *ctx, const char *what,
    const char *method)
{
	char msg[256], reason[sizeof(x->reason)];

	body_excerpt(x, msg, sizeof(msg));
	(void)server_text(x->h, x->reason, strlen(x->reason), x->reason_cut,
	    reason, sizeof(reason));
	switch (x->status) {
	case 401:
		return mig_seterr(ctx, MIG_ERR_NET,
		    "%s: authentication failed (HTTP 401): check the token, "
		    "or the user and password", what);
	case 403:
		return mig_seterr(ctx, MIG_ERR_NET,
		    "%s: forbidden (HTTP 403): the server refused %s for "
		    "this account", what, method);
	case 404:
		return mig_seterr(ctx, MIG_ERR_NOTFOUND, "%s: not found",
		    what);
	case 413:
		return mig_seterr(ctx, MIG_ERR_NET, "%s: %s: object too large "
		    "for the server (HTTP 413)", what, method);
	default:
		break;
	}
	/*
	 * A redirect would send the credentials and the data elsewhere:
	 * refused, on record, never followed and never retried.
	 */
	if (x->status >= 300 && x->status <= 399) {
		(void)server_text(x->h, x->location, strlen(x->location),
		    x->location_cut, msg, sizeof(msg));
		return mig_seterr(ctx, MIG_ERR_SECURITY, "%s: %s: redirect "
		    "refused (HTTP %ld %s%s%s): redirects are not followed; "
		    "set the destination url to where the data belongs",
		    what, method, x->status, reason, msg[0] != '\0' ?
		    " to " : "", msg);
	}
	return mig_seterr(ctx, MIG_ERR_NET, "%s: %s: HTTP %ld %s%s%s", what,
	    method, x->status, reason, msg[0] != '\0' ? ": " : "", msg);
}

/* ---------------------------------------------------------------------- */
/* curl callbacks */

static size_t
header_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * nitems, n;
	char line[256], *p, *end;
	bool cut = len > sizeof(line) - 1;
	long v;

	n = len < sizeof(line) - 1 ? len : sizeof(line) - 1;
	memcpy(line, buf, n);
	line[n] = '\0';
	while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == '\n'))
		line[--n] = '\0';
	if (n == 0) {
		if (x->status >= 200)
			x->headers_done = true;
		return len;
	}
	if (strncmp(line, "HTTP/", 5) == 0) {
		/* A new header block (after 1xx or an auth round). */
		x->status = 0;
		x->reason[0] = '\0';
		x->reason_cut = false;
		x->location[0] = '\0';
		x->location_cut = false;
		x->retry_after = -1;
		x->headers_done = false;
		p = strchr(line, ' ');
		if (p != NULL) {
			v = strtol(p + 1, &end, 10);
			if (end != p + 1 && v >= 100 && v <= 999)
				x->status = v;
			while (*end == ' ')
				end++;
			(void)snprintf(x->reason, sizeof(x->reason), "%s",
			    end);
			x->reason_cut = cut || strlen(end) >= sizeof(x->reason);
		}
		return len;
	}
	if (strncasecmp(line, "location:", 9) == 0) {
		p = line + 9;
		while (*p == ' ' || *p == '\t')
			p++;
		(void)snprintf(x->location, sizeof(x->location), "%s", p);
		x->location_cut = cut || strlen(p) >= sizeof(x->location);
		return len;
	}
	if (strncasecmp(line, "retry-after:", 12) == 0) {
		p = line + 12;
		while (*p == ' ' || *p == '\t')
			p++;
		v = strtol(p, &end, 10);
		if (end != p && *end == '\0' && v >= 0)
			x->retry_after = v;
		else {
			time_t when = curl_getdate(p, NULL);
			time_t now = time(NULL);

			if (when != (time_t)-1)
				x->retry_after = when > now ?
				    (long)(when - now) : 0;
		}
	}
	return len;
}

static size_t
body_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * nitems, n;

	if (x->status < 200 || x->status > 299) {
		/* Keep the start of an error body for the message. */
		n = sizeof(x->errbody) - x->errlen;
		if (n > len)
			n = len;
		memcpy(x->errbody + x->errlen, buf, n);
		x->errlen += n;
		return len;
	}
	if (x->sink == NULL)
		return len;
	return x->sink(x->sink_arg, buf, len);
}

/* Upload source: the caller's buffer of the current write(). */
static size_t
upload_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct stream *s = arg;
	size_t cap = size * nitems, n;

	if (s->srclen > 0) {
		n = s->srclen < cap ? s->srclen : cap;
		memcpy(buf, s->src, n);
		s->src += n;
		s->srclen -= n;
		return n;
	}
	if (s->eof)
		return 0;
	s->paused = true;
	return CURL_READFUNC_PAUSE;
}

/* Repr-Digest of a chunked upload, as a trailer (RFC 9530). */
static int
trailer_cb(struct curl_slist **list, void *arg)
{
	struct stream *s = arg;
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	char line[128] = "Repr-Digest: sha-256=:";
	size_t o = strlen(line);
	struct curl_slist *n;

	if (s->md == NULL || EVP_DigestFinal_ex(s->md, d, &dlen) != 1 ||
	    dlen != 32)
		return CURL_TRAILERFUNC_ABORT;
	o += (size_t)EVP_EncodeBlock((unsigned char *)line + o, d, 32);
	line[o++] = ':';
	line[o] = '\0';
	if ((n = curl_slist_append(*list, line)) == NULL)
		return CURL_TRAILERFUNC_ABORT;
	*list = n;
	return CURL_TRAILERFUNC_OK;
}

/* Download sink: into the ring, or pause when it is full. */
static size_t
ring_sink(void *arg, const char *buf, size_t len)
{
	struct stream *s = arg;
	size_t tail, n;

	if (len > RING_SIZE - s->rlen) {
		s->rpaused = true;
		return CURL_WRITEFUNC_PAUSE;
	}
	tail = (s->rhead + s->rlen) % RING_SIZE;
	n = RING_SIZE - tail < len ? RING_SIZE - tail : len;
	memcpy(s->ring + tail, buf, n);
	memcpy(s->ring, buf + n, len - n);
	s->rlen += len;
	s->count += len;
	return len;
}

/* ---------------------------------------------------------------------- */
/* Driving the multi handle */

static void
xfer_reset(struct xfer *x)
{
	x->done = false;
	x->headers_done = false;
	x->result = CURLE_OK;
	x->status = 0;
	x->reason[0] = '\0';
	x->reason_cut = false;
	x->location[0] = '\0';
	x->location_cut = false;
	x->retry_after = -1;
	x->errlen = 0;
	x->sink_err = 0;
	x->errbuf[0] = '\0';
}

/*
 * Runs every transfer of h until ready(arg) holds.  Finished transfers
 * are marked done on their struct xfer whoever waits for them.
 */
static int
pump(struct https *h, bool (*ready)(void *), void *arg,
    struct mig_ctx *ctx, const char *what)
{
	struct xfer *fx;
	CURLMsg *m;
	CURLMcode mc;
	int running, left;

	for (;;) {
		mc = curl_multi_perform(h->multi, &running);
		if (mc != CURLM_OK)
			return mig_seterr(ctx, MIG_ERR_NET, "%s: curl: %s",
			    what, curl_multi_strerror(mc));
		while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
			if (m->msg != CURLMSG_DONE)
				continue;
			fx = NULL;
			(void)curl_easy_getinfo(m->easy_handle,
			    CURLINFO_PRIVATE, (char **)&fx);
			if (fx != NULL) {
				fx->done = true;
				fx->result = m->data.result;
			}
		}
		if (ready(arg))
			return 0;
		if (running == 0)
			return mig_seterr(ctx, MIG_ERR_INTERNAL,
			    "%s: no transfer in progress", what);
		mc = curl_multi_poll(h->multi, NULL, 0, POLL_MS, NULL);
		if (mc != CURLM_OK)
			return mig_seterr(ctx, MIG_ERR_NET, "%s: curl: %s",
			    what, curl_multi_strerror(mc));
	}
}

static bool
ready_done(void *arg)
{
	return ((struct xfer *)arg)->done;
}

static bool
ready_headers(void *arg)
{
	struct xfer *x = arg;

	return x->done || x->headers_done;
}

static void
xfer_detach(struct https *h, struct xfer *x)
{
	if (x->in_multi) {
		(void)curl_multi_remove_handle(h->multi, x->easy);
		x->in_multi = false;
	}
}

/* Options every request shares.  hdrs stays owned by x. */
static int
xfer_setup(struct https *h, struct xfer *x, const char *url)
{
	CURL *e = x->easy;
	CURLcode rc = CURLE_OK;
	const char *proto = h->plain ? "http" : "https";

	curl_easy_reset(e);
	xfer_reset(x);
	x->h = h;
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_URL, url);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)x);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_SHARE, h->share);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, proto);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, proto);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
		    (long)CURL_HTTP_VERSION_1_1);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_SSLVERSION,
		    (long)CURL_SSLVERSION_TLSv1_2);
	if (rc == CURLE_OK && h->ca_file != NULL) {
		/* The given CA alone: the system store is not consulted. */
		rc = curl_easy_setopt(e, CURLOPT_CAINFO, h->ca_file);
		if (rc == CURLE_OK)
			rc = curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
	}
	if (rc == CURLE_OK && h->pin != NULL)
		rc = curl_easy_setopt(e, CURLOPT_PINNEDPUBLICKEY, h->pin);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
		    h->connect_ms);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, h->io_s);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_USERAGENT,
		    "migrate/" MIG_VERSION);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_HEADERDATA, (void *)x);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, body_cb);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)x);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_FILETIME, 0L);
	if (rc != CURLE_OK)
		return mig_seterr(h->ctx, rc == CURLE_OUT_OF_MEMORY ?
		    MIG_ERR_NOMEM : MIG_ERR_INTERNAL, "curl: %s",
		    curl_easy_strerror(rc));
	return 0;
}

/* Header list with the credentials and extra lines; wiped on free. */
static int
build_headers(struct https *h, struct xfer *x, const char *const *extra,
    size_t nextra)
{
	struct curl_slist *l = NULL;
	size_t i;
	int r = 0;

	slist_free_wiped(x->hdrs);
	x->hdrs = NULL;
	if (h->auth != NULL)
		r = slist_add(&l, h->auth);
	for (i = 0; r == 0 && i < nextra; i++)
		if (extra[i] != NULL)
			r = slist_add(&l, extra[i]);
	if (r != 0) {
		slist_free_wiped(l);
		return mig_seterr(h->ctx, MIG_ERR_NOMEM, "out of memory");
	}
	x->hdrs = l;
	if (l != NULL && curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, l) !=
	    CURLE_OK)
		return mig_seterr(h->ctx, MIG_ERR_INTERNAL,
		    "curl: cannot set headers");
	return 0;
}

/* ---------------------------------------------------------------------- */
/* One-shot requests with retries */

static int
run_request(struct https *h, struct req *rq)
{
	struct xfer *x = &h->sx;
	struct mig_ctx *ctx = rq->quiet ? NULL : h->ctx;
	char url[URL_MAX], wbuf[1024], depth[32], dest[URL_MAX + 16];
	char ovw[16];
	const char *extra[5], *what;
	int attempt, max, r;
	CURLcode rc;

	what = where(h, rq->path, wbuf, sizeof(wbuf));
	if (rq->abs != NULL) {
		if ((size_t)snprintf(url, sizeof(url), "%s%s%s", h->origin,
		    rq->abs, rq->dir ? "/" : "") >= sizeof(url))
			return mig_seterr(ctx, MIG_ERR_USAGE,
			    "%s: URL too long", what);
	} else if (make_url(h, rq->path, rq->dir, url, sizeof(url)) != 0)
		return mig_seterr(ctx, MIG_ERR_USAGE, "%s: URL too long",
		    what);
	extra[0] = extra[1] = extra[2] = extra[3] = extra[4] = NULL;
	if (rq->depth != NULL) {
		(void)snprintf(depth, sizeof(depth), "Depth: %s", rq->depth);
		extra[0] = depth;
	}
	if (rq->dest != NULL) {
		(void)snprintf(dest, sizeof(dest), "Destination: %s",
		    rq->dest);
		extra[1] = dest;
	}
	if (rq->overwrite != NULL) {
		(void)snprintf(ovw, sizeof(ovw), "Overwrite: %s",
		    rq->overwrite);
		extra[2] = ovw;
	}
	if (rq->propfind)
		extra[3] = "Content-Type: application/xml; charset=utf-8";
	max = rq->retries >= 0 ? rq->retries : h->retries;
	rq->status = 0;
	for (attempt = 0; ; attempt++) {
		rq->attempts = attempt + 1;
		if ((r = xfer_setup(h, x, url)) != 0 ||
		    (r = build_headers(h, x, extra, 4)) != 0)
			return r;
		rc = curl_easy_setopt(x->easy, CURLOPT_CUSTOMREQUEST,
		    rq->method);
		if (rc == CURLE_OK && rq->propfind) {
			rc = curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS,
			    propfind_body);
			if (rc == CURLE_OK)
				rc = curl_easy_setopt(x->easy,
				    CURLOPT_POSTFIELDSIZE,
				    (long)(sizeof(propfind_body) - 1));
		}
		if (rc != CURLE_OK)
			return mig_seterr(ctx, MIG_ERR_INTERNAL, "curl: %s",
			    curl_easy_strerror(rc));
		if (rq->pf != NULL) {
			if ((r = mig_pf_restart(rq->pf, ctx)) != 0)
				return r;
			x->sink = mig_pf_feed;
			x->sink_arg = rq->pf;
		} else
			x->sink = NULL;
		if (curl_multi_add_handle(h->multi, x->easy) != CURLM_OK)
			return mig_seterr(ctx, MIG_ERR_INTERNAL,
			    "curl: cannot add a transfer");
		x->in_multi = true;
		r = pump(h, ready_done, x, ctx, what);
		xfer_detach(h, x);
		if (r != 0)
			return r;
		if (x->result == CURLE_WRITE_ERROR && rq->pf != NULL &&
		    rq->pf->err != 0)
			return rq->pf->err;
		if (x->result != CURLE_OK) {
			if (retryable(x) && attempt < max) {
				sleep_ms(backoff_ms(attempt, -1));
				continue;
			}
			r = curl_error(h, x, ctx, what);
			if (attempt > 0 && retryable(x))
				(void)mig_preferr(ctx, "after %d attempts",
				    attempt + 1);
			return r;
		}
		rq->status = x->status;
		if (status_transient(x->status) && attempt < max) {
			sleep_ms(backoff_ms(attempt, x->retry_after));
			continue;
		}
		if (status_transient(x->status))
			return http_error(x, ctx, what, rq->method);
		return 0;
	}
}

/* ---------------------------------------------------------------------- */
/* Directory cache */

static bool
dir_known(struct https *h, const char *dir)
{
	size_t i;

	for (i = 0; i < h->ndirs; i++)
		if (strcmp(h->dirs[i], dir) == 0)
			return true;
	return false;
}

static void
dir_forget_all(struct https *h)
{
	size_t i;

	for (i = 0; i < h->ndirs; i++)
		free(h->dirs[i]);
	h->ndirs = 0;
}

static void
dir_remember(struct https *h, const char *dir)
{
	char *d;

	if (h->ndirs == DIRCACHE_MAX)
		dir_forget_all(h);
	if ((d = strdup(dir)) != NULL)
		h->dirs[h->ndirs++] = d;
}

/* MKCOL one level; 201 made, 405 exists. */
static int
mkcol(struct https *h, const char *dir, long *statusp)
{
	struct req rq;
	char wbuf[1024];
	int r;

	memset(&rq, 0, sizeof(rq));
	rq.method = "MKCOL";
	rq.path = dir;
	rq.dir = true;
	rq.retries = -1;
	if ((r = run_request(h, &rq)) != 0)
		return r;
	*statusp = rq.status;
	if (rq.status == 201 || rq.status == 405 || rq.status == 409)
		return 0;
	return http_error(&h->sx, h->ctx, where(h, dir, wbuf, sizeof(wbuf)),
	    "MKCOL");
}

/* Creates each prefix "/a", "/a/b", ... of the root (after a 409). */
static void
mkcol_root(struct https *h)
{
	struct req rq;
	char *copy, *p, c;

	if ((copy = strdup(h->root)) == NULL)
		return;
	for (p = copy + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		c = *p;
		*p = '\0';
		memset(&rq, 0, sizeof(rq));
		rq.method = "MKCOL";
		rq.path = "";
		rq.abs = copy;
		rq.dir = true;
		rq.retries = -1;
		rq.quiet = true;
		(void)run_request(h, &rq);
		*p = c;
		if (c == '\0')
			break;
	}
	free(copy);
}

static int
https_mkdir_p(struct mig_transport *t, const char *dir)
{
	struct https *h = t->priv;
	char *d, *p, wbuf[1024];
	long status = 0;
	bool root_tried = false, first = true;
	int r;

	if ((r = check_path(h, dir, true)) != 0)
		return r;
	if (*dir == '\0' || dir_known(h, dir))
		return 0;
	if ((d = strdup(dir)) == NULL)
		return mig_seterr(h->ctx, MIG_ERR_NOMEM, "out of memory");
	for (p = d; ; p++) {
		char c;

		if (*p != '/' && *p != '\0')
			continue;
		c = *p;
		*p = '\0';
		if (!dir_known(h, d)) {
			if ((r = mkcol(h, d, &status)) != 0)
				goto out;
			if (status == 409 && first && !root_tried &&
			    h->root[0] != '\0') {
				/* The root itself is missing: make it. */
				root_tried = true;
				mkcol_root(h);
				if ((r = mkcol(h, d, &status)) != 0)
					goto out;
			}
			if (status == 409) {
				r = mig_seterr(h->ctx, MIG_ERR_NET,
				    "%s: MKCOL: HTTP 409 Conflict (parent "
				    "missing or not a collection)",
				    where(h, d, wbuf, sizeof(wbuf)));
				goto out;
			}
			dir_remember(h, d);
		}
		first = false;
		*p = c;
		if (c == '\0')
			break;
	}
	r = 0;
out:
	free(d);
	return r;
}

/* ---------------------------------------------------------------------- */
/* stat, list, remove */

/* Decoded absolute path of a relative path, without trailing '/'. */
static char *
abs_path(struct https *h, const char *path)
{
	size_t n = strlen(h->root_dec) + strlen(path) + 2;
	char *s;

	if ((s = malloc(n)) == NULL)
		return NULL;
	if (*path == '\0')
		(void)snprintf(s, n, "%s", h->root_dec);
	else
		(void)snprintf(s, n, "%s/%s", h->root_dec, path);
	return s;
}

static int
propfind(struct https *h, const char *path, bool dir, const char *depth,
    struct mig_pf *pf, char **basep)
{
	struct req rq;
	char wbuf[1024];
	const char *what = where(h, path, wbuf, sizeof(wbuf));
	int r;

	memset(pf, 0, sizeof(*pf));	/* the caller clears it in any case */
	*basep = abs_path(h, path);
	if (*basep == NULL)
		return mig_seterr(h->ctx, MIG_ERR_NOMEM, "out of memory");
	if ((r = mig_pf_init(pf, *basep, what, h->ctx)) != 0)
		return r;
	memset(&rq, 0, sizeof(rq));
	rq.method = "PROPFIND";
	rq.path = path;
	rq.dir = dir;
	rq.depth = depth;
	rq.propfind = true;
	rq.pf = pf;
	rq.retries = -1;
	if ((r = run_request(h, &rq)) != 0)
		return r;
	if (rq.status != 207)
		return http_error(&h->sx, h->ctx, what, "PROPFIND");
	/* A body cut short or not well-formed is refused, not half read. */
	return mig_pf_finish(pf);
}

static int
https_stat(struct mig_transport *t, const char *path, struct mig_tstat *st)
{
	struct https *h = t->priv;
	struct mig_pf pf;
	char *base = NULL, wbuf[1024];
	size_t i;
	int r;

	memset(st, 0, sizeof(*st));
	if ((r = check_path(h, path, true)) != 0)
		return r;
	if ((r = propfind(h, path, *path == '\0', "0", &pf, &base)) != 0)
		goto out;
	for (i = 0; i < pf.n; i++)
		if (pf.ents[i].name[0] == '\0') {
			*st = pf.ents[i].st;
			goto out;
		}
	r = mig_seterr(h->ctx, MIG_ERR_FORMAT, "%s: PROPFIND answer does not "
	    "describe it", where(h, path, wbuf, sizeof(wbuf)));
out:
	mig_pf_clear(&pf);
	free(base);
	return r;
}

static int
https_list(struct mig_transport *t, const char *dir, mig_list_cb cb,
    void *arg)
{
	struct https *h = t->priv;
	struct mig_pf pf;
	char *base = NULL, wbuf[1024];
	size_t i;
	int r;

	if ((r = check_path(h, dir, true)) != 0)
		return r;
	if ((r = propfind(h, dir, true, "1", &pf, &base)) != 0)
		goto out;
	for (i = 0; i < pf.n; i++)
		if (pf.ents[i].name[0] == '\0') {
			if (pf.ents[i].st.type != MIG_FT_DIR) {
				r = mig_seterr(h->ctx, MIG_ERR_NOTFOUND,
				    "%s: not a directory",
				    where(h, dir, wbuf, sizeof(wbuf)));
				goto out;
			}
		}
	for (i = 0; i < pf.n; i++) {
		if (pf.ents[i].name[0] == '\0')
			continue;
		if ((r = cb(arg, pf.ents[i].name, &pf.ents[i].st)) != 0)
			goto out;
	}
out:
	mig_pf_clear(&pf);
	free(base);
	return r;
}

static int
delete_path(struct https *h, const char *path, bool dir, bool quiet)
{
	struct req rq;
	char wbuf[1024];
	int r;

	memset(&rq, 0, sizeof(rq));
	rq.method = "DELETE";
	rq.path = path;
	rq.dir = dir;
	rq.depth = dir ? "infinity" : NULL;
	rq.retries = quiet ? 0 : -1;
	rq.quiet = quiet;
	if ((r = run_request(h, &rq)) != 0)
		return r;
	if (rq.status >= 200 && rq.status <= 299)
		return 0;
	/* A retried DELETE whose first try landed finds nothing. */
	if (rq.status == 404 && rq.attempts > 1)
		return 0;
	return http_error(&h->sx, quiet ? NULL : h->ctx,
	    where(h, path, wbuf, sizeof(wbuf)), "DELETE");
}

static int
https_remove(struct mig_transport *t, const char *path)
{
	struct https *h = t->priv;
	int r;

	if ((r = check_path(h, path, false)) != 0)
		return r;
	return delete_path(h, path, false, false);
}

/* MOVE src to dst, replacing dst if it exists. */
static int
move_path(struct https *h, const char *src, const char *dst)
{
	struct req rq;
	char dest[URL_MAX], wbuf[1024];
	struct mig_tstat st;
	int r;

	if (make_url(h, dst, false, dest, sizeof(dest)) != 0)
		return mig_seterr(h->ctx, MIG_ERR_USAGE, "%s: URL too long",
		    where(h, dst, wbuf, sizeof(wbuf)));
	memset(&rq, 0, sizeof(rq));
	rq.method = "MOVE";
	rq.path = src;
	rq.dest = dest;
	rq.overwrite = "F";
	rq.retries = -1;
	if ((r = run_request(h, &rq)) != 0)
		return r;
	if (rq.status == 412) {
		/* The final name exists (an earlier landing): replace it. */
		rq.overwrite = "T";
		if ((r = run_request(h, &rq)) != 0)
			return r;
	}
	if (rq.status == 201 || rq.status == 204)
		return 0;
	if (rq.status == 404 && rq.attempts > 1 &&
	    https_stat(h->t, dst, &st) == 0)
		return 0;	/* an earlier try moved it */
	return http_error(&h->sx, h->ctx, where(h, dst, wbuf, sizeof(wbuf)),
	    "MOVE");
}

/* ---------------------------------------------------------------------- */
/* Streams */

static void
stream_link(struct https *h, struct stream *s)
{
	s->h = h;
	s->next = h->streams;
	s->prev = NULL;
	if (h->streams != NULL)
		h->streams->prev = s;
	h->streams = s;
}

static void
stream_unlink(struct stream *s)
{
	struct https *h = s->h;

	if (h == NULL)
		return;
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		h->streams = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
}

static void
stream_free(struct stream *s)
{
	if (s == NULL)
		return;
	if (s->h != NULL)
		xfer_detach(s->h, &s->x);
	stream_unlink(s);
	if (s->x.easy != NULL)
		curl_easy_cleanup(s->x.easy);
	slist_free_wiped(s->x.hdrs);
	EVP_MD_CTX_free(s->md);
	free(s->ring);
	free(s->path);
	free(s->tmp);
	free(s);
}

static struct stream *
stream_new(struct https *h, const char *path)
{
	struct stream *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	if ((s->path = strdup(path)) == NULL ||
	    (s->x.easy = curl_easy_init()) == NULL) {
		free(s->path);
		free(s);
		return NULL;
	}
	stream_link(h, s);
	return s;
}

static bool
ready_consumed(void *arg)
{
	struct stream *s = arg;

	return s->x.done || s->srclen == 0;
}

static int
stream_gone(struct mig_ctx *ctx, const char *path)
{
	return mig_seterr(ctx, MIG_ERR_INTERNAL,
	    "%s: stream used after its transport was closed", path);
}

/* The PUT ended early or failed: why. */
static int
put_failed(struct stream *s, struct mig_ctx *ctx)
{
	struct https *h = s->h;
	char wbuf[1024];
	const char *what = where(h, s->path, wbuf, sizeof(wbuf));

	if (s->x.result != CURLE_OK)
		return curl_error(h, &s->x, ctx, what);
	if (s->x.status >= 200 && s->x.status <= 299)
		return mig_seterr(ctx, MIG_ERR_NET, "%s: PUT: server answered "
		    "before the upload was complete", what);
	return http_error(&s->x, ctx, what, "PUT");
}

static int
put_write(struct mig_writer *w, const void *buf, size_t len)
{
	struct stream *s = w->priv;
	char wbuf[1024];
	int r;

	if (s->h == NULL)
		return stream_gone(w->ctx, s->path);
	if (s->size >= 0 && len > (uint64_t)s->size - s->count)
		return mig_seterr(w->ctx, MIG_ERR_INTERNAL, "%s: more than the "
		    "announced %lld bytes written", s->path,
		    (long long)s->size);
	if (s->x.done)
		return put_failed(s, w->ctx);
	if (s->md != NULL && EVP_DigestUpdate(s->md, buf, len) != 1)
		return mig_seterr_ssl(w->ctx, MIG_ERR_CRYPTO, "SHA-256");
	s->count += len;
	if (s->size >= 0 && len > 0 && s->count == (uint64_t)s->size) {
		/*
		 * With the whole announced body sent, the server would
		 * complete the PUT even if the writer is then abandoned:
		 * the last byte waits for close.
		 */
		s->held = ((const unsigned char *)buf)[len - 1];
		s->has_held = true;
		len--;
		if (len == 0)
			return 0;
	}
	s->src = buf;
	s->srclen = len;
	if (s->paused) {
		s->paused = false;
		(void)curl_easy_pause(s->x.easy, CURLPAUSE_CONT);
	}
	r = pump(s->h, ready_consumed, s, w->ctx,
	    where(s->h, s->path, wbuf, sizeof(wbuf)));
	s->src = NULL;
	if (r != 0)
		return r;
	if (s->srclen != 0) {
		s->srclen = 0;
		return put_failed(s, w->ctx);
	}
	return 0;
}

static int
put_close(struct mig_writer *w)
{
	struct stream *s = w->priv;
	struct https *h = s->h;
	char wbuf[1024];
	int r;

	if (h == NULL)
		return stream_gone(w->ctx, s->path);
	if (s->size >= 0 && s->count != (uint64_t)s->size)
		return mig_seterr(w->ctx, MIG_ERR_INTERNAL, "%s: %llu of the "
		    "announced %lld bytes written", s->path,
		    (unsigned long long)s->count, (long long)s->size);
	if (s->has_held) {
		s->src = &s->held;
		s->srclen = 1;
	}
	s->eof = true;
	if (!s->x.in_multi) {
		/* An empty body: the request waited for close to start. */
		if (curl_multi_add_handle(h->multi, s->x.easy) != CURLM_OK)
			return mig_seterr(w->ctx, MIG_ERR_INTERNAL,
			    "curl: cannot add a transfer");
		s->x.in_multi = true;
	}
	if (s->paused) {
		s->paused = false;
		(void)curl_easy_pause(s->x.easy, CURLPAUSE_CONT);
	}
	r = pump(h, ready_done, &s->x, w->ctx,
	    where(h, s->path, wbuf, sizeof(wbuf)));
	xfer_detach(h, &s->x);
	if (r != 0)
		return r;
	if (s->x.result != CURLE_OK ||
	    (s->x.status != 201 && s->x.status != 204 && s->x.status != 200))
		return put_failed(s, w->ctx);
	if ((r = move_path(h, s->tmp, s->path)) != 0)
		return r;
	s->published = true;
	return 0;
}

static void
put_free(struct mig_writer *w)
{
	struct stream *s = w->priv;

	if (s == NULL)
		return;
	if (s->h != NULL) {
		xfer_detach(s->h, &s->x);
		/* Abandoned: the temporary must not stay (best effort). */
		if (!s->published)
			(void)delete_path(s->h, s->tmp, false, true);
	}
	stream_free(s);
	w->priv = NULL;
}

static const struct mig_writer_ops put_ops = {
	.name = "https",
	.write = put_write,
	.close = put_close,
	.free = put_free,
};

static int
https_open_write(struct mig_transport *t, const char *path, int64_t size,
    struct mig_writer **wp)
{
	struct https *h = t->priv;
	struct stream *s = NULL;
	struct mig_writer *w;
	const char *slash, *extra[2] = { NULL, NULL };
	char url[URL_MAX], *parent, wbuf[1024];
	CURLcode rc = CURLE_OK;
	int r;

	*wp = NULL;
	if ((r = check_path(h, path, false)) != 0)
		return r;
	if ((slash = strrchr(path, '/')) != NULL) {
		if ((parent = strndup(path, (size_t)(slash - path))) == NULL)
			return mig_seterr(h->ctx, MIG_ERR_NOMEM,
			    "out of memory");
		r = https_mkdir_p(t, parent);
		free(parent);
		if (r != 0)
			return r;
	}
	if ((s = stream_new(h, path)) == NULL ||
	    (s->tmp = mig_transport_tmp_name(path)) == NULL) {
		r = mig_seterr(h->ctx, MIG_ERR_NOMEM, "out of memory");
		goto out;
	}
	/*
	 * Not a dot-file here: WebDAV servers (nginx's dav_ext) hide those
	 * from PROPFIND, and a temporary left by a crash must be listable
	 * to be swept.
	 */
	{
		char *base = strrchr(s->tmp, '/');

		base = base != NULL ? base + 1 : s->tmp;
		if (base[0] == '.')
			memmove(base, base + 1, strlen(base));
	}
	s->size = size;
	s->chunked = size < 0;
	if (make_url(h, s->tmp, false, url, sizeof(url)) != 0) {
		r = mig_seterr(h->ctx, MIG_ERR_USAGE, "%s: URL too long",
		    where(h, path, wbuf, sizeof(wbuf)));
		goto out;
	}
	if ((r = xfer_setup(h, &s->x, url)) != 0)
		goto out;
	if (s->chunked) {
		if ((s->md = EVP_MD_CTX_new()) == NULL ||
		    EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) != 1) {
			r = mig_seterr_ssl(h->ctx, MIG_ERR_CRYPTO, "SHA-256");
			goto out;
		}
		extra[0] = "Trailer: Repr-Digest";
	}
	if ((r = build_headers(h, &s->x, extra, 1)) != 0)
		goto out;
	rc = curl_easy_setopt(s->x.easy, CURLOPT_UPLOAD, 1L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(s->x.easy, CURLOPT_INFILESIZE_LARGE,
		    (curl_off_t)(size >= 0 ? size : -1));
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(s->x.easy, CURLOPT_READFUNCTION,
		    upload_cb);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(s->x.easy, CURLOPT_READDATA, (void *)s);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(s->x.easy, CURLOPT_UPLOAD_BUFFERSIZE,
		    UPLOAD_BUFSZ);
	if (rc == CURLE_OK && s->chunked)
		rc = curl_easy_setopt(s->x.easy, CURLOPT_TRAILERFUNCTION,
		    trailer_cb);
	if (rc == CURLE_OK && s->chunked)
		rc = curl_easy_setopt(s->x.easy, CURLOPT_TRAILERDATA,
		    (void *)s);
	if (rc != CURLE_OK) {
		r = mig_seterr(h->ctx, MIG_ERR_INTERNAL, "curl: %s",
		    curl_easy_strerror(rc));
		goto out;
	}
	/*
	 * An empty body would complete as soon as its headers are sent, so
	 * its request starts at close, like the last byte of any other.
	 */
	if (size != 0) {
		if (curl_multi_add_handle(h->multi, s->x.easy) != CURLM_OK) {
			r = mig_seterr(h->ctx, MIG_ERR_INTERNAL,
			    "curl: cannot add a transfer");
			goto out;
		}
		s->x.in_multi = true;
	}
	if ((w = mig_writer_new(&put_ops, s, NULL, h->ctx)) == NULL) {
		r = mig_seterr(h->ctx, MIG_ERR_NOMEM, "out of memory");
		goto out;
	}
	*wp = w;
	s = NULL;
	r = 0;
out:
	stream_free(s);
	return r;
}

static bool
ready_ring(void *arg)
{
	struct stream *s = arg;

	return s->x.done || s->rlen > 0;
}

static int
get_read(struct mig_reader *rd, void *buf, size_t cap, size_t *nread)
{
	struct stream *s = rd->priv;
	struct https *h = s->h;
	char wbuf[1024];
	curl_off_t cl = -1;
	size_t n, first;
	int r;

	*nread = 0;
	if (h == NULL)
		return stream_gone(rd->ctx, s->path);
	if (s->rlen == 0 && !s->x.done) {
		if (s->rpaused) {
			s->rpaused = false;
			(void)curl_easy_pause(s->x.easy, CURLPAUSE_CONT);
		}
		if (s->rlen == 0 && (r = pump(h, ready_ring, s, rd->ctx,
		    where(h, s->path, wbuf, sizeof(wbuf)))) != 0)
			return r;
	}
	if (s->rlen == 0) {
		/* Done: a clean end only if curl says so, length and all. */
		xfer_detach(h, &s->x);
		if (s->x.result != CURLE_OK)
			return curl_error(h, &s->x, rd->ctx,
			    where(h, s->path, wbuf, sizeof(wbuf)));
		if (s->x.status < 200 || s->x.status > 299)
			return http_error(&s->x, rd->ctx,
			    where(h, s->path, wbuf, sizeof(wbuf)), "GET");
		(void)curl_easy_getinfo(s->x.easy,
		    CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
		if (cl >= 0 && (uint64_t)cl != s->count)
			return mig_seterr(rd->ctx, MIG_ERR_NET,
			    "%s: GET: truncated (%llu of %lld bytes)",
			    where(h, s->path, wbuf, sizeof(wbuf)),
			    (unsigned long long)s->count, (long long)cl);
		return 0;
	}
	n = s->rlen < cap ? s->rlen : cap;
	first = RING_SIZE - s->rhead < n ? RING_SIZE - s->rhead : n;
	memcpy(buf, s->ring + s->rhead, first);
	memcpy((unsigned char *)buf + first, s->ring, n - first);
	s->rhead = (s->rhead + n) % RING_SIZE;
	s->rlen -= n;
	*nread = n;
	return 0;
}

static void
get_free(struct mig_reader *rd)
{
	struct stream *s = rd->priv;

	if (s != NULL && s->ring != NULL)
		OPENSSL_cleanse(s->ring, RING_SIZE);
	stream_free(s);
	rd->priv = NULL;
}

static const struct mig_reader_ops get_ops = {
	.name = "https",
	.read = get_read,
	.free = get_free,
};

static int
https_open_read(struct mig_transport *t, const char *path,
    struct mig_reader **rp)
{
	struct https *h = t->priv;
	struct stream *s = NULL;
	struct mig_reader *rd;
	char url[URL_MAX], wbuf[1024];
	const char *what;
	int attempt, r;

	*rp = NULL;
	if ((r = check_path(h, path, false)) != 0)
		return r;
	what = where(h, path, wbuf, sizeof(wbuf));
	if (make_url(h, path, false, url, sizeof(url)) != 0)
		return mig_seterr(h->ctx, MIG_ERR_USAGE, "%s: URL too long",
		    what);
	if ((s = stream_new(h, path)) == NULL ||
	    (s->ring = malloc(RING_SIZE)) == NULL) {
		r = mig_seterr(h->ctx, MIG_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* Retried until the answer starts; after that, never. */
	for (attempt = 0; ; attempt++) {
		s->rhead = s->rlen = 0;
		s->count = 0;
		s->rpaused = false;
		if ((r = xfer_setup(h, &s->x, url)) != 0 ||
		    (r = build_headers(h, &s->x, NULL, 0)) != 0)
			goto out;
		s->x.sink = ring_sink;
		s->x.sink_arg = s;
		if (curl_easy_setopt(s->x.easy, CURLOPT_HTTPGET, 1L) !=
		    CURLE_OK ||
		    curl_multi_add_handle(h->multi, s->x.easy) != CURLM_OK) {
			r = mig_seterr(h->ctx, MIG_ERR_INTERNAL,
			    "curl: cannot start a transfer");
			goto out;
		}
		s->x.in_multi = true;
		if ((r = pump(h, ready_headers, &s->x, h->ctx, what)) != 0)
			goto out;
		if (s->x.done && s->x.result != CURLE_OK) {
			xfer_detach(h, &s->x);
			if (retryable(&s->x) && attempt < h->retries) {
				sleep_ms(backoff_ms(attempt, -1));
				continue;
			}
			r = curl_error(h, &s->x, h->ctx, what);
			goto out;
		}
		if (s->x.status >= 200 && s->x.status <= 299)
			break;
		/* An error answer: read its (small) body for the message. */
		if ((r = pump(h, ready_done, &s->x, h->ctx, what)) != 0)
			goto out;
		xfer_detach(h, &s->x);
		if (status_transient(s->x.status) && attempt < h->retries) {
			sleep_ms(backoff_ms(attempt, s->x.retry_after));
			continue;
		}
		r = http_error(&s->x, h->ctx, what, "GET");
		goto out;
	}
	if ((rd = mig_reader_new(&get_ops, s, NULL, h->ctx)) == NULL) {
		r = mig_seterr(h->ctx, MIG_ERR_NOMEM, "out of memory");
		goto out;
	}
	*rp = rd;
	s = NULL;
	r = 0;
out:
	stream_free(s);
	return r;
}

/* ---------------------------------------------------------------------- */
/* open / close */

/*
 * Remembers s[0..len) as a secret to scrub from what servers send.  At
 * most MIG_SCRUB_SECRETS_MAX, which make_auth never exceeds.
 */
static int
add_secret(struct https *h, const char *s, size_t len)
{
	char *c;

	if (len == 0)
		return 0;
	if (h->nsecrets == MIG_SCRUB_SECRETS_MAX)
		return mig_seterr(h->ctx, MIG_ERR_INTERNAL,
		    "https: too many secrets to scrub");
	if ((c = strndup(s, len)) == NULL)
		return mig_seterr(h->ctx, MIG_ERR_NOMEM, "out of memory");
	h->secrets[h->nsecrets++] = c;
	return 0;
}

/*
 * "Authorization: Basic base64(user:password)" or Bearer; secret.  What
 * a server could echo of it is remembered for scrubbing: the token; or
 * the password, "user:password" and its base64, padded and not.
 */
static int
make_auth(struct https *h, const struct mig_transport_config *cfg,
    const char *user)
{
	static const char basic[] = "Authorization: Basic ";
	static const char bearer[] = "Authorization: Bearer ";
	const char *token = mig_topts_get(&cfg->opts, "token_env");
	const char *password = mig_topts_get(&cfg->opts, "password_env");
	char *cred = NULL, *b64;
	size_t ul, pl, n, bl;
	int r = 0;

	if (token != NULL) {
		if (user != NULL)
			return mig_seterr(h->ctx, MIG_ERR_USAGE, "%s: give "
			    "either a bearer token or a user, not both",
			    h->t->root);
		if (token[0] == '\0' || strpbrk(token, "\r\n") !=
		    NULL)
			return mig_seterr(h->ctx, MIG_ERR_USAGE,
			    "%s: bad bearer token (empty or multi-line)",
			    h->t->root);
		n = sizeof(bearer) + strlen(token);
		if ((h->auth = malloc(n)) == NULL)
			return mig_seterr(h->ctx, MIG_ERR_NOMEM,
			    "out of memory");
		(void)snprintf(h->auth, n, "%s%s", bearer, token);
		return add_secret(h, token, strlen(token));
	}
	if (user == NULL)
		return 0;
	if (password == NULL)
		return mig_seterr(h->ctx, MIG_ERR_USAGE,
		    "%s: user \"%s\" given without a password", h->t->root,
		    user);
	if (strchr(user, ':') != NULL)
		return mig_seterr(h->ctx, MIG_ERR_USAGE,
		    "%s: a user name cannot hold ':'", h->t->root);
	ul = strlen(user);
	pl = strlen(password);
	if (ul > 4096 || pl > 4096)
		return mig_seterr(h->ctx, MIG_ERR_USAGE,
		    "%s: user or password too long", h->t->root);
	n = ul + 1 + pl;
	if ((cred = malloc(n + 1)) == NULL ||
	    (h->auth = malloc(sizeof(basic) + 4 * (n / 3 + 1) + 1)) == NULL) {
		r = mig_seterr(h->ctx, MIG_ERR_NOMEM, "out of memory");
		goto out;
	}
	memcpy(cred, user, ul);
	cred[ul] = ':';
	memcpy(cred + ul + 1, password, pl);
	memcpy(h->auth, basic, sizeof(basic) - 1);
	b64 = h->auth + sizeof(basic) - 1;
	bl = (size_t)EVP_EncodeBlock((unsigned char *)b64,
	    (unsigned char *)cred, (int)n);
	if ((r = add_secret(h, password, pl)) != 0 ||
	    (r = add_secret(h, cred, n)) != 0 ||
	    (r = add_secret(h, b64, bl)) != 0)
		goto out;
	while (bl > 0 && b64[bl - 1] == '=')
		bl--;
	r = add_secret(h, b64, bl);
out:
	if (cred != NULL) {
		OPENSSL_cleanse(cred, n);
		free(cred);
	}
	return r;
}

static bool
loopback_literal(const char *host)
{
	return strcmp(host, "127.0.0.1") == 0 || strcmp(host, "::1") == 0;
}

static void
https_close(struct mig_transport *t)
{
	struct https *h = t->priv;
	struct stream *s;
	size_t i;

	if (h == NULL)
		return;
	/* Open streams lose their transport; their transfers stop here. */
	while ((s = h->streams) != NULL) {
		xfer_detach(h, &s->x);
		(void)curl_easy_setopt(s->x.easy, CURLOPT_SHARE, NULL);
		stream_unlink(s);
		s->h = NULL;
	}
	xfer_detach(h, &h->sx);
	if (h->sx.easy != NULL)
		curl_easy_cleanup(h->sx.easy);
	slist_free_wiped(h->sx.hdrs);
	if (h->multi != NULL)
		curl_multi_cleanup(h->multi);
	if (h->share != NULL)
		curl_share_cleanup(h->share);
	dir_forget_all(h);
	free(h->dirs);
	wipe_free(h->auth);
	for (i = 0; i < h->nsecrets; i++)
		wipe_free(h->secrets[i]);
	free(h->origin);
	free(h->root);
	free(h->root_dec);
	free(h->host);
	free(h->ca_file);
	free(h->pin);
	free(h);
	t->priv = NULL;
}

static int
https_open(struct mig_transport *t, const struct mig_transport_config *cfg,
    const struct mig_url *url)
{
	const char *ca = mig_topts_get(&cfg->opts, "ca_file");
	const char *pin = mig_topts_get(&cfg->opts, "pinned_pubkey");
	const char *user = mig_topts_get(&cfg->opts, "user");
	struct https *h;
	struct req rq;
	char enc[URL_MAX];
	size_t n, o = 0;
	bool v6;
	int r;

	if (pthread_once(&curl_once, curl_init) != 0 ||
	    curl_init_rc != CURLE_OK)
		return mig_seterr(t->ctx, MIG_ERR_INTERNAL,
		    "curl: global initialisation failed");
	if (url->host == NULL || url->host[0] == '\0')
		return mig_seterr(t->ctx, MIG_ERR_PARSE, "%s: missing host",
		    t->root);
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return mig_seterr(t->ctx, MIG_ERR_NOMEM, "out of memory");
	t->priv = h;
	h->t = t;
	h->ctx = t->ctx;
	if (strcmp(url->scheme, "http") == 0) {
		if (!mig_topts_bool(&cfg->opts, "allow_plain_http_loopback") ||
		    !loopback_literal(url->host)) {
			r = mig_seterr(t->ctx, MIG_ERR_SECURITY,
			    "%s: plain http:// refused: use https:// (http is "
			    "allowed only to 127.0.0.1 in tests)", t->root);
			goto out;
		}
		h->plain = true;
	} else if (strcmp(url->scheme, "https") != 0) {
		r = mig_seterr(t->ctx, MIG_ERR_PARSE,
		    "%s: not an https:// URL", t->root);
		goto out;
	}
	h->connect_ms = cfg->connect_timeout_ms > 0 ?
	    cfg->connect_timeout_ms : DEF_CONNECT_MS;
	h->io_s = ((cfg->io_timeout_ms > 0 ? cfg->io_timeout_ms : DEF_IO_MS) +
	    999) / 1000;
	h->retries = cfg->retries > 0 ? cfg->retries : DEF_RETRIES;

	/* Origin and root path; the root's trailing '/' goes. */
	v6 = strchr(url->host, ':') != NULL;
	n = strlen(url->host) + 32;
	if ((h->origin = malloc(n)) == NULL ||
	    (h->host = strdup(url->host)) == NULL ||
	    (h->root_dec = strdup(url->path != NULL ? url->path : "/")) ==
	    NULL ||
	    (h->dirs = calloc(DIRCACHE_MAX, sizeof(*h->dirs))) == NULL) {
		r = mig_seterr(t->ctx, MIG_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (url->port != 0)
		(void)snprintf(h->origin, n, "%s://%s%s%s:%d",
		    h->plain ? "http" : "https", v6 ? "[" : "", url->host,
		    v6 ? "]" : "", url->port);
	else
		(void)snprintf(h->origin, n, "%s://%s%s%s",
		    h->plain ? "http" : "https", v6 ? "[" : "", url->host,
		    v6 ? "]" : "");
	n = strlen(h->root_dec);
	while (n > 0 && h->root_dec[n - 1] == '/')
		h->root_dec[--n] = '\0';
	if (n > 0 && h->root_dec[0] != '/') {
		r = mig_seterr(t->ctx, MIG_ERR_PARSE, "%s: bad path",
		    t->root);
		goto out;
	}
	if (strstr(h->root_dec, "/../") != NULL ||
	    strstr(h->root_dec, "/./") != NULL ||
	    (n >= 3 && strcmp(h->root_dec + n - 3, "/..") == 0) ||
	    (n >= 2 && strcmp(h->root_dec + n - 2, "/.") == 0)) {
		r = mig_seterr(t->ctx, MIG_ERR_SECURITY,
		    "%s: \".\" or \"..\" in the destination path", t->root);
		goto out;
	}
	if (!encode_path(h->root_dec, enc, sizeof(enc), &o) ||
	    (h->root = strdup(enc)) == NULL) {
		r = mig_seterr(t->ctx, MIG_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((ca != NULL && (h->ca_file = strdup(ca)) == NULL) ||
	    (pin != NULL && (h->pin = strdup(pin)) == NULL)) {
		r = mig_seterr(t->ctx, MIG_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = make_auth(h, cfg, user != NULL ? user :
	    url->user)) != 0)
		goto out;

	if ((h->multi = curl_multi_init()) == NULL ||
	    (h->share = curl_share_init()) == NULL ||
	    (h->sx.easy = curl_easy_init()) == NULL) {
		r = mig_seterr(t->ctx, MIG_ERR_NOMEM, "out of memory");
		goto out;
	}
	(void)curl_share_setopt(h->share, CURLSHOPT_SHARE,
	    CURL_LOCK_DATA_DNS);
	(void)curl_share_setopt(h->share, CURLSHOPT_SHARE,
	    CURL_LOCK_DATA_SSL_SESSION);

	/* Connect, verify the certificate, check the credentials. */
	memset(&rq, 0, sizeof(rq));
	rq.method = "OPTIONS";
	rq.path = "";
	rq.dir = true;
	rq.retries = -1;
	if ((r = run_request(h, &rq)) != 0)
		goto out;
	if (rq.status == 401 || rq.status == 403 || rq.status >= 500 ||
	    (rq.status >= 300 && rq.status <= 399)) {
		r = http_error(&h->sx, t->ctx, t->root, "OPTIONS");
		goto out;
	}
	r = 0;
out:
	if (r != 0)
		https_close(t);
	return r;
}

static const struct mig_tkey https_keys[] = {
	{ "ca_file", MIG_TKEY_PATH, NULL, "PEM bundle of the CAs to trust "
	    "instead of the system store" },
	{ "pinned_pubkey", MIG_TKEY_STRING, NULL, "sha256//BASE64 of the "
	    "server's public key, checked as well" },
	{ "token_env", MIG_TKEY_ENV, NULL, "variable holding a bearer token" },
	{ "user", MIG_TKEY_STRING, NULL, "basic authentication user (with "
	    "password_env)" },
	{ "password_env", MIG_TKEY_ENV, NULL, "variable holding the password "
	    "of user" },
	{ "allow_plain_http_loopback", MIG_TKEY_BOOL, "false", "tests only: "
	    "allow http:// to 127.0.0.1" },
	{ NULL, 0, NULL, NULL }
};

/* The keys that go together, and plain http only to loopback tests. */
static int
https_check(const struct mig_topts *o, const struct mig_url *url,
    const char **keyp, char *msg, size_t size)
{
	const char *pin = mig_topts_get(o, "pinned_pubkey");

	*keyp = NULL;
	if (pin != NULL && strncmp(pin, "sha256//", 8) != 0) {
		*keyp = "pinned_pubkey";
		(void)snprintf(msg, size, "destination.pinned_pubkey must look "
		    "like \"sha256//BASE64\"");
	} else if (mig_topts_get(o, "user") != NULL &&
	    mig_topts_get(o, "password_env") == NULL) {
		*keyp = "user";
		(void)snprintf(msg, size, "destination.user needs password_env "
		    "(the name of the variable holding the password)");
	} else if (mig_topts_get(o, "token_env") != NULL &&
	    mig_topts_get(o, "user") != NULL) {
		*keyp = "token_env";
		(void)snprintf(msg, size, "use either token_env or user + "
		    "password_env, not both");
	} else if (strcmp(url->scheme, "http") == 0 &&
	    !mig_topts_bool(o, "allow_plain_http_loopback")) {
		(void)snprintf(msg, size, "plain http:// is refused: use "
		    "https:// (tests against 127.0.0.1 may set "
		    "allow_plain_http_loopback = true)");
	} else
		return 0;
	return MIG_ERR_PARSE;
}

const struct mig_transport_ops mig_transport_https_ops = {
	.scheme = "https",
	.alias = "http",
	.keys = https_keys,
	.check = https_check,
	.open = https_open,
	.close = https_close,
	.mkdir_p = https_mkdir_p,
	.open_write = https_open_write,
	.open_read = https_open_read,
	.stat = https_stat,
	.list = https_list,
	.remove = https_remove,
};
