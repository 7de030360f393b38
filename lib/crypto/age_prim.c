/*
 * The age primitives on OpenSSL 3 EVP: scrypt through EVP_KDF,
 * HMAC-SHA-256 (and HKDF-SHA-256 on it) through EVP_MAC, X25519 through
 * EVP_PKEY and ChaCha20-Poly1305 through EVP_CIPHER.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "migrate/error.h"

#define MIG_CRYPTO_INTERNAL
#include "crypto_int.h"

/*
 * Algorithms fetched once per process.  Fetching by name takes a lock and
 * a hash lookup in OpenSSL's method store; done per file it was a
 * measurable share of landing many small files.  Fetched algorithms are
 * immutable and reference-counted, safe to share between threads.  They
 * are process-wide state, of the kind OpenSSL keeps itself, set once
 * under pthread_once and never freed (they live as long as the library
 * is loaded); lib/ has no other, apart from the once-only global set-up
 * that libcurl and libssh2 require (lib/transport).
 *
 * HMAC-SHA-256 is kept as a context with the digest chosen but no key,
 * which is only ever copied (EVP_MAC_CTX_dup() reads it, const): setting
 * the digest by name on a new context would fetch SHA-256 again.
 */
static pthread_once_t algs_once = PTHREAD_ONCE_INIT;
static EVP_MAC_CTX *alg_hmac;
static EVP_CIPHER *alg_chacha;

static void
algs_init(void)
{
	OSSL_PARAM params[2];
	EVP_MAC *mac;

	alg_chacha = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	/* The context holds its own reference to the algorithm. */
	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) != NULL &&
	    (alg_hmac = EVP_MAC_CTX_new(mac)) != NULL &&
	    EVP_MAC_CTX_set_params(alg_hmac, params) != 1) {
		EVP_MAC_CTX_free(alg_hmac);
		alg_hmac = NULL;
	}
	EVP_MAC_free(mac);
}

const EVP_CIPHER *
mig_age_chacha(void)
{
	(void)pthread_once(&algs_once, algs_init);
	return alg_chacha;
}

/* A copy of the prepared HMAC-SHA-256, or NULL with the error set. */
static EVP_MAC_CTX *
hmac_new(struct mig_ctx *ctx)
{
	EVP_MAC_CTX *mctx = NULL;

	(void)pthread_once(&algs_once, algs_init);
	if (alg_hmac == NULL || (mctx = EVP_MAC_CTX_dup(alg_hmac)) == NULL)
		(void)mig_seterr_ssl(ctx, MIG_ERR_CRYPTO,
		    "HMAC-SHA-256 unavailable");
	return mctx;
}

/*
 * HMAC-SHA-256 under key of a, then b (blen may be 0), on mctx, which
 * takes the new key: one context serves the HMACs of a derivation.
 */
static int
hmac_sha256(EVP_MAC_CTX *mctx, const unsigned char *key, size_t keylen,
    const void *a, size_t alen, const void *b, size_t blen,
    unsigned char out[AGE_KEY_LEN], struct mig_ctx *ctx)
{
	size_t outlen = 0;

	if (EVP_MAC_init(mctx, key, keylen, NULL) != 1 ||
	    EVP_MAC_update(mctx, a, alen) != 1 ||
	    (blen > 0 && EVP_MAC_update(mctx, b, blen) != 1) ||
	    EVP_MAC_final(mctx, out, &outlen, AGE_KEY_LEN) != 1 ||
	    outlen != AGE_KEY_LEN)
		return mig_seterr_ssl(ctx, MIG_ERR_CRYPTO,
		    "HMAC-SHA-256 failed");
	return 0;
}

/*
 * HKDF-SHA-256 (RFC 5869) of one block, all age asks for: the pseudo-
 * random key PRK = HMAC(salt, ikm), then out = HMAC(PRK, info || 0x01).
 * An empty salt stands for HashLen zero bytes (RFC 5869 2.2).  It is
 * built on the HMAC above rather than on EVP_KDF "HKDF", because OpenSSL
 * 3.0's HKDF looks up HMAC and SHA-256 by name in every derivation, and
 * age derives three keys a file.
 */
int
mig_age_hkdf(const unsigned char *ikm, size_t ikmlen,
    const unsigned char *salt, size_t saltlen, const char *info,
    unsigned char out[AGE_KEY_LEN], struct mig_ctx *ctx)
{
	static const unsigned char zeros[AGE_KEY_LEN], one = 0x01;
	unsigned char prk[AGE_KEY_LEN];
	EVP_MAC_CTX *mctx;
	int rc;

	if ((mctx = hmac_new(ctx)) == NULL)
		return MIG_ERR_CRYPTO;
	if (saltlen == 0) {
		salt = zeros;
		saltlen = sizeof(zeros);
	}
	if ((rc = hmac_sha256(mctx, salt, saltlen, ikm, ikmlen, NULL, 0, prk,
	    ctx)) == 0)
		rc = hmac_sha256(mctx, prk, sizeof(prk), info, strlen(info),
		    &one, 1, out, ctx);
	OPENSSL_cleanse(prk, sizeof(prk));
	EVP_MAC_CTX_free(mctx);
	return rc;
}

int
mig_age_hmac(const unsigned char key[AGE_KEY_LEN], const unsigned char *msg,
    size_t len, unsigned char out[AGE_KEY_LEN], struct mig_ctx *ctx)
{
	EVP_MAC_CTX *mctx;
	int rc;

	if ((mctx = hmac_new(ctx)) == NULL)
		return MIG_ERR_CRYPTO;
	rc = hmac_sha256(mctx, key, AGE_KEY_LEN, msg, len, NULL, 0, out, ctx);
	EVP_MAC_CTX_free(mctx);
	return rc;
}

int
mig_age_x25519(const unsigned char scalar[AGE_KEY_LEN],
    const unsigned char point[AGE_KEY_LEN], unsigned char out[AGE_KEY_LEN],
    struct mig_ctx *ctx)
{
	EVP_PKEY *priv;
	int rc;

	priv = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, scalar,
	    AGE_KEY_LEN);
	if (priv == NULL)
		return mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "X25519 setup failed");
	rc = mig_age_x25519_pkey(priv, point, out, ctx);
	EVP_PKEY_free(priv);
	return rc;
}

/* out = X25519(priv, peer); MIG_ERR_VERIFY for a low-order peer. */
static int
x25519_derive(EVP_PKEY *priv, EVP_PKEY *peer,
    unsigned char out[AGE_KEY_LEN], struct mig_ctx *ctx)
{
	static const unsigned char zero[AGE_KEY_LEN];
	EVP_PKEY_CTX *pctx;
	size_t outlen = AGE_KEY_LEN;
	int rc = 0;

	if ((pctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL)) == NULL ||
	    EVP_PKEY_derive_init(pctx) != 1) {
		rc = mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "X25519 setup failed");
		goto out_free;
	}
	/*
	 * The peer is not validated: for X25519 that check only asks whether
	 * the key has a public half (it has), and cost a context and a walk
	 * of OpenSSL's name map per file.  A low-order peer gives an all-zero
	 * shared secret, which derive refuses and the comparison below
	 * catches as well; the stanza is then invalid and age says the
	 * implementation MUST abort.
	 */
	if (EVP_PKEY_derive_set_peer_ex(pctx, peer, 0) != 1 ||
	    EVP_PKEY_derive(pctx, out, &outlen) != 1 ||
	    outlen != AGE_KEY_LEN ||
	    CRYPTO_memcmp(out, zero, AGE_KEY_LEN) == 0) {
		OPENSSL_cleanse(out, AGE_KEY_LEN);
		rc = mig_seterr_ssl(ctx, MIG_ERR_VERIFY,
		    "X25519: low-order point (all-zero shared secret)");
	}
out_free:
	EVP_PKEY_CTX_free(pctx);
	return rc;
}

int
mig_age_x25519_pkey(EVP_PKEY *priv, const unsigned char point[AGE_KEY_LEN],
    unsigned char out[AGE_KEY_LEN], struct mig_ctx *ctx)
{
	EVP_PKEY *peer;
	int rc;

	peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, point,
	    AGE_KEY_LEN);
	if (priv == NULL || peer == NULL)
		rc = mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "X25519 setup failed");
	else
		rc = x25519_derive(priv, peer, out, ctx);
	EVP_PKEY_free(peer);
	return rc;
}

/*
 * A fresh ephemeral key, its public share and the shared secret with
 * point, in two scalar multiplications.  Building the key from raw bytes
 * already computes its public half, so the share comes from that key
 * rather than from a third multiplication.  peer is point as a key when
 * the caller built one, else NULL.
 */
int
mig_age_x25519_ephemeral(const unsigned char point[AGE_KEY_LEN],
    EVP_PKEY *peer, unsigned char share[AGE_KEY_LEN],
    unsigned char shared[AGE_KEY_LEN], struct mig_ctx *ctx)
{
	unsigned char eph[AGE_KEY_LEN];
	EVP_PKEY *priv, *own = NULL;
	size_t len = AGE_KEY_LEN;
	int rc;

	if ((rc = mig_age_random(eph, sizeof(eph), ctx)) != 0)
		return rc;
	priv = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, eph,
	    AGE_KEY_LEN);
	OPENSSL_cleanse(eph, sizeof(eph));
	if (peer == NULL)
		peer = own = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL,
		    point, AGE_KEY_LEN);
	if (priv == NULL || peer == NULL ||
	    EVP_PKEY_get_raw_public_key(priv, share, &len) != 1 ||
	    len != AGE_KEY_LEN)
		rc = mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "X25519 setup failed");
	else
		rc = x25519_derive(priv, peer, shared, ctx);
	EVP_PKEY_free(own);
	EVP_PKEY_free(priv);
	return rc;
}

int
mig_age_x25519_base(const unsigned char secret[AGE_KEY_LEN],
    unsigned char pub[AGE_KEY_LEN], struct mig_ctx *ctx)
{
	EVP_PKEY *priv;
	size_t len = AGE_KEY_LEN;
	int rc = 0;

	priv = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, secret,
	    AGE_KEY_LEN);
	if (priv == NULL || EVP_PKEY_get_raw_public_key(priv, pub, &len) != 1
	    || len != AGE_KEY_LEN)
		rc = mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "X25519 key failed");
	EVP_PKEY_free(priv);
	return rc;
}

int
mig_age_scrypt(const char *pass, size_t passlen,
    const unsigned char salt[AGE_SALT_LEN], int logn,
    unsigned char out[AGE_KEY_LEN], struct mig_ctx *ctx)
{
	static const char label[] = "age-encryption.org/v1/scrypt";
	unsigned char fullsalt[sizeof(label) - 1 + AGE_SALT_LEN];
	EVP_KDF *kdf;
	EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM params[7], *p = params;
	uint64_t n, maxmem;
	uint32_t r = 8, par = 1;
	int rc = 0;

	if (logn < 1 || logn > 40)
		return mig_seterr(ctx, MIG_ERR_USAGE,
		    "scrypt: work factor %d out of range", logn);
	n = (uint64_t)1 << logn;
	/* scrypt needs 128 * r * N bytes for V, plus small change. */
	maxmem = 128 * (uint64_t)r * n + 128 * (uint64_t)r * 4 + 1024 * 1024;
	memcpy(fullsalt, label, sizeof(label) - 1);
	memcpy(fullsalt + sizeof(label) - 1, salt, AGE_SALT_LEN);
	if ((kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL)) == NULL ||
	    (kctx = EVP_KDF_CTX_new(kdf)) == NULL) {
		rc = mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "scrypt unavailable");
		goto out_free;
	}
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD,
	    (void *)pass, passlen);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
	    fullsalt, sizeof(fullsalt));
	*p++ = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n);
	*p++ = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r);
	*p++ = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &par);
	*p++ = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM,
	    &maxmem);
	*p = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out, AGE_KEY_LEN, params) != 1)
		rc = mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "scrypt failed");
out_free:
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return rc;
}

/* ChaCha20-Poly1305 of one file key under a zero nonce. */
static int
aead_key(const unsigned char key[AGE_KEY_LEN], const unsigned char *in,
    unsigned char *out, unsigned char tag[AGE_TAG_LEN], bool enc,
    struct mig_ctx *ctx)
{
	static const unsigned char nonce[12];
	EVP_CIPHER_CTX *c;
	int n, m, rc = 0;

	if (mig_age_chacha() == NULL)
		return mig_seterr_ssl(ctx, MIG_ERR_CRYPTO,
		    "ChaCha20-Poly1305 unavailable");
	if ((c = EVP_CIPHER_CTX_new()) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	if (EVP_CipherInit_ex2(c, mig_age_chacha(), key, nonce,
	    enc ? 1 : 0, NULL) != 1 ||
	    (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG,
	    AGE_TAG_LEN, tag) != 1) ||
	    EVP_CipherUpdate(c, out, &n, in, AGE_FILE_KEY_LEN) != 1) {
		rc = mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "ChaCha20-Poly1305");
		goto out_free;
	}
	if (EVP_CipherFinal_ex(c, out + n, &m) != 1) {
		ERR_clear_error();
		rc = enc ? mig_seterr(ctx, MIG_ERR_CRYPTO, "seal failed") :
		    MIG_ERR_VERIFY;
		goto out_free;
	}
	if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, AGE_TAG_LEN,
	    tag) != 1)
		rc = mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "ChaCha20-Poly1305");
out_free:
	EVP_CIPHER_CTX_free(c);
	return rc;
}

int
mig_age_seal_key(const unsigned char key[AGE_KEY_LEN],
    const unsigned char fk[AGE_FILE_KEY_LEN], unsigned char body[AGE_BODY_LEN],
    struct mig_ctx *ctx)
{
	return aead_key(key, fk, body, body + AGE_FILE_KEY_LEN, true, ctx);
}

int
mig_age_open_key(const unsigned char key[AGE_KEY_LEN],
    const unsigned char body[AGE_BODY_LEN], unsigned char fk[AGE_FILE_KEY_LEN],
    struct mig_ctx *ctx)
{
	unsigned char tag[AGE_TAG_LEN];
	int rc;

	memcpy(tag, body + AGE_FILE_KEY_LEN, AGE_TAG_LEN);
	rc = aead_key(key, body, fk, tag, false, ctx);
	if (rc != 0)
		OPENSSL_cleanse(fk, AGE_FILE_KEY_LEN);
	return rc;
}

int
mig_age_random(unsigned char *buf, size_t len, struct mig_ctx *ctx)
{
	if (RAND_priv_bytes(buf, (int)len) != 1)
		return mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "no randomness");
	return 0;
}
