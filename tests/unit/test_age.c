/*
 * Unit tests for lib/crypto age: Bech32, armor, header, STREAM payload,
 * known answers from the spec and files made by the age tool (1.1.1).
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "migrate/age.h"
#include "migrate/error.h"
#include "migrate/stream.h"
#include "migrate/util.h"

#include "crypto/crypto_int.h"

/* From the age specification (C2SP age.md, X25519 recipient type). */
#define SPEC_IDENTITY \
	"AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"
#define SPEC_RECIPIENT \
	"age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj"

/* Keys made by age-keygen 1.1.1. */
#define K1_SECRET \
	"AGE-SECRET-KEY-1EKT7P3UUKW7GZXCKEPVSU68C38W2XM8W5VMQ9SJKH259R8YSHE5SLP7CJ6"
#define K1_PUBLIC \
	"age1fqjwya2aqewghdrzpytuqaa40v4kslkg0kcxzcah7qhslkzfeq9q5vr2gl"
#define K2_SECRET \
	"AGE-SECRET-KEY-1KM79VRTEMWF9Z6XNMLC46X2AZNYLE34KW0F5AKCQUCMGQUZLHQVQ8AVRY3"
#define K2_PUBLIC \
	"age1ppjmh3vaancl28tqjjt3mvdemy87ujuw52ry7p843dzw3cudv4cs62tqyf"
#define VECTOR_PLAIN	"hello, migrate\n"

/* `age -r K1_PUBLIC` of VECTOR_PLAIN, base64. */
static const char vec_x25519_b64[] =
    "YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBTbTM1enlzQWxOMExiWVVmak4r"
    "Q0dUNWRsL1BpNFJDQ1dSby9UWEhSdjFZCkQybGR1UU1zK2ttV0JiWnV2cHRaaWRqVDNN"
    "SVRMeDNyMEpQazBhcnBvVk0KLS0tIHEwdDBYTkZ3L0hiSzhiTE1jTk1BNTJyRVFTMmlw"
    "OVlydENtRFh0bk83ejQK++PaCiIpPpAChI7zyY5ClatCMmU6wvkKmAggmjuRy3P38IeM"
    "/d7NvxjRsXuMZao=";

/* `age -r K1_PUBLIC -r K2_PUBLIC -a` of VECTOR_PLAIN. */
static const char vec_armored[] =
    "-----BEGIN AGE ENCRYPTED FILE-----\n"
    "YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSB2aWRDdFEvbDYwMXFtQXZR\n"
    "L1RQYlM2RlUrYnBFMkNuUUhTcXBCZ2Y3SG5FCmwzTythZnNSdnlJZCtqRWQ2Z3cv\n"
    "aVhONVpqMDFPcllOTXFzdXBURWtsSDAKLT4gWDI1NTE5IElDa0RFSTF0a2VMUzEx\n"
    "eUxJUHIvYXN3Zzd3eWdxK3pOQm1xQU1icXp2UU0KVDVLc011VTA0a0tocXpYT2k5\n"
    "QVptTW4xby9rUURvQUw0NEI5OXF1cTFzYwotLS0gSks0dGdVNXBnRTRtNzdUR2lS\n"
    "Q3dGVG9OZlY1d2ZldEJpU0tyMTZjcGR0TQruBa5dD/BWLQNDMTXBKttxF9RfqLWF\n"
    "55eVmObEYharMx3/Y9Tdep6xtgQAOttxSw==\n"
    "-----END AGE ENCRYPTED FILE-----\n";

/* `age -p` (passphrase "hunter2", work factor 18) of VECTOR_PLAIN. */
static const char vec_scrypt_b64[] =
    "YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IHNjcnlwdCBSWGJaVnhQNTBXOHhDa1dvckJi"
    "RVd3IDE4CjZNQlRGeGRRY1dNZ0xzR2E1UGIyOU9FNVNVUnM4RHhoK3YvRGo1UjlSVEEK"
    "LS0tIE9JMEwwUjBFS05SYmUxZW9UYmVBd3pSdExOQjhnNU92dnNRTGFBZHlzcjgKFcff"
    "7u4MnrpkcAjnv3YBT1i2yTYPH8x2LD4BP+jxl7eLYoR6jrgU9VgXKStymEs=";

/* Threads the payload stages of the helpers below use. */
static int threads = 1;

struct buf {
	unsigned char	*p;
	size_t		 len;
};

static void
buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
}

static struct buf
b64(const char *s)
{
	struct buf b;
	long n;

	b.p = malloc(strlen(s));
	assert_non_null(b.p);
	n = mig_base64_decode(s, strlen(s), b.p, strlen(s));
	assert_true(n >= 0);
	b.len = (size_t)n;
	return b;
}

static struct buf
dup_buf(const void *p, size_t len)
{
	struct buf b;

	b.p = malloc(len + 1);
	assert_non_null(b.p);
	memcpy(b.p, p, len);
	b.len = len;
	return b;
}

/* A reader yielding at most max bytes a call, over a borrowed buffer. */
struct dribble {
	const unsigned char	*p;
	size_t			 len, off, max;
};

static int
dribble_read(struct mig_reader *r, void *buf, size_t cap, size_t *nread)
{
	struct dribble *d = r->priv;
	size_t n = d->len - d->off;

	if (n > cap)
		n = cap;
	if (n > d->max)
		n = d->max;
	memcpy(buf, d->p + d->off, n);
	d->off += n;
	*nread = n;
	return 0;
}

static void
dribble_free(struct mig_reader *r)
{
	free(r->priv);
}

static const struct mig_reader_ops dribble_ops = {
	.name = "dribble",
	.read = dribble_read,
	.free = dribble_free,
};

/* Encrypts in to rs; returns the rc and the age file in *out. */
static int
encrypt_buf(const struct mig_age_recipients *rs, bool armor,
    const void *in, size_t len, size_t wchunk, struct buf *out)
{
	struct mig_ctx *ctx = mig_ctx_new();
	struct mig_writer *sink = NULL, *w = NULL;
	const unsigned char *data, *p = in;
	size_t dlen, n;
	int rc;

	assert_non_null(ctx);
	out->p = NULL;
	out->len = 0;
	assert_int_equal(mig_mem_writer_new(0, ctx, &sink), 0);
	if ((rc = mig_age_encrypt_writer_new(rs, armor, sink, ctx, &w)) != 0)
		goto out;
	assert_int_equal(mig_age_writer_set_threads(w, threads), 0);
	while (len > 0) {
		n = len < wchunk ? len : wchunk;
		if ((rc = mig_writer_write(w, p, n)) != 0)
			goto out;
		p += n;
		len -= n;
	}
	if ((rc = mig_writer_close(w)) != 0)
		goto out;
	data = mig_mem_writer_data(sink, &dlen);
	*out = dup_buf(data, dlen);
out:
	mig_writer_free(w);
	mig_writer_free(sink);
	mig_ctx_free(ctx);
	return rc;
}

/*
 * Decrypts in with ids reading through a source of at most srcmax bytes
 * a call; returns the rc (and the message in msg when given).
 */
static int
decrypt_buf(const struct mig_age_identities *ids, const void *in,
    size_t len, size_t srcmax, struct buf *out, char *msg, size_t msglen)
{
	struct mig_ctx *ctx = mig_ctx_new();
	struct mig_reader *src, *r = NULL;
	struct mig_writer *sink = NULL;
	struct dribble *d;
	const unsigned char *data;
	size_t dlen;
	int rc;

	assert_non_null(ctx);
	out->p = NULL;
	out->len = 0;
	d = calloc(1, sizeof(*d));
	assert_non_null(d);
	d->p = in;
	d->len = len;
	d->max = srcmax;
	src = mig_reader_new(&dribble_ops, d, NULL, ctx);
	assert_non_null(src);
	assert_int_equal(mig_mem_writer_new(0, ctx, &sink), 0);
	if ((rc = mig_age_decrypt_reader_new(ids, src, ctx, &r)) != 0)
		goto out;
	assert_int_equal(mig_age_reader_set_threads(r, threads), 0);
	if ((rc = mig_stream_copy(r, sink, NULL)) != 0)
		goto out;
	data = mig_mem_writer_data(sink, &dlen);
	*out = dup_buf(data, dlen);
out:
	if (msg != NULL)
		snprintf(msg, msglen, "%s", mig_errmsg(ctx));
	mig_reader_free(r);
	mig_reader_free(src);
	mig_writer_free(sink);
	mig_ctx_free(ctx);
	return rc;
}

static struct mig_age_identities *
ids_of(const char *secret)
{
	struct mig_age_identities *ids = mig_age_identities_new();

	assert_non_null(ids);
	assert_int_equal(mig_age_identities_add(ids, secret, NULL), 0);
	return ids;
}

static struct mig_age_recipients *
rs_of(const char *recipient)
{
	struct mig_age_recipients *rs = mig_age_recipients_new();

	assert_non_null(rs);
	assert_int_equal(mig_age_recipients_add(rs, recipient, NULL), 0);
	return rs;
}

/* --- Bech32 ------------------------------------------------------------- */

static void
test_age__bech32_known_answer(void **state)
{
	char *r = NULL;

	(void)state;
	assert_int_equal(mig_age_identity_to_recipient(SPEC_IDENTITY, &r,
	    NULL), 0);
	assert_string_equal(r, SPEC_RECIPIENT);
	free(r);
	assert_int_equal(mig_age_identity_to_recipient(K1_SECRET, &r, NULL),
	    0);
	assert_string_equal(r, K1_PUBLIC);
	free(r);
	assert_int_equal(mig_age_identity_to_recipient(K2_SECRET, &r, NULL),
	    0);
	assert_string_equal(r, K2_PUBLIC);
	free(r);
}

static void
test_age__bech32_bip173(void **state)
{
	static const char *good[] = {
		"A12UEL5L", "a12uel5l",
		"abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
		"split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
	};
	static const char *badv[] = {
		"", "1", "a1", "x1b4n0q5v",	/* no/short data, bad char */
		"A1G7SGD8", "10a06t8",		/* bad checksum, empty hrp */
		"1qzzfhee", "A12UEL5l",		/* empty hrp, mixed case */
		"a12uel5l ", "a1\1772uel5l",	/* space, DEL */
		"abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxx",
	};
	unsigned char *data;
	char *hrp, *enc;
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(mig_bech32_decode(good[i], &hrp, &data, &len),
		    0);
		free(hrp);
		free(data);
	}
	assert_int_equal(mig_bech32_decode(good[2], &hrp, &data, &len), 0);
	assert_string_equal(hrp, "abcdef");
	assert_int_equal(len, 20);
	assert_int_equal(mig_bech32_encode(hrp, data, len, false, &enc), 0);
	assert_string_equal(enc, good[2]);
	free(enc);
	assert_int_equal(mig_bech32_encode(hrp, data, len, true, &enc), 0);
	assert_string_equal(enc,
	    "ABCDEF1QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7LMQQQXW");
	free(enc);
	free(hrp);
	free(data);
	for (i = 0; i < sizeof(badv) / sizeof(badv[0]); i++)
		assert_int_equal(mig_bech32_decode(badv[i], &hrp, &data,
		    &len), MIG_ERR_PARSE);
}

static void
test_age__bech32_bad_keys(void **state)
{
	struct mig_age_recipients *rs = mig_age_recipients_new();
	struct mig_age_identities *ids = mig_age_identities_new();
	char s[128];

	(void)state;
	/* Checksum: change the last character. */
	snprintf(s, sizeof(s), "%s", K1_PUBLIC);
	s[strlen(s) - 1] = s[strlen(s) - 1] == 'q' ? 'p' : 'q';
	assert_int_equal(mig_age_recipients_add(rs, s, NULL), MIG_ERR_PARSE);
	/* Mixed case. */
	snprintf(s, sizeof(s), "%s", K1_PUBLIC);
	s[10] = (char)(s[10] - 'a' + 'A');
	assert_int_equal(mig_age_recipients_add(rs, s, NULL), MIG_ERR_PARSE);
	/* Wrong HRP: an identity as a recipient and the reverse. */
	assert_int_equal(mig_age_recipients_add(rs, K1_SECRET, NULL),
	    MIG_ERR_PARSE);
	assert_int_equal(mig_age_identities_add(ids, K1_PUBLIC, NULL),
	    MIG_ERR_PARSE);
	/* A valid Bech32 string with another HRP. */
	assert_int_equal(mig_age_recipients_add(rs,
	    "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw", NULL),
	    MIG_ERR_PARSE);
	/* Truncated key. */
	snprintf(s, sizeof(s), "%s", K1_PUBLIC);
	s[20] = '\0';
	assert_int_equal(mig_age_recipients_add(rs, s, NULL), MIG_ERR_PARSE);
	/* Identity checksum. */
	snprintf(s, sizeof(s), "%s", K1_SECRET);
	s[30] = s[30] == 'Q' ? 'P' : 'Q';
	assert_int_equal(mig_age_identities_add(ids, s, NULL), MIG_ERR_PARSE);
	assert_int_equal(mig_age_recipients_count(rs), 0);
	assert_int_equal(mig_age_identities_count(ids), 0);
	/* Upper case is valid Bech32. */
	assert_int_equal(mig_age_recipients_add(rs,
	    "AGE1ZVKYG2LQZRAA2LNJVQEJ32NKUU0UES2S82HZRYE869XEEXVN73EQUNUJWJ",
	    NULL), 0);
	mig_age_recipients_free(rs);
	mig_age_identities_free(ids);
}

/* --- armor ------------------------------------------------------------- */

static int
armor_roundtrip(const unsigned char *in, size_t len, struct buf *text)
{
	struct mig_ctx *ctx = mig_ctx_new();
	struct mig_writer *sink, *w;
	const unsigned char *data;
	size_t dlen;

	assert_int_equal(mig_mem_writer_new(0, ctx, &sink), 0);
	assert_int_equal(mig_armor_writer_new(sink, ctx, &w), 0);
	assert_int_equal(mig_writer_write(w, in, len), 0);
	assert_int_equal(mig_writer_close(w), 0);
	data = mig_mem_writer_data(sink, &dlen);
	*text = dup_buf(data, dlen);
	mig_writer_free(w);
	mig_writer_free(sink);
	mig_ctx_free(ctx);
	return 0;
}

static int
armor_decode(const char *text, size_t len, struct buf *out)
{
	struct mig_ctx *ctx = mig_ctx_new();
	struct mig_reader *src, *r;
	unsigned char tmp[100];
	size_t n;
	int rc;

	out->p = malloc(len + 1);
	out->len = 0;
	assert_int_equal(mig_mem_reader_new(text, len, ctx, &src), 0);
	assert_int_equal(mig_armor_reader_new(src, ctx, &r), 0);
	for (;;) {
		/* Odd read sizes exercise the partial-line buffer. */
		if ((rc = mig_reader_read(r, tmp, 37, &n)) != 0 || n == 0)
			break;
		memcpy(out->p + out->len, tmp, n);
		out->len += n;
	}
	mig_reader_free(r);
	mig_reader_free(src);
	mig_ctx_free(ctx);
	return rc;
}

static void
test_age__armor_roundtrip(void **state)
{
	static const size_t sizes[] = { 0, 1, 2, 3, 47, 48, 49, 95, 96, 97,
	    1000, 4096 };
	unsigned char in[4096];
	struct buf text, out;
	size_t i, j, col;

	(void)state;
	for (i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 7 + 3);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		armor_roundtrip(in, sizes[i], &text);
		/* Every line but the last base64 one has 64 columns. */
		for (j = 0, col = 0; j < text.len; j++) {
			if (text.p[j] == '\n') {
				assert_true(col <= 64);
				col = 0;
			} else
				col++;
		}
		assert_int_equal(armor_decode((char *)text.p, text.len, &out),
		    0);
		assert_int_equal(out.len, sizes[i]);
		assert_memory_equal(out.p, in, sizes[i]);
		buf_free(&out);
		buf_free(&text);
	}
}

static void
test_age__armor_lenient_whitespace(void **state)
{
	static const char *good[] = {
		"\n  \t-----BEGIN AGE ENCRYPTED FILE-----\nYWJj\n"
		    "-----END AGE ENCRYPTED FILE-----\n\n  \n",
		"-----BEGIN AGE ENCRYPTED FILE-----\r\nYWJj\r\n"
		    "-----END AGE ENCRYPTED FILE-----\r\n",
		"-----BEGIN AGE ENCRYPTED FILE-----\nYWJj\n"
		    "-----END AGE ENCRYPTED FILE-----",
	};
	struct buf out;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(armor_decode(good[i], strlen(good[i]), &out),
		    0);
		assert_int_equal(out.len, 3);
		assert_memory_equal(out.p, "abc", 3);
		buf_free(&out);
	}
}

static void
test_age__armor_bad(void **state)
{
	static const char line64[] =
	    "YWJjYWJjYWJjYWJjYWJjYWJjYWJjYWJjYWJjYWJjYWJjYWJjYWJjYWJjYWJjYWJj";
	static const char *bad[] = {
		/* no BEGIN, wrong label, lower case */
		"YWJj\n-----END AGE ENCRYPTED FILE-----\n",
		"-----BEGIN PGP MESSAGE-----\nYWJj\n"
		    "-----END AGE ENCRYPTED FILE-----\n",
		"-----begin age encrypted file-----\nYWJj\n"
		    "-----end age encrypted file-----\n",
		/* non-canonical base64: trailing bits set */
		"-----BEGIN AGE ENCRYPTED FILE-----\nYWJjYR==\n"
		    "-----END AGE ENCRYPTED FILE-----\n",
		/* missing padding, short line then more data */
		"-----BEGIN AGE ENCRYPTED FILE-----\nYWJjYQ\n"
		    "-----END AGE ENCRYPTED FILE-----\n",
		"-----BEGIN AGE ENCRYPTED FILE-----\nYWJj\nYWJj\n"
		    "-----END AGE ENCRYPTED FILE-----\n",
		/* empty line, space inside, line too long */
		"-----BEGIN AGE ENCRYPTED FILE-----\n\nYWJj\n"
		    "-----END AGE ENCRYPTED FILE-----\n",
		"-----BEGIN AGE ENCRYPTED FILE-----\nYW Jj\n"
		    "-----END AGE ENCRYPTED FILE-----\n",
		/* no END, garbage after END, data before BEGIN */
		"-----BEGIN AGE ENCRYPTED FILE-----\nYWJj\n",
		"-----BEGIN AGE ENCRYPTED FILE-----\nYWJj\n"
		    "-----END AGE ENCRYPTED FILE-----\nx\n",
		"x-----BEGIN AGE ENCRYPTED FILE-----\nYWJj\n"
		    "-----END AGE ENCRYPTED FILE-----\n",
		/* padding in a full line followed by more */
		"", " \n",
	};
	char text[512];
	struct buf out;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(armor_decode(bad[i], strlen(bad[i]), &out),
		    MIG_ERR_VERIFY);
		buf_free(&out);
	}
	/* A 68-column line, and a 60-column line before a full one. */
	snprintf(text, sizeof(text), "-----BEGIN AGE ENCRYPTED FILE-----\n"
	    "%sYWJj\n-----END AGE ENCRYPTED FILE-----\n", line64);
	assert_int_equal(armor_decode(text, strlen(text), &out),
	    MIG_ERR_VERIFY);
	buf_free(&out);
	snprintf(text, sizeof(text), "-----BEGIN AGE ENCRYPTED FILE-----\n"
	    "%.60s\n%s\n-----END AGE ENCRYPTED FILE-----\n", line64, line64);
	assert_int_equal(armor_decode(text, strlen(text), &out),
	    MIG_ERR_VERIFY);
	buf_free(&out);
	/* The same two full lines are fine. */
	snprintf(text, sizeof(text), "-----BEGIN AGE ENCRYPTED FILE-----\n"
	    "%s\n%s\n-----END AGE ENCRYPTED FILE-----\n", line64, line64);
	assert_int_equal(armor_decode(text, strlen(text), &out), 0);
	assert_int_equal(out.len, 96);
	buf_free(&out);
}

/* --- decrypting files made by age --------------------------------------- */

static void
test_age__decrypt_age_vectors(void **state)
{
	struct mig_age_identities *ids;
	struct buf in, out;
	char msg[MIG_ERRMSG_MAX];

	(void)state;
	in = b64(vec_x25519_b64);
	ids = ids_of(K1_SECRET);
	assert_int_equal(decrypt_buf(ids, in.p, in.len, SIZE_MAX, &out, msg,
	    sizeof(msg)), 0);
	assert_int_equal(out.len, strlen(VECTOR_PLAIN));
	assert_memory_equal(out.p, VECTOR_PLAIN, out.len);
	buf_free(&out);
	/* One byte at a time from the source. */
	assert_int_equal(decrypt_buf(ids, in.p, in.len, 1, &out, NULL, 0), 0);
	assert_memory_equal(out.p, VECTOR_PLAIN, out.len);
	buf_free(&out);
	/* Armored, two recipients: each identity alone opens it. */
	assert_int_equal(decrypt_buf(ids, vec_armored, strlen(vec_armored), 7,
	    &out, NULL, 0), 0);
	assert_memory_equal(out.p, VECTOR_PLAIN, out.len);
	buf_free(&out);
	mig_age_identities_free(ids);
	ids = ids_of(K2_SECRET);
	assert_int_equal(decrypt_buf(ids, vec_armored, strlen(vec_armored),
	    SIZE_MAX, &out, NULL, 0), 0);
	assert_memory_equal(out.p, VECTOR_PLAIN, out.len);
	buf_free(&out);
	/* K2 is not a recipient of the binary vector. */
	assert_int_equal(decrypt_buf(ids, in.p, in.len, SIZE_MAX, &out, msg,
	    sizeof(msg)), MIG_ERR_NOKEY);
	assert_non_null(strstr(msg, "no identity matched"));
	buf_free(&out);
	mig_age_identities_free(ids);
	buf_free(&in);
}

static void
test_age__decrypt_age_scrypt(void **state)
{
	struct mig_age_identities *ids = mig_age_identities_new();
	struct buf in, out;

	(void)state;
	in = b64(vec_scrypt_b64);
	assert_int_equal(mig_age_identities_add_passphrase(ids, "hunter3", 7,
	    NULL), 0);
	assert_int_equal(decrypt_buf(ids, in.p, in.len, SIZE_MAX, &out, NULL,
	    0), MIG_ERR_NOKEY);
	mig_age_identities_free(ids);
	ids = mig_age_identities_new();
	assert_int_equal(mig_age_identities_add_passphrase(ids, "hunter2", 7,
	    NULL), 0);
	mig_age_identities_set_max_logn(ids, 17);
	assert_int_equal(decrypt_buf(ids, in.p, in.len, SIZE_MAX, &out, NULL,
	    0), MIG_ERR_SECURITY);
	mig_age_identities_set_max_logn(ids, MIG_AGE_SCRYPT_MAX_LOGN);
	assert_int_equal(decrypt_buf(ids, in.p, in.len, SIZE_MAX, &out, NULL,
	    0), 0);
	assert_memory_equal(out.p, VECTOR_PLAIN, out.len);
	buf_free(&out);
	/* An X25519 identity does not open a passphrase file. */
	mig_age_identities_free(ids);
	ids = ids_of(K1_SECRET);
	assert_int_equal(decrypt_buf(ids, in.p, in.len, SIZE_MAX, &out, NULL,
	    0), MIG_ERR_NOKEY);
	mig_age_identities_free(ids);
	buf_free(&in);
}

/* --- header -------------------------------------------------------------- */

static void
test_age__header_tamper(void **state)
{
	struct mig_age_identities *ids = ids_of(K1_SECRET);
	struct buf in, out;
	unsigned char *mac;
	size_t i;

	(void)state;
	in = b64(vec_x25519_b64);
	/* The MAC's first character. */
	mac = (unsigned char *)strstr((char *)in.p, "\n--- ") + 5;
	*mac ^= 1;
	assert_int_equal(decrypt_buf(ids, in.p, in.len, SIZE_MAX, &out, NULL,
	    0), MIG_ERR_VERIFY);
	*mac ^= 1;
	/* The version line. */
	in.p[20] = '2';
	assert_int_equal(decrypt_buf(ids, in.p, in.len, SIZE_MAX, &out, NULL,
	    0), MIG_ERR_VERIFY);
	in.p[20] = '1';
	/* Each byte of the header: never a success. */
	for (i = 0; i < (size_t)(mac - in.p) + 43; i++) {
		int rc;

		in.p[i] ^= 0x20;
		rc = decrypt_buf(ids, in.p, in.len, SIZE_MAX, &out, NULL, 0);
		assert_true(rc == MIG_ERR_VERIFY || rc == MIG_ERR_NOKEY);
		in.p[i] ^= 0x20;
	}
	assert_int_equal(decrypt_buf(ids, in.p, in.len, SIZE_MAX, &out, NULL,
	    0), 0);
	buf_free(&out);
	buf_free(&in);
	mig_age_identities_free(ids);
}

/*
 * Builds a header text with fk for K1 and the extra stanza lines given,
 * with a valid MAC.
 */
static struct buf
header_with(const unsigned char fk[AGE_FILE_KEY_LEN], const char *extra)
{
	struct mig_age_recipients *rs = rs_of(K1_PUBLIC);
	unsigned char *hdr, mackey[32], mac[32];
	char *text;
	size_t len, pos;
	struct buf b;

	assert_int_equal(mig_age_header_build(rs, fk, &hdr, &len, NULL), 0);
	text = malloc(len + strlen(extra) + 64);
	/* Insert after the version line, then recompute the MAC. */
	pos = strlen(AGE_VERSION_LINE) + 1;
	memcpy(text, hdr, pos);
	memcpy(text + pos, extra, strlen(extra));
	memcpy(text + pos + strlen(extra), hdr + pos, len - pos);
	len += strlen(extra);
	len -= 44 + 1;	/* " MAC\n" */
	assert_int_equal(mig_age_hkdf(fk, AGE_FILE_KEY_LEN, NULL, 0, "header",
	    mackey, NULL), 0);
	assert_int_equal(mig_age_hmac(mackey, (unsigned char *)text, len, mac,
	    NULL), 0);
	text[len++] = ' ';
	mig_base64_raw_encode(mac, 32, text + len);
	len += 43;
	text[len++] = '\n';
	b.p = (unsigned char *)text;
	b.len = len;
	free(hdr);
	mig_age_recipients_free(rs);
	return b;
}

static int
unwrap(const struct buf *hdr, const struct mig_age_identities *ids,
    unsigned char fk[AGE_FILE_KEY_LEN])
{
	struct mig_age_header h;
	int rc;

	rc = mig_age_header_parse(hdr->p, hdr->len, &h, NULL);
	if (rc == 0)
		rc = mig_age_header_unwrap(&h, hdr->p, ids, fk, NULL);
	mig_age_header_clear(&h);
	return rc;
}

static void
test_age__header_stanzas(void **state)
{
	struct mig_age_identities *ids = ids_of(K1_SECRET);
	unsigned char fk[AGE_FILE_KEY_LEN], got[AGE_FILE_KEY_LEN];
	struct buf h;
	size_t i;
	static const struct {
		const char	*extra;
		int		 rc;
	} cases[] = {
		/* Unknown stanzas are skipped, whatever their body. */
		{ "-> example.com/enigma arg1 arg2\nYWJj\n", 0 },
		{ "-> grease\n\n", 0 },
		{ "-> grease-x "
		    "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\n"
		    "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\n"
		    "QUE\n", 0 },
		/* Grammar violations. */
		{ "->  double-space\n\n", MIG_ERR_VERIFY },
		{ "-> trailing \n\n", MIG_ERR_VERIFY },
		{ "->\n\n", MIG_ERR_VERIFY },
		{ "-> x\nYWJj=\n", MIG_ERR_VERIFY },
		{ "-> x\nYR\n", MIG_ERR_VERIFY },
		{ "-> x\n"
		    "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\n"
		    "-> y\n\n", MIG_ERR_VERIFY },
		{ "-> x\n"
		    "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQ\n",
		    MIG_ERR_VERIFY },
		{ "junk\n", MIG_ERR_VERIFY },
		/* Known types with the wrong shape. */
		{ "-> X25519\nYWJj\n", MIG_ERR_VERIFY },
		{ "-> X25519 YWJj\n"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
		    MIG_ERR_VERIFY },
		/* A scrypt stanza next to another one. */
		{ "-> scrypt AAAAAAAAAAAAAAAAAAAAAA 10\n"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
		    MIG_ERR_VERIFY },
		{ "-> scrypt AAAAAAAAAAAAAAAAAAAAAA 010\n"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
		    MIG_ERR_VERIFY },
		/* X25519 with a low-order point (zero). */
		{ "-> X25519 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
		    MIG_ERR_VERIFY },
	};

	(void)state;
	for (i = 0; i < sizeof(fk); i++)
		fk[i] = (unsigned char)i;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc;

		h = header_with(fk, cases[i].extra);
		rc = unwrap(&h, ids, got);
		if (rc != cases[i].rc)
			fail_msg("case %zu (%s): rc %d, want %d", i,
			    cases[i].extra, rc, cases[i].rc);
		if (rc == 0)
			assert_memory_equal(got, fk, sizeof(fk));
		buf_free(&h);
	}
	/* Header without any stanza, and garbage after the MAC. */
	h = header_with(fk, "");
	h.p[h.len] = 'x';
	h.len++;
	assert_int_equal(unwrap(&h, ids, got), MIG_ERR_VERIFY);
	buf_free(&h);
	h = dup_buf("age-encryption.org/v1\n--- "
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n", 70);
	assert_int_equal(unwrap(&h, ids, got), MIG_ERR_VERIFY);
	buf_free(&h);
	mig_age_identities_free(ids);
}

/* --- STREAM payload ------------------------------------------------------ */

static void
stream_sizes(void)
{
	static const size_t sizes[] = { 0, 1, 65535, 65536, 65537,
	    2 * 65536, 2 * 65536 + 1, 300000, 8 * 65536, 8 * 65536 + 1,
	    9 * 65536, 17 * 65536 + 5 };
	static const size_t wchunks[] = { 1000, 65536, 1 << 21 };
	struct mig_age_recipients *rs = rs_of(K1_PUBLIC);
	struct mig_age_identities *ids = ids_of(K1_SECRET);
	unsigned char *plain;
	struct buf ct, out;
	size_t i, j, hlen, chunks, max = 17 * 65536 + 5;

	plain = malloc(max);
	for (i = 0; i < max; i++)
		plain[i] = (unsigned char)(i * 31 + (i >> 8));
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (j = 0; j < sizeof(wchunks) / sizeof(wchunks[0]); j++) {
			assert_int_equal(encrypt_buf(rs, false, plain,
			    sizes[i], wchunks[j], &ct), 0);
			hlen = (size_t)(strstr((char *)ct.p, "\n--- ") -
			    (char *)ct.p) + 5 + 43 + 1;
			chunks = sizes[i] == 0 ? 1 :
			    (sizes[i] + 65535) / 65536;
			assert_int_equal(ct.len, hlen + 16 + sizes[i] +
			    16 * chunks);
			assert_int_equal(decrypt_buf(ids, ct.p, ct.len,
			    j == 0 ? 4099 : SIZE_MAX, &out, NULL, 0), 0);
			assert_int_equal(out.len, sizes[i]);
			if (sizes[i] > 0)
				assert_memory_equal(out.p, plain, sizes[i]);
			buf_free(&out);
			buf_free(&ct);
		}
	}
	/* Armored. */
	assert_int_equal(encrypt_buf(rs, true, plain, 65537, 4096, &ct), 0);
	assert_memory_equal(ct.p, "-----BEGIN AGE ENCRYPTED FILE-----\n", 35);
	assert_int_equal(decrypt_buf(ids, ct.p, ct.len, 333, &out, NULL, 0),
	    0);
	assert_int_equal(out.len, 65537);
	assert_memory_equal(out.p, plain, 65537);
	buf_free(&out);
	buf_free(&ct);
	free(plain);
	mig_age_recipients_free(rs);
	mig_age_identities_free(ids);
}

static void
test_age__stream_sizes(void **state)
{
	(void)state;
	threads = 1;
	stream_sizes();
}

/* The same on 2 and 3 threads (uneven slices of a batch). */
static void
test_age__stream_threads(void **state)
{
	(void)state;
	threads = 2;
	stream_sizes();
	threads = 3;
	stream_sizes();
	threads = 1;
}

static void
stream_truncation(void)
{
	struct mig_age_recipients *rs = rs_of(K1_PUBLIC);
	struct mig_age_identities *ids = ids_of(K1_SECRET);
	unsigned char *plain;
	struct buf ct, out, ext;
	size_t hlen, cuts[11], i, n = 9 * 65536 + 100;

	plain = calloc(1, n);
	assert_int_equal(encrypt_buf(rs, false, plain, n, n, &ct), 0);
	hlen = (size_t)(strstr((char *)ct.p, "\n--- ") - (char *)ct.p) + 49;
	cuts[0] = hlen;				/* no nonce */
	cuts[1] = hlen + 8;			/* half a nonce */
	cuts[2] = hlen + 16;			/* no chunk at all */
	cuts[3] = hlen + 16 + 65552;		/* chunk boundary */
	cuts[4] = hlen + 16 + 2 * 65552;	/* chunk boundary */
	cuts[5] = hlen + 16 + 1000;		/* mid chunk */
	cuts[6] = ct.len - 1;			/* last byte */
	cuts[7] = ct.len - 16;			/* last tag */
	cuts[8] = hlen - 10;			/* inside the header */
	cuts[9] = hlen + 16 + 8 * 65552;	/* batch boundary */
	cuts[10] = hlen + 16 + 8 * 65552 + 1;	/* one byte past it */
	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		int rc = decrypt_buf(ids, ct.p, cuts[i], SIZE_MAX, &out, NULL,
		    0);

		if (rc != MIG_ERR_VERIFY)
			fail_msg("cut at %zu: rc %d", cuts[i], rc);
		buf_free(&out);
	}
	/* Appended bytes: one, a tag's worth, a whole chunk. */
	ext.p = malloc(ct.len + 65552);
	memcpy(ext.p, ct.p, ct.len);
	memset(ext.p + ct.len, 0, 65552);
	assert_int_equal(decrypt_buf(ids, ext.p, ct.len + 1, SIZE_MAX, &out,
	    NULL, 0), MIG_ERR_VERIFY);
	assert_int_equal(decrypt_buf(ids, ext.p, ct.len + 16, SIZE_MAX, &out,
	    NULL, 0), MIG_ERR_VERIFY);
	assert_int_equal(decrypt_buf(ids, ext.p, ct.len + 65552, SIZE_MAX,
	    &out, NULL, 0), MIG_ERR_VERIFY);
	/* A flipped payload bit in the second chunk, then in the seventh. */
	ct.p[hlen + 16 + 70000] ^= 4;
	assert_int_equal(decrypt_buf(ids, ct.p, ct.len, SIZE_MAX, &out, NULL,
	    0), MIG_ERR_VERIFY);
	ct.p[hlen + 16 + 70000] ^= 4;
	ct.p[hlen + 16 + 6 * 65552 + 5] ^= 0x80;
	assert_int_equal(decrypt_buf(ids, ct.p, ct.len, SIZE_MAX, &out, NULL,
	    0), MIG_ERR_VERIFY);
	ct.p[hlen + 16 + 6 * 65552 + 5] ^= 0x80;
	assert_int_equal(decrypt_buf(ids, ct.p, ct.len, SIZE_MAX, &out, NULL,
	    0), 0);
	assert_int_equal(out.len, n);
	buf_free(&out);
	free(ext.p);
	buf_free(&ct);
	free(plain);
	mig_age_recipients_free(rs);
	mig_age_identities_free(ids);
}

static void
test_age__stream_truncation(void **state)
{
	(void)state;
	threads = 1;
	stream_truncation();
	threads = 2;
	stream_truncation();
	threads = 1;
}

/* Seals one chunk by hand for the crafted-payload tests. */
static void
seal_chunk(const unsigned char key[32], uint64_t counter, bool last,
    const unsigned char *in, size_t len, unsigned char *out)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	unsigned char nonce[12] = { 0 };
	int n = 0, m = 0, i;

	for (i = 10; i >= 3; i--, counter >>= 8)
		nonce[i] = (unsigned char)counter;
	nonce[11] = last;
	assert_int_equal(EVP_EncryptInit_ex2(c, EVP_chacha20_poly1305(), key,
	    nonce, NULL), 1);
	if (len > 0)
		assert_int_equal(EVP_EncryptUpdate(c, out, &n, in, (int)len),
		    1);
	assert_int_equal(EVP_EncryptFinal_ex(c, out + n, &m), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16,
	    out + len), 1);
	EVP_CIPHER_CTX_free(c);
}

static void
test_age__stream_crafted(void **state)
{
	struct mig_age_recipients *rs = rs_of(K1_PUBLIC);
	struct mig_age_identities *ids = ids_of(K1_SECRET);
	unsigned char fk[16], nonce[16], key[32], *hdr, *file, *plain;
	size_t hlen, off;
	struct buf out;

	(void)state;
	memset(fk, 7, sizeof(fk));
	memset(nonce, 9, sizeof(nonce));
	plain = calloc(1, 65536);
	assert_int_equal(mig_age_header_build(rs, fk, &hdr, &hlen, NULL), 0);
	assert_int_equal(mig_age_hkdf(fk, 16, nonce, 16, "payload", key,
	    NULL), 0);
	file = malloc(hlen + 16 + 2 * 65552);
	memcpy(file, hdr, hlen);
	memcpy(file + hlen, nonce, 16);
	off = hlen + 16;
	/* Full non-final chunk, then an empty final chunk: refused. */
	seal_chunk(key, 0, false, plain, 65536, file + off);
	seal_chunk(key, 1, true, plain, 0, file + off + 65552);
	assert_int_equal(decrypt_buf(ids, file, off + 65552 + 16, SIZE_MAX,
	    &out, NULL, 0), MIG_ERR_VERIFY);
	/* The same with a full final chunk: accepted. */
	seal_chunk(key, 0, true, plain, 65536, file + off);
	assert_int_equal(decrypt_buf(ids, file, off + 65552, SIZE_MAX, &out,
	    NULL, 0), 0);
	assert_int_equal(out.len, 65536);
	buf_free(&out);
	/* A final chunk followed by another chunk: refused. */
	seal_chunk(key, 1, true, plain, 10, file + off + 65552);
	assert_int_equal(decrypt_buf(ids, file, off + 65552 + 26, SIZE_MAX,
	    &out, NULL, 0), MIG_ERR_VERIFY);
	/* Only non-final chunks: the final one is missing. */
	seal_chunk(key, 0, false, plain, 65536, file + off);
	assert_int_equal(decrypt_buf(ids, file, off + 65552, SIZE_MAX, &out,
	    NULL, 0), MIG_ERR_VERIFY);
	/* An empty final chunk alone is an empty file. */
	seal_chunk(key, 0, true, plain, 0, file + off);
	assert_int_equal(decrypt_buf(ids, file, off + 16, SIZE_MAX, &out,
	    NULL, 0), 0);
	assert_int_equal(out.len, 0);
	buf_free(&out);
	free(file);
	free(hdr);
	free(plain);
	mig_age_recipients_free(rs);
	mig_age_identities_free(ids);
}

static void
test_age__scrypt_roundtrip(void **state)
{
	struct mig_age_recipients *rs = mig_age_recipients_new();
	struct mig_age_identities *ids = mig_age_identities_new();
	struct buf ct, out;

	(void)state;
	assert_int_equal(mig_age_recipients_add_passphrase(rs, "pw", 2, 10,
	    NULL), 0);
	/* Nothing may join a passphrase. */
	assert_int_equal(mig_age_recipients_add(rs, K1_PUBLIC, NULL),
	    MIG_ERR_USAGE);
	assert_int_equal(encrypt_buf(rs, false, "secret", 6, 6, &ct), 0);
	assert_non_null(strstr((char *)ct.p, "-> scrypt "));
	assert_int_equal(mig_age_identities_add_passphrase(ids, "pw", 2,
	    NULL), 0);
	assert_int_equal(decrypt_buf(ids, ct.p, ct.len, SIZE_MAX, &out, NULL,
	    0), 0);
	assert_int_equal(out.len, 6);
	assert_memory_equal(out.p, "secret", 6);
	buf_free(&out);
	buf_free(&ct);
	mig_age_recipients_free(rs);
	mig_age_identities_free(ids);
}

/* --- key files ----------------------------------------------------------- */

static void
write_file(const char *path, const char *text, mode_t mode)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void
test_age__key_files(void **state)
{
	char dir[] = "/tmp/test_age.XXXXXX", path[256], path2[256];
	struct mig_age_identities *ids = mig_age_identities_new();
	struct mig_age_recipients *rs = mig_age_recipients_new();
	struct mig_ctx *ctx = mig_ctx_new();
	char *rcpt = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/keys.txt", dir);
	write_file(path, "# created: x\n# public key: " K1_PUBLIC "\n"
	    K1_SECRET "\n\n# second\r\n" K2_SECRET "\r\n", 0600);
	assert_int_equal(mig_age_identities_load(ids, path, ctx), 0);
	assert_int_equal(mig_age_identities_count(ids), 2);
	/* Readable by others: refused. */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(mig_age_identities_load(ids, path, ctx),
	    MIG_ERR_SECURITY);
	assert_non_null(strstr(mig_errmsg(ctx), "group or others"));
	/* A bad line is reported with its number, not its text. */
	write_file(path, "# ok\nAGE-SECRET-KEY-1NOPE\n", 0600);
	assert_int_equal(mig_age_identities_load(ids, path, ctx),
	    MIG_ERR_PARSE);
	assert_non_null(strstr(mig_errmsg(ctx), ":2:"));
	assert_null(strstr(mig_errmsg(ctx), "NOPE"));
	/* A symlink to a key is refused. */
	snprintf(path2, sizeof(path2), "%s/link", dir);
	assert_int_equal(symlink(path, path2), 0);
	assert_int_equal(mig_age_identities_load(ids, path2, ctx),
	    MIG_ERR_SECURITY);
	unlink(path2);
	/* Recipients file. */
	write_file(path, "# team\n" K1_PUBLIC "\n\n" K2_PUBLIC "  \n", 0644);
	assert_int_equal(mig_age_recipients_load(rs, path, ctx), 0);
	assert_int_equal(mig_age_recipients_count(rs), 2);
	write_file(path, "# nothing\n", 0644);
	assert_int_equal(mig_age_recipients_load(rs, path, ctx),
	    MIG_ERR_PARSE);
	unlink(path);
	/* keygen: 0600, O_EXCL, readable by the loader. */
	assert_int_equal(mig_age_keygen_file(path, &rcpt, ctx), 0);
	assert_int_equal(strncmp(rcpt, "age1", 4), 0);
	free(rcpt);
	assert_int_equal(mig_age_keygen_file(path, &rcpt, ctx),
	    MIG_ERR_EXISTS);
	{
		struct stat st;

		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}
	assert_int_equal(mig_age_identities_load(ids, path, ctx), 0);
	unlink(path);
	rmdir(dir);
	mig_ctx_free(ctx);
	mig_age_recipients_free(rs);
	mig_age_identities_free(ids);
}

/*
 * Attack: a recipients file (plan recipients_file, encrypt -R) that is
 * in fact an identity file put its AGE-SECRET-KEY-1 line into the error
 * message.  No line and no argument is ever echoed now; the message says
 * where, and what the line is.
 */
static void
test_age__identity_as_recipients_not_echoed(void **state)
{
	static const char *const bad[] = {
		K1_SECRET,			/* the attack */
		"age-secret-key-1qqqq",		/* any case */
		"not-a-key s3cr3t-value",	/* anything else */
		"age1s3cr3tqqqqqqqqqqqqq",	/* age1 that does not decode */
	};
	struct mig_age_recipients *rs = mig_age_recipients_new();
	struct mig_ctx *ctx = mig_ctx_new();
	char text[512];
	size_t i;

	(void)state;
	(void)snprintf(text, sizeof(text), "# created: x\n# public key: %s\n"
	    "%s\n", K1_PUBLIC, K1_SECRET);
	assert_int_equal(mig_age_recipients_parse(rs, text, strlen(text),
	    "plans/x.pub", ctx), MIG_ERR_PARSE);
	assert_non_null(strstr(mig_errmsg(ctx), "plans/x.pub:3: an identity "
	    "(AGE-SECRET-KEY-1...), not a recipient (age1...)"));
	/* The key's data, not even a part of it. */
	assert_null(strstr(mig_errmsg(ctx), &K1_SECRET[16]));
	assert_null(strstr(mig_errmsg(ctx), K1_PUBLIC));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(mig_age_recipients_add(rs, bad[i], ctx),
		    MIG_ERR_PARSE);
		assert_null(strstr(mig_errmsg(ctx), bad[i]));
		assert_null(strstr(mig_errmsg(ctx), "s3cr3t"));
		assert_null(strstr(mig_errmsg(ctx), "qqqq"));
		(void)snprintf(text, sizeof(text), "%s\n", bad[i]);
		assert_int_equal(mig_age_recipients_parse(rs, text,
		    strlen(text), "r.txt", ctx), MIG_ERR_PARSE);
		assert_non_null(strstr(mig_errmsg(ctx), "r.txt:1: "));
		assert_null(strstr(mig_errmsg(ctx), "s3cr3t"));
		assert_null(strstr(mig_errmsg(ctx), "qqqq"));
	}
	assert_int_equal(mig_age_recipients_count(rs), 0);
	mig_ctx_free(ctx);
	mig_age_recipients_free(rs);
}

static void
test_age__keygen_text(void **state)
{
	char *text, *rcpt, *derived, *line;

	(void)state;
	assert_int_equal(mig_age_keygen_text(&text, &rcpt, NULL), 0);
	assert_int_equal(strncmp(text, "# created: ", 11), 0);
	assert_non_null(strstr(text, "\n# public key: age1"));
	line = strstr(text, "AGE-SECRET-KEY-1");
	assert_non_null(line);
	line[strlen(line) - 1] = '\0';
	assert_int_equal(mig_age_identity_to_recipient(line, &derived, NULL),
	    0);
	assert_string_equal(derived, rcpt);
	free(derived);
	free(rcpt);
	OPENSSL_cleanse(text, strlen(text));
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_age__bech32_known_answer),
		cmocka_unit_test(test_age__bech32_bip173),
		cmocka_unit_test(test_age__bech32_bad_keys),
		cmocka_unit_test(test_age__armor_roundtrip),
		cmocka_unit_test(test_age__armor_lenient_whitespace),
		cmocka_unit_test(test_age__armor_bad),
		cmocka_unit_test(test_age__decrypt_age_vectors),
		cmocka_unit_test(test_age__decrypt_age_scrypt),
		cmocka_unit_test(test_age__header_tamper),
		cmocka_unit_test(test_age__header_stanzas),
		cmocka_unit_test(test_age__stream_sizes),
		cmocka_unit_test(test_age__stream_threads),
		cmocka_unit_test(test_age__stream_truncation),
		cmocka_unit_test(test_age__stream_crafted),
		cmocka_unit_test(test_age__scrypt_roundtrip),
		cmocka_unit_test(test_age__key_files),
		cmocka_unit_test(test_age__identity_as_recipients_not_echoed),
		cmocka_unit_test(test_age__keygen_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
