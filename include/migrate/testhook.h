/*
 * Test points: named moments inside a run, verify or restore where a test
 * can act at exactly that moment (pause the process while it changes the
 * world, kill it, or make the step fail).
 *
 * The library only calls the hook it is given; it never decides anything
 * from the environment.  The release binary never installs one: only the
 * test build of cmd/ (migrate-hooks, see cmd/migrate/testhook.c) does, so
 * that a test never has to guess a moment with sleep(1) or by polling
 * /proc.
 */
#ifndef MIGRATE_TESTHOOK_H
#define MIGRATE_TESTHOOK_H

#include <stddef.h>
#include <stdint.h>

struct mig_ctx;

struct mig_testhook {
	/*
	 * Called at the point named point (detail: a path or "", value: a
	 * count such as bytes read so far).  Returns 0 to go on, or a
	 * negative MIG_ERR_* (with its message set on ctx) to make the step
	 * fail there.  Must be safe to call from any thread.
	 */
	int	(*fn)(void *arg, const char *point, const char *detail,
		    uint64_t value, struct mig_ctx *ctx);
	void	*arg;
};

/* Calls the hook when there is one; 0 otherwise. */
static inline int
mig_testpoint(const struct mig_testhook *h, const char *point,
    const char *detail, uint64_t value, struct mig_ctx *ctx)
{
	if (h == NULL || h->fn == NULL)
		return 0;
	return h->fn(h->arg, point, detail != NULL ? detail : "", value, ctx);
}

#endif /* MIGRATE_TESTHOOK_H */
