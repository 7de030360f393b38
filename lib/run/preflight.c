/*
 * Preflight (migrate plan check): what `run` would refuse before it moves
 * any data, found without writing anything and reported all at once, each
 * at the plan line that caused it.  The checks are the ones run makes:
 * the same recipients parser, key loaders and audit-log head check.
 * Environment variables are the caller's (lib/ never reads them).
 */
#define MIG_RUN_INTERNAL
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "migrate/age.h"
#include "migrate/audit.h"
#include "migrate/error.h"
#include "migrate/keyfile.h"
#include "migrate/plan.h"
#include "migrate/run.h"
#include "migrate/sign.h"
#include "migrate/ssh_config.h"
#include "migrate/toml.h"
#include "migrate/transport.h"

#include "run_int.h"

struct pf {
	const struct mig_preflight_opts	*o;
	const struct mig_plan		*p;
	struct mig_toml_doc		*doc;	/* the plan, for positions */
	struct mig_ctx			*ctx;	/* scratch for each check */
	size_t				 errors;
};

/*
 * "FILE:LINE:COL" of the value at key (a dotted path; idx >= 0: that
 * element of the array), else of the first of fallbacks present, else
 * "FILE".
 */
static void
where(const struct pf *pf, const char *key, int idx, char *buf, size_t size)
{
	const struct mig_toml_value *root, *v = NULL;
	const char *tables[] = { key, "destination.url", "source.path", NULL };
	struct mig_toml_pos pos;
	size_t i;

	(void)snprintf(buf, size, "%s", pf->p->file);
	if (pf->doc == NULL)
		return;
	root = mig_toml_root(pf->doc);
	for (i = 0; v == NULL && tables[i] != NULL; i++)
		v = mig_toml_get_path(root, tables[i]);
	if (v == NULL)
		return;
	if (i == 1 && idx >= 0 && mig_toml_type(v) == MIG_TOML_ARRAY &&
	    (size_t)idx < mig_toml_array_len(v))
		v = mig_toml_array_at(v, (size_t)idx);
	pos = mig_toml_value_pos(v);
	(void)snprintf(buf, size, "%s:%u:%u", pf->p->file, pos.line, pos.col);
}

static void	report(struct pf *, enum mig_preflight_level, const char *,
		    int, const char *, ...) __attribute__((format(printf, 5, 6)));

static void
report(struct pf *pf, enum mig_preflight_level level, const char *key,
    int idx, const char *fmt, ...)
{
	char at[PATH_MAX + 32], msg[MIG_ERRMSG_MAX + 512];
	va_list ap;

	where(pf, key, idx, at, sizeof(at));
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (level == MIG_PREFLIGHT_ERROR)
		pf->errors++;
	if (pf->o->finding != NULL)
		pf->o->finding(pf->o->arg, level, at, msg);
}

/* --- Source ---------------------------------------------------------------- */

/* Counts, for each include pattern, the files it selects. */
static void
count_includes(struct pf *pf, const struct mig_inventory *inv,
    size_t *hits, size_t *selected)
{
	char *const *inc = pf->p->include;
	size_t i, k;

	*selected = 0;
	for (i = 0; i < inv->count; i++) {
		if (!mig_inventory_selected(inc, pf->p->exclude,
		    inv->entries[i].path))
			continue;
		(*selected)++;
		for (k = 0; inc != NULL && inc[k] != NULL; k++)
			if (mig_glob_match(inc[k], inv->entries[i].path))
				hits[k]++;
	}
}

/* A directory source: what the filters select, before a run says so. */
static void
check_filters(struct pf *pf)
{
	struct mig_inventory_opts io;
	struct mig_inventory *inv = NULL;
	size_t n = 0, k, *hits, selected = 0;

	while (pf->p->include != NULL && pf->p->include[n] != NULL)
		n++;
	if ((hits = calloc(n + 1, sizeof(*hits))) == NULL)
		return;
	memset(&io, 0, sizeof(io));
	io.follow_symlinks = pf->p->follow_symlinks;
	if (mig_inventory_walk(pf->p->source_path, &io, pf->ctx, &inv) != 0) {
		report(pf, MIG_PREFLIGHT_ERROR, "source.path", -1, "source %s "
		    "cannot be walked: %s", pf->p->source_path,
		    mig_errmsg(pf->ctx));
		free(hits);
		return;
	}
	count_includes(pf, inv, hits, &selected);
	for (k = 0; k < n; k++)
		if (hits[k] == 0)
			report(pf, MIG_PREFLIGHT_WARNING, "source.include",
			    (int)k, "source.include[%zu] \"%s\" matches no "
			    "file in %s (patterns follow .gitignore: see "
			    "FILTERS in migrate-plan(5))", k, pf->p->include[k],
			    pf->p->source_path);
	if (selected == 0 && pf->p->strategy != MIG_STRATEGY_RETAIN)
		report(pf, MIG_PREFLIGHT_WARNING, "source.include", -1,
		    "no file of %s is selected (%zu files, none left by "
		    "include and exclude): a run would land nothing",
		    pf->p->source_path, inv->count);
	if (pf->o->files != NULL)
		*pf->o->files = selected;
	mig_inventory_free(inv);
	free(hits);
}

static void
check_source(struct pf *pf)
{
	const char *path = pf->p->source_path;
	struct stat st;
	DIR *d;
	int fd;

	if (stat(path, &st) != 0) {
		report(pf, MIG_PREFLIGHT_ERROR, "source.path", -1, "source %s: "
		    "%s", path, strerror(errno));
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		if ((d = opendir(path)) == NULL) {
			report(pf, MIG_PREFLIGHT_ERROR, "source.path", -1,
			    "source %s cannot be read: %s", path,
			    strerror(errno));
			return;
		}
		(void)closedir(d);
		check_filters(pf);
	} else if (S_ISREG(st.st_mode)) {
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			report(pf, MIG_PREFLIGHT_ERROR, "source.path", -1,
			    "source %s cannot be read: %s", path,
			    strerror(errno));
			return;
		}
		(void)close(fd);
	} else
		report(pf, MIG_PREFLIGHT_ERROR, "source.path", -1, "source %s "
		    "is neither a directory nor an archive", path);
}

/* --- Keys ------------------------------------------------------------------ */

static void
check_recipients(struct pf *pf)
{
	struct mig_age_recipients *rs = mig_age_recipients_new();
	size_t i;

	if (rs == NULL)
		return;
	for (i = 0; pf->p->recipients != NULL && pf->p->recipients[i] != NULL;
	    i++)
		if (mig_age_recipients_add(rs, pf->p->recipients[i],
		    pf->ctx) != 0)
			report(pf, MIG_PREFLIGHT_ERROR, "encryption.recipients",
			    (int)i, "encryption.recipients[%zu]: %s", i,
			    mig_errmsg(pf->ctx));
	if (pf->p->recipients_file != NULL &&
	    mig_age_recipients_load(rs, pf->p->recipients_file,
	    pf->ctx) != 0)
		report(pf, MIG_PREFLIGHT_ERROR, "encryption.recipients_file", -1,
		    "encryption.recipients_file: %s%s", mig_errmsg(pf->ctx),
		    access(pf->p->recipients_file, F_OK) != 0 ? " (migrate "
		    "keygen -o KEY writes KEY.pub, a recipients file)" : "");
	mig_age_recipients_free(rs);
}

static void
check_signing_key(struct pf *pf)
{
	struct mig_sign_key *key = NULL;

	if (pf->p->signing_key == NULL)
		return;
	/* The loader refuses a key group or others may read (0644). */
	if (mig_sign_key_load(pf->p->signing_key, pf->ctx, &key) != 0)
		report(pf, MIG_PREFLIGHT_ERROR, "audit.signing_key", -1,
		    "audit.signing_key: %s", mig_errmsg(pf->ctx));
	mig_sign_key_free(key);
}

/* The sftp identities: the plan's, else ssh_config's or the defaults. */
static void
check_sftp_keys(struct pf *pf, const struct mig_sftp_target *t)
{
	char *buf = NULL;
	size_t i, len = 0;

	for (i = 0; i < t->nidentity; i++) {
		if (mig_keyfile_read(t->identity[i], true, &buf, &len,
		    pf->ctx) != 0)
			report(pf, MIG_PREFLIGHT_ERROR, "destination.identity",
			    -1, "%s: %s", t->identity_explicit ?
			    "destination.identity" : "identity (from "
			    "ssh_config or the defaults; destination.identity "
			    "names another)", mig_errmsg(pf->ctx));
		mig_keyfile_free(buf, len);
		buf = NULL;
	}
}

/*
 * Where the destination really is (ssh_config.c, as sftp_open resolves
 * it) and whether its known_hosts file and keys are there.
 */
static void
check_sftp(struct pf *pf)
{
	const char *kh = mig_topts_get(&pf->p->dest, "known_hosts");
	const char *what = kh != NULL ? "destination.known_hosts: " : "";
	struct mig_sftp_target t;
	struct mig_url url;

	if (mig_url_parse(pf->p->url, &url, pf->ctx) != 0)
		return;
	if (mig_sftp_resolve(&pf->p->dest, &url, pf->o->home, NULL,
	    pf->p->dir, &t, pf->ctx) != 0) {
		report(pf, MIG_PREFLIGHT_ERROR, "destination.ssh_config", -1,
		    "ssh_config: %s", mig_errmsg(pf->ctx));
		goto out;
	}
	if (t.known_hosts == NULL)
		report(pf, MIG_PREFLIGHT_ERROR, "destination.known_hosts", -1,
		    "no known_hosts file to verify the host key of %s (set "
		    "destination.known_hosts)", t.host);
	else if (access(t.known_hosts, R_OK) != 0)
		report(pf, MIG_PREFLIGHT_ERROR, "destination.known_hosts", -1,
		    "%s%s: %s; the host key of %s must be known before the "
		    "first connection: check it, then ssh-keyscan -p %d %s >> "
		    "%s", what, t.known_hosts, strerror(errno), t.host, t.port,
		    t.host, t.known_hosts);
	check_sftp_keys(pf, &t);
out:
	mig_sftp_target_free(&t);
	mig_url_free(&url);
}

static void
check_destination(struct pf *pf)
{
	const char *ca = mig_topts_get(&pf->p->dest, "ca_file");
	struct stat st;

	if (strcmp(pf->p->scheme, "sftp") == 0)
		check_sftp(pf);
	if (ca != NULL && access(ca, R_OK) != 0)
		report(pf, MIG_PREFLIGHT_ERROR, "destination.ca_file", -1,
		    "destination.ca_file: %s: %s", ca, strerror(errno));
	if (pf->p->lake_path != NULL && stat(pf->p->lake_path, &st) == 0 &&
	    !S_ISDIR(st.st_mode))
		report(pf, MIG_PREFLIGHT_ERROR, "destination.url", -1,
		    "destination.url: %s is not a directory", pf->p->lake_path);
}

static void
check_audit(struct pf *pf)
{
	if (mig_audit_probe(pf->p->audit_log, pf->ctx) != 0)
		report(pf, MIG_PREFLIGHT_ERROR, "audit.log", -1, "audit.log: %s",
		    mig_errmsg(pf->ctx));
}

/* --- The preflight --------------------------------------------------------- */

static void
load_doc(struct pf *pf)
{
	struct mig_toml_error err;
	char *buf = NULL;
	size_t len = 0;

	/* Positions only: the plan itself was loaded and checked. */
	if (mig_keyfile_read(pf->p->file, false, &buf, &len, pf->ctx) != 0)
		return;
	if (mig_toml_parse(buf, len, &pf->doc, &err) != 0)
		pf->doc = NULL;
	mig_keyfile_free(buf, len);
}

int
mig_run_preflight(const struct mig_preflight_opts *o, size_t *errorsp,
    struct mig_ctx *ctx)
{
	struct pf pf;

	*errorsp = 0;
	memset(&pf, 0, sizeof(pf));
	pf.o = o;
	pf.p = o->plan;
	if ((pf.ctx = mig_ctx_new()) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	load_doc(&pf);
	check_source(&pf);
	check_recipients(&pf);
	check_destination(&pf);
	check_signing_key(&pf);
	check_audit(&pf);
	mig_toml_free(pf.doc);
	mig_ctx_free(pf.ctx);
	*errorsp = pf.errors;
	return 0;
}

/* --- The last complete run (dry-run totals) ------------------------------- */

struct mig_run_last {
	json_t		*doc;
	const json_t	*objects;
};

/* The paths of the last complete run's snapshot (its local copy). */
int
mig_run_last_load(const struct mig_plan *p, int shard_k, int shard_n,
    struct mig_ctx *ctx, struct mig_run_last **lastp)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct mig_run_last *last = NULL;
	struct snap_reader *sr = NULL;
	struct snap_entry e;
	json_t *paths = NULL;
	int r;

	*lastp = NULL;
	if ((r = state_dir_for(p, shard_k, shard_n, dir, sizeof(dir),
	    ctx)) != 0)
		return r;
	if ((size_t)snprintf(path, sizeof(path), "%s/snapshot.jsonl", dir) >=
	    sizeof(path))
		return mig_seterr(ctx, MIG_ERR_USAGE, "%s: path too long", dir);
	if ((r = snap_open_file(path, &sr, ctx)) == MIG_ERR_NOTFOUND) {
		mig_clearerr(ctx);
		return 0;
	}
	if (r != 0)
		return r;
	if ((paths = json_object()) == NULL) {
		r = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out;
	}
	while ((r = snap_next(sr, &e)) == 1)
		if (json_object_set_new(paths, e.path, json_null()) != 0) {
			r = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
			goto out;
		}
	if (r != 0)
		goto out;
	if ((last = calloc(1, sizeof(*last))) == NULL) {
		r = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out;
	}
	last->doc = paths;
	last->objects = paths;
	paths = NULL;
	*lastp = last;
out:
	json_decref(paths);
	snap_reader_free(sr);
	return r;
}

bool
mig_run_last_has(const struct mig_run_last *last, const char *path)
{
	return last != NULL && json_is_object(last->objects) &&
	    json_object_get(last->objects, path) != NULL;
}

void
mig_run_last_free(struct mig_run_last *last)
{
	if (last == NULL)
		return;
	json_decref(last->doc);
	free(last);
}
