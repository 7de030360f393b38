/*
 * File, descriptor, memory and null sinks and sources.
 *
 * The file sink never exposes a partial file: it writes
 * DIR/.BASE.migrate-tmp-XXXXXXXX (created O_EXCL|O_NOFOLLOW), and only a
 * successful close fsyncs it, renames it to DIR/BASE and fsyncs DIR.
 * All of that happens relative to one directory descriptor, so a rename
 * of DIR's ancestors during the write cannot redirect the result.
 */
#include <sys/stat.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "migrate/error.h"
#include "migrate/stream.h"
#include "migrate/transport.h"
#include "migrate/util.h"

#include "stream_int.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE	(1 << 0)
#endif

#ifndef NAME_MAX
#define NAME_MAX	255
#endif

/* Writes smaller than this are gathered before the write(2). */
#define SINK_BUFSZ	(2 * MIG_STREAM_CHUNK)

/* --- Descriptor and file sinks ------------------------------------------- */

struct fdsink {
	int		 fd;		/* -1 once closed */
	int		 dirfd;		/* file sink only, else -1 */
	bool		 own;		/* file sink: fd is ours */
	bool		 overwrite;
	bool		 durable;	/* fsync file and directory on close */
	bool		 published;	/* renamed into place */
	char		*name;		/* final entry in dirfd */
	char		*tmpname;	/* temporary entry in dirfd */
	char		*display;	/* for messages */
	unsigned char	*buf;
	size_t		 len;
	size_t		 hw;		/* bytes of buf ever used: to wipe */
	uint64_t	 written;
	int64_t		 expect;	/* -1: unknown */
};

static int
write_all(struct mig_writer *w, struct fdsink *s, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(s->fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return mig_seterr(w->ctx, MIG_ERR_IO, "%s: write: %s",
			    s->display, strerror(errno));
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
sink_flush(struct mig_writer *w, struct fdsink *s)
{
	int r;

	if (s->len == 0)
		return 0;
	r = write_all(w, s, s->buf, s->len);
	s->len = 0;
	return r;
}

static int
sink_write(struct mig_writer *w, const void *buf, size_t len)
{
	struct fdsink *s = w->priv;
	int r;

	if (s->fd < 0)
		return mig_seterr(w->ctx, MIG_ERR_INTERNAL,
		    "%s: write after close", s->display);
	s->written += len;
	/* Gather small writes; pass large ones straight through. */
	if (len <= SINK_BUFSZ - s->len) {
		memcpy(s->buf + s->len, buf, len);
		s->len += len;
		if (s->len > s->hw)
			s->hw = s->len;
		if (s->len == SINK_BUFSZ)
			return sink_flush(w, s);
		return 0;
	}
	if ((r = sink_flush(w, s)) != 0)
		return r;
	if (len >= SINK_BUFSZ)
		return write_all(w, s, buf, len);
	memcpy(s->buf, buf, len);
	s->len = len;
	if (s->len > s->hw)
		s->hw = s->len;
	return 0;
}

static int
fd_sink_close(struct mig_writer *w)
{
	return sink_flush(w, w->priv);
}

/*
 * Publishes tmpname as name.  Without overwrite, an existing name wins and
 * the result is MIG_ERR_EXISTS, with no window in which it is replaced.
 */
static int
publish(struct mig_writer *w, struct fdsink *s)
{
	int e;

	if (s->overwrite) {
		struct stat st;

		/*
		 * Replace files only, never a device, FIFO or directory.  A
		 * symbolic link is replaced itself (rename never follows it).
		 */
		if (fstatat(s->dirfd, s->name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
			return mig_seterr(w->ctx, MIG_ERR_EXISTS, "%s: exists "
			    "and is not a regular file, refusing to replace "
			    "it", s->display);
		if (renameat(s->dirfd, s->tmpname, s->dirfd, s->name) != 0)
			goto out_err;
		return 0;
	}
#ifdef SYS_renameat2
	if (syscall(SYS_renameat2, s->dirfd, s->tmpname, s->dirfd, s->name,
	    RENAME_NOREPLACE) == 0)
		return 0;
	/* Kernels or file systems without the flag: link, then unlink. */
	if (errno != ENOSYS && errno != EINVAL && errno != ENOTSUP)
		goto out_err;
#endif
	if (linkat(s->dirfd, s->tmpname, s->dirfd, s->name, 0) != 0)
		goto out_err;
	/* Published; a leftover temporary link is harmless and swept later. */
	(void)unlinkat(s->dirfd, s->tmpname, 0);
	return 0;

out_err:
	e = errno;
	if (e == EEXIST)
		return mig_seterr(w->ctx, MIG_ERR_EXISTS,
		    "%s: already exists, refusing to replace it", s->display);
	return mig_seterr(w->ctx, MIG_ERR_IO, "%s: rename into place: %s",
	    s->display, strerror(e));
}

static int
file_sink_close(struct mig_writer *w)
{
	struct fdsink *s = w->priv;
	int r, fd;

	if ((r = sink_flush(w, s)) != 0)
		return r;
	if (s->expect >= 0 && s->written != (uint64_t)s->expect)
		return mig_seterr(w->ctx, MIG_ERR_INTERNAL,
		    "%s: %llu bytes written, %lld announced", s->display,
		    (unsigned long long)s->written, (long long)s->expect);
	if (s->durable && fsync(s->fd) != 0)
		return mig_seterr(w->ctx, MIG_ERR_IO, "%s: fsync: %s",
		    s->display, strerror(errno));
	fd = s->fd;
	s->fd = -1;
	/* close(2) can report a deferred write error (NFS, quotas). */
	if (close(fd) != 0)
		return mig_seterr(w->ctx, MIG_ERR_IO, "%s: close: %s",
		    s->display, strerror(errno));
	if ((r = publish(w, s)) != 0)
		return r;
	s->published = true;
	if (s->durable && fsync(s->dirfd) != 0 && errno != EINVAL)
		return mig_seterr(w->ctx, MIG_ERR_IO,
		    "%s: fsync of the directory: %s", s->display,
		    strerror(errno));
	return 0;
}

static void
sink_free(struct mig_writer *w)
{
	struct fdsink *s = w->priv;

	if (s == NULL)
		return;
	if (s->own && s->fd >= 0)
		(void)close(s->fd);
	if (s->own && !s->published && s->tmpname != NULL)
		(void)unlinkat(s->dirfd, s->tmpname, 0);
	if (s->dirfd >= 0)
		(void)close(s->dirfd);
	if (s->buf != NULL) {
		/*
		 * Decrypted output may have passed through: what was ever
		 * used is wiped (a 100-byte file does not pay for 128 KiB).
		 */
		OPENSSL_cleanse(s->buf, s->hw);
		free(s->buf);
	}
	free(s->name);
	free(s->tmpname);
	free(s->display);
	free(s);
	w->priv = NULL;
}

static const struct mig_writer_ops fd_sink_ops = {
	.name = "fd",
	.write = sink_write,
	.close = fd_sink_close,
	.free = sink_free,
};

static const struct mig_writer_ops file_sink_ops = {
	.name = "file",
	.write = sink_write,
	.close = file_sink_close,
	.free = sink_free,
};

static struct fdsink *
sink_alloc(const char *display)
{
	struct fdsink *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->fd = -1;
	s->dirfd = -1;
	s->expect = -1;
	if ((s->buf = malloc(SINK_BUFSZ)) == NULL ||
	    (s->display = strdup(display)) == NULL) {
		free(s->buf);
		free(s);
		return NULL;
	}
	return s;
}

/* Frees a sink that never became a writer. */
static void
sink_discard(struct fdsink *s)
{
	struct mig_writer tmp;

	memset(&tmp, 0, sizeof(tmp));
	tmp.priv = s;
	sink_free(&tmp);
}

/* ".BASE.migrate-tmp-XXXXXXXX", BASE shortened to fit NAME_MAX. */
static int
tmp_name(const char *base, char **outp, struct mig_ctx *ctx)
{
	int r;

	if ((r = mig_tmp_name(base, outp)) == MIG_ERR_CRYPTO)
		return mig_seterr_ssl(ctx, r, "%s: random temporary name",
		    base);
	if (r != 0)
		return mig_seterr(ctx, r, "out of memory");
	return 0;
}

int
mig_file_writer_newat(int dirfd, const char *name, const char *display,
    mode_t mode, bool overwrite, int64_t expect, struct mig_ctx *ctx,
    struct mig_writer **wp)
{
	struct fdsink *s;
	struct stat st;
	int r, tries;

	*wp = NULL;
	if (name[0] == '\0' || strchr(name, '/') != NULL ||
	    strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return mig_seterr(ctx, MIG_ERR_USAGE,
		    "%s: not a file name", display);
	if ((s = sink_alloc(display)) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	s->own = true;
	s->overwrite = overwrite;
	s->durable = true;
	s->expect = expect;
	if ((s->name = strdup(name)) == NULL) {
		r = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_discard;
	}
	if ((s->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0)) < 0) {
		r = mig_seterr(ctx, MIG_ERR_IO, "%s: dup: %s", display,
		    strerror(errno));
		goto out_discard;
	}
	/* Fail before streaming gigabytes; publish() checks again. */
	if (fstatat(s->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (!overwrite || (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)))) {
		r = mig_seterr(ctx, MIG_ERR_EXISTS, "%s: %s, refusing to "
		    "replace it", display, overwrite ? "exists and is not a "
		    "regular file" : "already exists");
		goto out_discard;
	}
	for (tries = 0; ; tries++) {
		if ((r = tmp_name(name, &s->tmpname, ctx)) != 0)
			goto out_discard;
		s->fd = openat(s->dirfd, s->tmpname, O_WRONLY | O_CREAT |
		    O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (s->fd >= 0)
			break;
		if (errno != EEXIST || tries >= 8) {
			r = mig_seterr(ctx, errno == ENOENT ? MIG_ERR_NOTFOUND :
			    MIG_ERR_IO, "%s: create temporary file: %s",
			    display, strerror(errno));
			free(s->tmpname);
			s->tmpname = NULL;
			goto out_discard;
		}
		free(s->tmpname);
		s->tmpname = NULL;
	}
	if ((*wp = mig_writer_new(&file_sink_ops, s, NULL, ctx)) == NULL) {
		r = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_discard;
	}
	return 0;

out_discard:
	sink_discard(s);
	return r;
}

int
mig_file_writer_new(const char *path, mode_t mode, bool overwrite,
    struct mig_ctx *ctx, struct mig_writer **wp)
{
	const char *slash, *base;
	char *dir;
	int dirfd, r;

	*wp = NULL;
	slash = strrchr(path, '/');
	if (slash == NULL) {
		dir = strdup(".");
		base = path;
	} else if (slash == path) {
		dir = strdup("/");
		base = slash + 1;
	} else {
		dir = strndup(path, (size_t)(slash - path));
		base = slash + 1;
	}
	if (dir == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		r = mig_seterr(ctx, errno == ENOENT ? MIG_ERR_NOTFOUND :
		    MIG_ERR_IO, "%s: %s", dir, strerror(errno));
		goto out_free;
	}
	r = mig_file_writer_newat(dirfd, base, path, mode, overwrite, -1, ctx,
	    wp);
	(void)close(dirfd);
out_free:
	free(dir);
	return r;
}

int
mig_fd_writer_new(int fd, struct mig_ctx *ctx, struct mig_writer **wp)
{
	struct fdsink *s;
	char display[32];

	*wp = NULL;
	(void)snprintf(display, sizeof(display), "fd %d", fd);
	if ((s = sink_alloc(fd == 1 ? "stdout" : display)) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	s->fd = fd;
	if ((*wp = mig_writer_new(&fd_sink_ops, s, NULL, ctx)) == NULL) {
		sink_discard(s);
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	}
	return 0;
}

/* --- Null sink ----------------------------------------------------------- */

static int
null_write(struct mig_writer *w, const void *buf, size_t len)
{
	(void)w;
	(void)buf;
	(void)len;
	return 0;
}

static const struct mig_writer_ops null_ops = {
	.name = "null",
	.write = null_write,
};

int
mig_null_writer_new(struct mig_ctx *ctx, struct mig_writer **wp)
{
	if ((*wp = mig_writer_new(&null_ops, NULL, NULL, ctx)) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	return 0;
}

/* --- Memory sink --------------------------------------------------------- */

struct memsink {
	unsigned char	*data;
	size_t		 len;
	size_t		 cap;
	size_t		 max;
};

static int
mem_write(struct mig_writer *w, const void *buf, size_t len)
{
	struct memsink *m = w->priv;
	unsigned char *nd;
	size_t ncap;

	if (len > m->max - m->len)
		return mig_seterr(w->ctx, MIG_ERR_FORMAT,
		    "larger than %zu bytes", m->max);
	if (len > m->cap - m->len) {
		ncap = m->cap < 4096 ? 4096 : m->cap;
		while (ncap - m->len < len)
			ncap = ncap > SIZE_MAX / 2 ? SIZE_MAX : ncap * 2;
		if (ncap > m->max)
			ncap = m->max;
		/* Not realloc: the old block is wiped before it is freed. */
		if ((nd = malloc(ncap)) == NULL)
			return mig_seterr(w->ctx, MIG_ERR_NOMEM,
			    "out of memory");
		if (m->len > 0)
			memcpy(nd, m->data, m->len);
		if (m->data != NULL) {
			OPENSSL_cleanse(m->data, m->cap);
			free(m->data);
		}
		m->data = nd;
		m->cap = ncap;
	}
	memcpy(m->data + m->len, buf, len);
	m->len += len;
	return 0;
}

static void
mem_free(struct mig_writer *w)
{
	struct memsink *m = w->priv;

	if (m == NULL)
		return;
	if (m->data != NULL) {
		OPENSSL_cleanse(m->data, m->cap);
		free(m->data);
	}
	free(m);
}

static const struct mig_writer_ops mem_writer_ops = {
	.name = "memory",
	.write = mem_write,
	.free = mem_free,
};

int
mig_mem_writer_new(size_t max, struct mig_ctx *ctx, struct mig_writer **wp)
{
	struct memsink *m;

	*wp = NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	m->max = max == 0 ? SIZE_MAX : max;
	if ((*wp = mig_writer_new(&mem_writer_ops, m, NULL, ctx)) == NULL) {
		free(m);
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	}
	return 0;
}

const unsigned char *
mig_mem_writer_data(const struct mig_writer *w, size_t *lenp)
{
	static const unsigned char empty[1];
	const struct memsink *m;

	*lenp = 0;
	if (w == NULL || w->ops != &mem_writer_ops)
		return NULL;
	m = w->priv;
	*lenp = m->len;
	return m->data != NULL ? m->data : empty;
}

/* --- File and descriptor sources ----------------------------------------- */

struct fdsource {
	int	 fd;
	bool	 own;
	char	*display;
};

static int
fd_read(struct mig_reader *r, void *buf, size_t cap, size_t *nread)
{
	struct fdsource *s = r->priv;
	ssize_t n;

	if (cap > SSIZE_MAX)
		cap = SSIZE_MAX;
	for (;;) {
		n = read(s->fd, buf, cap);
		if (n >= 0)
			break;
		if (errno != EINTR)
			return mig_seterr(r->ctx, MIG_ERR_IO, "%s: read: %s",
			    s->display, strerror(errno));
	}
	*nread = (size_t)n;
	return 0;
}

static void
fd_source_free(struct mig_reader *r)
{
	struct fdsource *s = r->priv;

	if (s == NULL)
		return;
	if (s->own && s->fd >= 0)
		(void)close(s->fd);
	free(s->display);
	free(s);
}

static const struct mig_reader_ops fd_source_ops = {
	.name = "file",
	.read = fd_read,
	.free = fd_source_free,
};

static int
fd_source_new(int fd, bool own, const char *display, struct mig_ctx *ctx,
    struct mig_reader **rp)
{
	struct fdsource *s;

	*rp = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->display = strdup(display)) == NULL) {
		free(s);
		if (own)
			(void)close(fd);
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	}
	s->fd = fd;
	s->own = own;
	if ((*rp = mig_reader_new(&fd_source_ops, s, NULL, ctx)) == NULL) {
		if (own)
			(void)close(fd);
		free(s->display);
		free(s);
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	}
	return 0;
}

int
mig_file_reader_fromfd(int fd, const char *display, struct mig_ctx *ctx,
    struct mig_reader **rp)
{
	struct stat st;

	*rp = NULL;
	if (fstat(fd, &st) != 0) {
		(void)close(fd);
		return mig_seterr(ctx, MIG_ERR_IO, "%s: %s", display,
		    strerror(errno));
	}
	if (S_ISDIR(st.st_mode)) {
		(void)close(fd);
		return mig_seterr(ctx, MIG_ERR_IO, "%s: is a directory",
		    display);
	}
	if (S_ISREG(st.st_mode))
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	return fd_source_new(fd, true, display, ctx, rp);
}

int
mig_file_reader_new(const char *path, bool follow, struct mig_ctx *ctx,
    struct mig_reader **rp)
{
	int fd, flags;

	*rp = NULL;
	flags = O_RDONLY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW);
	/* O_NONBLOCK: opening a FIFO must not hang; cleared below. */
	if ((fd = open(path, flags | O_NONBLOCK)) < 0) {
		if (errno == ENOENT)
			return mig_seterr(ctx, MIG_ERR_NOTFOUND,
			    "%s: no such file", path);
		if (errno == ELOOP && !follow)
			return mig_seterr(ctx, MIG_ERR_SECURITY,
			    "%s: is a symbolic link, not followed", path);
		return mig_seterr(ctx, MIG_ERR_IO, "%s: %s", path,
		    strerror(errno));
	}
	if ((flags = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
		(void)close(fd);
		return mig_seterr(ctx, MIG_ERR_IO, "%s: %s", path,
		    strerror(errno));
	}
	return mig_file_reader_fromfd(fd, path, ctx, rp);
}

int
mig_fd_reader_new(int fd, struct mig_ctx *ctx, struct mig_reader **rp)
{
	char display[32];

	(void)snprintf(display, sizeof(display), "fd %d", fd);
	return fd_source_new(fd, false, fd == 0 ? "stdin" : display, ctx, rp);
}

/* --- Memory source ------------------------------------------------------- */

struct memsource {
	const unsigned char	*buf;
	size_t			 len;
	size_t			 off;
};

static int
mem_read(struct mig_reader *r, void *buf, size_t cap, size_t *nread)
{
	struct memsource *m = r->priv;
	size_t n = m->len - m->off;

	if (n > cap)
		n = cap;
	if (n > 0)
		memcpy(buf, m->buf + m->off, n);
	m->off += n;
	*nread = n;
	return 0;
}

static void
mem_source_free(struct mig_reader *r)
{
	free(r->priv);
}

static const struct mig_reader_ops mem_source_ops = {
	.name = "memory",
	.read = mem_read,
	.free = mem_source_free,
};

int
mig_mem_reader_new(const void *buf, size_t len, struct mig_ctx *ctx,
    struct mig_reader **rp)
{
	struct memsource *m;

	*rp = NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	m->buf = buf;
	m->len = len;
	if ((*rp = mig_reader_new(&mem_source_ops, m, NULL, ctx)) == NULL) {
		free(m);
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	}
	return 0;
}

int
mig_file_writer_set_durable(struct mig_writer *w, bool durable)
{
	struct fdsink *s = w->priv;

	if (w->ops != &file_sink_ops)
		return mig_seterr(w->ctx, MIG_ERR_USAGE, "not a file sink");
	s->durable = durable;
	return 0;
}
