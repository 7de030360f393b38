/*
 * BagIt validator (RFC 8493 sections 3 and 4: complete and valid bags).
 *
 * The bag is read through a transport (file, sftp, https, s3); a local
 * directory through the file transport, which never follows a symbolic
 * link below its root.  Links and special files in the bag are findings.
 *
 * Order of work: bagit.txt; the list of tag files at the top; bag-info.txt;
 * every payload manifest into one hash table keyed by the NFD form of the
 * path (so NFC and NFD spellings of a name match); fetch.txt; one walk of
 * data/ hashing each payload file once for every algorithm together; what
 * was never found; Payload-Oxum; every tag manifest.  Lookups are O(1), so
 * the overhead beyond hashing stays small for large bags.
 *
 * Versions 0.93 to 1.0 are validated by the rules of their own draft or
 * of RFC 8493; bagit_parse.c lists what differs.  Tag files are converted
 * from their Tag-File-Character-Encoding to UTF-8 (iconv) before parsing.
 *
 * Choices where the texts leave room, documented in migrate(1):
 *  - A file listed in fetch.txt and absent makes the bag incomplete,
 *    hence invalid: it is reported as MIG_BAG_FETCH, not skipped.
 *  - Percent-decoding of %0A, %0D and %25 applies to version 1.0
 *    manifests; earlier manifests are taken literally.
 *  - A byte-order mark in bagit.txt is refused in every version.  A
 *    UTF-8 BOM at the start of another tag file is refused in 1.0
 *    (RFC 8493 2.3) and skipped before it.
 *  - A "./" before a manifest path is accepted and removed; so is the
 *    md5sum '*' before 1.0, which 1.0 refuses.
 *  - Files outside data/ that no tag manifest lists (such as _SUCCESS)
 *    are ignored.  Tag-manifest paths are matched byte for byte.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "migrate/bagit.h"
#include "migrate/error.h"
#include "migrate/stream.h"
#include "migrate/transport.h"
#include "migrate/util.h"

#define MIG_BAGIT_INTERNAL
#include "bagit_int.h"

/* Deepest directory nesting walked under data/. */
#define WALK_DEPTH_MAX	256

static const struct {
	const char	*name;		/* in manifest-NAME.txt */
	const char	*evp;		/* OpenSSL fetch name */
	size_t		 dlen;
} algs[] = {
	{ "md5", "MD5", 16 },
	{ "sha1", "SHA1", 20 },
	{ "sha224", "SHA2-224", 28 },
	{ "sha256", "SHA2-256", 32 },
	{ "sha384", "SHA2-384", 48 },
	{ "sha512", "SHA2-512", 64 },
};
#define NALG	(sizeof(algs) / sizeof(algs[0]))
#define DMAX	64

/* --- The bag, read through a transport -------------------------------- */

/* Callbacks of the source: a top-level name, a payload file, an odd entry. */
typedef int (*top_cb)(void *arg, const char *name);
typedef int (*file_cb)(void *arg, const char *rel, uint64_t size);
typedef int (*odd_cb)(void *arg, const char *rel, const char *what);

struct src {
	struct mig_ctx		*ctx;
	const char		*name;		/* for messages */
	struct mig_transport	*t;
	const char		*bagdir;	/* NULL: the transport's root */
	bool			 any_names;	/* file://: control characters */
};

/* A growing path buffer. */
struct pbuf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

static int
pbuf_set(struct pbuf *b, size_t len, const char *add)
{
	size_t n = strlen(add), ncap;
	char *np;

	if (n > SIZE_MAX / 4 - len)
		return MIG_ERR_NOMEM;
	if (len + n + 2 > b->cap) {
		ncap = (len + n + 2) * 2;
		if ((np = realloc(b->p, ncap)) == NULL)
			return MIG_ERR_NOMEM;
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + len, add, n + 1);
	b->len = len + n;
	return 0;
}

/* BAGDIR/rel; NULL on ENOMEM. */
static char *
t_join(const struct src *s, const char *rel)
{
	return mig_path_join(s->bagdir, rel);
}

/*
 * Whether path holds a control character and s can read it: a bag may
 * name a file "a\nb" (RFC 8493 2.1.3), which the transport operations
 * refuse and only the file backend's *_any reads take.
 */
static bool
any_name(const struct src *s, const char *path)
{
	const unsigned char *p;

	if (!s->any_names)
		return false;
	for (p = (const unsigned char *)path; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return true;
	return false;
}

static int
t_stat(struct src *s, const char *path, struct mig_tstat *st)
{
	if (any_name(s, path))
		return mig_transport_file_stat_any(s->t, path, st);
	return mig_transport_stat(s->t, path, st);
}

static int
t_list(struct src *s, const char *dir, mig_list_cb cb, void *arg)
{
	if (any_name(s, dir))
		return mig_transport_file_list_any(s->t, dir, cb, arg);
	return mig_transport_list(s->t, dir, cb, arg);
}

/*
 * The transport's failure r to read rel, as the validator takes it: an
 * entry that is there but is not a regular file (a symbolic link the
 * transport refused to follow, a FIFO, a device, a directory) or a tag
 * file over the size limit is MIG_ERR_FORMAT, which callers report as a
 * finding; anything else is returned as it is.
 */
static int
t_refusal(struct src *s, const char *rel, const char *path, int r)
{
	char msg[MIG_ERRMSG_MAX];
	struct mig_tstat st;

	(void)snprintf(msg, sizeof(msg), "%s", mig_errmsg(s->ctx));
	if (r == MIG_ERR_SECURITY)
		return mig_seterr(s->ctx, MIG_ERR_FORMAT, "%s", msg);
	if (r != MIG_ERR_IO)
		return r;
	/* Only the failure path pays for the second round trip. */
	if (t_stat(s, path, &st) == 0 && st.type != MIG_FT_FILE)
		return mig_seterr(s->ctx, MIG_ERR_FORMAT, "%s/%s: not a "
		    "regular file", s->name, rel);
	return mig_seterr(s->ctx, r, "%s", msg);
}

/* Whole tag file; MIG_ERR_NOTFOUND when absent, FORMAT when refused. */
static int
t_read_all(struct src *s, const char *rel, char **bufp, size_t *lenp)
{
	unsigned char *buf = NULL, *nb;
	size_t len = 0;
	char *path;
	int r;

	*bufp = NULL;
	*lenp = 0;
	if ((path = t_join(s, rel)) == NULL)
		return mig_seterr(s->ctx, MIG_ERR_NOMEM, "out of memory");
	r = mig_transport_get(s->t, path, MIG_BAG_TAGFILE_MAX, &buf, &len);
	if (r != 0)
		r = t_refusal(s, rel, path, r);
	free(path);
	if (r != 0)
		return r;
	/* NUL-terminate for the parsers' convenience. */
	if ((nb = realloc(buf, len + 1)) == NULL) {
		free(buf);
		return mig_seterr(s->ctx, MIG_ERR_NOMEM, "out of memory");
	}
	nb[len] = '\0';
	*bufp = (char *)nb;
	*lenp = len;
	return 0;
}

struct t_list {
	top_cb		 cb;
	void		*arg;
	/* for the walk: collected entries of one directory */
	char		**names;
	enum mig_ftype	 *types;
	uint64_t	 *sizes;
	size_t		  n;
	size_t		  cap;
	bool		  nomem;
};

static int
t_top_cb(void *arg, const char *name, const struct mig_tstat *st)
{
	struct t_list *l = arg;

	(void)st;
	return l->cb(l->arg, name);
}

/* Names directly in the bag directory. */
static int
t_list_top(struct src *s, top_cb cb, void *arg)
{
	struct t_list l = { .cb = cb, .arg = arg };
	const char *dir = s->bagdir;

	if (dir == NULL || strcmp(dir, ".") == 0)
		dir = "";	/* the transport's root */
	return mig_transport_list(s->t, dir, t_top_cb, &l);
}

static int
t_collect_cb(void *arg, const char *name, const struct mig_tstat *st)
{
	struct t_list *l = arg;
	size_t ncap;
	void *p;

	if (l->n == l->cap) {
		ncap = l->cap == 0 ? 64 : l->cap * 2;
		if ((p = realloc(l->names, ncap * sizeof(*l->names))) == NULL)
			goto out_nomem;
		l->names = p;
		if ((p = realloc(l->types, ncap * sizeof(*l->types))) == NULL)
			goto out_nomem;
		l->types = p;
		if ((p = realloc(l->sizes, ncap * sizeof(*l->sizes))) == NULL)
			goto out_nomem;
		l->sizes = p;
		l->cap = ncap;
	}
	if ((l->names[l->n] = strdup(name)) == NULL)
		goto out_nomem;
	l->types[l->n] = st->type;
	l->sizes[l->n] = st->size;
	l->n++;
	return 0;
out_nomem:
	l->nomem = true;
	return MIG_ERR_NOMEM;
}

static void
t_list_free(struct t_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
	free(l->types);
	free(l->sizes);
}

static int	t_walk_entry(struct src *s, struct pbuf *rel,
		    enum mig_ftype type, uint64_t size, int depth, file_cb fcb,
		    odd_cb ocb, void *arg);

static int
t_walk_dir(struct src *s, struct pbuf *rel, int depth, file_cb fcb,
    odd_cb ocb, void *arg)
{
	struct t_list l = { .cb = NULL };
	size_t base = rel->len, i;
	char *path;
	int r;

	if ((path = t_join(s, rel->p)) == NULL)
		return mig_seterr(s->ctx, MIG_ERR_NOMEM, "out of memory");
	r = t_list(s, path, t_collect_cb, &l);
	free(path);
	if (l.nomem)
		r = mig_seterr(s->ctx, MIG_ERR_NOMEM, "out of memory");
	for (i = 0; r == 0 && i < l.n; i++) {
		if (pbuf_set(rel, base, "/") != 0 ||
		    pbuf_set(rel, rel->len, l.names[i]) != 0) {
			r = mig_seterr(s->ctx, MIG_ERR_NOMEM, "out of memory");
			break;
		}
		r = t_walk_entry(s, rel, l.types[i], l.sizes[i], depth, fcb,
		    ocb, arg);
	}
	rel->len = base;
	if (rel->p != NULL)
		rel->p[base] = '\0';
	t_list_free(&l);
	return r;
}

/*
 * One entry of a payload directory, by the type the listing gave it: a
 * listing reports a symbolic link or a special file as such (lstat), and
 * those are findings, never followed.  A backend that cannot tell (WebDAV)
 * says file, and opening it refuses what is not one.
 */
static int
t_walk_entry(struct src *s, struct pbuf *rel, enum mig_ftype type,
    uint64_t size, int depth, file_cb fcb, odd_cb ocb, void *arg)
{
	switch (type) {
	case MIG_FT_FILE:
		return fcb(arg, rel->p, size);
	case MIG_FT_DIR:
		if (depth >= WALK_DEPTH_MAX)
			return ocb(arg, rel->p, "directories nested too deep; "
			    "not checked");
		return t_walk_dir(s, rel, depth + 1, fcb, ocb, arg);
	case MIG_FT_LINK:
		return ocb(arg, rel->p, "symbolic link in the payload refused");
	case MIG_FT_OTHER:
		break;
	}
	return ocb(arg, rel->p, "not a regular file");
}

/* Every file under data/; MIG_ERR_NOTFOUND when there is no data/. */
static int
t_walk(struct src *s, file_cb fcb, odd_cb ocb, void *arg)
{
	struct pbuf rel = { NULL, 0, 0 };
	struct mig_tstat st;
	char *path;
	int r;

	if ((path = t_join(s, "data")) == NULL)
		return mig_seterr(s->ctx, MIG_ERR_NOMEM, "out of memory");
	r = mig_transport_stat(s->t, path, &st);
	free(path);
	if (r == MIG_ERR_SECURITY)
		return t_refusal(s, "data", "data", r);
	if (r != 0)
		return r;
	if (st.type != MIG_FT_DIR)
		return mig_seterr(s->ctx, MIG_ERR_FORMAT, "%s/data: not a "
		    "directory", s->name);
	if (pbuf_set(&rel, 0, "data") != 0)
		return mig_seterr(s->ctx, MIG_ERR_NOMEM, "out of memory");
	r = t_walk_dir(s, &rel, 0, fcb, ocb, arg);
	free(rel.p);
	return r;
}

/* Opens rel for hashing; NOTFOUND when absent, FORMAT when refused. */
static int
t_open(struct src *s, const char *rel, struct mig_reader **rp)
{
	char *path;
	int r;

	*rp = NULL;
	if ((path = t_join(s, rel)) == NULL)
		return mig_seterr(s->ctx, MIG_ERR_NOMEM, "out of memory");
	if (any_name(s, path))
		r = mig_transport_file_open_read_any(s->t, path, rp);
	else
		r = mig_transport_open_read(s->t, path, rp);
	if (r != 0)
		r = t_refusal(s, rel, path, r);
	free(path);
	return r;
}

/* --- Validation -------------------------------------------------------- */

struct pent {
	char		*path;		/* "data/...", decoded */
	char		*key;		/* NFD form of path */
	unsigned char	*dig[NALG];	/* NULL: not in that manifest */
	int64_t		 known_size;	/* fetch.txt or opts->expect; -1 */
	bool		 in_fetch;
	bool		 found;
	bool		 odd;		/* the walk found no file by its name */
	bool		 tag;		/* 0.93-0.95: tag file in a manifest */
};

/* A 0.93/0.94 tag checksum file NAME.ALG. */
struct tcfile {
	char		*name;
	int		 alg;
};

struct val {
	struct src			*src;
	struct mig_ctx			*ctx;
	struct mig_bag_report		*rep;
	const struct mig_bag_validate_opts *opts;
	size_t				 max_findings;
	size_t				 cap_findings;
	int				 ver;		/* 93..97, 100 */
	bool				 decode;	/* %0A %0D %25 */
	bool				 utf8;		/* no conversion */
	bool				 every;		/* in every manifest */
	const char			*info_name;	/* bag- or package- */
	unsigned			 payload_mask;
	unsigned			 tag_mask;
	unsigned			 unsupported;	/* count */
	bool				 has_fetch;
	bool				 has_info;
	bool				 walked;	/* data/ was listed */
	unsigned			 tm_listed;	/* manifests in a TM */
	unsigned			 tcf_mask;	/* algs of tcf[] */
	struct tcfile			*tcf;
	size_t				 ntcf;
	struct pent			*pe;
	size_t				 npe;
	size_t				 cappe;
	struct mig_htab		 idx;
	EVP_MD				*md[NALG];
	EVP_MD_CTX			*mctx[NALG];
	unsigned char			*buf;
};

/*
 * Text as shown in findings: control characters as %XX, and in a path
 * (pct) '%' too.  NULL on ENOMEM.
 */
static char *
display_text(const char *text, bool pct)
{
	const unsigned char *p;
	size_t n = 0;
	char *out, *o;

	for (p = (const unsigned char *)text; *p != '\0'; p++)
		n += (*p < 0x20 || *p == 0x7f || (pct && *p == '%')) ? 3 : 1;
	if ((out = malloc(n + 1)) == NULL)
		return NULL;
	for (o = out, p = (const unsigned char *)text; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f || (pct && *p == '%')) {
			(void)snprintf(o, 4, "%%%02X", *p);
			o += 3;
		} else
			*o++ = (char)*p;
	}
	*o = '\0';
	return out;
}

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

static int
finding(struct val *v, enum mig_bag_kind kind, const char *path,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
finding(struct val *v, enum mig_bag_kind kind, const char *path,
    const char *fmt, ...)
{
	struct mig_bag_report *rep = v->rep;
	struct mig_bag_finding *f, *nf;
	char detail[1024];
	va_list ap;
	size_t ncap;

	rep->counts[kind]++;
	if (rep->nfindings >= v->max_findings) {
		rep->dropped++;
		return 0;
	}
	if (rep->nfindings == v->cap_findings) {
		ncap = v->cap_findings == 0 ? 16 : v->cap_findings * 2;
		if ((nf = realloc(rep->findings, ncap * sizeof(*nf))) == NULL)
			return mig_seterr(v->ctx, MIG_ERR_NOMEM,
			    "out of memory");
		rep->findings = nf;
		v->cap_findings = ncap;
	}
	va_start(ap, fmt);
	(void)vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	f = &rep->findings[rep->nfindings];
	f->kind = kind;
	f->path = display_text(path, true);
	/* A transport's message may hold a bag's name raw. */
	f->detail = display_text(detail, false);
	if (f->path == NULL || f->detail == NULL) {
		free(f->path);
		free(f->detail);
		return mig_seterr(v->ctx, MIG_ERR_NOMEM, "out of memory");
	}
	rep->nfindings++;
	return 0;
}

/*
 * Reads a tag file other than bagit.txt as UTF-8 text: converted from the
 * bag's encoding, a leading byte-order mark skipped (and, for UTF-8 in
 * 1.0, reported).  A file that cannot be decoded, or that the transport
 * refuses to read (a symbolic link, a FIFO), is a finding and reads as
 * empty.
 */
static int
read_tag(struct val *v, const char *rel, char **bufp, const char **textp,
    size_t *lenp)
{
	char *buf, *conv, err[256];
	size_t len, clen;
	int r;

	*bufp = NULL;
	*textp = "";
	*lenp = 0;
	r = t_read_all(v->src, rel, &buf, &len);
	if (r == MIG_ERR_FORMAT) {
		/* Refused (a link, not a regular file): reads as empty. */
		r = finding(v, MIG_BAG_FORMAT, rel, "%s", mig_errmsg(v->ctx));
		mig_clearerr(v->ctx);
		return r;
	}
	if (r != 0)
		return r;
	if (!v->utf8) {
		r = mig_bag_decode(v->rep->encoding, buf, len, &conv, &clen,
		    err, sizeof(err));
		free(buf);
		if (r == MIG_ERR_NOMEM)
			return mig_seterr(v->ctx, r, "out of memory");
		if (r != 0)
			return finding(v, MIG_BAG_FORMAT, rel, "not text in "
			    "the bag's encoding: %s", err);
		buf = conv;
		len = clen;
	}
	*bufp = buf;
	*textp = buf;
	*lenp = len;
	if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
		*textp = buf + 3;
		*lenp = len - 3;
		if (v->utf8 && v->ver >= 100 && (r = finding(v,
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
declaration_check(struct val *v, char *err, size_t errsz)
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

static int
declaration(struct val *v)
{
	struct mig_bag_report *rep = v->rep;
	const char *why;
	char *buf = NULL, err[256];
	size_t len;
	bool bom;
	int r;

	r = t_read_all(v->src, "bagit.txt", &buf, &len);
	if (r == MIG_ERR_NOTFOUND) {
		(void)finding(v, MIG_BAG_FORMAT, "bagit.txt", "missing: not a "
		    "bag");
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
		(void)finding(v, MIG_BAG_FORMAT, "bagit.txt", "%s", err);
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

	for (i = 0; i < NALG; i++)
		if (strlen(algs[i].name) == len &&
		    strncmp(algs[i].name, name, len) == 0)
			return (int)i;
	return -1;
}

/*
 * 0.93 and 0.94: NAME.ALG holds the checksum of tag file NAME ("tag
 * checksum file", draft-kunze-bagit-00 2.1).  Remembers it for checking.
 */
static int
tag_checksum_file(struct val *v, const char *name)
{
	const char *dot = strrchr(name, '.');
	struct tcfile *nt;
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

static int
top_entry(void *arg, const char *name)
{
	struct val *v = arg;
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
		return finding(v, MIG_BAG_FORMAT, name, "unsupported "
		    "algorithm; this manifest cannot be checked");
	}
	if (tag)
		v->tag_mask |= 1u << a;
	else
		v->payload_mask |= 1u << a;
	return 0;
}

static void
alg_list(unsigned mask, char *out, size_t outsz)
{
	size_t i, len = 0;

	out[0] = '\0';
	for (i = 0; i < NALG; i++) {
		if (!(mask & (1u << i)))
			continue;
		(void)snprintf(out + len, outsz - len, "%s%s",
		    len > 0 ? "," : "", algs[i].name);
		len = strlen(out);
	}
}

static int
info_item(void *arg, const char *label, const char *value)
{
	struct val *v = arg;
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
	struct val *v = arg;

	(void)finding(v, MIG_BAG_FORMAT, v->info_name, "line %zu: %s",
	    lineno, why);
}

static int
bag_info(struct val *v)
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

/* Finds or adds the entry for a decoded path; *idxp gets its index. */
static int
entry_get(struct val *v, const char *path, bool create, size_t *idxp,
    bool *existed)
{
	struct pent *np, *e;
	char *key;
	size_t klen, old;
	bool found;
	int r;

	*existed = false;
	if ((key = mig_bag_nfd(path, strlen(path), &klen)) == NULL)
		return mig_seterr(v->ctx, MIG_ERR_NOMEM, "out of memory");
	if (mig_htab_get(&v->idx, key, &old)) {
		free(key);
		*idxp = old;
		*existed = true;
		return 0;
	}
	if (!create) {
		free(key);
		return MIG_ERR_NOTFOUND;
	}
	if (v->npe == v->cappe) {
		size_t ncap = v->cappe == 0 ? 256 : v->cappe * 2;

		if ((np = realloc(v->pe, ncap * sizeof(*np))) == NULL) {
			free(key);
			return mig_seterr(v->ctx, MIG_ERR_NOMEM,
			    "out of memory");
		}
		v->pe = np;
		v->cappe = ncap;
	}
	e = &v->pe[v->npe];
	memset(e, 0, sizeof(*e));
	e->key = key;
	e->known_size = -1;
	if ((e->path = strdup(path)) == NULL) {
		free(key);
		return mig_seterr(v->ctx, MIG_ERR_NOMEM, "out of memory");
	}
	if ((r = mig_htab_put(&v->idx, e->key, v->npe, &found,
	    &old)) != 0) {
		free(e->path);
		free(key);
		return mig_seterr(v->ctx, MIG_ERR_NOMEM, "out of memory");
	}
	*idxp = v->npe++;
	return 0;
}

/* One well-formed line of a payload or tag manifest, or of fetch.txt. */
struct tag_line {
	const char	*tagfile;
	size_t		 lineno;
	const char	*path;		/* decoded, free of traversal */
	unsigned char	 digest[DMAX];	/* manifests */
	int64_t		 size;		/* fetch.txt: -1 when "-" */
};

typedef int (*tag_line_fn)(struct val *v, const struct tag_line *l, int a);

static int
line_finding(struct val *v, const struct tag_line *l, const char *why)
{
	char sbuf[512];

	return finding(v, MIG_BAG_FORMAT, l->tagfile, "line %zu: %s: %s",
	    l->lineno, shown(l->path, sbuf, sizeof(sbuf)), why);
}

/*
 * Parses every line of tagfile: a manifest of algorithm a, or fetch.txt
 * when a < 0.  A "./" before the path, and before 1.0 md5sum's '*' (and
 * in fetch.txt a leading '/'), are removed.  Lines that do not parse, and
 * paths that escape the bag, are findings; fn gets the rest.  Only hard
 * errors stop the walk.
 */
static int
each_tag_line(struct val *v, const char *tagfile, int a, tag_line_fn fn)
{
	struct mig_bag_lines it;
	struct tag_line l;
	const char *text, *line, *why;
	char *buf = NULL, *path = NULL;
	unsigned strip = 0;
	size_t len, n;
	int r;

	if ((r = read_tag(v, tagfile, &buf, &text, &len)) != 0)
		return r;
	if (v->ver < 100)
		strip = a < 0 ? MIG_BAG_STRIP_SLASH : MIG_BAG_STRIP_STAR;
	l.tagfile = tagfile;
	mig_bag_lines_init(&it, text, len);
	while (r == 0 && mig_bag_lines_next(&it, &line, &n)) {
		if (blank(line, n))
			continue;
		l.size = -1;
		if (a < 0)
			r = mig_bag_parse_fetch_line(line, n, v->decode,
			    &l.size, &path, &why);
		else
			r = mig_bag_parse_manifest_line(line, n, algs[a].dlen,
			    v->decode, l.digest, &path, &why);
		l.lineno = it.lineno;
		l.path = path != NULL ? mig_bag_path_strip(path, strip) : NULL;
		if (r == MIG_ERR_NOMEM)
			r = mig_seterr(v->ctx, r, "out of memory");
		else if (r != 0)
			r = finding(v, MIG_BAG_FORMAT, tagfile, "line %zu: %s",
			    it.lineno, why);
		else if ((why = mig_bag_path_problem(l.path,
		    strlen(l.path))) != NULL)
			r = line_finding(v, &l, why);
		else
			r = fn(v, &l, a);
		free(path);
		path = NULL;
	}
	free(buf);
	return r;
}

static int
payload_line(struct val *v, const struct tag_line *l, int a)
{
	size_t idx;
	bool existed;
	int r;

	if (strncmp(l->path, "data/", 5) != 0 && l->path[0] == '*' &&
	    strncmp(l->path + 1, "data/", 5) == 0)
		return line_finding(v, l, "'*' before the path (md5sum binary "
		    "mode) fails strict BagIt 1.0 validation (RFC 8493 6.1.3)");
	/* Up to 0.95 a payload manifest may list tag files too. */
	if (strncmp(l->path, "data/", 5) != 0 &&
	    (v->ver > 95 || strchr(l->path, '/') != NULL))
		return line_finding(v, l, "payload path not under data/");
	if ((r = entry_get(v, l->path, true, &idx, &existed)) != 0)
		return r;
	v->pe[idx].tag = strncmp(l->path, "data/", 5) != 0;
	if (v->pe[idx].dig[a] != NULL)
		return finding(v, MIG_BAG_FORMAT, l->tagfile, "line %zu: "
		    "duplicate entry for %s", l->lineno, l->path);
	if ((v->pe[idx].dig[a] = malloc(algs[a].dlen)) == NULL)
		return mig_seterr(v->ctx, MIG_ERR_NOMEM, "out of memory");
	memcpy(v->pe[idx].dig[a], l->digest, algs[a].dlen);
	return 0;
}

static int
payload_manifest(struct val *v, int a)
{
	char name[64];

	(void)snprintf(name, sizeof(name), "manifest-%s.txt", algs[a].name);
	return each_tag_line(v, name, a, payload_line);
}

static int
fetch_line(struct val *v, const struct tag_line *l, int a)
{
	size_t idx;
	bool existed;
	int r;

	(void)a;
	if (strncmp(l->path, "data/", 5) != 0)
		return line_finding(v, l, "fetched path not under data/");
	v->rep->fetch_entries++;
	r = entry_get(v, l->path, false, &idx, &existed);
	if (r == MIG_ERR_NOTFOUND)
		return finding(v, MIG_BAG_FORMAT, l->tagfile, "line %zu: %s "
		    "is in no payload manifest", l->lineno, l->path);
	if (r == 0) {
		v->pe[idx].in_fetch = true;
		if (l->size >= 0)
			v->pe[idx].known_size = l->size;
	}
	return r;
}

static int
fetch(struct val *v)
{
	return v->has_fetch ? each_tag_line(v, "fetch.txt", -1, fetch_line) :
	    0;
}

/* Hashes rel with every algorithm in mask; out[a] gets each digest. */
static int
hash_file(struct val *v, const char *rel, unsigned mask,
    unsigned char out[NALG][DMAX], uint64_t *nbytes)
{
	struct mig_reader *h = NULL;
	size_t n, a;
	uint64_t total = 0;
	int r;

	for (a = 0; a < NALG; a++)
		if ((mask & (1u << a)) &&
		    EVP_DigestInit_ex(v->mctx[a], v->md[a], NULL) != 1)
			return mig_seterr_ssl(v->ctx, MIG_ERR_CRYPTO, "%s",
			    algs[a].name);
	if ((r = t_open(v->src, rel, &h)) != 0)
		return r;
	for (;;) {
		if ((r = mig_reader_read(h, v->buf, MIG_BAG_READ_CHUNK,
		    &n)) != 0) {
			(void)mig_preferr(v->ctx, "%s", rel);
			goto out;
		}
		if (n == 0)
			break;
		total += n;
		for (a = 0; a < NALG; a++)
			if ((mask & (1u << a)) &&
			    EVP_DigestUpdate(v->mctx[a], v->buf, n) != 1) {
				r = mig_seterr_ssl(v->ctx, MIG_ERR_CRYPTO,
				    "%s", algs[a].name);
				goto out;
			}
	}
	for (a = 0; a < NALG; a++)
		if ((mask & (1u << a)) &&
		    EVP_DigestFinal_ex(v->mctx[a], out[a], NULL) != 1) {
			r = mig_seterr_ssl(v->ctx, MIG_ERR_CRYPTO, "%s",
			    algs[a].name);
			goto out;
		}
	*nbytes = total;
out:
	mig_reader_free(h);
	return r;
}

/*
 * An entry under data/ that is not a file or directory.  A manifest entry
 * of that name is missing, and not asked for again by name.
 */
static int
on_odd(void *arg, const char *rel, const char *what)
{
	struct val *v = arg;
	size_t idx;
	bool existed;
	int r;

	r = entry_get(v, rel, false, &idx, &existed);
	if (r == 0)
		v->pe[idx].odd = true;
	else if (r != MIG_ERR_NOTFOUND)
		return r;
	return finding(v, MIG_BAG_FORMAT, rel, "%s", what);
}

/* The payload manifests that list e. */
static unsigned
listed_mask(const struct val *v, const struct pent *e)
{
	unsigned mask = 0;
	size_t a;

	for (a = 0; a < NALG; a++)
		if ((v->payload_mask & (1u << a)) && e->dig[a] != NULL)
			mask |= 1u << a;
	return mask;
}

/*
 * Where every payload manifest must list every payload file (0.93, 0.94,
 * 1.0): a finding for each manifest not in mask.
 */
static int
not_listed(struct val *v, const char *rel, unsigned mask)
{
	size_t a;
	int r;

	if (!v->every)
		return 0;
	for (a = 0; a < NALG; a++)
		if ((v->payload_mask & ~mask & (1u << a)) &&
		    (r = finding(v, MIG_BAG_EXTRA, rel, "not listed in "
		    "manifest-%s.txt", algs[a].name)) != 0)
			return r;
	return 0;
}

/* The first digest of mask that differs, as the file's one finding. */
static int
payload_compare(struct val *v, const char *rel, const struct pent *e,
    unsigned mask, unsigned char got[NALG][DMAX], uint64_t nbytes)
{
	char ehex[2 * DMAX + 1], ghex[2 * DMAX + 1];
	size_t a;

	for (a = 0; a < NALG; a++) {
		if (!(mask & (1u << a)) ||
		    memcmp(got[a], e->dig[a], algs[a].dlen) == 0)
			continue;
		mig_hex_encode(e->dig[a], algs[a].dlen, ehex);
		mig_hex_encode(got[a], algs[a].dlen, ghex);
		if (e->known_size >= 0 && nbytes < (uint64_t)e->known_size)
			return finding(v, MIG_BAG_TRUNCATED, rel, "%llu bytes, "
			    "%lld expected; %s %s, expected %s",
			    (unsigned long long)nbytes,
			    (long long)e->known_size, algs[a].name, ghex,
			    ehex);
		return finding(v, MIG_BAG_ALTERED, rel, "%s %s, expected %s",
		    algs[a].name, ghex, ehex);
	}
	return 0;
}

/*
 * A payload file the walk found (size as listed), or one asked for by
 * name (size 0).  A file that is not there after all leaves e->found
 * false and makes no finding.
 */
static int
on_payload(void *arg, const char *rel, uint64_t size)
{
	struct val *v = arg;
	struct mig_bag_report *rep = v->rep;
	unsigned char got[NALG][DMAX];
	struct pent *e;
	uint64_t nbytes = 0;
	unsigned mask;
	size_t idx;
	bool existed;
	int r, hr;

	rep->payload_files++;
	rep->payload_bytes += size;
	r = entry_get(v, rel, false, &idx, &existed);
	if (r == MIG_ERR_NOTFOUND)
		return finding(v, MIG_BAG_EXTRA, rel, "not in any payload "
		    "manifest");
	if (r != 0)
		return r;
	e = &v->pe[idx];
	if (e->found)
		return finding(v, MIG_BAG_EXTRA, rel, "same name as %s up to "
		    "Unicode normalisation; only one is checked", e->path);
	mask = listed_mask(v, e);
	if ((hr = hash_file(v, rel, mask, got, &nbytes)) == MIG_ERR_NOTFOUND)
		return 0;	/* vanished meanwhile */
	e->found = true;
	if ((r = not_listed(v, rel, mask)) != 0)
		return r;
	if (hr == MIG_ERR_FORMAT) {
		/* A link or special file the source refused. */
		r = finding(v, MIG_BAG_FORMAT, rel, "%s", mig_errmsg(v->ctx));
		mig_clearerr(v->ctx);
		return r;
	}
	if (hr != 0)
		return hr;
	rep->files_hashed++;
	rep->bytes_hashed += nbytes;
	if ((r = payload_compare(v, rel, e, mask, got, nbytes)) != 0)
		return r;
	if (v->opts != NULL && v->opts->progress != NULL)
		v->opts->progress(v->opts->progress_arg, rep->files_hashed,
		    rep->bytes_hashed);
	return 0;
}

/*
 * Up to 0.95 a payload manifest may list tag files (0.93 and 0.94 in every
 * manifest, like payload files): each is checked with every algorithm
 * that lists it.
 */
static int
legacy_tag_entry(struct val *v, const struct pent *e)
{
	unsigned char got[NALG][DMAX];
	char ehex[2 * DMAX + 1], ghex[2 * DMAX + 1];
	unsigned mask = listed_mask(v, e);
	uint64_t nbytes;
	size_t a;
	int r;

	if ((r = not_listed(v, e->path, mask)) != 0)
		return r;
	r = hash_file(v, e->path, mask, got, &nbytes);
	if (r == MIG_ERR_NOTFOUND)
		return finding(v, MIG_BAG_MISSING, e->path, "listed in the "
		    "payload manifest, not in the bag");
	if (r == MIG_ERR_FORMAT) {
		r = finding(v, MIG_BAG_FORMAT, e->path, "%s",
		    mig_errmsg(v->ctx));
		mig_clearerr(v->ctx);
		return r;
	}
	for (a = 0; r == 0 && a < NALG; a++) {
		if (!(mask & (1u << a)) ||
		    memcmp(got[a], e->dig[a], algs[a].dlen) == 0)
			continue;
		mig_hex_encode(e->dig[a], algs[a].dlen, ehex);
		mig_hex_encode(got[a], algs[a].dlen, ghex);
		return finding(v, MIG_BAG_ALTERED, e->path, "%s %s, expected "
		    "%s (manifest-%s.txt)", algs[a].name, ghex, ehex,
		    algs[a].name);
	}
	return r;
}

/*
 * A payload file of the manifest that the listing left out, asked for by
 * name: a WebDAV server may serve names its listings hide (nginx's
 * dav_ext leaves dot-files out of PROPFIND).  An entry the walk saw as a
 * link or special file is not asked again, nor any when data/ could not
 * be listed.  e->found says whether it was there; it is then checked and
 * counted as the walk would have.
 */
static int
unlisted_entry(struct val *v, struct pent *e)
{
	struct mig_bag_report *rep = v->rep;
	uint64_t hashed = rep->bytes_hashed;
	int r;

	if (e->odd || !v->walked)
		return 0;
	r = on_payload(v, e->path, 0);
	if (e->found)
		rep->payload_bytes += rep->bytes_hashed - hashed;
	else
		rep->payload_files--;	/* not there after all */
	return r;
}

/* Payload-Oxum against what the walk counted. */
static int
oxum(struct val *v)
{
	struct mig_bag_report *rep = v->rep;
	const char *ox;
	uint64_t ob, of;
	size_t i, n = 0;
	int r;

	for (i = 0; i < rep->ninfo; i++)
		if (strcasecmp(rep->info[i].label, "Payload-Oxum") == 0)
			n++;
	if (n > 1 && v->ver >= 100 && (r = finding(v, MIG_BAG_FORMAT,
	    v->info_name, "Payload-Oxum given %zu times; RFC 8493 2.2.2 "
	    "allows one", n)) != 0)
		return r;
	if ((ox = mig_bag_report_info(rep, "Payload-Oxum")) == NULL)
		return 0;
	if (mig_bag_parse_oxum(ox, &ob, &of) != 0)
		return finding(v, MIG_BAG_FORMAT, v->info_name, "bad "
		    "Payload-Oxum \"%s\"", ox);
	if (ob != rep->payload_bytes || of != rep->payload_files)
		return finding(v, MIG_BAG_OXUM, v->info_name, "Payload-Oxum "
		    "%llu.%llu, payload has %llu bytes in %llu files",
		    (unsigned long long)ob, (unsigned long long)of,
		    (unsigned long long)rep->payload_bytes,
		    (unsigned long long)rep->payload_files);
	return 0;
}

static int
payload(struct val *v)
{
	size_t i;
	int r;

	r = t_walk(v->src, on_payload, on_odd, v);
	v->walked = r == 0;
	if (r == MIG_ERR_NOTFOUND || r == MIG_ERR_FORMAT) {
		if ((r = finding(v, MIG_BAG_FORMAT, "data", "%s", r ==
		    MIG_ERR_NOTFOUND ? "payload directory missing" :
		    mig_errmsg(v->ctx))) != 0)
			return r;
		mig_clearerr(v->ctx);
	} else if (r != 0)
		return r;
	for (i = 0; i < v->npe; i++) {
		if (v->pe[i].found)
			continue;
		if (v->pe[i].tag)
			r = legacy_tag_entry(v, &v->pe[i]);
		else if (v->pe[i].in_fetch)
			r = finding(v, MIG_BAG_FETCH, v->pe[i].path, "listed "
			    "in fetch.txt and not fetched: the bag is not "
			    "complete");
		else if ((r = unlisted_entry(v, &v->pe[i])) == 0 &&
		    !v->pe[i].found)
			r = finding(v, MIG_BAG_MISSING, v->pe[i].path,
			    "listed in the payload manifest, not in the bag");
		if (r != 0)
			return r;
	}
	return oxum(v);
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

static int
tag_line(struct val *v, const struct tag_line *l, int a)
{
	unsigned char got[NALG][DMAX];
	char ehex[2 * DMAX + 1], ghex[2 * DMAX + 1];
	uint64_t nbytes;
	int b, r;

	if (strncmp(l->path, "data/", 5) == 0)
		return line_finding(v, l, "payload file in a tag manifest");
	if (strcmp(l->path, l->tagfile) == 0)
		return line_finding(v, l, "a tag manifest cannot list itself");
	if (v->ver >= 100 && strncmp(l->path, "tagmanifest-", 12) == 0 &&
	    strchr(l->path, '/') == NULL)
		return line_finding(v, l, "a tag manifest must not list tag "
		    "manifests (RFC 8493 2.2.1)");
	if ((b = payload_manifest_alg(l->path)) >= 0)
		v->tm_listed |= 1u << b;
	r = hash_file(v, l->path, 1u << a, got, &nbytes);
	if (r == MIG_ERR_NOTFOUND)
		return finding(v, MIG_BAG_MISSING, l->path, "listed in %s, "
		    "not in the bag", l->tagfile);
	if (r == MIG_ERR_FORMAT) {
		r = finding(v, MIG_BAG_FORMAT, l->path, "%s",
		    mig_errmsg(v->ctx));
		mig_clearerr(v->ctx);
		return r;
	}
	if (r == 0 && memcmp(got[a], l->digest, algs[a].dlen) != 0) {
		mig_hex_encode(l->digest, algs[a].dlen, ehex);
		mig_hex_encode(got[a], algs[a].dlen, ghex);
		return finding(v, MIG_BAG_ALTERED, l->path, "%s %s, expected "
		    "%s (%s)", algs[a].name, ghex, ehex, l->tagfile);
	}
	return r;
}

/* A tag manifest; in 1.0 it must list every payload manifest. */
static int
tag_manifest(struct val *v, int a)
{
	char name[64], miss[64];
	unsigned left;
	int r;

	(void)snprintf(name, sizeof(name), "tagmanifest-%s.txt",
	    algs[a].name);
	v->tm_listed = 0;
	if ((r = each_tag_line(v, name, a, tag_line)) != 0)
		return r;
	left = v->payload_mask & ~v->tm_listed;
	if (v->ver >= 100 && left != 0) {
		alg_list(left, miss, sizeof(miss));
		r = finding(v, MIG_BAG_FORMAT, name, "does not list the "
		    "payload manifest for %s; RFC 8493 2.2.1 wants every one",
		    miss);
	}
	return r;
}

static int
cmp_finding(const void *a, const void *b)
{
	const struct mig_bag_finding *x = a, *y = b;
	int c = strcmp(x->path, y->path);

	if (c != 0)
		return c;
	if (x->kind != y->kind)
		return (int)x->kind - (int)y->kind;
	return strcmp(x->detail, y->detail);
}

/*
 * Sorts the findings and drops repeats: a tag file the transport refuses
 * to read is refused again when its tag manifest is checked.
 */
static void
sort_findings(struct mig_bag_report *rep)
{
	struct mig_bag_finding *f = rep->findings;
	size_t i, n = 0;

	if (rep->nfindings < 2)
		return;
	qsort(f, rep->nfindings, sizeof(*f), cmp_finding);
	for (i = 0; i < rep->nfindings; i++) {
		if (n > 0 && cmp_finding(&f[n - 1], &f[i]) == 0) {
			rep->counts[f[i].kind]--;
			free(f[i].path);
			free(f[i].detail);
			continue;
		}
		f[n++] = f[i];
	}
	rep->nfindings = n;
}

static void
known_sizes(struct val *v)
{
	uint64_t size;
	size_t i;

	if (v->opts == NULL || v->opts->expect == NULL)
		return;
	for (i = 0; i < v->npe; i++)
		if (mig_bag_manifest_lookup(v->opts->expect,
		    v->pe[i].path + 5, NULL, &size) && size <= INT64_MAX)
			v->pe[i].known_size = (int64_t)size;
}

static int
setup_digests(struct val *v)
{
	unsigned mask = v->payload_mask | v->tag_mask | v->tcf_mask;
	size_t a;

	for (a = 0; a < NALG; a++) {
		if (!(mask & (1u << a)))
			continue;
		v->md[a] = EVP_MD_fetch(NULL, algs[a].evp, NULL);
		v->mctx[a] = EVP_MD_CTX_new();
		if (v->md[a] == NULL || v->mctx[a] == NULL)
			return mig_seterr_ssl(v->ctx, MIG_ERR_CRYPTO,
			    "%s: digest %s unavailable", v->src->name,
			    algs[a].name);
	}
	if ((v->buf = malloc(MIG_BAG_READ_CHUNK)) == NULL)
		return mig_seterr(v->ctx, MIG_ERR_NOMEM, "out of memory");
	return 0;
}

static void
summary(struct val *v)
{
	static const enum mig_bag_kind order[] = {
		MIG_BAG_FORMAT, MIG_BAG_ALTERED, MIG_BAG_TRUNCATED,
		MIG_BAG_MISSING, MIG_BAG_EXTRA, MIG_BAG_FETCH, MIG_BAG_OXUM,
	};
	char msg[512];
	size_t i, len = 0;

	msg[0] = '\0';
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (v->rep->counts[order[i]] == 0)
			continue;
		(void)snprintf(msg + len, sizeof(msg) - len, "%s%zu %s",
		    len > 0 ? ", " : "", v->rep->counts[order[i]],
		    mig_bag_kind_name(order[i]));
		len = strlen(msg);
	}
	(void)mig_seterr(v->ctx, v->rep->counts[MIG_BAG_FORMAT] > 0 ?
	    MIG_ERR_FORMAT : MIG_ERR_VERIFY, "%s: bag is not valid: %s",
	    v->src->name, msg);
}

/* The checks, in the order the top of this file gives; 0 or a hard error. */
static int
check_bag(struct val *v)
{
	struct mig_bag_report *rep = v->rep;
	size_t i;
	int a, r;

	if ((r = declaration(v)) != 0 ||
	    (r = t_list_top(v->src, top_entry, v)) != 0)
		return r;
	alg_list(v->payload_mask, rep->payload_algs,
	    sizeof(rep->payload_algs));
	alg_list(v->tag_mask, rep->tag_algs, sizeof(rep->tag_algs));
	if (v->payload_mask == 0) {
		(void)finding(v, MIG_BAG_FORMAT, "", "no payload manifest "
		    "(manifest-ALG.txt) that can be checked");
		return mig_seterr(v->ctx, MIG_ERR_FORMAT, "%s: no payload "
		    "manifest that can be checked", v->src->name);
	}
	if ((r = setup_digests(v)) != 0 ||
	    (r = mig_htab_init(&v->idx, 1024)) != 0 ||
	    (r = bag_info(v)) != 0)
		return r;
	for (a = 0; a < (int)NALG; a++)
		if ((v->payload_mask & (1u << a)) &&
		    (r = payload_manifest(v, a)) != 0)
			return r;
	rep->manifest_entries = v->npe;
	if ((r = fetch(v)) != 0)
		return r;
	known_sizes(v);
	if ((r = payload(v)) != 0)
		return r;
	for (a = 0; a < (int)NALG; a++)
		if ((v->tag_mask & (1u << a)) && (r = tag_manifest(v, a)) != 0)
			return r;
	for (i = 0; i < v->ntcf; i++)
		if ((r = each_tag_line(v, v->tcf[i].name, v->tcf[i].alg,
		    tag_line)) != 0)
			return r;
	return 0;
}

/* 0, or by the findings FORMAT or VERIFY with a summary on the context. */
static int
verdict(struct val *v)
{
	struct mig_bag_report *rep = v->rep;
	size_t k;
	int r = 0;

	sort_findings(rep);
	for (k = 0; k < MIG_BAG_NKINDS; k++)
		if (rep->counts[k] > 0)
			r = MIG_ERR_VERIFY;
	if (rep->counts[MIG_BAG_FORMAT] > 0)
		r = MIG_ERR_FORMAT;
	if (r != 0)
		summary(v);
	return r;
}

static void
val_free(struct val *v)
{
	size_t i, k;

	for (i = 0; i < v->npe; i++) {
		free(v->pe[i].path);
		free(v->pe[i].key);
		for (k = 0; k < NALG; k++)
			free(v->pe[i].dig[k]);
	}
	free(v->pe);
	for (i = 0; i < v->ntcf; i++)
		free(v->tcf[i].name);
	free(v->tcf);
	mig_htab_free(&v->idx);
	for (k = 0; k < NALG; k++) {
		EVP_MD_CTX_free(v->mctx[k]);
		EVP_MD_free(v->md[k]);
	}
	free(v->buf);
}

static int
validate(struct src *s, const struct mig_bag_validate_opts *opts,
    struct mig_bag_report *rep, struct mig_ctx *ctx)
{
	struct val v;
	int r;

	memset(&v, 0, sizeof(v));
	v.src = s;
	v.ctx = ctx;
	v.rep = rep;
	v.opts = opts;
	v.max_findings = opts != NULL && opts->max_findings > 0 ?
	    opts->max_findings : MIG_BAG_FINDINGS_MAX;
	if ((r = check_bag(&v)) == 0)
		r = verdict(&v);
	if (r == MIG_ERR_NOMEM && mig_errcode(ctx) != MIG_ERR_NOMEM)
		(void)mig_seterr(ctx, r, "out of memory");
	/* A bag that could not be read still has its findings in order. */
	sort_findings(rep);
	val_free(&v);
	return r;
}

/* "file://DIR" with '%' escaped, as mig_url_parse() decodes it. */
static char *
file_url(const char *dir)
{
	static const char scheme[] = "file://";
	const char *p;
	size_t n = sizeof(scheme);
	char *url, *o;

	for (p = dir; *p != '\0'; p++)
		n += *p == '%' ? 3 : 1;
	if ((url = malloc(n)) == NULL)
		return NULL;
	memcpy(url, scheme, sizeof(scheme) - 1);
	o = url + sizeof(scheme) - 1;
	for (p = dir; *p != '\0'; p++) {
		if (*p == '%') {
			memcpy(o, "%25", 3);
			o += 3;
		} else
			*o++ = *p;
	}
	*o = '\0';
	return url;
}

/*
 * A local bag is read through the file transport like any other, so that
 * there is one walker: below dir it follows no symbolic link, and a link
 * or special file in the bag is a finding.  dir itself is the caller's
 * and may be reached through links.
 */
int
mig_bag_validate(const char *dir, const struct mig_bag_validate_opts *opts,
    struct mig_bag_report *rep, struct mig_ctx *ctx)
{
	struct mig_transport_config cfg;
	struct mig_transport *t = NULL;
	struct mig_tstat st;
	struct src s;
	char *url;
	int r;

	memset(rep, 0, sizeof(*rep));
	if (dir[0] == '\0')
		return mig_seterr(ctx, MIG_ERR_NOTFOUND, "empty bag directory "
		    "name");
	if ((url = file_url(dir)) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	memset(&cfg, 0, sizeof(cfg));
	cfg.url = url;
	r = mig_transport_open(&cfg, ctx, &t);
	free(url);
	/* The directory itself: missing is NOTFOUND, not "not a bag". */
	if (r != 0 || (r = mig_transport_stat(t, "", &st)) != 0)
		goto out;
	memset(&s, 0, sizeof(s));
	s.ctx = ctx;
	s.name = dir;
	s.t = t;
	s.any_names = true;
	r = validate(&s, opts, rep, ctx);
out:
	mig_transport_close(t);
	return r;
}

int
mig_bag_validate_t(struct mig_transport *t, const char *bagdir,
    const struct mig_bag_validate_opts *opts, struct mig_bag_report *rep,
    struct mig_ctx *ctx)
{
	struct src s;
	char *name;
	size_t n;
	int r;

	memset(rep, 0, sizeof(*rep));
	memset(&s, 0, sizeof(s));
	s.ctx = ctx;
	s.t = t;
	s.bagdir = bagdir;
	n = strlen(t->root != NULL ? t->root : "") +
	    strlen(bagdir != NULL ? bagdir : "") + 2;
	if ((name = malloc(n)) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	(void)snprintf(name, n, "%s/%s", t->root != NULL ? t->root : "",
	    bagdir != NULL ? bagdir : "");
	s.name = name;
	r = validate(&s, opts, rep, ctx);
	free(name);
	return r;
}

void
mig_bag_report_free(struct mig_bag_report *rep)
{
	size_t i;

	if (rep == NULL)
		return;
	for (i = 0; i < rep->nfindings; i++) {
		free(rep->findings[i].path);
		free(rep->findings[i].detail);
	}
	for (i = 0; i < rep->ninfo; i++) {
		free(rep->info[i].label);
		free(rep->info[i].value);
	}
	free(rep->findings);
	free(rep->info);
	memset(rep, 0, sizeof(*rep));
}

const char *
mig_bag_report_info(const struct mig_bag_report *rep, const char *label)
{
	size_t i;

	for (i = 0; i < rep->ninfo; i++)
		if (strcasecmp(rep->info[i].label, label) == 0)
			return rep->info[i].value;
	return NULL;
}

const char *
mig_bag_kind_name(enum mig_bag_kind kind)
{
	switch (kind) {
	case MIG_BAG_MISSING:	return "missing";
	case MIG_BAG_EXTRA:	return "extra";
	case MIG_BAG_ALTERED:	return "altered";
	case MIG_BAG_TRUNCATED:	return "truncated";
	case MIG_BAG_OXUM:	return "oxum";
	case MIG_BAG_FETCH:	return "fetch";
	case MIG_BAG_FORMAT:	return "format";
	case MIG_BAG_NKINDS:	break;
	}
	return "unknown";
}
