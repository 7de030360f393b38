/*
 * Util internals shared with other lib/ modules (the audit writer, the
 * run journal).  Lib-only: not part of the public API.
 */
#ifndef MIGRATE_UTIL_INT_H
#define MIGRATE_UTIL_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/*
 * A line of JSON text written straight into a caller's buffer, byte for
 * byte what jansson's json_dumpb() writes for the same value with the
 * flags given (JSON_COMPACT; neither JSON_ENSURE_ASCII nor
 * JSON_ESCAPE_SLASH), for the lines written once per object, where
 * building a json_t and dumping it cost more than the rest of the line's
 * work.  Like json_dumpb(), len counts what the text needs even past
 * cap: the caller checks len against cap once, at the end.  bad is set
 * when a string is not UTF-8 (jansson refuses it too) or jansson cannot
 * encode a value.
 */
struct mig_jtext {
	char	*p;
	size_t	 cap;
	size_t	 len;
	bool	 bad;
};

void	mig_jtext_init(struct mig_jtext *t, char *buf, size_t cap);
/* Appends s[0..len) as it is: punctuation and text known to be JSON. */
void	mig_jtext_raw(struct mig_jtext *t, const char *s, size_t len);
/* mig_jtext_raw() of the C string s. */
void	mig_jtext_lit(struct mig_jtext *t, const char *s);
/* Appends s[0..len) as a JSON string, quotes included. */
void	mig_jtext_str(struct mig_jtext *t, const char *s, size_t len);
void	mig_jtext_int(struct mig_jtext *t, json_int_t v);
/*
 * Appends ",\"key\":value" for every member of the object obj, in its
 * order, keys taken as C strings; other values than strings and
 * integers are left to json_dumpb() with flags.
 */
void	mig_jtext_members(struct mig_jtext *t, const json_t *obj,
	    size_t flags);

#endif /* MIGRATE_UTIL_INT_H */
