/*
 * The run pipeline's own state, shared by the files that carry out a run
 * (run.c: the order of a run; run_decide.c: which run this is;
 * run_inventory.c: its objects; run_land.c: the workers; run_archive.c:
 * landing in one pass; run_journal.c: the journal; landed.c: the landed
 * check; runsnap.c: the snapshot; run_finish.c: publishing the bag;
 * retire.c: delete_source).
 * Private to lib/run.
 */
#ifndef MIGRATE_RUN_CORE_H
#define MIGRATE_RUN_CORE_H

#if !defined(MIG_RUN_INTERNAL) && !defined(MIG_INTERNAL)
#error "run_core.h is private to lib/run"
#endif

#include <limits.h>
#include <pthread.h>
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "migrate/error.h"
#include "migrate/run.h"

#include "run_int.h"

enum obj_state {
	OBJ_PENDING,
	OBJ_STORED,	/* landed by this invocation */
	OBJ_ALREADY,	/* landed before a resume */
	OBJ_UNCHANGED,	/* same plaintext as the last complete run */
	OBJ_RETAINED,	/* retain: hashed only */
	OBJ_FAILED
};

/*
 * One file of the run.  A run holds one per file, so the fields are
 * packed and digests binary (issue 20: memory per file).
 */
struct obj {
	char			*path;		/* source-relative */
	char			*dest;		/* bag-relative "data/..." */
	char			*target;	/* via_link: the file, root-relative */
	uint64_t		 size;
	uint64_t		 stored_size;
	size_t			 seq;		/* order in the source */
	time_t			 mtime;
	/* Identity at inventory time (ino 0: an archive member). */
	time_t			 ctime;
	dev_t			 dev;
	ino_t			 ino;
	int32_t			 mtime_nsec, ctime_nsec;
	mode_t			 mode;
	enum obj_state		 state;
	bool			 via_link;
	/* The journal names it, but the resume does not trust that line. */
	bool			 journal_stale;
	/*
	 * Its entry in the previous snapshot (runsnap.c): the snapshot is
	 * read as a stream, and only what the run compares is kept.
	 */
	bool			 has_prev;
	bool			 prev_sha_known;
	mode_t			 prev_mode;
	time_t			 prev_mtime;
	unsigned char		 prev_sha[32];
	unsigned char		 sha[32];	/* plaintext SHA-256 */
	unsigned char		 csha[32];	/* stored (ciphertext) SHA-256 */
};

/* objstore.c: the run's objects in mapped temporary files. */
struct objregion {
	int		 fd;
	char		*base;		/* reserved address space */
	size_t		 reserved;
	size_t		 mapped;	/* of the file, at base */
	size_t		 allocated;	/* of it, with blocks on disk */
	size_t		 used;
};

struct objstore {
	struct objregion records;	/* struct obj, contiguous */
	struct objregion strings;	/* what they point to */
	size_t		 touched;	/* objects since the last trim */
	bool		 open;
};

/* Both files in dir, unlinked.  0 or MIG_ERR_*. */
int	objstore_open(struct objstore *os, const char *dir,
	    struct mig_ctx *ctx);
void	objstore_close(struct objstore *os);
/* The next record, zeroed, right after the last one; NULL on error. */
struct obj *objstore_push(struct objstore *os, struct mig_ctx *ctx);
/* Takes the last record back. */
void	objstore_pop(struct objstore *os);
/* A copy of s that lives as long as the store; NULL on error. */
char	*objstore_strdup(struct objstore *os, const char *s,
	    struct mig_ctx *ctx);
/* Lets go of every page this process holds of the store. */
void	objstore_trim(struct objstore *os);
/* Counts one object touched; trims every so many.  Thread-safe. */
void	objstore_trim_maybe(struct objstore *os);

/*
 * A worker's connection opened ahead, on a thread of its own, while the
 * main thread decides the run and takes the inventory (run_warm_start):
 * over a WAN a connection is a dozen round trips.  The worker takes t with the ctx it
 * reports on (the transport borrows it).
 */
struct warm_conn {
	struct run		*rn;
	pthread_t		 tid;
	bool			 started;
	bool			 taken;
	struct mig_transport	*t;
	struct mig_ctx		*ctx;
	int			 r;
};

#define RUN_JOBS_MAX	64
/* The tag files of a bag that go in flight together (bagit.txt, ...). */
#define RUN_TAG_PUTS	3

struct run {
	const struct mig_run_opts	*o;
	const struct mig_plan		*p;
	const struct mig_strategy_info	*si;
	struct mig_ctx			*ctx;
	struct mig_run_summary		*sum;
	struct mig_transport		*t;	/* main thread's connection */
	struct warm_conn		 warm[RUN_JOBS_MAX];	/* guarded by mu */
	bool				 data_made;	/* run_dir/data, by t */
	/* --bwlimit: shared by every worker's connection; NULL: none. */
	struct mig_ratelimit		*bwlimit;

	char		 run_id[32];
	char		 dataset_dir[PATH_MAX];
	char		 run_dir[PATH_MAX];
	char		 state_dir[PATH_MAX];
	char		 journal_path[PATH_MAX];
	struct state_lock lock;		/* held for the whole run */
	uint64_t	 inv_failed;	/* entries the inventory could not read */
	uint64_t	 unselected;	/* archive members the filters left out */
	bool		 refusal_audited; /* security.refused is on record */
	/*
	 * What the inventory left out, held as [event, fields] pairs until
	 * run.start is on record: run.start is the first record of a run.
	 */
	json_t		*held;
	bool		 started;	/* run.start is on record */
	bool		 end_recorded;	/* run.end "complete" is on record */
	bool		 archive_source;
	struct stat	 source_st;	/* the source (root dir or archive) */
	int		 src_fd;	/* a directory source, opened once */
	regex_t		 part_re;
	bool		 part_re_ok;

	/* In path order, in the store: never freed one by one. */
	struct objstore	 store;
	struct obj	*objs;
	size_t		 nobj;
	/* The previous snapshot (runsnap.c): read as a stream, never held. */
	bool		 have_prev;
	char		 parent[32];	/* its run, "" when none */
	/* Unchanged files are skipped (not rebuild, archives or --full). */
	bool		 incremental;

	pthread_mutex_t	 mu;		/* guards everything below */
	size_t		 next;
	int		 journal_fd;
	unsigned	 journal_unsynced;	/* lines since the last sync */
	int		 fatal;		/* a worker could not go on */
	char		 fatal_msg[MIG_ERRMSG_MAX];
	char		 first_failure[MIG_ERRMSG_MAX];
	struct mig_run_progress prog;
	struct timespec	 last_prog;
};


/* A line for the user (opts->note). */
void	run_note(struct run *rn, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Emits an audit record (fields consumed, may be NULL); 0 or the error. */
int	run_audit(struct run *rn, const char *event, json_t *fields,
	    struct mig_ctx *ctx);
/* A test point (testhook.h): a no-op unless a test build installed one. */
int	run_point(struct run *rn, const char *name, const char *detail,
	    uint64_t value, struct mig_ctx *ctx);
/*
 * Counts files and bytes done and tells opts->progress, at most every
 * 200 ms unless force.
 */
void	run_progress(struct run *rn, uint64_t files, uint64_t bytes,
	    bool force);
/* A new phase of the run, with its totals (counts start again). */
void	run_set_phase(struct run *rn, const char *phase, uint64_t files,
	    uint64_t bytes);
/* "a/b" into buf; MIG_ERR_INTERNAL when it does not fit. */
int	run_join(char *buf, size_t size, const char *a, const char *b);
/* Writes the marker dir/name (_SUCCESS, _ABANDONED) holding text. */
int	run_put_marker(struct run *rn, const char *dir, const char *name,
	    const char *text);
/* True when path is in the lake (any error clears and says no). */
bool	run_lake_has(struct run *rn, const char *path);
/* st is the file the inventory saw (dev, ino, size, mtime, ctime). */
bool	run_same_stat(const struct obj *ob, const struct stat *st);

/*
 * Every pass over the objects calls this once per object (in the loop's
 * increment, "i++, run_touch(rn)"), so that the store's pages the pass
 * has left behind are let go of as it goes.
 */
static inline void
run_touch(struct run *rn)
{
	objstore_trim_maybe(&rn->store);
}

/* The previous snapshot's SHA-256 of ob's file, when incremental. */
static inline const unsigned char *
obj_prev_sha(const struct run *rn, const struct obj *ob)
{
	return rn->incremental && ob->has_prev && ob->prev_sha_known ?
	    ob->prev_sha : NULL;
}

/* --- Landing (run_land.c) ------------------------------------------------ */

/* Read size of the source and of hashing. */
#define MIG_RUN_READ_CHUNK	(256 * 1024)

struct mig_reader;
struct mig_writer;

/* One thread that lands objects, with its own connection. */
/*
 * An object handed to the transport whole and in flight (put_start): its
 * ciphertext stays in mem until the transport says how it went.
 */
struct put_slot {
	struct obj		*ob;	/* NULL: free */
	struct mig_writer	*mem;
};

struct worker {
	struct run		*rn;
	struct mig_ctx		*ctx;
	struct mig_ctx		*actx;	/* the destination thread's */
	struct mig_transport	*t;
	unsigned char		*buf;
	char			 made_dir[PATH_MAX];	/* last mkdir_p */
	struct put_slot		*puts;	/* the transport's put capacity */
	size_t			 nputs;
	size_t			 inflight;
};

/*
 * Sets up wk: its contexts, buffer and (when the run lands data) its
 * connection.  Caller must run_worker_close() wk in every case.
 */
int	run_worker_open(struct run *rn, struct worker *wk);
void	run_worker_close(struct worker *wk);

/*
 * The writers an object goes through on its way into the lake, from the
 * plaintext end: [zstd] -> age -> [async] -> sha256 (of what is stored)
 * -> [bwlimit] -> the transport's sink.
 */
struct obj_sink {
	struct mig_writer	*top;	/* where the plaintext goes */
	struct mig_writer	*z, *age, *async, *csha, *limit, *sink;
};

/*
 * Opens the object at full (its parent made first) and stacks the
 * writers on it; two: the ciphertext is hashed and written on a second
 * thread (async).  Caller must run_sink_free() os in every case; freed
 * unclosed, the sink removes its temporary.
 */
int	run_sink_open(struct worker *wk, const char *full, bool two,
	    struct obj_sink *os);
void	run_sink_free(struct obj_sink *os);

/*
 * Opens ob's file beneath the source's descriptor, through no link, and
 * checks it is still the file the inventory saw.  Caller closes *fdp.
 */
int	run_open_source(struct worker *wk, const struct obj *ob, int *fdp);
/*
 * Lands src (ob's plaintext) as ob->dest: sha, stored sha and sizes into
 * ob.  fd >= 0: ob's file, checked again after reading.
 */
int	run_land_stream(struct worker *wk, struct obj *ob,
	    struct mig_reader *src, int fd);
/* ob failed (reason in wk->ctx): noted, audited, maybe the run stops. */
void	run_record_failure(struct worker *wk, struct obj *ob);
/* ob landed: on record (object.stored), then in the journal. */
void	run_record_stored(struct worker *wk, struct obj *ob);
/* ob is the same as in the last run: audited as skipped. */
void	run_record_unchanged(struct worker *wk, struct obj *ob);

/*
 * Lands the pending objects of a directory source on jobs workers (1 to
 * 64); in a dry run, finds only what is unchanged.
 */
int	run_workers(struct run *rn, int jobs);
/*
 * Opens up to jobs worker connections ahead, each on its thread; the
 * workers take them.  run_warm_end() joins and closes those not taken.
 */
void	run_warm_start(struct run *rn, int jobs);
void	run_warm_end(struct run *rn);

/* run_archive.c */

/* The per-file strategies over an archive source, in one pass. */
int	run_land_from_archive(struct run *rn);
/* retire and repurchase: every object into the one archive arch. */
int	run_land_archive_strategy(struct run *rn, struct obj *arch);

/* run_inventory.c */

/*
 * Takes the inventory of the source into rn->objs (sorted by path), each
 * with its destination when the strategy lands files one by one.
 */
int	run_inventory(struct run *rn);
/* Writes the held inventory records (after run.start, or when none came). */
int	run_release_held(struct run *rn, struct mig_ctx *ctx);
/* An archive member's name without the "./" prefixes archivers write. */
const char *run_archive_name(const char *name);

/* run_decide.c */

/*
 * Resume the unfinished run named in the local state, or start a new one
 * (rn->run_id, rn->dataset_dir, rn->run_dir); abandoned gets the id of an
 * unfinished run given up, or "".
 */
int	run_decide(struct run *rn, char abandoned[64]);
/* run_finish.c */

/*
 * Publishes the bag of a run whose objects all landed (arch: the one
 * archive of retire and repurchase, else NULL), _SUCCESS last; t0 is when
 * the run began.
 */
int	run_finish(struct run *rn, const struct obj *arch,
	    const struct timespec *t0);
/*
 * After _SUCCESS: this run's snapshot becomes the previous one, and the
 * run is no longer unfinished.
 */
int	run_commit_last(struct run *rn);

/* run_journal.c */

/* Names the journal of rn->run_id in rn->state_dir: rn->journal_path. */
void	run_journal_name(struct run *rn);
/* Opens the journal to append to (created 0600 when new). */
int	run_journal_open(struct run *rn);
/*
 * Appends ob to the journal (under rn->mu), synced every
 * JOURNAL_SYNC_EVERY lines and when the journal is closed: call only
 * once ob is on record.
 */
int	run_journal_append(struct run *rn, const struct obj *ob,
	    struct mig_ctx *ctx);
/*
 * Marks OBJ_ALREADY the objects the unfinished run landed: in the journal
 * as they are now, and in the lake with the size written.  0 (a missing
 * journal: nothing landed yet).
 */
int	run_journal_apply(struct run *rn);
/*
 * After run_journal_open: a retract line (synced) for every object whose
 * journal line the resume did not trust, before any of them lands again.
 * A copy landed again but killed before it is on record may have the
 * size the old line records and another ciphertext: the old line must
 * never vouch for it.
 */
int	run_journal_retract(struct run *rn);
/* Syncs and closes the journal, if open. */
void	run_journal_close(struct run *rn);
/* The object for path, or NULL (binary search: objects are sorted). */
struct obj *run_obj_find(struct run *rn, const char *path);

/* landed.c */

/*
 * Every object of the bag (and arch) is in the lake with the size that was
 * written, checked by one listing per folder; MIG_ERR_VERIFY naming how
 * many are not, each with a verify.failed record.
 */
int	run_check_landed(struct run *rn, const struct obj *arch);

/* run_finish.c */

/* Whether ob is in this run's bag (arch: the archive object, or NULL). */
bool	run_in_bag(const struct obj *ob, const struct obj *arch);
/*
 * The objects of the bag in the manifest's order (by dest, strcmp), into
 * *ordp, which the caller frees: NULL when the source order already is
 * that order (the usual case, which costs no memory), unless always.
 * *np: how many.
 */
int	run_bag_order(struct run *rn, const struct obj *arch, bool always,
	    const struct obj ***ordp, size_t *np);

/* runsnap.c */

/* Reads STATE/snapshot.jsonl and joins each object to its past. */
int	runsnap_load_prev(struct run *rn);
/*
 * Counts drift into the summary (audits each file when audit_each) and
 * says in *differs how many paths differ from the previous snapshot.
 * 0, or the error reading the previous snapshot again.
 */
int	runsnap_drift(struct run *rn, bool audit_each, uint64_t *differs);
/*
 * Writes this run's snapshot to STATE/snapshot.jsonl.next and, with
 * to_lake, encrypted to RUNDIR/migrate-manifest.json.age (lake_hex: the
 * SHA-256 of what was stored).
 */
int	runsnap_write(struct run *rn, const struct obj *arch, bool to_lake,
	    char lake_hex[65]);
/* After _SUCCESS: snapshot.jsonl.next becomes the previous snapshot. */
int	runsnap_commit(struct run *rn);

/* retire.c */

/*
 * delete_source: the retired files (or the archive source), only after a
 * deep verify of the landed archive and only what provably landed; each
 * deletion recorded as an intent (synced) before it and as done after.
 */
int	retire_delete_sources(struct run *rn);
/*
 * Intents of an interrupted delete phase (source.deleting without its
 * source.deleted) settled from what the source holds now: recorded as
 * deleted when gone, as kept when still there.
 */
int	retire_settle_intents(struct run *rn);

#endif /* MIGRATE_RUN_CORE_H */
