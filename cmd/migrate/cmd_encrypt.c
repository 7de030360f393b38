/*
 * migrate encrypt: age v1 encryption of one stream to X25519 recipients
 * or a passphrase, interoperable with the age tool.  Also home of what
 * cmd_decrypt.c shares: the passphrase prompt, the option parser and the
 * input/output openers.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "migrate/age.h"
#include "migrate/error.h"
#include "migrate/stream.h"

#include "cmd.h"

const char *const cmd_encrypt_usage[] = {
	"migrate encrypt (-r RECIPIENT ... | -R FILE ... | -p) [-a] [-o OUT] "
	    "[IN]",
	"migrate encrypt -p [--passphrase-env VAR] [-a] [-o OUT] [IN]",
	NULL
};

#define PASS_MAX	1024

/* Reads one line from the terminal fd with echo off. */
static int
tty_read_line(int fd, const char *prompt, char *buf, size_t cap,
    size_t *lenp)
{
	struct termios saved, quiet;
	size_t len = 0;
	ssize_t n;
	char c;
	int rc = 0;

	*lenp = 0;
	if (tcgetattr(fd, &saved) != 0)
		return -1;
	quiet = saved;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ECHONL;
	if (tcsetattr(fd, TCSANOW, &quiet) != 0)
		return -1;
	/* A prompt that fails to show is not worth failing for. */
	n = write(fd, prompt, strlen(prompt));
	(void)n;
	for (;;) {
		n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || c == '\n')
			break;
		if (len + 1 >= cap) {
			rc = -2;
			continue;
		}
		buf[len++] = c;
	}
	(void)tcsetattr(fd, TCSANOW, &saved);
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	buf[len] = '\0';
	*lenp = len;
	return rc;
}

/*
 * Gets a passphrase from the environment variable env, or else from the
 * terminal (/dev/tty, echo off; twice when confirm).  Never from argv.
 * Caller must wipe and free *passp.
 */
int
cmd_age_passphrase(const char *env, bool confirm, char **passp,
    size_t *lenp, struct mig_ctx *ctx)
{
	char *a = NULL, *b = NULL;
	const char *v;
	size_t alen = 0, blen = 0;
	int fd = -1, rc = 0, r;

	*passp = NULL;
	*lenp = 0;
	if ((a = malloc(PASS_MAX)) == NULL || (b = malloc(PASS_MAX)) == NULL) {
		rc = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_free;
	}
	if (env != NULL) {
		if ((v = getenv(env)) == NULL) {
			rc = mig_seterr(ctx, MIG_ERR_USAGE,
			    "passphrase: environment variable %s is not set",
			    env);
			goto out_free;
		}
		alen = strlen(v);
		if (alen >= PASS_MAX) {
			rc = mig_seterr(ctx, MIG_ERR_USAGE,
			    "passphrase: longer than %d bytes", PASS_MAX - 1);
			goto out_free;
		}
		memcpy(a, v, alen + 1);
	} else {
		fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (fd < 0) {
			rc = mig_seterr(ctx, MIG_ERR_USAGE, "passphrase: no "
			    "terminal to ask on (use --passphrase-env VAR)");
			goto out_free;
		}
		r = tty_read_line(fd, "Enter passphrase: ", a, PASS_MAX,
		    &alen);
		if (r == 0 && confirm)
			r = tty_read_line(fd, "Confirm passphrase: ", b,
			    PASS_MAX, &blen);
		if (r == -1) {
			rc = mig_seterr(ctx, MIG_ERR_IO, "passphrase: "
			    "/dev/tty: %s", strerror(errno));
			goto out_free;
		}
		if (r == -2) {
			rc = mig_seterr(ctx, MIG_ERR_USAGE,
			    "passphrase: longer than %d bytes", PASS_MAX - 1);
			goto out_free;
		}
		if (confirm && (alen != blen || memcmp(a, b, alen) != 0)) {
			rc = mig_seterr(ctx, MIG_ERR_USAGE,
			    "passphrases do not match");
			goto out_free;
		}
	}
	if (alen == 0) {
		rc = mig_seterr(ctx, MIG_ERR_USAGE, "empty passphrase");
		goto out_free;
	}
	*passp = a;
	*lenp = alen;
	a = NULL;
out_free:
	if (fd >= 0)
		close(fd);
	if (a != NULL) {
		OPENSSL_cleanse(a, PASS_MAX);
		free(a);
	}
	if (b != NULL) {
		OPENSSL_cleanse(b, PASS_MAX);
		free(b);
	}
	return rc;
}

void
cmd_age_passphrase_free(char *pass)
{
	if (pass != NULL) {
		OPENSSL_cleanse(pass, PASS_MAX);
		free(pass);
	}
}

int
cmd_age_parse(int argc, char **argv, const char *verb,
    const char *shortopts, const struct option *longopts,
    const char *const *usage, struct cmd_age_args *a, struct mig_ctx *ctx)
{
	int c;

	memset(a, 0, sizeof(*a));
	a->keys = calloc((size_t)argc + 1, sizeof(*a->keys));
	a->files = calloc((size_t)argc + 1, sizeof(*a->files));
	if (a->keys == NULL || a->files == NULL)
		return cmd_fail(ctx, mig_seterr(ctx, MIG_ERR_NOMEM,
		    "out of memory"));
	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts, longopts,
	    NULL)) != -1) {
		switch (c) {
		case 'i':
		case 'r':
			a->keys[a->nkeys++] = optarg;
			break;
		case 'R':
			a->files[a->nfiles++] = optarg;
			break;
		case 'E':
			a->passenv = optarg;
			/* FALLTHROUGH */
		case 'p':
			a->pass = true;
			break;
		case 'a':
			a->armor = true;
			break;
		case 'o':
			a->out = optarg;
			break;
		case 'h':
			return cmd_help(usage);
		default:
			return cmd_bad_usage(usage, NULL);
		}
	}
	if (argc - optind > 1)
		return cmd_bad_usage(usage, "%s: at most one input file", verb);
	if (optind < argc)
		a->in = argv[optind];
	return -1;
}

void
cmd_age_args_free(struct cmd_age_args *a)
{
	free(a->keys);
	free(a->files);
	memset(a, 0, sizeof(*a));
}

/*
 * Threads for one age stream: one a CPU, at most 4 (the gain flattens
 * out, and a batch has only 8 chunks to share).
 */
int
cmd_age_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > 4 ? 4 : (int)n;
}

/* Opens IN, or stdin for NULL or "-". */
int
cmd_age_open_input(const char *path, struct mig_ctx *ctx,
    struct mig_reader **rp)
{
	if (path == NULL || strcmp(path, "-") == 0)
		return mig_fd_reader_new(STDIN_FILENO, ctx, rp);
	return mig_file_reader_new(path, true, ctx, rp);
}

/*
 * Opens OUT: stdout for NULL or "-"; a regular file (new or replaced)
 * through the file sink, which publishes it only on a successful close;
 * anything else that exists (a device such as /dev/null, a FIFO) is
 * written in place, since renaming over it would replace the device.
 * *fdp gets a descriptor the caller must close, or -1.
 */
int
cmd_age_open_output(const char *path, mode_t mode, struct mig_ctx *ctx,
    struct mig_writer **wp, int *fdp)
{
	struct stat st;
	int fd, rc;

	*wp = NULL;
	*fdp = -1;
	if (path == NULL || strcmp(path, "-") == 0)
		return mig_fd_writer_new(STDOUT_FILENO, ctx, wp);
	if (stat(path, &st) != 0 || S_ISREG(st.st_mode)) {
		/*
		 * Like age(1), no fsync: this output can simply be made
		 * again; the temporary-then-rename still guarantees that a
		 * failed run leaves no (or the old) file.
		 */
		if ((rc = mig_file_writer_new(path, mode, true, ctx, wp)) != 0)
			return rc;
		return mig_file_writer_set_durable(*wp, false);
	}
	if (S_ISDIR(st.st_mode))
		return mig_seterr(ctx, MIG_ERR_USAGE, "%s: is a directory",
		    path);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return mig_seterr(ctx, MIG_ERR_IO, "%s: %s", path,
		    strerror(errno));
	if ((rc = mig_fd_writer_new(fd, ctx, wp)) != 0) {
		close(fd);
		return rc;
	}
	*fdp = fd;
	return 0;
}

/* Builds the recipient list from the options; 0 or an error code. */
static int
collect_recipients(const struct cmd_age_args *a,
    struct mig_age_recipients *rs, struct mig_ctx *ctx)
{
	char *pw = NULL;
	size_t i, pwlen = 0;
	int rc = 0;

	/* Numbered, not echoed: an identity given as -r is a secret. */
	for (i = 0; i < a->nkeys && rc == 0; i++)
		if ((rc = mig_age_recipients_add(rs, a->keys[i], ctx)) != 0)
			(void)mig_preferr(ctx, "-r #%zu", i + 1);
	for (i = 0; i < a->nfiles && rc == 0; i++)
		rc = mig_age_recipients_load(rs, a->files[i], ctx);
	if (rc == 0 && a->pass && (rc = cmd_age_passphrase(a->passenv, true,
	    &pw, &pwlen, ctx)) == 0)
		rc = mig_age_recipients_add_passphrase(rs, pw, pwlen, 0, ctx);
	cmd_age_passphrase_free(pw);
	return rc == MIG_ERR_NOTFOUND ? MIG_ERR_USAGE : rc;
}

int
cmd_encrypt(int argc, char **argv, struct mig_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "recipient", required_argument, NULL, 'r' },
		{ "recipients-file", required_argument, NULL, 'R' },
		{ "passphrase", no_argument, NULL, 'p' },
		{ "passphrase-env", required_argument, NULL, 'E' },
		{ "armor", no_argument, NULL, 'a' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct cmd_age_args a;
	struct mig_age_recipients *rs = NULL;
	struct mig_reader *in = NULL;
	struct mig_writer *sink = NULL, *w = NULL;
	int rc, outfd = -1, status;

	if ((status = cmd_age_parse(argc, argv, "encrypt", "r:R:pao:h",
	    longopts, cmd_encrypt_usage, &a, ctx)) >= 0)
		goto out_free;
	status = EXIT_OK;
	if (a.nkeys + a.nfiles == 0 && !a.pass) {
		status = cmd_bad_usage(cmd_encrypt_usage,
		    "encrypt: give -r, -R or -p");
		goto out_free;
	}
	if (a.pass && a.nkeys + a.nfiles > 0) {
		status = cmd_bad_usage(cmd_encrypt_usage,
		    "encrypt: -p cannot be combined with -r or -R");
		goto out_free;
	}
	if (a.out == NULL && !a.armor && isatty(STDOUT_FILENO)) {
		status = cmd_bad_usage(cmd_encrypt_usage, "encrypt: refusing "
		    "to write binary age to a terminal (use -a or -o)");
		goto out_free;
	}
	if ((rs = mig_age_recipients_new()) == NULL)
		rc = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	else if ((rc = collect_recipients(&a, rs, ctx)) == 0 &&
	    (rc = cmd_age_open_input(a.in, ctx, &in)) == 0 &&
	    (rc = cmd_age_open_output(a.out, 0666, ctx, &sink, &outfd)) == 0 &&
	    (rc = mig_age_encrypt_writer_new(rs, a.armor, sink, ctx,
	    &w)) == 0 &&
	    (rc = mig_age_writer_set_threads(w, cmd_age_threads())) == 0)
		rc = mig_stream_copy(in, w, NULL);
	if (rc != 0)
		status = cmd_fail(ctx, rc);
out_free:
	/* A sink freed before its close succeeded removes its temporary. */
	mig_writer_free(w);
	mig_writer_free(sink);
	mig_reader_free(in);
	if (outfd >= 0)
		close(outfd);
	mig_age_recipients_free(rs);
	cmd_age_args_free(&a);
	return status;
}
