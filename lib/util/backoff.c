/*
 * How long to wait between retries, and waiting.
 */
#include <errno.h>
#include <stdint.h>
#include <time.h>

#include <openssl/rand.h>

#include "migrate/util.h"

long
mig_backoff_ms(int attempt, long base_ms, long max_ms)
{
	uint32_t rnd = 0;
	long d = base_ms, lo;

	if (d <= 0)
		return 0;
	if (max_ms < d)
		max_ms = d;
	while (attempt-- > 0 && d < max_ms)
		d = d > max_ms / 2 ? max_ms : d * 2;
	/*
	 * Without randomness the wait is the whole step: slower, never
	 * shorter than promised.
	 */
	if (RAND_bytes((unsigned char *)&rnd, sizeof(rnd)) != 1)
		return d;
	lo = d / 2;
	return lo + (long)((uint64_t)rnd % (uint64_t)(d - lo + 1));
}

long
mig_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
mig_sleep_ms(long ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		continue;
}
