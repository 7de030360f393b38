/*
 * BagIt tag-file parsing (RFC 8493 section 2): bagit.txt, manifest and
 * fetch.txt lines, bag-info.txt, Payload-Oxum; path checks and the
 * percent-encoding of names; tag-file character decoding; NFD; a small
 * string hash table.
 *
 * Everything here works on untrusted bytes and is fuzzed
 * (tests/fuzz/fuzz_bag_manifest.c).
 *
 * What differs between BagIt versions, as far as a validator cares.  The
 * versions are those of the IETF drafts draft-kunze-bagit-NN and of
 * RFC 8493; each row names the first draft that says so.
 *
 *  0.93 (-00)  bagit.txt holds "BagIt-Version: M.N" and
 *              "Tag-File-Character-Encoding: UTF-8", tag files are UTF-8.
 *              manifest-ALG.txt lines are "CHECKSUM FILENAME" with one or
 *              more spaces or tabs between them; any top-level tag file
 *              MAY also be listed there.  A complete bag lists the same
 *              files in every manifest.  A tag file's checksum may be kept
 *              in a one-line "tag checksum file" NAME.ALG (for example
 *              manifest-sha1.txt.md5).  Metadata is in package-info.txt.
 *              (-00 says the checksum is base64: an error, fixed to hex
 *              in -01, and no bag of that era uses base64.)
 *  0.94 (-01)  Hex checksums; otherwise as 0.93.
 *  0.95 (-02)  tagmanifest-ALG.txt replaces tag checksum files and tag
 *              files SHOULD NOT be in a payload manifest.  "Union" rule:
 *              a payload file needs to be in one payload manifest only.
 *              Still package-info.txt.
 *  0.96 (-03)  package-info.txt becomes bag-info.txt, with Payload-Oxum
 *              (optional: "should be included").  Payload manifests MUST
 *              NOT list files outside data/.  The interoperability notes
 *              allow an md5sum binary-mode '*' before FILENAME (-05: "MAY
 *              precede").  Tag files are in the encoding bagit.txt names
 *              and may start with a BOM only where that encoding needs
 *              one; bagit.txt itself is UTF-8 without a BOM (-05).  A
 *              fetch.txt FILENAME starting with '/' is still relative.
 *  0.97 (-07)  Tag directories beside data/, listed in tag manifests.
 *              Names are taken literally (no percent-encoding).
 *  1.0 (RFC 8493)
 *              Every payload file MUST be in every payload manifest
 *              (section 3: the union rule is gone).  CR, LF and '%' in a
 *              path are percent-encoded (2.1.3).  Each tag manifest MUST
 *              list every payload manifest and MUST NOT list any tag
 *              manifest (2.2.1).  Payload-Oxum MUST NOT be repeated
 *              (2.2.2).  With UTF-8 tag files MUST NOT start with a BOM
 *              (2.3).  A '*' before the path is md5sum's, "will fail
 *              strict validation" (6.1.3), and fetch.txt paths have no
 *              leading-slash rule.  ENCODING SHOULD be UTF-8 and MAY be
 *              any IANA-registered charset (2.1.1).
 *
 * Common to all: CR, LF or CRLF end a line; bagit.txt is UTF-8 and has no
 * byte-order mark (said outright from 0.96 on; earlier drafts assume
 * UTF-8 everywhere).  A manifest path prefixed with "./" names the same
 * file and is accepted in every version.
 *
 * Deliberately not enforced: the 0.96 drafts' "no directory but data/"
 * (0.97 and 1.0 allow tag directories, and refusing them would reject
 * bags other tools accept), and 1.0's single space after a bag-info
 * colon (RFC 8493 itself asks readers to accept more).
 */
#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <utf8proc.h>

#include "migrate/error.h"
#include "migrate/util.h"

#define MIG_BAGIT_INTERNAL
#include "bagit_int.h"

/* --- Lines ------------------------------------------------------------- */

void
mig_bag_lines_init(struct mig_bag_lines *it, const char *buf, size_t len)
{
	it->p = buf;
	it->end = buf + len;
	it->lineno = 0;
}

bool
mig_bag_lines_next(struct mig_bag_lines *it, const char **line, size_t *len)
{
	const char *s = it->p, *e;

	if (s >= it->end)
		return false;
	for (e = s; e < it->end && *e != '\n' && *e != '\r'; e++)
		;
	*line = s;
	*len = (size_t)(e - s);
	if (e < it->end && *e == '\r') {
		e++;
		if (e < it->end && *e == '\n')
			e++;	/* CRLF */
	} else if (e < it->end)
		e++;		/* LF */
	it->p = e;
	it->lineno++;
	return true;
}

static bool
is_lws(char c)
{
	return c == ' ' || c == '\t';
}

/* Strips linear white space from both ends of s[0..*n). */
static const char *
trim_lws(const char *s, size_t *n)
{
	while (*n > 0 && is_lws(*s)) {
		s++;
		(*n)--;
	}
	while (*n > 0 && is_lws(s[*n - 1]))
		(*n)--;
	return s;
}

/* --- bagit.txt --------------------------------------------------------- */

static bool
copy_field(const char *s, size_t len, char *out, size_t outsz)
{
	if (len == 0 || len >= outsz || memchr(s, '\0', len) != NULL)
		return false;
	memcpy(out, s, len);
	out[len] = '\0';
	return true;
}

/* "M.N" with digits only. */
static bool
version_syntax_ok(const char *v)
{
	const char *p = v;

	if (*p < '0' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p++ != '.' || *p < '0' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9')
		p++;
	return *p == '\0';
}

int
mig_bag_parse_declaration(const char *buf, size_t len, char *version,
    size_t versionsz, char *encoding, size_t encsz, bool *had_bom,
    char *err, size_t errsz)
{
	static const char vlabel[] = "BagIt-Version:";
	static const char elabel[] = "Tag-File-Character-Encoding:";
	struct mig_bag_lines it;
	const char *line, *v;
	size_t n, vl;
	bool gotv = false, gote = false;

	version[0] = '\0';
	encoding[0] = '\0';
	*had_bom = false;
	if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
		*had_bom = true;
		buf += 3;
		len -= 3;
	}
	mig_bag_lines_init(&it, buf, len);
	while (mig_bag_lines_next(&it, &line, &n)) {
		if (n == 0)
			continue;
		if (n >= sizeof(vlabel) - 1 &&
		    memcmp(line, vlabel, sizeof(vlabel) - 1) == 0 && !gotv) {
			vl = n - (sizeof(vlabel) - 1);
			v = trim_lws(line + sizeof(vlabel) - 1, &vl);
			if (!copy_field(v, vl, version, versionsz) ||
			    !version_syntax_ok(version)) {
				(void)snprintf(err, errsz, "line %zu: bad "
				    "BagIt-Version", it.lineno);
				return MIG_ERR_FORMAT;
			}
			gotv = true;
		} else if (n >= sizeof(elabel) - 1 &&
		    memcmp(line, elabel, sizeof(elabel) - 1) == 0 && !gote) {
			vl = n - (sizeof(elabel) - 1);
			v = trim_lws(line + sizeof(elabel) - 1, &vl);
			if (!copy_field(v, vl, encoding, encsz)) {
				(void)snprintf(err, errsz, "line %zu: bad "
				    "Tag-File-Character-Encoding", it.lineno);
				return MIG_ERR_FORMAT;
			}
			gote = true;
		} else {
			(void)snprintf(err, errsz, "line %zu: unexpected line "
			    "(only BagIt-Version and "
			    "Tag-File-Character-Encoding are allowed)",
			    it.lineno);
			return MIG_ERR_FORMAT;
		}
	}
	if (!gotv || !gote) {
		(void)snprintf(err, errsz, "missing %s", !gotv ?
		    "BagIt-Version" : "Tag-File-Character-Encoding");
		return MIG_ERR_FORMAT;
	}
	return 0;
}

/* --- Paths ------------------------------------------------------------- */

const char *
mig_bag_path_problem(const char *path, size_t len)
{
	size_t i, start = 0, clen;

	if (len == 0)
		return "empty path";
	if (memchr(path, '\0', len) != NULL)
		return "NUL in path";
	if (path[0] == '/')
		return "absolute path";
	for (i = 0; i <= len; i++) {
		if (i < len && path[i] != '/')
			continue;
		clen = i - start;
		if (clen == 0)
			return "empty path component";
		if (clen == 1 && path[start] == '.')
			return "\".\" path component";
		if (clen == 2 && path[start] == '.' && path[start + 1] == '.')
			return "\"..\" escapes the bag";
		start = i + 1;
	}
	return NULL;
}

char *
mig_bag_path_encode(const char *path)
{
	size_t n = 0;
	const char *p;
	char *out, *o;

	for (p = path; *p != '\0'; p++)
		n += (*p == '\n' || *p == '\r' || *p == '%') ? 3 : 1;
	if ((out = malloc(n + 1)) == NULL)
		return NULL;
	for (o = out, p = path; *p != '\0'; p++) {
		if (*p == '\n')
			memcpy(o, "%0A", 3);
		else if (*p == '\r')
			memcpy(o, "%0D", 3);
		else if (*p == '%')
			memcpy(o, "%25", 3);
		else {
			*o++ = *p;
			continue;
		}
		o += 3;
	}
	*o = '\0';
	return out;
}

/* Copies s[0..len) decoding only %0A, %0D and %25 (any hex case). */
static char *
path_decode(const char *s, size_t len, bool decode)
{
	char *out, *o;
	size_t i;

	if ((out = malloc(len + 1)) == NULL)
		return NULL;
	for (o = out, i = 0; i < len; i++) {
		if (decode && s[i] == '%' && len - i >= 3) {
			char a = s[i + 1], b = s[i + 2];

			if (a == '0' && (b == 'A' || b == 'a')) {
				*o++ = '\n';
				i += 2;
				continue;
			}
			if (a == '0' && (b == 'D' || b == 'd')) {
				*o++ = '\r';
				i += 2;
				continue;
			}
			if (a == '2' && b == '5') {
				*o++ = '%';
				i += 2;
				continue;
			}
		}
		*o++ = s[i];
	}
	*o = '\0';
	return out;
}

/* --- Manifest and fetch lines ------------------------------------------ */

int
mig_bag_parse_manifest_line(const char *line, size_t len, size_t dlen,
    bool decode, unsigned char *digest, char **pathp, const char **why)
{
	size_t i = 0, hs, hl;

	*pathp = NULL;
	*why = NULL;
	while (i < len && is_lws(line[i]))
		i++;
	hs = i;
	while (i < len && !is_lws(line[i]))
		i++;
	hl = i - hs;
	if (hl == 0) {
		*why = "no checksum";
		return MIG_ERR_FORMAT;
	}
	if (i == len) {
		*why = "no file path after the checksum";
		return MIG_ERR_FORMAT;
	}
	if (hl != dlen * 2) {
		*why = "checksum has the wrong length for the algorithm";
		return MIG_ERR_FORMAT;
	}
	/* line[i], after the checksum, is a space: the decoder's stop. */
	if (mig_hex_decode(line + hs, digest, dlen) != 0) {
		*why = "checksum is not hexadecimal";
		return MIG_ERR_FORMAT;
	}
	while (i < len && is_lws(line[i]))
		i++;
	if (i == len) {
		*why = "no file path after the checksum";
		return MIG_ERR_FORMAT;
	}
	if (memchr(line + i, '\0', len - i) != NULL) {
		*why = "NUL in path";
		return MIG_ERR_FORMAT;
	}
	if ((*pathp = path_decode(line + i, len - i, decode)) == NULL)
		return MIG_ERR_NOMEM;
	return 0;
}

int
mig_bag_parse_fetch_line(const char *line, size_t len, bool decode,
    int64_t *size, char **pathp, const char **why)
{
	size_t i = 0, us, ls, ll, k;
	uint64_t v = 0;

	*pathp = NULL;
	*why = NULL;
	*size = -1;
	while (i < len && is_lws(line[i]))
		i++;
	us = i;
	while (i < len && !is_lws(line[i]))
		i++;
	if (i == us) {
		*why = "no URL";
		return MIG_ERR_FORMAT;
	}
	while (i < len && is_lws(line[i]))
		i++;
	ls = i;
	while (i < len && !is_lws(line[i]))
		i++;
	ll = i - ls;
	while (i < len && is_lws(line[i]))
		i++;
	if (ll == 0 || i == len) {
		*why = "expected URL, LENGTH and PATH";
		return MIG_ERR_FORMAT;
	}
	if (!(ll == 1 && line[ls] == '-')) {
		if (ll > 19) {
			*why = "LENGTH is too large";
			return MIG_ERR_FORMAT;
		}
		for (k = 0; k < ll; k++) {
			if (line[ls + k] < '0' || line[ls + k] > '9') {
				*why = "LENGTH is not a number or \"-\"";
				return MIG_ERR_FORMAT;
			}
			v = v * 10 + (uint64_t)(line[ls + k] - '0');
		}
		if (v > INT64_MAX) {
			*why = "LENGTH is too large";
			return MIG_ERR_FORMAT;
		}
		*size = (int64_t)v;
	}
	if (memchr(line + i, '\0', len - i) != NULL) {
		*why = "NUL in path";
		return MIG_ERR_FORMAT;
	}
	if ((*pathp = path_decode(line + i, len - i, decode)) == NULL)
		return MIG_ERR_NOMEM;
	return 0;
}

/* --- bag-info.txt ------------------------------------------------------ */

struct sbuf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

static int
sbuf_add(struct sbuf *b, const char *s, size_t n)
{
	char *np;
	size_t ncap;

	if (b->cap - b->len <= n) {
		if (n > SIZE_MAX / 2 - b->len - 16)
			return MIG_ERR_NOMEM;
		ncap = (b->len + n + 1) * 2;
		if ((np = realloc(b->p, ncap)) == NULL)
			return MIG_ERR_NOMEM;
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

/*
 * Splits "Label: value" into its label (line[0..*llp)) and trimmed value;
 * NULL, or why the line is malformed.
 */
static const char *
info_split(const char *line, size_t n, size_t *llp, const char **vp,
    size_t *vlp)
{
	const char *colon;
	size_t ll;

	if ((colon = memchr(line, ':', n)) == NULL)
		return "expected \"Label: value\"";
	ll = (size_t)(colon - line);
	while (ll > 0 && is_lws(line[ll - 1]))
		ll--;
	if (ll == 0)
		return "empty label";
	*llp = ll;
	*vlp = n - (size_t)(colon + 1 - line);
	*vp = trim_lws(colon + 1, vlp);
	return NULL;
}

int
mig_bag_parse_info(const char *buf, size_t len, mig_bag_info_cb cb,
    mig_bag_info_err_cb errcb, void *arg)
{
	struct mig_bag_lines it;
	struct sbuf label = { NULL, 0, 0 }, value = { NULL, 0, 0 };
	const char *line, *v, *why;
	size_t n, ll, vl;
	bool pending = false;
	int r = 0;

	if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
		buf += 3;
		len -= 3;
	}
	mig_bag_lines_init(&it, buf, len);
	while (mig_bag_lines_next(&it, &line, &n)) {
		if (n > 0 && memchr(line, '\0', n) != NULL) {
			errcb(arg, it.lineno, "NUL character");
			continue;
		}
		if (n > 0 && is_lws(line[0])) {
			/* A continuation line: folded into the value. */
			vl = n;
			v = trim_lws(line, &vl);
			if (!pending) {
				if (vl > 0)
					errcb(arg, it.lineno, "continuation "
					    "line without a label before it");
				continue;
			}
			if (vl == 0)
				continue;
			if ((value.len > 0 && (r = sbuf_add(&value, " ",
			    1)) != 0) || (r = sbuf_add(&value, v, vl)) != 0)
				goto out;
			continue;
		}
		if (pending) {
			pending = false;
			if ((r = cb(arg, label.p, value.p)) != 0)
				goto out;
		}
		if (n == 0)
			continue;
		if ((why = info_split(line, n, &ll, &v, &vl)) != NULL) {
			errcb(arg, it.lineno, why);
			continue;
		}
		label.len = 0;
		value.len = 0;
		if ((r = sbuf_add(&label, line, ll)) != 0 ||
		    (r = sbuf_add(&value, v, vl)) != 0)
			goto out;
		pending = true;
	}
	if (pending)
		r = cb(arg, label.p, value.p);
out:
	free(label.p);
	free(value.p);
	return r;
}

int
mig_bag_parse_oxum(const char *s, uint64_t *bytes, uint64_t *files)
{
	uint64_t v[2] = { 0, 0 };
	int part = 0;
	size_t digits = 0;

	for (; ; s++) {
		if (*s >= '0' && *s <= '9') {
			if (v[part] > (UINT64_MAX - 9) / 10)
				return MIG_ERR_FORMAT;
			v[part] = v[part] * 10 + (uint64_t)(*s - '0');
			digits++;
			continue;
		}
		if (digits == 0)
			return MIG_ERR_FORMAT;
		if (*s == '.' && part == 0) {
			part = 1;
			digits = 0;
			continue;
		}
		if (*s == '\0' && part == 1)
			break;
		return MIG_ERR_FORMAT;
	}
	*bytes = v[0];
	*files = v[1];
	return 0;
}

/* --- Versions ---------------------------------------------------------- */

int
mig_bag_version_code(const char *version)
{
	static const struct {
		const char	*name;
		int		 code;
	} known[] = {
		{ "0.93", 93 }, { "0.94", 94 }, { "0.95", 95 },
		{ "0.96", 96 }, { "0.97", 97 }, { "1.0", 100 },
	};
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(version, known[i].name) == 0)
			return known[i].code;
	return -1;
}

const char *
mig_bag_path_strip(const char *path, unsigned flags)
{
	if ((flags & MIG_BAG_STRIP_STAR) && path[0] == '*')
		path++;
	if ((flags & MIG_BAG_STRIP_SLASH) && path[0] == '/')
		path++;
	while (path[0] == '.' && path[1] == '/')
		path += 2;
	return path;
}

/* --- Tag-file character encoding --------------------------------------- */

bool
mig_bag_encoding_is_utf8(const char *enc)
{
	return strcasecmp(enc, "UTF-8") == 0 || strcasecmp(enc, "UTF8") == 0;
}

/*
 * The name handed to iconv_open(): IANA charset names only use these
 * characters, and refusing the rest keeps path-like or option-like
 * strings ("//TRANSLIT", "../x") away from the gconv loader.
 */
static const char *
iconv_name(const char *enc)
{
	const char *p;

	if (enc[0] == '\0' || strlen(enc) > 40)
		return NULL;
	for (p = enc; *p != '\0'; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
		    *p == '.' || *p == ':' || *p == '+' || *p == '(' ||
		    *p == ')'))
			return NULL;
	/* glibc knows LATIN1 and ISO-8859-1, not the common "Latin-1". */
	if (strcasecmp(enc, "Latin-1") == 0)
		return "LATIN1";
	return enc;
}

/* Doubles the output buffer of a conversion; FORMAT past a sane bound. */
static int
grow_out(char **out, size_t *cap)
{
	char *np;

	if (*cap > MIG_BAG_TAGFILE_MAX * (size_t)4)
		return MIG_ERR_FORMAT;
	if ((np = realloc(*out, *cap * 2 + 1)) == NULL)
		return MIG_ERR_NOMEM;
	*out = np;
	*cap *= 2;
	return 0;
}

int
mig_bag_decode(const char *enc, const char *in, size_t inlen, char **outp,
    size_t *outlenp, char *err, size_t errsz)
{
	const char *name = iconv_name(enc);
	char *out = NULL, *ip = (char *)in, *op;
	size_t cap, il = inlen, ol, used = 0, rc;
	bool flush, done = false;
	iconv_t cd;
	int r = 0;

	*outp = NULL;
	*outlenp = 0;
	if (errsz > 0)
		err[0] = '\0';
	if (name == NULL ||
	    (cd = iconv_open("UTF-8", name)) == (iconv_t)-1) {
		(void)snprintf(err, errsz, "unsupported character encoding "
		    "\"%s\"", enc);
		return MIG_ERR_NOTFOUND;
	}
	cap = inlen > MIG_BAG_TAGFILE_MAX ? MIG_BAG_TAGFILE_MAX : inlen;
	cap = cap * 2 + 64;
	if ((out = malloc(cap + 1)) == NULL)
		r = MIG_ERR_NOMEM;
	/* Convert all input, then flush a stateful encoding's shift state. */
	while (r == 0 && !done) {
		flush = il == 0;
		op = out + used;
		ol = cap - used;
		rc = flush ? iconv(cd, NULL, NULL, &op, &ol) :
		    iconv(cd, &ip, &il, &op, &ol);
		used = cap - ol;
		if (rc != (size_t)-1)
			done = flush;
		else if (errno == E2BIG)
			r = grow_out(&out, &cap);
		else {
			(void)snprintf(err, errsz, "%s %s sequence at byte %zu",
			    errno == EINVAL ? "incomplete" : "invalid", enc,
			    (size_t)(ip - in));
			r = MIG_ERR_FORMAT;
		}
	}
	if (r == MIG_ERR_FORMAT && err[0] == '\0')
		(void)snprintf(err, errsz, "too large once decoded");
	if (r == 0) {
		out[used] = '\0';
		*outlenp = used;
		*outp = out;
		out = NULL;
	}
	free(out);
	(void)iconv_close(cd);
	return r;
}

/* --- Unicode normalisation --------------------------------------------- */

static char *
memdup_nul(const char *s, size_t len)
{
	char *out;

	if ((out = malloc(len + 1)) == NULL)
		return NULL;
	memcpy(out, s, len);
	out[len] = '\0';
	return out;
}

/*
 * utf8proc does the decomposition and the canonical reordering from the
 * Unicode tables it was built with.  Compatibility mappings (NFKD) are not
 * applied: "\xEF\xAC\x81" (the fi ligature) and "fi" are different names.
 */
char *
mig_bag_nfd(const char *s, size_t len, size_t *outlen)
{
	utf8proc_uint8_t *dst = NULL;
	utf8proc_ssize_t n;
	size_t i;
	char *out;

	for (i = 0; i < len && (unsigned char)s[i] < 0x80; i++)
		;
	if (i < len && len <= (size_t)PTRDIFF_MAX) {
		n = utf8proc_map((const utf8proc_uint8_t *)s,
		    (utf8proc_ssize_t)len, &dst,
		    UTF8PROC_DECOMPOSE | UTF8PROC_STABLE);
		if (n >= 0) {
			if (outlen != NULL)
				*outlen = (size_t)n;
			return (char *)dst;
		}
		if (n == UTF8PROC_ERROR_NOMEM)
			return NULL;
		/* Not UTF-8: compared as the bytes they are. */
	}
	if ((out = memdup_nul(s, len)) != NULL && outlen != NULL)
		*outlen = len;
	return out;
}
