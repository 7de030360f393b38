/*
 * What the s3 backend reads from the bucket: HEAD, for stat and for the
 * size of an object to read; ListObjectsV2 with delimiter '/', paginated
 * and parsed by expat, for list (a "directory" is a prefix with at least
 * one key); ranged GETs of READ_CHUNK bytes for open_read.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <expat.h>

#include "migrate/error.h"
#include "migrate/stream.h"
#include "migrate/transport.h"

#define MIG_TRANSPORT_INTERNAL
#include "s3_int.h"
#include "sigv4_int.h"

#define READ_CHUNK	(8 * (size_t)MIG_S3_MIB)
#define LIST_MAX	(16 * (size_t)MIG_S3_MIB)	/* one listing page */

/* ---------------------------------------------------------------------- */
/* ListObjectsV2 */

struct lentry {
	char		*name;
	struct mig_tstat st;
};

/* One page of a listing, parsed by expat. */
struct lparse {
	XML_Parser	 xp;
	const char	*lprefix;	/* the listing's prefix */
	size_t		 lplen;
	int		 in;		/* 0, 1 Contents, 2 CommonPrefixes */
	struct mig_s3_xtext text;
	char		 key[MIG_S3_KEY_MAX + 64];
	uint64_t	 size;
	time_t		 mtime;
	bool		 truncated;
	char		 token[MIG_S3_KEY_MAX + 64];
	struct lentry	*v;
	size_t		 n, cap;
	bool		 bad;
	bool		 self;		/* the prefix's own marker seen */
};

static void XMLCALL
lp_start(void *arg, const XML_Char *name, const XML_Char **atts)
{
	struct lparse *lp = arg;
	const char *n = mig_s3_xml_local(name);

	(void)atts;
	if (strcmp(n, "Contents") == 0) {
		lp->in = 1;
		lp->key[0] = '\0';
		lp->size = 0;
		lp->mtime = 0;
	} else if (strcmp(n, "CommonPrefixes") == 0) {
		lp->in = 2;
		lp->key[0] = '\0';
	}
	mig_s3_xtext_reset(&lp->text);
}

static void XMLCALL
lp_text(void *arg, const XML_Char *s, int len)
{
	struct lparse *lp = arg;

	mig_s3_xtext_add(&lp->text, s, len);
}

/* "2024-01-02T03:04:05.000Z" */
static time_t
iso_time(const char *s)
{
	struct tm tm;
	int y, mo, d, h, mi, sec;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi,
	    &sec) != 6)
		return 0;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	return timegm(&tm);
}

/* A key or prefix of the page as an entry of the listed directory. */
static void
lp_add(struct lparse *lp, const char *key, enum mig_ftype type)
{
	size_t kl = strlen(key), nl;
	struct lentry *nv;
	char *name;

	if (kl < lp->lplen || strncmp(key, lp->lprefix, lp->lplen) != 0) {
		lp->bad = true;
		return;
	}
	nl = kl - lp->lplen;
	if (type == MIG_FT_DIR && nl > 0 && key[kl - 1] == '/')
		nl--;
	/* The directory's own marker ("DIR/") is not an entry. */
	if (nl == 0) {
		lp->self = true;
		return;
	}
	if (memchr(key + lp->lplen, '/', nl) != NULL) {
		lp->bad = true;
		return;
	}
	if (lp->n == lp->cap) {
		size_t ncap = lp->cap == 0 ? 64 : lp->cap * 2;

		if ((nv = realloc(lp->v, ncap * sizeof(*nv))) == NULL) {
			lp->bad = true;
			return;
		}
		lp->v = nv;
		lp->cap = ncap;
	}
	if ((name = strndup(key + lp->lplen, nl)) == NULL) {
		lp->bad = true;
		return;
	}
	memset(&lp->v[lp->n], 0, sizeof(lp->v[lp->n]));
	lp->v[lp->n].name = name;
	lp->v[lp->n].st.type = type;
	lp->v[lp->n].st.size = type == MIG_FT_FILE ? lp->size : 0;
	lp->v[lp->n].st.mtime = lp->mtime;
	lp->n++;
}

static void XMLCALL
lp_end(void *arg, const XML_Char *name)
{
	struct lparse *lp = arg;
	const char *n = mig_s3_xml_local(name);
	char *end;

	if (lp->text.over) {
		lp->bad = true;
		return;
	}
	if (strcmp(n, "Key") == 0 && lp->in == 1)
		(void)snprintf(lp->key, sizeof(lp->key), "%s", lp->text.buf);
	else if (strcmp(n, "Prefix") == 0 && lp->in == 2)
		(void)snprintf(lp->key, sizeof(lp->key), "%s", lp->text.buf);
	else if (strcmp(n, "Size") == 0 && lp->in == 1) {
		errno = 0;
		lp->size = strtoull(lp->text.buf, &end, 10);
		if (errno != 0 || end == lp->text.buf || *end != '\0')
			lp->bad = true;
	} else if (strcmp(n, "LastModified") == 0 && lp->in == 1)
		lp->mtime = iso_time(lp->text.buf);
	else if (strcmp(n, "Contents") == 0) {
		lp_add(lp, lp->key, MIG_FT_FILE);
		lp->in = 0;
	} else if (strcmp(n, "CommonPrefixes") == 0) {
		lp_add(lp, lp->key, MIG_FT_DIR);
		lp->in = 0;
	} else if (strcmp(n, "IsTruncated") == 0 && lp->in == 0)
		lp->truncated = strcmp(lp->text.buf, "true") == 0;
	else if (strcmp(n, "NextContinuationToken") == 0 && lp->in == 0)
		(void)snprintf(lp->token, sizeof(lp->token), "%s",
		    lp->text.buf);
	mig_s3_xtext_reset(&lp->text);
}

static void
lp_free_entries(struct lparse *lp)
{
	size_t i;

	for (i = 0; i < lp->n; i++)
		free(lp->v[i].name);
	free(lp->v);
	lp->v = NULL;
	lp->n = lp->cap = 0;
}

/* Parses one page into lp (entries appended). */
static int
lp_parse(struct mig_s3 *s, struct lparse *lp, const unsigned char *body,
    size_t len, const char *what)
{
	int r;

	lp->truncated = false;
	lp->token[0] = '\0';
	lp->in = 0;
	r = mig_s3_xml_parse(body, len, lp, lp_start, lp_end, lp_text);
	if (r == MIG_ERR_NOMEM)
		return mig_seterr(s->ctx, r, "out of memory");
	if (r != 0 || lp->bad)
		return mig_seterr(s->ctx, MIG_ERR_FORMAT, "%s: the server's "
		    "listing is not a well-formed ListObjectsV2 answer", what);
	if (lp->truncated && lp->token[0] == '\0')
		return mig_seterr(s->ctx, MIG_ERR_FORMAT, "%s: a truncated "
		    "listing without a continuation token", what);
	return 0;
}

/*
 * Every entry directly under the full prefix pfx ("" or ending in '/'),
 * into lp.  max_keys 0: all of them, page by page.
 */
static int
list_prefix(struct mig_s3 *s, const char *pfx, int max_keys, struct lparse *lp,
    const char *what)
{
	struct mig_sigv4_kv q[5];
	struct mig_s3_req rq;
	char mk[16], token[sizeof(lp->token)];
	size_t nq;
	int r;

	memset(lp, 0, sizeof(*lp));
	lp->lprefix = pfx;
	lp->lplen = strlen(pfx);
	token[0] = '\0';
	(void)snprintf(mk, sizeof(mk), "%d", max_keys > 0 ? max_keys : 1000);
	do {
		nq = 0;
		q[nq++] = (struct mig_sigv4_kv){ "list-type", "2" };
		q[nq++] = (struct mig_sigv4_kv){ "delimiter", "/" };
		q[nq++] = (struct mig_sigv4_kv){ "prefix", pfx };
		q[nq++] = (struct mig_sigv4_kv){ "max-keys", mk };
		if (token[0] != '\0')
			q[nq++] = (struct mig_sigv4_kv){ "continuation-token",
			    token };
		memset(&rq, 0, sizeof(rq));
		rq.method = "GET";
		rq.query = q;
		rq.nquery = nq;
		rq.max = LIST_MAX;
		if ((r = mig_s3_request(s, &rq, what)) == 0)
			r = lp_parse(s, lp, rq.ans, rq.alen, what);
		free(rq.ans);
		if (r != 0)
			break;
		(void)snprintf(token, sizeof(token), "%s", lp->token);
	} while (max_keys == 0 && lp->truncated);
	if (r != 0)
		lp_free_entries(lp);
	return r;
}

int
mig_s3_probe(struct mig_s3 *s, const char *pfx, bool *foundp, const char *what)
{
	struct lparse lp;
	int r;

	*foundp = false;
	if ((r = list_prefix(s, pfx, 1, &lp, what)) != 0)
		return r;
	*foundp = lp.n > 0 || lp.self;
	lp_free_entries(&lp);
	return 0;
}

int
mig_s3_list(struct mig_transport *t, const char *dir, mig_list_cb cb, void *arg)
{
	struct mig_s3 *s = t->priv;
	struct lparse lp;
	char pfx[MIG_S3_KEY_MAX + 8], wbuf[2048];
	const char *what = mig_s3_where(s, dir, wbuf, sizeof(wbuf));
	size_t i;
	int r;

	if ((r = mig_s3_full_key(s, dir, dir[0] != '\0' ||
	    s->prefix[0] != '\0' ? "/" : "", pfx, sizeof(pfx))) != 0)
		return r;
	if ((r = list_prefix(s, pfx, 0, &lp, what)) != 0)
		return r;
	if (lp.n == 0 && !lp.self && dir[0] != '\0')
		r = mig_seterr(s->ctx, MIG_ERR_NOTFOUND, "%s: no such "
		    "directory", what);
	for (i = 0; r == 0 && i < lp.n; i++)
		r = cb(arg, lp.v[i].name, &lp.v[i].st);
	lp_free_entries(&lp);
	return r;
}

/* ---------------------------------------------------------------------- */
/* HEAD and stat */

int
mig_s3_head(struct mig_s3 *s, const char *key, struct mig_tstat *st,
    const char *what)
{
	struct mig_s3_req rq;
	curl_off_t ft = -1;
	int r;

	memset(&rq, 0, sizeof(rq));
	rq.method = "HEAD";
	rq.key = key;
	rq.max = MIG_S3_ERRBODY_MAX;
	if ((r = mig_s3_request(s, &rq, what)) == 0) {
		if (!s->x.have_clen)
			r = mig_seterr(s->ctx, MIG_ERR_NET, "%s: HEAD: no "
			    "Content-Length", what);
		st->type = MIG_FT_FILE;
		st->size = s->x.clen;
		(void)curl_easy_getinfo(s->x.easy, CURLINFO_FILETIME_T, &ft);
		st->mtime = ft > 0 ? (time_t)ft : 0;
	}
	free(rq.ans);
	return r;
}

int
mig_s3_stat(struct mig_transport *t, const char *path, struct mig_tstat *st)
{
	struct mig_s3 *s = t->priv;
	char key[MIG_S3_KEY_MAX + 8], wbuf[2048];
	const char *what = mig_s3_where(s, path, wbuf, sizeof(wbuf));
	bool found;
	int r;

	memset(st, 0, sizeof(*st));
	if (path[0] == '\0') {
		st->type = MIG_FT_DIR;	/* the root always is */
		return 0;
	}
	if ((r = mig_s3_full_key(s, path, "", key, sizeof(key))) != 0)
		return r;
	if ((r = mig_s3_head(s, key, st, what)) != MIG_ERR_NOTFOUND)
		return r;
	/* Not an object: a directory when some key lies under it. */
	mig_clearerr(s->ctx);
	if ((r = mig_s3_full_key(s, path, "/", key, sizeof(key))) != 0 ||
	    (r = mig_s3_probe(s, key, &found, what)) != 0)
		return r;
	if (!found)
		return mig_seterr(s->ctx, MIG_ERR_NOTFOUND, "%s: not found",
		    what);
	st->type = MIG_FT_DIR;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* open_read: ranged GETs */

struct s3r {
	struct mig_s3_stream	 link;
	char		 key[MIG_S3_KEY_MAX + 8];
	char		 what[2048];
	uint64_t	 size;		/* from the HEAD */
	uint64_t	 pos;		/* next byte to fetch */
	unsigned char	*buf;		/* the current range */
	size_t		 len, off;
};

/* The next range, [pos, pos + READ_CHUNK), exactly as long as asked. */
static int
fetch_range(struct mig_s3 *s, struct s3r *rd)
{
	struct mig_sigv4_kv h[1];
	struct mig_s3_req rq;
	char range[64];
	uint64_t want = rd->size - rd->pos < READ_CHUNK ?
	    rd->size - rd->pos : READ_CHUNK;
	int r;

	(void)snprintf(range, sizeof(range), "bytes=%llu-%llu",
	    (unsigned long long)rd->pos,
	    (unsigned long long)(rd->pos + want - 1));
	h[0] = (struct mig_sigv4_kv){ "range", range };
	memset(&rq, 0, sizeof(rq));
	rq.method = "GET";
	rq.key = rd->key;
	rq.hdrs = h;
	rq.nhdrs = 1;
	rq.max = READ_CHUNK;
	if ((r = mig_s3_request(s, &rq, rd->what)) == 0 &&
	    ((rq.status != 206 && !(rq.status == 200 && rd->pos == 0 &&
	    want == rd->size)) || rq.alen != want)) {
		/* Changed under us, or a server that ignores Range. */
		r = mig_seterr(s->ctx, MIG_ERR_NET, "%s: GET %s: %zu bytes "
		    "(HTTP %ld) where %llu were due", rd->what, range, rq.alen,
		    rq.status, (unsigned long long)want);
	}
	if (r != 0) {
		free(rq.ans);
		return r;
	}
	free(rd->buf);
	rd->buf = rq.ans;
	rd->len = rq.alen;
	rd->off = 0;
	rd->pos += want;
	return 0;
}

static int
r_read(struct mig_reader *mr, void *buf, size_t cap, size_t *nread)
{
	struct s3r *rd = mr->priv;
	struct mig_s3 *s = rd->link.s;
	size_t n;
	int r;

	*nread = 0;
	if (s == NULL)
		return mig_s3_stream_gone(mr->ctx, rd->key);
	if (rd->off == rd->len) {
		if (rd->pos == rd->size)
			return 0;
		if ((r = fetch_range(s, rd)) != 0)
			return r;
	}
	n = rd->len - rd->off < cap ? rd->len - rd->off : cap;
	memcpy(buf, rd->buf + rd->off, n);
	rd->off += n;
	*nread = n;
	return 0;
}

static void
r_free(struct mig_reader *mr)
{
	struct s3r *rd = mr->priv;

	if (rd == NULL)
		return;
	mig_s3_stream_unlink(&rd->link);
	free(rd->buf);
	free(rd);
	mr->priv = NULL;
}

static const struct mig_reader_ops r_ops = {
	.name = "s3",
	.read = r_read,
	.free = r_free,
};

int
mig_s3_open_read(struct mig_transport *t, const char *path,
    struct mig_reader **rp)
{
	struct mig_s3 *s = t->priv;
	struct mig_reader *mr;
	struct mig_tstat st;
	struct s3r *rd;
	int r;

	*rp = NULL;
	if ((rd = calloc(1, sizeof(*rd))) == NULL)
		return mig_seterr(s->ctx, MIG_ERR_NOMEM, "out of memory");
	(void)mig_s3_where(s, path, rd->what, sizeof(rd->what));
	if ((r = mig_s3_full_key(s, path, "", rd->key, sizeof(rd->key))) != 0 ||
	    (r = mig_s3_head(s, rd->key, &st, rd->what)) != 0) {
		free(rd);
		return r;
	}
	rd->size = st.size;
	if ((mr = mig_reader_new(&r_ops, rd, NULL, s->ctx)) == NULL) {
		free(rd);
		return mig_seterr(s->ctx, MIG_ERR_NOMEM, "out of memory");
	}
	mig_s3_stream_link(s, &rd->link);
	*rp = mr;
	return 0;
}
