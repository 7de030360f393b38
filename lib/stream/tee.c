/*
 * Tee: every byte goes to two writers.  A tee has two chains after it, so
 * it leaves w->next NULL and its close closes both branches itself.
 */
#include <stdlib.h>

#include "migrate/error.h"
#include "migrate/stream.h"

struct tee {
	struct mig_writer	*a;	/* borrowed */
	struct mig_writer	*b;	/* borrowed */
};

static int
tee_write(struct mig_writer *w, const void *buf, size_t len)
{
	struct tee *t = w->priv;
	int r;

	if ((r = mig_writer_write(t->a, buf, len)) != 0 ||
	    (r = mig_writer_write(t->b, buf, len)) != 0)
		return r;
	return 0;
}

static int
tee_close(struct mig_writer *w)
{
	struct tee *t = w->priv;
	int r;

	if ((r = mig_writer_close(t->a)) != 0 ||
	    (r = mig_writer_close(t->b)) != 0)
		return r;
	return 0;
}

static void
tee_free(struct mig_writer *w)
{
	free(w->priv);
}

static const struct mig_writer_ops tee_ops = {
	.name = "tee",
	.write = tee_write,
	.close = tee_close,
	.free = tee_free,
};

int
mig_tee_writer_new(struct mig_writer *a, struct mig_writer *b,
    struct mig_ctx *ctx, struct mig_writer **wp)
{
	struct tee *t;

	*wp = NULL;
	if (a == NULL || b == NULL)
		return mig_seterr(ctx, MIG_ERR_INTERNAL, "tee: missing branch");
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	t->a = a;
	t->b = b;
	if ((*wp = mig_writer_new(&tee_ops, t, NULL, ctx)) == NULL) {
		free(t);
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	}
	return 0;
}
