/*
 * The parser's state and the helpers shared by parse.c (the document:
 * keys, tables, arrays) and scalar.c (strings, numbers, date-times).
 *
 * The cursor helpers are static inline: they run for every byte of the
 * document, and a call across files would cost more than they do.  Being
 * static, each file has its own copy and the short names never reach
 * libmigrate.a's symbol table.
 */
#ifndef MIGRATE_TOML_PARSER_INT_H
#define MIGRATE_TOML_PARSER_INT_H

#if !defined(MIG_TOML_PRIVATE)
#error "parser_int.h is private to lib/toml"
#endif

#include <locale.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "migrate/toml.h"

#include "toml_int.h"

struct mig_toml_keypart {
	char			*s;	/* in the doc arena */
	size_t			 len;
	uint64_t		 hash;
	struct mig_toml_pos	 pos;
};

struct mig_toml_parser {
	const unsigned char	*s;
	size_t			 len, off;
	unsigned		 line, col;
	struct mig_toml_doc	*doc;
	struct mig_toml_error	*err;
	struct mig_toml_value	*cur;	/* table of this section */
	unsigned long		 gen, ngen;
	unsigned		 inline_depth;
	struct mig_toml_keypart	*keys;	/* stack of key parts */
	size_t			 nkeys, kcap;
	char			*sb;	/* string being decoded */
	size_t			 sblen, sbcap;
	locale_t		 cloc;	/* "C" numeric, for strtod */
};

/* Cursor. */

static inline int
peek(const struct mig_toml_parser *p)
{
	return p->off < p->len ? p->s[p->off] : -1;
}

static inline int
peekn(const struct mig_toml_parser *p, size_t n)
{
	return p->len - p->off > n ? p->s[p->off + n] : -1;
}

static inline void
adv(struct mig_toml_parser *p)
{
	unsigned char c = p->s[p->off++];

	if (c == '\n') {
		p->line++;
		p->col = 1;
	} else if ((c & 0xc0) != 0x80)
		p->col++;
}

static inline void
advn(struct mig_toml_parser *p, size_t n)
{
	while (n-- > 0)
		adv(p);
}

static inline struct mig_toml_pos
here(const struct mig_toml_parser *p)
{
	struct mig_toml_pos pos;

	pos.line = p->line;
	pos.col = p->col;
	return pos;
}

static inline bool
at_newline(const struct mig_toml_parser *p)
{
	int c = peek(p);

	return c == '\n' || (c == '\r' && peekn(p, 1) == '\n');
}

static inline void
eat_newline(struct mig_toml_parser *p)
{
	if (peek(p) == '\r')
		adv(p);
	adv(p);
}

static inline void
skip_ws(struct mig_toml_parser *p)
{
	int c;

	while ((c = peek(p)) == ' ' || c == '\t')
		adv(p);
}

static inline bool
is_bare(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static inline bool
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* parse.c */

/*
 * Errors: each puts the message and its position in p->err (when not
 * NULL) and returns MIG_ERR_PARSE; perr points at the cursor.
 */
int	mig_toml_perr_at(struct mig_toml_parser *p, struct mig_toml_pos pos,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int	mig_toml_perr(struct mig_toml_parser *p, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* "out of memory" at the cursor; returns MIG_ERR_NOMEM. */
int	mig_toml_nomem(struct mig_toml_parser *p);
/*
 * Checks the character at the cursor, inside a comment or a string: tab,
 * printable ASCII or well-formed non-ASCII UTF-8.  Sets *np to its length.
 */
int	mig_toml_text_char(struct mig_toml_parser *p, size_t *np);
/*
 * A new value of type at pos in the arena, into *vp; tables and arrays
 * deeper than MIG_TOML_MAX_DEPTH are refused.
 */
int	mig_toml_new_value(struct mig_toml_parser *p, enum mig_toml_type type,
	    struct mig_toml_pos pos, unsigned depth,
	    struct mig_toml_value **vp);

/* scalar.c */

/*
 * Parses a string at the cursor, which is at quote (" or ').  Multi-line
 * forms are recognised only when allow_multi.  *sp is NUL-terminated and
 * lives in the arena; *lenp gets its length.
 */
int	mig_toml_parse_string(struct mig_toml_parser *p, bool allow_multi,
	    char **sp, size_t *lenp);
/* The number-like token at the cursor, for messages.  Returns buf. */
const char *mig_toml_token(const struct mig_toml_parser *p, char *buf,
	    size_t size);
/* Parses an integer or a float at the cursor into *vp. */
int	mig_toml_parse_number(struct mig_toml_parser *p, unsigned depth,
	    struct mig_toml_value **vp);
/* Whether s (n bytes) starts like a date "dddd-" or a time "dd:". */
bool	mig_toml_looks_like_datetime(const unsigned char *s, size_t n);
/*
 * Parses an offset date-time, local date-time, local date or local time
 * at the cursor into *vp.
 */
int	mig_toml_parse_datetime(struct mig_toml_parser *p, unsigned depth,
	    struct mig_toml_value **vp);

#endif /* MIGRATE_TOML_PARSER_INT_H */
