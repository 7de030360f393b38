/*
 * BagIt validation of the payload: every payload manifest into one hash
 * table keyed by the NFD form of the path (so NFC and NFD spellings of a
 * name match), fetch.txt, one walk of data/ hashing each file once for
 * every algorithm together, what was never found, and Payload-Oxum.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "migrate/bagit.h"
#include "migrate/error.h"
#include "migrate/stream.h"
#include "migrate/util.h"

#define MIG_BAGIT_INTERNAL
#include "bagit_int.h"
#include "bagit_validate_int.h"

/* Finds or adds the entry for a decoded path; *idxp gets its index. */
static int
entry_get(struct bagv *v, const char *path, bool create, size_t *idxp,
    bool *existed)
{
	struct bagv_entry *np, *e;
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

static int
payload_line(struct bagv *v, const struct bagv_line *l, int a)
{
	size_t idx;
	bool existed;
	int r;

	if (strncmp(l->path, "data/", 5) != 0 && l->path[0] == '*' &&
	    strncmp(l->path + 1, "data/", 5) == 0)
		return bagv_line_finding(v, l, "'*' before the path (md5sum "
		    "binary mode) fails strict BagIt 1.0 validation (RFC 8493 "
		    "6.1.3)");
	/* Up to 0.95 a payload manifest may list tag files too. */
	if (strncmp(l->path, "data/", 5) != 0 &&
	    (v->ver > 95 || strchr(l->path, '/') != NULL))
		return bagv_line_finding(v, l, "payload path not under data/");
	if ((r = entry_get(v, l->path, true, &idx, &existed)) != 0)
		return r;
	v->pe[idx].tag = strncmp(l->path, "data/", 5) != 0;
	if (v->pe[idx].dig[a] != NULL)
		return bagv_finding(v, MIG_BAG_FORMAT, l->tagfile, "line %zu: "
		    "duplicate entry for %s", l->lineno, l->path);
	if ((v->pe[idx].dig[a] = malloc(bagv_algs[a].dlen)) == NULL)
		return mig_seterr(v->ctx, MIG_ERR_NOMEM, "out of memory");
	memcpy(v->pe[idx].dig[a], l->digest, bagv_algs[a].dlen);
	return 0;
}

int
bagv_payload_manifest(struct bagv *v, int a)
{
	char name[64];

	(void)snprintf(name, sizeof(name), "manifest-%s.txt",
	    bagv_algs[a].name);
	return bagv_each_line(v, name, a, payload_line);
}

static int
fetch_line(struct bagv *v, const struct bagv_line *l, int a)
{
	size_t idx;
	bool existed;
	int r;

	(void)a;
	if (strncmp(l->path, "data/", 5) != 0)
		return bagv_line_finding(v, l, "fetched path not under data/");
	v->rep->fetch_entries++;
	r = entry_get(v, l->path, false, &idx, &existed);
	if (r == MIG_ERR_NOTFOUND)
		return bagv_finding(v, MIG_BAG_FORMAT, l->tagfile, "line %zu: "
		    "%s is in no payload manifest", l->lineno, l->path);
	if (r == 0) {
		v->pe[idx].in_fetch = true;
		if (l->size >= 0)
			v->pe[idx].known_size = l->size;
	}
	return r;
}

int
bagv_fetch(struct bagv *v)
{
	return v->has_fetch ? bagv_each_line(v, "fetch.txt", -1, fetch_line) :
	    0;
}

int
bagv_setup_digests(struct bagv *v)
{
	unsigned mask = v->payload_mask | v->tag_mask | v->tcf_mask;
	size_t a;

	for (a = 0; a < BAGV_NALG; a++) {
		if (!(mask & (1u << a)))
			continue;
		v->md[a] = EVP_MD_fetch(NULL, bagv_algs[a].evp, NULL);
		v->mctx[a] = EVP_MD_CTX_new();
		if (v->md[a] == NULL || v->mctx[a] == NULL)
			return mig_seterr_ssl(v->ctx, MIG_ERR_CRYPTO,
			    "%s: digest %s unavailable", v->src->name,
			    bagv_algs[a].name);
	}
	if ((v->buf = malloc(MIG_BAG_READ_CHUNK)) == NULL)
		return mig_seterr(v->ctx, MIG_ERR_NOMEM, "out of memory");
	return 0;
}

/* Hashes rel with every algorithm in mask; out[a] gets each digest. */
int
bagv_hash_file(struct bagv *v, const char *rel, unsigned mask,
    unsigned char out[BAGV_NALG][BAGV_DMAX], uint64_t *nbytes)
{
	struct mig_reader *h = NULL;
	size_t n, a;
	uint64_t total = 0;
	int r;

	for (a = 0; a < BAGV_NALG; a++)
		if ((mask & (1u << a)) &&
		    EVP_DigestInit_ex(v->mctx[a], v->md[a], NULL) != 1)
			return mig_seterr_ssl(v->ctx, MIG_ERR_CRYPTO, "%s",
			    bagv_algs[a].name);
	if ((r = bagv_open(v->src, rel, &h)) != 0)
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
		for (a = 0; a < BAGV_NALG; a++)
			if ((mask & (1u << a)) &&
			    EVP_DigestUpdate(v->mctx[a], v->buf, n) != 1) {
				r = mig_seterr_ssl(v->ctx, MIG_ERR_CRYPTO,
				    "%s", bagv_algs[a].name);
				goto out;
			}
	}
	for (a = 0; a < BAGV_NALG; a++)
		if ((mask & (1u << a)) &&
		    EVP_DigestFinal_ex(v->mctx[a], out[a], NULL) != 1) {
			r = mig_seterr_ssl(v->ctx, MIG_ERR_CRYPTO, "%s",
			    bagv_algs[a].name);
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
	struct bagv *v = arg;
	size_t idx;
	bool existed;
	int r;

	r = entry_get(v, rel, false, &idx, &existed);
	if (r == 0)
		v->pe[idx].odd = true;
	else if (r != MIG_ERR_NOTFOUND)
		return r;
	return bagv_finding(v, MIG_BAG_FORMAT, rel, "%s", what);
}

/* The payload manifests that list e. */
static unsigned
listed_mask(const struct bagv *v, const struct bagv_entry *e)
{
	unsigned mask = 0;
	size_t a;

	for (a = 0; a < BAGV_NALG; a++)
		if ((v->payload_mask & (1u << a)) && e->dig[a] != NULL)
			mask |= 1u << a;
	return mask;
}

/*
 * Where every payload manifest must list every payload file (0.93, 0.94,
 * 1.0): a finding for each manifest not in mask.
 */
static int
not_listed(struct bagv *v, const char *rel, unsigned mask)
{
	size_t a;
	int r;

	if (!v->every)
		return 0;
	for (a = 0; a < BAGV_NALG; a++)
		if ((v->payload_mask & ~mask & (1u << a)) &&
		    (r = bagv_finding(v, MIG_BAG_EXTRA, rel, "not listed in "
		    "manifest-%s.txt", bagv_algs[a].name)) != 0)
			return r;
	return 0;
}

/* The first digest of mask that differs, as the file's one finding. */
static int
payload_compare(struct bagv *v, const char *rel, const struct bagv_entry *e,
    unsigned mask, unsigned char got[BAGV_NALG][BAGV_DMAX], uint64_t nbytes)
{
	char ehex[2 * BAGV_DMAX + 1], ghex[2 * BAGV_DMAX + 1];
	size_t a;

	for (a = 0; a < BAGV_NALG; a++) {
		if (!(mask & (1u << a)) ||
		    memcmp(got[a], e->dig[a], bagv_algs[a].dlen) == 0)
			continue;
		mig_hex_encode(e->dig[a], bagv_algs[a].dlen, ehex);
		mig_hex_encode(got[a], bagv_algs[a].dlen, ghex);
		if (e->known_size >= 0 && nbytes < (uint64_t)e->known_size)
			return bagv_finding(v, MIG_BAG_TRUNCATED, rel, "%llu "
			    "bytes, %lld expected; %s %s, expected %s",
			    (unsigned long long)nbytes,
			    (long long)e->known_size, bagv_algs[a].name, ghex,
			    ehex);
		return bagv_finding(v, MIG_BAG_ALTERED, rel, "%s %s, expected "
		    "%s", bagv_algs[a].name, ghex, ehex);
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
	struct bagv *v = arg;
	struct mig_bag_report *rep = v->rep;
	unsigned char got[BAGV_NALG][BAGV_DMAX];
	struct bagv_entry *e;
	uint64_t nbytes = 0;
	unsigned mask;
	size_t idx;
	bool existed;
	int r, hr;

	rep->payload_files++;
	rep->payload_bytes += size;
	r = entry_get(v, rel, false, &idx, &existed);
	if (r == MIG_ERR_NOTFOUND)
		return bagv_finding(v, MIG_BAG_EXTRA, rel, "not in any payload "
		    "manifest");
	if (r != 0)
		return r;
	e = &v->pe[idx];
	if (e->found)
		return bagv_finding(v, MIG_BAG_EXTRA, rel, "same name as %s up "
		    "to Unicode normalisation; only one is checked", e->path);
	mask = listed_mask(v, e);
	hr = bagv_hash_file(v, rel, mask, got, &nbytes);
	if (hr == MIG_ERR_NOTFOUND)
		return 0;	/* vanished meanwhile */
	e->found = true;
	if ((r = not_listed(v, rel, mask)) != 0)
		return r;
	if (hr == MIG_ERR_FORMAT)
		return bagv_refused(v, rel);
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
legacy_tag_entry(struct bagv *v, const struct bagv_entry *e)
{
	unsigned char got[BAGV_NALG][BAGV_DMAX];
	char ehex[2 * BAGV_DMAX + 1], ghex[2 * BAGV_DMAX + 1];
	unsigned mask = listed_mask(v, e);
	uint64_t nbytes;
	size_t a;
	int r;

	if ((r = not_listed(v, e->path, mask)) != 0)
		return r;
	r = bagv_hash_file(v, e->path, mask, got, &nbytes);
	if (r == MIG_ERR_NOTFOUND)
		return bagv_finding(v, MIG_BAG_MISSING, e->path, "listed in "
		    "the payload manifest, not in the bag");
	if (r == MIG_ERR_FORMAT)
		return bagv_refused(v, e->path);
	for (a = 0; r == 0 && a < BAGV_NALG; a++) {
		if (!(mask & (1u << a)) ||
		    memcmp(got[a], e->dig[a], bagv_algs[a].dlen) == 0)
			continue;
		mig_hex_encode(e->dig[a], bagv_algs[a].dlen, ehex);
		mig_hex_encode(got[a], bagv_algs[a].dlen, ghex);
		return bagv_finding(v, MIG_BAG_ALTERED, e->path, "%s %s, "
		    "expected %s (manifest-%s.txt)", bagv_algs[a].name, ghex,
		    ehex, bagv_algs[a].name);
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
unlisted_entry(struct bagv *v, struct bagv_entry *e)
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
oxum(struct bagv *v)
{
	struct mig_bag_report *rep = v->rep;
	const char *ox;
	uint64_t ob, of;
	size_t i, n = 0;
	int r;

	for (i = 0; i < rep->ninfo; i++)
		if (strcasecmp(rep->info[i].label, "Payload-Oxum") == 0)
			n++;
	if (n > 1 && v->ver >= 100 && (r = bagv_finding(v, MIG_BAG_FORMAT,
	    v->info_name, "Payload-Oxum given %zu times; RFC 8493 2.2.2 "
	    "allows one", n)) != 0)
		return r;
	if ((ox = mig_bag_report_info(rep, "Payload-Oxum")) == NULL)
		return 0;
	if (mig_bag_parse_oxum(ox, &ob, &of) != 0)
		return bagv_finding(v, MIG_BAG_FORMAT, v->info_name, "bad "
		    "Payload-Oxum \"%s\"", ox);
	if (ob != rep->payload_bytes || of != rep->payload_files)
		return bagv_finding(v, MIG_BAG_OXUM, v->info_name,
		    "Payload-Oxum %llu.%llu, payload has %llu bytes in %llu "
		    "files",
		    (unsigned long long)ob, (unsigned long long)of,
		    (unsigned long long)rep->payload_bytes,
		    (unsigned long long)rep->payload_files);
	return 0;
}

int
bagv_payload(struct bagv *v)
{
	size_t i;
	int r;

	r = bagv_walk(v->src, on_payload, on_odd, v);
	v->walked = r == 0;
	if (r == MIG_ERR_NOTFOUND || r == MIG_ERR_FORMAT) {
		if ((r = bagv_finding(v, MIG_BAG_FORMAT, "data", "%s", r ==
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
			r = bagv_finding(v, MIG_BAG_FETCH, v->pe[i].path,
			    "listed in fetch.txt and not fetched: the bag is "
			    "not complete");
		else if ((r = unlisted_entry(v, &v->pe[i])) == 0 &&
		    !v->pe[i].found)
			r = bagv_finding(v, MIG_BAG_MISSING, v->pe[i].path,
			    "listed in the payload manifest, not in the bag");
		if (r != 0)
			return r;
	}
	return oxum(v);
}

void
bagv_known_sizes(struct bagv *v)
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
