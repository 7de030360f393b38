/*
 * S3-compatible destination (AWS S3, MinIO, Ceph RGW, ...) over libcurl,
 * every request signed with Signature V4 (sigv4.c) and the real SHA-256
 * of its body in x-amz-content-sha256, so the server checks every byte.
 *
 *   s3://BUCKET/PREFIX: objects are PREFIX/PATH in BUCKET.
 *   open_write  one PUT for an object up to part_size; above it a
 *               multipart upload (Create, UploadPart each part_size
 *               bytes, upload_concurrency parts in flight at once,
 *               Complete after every part is acknowledged; Abort when
 *               abandoned, and of the uploads a killed run left behind).
 *               Bodies are buffered, at most upload_concurrency + 1
 *               parts, so every request can be replayed on a retry.
 *   open_read   ranged GETs of READ_CHUNK bytes, after a HEAD for the size
 *   stat        HEAD; a "directory" is a prefix with at least one key
 *   list        ListObjectsV2 with delimiter '/', paginated, parsed by expat
 *   mkdir_p     a zero-byte "DIR/" marker (an empty bag's data/ exists)
 *   remove      DELETE
 *
 * S3 has no rename, and needs none here: a PUT or a
 * CompleteMultipartUpload makes an object visible whole or not at all,
 * so open_write writes the final key directly and never leaves a
 * temporary behind.  A run is published by _SUCCESS, written last (the
 * lake layout of DESIGN.md §4 already allows objects written in place
 * inside an unpublished run).
 *
 * The backend is five files around s3_int.h: this one (open, close,
 * credentials, plan keys, mkdir_p, remove); s3_request.c, the signed
 * requests; s3_read.c, HEAD, listings and ranged GETs; s3_multipart.c,
 * the uploads; s3_parts.c, the parts of an upload in flight on threads.  The curl plumbing it shares with the https backend (TLS
 * setup, curl's codes) is curl_xfer.c.
 *
 * TLS is always verified, against ca_file alone when given, and
 * optionally a pinned public key; redirects are never followed.  Any
 * failed TLS handshake is a refusal (MIG_ERR_SECURITY), never retried.
 * Credentials are borrowed from the caller's config, copied, wiped on
 * close, and scrubbed from anything a server sends before it reaches a
 * message.  A 403 for a signature or an unknown key is MIG_ERR_SECURITY
 * (the run audits it as security.refused).
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "migrate/error.h"
#include "migrate/stream.h"
#include "migrate/transport.h"
#include "migrate/util.h"

#include "transport_int.h"

#define MIG_TRANSPORT_INTERNAL
#include "curl_xfer_int.h"
#include "s3_int.h"

#define PART_MIN	(5 * (uint64_t)MIG_S3_MIB)	/* S3's smallest part */
#define PART_MAX	(512 * (uint64_t)MIG_S3_MIB)	/* our memory bound */
#define PART_DEF	"16M"
/*
 * The default upload_concurrency shares LANES_RUN_DEF parts in flight
 * among the run's jobs, 2 to 8 each: every job holds its own parts, so a
 * default that grew with --jobs would grow memory with its square.
 */
#define LANES_RUN_DEF	8
#define LANES_MIN_DEF	2
#define LANES_MAX_DEF	8
#define CREDFILE_MAX	(256 * 1024)

/* ---------------------------------------------------------------------- */
/* Open streams */

void
mig_s3_stream_link(struct mig_s3 *s, struct mig_s3_stream *st)
{
	st->s = s;
	st->prev = NULL;
	st->next = s->streams;
	if (s->streams != NULL)
		s->streams->prev = st;
	s->streams = st;
}

void
mig_s3_stream_unlink(struct mig_s3_stream *st)
{
	if (st->s == NULL)
		return;
	if (st->prev != NULL)
		st->prev->next = st->next;
	else
		st->s->streams = st->next;
	if (st->next != NULL)
		st->next->prev = st->prev;
	st->s = NULL;
}

int
mig_s3_stream_gone(struct mig_ctx *ctx, const char *key)
{
	return mig_seterr(ctx, MIG_ERR_USAGE, "%s: the S3 transport was "
	    "closed before this stream", key);
}

/* ---------------------------------------------------------------------- */
/* mkdir_p and remove */

static bool
dir_known(struct mig_s3 *s, const char *dir)
{
	size_t i;

	for (i = 0; i < s->ndirs; i++)
		if (strcmp(s->dirs[i], dir) == 0)
			return true;
	return false;
}

/* Remembers dir (a full ring: the oldest goes). */
static void
dir_remember(struct mig_s3 *s, const char *dir)
{
	char *c = strdup(dir);

	if (c == NULL)
		return;
	if (s->ndirs < MIG_S3_DIRCACHE_MAX) {
		s->dirs[s->ndirs++] = c;
		return;
	}
	free(s->dirs[s->dirnext]);
	s->dirs[s->dirnext] = c;
	s->dirnext = (s->dirnext + 1) % MIG_S3_DIRCACHE_MAX;
}

/*
 * A zero-byte "DIR/" marker for the directory and each of its parents
 * not yet known to exist (as the AWS console makes folders): an empty
 * bag's data/ must be there to validate, and a store that lists by
 * walking its own folders (s3rver) finds every level.
 */
static int
s3_mkdir_p(struct mig_transport *t, const char *dir)
{
	struct mig_s3 *s = t->priv;
	char key[MIG_S3_KEY_MAX + 8], part[MIG_S3_KEY_MAX + 8], wbuf[2048];
	const char *slash;
	size_t n;
	int r = 0;

	if (dir[0] == '\0' || dir_known(s, dir))
		return 0;
	for (slash = dir; r == 0 && slash != NULL; ) {
		slash = strchr(slash + 1, '/');
		n = slash != NULL ? (size_t)(slash - dir) : strlen(dir);
		if (n >= sizeof(part))
			return mig_seterr(s->ctx, MIG_ERR_USAGE, "%s: path too "
			    "long", dir);
		memcpy(part, dir, n);
		part[n] = '\0';
		if (dir_known(s, part))
			continue;
		if ((r = mig_s3_full_key(s, part, "/", key, sizeof(key))) ==
		    0 && (r = mig_s3_put_object(s, key, NULL, 0,
		    mig_s3_where(s, part, wbuf, sizeof(wbuf)))) == 0)
			dir_remember(s, part);
	}
	return r;
}

/* S3 answers 204 whether or not the key existed: never NOTFOUND. */
static int
s3_remove(struct mig_transport *t, const char *path)
{
	struct mig_s3 *s = t->priv;
	struct mig_tstat st;
	struct mig_s3_req rq;
	char key[MIG_S3_KEY_MAX + 8], wbuf[2048];
	int r;

	if ((r = mig_s3_full_key(s, path, "", key, sizeof(key))) != 0)
		return r;
	/*
	 * S3 answers 204 to a DELETE of a key that is not there.  The
	 * contract says MIG_ERR_NOTFOUND, and the prune above us writes a
	 * deletion to the audit log only for what it removed itself, so
	 * ask first (found by the transport conformance suite).  A key
	 * deleted by someone else between the two requests still counts
	 * as ours: S3 gives no way to tell.
	 */
	if ((r = mig_s3_head(s, key, &st, mig_s3_where(s, path, wbuf,
	    sizeof(wbuf)))) != 0)
		return r;
	memset(&rq, 0, sizeof(rq));
	rq.method = "DELETE";
	rq.key = key;
	rq.max = MIG_S3_ERRBODY_MAX;
	r = mig_s3_request(s, &rq, mig_s3_where(s, path, wbuf, sizeof(wbuf)));
	free(rq.ans);
	return r;
}

/* ---------------------------------------------------------------------- */
/* Credentials */

/* Trims spaces and tabs at both ends, in place. */
static char *
trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
	    s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* The keys of one "[profile]" of text (the AWS CLI's credentials file). */
static int
parse_profile(struct mig_s3 *s, char *text, const char *profile,
    const char *file, const char *from)
{
	char *line, *next, *eq, *k, *v, **dst;
	bool in = false, seen = false;

	for (line = text; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		line = trim(line);
		if (line[0] == '#' || line[0] == ';' || line[0] == '\0')
			continue;
		if (line[0] == '[') {
			k = trim(line + 1);
			if ((v = strchr(k, ']')) != NULL)
				*v = '\0';
			in = strcmp(trim(k), profile) == 0;
			seen |= in;
			continue;
		}
		if (!in || (eq = strchr(line, '=')) == NULL)
			continue;
		*eq = '\0';
		k = trim(line);
		v = trim(eq + 1);
		dst = strcmp(k, "aws_access_key_id") == 0 ? &s->ak :
		    strcmp(k, "aws_secret_access_key") == 0 ? &s->sk :
		    strcmp(k, "aws_session_token") == 0 ? &s->token : NULL;
		if (dst == NULL || v[0] == '\0')
			continue;
		mig_curlx_wipe_free(*dst);
		if ((*dst = strdup(v)) == NULL)
			return mig_seterr(s->ctx, MIG_ERR_NOMEM,
			    "out of memory");
	}
	if (!seen)
		return mig_seterr(s->ctx, MIG_ERR_SECURITY, "%s: no S3 "
		    "credentials: %s has no profile [%s]%s%s%s", s->t->root,
		    file, profile, from != NULL ? " (named by " : "",
		    from != NULL ? from : "", from != NULL ? ")" : "");
	return 0;
}

/* Reads profile's keys from the credentials file. */
static int
creds_from_file(struct mig_s3 *s, const char *file, const char *profile,
    const char *from)
{
	FILE *f;
	char *text;
	size_t n;
	int r;

	if ((f = fopen(file, "re")) == NULL)
		return mig_seterr(s->ctx, MIG_ERR_SECURITY, "%s: no S3 "
		    "credentials: set AWS_ACCESS_KEY_ID and "
		    "AWS_SECRET_ACCESS_KEY, or a profile%s%s in %s (%s)",
		    s->t->root, from != NULL ? " named by " : "",
		    from != NULL ? from : "", file, strerror(errno));
	if ((text = malloc(CREDFILE_MAX + 1)) == NULL) {
		(void)fclose(f);
		return mig_seterr(s->ctx, MIG_ERR_NOMEM, "out of memory");
	}
	n = fread(text, 1, CREDFILE_MAX + 1, f);
	if (ferror(f) || n > CREDFILE_MAX)
		r = mig_seterr(s->ctx, MIG_ERR_IO, "%s: unreadable or larger "
		    "than %d bytes", file, CREDFILE_MAX);
	else {
		text[n] = '\0';
		r = parse_profile(s, text, profile, file, from);
	}
	(void)fclose(f);
	OPENSSL_cleanse(text, CREDFILE_MAX + 1);
	free(text);
	return r;
}

/*
 * The credentials file: the plan's credentials_file; else the file the
 * environment names (AWS_SHARED_CREDENTIALS_FILE, "~/" as the AWS CLI
 * expands it); else ~/.aws/credentials.  NULL without HOME.  Caller
 * frees.
 */
static char *
creds_file(const struct mig_topts *o, const char *home)
{
	const char *f = mig_topts_get(o, "credentials_file");
	const char *rest;
	char *p;
	size_t n;

	if (f == NULL)
		f = mig_topts_get(o, "credentials_file_env");
	if (f != NULL && strncmp(f, "~/", 2) != 0)
		return strdup(f);
	if (home == NULL || home[0] == '\0')
		return NULL;
	rest = f != NULL ? f + 2 : ".aws/credentials";
	n = strlen(home) + 1 + strlen(rest) + 1;
	if ((p = malloc(n)) != NULL)
		(void)snprintf(p, n, "%s/%s", home, rest);
	return p;
}

/* The keys of profile in the credentials file, or why there are none. */
static int
creds_profile(struct mig_s3 *s, const struct mig_topts *o, const char *home,
    const char *profile, const char *from)
{
	char *file;
	int r;

	if ((file = creds_file(o, home)) == NULL)
		return mig_seterr(s->ctx, MIG_ERR_SECURITY, "%s: no S3 "
		    "credentials: set AWS_ACCESS_KEY_ID and "
		    "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE and a credentials "
		    "file", s->t->root);
	r = creds_from_file(s, file, profile, from);
	free(file);
	return r;
}

/*
 * The AWS CLI's order: the plan's profile (as its --profile); the
 * variables the plan names (or AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN); the profile the environment names (AWS_PROFILE);
 * the [default] profile.  Variables are resolved by the caller.
 */
static int
load_credentials(struct mig_s3 *s, const struct mig_topts *o, const char *home)
{
	const char *ak = mig_topts_get(o, "access_key_id_env");
	const char *sk = mig_topts_get(o, "secret_access_key_env");
	const char *tok = mig_topts_get(o, "session_token_env");
	const char *profile = mig_topts_get(o, "profile");
	const char *from = "destination.profile";
	int r = 0;

	if (profile == NULL && (ak != NULL || sk != NULL)) {
		if (ak == NULL || sk == NULL)
			return mig_seterr(s->ctx, MIG_ERR_SECURITY, "%s: an "
			    "S3 access key id needs its secret access key, "
			    "and the other way round", s->t->root);
		if ((s->ak = strdup(ak)) == NULL ||
		    (s->sk = strdup(sk)) == NULL ||
		    (tok != NULL && (s->token = strdup(tok)) == NULL))
			return mig_seterr(s->ctx, MIG_ERR_NOMEM,
			    "out of memory");
	} else {
		if (profile == NULL) {
			profile = mig_topts_get(o, "profile_env");
			from = "AWS_PROFILE";
		}
		if (profile == NULL) {
			profile = "default";
			from = NULL;
		}
		r = creds_profile(s, o, home, profile, from);
	}
	if (r == 0 && (s->ak == NULL || s->sk == NULL))
		r = mig_seterr(s->ctx, MIG_ERR_SECURITY, "%s: no S3 "
		    "credentials: profile [%s] lacks aws_access_key_id or "
		    "aws_secret_access_key", s->t->root, profile);
	if (r == 0 && (strpbrk(s->ak, "\r\n") != NULL ||
	    strpbrk(s->sk, "\r\n") != NULL || (s->token != NULL &&
	    strpbrk(s->token, "\r\n") != NULL)))
		r = mig_seterr(s->ctx, MIG_ERR_SECURITY, "%s: S3 credentials "
		    "with a line break refused", s->t->root);
	if (r == 0)
		r = mig_curlx_add_secret(&s->conn, s->sk, strlen(s->sk),
		    s->ctx);
	if (r == 0 && s->token != NULL)
		r = mig_curlx_add_secret(&s->conn, s->token,
		    strlen(s->token), s->ctx);
	return r;
}

/* ---------------------------------------------------------------------- */
/* open / close */

/* "16M" and the like, in bytes; 0 when malformed. */
static uint64_t
parse_size(const char *v)
{
	uint64_t n;

	return mig_parse_size(v, &n) == 0 ? n : 0;
}

/*
 * upload_concurrency: the plan's (1 to MIG_S3_LANES_MAX), else
 * LANES_RUN_DEF / jobs (unknown: 1) within LANES_MIN_DEF to
 * LANES_MAX_DEF.  0 when the plan's is out of range.
 */
static int
parse_lanes(const char *v, int jobs)
{
	char *end;
	long n;

	if (v == NULL) {
		n = LANES_RUN_DEF / (jobs < 1 ? 1 : jobs);
		return n < LANES_MIN_DEF ? LANES_MIN_DEF :
		    n > LANES_MAX_DEF ? LANES_MAX_DEF : (int)n;
	}
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < 1 ||
	    n > MIG_S3_LANES_MAX)
		return 0;
	return (int)n;
}

static void
s3_close(struct mig_transport *t)
{
	struct mig_s3 *s = t->priv;
	struct mig_s3_stream *st;
	size_t i;

	if (s == NULL)
		return;
	while ((st = s->streams) != NULL) {
		if (st->detach != NULL)
			st->detach(st);
		mig_s3_stream_unlink(st);
	}
	for (i = 0; i < s->ndirs; i++)
		free(s->dirs[i]);
	if (s->x.easy != NULL)
		curl_easy_cleanup(s->x.easy);
	mig_curlx_conn_clear(&s->conn);
	mig_curlx_wipe_free(s->ak);
	mig_curlx_wipe_free(s->sk);
	mig_curlx_wipe_free(s->token);
	free(s->origin);
	free(s->host);
	free(s->bucket);
	free(s->prefix);
	free(s->region);
	free(s->storage_class);
	free(s->sse);
	free(s->sse_kms);
	free(s);
	t->priv = NULL;
}

static int
dupopt(const struct mig_topts *o, const char *name, char **out)
{
	const char *v = mig_topts_get(o, name);

	*out = NULL;
	if (v != NULL && (*out = strdup(v)) == NULL)
		return -1;
	return 0;
}

/* Origin and Host header from the endpoint (or AWS's regional one). */
static int
set_endpoint(struct mig_s3 *s, const struct mig_topts *o)
{
	const char *ep = mig_topts_get(o, "endpoint");
	const char *addr = mig_topts_get(o, "addressing");
	struct mig_url u;
	char def[256], hostport[512];
	size_t n;
	bool v6;
	int r;

	if (ep == NULL) {
		(void)snprintf(def, sizeof(def), "https://s3.%s.amazonaws.com",
		    s->region);
		ep = def;
	}
	s->virtual_host = addr != NULL ? strcmp(addr, "virtual") == 0 :
	    mig_topts_get(o, "endpoint") == NULL;
	if ((r = mig_url_parse(ep, &u, s->ctx)) != 0)
		return r;
	if (strcmp(u.scheme, "https") != 0 || u.user != NULL ||
	    strcmp(u.path, "/") != 0) {
		mig_url_free(&u);
		return mig_seterr(s->ctx, MIG_ERR_USAGE, "%s: endpoint must be "
		    "https://HOST[:PORT]", s->t->root);
	}
	/* The name TLS checks, for messages: the bucket's own with virtual. */
	n = strlen(s->bucket) + strlen(u.host) + 2;
	if ((s->conn.host = malloc(n)) == NULL) {
		mig_url_free(&u);
		return mig_seterr(s->ctx, MIG_ERR_NOMEM, "out of memory");
	}
	(void)snprintf(s->conn.host, n, "%s%s%s", s->virtual_host ?
	    s->bucket : "", s->virtual_host ? "." : "", u.host);
	v6 = strchr(u.host, ':') != NULL;
	if (u.port != 0)
		(void)snprintf(hostport, sizeof(hostport), "%s%s%s:%d",
		    v6 ? "[" : "", u.host, v6 ? "]" : "", u.port);
	else
		(void)snprintf(hostport, sizeof(hostport), "%s%s%s",
		    v6 ? "[" : "", u.host, v6 ? "]" : "");
	mig_url_free(&u);
	if (s->virtual_host) {
		n = strlen(s->bucket) + strlen(hostport) + 16;
		if ((s->host = malloc(n)) != NULL)
			(void)snprintf(s->host, n, "%s.%s", s->bucket,
			    hostport);
	} else
		s->host = strdup(hostport);
	if (s->host == NULL || (s->origin = malloc(strlen(s->host) + 16)) ==
	    NULL)
		return mig_seterr(s->ctx, MIG_ERR_NOMEM, "out of memory");
	(void)sprintf(s->origin, "https://%s", s->host);
	return 0;
}

static int
s3_open(struct mig_transport *t, const struct mig_transport_config *cfg,
    const struct mig_url *url)
{
	const struct mig_topts *o = &cfg->opts;
	struct mig_s3 *s;
	char pfx[MIG_S3_KEY_MAX + 8];
	size_t n;
	bool found;
	int r;

	if ((r = mig_curlx_global_init(t->ctx)) != 0)
		return r;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return mig_seterr(t->ctx, MIG_ERR_NOMEM, "out of memory");
	t->priv = s;
	s->t = t;
	s->ctx = t->ctx;
	s->conn.proto = "https";
	s->conn.user_agent = "migrate";
	s->conn.handshake_refused = true;
	if ((r = mig_curlx_conn_init(&s->conn, cfg, t->ctx)) != 0)
		goto out;
	s->perform = mig_s3_perform;
	s->part_size = parse_size(mig_topts_get(o, "part_size") != NULL ?
	    mig_topts_get(o, "part_size") : PART_DEF);
	s->upload_concurrency = parse_lanes(mig_topts_get(o,
	    "upload_concurrency"), cfg->jobs);
	if (url->host == NULL || url->port != 0 || url->user != NULL ||
	    s->part_size < PART_MIN || s->part_size > PART_MAX ||
	    s->upload_concurrency == 0) {
		r = mig_seterr(t->ctx, MIG_ERR_USAGE, "%s: bad S3 destination "
		    "(s3://BUCKET/PREFIX, part_size 5M to 512M, "
		    "upload_concurrency 1 to %d)", t->root, MIG_S3_LANES_MAX);
		goto out;
	}
	if ((s->bucket = strdup(url->host)) == NULL ||
	    (s->prefix = strdup(url->path[0] == '/' ? url->path + 1 :
	    url->path)) == NULL ||
	    (s->region = strdup(mig_topts_get(o, "region") != NULL ?
	    mig_topts_get(o, "region") : "us-east-1")) == NULL ||
	    dupopt(o, "storage_class", &s->storage_class) != 0 ||
	    dupopt(o, "sse", &s->sse) != 0 ||
	    dupopt(o, "sse_kms_key_id", &s->sse_kms) != 0 ||
	    (s->x.easy = curl_easy_init()) == NULL) {
		r = mig_seterr(t->ctx, MIG_ERR_NOMEM, "out of memory");
		goto out;
	}
	n = strlen(s->prefix);
	while (n > 0 && s->prefix[n - 1] == '/')
		s->prefix[--n] = '\0';
	if (n > 0 && (r = mig_path_check_relative(s->prefix, t->ctx)) != 0)
		goto out;
	if ((r = set_endpoint(s, o)) != 0 ||
	    (r = load_credentials(s, o, cfg->home)) != 0)
		goto out;
	/* Connect, verify TLS, check the credentials and the bucket. */
	if ((r = mig_s3_full_key(s, "", n > 0 ? "/" : "", pfx,
	    sizeof(pfx))) != 0 ||
	    (r = mig_s3_probe(s, pfx, &found, t->root)) != 0)
		goto out;
out:
	if (r != 0)
		s3_close(t);
	return r;
}

static const struct mig_tkey s3_keys[] = {
	{ "endpoint", MIG_TKEY_STRING, NULL, "https://HOST[:PORT] of an "
	    "S3-compatible store (default: AWS's regional endpoint)" },
	{ "region", MIG_TKEY_STRING, "us-east-1", "the region signed for" },
	{ "addressing", MIG_TKEY_STRING, NULL, "\"path\" or \"virtual\" "
	    "(default: virtual on AWS, path with an endpoint)" },
	{ "storage_class", MIG_TKEY_STRING, NULL, "x-amz-storage-class of "
	    "every object" },
	{ "sse", MIG_TKEY_STRING, NULL, "server-side encryption: \"AES256\" "
	    "or \"aws:kms\"" },
	{ "sse_kms_key_id", MIG_TKEY_STRING, NULL, "KMS key of sse = "
	    "\"aws:kms\"" },
	{ "part_size", MIG_TKEY_STRING, PART_DEF, "multipart part size, 5M "
	    "to 512M; larger objects go up in parts" },
	{ "upload_concurrency", MIG_TKEY_INT, NULL, "parts of one object in "
	    "flight at once, 1 to 16 (default: 8 / --jobs, within 2 to 8)" },
	{ "ca_file", MIG_TKEY_PATH, NULL, "PEM bundle of the CAs to trust "
	    "instead of the system store" },
	{ "pinned_pubkey", MIG_TKEY_STRING, NULL, "sha256//BASE64 of the "
	    "server's public key, checked as well" },
	{ "access_key_id_env", MIG_TKEY_ENV, "AWS_ACCESS_KEY_ID",
	    "variable holding the access key id" },
	{ "secret_access_key_env", MIG_TKEY_ENV, "AWS_SECRET_ACCESS_KEY",
	    "variable holding the secret access key" },
	{ "session_token_env", MIG_TKEY_ENV, "AWS_SESSION_TOKEN",
	    "variable holding a session token" },
	{ "profile", MIG_TKEY_STRING, NULL, "profile of the credentials file "
	    "to use (instead of the variables)" },
	{ "profile_env", MIG_TKEY_ENV, "AWS_PROFILE", "variable naming the "
	    "profile when the plan names none and no keys are set" },
	{ "credentials_file", MIG_TKEY_PATH, NULL, "the AWS CLI's credentials "
	    "file (default: the one credentials_file_env names, else "
	    "~/.aws/credentials)" },
	{ "credentials_file_env", MIG_TKEY_ENV, "AWS_SHARED_CREDENTIALS_FILE",
	    "variable naming the credentials file" },
	{ NULL, 0, NULL, NULL }
};

static bool
bucket_ok(const char *b)
{
	size_t i, n = strlen(b);

	if (n < 3 || n > 63)
		return false;
	for (i = 0; i < n; i++)
		if (!islower((unsigned char)b[i]) &&
		    !isdigit((unsigned char)b[i]) && b[i] != '-' &&
		    b[i] != '.')
			return false;
	return true;
}

static int
s3_check(const struct mig_topts *o, const struct mig_url *url,
    const char **keyp, char *msg, size_t size)
{
	const char *addr = mig_topts_get(o, "addressing");
	const char *ep = mig_topts_get(o, "endpoint");
	const char *sse = mig_topts_get(o, "sse");
	const char *pin = mig_topts_get(o, "pinned_pubkey");
	const char *ps = mig_topts_get(o, "part_size");
	uint64_t part = parse_size(ps != NULL ? ps : PART_DEF);
	const char *uc = mig_topts_get(o, "upload_concurrency");

	*keyp = NULL;
	if (url->host == NULL || !bucket_ok(url->host) || url->port != 0 ||
	    url->user != NULL)
		(void)snprintf(msg, size, "an S3 URL is s3://BUCKET/PREFIX, "
		    "BUCKET 3-63 characters of a-z, 0-9, '.' and '-'");
	else if (ep != NULL && strncmp(ep, "https://", 8) != 0) {
		*keyp = "endpoint";
		(void)snprintf(msg, size, "destination.endpoint must be an "
		    "https:// URL");
	} else if (addr != NULL && strcmp(addr, "path") != 0 &&
	    strcmp(addr, "virtual") != 0) {
		*keyp = "addressing";
		(void)snprintf(msg, size, "destination.addressing must be "
		    "\"path\" or \"virtual\"");
	} else if (sse != NULL && strcmp(sse, "AES256") != 0 &&
	    strcmp(sse, "aws:kms") != 0) {
		*keyp = "sse";
		(void)snprintf(msg, size, "destination.sse must be \"AES256\" "
		    "or \"aws:kms\"");
	} else if (mig_topts_get(o, "sse_kms_key_id") != NULL &&
	    (sse == NULL || strcmp(sse, "aws:kms") != 0)) {
		*keyp = "sse_kms_key_id";
		(void)snprintf(msg, size, "destination.sse_kms_key_id needs "
		    "sse = \"aws:kms\"");
	} else if (part < PART_MIN || part > PART_MAX) {
		*keyp = "part_size";
		(void)snprintf(msg, size, "destination.part_size must be 5M "
		    "to 512M (S3's smallest part is 5 MiB)");
	} else if (uc != NULL && parse_lanes(uc, 0) == 0) {
		*keyp = "upload_concurrency";
		(void)snprintf(msg, size, "destination.upload_concurrency must "
		    "be an integer from 1 to %d", MIG_S3_LANES_MAX);
	} else if (pin != NULL && strncmp(pin, "sha256//", 8) != 0) {
		*keyp = "pinned_pubkey";
		(void)snprintf(msg, size, "destination.pinned_pubkey must look "
		    "like \"sha256//BASE64\"");
	} else if (mig_topts_get(o, "profile") != NULL &&
	    (mig_topts_get(o, "access_key_id_env") != NULL ||
	    mig_topts_get(o, "secret_access_key_env") != NULL)) {
		*keyp = "profile";
		(void)snprintf(msg, size, "use either profile or "
		    "access_key_id_env + secret_access_key_env, not both");
	} else if ((mig_topts_get(o, "access_key_id_env") == NULL) !=
	    (mig_topts_get(o, "secret_access_key_env") == NULL)) {
		*keyp = mig_topts_get(o, "access_key_id_env") == NULL ?
		    "secret_access_key_env" : "access_key_id_env";
		(void)snprintf(msg, size, "access_key_id_env and "
		    "secret_access_key_env go together");
	} else
		return 0;
	return MIG_ERR_PARSE;
}

const struct mig_transport_ops mig_transport_s3_ops = {
	.scheme = "s3",
	.keys = s3_keys,
	.check = s3_check,
	.open = s3_open,
	.close = s3_close,
	.mkdir_p = s3_mkdir_p,
	.open_write = mig_s3_open_write,
	.open_read = mig_s3_open_read,
	.stat = mig_s3_stat,
	.list = mig_s3_list,
	.remove = s3_remove,
};
