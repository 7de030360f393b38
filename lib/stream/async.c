/*
 * An asynchronous stage: what is written to it is handed, through a small
 * bounded queue, to a thread that pushes it into the rest of the chain.
 * Landing one big file then uses two cores: one reads, hashes the
 * plaintext and encrypts; the other hashes the ciphertext and writes it.
 *
 * The stages after this one report their errors on their own context,
 * used only by the thread; a failure is copied to the caller's context at
 * the next write or at close, so no context is ever shared between
 * threads.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "migrate/error.h"
#include "migrate/stream.h"

#define ASYNC_SLOTS	4
#define ASYNC_SLOT_SIZE	(1024 * 1024)

struct slot {
	unsigned char	*buf;
	size_t		 len;
};

struct async {
	pthread_t	 tid;
	bool		 started;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct slot	 slots[ASYNC_SLOTS];
	size_t		 head;		/* next slot the thread takes */
	size_t		 count;		/* filled slots */
	bool		 eof;		/* no more data: finish next */
	bool		 done;		/* the thread has ended */
	bool		 cancel;	/* freed unclosed: stop, publish nothing */
	int		 err;		/* the thread's failure, or 0 */
	struct mig_writer *next;	/* borrowed */
	struct mig_ctx	*next_ctx;	/* borrowed; only the thread uses it */
	struct slot	 fill;		/* being filled by the caller */
};

static void *
async_main(void *arg)
{
	struct async *a = arg;
	struct slot s;
	int r = 0;

	for (;;) {
		pthread_mutex_lock(&a->mu);
		while (a->count == 0 && !a->eof && !a->cancel)
			pthread_cond_wait(&a->cv, &a->mu);
		if (a->cancel || a->count == 0) {
			pthread_mutex_unlock(&a->mu);
			break;
		}
		s = a->slots[a->head];
		pthread_mutex_unlock(&a->mu);

		if (r == 0)
			r = mig_writer_write(a->next, s.buf, s.len);

		pthread_mutex_lock(&a->mu);
		a->slots[a->head].len = 0;
		a->head = (a->head + 1) % ASYNC_SLOTS;
		a->count--;
		if (r != 0)
			a->err = r;
		pthread_cond_broadcast(&a->cv);
		pthread_mutex_unlock(&a->mu);
	}
	/* Cancelled: leave the chain unclosed, so its sink abandons. */
	if (r == 0 && !a->cancel)
		r = mig_writer_close(a->next);
	pthread_mutex_lock(&a->mu);
	if (r != 0)
		a->err = r;
	a->done = true;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

/* Copies the thread's failure to the caller's context. */
static int
async_error(struct mig_writer *w, struct async *a)
{
	return mig_seterr(w->ctx, a->err, "%s", mig_errmsg(a->next_ctx));
}

/* Queues the slot being filled; waits while the queue is full. */
static int
async_push(struct mig_writer *w, struct async *a)
{
	size_t tail;

	if (a->fill.len == 0)
		return 0;
	pthread_mutex_lock(&a->mu);
	while (a->count == ASYNC_SLOTS && a->err == 0)
		pthread_cond_wait(&a->cv, &a->mu);
	if (a->err != 0) {
		pthread_mutex_unlock(&a->mu);
		return async_error(w, a);
	}
	tail = (a->head + a->count) % ASYNC_SLOTS;
	/* Swap buffers: the caller keeps filling the free one. */
	{
		unsigned char *b = a->slots[tail].buf;

		a->slots[tail] = a->fill;
		a->fill.buf = b;
		a->fill.len = 0;
	}
	a->count++;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
	return 0;
}

static int
async_write(struct mig_writer *w, const void *buf, size_t len)
{
	struct async *a = w->priv;
	const unsigned char *p = buf;
	size_t n;
	int r;

	while (len > 0) {
		n = ASYNC_SLOT_SIZE - a->fill.len;
		if (n > len)
			n = len;
		memcpy(a->fill.buf + a->fill.len, p, n);
		a->fill.len += n;
		p += n;
		len -= n;
		if (a->fill.len == ASYNC_SLOT_SIZE &&
		    (r = async_push(w, a)) != 0)
			return r;
	}
	return 0;
}

/* Frees the buffers (wiped: they held ciphertext or plaintext). */
static void
async_release(struct async *a)
{
	size_t i;

	for (i = 0; i < ASYNC_SLOTS; i++) {
		if (a->slots[i].buf != NULL)
			OPENSSL_cleanse(a->slots[i].buf, ASYNC_SLOT_SIZE);
		free(a->slots[i].buf);
	}
	if (a->fill.buf != NULL)
		OPENSSL_cleanse(a->fill.buf, ASYNC_SLOT_SIZE);
	free(a->fill.buf);
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

static int
async_join(struct async *a)
{
	if (!a->started)
		return 0;
	pthread_mutex_lock(&a->mu);
	a->eof = true;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
	pthread_join(a->tid, NULL);
	a->started = false;
	return a->err;
}

/*
 * Drains the queue and lets the thread close the rest of the chain;
 * mig_writer_close() then finds next already closed (closing is
 * idempotent).
 */
static int
async_close(struct mig_writer *w)
{
	struct async *a = w->priv;
	int r;

	if ((r = async_push(w, a)) != 0) {
		(void)async_join(a);
		return r;
	}
	if (async_join(a) != 0)
		return async_error(w, a);
	return 0;
}

static void
async_free(struct mig_writer *w)
{
	struct async *a = w->priv;

	if (a == NULL)
		return;
	if (a->started) {
		/* Freed without a close: stop without closing the chain. */
		pthread_mutex_lock(&a->mu);
		a->cancel = true;
		pthread_cond_broadcast(&a->cv);
		pthread_mutex_unlock(&a->mu);
		pthread_join(a->tid, NULL);
	}
	async_release(a);
}

static const struct mig_writer_ops async_ops = {
	.name = "async",
	.write = async_write,
	.close = async_close,
	.free = async_free,
};

int
mig_async_writer_new(struct mig_writer *next, struct mig_ctx *next_ctx,
    struct mig_ctx *ctx, struct mig_writer **wp)
{
	struct async *a;
	size_t i;
	int r;

	*wp = NULL;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	a->next = next;
	a->next_ctx = next_ctx;
	for (i = 0; i < ASYNC_SLOTS; i++)
		if ((a->slots[i].buf = malloc(ASYNC_SLOT_SIZE)) == NULL) {
			r = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
			goto out_release;
		}
	if ((a->fill.buf = malloc(ASYNC_SLOT_SIZE)) == NULL) {
		r = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_release;
	}
	/* The thread owns next's chain; this stage has no next of its own. */
	if ((*wp = mig_writer_new(&async_ops, a, NULL, ctx)) == NULL) {
		r = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_release;
	}
	if (pthread_create(&a->tid, NULL, async_main, a) != 0) {
		(*wp)->priv = NULL;
		mig_writer_free(*wp);
		*wp = NULL;
		r = mig_seterr(ctx, MIG_ERR_NOMEM, "cannot start a thread");
		goto out_release;
	}
	a->started = true;
	return 0;

out_release:
	async_release(a);
	return r;
}
