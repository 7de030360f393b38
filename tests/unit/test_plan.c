/*
 * Plan layer: good plans resolve as documented, and every bad plan gets
 * its exact message at its exact position.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "migrate/error.h"
#include "migrate/plan.h"

#define R1 "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"

#define HEAD \
	"version = 1\nname = \"t\"\nstrategy = \"rehost\"\n" \
	"[source]\npath = \"src\"\n" \
	"[destination]\nurl = \"file://lake\"\n" \
	"[encryption]\nrecipients = [\"" R1 "\"]\n"

static const struct mig_plan_env test_env = { "/home/u" };

static struct mig_plan *
parse_ok(const char *text, struct mig_ctx *ctx)
{
	struct mig_plan *p = NULL;
	int r;

	r = mig_plan_parse("dir/t.toml", text, strlen(text), &test_env, ctx,
	    &p);
	if (r != 0)
		fail_msg("unexpected error: %s", mig_errmsg(ctx));
	return p;
}

static void
test_plan__minimal_defaults(void **state)
{
	struct mig_ctx *ctx = mig_ctx_new();
	struct mig_plan *p;

	(void)state;
	p = parse_ok(HEAD, ctx);
	assert_string_equal(p->name, "t");
	assert_int_equal(p->strategy, MIG_STRATEGY_REHOST);
	assert_string_equal(p->source_path, "dir/src");
	assert_string_equal(p->scheme, "file");
	assert_string_equal(p->lake_path, "dir/lake");
	assert_string_equal(p->dataset, "t");
	assert_string_equal(p->zone, "raw");
	assert_false(p->compress);
	assert_string_equal(p->audit_log, "dir/audit/t.jsonl");
	assert_null(p->signing_key);
	assert_string_equal(p->recipients[0], R1);
	assert_null(p->recipients[1]);
	assert_int_equal(strlen(p->sha256), 64);
	assert_int_equal(p->max_expansion_ratio, 100);
	assert_int_equal(p->max_expanded_bytes, 0);
	mig_plan_free(p);
	mig_ctx_free(ctx);
}

static void
test_plan__archive_limits(void **state)
{
	struct mig_ctx *ctx = mig_ctx_new();
	struct mig_plan *p;

	(void)state;
	p = parse_ok("version = 1\nname = \"t\"\nstrategy = \"rehost\"\n"
	    "[source]\npath = \"a.zip\"\nmax_expansion_ratio = 2000\n"
	    "max_expanded_bytes = 10_000_000_000\n"
	    "[destination]\nurl = \"file://lake\"\n"
	    "[encryption]\nrecipients = [\"" R1 "\"]\n", ctx);
	assert_int_equal(p->max_expansion_ratio, 2000);
	assert_int_equal(p->max_expanded_bytes, 10000000000ULL);
	mig_plan_free(p);
	mig_ctx_free(ctx);
}

static void
test_plan__strategy_defaults(void **state)
{
	static const struct {
		const char	*strategy;
		const char	*extra;
		const char	*zone;
		bool		 compress;
	} cases[] = {
		{ "retain", "", "inventory", false },
		{ "retire", "", "archive", true },
		{ "replatform", "", "raw", true },
		{ "refactor", "[refactor]\npartition_by = \"mtime:%Y\"\n",
		    "curated", true },
		{ "repurchase", "", "export", false },
		{ "rebuild", "[refactor]\npartition_by = \"^(a)\"\n"
		    "partition_key = \"k\"\n", "curated", true },
	};
	struct mig_ctx *ctx = mig_ctx_new();
	char text[1024];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mig_plan *p;

		snprintf(text, sizeof(text), "version = 1\nname = \"t\"\n"
		    "strategy = \"%s\"\n[source]\npath = \"/abs\"\n"
		    "[destination]\nurl = \"file:///lake\"\n"
		    "[encryption]\nrecipients = [\"" R1 "\"]\n%s",
		    cases[i].strategy, cases[i].extra);
		p = parse_ok(text, ctx);
		assert_string_equal(p->zone, cases[i].zone);
		assert_int_equal(p->compress, cases[i].compress);
		assert_string_equal(p->source_path, "/abs");
		assert_string_equal(p->lake_path, "/lake");
		assert_int_equal(p->zstd_level, 3);
		mig_plan_free(p);
	}
	mig_ctx_free(ctx);
}

static void
test_plan__sftp_and_https(void **state)
{
	struct mig_ctx *ctx = mig_ctx_new();
	struct mig_plan *p;

	(void)state;
	p = parse_ok("version = 1\nname = \"t\"\nstrategy = \"rehost\"\n"
	    "[source]\npath = \"s\"\n[destination]\n"
	    "url = \"sftp://bob@127.0.0.1:2222/srv/lake\"\n"
	    "identity = \"~/.ssh/id_ed25519\"\n"
	    "identity_passphrase_env = \"KEY_PASS\"\n"
	    "[encryption]\npassphrase_env = \"MIGRATE_PASSPHRASE\"\n", ctx);
	assert_string_equal(p->scheme, "sftp");
	/* Resolved at connect time: ssh_config may name another. */
	assert_null(mig_topts_get(&p->dest, "known_hosts"));
	assert_string_equal(mig_topts_get(&p->dest, "identity"), "/home/u/.ssh/id_ed25519");
	assert_string_equal(mig_topts_get(&p->dest, "identity_passphrase_env"), "KEY_PASS");
	assert_null(p->lake_path);
	mig_plan_free(p);

	/* A Host alias alone: user and the rest come from ssh_config. */
	p = parse_ok("version = 1\nname = \"t\"\nstrategy = \"rehost\"\n"
	    "[source]\npath = \"s\"\n[destination]\n"
	    "url = \"sftp://lakehost/srv/lake\"\nssh_config = \"none\"\n"
	    "[encryption]\npassphrase_env = \"MIGRATE_PASSPHRASE\"\n", ctx);
	assert_string_equal(mig_topts_get(&p->dest, "ssh_config"), "none");
	mig_plan_free(p);

	p = parse_ok("version = 1\nname = \"t\"\nstrategy = \"replatform\"\n"
	    "[source]\npath = \"s\"\n[destination]\n"
	    "url = \"https://lake.example/dav\"\nca_file = \"ca.pem\"\n"
	    "token_env = \"LAKE_TOKEN\"\n"
	    "[encryption]\nrecipients_file = \"k.pub\"\n"
	    "[compression]\nzstd_level = 19\n", ctx);
	assert_string_equal(mig_topts_get(&p->dest, "ca_file"), "dir/ca.pem");
	assert_string_equal(p->recipients_file, "dir/k.pub");
	assert_int_equal(p->zstd_level, 19);
	mig_plan_free(p);
	mig_ctx_free(ctx);
}

static void
test_plan__did_you_mean(void **state)
{
	static const char *const c[] = { "rehost", "retire", "retain" };

	(void)state;
	assert_string_equal(mig_did_you_mean("rehots", c, 3), "rehost");
	assert_string_equal(mig_did_you_mean("RETIRE", c, 3), "retire");
	assert_null(mig_did_you_mean("banana", c, 3));
}

/* Every bad plan: its text and the exact message it must produce. */
static const struct {
	const char	*text;
	const char	*msg;
} bad[] = {
	/* 1: the example of DESIGN.md */
	{ "version = 1\nname = \"t\"\nstrategy = \"rehots\"\n",
	  "dir/t.toml:3:12: unknown strategy \"rehots\" (did you mean "
	  "\"rehost\"?)" },
	/* 2 */
	{ "version = 1\nname = \"t\"\nstrategy = \"banana\"\n",
	  "dir/t.toml:3:12: unknown strategy \"banana\" (one of retire, "
	  "retain, rehost, replatform, refactor, repurchase, rebuild)" },
	/* 3 */
	{ "name = \"t\"\n",
	  "dir/t.toml:1:1: missing required key \"version\" (add: version "
	  "= 1)" },
	/* 4 */
	{ "version = 2\n",
	  "dir/t.toml:1:11: unsupported plan version 2 (this migrate reads "
	  "version 1)" },
	/* 5 */
	{ "version = \"1\"\n",
	  "dir/t.toml:1:11: version must be an integer, not string" },
	/* 6 */
	{ "version = 1\nstrategy = \"rehost\"\n",
	  "dir/t.toml:1:1: missing required key \"name\"" },
	/* 7 */
	{ "version = 1\nname = \"Billing Data\"\n",
	  "dir/t.toml:2:8: name \"Billing Data\" must be 1-64 characters of "
	  "a-z, 0-9, '_' and '-'" },
	/* 8 */
	{ "version = 1\nnmae = \"t\"\n",
	  "dir/t.toml:2:1: unknown key \"nmae\" (did you mean \"name\"?)" },
	/* 9 */
	{ "version = 1\ncolour = \"t\"\n",
	  "dir/t.toml:2:1: unknown key \"colour\" (see migrate-plan(5) for "
	  "the keys of the top level)" },
	/* 10: TOML syntax errors keep the parser's position */
	{ "version = 1\nname = \"t\n",
	  NULL },
	/* 11 */
	{ "version = 1\nname = \"t\"\nstrategy = \"rehost\"\n",
	  "dir/t.toml:1:1: missing required table [source] (with path = "
	  "\"DIR-OR-ARCHIVE\")" },
	/* 12 */
	{ "version = 1\nname = \"t\"\nstrategy = \"rehost\"\n[source]\n"
	  "paht = \"x\"\n",
	  "dir/t.toml:5:1: unknown key \"source.paht\" (did you mean "
	  "\"path\"?)" },
	/* 13 */
	{ "version = 1\nname = \"t\"\nstrategy = \"rehost\"\n[source]\n"
	  "path = 5\n",
	  "dir/t.toml:5:8: source.path must be a string, not integer" },
	/* 14 */
	{ "version = 1\nname = \"t\"\nstrategy = \"rehost\"\n[source]\n"
	  "path = \"\"\n",
	  "dir/t.toml:5:8: source.path is empty" },
	/* 15 */
	{ "version = 1\nname = \"t\"\nstrategy = \"rehost\"\n[source]\n"
	  "path = \"s\"\ninclude = \"*.csv\"\n",
	  "dir/t.toml:6:11: source.include must be an array of strings, not "
	  "string" },
	/* 16 */
	{ "version = 1\nname = \"t\"\nstrategy = \"rehost\"\n[source]\n"
	  "path = \"s\"\ninclude = [\"//etc/*\"]\n",
	  "dir/t.toml:6:12: source.include: pattern \"//etc/*\" starts with "
	  "\"//\"; patterns match paths relative to source.path (one leading "
	  "'/' anchors to it)" },
	/* 17 */
	{ "version = 1\nname = \"t\"\nstrategy = \"rehost\"\n[source]\n"
	  "path = \"s\"\nexclude = [\"../x\"]\n",
	  "dir/t.toml:6:12: source.exclude: pattern \"../x\" leaves the "
	  "source" },
	/* 18 */
	{ "version = 1\nname = \"t\"\nstrategy = \"rehost\"\n[source]\n"
	  "path = \"s\"\nfollow_symlinks = \"yes\"\n",
	  "dir/t.toml:6:19: source.follow_symlinks must be a boolean (true "
	  "or false), not string" },
	/* 19 */
	{ "version = 1\nname = \"t\"\nstrategy = \"rehost\"\n[source]\n"
	  "path = \"s\"\n",
	  "dir/t.toml:1:1: missing required table [destination] (with url = "
	  "\"file://DIR\", \"sftp://...\" or \"https://...\")" },
	/* 20 */
	{ "version = 1\nname = \"t\"\nstrategy = \"rehost\"\n[source]\n"
	  "path = \"s\"\n[destination]\nurl = \"ftp://h/x\"\n",
	  "dir/t.toml:7:7: destination.url: unsupported scheme \"ftp\" "
	  "(file, sftp, https or s3)" },
	/* 21 */
	{ "version = 1\nname = \"t\"\nstrategy = \"rehost\"\n[source]\n"
	  "path = \"s\"\n[destination]\nurl = \"lake\"\n",
	  "dir/t.toml:7:7: destination.url: \"lake\" is not a URL (expected "
	  "file://, sftp:// or https://)" },
	/* 22 */
	{ "version = 1\nname = \"t\"\nstrategy = \"rehost\"\n[source]\n"
	  "path = \"s\"\n[destination]\nurl = \"file://l\"\n"
	  "ssh_config = \"none\"\n",
	  "dir/t.toml:8:14: destination.ssh_config only applies to sftp:// "
	  "destinations, not file://" },
	/* 23 */
	{ "version = 1\nname = \"t\"\nstrategy = \"rehost\"\n[source]\n"
	  "path = \"s\"\n[destination]\nurl = \"sftp://u:pw@host/x\"\n",
	  "dir/t.toml:7:7: destination.url: URL holds a password: put it in "
	  "an environment variable named by password_env instead" },
	/* 24 */
	{ "version = 1\nname = \"t\"\nstrategy = \"rehost\"\n[source]\n"
	  "path = \"s\"\n[destination]\nurl = \"sftp://u@host:99999/x\"\n",
	  "dir/t.toml:7:7: destination.url: \"sftp://u@host:99999/x\": bad "
	  "port" },
	/* 25 */
	{ "version = 1\nname = \"t\"\nstrategy = \"rehost\"\n[source]\n"
	  "path = \"s\"\n[destination]\nurl = \"file://l\"\n"
	  "known_hosts = \"kh\"\n",
	  "dir/t.toml:8:15: destination.known_hosts only applies to sftp:// "
	  "destinations, not file://" },
	/* 26 */
	{ "version = 1\nname = \"t\"\nstrategy = \"rehost\"\n[source]\n"
	  "path = \"s\"\n[destination]\nurl = \"sftp://u@h/x\"\n"
	  "ca_file = \"ca\"\n",
	  "dir/t.toml:8:11: destination.ca_file only applies to https:// "
	  "destinations, not sftp://" },
	/* 27 */
	{ "version = 1\nname = \"t\"\nstrategy = \"rehost\"\n[source]\n"
	  "path = \"s\"\n[destination]\nurl = \"http://127.0.0.1/x\"\n",
	  "dir/t.toml:7:7: plain http:// is refused: use https:// (tests "
	  "against 127.0.0.1 may set allow_plain_http_loopback = true)" },
	/* 28 */
	{ "version = 1\nname = \"t\"\nstrategy = \"rehost\"\n[source]\n"
	  "path = \"s\"\n[destination]\nurl = \"https://h/x\"\n"
	  "token_env = \"abc def\"\n",
	  "dir/t.toml:8:13: destination.token_env must name an environment "
	  "variable (letters, digits, '_'), not hold a secret" },
	/* 29 */
	{ "version = 1\nname = \"t\"\nstrategy = \"rehost\"\n[source]\n"
	  "path = \"s\"\n[destination]\nurl = \"https://h/x\"\n"
	  "user = \"bob\"\n",
	  "dir/t.toml:8:8: destination.user needs password_env (the name of "
	  "the variable holding the password)" },
	/* 30 */
	{ "version = 1\nname = \"t\"\nstrategy = \"rehost\"\n[source]\n"
	  "path = \"s\"\n[destination]\nurl = \"https://h/x\"\n"
	  "pinned_pubkey = \"abc\"\n",
	  "dir/t.toml:8:17: destination.pinned_pubkey must look like "
	  "\"sha256//BASE64\"" },
	/* 31 */
	{ "version = 1\nname = \"t\"\nstrategy = \"rehost\"\n[source]\n"
	  "path = \"s\"\n[destination]\nurl = \"file://l\"\n"
	  "dataset = \"My Set\"\n",
	  "dir/t.toml:8:11: dataset \"My Set\" must be 1-64 characters of "
	  "a-z, 0-9, '_' and '-'" },
	/* 32 */
	{ "version = 1\nname = \"t\"\nstrategy = \"rehost\"\n[source]\n"
	  "path = \"s\"\n[destination]\nurl = \"file://l\"\n",
	  "dir/t.toml:1:1: missing required table [encryption] (recipients = "
	  "[\"age1...\"]; create a key with: migrate keygen -o FILE)" },
	/* 33 */
	{ "version = 1\nname = \"t\"\nstrategy = \"rehost\"\n[source]\n"
	  "path = \"s\"\n[destination]\nurl = \"file://l\"\n[encryption]\n",
	  "dir/t.toml:8:1: [encryption] needs recipients, recipients_file or "
	  "passphrase_env" },
	/* 34 */
	{ "version = 1\nname = \"t\"\nstrategy = \"rehost\"\n[source]\n"
	  "path = \"s\"\n[destination]\nurl = \"file://l\"\n[encryption]\n"
	  "recipients = [\"AGE-SECRET-KEY-1QQQQQQ\"]\n",
	  "dir/t.toml:9:15: encryption.recipients[0] is an age SECRET key: "
	  "never put it in a plan; use its recipient (age1...) and treat the "
	  "key as compromised" },
	/* 35: an ordinary typo is quoted, shortened */
	{ "version = 1\nname = \"t\"\nstrategy = \"rehost\"\n[source]\n"
	  "path = \"s\"\n[destination]\nurl = \"file://l\"\n[encryption]\n"
	  "recipients = [\"age2qqqqqqqqqqqqqqqqqqqqqqqqqqqqqq\"]\n",
	  "dir/t.toml:9:15: encryption.recipients[0]: \"age2qqqqqqqqqqqqqqqq...\" "
	  "is not an age recipient (age1...)" },
	/* 35b: an identity after a space is still not quoted, not in part */
	{ "version = 1\nname = \"t\"\nstrategy = \"rehost\"\n[source]\n"
	  "path = \"s\"\n[destination]\nurl = \"file://l\"\n[encryption]\n"
	  "recipients = [\" AGE-SECRET-KEY-1QQQQQQ\"]\n",
	  "dir/t.toml:9:15: encryption.recipients[0] is an age SECRET key: "
	  "never put it in a plan; use its recipient (age1...) and treat the "
	  "key as compromised" },
	/* 35 */
	{ HEAD "passphrase_env = \"P\"\n",
	  "dir/t.toml:10:18: encryption.passphrase_env cannot be combined "
	  "with recipients (an age scrypt recipient must be the only one)" },
	/* 36 */
	{ HEAD "[compression]\nzstd_level = 3\n",
	  "dir/t.toml:10:1: [compression] does not apply to strategy "
	  "\"rehost\" (it lands files uncompressed); remove it or use "
	  "strategy \"replatform\"" },
	/* 37 */
	{ "version = 1\nname = \"t\"\nstrategy = \"replatform\"\n[source]\n"
	  "path = \"s\"\n[destination]\nurl = \"file://l\"\n[encryption]\n"
	  "passphrase_env = \"P\"\n[compression]\nzstd_level = 42\n",
	  "dir/t.toml:11:14: compression.zstd_level must be 1 to 19, not 42" },
	/* 38 */
	{ HEAD "[retire]\ndelete_source = true\n",
	  "dir/t.toml:10:1: [retire] only applies to strategy \"retire\", not "
	  "\"rehost\"" },
	/* 39 */
	{ HEAD "[refactor]\npartition_by = \"mtime:%Y\"\n",
	  "dir/t.toml:10:1: [refactor] only applies to strategies "
	  "\"refactor\" and \"rebuild\", not \"rehost\"" },
	/* 40 */
	{ "version = 1\nname = \"t\"\nstrategy = \"refactor\"\n[source]\n"
	  "path = \"s\"\n[destination]\nurl = \"file://l\"\n[encryption]\n"
	  "passphrase_env = \"P\"\n",
	  "dir/t.toml:1:1: strategy \"refactor\" needs a [refactor] table "
	  "with partition_by (e.g. \"mtime:%Y-%m-%d\")" },
	/* 41 */
	{ "version = 1\nname = \"t\"\nstrategy = \"refactor\"\n[source]\n"
	  "path = \"s\"\n[destination]\nurl = \"file://l\"\n[encryption]\n"
	  "passphrase_env = \"P\"\n[refactor]\npartition_by = \"(a)(b)\"\n"
	  "partition_key = \"k\"\n",
	  "dir/t.toml:11:16: refactor.partition_by: the regular expression "
	  "needs exactly one capture group (...), or use \"mtime:FORMAT\"" },
	/* 42 */
	{ "version = 1\nname = \"t\"\nstrategy = \"refactor\"\n[source]\n"
	  "path = \"s\"\n[destination]\nurl = \"file://l\"\n[encryption]\n"
	  "passphrase_env = \"P\"\n[refactor]\npartition_by = \"mtime:\"\n",
	  "dir/t.toml:11:16: refactor.partition_by: the strftime format "
	  "after \"mtime:\" must be non-empty and hold no '/'" },
	/* 43 */
	{ "version = 1\nname = \"t\"\nstrategy = \"refactor\"\n[source]\n"
	  "path = \"s\"\n[destination]\nurl = \"file://l\"\n[encryption]\n"
	  "passphrase_env = \"P\"\n[refactor]\npartition_by = \"^(x)\"\n",
	  "dir/t.toml:10:1: refactor.partition_key is required with a "
	  "regular expression partition_by" },
	/* 44 */
	{ HEAD "[audit]\nlgo = \"x\"\n",
	  "dir/t.toml:11:1: unknown key \"audit.lgo\" (did you mean "
	  "\"log\"?)" },
	/* 45 */
	{ "version = 1\nname = \"t\"\nstrategy = \"rehost\"\n[source]\n"
	  "path = \"~bob/x\"\n",
	  "dir/t.toml:5:8: \"~bob/x\": only \"~/\" is understood, not ~user" },
	/* 46 */
	{ "version = 1\nname = \"t\"\nstrategy = \"rehost\"\n[source]\n"
	  "path = \"a\\tb\"\n",
	  "dir/t.toml:5:8: source.path holds a control character" },
	/* 47 */
	{ "version = 1\nname = \"t\"\nstrategy = \"rehost\"\n[source]\n"
	  "path = \"s\"\nmax_expansion_ratio = 0\n",
	  "dir/t.toml:6:23: source.max_expansion_ratio must be a positive "
	  "integer, not 0" },
	/* 48 */
	{ "version = 1\nname = \"t\"\nstrategy = \"rehost\"\n[source]\n"
	  "path = \"s\"\nmax_expanded_bytes = -1\n",
	  "dir/t.toml:6:22: source.max_expanded_bytes must be a positive "
	  "integer, not -1" },
	/* 49 */
	{ "version = 1\nname = \"t\"\nstrategy = \"rehost\"\n[source]\n"
	  "path = \"s\"\nmax_expansion_ratio = 20.5\n",
	  "dir/t.toml:6:23: source.max_expansion_ratio must be an integer, "
	  "not float" },
	/* 50 */
	{ "version = 1\nname = \"t\"\nstrategy = \"rehost\"\n[source]\n"
	  "path = \"s\"\nmax_expanded_bytes = \"10G\"\n",
	  "dir/t.toml:6:22: source.max_expanded_bytes must be an integer, "
	  "not string" },
	/* 51 */
	{ "version = 1\nname = \"t\"\nstrategy = \"rehost\"\n[source]\n"
	  "path = \"s\"\nmax_expansion_ration = 5\n",
	  "dir/t.toml:6:1: unknown key \"source.max_expansion_ration\" (did "
	  "you mean \"max_expansion_ratio\"?)" },
};

static void
test_plan__bad_plans(void **state)
{
	struct mig_ctx *ctx = mig_ctx_new();
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mig_plan *p = NULL;
		int r;

		r = mig_plan_parse("dir/t.toml", bad[i].text,
		    strlen(bad[i].text), &test_env, ctx, &p);
		if (r != MIG_ERR_PARSE)
			fail_msg("bad plan %zu: got %d, want MIG_ERR_PARSE", i + 1,
			    r);
		assert_null(p);
		if (bad[i].msg == NULL) {
			/* A TOML syntax error: FILE:LINE:COL from the parser. */
			assert_true(strncmp(mig_errmsg(ctx), "dir/t.toml:2:",
			    13) == 0);
			continue;
		}
		if (strcmp(mig_errmsg(ctx), bad[i].msg) != 0)
			fail_msg("bad plan %zu:\n got: %s\nwant: %s", i + 1,
			    mig_errmsg(ctx), bad[i].msg);
	}
	mig_ctx_free(ctx);
}

static void
test_plan__stages_and_template(void **state)
{
	struct mig_ctx *ctx = mig_ctx_new();
	struct mig_plan *p;
	char buf[512];

	(void)state;
	p = parse_ok(HEAD, ctx);
	mig_plan_stages(p, buf, sizeof(buf));
	assert_string_equal(buf, "inventory -> sha256 -> age -> sha256 -> "
	    "file");
	mig_plan_template(p, buf, sizeof(buf));
	assert_string_equal(buf, "raw/t/ingest_date=YYYY-MM-DD/run=RUNID/"
	    "data/PATH.age");
	mig_plan_free(p);
	mig_ctx_free(ctx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan__minimal_defaults),
		cmocka_unit_test(test_plan__archive_limits),
		cmocka_unit_test(test_plan__strategy_defaults),
		cmocka_unit_test(test_plan__sftp_and_https),
		cmocka_unit_test(test_plan__did_you_mean),
		cmocka_unit_test(test_plan__bad_plans),
		cmocka_unit_test(test_plan__stages_and_template),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
