/*
 * Unit tests for the filters of lib/run/inventory.c: the .gitignore-like
 * rules of migrate-plan(5) FILTERS, table-driven.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "migrate/run.h"

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inventory__glob_table),
		cmocka_unit_test(test_inventory__selected_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
