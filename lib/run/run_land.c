/*
 * Landing objects: each file of a directory source on one of --jobs
 * workers, through sha256 -> [zstd] -> age -> sha256 into the transport's
 * sink, which publishes it under its final name only on a successful
 * close; then on record (object.stored), then in the journal.  A file is
 * published only if it is still the file the inventory saw, and stood
 * still while it was read.
 */
#define MIG_RUN_INTERNAL
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "migrate/age.h"
#include "migrate/audit.h"
#include "migrate/error.h"
#include "migrate/plan.h"
#include "migrate/run.h"
#include "migrate/stream.h"
#include "migrate/transport.h"
#include "migrate/util.h"

#include "run_core.h"

/* Files at least this big land on two threads (see run_land_stream). */
#define ASYNC_MIN_SIZE	(8u * 1024 * 1024)
/*
 * Files up to this big go whole, many in flight (put_object): over a WAN
 * a small object costs round trips, not bandwidth.  64 in flight hold at
 * most 64 * (2 * PUT_MAX_SIZE + 64 KiB) = 36 MiB of ciphertext.
 */
#define PUT_MAX_SIZE	(256u * 1024)

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

/* Hashes the rest of fd; returns 0 and the digest. */
static int
hash_fd(struct worker *wk, int fd, const char *name, unsigned char md[32],
    uint64_t *count)
{
	struct mig_writer *null = NULL, *sha = NULL;
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

static int
ensure_parent(struct worker *wk, const char *full)
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
 * Reads all of src into w (the plaintext end of the chain).  When fd >= 0
 * ob's file must not have changed while it was read.
 */
static int
copy_source(struct worker *wk, const struct obj *ob, struct mig_reader *src,
    int fd, struct mig_writer *w)
{
	struct run *rn = wk->rn;
	uint64_t plain = 0;
	struct stat st;
	size_t n;
	int r;

	for (;;) {
		if ((r = mig_reader_read(src, wk->buf, MIG_RUN_READ_CHUNK,
		    &n)) != 0)
			return r;
		if (n == 0)
			break;
		if ((r = mig_writer_write(w, wk->buf, n)) != 0)
			return r;
		plain += n;
		run_progress(rn, 0, n, false);
		if ((r = run_point(rn, "source.read", ob->path, plain,
		    wk->ctx)) != 0)
			return r;
	}
	/* Published only if the file stood still while we read it. */
	if (fd >= 0 && (fstat(fd, &st) != 0 || !run_same_stat(ob, &st) ||
	    plain != ob->size))
		return mig_seterr(wk->ctx, MIG_ERR_IO, "%s: changed while "
		    "being read (size or mtime differ); not published",
		    ob->path);
	return 0;
}

static int	sink_stack(struct worker *wk, bool two, struct obj_sink *os);

int
run_sink_open(struct worker *wk, const char *full, bool two,
    struct obj_sink *os)
{
	/*
	 * With two threads the destination reports its errors on the other
	 * thread's context.
	 */
	struct mig_ctx *dctx = two ? wk->actx : wk->ctx;
	int r;

	memset(os, 0, sizeof(*os));
	if ((r = ensure_parent(wk, full)) != 0)
		return r;
	wk->t->ctx = dctx;
	/* The run directory has no _SUCCESS yet: objects may go in place. */
	r = mig_transport_open_write_unpublished(wk->t, full, -1, &os->sink);
	wk->t->ctx = wk->ctx;
	if (r != 0)
		return two ? mig_seterr(wk->ctx, r, "%s", mig_errmsg(dctx)) : r;
	return sink_stack(wk, two, os);
}

/* The writers above os->sink (see struct obj_sink). */
static int
sink_stack(struct worker *wk, bool two, struct obj_sink *os)
{
	struct run *rn = wk->rn;
	struct mig_ctx *dctx = two ? wk->actx : wk->ctx;
	int r;

	if ((rn->bwlimit != NULL && (r = mig_ratelimit_writer_new(rn->bwlimit,
	    os->sink, dctx, &os->limit)) != 0) ||
	    (r = mig_sha256_writer_new(os->limit != NULL ? os->limit :
	    os->sink, dctx, &os->csha)) != 0 ||
	    (two && (r = mig_async_writer_new(os->csha, dctx, wk->ctx,
	    &os->async)) != 0) ||
	    (r = mig_age_encrypt_writer_new(rn->o->recipients, false,
	    two ? os->async : os->csha, wk->ctx, &os->age)) != 0)
		return r;
	if (rn->p->compress && (r = mig_zstd_writer_new(rn->p->zstd_level,
	    os->age, wk->ctx, &os->z)) != 0)
		return r;
	os->top = os->z != NULL ? os->z : os->age;
	return 0;
}

void
run_sink_free(struct obj_sink *os)
{
	/* Freeing an unclosed sink removes its temporary. */
	mig_writer_free(os->z);
	mig_writer_free(os->age);
	mig_writer_free(os->async);	/* stops its thread first */
	mig_writer_free(os->csha);
	mig_writer_free(os->limit);
	mig_writer_free(os->sink);
	memset(os, 0, sizeof(*os));
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
	struct obj_sink os;
	struct mig_writer *psha = NULL;
	char full[PATH_MAX];
	uint64_t count = 0;
	int r;
	/*
	 * A big file is landed on two cores: this thread reads, hashes the
	 * plaintext and encrypts; another hashes the ciphertext and writes.
	 */
	bool two = ob->size >= ASYNC_MIN_SIZE && wk->actx != NULL;

	memset(&os, 0, sizeof(os));
	if ((r = run_join(full, sizeof(full), rn->run_dir, ob->dest)) != 0) {
		r = mig_seterr(wk->ctx, MIG_ERR_USAGE, "%s: path too long",
		    ob->path);
		goto out;
	}
	if ((r = run_sink_open(wk, full, two, &os)) != 0 ||
	    (r = mig_sha256_writer_new(os.top, wk->ctx, &psha)) != 0 ||
	    (r = copy_source(wk, ob, src, fd, psha)) != 0 ||
	    (r = mig_writer_close(psha)) != 0)
		goto out;
	mig_sha256_writer_result(psha, ob->sha, &count);
	ob->size = count;
	mig_sha256_writer_result(os.csha, ob->csha, &ob->stored_size);
out:
	mig_writer_free(psha);
	run_sink_free(&os);
	return r;
}

/*
 * Lands ob's file (fd, read from where it stands) whole: the ciphertext
 * is made in memory and handed to the transport in slot, which writes it
 * while the next objects are read and encrypted.  The outcome comes
 * later, through put_collect().
 */
static int
put_object(struct worker *wk, struct obj *ob, int fd, struct put_slot *slot)
{
	struct run *rn = wk->rn;
	struct mig_reader *rd = NULL;
	struct mig_writer *psha = NULL;
	struct obj_sink os;
	char full[PATH_MAX];
	const unsigned char *data;
	uint64_t count = 0;
	size_t len;
	int r;

	memset(&os, 0, sizeof(os));
	if ((r = run_join(full, sizeof(full), rn->run_dir, ob->dest)) != 0) {
		r = mig_seterr(wk->ctx, MIG_ERR_USAGE, "%s: path too long",
		    ob->path);
		goto out;
	}
	/* Room for what zstd and age add to the worst input. */
	if ((r = mig_mem_writer_new(2 * PUT_MAX_SIZE + 65536, wk->ctx,
	    &os.sink)) != 0 ||
	    (r = sink_stack(wk, false, &os)) != 0 ||
	    (r = mig_sha256_writer_new(os.top, wk->ctx, &psha)) != 0 ||
	    (r = mig_fd_reader_new(fd, wk->ctx, &rd)) != 0 ||
	    (r = copy_source(wk, ob, rd, fd, psha)) != 0 ||
	    (r = mig_writer_close(psha)) != 0)
		goto out;
	mig_sha256_writer_result(psha, ob->sha, &count);
	ob->size = count;
	mig_sha256_writer_result(os.csha, ob->csha, &ob->stored_size);
	data = mig_mem_writer_data(os.sink, &len);
	if ((r = ensure_parent(wk, full)) != 0 ||
	    (r = mig_transport_put_start(wk->t, full, data, len, slot)) != 0)
		goto out;
	slot->ob = ob;
	slot->mem = os.sink;
	os.sink = NULL;
	wk->inflight++;
out:
	mig_reader_free(rd);
	mig_writer_free(psha);
	run_sink_free(&os);
	return r;
}

/* How long put_collect() waits. */
enum put_wait {
	PUT_DONE,		/* takes what is done */
	PUT_ONE,		/* waits for one at least */
	PUT_ALL			/* waits for every object in flight */
};

/*
 * Takes in what the transport has finished: each object is on record
 * and in the journal once it is durable there, or a failure.
 */
static void
put_collect(struct worker *wk, enum put_wait wait)
{
	struct run *rn = wk->rn;
	struct mig_put_done d;
	struct put_slot *slot;
	struct obj *ob;

	while (wk->inflight > 0 &&
	    mig_transport_put_next(wk->t, wait != PUT_DONE, &d) == 1) {
		slot = d.token;
		ob = slot->ob;
		mig_writer_free(slot->mem);
		slot->mem = NULL;
		slot->ob = NULL;
		wk->inflight--;
		mig_clearerr(wk->ctx);
		if (d.code != 0) {
			(void)mig_seterr(wk->ctx, d.code, "%s", d.msg);
			run_record_failure(wk, ob);
		} else if (run_point(rn, "object.written", ob->path, 0,
		    wk->ctx) != 0)
			run_record_failure(wk, ob);
		else
			run_record_stored(wk, ob);
		run_progress(rn, 1, 0, false);
		if (wait == PUT_ONE)
			wait = PUT_DONE;
	}
}

/* A free put slot, or NULL (worker_main makes room first). */
static struct put_slot *
put_slot_free(struct worker *wk)
{
	size_t i;

	for (i = 0; i < wk->nputs; i++)
		if (wk->puts[i].ob == NULL)
			return &wk->puts[i];
	return NULL;
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
	char chex[65];
	int r;

	/*
	 * On record first, then in the journal: an object the journal says
	 * landed is always in the audit log.  A crash between the two makes
	 * the resumed run land and record it again.  When the log cannot be
	 * written the run stops: nothing may land that is not on record.
	 */
	mig_hex_encode(ob->csha, 32, chex);
	r = run_audit(rn, MIG_AUDIT_OBJ_STORED, json_pack("{s:s, s:s, s:I, s:I, "
	    "s:s}", "object", ob->path, "dest", ob->dest, "bytes",
	    (json_int_t)ob->size, "stored_bytes", (json_int_t)ob->stored_size,
	    "stored_sha256", chex), wk->ctx);
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
	struct put_slot *slot;
	unsigned char md[32];
	uint64_t count;
	int fd = -1, r;

	if ((r = run_open_source(wk, ob, &fd)) != 0)
		goto fail;
	if (rn->o->dry_run) {
		/* Read-only: find what is unchanged, land nothing. */
		if (obj_prev_sha(rn, ob) != NULL &&
		    hash_fd(wk, fd, ob->path, md, &count) == 0 &&
		    memcmp(md, obj_prev_sha(rn, ob), sizeof(md)) == 0)
			ob->state = OBJ_UNCHANGED;
		goto out;
	}
	if (obj_prev_sha(rn, ob) != NULL) {
		/* Hash first: unchanged files cost a read, not a write. */
		if ((r = hash_fd(wk, fd, ob->path, md, &count)) != 0)
			goto fail;
		if (memcmp(md, obj_prev_sha(rn, ob), sizeof(md)) == 0) {
			memcpy(ob->sha, md, sizeof(md));
			run_record_unchanged(wk, ob);
			goto out;
		}
		if (lseek(fd, 0, SEEK_SET) != 0) {
			r = mig_seterr(wk->ctx, MIG_ERR_IO, "%s: seek: %s",
			    ob->path, strerror(errno));
			goto fail;
		}
	}
	if (rn->si->moves_data && ob->size <= PUT_MAX_SIZE &&
	    (slot = put_slot_free(wk)) != NULL) {
		if ((r = put_object(wk, ob, fd, slot)) != 0)
			goto fail;
		/* On record and counted when the transport is done with it. */
		close(fd);
		return;
	} else if (rn->si->moves_data) {
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

static void *
warm_main(void *arg)
{
	struct warm_conn *wc = arg;

	wc->r = mig_transport_open(wc->rn->o->tcfg, wc->ctx, &wc->t);
	return NULL;
}

void
run_warm_start(struct run *rn, int jobs)
{
	struct warm_conn *wc;
	int k;

	for (k = 0; k < jobs && k < RUN_JOBS_MAX; k++) {
		wc = &rn->warm[k];
		wc->rn = rn;
		if ((wc->ctx = mig_ctx_new()) == NULL)
			break;
		if (pthread_create(&wc->tid, NULL, warm_main, wc) != 0) {
			mig_ctx_free(wc->ctx);
			wc->ctx = NULL;
			break;
		}
		wc->started = true;
	}
}

void
run_warm_end(struct run *rn)
{
	struct warm_conn *wc;
	size_t k;

	for (k = 0; k < RUN_JOBS_MAX; k++) {
		wc = &rn->warm[k];
		if (!wc->started || wc->taken)
			continue;
		pthread_join(wc->tid, NULL);
		mig_transport_close(wc->t);
		mig_ctx_free(wc->ctx);
		wc->started = false;
	}
}

/* A connection opened ahead for this worker, once it is up; NULL: none. */
static struct warm_conn *
warm_take(struct run *rn)
{
	struct warm_conn *wc = NULL;
	size_t k;

	pthread_mutex_lock(&rn->mu);
	for (k = 0; k < RUN_JOBS_MAX && wc == NULL; k++)
		if (rn->warm[k].started && !rn->warm[k].taken) {
			wc = &rn->warm[k];
			wc->taken = true;
		}
	pthread_mutex_unlock(&rn->mu);
	if (wc != NULL)
		pthread_join(wc->tid, NULL);
	return wc;
}

int
run_worker_open(struct run *rn, struct worker *wk)
{
	struct warm_conn *wc = NULL;
	char dir[PATH_MAX];
	int r;

	memset(wk, 0, sizeof(*wk));
	wk->rn = rn;
	if (rn->si->moves_data && !rn->o->dry_run)
		wc = warm_take(rn);
	/* The context its connection reports on becomes the worker's. */
	if (wc != NULL)
		wk->ctx = wc->ctx;
	else if ((wk->ctx = mig_ctx_new()) == NULL)
		return MIG_ERR_NOMEM;
	if ((wk->actx = mig_ctx_new()) == NULL ||
	    (wk->buf = malloc(MIG_RUN_READ_CHUNK)) == NULL)
		return MIG_ERR_NOMEM;
	if (!rn->si->moves_data || rn->o->dry_run)
		return 0;
	if (wc != NULL) {
		wk->t = wc->t;
		if ((r = wc->r) != 0)
			return r;
	} else if ((r = mig_transport_open(rn->o->tcfg, wk->ctx,
	    &wk->t)) != 0)
		return r;
	/* The main connection made the run's data/ (run_workers). */
	if (rn->data_made && run_join(dir, sizeof(dir), rn->run_dir,
	    "data") == 0)
		mig_transport_dir_known(wk->t, dir);
	wk->nputs = mig_transport_put_capacity(wk->t);
	if ((wk->puts = calloc(wk->nputs, sizeof(*wk->puts))) == NULL)
		return mig_seterr(wk->ctx, MIG_ERR_NOMEM, "out of memory");
	return 0;
}

void
run_worker_close(struct worker *wk)
{
	size_t i;

	/* Every object in flight is taken in before the connection goes. */
	if (wk->t != NULL)
		put_collect(wk, PUT_ALL);
	for (i = 0; i < wk->nputs; i++)
		mig_writer_free(wk->puts[i].mem);
	free(wk->puts);
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
		/*
		 * Room for the next object, if it goes whole: taking the
		 * finished ones in first also lets a failure among them stop
		 * the run before another object starts.
		 */
		if (wk.nputs > 0 && wk.inflight == wk.nputs)
			put_collect(&wk, PUT_ONE);
		pthread_mutex_lock(&rn->mu);
		while (rn->next < rn->nobj &&
		    rn->objs[rn->next].state != OBJ_PENDING)
			rn->next++, run_touch(rn);
		i = rn->fatal == 0 ? rn->next++ : rn->nobj;
		run_touch(rn);
		pthread_mutex_unlock(&rn->mu);
		if (i >= rn->nobj)
			break;
		mig_clearerr(wk.ctx);
		process_file(&wk, &rn->objs[i]);
	}
	run_worker_close(&wk);
	return NULL;
}

int
run_workers(struct run *rn, int jobs)
{
	pthread_t tids[RUN_JOBS_MAX];
	char dir[PATH_MAX];
	size_t pending = 0, i;
	int n, k, started = 0;
	bool lands = false;

	for (i = 0; i < rn->nobj; i++, run_touch(rn))
		if (rn->objs[i].state == OBJ_PENDING) {
			pending++;
			/* New since the last run: it lands, or fails. */
			lands |= obj_prev_sha(rn, &rn->objs[i]) == NULL;
		}
	n = jobs < 1 ? 1 : jobs > RUN_JOBS_MAX ? RUN_JOBS_MAX : jobs;
	if ((size_t)n > pending)
		n = pending == 0 ? 0 : (int)pending;
	/*
	 * The run's data/ is made once, here, while the workers' connections
	 * are still coming up (run_warm_start), and each of them takes it as
	 * made: otherwise every connection walks the chain again, a round
	 * trip per level over a WAN, and the landed check once more.  Only
	 * when an object surely lands: a run whose files may all turn out
	 * unchanged must leave no run directory behind (snapshot_runs.sh).
	 */
	if (n > 0 && lands && rn->t != NULL && rn->si->moves_data &&
	    !rn->o->dry_run &&
	    run_join(dir, sizeof(dir), rn->run_dir, "data") == 0 &&
	    mig_transport_mkdir_p(rn->t, dir) == 0)
		rn->data_made = true;
	mig_clearerr(rn->ctx);
	for (k = 0; k < n; k++) {
		if (pthread_create(&tids[k], NULL, worker_main, rn) != 0)
			break;
		started++;
	}
	if (n > 0 && started == 0)
		worker_main(rn);
	/*
	 * While the workers land, the main connection gets ready for the
	 * bag's tag files, which go in flight together (run_finish.c).
	 */
	if (started > 0 && rn->t != NULL)
		mig_transport_put_prepare(rn->t, RUN_TAG_PUTS);
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
