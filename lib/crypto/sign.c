/*
 * Ed25519 signing keys for audit checkpoints, through OpenSSL EVP only.
 *
 * The private key is an unencrypted PKCS#8 PEM file created O_EXCL with
 * mode 0600; the public key is a SubjectPublicKeyInfo PEM file beside it,
 * which `openssl pkeyutl -verify -pubin -rawin' reads as it is.  A public
 * key may also be given as an OpenSSH "ssh-ed25519 AAAA... comment" line
 * (what ssh-keygen writes to KEY.pub, RFC 8709), decoded here: one line,
 * strict base64, the wire format string "ssh-ed25519" then a 32-byte
 * string, nothing else.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
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
#include "migrate/util.h"

#define SSH_ED25519		"ssh-ed25519"
/* An ssh-ed25519 wire key: 4 + 11 + 4 + 32 bytes; 68 base64 chars. */
#define SSH_ED25519_WIRE	51
#define SSH_ED25519_B64		68

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

/*
 * The first word of an OpenSSH public key line ("ssh-rsa",
 * "ecdsa-sha2-nistp256", "sk-ssh-ed25519@openssh.com", ...) followed by
 * a blank: its length, or 0 when buf does not start like one.
 */
static size_t
ssh_type_len(const char *buf)
{
	size_t n;

	if (strncmp(buf, "ssh-", 4) != 0 && strncmp(buf, "ecdsa-", 6) != 0 &&
	    strncmp(buf, "sk-", 3) != 0)
		return 0;
	for (n = 0; n < 64; n++) {
		if ((buf[n] >= 'a' && buf[n] <= 'z') ||
		    (buf[n] >= '0' && buf[n] <= '9') || buf[n] == '-' ||
		    buf[n] == '@' || buf[n] == '.')
			continue;
		return buf[n] == ' ' || buf[n] == '\t' ? n : 0;
	}
	return 0;
}

/* One SSH wire string (uint32 length, bytes) at *pp, before end. */
static int
ssh_string(const unsigned char **pp, const unsigned char *end,
    const unsigned char **sp, size_t *lenp)
{
	const unsigned char *p = *pp;
	uint32_t n;

	if (end - p < 4)
		return -1;
	n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
	p += 4;
	if ((size_t)(end - p) < n)
		return -1;
	*sp = p;
	*lenp = n;
	*pp = p + n;
	return 0;
}

/* The 32 raw bytes of an ssh-ed25519 wire key. */
static int
ssh_ed25519_raw(const unsigned char *w, size_t n, const unsigned char **rawp)
{
	const unsigned char *p = w, *end = w + n, *t, *k;
	size_t tlen, klen;

	if (ssh_string(&p, end, &t, &tlen) != 0 ||
	    tlen != sizeof(SSH_ED25519) - 1 ||
	    memcmp(t, SSH_ED25519, tlen) != 0 ||
	    ssh_string(&p, end, &k, &klen) != 0 || klen != 32 || p != end)
		return -1;
	*rawp = k;
	return 0;
}

/*
 * An OpenSSH public key line: "ssh-ed25519 BASE64 [COMMENT]", then at
 * most a line end.  Other key types are refused by name.
 */
static int
load_ssh(const char *path, const char *buf, size_t len, size_t tlen,
    struct mig_ctx *ctx, EVP_PKEY **pkeyp)
{
	unsigned char wire[SSH_ED25519_B64];
	const unsigned char *raw;
	const char *b = buf + tlen, *e;
	size_t blen;

	*pkeyp = NULL;
	if (tlen != sizeof(SSH_ED25519) - 1 ||
	    strncmp(buf, SSH_ED25519, tlen) != 0)
		return mig_seterr(ctx, MIG_ERR_FORMAT, "%s: an OpenSSH %.*s "
		    "key; audit checkpoints are signed with Ed25519: give "
		    "an ssh-ed25519 key or the PEM public key (KEY.pub)",
		    path, (int)tlen, buf);
	while (*b == ' ' || *b == '\t')
		b++;
	blen = strcspn(b, " \t\r\n");
	e = b + blen + strcspn(b + blen, "\r\n");
	if (*e == '\r')
		e++;
	if (*e == '\n')
		e++;
	if (e != buf + len || mig_base64_decode(b, blen, wire,
	    sizeof(wire)) != SSH_ED25519_WIRE ||
	    ssh_ed25519_raw(wire, SSH_ED25519_WIRE, &raw) != 0)
		return mig_seterr(ctx, MIG_ERR_FORMAT, "%s: not an OpenSSH "
		    "ssh-ed25519 public key (one line: ssh-ed25519, the "
		    "base64 key, an optional comment)", path);
	*pkeyp = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, 32);
	if (*pkeyp == NULL)
		return mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "%s: Ed25519 "
		    "public key", path);
	return 0;
}

/* A PEM key: PKCS#8 private key or SubjectPublicKeyInfo public key. */
static int
load_pem(const char *path, const char *buf, size_t len, bool is_private,
    struct mig_ctx *ctx, EVP_PKEY **pkeyp)
{
	BIO *mem;

	*pkeyp = NULL;
	mem = BIO_new_mem_buf(buf, (int)len);
	if (mem == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	if (is_private)
		*pkeyp = PEM_read_bio_PrivateKey(mem, NULL, NULL, NULL);
	else
		*pkeyp = PEM_read_bio_PUBKEY(mem, NULL, NULL, NULL);
	BIO_free(mem);
	if (*pkeyp == NULL)
		return mig_seterr_ssl(ctx, MIG_ERR_FORMAT, "%s: not a PEM "
		    "Ed25519 key", path);
	return 0;
}

static int
load(const char *path, bool want_private, struct mig_ctx *ctx,
    struct mig_sign_key **keyp)
{
	struct mig_sign_key *key = NULL;
	EVP_PKEY *pkey = NULL;
	char *buf = NULL;
	size_t len = 0, sshlen;
	bool is_private;
	int rc;

	*keyp = NULL;
	/* A public key file needs no mode check; a private one does. */
	if ((rc = mig_keyfile_read(path, false, &buf, &len, ctx)) != 0)
		return rc;
	is_private = strstr(buf, "PRIVATE KEY-----") != NULL;
	sshlen = is_private ? 0 : ssh_type_len(buf);
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
	if (sshlen > 0)
		rc = load_ssh(path, buf, len, sshlen, ctx, &pkey);
	else
		rc = load_pem(path, buf, len, is_private, ctx, &pkey);
	if (rc != 0)
		goto out_free;
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
	unsigned char raw[MIG_SIGN_PUBLEN], md[32];
	unsigned int mdlen = 0;
	int r;

	if ((r = mig_sign_public_raw(key, raw, ctx)) != 0)
		return r;
	if (EVP_Digest(raw, sizeof(raw), md, &mdlen, EVP_sha256(),
	    NULL) != 1)
		return mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "Ed25519 public "
		    "key fingerprint");
	mig_hex_encode(md, sizeof(md), out);
	return 0;
}
