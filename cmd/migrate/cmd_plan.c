/*
 * migrate plan check PLAN [--online] [--json]: validate a plan, run the
 * preflight (lib/run/preflight.c: everything run would refuse before
 * moving data) and print what a run would do, touching nothing; with
 * --online also connect to the destination as run would, and close.
 * migrate plan init STRATEGY [--source PATH] [--to URL] [-o FILE]: a
 * commented starter plan (cmd_plan_init.c).
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
#include "migrate/run.h"
#include "migrate/transport.h"

#include "cmd.h"

const char *const cmd_plan_usage[] = {
	"migrate plan check PLAN [--online] [--json]",
	"migrate plan init STRATEGY [--source PATH] [--to URL] [-o FILE]",
	NULL
};

const char *const cmd_plan_options[] = {
	"Options of plan check:",
	"    --online       also connect: host key or TLS, and the "
	    "credentials; writes nothing",
	"    --json         stdout: one JSON document, the resolved plan and "
	    "the findings",
	"Options of plan init:",
	"    --source PATH  the folder or archive to migrate (default: data)",
	"    --to URL       the lake: file://, sftp://, https:// (default: "
	    "file://lake)",
	"-o, --output FILE write the plan to FILE, never over one (default: "
	    "stdout)",
	NULL
};

/* What the preflight found, for the text or the JSON report. */
struct check_ui {
	bool		 json;
	json_t		*findings;
	size_t		 warnings;
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
print_json(const struct mig_plan *p, const char *stages, const char *tmpl,
    struct check_ui *ui, size_t errors)
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
	json_object_set_new(o, "ok", json_boolean(errors == 0));
	json_object_set_new(o, "findings", ui->findings);
	ui->findings = NULL;
	r = json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	putchar('\n');
	json_decref(o);
	return r == 0 ? EXIT_OK : EXIT_RUNTIME;
}

static void
print_text(const struct mig_plan *p, const char *stages, const char *tmpl,
    size_t errors)
{
	const struct mig_strategy_info *si = mig_strategy_info(p->strategy);
	size_t i, nrecip = 0;

	while (p->recipients != NULL && p->recipients[nrecip] != NULL)
		nrecip++;
	printf("plan:        %s (%s, sha256 %.16s...)\n", p->file, errors == 0 ?
	    "ok" : "REFUSED: see the errors above", p->sha256);
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

static void
on_finding(void *arg, enum mig_preflight_level level, const char *where,
    const char *what)
{
	struct check_ui *ui = arg;
	const char *lv = level == MIG_PREFLIGHT_ERROR ? "error" : "warning";

	if (level == MIG_PREFLIGHT_WARNING)
		ui->warnings++;
	if (ui->json)
		json_array_append_new(ui->findings, json_pack("{s:s, s:s, s:s}",
		    "level", lv, "where", where, "message", what));
	else if (level == MIG_PREFLIGHT_ERROR)
		fprintf(stderr, "migrate: %s: %s\n", where, what);
	else
		fprintf(stderr, "migrate: %s: warning: %s\n", where, what);
}

/*
 * The variables the plan names: lib/ never reads the environment.  The
 * destination's are those cmd_transport_config resolves for run.
 */
static void
check_env(const struct mig_plan *p, struct check_ui *ui, size_t *errors,
    struct mig_ctx *ctx)
{
	struct mig_transport_config tcfg;
	const char *v;
	char msg[MIG_ERRMSG_MAX + 128];

	size_t n = strlen(p->file);

	if (cmd_transport_config(p, &tcfg, ctx) != 0) {
		v = mig_errmsg(ctx);
		/* Its message starts with the plan's name, as where does. */
		if (strncmp(v, p->file, n) == 0 && strncmp(v + n, ": ", 2) == 0)
			v += n + 2;
		on_finding(ui, MIG_PREFLIGHT_ERROR, p->file, v);
		(*errors)++;
	}
	if (p->passphrase_env == NULL)
		return;
	v = getenv(p->passphrase_env);
	if (v != NULL && v[0] != '\0')
		return;
	(void)snprintf(msg, sizeof(msg), "encryption.passphrase_env names the "
	    "environment variable %s, which is not set", p->passphrase_env);
	on_finding(ui, MIG_PREFLIGHT_ERROR, p->file, msg);
	(*errors)++;
}

/*
 * --online: open the destination as run does (sftp: host key, then the
 * login; https: TLS, then the credentials with OPTIONS of the root; s3:
 * TLS, credentials and bucket with a one-key listing) and close it; no
 * backend writes when it opens.  0, or the error, reported
 * as a finding.
 */
static int
check_online(const struct mig_plan *p, struct check_ui *ui,
    struct mig_ctx *ctx)
{
	struct mig_transport_config tcfg;
	struct mig_transport *t = NULL;
	int r;

	if (strcmp(p->scheme, "file") == 0)
		return 0;
	if ((r = cmd_transport_config(p, &tcfg, ctx)) == 0 &&
	    (r = mig_transport_open(&tcfg, ctx, &t)) == 0) {
		cmd_verbose("online: %s answered and accepted the "
		    "credentials", p->url);
		mig_transport_close(t);
		return 0;
	}
	on_finding(ui, MIG_PREFLIGHT_ERROR, p->file, mig_errmsg(ctx));
	return r;
}

static int
check_plan_file(const char *file, bool json, bool online,
    struct mig_ctx *ctx)
{
	struct mig_preflight_opts po;
	struct check_ui ui = { json, NULL, 0 };
	struct mig_plan *plan = NULL;
	char stages[256], tmpl[512];
	size_t errors = 0;
	int r, online_rc = 0;

	if ((r = cmd_load_plan(file, ctx, &plan)) != 0)
		return cmd_fail(ctx, r);
	if (json && (ui.findings = json_array()) == NULL) {
		mig_plan_free(plan);
		return cmd_fail(ctx, mig_seterr(ctx, MIG_ERR_NOMEM,
		    "out of memory"));
	}
	memset(&po, 0, sizeof(po));
	po.plan = plan;
	po.finding = on_finding;
	po.arg = &ui;
	po.home = getenv("HOME");
	if ((r = mig_run_preflight(&po, &errors, ctx)) != 0) {
		json_decref(ui.findings);
		mig_plan_free(plan);
		return cmd_fail(ctx, r);
	}
	check_env(plan, &ui, &errors, ctx);
	/* Only a plan run would accept is worth a connection. */
	if (online && errors == 0 && (online_rc = check_online(plan, &ui,
	    ctx)) != 0)
		errors++;
	mig_plan_stages(plan, stages, sizeof(stages));
	mig_plan_template(plan, tmpl, sizeof(tmpl));
	if (json)
		r = print_json(plan, stages, tmpl, &ui, errors);
	else
		print_text(plan, stages, tmpl, errors);
	if (r == EXIT_OK && errors > 0) {
		if (!json)
			fprintf(stderr, "migrate: %s: %zu problem%s that run "
			    "would refuse\n", file, errors,
			    errors == 1 ? "" : "s");
		/* A refused connection is a runtime failure, as in run. */
		r = online_rc != 0 ? mig_exit_status(online_rc) : EXIT_USAGE;
	} else if (r == EXIT_OK && online && !json)
		printf("online:      %s\n", strcmp(plan->scheme, "file") == 0 ?
		    "nothing to connect to (file://)" : "ok: connected, host "
		    "key or certificate and credentials accepted, nothing "
		    "written");
	json_decref(ui.findings);
	mig_plan_free(plan);
	return r;
}

/* Function name plan_check: the tests read "plan check" from it. */
static int
plan_check(int argc, char **argv, struct mig_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "online", no_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	bool json = false, online = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, ":hvq", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'o':
			online = true;
			break;
		case 'v':
		case 'q':
			cmd_set_verbosity(c);
			break;
		case 'h':
			return cmd_help_options(cmd_plan_usage,
			    cmd_plan_options);
		default:
			return cmd_bad_option(c, argv, longopts, cmd_plan_usage);
		}
	}
	if (optind != argc - 1)
		return cmd_bad_usage(cmd_plan_usage, "plan check: expected "
		    "one PLAN file");
	return check_plan_file(argv[optind], json, online, ctx);
}

int
cmd_plan(int argc, char **argv, struct mig_ctx *ctx)
{
	static const char *const subs[] = { "check", "init" };
	const char *hint;

	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0))
		return cmd_help_options(cmd_plan_usage, cmd_plan_options);
	if (argc < 2)
		return cmd_bad_usage(cmd_plan_usage, "plan: missing subcommand "
		    "(check or init)");
	if (strcmp(argv[1], "check") == 0)
		return plan_check(argc - 1, argv + 1, ctx);
	if (strcmp(argv[1], "init") == 0)
		return cmd_plan_init(argc - 1, argv + 1, ctx);
	if ((hint = mig_did_you_mean(argv[1], subs, 2)) != NULL)
		return cmd_bad_usage(cmd_plan_usage, "plan: unknown subcommand "
		    "\"%s\" (did you mean \"%s\"?)", argv[1], hint);
	return cmd_bad_usage(cmd_plan_usage, "plan: unknown subcommand "
	    "\"%s\"", argv[1]);
}
