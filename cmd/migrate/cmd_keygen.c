/*
 * migrate keygen: a new age X25519 identity (like age-keygen), or with
 * --signing an Ed25519 key pair for signed audit checkpoints.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "migrate/age.h"
#include "migrate/error.h"
#include "migrate/sign.h"

#include "cmd.h"

const char *const cmd_keygen_usage[] = {
	"migrate keygen [-o FILE]",
	"migrate keygen --signing -o FILE",
	NULL
};

int
cmd_keygen(int argc, char **argv, struct mig_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "signing", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *out = NULL;
	char *text = NULL, *recipient = NULL;
	bool signing = false;
	int c, rc, status = EXIT_OK;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 's':
			signing = true;
			break;
		case 'h':
			return cmd_help(cmd_keygen_usage);
		default:
			return cmd_bad_usage(cmd_keygen_usage, NULL);
		}
	}
	if (optind != argc)
		return cmd_bad_usage(cmd_keygen_usage,
		    "keygen: unexpected argument \"%s\"", argv[optind]);
	if (signing) {
		if (out == NULL)
			return cmd_bad_usage(cmd_keygen_usage,
			    "keygen: --signing needs -o FILE");
		if ((rc = mig_sign_keygen(out, ctx)) != 0)
			return cmd_fail(ctx, rc);
		fprintf(stderr, "Public key: %s.pub\n", out);
		return EXIT_OK;
	}
	if (out != NULL) {
		if ((rc = mig_age_keygen_file(out, &recipient, ctx)) != 0)
			return cmd_fail(ctx, rc);
		fprintf(stderr, "Public key: %s\n", recipient);
		free(recipient);
		return EXIT_OK;
	}
	if ((rc = mig_age_keygen_text(&text, &recipient, ctx)) != 0)
		return cmd_fail(ctx, rc);
	if (fputs(text, stdout) == EOF || fflush(stdout) != 0)
		status = cmd_fail(ctx, mig_seterr(ctx, MIG_ERR_IO,
		    "keygen: write error on stdout"));
	OPENSSL_cleanse(text, strlen(text));
	free(text);
	free(recipient);
	return status;
}
