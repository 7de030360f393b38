/*
 * The seal of a run's bag: a C2SP signed note (the format of
 * transparency-log checkpoints, https://c2sp.org/signed-note) by the
 * plan's Ed25519 audit key over the bag's tag manifest, its run id, its
 * place in the lake and the audit head it was published with.
 *
 *   migrate-seal/v1
 *   run 20261205T101500Z-0a1b2c3d
 *   dir raw/billing/ingest_date=2026-12-05/run=20261205T101500Z-0a1b2c3d
 *   plan billing
 *   plan-sha256 <64 hex>
 *   tagmanifest-sha256 <64 hex>
 *   audit-head <64 hex>
 *
 *   — migrate-audit <base64(key id || Ed25519 signature)>
 *
 * The signature covers the text up to and including its last newline, not
 * the blank line.  The key id is the first 4 bytes of SHA-256(name || 0x0A
 * || 0x01 || public key), as the signed-note specification recommends.
 * Anyone who can write to the lake knows the age recipients and can write
 * well-formed objects and manifests; only the holder of the audit key can
 * write a seal, so a forged or spliced bag fails here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "migrate/bagit.h"
#include "migrate/error.h"
#include "migrate/sign.h"
#include "migrate/util.h"

#define SEAL_ORIGIN	"migrate-seal/v1"
#define SEAL_KEYNAME	"migrate-audit"
/* "— " in UTF-8: U+2014 EM DASH, then a space. */
#define SIG_PREFIX	"\xe2\x80\x94 "
/* base64 of 4 + 64 bytes. */
#define SIG_B64LEN	92

/* Key names of signed notes: non-empty, no space, no '+', printable. */
#define NOTE_NAME_MAX	128

static bool
name_ok(const char *name)
{
	size_t n = strlen(name), i;

	if (n == 0 || n > NOTE_NAME_MAX)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)name[i] <= 0x20 || name[i] == '+' ||
		    name[i] == 0x7f)
			return false;
	return true;
}

/* SHA-256(name || 0x0A || 0x01 || pub)[:4]. */
static int
key_id(const struct mig_sign_key *key, const char *name, unsigned char id[4],
    struct mig_ctx *ctx)
{
	unsigned char buf[NOTE_NAME_MAX + 2 + MIG_SIGN_PUBLEN];
	unsigned char md[32];
	size_t n = strlen(name);
	int r;

	memcpy(buf, name, n);
	buf[n++] = '\n';
	buf[n++] = 0x01;
	if ((r = mig_sign_public_raw(key, buf + n, ctx)) != 0)
		return r;
	n += MIG_SIGN_PUBLEN;
	if (EVP_Digest(buf, n, md, NULL, EVP_sha256(), NULL) != 1)
		return mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "SHA-256");
	memcpy(id, md, 4);
	return 0;
}

int
mig_note_sign(const struct mig_sign_key *key, const char *name,
    const char *text, size_t len, char **notep, struct mig_ctx *ctx)
{
	unsigned char blob[4 + MIG_SIGN_SIGLEN];
	char b64[SIG_B64LEN + 1];
	size_t size;
	int r;

	*notep = NULL;
	if (!name_ok(name) || len == 0 || text[len - 1] != '\n')
		return mig_seterr(ctx, MIG_ERR_USAGE, "signed note: bad key "
		    "name or text not ending in a newline");
	if ((r = key_id(key, name, blob, ctx)) != 0 ||
	    (r = mig_sign(key, text, len, blob + 4, ctx)) != 0)
		return r;
	mig_base64_encode(blob, sizeof(blob), b64);
	size = len + 1 + sizeof(SIG_PREFIX) + strlen(name) + 1 +
	    SIG_B64LEN + 2;
	if ((*notep = malloc(size)) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	(void)snprintf(*notep, size, "%.*s\n" SIG_PREFIX "%s %s\n", (int)len,
	    text, name, b64);
	return 0;
}

static bool
is_hex64(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' &&
		    s[i] <= 'f')))
			return false;
	return s[64] == '\0';
}

/* A value fit for one line of the note: printable, no space for ids. */
static bool
line_value_ok(const char *s, size_t max)
{
	size_t n = 0;

	for (; *s != '\0'; s++, n++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return n > 0 && n < max;
}

static int
seal_text(const struct mig_seal *s, char *buf, size_t size,
    struct mig_ctx *ctx)
{
	int n;

	if (!line_value_ok(s->run, sizeof(s->run)) ||
	    !line_value_ok(s->dir, sizeof(s->dir)) ||
	    !line_value_ok(s->plan, sizeof(s->plan)) ||
	    !is_hex64(s->plan_sha256) || !is_hex64(s->tagmanifest_sha256) ||
	    !is_hex64(s->audit_head))
		return mig_seterr(ctx, MIG_ERR_USAGE, "seal: a field is empty "
		    "or not printable");
	n = snprintf(buf, size, SEAL_ORIGIN "\nrun %s\ndir %s\nplan %s\n"
	    "plan-sha256 %s\ntagmanifest-sha256 %s\naudit-head %s\n", s->run,
	    s->dir, s->plan, s->plan_sha256, s->tagmanifest_sha256,
	    s->audit_head);
	if (n < 0 || (size_t)n >= size)
		return mig_seterr(ctx, MIG_ERR_USAGE, "seal: too long");
	return n;
}

int
mig_seal_make(const struct mig_sign_key *key, const struct mig_seal *s,
    char **notep, struct mig_ctx *ctx)
{
	char text[MIG_SEAL_MAX];
	int n;

	*notep = NULL;
	if ((n = seal_text(s, text, sizeof(text), ctx)) < 0)
		return n;
	return mig_note_sign(key, SEAL_KEYNAME, text, (size_t)n, notep, ctx);
}

/* Copies the value of line "KEY VALUE" into out; false when not that. */
static bool
take(const char **pp, const char *end, const char *key, char *out,
    size_t size)
{
	const char *p = *pp, *nl;
	size_t kl = strlen(key), vl;

	nl = memchr(p, '\n', (size_t)(end - p));
	if (nl == NULL || (size_t)(nl - p) <= kl + 1 ||
	    memcmp(p, key, kl) != 0 || p[kl] != ' ')
		return false;
	vl = (size_t)(nl - p) - kl - 1;
	if (vl >= size)
		return false;
	memcpy(out, p + kl + 1, vl);
	out[vl] = '\0';
	*pp = nl + 1;
	return true;
}

/* Parses the note text (origin and body) into s. */
static int
parse_text(const char *text, size_t len, struct mig_seal *s,
    struct mig_ctx *ctx)
{
	const char *p = text, *end = text + len;

	memset(s, 0, sizeof(*s));
	if (len < sizeof(SEAL_ORIGIN) || memcmp(p, SEAL_ORIGIN "\n",
	    sizeof(SEAL_ORIGIN)) != 0)
		return mig_seterr(ctx, MIG_ERR_FORMAT, "not a migrate seal "
		    "(first line is not \"" SEAL_ORIGIN "\")");
	p += sizeof(SEAL_ORIGIN);
	if (!take(&p, end, "run", s->run, sizeof(s->run)) ||
	    !take(&p, end, "dir", s->dir, sizeof(s->dir)) ||
	    !take(&p, end, "plan", s->plan, sizeof(s->plan)) ||
	    !take(&p, end, "plan-sha256", s->plan_sha256,
	    sizeof(s->plan_sha256)) ||
	    !take(&p, end, "tagmanifest-sha256", s->tagmanifest_sha256,
	    sizeof(s->tagmanifest_sha256)) ||
	    !take(&p, end, "audit-head", s->audit_head,
	    sizeof(s->audit_head)) || p != end ||
	    !is_hex64(s->plan_sha256) || !is_hex64(s->tagmanifest_sha256) ||
	    !is_hex64(s->audit_head))
		return mig_seterr(ctx, MIG_ERR_FORMAT, "malformed seal body");
	return 0;
}

/*
 * Finds "— migrate-audit B64" among the signature lines that carries the
 * key id of pub; 1 when found (sig filled), 0 when none does.
 */
static int
find_sig(const char *sigs, size_t len, const char *name,
    const unsigned char id[4], unsigned char sig[MIG_SIGN_SIGLEN],
    struct mig_ctx *ctx)
{
	char pre[sizeof(SIG_PREFIX) + NOTE_NAME_MAX + 1];
	const char *p = sigs, *end = sigs + len, *nl;
	unsigned char blob[4 + MIG_SIGN_SIGLEN];
	size_t plen;
	int nlines = 0;

	plen = (size_t)snprintf(pre, sizeof(pre), SIG_PREFIX "%s ", name);

	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL ||
		    ++nlines > 100 || strncmp(p, SIG_PREFIX, 4) != 0)
			return mig_seterr(ctx, MIG_ERR_FORMAT, "malformed "
			    "signature line in the seal");
		if ((size_t)(nl - p) != plen + SIG_B64LEN ||
		    memcmp(p, pre, plen) != 0)
			continue;	/* another signer: ignored */
		/* Strict base64: one text per signature. */
		if (mig_base64_decode(p + plen, SIG_B64LEN, blob,
		    sizeof(blob)) != (long)sizeof(blob) ||
		    memcmp(blob, id, 4) != 0)
			continue;
		memcpy(sig, blob + 4, MIG_SIGN_SIGLEN);
		return 1;
	}
	return 0;
}

int
mig_note_open(const char *note, size_t len, const char *name,
    const struct mig_sign_key *pub, size_t *textlenp, struct mig_ctx *ctx)
{
	unsigned char id[4], sig[MIG_SIGN_SIGLEN];
	const char *split = NULL, *p;
	size_t tlen, i;
	int r;

	*textlenp = 0;
	if (!name_ok(name))
		return mig_seterr(ctx, MIG_ERR_USAGE, "signed note: bad key "
		    "name");
	if (len == 0 || len > MIG_SEAL_MAX || note[len - 1] != '\n')
		return mig_seterr(ctx, MIG_ERR_FORMAT, "not a signed note "
		    "(empty, too long or not ending in a newline)");
	for (i = 0; i < len; i++)
		if ((unsigned char)note[i] < 0x20 && note[i] != '\n')
			return mig_seterr(ctx, MIG_ERR_FORMAT, "control "
			    "character in a signed note");
	/* The text ends at the last blank line: signatures follow it. */
	for (p = note; p + 1 < note + len; p++)
		if (p[0] == '\n' && p[1] == '\n')
			split = p;
	if (split == NULL)
		return mig_seterr(ctx, MIG_ERR_FORMAT, "the note has no "
		    "signature");
	tlen = (size_t)(split - note) + 1;
	if ((r = key_id(pub, name, id, ctx)) != 0)
		return r;
	r = find_sig(split + 2, len - tlen - 1, name, id, sig, ctx);
	if (r < 0)
		return r;
	if (r == 0)
		return mig_seterr(ctx, MIG_ERR_VERIFY, "no signature by key %s "
		    "(key id %02x%02x%02x%02x)", name, id[0], id[1], id[2],
		    id[3]);
	if (mig_sign_verify(pub, note, tlen, sig, ctx) != 0)
		return mig_seterr(ctx, MIG_ERR_VERIFY, "the signature by %s "
		    "does not verify: signed by another key, or changed since",
		    name);
	*textlenp = tlen;
	return 0;
}

int
mig_seal_verify(const char *note, size_t len, const struct mig_sign_key *pub,
    struct mig_seal *s, struct mig_ctx *ctx)
{
	size_t tlen;
	int r;

	memset(s, 0, sizeof(*s));
	/* The text is parsed only once its signature holds. */
	if ((r = mig_note_open(note, len, SEAL_KEYNAME, pub, &tlen, ctx)) != 0)
		return mig_preferr(ctx, "seal");
	return parse_text(note, tlen, s, ctx);
}
