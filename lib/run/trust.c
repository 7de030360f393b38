/*
 * Which bag to trust, and whether to trust it.
 *
 * The lake is not trusted (DESIGN.md section 4): anyone who can write to
 * it knows the public recipients and can write well-formed age files and
 * BagIt manifests.  So a run is found, and accepted, through the audit
 * log, which lives on the source side:
 *   - "latest" is the last run the log records as complete, never the
 *     greatest run id in the lake (a forged run with a later id is not
 *     picked; an unfinished run is "in progress", not "latest");
 *   - the bag must be where the log says the run put it, and only there
 *     (a copy under another version or date is refused);
 *   - its manifest must list exactly objects the log records as stored
 *     for that run, with those ciphertext hashes, as many as the run.end
 *     record says, with the manifest digest it recorded;
 *   - its Migrate-Audit-Head must be a checkpoint of that run, after its
 *     run.end, signed when the plan signs;
 *   - with the plan's audit key, its seal must verify and name that run,
 *     that place, that head and the tag manifest as it is.
 */
#define MIG_LAKE_INTERNAL
#define MIG_RUN_INTERNAL
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/evp.h>

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

/* Tag files are small; a larger one is hostile. */
#define TAG_MAX	(256u * 1024 * 1024)

static void
report(const struct trust_sink *sk, enum mig_finding_kind kind,
    const char *path, const char *fmt, ...) __attribute__((format(printf,
    4, 5)));

static void
report(const struct trust_sink *sk, enum mig_finding_kind kind,
    const char *path, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sk->fn(sk->arg, kind, path, msg);
}

/* The run directory of a bag directory (a shard's parent). */
static void
run_dir_of(const char *bagdir, char *out, size_t size)
{
	const char *s = strstr(bagdir, "/shard=");

	(void)snprintf(out, size, "%.*s", s != NULL ? (int)(s - bagdir) :
	    (int)strlen(bagdir), bagdir);
}

static bool
bag_complete(const struct mig_audit_run *r)
{
	size_t i;

	for (i = 0; i < r->nbags; i++)
		if (r->bags[i].complete)
			return true;
	return false;
}

/* Every lake directory named run=ID under the plan's dataset. */
static int
lake_dirs_of(struct mig_transport *t, const struct mig_plan *p,
    const char *id, char ***dirsp, size_t *np, struct mig_ctx *ctx)
{
	const struct mig_strategy_info *si = mig_strategy_info(p->strategy);
	struct mig_lake_runs runs;
	char ds[PATH_MAX], **dirs = NULL, **nv;
	size_t i, n = 0;
	int maxv = 0, v, r = 0;

	*dirsp = NULL;
	*np = 0;
	if (si->versioned && (r = mig_lake_max_version(t, p, &maxv, ctx)) != 0)
		return r;
	for (v = si->versioned ? 1 : 0; v <= maxv && r == 0; v++) {
		if (mig_lake_dataset_dir(p, v, ds, sizeof(ds)) != 0)
			return mig_seterr(ctx, MIG_ERR_INTERNAL, "path too long");
		if ((r = mig_lake_list_runs(t, ds, &runs, ctx)) != 0)
			break;
		for (i = 0; i < runs.n && r == 0; i++) {
			if (strcmp(runs.v[i].id, id) != 0)
				continue;
			if ((nv = reallocarray(dirs, n + 1, sizeof(*nv))) ==
			    NULL || (nv[n] = strdup(runs.v[i].dir)) == NULL) {
				if (nv != NULL)
					dirs = nv;
				r = mig_seterr(ctx, MIG_ERR_NOMEM,
				    "out of memory");
				break;
			}
			dirs = nv;
			n++;
		}
		mig_lake_runs_free(&runs);
	}
	if (r != 0) {
		mig_lake_free_names(dirs, n);
		return r;
	}
	*dirsp = dirs;
	*np = n;
	return 0;
}

/*
 * Complete runs in the lake that the log does not know: a run forged by
 * someone who can write to the lake (or landed under another log).
 */
static int
report_unknown(struct mig_transport *t, const struct mig_plan *p,
    const struct mig_audit_runs *runs, const struct trust_sink *sk,
    uint64_t *countp, struct mig_ctx *ctx)
{
	const struct mig_strategy_info *si = mig_strategy_info(p->strategy);
	struct mig_lake_runs lr;
	char ds[PATH_MAX];
	int maxv = 0, v, r = 0;
	size_t i;

	if (si->versioned && (r = mig_lake_max_version(t, p, &maxv, ctx)) != 0)
		return r;
	for (v = si->versioned ? 1 : 0; v <= maxv && r == 0; v++) {
		if (mig_lake_dataset_dir(p, v, ds, sizeof(ds)) != 0)
			return mig_seterr(ctx, MIG_ERR_INTERNAL, "path too long");
		if ((r = mig_lake_list_runs(t, ds, &lr, ctx)) != 0)
			break;
		for (i = 0; i < lr.n; i++) {
			const struct mig_audit_run *ar;
			char home[PATH_MAX];

			ar = mig_audit_runs_find(runs, lr.v[i].id);
			if (countp != NULL && lr.v[i].complete &&
			    (ar == NULL || !bag_complete(ar)))
				(*countp)++;
			if (ar == NULL) {
				if (lr.v[i].complete)
					report(sk, MIG_FIND_AUDIT, lr.v[i].dir,
					    "run %s in the lake is not on "
					    "record in %s: forged, or landed "
					    "under another audit log",
					    lr.v[i].id, p->audit_log);
				continue;
			}
			if (ar->nbags == 0)
				continue;
			if (lr.v[i].complete && !bag_complete(ar))
				report(sk, MIG_FIND_AUDIT, lr.v[i].dir, "run %s "
				    "is complete in the lake, but the audit log "
				    "does not record its end: the log was cut or "
				    "rewritten after the bag was made",
				    lr.v[i].id);
			run_dir_of(ar->bags[0].dir, home, sizeof(home));
			if (strcmp(home, lr.v[i].dir) != 0)
				report(sk, MIG_FIND_EXTRA, lr.v[i].dir, "a "
				    "second copy of run %s: the audit log puts "
				    "it at %s only (a copy elsewhere could roll "
				    "a version back)", lr.v[i].id, home);
		}
		mig_lake_runs_free(&lr);
	}
	return r;
}

/* The last run of the log that completed a bag (NULL: none). */
static const struct mig_audit_run *
latest_on_record(const struct mig_audit_runs *runs)
{
	size_t i;

	for (i = runs->n; i > 0; i--)
		if (bag_complete(&runs->v[i - 1]))
			return &runs->v[i - 1];
	return NULL;
}

static int
read_runs(const struct mig_plan *p, const struct mig_sign_key *pub,
    const char *want, struct run_trust *tr, struct mig_ctx *ctx)
{
	struct mig_audit_report rep;

	mig_audit_stored_free(&tr->stored);
	mig_audit_runs_free(&tr->runs);
	return mig_audit_runs_read(p->audit_log, p->name, pub, want,
	    want != NULL ? &tr->stored : NULL, &tr->runs, &rep, ctx);
}

/*
 * --run takes a full id, or a unique prefix or suffix of one on record
 * (as `audit show` prints the 8-character suffix); an ambiguous one is a
 * usage error that lists the candidates.  An id not on record is kept as
 * given (the caller says so).
 */
static int
resolve_id(const struct mig_plan *p, const struct mig_audit_runs *runs,
    const char *arg, char want[32], struct mig_ctx *ctx)
{
	char list[600];
	size_t i, n = 0, al = strlen(arg), il, lo = 0;
	const char *hit = NULL;

	(void)snprintf(want, 32, "%s", arg);
	if (mig_audit_runs_find(runs, arg) != NULL || al == 0)
		return 0;
	list[0] = '\0';
	for (i = 0; i < runs->n; i++) {
		const char *id = runs->v[i].id;

		il = strlen(id);
		if (al > il || (strncmp(id, arg, al) != 0 &&
		    strcmp(id + il - al, arg) != 0))
			continue;
		hit = id;
		n++;
		if (lo < sizeof(list) - 40)
			lo += (size_t)snprintf(list + lo, sizeof(list) - lo,
			    "%s%s", n > 1 ? ", " : "", id);
	}
	if (n > 1)
		return mig_seterr(ctx, MIG_ERR_USAGE, "%s: --run %s matches %zu "
		    "runs: %s", p->file, arg, n, list);
	if (n == 1)
		(void)snprintf(want, 32, "%s", hit);
	return 0;
}

/*
 * No run asked for: the last run the log records as complete, into want
 * and tr.  A lake that knows more runs than the log is reported.
 */
static int
resolve_latest(struct mig_transport *t, const struct mig_plan *p,
    const struct mig_sign_key *pub, const struct trust_sink *sk,
    struct run_trust *tr, char want[32], struct mig_ctx *ctx)
{
	const struct mig_audit_run *run;
	int r;

	if ((run = latest_on_record(&tr->runs)) == NULL) {
		uint64_t before = 0;

		/* A lake that knows more than the log: cut log. */
		if ((r = report_unknown(t, p, &tr->runs, sk, &before,
		    ctx)) != 0)
			return r;
		if (before > 0)
			return MIG_ERR_VERIFY;
		if (tr->runs.n > 0)
			return mig_seterr(ctx, MIG_ERR_PARTIAL, "%s: "
			    "run %s of plan %s is in progress or "
			    "unfinished: no run has completed yet "
			    "(migrate run %s resumes it)", p->file,
			    tr->runs.v[tr->runs.n - 1].id, p->name,
			    p->file);
		return mig_seterr(ctx, MIG_ERR_NOTFOUND, "%s: no run "
		    "of plan %s on record in %s yet (migrate run %s)",
		    p->file, p->name, p->audit_log, p->file);
	}
	(void)snprintf(want, 32, "%s", run->id);
	if ((r = read_runs(p, pub, want, tr, ctx)) != 0 ||
	    (r = report_unknown(t, p, &tr->runs, sk, NULL, ctx)) != 0)
		return r;
	return 0;
}

/* Run want is not on record: forged if the lake has it, else a typo. */
static int
not_on_record(const struct mig_plan *p, const struct run_trust *tr,
    const char *want, char **dirs, size_t ndirs,
    const struct trust_sink *sk, struct mig_ctx *ctx)
{
	char list[400];
	size_t k, lo = 0;

	if (ndirs > 0) {
		report(sk, MIG_FIND_AUDIT, dirs[0], "run %s is in the "
		    "lake but not on record in %s: forged, or landed "
		    "under another audit log", want, p->audit_log);
		return MIG_ERR_VERIFY;
	}
	/* The newest runs on record, to pick from. */
	list[0] = '\0';
	for (k = tr->runs.n; k > 0 && tr->runs.n - k < 5; k--)
		lo += (size_t)snprintf(list + lo, sizeof(list) - lo, "%s%s",
		    lo > 0 ? ", " : "", tr->runs.v[k - 1].id);
	return mig_seterr(ctx, MIG_ERR_USAGE, "%s: no run %s of plan %s on "
	    "record in %s%s%s", p->file, want, p->name, p->audit_log,
	    lo > 0 ? "; the latest: " : " (no run yet)", list);
}

/*
 * Run want is on record but not as complete: a bag of it with _SUCCESS
 * means the log was cut; otherwise the run is still unfinished.
 */
static int
not_complete(struct mig_transport *t, const struct mig_plan *p,
    const char *want, char **dirs, size_t ndirs,
    const struct trust_sink *sk, struct mig_ctx *ctx)
{
	char marker[PATH_MAX];
	struct mig_tstat st;
	size_t i;

	for (i = 0; i < ndirs; i++) {
		(void)snprintf(marker, sizeof(marker), "%s/_SUCCESS", dirs[i]);
		if (mig_transport_stat(t, marker, &st) == 0) {
			report(sk, MIG_FIND_AUDIT, dirs[i], "run %s is "
			    "complete in the lake, but the audit log "
			    "does not record its end: the log was cut "
			    "or rewritten after the bag was made", want);
			return MIG_ERR_VERIFY;
		}
		mig_clearerr(ctx);
	}
	return mig_seterr(ctx, MIG_ERR_PARTIAL, "%s: run %s is in "
	    "progress or unfinished (no complete run.end in %s): "
	    "verify it once it completes", p->file, want, p->audit_log);
}

/*
 * The bag must be in the lake where the log puts it (tr->dir); a copy
 * anywhere else is reported but not fatal.
 */
static int
check_place(const struct run_trust *tr, const char *want, char **dirs,
    size_t ndirs, const struct trust_sink *sk)
{
	size_t i;

	for (i = 0; i < ndirs; i++)
		if (strcmp(dirs[i], tr->dir) != 0)
			report(sk, MIG_FIND_EXTRA, dirs[i], "a second copy of "
			    "run %s: the audit log puts it at %s only "
			    "(a copy elsewhere could roll a version back)",
			    want, tr->dir);
	for (i = 0; i < ndirs && strcmp(dirs[i], tr->dir) != 0; i++)
		;
	if (i == ndirs) {
		report(sk, MIG_FIND_MISSING, tr->dir, "run %s is on record as "
		    "complete, but its bag is not in the lake (deleted, or "
		    "rolled back)", want);
		return MIG_ERR_VERIFY;
	}
	return 0;
}

int
trust_open(struct mig_transport *t, const struct mig_plan *p,
    const struct mig_sign_key *pub, const char *run_id,
    const struct trust_sink *sk, struct run_trust *tr, struct mig_ctx *ctx)
{
	char **dirs = NULL, want[32];
	size_t ndirs = 0;
	int r;

	memset(tr, 0, sizeof(*tr));
	tr->pub = pub;
	if (run_id != NULL && strcmp(run_id, "latest") == 0)
		run_id = NULL;
	if ((r = read_runs(p, pub, NULL, tr, ctx)) != 0) {
		if (r == MIG_ERR_VERIFY)
			report(sk, MIG_FIND_AUDIT, p->audit_log, "%s",
			    mig_errmsg(ctx));
		return r;
	}
	if (run_id != NULL) {
		if ((r = resolve_id(p, &tr->runs, run_id, want, ctx)) != 0 ||
		    (r = read_runs(p, pub, want, tr, ctx)) != 0)
			return r;
	} else if ((r = resolve_latest(t, p, pub, sk, tr, want, ctx)) != 0)
		return r;
	(void)snprintf(tr->id, sizeof(tr->id), "%s", want);
	if ((r = lake_dirs_of(t, p, want, &dirs, &ndirs, ctx)) != 0)
		return r;
	tr->run = mig_audit_runs_find(&tr->runs, want);
	if (tr->run == NULL)
		r = not_on_record(p, tr, want, dirs, ndirs, sk, ctx);
	else if (!bag_complete(tr->run))
		r = not_complete(t, p, want, dirs, ndirs, sk, ctx);
	else {
		run_dir_of(tr->run->bags[0].dir, tr->dir, sizeof(tr->dir));
		r = check_place(tr, want, dirs, ndirs, sk);
	}
	mig_lake_free_names(dirs, ndirs);
	return r;
}

const struct mig_audit_bag *
trust_bag(const struct run_trust *tr, const char *bagdir)
{
	const char *s = strstr(bagdir, "/shard=");
	char shard[32] = "";
	int k, n;
	size_t i;

	if (tr->run == NULL)
		return NULL;
	if (s != NULL && sscanf(s, "/shard=%d-of-%d", &k, &n) == 2)
		(void)snprintf(shard, sizeof(shard), "%d/%d", k, n);
	for (i = 0; i < tr->run->nbags; i++)
		if (strcmp(tr->run->bags[i].shard, shard) == 0)
			return &tr->run->bags[i];
	return NULL;
}

/* Lines of a manifest held at once: one line, at most. */
#define MANIFEST_LINE_MAX	(64u * 1024)

/* One manifest line, "HEX  data/PATH" (no newline), against the record. */
static int
manifest_line(const struct run_trust *tr, const char *mpath, const char *s,
    size_t len, size_t lineno, const struct trust_sink *sk,
    struct mig_ctx *ctx, size_t *n)
{
	const char *p = s + 65, *end = s + len;
	char sha[65], *dest = NULL;
	int r;

	if (len <= 64 + 2 || s[64] != ' ')
		return 0;
	while (p < end && (*p == ' ' || *p == '*'))
		p++;
	memcpy(sha, s, 64);
	sha[64] = '\0';
	/* RFC 8493 escapes %25, %0A and %0D in paths. */
	r = mig_percent_decode(p, (size_t)(end - p), &dest);
	if (r == MIG_ERR_NOMEM)
		return r;
	if (r != 0) {
		mig_clearerr(ctx);
		report(sk, MIG_FIND_FORMAT, mpath, "line %zu: a malformed "
		    "%%-escape in the path", lineno);
	} else if (!mig_audit_stored_has(&tr->stored, dest, sha))
		report(sk, MIG_FIND_AUDIT, dest, "in the bag but not on record "
		    "as stored in run %s with this SHA-256", tr->id);
	free(dest);
	(*n)++;
	return 0;
}

/*
 * The bag's manifest against the objects on record, read as a stream
 * (a run of millions of objects has a manifest of hundreds of MB) and
 * hashed on the way for the record's digest of it.
 */
static int
check_manifest(struct mig_transport *t, const struct run_trust *tr,
    const struct mig_audit_bag *bag, const char *bagdir,
    const struct trust_sink *sk, struct mig_ctx *ctx)
{
	struct mig_reader *raw = NULL, *rd = NULL;
	unsigned char md[32];
	char path[PATH_MAX], hex[65], *buf = NULL, *nl;
	size_t have = 0, got, start, n = 0, lineno = 1;
	uint64_t count;
	int r;

	if ((size_t)snprintf(path, sizeof(path), "%s/manifest-sha256.txt",
	    bagdir) >= sizeof(path))
		return mig_seterr(ctx, MIG_ERR_INTERNAL, "path too long");
	if ((r = mig_transport_open_read(t, path, &raw)) != 0) {
		mig_clearerr(ctx);
		return 0;	/* the BagIt check reports it */
	}
	if ((buf = malloc(MANIFEST_LINE_MAX)) == NULL) {
		r = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = mig_sha256_reader_new(raw, ctx, &rd)) != 0)
		goto out;
	for (;;) {
		if (have == MANIFEST_LINE_MAX) {
			/* The BagIt check names such a line; skip it here. */
			report(sk, MIG_FIND_FORMAT, path, "line %zu: longer "
			    "than %u bytes", lineno, MANIFEST_LINE_MAX);
			have = 0;
		}
		if ((r = mig_reader_read(rd, buf + have, MANIFEST_LINE_MAX -
		    have, &got)) != 0) {
			/*
			 * Half read is not checked: the digest and the count
			 * against the record would be skipped without a word.
			 */
			report(sk, MIG_FIND_FORMAT, path, "could not be read "
			    "to the end (line %zu): %s", lineno,
			    mig_errmsg(ctx));
			mig_clearerr(ctx);
			r = 0;
			goto out;
		}
		if (got == 0)
			break;
		have += got;
		for (start = 0; (nl = memchr(buf + start, '\n',
		    have - start)) != NULL; start = (size_t)(nl - buf) + 1) {
			if ((r = manifest_line(tr, path, buf + start,
			    (size_t)(nl - buf) - start, lineno++, sk, ctx,
			    &n)) != 0)
				goto out;
		}
		memmove(buf, buf + start, have - start);
		have -= start;
	}
	mig_sha256_reader_result(rd, md, &count);
	mig_hex_encode(md, sizeof(md), hex);
	if (bag->manifest_sha256[0] != '\0' &&
	    strcmp(hex, bag->manifest_sha256) != 0)
		report(sk, MIG_FIND_AUDIT, path, "not the manifest the run "
		    "recorded in the audit log (SHA-256 %.16s..., recorded "
		    "%.16s...)", hex, bag->manifest_sha256);
	if (n != bag->objects)
		report(sk, MIG_FIND_AUDIT, path, "%zu objects, but run %s "
		    "recorded %llu", n, tr->id,
		    (unsigned long long)bag->objects);
out:
	mig_reader_free(rd);
	mig_reader_free(raw);
	free(buf);
	return r;
}

/* SHA-256 of a file of the lake, streamed. */
static int
hash_file(struct mig_transport *t, const char *path, char hex[65],
    struct mig_ctx *ctx)
{
	struct mig_reader *src = NULL, *sha = NULL;
	unsigned char buf[65536], md[32];
	uint64_t n64;
	size_t n;
	int r;

	if ((r = mig_transport_open_read(t, path, &src)) != 0 ||
	    (r = mig_sha256_reader_new(src, ctx, &sha)) != 0)
		goto out;
	do
		r = mig_reader_read(sha, buf, sizeof(buf), &n);
	while (r == 0 && n > 0);
	if (r == 0) {
		mig_sha256_reader_result(sha, md, &n64);
		mig_hex_encode(md, sizeof(md), hex);
	}
out:
	mig_reader_free(sha);
	mig_reader_free(src);
	return r;
}

/* The encrypted snapshot manifest is the one the run recorded. */
static int
check_snapshot(struct mig_transport *t, const struct mig_audit_bag *bag,
    const char *bagdir, const struct trust_sink *sk, struct mig_ctx *ctx)
{
	char path[PATH_MAX], hex[65];

	if (bag->snapshot_sha256[0] == '\0')
		return 0;	/* a run from before it was recorded */
	if ((size_t)snprintf(path, sizeof(path),
	    "%s/migrate-manifest.json.age", bagdir) >= sizeof(path))
		return mig_seterr(ctx, MIG_ERR_INTERNAL, "path too long");
	if (hash_file(t, path, hex, ctx) != 0) {
		mig_clearerr(ctx);
		return 0;	/* the BagIt check reports it */
	}
	if (strcmp(hex, bag->snapshot_sha256) != 0)
		report(sk, MIG_FIND_AUDIT, path, "not the encrypted manifest "
		    "the run recorded in the audit log: replaced after the "
		    "run");
	return 0;
}

/* The seal of bagdir under tr->pub. */
static int
check_seal(struct mig_transport *t, const struct run_trust *tr,
    const char *bagdir, const char *info_head, const struct trust_sink *sk,
    struct mig_ctx *ctx)
{
	unsigned char *note = NULL, *tm = NULL, md[32];
	char path[PATH_MAX], hex[65];
	struct mig_seal seal;
	size_t len, tlen;
	int r;

	(void)snprintf(path, sizeof(path), "%s/%s", bagdir, MIG_SEAL_FILE);
	if ((r = mig_transport_get(t, path, MIG_SEAL_MAX, &note, &len)) != 0) {
		report(sk, MIG_FIND_AUDIT, path, "no seal: the plan signs its "
		    "runs, and this bag carries no signature (%s)",
		    mig_errmsg(ctx));
		mig_clearerr(ctx);
		return 0;
	}
	r = mig_seal_verify((const char *)note, len, tr->pub, &seal, ctx);
	free(note);
	if (r == MIG_ERR_FORMAT || r == MIG_ERR_VERIFY) {
		report(sk, MIG_FIND_AUDIT, path, "%s", mig_errmsg(ctx));
		mig_clearerr(ctx);
		return 0;
	}
	if (r != 0)
		return r;
	(void)snprintf(path, sizeof(path), "%s/tagmanifest-sha256.txt",
	    bagdir);
	if ((r = mig_transport_get(t, path, TAG_MAX, &tm, &tlen)) != 0) {
		mig_clearerr(ctx);
		hex[0] = '\0';
	} else {
		if (EVP_Digest(tm, tlen, md, NULL, EVP_sha256(), NULL) != 1) {
			free(tm);
			return mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "SHA-256");
		}
		mig_hex_encode(md, sizeof(md), hex);
		free(tm);
	}
	if (strcmp(seal.run, tr->id) != 0 || strcmp(seal.dir, bagdir) != 0)
		report(sk, MIG_FIND_AUDIT, bagdir, "the seal is of run %s at "
		    "%s, not of this bag: a sealed bag was copied here",
		    seal.run, seal.dir);
	if (strcmp(seal.tagmanifest_sha256, hex) != 0)
		report(sk, MIG_FIND_AUDIT, path, "the tag manifest is not the "
		    "one the seal signed: tag files were changed after the "
		    "run");
	if (info_head == NULL || strcmp(seal.audit_head, info_head) != 0)
		report(sk, MIG_FIND_AUDIT, bagdir, "the seal names audit head "
		    "%.16s..., bag-info.txt another", seal.audit_head);
	return 0;
}

int
trust_check_bag(struct mig_transport *t, const struct run_trust *tr,
    const char *bagdir, const char *info_head, const char *info_extid,
    const struct trust_sink *sk, struct mig_ctx *ctx)
{
	const struct mig_audit_bag *bag = trust_bag(tr, bagdir);
	const struct mig_audit_cp *cp = NULL;
	size_t i;
	int r;

	if (bag == NULL || !bag->complete) {
		report(sk, MIG_FIND_AUDIT, bagdir, "this bag of run %s is not "
		    "on record as complete in the audit log", tr->id);
		return 0;
	}
	if (strcmp(bag->dir, bagdir) != 0)
		report(sk, MIG_FIND_AUDIT, bagdir, "the audit log puts this "
		    "bag at %s", bag->dir);
	if (info_extid == NULL || strcmp(info_extid, tr->id) != 0)
		report(sk, MIG_FIND_AUDIT, "bag-info.txt", "External-Identifier "
		    "%s is not the run id %s", info_extid != NULL ? info_extid :
		    "(none)", tr->id);
	for (i = 0; info_head != NULL && i < tr->run->ncps; i++)
		if (tr->run->cps[i].seq > bag->end_seq &&
		    strcmp(tr->run->cps[i].head, info_head) == 0)
			cp = &tr->run->cps[i];
	if (cp == NULL)
		report(sk, MIG_FIND_AUDIT, "bag-info.txt", "Migrate-Audit-Head "
		    "%.16s... is not a checkpoint of run %s after its end in "
		    "the audit log", info_head != NULL ? info_head : "(none)",
		    tr->id);
	else if (tr->pub != NULL && !cp->signed_)
		report(sk, MIG_FIND_AUDIT, "bag-info.txt", "the checkpoint of "
		    "run %s is not signed, though the plan signs", tr->id);
	if ((r = check_manifest(t, tr, bag, bagdir, sk, ctx)) != 0 ||
	    (r = check_snapshot(t, bag, bagdir, sk, ctx)) != 0)
		return r;
	if (tr->pub != NULL)
		return check_seal(t, tr, bagdir, info_head, sk, ctx);
	return 0;
}

/* The value of "Label: value" in bag-info.txt text, into out ("" if none). */
static void
info_value(const char *text, size_t len, const char *label, char *out,
    size_t size)
{
	size_t ll = strlen(label), i = 0, n;
	const char *nl;

	out[0] = '\0';
	while (i < len) {
		nl = memchr(text + i, '\n', len - i);
		n = nl != NULL ? (size_t)(nl - text - i) : len - i;
		if (n > ll + 1 && strncasecmp(text + i, label, ll) == 0 &&
		    text[i + ll] == ':') {
			const char *v = text + i + ll + 1;
			size_t vl = n - ll - 1;

			while (vl > 0 && (*v == ' ' || *v == '\t')) {
				v++;
				vl--;
			}
			while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == ' '))
				vl--;
			if (vl < size) {
				memcpy(out, v, vl);
				out[vl] = '\0';
			}
			return;
		}
		i += n + 1;
	}
}

int
trust_check_bag_t(struct mig_transport *t, const struct run_trust *tr,
    const char *bagdir, const struct trust_sink *sk, struct mig_ctx *ctx)
{
	unsigned char *buf = NULL;
	char path[PATH_MAX], head[128], extid[128];
	size_t len;
	int r;

	if ((size_t)snprintf(path, sizeof(path), "%s/bag-info.txt", bagdir) >=
	    sizeof(path))
		return mig_seterr(ctx, MIG_ERR_INTERNAL, "path too long");
	if ((r = mig_transport_get(t, path, 1u << 20, &buf, &len)) != 0) {
		report(sk, MIG_FIND_FORMAT, path, "%s", mig_errmsg(ctx));
		mig_clearerr(ctx);
		return 0;
	}
	info_value((const char *)buf, len, "Migrate-Audit-Head", head,
	    sizeof(head));
	info_value((const char *)buf, len, "External-Identifier", extid,
	    sizeof(extid));
	free(buf);
	return trust_check_bag(t, tr, bagdir, head[0] != '\0' ? head : NULL,
	    extid[0] != '\0' ? extid : NULL, sk, ctx);
}

void
trust_close(struct run_trust *tr)
{
	mig_audit_stored_free(&tr->stored);
	mig_audit_runs_free(&tr->runs);
	memset(tr, 0, sizeof(*tr));
}
