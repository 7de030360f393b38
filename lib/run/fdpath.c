/*
 * Paths beneath a directory descriptor, never through a symbolic link.
 *
 * A path-based call (open, chmod, rename, utimes) resolves its path again
 * each time, and whoever can write to any directory on the way can swap a
 * component for a symbolic link between two calls: the second call then
 * acts on a file of the attacker's choosing, with our privileges.  These
 * helpers resolve a relative path once, from a directory descriptor the
 * caller holds, refusing every symbolic link on the way; the caller then
 * acts only through the descriptors it got (fchmod, futimens, renameat
 * within one directory descriptor), which no later swap can redirect.
 *
 * Restore creates its target tree with them; the source walk can open its
 * files with them.  Linux-specific parts (openat2, renameat2) fall back to
 * portable POSIX calls with the same guarantees where they are missing.
 */
#define MIG_RUN_INTERNAL
#include <sys/stat.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#if defined(__linux__) && defined(__has_include)
#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#define FDPATH_HAVE_OPENAT2	1
#endif
#endif

#include "migrate/error.h"

#include "run_int.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE	(1 << 0)
#endif

/* How every directory on the way is opened. */
#define DIR_FLAGS	(O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/*
 * Checks rel (relative, '/'-separated, no empty, "." or ".." component)
 * and copies it into buf, where the caller cuts it into components.
 */
static int
copy_rel(const char *rel, char *buf, size_t size, struct mig_ctx *ctx)
{
	const char *c = rel;
	size_t n;

	if (strlen(rel) >= size)
		return mig_seterr(ctx, MIG_ERR_USAGE, "%.64s...: path too "
		    "long", rel);
	for (;;) {
		n = strcspn(c, "/");
		if (n == 0 || (n == 1 && c[0] == '.') ||
		    (n == 2 && c[0] == '.' && c[1] == '.'))
			return mig_seterr(ctx, MIG_ERR_USAGE, "\"%s\": not a "
			    "plain relative path (empty, \".\" or \"..\" "
			    "component)", rel);
		if (c[n] == '\0')
			break;
		c += n + 1;
	}
	memcpy(buf, rel, strlen(rel) + 1);
	return 0;
}

/* Error for a failed open of what (len bytes of a path), from errno e. */
static int
walk_err(int e, const char *what, size_t len, struct mig_ctx *ctx)
{
	switch (e) {
	case ELOOP:
	case ENOTDIR:
	case EXDEV:
		return mig_seterr(ctx, MIG_ERR_SECURITY, "%.*s: a symbolic "
		    "link, or not a directory where one belongs; refusing to "
		    "go through it", (int)len, what);
	case ENOENT:
		return mig_seterr(ctx, MIG_ERR_NOTFOUND, "%.*s: %s", (int)len,
		    what, strerror(e));
	case EEXIST:
		return mig_seterr(ctx, MIG_ERR_EXISTS, "%.*s: already exists",
		    (int)len, what);
	default:
		return mig_seterr(ctx, MIG_ERR_IO, "%.*s: %s", (int)len, what,
		    strerror(e));
	}
}

/*
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS): the kernel refuses every
 * symbolic link and every escape in one call.  Returns the descriptor, or
 * -1 with errno; ENOSYS when this kernel (or libc) lacks it.
 */
static int
try_openat2(int dirfd, const char *rel, int flags, mode_t mode)
{
#if defined(FDPATH_HAVE_OPENAT2) && defined(SYS_openat2)
	struct open_how how;

	memset(&how, 0, sizeof(how));
	how.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC);
	how.mode = (flags & O_CREAT) != 0 ? mode : 0;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
	return (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
#else
	(void)dirfd;
	(void)rel;
	(void)flags;
	(void)mode;
	errno = ENOSYS;
	return -1;
#endif
}

int
fdpath_open(int dirfd, const char *rel, int flags, mode_t mode, int *fdp,
    struct mig_ctx *ctx)
{
	char buf[PATH_MAX], *c, *slash;
	int cur, nfd, r = 0;

	*fdp = -1;
	if ((r = copy_rel(rel, buf, sizeof(buf), ctx)) != 0)
		return r;
	if ((nfd = try_openat2(dirfd, rel, flags, mode)) >= 0) {
		*fdp = nfd;
		return 0;
	}
	/*
	 * Fall back where openat2 is missing, and where a seccomp filter
	 * written before it existed answers EPERM (older container
	 * runtimes): the walk below gives the same guarantee.
	 */
	if (errno != ENOSYS && errno != EPERM)
		return walk_err(errno, rel, strlen(rel), ctx);
	cur = dirfd;
	for (c = buf; (slash = strchr(c, '/')) != NULL; c = slash + 1) {
		*slash = '\0';
		nfd = openat(cur, c, DIR_FLAGS);
		if (nfd < 0)
			r = walk_err(errno, rel, (size_t)(slash - buf), ctx);
		if (cur != dirfd)
			(void)close(cur);
		if (nfd < 0)
			return r;
		cur = nfd;
	}
	nfd = openat(cur, c, flags | O_NOFOLLOW | O_CLOEXEC, mode);
	if (nfd < 0)
		r = walk_err(errno, rel, strlen(rel), ctx);
	if (cur != dirfd)
		(void)close(cur);
	if (r == 0)
		*fdp = nfd;
	return r;
}

/* Opens (creating it if missing) the directory c of cur. */
static int
mkdir_one(int cur, const char *c, mode_t mode, const char *rel, size_t len,
    int *fdp, struct mig_ctx *ctx)
{
	int fd;

	fd = openat(cur, c, DIR_FLAGS);
	if (fd < 0 && errno == ENOENT) {
		if (mkdirat(cur, c, mode) != 0 && errno != EEXIST)
			return mig_seterr(ctx, MIG_ERR_IO, "%.*s: mkdir: %s",
			    (int)len, rel, strerror(errno));
		/* A link planted since the mkdir is refused here. */
		fd = openat(cur, c, DIR_FLAGS);
	}
	if (fd < 0)
		return walk_err(errno, rel, len, ctx);
	*fdp = fd;
	return 0;
}

int
fdpath_mkdirs(int dirfd, const char *rel, mode_t mode, int *fdp,
    struct mig_ctx *ctx)
{
	char buf[PATH_MAX], *c, *slash;
	int cur, nfd = -1, r;
	bool last = false;

	*fdp = -1;
	if (rel[0] == '\0') {
		if ((nfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0)) < 0)
			return mig_seterr(ctx, MIG_ERR_IO, "dup: %s",
			    strerror(errno));
		*fdp = nfd;
		return 0;
	}
	if ((r = copy_rel(rel, buf, sizeof(buf), ctx)) != 0)
		return r;
	cur = dirfd;
	for (c = buf; !last; c = slash + 1) {
		if ((slash = strchr(c, '/')) == NULL) {
			slash = c + strlen(c);
			last = true;
		}
		*slash = '\0';
		r = mkdir_one(cur, c, mode, rel, (size_t)(slash - buf), &nfd,
		    ctx);
		if (cur != dirfd)
			(void)close(cur);
		if (r != 0)
			return r;
		cur = nfd;
	}
	*fdp = cur;
	return 0;
}

int
fdpath_publish(int dirfd, const char *from, const char *to,
    struct mig_ctx *ctx)
{
	int e;

#ifdef SYS_renameat2
	if (syscall(SYS_renameat2, dirfd, from, dirfd, to,
	    RENAME_NOREPLACE) == 0)
		return 0;
	/* Kernels or file systems without the flag: link, then unlink. */
	if (errno != ENOSYS && errno != EINVAL && errno != ENOTSUP)
		goto out_err;
#endif
	if (linkat(dirfd, from, dirfd, to, 0) != 0)
		goto out_err;
	/* Published; a leftover temporary link is harmless. */
	(void)unlinkat(dirfd, from, 0);
	return 0;

out_err:
	e = errno;
	if (e == EEXIST)
		return mig_seterr(ctx, MIG_ERR_EXISTS, "%s: already exists, "
		    "refusing to replace it", to);
	return mig_seterr(ctx, MIG_ERR_IO, "%s: rename into place: %s", to,
	    strerror(e));
}
