/*
 * AWS Signature Version 4, from its definition:
 *
 *   CanonicalRequest = METHOD \n URI \n QUERY \n HEADERS \n \n SIGNED \n HASH
 *   StringToSign     = "AWS4-HMAC-SHA256" \n DATE \n SCOPE \n hex(SHA256(CR))
 *   SigningKey       = HMAC(HMAC(HMAC(HMAC("AWS4" secret, day), region),
 *                        service), "aws4_request")
 *   Signature        = hex(HMAC(SigningKey, StringToSign))
 *
 * S3 flavour: the path is encoded once and not normalised (object keys
 * may hold "//" or "." and mean them).  Checked against AWS's published
 * SigV4 test suite in tests/unit/test_sigv4.c.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "migrate/error.h"
#include "migrate/stream.h"
#include "migrate/util.h"

#define MIG_TRANSPORT_INTERNAL
#include "sigv4_int.h"

#define ALGO		"AWS4-HMAC-SHA256"
#define HDR_MAX		32	/* headers one request signs */

/* A growing string; on ENOMEM it stays failed and the caller checks. */
struct sb {
	char	*p;
	size_t	 len, cap;
	bool	 fail;
};

static void
sb_addn(struct sb *b, const char *s, size_t n)
{
	size_t ncap;
	char *np;

	if (b->fail)
		return;
	if (b->cap - b->len <= n) {
		ncap = b->cap == 0 ? 256 : b->cap;
		while (ncap - b->len <= n)
			ncap *= 2;
		if ((np = realloc(b->p, ncap)) == NULL) {
			b->fail = true;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_add(struct sb *b, const char *s)
{
	sb_addn(b, s, strlen(s));
}

/* Appends s URI-encoded (see mig_sigv4_encode). */
static void
sb_enc(struct sb *b, const char *s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;
	char e[3];

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
		    *p == '.' || *p == '~' || (keep_slash && *p == '/')) {
			sb_addn(b, (const char *)p, 1);
			continue;
		}
		e[0] = '%';
		e[1] = hex[*p >> 4];
		e[2] = hex[*p & 15];
		sb_addn(b, e, 3);
	}
}

static int
sb_take(struct sb *b, char **outp)
{
	if (b->fail || b->p == NULL) {
		free(b->p);
		return MIG_ERR_NOMEM;
	}
	*outp = b->p;
	return 0;
}

bool
mig_sigv4_encode(const char *s, bool keep_slash, char *out, size_t cap,
    size_t *olen)
{
	struct sb b = { NULL, 0, 0, false };
	bool ok;

	sb_enc(&b, s, keep_slash);
	ok = !b.fail && cap > *olen && cap - *olen > b.len;
	if (ok) {
		memcpy(out + *olen, b.p != NULL ? b.p : "", b.len + 1);
		*olen += b.len;
	}
	free(b.p);
	return ok;
}

/* One encoded parameter, for sorting. */
struct qp {
	char	*name, *value;
};

static int
qp_cmp(const void *a, const void *b)
{
	const struct qp *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c != 0 ? c : strcmp(x->value, y->value);
}

int
mig_sigv4_query(const struct mig_sigv4_kv *q, size_t n, char **outp)
{
	struct qp *v = NULL;
	struct sb b = { NULL, 0, 0, false }, e;
	size_t i, made = 0;
	int r = MIG_ERR_NOMEM;

	*outp = NULL;
	if (n > 0 && (v = calloc(n, sizeof(*v))) == NULL)
		return MIG_ERR_NOMEM;
	for (made = 0; made < n; made++) {
		memset(&e, 0, sizeof(e));
		sb_enc(&e, q[made].name, false);
		sb_add(&e, "");
		if (sb_take(&e, &v[made].name) != 0)
			goto out;
		memset(&e, 0, sizeof(e));
		sb_enc(&e, q[made].value != NULL ? q[made].value : "", false);
		sb_add(&e, "");
		if (sb_take(&e, &v[made].value) != 0) {
			free(v[made].name);
			goto out;
		}
	}
	if (n > 0)
		qsort(v, n, sizeof(*v), qp_cmp);
	sb_add(&b, "");
	for (i = 0; i < n; i++) {
		if (i > 0)
			sb_add(&b, "&");
		sb_add(&b, v[i].name);
		sb_add(&b, "=");
		sb_add(&b, v[i].value);
	}
	r = sb_take(&b, outp);
out:
	for (i = 0; i < made; i++) {
		free(v[i].name);
		free(v[i].value);
	}
	free(v);
	return r;
}

/* A header, lower-cased name and trimmed value, for sorting. */
struct hd {
	char		 name[64];
	const char	*value;
	size_t		 vlen;
};

static int
hd_cmp(const void *a, const void *b)
{
	return strcmp(((const struct hd *)a)->name,
	    ((const struct hd *)b)->name);
}

/* The signed headers, sorted; -1 on a bad or overlong list. */
static int
sorted_headers(const struct mig_sigv4_req *rq, struct hd *h)
{
	size_t i, j;
	const char *v;

	if (rq->nhdrs > HDR_MAX)
		return -1;
	for (i = 0; i < rq->nhdrs; i++) {
		if (strlen(rq->hdrs[i].name) >= sizeof(h[i].name))
			return -1;
		for (j = 0; rq->hdrs[i].name[j] != '\0'; j++) {
			char c = rq->hdrs[i].name[j];

			h[i].name[j] = (char)(c >= 'A' && c <= 'Z' ?
			    c - 'A' + 'a' : c);
		}
		h[i].name[j] = '\0';
		v = rq->hdrs[i].value != NULL ? rq->hdrs[i].value : "";
		while (*v == ' ' || *v == '\t')
			v++;
		h[i].value = v;
		h[i].vlen = strlen(v);
		while (h[i].vlen > 0 && (v[h[i].vlen - 1] == ' ' ||
		    v[h[i].vlen - 1] == '\t'))
			h[i].vlen--;
	}
	qsort(h, rq->nhdrs, sizeof(*h), hd_cmp);
	return 0;
}

/* The value with runs of spaces as one (the canonical form). */
static void
sb_value(struct sb *b, const char *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (v[i] == ' ' && i > 0 && v[i - 1] == ' ')
			continue;
		sb_addn(b, v + i, 1);
	}
}

/* "host;x-amz-date" of the sorted headers. */
static void
sb_signed(struct sb *b, const struct hd *h, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (i > 0)
			sb_add(b, ";");
		sb_add(b, h[i].name);
	}
}

int
mig_sigv4_canonical_request(const struct mig_sigv4_req *rq, char **outp)
{
	struct hd h[HDR_MAX];
	struct sb b = { NULL, 0, 0, false };
	char *q = NULL;
	size_t i;
	int r;

	*outp = NULL;
	if (sorted_headers(rq, h) != 0)
		return MIG_ERR_USAGE;
	if ((r = mig_sigv4_query(rq->query, rq->nquery, &q)) != 0)
		return r;
	sb_add(&b, rq->method);
	sb_add(&b, "\n");
	sb_enc(&b, rq->path[0] != '\0' ? rq->path : "/", true);
	sb_add(&b, "\n");
	sb_add(&b, q);
	sb_add(&b, "\n");
	for (i = 0; i < rq->nhdrs; i++) {
		sb_add(&b, h[i].name);
		sb_add(&b, ":");
		sb_value(&b, h[i].value, h[i].vlen);
		sb_add(&b, "\n");
	}
	sb_add(&b, "\n");
	sb_signed(&b, h, rq->nhdrs);
	sb_add(&b, "\n");
	sb_add(&b, rq->payload_sha256);
	free(q);
	return sb_take(&b, outp);
}

/* "YYYYMMDD/REGION/SERVICE/aws4_request" */
static void
sb_scope(struct sb *b, const struct mig_sigv4_req *rq)
{
	sb_addn(b, rq->amz_date, 8);
	sb_add(b, "/");
	sb_add(b, rq->region);
	sb_add(b, "/");
	sb_add(b, rq->service);
	sb_add(b, "/aws4_request");
}

int
mig_sigv4_string_to_sign(const struct mig_sigv4_req *rq, char **outp)
{
	struct sb b = { NULL, 0, 0, false };
	unsigned char md[32];
	char hex[65], *creq = NULL;
	int r;

	*outp = NULL;
	if (strlen(rq->amz_date) != 16)
		return MIG_ERR_USAGE;
	if ((r = mig_sigv4_canonical_request(rq, &creq)) != 0)
		return r;
	if (EVP_Digest(creq, strlen(creq), md, NULL, EVP_sha256(), NULL) !=
	    1) {
		free(creq);
		return MIG_ERR_CRYPTO;
	}
	free(creq);
	mig_hex_encode(md, sizeof(md), hex);
	sb_add(&b, ALGO "\n");
	sb_add(&b, rq->amz_date);
	sb_add(&b, "\n");
	sb_scope(&b, rq);
	sb_add(&b, "\n");
	sb_add(&b, hex);
	return sb_take(&b, outp);
}

/* out = HMAC-SHA256(key, msg); 0 or MIG_ERR_CRYPTO. */
static int
hmac(const unsigned char *key, size_t klen, const char *msg, size_t mlen,
    unsigned char out[32])
{
	size_t olen = 0;

	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, klen,
	    (const unsigned char *)msg, mlen, out, 32, &olen) == NULL ||
	    olen != 32)
		return MIG_ERR_CRYPTO;
	return 0;
}

/* The signing key of the day, region and service; wiped by the caller. */
static int
signing_key(const struct mig_sigv4_req *rq, const char *secret,
    size_t slen, unsigned char key[32])
{
	unsigned char *k0;
	int r;

	if ((k0 = malloc(slen + 4)) == NULL)
		return MIG_ERR_NOMEM;
	memcpy(k0, "AWS4", 4);
	memcpy(k0 + 4, secret, slen);
	if ((r = hmac(k0, slen + 4, rq->amz_date, 8, key)) == 0 &&
	    (r = hmac(key, 32, rq->region, strlen(rq->region), key)) == 0 &&
	    (r = hmac(key, 32, rq->service, strlen(rq->service), key)) == 0)
		r = hmac(key, 32, "aws4_request", 12, key);
	OPENSSL_cleanse(k0, slen + 4);
	free(k0);
	return r;
}

int
mig_sigv4_authorization(const struct mig_sigv4_req *rq,
    const char *access_key, const char *secret, size_t secret_len,
    char **outp)
{
	struct hd h[HDR_MAX];
	struct sb b = { NULL, 0, 0, false };
	unsigned char key[32], sig[32];
	char hex[65], *sts = NULL;
	int r;

	*outp = NULL;
	if (sorted_headers(rq, h) != 0)
		return MIG_ERR_USAGE;
	if ((r = mig_sigv4_string_to_sign(rq, &sts)) != 0)
		return r;
	if ((r = signing_key(rq, secret, secret_len, key)) == 0)
		r = hmac(key, sizeof(key), sts, strlen(sts), sig);
	OPENSSL_cleanse(key, sizeof(key));
	free(sts);
	if (r != 0)
		return r;
	mig_hex_encode(sig, sizeof(sig), hex);
	sb_add(&b, ALGO " Credential=");
	sb_add(&b, access_key);
	sb_add(&b, "/");
	sb_scope(&b, rq);
	sb_add(&b, ", SignedHeaders=");
	sb_signed(&b, h, rq->nhdrs);
	sb_add(&b, ", Signature=");
	sb_add(&b, hex);
	return sb_take(&b, outp);
}
