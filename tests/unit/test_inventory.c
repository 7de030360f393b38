/*
 * Unit tests for lib/run/inventory.c: the .gitignore-like rules of
 * migrate-plan(5) FILTERS, table-driven, and the order of the walk.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "migrate/error.h"
#include "migrate/run.h"

#include "testutil.h"

struct glob_case {
	const char	*pattern;
	const char	*path;
	bool		 match;
};

static const struct glob_case glob_cases[] = {
	/* No '/': the base name, at any depth. */
	{ "*.csv", "a.csv", true },
	{ "*.csv", "x/a.csv", true },
	{ "*.csv", "x/y/z/a.csv", true },
	{ "*.csv", "a.csv.bak", false },
	{ "*.csv", "x/a.txt", false },
	{ "a?.csv", "dir/a1.csv", true },
	{ "[ab].txt", "q/b.txt", true },
	{ "[ab].txt", "q/c.txt", false },
	/* A name that is a folder selects everything beneath it. */
	{ "tmp", "tmp", true },
	{ "tmp", "a/tmp/b.csv", true },
	{ "tmp", "a/tmpx/b.csv", false },
	/* A leading '/' anchors to the source root. */
	{ "/a.csv", "a.csv", true },
	{ "/a.csv", "x/a.csv", false },
	{ "/*.csv", "b.csv", true },
	{ "/*.csv", "x/b.csv", false },
	/* So does a '/' inside the pattern. */
	{ "sub/*.csv", "sub/a.csv", true },
	{ "sub/*.csv", "x/sub/a.csv", false },
	{ "sub/*.csv", "sub/deeper/a.csv", false },
	/* "**" crosses folders, zero or more of them. */
	{ "**/*.csv", "a.csv", true },
	{ "**/*.csv", "x/y/a.csv", true },
	{ "sub/**/*.csv", "sub/a.csv", true },
	{ "sub/**/*.csv", "sub/x/y/a.csv", true },
	{ "sub/**/*.csv", "other/x/a.csv", false },
	{ "**/tmp/**", "a/tmp/b.csv", true },
	{ "**/tmp/**", "tmp/b.csv", true },
	{ "**/tmp/**", "a/tmpx/b.csv", false },
	{ "**", "anything/at/all", true },
	/* '*' never crosses a '/'. */
	{ "/*", "a/b", true },		/* the folder "a" matches: all of it */
	{ "/a*b", "a/b", false },
	/* A trailing '/' matches folders only, and all beneath them. */
	{ "tmp/", "tmp", false },
	{ "tmp/", "tmp/x.csv", true },
	{ "tmp/", "a/b/tmp/x.csv", true },
	{ "/tmp/", "a/tmp/x.csv", false },
	{ "a/tmp/", "a/tmp/x/y", true },
	/* Nothing matches an empty pattern or a lone '/'. */
	{ "", "a", false },
	{ "/", "a", false },
};

static void
test_inventory__glob_table(void **state)
{
	size_t i;
	bool got;

	(void)state;
	for (i = 0; i < sizeof(glob_cases) / sizeof(glob_cases[0]); i++) {
		got = mig_glob_match(glob_cases[i].pattern, glob_cases[i].path);
		if (got != glob_cases[i].match)
			fail_msg("pattern \"%s\" on \"%s\": %s, want %s",
			    glob_cases[i].pattern, glob_cases[i].path,
			    got ? "match" : "no match",
			    glob_cases[i].match ? "match" : "no match");
	}
}

struct sel_case {
	const char	*include[3];
	const char	*exclude[3];
	const char	*path;
	bool		 selected;
};

static const struct sel_case sel_cases[] = {
	{ { NULL }, { NULL }, "any/file", true },
	{ { "*.csv", NULL }, { NULL }, "deep/down/x.csv", true },
	{ { "*.csv", NULL }, { NULL }, "deep/down/x.txt", false },
	{ { "*.csv", NULL }, { "tmp/", NULL }, "a/tmp/x.csv", false },
	{ { "*.csv", NULL }, { "tmp/", NULL }, "a/keep/x.csv", true },
	{ { NULL }, { "/README.txt", NULL }, "README.txt", false },
	{ { NULL }, { "/README.txt", NULL }, "sub/README.txt", true },
	{ { "/2024", NULL }, { NULL }, "2024/Q1/x.csv", true },
	{ { "/2024", NULL }, { NULL }, "old/2024/x.csv", false },
	{ { "*.csv", "*.bin" }, { "**/tmp/**", NULL }, "images/logo.bin",
	    true },
};

static void
test_inventory__selected_table(void **state)
{
	size_t i;
	bool got;

	(void)state;
	for (i = 0; i < sizeof(sel_cases) / sizeof(sel_cases[0]); i++) {
		got = mig_inventory_selected(
		    sel_cases[i].include[0] != NULL ?
		    (char *const *)sel_cases[i].include : NULL,
		    (char *const *)sel_cases[i].exclude, sel_cases[i].path);
		if (got != sel_cases[i].selected)
			fail_msg("case %zu (\"%s\"): %s, want %s", i,
			    sel_cases[i].path, got ? "selected" : "left out",
			    sel_cases[i].selected ? "selected" : "left out");
	}
}

/*
 * Names whose bytes sort around '/' (0x2f): '!' and '-' below it, '0'
 * above, and UTF-8 (bytes >= 0x80).  The walk must hand the files over in
 * strcmp() order of the full path, the order snapshots and manifests are
 * merged in, without sorting them all at the end.
 */
static const char *const order_tree[] = {
	"a!", "a-x", "a.d/f", "a/b-", "a/b/c", "a/b0", "a/bb", "a0", "b/ 1",
	"b/!", "b/x-", "b/x/y/z", "b/x0", "\xc3\xa9t\xc3\xa9", "z/\xef\xbf\xbd",
};

struct order_seen {
	char	*paths[32];
	size_t	 n;
};

static int
order_entry(void *arg, const struct mig_inv_entry *e)
{
	struct order_seen *seen = arg;

	assert_true(seen->n < 32);
	seen->paths[seen->n++] = strdup(e->path);
	return 0;
}

static void
test_inventory__walk_in_path_order(void **state)
{
	struct mig_inventory_opts io;
	struct mig_inventory *inv = NULL;
	struct order_seen seen = { { NULL }, 0 };
	struct mig_ctx *ctx = mig_ctx_new();
	char root[256], path[512], *slash;
	size_t i, n = sizeof(order_tree) / sizeof(order_tree[0]);
	FILE *fp;

	(void)state;
	assert_int_equal(tu_mkdtemp(root, sizeof(root), "inv"), 0);
	/* Created in reverse, so that readdir's order is no help. */
	for (i = n; i-- > 0; ) {
		(void)snprintf(path, sizeof(path), "%s/%s", root,
		    order_tree[i]);
		for (slash = path + strlen(root) + 1;
		    (slash = strchr(slash, '/')) != NULL; slash++) {
			*slash = '\0';
			(void)mkdir(path, 0700);
			*slash = '/';
		}
		assert_non_null(fp = fopen(path, "w"));
		(void)fclose(fp);
	}
	memset(&io, 0, sizeof(io));
	io.entry = order_entry;
	io.arg = &seen;
	assert_int_equal(mig_inventory_walk(root, &io, ctx, &inv), 0);
	assert_int_equal(inv->count, 0);	/* handed over, not kept */
	assert_int_equal(seen.n, n);
	for (i = 1; i < n; i++)
		if (strcmp(seen.paths[i - 1], seen.paths[i]) >= 0)
			fail_msg("\"%s\" came before \"%s\"",
			    seen.paths[i - 1], seen.paths[i]);
	for (i = 0; i < n; i++)
		free(seen.paths[i]);
	mig_inventory_free(inv);
	/* Kept (no entry callback): the same order. */
	io.entry = NULL;
	assert_int_equal(mig_inventory_walk(root, &io, ctx, &inv), 0);
	assert_int_equal(inv->count, n);
	for (i = 1; i < n; i++)
		assert_true(strcmp(inv->entries[i - 1].path,
		    inv->entries[i].path) < 0);
	mig_inventory_free(inv);
	mig_ctx_free(ctx);
	assert_int_equal(tu_rm_tree(root), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inventory__glob_table),
		cmocka_unit_test(test_inventory__selected_table),
		cmocka_unit_test(test_inventory__walk_in_path_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
