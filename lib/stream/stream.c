/*
 * Generic writer and reader plumbing: the state every stage shares
 * (closed, failed) lives here, so stage implementations only move bytes.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "migrate/error.h"
#include "migrate/stream.h"

/* Bytes moved per read in mig_stream_copy(). */
#define COPY_BUFSZ	(4 * MIG_STREAM_CHUNK)

struct mig_writer *
mig_writer_new(const struct mig_writer_ops *ops, void *priv,
    struct mig_writer *next, struct mig_ctx *ctx)
{
	struct mig_writer *w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->ops = ops;
	w->priv = priv;
	w->next = next;
	w->ctx = ctx;
	return w;
}

struct mig_reader *
mig_reader_new(const struct mig_reader_ops *ops, void *priv,
    struct mig_reader *src, struct mig_ctx *ctx)
{
	struct mig_reader *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->ops = ops;
	r->priv = priv;
	r->src = src;
	r->ctx = ctx;
	return r;
}

/*
 * The code to return for a stage that already failed.  The message of
 * the first failure is still on ctx, so it is left alone when it is there.
 */
static int
failed_code(struct mig_writer *w)
{
	int code = mig_errcode(w->ctx);

	if (code < 0)
		return code;
	return mig_seterr(w->ctx, MIG_ERR_INTERNAL,
	    "%s: stream stage used after it failed", w->ops->name);
}

int
mig_writer_write(struct mig_writer *w, const void *buf, size_t len)
{
	int r;

	if (w->failed)
		return failed_code(w);
	if (w->closed) {
		w->failed = true;
		return mig_seterr(w->ctx, MIG_ERR_INTERNAL,
		    "%s: write after close", w->ops->name);
	}
	if (len == 0)
		return 0;
	if ((r = w->ops->write(w, buf, len)) != 0)
		w->failed = true;
	return r;
}

int
mig_writer_close(struct mig_writer *w)
{
	int r;

	if (w->failed)
		return failed_code(w);
	if (!w->closed) {
		if (w->ops->close != NULL && (r = w->ops->close(w)) != 0) {
			w->failed = true;
			return r;
		}
		w->closed = true;
	}
	/* Recursing keeps a failure further down visible on every close. */
	if (w->next != NULL)
		return mig_writer_close(w->next);
	return 0;
}

void
mig_writer_free(struct mig_writer *w)
{
	if (w == NULL)
		return;
	if (w->ops->free != NULL)
		w->ops->free(w);
	free(w);
}

int
mig_reader_read(struct mig_reader *r, void *buf, size_t cap, size_t *nread)
{
	*nread = 0;
	if (cap == 0)
		return mig_seterr(r->ctx, MIG_ERR_INTERNAL,
		    "%s: read with an empty buffer", r->ops->name);
	return r->ops->read(r, buf, cap, nread);
}

int
mig_reader_read_full(struct mig_reader *r, void *buf, size_t len)
{
	unsigned char *p = buf;
	size_t n;
	int rc;

	while (len > 0) {
		if ((rc = mig_reader_read(r, p, len, &n)) != 0)
			return rc;
		if (n == 0)
			return mig_seterr(r->ctx, MIG_ERR_FORMAT,
			    "%s: unexpected end of stream", r->ops->name);
		p += n;
		len -= n;
	}
	return 0;
}

void
mig_reader_free(struct mig_reader *r)
{
	if (r == NULL)
		return;
	if (r->ops->free != NULL)
		r->ops->free(r);
	free(r);
}

int
mig_stream_copy(struct mig_reader *r, struct mig_writer *w, uint64_t *total)
{
	unsigned char *buf;
	uint64_t count = 0;
	size_t n, hw = 0;
	int rc;

	if (total != NULL)
		*total = 0;
	if ((buf = malloc(COPY_BUFSZ)) == NULL)
		return mig_seterr(r->ctx, MIG_ERR_NOMEM, "out of memory");
	for (;;) {
		if ((rc = mig_reader_read(r, buf, COPY_BUFSZ, &n)) != 0)
			goto out_free;
		if (n > hw)
			hw = n;
		if (n == 0)
			break;
		if ((rc = mig_writer_write(w, buf, n)) != 0)
			goto out_free;
		count += n;
	}
	if ((rc = mig_writer_close(w)) != 0)
		goto out_free;
	if (total != NULL)
		*total = count;
out_free:
	/*
	 * The buffer may have held plaintext: what of it was used, or all
	 * of it after a failed read (which may have filled some).
	 */
	OPENSSL_cleanse(buf, rc != 0 ? COPY_BUFSZ : hw);
	free(buf);
	return rc;
}
