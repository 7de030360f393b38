/*
 * A strict JSON scanner for one audit line.  It validates the whole line
 * (RFC 8259 grammar, UTF-8, no NUL) without allocating and records where
 * the top-level members the library knows are.  The writer uses jansson;
 * the verifier and `audit show' use this scanner because parsing each of
 * millions of lines into a jansson tree costs several times the SHA-256.
 */
#define MIG_AUDIT_INTERNAL
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <openssl/sha.h>

#include "migrate/util.h"

#include "audit_int.h"

#define SCAN_DEPTH_MAX	64

struct scanner {
	const unsigned char	*p;
	const unsigned char	*e;
	const char		*why;
};

static const struct {
	const char	*name;
	size_t		 len;
	enum audit_field f;
} known[] = {
	{ "v", 1, AF_V }, { "seq", 3, AF_SEQ }, { "ts", 2, AF_TS },
	{ "run", 3, AF_RUN }, { "plan", 4, AF_PLAN },
	{ "actor", 5, AF_ACTOR }, { "event", 5, AF_EVENT },
	{ "prev", 4, AF_PREV }, { "head", 4, AF_HEAD }, { "sig", 3, AF_SIG },
	{ "key", 3, AF_KEY }, { "object", 6, AF_OBJECT },
	{ "bytes", 5, AF_BYTES }, { "outcome", 7, AF_OUTCOME },
	{ "reason", 6, AF_REASON }, { "torn_offset", 11, AF_TORN_OFFSET },
	{ "torn_length", 11, AF_TORN_LENGTH },
	{ "torn_sha256", 11, AF_TORN_SHA256 },
};

/*
 * Byte classes: 1 for bytes that may stand for themselves in a string
 * (printable ASCII but '"' and '\\'), 2 for lowercase hex digits.
 */
static const unsigned char cls[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
	1, 3, 3, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static int
fail(struct scanner *sc, const char *why)
{
	if (sc->why == NULL)
		sc->why = why;
	return -1;
}

static void
skip_ws(struct scanner *sc)
{
	while (sc->p < sc->e && (*sc->p == ' ' || *sc->p == '\t' ||
	    *sc->p == '\r' || *sc->p == '\n'))
		sc->p++;
}

/* Reads the 4 hex digits after "\u" at p; -1 when malformed. */
static long
read_u4(const unsigned char *p, const unsigned char *e)
{
	long v = 0;
	int i, h;

	if (e - p < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		h = mig_hex_digit(p[i]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/* Scans a string starting at its opening quote. */
static int
scan_string(struct scanner *sc, const unsigned char **startp, size_t *lenp,
    bool *escp)
{
	const unsigned char *p = sc->p + 1, *e = sc->e, *start = p;
	bool esc = false;
	long u, u2;
	size_t n;

	for (;;) {
		while (p < e && (cls[*p] & 1))
			p++;
		if (p >= e)
			return fail(sc, "unterminated string");
		if (*p == '"')
			break;
		if (*p < 0x20)
			return fail(sc, "control character in a string");
		if (*p == '\\') {
			esc = true;
			if (p + 1 >= e)
				return fail(sc, "unterminated string");
			switch (p[1]) {
			case '"': case '\\': case '/': case 'b': case 'f':
			case 'n': case 'r': case 't':
				p += 2;
				continue;
			case 'u':
				break;
			default:
				return fail(sc, "invalid escape in a string");
			}
			u = read_u4(p + 2, e);
			if (u < 0)
				return fail(sc, "invalid \\u escape");
			if (u == 0)
				return fail(sc, "\\u0000 in a string");
			p += 6;
			if (u >= 0xdc00 && u <= 0xdfff)
				return fail(sc, "lone UTF-16 surrogate");
			if (u >= 0xd800 && u <= 0xdbff) {
				if (e - p < 6 || p[0] != '\\' || p[1] != 'u')
					return fail(sc,
					    "lone UTF-16 surrogate");
				u2 = read_u4(p + 2, e);
				if (u2 < 0xdc00 || u2 > 0xdfff)
					return fail(sc,
					    "lone UTF-16 surrogate");
				p += 6;
			}
			continue;
		}
		n = mig_utf8_decode(p, (size_t)(e - p), NULL);
		if (n == 0)
			return fail(sc, "invalid UTF-8");
		p += n;
	}
	*startp = start;
	*lenp = (size_t)(p - start);
	*escp = esc;
	sc->p = p + 1;
	return 0;
}

static int
scan_number(struct scanner *sc)
{
	const unsigned char *p = sc->p, *e = sc->e;

	if (p < e && *p == '-')
		p++;
	if (p >= e)
		return fail(sc, "invalid number");
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9') {
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	} else
		return fail(sc, "invalid number");
	if (p < e && *p == '.') {
		p++;
		if (p >= e || *p < '0' || *p > '9')
			return fail(sc, "invalid number");
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < e && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < e && (*p == '+' || *p == '-'))
			p++;
		if (p >= e || *p < '0' || *p > '9')
			return fail(sc, "invalid number");
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	}
	sc->p = p;
	return 0;
}

static int
scan_literal(struct scanner *sc, const char *lit, size_t len)
{
	if ((size_t)(sc->e - sc->p) < len || memcmp(sc->p, lit, len) != 0)
		return fail(sc, "invalid literal");
	sc->p += len;
	return 0;
}

static int scan_value(struct scanner *, int, struct audit_span *);

static int
scan_container(struct scanner *sc, int depth, bool top, struct audit_scan *s)
{
	bool obj = *sc->p == '{';
	unsigned char close = obj ? '}' : ']';
	const unsigned char *k;
	size_t klen, i;
	bool kesc;
	struct audit_span sp, *slot;
	char kbuf[32];
	const char *kname;
	long kl;

	if (depth >= SCAN_DEPTH_MAX)
		return fail(sc, "nested too deeply");
	sc->p++;
	skip_ws(sc);
	if (sc->p < sc->e && *sc->p == close) {
		sc->p++;
		return 0;
	}
	for (;;) {
		slot = NULL;
		if (obj) {
			if (sc->p >= sc->e || *sc->p != '"')
				return fail(sc, "expected a member name");
			if (scan_string(sc, &k, &klen, &kesc) != 0)
				return -1;
			if (top) {
				kname = (const char *)k;
				if (kesc) {
					sp.p = (const char *)k;
					sp.len = klen;
					sp.type = AT_STRING;
					sp.esc = true;
					kl = audit_span_str(&sp, kbuf,
					    sizeof(kbuf));
					kname = kl < 0 ? "" : kbuf;
					klen = kl < 0 ? 0 : (size_t)kl;
				}
				for (i = 0; i < sizeof(known) /
				    sizeof(known[0]); i++)
					if (known[i].len == klen &&
					    known[i].name[0] == kname[0] &&
					    memcmp(known[i].name, kname,
					    klen) == 0) {
						slot = &s->f[known[i].f];
						break;
					}
				if (slot != NULL && slot->type != AT_ABSENT)
					return fail(sc, "duplicate member");
			}
			skip_ws(sc);
			if (sc->p >= sc->e || *sc->p != ':')
				return fail(sc, "expected ':'");
			sc->p++;
			skip_ws(sc);
		}
		if (scan_value(sc, depth + 1, slot != NULL ? slot : &sp) != 0)
			return -1;
		skip_ws(sc);
		if (sc->p >= sc->e)
			return fail(sc, "unterminated object or array");
		if (*sc->p == close) {
			sc->p++;
			return 0;
		}
		if (*sc->p != ',')
			return fail(sc, "expected ',' or end of object");
		sc->p++;
		skip_ws(sc);
	}
}

static int
scan_value(struct scanner *sc, int depth, struct audit_span *sp)
{
	const unsigned char *start = sc->p, *s;
	size_t len;
	bool esc;

	if (sc->p >= sc->e)
		return fail(sc, "expected a value");
	sp->esc = false;
	switch (*sc->p) {
	case '"':
		if (scan_string(sc, &s, &len, &esc) != 0)
			return -1;
		sp->p = (const char *)s;
		sp->len = len;
		sp->esc = esc;
		sp->type = AT_STRING;
		return 0;
	case '{':
	case '[':
		if (scan_container(sc, depth, false, NULL) != 0)
			return -1;
		sp->type = AT_OTHER;
		break;
	case 't':
		if (scan_literal(sc, "true", 4) != 0)
			return -1;
		sp->type = AT_OTHER;
		break;
	case 'f':
		if (scan_literal(sc, "false", 5) != 0)
			return -1;
		sp->type = AT_OTHER;
		break;
	case 'n':
		if (scan_literal(sc, "null", 4) != 0)
			return -1;
		sp->type = AT_OTHER;
		break;
	default:
		if (scan_number(sc) != 0)
			return -1;
		sp->type = AT_NUMBER;
		break;
	}
	sp->p = (const char *)start;
	sp->len = (size_t)(sc->p - start);
	return 0;
}

int
audit_scan_line(const char *p, size_t n, struct audit_scan *s,
    const char **why)
{
	struct scanner sc;
	int r;

	memset(s, 0, sizeof(*s));
	sc.p = (const unsigned char *)p;
	sc.e = sc.p + n;
	sc.why = NULL;
	skip_ws(&sc);
	if (sc.p >= sc.e || *sc.p != '{') {
		*why = n == 0 ? "empty line" : "not a JSON object";
		return -1;
	}
	r = scan_container(&sc, 0, true, s);
	if (r == 0) {
		skip_ws(&sc);
		if (sc.p != sc.e)
			r = fail(&sc, "data after the JSON object");
	}
	if (r != 0)
		*why = sc.why != NULL ? sc.why : "invalid JSON";
	return r;
}

/* The span was validated by the scanner, so escapes are well formed. */
long
audit_span_str(const struct audit_span *sp, char *out, size_t cap)
{
	const unsigned char *p = (const unsigned char *)sp->p;
	const unsigned char *e = p + sp->len;
	size_t o = 0;
	unsigned long cp;
	char c;

	if (sp->type != AT_STRING || cap == 0)
		return -1;
	if (!sp->esc) {
		if (sp->len >= cap)
			return -1;
		memcpy(out, sp->p, sp->len);
		out[sp->len] = '\0';
		return (long)sp->len;
	}
	while (p < e) {
		if (cap - o < 5)
			return -1;
		if (*p != '\\') {
			out[o++] = (char)*p++;
			continue;
		}
		switch (p[1]) {
		case 'b': c = '\b'; break;
		case 'f': c = '\f'; break;
		case 'n': c = '\n'; break;
		case 'r': c = '\r'; break;
		case 't': c = '\t'; break;
		case 'u':
			cp = (unsigned long)read_u4(p + 2, e);
			p += 6;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				    ((unsigned long)read_u4(p + 2, e) -
				    0xdc00);
				p += 6;
			}
			o += mig_utf8_encode((uint32_t)cp, out + o);
			continue;
		default: c = (char)p[1]; break;
		}
		out[o++] = c;
		p += 2;
	}
	out[o] = '\0';
	return (long)o;
}

int
audit_span_u64(const struct audit_span *sp, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;
	unsigned d;

	if (sp->type != AT_NUMBER || sp->len == 0 || sp->len > 20)
		return -1;
	if (sp->p[0] == '0' && sp->len > 1)
		return -1;
	for (i = 0; i < sp->len; i++) {
		if (sp->p[i] < '0' || sp->p[i] > '9')
			return -1;
		d = (unsigned)(sp->p[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

bool
audit_span_eq(const struct audit_span *sp, const char *s)
{
	size_t n = strlen(s);

	return sp->type == AT_STRING && !sp->esc && sp->len == n &&
	    memcmp(sp->p, s, n) == 0;
}

bool
audit_span_hex64(const struct audit_span *sp)
{
	const unsigned char *p = (const unsigned char *)sp->p;
	unsigned char all = 2;
	size_t i;

	if (sp->type != AT_STRING || sp->len != MIG_AUDIT_HEXLEN)
		return false;
	for (i = 0; i < MIG_AUDIT_HEXLEN; i++)
		all &= cls[p[i]];
	return all == 2;
}

/* "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" with every digit in place. */
static bool
ts_ok(const struct audit_span *sp)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";
	size_t i;

	if (sp->type != AT_STRING || sp->len != sizeof(shape) - 1)
		return false;
	for (i = 0; i < sp->len; i++) {
		if (shape[i] == 'd') {
			if (sp->p[i] < '0' || sp->p[i] > '9')
				return false;
		} else if (sp->p[i] != shape[i])
			return false;
	}
	return true;
}

static bool
nonempty(const struct audit_span *sp)
{
	return sp->type == AT_STRING && sp->len > 0;
}

int
audit_rec_check(const struct audit_scan *s, uint64_t *seqp,
    const char **why)
{
	const struct audit_span *v = &s->f[AF_V];

	if (v->type != AT_NUMBER || v->len != 1 || v->p[0] != '1') {
		*why = v->type == AT_ABSENT ? "not a record: no \"v\"" :
		    "unsupported record version";
		return -1;
	}
	if (audit_span_u64(&s->f[AF_SEQ], seqp) != 0 || *seqp == 0) {
		*why = "\"seq\" missing or not a positive integer";
		return -1;
	}
	if (!ts_ok(&s->f[AF_TS])) {
		*why = "\"ts\" missing or not YYYY-MM-DDTHH:MM:SS.uuuuuuZ";
		return -1;
	}
	if (!nonempty(&s->f[AF_RUN]) || !nonempty(&s->f[AF_PLAN]) ||
	    !nonempty(&s->f[AF_ACTOR]) || !nonempty(&s->f[AF_EVENT])) {
		*why = "\"run\", \"plan\", \"actor\" or \"event\" missing";
		return -1;
	}
	if (!audit_span_hex64(&s->f[AF_PREV])) {
		*why = "\"prev\" missing or not 64 lowercase hex digits";
		return -1;
	}
	return 0;
}

void
audit_sha256(const void *p, size_t n, unsigned char md[32])
{
	(void)SHA256(p, n, md);
}
