/*
 * Ed25519 signing keys for audit checkpoints, through OpenSSL EVP only.
 *
 * The private key is an unencrypted PKCS#8 PEM file created O_EXCL with
 * mode 0600; the public key is a SubjectPublicKeyInfo PEM file beside it,
 * which `openssl pkeyutl -verify -pubin -rawin' reads as it is.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "migrate/error.h"
#include "migrate/keyfile.h"
#include "migrate/sign.h"

/* Far above any PEM Ed25519 key; bounds what we read. */

struct mig_sign_key {
	EVP_PKEY	*pkey;
	bool		 private;
};

static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Writes what the memory BIO holds to a new file (O_EXCL). */
static int
write_new(const char *path, mode_t mode, BIO *mem, struct mig_ctx *ctx)
{
	char *data;
	long len;
	int fd, rc = 0;

	len = BIO_get_mem_data(mem, &data);
	if (len <= 0)
		return mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "%s: encode key",
		    path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    mode);
	if (fd < 0)
		return mig_seterr(ctx, errno == EEXIST ? MIG_ERR_EXISTS :
		    MIG_ERR_IO, "%s: %s", path, strerror(errno));
	if (write_all(fd, data, (size_t)len) != 0 || fsync(fd) != 0)
		rc = mig_seterr(ctx, MIG_ERR_IO, "%s: write: %s", path,
		    strerror(errno));
	if (close(fd) != 0 && rc == 0)
		rc = mig_seterr(ctx, MIG_ERR_IO, "%s: close: %s", path,
		    strerror(errno));
	if (rc != 0)
		(void)unlink(path);
	return rc;
}

int
mig_sign_keygen(const char *path, struct mig_ctx *ctx)
{
	EVP_PKEY *pkey = NULL;
	BIO *priv = NULL, *pub = NULL;
	char *pubpath = NULL;
	char *data;
	long len;
	size_t n;
	int rc;

	n = strlen(path) + sizeof(".pub");
	pubpath = malloc(n);
	if (pubpath == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	(void)snprintf(pubpath, n, "%s.pub", path);
	if (access(pubpath, F_OK) == 0) {
		rc = mig_seterr(ctx, MIG_ERR_EXISTS, "%s: %s", pubpath,
		    strerror(EEXIST));
		goto out_free;
	}
	pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	priv = BIO_new(BIO_s_secmem());
	pub = BIO_new(BIO_s_mem());
	if (pkey == NULL || priv == NULL || pub == NULL ||
	    PEM_write_bio_PrivateKey(priv, pkey, NULL, NULL, 0, NULL,
	    NULL) != 1 || PEM_write_bio_PUBKEY(pub, pkey) != 1) {
		rc = mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "%s: generate "
		    "Ed25519 key", path);
		goto out_free;
	}
	if ((rc = write_new(path, 0600, priv, ctx)) != 0)
		goto out_free;
	if ((rc = write_new(pubpath, 0644, pub, ctx)) != 0)
		(void)unlink(path);
out_free:
	if (priv != NULL) {
		len = BIO_get_mem_data(priv, &data);
		if (len > 0)
			OPENSSL_cleanse(data, (size_t)len);
	}
	BIO_free(priv);
	BIO_free(pub);
	EVP_PKEY_free(pkey);
	free(pubpath);
	return rc;
}

static int
load(const char *path, bool want_private, struct mig_ctx *ctx,
    struct mig_sign_key **keyp)
{
	struct mig_sign_key *key = NULL;
	EVP_PKEY *pkey = NULL;
	char *buf = NULL;
	size_t len = 0;
	bool is_private;
	BIO *mem = NULL;
	int rc;

	*keyp = NULL;
	/* A public key file needs no mode check; a private one does. */
	if ((rc = mig_keyfile_read(path, false, &buf, &len, ctx)) != 0)
		return rc;
	is_private = strstr(buf, "PRIVATE KEY-----") != NULL;
	if (is_private) {
		mig_keyfile_free(buf, len);
		buf = NULL;
		if ((rc = mig_keyfile_read(path, true, &buf, &len, ctx)) != 0)
			return rc;
	} else if (want_private) {
		rc = mig_seterr(ctx, MIG_ERR_FORMAT, "%s: not a PEM private "
		    "key (give the private key, not the .pub)", path);
		goto out_free;
	}
	mem = BIO_new_mem_buf(buf, (int)len);
	if (mem == NULL) {
		rc = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_free;
	}
	if (is_private)
		pkey = PEM_read_bio_PrivateKey(mem, NULL, NULL, NULL);
	else
		pkey = PEM_read_bio_PUBKEY(mem, NULL, NULL, NULL);
	if (pkey == NULL) {
		rc = mig_seterr_ssl(ctx, MIG_ERR_FORMAT, "%s: not a PEM "
		    "Ed25519 key", path);
		goto out_free;
	}
	if (!EVP_PKEY_is_a(pkey, "ED25519")) {
		rc = mig_seterr(ctx, MIG_ERR_FORMAT, "%s: not an Ed25519 key",
		    path);
		goto out_free;
	}
	key = calloc(1, sizeof(*key));
	if (key == NULL) {
		rc = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_free;
	}
	key->pkey = pkey;
	key->private = is_private && want_private;
	pkey = NULL;
	*keyp = key;
out_free:
	ERR_clear_error();
	EVP_PKEY_free(pkey);
	BIO_free(mem);
	mig_keyfile_free(buf, len);
	return rc;
}

int
mig_sign_key_load(const char *path, struct mig_ctx *ctx,
    struct mig_sign_key **keyp)
{
	return load(path, true, ctx, keyp);
}

int
mig_sign_pubkey_load(const char *path, struct mig_ctx *ctx,
    struct mig_sign_key **keyp)
{
	return load(path, false, ctx, keyp);
}

int
mig_sign_key_from_raw(const unsigned char raw[32], bool private,
    struct mig_ctx *ctx, struct mig_sign_key **keyp)
{
	struct mig_sign_key *k;

	*keyp = NULL;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	k->private = private;
	k->pkey = private ?
	    EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, raw, 32) :
	    EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, 32);
	if (k->pkey == NULL) {
		free(k);
		return mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "Ed25519 key");
	}
	*keyp = k;
	return 0;
}

void
mig_sign_key_free(struct mig_sign_key *key)
{
	if (key == NULL)
		return;
	EVP_PKEY_free(key->pkey);
	free(key);
}

int
mig_sign(const struct mig_sign_key *key, const void *msg, size_t len,
    unsigned char sig[MIG_SIGN_SIGLEN], struct mig_ctx *ctx)
{
	EVP_MD_CTX *md;
	size_t siglen = MIG_SIGN_SIGLEN;
	int rc = 0;

	if (key == NULL || !key->private)
		return mig_seterr(ctx, MIG_ERR_USAGE, "signing needs a "
		    "private key");
	md = EVP_MD_CTX_new();
	if (md == NULL ||
	    EVP_DigestSignInit_ex(md, NULL, NULL, NULL, NULL, key->pkey,
	    NULL) != 1 ||
	    EVP_DigestSign(md, sig, &siglen, msg, len) != 1 ||
	    siglen != MIG_SIGN_SIGLEN)
		rc = mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "Ed25519 sign");
	EVP_MD_CTX_free(md);
	return rc;
}

int
mig_sign_verify(const struct mig_sign_key *key, const void *msg,
    size_t len, const unsigned char sig[MIG_SIGN_SIGLEN],
    struct mig_ctx *ctx)
{
	EVP_MD_CTX *md;
	int r, rc = 0;

	if (key == NULL)
		return mig_seterr(ctx, MIG_ERR_USAGE, "no key to verify with");
	md = EVP_MD_CTX_new();
	if (md == NULL || EVP_DigestVerifyInit_ex(md, NULL, NULL, NULL, NULL,
	    key->pkey, NULL) != 1) {
		rc = mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "Ed25519 verify");
		goto out_free;
	}
	r = EVP_DigestVerify(md, sig, MIG_SIGN_SIGLEN, msg, len);
	if (r != 1) {
		ERR_clear_error();
		rc = mig_seterr(ctx, MIG_ERR_VERIFY, "Ed25519 signature does "
		    "not verify");
	}
out_free:
	EVP_MD_CTX_free(md);
	return rc;
}

int
mig_sign_public_raw(const struct mig_sign_key *key,
    unsigned char raw[MIG_SIGN_PUBLEN], struct mig_ctx *ctx)
{
	size_t rawlen = MIG_SIGN_PUBLEN;

	if (key == NULL ||
	    EVP_PKEY_get_raw_public_key(key->pkey, raw, &rawlen) != 1 ||
	    rawlen != MIG_SIGN_PUBLEN)
		return mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "Ed25519 public "
		    "key");
	return 0;
}

int
mig_sign_fingerprint(const struct mig_sign_key *key, char out[65],
    struct mig_ctx *ctx)
{
	static const char hx[] = "0123456789abcdef";
	unsigned char raw[MIG_SIGN_PUBLEN], md[32];
	unsigned int mdlen = 0;
	int i, r;

	if ((r = mig_sign_public_raw(key, raw, ctx)) != 0)
		return r;
	if (EVP_Digest(raw, sizeof(raw), md, &mdlen, EVP_sha256(),
	    NULL) != 1)
		return mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "Ed25519 public "
		    "key fingerprint");
	for (i = 0; i < 32; i++) {
		out[2 * i] = hx[md[i] >> 4];
		out[2 * i + 1] = hx[md[i] & 0xf];
	}
	out[64] = '\0';
	return 0;
}
