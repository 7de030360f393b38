/*
 * The test build's hook (migrate-hooks): acts at a named test point of
 * the library (include/migrate/testhook.h) as the environment says.
 *
 *   MIGRATE_TEST_HOOK="point=P [nth=K] [min=V] [detail=D] action=A; ..."
 *
 * A call of point P matches a spec when its detail equals D (if given) and
 * its value is at least V (if given); the K-th match (default the first)
 * fires, once.  Actions:
 *   pause  writes "P VALUE PID DETAIL\n" to $MIGRATE_TEST_HOOK_DIR/reached and
 *          blocks until a line can be read from $MIGRATE_TEST_HOOK_DIR/resume
 *          (two FIFOs the test made): the test acts while the process
 *          stands at exactly that point
 *   kill   SIGKILL to this process, at that point
 *   fail   the step fails there (MIG_ERR_IO, "injected failure")
 * $MIGRATE_TEST_HOOK_LOG, when set, gets one line per point reached
 * ("P VALUE PID DETAIL"), so that a test can count the points of a run.
 *
 * The release binary is linked with this file compiled without
 * MIG_TEST_HOOKS: it never reads those variables.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "migrate/error.h"
#include "migrate/testhook.h"

#include "cmd.h"

#ifdef MIG_TEST_HOOKS

#define HOOK_SPECS	16

enum hook_action { HOOK_PAUSE, HOOK_KILL, HOOK_FAIL };

struct hook_spec {
	char		 point[64];
	char		 detail[PATH_MAX];
	bool		 has_detail;
	uint64_t	 min;
	unsigned long	 nth;
	unsigned long	 seen;
	bool		 fired;
	enum hook_action action;
};

struct cmd_testhook {
	struct mig_testhook	 hook;
	pthread_mutex_t		 mu;
	struct hook_spec	 specs[HOOK_SPECS];
	size_t			 nspecs;
	char			 dir[PATH_MAX];
	int			 log_fd;
};

/* Parses one "key=value" field into sp; false when it is not one. */
static bool
parse_field(struct hook_spec *sp, const char *f, size_t len)
{
	const char *eq = memchr(f, '=', len);
	size_t kl, vl;
	char val[PATH_MAX];

	if (eq == NULL)
		return false;
	kl = (size_t)(eq - f);
	vl = len - kl - 1;
	if (vl >= sizeof(val))
		return false;
	memcpy(val, eq + 1, vl);
	val[vl] = '\0';
	if (kl == 5 && strncmp(f, "point", 5) == 0 && vl < sizeof(sp->point))
		memcpy(sp->point, val, vl + 1);
	else if (kl == 6 && strncmp(f, "detail", 6) == 0) {
		memcpy(sp->detail, val, vl + 1);
		sp->has_detail = true;
	} else if (kl == 3 && strncmp(f, "nth", 3) == 0)
		sp->nth = strtoul(val, NULL, 10);
	else if (kl == 3 && strncmp(f, "min", 3) == 0)
		sp->min = strtoull(val, NULL, 10);
	else if (kl == 6 && strncmp(f, "action", 6) == 0) {
		if (strcmp(val, "pause") == 0)
			sp->action = HOOK_PAUSE;
		else if (strcmp(val, "kill") == 0)
			sp->action = HOOK_KILL;
		else if (strcmp(val, "fail") == 0)
			sp->action = HOOK_FAIL;
		else
			return false;
	} else
		return false;
	return true;
}

/* Parses the specs of MIGRATE_TEST_HOOK; false on a malformed one. */
static bool
parse_specs(struct cmd_testhook *th, const char *s)
{
	struct hook_spec *sp = NULL;
	size_t n;

	while (*s != '\0') {
		if (*s == ' ' || *s == '\t') {
			s++;
			continue;
		}
		if (*s == ';') {
			sp = NULL;
			s++;
			continue;
		}
		if (sp == NULL) {
			if (th->nspecs == HOOK_SPECS)
				return false;
			sp = &th->specs[th->nspecs++];
			sp->nth = 1;
		}
		n = strcspn(s, " \t;");
		if (!parse_field(sp, s, n))
			return false;
		s += n;
	}
	for (n = 0; n < th->nspecs; n++)
		if (th->specs[n].point[0] == '\0' || th->specs[n].nth == 0)
			return false;
	return true;
}

/* Writes all of buf to fd (a FIFO or the log). */
static void
write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

/* Tells the test where we stand, then waits for its go-ahead. */
static int
pause_here(struct cmd_testhook *th, const char *line, struct mig_ctx *ctx)
{
	char path[PATH_MAX + 16], c;
	int fd;
	ssize_t n;

	(void)snprintf(path, sizeof(path), "%s/reached", th->dir);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return mig_seterr(ctx, MIG_ERR_INTERNAL, "test hook: %s: %s",
		    path, strerror(errno));
	write_all(fd, line, strlen(line));
	close(fd);
	(void)snprintf(path, sizeof(path), "%s/resume", th->dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return mig_seterr(ctx, MIG_ERR_INTERNAL, "test hook: %s: %s",
		    path, strerror(errno));
	do
		n = read(fd, &c, 1);
	while ((n < 0 && errno == EINTR) || (n == 1 && c != '\n'));
	close(fd);
	return 0;
}

static int
hook_fn(void *arg, const char *point, const char *detail, uint64_t value,
    struct mig_ctx *ctx)
{
	struct cmd_testhook *th = arg;
	struct hook_spec *fire = NULL;
	char line[PATH_MAX + 128];
	size_t i;

	(void)snprintf(line, sizeof(line), "%s %llu %ld %s\n", point,
	    (unsigned long long)value, (long)getpid(), detail);
	pthread_mutex_lock(&th->mu);
	if (th->log_fd >= 0)
		write_all(th->log_fd, line, strlen(line));
	for (i = 0; i < th->nspecs && fire == NULL; i++) {
		struct hook_spec *sp = &th->specs[i];

		if (sp->fired || strcmp(sp->point, point) != 0 ||
		    (sp->has_detail && strcmp(sp->detail, detail) != 0) ||
		    value < sp->min)
			continue;
		if (++sp->seen == sp->nth) {
			sp->fired = true;
			fire = sp;
		}
	}
	pthread_mutex_unlock(&th->mu);
	if (fire == NULL)
		return 0;
	switch (fire->action) {
	case HOOK_KILL:
		(void)raise(SIGKILL);
		return 0;
	case HOOK_FAIL:
		return mig_seterr(ctx, MIG_ERR_IO, "%s: test hook: injected "
		    "failure at %s", detail, point);
	case HOOK_PAUSE:
	default:
		return pause_here(th, line, ctx);
	}
}

struct cmd_testhook *
cmd_testhook_new(void)
{
	const char *spec = getenv("MIGRATE_TEST_HOOK");
	const char *dir = getenv("MIGRATE_TEST_HOOK_DIR");
	const char *log = getenv("MIGRATE_TEST_HOOK_LOG");
	struct cmd_testhook *th;

	if ((spec == NULL || spec[0] == '\0') && log == NULL)
		return NULL;
	if ((th = calloc(1, sizeof(*th))) == NULL)
		return NULL;
	th->log_fd = -1;
	if (spec != NULL && !parse_specs(th, spec)) {
		cmd_warn("MIGRATE_TEST_HOOK: cannot parse \"%s\"", spec);
		free(th);
		exit(EXIT_USAGE);
	}
	(void)snprintf(th->dir, sizeof(th->dir), "%s", dir != NULL ? dir :
	    ".");
	if (log != NULL)
		th->log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND |
		    O_CLOEXEC, 0600);
	pthread_mutex_init(&th->mu, NULL);
	th->hook.fn = hook_fn;
	th->hook.arg = th;
	return th;
}

const struct mig_testhook *
cmd_testhook_get(const struct cmd_testhook *th)
{
	return th != NULL ? &th->hook : NULL;
}

void
cmd_testhook_free(struct cmd_testhook *th)
{
	if (th == NULL)
		return;
	if (th->log_fd >= 0)
		close(th->log_fd);
	pthread_mutex_destroy(&th->mu);
	free(th);
}

#else	/* !MIG_TEST_HOOKS: the release binary has no test points */

struct cmd_testhook *
cmd_testhook_new(void)
{
	return NULL;
}

const struct mig_testhook *
cmd_testhook_get(const struct cmd_testhook *th)
{
	(void)th;
	return NULL;
}

void
cmd_testhook_free(struct cmd_testhook *th)
{
	(void)th;
}

#endif
