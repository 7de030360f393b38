/*
 * migrate(1): dispatch to one verb.  Each verb lives in cmd_<verb>.c and
 * owns its option parsing; this file only routes and prints help.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "migrate/error.h"

#include "cmd.h"

/* Only verbs that work are registered (see migrate(1)). */
static const struct cmd commands[] = {
	{ "run", cmd_run, "execute a plan: land its source in the lake",
	    cmd_run_usage },
	{ "verify", cmd_verify, "check a landed run or any BagIt bag",
	    cmd_verify_usage },
	{ "restore", cmd_restore, "bring a landed run back to plaintext",
	    cmd_restore_usage },
	{ "runs", cmd_runs, "list the runs of a plan in the lake",
	    cmd_runs_usage },
	{ "plan", cmd_plan, "check a plan and print its pipeline",
	    cmd_plan_usage },
	{ "audit", cmd_audit, "review and verify the audit trail",
	    cmd_audit_usage },
	{ "keygen", cmd_keygen, "generate an age identity or a signing key",
	    cmd_keygen_usage },
	{ "encrypt", cmd_encrypt, "encrypt a file with age (v1)",
	    cmd_encrypt_usage },
	{ "decrypt", cmd_decrypt, "decrypt an age file", cmd_decrypt_usage },
};

static const char *const main_usage[] = {
	"migrate [--version] [--help] COMMAND [ARGS]",
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
	int status;

	check_fds();
	if (argc < 2)
		return cmd_bad_usage(main_usage, "no command given");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		print_main_help(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("migrate %s\n", MIG_VERSION);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "help") == 0) {
		if (argc < 3) {
			print_main_help(stdout);
			return EXIT_OK;
		}
		cmd = find_command(argv[2]);
		if (cmd == NULL)
			return cmd_bad_usage(main_usage,
			    "unknown command \"%s\"", argv[2]);
		return cmd_help(cmd->usage);
	}
	cmd = find_command(argv[1]);
	if (cmd == NULL) {
		if (argv[1][0] == '-')
			return cmd_bad_usage(main_usage, "unknown option %s",
			    argv[1]);
		return cmd_bad_usage(main_usage,
		    "unknown command \"%s\" (see migrate --help)", argv[1]);
	}
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
		status = cmd->fn(argc - 1, argv + 1, ctx);
	mig_ctx_free(ctx);
	if (fflush(stdout) != 0 && status == EXIT_OK) {
		fprintf(stderr, "migrate: write error on stdout: %s\n",
		    strerror(errno));
		status = EXIT_RUNTIME;
	}
	return status;
}
