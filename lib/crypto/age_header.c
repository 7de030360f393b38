/*
 * The age v1 header: strict parsing, file key unwrapping for X25519 and
 * scrypt stanzas, the header MAC, and building a header for recipients.
 *
 *   age-encryption.org/v1
 *   -> X25519 <ephemeral share>
 *   <body, base64 wrapped at 64 columns, last line shorter>
 *   --- <HMAC-SHA-256 of everything up to and including "---">
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "migrate/age.h"
#include "migrate/error.h"
#include "migrate/util.h"

#define MIG_CRYPTO_INTERNAL
#include "crypto_int.h"

#define X25519_INFO	"age-encryption.org/v1/X25519"
#define MAC_B64_LEN	43	/* 32 bytes, unpadded */

static int
bad(struct mig_ctx *ctx, const char *what)
{
	return mig_seterr(ctx, MIG_ERR_VERIFY, "age header: %s", what);
}

/* Next LF-terminated line of buf from *off; -1 when there is none. */
static int
next_line(const unsigned char *buf, size_t len, size_t *off,
    const char **linep, size_t *linelen)
{
	const unsigned char *nl;

	if (*off >= len)
		return -1;
	nl = memchr(buf + *off, '\n', len - *off);
	if (nl == NULL)
		return -1;
	*linep = (const char *)buf + *off;
	*linelen = (size_t)(nl - (buf + *off));
	*off += *linelen + 1;
	return 0;
}

void
mig_age_header_clear(struct mig_age_header *h)
{
	size_t i, j;

	for (i = 0; i < h->nstanzas; i++) {
		struct mig_age_stanza *s = &h->stanzas[i];

		for (j = 0; j < s->nargs; j++)
			free(s->args[j]);
		free(s->args);
		if (s->body != NULL) {
			OPENSSL_cleanse(s->body, s->bodylen);
			free(s->body);
		}
	}
	free(h->stanzas);
	memset(h, 0, sizeof(*h));
}

/* Splits "-> a b c" (without the "-> ") into s->args. */
static int
parse_args(const char *p, size_t len, struct mig_age_stanza *s,
    struct mig_ctx *ctx)
{
	size_t i, start = 0, n = 0;
	char **args;

	for (i = 0; i < len; i++) {
		if (p[i] == ' ')
			n++;
		else if ((unsigned char)p[i] < 0x21 ||
		    (unsigned char)p[i] > 0x7e)
			return bad(ctx, "invalid character in stanza");
	}
	n++;
	if ((args = calloc(n, sizeof(*args))) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	s->args = args;
	for (i = 0; i <= len; i++) {
		if (i < len && p[i] != ' ')
			continue;
		if (i == start)
			return bad(ctx, "empty stanza argument");
		if ((args[s->nargs] = strndup(p + start, i - start)) == NULL)
			return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		s->nargs++;
		start = i + 1;
	}
	return 0;
}

/* Reads the body lines of a stanza starting at *off. */
static int
parse_body(const unsigned char *buf, size_t len, size_t *off,
    struct mig_age_stanza *s, struct mig_ctx *ctx)
{
	const char *line;
	char *text = NULL;
	size_t linelen, tlen = 0;
	long n;
	int rc = 0;

	/* The body text is at most what is left of the header. */
	if ((text = malloc(len - *off + 1)) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	for (;;) {
		if (next_line(buf, len, off, &line, &linelen) != 0) {
			rc = bad(ctx, "truncated stanza");
			goto out_free;
		}
		if (linelen > AGE_LINE_COLS) {
			rc = bad(ctx, "stanza line too long");
			goto out_free;
		}
		memcpy(text + tlen, line, linelen);
		tlen += linelen;
		if (linelen < AGE_LINE_COLS)
			break;
	}
	if ((s->body = malloc(tlen / 4 * 3 + 3)) == NULL) {
		rc = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_free;
	}
	if ((n = mig_base64_raw_decode(text, tlen, s->body,
	    tlen / 4 * 3 + 3)) < 0) {
		rc = bad(ctx, "invalid or non-canonical base64 in stanza "
		    "body");
		goto out_free;
	}
	s->bodylen = (size_t)n;
out_free:
	free(text);
	return rc;
}

int
mig_age_header_parse(const unsigned char *buf, size_t len,
    struct mig_age_header *h, struct mig_ctx *ctx)
{
	static const char prefix[] = "age-encryption.org/";
	struct mig_age_stanza *v;
	const char *line;
	size_t linelen, off = 0;
	long n;
	int rc;

	memset(h, 0, sizeof(*h));
	if (len > AGE_HEADER_MAX)
		return bad(ctx, "too large");
	if (next_line(buf, len, &off, &line, &linelen) != 0 ||
	    linelen < sizeof(prefix) - 1 ||
	    memcmp(line, prefix, sizeof(prefix) - 1) != 0)
		return bad(ctx, "not an age file");
	if (linelen != strlen(AGE_VERSION_LINE) ||
	    memcmp(line, AGE_VERSION_LINE, linelen) != 0)
		return bad(ctx, "unsupported age format version");
	for (;;) {
		size_t start = off;

		if (next_line(buf, len, &off, &line, &linelen) != 0)
			return bad(ctx, "truncated");
		if (linelen >= 3 && memcmp(line, "---", 3) == 0) {
			if (h->nstanzas == 0)
				return bad(ctx, "no recipient stanza");
			if (linelen != 4 + MAC_B64_LEN || line[3] != ' ')
				return bad(ctx, "malformed MAC line");
			n = mig_base64_raw_decode(line + 4, MAC_B64_LEN,
			    h->mac, sizeof(h->mac));
			if (n != AGE_KEY_LEN)
				return bad(ctx, "malformed MAC");
			if (off != len)
				return bad(ctx, "data after the MAC line");
			h->maclen = start + 3;
			return 0;
		}
		if (linelen < 3 || memcmp(line, "-> ", 3) != 0)
			return bad(ctx, "malformed stanza");
		v = realloc(h->stanzas, (h->nstanzas + 1) * sizeof(*v));
		if (v == NULL)
			return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		h->stanzas = v;
		memset(&v[h->nstanzas], 0, sizeof(*v));
		h->nstanzas++;
		if ((rc = parse_args(line + 3, linelen - 3,
		    &v[h->nstanzas - 1], ctx)) != 0 ||
		    (rc = parse_body(buf, len, &off, &v[h->nstanzas - 1],
		    ctx)) != 0)
			return rc;
	}
}

/* --- unwrapping ------------------------------------------------------- */

/* Work factor argument: ^[1-9][0-9]*$; *logn gets 99 when it is huge. */
static bool
parse_logn(const char *s, int *logn)
{
	size_t i, len = strlen(s);

	if (len == 0 || s[0] < '1' || s[0] > '9')
		return false;
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	*logn = len > 2 ? 99 : atoi(s);
	return true;
}

/* Checks the shape of the stanzas we know; MIG_ERR_VERIFY if wrong. */
static int
check_stanzas(const struct mig_age_header *h, struct mig_ctx *ctx)
{
	unsigned char tmp[AGE_KEY_LEN + 3];
	size_t i, nscrypt = 0;
	int logn;

	for (i = 0; i < h->nstanzas; i++) {
		const struct mig_age_stanza *s = &h->stanzas[i];

		if (strcmp(s->args[0], "X25519") == 0) {
			if (s->nargs != 2 ||
			    strlen(s->args[1]) != 43 ||
			    mig_base64_raw_decode(s->args[1], 43, tmp,
			    sizeof(tmp)) !=
			    AGE_KEY_LEN || s->bodylen != AGE_BODY_LEN)
				return bad(ctx, "malformed X25519 stanza");
		} else if (strcmp(s->args[0], "scrypt") == 0) {
			if (s->nargs != 3 ||
			    strlen(s->args[1]) != 22 ||
			    mig_base64_raw_decode(s->args[1], 22, tmp,
			    sizeof(tmp)) !=
			    AGE_SALT_LEN || !parse_logn(s->args[2], &logn) ||
			    s->bodylen != AGE_BODY_LEN)
				return bad(ctx, "malformed scrypt stanza");
			nscrypt++;
		}
	}
	if (nscrypt > 0 && h->nstanzas != 1)
		return bad(ctx, "an scrypt stanza must be the only one");
	return 0;
}

/* Tries an X25519 identity on an X25519 stanza: 0, NOKEY or an error. */
static int
try_x25519(const struct mig_age_key *id, const struct mig_age_stanza *s,
    unsigned char fk[AGE_FILE_KEY_LEN], struct mig_ctx *ctx)
{
	unsigned char salt[2 * AGE_KEY_LEN], shared[AGE_KEY_LEN];
	unsigned char wrap[AGE_KEY_LEN];
	int rc;

	(void)mig_base64_raw_decode(s->args[1], 43, salt, AGE_KEY_LEN);
	memcpy(salt + AGE_KEY_LEN, id->pub, AGE_KEY_LEN);
	rc = id->pkey != NULL ? mig_age_x25519_pkey(id->pkey, salt, shared,
	    ctx) : mig_age_x25519(id->key, salt, shared, ctx);
	if (rc != 0) {
		if (rc == MIG_ERR_VERIFY)
			rc = bad(ctx, "X25519 stanza with a low-order point");
		goto out_wipe;
	}
	if ((rc = mig_age_hkdf(shared, sizeof(shared), salt, sizeof(salt),
	    X25519_INFO, wrap, ctx)) != 0)
		goto out_wipe;
	rc = mig_age_open_key(wrap, s->body, fk, ctx);
	if (rc == MIG_ERR_VERIFY)
		rc = MIG_ERR_NOKEY;
out_wipe:
	OPENSSL_cleanse(shared, sizeof(shared));
	OPENSSL_cleanse(wrap, sizeof(wrap));
	return rc;
}

static int
try_scrypt(const struct mig_age_key *id, int max_logn,
    const struct mig_age_stanza *s, unsigned char fk[AGE_FILE_KEY_LEN],
    struct mig_ctx *ctx)
{
	unsigned char salt[AGE_SALT_LEN + 2], wrap[AGE_KEY_LEN];
	int logn = 0, rc;

	(void)mig_base64_raw_decode(s->args[1], 22, salt, AGE_SALT_LEN);
	(void)parse_logn(s->args[2], &logn);
	if (logn > max_logn)
		return mig_seterr(ctx, MIG_ERR_SECURITY,
		    "age header: scrypt work factor 2^%s is above the limit "
		    "2^%d", s->args[2], max_logn);
	if ((rc = mig_age_scrypt(id->pass, id->passlen, salt, logn, wrap,
	    ctx)) != 0)
		goto out_wipe;
	rc = mig_age_open_key(wrap, s->body, fk, ctx);
	if (rc == MIG_ERR_VERIFY)
		rc = MIG_ERR_NOKEY;
out_wipe:
	OPENSSL_cleanse(wrap, sizeof(wrap));
	return rc;
}

int
mig_age_header_unwrap(const struct mig_age_header *h,
    const unsigned char *buf, const struct mig_age_identities *ids,
    unsigned char fk[AGE_FILE_KEY_LEN], struct mig_ctx *ctx)
{
	unsigned char mackey[AGE_KEY_LEN], mac[AGE_KEY_LEN];
	bool is_scrypt, have_pass = false;
	size_t i, j;
	int rc;

	if ((rc = check_stanzas(h, ctx)) != 0)
		return rc;
	is_scrypt = strcmp(h->stanzas[0].args[0], "scrypt") == 0;
	rc = MIG_ERR_NOKEY;
	for (i = 0; i < ids->n && rc == MIG_ERR_NOKEY; i++) {
		const struct mig_age_key *id = &ids->v[i];

		if (id->kind == AGE_KIND_SCRYPT)
			have_pass = true;
		for (j = 0; j < h->nstanzas && rc == MIG_ERR_NOKEY; j++) {
			const struct mig_age_stanza *s = &h->stanzas[j];

			if (id->kind == AGE_KIND_X25519 &&
			    strcmp(s->args[0], "X25519") == 0)
				rc = try_x25519(id, s, fk, ctx);
			else if (id->kind == AGE_KIND_SCRYPT && is_scrypt)
				rc = try_scrypt(id, ids->max_logn, s, fk, ctx);
		}
	}
	if (rc == MIG_ERR_NOKEY) {
		if (is_scrypt && have_pass)
			return mig_seterr(ctx, rc, "incorrect passphrase");
		if (is_scrypt)
			return mig_seterr(ctx, rc,
			    "the file is encrypted with a passphrase");
		return mig_seterr(ctx, rc,
		    "no identity matched any of the recipients");
	}
	if (rc != 0)
		return rc;
	if ((rc = mig_age_hkdf(fk, AGE_FILE_KEY_LEN, NULL, 0, "header",
	    mackey, ctx)) != 0 ||
	    (rc = mig_age_hmac(mackey, buf, h->maclen, mac, ctx)) != 0)
		goto out_wipe;
	if (CRYPTO_memcmp(mac, h->mac, AGE_KEY_LEN) != 0)
		rc = bad(ctx, "MAC mismatch (the header was altered)");
out_wipe:
	if (rc != 0)
		OPENSSL_cleanse(fk, AGE_FILE_KEY_LEN);
	OPENSSL_cleanse(mackey, sizeof(mackey));
	return rc;
}

/* --- building --------------------------------------------------------- */

/* Appends one stanza for recipient r to out (room is checked by caller). */
static int
build_stanza(const struct mig_age_key *r,
    const unsigned char fk[AGE_FILE_KEY_LEN], char *out, size_t *off,
    struct mig_ctx *ctx)
{
	unsigned char salt[2 * AGE_KEY_LEN];
	unsigned char shared[AGE_KEY_LEN], wrap[AGE_KEY_LEN];
	unsigned char body[AGE_BODY_LEN], ssalt[AGE_SALT_LEN];
	char b64[64];
	int rc, n;

	if (r->kind == AGE_KIND_X25519) {
		memcpy(salt + AGE_KEY_LEN, r->key, AGE_KEY_LEN);
		if ((rc = mig_age_x25519_ephemeral(r->key, r->pkey, salt,
		    shared, ctx)) != 0) {
			if (rc == MIG_ERR_VERIFY)
				rc = mig_seterr(ctx, MIG_ERR_USAGE,
				    "invalid X25519 recipient "
				    "(low-order point)");
			goto out_wipe;
		}
		if ((rc = mig_age_hkdf(shared, sizeof(shared), salt,
		    sizeof(salt), X25519_INFO, wrap, ctx)) != 0)
			goto out_wipe;
		mig_base64_raw_encode(salt, AGE_KEY_LEN, b64);
		n = sprintf(out + *off, "-> X25519 %s\n", b64);
	} else {
		if ((rc = mig_age_random(ssalt, sizeof(ssalt), ctx)) != 0 ||
		    (rc = mig_age_scrypt(r->pass, r->passlen, ssalt, r->logn,
		    wrap, ctx)) != 0)
			goto out_wipe;
		mig_base64_raw_encode(ssalt, AGE_SALT_LEN, b64);
		n = sprintf(out + *off, "-> scrypt %s %d\n", b64, r->logn);
	}
	*off += (size_t)n;
	if ((rc = mig_age_seal_key(wrap, fk, body, ctx)) != 0)
		goto out_wipe;
	mig_base64_raw_encode(body, AGE_BODY_LEN, b64);
	n = sprintf(out + *off, "%s\n", b64);
	*off += (size_t)n;
out_wipe:
	OPENSSL_cleanse(shared, sizeof(shared));
	OPENSSL_cleanse(wrap, sizeof(wrap));
	return rc;
}

/* Bytes one stanza may take: "-> scrypt " + 22 + " " + 2 + LF + 43 + LF. */
#define STANZA_MAX	128

int
mig_age_header_build(const struct mig_age_recipients *rs,
    const unsigned char fk[AGE_FILE_KEY_LEN], unsigned char **outp,
    size_t *lenp, struct mig_ctx *ctx)
{
	unsigned char mackey[AGE_KEY_LEN], mac[AGE_KEY_LEN];
	char *out;
	size_t cap, off = 0, i;
	int rc = 0;

	*outp = NULL;
	*lenp = 0;
	if (rs->n == 0)
		return mig_seterr(ctx, MIG_ERR_USAGE, "age: no recipients");
	cap = sizeof(AGE_VERSION_LINE) + rs->n * STANZA_MAX + 64;
	if ((out = malloc(cap)) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	off = (size_t)sprintf(out, "%s\n", AGE_VERSION_LINE);
	for (i = 0; i < rs->n; i++)
		if ((rc = build_stanza(&rs->v[i], fk, out, &off, ctx)) != 0)
			goto out_free;
	memcpy(out + off, "---", 3);
	off += 3;
	if ((rc = mig_age_hkdf(fk, AGE_FILE_KEY_LEN, NULL, 0, "header",
	    mackey, ctx)) != 0 ||
	    (rc = mig_age_hmac(mackey, (unsigned char *)out, off, mac,
	    ctx)) != 0)
		goto out_free;
	out[off++] = ' ';
	mig_base64_raw_encode(mac, AGE_KEY_LEN, out + off);
	off += MAC_B64_LEN;
	out[off++] = '\n';
	*outp = (unsigned char *)out;
	*lenp = off;
	out = NULL;
out_free:
	free(out);
	OPENSSL_cleanse(mackey, sizeof(mackey));
	return rc;
}
