/*
 * SHA-256 taps: pass-through stages that hash and count what flows
 * through them, as a writer (push) or a reader (pull).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "migrate/error.h"
#include "migrate/stream.h"

struct sha256_tap {
	EVP_MD_CTX	*md;
	uint64_t	 count;
	bool		 done;		/* digest is final */
	unsigned char	 digest[32];
};

/*
 * SHA-256, fetched once per process.  EVP_sha256() is fetched again by
 * every EVP_DigestInit_ex() (a lock and a hash lookup in OpenSSL's method
 * store), and landing small files starts two taps a file.  The fetched
 * algorithm is immutable and safe to share between threads; like the
 * algorithms of lib/crypto/age_prim.c it is set once and never freed.
 */
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD *alg_sha256;

static void
sha256_init(void)
{
	alg_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static void
tap_free(struct sha256_tap *s)
{
	if (s == NULL)
		return;
	EVP_MD_CTX_free(s->md);
	free(s);
}

static int
tap_new(struct mig_ctx *ctx, struct sha256_tap **sp)
{
	struct sha256_tap *s;

	*sp = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	(void)pthread_once(&sha256_once, sha256_init);
	if (alg_sha256 == NULL || (s->md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex2(s->md, alg_sha256, NULL) != 1) {
		tap_free(s);
		return mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "SHA-256 init");
	}
	*sp = s;
	return 0;
}

static int
tap_update(struct sha256_tap *s, const void *buf, size_t len,
    struct mig_ctx *ctx)
{
	if (s->done)
		return mig_seterr(ctx, MIG_ERR_INTERNAL,
		    "sha256: data after the end");
	if (EVP_DigestUpdate(s->md, buf, len) != 1)
		return mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "SHA-256 update");
	s->count += len;
	return 0;
}

static int
tap_final(struct sha256_tap *s, struct mig_ctx *ctx)
{
	unsigned int n = 0;

	if (s->done)
		return 0;
	if (EVP_DigestFinal_ex(s->md, s->digest, &n) != 1 || n != 32)
		return mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "SHA-256 final");
	s->done = true;
	return 0;
}

/* Final digest, or the digest of what went through so far. */
static void
tap_result(const struct sha256_tap *s, unsigned char digest[32],
    uint64_t *count)
{
	EVP_MD_CTX *copy;
	unsigned int n = 0;

	memset(digest, 0, 32);
	if (count != NULL)
		*count = s != NULL ? s->count : 0;
	if (s == NULL)
		return;
	if (s->done) {
		memcpy(digest, s->digest, 32);
		return;
	}
	if ((copy = EVP_MD_CTX_new()) == NULL)
		return;
	if (EVP_MD_CTX_copy_ex(copy, s->md) != 1 ||
	    EVP_DigestFinal_ex(copy, digest, &n) != 1 || n != 32)
		memset(digest, 0, 32);
	EVP_MD_CTX_free(copy);
}

/* --- Writer -------------------------------------------------------------- */

static int
sha_write(struct mig_writer *w, const void *buf, size_t len)
{
	int r;

	if ((r = tap_update(w->priv, buf, len, w->ctx)) != 0)
		return r;
	if (w->next != NULL)
		return mig_writer_write(w->next, buf, len);
	return 0;
}

static int
sha_close(struct mig_writer *w)
{
	return tap_final(w->priv, w->ctx);
}

static void
sha_wfree(struct mig_writer *w)
{
	tap_free(w->priv);
}

static const struct mig_writer_ops sha256_writer_ops = {
	.name = "sha256",
	.write = sha_write,
	.close = sha_close,
	.free = sha_wfree,
};

/* next may be NULL: the stage is then a hashing sink. */
int
mig_sha256_writer_new(struct mig_writer *next, struct mig_ctx *ctx,
    struct mig_writer **wp)
{
	struct sha256_tap *s;
	int r;

	*wp = NULL;
	if ((r = tap_new(ctx, &s)) != 0)
		return r;
	if ((*wp = mig_writer_new(&sha256_writer_ops, s, next, ctx)) == NULL) {
		tap_free(s);
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	}
	return 0;
}

void
mig_sha256_writer_result(const struct mig_writer *w, unsigned char digest[32],
    uint64_t *count)
{
	tap_result(w != NULL && w->ops == &sha256_writer_ops ? w->priv : NULL,
	    digest, count);
}

/* --- Reader -------------------------------------------------------------- */

static int
sha_read(struct mig_reader *r, void *buf, size_t cap, size_t *nread)
{
	struct sha256_tap *s = r->priv;
	int rc;

	if ((rc = mig_reader_read(r->src, buf, cap, nread)) != 0)
		return rc;
	if (*nread == 0)
		return tap_final(s, r->ctx);
	return tap_update(s, buf, *nread, r->ctx);
}

static void
sha_rfree(struct mig_reader *r)
{
	tap_free(r->priv);
}

static const struct mig_reader_ops sha256_reader_ops = {
	.name = "sha256",
	.read = sha_read,
	.free = sha_rfree,
};

int
mig_sha256_reader_new(struct mig_reader *src, struct mig_ctx *ctx,
    struct mig_reader **rp)
{
	struct sha256_tap *s;
	int r;

	*rp = NULL;
	if ((r = tap_new(ctx, &s)) != 0)
		return r;
	if ((*rp = mig_reader_new(&sha256_reader_ops, s, src, ctx)) == NULL) {
		tap_free(s);
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	}
	return 0;
}

void
mig_sha256_reader_result(const struct mig_reader *r, unsigned char digest[32],
    uint64_t *count)
{
	tap_result(r != NULL && r->ops == &sha256_reader_ops ? r->priv : NULL,
	    digest, count);
}
