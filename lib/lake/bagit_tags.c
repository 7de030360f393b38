/*
 * BagIt validation of the tag files: bagit.txt (version and encoding),
 * the names at the top of the bag, bag-info.txt, the line-by-line reading
 * of manifests and fetch.txt, and the tag manifests.  Tag files are
 * converted from the bag's Tag-File-Character-Encoding to UTF-8 before
 * parsing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/bagit.h"
#include "migrate/error.h"
#include "migrate/stream.h"
#include "migrate/util.h"

#define MIG_BAGIT_INTERNAL
#include "bagit_int.h"
#include "bagit_validate_int.h"

/* A manifest path for a message: controls and '%' as %XX, bounded. */
static const char *
shown(const char *path, char *buf, size_t size)
{
	size_t o = 0;

	for (; *path != '\0' && o + 4 < size; path++) {
		unsigned char c = (unsigned char)*path;

		if (c < 0x20 || c == 0x7f || c == '%')
			o += (size_t)snprintf(buf + o, size - o, "%%%02X", c);
		else
			buf[o++] = (char)c;
	}
	buf[o] = '\0';
	return buf;
}

/*
 * Reads a tag file other than bagit.txt as UTF-8 text: converted from the
 * bag's encoding, a leading byte-order mark skipped (and, for UTF-8 in
 * 1.0, reported).  A file that cannot be decoded, or that the transport
 * refuses to read (a symbolic link, a FIFO), is a finding and reads as
 * empty.
 */
static int
read_tag(struct bagv *v, const char *rel, char **bufp, const char **textp,
    size_t *lenp)
{
	char *buf, *conv, err[256];
	size_t len, clen;
	int r;

	*bufp = NULL;
	*textp = "";
	*lenp = 0;
	r = bagv_read_all(v->src, rel, &buf, &len);
	if (r == MIG_ERR_FORMAT)
		return bagv_refused(v, rel);	/* reads as empty */
	if (r != 0)
		return r;
	if (!v->utf8) {
		r = mig_bag_decode(v->rep->encoding, buf, len, &conv, &clen,
		    err, sizeof(err));
		free(buf);
		if (r == MIG_ERR_NOMEM)
			return mig_seterr(v->ctx, r, "out of memory");
		if (r != 0)
			return bagv_finding(v, MIG_BAG_FORMAT, rel, "not text "
			    "in the bag's encoding: %s", err);
		buf = conv;
		len = clen;
	}
	*bufp = buf;
	*textp = buf;
	*lenp = len;
	if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
		*textp = buf + 3;
		*lenp = len - 3;
		if (v->utf8 && v->ver >= 100 && (r = bagv_finding(v,
		    MIG_BAG_FORMAT, rel, "starts with a byte-order mark, "
		    "which UTF-8 tag files must not (RFC 8493 2.3)")) != 0) {
			free(buf);
			*bufp = NULL;
		}
	}
	return r;
}

static bool
blank(const char *line, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t')
			return false;
	return true;
}

/* Why bagit.txt is not plain UTF-8, from its first bytes; NULL if it is. */
static const char *
declaration_bom(const char *buf, size_t len)
{
	if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
		return "starts with a byte-order mark; bagit.txt must be "
		    "UTF-8 without one (RFC 8493 2.1.1)";
	if (len >= 2 && (memcmp(buf, "\xFF\xFE", 2) == 0 ||
	    memcmp(buf, "\xFE\xFF", 2) == 0))
		return "is UTF-16 (byte-order mark); bagit.txt must be UTF-8 "
		    "without one (RFC 8493 2.1.1)";
	return NULL;
}

/* Checks the version and encoding declared; 0 or FORMAT with err set. */
static int
declaration_check(struct bagv *v, char *err, size_t errsz)
{
	struct mig_bag_report *rep = v->rep;
	char *conv;
	size_t clen;
	int r;

	if ((v->ver = mig_bag_version_code(rep->version)) < 0) {
		(void)snprintf(err, errsz, "unsupported BagIt-Version %s "
		    "(0.93 to 0.97 and 1.0 are)", rep->version);
		return MIG_ERR_FORMAT;
	}
	v->utf8 = mig_bag_encoding_is_utf8(rep->encoding);
	if (v->utf8)
		return 0;
	/* Converting nothing tells whether iconv knows the encoding. */
	r = mig_bag_decode(rep->encoding, "", 0, &conv, &clen, err, errsz);
	free(conv);
	if (r == MIG_ERR_NOTFOUND) {
		(void)snprintf(err, errsz, "unsupported "
		    "Tag-File-Character-Encoding \"%s\"", rep->encoding);
		r = MIG_ERR_FORMAT;
	}
	return r;
}

int
bagv_declaration(struct bagv *v)
{
	struct mig_bag_report *rep = v->rep;
	const char *why;
	char *buf = NULL, err[256];
	size_t len;
	bool bom;
	int r;

	r = bagv_read_all(v->src, "bagit.txt", &buf, &len);
	if (r == MIG_ERR_NOTFOUND) {
		(void)bagv_finding(v, MIG_BAG_FORMAT, "bagit.txt", "missing: "
		    "not a bag");
		return mig_seterr(v->ctx, MIG_ERR_FORMAT, "%s: not a bag (no "
		    "bagit.txt)", v->src->name);
	}
	if (r == MIG_ERR_FORMAT)	/* refused: a link, not a file */
		(void)snprintf(err, sizeof(err), "%s", mig_errmsg(v->ctx));
	else if (r != 0)
		return r;
	else if ((why = declaration_bom(buf, len)) != NULL) {
		(void)snprintf(err, sizeof(err), "%s", why);
		r = MIG_ERR_FORMAT;
	} else
		r = mig_bag_parse_declaration(buf, len, rep->version,
		    sizeof(rep->version), rep->encoding,
		    sizeof(rep->encoding), &bom, err, sizeof(err));
	free(buf);
	if (r == 0)
		r = declaration_check(v, err, sizeof(err));
	if (r == MIG_ERR_NOMEM)
		return mig_seterr(v->ctx, r, "out of memory");
	if (r != 0) {
		(void)bagv_finding(v, MIG_BAG_FORMAT, "bagit.txt", "%s", err);
		return mig_seterr(v->ctx, MIG_ERR_FORMAT, "%s/bagit.txt: %s",
		    v->src->name, err);
	}
	v->decode = v->ver >= 100;
	/* 0.95 to 0.97 need a payload file in one manifest only. */
	v->every = v->ver <= 94 || v->ver >= 100;
	v->info_name = v->ver <= 95 ? "package-info.txt" : "bag-info.txt";
	return 0;
}

static int
alg_index(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < BAGV_NALG; i++)
		if (strlen(bagv_algs[i].name) == len &&
		    strncmp(bagv_algs[i].name, name, len) == 0)
			return (int)i;
	return -1;
}

/*
 * 0.93 and 0.94: NAME.ALG holds the checksum of tag file NAME ("tag
 * checksum file", draft-kunze-bagit-00 2.1).  Remembers it for checking.
 */
static int
tag_checksum_file(struct bagv *v, const char *name)
{
	const char *dot = strrchr(name, '.');
	struct bagv_tcfile *nt;
	int a;

	if (v->ver > 94 || dot == NULL || dot == name ||
	    (a = alg_index(dot + 1, strlen(dot + 1))) < 0)
		return 0;
	if ((nt = realloc(v->tcf, (v->ntcf + 1) * sizeof(*nt))) == NULL)
		return mig_seterr(v->ctx, MIG_ERR_NOMEM, "out of memory");
	v->tcf = nt;
	if ((nt[v->ntcf].name = strdup(name)) == NULL)
		return mig_seterr(v->ctx, MIG_ERR_NOMEM, "out of memory");
	nt[v->ntcf++].alg = a;
	v->tcf_mask |= 1u << a;
	return 0;
}

int
bagv_top_entry(void *arg, const char *name)
{
	struct bagv *v = arg;
	size_t n = strlen(name), plen;
	const char *alg;
	bool tag;
	int a;

	if (strcmp(name, "fetch.txt") == 0) {
		v->has_fetch = true;
		return 0;
	}
	if (strcmp(name, v->info_name) == 0) {
		v->has_info = true;
		return 0;
	}
	if (n > 13 && strncmp(name, "tagmanifest-", 12) == 0)
		tag = true;
	else if (n > 10 && strncmp(name, "manifest-", 9) == 0)
		tag = false;
	else
		return tag_checksum_file(v, name);
	if (n < 4 || strcmp(name + n - 4, ".txt") != 0)
		return tag_checksum_file(v, name);
	plen = tag ? 12 : 9;
	alg = name + plen;
	if ((a = alg_index(alg, n - plen - 4)) < 0) {
		v->unsupported++;
		return bagv_finding(v, MIG_BAG_FORMAT, name, "unsupported "
		    "algorithm; this manifest cannot be checked");
	}
	if (tag)
		v->tag_mask |= 1u << a;
	else
		v->payload_mask |= 1u << a;
	return 0;
}

void
bagv_alg_list(unsigned mask, char *out, size_t outsz)
{
	size_t i, len = 0;

	out[0] = '\0';
	for (i = 0; i < BAGV_NALG; i++) {
		if (!(mask & (1u << i)))
			continue;
		(void)snprintf(out + len, outsz - len, "%s%s",
		    len > 0 ? "," : "", bagv_algs[i].name);
		len = strlen(out);
	}
}

static int
info_item(void *arg, const char *label, const char *value)
{
	struct bagv *v = arg;
	struct mig_bag_report *rep = v->rep;
	struct mig_bag_info_item *ni;

	if (rep->ninfo >= 100000)
		return 0;	/* absurd; keep the rest out of memory */
	ni = realloc(rep->info, (rep->ninfo + 1) * sizeof(*ni));
	if (ni == NULL)
		return MIG_ERR_NOMEM;
	rep->info = ni;
	ni[rep->ninfo].label = strdup(label);
	ni[rep->ninfo].value = strdup(value);
	if (ni[rep->ninfo].label == NULL || ni[rep->ninfo].value == NULL) {
		free(ni[rep->ninfo].label);
		free(ni[rep->ninfo].value);
		return MIG_ERR_NOMEM;
	}
	rep->ninfo++;
	return 0;
}

static void
info_err(void *arg, size_t lineno, const char *why)
{
	struct bagv *v = arg;

	(void)bagv_finding(v, MIG_BAG_FORMAT, v->info_name, "line %zu: %s",
	    lineno, why);
}

int
bagv_bag_info(struct bagv *v)
{
	const char *text;
	char *buf;
	size_t len;
	int r;

	if (!v->has_info)
		return 0;
	if ((r = read_tag(v, v->info_name, &buf, &text, &len)) != 0)
		return r;
	r = mig_bag_parse_info(text, len, info_item, info_err, v);
	free(buf);
	if (r == MIG_ERR_NOMEM)
		r = mig_seterr(v->ctx, r, "out of memory");
	return r;
}

int
bagv_line_finding(struct bagv *v, const struct bagv_line *l, const char *why)
{
	char sbuf[512];

	return bagv_finding(v, MIG_BAG_FORMAT, l->tagfile, "line %zu: %s: %s",
	    l->lineno, shown(l->path, sbuf, sizeof(sbuf)), why);
}

/*
 * Parses every line of tagfile: a manifest of algorithm a, or fetch.txt
 * when a < 0.  A "./" before the path, and before 1.0 md5sum's '*' (and
 * in fetch.txt a leading '/'), are removed.  Lines that do not parse, and
 * paths that escape the bag, are findings; fn gets the rest.  Only hard
 * errors stop the walk.
 */
/* One line of a manifest (a >= 0) or of fetch.txt, parsed, handed to fn. */
static int
each_one(struct bagv *v, const char *tagfile, int a, bagv_line_fn fn,
    unsigned strip, const char *line, size_t n, size_t lineno)
{
	struct bagv_line l;
	const char *why;
	char *path = NULL;
	int r;

	if (blank(line, n))
		return 0;
	l.tagfile = tagfile;
	l.size = -1;
	if (a < 0)
		r = mig_bag_parse_fetch_line(line, n, v->decode, &l.size, &path,
		    &why);
	else
		r = mig_bag_parse_manifest_line(line, n, bagv_algs[a].dlen,
		    v->decode, l.digest, &path, &why);
	l.lineno = lineno;
	l.path = path != NULL ? mig_bag_path_strip(path, strip) : NULL;
	if (r == MIG_ERR_NOMEM)
		r = mig_seterr(v->ctx, r, "out of memory");
	else if (r != 0)
		r = bagv_finding(v, MIG_BAG_FORMAT, tagfile, "line %zu: %s",
		    lineno, why);
	else if ((why = mig_bag_path_problem(l.path, strlen(l.path))) != NULL)
		r = bagv_line_finding(v, &l, why);
	else
		r = fn(v, &l, a);
	free(path);
	return r;
}

/* Longest line a streamed tag file may have. */
#define STREAM_LINE_MAX	(1024u * 1024)

/*
 * The end of the line at s[0..n): *e its terminator (LF, CRLF or CR, as
 * mig_bag_lines_next), *next after it.  False when the line may not be
 * whole yet: no terminator, or a CR that may be the first half of a CRLF.
 */
static bool
line_end(const char *s, size_t n, bool eof, size_t *e, size_t *next)
{
	size_t i;

	for (i = 0; i < n && s[i] != '\n' && s[i] != '\r'; i++)
		;
	if (i == n) {
		*e = *next = n;
		return eof && n > 0;
	}
	*e = i;
	if (s[i] == '\r') {
		if (i + 1 == n && !eof)
			return false;
		*next = i + 1 < n && s[i + 1] == '\n' ? i + 2 : i + 1;
	} else
		*next = i + 1;
	return true;
}

/* A UTF-8 byte-order mark at the start of the file: skipped, reported. */
static int
skip_bom(struct bagv *v, const char *tagfile, char *buf, size_t *have)
{
	if (*have < 3 || memcmp(buf, "\xEF\xBB\xBF", 3) != 0)
		return 0;
	memmove(buf, buf + 3, *have - 3);
	*have -= 3;
	if (v->ver >= 100)
		return bagv_finding(v, MIG_BAG_FORMAT, tagfile, "starts with "
		    "a byte-order mark, which UTF-8 tag files must not "
		    "(RFC 8493 2.3)");
	return 0;
}

/*
 * The lines of a UTF-8 tag file, read as a stream: a manifest of
 * millions of entries is never held whole (issue 20).
 */
static int
each_line_stream(struct bagv *v, const char *tagfile, int a, bagv_line_fn fn,
    unsigned strip)
{
	struct mig_reader *rd = NULL;
	size_t have = 0, got, start, e, next, lineno = 0;
	bool eof = false, first = true;
	char *buf;
	int r;

	if ((r = bagv_open(v->src, tagfile, &rd)) == MIG_ERR_FORMAT)
		return bagv_refused(v, tagfile);	/* reads as empty */
	if (r != 0)
		return r;
	if ((buf = malloc(STREAM_LINE_MAX)) == NULL) {
		mig_reader_free(rd);
		return mig_seterr(v->ctx, MIG_ERR_NOMEM, "out of memory");
	}
	while (r == 0 && !(eof && have == 0)) {
		if (!eof && (r = mig_reader_read(rd, buf + have,
		    STREAM_LINE_MAX - have, &got)) == 0) {
			eof = got == 0;
			have += got;
		}
		if (r != 0 || (first && have < 3 && !eof))
			continue;
		if (first && (r = skip_bom(v, tagfile, buf, &have)) != 0)
			break;
		first = false;
		for (start = 0; r == 0 && line_end(buf + start, have - start,
		    eof, &e, &next); start += next)
			r = each_one(v, tagfile, a, fn, strip, buf + start, e,
			    ++lineno);
		memmove(buf, buf + start, have - start);
		have -= start;
		if (r == 0 && have == STREAM_LINE_MAX) {
			/* The rest of the file goes unread: the bag fails. */
			r = bagv_finding(v, MIG_BAG_FORMAT, tagfile, "line %zu: "
			    "longer than %u bytes", lineno + 1,
			    STREAM_LINE_MAX);
			break;
		}
	}
	free(buf);
	mig_reader_free(rd);
	return r;
}

int
bagv_each_line(struct bagv *v, const char *tagfile, int a, bagv_line_fn fn)
{
	struct mig_bag_lines it;
	const char *text, *line;
	char *buf = NULL;
	unsigned strip = 0;
	size_t len, n;
	int r;

	if (v->ver < 100)
		strip = a < 0 ? MIG_BAG_STRIP_SLASH : MIG_BAG_STRIP_STAR;
	if (v->utf8)
		return each_line_stream(v, tagfile, a, fn, strip);
	/* Other encodings are decoded whole. */
	if ((r = read_tag(v, tagfile, &buf, &text, &len)) != 0)
		return r;
	mig_bag_lines_init(&it, text, len);
	while (r == 0 && mig_bag_lines_next(&it, &line, &n))
		r = each_one(v, tagfile, a, fn, strip, line, n, it.lineno);
	free(buf);
	return r;
}

/* The algorithm of a payload manifest name "manifest-ALG.txt", or -1. */
static int
payload_manifest_alg(const char *name)
{
	size_t n = strlen(name);

	if (n <= 13 || strncmp(name, "manifest-", 9) != 0 ||
	    strcmp(name + n - 4, ".txt") != 0)
		return -1;
	return alg_index(name + 9, n - 13);
}

int
bagv_tag_line(struct bagv *v, const struct bagv_line *l, int a)
{
	unsigned char got[BAGV_NALG][BAGV_DMAX];
	char ehex[2 * BAGV_DMAX + 1], ghex[2 * BAGV_DMAX + 1];
	uint64_t nbytes;
	int b, r;

	if (strncmp(l->path, "data/", 5) == 0)
		return bagv_line_finding(v, l, "payload file in a tag "
		    "manifest");
	if (strcmp(l->path, l->tagfile) == 0)
		return bagv_line_finding(v, l, "a tag manifest cannot list "
		    "itself");
	if (v->ver >= 100 && strncmp(l->path, "tagmanifest-", 12) == 0 &&
	    strchr(l->path, '/') == NULL)
		return bagv_line_finding(v, l, "a tag manifest must not list "
		    "tag manifests (RFC 8493 2.2.1)");
	if ((b = payload_manifest_alg(l->path)) >= 0)
		v->tm_listed |= 1u << b;
	r = bagv_hash_file(v, l->path, 1u << a, got, &nbytes);
	if (r == MIG_ERR_NOTFOUND)
		return bagv_finding(v, MIG_BAG_MISSING, l->path, "listed in "
		    "%s, not in the bag", l->tagfile);
	if (r == MIG_ERR_FORMAT)
		return bagv_refused(v, l->path);
	if (r == 0 && memcmp(got[a], l->digest, bagv_algs[a].dlen) != 0) {
		mig_hex_encode(l->digest, bagv_algs[a].dlen, ehex);
		mig_hex_encode(got[a], bagv_algs[a].dlen, ghex);
		return bagv_finding(v, MIG_BAG_ALTERED, l->path, "%s %s, "
		    "expected %s (%s)", bagv_algs[a].name, ghex, ehex,
		    l->tagfile);
	}
	return r;
}

/* A tag manifest; in 1.0 it must list every payload manifest. */
int
bagv_tag_manifest(struct bagv *v, int a)
{
	char name[64], miss[64];
	unsigned left;
	int r;

	(void)snprintf(name, sizeof(name), "tagmanifest-%s.txt",
	    bagv_algs[a].name);
	v->tm_listed = 0;
	if ((r = bagv_each_line(v, name, a, bagv_tag_line)) != 0)
		return r;
	left = v->payload_mask & ~v->tm_listed;
	if (v->ver >= 100 && left != 0) {
		bagv_alg_list(left, miss, sizeof(miss));
		r = bagv_finding(v, MIG_BAG_FORMAT, name, "does not list the "
		    "payload manifest for %s; RFC 8493 2.2.1 wants every one",
		    miss);
	}
	return r;
}
