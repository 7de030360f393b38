/*
 * The ways of landing in one sequential pass: the per-file strategies
 * over an archive source (read once, forwards, in the archive's own
 * order), and retire and repurchase, which land every file in one object,
 * a pax tar -> [zstd] -> age (repurchase adds the tag files of an inner
 * bag).
 */
#define MIG_RUN_INTERNAL
#include <limits.h>
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

#include "migrate/age.h"
#include "migrate/archive.h"
#include "migrate/audit.h"
#include "migrate/error.h"
#include "migrate/plan.h"
#include "migrate/run.h"
#include "migrate/stream.h"
#include "migrate/transport.h"
#include "migrate/util.h"

#include "run_core.h"

/*
 * Directory source: the entry's content is the file; archive source: the
 * archive is walked again in the same order and matched by name.
 */
struct seq_source {
	struct mig_archive	*ar;
	struct worker		*wk;
};

static int
seq_open(struct run *rn, struct seq_source *ss, struct worker *wk)
{
	int r;

	memset(ss, 0, sizeof(*ss));
	ss->wk = wk;
	if (!rn->archive_source)
		return 0;
	if ((r = mig_archive_open(rn->p->source_path, wk->ctx, &ss->ar)) == 0)
		mig_archive_set_limits(ss->ar, rn->p->max_expansion_ratio,
		    rn->p->max_expanded_bytes);
	return r;
}

/* Gives a reader over ob's content (and its fd for dir sources). */
static int
seq_content(struct run *rn, struct seq_source *ss, struct obj *ob,
    struct mig_reader **rdp, int *fdp)
{
	struct mig_archive_entry e;
	int r;

	*rdp = NULL;
	*fdp = -1;
	if (!rn->archive_source) {
		if ((r = run_open_source(ss->wk, ob, fdp)) != 0)
			return r;
		return mig_fd_reader_new(*fdp, ss->wk->ctx, rdp);
	}
	for (int pass = 0; pass < 2; pass++) {
		while ((r = mig_archive_next(ss->ar, &e)) == 0) {
			if (e.type == MIG_ARCHIVE_REGULAR &&
			    strcmp(run_archive_name(e.name), ob->path) == 0)
				return mig_archive_entry_reader(ss->ar, rdp);
		}
		if (r != 1 || pass == 1)
			break;
		/* Not in path order: read the archive again from the start. */
		mig_archive_free(ss->ar);
		ss->ar = NULL;
		if ((r = mig_archive_open(rn->p->source_path, ss->wk->ctx,
		    &ss->ar)) != 0)
			return r;
		mig_archive_set_limits(ss->ar, rn->p->max_expansion_ratio,
		    rn->p->max_expanded_bytes);
	}
	if (r == 1)
		r = mig_seterr(ss->wk->ctx, MIG_ERR_IO, "%s: vanished from the "
		    "source archive", ob->path);
	return r;
}

/* A strategy that keeps the data where it is: ob's hash and size only. */
static void
hash_member(struct worker *wk, struct obj *ob, struct mig_reader *rd)
{
	struct mig_writer *null = NULL, *sha = NULL;
	unsigned char md[32];
	uint64_t count;
	size_t n;
	int r;

	r = mig_null_writer_new(wk->ctx, &null);
	if (r == 0)
		r = mig_sha256_writer_new(null, wk->ctx, &sha);
	while (r == 0 && (r = mig_reader_read(rd, wk->buf,
	    MIG_RUN_READ_CHUNK, &n)) == 0 && n > 0)
		r = mig_writer_write(sha, wk->buf, n);
	if (r == 0 && (r = mig_writer_close(sha)) == 0) {
		mig_sha256_writer_result(sha, md, &count);
		memcpy(ob->sha, md, sizeof(ob->sha));
		ob->size = count;
		ob->state = OBJ_RETAINED;
	} else
		run_record_failure(wk, ob);
	mig_writer_free(sha);
	mig_writer_free(null);
}

/* Lands the member rd as ob, and records how that went. */
static void
land_member(struct worker *wk, struct obj *ob, struct mig_reader *rd)
{
	struct run *rn = wk->rn;

	if (run_land_stream(wk, ob, rd, -1) != 0)
		run_record_failure(wk, ob);
	else if (obj_prev_sha(rn, ob) != NULL &&
	    memcmp(obj_prev_sha(rn, ob), ob->sha, 32) == 0) {
		/*
		 * XXX: an unchanged member of an archive source is
		 * only known after landing it; it is then dropped
		 * from this run's bag (it is identical to the last
		 * run's copy), at the cost of the write.
		 */
		char full[PATH_MAX];

		if (run_join(full, sizeof(full), rn->run_dir, ob->dest) == 0)
			(void)mig_transport_remove(wk->t, full);
		run_record_unchanged(wk, ob);
	} else
		run_record_stored(wk, ob);
}

/* Per-file strategies over an archive source: one pass, in order. */
int
run_land_from_archive(struct run *rn)
{
	struct worker wk;
	struct mig_archive *ar = NULL;
	struct mig_archive_entry e;
	struct mig_reader *rd = NULL;
	struct obj *ob;
	char why[512];
	size_t i;
	int r, ar_r = 1;

	if ((r = run_worker_open(rn, &wk)) != 0 ||
	    (r = mig_archive_open(rn->p->source_path, wk.ctx, &ar)) != 0) {
		r = mig_seterr(rn->ctx, r, "%s", wk.ctx != NULL ?
		    mig_errmsg(wk.ctx) : "out of memory");
		run_worker_close(&wk);
		return r;
	}
	mig_archive_set_limits(ar, rn->p->max_expansion_ratio,
	    rn->p->max_expanded_bytes);
	/* In the archive's own order: it can only be read forwards. */
	while (rn->fatal == 0 && (ar_r = mig_archive_next(ar, &e)) == 0) {
		if (e.type != MIG_ARCHIVE_REGULAR ||
		    (ob = run_obj_find(rn, run_archive_name(e.name))) == NULL ||
		    ob->state != OBJ_PENDING)
			continue;	/* not selected, landed, or a duplicate */
		mig_clearerr(wk.ctx);
		if ((r = mig_archive_entry_reader(ar, &rd)) != 0) {
			run_record_failure(&wk, ob);
			break;
		}
		if (!rn->si->moves_data)
			hash_member(&wk, ob, rd);
		else
			land_member(&wk, ob, rd);
		mig_reader_free(rd);
		rd = NULL;
		run_progress(rn, 1, 0, false);
	}
	/*
	 * Whatever the archive did not hand out did not land: past a read
	 * error (corrupt, truncated, a bomb) for that reason, which a
	 * refusal makes the run's; otherwise the member vanished.
	 */
	if (ar_r < 0)
		(void)snprintf(why, sizeof(why), "%s", mig_errmsg(wk.ctx));
	for (i = 0; i < rn->nobj && rn->fatal == 0; i++, run_touch(rn)) {
		if (rn->objs[i].state != OBJ_PENDING)
			continue;
		if (ar_r < 0)
			mig_seterr(wk.ctx, ar_r, "%s: not read from the "
			    "source archive: %s", rn->objs[i].path, why);
		else
			mig_seterr(wk.ctx, MIG_ERR_IO, "%s: vanished from the "
			    "source archive", rn->objs[i].path);
		run_record_failure(&wk, &rn->objs[i]);
	}
	mig_reader_free(rd);
	mig_archive_free(ar);
	run_worker_close(&wk);
	/* As run_workers(): a refusal (sizes that lie, a bomb) ends the run. */
	if (rn->fatal == MIG_ERR_SECURITY)
		return mig_seterr(rn->ctx, rn->fatal, "%s", rn->fatal_msg);
	return 0;
}

/* Percent-encoding of RFC 8493 for manifest paths. */
static void
bag_encode(const char *in, char *out, size_t size)
{
	size_t o = 0;

	for (; *in != '\0' && o + 4 < size; in++) {
		if (*in == '%' || *in == '\r' || *in == '\n')
			o += (size_t)snprintf(out + o, size - o, "%%%02X",
			    (unsigned char)*in);
		else
			out[o++] = *in;
	}
	out[o] = '\0';
}

/* Adds a small text member to a tar from memory. */
static int
tar_add_text(struct mig_tar *tar, const char *name, const char *text,
    struct mig_ctx *ctx)
{
	struct mig_reader *rd = NULL;
	size_t len = strlen(text);
	int r;

	if ((r = mig_mem_reader_new(text, len, ctx, &rd)) != 0)
		return r;
	r = mig_tar_add(tar, name, len, 0644, time(NULL), rd);
	mig_reader_free(rd);
	return r;
}

/* Appends to a growing string; returns false on ENOMEM. */
static bool
sappend(char **s, size_t *len, size_t *cap, const char *add)
{
	size_t n = strlen(add);
	char *ns;

	if (*len + n + 1 > *cap) {
		size_t nc = (*cap == 0 ? 4096 : *cap * 2) + n;

		if ((ns = realloc(*s, nc)) == NULL)
			return false;
		*s = ns;
		*cap = nc;
	}
	memcpy(*s + *len, add, n + 1);
	*len += n;
	return true;
}

/* The inner bag of repurchase: tag files after the payload. */
static int
repurchase_tags(struct run *rn, struct mig_tar *tar, struct mig_ctx *ctx)
{
	const char *bag = rn->p->name;
	char name[PATH_MAX], line[MIG_PATH_MAX * 3 + 128], enc[MIG_PATH_MAX * 3];
	char *manifest = NULL, *tagm = NULL, info[2048];
	size_t mlen = 0, mcap = 0, tlen = 0, tcap = 0, i;
	uint64_t bytes = 0, files = 0;
	unsigned char md[32];
	char hex[65], date[16];
	struct tm tm;
	time_t now = time(NULL);
	const char *bagit = "BagIt-Version: 1.0\n"
	    "Tag-File-Character-Encoding: UTF-8\n";
	int r = 0;

	for (i = 0; i < rn->nobj; i++, run_touch(rn)) {
		if (rn->objs[i].state != OBJ_STORED)
			continue;
		bag_encode(rn->objs[i].path, enc, sizeof(enc));
		mig_hex_encode(rn->objs[i].sha, 32, hex);
		(void)snprintf(line, sizeof(line), "%s  data/%s\n", hex, enc);
		if (!sappend(&manifest, &mlen, &mcap, line)) {
			r = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
			goto out;
		}
		bytes += rn->objs[i].size;
		files++;
	}
	if (manifest == NULL && !sappend(&manifest, &mlen, &mcap, "")) {
		r = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out;
	}
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d", &tm);
	(void)snprintf(info, sizeof(info), "Bagging-Date: %s\n"
	    "External-Identifier: %s\nMigrate-Strategy: repurchase\n"
	    "Migrate-Plan-SHA256: %s\nPayload-Oxum: %llu.%llu\n", date,
	    rn->run_id, rn->p->sha256, (unsigned long long)bytes,
	    (unsigned long long)files);
	{
		const char *names[3] = { "bagit.txt", "bag-info.txt",
		    "manifest-sha256.txt" };
		const char *texts[3] = { bagit, info, manifest };

		for (i = 0; i < 3; i++) {
			if (EVP_Digest(texts[i], strlen(texts[i]), md, NULL,
			    EVP_sha256(), NULL) != 1) {
				r = mig_seterr_ssl(ctx, MIG_ERR_CRYPTO,
				    "SHA-256");
				goto out;
			}
			mig_hex_encode(md, sizeof(md), hex);
			(void)snprintf(line, sizeof(line), "%s  %s\n", hex,
			    names[i]);
			if (!sappend(&tagm, &tlen, &tcap, line)) {
				r = mig_seterr(ctx, MIG_ERR_NOMEM,
				    "out of memory");
				goto out;
			}
			(void)snprintf(name, sizeof(name), "%s/%s", bag,
			    names[i]);
			if ((r = tar_add_text(tar, name, texts[i], ctx)) != 0)
				goto out;
		}
	}
	(void)snprintf(name, sizeof(name), "%s/tagmanifest-sha256.txt", bag);
	r = tar_add_text(tar, name, tagm, ctx);
out:
	free(manifest);
	free(tagm);
	return r;
}

/*
 * Adds ob's content to the archive as its member, hashing the plaintext
 * on the way; a file that changed while being read fails the archive.
 */
static int
tar_member(struct run *rn, struct seq_source *ss, struct mig_tar *tar,
    struct obj *ob)
{
	struct worker *wk = ss->wk;
	struct mig_reader *rd = NULL, *psha = NULL;
	char member[MIG_PATH_MAX + 300];
	unsigned char md[32];
	uint64_t count;
	struct stat st;
	int fd = -1, r;

	if ((r = seq_content(rn, ss, ob, &rd, &fd)) != 0 ||
	    (r = mig_sha256_reader_new(rd, wk->ctx, &psha)) != 0)
		goto out;
	if (rn->p->strategy == MIG_STRATEGY_REPURCHASE)
		(void)snprintf(member, sizeof(member), "%s/data/%s",
		    rn->p->name, ob->path);
	else
		(void)snprintf(member, sizeof(member), "%s", ob->path);
	if ((r = mig_tar_add(tar, member, ob->size, ob->mode,
	    ob->mtime, psha)) != 0)
		goto out;
	if (fd >= 0 && (fstat(fd, &st) != 0 || !run_same_stat(ob, &st))) {
		r = mig_seterr(wk->ctx, MIG_ERR_IO, "%s: changed while "
		    "being read; the archive is not published",
		    ob->path);
		goto out;
	}
	mig_sha256_reader_result(psha, md, &count);
	memcpy(ob->sha, md, sizeof(ob->sha));
	ob->state = OBJ_STORED;
out:
	mig_reader_free(psha);
	mig_reader_free(rd);
	if (fd >= 0)
		close(fd);
	if (r == 0)
		run_progress(rn, 1, ob->size, false);
	return r;
}

/* retire and repurchase: one pax tar -> [zstd] -> age object. */
int
run_land_archive_strategy(struct run *rn, struct obj *arch)
{
	struct worker wk;
	struct seq_source ss;
	struct obj_sink os;
	struct mig_tar *tar = NULL;
	char full[PATH_MAX];
	size_t i;
	int r;

	if ((r = run_worker_open(rn, &wk)) != 0 ||
	    (r = seq_open(rn, &ss, &wk)) != 0) {
		r = mig_seterr(rn->ctx, r, "%s", wk.ctx != NULL ?
		    mig_errmsg(wk.ctx) : "out of memory");
		run_worker_close(&wk);
		return r;
	}
	memset(&os, 0, sizeof(os));
	if ((r = run_join(full, sizeof(full), rn->run_dir, arch->dest)) != 0 ||
	    (r = run_sink_open(&wk, full, false, &os)) != 0 ||
	    (r = mig_tar_writer_new(os.top, wk.ctx, &tar)) != 0)
		goto out;
	for (i = 0; i < rn->nobj; i++, run_touch(rn))
		if ((r = tar_member(rn, &ss, tar, &rn->objs[i])) != 0)
			goto out;
	if (rn->p->strategy == MIG_STRATEGY_REPURCHASE &&
	    (r = repurchase_tags(rn, tar, wk.ctx)) != 0)
		goto out;
	if ((r = mig_tar_close(tar)) != 0)
		goto out;
	mig_sha256_writer_result(os.csha, arch->csha, &arch->stored_size);
out:
	if (r != 0) {
		mig_seterr(rn->ctx, r, "%s", mig_errmsg(wk.ctx));
		for (i = 0; i < rn->nobj; i++, run_touch(rn))
			rn->objs[i].state = OBJ_FAILED;
		(void)run_audit(rn, MIG_AUDIT_OBJ_FAILED, json_pack("{s:s, s:s}",
		    "object", arch->dest, "reason", mig_errmsg(wk.ctx)),
		    wk.ctx);
	}
	mig_tar_free(tar);
	run_sink_free(&os);
	mig_archive_free(ss.ar);
	run_worker_close(&wk);
	return r;
}
