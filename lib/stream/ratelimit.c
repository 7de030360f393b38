/*
 * --bwlimit: one budget of bytes per second shared by every connection of
 * a run, so that a migration can share a production link.
 *
 * The limiter keeps a single instant, the time at which everything
 * granted so far has been paid for at the rate.  Each writer reserves its
 * bytes under the lock (moving that instant on) and sleeps outside it
 * until its share is due; so N workers split the rate between them, and
 * the long-run average never exceeds it whatever their number.  An idle
 * link earns at most MIG_RATELIMIT_BURST_MS of credit, so a pause is not
 * followed by a burst the link cannot carry.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "migrate/error.h"
#include "migrate/stream.h"

#define NS	1000000000LL
/* Bytes reserved at a time: keeps each sleep short at low rates. */
#define PIECE	(16 * 1024)

struct mig_ratelimit {
	pthread_mutex_t	 lock;
	uint64_t	 rate;		/* bytes per second, > 0 */
	int64_t		 paid_until;	/* ns, CLOCK_MONOTONIC */
};

static int64_t
now_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

int
mig_ratelimit_new(uint64_t bytes_per_sec, struct mig_ratelimit **rlp)
{
	struct mig_ratelimit *rl;

	*rlp = NULL;
	if (bytes_per_sec == 0)
		return MIG_ERR_USAGE;
	if ((rl = calloc(1, sizeof(*rl))) == NULL)
		return MIG_ERR_NOMEM;
	if (pthread_mutex_init(&rl->lock, NULL) != 0) {
		free(rl);
		return MIG_ERR_NOMEM;
	}
	rl->rate = bytes_per_sec;
	rl->paid_until = now_ns() - (int64_t)MIG_RATELIMIT_BURST_MS * 1000000;
	*rlp = rl;
	return 0;
}

void
mig_ratelimit_free(struct mig_ratelimit *rl)
{
	if (rl == NULL)
		return;
	(void)pthread_mutex_destroy(&rl->lock);
	free(rl);
}

void
mig_ratelimit_take(struct mig_ratelimit *rl, size_t len)
{
	const int64_t burst = (int64_t)MIG_RATELIMIT_BURST_MS * 1000000;
	struct timespec due;
	int64_t now, cost, wake;

	if (rl == NULL || len == 0)
		return;
	/* A double holds nanoseconds exactly for 104 days of waiting. */
	cost = (int64_t)((double)len * (double)NS / (double)rl->rate);
	now = now_ns();
	(void)pthread_mutex_lock(&rl->lock);
	if (rl->paid_until < now - burst)
		rl->paid_until = now - burst;
	rl->paid_until += cost;
	wake = rl->paid_until;
	(void)pthread_mutex_unlock(&rl->lock);
	if (wake <= now)
		return;
	due.tv_sec = (time_t)(wake / NS);
	due.tv_nsec = (long)(wake % NS);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due,
	    NULL) == EINTR)
		;
}

static int
limit_write(struct mig_writer *w, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t n;
	int r;

	while (len > 0) {
		n = len < PIECE ? len : PIECE;
		mig_ratelimit_take(w->priv, n);
		if ((r = mig_writer_write(w->next, p, n)) != 0)
			return r;
		p += n;
		len -= n;
	}
	return 0;
}

static int
limit_close(struct mig_writer *w)
{
	(void)w;
	return 0;
}

static void
limit_free(struct mig_writer *w)
{
	(void)w;	/* the limiter is the run's, not the stage's */
}

static const struct mig_writer_ops limit_ops = {
	.name = "bwlimit",
	.write = limit_write,
	.close = limit_close,
	.free = limit_free,
};

int
mig_ratelimit_writer_new(struct mig_ratelimit *rl, struct mig_writer *next,
    struct mig_ctx *ctx, struct mig_writer **wp)
{
	*wp = NULL;
	if (rl == NULL || next == NULL)
		return mig_seterr(ctx, MIG_ERR_INTERNAL,
		    "bwlimit: missing limiter or next stage");
	if ((*wp = mig_writer_new(&limit_ops, rl, next, ctx)) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	return 0;
}
