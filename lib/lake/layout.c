/*
 * The lake's layout (DESIGN.md section 4): dataset, run and shard
 * directories, run ids, the runs of a dataset as the lake holds them, and
 * the sweep of a bag before it is published.  The local run state that
 * makes runs resumable is lib/run/state.c.
 */
#define MIG_LAKE_INTERNAL
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "migrate/error.h"
#include "migrate/plan.h"
#include "migrate/stream.h"
#include "migrate/transport.h"
#include "migrate/util.h"

#include "layout_int.h"

int
mig_lake_dataset_dir(const struct mig_plan *p, int version, char *buf,
    size_t size)
{
	int n;

	if (version > 0)
		n = snprintf(buf, size, "%s/%s/v=%d", p->zone, p->dataset,
		    version);
	else
		n = snprintf(buf, size, "%s/%s", p->zone, p->dataset);
	return n < 0 || (size_t)n >= size ? MIG_ERR_INTERNAL : 0;
}

bool
mig_lake_valid_run_id(const char *s)
{
	size_t i;

	/* YYYYMMDDTHHMMSSZ-xxxxxxxx */
	if (strlen(s) != 25)
		return false;
	for (i = 0; i < 25; i++) {
		char c = s[i];

		if (i == 8 ? c != 'T' : i == 15 ? c != 'Z' : i == 16 ?
		    c != '-' : i > 16 ? !(isdigit((unsigned char)c) ||
		    (c >= 'a' && c <= 'f')) : !isdigit((unsigned char)c))
			return false;
	}
	return true;
}

int
mig_lake_run_dir(const char *dataset_dir, const char *run_id, char *buf,
    size_t size)
{
	int n;

	if (!mig_lake_valid_run_id(run_id))
		return MIG_ERR_USAGE;
	n = snprintf(buf, size, "%s/ingest_date=%.4s-%.2s-%.2s/run=%s",
	    dataset_dir, run_id, run_id + 4, run_id + 6, run_id);
	return n < 0 || (size_t)n >= size ? MIG_ERR_INTERNAL : 0;
}

static int
draw_run_id(char out[32], struct mig_ctx *ctx)
{
	unsigned char rnd[4];
	char hex[9];
	struct tm tm;
	time_t now = time(NULL);

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "random run id");
	mig_hex_encode(rnd, sizeof(rnd), hex);
	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(out, 32, "%Y%m%dT%H%M%SZ-", &tm) == 0)
		return mig_seterr(ctx, MIG_ERR_INTERNAL, "clock");
	memcpy(out + 17, hex, 9);
	return 0;
}

/* "a/b" in a new string, or NULL on ENOMEM. */
static char *
path_join(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *s = malloc(n);

	if (s != NULL)
		(void)snprintf(s, n, "%s/%s", a, b);
	return s;
}

/* --- Listing runs ----------------------------------------------------------- */

struct names {
	char	**v;
	size_t	  n, cap;
	const char *prefix;
};

static int
collect_dir(void *arg, const char *name, const struct mig_tstat *st)
{
	struct names *ns = arg;
	char **nv;

	if (st->type != MIG_FT_DIR || strncmp(name, ns->prefix, strlen(ns->prefix)) != 0)
		return 0;
	if (ns->n == ns->cap) {
		ns->cap = ns->cap == 0 ? 16 : ns->cap * 2;
		if ((nv = reallocarray(ns->v, ns->cap, sizeof(*nv))) == NULL)
			return MIG_ERR_NOMEM;
		ns->v = nv;
	}
	if ((ns->v[ns->n] = strdup(name)) == NULL)
		return MIG_ERR_NOMEM;
	ns->n++;
	return 0;
}

static void
names_free(struct names *ns)
{
	size_t i;

	for (i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
}

static int
list_subdirs(struct mig_transport *t, const char *dir, const char *prefix,
    struct names *ns, struct mig_ctx *ctx)
{
	struct mig_tstat st;
	int r;

	memset(ns, 0, sizeof(*ns));
	ns->prefix = prefix;
	r = mig_transport_stat(t, dir, &st);
	if (r == MIG_ERR_NOTFOUND) {
		mig_clearerr(ctx);
		return 0;
	}
	if (r != 0)
		return r;
	r = mig_transport_list(t, dir, collect_dir, ns);
	if (r == MIG_ERR_NOMEM)
		return mig_seterr(ctx, r, "out of memory");
	return r;
}

/*
 * Run ids order runs: "the latest run" is the greatest id.  Two runs
 * started in the same second would be ordered by their random suffix, so
 * the suffix is drawn again until the id sorts after every run of the
 * same second already in dataset_dir (one listing of that day's
 * ingest_date directory per second tried), and the second is waited out
 * when that fails 64 times.
 */
int
mig_lake_new_run_id(struct mig_transport *t, const char *dataset_dir,
    char out[32], struct mig_ctx *ctx)
{
	char dir[PATH_MAX], newest[32], listed[17] = "";
	struct names ids;
	size_t i;
	int tries = 0, r;

	for (;;) {
		if ((r = draw_run_id(out, ctx)) != 0)
			return r;
		if (t == NULL)
			return 0;
		if (strncmp(out, listed, 16) != 0) {
			if ((size_t)snprintf(dir, sizeof(dir),
			    "%s/ingest_date=%.4s-%.2s-%.2s", dataset_dir, out,
			    out + 4, out + 6) >= sizeof(dir))
				return mig_seterr(ctx, MIG_ERR_INTERNAL,
				    "lake path too long");
			if ((r = list_subdirs(t, dir, "run=", &ids, ctx)) != 0)
				return r;
			newest[0] = '\0';
			for (i = 0; i < ids.n; i++) {
				const char *id = ids.v[i] + 4;

				if (mig_lake_valid_run_id(id) &&
				    strncmp(id, out, 16) == 0 &&
				    strcmp(id, newest) > 0)
					(void)snprintf(newest, sizeof(newest),
					    "%s", id);
			}
			names_free(&ids);
			memcpy(listed, out, 16);
			tries = 0;
		}
		if (strcmp(out, newest) > 0)
			return 0;
		if (++tries >= 64)
			(void)sleep(1);
	}
}

static bool
exists(struct mig_transport *t, const char *path, struct mig_ctx *ctx)
{
	struct mig_tstat st;

	if (mig_transport_stat(t, path, &st) == 0)
		return true;
	mig_clearerr(ctx);
	return false;
}

static bool
marker_exists(struct mig_transport *t, const char *dir, const char *name,
    struct mig_ctx *ctx)
{
	char path[PATH_MAX];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path))
		return false;
	return exists(t, path, ctx);
}

static int
run_cmp(const void *a, const void *b)
{
	return strcmp(((const struct mig_lake_run *)a)->id,
	    ((const struct mig_lake_run *)b)->id);
}

void
mig_lake_runs_free(struct mig_lake_runs *runs)
{
	size_t i;

	for (i = 0; i < runs->n; i++) {
		free(runs->v[i].id);
		free(runs->v[i].dir);
	}
	free(runs->v);
	memset(runs, 0, sizeof(*runs));
}

int
mig_lake_list_runs(struct mig_transport *t, const char *dataset_dir,
    struct mig_lake_runs *runs, struct mig_ctx *ctx)
{
	struct names dates, ids;
	char path[PATH_MAX];
	size_t i, j;
	int r;

	memset(runs, 0, sizeof(*runs));
	if ((r = list_subdirs(t, dataset_dir, "ingest_date=", &dates,
	    ctx)) != 0)
		return r;
	for (i = 0; i < dates.n && r == 0; i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", dataset_dir,
		    dates.v[i]);
		if ((r = list_subdirs(t, path, "run=", &ids, ctx)) != 0)
			break;
		for (j = 0; j < ids.n; j++) {
			struct mig_lake_run *lr, *nv;
			const char *id = ids.v[j] + 4;

			if (!mig_lake_valid_run_id(id))
				continue;
			nv = reallocarray(runs->v, runs->n + 1, sizeof(*nv));
			if (nv == NULL) {
				r = mig_seterr(ctx, MIG_ERR_NOMEM,
				    "out of memory");
				break;
			}
			runs->v = nv;
			lr = &runs->v[runs->n];
			memset(lr, 0, sizeof(*lr));
			lr->id = strdup(id);
			lr->dir = path_join(path, ids.v[j]);
			if (lr->id == NULL || lr->dir == NULL) {
				free(lr->id);
				free(lr->dir);
				r = mig_seterr(ctx, MIG_ERR_NOMEM,
				    "out of memory");
				break;
			}
			runs->n++;
			lr->complete = marker_exists(t, lr->dir, "_SUCCESS",
			    ctx);
			lr->abandoned = marker_exists(t, lr->dir,
			    "_ABANDONED", ctx);
		}
		names_free(&ids);
	}
	names_free(&dates);
	if (r != 0) {
		mig_lake_runs_free(runs);
		return r;
	}
	if (runs->n > 1)
		qsort(runs->v, runs->n, sizeof(*runs->v), run_cmp);
	return 0;
}

int
mig_lake_max_version(struct mig_transport *t, const struct mig_plan *p,
    int *maxp, struct mig_ctx *ctx)
{
	struct names vs;
	char dir[PATH_MAX];
	size_t i;
	int r;

	*maxp = 0;
	(void)snprintf(dir, sizeof(dir), "%s/%s", p->zone, p->dataset);
	if ((r = list_subdirs(t, dir, "v=", &vs, ctx)) != 0)
		return r;
	for (i = 0; i < vs.n; i++) {
		char *end;
		long v = strtol(vs.v[i] + 2, &end, 10);

		if (*end == '\0' && v > *maxp && v < 1000000)
			*maxp = (int)v;
	}
	names_free(&vs);
	return 0;
}

struct sweep {
	struct mig_transport	*t;
	const char		*dir;
	const char		*rel;	/* dir relative to the walk's top */
	struct mig_ctx		*ctx;
	int			 depth;
	bool			(*keep)(void *arg, const char *rel);
	int			(*removed)(void *arg, const char *rel);
	void			*arg;
};

static int
sweep_one(void *arg, const char *name, const struct mig_tstat *st)
{
	struct sweep *sw = arg, sub;
	char path[PATH_MAX], rel[PATH_MAX];
	bool temp;
	int r;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", sw->dir, name) >=
	    sizeof(path) || (size_t)snprintf(rel, sizeof(rel), "%s%s%s",
	    sw->rel, sw->rel[0] != '\0' ? "/" : "", name) >= sizeof(rel))
		return 0;
	if (st->type == MIG_FT_DIR) {
		if (sw->depth > 64)
			return 0;
		sub = *sw;
		sub.dir = path;
		sub.rel = rel;
		sub.depth++;
		return mig_transport_list(sw->t, path, sweep_one, &sub);
	}
	temp = strstr(name, MIG_TMP_INFIX) != NULL;
	if (!temp && (sw->keep == NULL || sw->keep(sw->arg, rel)))
		return 0;
	r = mig_transport_remove(sw->t, path);
	if (r == MIG_ERR_NOTFOUND) {
		mig_clearerr(sw->ctx);
		return 0;
	}
	if (r == 0 && !temp && sw->removed != NULL)
		r = sw->removed(sw->arg, rel);
	return r;
}

int
mig_lake_sweep_temps(struct mig_transport *t, const char *dir,
    struct mig_ctx *ctx)
{
	return mig_lake_prune(t, dir, NULL, NULL, NULL, ctx);
}

int
mig_lake_prune(struct mig_transport *t, const char *dir,
    bool (*keep)(void *arg, const char *rel),
    int (*removed)(void *arg, const char *rel), void *arg,
    struct mig_ctx *ctx)
{
	struct sweep sw = { t, dir, "", ctx, 0, keep, removed, arg };

	if (!exists(t, dir, ctx))
		return 0;
	return mig_transport_list(t, dir, sweep_one, &sw);
}

static int
shard_k_cmp(const void *a, const void *b)
{
	int ka = atoi(*(char *const *)a + 6), kb = atoi(*(char *const *)b + 6);

	return ka < kb ? -1 : ka > kb;
}

void
mig_lake_free_names(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int
mig_lake_bag_dir(char *buf, size_t size, const char *run_dir,
    char *const *shards, size_t nshards, size_t s, struct mig_ctx *ctx)
{
	int n;

	if (nshards == 0)
		n = snprintf(buf, size, "%s", run_dir);
	else
		n = snprintf(buf, size, "%s/%s", run_dir, shards[s]);
	if (n < 0 || (size_t)n >= size)
		return mig_seterr(ctx, MIG_ERR_IO, "%s: path too long",
		    run_dir);
	return 0;
}

int
mig_lake_list_shards(struct mig_transport *t, const char *run_dir,
    char ***namesp, size_t *np, int *shardn, struct mig_ctx *ctx)
{
	struct names ns;
	size_t i;
	int r, k, n;
	char tail;

	*namesp = NULL;
	*np = 0;
	*shardn = 0;
	if ((r = list_subdirs(t, run_dir, "shard=", &ns, ctx)) != 0)
		return r;
	for (i = 0; i < ns.n; i++) {
		if (sscanf(ns.v[i], "shard=%d-of-%d%c", &k, &n, &tail) != 2 ||
		    k < 0 || n < 1 || k >= n || (*shardn != 0 && n != *shardn)) {
			r = mig_seterr(ctx, MIG_ERR_FORMAT, "%s/%s: not a shard "
			    "of this run (shard=K-of-N with one N)", run_dir,
			    ns.v[i]);
			names_free(&ns);
			return r;
		}
		*shardn = n;
	}
	if (ns.n > 1)
		qsort(ns.v, ns.n, sizeof(*ns.v), shard_k_cmp);
	*namesp = ns.v;
	*np = ns.n;
	return 0;
}
