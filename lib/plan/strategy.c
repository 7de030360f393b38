/*
 * The strategies: what each one does with the data, and what that makes
 * of a plan's pipeline and of the paths it lands in the lake.
 */
#include <stdbool.h>
#include <stdio.h>

#include "migrate/plan.h"

static const struct mig_strategy_info strategies[MIG_STRATEGY_COUNT] = {
	[MIG_STRATEGY_RETAIN] = { "retain", "inventory",
	    false, false, false, false, false },
	[MIG_STRATEGY_RETIRE] = { "retire", "archive",
	    true, true, true, false, false },
	[MIG_STRATEGY_REHOST] = { "rehost", "raw",
	    true, false, false, false, false },
	[MIG_STRATEGY_REPLATFORM] = { "replatform", "raw",
	    true, true, false, false, false },
	[MIG_STRATEGY_REFACTOR] = { "refactor", "curated",
	    true, true, false, true, false },
	[MIG_STRATEGY_REPURCHASE] = { "repurchase", "export",
	    true, false, true, false, false },
	[MIG_STRATEGY_REBUILD] = { "rebuild", "curated",
	    true, true, false, true, true },
};

const struct mig_strategy_info *
mig_strategy_info(enum mig_strategy s)
{
	if ((unsigned)s >= MIG_STRATEGY_COUNT)
		return NULL;
	return &strategies[s];
}

void
mig_plan_stages(const struct mig_plan *p, char *buf, size_t size)
{
	const struct mig_strategy_info *si = &strategies[p->strategy];
	char zstd[32] = "";

	if (p->compress)
		(void)snprintf(zstd, sizeof(zstd), " -> zstd(%d)",
		    p->zstd_level);
	if (!si->moves_data)
		(void)snprintf(buf, size, "inventory -> sha256 -> signed "
		    "inventory bag -> %s", p->scheme);
	else if (si->one_archive)
		(void)snprintf(buf, size, "inventory -> sha256 -> pax tar%s%s"
		    " -> age -> sha256 -> %s", p->strategy ==
		    MIG_STRATEGY_REPURCHASE ? " (holding a BagIt bag)" : "",
		    zstd, p->scheme);
	else
		(void)snprintf(buf, size, "inventory -> sha256%s -> age -> "
		    "sha256 -> %s%s", zstd, p->scheme,
		    si->partition ? " (partitioned)" : "");
}

void
mig_plan_template(const struct mig_plan *p, char *buf, size_t size)
{
	const struct mig_strategy_info *si = &strategies[p->strategy];
	const char *ext = p->compress ? ".zst.age" : ".age";
	char part[160] = "";

	if (si->partition)
		(void)snprintf(part, sizeof(part), "%s=VALUE/",
		    p->partition_key);
	if (!si->moves_data)
		(void)snprintf(buf, size, "%s/%s/ingest_date=YYYY-MM-DD/"
		    "run=RUNID/ (inventory only, no payload)", p->zone,
		    p->dataset);
	else if (si->one_archive)
		(void)snprintf(buf, size, "%s/%s/ingest_date=YYYY-MM-DD/"
		    "run=RUNID/data/%s%s", p->zone, p->dataset, p->name,
		    p->compress ? ".tar.zst.age" : ".tar.age");
	else
		(void)snprintf(buf, size, "%s/%s/%singest_date=YYYY-MM-DD/"
		    "run=RUNID/data/%sPATH%s", p->zone, p->dataset,
		    si->versioned ? "v=N/" : "", part, ext);
}
