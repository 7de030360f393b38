/*
 * Small helpers every layer needs once: hex and percent decoding, strict
 * base64, UTF-8, path joining, a string-keyed hash table, retry back-off
 * and temporary names.  Each used to be written again where it was
 * needed (hex six times, base64 three ways); one tested copy lives here.
 *
 * Nothing here prints, reads the environment or keeps state between
 * calls, so it sits below every other module and depends on none.
 */
#ifndef MIGRATE_UTIL_H
#define MIGRATE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Every temporary file or object is named DIR/.BASE.migrate-tmp-XXXXXXXX
 * (8 random hex digits), so that sweeps find the leftovers of a crash.
 * transport.h spells it too, the same (an identical redefinition).
 */
#define MIG_TMP_INFIX	".migrate-tmp-"

/* --- Hex and percent escapes (hex.c) -------------------------------------- */

/* The value of one hex digit of either case, or -1. */
int	mig_hex_digit(int c);
/* Writes 2*len lowercase hex digits and a NUL into out. */
void	mig_hex_encode(const unsigned char *buf, size_t len, char *out);
/*
 * Parses exactly 2*len hex digits of either case.  What follows them may
 * be anything but another hex digit (a NUL, a space before a path), so a
 * longer run is refused rather than silently cut.  0 or MIG_ERR_FORMAT.
 */
int	mig_hex_decode(const char *hex, unsigned char *buf, size_t len);
/*
 * Decodes the %XX escapes of s[0..len) into a new NUL-terminated string.
 * An incomplete escape, a non-hex digit, and a NUL raw or as %00 (it
 * would cut the string) are MIG_ERR_FORMAT.  0, MIG_ERR_FORMAT or
 * MIG_ERR_NOMEM; caller must free *outp.
 */
int	mig_percent_decode(const char *s, size_t len, char **outp);

/* --- Base64, RFC 4648 section 4, strict (base64.c) ------------------------ */

/*
 * The decoders accept exactly one text per value: the standard alphabet,
 * no whitespace, no line breaks, '=' only as the final padding of a
 * padded text, and zero unused bits in the last character.  Each returns
 * the byte count, or -1 when the text is not canonical or its value
 * would not fit in cap bytes.  Nothing is promised about out on -1.
 */

/* Characters that encode len bytes: padded, and unpadded. */
size_t	mig_base64_len(size_t len);
size_t	mig_base64_raw_len(size_t len);
/* Writes the encoding of buf and a NUL (mig_base64_len() + 1 bytes). */
void	mig_base64_encode(const unsigned char *buf, size_t len, char *out);
/* The same without padding (mig_base64_raw_len() + 1 bytes), as age. */
void	mig_base64_raw_encode(const unsigned char *buf, size_t len,
	    char *out);
/* Padded text: slen a multiple of 4. */
long	mig_base64_decode(const char *s, size_t slen, unsigned char *out,
	    size_t cap);
/* Unpadded text: any '=' is refused. */
long	mig_base64_raw_decode(const char *s, size_t slen, unsigned char *out,
	    size_t cap);

/* --- UTF-8 (utf8.c) ------------------------------------------------------- */

/*
 * Length (1 to 4) of the well-formed UTF-8 sequence at s[0..n), with its
 * code point in *cpp; 0 when there is none (no overlong forms, no
 * surrogates, nothing above U+10FFFF, nothing cut short).  cpp may be
 * NULL.
 */
size_t	mig_utf8_decode(const unsigned char *s, size_t n, uint32_t *cpp);
/* True when all of s[0..len) is well-formed UTF-8. */
bool	mig_utf8_valid(const char *s, size_t len);
/*
 * Writes the UTF-8 form of cp into out; returns its length (1 to 4), or
 * 0 when cp is a surrogate or above U+10FFFF.
 */
size_t	mig_utf8_encode(uint32_t cp, char out[4]);

/* --- Strings (str.c) ----------------------------------------------------- */

/*
 * A copy of s, or NULL for a NULL s.  On ENOMEM returns NULL and sets
 * *nomem, so that several copies can be made before one check.
 */
char	*mig_strdup_or_null(const char *s, bool *nomem);

/* --- Paths (path.c) ------------------------------------------------------- */

/*
 * "DIR/NAME" in a new string: a DIR that is NULL, empty or "." is left
 * out, a '/' already ending DIR is not doubled, and an empty NAME gives
 * DIR alone ("." when both are empty).  NULL only on ENOMEM; caller
 * frees.
 */
char	*mig_path_join(const char *dir, const char *name);
/*
 * The same into buf of size bytes.  0, or MIG_ERR_USAGE when it does
 * not fit (buf then holds an empty string).
 */
int	mig_path_join_buf(char *buf, size_t size, const char *dir,
	    const char *name);
/*
 * Whether rel is a plain relative path: not empty, not starting with
 * '/', and no empty, "." or ".." component, so that DIR/rel names
 * something inside DIR (links aside: the caller opens without following).
 */
bool	mig_path_is_plain(const char *rel);
/*
 * mig_path_join() for a rel that must stay inside dir: 0, MIG_ERR_SECURITY
 * when rel is not plain (*outp NULL), or MIG_ERR_NOMEM; caller frees.
 */
int	mig_path_join_under(const char *dir, const char *rel, char **outp);

/*
 * A fresh temporary name beside path: "DIR/.BASE.migrate-tmp-XXXXXXXX"
 * for "DIR/BASE" (or ".BASE.migrate-tmp-XXXXXXXX" for "BASE"), with BASE
 * shortened so that the last component fits in NAME_MAX bytes.
 * 0, MIG_ERR_CRYPTO (no randomness) or MIG_ERR_NOMEM; caller frees *outp.
 */
int	mig_tmp_name(const char *path, char **outp);

/* --- Hash table (htab.c) -------------------------------------------------- */

/*
 * Open addressing over NUL-terminated string keys with FNV-1a, mapping
 * each key to a size_t (an index into the caller's array, a count).
 * Keys are borrowed: they must outlive the table, and the table frees
 * none of them.  The fields are visible only so that a table can live
 * inside another struct: use the functions.
 */
struct mig_htab {
	const char	**keys;
	size_t		 *vals;
	size_t		  cap;		/* a power of two, or 0 */
	size_t		  n;
};

/* FNV-1a, 64 bits, of len bytes. */
uint64_t mig_fnv1a(const void *buf, size_t len);
/* 0 or MIG_ERR_NOMEM.  Room for expect keys without growing. */
int	mig_htab_init(struct mig_htab *h, size_t expect);
/* Frees the table (not the keys); safe on a zeroed or freed table. */
void	mig_htab_free(struct mig_htab *h);
/* True, and *val when val is not NULL, when key is present. */
bool	mig_htab_get(const struct mig_htab *h, const char *key, size_t *val);
/*
 * Inserts key -> val.  When key is already present nothing changes,
 * *found is set and *old (when not NULL) gets the value it has.
 * A zeroed table grows on first use.  0 or MIG_ERR_NOMEM.
 */
int	mig_htab_put(struct mig_htab *h, const char *key, size_t val,
	    bool *found, size_t *old);
/*
 * Walks the keys in no particular order: start with *iter = 0; returns
 * false when there are no more.  The table must not change meanwhile.
 */
bool	mig_htab_next(const struct mig_htab *h, size_t *iter,
	    const char **keyp, size_t *valp);

/* --- Sizes (size.c) ------------------------------------------------------- */

/*
 * "300", "64K", "16M", "1G" (or KiB, MiB, GiB; any case) in bytes, powers
 * of 1024 as rsync and rclone read them.  Digits first: no sign, no
 * space, no fraction.  0, or -1 when malformed or beyond 2^64.
 */
int	mig_parse_size(const char *s, uint64_t *out);
/* A rate in bytes per second: a size as above, or "off" (and "0") for 0. */
int	mig_parse_rate(const char *s, uint64_t *out);

/* --- Retry back-off (backoff.c) ------------------------------------------- */

/*
 * Milliseconds to wait before retry number attempt (0 for the first):
 * base_ms doubled per attempt up to max_ms, then a random point of its
 * upper half ("equal jitter"), so that clients that failed together do
 * not come back together yet each still waits at least half the step.
 */
long	mig_backoff_ms(int attempt, long base_ms, long max_ms);
/* Sleeps ms milliseconds, resuming after signals. */
void	mig_sleep_ms(long ms);
/* Milliseconds of CLOCK_MONOTONIC: for timeouts and deadlines. */
long	mig_now_ms(void);

#endif /* MIGRATE_UTIL_H */
