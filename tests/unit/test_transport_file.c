/*
 * Unit tests for the file:// transport backend, driven through the
 * registry (mig_transport_open) on a temporary directory.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "migrate/error.h"
#include "migrate/stream.h"
#include "migrate/transport.h"

#include "testutil.h"

#include "transport/transport_int.h"

/*
 * The registry names every backend.  Weak stand-ins let this test link
 * while a network backend is missing; a real one, when linked, wins.
 */
__attribute__((weak)) const struct mig_transport_ops mig_transport_sftp_ops = {
	.scheme = "sftp",
};
__attribute__((weak)) const struct mig_transport_ops mig_transport_https_ops = {
	.scheme = "https",
};

static char tmpdir[256];
static struct mig_ctx *ctx;

/* Each test gets a fresh base directory. */
static int
setup(void **state)
{
	(void)state;
	if (tu_mkdtemp(tmpdir, sizeof(tmpdir), "test_tfile") != 0)
		return -1;
	if ((ctx = mig_ctx_new()) == NULL)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	mig_ctx_free(ctx);
	return tu_rm_tree(tmpdir);
}

static struct mig_transport *
open_lake(const char *url)
{
	struct mig_transport_config cfg;
	struct mig_transport *t;

	memset(&cfg, 0, sizeof(cfg));
	cfg.url = url;
	cfg.base_dir = tmpdir;
	if (mig_transport_open(&cfg, ctx, &t) != 0)
		fail_msg("open %s: %s", url, mig_errmsg(ctx));
	assert_non_null(t);
	return t;
}

static void
path_in(char *buf, size_t n, const char *rel)
{
	if (snprintf(buf, n, "%s/%s", tmpdir, rel) >= (int)n)
		fail_msg("path too long");
}

/* Counts entries under dir (recursively) holding MIG_TMP_INFIX. */
static int
count_temporaries(const char *dir)
{
	char sub[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int n = 0;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (strstr(de->d_name, MIG_TMP_INFIX) != NULL)
			n++;
		if (snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name) >=
		    (int)sizeof(sub))
			continue;
		if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
			n += count_temporaries(sub);
	}
	closedir(d);
	return n;
}

/*
 * The directory of the last object stays open for the next (issue 20).
 * Removed and made again by another hand meanwhile, the next object
 * still lands where its name says, not in the removed directory.
 */
static void
test_transport_file__kept_dir_replaced(void **state)
{
	struct mig_transport *t;
	char dir[PATH_MAX], obj[PATH_MAX];
	struct stat st;

	(void)state;
	t = open_lake("file://lake");
	assert_int_equal(mig_transport_mkdir_p(t, "a"), 0);
	assert_int_equal(mig_transport_put(t, "a/x", "x", 1), 0);
	path_in(dir, sizeof(dir), "lake/a");
	assert_int_equal(tu_rm_tree(dir), 0);
	assert_int_equal(mkdir(dir, 0700), 0);
	if (mig_transport_put(t, "a/y", "y", 1) != 0)
		fail_msg("put a/y after a/ was made again: %s",
		    mig_errmsg(ctx));
	path_in(obj, sizeof(obj), "lake/a/y");
	assert_int_equal(stat(obj, &st), 0);
	assert_int_equal(st.st_size, 1);
	mig_transport_close(t);
}

static void
test_transport_file__put_get(void **state)
{
	struct mig_transport *t;
	struct mig_tstat st;
	unsigned char *buf;
	char path[PATH_MAX];
	size_t len;

	(void)state;
	t = open_lake("file://lake");
	/* The root does not exist yet. */
	assert_int_equal(t->ops->stat(t, "", &st), MIG_ERR_NOTFOUND);
	assert_int_equal(t->ops->mkdir_p(t, "raw/ds/run=1/data"), 0);
	assert_int_equal(t->ops->mkdir_p(t, "raw/ds/run=1/data"), 0);
	assert_int_equal(t->ops->stat(t, "", &st), 0);
	assert_true(st.type == MIG_FT_DIR);
	assert_int_equal(t->ops->stat(t, "raw/ds", &st), 0);
	assert_true(st.type == MIG_FT_DIR);
	assert_int_equal(mig_transport_put(t, "raw/ds/run=1/data/a.age",
	    "hello", 5), 0);
	assert_int_equal(t->ops->stat(t, "raw/ds/run=1/data/a.age", &st), 0);
	assert_false(st.type == MIG_FT_DIR);
	assert_int_equal(st.size, 5);
	assert_true(st.mtime > 0);
	assert_int_equal(mig_transport_get(t, "raw/ds/run=1/data/a.age", 100,
	    &buf, &len), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(buf, "hello", 5);
	free(buf);
	/* Resolved against base_dir. */
	path_in(path, sizeof(path), "lake/raw/ds/run=1/data/a.age");
	assert_int_equal(access(path, R_OK), 0);
	assert_int_equal(count_temporaries(tmpdir), 0);
	/* Objects are re-landed over an earlier attempt. */
	assert_int_equal(mig_transport_put(t, "raw/ds/run=1/data/a.age",
	    "bye", 3), 0);
	assert_int_equal(mig_transport_get(t, "raw/ds/run=1/data/a.age", 100,
	    &buf, &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(buf, "bye", 3);
	free(buf);
	/* get's bound. */
	assert_int_equal(mig_transport_get(t, "raw/ds/run=1/data/a.age", 2,
	    &buf, &len), MIG_ERR_FORMAT);
	mig_transport_close(t);
}

static void
test_transport_file__absolute_root(void **state)
{
	struct mig_transport *t;
	struct mig_tstat st;
	char url[PATH_MAX + 32], path[PATH_MAX];

	(void)state;
	(void)snprintf(url, sizeof(url), "file://%s/abs/lake//", tmpdir);
	t = open_lake(url);
	assert_int_equal(t->ops->mkdir_p(t, ""), 0);
	assert_int_equal(mig_transport_put(t, "x", "1", 1), 0);
	assert_int_equal(t->ops->stat(t, "x", &st), 0);
	mig_transport_close(t);
	path_in(path, sizeof(path), "abs/lake/x");
	assert_int_equal(access(path, R_OK), 0);
}

static void
test_transport_file__streaming_write(void **state)
{
	struct mig_transport *t;
	struct mig_writer *w;
	struct mig_reader *r;
	struct mig_tstat st;
	unsigned char *data, *back;
	size_t i, n, len = 3 * 1024 * 1024 + 3;

	(void)state;
	data = malloc(len);
	back = malloc(len);
	assert_non_null(data);
	assert_non_null(back);
	for (i = 0; i < len; i++)
		data[i] = (unsigned char)(i * 7 + (i >> 11));
	t = open_lake("file://lake");
	assert_int_equal(t->ops->mkdir_p(t, "d"), 0);
	assert_int_equal(t->ops->open_write(t, "d/big", (int64_t)len, &w), 0);
	for (i = 0; i < len; i += n) {
		n = len - i < 100000 ? len - i : 100000;
		assert_int_equal(mig_writer_write(w, data + i, n), 0);
	}
	/* Not visible before close. */
	assert_int_equal(t->ops->stat(t, "d/big", &st), MIG_ERR_NOTFOUND);
	assert_int_equal(mig_writer_close(w), 0);
	mig_writer_free(w);
	assert_int_equal(t->ops->open_read(t, "d/big", &r), 0);
	assert_int_equal(mig_reader_read_full(r, back, len), 0);
	assert_int_equal(mig_reader_read(r, back, 1, &n), 0);
	assert_int_equal(n, 0);
	mig_reader_free(r);
	assert_memory_equal(back, data, len);
	free(back);
	free(data);
	mig_transport_close(t);
}

static void
test_transport_file__abandon(void **state)
{
	struct mig_transport *t;
	struct mig_writer *w;
	struct mig_tstat st;
	char dir[PATH_MAX];

	(void)state;
	t = open_lake("file://lake");
	assert_int_equal(t->ops->mkdir_p(t, "d"), 0);
	assert_int_equal(t->ops->open_write(t, "d/obj", -1, &w), 0);
	assert_int_equal(mig_writer_write(w, "partial", 7), 0);
	path_in(dir, sizeof(dir), "lake/d");
	assert_int_equal(count_temporaries(dir), 1);
	mig_writer_free(w);
	assert_int_equal(count_temporaries(dir), 0);
	assert_int_equal(t->ops->stat(t, "d/obj", &st), MIG_ERR_NOTFOUND);

	/* A size that does not match the announcement is not published. */
	assert_int_equal(t->ops->open_write(t, "d/obj", 10, &w), 0);
	assert_int_equal(mig_writer_write(w, "short", 5), 0);
	assert_int_equal(mig_writer_close(w), MIG_ERR_INTERNAL);
	mig_writer_free(w);
	assert_int_equal(t->ops->stat(t, "d/obj", &st), MIG_ERR_NOTFOUND);
	assert_int_equal(count_temporaries(dir), 0);

	/* open_write does not create parents: mkdir_p does. */
	assert_int_equal(t->ops->open_write(t, "nodir/obj", -1, &w),
	    MIG_ERR_NOTFOUND);
	assert_null(w);
	mig_transport_close(t);
}

struct listing {
	int	files;
	int	dirs;
	int	stop_after;
	char	seen[8][32];
};

static int
list_cb(void *arg, const char *name, const struct mig_tstat *st)
{
	struct listing *l = arg;
	int n = l->files + l->dirs;

	if (n < 8)
		(void)snprintf(l->seen[n], sizeof(l->seen[n]), "%s", name);
	if (st->type == MIG_FT_DIR)
		l->dirs++;
	else
		l->files++;
	if (l->stop_after != 0 && l->files + l->dirs >= l->stop_after)
		return 42;
	return 0;
}

static bool
seen(const struct listing *l, const char *name)
{
	int i;

	for (i = 0; i < l->files + l->dirs && i < 8; i++)
		if (strcmp(l->seen[i], name) == 0)
			return true;
	return false;
}

static void
test_transport_file__list_remove(void **state)
{
	struct mig_transport *t;
	struct listing l;

	(void)state;
	t = open_lake("file://lake");
	assert_int_equal(t->ops->mkdir_p(t, "run/data/sub"), 0);
	assert_int_equal(mig_transport_put(t, "run/data/a", "a", 1), 0);
	assert_int_equal(mig_transport_put(t, "run/data/b", "bb", 2), 0);
	memset(&l, 0, sizeof(l));
	assert_int_equal(t->ops->list(t, "run/data", list_cb, &l), 0);
	assert_int_equal(l.files, 2);
	assert_int_equal(l.dirs, 1);
	assert_true(seen(&l, "a"));
	assert_true(seen(&l, "b"));
	assert_true(seen(&l, "sub"));
	memset(&l, 0, sizeof(l));
	assert_int_equal(t->ops->list(t, "", list_cb, &l), 0);
	assert_int_equal(l.dirs, 1);
	assert_true(seen(&l, "run"));
	/* The callback stops the listing with its own value. */
	memset(&l, 0, sizeof(l));
	l.stop_after = 1;
	assert_int_equal(t->ops->list(t, "run/data", list_cb, &l), 42);
	assert_int_equal(l.files + l.dirs, 1);
	assert_int_equal(t->ops->list(t, "run/none", list_cb, &l),
	    MIG_ERR_NOTFOUND);

	assert_int_equal(t->ops->remove(t, "run/data/a"), 0);
	assert_int_equal(t->ops->remove(t, "run/data/a"), MIG_ERR_NOTFOUND);
	assert_int_equal(t->ops->remove(t, "run/data/sub"), MIG_ERR_IO);
	assert_int_equal(t->ops->remove(t, "run/data/b"), 0);
	memset(&l, 0, sizeof(l));
	assert_int_equal(t->ops->list(t, "run/data", list_cb, &l), 0);
	assert_int_equal(l.files, 0);
	assert_int_equal(l.dirs, 1);
	mig_transport_close(t);
}

static void
test_transport_file__bad_paths(void **state)
{
	static const char *const bad[] = {
		"../x", "/etc/passwd", "a/../b", "a//b", "./a", "a/.", "a/",
		"a/\x01", "..",
	};
	struct mig_transport *t;
	struct mig_writer *w;
	struct mig_reader *r;
	struct mig_tstat st;
	size_t i;

	(void)state;
	t = open_lake("file://lake");
	assert_int_equal(t->ops->mkdir_p(t, "a"), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(t->ops->open_write(t, bad[i], -1, &w),
		    MIG_ERR_SECURITY);
		assert_null(w);
		assert_int_equal(t->ops->open_read(t, bad[i], &r),
		    MIG_ERR_SECURITY);
		assert_null(r);
		assert_int_equal(t->ops->mkdir_p(t, bad[i]), MIG_ERR_SECURITY);
		assert_int_equal(t->ops->stat(t, bad[i], &st),
		    MIG_ERR_SECURITY);
		assert_int_equal(t->ops->remove(t, bad[i]), MIG_ERR_SECURITY);
	}
	/* The empty path names the root only where that makes sense. */
	assert_int_equal(t->ops->open_write(t, "", -1, &w), MIG_ERR_SECURITY);
	assert_int_equal(t->ops->open_read(t, "", &r), MIG_ERR_SECURITY);
	assert_int_equal(t->ops->remove(t, ""), MIG_ERR_SECURITY);
	mig_transport_close(t);
}

/* Symbolic links inside the lake are never followed. */
static void
test_transport_file__symlinks(void **state)
{
	struct mig_transport *t;
	struct mig_writer *w;
	struct mig_reader *r;
	struct mig_tstat st;
	char outside[PATH_MAX], link[PATH_MAX], secret[PATH_MAX];
	int fd;

	(void)state;
	t = open_lake("file://lake");
	assert_int_equal(t->ops->mkdir_p(t, "zone"), 0);
	path_in(outside, sizeof(outside), "outside");
	assert_int_equal(mkdir(outside, 0755), 0);
	path_in(secret, sizeof(secret), "outside/secret");
	fd = open(secret, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "s3cret", 6), 6);
	assert_int_equal(close(fd), 0);

	/* A directory link. */
	path_in(link, sizeof(link), "lake/zone/ds");
	assert_int_equal(symlink(outside, link), 0);
	assert_int_equal(t->ops->open_write(t, "zone/ds/x", -1, &w),
	    MIG_ERR_SECURITY);
	assert_non_null(strstr(mig_errmsg(ctx), "symbolic link"));
	assert_int_equal(t->ops->mkdir_p(t, "zone/ds/y"), MIG_ERR_SECURITY);
	assert_int_equal(t->ops->open_read(t, "zone/ds/secret", &r),
	    MIG_ERR_SECURITY);
	assert_int_equal(t->ops->stat(t, "zone/ds", &st), MIG_ERR_SECURITY);
	assert_int_equal(t->ops->list(t, "zone/ds", list_cb, NULL),
	    MIG_ERR_SECURITY);
	assert_int_equal(t->ops->remove(t, "zone/ds/secret"),
	    MIG_ERR_SECURITY);
	assert_int_equal(access(secret, F_OK), 0);

	/* A file link. */
	path_in(link, sizeof(link), "lake/zone/f");
	assert_int_equal(symlink(secret, link), 0);
	assert_int_equal(t->ops->open_read(t, "zone/f", &r),
	    MIG_ERR_SECURITY);
	assert_null(r);
	assert_int_equal(t->ops->stat(t, "zone/f", &st), MIG_ERR_SECURITY);
	/* Writing over the link replaces the link, not its target. */
	assert_int_equal(mig_transport_put(t, "zone/f", "new", 3), 0);
	{
		struct stat sb;
		char buf[8];

		assert_int_equal(lstat(link, &sb), 0);
		assert_true(S_ISREG(sb.st_mode));
		fd = open(secret, O_RDONLY);
		assert_true(fd >= 0);
		assert_int_equal(read(fd, buf, sizeof(buf)), 6);
		assert_memory_equal(buf, "s3cret", 6);
		assert_int_equal(close(fd), 0);
	}
	/* A FIFO does not hang a reader. */
	path_in(link, sizeof(link), "lake/zone/fifo");
	assert_int_equal(mkfifo(link, 0600), 0);
	assert_int_equal(t->ops->open_read(t, "zone/fifo", &r), MIG_ERR_IO);
	mig_transport_close(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_transport_file__kept_dir_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transport_file__put_get,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_transport_file__absolute_root, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_transport_file__streaming_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transport_file__abandon,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_transport_file__list_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_transport_file__bad_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transport_file__symlinks,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
