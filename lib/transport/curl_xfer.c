/*
 * The libcurl plumbing of the https and s3 backends (curl_xfer_int.h):
 * one place that sets up a handle with strict TLS, reads an answer's
 * head, and says what a curl failure means.
 *
 * TLS is always verified (peer and host name), against ca_file alone when
 * it is given or the system store otherwise, and optionally against a
 * pinned public key; TLS below 1.2 is never offered.  Redirects are never
 * followed: the backends refuse them.  Text a server sent, and curl's
 * messages quoting it, is scrubbed of the transport's secrets before it
 * goes into a message.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "migrate/error.h"
#include "migrate/transport.h"
#include "migrate/util.h"

#define MIG_TRANSPORT_INTERNAL
#include "curl_xfer_int.h"
#include "scrub_int.h"

#define DEF_CONNECT_MS	15000L
#define DEF_IO_MS	60000L
#define DEF_RETRIES	4
#define BACKOFF_MS	250L		/* first retry delay */
#define BACKOFF_MAX_MS	8000L
#define RETRY_AFTER_MAX	30L		/* seconds of Retry-After honoured */

/* ---------------------------------------------------------------------- */
/* Global initialisation */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void
curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int
mig_curlx_global_init(struct mig_ctx *ctx)
{
	if (pthread_once(&curl_once, curl_init) != 0 ||
	    curl_init_rc != CURLE_OK)
		return mig_seterr(ctx, MIG_ERR_INTERNAL,
		    "curl: global initialisation failed");
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Small helpers */

void
mig_curlx_wipe_free(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

void
mig_curlx_slist_free_wiped(struct curl_slist *l)
{
	struct curl_slist *p;

	for (p = l; p != NULL; p = p->next)
		if (p->data != NULL)
			OPENSSL_cleanse(p->data, strlen(p->data));
	curl_slist_free_all(l);
}

int
mig_curlx_slist_add(struct curl_slist **lp, const char *s)
{
	struct curl_slist *n;

	if ((n = curl_slist_append(*lp, s)) == NULL)
		return MIG_ERR_NOMEM;
	*lp = n;
	return 0;
}

long
mig_curlx_backoff_ms(int attempt, long retry_after)
{
	if (retry_after >= 0)
		return (retry_after > RETRY_AFTER_MAX ? RETRY_AFTER_MAX :
		    retry_after) * 1000L;
	return mig_backoff_ms(attempt, BACKOFF_MS, BACKOFF_MAX_MS);
}

/* ---------------------------------------------------------------------- */
/* Connection settings */

int
mig_curlx_conn_init(struct mig_curlx_conn *c,
    const struct mig_transport_config *cfg, struct mig_ctx *ctx)
{
	const char *ca = mig_topts_get(&cfg->opts, "ca_file");
	const char *pin = mig_topts_get(&cfg->opts, "pinned_pubkey");

	c->connect_ms = cfg->connect_timeout_ms > 0 ?
	    cfg->connect_timeout_ms : DEF_CONNECT_MS;
	c->io_s = ((cfg->io_timeout_ms > 0 ? cfg->io_timeout_ms : DEF_IO_MS) +
	    999) / 1000;
	c->retries = cfg->retries > 0 ? cfg->retries : DEF_RETRIES;
	if ((ca != NULL && (c->ca_file = strdup(ca)) == NULL) ||
	    (pin != NULL && (c->pin = strdup(pin)) == NULL))
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	return 0;
}

void
mig_curlx_conn_clear(struct mig_curlx_conn *c)
{
	size_t i;

	for (i = 0; i < c->nsecrets; i++)
		mig_curlx_wipe_free(c->secrets[i]);
	c->nsecrets = 0;
	free(c->host);
	free(c->ca_file);
	free(c->pin);
	c->host = c->ca_file = c->pin = NULL;
}

int
mig_curlx_add_secret(struct mig_curlx_conn *c, const char *s, size_t len,
    struct mig_ctx *ctx)
{
	char *copy;

	if (len == 0)
		return 0;
	if (c->nsecrets == MIG_SCRUB_SECRETS_MAX)
		return mig_seterr(ctx, MIG_ERR_INTERNAL,
		    "too many secrets to scrub");
	if ((copy = strndup(s, len)) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	c->secrets[c->nsecrets++] = copy;
	return 0;
}

const char *
mig_curlx_server_text(const struct mig_curlx_conn *c, const char *in,
    size_t inlen, bool cut, char *out, size_t cap)
{
	if (c == NULL)
		inlen = 0;
	(void)mig_scrub(in, inlen, cut, c != NULL ?
	    (const char *const *)c->secrets : NULL, c != NULL ? c->nsecrets :
	    0, cap - 1, out, cap);
	return out;
}

/* ---------------------------------------------------------------------- */
/* The answer's head */

static void
head_reset(struct mig_curlx_xfer *x)
{
	x->status = 0;
	x->reason[0] = '\0';
	x->reason_cut = false;
	x->location[0] = '\0';
	x->location_cut = false;
	x->retry_after = -1;
	x->etag[0] = '\0';
	x->have_clen = false;
	x->headers_done = false;
}

/* A status line: a new header block (after 1xx or an auth round). */
static void
head_status(struct mig_curlx_xfer *x, const char *line, bool cut)
{
	const char *p;
	char *end;
	long v;

	head_reset(x);
	if ((p = strchr(line, ' ')) == NULL)
		return;
	v = strtol(p + 1, &end, 10);
	if (end != p + 1 && v >= 100 && v <= 999)
		x->status = v;
	while (*end == ' ')
		end++;
	(void)snprintf(x->reason, sizeof(x->reason), "%s", end);
	x->reason_cut = cut || strlen(end) >= sizeof(x->reason);
}

static void
head_location(struct mig_curlx_xfer *x, const char *p, bool cut)
{
	(void)snprintf(x->location, sizeof(x->location), "%s", p);
	x->location_cut = cut || strlen(p) >= sizeof(x->location);
}

/* Retry-After: seconds, or an HTTP date. */
static void
head_retry_after(struct mig_curlx_xfer *x, const char *p)
{
	time_t when, now;
	char *end;
	long v;

	v = strtol(p, &end, 10);
	if (end != p && *end == '\0' && v >= 0) {
		x->retry_after = v;
		return;
	}
	when = curl_getdate(p, NULL);
	now = time(NULL);
	if (when != (time_t)-1)
		x->retry_after = when > now ? (long)(when - now) : 0;
}

/* ETag, kept only when it fits whole. */
static void
head_etag(struct mig_curlx_xfer *x, const char *p, bool cut)
{
	size_t vl = strlen(p);

	while (vl > 0 && isspace((unsigned char)p[vl - 1]))
		vl--;
	if (!cut && vl < sizeof(x->etag)) {
		memcpy(x->etag, p, vl);
		x->etag[vl] = '\0';
	}
}

static void
head_clen(struct mig_curlx_xfer *x, const char *p)
{
	char tmp[32], *end;
	unsigned long long ull;
	size_t n = strlen(p);

	if (n > sizeof(tmp) - 1)
		n = sizeof(tmp) - 1;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	errno = 0;
	ull = strtoull(tmp, &end, 10);
	if (errno == 0 && end != tmp) {
		x->clen = ull;
		x->have_clen = true;
	}
}

static const char *
skip_blanks(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static size_t
header_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct mig_curlx_xfer *x = arg;
	size_t len = size * nitems, n;
	char line[256];
	bool cut = len > sizeof(line) - 1;

	n = len < sizeof(line) - 1 ? len : sizeof(line) - 1;
	memcpy(line, buf, n);
	line[n] = '\0';
	while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == '\n'))
		line[--n] = '\0';
	if (n == 0) {
		if (x->status >= 200)
			x->headers_done = true;
	} else if (strncmp(line, "HTTP/", 5) == 0)
		head_status(x, line, cut);
	else if (strncasecmp(line, "location:", 9) == 0)
		head_location(x, skip_blanks(line + 9), cut);
	else if (strncasecmp(line, "retry-after:", 12) == 0)
		head_retry_after(x, skip_blanks(line + 12));
	else if (strncasecmp(line, "etag:", 5) == 0)
		head_etag(x, skip_blanks(line + 5), cut);
	else if (strncasecmp(line, "content-length:", 15) == 0)
		head_clen(x, line + 15);
	return len;
}

/* ---------------------------------------------------------------------- */
/* Setting up a transfer */

int
mig_curlx_setup(struct mig_curlx_xfer *x, const struct mig_curlx_conn *c,
    const char *url, struct mig_ctx *ctx)
{
	CURL *e = x->easy;
	CURLcode rc = CURLE_OK;

	curl_easy_reset(e);
	x->result = CURLE_OK;
	x->sink_err = 0;
	x->errbuf[0] = '\0';
	head_reset(x);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_URL, url);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, c->proto);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, c->proto);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_SSLVERSION,
		    (long)CURL_SSLVERSION_TLSv1_2);
	if (rc == CURLE_OK && c->ca_file != NULL) {
		/* The given CA alone: the system store is not consulted. */
		rc = curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
		if (rc == CURLE_OK)
			rc = curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
	}
	if (rc == CURLE_OK && c->pin != NULL)
		rc = curl_easy_setopt(e, CURLOPT_PINNEDPUBLICKEY, c->pin);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
		    c->connect_ms);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, c->io_s);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_HEADERDATA, (void *)x);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_FILETIME, 0L);
	if (rc != CURLE_OK)
		return mig_seterr(ctx, rc == CURLE_OUT_OF_MEMORY ?
		    MIG_ERR_NOMEM : MIG_ERR_INTERNAL, "curl: %s",
		    curl_easy_strerror(rc));
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Translating curl outcomes: the only place that picks their codes */

static bool
curl_transient(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_HTTP3:
	case CURLE_QUIC_CONNECT_ERROR:
		return true;
	default:
		return false;
	}
}

/*
 * Whether a failed handshake failed on the TLS version: the server
 * offers nothing from TLS 1.2 up (or signals a downgrade).  That is a
 * refusal, not a network fault: retrying cannot help.  curl reports the
 * OpenSSL error as "error:0A00042E:SSL routines::...", whose code says
 * it without relying on the wording.
 */
static bool
tls_version_refused(const struct mig_curlx_xfer *x)
{
	const char *p = x->errbuf;
	unsigned long e;
	char *end;

	if (x->result != CURLE_SSL_CONNECT_ERROR)
		return false;
	while ((p = strstr(p, "error:")) != NULL) {
		p += 6;
		e = strtoul(p, &end, 16);
		if (end == p || *end != ':' || ERR_GET_LIB(e) != ERR_LIB_SSL)
			continue;
		switch (ERR_GET_REASON(e)) {
		case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
		case SSL_R_UNSUPPORTED_PROTOCOL:
		case SSL_R_VERSION_TOO_LOW:
		case SSL_R_INAPPROPRIATE_FALLBACK:
		case SSL_R_TLSV1_ALERT_INAPPROPRIATE_FALLBACK:
			return true;
		default:
			break;
		}
	}
	return false;
}

/* A failed handshake that is a refusal rather than a network fault. */
static bool
handshake_refused(const struct mig_curlx_conn *c,
    const struct mig_curlx_xfer *x)
{
	return x->result == CURLE_SSL_CONNECT_ERROR &&
	    (c->handshake_refused || tls_version_refused(x));
}

bool
mig_curlx_retryable(const struct mig_curlx_conn *c,
    const struct mig_curlx_xfer *x)
{
	return curl_transient(x->result) && !handshake_refused(c, x);
}

/* The certificate was refused: which check, and what to do about it. */
static int
cert_error(const struct mig_curlx_conn *c, const struct mig_curlx_xfer *x,
    struct mig_ctx *ctx, const char *what, const char *raw,
    const char *detail)
{
	long vr = 0;

	/* curl checks the name itself; its message says which. */
	if (strstr(raw, "host name") != NULL ||
	    strstr(raw, "subject name") != NULL)
		return mig_seterr(ctx, MIG_ERR_SECURITY, "%s: TLS certificate "
		    "does not match host name \"%s\" (%s)", what, c->host,
		    detail);
	(void)curl_easy_getinfo(x->easy, CURLINFO_SSL_VERIFYRESULT, &vr);
	if (vr != 0 && vr != X509_V_ERR_UNSPECIFIED)
		return mig_seterr(ctx, MIG_ERR_SECURITY, "%s: TLS certificate "
		    "not trusted (%s); set ca_file to the CA that signed the "
		    "server certificate", what,
		    X509_verify_cert_error_string(vr));
	return mig_seterr(ctx, MIG_ERR_SECURITY,
	    "%s: TLS certificate refused (%s)", what, detail);
}

int
mig_curlx_error(const struct mig_curlx_conn *c,
    const struct mig_curlx_xfer *x, struct mig_ctx *ctx, const char *what)
{
	const char *raw = x->errbuf[0] != '\0' ? x->errbuf :
	    curl_easy_strerror(x->result);
	char detail[CURL_ERROR_SIZE];

	/* curl quotes what the server sent in some of its messages. */
	(void)mig_curlx_server_text(c, raw, strlen(raw),
	    strlen(raw) >= CURL_ERROR_SIZE - 1, detail, sizeof(detail));

	switch (x->result) {
	case CURLE_OK:
		return mig_seterr(ctx, MIG_ERR_INTERNAL,
		    "%s: transfer failed without an error", what);
	case CURLE_PEER_FAILED_VERIFICATION:
		return cert_error(c, x, ctx, what, raw, detail);
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		return mig_seterr(ctx, MIG_ERR_SECURITY,
		    "%s: server public key does not match pinned_pubkey",
		    what);
	case CURLE_SSL_CACERT_BADFILE:
		return mig_seterr(ctx, MIG_ERR_SECURITY,
		    "%s: cannot use ca_file \"%s\" (%s)", what,
		    c->ca_file != NULL ? c->ca_file : "(system store)",
		    detail);
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return mig_seterr(ctx, MIG_ERR_SECURITY, "%s: TLS refused: %s",
		    what, detail);
	case CURLE_UNSUPPORTED_PROTOCOL:
		return mig_seterr(ctx, MIG_ERR_SECURITY,
		    "%s: protocol refused: %s", what, detail);
	case CURLE_SSL_CONNECT_ERROR:
		if (tls_version_refused(x))
			return mig_seterr(ctx, MIG_ERR_SECURITY, "%s: TLS "
			    "version refused: the server offers no TLS 1.2 or "
			    "later (%s)", what, detail);
		if (c->handshake_refused)
			return mig_seterr(ctx, MIG_ERR_SECURITY,
			    "%s: TLS refused: %s", what, detail);
		return mig_seterr(ctx, MIG_ERR_NET, "%s: %s", what, detail);
	case CURLE_OUT_OF_MEMORY:
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	case CURLE_OPERATION_TIMEDOUT:
		return mig_seterr(ctx, MIG_ERR_NET, "%s: timed out: %s", what,
		    detail);
	case CURLE_WRITE_ERROR:
	case CURLE_ABORTED_BY_CALLBACK:
		if (x->sink_err != 0)
			return x->sink_err;
		return mig_seterr(ctx, MIG_ERR_NET, "%s: %s", what, detail);
	default:
		return mig_seterr(ctx, MIG_ERR_NET, "%s: %s", what, detail);
	}
}
