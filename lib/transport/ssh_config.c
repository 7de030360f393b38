/*
 * The OpenSSH client configuration for sftp:// destinations; see
 * include/migrate/ssh_config.h.  Host patterns use the known_hosts
 * matcher (knownhosts.c), which is OpenSSH's match_pattern().
 */
#define MIG_TRANSPORT_INTERNAL

#include <ctype.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "migrate/error.h"
#include "migrate/keyfile.h"
#include "migrate/ssh_config.h"
#include "migrate/transport.h"
#include "migrate/util.h"

#include "knownhosts_int.h"

#define SSHCFG_ARGS_MAX		64
#define SSHCFG_HOST_MAX		256
#define SSHCFG_DEFAULT_PORT	22

/* One line split into words; the words point into a private copy. */
struct words {
	char	*buf;
	char	*w[SSHCFG_ARGS_MAX];
	size_t	 n;
};

/*
 * Splits a line as ssh does: words separated by blanks, the keyword
 * optionally followed by '=', double quotes around a word with blanks,
 * a word starting with '#' ending the line.  -1 on an unclosed quote.
 */
static int
split(const char *line, size_t len, struct words *ws)
{
	char *p;
	bool eq = false;

	ws->n = 0;
	if ((ws->buf = malloc(len + 1)) == NULL)
		return -2;
	memcpy(ws->buf, line, len);
	ws->buf[len] = '\0';
	p = ws->buf;
	while (ws->n < SSHCFG_ARGS_MAX) {
		p += strspn(p, " \t\r\n");
		if (ws->n == 1 && *p == '=' && !eq) {
			eq = true;
			p++;
			continue;
		}
		if (*p == '\0' || *p == '#')
			break;
		if (*p == '"') {
			ws->w[ws->n++] = ++p;
			if ((p = strchr(p, '"')) == NULL)
				return -1;
			*p++ = '\0';
			continue;
		}
		ws->w[ws->n++] = p;
		p += strcspn(p, ws->n == 1 ? " \t\r\n=" : " \t\r\n");
		if (*p == '=')
			eq = true;
		if (*p != '\0')
			*p++ = '\0';
	}
	return 0;
}

/*
 * A Host line's patterns against name: true when one matches and no
 * negated one does (ssh_config(5) PATTERNS).
 */
static bool
host_matches(char *const *pat, size_t n, const char *name)
{
	size_t i, nlen = strlen(name);
	bool hit = false;

	for (i = 0; i < n; i++) {
		if (pat[i][0] == '!') {
			if (mig_kh_match_pattern(name, nlen, pat[i] + 1,
			    strlen(pat[i] + 1)))
				return false;
		} else if (mig_kh_match_pattern(name, nlen, pat[i],
		    strlen(pat[i])))
			hit = true;
	}
	return hit;
}

/* Sets *slot to a copy of v unless a value came first. */
static int
first_wins(char **slot, const char *v)
{
	if (*slot != NULL)
		return 0;
	return (*slot = strdup(v)) == NULL ? -2 : 0;
}

/* One keyword line of an active block.  -1: bad value; -2: ENOMEM. */
static int
apply(struct mig_ssh_host *h, const struct words *ws)
{
	const char *k = ws->w[0], *v = ws->w[1];
	char *end;
	long port;
	size_t i;

	if (strcasecmp(k, "HostName") == 0)
		return first_wins(&h->hostname, v);
	if (strcasecmp(k, "User") == 0)
		return first_wins(&h->user, v);
	if (strcasecmp(k, "UserKnownHostsFile") == 0)
		return first_wins(&h->known_hosts, v);
	if (strcasecmp(k, "Port") == 0) {
		port = strtol(v, &end, 10);
		if (*end != '\0' || port < 1 || port > 65535)
			return -1;
		if (h->port == 0)
			h->port = (int)port;
		return 0;
	}
	if (strcasecmp(k, "IdentityFile") != 0)
		return 0;
	for (i = 0; i < h->nidentity; i++)
		if (strcmp(h->identity[i], v) == 0)
			return 0;
	if (h->nidentity == MIG_SSHCFG_IDS_MAX)
		return 0;
	if ((h->identity[h->nidentity] = strdup(v)) == NULL)
		return -2;
	h->nidentity++;
	return 0;
}

/* The host name in lower case, as ssh matches it. */
static void
lower_name(const char *host, char *buf, size_t size)
{
	size_t i;

	for (i = 0; host[i] != '\0' && i + 1 < size; i++)
		buf[i] = (char)tolower((unsigned char)host[i]);
	buf[i] = '\0';
}

int
mig_ssh_config_parse(const char *buf, size_t len, const char *host,
    struct mig_ssh_host *h, struct mig_ctx *ctx)
{
	struct words ws;
	const char *p = buf, *end = buf + len, *nl;
	char name[SSHCFG_HOST_MAX];
	bool active = true;
	size_t line = 0;
	int r = 0;

	memset(h, 0, sizeof(*h));
	lower_name(host, name, sizeof(name));
	if (len > MIG_SSHCFG_MAX || memchr(buf, '\0', len) != NULL)
		return mig_seterr(ctx, MIG_ERR_PARSE, "not an ssh_config file "
		    "(too large, or a NUL byte)");
	for (; r == 0 && p < end; p = nl) {
		nl = memchr(p, '\n', (size_t)(end - p));
		nl = nl == NULL ? end : nl + 1;
		line++;
		memset(&ws, 0, sizeof(ws));
		r = split(p, (size_t)(nl - p), &ws);
		if (r == 0 && ws.n > 0) {
			if (strcasecmp(ws.w[0], "Host") == 0)
				active = host_matches(ws.w + 1, ws.n - 1, name);
			else if (strcasecmp(ws.w[0], "Match") == 0)
				active = false;
			else if (active && ws.n < 2)
				r = -1;
			else if (active)
				r = apply(h, &ws);
		}
		free(ws.buf);
	}
	if (r == -2)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	if (r != 0)
		return mig_seterr(ctx, MIG_ERR_PARSE, "line %zu: a keyword "
		    "without a value, an unclosed quote or a bad Port", line);
	return 0;
}

void
mig_ssh_host_free(struct mig_ssh_host *h)
{
	size_t i;

	if (h == NULL)
		return;
	free(h->hostname);
	free(h->user);
	free(h->known_hosts);
	for (i = 0; i < h->nidentity; i++)
		free(h->identity[i]);
	memset(h, 0, sizeof(*h));
}

/* Appends s (n bytes) to the growing string *bufp; false on ENOMEM. */
static bool
append(char **bufp, size_t *lenp, size_t *capp, const char *s, size_t n)
{
	char *nb;
	size_t cap;

	if (n >= *capp - *lenp) {
		cap = (*capp + n) * 2;
		if ((nb = realloc(*bufp, cap)) == NULL)
			return false;
		*bufp = nb;
		*capp = cap;
	}
	memcpy(*bufp + *lenp, s, n);
	*lenp += n;
	(*bufp)[*lenp] = '\0';
	return true;
}

char *
mig_ssh_expand(const char *raw, const char *home, const char *host,
    int port, const char *ruser, const char *luser)
{
	char *buf, num[16];
	const char *s, *v;
	size_t len = 0, cap = 64;
	bool ok = true;

	if ((buf = malloc(cap)) == NULL)
		return NULL;
	buf[0] = '\0';
	s = raw;
	if (s[0] == '~' && (s[1] == '/' || s[1] == '\0')) {
		ok = home != NULL && append(&buf, &len, &cap, home,
		    strlen(home));
		s++;
	}
	(void)snprintf(num, sizeof(num), "%d", port);
	for (; ok && *s != '\0'; s++) {
		if (*s != '%') {
			ok = append(&buf, &len, &cap, s, 1);
			continue;
		}
		switch (*++s) {
		case '%': v = "%"; break;
		case 'd': v = home; break;
		case 'h': v = host; break;
		case 'p': v = num; break;
		case 'r': v = ruser; break;
		case 'u': v = luser; break;
		default: v = NULL; break;
		}
		ok = v != NULL && append(&buf, &len, &cap, v, strlen(v));
	}
	if (!ok) {
		free(buf);
		buf = NULL;
	}
	return buf;
}

/* --- Resolving a destination ------------------------------------------- */

void
mig_sftp_target_free(struct mig_sftp_target *t)
{
	size_t i;

	if (t == NULL)
		return;
	free(t->host);
	free(t->user);
	free(t->known_hosts);
	free(t->ssh_config);
	for (i = 0; i < t->nidentity; i++)
		free(t->identity[i]);
	memset(t, 0, sizeof(*t));
}

/* The login name of the uid (no environment), or NULL. */
static char *
login_name(void)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	if (getpwuid_r(geteuid(), &pw, buf, sizeof(buf), &res) != 0 ||
	    res == NULL)
		return NULL;
	return strdup(pw.pw_name);
}

/*
 * The ssh_config file to read into t->ssh_config (NULL: none), and
 * whether it must exist: the plan's ssh_config key, else
 * home/.ssh/config.
 */
static int
config_path(const char *opt, const char *home, const char *base_dir,
    struct mig_sftp_target *t, bool *must, struct mig_ctx *ctx)
{
	*must = opt != NULL;
	if (opt != NULL && strcmp(opt, "none") == 0)
		return 0;
	if (opt == NULL && home == NULL)
		return 0;
	/* A plan path, as plan paths are: no %-tokens. */
	if (opt == NULL)
		t->ssh_config = mig_path_join(home, ".ssh/config");
	else if (opt[0] == '~' && (opt[1] == '/' || opt[1] == '\0'))
		t->ssh_config = home == NULL ? NULL : mig_path_join(home,
		    opt[1] == '\0' ? "." : opt + 2);
	else
		t->ssh_config = mig_path_join(opt[0] == '/' ? NULL : base_dir,
		    opt);
	if (t->ssh_config != NULL)
		return 0;
	if (opt != NULL && opt[0] == '~' && home == NULL)
		return mig_seterr(ctx, MIG_ERR_USAGE, "destination.ssh_config "
		    "\"%s\": HOME is not set", opt);
	return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
}

/* Reads and parses t->ssh_config for host into *h. */
static int
read_config(struct mig_sftp_target *t, bool must, const char *host,
    struct mig_ssh_host *h, struct mig_ctx *ctx)
{
	char *buf = NULL, msg[MIG_ERRMSG_MAX];
	size_t len = 0;
	int r;

	memset(h, 0, sizeof(*h));
	if (t->ssh_config == NULL)
		return 0;
	r = mig_keyfile_read(t->ssh_config, false, &buf, &len, ctx);
	if (r == MIG_ERR_NOTFOUND && !must) {
		mig_clearerr(ctx);
		free(t->ssh_config);
		t->ssh_config = NULL;
		return 0;
	}
	if (r != 0)
		return r;
	if ((r = mig_ssh_config_parse(buf, len, host, h, ctx)) != 0) {
		(void)snprintf(msg, sizeof(msg), "%s", mig_errmsg(ctx));
		r = mig_seterr(ctx, r, "%s:%s", t->ssh_config, msg);
	}
	mig_keyfile_free(buf, len);
	return r;
}

/* Adds path to the identities to try when it exists; takes path. */
static void
add_identity(struct mig_sftp_target *t, char *path)
{
	if (path != NULL && t->nidentity < MIG_SSHCFG_IDS_MAX &&
	    access(path, F_OK) == 0)
		t->identity[t->nidentity++] = path;
	else
		free(path);
}

/* Identities: the plan's, else ssh_config's, else the defaults. */
static int
resolve_identities(const struct mig_topts *opts, const struct mig_ssh_host *h,
    const char *home, const char *luser, struct mig_sftp_target *t)
{
	static const char *const dflt[] = { "~/.ssh/id_ed25519",
	    "~/.ssh/id_ecdsa", "~/.ssh/id_rsa" };
	const char *id = mig_topts_get(opts, "identity");
	size_t i;

	if (id != NULL) {
		t->identity_explicit = true;
		if ((t->identity[0] = strdup(id)) == NULL)
			return -1;
		t->nidentity = 1;
		return 0;
	}
	for (i = 0; i < h->nidentity; i++)
		add_identity(t, mig_ssh_expand(h->identity[i], home, t->host,
		    t->port, t->user, luser));
	for (i = 0; h->nidentity == 0 && home != NULL && i < 3; i++)
		add_identity(t, mig_ssh_expand(dflt[i], home, NULL, 0, NULL,
		    NULL));
	return 0;
}

/* Host, port, user and known_hosts from the URL, h and the defaults. */
static int
resolve_where(const struct mig_topts *opts, const struct mig_url *url,
    const struct mig_ssh_host *h, const char *home, const char *luser,
    struct mig_sftp_target *t)
{
	const char *kh = mig_topts_get(opts, "known_hosts");

	t->host = h->hostname != NULL ? mig_ssh_expand(h->hostname, NULL,
	    url->host, 0, NULL, NULL) : strdup(url->host);
	t->port = url->port != 0 ? url->port : h->port != 0 ? h->port :
	    SSHCFG_DEFAULT_PORT;
	if (url->user != NULL)
		t->user = strdup(url->user);
	else if (h->user != NULL)
		t->user = mig_ssh_expand(h->user, home, t->host, t->port, NULL,
		    luser);
	else
		t->user = strdup(luser);
	if (t->host == NULL || t->user == NULL)
		return -1;
	if (kh != NULL)
		t->known_hosts = strdup(kh);
	else if (h->known_hosts != NULL && strcasecmp(h->known_hosts,
	    "none") != 0)
		t->known_hosts = mig_ssh_expand(h->known_hosts, home, t->host,
		    t->port, t->user, luser);
	else if (h->known_hosts == NULL && home != NULL)
		t->known_hosts = mig_ssh_expand("~/.ssh/known_hosts", home,
		    NULL, 0, NULL, NULL);
	else
		return 0;
	return t->known_hosts == NULL ? -1 : 0;
}

int
mig_sftp_resolve(const struct mig_topts *opts, const struct mig_url *url,
    const char *home, const char *luser, const char *base_dir,
    struct mig_sftp_target *t, struct mig_ctx *ctx)
{
	struct mig_ssh_host h;
	char *own = NULL;
	bool must;
	int r;

	memset(t, 0, sizeof(*t));
	memset(&h, 0, sizeof(h));
	if (home != NULL && home[0] == '\0')
		home = NULL;
	if (url->host == NULL || url->host[0] == '\0')
		return mig_seterr(ctx, MIG_ERR_PARSE, "no host in the URL");
	if (luser == NULL && (luser = own = login_name()) == NULL)
		return mig_seterr(ctx, MIG_ERR_USAGE, "no user name in the "
		    "URL or ssh_config, and none for this uid");
	if ((r = config_path(mig_topts_get(opts, "ssh_config"), home,
	    base_dir, t, &must, ctx)) != 0 ||
	    (r = read_config(t, must, url->host, &h, ctx)) != 0)
		goto out;
	if (resolve_where(opts, url, &h, home, luser, t) != 0 ||
	    resolve_identities(opts, &h, home, luser, t) != 0)
		r = mig_seterr(ctx, MIG_ERR_PARSE, "%s: a value of %s for %s "
		    "has an unknown %%-token (or memory ran out)",
		    t->ssh_config != NULL ? t->ssh_config : "ssh_config",
		    "HostName, User, IdentityFile or UserKnownHostsFile",
		    url->host);
out:
	mig_ssh_host_free(&h);
	free(own);
	return r;
}
