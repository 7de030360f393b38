/*
 * mig_url_parse(): the destination URL of every plan.  One table of what
 * it must take apart and what it must refuse, with the reason for each
 * refusal in the message a user reads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "migrate/error.h"
#include "migrate/transport.h"

struct url_ok {
	const char	*text;
	const char	*scheme, *user, *host;
	int		 port;
	const char	*path;
};

static void
test_url__parts(void **state)
{
	static const struct url_ok cases[] = {
		{ "sftp://ann@lake.example:2222/data/in", "sftp", "ann",
		    "lake.example", 2222, "/data/in" },
		{ "sftp://lake", "sftp", NULL, "lake", 0, "/" },
		{ "SFTP://Lake/x", "sftp", NULL, "Lake", 0, "/x" },
		{ "https://dav.example/a%20b/c", "https", NULL, "dav.example",
		    0, "/a b/c" },
		{ "https://h:443/", "https", NULL, "h", 443, "/" },
		{ "http://127.0.0.1:8080/x", "http", NULL, "127.0.0.1", 8080,
		    "/x" },
		{ "sftp://[::1]:2222/x", "sftp", NULL, "::1", 2222, "/x" },
		{ "sftp://u%40corp@h/d", "sftp", "u@corp", "h", 0, "/d" },
		{ "s3://bucket/prefix/x", "s3", NULL, "bucket", 0,
		    "/prefix/x" },
		{ "s3://bucket", "s3", NULL, "bucket", 0, "/" },
		/* Kept as written: the lake path checks refuse "..". */
		{ "https://h/a/../b", "https", NULL, "h", 0, "/a/../b" },
		{ "s3://lake/data lake/x", "s3", NULL, "lake", 0,
		    "/data lake/x" },
		{ "file://lake/dir", "file", NULL, NULL, 0, "lake/dir" },
		{ "file:///srv/lake", "file", NULL, NULL, 0, "/srv/lake" },
		{ "file://a%20b", "file", NULL, NULL, 0, "a b" },
	};
	struct mig_ctx *ctx = mig_ctx_new();
	struct mig_url u;
	size_t i;

	(void)state;
	assert_non_null(ctx);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (mig_url_parse(cases[i].text, &u, ctx) != 0)
			fail_msg("%s: %s", cases[i].text, mig_errmsg(ctx));
		assert_string_equal(u.scheme, cases[i].scheme);
		if (cases[i].user == NULL)
			assert_null(u.user);
		else
			assert_string_equal(u.user, cases[i].user);
		if (cases[i].host == NULL)
			assert_null(u.host);
		else
			assert_string_equal(u.host, cases[i].host);
		assert_int_equal(u.port, cases[i].port);
		assert_string_equal(u.path, cases[i].path);
		mig_url_free(&u);
	}
	mig_ctx_free(ctx);
}

struct url_bad {
	const char	*text;
	const char	*says;		/* in the message */
};

static void
test_url__refusals(void **state)
{
	static const struct url_bad cases[] = {
		/* Ports: strtol took "+22" and " 22"; 0 connects nowhere. */
		{ "sftp://h:+22/d", "bad port" },
		{ "sftp://h: 22/d", "" },
		{ "sftp://h:0/d", "bad port" },
		{ "sftp://h:65536/d", "bad port" },
		{ "sftp://h:99999999999999999999/d", "bad port" },
		{ "sftp://h:22x/d", "bad port" },
		/* CURLU would guess the host "x" from these. */
		{ "sftp:///x", "missing host" },
		{ "https://", "missing host" },
		{ "sftp://u:secret@h/d", "password_env" },
		{ "sftp://@h/d", "bad user name" },
		{ "sftp://u%zz@h/d", "bad user name" },
		{ "https://h/x?versionId=1", "query strings" },
		{ "https://h/x#frag", "fragments" },
		{ "https://h/a%00b", "percent-escape" },
		{ "https://h/a%zzb", "percent-escape" },
		{ "https://h/a%2", "percent-escape" },
		{ "sftp://[fe80::1%25eth0]/x", "zone" },
		{ "sftp://[::1/x", "" },
		{ "https://h\\x/y", "" },
		{ "https://h b/x", "" },
		{ "lake/dir", "not a URL" },
		{ "://h/x", "not a URL" },
		{ "s_3://b/x", "bad URL scheme" },
		{ "file://", "empty path" },
		{ "file://a%00b", "percent-escape" },
	};
	struct mig_ctx *ctx = mig_ctx_new();
	struct mig_url u;
	size_t i;
	int r;

	(void)state;
	assert_non_null(ctx);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = mig_url_parse(cases[i].text, &u, ctx);
		if (r == 0) {
			mig_url_free(&u);
			fail_msg("%s: accepted", cases[i].text);
		}
		assert_int_equal(r, MIG_ERR_PARSE);
		if (strstr(mig_errmsg(ctx), cases[i].says) == NULL)
			fail_msg("%s: \"%s\" does not say \"%s\"",
			    cases[i].text, mig_errmsg(ctx), cases[i].says);
		/* A refused URL leaves nothing to free. */
		assert_null(u.scheme);
		assert_null(u.path);
	}
	mig_ctx_free(ctx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url__parts),
		cmocka_unit_test(test_url__refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
