/*
 * libFuzzer target for the known_hosts matcher of lib/transport
 * (knownhosts.c).  The input is a known_hosts file, checked for two hosts
 * (port 22 and a "[host]:port" one) with a fixed ed25519 key; every line
 * also goes through the line parser and, split at its first blank, the
 * pattern-list and hashed-name matchers.  Checks besides memory safety:
 * parsed fields lie inside their line, a verdict's line exists, and
 * mig_kh_match_pattern() agrees with a plain recursive matcher (OpenSSH's
 * match_pattern()) on short inputs.
 *
 *   make fuzz && build/fuzz/fuzz_knownhosts tests/fuzz/corpus/knownhosts
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/error.h"

#include "transport/knownhosts_int.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* ssh-keygen -t ed25519; the seeds use it. */
static const char key_b64[] =
    "AAAAC3NzaC1lZDI1NTE5AAAAIIs/4Z6x4go9tM+cfOzIJ7HIlN78HdjPXXSMi8aT92cn";

static unsigned char
lower(unsigned char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (unsigned char)(ch - 'A' + 'a') : ch;
}

/* OpenSSH's match_pattern(), on lengths: exponential, so inputs are short. */
static bool
ref_match(const char *s, size_t slen, const char *p, size_t plen)
{
	size_t i;

	if (plen == 0)
		return slen == 0;
	if (*p == '*') {
		for (i = 0; i <= slen; i++)
			if (ref_match(s + i, slen - i, p + 1, plen - 1))
				return true;
		return false;
	}
	if (slen == 0 || (*p != '?' && lower((unsigned char)*p) !=
	    lower((unsigned char)*s)))
		return false;
	return ref_match(s + 1, slen - 1, p + 1, plen - 1);
}

static void
one_line(const char *line, size_t len)
{
	struct mig_kh_line l;
	const char *sp, *end = line + len;
	char name[64];
	size_t n;

	if (mig_kh_parse_line(line, len, &l) == 1) {
		if (l.hosts < line || l.hosts + l.hostslen > end ||
		    (l.type != NULL && l.type + l.typelen > end) ||
		    (l.key != NULL && l.key + l.keylen > end))
			abort();
	}
	if ((sp = memchr(line, ' ', len)) == NULL)
		return;
	n = (size_t)(sp - line);
	if (n >= sizeof(name) || memchr(line, '\0', n) != NULL)
		return;
	memcpy(name, line, n);
	name[n] = '\0';
	(void)mig_kh_match_list(name, sp + 1, (size_t)(end - sp - 1));
	(void)mig_kh_match_hashed(name, sp + 1, (size_t)(end - sp - 1));
	if (n <= 10 && (size_t)(end - sp - 1) <= 10 &&
	    mig_kh_match_pattern(name, n, sp + 1, (size_t)(end - sp - 1)) !=
	    ref_match(name, n, sp + 1, (size_t)(end - sp - 1)))
		abort();
}

static void
check_host(const char *text, size_t size, const char *name, const char *bare,
    const unsigned char *key, size_t keylen)
{
	struct mig_kh_check c;
	const char *p = text, *end = text + size, *nl;
	size_t line;

	if (mig_kh_check_init(&c, name, bare, key, keylen) != 0)
		abort();
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		nl = nl == NULL ? end : nl + 1;
		if (mig_kh_check_line(&c, p, (size_t)(nl - p)) != 0)
			break;
		p = nl;
	}
	if (mig_kh_check_verdict(&c, &line) != MIG_KH_UNKNOWN &&
	    (line == 0 || line > c.lineno))
		abort();
	if (c.negated_line > c.lineno || c.portless_line > c.lineno)
		abort();
	mig_kh_check_free(&c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *p, *nl, *end;
	unsigned char key[64];
	size_t keylen = 0;

	if (size > 65536)
		return 0;
	if (mig_kh_key_decode("ssh-ed25519", 11, key_b64, strlen(key_b64),
	    key, sizeof(key), &keylen) != 0)
		abort();
	check_host(text, size, "example.org", NULL, key, keylen);
	check_host(text, size, "[127.0.0.1]:2222", "127.0.0.1", key, keylen);
	end = text + size;
	for (p = text; p < end; p = nl) {
		nl = memchr(p, '\n', (size_t)(end - p));
		nl = nl == NULL ? end : nl + 1;
		one_line(p, (size_t)(nl - p));
	}
	return 0;
}
