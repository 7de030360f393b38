/*
 * libFuzzer target: the plan layer (TOML parse + schema validation).
 * Every input either loads or fails with MIG_ERR_PARSE and a message
 * that starts with the plan's name and a position.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/error.h"
#include "migrate/plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct mig_plan_env env = { "/home/fuzz" };
	struct mig_ctx *ctx = mig_ctx_new();
	struct mig_plan *plan = NULL;
	char stages[256], tmpl[512];
	int r;

	if (ctx == NULL)
		return 0;
	r = mig_plan_parse("p/fuzz.toml", (const char *)data, size, &env, ctx,
	    &plan);
	if (r == 0) {
		/* A loaded plan is complete enough to describe itself. */
		if (plan == NULL || plan->name == NULL ||
		    plan->source_path == NULL || plan->url == NULL ||
		    plan->audit_log == NULL)
			abort();
		mig_plan_stages(plan, stages, sizeof(stages));
		mig_plan_template(plan, tmpl, sizeof(tmpl));
	} else {
		if (plan != NULL || (r != MIG_ERR_PARSE && r != MIG_ERR_NOMEM))
			abort();
		if (r == MIG_ERR_PARSE &&
		    strncmp(mig_errmsg(ctx), "p/fuzz.toml:", 12) != 0)
			abort();
	}
	mig_plan_free(plan);
	mig_ctx_free(ctx);
	return 0;
}
