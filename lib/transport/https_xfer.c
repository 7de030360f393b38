/*
 * The transfers of the https backend.  Every transfer of one struct
 * mig_transport runs on one curl multi handle, so connections are kept
 * alive and shared between the one-shot requests and the open streams;
 * mig_https_pump() drives them all from the caller's thread.  One-shot
 * requests (MKCOL, MOVE, DELETE, PROPFIND, OPTIONS) are retried here on
 * connection errors, 408, 429 and 5xx, with exponential backoff, jitter
 * and Retry-After (bounded).  HTTP statuses become MIG_ERR_* here; curl's
 * codes in curl_xfer.c.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "migrate/error.h"
#include "migrate/transport.h"
#include "migrate/util.h"

#define MIG_TRANSPORT_INTERNAL
#include "curl_xfer_int.h"
#include "https_int.h"
#include "propfind_int.h"
#include "scrub_int.h"

#define POLL_MS		1000		/* longest single wait in curl */

/* ---------------------------------------------------------------------- */
/* URLs and paths */

const char *
mig_https_where(struct mig_https *h, const char *path, char *buf, size_t sz)
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

bool
mig_https_encode_path(const char *s, char *out, size_t cap, size_t *olen)
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

int
mig_https_make_url(struct mig_https *h, const char *path, bool dir, char *out,
    size_t cap)
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
		if (!mig_https_encode_path(path, out, cap, &o))
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

int
mig_https_check_path(struct mig_https *h, const char *path, bool root_ok)
{
	if (root_ok && *path == '\0')
		return 0;
	return mig_path_check_relative(path, h->ctx);
}

/* ---------------------------------------------------------------------- */
/* Translating HTTP outcomes: the only place that picks their codes */

bool
mig_https_status_transient(long status)
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
 * of its match.  A body kept to MIG_HTTPS_ERRBODY_MAX bytes may end in a
 * secret's start: that goes too.
 */
static void
body_excerpt(const struct mig_https_xfer *x, char *out, size_t cap)
{
	const struct mig_https *h = x->h;
	char clean[2 * MIG_HTTPS_ERRBODY_MAX];
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

int
mig_https_http_error(struct mig_https_xfer *x, struct mig_ctx *ctx,
    const char *what, const char *method)
{
	const struct mig_curlx_conn *conn = x->h != NULL ? &x->h->conn :
	    NULL;
	char msg[256], reason[sizeof(x->c.reason)];
	const char *sp;

	body_excerpt(x, msg, sizeof(msg));
	(void)mig_curlx_server_text(conn, x->c.reason, strlen(x->c.reason),
	    x->c.reason_cut, reason, sizeof(reason));
	/* HTTP/2 has no reason phrase. */
	sp = reason[0] != '\0' ? " " : "";
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
		    "refused (HTTP %ld%s%s%s%s): redirects are not followed; "
		    "set the destination url to where the data belongs",
		    what, method, x->c.status, sp, reason, msg[0] != '\0' ?
		    " to " : "", msg);
	}
	return mig_seterr(ctx, MIG_ERR_NET, "%s: %s: HTTP %ld%s%s%s%s", what,
	    method, x->c.status, sp, reason, msg[0] != '\0' ? ": " : "", msg);
}

/* ---------------------------------------------------------------------- */
/* Driving the multi handle */

static size_t
body_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct mig_https_xfer *x = arg;
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

int
mig_https_perform(struct mig_https *h, int *runningp, struct mig_ctx *ctx,
    const char *what)
{
	struct mig_https_xfer *fx;
	CURLMsg *m;
	CURLMcode mc;
	int left;

	mc = curl_multi_perform(h->multi, runningp);
	if (mc != CURLM_OK)
		return mig_seterr(ctx, MIG_ERR_NET, "%s: curl: %s", what,
		    curl_multi_strerror(mc));
	while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		fx = NULL;
		(void)curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
		    (char **)&fx);
		if (fx != NULL) {
			fx->done = true;
			fx->c.result = m->data.result;
		}
	}
	return 0;
}

int
mig_https_poll(struct mig_https *h, long ms, struct mig_ctx *ctx,
    const char *what)
{
	CURLMcode mc;

	if (ms > POLL_MS)
		ms = POLL_MS;
	mc = curl_multi_poll(h->multi, NULL, 0, ms > 0 ? (int)ms : 0, NULL);
	if (mc != CURLM_OK)
		return mig_seterr(ctx, MIG_ERR_NET, "%s: curl: %s", what,
		    curl_multi_strerror(mc));
	return 0;
}

int
mig_https_pump(struct mig_https *h, bool (*ready)(void *), void *arg,
    struct mig_ctx *ctx, const char *what)
{
	int running, r;

	for (;;) {
		if ((r = mig_https_perform(h, &running, ctx, what)) != 0)
			return r;
		if (ready(arg))
			return 0;
		if (running == 0)
			return mig_seterr(ctx, MIG_ERR_INTERNAL,
			    "%s: no transfer in progress", what);
		if ((r = mig_https_poll(h, POLL_MS, ctx, what)) != 0)
			return r;
	}
}

bool
mig_https_ready_done(void *arg)
{
	return ((struct mig_https_xfer *)arg)->done;
}

bool
mig_https_ready_headers(void *arg)
{
	struct mig_https_xfer *x = arg;

	return x->done || x->c.headers_done;
}

void
mig_https_xfer_detach(struct mig_https *h, struct mig_https_xfer *x)
{
	if (x->in_multi) {
		(void)curl_multi_remove_handle(h->multi, x->c.easy);
		x->in_multi = false;
	}
}

int
mig_https_xfer_setup(struct mig_https *h, struct mig_https_xfer *x,
    const char *url)
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
	/*
	 * HTTP/2 where the server offers it (ALPN), every request a stream
	 * of one connection, which a request waits for rather than opening
	 * another; HTTP/1.1 otherwise, and always over plain http.
	 */
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
		    (long)CURL_HTTP_VERSION_2TLS);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
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

int
mig_https_build_headers(struct mig_https *h, struct mig_https_xfer *x,
    const char *const *extra, size_t nextra)
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

int
mig_https_upload_setup(struct mig_https *h, struct mig_https_xfer *x,
    const char *url, int64_t size, curl_read_callback rd, void *arg,
    const char *const *extra, size_t nextra)
{
	CURL *e = x->c.easy;
	CURLcode rc;
	int r;

	if ((r = mig_https_xfer_setup(h, x, url)) != 0 ||
	    (r = mig_https_build_headers(h, x, extra, nextra)) != 0)
		return r;
	rc = curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE,
		    (curl_off_t)(size >= 0 ? size : -1));
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_READFUNCTION, rd);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_READDATA, arg);
	if (rc != CURLE_OK)
		return mig_seterr(h->ctx, MIG_ERR_INTERNAL, "curl: %s",
		    curl_easy_strerror(rc));
	return 0;
}

/* ---------------------------------------------------------------------- */
/* One-shot requests with retries */

/* The header lines a one-shot request adds to the credentials. */
struct req_lines {
	char		 depth[32];
	char		 dest[MIG_HTTPS_URL_MAX + 16];
	char		 ovw[16];
	const char	*v[4];		/* NULL where rq has none */
};

static void
req_lines_fill(const struct mig_https_req *rq, struct req_lines *l)
{
	memset(l->v, 0, sizeof(l->v));
	if (rq->depth != NULL) {
		(void)snprintf(l->depth, sizeof(l->depth), "Depth: %s",
		    rq->depth);
		l->v[0] = l->depth;
	}
	if (rq->dest != NULL) {
		(void)snprintf(l->dest, sizeof(l->dest), "Destination: %s",
		    rq->dest);
		l->v[1] = l->dest;
	}
	if (rq->overwrite != NULL) {
		(void)snprintf(l->ovw, sizeof(l->ovw), "Overwrite: %s",
		    rq->overwrite);
		l->v[2] = l->ovw;
	}
	if (rq->body != NULL)
		l->v[3] = "Content-Type: application/xml; charset=utf-8";
}

/* The URL of rq; 0, or MIG_ERR_USAGE (no message) when too long. */
static int
req_url(struct mig_https *h, const struct mig_https_req *rq, char *url,
    size_t cap)
{
	if (rq->abs == NULL)
		return mig_https_make_url(h, rq->path, rq->dir, url, cap);
	if ((size_t)snprintf(url, cap, "%s%s%s", h->origin, rq->abs,
	    rq->dir ? "/" : "") >= cap)
		return MIG_ERR_USAGE;
	return 0;
}

/* One attempt at rq on h->sx, run to its end. */
static int
req_once(struct mig_https *h, struct mig_https_req *rq, const char *url,
    const struct req_lines *l, struct mig_ctx *ctx, const char *what)
{
	struct mig_https_xfer *x = &h->sx;
	CURLcode rc;
	int r;

	if ((r = mig_https_xfer_setup(h, x, url)) != 0 ||
	    (r = mig_https_build_headers(h, x, l->v, 4)) != 0)
		return r;
	rc = curl_easy_setopt(x->c.easy, CURLOPT_CUSTOMREQUEST, rq->method);
	if (rc == CURLE_OK && rq->body != NULL) {
		rc = curl_easy_setopt(x->c.easy, CURLOPT_POSTFIELDS, rq->body);
		if (rc == CURLE_OK)
			rc = curl_easy_setopt(x->c.easy, CURLOPT_POSTFIELDSIZE,
			    (long)strlen(rq->body));
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
	r = mig_https_pump(h, mig_https_ready_done, x, ctx, what);
	mig_https_xfer_detach(h, x);
	return r;
}

int
mig_https_verdict(struct mig_https *h, struct mig_https_xfer *x, int attempt,
    int max, struct mig_ctx *ctx, const char *what, const char *method,
    long *delayp)
{
	int r;

	*delayp = 0;
	if (x->c.result != CURLE_OK) {
		if (mig_curlx_retryable(&h->conn, &x->c) && attempt < max) {
			*delayp = mig_curlx_backoff_ms(attempt, -1);
			return 1;
		}
		r = mig_curlx_error(&h->conn, &x->c, ctx, what);
		if (attempt > 0 && mig_curlx_retryable(&h->conn, &x->c))
			(void)mig_preferr(ctx, "after %d attempts",
			    attempt + 1);
		return r;
	}
	if (mig_https_status_transient(x->c.status)) {
		if (attempt < max) {
			*delayp = mig_curlx_backoff_ms(attempt,
			    x->c.retry_after);
			return 1;
		}
		return mig_https_http_error(x, ctx, what, method);
	}
	return 0;
}

int
mig_https_run_request(struct mig_https *h, struct mig_https_req *rq)
{
	struct mig_https_xfer *x = &h->sx;
	struct mig_ctx *ctx = rq->quiet ? NULL : h->ctx;
	struct req_lines lines;
	char url[MIG_HTTPS_URL_MAX], wbuf[1024];
	const char *what;
	long delay;
	int attempt, max, r;

	what = mig_https_where(h, rq->path, wbuf, sizeof(wbuf));
	if (req_url(h, rq, url, sizeof(url)) != 0)
		return mig_seterr(ctx, MIG_ERR_USAGE, "%s: URL too long",
		    what);
	req_lines_fill(rq, &lines);
	max = rq->retries >= 0 ? rq->retries : h->conn.retries;
	rq->status = 0;
	for (attempt = 0; ; attempt++) {
		rq->attempts = attempt + 1;
		if ((r = req_once(h, rq, url, &lines, ctx, what)) != 0)
			return r;
		if (x->c.result == CURLE_WRITE_ERROR && rq->pf != NULL &&
		    rq->pf->err != 0)
			return rq->pf->err;
		if (x->c.result == CURLE_OK)
			rq->status = x->c.status;
		r = mig_https_verdict(h, x, attempt, max, ctx, what,
		    rq->method, &delay);
		if (r != 1)
			return r;
		mig_sleep_ms(delay);
	}
}
