/*
 * The streams of the https backend: open_write PUTs to a temporary name
 * and MOVEs it to the final one at close (open_write_unpublished PUTs to
 * the final name itself); open_read GETs.  Streams are
 * driven from the caller's write() and read(): the upload's read
 * callback hands out the caller's buffer and pauses when it is used up;
 * the download's write callback fills a bounded ring and pauses when it
 * is full.  Memory stays constant whatever the object size.
 *
 * A streamed PUT cannot be replayed; a failure mid-upload returns
 * MIG_ERR_NET and the run layer re-runs the object.  The start of a GET
 * is retried like a one-shot request.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "migrate/error.h"
#include "migrate/stream.h"
#include "migrate/transport.h"
#include "migrate/util.h"

#define MIG_TRANSPORT_INTERNAL
#include "curl_xfer_int.h"
#include "https_int.h"

#define RING_SIZE	(256 * 1024)	/* download buffer per reader */
#define UPLOAD_BUFSZ	(256 * 1024L)	/* curl's upload buffer */

/* ---------------------------------------------------------------------- */
/* curl callbacks */

/* Upload source: the caller's buffer of the current write(). */
static size_t
upload_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct mig_https_stream *s = arg;
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
	struct mig_https_stream *s = arg;
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
	struct mig_https_stream *s = arg;
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
/* Streams */

static void
stream_link(struct mig_https *h, struct mig_https_stream *s)
{
	s->h = h;
	s->next = h->streams;
	s->prev = NULL;
	if (h->streams != NULL)
		h->streams->prev = s;
	h->streams = s;
}

static void
stream_unlink(struct mig_https_stream *s)
{
	struct mig_https *h = s->h;

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
stream_free(struct mig_https_stream *s)
{
	if (s == NULL)
		return;
	if (s->h != NULL)
		mig_https_xfer_detach(s->h, &s->x);
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

static struct mig_https_stream *
stream_new(struct mig_https *h, const char *path)
{
	struct mig_https_stream *s;

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

void
mig_https_streams_orphan(struct mig_https *h)
{
	struct mig_https_stream *s;

	while ((s = h->streams) != NULL) {
		mig_https_xfer_detach(h, &s->x);
		(void)curl_easy_setopt(s->x.c.easy, CURLOPT_SHARE, NULL);
		stream_unlink(s);
		s->h = NULL;
	}
}

static int
stream_gone(struct mig_ctx *ctx, const char *path)
{
	return mig_seterr(ctx, MIG_ERR_INTERNAL,
	    "%s: stream used after its transport was closed", path);
}

/* ---------------------------------------------------------------------- */
/* Writer: PUT to a temporary, then MOVE */

static bool
ready_consumed(void *arg)
{
	struct mig_https_stream *s = arg;

	return s->x.done || s->srclen == 0;
}

/* The PUT ended early or failed: why. */
static int
put_failed(struct mig_https_stream *s, struct mig_ctx *ctx)
{
	struct mig_https *h = s->h;
	char wbuf[1024];
	const char *what = mig_https_where(h, s->path, wbuf, sizeof(wbuf));

	if (s->x.c.result != CURLE_OK)
		return mig_curlx_error(&h->conn, &s->x.c, ctx, what);
	if (s->x.c.status >= 200 && s->x.c.status <= 299)
		return mig_seterr(ctx, MIG_ERR_NET, "%s: PUT: server answered "
		    "before the upload was complete", what);
	return mig_https_http_error(&s->x, ctx, what, "PUT");
}

static int
put_write(struct mig_writer *w, const void *buf, size_t len)
{
	struct mig_https_stream *s = w->priv;
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
	r = mig_https_pump(s->h, ready_consumed, s, w->ctx,
	    mig_https_where(s->h, s->path, wbuf, sizeof(wbuf)));
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
	struct mig_https_stream *s = w->priv;
	struct mig_https *h = s->h;
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
	r = mig_https_pump(h, mig_https_ready_done, &s->x, w->ctx,
	    mig_https_where(h, s->path, wbuf, sizeof(wbuf)));
	mig_https_xfer_detach(h, &s->x);
	if (r != 0)
		return r;
	if (s->x.c.result != CURLE_OK || (s->x.c.status != 201 &&
	    s->x.c.status != 204 && s->x.c.status != 200))
		return put_failed(s, w->ctx);
	if (s->tmp != NULL && (r = mig_webdav_move(h, s->tmp, s->path)) != 0)
		return r;
	s->published = true;
	return 0;
}

static void
put_free(struct mig_writer *w)
{
	struct mig_https_stream *s = w->priv;

	if (s == NULL)
		return;
	if (s->h != NULL) {
		mig_https_xfer_detach(s->h, &s->x);
		/* Abandoned: the temporary must not stay (best effort). */
		if (!s->published && s->tmp != NULL)
			(void)mig_webdav_delete(s->h, s->tmp, false, true);
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

/* MKCOL the parent directories of path. */
static int
make_parent(struct mig_transport *t, const char *path)
{
	struct mig_https *h = t->priv;
	const char *slash;
	char *parent;
	int r;

	if ((slash = strrchr(path, '/')) == NULL)
		return 0;
	if ((parent = strndup(path, (size_t)(slash - path))) == NULL)
		return mig_seterr(h->ctx, MIG_ERR_NOMEM, "out of memory");
	r = mig_webdav_mkdir_p(t, parent);
	free(parent);
	return r;
}

/*
 * Not a dot-file here: WebDAV servers (nginx's dav_ext) hide those from
 * PROPFIND, and a temporary left by a crash must be listable to be swept.
 */
static void
undot_base(char *tmp)
{
	char *base = strrchr(tmp, '/');

	base = base != NULL ? base + 1 : tmp;
	if (base[0] == '.')
		memmove(base, base + 1, strlen(base));
}

/* The PUT of s to url: its headers, body source and trailer. */
static int
put_setup(struct mig_https *h, struct mig_https_stream *s, const char *url)
{
	const char *extra[1] = { NULL };
	CURL *e = s->x.c.easy;
	CURLcode rc;
	int r;

	if (s->chunked) {
		if ((s->md = EVP_MD_CTX_new()) == NULL ||
		    EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) != 1)
			return mig_seterr_ssl(h->ctx, MIG_ERR_CRYPTO,
			    "SHA-256");
		extra[0] = "Trailer: Repr-Digest";
	}
	if ((r = mig_https_upload_setup(h, &s->x, url, s->size, upload_cb, s,
	    extra, 1)) != 0)
		return r;
	rc = curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, UPLOAD_BUFSZ);
	if (rc == CURLE_OK && s->chunked)
		rc = curl_easy_setopt(e, CURLOPT_TRAILERFUNCTION, trailer_cb);
	if (rc == CURLE_OK && s->chunked)
		rc = curl_easy_setopt(e, CURLOPT_TRAILERDATA, (void *)s);
	if (rc != CURLE_OK)
		return mig_seterr(h->ctx, MIG_ERR_INTERNAL, "curl: %s",
		    curl_easy_strerror(rc));
	return 0;
}

/*
 * A writer of path: PUT to a temporary name then MOVE, or, in_place,
 * PUT to path itself.
 */
static int
writer_open(struct mig_transport *t, const char *path, int64_t size,
    bool in_place, struct mig_writer **wp)
{
	struct mig_https *h = t->priv;
	struct mig_https_stream *s = NULL;
	struct mig_writer *w;
	char url[MIG_HTTPS_URL_MAX], wbuf[1024];
	int r;

	*wp = NULL;
	if ((r = mig_https_check_path(h, path, false)) != 0 ||
	    (r = make_parent(t, path)) != 0)
		return r;
	if ((s = stream_new(h, path)) == NULL || (!in_place &&
	    (s->tmp = mig_transport_tmp_name(path)) == NULL)) {
		r = mig_seterr(h->ctx, MIG_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (s->tmp != NULL)
		undot_base(s->tmp);
	s->size = size;
	s->chunked = size < 0;
	if (mig_https_make_url(h, s->tmp != NULL ? s->tmp : path, false, url,
	    sizeof(url)) != 0) {
		r = mig_seterr(h->ctx, MIG_ERR_USAGE, "%s: URL too long",
		    mig_https_where(h, path, wbuf, sizeof(wbuf)));
		goto out;
	}
	if ((r = put_setup(h, s, url)) != 0)
		goto out;
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

int
mig_https_open_write(struct mig_transport *t, const char *path, int64_t size,
    struct mig_writer **wp)
{
	return writer_open(t, path, size, false, wp);
}

/*
 * In place: a WebDAV server such as nginx writes a PUT's body to a file
 * of its own and renames it only once the body is complete, and the last
 * byte waits for close, so an abandoned writer leaves nothing.
 */
int
mig_https_open_write_unpublished(struct mig_transport *t, const char *path,
    int64_t size, struct mig_writer **wp)
{
	return writer_open(t, path, size, true, wp);
}

/* ---------------------------------------------------------------------- */
/* Reader: GET */

static bool
ready_ring(void *arg)
{
	struct mig_https_stream *s = arg;

	return s->x.done || s->rlen > 0;
}

static int
get_read(struct mig_reader *rd, void *buf, size_t cap, size_t *nread)
{
	struct mig_https_stream *s = rd->priv;
	struct mig_https *h = s->h;
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
		if (s->rlen == 0 && (r = mig_https_pump(h, ready_ring, s,
		    rd->ctx, mig_https_where(h, s->path, wbuf,
		    sizeof(wbuf)))) != 0)
			return r;
	}
	if (s->rlen == 0) {
		/* Done: a clean end only if curl says so, length and all. */
		mig_https_xfer_detach(h, &s->x);
		if (s->x.c.result != CURLE_OK)
			return mig_curlx_error(&h->conn, &s->x.c, rd->ctx,
			    mig_https_where(h, s->path, wbuf, sizeof(wbuf)));
		if (s->x.c.status < 200 || s->x.c.status > 299)
			return mig_https_http_error(&s->x, rd->ctx,
			    mig_https_where(h, s->path, wbuf, sizeof(wbuf)),
			    "GET");
		(void)curl_easy_getinfo(s->x.c.easy,
		    CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
		if (cl >= 0 && (uint64_t)cl != s->count)
			return mig_seterr(rd->ctx, MIG_ERR_NET,
			    "%s: GET: truncated (%llu of %lld bytes)",
			    mig_https_where(h, s->path, wbuf, sizeof(wbuf)),
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
	struct mig_https_stream *s = rd->priv;

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

/* One attempt at the GET of s: until its answer's head is in. */
static int
get_start(struct mig_https *h, struct mig_https_stream *s, const char *url,
    const char *what)
{
	int r;

	s->rhead = s->rlen = 0;
	s->count = 0;
	s->rpaused = false;
	if ((r = mig_https_xfer_setup(h, &s->x, url)) != 0 ||
	    (r = mig_https_build_headers(h, &s->x, NULL, 0)) != 0)
		return r;
	s->x.sink = ring_sink;
	s->x.sink_arg = s;
	if (curl_easy_setopt(s->x.c.easy, CURLOPT_HTTPGET, 1L) != CURLE_OK ||
	    curl_multi_add_handle(h->multi, s->x.c.easy) != CURLM_OK)
		return mig_seterr(h->ctx, MIG_ERR_INTERNAL,
		    "curl: cannot start a transfer");
	s->x.in_multi = true;
	return mig_https_pump(h, mig_https_ready_headers, &s->x, h->ctx,
	    what);
}

int
mig_https_open_read(struct mig_transport *t, const char *path,
    struct mig_reader **rp)
{
	struct mig_https *h = t->priv;
	struct mig_https_stream *s = NULL;
	struct mig_reader *rd;
	char url[MIG_HTTPS_URL_MAX], wbuf[1024];
	const char *what;
	int attempt, r;

	*rp = NULL;
	if ((r = mig_https_check_path(h, path, false)) != 0)
		return r;
	what = mig_https_where(h, path, wbuf, sizeof(wbuf));
	if (mig_https_make_url(h, path, false, url, sizeof(url)) != 0)
		return mig_seterr(h->ctx, MIG_ERR_USAGE, "%s: URL too long",
		    what);
	if ((s = stream_new(h, path)) == NULL ||
	    (s->ring = malloc(RING_SIZE)) == NULL) {
		r = mig_seterr(h->ctx, MIG_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* Retried until the answer starts; after that, never. */
	for (attempt = 0; ; attempt++) {
		if ((r = get_start(h, s, url, what)) != 0)
			goto out;
		if (s->x.done && s->x.c.result != CURLE_OK) {
			mig_https_xfer_detach(h, &s->x);
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
		if ((r = mig_https_pump(h, mig_https_ready_done, &s->x,
		    h->ctx, what)) != 0)
			goto out;
		mig_https_xfer_detach(h, &s->x);
		if (mig_https_status_transient(s->x.c.status) &&
		    attempt < h->conn.retries) {
			mig_sleep_ms(mig_curlx_backoff_ms(attempt,
			    s->x.c.retry_after));
			continue;
		}
		r = mig_https_http_error(&s->x, h->ctx, what, "GET");
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
