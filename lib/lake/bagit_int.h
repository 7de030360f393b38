/*
 * BagIt internals shared by bagit_*.c, the unit tests and the fuzzer.
 */
#ifndef MIGRATE_BAGIT_INT_H
#define MIGRATE_BAGIT_INT_H

#if !defined(MIG_INTERNAL) && !defined(MIG_BAGIT_INTERNAL)
#error "bagit_int.h is private to lib/lake"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Tag files larger than this are refused as malformed. */
#define MIG_BAG_TAGFILE_MAX	((size_t)512 * 1024 * 1024)
/* Read size when hashing payload files. */
#define MIG_BAG_READ_CHUNK	(256 * 1024)
/* Findings kept by default. */
#define MIG_BAG_FINDINGS_MAX	10000

/*
 * Canonical decomposition (NFD, libutf8proc) of the UTF-8 string
 * s[0..len).  Returns a new NUL-terminated string (caller frees) and its
 * length in *outlen (may be NULL), or NULL on ENOMEM.  Invalid UTF-8 is
 * copied unchanged.
 */
char	*mig_bag_nfd(const char *s, size_t len, size_t *outlen);

/*
 * BagIt version of a bagit.txt version string: 93 for "0.93" up to 97,
 * 100 for "1.0"; -1 for any other.  bagit_parse.c says what differs.
 */
int	mig_bag_version_code(const char *version);

/* What mig_bag_path_strip() removes besides leading "./". */
#define MIG_BAG_STRIP_STAR	0x01	/* md5sum's binary-mode '*' */
#define MIG_BAG_STRIP_SLASH	0x02	/* one '/' (pre-1.0 fetch.txt) */

/*
 * Skips what a manifest or fetch.txt may put before a bag-relative path:
 * per flags a '*' then a '/', then any number of "./".  Returns a pointer
 * into path.
 */
const char *mig_bag_path_strip(const char *path, unsigned flags);

/* True when enc names UTF-8 (no conversion needed). */
bool	mig_bag_encoding_is_utf8(const char *enc);

/*
 * Converts in[0..inlen) from the character encoding enc (an IANA name as
 * in Tag-File-Character-Encoding) to UTF-8 with iconv(3).  On success
 * *outp is a new NUL-terminated string (caller frees), *outlenp its
 * length; a byte-order mark is kept, as U+FEFF.  Returns 0,
 * MIG_ERR_NOTFOUND when enc is unknown, MIG_ERR_FORMAT when the bytes
 * are not valid in enc (reason in err), or MIG_ERR_NOMEM.
 */
int	mig_bag_decode(const char *enc, const char *in, size_t inlen,
	    char **outp, size_t *outlenp, char *err, size_t errsz);

/* --- Tag-file text -------------------------------------------------------- */

/* Line iterator over LF, CRLF or CR terminated lines. */
struct mig_bag_lines {
	const char	*p;
	const char	*end;
	size_t		 lineno;	/* of the line last returned, from 1 */
};

void	mig_bag_lines_init(struct mig_bag_lines *it, const char *buf,
	    size_t len);
/* Returns true with the next line (terminator excluded), false at end. */
bool	mig_bag_lines_next(struct mig_bag_lines *it, const char **line,
	    size_t *len);

/*
 * Parses bagit.txt.  On success fills version ("1.0", "0.97") and
 * encoding as declared.  *had_bom tells whether a UTF-8 BOM was skipped
 * (refused for 1.0 by the caller).  Returns 0 or MIG_ERR_FORMAT with a
 * reason in err.
 */
int	mig_bag_parse_declaration(const char *buf, size_t len,
	    char *version, size_t versionsz, char *encoding, size_t encsz,
	    bool *had_bom, char *err, size_t errsz);

/*
 * Parses one manifest line "CHECKSUM<ws>PATH".  dlen is the digest length
 * in bytes; decode enables RFC 8493 percent-decoding of %0A, %0D and %25
 * (only those).  On success *pathp is a new string (caller frees) and
 * digest holds dlen bytes.  Returns 0, MIG_ERR_FORMAT with a static
 * reason in *why, or MIG_ERR_NOMEM.
 */
int	mig_bag_parse_manifest_line(const char *line, size_t len, size_t dlen,
	    bool decode, unsigned char *digest, char **pathp,
	    const char **why);

/*
 * Parses one fetch.txt line "URL<ws>LENGTH<ws>PATH"; LENGTH "-" gives
 * *size = -1.  Same conventions as mig_bag_parse_manifest_line().
 */
int	mig_bag_parse_fetch_line(const char *line, size_t len, bool decode,
	    int64_t *size, char **pathp, const char **why);

/* Callback for each bag-info element; return non-zero to stop. */
typedef int (*mig_bag_info_cb)(void *arg, const char *label,
    const char *value);
/* Error callback: a malformed line. */
typedef void (*mig_bag_info_err_cb)(void *arg, size_t lineno,
    const char *why);

/*
 * Parses bag-info.txt: "Label: value" lines, a line starting with a
 * space or tab continues the previous value.  Calls cb per element (with
 * continuation lines unfolded) and errcb per malformed line.  Returns
 * what cb returned, MIG_ERR_NOMEM, or 0.
 */
int	mig_bag_parse_info(const char *buf, size_t len, mig_bag_info_cb cb,
	    mig_bag_info_err_cb errcb, void *arg);

/* Parses "OCTETS.STREAMS".  0 or MIG_ERR_FORMAT. */
int	mig_bag_parse_oxum(const char *s, uint64_t *bytes, uint64_t *files);

/*
 * Checks a decoded bag-relative path: non-empty, not absolute, no empty,
 * "." or ".." component, no NUL.  Returns NULL when fine, else a static
 * reason.
 */
const char *mig_bag_path_problem(const char *path, size_t len);

/*
 * Writes path percent-encoded for a manifest (CR, LF, '%') into a new
 * string; NULL on ENOMEM.
 */
char	*mig_bag_path_encode(const char *path);

struct mig_bag_manifest;
struct mig_transport;

/*
 * r, with the transport's message carried over to ctx when the transport
 * reports to another context.
 */
int	mig_bag_transport_err(struct mig_transport *t, struct mig_ctx *ctx,
	    int r);

/*
 * Says that manifest-sha256.txt is written (bagit_stream.c): with this
 * digest, files and bytes, and mig_bag_write_tags() leaves it as it is.
 */
void	mig_bag_manifest_set_payload(struct mig_bag_manifest *m,
	    const unsigned char digest[32], uint64_t files, uint64_t bytes);

#endif /* MIGRATE_BAGIT_INT_H */
