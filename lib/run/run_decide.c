/*
 * Deciding the run, before anything is read or landed: resume the
 * unfinished run the local state names, settle one that was published
 * just before an interruption, abandon (visibly, with _ABANDONED) one that
 * may not be resumed, or begin a new run id and directory.
 */
#define MIG_LAKE_INTERNAL
#define MIG_RUN_INTERNAL
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "migrate/error.h"
#include "migrate/plan.h"
#include "migrate/run.h"

#include "../lake/layout_int.h"
#include "run_core.h"

/*
 * The directory of the unfinished run the local state names, into dir.
 * Published, then interrupted before the local state said so: finish
 * that (current becomes empty), and begin a new run.  The published bag
 * is never written again.
 */
static int
settle_published(struct run *rn, char current[64], char *dir, size_t size)
{
	json_t *j = NULL;
	char cpath[PATH_MAX], marker[PATH_MAX];
	const char *cdir;
	int r;

	(void)run_join(cpath, sizeof(cpath), rn->state_dir, "current.json");
	if ((r = state_read_json(cpath, &j, rn->ctx)) != 0)
		return r;
	cdir = json_string_value(json_object_get(j, "dir"));
	(void)snprintf(dir, size, "%s", cdir != NULL ? cdir : "");
	json_decref(j);
	(void)run_join(marker, sizeof(marker), dir, "_SUCCESS");
	if (dir[0] != '\0' && run_lake_has(rn, marker)) {
		if (!rn->o->dry_run && (r = run_commit_last(rn)) != 0)
			return r;
		run_note(rn, "run %s was published before an interruption; "
		    "its local state is now settled", current);
		current[0] = '\0';
	}
	return 0;
}

/* A new run: its id (given or new) and its directory in the lake. */
static int
begin_run(struct run *rn)
{
	char marker[PATH_MAX];
	int r;

	if (rn->o->run_id != NULL)
		(void)snprintf(rn->run_id, sizeof(rn->run_id), "%s",
		    rn->o->run_id);
	else if ((r = mig_lake_new_run_id(rn->t, rn->dataset_dir, rn->run_id,
	    rn->ctx)) != 0)
		return r;
	if ((r = mig_lake_run_dir(rn->dataset_dir, rn->run_id, rn->run_dir,
	    sizeof(rn->run_dir))) != 0)
		return mig_seterr(rn->ctx, MIG_ERR_USAGE, "bad run id \"%s\"",
		    rn->run_id);
	if (rn->o->shard_n > 0) {
		size_t n = strlen(rn->run_dir);

		if ((size_t)snprintf(rn->run_dir + n, sizeof(rn->run_dir) - n,
		    "/shard=%d-of-%d", rn->o->shard_k, rn->o->shard_n) >=
		    sizeof(rn->run_dir) - n)
			return mig_seterr(rn->ctx, MIG_ERR_USAGE,
			    "run path too long");
	}
	if (rn->o->run_id != NULL) {
		/*
		 * A named run that already finished is left as it is: a
		 * scheduler retrying a shard that completed must not turn
		 * its bag into a different one.
		 */
		(void)run_join(marker, sizeof(marker), rn->run_dir, "_SUCCESS");
		if (run_lake_has(rn, marker))
			rn->sum->already_complete = true;
	}
	return 0;
}

/*
 * Resume the unfinished run named in the local state, or start a new one.
 * rebuild never resumes: an unfinished version is abandoned.
 */
int
run_decide(struct run *rn, char abandoned[64])
{
	char current[64], dir[PATH_MAX], marker[PATH_MAX];
	int version = 0, r;

	abandoned[0] = '\0';
	if ((r = state_read_current(rn->state_dir, current, rn->ctx)) != 0)
		return r;
	if (rn->si->versioned) {
		if ((r = mig_lake_max_version(rn->t, rn->p, &version,
		    rn->ctx)) != 0)
			return r;
		version++;
		rn->sum->version = version;
	}
	if ((r = mig_lake_dataset_dir(rn->p, version, rn->dataset_dir,
	    sizeof(rn->dataset_dir))) != 0)
		return mig_seterr(rn->ctx, r, "lake path too long");
	if (current[0] != '\0' &&
	    (r = settle_published(rn, current, dir, sizeof(dir))) != 0)
		return r;
	if (current[0] != '\0') {
		if (!rn->o->new_run && !rn->si->versioned && dir[0] != '\0' &&
		    (rn->o->run_id == NULL ||
		    strcmp(rn->o->run_id, current) == 0)) {
			memcpy(rn->run_id, current, 26);	/* valid id */
			(void)snprintf(rn->run_dir, sizeof(rn->run_dir), "%s",
			    dir);
			rn->sum->resumed = true;
			return 0;
		}
		/* Abandon it, visibly, so nothing ever resumes it. */
		(void)snprintf(abandoned, 64, "%s", current);
		(void)run_join(marker, sizeof(marker), dir, "_SUCCESS");
		if (!rn->o->dry_run && dir[0] != '\0' &&
		    run_lake_has(rn, dir) && !run_lake_has(rn, marker) &&
		    (r = run_put_marker(rn, dir, "_ABANDONED",
		    "abandoned\n")) != 0)
			return r;
	}
	return begin_run(rn);
}
