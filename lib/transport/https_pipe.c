/*
 * https: whole objects in flight (put_start, put_next, put_capacity;
 * issue 15).
 *
 * Over a WAN a small object costs round trips, not bandwidth.  Each put
 * is one PUT of the whole object, in memory, straight to its final name:
 * an object of an unpublished run directory may be written in place
 * (DESIGN.md 3), and a WebDAV server such as nginx writes a PUT's body
 * to a file of its own and renames it once the body is complete, so the
 * name holds the whole object or none.  Every put is a transfer of the
 * transport's multi handle: over HTTP/2 a stream of the one connection
 * that the other requests use too (https_xfer.c); a server without
 * HTTP/2 gets one HTTP/1.1 connection per put in flight, at most as
 * many as the multi handle allows (https.c).  Over HTTP/1.1 a PUT goes
 * without "Expect: 100-continue", which would cost a round trip more.
 *
 * A put that fails on the connection or with 408, 429 or a 5xx is tried
 * again, as one-shot requests are (mig_https_verdict): its bytes are at
 * hand, and the same bytes PUT to the same name again change nothing.
 * Its wait does not hold up the others: it starts again when its time
 * comes.  Any other failure is that object's alone; the transport goes
 * on with the rest.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "migrate/error.h"
#include "migrate/transport.h"
#include "migrate/util.h"

#define MIG_TRANSPORT_INTERNAL
#include "curl_xfer_int.h"
#include "https_int.h"

enum put_state {
	PUT_FREE,
	PUT_RUNNING,		/* on the multi handle */
	PUT_WAITING,		/* for its next attempt, at due */
	PUT_DONE		/* outcome in code and msg, for put_next */
};

struct https_put {
	struct mig_https_xfer	 x;
	enum put_state		 state;
	char			*path;	/* relative */
	const unsigned char	*buf;	/* borrowed */
	size_t			 len, off;
	void			*token;
	unsigned long		 seq;	/* order of put_start */
	int			 attempt;	/* 0-based */
	long			 due;	/* PUT_WAITING: when (ms) */
	int			 code;
	char			 msg[MIG_ERRMSG_MAX];
};

struct mig_https_pipe {
	struct mig_ctx		*ctx;	/* where failures are written */
	unsigned long		 seq;
	size_t			 n;
	struct https_put	 put[];
};


/* Every change of a put's state, in one place. */
static void
put_set(struct https_put *p, enum put_state state)
{
	p->state = state;
}

size_t
mig_https_puts_value(const char *v)
{
	char *end;
	long n;

	if (v == NULL)
		return MIG_HTTPS_PUTS_DEF;
	n = strtol(v, &end, 10);
	if (end == v || *end != '\0' || n < 1 || n > MIG_HTTPS_PUTS_MAX)
		return 0;
	return (size_t)n;
}

size_t
mig_https_put_capacity(struct mig_transport *t)
{
	return ((struct mig_https *)t->priv)->nputs;
}

/* The body: the object's bytes, from where the transfer stands. */
static size_t
put_read(char *buf, size_t size, size_t nitems, void *arg)
{
	struct https_put *p = arg;
	size_t n = size * nitems;

	if (n > p->len - p->off)
		n = p->len - p->off;
	memcpy(buf, p->buf + p->off, n);
	p->off += n;
	return n;
}

/* curl rewinds the body to send it again (a reused connection died). */
static int
put_seek(void *arg, curl_off_t offset, int origin)
{
	struct https_put *p = arg;

	if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > p->len)
		return CURL_SEEKFUNC_CANTSEEK;
	p->off = (size_t)offset;
	return CURL_SEEKFUNC_OK;
}

/* The outcome of p: code, and the message on the pipe's context. */
static void
put_done(struct mig_https *h, struct mig_https_pipe *pp, struct https_put *p,
    int code)
{
	mig_https_xfer_detach(h, &p->x);
	put_set(p, PUT_DONE);
	p->code = code;
	(void)snprintf(p->msg, sizeof(p->msg), "%s", code != 0 ?
	    mig_errmsg(pp->ctx) : "");
	mig_clearerr(pp->ctx);
}

/* One attempt at p: onto the multi handle.  0 or MIG_ERR_* on ctx. */
static int
put_begin(struct mig_https *h, struct https_put *p, struct mig_ctx *ctx)
{
	/* A round trip saved over HTTP/1.1: the body follows the head. */
	static const char *const extra[] = { "Expect:" };
	char url[MIG_HTTPS_URL_MAX], wbuf[1024];
	CURL *e = p->x.c.easy;
	CURLcode rc;
	int r;

	if (mig_https_make_url(h, p->path, false, url, sizeof(url)) != 0)
		return mig_seterr(ctx, MIG_ERR_USAGE, "%s: URL too long",
		    mig_https_where(h, p->path, wbuf, sizeof(wbuf)));
	p->off = 0;
	if ((r = mig_https_upload_setup(h, &p->x, url, (int64_t)p->len,
	    put_read, p, extra, 1)) != 0)
		return r;
	rc = curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, put_seek);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_SEEKDATA, (void *)p);
	if (rc != CURLE_OK || curl_multi_add_handle(h->multi, e) != CURLM_OK)
		return mig_seterr(ctx, MIG_ERR_INTERNAL, "curl: cannot start "
		    "a transfer");
	p->x.in_multi = true;
	put_set(p, PUT_RUNNING);
	return 0;
}

/* p's transfer ended: done, or waiting for another attempt. */
static void
put_ended(struct mig_https *h, struct mig_https_pipe *pp, struct https_put *p)
{
	char wbuf[1024];
	const char *what = mig_https_where(h, p->path, wbuf, sizeof(wbuf));
	curl_off_t sent = -1;
	long delay;
	int r;

	mig_https_xfer_detach(h, &p->x);
	r = mig_https_verdict(h, &p->x, p->attempt, h->conn.retries, pp->ctx,
	    what, "PUT", &delay);
	if (r == 1) {
		p->attempt++;
		p->due = mig_now_ms() + delay;
		put_set(p, PUT_WAITING);
		return;
	}
	if (r == 0 && (p->x.c.status < 200 || p->x.c.status > 299))
		r = mig_https_http_error(&p->x, pp->ctx, what, "PUT");
	if (r == 0) {
		(void)curl_easy_getinfo(p->x.c.easy, CURLINFO_SIZE_UPLOAD_T,
		    &sent);
		if (sent < 0 || (uint64_t)sent != p->len)
			r = mig_seterr(pp->ctx, MIG_ERR_NET, "%s: PUT: server "
			    "answered before the upload was complete", what);
	}
	put_done(h, pp, p, r);
}

/*
 * Takes in the transfers that ended and starts the waiting ones whose
 * time has come; *nextp is how long until the next of those (-1: none
 * waits).
 */
static void
pipe_sweep(struct mig_https *h, struct mig_https_pipe *pp, long *nextp)
{
	struct https_put *p;
	long now = mig_now_ms();
	size_t i;
	int r;

	*nextp = -1;
	for (i = 0; i < pp->n; i++) {
		p = &pp->put[i];
		if (p->state == PUT_RUNNING && p->x.done)
			put_ended(h, pp, p);
		if (p->state == PUT_WAITING && p->due <= now &&
		    (r = put_begin(h, p, pp->ctx)) != 0)
			put_done(h, pp, p, r);
		if (p->state == PUT_WAITING && (*nextp < 0 ||
		    p->due - now < *nextp))
			*nextp = p->due - now;
	}
}

/* The oldest put done, or NULL; whether any is in flight, in *busyp. */
static struct https_put *
pipe_oldest_done(struct mig_https_pipe *pp, bool *busyp)
{
	struct https_put *best = NULL, *p;
	size_t i;

	*busyp = false;
	for (i = 0; i < pp->n; i++) {
		p = &pp->put[i];
		if (p->state == PUT_RUNNING || p->state == PUT_WAITING)
			*busyp = true;
		if (p->state == PUT_DONE && (best == NULL ||
		    p->seq < best->seq))
			best = p;
	}
	return best;
}

/*
 * curl cannot go on with any transfer of h (out of memory, a broken
 * multi handle): every put in flight fails with r, its message on ctx.
 */
static void
pipe_fail_all(struct mig_https *h, struct mig_https_pipe *pp, int r,
    struct mig_ctx *ctx)
{
	struct https_put *p;
	size_t i;

	for (i = 0; i < pp->n; i++) {
		p = &pp->put[i];
		if (p->state != PUT_RUNNING && p->state != PUT_WAITING)
			continue;
		(void)mig_seterr(pp->ctx, r, "%s", mig_errmsg(ctx));
		put_done(h, pp, p, r);
	}
}

int
mig_https_put_next(struct mig_transport *t, bool wait, struct mig_put_done *d)
{
	struct mig_https *h = t->priv;
	struct mig_https_pipe *pp = h->pipe;
	struct https_put *p;
	long next;
	bool busy;
	int running, r;

	if (pp == NULL)
		return 0;
	for (;;) {
		if ((r = mig_https_perform(h, &running, h->ctx, t->root)) != 0)
			pipe_fail_all(h, pp, r, h->ctx);
		pipe_sweep(h, pp, &next);
		if ((p = pipe_oldest_done(pp, &busy)) != NULL)
			break;
		if (!wait || !busy)
			return 0;
		/* Until a transfer moves, or the next attempt is due. */
		if ((r = mig_https_poll(h, next >= 0 ? next : 1000, h->ctx,
		    t->root)) != 0)
			pipe_fail_all(h, pp, r, h->ctx);
	}
	d->token = p->token;
	d->code = p->code;
	(void)snprintf(d->msg, sizeof(d->msg), "%s", p->msg);
	free(p->path);
	p->path = NULL;
	p->buf = NULL;
	p->token = NULL;
	put_set(p, PUT_FREE);
	return 1;
}

/* The pipe of h, made at the first put. */
static struct mig_https_pipe *
pipe_get(struct mig_https *h)
{
	struct mig_https_pipe *pp;

	if (h->pipe != NULL)
		return h->pipe;
	if ((pp = calloc(1, sizeof(*pp) + h->nputs * sizeof(pp->put[0]))) ==
	    NULL)
		return NULL;
	if ((pp->ctx = mig_ctx_new()) == NULL) {
		free(pp);
		return NULL;
	}
	pp->n = h->nputs;
	h->pipe = pp;
	return pp;
}

int
mig_https_put_start(struct mig_transport *t, const char *path,
    const void *buf, size_t len, void *token)
{
	struct mig_https *h = t->priv;
	struct mig_https_pipe *pp;
	struct https_put *p = NULL;
	size_t i;
	int running, r;

	if ((r = mig_https_check_path(h, path, false)) != 0)
		return r;
	if ((pp = pipe_get(h)) == NULL)
		return mig_seterr(h->ctx, MIG_ERR_NOMEM, "out of memory");
	for (i = 0; i < pp->n && p == NULL; i++)
		if (pp->put[i].state == PUT_FREE)
			p = &pp->put[i];
	if (p == NULL)
		return mig_seterr(h->ctx, MIG_ERR_INTERNAL, "%s: more than %zu "
		    "puts in flight", path, pp->n);
	if ((p->x.c.easy == NULL && (p->x.c.easy = curl_easy_init()) ==
	    NULL) || (p->path = strdup(path)) == NULL)
		return mig_seterr(h->ctx, MIG_ERR_NOMEM, "out of memory");
	p->buf = buf;
	p->len = len;
	p->token = token;
	p->attempt = 0;
	p->seq = pp->seq++;
	if ((r = put_begin(h, p, h->ctx)) != 0) {
		free(p->path);
		p->path = NULL;
		put_set(p, PUT_FREE);
		return r;
	}
	/* The request leaves now, while the caller makes the next object. */
	if (mig_https_perform(h, &running, pp->ctx, t->root) != 0)
		mig_clearerr(pp->ctx);
	return 0;
}

void
mig_https_pipe_free(struct mig_https *h)
{
	struct mig_https_pipe *pp = h->pipe;
	size_t i;

	if (pp == NULL)
		return;
	for (i = 0; i < pp->n; i++) {
		mig_https_xfer_detach(h, &pp->put[i].x);
		if (pp->put[i].x.c.easy != NULL)
			curl_easy_cleanup(pp->put[i].x.c.easy);
		mig_curlx_slist_free_wiped(pp->put[i].x.hdrs);
		free(pp->put[i].path);
	}
	mig_ctx_free(pp->ctx);
	free(pp);
	h->pipe = NULL;
}
