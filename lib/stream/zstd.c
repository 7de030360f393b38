/*
 * zstd compression (writer) and decompression (reader) stages on the
 * streaming API, in constant memory.
 */
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "migrate/error.h"
#include "migrate/stream.h"

#define ZSTD_LEVEL_MIN	1
#define ZSTD_LEVEL_MAX	19

/* --- Compression -------------------------------------------------------- */

struct zwriter {
	ZSTD_CCtx	*cctx;
	unsigned char	*out;
	size_t		 outsz;
};

/* Runs the compressor over in with directive op, pushing output to next. */
static int
zw_pump(struct mig_writer *w, ZSTD_inBuffer *in, ZSTD_EndDirective op)
{
	struct zwriter *z = w->priv;
	ZSTD_outBuffer out;
	size_t rem;
	int r;

	for (;;) {
		out.dst = z->out;
		out.size = z->outsz;
		out.pos = 0;
		rem = ZSTD_compressStream2(z->cctx, &out, in, op);
		if (ZSTD_isError(rem))
			return mig_seterr(w->ctx, MIG_ERR_INTERNAL,
			    "zstd: %s", ZSTD_getErrorName(rem));
		if (out.pos > 0 &&
		    (r = mig_writer_write(w->next, z->out, out.pos)) != 0)
			return r;
		if (op == ZSTD_e_continue) {
			if (in->pos == in->size)
				return 0;
		} else if (rem == 0)
			return 0;
	}
}

static int
zw_write(struct mig_writer *w, const void *buf, size_t len)
{
	ZSTD_inBuffer in = { buf, len, 0 };

	return zw_pump(w, &in, ZSTD_e_continue);
}

static int
zw_close(struct mig_writer *w)
{
	ZSTD_inBuffer in = { NULL, 0, 0 };

	return zw_pump(w, &in, ZSTD_e_end);
}

static void
zw_free(struct mig_writer *w)
{
	struct zwriter *z = w->priv;

	if (z == NULL)
		return;
	ZSTD_freeCCtx(z->cctx);
	free(z->out);
	free(z);
}

static const struct mig_writer_ops zstd_writer_ops = {
	.name = "zstd",
	.write = zw_write,
	.close = zw_close,
	.free = zw_free,
};

int
mig_zstd_writer_new(int level, struct mig_writer *next, struct mig_ctx *ctx,
    struct mig_writer **wp)
{
	struct zwriter *z;
	size_t e;
	int r;

	*wp = NULL;
	if (next == NULL)
		return mig_seterr(ctx, MIG_ERR_INTERNAL, "zstd: no next stage");
	if (level < ZSTD_LEVEL_MIN || level > ZSTD_LEVEL_MAX)
		return mig_seterr(ctx, MIG_ERR_USAGE,
		    "zstd level %d out of range %d..%d", level,
		    ZSTD_LEVEL_MIN, ZSTD_LEVEL_MAX);
	if ((z = calloc(1, sizeof(*z))) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	z->outsz = ZSTD_CStreamOutSize();
	if ((z->cctx = ZSTD_createCCtx()) == NULL ||
	    (z->out = malloc(z->outsz)) == NULL) {
		r = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_free;
	}
	/* The frame checksum lets zstd -t and our reader catch corruption. */
	e = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_compressionLevel, level);
	if (!ZSTD_isError(e))
		e = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_checksumFlag, 1);
	if (ZSTD_isError(e)) {
		r = mig_seterr(ctx, MIG_ERR_INTERNAL, "zstd: %s",
		    ZSTD_getErrorName(e));
		goto out_free;
	}
	if ((*wp = mig_writer_new(&zstd_writer_ops, z, next, ctx)) == NULL) {
		r = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_free;
	}
	return 0;

out_free:
	ZSTD_freeCCtx(z->cctx);
	free(z->out);
	free(z);
	return r;
}

/* --- Decompression ------------------------------------------------------ */

struct zreader {
	ZSTD_DCtx	*dctx;
	unsigned char	*in;
	size_t		 insz;
	ZSTD_inBuffer	 inb;
	uint64_t	 total;		/* bytes produced */
	uint64_t	 max_out;	/* 0: unbounded */
	bool		 src_eof;
	bool		 in_frame;	/* a frame is started, not finished */
	bool		 flush;		/* output was full: more may be held */
	bool		 any_frame;	/* at least one frame completed */
	bool		 failed;
	int		 err;
};

static int
zr_fail(struct mig_reader *r, int code, const char *what)
{
	struct zreader *z = r->priv;

	z->failed = true;
	z->err = code;
	return mig_seterr(r->ctx, code, "zstd: %s", what);
}

static int
zr_read(struct mig_reader *r, void *buf, size_t cap, size_t *nread)
{
	struct zreader *z = r->priv;
	ZSTD_outBuffer out = { buf, cap, 0 };
	uint64_t room;
	size_t n, ret, inpos, outpos;
	int rc;

	if (z->failed)
		return mig_seterr(r->ctx, z->err,
		    "zstd: stream failed earlier");
	/* Ask for one byte beyond the limit, to see it being crossed. */
	if (z->max_out != 0) {
		room = z->max_out - z->total;
		if (room < out.size)
			out.size = (size_t)room + 1;
	}
	while (out.pos == 0) {
		if (z->inb.pos == z->inb.size && !z->flush) {
			if (z->src_eof) {
				if (z->in_frame)
					return zr_fail(r, MIG_ERR_FORMAT,
					    "truncated frame");
				if (!z->any_frame)
					return zr_fail(r, MIG_ERR_FORMAT,
					    "empty stream, no frame");
				return 0;
			}
			if ((rc = mig_reader_read(r->src, z->in, z->insz,
			    &n)) != 0) {
				z->failed = true;
				z->err = rc;
				return rc;
			}
			if (n == 0) {
				z->src_eof = true;
				continue;
			}
			z->inb.src = z->in;
			z->inb.size = n;
			z->inb.pos = 0;
		}
		inpos = z->inb.pos;
		outpos = out.pos;
		ret = ZSTD_decompressStream(z->dctx, &out, &z->inb);
		if (ZSTD_isError(ret))
			return zr_fail(r, MIG_ERR_FORMAT,
			    ZSTD_getErrorName(ret));
		/*
		 * 0: a frame is complete and flushed.  A call that moved
		 * nothing says nothing: after a frame it asks for the next
		 * frame's header, which need not come.
		 */
		if (ret == 0) {
			z->in_frame = false;
			z->any_frame = true;
		} else if (z->inb.pos != inpos || out.pos != outpos)
			z->in_frame = true;
		z->flush = out.pos == out.size;
	}
	if (z->max_out != 0 && out.pos > z->max_out - z->total)
		return zr_fail(r, MIG_ERR_FORMAT,
		    "output exceeds the expected size (decompression bomb?)");
	z->total += out.pos;
	*nread = out.pos;
	return 0;
}

static void
zr_free(struct mig_reader *r)
{
	struct zreader *z = r->priv;

	if (z == NULL)
		return;
	ZSTD_freeDCtx(z->dctx);
	free(z->in);
	free(z);
}

static const struct mig_reader_ops zstd_reader_ops = {
	.name = "zstd",
	.read = zr_read,
	.free = zr_free,
};

int
mig_zstd_reader_new(struct mig_reader *src, uint64_t max_out,
    struct mig_ctx *ctx, struct mig_reader **rp)
{
	struct zreader *z;
	int r;

	*rp = NULL;
	if (src == NULL)
		return mig_seterr(ctx, MIG_ERR_INTERNAL, "zstd: no source");
	if ((z = calloc(1, sizeof(*z))) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	z->insz = ZSTD_DStreamInSize();
	z->max_out = max_out;
	/* zstd's default window limit (2^27) bounds our memory. */
	if ((z->dctx = ZSTD_createDCtx()) == NULL ||
	    (z->in = malloc(z->insz)) == NULL) {
		r = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_free;
	}
	if ((*rp = mig_reader_new(&zstd_reader_ops, z, src, ctx)) == NULL) {
		r = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_free;
	}
	return 0;

out_free:
	ZSTD_freeDCtx(z->dctx);
	free(z->in);
	free(z);
	return r;
}
