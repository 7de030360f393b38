/*
 * HTTPS (WebDAV) transport against a real nginx on loopback.  Started by
 * tests/integration/https_transport.sh, which exports:
 *
 *   MIG_TEST_HTTPS_URL        https://127.0.0.1:PORT/dav/DIR (basic auth)
 *   MIG_TEST_HTTPS_CA         the CA certificate
 *   MIG_TEST_HTTPS_USER, MIG_TEST_HTTPS_PASSWORD
 *   MIG_TEST_HTTPS_BEARER_URL, MIG_TEST_HTTPS_TOKEN
 *   MIG_TEST_HTTPS_PIN        sha256//... of the server key
 *   MIG_TEST_HTTPS_WRONG_URL  a server whose certificate names another host
 *   MIG_TEST_HTTP_URL         plain http on 127.0.0.1
 *   MIG_TEST_HTTPS_BUSY_URL   always 503 with Retry-After: 0
 *   MIG_TEST_HTTPS_KILL_URL, MIG_TEST_HTTPS_KILL_PID
 *                             a one-process server the test may freeze
 *                             and kill (the last cases)
 *   MIG_TEST_HTTPS_CUT_URL    the main server's /dav/ through a proxy that
 *                             resets every connection once, mid-way
 *   MIG_TEST_HTTPS_GONE_URL, MIG_TEST_HTTPS_GONE_PID
 *                             the same through a proxy the test kills
 *
 * Every case skips when its variables are unset, so a plain "make check"
 * without the script passes by skipping.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "migrate/error.h"
#include "migrate/stream.h"
#include "migrate/transport.h"

#define MiB	(1024 * 1024)

struct env {
	const char	*url, *ca, *user, *password;
	const char	*bearer_url, *token, *pin, *wrong_url, *http_url;
	const char	*busy_url, *kill_url, *cut_url, *gone_url;
	pid_t		 kill_pid, gone_pid;
};

static struct env E;

static void
base_cfg(struct mig_transport_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->url = E.url;
	mig_topts_set(&cfg->opts, "ca_file", E.ca);
	mig_topts_set(&cfg->opts, "user", E.user);
	mig_topts_set(&cfg->opts, "password_env", E.password);
	cfg->connect_timeout_ms = 5000;
	cfg->io_timeout_ms = 20000;
	cfg->retries = 2;
}

static struct mig_transport *
open_cfg(const struct mig_transport_config *cfg, struct mig_ctx *ctx)
{
	struct mig_transport *t = NULL;
	int r;

	r = mig_transport_open(cfg, ctx, &t);
	if (r != 0)
		fail_msg("open %s: %s", cfg->url, mig_errmsg(ctx));
	return t;
}

static struct mig_transport *
open_main(struct mig_ctx *ctx)
{
	struct mig_transport_config cfg;

	base_cfg(&cfg);
	return open_cfg(&cfg, ctx);
}

/* Deterministic bytes: xorshift64 from seed. */
static void
fill(uint64_t *state, unsigned char *buf, size_t len)
{
	uint64_t x = *state;
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (unsigned char)(x >> 24);
	}
	*state = x;
}

/*
 * Uploads size bytes from seed in uneven chunks; size_hint is what
 * open_write is told (-1 for chunked).  Digest into d.
 */
static int
put_seeded(struct mig_transport *t, const char *path, uint64_t size,
    int64_t size_hint, uint64_t seed, unsigned char d[32])
{
	static unsigned char buf[200000];
	struct mig_writer *w = NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint64_t left = size, st = seed | 1;
	size_t n, step = 1;
	unsigned int dl;
	int r;

	assert_non_null(md);
	assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
	if ((r = t->ops->open_write(t, path, size_hint, &w)) != 0)
		goto out;
	while (left > 0) {
		/* 1, 7, 49, ... up to the buffer: odd sizes on purpose. */
		step = step * 7 % sizeof(buf) + 1;
		n = left < step ? (size_t)left : step;
		fill(&st, buf, n);
		assert_int_equal(EVP_DigestUpdate(md, buf, n), 1);
		if ((r = mig_writer_write(w, buf, n)) != 0)
			goto out;
		left -= n;
	}
	r = mig_writer_close(w);
out:
	mig_writer_free(w);
	assert_int_equal(EVP_DigestFinal_ex(md, d, &dl), 1);
	EVP_MD_CTX_free(md);
	return r;
}

static int
get_digest(struct mig_transport *t, const char *path, uint64_t *sizep,
    unsigned char d[32])
{
	static unsigned char buf[100000];
	struct mig_reader *rd = NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int dl;
	size_t n;
	int r;

	*sizep = 0;
	assert_non_null(md);
	assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
	if ((r = t->ops->open_read(t, path, &rd)) != 0)
		goto out;
	for (;;) {
		if ((r = mig_reader_read(rd, buf, sizeof(buf), &n)) != 0)
			goto out;
		if (n == 0)
			break;
		*sizep += n;
		assert_int_equal(EVP_DigestUpdate(md, buf, n), 1);
	}
out:
	mig_reader_free(rd);
	assert_int_equal(EVP_DigestFinal_ex(md, d, &dl), 1);
	EVP_MD_CTX_free(md);
	return r;
}

static void
roundtrip(struct mig_transport *t, struct mig_ctx *ctx, const char *path,
    uint64_t size, bool chunked)
{
	unsigned char d1[32], d2[32];
	struct mig_tstat st;
	uint64_t got;

	if (put_seeded(t, path, size, chunked ? -1 : (int64_t)size, size + 3,
	    d1) != 0)
		fail_msg("put %s: %s", path, mig_errmsg(ctx));
	if (get_digest(t, path, &got, d2) != 0)
		fail_msg("get %s: %s", path, mig_errmsg(ctx));
	assert_int_equal(got, size);
	assert_memory_equal(d1, d2, 32);
	assert_int_equal(t->ops->stat(t, path, &st), 0);
	assert_int_equal(st.size, size);
	assert_false(st.type == MIG_FT_DIR);
}


/* Each case gets its own error context, freed even when it skips. */
static int
ctx_setup(void **state)
{
	*state = mig_ctx_new();
	return *state == NULL ? -1 : 0;
}

static int
ctx_teardown(void **state)
{
	mig_ctx_free(*state);
	return 0;
}

static void
test_transport_https__roundtrip(void **state)
{
	struct mig_ctx *ctx = *state;
	struct mig_transport *t;

	(void)state;
	if (E.url == NULL)
		skip();
	t = open_main(ctx);
	roundtrip(t, ctx, "rt/zero", 0, false);
	roundtrip(t, ctx, "rt/one", 1, false);
	roundtrip(t, ctx, "rt/five", 5 * MiB, false);
	roundtrip(t, ctx, "rt/hundred", 100 * MiB, false);
	roundtrip(t, ctx, "rt/chunked-zero", 0, true);
	roundtrip(t, ctx, "rt/chunked", 3 * MiB + 17, true);
	mig_transport_close(t);
}

/* The small-object helpers of transport.c over this backend. */
static void
test_transport_https__put_get_helpers(void **state)
{
	struct mig_ctx *ctx = *state;
	struct mig_transport *t;
	unsigned char *buf = NULL;
	size_t len = 0;

	(void)state;
	if (E.url == NULL)
		skip();
	t = open_main(ctx);
	assert_int_equal(mig_transport_put(t, "pg/hello world.txt", "hello",
	    5), 0);
	assert_int_equal(mig_transport_get(t, "pg/hello world.txt", 100,
	    &buf, &len), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(buf, "hello", 5);
	free(buf);
	assert_int_equal(mig_transport_get(t, "pg/hello world.txt", 4, &buf,
	    &len), MIG_ERR_FORMAT);
	mig_transport_close(t);
}

struct names {
	char	 name[16][64];
	bool	 dir[16];
	uint64_t size[16];
	int	 n;
};

static int
collect(void *arg, const char *name, const struct mig_tstat *st)
{
	struct names *nm = arg;

	if (nm->n == 16)
		return 1;
	(void)snprintf(nm->name[nm->n], sizeof(nm->name[0]), "%s", name);
	nm->dir[nm->n] = (st->type == MIG_FT_DIR);
	nm->size[nm->n] = st->size;
	nm->n++;
	return 0;
}

static int
find(const struct names *nm, const char *name)
{
	int i;

	for (i = 0; i < nm->n; i++)
		if (strcmp(nm->name[i], name) == 0)
			return i;
	return -1;
}

static bool
has_tmp(const struct names *nm)
{
	int i;

	for (i = 0; i < nm->n; i++)
		if (strstr(nm->name[i], MIG_TMP_INFIX) != NULL)
			return true;
	return false;
}

static void
test_transport_https__list_stat_remove(void **state)
{
	struct mig_ctx *ctx = *state;
	struct mig_transport *t;
	struct mig_tstat st;
	struct names nm;
	int i;

	(void)state;
	if (E.url == NULL)
		skip();
	t = open_main(ctx);
	assert_int_equal(mig_transport_put(t, "ls/a", "aaa", 3), 0);
	assert_int_equal(mig_transport_put(t, "ls/b b", "b", 1), 0);
	assert_int_equal(mig_transport_put(t, "ls/\xc3\xbc%&<>.txt", "u", 1),
	    0);
	assert_int_equal(t->ops->mkdir_p(t, "ls/sub"), 0);
	assert_int_equal(mig_transport_put(t, "ls/sub/c", "cc", 2), 0);

	memset(&nm, 0, sizeof(nm));
	assert_int_equal(t->ops->list(t, "ls", collect, &nm), 0);
	assert_int_equal(nm.n, 4);
	assert_true((i = find(&nm, "a")) >= 0);
	assert_false(nm.dir[i]);
	assert_int_equal(nm.size[i], 3);
	assert_true(find(&nm, "b b") >= 0);
	assert_true(find(&nm, "\xc3\xbc%&<>.txt") >= 0);
	assert_true((i = find(&nm, "sub")) >= 0);
	assert_true(nm.dir[i]);

	/* A callback's non-zero value stops the listing and is returned. */
	memset(&nm, 0, sizeof(nm));
	nm.n = 16;
	assert_int_equal(t->ops->list(t, "ls", collect, &nm), 1);

	assert_int_equal(t->ops->stat(t, "ls/a", &st), 0);
	assert_int_equal(st.size, 3);
	assert_false(st.type == MIG_FT_DIR);
	assert_true(st.mtime > 0);
	assert_int_equal(t->ops->stat(t, "ls/sub", &st), 0);
	assert_true(st.type == MIG_FT_DIR);
	assert_int_equal(t->ops->stat(t, "ls/nope", &st), MIG_ERR_NOTFOUND);
	assert_int_equal(t->ops->list(t, "ls/nope", collect, &nm),
	    MIG_ERR_NOTFOUND);

	assert_int_equal(t->ops->remove(t, "ls/a"), 0);
	assert_int_equal(t->ops->remove(t, "ls/a"), MIG_ERR_NOTFOUND);
	assert_int_equal(t->ops->stat(t, "ls/a", &st), MIG_ERR_NOTFOUND);
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(t->ops->list(t, "ls", collect, &nm), 0);
	assert_int_equal(nm.n, 3);
	assert_int_equal(find(&nm, "a"), -1);

	assert_int_equal(t->ops->remove(t, "ls/sub/c"), 0);
	assert_int_equal(t->ops->stat(t, "ls/sub/c", &st), MIG_ERR_NOTFOUND);
	mig_transport_close(t);
}

static void
test_transport_https__mkdir_p_nested(void **state)
{
	struct mig_ctx *ctx = *state;
	struct mig_transport *t;
	struct mig_tstat st;

	(void)state;
	if (E.url == NULL)
		skip();
	t = open_main(ctx);
	assert_int_equal(t->ops->mkdir_p(t, "mk/a/b/c/d"), 0);
	assert_int_equal(t->ops->mkdir_p(t, "mk/a/b/c/d"), 0);
	assert_int_equal(t->ops->mkdir_p(t, "mk/a/b2"), 0);
	assert_int_equal(t->ops->stat(t, "mk/a/b/c/d", &st), 0);
	assert_true(st.type == MIG_FT_DIR);
	assert_int_equal(t->ops->stat(t, "mk/a/b2", &st), 0);
	assert_true(st.type == MIG_FT_DIR);
	mig_transport_close(t);
	/* A fresh connection knows nothing: every level answers 405. */
	t = open_main(ctx);
	assert_int_equal(t->ops->mkdir_p(t, "mk/a/b/c/d/e"), 0);
	assert_int_equal(t->ops->stat(t, "mk/a/b/c/d/e", &st), 0);
	assert_true(st.type == MIG_FT_DIR);
	/* A file in the way is an error, not a silent success. */
	assert_int_equal(mig_transport_put(t, "mk/file", "x", 1), 0);
	assert_int_not_equal(t->ops->mkdir_p(t, "mk/file/sub"), 0);
	mig_transport_close(t);
}

/* The final name shows the old object until the new one is complete. */
static void
test_transport_https__tmp_never_visible(void **state)
{
	static unsigned char buf[64 * 1024];
	struct mig_ctx *ctx = *state;
	struct mig_transport *t;
	struct mig_writer *w = NULL;
	struct mig_tstat st;
	unsigned char *got = NULL;
	size_t len = 0, i;
	struct names nm;

	(void)state;
	if (E.url == NULL)
		skip();
	t = open_main(ctx);
	assert_int_equal(mig_transport_put(t, "tv/x", "old", 3), 0);
	assert_int_equal(t->ops->open_write(t, "tv/x", 32 * sizeof(buf), &w),
	    0);
	memset(buf, 'n', sizeof(buf));
	for (i = 0; i < 16; i++)
		assert_int_equal(mig_writer_write(w, buf, sizeof(buf)), 0);
	/* Half sent: the final name still holds the old object. */
	assert_int_equal(t->ops->stat(t, "tv/x", &st), 0);
	assert_int_equal(st.size, 3);
	assert_int_equal(mig_transport_get(t, "tv/x", 100, &got, &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(got, "old", 3);
	free(got);
	for (i = 0; i < 16; i++)
		assert_int_equal(mig_writer_write(w, buf, sizeof(buf)), 0);
	if (mig_writer_close(w) != 0)
		fail_msg("close: %s", mig_errmsg(ctx));
	mig_writer_free(w);
	assert_int_equal(t->ops->stat(t, "tv/x", &st), 0);
	assert_int_equal(st.size, 32 * sizeof(buf));
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(t->ops->list(t, "tv", collect, &nm), 0);
	assert_int_equal(nm.n, 1);
	assert_string_equal(nm.name[0], "x");
	mig_transport_close(t);
}

static void
test_transport_https__abandon_leaves_nothing(void **state)
{
	static unsigned char buf[64 * 1024];
	struct mig_ctx *ctx = *state;
	struct mig_transport *t;
	struct mig_writer *w = NULL;
	struct mig_tstat st;
	struct names nm;
	int i;

	(void)state;
	if (E.url == NULL)
		skip();
	t = open_main(ctx);
	assert_int_equal(t->ops->mkdir_p(t, "ab"), 0);
	memset(buf, 'a', sizeof(buf));
	/* Freed mid-upload, announced size and chunked. */
	assert_int_equal(t->ops->open_write(t, "ab/y", 8 * sizeof(buf), &w),
	    0);
	for (i = 0; i < 4; i++)
		assert_int_equal(mig_writer_write(w, buf, sizeof(buf)), 0);
	mig_writer_free(w);
	assert_int_equal(t->ops->open_write(t, "ab/z", -1, &w), 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(mig_writer_write(w, buf, sizeof(buf)), 0);
	mig_writer_free(w);
	/*
	 * Everything written but never closed: nothing is published, and
	 * no temporary either, because the writer holds the last byte back
	 * until close (a server given the whole body would complete the PUT
	 * after the abort: a stress round once saw exactly that).
	 */
	assert_int_equal(t->ops->open_write(t, "ab/v", sizeof(buf), &w), 0);
	assert_int_equal(mig_writer_write(w, buf, sizeof(buf)), 0);
	mig_writer_free(w);
	/* A short object fails its close and is not published either. */
	assert_int_equal(t->ops->open_write(t, "ab/short", 2 * sizeof(buf),
	    &w), 0);
	assert_int_equal(mig_writer_write(w, buf, sizeof(buf)), 0);
	assert_int_not_equal(mig_writer_close(w), 0);
	mig_writer_free(w);
	/* The connection is still good afterwards. */
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(t->ops->list(t, "ab", collect, &nm), 0);
	assert_int_equal(nm.n, 0);
	assert_false(has_tmp(&nm));
	assert_int_equal(t->ops->stat(t, "ab/y", &st), MIG_ERR_NOTFOUND);
	/* An empty object, closed, is published (its request waits). */
	assert_int_equal(t->ops->open_write(t, "ab/e", 0, &w), 0);
	assert_int_equal(mig_writer_close(w), 0);
	mig_writer_free(w);
	assert_int_equal(t->ops->stat(t, "ab/e", &st), 0);
	assert_int_equal(st.size, 0);
	mig_transport_close(t);
}

static void
test_transport_https__overwrite_replaces(void **state)
{
	struct mig_ctx *ctx = *state;
	struct mig_transport *t;
	unsigned char *got = NULL;
	size_t len = 0;
	struct names nm;

	(void)state;
	if (E.url == NULL)
		skip();
	t = open_main(ctx);
	assert_int_equal(mig_transport_put(t, "ow/z", "first", 5), 0);
	assert_int_equal(mig_transport_put(t, "ow/z", "second!", 7), 0);
	assert_int_equal(mig_transport_get(t, "ow/z", 100, &got, &len), 0);
	assert_int_equal(len, 7);
	assert_memory_equal(got, "second!", 7);
	free(got);
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(t->ops->list(t, "ow", collect, &nm), 0);
	assert_int_equal(nm.n, 1);
	mig_transport_close(t);
}

static void
test_transport_https__notfound_and_paths(void **state)
{
	struct mig_ctx *ctx = *state;
	struct mig_transport *t;
	struct mig_reader *rd = NULL;
	struct mig_writer *w = NULL;
	struct mig_tstat st;

	(void)state;
	if (E.url == NULL)
		skip();
	t = open_main(ctx);
	assert_int_equal(t->ops->open_read(t, "nf/none", &rd),
	    MIG_ERR_NOTFOUND);
	assert_null(rd);
	assert_int_equal(t->ops->remove(t, "nf/none"), MIG_ERR_NOTFOUND);
	/* Defence in depth: escaping paths are refused before any request. */
	assert_int_equal(t->ops->open_write(t, "../x", 1, &w),
	    MIG_ERR_SECURITY);
	assert_null(w);
	assert_int_equal(t->ops->stat(t, "/etc/passwd", &st),
	    MIG_ERR_SECURITY);
	assert_int_equal(t->ops->open_read(t, "a/./b", &rd),
	    MIG_ERR_SECURITY);
	assert_int_equal(t->ops->mkdir_p(t, "a//b"), MIG_ERR_SECURITY);
	assert_int_equal(t->ops->remove(t, "a/\n"), MIG_ERR_SECURITY);
	mig_transport_close(t);
}

/* Expects open to fail with code and a message holding want. */
static void
open_refused(const struct mig_transport_config *cfg, int code,
    const char *want, struct mig_ctx *ctx)
{
	struct mig_transport *t = NULL;
	int r;

	r = mig_transport_open(cfg, ctx, &t);
	if (r != code)
		fail_msg("open %s: want %d, got %d: %s", cfg->url, code, r,
		    mig_errmsg(ctx));
	assert_null(t);
	if (strstr(mig_errmsg(ctx), want) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", mig_errmsg(ctx), want);
	if (E.password != NULL)
		assert_null(strstr(mig_errmsg(ctx), E.password));
	if (E.token != NULL)
		assert_null(strstr(mig_errmsg(ctx), E.token));
}

static void
test_transport_https__untrusted_refused(void **state)
{
	struct mig_transport_config cfg;

	(void)state;
	if (E.url == NULL)
		skip();
	base_cfg(&cfg);
	mig_topts_set(&cfg.opts, "ca_file", NULL);	/* the system store does not know our CA */
	open_refused(&cfg, MIG_ERR_SECURITY, "certificate not trusted", *state);
	mig_topts_set(&cfg.opts, "ca_file", "/nonexistent/ca.pem");
	open_refused(&cfg, MIG_ERR_SECURITY, "ca_file", *state);
}

static void
test_transport_https__wrong_name_refused(void **state)
{
	struct mig_transport_config cfg;

	(void)state;
	if (E.wrong_url == NULL)
		skip();
	base_cfg(&cfg);
	cfg.url = E.wrong_url;
	open_refused(&cfg, MIG_ERR_SECURITY, "does not match host name", *state);
}

static void
test_transport_https__pin(void **state)
{
	struct mig_transport_config cfg;
	struct mig_ctx *ctx = *state;

	(void)state;
	if (E.pin == NULL)
		skip();
	base_cfg(&cfg);
	mig_topts_set(&cfg.opts, "pinned_pubkey", E.pin);
	mig_transport_close(open_cfg(&cfg, ctx));
	mig_topts_set(&cfg.opts, "pinned_pubkey",
	    "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
	open_refused(&cfg, MIG_ERR_SECURITY, "pinned_pubkey", *state);
}

static void
test_transport_https__credentials(void **state)
{
	struct mig_transport_config cfg;
	struct mig_ctx *ctx = *state;
	struct mig_transport *t;
	unsigned char *got = NULL;
	size_t len = 0;

	(void)state;
	if (E.user == NULL)
		skip();
	base_cfg(&cfg);
	mig_topts_set(&cfg.opts, "password_env", "wrong-password");
	open_refused(&cfg, MIG_ERR_NET, "authentication failed", *state);
	mig_topts_set(&cfg.opts, "user", NULL);
	mig_topts_set(&cfg.opts, "password_env", NULL);
	open_refused(&cfg, MIG_ERR_NET, "authentication failed", *state);
	/* A user without a password is a usage error, found before I/O. */
	mig_topts_set(&cfg.opts, "user", "someone");
	open_refused(&cfg, MIG_ERR_USAGE, "without a password", *state);

	if (E.bearer_url == NULL)
		skip();
	if (E.token == NULL)
		skip();
	base_cfg(&cfg);
	cfg.url = E.bearer_url;
	mig_topts_set(&cfg.opts, "user", NULL);
	mig_topts_set(&cfg.opts, "password_env", NULL);
	mig_topts_set(&cfg.opts, "token_env", E.token);
	t = open_cfg(&cfg, ctx);
	assert_int_equal(mig_transport_put(t, "bearer/x", "tok", 3), 0);
	assert_int_equal(mig_transport_get(t, "bearer/x", 10, &got, &len), 0);
	assert_int_equal(len, 3);
	free(got);
	mig_transport_close(t);
	mig_topts_set(&cfg.opts, "token_env", "not-the-token");
	open_refused(&cfg, MIG_ERR_NET, "authentication failed", *state);
	/* Basic credentials where a bearer token is wanted. */
	mig_topts_set(&cfg.opts, "token_env", NULL);
	mig_topts_set(&cfg.opts, "user", E.user);
	mig_topts_set(&cfg.opts, "password_env", E.password);
	open_refused(&cfg, MIG_ERR_NET, "authentication failed", *state);
}

static void
test_transport_https__plain_http(void **state)
{
	struct mig_transport_config cfg;
	struct mig_ctx *ctx = *state;
	struct mig_transport *t;
	unsigned char *got = NULL;
	size_t len = 0;
	char other[512];
	const char *port;

	(void)state;
	if (E.http_url == NULL)
		skip();
	base_cfg(&cfg);
	cfg.url = E.http_url;
	mig_topts_set(&cfg.opts, "user", NULL);
	mig_topts_set(&cfg.opts, "password_env", NULL);
	mig_topts_set(&cfg.opts, "ca_file", NULL);
	open_refused(&cfg, MIG_ERR_SECURITY, "plain http", *state);
	mig_topts_set(&cfg.opts, "allow_plain_http_loopback", "true");
	t = open_cfg(&cfg, ctx);
	assert_int_equal(mig_transport_put(t, "plain/x", "p", 1), 0);
	assert_int_equal(mig_transport_get(t, "plain/x", 10, &got, &len), 0);
	assert_int_equal(len, 1);
	free(got);
	mig_transport_close(t);
	/* Loopback by name is not enough: it could resolve elsewhere. */
	port = strrchr(E.http_url, ':');
	assert_non_null(port);
	(void)snprintf(other, sizeof(other), "http://localhost%s", port);
	cfg.url = other;
	open_refused(&cfg, MIG_ERR_SECURITY, "plain http", *state);
}

/*
 * A server answering 503 with Retry-After: 0 is retried (the script
 * counts the requests in nginx's log), then reported with its status.
 */
static void
test_transport_https__busy_server_retried(void **state)
{
	struct mig_transport_config cfg;

	(void)state;
	if (E.busy_url == NULL)
		skip();
	base_cfg(&cfg);
	cfg.url = E.busy_url;
	cfg.retries = 2;
	open_refused(&cfg, MIG_ERR_NET, "HTTP 503", *state);
}

/*
 * Uploads into the one-process server and applies sig to it after 2 MiB:
 * the upload must end with MIG_ERR_NET, not hang.
 */
static void
upload_then_signal(int sig, struct mig_ctx *ctx)
{
	static unsigned char buf[64 * 1024];
	struct mig_transport_config cfg;
	struct mig_transport *t;
	struct mig_writer *w = NULL;
	uint64_t sent = 0, total = 1024ULL * MiB;
	int r = 0;

	base_cfg(&cfg);
	cfg.url = E.kill_url;
	mig_topts_set(&cfg.opts, "user", NULL);
	mig_topts_set(&cfg.opts, "password_env", NULL);
	cfg.io_timeout_ms = 3000;
	cfg.retries = 1;
	t = open_cfg(&cfg, ctx);
	assert_int_equal(t->ops->open_write(t, "kill/big", (int64_t)total,
	    &w), 0);
	memset(buf, 'k', sizeof(buf));
	while (sent < total) {
		if (sent == 2 * MiB)
			assert_int_equal(kill(E.kill_pid, sig), 0);
		if ((r = mig_writer_write(w, buf, sizeof(buf))) != 0)
			break;
		sent += sizeof(buf);
	}
	if (r == 0)
		r = mig_writer_close(w);
	if (r != MIG_ERR_NET)
		fail_msg("want MIG_ERR_NET, got %d: %s", r, mig_errmsg(ctx));
	mig_writer_free(w);
	mig_transport_close(t);
}

static void
test_transport_https__server_frozen_mid_upload(void **state)
{
	(void)state;
	if (E.kill_url == NULL)
		skip();
	upload_then_signal(SIGSTOP, *state);
	assert_int_equal(kill(E.kill_pid, SIGCONT), 0);
}

static void
test_transport_https__server_stopped_mid_upload(void **state)
{
	(void)state;
	if (E.kill_url == NULL)
		skip();
	upload_then_signal(SIGKILL, *state);
}

/* ---------------------------------------------------------------------- */
/* Whole objects in flight (put_start, put_next) */

#define PUTS_MAX	64

/* Objects to put, and what became of each. */
struct putset {
	size_t		 n;
	char		 path[PUTS_MAX][64];
	unsigned char	*buf[PUTS_MAX];
	size_t		 len[PUTS_MAX];
	int		 tok[PUTS_MAX];		/* tokens: &tok[i] */
	bool		 no_parent[PUTS_MAX];	/* left unmade */
	bool		 seen[PUTS_MAX];
	int		 code[PUTS_MAX];
	char		 msg[PUTS_MAX][MIG_ERRMSG_MAX];
};

/* Adds object path of len bytes from seed; returns its index. */
static size_t
putset_add(struct putset *ps, const char *path, size_t len, uint64_t seed)
{
	uint64_t st = seed | 1;
	size_t i = ps->n++;

	assert_true(i < PUTS_MAX);
	(void)snprintf(ps->path[i], sizeof(ps->path[i]), "%s", path);
	ps->buf[i] = malloc(len > 0 ? len : 1);
	assert_non_null(ps->buf[i]);
	fill(&st, ps->buf[i], len);
	ps->len[i] = len;
	return i;
}

/* n objects DIR/oI of size + I bytes. */
static struct putset *
putset_new(const char *dir, size_t n, size_t size)
{
	struct putset *ps;
	char path[64];
	size_t i;

	assert_non_null(ps = calloc(1, sizeof(*ps)));
	for (i = 0; i < n; i++) {
		(void)snprintf(path, sizeof(path), "%s/o%zu", dir, i);
		(void)putset_add(ps, path, size + i, i + 7);
	}
	return ps;
}

static void
putset_free(struct putset *ps)
{
	size_t i;

	for (i = 0; i < ps->n; i++)
		free(ps->buf[i]);
	free(ps);
}

/* A completion: its token is one of ps's, seen once. */
static void
put_took(struct putset *ps, const struct mig_put_done *d)
{
	ptrdiff_t i = (int *)d->token - ps->tok;

	assert_true(i >= 0 && (size_t)i < ps->n);
	assert_false(ps->seen[i]);
	ps->seen[i] = true;
	ps->code[i] = d->code;
	(void)snprintf(ps->msg[i], sizeof(ps->msg[i]), "%s", d->msg);
	if (d->code == 0)
		assert_string_equal(d->msg, "");
}

/*
 * Puts every object of ps as the run does: as many in flight as the
 * transport takes, the parent made first (a one-shot request among the
 * puts), what is done taken in without waiting, the rest at the end.
 * before(i), when given, runs just before object i starts.
 */
static void
puts_run(struct mig_transport *t, struct putset *ps,
    void (*before)(size_t))
{
	size_t cap = mig_transport_put_capacity(t), inflight = 0, i;
	struct mig_put_done d;
	char dir[64], *slash;

	for (i = 0; i < ps->n; i++) {
		while (inflight == cap) {
			assert_int_equal(mig_transport_put_next(t, true, &d),
			    1);
			put_took(ps, &d);
			inflight--;
		}
		(void)snprintf(dir, sizeof(dir), "%s", ps->path[i]);
		if ((slash = strrchr(dir, '/')) != NULL && !ps->no_parent[i]) {
			*slash = '\0';
			if (mig_transport_mkdir_p(t, dir) != 0)
				fail_msg("mkdir %s: %s", dir,
				    mig_errmsg(t->ctx));
		}
		if (before != NULL)
			before(i);
		if (mig_transport_put_start(t, ps->path[i], ps->buf[i],
		    ps->len[i], &ps->tok[i]) != 0)
			fail_msg("put_start %s: %s", ps->path[i],
			    mig_errmsg(t->ctx));
		inflight++;
		while (mig_transport_put_next(t, false, &d) == 1) {
			put_took(ps, &d);
			inflight--;
		}
	}
	while (inflight > 0) {
		assert_int_equal(mig_transport_put_next(t, true, &d), 1);
		put_took(ps, &d);
		inflight--;
	}
	assert_int_equal(mig_transport_put_next(t, true, &d), 0);
	assert_int_equal(mig_transport_put_next(t, false, &d), 0);
}

/* Object i of ps landed whole: reported so, and its bytes are there. */
static void
put_landed(struct mig_transport *t, struct putset *ps, size_t i)
{
	unsigned char *got = NULL;
	size_t len = 0;

	assert_true(ps->seen[i]);
	if (ps->code[i] != 0)
		fail_msg("put %s: %d: %s", ps->path[i], ps->code[i],
		    ps->msg[i]);
	if (mig_transport_get(t, ps->path[i], 1024 * 1024, &got, &len) != 0)
		fail_msg("get %s: %s", ps->path[i], mig_errmsg(t->ctx));
	assert_int_equal(len, ps->len[i]);
	if (len > 0)
		assert_memory_equal(got, ps->buf[i], len);
	free(got);
}

/* Puts every object of ps, all landed; closes t and frees ps. */
static void
puts_all_landed(struct mig_transport *t, struct putset *ps)
{
	size_t i;

	puts_run(t, ps, NULL);
	for (i = 0; i < ps->n; i++)
		put_landed(t, ps, i);
	mig_transport_close(t);
	putset_free(ps);
}

/* Object i failed with code, its message holding want and the path. */
static void
put_failed(struct putset *ps, size_t i, int code, const char *want)
{
	assert_true(ps->seen[i]);
	if (ps->code[i] != code || strstr(ps->msg[i], want) == NULL ||
	    strstr(ps->msg[i], ps->path[i]) == NULL)
		fail_msg("put %s: want %d and \"%s\", got %d: %s",
		    ps->path[i], code, want, ps->code[i], ps->msg[i]);
	if (E.password != NULL)
		assert_null(strstr(ps->msg[i], E.password));
}

static struct mig_transport *
open_puts(const char *url, const char *inflight, struct mig_ctx *ctx)
{
	struct mig_transport_config cfg;

	base_cfg(&cfg);
	cfg.url = url;
	mig_topts_set(&cfg.opts, "objects_in_flight", inflight);
	return open_cfg(&cfg, ctx);
}

/*
 * 40 objects, 16 in flight, each landed whole where it belongs (the
 * script checks in nginx's log that they went over one connection).
 */
static void
test_transport_https__puts_in_flight(void **state)
{
	struct mig_ctx *ctx = *state;
	struct mig_transport *t;
	struct mig_put_done d;
	struct putset *ps;
	char path[64];
	size_t i, len;

	if (E.url == NULL)
		skip();
	assert_non_null(ps = calloc(1, sizeof(*ps)));
	t = open_puts(E.url, "16", ctx);
	assert_int_equal(mig_transport_put_capacity(t), 16);
	/* Nothing in flight: nothing to collect, waiting or not. */
	assert_int_equal(mig_transport_put_next(t, true, &d), 0);
	for (i = 0; i < 40; i++) {
		/* Empty, one byte, then sizes up to 300 KiB. */
		len = i < 2 ? i : i * 7919 % (300 * 1024) + i;
		(void)snprintf(path, sizeof(path), "pp/d%zu/o%zu", i % 5, i);
		(void)putset_add(ps, path, len, i + 11);
	}
	puts_all_landed(t, ps);
}

/* More puts than the capacity is the caller's bug: refused, none lost. */
static void
test_transport_https__puts_beyond_capacity(void **state)
{
	struct mig_ctx *ctx = *state;
	struct mig_transport *t;
	struct mig_put_done d;
	struct putset *ps;
	size_t i;

	if (E.url == NULL)
		skip();
	ps = putset_new("pc", 4, 100);
	t = open_puts(E.url, "3", ctx);
	assert_int_equal(t->ops->mkdir_p(t, "pc"), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(mig_transport_put_start(t, ps->path[i],
		    ps->buf[i], ps->len[i], &ps->tok[i]), 0);
	assert_int_equal(mig_transport_put_start(t, ps->path[3], ps->buf[3],
	    ps->len[3], &ps->tok[3]), MIG_ERR_INTERNAL);
	for (i = 0; i < 3; i++) {
		assert_int_equal(mig_transport_put_next(t, true, &d), 1);
		put_took(ps, &d);
	}
	assert_int_equal(mig_transport_put_next(t, true, &d), 0);
	for (i = 0; i < 3; i++)
		put_landed(t, ps, i);
	/* Refused before any request: the fourth is not there. */
	assert_int_equal(mig_transport_put(t, "pc/probe", "p", 1), 0);
	assert_int_equal(t->ops->remove(t, "pc/o3"), MIG_ERR_NOTFOUND);
	mig_transport_close(t);
	putset_free(ps);
}

/*
 * Failing puts among good ones: each failure is that object's, with its
 * path and status; the others land.  The 500 is asked again (the script
 * counts), and its echo of the credentials never reaches a message.
 */
static void
test_transport_https__put_failures_are_their_own(void **state)
{
	static const struct {
		const char	*path;
		int		 code;
		const char	*want;
	} bad[] = {
		{ "pf/put403/x", MIG_ERR_NET, "HTTP 403" },
		{ "pf/put302/x", MIG_ERR_SECURITY, "redirect refused" },
		{ "pf/put500/x", MIG_ERR_NET, "HTTP 500" },
		{ "pf/put600/x", MIG_ERR_NET, "HTTP 600" },
		{ "pf/nodir/none/x", MIG_ERR_NET, "HTTP 500" },
	};
	struct mig_ctx *ctx = *state;
	struct mig_transport *t;
	struct putset *ps;
	size_t i, j, at[5];
	char path[64];

	if (E.url == NULL)
		skip();
	assert_non_null(ps = calloc(1, sizeof(*ps)));
	t = open_puts(E.url, "8", ctx);
	for (i = 0, j = 0; i < 20; i++) {
		if (i % 4 == 1 && j < 5) {
			at[j] = putset_add(ps, bad[j].path, 1000 + j, j);
			/* Its folder is missing: no MKCOL made it. */
			ps->no_parent[at[j]] = j == 4;
			j++;
		}
		(void)snprintf(path, sizeof(path), "pf/ok%zu", i);
		(void)putset_add(ps, path, 5000 + i, 100 + i);
	}
	assert_int_equal(j, 5);
	puts_run(t, ps, NULL);
	for (j = 0; j < 5; j++)
		put_failed(ps, at[j], bad[j].code, bad[j].want);
	for (i = 0; i < ps->n; i++) {
		for (j = 0; j < 5 && at[j] != i; j++)
			continue;
		if (j == 5)
			put_landed(t, ps, i);
	}
	/* The connection is still good for everything else. */
	assert_int_equal(mig_transport_put(t, "pf/after", "a", 1), 0);
	mig_transport_close(t);
	putset_free(ps);
}

/* n objects DIR/oI of size + I bytes over a transport of cfg land. */
static void
puts_all_land(const struct mig_transport_config *cfg, const char *dir,
    size_t n, size_t size, struct mig_ctx *ctx)
{
	puts_all_landed(open_cfg(cfg, ctx), putset_new(dir, n, size));
}

/*
 * No HTTP/2 (plain http; TLS offering HTTP/1.1 alone): the puts in
 * flight each take a connection of their own, and land all the same.
 */
static void
test_transport_https__puts_http1(void **state)
{
	struct mig_transport_config cfg;

	if (E.http_url == NULL || E.kill_url == NULL)
		skip();
	base_cfg(&cfg);
	cfg.url = E.http_url;
	mig_topts_set(&cfg.opts, "user", NULL);
	mig_topts_set(&cfg.opts, "password_env", NULL);
	mig_topts_set(&cfg.opts, "ca_file", NULL);
	mig_topts_set(&cfg.opts, "allow_plain_http_loopback", "true");
	mig_topts_set(&cfg.opts, "objects_in_flight", "8");
	puts_all_land(&cfg, "ph", 24, 3000, *state);
	base_cfg(&cfg);
	cfg.url = E.kill_url;
	mig_topts_set(&cfg.opts, "user", NULL);
	mig_topts_set(&cfg.opts, "password_env", NULL);
	mig_topts_set(&cfg.opts, "objects_in_flight", "8");
	puts_all_land(&cfg, "ph", 24, 3000, *state);
}

/*
 * The connection is reset with puts in flight: they are tried again on
 * a new one, and every object lands whole.
 */
static void
test_transport_https__puts_connection_reset(void **state)
{
	struct mig_transport_config cfg;

	if (E.cut_url == NULL)
		skip();
	base_cfg(&cfg);
	cfg.url = E.cut_url;
	mig_topts_set(&cfg.opts, "objects_in_flight", "16");
	puts_all_land(&cfg, "cut", 40, 16 * 1024, *state);
}

/* Kills the proxy before object 6 starts: the server is gone. */
static void
kill_gone_proxy(size_t i)
{
	if (i == 6)
		assert_int_equal(kill(E.gone_pid, SIGKILL), 0);
}

/*
 * The server goes away with puts in flight: each one not done by then
 * fails with MIG_ERR_NET once its retries are spent, and put_next still
 * hands every one back.
 */
static void
test_transport_https__puts_server_gone(void **state)
{
	struct mig_ctx *ctx = *state;
	struct mig_transport *t;
	struct putset *ps;
	size_t i;

	if (E.gone_url == NULL)
		skip();
	ps = putset_new("gone", 12, 8000);
	t = open_puts(E.gone_url, "16", ctx);
	assert_int_equal(t->ops->mkdir_p(t, "gone"), 0);
	puts_run(t, ps, kill_gone_proxy);
	for (i = 0; i < ps->n; i++) {
		assert_true(ps->seen[i]);
		if (i < 6 && ps->code[i] == 0)
			continue;	/* done before the proxy went */
		put_failed(ps, i, MIG_ERR_NET, "gone/o");
	}
	mig_transport_close(t);
	putset_free(ps);
}

/* objects_in_flight is 1 to 64, said before any connection is made. */
static void
test_transport_https__objects_in_flight_bounds(void **state)
{
	static const char *const badv[] = { "0", "65", "-1", "x", "8x", "" };
	const struct mig_transport_ops *ops = mig_transport_backend("https");
	struct mig_transport_config cfg;
	struct mig_transport *t = NULL;
	struct mig_topts o;
	struct mig_url url;
	const char *key = NULL;
	char msg[256];
	size_t i;

	assert_non_null(ops);
	memset(&url, 0, sizeof(url));
	url.scheme = "https";
	url.host = "127.0.0.1";
	for (i = 0; i < sizeof(badv) / sizeof(badv[0]); i++) {
		memset(&o, 0, sizeof(o));
		mig_topts_set(&o, "objects_in_flight", badv[i]);
		assert_int_equal(ops->check(&o, &url, &key, msg, sizeof(msg)),
		    MIG_ERR_PARSE);
		assert_string_equal(key, "objects_in_flight");
		assert_non_null(strstr(msg, "1 to 64"));
	}
	memset(&o, 0, sizeof(o));
	mig_topts_set(&o, "objects_in_flight", "64");
	assert_int_equal(ops->check(&o, &url, &key, msg, sizeof(msg)), 0);
	mig_topts_set(&o, "objects_in_flight", "1");
	assert_int_equal(ops->check(&o, &url, &key, msg, sizeof(msg)), 0);
	/* Unchecked, open refuses it too, before connecting anywhere. */
	memset(&cfg, 0, sizeof(cfg));
	cfg.url = "https://127.0.0.1:1/x";
	mig_topts_set(&cfg.opts, "objects_in_flight", "0");
	assert_int_equal(mig_transport_open(&cfg, *state, &t), MIG_ERR_PARSE);
	assert_null(t);
	assert_non_null(strstr(mig_errmsg(*state), "objects_in_flight"));
}

static int
setup(void **state)
{
	const char *pid;

	(void)state;
	E.url = getenv("MIG_TEST_HTTPS_URL");
	E.ca = getenv("MIG_TEST_HTTPS_CA");
	E.user = getenv("MIG_TEST_HTTPS_USER");
	E.password = getenv("MIG_TEST_HTTPS_PASSWORD");
	E.bearer_url = getenv("MIG_TEST_HTTPS_BEARER_URL");
	E.token = getenv("MIG_TEST_HTTPS_TOKEN");
	E.pin = getenv("MIG_TEST_HTTPS_PIN");
	E.wrong_url = getenv("MIG_TEST_HTTPS_WRONG_URL");
	E.http_url = getenv("MIG_TEST_HTTP_URL");
	E.busy_url = getenv("MIG_TEST_HTTPS_BUSY_URL");
	E.kill_url = getenv("MIG_TEST_HTTPS_KILL_URL");
	pid = getenv("MIG_TEST_HTTPS_KILL_PID");
	E.kill_pid = pid != NULL ? (pid_t)atol(pid) : 0;
	if (E.kill_pid <= 1)
		E.kill_url = NULL;
	E.cut_url = getenv("MIG_TEST_HTTPS_CUT_URL");
	E.gone_url = getenv("MIG_TEST_HTTPS_GONE_URL");
	pid = getenv("MIG_TEST_HTTPS_GONE_PID");
	E.gone_pid = pid != NULL ? (pid_t)atol(pid) : 0;
	if (E.gone_pid <= 1)
		E.gone_url = NULL;
	if (E.url != NULL && E.ca == NULL)
		E.url = E.cut_url = E.gone_url = NULL;
	return 0;
}

#define T(name)	cmocka_unit_test_setup_teardown(test_transport_https__##name, \
	    ctx_setup, ctx_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(roundtrip),
		T(put_get_helpers),
		T(list_stat_remove),
		T(mkdir_p_nested),
		T(tmp_never_visible),
		T(abandon_leaves_nothing),
		T(overwrite_replaces),
		T(notfound_and_paths),
		T(untrusted_refused),
		T(wrong_name_refused),
		T(pin),
		T(credentials),
		T(plain_http),
		T(busy_server_retried),
		T(puts_in_flight),
		T(puts_beyond_capacity),
		T(put_failures_are_their_own),
		T(puts_http1),
		T(puts_connection_reset),
		T(puts_server_gone),
		T(objects_in_flight_bounds),
		/* These two freeze, then kill, their own server: last. */
		T(server_frozen_mid_upload),
		T(server_stopped_mid_upload),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
