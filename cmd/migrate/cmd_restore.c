/*
 * migrate restore PLAN --run ID -i IDENTITY --to DIR [--overwrite] [PATH...]
 */
#include <sys/stat.h>

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/age.h"
#include "migrate/error.h"
#include "migrate/plan.h"
#include "migrate/run.h"
#include "migrate/sign.h"
#include "migrate/transport.h"

#include "cmd.h"

const char *const cmd_restore_usage[] = {
	"migrate restore PLAN --run ID (-i IDENTITY | -p) --to DIR [--overwrite]",
	"                [--key PUB] [PATH...]",
	NULL
};

const char *const cmd_restore_options[] = {
	"    --run ID         the run to restore: an id, a unique prefix or "
	    "suffix, latest",
	"-i, --identity FILE  an age identity to decrypt with",
	"-p, --passphrase     decrypt with the plan's passphrase (asked, or "
	    "its variable)",
	"    --to DIR         where the files go (created 0700; files that "
	    "match are kept)",
	"    --overwrite      replace files under DIR that differ from the "
	    "snapshot",
	"    --key PUB        the audit public key that checks seals",
	NULL
};

#define MAX_IDENTITIES	16

int
cmd_restore(int argc, char **argv, struct mig_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "run", required_argument, NULL, 'r' },
		{ "identity", required_argument, NULL, 'i' },
		{ "passphrase", no_argument, NULL, 'p' },
		{ "to", required_argument, NULL, 't' },
		{ "key", required_argument, NULL, 'k' },
		{ "overwrite", no_argument, NULL, 'O' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct mig_restore_opts o;
	struct mig_transport_config tcfg;
	struct mig_plan *plan = NULL;
	struct mig_age_identities *ids = NULL;
	char *idfiles[MAX_IDENTITIES];
	struct cmd_testhook *th = NULL;
	struct mig_sign_key *pub = NULL;
	const char *keyfile = NULL;
	bool pass = false;
	size_t nid = 0;
	struct mig_restore_summary sum;
	int c, r, status;

	memset(&o, 0, sizeof(o));
	optind = 1;
	while ((c = getopt_long(argc, argv, ":hi:pvq", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			o.run_id = optarg;
			break;
		case 'i':
			if (nid == MAX_IDENTITIES)
				return cmd_bad_usage(cmd_restore_usage,
				    "at most %d identities", MAX_IDENTITIES);
			idfiles[nid++] = optarg;
			break;
		case 'p':
			pass = true;
			break;
		case 't':
			o.to = optarg;
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 'O':
			o.overwrite = true;
			break;
		case 'v':
		case 'q':
			cmd_set_verbosity(c);
			break;
		case 'h':
			return cmd_help_options(cmd_restore_usage,
			    cmd_restore_options);
		default:
			return cmd_bad_option(c, argv, longopts,
			    cmd_restore_usage);
		}
	}
	if (optind >= argc)
		return cmd_bad_usage(cmd_restore_usage,
		    "restore: expected a PLAN");
	/* What follows the plan selects paths of the snapshot. */
	if (optind + 1 < argc)
		o.paths = argv + optind + 1;
	if (o.run_id == NULL || o.to == NULL || (nid == 0 && !pass))
		return cmd_bad_usage(cmd_restore_usage, "restore needs --run "
		    "ID, an identity (-i FILE or -p) and --to DIR");
	if ((r = cmd_load_plan(argv[optind], ctx, &plan)) != 0 ||
	    (r = cmd_transport_config(plan, &tcfg, ctx)) != 0 ||
	    (r = cmd_identities(idfiles, nid, pass, NULL, plan, ctx,
	    &ids)) != 0 ||
	    (r = cmd_seal_pub(keyfile, plan, ctx, &pub)) != 0)
		goto out;
	o.seal_pub = pub;
	o.plan = plan;
	o.tcfg = &tcfg;
	o.identities = ids;
	/*
	 * Restored modes lose the umask's bits.  Reading it means setting it,
	 * so it is read here, once, and handed to the library, which keeps
	 * its hands off process state.
	 */
	o.umask = umask(0);
	(void)umask(o.umask);
	th = cmd_testhook_new();
	o.hook = cmd_testhook_get(th);
	r = mig_restore_run(&o, &sum, ctx);
	if (r == 0) {
		printf("restored %llu file%s of run %s into %s",
		    (unsigned long long)sum.restored, sum.restored == 1 ? "" :
		    "s", sum.run_id, o.to);
		if (sum.already > 0)
			printf("; %llu already as in the snapshot",
			    (unsigned long long)sum.already);
		putchar('\n');
	}
out:
	status = r == 0 ? EXIT_OK : cmd_fail(ctx, r);
	mig_age_identities_free(ids);
	mig_plan_free(plan);
	mig_sign_key_free(pub);
	cmd_testhook_free(th);
	return status;
}
