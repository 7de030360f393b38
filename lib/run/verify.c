/*
 * migrate verify and migrate restore: read a landed run back.
 *
 * verify without keys checks the bag (every ciphertext against the BagIt
 * manifests, Payload-Oxum, _SUCCESS) and that the audit head recorded in
 * the bag is in the plan's audit log.  --deep also decrypts every object
 * and checks plaintext size and SHA-256 against the encrypted manifest.
 * restore writes each file under a temporary name and publishes it only
 * after its plaintext matched the manifest.
 */
#define MIG_LAKE_INTERNAL
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
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "migrate/age.h"
#include "migrate/archive.h"
#include "migrate/audit.h"
#include "migrate/bagit.h"
#include "migrate/error.h"
#include "migrate/plan.h"
#include "migrate/run.h"
#include "migrate/stream.h"
#include "migrate/transport.h"
#include "migrate/util.h"

#include "../lake/layout_int.h"
#include "run_int.h"

/* The encrypted manifest is small; refuse absurd ones. */
#define MANIFEST_MAX	(512u * 1024 * 1024)
#define BUF_SIZE	(256 * 1024)

struct vctx {
	const struct mig_verify_opts	*o;
	struct mig_verify_summary	*sum;
	struct mig_ctx			*ctx;
	struct mig_transport		*t;
	struct run_trust		 trust;
	char				 run_dir[PATH_MAX];
	unsigned char			*buf;
};

static void
finding(struct vctx *v, enum mig_finding_kind kind, const char *path,
    const char *detail)
{
	v->sum->findings++;
	if (v->o->finding != NULL)
		v->o->finding(v->o->arg, kind, path, detail);
}

static int
pjoin(char *buf, size_t size, const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la + lb + 2 > size)
		return MIG_ERR_INTERNAL;
	memcpy(buf, a, la);
	buf[la] = '/';
	memcpy(buf + la + 1, b, lb + 1);
	return 0;
}

/* Drains r, giving its plaintext digest and length. */
static int
drain_hash(struct mig_reader *rd, unsigned char *buf, char hex[65],
    uint64_t *count, struct mig_ctx *ctx)
{
	struct mig_reader *sha = NULL;
	unsigned char md[32];
	size_t n;
	int r;

	if ((r = mig_sha256_reader_new(rd, ctx, &sha)) != 0)
		return r;
	do {
		r = mig_reader_read(sha, buf, BUF_SIZE, &n);
	} while (r == 0 && n > 0);
	if (r == 0) {
		mig_sha256_reader_result(sha, md, count);
		mig_hex_encode(md, sizeof(md), hex);
	}
	mig_reader_free(sha);
	return r;
}

/* Opens object -> age -> [zstd] as a plaintext reader chain. */
struct chain {
	struct mig_reader	*src, *dec, *z;
};

static void
chain_free(struct chain *c)
{
	mig_reader_free(c->z);
	mig_reader_free(c->dec);
	mig_reader_free(c->src);
	memset(c, 0, sizeof(*c));
}

static int
chain_open(struct mig_transport *t, const char *path,
    const struct mig_age_identities *ids, bool compressed, struct chain *c,
    struct mig_ctx *ctx)
{
	int r;

	memset(c, 0, sizeof(*c));
	if ((r = mig_transport_open_read(t, path, &c->src)) != 0 ||
	    (r = mig_age_decrypt_reader_new(ids, c->src, ctx, &c->dec)) != 0 ||
	    (compressed && (r = mig_zstd_reader_new(c->dec, 0, ctx,
	    &c->z)) != 0))
		chain_free(c);
	return r;
}

static struct mig_reader *
chain_out(struct chain *c)
{
	return c->z != NULL ? c->z : c->dec;
}

/*
 * The archive of a retire or repurchase run: every member the snapshot
 * names must be in it with its size and SHA-256.  Members come in archive
 * order, entries in path order: the entries wait in a table.
 */
static int
deep_archive(struct vctx *v, struct snap_reader *sr, bool compressed)
{
	const char *object = snap_header_of(sr)->archive;
	struct snap_entry se;
	struct chain c;
	struct mig_archive *ar = NULL;
	struct mig_archive_entry e;
	struct mig_reader *rd = NULL;
	json_t *want, *o;
	char path[PATH_MAX], hex[65];
	const char *key;
	uint64_t count;
	int r, rr;

	memset(&c, 0, sizeof(c));
	if ((want = json_object()) == NULL)
		return mig_seterr(v->ctx, MIG_ERR_NOMEM, "out of memory");
	while ((r = snap_next(sr, &se)) == 1)
		if (se.member != NULL && json_object_set_new(want, se.member,
		    json_pack("{s:I, s:s}", "size", (json_int_t)se.size,
		    "sha256", se.sha256)) != 0) {
			r = mig_seterr(v->ctx, MIG_ERR_NOMEM, "out of memory");
			break;
		}
	if (r != 0)
		goto out;
	if (object == NULL || pjoin(path, sizeof(path), v->run_dir,
	    object) != 0) {
		r = mig_seterr(v->ctx, MIG_ERR_FORMAT, "%s: the snapshot names "
		    "no archive", v->run_dir);
		goto out;
	}
	if ((r = chain_open(v->t, path, v->o->identities, compressed, &c,
	    v->ctx)) != 0 ||
	    (r = mig_archive_open_reader(chain_out(&c), object, v->ctx,
	    &ar)) != 0)
		goto out;
	while ((rr = mig_archive_next(ar, &e)) == 0) {
		o = json_object_get(want, e.name);
		if (o == NULL) {
			/* repurchase: the inner bag's own tag files. */
			if (e.type == MIG_ARCHIVE_REGULAR &&
			    strchr(e.name, '/') != NULL &&
			    strstr(e.name, "/data/") == NULL)
				continue;
			if (e.type != MIG_ARCHIVE_DIR)
				finding(v, MIG_FIND_EXTRA, e.name, "in the "
				    "archive but not in the manifest");
			continue;
		}
		if ((r = mig_archive_entry_reader(ar, &rd)) != 0 ||
		    (r = drain_hash(rd, v->buf, hex, &count, v->ctx)) != 0)
			goto out;
		mig_reader_free(rd);
		rd = NULL;
		if (count != (uint64_t)json_integer_value(json_object_get(o,
		    "size")) || strcmp(hex, json_string_value(
		    json_object_get(o, "sha256"))) != 0)
			finding(v, MIG_FIND_PLAINTEXT, e.name, "plaintext size "
			    "or SHA-256 differs from the manifest");
		v->sum->deep_objects++;
		json_object_del(want, e.name);
	}
	if (rr < 0) {
		r = rr;
		goto out;
	}
	json_object_foreach(want, key, o)
		finding(v, MIG_FIND_MISSING, key, "in the manifest but not in "
		    "the archive");
out:
	mig_reader_free(rd);
	mig_archive_free(ar);
	chain_free(&c);
	json_decref(want);
	return r;
}

/*
 * One object of the snapshot, wherever it is held (this bag, or the bag
 * of the earlier run that landed it): decrypted, its plaintext checked
 * against the snapshot, which the audit log vouches for.
 */
static int
deep_object(struct vctx *v, const struct snap_entry *e, bool compressed)
{
	char path[PATH_MAX], hex[65];
	struct chain c;
	uint64_t count;
	int r;

	if (pjoin(path, sizeof(path), e->bag, e->object) != 0) {
		finding(v, MIG_FIND_FORMAT, e->path, "bad manifest entry");
		return 0;
	}
	r = chain_open(v->t, path, v->o->identities, compressed, &c, v->ctx);
	if (r == 0)
		r = drain_hash(chain_out(&c), v->buf, hex, &count, v->ctx);
	chain_free(&c);
	/*
	 * An object that cannot be read back (gone, a planted link or FIFO,
	 * undecryptable) is a finding, not a reason to stop.
	 */
	if (r == MIG_ERR_VERIFY || r == MIG_ERR_FORMAT ||
	    r == MIG_ERR_NOTFOUND || r == MIG_ERR_SECURITY || r == MIG_ERR_IO) {
		finding(v, r == MIG_ERR_NOTFOUND ? MIG_FIND_MISSING :
		    MIG_FIND_ALTERED, path, mig_errmsg(v->ctx));
		return 0;
	}
	if (r != 0)
		return r;
	if (count != e->size || strcmp(hex, e->sha256) != 0)
		finding(v, MIG_FIND_PLAINTEXT, path, "decrypted plaintext size "
		    "or SHA-256 differs from the manifest");
	v->sum->deep_objects++;
	return 0;
}

static int
deep_check(struct vctx *v)
{
	struct snap_reader *sr = NULL;
	struct snap_entry e;
	bool compressed;
	int r;

	if ((r = snap_open_lake(v->t, v->run_dir, v->o->identities, &sr,
	    v->ctx)) != 0)
		return r;
	compressed = snap_header_of(sr)->compressed;
	if (snap_header_of(sr)->archive != NULL) {
		r = deep_archive(v, sr, compressed);
		goto out;
	}
	while ((r = snap_next(sr, &e)) == 1) {
		if (e.object == NULL)	/* retain: inventory only */
			continue;
		if ((r = deep_object(v, &e, compressed)) != 0)
			break;
		if (v->o->progress != NULL) {
			struct mig_run_progress pr = { "deep verify",
			    v->sum->deep_objects, 0, 0, 0 };

			v->o->progress(v->o->arg, &pr);
		}
	}
out:
	snap_reader_free(sr);
	return r;
}

static enum mig_finding_kind
bag_kind(enum mig_bag_kind k)
{
	switch (k) {
	case MIG_BAG_MISSING:	return MIG_FIND_MISSING;
	case MIG_BAG_EXTRA:	return MIG_FIND_EXTRA;
	case MIG_BAG_ALTERED:	return MIG_FIND_ALTERED;
	case MIG_BAG_TRUNCATED:	return MIG_FIND_TRUNCATED;
	case MIG_BAG_FETCH:	return MIG_FIND_INCOMPLETE;
	default:		return MIG_FIND_FORMAT;
	}
}

static void
bag_progress(void *arg, uint64_t files, uint64_t bytes)
{
	struct vctx *v = arg;
	struct mig_run_progress pr = { "verify", files, 0, bytes, 0 };

	if (v->o->progress != NULL)
		v->o->progress(v->o->arg, &pr);
}

/* Reads a small file of a local bag (no links followed). */
static int
read_local(const char *dir, const char *name, size_t max, char **bufp,
    size_t *lenp, struct mig_ctx *ctx)
{
	char path[PATH_MAX];
	struct stat st;
	ssize_t n;
	int fd, r = 0;

	*bufp = NULL;
	if (pjoin(path, sizeof(path), dir, name) != 0)
		return mig_seterr(ctx, MIG_ERR_INTERNAL, "path too long");
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return mig_seterr(ctx, errno == ENOENT ? MIG_ERR_NOTFOUND :
		    MIG_ERR_IO, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > max)
		r = mig_seterr(ctx, MIG_ERR_FORMAT, "%s: not a regular file "
		    "of at most %zu bytes", path, max);
	else if ((*bufp = malloc((size_t)st.st_size + 1)) == NULL)
		r = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	else if ((n = read(fd, *bufp, (size_t)st.st_size)) !=
	    (ssize_t)st.st_size)
		r = mig_seterr(ctx, MIG_ERR_IO, "%s: short read", path);
	else
		*lenp = (size_t)n;
	close(fd);
	if (r != 0) {
		free(*bufp);
		*bufp = NULL;
	}
	return r;
}

/*
 * verify BAGDIR --key: the seal of a bag seen without its plan.  It must
 * verify, name the bag's External-Identifier and Migrate-Audit-Head, sign
 * the tag manifest as it is, and its place in the lake must be the end of
 * the directory's path.
 */
static int
check_dir_seal(struct vctx *v, const char *dir, const char *head,
    const char *extid)
{
	struct mig_seal seal;
	unsigned char md[32];
	char *note = NULL, *tm = NULL, hex[65];
	size_t len = 0, tlen = 0, dl, sl;
	int r;

	if ((r = read_local(dir, MIG_SEAL_FILE, MIG_SEAL_MAX, &note, &len,
	    v->ctx)) != 0 ||
	    (r = mig_seal_verify(note, len, v->o->seal_pub, &seal,
	    v->ctx)) != 0) {
		free(note);
		if (r == MIG_ERR_NOMEM)
			return r;
		finding(v, MIG_FIND_AUDIT, MIG_SEAL_FILE, mig_errmsg(v->ctx));
		mig_clearerr(v->ctx);
		return 0;
	}
	free(note);
	if ((r = read_local(dir, "tagmanifest-sha256.txt", 256u << 20, &tm,
	    &tlen, v->ctx)) != 0)
		hex[0] = '\0';
	else if (EVP_Digest(tm, tlen, md, NULL, EVP_sha256(), NULL) != 1)
		hex[0] = '\0';
	else
		mig_hex_encode(md, sizeof(md), hex);
	free(tm);
	mig_clearerr(v->ctx);
	if (strcmp(hex, seal.tagmanifest_sha256) != 0)
		finding(v, MIG_FIND_AUDIT, "tagmanifest-sha256.txt", "not the "
		    "tag manifest the seal signed");
	if (extid == NULL || strcmp(extid, seal.run) != 0)
		finding(v, MIG_FIND_AUDIT, "bag-info.txt", "External-Identifier "
		    "is not the run the seal names");
	if (head == NULL || strcmp(head, seal.audit_head) != 0)
		finding(v, MIG_FIND_AUDIT, "bag-info.txt", "Migrate-Audit-Head "
		    "is not the audit head the seal names");
	dl = strlen(dir);
	while (dl > 1 && dir[dl - 1] == '/')
		dl--;
	sl = strlen(seal.dir);
	if (sl > dl || strncmp(dir + dl - sl, seal.dir, sl) != 0 ||
	    (sl < dl && dir[dl - sl - 1] != '/')) {
		char msg[1200];

		(void)snprintf(msg, sizeof(msg), "the seal is of the bag at "
		    "LAKE/%s, not of this directory", seal.dir);
		finding(v, MIG_FIND_AUDIT, MIG_SEAL_FILE, msg);
	}
	return 0;
}

static void
sink_finding(void *arg, enum mig_finding_kind kind, const char *path,
    const char *detail)
{
	finding(arg, kind, path, detail);
}

/*
 * The bag as BagIt (every checksum), then, for a run of a plan, as the
 * audit log recorded it (trust.c); for a bag directory with a key, its
 * seal.
 */
static int
check_bag(struct vctx *v, const char *dir, const char *local_dir)
{
	struct mig_bag_validate_opts bo;
	struct mig_bag_report rep;
	struct trust_sink sk = { sink_finding, v };
	const char *head, *extid;
	size_t i, before;
	int r;

	memset(&bo, 0, sizeof(bo));
	memset(&rep, 0, sizeof(rep));
	bo.progress = bag_progress;
	bo.progress_arg = v;
	if (local_dir != NULL)
		r = mig_bag_validate(local_dir, &bo, &rep, v->ctx);
	else
		r = mig_bag_validate_t(v->t, dir, &bo, &rep, v->ctx);
	/* A malformed bag still has its findings named. */
	if (r != 0 && r != MIG_ERR_VERIFY && r != MIG_ERR_FORMAT) {
		mig_bag_report_free(&rep);
		return r;
	}
	for (i = 0; i < rep.nfindings; i++)
		finding(v, bag_kind(rep.findings[i].kind),
		    rep.findings[i].path, rep.findings[i].detail);
	if (rep.dropped != 0) {
		char msg[64];

		(void)snprintf(msg, sizeof(msg), "%zu more findings not shown",
		    rep.dropped);
		finding(v, MIG_FIND_FORMAT, "", msg);
	}
	v->sum->objects += rep.payload_files;
	v->sum->bytes += rep.payload_bytes;
	(void)snprintf(v->sum->bag_version, sizeof(v->sum->bag_version), "%s",
	    rep.version);
	head = mig_bag_report_info(&rep, "Migrate-Audit-Head");
	extid = mig_bag_report_info(&rep, "External-Identifier");
	before = v->sum->findings;
	r = 0;
	if (v->o->plan != NULL)
		r = trust_check_bag(v->t, &v->trust, dir, head, extid, &sk,
		    v->ctx);
	else if (v->o->seal_pub != NULL)
		r = check_dir_seal(v, local_dir, head, extid);
	if (r == 0 && v->sum->findings == before && v->o->plan != NULL)
		v->sum->audit_head_ok = true;
	mig_bag_report_free(&rep);
	return r;
}

/* One bag of a run: _SUCCESS, the bag itself, and --deep. */
static int
verify_one(struct vctx *v, const char *dir, char *local, size_t lsize)
{
	const struct mig_plan *p = v->o->plan;
	struct mig_tstat st;
	char marker[PATH_MAX];
	int r;

	(void)pjoin(marker, sizeof(marker), dir, "_SUCCESS");
	if (mig_transport_stat(v->t, marker, &st) != 0) {
		mig_clearerr(v->ctx);
		finding(v, MIG_FIND_INCOMPLETE, marker, "the run is not "
		    "complete (no _SUCCESS): run the plan again to resume it");
	}
	if (strcmp(p->scheme, "file") == 0 &&
	    pjoin(local, lsize, p->lake_path, dir) == 0)
		r = check_bag(v, dir, local);
	else
		r = check_bag(v, dir, NULL);
	if (r == 0 && v->o->deep)
		r = deep_check(v);
	return r;
}

/* No payload path may be in two shards. */
static int
check_overlap(struct vctx *v, const char *dir, const char *name, json_t *seen)
{
	unsigned char *buf = NULL;
	char path[PATH_MAX], *line, *save = NULL, *file;
	size_t len;
	int r;

	if (pjoin(path, sizeof(path), dir, "manifest-sha256.txt") != 0)
		return mig_seterr(v->ctx, MIG_ERR_INTERNAL, "path too long");
	r = mig_transport_get(v->t, path, MANIFEST_MAX, &buf, &len);
	if (r != 0) {
		/* Already reported by the bag check. */
		mig_clearerr(v->ctx);
		return 0;
	}
	{
		unsigned char *nb = realloc(buf, len + 1);

		if (nb == NULL) {
			free(buf);
			return mig_seterr(v->ctx, MIG_ERR_NOMEM, "out of memory");
		}
		buf = nb;
		buf[len] = '\0';
	}
	for (line = strtok_r((char *)buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		file = strchr(line, ' ');
		if (file == NULL)
			continue;
		while (*file == ' ' || *file == '*')
			file++;
		if (json_object_get(seen, file) != NULL) {
			char msg[160];

			(void)snprintf(msg, sizeof(msg), "in %s and in %s",
			    json_string_value(json_object_get(seen, file)),
			    name);
			finding(v, MIG_FIND_EXTRA, file, msg);
		} else
			json_object_set_new(seen, file, json_string(name));
	}
	free(buf);
	return 0;
}

/* N when the run on record is sharded (its bags are "K/N"), else 0. */
static int
shards_on_record(const struct run_trust *tr)
{
	int k, n;

	if (tr->run == NULL || tr->run->nbags == 0 ||
	    sscanf(tr->run->bags[0].shard, "%d/%d", &k, &n) != 2 || n < 1)
		return 0;
	return n;
}

/*
 * A sharded run: all N bags on record present and complete, none
 * overlapping, no other shard.  shards are the lake's (sorted), shardn
 * their count by name, k the count on record (0: not sharded).
 */
static int
verify_shards(struct vctx *v, char **shards, size_t nshards, int shardn,
    int k)
{
	char local[PATH_MAX];
	json_t *seen;
	size_t i;
	int r = 0;

	if (k != shardn && nshards > 0)
		finding(v, MIG_FIND_AUDIT, v->run_dir, k == 0 ? "the lake holds "
		    "shards of a run on record as not sharded" : "the lake's "
		    "shards are of another count than the run on record");
	if (k > 0)
		shardn = k;
	v->sum->shards = (int)nshards;
	if ((seen = json_object()) == NULL)
		return mig_seterr(v->ctx, MIG_ERR_NOMEM, "out of memory");
	for (k = 0, i = 0; k < shardn; k++) {
		char name[64], dir[PATH_MAX];

		(void)snprintf(name, sizeof(name), "shard=%d-of-%d", k, shardn);
		if (i < nshards && strcmp(shards[i], name) == 0)
			i++;
		else {
			finding(v, MIG_FIND_INCOMPLETE, name, "shard missing: "
			    "run it with --shard K/N --run-id of this run");
			continue;
		}
		if (pjoin(dir, sizeof(dir), v->sum->run_dir, name) != 0) {
			r = mig_seterr(v->ctx, MIG_ERR_INTERNAL,
			    "path too long");
			break;
		}
		(void)snprintf(v->run_dir, sizeof(v->run_dir), "%s", dir);
		if ((r = verify_one(v, dir, local, sizeof(local))) != 0 ||
		    (r = check_overlap(v, dir, name, seen)) != 0)
			break;
	}
	json_decref(seen);
	return r;
}

void
mig_verify_summary_free(struct mig_verify_summary *sum)
{
	if (sum == NULL)
		return;
	free(sum->run_dir);
	sum->run_dir = NULL;
}

int
mig_verify_run(const struct mig_verify_opts *o, struct mig_verify_summary *sum,
    struct mig_ctx *ctx)
{
	struct vctx v;
	char local[PATH_MAX];
	char **shards = NULL;
	size_t nshards = 0;
	int r, k, shardn = 0;

	memset(sum, 0, sizeof(*sum));
	memset(&v, 0, sizeof(v));
	v.o = o;
	v.sum = sum;
	v.ctx = ctx;
	if ((v.buf = malloc(BUF_SIZE)) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	if (o->plan == NULL) {
		/* Any bag directory, whoever wrote it. */
		r = check_bag(&v, o->bag_dir, o->bag_dir);
		sum->sealed = r == 0 && o->seal_pub != NULL &&
		    sum->findings == 0;
		goto out;
	}
	if (o->against_source) {
		r = verify_against_source(o, sum, ctx);
		free(v.buf);
		return r;
	}
	if ((r = mig_transport_open(o->tcfg, ctx, &v.t)) != 0)
		goto out;
	{
		struct trust_sink sk = { sink_finding, &v };

		r = trust_open(v.t, o->plan, o->seal_pub, o->run_id, &sk,
		    &v.trust, ctx);
		(void)snprintf(sum->run_id, sizeof(sum->run_id), "%s",
		    v.trust.id);
		if (r != 0)
			goto out;
	}
	(void)snprintf(v.run_dir, sizeof(v.run_dir), "%s", v.trust.dir);
	sum->run_dir = strdup(v.run_dir);
	if ((r = mig_lake_list_shards(v.t, v.run_dir, &shards, &nshards,
	    &shardn, ctx)) != 0)
		goto out;
	k = shards_on_record(&v.trust);
	if (nshards == 0 && k == 0) {
		r = verify_one(&v, v.run_dir, local, sizeof(local));
		goto out;
	}
	r = verify_shards(&v, shards, nshards, shardn, k);
out:
	if (o->plan != NULL && r == 0) {
		sum->on_record = sum->findings == 0;
		sum->sealed = sum->on_record && o->seal_pub != NULL;
	}
	mig_lake_free_names(shards, nshards);
	trust_close(&v.trust);
	mig_transport_close(v.t);
	free(v.buf);
	if ((r == 0 || r == MIG_ERR_VERIFY) && sum->findings != 0)
		r = mig_seterr(ctx, MIG_ERR_VERIFY, "%s: %llu problem%s found",
		    sum->run_dir != NULL ? sum->run_dir : o->bag_dir,
		    (unsigned long long)sum->findings,
		    sum->findings == 1 ? "" : "s");
	return r;
}
