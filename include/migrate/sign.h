/*
 * Ed25519 signing keys for audit checkpoints (OpenSSL EVP only).
 *
 * Private keys are PKCS#8 PEM files of mode 0600; public keys are
 * SubjectPublicKeyInfo PEM files ("KEY.pub"), so that an auditor can use
 * `openssl pkeyutl -verify -rawin` on them directly.
 */
#ifndef MIGRATE_SIGN_H
#define MIGRATE_SIGN_H

#include <stdbool.h>
#include <stddef.h>

struct mig_ctx;
struct mig_sign_key;

#define MIG_SIGN_SIGLEN	64
#define MIG_SIGN_PUBLEN	32

/*
 * Generates a key pair and writes path (private, created O_EXCL with mode
 * 0600) and path.pub (public, 0644).  Refuses to overwrite either file.
 */
int	mig_sign_keygen(const char *path, struct mig_ctx *ctx);

/*
 * Loads a private key.  Refuses (MIG_ERR_SECURITY) a file that group or
 * others can read.  Caller frees *keyp with mig_sign_key_free().
 */
int	mig_sign_key_load(const char *path, struct mig_ctx *ctx,
	    struct mig_sign_key **keyp);
/*
 * Loads a public key: a PEM SubjectPublicKeyInfo file, an OpenSSH
 * "ssh-ed25519 AAAA... comment" line (other OpenSSH key types are
 * refused, MIG_ERR_FORMAT, naming the type), or the public half of a
 * private key file.
 */
int	mig_sign_pubkey_load(const char *path, struct mig_ctx *ctx,
	    struct mig_sign_key **keyp);
/*
 * A key from its raw 32 bytes (RFC 8032): the private seed when private,
 * else the public key.  For test vectors.  Caller frees *keyp.
 */
int	mig_sign_key_from_raw(const unsigned char raw[32], bool private,
	    struct mig_ctx *ctx, struct mig_sign_key **keyp);
void	mig_sign_key_free(struct mig_sign_key *key);

/* Signs msg into sig (MIG_SIGN_SIGLEN bytes). */
int	mig_sign(const struct mig_sign_key *key, const void *msg, size_t len,
	    unsigned char sig[MIG_SIGN_SIGLEN], struct mig_ctx *ctx);
/* 0 when sig is valid for msg under key, MIG_ERR_VERIFY otherwise. */
int	mig_sign_verify(const struct mig_sign_key *key, const void *msg,
	    size_t len, const unsigned char sig[MIG_SIGN_SIGLEN],
	    struct mig_ctx *ctx);
/* The raw 32-byte Ed25519 public key (RFC 8032). */
int	mig_sign_public_raw(const struct mig_sign_key *key,
	    unsigned char raw[MIG_SIGN_PUBLEN], struct mig_ctx *ctx);
/*
 * Lowercase hex SHA-256 of the raw 32-byte public key, NUL-terminated
 * (65 bytes).  This is the "key" field of a signed checkpoint.
 */
int	mig_sign_fingerprint(const struct mig_sign_key *key, char out[65],
	    struct mig_ctx *ctx);

#endif /* MIGRATE_SIGN_H */
