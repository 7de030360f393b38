/*
 * The scrubber of server-sent text (lib/transport/scrub.c): the request's
 * credentials never reach a message, whatever the server echoes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "transport/scrub_int.h"

/* The secrets of a Basic transport for user "migrate", password "pw-1". */
static const char *const basic[] = {
	"pw-1", "migrate:pw-1", "bWlncmF0ZTpwdy0x", "bWlncmF0ZTpwdy0x",
};
/* ... and of one whose base64 is padded ("migrate:pw" is 10 bytes). */
static const char *const padded[] = {
	"pw", "migrate:pw", "bWlncmF0ZTpwdw==", "bWlncmF0ZTpwdw",
};
static const char *const bearer[] = { "tok-5e3c7a" };

struct row {
	const char		*in;
	bool			 cut;
	const char *const	*secrets;
	size_t			 n;
	const char		*want;
};

#define B(a)	(a), sizeof(a) / sizeof((a)[0])

static const struct row rows[] = {
	/* The attack: nginx `return 409 "$http_authorization"`. */
	{ "Bearer tok-5e3c7a", false, B(bearer), "Bearer [redacted]" },
	{ "Basic bWlncmF0ZTpwdy0x", false, B(basic), "Basic [redacted]" },
	{ "Basic bWlncmF0ZTpwdw==", false, B(padded), "Basic [redacted]" },
	/* Without its padding, too. */
	{ "auth=bWlncmF0ZTpwdw;", false, B(padded), "auth=[redacted];" },
	/* The password, and user:password as one. */
	{ "bad password pw-1 for migrate", false, B(basic),
	  "bad password [redacted] for migrate" },
	{ "creds migrate:pw-1.", false, B(basic), "creds [redacted]." },
	/* Every occurrence, back to back. */
	{ "tok-5e3c7atok-5e3c7a x tok-5e3c7a", false, B(bearer),
	  "[redacted][redacted] x [redacted]" },
	/* A body cut by the 512-byte bound: a secret's start goes too. */
	{ "error: Bearer tok-5e", true, B(bearer), "error: Bearer [redacted]" },
	{ "error: Bearer tok-5e", false, B(bearer), "error: Bearer tok-5e" },
	{ "ends in t", true, B(bearer), "ends in [redacted]" },
	/* Not a secret: left alone. */
	{ "tok-5e3c7b", false, B(bearer), "tok-5e3c7b" },
	{ "no credentials here", false, NULL, 0, "no credentials here" },
	/* Control bytes and DEL: no terminal escapes, no log line split. */
	{ "a\x1b[31mb\r\nc\x7f", false, B(bearer), "a?[31mb??c?" },
	{ "x\ttok-5e3c7a\n", false, B(bearer), "x?[redacted]?" },
};

static void
test_transport_scrub__table(void **state)
{
	char out[256];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		n = mig_scrub(rows[i].in, strlen(rows[i].in), rows[i].cut,
		    rows[i].secrets, rows[i].n, 200, out, sizeof(out));
		if (strcmp(out, rows[i].want) != 0)
			fail_msg("row %zu: got \"%s\", want \"%s\"", i, out,
			    rows[i].want);
		assert_int_equal(n, strlen(rows[i].want));
	}
}

/* Empty and NULL secrets match nothing (not every position). */
static void
test_transport_scrub__empty_secrets(void **state)
{
	static const char *const s[] = { "", NULL, "" };
	char out[64];

	(void)state;
	(void)mig_scrub("abc", 3, true, s, 3, 200, out, sizeof(out));
	assert_string_equal(out, "abc");
}

/*
 * The length bound cuts the output, after redaction: a secret across
 * the bound is never half shown.
 */
static void
test_transport_scrub__bounds(void **state)
{
	char out[64], small[6];
	size_t n;

	(void)state;
	n = mig_scrub("abcd tok-5e3c7a", 15, false, B(bearer), 8, out,
	    sizeof(out));
	assert_int_equal(n, 8);
	assert_string_equal(out, "abcd [re");
	/* cap bounds too, and the output is always terminated. */
	n = mig_scrub("tok-5e3c7a and more", 19, false, B(bearer), 200,
	    small, sizeof(small));
	assert_int_equal(n, 5);
	assert_string_equal(small, "[reda");
	assert_int_equal(mig_scrub("x", 1, false, NULL, 0, 200, small, 0), 0);
}

/* mig_scrub_secrets keeps newlines and NULs (the body is parsed later). */
static void
test_transport_scrub__binary(void **state)
{
	static const char in[] = "<title>tok-5e3c7a</title>\n\0tok-5e3c7a";
	char out[128];
	size_t i, n;

	(void)state;
	n = mig_scrub_secrets(in, sizeof(in) - 1, false, B(bearer), out,
	    sizeof(out));
	assert_int_equal(n, sizeof("<title>[redacted]</title>\n\0[redacted]") -
	    1);
	assert_memory_equal(out, "<title>[redacted]</title>\n\0[redacted]", n);
	for (i = 0; i + 6 <= n; i++)
		assert_memory_not_equal(out + i, "5e3c7a", 6);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transport_scrub__table),
		cmocka_unit_test(test_transport_scrub__empty_secrets),
		cmocka_unit_test(test_transport_scrub__bounds),
		cmocka_unit_test(test_transport_scrub__binary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
