/*
 * migrate plan check PLAN [--json]: validate a plan and print what a run
 * would do, touching nothing.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "migrate/error.h"
#include "migrate/plan.h"

#include "cmd.h"

const char *const cmd_plan_usage[] = {
	"migrate plan check PLAN [--json]",
	NULL
};

static const char *
source_kind(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return "missing";
	if (S_ISDIR(st.st_mode))
		return "directory";
	if (S_ISREG(st.st_mode))
		return "archive";
	return "not a directory or archive";
}

static json_t *
string_list(char **list)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; list != NULL && list[i] != NULL; i++)
		json_array_append_new(a, json_string(list[i]));
	return a;
}

static int
print_json(const struct mig_plan *p, const char *stages, const char *tmpl)
{
	const struct mig_strategy_info *si = mig_strategy_info(p->strategy);
	json_t *o;
	size_t nrecip = 0;
	int r;

	while (p->recipients != NULL && p->recipients[nrecip] != NULL)
		nrecip++;
	o = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:{s:s, s:s, s:o, s:o,"
	    " s:b}, s:{s:s, s:s, s:s, s:s, s:s}, s:{s:i, s:s?, s:b},"
	    " s:{s:b, s:i}, s:{s:s, s:s?}, s:s, s:s}",
	    "plan", p->file, "plan_sha256", p->sha256, "name", p->name,
	    "version", (int)p->version, "strategy", si->name,
	    "zone", p->zone,
	    "source", "path", p->source_path, "kind",
	    source_kind(p->source_path), "include", string_list(p->include),
	    "exclude", string_list(p->exclude), "follow_symlinks",
	    p->follow_symlinks,
	    "destination", "url", p->url, "scheme", p->scheme,
	    "path", p->lake_path != NULL ? p->lake_path : p->url,
	    "dataset", p->dataset, "zone", p->zone,
	    "encryption", "recipients", (int)nrecip, "recipients_file",
	    p->recipients_file, "passphrase", p->passphrase_env != NULL,
	    "compression", "enabled", p->compress, "zstd_level",
	    p->compress ? p->zstd_level : 0,
	    "audit", "log", p->audit_log, "signing_key", p->signing_key,
	    "pipeline", stages, "template", tmpl);
	if (o == NULL)
		return EXIT_RUNTIME;
	if (p->partition_by != NULL)
		json_object_set_new(o, "partition", json_pack("{s:s, s:s}",
		    "by", p->partition_by, "key", p->partition_key));
	if (p->strategy == MIG_STRATEGY_RETIRE)
		json_object_set_new(o, "delete_source",
		    json_boolean(p->delete_source));
	r = json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	putchar('\n');
	json_decref(o);
	return r == 0 ? EXIT_OK : EXIT_RUNTIME;
}

static void
print_text(const struct mig_plan *p, const char *stages, const char *tmpl)
{
	const struct mig_strategy_info *si = mig_strategy_info(p->strategy);
	size_t i, nrecip = 0;

	while (p->recipients != NULL && p->recipients[nrecip] != NULL)
		nrecip++;
	printf("plan:        %s (ok, sha256 %.16s...)\n", p->file, p->sha256);
	printf("name:        %s\n", p->name);
	printf("strategy:    %s\n", si->name);
	printf("source:      %s (%s)%s\n", p->source_path,
	    source_kind(p->source_path),
	    p->follow_symlinks ? ", following symlinks inside it" : "");
	for (i = 0; p->include != NULL && p->include[i] != NULL; i++)
		printf("  include:   %s\n", p->include[i]);
	for (i = 0; p->exclude != NULL && p->exclude[i] != NULL; i++)
		printf("  exclude:   %s\n", p->exclude[i]);
	printf("destination: %s", p->url);
	if (p->lake_path != NULL)
		printf(" (lake at %s)", p->lake_path);
	printf("\n  zone:      %s\n  dataset:   %s\n", p->zone, p->dataset);
	printf("pipeline:    %s\n", stages);
	printf("lands as:    %s\n", tmpl);
	if (p->passphrase_env != NULL)
		printf("encryption:  age, passphrase from $%s\n",
		    p->passphrase_env);
	else
		printf("encryption:  age, %zu recipient%s%s%s\n", nrecip,
		    nrecip == 1 ? "" : "s",
		    p->recipients_file != NULL ? " + recipients file " : "",
		    p->recipients_file != NULL ? p->recipients_file : "");
	if (p->partition_by != NULL)
		printf("partition:   %s=<%s>\n", p->partition_key,
		    p->partition_by);
	if (p->strategy == MIG_STRATEGY_RETIRE)
		printf("source:      %s after a deep verify\n",
		    p->delete_source ? "DELETED" : "kept");
	printf("audit:       %s (%s)\n", p->audit_log,
	    p->signing_key != NULL ? "signed checkpoints" :
	    "hash-chained, unsigned");
}

int
cmd_plan(int argc, char **argv, struct mig_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct mig_plan_env env = { getenv("HOME") };
	struct mig_plan *plan = NULL;
	char stages[256], tmpl[512];
	bool json = false;
	int c, r;

	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0))
		return cmd_help(cmd_plan_usage);
	if (argc < 2 || strcmp(argv[1], "check") != 0)
		return cmd_bad_usage(cmd_plan_usage, argc < 2 ?
		    "plan: missing subcommand" :
		    "plan: unknown subcommand \"%s\"", argv[1]);
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			return cmd_help(cmd_plan_usage);
		default:
			return cmd_bad_usage(cmd_plan_usage, NULL);
		}
	}
	if (optind != argc - 1)
		return cmd_bad_usage(cmd_plan_usage, "plan check: expected "
		    "one PLAN file");
	r = mig_plan_load(argv[optind], &env, ctx, &plan);
	if (r == MIG_ERR_NOTFOUND)
		r = MIG_ERR_USAGE;
	if (r != 0)
		return cmd_fail(ctx, r);
	mig_plan_stages(plan, stages, sizeof(stages));
	mig_plan_template(plan, tmpl, sizeof(tmpl));
	if (json)
		r = print_json(plan, stages, tmpl);
	else
		print_text(plan, stages, tmpl);
	mig_plan_free(plan);
	return r;
}
