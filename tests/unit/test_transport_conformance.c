/*
 * The transport contract (include/migrate/transport.h), one suite for
 * every backend: whatever the scheme, the same calls must give the same
 * answers, or the run and the verifier above them behave differently per
 * destination.  Run on its own it checks file:// in a scratch directory;
 * the server scripts run it again against their servers with
 *
 *   MIG_TEST_CONF_URL    the destination URL (a fresh, empty prefix)
 *   MIG_TEST_CONF_OPTS   the backend's plan keys, "key=value" per line
 *                        (secrets as the values themselves, as the
 *                        caller resolves them for a run)
 *   MIG_TEST_CONF_NAME_MAX  the longest name the server can hold, when
 *                        it is less than NAME_MAX (255) for reasons of
 *                        its own
 *   MIG_TEST_CONF_LOCAL  the URL's directory as this machine sees it
 *                        (a loopback sshd), so that a test can plant a
 *                        link there as a lake writer would
 *
 * sftp_transport.sh, https_transport.sh and s3.sh do.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "migrate/error.h"
#include "migrate/stream.h"
#include "migrate/transport.h"

#include "testutil.h"

struct conf {
	struct mig_transport_config cfg;
	char		 url[4200];
	char		*opts;		/* MIG_TEST_CONF_OPTS, cut into keys */
	char		 scratch[256];	/* file:// only */
	struct mig_ctx	*ctx;
	struct mig_transport *t;
};

static int
conf_setup(void **state)
{
	struct conf *c = calloc(1, sizeof(*c));
	const char *url = getenv("MIG_TEST_CONF_URL"), *o;
	char *line, *eq, *save = NULL;

	if (c == NULL || (c->ctx = mig_ctx_new()) == NULL)
		return -1;
	if (url == NULL || *url == '\0') {
		if (tu_mkdtemp(c->scratch, sizeof(c->scratch), "conform") != 0)
			return -1;
		(void)snprintf(c->url, sizeof(c->url), "file://%s",
		    c->scratch);
	} else
		(void)snprintf(c->url, sizeof(c->url), "%s", url);
	c->cfg.url = c->url;
	c->cfg.connect_timeout_ms = 5000;
	c->cfg.io_timeout_ms = 20000;
	c->cfg.retries = 1;
	o = getenv("MIG_TEST_CONF_OPTS");
	if (o != NULL && (c->opts = strdup(o)) == NULL)
		return -1;
	for (line = c->opts == NULL ? NULL : strtok_r(c->opts, "\n", &save);
	    line != NULL; line = strtok_r(NULL, "\n", &save)) {
		if ((eq = strchr(line, '=')) == NULL)
			return -1;
		*eq = '\0';
		if (mig_topts_set(&c->cfg.opts, line, eq + 1) != 0)
			return -1;
	}
	if (mig_transport_open(&c->cfg, c->ctx, &c->t) != 0) {
		print_error("open %s: %s\n", c->url, mig_errmsg(c->ctx));
		return -1;
	}
	*state = c;
	return 0;
}

static int
conf_teardown(void **state)
{
	struct conf *c = *state;

	mig_transport_close(c->t);
	if (c->scratch[0] != '\0')
		(void)tu_rm_tree(c->scratch);
	mig_ctx_free(c->ctx);
	free(c->opts);
	free(c);
	return 0;
}

static void
ok(struct conf *c, int r, const char *what, const char *path)
{
	if (r != 0)
		fail_msg("%s %s on %s: %s (%s)", what, path, c->url,
		    mig_strerror(r), mig_errmsg(c->ctx));
}

static void
want(struct conf *c, int r, int code, const char *what, const char *path)
{
	if (r != code)
		fail_msg("%s %s on %s: got %s (%s), want %s", what, path,
		    c->url, mig_strerror(r), r == 0 ? "" : mig_errmsg(c->ctx),
		    mig_strerror(code));
}

static void
put(struct conf *c, const char *path, const void *buf, size_t len)
{
	ok(c, mig_transport_put(c->t, path, buf, len), "put", path);
}

static void
expect_content(struct conf *c, const char *path, const void *buf,
    size_t len)
{
	unsigned char *got = NULL;
	struct mig_tstat st;
	size_t n = 0;

	ok(c, mig_transport_get(c->t, path, 1 << 20, &got, &n), "get", path);
	if (n != len || (len > 0 && memcmp(got, buf, len) != 0))
		fail_msg("%s on %s: %zu bytes back, %zu put, or other bytes",
		    path, c->url, n, len);
	free(got);
	ok(c, mig_transport_stat(c->t, path, &st), "stat", path);
	assert_int_equal(st.size, len);
	assert_int_equal(st.type, MIG_FT_FILE);
}

/* Names, and what each entry of a listing says, collected by list_cb. */
struct listing {
	size_t		 n;
	char		 name[64][256];
	struct mig_tstat st[64];
};

static int
list_cb(void *arg, const char *name, const struct mig_tstat *st)
{
	struct listing *l = arg;

	if (l->n == 64)
		return -1;
	(void)snprintf(l->name[l->n], sizeof(l->name[0]), "%s", name);
	l->st[l->n++] = *st;
	return 0;
}

static const struct mig_tstat *
listed(const struct listing *l, const char *name)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->name[i], name) == 0)
			return &l->st[i];
	return NULL;
}

static void
list_dir(struct conf *c, const char *dir, struct listing *l)
{
	memset(l, 0, sizeof(*l));
	ok(c, mig_transport_list(c->t, dir, list_cb, l), "list", dir);
}

/* No temporary, under any name, left in dir. */
static void
no_temporaries(struct conf *c, const char *dir)
{
	struct listing l;
	size_t i;

	list_dir(c, dir, &l);
	for (i = 0; i < l.n; i++)
		if (strstr(l.name[i], MIG_TMP_INFIX) != NULL)
			fail_msg("%s on %s: temporary %s left", dir, c->url,
			    l.name[i]);
}

/*
 * Names that mean something to a URL, a shell or a listing: each must
 * come back as written, byte for byte, and be listed under that name.
 */
static void
test_conform__names_round_trip(void **state)
{
	static const char *const names[] = {
		"plain.csv", "with space.txt", "ünïcødé ✓.txt", ".env",
		"date=2024-01-01", "100%", "%41%2F", "a+b", "q?x=1", "h#frag",
		"semi;colon", "amp&er", "quote'\"", "back\\slash", "tilde~",
		"brackets[1]", "star*", "comma,", "at@", "colon:x", "dollar$",
		"..dots", "trailing.", "-dash",
	};
	struct conf *c = *state;
	struct listing l;
	const struct mig_tstat *st;
	char path[512];
	size_t i, hidden = 0;

	ok(c, mig_transport_mkdir_p(c->t, "names"), "mkdir_p", "names");
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		(void)snprintf(path, sizeof(path), "names/%s", names[i]);
		put(c, path, names[i], strlen(names[i]));
		expect_content(c, path, names[i], strlen(names[i]));
	}
	list_dir(c, "names", &l);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		st = listed(&l, names[i]);
		/*
		 * The one leave the contract allows: a WebDAV server may hide
		 * dot-files from its listings (nginx's dav_ext does), so
		 * callers stat a name a listing leaves out.  expect_content()
		 * above found it by name.
		 */
		if (st == NULL && names[i][0] == '.') {
			hidden++;
			continue;
		}
		if (st == NULL)
			fail_msg("names/%s on %s: not listed", names[i],
			    c->url);
		assert_int_equal(st->size, strlen(names[i]));
		assert_int_equal(st->type, MIG_FT_FILE);
	}
	assert_int_equal(l.n + hidden, sizeof(names) / sizeof(names[0]));
}

/*
 * A name as long as a file system allows (NAME_MAX, 255 bytes), in ASCII
 * and in two-byte UTF-8: the temporary an upload goes through must fit
 * too, so its name is the final name shortened, never longer.
 */
static void
test_conform__longest_names(void **state)
{
	struct conf *c = *state;
	struct listing l;
	char ascii[256], utf8[256], path[600];
	const char *names[2] = { ascii, utf8 };
	const char *e = getenv("MIG_TEST_CONF_NAME_MAX");
	size_t i, max = e != NULL ? strtoul(e, NULL, 10) : 255;

	assert_in_range(max, 16, 255);
	memset(ascii, 'n', max);
	ascii[max] = '\0';
	for (i = 0; i + 2 <= max; i += 2)
		memcpy(utf8 + i, "\xc3\xbc", 2);	/* u with diaeresis */
	utf8[i] = '\0';
	ok(c, mig_transport_mkdir_p(c->t, "long"), "mkdir_p", "long");
	for (i = 0; i < 2; i++) {
		(void)snprintf(path, sizeof(path), "long/%s", names[i]);
		put(c, path, names[i], 7);
		expect_content(c, path, names[i], 7);
	}
	list_dir(c, "long", &l);
	assert_int_equal(l.n, 2);
	for (i = 0; i < 2; i++)
		if (listed(&l, names[i]) == NULL)
			fail_msg("long/%.20s... (%zu bytes) on %s: not listed",
			    names[i], strlen(names[i]), c->url);
	no_temporaries(c, "long");
}

static void
test_conform__sizes_and_overwrite(void **state)
{
	static const size_t sizes[] = { 0, 1, 4099, 65536, 300001 };
	struct conf *c = *state;
	unsigned char *buf;
	size_t i, j;

	buf = malloc(300001);
	assert_non_null(buf);
	for (j = 0; j < 300001; j++)
		buf[j] = (unsigned char)(j * 131 + 7);
	ok(c, mig_transport_mkdir_p(c->t, "sz"), "mkdir_p", "sz");
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		put(c, "sz/obj", buf, sizes[i]);
		expect_content(c, "sz/obj", buf, sizes[i]);
	}
	/* Overwritten by a shorter object: no tail of the old one. */
	put(c, "sz/obj", "short", 5);
	expect_content(c, "sz/obj", "short", 5);
	no_temporaries(c, "sz");
	free(buf);
}

static void
test_conform__missing(void **state)
{
	struct conf *c = *state;
	struct mig_reader *rd = NULL;
	struct mig_tstat st;

	want(c, mig_transport_stat(c->t, "nothing-here", &st),
	    MIG_ERR_NOTFOUND, "stat", "nothing-here");
	want(c, mig_transport_stat(c->t, "no/such/dir/x", &st),
	    MIG_ERR_NOTFOUND, "stat", "no/such/dir/x");
	want(c, mig_transport_remove(c->t, "nothing-here"), MIG_ERR_NOTFOUND,
	    "remove", "nothing-here");
	want(c, mig_transport_open_read(c->t, "nothing-here", &rd),
	    MIG_ERR_NOTFOUND, "open_read", "nothing-here");
	assert_null(rd);
}

static void
test_conform__remove(void **state)
{
	struct conf *c = *state;
	struct mig_tstat st;
	struct listing l;

	ok(c, mig_transport_mkdir_p(c->t, "rm"), "mkdir_p", "rm");
	put(c, "rm/a", "a", 1);
	put(c, "rm/b", "b", 1);
	ok(c, mig_transport_remove(c->t, "rm/a"), "remove", "rm/a");
	want(c, mig_transport_stat(c->t, "rm/a", &st), MIG_ERR_NOTFOUND,
	    "stat", "rm/a");
	want(c, mig_transport_remove(c->t, "rm/a"), MIG_ERR_NOTFOUND,
	    "remove again", "rm/a");
	list_dir(c, "rm", &l);
	assert_int_equal(l.n, 1);
	assert_non_null(listed(&l, "b"));
}

/* Folders: made with their parents, made twice, listed as folders. */
static void
test_conform__folders(void **state)
{
	struct conf *c = *state;
	const struct mig_tstat *st;
	struct listing l;

	ok(c, mig_transport_mkdir_p(c->t, "d1/d2/d3"), "mkdir_p", "d1/d2/d3");
	ok(c, mig_transport_mkdir_p(c->t, "d1/d2/d3"), "mkdir_p again",
	    "d1/d2/d3");
	ok(c, mig_transport_mkdir_p(c->t, "d1"), "mkdir_p parent", "d1");
	put(c, "d1/d2/d3/leaf", "leaf", 4);
	put(c, "d1/file", "f", 1);
	list_dir(c, "d1", &l);
	assert_int_equal(l.n, 2);
	st = listed(&l, "d2");
	if (st == NULL || st->type != MIG_FT_DIR)
		fail_msg("d1 on %s: d2 not listed as a folder", c->url);
	st = listed(&l, "file");
	if (st == NULL || st->type != MIG_FT_FILE || st->size != 1)
		fail_msg("d1 on %s: file not listed as a 1-byte file",
		    c->url);
	list_dir(c, "d1/d2/d3", &l);
	assert_int_equal(l.n, 1);
	assert_non_null(listed(&l, "leaf"));
}

/*
 * An object is never seen under its name before close; abandoned, it is
 * never seen at all and leaves no temporary.
 */
static void
test_conform__unpublished_until_close(void **state)
{
	struct conf *c = *state;
	struct mig_writer *w = NULL;
	struct mig_tstat st;
	char block[8192];

	memset(block, 'x', sizeof(block));
	ok(c, mig_transport_mkdir_p(c->t, "pub"), "mkdir_p", "pub");
	ok(c, mig_transport_open_write(c->t, "pub/obj", 3 * sizeof(block),
	    &w), "open_write", "pub/obj");
	ok(c, mig_writer_write(w, block, sizeof(block)), "write", "pub/obj");
	ok(c, mig_writer_write(w, block, sizeof(block)), "write", "pub/obj");
	want(c, mig_transport_stat(c->t, "pub/obj", &st), MIG_ERR_NOTFOUND,
	    "stat while writing", "pub/obj");
	ok(c, mig_writer_write(w, block, sizeof(block)), "write", "pub/obj");
	ok(c, mig_writer_close(w), "close", "pub/obj");
	mig_writer_free(w);
	ok(c, mig_transport_stat(c->t, "pub/obj", &st), "stat", "pub/obj");
	assert_int_equal(st.size, 3 * sizeof(block));

	/* Every byte announced was written, and still it is abandoned. */
	w = NULL;
	ok(c, mig_transport_open_write(c->t, "pub/gone", sizeof(block), &w),
	    "open_write", "pub/gone");
	ok(c, mig_writer_write(w, block, sizeof(block)), "write", "pub/gone");
	mig_writer_free(w);
	want(c, mig_transport_stat(c->t, "pub/gone", &st), MIG_ERR_NOTFOUND,
	    "stat abandoned", "pub/gone");
	no_temporaries(c, "pub");
}

/*
 * An object of an unpublished run (it may be written in place): whole
 * after close, an earlier one replaced with no tail left, nothing left
 * when abandoned, and never written through a link planted at its name.
 */
static void
test_conform__unpublished_in_place(void **state)
{
	struct conf *c = *state;
	struct mig_writer *w = NULL;
	struct mig_tstat st;
	char block[16384], local[4400], victim[4400];
	const char *root = c->scratch[0] != '\0' ? c->scratch :
	    getenv("MIG_TEST_CONF_LOCAL");
	struct stat vs;
	FILE *fp;

	memset(block, 'y', sizeof(block));
	ok(c, mig_transport_mkdir_p(c->t, "run"), "mkdir_p", "run");
	ok(c, mig_transport_open_write_unpublished(c->t, "run/obj",
	    sizeof(block), &w), "open_write_unpublished", "run/obj");
	ok(c, mig_writer_write(w, block, 8192), "write", "run/obj");
	ok(c, mig_writer_write(w, block + 8192, 8192), "write", "run/obj");
	ok(c, mig_writer_close(w), "close", "run/obj");
	mig_writer_free(w);
	expect_content(c, "run/obj", block, sizeof(block));
	/* An object of an earlier attempt is replaced whole. */
	w = NULL;
	ok(c, mig_transport_open_write_unpublished(c->t, "run/obj", 5, &w),
	    "open_write_unpublished again", "run/obj");
	ok(c, mig_writer_write(w, "again", 5), "write", "run/obj");
	ok(c, mig_writer_close(w), "close", "run/obj");
	mig_writer_free(w);
	expect_content(c, "run/obj", "again", 5);
	/*
	 * Abandoned: nothing of it is left.  Written in place, the earlier
	 * object went too; through a temporary, it stands as it was.
	 */
	w = NULL;
	ok(c, mig_transport_open_write_unpublished(c->t, "run/obj",
	    sizeof(block), &w), "open_write_unpublished", "run/obj");
	ok(c, mig_writer_write(w, block, 100), "write", "run/obj");
	mig_writer_free(w);
	if (mig_transport_stat(c->t, "run/obj", &st) == 0)
		expect_content(c, "run/obj", "again", 5);
	else
		assert_int_equal(mig_errcode(c->ctx), MIG_ERR_NOTFOUND);
	mig_clearerr(c->ctx);
	w = NULL;
	ok(c, mig_transport_open_write_unpublished(c->t, "run/new",
	    sizeof(block), &w), "open_write_unpublished", "run/new");
	ok(c, mig_writer_write(w, block, 100), "write", "run/new");
	mig_writer_free(w);
	want(c, mig_transport_stat(c->t, "run/new", &st), MIG_ERR_NOTFOUND,
	    "stat abandoned", "run/new");
	no_temporaries(c, "run");
	if (root == NULL || root[0] == '\0')
		return;
	/* A lake writer's link at the object's name: never written through. */
	(void)snprintf(victim, sizeof(victim), "%s/victim", root);
	(void)snprintf(local, sizeof(local), "%s/run/link", root);
	assert_non_null(fp = fopen(victim, "w"));
	(void)fputs("untouched\n", fp);
	(void)fclose(fp);
	assert_int_equal(symlink(victim, local), 0);
	w = NULL;
	ok(c, mig_transport_open_write_unpublished(c->t, "run/link", 5, &w),
	    "open_write_unpublished over a link", "run/link");
	ok(c, mig_writer_write(w, "lands", 5), "write", "run/link");
	ok(c, mig_writer_close(w), "close", "run/link");
	mig_writer_free(w);
	assert_int_equal(stat(victim, &vs), 0);
	assert_int_equal(vs.st_size, 10);
	assert_int_equal(lstat(local, &vs), 0);
	assert_true(S_ISREG(vs.st_mode));
	expect_content(c, "run/link", "lands", 5);
	(void)unlink(victim);
}

/*
 * put_start/put_next: more objects than the transport's capacity, of
 * sizes from nothing to its largest, each collected exactly once and
 * whole; an earlier attempt's object is replaced; a put that cannot land
 * (a folder stands at its name) fails alone, the others in flight land.
 */
#define PUTS	25

static void
collect(struct conf *c, bool wait, int *seen, size_t *inflight,
    int *tokens, void **failed)
{
	struct mig_put_done d;
	int *tok;

	while (*inflight > 0 && mig_transport_put_next(c->t, wait, &d) == 1) {
		tok = d.token;
		assert_true(tok >= tokens && tok < tokens + PUTS + 1);
		seen[tok - tokens]++;
		(*inflight)--;
		if (d.code != 0 && failed != NULL && *failed == d.token) {
			*failed = NULL;	/* the one that was to fail */
			assert_true(d.msg[0] != '\0');
			continue;
		}
		if (d.code != 0)
			fail_msg("put %d on %s: %s (%s)", *tok, c->url,
			    mig_strerror(d.code), d.msg);
	}
}

static void
test_conform__puts_in_flight(void **state)
{
	struct conf *c = *state;
	static unsigned char bufs[PUTS][4096 + 3 * PUTS];
	static unsigned char big[262144];
	int tokens[PUTS + 1], seen[PUTS + 1];
	size_t cap = mig_transport_put_capacity(c->t), inflight = 0, len, i;
	struct mig_put_done d;
	void *failed = NULL;
	char path[64];

	assert_true(cap >= 1);
	memset(seen, 0, sizeof(seen));
	memset(big, 'B', sizeof(big));
	ok(c, mig_transport_mkdir_p(c->t, "run/in"), "mkdir_p", "run/in");
	ok(c, mig_transport_mkdir_p(c->t, "run/in/folder"), "mkdir_p",
	    "run/in/folder");
	put(c, "run/in/p3", "an earlier attempt", 18);
	assert_int_equal(mig_transport_put_next(c->t, true, &d), 0);
	for (i = 0; i <= PUTS; i++) {
		tokens[i] = (int)i;
		if (inflight == cap)
			collect(c, true, seen, &inflight, tokens, &failed);
		if (i == PUTS) {
			/* A folder stands there: this one alone fails. */
			if (strcmp(c->t->ops->scheme, "s3") == 0)
				break;	/* folders are names there */
			failed = &tokens[i];
			ok(c, mig_transport_put_start(c->t, "run/in/folder",
			    "x", 1, &tokens[i]), "put_start", "run/in/folder");
			inflight++;
			continue;
		}
		len = i == 0 ? 0 : i == 1 ? sizeof(big) : 4096 + 3 * i;
		memset(bufs[i], 'a' + (int)(i % 26), sizeof(bufs[i]));
		(void)snprintf(path, sizeof(path), "run/in/p%zu", i);
		ok(c, mig_transport_put_start(c->t, path, i == 1 ? big :
		    bufs[i], len, &tokens[i]), "put_start", path);
		inflight++;
		collect(c, false, seen, &inflight, tokens, &failed);
	}
	collect(c, true, seen, &inflight, tokens, &failed);
	assert_int_equal(inflight, 0);
	assert_null(failed);
	assert_int_equal(mig_transport_put_next(c->t, true, &d), 0);
	for (i = 0; i < PUTS; i++) {
		assert_int_equal(seen[i], 1);
		(void)snprintf(path, sizeof(path), "run/in/p%zu", i);
		len = i == 0 ? 0 : i == 1 ? sizeof(big) : 4096 + 3 * i;
		expect_content(c, path, i == 1 ? big : bufs[i], len);
	}
	no_temporaries(c, "run/in");
}

/* Fewer or more bytes than announced: an error, and nothing published. */
static void
test_conform__announced_size_kept(void **state)
{
	struct conf *c = *state;
	struct mig_writer *w = NULL;
	struct mig_tstat st;
	int r;

	ok(c, mig_transport_mkdir_p(c->t, "size"), "mkdir_p", "size");
	ok(c, mig_transport_open_write(c->t, "size/short", 10, &w),
	    "open_write", "size/short");
	ok(c, mig_writer_write(w, "12345", 5), "write", "size/short");
	if (mig_writer_close(w) == 0)
		fail_msg("size/short on %s: 5 of 10 announced bytes "
		    "published", c->url);
	mig_writer_free(w);
	want(c, mig_transport_stat(c->t, "size/short", &st), MIG_ERR_NOTFOUND,
	    "stat", "size/short");

	w = NULL;
	ok(c, mig_transport_open_write(c->t, "size/long", 3, &w),
	    "open_write", "size/long");
	r = mig_writer_write(w, "12345", 5);
	if (r == 0)
		r = mig_writer_close(w);
	if (r == 0)
		fail_msg("size/long on %s: 5 bytes published where 3 were "
		    "announced", c->url);
	mig_writer_free(w);
	want(c, mig_transport_stat(c->t, "size/long", &st), MIG_ERR_NOTFOUND,
	    "stat", "size/long");
	no_temporaries(c, "size");
}

/* Every operation refuses a path that escapes the root, the same way. */
static void
test_conform__escaping_paths_refused(void **state)
{
	static const char *const bad[] = {
		"../x", "/etc/passwd", "a/../../x", "a//b", "./a", "a/.",
		"", "a\nb", "a\rb", "..",
	};
	struct conf *c = *state;
	struct mig_writer *w = NULL;
	struct mig_reader *rd = NULL;
	struct mig_tstat st;
	struct listing l;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* "" is the root: stat, list and mkdir_p take it. */
		if (bad[i][0] != '\0') {
			want(c, mig_transport_stat(c->t, bad[i], &st),
			    MIG_ERR_SECURITY, "stat", bad[i]);
			want(c, mig_transport_mkdir_p(c->t, bad[i]),
			    MIG_ERR_SECURITY, "mkdir_p", bad[i]);
			memset(&l, 0, sizeof(l));
			want(c, mig_transport_list(c->t, bad[i], list_cb, &l),
			    MIG_ERR_SECURITY, "list", bad[i]);
		}
		want(c, mig_transport_open_write(c->t, bad[i], 1, &w),
		    MIG_ERR_SECURITY, "open_write", bad[i]);
		assert_null(w);
		want(c, mig_transport_open_read(c->t, bad[i], &rd),
		    MIG_ERR_SECURITY, "open_read", bad[i]);
		assert_null(rd);
		want(c, mig_transport_remove(c->t, bad[i]), MIG_ERR_SECURITY,
		    "remove", bad[i]);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_conform__unpublished_in_place, conf_setup,
		    conf_teardown),
		cmocka_unit_test_setup_teardown(test_conform__puts_in_flight,
		    conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(test_conform__names_round_trip,
		    conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_conform__sizes_and_overwrite,
		    conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(test_conform__longest_names,
		    conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(test_conform__missing,
		    conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(test_conform__remove,
		    conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(test_conform__folders,
		    conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_conform__unpublished_until_close,
		    conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_conform__announced_size_kept,
		    conf_setup, conf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_conform__escaping_paths_refused,
		    conf_setup, conf_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
