/*
 * The requests of the s3 backend, each on a lane (an easy handle and the
 * context its errors go to; s3_int.h): the transport's own for most, one
 * per thread for the parts of an upload.  Each is signed with Signature
 * V4 (sigv4.c) and the real SHA-256 of its body in x-amz-content-sha256,
 * so the server checks every byte; body and answer both in memory, so a
 * failed request is replayed whole.  Nothing here writes to struct
 * mig_s3: threads share it.  S3's error answers become MIG_ERR_* here;
 * curl's codes in curl_xfer.c.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "migrate/error.h"
#include "migrate/transport.h"
#include "migrate/util.h"

#define MIG_TRANSPORT_INTERNAL
#include "curl_xfer_int.h"
#include "s3_int.h"
#include "scrub_int.h"
#include "sigv4_int.h"

#define URL_MAX		8192
#define NAP_MS		100	/* a cancel is seen within this, retrying */

/* ---------------------------------------------------------------------- */
/* Keys and names */

int
mig_s3_full_key(struct mig_s3 *s, const char *path, const char *suffix,
    char *out, size_t cap)
{
	int n;

	if (s->prefix[0] == '\0' && path[0] == '\0')
		n = snprintf(out, cap, "%s", suffix);
	else if (s->prefix[0] == '\0')
		n = snprintf(out, cap, "%s%s", path, suffix);
	else if (path[0] == '\0')
		n = snprintf(out, cap, "%s%s", s->prefix, suffix);
	else
		n = snprintf(out, cap, "%s/%s%s", s->prefix, path, suffix);
	if (n < 0 || (size_t)n >= cap || (size_t)n > MIG_S3_KEY_MAX)
		return mig_seterr(s->ctx, MIG_ERR_USAGE, "%s: %s: object key "
		    "longer than S3's %d bytes", s->t->root, path,
		    MIG_S3_KEY_MAX);
	return 0;
}

const char *
mig_s3_where(struct mig_s3 *s, const char *path, char *buf, size_t cap)
{
	(void)snprintf(buf, cap, "%s%s%s", s->t->root,
	    s->t->root[strlen(s->t->root) - 1] == '/' ? "" : "/", path);
	return buf;
}

/* ---------------------------------------------------------------------- */
/* curl callbacks */

static size_t
body_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct mig_s3_req *rq = arg;
	size_t n = size * nitems, ncap;
	unsigned char *p;

	if (rq->alen + n > rq->max || rq->alen + n < rq->alen) {
		rq->ans_over = true;
		return 0;	/* stop: larger than we take */
	}
	if (rq->alen + n + 1 > rq->acap) {
		/*
		 * Doubling: a ranged GET arrives in curl-sized pieces, and
		 * growing by each piece copies the range once per piece.
		 */
		ncap = rq->acap < 4096 ? 4096 : rq->acap * 2;
		if (ncap < rq->alen + n + 1)
			ncap = rq->alen + n + 1;
		if (ncap > rq->max + 1)
			ncap = rq->max + 1;
		if ((p = realloc(rq->ans, ncap)) == NULL)
			return 0;
		rq->ans = p;
		rq->acap = ncap;
	}
	memcpy(rq->ans + rq->alen, buf, n);
	rq->alen += n;
	rq->ans[rq->alen] = '\0';
	return n;
}

static size_t
upload_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct mig_s3_req *rq = arg;
	size_t n = size * nitems;

	if (n > rq->blen - rq->sent)
		n = rq->blen - rq->sent;
	if (n > 0)
		memcpy(buf, rq->body + rq->sent, n);
	rq->sent += n;
	return n;
}

/* Non-zero stops the transfer: its lane was cancelled. */
static int
progress_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	const atomic_bool *cancel = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return atomic_load(cancel) ? 1 : 0;
}

/* ---------------------------------------------------------------------- */
/* Signed requests */

/* A lane's cancel flag, read. */
static bool
cancelled(const struct mig_s3_lane *ln)
{
	return ln->cancel != NULL && atomic_load(ln->cancel);
}

/* Sleeps ms before a retry, in naps, so that a cancel cuts it short. */
static void
pause_ms(const struct mig_s3_lane *ln, long ms)
{
	long nap;

	while (ms > 0 && !cancelled(ln)) {
		nap = ms < NAP_MS ? ms : NAP_MS;
		mig_sleep_ms(nap);
		ms -= nap;
	}
}

/* The options of rq on top of those every request shares. */
static int
setup(struct mig_s3 *s, struct mig_s3_lane *ln, struct mig_s3_req *rq,
    const char *url)
{
	CURL *e = ln->x->easy;
	CURLcode rc;
	int r;

	if ((r = mig_curlx_setup(ln->x, &s->conn, url, ln->ctx)) != 0)
		return r;
	rc = curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, body_cb);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)rq);
	if (rc == CURLE_OK && strcmp(rq->method, "HEAD") == 0)
		rc = curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else if (rc == CURLE_OK && (strcmp(rq->method, "PUT") == 0 ||
	    strcmp(rq->method, "POST") == 0)) {
		rc = curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		if (rc == CURLE_OK)
			rc = curl_easy_setopt(e, CURLOPT_READFUNCTION,
			    upload_cb);
		if (rc == CURLE_OK)
			rc = curl_easy_setopt(e, CURLOPT_READDATA, (void *)rq);
		if (rc == CURLE_OK)
			rc = curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE,
			    (curl_off_t)rq->blen);
	}
	if (rc == CURLE_OK && strcmp(rq->method, "GET") != 0 &&
	    strcmp(rq->method, "HEAD") != 0)
		rc = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, rq->method);
	if (rc == CURLE_OK && ln->cancel != NULL) {
		rc = curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, progress_cb);
		if (rc == CURLE_OK)
			rc = curl_easy_setopt(e, CURLOPT_XFERINFODATA,
			    (void *)ln->cancel);
		if (rc == CURLE_OK)
			rc = curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	}
	if (rc != CURLE_OK)
		return mig_seterr(ln->ctx, rc == CURLE_OUT_OF_MEMORY ?
		    MIG_ERR_NOMEM : MIG_ERR_INTERNAL, "curl: %s",
		    curl_easy_strerror(rc));
	return 0;
}

/* URL and signing path of rq; the query is canonical in both. */
static int
make_url(struct mig_s3 *s, const struct mig_s3_req *rq, const char *query,
    char *url, size_t ucap, char *path, size_t pcap)
{
	size_t o;
	int n;

	if (s->virtual_host)
		n = snprintf(path, pcap, "/%s", rq->key != NULL ? rq->key : "");
	else
		n = snprintf(path, pcap, "/%s%s%s", s->bucket,
		    rq->key != NULL ? "/" : "", rq->key != NULL ? rq->key : "");
	if (n < 0 || (size_t)n >= pcap)
		return -1;
	n = snprintf(url, ucap, "%s", s->origin);
	if (n < 0 || (size_t)n >= ucap)
		return -1;
	o = (size_t)n;
	if (!mig_sigv4_encode(path, true, url, ucap, &o))
		return -1;
	if (query[0] != '\0') {
		n = snprintf(url + o, ucap - o, "?%s", query);
		if (n < 0 || (size_t)n >= ucap - o)
			return -1;
	}
	return 0;
}

/* Signed header list of rq into *lp (wiped when freed). */
static int
sign(struct mig_s3 *s, struct mig_ctx *ctx, const struct mig_s3_req *rq,
    const char *path, struct curl_slist **lp)
{
	struct mig_sigv4_kv h[16];
	struct mig_sigv4_req sr;
	unsigned char md[32];
	char hash[65], date[17], line[4096], *auth = NULL;
	struct curl_slist *l = NULL;
	time_t now = time(NULL);
	struct tm tm;
	size_t i, nh = 0;
	int r;

	*lp = NULL;
	if (rq->nhdrs > 10)
		return MIG_ERR_INTERNAL;
	if (EVP_Digest(rq->body != NULL ? rq->body : (const unsigned char *)"",
	    rq->blen, md, NULL, EVP_sha256(), NULL) != 1)
		return mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "SHA-256");
	mig_hex_encode(md, sizeof(md), hash);
	(void)gmtime_r(&now, &tm);
	(void)strftime(date, sizeof(date), "%Y%m%dT%H%M%SZ", &tm);
	h[nh++] = (struct mig_sigv4_kv){ "host", s->host };
	h[nh++] = (struct mig_sigv4_kv){ "x-amz-date", date };
	h[nh++] = (struct mig_sigv4_kv){ "x-amz-content-sha256", hash };
	if (s->token != NULL)
		h[nh++] = (struct mig_sigv4_kv){ "x-amz-security-token",
		    s->token };
	for (i = 0; i < rq->nhdrs; i++)
		h[nh++] = rq->hdrs[i];
	memset(&sr, 0, sizeof(sr));
	sr.method = rq->method;
	sr.path = path;
	sr.query = rq->query;
	sr.nquery = rq->nquery;
	sr.hdrs = h;
	sr.nhdrs = nh;
	sr.payload_sha256 = hash;
	sr.amz_date = date;
	sr.region = s->region;
	sr.service = "s3";
	if ((r = mig_sigv4_authorization(&sr, s->ak, s->sk, strlen(s->sk),
	    &auth)) != 0)
		return mig_seterr(ctx, r, "%s: cannot sign the request",
		    s->t->root);
	r = 0;
	for (i = 0; r == 0 && i <= nh + 1; i++) {
		if (i < nh)
			(void)snprintf(line, sizeof(line), "%s: %s", h[i].name,
			    h[i].value);
		else if (i == nh)
			(void)snprintf(line, sizeof(line), "Expect:");
		else
			(void)snprintf(line, sizeof(line), "Authorization: %s",
			    auth);
		if (mig_curlx_slist_add(&l, line) != 0)
			r = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		OPENSSL_cleanse(line, sizeof(line));
	}
	mig_curlx_wipe_free(auth);
	if (r != 0) {
		mig_curlx_slist_free_wiped(l);
		return r;
	}
	*lp = l;
	return 0;
}

const char *
mig_s3_xml_local(const char *name)
{
	const char *c = strrchr(name, ':');

	return c != NULL ? c + 1 : name;
}

void
mig_s3_xtext_reset(struct mig_s3_xtext *t)
{
	t->len = 0;
	t->over = false;
	t->buf[0] = '\0';
}

void
mig_s3_xtext_add(struct mig_s3_xtext *t, const XML_Char *s, int len)
{
	if (len < 0 || (size_t)len >= sizeof(t->buf) - t->len) {
		t->over = true;
		return;
	}
	memcpy(t->buf + t->len, s, (size_t)len);
	t->len += (size_t)len;
	t->buf[t->len] = '\0';
}

int
mig_s3_xml_parse(const unsigned char *body, size_t len, void *arg,
    XML_StartElementHandler start, XML_EndElementHandler end,
    XML_CharacterDataHandler text)
{
	XML_Parser xp;
	int ok;

	if (len > INT32_MAX)
		return MIG_ERR_FORMAT;
	if ((xp = XML_ParserCreate("UTF-8")) == NULL)
		return MIG_ERR_NOMEM;
	XML_SetUserData(xp, arg);
	XML_SetElementHandler(xp, start, end);
	XML_SetCharacterDataHandler(xp, text);
	ok = XML_Parse(xp, (const char *)body, (int)len, 1) ==
	    XML_STATUS_OK;
	XML_ParserFree(xp);
	return ok ? 0 : MIG_ERR_FORMAT;
}

void
mig_s3_xml_field(struct mig_s3 *s, const unsigned char *body, size_t len,
    const char *tag, char *out, size_t cap)
{
	char open[40], close[40];
	const char *b, *e;

	out[0] = '\0';
	if (body == NULL)
		return;
	(void)snprintf(open, sizeof(open), "<%s>", tag);
	(void)snprintf(close, sizeof(close), "</%s>", tag);
	(void)len;
	if ((b = strstr((const char *)body, open)) == NULL)
		return;
	b += strlen(open);
	if ((e = strstr(b, close)) == NULL)
		return;
	(void)mig_scrub(b, (size_t)(e - b), false,
	    (const char *const *)s->conn.secrets, s->conn.nsecrets, 200, out,
	    cap);
}

/* An answer that is not 2xx as an error of ours. */
static int
http_error(struct mig_s3 *s, struct mig_ctx *ctx, const struct mig_s3_req *rq,
    const char *what)
{
	char code[256], msg[256];

	mig_s3_xml_field(s, rq->ans, rq->alen, "Code", code, sizeof(code));
	mig_s3_xml_field(s, rq->ans, rq->alen, "Message", msg, sizeof(msg));
	if (rq->status == 404)
		return mig_seterr(ctx, MIG_ERR_NOTFOUND, "%s: %s: not found"
		    "%s%s", what, rq->method, code[0] != '\0' ? ": " : "",
		    code);
	if (rq->status == 403 && (strcmp(code, "SignatureDoesNotMatch") ==
	    0 || strcmp(code, "InvalidAccessKeyId") == 0 ||
	    strcmp(code, "InvalidToken") == 0 ||
	    strcmp(code, "ExpiredToken") == 0))
		return mig_seterr(ctx, MIG_ERR_SECURITY, "%s: %s: "
		    "credentials refused (%s): check the access key and the "
		    "secret key", what, rq->method, code);
	if (rq->status >= 300 && rq->status <= 399)
		return mig_seterr(ctx, MIG_ERR_SECURITY, "%s: %s: redirect "
		    "(HTTP %ld) refused: check endpoint and region", what,
		    rq->method, rq->status);
	return mig_seterr(ctx, MIG_ERR_NET, "%s: %s: HTTP %ld%s%s%s%s",
	    what, rq->method, rq->status, code[0] != '\0' ? " " : "", code,
	    msg[0] != '\0' ? ": " : "", msg);
}

/* A fresh answer in rq for the next attempt. */
static void
answer_reset(struct mig_s3_req *rq)
{
	free(rq->ans);
	rq->ans = NULL;
	rq->alen = 0;
	rq->acap = 0;
	rq->ans_over = false;
	rq->sent = 0;
	rq->status = 0;
	rq->etag[0] = '\0';
}

/* One attempt: signed, set up and performed.  0 or MIG_ERR_* on ln. */
static int
attempt(struct mig_s3 *s, struct mig_s3_lane *ln, struct mig_s3_req *rq,
    const char *url, const char *path)
{
	struct mig_curlx_xfer *x = ln->x;
	struct curl_slist *hdrs = NULL;
	int r;

	answer_reset(rq);
	if ((r = sign(s, ln->ctx, rq, path, &hdrs)) != 0)
		return r;
	if ((r = setup(s, ln, rq, url)) != 0) {
		mig_curlx_slist_free_wiped(hdrs);
		return r;
	}
	x->result = curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, hdrs);
	if (x->result == CURLE_OK)
		x->result = curl_easy_perform(x->easy);
	if (x->result == CURLE_OK || x->result == CURLE_WRITE_ERROR)
		(void)curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE,
		    &rq->status);
	(void)curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, NULL);
	mig_curlx_slist_free_wiped(hdrs);
	if (x->result == CURLE_OK)
		(void)snprintf(rq->etag, sizeof(rq->etag), "%s", x->etag);
	return 0;
}

/* Whether an answer is worth another attempt: 501 is not transient. */
static bool
status_retryable(long status)
{
	return status == 408 || status == 429 ||
	    (status >= 500 && status != 501);
}

int
mig_s3_perform(struct mig_s3 *s, struct mig_s3_lane *ln,
    struct mig_s3_req *rq, const char *what)
{
	struct mig_curlx_xfer *x = ln->x;
	char url[URL_MAX], path[URL_MAX];
	char *query = NULL;
	int n, r;

	if ((r = mig_sigv4_query(rq->query, rq->nquery, &query)) != 0)
		return mig_seterr(ln->ctx, r, "out of memory");
	r = make_url(s, rq, query, url, sizeof(url), path, sizeof(path));
	free(query);
	if (r != 0)
		return mig_seterr(ln->ctx, MIG_ERR_USAGE, "%s: URL too long",
		    what);
	for (n = 0; ; n++) {
		if (!cancelled(ln) && (r = attempt(s, ln, rq, url, path)) != 0)
			return r;
		if (cancelled(ln))
			return mig_seterr(ln->ctx, MIG_ERR_CANCELLED,
			    "%s: %s: cancelled", what, rq->method);
		if (x->result == CURLE_WRITE_ERROR && rq->ans_over)
			return mig_seterr(ln->ctx, MIG_ERR_FORMAT, "%s: answer "
			    "larger than %zu bytes", what, rq->max);
		if (x->result != CURLE_OK) {
			if (!mig_curlx_retryable(&s->conn, x) ||
			    n >= s->conn.retries)
				return mig_curlx_error(&s->conn, x, ln->ctx,
				    what);
		} else if (!status_retryable(rq->status) ||
		    n >= s->conn.retries)
			return 0;
		pause_ms(ln, mig_curlx_backoff_ms(n, -1));
	}
}

int
mig_s3_request_on(struct mig_s3 *s, struct mig_s3_lane *ln,
    struct mig_s3_req *rq, const char *what)
{
	int r;

	if ((r = s->perform(s, ln, rq, what)) != 0)
		return r;
	if (rq->status < 200 || rq->status > 299)
		return http_error(s, ln->ctx, rq, what);
	return 0;
}

int
mig_s3_request(struct mig_s3 *s, struct mig_s3_req *rq, const char *what)
{
	struct mig_s3_lane ln = { &s->x, s->ctx, NULL };

	return mig_s3_request_on(s, &ln, rq, what);
}
