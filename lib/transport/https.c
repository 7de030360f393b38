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
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "migrate/error.h"
#include "migrate/stream.h"
#include "migrate/transport.h"
#include "migrate/util.h"

#include "transport_int.h"

#define MIG_TRANSPORT_INTERNAL
#include "curl_xfer_int.h"
#include "propfind_int.h"
#include "scrub_int.h"

#ifndef MIG_VERSION
#define MIG_VERSION	"0"
#endif

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

/* One transfer on one easy handle of the multi handle. */
struct xfer {
	struct mig_curlx_xfer c;	/* the handle, outcome, answer head */
	struct https	*h;
	struct curl_slist *hdrs;
	bool		 in_multi;
	bool		 done;		/* CURLMSG_DONE seen */
	char		 errbody[ERRBODY_MAX];
	size_t		 errlen;
	/* Body sink for 2xx answers: returns len, PAUSE, or 0 on error. */
	size_t		(*sink)(void *arg, const char *buf, size_t len);
	void		*sink_arg;
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
	/* TLS, timeouts, and what auth carries, scrubbed from answers. */
	struct mig_curlx_conn conn;
	struct xfer	 sx;		/* the one-shot request handle */
	char		*origin;	/* "https://host:port" */
	char		*root;		/* encoded root path, no trailing '/' */
	char		*root_dec;	/* decoded root path, no trailing '/' */
	char		*auth;		/* "Authorization: ..." (secret) */
	bool		 plain;
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
/* Small helpers */

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

/* ---------------------------------------------------------------------- */
/* Translating HTTP outcomes: the only place that picks their codes */

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
	    x->errlen == sizeof(x->errbody),
	    (const char *const *)h->conn.secrets, h->conn.nsecrets, clean,
	    sizeof(clean));
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
	const struct mig_curlx_conn *conn = x->h != NULL ? &x->h->conn :
	    NULL;
	char msg[256], reason[sizeof(x->c.reason)];

	body_excerpt(x, msg, sizeof(msg));
	(void)mig_curlx_server_text(conn, x->c.reason, strlen(x->c.reason),
	    x->c.reason_cut, reason, sizeof(reason));
	switch (x->c.status) {
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
	if (x->c.status >= 300 && x->c.status <= 399) {
		(void)mig_curlx_server_text(conn, x->c.location,
		    strlen(x->c.location),
		    x->c.location_cut, msg, sizeof(msg));
		return mig_seterr(ctx, MIG_ERR_SECURITY, "%s: %s: redirect "
		    "refused (HTTP %ld %s%s%s): redirects are not followed; "
		    "set the destination url to where the data belongs",
		    what, method, x->c.status, reason, msg[0] != '\0' ?
		    " to " : "", msg);
	}
	return mig_seterr(ctx, MIG_ERR_NET, "%s: %s: HTTP %ld %s%s%s", what,
	    method, x->c.status, reason, msg[0] != '\0' ? ": " : "", msg);
}

/* ---------------------------------------------------------------------- */
/* curl callbacks */

static size_t
body_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * nitems, n;

	if (x->c.status < 200 || x->c.status > 299) {
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
				fx->c.result = m->data.result;
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

	return x->done || x->c.headers_done;
}

static void
xfer_detach(struct https *h, struct xfer *x)
{
	if (x->in_multi) {
		(void)curl_multi_remove_handle(h->multi, x->c.easy);
		x->in_multi = false;
	}
}

/* Options every request shares.  hdrs stays owned by x. */
static int
xfer_setup(struct https *h, struct xfer *x, const char *url)
{
	CURL *e = x->c.easy;
	CURLcode rc;
	int r;

	x->h = h;
	x->done = false;
	x->errlen = 0;
	if ((r = mig_curlx_setup(&x->c, &h->conn, url, h->ctx)) != 0)
		return r;
	rc = curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)x);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_SHARE, h->share);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
		    (long)CURL_HTTP_VERSION_1_1);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, body_cb);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)x);
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

	mig_curlx_slist_free_wiped(x->hdrs);
	x->hdrs = NULL;
	if (h->auth != NULL)
		r = mig_curlx_slist_add(&l, h->auth);
	for (i = 0; r == 0 && i < nextra; i++)
		if (extra[i] != NULL)
			r = mig_curlx_slist_add(&l, extra[i]);
	if (r != 0) {
		mig_curlx_slist_free_wiped(l);
		return mig_seterr(h->ctx, MIG_ERR_NOMEM, "out of memory");
	}
	x->hdrs = l;
	if (l != NULL && curl_easy_setopt(x->c.easy, CURLOPT_HTTPHEADER, l) !=
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
	max = rq->retries >= 0 ? rq->retries : h->conn.retries;
	rq->status = 0;
	for (attempt = 0; ; attempt++) {
		rq->attempts = attempt + 1;
		if ((r = xfer_setup(h, x, url)) != 0 ||
		    (r = build_headers(h, x, extra, 4)) != 0)
			return r;
		rc = curl_easy_setopt(x->c.easy, CURLOPT_CUSTOMREQUEST,
		    rq->method);
		if (rc == CURLE_OK && rq->propfind) {
			rc = curl_easy_setopt(x->c.easy, CURLOPT_POSTFIELDS,
			    propfind_body);
			if (rc == CURLE_OK)
				rc = curl_easy_setopt(x->c.easy,
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
		if (curl_multi_add_handle(h->multi, x->c.easy) != CURLM_OK)
			return mig_seterr(ctx, MIG_ERR_INTERNAL,
			    "curl: cannot add a transfer");
		x->in_multi = true;
		r = pump(h, ready_done, x, ctx, what);
		xfer_detach(h, x);
		if (r != 0)
			return r;
		if (x->c.result == CURLE_WRITE_ERROR && rq->pf != NULL &&
		    rq->pf->err != 0)
			return rq->pf->err;
		if (x->c.result != CURLE_OK) {
			if (mig_curlx_retryable(&h->conn, &x->c) &&
			    attempt < max) {
				mig_sleep_ms(mig_curlx_backoff_ms(attempt,
				    -1));
				continue;
			}
			r = mig_curlx_error(&h->conn, &x->c, ctx, what);
			if (attempt > 0 && mig_curlx_retryable(&h->conn, &x->c))
				(void)mig_preferr(ctx, "after %d attempts",
				    attempt + 1);
			return r;
		}
		rq->status = x->c.status;
		if (status_transient(x->c.status) && attempt < max) {
			mig_sleep_ms(mig_curlx_backoff_ms(attempt,
			    x->c.retry_after));
			continue;
		}
		if (status_transient(x->c.status))
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
	if (s->x.c.easy != NULL)
		curl_easy_cleanup(s->x.c.easy);
	mig_curlx_slist_free_wiped(s->x.hdrs);
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
	    (s->x.c.easy = curl_easy_init()) == NULL) {
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

	if (s->x.c.result != CURLE_OK)
		return mig_curlx_error(&h->conn, &s->x.c, ctx, what);
	if (s->x.c.status >= 200 && s->x.c.status <= 299)
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
		(void)curl_easy_pause(s->x.c.easy, CURLPAUSE_CONT);
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
		if (curl_multi_add_handle(h->multi, s->x.c.easy) != CURLM_OK)
			return mig_seterr(w->ctx, MIG_ERR_INTERNAL,
			    "curl: cannot add a transfer");
		s->x.in_multi = true;
	}
	if (s->paused) {
		s->paused = false;
		(void)curl_easy_pause(s->x.c.easy, CURLPAUSE_CONT);
	}
	r = pump(h, ready_done, &s->x, w->ctx,
	    where(h, s->path, wbuf, sizeof(wbuf)));
	xfer_detach(h, &s->x);
	if (r != 0)
		return r;
	if (s->x.c.result != CURLE_OK || (s->x.c.status != 201 &&
	    s->x.c.status != 204 && s->x.c.status != 200))
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
	rc = curl_easy_setopt(s->x.c.easy, CURLOPT_UPLOAD, 1L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(s->x.c.easy, CURLOPT_INFILESIZE_LARGE,
		    (curl_off_t)(size >= 0 ? size : -1));
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(s->x.c.easy, CURLOPT_READFUNCTION,
		    upload_cb);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(s->x.c.easy, CURLOPT_READDATA, (void *)s);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(s->x.c.easy, CURLOPT_UPLOAD_BUFFERSIZE,
		    UPLOAD_BUFSZ);
	if (rc == CURLE_OK && s->chunked)
		rc = curl_easy_setopt(s->x.c.easy, CURLOPT_TRAILERFUNCTION,
		    trailer_cb);
	if (rc == CURLE_OK && s->chunked)
		rc = curl_easy_setopt(s->x.c.easy, CURLOPT_TRAILERDATA,
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
		if (curl_multi_add_handle(h->multi, s->x.c.easy) != CURLM_OK) {
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
			(void)curl_easy_pause(s->x.c.easy, CURLPAUSE_CONT);
		}
		if (s->rlen == 0 && (r = pump(h, ready_ring, s, rd->ctx,
		    where(h, s->path, wbuf, sizeof(wbuf)))) != 0)
			return r;
	}
	if (s->rlen == 0) {
		/* Done: a clean end only if curl says so, length and all. */
		xfer_detach(h, &s->x);
		if (s->x.c.result != CURLE_OK)
			return mig_curlx_error(&h->conn, &s->x.c, rd->ctx,
			    where(h, s->path, wbuf, sizeof(wbuf)));
		if (s->x.c.status < 200 || s->x.c.status > 299)
			return http_error(&s->x, rd->ctx,
			    where(h, s->path, wbuf, sizeof(wbuf)), "GET");
		(void)curl_easy_getinfo(s->x.c.easy,
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
		if (curl_easy_setopt(s->x.c.easy, CURLOPT_HTTPGET, 1L) !=
		    CURLE_OK ||
		    curl_multi_add_handle(h->multi, s->x.c.easy) != CURLM_OK) {
			r = mig_seterr(h->ctx, MIG_ERR_INTERNAL,
			    "curl: cannot start a transfer");
			goto out;
		}
		s->x.in_multi = true;
		if ((r = pump(h, ready_headers, &s->x, h->ctx, what)) != 0)
			goto out;
		if (s->x.done && s->x.c.result != CURLE_OK) {
			xfer_detach(h, &s->x);
			if (mig_curlx_retryable(&h->conn, &s->x.c) &&
			    attempt < h->conn.retries) {
				mig_sleep_ms(mig_curlx_backoff_ms(attempt,
				    -1));
				continue;
			}
			r = mig_curlx_error(&h->conn, &s->x.c, h->ctx, what);
			goto out;
		}
		if (s->x.c.status >= 200 && s->x.c.status <= 299)
			break;
		/* An error answer: read its (small) body for the message. */
		if ((r = pump(h, ready_done, &s->x, h->ctx, what)) != 0)
			goto out;
		xfer_detach(h, &s->x);
		if (status_transient(s->x.c.status) &&
		    attempt < h->conn.retries) {
			mig_sleep_ms(mig_curlx_backoff_ms(attempt,
			    s->x.c.retry_after));
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

/* At most MIG_SCRUB_SECRETS_MAX, which make_auth never exceeds. */
static int
add_secret(struct https *h, const char *s, size_t len)
{
	return mig_curlx_add_secret(&h->conn, s, len, h->ctx);
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

	if (h == NULL)
		return;
	/* Open streams lose their transport; their transfers stop here. */
	while ((s = h->streams) != NULL) {
		xfer_detach(h, &s->x);
		(void)curl_easy_setopt(s->x.c.easy, CURLOPT_SHARE, NULL);
		stream_unlink(s);
		s->h = NULL;
	}
	xfer_detach(h, &h->sx);
	if (h->sx.c.easy != NULL)
		curl_easy_cleanup(h->sx.c.easy);
	mig_curlx_slist_free_wiped(h->sx.hdrs);
	if (h->multi != NULL)
		curl_multi_cleanup(h->multi);
	if (h->share != NULL)
		curl_share_cleanup(h->share);
	dir_forget_all(h);
	free(h->dirs);
	mig_curlx_wipe_free(h->auth);
	mig_curlx_conn_clear(&h->conn);
	free(h->origin);
	free(h->root);
	free(h->root_dec);
	free(h);
	t->priv = NULL;
}

static int
https_open(struct mig_transport *t, const struct mig_transport_config *cfg,
    const struct mig_url *url)
{
	const char *user = mig_topts_get(&cfg->opts, "user");
	struct https *h;
	struct req rq;
	char enc[URL_MAX];
	size_t n, o = 0;
	bool v6;
	int r;

	if ((r = mig_curlx_global_init(t->ctx)) != 0)
		return r;
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
	h->conn.proto = h->plain ? "http" : "https";
	h->conn.user_agent = "migrate/" MIG_VERSION;
	if ((r = mig_curlx_conn_init(&h->conn, cfg, t->ctx)) != 0)
		goto out;

	/* Origin and root path; the root's trailing '/' goes. */
	v6 = strchr(url->host, ':') != NULL;
	n = strlen(url->host) + 32;
	if ((h->origin = malloc(n)) == NULL ||
	    (h->conn.host = strdup(url->host)) == NULL ||
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
	if ((r = make_auth(h, cfg, user != NULL ? user :
	    url->user)) != 0)
		goto out;

	if ((h->multi = curl_multi_init()) == NULL ||
	    (h->share = curl_share_init()) == NULL ||
	    (h->sx.c.easy = curl_easy_init()) == NULL) {
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
