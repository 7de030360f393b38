/*
 * migrate __complete runs PLAN: the run ids of a plan, newest first, one
 * a line, for the shell completions (completions/).  Hidden: not in the
 * command table, never in help.  Quiet on every failure: a completion
 * that cannot read the log offers nothing, and prints nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "migrate/audit.h"
#include "migrate/error.h"
#include "migrate/plan.h"

#include "cmd.h"

static void
print_runs(const char *planfile, struct mig_ctx *ctx)
{
	struct mig_plan_env env = { getenv("HOME") };
	struct mig_plan *p = NULL;
	struct mig_audit_runs runs;
	struct mig_audit_report rep;
	size_t i;

	memset(&runs, 0, sizeof(runs));
	if (mig_plan_load(planfile, &env, ctx, &p) != 0)
		return;
	/* A log whose chain broke still names its runs up to there. */
	(void)mig_audit_runs_read(p->audit_log, p->name, NULL, NULL, NULL,
	    &runs, &rep, ctx);
	for (i = runs.n; i > 0; i--)
		printf("%s\n", runs.v[i - 1].id);
	if (runs.n > 0)
		printf("latest\n");
	mig_audit_runs_free(&runs);
	mig_plan_free(p);
}

int
cmd_complete(int argc, char **argv, struct mig_ctx *unused)
{
	struct mig_ctx *ctx;

	(void)unused;
	if (argc != 3 || strcmp(argv[1], "runs") != 0)
		return EXIT_USAGE;
	if ((ctx = mig_ctx_new()) == NULL)
		return EXIT_RUNTIME;
	print_runs(argv[2], ctx);
	mig_ctx_free(ctx);
	return EXIT_OK;
}
