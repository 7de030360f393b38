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
 *
 * This file holds the structure (keys, tables, arrays, the document);
 * scalar.c the strings, numbers and date-times.  parser_int.h has the
 * state and the cursor they share.
 */
#include <limits.h>
#include <locale.h>
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
#include "parser_int.h"

static int	parse_value(struct mig_toml_parser *, unsigned,
		    struct mig_toml_value **);
static int	parse_keyval(struct mig_toml_parser *, struct mig_toml_value *);

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
verr(struct mig_toml_parser *p, int code, struct mig_toml_pos pos,
    const char *fmt, va_list ap)
{
	if (p->err != NULL) {
		p->err->pos = pos;
		(void)vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
	}
	return code;
}

int
mig_toml_perr_at(struct mig_toml_parser *p, struct mig_toml_pos pos,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)verr(p, MIG_ERR_PARSE, pos, fmt, ap);
	va_end(ap);
	return MIG_ERR_PARSE;
}

int
mig_toml_perr(struct mig_toml_parser *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)verr(p, MIG_ERR_PARSE, here(p), fmt, ap);
	va_end(ap);
	return MIG_ERR_PARSE;
}

int
mig_toml_nomem(struct mig_toml_parser *p)
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
describe(const struct mig_toml_parser *p, char *buf, size_t size)
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
keyname(const struct mig_toml_parser *p, size_t first, size_t n, char *buf,
    size_t size)
{
	const struct mig_toml_keypart *k;
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

/*
 * Checks the character at the cursor, inside a comment or a string: tab,
 * printable ASCII or well-formed non-ASCII UTF-8.  Sets *np to its length.
 */
int
mig_toml_text_char(struct mig_toml_parser *p, size_t *np)
{
	unsigned char c = p->s[p->off];
	uint32_t cp;

	*np = 1;
	if (c == '\t' || (c >= 0x20 && c < 0x7f))
		return 0;
	if (c < 0x80)
		return mig_toml_perr(p, "control character U+%04X is not "
		    "allowed", c);
	if ((*np = mig_utf8_decode(p->s + p->off, p->len - p->off, &cp)) == 0)
		return mig_toml_perr(p, "invalid UTF-8");
	return 0;
}

/* Skips a comment up to (not including) the end of the line. */
static int
skip_comment(struct mig_toml_parser *p)
{
	size_t n;
	int c, r;

	adv(p);
	for (;;) {
		c = peek(p);
		if (c < 0 || at_newline(p))
			return 0;
		if ((r = mig_toml_text_char(p, &n)) != 0)
			return r;
		advn(p, n);
	}
}

/* Skips whitespace, newlines and comments (inside arrays). */
static int
skip_ws_nl(struct mig_toml_parser *p)
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
end_of_line(struct mig_toml_parser *p, const char *what)
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
	return mig_toml_perr(p, "expected end of line after %s, found %s", what,
	    describe(p, d, sizeof(d)));
}

/* Keys. */

static int
push_key(struct mig_toml_parser *p, char *s, size_t len,
    struct mig_toml_pos pos)
{
	struct mig_toml_keypart *nk;
	size_t cap;

	if (p->nkeys == p->kcap) {
		cap = p->kcap == 0 ? 16 : p->kcap * 2;
		if (cap > SIZE_MAX / sizeof(*nk) ||
		    (nk = realloc(p->keys, cap * sizeof(*nk))) == NULL)
			return mig_toml_nomem(p);
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
parse_key(struct mig_toml_parser *p, size_t *np)
{
	struct mig_toml_pos pos;
	size_t start = p->nkeys, from, len;
	char d[64], *s;
	int c, r;

	for (;;) {
		pos = here(p);
		c = peek(p);
		if (c == '"' || c == '\'') {
			if ((r = mig_toml_parse_string(p, false, &s,
			    &len)) != 0)
				return r;
		} else if (is_bare(c)) {
			from = p->off;
			while (is_bare(peek(p)))
				adv(p);
			len = p->off - from;
			if ((s = mig_toml_alloc(p->doc, len + 1)) == NULL)
				return mig_toml_nomem(p);
			memcpy(s, p->s + from, len);
		} else
			return mig_toml_perr(p, "expected a key, found %s",
			    describe(p, d, sizeof(d)));
		if (p->nkeys - start >= MIG_TOML_MAX_DEPTH)
			return mig_toml_perr_at(p, pos, "key has more than %d "
			    "parts", MIG_TOML_MAX_DEPTH);
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

int
mig_toml_new_value(struct mig_toml_parser *p, enum mig_toml_type type,
    struct mig_toml_pos pos, unsigned depth, struct mig_toml_value **vp)
{
	struct mig_toml_value *v;

	if ((type == MIG_TOML_TABLE || type == MIG_TOML_ARRAY) &&
	    depth > MIG_TOML_MAX_DEPTH)
		return mig_toml_perr_at(p, pos, "nesting deeper than %d levels",
		    MIG_TOML_MAX_DEPTH);
	if ((v = mig_toml_alloc(p->doc, sizeof(*v))) == NULL)
		return mig_toml_nomem(p);
	v->type = type;
	v->pos = pos;
	v->depth = depth;
	*vp = v;
	return 0;
}

static int
parse_array(struct mig_toml_parser *p, unsigned depth,
    struct mig_toml_value **vp)
{
	struct mig_toml_value *a, *v;
	char d[64];
	int c, r;

	if ((r = mig_toml_new_value(p, MIG_TOML_ARRAY, here(p), depth,
	    &a)) != 0)
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
			return mig_toml_nomem(p);
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
		return mig_toml_perr(p, "expected ',' or ']' in array, found "
		    "%s", describe(p, d, sizeof(d)));
	}
	*vp = a;
	return 0;
}

static int
parse_inline_table(struct mig_toml_parser *p, unsigned depth,
    struct mig_toml_value **vp)
{
	struct mig_toml_value *t;
	unsigned long saved = p->gen;
	char d[64];
	int c, r;

	if ((r = mig_toml_new_value(p, MIG_TOML_TABLE, here(p), depth,
	    &t)) != 0)
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
				return mig_toml_perr(p, "expected ',' or '}' "
				    "in inline table, found %s",
				    describe(p, d, sizeof(d)));
			adv(p);
			skip_ws(p);
			if (peek(p) == '}')
				return mig_toml_perr(p, "trailing comma not "
				    "allowed in inline table");
		}
	}
	p->inline_depth--;
	p->gen = saved;
	*vp = t;
	return 0;
}

static int
parse_value(struct mig_toml_parser *p, unsigned depth,
    struct mig_toml_value **vp)
{
	struct mig_toml_pos pos = here(p);
	struct mig_toml_value *v;
	size_t n = p->len - p->off, len;
	char d[64], *s;
	int c = peek(p), r;

	switch (c) {
	case '"':
	case '\'':
		if ((r = mig_toml_parse_string(p, true, &s, &len)) != 0 ||
		    (r = mig_toml_new_value(p, MIG_TOML_STRING, pos, depth,
		    &v)) != 0)
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
			return mig_toml_perr(p, "invalid value '%s'",
			    mig_toml_token(p, d, sizeof(d)));
		if ((r = mig_toml_new_value(p, MIG_TOML_BOOL, pos, depth,
		    &v)) != 0)
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
	if (is_digit(c) && mig_toml_looks_like_datetime(p->s + p->off, n))
		return mig_toml_parse_datetime(p, depth, vp);
	if (is_digit(c) || c == '+' || c == '-' || c == 'i' || c == 'n')
		return mig_toml_parse_number(p, depth, vp);
	if (is_bare(c))
		return mig_toml_perr(p, "invalid value '%s'",
		    mig_toml_token(p, d, sizeof(d)));
	return mig_toml_perr(p, "expected a value, found %s",
	    describe(p, d, sizeof(d)));
}

/* Tables. */

/* Walks from *tp into key part i for a dotted key of a key/value pair. */
static int
dotted_descend(struct mig_toml_parser *p, struct mig_toml_value **tp,
    size_t first, size_t i)
{
	const struct mig_toml_keypart *k = &p->keys[first + i];
	struct mig_toml_value *t = *tp, *v;
	size_t idx;
	char name[128];
	int r;

	idx = mig_toml_find(t, k->s, k->len, k->hash);
	if (idx == SIZE_MAX) {
		if ((r = mig_toml_new_value(p, MIG_TOML_TABLE, k->pos,
		    t->depth + 1, &v)) != 0)
			return r;
		v->flags = MIG_TOML_F_DOTTED |
		    (p->inline_depth > 0 ? MIG_TOML_F_FROZEN : 0);
		v->gen = p->gen;
		if (mig_toml_insert(p->doc, t, k->s, k->len, k->hash, k->pos,
		    v) != 0)
			return mig_toml_nomem(p);
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
		return mig_toml_perr_at(p, k->pos, "cannot use %s as a table: "
		    "it is %s (line %u)", name, a_type(v->type), v->pos.line);
	if (v->flags & MIG_TOML_F_FROZEN)
		return mig_toml_perr_at(p, k->pos, "cannot add keys to inline "
		    "table %s (line %u)", name, v->pos.line);
	if (v->flags & MIG_TOML_F_EXPLICIT)
		return mig_toml_perr_at(p, k->pos, "cannot add keys to table "
		    "%s with dotted keys: it is defined by a header (line %u)",
		    name, v->pos.line);
	return mig_toml_perr_at(p, k->pos, "cannot add keys to table %s: it "
	    "was defined by dotted keys in another section (line %u)", name,
	    v->pos.line);
}

static int
parse_keyval(struct mig_toml_parser *p, struct mig_toml_value *tbl)
{
	struct mig_toml_value *t = tbl, *v;
	const struct mig_toml_keypart *k;
	size_t mark = p->nkeys, n, i, idx;
	char d[64], name[128];
	int r;

	if ((r = parse_key(p, &n)) != 0)
		return r;
	if (peek(p) != '=')
		return mig_toml_perr(p, "expected '=' after key, found %s",
		    describe(p, d, sizeof(d)));
	adv(p);
	skip_ws(p);
	for (i = 0; i + 1 < n; i++)
		if ((r = dotted_descend(p, &t, mark, i)) != 0)
			return r;
	k = &p->keys[mark + n - 1];
	idx = mig_toml_find(t, k->s, k->len, k->hash);
	if (idx != SIZE_MAX)
		return mig_toml_perr_at(p, k->pos, "duplicate key %s (first "
		    "defined at line %u)",
		    keyname(p, mark, n, name, sizeof(name)),
		    t->u.tab.ents[idx].pos.line);
	if ((r = parse_value(p, t->depth + 1, &v)) != 0)
		return r;
	k = &p->keys[mark + n - 1];
	if (mig_toml_insert(p->doc, t, k->s, k->len, k->hash, k->pos, v) != 0)
		return mig_toml_nomem(p);
	p->nkeys = mark;
	return 0;
}

/* Walks from *tp into key part i of a [header] or [[header]]. */
static int
header_descend(struct mig_toml_parser *p, struct mig_toml_value **tp,
    size_t first, size_t i)
{
	const struct mig_toml_keypart *k = &p->keys[first + i];
	struct mig_toml_value *t = *tp, *v;
	size_t idx;
	char name[128];
	int r;

	idx = mig_toml_find(t, k->s, k->len, k->hash);
	if (idx == SIZE_MAX) {
		if ((r = mig_toml_new_value(p, MIG_TOML_TABLE, k->pos,
		    t->depth + 1, &v)) != 0)
			return r;
		if (mig_toml_insert(p->doc, t, k->s, k->len, k->hash, k->pos,
		    v) != 0)
			return mig_toml_nomem(p);
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
		return mig_toml_perr_at(p, k->pos, "cannot add a table to "
		    "inline table %s (line %u)", name, v->pos.line);
	if (v->type == MIG_TOML_ARRAY)
		return mig_toml_perr_at(p, k->pos, "cannot add a table to "
		    "static array %s (line %u)", name, v->pos.line);
	return mig_toml_perr_at(p, k->pos, "cannot use %s as a table: it is "
	    "%s (line %u)", name, a_type(v->type), v->pos.line);
}

/*
 * [name]: the table that key part k names in t, entry e when it exists,
 * is defined here and becomes the current one.  name is k's dotted name
 * for messages, pos where the header starts.
 */
static int
header_table(struct mig_toml_parser *p, struct mig_toml_value *t,
    const struct mig_toml_keypart *k, struct mig_toml_entry *e,
    const char *name, struct mig_toml_pos pos)
{
	struct mig_toml_value *v = e == NULL ? NULL : e->val;
	int r;

	if (v == NULL) {
		if ((r = mig_toml_new_value(p, MIG_TOML_TABLE, pos,
		    t->depth + 1, &v)) != 0)
			return r;
		if (mig_toml_insert(p->doc, t, k->s, k->len, k->hash, k->pos,
		    v) != 0)
			return mig_toml_nomem(p);
	} else if (v->type != MIG_TOML_TABLE)
		return mig_toml_perr_at(p, k->pos, "cannot define table %s: "
		    "key already defined as %s (line %u)", name,
		    a_type(v->type), v->pos.line);
	else if (v->flags & MIG_TOML_F_FROZEN)
		return mig_toml_perr_at(p, k->pos, "cannot define table %s: "
		    "already defined as an inline table (line %u)", name,
		    v->pos.line);
	else if (v->flags & MIG_TOML_F_DOTTED)
		return mig_toml_perr_at(p, k->pos, "cannot define table %s: "
		    "already defined by dotted keys (line %u)", name,
		    v->pos.line);
	else if (v->flags & MIG_TOML_F_EXPLICIT)
		return mig_toml_perr_at(p, k->pos, "table %s defined twice "
		    "(first at line %u)", name, v->pos.line);
	else {
		/* Implicit until now: it is defined here. */
		v->pos = pos;
		e->pos = k->pos;
	}
	v->flags |= MIG_TOML_F_EXPLICIT;
	p->cur = v;
	return 0;
}

/*
 * [[name]]: a new table is appended to the array of tables that key part
 * k names in t (entry e when it exists) and becomes the current one.
 */
static int
header_aot(struct mig_toml_parser *p, struct mig_toml_value *t,
    const struct mig_toml_keypart *k, struct mig_toml_entry *e,
    const char *name, struct mig_toml_pos pos)
{
	struct mig_toml_value *v = e == NULL ? NULL : e->val, *elt;
	int r;

	if (v == NULL) {
		if ((r = mig_toml_new_value(p, MIG_TOML_ARRAY, pos,
		    t->depth + 1, &v)) != 0)
			return r;
		v->flags = MIG_TOML_F_AOT;
		if (mig_toml_insert(p->doc, t, k->s, k->len, k->hash, k->pos,
		    v) != 0)
			return mig_toml_nomem(p);
	} else if (v->type != MIG_TOML_ARRAY)
		return mig_toml_perr_at(p, k->pos, "cannot define array of "
		    "tables %s: key already defined as %s (line %u)", name,
		    a_type(v->type), v->pos.line);
	else if (!(v->flags & MIG_TOML_F_AOT))
		return mig_toml_perr_at(p, k->pos, "cannot append to static "
		    "array %s (line %u)", name, v->pos.line);
	if ((r = mig_toml_new_value(p, MIG_TOML_TABLE, pos, v->depth + 1,
	    &elt)) != 0)
		return r;
	elt->flags = MIG_TOML_F_EXPLICIT;
	if (mig_toml_push(p->doc, v, elt) != 0)
		return mig_toml_nomem(p);
	p->cur = elt;
	return 0;
}

static int
parse_header(struct mig_toml_parser *p)
{
	struct mig_toml_pos pos = here(p);
	struct mig_toml_value *t = p->doc->root;
	const struct mig_toml_keypart *k;
	struct mig_toml_entry *e;
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
		return mig_toml_perr(p, "expected '%s' after table name, "
		    "found %s", aot ? "]]" : "]", describe(p, d, sizeof(d)));
	advn(p, aot ? 2 : 1);
	p->gen = ++p->ngen;
	for (i = 0; i + 1 < n; i++)
		if ((r = header_descend(p, &t, mark, i)) != 0)
			return r;
	k = &p->keys[mark + n - 1];
	(void)keyname(p, mark, n, name, sizeof(name));
	idx = mig_toml_find(t, k->s, k->len, k->hash);
	e = idx == SIZE_MAX ? NULL : &t->u.tab.ents[idx];
	if (aot)
		r = header_aot(p, t, k, e, name, pos);
	else
		r = header_table(p, t, k, e, name, pos);
	if (r != 0)
		return r;
	p->nkeys = mark;
	return 0;
}

static int
parse_document(struct mig_toml_parser *p)
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
			return mig_toml_perr(p, "expected a key or table "
			    "header, found %s", describe(p, d, sizeof(d)));
		if ((r = parse_keyval(p, p->cur)) != 0 ||
		    (r = end_of_line(p, "value")) != 0)
			return r;
	}
}

int
mig_toml_parse(const char *buf, size_t len, struct mig_toml_doc **docp,
    struct mig_toml_error *err)
{
	struct mig_toml_parser p;
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
		r = mig_toml_perr(&p, "document too large");
		goto out;
	}
	if ((p.doc = mig_toml_doc_new()) == NULL) {
		r = mig_toml_nomem(&p);
		goto out;
	}
	if ((r = mig_toml_new_value(&p, MIG_TOML_TABLE, here(&p), 0,
	    &root)) != 0)
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
