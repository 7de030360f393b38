/*
 * age recipients and identities: parsing "age1..." and
 * "AGE-SECRET-KEY-1..." strings and files, passphrases, key generation.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "migrate/age.h"
#include <openssl/evp.h>

#include "migrate/error.h"
#include "migrate/keyfile.h"

#define MIG_CRYPTO_INTERNAL
#include "crypto_int.h"

#define HRP_RECIPIENT	"age"
#define HRP_IDENTITY	"age-secret-key-"

static void
key_wipe(struct mig_age_key *k)
{
	if (k->pass != NULL) {
		OPENSSL_cleanse(k->pass, k->passlen);
		free(k->pass);
	}
	EVP_PKEY_free(k->pkey);
	OPENSSL_cleanse(k, sizeof(*k));
}

/*
 * Appends *k to the array (*vp, *np); on success the array owns what k
 * held and *k is wiped.  The array is copied rather than realloc()ed so
 * that no freed block keeps a secret.
 */
static int
key_push(struct mig_age_key **vp, size_t *np, struct mig_age_key *k)
{
	struct mig_age_key *v;

	if (*np >= 100000)
		return MIG_ERR_USAGE;
	if ((v = calloc(*np + 1, sizeof(*v))) == NULL)
		return MIG_ERR_NOMEM;
	if (*vp != NULL) {
		memcpy(v, *vp, *np * sizeof(*v));
		OPENSSL_cleanse(*vp, *np * sizeof(*v));
		free(*vp);
	}
	v[*np] = *k;
	OPENSSL_cleanse(k, sizeof(*k));
	*vp = v;
	(*np)++;
	return 0;
}

/*
 * Decodes a Bech32 key of 32 bytes under hrp into out.  Returns 0 or
 * MIG_ERR_PARSE.
 */
static int
decode_key(const char *s, const char *hrp, unsigned char out[AGE_KEY_LEN])
{
	char *got = NULL;
	unsigned char *data = NULL;
	size_t len = 0;
	int rc;

	if ((rc = mig_bech32_decode(s, &got, &data, &len)) != 0)
		return rc == MIG_ERR_NOMEM ? rc : MIG_ERR_PARSE;
	if (strcmp(got, hrp) != 0 || len != AGE_KEY_LEN)
		rc = MIG_ERR_PARSE;
	else
		memcpy(out, data, AGE_KEY_LEN);
	if (data != NULL) {
		OPENSSL_cleanse(data, len);
		free(data);
	}
	free(got);
	return rc;
}

/* --- recipients ------------------------------------------------------- */

struct mig_age_recipients *
mig_age_recipients_new(void)
{
	return calloc(1, sizeof(struct mig_age_recipients));
}

void
mig_age_recipients_free(struct mig_age_recipients *rs)
{
	size_t i;

	if (rs == NULL)
		return;
	for (i = 0; i < rs->n; i++)
		key_wipe(&rs->v[i]);
	free(rs->v);
	free(rs);
}

size_t
mig_age_recipients_count(const struct mig_age_recipients *rs)
{
	return rs == NULL ? 0 : rs->n;
}

static bool
has_scrypt(const struct mig_age_recipients *rs)
{
	return rs->n == 1 && rs->v[0].kind == AGE_KIND_SCRYPT;
}

int
mig_age_recipients_add(struct mig_age_recipients *rs, const char *s,
    struct mig_ctx *ctx)
{
	struct mig_age_key k;
	int rc;

	memset(&k, 0, sizeof(k));
	if (has_scrypt(rs))
		return mig_seterr(ctx, MIG_ERR_USAGE,
		    "a passphrase cannot be mixed with other recipients");
	/*
	 * s is never echoed: it may be a line of a key file given where a
	 * recipients file belongs, and messages reach terminals, CI logs
	 * and the audit trail.  The caller names the line or argument.
	 */
	if (strncasecmp(s, "AGE-SECRET-KEY-", 15) == 0)
		return mig_seterr(ctx, MIG_ERR_PARSE, "an identity "
		    "(AGE-SECRET-KEY-1...), not a recipient (age1...); give "
		    "the recipient instead: the \"# public key:\" line of the "
		    "identity file, which migrate keygen also prints");
	if (strncmp(s, "age1", 4) != 0 && strncmp(s, "AGE1", 4) != 0)
		return mig_seterr(ctx, MIG_ERR_PARSE,
		    "not an age recipient (age1...)");
	if ((rc = decode_key(s, HRP_RECIPIENT, k.key)) != 0)
		return mig_seterr(ctx, rc, "invalid age recipient (bad "
		    "characters, length or checksum)");
	k.kind = AGE_KIND_X25519;
	/* Built once: every file's stanza derives with it (issue 20). */
	k.pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, k.key,
	    AGE_KEY_LEN);
	if (k.pkey == NULL)
		return mig_seterr_ssl(ctx, MIG_ERR_CRYPTO,
		    "X25519 key failed");
	if (key_push(&rs->v, &rs->n, &k) != 0) {
		EVP_PKEY_free(k.pkey);
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	}
	return 0;
}

int
mig_age_recipients_add_passphrase(struct mig_age_recipients *rs,
    const char *pass, size_t passlen, int logn, struct mig_ctx *ctx)
{
	struct mig_age_key k;

	memset(&k, 0, sizeof(k));
	if (rs->n > 0)
		return mig_seterr(ctx, MIG_ERR_USAGE,
		    "a passphrase cannot be mixed with other recipients");
	if (passlen == 0)
		return mig_seterr(ctx, MIG_ERR_USAGE, "empty passphrase");
	if (logn == 0)
		logn = MIG_AGE_SCRYPT_LOGN;
	if (logn < 1 || logn > 30)
		return mig_seterr(ctx, MIG_ERR_USAGE,
		    "scrypt work factor %d out of range 1..30", logn);
	k.kind = AGE_KIND_SCRYPT;
	k.logn = logn;
	k.passlen = passlen;
	if ((k.pass = malloc(passlen)) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	memcpy(k.pass, pass, passlen);
	if (key_push(&rs->v, &rs->n, &k) != 0) {
		key_wipe(&k);
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	}
	return 0;
}

/*
 * Calls fn on every line of text that is not blank or a '#' comment,
 * with trailing whitespace (and a CR) removed.  The line is copied into a
 * scratch buffer that is wiped afterwards: identity lines are secrets.
 */
static int
each_line(const char *text, size_t len, const char *name,
    int (*fn)(void *arg, const char *line, const char *name, size_t lineno,
    struct mig_ctx *ctx), void *arg, struct mig_ctx *ctx)
{
	const char *p = text, *end = text + len, *nl;
	char *line;
	size_t n, lineno = 0, cap = 0;
	int rc = 0;

	line = NULL;
	while (p < end) {
		lineno++;
		nl = memchr(p, '\n', (size_t)(end - p));
		n = nl == NULL ? (size_t)(end - p) : (size_t)(nl - p);
		if (memchr(p, '\0', n) != NULL) {
			rc = mig_seterr(ctx, MIG_ERR_PARSE,
			    "%s:%zu: NUL byte in key file", name, lineno);
			break;
		}
		if (n + 1 > cap) {
			if (line != NULL) {
				OPENSSL_cleanse(line, cap);
				free(line);
			}
			cap = n + 1;
			if ((line = malloc(cap)) == NULL) {
				rc = mig_seterr(ctx, MIG_ERR_NOMEM,
				    "out of memory");
				cap = 0;
				break;
			}
		}
		memcpy(line, p, n);
		while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t' ||
		    line[n - 1] == '\r'))
			n--;
		line[n] = '\0';
		p = nl == NULL ? end : nl + 1;
		if (n == 0 || line[0] == '#')
			continue;
		if ((rc = fn(arg, line, name, lineno, ctx)) != 0)
			break;
	}
	if (line != NULL) {
		OPENSSL_cleanse(line, cap);
		free(line);
	}
	return rc;
}

static int
add_recipient_line(void *arg, const char *line, const char *name,
    size_t lineno, struct mig_ctx *ctx)
{
	int rc;

	if ((rc = mig_age_recipients_add(arg, line, ctx)) != 0)
		return mig_preferr(ctx, "%s:%zu", name, lineno);
	return 0;
}

int
mig_age_recipients_parse(struct mig_age_recipients *rs, const char *text,
    size_t len, const char *name, struct mig_ctx *ctx)
{
	size_t before = rs->n;
	int rc;

	rc = each_line(text, len, name, add_recipient_line, rs, ctx);
	if (rc == 0 && rs->n == before)
		rc = mig_seterr(ctx, MIG_ERR_PARSE, "%s: no recipients", name);
	return rc;
}

int
mig_age_recipients_load(struct mig_age_recipients *rs, const char *path,
    struct mig_ctx *ctx)
{
	char *buf;
	size_t len;
	int rc;

	if ((rc = mig_keyfile_read(path, false, &buf, &len, ctx)) != 0)
		return rc;
	rc = mig_age_recipients_parse(rs, buf, len, path, ctx);
	mig_keyfile_free(buf, len);
	return rc;
}

/* --- identities ------------------------------------------------------- */

struct mig_age_identities *
mig_age_identities_new(void)
{
	struct mig_age_identities *ids;

	if ((ids = calloc(1, sizeof(*ids))) == NULL)
		return NULL;
	ids->max_logn = MIG_AGE_SCRYPT_MAX_LOGN;
	return ids;
}

void
mig_age_identities_free(struct mig_age_identities *ids)
{
	size_t i;

	if (ids == NULL)
		return;
	for (i = 0; i < ids->n; i++)
		key_wipe(&ids->v[i]);
	free(ids->v);
	free(ids);
}

size_t
mig_age_identities_count(const struct mig_age_identities *ids)
{
	return ids == NULL ? 0 : ids->n;
}

void
mig_age_identities_set_max_logn(struct mig_age_identities *ids, int logn)
{
	ids->max_logn = logn;
}

int
mig_age_identities_add(struct mig_age_identities *ids, const char *s,
    struct mig_ctx *ctx)
{
	struct mig_age_key k;
	int rc;

	memset(&k, 0, sizeof(k));
	if (strncmp(s, "AGE-SECRET-KEY-1", 16) != 0 &&
	    strncmp(s, "age-secret-key-1", 16) != 0)
		return mig_seterr(ctx, MIG_ERR_PARSE,
		    "not an age identity (AGE-SECRET-KEY-1...)");
	if ((rc = decode_key(s, HRP_IDENTITY, k.key)) != 0)
		return mig_seterr(ctx, rc, "invalid age identity");
	k.kind = AGE_KIND_X25519;
	/* Built once here, not once per file to decrypt. */
	k.pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, k.key,
	    AGE_KEY_LEN);
	if (k.pkey == NULL) {
		key_wipe(&k);
		return mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "X25519 key failed");
	}
	if ((rc = mig_age_x25519_base(k.key, k.pub, ctx)) != 0) {
		key_wipe(&k);
		return rc;
	}
	if (key_push(&ids->v, &ids->n, &k) != 0) {
		key_wipe(&k);
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	}
	return 0;
}

int
mig_age_identities_add_passphrase(struct mig_age_identities *ids,
    const char *pass, size_t passlen, struct mig_ctx *ctx)
{
	struct mig_age_key k;

	memset(&k, 0, sizeof(k));
	k.kind = AGE_KIND_SCRYPT;
	k.passlen = passlen;
	if ((k.pass = malloc(passlen + 1)) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	memcpy(k.pass, pass, passlen);
	if (key_push(&ids->v, &ids->n, &k) != 0) {
		key_wipe(&k);
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	}
	return 0;
}

static int
add_identity_line(void *arg, const char *line, const char *name,
    size_t lineno, struct mig_ctx *ctx)
{
	int rc;

	if ((rc = mig_age_identities_add(arg, line, ctx)) != 0)
		return mig_preferr(ctx, "%s:%zu", name, lineno);
	return 0;
}

int
mig_age_identities_parse(struct mig_age_identities *ids, const char *text,
    size_t len, const char *name, struct mig_ctx *ctx)
{
	size_t before = ids->n;
	int rc;

	rc = each_line(text, len, name, add_identity_line, ids, ctx);
	if (rc == 0 && ids->n == before)
		rc = mig_seterr(ctx, MIG_ERR_PARSE, "%s: no identities", name);
	return rc;
}

int
mig_age_identities_load(struct mig_age_identities *ids, const char *path,
    struct mig_ctx *ctx)
{
	char *buf;
	size_t len;
	int rc;

	if ((rc = mig_keyfile_read(path, true, &buf, &len, ctx)) != 0)
		return rc;
	rc = mig_age_identities_parse(ids, buf, len, path, ctx);
	mig_keyfile_free(buf, len);
	return rc;
}

/* --- key generation --------------------------------------------------- */

int
mig_age_identity_to_recipient(const char *secret, char **recipientp,
    struct mig_ctx *ctx)
{
	unsigned char sk[AGE_KEY_LEN], pk[AGE_KEY_LEN];
	int rc;

	*recipientp = NULL;
	if ((rc = decode_key(secret, HRP_IDENTITY, sk)) != 0) {
		rc = mig_seterr(ctx, rc, "invalid age identity");
		goto out_wipe;
	}
	if ((rc = mig_age_x25519_base(sk, pk, ctx)) != 0)
		goto out_wipe;
	if (mig_bech32_encode(HRP_RECIPIENT, pk, AGE_KEY_LEN, false,
	    recipientp) != 0)
		rc = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
out_wipe:
	OPENSSL_cleanse(sk, sizeof(sk));
	return rc;
}

int
mig_age_keygen(char **secretp, char **recipientp, struct mig_ctx *ctx)
{
	unsigned char sk[AGE_KEY_LEN], pk[AGE_KEY_LEN];
	char *secret = NULL, *recipient = NULL;
	int rc;

	*secretp = NULL;
	*recipientp = NULL;
	if ((rc = mig_age_random(sk, sizeof(sk), ctx)) != 0 ||
	    (rc = mig_age_x25519_base(sk, pk, ctx)) != 0)
		goto out_wipe;
	if (mig_bech32_encode(HRP_IDENTITY, sk, AGE_KEY_LEN, true,
	    &secret) != 0 ||
	    mig_bech32_encode(HRP_RECIPIENT, pk, AGE_KEY_LEN, false,
	    &recipient) != 0) {
		rc = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_wipe;
	}
	*secretp = secret;
	*recipientp = recipient;
	secret = NULL;
	recipient = NULL;
out_wipe:
	if (secret != NULL) {
		OPENSSL_cleanse(secret, strlen(secret));
		free(secret);
	}
	free(recipient);
	OPENSSL_cleanse(sk, sizeof(sk));
	return rc;
}

/* RFC 3339 local time with its offset, as age-keygen writes it. */
static void
format_now(char *buf, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;
	long off;
	size_t n;

	if (localtime_r(&now, &tm) == NULL) {
		(void)gmtime_r(&now, &tm);
		tm.tm_gmtoff = 0;
	}
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	off = tm.tm_gmtoff / 60;
	if (off == 0)
		(void)snprintf(buf + n, len - n, "Z");
	else
		(void)snprintf(buf + n, len - n, "%c%02ld:%02ld",
		    off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60);
}

int
mig_age_keygen_text(char **textp, char **recipientp, struct mig_ctx *ctx)
{
	char *secret = NULL, *recipient = NULL, *text = NULL, when[64];
	size_t len;
	int rc, n;

	*textp = NULL;
	*recipientp = NULL;
	if ((rc = mig_age_keygen(&secret, &recipient, ctx)) != 0)
		return rc;
	format_now(when, sizeof(when));
	len = strlen(when) + strlen(recipient) + strlen(secret) + 64;
	if ((text = malloc(len)) == NULL) {
		rc = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_free;
	}
	n = snprintf(text, len, "# created: %s\n# public key: %s\n%s\n",
	    when, recipient, secret);
	if (n < 0 || (size_t)n >= len) {
		rc = mig_seterr(ctx, MIG_ERR_INTERNAL, "keygen: truncated");
		OPENSSL_cleanse(text, len);
		free(text);
		goto out_free;
	}
	*textp = text;
	*recipientp = recipient;
	recipient = NULL;
out_free:
	OPENSSL_cleanse(secret, strlen(secret));
	free(secret);
	free(recipient);
	return rc;
}

int
mig_age_keygen_file(const char *path, char **recipientp,
    struct mig_ctx *ctx)
{
	char *text = NULL, *recipient = NULL;
	size_t len, off = 0;
	ssize_t n;
	int fd, rc;

	*recipientp = NULL;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0)
		return mig_seterr(ctx, errno == EEXIST ? MIG_ERR_EXISTS :
		    MIG_ERR_IO, "%s: %s", path, errno == EEXIST ?
		    "already exists, refusing to overwrite" : strerror(errno));
	if ((rc = mig_age_keygen_text(&text, &recipient, ctx)) != 0)
		goto out_unlink;
	len = strlen(text);
	while (off < len) {
		n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = mig_seterr(ctx, MIG_ERR_IO, "%s: %s", path,
			    strerror(errno));
			goto out_unlink;
		}
		off += (size_t)n;
	}
	if (fsync(fd) != 0) {
		rc = mig_seterr(ctx, MIG_ERR_IO, "%s: %s", path,
		    strerror(errno));
		goto out_unlink;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = mig_seterr(ctx, MIG_ERR_IO, "%s: %s", path,
		    strerror(errno));
		goto out_unlink;
	}
	fd = -1;
	*recipientp = recipient;
	recipient = NULL;
out_unlink:
	if (rc != 0) {
		if (fd >= 0)
			close(fd);
		(void)unlink(path);
	}
	if (text != NULL) {
		OPENSSL_cleanse(text, strlen(text));
		free(text);
	}
	free(recipient);
	return rc;
}
