/*
 * migrate restore: a landed run back to plaintext files.
 *
 * The target may be writable by others (a shared scratch directory) while
 * we run as root, so nothing here acts on a path twice.  The target is
 * opened once, never through a symbolic link; every directory beneath it
 * is made and opened relative to its parent's descriptor (fdpath.c); each
 * file is written to a temporary created O_EXCL | O_NOFOLLOW in its
 * parent, gets its mode and mtime through its own descriptor (fchmod,
 * futimens), is fsynced, and only then renamed into place within that same
 * parent descriptor, never over an existing entry.  Swapping any entry
 * for a symbolic link, at any moment, redirects nothing.
 *
 * The plaintext is hashed on the way and bounded by the size the manifest
 * gives it, so a decompression bomb writes no more than the file it claims
 * to be; a file is published only when size and SHA-256 match the
 * encrypted manifest.  Names come from the manifest and are checked like
 * source names.
 */
#define MIG_LAKE_INTERNAL
#define MIG_RUN_INTERNAL
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Linux's O_TMPFILE: glibc names it only under _GNU_SOURCE. */
#if !defined(O_TMPFILE) && defined(__O_TMPFILE)
#define O_TMPFILE	__O_TMPFILE
#endif

#include <jansson.h>
#include <openssl/crypto.h>

#include "migrate/age.h"
#include "migrate/archive.h"
#include "migrate/error.h"
#include "migrate/plan.h"
#include "migrate/run.h"
#include "migrate/stream.h"
#include "migrate/testhook.h"
#include "migrate/transport.h"
#include "migrate/util.h"

#include "../lake/layout_int.h"
#include "run_int.h"

#define BUF_SIZE	(256 * 1024)

#ifndef NAME_MAX
#define NAME_MAX	255
#endif

struct rctx {
	const struct mig_restore_opts	*o;
	struct mig_ctx			*ctx;
	struct mig_transport		*t;
	int				 tofd;	/* the target directory */
	char				 run_dir[PATH_MAX];
	unsigned char			*buf;
	uint64_t			 done;
	uint64_t			 already;	/* matched as they were */
	uint64_t			 total;
};

/* What the manifest says of one file. */
struct rentry {
	const char	*rel;
	const char	*sha256;
	uint64_t	 size;
	time_t		 mtime;
	mode_t		 mode;		/* permission bits, less the umask */
};

/* A file being restored: a temporary beside its final name. */
struct rfile {
	int		 dirfd;		/* its parent; -1 when not open */
	int		 fd;		/* the temporary; -1 once closed */
	bool		 pending;	/* the temporary exists, unpublished */
	bool		 anon;		/* O_TMPFILE: it has no name at all */
	bool		 replace;	/* --overwrite: replace what is there */
	const char	*name;		/* final entry name in dirfd */
	char		 tmp[NAME_MAX + 1];
	char		 display[PATH_MAX];	/* TO/REL, for messages */
};

/*
 * What the snapshot says of one file.  The permission bits lose the
 * umask; the setuid, setgid and sticky bits are never restored: the
 * snapshot comes from a lake that is not trusted, and a restore run as
 * root must not hand out set-id programs.
 */
static int
entry_of(const struct rctx *rc, const struct snap_entry *se,
    struct rentry *e)
{
	const char *problem;

	memset(e, 0, sizeof(*e));
	e->rel = se->path;
	e->sha256 = se->sha256;
	if (se->sha256[0] == '\0')
		return mig_seterr(rc->ctx, MIG_ERR_FORMAT, "%s: manifest entry "
		    "without a SHA-256", se->path);
	if ((problem = mig_name_problem(e->rel)) != NULL)
		return mig_seterr(rc->ctx, MIG_ERR_SECURITY, "manifest path "
		    "refused (%s): nothing is written outside %s", problem,
		    rc->o->to);
	e->size = se->size;
	e->mtime = se->mtime;
	e->mode = (se->mode & 0777) & ~rc->o->umask;
	return 0;
}

/*
 * ".BASE.migrate-tmp-XXXXXXXX" into out: mig_tmp_name(), which shortens
 * BASE to fit NAME_MAX at a character boundary.
 */
static int
tmp_name(const char *base, char out[NAME_MAX + 1], struct mig_ctx *ctx)
{
	char *s;
	int r;

	if ((r = mig_tmp_name(base, &s)) == MIG_ERR_CRYPTO)
		return mig_seterr_ssl(ctx, r, "%s: random temporary name",
		    base);
	if (r != 0)
		return mig_seterr(ctx, r, "out of memory");
	(void)snprintf(out, NAME_MAX + 1, "%s", s);
	free(s);
	return 0;
}

/*
 * Opens (making it if need be) the parent of rel beneath the target and
 * creates the temporary there, 0600 while it fills.
 */
static int
rfile_open(struct rctx *rc, const char *rel, struct rfile *f)
{
	const char *slash = strrchr(rel, '/');
	char parent[PATH_MAX];
	struct stat st;
	size_t plen = slash != NULL ? (size_t)(slash - rel) : 0;
	int r, tries;

	f->name = slash != NULL ? slash + 1 : rel;
	if (plen >= sizeof(parent) ||
	    (size_t)snprintf(f->display, sizeof(f->display), "%s/%s",
	    rc->o->to, rel) >= sizeof(f->display))
		return mig_seterr(rc->ctx, MIG_ERR_IO, "%s: path too long",
		    rel);
	memcpy(parent, rel, plen);
	parent[plen] = '\0';
	if ((r = fdpath_mkdirs(rc->tofd, parent, 0755, &f->dirfd,
	    rc->ctx)) != 0)
		return mig_preferr(rc->ctx, "%s", rc->o->to);
	/*
	 * Something there already: the caller looks at it before anything
	 * is streamed (publishing checks again).
	 */
	if (!f->replace && fstatat(f->dirfd, f->name, &st,
	    AT_SYMLINK_NOFOLLOW) == 0)
		return MIG_ERR_EXISTS;
	/*
	 * A file without a name until it is whole: killed or interrupted,
	 * a restore leaves no plaintext behind.  Its name is given by
	 * linkat(2) through /proc/self/fd, so /proc must be there too.
	 */
#ifdef O_TMPFILE
	f->fd = openat(f->dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC,
	    0600);
	if (f->fd >= 0 && access("/proc/self/fd", X_OK) == 0) {
		f->anon = true;
		return 0;
	}
	if (f->fd >= 0)
		(void)close(f->fd);
#endif
	for (tries = 0; ; tries++) {
		if ((r = tmp_name(f->name, f->tmp, rc->ctx)) != 0)
			return r;
		f->fd = openat(f->dirfd, f->tmp, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (f->fd >= 0)
			break;
		if (errno != EEXIST || tries >= 8)
			return mig_seterr(rc->ctx, MIG_ERR_IO, "%s: create "
			    "temporary file: %s", f->display,
			    strerror(errno));
	}
	f->pending = true;
	return 0;
}

static int
rfile_write(struct rctx *rc, struct rfile *f, const unsigned char *p,
    size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(f->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return mig_seterr(rc->ctx, MIG_ERR_IO, "%s: write: %s",
			    f->display, strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Mode, mtime and fsync through the temporary's own descriptor. */
static int
rfile_finish(struct rctx *rc, struct rfile *f, const struct rentry *e)
{
	struct timespec ts[2];
	int fd;

	ts[0].tv_sec = ts[1].tv_sec = e->mtime;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (fchmod(f->fd, e->mode) != 0 || futimens(f->fd, ts) != 0 ||
	    fsync(f->fd) != 0)
		return mig_seterr(rc->ctx, MIG_ERR_IO, "%s: %s", f->display,
		    strerror(errno));
	if (f->anon)
		return 0;	/* closed once it has its name */
	fd = f->fd;
	f->fd = -1;
	/* close(2) can report a deferred write error (NFS, quotas). */
	if (close(fd) != 0)
		return mig_seterr(rc->ctx, MIG_ERR_IO, "%s: close: %s",
		    f->display, strerror(errno));
	return 0;
}

/* Renames the temporary to its name, in the same directory descriptor. */
static int
rfile_publish(struct rctx *rc, struct rfile *f)
{
	char proc[64];
	int r;

	if (f->anon) {
		/*
		 * linkat never replaces: an existing name is EEXIST.  With
		 * --overwrite the file gets a temporary name first, then
		 * renameat replaces what is there in one step.
		 */
		(void)snprintf(proc, sizeof(proc), "/proc/self/fd/%d", f->fd);
		if (f->replace && (r = tmp_name(f->name, f->tmp,
		    rc->ctx)) != 0)
			return r;
		if (linkat(AT_FDCWD, proc, f->dirfd, f->replace ? f->tmp :
		    f->name, AT_SYMLINK_FOLLOW) != 0)
			return mig_seterr(rc->ctx, errno == EEXIST ?
			    MIG_ERR_EXISTS : MIG_ERR_IO, "%s: %s", f->display,
			    errno == EEXIST ? "already exists, refusing to "
			    "replace it" : strerror(errno));
		r = close(f->fd);
		f->fd = -1;
		if (r != 0)
			return mig_seterr(rc->ctx, MIG_ERR_IO, "%s: close: %s",
			    f->display, strerror(errno));
		f->pending = f->replace;
	}
	if (f->replace) {
		if (renameat(f->dirfd, f->tmp, f->dirfd, f->name) != 0)
			return mig_seterr(rc->ctx, MIG_ERR_IO, "%s: %s",
			    f->display, strerror(errno));
	} else if (!f->anon && (r = fdpath_publish(f->dirfd, f->tmp, f->name,
	    rc->ctx)) != 0) {
		if (r == MIG_ERR_EXISTS)
			return mig_seterr(rc->ctx, r, "%s: already exists, "
			    "refusing to replace it", f->display);
		return mig_preferr(rc->ctx, "%s", rc->o->to);
	}
	f->pending = false;
	if (fsync(f->dirfd) != 0 && errno != EINVAL)
		return mig_seterr(rc->ctx, MIG_ERR_IO, "%s: fsync of the "
		    "directory: %s", f->display, strerror(errno));
	return 0;
}

/* Closes f; an unpublished temporary goes away. */
static void
rfile_close(struct rfile *f)
{
	if (f->fd >= 0)
		(void)close(f->fd);
	if (f->pending)
		(void)unlinkat(f->dirfd, f->tmp, 0);
	if (f->dirfd >= 0)
		(void)close(f->dirfd);
	f->fd = f->dirfd = -1;
	f->pending = f->anon = false;
}

/*
 * Copies the plaintext of rd into f's temporary, at most e->size bytes of
 * it, and checks size and SHA-256 against e.  obj names where the bytes
 * come from, for messages.
 */
static int
copy_checked(struct rctx *rc, struct mig_reader *rd, const struct rentry *e,
    struct rfile *f, const char *obj)
{
	struct mig_reader *bd = NULL, *sha = NULL;
	unsigned char md[32];
	char hex[65];
	uint64_t count;
	size_t n;
	int r;

	if ((r = mig_bounded_reader_new(rd, e->size, rc->ctx, &bd)) != 0 ||
	    (r = mig_sha256_reader_new(bd, rc->ctx, &sha)) != 0)
		goto out;
	for (;;) {
		if ((r = mig_reader_read(sha, rc->buf, BUF_SIZE, &n)) != 0) {
			mig_preferr(rc->ctx, "%s: object %s (not restored)",
			    e->rel, obj);
			goto out;
		}
		if (n == 0)
			break;
		if ((r = rfile_write(rc, f, rc->buf, n)) != 0)
			goto out;
	}
	mig_sha256_reader_result(sha, md, &count);
	mig_hex_encode(md, sizeof(md), hex);
	if (count != e->size || strcmp(hex, e->sha256) != 0)
		r = mig_seterr(rc->ctx, MIG_ERR_VERIFY, "%s: object %s: "
		    "restored plaintext does not match the manifest (size or "
		    "SHA-256); not written", e->rel, obj);
out:
	mig_reader_free(sha);
	mig_reader_free(bd);
	return r;
}

/* Reads rd to its end: its SHA-256 and length. */
static int
drain_sha(struct rctx *rc, struct mig_reader *rd, char hex[65],
    uint64_t *count)
{
	struct mig_reader *sha = NULL;
	unsigned char md[32];
	size_t n;
	int r;

	if ((r = mig_sha256_reader_new(rd, rc->ctx, &sha)) != 0)
		return r;
	do
		r = mig_reader_read(sha, rc->buf, BUF_SIZE, &n);
	while (r == 0 && n > 0);
	if (r == 0) {
		mig_sha256_reader_result(sha, md, count);
		mig_hex_encode(md, sizeof(md), hex);
	}
	mig_reader_free(sha);
	return r;
}

/*
 * The file already at TO/rel: true when it is what the snapshot says
 * (a regular file of that size, mtime, SHA-256 and permission bits), so
 * that restoring into a tree that already matches does nothing.  The
 * mtime counts: a restore promises the tree as it stood, and tools such
 * as make and rsync read it.
 */
static bool
already_there(struct rctx *rc, int dirfd, const char *name,
    const struct rentry *e)
{
	struct mig_reader *fr = NULL;
	struct stat st;
	char hex[65];
	uint64_t count = 0;
	bool same = false;
	int fd;

	if ((fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) < 0)
		return false;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size == e->size &&
	    (st.st_mode & 0777) == e->mode && st.st_mtime == e->mtime &&
	    mig_fd_reader_new(fd, rc->ctx, &fr) == 0 &&
	    drain_sha(rc, fr, hex, &count) == 0)
		same = count == e->size && strcmp(hex, e->sha256) == 0;
	mig_reader_free(fr);
	mig_clearerr(rc->ctx);
	(void)close(fd);
	return same;
}

/*
 * Writes the plaintext of rd (from obj) to TO/rel if it matches entry se.
 * A file already there is left alone when it matches, replaced with
 * --overwrite, and refused otherwise.
 */
static int
restore_one(struct rctx *rc, const struct snap_entry *se,
    struct mig_reader *rd, const char *obj)
{
	const struct mig_testhook *hook = rc->o->hook;
	struct rfile f = { .dirfd = -1, .fd = -1 };
	struct rentry e;
	int r;

	if ((r = entry_of(rc, se, &e)) != 0)
		return r;
	r = rfile_open(rc, e.rel, &f);
	if (r == MIG_ERR_EXISTS) {
		if (already_there(rc, f.dirfd, f.name, &e)) {
			rc->already++;
			r = 0;
			goto out;
		}
		if (!rc->o->overwrite) {
			r = mig_seterr(rc->ctx, MIG_ERR_EXISTS, "%s: exists and "
			    "differs from the snapshot; refusing to replace it "
			    "(--overwrite replaces files that differ)",
			    f.display);
			goto out;
		}
		rfile_close(&f);
		f.replace = true;
		r = rfile_open(rc, e.rel, &f);
	}
	if (r != 0 ||
	    (r = copy_checked(rc, rd, &e, &f, obj)) != 0 ||
	    (r = rfile_finish(rc, &f, &e)) != 0 ||
	    (r = mig_testpoint(hook, "restore.written", e.rel, e.size,
	    rc->ctx)) != 0 ||
	    (r = rfile_publish(rc, &f)) != 0 ||
	    (r = mig_testpoint(hook, "restore.published", e.rel, e.size,
	    rc->ctx)) != 0)
		goto out;
	rc->done++;
	if (rc->o->progress != NULL) {
		struct mig_run_progress pr = { "restore", rc->done, rc->total,
		    0, 0 };

		rc->o->progress(rc->o->arg, &pr);
	}
out:
	rfile_close(&f);
	return r;
}

static int
open_chain(struct rctx *rc, const char *bag, const char *obj, bool compressed,
    struct mig_reader *rds[3])
{
	char path[PATH_MAX];
	int r;

	rds[0] = rds[1] = rds[2] = NULL;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", bag, obj) >=
	    sizeof(path))
		return mig_seterr(rc->ctx, MIG_ERR_IO, "%s: path too long",
		    obj);
	if ((r = mig_transport_open_read(rc->t, path, &rds[0])) != 0 ||
	    (r = mig_age_decrypt_reader_new(rc->o->identities, rds[0],
	    rc->ctx, &rds[1])) != 0)
		return r;
	if (compressed)
		return mig_zstd_reader_new(rds[1], 0, rc->ctx, &rds[2]);
	return 0;
}

static void
close_chain(struct mig_reader *rds[3])
{
	mig_reader_free(rds[2]);
	mig_reader_free(rds[1]);
	mig_reader_free(rds[0]);
}

/* The user's PATH arguments: exact paths, directories or globs. */
static bool
selected(const struct rctx *rc, const char *path)
{
	char *const *p = rc->o->paths;
	size_t n;

	if (p == NULL || p[0] == NULL)
		return true;
	for (; *p != NULL; p++) {
		n = strlen(*p);
		while (n > 1 && (*p)[n - 1] == '/')
			n--;
		if (mig_glob_match(*p, path) || (strncmp(path, *p, n) == 0 &&
		    (path[n] == '\0' || path[n] == '/')))
			return true;
	}
	return false;
}

/*
 * A retire or repurchase run: its members from the one archive.  Entries
 * come in path order, members in archive order: the entries wait in a
 * table keyed by member.
 */
static int
restore_archive(struct rctx *rc, struct snap_reader *sr, bool compressed)
{
	struct mig_reader *rds[3] = { NULL, NULL, NULL }, *er = NULL;
	struct mig_archive *ar = NULL;
	struct mig_archive_entry e;
	struct snap_entry se;
	json_t *by_member, *o;
	char what[PATH_MAX + 64], mode[8];
	const char *obj = snap_header_of(sr)->archive;
	int r;

	if ((by_member = json_object()) == NULL)
		return mig_seterr(rc->ctx, MIG_ERR_NOMEM, "out of memory");
	while ((r = snap_next(sr, &se)) == 1) {
		if (se.member == NULL || !selected(rc, se.path))
			continue;
		(void)snprintf(mode, sizeof(mode), "%o", (unsigned)se.mode);
		if (json_object_set_new(by_member, se.member, json_pack("{s:s, "
		    "s:I, s:I, s:s, s:s}", "path", se.path, "size",
		    (json_int_t)se.size, "mtime", (json_int_t)se.mtime, "mode",
		    mode, "sha256", se.sha256)) != 0) {
			r = mig_seterr(rc->ctx, MIG_ERR_NOMEM, "out of memory");
			goto out;
		}
		rc->total++;
	}
	if (r != 0)
		goto out;
	if (obj == NULL) {
		r = mig_seterr(rc->ctx, MIG_ERR_FORMAT, "manifest names no "
		    "archive");
		goto out;
	}
	if ((r = open_chain(rc, rc->run_dir, obj, compressed, rds)) != 0 ||
	    (r = mig_archive_open_reader(rds[2] != NULL ? rds[2] : rds[1],
	    obj, rc->ctx, &ar)) != 0)
		goto out;
	while ((r = mig_archive_next(ar, &e)) == 0) {
		if ((o = json_object_get(by_member, e.name)) == NULL ||
		    e.type != MIG_ARCHIVE_REGULAR)
			continue;
		memset(&se, 0, sizeof(se));
		se.path = (char *)json_string_value(json_object_get(o, "path"));
		se.size = (uint64_t)json_integer_value(json_object_get(o,
		    "size"));
		se.mtime = (time_t)json_integer_value(json_object_get(o,
		    "mtime"));
		se.mode = (mode_t)strtoul(json_string_value(json_object_get(o,
		    "mode")), NULL, 8);
		(void)snprintf(se.sha256, sizeof(se.sha256), "%s",
		    json_string_value(json_object_get(o, "sha256")));
		(void)snprintf(what, sizeof(what), "%s, member %s", obj,
		    e.name);
		if ((r = mig_archive_entry_reader(ar, &er)) != 0 ||
		    (r = restore_one(rc, &se, er, what)) != 0)
			goto out;
		mig_reader_free(er);
		er = NULL;
	}
	r = r == 1 ? 0 : r;
out:
	mig_reader_free(er);
	mig_archive_free(ar);
	close_chain(rds);
	json_decref(by_member);
	return r;
}

/*
 * Without --overwrite a restore is all or nothing: every file the snapshot
 * would write is looked at before any is written, and files that are
 * there and differ stop it with nothing written (it once stopped at the
 * first of them, after writing every missing file sorted before it).
 * Missing parents are fine (the restore makes them); a link or a
 * non-directory on the way is refused here as it would be later.
 */
static int
conflicts_in(struct rctx *rc, const struct snap_entry *se, uint64_t *n,
    char first[PATH_MAX])
{
	const char *slash = strrchr(se->path, '/');
	const char *name = slash != NULL ? slash + 1 : se->path;
	char parent[PATH_MAX];
	struct rentry e;
	struct stat st;
	size_t plen = slash != NULL ? (size_t)(slash - se->path) : 0;
	int dirfd = rc->tofd, r;

	if ((r = entry_of(rc, se, &e)) != 0)
		return r;
	if (plen >= sizeof(parent))
		return mig_seterr(rc->ctx, MIG_ERR_IO, "%s: path too long",
		    se->path);
	memcpy(parent, se->path, plen);
	parent[plen] = '\0';
	if (plen > 0) {
		r = fdpath_open(rc->tofd, parent, O_RDONLY | O_DIRECTORY, 0,
		    &dirfd, rc->ctx);
		if (r == MIG_ERR_NOTFOUND) {
			mig_clearerr(rc->ctx);
			return 0;
		}
		if (r != 0)
			return mig_preferr(rc->ctx, "%s", rc->o->to);
	}
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    !already_there(rc, dirfd, name, &e) && (*n)++ == 0)
		(void)snprintf(first, PATH_MAX, "%s/%s", rc->o->to, se->path);
	if (dirfd != rc->tofd)
		(void)close(dirfd);
	return 0;
}

/* Counts the conflicts of the bag at rc->run_dir into *n. */
static int
conflicts_of_dir(struct rctx *rc, uint64_t *n, char first[PATH_MAX])
{
	struct snap_reader *sr = NULL;
	struct snap_entry e;
	int r;

	if ((r = snap_open_lake(rc->t, rc->run_dir, rc->o->identities, &sr,
	    rc->ctx)) != 0)
		return r;
	while ((r = snap_next(sr, &e)) == 1)
		if ((e.object != NULL || e.member != NULL) &&
		    selected(rc, e.path) &&
		    (r = conflicts_in(rc, &e, n, first)) != 0)
			break;
	snap_reader_free(sr);
	return r;
}

static int restore_dir(struct rctx *rc, const char *id);

/*
 * Opens the target directory, making it (0700) if missing.  The user names
 * it, but a symbolic link planted under that name by whoever can write
 * beside it would send the whole restore elsewhere, so the last component
 * must be a real directory; O_NOFOLLOW keeps it so between the look and
 * the open.
 */
static int
open_target(const char *to, int *fdp, struct mig_ctx *ctx)
{
	char path[PATH_MAX];
	struct stat st;
	size_t n = strlen(to);
	int fd;

	*fdp = -1;
	/* A trailing '/' would make open(2) follow a link, O_NOFOLLOW or not. */
	while (n > 1 && to[n - 1] == '/')
		n--;
	if (n == 0 || n >= sizeof(path))
		return mig_seterr(ctx, MIG_ERR_USAGE, "--to: empty or too "
		    "long");
	memcpy(path, to, n);
	path[n] = '\0';
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
		return mig_seterr(ctx, MIG_ERR_SECURITY, "%s: --to is a "
		    "symbolic link; refusing to restore through it (name "
		    "the directory itself)", to);
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return mig_seterr(ctx, MIG_ERR_IO, "%s: %s", to,
		    strerror(errno));
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0) {
		if (errno == ENOTDIR || errno == ELOOP)
			return mig_seterr(ctx, MIG_ERR_SECURITY, "%s: --to is "
			    "not a directory (or is a symbolic link); refusing "
			    "to restore into it", to);
		return mig_seterr(ctx, MIG_ERR_IO, "%s: %s", to,
		    strerror(errno));
	}
	*fdp = fd;
	return 0;
}

/* Restore refuses at the first disagreement; it is named in the error. */
struct refusal {
	uint64_t	n;
	char		first[MIG_ERRMSG_MAX];
};

static void
refuse(void *arg, enum mig_finding_kind kind, const char *path,
    const char *detail)
{
	struct refusal *rf = arg;

	(void)kind;
	if (rf->n++ == 0)
		(void)snprintf(rf->first, sizeof(rf->first), "%.400s: %.500s",
		    path, detail);
}

static int
refused(struct rctx *rc, const struct refusal *rf, int r)
{
	if (rf->n == 0 && r != MIG_ERR_VERIFY)
		return r;
	return mig_seterr(rc->ctx, MIG_ERR_VERIFY, "restore refused: %s%s; "
	    "`migrate verify` names every problem", rf->n > 0 ? rf->first :
	    mig_errmsg(rc->ctx), rf->n > 1 ? " (and more)" : "");
}

/*
 * The run through the audit log (trust.c), as verify finds it: base gets
 * its directory, id its run id.
 */
static int
trusted_run(struct rctx *rc, struct run_trust *tr, char *base, size_t size,
    char id[32])
{
	struct refusal rf = { 0, "" };
	struct trust_sink sk = { refuse, &rf };
	int r;

	r = trust_open(rc->t, rc->o->plan, rc->o->seal_pub, rc->o->run_id,
	    &sk, tr, rc->ctx);
	if (r != 0 || rf.n > 0)
		return refused(rc, &rf, r);
	(void)snprintf(base, size, "%s", tr->dir);
	(void)snprintf(id, 32, "%s", tr->id);
	return 0;
}

/* Every bag of the run agrees with the record, before a file is written. */
static int
trusted_shards(struct rctx *rc, const struct run_trust *tr, const char *base,
    char **shards, size_t nshards)
{
	struct refusal rf = { 0, "" };
	struct trust_sink sk = { refuse, &rf };
	char dir[PATH_MAX];
	size_t s;
	int r = 0;

	for (s = 0; s < (nshards == 0 ? 1 : nshards) && r == 0; s++) {
		if ((r = mig_lake_bag_dir(dir, sizeof(dir), base, shards,
		    nshards, s, rc->ctx)) != 0)
			return r;
		r = trust_check_bag_t(rc->t, tr, dir, &sk, rc->ctx);
	}
	if (r != 0 || rf.n > 0)
		return refused(rc, &rf, r);
	return 0;
}

int
mig_restore_run(const struct mig_restore_opts *o,
    struct mig_restore_summary *sum, struct mig_ctx *ctx)
{
	struct rctx rc;
	struct run_trust tr;
	char id[32], base[PATH_MAX];
	char **shards = NULL;
	char first[PATH_MAX] = "";
	size_t nshards = 0, s;
	uint64_t nconflict = 0;
	int r, shardn = 0, pass;

	memset(sum, 0, sizeof(*sum));
	memset(&rc, 0, sizeof(rc));
	memset(&tr, 0, sizeof(tr));
	rc.o = o;
	rc.ctx = ctx;
	rc.tofd = -1;
	if ((rc.buf = malloc(BUF_SIZE)) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	if ((r = mig_transport_open(o->tcfg, ctx, &rc.t)) != 0 ||
	    (r = trusted_run(&rc, &tr, base, sizeof(base), id)) != 0 ||
	    (r = mig_lake_list_shards(rc.t, base, &shards, &nshards, &shardn,
	    ctx)) != 0 ||
	    (r = trusted_shards(&rc, &tr, base, shards, nshards)) != 0 ||
	    (r = open_target(o->to, &rc.tofd, ctx)) != 0)
		goto out;
	/*
	 * A sharded run is reassembled: every shard into the same tree.
	 * Without --overwrite, a first pass over every shard finds what
	 * would be refused before anything is written.
	 */
	for (pass = o->overwrite ? 1 : 0; pass < 2; pass++) {
		for (s = 0; s < (nshards == 0 ? 1 : nshards); s++) {
			if ((r = mig_lake_bag_dir(rc.run_dir,
			    sizeof(rc.run_dir), base, shards, nshards, s,
			    ctx)) != 0 ||
			    (r = pass == 0 ? conflicts_of_dir(&rc, &nconflict,
			    first) : restore_dir(&rc, id)) != 0)
				goto out;
		}
		if (pass == 0 && nconflict > 0) {
			r = mig_seterr(ctx, MIG_ERR_EXISTS, "%s: exists and "
			    "differs from the snapshot (%llu file%s of the "
			    "restore do); refusing to replace it, nothing was "
			    "restored (--overwrite replaces files that "
			    "differ)", first, (unsigned long long)nconflict,
			    nconflict == 1 ? "" : "s");
			goto out;
		}
	}
out:
	sum->restored = rc.done;
	sum->already = rc.already;
	(void)snprintf(sum->run_id, sizeof(sum->run_id), "%s", tr.id);
	trust_close(&tr);
	mig_lake_free_names(shards, nshards);
	mig_transport_close(rc.t);
	if (rc.tofd >= 0)
		(void)close(rc.tofd);
	/* Plaintext passed through it. */
	OPENSSL_cleanse(rc.buf, BUF_SIZE);
	free(rc.buf);
	return r;
}

/*
 * Restores the snapshot of the bag at rc->run_dir: every file as of that
 * run, each object fetched from the run that holds it (this one, or the
 * earlier run that landed it), its plaintext checked against the
 * snapshot, which the audit log vouches for (trust.c).
 */
static int
restore_dir(struct rctx *rc, const char *id)
{
	struct mig_ctx *ctx = rc->ctx;
	struct mig_reader *rds[3];
	struct snap_reader *sr = NULL;
	struct snap_entry e;
	bool compressed;
	int r;

	if ((r = snap_open_lake(rc->t, rc->run_dir, rc->o->identities, &sr,
	    ctx)) != 0)
		return r;
	compressed = snap_header_of(sr)->compressed;
	if (snap_header_of(sr)->archive != NULL) {
		r = restore_archive(rc, sr, compressed);
		goto out;
	}
	while ((r = snap_next(sr, &e)) == 1) {
		if (!selected(rc, e.path))
			continue;
		if (e.object == NULL) {
			r = mig_seterr(ctx, MIG_ERR_USAGE, "run %s holds an "
			    "inventory only (retain): there is nothing to "
			    "restore", id);
			goto out;
		}
		rc->total++;
		r = open_chain(rc, e.bag, e.object, compressed, rds);
		if (r == 0)
			r = restore_one(rc, &e, rds[2] != NULL ? rds[2] :
			    rds[1], e.object);
		close_chain(rds);
		if (r != 0)
			goto out;
	}
out:
	snap_reader_free(sr);
	return r;
}
