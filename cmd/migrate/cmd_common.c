/*
 * What the plan-driven verbs (run, verify, restore) share: reading the
 * environment the plan names, keys, the audit log, progress output.
 * lib/ never reads the environment; this file is where it happens.
 */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "migrate/age.h"
#include "migrate/audit.h"
#include "migrate/error.h"
#include "migrate/plan.h"
#include "migrate/run.h"
#include "migrate/sign.h"
#include "migrate/transport.h"

#include "cmd.h"

int
cmd_load_plan(const char *path, struct mig_ctx *ctx, struct mig_plan **planp)
{
	struct mig_plan_env env = { getenv("HOME") };
	int r;

	r = mig_plan_load(path, &env, ctx, planp);
	/* A plan that is not there is a usage error (exit 2). */
	if (r == MIG_ERR_NOTFOUND)
		r = mig_seterr(ctx, MIG_ERR_USAGE, "%s", mig_errmsg(ctx));
	return r;
}

/* The value of the variable a plan key names; error when unset. */
static int
plan_secret(const struct mig_plan *p, const char *key, const char *var,
    const char **out, struct mig_ctx *ctx)
{
	*out = NULL;
	if (var == NULL)
		return 0;
	*out = getenv(var);
	if (*out == NULL || (*out)[0] == '\0')
		return mig_seterr(ctx, MIG_ERR_USAGE, "%s: %s names the "
		    "environment variable %s, which is not set", p->file, key,
		    var);
	return 0;
}

int
cmd_transport_config(const struct mig_plan *p,
    struct mig_transport_config *cfg, struct mig_ctx *ctx)
{
	int r;

	memset(cfg, 0, sizeof(*cfg));
	cfg->url = p->url;
	cfg->base_dir = p->dir;
	cfg->known_hosts = p->known_hosts;
	cfg->identity = p->identity;
	cfg->ca_file = p->ca_file;
	cfg->pinned_pubkey = p->pinned_pubkey;
	cfg->user = p->user;
	cfg->allow_plain_http_loopback = p->allow_plain_http_loopback;
	cfg->agent_socket = getenv("SSH_AUTH_SOCK");
	if ((r = plan_secret(p, "destination.identity_passphrase_env",
	    p->identity_passphrase_env, &cfg->identity_passphrase, ctx)) != 0 ||
	    (r = plan_secret(p, "destination.password_env", p->password_env,
	    &cfg->password, ctx)) != 0 ||
	    (r = plan_secret(p, "destination.token_env", p->token_env,
	    &cfg->token, ctx)) != 0)
		return r;
	return 0;
}

int
cmd_plan_recipients(const struct mig_plan *p, struct mig_ctx *ctx,
    struct mig_age_recipients **rsp)
{
	struct mig_age_recipients *rs;
	const char *pass;
	size_t i;
	int r = 0;

	*rsp = NULL;
	if ((rs = mig_age_recipients_new()) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	for (i = 0; p->recipients != NULL && p->recipients[i] != NULL; i++)
		if ((r = mig_age_recipients_add(rs, p->recipients[i],
		    ctx)) != 0) {
			mig_preferr(ctx, "%s: encryption.recipients[%zu]",
			    p->file, i);
			goto out;
		}
	if (p->recipients_file != NULL &&
	    (r = mig_age_recipients_load(rs, p->recipients_file, ctx)) != 0) {
		if (r == MIG_ERR_NOTFOUND || r == MIG_ERR_IO)
			mig_preferr(ctx, "%s: encryption.recipients_file",
			    p->file);
		goto out;
	}
	if (p->passphrase_env != NULL) {
		if ((r = plan_secret(p, "encryption.passphrase_env",
		    p->passphrase_env, &pass, ctx)) != 0 ||
		    (r = mig_age_recipients_add_passphrase(rs, pass,
		    strlen(pass), 0, ctx)) != 0)
			goto out;
	}
	if (mig_age_recipients_count(rs) == 0) {
		r = mig_seterr(ctx, MIG_ERR_USAGE, "%s: no recipients to "
		    "encrypt to", p->file);
		goto out;
	}
	*rsp = rs;
	rs = NULL;
out:
	mig_age_recipients_free(rs);
	return r;
}

int
cmd_identities(char *const *files, size_t nfiles, bool passphrase,
    const char *passenv, const struct mig_plan *p, struct mig_ctx *ctx,
    struct mig_age_identities **idsp)
{
	struct mig_age_identities *ids;
	char *pass = NULL;
	size_t i, plen = 0;
	int r = 0;

	*idsp = NULL;
	if ((ids = mig_age_identities_new()) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	for (i = 0; i < nfiles; i++)
		if ((r = mig_age_identities_load(ids, files[i], ctx)) != 0)
			goto out;
	if (passenv == NULL && p != NULL)
		passenv = p->passphrase_env;
	if (passphrase || (nfiles == 0 && passenv != NULL)) {
		if ((r = cmd_age_passphrase(passenv, false, &pass, &plen,
		    ctx)) != 0 ||
		    (r = mig_age_identities_add_passphrase(ids, pass, plen,
		    ctx)) != 0)
			goto out;
	}
	if (mig_age_identities_count(ids) == 0) {
		r = mig_seterr(ctx, MIG_ERR_USAGE, "no identity given (use -i "
		    "FILE, or -p for a passphrase)");
		goto out;
	}
	*idsp = ids;
	ids = NULL;
out:
	if (pass != NULL) {
		OPENSSL_cleanse(pass, plen);
		free(pass);
	}
	mig_age_identities_free(ids);
	return r;
}

static int
mkdir_parents(const char *path, struct mig_ctx *ctx)
{
	char tmp[PATH_MAX], *s;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s", path) >= sizeof(tmp))
		return mig_seterr(ctx, MIG_ERR_IO, "%s: path too long", path);
	for (s = tmp + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
			return mig_seterr(ctx, MIG_ERR_IO, "%s: %s", tmp,
			    strerror(errno));
		*s = '/';
	}
	return 0;
}

int
cmd_open_audit(const struct mig_plan *p, struct mig_ctx *ctx,
    struct mig_sign_key **keyp, struct mig_audit_log **logp)
{
	struct mig_audit_opts ao;
	char actor[300];
	int r;

	*keyp = NULL;
	*logp = NULL;
	if (p->signing_key != NULL &&
	    (r = mig_sign_key_load(p->signing_key, ctx, keyp)) != 0)
		return mig_preferr(ctx, "%s: audit.signing_key", p->file);
	if ((r = mkdir_parents(p->audit_log, ctx)) != 0)
		goto out;
	cmd_actor(actor, sizeof(actor));
	memset(&ao, 0, sizeof(ao));
	ao.plan = p->name;
	ao.actor = actor;
	ao.key = *keyp;
	r = mig_audit_open(p->audit_log, &ao, ctx, logp);
	/* audit.log names a file that is not an audit log: a plan error. */
	if (r == MIG_ERR_FORMAT) {
		char msg[MIG_ERRMSG_MAX];

		(void)snprintf(msg, sizeof(msg), "%s", mig_errmsg(ctx));
		r = mig_seterr(ctx, MIG_ERR_USAGE, "%s: audit.log: %s",
		    p->file, msg);
	}
out:
	if (r != 0) {
		mig_sign_key_free(*keyp);
		*keyp = NULL;
	}
	return r;
}

void
cmd_actor(char *buf, size_t size)
{
	struct passwd *pw = getpwuid(geteuid());
	char host[256];

	if (gethostname(host, sizeof(host)) != 0)
		(void)snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	if (pw != NULL)
		(void)snprintf(buf, size, "%.64s@%.200s", pw->pw_name, host);
	else
		(void)snprintf(buf, size, "uid%ld@%.200s", (long)geteuid(),
		    host);
}

int
cmd_ncpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

long
cmd_parse_count(const char *s, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v < 1 || v > max)
		return -1;
	return v;
}

const char *
cmd_bytes(unsigned long long n, char *buf, size_t size)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB",
	    "TiB" };
	double v = (double)n;
	size_t u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		(void)snprintf(buf, size, "%llu B", n);
	else
		(void)snprintf(buf, size, "%.1f %s", v, units[u]);
	return buf;
}

void
cmd_progress_line(const struct mig_run_progress *pr, double elapsed)
{
	char done[32], total[32];
	double rate = elapsed > 0 ? (double)pr->bytes_done / elapsed : 0;
	double eta = rate > 0 && pr->bytes_total > pr->bytes_done ?
	    (double)(pr->bytes_total - pr->bytes_done) / rate : 0;
	int pct = pr->bytes_total > 0 ? (int)(100.0 *
	    (double)pr->bytes_done / (double)pr->bytes_total) : 0;

	fprintf(stderr, "\r\033[K%s: %llu/%llu files, %s/%s (%d%%), "
	    "%.1f MB/s, ETA %d:%02d", pr->phase != NULL ? pr->phase : "",
	    (unsigned long long)pr->files_done,
	    (unsigned long long)pr->files_total,
	    cmd_bytes(pr->bytes_done, done, sizeof(done)),
	    cmd_bytes(pr->bytes_total, total, sizeof(total)), pct,
	    rate / 1e6, (int)eta / 60, (int)eta % 60);
	fflush(stderr);
}

void
cmd_progress_done(void)
{
	fputs("\r\033[K", stderr);
	fflush(stderr);
}
