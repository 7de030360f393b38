/*
 * TOML 1.0.0 parser: a hand-written recursive descent over the bytes of
 * the document, written from the specification at https://toml.io/en/v1.0.0.
 *
 * The cursor tracks line and column (in code points) as it advances, so
 * every error points at the exact character.  UTF-8 and control characters
 * are checked where text may appear (strings and comments); anywhere else
 * a byte outside printable ASCII is already a syntax error.
 *
 * Redefinition rules.  Each table carries flags:
 *   EXPLICIT  defined by a [header] (or an element of [[header]]);
 *   DOTTED    created or extended by dotted keys, in section gen;
 *   FROZEN    an inline table or a table inside one, complete after its
 *             closing brace (gen is the inline table's own section);
 *   none      created implicitly as a header prefix ([a] by [a.b]).
 * Every [header] and every inline table starts a new section number.
 * A header may walk through any non-frozen table and through the last
 * element of an array of tables; it may define a table only if it does not
 * exist or exists implicitly.  Dotted keys may walk through tables created
 * implicitly or by dotted keys of the same section, never through tables
 * defined by a header or frozen by another section.
 */
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/error.h"
#include "migrate/toml.h"
#include "migrate/util.h"

#define MIG_TOML_PRIVATE
#include "toml_int.h"

struct keypart {
	char			*s;	/* in the doc arena */
	size_t			 len;
	uint64_t		 hash;
	struct mig_toml_pos	 pos;
};

struct parser {
	const unsigned char	*s;
	size_t			 len, off;
	unsigned		 line, col;
	struct mig_toml_doc	*doc;
	struct mig_toml_error	*err;
	struct mig_toml_value	*cur;	/* table of this section */
	unsigned long		 gen, ngen;
	unsigned		 inline_depth;
	struct keypart		*keys;	/* stack of key parts */
	size_t			 nkeys, kcap;
	char			*sb;	/* string being decoded */
	size_t			 sblen, sbcap;
	locale_t		 cloc;	/* "C" numeric, for strtod */
};

static int	parse_value(struct parser *, unsigned,
		    struct mig_toml_value **);
static int	parse_keyval(struct parser *, struct mig_toml_value *);

/* Cursor. */

static int
peek(const struct parser *p)
{
	return p->off < p->len ? p->s[p->off] : -1;
}

static int
peekn(const struct parser *p, size_t n)
{
	return p->len - p->off > n ? p->s[p->off + n] : -1;
}

static void
adv(struct parser *p)
{
	unsigned char c = p->s[p->off++];

	if (c == '\n') {
		p->line++;
		p->col = 1;
	} else if ((c & 0xc0) != 0x80)
		p->col++;
}

static void
advn(struct parser *p, size_t n)
{
	while (n-- > 0)
		adv(p);
}

static struct mig_toml_pos
here(const struct parser *p)
{
	struct mig_toml_pos pos;

	pos.line = p->line;
	pos.col = p->col;
	return pos;
}

static bool
at_newline(const struct parser *p)
{
	int c = peek(p);

	return c == '\n' || (c == '\r' && peekn(p, 1) == '\n');
}

static void
eat_newline(struct parser *p)
{
	if (peek(p) == '\r')
		adv(p);
	adv(p);
}

static void
skip_ws(struct parser *p)
{
	int c;

	while ((c = peek(p)) == ' ' || c == '\t')
		adv(p);
}

static bool
is_bare(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static bool
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* A type name with its article, for messages: "an integer". */
static const char *
a_type(enum mig_toml_type t)
{
	switch (t) {
	case MIG_TOML_TABLE:		return "a table";
	case MIG_TOML_ARRAY:		return "an array";
	case MIG_TOML_STRING:		return "a string";
	case MIG_TOML_INTEGER:		return "an integer";
	case MIG_TOML_FLOAT:		return "a float";
	case MIG_TOML_BOOL:		return "a boolean";
	case MIG_TOML_DATETIME:		return "an offset date-time";
	case MIG_TOML_DATETIME_LOCAL:	return "a local date-time";
	case MIG_TOML_DATE_LOCAL:	return "a local date";
	case MIG_TOML_TIME_LOCAL:	return "a local time";
	}
	return "a value";
}

/* Errors. */

static int __attribute__((format(printf, 4, 0)))
verr(struct parser *p, int code, struct mig_toml_pos pos, const char *fmt,
    va_list ap)
{
	if (p->err != NULL) {
		p->err->pos = pos;
		(void)vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
	}
	return code;
}

static int __attribute__((format(printf, 3, 4)))
perr_at(struct parser *p, struct mig_toml_pos pos, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)verr(p, MIG_ERR_PARSE, pos, fmt, ap);
	va_end(ap);
	return MIG_ERR_PARSE;
}

static int __attribute__((format(printf, 2, 3)))
perr(struct parser *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)verr(p, MIG_ERR_PARSE, here(p), fmt, ap);
	va_end(ap);
	return MIG_ERR_PARSE;
}

static int
nomem(struct parser *p)
{
	if (p->err != NULL) {
		p->err->pos = here(p);
		(void)snprintf(p->err->msg, sizeof(p->err->msg),
		    "out of memory");
	}
	return MIG_ERR_NOMEM;
}

/* Describes the character at the cursor for a message.  Returns buf. */
static const char *
describe(const struct parser *p, char *buf, size_t size)
{
	uint32_t cp;
	int c = peek(p);

	if (c < 0)
		(void)snprintf(buf, size, "end of input");
	else if (c == '\n' || (c == '\r' && peekn(p, 1) == '\n'))
		(void)snprintf(buf, size, "end of line");
	else if (c == '\r')
		(void)snprintf(buf, size, "carriage return without line feed");
	else if (c >= 0x20 && c < 0x7f)
		(void)snprintf(buf, size, "'%c'", c);
	else if (c < 0x80)
		(void)snprintf(buf, size, "control character U+%04X", c);
	else if (mig_utf8_decode(p->s + p->off, p->len - p->off, &cp) == 0)
		(void)snprintf(buf, size, "invalid UTF-8");
	else
		(void)snprintf(buf, size, "U+%04X", (unsigned)cp);
	return buf;
}

/* Appends n bytes to buf (size bytes) at *op if they fit; else false. */
static bool
app(char *buf, size_t size, size_t *op, const char *s, size_t n)
{
	if (size - *op <= n)
		return false;
	memcpy(buf + *op, s, n);
	*op += n;
	buf[*op] = '\0';
	return true;
}

/*
 * Formats key parts first..first+n-1 as a TOML dotted key in single
 * quotes, e.g. 'a."b c".d', for messages.  Returns buf.
 */
static const char *
keyname(const struct parser *p, size_t first, size_t n, char *buf,
    size_t size)
{
	const struct keypart *k;
	size_t o = 0, i, j;
	bool ok = true, bare;
	char esc[8];
	unsigned char c;

	buf[0] = '\0';
	ok = app(buf, size, &o, "'", 1);
	for (i = 0; ok && i < n; i++) {
		k = &p->keys[first + i];
		if (i > 0)
			ok = app(buf, size, &o, ".", 1);
		bare = k->len > 0;
		for (j = 0; j < k->len; j++)
			if (!is_bare((unsigned char)k->s[j]))
				bare = false;
		if (bare) {
			ok = ok && app(buf, size, &o, k->s, k->len);
			continue;
		}
		ok = ok && app(buf, size, &o, "\"", 1);
		for (j = 0; ok && j < k->len; j++) {
			c = (unsigned char)k->s[j];
			if (c == '"' || c == '\\') {
				esc[0] = '\\';
				esc[1] = (char)c;
				ok = app(buf, size, &o, esc, 2);
			} else if (c < 0x20 || c == 0x7f) {
				(void)snprintf(esc, sizeof(esc), "\\u%04X", c);
				ok = app(buf, size, &o, esc, 6);
			} else
				ok = app(buf, size, &o, (const char *)&c, 1);
		}
		ok = ok && app(buf, size, &o, "\"", 1);
	}
	ok = ok && app(buf, size, &o, "'", 1);
	if (!ok) {
		/* Cut at a character boundary, leaving room for "...". */
		if (o > size - 4)
			o = size - 4;
		while (o > 0 && ((unsigned char)buf[o] & 0xc0) == 0x80)
			o--;
		buf[o] = '\0';
		(void)app(buf, size, &o, "...", 3);
	}
	return buf;
}

/* Scratch buffer for string contents. */

static int
sb_add(struct parser *p, const void *d, size_t n)
{
	size_t cap;
	char *np;

	if (n == 0)
		return 0;
	if (p->sbcap - p->sblen < n) {
		cap = p->sbcap < 64 ? 64 : p->sbcap;
		while (cap - p->sblen < n) {
			if (cap > SIZE_MAX / 2)
				return nomem(p);
			cap *= 2;
		}
		if ((np = realloc(p->sb, cap)) == NULL)
			return nomem(p);
		p->sb = np;
		p->sbcap = cap;
	}
	memcpy(p->sb + p->sblen, d, n);
	p->sblen += n;
	return 0;
}

static int
sb_add_utf8(struct parser *p, uint32_t cp)
{
	char u[4];

	/* The callers checked cp is a scalar value: n is never 0. */
	return sb_add(p, u, mig_utf8_encode(cp, u));
}

/* Copies the scratch buffer into the arena, NUL-terminated. */
static int
sb_finish(struct parser *p, char **sp, size_t *lenp)
{
	char *s;

	if ((s = mig_toml_alloc(p->doc, p->sblen + 1)) == NULL)
		return nomem(p);
	if (p->sblen > 0)
		memcpy(s, p->sb, p->sblen);
	s[p->sblen] = '\0';
	*sp = s;
	*lenp = p->sblen;
	return 0;
}

/*
 * Checks the character at the cursor, inside a comment or a string: tab,
 * printable ASCII or well-formed non-ASCII UTF-8.  Sets *np to its length.
 */
static int
text_char(struct parser *p, size_t *np)
{
	unsigned char c = p->s[p->off];
	uint32_t cp;

	*np = 1;
	if (c == '\t' || (c >= 0x20 && c < 0x7f))
		return 0;
	if (c < 0x80)
		return perr(p, "control character U+%04X is not allowed", c);
	if ((*np = mig_utf8_decode(p->s + p->off, p->len - p->off, &cp)) == 0)
		return perr(p, "invalid UTF-8");
	return 0;
}

/* Skips a comment up to (not including) the end of the line. */
static int
skip_comment(struct parser *p)
{
	size_t n;
	int c, r;

	adv(p);
	for (;;) {
		c = peek(p);
		if (c < 0 || at_newline(p))
			return 0;
		if ((r = text_char(p, &n)) != 0)
			return r;
		advn(p, n);
	}
}

/* Skips whitespace, newlines and comments (inside arrays). */
static int
skip_ws_nl(struct parser *p)
{
	int c, r;

	for (;;) {
		c = peek(p);
		if (c == ' ' || c == '\t')
			adv(p);
		else if (at_newline(p))
			eat_newline(p);
		else if (c == '#') {
			if ((r = skip_comment(p)) != 0)
				return r;
		} else
			return 0;
	}
}

/* After an expression: whitespace, an optional comment, a newline. */
static int
end_of_line(struct parser *p, const char *what)
{
	char d[64];
	int r;

	skip_ws(p);
	if (peek(p) == '#' && (r = skip_comment(p)) != 0)
		return r;
	if (peek(p) < 0)
		return 0;
	if (at_newline(p)) {
		eat_newline(p);
		return 0;
	}
	return perr(p, "expected end of line after %s, found %s", what,
	    describe(p, d, sizeof(d)));
}

/* Strings. */

/* Decodes the escape at the cursor (a backslash) of a basic string. */
static int
parse_escape(struct parser *p, bool multi)
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
				return perr_at(p, pos, "invalid escape: \\%c "
				    "needs %zu hex digits", c, n);
			cp = cp << 4 | (uint32_t)h;
		}
		if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return perr_at(p, pos, "invalid escape: U+%04lX is "
			    "not a Unicode scalar value", (unsigned long)cp);
		advn(p, n + 1);
		return sb_add_utf8(p, cp);
	default:
		if (multi && (c == ' ' || c == '\t' || at_newline(p))) {
			/* Line-ending backslash: trim up to the next text. */
			skip_ws(p);
			if (!at_newline(p))
				return perr_at(p, pos, "invalid escape: only "
				    "whitespace may follow a line-ending "
				    "backslash");
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
			return perr_at(p, pos, "invalid escape sequence '\\%c'",
			    c);
		return perr_at(p, pos, "invalid escape sequence");
	}
	adv(p);
	return sb_add(p, &ch, 1);
}

/*
 * Parses a string at the cursor, which is at quote (" or ').  Multi-line
 * forms are recognised only when allow_multi.  *sp is NUL-terminated and
 * lives in the arena; *lenp gets its length.
 */
static int
parse_string(struct parser *p, bool allow_multi, char **sp, size_t *lenp)
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
			return perr_at(p, pos, "unterminated string");
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
				return perr(p, "newline in single-line string");
			eat_newline(p);
			if ((r = sb_add(p, "\n", 1)) != 0)
				return r;
			continue;
		}
		if ((r = text_char(p, &n)) != 0)
			return r;
		if ((r = sb_add(p, p->s + p->off, n)) != 0)
			return r;
		advn(p, n);
	}
	return sb_finish(p, sp, lenp);
}

/* Keys. */

static int
push_key(struct parser *p, char *s, size_t len, struct mig_toml_pos pos)
{
	struct keypart *nk;
	size_t cap;

	if (p->nkeys == p->kcap) {
		cap = p->kcap == 0 ? 16 : p->kcap * 2;
		if (cap > SIZE_MAX / sizeof(*nk) ||
		    (nk = realloc(p->keys, cap * sizeof(*nk))) == NULL)
			return nomem(p);
		p->keys = nk;
		p->kcap = cap;
	}
	nk = &p->keys[p->nkeys++];
	nk->s = s;
	nk->len = len;
	nk->hash = mig_fnv1a(s, len);
	nk->pos = pos;
	return 0;
}

/*
 * Parses a dotted key onto the key stack; *np gets the number of parts.
 * Also skips the whitespace after it.
 */
static int
parse_key(struct parser *p, size_t *np)
{
	struct mig_toml_pos pos;
	size_t start = p->nkeys, from, len;
	char d[64], *s;
	int c, r;

	for (;;) {
		pos = here(p);
		c = peek(p);
		if (c == '"' || c == '\'') {
			if ((r = parse_string(p, false, &s, &len)) != 0)
				return r;
		} else if (is_bare(c)) {
			from = p->off;
			while (is_bare(peek(p)))
				adv(p);
			len = p->off - from;
			if ((s = mig_toml_alloc(p->doc, len + 1)) == NULL)
				return nomem(p);
			memcpy(s, p->s + from, len);
		} else
			return perr(p, "expected a key, found %s",
			    describe(p, d, sizeof(d)));
		if (p->nkeys - start >= MIG_TOML_MAX_DEPTH)
			return perr_at(p, pos, "key has more than %d parts",
			    MIG_TOML_MAX_DEPTH);
		if ((r = push_key(p, s, len, pos)) != 0)
			return r;
		skip_ws(p);
		if (peek(p) != '.')
			break;
		adv(p);
		skip_ws(p);
	}
	*np = p->nkeys - start;
	return 0;
}

/* Values. */

static int
new_value(struct parser *p, enum mig_toml_type type, struct mig_toml_pos pos,
    unsigned depth, struct mig_toml_value **vp)
{
	struct mig_toml_value *v;

	if ((type == MIG_TOML_TABLE || type == MIG_TOML_ARRAY) &&
	    depth > MIG_TOML_MAX_DEPTH)
		return perr_at(p, pos, "nesting deeper than %d levels",
		    MIG_TOML_MAX_DEPTH);
	if ((v = mig_toml_alloc(p->doc, sizeof(*v))) == NULL)
		return nomem(p);
	v->type = type;
	v->pos = pos;
	v->depth = depth;
	*vp = v;
	return 0;
}

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
static const char *
token(const struct parser *p, char *buf, size_t size)
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

static int
parse_number(struct parser *p, unsigned depth, struct mig_toml_value **vp)
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
			return perr_at(p, pos, "invalid date or time '%s'",
			    token(p, tok, sizeof(tok)));
		if (i == 2 && (s[0] == '+' || s[0] == '-') && s[1] == '0' &&
		    (s[2] == 'x' || s[2] == 'o' || s[2] == 'b'))
			why = "hex, octal and binary integers take no sign";
	}
	if (why != NULL)
		return perr_at(p, pos, "invalid number '%s': %s",
		    token(p, tok, sizeof(tok)), why);

	if (isfloat && !special) {
		p->sblen = 0;
		for (j = 0; j < i; j++)
			if (s[j] != '_' && (r = sb_add(p, s + j, 1)) != 0)
				return r;
		if ((r = sb_add(p, "", 1)) != 0)
			return r;
		if (p->cloc == (locale_t)0 && (p->cloc = newlocale(
		    LC_NUMERIC_MASK, "C", (locale_t)0)) == (locale_t)0)
			return nomem(p);
		old = uselocale(p->cloc);
		errno = 0;
		f = strtod(p->sb, &end);
		(void)uselocale(old);
		if (errno == ERANGE && isinf(f))
			return perr_at(p, pos, "float '%s' is out of range",
			    token(p, tok, sizeof(tok)));
	} else if (!isfloat) {
		limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
		j = base != 10 ? 2 : (s[0] == '+' || s[0] == '-') ? 1 : 0;
		for (; j < i; j++) {
			if (s[j] == '_')
				continue;
			d = (uint64_t)mig_hex_digit(s[j]);
			if (mag > (limit - d) / (uint64_t)base)
				return perr_at(p, pos, "integer '%s' is out of "
				    "range", token(p, tok, sizeof(tok)));
			mag = mag * (uint64_t)base + d;
		}
	}
	if ((r = new_value(p, isfloat ? MIG_TOML_FLOAT : MIG_TOML_INTEGER,
	    pos, depth, &v)) != 0)
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
static bool
looks_like_datetime(const unsigned char *s, size_t n)
{
	int v;

	return (digits(s, n, 0, 2, &v) && at(s, n, 2) == ':') ||
	    (digits(s, n, 0, 4, &v) && at(s, n, 4) == '-');
}

/* Formats the canonical text of a date/time value into the arena. */
static int
datetime_text(struct parser *p, struct mig_toml_value *v)
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
		return nomem(p);
	memcpy(v->u.dt.text, buf, o + 1);
	return 0;
}

/*
 * Parses an offset date-time, local date-time, local date or local time
 * at the cursor (RFC 3339 as restricted by TOML: seconds are required,
 * 'T', 't' or a space separate date and time).
 */
static int
parse_datetime(struct parser *p, unsigned depth, struct mig_toml_value **vp)
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
			return perr_at(p, pos, "invalid date: expected "
			    "YYYY-MM-DD");
		if (dt.month < 1 || dt.month > 12)
			return perr_at(p, pos, "invalid date: month %02d out "
			    "of range", dt.month);
		if (dt.day < 1 || dt.day > days_in_month(dt.year, dt.month))
			return perr_at(p, pos, "invalid date: day %02d out of "
			    "range for %04d-%02d", dt.day, dt.year, dt.month);
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
		return perr_at(p, pos, "invalid time: expected HH:MM:SS");
	/* XXX: leap seconds (:60) are refused, as most readers do. */
	if (dt.hour > 23 || dt.minute > 59 || dt.second > 59)
		return perr_at(p, pos, "invalid time: %02d:%02d:%02d out of "
		    "range", dt.hour, dt.minute, dt.second);
	i += 8;
	if (at(s, n, i) == '.') {
		i++;
		for (k = 0; is_digit(at(s, n, i + k)); k++)
			if (k < 9)
				dt.nanosecond = dt.nanosecond * 10 +
				    (s[i + k] - '0');
		if (k == 0)
			return perr_at(p, pos, "invalid time: expected digits "
			    "after '.'");
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
			return perr_at(p, pos, "invalid time offset: expected "
			    "+HH:MM or -HH:MM");
		if (oh > 23 || om > 59)
			return perr_at(p, pos, "invalid time offset: "
			    "%c%02d:%02d out of range", c, oh, om);
		dt.offset_minutes = (c == '-' ? -1 : 1) * (oh * 60 + om);
		type = MIG_TOML_DATETIME;
		i += 6;
	} else
		type = MIG_TOML_DATETIME_LOCAL;
done:
	if ((r = new_value(p, type, pos, depth, &v)) != 0)
		return r;
	v->u.dt.dt = dt;
	if ((r = datetime_text(p, v)) != 0)
		return r;
	advn(p, i);
	*vp = v;
	return 0;
}

static int
parse_array(struct parser *p, unsigned depth, struct mig_toml_value **vp)
{
	struct mig_toml_value *a, *v;
	char d[64];
	int c, r;

	if ((r = new_value(p, MIG_TOML_ARRAY, here(p), depth, &a)) != 0)
		return r;
	adv(p);
	for (;;) {
		if ((r = skip_ws_nl(p)) != 0)
			return r;
		if (peek(p) == ']') {
			adv(p);
			break;
		}
		if ((r = parse_value(p, depth + 1, &v)) != 0)
			return r;
		if (mig_toml_push(p->doc, a, v) != 0)
			return nomem(p);
		if ((r = skip_ws_nl(p)) != 0)
			return r;
		c = peek(p);
		if (c == ',') {
			adv(p);
			continue;
		}
		if (c == ']') {
			adv(p);
			break;
		}
		return perr(p, "expected ',' or ']' in array, found %s",
		    describe(p, d, sizeof(d)));
	}
	*vp = a;
	return 0;
}

static int
parse_inline_table(struct parser *p, unsigned depth,
    struct mig_toml_value **vp)
{
	struct mig_toml_value *t;
	unsigned long saved = p->gen;
	char d[64];
	int c, r;

	if ((r = new_value(p, MIG_TOML_TABLE, here(p), depth, &t)) != 0)
		return r;
	p->gen = ++p->ngen;
	t->flags = MIG_TOML_F_FROZEN;
	t->gen = p->gen;
	p->inline_depth++;
	adv(p);
	skip_ws(p);
	if (peek(p) == '}')
		adv(p);
	else {
		for (;;) {
			skip_ws(p);
			if ((r = parse_keyval(p, t)) != 0)
				return r;
			skip_ws(p);
			c = peek(p);
			if (c == '}') {
				adv(p);
				break;
			}
			if (c != ',')
				return perr(p, "expected ',' or '}' in inline "
				    "table, found %s",
				    describe(p, d, sizeof(d)));
			adv(p);
			skip_ws(p);
			if (peek(p) == '}')
				return perr(p, "trailing comma not allowed in "
				    "inline table");
		}
	}
	p->inline_depth--;
	p->gen = saved;
	*vp = t;
	return 0;
}

static int
parse_value(struct parser *p, unsigned depth, struct mig_toml_value **vp)
{
	struct mig_toml_pos pos = here(p);
	struct mig_toml_value *v;
	size_t n = p->len - p->off, len;
	char d[64], *s;
	int c = peek(p), r;

	switch (c) {
	case '"':
	case '\'':
		if ((r = parse_string(p, true, &s, &len)) != 0 ||
		    (r = new_value(p, MIG_TOML_STRING, pos, depth, &v)) != 0)
			return r;
		v->u.str.ptr = s;
		v->u.str.len = len;
		*vp = v;
		return 0;
	case 't':
	case 'f':
		len = c == 't' ? 4 : 5;
		if (n < len || memcmp(p->s + p->off, c == 't' ? "true" :
		    "false", len) != 0 || is_bare(peekn(p, len)))
			return perr(p, "invalid value '%s'",
			    token(p, d, sizeof(d)));
		if ((r = new_value(p, MIG_TOML_BOOL, pos, depth, &v)) != 0)
			return r;
		v->u.b = c == 't';
		advn(p, len);
		*vp = v;
		return 0;
	case '[':
		return parse_array(p, depth, vp);
	case '{':
		return parse_inline_table(p, depth, vp);
	default:
		break;
	}
	if (is_digit(c) && looks_like_datetime(p->s + p->off, n))
		return parse_datetime(p, depth, vp);
	if (is_digit(c) || c == '+' || c == '-' || c == 'i' || c == 'n')
		return parse_number(p, depth, vp);
	if (is_bare(c))
		return perr(p, "invalid value '%s'", token(p, d, sizeof(d)));
	return perr(p, "expected a value, found %s", describe(p, d, sizeof(d)));
}

/* Tables. */

/* Walks from *tp into key part i for a dotted key of a key/value pair. */
static int
dotted_descend(struct parser *p, struct mig_toml_value **tp, size_t first,
    size_t i)
{
	const struct keypart *k = &p->keys[first + i];
	struct mig_toml_value *t = *tp, *v;
	size_t idx;
	char name[128];
	int r;

	idx = mig_toml_find(t, k->s, k->len, k->hash);
	if (idx == SIZE_MAX) {
		if ((r = new_value(p, MIG_TOML_TABLE, k->pos, t->depth + 1,
		    &v)) != 0)
			return r;
		v->flags = MIG_TOML_F_DOTTED |
		    (p->inline_depth > 0 ? MIG_TOML_F_FROZEN : 0);
		v->gen = p->gen;
		if (mig_toml_insert(p->doc, t, k->s, k->len, k->hash, k->pos,
		    v) != 0)
			return nomem(p);
		*tp = v;
		return 0;
	}
	v = t->u.tab.ents[idx].val;
	if (v->type == MIG_TOML_TABLE &&
	    !((v->flags & MIG_TOML_F_FROZEN) && v->gen != p->gen) &&
	    !(v->flags & MIG_TOML_F_EXPLICIT) &&
	    !((v->flags & MIG_TOML_F_DOTTED) && v->gen != p->gen)) {
		v->flags |= MIG_TOML_F_DOTTED;
		v->gen = p->gen;
		*tp = v;
		return 0;
	}
	(void)keyname(p, first, i + 1, name, sizeof(name));
	if (v->type != MIG_TOML_TABLE)
		return perr_at(p, k->pos, "cannot use %s as a table: it is "
		    "%s (line %u)", name, a_type(v->type), v->pos.line);
	if (v->flags & MIG_TOML_F_FROZEN)
		return perr_at(p, k->pos, "cannot add keys to inline table %s "
		    "(line %u)", name, v->pos.line);
	if (v->flags & MIG_TOML_F_EXPLICIT)
		return perr_at(p, k->pos, "cannot add keys to table %s with "
		    "dotted keys: it is defined by a header (line %u)", name,
		    v->pos.line);
	return perr_at(p, k->pos, "cannot add keys to table %s: it was "
	    "defined by dotted keys in another section (line %u)", name,
	    v->pos.line);
}

static int
parse_keyval(struct parser *p, struct mig_toml_value *tbl)
{
	struct mig_toml_value *t = tbl, *v;
	const struct keypart *k;
	size_t mark = p->nkeys, n, i, idx;
	char d[64], name[128];
	int r;

	if ((r = parse_key(p, &n)) != 0)
		return r;
	if (peek(p) != '=')
		return perr(p, "expected '=' after key, found %s",
		    describe(p, d, sizeof(d)));
	adv(p);
	skip_ws(p);
	for (i = 0; i + 1 < n; i++)
		if ((r = dotted_descend(p, &t, mark, i)) != 0)
			return r;
	k = &p->keys[mark + n - 1];
	idx = mig_toml_find(t, k->s, k->len, k->hash);
	if (idx != SIZE_MAX)
		return perr_at(p, k->pos, "duplicate key %s (first defined at "
		    "line %u)", keyname(p, mark, n, name, sizeof(name)),
		    t->u.tab.ents[idx].pos.line);
	if ((r = parse_value(p, t->depth + 1, &v)) != 0)
		return r;
	k = &p->keys[mark + n - 1];
	if (mig_toml_insert(p->doc, t, k->s, k->len, k->hash, k->pos, v) != 0)
		return nomem(p);
	p->nkeys = mark;
	return 0;
}

/* Walks from *tp into key part i of a [header] or [[header]]. */
static int
header_descend(struct parser *p, struct mig_toml_value **tp, size_t first,
    size_t i)
{
	const struct keypart *k = &p->keys[first + i];
	struct mig_toml_value *t = *tp, *v;
	size_t idx;
	char name[128];
	int r;

	idx = mig_toml_find(t, k->s, k->len, k->hash);
	if (idx == SIZE_MAX) {
		if ((r = new_value(p, MIG_TOML_TABLE, k->pos, t->depth + 1,
		    &v)) != 0)
			return r;
		if (mig_toml_insert(p->doc, t, k->s, k->len, k->hash, k->pos,
		    v) != 0)
			return nomem(p);
		*tp = v;
		return 0;
	}
	v = t->u.tab.ents[idx].val;
	if (v->type == MIG_TOML_TABLE && !(v->flags & MIG_TOML_F_FROZEN)) {
		*tp = v;
		return 0;
	}
	if (v->type == MIG_TOML_ARRAY && (v->flags & MIG_TOML_F_AOT)) {
		*tp = v->u.arr.items[v->u.arr.len - 1];
		return 0;
	}
	(void)keyname(p, first, i + 1, name, sizeof(name));
	if (v->type == MIG_TOML_TABLE)
		return perr_at(p, k->pos, "cannot add a table to inline table "
		    "%s (line %u)", name, v->pos.line);
	if (v->type == MIG_TOML_ARRAY)
		return perr_at(p, k->pos, "cannot add a table to static array "
		    "%s (line %u)", name, v->pos.line);
	return perr_at(p, k->pos, "cannot use %s as a table: it is %s "
	    "(line %u)", name, a_type(v->type), v->pos.line);
}

static int
parse_header(struct parser *p)
{
	struct mig_toml_pos pos = here(p);
	struct mig_toml_value *t = p->doc->root, *v, *elt;
	struct mig_toml_entry *e;
	const struct keypart *k;
	size_t mark = p->nkeys, n, i, idx;
	char d[64], name[128];
	bool aot;
	int r;

	aot = peekn(p, 1) == '[';
	advn(p, aot ? 2 : 1);
	skip_ws(p);
	if ((r = parse_key(p, &n)) != 0)
		return r;
	if (peek(p) != ']' || (aot && peekn(p, 1) != ']'))
		return perr(p, "expected '%s' after table name, found %s",
		    aot ? "]]" : "]", describe(p, d, sizeof(d)));
	advn(p, aot ? 2 : 1);
	p->gen = ++p->ngen;
	for (i = 0; i + 1 < n; i++)
		if ((r = header_descend(p, &t, mark, i)) != 0)
			return r;
	k = &p->keys[mark + n - 1];
	(void)keyname(p, mark, n, name, sizeof(name));
	idx = mig_toml_find(t, k->s, k->len, k->hash);
	e = idx == SIZE_MAX ? NULL : &t->u.tab.ents[idx];
	v = e == NULL ? NULL : e->val;
	if (!aot) {
		if (v == NULL) {
			if ((r = new_value(p, MIG_TOML_TABLE, pos,
			    t->depth + 1, &v)) != 0)
				return r;
			if (mig_toml_insert(p->doc, t, k->s, k->len, k->hash,
			    k->pos, v) != 0)
				return nomem(p);
		} else if (v->type != MIG_TOML_TABLE)
			return perr_at(p, k->pos, "cannot define table %s: "
			    "key already defined as %s (line %u)", name,
			    a_type(v->type), v->pos.line);
		else if (v->flags & MIG_TOML_F_FROZEN)
			return perr_at(p, k->pos, "cannot define table %s: "
			    "already defined as an inline table (line %u)",
			    name, v->pos.line);
		else if (v->flags & MIG_TOML_F_DOTTED)
			return perr_at(p, k->pos, "cannot define table %s: "
			    "already defined by dotted keys (line %u)", name,
			    v->pos.line);
		else if (v->flags & MIG_TOML_F_EXPLICIT)
			return perr_at(p, k->pos, "table %s defined twice "
			    "(first at line %u)", name, v->pos.line);
		else {
			/* Implicit until now: it is defined here. */
			v->pos = pos;
			e->pos = k->pos;
		}
		v->flags |= MIG_TOML_F_EXPLICIT;
		p->cur = v;
	} else {
		if (v == NULL) {
			if ((r = new_value(p, MIG_TOML_ARRAY, pos,
			    t->depth + 1, &v)) != 0)
				return r;
			v->flags = MIG_TOML_F_AOT;
			if (mig_toml_insert(p->doc, t, k->s, k->len, k->hash,
			    k->pos, v) != 0)
				return nomem(p);
		} else if (v->type != MIG_TOML_ARRAY)
			return perr_at(p, k->pos, "cannot define array of "
			    "tables %s: key already defined as %s (line %u)",
			    name, a_type(v->type), v->pos.line);
		else if (!(v->flags & MIG_TOML_F_AOT))
			return perr_at(p, k->pos, "cannot append to static "
			    "array %s (line %u)", name, v->pos.line);
		if ((r = new_value(p, MIG_TOML_TABLE, pos, v->depth + 1,
		    &elt)) != 0)
			return r;
		elt->flags = MIG_TOML_F_EXPLICIT;
		if (mig_toml_push(p->doc, v, elt) != 0)
			return nomem(p);
		p->cur = elt;
	}
	p->nkeys = mark;
	return 0;
}

static int
parse_document(struct parser *p)
{
	char d[64];
	int c, r;

	if (p->len >= 3 && memcmp(p->s, "\xef\xbb\xbf", 3) == 0)
		p->off = 3;	/* a byte order mark is not a column */
	for (;;) {
		skip_ws(p);
		c = peek(p);
		if (c < 0)
			return 0;
		if (at_newline(p)) {
			eat_newline(p);
			continue;
		}
		if (c == '#') {
			if ((r = skip_comment(p)) != 0)
				return r;
			continue;
		}
		if (c == '[') {
			if ((r = parse_header(p)) != 0 ||
			    (r = end_of_line(p, "table header")) != 0)
				return r;
			continue;
		}
		if (!is_bare(c) && c != '"' && c != '\'')
			return perr(p, "expected a key or table header, found "
			    "%s", describe(p, d, sizeof(d)));
		if ((r = parse_keyval(p, p->cur)) != 0 ||
		    (r = end_of_line(p, "value")) != 0)
			return r;
	}
}

int
mig_toml_parse(const char *buf, size_t len, struct mig_toml_doc **docp,
    struct mig_toml_error *err)
{
	struct parser p;
	struct mig_toml_value *root;
	int r;

	if (err != NULL)
		memset(err, 0, sizeof(*err));
	if (docp == NULL || (buf == NULL && len > 0))
		return MIG_ERR_USAGE;
	*docp = NULL;
	memset(&p, 0, sizeof(p));
	p.s = (const unsigned char *)buf;
	p.len = len;
	p.line = p.col = 1;
	p.err = err;
	if (len >= UINT_MAX) {
		r = perr(&p, "document too large");
		goto out;
	}
	if ((p.doc = mig_toml_doc_new()) == NULL) {
		r = nomem(&p);
		goto out;
	}
	if ((r = new_value(&p, MIG_TOML_TABLE, here(&p), 0, &root)) != 0)
		goto out_free_doc;
	root->flags = MIG_TOML_F_EXPLICIT;
	p.doc->root = p.cur = root;
	if ((r = parse_document(&p)) != 0)
		goto out_free_doc;
	*docp = p.doc;
	p.doc = NULL;
 out_free_doc:
	mig_toml_free(p.doc);
 out:
	if (p.cloc != (locale_t)0)
		freelocale(p.cloc);
	free(p.keys);
	free(p.sb);
	return r;
}
