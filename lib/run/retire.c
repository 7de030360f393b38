/*
 * retire with delete_source = true: delete only what provably landed.
 *
 * After the run's bag is published, the landed archive is verified deep
 * (decrypted, every member against the manifest).  Then:
 *   - an archive source is deleted only if every one of its members was
 *     selected and landed: nothing refused, skipped, unselected or failed;
 *   - a file of a directory source is deleted only if it landed in this
 *     run and is still the file the inventory saw (dev, ino, size, mtime,
 *     ctime), reached from the source's directory descriptor without
 *     following any link (fdpath.c), so a parent swapped for a link to
 *     elsewhere leads nowhere.
 * Each deletion is an intent first (source.deleting, synced to disk), then
 * the unlink, then source.deleted: a crash between them is settled by the
 * next run (retire_settle_intents) from what the source holds then.
 */
#define MIG_RUN_INTERNAL
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "migrate/audit.h"
#include "migrate/plan.h"
#include "migrate/run.h"

#include "run_core.h"

static void
count_finding(void *arg, enum mig_finding_kind kind, const char *path,
    const char *detail)
{
	struct run *rn = arg;

	(void)kind;
	run_note(rn, "deep verify before deletion: %s: %s", path, detail);
}

static int
deep_verify(struct run *rn)
{
	struct mig_verify_opts vo;
	struct mig_verify_summary vs;
	int r;

	memset(&vo, 0, sizeof(vo));
	vo.plan = rn->p;
	vo.tcfg = rn->o->tcfg;
	vo.run_id = rn->run_id;
	vo.identities = rn->o->identities;
	/* A private key verifies its own signatures. */
	vo.seal_pub = rn->o->seal_key;
	vo.deep = true;
	vo.finding = count_finding;
	vo.arg = rn;
	r = mig_verify_run(&vo, &vs, rn->ctx);
	if (r != 0) {
		(void)run_audit(rn, MIG_AUDIT_VERIFY_FAILED, json_pack("{s:s, "
		    "s:s}", "check", "deep verify before delete_source",
		    "reason", mig_errmsg(rn->ctx)), rn->ctx);
		mig_verify_summary_free(&vs);
		return mig_preferr(rn->ctx, "source kept: the deep verify "
		    "before delete_source failed");
	}
	r = run_audit(rn, MIG_AUDIT_VERIFY_OK, json_pack("{s:s, s:I}", "check",
	    "deep verify before delete_source", "objects",
	    (json_int_t)vs.deep_objects), rn->ctx);
	mig_verify_summary_free(&vs);
	return r;
}

/* Keeps a file the plan asked to delete, and says why. */
static int
keep(struct run *rn, const char *object, const char *why)
{
	run_note(rn, "kept %s: %s", object, why);
	return run_audit(rn, MIG_AUDIT_SRC_KEPT, json_pack("{s:s, s:s}",
	    "object", object, "reason", why), rn->ctx);
}

/*
 * Deletes the entry name of directory dirfd if it is still the file ob
 * (or, for ob NULL, the archive the inventory saw): intent, unlink, done.
 */
static int
delete_entry(struct run *rn, int dirfd, const char *name, const char *object,
    const struct obj *ob)
{
	struct stat st;
	bool same;
	int r;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return keep(rn, object, "gone or unreadable since it was "
		    "archived");
	same = S_ISREG(st.st_mode) && (ob != NULL ? run_same_stat(ob, &st) :
	    st.st_dev == rn->source_st.st_dev &&
	    st.st_ino == rn->source_st.st_ino &&
	    st.st_size == rn->source_st.st_size &&
	    st.st_mtim.tv_sec == rn->source_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == rn->source_st.st_mtim.tv_nsec &&
	    st.st_ctim.tv_sec == rn->source_st.st_ctim.tv_sec &&
	    st.st_ctim.tv_nsec == rn->source_st.st_ctim.tv_nsec);
	if (!same)
		return keep(rn, object, "not the file that was archived any "
		    "more (changed, or replaced)");
	/* The intent is on disk before the file is gone. */
	if ((r = run_audit(rn, MIG_AUDIT_SRC_DELETING, json_pack("{s:s, s:I}",
	    "object", object, "bytes", (json_int_t)st.st_size),
	    rn->ctx)) != 0 ||
	    (rn->o->audit != NULL && (r = mig_audit_sync(rn->o->audit,
	    rn->ctx)) != 0) ||
	    (r = run_point(rn, "retire.delete", object, 0, rn->ctx)) != 0)
		return r;
	if (unlinkat(dirfd, name, 0) != 0)
		return mig_seterr(rn->ctx, MIG_ERR_IO, "%s: %s", object,
		    strerror(errno));
	if ((r = run_point(rn, "retire.deleted", object, 0, rn->ctx)) != 0)
		return r;
	return run_audit(rn, MIG_AUDIT_SRC_DELETED, json_pack("{s:s, s:I, s:s}",
	    "object", object, "bytes", (json_int_t)st.st_size,
	    "sha256_verified", "yes"), rn->ctx);
}

/* The archive source, as one unit. */
static int
delete_archive(struct run *rn)
{
	char dir[PATH_MAX], *slash;
	const char *name;
	int dfd, r;
	size_t i;

	if (rn->sum->refused + rn->sum->skipped + rn->sum->failed +
	    rn->inv_failed + rn->unselected != 0)
		return keep(rn, rn->p->source_path, "not every member of the "
		    "archive landed (refused, skipped, left out by the "
		    "plan's filters, or failed): deleting it would lose them");
	for (i = 0; i < rn->nobj; i++, run_touch(rn))
		if (rn->objs[i].state != OBJ_STORED)
			return keep(rn, rn->p->source_path, "a member of the "
			    "archive did not land");
	(void)snprintf(dir, sizeof(dir), "%s", rn->p->source_path);
	if ((slash = strrchr(dir, '/')) != NULL) {
		*slash = '\0';
		name = slash + 1;
		if (dir[0] == '\0')
			(void)snprintf(dir, sizeof(dir), "/");
	} else {
		(void)snprintf(dir, sizeof(dir), ".");
		name = rn->p->source_path;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return mig_seterr(rn->ctx, MIG_ERR_IO, "%s: %s", dir,
		    strerror(errno));
	r = delete_entry(rn, dfd, name, rn->p->source_path, NULL);
	close(dfd);
	return r;
}

/* One file of a directory source, beneath rootfd. */
static int
delete_file(struct run *rn, int rootfd, const struct obj *ob)
{
	char parent[PATH_MAX];
	const char *slash = strrchr(ob->path, '/');
	int dfd = -1, r;

	if (ob->via_link)
		return keep(rn, ob->path, "reached through a symbolic link: "
		    "the link and its target stay");
	if (slash == NULL)
		dfd = dup(rootfd);
	else {
		(void)snprintf(parent, sizeof(parent), "%.*s",
		    (int)(slash - ob->path), ob->path);
		if (fdpath_open(rootfd, parent, O_RDONLY | O_DIRECTORY, 0,
		    &dfd, rn->ctx) != 0) {
			r = keep(rn, ob->path, mig_errmsg(rn->ctx));
			mig_clearerr(rn->ctx);
			return r;
		}
	}
	if (dfd < 0)
		return mig_seterr(rn->ctx, MIG_ERR_IO, "%s: %s", ob->path,
		    strerror(errno));
	r = delete_entry(rn, dfd, slash != NULL ? slash + 1 : ob->path,
	    ob->path, ob);
	close(dfd);
	return r;
}

int
retire_delete_sources(struct run *rn)
{
	struct stat st;
	size_t i;
	int rootfd, r;

	if ((r = deep_verify(rn)) != 0)
		return r;
	if (rn->archive_source)
		r = delete_archive(rn);
	else {
		rootfd = open(rn->p->source_path, O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC);
		if (rootfd < 0)
			return mig_seterr(rn->ctx, MIG_ERR_IO, "%s: %s",
			    rn->p->source_path, strerror(errno));
		/* The source directory itself must be the one walked. */
		if (fstat(rootfd, &st) != 0 ||
		    st.st_dev != rn->source_st.st_dev ||
		    st.st_ino != rn->source_st.st_ino)
			r = keep(rn, rn->p->source_path, "the source directory "
			    "was replaced since the inventory: nothing deleted");
		for (i = 0; i < rn->nobj && r == 0; i++, run_touch(rn))
			if (rn->objs[i].state == OBJ_STORED)
				r = delete_file(rn, rootfd, &rn->objs[i]);
		close(rootfd);
	}
	if (r == 0 && rn->o->audit != NULL)
		r = mig_audit_checkpoint(rn->o->audit, rn->run_id, NULL,
		    rn->ctx);
	return r;
}

/* --- Settling an interrupted delete phase -------------------------------- */

/* Whether object (relative to the source, or the archive path) exists. */
static bool
still_there(struct run *rn, const char *object)
{
	struct stat st;
	int rootfd, fd = -1;
	bool there;

	/* An archive source was recorded by its own path. */
	if (stat(rn->p->source_path, &st) == 0 && S_ISREG(st.st_mode))
		return lstat(object, &st) == 0;
	if ((rootfd = open(rn->p->source_path, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0)
		return true;	/* cannot tell: do not claim it deleted */
	there = fdpath_open(rootfd, object, O_RDONLY | O_NONBLOCK, 0, &fd,
	    rn->ctx) == 0 || mig_errcode(rn->ctx) != MIG_ERR_NOTFOUND;
	mig_clearerr(rn->ctx);
	if (fd >= 0)
		close(fd);
	close(rootfd);
	return there;
}

int
retire_settle_intents(struct run *rn)
{
	struct mig_audit_filter f = { NULL, "source.*", NULL, NULL };
	struct mig_audit_iter *it = NULL;
	const struct mig_audit_rec *rec;
	json_t *open = NULL, *v;
	const char *key;
	char k[PATH_MAX + 64];
	void *tmp;
	int r;

	if (rn->o->audit == NULL)
		return 0;
	if ((open = json_object()) == NULL)
		return mig_seterr(rn->ctx, MIG_ERR_NOMEM, "out of memory");
	if ((r = mig_audit_iter_open(rn->p->audit_log, &f, rn->ctx,
	    &it)) != 0) {
		json_decref(open);
		if (r != MIG_ERR_NOTFOUND)
			return r;
		mig_clearerr(rn->ctx);
		return 0;
	}
	while ((r = mig_audit_iter_next(it, &rec, rn->ctx)) == 1) {
		if (!rec->valid || rec->object == NULL ||
		    strcmp(rec->plan, rn->p->name) != 0)
			continue;
		(void)snprintf(k, sizeof(k), "%s\n%s", rec->run, rec->object);
		if (strcmp(rec->event, MIG_AUDIT_SRC_DELETING) == 0)
			json_object_set_new(open, k, json_string(rec->run));
		else
			json_object_del(open, k);	/* deleted or kept */
	}
	mig_audit_iter_free(it);
	json_object_foreach_safe(open, tmp, key, v) {
		const char *object = strchr(key, '\n') + 1;
		const char *run = json_string_value(v);
		bool there;
		json_t *fields;

		if (r < 0)
			break;
		there = still_there(rn, object);
		run_note(rn, "settled an interrupted deletion of %s: %s",
		    object, there ? "the file is still there" : "it is gone");
		fields = json_pack("{s:s, s:s}", "object", object, "reason",
		    there ? "the deletion was interrupted before it happened" :
		    "the deletion happened; a crash kept it off the record");
		r = mig_audit_emit(rn->o->audit, run, there ?
		    MIG_AUDIT_SRC_KEPT : MIG_AUDIT_SRC_DELETED, fields,
		    rn->ctx);
		json_decref(fields);
	}
	json_decref(open);
	return r < 0 ? r : 0;
}
