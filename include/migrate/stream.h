/*
 * Composable byte streams.
 *
 * A writer accepts bytes (push); a filter writer transforms them and
 * pushes the result into the writer after it ("next").  A reader yields
 * bytes (pull); a filter reader pulls from the reader under it ("src").
 * The run pipeline is one chain of writers:
 *
 *   source -> sha256 -> [zstd] -> age -> sha256 -> sink (file/transport)
 *
 * and restore/verify are chains of readers.  Every stage works in
 * constant memory whatever the stream length.
 *
 * Ownership: a filter BORROWS its next/src; whoever built the chain frees
 * every stage (in any order, after closing).  mig_writer_close() finishes
 * the stage (flushes trailers) and then closes the rest of the chain, so
 * closing the head of a pipeline finishes it all.  A stage that failed,
 * or is freed without being closed, abandons its output: a file sink then
 * removes its temporary file, so nothing half-written is ever published.
 */
#ifndef MIGRATE_STREAM_H
#define MIGRATE_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>


struct mig_ctx;
struct mig_writer;
struct mig_reader;

/* Preferred buffer size through a pipeline: one age payload chunk. */
#define MIG_STREAM_CHUNK	(64 * 1024)

struct mig_writer_ops {
	const char	*name;
	/* Consume len bytes. */
	int		(*write)(struct mig_writer *w, const void *buf,
			    size_t len);
	/* Finish this stage (flush trailers into next); do not close next. */
	int		(*close)(struct mig_writer *w);
	/* Release priv; must abandon output if close did not succeed. */
	void		(*free)(struct mig_writer *w);
};

struct mig_writer {
	const struct mig_writer_ops	*ops;
	void				*priv;
	struct mig_writer		*next;	/* borrowed; NULL for sinks */
	struct mig_ctx			*ctx;	/* borrowed; errors go here */
	bool				 closed;
	bool				 failed;
};

struct mig_reader_ops {
	const char	*name;
	/*
	 * Read up to cap bytes into buf; *nread = 0 means end of stream.
	 * A reader must detect truncation itself and fail rather than report
	 * a clean end when its format says more was due.
	 */
	int		(*read)(struct mig_reader *r, void *buf, size_t cap,
			    size_t *nread);
	void		(*free)(struct mig_reader *r);
};

struct mig_reader {
	const struct mig_reader_ops	*ops;
	void				*priv;
	struct mig_reader		*src;	/* borrowed; NULL for sources */
	struct mig_ctx			*ctx;
};

/*
 * Generic constructors for stage implementations.  Return NULL only on
 * ENOMEM; on NULL the caller still owns priv.
 */
struct mig_writer *mig_writer_new(const struct mig_writer_ops *ops,
		    void *priv, struct mig_writer *next, struct mig_ctx *ctx);
struct mig_reader *mig_reader_new(const struct mig_reader_ops *ops,
		    void *priv, struct mig_reader *src, struct mig_ctx *ctx);

/* Push len bytes into w.  After a failure, every later call fails. */
int	mig_writer_write(struct mig_writer *w, const void *buf, size_t len);
/* Finish w and then every stage after it.  Idempotent. */
int	mig_writer_close(struct mig_writer *w);
/* Free w only (not next).  NULL is a no-op. */
void	mig_writer_free(struct mig_writer *w);

/* Read from r; *nread = 0 at end of stream. */
int	mig_reader_read(struct mig_reader *r, void *buf, size_t cap,
	    size_t *nread);
/* Read exactly len bytes; MIG_ERR_FORMAT on a short stream. */
int	mig_reader_read_full(struct mig_reader *r, void *buf, size_t len);
/* Free r only (not src).  NULL is a no-op. */
void	mig_reader_free(struct mig_reader *r);

/*
 * Pump r into w until end of stream, then close w (and its chain).
 * *total, when not NULL, receives the byte count.
 */
int	mig_stream_copy(struct mig_reader *r, struct mig_writer *w,
	    uint64_t *total);

/* --- File stages ------------------------------------------------------ */

/*
 * Sink that writes to a temporary file beside path ("DIR/.BASE.migrate-tmp-XXXXXXXX"),
 * and on close fsyncs it, renames it to path and fsyncs the directory.
 * Freed without a successful close, it unlinks the temporary.
 * mode is applied to the new file.  Refuses to replace an existing path
 * unless overwrite is set.
 */
int	mig_file_writer_new(const char *path, mode_t mode, bool overwrite,
	    struct mig_ctx *ctx, struct mig_writer **wp);
/*
 * A file sink fsyncs the file and its directory on close (durable, the
 * default for anything a run lands).  A one-off output the user can
 * simply write again (encrypt, decrypt) may skip that, as age(1) does;
 * the temporary-then-rename publication stays.  Only for file sinks.
 */
int	mig_file_writer_set_durable(struct mig_writer *w, bool durable);
/* Sink on an open descriptor it does not own (stdout); close does not fsync. */
int	mig_fd_writer_new(int fd, struct mig_ctx *ctx, struct mig_writer **wp);
/* Sink that discards everything. */
int	mig_null_writer_new(struct mig_ctx *ctx, struct mig_writer **wp);

/* Source reading a file (opened O_NOFOLLOW unless follow is set). */
int	mig_file_reader_new(const char *path, bool follow,
	    struct mig_ctx *ctx, struct mig_reader **rp);
/* Source reading an open descriptor it does not own. */
int	mig_fd_reader_new(int fd, struct mig_ctx *ctx, struct mig_reader **rp);
/* Source reading a memory buffer (borrowed). */
int	mig_mem_reader_new(const void *buf, size_t len, struct mig_ctx *ctx,
	    struct mig_reader **rp);
/* Sink collecting into a growing memory buffer, bounded by max bytes. */
int	mig_mem_writer_new(size_t max, struct mig_ctx *ctx,
	    struct mig_writer **wp);
/* Borrowed view of what a memory writer holds. */
const unsigned char *mig_mem_writer_data(const struct mig_writer *w,
	    size_t *lenp);

/* --- Hashing and counting ---------------------------------------------- */

/*
 * Pass-through filter that hashes (SHA-256) and counts what flows through.
 * Read the result with mig_sha256_writer_result() (or _reader_result())
 * after close.
 */
int	mig_sha256_writer_new(struct mig_writer *next, struct mig_ctx *ctx,
	    struct mig_writer **wp);
int	mig_sha256_reader_new(struct mig_reader *src, struct mig_ctx *ctx,
	    struct mig_reader **rp);
/* Digest and byte count so far; valid after the stream ended. */
void	mig_sha256_writer_result(const struct mig_writer *w,
	    unsigned char digest[32], uint64_t *count);
void	mig_sha256_reader_result(const struct mig_reader *r,
	    unsigned char digest[32], uint64_t *count);

/*
 * Asynchronous stage: a thread pushes what is written into next (bounded
 * queue of 4 MiB).  The stages from next on must report errors on
 * next_ctx, which only that thread uses; failures are copied to ctx.
 * Closing drains the queue and closes next's chain from the thread;
 * freeing without a close stops it without closing the chain (so a sink
 * abandons its temporary).
 */
int	mig_async_writer_new(struct mig_writer *next, struct mig_ctx *next_ctx,
	    struct mig_ctx *ctx, struct mig_writer **wp);

/* Tee: every byte goes to a and to b (both borrowed). */
int	mig_tee_writer_new(struct mig_writer *a, struct mig_writer *b,
	    struct mig_ctx *ctx, struct mig_writer **wp);

/*
 * Pass-through filter reader that lets at most max bytes through: the
 * read that would cross the bound fails with MIG_ERR_VERIFY (and passes
 * none of that read's bytes), as does every read after it.  It asks src
 * for at most one byte beyond the bound, so a decompressing src stops
 * there too.  For plaintext whose size is known in advance.
 */
int	mig_bounded_reader_new(struct mig_reader *src, uint64_t max,
	    struct mig_ctx *ctx, struct mig_reader **rp);

/* --- Bandwidth limit (ratelimit.c) ---------------------------------------- */

/* Credit an idle link may save up, in milliseconds of the rate. */
#define MIG_RATELIMIT_BURST_MS	100

/*
 * A budget of bytes per second, thread-safe, shared by every stage made
 * from it (all the connections of a run).  MIG_ERR_USAGE for a rate of
 * 0 (no limit: make no limiter), MIG_ERR_NOMEM.
 */
struct mig_ratelimit;
int	mig_ratelimit_new(uint64_t bytes_per_sec, struct mig_ratelimit **rlp);
void	mig_ratelimit_free(struct mig_ratelimit *rl);
/* Waits until len more bytes fit the rate.  NULL: no limit. */
void	mig_ratelimit_take(struct mig_ratelimit *rl, size_t len);
/*
 * Pass-through filter that holds what it passes to next to the rate of
 * rl (borrowed: it must outlive the stage).
 */
int	mig_ratelimit_writer_new(struct mig_ratelimit *rl,
	    struct mig_writer *next, struct mig_ctx *ctx,
	    struct mig_writer **wp);

/* --- Compression --------------------------------------------------------- */

/* zstd compression filter at level (1..19), streaming API. */
int	mig_zstd_writer_new(int level, struct mig_writer *next,
	    struct mig_ctx *ctx, struct mig_writer **wp);
/*
 * zstd decompression filter reader.  Truncated frames are MIG_ERR_FORMAT.
 * Output larger than max_out bytes (0: unbounded) is refused, which stops
 * decompression bombs.
 */
int	mig_zstd_reader_new(struct mig_reader *src, uint64_t max_out,
	    struct mig_ctx *ctx, struct mig_reader **rp);

#endif /* MIGRATE_STREAM_H */
