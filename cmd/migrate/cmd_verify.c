/*
 * migrate verify (PLAN [--run ID] | BAGDIR) [--deep -i IDENTITY] [--json]
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "migrate/age.h"
#include "migrate/error.h"
#include "migrate/plan.h"
#include "migrate/run.h"
#include "migrate/sign.h"
#include "migrate/transport.h"

#include "cmd.h"

const char *const cmd_verify_usage[] = {
	"migrate verify PLAN [--run ID] [--deep -i IDENTITY] [--key PUB] [--json]",
	"migrate verify PLAN --against-source [--run ID] [-i IDENTITY] [--json]",
	"migrate verify BAGDIR [--key PUB] [--json]",
	NULL
};

const char *const cmd_verify_options[] = {
	"    --run ID         the run to check: an id, a unique prefix or "
	    "suffix, latest",
	"    --deep           also decrypt every object and check its "
	    "plaintext",
	"    --against-source compare the source now with the run's snapshot",
	"-i, --identity FILE  the age identity --deep or --against-source "
	    "decrypts with",
	"    --key PUB        the audit public key that checks seals",
	"    --json           stdout: one JSON document with the findings",
	NULL
};

#define MAX_IDENTITIES	16

static const char *const kind_names[] = {
	[MIG_FIND_MISSING] = "missing",
	[MIG_FIND_EXTRA] = "extra",
	[MIG_FIND_ALTERED] = "altered",
	[MIG_FIND_TRUNCATED] = "truncated",
	[MIG_FIND_INCOMPLETE] = "incomplete",
	[MIG_FIND_FORMAT] = "format",
	[MIG_FIND_AUDIT] = "audit",
	[MIG_FIND_PLAINTEXT] = "plaintext",
};

struct verify_ui {
	bool	 json;
	json_t	*findings;
};

static void
on_finding(void *arg, enum mig_finding_kind kind, const char *path,
    const char *detail)
{
	struct verify_ui *ui = arg;

	if (ui->json)
		json_array_append_new(ui->findings, json_pack("{s:s, s:s, s:s}",
		    "kind", kind_names[kind], "path", path, "detail", detail));
	else
		printf("%-10s %s: %s\n", kind_names[kind], path, detail);
}

int
cmd_verify(int argc, char **argv, struct mig_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "run", required_argument, NULL, 'r' },
		{ "deep", no_argument, NULL, 'd' },
		{ "against-source", no_argument, NULL, 'S' },
		{ "identity", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'J' },
		{ "key", required_argument, NULL, 'k' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct mig_verify_opts o;
	struct mig_sign_key *pub = NULL;
	const char *keyfile = NULL;
	struct mig_verify_summary sum;
	struct mig_transport_config tcfg;
	struct mig_plan *plan = NULL;
	struct mig_age_identities *ids = NULL;
	struct verify_ui ui = { false, NULL };
	struct cmd_testhook *th = NULL;
	char *idfiles[MAX_IDENTITIES];
	size_t nid = 0;
	struct stat st;
	int c, r, status;

	memset(&o, 0, sizeof(o));
	memset(&sum, 0, sizeof(sum));
	optind = 1;
	while ((c = getopt_long(argc, argv, ":hi:vq", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			o.run_id = optarg;
			break;
		case 'd':
			o.deep = true;
			break;
		case 'S':
			o.against_source = true;
			break;
		case 'i':
			if (nid == MAX_IDENTITIES)
				return cmd_bad_usage(cmd_verify_usage,
				    "at most %d identities", MAX_IDENTITIES);
			idfiles[nid++] = optarg;
			break;
		case 'J':
			ui.json = true;
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 'v':
		case 'q':
			cmd_set_verbosity(c);
			break;
		case 'h':
			return cmd_help_options(cmd_verify_usage,
			    cmd_verify_options);
		default:
			return cmd_bad_option(c, argv, longopts,
			    cmd_verify_usage);
		}
	}
	if (optind != argc - 1)
		return cmd_bad_usage(cmd_verify_usage,
		    "verify: expected one PLAN or BAGDIR");
	if (nid > 0 && !o.deep && !o.against_source)
		return cmd_bad_usage(cmd_verify_usage, "-i only goes with "
		    "--deep or --against-source (the default check needs no "
		    "key)");
	if (o.deep && o.against_source)
		return cmd_bad_usage(cmd_verify_usage, "--deep and "
		    "--against-source are two checks: run them one by one");
	if (ui.json && (ui.findings = json_array()) == NULL)
		return cmd_fail(ctx, mig_seterr(ctx, MIG_ERR_NOMEM,
		    "out of memory"));
	o.finding = on_finding;
	o.arg = &ui;
	if (stat(argv[optind], &st) == 0 && S_ISDIR(st.st_mode)) {
		if (o.deep || o.run_id != NULL || o.against_source) {
			json_decref(ui.findings);
			return cmd_bad_usage(cmd_verify_usage, "a bag "
			    "directory is checked without --run, --deep or "
			    "--against-source");
		}
		o.bag_dir = argv[optind];
		if ((r = cmd_seal_pub(keyfile, NULL, ctx, &pub)) != 0)
			goto out;
	} else {
		if ((r = cmd_load_plan(argv[optind], ctx, &plan)) != 0 ||
		    (r = cmd_transport_config(plan, &tcfg, ctx)) != 0)
			goto out;
		/* verify has no -p: a plan's passphrase comes from its variable. */
		if (o.deep && nid == 0 && plan->passphrase_env == NULL) {
			r = mig_seterr(ctx, MIG_ERR_USAGE, "verify --deep "
			    "decrypts every object: give the identity with -i "
			    "FILE");
			goto out;
		}
		if ((o.deep || nid > 0) && (r = cmd_identities(idfiles, nid,
		    false, NULL, plan, ctx, &ids)) != 0)
			goto out;
		if ((r = cmd_seal_pub(keyfile, plan, ctx, &pub)) != 0)
			goto out;
		o.plan = plan;
		o.tcfg = &tcfg;
		o.identities = ids;
	}
	o.seal_pub = pub;
	th = cmd_testhook_new();
	o.hook = cmd_testhook_get(th);
	r = mig_verify_run(&o, &sum, ctx);
out:
	if (ui.json && (r == 0 || r == MIG_ERR_VERIFY || r == MIG_ERR_FORMAT)) {
		json_t *doc = json_pack("{s:s, s:s?, s:s?, s:s, s:i, s:I, s:I,"
		    " s:I, s:b, s:b, s:o}", "outcome", r == 0 ? "ok" : "failed",
		    "run", sum.run_id[0] != '\0' ? sum.run_id : NULL,
		    "run_dir", sum.run_dir != NULL ? sum.run_dir : o.bag_dir,
		    "bagit_version", sum.bag_version, "shards", sum.shards,
		    "objects",
		    (json_int_t)sum.objects, "bytes", (json_int_t)sum.bytes,
		    "deep_objects", (json_int_t)sum.deep_objects, "deep",
		    o.deep, "audit_head_ok", sum.audit_head_ok, "findings",
		    ui.findings);

		json_object_set_new(doc, "on_record", json_boolean(
		    sum.on_record));
		json_object_set_new(doc, "sealed", json_boolean(sum.sealed));
		json_object_set_new(doc, "against_source", json_boolean(
		    o.against_source));

		ui.findings = NULL;
		json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(doc);
	} else if (r == 0 && o.against_source) {
		printf("ok: the source matches the snapshot of run %s: %llu "
		    "files, %llu bytes read and hashed\n", sum.run_id,
		    (unsigned long long)sum.objects,
		    (unsigned long long)sum.bytes);
	} else if (r == 0) {
		char shards[32] = "", deep[96] = "";

		if (sum.shards > 0)
			(void)snprintf(shards, sizeof(shards), " (%d shards)",
			    sum.shards);
		/* The snapshot may hold more files than this run's bag. */
		if (o.deep)
			(void)snprintf(deep, sizeof(deep), ", every object "
			    "decrypted and checked (%llu files of the snapshot)",
			    (unsigned long long)sum.deep_objects);
		printf("ok: %s%s%s: %llu objects, %llu bytes, BagIt %s%s%s%s\n",
		    sum.run_id[0] != '\0' ? "run " : "",
		    sum.run_id[0] != '\0' ? sum.run_id : o.bag_dir,
		    shards, (unsigned long long)sum.objects,
		    (unsigned long long)sum.bytes, sum.bag_version,
		    plan != NULL ? ", as on record in the audit log" : "",
		    sum.sealed ? ", seal verified" : "", deep);
		if (pub == NULL)
			cmd_warn("note: %s", plan != NULL ? "runs of this plan "
			    "are not sealed (no [audit] signing_key): they are "
			    "checked against accidents and the audit log, not "
			    "against someone who can write to the lake and the "
			    "log" : "no --key: the bag's seal, if any, was not "
			    "checked; BagIt checks only catch accidents");
	}
	json_decref(ui.findings);
	status = r == 0 ? EXIT_OK : cmd_fail(ctx, r);
	mig_verify_summary_free(&sum);
	mig_age_identities_free(ids);
	mig_plan_free(plan);
	mig_sign_key_free(pub);
	cmd_testhook_free(th);
	return status;
}
