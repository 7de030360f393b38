/*
 * Runs: inventory of the source, the worker pool that lands objects,
 * resume, verify and restore (DESIGN.md sections 3, 4 and 6).
 */
#ifndef MIGRATE_RUN_H
#define MIGRATE_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct mig_ctx;
struct mig_plan;
struct mig_audit_log;
struct mig_age_recipients;
struct mig_age_identities;
struct mig_transport_config;
struct mig_testhook;
struct mig_sign_key;

/* Longest relative path accepted from a source (bytes). */
#define MIG_PATH_MAX	4000

/* --- Inventory --------------------------------------------------------- */

struct mig_inv_entry {
	char		*path;		/* relative, '/'-separated, checked */
	uint64_t	 size;
	time_t		 mtime;
	long		 mtime_nsec;
	mode_t		 mode;		/* permission bits */
	bool		 via_link;	/* reached through an inside symlink */
	char		*target;	/* via_link: the file it resolved to,
					   relative to the root */
	/*
	 * Identity: a file is read (and deleted by delete_source) only if
	 * (dev, ino, size, mtime, ctime) are still these.
	 */
	dev_t		 dev;
	ino_t		 ino;
	time_t		 ctime;
	long		 ctime_nsec;
};

struct mig_inventory {
	char			*root;
	struct mig_inv_entry	*entries;	/* sorted by path */
	size_t			 count;
	size_t			 cap;
	uint64_t		 total_bytes;
};

enum mig_inv_note {
	MIG_INV_SKIPPED,	/* not a regular file, a link not followed */
	MIG_INV_REFUSED,	/* name or link would escape: security */
	MIG_INV_FAILED		/* could not be read: the run is partial */
};

struct mig_inventory_opts {
	char *const	*include;	/* NULL-terminated or NULL */
	char *const	*exclude;
	bool		 follow_symlinks;
	/* Called for every entry left out; non-zero return stops the walk. */
	int		(*note)(void *arg, enum mig_inv_note kind,
			    const char *path, const char *why);
	/*
	 * When set, every selected file is handed here (e borrowed for the
	 * call) instead of being kept in the inventory, so that a walk of
	 * millions of files holds only the directories it stands in;
	 * non-zero return stops the walk.
	 */
	int		(*entry)(void *arg, const struct mig_inv_entry *e);
	void		*arg;
};

/*
 * Walks the directory root.  Never leaves it: children are opened with
 * openat(O_NOFOLLOW), symlinks are followed only when opts say so and
 * only to targets inside root.  Files come in strcmp() order of their
 * paths: each directory is read whole and its entries sorted with a '/'
 * after every directory name, which is the order of the full paths.  A
 * directory entry that changes type between reading and walking is a
 * MIG_INV_FAILED note, so the order holds.  Caller frees *invp (with
 * opts->entry set, it holds no entries: count 0, total_bytes counted).
 */
int	mig_inventory_walk(const char *root,
	    const struct mig_inventory_opts *opts, struct mig_ctx *ctx,
	    struct mig_inventory **invp);
void	mig_inventory_free(struct mig_inventory *inv);

/*
 * Whether a filter pattern selects a relative path, as .gitignore would:
 * '*', '?' and [...] within a name, "**" across folders; a pattern with
 * no '/' matches the base name at any depth ("*.csv" selects a.csv and
 * x/y/b.csv); a leading '/' (or any '/' inside) anchors it to the source
 * root; a pattern that matches a folder selects everything beneath it; a
 * trailing '/' matches folders only.
 */
bool	mig_glob_match(const char *pattern, const char *path);
/* The plan's include/exclude decision for one relative path. */
bool	mig_inventory_selected(char *const *include, char *const *exclude,
	    const char *path);
/*
 * Why a relative path may not land (absolute, "..", control character,
 * invalid UTF-8, too long), or NULL when it is fine.  Static string.
 */
const char *mig_name_problem(const char *path);
/*
 * A name safe to print and to put in JSON: control bytes, '%' and the
 * bytes of a name that is not UTF-8 written as %XX.  Truncates to size.
 */
void	mig_name_printable(const char *name, char *out, size_t size);

/* --- Running a plan ----------------------------------------------------- */

struct mig_run_progress {
	const char	*phase;		/* "inventory", "landing", ... */
	uint64_t	 files_done, files_total;
	uint64_t	 bytes_done, bytes_total;
};

struct mig_run_opts {
	const struct mig_plan			*plan;
	const struct mig_transport_config	*tcfg;
	const struct mig_age_recipients		*recipients;
	/* Identity for the deep verify before delete_source; may be NULL. */
	const struct mig_age_identities		*identities;
	struct mig_audit_log			*audit;	/* borrowed */
	/* The audit key: each bag is sealed with it; NULL: unsealed. */
	const struct mig_sign_key		*seal_key;
	int		 jobs;		/* workers, >= 1 */
	/*
	 * Bytes per second for every object the run sends, all workers
	 * together (the ciphertext, as it leaves); 0: no limit.
	 */
	uint64_t	 bwlimit;
	bool		 dry_run;	/* list, write nothing anywhere */
	bool		 full;		/* land unchanged files too */
	bool		 new_run;	/* abandon an unfinished run */
	int		 shard_k;	/* with shard_n > 0 */
	int		 shard_n;	/* 0: no sharding */
	const char	*run_id;	/* required with shards */
	/* Progress, at most a few times a second, from any thread. */
	void		(*progress)(void *arg, const struct mig_run_progress *);
	/* A line for the user (skipped file, drift, ...), any thread. */
	void		(*note)(void *arg, const char *msg);
	/* Dry run: one call per object that would land. */
	void		(*would_land)(void *arg, const char *src,
			    const char *dst, uint64_t size);
	void		*arg;
	/* Test points (testhook.h); NULL in the release binary. */
	const struct mig_testhook		*hook;
	/*
	 * Where a dry run keeps its objects (it makes no state directory):
	 * the caller's TMPDIR; NULL: /tmp.
	 */
	const char	*tmp_dir;
};

struct mig_run_summary {
	char		 run_id[32];
	char		*run_dir;	/* relative to the lake root; caller frees */
	char		*lake;		/* destination for messages; caller frees */
	bool		 resumed;	/* continued an unfinished run */
	bool		 landed;	/* a bag was published (_SUCCESS) */
	bool		 already_complete; /* --run-id named a finished run */
	int		 version;	/* rebuild: v=N, else 0 */
	uint64_t	 files;		/* selected regular files */
	uint64_t	 stored;	/* landed by this invocation */
	uint64_t	 already;	/* landed before the resume */
	uint64_t	 unchanged;	/* skipped: same SHA-256 as last run */
	uint64_t	 skipped;	/* special files, links, unreadable */
	uint64_t	 refused;	/* names or links that would escape */
	uint64_t	 failed;
	uint64_t	 bytes_in;	/* plaintext read */
	uint64_t	 bytes_out;	/* ciphertext written */
	/* retain drift against the previous inventory */
	uint64_t	 drift_new, drift_changed, drift_vanished;
	double		 seconds;
};

/*
 * Executes the plan.  Returns 0 when the run completed (or found nothing
 * to do), MIG_ERR_PARTIAL when some objects failed (the run stays
 * unfinished and the next call resumes it), or another error.  The
 * summary is filled in every case; free it with mig_run_summary_free().
 */
int	mig_run_execute(const struct mig_run_opts *opts,
	    struct mig_run_summary *sum, struct mig_ctx *ctx);
void	mig_run_summary_free(struct mig_run_summary *sum);

/* The shard (0..n-1) of a relative path: stable across machines. */
int	mig_shard_of(const char *path, int n);
/* True when s is a run id, YYYYMMDDTHHMMSSZ-xxxxxxxx. */
bool	mig_run_id_valid(const char *s);

/* --- Verify and restore ---------------------------------------------------- */

enum mig_finding_kind {
	MIG_FIND_MISSING, MIG_FIND_EXTRA, MIG_FIND_ALTERED,
	MIG_FIND_TRUNCATED, MIG_FIND_INCOMPLETE, MIG_FIND_FORMAT,
	MIG_FIND_AUDIT, MIG_FIND_PLAINTEXT
};

struct mig_verify_opts {
	const struct mig_plan			*plan;	/* NULL: bag dir */
	const struct mig_transport_config	*tcfg;
	const char				*run_id;	/* NULL: latest */
	const char				*bag_dir;	/* with plan NULL */
	const struct mig_age_identities		*identities; /* deep */
	/*
	 * The plan's audit public key: bags are accepted only with a seal
	 * it verifies (and, for a bag directory, its seal is checked).
	 * NULL: the plan does not sign, its runs are not sealed.
	 */
	const struct mig_sign_key		*seal_pub;
	bool					 deep;
	/*
	 * Compare the source as it is now with the run's snapshot: the
	 * local one of the last complete run, or with identities the run's
	 * encrypted manifest.  Findings: missing, extra, altered.
	 */
	bool					 against_source;
	/* One call per problem found (kind, path, detail). */
	void		(*finding)(void *arg, enum mig_finding_kind kind,
			    const char *path, const char *detail);
	void		(*progress)(void *arg, const struct mig_run_progress *);
	void		*arg;
	const struct mig_testhook		*hook;	/* or NULL */
};

struct mig_verify_summary {
	char		 run_id[32];
	char		*run_dir;	/* caller frees */
	uint64_t	 objects;	/* payload files checked */
	uint64_t	 bytes;
	uint64_t	 deep_objects;	/* decrypted and checked */
	uint64_t	 findings;
	bool		 audit_head_ok;
	bool		 on_record;	/* agrees with the audit log */
	bool		 sealed;	/* every seal checked with the key */
	char		 bag_version[16];
	int		 shards;	/* shards checked, 0 when not sharded */
};

/*
 * Verifies a landed run (or any BagIt bag directory).  A run is found and
 * accepted through the plan's audit log (lib/run/trust.c): latest is the
 * last run on record as complete.  0 when every check passed,
 * MIG_ERR_VERIFY when something does not match (each reported through
 * opts->finding), MIG_ERR_PARTIAL when the run is in progress or
 * unfinished, other errors when it could not check.
 */
int	mig_verify_run(const struct mig_verify_opts *opts,
	    struct mig_verify_summary *sum, struct mig_ctx *ctx);
void	mig_verify_summary_free(struct mig_verify_summary *sum);

struct mig_restore_opts {
	const struct mig_plan			*plan;
	const struct mig_transport_config	*tcfg;
	const char				*run_id;
	const struct mig_age_identities		*identities;
	/* As for verify: the audit public key that checks seals, or NULL. */
	const struct mig_sign_key		*seal_pub;
	const char				*to;	/* target directory */
	/* Paths, directories or globs of the snapshot to restore (NULL: all). */
	char *const				*paths;
	bool					 overwrite;	/* replace what differs */
	/*
	 * The process umask (read by the caller, which owns process state):
	 * restored modes lose its bits, as files created by cp(1) would.
	 */
	mode_t		 umask;
	void		(*progress)(void *arg, const struct mig_run_progress *);
	void		*arg;
	/*
	 * Test points: "restore.written" once a file's temporary is complete
	 * (mode, mtime, fsync) and before it is published under its name,
	 * "restore.published" right after; detail is the relative path,
	 * value its size.
	 */
	const struct mig_testhook		*hook;	/* or NULL */
};

/* What a restore did. */
struct mig_restore_summary {
	char		run_id[32];	/* the run restored */
	uint64_t	restored;	/* files written */
	uint64_t	already;	/* files already as in the snapshot */
};

/*
 * Restores the snapshot of a landed run into opts->to (created 0700 if
 * missing): every file of the source as of that run (or those opts->paths
 * select), each object fetched from the run that holds it, with its mode
 * and mtime, checked against the manifests before it appears under its
 * name.  The run is found and checked through the audit log as verify
 * does it (MIG_ERR_VERIFY, before any file is written).  Refuses to write
 * outside the target; a file already there is left alone when it matches
 * the snapshot, replaced with opts->overwrite, refused otherwise.
 */
int	mig_restore_run(const struct mig_restore_opts *opts,
	    struct mig_restore_summary *sum, struct mig_ctx *ctx);

/* One run of a plan's dataset, as `migrate runs' lists it. */
struct mig_run_row {
	char		 id[32];
	char		 started[40];	/* its run.start time, or "" */
	char		 strategy[16];
	/*
	 * sealed, complete (not signed), incomplete, "shards K of N",
	 * abandoned, missing (complete on record, gone from the lake), or
	 * "not on record" (in the lake only: refused by verify and restore)
	 */
	char		 state[64];
	int		 shards, shards_done;	/* 0, 0 when not sharded */
	uint64_t	 objects;	/* landed in its bag(s) */
	uint64_t	 files;		/* in its snapshot */
	uint64_t	 bytes;		/* read from the source */
	char		 parent[32];	/* the run it was compared with, or "" */
	char		*dir;		/* its directory in the lake, or NULL */
};

struct mig_run_list {
	struct mig_run_row	*v;
	size_t			 n;
};

struct mig_runs_opts {
	const struct mig_plan			*plan;
	const struct mig_transport_config	*tcfg;
	/* Checks the log's signed checkpoints; NULL: chain only. */
	const struct mig_sign_key		*seal_pub;
};

/*
 * Every run of the plan's dataset that landed a bag or whose bag is in
 * the lake, oldest first.  The audit log is verified on the way
 * (MIG_ERR_VERIFY when it is broken); a missing log lists the lake's
 * runs as not on record.  Caller frees *out with mig_run_list_free().
 */
int	mig_runs_list(const struct mig_runs_opts *opts,
	    struct mig_run_list *out, struct mig_ctx *ctx);
void	mig_run_list_free(struct mig_run_list *list);

/* --- Preflight (plan check) ------------------------------------------------ */

enum mig_preflight_level {
	MIG_PREFLIGHT_ERROR,	/* run would refuse it */
	MIG_PREFLIGHT_WARNING	/* run would go on, likely not as meant */
};

struct mig_preflight_opts {
	const struct mig_plan	*plan;
	/*
	 * One call per problem: where is "PLAN:LINE:COL" of the plan value
	 * it comes from (or "PLAN"), what the message, naming the key.
	 */
	void		(*finding)(void *arg, enum mig_preflight_level level,
			    const char *where, const char *what);
	void		*arg;
	size_t		*files;	/* may be NULL: files the filters select */
	const char	*home;	/* HOME, for ~/.ssh (sftp), or NULL */
};

/*
 * Checks, writing nothing and connecting nowhere, what mig_run_execute()
 * would refuse before it moves data: the source is there and readable
 * (and what its include patterns match), the recipients parse (a bad
 * checksum, an identity file as recipients_file, a missing file), the
 * signing key and the sftp identities load as safe key files, the sftp
 * known_hosts file exists (with the ssh-keyscan line that fills it; both
 * as ~/.ssh/config and the defaults resolve them), a
 * local lake is a directory, and the audit log is one (mig_audit_probe).
 * Environment variables the plan names are the caller's to check.
 * *errorsp counts the errors reported; returns 0, or an error when it
 * could not check at all.
 */
int	mig_run_preflight(const struct mig_preflight_opts *opts,
	    size_t *errorsp, struct mig_ctx *ctx);

/*
 * The last complete run of a plan (of shard k of n when n > 0) as this
 * machine's run state records it, for --dry-run to tell new files from
 * changed ones.  *lastp is NULL when there was none.  Read-only.
 */
struct mig_run_last;
int	mig_run_last_load(const struct mig_plan *p, int shard_k, int shard_n,
	    struct mig_ctx *ctx, struct mig_run_last **lastp);
/* Whether that run had the relative path; false for a NULL last. */
bool	mig_run_last_has(const struct mig_run_last *last, const char *path);
void	mig_run_last_free(struct mig_run_last *last);

#endif /* MIGRATE_RUN_H */
