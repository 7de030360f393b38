/*
 * migrate runs PLAN [--key PUB] [--json]
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "migrate/error.h"
#include "migrate/plan.h"
#include "migrate/run.h"
#include "migrate/sign.h"
#include "migrate/transport.h"

#include "cmd.h"

const char *const cmd_runs_usage[] = {
	"migrate runs PLAN [--key PUB] [--json]",
	NULL
};

const char *const cmd_runs_options[] = {
	"    --key PUB        the audit public key that checks the log's "
	    "signatures",
	"    --json           stdout: one JSON document with the runs",
	NULL
};

/* "20261205T130101Z-1a2b3c4d" -> "2026-12-05 13:01:01". */
static void
id_date(const char *id, char out[20])
{
	if (strlen(id) < 16 || id[8] != 'T') {
		(void)snprintf(out, 20, "-");
		return;
	}
	(void)snprintf(out, 20, "%.4s-%.2s-%.2s %.2s:%.2s:%.2s", id, id + 4,
	    id + 6, id + 9, id + 11, id + 13);
}

static void
human_bytes(uint64_t b, char out[16])
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	size_t u = 0;

	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	(void)snprintf(out, 16, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
}

static void
print_table(const struct mig_run_list *l)
{
	char date[20], bytes[16];
	size_t i;

	printf("%-25s  %-19s  %-10s  %-14s  %7s  %7s  %10s  %s\n", "RUN",
	    "DATE (UTC)", "STRATEGY", "STATE", "OBJECTS", "FILES", "BYTES",
	    "PARENT");
	for (i = 0; i < l->n; i++) {
		const struct mig_run_row *w = &l->v[i];

		id_date(w->id, date);
		human_bytes(w->bytes, bytes);
		printf("%-25s  %-19s  %-10s  %-14s  %7llu  %7llu  %10s  %s\n",
		    w->id, date, w->strategy[0] != '\0' ? w->strategy : "-",
		    w->state, (unsigned long long)w->objects,
		    (unsigned long long)w->files, bytes,
		    w->parent[0] != '\0' ? w->parent : "-");
	}
}

static int
print_json(const struct mig_run_list *l, struct mig_ctx *ctx)
{
	json_t *doc, *a;
	char date[20];
	size_t i;

	if ((a = json_array()) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	for (i = 0; i < l->n; i++) {
		const struct mig_run_row *w = &l->v[i];

		id_date(w->id, date);
		if (json_array_append_new(a, json_pack("{s:s, s:s, s:s?, s:s,"
		    " s:I, s:I, s:I, s:s?, s:s?}", "id", w->id, "date", date,
		    "strategy", w->strategy[0] != '\0' ? w->strategy : NULL,
		    "state", w->state, "objects", (json_int_t)w->objects,
		    "files", (json_int_t)w->files, "bytes",
		    (json_int_t)w->bytes, "parent", w->parent[0] != '\0' ?
		    w->parent : NULL, "dir", w->dir)) != 0) {
			json_decref(a);
			return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		}
		if (w->shards > 0)
			json_object_set_new(json_array_get(a, i), "shards",
			    json_pack("{s:i, s:i}", "complete", w->shards_done,
			    "of", w->shards));
	}
	if ((doc = json_pack("{s:o}", "runs", a)) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	putchar('\n');
	json_decref(doc);
	return 0;
}

int
cmd_runs(int argc, char **argv, struct mig_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "key", required_argument, NULL, 'k' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct mig_runs_opts o;
	struct mig_run_list list = { NULL, 0 };
	struct mig_transport_config tcfg;
	struct mig_sign_key *pub = NULL;
	struct mig_plan *plan = NULL;
	const char *keyfile = NULL;
	bool json = false;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, ":hvq", longopts, NULL)) != -1) {
		switch (c) {
		case 'J':
			json = true;
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 'v':
		case 'q':
			cmd_set_verbosity(c);
			break;
		case 'h':
			return cmd_help_options(cmd_runs_usage, cmd_runs_options);
		default:
			return cmd_bad_option(c, argv, longopts, cmd_runs_usage);
		}
	}
	if (optind != argc - 1)
		return cmd_bad_usage(cmd_runs_usage, "runs: expected one PLAN");
	memset(&o, 0, sizeof(o));
	if ((r = cmd_load_plan(argv[optind], ctx, &plan)) != 0 ||
	    (r = cmd_transport_config(plan, &tcfg, ctx)) != 0 ||
	    (r = cmd_seal_pub(keyfile, plan, ctx, &pub)) != 0)
		goto out;
	o.plan = plan;
	o.tcfg = &tcfg;
	o.seal_pub = pub;
	if ((r = mig_runs_list(&o, &list, ctx)) != 0)
		goto out;
	if (json)
		r = print_json(&list, ctx);
	else if (list.n == 0)
		printf("no runs of %s in %s yet\n", plan->name,
		    plan->url);
	else
		print_table(&list);
out:
	mig_run_list_free(&list);
	mig_plan_free(plan);
	mig_sign_key_free(pub);
	return r == 0 ? EXIT_OK : cmd_fail(ctx, r);
}
