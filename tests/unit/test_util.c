/*
 * Unit tests for lib/util: hex and percent escapes, strict base64, UTF-8,
 * path joining, temporary names, the hash table and back-off.
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
#include <openssl/evp.h>

#include "migrate/error.h"
#include "migrate/util.h"

/* --- hex and percent ---------------------------------------------------- */

static void
test_util__hex_round_trip(void **state)
{
	unsigned char in[256], out[256];
	char hex[513];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)i;
	mig_hex_encode(in, sizeof(in), hex);
	assert_int_equal(strlen(hex), 512);
	assert_memory_equal(hex, "000102", 6);
	assert_string_equal(hex + 506, "fdfeff");
	assert_int_equal(mig_hex_decode(hex, out, sizeof(out)), 0);
	assert_memory_equal(in, out, sizeof(in));
	mig_hex_encode(in, 0, hex);
	assert_string_equal(hex, "");
}

static void
test_util__hex_decode_strict(void **state)
{
	static const struct {
		const char	*in;
		size_t		 len;
		int		 want;
	} cases[] = {
		{ "00ff", 2, 0 },
		{ "00FF", 2, 0 },		/* either case */
		{ "aB", 1, 0 },
		{ "00ff ", 2, 0 },		/* a space may follow */
		{ "00ff0", 2, MIG_ERR_FORMAT },	/* a longer run is not cut */
		{ "00fg", 2, MIG_ERR_FORMAT },
		{ "0", 1, MIG_ERR_FORMAT },	/* short */
		{ "", 1, MIG_ERR_FORMAT },
		{ "+1", 1, MIG_ERR_FORMAT },
		{ " 1", 1, MIG_ERR_FORMAT },
		{ "0x", 1, MIG_ERR_FORMAT },
	};
	unsigned char out[4];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(mig_hex_decode(cases[i].in, out,
		    cases[i].len), cases[i].want);
	assert_int_equal(mig_hex_decode("00ff", out, 2), 0);
	assert_int_equal(out[0], 0);
	assert_int_equal(out[1], 0xff);
	assert_int_equal(mig_hex_digit('f'), 15);
	assert_int_equal(mig_hex_digit('F'), 15);
	assert_int_equal(mig_hex_digit('g'), -1);
	assert_int_equal(mig_hex_digit(-1), -1);
	assert_int_equal(mig_hex_digit(0x100 + '1'), -1);
}

static void
test_util__percent_decode(void **state)
{
	static const struct {
		const char	*in;
		const char	*want;		/* NULL: MIG_ERR_FORMAT */
	} cases[] = {
		{ "", "" },
		{ "plain", "plain" },
		{ "a%20b", "a b" },
		{ "%2F%2f", "//" },
		{ "%C3%A9", "\xc3\xa9" },
		{ "100%25", "100%" },
		{ "%", NULL },
		{ "%2", NULL },
		{ "a%2", NULL },
		{ "%zz", NULL },
		{ "%00", NULL },		/* would cut the string */
		{ "%+1", NULL },
	};
	char *out;
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = mig_percent_decode(cases[i].in, strlen(cases[i].in), &out);
		if (cases[i].want == NULL) {
			assert_int_equal(r, MIG_ERR_FORMAT);
			assert_null(out);
			continue;
		}
		assert_int_equal(r, 0);
		assert_string_equal(out, cases[i].want);
		free(out);
	}
	/* A raw NUL inside the given length is refused too. */
	assert_int_equal(mig_percent_decode("a\0b", 3, &out), MIG_ERR_FORMAT);
	/* Only len bytes are read: the escape past it does not count. */
	assert_int_equal(mig_percent_decode("ab%zz", 2, &out), 0);
	assert_string_equal(out, "ab");
	free(out);
}

/* --- base64 ------------------------------------------------------------- */

static void
test_util__base64_rfc4648_vectors(void **state)
{
	/* RFC 4648 section 10. */
	static const char *const pad[] = {
		"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"
	};
	static const char *const raw[] = {
		"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"
	};
	const char *foobar = "foobar";
	unsigned char out[8];
	char text[16];
	size_t n;

	(void)state;
	for (n = 0; n <= 6; n++) {
		assert_int_equal(mig_base64_len(n), strlen(pad[n]));
		assert_int_equal(mig_base64_raw_len(n), strlen(raw[n]));
		mig_base64_encode((const unsigned char *)foobar, n, text);
		assert_string_equal(text, pad[n]);
		mig_base64_raw_encode((const unsigned char *)foobar, n, text);
		assert_string_equal(text, raw[n]);
		assert_int_equal(mig_base64_decode(pad[n], strlen(pad[n]), out,
		    sizeof(out)), (long)n);
		assert_memory_equal(out, foobar, n);
		assert_int_equal(mig_base64_raw_decode(raw[n], strlen(raw[n]),
		    out, sizeof(out)), (long)n);
		assert_memory_equal(out, foobar, n);
	}
}

static void
test_util__base64_strict(void **state)
{
	static const char *const bad_pad[] = {
		"YR==",		/* unused bits set */
		"YWJ=",
		"YQ=",		/* not a multiple of 4 */
		"YQ",
		"Y===",		/* too much padding */
		"====",
		"YQ=a",		/* '=' inside */
		"Y=Q=",
		"YQ==YQ==",	/* padding in the middle */
		"YW Jj",	/* whitespace */
		"YWJj\n",
		" YWJj",
		"YW-_",		/* the URL alphabet */
		"YWJ\0",	/* a NUL */
	};
	static const char *const bad_raw[] = {
		"YR", "YWJ", "Y", "YQ==", "Y-Q_", "YWJj\n", "YW=j",
	};
	unsigned char out[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_pad) / sizeof(bad_pad[0]); i++)
		assert_int_equal(mig_base64_decode(bad_pad[i],
		    i + 1 == sizeof(bad_pad) / sizeof(bad_pad[0]) ? 4 :
		    strlen(bad_pad[i]), out, sizeof(out)), -1);
	for (i = 0; i < sizeof(bad_raw) / sizeof(bad_raw[0]); i++)
		assert_int_equal(mig_base64_raw_decode(bad_raw[i],
		    strlen(bad_raw[i]), out, sizeof(out)), -1);
	assert_int_equal(mig_base64_raw_decode("YQ", 2, out, sizeof(out)), 1);
	assert_int_equal(mig_base64_raw_decode("YWI", 3, out, sizeof(out)),
	    2);
	assert_int_equal(mig_base64_decode("YWJj", 4, out, sizeof(out)), 3);
}

/*
 * The texts EVP_DecodeBlock() takes for one value are refused here: that
 * is why the audit, the seal and ssh keys no longer decode through it.
 */
static void
test_util__base64_what_evp_accepts(void **state)
{
	static const char *const lax[] = {
		"YR==",		/* unused bits */
		"YW==",
		" YWJj",	/* whitespace around */
		"YWJj\n",
		"Y=Jj",		/* '=' inside */
		"YQ==YQ==",	/* padding in the middle */
	};
	unsigned char out[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(lax) / sizeof(lax[0]); i++) {
		assert_true(EVP_DecodeBlock(out, (const unsigned char *)lax[i],
		    (int)strlen(lax[i])) >= 0);
		assert_int_equal(mig_base64_decode(lax[i], strlen(lax[i]), out,
		    sizeof(out)), -1);
	}
}

static void
test_util__base64_cap(void **state)
{
	unsigned char out[3];

	(void)state;
	assert_int_equal(mig_base64_decode("YWJj", 4, out, 3), 3);
	assert_int_equal(mig_base64_decode("YWJjYQ==", 8, out, 3), -1);
	assert_int_equal(mig_base64_raw_decode("YWJjYQ", 6, out, 3), -1);
	assert_int_equal(mig_base64_raw_decode("YWI", 3, out, 1), -1);
	assert_int_equal(mig_base64_raw_decode("YWI", 3, out, 2), 2);
}

static void
test_util__base64_round_trip(void **state)
{
	unsigned char in[100], out[100];
	char text[200];
	size_t n, i;

	(void)state;
	for (i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 37 + 11);
	for (n = 0; n <= sizeof(in); n++) {
		mig_base64_encode(in, n, text);
		assert_int_equal(strlen(text), mig_base64_len(n));
		assert_int_equal(mig_base64_decode(text, strlen(text), out,
		    sizeof(out)), (long)n);
		assert_memory_equal(in, out, n);
		mig_base64_raw_encode(in, n, text);
		assert_int_equal(strlen(text), mig_base64_raw_len(n));
		assert_int_equal(mig_base64_raw_decode(text, strlen(text), out,
		    n), (long)n);
		assert_memory_equal(in, out, n);
	}
}

/* --- UTF-8 -------------------------------------------------------------- */

static void
test_util__utf8_decode(void **state)
{
	static const struct {
		const char	*in;
		size_t		 len;
		uint32_t	 cp;	/* when len > 0 */
	} cases[] = {
		{ "A", 1, 0x41 },
		{ "\xc3\xa9", 2, 0xe9 },
		{ "\xe2\x82\xac", 3, 0x20ac },
		{ "\xf0\x9f\x98\x80", 4, 0x1f600 },
		{ "\xf4\x8f\xbf\xbf", 4, 0x10ffff },
		{ "\xed\x9f\xbf", 3, 0xd7ff },
		{ "\xee\x80\x80", 3, 0xe000 },
		{ "\xc0\xaf", 0, 0 },		/* overlong '/' */
		{ "\xc1\xbf", 0, 0 },
		{ "\xe0\x80\xaf", 0, 0 },	/* overlong, 3 bytes */
		{ "\xf0\x80\x80\xaf", 0, 0 },	/* overlong, 4 bytes */
		{ "\xed\xa0\x80", 0, 0 },	/* surrogate D800 */
		{ "\xed\xbf\xbf", 0, 0 },	/* surrogate DFFF */
		{ "\xf4\x90\x80\x80", 0, 0 },	/* above U+10FFFF */
		{ "\xf5\x80\x80\x80", 0, 0 },
		{ "\xff", 0, 0 },
		{ "\x80", 0, 0 },		/* lone continuation */
		{ "\xc3", 0, 0 },		/* cut short */
		{ "\xe2\x82", 0, 0 },
		{ "\xc3\x28", 0, 0 },		/* bad continuation */
	};
	uint32_t cp;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cp = 0xdeadbeef;
		assert_int_equal(mig_utf8_decode(
		    (const unsigned char *)cases[i].in, strlen(cases[i].in),
		    &cp), cases[i].len);
		if (cases[i].len > 0)
			assert_int_equal(cp, cases[i].cp);
		assert_int_equal(mig_utf8_valid(cases[i].in,
		    strlen(cases[i].in)), cases[i].len > 0);
	}
	assert_int_equal(mig_utf8_decode((const unsigned char *)"", 0, &cp),
	    0);
	/* n bounds the read: a sequence longer than n is cut short. */
	assert_int_equal(mig_utf8_decode((const unsigned char *)"\xc3\xa9", 1,
	    NULL), 0);
	assert_true(mig_utf8_valid("caf\xc3\xa9 \xe2\x82\xac", 9));
	assert_true(mig_utf8_valid("a\0b", 3));
	assert_false(mig_utf8_valid("caf\xc3", 4));
}

static void
test_util__utf8_encode_round_trip(void **state)
{
	unsigned char buf[4];
	uint32_t cp, back;
	size_t n;

	(void)state;
	for (cp = 0; cp <= 0x110000; cp++) {
		n = mig_utf8_encode(cp, (char *)buf);
		if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
			assert_int_equal(n, 0);
			continue;
		}
		assert_int_equal(n, cp < 0x80 ? 1 : cp < 0x800 ? 2 :
		    cp < 0x10000 ? 3 : 4);
		assert_int_equal(mig_utf8_decode(buf, n, &back), n);
		assert_int_equal(back, cp);
	}
}

/* --- paths -------------------------------------------------------------- */

static void
test_util__path_join(void **state)
{
	static const struct {
		const char	*dir;
		const char	*name;
		const char	*want;
	} cases[] = {
		{ "a", "b", "a/b" },
		{ "a/", "b", "a/b" },
		{ "/", "b", "/b" },
		{ "", "b", "b" },
		{ NULL, "b", "b" },
		{ ".", "b", "b" },
		{ "a/b", "c/d", "a/b/c/d" },
		{ "a", "", "a" },
		{ "", "", "." },
		{ ".", "", "." },
		{ "./a", "b", "./a/b" },
	};
	char buf[8], *s;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = mig_path_join(cases[i].dir, cases[i].name);
		assert_non_null(s);
		assert_string_equal(s, cases[i].want);
		free(s);
		assert_int_equal(mig_path_join_buf(buf, sizeof(buf),
		    cases[i].dir, cases[i].name), 0);
		assert_string_equal(buf, cases[i].want);
	}
	assert_int_equal(mig_path_join_buf(buf, sizeof(buf), "abc", "defg"),
	    MIG_ERR_USAGE);
	assert_string_equal(buf, "");
	assert_int_equal(mig_path_join_buf(buf, sizeof(buf), "abc", "def"), 0);
	assert_string_equal(buf, "abc/def");
}

/* A rel that would leave dir is refused, before any join. */
static void
test_util__path_join_under(void **state)
{
	static const char *const plain[] = {
		"a", "a/b", "a.b/..c/...", ".hidden", "a/.b", "..a", "a..",
	};
	static const char *const escape[] = {
		"", "/", "/etc/passwd", "..", "../x", "a/..", "a/../../b",
		"./a", "a/.", ".", "a//b", "a/", "//a",
	};
	char *s;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		assert_true(mig_path_is_plain(plain[i]));
		assert_int_equal(mig_path_join_under("root", plain[i], &s), 0);
		assert_memory_equal(s, "root/", 5);
		assert_string_equal(s + 5, plain[i]);
		free(s);
	}
	for (i = 0; i < sizeof(escape) / sizeof(escape[0]); i++) {
		assert_false(mig_path_is_plain(escape[i]));
		s = (char *)"not touched";
		assert_int_equal(mig_path_join_under("root", escape[i], &s),
		    MIG_ERR_SECURITY);
		assert_null(s);
	}
	/* The plain join stays what it was: it checks nothing. */
	s = mig_path_join("root", "../x");
	assert_string_equal(s, "root/../x");
	free(s);
}

static void
test_util__tmp_name_unique(void **state)
{
	enum { N = 256 };
	char *names[N];
	size_t i, j;

	(void)state;
	/* 256 draws of 32 bits: a repeat by chance is about 1 in 130,000. */
	for (i = 0; i < N; i++)
		assert_int_equal(mig_tmp_name("lake/data/f", &names[i]), 0);
	for (i = 0; i < N; i++)
		for (j = i + 1; j < N; j++)
			assert_string_not_equal(names[i], names[j]);
	for (i = 0; i < N; i++)
		free(names[i]);
}

static void
test_util__tmp_name(void **state)
{
	char longname[400], *a = NULL, *b = NULL;
	const char *last;
	size_t i, pre;

	(void)state;
	assert_int_equal(mig_tmp_name("dir/sub/file.txt", &a), 0);
	assert_int_equal(mig_tmp_name("dir/sub/file.txt", &b), 0);
	pre = strlen("dir/sub/.file.txt" MIG_TMP_INFIX);
	assert_int_equal(strlen(a), pre + 8);
	assert_memory_equal(a, "dir/sub/.file.txt" MIG_TMP_INFIX, pre);
	for (i = pre; i < pre + 8; i++)
		assert_true(mig_hex_digit(a[i]) >= 0);
	assert_string_not_equal(a, b);	/* 1 in 2^32 to fail by chance */
	free(a);
	free(b);
	assert_int_equal(mig_tmp_name("file", &a), 0);
	assert_memory_equal(a, ".file" MIG_TMP_INFIX, 5 + strlen(MIG_TMP_INFIX));
	free(a);
	/* A long base is cut so the name fits one directory entry. */
	memset(longname, 'x', sizeof(longname));
	memcpy(longname, "d/", 2);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(mig_tmp_name(longname, &a), 0);
	last = strrchr(a, '/') + 1;
	assert_int_equal(strlen(last), NAME_MAX);
	assert_memory_equal(a, "d/.xxx", 6);
	free(a);
	/* ... at a character, not inside a UTF-8 sequence. */
	for (i = 2; i + 1 < sizeof(longname); i += 2)
		memcpy(longname + i, "\xc3\xa9", 2);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(mig_tmp_name(longname, &a), 0);
	last = strrchr(a, '/') + 1;
	assert_true(strlen(last) <= NAME_MAX);
	assert_true(mig_utf8_valid(last, strlen(last)));
	free(a);
}

/* --- hash table --------------------------------------------------------- */

static void
test_util__fnv1a_vectors(void **state)
{
	(void)state;
	/* The FNV-1a reference values (draft-eastlake-fnv). */
	assert_true(mig_fnv1a("", 0) == 0xcbf29ce484222325ULL);
	assert_true(mig_fnv1a("a", 1) == 0xaf63dc4c8601ec8cULL);
	assert_true(mig_fnv1a("foobar", 6) == 0x85944171f73967e8ULL);
}

static void
test_util__htab(void **state)
{
	enum { N = 5000 };
	struct mig_htab h;
	char (*keys)[16];
	const char *k;
	size_t i, v, iter, seen;
	bool found;

	(void)state;
	keys = calloc(N, sizeof(*keys));
	assert_non_null(keys);
	memset(&h, 0, sizeof(h));		/* a zeroed table grows */
	assert_false(mig_htab_get(&h, "x", &v));
	for (i = 0; i < N; i++) {
		(void)snprintf(keys[i], sizeof(keys[i]), "data/f%zu", i);
		assert_int_equal(mig_htab_put(&h, keys[i], i, &found, NULL),
		    0);
		assert_false(found);
	}
	assert_int_equal(h.n, N);
	assert_true(h.n <= h.cap / 2);
	for (i = 0; i < N; i++) {
		assert_true(mig_htab_get(&h, keys[i], &v));
		assert_int_equal(v, i);
	}
	assert_false(mig_htab_get(&h, "data/f", NULL));
	/* A second put keeps the first value and reports it. */
	assert_int_equal(mig_htab_put(&h, "data/f7", 99, &found, &v), 0);
	assert_true(found);
	assert_int_equal(v, 7);
	assert_true(mig_htab_get(&h, "data/f7", &v));
	assert_int_equal(v, 7);
	/* Every key once. */
	for (iter = 0, seen = 0; mig_htab_next(&h, &iter, &k, &v); seen++)
		assert_ptr_equal(k, keys[v]);
	assert_int_equal(seen, N);
	mig_htab_free(&h);
	mig_htab_free(&h);			/* idempotent */
	assert_int_equal(mig_htab_init(&h, 100), 0);
	assert_true(h.cap >= 200);
	mig_htab_free(&h);
	free(keys);
}

/* --- back-off ----------------------------------------------------------- */

static void
test_util__backoff_bounds(void **state)
{
	long d, lo = LONG_MAX, hi = 0;
	int a, i;

	(void)state;
	for (a = 0; a < 12; a++) {
		long step = 250L << (a < 5 ? a : 5);

		if (step > 8000)
			step = 8000;
		for (i = 0; i < 200; i++) {
			d = mig_backoff_ms(a, 250, 8000);
			assert_true(d >= step / 2);
			assert_true(d <= step);
			if (a == 11) {
				lo = d < lo ? d : lo;
				hi = d > hi ? d : hi;
			}
		}
	}
	/* Jittered: 200 draws over [4000, 8000] are not all one value. */
	assert_true(lo < hi);
	assert_int_equal(mig_backoff_ms(0, 0, 100), 0);
	assert_true(mig_backoff_ms(1000000, 250, 8000) <= 8000);
	assert_true(mig_backoff_ms(3, 7, 7) <= 7);
}

static void
test_util__parse_size_and_rate(void **state)
{
	static const struct {
		const char	*in;
		int		 want;
		uint64_t	 value;
	} cases[] = {
		{ "0", 0, 0 }, { "300", 0, 300 }, { "64K", 0, 65536 },
		{ "64k", 0, 65536 }, { "16M", 0, 16 << 20 },
		{ "16MiB", 0, 16 << 20 }, { "1G", 0, 1ULL << 30 },
		{ "3gib", 0, 3ULL << 30 },
		{ "17179869183G", 0, 17179869183ULL << 30 },
		{ "17179869184G", -1, 0 },	/* 2^64: beyond */
		{ "99999999999999999999", -1, 0 },
		{ "", -1, 0 }, { "M", -1, 0 }, { " 5M", -1, 0 },
		{ "+5M", -1, 0 }, { "-5M", -1, 0 }, { "1.5M", -1, 0 },
		{ "5 M", -1, 0 }, { "5MB", -1, 0 }, { "5T", -1, 0 },
		{ "off", -1, 0 },		/* a rate, not a size */
	};
	uint64_t v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = 12345;
		if (mig_parse_size(cases[i].in, &v) != cases[i].want)
			fail_msg("mig_parse_size(\"%s\") != %d", cases[i].in,
			    cases[i].want);
		if (cases[i].want == 0)
			assert_int_equal(v, cases[i].value);
	}
	assert_int_equal(mig_parse_size(NULL, &v), -1);
	assert_int_equal(mig_parse_rate("off", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(mig_parse_rate("OFF", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(mig_parse_rate("10M", &v), 0);
	assert_int_equal(v, 10 << 20);
	assert_int_equal(mig_parse_rate("fast", &v), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_util__hex_round_trip),
		cmocka_unit_test(test_util__hex_decode_strict),
		cmocka_unit_test(test_util__percent_decode),
		cmocka_unit_test(test_util__base64_rfc4648_vectors),
		cmocka_unit_test(test_util__base64_strict),
		cmocka_unit_test(test_util__base64_what_evp_accepts),
		cmocka_unit_test(test_util__base64_cap),
		cmocka_unit_test(test_util__base64_round_trip),
		cmocka_unit_test(test_util__utf8_decode),
		cmocka_unit_test(test_util__utf8_encode_round_trip),
		cmocka_unit_test(test_util__path_join),
		cmocka_unit_test(test_util__path_join_under),
		cmocka_unit_test(test_util__tmp_name),
		cmocka_unit_test(test_util__tmp_name_unique),
		cmocka_unit_test(test_util__fnv1a_vectors),
		cmocka_unit_test(test_util__htab),
		cmocka_unit_test(test_util__backoff_bounds),
		cmocka_unit_test(test_util__parse_size_and_rate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
