/*
 * TOML 1.0.0 scalars: strings with their escapes, integers and floats,
 * and the four date-time types, each parsed at the cursor of the parser
 * in parse.c into a value in the document's arena.
 *
 * Every number is checked before it is converted: integers against
 * INT64_MIN..INT64_MAX digit by digit, floats through strtod(3) in the
 * "C" locale after the TOML grammar has accepted them.
 */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/error.h"
#include "migrate/toml.h"
#include "migrate/util.h"

#define MIG_TOML_PRIVATE
#include "toml_int.h"
#include "parser_int.h"

/* Scratch buffer for string contents. */

static int
sb_add(struct mig_toml_parser *p, const void *d, size_t n)
{
	size_t cap;
	char *np;

	if (n == 0)
		return 0;
	if (p->sbcap - p->sblen < n) {
		cap = p->sbcap < 64 ? 64 : p->sbcap;
		while (cap - p->sblen < n) {
			if (cap > SIZE_MAX / 2)
				return mig_toml_nomem(p);
			cap *= 2;
		}
		if ((np = realloc(p->sb, cap)) == NULL)
			return mig_toml_nomem(p);
		p->sb = np;
		p->sbcap = cap;
	}
	memcpy(p->sb + p->sblen, d, n);
	p->sblen += n;
	return 0;
}

static int
sb_add_utf8(struct mig_toml_parser *p, uint32_t cp)
{
	char u[4];

	/* The callers checked cp is a scalar value: n is never 0. */
	return sb_add(p, u, mig_utf8_encode(cp, u));
}

/* Copies the scratch buffer into the arena, NUL-terminated. */
static int
sb_finish(struct mig_toml_parser *p, char **sp, size_t *lenp)
{
	char *s;

	if ((s = mig_toml_alloc(p->doc, p->sblen + 1)) == NULL)
		return mig_toml_nomem(p);
	if (p->sblen > 0)
		memcpy(s, p->sb, p->sblen);
	s[p->sblen] = '\0';
	*sp = s;
	*lenp = p->sblen;
	return 0;
}

/* Strings. */

/* Decodes the escape at the cursor (a backslash) of a basic string. */
static int
parse_escape(struct mig_toml_parser *p, bool multi)
{
	struct mig_toml_pos pos = here(p);
	uint32_t cp = 0;
	size_t i, n;
	char ch;
	int c, h;

	adv(p);
	c = peek(p);
	switch (c) {
	case 'b': ch = '\b'; break;
	case 't': ch = '\t'; break;
	case 'n': ch = '\n'; break;
	case 'f': ch = '\f'; break;
	case 'r': ch = '\r'; break;
	case '"': ch = '"'; break;
	case '\\': ch = '\\'; break;
	case 'u':
	case 'U':
		n = c == 'u' ? 4 : 8;
		for (i = 0; i < n; i++) {
			if ((h = mig_hex_digit(peekn(p, i + 1))) < 0)
				return mig_toml_perr_at(p, pos, "invalid "
				    "escape: \\%c needs %zu hex digits", c,
				    n);
			cp = cp << 4 | (uint32_t)h;
		}
		if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return mig_toml_perr_at(p, pos, "invalid escape: "
			    "U+%04lX is not a Unicode scalar value",
			    (unsigned long)cp);
		advn(p, n + 1);
		return sb_add_utf8(p, cp);
	default:
		if (multi && (c == ' ' || c == '\t' || at_newline(p))) {
			/* Line-ending backslash: trim up to the next text. */
			skip_ws(p);
			if (!at_newline(p))
				return mig_toml_perr_at(p, pos, "invalid "
				    "escape: only whitespace may follow a "
				    "line-ending backslash");
			for (;;) {
				c = peek(p);
				if (c == ' ' || c == '\t')
					adv(p);
				else if (at_newline(p))
					eat_newline(p);
				else
					return 0;
			}
		}
		if (c >= 0x20 && c < 0x7f)
			return mig_toml_perr_at(p, pos, "invalid escape "
			    "sequence '\\%c'", c);
		return mig_toml_perr_at(p, pos, "invalid escape sequence");
	}
	adv(p);
	return sb_add(p, &ch, 1);
}

/*
 * Parses a string at the cursor, which is at quote (" or ').  Multi-line
 * forms are recognised only when allow_multi.  *sp is NUL-terminated and
 * lives in the arena; *lenp gets its length.
 */
int
mig_toml_parse_string(struct mig_toml_parser *p, bool allow_multi,
    char **sp, size_t *lenp)
{
	struct mig_toml_pos pos = here(p);
	int quote = peek(p), c, r;
	bool multi;
	size_t n, q;

	multi = allow_multi && peekn(p, 1) == quote && peekn(p, 2) == quote;
	p->sblen = 0;
	advn(p, multi ? 3 : 1);
	if (multi && at_newline(p))
		eat_newline(p);
	for (;;) {
		c = peek(p);
		if (c < 0)
			return mig_toml_perr_at(p, pos, "unterminated string");
		if (c == quote) {
			if (!multi) {
				adv(p);
				break;
			}
			for (q = 1; peekn(p, q) == quote && q < 6; q++)
				continue;
			if (q < 3) {
				if ((r = sb_add(p, p->s + p->off, q)) != 0)
					return r;
				advn(p, q);
				continue;
			}
			/* Up to two quotes may precede the closing ones. */
			if (q > 5)
				q = 5;
			if ((r = sb_add(p, p->s + p->off, q - 3)) != 0)
				return r;
			advn(p, q);
			break;
		}
		if (c == '\\' && quote == '"') {
			if ((r = parse_escape(p, multi)) != 0)
				return r;
			continue;
		}
		if (at_newline(p)) {
			if (!multi)
				return mig_toml_perr(p, "newline in "
				    "single-line string");
			eat_newline(p);
			if ((r = sb_add(p, "\n", 1)) != 0)
				return r;
			continue;
		}
		if ((r = mig_toml_text_char(p, &n)) != 0)
			return r;
		if ((r = sb_add(p, p->s + p->off, n)) != 0)
			return r;
		advn(p, n);
	}
	return sb_finish(p, sp, lenp);
}


/* Numbers. */

/*
 * Scans digits of the given base from s[*ip], allowing single underscores
 * between digits.  Returns the number of digits; *whyp is set on misuse
 * of underscores.
 */
static size_t
scan_digits(const unsigned char *s, size_t n, size_t *ip, int base,
    const char **whyp)
{
	size_t i = *ip, ndig = 0;
	int h;

	for (; i < n; i++) {
		h = mig_hex_digit(s[i]);
		if (h >= 0 && h < base) {
			ndig++;
			continue;
		}
		if (s[i] != '_')
			break;
		h = i + 1 < n ? mig_hex_digit(s[i + 1]) : -1;
		if (ndig == 0 || h < 0 || h >= base) {
			*whyp = "'_' must be between digits";
			break;
		}
	}
	*ip = i;
	return ndig;
}

/* The number-like token at the cursor, for messages. */
const char *
mig_toml_token(const struct mig_toml_parser *p, char *buf, size_t size)
{
	size_t i, n = p->len - p->off;
	int c;

	for (i = 0; i < n && i + 1 < size && i < 40; i++) {
		c = p->s[p->off + i];
		if (!is_bare(c) && c != '.' && c != '+' && c != ':')
			break;
		buf[i] = (char)c;
	}
	buf[i] = '\0';
	return buf;
}

/* A number at the cursor, as scan_number() found it. */
struct numtok {
	size_t	 len;		/* in bytes, underscores included */
	int	 base;		/* 16, 8 or 2 after 0x, 0o or 0b; else 10 */
	bool	 neg;
	bool	 isfloat;
	bool	 special;	/* inf or nan, already in f */
	double	 f;
};

/*
 * Scans the digits, fraction and exponent of a decimal number from s[*ip]
 * (past its sign) and moves *ip past them.  Sets *whyp when malformed.
 */
static void
scan_decimal(const unsigned char *s, size_t n, size_t *ip, bool *isfloatp,
    const char **whyp)
{
	size_t i = *ip, ndig;

	ndig = scan_digits(s, n, &i, 10, whyp);
	if (ndig == 0 && *whyp == NULL)
		*whyp = "expected digits";
	if (*whyp == NULL && ndig > 1 && s[*ip] == '0')
		*whyp = "leading zeros are not allowed";
	if (*whyp == NULL && i < n && s[i] == '.') {
		i++;
		*isfloatp = true;
		if (scan_digits(s, n, &i, 10, whyp) == 0 && *whyp == NULL)
			*whyp = "expected digits after '.'";
	}
	if (*whyp == NULL && i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		*isfloatp = true;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (scan_digits(s, n, &i, 10, whyp) == 0 && *whyp == NULL)
			*whyp = "expected digits in the exponent";
	}
	*ip = i;
}

/*
 * Scans the number at the cursor into *nt: its sign, its form and its
 * length.  The cursor stays on the number's first character until the
 * value is made, so every error about the number points there.
 */
static int
scan_number(struct mig_toml_parser *p, struct numtok *nt)
{
	const unsigned char *s = p->s + p->off;
	size_t n = p->len - p->off, i = 0, j;
	const char *why = NULL;
	char tok[48];

	*nt = (struct numtok){ .base = 10 };
	if (s[0] == '+' || s[0] == '-') {
		nt->neg = s[0] == '-';
		i = 1;
	}
	if (n - i >= 3 && (memcmp(s + i, "inf", 3) == 0 ||
	    memcmp(s + i, "nan", 3) == 0)) {
		nt->f = s[i] == 'i' ? INFINITY : NAN;
		if (nt->neg)
			nt->f = -nt->f;
		i += 3;
		nt->isfloat = nt->special = true;
	} else if (i == 0 && n >= 2 && s[0] == '0' &&
	    (s[1] == 'x' || s[1] == 'o' || s[1] == 'b')) {
		nt->base = s[1] == 'x' ? 16 : s[1] == 'o' ? 8 : 2;
		i = 2;
		if (scan_digits(s, n, &i, nt->base, &why) == 0 && why == NULL)
			why = "expected digits after the base prefix";
	} else
		scan_decimal(s, n, &i, &nt->isfloat, &why);
	if (why == NULL && i < n && (is_bare(s[i]) || s[i] == '.' ||
	    s[i] == '+' || s[i] == ':')) {
		why = "unexpected character";
		for (j = 0; j < i && is_digit(s[j]); j++)
			continue;
		if (j == i && (s[i] == '-' || s[i] == ':'))
			return mig_toml_perr(p, "invalid date or time '%s'",
			    mig_toml_token(p, tok, sizeof(tok)));
		if (i == 2 && (s[0] == '+' || s[0] == '-') && s[1] == '0' &&
		    (s[2] == 'x' || s[2] == 'o' || s[2] == 'b'))
			why = "hex, octal and binary integers take no sign";
	}
	if (why != NULL)
		return mig_toml_perr(p, "invalid number '%s': %s",
		    mig_toml_token(p, tok, sizeof(tok)), why);
	nt->len = i;
	return 0;
}

/*
 * The float spelled by the n bytes at the cursor into *fp: strtod(3) in
 * the "C" locale, on a copy without the underscores.
 */
static int
to_float(struct mig_toml_parser *p, size_t n, double *fp)
{
	const unsigned char *s = p->s + p->off;
	locale_t old;
	char tok[48], *end;
	size_t j;
	int r;

	p->sblen = 0;
	for (j = 0; j < n; j++)
		if (s[j] != '_' && (r = sb_add(p, s + j, 1)) != 0)
			return r;
	if ((r = sb_add(p, "", 1)) != 0)
		return r;
	if (p->cloc == (locale_t)0 && (p->cloc = newlocale(
	    LC_NUMERIC_MASK, "C", (locale_t)0)) == (locale_t)0)
		return mig_toml_nomem(p);
	old = uselocale(p->cloc);
	errno = 0;
	*fp = strtod(p->sb, &end);
	(void)uselocale(old);
	if (errno == ERANGE && isinf(*fp))
		return mig_toml_perr(p, "float '%s' is out of range",
		    mig_toml_token(p, tok, sizeof(tok)));
	return 0;
}

/*
 * The integer at the cursor into *ip.  Each digit is checked against
 * INT64_MAX (or -INT64_MIN) before it is added, so nothing overflows.
 */
static int
to_int(struct mig_toml_parser *p, const struct numtok *nt, int64_t *ip)
{
	const unsigned char *s = p->s + p->off;
	uint64_t mag = 0, limit, d;
	char tok[48];
	size_t j;

	limit = nt->neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	j = nt->base != 10 ? 2 : (s[0] == '+' || s[0] == '-') ? 1 : 0;
	for (; j < nt->len; j++) {
		if (s[j] == '_')
			continue;
		d = (uint64_t)mig_hex_digit(s[j]);
		if (mag > (limit - d) / (uint64_t)nt->base)
			return mig_toml_perr(p, "integer '%s' is out of range",
			    mig_toml_token(p, tok, sizeof(tok)));
		mag = mag * (uint64_t)nt->base + d;
	}
	if (nt->neg)
		*ip = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN :
		    -(int64_t)mag;
	else
		*ip = (int64_t)mag;
	return 0;
}

int
mig_toml_parse_number(struct mig_toml_parser *p, unsigned depth,
    struct mig_toml_value **vp)
{
	struct mig_toml_pos pos = here(p);
	struct mig_toml_value *v;
	struct numtok nt;
	int64_t i = 0;
	double f;
	int r;

	if ((r = scan_number(p, &nt)) != 0)
		return r;
	f = nt.f;
	if (nt.isfloat && !nt.special)
		r = to_float(p, nt.len, &f);
	else if (!nt.isfloat)
		r = to_int(p, &nt, &i);
	if (r != 0 || (r = mig_toml_new_value(p, nt.isfloat ?
	    MIG_TOML_FLOAT : MIG_TOML_INTEGER, pos, depth, &v)) != 0)
		return r;
	if (nt.isfloat)
		v->u.f = f;
	else
		v->u.i = i;
	advn(p, nt.len);
	*vp = v;
	return 0;
}

/* Byte i of the n at s, or -1. */
static int
at(const unsigned char *s, size_t n, size_t i)
{
	return i < n ? s[i] : -1;
}

/* Reads count digits at s[i] into *vp. */
static bool
digits(const unsigned char *s, size_t n, size_t i, size_t count, int *vp)
{
	size_t k;
	int v = 0;

	for (k = 0; k < count; k++) {
		if (!is_digit(at(s, n, i + k)))
			return false;
		v = v * 10 + (s[i + k] - '0');
	}
	*vp = v;
	return true;
}

static int
days_in_month(int year, int month)
{
	static const int days[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	if (month == 2 && year % 4 == 0 && (year % 100 != 0 ||
	    year % 400 == 0))
		return 29;
	return days[month - 1];
}

/* Whether s (n bytes) starts like a date "dddd-" or a time "dd:". */
bool
mig_toml_looks_like_datetime(const unsigned char *s, size_t n)
{
	int v;

	return (digits(s, n, 0, 2, &v) && at(s, n, 2) == ':') ||
	    (digits(s, n, 0, 4, &v) && at(s, n, 4) == '-');
}

/* Formats the canonical text of a date/time value into the arena. */
static int
datetime_text(struct mig_toml_parser *p, struct mig_toml_value *v)
{
	const struct mig_toml_datetime *dt = &v->u.dt.dt;
	char buf[128];
	size_t o = 0;
	int k, ns = dt->nanosecond;

	if (v->type != MIG_TOML_TIME_LOCAL) {
		k = snprintf(buf, sizeof(buf), "%04d-%02d-%02d", dt->year,
		    dt->month, dt->day);
		o = (size_t)k;
		if (v->type != MIG_TOML_DATE_LOCAL)
			buf[o++] = 'T';
	}
	if (v->type != MIG_TOML_DATE_LOCAL) {
		k = snprintf(buf + o, sizeof(buf) - o, "%02d:%02d:%02d",
		    dt->hour, dt->minute, dt->second);
		o += (size_t)k;
		if (ns % 1000000 == 0 && ns != 0)
			k = snprintf(buf + o, sizeof(buf) - o, ".%03d",
			    ns / 1000000);
		else if (ns % 1000 == 0 && ns != 0)
			k = snprintf(buf + o, sizeof(buf) - o, ".%06d",
			    ns / 1000);
		else if (ns != 0)
			k = snprintf(buf + o, sizeof(buf) - o, ".%09d", ns);
		else
			k = 0;
		o += (size_t)k;
	}
	if (v->type == MIG_TOML_DATETIME) {
		if (dt->offset_z)
			k = snprintf(buf + o, sizeof(buf) - o, "Z");
		else
			k = snprintf(buf + o, sizeof(buf) - o, "%c%02d:%02d",
			    dt->offset_minutes < 0 ? '-' : '+',
			    abs(dt->offset_minutes) / 60,
			    abs(dt->offset_minutes) % 60);
		o += (size_t)k;
	}
	buf[o] = '\0';
	if ((v->u.dt.text = mig_toml_alloc(p->doc, o + 1)) == NULL)
		return mig_toml_nomem(p);
	memcpy(v->u.dt.text, buf, o + 1);
	return 0;
}

/*
 * YYYY-MM-DD from s (the n bytes at the cursor) into dt, a real day of a
 * month.  Date-times are scanned with the cursor on their first character,
 * where every error about them points.
 */
static int
scan_date(struct mig_toml_parser *p, const unsigned char *s, size_t n,
    struct mig_toml_datetime *dt)
{
	if (!digits(s, n, 0, 4, &dt->year) || at(s, n, 4) != '-' ||
	    !digits(s, n, 5, 2, &dt->month) || at(s, n, 7) != '-' ||
	    !digits(s, n, 8, 2, &dt->day))
		return mig_toml_perr(p, "invalid date: expected YYYY-MM-DD");
	if (dt->month < 1 || dt->month > 12)
		return mig_toml_perr(p, "invalid date: month %02d out of range",
		    dt->month);
	if (dt->day < 1 || dt->day > days_in_month(dt->year, dt->month))
		return mig_toml_perr(p, "invalid date: day %02d out of range "
		    "for %04d-%02d", dt->day, dt->year, dt->month);
	return 0;
}

/*
 * HH:MM:SS and an optional fraction at s[*ip] into dt; *ip moves past
 * them.  Digits past the ninth are read and dropped.
 */
static int
scan_time(struct mig_toml_parser *p, const unsigned char *s, size_t n,
    size_t *ip, struct mig_toml_datetime *dt)
{
	size_t i = *ip, k;

	if (!digits(s, n, i, 2, &dt->hour) || at(s, n, i + 2) != ':' ||
	    !digits(s, n, i + 3, 2, &dt->minute) || at(s, n, i + 5) != ':' ||
	    !digits(s, n, i + 6, 2, &dt->second))
		return mig_toml_perr(p, "invalid time: expected HH:MM:SS");
	/* XXX: leap seconds (:60) are refused, as most readers do. */
	if (dt->hour > 23 || dt->minute > 59 || dt->second > 59)
		return mig_toml_perr(p, "invalid time: %02d:%02d:%02d out of "
		    "range", dt->hour, dt->minute, dt->second);
	i += 8;
	if (at(s, n, i) == '.') {
		i++;
		for (k = 0; is_digit(at(s, n, i + k)); k++)
			if (k < 9)
				dt->nanosecond = dt->nanosecond * 10 +
				    (s[i + k] - '0');
		if (k == 0)
			return mig_toml_perr(p, "invalid time: expected digits "
			    "after '.'");
		for (; k < 9; k++)
			dt->nanosecond *= 10;
		while (is_digit(at(s, n, i)))
			i++;
	}
	*ip = i;
	return 0;
}

/*
 * The offset after a date and a time at s[*ip], if any: 'Z' or +HH:MM
 * makes *typep an offset date-time.  *ip moves past it.
 */
static int
scan_offset(struct mig_toml_parser *p, const unsigned char *s, size_t n,
    size_t *ip, struct mig_toml_datetime *dt, enum mig_toml_type *typep)
{
	int c = at(s, n, *ip), oh, om;

	if (c == 'Z' || c == 'z') {
		dt->offset_z = true;
		*typep = MIG_TOML_DATETIME;
		*ip += 1;
	} else if (c == '+' || c == '-') {
		if (!digits(s, n, *ip + 1, 2, &oh) ||
		    at(s, n, *ip + 3) != ':' ||
		    !digits(s, n, *ip + 4, 2, &om))
			return mig_toml_perr(p, "invalid time offset: expected "
			    "+HH:MM or -HH:MM");
		if (oh > 23 || om > 59)
			return mig_toml_perr(p, "invalid time offset: "
			    "%c%02d:%02d out of range", c, oh, om);
		dt->offset_minutes = (c == '-' ? -1 : 1) * (oh * 60 + om);
		*typep = MIG_TOML_DATETIME;
		*ip += 6;
	}
	return 0;
}

/*
 * Parses an offset date-time, local date-time, local date or local time
 * at the cursor (RFC 3339 as restricted by TOML: seconds are required,
 * 'T', 't' or a space separate date and time).
 */
int
mig_toml_parse_datetime(struct mig_toml_parser *p, unsigned depth,
    struct mig_toml_value **vp)
{
	const unsigned char *s = p->s + p->off;
	struct mig_toml_pos pos = here(p);
	struct mig_toml_datetime dt;
	struct mig_toml_value *v;
	enum mig_toml_type type = MIG_TOML_TIME_LOCAL;
	size_t n = p->len - p->off, i = 0;
	int c, hh, r;

	memset(&dt, 0, sizeof(dt));
	if (at(s, n, 2) != ':') {
		if ((r = scan_date(p, s, n, &dt)) != 0)
			return r;
		i = 10;
		type = MIG_TOML_DATE_LOCAL;
		c = at(s, n, i);
		if (c == 'T' || c == 't' || (c == ' ' &&
		    digits(s, n, i + 1, 2, &hh) && at(s, n, i + 3) == ':')) {
			i++;
			type = MIG_TOML_DATETIME_LOCAL;
		}
	}
	if (type != MIG_TOML_DATE_LOCAL &&
	    (r = scan_time(p, s, n, &i, &dt)) != 0)
		return r;
	if (type == MIG_TOML_DATETIME_LOCAL &&
	    (r = scan_offset(p, s, n, &i, &dt, &type)) != 0)
		return r;
	if ((r = mig_toml_new_value(p, type, pos, depth, &v)) != 0)
		return r;
	v->u.dt.dt = dt;
	if ((r = datetime_text(p, v)) != 0)
		return r;
	advn(p, i);
	*vp = v;
	return 0;
}
