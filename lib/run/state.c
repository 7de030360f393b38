/*
 * Local run state, one directory per plan identity, and the run lock.
 *
 *   AUDITDIR/NAME.state/PLAN-KEY[/shard-K-of-N]/
 *       identity.json   plan name, destination URL, zone and dataset
 *       lock            flock(2)ed for the whole run; holds pid, host, start
 *       current.json    the unfinished run
 *       RUNID.journal   objects landed in it
 *       snapshot.jsonl  the last complete run's snapshot: every path with
 *                       its size, mode, mtime, plaintext SHA-256 and the
 *                       run holding its object (lib/run/snapshot.c)
 *       last.json       the same before snapshots; read once, then removed
 *
 * KEY is 16 hex digits of SHA-256 over the plan's name, destination URL,
 * zone and dataset: two plans that share an audit log (or one plan whose
 * destination changed) never share incremental state, and identity.json
 * refuses state that was made for another plan.  Plaintext digests are
 * sensitive, so they stay here, on the source side.
 *
 * The lock is flock(2) on STATE/lock: the kernel drops it when its holder
 * dies, so a lock left by a dead process is simply taken over (and the
 * caller audits that, from the holder line it left behind).
 */
#define MIG_LAKE_INTERNAL
#define MIG_RUN_INTERNAL
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "migrate/error.h"
#include "migrate/plan.h"
#include "migrate/stream.h"
#include "migrate/util.h"

#include "../lake/layout_int.h"
#include "run_int.h"

int
state_mkdir_p(const char *dir, struct mig_ctx *ctx)
{
	char tmp[PATH_MAX], *p;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s", dir) >= sizeof(tmp))
		return mig_seterr(ctx, MIG_ERR_IO, "%s: path too long", dir);
	for (p = tmp + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		{
			char c = *p;

			*p = '\0';
			if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
				return mig_seterr(ctx, MIG_ERR_IO,
				    "mkdir %s: %s", tmp, strerror(errno));
			*p = c;
			if (c == '\0')
				break;
		}
	}
	return 0;
}

int
state_read_json(const char *path, json_t **jp, struct mig_ctx *ctx)
{
	json_error_t jerr;

	*jp = NULL;
	if (access(path, F_OK) != 0 && errno == ENOENT)
		return 0;
	*jp = json_load_file(path, 0, &jerr);
	if (*jp == NULL)
		return mig_seterr(ctx, MIG_ERR_FORMAT, "%s:%d: %s", path,
		    jerr.line, jerr.text);
	return 0;
}

int
state_write_json(const char *path, const json_t *j, struct mig_ctx *ctx)
{
	struct mig_writer *w = NULL;
	char *text;
	int r;

	if ((text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	if ((r = mig_file_writer_new(path, 0600, true, ctx, &w)) == 0 &&
	    (r = mig_writer_write(w, text, strlen(text))) == 0 &&
	    (r = mig_writer_write(w, "\n", 1)) == 0)
		r = mig_writer_close(w);
	mig_writer_free(w);
	free(text);
	return r;
}

int
state_read_current(const char *dir, char out[64], struct mig_ctx *ctx)
{
	char path[PATH_MAX];
	json_t *j = NULL;
	const char *id;
	int r;

	out[0] = '\0';
	(void)snprintf(path, sizeof(path), "%s/current.json", dir);
	if ((r = state_read_json(path, &j, ctx)) != 0 || j == NULL)
		return r;
	id = json_string_value(json_object_get(j, "run"));
	if (id != NULL && mig_lake_valid_run_id(id))
		(void)snprintf(out, 64, "%s", id);
	json_decref(j);
	return 0;
}

int
state_write_current(const char *dir, const char *run_id, const char *run_dir,
    struct mig_ctx *ctx)
{
	char path[PATH_MAX];
	json_t *j;
	int r;

	(void)snprintf(path, sizeof(path), "%s/current.json", dir);
	j = json_pack("{s:s, s:s}", "run", run_id, "dir", run_dir);
	if (j == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	r = state_write_json(path, j, ctx);
	json_decref(j);
	return r;
}

int
state_clear_current(const char *dir, struct mig_ctx *ctx)
{
	char path[PATH_MAX];

	(void)snprintf(path, sizeof(path), "%s/current.json", dir);
	if (unlink(path) != 0 && errno != ENOENT)
		return mig_seterr(ctx, MIG_ERR_IO, "%s: %s", path,
		    strerror(errno));
	return 0;
}

/* AUDITDIR/NAME.jsonl -> AUDITDIR/NAME.state */
static int
state_base(const struct mig_plan *p, char *buf, size_t size)
{
	const char *log = p->audit_log;
	size_t len = strlen(log);
	int n;

	if (len > 6 && strcmp(log + len - 6, ".jsonl") == 0)
		len -= 6;
	n = snprintf(buf, size, "%.*s.state", (int)len, log);
	return n < 0 || (size_t)n >= size ? MIG_ERR_INTERNAL : 0;
}

static json_t *
identity_of(const struct mig_plan *p)
{
	return json_pack("{s:s, s:s, s:s, s:s}", "plan", p->name, "url",
	    p->url, "zone", p->zone, "dataset", p->dataset);
}

/* NAME-KEY: the plan's state directory name. */
static int
identity_key(const struct mig_plan *p, char *buf, size_t size,
    struct mig_ctx *ctx)
{
	unsigned char md[32];
	char hex[65];
	EVP_MD_CTX *c;
	int ok;

	if ((c = EVP_MD_CTX_new()) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	/* NUL separators: no two identities hash the same bytes. */
	ok = EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(c, p->name, strlen(p->name) + 1) == 1 &&
	    EVP_DigestUpdate(c, p->url, strlen(p->url) + 1) == 1 &&
	    EVP_DigestUpdate(c, p->zone, strlen(p->zone) + 1) == 1 &&
	    EVP_DigestUpdate(c, p->dataset, strlen(p->dataset) + 1) == 1 &&
	    EVP_DigestFinal_ex(c, md, NULL) == 1;
	EVP_MD_CTX_free(c);
	if (!ok)
		return mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "SHA-256");
	mig_hex_encode(md, 8, hex);
	if ((size_t)snprintf(buf, size, "%s-%s", p->name, hex) >= size)
		return mig_seterr(ctx, MIG_ERR_INTERNAL, "path too long");
	return 0;
}

/* The lake directory an old state file refers to ("dir"), or NULL. */
static char *
old_state_dir(const char *old, const char *file)
{
	char path[PATH_MAX];
	json_t *j;
	char *dir = NULL;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", old, file) >=
	    sizeof(path) || (j = json_load_file(path, 0, NULL)) == NULL)
		return NULL;
	if (json_string_value(json_object_get(j, "dir")) != NULL)
		dir = strdup(json_string_value(json_object_get(j, "dir")));
	json_decref(j);
	return dir;
}

/*
 * State of the layout before per-plan keys (files directly in
 * NAME.state[/shard-K-of-N]) moves once into the plan's directory when
 * it was made for this plan's zone and dataset.
 */
static int
migrate_old(const struct mig_plan *p, const char *old, const char *dir,
    struct mig_ctx *ctx)
{
	static const char *const files[] = { "current.json", "last.json" };
	char prefix[PATH_MAX], from[PATH_MAX], to[PATH_MAX], *d;
	bool ours = false;
	struct dirent *de;
	DIR *dp;
	size_t i;

	(void)snprintf(prefix, sizeof(prefix), "%s/%s/", p->zone, p->dataset);
	for (i = 0; i < 2; i++) {
		if ((d = old_state_dir(old, files[i])) == NULL)
			continue;
		ours = ours || strncmp(d, prefix, strlen(prefix)) == 0;
		free(d);
	}
	if (!ours || (dp = opendir(old)) == NULL)
		return 0;
	while ((de = readdir(dp)) != NULL) {
		size_t n = strlen(de->d_name);

		if (strcmp(de->d_name, "current.json") != 0 &&
		    strcmp(de->d_name, "last.json") != 0 &&
		    (n < 9 || strcmp(de->d_name + n - 8, ".journal") != 0))
			continue;
		if ((size_t)snprintf(from, sizeof(from), "%s/%s", old,
		    de->d_name) >= sizeof(from) ||
		    (size_t)snprintf(to, sizeof(to), "%s/%s", dir,
		    de->d_name) >= sizeof(to))
			continue;
		if (rename(from, to) != 0) {
			closedir(dp);
			return mig_seterr(ctx, MIG_ERR_IO, "moving %s to %s: %s",
			    from, to, strerror(errno));
		}
	}
	closedir(dp);
	return 0;
}

/* identity.json: written once, checked every time. */
static int
check_identity(const struct mig_plan *p, const char *dir, struct mig_ctx *ctx)
{
	char path[PATH_MAX];
	json_t *want, *have = NULL;
	int r;

	if ((size_t)snprintf(path, sizeof(path), "%s/identity.json", dir) >=
	    sizeof(path))
		return mig_seterr(ctx, MIG_ERR_USAGE, "%s: path too long", dir);
	if ((want = identity_of(p)) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	if ((r = state_read_json(path, &have, ctx)) != 0)
		goto out;
	if (have == NULL)
		r = state_write_json(path, want, ctx);
	else if (!json_equal(want, have))
		r = mig_seterr(ctx, MIG_ERR_SECURITY, "%s: this state belongs "
		    "to plan %s with destination %s, dataset %s; refusing to "
		    "use it for plan %s with destination %s, dataset %s",
		    dir, json_string_value(json_object_get(have, "plan")),
		    json_string_value(json_object_get(have, "url")),
		    json_string_value(json_object_get(have, "dataset")),
		    p->name, p->url, p->dataset);
out:
	json_decref(want);
	json_decref(have);
	return r;
}

int
state_dir_for(const struct mig_plan *p, int shard_k, int shard_n, char *buf,
    size_t size, struct mig_ctx *ctx)
{
	char base[PATH_MAX], key[512];
	int n, r;

	if (state_base(p, base, sizeof(base)) != 0)
		return mig_seterr(ctx, MIG_ERR_USAGE, "state path too long");
	if ((r = identity_key(p, key, sizeof(key), ctx)) != 0)
		return r;
	if (shard_n > 0)
		n = snprintf(buf, size, "%s/%s/shard-%d-of-%d", base, key,
		    shard_k, shard_n);
	else
		n = snprintf(buf, size, "%s/%s", base, key);
	if (n < 0 || (size_t)n >= size)
		return mig_seterr(ctx, MIG_ERR_USAGE, "state path too long");
	return 0;
}

int
state_prepare(const struct mig_plan *p, int shard_k, int shard_n,
    const char *dir, struct mig_ctx *ctx)
{
	char base[PATH_MAX], old[PATH_MAX], top[PATH_MAX];
	struct stat st;
	bool fresh;
	int r;

	if (state_base(p, base, sizeof(base)) != 0)
		return mig_seterr(ctx, MIG_ERR_USAGE, "state path too long");
	fresh = stat(dir, &st) != 0;
	if ((r = state_mkdir_p(dir, ctx)) != 0)
		return r;
	/* identity.json sits in the plan's directory, above its shards. */
	(void)snprintf(top, sizeof(top), "%s", dir);
	if (shard_n > 0 && strrchr(top, '/') != NULL)
		*strrchr(top, '/') = '\0';
	if ((r = check_identity(p, top, ctx)) != 0)
		return r;
	if (!fresh)
		return 0;
	if (shard_n > 0 && (size_t)snprintf(old, sizeof(old),
	    "%s/shard-%d-of-%d", base, shard_k, shard_n) >= sizeof(old))
		return 0;
	if (shard_n == 0)
		memcpy(old, base, sizeof(old));
	return migrate_old(p, old, dir, ctx);
}

int
state_lock(const char *dir, struct state_lock *lk, struct mig_ctx *ctx)
{
	char path[PATH_MAX], host[128], stamp[32];
	struct tm tm;
	time_t now = time(NULL);
	ssize_t n;
	int fd;

	memset(lk, 0, sizeof(*lk));
	lk->fd = -1;
	if ((size_t)snprintf(path, sizeof(path), "%s/lock", dir) >=
	    sizeof(path))
		return mig_seterr(ctx, MIG_ERR_USAGE, "%s: path too long", dir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0600)) < 0)
		return mig_seterr(ctx, MIG_ERR_IO, "%s: %s", path,
		    strerror(errno));
	n = pread(fd, lk->previous, sizeof(lk->previous) - 1, 0);
	lk->previous[n > 0 ? n : 0] = '\0';
	lk->previous[strcspn(lk->previous, "\n")] = '\0';
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;

		close(fd);
		if (e == EWOULDBLOCK)
			return mig_seterr(ctx, MIG_ERR_AGAIN, "another run of "
			    "this plan holds %s (%s): wait for it to finish; "
			    "a lock whose process died is taken over",
			    path, lk->previous[0] != '\0' ? lk->previous :
			    "holder unknown");
		return mig_seterr(ctx, MIG_ERR_IO, "%s: %s", path,
		    strerror(e));
	}
	/* Locked: what the file still says is a holder that died. */
	(void)gethostname(host, sizeof(host));
	host[sizeof(host) - 1] = '\0';
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	(void)snprintf(lk->mine, sizeof(lk->mine), "pid %ld on %s since %s",
	    (long)getpid(), host, stamp);
	if (ftruncate(fd, 0) != 0 ||
	    pwrite(fd, lk->mine, strlen(lk->mine), 0) < 0 ||
	    pwrite(fd, "\n", 1, (off_t)strlen(lk->mine)) < 0 ||
	    fdatasync(fd) != 0) {
		close(fd);
		return mig_seterr(ctx, MIG_ERR_IO, "%s: %s", path,
		    strerror(errno));
	}
	lk->fd = fd;
	return 0;
}

void
state_unlock(struct state_lock *lk)
{
	if (lk->fd < 0)
		return;
	/* Empty: the next holder finds no dead one to report. */
	(void)ftruncate(lk->fd, 0);
	close(lk->fd);
	lk->fd = -1;
}
