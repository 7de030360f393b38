/*
 * What the plan-driven verbs (run, verify, restore) share: reading the
 * environment the plan names, keys, the audit log, progress output.
 * lib/ never reads the environment; this file is where it happens.
 * Also what keeps secrets in the process: no core dumps, and
 * temporaries removed when a signal ends it.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	/*
	 * A plan that is not there is a usage error (exit 2).  The message
	 * is copied first: mig_seterr() clears it before it formats.
	 */
	if (r == MIG_ERR_NOTFOUND) {
		char msg[MIG_ERRMSG_MAX];

		(void)snprintf(msg, sizeof(msg), "%s", mig_errmsg(ctx));
		r = mig_seterr(ctx, MIG_ERR_USAGE, "%s", msg);
	}
	if (r == 0)
		cmd_verbose("plan %s: %s, strategy %s, sha256 %s", path,
		    (*planp)->name, mig_strategy_info((*planp)->strategy)->name,
		    (*planp)->sha256);
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
	const struct mig_transport_ops *be = mig_transport_backend(p->scheme);
	const struct mig_tkey *k;
	const char *secret;
	char key[160];
	size_t i;
	int r;

	memset(cfg, 0, sizeof(*cfg));
	cfg->url = p->url;
	cfg->base_dir = p->dir;
	cfg->opts = p->dest;
	/* Empty means none, as ssh(1) reads it. */
	cfg->agent_socket = getenv("SSH_AUTH_SOCK");
	if (cfg->agent_socket != NULL && *cfg->agent_socket == '\0')
		cfg->agent_socket = NULL;
	cfg->home = getenv("HOME");
	/* Keys naming an environment variable carry its secret from here. */
	for (i = 0; be != NULL && i < cfg->opts.n; i++) {
		k = mig_transport_key(be, cfg->opts.v[i].name);
		if (k == NULL || k->type != MIG_TKEY_ENV)
			continue;
		(void)snprintf(key, sizeof(key), "destination.%s", k->name);
		if ((r = plan_secret(p, key, cfg->opts.v[i].value, &secret,
		    ctx)) != 0)
			return r;
		cfg->opts.v[i].value = secret;
	}
	/*
	 * A key the plan leaves out may default to a conventional variable
	 * (s3: AWS_ACCESS_KEY_ID, ...); taken when set, skipped when not.
	 */
	for (k = be != NULL ? be->keys : NULL; k != NULL && k->name != NULL;
	    k++) {
		if (k->type != MIG_TKEY_ENV || k->dflt == NULL ||
		    mig_topts_get(&cfg->opts, k->name) != NULL)
			continue;
		secret = getenv(k->dflt);
		if (secret == NULL || secret[0] == '\0')
			continue;
		if (mig_topts_set(&cfg->opts, k->name, secret) != 0)
			return mig_seterr(ctx, MIG_ERR_USAGE, "%s: too many "
			    "[destination] keys", p->file);
	}
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
		mig_preferr(ctx, "%s: encryption.recipients_file", p->file);
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

int
cmd_seal_pub(const char *keyfile, const struct mig_plan *p,
    struct mig_ctx *ctx, struct mig_sign_key **pubp)
{
	char pub[PATH_MAX];
	int r;

	*pubp = NULL;
	if (keyfile != NULL)
		return mig_sign_pubkey_load(keyfile, ctx, pubp);
	if (p == NULL || p->signing_key == NULL)
		return 0;
	/* keygen --signing writes FILE.pub beside FILE. */
	if ((size_t)snprintf(pub, sizeof(pub), "%s.pub", p->signing_key) <
	    sizeof(pub) && access(pub, R_OK) == 0)
		r = mig_sign_pubkey_load(pub, ctx, pubp);
	else
		r = mig_sign_pubkey_load(p->signing_key, ctx, pubp);
	if (r != 0)
		return mig_preferr(ctx, "%s: [audit] signing_key: runs of this "
		    "plan are sealed and their seals need the public key "
		    "(give it with --key FILE)", p->file);
	return 0;
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
	    "%.1f MiB/s, ETA %d:%02d", pr->phase != NULL ? pr->phase : "",
	    (unsigned long long)pr->files_done,
	    (unsigned long long)pr->files_total,
	    cmd_bytes(pr->bytes_done, done, sizeof(done)),
	    cmd_bytes(pr->bytes_total, total, sizeof(total)), pct,
	    rate / 1048576.0, (int)eta / 60, (int)eta % 60);
	fflush(stderr);
}

void
cmd_progress_done(void)
{
	fputs("\r\033[K", stderr);
	fflush(stderr);
}

/* --- Secrets stay in the process ---------------------------------------- */

int
cmd_no_core_dumps(struct mig_ctx *ctx)
{
	struct rlimit rl;

	/*
	 * Keys, passphrases, credentials and plaintext live in this
	 * process's memory; a core file would put them on disk, readable
	 * long after.  Not dumpable also keeps other processes of the same
	 * user from attaching with ptrace or reading /proc/PID/mem.
	 */
	rl.rlim_cur = 0;
	rl.rlim_max = 0;
	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		return mig_seterr(ctx, MIG_ERR_INTERNAL, "setrlimit(RLIMIT_CORE)"
		    ": %s", strerror(errno));
#ifdef __linux__
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return mig_seterr(ctx, MIG_ERR_INTERNAL, "prctl(PR_SET_DUMPABLE)"
		    ": %s", strerror(errno));
#endif
	return 0;
}

/*
 * Temporaries removed when a signal ends the process: a decrypted
 * temporary is plaintext.  The handler may run on any thread, so a slot's
 * name and directory are written before it is marked used (atomics are
 * safe in a signal handler; locks are not).
 */
#define CMD_TMP_MAX	4

static const int cmd_tmp_signals[] = {
	SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE, SIGXCPU, SIGXFSZ
};

static struct {
	atomic_int	 used;
	int		 dirfd;
	char		 name[NAME_MAX + 1];
} cmd_tmps[CMD_TMP_MAX];

static atomic_int cmd_tmp_handlers;

/*
 * Removes every registered temporary (unlinkat is async-signal-safe),
 * then lets the signal end the process as it would have: the handler was
 * installed with SA_RESETHAND, and the raised signal is delivered once
 * the handler returns.
 */
static void
cmd_tmp_on_signal(int sig)
{
	int e = errno;
	size_t i;

	for (i = 0; i < CMD_TMP_MAX; i++)
		if (atomic_load(&cmd_tmps[i].used))
			(void)unlinkat(cmd_tmps[i].dirfd, cmd_tmps[i].name, 0);
	(void)raise(sig);
	errno = e;
}

/* Once: the handler for every fatal signal not ignored on entry. */
static void
cmd_tmp_install(void)
{
	struct sigaction sa, old;
	size_t i;

	if (atomic_exchange(&cmd_tmp_handlers, 1) != 0)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cmd_tmp_on_signal;
	sa.sa_flags = SA_RESETHAND;
	(void)sigfillset(&sa.sa_mask);
	for (i = 0; i < sizeof(cmd_tmp_signals) / sizeof(cmd_tmp_signals[0]);
	    i++) {
		/* nohup(1) and background jobs ignore some: keep that. */
		if (sigaction(cmd_tmp_signals[i], NULL, &old) == 0 &&
		    old.sa_handler == SIG_IGN)
			continue;
		(void)sigaction(cmd_tmp_signals[i], &sa, NULL);
	}
}

void
cmd_tmp_block(sigset_t *old)
{
	sigset_t set;
	size_t i;

	(void)sigemptyset(&set);
	for (i = 0; i < sizeof(cmd_tmp_signals) / sizeof(cmd_tmp_signals[0]);
	    i++)
		(void)sigaddset(&set, cmd_tmp_signals[i]);
	(void)pthread_sigmask(SIG_BLOCK, &set, old);
}

void
cmd_tmp_unblock(const sigset_t *old)
{
	(void)pthread_sigmask(SIG_SETMASK, old, NULL);
}

int
cmd_tmp_register(int dirfd, const char *name)
{
	size_t i;

	if (strlen(name) >= sizeof(cmd_tmps[0].name))
		return -1;
	cmd_tmp_install();
	for (i = 0; i < CMD_TMP_MAX; i++) {
		if (atomic_load(&cmd_tmps[i].used))
			continue;
		cmd_tmps[i].dirfd = dirfd;
		(void)snprintf(cmd_tmps[i].name, sizeof(cmd_tmps[i].name), "%s",
		    name);
		atomic_store(&cmd_tmps[i].used, 1);
		return (int)i;
	}
	return -1;
}

void
cmd_tmp_forget(int slot)
{
	if (slot >= 0 && slot < CMD_TMP_MAX)
		atomic_store(&cmd_tmps[slot].used, 0);
}
