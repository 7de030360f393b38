/*
 * JSON text written straight into a buffer, for the audit record and the
 * journal line of every object (util_int.h).  Only what is plain is
 * written here: printable ASCII strings without '"' or '\', which jansson
 * copies unchanged, and integers, which it prints in decimal
 * (JSON_INTEGER_FORMAT).  Everything else goes through jansson itself, so
 * the bytes are jansson's whatever the input.
 */
#include <string.h>

#include <jansson.h>

#include "util_int.h"

void
mig_jtext_init(struct mig_jtext *t, char *buf, size_t cap)
{
	t->p = buf;
	t->cap = cap;
	t->len = 0;
	t->bad = false;
}

void
mig_jtext_raw(struct mig_jtext *t, const char *s, size_t len)
{
	if (t->len <= t->cap && len <= t->cap - t->len)
		memcpy(t->p + t->len, s, len);
	t->len += len;
}

void
mig_jtext_lit(struct mig_jtext *t, const char *s)
{
	mig_jtext_raw(t, s, strlen(s));
}

/* json_dumpb() of v at the end of the text. */
static void
jtext_dump(struct mig_jtext *t, const json_t *v, size_t flags)
{
	size_t at, n;

	at = t->len < t->cap ? t->len : t->cap;
	n = json_dumpb(v, t->p + at, t->cap - at, flags | JSON_ENCODE_ANY);
	if (n == 0)
		t->bad = true;
	/* Past cap, json_dumpb() wrote nothing or a part: len says so. */
	t->len += n;
}

void
mig_jtext_str(struct mig_jtext *t, const char *s, size_t len)
{
	json_t *v;
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e ||
		    s[i] == '"' || s[i] == '\\')
			break;
	if (i == len) {
		mig_jtext_raw(t, "\"", 1);
		mig_jtext_raw(t, s, len);
		mig_jtext_raw(t, "\"", 1);
		return;
	}
	/* Escapes and UTF-8 by jansson's own rules. */
	if ((v = json_stringn(s, len)) == NULL) {
		t->bad = true;
		return;
	}
	jtext_dump(t, v, 0);
	json_decref(v);
}

/*
 * The digits JSON_INTEGER_FORMAT prints (a minus sign, no leading zeros),
 * without snprintf(): a line holds up to five integers.
 */
void
mig_jtext_int(struct mig_jtext *t, json_int_t v)
{
	char num[24], *p = num + sizeof(num);
	unsigned long long u;

	/* The magnitude as unsigned: -LLONG_MIN does not fit json_int_t. */
	u = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u > 0);
	if (v < 0)
		*--p = '-';
	mig_jtext_raw(t, p, (size_t)(num + sizeof(num) - p));
}

void
mig_jtext_members(struct mig_jtext *t, const json_t *obj, size_t flags)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)obj, k, v) {
		mig_jtext_raw(t, ",", 1);
		mig_jtext_str(t, k, strlen(k));
		mig_jtext_raw(t, ":", 1);
		if (json_is_string(v))
			mig_jtext_str(t, json_string_value(v),
			    json_string_length(v));
		else if (json_is_integer(v))
			mig_jtext_int(t, json_integer_value(v));
		else
			jtext_dump(t, v, flags);
	}
}
