/*
 * The file:// backend: a destination directory on a local (or mounted)
 * file system.
 *
 * The root is the URL's path, resolved against cfg->base_dir when it is
 * relative; it is trusted configuration and may pass through symbolic
 * links.  Below the root nothing is followed: every object path is
 * walked one component at a time with openat(O_NOFOLLOW | O_DIRECTORY),
 * so a symbolic link planted in the lake cannot redirect a write or a
 * read outside it (MIG_ERR_SECURITY).
 *
 * Objects are written through the file sink: a temporary
 * DIR/.BASE.migrate-tmp-XXXXXXXX, fsync, rename, fsync of DIR.  Writes
 * REPLACE an existing object (overwrite = true): a run that failed after
 * publishing some objects re-lands them when it resumes, and the bag
 * manifest is what decides which bytes are right.
 *
 * For mkdir_p, stat and list, the empty path "" names the root itself.
 *
 * The mig_transport_file_*_any() reads take names with control
 * characters, which every operation refuses: a BagIt bag may hold them,
 * and to a file system they are bytes like any other.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "migrate/error.h"
#include "migrate/stream.h"
#include "migrate/transport.h"
#include "migrate/util.h"

#include "../stream/stream_int.h"
#include "transport_int.h"

/* Mode of new objects and directories, before the umask. */
#define FILE_OBJ_MODE	0644
#define FILE_DIR_MODE	0777

struct file_priv {
	char	*root;		/* file system path of the root */
	/*
	 * The directory of the last object walked to, kept open: a run
	 * writes folder after folder, and walking the whole chain again for
	 * each object cost two system calls per level (issue 20).  The
	 * descriptor is the one the safe walk opened, so it cannot have been
	 * redirected since.
	 */
	char	*last_dir;	/* rel path of it; NULL: none */
	int	 last_fd;
};

static int
file_open(struct mig_transport *t, const struct mig_transport_config *cfg,
    const struct mig_url *url)
{
	struct file_priv *p;
	const char *path = url->path;
	size_t n;
	int r;

	if (path == NULL || path[0] == '\0')
		return mig_seterr(t->ctx, MIG_ERR_USAGE,
		    "%s: empty destination path", t->root);
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return mig_seterr(t->ctx, MIG_ERR_NOMEM, "out of memory");
	if (path[0] != '/' && cfg->base_dir != NULL &&
	    cfg->base_dir[0] != '\0') {
		n = strlen(cfg->base_dir) + strlen(path) + 2;
		if ((p->root = malloc(n)) != NULL)
			(void)snprintf(p->root, n, "%s/%s", cfg->base_dir,
			    path);
	} else
		p->root = strdup(path);
	if (p->root == NULL) {
		r = mig_seterr(t->ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_free;
	}
	/* Drop trailing slashes, keeping "/" itself. */
	n = strlen(p->root);
	while (n > 1 && p->root[n - 1] == '/')
		p->root[--n] = '\0';
	p->last_fd = -1;
	t->priv = p;
	return 0;

out_free:
	free(p->root);
	free(p);
	return r;
}

/* Forgets the directory kept open. */
static void
forget_dir(struct file_priv *p)
{
	if (p->last_fd >= 0)
		(void)close(p->last_fd);
	p->last_fd = -1;
	free(p->last_dir);
	p->last_dir = NULL;
}

/*
 * The kept directory when it is the parent of rel: a descriptor of it
 * for the caller, rel copied, *lastp its last name.  0, or -1 to walk.
 */
static int
kept_dir(struct file_priv *p, const char *rel, int *dirfdp, char **bufp,
    const char **lastp)
{
	const char *slash = strrchr(rel, '/');
	size_t n = slash != NULL ? (size_t)(slash - rel) : 0;
	int fd;

	if (p->last_dir == NULL || strlen(p->last_dir) != n ||
	    memcmp(p->last_dir, rel, n) != 0)
		return -1;
	if ((*bufp = strdup(rel)) == NULL)
		return -1;
	if ((fd = fcntl(p->last_fd, F_DUPFD_CLOEXEC, 0)) < 0) {
		free(*bufp);
		*bufp = NULL;
		return -1;
	}
	*dirfdp = fd;
	*lastp = *bufp + (slash != NULL ? n + 1 : 0);
	return 0;
}

/* Keeps the parent directory fd of rel open for the next object. */
static void
keep_dir(struct file_priv *p, const char *rel, int fd)
{
	const char *slash = strrchr(rel, '/');
	size_t n = slash != NULL ? (size_t)(slash - rel) : 0;

	forget_dir(p);
	if ((p->last_dir = strndup(rel, n)) == NULL)
		return;
	if ((p->last_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0) {
		free(p->last_dir);
		p->last_dir = NULL;
	}
}

static void
file_close(struct mig_transport *t)
{
	struct file_priv *p = t->priv;

	if (p == NULL)
		return;
	forget_dir(p);
	free(p->root);
	free(p);
	t->priv = NULL;
}

/* Error for a failed openat() of dir component comp of rel. */
static int
walk_err(struct mig_transport *t, int dirfd, const char *comp,
    const char *rel, int e)
{
	struct file_priv *p = t->priv;
	struct stat st;

	if ((e == ELOOP || e == ENOTDIR) &&
	    fstatat(dirfd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(st.st_mode))
		return mig_seterr(t->ctx, MIG_ERR_SECURITY,
		    "%s/%s: \"%s\" is a symbolic link, refusing to follow it",
		    p->root, rel, comp);
	return mig_seterr(t->ctx, e == ENOENT ? MIG_ERR_NOTFOUND : MIG_ERR_IO,
	    "%s/%s: %s: %s", p->root, rel, comp, strerror(e));
}

/* mkdir of one prefix of the root: an existing directory is fine. */
static int
mkdir_one(struct mig_transport *t, const char *path)
{
	struct stat st;
	int e;

	if (mkdir(path, FILE_DIR_MODE) == 0)
		return 0;
	e = errno;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	return mig_seterr(t->ctx, MIG_ERR_IO, "%s: mkdir: %s", path,
	    strerror(e));
}

/* mkdir -p of the root, which may be absolute or relative. */
static int
mkdir_root(struct mig_transport *t)
{
	struct file_priv *p = t->priv;
	char *path, *s;
	int r = 0;

	if ((path = strdup(p->root)) == NULL)
		return mig_seterr(t->ctx, MIG_ERR_NOMEM, "out of memory");
	for (s = path + 1; *s != '\0' && r == 0; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		r = mkdir_one(t, path);
		*s = '/';
	}
	if (r == 0)
		r = mkdir_one(t, path);
	free(path);
	return r;
}

/* What walk() does besides opening rel's directory. */
#define WALK_CREATE	0x01	/* create directories on the way */
#define WALK_PARENT	0x02	/* stop at the last name's directory */
#define WALK_ANY_NAME	0x04	/* names may hold control characters */

/*
 * Opens the directory holding rel's last component (WALK_PARENT) or rel
 * itself, creating directories on the way with WALK_CREATE.  *dirfdp is
 * the caller's to close; *lastp (parent only) points into *bufp, which
 * the caller frees.  rel "" is the root.
 */
static int
walk(struct mig_transport *t, const char *rel, unsigned how, int *dirfdp,
    char **bufp, const char **lastp)
{
	struct file_priv *p = t->priv;
	bool create = how & WALK_CREATE, parent = how & WALK_PARENT;
	char *buf, *comp, *slash;
	int fd, nfd, r;

	*dirfdp = -1;
	*bufp = NULL;
	*lastp = NULL;
	/* A control character escapes nothing here: only a reader asks. */
	if (rel[0] != '\0' && !((how & WALK_ANY_NAME) &&
	    mig_path_is_plain(rel)) &&
	    (r = mig_path_check_relative(rel, t->ctx)) != 0)
		return r;
	if (rel[0] == '\0' && parent)
		return mig_seterr(t->ctx, MIG_ERR_SECURITY,
		    "empty object path");
	if (parent && !create && !(how & WALK_ANY_NAME) &&
	    kept_dir(p, rel, dirfdp, bufp, lastp) == 0)
		return 0;
	if (create && (r = mkdir_root(t)) != 0)
		return r;
	if ((fd = open(p->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return mig_seterr(t->ctx, errno == ENOENT ? MIG_ERR_NOTFOUND :
		    MIG_ERR_IO, "%s: %s", p->root, strerror(errno));
	if ((buf = strdup(rel)) == NULL) {
		(void)close(fd);
		return mig_seterr(t->ctx, MIG_ERR_NOMEM, "out of memory");
	}
	for (comp = buf; *comp != '\0'; comp = slash + 1) {
		slash = strchr(comp, '/');
		if (slash == NULL && parent) {
			*lastp = comp;
			break;
		}
		if (slash != NULL)
			*slash = '\0';
		if (create && mkdirat(fd, comp, FILE_DIR_MODE) != 0 &&
		    errno != EEXIST) {
			r = mig_seterr(t->ctx, MIG_ERR_IO, "%s/%s: mkdir: %s",
			    p->root, rel, strerror(errno));
			goto out_close;
		}
		nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (nfd < 0) {
			r = walk_err(t, fd, comp, rel, errno);
			goto out_close;
		}
		(void)close(fd);
		fd = nfd;
		if (slash == NULL)
			break;
	}
	*dirfdp = fd;
	*bufp = buf;
	if (parent && !create && !(how & WALK_ANY_NAME))
		keep_dir(p, rel, fd);
	return 0;

out_close:
	(void)close(fd);
	free(buf);
	*lastp = NULL;
	return r;
}

static int
file_mkdir_p(struct mig_transport *t, const char *dir)
{
	const char *last;
	char *buf;
	int fd, r;

	if ((r = walk(t, dir, WALK_CREATE, &fd, &buf, &last)) != 0)
		return r;
	(void)close(fd);
	free(buf);
	return 0;
}

/* "ROOT/REL" for messages; NULL on ENOMEM. */
static char *
display_path(struct mig_transport *t, const char *rel)
{
	struct file_priv *p = t->priv;
	size_t n = strlen(p->root) + strlen(rel) + 2;
	char *s;

	if ((s = malloc(n)) != NULL)
		(void)snprintf(s, n, "%s/%s", p->root, rel);
	return s;
}

static int
open_write_try(struct mig_transport *t, const char *path, int64_t size,
    bool again, struct mig_writer **wp)
{
	struct file_priv *p = t->priv;
	const char *last;
	char *buf, *disp;
	int fd, r;

	*wp = NULL;
	if ((r = walk(t, path, WALK_PARENT, &fd, &buf, &last)) != 0)
		return r;
	if ((disp = display_path(t, path)) == NULL) {
		r = mig_seterr(t->ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_close;
	}
	r = mig_file_writer_newat(fd, last, disp, FILE_OBJ_MODE, true, size,
	    t->ctx, wp);
	free(disp);
	/*
	 * The directory kept open may have been removed (and made again)
	 * by another hand since: its name is walked afresh, once.
	 */
	if (r == MIG_ERR_NOTFOUND && again && p->last_dir != NULL) {
		forget_dir(p);
		(void)close(fd);
		free(buf);
		mig_clearerr(t->ctx);
		return open_write_try(t, path, size, false, wp);
	}
out_close:
	(void)close(fd);
	free(buf);
	return r;
}

static int
file_open_write(struct mig_transport *t, const char *path, int64_t size,
    struct mig_writer **wp)
{
	return open_write_try(t, path, size, true, wp);
}

static int
open_read_how(struct mig_transport *t, const char *path, unsigned how,
    struct mig_reader **rp)
{
	struct stat st;
	const char *last;
	char *buf, *disp = NULL;
	int dirfd, fd, fl, r;

	*rp = NULL;
	if ((r = walk(t, path, WALK_PARENT | how, &dirfd, &buf, &last)) != 0)
		return r;
	if ((disp = display_path(t, path)) == NULL) {
		r = mig_seterr(t->ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_close;
	}
	/* O_NONBLOCK: a FIFO planted in the lake must not hang us. */
	fd = openat(dirfd, last, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd < 0) {
		if (errno == ELOOP)
			r = mig_seterr(t->ctx, MIG_ERR_SECURITY,
			    "%s: is a symbolic link, refusing to follow it",
			    disp);
		else
			r = mig_seterr(t->ctx, errno == ENOENT ?
			    MIG_ERR_NOTFOUND : MIG_ERR_IO, "%s: %s", disp,
			    strerror(errno));
		goto out_close;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (fl = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
		(void)close(fd);
		r = mig_seterr(t->ctx, MIG_ERR_IO, "%s: not a regular file",
		    disp);
		goto out_close;
	}
	r = mig_file_reader_fromfd(fd, disp, t->ctx, rp);
out_close:
	free(disp);
	(void)close(dirfd);
	free(buf);
	return r;
}

static int
file_open_read(struct mig_transport *t, const char *path,
    struct mig_reader **rp)
{
	return open_read_how(t, path, 0, rp);
}

static void
fill_tstat(const struct stat *st, struct mig_tstat *ts)
{
	memset(ts, 0, sizeof(*ts));
	ts->size = st->st_size > 0 ? (uint64_t)st->st_size : 0;
	ts->mtime = st->st_mtime;
	ts->type = S_ISREG(st->st_mode) ? MIG_FT_FILE : S_ISDIR(st->st_mode) ?
	    MIG_FT_DIR : S_ISLNK(st->st_mode) ? MIG_FT_LINK : MIG_FT_OTHER;
}

static int
stat_how(struct mig_transport *t, const char *path, unsigned how,
    struct mig_tstat *ts)
{
	struct file_priv *p = t->priv;
	struct stat st;
	const char *last;
	char *buf;
	int fd, r;

	memset(ts, 0, sizeof(*ts));
	if (path[0] != '\0')
		how |= WALK_PARENT;
	if ((r = walk(t, path, how, &fd, &buf, &last)) != 0)
		return r;
	if (last == NULL) {
		/* The root. */
		if (fstat(fd, &st) != 0)
			r = mig_seterr(t->ctx, MIG_ERR_IO, "%s: %s", p->root,
			    strerror(errno));
	} else if (fstatat(fd, last, &st, AT_SYMLINK_NOFOLLOW) != 0)
		r = mig_seterr(t->ctx, errno == ENOENT ? MIG_ERR_NOTFOUND :
		    MIG_ERR_IO, "%s/%s: %s", p->root, path, strerror(errno));
	else if (S_ISLNK(st.st_mode))
		r = mig_seterr(t->ctx, MIG_ERR_SECURITY,
		    "%s/%s: is a symbolic link, refusing to follow it",
		    p->root, path);
	if (r == 0)
		fill_tstat(&st, ts);
	(void)close(fd);
	free(buf);
	return r;
}

static int
file_stat(struct mig_transport *t, const char *path, struct mig_tstat *ts)
{
	return stat_how(t, path, 0, ts);
}

static int
list_how(struct mig_transport *t, const char *dir, unsigned how,
    mig_list_cb cb, void *arg)
{
	struct file_priv *p = t->priv;
	struct mig_tstat ts;
	struct dirent *de;
	struct stat st;
	const char *last;
	char *buf;
	DIR *d;
	int fd, r;

	if ((r = walk(t, dir, how, &fd, &buf, &last)) != 0)
		return r;
	if ((d = fdopendir(fd)) == NULL) {
		r = mig_seterr(t->ctx, MIG_ERR_IO, "%s/%s: %s", p->root, dir,
		    strerror(errno));
		(void)close(fd);
		goto out_free;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0)
				r = mig_seterr(t->ctx, MIG_ERR_IO,
				    "%s/%s: readdir: %s", p->root, dir,
				    strerror(errno));
			break;
		}
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) != 0) {
			if (errno == ENOENT)
				continue;	/* removed meanwhile */
			r = mig_seterr(t->ctx, MIG_ERR_IO, "%s/%s/%s: %s",
			    p->root, dir, de->d_name, strerror(errno));
			break;
		}
		fill_tstat(&st, &ts);
		if ((r = cb(arg, de->d_name, &ts)) != 0)
			break;
	}
	(void)closedir(d);
out_free:
	free(buf);
	return r;
}

static int
file_list(struct mig_transport *t, const char *dir, mig_list_cb cb,
    void *arg)
{
	return list_how(t, dir, 0, cb, arg);
}

static int
file_remove(struct mig_transport *t, const char *path)
{
	struct file_priv *p = t->priv;
	const char *last;
	char *buf;
	int fd, r;

	if ((r = walk(t, path, WALK_PARENT, &fd, &buf, &last)) != 0)
		return r;
	/* Whatever is removed, the next walk looks afresh. */
	forget_dir(p);
	if (unlinkat(fd, last, 0) != 0) {
		if (errno == ENOENT)
			r = mig_seterr(t->ctx, MIG_ERR_NOTFOUND,
			    "%s/%s: no such file or directory", p->root, path);
		else
			r = mig_seterr(t->ctx, MIG_ERR_IO, "%s/%s: remove: %s",
			    p->root, path, strerror(errno));
	}
	(void)close(fd);
	free(buf);
	return r;
}

const struct mig_transport_ops mig_transport_file_ops = {
	.scheme = "file",
	.open = file_open,
	.close = file_close,
	.mkdir_p = file_mkdir_p,
	.open_write = file_open_write,
	.open_read = file_open_read,
	.stat = file_stat,
	.list = file_list,
	.remove = file_remove,
};

/* MIG_ERR_USAGE unless t is a file:// transport. */
static int
check_any(struct mig_transport *t)
{
	if (t->ops == &mig_transport_file_ops)
		return 0;
	return mig_seterr(t->ctx, MIG_ERR_USAGE, "%s: only file:// reads "
	    "names with control characters", t->root);
}

int
mig_transport_file_open_read_any(struct mig_transport *t, const char *path,
    struct mig_reader **rp)
{
	int r;

	*rp = NULL;
	if ((r = check_any(t)) != 0)
		return r;
	return open_read_how(t, path, WALK_ANY_NAME, rp);
}

int
mig_transport_file_stat_any(struct mig_transport *t, const char *path,
    struct mig_tstat *st)
{
	int r;

	memset(st, 0, sizeof(*st));
	if ((r = check_any(t)) != 0)
		return r;
	return stat_how(t, path, WALK_ANY_NAME, st);
}

int
mig_transport_file_list_any(struct mig_transport *t, const char *dir,
    mig_list_cb cb, void *arg)
{
	int r;

	if ((r = check_any(t)) != 0)
		return r;
	return list_how(t, dir, WALK_ANY_NAME, cb, arg);
}
