/*
 * BagIt writer: the payload manifest the run workers fill, and the tag
 * files written through a transport at the end of a run (RFC 8493
 * sections 2.1 and 2.2).
 */
#include <pthread.h>
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

struct pentry {
	char		*path;		/* relative to data/ */
	uint64_t	 size;
	unsigned char	 sha[32];
};

struct tentry {
	char		*path;		/* relative to the bag */
	bool		 has_sha;
	unsigned char	 sha[32];
};

struct mig_bag_manifest {
	pthread_mutex_t		 lock;
	/* manifest-sha256.txt already written (bagit_stream.c), and its sums */
	bool			 payload_set;
	unsigned char		 payload_sha[32];
	uint64_t		 payload_files, payload_bytes;
	struct pentry		*pe;
	size_t			 npe;
	size_t			 cappe;
	struct mig_htab	 pidx;	/* path -> index in pe */
	uint64_t		 bytes;
	struct tentry		*te;
	size_t			 nte;
	size_t			 capte;
};

/* The files mig_bag_write_tags() writes itself. */
static const char *const own_tags[] = {
	"bagit.txt", "bag-info.txt", "manifest-sha256.txt",
	"tagmanifest-sha256.txt",
};

struct mig_bag_manifest *
mig_bag_manifest_new(void)
{
	struct mig_bag_manifest *m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	if (pthread_mutex_init(&m->lock, NULL) != 0) {
		free(m);
		return NULL;
	}
	return m;
}

void
mig_bag_manifest_free(struct mig_bag_manifest *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->npe; i++)
		free(m->pe[i].path);
	for (i = 0; i < m->nte; i++)
		free(m->te[i].path);
	free(m->pe);
	free(m->te);
	mig_htab_free(&m->pidx);
	(void)pthread_mutex_destroy(&m->lock);
	free(m);
}

/* 64 hex digits, either case, and nothing after them; MIG_ERR_USAGE. */
static int
parse_sha256_hex(const char *hex, unsigned char out[32])
{
	if (hex == NULL || strlen(hex) != 64 ||
	    mig_hex_decode(hex, out, 32) != 0)
		return MIG_ERR_USAGE;
	return 0;
}

int
mig_bag_manifest_add_digest(struct mig_bag_manifest *m, const char *path,
    const unsigned char digest[32], uint64_t size, struct mig_ctx *ctx)
{
	struct pentry *np;
	const char *why;
	size_t idx, ncap;
	char *copy = NULL;
	bool found;
	int r;

	if ((why = mig_bag_path_problem(path, strlen(path))) != NULL)
		return mig_seterr(ctx, MIG_ERR_USAGE, "bag payload \"%s\": %s",
		    path, why);
	if ((copy = strdup(path)) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	(void)pthread_mutex_lock(&m->lock);
	if (m->npe == m->cappe) {
		ncap = m->cappe == 0 ? 64 : m->cappe * 2;
		if ((np = realloc(m->pe, ncap * sizeof(*np))) == NULL) {
			r = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
			goto out_unlock;
		}
		m->pe = np;
		m->cappe = ncap;
	}
	if ((r = mig_htab_put(&m->pidx, copy, m->npe, &found,
	    &idx)) != 0) {
		r = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_unlock;
	}
	if (found) {
		/* A re-stored object replaces its earlier entry. */
		m->bytes -= m->pe[idx].size;
		m->bytes += size;
		m->pe[idx].size = size;
		memcpy(m->pe[idx].sha, digest, 32);
		goto out_unlock;
	}
	m->pe[m->npe].path = copy;
	m->pe[m->npe].size = size;
	memcpy(m->pe[m->npe].sha, digest, 32);
	m->npe++;
	m->bytes += size;
	copy = NULL;
out_unlock:
	(void)pthread_mutex_unlock(&m->lock);
	free(copy);
	return r;
}

int
mig_bag_manifest_add(struct mig_bag_manifest *m, const char *path,
    const char *sha256_hex, uint64_t size, struct mig_ctx *ctx)
{
	unsigned char d[32];

	if (parse_sha256_hex(sha256_hex, d) != 0)
		return mig_seterr(ctx, MIG_ERR_USAGE, "bag payload \"%s\": "
		    "bad SHA-256 \"%s\"", path,
		    sha256_hex == NULL ? "(null)" : sha256_hex);
	return mig_bag_manifest_add_digest(m, path, d, size, ctx);
}

int
mig_bag_manifest_add_tagfile(struct mig_bag_manifest *m, const char *path,
    const char *sha256_hex, struct mig_ctx *ctx)
{
	struct tentry *nt;
	unsigned char d[32];
	const char *why;
	size_t i, ncap;
	char *copy;
	int r = 0;

	if ((why = mig_bag_path_problem(path, strlen(path))) != NULL)
		return mig_seterr(ctx, MIG_ERR_USAGE, "bag tag file \"%s\": %s",
		    path, why);
	if (strncmp(path, "data/", 5) == 0)
		return mig_seterr(ctx, MIG_ERR_USAGE, "bag tag file \"%s\": "
		    "tag files live outside data/", path);
	for (i = 0; i < sizeof(own_tags) / sizeof(own_tags[0]); i++)
		if (strcmp(path, own_tags[i]) == 0)
			return mig_seterr(ctx, MIG_ERR_USAGE, "bag tag file "
			    "\"%s\" is written by the bag writer", path);
	if (sha256_hex != NULL && parse_sha256_hex(sha256_hex, d) != 0)
		return mig_seterr(ctx, MIG_ERR_USAGE, "bag tag file \"%s\": "
		    "bad SHA-256", path);
	(void)pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->nte; i++)
		if (strcmp(m->te[i].path, path) == 0)
			break;
	if (i == m->nte) {
		if (m->nte == m->capte) {
			ncap = m->capte == 0 ? 4 : m->capte * 2;
			if ((nt = realloc(m->te, ncap * sizeof(*nt))) == NULL) {
				r = mig_seterr(ctx, MIG_ERR_NOMEM,
				    "out of memory");
				goto out_unlock;
			}
			m->te = nt;
			m->capte = ncap;
		}
		if ((copy = strdup(path)) == NULL) {
			r = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
			goto out_unlock;
		}
		m->te[i].path = copy;
		m->nte++;
	}
	m->te[i].has_sha = sha256_hex != NULL;
	if (sha256_hex != NULL)
		memcpy(m->te[i].sha, d, 32);
out_unlock:
	(void)pthread_mutex_unlock(&m->lock);
	return r;
}

void
mig_bag_manifest_totals(struct mig_bag_manifest *m, uint64_t *files,
    uint64_t *bytes)
{
	(void)pthread_mutex_lock(&m->lock);
	if (files != NULL)
		*files = m->npe;
	if (bytes != NULL)
		*bytes = m->bytes;
	(void)pthread_mutex_unlock(&m->lock);
}

bool
mig_bag_manifest_lookup(struct mig_bag_manifest *m, const char *path,
    unsigned char digest[32], uint64_t *size)
{
	size_t idx;
	bool found;

	(void)pthread_mutex_lock(&m->lock);
	found = mig_htab_get(&m->pidx, path, &idx);
	if (found && digest != NULL)
		memcpy(digest, m->pe[idx].sha, 32);
	if (found && size != NULL)
		*size = m->pe[idx].size;
	(void)pthread_mutex_unlock(&m->lock);
	return found;
}

/* --- Writing ----------------------------------------------------------- */

struct text {
	char	*p;
	size_t	 len;
	size_t	 cap;
	bool	 nomem;
};

static void
text_add(struct text *b, const char *s)
{
	size_t n = strlen(s), ncap;
	char *np;

	if (b->nomem)
		return;
	if (b->cap - b->len <= n) {
		ncap = b->cap == 0 ? 4096 : b->cap;
		while (ncap - b->len <= n) {
			if (ncap > SIZE_MAX / 2) {
				b->nomem = true;
				return;
			}
			ncap *= 2;
		}
		if ((np = realloc(b->p, ncap)) == NULL) {
			b->nomem = true;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n + 1);
	b->len += n;
}

static int
cmp_pentry(const void *a, const void *b)
{
	const struct pentry *x = *(const struct pentry *const *)a;
	const struct pentry *y = *(const struct pentry *const *)b;

	return strcmp(x->path, y->path);
}

struct tagsum {
	const char	*path;
	unsigned char	 sha[32];
};

static int
cmp_tagsum(const void *a, const void *b)
{
	const struct tagsum *x = a, *y = b;

	return strcmp(x->path, y->path);
}

void
mig_bag_manifest_set_payload(struct mig_bag_manifest *m,
    const unsigned char digest[32], uint64_t files, uint64_t bytes)
{
	m->payload_set = true;
	memcpy(m->payload_sha, digest, 32);
	m->payload_files = files;
	m->payload_bytes = bytes;
}

int
mig_bag_transport_err(struct mig_transport *t, struct mig_ctx *ctx, int r)
{
	if (t->ctx != ctx && t->ctx != NULL)
		(void)mig_seterr(ctx, r, "%s", mig_errmsg(t->ctx));
	return r;
}

/*
 * The tag files of a bag not yet published (mig_bag_info.unpublished) go
 * whole and in flight together (put_start), in place: over a WAN that is
 * one object's round trips for all of them, not one's each.
 */
#define TAG_PUTS_MAX	4

struct tag_puts {
	struct mig_transport	*t;
	char			*paths[TAG_PUTS_MAX];	/* tokens too */
	size_t			 n;
	size_t			 inflight;
	int			 err;		/* the first failure */
	char			 msg[MIG_ERRMSG_MAX];
};

/* Takes in one finished put (all: every one), keeping the first failure. */
static void
tag_puts_collect(struct tag_puts *tp, bool all)
{
	struct mig_put_done d;

	while (tp->inflight > 0 &&
	    mig_transport_put_next(tp->t, true, &d) == 1) {
		tp->inflight--;
		if (d.code != 0 && tp->err == 0) {
			tp->err = d.code;
			(void)snprintf(tp->msg, sizeof(tp->msg), "%s", d.msg);
		}
		if (!all)
			break;
	}
}

/* Every put in, and their paths freed: 0 or the first failure. */
static int
tag_puts_end(struct tag_puts *tp, struct mig_ctx *ctx)
{
	size_t i;

	tag_puts_collect(tp, true);
	for (i = 0; i < tp->n; i++)
		free(tp->paths[i]);
	tp->n = 0;
	if (tp->err != 0)
		return mig_seterr(ctx, tp->err, "%s", tp->msg);
	return 0;
}

/* b stays unchanged until tag_puts_end() when tp is not NULL. */
static int
put_tag(struct mig_transport *t, struct tag_puts *tp, const char *bagdir,
    const char *name, const struct text *b, unsigned char sha[32],
    struct mig_ctx *ctx)
{
	char *path;
	int r;

	if (EVP_Digest(b->p, b->len, sha, NULL, EVP_sha256(), NULL) != 1)
		return mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "%s: SHA-256", name);
	if ((path = mig_path_join(bagdir, name)) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	if (tp == NULL) {
		r = mig_transport_put(t, path, b->p, b->len);
		free(path);
		return r != 0 ? mig_bag_transport_err(t, ctx, r) : 0;
	}
	if (tp->n == TAG_PUTS_MAX) {
		free(path);
		return mig_seterr(ctx, MIG_ERR_INTERNAL, "%s: too many tag "
		    "files in flight", name);
	}
	if (tp->inflight == mig_transport_put_capacity(t))
		tag_puts_collect(tp, false);
	tp->paths[tp->n] = path;
	if ((r = mig_transport_put_start(t, path, b->p, b->len,
	    &tp->paths[tp->n])) != 0) {
		free(path);
		return mig_bag_transport_err(t, ctx, r);
	}
	tp->n++;
	tp->inflight++;
	return 0;
}

/* SHA-256 of BAGDIR/path read back through the transport. */
static int
hash_remote(struct mig_transport *t, const char *bagdir, const char *name,
    unsigned char sha[32], struct mig_ctx *ctx)
{
	struct mig_reader *rd = NULL;
	EVP_MD_CTX *md = NULL;
	unsigned char *buf = NULL;
	char *path = NULL;
	size_t n;
	int r;

	if ((path = mig_path_join(bagdir, name)) == NULL ||
	    (buf = malloc(MIG_BAG_READ_CHUNK)) == NULL ||
	    (md = EVP_MD_CTX_new()) == NULL) {
		r = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		r = mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "%s: SHA-256", name);
		goto out;
	}
	if ((r = mig_transport_open_read(t, path, &rd)) != 0) {
		r = mig_bag_transport_err(t, ctx, r);
		goto out;
	}
	for (;;) {
		if ((r = mig_reader_read(rd, buf, MIG_BAG_READ_CHUNK,
		    &n)) != 0) {
			r = mig_bag_transport_err(t, ctx, r);
			goto out;
		}
		if (n == 0)
			break;
		if (EVP_DigestUpdate(md, buf, n) != 1) {
			r = mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "%s: SHA-256",
			    name);
			goto out;
		}
	}
	if (EVP_DigestFinal_ex(md, sha, NULL) != 1)
		r = mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "%s: SHA-256", name);
out:
	mig_reader_free(rd);
	EVP_MD_CTX_free(md);
	free(buf);
	free(path);
	return r;
}

static int
check_info(const struct mig_bag_info *info, struct mig_ctx *ctx)
{
	const struct mig_bag_tag *tg;
	size_t i, n;

	for (i = 0; info != NULL && i < info->ntags; i++) {
		tg = &info->tags[i];
		if (tg->label == NULL || tg->value == NULL)
			return mig_seterr(ctx, MIG_ERR_USAGE,
			    "bag-info.txt: element %zu is incomplete", i);
		n = strlen(tg->label);
		if (n == 0 || strpbrk(tg->label, ":\r\n") != NULL ||
		    tg->label[0] == ' ' || tg->label[0] == '\t' ||
		    tg->label[n - 1] == ' ' || tg->label[n - 1] == '\t')
			return mig_seterr(ctx, MIG_ERR_USAGE,
			    "bag-info.txt: bad label \"%s\"", tg->label);
		if (strpbrk(tg->value, "\r\n") != NULL)
			return mig_seterr(ctx, MIG_ERR_USAGE,
			    "bag-info.txt: %s: line break in value",
			    tg->label);
	}
	return 0;
}

/* manifest-sha256.txt, sorted by path, into *man (empty when no payload). */
static int
render_manifest(const struct mig_bag_manifest *m, struct text *man,
    struct mig_ctx *ctx)
{
	const struct pentry **sorted;
	char hex[65], *enc;
	size_t i;

	if ((sorted = calloc(m->npe + 1, sizeof(*sorted))) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	for (i = 0; i < m->npe; i++)
		sorted[i] = &m->pe[i];
	if (m->npe > 1)
		qsort(sorted, m->npe, sizeof(*sorted), cmp_pentry);
	for (i = 0; i < m->npe; i++) {
		if ((enc = mig_bag_path_encode(sorted[i]->path)) == NULL) {
			man->nomem = true;
			break;
		}
		mig_hex_encode(sorted[i]->sha, 32, hex);
		text_add(man, hex);
		text_add(man, "  data/");
		text_add(man, enc);
		text_add(man, "\n");
		free(enc);
	}
	free(sorted);
	/* An empty payload still needs its manifest file. */
	if (man->p == NULL)
		text_add(man, "");
	if (man->nomem || man->p == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	return 0;
}

int
mig_bag_manifest_digest(const struct mig_bag_manifest *m, char hex[65],
    struct mig_ctx *ctx)
{
	struct text man = { 0 };
	unsigned char sha[32];
	int r;

	if (m->payload_set) {
		mig_hex_encode(m->payload_sha, 32, hex);
		return 0;
	}
	if ((r = render_manifest(m, &man, ctx)) == 0) {
		if (EVP_Digest(man.p, man.len, sha, NULL, EVP_sha256(),
		    NULL) != 1)
			r = mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "SHA-256");
		else
			mig_hex_encode(sha, 32, hex);
	}
	free(man.p);
	return r;
}

int
mig_bag_write_tags(struct mig_transport *t, const char *bagdir,
    const struct mig_bag_manifest *m, const struct mig_bag_info *info,
    struct mig_ctx *ctx)
{
	return mig_bag_write_tags_digest(t, bagdir, m, info, NULL, ctx);
}

/* bag-info.txt: the caller's elements in order, Payload-Oxum last. */
static void
render_info(const struct mig_bag_manifest *m, const struct mig_bag_info *info,
    struct text *b)
{
	char num[64];
	size_t i;

	for (i = 0; info != NULL && i < info->ntags; i++) {
		if (strcasecmp(info->tags[i].label, "Payload-Oxum") == 0)
			continue;
		text_add(b, info->tags[i].label);
		text_add(b, ": ");
		text_add(b, info->tags[i].value);
		text_add(b, "\n");
	}
	(void)snprintf(num, sizeof(num), "%llu.%llu",
	    (unsigned long long)(m->payload_set ? m->payload_bytes : m->bytes),
	    (unsigned long long)(m->payload_set ? m->payload_files : m->npe));
	text_add(b, "Payload-Oxum: ");
	text_add(b, num);
	text_add(b, "\n");
}

/* tagmanifest-sha256.txt of sums[0..n), sorted by path, into *b. */
static int
render_tagmanifest(struct tagsum *sums, size_t n, struct text *b,
    struct mig_ctx *ctx)
{
	char hex[65], *enc;
	size_t i;

	if (n > 1)
		qsort(sums, n, sizeof(*sums), cmp_tagsum);
	for (i = 0; i < n; i++) {
		if ((enc = mig_bag_path_encode(sums[i].path)) == NULL) {
			b->nomem = true;
			break;
		}
		mig_hex_encode(sums[i].sha, 32, hex);
		text_add(b, hex);
		text_add(b, "  ");
		text_add(b, enc);
		text_add(b, "\n");
		free(enc);
	}
	if (b->nomem || b->p == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	return 0;
}

int
mig_bag_write_tags_digest(struct mig_transport *t, const char *bagdir,
    const struct mig_bag_manifest *m, const struct mig_bag_info *info,
    char tagmanifest_hex[65], struct mig_ctx *ctx)
{
	struct text decl = { 0 }, binfo = { 0 }, man = { 0 }, tman = { 0 };
	const struct {
		const char	*name;
		struct text	*text;
	} own[] = {
		{ "manifest-sha256.txt", &man },
		{ "bag-info.txt", &binfo },
		{ "bagit.txt", &decl },
	};
	struct tagsum *sums = NULL;
	struct tag_puts puts = { .t = t }, *tp = NULL;
	unsigned char tsha[32];
	size_t i, nsums = 0;
	int r, r2;

	if ((r = check_info(info, ctx)) != 0)
		return r;
	if (info != NULL && info->unpublished)
		tp = &puts;
	if ((sums = calloc(m->nte + 3, sizeof(*sums))) == NULL) {
		r = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (bagdir != NULL && bagdir[0] != '\0' && strcmp(bagdir, ".") != 0 &&
	    (r = mig_transport_mkdir_p(t, bagdir)) != 0) {
		r = mig_bag_transport_err(t, ctx, r);
		goto out;
	}
	if (!m->payload_set && (r = render_manifest(m, &man, ctx)) != 0)
		goto out;
	render_info(m, info, &binfo);
	text_add(&decl, "BagIt-Version: 1.0\n"
	    "Tag-File-Character-Encoding: UTF-8\n");
	if (binfo.nomem || decl.nomem || binfo.p == NULL) {
		r = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < sizeof(own) / sizeof(own[0]); i++, nsums++) {
		sums[nsums].path = own[i].name;
		if (own[i].text == &man && m->payload_set)
			memcpy(sums[nsums].sha, m->payload_sha, 32);
		else if ((r = put_tag(t, tp, bagdir, own[i].name,
		    own[i].text, sums[nsums].sha, ctx)) != 0)
			goto out;
	}
	for (i = 0; i < m->nte; i++, nsums++) {
		sums[nsums].path = m->te[i].path;
		if (m->te[i].has_sha)
			memcpy(sums[nsums].sha, m->te[i].sha, 32);
		else if ((r = hash_remote(t, bagdir, m->te[i].path,
		    sums[nsums].sha, ctx)) != 0)
			goto out;
	}

	/* tagmanifest-sha256.txt last: it covers all of the above. */
	if ((r = render_tagmanifest(sums, nsums, &tman, ctx)) != 0)
		goto out;
	r = put_tag(t, tp, bagdir, "tagmanifest-sha256.txt", &tman, tsha, ctx);
out:
	/* What is in flight is taken in before its text goes. */
	if (tp != NULL && (r2 = tag_puts_end(tp, ctx)) != 0 && r == 0)
		r = r2;
	if (r == 0 && tagmanifest_hex != NULL)
		mig_hex_encode(tsha, 32, tagmanifest_hex);
	free(decl.p);
	free(binfo.p);
	free(man.p);
	free(tman.p);
	free(sums);
	return r;
}
