/*
 * The run's inventory: the files of a directory source (inventory.c walks
 * it) or the members of an archive source, as the run's objects sorted by
 * path, with what the plan's filters and the shard leave out; and each
 * object's name in the bag (partition_by).  What it refuses, skips or
 * fails to read is audited, held until run.start is on record.
 */
#define MIG_RUN_INTERNAL
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "migrate/archive.h"
#include "migrate/audit.h"
#include "migrate/error.h"
#include "migrate/plan.h"
#include "migrate/run.h"

#include "run_core.h"

int
mig_shard_of(const char *path, int n)
{
	unsigned char md[32];
	uint64_t v = 0;
	int i;

	/* Stable on every machine: the first 8 bytes of SHA-256(path). */
	if (n <= 1 || EVP_Digest(path, strlen(path), md, NULL, EVP_sha256(),
	    NULL) != 1)
		return 0;
	for (i = 0; i < 8; i++)
		v = (v << 8) | md[i];
	return (int)(v % (uint64_t)n);
}

/* --- Destination names --------------------------------------------------- */

static const char DEFAULT_PARTITION[] = "__HIVE_DEFAULT_PARTITION__";

/* A partition value safe as one path component. */
static void
clean_value(char *v)
{
	char *c;

	for (c = v; *c != '\0'; c++)
		if (*c == '/' || (unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '_';
	if (v[0] == '\0' || strcmp(v, ".") == 0 || strcmp(v, "..") == 0)
		(void)snprintf(v, 64, "%s", DEFAULT_PARTITION);
}

static int
partition_value(struct run *rn, const struct obj *ob, char *buf, size_t size)
{
	const char *by = rn->p->partition_by;
	regmatch_t m[2];
	struct tm tm;
	size_t n;

	if (strncmp(by, "mtime:", 6) == 0) {
		/* The format comes from the plan, checked when it loaded. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		if (gmtime_r(&ob->mtime, &tm) == NULL ||
		    strftime(buf, size, by + 6, &tm) == 0)
			buf[0] = '\0';
#pragma GCC diagnostic pop
	} else if (regexec(&rn->part_re, ob->path, 2, m, 0) == 0 &&
	    m[1].rm_so >= 0) {
		n = (size_t)(m[1].rm_eo - m[1].rm_so);
		if (n >= size)
			n = size - 1;
		memcpy(buf, ob->path + m[1].rm_so, n);
		buf[n] = '\0';
	} else
		buf[0] = '\0';
	clean_value(buf);
	return 0;
}

static int
make_dest(struct run *rn, struct obj *ob)
{
	const char *ext = rn->p->compress ? ".zst.age" : ".age";
	char part[256], buf[MIG_PATH_MAX + 512];
	int n;

	if (rn->si->partition) {
		partition_value(rn, ob, part, sizeof(part));
		n = snprintf(buf, sizeof(buf), "data/%s=%s/%s%s",
		    rn->p->partition_key, part, ob->path, ext);
	} else
		n = snprintf(buf, sizeof(buf), "data/%s%s", ob->path, ext);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return mig_seterr(rn->ctx, MIG_ERR_USAGE, "%s: path too long",
		    ob->path);
	if ((ob->dest = objstore_strdup(&rn->store, buf, rn->ctx)) == NULL)
		return mig_errcode(rn->ctx);
	return 0;
}

/* --- Inventory ----------------------------------------------------------- */

/*
 * The inventory runs before run.start can be written (run.start records
 * how many files it found): its records wait in rn->held until then.
 * fields is consumed.
 */
static int
hold_audit(struct run *rn, const char *event, json_t *fields)
{
	if (rn->started)
		return run_audit(rn, event, fields, rn->ctx);
	if ((rn->held == NULL && (rn->held = json_array()) == NULL) ||
	    json_array_append_new(rn->held, json_pack("[s, o]", event,
	    fields)) != 0)
		return mig_seterr(rn->ctx, MIG_ERR_NOMEM, "out of memory");
	return 0;
}

/* Writes the held inventory records (after run.start, or when none came). */
int
run_release_held(struct run *rn, struct mig_ctx *ctx)
{
	size_t i;
	json_t *e;
	int r = 0;

	json_array_foreach(rn->held, i, e)
		if (r == 0)
			r = run_audit(rn, json_string_value(json_array_get(e, 0)),
			    json_incref(json_array_get(e, 1)), ctx);
	json_decref(rn->held);
	rn->held = NULL;
	return r;
}

static int
inv_note(void *arg, enum mig_inv_note kind, const char *path, const char *why)
{
	struct run *rn = arg;
	char shown[MIG_PATH_MAX * 3 + 1];
	json_t *f;

	/* A hostile name reaches neither the terminal nor the log raw. */
	mig_name_printable(path, shown, sizeof(shown));
	f = json_pack("{s:s, s:s}", "object", shown, "reason", why);
	if (kind == MIG_INV_REFUSED) {
		rn->sum->refused++;
		run_note(rn, "refused %s: %s", shown, why);
		return hold_audit(rn, MIG_AUDIT_SEC_REFUSED, f);
	}
	if (kind == MIG_INV_FAILED) {
		rn->inv_failed++;
		pthread_mutex_lock(&rn->mu);
		if (rn->first_failure[0] == '\0')
			(void)snprintf(rn->first_failure,
			    sizeof(rn->first_failure), "%.512s: %.400s", shown,
			    why);
		pthread_mutex_unlock(&rn->mu);
		run_note(rn, "failed %s: %s", shown, why);
		return hold_audit(rn, MIG_AUDIT_OBJ_FAILED, f);
	}
	rn->sum->skipped++;
	run_note(rn, "skipped %s: %s", shown, why);
	return hold_audit(rn, MIG_AUDIT_OBJ_SKIPPED, f);
}

/* Where the store lives: the state directory, or (dry run) TMPDIR. */
static int
open_store(struct run *rn)
{
	const char *dir = rn->o->dry_run ? rn->o->tmp_dir : rn->state_dir;

	if (dir == NULL || dir[0] == '\0')
		dir = "/tmp";
	return objstore_open(&rn->store, dir, rn->ctx);
}

static int
add_obj(struct run *rn, const char *path, uint64_t size, time_t mtime,
    long nsec, mode_t mode, bool via_link, struct obj **obp)
{
	struct obj *ob;
	int r;

	if (!rn->store.open && (r = open_store(rn)) != 0)
		return r;
	if ((ob = objstore_push(&rn->store, rn->ctx)) == NULL)
		return mig_errcode(rn->ctx);
	if (rn->nobj == 0)
		rn->objs = ob;
	if ((ob->path = objstore_strdup(&rn->store, path, rn->ctx)) == NULL) {
		objstore_pop(&rn->store);
		return mig_errcode(rn->ctx);
	}
	ob->size = size;
	ob->mtime = mtime;
	ob->mtime_nsec = (int32_t)nsec;
	ob->mode = mode;
	ob->via_link = via_link;
	ob->seq = rn->nobj;
	rn->nobj++;
	if (obp != NULL)
		*obp = ob;
	return 0;
}

const char *
run_archive_name(const char *name)
{
	while (name[0] == '.' && name[1] == '/')
		name += 2;
	return name;
}

static int
inventory_archive(struct run *rn)
{
	struct mig_archive *ar = NULL;
	struct mig_archive_entry e;
	const char *name, *problem;
	int r;

	if ((r = mig_archive_open(rn->p->source_path, rn->ctx, &ar)) != 0)
		return r;
	mig_archive_set_limits(ar, rn->p->max_expansion_ratio,
	    rn->p->max_expanded_bytes);
	while ((r = mig_archive_next(ar, &e)) == 0) {
		name = run_archive_name(e.name);
		if (e.type == MIG_ARCHIVE_DIR)
			continue;
		if ((problem = mig_name_problem(name)) != NULL) {
			if ((r = inv_note(rn, MIG_INV_REFUSED, e.name,
			    problem)) != 0)
				break;
			continue;
		}
		if (e.type != MIG_ARCHIVE_REGULAR) {
			if ((r = inv_note(rn, e.type == MIG_ARCHIVE_OTHER ?
			    MIG_INV_REFUSED : MIG_INV_SKIPPED, name,
			    e.type == MIG_ARCHIVE_SYMLINK ? "symbolic link in "
			    "archive" : e.type == MIG_ARCHIVE_HARDLINK ?
			    "hard link in archive" : "device or special file "
			    "in archive")) != 0)
				break;
			continue;
		}
		if (!mig_inventory_selected(rn->p->include, rn->p->exclude,
		    name)) {
			rn->unselected++;
			continue;
		}
		if ((r = add_obj(rn, name, e.size, e.mtime, 0, e.mode,
		    false, NULL)) != 0)
			break;
	}
	mig_archive_free(ar);
	return r == 1 ? 0 : r;
}

static int
obj_cmp(const void *a, const void *b)
{
	const struct obj *x = a, *y = b;
	int c = strcmp(x->path, y->path);

	if (c != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* One file of the walk, as it comes. */
static int
tree_entry(void *arg, const struct mig_inv_entry *e)
{
	struct run *rn = arg;
	struct obj *ob;
	int r;

	r = add_obj(rn, e->path, e->size, e->mtime, e->mtime_nsec, e->mode,
	    e->via_link, &ob);
	if (r == 0 && e->target != NULL && (ob->target =
	    objstore_strdup(&rn->store, e->target, rn->ctx)) == NULL)
		r = mig_errcode(rn->ctx);
	if (r == 0) {
		ob->dev = e->dev;
		ob->ino = e->ino;
		ob->ctime = e->ctime;
		ob->ctime_nsec = e->ctime_nsec;
	}
	return r;
}

/*
 * A directory source: the objects of the walk beneath it, taken as the
 * walk hands them over (in path order), never held twice.
 */
static int
inventory_tree(struct run *rn)
{
	struct mig_inventory_opts io;
	struct mig_inventory *inv = NULL;
	int r;

	memset(&io, 0, sizeof(io));
	io.include = rn->p->include;
	io.exclude = rn->p->exclude;
	io.follow_symlinks = rn->p->follow_symlinks;
	io.note = inv_note;
	io.entry = tree_entry;
	io.arg = rn;
	r = mig_inventory_walk(rn->p->source_path, &io, rn->ctx, &inv);
	mig_inventory_free(inv);
	return r;
}

/* Whether the objects are already in obj_cmp order (a walk's are). */
static bool
objs_sorted(struct run *rn)
{
	size_t i;

	for (i = 1; i < rn->nobj; i++, run_touch(rn))
		if (obj_cmp(&rn->objs[i - 1], &rn->objs[i]) > 0)
			return false;
	return true;
}

/*
 * Two archive entries may share a name: the first one is landed,
 * every later one is left out and audited (never silently).
 */
static int
drop_duplicates(struct run *rn)
{
	size_t i, j = 0;
	int r = 0, r2;

	/* glibc's qsort copies the array: not for what is in order. */
	if (rn->nobj > 1 && !objs_sorted(rn))
		qsort(rn->objs, rn->nobj, sizeof(*rn->objs), obj_cmp);
	/*
	 * The pass always ends, even after a failed note: stopping midway
	 * would leave moved entries twice in the array.
	 */
	for (i = 0; i < rn->nobj; i++, run_touch(rn)) {
		if (j > 0 && strcmp(rn->objs[j - 1].path,
		    rn->objs[i].path) == 0) {
			if (r == 0 && (r2 = inv_note(rn, MIG_INV_SKIPPED,
			    rn->objs[i].path, "duplicate name in the "
			    "archive: only its first copy is landed")) != 0)
				r = r2;
			continue;
		}
		rn->objs[j++] = rn->objs[i];
	}
	rn->nobj = j;
	return r;
}

/* With --shard K/N, only the objects of shard K stay. */
static void
keep_shard(struct run *rn)
{
	size_t i, j = 0;

	for (i = 0; i < rn->nobj; i++, run_touch(rn)) {
		if (mig_shard_of(rn->objs[i].path, rn->o->shard_n) ==
		    rn->o->shard_k)
			rn->objs[j++] = rn->objs[i];
	}
	rn->nobj = j;
}

int
run_inventory(struct run *rn)
{
	struct stat st;
	size_t i;
	int r;

	run_set_phase(rn, "inventory", 0, 0);
	if (stat(rn->p->source_path, &st) != 0)
		return mig_seterr(rn->ctx, MIG_ERR_NOTFOUND, "source %s: %s",
		    rn->p->source_path, strerror(errno));
	rn->source_st = st;
	/*
	 * A directory source is read beneath this descriptor, the very
	 * directory the inventory walks, never through its path again.
	 */
	if (S_ISDIR(st.st_mode) && ((rn->src_fd = open(rn->p->source_path,
	    O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    fstat(rn->src_fd, &rn->source_st) != 0))
		return mig_seterr(rn->ctx, MIG_ERR_IO, "source %s: %s",
		    rn->p->source_path, strerror(errno));
	if (S_ISREG(st.st_mode)) {
		rn->archive_source = true;
		if ((r = inventory_archive(rn)) != 0)
			return r;
	} else if ((r = inventory_tree(rn)) != 0)
		return r;
	if ((r = drop_duplicates(rn)) != 0)
		return r;
	if (rn->o->shard_n > 0)
		keep_shard(rn);
	rn->sum->files = rn->nobj;
	for (i = 0; i < rn->nobj; i++, run_touch(rn))
		if (rn->si->moves_data && !rn->si->one_archive &&
		    (r = make_dest(rn, &rn->objs[i])) != 0)
			return r;
	return 0;
}
