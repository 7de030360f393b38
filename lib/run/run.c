/*
 * migrate run: land a plan's source into the lake as one BagIt bag.
 *
 * Order of a run (mig_run_execute), each step durable before the next:
 *   decide the run: resume the unfinished one, or a new id (run_decide.c)
 *   inventory the source (run_inventory.c); compare with the last
 *     complete run (runsnap.c)
 *   land objects: temp name, fsync, rename; journal locally (run_land.c,
 *     run_archive.c, run_journal.c)
 *   check every object is present with its size (landed.c)
 *   write migrate-manifest.json.age, audit run.end + checkpoint
 *   write the bag's tag files (bag-info carries the audit head)
 *   write _SUCCESS last (run_finish.c), then forget the unfinished-run
 *     marker.
 * A crash anywhere leaves either a finished bag or an unfinished run that
 * the next invocation resumes, never an object half-written under its
 * final name.
 */
#define MIG_LAKE_INTERNAL
#define MIG_RUN_INTERNAL
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "migrate/audit.h"
#include "migrate/error.h"
#include "migrate/plan.h"
#include "migrate/run.h"
#include "migrate/stream.h"
#include "migrate/testhook.h"
#include "migrate/transport.h"
#include "migrate/util.h"

#include "../lake/layout_int.h"
#include "run_core.h"

#define PROGRESS_NSEC	200000000L

/* --- Small helpers ------------------------------------------------------- */

void
run_note(struct run *rn, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (rn->o->note == NULL)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rn->o->note(rn->o->arg, msg);
}

/* Emits an audit record; fields is consumed (may be NULL). */
int
run_audit(struct run *rn, const char *event, json_t *fields, struct mig_ctx *ctx)
{
	int r = 0;

	if (rn->o->shard_n > 0 && fields != NULL) {
		char tag[32];

		(void)snprintf(tag, sizeof(tag), "%d/%d", rn->o->shard_k,
		    rn->o->shard_n);
		json_object_set_new(fields, "shard", json_string(tag));
	}
	if (rn->o->audit != NULL && !rn->o->dry_run)
		r = mig_audit_emit(rn->o->audit, rn->run_id, event, fields, ctx);
	json_decref(fields);
	return r;
}

/* A test point (testhook.h): a no-op unless a test build installed one. */
int
run_point(struct run *rn, const char *name, const char *detail, uint64_t value,
    struct mig_ctx *ctx)
{
	return mig_testpoint(rn->o->hook, name, detail, value, ctx);
}

void
run_progress(struct run *rn, uint64_t files, uint64_t bytes, bool force)
{
	struct timespec now;
	struct mig_run_progress snap;
	bool fire = false;

	pthread_mutex_lock(&rn->mu);
	rn->prog.files_done += files;
	rn->prog.bytes_done += bytes;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (force || (now.tv_sec - rn->last_prog.tv_sec) * 1000000000L +
	    (now.tv_nsec - rn->last_prog.tv_nsec) >= PROGRESS_NSEC) {
		rn->last_prog = now;
		snap = rn->prog;
		fire = rn->o->progress != NULL;
	}
	pthread_mutex_unlock(&rn->mu);
	if (fire)
		rn->o->progress(rn->o->arg, &snap);
}

void
run_set_phase(struct run *rn, const char *phase, uint64_t files,
    uint64_t bytes)
{
	pthread_mutex_lock(&rn->mu);
	rn->prog.phase = phase;
	rn->prog.files_done = rn->prog.bytes_done = 0;
	rn->prog.files_total = files;
	rn->prog.bytes_total = bytes;
	pthread_mutex_unlock(&rn->mu);
	run_progress(rn, 0, 0, true);
}

int
run_join(char *buf, size_t size, const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la + lb + 2 > size) {
		buf[0] = '\0';
		return MIG_ERR_INTERNAL;
	}
	memcpy(buf, a, la);
	buf[la] = '/';
	memcpy(buf + la + 1, b, lb + 1);
	return 0;
}

int
run_put_marker(struct run *rn, const char *dir, const char *name,
    const char *text)
{
	char path[PATH_MAX];

	if (run_join(path, sizeof(path), dir, name) != 0)
		return MIG_ERR_INTERNAL;
	return mig_transport_put(rn->t, path, text, strlen(text));
}

bool
run_lake_has(struct run *rn, const char *path)
{
	struct mig_tstat st;

	if (mig_transport_stat(rn->t, path, &st) == 0)
		return true;
	mig_clearerr(rn->ctx);
	return false;
}

bool
mig_run_id_valid(const char *s)
{
	return mig_lake_valid_run_id(s);
}

/* --- Entry point --------------------------------------------------------- */

static void
tally(struct run *rn)
{
	size_t i;

	for (i = 0; i < rn->nobj; i++, run_touch(rn)) {
		const struct obj *ob = &rn->objs[i];

		switch (ob->state) {
		case OBJ_STORED:
			rn->sum->stored++;
			rn->sum->bytes_in += ob->size;
			rn->sum->bytes_out += ob->stored_size;
			break;
		case OBJ_UNCHANGED:
			rn->sum->unchanged++;
			break;
		case OBJ_RETAINED:
			rn->sum->bytes_in += ob->size;
			break;
		case OBJ_FAILED:
			rn->sum->failed++;
			break;
		default:
			break;
		}
	}
}

void
mig_run_summary_free(struct mig_run_summary *sum)
{
	if (sum == NULL)
		return;
	free(sum->run_dir);
	free(sum->lake);
	sum->run_dir = sum->lake = NULL;
}

static void
run_free(struct run *rn)
{
	objstore_close(&rn->store);
	rn->objs = NULL;
	if (rn->src_fd >= 0)
		close(rn->src_fd);
	json_decref(rn->held);
	if (rn->part_re_ok)
		regfree(&rn->part_re);
	run_journal_close(rn);
	run_warm_end(rn);
	mig_transport_close(rn->t);
	mig_ratelimit_free(rn->bwlimit);
	state_unlock(&rn->lock);
	pthread_mutex_destroy(&rn->mu);
}

/*
 * A refusal (host key, certificate, a link in the lake, ...) that ended
 * the run before it could be recorded inside it: on record under the run,
 * or "-" when none had begun, with a checkpoint (no run.end will come).
 */
static void
audit_refusal(struct run *rn, const char *why)
{
	struct mig_ctx *c2 = mig_ctx_new();
	const char *run = rn->run_id[0] != '\0' ? rn->run_id : "-";
	json_t *f = json_pack("{s:s, s:s}", "destination", rn->p->url,
	    "reason", why);

	if (c2 != NULL && f != NULL) {
		(void)mig_audit_emit(rn->o->audit, run, MIG_AUDIT_SEC_REFUSED,
		    f, c2);
		(void)mig_audit_checkpoint(rn->o->audit, run, NULL, c2);
	}
	json_decref(f);
	mig_ctx_free(c2);
}

/*
 * A dry run: what would land, and where.  Read-only workers first find
 * what is unchanged (directory sources, per-file strategies).
 */
static int
dry_run(struct run *rn)
{
	size_t i;
	int r;

	if (!rn->archive_source && !rn->si->one_archive &&
	    rn->si->moves_data && (r = run_workers(rn, rn->o->jobs)) != 0)
		return r;
	for (i = 0; i < rn->nobj; i++, run_touch(rn)) {
		const struct obj *ob = &rn->objs[i];
		char dst[PATH_MAX];

		if (ob->state != OBJ_PENDING)
			continue;
		(void)run_join(dst, sizeof(dst), rn->run_dir, ob->dest != NULL ?
		    ob->dest : rn->si->one_archive ? "data/(archive)" :
		    "(inventory only)");
		if (rn->o->would_land != NULL)
			rn->o->would_land(rn->o->arg, ob->path, dst, ob->size);
	}
	return 0;
}

/* A run of o, not begun; on failure (ENOMEM) nothing is left to free. */
static int
run_init(struct run *rn, const struct mig_run_opts *o,
    struct mig_run_summary *sum, struct mig_ctx *ctx)
{
	memset(rn, 0, sizeof(*rn));
	rn->o = o;
	rn->p = o->plan;
	rn->si = mig_strategy_info(o->plan->strategy);
	rn->ctx = ctx;
	rn->sum = sum;
	rn->journal_fd = -1;
	rn->lock.fd = -1;
	rn->src_fd = -1;
	pthread_mutex_init(&rn->mu, NULL);
	if (o->bwlimit > 0 && !o->dry_run &&
	    mig_ratelimit_new(o->bwlimit, &rn->bwlimit) != 0) {
		run_free(rn);
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	}
	return 0;
}

/* What no run may go ahead with; compiles the partition_by regex. */
static int
check_opts(struct run *rn)
{
	const struct mig_run_opts *o = rn->o;

	if (rn->p->strategy == MIG_STRATEGY_RETIRE && rn->p->delete_source &&
	    o->identities == NULL && !o->dry_run)
		return mig_seterr(rn->ctx, MIG_ERR_USAGE, "%s: delete_source = "
		    "true: give the identity (-i FILE) so that the landed "
		    "archive is deep-verified before any source file is "
		    "deleted", rn->p->file);
	if (rn->si->partition &&
	    strncmp(rn->p->partition_by, "mtime:", 6) != 0) {
		if (regcomp(&rn->part_re, rn->p->partition_by,
		    REG_EXTENDED) != 0)
			return mig_seterr(rn->ctx, MIG_ERR_PARSE,
			    "bad partition_by");
		rn->part_re_ok = true;
	}
	if (o->shard_n > 0) {
		/* Shards on one machine keep separate resume state. */
		if (o->shard_k < 0 || o->shard_k >= o->shard_n ||
		    o->run_id == NULL || !mig_lake_valid_run_id(o->run_id))
			return mig_seterr(rn->ctx, MIG_ERR_USAGE, "--shard K/N "
			    "needs 0 <= K < N and --run-id "
			    "YYYYMMDDTHHMMSSZ-xxxxxxxx");
		if (rn->si->versioned)
			return mig_seterr(rn->ctx, MIG_ERR_USAGE, "%s: rebuild "
			    "cannot be sharded: every run is a new version",
			    rn->p->file);
	}
	return 0;
}

/*
 * The local state of the plan (of the shard), locked: one run of a plan
 * at a time, so a second one fails fast instead of taking the first one's
 * run over.  A delete phase a crash cut short is settled before anything
 * else.
 */
static int
take_state(struct run *rn)
{
	const struct mig_run_opts *o = rn->o;
	int r;

	if ((r = state_dir_for(rn->p, o->shard_k, o->shard_n, rn->state_dir,
	    sizeof(rn->state_dir), rn->ctx)) != 0 ||
	    (!o->dry_run && ((r = state_prepare(rn->p, o->shard_k, o->shard_n,
	    rn->state_dir, rn->ctx)) != 0 ||
	    (r = state_lock(rn->state_dir, &rn->lock, rn->ctx)) != 0))) {
		if (r == MIG_ERR_AGAIN)
			(void)mig_preferr(rn->ctx, "%s", rn->p->file);
		return r;
	}
	if (rn->lock.previous[0] != '\0')
		run_note(rn, "took over the lock of a run that died (%s)",
		    rn->lock.previous);
	if (!o->dry_run && rn->p->strategy == MIG_STRATEGY_RETIRE &&
	    rn->p->delete_source)
		return retire_settle_intents(rn);
	return 0;
}

/* Connects to the lake, decides the run and takes the inventory. */
static int
open_run(struct run *rn, char abandoned[64])
{
	struct mig_run_summary *sum = rn->sum;
	int r;

	if ((r = mig_transport_open(rn->o->tcfg, rn->ctx, &rn->t)) != 0)
		return r;
	/*
	 * Only once the server took this connection (host key or
	 * certificate, authentication): a server that refuses is asked once,
	 * not once per job (fail2ban and the like count every refusal).
	 */
	if (rn->si->moves_data && !rn->si->one_archive && !rn->o->dry_run)
		run_warm_start(rn, rn->o->jobs);
	/* A local lake is shown as the directory the user can cd into. */
	sum->lake = strdup(rn->p->lake_path != NULL ? rn->p->lake_path :
	    rn->t->root);
	if ((r = run_decide(rn, abandoned)) != 0)
		return r;
	(void)snprintf(sum->run_id, sizeof(sum->run_id), "%s", rn->run_id);
	sum->run_dir = strdup(rn->run_dir);
	if ((r = run_inventory(rn)) != 0)
		return r;
	return run_point(rn, "inventory.done", rn->p->source_path, rn->nobj,
	    rn->ctx);
}

/*
 * What the run knows of the past: the previous snapshot (its parent, and
 * drift; per-file strategies also skip what did not change) and, when it
 * resumes, what its journal says already landed.
 */
static int
load_past(struct run *rn)
{
	int r;

	rn->incremental = rn->si->moves_data && !rn->si->versioned &&
	    !rn->si->one_archive && !rn->o->full;
	if ((r = runsnap_load_prev(rn)) != 0)
		return r;
	run_journal_name(rn);
	if (rn->sum->resumed && !rn->si->one_archive && rn->si->moves_data) {
		if ((r = run_journal_apply(rn)) != 0)
			return r;
	}
	return 0;
}

/*
 * From here the run is unfinished until it is published: the local state
 * names it, its journal is open, and run.start is on record, followed by
 * the records the inventory held back.
 */
static int
begin_run(struct run *rn, const char *abandoned)
{
	json_t *f;
	int r;

	if ((r = state_mkdir_p(rn->state_dir, rn->ctx)) != 0 ||
	    (r = state_write_current(rn->state_dir, rn->run_id, rn->run_dir,
	    rn->ctx)) != 0 || (r = run_journal_open(rn)) != 0 ||
	    (r = run_journal_retract(rn)) != 0)
		return r;
	f = json_pack("{s:s, s:s, s:s, s:s, s:I, s:b}", "strategy",
	    rn->si->name, "source", rn->p->source_path, "destination",
	    rn->t->root, "dir", rn->run_dir, "files", (json_int_t)rn->nobj,
	    "resumed", rn->sum->resumed);
	if (abandoned[0] != '\0')
		json_object_set_new(f, "abandoned", json_string(abandoned));
	if (rn->lock.previous[0] != '\0')
		json_object_set_new(f, "lock_taken_over",
		    json_string(rn->lock.previous));
	if ((r = run_audit(rn, MIG_AUDIT_RUN_START, f, rn->ctx)) != 0)
		return r;
	rn->started = true;
	if ((r = run_release_held(rn, rn->ctx)) != 0)
		return r;
	return run_point(rn, "run.started", rn->run_id, rn->nobj, rn->ctx);
}

/* Seconds since t0 (CLOCK_MONOTONIC). */
static double
seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) +
	    (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/*
 * Lands the objects the way the strategy and the source call for, and
 * counts the outcome into the summary.
 */
static int
land(struct run *rn, struct obj *arch)
{
	struct mig_run_summary *sum = rn->sum;
	uint64_t total = 0;
	size_t i;
	int r;

	for (i = 0; i < rn->nobj; i++, run_touch(rn))
		total += rn->objs[i].size;
	run_set_phase(rn, rn->si->moves_data ? "landing" : "hashing",
	    rn->nobj, total);
	if (rn->si->one_archive)
		r = rn->nobj == 0 ? 0 : run_land_archive_strategy(rn, arch);
	else if (rn->archive_source)
		r = run_land_from_archive(rn);
	else
		r = run_workers(rn, rn->o->jobs);
	run_progress(rn, 0, 0, true);
	tally(rn);
	sum->failed += rn->inv_failed;
	if (rn->si->one_archive && r == 0 && rn->nobj > 0) {
		char chex[65];

		mig_hex_encode(arch->csha, 32, chex);
		sum->bytes_out = arch->stored_size;
		(void)run_audit(rn, MIG_AUDIT_OBJ_STORED, json_pack("{s:s, s:I, "
		    "s:I, s:s, s:I}", "object", arch->dest, "bytes",
		    (json_int_t)sum->bytes_in, "stored_bytes",
		    (json_int_t)arch->stored_size, "stored_sha256", chex,
		    "members", (json_int_t)rn->nobj), rn->ctx);
	}
	return r;
}

/*
 * Objects failed, or the run stopped (r): run.end says partial, and the
 * same command resumes.  Returns the error to report.
 */
static int
end_partial(struct run *rn, int r)
{
	struct mig_run_summary *sum = rn->sum;
	char msg[MIG_ERRMSG_MAX];

	(void)snprintf(msg, sizeof(msg), "%s", r != 0 ?
	    mig_errmsg(rn->ctx) : "");
	(void)run_audit(rn, MIG_AUDIT_RUN_END, json_pack("{s:s, s:I, s:I, "
	    "s:s}", "outcome", "partial", "stored", (json_int_t)sum->stored,
	    "failed", (json_int_t)sum->failed, "resume",
	    "run the same command again"), rn->ctx);
	if (rn->o->audit != NULL)
		(void)mig_audit_checkpoint(rn->o->audit, rn->run_id, NULL,
		    rn->ctx);
	if (r == 0 && rn->nobj > 0 && sum->failed - rn->inv_failed ==
	    rn->nobj && sum->already == 0)
		/* Nothing landed at all: not partial, a failure. */
		return mig_seterr(rn->ctx, MIG_ERR_IO, "%s: every object "
		    "failed, the first: %s", rn->run_dir, rn->first_failure);
	if (r == 0)
		return mig_seterr(rn->ctx, MIG_ERR_PARTIAL, "%s: %llu of %zu "
		    "objects failed (the first: %s); run the same command "
		    "again to resume", rn->run_dir,
		    (unsigned long long)sum->failed, rn->nobj,
		    rn->first_failure);
	return mig_seterr(rn->ctx, r, "%s", msg);
}

/*
 * Nothing new, changed or gone (differs paths differ from the previous
 * snapshot): no bag, the previous snapshot stands.  A source of which the
 * plan selects nothing never publishes an empty snapshot: that is a
 * filter or mount mistake far more often than a deliberate emptying, and
 * "latest" must not become nothing.  A shard is one part of a run whose
 * other shards publish bags: its part of the snapshot must be there too,
 * so a shard lands its bag even with nothing new (a run restored from
 * shards that had nothing new once lost their files).
 */
static bool
nothing_new(const struct run *rn, uint64_t differs)
{
	const struct mig_run_summary *sum = rn->sum;

	return rn->si->moves_data && rn->o->shard_n == 0 &&
	    sum->stored == 0 && sum->already == 0 &&
	    (differs == 0 || rn->nobj == 0) &&
	    !(rn->si->one_archive && rn->nobj > 0);
}

/* The audit still records a run with nothing new; its directory goes. */
static int
end_nothing_new(struct run *rn, const struct timespec *t0)
{
	int r;

	rn->sum->seconds = seconds_since(t0);
	if ((r = run_audit(rn, MIG_AUDIT_RUN_END, json_pack("{s:s, s:I, s:I, "
	    "s:I}", "outcome", "nothing new", "objects", (json_int_t)0,
	    "unchanged", (json_int_t)rn->sum->unchanged, "stored",
	    (json_int_t)0), rn->ctx)) != 0)
		return r;
	if (rn->o->audit != NULL && (r = mig_audit_checkpoint(rn->o->audit,
	    rn->run_id, NULL, rn->ctx)) != 0)
		return r;
	if (run_lake_has(rn, rn->run_dir))
		(void)run_put_marker(rn, rn->run_dir, "_ABANDONED",
		    "nothing new\n");
	return state_clear_current(rn->state_dir, rn->ctx);
}

/*
 * Every object landed: the bag is published (or the run ends with
 * nothing new), the journal is no longer needed, and retire with
 * delete_source deletes what provably landed.
 */
static int
publish(struct run *rn, struct obj *arch, uint64_t differs,
    const struct timespec *t0)
{
	int r;

	if (nothing_new(rn, differs))
		r = end_nothing_new(rn, t0);
	else if ((r = run_finish(rn, rn->si->one_archive && rn->nobj > 0 ?
	    arch : NULL, t0)) == 0)
		r = run_commit_last(rn);
	if (r != 0)
		return r;
	(void)unlink(rn->journal_path);
	if (rn->p->strategy == MIG_STRATEGY_RETIRE && rn->p->delete_source &&
	    rn->sum->landed)
		r = retire_delete_sources(rn);
	return r;
}

/*
 * However the run ended (r): a run that ended before run.start still
 * leaves its records, a refusal that ended it is on record, and the
 * summary says how long it took.
 */
static void
leave_run(struct run *rn, int r, const struct timespec *t0)
{
	if (rn->held != NULL) {
		struct mig_ctx *c2 = mig_ctx_new();

		if (c2 != NULL)
			(void)run_release_held(rn, c2);
		mig_ctx_free(c2);
	}
	if (r == MIG_ERR_SECURITY && !rn->refusal_audited &&
	    rn->o->audit != NULL && !rn->o->dry_run)
		audit_refusal(rn, mig_errmsg(rn->ctx));
	if (r != 0 && rn->sum->seconds == 0)
		rn->sum->seconds = seconds_since(t0);
}

int
mig_run_execute(const struct mig_run_opts *o, struct mig_run_summary *sum,
    struct mig_ctx *ctx)
{
	struct run rn;
	struct obj arch;
	struct timespec t0;
	char abandoned[64], archname[PATH_MAX];
	uint64_t differs;
	int r, r2;

	memset(sum, 0, sizeof(*sum));
	memset(&arch, 0, sizeof(arch));
	if ((r = run_init(&rn, o, sum, ctx)) != 0)
		return r;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((r = check_opts(&rn)) != 0 || (r = take_state(&rn)) != 0 ||
	    (r = open_run(&rn, abandoned)) != 0)
		goto out;
	if (rn.si->one_archive) {
		(void)snprintf(archname, sizeof(archname), "data/%s.tar%s.age",
		    rn.p->name, rn.p->compress ? ".zst" : "");
		arch.dest = archname;
	}
	if ((r = load_past(&rn)) != 0)
		goto out;
	if (sum->already_complete) {
		sum->landed = true;
		run_note(&rn, "run %s%s is already complete: nothing to do (use a "
		    "new --run-id to land changes)", rn.run_id,
		    o->shard_n > 0 ? " (this shard)" : "");
		goto out;
	}
	if (o->dry_run) {
		r = dry_run(&rn);
		goto out;
	}
	if ((r = begin_run(&rn, abandoned)) != 0)
		goto out;
	r = land(&rn, &arch);
	/* retain records every file's drift. */
	r2 = runsnap_drift(&rn, !rn.si->moves_data, &differs);
	if (r == 0)
		r = r2;
	if (r != 0 || sum->failed != 0)
		r = end_partial(&rn, r);
	else
		r = publish(&rn, &arch, differs, &t0);
out:
	leave_run(&rn, r, &t0);
	run_free(&rn);
	return r;
}
