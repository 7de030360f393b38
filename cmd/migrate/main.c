/*
 * migrate(1): dispatch to one verb.  Each verb lives in cmd_<verb>.c and
 * owns its option parsing; this file only routes and prints help.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "migrate/error.h"
#include "migrate/plan.h"

#include "cmd.h"

/* Only verbs that work are registered (see migrate(1)). */
static const struct cmd commands[] = {
	{ "run", cmd_run, "execute a plan: land its source in the lake",
	    cmd_run_usage, cmd_run_options },
	{ "verify", cmd_verify, "check a landed run or any BagIt bag",
	    cmd_verify_usage, cmd_verify_options },
	{ "restore", cmd_restore, "bring a landed run back to plaintext",
	    cmd_restore_usage, cmd_restore_options },
	{ "runs", cmd_runs, "list the runs of a plan in the lake",
	    cmd_runs_usage, cmd_runs_options },
	{ "plan", cmd_plan, "check a plan (preflight) or write a starter plan",
	    cmd_plan_usage, cmd_plan_options },
	{ "audit", cmd_audit, "review and verify the audit trail",
	    cmd_audit_usage, cmd_audit_options },
	{ "keygen", cmd_keygen, "generate an age identity or a signing key",
	    cmd_keygen_usage, cmd_keygen_options },
	{ "encrypt", cmd_encrypt, "encrypt a file with age (v1)",
	    cmd_encrypt_usage, cmd_encrypt_options },
	{ "decrypt", cmd_decrypt, "decrypt an age file", cmd_decrypt_usage,
	    cmd_decrypt_options },
};

static const char *const main_usage[] = {
	"migrate [--version] [--help] [-v | -q] COMMAND [ARGS]",
	"migrate help COMMAND",
	NULL
};

void
cmd_print_usage(FILE *fp, const char *const *usage)
{
	size_t i;

	for (i = 0; usage[i] != NULL; i++)
		fprintf(fp, "%s%s\n", i == 0 ? "usage: " : "       ",
		    usage[i]);
}

int
cmd_help(const char *const *usage)
{
	cmd_print_usage(stdout, usage);
	return EXIT_OK;
}

int
cmd_bad_usage(const char *const *usage, const char *fmt, ...)
{
	va_list ap;

	if (fmt != NULL) {
		fputs("migrate: ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	cmd_print_usage(stderr, usage);
	return EXIT_USAGE;
}

int
cmd_fail(struct mig_ctx *ctx, int rc)
{
	fprintf(stderr, "migrate: %s\n", mig_errmsg(ctx));
	return mig_exit_status(rc);
}

void
cmd_warn(const char *fmt, ...)
{
	va_list ap;

	fputs("migrate: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
print_main_help(FILE *fp)
{
	size_t i;

	cmd_print_usage(fp, main_usage);
	fputs("\nSecure data migration into a data lake: checksums (SHA-256),\n"
	    "compression (zstd), age encryption, BagIt bags and a\n"
	    "tamper-evident audit trail, driven by one plan file.\n\n"
	    "Commands:\n", fp);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(fp, "  %-10s %s\n", commands[i].name,
		    commands[i].summary);
	fputs("\nOptions (-v and -q also go after any COMMAND):\n"
	    "  -v, --verbose  say more about what is done (to stderr)\n"
	    "  -q, --quiet    say nothing but errors and warnings\n"
	    "  -V, --version  print the version\n"
	    "  -h, --help     this help; migrate help COMMAND (or migrate "
	    "COMMAND --help)\n"
	    "                 describes each option of COMMAND\n", fp);
	fputs("\nExit status: 0 success, 1 runtime failure, 2 usage error or"
	    " invalid plan,\n3 verification failed, 4 partial (a re-run"
	    " resumes).\n"
	    "See migrate(1), migrate-plan(5) and migrate-audit(5).\n", fp);
}

static const struct cmd *
find_command(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* "unknown command", with the command it was probably meant to be. */
static int
unknown_command(const char *name)
{
	const char *cands[sizeof(commands) / sizeof(commands[0]) + 1];
	const char *hint;
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		cands[i] = commands[i].name;
	cands[i++] = "help";
	if ((hint = mig_did_you_mean(name, cands, i)) != NULL)
		return cmd_bad_usage(main_usage, "unknown command \"%s\" (did "
		    "you mean \"%s\"?)", name, hint);
	return cmd_bad_usage(main_usage, "unknown command \"%s\" (see "
	    "migrate --help)", name);
}

/*
 * The options before COMMAND: -v, -q, --help, --version.  Returns the
 * index of COMMAND, or -1 with *statusp set when main is done.  Parsed
 * by hand: glibc's getopt keeps the ordering of its first optstring
 * (a "+" here) for every later call, and each verb's getopt permutes.
 */
static int
main_options(int argc, char **argv, int *statusp)
{
	static const char *const longs[] = { "verbose", "quiet", "version",
	    "help" };
	const char *a, *hint;
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		a = argv[i];
		if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0)
			cmd_set_verbosity('v');
		else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0)
			cmd_set_verbosity('q');
		else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
			printf("migrate %s\n", MIG_VERSION);
			*statusp = EXIT_OK;
			return -1;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			print_main_help(stdout);
			*statusp = EXIT_OK;
			return -1;
		} else {
			hint = strncmp(a, "--", 2) == 0 ? mig_did_you_mean(a + 2,
			    longs, 4) : NULL;
			if (hint != NULL)
				*statusp = cmd_bad_usage(main_usage, "unknown "
				    "option %s (did you mean --%s?)", a, hint);
			else
				*statusp = cmd_bad_usage(main_usage, "unknown "
				    "option %s", a);
			return -1;
		}
	}
	if (i >= argc) {
		*statusp = cmd_bad_usage(main_usage, "no command given");
		return -1;
	}
	return i;
}

/* Make sure fds 0-2 are open so that no file we open becomes stdout. */
static void
check_fds(void)
{
	int fd;

	for (;;) {
		fd = open("/dev/null", O_RDWR);
		if (fd < 0)
			break;
		if (fd > 2) {
			close(fd);
			break;
		}
	}
}

int
main(int argc, char **argv)
{
	const struct cmd *cmd;
	struct mig_ctx *ctx;
	int status, ci;

	check_fds();
	/* Every verb reports its own option errors (cmd_bad_option). */
	opterr = 0;
	if ((ci = main_options(argc, argv, &status)) < 0)
		return status;
	argc -= ci;
	argv += ci;
	if (strcmp(argv[0], "help") == 0) {
		if (argc < 2) {
			print_main_help(stdout);
			return EXIT_OK;
		}
		cmd = find_command(argv[1]);
		if (cmd == NULL)
			return unknown_command(argv[1]);
		return cmd_help_options(cmd->usage, cmd->options);
	}
	cmd = find_command(argv[0]);
	if (cmd == NULL && strcmp(argv[0], "__complete") == 0)
		return cmd_complete(argc, argv, NULL);
	if (cmd == NULL)
		return unknown_command(argv[0]);
	ctx = mig_ctx_new();
	if (ctx == NULL) {
		fprintf(stderr, "migrate: %s\n", strerror(ENOMEM));
		return EXIT_RUNTIME;
	}
	/*
	 * Every verb may hold a secret before it prints a line: keys,
	 * passphrases, the plan's credentials, plaintext.  None of it may
	 * reach a core file.
	 */
	if ((status = cmd_no_core_dumps(ctx)) != 0)
		status = cmd_fail(ctx, status);
	else
		status = cmd->fn(argc, argv, ctx);
	mig_ctx_free(ctx);
	if (fflush(stdout) != 0 && status == EXIT_OK) {
		fprintf(stderr, "migrate: write error on stdout: %s\n",
		    strerror(errno));
		status = EXIT_RUNTIME;
	}
	return status;
}
