/*
 * Crypto internals shared by the age files of lib/crypto (age_*.c,
 * bech32.c, armor.c).  Lib-only: not part of the public API.  Unit tests
 * and fuzz targets see it through MIG_INTERNAL.
 */
#ifndef MIGRATE_CRYPTO_INT_H
#define MIGRATE_CRYPTO_INT_H

#if !defined(MIG_CRYPTO_INTERNAL) && !defined(MIG_INTERNAL)
#error "crypto_int.h is private to lib/crypto"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

struct mig_ctx;

#define AGE_FILE_KEY_LEN	16
#define AGE_KEY_LEN		32	/* X25519 keys, HKDF outputs */
#define AGE_TAG_LEN		16	/* Poly1305 */
#define AGE_NONCE_LEN		16	/* payload nonce */
#define AGE_SALT_LEN		16	/* scrypt salt */
#define AGE_CHUNK		(64 * 1024)
#define AGE_ENC_CHUNK		(AGE_CHUNK + AGE_TAG_LEN)
#define AGE_BODY_LEN		(AGE_FILE_KEY_LEN + AGE_TAG_LEN)
/* Largest header accepted: far above any real one, bounds memory. */
#define AGE_HEADER_MAX		(1024 * 1024)
#define AGE_VERSION_LINE	"age-encryption.org/v1"
#define AGE_LINE_COLS		64

/* --- bech32 (bech32.c) -------------------------------------------------- */

/*
 * BIP 173 Bech32 without the 90-character limit, as age uses it.  Encodes
 * data under hrp (lower case given), in upper case when upper is set.
 * Caller must free *outp.
 */
int	mig_bech32_encode(const char *hrp, const unsigned char *data,
	    size_t len, bool upper, char **outp);
/*
 * Decodes s: checks the checksum, refuses mixed case and bad padding.
 * *hrpp gets the human-readable part in lower case and *datap the bytes;
 * caller must free both (wipe *datap: it may be a secret key).
 * Returns 0 or MIG_ERR_PARSE.
 */
int	mig_bech32_decode(const char *s, char **hrpp, unsigned char **datap,
	    size_t *lenp);

/* --- primitives (age_prim.c), all through OpenSSL EVP --------------------- */

int	mig_age_hkdf(const unsigned char *ikm, size_t ikmlen,
	    const unsigned char *salt, size_t saltlen, const char *info,
	    unsigned char out[AGE_KEY_LEN], struct mig_ctx *ctx);
int	mig_age_hmac(const unsigned char key[AGE_KEY_LEN],
	    const unsigned char *msg, size_t len,
	    unsigned char out[AGE_KEY_LEN], struct mig_ctx *ctx);
/* out = X25519(scalar, point); MIG_ERR_VERIFY when the result is zero. */
int	mig_age_x25519(const unsigned char scalar[AGE_KEY_LEN],
	    const unsigned char point[AGE_KEY_LEN],
	    unsigned char out[AGE_KEY_LEN], struct mig_ctx *ctx);
/* pub = X25519(secret, basepoint). */
int	mig_age_x25519_base(const unsigned char secret[AGE_KEY_LEN],
	    unsigned char pub[AGE_KEY_LEN], struct mig_ctx *ctx);
int	mig_age_scrypt(const char *pass, size_t passlen,
	    const unsigned char salt[AGE_SALT_LEN], int logn,
	    unsigned char out[AGE_KEY_LEN], struct mig_ctx *ctx);
/*
 * One-shot ChaCha20-Poly1305 with a zero nonce, for the 16-byte file key:
 * seal writes AGE_BODY_LEN bytes; open returns MIG_ERR_VERIFY when the
 * tag does not match (out is wiped then).
 */
int	mig_age_seal_key(const unsigned char key[AGE_KEY_LEN],
	    const unsigned char fk[AGE_FILE_KEY_LEN],
	    unsigned char body[AGE_BODY_LEN], struct mig_ctx *ctx);
int	mig_age_open_key(const unsigned char key[AGE_KEY_LEN],
	    const unsigned char body[AGE_BODY_LEN],
	    unsigned char fk[AGE_FILE_KEY_LEN], struct mig_ctx *ctx);
/* Random bytes from the private DRBG. */
int	mig_age_random(unsigned char *buf, size_t len, struct mig_ctx *ctx);

/* --- keys (age_keys.c) ---------------------------------------------------- */

enum mig_age_kind {
	AGE_KIND_X25519,
	AGE_KIND_SCRYPT
};

struct mig_age_key {
	enum mig_age_kind	 kind;
	unsigned char		 key[AGE_KEY_LEN];	/* public or secret */
	unsigned char		 pub[AGE_KEY_LEN];	/* identities only */
	/* The key, built once, or NULL: so far identities only. */
	EVP_PKEY		*pkey;
	char			*pass;			/* scrypt */
	size_t			 passlen;
	int			 logn;			/* scrypt */
};

struct mig_age_recipients {
	struct mig_age_key	*v;
	size_t			 n;
};

struct mig_age_identities {
	struct mig_age_key	*v;
	size_t			 n;
	int			 max_logn;
};

/* --- header (age_header.c) ------------------------------------------------ */

struct mig_age_stanza {
	char		**args;		/* args[0] is the type */
	size_t		  nargs;
	unsigned char	 *body;
	size_t		  bodylen;
};

struct mig_age_header {
	struct mig_age_stanza	*stanzas;
	size_t			 nstanzas;
	size_t			 maclen;	/* bytes covered by the MAC */
	unsigned char		 mac[AGE_KEY_LEN];
};

/*
 * Parses a complete header, buf[0..len) ending with the MAC line and its
 * line feed.  Strict: every deviation from the grammar is MIG_ERR_VERIFY.
 * Caller must release h with mig_age_header_clear() (also on failure).
 */
int	mig_age_header_parse(const unsigned char *buf, size_t len,
	    struct mig_age_header *h, struct mig_ctx *ctx);
void	mig_age_header_clear(struct mig_age_header *h);
/*
 * Recovers the file key from h with ids and checks the header MAC over
 * buf[0..h->maclen).  MIG_ERR_NOKEY when no identity matches,
 * MIG_ERR_VERIFY on a malformed stanza or a bad MAC.
 */
int	mig_age_header_unwrap(const struct mig_age_header *h,
	    const unsigned char *buf, const struct mig_age_identities *ids,
	    unsigned char fk[AGE_FILE_KEY_LEN], struct mig_ctx *ctx);
/*
 * Builds a header wrapping fk for every recipient, MAC included.
 * Caller must free *outp.
 */
int	mig_age_header_build(const struct mig_age_recipients *rs,
	    const unsigned char fk[AGE_FILE_KEY_LEN], unsigned char **outp,
	    size_t *lenp, struct mig_ctx *ctx);

/* ChaCha20-Poly1305, fetched once per process; NULL if unavailable. */
const EVP_CIPHER *mig_age_chacha(void);

/*
 * New ephemeral X25519 key: its public share and the shared secret with
 * point (MIG_ERR_VERIFY for a low-order point).  peer is point as a key
 * when the caller has one (borrowed), else NULL.  Wipes the scalar.
 */
int	mig_age_x25519_ephemeral(const unsigned char point[AGE_KEY_LEN],
	    EVP_PKEY *peer, unsigned char share[AGE_KEY_LEN],
	    unsigned char shared[AGE_KEY_LEN], struct mig_ctx *ctx);

/* X25519 of a prepared private key and point (MIG_ERR_VERIFY: low order). */
int	mig_age_x25519_pkey(EVP_PKEY *priv,
	    const unsigned char point[AGE_KEY_LEN], unsigned char out[AGE_KEY_LEN],
	    struct mig_ctx *ctx);

#endif /* MIGRATE_CRYPTO_INT_H */
