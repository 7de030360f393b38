/*
 * audit-gen: writes audit records through lib/audit, for the integration
 * tests and the benchmark (until `migrate run' writes real logs).
 *
 *   audit-gen keygen KEY                 Ed25519 key pair KEY, KEY.pub
 *   audit-gen LOG N [-k KEY] [-e EVERY] [-r RUN] [-a ACTOR] [-p PLAN]
 *                                         one run: run.start, N-2 object
 *                                         events (every 50th a failure),
 *                                         run.end and a final checkpoint
 *
 * Built by the scripts against build/libmigrate.a:
 *   cc -Iinclude tests/tools/audit-gen.c build/libmigrate.a -ljansson ...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "migrate/audit.h"
#include "migrate/error.h"
#include "migrate/sign.h"

static int
die(struct mig_ctx *ctx, int rc)
{
	fprintf(stderr, "audit-gen: %s\n", mig_errmsg(ctx));
	mig_ctx_free(ctx);
	exit(rc == MIG_ERR_USAGE ? 2 : 1);
}

int
main(int argc, char **argv)
{
	struct mig_audit_opts o;
	struct mig_audit_log *log = NULL;
	struct mig_sign_key *key = NULL;
	struct mig_ctx *ctx;
	const char *keypath = NULL, *run = "20261125T190705Z-1a2b3c4d";
	char head[MIG_AUDIT_HEXLEN + 1], obj[64];
	unsigned long n, i;
	json_t *f;
	int c, rc;

	ctx = mig_ctx_new();
	if (ctx == NULL)
		return 1;
	memset(&o, 0, sizeof(o));
	o.plan = "bench";
	o.actor = "tester@localhost";
	if (argc == 3 && strcmp(argv[1], "keygen") == 0) {
		if ((rc = mig_sign_keygen(argv[2], ctx)) != 0)
			return die(ctx, rc);
		mig_ctx_free(ctx);
		return 0;
	}
	if (argc < 3) {
		fprintf(stderr, "usage: audit-gen keygen KEY\n"
		    "       audit-gen LOG N [-k KEY] [-e EVERY] [-r RUN] "
		    "[-a ACTOR] [-p PLAN]\n");
		mig_ctx_free(ctx);
		return 2;
	}
	n = strtoul(argv[2], NULL, 10);
	optind = 3;
	while ((c = getopt(argc, argv, "k:e:r:a:p:")) != -1) {
		switch (c) {
		case 'k': keypath = optarg; break;
		case 'e': o.checkpoint_every = (unsigned)atoi(optarg); break;
		case 'r': run = optarg; break;
		case 'a': o.actor = optarg; break;
		case 'p': o.plan = optarg; break;
		default: return 2;
		}
	}
	if (keypath != NULL) {
		if ((rc = mig_sign_key_load(keypath, ctx, &key)) != 0)
			return die(ctx, rc);
		o.key = key;
	}
	if ((rc = mig_audit_open(argv[1], &o, ctx, &log)) != 0)
		return die(ctx, rc);
	if ((rc = mig_audit_emit(log, run, MIG_AUDIT_RUN_START, NULL,
	    ctx)) != 0)
		return die(ctx, rc);
	for (i = 1; i + 2 <= n; i++) {
		(void)snprintf(obj, sizeof(obj), "data/part-%06lu.csv", i);
		if (i % 50 == 0)
			f = json_pack("{s:s, s:s, s:s}", "object", obj,
			    "outcome", "failed", "reason", "connection reset");
		else
			f = json_pack("{s:s, s:I, s:s, s:s}", "object", obj,
			    "bytes", (json_int_t)(i * 1000),
			    "sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41"
			    "e4649b934ca495991b7852b855", "outcome", "stored");
		rc = mig_audit_emit(log, run, i % 50 == 0 ?
		    MIG_AUDIT_OBJ_FAILED : MIG_AUDIT_OBJ_STORED, f, ctx);
		json_decref(f);
		if (rc != 0)
			return die(ctx, rc);
	}
	if ((rc = mig_audit_emit(log, run, MIG_AUDIT_RUN_END, NULL,
	    ctx)) != 0 ||
	    (rc = mig_audit_checkpoint(log, run, head, ctx)) != 0)
		return die(ctx, rc);
	if ((rc = mig_audit_close(log, ctx)) != 0)
		return die(ctx, rc);
	printf("%s\n", head);
	mig_sign_key_free(key);
	mig_ctx_free(ctx);
	return 0;
}
