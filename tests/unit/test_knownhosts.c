/*
 * The SFTP host key policy (lib/transport/knownhosts.c) without a server:
 * OpenSSH's pattern, negation, port and hashed-name rules, @revoked and
 * @cert-authority lines, malformed lines, and the refusal messages.  The
 * keys and hashed names below were made by ssh-keygen (OpenSSH 9.2), so
 * the HMAC and base64 code is checked against OpenSSH's own output.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "migrate/error.h"

#include "transport/knownhosts_int.h"

#include "testutil.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* ssh-keygen -t ed25519 (A, B) and -t ecdsa -b 256 (C). */
#define KEY_A	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIs/4Z6x4go9tM+cfOzIJ7HIlN78HdjPXXSMi8aT92cn"
#define KEY_B	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKjo8ypVzn+BtTA2rYhM1GZF/mfmDZ+nyH3aHF5m1t/9"
#define KEY_C	"ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBDK7fyC89bmS1XIhzUh30xbD/wbPSKqgwMAB595Fxg24f/lx7Ev3XcajgPmjq60KnMoEGlLiaVvKaKLe9TzMgUA="
#define FP_A	"SHA256:mrfcNXcrSnCEf9xnKzU6fmTbhvPknIZIM9fJxZn0wJY"
/* ssh-keygen -H of "example.org", "[127.0.0.1]:2222" and "127.0.0.1". */
#define HASH_EXAMPLE	"|1|7c7imeEVUOXJt9kjLxXNZ5fWnCw=|8z3yS4nOXfJFBud6wvW8QyCcCsU="
#define HASH_PORT	"|1|EBxK5AmOC5nimHARlBfUksCbtc4=|nT3bIvjL+Zr1yocTtQMKoQZX0sQ="
#define HASH_BARE	"|1|bxx+gPjVF2uiK+Fv7Kz/HdVtu6w=|Mt5Vt+UCdQ0omrOhDi/cAu23s8k="

/* The blob of "TYPE BASE64" into buf; returns its length. */
static size_t
blob_of(const char *line, unsigned char *buf, size_t cap)
{
	const char *sp = strchr(line, ' ');
	size_t n = 0;

	assert_non_null(sp);
	assert_int_equal(mig_kh_key_decode(line, (size_t)(sp - line), sp + 1,
	    strlen(sp + 1), buf, cap, &n), 0);
	return n;
}

static void
test_knownhosts__hostname(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(mig_kh_hostname("Example.ORG", 22, buf,
	    sizeof(buf)), 0);
	assert_string_equal(buf, "example.org");
	assert_int_equal(mig_kh_hostname("127.0.0.1", 2222, buf,
	    sizeof(buf)), 0);
	assert_string_equal(buf, "[127.0.0.1]:2222");
	assert_int_equal(mig_kh_hostname("::1", 830, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "[::1]:830");
	assert_int_equal(mig_kh_hostname("a-very-long-host-name.example.org",
	    2222, buf, 16), -1);
}

static void
test_knownhosts__pattern(void **state)
{
	static const struct {
		const char	*name;
		const char	*pat;
		bool		 want;
	} t[] = {
		{ "example.org", "example.org", true },
		{ "example.org", "EXAMPLE.Org", true },
		{ "example.org", "example.com", false },
		{ "example.org", "*", true },
		{ "", "*", true },
		{ "", "", true },
		{ "a", "", false },
		{ "", "?", false },
		{ "example.org", "*.org", true },
		{ "example.org", "*.com", false },
		{ "example.org", "ex*le.o?g", true },
		{ "example.org", "ex*le.o?", false },
		{ "example.org", "???????.org", true },
		{ "example.org", "??????.org", false },
		{ "example.org", "**.**org**", true },
		{ "[127.0.0.1]:2222", "[127.0.0.1]:*", true },
		{ "[127.0.0.1]:2222", "127.0.0.1", false },
		{ "[127.0.0.1]:2222", "[127.0.0.?]:22??", true },
		{ "[127.0.0.1]:2222", "[127.0.0.1]:22", false },
		{ "127.0.0.1", "127.0.0.*", true },
		{ "127.0.0.12", "127.0.0.?", false },
		{ "abcabcabd", "*abd", true },
		{ "abcabcabd", "*abc", false },
		{ "mississippi", "m*iss*ppi", true },
		{ "mississippi", "m*iss*pi*x", false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(t); i++) {
		if (mig_kh_match_pattern(t[i].name, strlen(t[i].name),
		    t[i].pat, strlen(t[i].pat)) != t[i].want)
			fail_msg("%zu: \"%s\" vs \"%s\": want %d", i,
			    t[i].name, t[i].pat, t[i].want);
	}
}

/*
 * A pattern that makes a backtracking matcher (OpenSSH's recursive
 * match_pattern()) take exponential time is answered at once.
 */
static void
test_knownhosts__pattern_not_exponential(void **state)
{
	char name[301], pat[202];
	clock_t t0;
	size_t i;

	(void)state;
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	for (i = 0; i + 3 <= sizeof(pat) - 1; i += 2) {
		pat[i] = '*';
		pat[i + 1] = 'a';
	}
	pat[i] = 'b';
	pat[i + 1] = '\0';
	t0 = clock();
	assert_false(mig_kh_match_pattern(name, strlen(name), pat,
	    strlen(pat)));
	assert_true(clock() - t0 < CLOCKS_PER_SEC);
}

static void
test_knownhosts__list(void **state)
{
	static const struct {
		const char	*name;
		const char	*list;
		int		 want;
	} t[] = {
		{ "example.org", "example.org", 1 },
		{ "example.org", "a.example.org,example.org", 1 },
		{ "example.org", "a.example.org,b.example.org", 0 },
		{ "example.org", "", 0 },
		{ "example.org", "*,!example.org", -1 },
		{ "example.org", "!example.org,*", -1 },
		{ "example.org", "!*.org,example.org", -1 },
		{ "example.org", "!other.org,*.org", 1 },
		/* Negation alone never makes a line match. */
		{ "example.org", "!other.org", 0 },
		{ "example.org", "!example.org", -1 },
		{ "[127.0.0.1]:2222", "*,![127.0.0.1]:2222", -1 },
		/* Port 2222 is not named by the bare address. */
		{ "[127.0.0.1]:2222", "*,!127.0.0.1", 1 },
		{ "[127.0.0.1]:2222", "[127.0.0.1]:2222,![127.0.0.1]:*", -1 },
		{ "example.org", ",example.org", 1 },
		{ "example.org", "example.org,", 1 },
		{ "", ",x", 1 },
		{ "example.org", "!", 0 },
		{ "example.org", "!*", -1 },
		{ "example.org", "EXAMPLE.ORG", 1 },
	};
	size_t i;
	int got;

	(void)state;
	for (i = 0; i < NELEM(t); i++) {
		got = mig_kh_match_list(t[i].name, t[i].list,
		    strlen(t[i].list));
		if (got != t[i].want)
			fail_msg("%zu: \"%s\" vs \"%s\": %d, want %d", i,
			    t[i].name, t[i].list, got, t[i].want);
	}
}

static void
test_knownhosts__hashed(void **state)
{
	static const struct {
		const char	*name;
		const char	*field;
		int		 want;
	} t[] = {
		{ "example.org", HASH_EXAMPLE, 1 },
		{ "[127.0.0.1]:2222", HASH_PORT, 1 },
		{ "127.0.0.1", HASH_BARE, 1 },
		{ "example.com", HASH_EXAMPLE, 0 },
		{ "127.0.0.1", HASH_PORT, 0 },
		{ "[127.0.0.1]:2222", HASH_BARE, 0 },
		/* Malformed: magic, separators, base64, lengths. */
		{ "example.org", "|2|7c7imeEVUOXJt9kjLxXNZ5fWnCw=|8z3yS4nOXfJFBud6wvW8QyCcCsU=", -1 },
		{ "example.org", "|1|7c7imeEVUOXJt9kjLxXNZ5fWnCw=", -1 },
		{ "example.org", "|1||8z3yS4nOXfJFBud6wvW8QyCcCsU=", -1 },
		{ "example.org", "|1|7c7imeEVUOXJt9kjLxXNZ5fWnCw=|", -1 },
		{ "example.org", "|1|7c7imeEVUOXJt9kjLxXNZ5fWnCw|8z3yS4nOXfJFBud6wvW8QyCcCsU=", -1 },
		{ "example.org", "|1|7c7imeEVUOXJt9kjLxXNZ5fWnCx=|8z3yS4nOXfJFBud6wvW8QyCcCsU=", -1 },
		{ "example.org", "|1|AAAA|8z3yS4nOXfJFBud6wvW8QyCcCsU=", -1 },
		{ "example.org", "|1|7c7imeEVUOXJt9kjLxXNZ5fWnCw=|8z3yS4nOXfJFBud6wvW8QyCcCsU=|", -1 },
		{ "example.org", "|1|7c7imeEVUOXJt9kjLxXNZ5fWnCw=|8z3yS4nOXfJFBud6wvW8QyCcCs==", -1 },
		{ "example.org", "|1|7c7i*eEVUOXJt9kjLxXNZ5fWnCw=|8z3yS4nOXfJFBud6wvW8QyCcCsU=", -1 },
		{ "example.org", "|1", -1 },
	};
	size_t i;
	int got;

	(void)state;
	for (i = 0; i < NELEM(t); i++) {
		got = mig_kh_match_hashed(t[i].name, t[i].field,
		    strlen(t[i].field));
		if (got != t[i].want)
			fail_msg("%zu: \"%s\" vs \"%s\": %d, want %d", i,
			    t[i].name, t[i].field, got, t[i].want);
	}
}

static void
test_knownhosts__parse_line(void **state)
{
	static const struct {
		const char		*line;
		int			 want;
		enum mig_kh_marker	 marker;
		const char		*hosts;
		const char		*type;	/* NULL: absent */
	} t[] = {
		{ "", 0, MIG_KH_MARK_NONE, NULL, NULL },
		{ "\n", 0, MIG_KH_MARK_NONE, NULL, NULL },
		{ " \t\r\n", 0, MIG_KH_MARK_NONE, NULL, NULL },
		{ "# a comment\n", 0, MIG_KH_MARK_NONE, NULL, NULL },
		{ "  # indented", 0, MIG_KH_MARK_NONE, NULL, NULL },
		{ "h " KEY_A " comment words\r\n", 1, MIG_KH_MARK_NONE, "h",
		    "ssh-ed25519" },
		{ "\th,g\t" KEY_A, 1, MIG_KH_MARK_NONE, "h,g", "ssh-ed25519" },
		{ "@revoked * " KEY_A "\n", 1, MIG_KH_MARK_REVOKED, "*",
		    "ssh-ed25519" },
		{ "@revoked\t\t*\t" KEY_A, 1, MIG_KH_MARK_REVOKED, "*",
		    "ssh-ed25519" },
		{ "@cert-authority *.example.org " KEY_A, 1, MIG_KH_MARK_CA,
		    "*.example.org", "ssh-ed25519" },
		{ "host", 1, MIG_KH_MARK_NONE, "host", NULL },
		{ "host ssh-ed25519", 1, MIG_KH_MARK_NONE, "host",
		    "ssh-ed25519" },
		{ "@revoked", -1, MIG_KH_MARK_NONE, NULL, NULL },
		{ "@revoked ", -1, MIG_KH_MARK_NONE, NULL, NULL },
		{ "@Revoked * " KEY_A, -1, MIG_KH_MARK_NONE, NULL, NULL },
		{ "@revokedx * " KEY_A, -1, MIG_KH_MARK_NONE, NULL, NULL },
		{ "@ * " KEY_A, -1, MIG_KH_MARK_NONE, NULL, NULL },
		{ "@revoked @revoked * " KEY_A, -1, MIG_KH_MARK_NONE, NULL,
		    NULL },
		{ "@revoked @cert-authority * " KEY_A, -1, MIG_KH_MARK_NONE,
		    NULL, NULL },
	};
	struct mig_kh_line l;
	size_t i;
	int got;

	(void)state;
	for (i = 0; i < NELEM(t); i++) {
		got = mig_kh_parse_line(t[i].line, strlen(t[i].line), &l);
		if (got != t[i].want)
			fail_msg("%zu: \"%s\": %d, want %d", i, t[i].line, got,
			    t[i].want);
		if (got != 1)
			continue;
		assert_int_equal(l.marker, t[i].marker);
		assert_int_equal(l.hostslen, strlen(t[i].hosts));
		assert_memory_equal(l.hosts, t[i].hosts, l.hostslen);
		if (t[i].type == NULL) {
			assert_null(l.type);
			continue;
		}
		assert_int_equal(l.typelen, strlen(t[i].type));
		assert_memory_equal(l.type, t[i].type, l.typelen);
	}
	/* The key and nothing of the comment. */
	assert_int_equal(mig_kh_parse_line("h " KEY_A " c", strlen("h " KEY_A
	    " c"), &l), 1);
	assert_int_equal(l.keylen, strlen(KEY_A) - strlen("ssh-ed25519 "));
}

static void
test_knownhosts__key_decode(void **state)
{
	static const struct {
		const char	*type;
		const char	*b64;
		int		 want;
	} t[] = {
		{ "ssh-ed25519", "AAAAC3NzaC1lZDI1NTE5AAAAIIs/4Z6x4go9tM+cfOzIJ7HIlN78HdjPXXSMi8aT92cn", 0 },
		/* The blob says ssh-ed25519. */
		{ "ssh-rsa", "AAAAC3NzaC1lZDI1NTE5AAAAIIs/4Z6x4go9tM+cfOzIJ7HIlN78HdjPXXSMi8aT92cn", -1 },
		{ "ssh-ed2551", "AAAAC3NzaC1lZDI1NTE5AAAAIIs/4Z6x4go9tM+cfOzIJ7HIlN78HdjPXXSMi8aT92cn", -1 },
		/* Base64: length, characters, padding, trailing bits. */
		{ "ssh-ed25519", "AAAAC3NzaC1lZDI1NTE5AAAAIIs/4Z6x4go9tM+cfOzIJ7HIlN78HdjPXXSMi8aT92c", -1 },
		{ "ssh-ed25519", "AAAAC3NzaC1lZDI1NTE5AAAAIIs/4Z6x4go9tM+cfOzIJ7HIlN78HdjPXXSMi8aT92c*", -1 },
		{ "ecdsa-sha2-nistp256", "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBDK7fyC89bmS1XIhzUh30xbD/wbPSKqgwMAB595Fxg24f/lx7Ev3XcajgPmjq60KnMoEGlLiaVvKaKLe9TzMgUA=", 0 },
		{ "ecdsa-sha2-nistp256", "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBDK7fyC89bmS1XIhzUh30xbD/wbPSKqgwMAB595Fxg24f/lx7Ev3XcajgPmjq60KnMoEGlLiaVvKaKLe9TzMgUB=", -1 },
		{ "ecdsa-sha2-nistp256", "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBDK7fyC89bmS1XIhzUh30xbD/wbPSKqgwMAB595Fxg24f/lx7Ev3XcajgPmjq60KnMoEGlLiaVvKaKLe9TzMgUA", -1 },
		{ "ecdsa-sha2-nistp256", "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBDK7fyC89bmS1XIhzUh30xbD/wbPSKqgwMAB595Fxg24f/lx7Ev3XcajgPmjq60KnMoEGlLiaVvKaKLe9TzMgU==", -1 },
		{ "x", "AAAA", -1 },
		{ "x", "AAAAAXg=", 0 },
		{ "x", "AAAAAXg", -1 },
		{ "x", "AAAAAX==", -1 },
		{ "x", "=AAAAXg=", -1 },
		{ "x", "", -1 },
		{ "x", "AA", -1 },
	};
	unsigned char buf[256];
	size_t i, n;
	int got;

	(void)state;
	for (i = 0; i < NELEM(t); i++) {
		got = mig_kh_key_decode(t[i].type, strlen(t[i].type), t[i].b64,
		    strlen(t[i].b64), buf, sizeof(buf), &n);
		if (got != t[i].want)
			fail_msg("%zu: %s %s: %d, want %d", i, t[i].type,
			    t[i].b64, got, t[i].want);
	}
	/* No room: refused, not overrun. */
	assert_int_equal(mig_kh_key_decode("x", 1, "AAAAAXg=", 8, buf, 4,
	    &n), -1);
	assert_int_equal(mig_kh_key_decode("x", 1, "AAAAAXg=", 8, buf, 5,
	    &n), 0);
	assert_int_equal(n, 5);
}

struct check_case {
	const char		*text;
	const char		*host;
	int			 port;
	const char		*key;	/* the server's */
	enum mig_kh_verdict	 want;
	size_t			 line;
	size_t			 negated;
	size_t			 portless;
};

static const struct check_case check_cases[] = {
	/* Plain names, ports, lists. */
	{ "example.org " KEY_A "\n", "example.org", 22, KEY_A, MIG_KH_OK, 1,
	    0, 0 },
	{ "EXAMPLE.org " KEY_A "\n", "Example.ORG", 22, KEY_A, MIG_KH_OK, 1,
	    0, 0 },
	{ "# c\n\nother.org " KEY_B "\nexample.org " KEY_A, "example.org", 22,
	    KEY_A, MIG_KH_OK, 4, 0, 0 },
	{ "a.org,example.org,b.org " KEY_A, "example.org", 22, KEY_A,
	    MIG_KH_OK, 1, 0, 0 },
	{ "other.org " KEY_A, "example.org", 22, KEY_A, MIG_KH_UNKNOWN, 0, 0,
	    0 },
	{ "", "example.org", 22, KEY_A, MIG_KH_UNKNOWN, 0, 0, 0 },
	{ "[127.0.0.1]:2222 " KEY_A, "127.0.0.1", 2222, KEY_A, MIG_KH_OK, 1,
	    0, 0 },
	/* A bare name is port 22 only: unknown on 2222, with the hint. */
	{ "127.0.0.1 " KEY_A, "127.0.0.1", 2222, KEY_A, MIG_KH_UNKNOWN, 0,
	    0, 1 },
	{ "[127.0.0.1]:2222 " KEY_A, "127.0.0.1", 22, KEY_A, MIG_KH_UNKNOWN,
	    0, 0, 0 },
	{ "[127.0.0.1]:2223 " KEY_A, "127.0.0.1", 2222, KEY_A,
	    MIG_KH_UNKNOWN, 0, 0, 0 },
	/* Wildcards. */
	{ "* " KEY_A, "127.0.0.1", 2222, KEY_A, MIG_KH_OK, 1, 0, 0 },
	{ "*.example.org " KEY_A, "db.example.org", 22, KEY_A, MIG_KH_OK, 1,
	    0, 0 },
	{ "[127.0.0.?]:* " KEY_A, "127.0.0.1", 2222, KEY_A, MIG_KH_OK, 1, 0,
	    0 },
	/* Negation wins over any positive match on the line. */
	{ "*,![127.0.0.1]:2222 " KEY_A, "127.0.0.1", 2222, KEY_A,
	    MIG_KH_UNKNOWN, 0, 1, 0 },
	{ "[127.0.0.1]:2222,![127.0.0.1]:2222 " KEY_A, "127.0.0.1", 2222,
	    KEY_A, MIG_KH_UNKNOWN, 0, 1, 0 },
	{ "!*.example.org,*.org " KEY_A, "db.example.org", 22, KEY_A,
	    MIG_KH_UNKNOWN, 0, 1, 0 },
	/* ... but only on its own line. */
	{ "*,![127.0.0.1]:2222 " KEY_A "\n* " KEY_A, "127.0.0.1", 2222, KEY_A,
	    MIG_KH_OK, 2, 1, 0 },
	{ "!other.org,*.org " KEY_A, "example.org", 22, KEY_A, MIG_KH_OK, 1,
	    0, 0 },
	/* Hashed names (ssh-keygen -H). */
	{ HASH_EXAMPLE " " KEY_A, "example.org", 22, KEY_A, MIG_KH_OK, 1, 0,
	    0 },
	{ HASH_PORT " " KEY_A, "127.0.0.1", 2222, KEY_A, MIG_KH_OK, 1, 0, 0 },
	{ HASH_BARE " " KEY_A, "127.0.0.1", 2222, KEY_A, MIG_KH_UNKNOWN, 0, 0,
	    1 },
	{ HASH_EXAMPLE "," "example.org " KEY_A, "example.org", 22, KEY_A,
	    MIG_KH_UNKNOWN, 0, 0, 0 },
	{ HASH_EXAMPLE " " KEY_B, "example.org", 22, KEY_A, MIG_KH_CHANGED, 1,
	    0, 0 },
	/* Changed key: same type only; another type is not a claim. */
	{ "example.org " KEY_B, "example.org", 22, KEY_A, MIG_KH_CHANGED, 1,
	    0, 0 },
	{ "example.org " KEY_C, "example.org", 22, KEY_A, MIG_KH_UNKNOWN, 0,
	    0, 0 },
	{ "example.org " KEY_B "\nexample.org " KEY_A, "example.org", 22,
	    KEY_A, MIG_KH_OK, 2, 0, 0 },
	{ "example.org " KEY_C "\nexample.org " KEY_A, "example.org", 22,
	    KEY_C, MIG_KH_OK, 1, 0, 0 },
	/* @revoked applies with its patterns and beats every other line. */
	{ "@revoked * " KEY_A "\n[127.0.0.1]:2222 " KEY_A, "127.0.0.1", 2222,
	    KEY_A, MIG_KH_REVOKED, 1, 0, 0 },
	{ "[127.0.0.1]:2222 " KEY_A "\n@revoked * " KEY_A, "127.0.0.1", 2222,
	    KEY_A, MIG_KH_REVOKED, 2, 0, 0 },
	{ "@revoked " HASH_PORT " " KEY_A "\n* " KEY_A, "127.0.0.1", 2222,
	    KEY_A, MIG_KH_REVOKED, 1, 0, 0 },
	{ "@revoked other.org " KEY_A "\n* " KEY_A, "example.org", 22, KEY_A,
	    MIG_KH_OK, 2, 0, 0 },
	{ "@revoked *,!example.org " KEY_A "\n* " KEY_A, "example.org", 22,
	    KEY_A, MIG_KH_OK, 2, 0, 0 },
	{ "@revoked * " KEY_B "\n* " KEY_A, "example.org", 22, KEY_A,
	    MIG_KH_OK, 2, 0, 0 },
	{ "@revoked * " KEY_A, "example.org", 22, KEY_A, MIG_KH_REVOKED, 1, 0,
	    0 },
	/* A matching @revoked line that cannot be read refuses too. */
	{ "@revoked * ssh-ed25519 AAAA\n* " KEY_A, "example.org", 22, KEY_A,
	    MIG_KH_REVOKED_BAD, 1, 0, 0 },
	{ "@revoked *\n* " KEY_A, "example.org", 22, KEY_A,
	    MIG_KH_REVOKED_BAD, 1, 0, 0 },
	{ "@revoked other.org ssh-ed25519 AAAA\n* " KEY_A, "example.org", 22,
	    KEY_A, MIG_KH_OK, 2, 0, 0 },
	{ "@revoked * " KEY_A "\n@revoked * ssh-ed25519 AAAA", "example.org",
	    22, KEY_A, MIG_KH_REVOKED, 1, 0, 0 },
	/* @cert-authority for the host: refused, whatever else says. */
	{ "@cert-authority *.example.org " KEY_B "\n* " KEY_A,
	    "db.example.org", 22, KEY_A, MIG_KH_CA, 1, 0, 0 },
	{ "* " KEY_A "\n@cert-authority * " KEY_A, "127.0.0.1", 2222, KEY_A,
	    MIG_KH_CA, 2, 0, 0 },
	{ "@cert-authority *.example.org " KEY_B "\n* " KEY_A, "example.com",
	    22, KEY_A, MIG_KH_OK, 2, 0, 0 },
	{ "@revoked * " KEY_A "\n@cert-authority * " KEY_B, "example.org", 22,
	    KEY_A, MIG_KH_REVOKED, 1, 0, 0 },
	/* Malformed lines are skipped, not fatal, and vouch for nothing. */
	{ "@foo * " KEY_A "\n@revoked @revoked * " KEY_A "\nexample.org\n"
	    "example.org ssh-ed25519\nexample.org ssh-ed25519 !!!!\n"
	    "example.org ssh-rsa " "AAAAC3NzaC1lZDI1NTE5AAAAIIs/4Z6x4go9tM+cfOzIJ7HIlN78HdjPXXSMi8aT92cn\n"
	    "|1|x|y " KEY_A "\n"
	    "example.org " KEY_A, "example.org", 22, KEY_A, MIG_KH_OK, 8, 0, 0 },
	{ "example.org sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9"
	    "wZW5zc2guY29tAAAAIA==\nexample.org " KEY_A, "example.org", 22,
	    KEY_A, MIG_KH_OK, 2, 0, 0 },
};

/* Feeds text line by line (its real length, NULs included). */
static void
run_check(const struct check_case *k, size_t textlen, size_t idx)
{
	struct mig_kh_check c;
	unsigned char key[512];
	char name[300], bare[300];
	const char *p = k->text, *end = k->text + textlen, *nl;
	enum mig_kh_verdict v;
	size_t keylen, line = 99;

	keylen = blob_of(k->key, key, sizeof(key));
	assert_int_equal(mig_kh_hostname(k->host, k->port, name,
	    sizeof(name)), 0);
	assert_int_equal(mig_kh_hostname(k->host, 22, bare, sizeof(bare)), 0);
	assert_int_equal(mig_kh_check_init(&c, name, k->port == 22 ? NULL :
	    bare, key, keylen), 0);
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		nl = nl == NULL ? end : nl + 1;
		assert_int_equal(mig_kh_check_line(&c, p, (size_t)(nl - p)), 0);
		p = nl;
	}
	v = mig_kh_check_verdict(&c, &line);
	if (v != k->want || line != k->line || c.negated_line != k->negated ||
	    c.portless_line != k->portless)
		fail_msg("case %zu (%s port %d): verdict %d line %zu negated "
		    "%zu portless %zu; want %d %zu %zu %zu", idx, k->host,
		    k->port, v, line, c.negated_line, c.portless_line, k->want,
		    k->line, k->negated, k->portless);
	mig_kh_check_free(&c);
}

static void
test_knownhosts__check(void **state)
{
	static const char nul[] = "example.org\0 " KEY_A;
	static const struct check_case nulcase = { nul, "example.org", 22,
	    KEY_A, MIG_KH_UNKNOWN, 0, 0, 0 };
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(check_cases); i++)
		run_check(&check_cases[i], strlen(check_cases[i].text), i);
	/* A NUL ends the line, as in OpenSSH: the key after it is unseen. */
	run_check(&nulcase, sizeof(nul) - 1, i);
}

/* A server blob that is not an SSH key is refused before any line. */
static void
test_knownhosts__check_bad_blob(void **state)
{
	struct mig_kh_check c;
	static const unsigned char junk[] = { 0, 0, 0, 9, 'x' };

	(void)state;
	assert_int_equal(mig_kh_check_init(&c, "h", NULL, junk, sizeof(junk)),
	    -1);
	assert_int_equal(mig_kh_check_init(&c, "h", NULL, junk, 3), -1);
}

struct vfx {
	char		 dir[128];
	char		 path[160];
	struct mig_ctx	*ctx;
};

static int
vsetup(void **state)
{
	struct vfx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(tu_mkdtemp(f->dir, sizeof(f->dir), "test_kh"), 0);
	(void)snprintf(f->path, sizeof(f->path), "%s/known_hosts", f->dir);
	f->ctx = mig_ctx_new();
	assert_non_null(f->ctx);
	*state = f;
	return 0;
}

static int
vteardown(void **state)
{
	struct vfx *f = *state;

	mig_ctx_free(f->ctx);
	(void)tu_rm_tree(f->dir);
	free(f);
	return 0;
}

/* mig_kh_verify() on a file holding text; returns the message. */
static const char *
verify(struct vfx *f, const char *text, const char *host, int port,
    int want)
{
	unsigned char key[512];
	size_t keylen;
	FILE *fp;
	int r;

	fp = fopen(f->path, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	keylen = blob_of(KEY_A, key, sizeof(key));
	mig_clearerr(f->ctx);
	r = mig_kh_verify(f->ctx, "u@h:1", f->path, host, port, key, keylen,
	    "ED25519");
	if (r != want)
		fail_msg("verify: %d, want %d: %s", r, want,
		    mig_errmsg(f->ctx));
	return mig_errmsg(f->ctx);
}

static void
has(const char *msg, const char *what)
{
	if (strstr(msg, what) == NULL)
		fail_msg("message lacks \"%s\": %s", what, msg);
}

/* Every refusal names file:line, host, key type, fingerprint and a fix. */
static void
test_knownhosts__verify_messages(void **state)
{
	struct vfx *f = *state;
	const char *m;
	char where[200];

	(void)verify(f, "[127.0.0.1]:2222 " KEY_A "\n", "127.0.0.1", 2222, 0);
	(void)verify(f, "# x\n* " KEY_A "\n", "127.0.0.1", 2222, 0);

	m = verify(f, "[127.0.0.1]:2222 " KEY_A "\n@revoked * " KEY_A "\n",
	    "127.0.0.1", 2222, MIG_ERR_SECURITY);
	(void)snprintf(where, sizeof(where), "%s:2", f->path);
	has(m, "u@h:1: ");
	has(m, where);
	has(m, "@revoked");
	has(m, "[127.0.0.1]:2222");
	has(m, "ED25519");
	has(m, FP_A);
	has(m, "record it in");

	m = verify(f, "@revoked * ssh-ed25519 AAAA\n* " KEY_A "\n", "h", 22,
	    MIG_ERR_SECURITY);
	(void)snprintf(where, sizeof(where), "%s:1", f->path);
	has(m, where);
	has(m, "@revoked");
	has(m, "unreadable");
	has(m, FP_A);
	has(m, "Fix or remove");

	m = verify(f, "* " KEY_A "\n@cert-authority * " KEY_B "\n",
	    "127.0.0.1", 2222, MIG_ERR_SECURITY);
	(void)snprintf(where, sizeof(where), "%s:2", f->path);
	has(m, where);
	has(m, "@cert-authority");
	has(m, "host certificates are not supported");
	has(m, "[127.0.0.1]:2222");
	has(m, FP_A);
	has(m, "ssh-keyscan -p 2222 127.0.0.1");

	m = verify(f, "\n[127.0.0.1]:2222 " KEY_B "\n", "127.0.0.1", 2222,
	    MIG_ERR_SECURITY);
	(void)snprintf(where, sizeof(where), "%s:2", f->path);
	has(m, "HOST KEY CHANGED");
	has(m, where);
	has(m, FP_A);
	has(m, "ssh-keygen -R '[127.0.0.1]:2222'");

	m = verify(f, "*,![127.0.0.1]:2222 " KEY_A "\n", "127.0.0.1", 2222,
	    MIG_ERR_SECURITY);
	(void)snprintf(where, sizeof(where), "%s:1", f->path);
	has(m, "unknown host [127.0.0.1]:2222");
	has(m, where);
	has(m, "negated");
	has(m, FP_A);
	has(m, "ssh-keyscan -p 2222 127.0.0.1 >> ");

	m = verify(f, "127.0.0.1 " KEY_A "\n", "127.0.0.1", 2222,
	    MIG_ERR_SECURITY);
	has(m, "unknown host [127.0.0.1]:2222");
	has(m, where);
	has(m, "without a port");
}

static void
test_knownhosts__verify_no_file(void **state)
{
	struct vfx *f = *state;
	unsigned char key[512];
	size_t keylen;

	keylen = blob_of(KEY_A, key, sizeof(key));
	assert_int_equal(mig_kh_verify(f->ctx, "w", "/nonexistent/kh", "h", 22,
	    key, keylen, "ED25519"), MIG_ERR_SECURITY);
	has(mig_errmsg(f->ctx), "/nonexistent/kh");
	assert_int_equal(mig_kh_verify(f->ctx, "w", NULL, "h", 22, key,
	    keylen, "ED25519"), MIG_ERR_SECURITY);
	has(mig_errmsg(f->ctx), "known_hosts");
	assert_int_equal(mig_kh_verify(f->ctx, "w", f->dir, "h", 22, key,
	    keylen, "ED25519"), MIG_ERR_SECURITY);
}

static void
test_knownhosts__fingerprint(void **state)
{
	unsigned char key[512];
	char fp[MIG_KH_FP_LEN];
	size_t keylen;

	(void)state;
	keylen = blob_of(KEY_A, key, sizeof(key));
	assert_int_equal(mig_kh_fingerprint(key, keylen, fp, sizeof(fp)), 0);
	assert_string_equal(fp, FP_A);
	assert_int_equal(mig_kh_fingerprint(key, keylen, fp, sizeof(fp) - 1),
	    -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_knownhosts__hostname),
		cmocka_unit_test(test_knownhosts__pattern),
		cmocka_unit_test(test_knownhosts__pattern_not_exponential),
		cmocka_unit_test(test_knownhosts__list),
		cmocka_unit_test(test_knownhosts__hashed),
		cmocka_unit_test(test_knownhosts__parse_line),
		cmocka_unit_test(test_knownhosts__key_decode),
		cmocka_unit_test(test_knownhosts__check),
		cmocka_unit_test(test_knownhosts__check_bad_blob),
		cmocka_unit_test_setup_teardown(
		    test_knownhosts__verify_messages, vsetup, vteardown),
		cmocka_unit_test_setup_teardown(
		    test_knownhosts__verify_no_file, vsetup, vteardown),
		cmocka_unit_test(test_knownhosts__fingerprint),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
