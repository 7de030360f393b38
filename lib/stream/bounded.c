/*
 * Bounded reader: a pass-through stage that lets at most a fixed number of
 * bytes through and fails the moment its source offers one more.
 *
 * Whoever restores or checks a plaintext knows its size in advance (the
 * manifest says so), while the bytes come from a lake that is not trusted:
 * a small object can decompress to terabytes, or an age file can simply be
 * longer than it should.  Stopping at the first excess byte keeps both the
 * work done and anything written downstream within the expected size.
 */
#include <stdlib.h>

#include "migrate/error.h"
#include "migrate/stream.h"

struct bounded {
	uint64_t	 max;
	uint64_t	 total;		/* bytes passed on so far */
	bool		 failed;
};

static int
bd_read(struct mig_reader *r, void *buf, size_t cap, size_t *nread)
{
	struct bounded *b = r->priv;
	uint64_t room = b->max - b->total;
	size_t n;
	int rc;

	*nread = 0;
	if (b->failed)
		return mig_seterr(r->ctx, MIG_ERR_VERIFY, "stream exceeded "
		    "its expected %llu bytes earlier",
		    (unsigned long long)b->max);
	/* Ask for one byte beyond the bound, to see it being crossed. */
	if (room < cap)
		cap = (size_t)room + 1;
	if ((rc = mig_reader_read(r->src, buf, cap, &n)) != 0)
		return rc;
	if (n > room) {
		b->failed = true;
		return mig_seterr(r->ctx, MIG_ERR_VERIFY, "more than the "
		    "expected %llu bytes (a decompression bomb?); stopped "
		    "there", (unsigned long long)b->max);
	}
	b->total += n;
	*nread = n;
	return 0;
}

static void
bd_free(struct mig_reader *r)
{
	free(r->priv);
}

static const struct mig_reader_ops bounded_reader_ops = {
	.name = "bounded",
	.read = bd_read,
	.free = bd_free,
};

int
mig_bounded_reader_new(struct mig_reader *src, uint64_t max,
    struct mig_ctx *ctx, struct mig_reader **rp)
{
	struct bounded *b;

	*rp = NULL;
	if (src == NULL)
		return mig_seterr(ctx, MIG_ERR_INTERNAL, "bounded: no source");
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	b->max = max;
	if ((*rp = mig_reader_new(&bounded_reader_ops, b, src, ctx)) == NULL) {
		free(b);
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	}
	return 0;
}
