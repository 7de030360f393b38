/*
 * A run's snapshot (snapshot.c) from the run's side: the previous
 * snapshot read back from the local state, drift against it, and this
 * run's snapshot written to the lake (encrypted) and to the local state
 * (plaintext, the next run's previous one) in one pass.
 *
 * The previous snapshot and the objects are both sorted by path, so they
 * are joined by one merge, not by lookups.
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

static void
entry_free(struct snap_entry *e)
{
	free(e->path);
	free(e->bag);
	free(e->object);
	free(e->archive);
	free(e->member);
	OPENSSL_cleanse(e->sha256, sizeof(e->sha256));
}

void
runsnap_free(struct run *rn)
{
	size_t i;

	for (i = 0; i < rn->nprev; i++)
		entry_free(&rn->prev[i]);
	free(rn->prev);
	rn->prev = NULL;
	rn->nprev = 0;
}

static int
prev_add(struct run *rn, const struct snap_entry *e)
{
	struct snap_entry *nv, *d;
	bool nomem = false;

	if (rn->nprev == rn->prevcap) {
		size_t cap = rn->prevcap == 0 ? 256 : rn->prevcap * 2;

		if ((nv = reallocarray(rn->prev, cap, sizeof(*nv))) == NULL)
			return mig_seterr(rn->ctx, MIG_ERR_NOMEM,
			    "out of memory");
		rn->prev = nv;
		rn->prevcap = cap;
	}
	d = &rn->prev[rn->nprev];
	*d = *e;
	d->path = mig_strdup_or_null(e->path, &nomem);
	d->bag = mig_strdup_or_null(e->bag, &nomem);
	d->object = mig_strdup_or_null(e->object, &nomem);
	d->archive = mig_strdup_or_null(e->archive, &nomem);
	d->member = mig_strdup_or_null(e->member, &nomem);
	if (nomem) {
		entry_free(d);
		return mig_seterr(rn->ctx, MIG_ERR_NOMEM, "out of memory");
	}
	rn->nprev++;
	return 0;
}

/*
 * The local state says what landed, but the lake is the truth: a lake
 * wiped, restored from an older backup or swapped for another would
 * otherwise get a run of "unchanged" files whose objects are nowhere.
 * Every bag the previous snapshot points into must still be published
 * (one stat of its _SUCCESS per distinct bag, not per file).  Sets
 * *missing to the first that is not; other errors are returned.
 */
static int
prev_bags_published(struct run *rn, const char **missing)
{
	struct mig_htab seen = { 0 };
	const char *last = NULL, *bag;
	char marker[PATH_MAX];
	struct mig_tstat st;
	bool dup;
	size_t i;
	int r = 0;

	*missing = NULL;
	for (i = 0; i < rn->nprev && r == 0 && *missing == NULL; i++) {
		if ((bag = rn->prev[i].bag) == NULL ||
		    (last != NULL && strcmp(bag, last) == 0))
			continue;
		last = bag;
		if ((r = mig_htab_put(&seen, bag, 0, &dup, NULL)) != 0) {
			r = mig_seterr(rn->ctx, r, "out of memory");
			break;
		}
		if (dup)
			continue;
		if (run_join(marker, sizeof(marker), bag, "_SUCCESS") != 0)
			*missing = bag;
		else if ((r = mig_transport_stat(rn->t, marker, &st)) ==
		    MIG_ERR_NOTFOUND) {
			mig_clearerr(rn->ctx);
			*missing = bag;
			r = 0;
		}
	}
	mig_htab_free(&seen);
	return r;
}

int
runsnap_load_prev(struct run *rn)
{
	const char *missing;
	struct snap_reader *sr = NULL;
	struct snap_entry e;
	char path[PATH_MAX];
	size_t i, j;
	int r, c;

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
	while ((r = snap_next(sr, &e)) == 1)
		if ((r = prev_add(rn, &e)) != 0)
			break;
	snap_reader_free(sr);
	if (r != 0 || (r = prev_bags_published(rn, &missing)) != 0)
		return r;
	if (missing != NULL) {
		run_note(rn, "the previous snapshot (run %s) has files in %s, "
		    "which is not published in the lake (removed, or another "
		    "lake at this URL): this run lands every file again",
		    rn->parent, missing);
		runsnap_free(rn);
		rn->parent[0] = '\0';
		return 0;
	}
	/* Both sorted by path: one merge attaches each file's past. */
	for (i = 0, j = 0; i < rn->nobj && j < rn->nprev; ) {
		c = strcmp(rn->objs[i].path, rn->prev[j].path);
		if (c == 0)
			rn->objs[i++].prev = &rn->prev[j++];
		else if (c < 0)
			i++;
		else
			j++;
	}
	rn->have_prev = true;
	return 0;
}

/*
 * New, changed, vanished and touched (same content, other mode or mtime)
 * against the previous snapshot; retain records each file.  Returns the
 * number of paths whose entry differs from the previous snapshot's.
 */
uint64_t
runsnap_drift(struct run *rn, bool audit_each)
{
	uint64_t differs = 0;
	size_t i, j;
	int c;

	for (i = 0; i < rn->nobj; i++) {
		const struct obj *ob = &rn->objs[i];
		const char *drift = "unchanged";

		if (ob->state == OBJ_FAILED || ob->state == OBJ_PENDING)
			continue;
		if (!rn->have_prev)
			drift = "first";
		else if (ob->prev == NULL) {
			drift = "new";
			rn->sum->drift_new++;
		} else if (strcmp(ob->prev->sha256, ob->sha) != 0) {
			drift = "changed";
			rn->sum->drift_changed++;
		} else if (ob->prev->mode != (ob->mode & 07777) ||
		    ob->prev->mtime != ob->mtime)
			differs++;
		if (strcmp(drift, "new") == 0 || strcmp(drift, "changed") == 0)
			differs++;
		if (!audit_each)
			continue;
		if (strcmp(drift, "new") == 0 || strcmp(drift, "changed") == 0)
			run_note(rn, "drift: %s %s", strcmp(drift, "new") == 0 ?
			    "new file" : "changed", ob->path);
		(void)run_audit(rn, MIG_AUDIT_OBJ_RETAINED, json_pack("{s:s, "
		    "s:I, s:s}", "object", ob->path, "bytes",
		    (json_int_t)ob->size, "drift", drift), rn->ctx);
	}
	/* Vanished: in the previous snapshot, not in this one. */
	for (i = 0, j = 0; j < rn->nprev; ) {
		c = i < rn->nobj ? strcmp(rn->objs[i].path,
		    rn->prev[j].path) : 1;
		if (c == 0) {
			i++;
			j++;
			continue;
		}
		if (c < 0) {
			i++;
			continue;
		}
		rn->sum->drift_vanished++;
		differs++;
		if (audit_each) {
			run_note(rn, "drift: vanished %s", rn->prev[j].path);
			(void)run_audit(rn, MIG_AUDIT_OBJ_RETAINED, json_pack(
			    "{s:s, s:s}", "object", rn->prev[j].path, "drift",
			    "vanished"), rn->ctx);
		}
		j++;
	}
	return differs;
}

/* The snapshot entry of ob in this run. */
static void
entry_of(struct run *rn, const struct obj *ob, const struct obj *arch,
    char *member, size_t msize, struct snap_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->path = ob->path;
	e->size = ob->size;
	e->mode = ob->mode & 07777;
	e->mtime = ob->mtime;
	memcpy(e->sha256, ob->sha, sizeof(e->sha256));
	if (ob->state == OBJ_UNCHANGED && ob->prev != NULL) {
		/* Its object stays where an earlier run landed it. */
		memcpy(e->run, ob->prev->run, sizeof(e->run));
		e->bag = ob->prev->bag;
		e->object = ob->prev->object;
		e->stored_size = ob->prev->stored_size;
		memcpy(e->stored_sha256, ob->prev->stored_sha256,
		    sizeof(e->stored_sha256));
	} else if (ob->dest != NULL) {
		(void)snprintf(e->run, sizeof(e->run), "%s", rn->run_id);
		e->bag = rn->run_dir;
		e->object = ob->dest;
		e->stored_size = ob->stored_size;
		memcpy(e->stored_sha256, ob->csha, sizeof(e->stored_sha256));
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
	if ((r = mig_transport_open_write(rn->t, path, -1, sinkp)) != 0 ||
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
	struct snap_header h;
	struct snap_entry e;
	char path[PATH_MAX], member[MIG_PATH_MAX + 300];
	unsigned char md[32];
	uint64_t n;
	size_t i;
	int r;

	memset(&h, 0, sizeof(h));
	(void)snprintf(h.run, sizeof(h.run), "%s", rn->run_id);
	(void)snprintf(h.parent, sizeof(h.parent), "%s", rn->parent);
	(void)snprintf(h.plan, sizeof(h.plan), "%s", rn->p->name);
	(void)snprintf(h.strategy, sizeof(h.strategy), "%s", rn->si->name);
	h.compressed = rn->p->compress;
	if (arch != NULL) {
		h.archive = arch->dest;
		h.archive_stored_size = arch->stored_size;
		memcpy(h.archive_stored_sha256, arch->csha, 65);
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
	if ((r = snap_write_header(w, &h, rn->ctx)) != 0)
		goto out;
	for (i = 0; i < rn->nobj; i++) {
		const struct obj *ob = &rn->objs[i];

		if (ob->state == OBJ_FAILED || ob->state == OBJ_PENDING)
			continue;
		entry_of(rn, ob, arch, member, sizeof(member), &e);
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
