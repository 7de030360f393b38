/*
 * BagIt tag-file parsing (RFC 8493 section 2): bagit.txt, manifest and
 * fetch.txt lines, bag-info.txt, Payload-Oxum; path checks and the
 * percent-encoding of names; a small string hash table.
 *
 * Everything here works on untrusted bytes and is fuzzed
 * (tests/fuzz/fuzz_bag_manifest.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/error.h"

#define MIG_BAGIT_INTERNAL
#include "bagit_int.h"

/* --- Hash table -------------------------------------------------------- */

static uint64_t
hash_str(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a */

	for (; *p != '\0'; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	return h ^ (h >> 29);
}

int
mig_bag_htab_init(struct mig_bag_htab *h, size_t expect)
{
	size_t cap = 16;

	memset(h, 0, sizeof(*h));
	while (cap / 2 < expect) {
		if (cap > SIZE_MAX / 4 / sizeof(*h->vals))
			return MIG_ERR_NOMEM;
		cap *= 2;
	}
	h->keys = calloc(cap, sizeof(*h->keys));
	h->vals = calloc(cap, sizeof(*h->vals));
	if (h->keys == NULL || h->vals == NULL) {
		mig_bag_htab_free(h);
		return MIG_ERR_NOMEM;
	}
	h->cap = cap;
	return 0;
}

void
mig_bag_htab_free(struct mig_bag_htab *h)
{
	free(h->keys);
	free(h->vals);
	memset(h, 0, sizeof(*h));
}

static size_t
htab_slot(const struct mig_bag_htab *h, const char *key)
{
	size_t i = (size_t)hash_str(key) & (h->cap - 1);

	while (h->keys[i] != NULL && strcmp(h->keys[i], key) != 0)
		i = (i + 1) & (h->cap - 1);
	return i;
}

bool
mig_bag_htab_get(const struct mig_bag_htab *h, const char *key, size_t *val)
{
	size_t i;

	if (h->cap == 0)
		return false;
	i = htab_slot(h, key);
	if (h->keys[i] == NULL)
		return false;
	if (val != NULL)
		*val = h->vals[i];
	return true;
}

static int
htab_grow(struct mig_bag_htab *h)
{
	struct mig_bag_htab nh;
	size_t i, j;
	int r;

	if ((r = mig_bag_htab_init(&nh, h->cap)) != 0)
		return r;
	for (i = 0; i < h->cap; i++) {
		if (h->keys[i] == NULL)
			continue;
		j = htab_slot(&nh, h->keys[i]);
		nh.keys[j] = h->keys[i];
		nh.vals[j] = h->vals[i];
	}
	nh.n = h->n;
	mig_bag_htab_free(h);
	*h = nh;
	return 0;
}

int
mig_bag_htab_put(struct mig_bag_htab *h, const char *key, size_t val,
    bool *found, size_t *old)
{
	size_t i;
	int r;

	*found = false;
	if (h->cap == 0 || h->n + 1 > h->cap / 2) {
		if (h->cap == 0)
			r = mig_bag_htab_init(h, 8);
		else
			r = htab_grow(h);
		if (r != 0)
			return r;
	}
	i = htab_slot(h, key);
	if (h->keys[i] != NULL) {
		*found = true;
		if (old != NULL)
			*old = h->vals[i];
		return 0;
	}
	h->keys[i] = key;
	h->vals[i] = val;
	h->n++;
	return 0;
}

/* --- Lines ------------------------------------------------------------- */

void
mig_bag_lines_init(struct mig_bag_lines *it, const char *buf, size_t len)
{
	it->p = buf;
	it->end = buf + len;
	it->lineno = 0;
}

bool
mig_bag_lines_next(struct mig_bag_lines *it, const char **line, size_t *len)
{
	const char *s = it->p, *e;

	if (s >= it->end)
		return false;
	for (e = s; e < it->end && *e != '\n' && *e != '\r'; e++)
		;
	*line = s;
	*len = (size_t)(e - s);
	if (e < it->end && *e == '\r') {
		e++;
		if (e < it->end && *e == '\n')
			e++;	/* CRLF */
	} else if (e < it->end)
		e++;		/* LF */
	it->p = e;
	it->lineno++;
	return true;
}

static bool
is_lws(char c)
{
	return c == ' ' || c == '\t';
}

/* --- bagit.txt --------------------------------------------------------- */

static bool
copy_field(const char *s, size_t len, char *out, size_t outsz)
{
	if (len == 0 || len >= outsz || memchr(s, '\0', len) != NULL)
		return false;
	memcpy(out, s, len);
	out[len] = '\0';
	return true;
}

/* "M.N" with digits only. */
static bool
version_syntax_ok(const char *v)
{
	const char *p = v;

	if (*p < '0' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p++ != '.' || *p < '0' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9')
		p++;
	return *p == '\0';
}

int
mig_bag_parse_declaration(const char *buf, size_t len, char *version,
    size_t versionsz, char *encoding, size_t encsz, bool *had_bom,
    char *err, size_t errsz)
{
	static const char vlabel[] = "BagIt-Version:";
	static const char elabel[] = "Tag-File-Character-Encoding:";
	struct mig_bag_lines it;
	const char *line, *v;
	size_t n, vl;
	bool gotv = false, gote = false;

	version[0] = '\0';
	encoding[0] = '\0';
	*had_bom = false;
	if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
		*had_bom = true;
		buf += 3;
		len -= 3;
	}
	mig_bag_lines_init(&it, buf, len);
	while (mig_bag_lines_next(&it, &line, &n)) {
		if (n == 0)
			continue;
		if (n >= sizeof(vlabel) - 1 &&
		    memcmp(line, vlabel, sizeof(vlabel) - 1) == 0 && !gotv) {
			v = line + sizeof(vlabel) - 1;
			vl = n - (sizeof(vlabel) - 1);
			while (vl > 0 && is_lws(*v)) {
				v++;
				vl--;
			}
			while (vl > 0 && is_lws(v[vl - 1]))
				vl--;
			if (!copy_field(v, vl, version, versionsz) ||
			    !version_syntax_ok(version)) {
				(void)snprintf(err, errsz, "line %zu: bad "
				    "BagIt-Version", it.lineno);
				return MIG_ERR_FORMAT;
			}
			gotv = true;
		} else if (n >= sizeof(elabel) - 1 &&
		    memcmp(line, elabel, sizeof(elabel) - 1) == 0 && !gote) {
			v = line + sizeof(elabel) - 1;
			vl = n - (sizeof(elabel) - 1);
			while (vl > 0 && is_lws(*v)) {
				v++;
				vl--;
			}
			while (vl > 0 && is_lws(v[vl - 1]))
				vl--;
			if (!copy_field(v, vl, encoding, encsz)) {
				(void)snprintf(err, errsz, "line %zu: bad "
				    "Tag-File-Character-Encoding", it.lineno);
				return MIG_ERR_FORMAT;
			}
			gote = true;
		} else {
			(void)snprintf(err, errsz, "line %zu: unexpected line "
			    "(only BagIt-Version and "
			    "Tag-File-Character-Encoding are allowed)",
			    it.lineno);
			return MIG_ERR_FORMAT;
		}
	}
	if (!gotv || !gote) {
		(void)snprintf(err, errsz, "missing %s", !gotv ?
		    "BagIt-Version" : "Tag-File-Character-Encoding");
		return MIG_ERR_FORMAT;
	}
	return 0;
}

/* --- Paths ------------------------------------------------------------- */

const char *
mig_bag_path_problem(const char *path, size_t len)
{
	size_t i, start = 0, clen;

	if (len == 0)
		return "empty path";
	if (memchr(path, '\0', len) != NULL)
		return "NUL in path";
	if (path[0] == '/')
		return "absolute path";
	for (i = 0; i <= len; i++) {
		if (i < len && path[i] != '/')
			continue;
		clen = i - start;
		if (clen == 0)
			return "empty path component";
		if (clen == 1 && path[start] == '.')
			return "\".\" path component";
		if (clen == 2 && path[start] == '.' && path[start + 1] == '.')
			return "\"..\" escapes the bag";
		start = i + 1;
	}
	return NULL;
}

char *
mig_bag_path_encode(const char *path)
{
	size_t n = 0;
	const char *p;
	char *out, *o;

	for (p = path; *p != '\0'; p++)
		n += (*p == '\n' || *p == '\r' || *p == '%') ? 3 : 1;
	if ((out = malloc(n + 1)) == NULL)
		return NULL;
	for (o = out, p = path; *p != '\0'; p++) {
		if (*p == '\n')
			memcpy(o, "%0A", 3);
		else if (*p == '\r')
			memcpy(o, "%0D", 3);
		else if (*p == '%')
			memcpy(o, "%25", 3);
		else {
			*o++ = *p;
			continue;
		}
		o += 3;
	}
	*o = '\0';
	return out;
}

/* Copies s[0..len) decoding only %0A, %0D and %25 (any hex case). */
static char *
path_decode(const char *s, size_t len, bool decode)
{
	char *out, *o;
	size_t i;

	if ((out = malloc(len + 1)) == NULL)
		return NULL;
	for (o = out, i = 0; i < len; i++) {
		if (decode && s[i] == '%' && len - i >= 3) {
			char a = s[i + 1], b = s[i + 2];

			if (a == '0' && (b == 'A' || b == 'a')) {
				*o++ = '\n';
				i += 2;
				continue;
			}
			if (a == '0' && (b == 'D' || b == 'd')) {
				*o++ = '\r';
				i += 2;
				continue;
			}
			if (a == '2' && b == '5') {
				*o++ = '%';
				i += 2;
				continue;
			}
		}
		*o++ = s[i];
	}
	*o = '\0';
	return out;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* --- Manifest and fetch lines ------------------------------------------ */

int
mig_bag_parse_manifest_line(const char *line, size_t len, size_t dlen,
    bool decode, unsigned char *digest, char **pathp, const char **why)
{
	size_t i = 0, hs, hl, k;
	int hi, lo;

	*pathp = NULL;
	*why = NULL;
	while (i < len && is_lws(line[i]))
		i++;
	hs = i;
	while (i < len && !is_lws(line[i]))
		i++;
	hl = i - hs;
	if (hl == 0) {
		*why = "no checksum";
		return MIG_ERR_FORMAT;
	}
	if (i == len) {
		*why = "no file path after the checksum";
		return MIG_ERR_FORMAT;
	}
	if (hl != dlen * 2) {
		*why = "checksum has the wrong length for the algorithm";
		return MIG_ERR_FORMAT;
	}
	for (k = 0; k < dlen; k++) {
		hi = hexval(line[hs + 2 * k]);
		lo = hexval(line[hs + 2 * k + 1]);
		if (hi < 0 || lo < 0) {
			*why = "checksum is not hexadecimal";
			return MIG_ERR_FORMAT;
		}
		digest[k] = (unsigned char)(hi * 16 + lo);
	}
	while (i < len && is_lws(line[i]))
		i++;
	if (i == len) {
		*why = "no file path after the checksum";
		return MIG_ERR_FORMAT;
	}
	if (memchr(line + i, '\0', len - i) != NULL) {
		*why = "NUL in path";
		return MIG_ERR_FORMAT;
	}
	if ((*pathp = path_decode(line + i, len - i, decode)) == NULL)
		return MIG_ERR_NOMEM;
	return 0;
}

int
mig_bag_parse_fetch_line(const char *line, size_t len, bool decode,
    int64_t *size, char **pathp, const char **why)
{
	size_t i = 0, us, ls, ll, k;
	uint64_t v = 0;

	*pathp = NULL;
	*why = NULL;
	*size = -1;
	while (i < len && is_lws(line[i]))
		i++;
	us = i;
	while (i < len && !is_lws(line[i]))
		i++;
	if (i == us) {
		*why = "no URL";
		return MIG_ERR_FORMAT;
	}
	while (i < len && is_lws(line[i]))
		i++;
	ls = i;
	while (i < len && !is_lws(line[i]))
		i++;
	ll = i - ls;
	while (i < len && is_lws(line[i]))
		i++;
	if (ll == 0 || i == len) {
		*why = "expected URL, LENGTH and PATH";
		return MIG_ERR_FORMAT;
	}
	if (!(ll == 1 && line[ls] == '-')) {
		if (ll > 19) {
			*why = "LENGTH is too large";
			return MIG_ERR_FORMAT;
		}
		for (k = 0; k < ll; k++) {
			if (line[ls + k] < '0' || line[ls + k] > '9') {
				*why = "LENGTH is not a number or \"-\"";
				return MIG_ERR_FORMAT;
			}
			v = v * 10 + (uint64_t)(line[ls + k] - '0');
		}
		if (v > INT64_MAX) {
			*why = "LENGTH is too large";
			return MIG_ERR_FORMAT;
		}
		*size = (int64_t)v;
	}
	if (memchr(line + i, '\0', len - i) != NULL) {
		*why = "NUL in path";
		return MIG_ERR_FORMAT;
	}
	if ((*pathp = path_decode(line + i, len - i, decode)) == NULL)
		return MIG_ERR_NOMEM;
	return 0;
}

/* --- bag-info.txt ------------------------------------------------------ */

struct sbuf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

static int
sbuf_add(struct sbuf *b, const char *s, size_t n)
{
	char *np;
	size_t ncap;

	if (b->cap - b->len <= n) {
		if (n > SIZE_MAX / 2 - b->len - 16)
			return MIG_ERR_NOMEM;
		ncap = (b->len + n + 1) * 2;
		if ((np = realloc(b->p, ncap)) == NULL)
			return MIG_ERR_NOMEM;
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int
mig_bag_parse_info(const char *buf, size_t len, mig_bag_info_cb cb,
    mig_bag_info_err_cb errcb, void *arg)
{
	struct mig_bag_lines it;
	struct sbuf label = { NULL, 0, 0 }, value = { NULL, 0, 0 };
	const char *line, *colon, *v;
	size_t n, ll, vl;
	bool pending = false;
	int r = 0;

	if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
		buf += 3;
		len -= 3;
	}
	mig_bag_lines_init(&it, buf, len);
	while (mig_bag_lines_next(&it, &line, &n)) {
		if (n > 0 && memchr(line, '\0', n) != NULL) {
			errcb(arg, it.lineno, "NUL character");
			continue;
		}
		if (n > 0 && is_lws(line[0])) {
			v = line;
			vl = n;
			while (vl > 0 && is_lws(*v)) {
				v++;
				vl--;
			}
			while (vl > 0 && is_lws(v[vl - 1]))
				vl--;
			if (!pending) {
				if (vl > 0)
					errcb(arg, it.lineno, "continuation "
					    "line without a label before it");
				continue;
			}
			if (vl == 0)
				continue;
			if ((value.len > 0 && (r = sbuf_add(&value, " ",
			    1)) != 0) || (r = sbuf_add(&value, v, vl)) != 0)
				goto out;
			continue;
		}
		if (pending) {
			pending = false;
			if ((r = cb(arg, label.p, value.p)) != 0)
				goto out;
		}
		if (n == 0)
			continue;
		if ((colon = memchr(line, ':', n)) == NULL) {
			errcb(arg, it.lineno, "expected \"Label: value\"");
			continue;
		}
		ll = (size_t)(colon - line);
		while (ll > 0 && is_lws(line[ll - 1]))
			ll--;
		if (ll == 0) {
			errcb(arg, it.lineno, "empty label");
			continue;
		}
		v = colon + 1;
		vl = n - (size_t)(v - line);
		while (vl > 0 && is_lws(*v)) {
			v++;
			vl--;
		}
		while (vl > 0 && is_lws(v[vl - 1]))
			vl--;
		label.len = 0;
		value.len = 0;
		if ((r = sbuf_add(&label, line, ll)) != 0 ||
		    (r = sbuf_add(&value, v, vl)) != 0)
			goto out;
		pending = true;
	}
	if (pending)
		r = cb(arg, label.p, value.p);
out:
	free(label.p);
	free(value.p);
	return r;
}

int
mig_bag_parse_oxum(const char *s, uint64_t *bytes, uint64_t *files)
{
	uint64_t v[2] = { 0, 0 };
	int part = 0;
	size_t digits = 0;

	for (; ; s++) {
		if (*s >= '0' && *s <= '9') {
			if (v[part] > (UINT64_MAX - 9) / 10)
				return MIG_ERR_FORMAT;
			v[part] = v[part] * 10 + (uint64_t)(*s - '0');
			digits++;
			continue;
		}
		if (digits == 0)
			return MIG_ERR_FORMAT;
		if (*s == '.' && part == 0) {
			part = 1;
			digits = 0;
			continue;
		}
		if (*s == '\0' && part == 1)
			break;
		return MIG_ERR_FORMAT;
	}
	*bytes = v[0];
	*files = v[1];
	return 0;
}
