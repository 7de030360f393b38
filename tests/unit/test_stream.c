/*
 * Unit tests for lib/stream: plumbing, file/memory stages, SHA-256, tee,
 * zstd, the bounded reader, hex and the tar writer / archive reader.
 */
#include <sys/stat.h>
#include <pthread.h>
#include <time.h>

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
#include <openssl/evp.h>

#include <archive.h>
#include <archive_entry.h>
#include <zstd.h>

#include "migrate/archive.h"
#include "migrate/error.h"
#include "migrate/stream.h"
#include "migrate/util.h"
#include "migrate/transport.h"

#include "testutil.h"

static char tmpdir[256];
static struct mig_ctx *ctx;

static int
setup(void **state)
{
	(void)state;
	if (tu_mkdtemp(tmpdir, sizeof(tmpdir), "test_stream") != 0)
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

static void
path_in(char *buf, size_t n, const char *name)
{
	if (snprintf(buf, n, "%s/%s", tmpdir, name) >= (int)n)
		fail_msg("path too long");
}

/* Entries of tmpdir whose name contains MIG_TMP_INFIX. */
static int
count_temporaries(void)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	d = opendir(tmpdir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strstr(de->d_name, MIG_TMP_INFIX) != NULL)
			n++;
	closedir(d);
	return n;
}

/* Deterministic test data: compressible when text is set, else noise. */
static unsigned char *
make_data(size_t len, bool text)
{
	unsigned char *p = malloc(len ? len : 1);
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	size_t i;

	assert_non_null(p);
	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = text ? (unsigned char)("migrate lake "[x % 13]) :
		    (unsigned char)x;
	}
	return p;
}

/* Reads r to its end in pieces of at most cap into a new buffer. */
static int
slurp(struct mig_reader *r, size_t cap, unsigned char **bufp, size_t *lenp)
{
	unsigned char *buf = NULL, *tmp;
	size_t len = 0, n;
	int rc;

	*bufp = NULL;
	*lenp = 0;
	if ((tmp = malloc(cap)) == NULL)
		return MIG_ERR_NOMEM;
	for (;;) {
		if ((rc = mig_reader_read(r, tmp, cap, &n)) != 0)
			break;
		if (n == 0)
			break;
		buf = realloc(buf, len + n);
		assert_non_null(buf);
		memcpy(buf + len, tmp, n);
		len += n;
	}
	free(tmp);
	if (rc != 0) {
		free(buf);
		return rc;
	}
	*bufp = buf;
	*lenp = len;
	return 0;
}

static void
write_file(const char *path, const void *buf, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(buf, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static unsigned char *
read_file(const char *path, size_t *lenp)
{
	struct mig_reader *r;
	unsigned char *buf;

	assert_int_equal(mig_file_reader_new(path, false, ctx, &r), 0);
	assert_int_equal(slurp(r, 65536, &buf, lenp), 0);
	mig_reader_free(r);
	return buf;
}

/* --- A sink that fails on demand, counting calls ------------------------ */

struct failsink {
	int	writes;
	int	closes;
	int	fail_write_at;	/* 1-based; 0 never */
	bool	fail_close;
};

static int
fs_write(struct mig_writer *w, const void *buf, size_t len)
{
	struct failsink *f = w->priv;

	(void)buf;
	(void)len;
	f->writes++;
	if (f->fail_write_at != 0 && f->writes >= f->fail_write_at)
		return mig_seterr(w->ctx, MIG_ERR_NET, "sink: injected");
	return 0;
}

static int
fs_close(struct mig_writer *w)
{
	struct failsink *f = w->priv;

	f->closes++;
	if (f->fail_close)
		return mig_seterr(w->ctx, MIG_ERR_NET, "sink: close injected");
	return 0;
}

static const struct mig_writer_ops failsink_ops = {
	.name = "failsink",
	.write = fs_write,
	.close = fs_close,
};

/* --- Plumbing ----------------------------------------------------------- */

static void
test_stream__writer_state(void **state)
{
	struct failsink f = { .fail_write_at = 2 };
	struct mig_writer *w, *sha;

	(void)state;
	w = mig_writer_new(&failsink_ops, &f, NULL, ctx);
	assert_non_null(w);
	assert_int_equal(mig_sha256_writer_new(w, ctx, &sha), 0);
	assert_int_equal(mig_writer_write(sha, "a", 1), 0);
	assert_int_equal(mig_writer_write(sha, "b", 1), MIG_ERR_NET);
	assert_true(sha->failed);
	assert_true(w->failed);
	/* Every later call fails and does not reach the sink. */
	assert_int_equal(mig_writer_write(sha, "c", 1), MIG_ERR_NET);
	assert_int_equal(mig_writer_close(sha), MIG_ERR_NET);
	assert_int_equal(f.writes, 2);
	assert_int_equal(f.closes, 0);
	assert_non_null(strstr(mig_errmsg(ctx), "injected"));
	mig_writer_free(sha);
	mig_writer_free(w);
	mig_writer_free(NULL);
}

static void
test_stream__close_idempotent(void **state)
{
	struct failsink f = { 0 };
	struct mig_writer *w, *sha;

	(void)state;
	w = mig_writer_new(&failsink_ops, &f, NULL, ctx);
	assert_non_null(w);
	assert_int_equal(mig_sha256_writer_new(w, ctx, &sha), 0);
	assert_int_equal(mig_writer_write(sha, "abc", 3), 0);
	assert_int_equal(mig_writer_write(sha, "", 0), 0);
	assert_int_equal(mig_writer_close(sha), 0);
	assert_int_equal(mig_writer_close(sha), 0);
	assert_int_equal(mig_writer_close(w), 0);
	assert_int_equal(f.closes, 1);
	/* Writing after close is a bug, reported as such. */
	assert_int_equal(mig_writer_write(sha, "x", 1), MIG_ERR_INTERNAL);
	mig_writer_free(sha);
	mig_writer_free(w);
}

static void
test_stream__close_failure_downstream(void **state)
{
	struct failsink f = { .fail_close = true };
	struct mig_writer *w, *sha;

	(void)state;
	w = mig_writer_new(&failsink_ops, &f, NULL, ctx);
	assert_non_null(w);
	assert_int_equal(mig_sha256_writer_new(w, ctx, &sha), 0);
	assert_int_equal(mig_writer_close(sha), MIG_ERR_NET);
	/* A second close still reports the sink's failure. */
	assert_int_equal(mig_writer_close(sha), MIG_ERR_NET);
	assert_int_equal(f.closes, 1);
	mig_writer_free(sha);
	mig_writer_free(w);
}

static void
test_stream__read_full(void **state)
{
	struct mig_reader *r;
	unsigned char buf[8];

	(void)state;
	assert_int_equal(mig_mem_reader_new("hello", 5, ctx, &r), 0);
	assert_int_equal(mig_reader_read_full(r, buf, 3), 0);
	assert_memory_equal(buf, "hel", 3);
	assert_int_equal(mig_reader_read_full(r, buf, 3), MIG_ERR_FORMAT);
	mig_reader_free(r);
	mig_reader_free(NULL);
}

static void
test_stream__mem_roundtrip(void **state)
{
	struct mig_reader *r;
	struct mig_writer *w;
	const unsigned char *out;
	unsigned char *data;
	uint64_t total;
	size_t len;

	(void)state;
	data = make_data(300000, false);
	assert_int_equal(mig_mem_reader_new(data, 300000, ctx, &r), 0);
	assert_int_equal(mig_mem_writer_new(0, ctx, &w), 0);
	assert_int_equal(mig_stream_copy(r, w, &total), 0);
	assert_int_equal(total, 300000);
	out = mig_mem_writer_data(w, &len);
	assert_int_equal(len, 300000);
	assert_memory_equal(out, data, len);
	assert_true(w->closed);
	mig_writer_free(w);
	mig_reader_free(r);
	free(data);
}

static void
test_stream__mem_writer_limit(void **state)
{
	struct mig_writer *w;
	size_t len;

	(void)state;
	assert_int_equal(mig_mem_writer_new(10, ctx, &w), 0);
	assert_non_null(mig_mem_writer_data(w, &len));
	assert_int_equal(len, 0);
	assert_int_equal(mig_writer_write(w, "0123456789", 10), 0);
	assert_int_equal(mig_writer_write(w, "x", 1), MIG_ERR_FORMAT);
	mig_writer_free(w);
	/* Not a memory writer. */
	assert_int_equal(mig_null_writer_new(ctx, &w), 0);
	assert_null(mig_mem_writer_data(w, &len));
	assert_int_equal(mig_writer_write(w, "x", 1), 0);
	assert_int_equal(mig_writer_close(w), 0);
	mig_writer_free(w);
}

/* --- SHA-256 ------------------------------------------------------------ */

static void
check_sha(const void *buf, size_t len, size_t piece, const char *want)
{
	struct mig_writer *w;
	struct mig_reader *m, *r;
	unsigned char d[32], *back;
	char hex[65];
	uint64_t count;
	size_t off, n, blen;

	assert_int_equal(mig_sha256_writer_new(NULL, ctx, &w), 0);
	for (off = 0; off < len; off += n) {
		n = len - off < piece ? len - off : piece;
		assert_int_equal(mig_writer_write(w,
		    (const unsigned char *)buf + off, n), 0);
	}
	assert_int_equal(mig_writer_close(w), 0);
	mig_sha256_writer_result(w, d, &count);
	mig_hex_encode(d, 32, hex);
	assert_string_equal(hex, want);
	assert_int_equal(count, len);
	mig_writer_free(w);

	assert_int_equal(mig_mem_reader_new(buf, len, ctx, &m), 0);
	assert_int_equal(mig_sha256_reader_new(m, ctx, &r), 0);
	assert_int_equal(slurp(r, piece, &back, &blen), 0);
	assert_int_equal(blen, len);
	mig_sha256_reader_result(r, d, &count);
	mig_hex_encode(d, 32, hex);
	assert_string_equal(hex, want);
	assert_int_equal(count, len);
	free(back);
	mig_reader_free(r);
	mig_reader_free(m);
}

static void
test_stream__sha256_known(void **state)
{
	unsigned char *million;

	(void)state;
	check_sha("", 0, 1,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	check_sha("abc", 3, 1,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	check_sha("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	    56, 7,
	    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	million = malloc(1000000);
	assert_non_null(million);
	memset(million, 'a', 1000000);
	check_sha(million, 1000000, 65536,
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	check_sha(million, 1000000, 999,
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(million);
}

static void
test_stream__sha256_passthrough(void **state)
{
	struct mig_writer *mem, *sha;
	const unsigned char *out;
	unsigned char d[32];
	char hex[65];
	uint64_t count;
	size_t len;

	(void)state;
	assert_int_equal(mig_mem_writer_new(0, ctx, &mem), 0);
	assert_int_equal(mig_sha256_writer_new(mem, ctx, &sha), 0);
	assert_int_equal(mig_writer_write(sha, "ab", 2), 0);
	/* Digest so far, before the end. */
	mig_sha256_writer_result(sha, d, &count);
	assert_int_equal(count, 2);
	assert_int_equal(mig_writer_write(sha, "c", 1), 0);
	assert_int_equal(mig_writer_close(sha), 0);
	assert_true(mem->closed);
	mig_sha256_writer_result(sha, d, &count);
	mig_hex_encode(d, 32, hex);
	assert_string_equal(hex,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	out = mig_mem_writer_data(mem, &len);
	assert_int_equal(len, 3);
	assert_memory_equal(out, "abc", 3);
	/* Result of a writer that is not a SHA-256 tap: zeros. */
	mig_sha256_writer_result(mem, d, &count);
	assert_int_equal(count, 0);
	assert_int_equal(d[0] | d[31], 0);
	mig_writer_free(sha);
	mig_writer_free(mem);
}

/* --- Hex ---------------------------------------------------------------- */

static void
test_stream__hex(void **state)
{
	static const unsigned char bin[4] = { 0x00, 0x9f, 0xa0, 0xff };
	unsigned char out[4];
	char hex[9];

	(void)state;
	mig_hex_encode(bin, 4, hex);
	assert_string_equal(hex, "009fa0ff");
	assert_int_equal(mig_hex_decode("009fa0ff", out, 4), 0);
	assert_memory_equal(out, bin, 4);
	assert_int_equal(mig_hex_decode("009FA0FF", out, 4), 0);
	assert_memory_equal(out, bin, 4);
	assert_int_equal(mig_hex_decode("009fa0ff  path", out, 4), 0);
	assert_int_equal(mig_hex_decode("009fa0f", out, 4), MIG_ERR_FORMAT);
	assert_int_equal(mig_hex_decode("009fa0fg", out, 4), MIG_ERR_FORMAT);
	assert_int_equal(mig_hex_decode("009fa0ff0", out, 4), MIG_ERR_FORMAT);
	assert_int_equal(mig_hex_decode("", out, 0), 0);
	mig_hex_encode(bin, 0, hex);
	assert_string_equal(hex, "");
}

/* --- Tee ---------------------------------------------------------------- */

static void
test_stream__tee(void **state)
{
	struct mig_writer *a, *b, *sha, *tee;
	const unsigned char *pa, *pb;
	size_t la, lb;
	struct failsink f = { .fail_write_at = 1 };
	struct mig_writer *bad;

	(void)state;
	assert_int_equal(mig_mem_writer_new(0, ctx, &a), 0);
	assert_int_equal(mig_sha256_writer_new(NULL, ctx, &sha), 0);
	assert_int_equal(mig_mem_writer_new(0, ctx, &b), 0);
	assert_int_equal(mig_tee_writer_new(a, b, ctx, &tee), 0);
	assert_int_equal(mig_writer_write(tee, "hello ", 6), 0);
	assert_int_equal(mig_writer_write(tee, "world", 5), 0);
	assert_int_equal(mig_writer_close(tee), 0);
	assert_true(a->closed);
	assert_true(b->closed);
	pa = mig_mem_writer_data(a, &la);
	pb = mig_mem_writer_data(b, &lb);
	assert_int_equal(la, 11);
	assert_int_equal(lb, 11);
	assert_memory_equal(pa, "hello world", 11);
	assert_memory_equal(pb, "hello world", 11);
	mig_writer_free(tee);
	mig_writer_free(sha);
	mig_writer_free(b);
	mig_writer_free(a);

	/* A failing branch fails the tee. */
	assert_int_equal(mig_mem_writer_new(0, ctx, &a), 0);
	bad = mig_writer_new(&failsink_ops, &f, NULL, ctx);
	assert_non_null(bad);
	assert_int_equal(mig_tee_writer_new(a, bad, ctx, &tee), 0);
	assert_int_equal(mig_writer_write(tee, "x", 1), MIG_ERR_NET);
	assert_int_equal(mig_writer_close(tee), MIG_ERR_NET);
	mig_writer_free(tee);
	mig_writer_free(bad);
	mig_writer_free(a);
}

/* --- zstd --------------------------------------------------------------- */

/* Compresses data with our writer into a new buffer. */
static unsigned char *
zcompress(const unsigned char *data, size_t len, int level, size_t piece,
    size_t *zlenp)
{
	struct mig_writer *mem, *z;
	const unsigned char *p;
	unsigned char *out;
	size_t off, n;

	assert_int_equal(mig_mem_writer_new(0, ctx, &mem), 0);
	assert_int_equal(mig_zstd_writer_new(level, mem, ctx, &z), 0);
	for (off = 0; off < len; off += n) {
		n = len - off < piece ? len - off : piece;
		assert_int_equal(mig_writer_write(z, data + off, n), 0);
	}
	assert_int_equal(mig_writer_close(z), 0);
	p = mig_mem_writer_data(mem, zlenp);
	out = malloc(*zlenp);
	assert_non_null(out);
	memcpy(out, p, *zlenp);
	mig_writer_free(z);
	mig_writer_free(mem);
	return out;
}

static int
zdecompress(const unsigned char *z, size_t zlen, uint64_t max_out,
    size_t cap, unsigned char **outp, size_t *lenp)
{
	struct mig_reader *m, *r;
	int rc;

	assert_int_equal(mig_mem_reader_new(z, zlen, ctx, &m), 0);
	assert_int_equal(mig_zstd_reader_new(m, max_out, ctx, &r), 0);
	rc = slurp(r, cap, outp, lenp);
	mig_reader_free(r);
	mig_reader_free(m);
	return rc;
}

static void
zroundtrip(size_t len, bool text, size_t piece, size_t cap)
{
	unsigned char *data, *z, *back;
	unsigned long long fsize;
	size_t zlen, blen;

	data = make_data(len, text);
	z = zcompress(data, len, 3, piece, &zlen);
	/* The frame is standard: the one-shot API agrees. */
	fsize = ZSTD_getFrameContentSize(z, zlen);
	assert_true(fsize == ZSTD_CONTENTSIZE_UNKNOWN || fsize == len);
	if (zdecompress(z, zlen, 0, cap, &back, &blen) != 0)
		fail_msg("%zu %zu %zu: %s", len, piece, cap, mig_errmsg(ctx));
	assert_int_equal(blen, len);
	if (len > 0)
		assert_memory_equal(back, data, len);
	free(back);
	/* An exact limit is fine. */
	assert_int_equal(zdecompress(z, zlen, len == 0 ? 1 : len, cap, &back,
	    &blen), 0);
	assert_int_equal(blen, len);
	free(back);
	free(z);
	free(data);
}

static void
test_stream__zstd_roundtrip(void **state)
{
	(void)state;
	zroundtrip(0, true, 1, 65536);
	zroundtrip(1, true, 1, 1);
	zroundtrip(1, false, 1, 65536);
	zroundtrip(1000, true, 7, 3);
	zroundtrip(5 * 1024 * 1024 + 17, true, 65536, 65536);
	zroundtrip(3 * 1024 * 1024 + 1, false, 1 << 20, 100000);
	zroundtrip(2 * 1024 * 1024, true, 4096, 1 << 20);
}

static void
test_stream__zstd_compresses(void **state)
{
	unsigned char *data, *z;
	size_t zlen;

	(void)state;
	data = make_data(1 << 20, true);
	z = zcompress(data, 1 << 20, 3, 65536, &zlen);
	assert_true(zlen < (1 << 19));
	free(z);
	free(data);
}

static void
test_stream__zstd_truncated(void **state)
{
	unsigned char *data, *z, *back;
	size_t zlen, blen, cut;

	(void)state;
	data = make_data(200000, true);
	z = zcompress(data, 200000, 3, 65536, &zlen);
	/* Every truncation point is detected, down to zero bytes. */
	for (cut = 0; cut < zlen; cut += (cut < 64 ? 1 : 997)) {
		assert_int_equal(zdecompress(z, cut, 0, 65536, &back, &blen),
		    MIG_ERR_FORMAT);
	}
	assert_int_equal(zdecompress(z, zlen - 1, 0, 65536, &back, &blen),
	    MIG_ERR_FORMAT);
	/* Corruption and trailing garbage. */
	z[zlen / 2] ^= 0x55;
	assert_int_equal(zdecompress(z, zlen, 0, 65536, &back, &blen),
	    MIG_ERR_FORMAT);
	free(z);
	z = make_data(100, false);
	assert_int_equal(zdecompress(z, 100, 0, 65536, &back, &blen),
	    MIG_ERR_FORMAT);
	free(z);
	free(data);
}

static void
test_stream__zstd_bomb(void **state)
{
	unsigned char *zeros, *z, *back;
	size_t zlen, blen, len = 64 * 1024 * 1024;

	(void)state;
	zeros = calloc(1, len);
	assert_non_null(zeros);
	z = zcompress(zeros, len, 19, len, &zlen);
	free(zeros);
	assert_true(zlen < 64 * 1024);
	assert_int_equal(zdecompress(z, zlen, 1024 * 1024, 65536, &back,
	    &blen), MIG_ERR_FORMAT);
	assert_non_null(strstr(mig_errmsg(ctx), "exceeds"));
	assert_int_equal(zdecompress(z, zlen, len - 1, 1 << 20, &back,
	    &blen), MIG_ERR_FORMAT);
	free(z);
}

static void
test_stream__zstd_bad_level(void **state)
{
	struct mig_writer *mem, *z;

	(void)state;
	assert_int_equal(mig_null_writer_new(ctx, &mem), 0);
	assert_int_equal(mig_zstd_writer_new(0, mem, ctx, &z), MIG_ERR_USAGE);
	assert_null(z);
	assert_int_equal(mig_zstd_writer_new(20, mem, ctx, &z),
	    MIG_ERR_USAGE);
	assert_int_equal(mig_zstd_writer_new(19, mem, ctx, &z), 0);
	mig_writer_free(z);
	mig_writer_free(mem);
}

/* --- Bounded reader ------------------------------------------------------ */

/*
 * A source of zeros that counts what it hands out: endless as far as a
 * bound of a few KiB can tell, but ending after 64 MiB, so that a broken
 * bound fails the test instead of hanging it.
 */
static int
zeros_read(struct mig_reader *r, void *buf, size_t cap, size_t *nread)
{
	uint64_t *given = r->priv;

	*nread = 0;
	if (*given >= 64 * 1024 * 1024)
		return 0;
	memset(buf, 0, cap);
	*given += cap;
	*nread = cap;
	return 0;
}

static const struct mig_reader_ops zeros_ops = {
	.name = "zeros",
	.read = zeros_read,
};

/* The message of the failure bounded_drain() saw first. */
static char bounded_err[MIG_ERRMSG_MAX];

/* Reads src through a bound of max in pieces of cap; bytes passed in *got. */
static int
bounded_drain(struct mig_reader *src, uint64_t max, size_t cap,
    uint64_t *got)
{
	struct mig_reader *b;
	unsigned char *buf = malloc(cap);
	size_t n;
	int rc;

	assert_non_null(buf);
	*got = 0;
	assert_int_equal(mig_bounded_reader_new(src, max, ctx, &b), 0);
	for (;;) {
		if ((rc = mig_reader_read(b, buf, cap, &n)) != 0)
			break;
		if (n == 0)
			break;
		*got += n;
	}
	/* Once failed, it stays failed. */
	bounded_err[0] = '\0';
	if (rc != 0) {
		(void)snprintf(bounded_err, sizeof(bounded_err), "%s",
		    mig_errmsg(ctx));
		assert_int_equal(mig_reader_read(b, buf, cap, &n), rc);
	}
	mig_reader_free(b);
	free(buf);
	return rc;
}

static void
test_stream__bounded_exact_and_short(void **state)
{
	static const size_t caps[] = { 1, 7, 999, 1000, 1001, 65536 };
	unsigned char *data = make_data(1000, false);
	struct mig_reader *m;
	uint64_t got;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		/* Exactly the bound: every byte, then a clean end. */
		assert_int_equal(mig_mem_reader_new(data, 1000, ctx, &m), 0);
		assert_int_equal(bounded_drain(m, 1000, caps[i], &got), 0);
		assert_int_equal(got, 1000);
		mig_reader_free(m);
		/* Shorter than the bound: the bound is a ceiling only. */
		assert_int_equal(mig_mem_reader_new(data, 999, ctx, &m), 0);
		assert_int_equal(bounded_drain(m, 1000, caps[i], &got), 0);
		assert_int_equal(got, 999);
		mig_reader_free(m);
		/* One byte over: refused, and no more than the bound passed. */
		assert_int_equal(mig_mem_reader_new(data, 1000, ctx, &m), 0);
		assert_int_equal(bounded_drain(m, 999, caps[i], &got),
		    MIG_ERR_VERIFY);
		assert_true(got <= 999);
		assert_non_null(strstr(bounded_err, "999 bytes"));
		mig_reader_free(m);
	}
	/* A bound of zero: an empty stream passes, one byte does not. */
	assert_int_equal(mig_mem_reader_new(data, 0, ctx, &m), 0);
	assert_int_equal(bounded_drain(m, 0, 64, &got), 0);
	mig_reader_free(m);
	assert_int_equal(mig_mem_reader_new(data, 1, ctx, &m), 0);
	assert_int_equal(bounded_drain(m, 0, 64, &got), MIG_ERR_VERIFY);
	assert_int_equal(got, 0);
	mig_reader_free(m);
	free(data);
}

/*
 * An endless plaintext (what a decompression bomb looks like from above)
 * stops at the bound: at most the bound passes, and the source is asked
 * for at most one byte more than that.
 */
static void
test_stream__bounded_endless_source(void **state)
{
	struct mig_reader *src;
	uint64_t given = 0, got;

	(void)state;
	src = mig_reader_new(&zeros_ops, &given, NULL, ctx);
	assert_non_null(src);
	assert_int_equal(bounded_drain(src, 5000, 4096, &got),
	    MIG_ERR_VERIFY);
	assert_true(got <= 5000);
	assert_true(given <= 5001);
	mig_reader_free(src);
}

/* The bound in front of a real zstd bomb: 64 MiB of zeros, bound 4096. */
static void
test_stream__bounded_zstd_bomb(void **state)
{
	unsigned char *zeros, *z;
	struct mig_reader *m, *zr;
	size_t zlen, len = 64 * 1024 * 1024;
	uint64_t got;

	(void)state;
	zeros = calloc(1, len);
	assert_non_null(zeros);
	z = zcompress(zeros, len, 19, len, &zlen);
	free(zeros);
	assert_int_equal(mig_mem_reader_new(z, zlen, ctx, &m), 0);
	assert_int_equal(mig_zstd_reader_new(m, 0, ctx, &zr), 0);
	assert_int_equal(bounded_drain(zr, 4096, 1 << 20, &got),
	    MIG_ERR_VERIFY);
	assert_true(got <= 4096);
	assert_non_null(strstr(bounded_err, "decompression bomb"));
	mig_reader_free(zr);
	mig_reader_free(m);
	free(z);
}

static void
test_stream__bounded_errors(void **state)
{
	struct mig_reader *b = (struct mig_reader *)1;

	(void)state;
	assert_int_equal(mig_bounded_reader_new(NULL, 1, ctx, &b),
	    MIG_ERR_INTERNAL);
	assert_null(b);
}

/* --- File stages -------------------------------------------------------- */

static void
test_stream__file_publish(void **state)
{
	char path[PATH_MAX];
	struct mig_writer *w;
	unsigned char *data, *back;
	struct stat st;
	size_t blen;

	(void)state;
	path_in(path, sizeof(path), "pub.bin");
	data = make_data(1000000, false);
	assert_int_equal(mig_file_writer_new(path, 0600, false, ctx, &w), 0);
	/* Nothing visible under the final name while writing. */
	assert_int_equal(mig_writer_write(w, data, 10), 0);
	assert_int_equal(mig_writer_write(w, data + 10, 999990), 0);
	assert_int_equal(lstat(path, &st), -1);
	assert_int_equal(count_temporaries(), 1);
	assert_int_equal(mig_writer_close(w), 0);
	assert_int_equal(count_temporaries(), 0);
	mig_writer_free(w);
	assert_int_equal(count_temporaries(), 0);
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	back = read_file(path, &blen);
	assert_int_equal(blen, 1000000);
	assert_memory_equal(back, data, blen);
	free(back);
	free(data);
	assert_int_equal(unlink(path), 0);
}

static void
test_stream__file_abandon(void **state)
{
	char path[PATH_MAX];
	struct mig_writer *w, *z, *sha;
	struct stat st;

	(void)state;
	path_in(path, sizeof(path), "abandon.bin");
	assert_int_equal(mig_file_writer_new(path, 0644, false, ctx, &w), 0);
	assert_int_equal(mig_zstd_writer_new(3, w, ctx, &z), 0);
	assert_int_equal(mig_sha256_writer_new(z, ctx, &sha), 0);
	assert_int_equal(mig_writer_write(sha, "partial", 7), 0);
	assert_int_equal(count_temporaries(), 1);
	/* Freed without close, in chain order, and then the other way. */
	mig_writer_free(sha);
	mig_writer_free(z);
	mig_writer_free(w);
	assert_int_equal(count_temporaries(), 0);
	assert_int_equal(lstat(path, &st), -1);

	assert_int_equal(mig_file_writer_new(path, 0644, false, ctx, &w), 0);
	assert_int_equal(mig_zstd_writer_new(3, w, ctx, &z), 0);
	assert_int_equal(mig_writer_write(z, "partial", 7), 0);
	mig_writer_free(w);
	mig_writer_free(z);
	assert_int_equal(count_temporaries(), 0);
	assert_int_equal(lstat(path, &st), -1);
}

/* The asynchronous stage passes everything on, in order, and abandons. */
static void
test_stream__async(void **state)
{
	struct mig_ctx *actx = mig_ctx_new();
	struct mig_writer *mem = NULL, *sha = NULL, *as = NULL, *f = NULL;
	unsigned char *big, md1[32], md2[32];
	char path[PATH_MAX];
	uint64_t n = 0;
	size_t i, len;
	struct stat st;

	(void)state;
	big = malloc(10 * 1024 * 1024 + 7);
	assert_non_null(big);
	for (i = 0; i < 10 * 1024 * 1024 + 7; i++)
		big[i] = (unsigned char)(i * 31 + (i >> 13));
	assert_int_equal(mig_mem_writer_new(0, actx, &mem), 0);
	assert_int_equal(mig_sha256_writer_new(mem, actx, &sha), 0);
	assert_int_equal(mig_async_writer_new(sha, actx, ctx, &as), 0);
	/* Odd-sized writes across the slot boundaries. */
	for (i = 0; i < 10 * 1024 * 1024 + 7; i += len) {
		len = 10 * 1024 * 1024 + 7 - i;
		if (len > 300007)
			len = 300007;
		assert_int_equal(mig_writer_write(as, big + i, len), 0);
	}
	assert_int_equal(mig_writer_close(as), 0);
	mig_sha256_writer_result(sha, md1, &n);
	assert_int_equal(n, 10 * 1024 * 1024 + 7);
	assert_int_equal(EVP_Digest(big, 10 * 1024 * 1024 + 7, md2, NULL,
	    EVP_sha256(), NULL), 1);
	assert_memory_equal(md1, md2, 32);
	assert_memory_equal(mig_mem_writer_data(mem, &len), big, 4096);
	assert_int_equal(len, 10 * 1024 * 1024 + 7);
	mig_writer_free(as);
	mig_writer_free(sha);
	mig_writer_free(mem);

	/* Freed unclosed: the file sink behind it publishes nothing. */
	path_in(path, sizeof(path), "async.bin");
	assert_int_equal(mig_file_writer_new(path, 0644, false, actx, &f), 0);
	assert_int_equal(mig_async_writer_new(f, actx, ctx, &as), 0);
	assert_int_equal(mig_writer_write(as, big, 5 * 1024 * 1024), 0);
	mig_writer_free(as);
	mig_writer_free(f);
	assert_int_equal(lstat(path, &st), -1);
	assert_int_equal(count_temporaries(), 0);
	free(big);
	mig_ctx_free(actx);
}

/* Even with overwrite, a device or FIFO is never renamed over. */
static void
test_stream__file_never_replaces_special(void **state)
{
	char path[PATH_MAX];
	struct mig_writer *w = NULL;
	struct stat st;

	(void)state;
	path_in(path, sizeof(path), "fifo");
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(mig_file_writer_new(path, 0644, true, ctx, &w),
	    MIG_ERR_EXISTS);
	assert_null(w);
	assert_non_null(strstr(mig_errmsg(ctx), "not a regular file"));
	/* It appears while we write: the close still refuses. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mig_file_writer_new(path, 0644, true, ctx, &w), 0);
	assert_int_equal(mig_file_writer_set_durable(w, false), 0);
	assert_int_equal(mig_writer_write(w, "x", 1), 0);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(mig_writer_close(w), MIG_ERR_EXISTS);
	mig_writer_free(w);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(count_temporaries(), 0);
	assert_int_equal(unlink(path), 0);
}

static void
test_stream__file_refuse_overwrite(void **state)
{
	char path[PATH_MAX];
	struct mig_writer *w;
	unsigned char *back;
	size_t blen;

	(void)state;
	path_in(path, sizeof(path), "exists.txt");
	write_file(path, "old", 3);
	assert_int_equal(mig_file_writer_new(path, 0644, false, ctx, &w),
	    MIG_ERR_EXISTS);
	assert_null(w);
	assert_int_equal(count_temporaries(), 0);

	/* The target appears while we write: the close refuses it. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mig_file_writer_new(path, 0644, false, ctx, &w), 0);
	assert_int_equal(mig_writer_write(w, "new", 3), 0);
	write_file(path, "racer", 5);
	assert_int_equal(mig_writer_close(w), MIG_ERR_EXISTS);
	assert_non_null(strstr(mig_errmsg(ctx), "exists.txt"));
	mig_writer_free(w);
	assert_int_equal(count_temporaries(), 0);
	back = read_file(path, &blen);
	assert_int_equal(blen, 5);
	assert_memory_equal(back, "racer", 5);
	free(back);

	/* overwrite replaces. */
	assert_int_equal(mig_file_writer_new(path, 0644, true, ctx, &w), 0);
	assert_int_equal(mig_writer_write(w, "new", 3), 0);
	assert_int_equal(mig_writer_close(w), 0);
	mig_writer_free(w);
	back = read_file(path, &blen);
	assert_int_equal(blen, 3);
	assert_memory_equal(back, "new", 3);
	free(back);
	assert_int_equal(unlink(path), 0);
}

static void
test_stream__file_errors(void **state)
{
	char path[PATH_MAX], link[PATH_MAX];
	struct mig_writer *w;
	struct mig_reader *r;
	unsigned char *back;
	size_t blen;

	(void)state;
	path_in(path, sizeof(path), "nodir/x");
	assert_int_equal(mig_file_writer_new(path, 0644, false, ctx, &w),
	    MIG_ERR_NOTFOUND);
	assert_int_equal(mig_file_reader_new(path, false, ctx, &r),
	    MIG_ERR_NOTFOUND);
	assert_null(r);

	/* Symbolic links are followed only when asked. */
	path_in(path, sizeof(path), "target.txt");
	path_in(link, sizeof(link), "link.txt");
	write_file(path, "data", 4);
	assert_int_equal(symlink("target.txt", link), 0);
	assert_int_equal(mig_file_reader_new(link, false, ctx, &r),
	    MIG_ERR_SECURITY);
	assert_int_equal(mig_file_reader_new(link, true, ctx, &r), 0);
	assert_int_equal(slurp(r, 2, &back, &blen), 0);
	assert_int_equal(blen, 4);
	assert_memory_equal(back, "data", 4);
	free(back);
	mig_reader_free(r);
	/* A directory is not a file. */
	assert_int_equal(mig_file_reader_new(tmpdir, false, ctx, &r),
	    MIG_ERR_IO);
	assert_int_equal(unlink(link), 0);
	assert_int_equal(unlink(path), 0);
}

static void
test_stream__fd_stages(void **state)
{
	char path[PATH_MAX];
	struct mig_writer *w;
	struct mig_reader *r;
	unsigned char *data, *back;
	size_t blen;
	int fd;

	(void)state;
	path_in(path, sizeof(path), "fd.bin");
	data = make_data(400000, false);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(mig_fd_writer_new(fd, ctx, &w), 0);
	assert_int_equal(mig_writer_write(w, data, 5), 0);
	assert_int_equal(mig_writer_write(w, data + 5, 300000), 0);
	assert_int_equal(mig_writer_write(w, data + 300005, 99995), 0);
	assert_int_equal(mig_writer_close(w), 0);
	mig_writer_free(w);
	/* The descriptor is still ours. */
	assert_int_equal(close(fd), 0);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(mig_fd_reader_new(fd, ctx, &r), 0);
	assert_int_equal(slurp(r, 65536, &back, &blen), 0);
	mig_reader_free(r);
	assert_int_equal(close(fd), 0);
	assert_int_equal(blen, 400000);
	assert_memory_equal(back, data, blen);
	free(back);
	free(data);
	assert_int_equal(unlink(path), 0);
}

/* file -> sha256 -> zstd -> sha256 -> file, then back again. */
static void
test_stream__pipeline(void **state)
{
	char src[PATH_MAX], dst[PATH_MAX];
	struct mig_reader *fr, *zr, *sr;
	struct mig_writer *fw, *sw2, *zw, *sw1;
	unsigned char d1[32], d2[32], d3[32], *data, *back;
	uint64_t total, c1, c3;
	size_t blen, len = 3 * 1024 * 1024 + 5;

	(void)state;
	path_in(src, sizeof(src), "pipe.src");
	path_in(dst, sizeof(dst), "pipe.zst");
	data = make_data(len, true);
	write_file(src, data, len);

	assert_int_equal(mig_file_reader_new(src, false, ctx, &fr), 0);
	assert_int_equal(mig_file_writer_new(dst, 0644, false, ctx, &fw), 0);
	assert_int_equal(mig_sha256_writer_new(fw, ctx, &sw2), 0);
	assert_int_equal(mig_zstd_writer_new(3, sw2, ctx, &zw), 0);
	assert_int_equal(mig_sha256_writer_new(zw, ctx, &sw1), 0);
	assert_int_equal(mig_stream_copy(fr, sw1, &total), 0);
	assert_int_equal(total, len);
	mig_sha256_writer_result(sw1, d1, &c1);
	mig_sha256_writer_result(sw2, d2, NULL);
	assert_int_equal(c1, len);
	mig_writer_free(fw);
	mig_writer_free(sw1);
	mig_writer_free(zw);
	mig_writer_free(sw2);
	mig_reader_free(fr);

	assert_int_equal(mig_file_reader_new(dst, false, ctx, &fr), 0);
	assert_int_equal(mig_zstd_reader_new(fr, len, ctx, &zr), 0);
	assert_int_equal(mig_sha256_reader_new(zr, ctx, &sr), 0);
	assert_int_equal(slurp(sr, MIG_STREAM_CHUNK, &back, &blen), 0);
	mig_sha256_reader_result(sr, d3, &c3);
	assert_int_equal(c3, len);
	assert_memory_equal(d1, d3, 32);
	assert_memory_not_equal(d1, d2, 32);
	assert_int_equal(blen, len);
	assert_memory_equal(back, data, len);
	mig_reader_free(sr);
	mig_reader_free(zr);
	mig_reader_free(fr);
	free(back);
	free(data);
	assert_int_equal(unlink(src), 0);
	assert_int_equal(unlink(dst), 0);
}

/* A source failure stops the copy without publishing anything. */
static int
failsrc_read(struct mig_reader *r, void *buf, size_t cap, size_t *nread)
{
	int *calls = r->priv;

	(void)buf;
	(void)cap;
	if ((*calls)++ == 0) {
		*nread = cap < 10 ? cap : 10;
		memset(buf, 'x', *nread);
		return 0;
	}
	return mig_seterr(r->ctx, MIG_ERR_IO, "source: injected");
}

static const struct mig_reader_ops failsrc_ops = {
	.name = "failsrc",
	.read = failsrc_read,
};

static void
test_stream__copy_failure(void **state)
{
	char path[PATH_MAX];
	struct mig_reader *r;
	struct mig_writer *w;
	struct stat st;
	uint64_t total = 99;
	int calls = 0;

	(void)state;
	path_in(path, sizeof(path), "copyfail.bin");
	r = mig_reader_new(&failsrc_ops, &calls, NULL, ctx);
	assert_non_null(r);
	assert_int_equal(mig_file_writer_new(path, 0644, false, ctx, &w), 0);
	assert_int_equal(mig_stream_copy(r, w, &total), MIG_ERR_IO);
	assert_int_equal(total, 0);
	assert_false(w->closed);
	mig_writer_free(w);
	mig_reader_free(r);
	assert_int_equal(lstat(path, &st), -1);
	assert_int_equal(count_temporaries(), 0);
}

/* --- Tar writer and archive reader -------------------------------------- */

struct want_entry {
	const char		*name;
	enum mig_archive_type	 type;
	size_t			 size;
	mode_t			 mode;
	time_t			 mtime;
};

static char longname[300];

static void
make_longname(void)
{
	size_t i;

	for (i = 0; i < sizeof(longname) - 5; i++)
		longname[i] = (i % 50 == 49) ? '/' : (char)('a' + i % 26);
	memcpy(longname + i, ".txt", 5);
}

static const struct want_entry tar_want[] = {
	{ "dir/", MIG_ARCHIVE_DIR, 0, 0755, 1700000000 },
	{ "dir/a.txt", MIG_ARCHIVE_REGULAR, 5, 0644, 1700000001 },
	{ "dir/empty", MIG_ARCHIVE_REGULAR, 0, 0600, 1700000002 },
	{ "big.bin", MIG_ARCHIVE_REGULAR, 1000003, 0640, 1700000003 },
	{ "caf\xc3\xa9 \xff.txt", MIG_ARCHIVE_REGULAR, 3, 0644, 0 },
	{ NULL, MIG_ARCHIVE_REGULAR, 7, 0644, 1700000004 },	/* longname */
};
#define NWANT	(sizeof(tar_want) / sizeof(tar_want[0]))

static const char *
want_name(size_t i)
{
	return tar_want[i].name != NULL ? tar_want[i].name : longname;
}

/* Writes the test archive into w (the head of a chain). */
static void
write_test_tar(struct mig_writer *w, const unsigned char *big)
{
	struct mig_tar *tar;
	struct mig_reader *r;
	size_t i;

	make_longname();
	assert_int_equal(mig_tar_writer_new(w, ctx, &tar), 0);
	for (i = 0; i < NWANT; i++) {
		const struct want_entry *e = &tar_want[i];

		if (e->type == MIG_ARCHIVE_DIR) {
			assert_int_equal(mig_tar_add_dir(tar, want_name(i),
			    e->mode, e->mtime), 0);
			continue;
		}
		assert_int_equal(mig_mem_reader_new(e->size > 1000 ? big :
		    (const unsigned char *)"0123456789", e->size, ctx, &r), 0);
		assert_int_equal(mig_tar_add(tar, want_name(i), e->size,
		    e->mode | S_IFREG, e->mtime, r), 0);
		mig_reader_free(r);
	}
	assert_int_equal(mig_tar_close(tar), 0);
	assert_int_equal(mig_tar_close(tar), 0);
	assert_true(w->closed);
	mig_tar_free(tar);
}

static void
check_test_tar(struct mig_archive *ar, const unsigned char *big)
{
	struct mig_archive_entry e;
	struct mig_reader *r;
	unsigned char *data;
	size_t i, len;

	for (i = 0; i < NWANT; i++) {
		assert_int_equal(mig_archive_next(ar, &e), 0);
		assert_string_equal(e.name, want_name(i));
		assert_int_equal(e.type, tar_want[i].type);
		assert_int_equal(e.mode, tar_want[i].mode);
		assert_int_equal(e.mtime, tar_want[i].mtime);
		assert_true(e.size_known);
		assert_int_equal(e.size, tar_want[i].size);
		assert_null(e.link);
		if (e.type != MIG_ARCHIVE_REGULAR)
			continue;
		/* Skip reading one entry: next() skips its data. */
		if (i == 1)
			continue;
		assert_int_equal(mig_archive_entry_reader(ar, &r), 0);
		assert_int_equal(slurp(r, 4096, &data, &len), 0);
		mig_reader_free(r);
		assert_int_equal(len, tar_want[i].size);
		if (len > 0)
			assert_memory_equal(data, len > 1000 ? big :
			    (const unsigned char *)"0123456789", len);
		free(data);
	}
	assert_int_equal(mig_archive_next(ar, &e), 1);
	assert_int_equal(mig_archive_next(ar, &e), 1);
}

static void
test_stream__tar_roundtrip(void **state)
{
	char path[PATH_MAX], cmd[PATH_MAX + 64];
	struct mig_writer *fw, *mem;
	struct mig_archive *ar;
	struct mig_reader *mr;
	const unsigned char *p;
	unsigned char *big;
	size_t len;

	(void)state;
	big = make_data(1000003, false);
	path_in(path, sizeof(path), "t.tar");
	assert_int_equal(mig_file_writer_new(path, 0644, false, ctx, &fw), 0);
	write_test_tar(fw, big);
	mig_writer_free(fw);

	assert_int_equal(mig_archive_open(path, ctx, &ar), 0);
	check_test_tar(ar, big);
	mig_archive_free(ar);
	mig_archive_free(NULL);

	/* GNU tar, when present, reads it too. */
	(void)snprintf(cmd, sizeof(cmd),
	    "command -v tar >/dev/null || exit 0; tar -tf '%s' >/dev/null",
	    path);
	assert_int_equal(system(cmd), 0);

	/* The same archive in memory, read through a reader. */
	assert_int_equal(mig_mem_writer_new(0, ctx, &mem), 0);
	write_test_tar(mem, big);
	p = mig_mem_writer_data(mem, &len);
	assert_true(len % 512 == 0);
	assert_int_equal(mig_mem_reader_new(p, len, ctx, &mr), 0);
	assert_int_equal(mig_archive_open_reader(mr, "mem.tar", ctx, &ar), 0);
	check_test_tar(ar, big);
	mig_archive_free(ar);
	mig_reader_free(mr);
	mig_writer_free(mem);
	free(big);
	assert_int_equal(unlink(path), 0);
}

/* tar -> zstd -> file; libarchive sees through the zstd filter. */
static void
test_stream__tar_zstd(void **state)
{
	char path[PATH_MAX];
	struct mig_writer *fw, *zw;
	struct mig_archive *ar;
	unsigned char *big;

	(void)state;
	big = make_data(1000003, true);
	path_in(path, sizeof(path), "t.tar.zst");
	assert_int_equal(mig_file_writer_new(path, 0644, false, ctx, &fw), 0);
	assert_int_equal(mig_zstd_writer_new(3, fw, ctx, &zw), 0);
	write_test_tar(zw, big);
	assert_true(fw->closed);
	mig_writer_free(zw);
	mig_writer_free(fw);
	assert_int_equal(mig_archive_open(path, ctx, &ar), 0);
	check_test_tar(ar, big);
	mig_archive_free(ar);
	free(big);
	assert_int_equal(unlink(path), 0);
}

static void
test_stream__tar_size_mismatch(void **state)
{
	struct mig_writer *mem;
	struct mig_reader *r;
	struct mig_tar *tar;
	size_t before, after;

	(void)state;
	assert_int_equal(mig_mem_writer_new(0, ctx, &mem), 0);
	assert_int_equal(mig_tar_writer_new(mem, ctx, &tar), 0);
	/* Shorter than announced. */
	assert_int_equal(mig_mem_reader_new("abc", 3, ctx, &r), 0);
	assert_int_equal(mig_tar_add(tar, "short", 4, 0644, 0, r),
	    MIG_ERR_IO);
	assert_non_null(strstr(mig_errmsg(ctx), "short"));
	mig_reader_free(r);
	/* The archive stays failed. */
	assert_int_equal(mig_tar_add_dir(tar, "d", 0755, 0), MIG_ERR_IO);
	assert_int_equal(mig_tar_close(tar), MIG_ERR_IO);
	assert_false(mem->closed);
	(void)mig_mem_writer_data(mem, &before);
	mig_tar_free(tar);
	(void)mig_mem_writer_data(mem, &after);
	assert_int_equal(before, after);
	mig_writer_free(mem);

	/* Longer than announced. */
	assert_int_equal(mig_mem_writer_new(0, ctx, &mem), 0);
	assert_int_equal(mig_tar_writer_new(mem, ctx, &tar), 0);
	assert_int_equal(mig_mem_reader_new("abcde", 5, ctx, &r), 0);
	assert_int_equal(mig_tar_add(tar, "long", 4, 0644, 0, r), MIG_ERR_IO);
	mig_reader_free(r);
	mig_tar_free(tar);
	mig_writer_free(mem);
}

/* Early free: nothing more reaches next, which may be gone already. */
static void
test_stream__tar_early_free(void **state)
{
	struct mig_writer *mem, *zw;
	struct mig_reader *r;
	struct mig_tar *tar;
	size_t before, after;

	(void)state;
	assert_int_equal(mig_mem_writer_new(0, ctx, &mem), 0);
	assert_int_equal(mig_tar_writer_new(mem, ctx, &tar), 0);
	assert_int_equal(mig_mem_reader_new("abc", 3, ctx, &r), 0);
	assert_int_equal(mig_tar_add(tar, "f", 3, 0644, 0, r), 0);
	mig_reader_free(r);
	(void)mig_mem_writer_data(mem, &before);
	mig_tar_free(tar);
	(void)mig_mem_writer_data(mem, &after);
	assert_int_equal(before, after);
	assert_false(mem->closed);
	mig_writer_free(mem);

	/* Chain freed before the tar writer. */
	assert_int_equal(mig_mem_writer_new(0, ctx, &mem), 0);
	assert_int_equal(mig_zstd_writer_new(3, mem, ctx, &zw), 0);
	assert_int_equal(mig_tar_writer_new(zw, ctx, &tar), 0);
	assert_int_equal(mig_tar_add_dir(tar, "d", 0755, 0), 0);
	mig_writer_free(mem);
	mig_writer_free(zw);
	mig_tar_free(tar);
	mig_tar_free(NULL);
}

/* A downstream failure surfaces from mig_tar_add with its own code. */
static void
test_stream__tar_sink_failure(void **state)
{
	struct failsink f = { .fail_write_at = 1 };
	struct mig_writer *w;
	struct mig_reader *r;
	struct mig_tar *tar;
	unsigned char *big;

	(void)state;
	big = make_data(200000, false);
	w = mig_writer_new(&failsink_ops, &f, NULL, ctx);
	assert_non_null(w);
	assert_int_equal(mig_tar_writer_new(w, ctx, &tar), 0);
	assert_int_equal(mig_mem_reader_new(big, 200000, ctx, &r), 0);
	assert_int_equal(mig_tar_add(tar, "f", 200000, 0644, 0, r),
	    MIG_ERR_NET);
	assert_non_null(strstr(mig_errmsg(ctx), "injected"));
	assert_int_equal(mig_tar_close(tar), MIG_ERR_NET);
	mig_reader_free(r);
	mig_tar_free(tar);
	mig_writer_free(w);
	free(big);
}

static void
test_stream__archive_truncated(void **state)
{
	struct mig_archive_entry e;
	struct mig_writer *mem;
	struct mig_archive *ar;
	struct mig_reader *mr, *er;
	const unsigned char *p;
	unsigned char *big, *data;
	size_t len, dlen, cut;
	int rc;

	(void)state;
	big = make_data(1000003, false);
	assert_int_equal(mig_mem_writer_new(0, ctx, &mem), 0);
	write_test_tar(mem, big);
	p = mig_mem_writer_data(mem, &len);
	/* Cut inside big.bin's data. */
	for (cut = 600000; cut < len; cut += 300000) {
		assert_int_equal(mig_mem_reader_new(p, cut, ctx, &mr), 0);
		assert_int_equal(mig_archive_open_reader(mr, "cut.tar", ctx,
		    &ar), 0);
		rc = 0;
		while ((rc = mig_archive_next(ar, &e)) == 0) {
			if (e.type != MIG_ARCHIVE_REGULAR)
				continue;
			assert_int_equal(mig_archive_entry_reader(ar, &er), 0);
			rc = slurp(er, 65536, &data, &dlen);
			mig_reader_free(er);
			if (rc != 0)
				break;
			free(data);
		}
		assert_int_equal(rc, MIG_ERR_FORMAT);
		mig_archive_free(ar);
		mig_reader_free(mr);
	}
	mig_writer_free(mem);
	free(big);
}

/* An archive made by libarchive in another format, with a symlink. */
static void
make_foreign(const char *path, int (*setfmt)(struct archive *),
    int (*setfilter)(struct archive *))
{
	struct archive *a;
	struct archive_entry *e;

	a = archive_write_new();
	assert_non_null(a);
	assert_int_equal(setfmt(a), ARCHIVE_OK);
	if (setfilter != NULL)
		assert_int_equal(setfilter(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	e = archive_entry_new();
	archive_entry_set_pathname(e, "../evil.txt");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, 4);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	assert_int_equal(archive_write_data(a, "evil", 4), 4);
	archive_entry_clear(e);
	archive_entry_set_pathname(e, "ln");
	archive_entry_set_filetype(e, AE_IFLNK);
	archive_entry_set_perm(e, 0777);
	archive_entry_set_symlink(e, "/etc/passwd");
	archive_entry_set_size(e, 0);
	if (archive_write_header(a, e) != ARCHIVE_OK)
		fail_msg("%s: %s", path, archive_error_string(a));
	archive_entry_free(e);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

static void
check_foreign(const char *path)
{
	struct mig_archive_entry e;
	struct mig_archive *ar;
	struct mig_reader *r;
	unsigned char *data;
	size_t len;

	assert_int_equal(mig_archive_open(path, ctx, &ar), 0);
	assert_int_equal(mig_archive_next(ar, &e), 0);
	/* Raw, as stored: the caller refuses it. */
	assert_string_equal(e.name, "../evil.txt");
	assert_int_equal(e.type, MIG_ARCHIVE_REGULAR);
	assert_int_equal(mig_archive_entry_reader(ar, &r), 0);
	assert_int_equal(slurp(r, 3, &data, &len), 0);
	mig_reader_free(r);
	assert_int_equal(len, 4);
	assert_memory_equal(data, "evil", 4);
	free(data);
	assert_int_equal(mig_archive_next(ar, &e), 0);
	assert_string_equal(e.name, "ln");
	assert_int_equal(e.type, MIG_ARCHIVE_SYMLINK);
	assert_string_equal(e.link, "/etc/passwd");
	assert_int_equal(mig_archive_next(ar, &e), 1);
	mig_archive_free(ar);
}

/* Opens path and reads one header: the first error, or 0. */
static int
open_and_next(const char *path)
{
	struct mig_archive_entry e;
	struct mig_archive *ar;
	int rc;

	if ((rc = mig_archive_open(path, ctx, &ar)) != 0)
		return rc;
	rc = mig_archive_next(ar, &e);
	mig_archive_free(ar);
	return rc;
}

static void
test_stream__archive_formats(void **state)
{
	char path[PATH_MAX], link[PATH_MAX];
	struct mig_archive *ar;

	(void)state;
	path_in(path, sizeof(path), "f.zip");
	make_foreign(path, archive_write_set_format_zip, NULL);
	check_foreign(path);
	assert_int_equal(unlink(path), 0);
	path_in(path, sizeof(path), "f.tar.gz");
	make_foreign(path, archive_write_set_format_gnutar,
	    archive_write_add_filter_gzip);
	check_foreign(path);
	assert_int_equal(unlink(path), 0);
	path_in(path, sizeof(path), "f.cpio.xz");
	make_foreign(path, archive_write_set_format_cpio_newc,
	    archive_write_add_filter_xz);
	check_foreign(path);

	/* The archive itself behind a symbolic link is refused. */
	path_in(link, sizeof(link), "f.link");
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(mig_archive_open(link, ctx, &ar), MIG_ERR_SECURITY);
	assert_null(ar);
	assert_int_equal(unlink(link), 0);
	assert_int_equal(unlink(path), 0);

	/* mtree is not enabled: it would read files named inside it. */
	path_in(path, sizeof(path), "f.mtree");
	write_file(path, "#mtree\n./passwd type=file contents=/etc/passwd\n",
	    47);
	assert_int_equal(open_and_next(path), MIG_ERR_FORMAT);
	assert_int_equal(unlink(path), 0);

	/* Not an archive at all. */
	path_in(path, sizeof(path), "f.txt");
	write_file(path, "just some text, not an archive\n", 31);
	assert_int_equal(open_and_next(path), MIG_ERR_FORMAT);
	assert_int_equal(unlink(path), 0);

	/* An empty file is an empty archive. */
	path_in(path, sizeof(path), "empty.tar");
	write_file(path, "", 0);
	assert_int_equal(open_and_next(path), 1);
	assert_int_equal(unlink(path), 0);

	path_in(path, sizeof(path), "missing.tar");
	assert_int_equal(mig_archive_open(path, ctx, &ar), MIG_ERR_NOTFOUND);
}

/* --- Archive expansion limits and zip through its central directory ----- */

struct arc_entry {
	const char		*name;
	const unsigned char	*data;
	size_t			 len;
};

/* Writes ents into a new archive at path with libarchive's writer. */
static void
write_archive(const char *path, int (*setfmt)(struct archive *),
    int (*setfilter)(struct archive *), const struct arc_entry *ents,
    size_t n)
{
	struct archive *a;
	struct archive_entry *e;
	size_t i;

	a = archive_write_new();
	assert_non_null(a);
	assert_int_equal(setfmt(a), ARCHIVE_OK);
	if (setfilter != NULL)
		assert_int_equal(setfilter(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	e = archive_entry_new();
	for (i = 0; i < n; i++) {
		archive_entry_clear(e);
		archive_entry_set_pathname(e, ents[i].name);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)ents[i].len);
		if (archive_write_header(a, e) != ARCHIVE_OK)
			fail_msg("%s: %s", path, archive_error_string(a));
		assert_int_equal(archive_write_data(a, ents[i].data,
		    ents[i].len), (la_ssize_t)ents[i].len);
	}
	archive_entry_free(e);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

/*
 * Ordinary data: CSV rows of a few varying fields, which compress 13 to
 * 32 times (deflate 15, zstd -3 13, xz 21, bzip2 32), as exports do.
 */
static unsigned char *
make_csv(size_t len)
{
	unsigned char *p = malloc(len + 128);
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	size_t o = 0;

	assert_non_null(p);
	while (o < len) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		o += (size_t)snprintf((char *)p + o, 128, "2024-03-%02u,"
		    "store-%02u,status=ACTIVE,currency=EUR,qty=%u\n",
		    (unsigned)(1 + x % 28), (unsigned)((x >> 8) % 16),
		    (unsigned)((x >> 16) % 10));
	}
	return p;
}

/*
 * Opens path with the given limits and reads every entry to its end in
 * pieces of 64 KiB: the first error, or 0.  *outp: bytes handed out.
 */
static int
read_all(const char *path, bool set, uint64_t ratio, uint64_t bytes,
    uint64_t *outp)
{
	struct mig_archive_entry e;
	struct mig_archive *ar;
	struct mig_reader *r;
	unsigned char *buf;
	size_t n;
	int rc;

	*outp = 0;
	if ((rc = mig_archive_open(path, ctx, &ar)) != 0)
		return rc;
	if (set)
		mig_archive_set_limits(ar, ratio, bytes);
	buf = malloc(65536);
	assert_non_null(buf);
	while ((rc = mig_archive_next(ar, &e)) == 0) {
		assert_int_equal(mig_archive_entry_reader(ar, &r), 0);
		while ((rc = mig_reader_read(r, buf, 65536, &n)) == 0 && n > 0)
			*outp += n;
		mig_reader_free(r);
		if (rc != 0)
			break;
	}
	free(buf);
	/* A refusal is repeated by every later call. */
	if (rc == MIG_ERR_SECURITY) {
		assert_int_equal(mig_archive_next(ar, &e), MIG_ERR_SECURITY);
		assert_int_equal(mig_archive_entry_reader(ar, &r),
		    MIG_ERR_SECURITY);
		assert_null(r);
	}
	mig_archive_free(ar);
	return rc == 1 ? 0 : rc;
}

/* Opens path and reads the headers only: the first error, or 0. */
static int
headers_only(const char *path, int *nentries)
{
	struct mig_archive_entry e;
	struct mig_archive *ar;
	int rc;

	*nentries = 0;
	if ((rc = mig_archive_open(path, ctx, &ar)) != 0)
		return rc;
	while ((rc = mig_archive_next(ar, &e)) == 0)
		(*nentries)++;
	mig_archive_free(ar);
	return rc == 1 ? 0 : rc;
}

static bool
errmsg_has(const char *s)
{
	return strstr(mig_errmsg(ctx), s) != NULL;
}

/* 8 MiB of zeros: about 1000:1 in a zip, refused from its header. */
static void
test_stream__archive_zip_bomb(void **state)
{
	const size_t len = 8 << 20;
	unsigned char *zeros = calloc(1, len);
	struct arc_entry ent = { "zeros.bin", zeros, len };
	char path[PATH_MAX];
	uint64_t out;
	int n;

	(void)state;
	assert_non_null(zeros);
	path_in(path, sizeof(path), "bomb.zip");
	write_archive(path, archive_write_set_format_zip, NULL, &ent, 1);
	assert_int_equal(headers_only(path, &n), MIG_ERR_SECURITY);
	assert_int_equal(n, 0);
	assert_true(errmsg_has("bomb.zip: zeros.bin: the archive expands to "
	    "at least 8388608 bytes"));
	assert_true(errmsg_has("max_expansion_ratio = 100"));
	assert_int_equal(read_all(path, false, 0, 0, &out), MIG_ERR_SECURITY);
	assert_int_equal(out, 0);
	/* Limits raised (or lifted), the same archive reads whole. */
	assert_int_equal(read_all(path, true, 2000, 0, &out), 0);
	assert_int_equal(out, len);
	assert_int_equal(read_all(path, true, 0, 0, &out), 0);
	assert_int_equal(out, len);
	assert_int_equal(unlink(path), 0);

	/* The same as a tar.gz: the whole archive's ratio. */
	path_in(path, sizeof(path), "bomb.tar.gz");
	write_archive(path, archive_write_set_format_pax_restricted,
	    archive_write_add_filter_gzip, &ent, 1);
	assert_int_equal(headers_only(path, &n), MIG_ERR_SECURITY);
	assert_true(errmsg_has("bomb.tar.gz: zeros.bin: the archive expands"));
	assert_int_equal(read_all(path, true, 2000, 0, &out), 0);
	assert_int_equal(out, len);
	assert_int_equal(unlink(path), 0);
	free(zeros);
}

/*
 * A bomb entry beside as much noise: the whole archive is only 2:1, the
 * entry 1000:1.  Refused when read, having handed out no more than the
 * grace; refused at the next header when skipped; at the end when last.
 */
static void
test_stream__archive_bomb_entry(void **state)
{
	const size_t len = 6 << 20;
	unsigned char *zeros = calloc(1, len), *noise = make_data(len, false);
	struct arc_entry ents[2] = {
		{ "zeros.bin", zeros, len }, { "noise.bin", noise, len },
	};
	struct arc_entry swapped[2] = { ents[1], ents[0] };
	char path[PATH_MAX];
	uint64_t out;
	int n;

	(void)state;
	assert_non_null(zeros);
	path_in(path, sizeof(path), "mixed.zip");
	write_archive(path, archive_write_set_format_zip, NULL, ents, 2);
	assert_int_equal(read_all(path, false, 0, 0, &out), MIG_ERR_SECURITY);
	assert_true(out <= MIG_ARCHIVE_RATIO_GRACE);
	assert_true(errmsg_has("mixed.zip: zeros.bin: expands to at least "));
	assert_true(errmsg_has("it takes in the archive, more than "
	    "max_expansion_ratio = 100 times"));
	assert_int_equal(headers_only(path, &n), MIG_ERR_SECURITY);
	assert_int_equal(n, 1);
	assert_true(errmsg_has("mixed.zip: zeros.bin: expands"));
	assert_int_equal(read_all(path, true, 2000, 0, &out), 0);
	assert_int_equal(out, 2 * len);
	assert_int_equal(unlink(path), 0);

	write_archive(path, archive_write_set_format_zip, NULL, swapped, 2);
	assert_int_equal(headers_only(path, &n), MIG_ERR_SECURITY);
	assert_int_equal(n, 2);
	assert_true(errmsg_has("mixed.zip: zeros.bin: expands"));
	assert_int_equal(unlink(path), 0);
	free(zeros);
	free(noise);
}

/* max_expanded_bytes: from the headers, and counted while reading. */
static void
test_stream__archive_max_bytes(void **state)
{
	const size_t len = 1 << 20;
	unsigned char *noise = make_data(len, false), buf[4096];
	struct arc_entry ents[3] = {
		{ "a", noise, len }, { "b", noise, len }, { "c", noise, len },
	};
	struct mig_archive_entry e;
	struct mig_archive *ar;
	struct mig_reader *r;
	char path[PATH_MAX];
	uint64_t out = 0;
	size_t n;
	int rc;

	(void)state;
	path_in(path, sizeof(path), "three.tar");
	write_archive(path, archive_write_set_format_pax_restricted, NULL,
	    ents, 3);
	assert_int_equal(read_all(path, true, 0, 3 * len, &out), 0);
	assert_int_equal(read_all(path, true, 0, 3 * len - 1, &out),
	    MIG_ERR_SECURITY);
	assert_int_equal(out, 2 * len);
	assert_true(errmsg_has("three.tar: c: the archive expands to at least "
	    "3145728 bytes, more than max_expanded_bytes = 3145727"));

	/* Set after the header: the bytes handed out are counted. */
	assert_int_equal(mig_archive_open(path, ctx, &ar), 0);
	assert_int_equal(mig_archive_next(ar, &e), 0);
	mig_archive_set_limits(ar, 0, 300000);
	assert_int_equal(mig_archive_entry_reader(ar, &r), 0);
	while ((rc = mig_reader_read(r, buf, sizeof(buf), &n)) == 0 && n > 0)
		out += n;
	assert_int_equal(rc, MIG_ERR_SECURITY);
	assert_true(out - 2 * len <= 300000);
	assert_true(errmsg_has("three.tar: a: the archive expands to at least "
	    "3"));
	assert_true(errmsg_has("bytes, more than max_expanded_bytes = 300000; "
	    "refused"));
	mig_reader_free(r);
	mig_archive_free(ar);
	assert_int_equal(unlink(path), 0);
	free(noise);
}

/*
 * Ordinary data, 13 to 32:1, in every common shape: read whole under the
 * default limit; refused under a ratio of 10.
 */
static void
test_stream__archive_ordinary_ratio(void **state)
{
	static const struct {
		const char	*name;
		int		(*fmt)(struct archive *);
		int		(*filter)(struct archive *);
	} shapes[] = {
		{ "o.zip", archive_write_set_format_zip, NULL },
		{ "o.7z", archive_write_set_format_7zip, NULL },
		{ "o.tar.gz", archive_write_set_format_pax_restricted,
		    archive_write_add_filter_gzip },
		{ "o.tar.bz2", archive_write_set_format_pax_restricted,
		    archive_write_add_filter_bzip2 },
		{ "o.tar.xz", archive_write_set_format_pax_restricted,
		    archive_write_add_filter_xz },
		{ "o.tar.zst", archive_write_set_format_pax_restricted,
		    archive_write_add_filter_zstd },
	};
	const size_t len = 8 << 20;
	unsigned char *csv = make_csv(len);
	struct arc_entry ents[2] = {
		{ "small.csv", csv, 1000 }, { "export.csv", csv, len },
	};
	char path[PATH_MAX];
	uint64_t out;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		path_in(path, sizeof(path), shapes[i].name);
		write_archive(path, shapes[i].fmt, shapes[i].filter, ents, 2);
		if (read_all(path, false, 0, 0, &out) != 0)
			fail_msg("%s: %s", shapes[i].name, mig_errmsg(ctx));
		assert_int_equal(out, 1000 + len);
		if (read_all(path, true, 10, 0, &out) != MIG_ERR_SECURITY)
			fail_msg("%s: not refused at 10:1", shapes[i].name);
		assert_true(errmsg_has("export.csv"));
		assert_true(errmsg_has("max_expansion_ratio = 10 times"));
		assert_int_equal(unlink(path), 0);
	}
	free(csv);
}

/*
 * A zip holding ok.txt and a symbolic link "ln" -> /etc/passwd, made by
 * Python's zipfile (create_system 3, the link's mode 0120777 in its
 * external attributes).  Local headers carry no mode at all.
 */
static const unsigned char link_zip[] = {
	0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x83, 0x18,
	0x22, 0x58, 0x7d, 0x0e, 0x16, 0xda, 0x03, 0x00, 0x00, 0x00, 0x03, 0x00,
	0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x6f, 0x6b, 0x2e, 0x74, 0x78, 0x74,
	0x6f, 0x6b, 0x0a, 0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x83, 0x18, 0x22, 0x58, 0x0a, 0xb9, 0x1f, 0x29, 0x0b, 0x00, 0x00,
	0x00, 0x0b, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x6c, 0x6e, 0x2f,
	0x65, 0x74, 0x63, 0x2f, 0x70, 0x61, 0x73, 0x73, 0x77, 0x64, 0x50, 0x4b,
	0x01, 0x02, 0x14, 0x03, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x83, 0x18,
	0x22, 0x58, 0x7d, 0x0e, 0x16, 0xda, 0x03, 0x00, 0x00, 0x00, 0x03, 0x00,
	0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0xa4, 0x81, 0x00, 0x00, 0x00, 0x00, 0x6f, 0x6b, 0x2e, 0x74,
	0x78, 0x74, 0x50, 0x4b, 0x01, 0x02, 0x14, 0x03, 0x14, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x83, 0x18, 0x22, 0x58, 0x0a, 0xb9, 0x1f, 0x29, 0x0b, 0x00,
	0x00, 0x00, 0x0b, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xa1, 0x27, 0x00, 0x00, 0x00,
	0x6c, 0x6e, 0x50, 0x4b, 0x05, 0x06, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00,
	0x02, 0x00, 0x64, 0x00, 0x00, 0x00, 0x52, 0x00, 0x00, 0x00, 0x00, 0x00,
};
#define LINK_ZIP_CD	82	/* offset of its central directory */
#define LINK_ZIP_EOCD	182	/* offset of its end record */

static void
test_stream__archive_zip_symlink(void **state)
{
	struct mig_archive_entry e;
	struct mig_archive *ar;
	char path[PATH_MAX];

	(void)state;
	path_in(path, sizeof(path), "link.zip");
	write_file(path, link_zip, sizeof(link_zip));
	assert_int_equal(mig_archive_open(path, ctx, &ar), 0);
	assert_int_equal(mig_archive_next(ar, &e), 0);
	assert_string_equal(e.name, "ok.txt");
	assert_int_equal(e.type, MIG_ARCHIVE_REGULAR);
	assert_int_equal(mig_archive_next(ar, &e), 0);
	assert_string_equal(e.name, "ln");
	assert_int_equal(e.type, MIG_ARCHIVE_SYMLINK);
	assert_string_equal(e.link, "/etc/passwd");
	assert_int_equal(mig_archive_next(ar, &e), 1);
	mig_archive_free(ar);
	assert_int_equal(unlink(path), 0);
}

/*
 * Cut short before, inside or after its central directory, or read as a
 * stream, the zip is refused: from its local headers "ln" would read as
 * a regular file and the cut archive as complete.
 */
static void
test_stream__archive_zip_cut(void **state)
{
	static const size_t cuts[] = {
		LINK_ZIP_CD, LINK_ZIP_CD + 4, LINK_ZIP_CD + 46, LINK_ZIP_EOCD,
		sizeof(link_zip) - 1, 40,
	};
	struct mig_archive *ar;
	struct mig_reader *mr;
	char path[PATH_MAX];
	size_t i;

	(void)state;
	path_in(path, sizeof(path), "cut.zip");
	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		write_file(path, link_zip, cuts[i]);
		ar = NULL;
		if (mig_archive_open(path, ctx, &ar) != MIG_ERR_FORMAT)
			fail_msg("cut at %zu: not refused", cuts[i]);
		assert_null(ar);
		assert_true(errmsg_has("cut.zip: a zip without its central "
		    "directory"));
	}
	assert_int_equal(unlink(path), 0);

	assert_int_equal(mig_mem_reader_new(link_zip, sizeof(link_zip), ctx,
	    &mr), 0);
	assert_int_equal(mig_archive_open_reader(mr, "mem.zip", ctx, &ar),
	    MIG_ERR_FORMAT);
	assert_null(ar);
	assert_true(errmsg_has("mem.zip: a zip read as a stream: refused"));
	mig_reader_free(mr);
}

/* A cpio newc header for name with mode, and size bytes of data, at p. */
static size_t
newc(char *p, const char *name, unsigned int mode, const char *data)
{
	size_t o, nlen = strlen(name) + 1, size = strlen(data);

	o = (size_t)sprintf(p, "070701%08x%08x%08x%08x%08x%08x%08zx%08x%08x"
	    "%08x%08x%08zx%08x", 1u, mode, 0u, 0u, 1u, 0u, size, 0u, 0u, 0u,
	    0u, nlen, 0u);
	memcpy(p + o, name, nlen);
	o += nlen;
	while (o % 4 != 0)
		p[o++] = '\0';
	memcpy(p + o, data, size);
	o += size;
	while (o % 4 != 0)
		p[o++] = '\0';
	return o;
}

/* An entry whose header gives no file type is never a regular file. */
static void
test_stream__archive_unknown_type(void **state)
{
	static const unsigned int modes[] = { 0644, 0070644 };
	struct mig_archive_entry e;
	struct mig_archive *ar;
	char path[PATH_MAX], buf[1024];
	size_t i, len;

	(void)state;
	path_in(path, sizeof(path), "t.cpio");
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		len = newc(buf, "typeless", modes[i], "/etc/passwd");
		len += newc(buf + len, "TRAILER!!!", 0, "");
		write_file(path, buf, len);
		assert_int_equal(mig_archive_open(path, ctx, &ar), 0);
		assert_int_equal(mig_archive_next(ar, &e), MIG_ERR_FORMAT);
		assert_true(errmsg_has("t.cpio: typeless: the header does not "
		    "say what the entry is"));
		mig_archive_free(ar);
	}
	/* The same with a type is read. */
	len = newc(buf, "typed", 0100644, "x");
	len += newc(buf + len, "TRAILER!!!", 0, "");
	write_file(path, buf, len);
	assert_int_equal(mig_archive_open(path, ctx, &ar), 0);
	assert_int_equal(mig_archive_next(ar, &e), 0);
	assert_int_equal(e.type, MIG_ARCHIVE_REGULAR);
	mig_archive_free(ar);
	assert_int_equal(unlink(path), 0);
}

/*
 * --bwlimit.  The limiter promises a floor, never a ceiling: N bytes at R
 * bytes/s take at least N/R seconds less the burst credit.  A slow or
 * loaded machine only takes longer, so these bounds cannot fail by
 * chance; a limiter that lets bytes through early fails them always.
 */
#define RL_RATE		(1024 * 1024)
#define RL_BYTES	(512 * 1024)

static int64_t
mono_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The least time n bytes may take at RL_RATE, in ns, minus 1 ms of slack
 * for the clock's own granularity. */
static int64_t
rl_floor_ns(uint64_t n)
{
	return (int64_t)(n * 1000000000ULL / RL_RATE) -
	    (int64_t)MIG_RATELIMIT_BURST_MS * 1000000 - 1000000;
}

struct rl_job {
	struct mig_ratelimit	*rl;
	size_t			 len;
	int			 r;
	unsigned char		 digest[32];
};

/* Pushes len generated bytes through a limiter stage into a memory sink. */
static void *
rl_push(void *arg)
{
	struct rl_job *j = arg;
	struct mig_ctx *c = mig_ctx_new();
	struct mig_writer *mem = NULL, *lim = NULL;
	unsigned char *buf = malloc(j->len);
	const unsigned char *got;
	size_t i, n = 0;

	j->r = -1;
	if (c == NULL || buf == NULL)
		goto out;
	for (i = 0; i < j->len; i++)
		buf[i] = (unsigned char)(i * 7 + 3);
	if (mig_mem_writer_new(j->len, c, &mem) != 0 ||
	    mig_ratelimit_writer_new(j->rl, mem, c, &lim) != 0 ||
	    mig_writer_write(lim, buf, j->len / 3) != 0 ||
	    mig_writer_write(lim, buf + j->len / 3, j->len - j->len / 3) != 0 ||
	    mig_writer_close(lim) != 0)
		goto out;
	got = mig_mem_writer_data(mem, &n);
	/* Every byte through, unchanged and in order. */
	j->r = n == j->len && memcmp(got, buf, n) == 0 ? 0 : -2;
out:
	mig_writer_free(lim);
	mig_writer_free(mem);
	mig_ctx_free(c);
	free(buf);
	return NULL;
}

static void
test_stream__bwlimit_floor(void **state)
{
	struct mig_ratelimit *rl = NULL;
	struct rl_job j;
	int64_t t0, took;

	(void)state;
	assert_int_equal(mig_ratelimit_new(0, &rl), MIG_ERR_USAGE);
	assert_null(rl);
	assert_int_equal(mig_ratelimit_new(RL_RATE, &rl), 0);
	memset(&j, 0, sizeof(j));
	j.rl = rl;
	j.len = RL_BYTES;
	t0 = mono_ns();
	(void)rl_push(&j);
	took = mono_ns() - t0;
	assert_int_equal(j.r, 0);
	if (took < rl_floor_ns(RL_BYTES))
		fail_msg("%d bytes at %d B/s took %lld ms, at least %lld due",
		    RL_BYTES, RL_RATE, (long long)(took / 1000000),
		    (long long)(rl_floor_ns(RL_BYTES) / 1000000));
	mig_ratelimit_free(rl);
	mig_ratelimit_take(NULL, 1 << 30);	/* no limiter: no wait */
}

/* Four writers on one limiter share its rate: the whole run's limit. */
static void
test_stream__bwlimit_shared(void **state)
{
	struct mig_ratelimit *rl = NULL;
	struct rl_job j[4];
	pthread_t th[4];
	int64_t t0, took;
	size_t i;

	(void)state;
	assert_int_equal(mig_ratelimit_new(RL_RATE, &rl), 0);
	t0 = mono_ns();
	for (i = 0; i < 4; i++) {
		memset(&j[i], 0, sizeof(j[i]));
		j[i].rl = rl;
		j[i].len = RL_BYTES / 4;
		assert_int_equal(pthread_create(&th[i], NULL, rl_push, &j[i]),
		    0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(j[i].r, 0);
	}
	took = mono_ns() - t0;
	if (took < rl_floor_ns(RL_BYTES))
		fail_msg("4 x %d bytes at %d B/s took %lld ms, at least %lld "
		    "due", RL_BYTES / 4, RL_RATE, (long long)(took / 1000000),
		    (long long)(rl_floor_ns(RL_BYTES) / 1000000));
	mig_ratelimit_free(rl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream__writer_state),
		cmocka_unit_test(test_stream__file_never_replaces_special),
		cmocka_unit_test(test_stream__async),
		cmocka_unit_test(test_stream__close_idempotent),
		cmocka_unit_test(test_stream__close_failure_downstream),
		cmocka_unit_test(test_stream__read_full),
		cmocka_unit_test(test_stream__mem_roundtrip),
		cmocka_unit_test(test_stream__mem_writer_limit),
		cmocka_unit_test(test_stream__sha256_known),
		cmocka_unit_test(test_stream__sha256_passthrough),
		cmocka_unit_test(test_stream__hex),
		cmocka_unit_test(test_stream__tee),
		cmocka_unit_test(test_stream__zstd_roundtrip),
		cmocka_unit_test(test_stream__zstd_compresses),
		cmocka_unit_test(test_stream__zstd_truncated),
		cmocka_unit_test(test_stream__zstd_bomb),
		cmocka_unit_test(test_stream__zstd_bad_level),
		cmocka_unit_test(test_stream__bounded_exact_and_short),
		cmocka_unit_test(test_stream__bounded_endless_source),
		cmocka_unit_test(test_stream__bounded_zstd_bomb),
		cmocka_unit_test(test_stream__bounded_errors),
		cmocka_unit_test(test_stream__file_publish),
		cmocka_unit_test(test_stream__file_abandon),
		cmocka_unit_test(test_stream__file_refuse_overwrite),
		cmocka_unit_test(test_stream__file_errors),
		cmocka_unit_test(test_stream__fd_stages),
		cmocka_unit_test(test_stream__pipeline),
		cmocka_unit_test(test_stream__copy_failure),
		cmocka_unit_test(test_stream__tar_roundtrip),
		cmocka_unit_test(test_stream__tar_zstd),
		cmocka_unit_test(test_stream__tar_size_mismatch),
		cmocka_unit_test(test_stream__tar_early_free),
		cmocka_unit_test(test_stream__tar_sink_failure),
		cmocka_unit_test(test_stream__archive_truncated),
		cmocka_unit_test(test_stream__archive_formats),
		cmocka_unit_test(test_stream__archive_zip_bomb),
		cmocka_unit_test(test_stream__archive_bomb_entry),
		cmocka_unit_test(test_stream__archive_max_bytes),
		cmocka_unit_test(test_stream__archive_ordinary_ratio),
		cmocka_unit_test(test_stream__archive_zip_symlink),
		cmocka_unit_test(test_stream__archive_zip_cut),
		cmocka_unit_test(test_stream__archive_unknown_type),
		cmocka_unit_test(test_stream__bwlimit_floor),
		cmocka_unit_test(test_stream__bwlimit_shared),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
