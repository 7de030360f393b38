/* Declarations shared by the files of lib/run only. */
#ifndef MIGRATE_RUN_INT_H
#define MIGRATE_RUN_INT_H

#if !defined(MIG_RUN_INTERNAL) && !defined(MIG_INTERNAL)
#error "run_int.h is private to lib/run"
#endif

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

struct mig_ctx;
struct mig_plan;
struct mig_transport;

/*
 * Local run state (state.c): one directory per plan identity beside the
 * audit log, STATE/current.json (the unfinished run), STATE/RUNID.journal
 * (objects landed in it), STATE/last.json (plaintext digests of the last
 * complete run, for incremental runs and retain drift) and STATE/lock.
 */
/* The state directory of plan p (and shard k of n when n > 0). */
int	state_dir_for(const struct mig_plan *p, int shard_k, int shard_n,
	    char *buf, size_t size, struct mig_ctx *ctx);
/*
 * Creates dir (0700), checks or writes its identity.json, and moves the
 * state of the layout before per-plan keys into it once.
 */
int	state_prepare(const struct mig_plan *p, int shard_k, int shard_n,
	    const char *dir, struct mig_ctx *ctx);
struct state_lock {
	int	fd;		/* -1: not held */
	char	previous[256];	/* holder line left by a process that died */
	char	mine[256];	/* "pid P on HOST since T" */
};
/*
 * Takes STATE/lock for the whole run.  MIG_ERR_AGAIN naming the holder
 * when another live run has it.  lk->previous is non-empty when a dead
 * holder's line was found (taken over: the caller audits it).
 */
int	state_lock(const char *dir, struct state_lock *lk, struct mig_ctx *ctx);
void	state_unlock(struct state_lock *lk);
int	state_read_current(const char *dir, char out[64], struct mig_ctx *ctx);
int	state_write_current(const char *dir, const char *run_id,
	    const char *run_dir, struct mig_ctx *ctx);
int	state_clear_current(const char *dir, struct mig_ctx *ctx);
/* Reads a JSON file; *jp = NULL when it does not exist. */
int	state_read_json(const char *path, json_t **jp, struct mig_ctx *ctx);
/* Writes a JSON file atomically (temporary, fsync, rename). */
int	state_write_json(const char *path, const json_t *j,
	    struct mig_ctx *ctx);
/* Creates dir and parents (mode 0700: digests are sensitive). */
int	state_mkdir_p(const char *dir, struct mig_ctx *ctx);

struct mig_age_identities;

/* --- Trust: the audit log vouches for a bag (trust.c) --------------------- */

#include "migrate/audit.h"
#include "migrate/run.h"

struct mig_sign_key;

/* Where findings go: the verify opts' callback, or restore's. */
struct trust_sink {
	void	(*fn)(void *arg, enum mig_finding_kind kind, const char *path,
		    const char *detail);
	void	*arg;
};

struct run_trust {
	const struct mig_sign_key	*pub;	/* borrowed; NULL: unsealed */
	struct mig_audit_runs		 runs;	/* the plan's runs on record */
	const struct mig_audit_run	*run;	/* the one resolved */
	struct mig_audit_stored		 stored; /* its objects on record */
	char				 id[32];
	char				 dir[PATH_MAX]; /* run dir (no shard) */
};

/*
 * Resolves run_id (NULL: the last run on record as complete) through the
 * plan's audit log and finds its one place in the lake.  0 when found;
 * MIG_ERR_VERIFY with findings reported (log broken, run not on record,
 * bag missing or copied); MIG_ERR_PARTIAL when the run is in progress or
 * unfinished; MIG_ERR_NOTFOUND when there is no such run.  Findings
 * other than fatal ones (a second copy) are reported and r stays 0.
 * Caller must trust_close() tr in every case.
 */
int	trust_open(struct mig_transport *t, const struct mig_plan *p,
	    const struct mig_sign_key *pub, const char *run_id,
	    const struct trust_sink *sk, struct run_trust *tr,
	    struct mig_ctx *ctx);
/* The record of bag bagdir (the run dir or one of its shards), or NULL. */
const struct mig_audit_bag *trust_bag(const struct run_trust *tr,
	    const char *bagdir);
/*
 * Checks bag bagdir of the resolved run against the record (and its seal
 * with tr->pub), reporting every disagreement to sk; info_head and
 * info_extid are its bag-info Migrate-Audit-Head and External-Identifier
 * (NULL when absent).  Returns 0 unless it could not check.
 */
int	trust_check_bag(struct mig_transport *t, const struct run_trust *tr,
	    const char *bagdir, const char *info_head, const char *info_extid,
	    const struct trust_sink *sk, struct mig_ctx *ctx);
/* The same, reading the two values from the bag's bag-info.txt. */
int	trust_check_bag_t(struct mig_transport *t, const struct run_trust *tr,
	    const char *bagdir, const struct trust_sink *sk,
	    struct mig_ctx *ctx);
void	trust_close(struct run_trust *tr);

/*
 * Paths beneath a directory descriptor (fdpath.c).  rel is always a
 * relative '/'-separated path without empty, "." or ".." components
 * (else MIG_ERR_USAGE); nothing is ever resolved through a symbolic link,
 * so whoever can write to the tree cannot redirect the call by swapping a
 * component for a link, before it or during it.  A refused link (or a
 * non-directory where a directory belongs) is MIG_ERR_SECURITY, a missing
 * component MIG_ERR_NOTFOUND.  Messages name rel (up to the component at
 * fault); callers add where rel lives.  dirfd is borrowed, never closed.
 */

/*
 * Opens rel beneath dirfd, following no link on the way or at the end,
 * never leaving dirfd's tree.  flags are open(2) flags (O_RDONLY,
 * O_DIRECTORY, O_CREAT | O_EXCL with mode, ...), to which O_NOFOLLOW and
 * O_CLOEXEC are added.  One openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)
 * where the kernel has it, else one openat(O_NOFOLLOW) per component.
 * Caller closes *fdp.
 */
int	fdpath_open(int dirfd, const char *rel, int flags, mode_t mode,
	    int *fdp, struct mig_ctx *ctx);
/*
 * mkdir -p of rel beneath dirfd: each missing directory is created with
 * mode (less the umask, as mkdir(2) does), each one on the way is opened
 * with O_NOFOLLOW | O_DIRECTORY, also right after its mkdir.  *fdp gets
 * an O_RDONLY descriptor of the last one (of a duplicate of dirfd when
 * rel is ""); caller closes it.
 */
int	fdpath_mkdirs(int dirfd, const char *rel, mode_t mode, int *fdp,
	    struct mig_ctx *ctx);
/*
 * Renames the entry from of dirfd to the entry to of the same directory,
 * never replacing an existing to (MIG_ERR_EXISTS, and there is no moment
 * at which to is replaced): renameat2(RENAME_NOREPLACE), or where the
 * kernel or file system lacks it, linkat then unlinkat (should the unlink
 * fail, from stays behind as a second link to the published file).
 * Entry names, not paths: neither may contain '/'.
 */
int	fdpath_publish(int dirfd, const char *from, const char *to,
	    struct mig_ctx *ctx);

/* verify --against-source (against.c). */
int	verify_against_source(const struct mig_verify_opts *o,
	    struct mig_verify_summary *sum, struct mig_ctx *ctx);

/* --- Snapshots (snapshot.c) ---------------------------------------------- */

/* One path of a snapshot.  Strings are owned by whoever filled it. */
struct snap_entry {
	char		*path;
	uint64_t	 size;
	mode_t		 mode;		/* permission bits */
	time_t		 mtime;
	char		 sha256[65];	/* plaintext; "" when unknown */
	char		 run[32];	/* the run holding its object, or "" */
	char		*bag;		/* that run's bag (shard) directory */
	char		*object;	/* bag-relative "data/...", or NULL */
	uint64_t	 stored_size;
	char		 stored_sha256[65];
	char		*archive;	/* one-archive strategies: the archive */
	char		*member;	/* and the member in it */
};

struct snap_header {
	int		 version;
	char		 run[32];
	char		 parent[32];	/* "" when none */
	char		 plan[256];
	char		 strategy[32];
	bool		 compressed;
	char		*archive;	/* retire, repurchase: the archive */
	uint64_t	 archive_stored_size;
	char		 archive_stored_sha256[65];
};

struct mig_writer;
struct mig_reader;
struct snap_reader;

int	snap_write_header(struct mig_writer *w, const struct snap_header *h,
	    struct mig_ctx *ctx);
int	snap_write_entry(struct mig_writer *w, const struct snap_entry *e,
	    struct mig_ctx *ctx);
/*
 * A run's snapshot from the lake (BAG/migrate-manifest.json.age,
 * decrypted with ids), or a local snapshot file; version 1 manifests are
 * read too.  snap_next gives the entries in path order: 1 and *e (its
 * strings borrowed until the next call), 0 at the end, or an error.
 */
int	snap_open_lake(struct mig_transport *t, const char *bag,
	    const struct mig_age_identities *ids, struct snap_reader **rp,
	    struct mig_ctx *ctx);
int	snap_open_file(const char *path, struct snap_reader **rp,
	    struct mig_ctx *ctx);
const struct snap_header *snap_header_of(const struct snap_reader *r);
int	snap_next(struct snap_reader *r, struct snap_entry *e);
void	snap_reader_free(struct snap_reader *r);

#endif /* MIGRATE_RUN_INT_H */
