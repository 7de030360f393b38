/*
 * migrate encrypt: age v1 encryption of one stream to X25519 recipients
 * or a passphrase, interoperable with the age tool.  Also home of the
 * passphrase prompt shared with cmd_decrypt.c.
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
collect_recipients(char **rlist, size_t nr, char **rfiles, size_t nrf,
    bool pass, const char *passenv, struct mig_age_recipients *rs,
    struct mig_ctx *ctx)
{
	char *pw = NULL;
	size_t i, pwlen = 0;
	int rc = 0;

	for (i = 0; i < nr && rc == 0; i++)
		rc = mig_age_recipients_add(rs, rlist[i], ctx);
	for (i = 0; i < nrf && rc == 0; i++)
		rc = mig_age_recipients_load(rs, rfiles[i], ctx);
	if (rc == 0 && pass) {
		if ((rc = cmd_age_passphrase(passenv, true, &pw, &pwlen,
		    ctx)) == 0)
			rc = mig_age_recipients_add_passphrase(rs, pw, pwlen,
			    0, ctx);
		if (pw != NULL) {
			OPENSSL_cleanse(pw, pwlen);
			free(pw);
		}
	}
	return rc;
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
	struct mig_age_recipients *rs = NULL;
	struct mig_reader *in = NULL;
	struct mig_writer *sink = NULL, *w = NULL;
	char **rlist, **rfiles;
	const char *out = NULL, *passenv = NULL, *inpath = NULL;
	size_t nr = 0, nrf = 0;
	bool armor = false, pass = false;
	int c, rc, outfd = -1, status = EXIT_OK;

	rlist = calloc((size_t)argc + 1, sizeof(*rlist));
	rfiles = calloc((size_t)argc + 1, sizeof(*rfiles));
	if (rlist == NULL || rfiles == NULL) {
		status = cmd_fail(ctx, mig_seterr(ctx, MIG_ERR_NOMEM,
		    "out of memory"));
		goto out_free;
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, "r:R:pao:h", longopts,
	    NULL)) != -1) {
		switch (c) {
		case 'r':
			rlist[nr++] = optarg;
			break;
		case 'R':
			rfiles[nrf++] = optarg;
			break;
		case 'p':
			pass = true;
			break;
		case 'E':
			pass = true;
			passenv = optarg;
			break;
		case 'a':
			armor = true;
			break;
		case 'o':
			out = optarg;
			break;
		case 'h':
			status = cmd_help(cmd_encrypt_usage);
			goto out_free;
		default:
			status = cmd_bad_usage(cmd_encrypt_usage, NULL);
			goto out_free;
		}
	}
	if (argc - optind > 1) {
		status = cmd_bad_usage(cmd_encrypt_usage,
		    "encrypt: at most one input file");
		goto out_free;
	}
	if (optind < argc)
		inpath = argv[optind];
	if (nr + nrf == 0 && !pass) {
		status = cmd_bad_usage(cmd_encrypt_usage,
		    "encrypt: give -r, -R or -p");
		goto out_free;
	}
	if (pass && nr + nrf > 0) {
		status = cmd_bad_usage(cmd_encrypt_usage,
		    "encrypt: -p cannot be combined with -r or -R");
		goto out_free;
	}
	if (out == NULL && !armor && isatty(STDOUT_FILENO)) {
		status = cmd_bad_usage(cmd_encrypt_usage, "encrypt: refusing "
		    "to write binary age to a terminal (use -a or -o)");
		goto out_free;
	}
	if ((rs = mig_age_recipients_new()) == NULL) {
		status = cmd_fail(ctx, mig_seterr(ctx, MIG_ERR_NOMEM,
		    "out of memory"));
		goto out_free;
	}
	if ((rc = collect_recipients(rlist, nr, rfiles, nrf, pass, passenv,
	    rs, ctx)) != 0) {
		if (rc == MIG_ERR_NOTFOUND)
			rc = MIG_ERR_USAGE;
		status = cmd_fail(ctx, rc);
		goto out_free;
	}
	if ((rc = cmd_age_open_input(inpath, ctx, &in)) != 0 ||
	    (rc = cmd_age_open_output(out, 0666, ctx, &sink, &outfd)) != 0 ||
	    (rc = mig_age_encrypt_writer_new(rs, armor, sink, ctx, &w)) != 0 ||
	    (rc = mig_age_writer_set_threads(w, cmd_age_threads())) != 0 ||
	    (rc = mig_stream_copy(in, w, NULL)) != 0)
		status = cmd_fail(ctx, rc);
out_free:
	/* A sink freed before its close succeeded removes its temporary. */
	mig_writer_free(w);
	mig_writer_free(sink);
	mig_reader_free(in);
	if (outfd >= 0)
		close(outfd);
	mig_age_recipients_free(rs);
	free(rlist);
	free(rfiles);
	return status;
}
