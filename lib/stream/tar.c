/*
 * Archives on libarchive: a pax tar writer that pushes into a writer chain
 * and a reader for archive sources.  Both stream: libarchive calls back
 * with whole blocks, unbuffered, so memory stays constant.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
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
	unsigned char		 magic[4];	/* the first bytes of src */
	size_t			 nmagic;

	/* Expansion limits (mig_archive_set_limits()). */
	uint64_t		 max_ratio;	/* 0: none */
	uint64_t		 max_bytes;	/* 0: none */
	uint64_t		 in_size;	/* the archive file, or 0: unknown */
	uint64_t		 declared;	/* sizes the headers announced */
	uint64_t		 out;		/* bytes the entry readers gave */
	bool			 per_entry;	/* the format reads the file itself */
	int			 refused;	/* a limit crossed: every call fails */
	char			 refusal[MIG_ERRMSG_MAX];

	/* The current entry (the last one, at the end). */
	char			 ent_name[256];	/* printable; "": none yet */
	uint64_t		 ent_size;	/* its announced size */
	uint64_t		 ent_out;	/* its bytes given out */
	int64_t			 ent_pos;	/* file offset of its data, or -1 */
};

static void
archive_enable(struct archive *a, bool seekable)
{
	/*
	 * Not archive_read_support_format_all(): mtree would open the files
	 * an untrusted manifest names, and raw accepts anything.  Formats
	 * without library support only decline (ARCHIVE_WARN).
	 *
	 * Zip only through its central directory, never the streaming
	 * reader: local headers do not say that an entry is a symbolic link
	 * (it would land as a regular file holding the target), and a zip
	 * cut before its central directory would read as complete.
	 */
	(void)archive_read_support_format_tar(a);
	(void)archive_read_support_format_gnutar(a);
	if (seekable)
		(void)archive_read_support_format_zip_seekable(a);
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
archive_alloc(const char *name, bool seekable)
{
	struct mig_archive *ar;

	if ((ar = calloc(1, sizeof(*ar))) == NULL)
		return NULL;
	ar->fd = -1;
	ar->max_ratio = MIG_ARCHIVE_MAX_RATIO;
	ar->ent_pos = -1;
	if ((ar->name = strdup(name)) == NULL ||
	    (ar->a = archive_read_new()) == NULL) {
		free(ar->name);
		free(ar);
		return NULL;
	}
	archive_enable(ar->a, seekable);
	return ar;
}

/* True when a zip signature opens what libarchive would not read. */
static bool
looks_like_zip(const unsigned char *p, size_t n)
{
	return n >= 4 && p[0] == 'P' && p[1] == 'K' &&
	    ((p[2] == 3 && p[3] == 4) || (p[2] == 5 && p[3] == 6) ||
	    (p[2] == 7 && p[3] == 8));
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
	if ((ar = archive_alloc(path, true)) == NULL)
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
	ar->in_size = (uint64_t)st.st_size;
	if (archive_read_open_fd(ar->a, ar->fd, TAR_BUFSZ) != ARCHIVE_OK) {
		ar->nmagic = pread(ar->fd, ar->magic, sizeof(ar->magic), 0) ==
		    (ssize_t)sizeof(ar->magic) ? sizeof(ar->magic) : 0;
		if (looks_like_zip(ar->magic, ar->nmagic))
			r = mig_seterr(ctx, MIG_ERR_FORMAT, "%s: a zip without "
			    "its central directory (cut short or truncated?): "
			    "refused; a zip is read only through its central "
			    "directory, which alone says what each entry is",
			    path);
		else
			r = archive_err(ar, NULL);
		goto out_free;
	}
	ar->per_entry = archive_filter_count(ar->a) == 1;
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
	for (size_t i = 0; i < n && ar->nmagic < sizeof(ar->magic); i++)
		ar->magic[ar->nmagic++] = ar->buf[i];
	return (la_ssize_t)n;
}

int
mig_archive_open_reader(struct mig_reader *src, const char *name,
    struct mig_ctx *ctx, struct mig_archive **arp)
{
	struct mig_archive *ar;
	int r;

	*arp = NULL;
	if ((ar = archive_alloc(name, false)) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	ar->ctx = ctx;
	ar->src = src;
	if ((ar->buf = malloc(TAR_BUFSZ)) == NULL) {
		r = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_free;
	}
	if (archive_read_open(ar->a, ar, NULL, archive_in, NULL) !=
	    ARCHIVE_OK) {
		if (ar->src_err == 0 && looks_like_zip(ar->magic, ar->nmagic))
			r = mig_seterr(ctx, MIG_ERR_FORMAT, "%s: a zip read as "
			    "a stream: refused; a zip is read only from a file, "
			    "through its central directory", name);
		else
			r = archive_err(ar, NULL);
		goto out_free;
	}
	ar->per_entry = archive_filter_count(ar->a) == 1;
	*arp = ar;
	return 0;

out_free:
	mig_archive_free(ar);
	return r;
}

/* --- Expansion limits ------------------------------------------------- */

void
mig_archive_set_limits(struct mig_archive *ar, uint64_t max_ratio,
    uint64_t max_bytes)
{
	ar->max_ratio = max_ratio;
	ar->max_bytes = max_bytes;
}

/* out > in * ratio past the grace, without overflow. */
static bool
over_ratio(uint64_t out, uint64_t in, uint64_t ratio)
{
	if (ratio == 0 || out <= MIG_ARCHIVE_RATIO_GRACE)
		return false;
	return in <= (out - 1) / ratio;
}

/* The offset in the archive file (or source) libarchive consumed to. */
static int64_t
file_pos(struct mig_archive *ar)
{
	return (int64_t)archive_filter_bytes(ar->a, -1);
}

/*
 * An untrusted entry name fit for a message and the audit log: control
 * bytes, '%' and non-ASCII bytes as %XX, cut at about 240 bytes.
 */
static void
set_ent_name(struct mig_archive *ar, const char *name)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t o = 0, cap = sizeof(ar->ent_name);

	for (; *p != '\0' && o + 8 < cap && o < 240; p++) {
		if (*p < 0x20 || *p >= 0x7f || *p == '%')
			o += (size_t)snprintf(ar->ent_name + o, cap - o,
			    "%%%02X", *p);
		else
			ar->ent_name[o++] = (char)*p;
	}
	if (*p != '\0')
		o += (size_t)snprintf(ar->ent_name + o, cap - o, "...");
	ar->ent_name[o] = '\0';
}

static int	refuse(struct mig_archive *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* Refuses the archive at the current entry; every later call repeats it. */
static int
refuse(struct mig_archive *ar, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	(void)snprintf(ar->refusal, sizeof(ar->refusal), "%s: %s: %s",
	    ar->name, ar->ent_name, why);
	ar->refused = MIG_ERR_SECURITY;
	return mig_seterr(ar->ctx, ar->refused, "%s", ar->refusal);
}

static int
refused_again(struct mig_archive *ar)
{
	return mig_seterr(ar->ctx, ar->refused, "%s", ar->refusal);
}

/* All entries together: total bytes, and per byte of the archive file. */
static int
check_total(struct mig_archive *ar, uint64_t total)
{
	if (ar->max_bytes != 0 && total > ar->max_bytes)
		return refuse(ar, "the archive expands to at least %llu bytes, "
		    "more than max_expanded_bytes = %llu; refused",
		    (unsigned long long)total,
		    (unsigned long long)ar->max_bytes);
	if (ar->in_size != 0 && over_ratio(total, ar->in_size, ar->max_ratio))
		return refuse(ar, "the archive expands to at least %llu bytes "
		    "from its %llu, more than max_expansion_ratio = %llu times; "
		    "refused as a likely decompression bomb",
		    (unsigned long long)total, (unsigned long long)ar->in_size,
		    (unsigned long long)ar->max_ratio);
	return 0;
}

/*
 * The current entry, expanded to so many bytes, against the bytes its
 * data takes in the file up to offset end.  Only where the format reads
 * the file itself: through a filter (tar.gz) an entry has no compressed
 * size of its own.  An offset behind the entry's (a format that seeks
 * back) tells nothing.
 */
static int
check_entry(struct mig_archive *ar, uint64_t expanded, int64_t end)
{
	uint64_t span;

	if (!ar->per_entry || ar->ent_pos < 0 || end < ar->ent_pos)
		return 0;
	span = (uint64_t)(end - ar->ent_pos);
	if (over_ratio(expanded, span, ar->max_ratio))
		return refuse(ar, "expands to at least %llu bytes from the %llu "
		    "it takes in the archive, more than max_expansion_ratio = "
		    "%llu times; refused as a likely decompression bomb",
		    (unsigned long long)expanded, (unsigned long long)span,
		    (unsigned long long)ar->max_ratio);
	return 0;
}

/*
 * The entry before the header just read (or the end, at offset end):
 * its announced size or the bytes it gave, whichever is more, against
 * everything up to the next header, which is at least its data.
 */
static int
entry_done(struct mig_archive *ar, int64_t end)
{
	if (ar->ent_name[0] == '\0')
		return 0;
	return check_entry(ar, ar->ent_size > ar->ent_out ? ar->ent_size :
	    ar->ent_out, end);
}

/* Counts n bytes given out by the current entry, before they are. */
static int
count_out(struct mig_archive *ar, size_t n)
{
	int r;

	ar->ent_out += n;
	ar->out += n;
	if ((r = check_total(ar, ar->out)) != 0)
		return r;
	return check_entry(ar, ar->ent_out, file_pos(ar));
}

/* --- Reading entries ---------------------------------------------------- */

/*
 * What the header says the entry is.  A type it does not say (or one no
 * file system has) is MIG_ERR_FORMAT: such an entry is never taken for a
 * regular file.
 */
static int
entry_type(struct mig_archive *ar, struct archive_entry *ae,
    struct mig_archive_entry *e)
{
	const char *link;

	if ((link = archive_entry_hardlink(ae)) != NULL ||
	    (link = archive_entry_hardlink_utf8(ae)) != NULL) {
		e->type = MIG_ARCHIVE_HARDLINK;
		e->link = link;
		return 0;
	}
	switch (archive_entry_filetype(ae)) {
	case AE_IFREG:
		e->type = MIG_ARCHIVE_REGULAR;
		return 0;
	case AE_IFDIR:
		e->type = MIG_ARCHIVE_DIR;
		return 0;
	case AE_IFLNK:
		e->type = MIG_ARCHIVE_SYMLINK;
		if ((e->link = archive_entry_symlink(ae)) == NULL)
			e->link = archive_entry_symlink_utf8(ae);
		if (e->link == NULL)
			return mig_seterr(ar->ctx, MIG_ERR_FORMAT,
			    "%s: %s: symbolic link without a target", ar->name,
			    ar->ent_name);
		return 0;
	case AE_IFCHR:
	case AE_IFBLK:
	case AE_IFIFO:
	case AE_IFSOCK:
		e->type = MIG_ARCHIVE_OTHER;
		return 0;
	}
	return mig_seterr(ar->ctx, MIG_ERR_FORMAT, "%s: %s: the header does "
	    "not say what the entry is (mode %07o): refused, never read as a "
	    "regular file", ar->name, ar->ent_name,
	    (unsigned int)archive_entry_mode(ae));
}

int
mig_archive_next(struct mig_archive *ar, struct mig_archive_entry *e)
{
	struct archive_entry *ae;
	la_int64_t size;
	int64_t pos;
	int r, tries;

	memset(e, 0, sizeof(*e));
	ar->at_entry = false;
	if (ar->refused != 0)
		return refused_again(ar);
	if (ar->at_end)
		return 1;
	for (tries = 0; ; tries++) {
		r = archive_read_next_header(ar->a, &ae);
		if (r != ARCHIVE_RETRY || tries >= 4)
			break;
	}
	pos = file_pos(ar);
	if (r == ARCHIVE_EOF) {
		/* The last entry's data ends by the end of the file. */
		if ((r = entry_done(ar, ar->in_size != 0 ?
		    (int64_t)ar->in_size : pos)) != 0)
			return r;
		ar->at_end = true;
		return 1;
	}
	if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
		return archive_err(ar, NULL);
	if ((r = entry_done(ar, pos)) != 0)
		return r;
	/* The locale's form when it has one, else the stored UTF-8. */
	if ((e->name = archive_entry_pathname(ae)) == NULL &&
	    (e->name = archive_entry_pathname_utf8(ae)) == NULL)
		return mig_seterr(ar->ctx, MIG_ERR_FORMAT,
		    "%s: entry without a name", ar->name);
	set_ent_name(ar, e->name);
	ar->ent_size = ar->ent_out = 0;
	ar->ent_pos = pos;
	size = archive_entry_size(ae);
	if (archive_entry_size_is_set(ae) && size >= 0) {
		e->size = (uint64_t)size;
		e->size_known = true;
		ar->ent_size = e->size;
		ar->declared = e->size > UINT64_MAX - ar->declared ?
		    UINT64_MAX : ar->declared + e->size;
		if ((r = check_total(ar, ar->declared)) != 0)
			return r;
	}
	e->mode = archive_entry_perm(ae) & 07777;
	e->mtime = archive_entry_mtime(ae);
	if ((r = entry_type(ar, ae, e)) != 0)
		return r;
	ar->at_entry = true;
	return 0;
}

static int
entry_read(struct mig_reader *r, void *buf, size_t cap, size_t *nread)
{
	struct mig_archive *ar = r->priv;
	la_ssize_t n;
	int rc;

	if (!ar->at_entry)
		return mig_seterr(r->ctx, MIG_ERR_INTERNAL,
		    "%s: entry reader used after its entry", ar->name);
	if (ar->refused != 0)
		return refused_again(ar);
	if (cap > SSIZE_MAX)
		cap = SSIZE_MAX;
	n = archive_read_data(ar->a, buf, cap);
	if (n < 0)
		return archive_err(ar, "entry data");
	/* The piece that crosses a limit is not handed out. */
	if (n > 0 && (rc = count_out(ar, (size_t)n)) != 0)
		return rc;
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
	if (ar->refused != 0)
		return refused_again(ar);
	if (!ar->at_entry)
		return mig_seterr(ar->ctx, MIG_ERR_INTERNAL,
		    "%s: no current entry", ar->name);
	if ((*rp = mig_reader_new(&entry_reader_ops, ar, NULL, ar->ctx)) ==
	    NULL)
		return mig_seterr(ar->ctx, MIG_ERR_NOMEM, "out of memory");
	return 0;
}
