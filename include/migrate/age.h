/*
 * age v1 file encryption (age-encryption.org/v1), interoperable with the
 * age tool: X25519 recipients ("age1...") and identities
 * ("AGE-SECRET-KEY-1..."), scrypt passphrases, the STREAM payload of
 * 64 KiB ChaCha20-Poly1305 chunks and the ASCII armor.  OpenSSL EVP only.
 *
 * Encryption is a mig_writer filter (plaintext in, age file out) and
 * decryption a mig_reader filter (age file in, plaintext out), both in
 * constant memory.  The decrypting reader returns no byte of a chunk
 * before that chunk authenticated, and fails with MIG_ERR_VERIFY on any
 * truncation, extension, malformed encoding or bad MAC.
 */
#ifndef MIGRATE_AGE_H
#define MIGRATE_AGE_H

#include <stdbool.h>
#include <stddef.h>

struct mig_ctx;
struct mig_reader;
struct mig_writer;

/* Opaque key lists; their secrets are wiped when freed. */
struct mig_age_recipients;
struct mig_age_identities;

/* scrypt work factor (log2 N) used to encrypt, as the age tool. */
#define MIG_AGE_SCRYPT_LOGN		18
/* Largest work factor accepted when decrypting (4 GiB of memory). */
#define MIG_AGE_SCRYPT_MAX_LOGN		22

/* --- Recipients (encryption) --------------------------------------------- */

/* Returns an empty list, or NULL on ENOMEM. */
struct mig_age_recipients *mig_age_recipients_new(void);
/* NULL is a no-op; wipes any passphrase. */
void	mig_age_recipients_free(struct mig_age_recipients *rs);
/*
 * Adds an X25519 recipient "age1...".  MIG_ERR_PARSE when s is not one
 * (bad Bech32, checksum, case or prefix).  s is copied.
 */
int	mig_age_recipients_add(struct mig_age_recipients *rs, const char *s,
	    struct mig_ctx *ctx);
/*
 * Adds a passphrase (scrypt) recipient with work factor logn (1..30;
 * 0 means MIG_AGE_SCRYPT_LOGN).  pass is copied.  An scrypt recipient
 * must be the only one: adding a second recipient of any kind next to it
 * is MIG_ERR_USAGE.  An empty passphrase is MIG_ERR_USAGE.
 */
int	mig_age_recipients_add_passphrase(struct mig_age_recipients *rs,
	    const char *pass, size_t passlen, int logn, struct mig_ctx *ctx);
/*
 * Adds every recipient of a recipients file: one "age1..." a line, '#'
 * comments and blank lines ignored.  name is used in messages
 * ("NAME:LINE: ...").  MIG_ERR_PARSE on a bad line.
 */
int	mig_age_recipients_parse(struct mig_age_recipients *rs,
	    const char *text, size_t len, const char *name,
	    struct mig_ctx *ctx);
/* Reads path (at most 1 MiB) and parses it as above. */
int	mig_age_recipients_load(struct mig_age_recipients *rs,
	    const char *path, struct mig_ctx *ctx);
size_t	mig_age_recipients_count(const struct mig_age_recipients *rs);

/* --- Identities (decryption) ---------------------------------------------- */

/* Returns an empty list, or NULL on ENOMEM. */
struct mig_age_identities *mig_age_identities_new(void);
/* NULL is a no-op; wipes every secret. */
void	mig_age_identities_free(struct mig_age_identities *ids);
/* Adds one "AGE-SECRET-KEY-1..." identity; MIG_ERR_PARSE otherwise. */
int	mig_age_identities_add(struct mig_age_identities *ids, const char *s,
	    struct mig_ctx *ctx);
/* Adds a passphrase for scrypt-encrypted files.  pass is copied. */
int	mig_age_identities_add_passphrase(struct mig_age_identities *ids,
	    const char *pass, size_t passlen, struct mig_ctx *ctx);
/*
 * Adds every identity of an identity file's text: any number of
 * AGE-SECRET-KEY-1 lines, '#' comments and blank lines.  MIG_ERR_PARSE on
 * any other line (the message never quotes the line: it may be secret).
 */
int	mig_age_identities_parse(struct mig_age_identities *ids,
	    const char *text, size_t len, const char *name,
	    struct mig_ctx *ctx);
/*
 * Loads an identity file (opened O_NOFOLLOW).  Refuses with
 * MIG_ERR_SECURITY a file that is not a regular file or that group or
 * others may read or write (mode & 077).
 */
int	mig_age_identities_load(struct mig_age_identities *ids,
	    const char *path, struct mig_ctx *ctx);
size_t	mig_age_identities_count(const struct mig_age_identities *ids);
/* Changes the scrypt work factor limit (default MIG_AGE_SCRYPT_MAX_LOGN). */
void	mig_age_identities_set_max_logn(struct mig_age_identities *ids,
	    int logn);

/* --- Keys ------------------------------------------------------------------ */

/*
 * Generates an X25519 identity.  *secretp gets "AGE-SECRET-KEY-1..." and
 * *recipientp "age1..."; caller must free both (and should wipe the
 * secret with OPENSSL_cleanse before freeing).
 */
int	mig_age_keygen(char **secretp, char **recipientp,
	    struct mig_ctx *ctx);
/* Derives the recipient of a secret key.  Caller must free *recipientp. */
int	mig_age_identity_to_recipient(const char *secret, char **recipientp,
	    struct mig_ctx *ctx);
/*
 * Generates an identity and formats it like age-keygen:
 *   # created: 2024-05-01T12:00:00+02:00
 *   # public key: age1...
 *   AGE-SECRET-KEY-1...
 * Caller must wipe and free *textp, and free *recipientp.
 */
int	mig_age_keygen_text(char **textp, char **recipientp,
	    struct mig_ctx *ctx);
/*
 * The same written to a new file path, created O_EXCL with mode 0600
 * (MIG_ERR_EXISTS when it exists).  Caller must free *recipientp.
 */
int	mig_age_keygen_file(const char *path, char **recipientp,
	    struct mig_ctx *ctx);

/* --- Streams ------------------------------------------------------------- */

/*
 * Encrypting filter: plaintext written to *wp comes out as an age file
 * into next (ASCII-armored when armor is set).  rs is copied at creation
 * (the caller may free it afterwards).  Memory is constant: one batch
 * of 8 chunks of 64 KiB.  Closing *wp writes the final chunk and closes
 * next; *wp and any armor stage it made are freed by mig_writer_free(*wp).
 * MIG_ERR_USAGE when rs is empty.
 */
int	mig_age_encrypt_writer_new(const struct mig_age_recipients *rs,
	    bool armor, struct mig_writer *next, struct mig_ctx *ctx,
	    struct mig_writer **wp);
/*
 * Decrypting filter over src (binary or armored, detected).  The header
 * is read and checked on the first read: MIG_ERR_NOKEY when no identity
 * of ids (borrowed: it must outlive *rp) matches, MIG_ERR_VERIFY when the
 * header is malformed or its MAC is wrong, MIG_ERR_SECURITY when an
 * scrypt work factor is above the limit.  Then every chunk is
 * authenticated before its bytes are returned; truncation, a missing or
 * empty final chunk and trailing data are MIG_ERR_VERIFY.
 */
int	mig_age_decrypt_reader_new(const struct mig_age_identities *ids,
	    struct mig_reader *src, struct mig_ctx *ctx,
	    struct mig_reader **rp);

/* Most threads a payload stage may use. */
#define MIG_AGE_MAX_THREADS		8

/*
 * Lets an encrypting writer or decrypting reader made above seal or open
 * its 64 KiB chunks on up to n threads (1..MIG_AGE_MAX_THREADS; default 1:
 * no thread is made).  Call before the first write or read.  The output
 * is the same whatever n.  MIG_ERR_USAGE for another stage or a bad n.
 */
int	mig_age_writer_set_threads(struct mig_writer *w, int n);
int	mig_age_reader_set_threads(struct mig_reader *r, int n);

/*
 * The armor alone.  The writer encodes what it gets; the reader decodes
 * strictly (whitespace only before BEGIN and after END; LF or CRLF) and
 * fails with MIG_ERR_VERIFY on anything else, including a missing END.
 */
int	mig_armor_writer_new(struct mig_writer *next, struct mig_ctx *ctx,
	    struct mig_writer **wp);
int	mig_armor_reader_new(struct mig_reader *src, struct mig_ctx *ctx,
	    struct mig_reader **rp);

#endif /* MIGRATE_AGE_H */
