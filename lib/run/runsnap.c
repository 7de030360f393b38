/*
 * A run's snapshot (snapshot.c) from the run's side: the previous
 * snapshot read back from the local state, drift against it, and this
 * run's snapshot written to the lake (encrypted) and to the local state
 * (plaintext, the next run's previous one) in one pass.
 *
 * The previous snapshot and the objects are both sorted by path, so they
 * are joined by merges as the snapshot is read, not by lookups, and the
 * previous snapshot is never held in memory.
 */
#define MIG_RUN_INTERNAL
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "migrate/age.h"
#include "migrate/audit.h"
#include "migrate/plan.h"
#include "migrate/stream.h"
#include "migrate/transport.h"
#include "migrate/util.h"

#include "run_core.h"

#define SNAP_FILE	"snapshot.jsonl"
#define SNAP_NEXT	"snapshot.jsonl.next"
/* The state of the version before snapshots. */
#define LEGACY_FILE	"last.json"

/*
 * The previous snapshot is read as a stream, up to three times (joining
 * the objects to their past, drift, and the entries of unchanged files in
 * this run's snapshot), never held: it is as long as the source.  The run
 * holds the state lock, so the file stays the same between passes.
 */
static int
open_prev(struct run *rn, struct snap_reader **srp)
{
	char path[PATH_MAX];
	int r;

	(void)run_join(path, sizeof(path), rn->state_dir, SNAP_FILE);
	if ((r = snap_open_file(path, srp, rn->ctx)) != 0)
		return r;
	if (strcmp(snap_header_of(*srp)->run, rn->parent) != 0) {
		r = mig_seterr(rn->ctx, MIG_ERR_INTERNAL, "%s: changed "
		    "during the run (run %s, was %s)", path,
		    snap_header_of(*srp)->run, rn->parent);
		snap_reader_free(*srp);
		*srp = NULL;
	}
	return r;
}

/*
 * The next entry, checked to come after *last (a merge needs the order);
 * *last then holds its path.  1, 0 at the end, or an error.
 */
static int
prev_next(struct run *rn, struct snap_reader *sr, struct snap_entry *e,
    char **last)
{
	char *copy;
	int r;

	if ((r = snap_next(sr, e)) != 1)
		return r;
	if (*last != NULL && strcmp(*last, e->path) >= 0)
		return mig_seterr(rn->ctx, MIG_ERR_FORMAT, "%s/%s: \"%s\" comes "
		    "after \"%s\": the snapshot is not in path order",
		    rn->state_dir, SNAP_FILE, e->path, *last);
	if ((copy = strdup(e->path)) == NULL)
		return mig_seterr(rn->ctx, MIG_ERR_NOMEM, "out of memory");
	free(*last);
	*last = copy;
	return 1;
}

/* The distinct bags the previous snapshot points into. */
struct bagset {
	struct mig_htab	 idx;
	char		**v;
	size_t		 n, cap;
	const char	*last;
};

static void
bagset_free(struct bagset *b)
{
	size_t i;

	mig_htab_free(&b->idx);
	for (i = 0; i < b->n; i++)
		free(b->v[i]);
	free(b->v);
}

/*
 * The local state says what landed, but the lake is the truth: a lake
 * wiped, restored from an older backup or swapped for another would
 * otherwise get a run of "unchanged" files whose objects are nowhere.
 * Every bag the previous snapshot points into must still be published
 * (one stat of its _SUCCESS per distinct bag, not per file).  Sets
 * *published to false for one that is not, and *missing to its name
 * (owned by b); other errors are returned.
 */
static int
bag_published(struct run *rn, struct bagset *b, const char *bag,
    bool *published, const char **missing)
{
	char marker[PATH_MAX], *copy, **nv;
	struct mig_tstat st;
	bool dup;
	int r;

	if (b->last != NULL && strcmp(bag, b->last) == 0)
		return 0;
	if (mig_htab_get(&b->idx, bag, NULL))
		return 0;
	if (b->n == b->cap) {
		b->cap = b->cap == 0 ? 8 : b->cap * 2;
		if ((nv = reallocarray(b->v, b->cap, sizeof(*nv))) == NULL)
			return mig_seterr(rn->ctx, MIG_ERR_NOMEM,
			    "out of memory");
		b->v = nv;
	}
	if ((copy = strdup(bag)) == NULL ||
	    mig_htab_put(&b->idx, copy, b->n, &dup, NULL) != 0) {
		free(copy);
		return mig_seterr(rn->ctx, MIG_ERR_NOMEM, "out of memory");
	}
	b->v[b->n++] = copy;
	b->last = copy;
	if (run_join(marker, sizeof(marker), bag, "_SUCCESS") != 0)
		r = MIG_ERR_NOTFOUND;
	else if ((r = mig_transport_stat(rn->t, marker, &st)) ==
	    MIG_ERR_NOTFOUND)
		mig_clearerr(rn->ctx);
	if (r == MIG_ERR_NOTFOUND) {
		*published = false;
		*missing = copy;
		r = 0;
	}
	return r;
}

/* What the run compares of a file's past, kept in its object. */
static void
attach_prev(struct obj *ob, const struct snap_entry *e)
{
	ob->has_prev = true;
	ob->prev_mode = e->mode;
	ob->prev_mtime = e->mtime;
	ob->prev_sha_known = strlen(e->sha256) == 64 &&
	    mig_hex_decode(e->sha256, ob->prev_sha, 32) == 0;
}

/* Both in path order: one merge joins each object to its past. */
static int
join_prev(struct run *rn, struct snap_reader *sr, bool *published,
    const char **missing, struct bagset *bags)
{
	struct snap_entry e;
	char *last = NULL;
	size_t i = 0;
	int r = 0, c = 0;

	*published = true;
	while (*published && (r = prev_next(rn, sr, &e, &last)) == 1) {
		run_touch(rn);
		if (e.bag != NULL && (r = bag_published(rn, bags, e.bag,
		    published, missing)) != 0)
			break;
		while (i < rn->nobj && (c = strcmp(rn->objs[i].path,
		    e.path)) < 0)
			i++, run_touch(rn);
		if (i < rn->nobj && c == 0)
			attach_prev(&rn->objs[i++], &e);
	}
	free(last);
	return r < 0 ? r : 0;
}

int
runsnap_load_prev(struct run *rn)
{
	const char *missing = NULL;
	struct snap_reader *sr = NULL;
	struct bagset bags;
	char path[PATH_MAX];
	bool published;
	size_t i;
	int r;

	(void)run_join(path, sizeof(path), rn->state_dir, SNAP_FILE);
	if (access(path, F_OK) != 0) {
		(void)run_join(path, sizeof(path), rn->state_dir,
		    LEGACY_FILE);
		if (access(path, F_OK) == 0)
			run_note(rn, "%s: state of an earlier version without "
			    "snapshots: this run lands every file once",
			    path);
		return 0;
	}
	if ((r = snap_open_file(path, &sr, rn->ctx)) != 0)
		return r;
	(void)snprintf(rn->parent, sizeof(rn->parent), "%s",
	    snap_header_of(sr)->run);
	memset(&bags, 0, sizeof(bags));
	r = join_prev(rn, sr, &published, &missing, &bags);
	snap_reader_free(sr);
	if (r == 0 && !published) {
		run_note(rn, "the previous snapshot (run %s) has files in %s, "
		    "which is not published in the lake (removed, or another "
		    "lake at this URL): this run lands every file again",
		    rn->parent, missing);
		for (i = 0; i < rn->nobj; i++, run_touch(rn))
			rn->objs[i].has_prev = false;
		rn->parent[0] = '\0';
	} else if (r == 0)
		rn->have_prev = true;
	bagset_free(&bags);
	return r;
}

/* The drift of one object against its past; counts into the summary. */
static const char *
drift_of(struct run *rn, const struct obj *ob, uint64_t *differs)
{
	if (!rn->have_prev)
		return "first";
	if (!ob->has_prev) {
		rn->sum->drift_new++;
		(*differs)++;
		return "new";
	}
	if (!ob->prev_sha_known || memcmp(ob->prev_sha, ob->sha, 32) != 0) {
		rn->sum->drift_changed++;
		(*differs)++;
		return "changed";
	}
	if (ob->prev_mode != (ob->mode & 07777) || ob->prev_mtime != ob->mtime)
		(*differs)++;
	return "unchanged";
}

/* Vanished: in the previous snapshot, not in this run (a second merge). */
static int
drift_vanished(struct run *rn, bool audit_each, uint64_t *differs)
{
	struct snap_reader *sr = NULL;
	struct snap_entry e;
	char *last = NULL;
	size_t i = 0;
	int r, c = 1;

	if ((r = open_prev(rn, &sr)) != 0)
		return r;
	while ((r = prev_next(rn, sr, &e, &last)) == 1) {
		run_touch(rn);
		while (i < rn->nobj && (c = strcmp(rn->objs[i].path,
		    e.path)) < 0)
			i++, run_touch(rn);
		if (i < rn->nobj && c == 0)
			continue;
		rn->sum->drift_vanished++;
		(*differs)++;
		if (audit_each) {
			run_note(rn, "drift: vanished %s", e.path);
			(void)run_audit(rn, MIG_AUDIT_OBJ_RETAINED, json_pack(
			    "{s:s, s:s}", "object", e.path, "drift",
			    "vanished"), rn->ctx);
		}
	}
	free(last);
	snap_reader_free(sr);
	return r < 0 ? r : 0;
}

/*
 * New, changed, vanished and touched (same content, other mode or mtime)
 * against the previous snapshot; retain records each file.  *differsp:
 * the number of paths whose entry differs from the previous snapshot's.
 */
int
runsnap_drift(struct run *rn, bool audit_each, uint64_t *differsp)
{
	const char *drift;
	uint64_t differs = 0;
	size_t i;
	int r = 0;

	for (i = 0; i < rn->nobj; i++, run_touch(rn)) {
		const struct obj *ob = &rn->objs[i];

		if (ob->state == OBJ_FAILED || ob->state == OBJ_PENDING)
			continue;
		drift = drift_of(rn, ob, &differs);
		if (!audit_each)
			continue;
		if (strcmp(drift, "new") == 0 || strcmp(drift, "changed") == 0)
			run_note(rn, "drift: %s %s", strcmp(drift, "new") == 0 ?
			    "new file" : "changed", ob->path);
		(void)run_audit(rn, MIG_AUDIT_OBJ_RETAINED, json_pack("{s:s, "
		    "s:I, s:s}", "object", ob->path, "bytes",
		    (json_int_t)ob->size, "drift", drift), rn->ctx);
	}
	if (rn->have_prev)
		r = drift_vanished(rn, audit_each, &differs);
	*differsp = differs;
	return r;
}

/*
 * The snapshot entry of ob in this run; prev is its entry in the previous
 * snapshot (NULL: none), whose object an unchanged file keeps.
 */
static void
entry_of(struct run *rn, const struct obj *ob, const struct snap_entry *prev,
    const struct obj *arch, char *member, size_t msize, struct snap_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->path = ob->path;
	e->size = ob->size;
	e->mode = ob->mode & 07777;
	e->mtime = ob->mtime;
	mig_hex_encode(ob->sha, 32, e->sha256);
	if (ob->state == OBJ_UNCHANGED && prev != NULL) {
		/* Its object stays where an earlier run landed it. */
		memcpy(e->run, prev->run, sizeof(e->run));
		e->bag = prev->bag;
		e->object = prev->object;
		e->stored_size = prev->stored_size;
		memcpy(e->stored_sha256, prev->stored_sha256,
		    sizeof(e->stored_sha256));
	} else if (ob->dest != NULL) {
		(void)snprintf(e->run, sizeof(e->run), "%s", rn->run_id);
		e->bag = rn->run_dir;
		e->object = ob->dest;
		e->stored_size = ob->stored_size;
		mig_hex_encode(ob->csha, 32, e->stored_sha256);
	} else if (arch != NULL) {
		(void)snprintf(e->run, sizeof(e->run), "%s", rn->run_id);
		e->bag = rn->run_dir;
		if (rn->p->strategy == MIG_STRATEGY_REPURCHASE)
			(void)snprintf(member, msize, "%s/data/%s",
			    rn->p->name, ob->path);
		else
			(void)snprintf(member, msize, "%s", ob->path);
		e->archive = arch->dest;
		e->member = member;
	}
}

/* The lake's manifest: the snapshot through age, hashing what is stored. */
static int
open_lake_writer(struct run *rn, struct mig_writer **sinkp,
    struct mig_writer **cshap, struct mig_writer **agep)
{
	char path[PATH_MAX];
	int r;

	(void)run_join(path, sizeof(path), rn->run_dir,
	    "migrate-manifest.json.age");
	/* In place: the run directory has no _SUCCESS yet. */
	if ((r = mig_transport_open_write_unpublished(rn->t, path, -1,
	    sinkp)) != 0 ||
	    (r = mig_sha256_writer_new(*sinkp, rn->ctx, cshap)) != 0 ||
	    (r = mig_age_encrypt_writer_new(rn->o->recipients, false,
	    *cshap, rn->ctx, agep)) != 0)
		return r;
	return 0;
}

int
runsnap_write(struct run *rn, const struct obj *arch, bool to_lake,
    char lake_hex[65])
{
	struct mig_writer *sink = NULL, *csha = NULL, *age = NULL;
	struct mig_writer *local = NULL, *tee = NULL, *w;
	struct snap_reader *sr = NULL;
	struct snap_header h;
	struct snap_entry e, pe;
	char path[PATH_MAX], member[MIG_PATH_MAX + 300], *last = NULL;
	unsigned char md[32];
	uint64_t n;
	size_t i;
	int r, pr = 1;

	memset(&h, 0, sizeof(h));
	(void)snprintf(h.run, sizeof(h.run), "%s", rn->run_id);
	(void)snprintf(h.parent, sizeof(h.parent), "%s", rn->parent);
	(void)snprintf(h.plan, sizeof(h.plan), "%s", rn->p->name);
	(void)snprintf(h.strategy, sizeof(h.strategy), "%s", rn->si->name);
	h.compressed = rn->p->compress;
	if (arch != NULL) {
		h.archive = arch->dest;
		h.archive_stored_size = arch->stored_size;
		mig_hex_encode(arch->csha, 32, h.archive_stored_sha256);
	}
	(void)run_join(path, sizeof(path), rn->state_dir, SNAP_NEXT);
	if ((r = mig_file_writer_new(path, 0600, true, rn->ctx, &local)) != 0 ||
	    (r = mig_file_writer_set_durable(local, true)) != 0)
		goto out;
	w = local;
	if (to_lake) {
		if ((r = open_lake_writer(rn, &sink, &csha, &age)) != 0 ||
		    (r = mig_tee_writer_new(age, local, rn->ctx, &tee)) != 0)
			goto out;
		w = tee;
	}
	if ((r = snap_write_header(w, &h, rn->ctx)) != 0 ||
	    (rn->have_prev && (r = open_prev(rn, &sr)) != 0))
		goto out;
	for (i = 0; i < rn->nobj; i++, run_touch(rn)) {
		const struct obj *ob = &rn->objs[i];

		if (ob->state == OBJ_FAILED || ob->state == OBJ_PENDING)
			continue;
		/* The past of an unchanged file, from the same merge. */
		if (ob->state == OBJ_UNCHANGED && sr != NULL) {
			while (pr == 1 && (last == NULL ||
			    strcmp(last, ob->path) < 0))
				pr = prev_next(rn, sr, &pe, &last);
			if (pr < 0) {
				r = pr;
				goto out;
			}
		}
		entry_of(rn, ob, ob->state == OBJ_UNCHANGED && pr == 1 &&
		    strcmp(last, ob->path) == 0 ? &pe : NULL, arch, member,
		    sizeof(member), &e);
		if ((r = snap_write_entry(w, &e, rn->ctx)) != 0)
			goto out;
	}
	if ((r = mig_writer_close(w)) != 0)
		goto out;
	if (to_lake) {
		mig_sha256_writer_result(csha, md, &n);
		mig_hex_encode(md, sizeof(md), lake_hex);
	}
out:
	snap_reader_free(sr);
	free(last);
	mig_writer_free(tee);
	mig_writer_free(age);
	mig_writer_free(csha);
	mig_writer_free(sink);
	mig_writer_free(local);
	return r;
}

int
runsnap_commit(struct run *rn)
{
	char from[PATH_MAX], to[PATH_MAX];

	(void)run_join(from, sizeof(from), rn->state_dir, SNAP_NEXT);
	(void)run_join(to, sizeof(to), rn->state_dir, SNAP_FILE);
	if (access(from, F_OK) == 0 && rename(from, to) != 0)
		return mig_seterr(rn->ctx, MIG_ERR_IO, "%s: %s", to,
		    strerror(errno));
	/* The state before snapshots is not needed any more. */
	(void)run_join(to, sizeof(to), rn->state_dir, LEGACY_FILE);
	(void)unlink(to);
	return 0;
}
