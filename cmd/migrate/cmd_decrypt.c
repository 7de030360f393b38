/*
 * migrate decrypt: age v1 decryption with identity files or a
 * passphrase.  Written to a file, the output appears only after the final
 * chunk authenticated: its temporary is renamed into place only after the
 * stream closed, and is removed otherwise, also when a signal (INT,
 * TERM, ...) ends the process (see cmd_age_open_output).
 */
#include <sys/types.h>

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#include "migrate/age.h"
#include "migrate/error.h"
#include "migrate/stream.h"

#include "cmd.h"

const char *const cmd_decrypt_usage[] = {
	"migrate decrypt (-i IDENTITY ... | -p) [-o OUT] [IN]",
	"migrate decrypt -p [--passphrase-env VAR] [-o OUT] [IN]",
	NULL
};

const char *const cmd_decrypt_options[] = {
	"-i, --identity FILE      an age identity file (repeatable)",
	"-p, --passphrase         the file was encrypted with a passphrase "
	    "(asked)",
	"    --passphrase-env VAR with -p: the passphrase is in variable VAR",
	"-o, --output OUT         write to OUT, once all of it authenticated "
	    "(default: stdout)",
	NULL
};

static int
collect_identities(const struct cmd_age_args *a,
    struct mig_age_identities *ids, struct mig_ctx *ctx)
{
	char *pw = NULL;
	size_t i, pwlen = 0;
	int rc = 0;

	for (i = 0; i < a->nkeys && rc == 0; i++)
		rc = mig_age_identities_load(ids, a->keys[i], ctx);
	if (rc == 0 && a->pass && (rc = cmd_age_passphrase(a->passenv, false,
	    &pw, &pwlen, ctx)) == 0)
		rc = mig_age_identities_add_passphrase(ids, pw, pwlen, ctx);
	cmd_age_passphrase_free(pw);
	return rc == MIG_ERR_NOTFOUND ? MIG_ERR_USAGE : rc;
}

int
cmd_decrypt(int argc, char **argv, struct mig_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "identity", required_argument, NULL, 'i' },
		{ "passphrase", no_argument, NULL, 'p' },
		{ "passphrase-env", required_argument, NULL, 'E' },
		{ "output", required_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct cmd_age_args a;
	struct cmd_age_output out;
	struct mig_age_identities *ids = NULL;
	struct mig_reader *in = NULL, *r = NULL;
	int rc, status;

	memset(&out, 0, sizeof(out));
	out.fd = out.dirfd = out.slot = -1;
	if ((status = cmd_age_parse(argc, argv, "decrypt", ":i:po:hvq",
	    longopts, cmd_decrypt_usage, cmd_decrypt_options, &a, ctx)) >= 0)
		goto out_free;
	status = EXIT_OK;
	if (a.nkeys == 0 && !a.pass) {
		status = cmd_bad_usage(cmd_decrypt_usage,
		    "decrypt: give -i IDENTITY or -p");
		goto out_free;
	}
	if ((ids = mig_age_identities_new()) == NULL)
		rc = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	else if ((rc = collect_identities(&a, ids, ctx)) == 0 &&
	    (rc = cmd_age_open_input(a.in, ctx, &in)) == 0 &&
	    (rc = cmd_age_open_output(a.out, 0600, ctx, &out)) == 0 &&
	    (rc = mig_age_decrypt_reader_new(ids, in, ctx, &r)) == 0 &&
	    (rc = mig_age_reader_set_threads(r, cmd_age_threads())) == 0) {
		if ((rc = mig_stream_copy(r, out.w, NULL)) == 0)
			rc = cmd_age_publish_output(&out, a.out, ctx);
		else if (rc == MIG_ERR_VERIFY || rc == MIG_ERR_NOKEY ||
		    rc == MIG_ERR_SECURITY || rc == MIG_ERR_CRYPTO)
			/* The age layer does not know the file's name. */
			(void)mig_preferr(ctx, "%s", a.in == NULL ||
			    strcmp(a.in, "-") == 0 ? "stdin" : a.in);
	}
	if (rc != 0)
		status = cmd_fail(ctx, rc);
out_free:
	/* An output not published is removed. */
	cmd_age_close_output(&out);
	mig_reader_free(r);
	mig_reader_free(in);
	mig_age_identities_free(ids);
	cmd_age_args_free(&a);
	return status;
}
