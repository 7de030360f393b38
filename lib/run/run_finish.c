/*
 * Finishing a run whose objects all landed, each step durable before the
 * next: bring an unfinished bag to exactly this run's objects, check that
 * every object is in the lake with the size written, write the snapshot
 * (migrate-manifest.json.age), audit verify.ok, run.end and a checkpoint,
 * write the bag's tag files (bag-info carries the audit head) and its
 * seal, sweep temporaries, and write _SUCCESS last.
 */
#define MIG_LAKE_INTERNAL
#define MIG_RUN_INTERNAL
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "migrate/audit.h"
#include "migrate/bagit.h"
#include "migrate/error.h"
#include "migrate/plan.h"
#include "migrate/run.h"
#include "migrate/transport.h"

#include "../lake/layout_int.h"
#include "run_core.h"

#ifndef MIG_VERSION
#define MIG_VERSION "unknown"
#endif

/*
 * After _SUCCESS: this run's snapshot (written durably before it) becomes
 * the previous one, and the run is no longer unfinished.  A crash between
 * the two is finished by the next run (run_decide), which never touches
 * the published bag again.
 */
int
run_commit_last(struct run *rn)
{
	int r;

	if ((r = runsnap_commit(rn)) != 0)
		return r;
	return state_clear_current(rn->state_dir, rn->ctx);
}

/*
 * The bag's seal (lib/lake/seal.c): the audit key's signature over the tag
 * manifest, the run id, the bag's place and the audit head, so that
 * nobody who can merely write to the lake can make a bag that verifies.
 */
static int
put_seal(struct run *rn, const char *tagmanifest_hex, const char *head)
{
	struct mig_seal seal;
	char path[PATH_MAX], *note = NULL;
	int r;

	memset(&seal, 0, sizeof(seal));
	(void)snprintf(seal.run, sizeof(seal.run), "%s", rn->run_id);
	if (strlen(rn->run_dir) >= sizeof(seal.dir))
		return mig_seterr(rn->ctx, MIG_ERR_USAGE, "%s: run path too "
		    "long for a seal", rn->run_dir);
	memcpy(seal.dir, rn->run_dir, strlen(rn->run_dir) + 1);
	(void)snprintf(seal.plan, sizeof(seal.plan), "%s", rn->p->name);
	(void)snprintf(seal.plan_sha256, sizeof(seal.plan_sha256), "%s",
	    rn->p->sha256);
	memcpy(seal.tagmanifest_sha256, tagmanifest_hex, 65);
	(void)snprintf(seal.audit_head, sizeof(seal.audit_head), "%s", head);
	if ((r = mig_seal_make(rn->o->seal_key, &seal, &note, rn->ctx)) != 0)
		return mig_preferr(rn->ctx, "%s: seal", rn->run_dir);
	(void)run_join(path, sizeof(path), rn->run_dir, MIG_SEAL_FILE);
	/* In place: the run directory has no _SUCCESS yet. */
	r = mig_transport_put_unpublished(rn->t, path, note, strlen(note));
	free(note);
	return r;
}

/* --- Crash-exact resume: the bag holds exactly this run's objects -------- */

struct prune {
	struct run		*rn;
	const struct obj	**ord;	/* the bag's objects, by dest */
	size_t			 n;
};

/* Whether data/REL is an object of the bag: a binary search by dest. */
static bool
prune_keep(void *arg, const char *rel)
{
	const struct prune *pr = arg;
	size_t lo = 0, hi = pr->n, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(rel, pr->ord[mid]->dest + 5);
		if (c == 0)
			return true;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return false;
}

static int
prune_removed(void *arg, const char *rel)
{
	struct run *rn = ((struct prune *)arg)->rn;
	char dest[PATH_MAX];

	(void)snprintf(dest, sizeof(dest), "data/%s", rel);
	run_note(rn, "removed %s from the unfinished bag: not in this run any "
	    "more", dest);
	return run_audit(rn, MIG_AUDIT_OBJ_REMOVED, json_pack("{s:s, s:s}",
	    "dest", dest, "reason", "landed by an earlier attempt of this "
	    "run, but its source file vanished or changed before the run "
	    "finished"), rn->ctx);
}

/*
 * The run is on record as complete before its bag is published (the
 * record's checkpoint goes into bag-info.txt), so a publication that then
 * fails is put on record too: the log must not end by calling complete a
 * run that no reader of the lake can see.  rn->ctx keeps the error.
 */
static void
audit_unpublished(struct run *rn)
{
	struct mig_ctx *c2 = mig_ctx_new();

	if (c2 == NULL)
		return;
	if (run_audit(rn, MIG_AUDIT_RUN_END, json_pack("{s:s, s:s, s:s}",
	    "outcome", "unpublished", "reason", mig_errmsg(rn->ctx), "resume",
	    "run the same command again"), c2) == 0 && rn->o->audit != NULL)
		(void)mig_audit_checkpoint(rn->o->audit, rn->run_id, NULL, c2);
	mig_ctx_free(c2);
}

/*
 * A resumed run may find objects of its earlier attempts whose source
 * files have since vanished (or files another hand put there): before the
 * manifests are written, data/ is brought to exactly the objects of this
 * bag, each removal audited, so that the bag verifies.
 */
static int
reconcile_bag(struct run *rn, const struct obj *arch)
{
	struct prune pr = { rn, NULL, 0 };
	char dir[PATH_MAX];
	int r;

	/* An index of the bag's objects (8 B each), only when resuming. */
	if ((r = run_bag_order(rn, arch, true, &pr.ord, &pr.n)) != 0)
		return r;
	(void)run_join(dir, sizeof(dir), rn->run_dir, "data");
	r = mig_lake_prune(rn->t, dir, prune_keep, prune_removed, &pr, rn->ctx);
	free(pr.ord);
	return r;
}

bool
run_in_bag(const struct obj *ob, const struct obj *arch)
{
	return ob->dest != NULL && (ob == arch || ob->state == OBJ_STORED ||
	    ob->state == OBJ_ALREADY);
}

static int
dest_cmp(const void *a, const void *b)
{
	return strcmp((*(const struct obj *const *)a)->dest,
	    (*(const struct obj *const *)b)->dest);
}

int
run_bag_order(struct run *rn, const struct obj *arch, bool always,
    const struct obj ***ordp, size_t *np)
{
	const struct obj **ord, *prev = NULL;
	bool sorted = true;
	size_t i, n = 0;

	*ordp = NULL;
	for (i = 0; i < rn->nobj + (arch != NULL); i++, run_touch(rn)) {
		const struct obj *ob = i < rn->nobj ? &rn->objs[i] : arch;

		if (!run_in_bag(ob, arch))
			continue;
		if (prev != NULL && strcmp(prev->dest, ob->dest) >= 0)
			sorted = false;
		prev = ob;
		n++;
	}
	*np = n;
	if (sorted && !always)
		return 0;
	if ((ord = calloc(n + 1, sizeof(*ord))) == NULL)
		return mig_seterr(rn->ctx, MIG_ERR_NOMEM, "out of memory");
	for (i = 0, n = 0; i < rn->nobj + (arch != NULL); i++, run_touch(rn)) {
		const struct obj *ob = i < rn->nobj ? &rn->objs[i] : arch;

		if (run_in_bag(ob, arch))
			ord[n++] = ob;
	}
	if (!sorted)
		qsort(ord, n, sizeof(*ord), dest_cmp);
	*ordp = ord;
	return 0;
}

/*
 * The bag's manifest, written as it is made: every object of this run
 * that is in the lake, and the archive object if any.  Its digest and
 * totals go into m for the tag files.
 */
static int
write_manifest(struct run *rn, const struct obj *arch,
    struct mig_bag_manifest *m, uint64_t *nobjp, uint64_t *bytesp)
{
	struct mig_bag_manifest_writer *mw = NULL;
	const struct obj **ord = NULL, *ob;
	size_t i, k, n;
	int r;

	*nobjp = *bytesp = 0;
	if ((r = run_bag_order(rn, arch, false, &ord, &n)) != 0 ||
	    (r = mig_bag_manifest_writer_open(rn->t, rn->run_dir, true, rn->ctx,
	    &mw)) != 0)
		goto out;
	for (i = 0, k = 0; k < n; i++, run_touch(rn)) {
		ob = ord != NULL ? ord[k] : i < rn->nobj ? &rn->objs[i] : arch;
		if (ord == NULL && !run_in_bag(ob, arch))
			continue;
		k++;
		if ((r = mig_bag_manifest_writer_add(mw, ob->dest + 5,
		    ob->csha, ob->stored_size)) != 0)
			goto out;
		(*nobjp)++;
		*bytesp += ob->stored_size;
	}
	r = mig_bag_manifest_writer_close(mw, m);
out:
	mig_bag_manifest_writer_free(mw);
	free(ord);
	return r;
}

/*
 * The record holds the bag's object count and the digest of its
 * manifest: verify accepts the bag only if it agrees.
 */
static int
audit_run_end(struct run *rn, const struct mig_bag_manifest *m,
    uint64_t nobj, const char *snapshot_hex)
{
	char mdigest[65];
	int r;

	if ((r = mig_bag_manifest_digest(m, mdigest, rn->ctx)) != 0)
		return r;
	return run_audit(rn, MIG_AUDIT_RUN_END, json_pack("{s:s, s:I, s:I, s:I,"
	    " s:I, s:I, s:I, s:I, s:s?, s:s, s:s, s:f}", "outcome", "complete",
	    "stored", (json_int_t)rn->sum->stored, "unchanged",
	    (json_int_t)rn->sum->unchanged, "failed", (json_int_t)0,
	    "bytes_in", (json_int_t)rn->sum->bytes_in, "bytes_out",
	    (json_int_t)rn->sum->bytes_out, "objects", (json_int_t)nobj,
	    "files", (json_int_t)rn->sum->files, "parent",
	    rn->parent[0] != '\0' ? rn->parent : NULL, "manifest_sha256",
	    mdigest, "snapshot_sha256", snapshot_hex, "seconds",
	    rn->sum->seconds), rn->ctx);
}

/*
 * The bag's tag files (bag-info.txt carries the audit head, when there
 * is one) and then its seal, which signs the tag manifest's digest.
 */
static int
write_tags(struct run *rn, const struct mig_bag_manifest *m, const char *head)
{
	struct mig_bag_tag tags[8];
	struct mig_bag_info info;
	char date[16], tdigest[65];
	struct tm tm;
	time_t now;
	size_t i;
	int r;

	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d", &tm);
	i = 0;
	tags[i++] = (struct mig_bag_tag){ "Bagging-Date", date };
	tags[i++] = (struct mig_bag_tag){ "External-Identifier", rn->run_id };
	tags[i++] = (struct mig_bag_tag){ "Migrate-Strategy", rn->si->name };
	tags[i++] = (struct mig_bag_tag){ "Migrate-Plan", rn->p->name };
	tags[i++] = (struct mig_bag_tag){ "Migrate-Plan-SHA256", rn->p->sha256 };
	if (head[0] != '\0')
		tags[i++] = (struct mig_bag_tag){ "Migrate-Audit-Head", head };
	tags[i++] = (struct mig_bag_tag){ "Bag-Software-Agent",
	    "migrate " MIG_VERSION };
	info.tags = tags;
	info.ntags = i;
	info.unpublished = true;	/* _SUCCESS comes after */
	if ((r = mig_bag_write_tags_digest(rn->t, rn->run_dir, m, &info,
	    tdigest, rn->ctx)) != 0 ||
	    (head[0] != '\0' && rn->o->seal_key != NULL &&
	    (r = put_seal(rn, tdigest, head)) != 0))
		return r;
	return 0;
}

/*
 * _SUCCESS publishes the run.  It is empty, so there is no partial one to
 * fear: it is put whole (put_start) to its own name, on the lane the main
 * connection prepared, not through a temporary and a rename (over SFTP
 * two round trips, not four).  It goes only now, after every other file
 * of the bag was acknowledged durable.
 */
static int
put_success(struct run *rn)
{
	struct mig_put_done d;
	char path[PATH_MAX];
	int r;

	if (run_join(path, sizeof(path), rn->run_dir, "_SUCCESS") != 0)
		return MIG_ERR_INTERNAL;
	if ((r = mig_transport_put_start(rn->t, path, "", 0, rn)) != 0)
		return r;
	if (mig_transport_put_next(rn->t, true, &d) != 1)
		return mig_seterr(rn->ctx, MIG_ERR_INTERNAL, "%s: no answer",
		    path);
	if (d.code != 0)
		return mig_seterr(rn->ctx, d.code, "%s", d.msg);
	return 0;
}

int
run_finish(struct run *rn, const struct obj *arch, const struct timespec *t0)
{
	struct mig_bag_manifest *m = NULL;
	char path[PATH_MAX], hex[65], head[MIG_AUDIT_HEXLEN + 1];
	struct timespec t1;
	uint64_t nobj = 0, bytes = 0;
	int r;

	if ((rn->sum->resumed && (r = reconcile_bag(rn, arch)) != 0) ||
	    (r = run_point(rn, "run.landed", rn->run_dir, rn->nobj,
	    rn->ctx)) != 0 || (r = run_check_landed(rn, arch)) != 0)
		return r;
	/* data/ must exist even when empty (retain). */
	(void)run_join(path, sizeof(path), rn->run_dir, "data");
	if ((m = mig_bag_manifest_new()) == NULL)
		r = mig_seterr(rn->ctx, MIG_ERR_NOMEM, "out of memory");
	else if ((r = mig_transport_mkdir_p(rn->t, path)) == 0)
		r = write_manifest(rn, arch, m, &nobj, &bytes);
	if (r != 0)
		goto out;
	/* The snapshot, to the lake and (for the next run) locally. */
	if ((r = runsnap_write(rn, arch, true, hex)) != 0 ||
	    (r = mig_bag_manifest_add_tagfile(m, "migrate-manifest.json.age",
	    hex, rn->ctx)) != 0)
		goto out;
	if ((r = run_audit(rn, MIG_AUDIT_VERIFY_OK, json_pack("{s:I, s:I, s:s}",
	    "objects", (json_int_t)nobj, "bytes", (json_int_t)bytes, "check",
	    "present with the size written"), rn->ctx)) != 0)
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	rn->sum->seconds = (double)(t1.tv_sec - t0->tv_sec) +
	    (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
	if ((r = audit_run_end(rn, m, nobj, hex)) != 0)
		goto out;
	rn->end_recorded = true;
	head[0] = '\0';
	if (rn->o->audit != NULL && (r = mig_audit_checkpoint(rn->o->audit,
	    rn->run_id, head, rn->ctx)) != 0)
		goto out;
	if ((r = write_tags(rn, m, head)) != 0 ||
	    (r = run_point(rn, "bag.tags", rn->run_dir, 0, rn->ctx)) != 0)
		goto out;
	/*
	 * Temporaries of earlier attempts, or of writes through one.  A
	 * fresh run directory written only in place holds none, and a sweep
	 * is a listing per folder: over a WAN, a round trip each.
	 */
	if ((rn->sum->resumed || !mig_transport_unpublished_in_place(rn->t)) &&
	    (r = mig_lake_sweep_temps(rn->t, rn->run_dir, rn->ctx)) != 0)
		goto out;
	if ((r = put_success(rn)) != 0)
		goto out;
	rn->sum->landed = true;
	(void)run_point(rn, "run.published", rn->run_dir, 0, rn->ctx);
out:
	if (r != 0 && rn->end_recorded)
		audit_unpublished(rn);
	mig_bag_manifest_free(m);
	return r;
}
