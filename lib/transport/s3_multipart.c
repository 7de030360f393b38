/*
 * open_write of the s3 backend: one PUT for an object up to part_size;
 * above it a multipart upload: Create, then UploadPart for each
 * part_size bytes, up to upload_concurrency parts in flight while the
 * next one fills (s3_parts.c), then Complete once every part is
 * acknowledged, listing them in order.  A failure, or a writer freed
 * before close, aborts the upload (after every part in flight ended).
 * Bodies are buffered, so every request can be replayed on a retry: at
 * most upload_concurrency + 1 parts of memory.  A PUT or a
 * CompleteMultipartUpload makes an object visible whole or not at all,
 * so the final key is written directly and never leaves a temporary
 * behind.
 *
 * A run killed mid-upload (kill -9, power loss) leaves its multipart
 * upload unfinished on the server, its parts billed and invisible.  The
 * resumed run does not continue it (ListParts, then the missing parts):
 * the parts on the server are ciphertext, and the rest would have to be
 * byte for byte the same encryption, which needs the object's age file
 * key; migrate keeps no file key at rest (none in the journal between
 * runs), so it cannot.  It uploads the object again, and first aborts
 * every unfinished upload of exactly that key (ListMultipartUploads):
 * the run's lock means no one else writes it, while a key beside it,
 * even under the same prefix, may be another worker's upload under way.
 * A store without ListMultipartUploads (s3rver) has nothing to abort.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>
#include <openssl/crypto.h>

#include "migrate/error.h"
#include "migrate/stream.h"
#include "migrate/transport.h"

#define MIG_TRANSPORT_INTERNAL
#include "s3_int.h"
#include "sigv4_int.h"

#define PARTS_MAX	MIG_S3_PARTS_MAX
#define ETAG_MAX	MIG_CURLX_ETAG_MAX
#define UPLOADID_MAX	1024
#define STALE_PAGES	100		/* of up to 1,000 uploads each */
#define STALE_PER_PAGE	1000		/* S3's max-uploads */
#define STALE_BODY_MAX	(4 * (size_t)MIG_S3_MIB)

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
	unsigned char	*buf;		/* the part being filled */
	size_t		 len, cap;
	uint64_t	 part;		/* this object's part size */
	int64_t		 size;		/* announced, or -1 */
	uint64_t	 count;
	char		*upload_id;	/* multipart, once started */
	struct mig_s3_parts *parts;
	int		 nparts;	/* handed over */
	bool		 done;
	bool		 aborted;
};

/* The UploadId of a CreateMultipartUpload answer. */
static int
create_upload(struct mig_s3 *s, struct s3w *w)
{
	struct mig_sigv4_kv q[1] = { { "uploads", NULL } }, h[4];
	struct mig_s3_req rq;
	char id[UPLOADID_MAX];
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
		else if ((w->upload_id = strdup(id)) == NULL)
			r = mig_seterr(s->ctx, MIG_ERR_NOMEM, "out of memory");
	}
	free(rq.ans);
	return r;
}

/* CompleteMultipartUpload with every part's ETag, in order. */
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
	for (i = 1; i <= w->nparts; i++)
		p += sprintf(p, "<Part><PartNumber>%d</PartNumber><ETag>%s"
		    "</ETag></Part>", i, mig_s3_parts_etag(w->parts, i));
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

/*
 * AbortMultipartUpload of upload id of the writer's key, on ln.  An
 * upload that is gone already (404) is no failure.
 */
static int
abort_id(struct mig_s3 *s, struct mig_s3_lane *ln, struct s3w *w,
    const char *id, const char *what)
{
	struct mig_sigv4_kv q[1] = { { "uploadId", id } };
	struct mig_s3_req rq;
	int r;

	memset(&rq, 0, sizeof(rq));
	rq.method = "DELETE";
	rq.key = w->key;
	rq.query = q;
	rq.nquery = 1;
	rq.max = MIG_S3_ERRBODY_MAX;
	r = mig_s3_request_on(s, ln, &rq, what);
	if (r != 0 && rq.status == 404) {
		mig_clearerr(ln->ctx);
		r = 0;
	}
	free(rq.ans);
	return r;
}

/*
 * Best effort, once: the parts of an abandoned upload are not left to
 * bill.  Every part in flight has ended first (S3 may keep a part that
 * is still arriving when the abort lands).  Errors go to a context of
 * their own: the first error stays the one reported.
 */
static void
abandon_upload(struct mig_s3 *s, struct s3w *w)
{
	struct mig_s3_lane ln = { &s->x, NULL, NULL };

	mig_s3_parts_free(w->parts);
	w->parts = NULL;
	if (w->upload_id == NULL || w->done || w->aborted)
		return;
	w->aborted = true;
	if ((ln.ctx = mig_ctx_new()) == NULL)
		return;
	(void)abort_id(s, &ln, w, w->upload_id, w->what);
	mig_ctx_free(ln.ctx);
}

/* ---------------------------------------------------------------------- */
/* Uploads a killed run left behind */

/* One page of ListMultipartUploads, parsed by expat. */
struct uparse {
	const char	*key;		/* the writer's: only its uploads */
	int		 depth;
	bool		 result;	/* the root is ListMultipartUploadsResult */
	bool		 in;		/* inside <Upload> */
	struct mig_s3_xtext text;
	char		 ukey[MIG_S3_KEY_MAX + 64];
	char		 uid[UPLOADID_MAX];
	bool		 truncated;
	char		 next_key[MIG_S3_KEY_MAX + 64];
	char		 next_id[UPLOADID_MAX];
	char		*ids[STALE_PER_PAGE];	/* of uploads of key */
	size_t		 nids;
	bool		 bad;
};

static void XMLCALL
up_start(void *arg, const XML_Char *name, const XML_Char **atts)
{
	struct uparse *up = arg;
	const char *n = mig_s3_xml_local(name);

	(void)atts;
	if (up->depth++ == 0)
		up->result = strcmp(n, "ListMultipartUploadsResult") == 0;
	else if (up->depth == 2 && strcmp(n, "Upload") == 0) {
		up->in = true;
		up->ukey[0] = up->uid[0] = '\0';
	}
	mig_s3_xtext_reset(&up->text);
}

static void XMLCALL
up_text(void *arg, const XML_Char *s, int len)
{
	struct uparse *up = arg;

	mig_s3_xtext_add(&up->text, s, len);
}

/* An <Upload> ends: kept when it is one of the writer's key. */
static void
up_upload(struct uparse *up)
{
	up->in = false;
	if (strcmp(up->ukey, up->key) != 0)
		return;
	if (up->uid[0] == '\0' || up->nids == STALE_PER_PAGE ||
	    (up->ids[up->nids] = strdup(up->uid)) == NULL) {
		up->bad = true;
		return;
	}
	up->nids++;
}

/* The element's text into dst; longer than cap - 1: not well formed. */
static void
up_copy(struct uparse *up, char *dst, size_t cap)
{
	if (up->text.len >= cap) {
		up->bad = true;
		return;
	}
	memcpy(dst, up->text.buf, up->text.len + 1);
}

static void XMLCALL
up_end(void *arg, const XML_Char *name)
{
	struct uparse *up = arg;
	const char *n = mig_s3_xml_local(name);
	int depth = up->depth--;

	if (up->text.over)
		up->bad = true;
	else if (depth == 3 && up->in && strcmp(n, "Key") == 0)
		up_copy(up, up->ukey, sizeof(up->ukey));
	else if (depth == 3 && up->in && strcmp(n, "UploadId") == 0)
		up_copy(up, up->uid, sizeof(up->uid));
	else if (depth == 2 && up->in && strcmp(n, "Upload") == 0)
		up_upload(up);
	else if (depth == 2 && strcmp(n, "IsTruncated") == 0)
		up->truncated = strcmp(up->text.buf, "true") == 0;
	else if (depth == 2 && strcmp(n, "NextKeyMarker") == 0)
		up_copy(up, up->next_key, sizeof(up->next_key));
	else if (depth == 2 && strcmp(n, "NextUploadIdMarker") == 0)
		up_copy(up, up->next_id, sizeof(up->next_id));
	mig_s3_xtext_reset(&up->text);
}

static void
up_clear(struct uparse *up)
{
	size_t i;

	for (i = 0; i < up->nids; i++)
		free(up->ids[i]);
	up->nids = 0;
}

/*
 * Parses one page into up (cleared first).  An answer whose root is not
 * ListMultipartUploadsResult (a store that ignored ?uploads and listed
 * objects, or sent no XML) leaves up->result false.
 */
static int
up_parse(struct mig_s3 *s, struct uparse *up, const unsigned char *body,
    size_t len, const char *what)
{
	const char *key = up->key;
	int r;

	up_clear(up);
	memset(up, 0, sizeof(*up));
	up->key = key;
	r = mig_s3_xml_parse(body, len, up, up_start, up_end, up_text);
	if (r == MIG_ERR_NOMEM)
		return mig_seterr(s->ctx, r, "out of memory");
	/* Another answer than the one asked for: the caller sees !result. */
	if ((r != 0 || up->bad) && up->result)
		return mig_seterr(s->ctx, MIG_ERR_FORMAT, "%s: not a "
		    "well-formed ListMultipartUploads answer", what);
	return 0;
}

/*
 * Whether a failed ListMultipartUploads says the store has none to
 * offer: not implemented (s3rver: 501), not allowed, not found.  A 403
 * or anything else is a failure.
 */
static bool
list_unsupported(struct mig_s3 *s, const struct mig_s3_req *rq)
{
	char code[64];

	if (rq->status == 501 || rq->status == 405 || rq->status == 404)
		return true;
	mig_s3_xml_field(s, rq->ans, rq->alen, "Code", code, sizeof(code));
	return rq->status >= 400 && rq->status != 403 &&
	    strcmp(code, "NotImplemented") == 0;
}

/*
 * One page of the unfinished uploads under the writer's key, from the
 * markers on (both "" at first).  *nonep: the store lists none.
 */
static int
list_page(struct mig_s3 *s, struct s3w *w, struct uparse *up,
    const char *kmark, const char *imark, bool *nonep, const char *what)
{
	struct mig_sigv4_kv q[4];
	struct mig_s3_req rq;
	size_t nq = 0;
	int r;

	*nonep = false;
	q[nq++] = (struct mig_sigv4_kv){ "uploads", NULL };
	q[nq++] = (struct mig_sigv4_kv){ "prefix", w->key };
	if (kmark[0] != '\0')
		q[nq++] = (struct mig_sigv4_kv){ "key-marker", kmark };
	if (imark[0] != '\0')
		q[nq++] = (struct mig_sigv4_kv){ "upload-id-marker", imark };
	memset(&rq, 0, sizeof(rq));
	rq.method = "GET";
	rq.query = q;
	rq.nquery = nq;
	rq.max = STALE_BODY_MAX;
	if ((r = mig_s3_request(s, &rq, what)) == 0)
		r = up_parse(s, up, rq.ans, rq.alen, what);
	else if (list_unsupported(s, &rq)) {
		mig_clearerr(s->ctx);
		*nonep = true;
		r = 0;
	}
	if (r == 0 && !up->result)
		*nonep = true;
	free(rq.ans);
	return r;
}

/*
 * Aborts every unfinished upload of exactly the writer's key, page by
 * page (at most STALE_PAGES: what is left waits for the next attempt).
 */
static int
abort_stale(struct mig_s3 *s, struct s3w *w)
{
	struct mig_s3_lane ln = { &s->x, s->ctx, NULL };
	struct uparse *up;
	char *kmark, *imark, what[2100];
	bool none = false;
	size_t i;
	int page, r = 0;

	(void)snprintf(what, sizeof(what), "%s: ListMultipartUploads",
	    w->what);
	up = calloc(1, sizeof(*up));
	kmark = calloc(1, sizeof(up->next_key));
	imark = calloc(1, sizeof(up->next_id));
	if (up == NULL || kmark == NULL || imark == NULL) {
		r = mig_seterr(s->ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_free;
	}
	up->key = w->key;
	for (page = 0; r == 0 && page < STALE_PAGES; page++) {
		if ((r = list_page(s, w, up, kmark, imark, &none, what)) != 0 ||
		    none)
			break;
		for (i = 0; r == 0 && i < up->nids; i++)
			r = abort_id(s, &ln, w, up->ids[i], w->what);
		/* The markers move on, or the listing is over. */
		if (!up->truncated || up->next_key[0] == '\0' ||
		    (strcmp(up->next_key, kmark) == 0 &&
		    strcmp(up->next_id, imark) == 0))
			break;
		memcpy(kmark, up->next_key, sizeof(up->next_key));
		memcpy(imark, up->next_id, sizeof(up->next_id));
	}
	up_clear(up);
out_free:
	free(up);
	free(kmark);
	free(imark);
	return r;
}

/* Stale uploads aborted, then Create, and the parts ready to go. */
static int
start_upload(struct mig_s3 *s, struct s3w *w)
{
	int r;

	if ((r = abort_stale(s, w)) != 0 || (r = create_upload(s, w)) != 0)
		return r;
	return mig_s3_parts_new(s, w->key, w->upload_id, w->what, s->ctx,
	    &w->parts);
}

/* The buffer as the next part; a buffer to fill next in its place. */
static int
send_part(struct mig_s3 *s, struct s3w *w)
{
	int r;

	if (w->nparts == PARTS_MAX)
		return mig_seterr(s->ctx, MIG_ERR_USAGE, "%s: more than %d "
		    "parts: raise destination.part_size", w->what, PARTS_MAX);
	if ((r = mig_s3_parts_put(w->parts, w->nparts + 1, &w->buf, &w->cap,
	    w->len, s->ctx)) == 0) {
		w->nparts++;
		w->len = 0;
	}
	return r;
}

/* ---------------------------------------------------------------------- */
/* The writer */

/* MIG_ERR_USAGE: the upload is over (aborted after a failure). */
static int
w_usable(struct mig_writer *mw, struct s3w *w)
{
	if (w->link.s == NULL)
		return mig_s3_stream_gone(mw->ctx, w->key);
	if (w->aborted)
		return mig_seterr(mw->ctx, MIG_ERR_USAGE, "%s: the upload was "
		    "aborted after an error", w->what);
	return 0;
}

/* Room in the buffer for n more bytes, up to the part size. */
static int
w_reserve(struct mig_writer *mw, struct s3w *w, size_t n)
{
	unsigned char *nb;
	size_t ncap;

	if (w->cap - w->len >= n)
		return 0;
	ncap = w->cap == 0 ? 64 * 1024 : w->cap;
	while (ncap - w->len < n)
		ncap *= 2;
	if (ncap > w->part)
		ncap = (size_t)w->part;
	if ((nb = realloc(w->buf, ncap)) == NULL)
		return mig_seterr(mw->ctx, MIG_ERR_NOMEM, "out of memory");
	w->buf = nb;
	w->cap = ncap;
	return 0;
}

static int
w_write(struct mig_writer *mw, const void *buf, size_t len)
{
	struct s3w *w = mw->priv;
	struct mig_s3 *s = w->link.s;
	const unsigned char *p = buf;
	size_t n;
	int r;

	if ((r = w_usable(mw, w)) != 0)
		return r;
	if (w->size >= 0 && len > (uint64_t)w->size - w->count)
		return mig_seterr(mw->ctx, MIG_ERR_INTERNAL, "%s: more than "
		    "the announced %lld bytes written", w->what,
		    (long long)w->size);
	while (len > 0) {
		/* A full part goes out once more follows: never empty. */
		if (w->len == w->part) {
			if ((w->upload_id == NULL &&
			    (r = start_upload(s, w)) != 0) ||
			    (r = send_part(s, w)) != 0) {
				abandon_upload(s, w);
				return r;
			}
		}
		n = w->part - w->len < len ? (size_t)(w->part - w->len) : len;
		if ((r = w_reserve(mw, w, n)) != 0)
			return r;
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

	if ((r = w_usable(mw, w)) != 0)
		return r;
	if (w->size >= 0 && w->count != (uint64_t)w->size)
		return mig_seterr(mw->ctx, MIG_ERR_INTERNAL, "%s: %llu of the "
		    "announced %lld bytes written", w->what,
		    (unsigned long long)w->count, (long long)w->size);
	if (w->upload_id == NULL)
		r = mig_s3_put_object(s, w->key, w->buf, w->len, w->what);
	else if ((r = w->len > 0 ? send_part(s, w) : 0) != 0 ||
	    (r = mig_s3_parts_wait(w->parts, s->ctx)) != 0 ||
	    (r = complete_upload(s, w)) != 0)
		abandon_upload(s, w);
	if (r == 0) {
		w->done = true;
		mig_s3_parts_free(w->parts);
		w->parts = NULL;
	}
	return r;
}

/* The transport closes first: the threads end while it is whole. */
static void
w_detach(struct mig_s3_stream *st)
{
	struct s3w *w = (struct s3w *)st;

	abandon_upload(st->s, w);
}

static void
w_free(struct mig_writer *mw)
{
	struct s3w *w = mw->priv;

	if (w == NULL)
		return;
	if (w->link.s != NULL)
		abandon_upload(w->link.s, w);
	mig_s3_parts_free(w->parts);
	mig_s3_stream_unlink(&w->link);
	if (w->buf != NULL) {
		/* Ciphertext, but wiped all the same: cheap. */
		OPENSSL_cleanse(w->buf, w->cap);
		free(w->buf);
	}
	free(w->upload_id);
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
	w->link.detach = w_detach;
	*wp = mw;
	return 0;
}
