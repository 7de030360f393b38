/*
 * open_write of the s3 backend: one PUT for an object up to part_size;
 * above it a multipart upload (Create, UploadPart each part_size bytes,
 * Complete after every part is acknowledged; Abort when abandoned).
 * Bodies are buffered, at most one part, so every request can be
 * replayed on a retry.  A PUT or a CompleteMultipartUpload makes an
 * object visible whole or not at all, so the final key is written
 * directly and never leaves a temporary behind.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "migrate/error.h"
#include "migrate/stream.h"
#include "migrate/transport.h"

#define MIG_TRANSPORT_INTERNAL
#include "s3_int.h"
#include "sigv4_int.h"

#define PARTS_MAX	10000			/* S3's part limit */
#define ETAG_MAX	MIG_CURLX_ETAG_MAX

/* ---------------------------------------------------------------------- */
/* One PUT */

/* Storage class and server-side encryption of an upload, signed. */
static size_t
upload_headers(struct mig_s3 *s, struct mig_sigv4_kv *h)
{
	size_t n = 0;

	if (s->storage_class != NULL)
		h[n++] = (struct mig_sigv4_kv){ "x-amz-storage-class",
		    s->storage_class };
	if (s->sse != NULL)
		h[n++] = (struct mig_sigv4_kv){ "x-amz-server-side-encryption",
		    s->sse };
	if (s->sse_kms != NULL)
		h[n++] = (struct mig_sigv4_kv){
		    "x-amz-server-side-encryption-aws-kms-key-id", s->sse_kms };
	return n;
}

int
mig_s3_put_object(struct mig_s3 *s, const char *key, const unsigned char *body,
    size_t len, const char *what)
{
	struct mig_sigv4_kv h[4];
	struct mig_s3_req rq;
	int r;

	memset(&rq, 0, sizeof(rq));
	rq.method = "PUT";
	rq.key = key;
	rq.body = body;
	rq.blen = len;
	rq.hdrs = h;
	rq.nhdrs = upload_headers(s, h);
	rq.max = MIG_S3_ERRBODY_MAX;
	r = mig_s3_request(s, &rq, what);
	free(rq.ans);
	return r;
}

/* ---------------------------------------------------------------------- */
/* Multipart upload */

struct s3w {
	struct mig_s3_stream link;	/* first: the list holds &link */
	char		 key[MIG_S3_KEY_MAX + 8];
	char		 what[2048];
	unsigned char	*buf;
	size_t		 len, cap;
	uint64_t	 part;		/* this object's part size */
	int64_t		 size;		/* announced, or -1 */
	uint64_t	 count;
	char		*upload_id;	/* multipart, once started */
	char		 (*etags)[ETAG_MAX];
	int		 nparts;
	bool		 done;
};

/* The UploadId of a CreateMultipartUpload answer. */
static int
create_upload(struct mig_s3 *s, struct s3w *w)
{
	struct mig_sigv4_kv q[1] = { { "uploads", NULL } }, h[4];
	struct mig_s3_req rq;
	char id[1024];
	int r;

	memset(&rq, 0, sizeof(rq));
	rq.method = "POST";
	rq.key = w->key;
	rq.query = q;
	rq.nquery = 1;
	rq.hdrs = h;
	rq.nhdrs = upload_headers(s, h);
	rq.max = MIG_S3_ERRBODY_MAX;
	if ((r = mig_s3_request(s, &rq, w->what)) == 0) {
		mig_s3_xml_field(s, rq.ans, rq.alen, "UploadId", id,
		    sizeof(id));
		if (id[0] == '\0')
			r = mig_seterr(s->ctx, MIG_ERR_NET, "%s: "
			    "CreateMultipartUpload: no UploadId", w->what);
		else if ((w->upload_id = strdup(id)) == NULL ||
		    (w->etags = calloc(PARTS_MAX, sizeof(*w->etags))) ==
		    NULL)
			r = mig_seterr(s->ctx, MIG_ERR_NOMEM, "out of memory");
	}
	free(rq.ans);
	return r;
}

/* UploadPart of the buffer as the next part; its ETag kept. */
static int
upload_part(struct mig_s3 *s, struct s3w *w)
{
	struct mig_sigv4_kv q[2];
	struct mig_s3_req rq;
	char num[16];
	int r;

	if (w->nparts == PARTS_MAX)
		return mig_seterr(s->ctx, MIG_ERR_USAGE, "%s: more than %d "
		    "parts: raise destination.part_size", w->what, PARTS_MAX);
	(void)snprintf(num, sizeof(num), "%d", w->nparts + 1);
	q[0] = (struct mig_sigv4_kv){ "partNumber", num };
	q[1] = (struct mig_sigv4_kv){ "uploadId", w->upload_id };
	memset(&rq, 0, sizeof(rq));
	rq.method = "PUT";
	rq.key = w->key;
	rq.query = q;
	rq.nquery = 2;
	rq.body = w->buf;
	rq.blen = w->len;
	rq.max = MIG_S3_ERRBODY_MAX;
	if ((r = mig_s3_request(s, &rq, w->what)) == 0) {
		if (rq.etag[0] == '\0')
			r = mig_seterr(s->ctx, MIG_ERR_NET, "%s: part %d: no "
			    "ETag", w->what, w->nparts + 1);
		else {
			(void)snprintf(w->etags[w->nparts], ETAG_MAX, "%s",
			    rq.etag);
			w->nparts++;
			w->len = 0;
		}
	}
	free(rq.ans);
	return r;
}

/* CompleteMultipartUpload with every part's ETag. */
static int
complete_upload(struct mig_s3 *s, struct s3w *w)
{
	struct mig_sigv4_kv q[1] = { { "uploadId", w->upload_id } };
	struct mig_s3_req rq;
	char *body, *p, code[128];
	size_t cap = 128 + (size_t)w->nparts * (ETAG_MAX + 80);
	int i, r;

	if ((body = malloc(cap)) == NULL)
		return mig_seterr(s->ctx, MIG_ERR_NOMEM, "out of memory");
	p = body + sprintf(body, "<CompleteMultipartUpload>");
	for (i = 0; i < w->nparts; i++)
		p += sprintf(p, "<Part><PartNumber>%d</PartNumber><ETag>%s"
		    "</ETag></Part>", i + 1, w->etags[i]);
	p += sprintf(p, "</CompleteMultipartUpload>");
	memset(&rq, 0, sizeof(rq));
	rq.method = "POST";
	rq.key = w->key;
	rq.query = q;
	rq.nquery = 1;
	rq.body = (unsigned char *)body;
	rq.blen = (size_t)(p - body);
	rq.max = MIG_S3_ERRBODY_MAX;
	r = mig_s3_request(s, &rq, w->what);
	/* S3 may answer 200 with an error document. */
	if (r == 0) {
		mig_s3_xml_field(s, rq.ans, rq.alen, "Code", code,
		    sizeof(code));
		if (code[0] != '\0' || rq.ans == NULL ||
		    strstr((char *)rq.ans, "CompleteMultipartUploadResult") ==
		    NULL)
			r = mig_seterr(s->ctx, MIG_ERR_NET, "%s: "
			    "CompleteMultipartUpload failed%s%s", w->what,
			    code[0] != '\0' ? ": " : "", code);
	}
	free(rq.ans);
	free(body);
	return r;
}

/* Best effort: the parts of an abandoned upload are not left to bill. */
static void
abort_upload(struct mig_s3 *s, struct s3w *w)
{
	struct mig_sigv4_kv q[1] = { { "uploadId", w->upload_id } };
	struct mig_s3_lane ln = { &s->x, NULL, NULL };
	struct mig_s3_req rq;

	/* A context of its own: the first error stays the one reported. */
	if ((ln.ctx = mig_ctx_new()) == NULL)
		return;
	memset(&rq, 0, sizeof(rq));
	rq.method = "DELETE";
	rq.key = w->key;
	rq.query = q;
	rq.nquery = 1;
	rq.max = MIG_S3_ERRBODY_MAX;
	(void)mig_s3_request_on(s, &ln, &rq, w->what);
	free(rq.ans);
	mig_ctx_free(ln.ctx);
}

/* ---------------------------------------------------------------------- */
/* The writer */

static int
w_write(struct mig_writer *mw, const void *buf, size_t len)
{
	struct s3w *w = mw->priv;
	struct mig_s3 *s = w->link.s;
	const unsigned char *p = buf;
	unsigned char *nb;
	size_t n, ncap;
	int r;

	if (s == NULL)
		return mig_s3_stream_gone(mw->ctx, w->key);
	if (w->size >= 0 && len > (uint64_t)w->size - w->count)
		return mig_seterr(mw->ctx, MIG_ERR_INTERNAL, "%s: more than "
		    "the announced %lld bytes written", w->what,
		    (long long)w->size);
	while (len > 0) {
		/* A full part goes out once more follows: never empty. */
		if (w->len == w->part) {
			if ((w->upload_id == NULL &&
			    (r = create_upload(s, w)) != 0) ||
			    (r = upload_part(s, w)) != 0)
				return r;
		}
		n = w->part - w->len < len ? (size_t)(w->part - w->len) : len;
		if (w->cap - w->len < n) {
			ncap = w->cap == 0 ? 64 * 1024 : w->cap;
			while (ncap - w->len < n)
				ncap *= 2;
			if (ncap > w->part)
				ncap = (size_t)w->part;
			if ((nb = realloc(w->buf, ncap)) == NULL)
				return mig_seterr(mw->ctx, MIG_ERR_NOMEM,
				    "out of memory");
			w->buf = nb;
			w->cap = ncap;
		}
		memcpy(w->buf + w->len, p, n);
		w->len += n;
		w->count += n;
		p += n;
		len -= n;
	}
	return 0;
}

static int
w_close(struct mig_writer *mw)
{
	struct s3w *w = mw->priv;
	struct mig_s3 *s = w->link.s;
	int r;

	if (s == NULL)
		return mig_s3_stream_gone(mw->ctx, w->key);
	if (w->size >= 0 && w->count != (uint64_t)w->size)
		return mig_seterr(mw->ctx, MIG_ERR_INTERNAL, "%s: %llu of the "
		    "announced %lld bytes written", w->what,
		    (unsigned long long)w->count, (long long)w->size);
	if (w->upload_id == NULL)
		r = mig_s3_put_object(s, w->key, w->buf, w->len, w->what);
	else if ((r = w->len > 0 ? upload_part(s, w) : 0) == 0)
		r = complete_upload(s, w);
	if (r == 0)
		w->done = true;
	return r;
}

static void
w_free(struct mig_writer *mw)
{
	struct s3w *w = mw->priv;

	if (w == NULL)
		return;
	if (w->link.s != NULL && w->upload_id != NULL && !w->done)
		abort_upload(w->link.s, w);
	mig_s3_stream_unlink(&w->link);
	if (w->buf != NULL) {
		/* Ciphertext, but wiped all the same: cheap. */
		OPENSSL_cleanse(w->buf, w->cap);
		free(w->buf);
	}
	free(w->upload_id);
	free(w->etags);
	free(w);
	mw->priv = NULL;
}

static const struct mig_writer_ops w_ops = {
	.name = "s3",
	.write = w_write,
	.close = w_close,
	.free = w_free,
};

int
mig_s3_open_write(struct mig_transport *t, const char *path, int64_t size,
    struct mig_writer **wp)
{
	struct mig_s3 *s = t->priv;
	struct mig_writer *mw;
	struct s3w *w;
	uint64_t need;
	int r;

	*wp = NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return mig_seterr(s->ctx, MIG_ERR_NOMEM, "out of memory");
	if ((r = mig_s3_full_key(s, path, "", w->key, sizeof(w->key))) != 0) {
		free(w);
		return r;
	}
	(void)mig_s3_where(s, path, w->what, sizeof(w->what));
	w->size = size;
	w->part = s->part_size;
	/* A known size that needs more than 10,000 parts gets larger ones. */
	if (size > 0 && (uint64_t)size / PARTS_MAX >= w->part) {
		need = (uint64_t)size / PARTS_MAX + 1;
		w->part = (need + MIG_S3_MIB - 1) / MIG_S3_MIB * MIG_S3_MIB;
	}
	if ((mw = mig_writer_new(&w_ops, w, NULL, s->ctx)) == NULL) {
		free(w);
		return mig_seterr(s->ctx, MIG_ERR_NOMEM, "out of memory");
	}
	mig_s3_stream_link(s, &w->link);
	*wp = mw;
	return 0;
}
