/*
 * HTTPS destination: plain WebDAV (RFC 4918) over libcurl.
 *
 *   mkdir_p    MKCOL on every level not yet known to exist (405: exists)
 *   open_write PUT to DIR/.BASE.migrate-tmp-XXXXXXXX, streamed, then MOVE
 *              to the final name (Overwrite: F; on 412, Overwrite: T)
 *   open_write_unpublished, put_start
 *              PUT to the final name (in an unpublished run directory),
 *              streamed, or whole objects many at once
 *   open_read  GET, streamed through a bounded ring buffer
 *   stat       PROPFIND Depth: 0      list  PROPFIND Depth: 1
 *   remove     DELETE
 *
 * The backend is five files around https_int.h: this one (open, close,
 * credentials, plan keys); https_xfer.c, the transfers, all on one curl
 * multi handle per transport, so connections are kept alive and shared
 * between the one-shot requests, the open streams and the puts in
 * flight (over HTTP/2, one connection carries them all); webdav.c, the
 * one-shot operations; https_stream.c, the streams, driven from the
 * caller's write() and read() through bounded buffers, so memory stays
 * constant whatever the object size; https_pipe.c, whole objects in
 * flight.  The curl plumbing it shares with the s3 backend (TLS setup,
 * curl's codes) is curl_xfer.c.
 *
 * TLS is always verified (peer and host name), against ca_file alone when
 * it is given or the system store otherwise, and optionally against a
 * pinned public key.  Plain http:// is refused unless the caller allows it
 * and the host is a loopback address.
 *
 * Credentials travel only in an Authorization header built here; its
 * copies are wiped before they are freed, and no URL we build carries
 * userinfo.  A server may still echo the header (or the password in it)
 * in an error body or reason phrase: everything a server sends is
 * scrubbed of the credentials (scrub.c) before it goes into a message,
 * so no message, and no audit record made from one, can show a secret.
 *
 * Decisions worth knowing:
 * - 401 and 403 are MIG_ERR_NET (exit status 1) with a message that says
 *   "authentication failed" or "forbidden": the connection was fine and
 *   trusted, the account is not.
 * - A redirect (3xx), to any request including the first, and a server
 *   that offers no TLS 1.2 or later are refusals (MIG_ERR_SECURITY): never
 *   followed, never retried, and audited by the run as security.refused.
 * - A streamed PUT cannot be replayed here; a failure mid-upload returns
 *   MIG_ERR_NET and the run layer re-runs the object.  One-shot requests
 *   (MKCOL, MOVE, DELETE, PROPFIND, OPTIONS), the start of a GET and the
 *   PUT of a whole object in flight (its bytes are at hand) are retried
 *   on connection errors, 408, 429 and 5xx, with exponential backoff,
 *   jitter and Retry-After (bounded).
 * - HTTP/2 when the server offers it: the requests of a transport are
 *   then streams of one connection.
 * - Re-landing an object replaces it: MOVE with Overwrite: F answers 412
 *   when the final name exists, and the MOVE is then repeated with
 *   Overwrite: T, which servers such as nginx perform as one rename.
 * - Repr-Digest (RFC 9530) is sent as an HTTP trailer when the size is
 *   unknown (chunked upload, HTTP/1.1).  With a Content-Length the
 *   digest is known only after the body went out, and curl sends no
 *   request trailers over HTTP/2, so then it is not sent; the bag
 *   manifest and "migrate verify" check every object end to end instead.
 * - stat uses PROPFIND Depth: 0 rather than HEAD: it answers for
 *   collections too.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "migrate/error.h"
#include "migrate/transport.h"

#include "transport_int.h"

#define MIG_TRANSPORT_INTERNAL
#include "curl_xfer_int.h"
#include "https_int.h"

#ifndef MIG_VERSION
#define MIG_VERSION	"0"
#endif

/* ---------------------------------------------------------------------- */
/* Credentials */

/* At most MIG_SCRUB_SECRETS_MAX, which make_auth never exceeds. */
static int
add_secret(struct mig_https *h, const char *s, size_t len)
{
	return mig_curlx_add_secret(&h->conn, s, len, h->ctx);
}

/*
 * "Authorization: Basic base64(user:password)" or Bearer; secret.  What
 * a server could echo of it is remembered for scrubbing: the token; or
 * the password, "user:password" and its base64, padded and not.
 */
static int
make_auth(struct mig_https *h, const struct mig_transport_config *cfg,
    const char *user)
{
	static const char basic[] = "Authorization: Basic ";
	static const char bearer[] = "Authorization: Bearer ";
	const char *token = mig_topts_get(&cfg->opts, "token_env");
	const char *password = mig_topts_get(&cfg->opts, "password_env");
	char *cred = NULL, *b64;
	size_t ul, pl, n, bl;
	int r = 0;

	if (token != NULL) {
		if (user != NULL)
			return mig_seterr(h->ctx, MIG_ERR_USAGE, "%s: give "
			    "either a bearer token or a user, not both",
			    h->t->root);
		if (token[0] == '\0' || strpbrk(token, "\r\n") !=
		    NULL)
			return mig_seterr(h->ctx, MIG_ERR_USAGE,
			    "%s: bad bearer token (empty or multi-line)",
			    h->t->root);
		n = sizeof(bearer) + strlen(token);
		if ((h->auth = malloc(n)) == NULL)
			return mig_seterr(h->ctx, MIG_ERR_NOMEM,
			    "out of memory");
		(void)snprintf(h->auth, n, "%s%s", bearer, token);
		return add_secret(h, token, strlen(token));
	}
	if (user == NULL)
		return 0;
	if (password == NULL)
		return mig_seterr(h->ctx, MIG_ERR_USAGE,
		    "%s: user \"%s\" given without a password", h->t->root,
		    user);
	if (strchr(user, ':') != NULL)
		return mig_seterr(h->ctx, MIG_ERR_USAGE,
		    "%s: a user name cannot hold ':'", h->t->root);
	ul = strlen(user);
	pl = strlen(password);
	if (ul > 4096 || pl > 4096)
		return mig_seterr(h->ctx, MIG_ERR_USAGE,
		    "%s: user or password too long", h->t->root);
	n = ul + 1 + pl;
	if ((cred = malloc(n + 1)) == NULL ||
	    (h->auth = malloc(sizeof(basic) + 4 * (n / 3 + 1) + 1)) == NULL) {
		r = mig_seterr(h->ctx, MIG_ERR_NOMEM, "out of memory");
		goto out;
	}
	memcpy(cred, user, ul);
	cred[ul] = ':';
	memcpy(cred + ul + 1, password, pl);
	memcpy(h->auth, basic, sizeof(basic) - 1);
	b64 = h->auth + sizeof(basic) - 1;
	bl = (size_t)EVP_EncodeBlock((unsigned char *)b64,
	    (unsigned char *)cred, (int)n);
	if ((r = add_secret(h, password, pl)) != 0 ||
	    (r = add_secret(h, cred, n)) != 0 ||
	    (r = add_secret(h, b64, bl)) != 0)
		goto out;
	while (bl > 0 && b64[bl - 1] == '=')
		bl--;
	r = add_secret(h, b64, bl);
out:
	if (cred != NULL) {
		OPENSSL_cleanse(cred, n);
		free(cred);
	}
	return r;
}

/* ---------------------------------------------------------------------- */
/* open / close */

static bool
loopback_literal(const char *host)
{
	return strcmp(host, "127.0.0.1") == 0 || strcmp(host, "::1") == 0;
}

static void
https_close(struct mig_transport *t)
{
	struct mig_https *h = t->priv;

	if (h == NULL)
		return;
	mig_https_streams_orphan(h);
	mig_https_pipe_free(h);
	mig_https_xfer_detach(h, &h->sx);
	if (h->sx.c.easy != NULL)
		curl_easy_cleanup(h->sx.c.easy);
	mig_curlx_slist_free_wiped(h->sx.hdrs);
	if (h->multi != NULL)
		curl_multi_cleanup(h->multi);
	if (h->share != NULL)
		curl_share_cleanup(h->share);
	mig_webdav_forget_dirs(h);
	free(h->dirs);
	mig_curlx_wipe_free(h->auth);
	mig_curlx_conn_clear(&h->conn);
	free(h->origin);
	free(h->root);
	free(h->root_dec);
	free(h);
	t->priv = NULL;
}

/* Plain http:// only to a loopback literal, and only when allowed. */
static int
check_scheme(struct mig_https *h, const struct mig_transport_config *cfg,
    const struct mig_url *url)
{
	if (strcmp(url->scheme, "http") == 0) {
		if (!mig_topts_bool(&cfg->opts, "allow_plain_http_loopback") ||
		    !loopback_literal(url->host))
			return mig_seterr(h->ctx, MIG_ERR_SECURITY,
			    "%s: plain http:// refused: use https:// (http is "
			    "allowed only to 127.0.0.1 in tests)", h->t->root);
		h->plain = true;
	} else if (strcmp(url->scheme, "https") != 0)
		return mig_seterr(h->ctx, MIG_ERR_PARSE,
		    "%s: not an https:// URL", h->t->root);
	return 0;
}

/* Origin and root path; the root's trailing '/' goes. */
static int
set_origin_root(struct mig_https *h, const struct mig_url *url)
{
	const char *root = h->t->root;
	char enc[MIG_HTTPS_URL_MAX];
	size_t n, o = 0;
	bool v6;

	v6 = strchr(url->host, ':') != NULL;
	n = strlen(url->host) + 32;
	if ((h->origin = malloc(n)) == NULL ||
	    (h->conn.host = strdup(url->host)) == NULL ||
	    (h->root_dec = strdup(url->path != NULL ? url->path : "/")) ==
	    NULL)
		return mig_seterr(h->ctx, MIG_ERR_NOMEM, "out of memory");
	if (url->port != 0)
		(void)snprintf(h->origin, n, "%s://%s%s%s:%d",
		    h->plain ? "http" : "https", v6 ? "[" : "", url->host,
		    v6 ? "]" : "", url->port);
	else
		(void)snprintf(h->origin, n, "%s://%s%s%s",
		    h->plain ? "http" : "https", v6 ? "[" : "", url->host,
		    v6 ? "]" : "");
	n = strlen(h->root_dec);
	while (n > 0 && h->root_dec[n - 1] == '/')
		h->root_dec[--n] = '\0';
	if (n > 0 && h->root_dec[0] != '/')
		return mig_seterr(h->ctx, MIG_ERR_PARSE, "%s: bad path", root);
	if (strstr(h->root_dec, "/../") != NULL ||
	    strstr(h->root_dec, "/./") != NULL ||
	    (n >= 3 && strcmp(h->root_dec + n - 3, "/..") == 0) ||
	    (n >= 2 && strcmp(h->root_dec + n - 2, "/.") == 0))
		return mig_seterr(h->ctx, MIG_ERR_SECURITY,
		    "%s: \".\" or \"..\" in the destination path", root);
	if (!mig_https_encode_path(h->root_dec, enc, sizeof(enc), &o) ||
	    (h->root = strdup(enc)) == NULL)
		return mig_seterr(h->ctx, MIG_ERR_NOMEM, "out of memory");
	return 0;
}

/*
 * The multi handle, the one-shot handle, and the share of DNS answers
 * and TLS sessions between all transfers.  Over HTTP/1.1 each put in
 * flight needs a connection of its own, and the one-shot requests and
 * open streams a few more; over HTTP/2 they are all streams of one.
 */
static int
curl_handles(struct mig_https *h)
{
	if ((h->multi = curl_multi_init()) == NULL ||
	    (h->share = curl_share_init()) == NULL ||
	    (h->sx.c.easy = curl_easy_init()) == NULL)
		return mig_seterr(h->ctx, MIG_ERR_NOMEM, "out of memory");
	(void)curl_multi_setopt(h->multi, CURLMOPT_PIPELINING,
	    (long)CURLPIPE_MULTIPLEX);
	(void)curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	    (long)h->nputs + 4);
	(void)curl_share_setopt(h->share, CURLSHOPT_SHARE,
	    CURL_LOCK_DATA_DNS);
	(void)curl_share_setopt(h->share, CURLSHOPT_SHARE,
	    CURL_LOCK_DATA_SSL_SESSION);
	return 0;
}

/* Connect, verify the certificate, check the credentials. */
static int
first_contact(struct mig_https *h)
{
	struct mig_https_req rq;
	int r;

	memset(&rq, 0, sizeof(rq));
	rq.method = "OPTIONS";
	rq.path = "";
	rq.dir = true;
	rq.retries = -1;
	if ((r = mig_https_run_request(h, &rq)) != 0)
		return r;
	if (rq.status == 401 || rq.status == 403 || rq.status >= 500 ||
	    (rq.status >= 300 && rq.status <= 399))
		return mig_https_http_error(&h->sx, h->ctx, h->t->root,
		    "OPTIONS");
	return 0;
}

static int
https_open(struct mig_transport *t, const struct mig_transport_config *cfg,
    const struct mig_url *url)
{
	const char *user = mig_topts_get(&cfg->opts, "user");
	struct mig_https *h;
	int r;

	if ((r = mig_curlx_global_init(t->ctx)) != 0)
		return r;
	if (url->host == NULL || url->host[0] == '\0')
		return mig_seterr(t->ctx, MIG_ERR_PARSE, "%s: missing host",
		    t->root);
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return mig_seterr(t->ctx, MIG_ERR_NOMEM, "out of memory");
	t->priv = h;
	h->t = t;
	h->ctx = t->ctx;
	if ((r = check_scheme(h, cfg, url)) != 0)
		goto out;
	h->nputs = mig_https_puts_value(mig_topts_get(&cfg->opts,
	    "objects_in_flight"));
	if (h->nputs == 0) {
		r = mig_seterr(t->ctx, MIG_ERR_PARSE, "%s: objects_in_flight "
		    "must be 1 to %d", t->root, MIG_HTTPS_PUTS_MAX);
		goto out;
	}
	h->conn.proto = h->plain ? "http" : "https";
	h->conn.user_agent = "migrate/" MIG_VERSION;
	if ((r = mig_curlx_conn_init(&h->conn, cfg, t->ctx)) != 0 ||
	    (r = set_origin_root(h, url)) != 0)
		goto out;
	if ((h->dirs = calloc(MIG_HTTPS_DIRCACHE_MAX, sizeof(*h->dirs))) ==
	    NULL) {
		r = mig_seterr(t->ctx, MIG_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = make_auth(h, cfg, user != NULL ? user : url->user)) != 0 ||
	    (r = curl_handles(h)) != 0)
		goto out;
	r = first_contact(h);
out:
	if (r != 0)
		https_close(t);
	return r;
}

static const struct mig_tkey https_keys[] = {
	{ "ca_file", MIG_TKEY_PATH, NULL, "PEM bundle of the CAs to trust "
	    "instead of the system store" },
	{ "pinned_pubkey", MIG_TKEY_STRING, NULL, "sha256//BASE64 of the "
	    "server's public key, checked as well" },
	{ "token_env", MIG_TKEY_ENV, NULL, "variable holding a bearer token" },
	{ "user", MIG_TKEY_STRING, NULL, "basic authentication user (with "
	    "password_env)" },
	{ "password_env", MIG_TKEY_ENV, NULL, "variable holding the password "
	    "of user" },
	{ "allow_plain_http_loopback", MIG_TKEY_BOOL, "false", "tests only: "
	    "allow http:// to 127.0.0.1" },
	{ "objects_in_flight", MIG_TKEY_INT, "16", "small objects (up to "
	    "256 KiB) in flight on each connection: HTTP/2 streams of it, or "
	    "over HTTP/1.1 a connection each (1-64)" },
	{ NULL, 0, NULL, NULL }
};

/* The keys that go together, and plain http only to loopback tests. */
static int
https_check(const struct mig_topts *o, const struct mig_url *url,
    const char **keyp, char *msg, size_t size)
{
	const char *pin = mig_topts_get(o, "pinned_pubkey");

	*keyp = NULL;
	if (mig_https_puts_value(mig_topts_get(o, "objects_in_flight")) == 0) {
		*keyp = "objects_in_flight";
		(void)snprintf(msg, size, "destination.objects_in_flight must "
		    "be 1 to %d", MIG_HTTPS_PUTS_MAX);
	} else if (pin != NULL && strncmp(pin, "sha256//", 8) != 0) {
		*keyp = "pinned_pubkey";
		(void)snprintf(msg, size, "destination.pinned_pubkey must look "
		    "like \"sha256//BASE64\"");
	} else if (mig_topts_get(o, "user") != NULL &&
	    mig_topts_get(o, "password_env") == NULL) {
		*keyp = "user";
		(void)snprintf(msg, size, "destination.user needs password_env "
		    "(the name of the variable holding the password)");
	} else if (mig_topts_get(o, "token_env") != NULL &&
	    mig_topts_get(o, "user") != NULL) {
		*keyp = "token_env";
		(void)snprintf(msg, size, "use either token_env or user + "
		    "password_env, not both");
	} else if (strcmp(url->scheme, "http") == 0 &&
	    !mig_topts_bool(o, "allow_plain_http_loopback")) {
		(void)snprintf(msg, size, "plain http:// is refused: use "
		    "https:// (tests against 127.0.0.1 may set "
		    "allow_plain_http_loopback = true)");
	} else
		return 0;
	return MIG_ERR_PARSE;
}

const struct mig_transport_ops mig_transport_https_ops = {
	.scheme = "https",
	.alias = "http",
	.keys = https_keys,
	.check = https_check,
	.open = https_open,
	.close = https_close,
	.mkdir_p = mig_webdav_mkdir_p,
	.dir_known = mig_webdav_dir_known,
	.open_write = mig_https_open_write,
	.open_write_unpublished = mig_https_open_write_unpublished,
	.open_read = mig_https_open_read,
	.stat = mig_webdav_stat,
	.list = mig_webdav_list,
	.remove = mig_webdav_remove,
	.put_start = mig_https_put_start,
	.put_next = mig_https_put_next,
	.put_capacity = mig_https_put_capacity,
};
