/*
 * Unit tests for lib/run/fdpath.c: paths beneath a directory descriptor,
 * never through a symbolic link.
 *
 * Every check runs three times: as the kernel is (openat2, renameat2),
 * and in a child whose seccomp filter makes openat2 and renameat2 fail
 * with ENOSYS (an old kernel), or openat2 fail with EPERM (a container
 * profile older than openat2), so that the fallback walk and the
 * link-then-unlink publication are held to the same guarantees.
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "migrate/error.h"

#include "run/run_int.h"
#include "testutil.h"

static char tmpdir[256];
static struct mig_ctx *ctx;
/* The line of the first failed expectation of a check run, 0: none. */
static int first_bad;

static int
setup(void **state)
{
	(void)state;
	(void)umask(022);
	if (tu_mkdtemp(tmpdir, sizeof(tmpdir), "test_run_fdpath") != 0)
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

/*
 * Records a failed expectation.  The checks also run in a child, where a
 * cmocka assertion could not report back, so they count instead.
 */
static void
expect_at(bool ok, int line)
{
	if (!ok && first_bad == 0) {
		first_bad = line;
		fprintf(stderr, "check failed at line %d (%s)\n", line,
		    mig_errmsg(ctx));
	}
}

static bool
exists_at(int dirfd, const char *rel)
{
	struct stat st;

	return fstatat(dirfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static bool
is_link_at(int dirfd, const char *rel)
{
	struct stat st;

	return fstatat(dirfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(st.st_mode);
}

/* The text of the file rel of dirfd ("" when unreadable). */
static const char *
text_at(int dirfd, const char *rel)
{
	static char buf[64];
	ssize_t n;
	int fd;

	buf[0] = '\0';
	if ((fd = openat(dirfd, rel, O_RDONLY | O_NOFOLLOW)) < 0)
		return buf;
	n = read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	(void)close(fd);
	return buf;
}

static void
put_at(int dirfd, const char *rel, const char *text)
{
	int fd = openat(dirfd, rel, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	expect_at(fd >= 0, __LINE__);
	if (fd >= 0) {
		expect_at(write(fd, text, strlen(text)) ==
		    (ssize_t)strlen(text), __LINE__);
		(void)close(fd);
	}
}

/*
 * A fresh tree under TMPDIR/name:
 *   a/b/file ("x")   a/flink -> b/file   a/out -> ../outside
 *   link -> a        plain ("p")         outside/victim ("v")
 */
static int
make_tree(const char *name)
{
	char path[PATH_MAX];
	int root;

	(void)snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	if (mkdir(path, 0755) != 0 ||
	    (root = open(path, O_RDONLY | O_DIRECTORY)) < 0)
		return -1;
	expect_at(mkdirat(root, "a", 0755) == 0 &&
	    mkdirat(root, "a/b", 0755) == 0 &&
	    mkdirat(root, "outside", 0755) == 0 &&
	    symlinkat("b/file", root, "a/flink") == 0 &&
	    symlinkat("../outside", root, "a/out") == 0 &&
	    symlinkat("a", root, "link") == 0, __LINE__);
	put_at(root, "a/b/file", "x");
	put_at(root, "plain", "p");
	put_at(root, "outside/victim", "v");
	return root;
}

static void
check_open(int root)
{
	static const char *const malformed[] = { "", "/etc/passwd", "../x",
	    "a/../a/b/file", "a//b", "a/./b", "a/b/", "." };
	size_t i;
	int fd = -1;

	expect_at(fdpath_open(root, "a/b/file", O_RDONLY, 0, &fd, ctx) == 0,
	    __LINE__);
	expect_at(fd >= 0 && read(fd, (char [2]){ 0 }, 2) == 1, __LINE__);
	if (fd >= 0)
		(void)close(fd);
	expect_at(fdpath_open(root, "a/b", O_RDONLY | O_DIRECTORY, 0, &fd,
	    ctx) == 0, __LINE__);
	if (fd >= 0)
		(void)close(fd);
	/* A link anywhere: in the middle, at the end, leading outside. */
	expect_at(fdpath_open(root, "link/b/file", O_RDONLY, 0, &fd, ctx) ==
	    MIG_ERR_SECURITY && fd == -1, __LINE__);
	expect_at(fdpath_open(root, "a/flink", O_RDONLY, 0, &fd, ctx) ==
	    MIG_ERR_SECURITY, __LINE__);
	expect_at(fdpath_open(root, "a/out/new", O_WRONLY | O_CREAT | O_EXCL,
	    0600, &fd, ctx) == MIG_ERR_SECURITY, __LINE__);
	expect_at(!exists_at(root, "outside/new"), __LINE__);
	expect_at(fdpath_open(root, "plain/x", O_RDONLY, 0, &fd, ctx) ==
	    MIG_ERR_SECURITY, __LINE__);
	expect_at(fdpath_open(root, "a/missing/f", O_RDONLY, 0, &fd, ctx) ==
	    MIG_ERR_NOTFOUND, __LINE__);
	for (i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++)
		expect_at(fdpath_open(root, malformed[i], O_RDONLY, 0, &fd,
		    ctx) == MIG_ERR_USAGE && fd == -1, __LINE__);
	/* Creating beneath: once, then it exists. */
	expect_at(fdpath_open(root, "a/b/new", O_WRONLY | O_CREAT | O_EXCL,
	    0600, &fd, ctx) == 0, __LINE__);
	if (fd >= 0)
		(void)close(fd);
	expect_at(exists_at(root, "a/b/new"), __LINE__);
	expect_at(fdpath_open(root, "a/b/new", O_WRONLY | O_CREAT | O_EXCL,
	    0600, &fd, ctx) == MIG_ERR_EXISTS, __LINE__);
}

static void
check_mkdirs(int root)
{
	struct stat a, b;
	int fd = -1;

	expect_at(fdpath_mkdirs(root, "m/n/o", 0700, &fd, ctx) == 0,
	    __LINE__);
	expect_at(fd >= 0 && fstat(fd, &a) == 0 &&
	    fstatat(root, "m/n/o", &b, 0) == 0 && a.st_ino == b.st_ino &&
	    (b.st_mode & 0777) == 0700, __LINE__);
	if (fd >= 0)
		(void)close(fd);
	/* Existing directories are simply opened. */
	expect_at(fdpath_mkdirs(root, "m/n/o", 0700, &fd, ctx) == 0,
	    __LINE__);
	if (fd >= 0)
		(void)close(fd);
	expect_at(fdpath_mkdirs(root, "link/new", 0755, &fd, ctx) ==
	    MIG_ERR_SECURITY && fd == -1, __LINE__);
	expect_at(!exists_at(root, "a/new"), __LINE__);
	expect_at(fdpath_mkdirs(root, "a/out/new", 0755, &fd, ctx) ==
	    MIG_ERR_SECURITY, __LINE__);
	expect_at(!exists_at(root, "outside/new"), __LINE__);
	expect_at(fdpath_mkdirs(root, "plain/sub", 0755, &fd, ctx) ==
	    MIG_ERR_SECURITY, __LINE__);
	expect_at(fdpath_mkdirs(root, "m/../x", 0755, &fd, ctx) ==
	    MIG_ERR_USAGE, __LINE__);
	/* "" is the directory itself. */
	expect_at(fdpath_mkdirs(root, "", 0755, &fd, ctx) == 0 &&
	    fstat(fd, &a) == 0 && fstat(root, &b) == 0 &&
	    a.st_ino == b.st_ino, __LINE__);
	if (fd >= 0)
		(void)close(fd);
}

static void
check_publish(int root)
{
	int dir = openat(root, "a/b", O_RDONLY | O_DIRECTORY);

	expect_at(dir >= 0, __LINE__);
	put_at(dir, "t1", "one");
	expect_at(fdpath_publish(dir, "t1", "p1", ctx) == 0, __LINE__);
	expect_at(!exists_at(dir, "t1") && strcmp(text_at(dir, "p1"),
	    "one") == 0, __LINE__);
	/* An existing entry is never replaced. */
	put_at(dir, "t2", "two");
	expect_at(fdpath_publish(dir, "t2", "p1", ctx) == MIG_ERR_EXISTS,
	    __LINE__);
	expect_at(strcmp(text_at(dir, "p1"), "one") == 0 &&
	    exists_at(dir, "t2"), __LINE__);
	/* Nor a planted link, which is not followed either. */
	expect_at(symlinkat("../../outside/victim", dir, "sl") == 0,
	    __LINE__);
	expect_at(fdpath_publish(dir, "t2", "sl", ctx) == MIG_ERR_EXISTS,
	    __LINE__);
	expect_at(is_link_at(dir, "sl") &&
	    strcmp(text_at(root, "outside/victim"), "v") == 0, __LINE__);
	(void)close(dir);
}

/* Runs every check on a fresh tree; the line of the first failure or 0. */
static int
run_checks(const char *name)
{
	int root;

	first_bad = 0;
	if ((root = make_tree(name)) < 0)
		return __LINE__;
	check_open(root);
	check_mkdirs(root);
	check_publish(root);
	(void)close(root);
	return first_bad;
}

/* Makes the syscalls nr1 and nr2 fail with err in this process. */
static int
deny_syscalls(long nr1, long nr2, int err)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr1, 1, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr2, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO |
		    ((uint32_t)err & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
		return -1;
	return 0;
}

/*
 * The checks in a child where openat2 (and with renameat2 set, renameat2)
 * fail with err.  Exit 77 from the child: no seccomp here (skipped).
 */
static void
checks_without_new_syscalls(const char *name, int err, bool renameat2)
{
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (deny_syscalls(SYS_openat2, renameat2 ? SYS_renameat2 :
		    SYS_openat2, err) != 0)
			_exit(77);
		/* The filter is in force. */
		if (syscall(SYS_openat2, AT_FDCWD, ".", NULL, 0) != -1 ||
		    errno != err)
			_exit(1);
		_exit(run_checks(name) == 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void
test_run_fdpath__kernel(void **state)
{
	(void)state;
	assert_int_equal(run_checks("kernel"), 0);
}

static void
test_run_fdpath__no_openat2_enosys(void **state)
{
	(void)state;
	checks_without_new_syscalls("enosys", ENOSYS, true);
}

static void
test_run_fdpath__no_openat2_eperm(void **state)
{
	(void)state;
	checks_without_new_syscalls("eperm", EPERM, false);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run_fdpath__kernel),
		cmocka_unit_test(test_run_fdpath__no_openat2_enosys),
		cmocka_unit_test(test_run_fdpath__no_openat2_eperm),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
