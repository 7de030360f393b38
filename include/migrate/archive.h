/*
 * Archives: a pax tar writer that streams into a writer chain, and a
 * reader for archive sources (tar in all its dialects, pax, zip, cpio,
 * 7-Zip, ISO 9660, ..., optionally compressed with gzip, bzip2, xz, lzma,
 * lzip, zstd, lz4 or compress), both on libarchive and in constant
 * memory.
 *
 * Entry names read from an archive are UNTRUSTED and returned raw, as
 * stored: they may be absolute, contain "..", empty or "." components,
 * control characters or bytes that are not UTF-8.  The caller validates
 * every name (and every link target) before using it as a path.
 */
#ifndef MIGRATE_ARCHIVE_H
#define MIGRATE_ARCHIVE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct mig_ctx;
struct mig_writer;
struct mig_reader;
struct mig_tar;
struct mig_archive;

/* --- Writing a pax tar -------------------------------------------------- */

/*
 * A pax tar writer pushing the archive into next (borrowed).  Entries are
 * written with uid/gid 0 and no owner names; names are stored as given
 * (bytes, hdrcharset=BINARY).  Returns 0 and sets *tarp, which the caller
 * frees with mig_tar_free(), or a negative MIG_ERR_*.
 */
int	mig_tar_writer_new(struct mig_writer *next, struct mig_ctx *ctx,
	    struct mig_tar **tarp);

/*
 * Adds a regular file of exactly size bytes read from content (borrowed,
 * read to its end).  mode keeps its permission bits (07777).  Content that
 * is shorter or longer than size is MIG_ERR_IO ("changed while being
 * read"); any failure leaves the archive failed: every later call fails
 * and nothing after it is published.
 */
int	mig_tar_add(struct mig_tar *tar, const char *name, uint64_t size,
	    mode_t mode, time_t mtime, struct mig_reader *content);

/* Adds a directory entry (name without or with a trailing '/'). */
int	mig_tar_add_dir(struct mig_tar *tar, const char *name, mode_t mode,
	    time_t mtime);

/*
 * Writes the end-of-archive trailer, then closes next and the rest of its
 * chain (as mig_writer_close() does).  Idempotent.
 */
int	mig_tar_close(struct mig_tar *tar);

/*
 * Frees the tar writer (not next).  Without a successful close nothing
 * more is pushed into next, which may already be freed.  NULL is a no-op.
 */
void	mig_tar_free(struct mig_tar *tar);

/* --- Reading an archive source ------------------------------------------ */

enum mig_archive_type {
	MIG_ARCHIVE_REGULAR,
	MIG_ARCHIVE_DIR,
	MIG_ARCHIVE_SYMLINK,
	MIG_ARCHIVE_HARDLINK,	/* link names another entry of the archive */
	MIG_ARCHIVE_OTHER	/* device, FIFO, socket */
};

struct mig_archive_entry {
	const char		*name;		/* raw, untrusted; borrowed */
	const char		*link;		/* symlink or hardlink target,
						   raw, untrusted; else NULL */
	uint64_t		 size;		/* 0 when !size_known */
	bool			 size_known;	/* false: the header has none */
	mode_t			 mode;		/* permission bits (07777) */
	time_t			 mtime;
	enum mig_archive_type	 type;
};

/*
 * Expansion limits against decompression bombs.  The default ratio is
 * that of Apache POI's ZipSecureFile (a minimum inflate ratio of 0.01):
 * ordinary data stays far below it (CSV and logs compress 5 to 20 times
 * with gzip or zstd, JSON up to about 30), while deflate reaches 1032:1
 * on zeros and a zip bomb is at least that.  Below the grace (1 MiB
 * expanded) no ratio is judged: a small file of zeros is no bomb, and
 * the read-ahead of a decompressor makes short spans imprecise.
 */
#define MIG_ARCHIVE_MAX_RATIO	100
#define MIG_ARCHIVE_RATIO_GRACE	(UINT64_C(1) << 20)

/*
 * Opens the archive file at path (O_NOFOLLOW: a symbolic link is
 * MIG_ERR_SECURITY).  The mtree and raw formats and the filters that run
 * external programs are not enabled.  A zip is read only through its
 * central directory, which alone says what each entry is (a symbolic
 * link, a directory): a zip without one (cut short, a truncated
 * download) is MIG_ERR_FORMAT, never read from its local headers.  The
 * limits start as MIG_ARCHIVE_MAX_RATIO and no byte limit (see
 * mig_archive_set_limits()).  Caller frees *arp with mig_archive_free().
 * An unrecognised format is MIG_ERR_FORMAT.
 */
int	mig_archive_open(const char *path, struct mig_ctx *ctx,
	    struct mig_archive **arp);

/*
 * Same over a reader (borrowed; must outlive the archive), e.g. a tar
 * coming out of age and zstd.  Formats that need seeking (7-Zip, ISO
 * 9660) are unavailable this way, and zip is refused (MIG_ERR_FORMAT):
 * a stream never reaches the central directory.  The size of the whole
 * is unknown, so only the per-entry ratio and the byte limit apply.
 * name is for messages.
 */
int	mig_archive_open_reader(struct mig_reader *src, const char *name,
	    struct mig_ctx *ctx, struct mig_archive **arp);

/*
 * Limits what ar may expand to, from now on; 0 lifts a limit.
 * max_ratio bounds the bytes the entries expand to per byte of the
 * archive file, for the whole archive (the sizes the headers announce,
 * and the bytes the entry readers hand out) and, for formats that
 * compress each entry themselves (zip, 7-Zip, ...; not a tar.gz, whose
 * compression spans entries), per entry against the bytes it takes in
 * the file.  Expansions up to MIG_ARCHIVE_RATIO_GRACE are never judged
 * by ratio.  max_bytes bounds the bytes of all entries together.
 * Bytes are counted as they come out: a limit crossed stops the read
 * there, in constant memory, with MIG_ERR_SECURITY naming the archive,
 * the entry and the limit, from mig_archive_next() or the entry reader;
 * every later call then fails the same way.
 */
void	mig_archive_set_limits(struct mig_archive *ar, uint64_t max_ratio,
	    uint64_t max_bytes);

/*
 * Moves to the next entry and describes it in *e, whose strings are
 * borrowed until the next call to mig_archive_next() or
 * mig_archive_free().  Returns 0 for an entry, 1 at the end of the
 * archive, or a negative MIG_ERR_* (MIG_ERR_FORMAT for a corrupt or
 * truncated archive, or an entry whose type the header does not
 * establish; MIG_ERR_SECURITY for a limit crossed).  Data of the
 * previous entry not read is skipped.
 */
int	mig_archive_next(struct mig_archive *ar, struct mig_archive_entry *e);

/*
 * A reader over the data of the current entry, freed by the caller with
 * mig_reader_free() before the next mig_archive_next() or
 * mig_archive_free().  Truncated data is MIG_ERR_FORMAT.
 */
int	mig_archive_entry_reader(struct mig_archive *ar,
	    struct mig_reader **rp);

/* Frees ar (and closes the file it opened).  NULL is a no-op. */
void	mig_archive_free(struct mig_archive *ar);

#endif /* MIGRATE_ARCHIVE_H */
