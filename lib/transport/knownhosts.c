/*
 * The SFTP host key policy: OpenSSH's known_hosts semantics.
 *
 * A line is "[MARKER] HOSTS KEYTYPE BASE64 [COMMENT]".  HOSTS is either a
 * comma-separated list of patterns ('*', '?', "!pattern" negation; a
 * negated match makes the whole line not match) or one hashed name
 * "|1|SALT|HASH".  The name matched is the host, or "[host]:port" when the
 * port is not 22, in lower case (OpenSSH lowercases it too).  Where lines
 * disagree the strongest wins: a matching @revoked line holding the
 * server's key refuses it whatever other lines say; a matching
 * @cert-authority line refuses the connection, because host certificates
 * are not supported here and skipping the line would hide that the file
 * means this host to be checked by certificate; then a matching line
 * with the key accepts it.
 *
 * Unlike OpenSSH, a matching @revoked line whose key cannot be read also
 * refuses (OpenSSH skips it): it cannot be told which key it revokes.
 * Other malformed lines are skipped, as OpenSSH does.
 */
#define MIG_TRANSPORT_INTERNAL

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "migrate/error.h"

#include "knownhosts_int.h"

#define KH_HASH_MAGIC		"|1|"
#define KH_SHA1_LEN		20
#define KH_NAME_MAX		300

/* What a host field says about a name. */
enum kh_host {
	KH_HOST_NO = 0,
	KH_HOST_YES,
	KH_HOST_NEGATED,
	KH_HOST_BAD
};

/* ASCII only: host names are compared without the locale. */
static unsigned char
lc(unsigned char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (unsigned char)(ch - 'A' + 'a') : ch;
}

static bool
is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

int
mig_kh_hostname(const char *host, int port, char *buf, size_t len)
{
	size_t i;
	int n;

	if (port == MIG_KH_DEFAULT_PORT)
		n = snprintf(buf, len, "%s", host);
	else
		n = snprintf(buf, len, "[%s]:%d", host, port);
	if (n < 0 || (size_t)n >= len)
		return -1;
	for (i = 0; buf[i] != '\0'; i++)
		buf[i] = (char)lc((unsigned char)buf[i]);
	return 0;
}

/*
 * The classic two-pointer glob: on a mismatch, go back to just after the
 * last '*' and let it swallow one more character.  Only the last '*'
 * needs remembering, since an earlier one can never do better.
 */
bool
mig_kh_match_pattern(const char *name, size_t namelen, const char *pat,
    size_t patlen)
{
	size_t n = 0, p = 0, star = SIZE_MAX, mark = 0;
	bool ok = true;

	while (n < namelen) {
		if (p < patlen && pat[p] == '*') {
			star = ++p;
			mark = n;
		} else if (p < patlen && (pat[p] == '?' ||
		    lc((unsigned char)pat[p]) == lc((unsigned char)name[n]))) {
			p++;
			n++;
		} else if (star != SIZE_MAX) {
			p = star;
			n = ++mark;
		} else {
			ok = false;
			break;
		}
	}
	while (ok && p < patlen && pat[p] == '*')
		p++;
	return ok && p == patlen;
}

/*
 * As OpenSSH's match_pattern_list(), except that no pattern is too long
 * (OpenSSH calls the whole list a mismatch at a pattern of 1,023
 * characters or more, even after a negated match would have counted).
 */
int
mig_kh_match_list(const char *name, const char *list, size_t len)
{
	size_t namelen = strlen(name), i = 0, j;
	bool neg;
	int r = 0;

	while (i < len && r >= 0) {
		neg = list[i] == '!';
		if (neg)
			i++;
		for (j = i; j < len && list[j] != ','; j++)
			continue;
		if (mig_kh_match_pattern(name, namelen, list + i, j - i))
			r = neg ? -1 : 1;
		i = j < len ? j + 1 : j;
	}
	return r;
}

static int
b64val(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

/*
 * Canonical padded base64 only, as OpenSSH's b64_pton() demands: length a
 * multiple of four, '=' only as padding, zero bits after the last byte.
 * Writes at most cap bytes.  Returns 0, or -1.
 */
static int
b64_decode(const char *s, size_t slen, unsigned char *out, size_t cap,
    size_t *outlenp)
{
	size_t pad = 0, n, i, k, o = 0;
	uint32_t v = 0;
	int d = 0;

	if (slen == 0 || slen % 4 != 0)
		return -1;
	if (s[slen - 1] == '=')
		pad++;
	if (s[slen - 2] == '=')
		pad++;
	n = slen / 4 * 3 - pad;
	for (i = 0; n <= cap && d >= 0 && i < slen; i += 4) {
		v = 0;
		for (k = 0; k < 4 && d >= 0; k++) {
			d = i + k < slen - pad ? b64val((unsigned char)s[i + k]) :
			    0;
			v = v << 6 | (uint32_t)(d & 63);
		}
		for (k = 0; k < 3 && o < n; k++)
			out[o++] = (unsigned char)(v >> (16 - 8 * k));
	}
	/* Bits past the last byte are zero: one spelling per blob. */
	if (n > cap || d < 0 ||
	    (v & (pad == 2 ? 0xffffu : pad == 1 ? 0xffu : 0)) != 0)
		return -1;
	*outlenp = n;
	return 0;
}

int
mig_kh_match_hashed(const char *name, const char *field, size_t len)
{
	unsigned char salt[KH_SHA1_LEN], want[KH_SHA1_LEN];
	unsigned char got[EVP_MAX_MD_SIZE];
	const char *s, *bar;
	size_t saltlen = 0, wantlen = 0, gotlen = 0, magic;
	int r;

	magic = strlen(KH_HASH_MAGIC);
	if (len < magic || memcmp(field, KH_HASH_MAGIC, magic) != 0)
		return -1;
	s = field + magic;
	if ((bar = memchr(s, '|', len - magic)) == NULL ||
	    b64_decode(s, (size_t)(bar - s), salt, sizeof(salt),
	    &saltlen) != 0 || saltlen != KH_SHA1_LEN ||
	    b64_decode(bar + 1, len - magic - (size_t)(bar - s) - 1, want,
	    sizeof(want), &wantlen) != 0 || wantlen != KH_SHA1_LEN)
		r = -1;
	else if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA1", NULL, salt, saltlen,
	    (const unsigned char *)name, strlen(name), got, sizeof(got),
	    &gotlen) == NULL || gotlen != KH_SHA1_LEN)
		r = MIG_ERR_CRYPTO;
	else
		r = CRYPTO_memcmp(got, want, KH_SHA1_LEN) == 0;
	return r;
}

/* The end of the token that starts at i. */
static size_t
token_end(const char *line, size_t len, size_t i)
{
	while (i < len && !is_blank(line[i]))
		i++;
	return i;
}

static size_t
skip_blanks(const char *line, size_t len, size_t i)
{
	while (i < len && is_blank(line[i]))
		i++;
	return i;
}

/* OpenSSH's check_markers(): one marker at most, a known one. */
static int
parse_marker(const char *line, size_t len, size_t *ip,
    enum mig_kh_marker *markerp)
{
	static const char revoked[] = "@revoked";
	static const char ca[] = "@cert-authority";
	size_t i = *ip, j = token_end(line, len, i);
	int r = 0;

	if (j - i == sizeof(revoked) - 1 &&
	    memcmp(line + i, revoked, j - i) == 0)
		*markerp = MIG_KH_MARK_REVOKED;
	else if (j - i == sizeof(ca) - 1 && memcmp(line + i, ca, j - i) == 0)
		*markerp = MIG_KH_MARK_CA;
	else
		r = -1;
	i = skip_blanks(line, len, j);
	if (i == len || line[i] == '@')
		r = -1;
	*ip = i;
	return r;
}

int
mig_kh_parse_line(const char *line, size_t len, struct mig_kh_line *out)
{
	size_t i, j;

	memset(out, 0, sizeof(*out));
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	i = skip_blanks(line, len, 0);
	if (i == len || line[i] == '#')
		return 0;
	if (line[i] == '@' && parse_marker(line, len, &i, &out->marker) != 0)
		return -1;
	j = token_end(line, len, i);
	out->hosts = line + i;
	out->hostslen = j - i;
	i = skip_blanks(line, len, j);
	if (i < len) {
		j = token_end(line, len, i);
		out->type = line + i;
		out->typelen = j - i;
		i = skip_blanks(line, len, j);
	}
	if (i < len) {
		j = token_end(line, len, i);
		out->key = line + i;
		out->keylen = j - i;
	}
	return 1;
}

/* The type name an SSH key blob starts with. */
static int
blob_type(const unsigned char *blob, size_t len, const char **typep,
    size_t *typelenp)
{
	uint32_t n = 0;

	if (len >= 4)
		n = (uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 |
		    (uint32_t)blob[2] << 8 | blob[3];
	if (n == 0 || n > len - 4)
		return -1;
	*typep = (const char *)blob + 4;
	*typelenp = n;
	return 0;
}

int
mig_kh_key_decode(const char *type, size_t typelen, const char *b64,
    size_t b64len, unsigned char *out, size_t cap, size_t *outlenp)
{
	const char *t;
	size_t n = 0, tlen = 0;

	if (type == NULL || b64 == NULL ||
	    b64_decode(b64, b64len, out, cap, &n) != 0 ||
	    blob_type(out, n, &t, &tlen) != 0 || tlen != typelen ||
	    memcmp(t, type, typelen) != 0)
		return -1;
	*outlenp = n;
	return 0;
}

int
mig_kh_check_init(struct mig_kh_check *c, const char *name,
    const char *bare, const unsigned char *key, size_t keylen)
{
	memset(c, 0, sizeof(*c));
	c->name = name;
	c->bare = bare;
	c->key = key;
	c->keylen = keylen;
	return blob_type(key, keylen, &c->ktype, &c->ktypelen);
}

void
mig_kh_check_free(struct mig_kh_check *c)
{
	free(c->buf);
	c->buf = NULL;
	c->cap = 0;
}

/* Whether l's host field names name; MIG_ERR_CRYPTO when it cannot tell. */
static int
host_match(const char *name, const struct mig_kh_line *l, enum kh_host *hp)
{
	int m;

	if (l->hostslen > 0 && l->hosts[0] == '|') {
		/* One hashed name; no lists, wildcards or negation. */
		m = mig_kh_match_hashed(name, l->hosts, l->hostslen);
		if (m == MIG_ERR_CRYPTO)
			return m;
		*hp = m < 0 ? KH_HOST_BAD : m == 1 ? KH_HOST_YES : KH_HOST_NO;
	} else {
		m = mig_kh_match_list(name, l->hosts, l->hostslen);
		*hp = m < 0 ? KH_HOST_NEGATED : m == 1 ? KH_HOST_YES :
		    KH_HOST_NO;
	}
	return 0;
}

/*
 * Decodes l's key into c->buf.  *eqp: 1 when it is the server's key, 0
 * when another of the same type, -1 another type, -2 unreadable.
 */
static int
line_key(struct mig_kh_check *c, const struct mig_kh_line *l, int *eqp)
{
	unsigned char *p;
	size_t need = l->keylen / 4 * 3, n = 0;

	*eqp = -2;
	if (need > c->cap) {
		if ((p = realloc(c->buf, need)) == NULL)
			return MIG_ERR_NOMEM;
		c->buf = p;
		c->cap = need;
	}
	if (mig_kh_key_decode(l->type, l->typelen, l->key, l->keylen, c->buf,
	    c->cap, &n) != 0)
		return 0;
	if (n == c->keylen && memcmp(c->buf, c->key, n) == 0)
		*eqp = 1;
	else if (l->typelen == c->ktypelen &&
	    memcmp(l->type, c->ktype, c->ktypelen) == 0)
		*eqp = 0;
	else
		*eqp = -1;
	return 0;
}

static void
first(size_t *linep, size_t lineno)
{
	if (*linep == 0)
		*linep = lineno;
}

/*
 * A line without a marker that holds the server's key but does not match
 * the host: remember why, for the "unknown host" message.
 */
static int
note_miss(struct mig_kh_check *c, const struct mig_kh_line *l,
    enum kh_host h)
{
	enum kh_host hb = KH_HOST_NO;
	int r, eq;

	if ((r = line_key(c, l, &eq)) == 0 && eq == 1) {
		if (h == KH_HOST_NEGATED)
			first(&c->negated_line, c->lineno);
		else if (c->bare != NULL && c->portless_line == 0 &&
		    (r = host_match(c->bare, l, &hb)) == 0 &&
		    hb == KH_HOST_YES)
			first(&c->portless_line, c->lineno);
	}
	return r;
}

/* A line that names the host, with a key that is (eq) or is not it. */
static void
judge(struct mig_kh_check *c, enum mig_kh_marker marker, int eq)
{
	if (eq == -2) {
		c->bad++;
		if (marker == MIG_KH_MARK_REVOKED)
			first(&c->revoked_bad_line, c->lineno);
	} else if (marker == MIG_KH_MARK_REVOKED) {
		if (eq == 1)
			first(&c->revoked_line, c->lineno);
	} else if (eq == 1)
		first(&c->ok_line, c->lineno);
	else if (eq == 0)
		first(&c->changed_line, c->lineno);
}

int
mig_kh_check_line(struct mig_kh_check *c, const char *line, size_t len)
{
	struct mig_kh_line l;
	enum kh_host h = KH_HOST_NO;
	int r, eq;

	c->lineno++;
	len = strnlen(line, len);
	if ((r = mig_kh_parse_line(line, len, &l)) <= 0) {
		if (r < 0)
			c->bad++;
		return 0;
	}
	if ((r = host_match(c->name, &l, &h)) != 0)
		return r;
	if (h == KH_HOST_BAD)
		c->bad++;
	else if (h != KH_HOST_YES) {
		if (l.marker == MIG_KH_MARK_NONE)
			r = note_miss(c, &l, h);
	} else if (l.marker == MIG_KH_MARK_CA)
		first(&c->ca_line, c->lineno);
	else if ((r = line_key(c, &l, &eq)) == 0)
		judge(c, l.marker, eq);
	return r;
}

enum mig_kh_verdict
mig_kh_check_verdict(const struct mig_kh_check *c, size_t *linep)
{
	static const enum mig_kh_verdict order[] = {
		MIG_KH_REVOKED, MIG_KH_REVOKED_BAD, MIG_KH_CA, MIG_KH_OK,
		MIG_KH_CHANGED
	};
	const size_t lines[] = {
		c->revoked_line, c->revoked_bad_line, c->ca_line, c->ok_line,
		c->changed_line
	};
	size_t i;

	_Static_assert(sizeof(order) / sizeof(order[0]) ==
	    sizeof(lines) / sizeof(lines[0]), "one line per verdict");
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		if (lines[i] != 0) {
			*linep = lines[i];
			return order[i];
		}
	}
	*linep = 0;
	return MIG_KH_UNKNOWN;
}

int
mig_kh_fingerprint(const unsigned char *key, size_t len, char *out,
    size_t outlen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned char b64[64];
	unsigned int mdlen = 0;
	int n;

	if (outlen < MIG_KH_FP_LEN ||
	    EVP_Digest(key, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		return -1;
	n = EVP_EncodeBlock(b64, md, 32);
	while (n > 0 && b64[n - 1] == '=')
		n--;
	(void)snprintf(out, outlen, "SHA256:%.*s", n, (const char *)b64);
	return 0;
}

/* Feeds every line of the file at path to c. */
static int
read_file(struct mig_ctx *ctx, const char *where, const char *path,
    const char *host, int port, struct mig_kh_check *c)
{
	FILE *fp;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int fd, e, r = 0;

	if (path == NULL)
		return mig_seterr(ctx, MIG_ERR_SECURITY, "%s: no known_hosts "
		    "file is configured; refusing to connect to a host whose "
		    "key cannot be verified", where);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		e = errno;
		if (e == ENOENT)
			return mig_seterr(ctx, MIG_ERR_SECURITY, "%s: known_hosts "
			    "%s: %s; refusing to connect to a host whose key "
			    "cannot be verified. Check the host key out of "
			    "band, then: ssh-keyscan -p %d %s >> %s", where,
			    path, strerror(e), port, host, path);
		return mig_seterr(ctx, MIG_ERR_SECURITY, "%s: cannot read "
		    "known_hosts %s: %s; refusing to connect to a host whose "
		    "key cannot be verified", where, path, strerror(e));
	}
	if ((fp = fdopen(fd, "r")) == NULL) {
		(void)close(fd);
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	}
	while (r == 0 && (n = getline(&line, &cap, fp)) > 0)
		r = mig_kh_check_line(c, line, (size_t)n);
	if (r == MIG_ERR_NOMEM)
		r = mig_seterr(ctx, r, "out of memory");
	else if (r != 0)
		r = mig_seterr_ssl(ctx, r, "%s: %s: host name hash", where,
		    path);
	else if (ferror(fp))
		r = mig_seterr(ctx, MIG_ERR_SECURITY, "%s: cannot read "
		    "known_hosts %s", where, path);
	free(line);
	(void)fclose(fp);
	return r;
}

/* What to check out of band and a command that records the key. */
struct kh_what {
	const char	*where;
	const char	*path;
	const char	*host;		/* as given */
	int		 port;
	const char	*name;		/* as matched */
	const char	*tname;
	const char	*fp;
};

/* The "unknown host" refusal, with the reason a line did not count. */
static int
refuse_unknown(struct mig_ctx *ctx, const struct kh_what *w,
    const struct mig_kh_check *c)
{
	char why[MIG_ERRMSG_MAX] = "";

	if (c->negated_line != 0)
		(void)snprintf(why, sizeof(why), " (%s:%zu holds this key but "
		    "excludes %s with a negated '!' pattern)", w->path,
		    c->negated_line, w->name);
	else if (c->portless_line != 0)
		(void)snprintf(why, sizeof(why), " (%s:%zu holds this key for "
		    "%s without a port, which means port 22 only; an entry "
		    "for this server names %s)", w->path, c->portless_line,
		    w->host, w->name);
	return mig_seterr(ctx, MIG_ERR_SECURITY, "%s: unknown host %s: its "
	    "%s key fingerprint is %s and %s has no key for it%s; refusing to "
	    "connect. Check the fingerprint out of band, then add the key "
	    "with: ssh-keyscan -p %d %s >> %s", w->where, w->name, w->tname,
	    w->fp, w->path, why, w->port, w->host, w->path);
}

/* MIG_ERR_SECURITY naming the line behind verdict v and the fix. */
static int
refuse(struct mig_ctx *ctx, const struct kh_what *w,
    const struct mig_kh_check *c, enum mig_kh_verdict v, size_t line)
{
	switch (v) {
	case MIG_KH_REVOKED:
		return mig_seterr(ctx, MIG_ERR_SECURITY, "%s: WARNING: REVOKED "
		    "HOST KEY: the %s host key %s of %s is marked @revoked in "
		    "%s:%zu; refusing to connect. A stolen key may be "
		    "impersonating the host. Get the host's new key from its "
		    "administrator, check its fingerprint out of band and "
		    "record it in %s", w->where, w->tname, w->fp, w->name,
		    w->path, line, w->path);
	case MIG_KH_REVOKED_BAD:
		return mig_seterr(ctx, MIG_ERR_SECURITY, "%s: %s:%zu: an "
		    "@revoked line for %s has an unreadable key, so whether it "
		    "revokes the %s host key %s cannot be told; refusing to "
		    "connect. Fix or remove that line", w->where, w->path,
		    line, w->name, w->tname, w->fp);
	case MIG_KH_CA:
		return mig_seterr(ctx, MIG_ERR_SECURITY, "%s: %s:%zu: a "
		    "@cert-authority line matches %s, but host certificates "
		    "are not supported; refusing to connect. The server offers "
		    "%s key %s: check it out of band, record it in a "
		    "known_hosts file of its own (ssh-keyscan -p %d %s > FILE) "
		    "and point the plan's known_hosts at FILE", w->where,
		    w->path, line, w->name, w->tname, w->fp, w->port, w->host);
	case MIG_KH_CHANGED:
		return mig_seterr(ctx, MIG_ERR_SECURITY, "%s: WARNING: REMOTE "
		    "HOST KEY CHANGED for %s: the server offers %s key %s, "
		    "which is not the key recorded in %s:%zu. Someone could be "
		    "eavesdropping on you right now (possible "
		    "man-in-the-middle attack), or the host key was replaced. "
		    "Refusing to connect. If the change is expected, verify "
		    "the new fingerprint out of band, remove the old entry "
		    "with: ssh-keygen -R '%s' -f %s, and add the new one",
		    w->where, w->name, w->tname, w->fp, w->path, line, w->name,
		    w->path);
	case MIG_KH_OK:
		return 0;
	case MIG_KH_UNKNOWN:
	default:
		return refuse_unknown(ctx, w, c);
	}
}

int
mig_kh_verify(struct mig_ctx *ctx, const char *where, const char *path,
    const char *host, int port, const unsigned char *key, size_t keylen,
    const char *tname)
{
	struct mig_kh_check c;
	struct kh_what w;
	enum mig_kh_verdict v;
	char fp[64], name[KH_NAME_MAX], bare[KH_NAME_MAX];
	size_t line = 0;
	int r;

	if (mig_kh_fingerprint(key, keylen, fp, sizeof(fp)) != 0)
		return mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "%s: host key "
		    "fingerprint", where);
	if (mig_kh_hostname(host, port, name, sizeof(name)) != 0 ||
	    mig_kh_hostname(host, MIG_KH_DEFAULT_PORT, bare,
	    sizeof(bare)) != 0)
		return mig_seterr(ctx, MIG_ERR_SECURITY, "%s: host name too "
		    "long to check against known_hosts", where);
	if (mig_kh_check_init(&c, name, port == MIG_KH_DEFAULT_PORT ? NULL :
	    bare, key, keylen) != 0)
		return mig_seterr(ctx, MIG_ERR_SECURITY, "%s: the server sent "
		    "a malformed %s host key %s; refusing to connect", where,
		    tname, fp);
	if ((r = read_file(ctx, where, path, host, port, &c)) == 0) {
		v = mig_kh_check_verdict(&c, &line);
		w = (struct kh_what){ .where = where, .path = path,
		    .host = host, .port = port, .name = name, .tname = tname,
		    .fp = fp };
		r = refuse(ctx, &w, &c, v, line);
	}
	mig_kh_check_free(&c);
	return r;
}
