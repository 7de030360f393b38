/*
 * TOML 1.0.0 parser with a typed, read-only document API.
 *
 * Every value remembers where it starts in the source (line and column,
 * both 1-based, column counted in Unicode code points), and every table
 * entry where its key starts, so callers can point users at the offending
 * line.
 */
#ifndef MIGRATE_TOML_H
#define MIGRATE_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mig_toml_type {
	MIG_TOML_TABLE,
	MIG_TOML_ARRAY,
	MIG_TOML_STRING,
	MIG_TOML_INTEGER,
	MIG_TOML_FLOAT,
	MIG_TOML_BOOL,
	MIG_TOML_DATETIME,	/* offset date-time */
	MIG_TOML_DATETIME_LOCAL,
	MIG_TOML_DATE_LOCAL,
	MIG_TOML_TIME_LOCAL
};

struct mig_toml_pos {
	unsigned	line;
	unsigned	col;
};

struct mig_toml_error {
	struct mig_toml_pos	pos;
	char			msg[256];
};

struct mig_toml_datetime {
	int	year, month, day;		/* when a date is present */
	int	hour, minute, second;		/* when a time is present */
	int	nanosecond;
	int	offset_minutes;			/* MIG_TOML_DATETIME only */
	bool	offset_z;			/* written as 'Z' */
};

struct mig_toml_doc;
struct mig_toml_value;

/* Deepest nesting of arrays and inline tables accepted. */
#define MIG_TOML_MAX_DEPTH	128

/*
 * Parses len bytes of buf (no NUL needed).  On success *docp is set and
 * the caller must mig_toml_free() it.  On failure returns MIG_ERR_PARSE
 * (or MIG_ERR_NOMEM) and fills *err with the position and a message like
 * "expected '=' after key".
 */
int	mig_toml_parse(const char *buf, size_t len, struct mig_toml_doc **docp,
	    struct mig_toml_error *err);
void	mig_toml_free(struct mig_toml_doc *doc);

/* The root table.  Borrowed from doc, like every value below. */
const struct mig_toml_value *mig_toml_root(const struct mig_toml_doc *doc);

enum mig_toml_type	 mig_toml_type(const struct mig_toml_value *v);
/* Human name of a type: "table", "array", "string", "integer", ... */
const char		*mig_toml_type_name(enum mig_toml_type t);
struct mig_toml_pos	 mig_toml_value_pos(const struct mig_toml_value *v);

/* Tables keep their keys in document order. */
size_t	 mig_toml_table_len(const struct mig_toml_value *t);
/* Key i of t; *lenp gets its length (keys may hold NUL bytes). */
const char *mig_toml_table_key(const struct mig_toml_value *t, size_t i,
	    size_t *lenp);
struct mig_toml_pos mig_toml_table_key_pos(const struct mig_toml_value *t,
	    size_t i);
const struct mig_toml_value *mig_toml_table_value(
	    const struct mig_toml_value *t, size_t i);
/* Value for a NUL-terminated key, or NULL. */
const struct mig_toml_value *mig_toml_table_get(const struct mig_toml_value *t,
	    const char *key);
/*
 * Value at a dotted path of bare keys ("destination.url"), or NULL when
 * any part is missing or is not a table.
 */
const struct mig_toml_value *mig_toml_get_path(const struct mig_toml_value *t,
	    const char *path);

size_t	 mig_toml_array_len(const struct mig_toml_value *a);
const struct mig_toml_value *mig_toml_array_at(const struct mig_toml_value *a,
	    size_t i);

/* Accessors; each must only be called on a value of the matching type. */
/* NUL-terminated; *lenp (when not NULL) gets the length. */
const char	*mig_toml_string(const struct mig_toml_value *v, size_t *lenp);
int64_t		 mig_toml_int(const struct mig_toml_value *v);
double		 mig_toml_float(const struct mig_toml_value *v);
bool		 mig_toml_bool(const struct mig_toml_value *v);
const struct mig_toml_datetime *mig_toml_datetime(
	    const struct mig_toml_value *v);
/*
 * Canonical RFC 3339 text of a date/time value, as toml-test expects it
 * (e.g. "1979-05-27T07:32:00Z", "1979-05-27T00:32:00.999999-07:00",
 * "07:32:00").  Borrowed from doc.
 */
const char	*mig_toml_datetime_text(const struct mig_toml_value *v);

#endif /* MIGRATE_TOML_H */
