/*
 * Archives on libarchive: a pax tar writer that pushes into a writer chain
 * and a reader for archive sources.  Both stream: libarchive calls back
 * with whole blocks, unbuffered, so memory stays constant.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/crypto.h>

#include "migrate/archive.h"
#include "migrate/error.h"
#include "migrate/stream.h"

/* Content is pulled in pieces of this size. */
#define TAR_BUFSZ	(4 * MIG_STREAM_CHUNK)

/* --- pax tar writer ----------------------------------------------------- */

struct mig_tar {
	struct archive		*a;
	struct mig_writer	*next;		/* borrowed */
	struct mig_ctx		*ctx;		/* borrowed */
	unsigned char		*buf;
	int			 err;		/* first failure, or 0 */
	bool			 closed;
	bool			 abandoned;	/* being freed: push nothing */
};

/*
 * libarchive's output callback: straight into the next stage.  A failure
 * is recorded in t->err and the bytes are swallowed rather than refused:
 * libarchive 3.6 leaks its output state when a callback error makes the
 * archive FATAL, and every entry point checks t->err anyway.
 */
static la_ssize_t
tar_out(struct archive *a, void *client, const void *buf, size_t len)
{
	struct mig_tar *t = client;
	int r;

	(void)a;
	if (t->abandoned || t->err != 0)
		return (la_ssize_t)len;
	if ((r = mig_writer_write(t->next, buf, len)) != 0)
		t->err = r;
	return (la_ssize_t)len;
}

/* Records the failure of what, preferring an error from the chain. */
static int
tar_fail(struct mig_tar *t, const char *what)
{
	const char *s;

	if (t->err != 0)
		return t->err;
	s = archive_error_string(t->a);
	t->err = mig_seterr(t->ctx, MIG_ERR_IO, "%s: %s", what,
	    s != NULL ? s : "tar writer failed");
	return t->err;
}

static int
tar_failed(struct mig_tar *t)
{
	int code = mig_errcode(t->ctx);

	/* The first failure's message is still on ctx when code matches. */
	if (code == t->err)
		return code;
	return mig_seterr(t->ctx, t->err, "tar: archive failed earlier");
}

int
mig_tar_writer_new(struct mig_writer *next, struct mig_ctx *ctx,
    struct mig_tar **tarp)
{
	struct mig_tar *t;
	int r;

	*tarp = NULL;
	if (next == NULL)
		return mig_seterr(ctx, MIG_ERR_INTERNAL, "tar: no next stage");
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	t->next = next;
	t->ctx = ctx;
	if ((t->buf = malloc(TAR_BUFSZ)) == NULL ||
	    (t->a = archive_write_new()) == NULL) {
		r = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_free;
	}
	/*
	 * pax, no blocking: libarchive hands every piece straight to
	 * tar_out().  Names are given as UTF-8 (callers pass checked UTF-8),
	 * so no "hdrcharset=BINARY" record is needed, which GNU tar would
	 * warn about at every entry of a hand-off bundle.
	 */
	if (archive_write_set_format_pax(t->a) != ARCHIVE_OK ||
	    archive_write_add_filter_none(t->a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(t->a, 0) != ARCHIVE_OK ||
	    archive_write_open2(t->a, t, NULL, tar_out, NULL, NULL) !=
	    ARCHIVE_OK) {
		r = mig_seterr(ctx, MIG_ERR_INTERNAL, "tar: %s",
		    archive_error_string(t->a) != NULL ?
		    archive_error_string(t->a) : "setup failed");
		goto out_free;
	}
	*tarp = t;
	return 0;

out_free:
	t->abandoned = true;
	if (t->a != NULL)
		archive_write_free(t->a);
	free(t->buf);
	free(t);
	return r;
}

static bool
header_failed(int ar)
{
	return ar != ARCHIVE_OK && ar != ARCHIVE_WARN;
}

/* A header for name; the caller frees it. */
static struct archive_entry *
tar_entry(const char *name, unsigned int type, uint64_t size, mode_t mode,
    time_t mtime)
{
	struct archive_entry *e;

	if ((e = archive_entry_new()) == NULL)
		return NULL;
	if (archive_entry_update_pathname_utf8(e, name) == 0)
		archive_entry_copy_pathname(e, name);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, mode & 07777);
	archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_set_mtime(e, mtime, 0);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	return e;
}

static int
tar_usable(struct mig_tar *t)
{
	if (t->err != 0)
		return tar_failed(t);
	if (t->closed) {
		t->err = mig_seterr(t->ctx, MIG_ERR_INTERNAL,
		    "tar: entry added after close");
		return t->err;
	}
	return 0;
}

int
mig_tar_add(struct mig_tar *t, const char *name, uint64_t size, mode_t mode,
    time_t mtime, struct mig_reader *content)
{
	struct archive_entry *e;
	uint64_t total = 0;
	la_ssize_t w;
	size_t n;
	int r;

	if ((r = tar_usable(t)) != 0)
		return r;
	if (size > INT64_MAX) {
		t->err = mig_seterr(t->ctx, MIG_ERR_USAGE,
		    "%s: size out of range", name);
		return t->err;
	}
	if ((e = tar_entry(name, AE_IFREG, size, mode, mtime)) == NULL) {
		t->err = mig_seterr(t->ctx, MIG_ERR_NOMEM, "out of memory");
		return t->err;
	}
	/*
	 * ARCHIVE_WARN: a name that is not UTF-8 was stored as raw bytes
	 * (the pax writer then marks that one entry hdrcharset=BINARY).
	 */
	if (header_failed(archive_write_header(t->a, e)) || t->err != 0) {
		r = tar_fail(t, name);
		goto out_entry;
	}
	for (;;) {
		r = mig_reader_read(content, t->buf, TAR_BUFSZ, &n);
		if (r != 0) {
			t->err = r;
			goto out_entry;
		}
		if (n == 0)
			break;
		if (n > size - total) {
			r = t->err = mig_seterr(t->ctx, MIG_ERR_IO,
			    "%s: grew beyond %llu bytes while being read",
			    name, (unsigned long long)size);
			goto out_entry;
		}
		w = archive_write_data(t->a, t->buf, n);
		if (w < 0 || (size_t)w != n || t->err != 0) {
			r = tar_fail(t, name);
			goto out_entry;
		}
		total += n;
	}
	if (total != size) {
		r = t->err = mig_seterr(t->ctx, MIG_ERR_IO,
		    "%s: shrank to %llu of %llu bytes while being read", name,
		    (unsigned long long)total, (unsigned long long)size);
		goto out_entry;
	}
	if (archive_write_finish_entry(t->a) != ARCHIVE_OK || t->err != 0)
		r = tar_fail(t, name);
out_entry:
	archive_entry_free(e);
	return r;
}

int
mig_tar_add_dir(struct mig_tar *t, const char *name, mode_t mode,
    time_t mtime)
{
	struct archive_entry *e;
	int r;

	if ((r = tar_usable(t)) != 0)
		return r;
	if ((e = tar_entry(name, AE_IFDIR, 0, mode, mtime)) == NULL) {
		t->err = mig_seterr(t->ctx, MIG_ERR_NOMEM, "out of memory");
		return t->err;
	}
	if (header_failed(archive_write_header(t->a, e)) ||
	    archive_write_finish_entry(t->a) != ARCHIVE_OK || t->err != 0)
		r = tar_fail(t, name);
	archive_entry_free(e);
	return r;
}

int
mig_tar_close(struct mig_tar *t)
{
	if (t->err != 0)
		return tar_failed(t);
	if (!t->closed) {
		if (archive_write_close(t->a) != ARCHIVE_OK || t->err != 0)
			return tar_fail(t, "tar trailer");
		t->closed = true;
	}
	return mig_writer_close(t->next);
}

void
mig_tar_free(struct mig_tar *t)
{
	if (t == NULL)
		return;
	/* archive_write_free() would finish the archive: stop it at tar_out. */
	t->abandoned = true;
	archive_write_free(t->a);
	OPENSSL_cleanse(t->buf, TAR_BUFSZ);
	free(t->buf);
	free(t);
}

/* --- Archive sources ---------------------------------------------------- */

struct mig_archive {
	struct archive		*a;
	struct mig_ctx		*ctx;		/* borrowed */
	struct mig_reader	*src;		/* borrowed, or NULL */
	unsigned char		*buf;		/* for src */
	char			*name;		/* for messages */
	int			 fd;		/* ours, or -1 */
	int			 src_err;	/* failure of src, or 0 */
	bool			 at_entry;	/* an entry is current */
	bool			 at_end;	/* the end was reported */
};

static void
archive_enable(struct archive *a)
{
	/*
	 * Not archive_read_support_format_all(): mtree would open the files
	 * an untrusted manifest names, and raw accepts anything.  Formats
	 * without library support only decline (ARCHIVE_WARN).
	 */
	(void)archive_read_support_format_tar(a);
	(void)archive_read_support_format_gnutar(a);
	(void)archive_read_support_format_zip(a);
	(void)archive_read_support_format_7zip(a);
	(void)archive_read_support_format_cpio(a);
	(void)archive_read_support_format_iso9660(a);
	(void)archive_read_support_format_ar(a);
	(void)archive_read_support_format_cab(a);
	(void)archive_read_support_format_lha(a);
	(void)archive_read_support_format_rar(a);
	(void)archive_read_support_format_rar5(a);
	(void)archive_read_support_format_xar(a);
	(void)archive_read_support_format_warc(a);
	(void)archive_read_support_format_empty(a);
	/* No lrzip, grzip, lzop: those run external programs. */
	(void)archive_read_support_filter_gzip(a);
	(void)archive_read_support_filter_bzip2(a);
	(void)archive_read_support_filter_xz(a);
	(void)archive_read_support_filter_lzma(a);
	(void)archive_read_support_filter_lzip(a);
	(void)archive_read_support_filter_zstd(a);
	(void)archive_read_support_filter_lz4(a);
	(void)archive_read_support_filter_compress(a);
}

static int
archive_err(struct mig_archive *ar, const char *what)
{
	const char *s;

	if (ar->src_err != 0)
		return ar->src_err;
	s = archive_error_string(ar->a);
	return mig_seterr(ar->ctx, MIG_ERR_FORMAT, "%s: %s%s%s", ar->name,
	    what != NULL ? what : "", what != NULL ? ": " : "",
	    s != NULL ? s : "corrupt archive");
}

static struct mig_archive *
archive_alloc(const char *name)
{
	struct mig_archive *ar;

	if ((ar = calloc(1, sizeof(*ar))) == NULL)
		return NULL;
	ar->fd = -1;
	if ((ar->name = strdup(name)) == NULL ||
	    (ar->a = archive_read_new()) == NULL) {
		free(ar->name);
		free(ar);
		return NULL;
	}
	archive_enable(ar->a);
	return ar;
}

void
mig_archive_free(struct mig_archive *ar)
{
	if (ar == NULL)
		return;
	if (ar->a != NULL)
		archive_read_free(ar->a);
	if (ar->fd >= 0)
		(void)close(ar->fd);
	if (ar->buf != NULL) {
		OPENSSL_cleanse(ar->buf, TAR_BUFSZ);
		free(ar->buf);
	}
	free(ar->name);
	free(ar);
}

int
mig_archive_open(const char *path, struct mig_ctx *ctx,
    struct mig_archive **arp)
{
	struct mig_archive *ar;
	struct stat st;
	int r;

	*arp = NULL;
	if ((ar = archive_alloc(path)) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	ar->ctx = ctx;
	if ((ar->fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		if (errno == ELOOP)
			r = mig_seterr(ctx, MIG_ERR_SECURITY,
			    "%s: is a symbolic link, not followed", path);
		else
			r = mig_seterr(ctx, errno == ENOENT ? MIG_ERR_NOTFOUND :
			    MIG_ERR_IO, "%s: %s", path, strerror(errno));
		goto out_free;
	}
	if (fstat(ar->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		r = mig_seterr(ctx, MIG_ERR_IO, "%s: not a regular file",
		    path);
		goto out_free;
	}
	if (archive_read_open_fd(ar->a, ar->fd, TAR_BUFSZ) != ARCHIVE_OK) {
		r = archive_err(ar, NULL);
		goto out_free;
	}
	*arp = ar;
	return 0;

out_free:
	mig_archive_free(ar);
	return r;
}

/* libarchive's input callback over a mig_reader. */
static la_ssize_t
archive_in(struct archive *a, void *client, const void **bufp)
{
	struct mig_archive *ar = client;
	size_t n;
	int r;

	*bufp = ar->buf;
	if (ar->src_err != 0) {
		archive_set_error(a, EIO, "input failed");
		return -1;
	}
	if ((r = mig_reader_read(ar->src, ar->buf, TAR_BUFSZ, &n)) != 0) {
		ar->src_err = r;
		archive_set_error(a, EIO, "input failed");
		return -1;
	}
	return (la_ssize_t)n;
}

int
mig_archive_open_reader(struct mig_reader *src, const char *name,
    struct mig_ctx *ctx, struct mig_archive **arp)
{
	struct mig_archive *ar;
	int r;

	*arp = NULL;
	if ((ar = archive_alloc(name)) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	ar->ctx = ctx;
	ar->src = src;
	if ((ar->buf = malloc(TAR_BUFSZ)) == NULL) {
		r = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_free;
	}
	if (archive_read_open(ar->a, ar, NULL, archive_in, NULL) !=
	    ARCHIVE_OK) {
		r = archive_err(ar, NULL);
		goto out_free;
	}
	*arp = ar;
	return 0;

out_free:
	mig_archive_free(ar);
	return r;
}

int
mig_archive_next(struct mig_archive *ar, struct mig_archive_entry *e)
{
	struct archive_entry *ae;
	const char *link;
	la_int64_t size;
	int r, tries;

	memset(e, 0, sizeof(*e));
	ar->at_entry = false;
	if (ar->at_end)
		return 1;
	for (tries = 0; ; tries++) {
		r = archive_read_next_header(ar->a, &ae);
		if (r != ARCHIVE_RETRY || tries >= 4)
			break;
	}
	if (r == ARCHIVE_EOF) {
		ar->at_end = true;
		return 1;
	}
	if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
		return archive_err(ar, NULL);
	/* The locale's form when it has one, else the stored UTF-8. */
	if ((e->name = archive_entry_pathname(ae)) == NULL &&
	    (e->name = archive_entry_pathname_utf8(ae)) == NULL)
		return mig_seterr(ar->ctx, MIG_ERR_FORMAT,
		    "%s: entry without a name", ar->name);
	size = archive_entry_size(ae);
	if (archive_entry_size_is_set(ae) && size >= 0) {
		e->size = (uint64_t)size;
		e->size_known = true;
	}
	e->mode = archive_entry_perm(ae) & 07777;
	e->mtime = archive_entry_mtime(ae);
	if ((link = archive_entry_hardlink(ae)) != NULL ||
	    (link = archive_entry_hardlink_utf8(ae)) != NULL) {
		e->type = MIG_ARCHIVE_HARDLINK;
		e->link = link;
	} else {
		switch (archive_entry_filetype(ae)) {
		case AE_IFREG:
			e->type = MIG_ARCHIVE_REGULAR;
			break;
		case AE_IFDIR:
			e->type = MIG_ARCHIVE_DIR;
			break;
		case AE_IFLNK:
			e->type = MIG_ARCHIVE_SYMLINK;
			if ((e->link = archive_entry_symlink(ae)) == NULL)
				e->link = archive_entry_symlink_utf8(ae);
			if (e->link == NULL)
				return mig_seterr(ar->ctx, MIG_ERR_FORMAT,
				    "%s: symbolic link without a target",
				    ar->name);
			break;
		default:
			e->type = MIG_ARCHIVE_OTHER;
			break;
		}
	}
	ar->at_entry = true;
	return 0;
}

static int
entry_read(struct mig_reader *r, void *buf, size_t cap, size_t *nread)
{
	struct mig_archive *ar = r->priv;
	la_ssize_t n;

	if (!ar->at_entry)
		return mig_seterr(r->ctx, MIG_ERR_INTERNAL,
		    "%s: entry reader used after its entry", ar->name);
	if (cap > SSIZE_MAX)
		cap = SSIZE_MAX;
	n = archive_read_data(ar->a, buf, cap);
	if (n < 0)
		return archive_err(ar, "entry data");
	*nread = (size_t)n;
	return 0;
}

static const struct mig_reader_ops entry_reader_ops = {
	.name = "archive entry",
	.read = entry_read,
};

int
mig_archive_entry_reader(struct mig_archive *ar, struct mig_reader **rp)
{
	*rp = NULL;
	if (!ar->at_entry)
		return mig_seterr(ar->ctx, MIG_ERR_INTERNAL,
		    "%s: no current entry", ar->name);
	if ((*rp = mig_reader_new(&entry_reader_ops, ar, NULL, ar->ctx)) ==
	    NULL)
		return mig_seterr(ar->ctx, MIG_ERR_NOMEM, "out of memory");
	return 0;
}
