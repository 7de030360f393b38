/*
 * The OpenSSH client configuration reader (lib/transport/ssh_config.c):
 * Host patterns with negation, first value wins, IdentityFile
 * accumulating, Match blocks skipped, token expansion, bad lines; and the
 * resolution of an sftp:// destination against a scratch HOME (the plan
 * beats ssh_config, ssh_config beats the defaults).
 */

#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "migrate/error.h"
#include "migrate/ssh_config.h"
#include "migrate/transport.h"

#include "testutil.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

struct pcase {
	const char	*cfg;
	const char	*host;
	const char	*hostname;	/* expected, NULL: unset */
	const char	*user;
	int		 port;
	const char	*kh;
	const char	*id0;
	size_t		 nid;
};

static const struct pcase pcases[] = {
	/* 0: a plain alias */
	{ "Host lake\n  HostName 127.0.0.1\n  User bob\n  Port 2222\n"
	  "  IdentityFile ~/.ssh/lake\n  UserKnownHostsFile ~/kh\n",
	  "lake", "127.0.0.1", "bob", 2222, "~/kh", "~/.ssh/lake", 1 },
	/* 1: another host gets nothing */
	{ "Host lake\n  HostName 127.0.0.1\n", "other", NULL, NULL, 0, NULL,
	  NULL, 0 },
	/* 2: first value wins, IdentityFile accumulates, Host * last */
	{ "Host lake\n User a\n IdentityFile one\nHost *\n User b\n"
	  " Port 10\n IdentityFile two\n IdentityFile one\n",
	  "lake", NULL, "a", 10, NULL, "one", 2 },
	/* 3: negation excludes, whatever else matches */
	{ "Host * !lake\n User x\nHost l?ke\n User y\n", "lake", NULL, "y",
	  0, NULL, NULL, 0 },
	/* 4: case-insensitive keywords and host, '=' and quotes, comments */
	{ "# top\nhOsT LAKE\n\tuser=carol # trailing\n"
	  "  IDENTITYFILE \"/a b/key\"\n  port = 22\n", "Lake", NULL,
	  "carol", 22, NULL, "/a b/key", 1 },
	/* 5: lines before any Host apply to all; Match blocks are skipped */
	{ "User all\nMatch host lake\n User matched\nHost lake\n Port 7\n",
	  "lake", NULL, "all", 7, NULL, NULL, 0 },
	/* 6: Include is not followed */
	{ "Include ~/.ssh/config.d/*\nHost lake\n HostName h\n", "lake", "h",
	  NULL, 0, NULL, NULL, 0 },
	/* 7: a Host line of only negations matches nothing */
	{ "Host !other\n User z\n", "lake", NULL, NULL, 0, NULL, NULL, 0 },
};

static void
test_ssh_config__parse(void **state)
{
	struct mig_ctx *ctx = mig_ctx_new();
	struct mig_ssh_host h;
	const struct pcase *c;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(pcases); i++) {
		c = &pcases[i];
		print_message("case %zu\n", i);
		assert_int_equal(mig_ssh_config_parse(c->cfg, strlen(c->cfg),
		    c->host, &h, ctx), 0);
		if (c->hostname == NULL)
			assert_null(h.hostname);
		else
			assert_string_equal(h.hostname, c->hostname);
		if (c->user == NULL)
			assert_null(h.user);
		else
			assert_string_equal(h.user, c->user);
		assert_int_equal(h.port, c->port);
		if (c->kh == NULL)
			assert_null(h.known_hosts);
		else
			assert_string_equal(h.known_hosts, c->kh);
		assert_int_equal(h.nidentity, c->nid);
		if (c->id0 != NULL)
			assert_string_equal(h.identity[0], c->id0);
		mig_ssh_host_free(&h);
	}
	mig_ctx_free(ctx);
}

static void
test_ssh_config__bad(void **state)
{
	static const struct {
		const char	*cfg;
		const char	*msg;
	} bad[] = {
		{ "Host lake\n Port 0\n", "line 2:" },
		{ "Host lake\n Port 65536\n", "line 2:" },
		{ "Host lake\n Port 22x\n", "line 2:" },
		{ "Host lake\n\n User\n", "line 3:" },
		{ "IdentityFile \"open\n", "line 1:" },
	};
	struct mig_ctx *ctx = mig_ctx_new();
	struct mig_ssh_host h;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(bad); i++) {
		assert_int_equal(mig_ssh_config_parse(bad[i].cfg,
		    strlen(bad[i].cfg), "lake", &h, ctx), MIG_ERR_PARSE);
		assert_non_null(strstr(mig_errmsg(ctx), bad[i].msg));
		mig_ssh_host_free(&h);
	}
	/* A bad Port of another host's block is not this host's problem. */
	assert_int_equal(mig_ssh_config_parse("Host x\n Port 0\n", 15,
	    "lake", &h, ctx), 0);
	mig_ssh_host_free(&h);
	assert_int_equal(mig_ssh_config_parse("User a\0b\n", 9, "lake", &h,
	    ctx), MIG_ERR_PARSE);
	mig_ssh_host_free(&h);
	mig_ctx_free(ctx);
}

static void
test_ssh_config__expand(void **state)
{
	char *s;

	(void)state;
	s = mig_ssh_expand("~/.ssh/id_%h_%p_%r_%u%%", "/home/u", "lake", 2222,
	    "bob", "me");
	assert_string_equal(s, "/home/u/.ssh/id_lake_2222_bob_me%");
	free(s);
	s = mig_ssh_expand("%d/kh", "/h", NULL, 0, NULL, NULL);
	assert_string_equal(s, "/h/kh");
	free(s);
	s = mig_ssh_expand("~", "/h", NULL, 0, NULL, NULL);
	assert_string_equal(s, "/h");
	free(s);
	s = mig_ssh_expand("rel/~x", NULL, NULL, 0, NULL, NULL);
	assert_string_equal(s, "rel/~x");
	free(s);
	assert_null(mig_ssh_expand("~/x", NULL, NULL, 0, NULL, NULL));
	assert_null(mig_ssh_expand("%z", "/h", "h", 1, "r", "u"));
	assert_null(mig_ssh_expand("%r", "/h", "h", 1, NULL, "u"));
	assert_null(mig_ssh_expand("trailing %", "/h", "h", 1, "r", "u"));
}

/* A scratch HOME with .ssh/config and some key files. */
struct home {
	char	dir[256];
	char	path[512];
};

static const char *
at(struct home *hm, const char *rel)
{
	(void)snprintf(hm->path, sizeof(hm->path), "%s/%s", hm->dir, rel);
	return hm->path;
}

static void
put(struct home *hm, const char *rel, const char *text)
{
	FILE *f = fopen(at(hm, rel), "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(hm->path, 0600), 0);
}

static int
hsetup(void **state)
{
	struct home *hm = calloc(1, sizeof(*hm));

	assert_non_null(hm);
	assert_int_equal(tu_mkdtemp(hm->dir, sizeof(hm->dir), "sshcfg"), 0);
	assert_int_equal(mkdir(at(hm, ".ssh"), 0700), 0);
	*state = hm;
	return 0;
}

static int
hteardown(void **state)
{
	struct home *hm = *state;

	(void)tu_rm_tree(hm->dir);
	free(hm);
	return 0;
}

static void
resolve(struct home *hm, const char *url_text, struct mig_topts *o,
    struct mig_sftp_target *t, int expect, struct mig_ctx *ctx)
{
	struct mig_url url;

	assert_int_equal(mig_url_parse(url_text, &url, ctx), 0);
	assert_int_equal(mig_sftp_resolve(o, &url, hm->dir, "me", "/plans", t,
	    ctx), expect);
	mig_url_free(&url);
}

static void
test_ssh_config__resolve(void **state)
{
	struct home *hm = *state;
	struct mig_ctx *ctx = mig_ctx_new();
	struct mig_topts o = { 0 };
	struct mig_sftp_target t;
	struct mig_url url;
	char want[600];

	/* No config, no keys: the URL, the login name, the defaults. */
	resolve(hm, "sftp://lake/x", &o, &t, 0, ctx);
	assert_string_equal(t.host, "lake");
	assert_int_equal(t.port, 22);
	assert_string_equal(t.user, "me");
	assert_string_equal(t.known_hosts, at(hm, ".ssh/known_hosts"));
	assert_int_equal(t.nidentity, 0);
	assert_null(t.ssh_config);
	mig_sftp_target_free(&t);

	/* The default identities that exist, in ssh's order. */
	put(hm, ".ssh/id_rsa", "k");
	put(hm, ".ssh/id_ed25519", "k");
	resolve(hm, "sftp://lake/x", &o, &t, 0, ctx);
	assert_int_equal(t.nidentity, 2);
	assert_string_equal(t.identity[0], at(hm, ".ssh/id_ed25519"));
	assert_string_equal(t.identity[1], at(hm, ".ssh/id_rsa"));
	assert_false(t.identity_explicit);
	mig_sftp_target_free(&t);

	/* ssh_config beats the defaults; missing IdentityFiles skipped. */
	put(hm, ".ssh/127.0.0.1_key", "k");
	put(hm, ".ssh/config", "Host lake\n HostName 127.0.0.1\n User bob\n"
	    " Port 2222\n IdentityFile ~/.ssh/gone\n"
	    " IdentityFile %d/.ssh/%h_key\n UserKnownHostsFile ~/kh_%p\n");
	resolve(hm, "sftp://lake/x", &o, &t, 0, ctx);
	assert_string_equal(t.host, "127.0.0.1");
	assert_int_equal(t.port, 2222);
	assert_string_equal(t.user, "bob");
	assert_string_equal(t.known_hosts, at(hm, "kh_2222"));
	assert_int_equal(t.nidentity, 1);	/* %h: the HostName */
	assert_string_equal(t.identity[0], at(hm, ".ssh/127.0.0.1_key"));
	assert_string_equal(t.ssh_config, at(hm, ".ssh/config"));
	mig_sftp_target_free(&t);

	/* The URL and the plan beat ssh_config. */
	assert_int_equal(mig_topts_set(&o, "known_hosts", "/plan/kh"), 0);
	assert_int_equal(mig_topts_set(&o, "identity", "/plan/id"), 0);
	resolve(hm, "sftp://eve@lake:2200/x", &o, &t, 0, ctx);
	assert_string_equal(t.host, "127.0.0.1");
	assert_int_equal(t.port, 2200);
	assert_string_equal(t.user, "eve");
	assert_string_equal(t.known_hosts, "/plan/kh");
	assert_int_equal(t.nidentity, 1);
	assert_string_equal(t.identity[0], "/plan/id");
	assert_true(t.identity_explicit);
	mig_sftp_target_free(&t);

	/* ssh_config = "none": not read. */
	o.n = 0;
	assert_int_equal(mig_topts_set(&o, "ssh_config", "none"), 0);
	resolve(hm, "sftp://lake/x", &o, &t, 0, ctx);
	assert_string_equal(t.host, "lake");
	assert_null(t.ssh_config);
	mig_sftp_target_free(&t);

	/* "~/" names a file in HOME, and needs one. */
	o.n = 0;
	put(hm, "alt_cfg", "Host lake\n HostName alt-%h\n");
	assert_int_equal(mig_topts_set(&o, "ssh_config", "~/alt_cfg"), 0);
	resolve(hm, "sftp://lake/x", &o, &t, 0, ctx);
	assert_string_equal(t.host, "alt-lake");
	assert_string_equal(t.ssh_config, at(hm, "alt_cfg"));
	mig_sftp_target_free(&t);
	assert_int_equal(mig_url_parse("sftp://lake/x", &url, ctx), 0);
	assert_int_equal(mig_sftp_resolve(&o, &url, NULL, "me", "/plans", &t,
	    ctx), MIG_ERR_USAGE);
	assert_non_null(strstr(mig_errmsg(ctx), "HOME is not set"));
	mig_sftp_target_free(&t);
	/* No HOME and no ssh_config key: nothing read, no defaults. */
	o.n = 0;
	assert_int_equal(mig_sftp_resolve(&o, &url, NULL, "me", "/plans", &t,
	    ctx), 0);
	assert_null(t.ssh_config);
	assert_null(t.known_hosts);
	assert_int_equal(t.nidentity, 0);
	mig_sftp_target_free(&t);
	mig_url_free(&url);

	/* A named file must exist; a relative one is the plan's. */
	o.n = 0;
	assert_int_equal(mig_topts_set(&o, "ssh_config", "cfg"), 0);
	resolve(hm, "sftp://lake/x", &o, &t, MIG_ERR_NOTFOUND, ctx);
	assert_non_null(strstr(mig_errmsg(ctx), "/plans/cfg"));
	mig_sftp_target_free(&t);

	/* A bad line names the file and the line. */
	o.n = 0;
	put(hm, ".ssh/config", "Host *\n Port none\n");
	resolve(hm, "sftp://lake/x", &o, &t, MIG_ERR_PARSE, ctx);
	(void)snprintf(want, sizeof(want), "%s:line 2:",
	    at(hm, ".ssh/config"));
	assert_non_null(strstr(mig_errmsg(ctx), want));
	mig_sftp_target_free(&t);
	mig_ctx_free(ctx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ssh_config__parse),
		cmocka_unit_test(test_ssh_config__bad),
		cmocka_unit_test(test_ssh_config__expand),
		cmocka_unit_test_setup_teardown(test_ssh_config__resolve,
		    hsetup, hteardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
