/*
 * The lake's layout (DESIGN.md section 4), shared with lib/run: where a
 * dataset, a run and a shard's bag live, run ids, listing the runs of a
 * dataset, and sweeping a bag of what does not belong in it.
 * Lib-only: not part of the public API.
 */
#ifndef MIGRATE_LAYOUT_INT_H
#define MIGRATE_LAYOUT_INT_H

#if !defined(MIG_LAKE_INTERNAL) && !defined(MIG_INTERNAL)
#error "layout_int.h is private to lib/"
#endif

#include <stdbool.h>
#include <stddef.h>

struct mig_ctx;
struct mig_plan;
struct mig_transport;

/* One run directory found in the lake. */
struct mig_lake_run {
	char	*id;
	char	*dir;		/* relative to the transport root */
	bool	 complete;	/* _SUCCESS present */
	bool	 abandoned;	/* _ABANDONED present */
};

struct mig_lake_runs {
	struct mig_lake_run	*v;
	size_t			 n;
};

/* ZONE/DATASET (plus "/v=N" when version > 0), into buf. */
int	mig_lake_dataset_dir(const struct mig_plan *p, int version, char *buf,
	    size_t size);
/* DATASETDIR/ingest_date=YYYY-MM-DD/run=RUNID (date taken from the id). */
int	mig_lake_run_dir(const char *dataset_dir, const char *run_id, char *buf,
	    size_t size);
/*
 * A new YYYYMMDDTHHMMSSZ-xxxxxxxx that sorts after every run of the same
 * second already under dataset_dir (t may be NULL: no such check).
 */
int	mig_lake_new_run_id(struct mig_transport *t, const char *dataset_dir,
	    char out[32], struct mig_ctx *ctx);
/* True when s has the shape of a run id. */
bool	mig_lake_valid_run_id(const char *s);
/* All runs under dataset_dir, sorted by id (oldest first). */
int	mig_lake_list_runs(struct mig_transport *t, const char *dataset_dir,
	    struct mig_lake_runs *runs, struct mig_ctx *ctx);
void	mig_lake_runs_free(struct mig_lake_runs *runs);
/* Highest N of DATASET/v=N, 0 when none. */
int	mig_lake_max_version(struct mig_transport *t, const struct mig_plan *p,
	    int *maxp, struct mig_ctx *ctx);
/* Removes leftover temporaries under dir, recursively. */
int	mig_lake_sweep_temps(struct mig_transport *t, const char *dir,
	    struct mig_ctx *ctx);
/*
 * The same, and every file for which keep(arg, REL) is false (REL is
 * relative to dir); removed(arg, REL) is told of each such file removed
 * (its non-zero return stops the walk).
 */
int	mig_lake_prune(struct mig_transport *t, const char *dir,
	    bool (*keep)(void *arg, const char *rel),
	    int (*removed)(void *arg, const char *rel), void *arg,
	    struct mig_ctx *ctx);

/*
 * The shard directories of a run ("shard=K-of-N"), sorted by K; *np = 0
 * when the run is not sharded.  *shardn gets N (consistent across the
 * names, else MIG_ERR_FORMAT).  Caller frees each name and the array.
 */
int	mig_lake_list_shards(struct mig_transport *t, const char *run_dir,
	    char ***namesp, size_t *np, int *shardn, struct mig_ctx *ctx);
void	mig_lake_free_names(char **names, size_t n);
/*
 * Bag s of a run into buf: run_dir itself when the run has no shards
 * (nshards 0), else run_dir/shards[s].  MIG_ERR_IO when it does not fit.
 */
int	mig_lake_bag_dir(char *buf, size_t size, const char *run_dir,
	    char *const *shards, size_t nshards, size_t s,
	    struct mig_ctx *ctx);

#endif /* MIGRATE_LAYOUT_INT_H */
