/*
 * migrate run: land a plan's source into the lake as one BagIt bag.
 *
 * Order of a run, each step durable before the next:
 *   decide the run (resume the unfinished one, or a new id)
 *   inventory the source; compare with the last complete run
 *   land objects (workers): temp name, fsync, rename; journal locally
 *   check every object is present with its size
 *   write migrate-manifest.json.age, audit run.end + checkpoint
 *   write the bag's tag files (bag-info carries the audit head)
 *   write _SUCCESS last, then forget the unfinished-run marker.
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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "migrate/age.h"
#include "migrate/archive.h"
#include "migrate/audit.h"
#include "migrate/bagit.h"
#include "migrate/error.h"
#include "migrate/plan.h"
#include "migrate/run.h"
#include "migrate/stream.h"
#include "migrate/testhook.h"
#include "migrate/transport.h"

#include "../lake/layout_int.h"
#include "run_core.h"

#define PROGRESS_NSEC	200000000L

/* --- Small helpers ---------------------------------------------------------- */

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

/* Parent directory of a '/'-path into buf ("" for none). */
static void
parent_of(const char *path, char *buf, size_t size)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash != NULL ? (size_t)(slash - path) : 0;

	if (n >= size)
		n = size - 1;
	memcpy(buf, path, n);
	buf[n] = '\0';
}

bool
mig_run_id_valid(const char *s)
{
	return mig_lake_valid_run_id(s);
}

/* --- Landing one object ----------------------------------------------------------- */

/* Files at least this big land on two threads (see run_land_stream). */
#define ASYNC_MIN_SIZE	(8u * 1024 * 1024)

/* Hashes the rest of fd; returns 0 and the hex digest. */
static int
hash_fd(struct worker *wk, int fd, const char *name, char hex[65],
    uint64_t *count)
{
	struct mig_writer *null = NULL, *sha = NULL;
	unsigned char md[32];
	ssize_t n;
	int r;

	if ((r = mig_null_writer_new(wk->ctx, &null)) != 0 ||
	    (r = mig_sha256_writer_new(null, wk->ctx, &sha)) != 0)
		goto out;
	for (;;) {
		n = read(fd, wk->buf, MIG_RUN_READ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = mig_seterr(wk->ctx, MIG_ERR_IO, "%s: read: %s", name,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if ((r = mig_writer_write(sha, wk->buf, (size_t)n)) != 0)
			goto out;
		run_progress(wk->rn, 0, (uint64_t)n, false);
	}
	if ((r = mig_writer_close(sha)) != 0)
		goto out;
	mig_sha256_writer_result(sha, md, count);
	mig_hex_encode(md, sizeof(md), hex);
out:
	mig_writer_free(sha);
	mig_writer_free(null);
	return r;
}

/*
 * The file is the one the inventory saw: same inode on the same device
 * (a decoy of the same size and mtime elsewhere is not), same size,
 * mtime and ctime.
 */
bool
run_same_stat(const struct obj *ob, const struct stat *st)
{
	return (uint64_t)st->st_size == ob->size &&
	    st->st_mtim.tv_sec == ob->mtime &&
	    st->st_mtim.tv_nsec == ob->mtime_nsec &&
	    (ob->ino == 0 || (st->st_dev == ob->dev &&
	    st->st_ino == ob->ino && st->st_ctim.tv_sec == ob->ctime &&
	    st->st_ctim.tv_nsec == ob->ctime_nsec));
}

int
run_ensure_parent(struct worker *wk, const char *full)
{
	char dir[PATH_MAX];
	int r;

	parent_of(full, dir, sizeof(dir));
	if (strcmp(dir, wk->made_dir) == 0)
		return 0;
	if ((r = mig_transport_mkdir_p(wk->t, dir)) != 0)
		return r;
	(void)snprintf(wk->made_dir, sizeof(wk->made_dir), "%s", dir);
	return 0;
}

/*
 * Streams src (plaintext) through sha256 -> [zstd] -> age -> sha256 into
 * the object's temporary at the destination.  When fd >= 0 the file is
 * re-checked after reading and the object is abandoned if it changed.
 */
int
run_land_stream(struct worker *wk, struct obj *ob, struct mig_reader *src,
    int fd)
{
	struct run *rn = wk->rn;
	struct mig_writer *sink = NULL, *csha = NULL, *age = NULL, *z = NULL;
	struct mig_writer *psha = NULL, *async = NULL, *limit = NULL;
	unsigned char md[32];
	char full[PATH_MAX];
	uint64_t count = 0, plain = 0;
	struct stat st;
	size_t n;
	int r;
	/*
	 * A big file is landed on two cores: this thread reads, hashes the
	 * plaintext and encrypts; another hashes the ciphertext and writes.
	 * The destination then reports errors on the other thread's context.
	 */
	bool two = ob->size >= ASYNC_MIN_SIZE && wk->actx != NULL;
	struct mig_ctx *dctx = two ? wk->actx : wk->ctx;

	if ((r = run_join(full, sizeof(full), rn->run_dir, ob->dest)) != 0) {
		r = mig_seterr(wk->ctx, MIG_ERR_USAGE, "%s: path too long",
		    ob->path);
		goto out;
	}
	if ((r = run_ensure_parent(wk, full)) != 0)
		goto out;
	wk->t->ctx = dctx;
	r = mig_transport_open_write(wk->t, full, -1, &sink);
	wk->t->ctx = wk->ctx;
	if (r != 0) {
		if (two)
			r = mig_seterr(wk->ctx, r, "%s", mig_errmsg(dctx));
		goto out;
	}
	if ((rn->bwlimit != NULL && (r = mig_ratelimit_writer_new(rn->bwlimit,
	    sink, dctx, &limit)) != 0) ||
	    (r = mig_sha256_writer_new(limit != NULL ? limit : sink, dctx,
	    &csha)) != 0 ||
	    (two && (r = mig_async_writer_new(csha, dctx, wk->ctx,
	    &async)) != 0) ||
	    (r = mig_age_encrypt_writer_new(rn->o->recipients, false,
	    two ? async : csha, wk->ctx, &age)) != 0)
		goto out;
	if (rn->p->compress && (r = mig_zstd_writer_new(rn->p->zstd_level,
	    age, wk->ctx, &z)) != 0)
		goto out;
	if ((r = mig_sha256_writer_new(z != NULL ? z : age, wk->ctx,
	    &psha)) != 0)
		goto out;
	for (;;) {
		if ((r = mig_reader_read(src, wk->buf, MIG_RUN_READ_CHUNK, &n)) != 0)
			goto out;
		if (n == 0)
			break;
		if ((r = mig_writer_write(psha, wk->buf, n)) != 0)
			goto out;
		plain += n;
		run_progress(rn, 0, n, false);
		if ((r = run_point(rn, "source.read", ob->path, plain,
		    wk->ctx)) != 0)
			goto out;
	}
	/* Published only if the file stood still while we read it. */
	if (fd >= 0 && (fstat(fd, &st) != 0 || !run_same_stat(ob, &st) ||
	    plain != ob->size)) {
		r = mig_seterr(wk->ctx, MIG_ERR_IO, "%s: changed while being "
		    "read (size or mtime differ); not published", ob->path);
		goto out;
	}
	if ((r = mig_writer_close(psha)) != 0)
		goto out;
	mig_sha256_writer_result(psha, md, &count);
	mig_hex_encode(md, sizeof(md), ob->sha);
	ob->size = count;
	mig_sha256_writer_result(csha, md, &ob->stored_size);
	mig_hex_encode(md, sizeof(md), ob->csha);
out:
	/* Freeing an unclosed sink removes its temporary. */
	mig_writer_free(psha);
	mig_writer_free(z);
	mig_writer_free(age);
	mig_writer_free(async);	/* stops its thread first */
	mig_writer_free(csha);
	mig_writer_free(limit);
	mig_writer_free(sink);
	return r;
}

int
run_open_source(struct worker *wk, const struct obj *ob, int *fdp)
{
	struct run *rn = wk->rn;
	struct stat st;
	int fd = -1, r;

	*fdp = -1;
	/*
	 * Beneath the source's descriptor, through no link (a file reached
	 * through an inside link is opened where it resolved to).
	 * O_NONBLOCK: a FIFO swapped in since the inventory must not hang.
	 */
	r = fdpath_open(rn->src_fd, ob->via_link ? ob->target : ob->path,
	    O_RDONLY | O_NOCTTY | O_NONBLOCK, 0, &fd, wk->ctx);
	if (r == MIG_ERR_SECURITY)
		return mig_seterr(wk->ctx, MIG_ERR_IO, "%s: changed since the "
		    "inventory (%s); not published", ob->path,
		    mig_errmsg(wk->ctx));
	if (r != 0)
		return mig_preferr(wk->ctx, "%s", ob->path);
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    !run_same_stat(ob, &st) ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
		close(fd);
		return mig_seterr(wk->ctx, MIG_ERR_IO, "%s: changed since the "
		    "inventory; not published", ob->path);
	}
	*fdp = fd;
	return 0;
}

/* Makes every worker stop taking objects; the first reason wins. */
static void
stop_run(struct run *rn, int code, struct mig_ctx *ctx)
{
	pthread_mutex_lock(&rn->mu);
	if (rn->fatal == 0) {
		rn->fatal = code;
		(void)snprintf(rn->fatal_msg, sizeof(rn->fatal_msg), "%s",
		    mig_errmsg(ctx));
	}
	pthread_mutex_unlock(&rn->mu);
}

void
run_record_failure(struct worker *wk, struct obj *ob)
{
	struct run *rn = wk->rn;

	ob->state = OBJ_FAILED;
	pthread_mutex_lock(&rn->mu);
	if (rn->first_failure[0] == '\0')
		(void)snprintf(rn->first_failure, sizeof(rn->first_failure),
		    "%s: %s", ob->path, mig_errmsg(wk->ctx));
	pthread_mutex_unlock(&rn->mu);
	run_note(rn, "failed %s: %s", ob->path, mig_errmsg(wk->ctx));
	/*
	 * The destination went away (retries already spent) or refused us:
	 * the other objects would only pay the same timeouts.  Stop, and
	 * let the next run resume.
	 */
	if (mig_errcode(wk->ctx) == MIG_ERR_NET ||
	    mig_errcode(wk->ctx) == MIG_ERR_SECURITY)
		stop_run(rn, mig_errcode(wk->ctx), wk->ctx);
	if (run_audit(rn, MIG_AUDIT_OBJ_FAILED, json_pack("{s:s, s:s}",
	    "object", ob->path, "reason", mig_errmsg(wk->ctx)), wk->ctx) != 0)
		stop_run(rn, mig_errcode(wk->ctx), wk->ctx);
}

void
run_record_stored(struct worker *wk, struct obj *ob)
{
	struct run *rn = wk->rn;
	int r;

	/*
	 * On record first, then in the journal: an object the journal says
	 * landed is always in the audit log.  A crash between the two makes
	 * the resumed run land and record it again.  When the log cannot be
	 * written the run stops: nothing may land that is not on record.
	 */
	r = run_audit(rn, MIG_AUDIT_OBJ_STORED, json_pack("{s:s, s:s, s:I, s:I, "
	    "s:s}", "object", ob->path, "dest", ob->dest, "bytes",
	    (json_int_t)ob->size, "stored_bytes", (json_int_t)ob->stored_size,
	    "stored_sha256", ob->csha), wk->ctx);
	if (r != 0) {
		char full[PATH_MAX];

		/* Not on record, so not landed: take it back. */
		if (run_join(full, sizeof(full), rn->run_dir, ob->dest) == 0)
			(void)mig_transport_remove(wk->t, full);
		stop_run(rn, r, wk->ctx);
		ob->state = OBJ_FAILED;
		return;
	}
	if (run_journal_append(rn, ob, wk->ctx) != 0) {
		run_record_failure(wk, ob);
		return;
	}
	ob->state = OBJ_STORED;
	(void)run_point(rn, "object.landed", ob->path, 0, wk->ctx);
}

void
run_record_unchanged(struct worker *wk, struct obj *ob)
{
	ob->state = OBJ_UNCHANGED;
	(void)run_audit(wk->rn, MIG_AUDIT_OBJ_SKIPPED, json_pack("{s:s, s:s}",
	    "object", ob->path, "reason", "unchanged since the last run"),
	    wk->ctx);
}

/* One file of a directory source, per-file strategies. */
static void
process_file(struct worker *wk, struct obj *ob)
{
	struct run *rn = wk->rn;
	struct mig_reader *rd = NULL;
	char hex[65];
	uint64_t count;
	int fd = -1, r;

	if ((r = run_open_source(wk, ob, &fd)) != 0)
		goto fail;
	if (rn->o->dry_run) {
		/* Read-only: find what is unchanged, land nothing. */
		if (obj_prev_sha(rn, ob) != NULL &&
		    hash_fd(wk, fd, ob->path, hex, &count) == 0 &&
		    strcmp(hex, obj_prev_sha(rn, ob)) == 0)
			ob->state = OBJ_UNCHANGED;
		goto out;
	}
	if (obj_prev_sha(rn, ob) != NULL) {
		/* Hash first: unchanged files cost a read, not a write. */
		if ((r = hash_fd(wk, fd, ob->path, hex, &count)) != 0)
			goto fail;
		if (strcmp(hex, obj_prev_sha(rn, ob)) == 0) {
			memcpy(ob->sha, hex, sizeof(hex));
			run_record_unchanged(wk, ob);
			goto out;
		}
		if (lseek(fd, 0, SEEK_SET) != 0) {
			r = mig_seterr(wk->ctx, MIG_ERR_IO, "%s: seek: %s",
			    ob->path, strerror(errno));
			goto fail;
		}
	}
	if (rn->si->moves_data) {
		if ((r = mig_fd_reader_new(fd, wk->ctx, &rd)) != 0 ||
		    (r = run_land_stream(wk, ob, rd, fd)) != 0 ||
		    (r = run_point(rn, "object.written", ob->path, 0,
		    wk->ctx)) != 0)
			goto fail;
		run_record_stored(wk, ob);
	} else {
		/* retain: the inventory is the product. */
		if ((r = hash_fd(wk, fd, ob->path, ob->sha, &count)) != 0)
			goto fail;
		if (count != ob->size) {
			r = mig_seterr(wk->ctx, MIG_ERR_IO, "%s: changed while "
			    "being read", ob->path);
			goto fail;
		}
		ob->state = OBJ_RETAINED;
	}
	goto out;
fail:
	run_record_failure(wk, ob);
out:
	mig_reader_free(rd);
	if (fd >= 0)
		close(fd);
	run_progress(rn, 1, 0, false);
}

int
run_worker_open(struct run *rn, struct worker *wk)
{
	memset(wk, 0, sizeof(*wk));
	wk->rn = rn;
	if ((wk->ctx = mig_ctx_new()) == NULL ||
	    (wk->actx = mig_ctx_new()) == NULL ||
	    (wk->buf = malloc(MIG_RUN_READ_CHUNK)) == NULL)
		return MIG_ERR_NOMEM;
	if (!rn->si->moves_data || rn->o->dry_run)
		return 0;
	return mig_transport_open(rn->o->tcfg, wk->ctx, &wk->t);
}

void
run_worker_close(struct worker *wk)
{
	mig_transport_close(wk->t);
	free(wk->buf);
	mig_ctx_free(wk->actx);
	mig_ctx_free(wk->ctx);
}

static void *
worker_main(void *arg)
{
	struct run *rn = arg;
	struct worker wk;
	size_t i;
	int r;

	if ((r = run_worker_open(rn, &wk)) != 0) {
		pthread_mutex_lock(&rn->mu);
		if (rn->fatal == 0) {
			rn->fatal = r;
			(void)snprintf(rn->fatal_msg, sizeof(rn->fatal_msg),
			    "%s", wk.ctx != NULL ? mig_errmsg(wk.ctx) :
			    "out of memory");
		}
		pthread_mutex_unlock(&rn->mu);
		run_worker_close(&wk);
		return NULL;
	}
	for (;;) {
		pthread_mutex_lock(&rn->mu);
		while (rn->next < rn->nobj &&
		    rn->objs[rn->next].state != OBJ_PENDING)
			rn->next++;
		i = rn->fatal == 0 ? rn->next++ : rn->nobj;
		pthread_mutex_unlock(&rn->mu);
		if (i >= rn->nobj)
			break;
		mig_clearerr(wk.ctx);
		process_file(&wk, &rn->objs[i]);
	}
	run_worker_close(&wk);
	return NULL;
}

static int
run_workers(struct run *rn, int jobs)
{
	pthread_t tids[64];
	size_t pending = 0, i;
	int n, k, started = 0;

	for (i = 0; i < rn->nobj; i++)
		if (rn->objs[i].state == OBJ_PENDING)
			pending++;
	n = jobs < 1 ? 1 : jobs > 64 ? 64 : jobs;
	if ((size_t)n > pending)
		n = pending == 0 ? 0 : (int)pending;
	for (k = 0; k < n; k++) {
		if (pthread_create(&tids[k], NULL, worker_main, rn) != 0)
			break;
		started++;
	}
	if (n > 0 && started == 0)
		worker_main(rn);
	for (k = 0; k < started; k++)
		pthread_join(tids[k], NULL);
	if (rn->fatal != 0) {
		if (rn->fatal == MIG_ERR_SECURITY) {
			(void)run_audit(rn, MIG_AUDIT_SEC_REFUSED, json_pack(
			    "{s:s, s:s}", "destination", rn->p->url, "reason",
			    rn->fatal_msg), rn->ctx);
			rn->refusal_audited = true;
		}
		return mig_seterr(rn->ctx, rn->fatal, "%s", rn->fatal_msg);
	}
	return 0;
}

/* --- Entry point ------------------------------------------------------------------- */

static void
tally(struct run *rn)
{
	size_t i;

	for (i = 0; i < rn->nobj; i++) {
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
	size_t i;

	for (i = 0; i < rn->nobj; i++) {
		free(rn->objs[i].path);
		free(rn->objs[i].dest);
		free(rn->objs[i].target);
	}
	free(rn->objs);
	if (rn->src_fd >= 0)
		close(rn->src_fd);
	runsnap_free(rn);
	json_decref(rn->held);
	json_decref(rn->journal);
	if (rn->part_re_ok)
		regfree(&rn->part_re);
	if (rn->journal_fd >= 0)
		close(rn->journal_fd);
	mig_transport_close(rn->t);
	mig_ratelimit_free(rn->bwlimit);
	state_unlock(&rn->lock);
	pthread_mutex_destroy(&rn->mu);
}

static int
dry_run(struct run *rn)
{
	size_t i;

	for (i = 0; i < rn->nobj; i++) {
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

int
mig_run_execute(const struct mig_run_opts *o, struct mig_run_summary *sum,
    struct mig_ctx *ctx)
{
	struct run rn;
	struct obj arch;
	struct timespec t0;
	char abandoned[64], archname[PATH_MAX];
	uint64_t differs;
	size_t i;
	int r;

	memset(sum, 0, sizeof(*sum));
	memset(&rn, 0, sizeof(rn));
	memset(&arch, 0, sizeof(arch));
	rn.o = o;
	rn.p = o->plan;
	rn.si = mig_strategy_info(o->plan->strategy);
	rn.ctx = ctx;
	rn.sum = sum;
	rn.journal_fd = -1;
	rn.lock.fd = -1;
	rn.src_fd = -1;
	pthread_mutex_init(&rn.mu, NULL);
	if (o->bwlimit > 0 && !o->dry_run &&
	    mig_ratelimit_new(o->bwlimit, &rn.bwlimit) != 0) {
		run_free(&rn);
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (rn.p->strategy == MIG_STRATEGY_RETIRE && rn.p->delete_source &&
	    o->identities == NULL && !o->dry_run) {
		r = mig_seterr(ctx, MIG_ERR_USAGE, "%s: delete_source = true: "
		    "give the identity (-i FILE) so that the landed archive is "
		    "deep-verified before any source file is deleted",
		    rn.p->file);
		goto out;
	}

	if (rn.si->partition && strncmp(rn.p->partition_by, "mtime:", 6) != 0) {
		if (regcomp(&rn.part_re, rn.p->partition_by, REG_EXTENDED) != 0) {
			r = mig_seterr(ctx, MIG_ERR_PARSE, "bad partition_by");
			goto out;
		}
		rn.part_re_ok = true;
	}
	if (o->shard_n > 0) {
		/* Shards on one machine keep separate resume state. */
		if (o->shard_k < 0 || o->shard_k >= o->shard_n ||
		    o->run_id == NULL || !mig_lake_valid_run_id(o->run_id)) {
			r = mig_seterr(ctx, MIG_ERR_USAGE, "--shard K/N needs "
			    "0 <= K < N and --run-id YYYYMMDDTHHMMSSZ-xxxxxxxx");
			goto out;
		}
		if (rn.si->versioned) {
			r = mig_seterr(ctx, MIG_ERR_USAGE, "%s: rebuild cannot "
			    "be sharded: every run is a new version", rn.p->file);
			goto out;
		}
	}
	/*
	 * One run of a plan (of a shard) at a time: a second one fails fast
	 * instead of taking the first one's run over.
	 */
	if ((r = state_dir_for(rn.p, o->shard_k, o->shard_n, rn.state_dir,
	    sizeof(rn.state_dir), ctx)) != 0 ||
	    (!o->dry_run && ((r = state_prepare(rn.p, o->shard_k, o->shard_n,
	    rn.state_dir, ctx)) != 0 ||
	    (r = state_lock(rn.state_dir, &rn.lock, ctx)) != 0))) {
		if (r == MIG_ERR_AGAIN)
			(void)mig_preferr(ctx, "%s", rn.p->file);
		goto out;
	}
	if (rn.lock.previous[0] != '\0')
		run_note(&rn, "took over the lock of a run that died (%s)",
		    rn.lock.previous);
	/* A delete phase a crash cut short is settled before anything else. */
	if (!o->dry_run && rn.p->strategy == MIG_STRATEGY_RETIRE &&
	    rn.p->delete_source && (r = retire_settle_intents(&rn)) != 0)
		goto out;
	if ((r = mig_transport_open(o->tcfg, ctx, &rn.t)) != 0)
		goto out;
	/* A local lake is shown as the directory the user can cd into. */
	sum->lake = strdup(rn.p->lake_path != NULL ? rn.p->lake_path :
	    rn.t->root);
	if ((r = run_decide(&rn, abandoned)) != 0)
		goto out;
	(void)snprintf(sum->run_id, sizeof(sum->run_id), "%s", rn.run_id);
	sum->run_dir = strdup(rn.run_dir);
	if ((r = run_inventory(&rn)) != 0 ||
	    (r = run_point(&rn, "inventory.done", rn.p->source_path, rn.nobj,
	    ctx)) != 0)
		goto out;
	if (rn.si->one_archive) {
		(void)snprintf(archname, sizeof(archname), "data/%s.tar%s.age",
		    rn.p->name, rn.p->compress ? ".zst" : "");
		arch.dest = archname;
	}
	/*
	 * Every run knows the previous snapshot (its parent, and drift);
	 * per-file strategies also skip what did not change.
	 */
	rn.incremental = rn.si->moves_data && !rn.si->versioned &&
	    !rn.si->one_archive && !o->full;
	if ((r = runsnap_load_prev(&rn)) != 0)
		goto out;
	(void)run_join(rn.journal_path, sizeof(rn.journal_path), rn.state_dir,
	    rn.run_id);
	(void)snprintf(rn.journal_path + strlen(rn.journal_path),
	    sizeof(rn.journal_path) - strlen(rn.journal_path), ".journal");
	if (sum->resumed && !rn.si->one_archive && rn.si->moves_data) {
		if ((r = run_journal_load(&rn)) != 0)
			goto out;
		run_journal_apply(&rn);
	}
	if (sum->already_complete) {
		sum->landed = true;
		run_note(&rn, "run %s%s is already complete: nothing to do (use a "
		    "new --run-id to land changes)", rn.run_id,
		    o->shard_n > 0 ? " (this shard)" : "");
		r = 0;
		goto out;
	}
	if (o->dry_run) {
		if (!rn.archive_source && !rn.si->one_archive &&
		    rn.si->moves_data && (r = run_workers(&rn, o->jobs)) != 0)
			goto out;
		r = dry_run(&rn);
		goto out;
	}

	if ((r = state_mkdir_p(rn.state_dir, ctx)) != 0 ||
	    (r = state_write_current(rn.state_dir, rn.run_id, rn.run_dir,
	    ctx)) != 0)
		goto out;
	rn.journal_fd = open(rn.journal_path, O_WRONLY | O_CREAT | O_APPEND |
	    O_CLOEXEC, 0600);
	if (rn.journal_fd < 0) {
		r = mig_seterr(ctx, MIG_ERR_IO, "%s: %s", rn.journal_path,
		    strerror(errno));
		goto out;
	}
	{
		json_t *f = json_pack("{s:s, s:s, s:s, s:s, s:I, s:b}",
		    "strategy", rn.si->name, "source", rn.p->source_path,
		    "destination", rn.t->root, "dir", rn.run_dir, "files",
		    (json_int_t)rn.nobj, "resumed", sum->resumed);

		if (abandoned[0] != '\0')
			json_object_set_new(f, "abandoned",
			    json_string(abandoned));
		if (rn.lock.previous[0] != '\0')
			json_object_set_new(f, "lock_taken_over",
			    json_string(rn.lock.previous));
		if ((r = run_audit(&rn, MIG_AUDIT_RUN_START, f, ctx)) != 0)
			goto out;
		rn.started = true;
		if ((r = run_release_held(&rn, ctx)) != 0 ||
		    (r = run_point(&rn, "run.started", rn.run_id, rn.nobj,
		    ctx)) != 0)
			goto out;
	}

	{
		uint64_t total = 0;

		for (i = 0; i < rn.nobj; i++)
			total += rn.objs[i].size;
		run_set_phase(&rn, rn.si->moves_data ? "landing" : "hashing",
		    rn.nobj, total);
	}
	if (rn.si->one_archive)
		r = rn.nobj == 0 ? 0 : run_land_archive_strategy(&rn, &arch);
	else if (rn.archive_source)
		r = run_land_from_archive(&rn);
	else
		r = run_workers(&rn, o->jobs);
	run_progress(&rn, 0, 0, true);
	tally(&rn);
	sum->failed += rn.inv_failed;
	if (rn.si->one_archive && r == 0 && rn.nobj > 0) {
		sum->bytes_out = arch.stored_size;
		(void)run_audit(&rn, MIG_AUDIT_OBJ_STORED, json_pack("{s:s, s:I, "
		    "s:I, s:s, s:I}", "object", arch.dest, "bytes",
		    (json_int_t)sum->bytes_in, "stored_bytes",
		    (json_int_t)arch.stored_size, "stored_sha256", arch.csha,
		    "members", (json_int_t)rn.nobj), ctx);
	}
	/* retain records every file's drift. */
	differs = runsnap_drift(&rn, !rn.si->moves_data);

	if (r != 0 || sum->failed != 0) {
		char msg[MIG_ERRMSG_MAX];

		(void)snprintf(msg, sizeof(msg), "%s", r != 0 ?
		    mig_errmsg(ctx) : "");
		(void)run_audit(&rn, MIG_AUDIT_RUN_END, json_pack("{s:s, s:I, s:I, "
		    "s:s}", "outcome", "partial", "stored",
		    (json_int_t)sum->stored, "failed", (json_int_t)sum->failed,
		    "resume", "run the same command again"), ctx);
		if (o->audit != NULL)
			(void)mig_audit_checkpoint(o->audit, rn.run_id, NULL,
			    ctx);
		if (r == 0 && rn.nobj > 0 && sum->failed - rn.inv_failed ==
		    rn.nobj && sum->already == 0)
			/* Nothing landed at all: not partial, a failure. */
			r = mig_seterr(ctx, MIG_ERR_IO, "%s: every object "
			    "failed, the first: %s", rn.run_dir,
			    rn.first_failure);
		else if (r == 0)
			r = mig_seterr(ctx, MIG_ERR_PARTIAL, "%s: %llu of %zu "
			    "objects failed (the first: %s); run the same "
			    "command again to resume", rn.run_dir,
			    (unsigned long long)sum->failed, rn.nobj,
			    rn.first_failure);
		else
			r = mig_seterr(ctx, r, "%s", msg);
		goto out;
	}

	/*
	 * A shard is one part of a run whose other shards publish bags:
	 * its part of the snapshot must be there too, so a shard lands its
	 * bag even with nothing new (a run restored from shards that had
	 * nothing new once lost their files).
	 */
	if (rn.si->moves_data && o->shard_n == 0 && sum->stored == 0 &&
	    sum->already == 0 && (differs == 0 || rn.nobj == 0) &&
	    !(rn.si->one_archive && rn.nobj > 0)) {
		/*
		 * Nothing new, changed or gone: no bag, the previous snapshot
		 * stands; the audit still records the run.  A source of which
		 * the plan selects nothing never publishes an empty snapshot:
		 * that is a filter or mount mistake far more often than a
		 * deliberate emptying, and "latest" must not become nothing.
		 */
		struct timespec t1;

		clock_gettime(CLOCK_MONOTONIC, &t1);
		sum->seconds = (double)(t1.tv_sec - t0.tv_sec) +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		if ((r = run_audit(&rn, MIG_AUDIT_RUN_END, json_pack("{s:s, s:I, "
		    "s:I, s:I}", "outcome", "nothing new", "objects",
		    (json_int_t)0, "unchanged", (json_int_t)sum->unchanged,
		    "stored", (json_int_t)0), ctx)) != 0)
			goto out;
		if (o->audit != NULL && (r = mig_audit_checkpoint(o->audit,
		    rn.run_id, NULL, ctx)) != 0)
			goto out;
		if (run_lake_has(&rn, rn.run_dir))
			(void)run_put_marker(&rn, rn.run_dir, "_ABANDONED",
			    "nothing new\n");
		if ((r = state_clear_current(rn.state_dir, ctx)) != 0)
			goto out;
	} else if ((r = run_finish(&rn, rn.si->one_archive && rn.nobj > 0 ?
	    &arch : NULL, &t0)) != 0 || (r = run_commit_last(&rn)) != 0)
		goto out;
	(void)unlink(rn.journal_path);
	if (rn.p->strategy == MIG_STRATEGY_RETIRE && rn.p->delete_source &&
	    sum->landed)
		r = retire_delete_sources(&rn);
out:
	/* A run that ended before run.start still leaves its records. */
	if (rn.held != NULL) {
		struct mig_ctx *c2 = mig_ctx_new();

		if (c2 != NULL)
			(void)run_release_held(&rn, c2);
		mig_ctx_free(c2);
	}
	if (r == MIG_ERR_SECURITY && !rn.refusal_audited && o->audit != NULL &&
	    !o->dry_run)
		audit_refusal(&rn, mig_errmsg(ctx));
	if (r != 0 && sum->seconds == 0) {
		struct timespec t1;

		clock_gettime(CLOCK_MONOTONIC, &t1);
		sum->seconds = (double)(t1.tv_sec - t0.tv_sec) +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	}
	run_free(&rn);
	return r;
}
