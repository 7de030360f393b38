/*
 * `migrate runs': every run of a plan's dataset, oldest first, as the
 * audit log records it and the lake holds it.  The log says what a run
 * was (strategy, objects, files, bytes, parent, whether it completed and
 * was sealed); the lake says whether its bag is still there.  A bag in
 * the lake that the log does not know is listed too, as "not on record":
 * it is exactly what verify and restore refuse, and a user should see it.
 */
#define MIG_LAKE_INTERNAL
#define MIG_RUN_INTERNAL
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/audit.h"
#include "migrate/error.h"
#include "migrate/plan.h"
#include "migrate/run.h"
#include "migrate/transport.h"

#include "../lake/layout_int.h"
#include "run_int.h"

static struct mig_run_row *
add_row(struct mig_run_list *l, size_t *cap, const char *id)
{
	struct mig_run_row *nv, *row;

	if (l->n == *cap) {
		size_t ncap = *cap == 0 ? 16 : *cap * 2;

		if ((nv = reallocarray(l->v, ncap, sizeof(*nv))) == NULL)
			return NULL;
		l->v = nv;
		*cap = ncap;
	}
	row = &l->v[l->n++];
	memset(row, 0, sizeof(*row));
	(void)snprintf(row->id, sizeof(row->id), "%s", id);
	return row;
}

/* True when a signed checkpoint of r follows its record at seq. */
static bool
signed_after(const struct mig_audit_run *r, uint64_t seq)
{
	size_t i;

	for (i = 0; i < r->ncps; i++)
		if (r->cps[i].signed_ && r->cps[i].seq > seq)
			return true;
	return false;
}

/* The row of a run on record; lr is its bag in the lake, or NULL. */
static void
row_on_record(struct mig_run_row *row, const struct mig_audit_run *ar,
    const struct mig_lake_run *lr)
{
	size_t i, done = 0, n = 0;
	bool sealed = true;

	for (i = 0; i < ar->nbags; i++) {
		const struct mig_audit_bag *b = &ar->bags[i];
		int k, of;

		if (b->shard[0] != '\0' &&
		    sscanf(b->shard, "%d/%d", &k, &of) == 2 && of > 0)
			n = (size_t)of;
		if (!b->complete)
			continue;
		done++;
		row->objects += b->objects;
		row->files += b->files;
		row->bytes += b->bytes;
		sealed = sealed && signed_after(ar, b->end_seq);
	}
	if (ar->nbags > 0) {
		(void)snprintf(row->started, sizeof(row->started), "%s",
		    ar->bags[0].ts);
		(void)snprintf(row->strategy, sizeof(row->strategy), "%s",
		    ar->bags[0].strategy);
		(void)snprintf(row->parent, sizeof(row->parent), "%s",
		    ar->bags[0].parent);
	}
	row->shards = (int)n;
	row->shards_done = (int)done;
	if (lr != NULL && lr->abandoned)
		(void)snprintf(row->state, sizeof(row->state), "abandoned");
	else if (n > 0 && done < n)
		(void)snprintf(row->state, sizeof(row->state),
		    "shards %zu of %zu", done, n);
	else if (done == 0 || done < ar->nbags)
		(void)snprintf(row->state, sizeof(row->state), "incomplete");
	else if (lr == NULL)
		(void)snprintf(row->state, sizeof(row->state), "missing");
	else
		(void)snprintf(row->state, sizeof(row->state), "%s",
		    sealed ? "sealed" : "complete");
}

/* Runs that landed no bag ("nothing new") are not in the lake. */
static bool
has_bag(const struct mig_audit_run *ar, const struct mig_lake_run *lr)
{
	size_t i;

	if (lr != NULL)
		return true;
	for (i = 0; i < ar->nbags; i++)
		if (!ar->bags[i].nothing_new)
			return true;
	return false;
}

static int
by_id(const void *a, const void *b)
{
	return strcmp(((const struct mig_run_row *)a)->id,
	    ((const struct mig_run_row *)b)->id);
}

/* Every run directory of the dataset, all versions, into *all. */
static int
lake_runs_all(struct mig_transport *t, const struct mig_plan *p,
    struct mig_lake_runs *all, struct mig_ctx *ctx)
{
	const struct mig_strategy_info *si = mig_strategy_info(p->strategy);
	struct mig_lake_runs lr;
	struct mig_lake_run *nv;
	char ds[PATH_MAX];
	int maxv = 0, v, r = 0;

	memset(all, 0, sizeof(*all));
	if (si->versioned && (r = mig_lake_max_version(t, p, &maxv, ctx)) != 0)
		return r;
	for (v = si->versioned ? 1 : 0; v <= maxv; v++) {
		if (mig_lake_dataset_dir(p, v, ds, sizeof(ds)) != 0)
			return mig_seterr(ctx, MIG_ERR_INTERNAL, "path too long");
		if ((r = mig_lake_list_runs(t, ds, &lr, ctx)) != 0)
			return r;
		if (lr.n > 0 && (nv = reallocarray(all->v, all->n + lr.n,
		    sizeof(*nv))) == NULL) {
			mig_lake_runs_free(&lr);
			return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		}
		if (lr.n > 0) {
			/* The strings move to all; lr keeps only its array. */
			all->v = nv;
			memcpy(all->v + all->n, lr.v, lr.n * sizeof(*nv));
			all->n += lr.n;
		}
		free(lr.v);
	}
	return 0;
}

static const struct mig_lake_run *
lake_find(const struct mig_lake_runs *all, const char *id)
{
	size_t i;

	for (i = 0; i < all->n; i++)
		if (strcmp(all->v[i].id, id) == 0)
			return &all->v[i];
	return NULL;
}

static int
build_rows(const struct mig_plan *p, const struct mig_audit_runs *runs,
    const struct mig_lake_runs *all, struct mig_run_list *out,
    struct mig_ctx *ctx)
{
	const struct mig_strategy_info *si = mig_strategy_info(p->strategy);
	struct mig_run_row *row;
	size_t i, cap = 0;

	for (i = 0; i < runs->n; i++) {
		const struct mig_lake_run *lr = lake_find(all, runs->v[i].id);

		if (!has_bag(&runs->v[i], lr))
			continue;
		if ((row = add_row(out, &cap, runs->v[i].id)) == NULL)
			return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		row_on_record(row, &runs->v[i], lr);
		if (lr != NULL && (row->dir = strdup(lr->dir)) == NULL)
			return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	}
	for (i = 0; i < all->n; i++) {
		if (mig_audit_runs_find(runs, all->v[i].id) != NULL)
			continue;
		if ((row = add_row(out, &cap, all->v[i].id)) == NULL ||
		    (row->dir = strdup(all->v[i].dir)) == NULL)
			return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		(void)snprintf(row->state, sizeof(row->state), "not on record");
		(void)snprintf(row->strategy, sizeof(row->strategy), "%s",
		    si->name);
	}
	/* Run ids begin with their UTC start time: by id is oldest first. */
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), by_id);
	return 0;
}

int
mig_runs_list(const struct mig_runs_opts *o, struct mig_run_list *out,
    struct mig_ctx *ctx)
{
	struct mig_audit_runs runs;
	struct mig_audit_report rep;
	struct mig_transport *t = NULL;
	struct mig_lake_runs all;
	int r;

	memset(out, 0, sizeof(*out));
	memset(&all, 0, sizeof(all));
	r = mig_audit_runs_read(o->plan->audit_log, o->plan->name, o->seal_pub,
	    NULL, NULL, &runs, &rep, ctx);
	if (r == MIG_ERR_NOTFOUND) {
		/* No log yet: no run on record; the lake may still hold some. */
		mig_clearerr(ctx);
		memset(&runs, 0, sizeof(runs));
		r = 0;
	}
	if (r != 0)
		goto out;
	if ((r = mig_transport_open(o->tcfg, ctx, &t)) != 0 ||
	    (r = lake_runs_all(t, o->plan, &all, ctx)) != 0 ||
	    (r = build_rows(o->plan, &runs, &all, out, ctx)) != 0)
		goto out;
out:
	if (r != 0)
		mig_run_list_free(out);
	mig_lake_runs_free(&all);
	mig_transport_close(t);
	mig_audit_runs_free(&runs);
	return r;
}

void
mig_run_list_free(struct mig_run_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].dir);
	free(l->v);
	memset(l, 0, sizeof(*l));
}
