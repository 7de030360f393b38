/*
 * Transport registry and the helpers every backend shares: URL parsing,
 * relative-path checks, small-object put/get.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "migrate/error.h"
#include "migrate/stream.h"
#include "migrate/transport.h"
#include "migrate/util.h"

#include "transport_int.h"

/* Scheme -> backend.  Adding a backend adds a line here and nothing else. */
static const struct mig_transport_ops *const backends[] = {
	&mig_transport_file_ops,
	&mig_transport_sftp_ops,
	&mig_transport_https_ops,
	&mig_transport_s3_ops,
};

#define NBACKENDS	(sizeof(backends) / sizeof(backends[0]))

const struct mig_transport_ops *
mig_transport_backend(const char *scheme)
{
	size_t i;

	for (i = 0; i < NBACKENDS; i++)
		if (strcmp(backends[i]->scheme, scheme) == 0 ||
		    (backends[i]->alias != NULL &&
		    strcmp(backends[i]->alias, scheme) == 0))
			return backends[i];
	return NULL;
}

const char *
mig_transport_schemes(char *buf, size_t size)
{
	size_t i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < NBACKENDS && o < size; i++)
		o += (size_t)snprintf(buf + o, size - o, "%s%s",
		    i == 0 ? "" : i + 1 == NBACKENDS ? " or " : ", ",
		    backends[i]->scheme);
	return buf;
}

const struct mig_tkey *
mig_transport_key(const struct mig_transport_ops *ops, const char *name)
{
	const struct mig_tkey *k;

	for (k = ops->keys; k != NULL && k->name != NULL; k++)
		if (strcmp(k->name, name) == 0)
			return k;
	return NULL;
}

const char *
mig_transport_key_scheme(const char *name, const char *not_scheme)
{
	size_t i;

	for (i = 0; i < NBACKENDS; i++)
		if (strcmp(backends[i]->scheme, not_scheme) != 0 &&
		    mig_transport_key(backends[i], name) != NULL)
			return backends[i]->scheme;
	return NULL;
}

const char *
mig_topts_get(const struct mig_topts *o, const char *name)
{
	size_t i;

	for (i = 0; i < o->n; i++)
		if (strcmp(o->v[i].name, name) == 0)
			return o->v[i].value;
	return NULL;
}

bool
mig_topts_bool(const struct mig_topts *o, const char *name)
{
	const char *v = mig_topts_get(o, name);

	return v != NULL && strcmp(v, "true") == 0;
}

int
mig_topts_set(struct mig_topts *o, const char *name, const char *value)
{
	size_t i;

	for (i = 0; i < o->n; i++)
		if (strcmp(o->v[i].name, name) == 0) {
			o->v[i].value = value;
			return 0;
		}
	if (o->n == MIG_TOPTS_MAX)
		return MIG_ERR_USAGE;
	o->v[o->n].name = name;
	o->v[o->n].value = value;
	o->n++;
	return 0;
}

void
mig_url_free(struct mig_url *url)
{
	if (url == NULL)
		return;
	free(url->scheme);
	free(url->user);
	free(url->host);
	free(url->path);
	memset(url, 0, sizeof(*url));
}

/*
 * Part what of the URL in *out (caller must curl_free() it): 0, or 1 when
 * the URL has none, or MIG_ERR_NOMEM.
 */
static int
url_part(CURLU *h, CURLUPart what, char **out, struct mig_ctx *ctx)
{
	CURLUcode rc;

	*out = NULL;
	rc = curl_url_get(h, what, out, 0);
	if (rc == CURLUE_OK)
		return 0;
	if (rc == CURLUE_OUT_OF_MEMORY)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	return 1;	/* absent */
}

/*
 * Refuses part what when the URL has it, saying why (after the URL in
 * quotes, unless quote is NULL: the URL may hold a secret).
 */
static int
url_refuse(CURLU *h, CURLUPart what, const char *quote, const char *why,
    struct mig_ctx *ctx)
{
	char *v;
	int r;

	r = url_part(h, what, &v, ctx);
	curl_free(v);
	if (r != 0)
		return r == 1 ? 0 : r;
	if (quote == NULL)
		return mig_seterr(ctx, MIG_ERR_PARSE, "%s", why);
	return mig_seterr(ctx, MIG_ERR_PARSE, "\"%s\": %s", quote, why);
}

/* The host, without the brackets of an IPv6 address ("[::1]"). */
static int
url_host(CURLU *h, const char *text, struct mig_url *url,
    struct mig_ctx *ctx)
{
	char *v;
	int r;

	if ((r = url_part(h, CURLUPART_HOST, &v, ctx)) != 0)
		return r == 1 ? mig_seterr(ctx, MIG_ERR_PARSE,
		    "\"%s\": missing host", text) : r;
	if (v[0] == '[')
		url->host = strndup(v + 1, strlen(v) - 2);
	else
		url->host = strdup(v);
	curl_free(v);
	if (url->host == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	return 0;
}

/*
 * Splits the authority and path of a URL with libcurl's parser (CURLU),
 * the one that https and s3 requests go through, rather than a second
 * hand-written one.  Checks CURLU does not make for us, each for a
 * reason:
 *   - "sftp:///x": CURLU guesses the host "x"; a plan that lost its host
 *     gets an error instead;
 *   - port 0, which CURLU accepts, connects nowhere;
 *   - a space stays allowed in the path ("s3://lake/data lake"), as plans
 *     have always written it;
 *   - a password in the URL would sit in a plan file in clear text;
 *   - query strings and fragments mean nothing to any backend;
 *   - user and path are decoded by mig_percent_decode(), as file:// is:
 *     a stray "%zz" is an error, not a literal, and %00 never cuts a
 *     name.
 */
static int
parse_authority_url(const char *text, const char *after_scheme,
    struct mig_url *url, struct mig_ctx *ctx)
{
	static const char qf[] = "query strings and fragments are not "
	    "supported";
	CURLU *h;
	CURLUcode rc;
	char *v = NULL, *end;
	unsigned long port;
	int r;

	if (*after_scheme == '/' || *after_scheme == '\0')
		return mig_seterr(ctx, MIG_ERR_PARSE, "\"%s\": missing host",
		    text);
	if ((h = curl_url()) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	rc = curl_url_set(h, CURLUPART_URL, text,
	    CURLU_NON_SUPPORT_SCHEME | CURLU_PATH_AS_IS | CURLU_ALLOW_SPACE);
	if (rc != CURLUE_OK) {
		r = mig_seterr(ctx, rc == CURLUE_OUT_OF_MEMORY ?
		    MIG_ERR_NOMEM : MIG_ERR_PARSE, "\"%s\": %s", text,
		    rc == CURLUE_BAD_PORT_NUMBER ? "bad port" :
		    curl_url_strerror(rc));
		goto out;
	}
	if ((r = url_refuse(h, CURLUPART_PASSWORD, NULL, "URL holds a "
	    "password: put it in an environment variable named by "
	    "password_env instead", ctx)) != 0 ||
	    (r = url_refuse(h, CURLUPART_QUERY, text, qf, ctx)) != 0 ||
	    (r = url_refuse(h, CURLUPART_FRAGMENT, text, qf, ctx)) != 0)
		goto out;
	if ((r = url_part(h, CURLUPART_USER, &v, ctx)) == 0) {
		if (mig_percent_decode(v, strlen(v), &url->user) != 0 ||
		    url->user[0] == '\0') {
			r = mig_seterr(ctx, MIG_ERR_PARSE,
			    "\"%s\": bad user name", text);
			goto out;
		}
		curl_free(v);
		v = NULL;
	} else if (r != 1)
		goto out;
	if ((r = url_host(h, text, url, ctx)) != 0 ||
	    (r = url_refuse(h, CURLUPART_ZONEID, text, "IPv6 zone ids are "
	    "not supported", ctx)) != 0)
		goto out;
	if ((r = url_part(h, CURLUPART_PORT, &v, ctx)) == 0) {
		port = strtoul(v, &end, 10);
		if (*end != '\0' || port < 1 || port > 65535) {
			r = mig_seterr(ctx, MIG_ERR_PARSE, "\"%s\": bad port",
			    text);
			goto out;
		}
		url->port = (int)port;
		curl_free(v);
		v = NULL;
	} else if (r != 1)
		goto out;
	if ((r = url_part(h, CURLUPART_PATH, &v, ctx)) != 0) {
		r = r == 1 ? mig_seterr(ctx, MIG_ERR_PARSE,
		    "\"%s\": missing path", text) : r;
		goto out;
	}
	r = mig_percent_decode(v, strlen(v), &url->path);
	if (r == MIG_ERR_NOMEM)
		r = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	else if (r != 0)
		r = mig_seterr(ctx, MIG_ERR_PARSE, "\"%s\": bad "
		    "percent-escape in path", text);
out:
	curl_free(v);
	curl_url_cleanup(h);
	return r;
}

int
mig_url_parse(const char *text, struct mig_url *url, struct mig_ctx *ctx)
{
	const char *p;
	size_t i;
	int r;

	memset(url, 0, sizeof(*url));
	p = strstr(text, "://");
	if (p == NULL || p == text)
		return mig_seterr(ctx, MIG_ERR_PARSE, "\"%s\" is not a URL "
		    "(expected file://, sftp:// or https://)", text);
	for (i = 0; text + i < p; i++)
		if (!isalnum((unsigned char)text[i]) && text[i] != '+' &&
		    text[i] != '-' && text[i] != '.')
			return mig_seterr(ctx, MIG_ERR_PARSE,
			    "\"%s\": bad URL scheme", text);
	if ((url->scheme = strndup(text, (size_t)(p - text))) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	for (i = 0; url->scheme[i] != '\0'; i++)
		url->scheme[i] = (char)tolower((unsigned char)url->scheme[i]);

	if (strcmp(url->scheme, "file") != 0)
		r = parse_authority_url(text, p + 3, url, ctx);
	else if (p[3] == '\0')
		r = mig_seterr(ctx, MIG_ERR_PARSE, "\"%s\": empty path",
		    text);
	else if ((r = mig_percent_decode(p + 3, strlen(p + 3),
	    &url->path)) != 0)
		/* file://PATH: PATH as written, relative or absolute. */
		r = r == MIG_ERR_NOMEM ?
		    mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory") :
		    mig_seterr(ctx, MIG_ERR_PARSE,
		    "\"%s\": bad percent-escape in path", text);
	if (r != 0)
		mig_url_free(url);
	return r;
}

int
mig_path_check_relative(const char *path, struct mig_ctx *ctx)
{
	const unsigned char *p = (const unsigned char *)path;

	if (path[0] == '\0')
		return mig_seterr(ctx, MIG_ERR_SECURITY, "empty object path");
	if (path[0] == '/')
		return mig_seterr(ctx, MIG_ERR_SECURITY,
		    "\"%s\": absolute path refused", path);
	for (; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return mig_seterr(ctx, MIG_ERR_SECURITY,
			    "object path with a control character refused");
	if (!mig_path_is_plain(path))
		return mig_seterr(ctx, MIG_ERR_SECURITY,
		    "\"%s\": path escapes its root (empty, \".\" or "
		    "\"..\" component)", path);
	return 0;
}

int
mig_transport_open(const struct mig_transport_config *cfg,
    struct mig_ctx *ctx, struct mig_transport **tp)
{
	const struct mig_transport_ops *ops;
	struct mig_transport *t = NULL;
	struct mig_url url;
	int r;

	*tp = NULL;
	if ((r = mig_url_parse(cfg->url, &url, ctx)) != 0)
		return r;
	ops = cfg->ops != NULL ? cfg->ops : mig_transport_backend(url.scheme);
	if (ops == NULL) {
		r = mig_seterr(ctx, MIG_ERR_PARSE,
		    "unsupported URL scheme \"%s\"", url.scheme);
		goto out;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		r = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out;
	}
	t->ops = ops;
	t->ctx = ctx;
	/* The root shown in messages never carries credentials. */
	if (url.host != NULL) {
		size_t n = strlen(url.scheme) + strlen(url.host) +
		    strlen(url.path) + 16;

		if ((t->root = malloc(n)) != NULL) {
			if (url.port != 0)
				(void)snprintf(t->root, n, "%s://%s:%d%s",
				    url.scheme, url.host, url.port, url.path);
			else
				(void)snprintf(t->root, n, "%s://%s%s",
				    url.scheme, url.host, url.path);
		}
	} else
		t->root = strdup(cfg->url);
	if (t->root == NULL) {
		r = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = ops->open(t, cfg, &url)) != 0)
		goto out;
	*tp = t;
	t = NULL;
out:
	if (t != NULL) {
		free(t->root);
		free(t);
	}
	mig_url_free(&url);
	return r;
}

void
mig_transport_close(struct mig_transport *t)
{
	if (t == NULL)
		return;
	if (t->ops != NULL && t->ops->close != NULL)
		t->ops->close(t);
	free(t->put_held);
	free(t->root);
	free(t);
}

/* --- The operations, for every caller ------------------------------------ */

static int
check(struct mig_transport *t, const char *path, bool dir_ok, bool have)
{
	if (!have)
		return mig_seterr(t->ctx, MIG_ERR_USAGE, "%s: the %s backend "
		    "cannot do that", t->root, t->ops->scheme);
	if (dir_ok && path[0] == '\0')
		return 0;
	return mig_path_check_relative(path, t->ctx);
}

int
mig_transport_mkdir_p(struct mig_transport *t, const char *dir)
{
	int r;

	if ((r = check(t, dir, true, t->ops->mkdir_p != NULL)) != 0)
		return r;
	return t->ops->mkdir_p(t, dir);
}

int
mig_transport_open_write(struct mig_transport *t, const char *path,
    int64_t size, struct mig_writer **wp)
{
	int r;

	*wp = NULL;
	if ((r = check(t, path, false, t->ops->open_write != NULL)) != 0)
		return r;
	return t->ops->open_write(t, path, size, wp);
}

int
mig_transport_open_write_unpublished(struct mig_transport *t,
    const char *path, int64_t size, struct mig_writer **wp)
{
	int r;

	if (t->ops->open_write_unpublished == NULL)
		return mig_transport_open_write(t, path, size, wp);
	*wp = NULL;
	if ((r = check(t, path, false, true)) != 0)
		return r;
	return t->ops->open_write_unpublished(t, path, size, wp);
}

bool
mig_transport_unpublished_in_place(const struct mig_transport *t)
{
	return t->ops->open_write_unpublished != NULL;
}

/* Over a backend without put_start: the object at once, held for put_next. */
static int
put_at_once(struct mig_transport *t, const char *path, const void *buf,
    size_t len, void *token)
{
	struct mig_put_done *d = t->put_held;
	int r;

	if (d == NULL && (d = t->put_held = calloc(1, sizeof(*d))) == NULL)
		return mig_seterr(t->ctx, MIG_ERR_NOMEM, "out of memory");
	if (d->token != NULL)
		return mig_seterr(t->ctx, MIG_ERR_INTERNAL, "%s: a put started "
		    "before the last one was collected", path);
	r = mig_transport_put_unpublished(t, path, buf, len);
	if (r != 0 && mig_errcode(t->ctx) == 0)
		(void)mig_seterr(t->ctx, r, "%s: not written", path);
	d->token = token;
	d->code = r;
	(void)snprintf(d->msg, sizeof(d->msg), "%s", r != 0 ?
	    mig_errmsg(t->ctx) : "");
	return 0;
}

int
mig_transport_put_start(struct mig_transport *t, const char *path,
    const void *buf, size_t len, void *token)
{
	int r;

	if (token == NULL)
		return mig_seterr(t->ctx, MIG_ERR_INTERNAL, "%s: a put needs "
		    "a token", path);
	if ((r = check(t, path, false, true)) != 0)
		return r;
	if (t->ops->put_start == NULL)
		return put_at_once(t, path, buf, len, token);
	return t->ops->put_start(t, path, buf, len, token);
}

int
mig_transport_put_next(struct mig_transport *t, bool wait,
    struct mig_put_done *d)
{
	memset(d, 0, sizeof(*d));
	if (t->ops->put_next != NULL)
		return t->ops->put_next(t, wait, d);
	if (t->put_held == NULL || t->put_held->token == NULL)
		return 0;
	*d = *t->put_held;
	t->put_held->token = NULL;
	return 1;
}

void
mig_transport_dir_known(struct mig_transport *t, const char *dir)
{
	if (t->ops->dir_known != NULL &&
	    mig_path_check_relative(dir, t->ctx) == 0)
		t->ops->dir_known(t, dir);
	mig_clearerr(t->ctx);
}

void
mig_transport_put_prepare(struct mig_transport *t, size_t n)
{
	if (t->ops->put_prepare != NULL)
		t->ops->put_prepare(t, n);
}

size_t
mig_transport_put_capacity(struct mig_transport *t)
{
	size_t n;

	if (t->ops->put_capacity == NULL ||
	    (n = t->ops->put_capacity(t)) == 0)
		return 1;
	return n;
}

int
mig_transport_open_read(struct mig_transport *t, const char *path,
    struct mig_reader **rp)
{
	int r;

	*rp = NULL;
	if ((r = check(t, path, false, t->ops->open_read != NULL)) != 0)
		return r;
	return t->ops->open_read(t, path, rp);
}

int
mig_transport_stat(struct mig_transport *t, const char *path,
    struct mig_tstat *st)
{
	int r;

	memset(st, 0, sizeof(*st));
	if ((r = check(t, path, true, t->ops->stat != NULL)) != 0)
		return r;
	return t->ops->stat(t, path, st);
}

int
mig_transport_list(struct mig_transport *t, const char *dir, mig_list_cb cb,
    void *arg)
{
	int r;

	if ((r = check(t, dir, true, t->ops->list != NULL)) != 0)
		return r;
	return t->ops->list(t, dir, cb, arg);
}

int
mig_transport_remove(struct mig_transport *t, const char *path)
{
	int r;

	if ((r = check(t, path, false, t->ops->remove != NULL)) != 0)
		return r;
	return t->ops->remove(t, path);
}

static int
put_whole(struct mig_transport *t, const char *path, const void *buf,
    size_t len, bool unpublished)
{
	struct mig_writer *w = NULL;
	int r;

	if ((r = unpublished ? mig_transport_open_write_unpublished(t, path,
	    (int64_t)len, &w) : mig_transport_open_write(t, path,
	    (int64_t)len, &w)) != 0)
		return r;
	if ((r = mig_writer_write(w, buf, len)) == 0)
		r = mig_writer_close(w);
	mig_writer_free(w);
	return r;
}

int
mig_transport_put(struct mig_transport *t, const char *path,
    const void *buf, size_t len)
{
	return put_whole(t, path, buf, len, false);
}

int
mig_transport_put_unpublished(struct mig_transport *t, const char *path,
    const void *buf, size_t len)
{
	return put_whole(t, path, buf, len, true);
}

int
mig_transport_get(struct mig_transport *t, const char *path, size_t max,
    unsigned char **bufp, size_t *lenp)
{
	struct mig_reader *rd = NULL;
	unsigned char *buf = NULL, *nbuf;
	size_t len = 0, cap = 0, n;
	int r;

	*bufp = NULL;
	*lenp = 0;
	if ((r = mig_transport_open_read(t, path, &rd)) != 0)
		return r;
	for (;;) {
		if (cap - len < 4096) {
			size_t ncap = cap == 0 ? 8192 : cap * 2;

			if (ncap > max + 4096)
				ncap = max + 4096;
			if (ncap <= cap) {
				r = mig_seterr(t->ctx, MIG_ERR_FORMAT,
				    "%s: larger than %zu bytes", path, max);
				goto out;
			}
			if ((nbuf = realloc(buf, ncap)) == NULL) {
				r = mig_seterr(t->ctx, MIG_ERR_NOMEM,
				    "out of memory");
				goto out;
			}
			buf = nbuf;
			cap = ncap;
		}
		if ((r = mig_reader_read(rd, buf + len, cap - len, &n)) != 0)
			goto out;
		if (n == 0)
			break;
		len += n;
		if (len > max) {
			r = mig_seterr(t->ctx, MIG_ERR_FORMAT,
			    "%s: larger than %zu bytes", path, max);
			goto out;
		}
	}
	*bufp = buf;
	*lenp = len;
	buf = NULL;
out:
	free(buf);
	mig_reader_free(rd);
	return r;
}

char *
mig_transport_tmp_name(const char *path)
{
	char *s;

	return mig_tmp_name(path, &s) == 0 ? s : NULL;
}
