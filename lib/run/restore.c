/*
 * migrate restore: a landed run back to plaintext files.
 *
 * Every file is decrypted (and decompressed) into a temporary beside its
 * final name, hashed on the way, and renamed into place only when size and
 * SHA-256 match the encrypted manifest.  Names come from the manifest and
 * are checked like source names; directories are created one component
 * at a time and never through a symbolic link, so nothing lands outside
 * the target.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "migrate/age.h"
#include "migrate/archive.h"
#include "migrate/error.h"
#include "migrate/plan.h"
#include "migrate/run.h"
#include "migrate/stream.h"
#include "migrate/transport.h"

#include "run_int.h"

#define BUF_SIZE	(256 * 1024)

struct rctx {
	const struct mig_restore_opts	*o;
	struct mig_ctx			*ctx;
	struct mig_transport		*t;
	char				 run_dir[PATH_MAX];
	unsigned char			*buf;
	uint64_t			 done;
	uint64_t			 total;
};

/* mkdir -p of the parents of rel under to, refusing symbolic links. */
static int
make_parents(const char *to, const char *rel, struct mig_ctx *ctx)
{
	char path[PATH_MAX];
	struct stat st;
	size_t tl = strlen(to), i;

	if (tl + strlen(rel) + 2 > sizeof(path))
		return mig_seterr(ctx, MIG_ERR_IO, "%s: path too long", rel);
	memcpy(path, to, tl);
	path[tl] = '/';
	for (i = 0; rel[i] != '\0'; i++) {
		if (rel[i] != '/')
			continue;
		memcpy(path + tl + 1, rel, i);
		path[tl + 1 + i] = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST)
			return mig_seterr(ctx, MIG_ERR_IO, "%s: %s", path,
			    strerror(errno));
		if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode))
			return mig_seterr(ctx, MIG_ERR_SECURITY, "%s: not a "
			    "directory (a symbolic link?); refusing to write "
			    "through it", path);
	}
	return 0;
}

/* Writes the plaintext of rd to TO/rel if it matches entry o. */
static int
restore_one(struct rctx *rc, json_t *o, struct mig_reader *rd)
{
	const char *rel = json_string_value(json_object_get(o, "path"));
	const char *want = json_string_value(json_object_get(o, "sha256"));
	const char *mode_s = json_string_value(json_object_get(o, "mode"));
	uint64_t size = (uint64_t)json_integer_value(json_object_get(o,
	    "size"));
	struct mig_reader *sha = NULL;
	struct mig_writer *w = NULL;
	struct timespec ts[2];
	unsigned char md[32];
	char full[PATH_MAX], hex[65];
	const char *problem;
	uint64_t count;
	mode_t mode;
	size_t n;
	int r;

	if (rel == NULL || want == NULL)
		return mig_seterr(rc->ctx, MIG_ERR_FORMAT, "manifest entry "
		    "without path or sha256");
	if ((problem = mig_name_problem(rel)) != NULL)
		return mig_seterr(rc->ctx, MIG_ERR_SECURITY, "manifest path "
		    "refused (%s): nothing is written outside %s", problem,
		    rc->o->to);
	mode = mode_s != NULL ? (mode_t)(strtoul(mode_s, NULL, 8) & 0777) :
	    0644;
	if ((size_t)snprintf(full, sizeof(full), "%s/%s", rc->o->to, rel) >=
	    sizeof(full))
		return mig_seterr(rc->ctx, MIG_ERR_IO, "%s: path too long",
		    rel);
	if ((r = make_parents(rc->o->to, rel, rc->ctx)) != 0 ||
	    (r = mig_file_writer_new(full, mode | 0200, false, rc->ctx,
	    &w)) != 0 ||
	    (r = mig_sha256_reader_new(rd, rc->ctx, &sha)) != 0)
		goto out;
	for (;;) {
		if ((r = mig_reader_read(sha, rc->buf, BUF_SIZE, &n)) != 0)
			goto out;
		if (n == 0)
			break;
		if ((r = mig_writer_write(w, rc->buf, n)) != 0)
			goto out;
	}
	mig_sha256_reader_result(sha, md, &count);
	mig_hex_encode(md, sizeof(md), hex);
	if (count != size || strcmp(hex, want) != 0) {
		r = mig_seterr(rc->ctx, MIG_ERR_VERIFY, "%s: restored plaintext "
		    "does not match the manifest (size or SHA-256); not "
		    "written", rel);
		goto out;
	}
	if ((r = mig_writer_close(w)) != 0)
		goto out;
	ts[0].tv_sec = ts[1].tv_sec = (time_t)json_integer_value(
	    json_object_get(o, "mtime"));
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (chmod(full, mode) != 0 ||
	    utimensat(AT_FDCWD, full, ts, AT_SYMLINK_NOFOLLOW) != 0)
		r = mig_seterr(rc->ctx, MIG_ERR_IO, "%s: %s", full,
		    strerror(errno));
	rc->done++;
	if (rc->o->progress != NULL) {
		struct mig_run_progress pr = { "restore", rc->done, rc->total,
		    0, 0 };

		rc->o->progress(rc->o->arg, &pr);
	}
out:
	mig_reader_free(sha);
	mig_writer_free(w);	/* unclosed: the temporary goes away */
	return r;
}

static int
open_chain(struct rctx *rc, const char *obj, bool compressed,
    struct mig_reader *rds[3])
{
	char path[PATH_MAX];
	int r;

	rds[0] = rds[1] = rds[2] = NULL;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", rc->run_dir, obj) >=
	    sizeof(path))
		return mig_seterr(rc->ctx, MIG_ERR_IO, "%s: path too long",
		    obj);
	if ((r = rc->t->ops->open_read(rc->t, path, &rds[0])) != 0 ||
	    (r = mig_age_decrypt_reader_new(rc->o->identities, rds[0],
	    rc->ctx, &rds[1])) != 0)
		return r;
	if (compressed)
		return mig_zstd_reader_new(rds[1], 0, rc->ctx, &rds[2]);
	return 0;
}

static void
close_chain(struct mig_reader *rds[3])
{
	mig_reader_free(rds[2]);
	mig_reader_free(rds[1]);
	mig_reader_free(rds[0]);
}

static int
restore_archive(struct rctx *rc, json_t *doc, bool compressed)
{
	struct mig_reader *rds[3], *er = NULL;
	struct mig_archive *ar = NULL;
	struct mig_archive_entry e;
	json_t *by_member, *o;
	const char *obj = json_string_value(json_object_get(
	    json_object_get(doc, "archive"), "object"));
	size_t i;
	int r;

	if ((by_member = json_object()) == NULL)
		return mig_seterr(rc->ctx, MIG_ERR_NOMEM, "out of memory");
	json_array_foreach(json_object_get(doc, "objects"), i, o) {
		const char *m = json_string_value(json_object_get(o, "member"));

		if (m != NULL)
			json_object_set(by_member, m, o);
	}
	if (obj == NULL) {
		r = mig_seterr(rc->ctx, MIG_ERR_FORMAT, "manifest names no "
		    "archive");
		goto out;
	}
	if ((r = open_chain(rc, obj, compressed, rds)) != 0 ||
	    (r = mig_archive_open_reader(rds[2] != NULL ? rds[2] : rds[1],
	    obj, rc->ctx, &ar)) != 0)
		goto out_chain;
	while ((r = mig_archive_next(ar, &e)) == 0) {
		if ((o = json_object_get(by_member, e.name)) == NULL ||
		    e.type != MIG_ARCHIVE_REGULAR)
			continue;
		if ((r = mig_archive_entry_reader(ar, &er)) != 0 ||
		    (r = restore_one(rc, o, er)) != 0)
			goto out_chain;
		mig_reader_free(er);
		er = NULL;
	}
	r = r == 1 ? 0 : r;
out_chain:
	mig_reader_free(er);
	mig_archive_free(ar);
	close_chain(rds);
out:
	json_decref(by_member);
	return r;
}

static int restore_dir(struct rctx *rc, const char *id);

int
mig_restore_run(const struct mig_restore_opts *o, uint64_t *restoredp,
    struct mig_ctx *ctx)
{
	struct rctx rc;
	char id[32], base[PATH_MAX];
	char **shards = NULL;
	size_t nshards = 0, s;
	int r, shardn = 0;

	*restoredp = 0;
	memset(&rc, 0, sizeof(rc));
	rc.o = o;
	rc.ctx = ctx;
	if ((rc.buf = malloc(BUF_SIZE)) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	if (mkdir(o->to, 0755) != 0 && errno != EEXIST) {
		r = mig_seterr(ctx, MIG_ERR_IO, "%s: %s", o->to,
		    strerror(errno));
		goto out;
	}
	if ((r = mig_transport_open(o->tcfg, ctx, &rc.t)) != 0 ||
	    (r = run_locate(rc.t, o->plan, o->run_id, base,
	    sizeof(base), id, ctx)) != 0 ||
	    (r = run_list_shards(rc.t, base, &shards, &nshards, &shardn,
	    ctx)) != 0)
		goto out;
	/* A sharded run is reassembled: every shard into the same tree. */
	for (s = 0; s < (nshards == 0 ? 1 : nshards); s++) {
		if (nshards == 0)
			(void)snprintf(rc.run_dir, sizeof(rc.run_dir), "%s",
			    base);
		else if ((size_t)snprintf(rc.run_dir, sizeof(rc.run_dir),
		    "%s/%s", base, shards[s]) >= sizeof(rc.run_dir)) {
			r = mig_seterr(ctx, MIG_ERR_IO, "path too long");
			goto out;
		}
		if ((r = restore_dir(&rc, id)) != 0)
			goto out;
	}
out:
	*restoredp = rc.done;
	run_free_names(shards, nshards);
	mig_transport_close(rc.t);
	free(rc.buf);
	return r;
}

/* Restores the bag at rc->run_dir. */
static int
restore_dir(struct rctx *rc, const char *id)
{
	struct mig_ctx *ctx = rc->ctx;
	struct mig_reader *rds[3];
	json_t *doc = NULL, *e;
	bool compressed;
	size_t i;
	int r;

	if ((r = run_read_manifest(rc->t, rc->run_dir, rc->o->identities,
	    &doc, ctx)) != 0)
		goto out;
	compressed = json_is_true(json_object_get(doc, "compressed"));
	rc->total += json_array_size(json_object_get(doc, "objects"));
	if (json_object_get(doc, "archive") != NULL) {
		r = restore_archive(rc, doc, compressed);
		goto out;
	}
	json_array_foreach(json_object_get(doc, "objects"), i, e) {
		const char *obj = json_string_value(json_object_get(e,
		    "object"));

		if (obj == NULL) {
			r = mig_seterr(ctx, MIG_ERR_USAGE, "run %s holds an "
			    "inventory only (retain): there is nothing to "
			    "restore", id);
			goto out;
		}
		r = open_chain(rc, obj, compressed, rds);
		if (r == 0)
			r = restore_one(rc, e, rds[2] != NULL ? rds[2] :
			    rds[1]);
		close_chain(rds);
		if (r != 0)
			goto out;
	}
out:
	json_decref(doc);
	return r;
}
