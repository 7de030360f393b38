/*
 * Unit tests for lib/util/jtext.c: the JSON text written straight into a
 * buffer must be byte for byte what jansson writes for the same value,
 * for every kind of string (escapes, control bytes, UTF-8, bytes that are
 * not UTF-8), integer and member, and must never write past its buffer.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "util/util_int.h"

#define FLAGS	(JSON_COMPACT | JSON_PRESERVE_ORDER)

static const struct {
	const char	*s;
	size_t		 len;
} strs[] = {
	{ "", 0 },
	{ "d0000/f000", 10 },
	{ "data/d0000/f000.age", 19 },
	{ "quote\" and backslash\\", 22 },
	{ "/slash/", 7 },
	{ "tab\tnl\ncr\rbs\bff\f", 16 },
	{ "\x01\x1f\x7f", 3 },
	{ "nul\0inside", 10 },
	{ "caf\xc3\xa9", 5 },
	{ "\xe6\x97\xa5\xe6\x9c\xac", 6 },
	{ "\xf0\x9f\x98\x80", 4 },
	{ "bad \xff byte", 10 },
	{ "overlong \xc0\xaf", 11 },
	{ "cut \xe6\x97", 6 },
	{ "surrogate \xed\xa0\x80", 13 },
};

/* What jansson writes for s, or NULL when it refuses s. */
static char *
jansson_str(const char *s, size_t len)
{
	json_t *v = json_stringn(s, len);
	char *out;

	if (v == NULL)
		return NULL;
	out = json_dumps(v, FLAGS | JSON_ENCODE_ANY);
	json_decref(v);
	assert_non_null(out);
	return out;
}

static void
test_util__jtext_strings(void **state)
{
	struct mig_jtext t;
	char buf[256], *want;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		mig_jtext_init(&t, buf, sizeof(buf));
		mig_jtext_str(&t, strs[i].s, strs[i].len);
		want = jansson_str(strs[i].s, strs[i].len);
		if (want == NULL) {
			if (!t.bad)
				fail_msg("case %zu: jansson refuses it", i);
			continue;
		}
		if (t.bad || t.len != strlen(want) ||
		    memcmp(buf, want, t.len) != 0)
			fail_msg("case %zu: \"%.*s\", jansson \"%s\"", i,
			    (int)t.len, buf, want);
		free(want);
	}
}

static void
test_util__jtext_integers(void **state)
{
	static const json_int_t v[] = { 0, 1, -1, 9, 10, -10, 300,
	    1000000007, LLONG_MAX, LLONG_MIN, LLONG_MIN + 1 };
	struct mig_jtext t;
	char buf[64], *want;
	json_t *j;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		mig_jtext_init(&t, buf, sizeof(buf));
		mig_jtext_int(&t, v[i]);
		j = json_integer(v[i]);
		want = json_dumps(j, JSON_ENCODE_ANY);
		assert_false(t.bad);
		assert_int_equal(t.len, strlen(want));
		assert_memory_equal(buf, want, t.len);
		free(want);
		json_decref(j);
	}
}

/* Members of every type, spliced as an audit record splices them. */
static void
test_util__jtext_members(void **state)
{
	struct mig_jtext t;
	char buf[1024], *want;
	json_t *o;
	size_t i;

	(void)state;
	o = json_pack("{s:s, s:I, s:b, s:b, s:n, s:f, s:f, s:[i, s, {}], "
	    "s:{s:s, s:[]}, s:{}}", "object", "d0000/f000", "bytes",
	    (json_int_t)100, "yes", 1, "no", 0, "none", "real", 1.5, "big",
	    1e300, "list", 1, "two", "nested", "k\"ey", "v\n", "e", "empty");
	assert_non_null(o);
	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		json_t *v = json_stringn(strs[i].s, strs[i].len);
		char key[16];

		if (v == NULL)
			continue;
		(void)snprintf(key, sizeof(key), "s%zu\xc3\xa9", i);
		assert_int_equal(json_object_set_new(o, key, v), 0);
	}
	want = json_dumps(o, FLAGS);
	assert_non_null(want);
	mig_jtext_init(&t, buf, sizeof(buf));
	mig_jtext_lit(&t, "{\"v\":1");
	mig_jtext_members(&t, o, FLAGS);
	mig_jtext_lit(&t, "}");
	assert_false(t.bad);
	/* jansson: {"object":...}; here {"v":1,"object":...}. */
	assert_int_equal(t.len, strlen(want) + 6);
	assert_memory_equal(buf, "{\"v\":1,", 7);
	assert_memory_equal(buf + 7, want + 1, strlen(want) - 1);
	free(want);
	/* No members: nothing at all. */
	json_decref(o);
	o = json_object();
	mig_jtext_init(&t, buf, sizeof(buf));
	mig_jtext_members(&t, o, FLAGS);
	assert_int_equal(t.len, 0);
	json_decref(o);
}

/* A text too long for its buffer: counted, never written past cap. */
static void
test_util__jtext_overflow(void **state)
{
	struct mig_jtext t;
	char buf[128], *full;
	json_t *o;
	size_t cap, need;

	(void)state;
	o = json_pack("{s:s, s:s, s:I, s:[i, i]}", "a", "0123456789",
	    "b\"", "x\ty", "c", (json_int_t)-7, "d", 1, 2);
	full = json_dumps(o, FLAGS);
	need = strlen(full) - 1;	/* ",a:..." without the braces */
	assert_true(need + 1 < sizeof(buf));
	for (cap = 0; cap <= need + 1; cap++) {
		memset(buf, '#', sizeof(buf));
		mig_jtext_init(&t, buf, cap);
		mig_jtext_members(&t, o, FLAGS);
		assert_false(t.bad);
		assert_int_equal(t.len, need);
		assert_true(buf[cap] == '#');
		if (cap >= need)
			assert_memory_equal(buf + 1, full + 1, need - 1);
	}
	free(full);
	json_decref(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_util__jtext_strings),
		cmocka_unit_test(test_util__jtext_integers),
		cmocka_unit_test(test_util__jtext_members),
		cmocka_unit_test(test_util__jtext_overflow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
