/*
 * Migration plans (migrate-plan(5)): load, validate, resolve.
 *
 * Unlike most modules, struct mig_plan is not opaque: it is a read-only
 * value object, the resolved plan, read field by field by every stage of a
 * run.  Accessor functions for thirty fields would add noise, not safety.
 * Only plan.c allocates or changes one.
 */
#ifndef MIGRATE_PLAN_H
#define MIGRATE_PLAN_H

#include <stdbool.h>

#include "migrate/transport.h"
#include <stddef.h>
#include <stdint.h>

struct mig_ctx;

enum mig_strategy {
	MIG_STRATEGY_RETAIN,
	MIG_STRATEGY_RETIRE,
	MIG_STRATEGY_REHOST,
	MIG_STRATEGY_REPLATFORM,
	MIG_STRATEGY_REFACTOR,
	MIG_STRATEGY_REPURCHASE,
	MIG_STRATEGY_REBUILD
};
#define MIG_STRATEGY_COUNT	7

/* What a strategy does to the data (DESIGN.md section 3). */
struct mig_strategy_info {
	const char	*name;
	const char	*zone;		/* default zone */
	bool		 moves_data;	/* false: inventory only (retain) */
	bool		 compress;	/* zstd before age */
	bool		 one_archive;	/* everything in one tar (retire, repurchase) */
	bool		 partition;	/* Hive-style KEY=VALUE/ (refactor, rebuild) */
	bool		 versioned;	/* new v=N/ every run, never resumed */
};

const struct mig_strategy_info *mig_strategy_info(enum mig_strategy s);

struct mig_plan {
	char		*file;		/* the plan's path as given */
	char		*dir;		/* directory holding the plan */
	char		 sha256[65];	/* hex SHA-256 of the plan file */
	long		 version;
	char		*name;
	enum mig_strategy strategy;

	/* [source] */
	char		*source_path;	/* resolved against dir */
	char		**include;	/* NULL-terminated globs; NULL: all */
	char		**exclude;	/* NULL-terminated; may be NULL */
	bool		 follow_symlinks;
	/* Archive sources: expanded bytes per archive byte (default
	   MIG_ARCHIVE_MAX_RATIO), expanded bytes in all (0: no limit). */
	uint64_t	 max_expansion_ratio;
	uint64_t	 max_expanded_bytes;

	/* [destination] */
	char		*url;		/* as written */
	char		*scheme;	/* "file", "sftp", "https", "http" */
	char		*lake_path;	/* file://: resolved local lake root */
	char		*dataset;
	char		*zone;
	/*
	 * The backend's own keys (sftp known_hosts, https ca_file, ...), as
	 * the backend declares them (transport.h): paths resolved, MIG_TKEY_ENV
	 * keys holding the variable's NAME, defaults applied.  Values owned.
	 */
	struct mig_topts dest;
	/* bwlimit: bytes per second for the whole run; 0: none. */
	uint64_t	 bwlimit;

	/* [encryption] */
	char		**recipients;	/* NULL-terminated; may be NULL */
	char		*recipients_file; /* resolved path or NULL */
	char		*passphrase_env;

	/* [compression] */
	bool		 compress;
	int		 zstd_level;

	/* [audit] */
	char		*audit_log;	/* resolved path */
	char		*signing_key;	/* resolved path or NULL */

	/* [retire] */
	bool		 delete_source;

	/* [refactor] */
	char		*partition_by;	/* "mtime:FMT" or a regex */
	char		*partition_key;
};

/* Everything a plan needs from outside lib/ (lib never reads env). */
struct mig_plan_env {
	const char	*home;		/* for "~/" in paths; may be NULL */
};

/*
 * Loads and validates the plan at path.  Errors are MIG_ERR_PARSE with a
 * message "PATH:LINE:COL: what (hint)", or MIG_ERR_IO/NOTFOUND when the
 * file cannot be read.  Caller frees *planp with mig_plan_free().
 */
int	mig_plan_load(const char *path, const struct mig_plan_env *env,
	    struct mig_ctx *ctx, struct mig_plan **planp);
/* Same, from a buffer; path only names the plan in messages. */
int	mig_plan_parse(const char *path, const char *buf, size_t len,
	    const struct mig_plan_env *env, struct mig_ctx *ctx,
	    struct mig_plan **planp);
void	mig_plan_free(struct mig_plan *plan);

/*
 * The resolved pipeline as lines of text, e.g. "sha256 -> zstd(3) -> age
 * -> sha256 -> file".  Writes into buf (NUL-terminated, truncated to
 * size).
 */
void	mig_plan_stages(const struct mig_plan *plan, char *buf, size_t size);
/*
 * Destination path template of one object, e.g.
 * "raw/billing/ingest_date=YYYY-MM-DD/run=RUNID/data/PATH.age".
 */
void	mig_plan_template(const struct mig_plan *plan, char *buf, size_t size);

/*
 * Best match for word among n candidates within a small edit distance,
 * or NULL.  Used for "did you mean" hints.
 */
const char *mig_did_you_mean(const char *word, const char *const *cands,
	    size_t n);

#endif /* MIGRATE_PLAN_H */
