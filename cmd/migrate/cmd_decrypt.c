/*
 * migrate decrypt: age v1 decryption with identity files or a
 * passphrase.  Written to a file, the output appears only after the final
 * chunk authenticated: the file sink renames its temporary on close, and
 * a failed decryption frees it unclosed, which removes the temporary.
 */
#include <sys/types.h>

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "migrate/age.h"
#include "migrate/error.h"
#include "migrate/stream.h"

#include "cmd.h"

const char *const cmd_decrypt_usage[] = {
	"migrate decrypt (-i IDENTITY ... | -p) [-o OUT] [IN]",
	"migrate decrypt -p [--passphrase-env VAR] [-o OUT] [IN]",
	NULL
};

static int
collect_identities(char **files, size_t n, bool pass, const char *passenv,
    struct mig_age_identities *ids, struct mig_ctx *ctx)
{
	char *pw = NULL;
	size_t i, pwlen = 0;
	int rc = 0;

	for (i = 0; i < n && rc == 0; i++)
		rc = mig_age_identities_load(ids, files[i], ctx);
	if (rc == 0 && pass) {
		if ((rc = cmd_age_passphrase(passenv, false, &pw, &pwlen,
		    ctx)) == 0)
			rc = mig_age_identities_add_passphrase(ids, pw, pwlen,
			    ctx);
		if (pw != NULL) {
			OPENSSL_cleanse(pw, pwlen);
			free(pw);
		}
	}
	return rc;
}

int
cmd_decrypt(int argc, char **argv, struct mig_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "identity", required_argument, NULL, 'i' },
		{ "passphrase", no_argument, NULL, 'p' },
		{ "passphrase-env", required_argument, NULL, 'E' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct mig_age_identities *ids = NULL;
	struct mig_reader *in = NULL, *r = NULL;
	struct mig_writer *sink = NULL;
	const char *out = NULL, *passenv = NULL, *inpath = NULL;
	char **files;
	size_t nf = 0;
	bool pass = false;
	int c, rc, outfd = -1, status = EXIT_OK;

	if ((files = calloc((size_t)argc + 1, sizeof(*files))) == NULL) {
		status = cmd_fail(ctx, mig_seterr(ctx, MIG_ERR_NOMEM,
		    "out of memory"));
		goto out_free;
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, "i:po:h", longopts,
	    NULL)) != -1) {
		switch (c) {
		case 'i':
			files[nf++] = optarg;
			break;
		case 'p':
			pass = true;
			break;
		case 'E':
			pass = true;
			passenv = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'h':
			status = cmd_help(cmd_decrypt_usage);
			goto out_free;
		default:
			status = cmd_bad_usage(cmd_decrypt_usage, NULL);
			goto out_free;
		}
	}
	if (argc - optind > 1) {
		status = cmd_bad_usage(cmd_decrypt_usage,
		    "decrypt: at most one input file");
		goto out_free;
	}
	if (optind < argc)
		inpath = argv[optind];
	if (nf == 0 && !pass) {
		status = cmd_bad_usage(cmd_decrypt_usage,
		    "decrypt: give -i IDENTITY or -p");
		goto out_free;
	}
	if ((ids = mig_age_identities_new()) == NULL) {
		status = cmd_fail(ctx, mig_seterr(ctx, MIG_ERR_NOMEM,
		    "out of memory"));
		goto out_free;
	}
	if ((rc = collect_identities(files, nf, pass, passenv, ids,
	    ctx)) != 0) {
		if (rc == MIG_ERR_NOTFOUND)
			rc = MIG_ERR_USAGE;
		status = cmd_fail(ctx, rc);
		goto out_free;
	}
	if ((rc = cmd_age_open_input(inpath, ctx, &in)) != 0 ||
	    (rc = cmd_age_open_output(out, 0600, ctx, &sink, &outfd)) != 0 ||
	    (rc = mig_age_decrypt_reader_new(ids, in, ctx, &r)) != 0 ||
	    (rc = mig_age_reader_set_threads(r, cmd_age_threads())) != 0) {
		status = cmd_fail(ctx, rc);
		goto out_free;
	}
	if ((rc = mig_stream_copy(r, sink, NULL)) != 0) {
		/* The age layer does not know the file's name. */
		if (rc == MIG_ERR_VERIFY || rc == MIG_ERR_NOKEY ||
		    rc == MIG_ERR_SECURITY || rc == MIG_ERR_CRYPTO)
			(void)mig_preferr(ctx, "%s", inpath == NULL ||
			    strcmp(inpath, "-") == 0 ? "stdin" : inpath);
		status = cmd_fail(ctx, rc);
	}
out_free:
	mig_writer_free(sink);
	mig_reader_free(r);
	mig_reader_free(in);
	if (outfd >= 0)
		close(outfd);
	mig_age_identities_free(ids);
	free(files);
	return status;
}
