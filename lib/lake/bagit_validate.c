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
 * This file holds that order, the findings and the report;
 * bagit_source.c reads the bag, bagit_tags.c the tag files,
 * bagit_payload.c the payload (bagit_validate_int.h).
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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "migrate/bagit.h"
#include "migrate/error.h"
#include "migrate/transport.h"
#include "migrate/util.h"

#define MIG_BAGIT_INTERNAL
#include "bagit_int.h"
#include "bagit_validate_int.h"

const struct bagv_alg bagv_algs[BAGV_NALG] = {
	{ "md5", "MD5", 16 },
	{ "sha1", "SHA1", 20 },
	{ "sha224", "SHA2-224", 28 },
	{ "sha256", "SHA2-256", 32 },
	{ "sha384", "SHA2-384", 48 },
	{ "sha512", "SHA2-512", 64 },
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

int
bagv_finding(struct bagv *v, enum mig_bag_kind kind, const char *path,
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

int
bagv_refused(struct bagv *v, const char *path)
{
	int r;

	r = bagv_finding(v, MIG_BAG_FORMAT, path, "%s", mig_errmsg(v->ctx));
	mig_clearerr(v->ctx);
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
summary(struct bagv *v)
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
check_bag(struct bagv *v)
{
	struct mig_bag_report *rep = v->rep;
	size_t i;
	int a, r;

	if ((r = bagv_declaration(v)) != 0 ||
	    (r = bagv_list_top(v->src, bagv_top_entry, v)) != 0)
		return r;
	bagv_alg_list(v->payload_mask, rep->payload_algs,
	    sizeof(rep->payload_algs));
	bagv_alg_list(v->tag_mask, rep->tag_algs, sizeof(rep->tag_algs));
	if (v->payload_mask == 0) {
		(void)bagv_finding(v, MIG_BAG_FORMAT, "", "no payload manifest "
		    "(manifest-ALG.txt) that can be checked");
		return mig_seterr(v->ctx, MIG_ERR_FORMAT, "%s: no payload "
		    "manifest that can be checked", v->src->name);
	}
	if ((r = bagv_setup_digests(v)) != 0 ||
	    (r = mig_htab_init(&v->idx, 1024)) != 0 ||
	    (r = bagv_bag_info(v)) != 0)
		return r;
	for (a = 0; a < (int)BAGV_NALG; a++)
		if ((v->payload_mask & (1u << a)) &&
		    (r = bagv_payload_manifest(v, a)) != 0)
			return r;
	rep->manifest_entries = v->npe;
	if ((r = bagv_fetch(v)) != 0)
		return r;
	bagv_known_sizes(v);
	if ((r = bagv_payload(v)) != 0)
		return r;
	for (a = 0; a < (int)BAGV_NALG; a++)
		if ((v->tag_mask & (1u << a)) &&
		    (r = bagv_tag_manifest(v, a)) != 0)
			return r;
	for (i = 0; i < v->ntcf; i++)
		if ((r = bagv_each_line(v, v->tcf[i].name, v->tcf[i].alg,
		    bagv_tag_line)) != 0)
			return r;
	return 0;
}

/* 0, or by the findings FORMAT or VERIFY with a summary on the context. */
static int
verdict(struct bagv *v)
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
val_free(struct bagv *v)
{
	size_t i, k;

	for (i = 0; i < v->npe; i++) {
		free(v->pe[i].path);
		free(v->pe[i].key);
		for (k = 0; k < BAGV_NALG; k++)
			free(v->pe[i].dig[k]);
	}
	free(v->pe);
	for (i = 0; i < v->ntcf; i++)
		free(v->tcf[i].name);
	free(v->tcf);
	mig_htab_free(&v->idx);
	for (k = 0; k < BAGV_NALG; k++) {
		EVP_MD_CTX_free(v->mctx[k]);
		EVP_MD_free(v->md[k]);
	}
	free(v->buf);
}

static int
validate(struct bagv_src *s, const struct mig_bag_validate_opts *opts,
    struct mig_bag_report *rep, struct mig_ctx *ctx)
{
	struct bagv v;
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
	struct bagv_src s;
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
	struct bagv_src s;
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
