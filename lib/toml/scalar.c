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

int
mig_toml_parse_number(struct mig_toml_parser *p, unsigned depth,
    struct mig_toml_value **vp)
{
	const unsigned char *s = p->s + p->off;
	struct mig_toml_pos pos = here(p);
	struct mig_toml_value *v;
	const char *why = NULL;
	size_t n = p->len - p->off, i = 0, j, start;
	uint64_t mag = 0, limit, d;
	bool neg = false, isfloat = false, special = false;
	locale_t old;
	double f = 0.0;
	char tok[48], *end;
	int base = 10, r;

	if (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-';
		i = 1;
	}
	if (n - i >= 3 && (memcmp(s + i, "inf", 3) == 0 ||
	    memcmp(s + i, "nan", 3) == 0)) {
		f = s[i] == 'i' ? INFINITY : NAN;
		if (neg)
			f = -f;
		i += 3;
		isfloat = special = true;
	} else if (i == 0 && n >= 2 && s[0] == '0' &&
	    (s[1] == 'x' || s[1] == 'o' || s[1] == 'b')) {
		base = s[1] == 'x' ? 16 : s[1] == 'o' ? 8 : 2;
		i = 2;
		if (scan_digits(s, n, &i, base, &why) == 0 && why == NULL)
			why = "expected digits after the base prefix";
	} else {
		start = i;
		j = scan_digits(s, n, &i, 10, &why);
		if (j == 0 && why == NULL)
			why = "expected digits";
		if (why == NULL && j > 1 && s[start] == '0')
			why = "leading zeros are not allowed";
		if (why == NULL && i < n && s[i] == '.') {
			i++;
			isfloat = true;
			if (scan_digits(s, n, &i, 10, &why) == 0 &&
			    why == NULL)
				why = "expected digits after '.'";
		}
		if (why == NULL && i < n && (s[i] == 'e' || s[i] == 'E')) {
			i++;
			isfloat = true;
			if (i < n && (s[i] == '+' || s[i] == '-'))
				i++;
			if (scan_digits(s, n, &i, 10, &why) == 0 &&
			    why == NULL)
				why = "expected digits in the exponent";
		}
	}
	if (why == NULL && i < n && (is_bare(s[i]) || s[i] == '.' ||
	    s[i] == '+' || s[i] == ':')) {
		why = "unexpected character";
		for (j = 0; j < i && is_digit(s[j]); j++)
			continue;
		if (j == i && (s[i] == '-' || s[i] == ':'))
			return mig_toml_perr_at(p, pos, "invalid date or "
			    "time '%s'", mig_toml_token(p, tok, sizeof(tok)));
		if (i == 2 && (s[0] == '+' || s[0] == '-') && s[1] == '0' &&
		    (s[2] == 'x' || s[2] == 'o' || s[2] == 'b'))
			why = "hex, octal and binary integers take no sign";
	}
	if (why != NULL)
		return mig_toml_perr_at(p, pos, "invalid number '%s': %s",
		    mig_toml_token(p, tok, sizeof(tok)), why);

	if (isfloat && !special) {
		p->sblen = 0;
		for (j = 0; j < i; j++)
			if (s[j] != '_' && (r = sb_add(p, s + j, 1)) != 0)
				return r;
		if ((r = sb_add(p, "", 1)) != 0)
			return r;
		if (p->cloc == (locale_t)0 && (p->cloc = newlocale(
		    LC_NUMERIC_MASK, "C", (locale_t)0)) == (locale_t)0)
			return mig_toml_nomem(p);
		old = uselocale(p->cloc);
		errno = 0;
		f = strtod(p->sb, &end);
		(void)uselocale(old);
		if (errno == ERANGE && isinf(f))
			return mig_toml_perr_at(p, pos, "float '%s' is out "
			    "of range", mig_toml_token(p, tok, sizeof(tok)));
	} else if (!isfloat) {
		limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
		j = base != 10 ? 2 : (s[0] == '+' || s[0] == '-') ? 1 : 0;
		for (; j < i; j++) {
			if (s[j] == '_')
				continue;
			d = (uint64_t)mig_hex_digit(s[j]);
			if (mag > (limit - d) / (uint64_t)base)
				return mig_toml_perr_at(p, pos, "integer '%s' "
				    "is out of range",
				    mig_toml_token(p, tok, sizeof(tok)));
			mag = mag * (uint64_t)base + d;
		}
	}
	if ((r = mig_toml_new_value(p, isfloat ? MIG_TOML_FLOAT :
	    MIG_TOML_INTEGER, pos, depth, &v)) != 0)
		return r;
	if (isfloat)
		v->u.f = f;
	else if (neg)
		v->u.i = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN :
		    -(int64_t)mag;
	else
		v->u.i = (int64_t)mag;
	advn(p, i);
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
	enum mig_toml_type type;
	size_t n = p->len - p->off, i = 0, k;
	int c, oh, om, r;
	bool has_date = false;

	memset(&dt, 0, sizeof(dt));
	if (at(s, n, 2) != ':') {
		if (!digits(s, n, 0, 4, &dt.year) || at(s, n, 4) != '-' ||
		    !digits(s, n, 5, 2, &dt.month) || at(s, n, 7) != '-' ||
		    !digits(s, n, 8, 2, &dt.day))
			return mig_toml_perr_at(p, pos, "invalid date: "
			    "expected YYYY-MM-DD");
		if (dt.month < 1 || dt.month > 12)
			return mig_toml_perr_at(p, pos, "invalid date: month "
			    "%02d out of range", dt.month);
		if (dt.day < 1 || dt.day > days_in_month(dt.year, dt.month))
			return mig_toml_perr_at(p, pos, "invalid date: day "
			    "%02d out of range for %04d-%02d", dt.day, dt.year,
			    dt.month);
		has_date = true;
		i = 10;
		c = at(s, n, i);
		if (c == 'T' || c == 't' || (c == ' ' &&
		    digits(s, n, i + 1, 2, &oh) &&
		    at(s, n, i + 3) == ':'))
			i++;
		else {
			type = MIG_TOML_DATE_LOCAL;
			goto done;
		}
	}
	if (!digits(s, n, i, 2, &dt.hour) || at(s, n, i + 2) != ':' ||
	    !digits(s, n, i + 3, 2, &dt.minute) || at(s, n, i + 5) != ':' ||
	    !digits(s, n, i + 6, 2, &dt.second))
		return mig_toml_perr_at(p, pos, "invalid time: expected "
		    "HH:MM:SS");
	/* XXX: leap seconds (:60) are refused, as most readers do. */
	if (dt.hour > 23 || dt.minute > 59 || dt.second > 59)
		return mig_toml_perr_at(p, pos, "invalid time: %02d:%02d:%02d "
		    "out of range", dt.hour, dt.minute, dt.second);
	i += 8;
	if (at(s, n, i) == '.') {
		i++;
		for (k = 0; is_digit(at(s, n, i + k)); k++)
			if (k < 9)
				dt.nanosecond = dt.nanosecond * 10 +
				    (s[i + k] - '0');
		if (k == 0)
			return mig_toml_perr_at(p, pos, "invalid time: "
			    "expected digits after '.'");
		for (; k < 9; k++)
			dt.nanosecond *= 10;
		while (is_digit(at(s, n, i)))
			i++;
	}
	if (!has_date) {
		type = MIG_TOML_TIME_LOCAL;
		goto done;
	}
	c = at(s, n, i);
	if (c == 'Z' || c == 'z') {
		dt.offset_z = true;
		type = MIG_TOML_DATETIME;
		i++;
	} else if (c == '+' || c == '-') {
		if (!digits(s, n, i + 1, 2, &oh) || at(s, n, i + 3) != ':' ||
		    !digits(s, n, i + 4, 2, &om))
			return mig_toml_perr_at(p, pos, "invalid time offset: "
			    "expected +HH:MM or -HH:MM");
		if (oh > 23 || om > 59)
			return mig_toml_perr_at(p, pos, "invalid time offset: "
			    "%c%02d:%02d out of range", c, oh, om);
		dt.offset_minutes = (c == '-' ? -1 : 1) * (oh * 60 + om);
		type = MIG_TOML_DATETIME;
		i += 6;
	} else
		type = MIG_TOML_DATETIME_LOCAL;
done:
	if ((r = mig_toml_new_value(p, type, pos, depth, &v)) != 0)
		return r;
	v->u.dt.dt = dt;
	if ((r = datetime_text(p, v)) != 0)
		return r;
	advn(p, i);
	*vp = v;
	return 0;
}
