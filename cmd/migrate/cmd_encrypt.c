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
#include <limits.h>
#include <signal.h>
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
#include "migrate/transport.h"

#include "cmd.h"

const char *const cmd_encrypt_usage[] = {
	"migrate encrypt (-r RECIPIENT ... | -R FILE ... | -p) [-a] [-o OUT] "
	    "[IN]",
	"migrate encrypt -p [--passphrase-env VAR] [-a] [-o OUT] [IN]",
	NULL
};

const char *const cmd_encrypt_options[] = {
	"-r, --recipient RECIPIENT   encrypt to this age1... recipient "
	    "(repeatable)",
	"-R, --recipients-file FILE  encrypt to every recipient in FILE "
	    "(repeatable)",
	"-p, --passphrase            encrypt with a passphrase (asked twice)",
	"    --passphrase-env VAR    with -p: the passphrase is in "
	    "variable VAR",
	"-a, --armor                 PEM-style ASCII armor",
	"-o, --output OUT            write to OUT (default: stdout)",
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
    const char *const *usage, const char *const *options,
    struct cmd_age_args *a, struct mig_ctx *ctx)
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
		case 'v':
		case 'q':
			cmd_set_verbosity(c);
			break;
		case 'h':
			return cmd_help_options(usage, options);
		default:
			return cmd_bad_option(c, argv, longopts, usage);
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

/* Opens path's directory into o->dirfd and copies its last part to o->name. */
static int
open_parent(struct cmd_age_output *o, const char *path, struct mig_ctx *ctx)
{
	const char *slash = strrchr(path, '/'), *base;
	char *dir;

	if (slash == NULL) {
		dir = strdup(".");
		base = path;
	} else if (slash == path) {
		dir = strdup("/");
		base = slash + 1;
	} else {
		dir = strndup(path, (size_t)(slash - path));
		base = slash + 1;
	}
	if (dir == NULL || (o->name = strdup(base)) == NULL) {
		free(dir);
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	}
	o->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (o->dirfd < 0) {
		(void)mig_seterr(ctx, errno == ENOENT ? MIG_ERR_NOTFOUND :
		    MIG_ERR_IO, "%s: %s", dir, strerror(errno));
		free(dir);
		return mig_errcode(ctx);
	}
	free(dir);
	if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return mig_seterr(ctx, MIG_ERR_USAGE, "%s: not a file name",
		    path);
	return 0;
}

/*
 * Creates o->tmp, ".BASE.migrate-tmp-XXXXXXXX" beside o->name (BASE
 * shortened to fit NAME_MAX), and registers it, with the fatal signals
 * blocked in between: no signal can leave it behind.  Only the main
 * thread runs here, so blocking there holds them back.
 */
static int
create_temporary(struct cmd_age_output *o, const char *path, mode_t mode,
    struct mig_ctx *ctx)
{
	sigset_t old;
	char *cut;
	int tries, e = 0;

	cut = strndup(o->name, NAME_MAX - 1 - (sizeof(MIG_TMP_INFIX) - 1) -
	    8);
	if (cut == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	for (tries = 0; o->fd < 0 && tries < 8; tries++) {
		free(o->tmp);
		if ((o->tmp = mig_transport_tmp_name(cut)) == NULL) {
			e = ENOMEM;
			break;
		}
		cmd_tmp_block(&old);
		o->fd = openat(o->dirfd, o->tmp, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, mode);
		e = errno;
		if (o->fd >= 0 &&
		    (o->slot = cmd_tmp_register(o->dirfd, o->tmp)) < 0) {
			(void)unlinkat(o->dirfd, o->tmp, 0);
			(void)close(o->fd);
			o->fd = -1;
			cmd_tmp_unblock(&old);
			free(cut);
			return mig_seterr(ctx, MIG_ERR_INTERNAL, "%s: no slot "
			    "to register the temporary file", path);
		}
		cmd_tmp_unblock(&old);
		if (o->fd < 0 && e != EEXIST)
			break;
	}
	free(cut);
	if (o->fd >= 0)
		return 0;
	free(o->tmp);
	o->tmp = NULL;
	return mig_seterr(ctx, e == ENOMEM ? MIG_ERR_NOMEM : MIG_ERR_IO,
	    "%s: create temporary file: %s", path, strerror(e));
}

/*
 * Opens OUT: stdout for NULL or "-"; a regular file (new or replaced)
 * through a temporary published by cmd_age_publish_output; anything
 * else that exists (a device such as /dev/null, a FIFO) is written in
 * place, since renaming over it would replace the device.  Like age(1),
 * no fsync: this output can simply be made again; the temporary still
 * guarantees that a failed or interrupted run leaves no (or the old)
 * file.
 */
int
cmd_age_open_output(const char *path, mode_t mode, struct mig_ctx *ctx,
    struct cmd_age_output *o)
{
	struct stat st;
	int rc;

	memset(o, 0, sizeof(*o));
	o->fd = o->dirfd = o->slot = -1;
	if (path == NULL || strcmp(path, "-") == 0)
		return mig_fd_writer_new(STDOUT_FILENO, ctx, &o->w);
	if (stat(path, &st) != 0 || S_ISREG(st.st_mode)) {
		if ((rc = open_parent(o, path, ctx)) != 0 ||
		    (rc = create_temporary(o, path, mode, ctx)) != 0)
			return rc;
		return mig_fd_writer_new(o->fd, ctx, &o->w);
	}
	if (S_ISDIR(st.st_mode))
		return mig_seterr(ctx, MIG_ERR_USAGE, "%s: is a directory",
		    path);
	if ((o->fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return mig_seterr(ctx, MIG_ERR_IO, "%s: %s", path,
		    strerror(errno));
	return mig_fd_writer_new(o->fd, ctx, &o->w);
}

int
cmd_age_publish_output(struct cmd_age_output *o, const char *path,
    struct mig_ctx *ctx)
{
	struct stat st;
	int fd = o->fd;

	if (o->tmp == NULL)
		return 0;
	o->fd = -1;
	/* close(2) can report a deferred write error (NFS, quotas). */
	if (close(fd) != 0)
		return mig_seterr(ctx, MIG_ERR_IO, "%s: close: %s", path,
		    strerror(errno));
	/*
	 * Replace files only, never a device, FIFO or directory that
	 * appeared meanwhile.  A symbolic link is replaced itself.
	 */
	if (fstatat(o->dirfd, o->name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
		return mig_seterr(ctx, MIG_ERR_EXISTS, "%s: exists and is not "
		    "a regular file, refusing to replace it", path);
	if (renameat(o->dirfd, o->tmp, o->dirfd, o->name) != 0)
		return mig_seterr(ctx, MIG_ERR_IO, "%s: rename into place: %s",
		    path, strerror(errno));
	cmd_tmp_forget(o->slot);
	o->slot = -1;
	free(o->tmp);
	o->tmp = NULL;
	return 0;
}

void
cmd_age_close_output(struct cmd_age_output *o)
{
	/* The sink wipes its buffer: decrypted output passed through it. */
	mig_writer_free(o->w);
	if (o->fd >= 0)
		(void)close(o->fd);
	if (o->tmp != NULL)
		(void)unlinkat(o->dirfd, o->tmp, 0);
	cmd_tmp_forget(o->slot);
	if (o->dirfd >= 0)
		(void)close(o->dirfd);
	free(o->tmp);
	free(o->name);
	memset(o, 0, sizeof(*o));
	o->fd = o->dirfd = o->slot = -1;
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
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct cmd_age_args a;
	struct cmd_age_output out;
	struct mig_age_recipients *rs = NULL;
	struct mig_reader *in = NULL;
	struct mig_writer *w = NULL;
	int rc, status;

	memset(&out, 0, sizeof(out));
	out.fd = out.dirfd = out.slot = -1;
	if ((status = cmd_age_parse(argc, argv, "encrypt", ":r:R:pao:hvq",
	    longopts, cmd_encrypt_usage, cmd_encrypt_options, &a, ctx)) >= 0)
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
	    (rc = cmd_age_open_output(a.out, 0666, ctx, &out)) == 0 &&
	    (rc = mig_age_encrypt_writer_new(rs, a.armor, out.w, ctx,
	    &w)) == 0 &&
	    (rc = mig_age_writer_set_threads(w, cmd_age_threads())) == 0 &&
	    (rc = mig_stream_copy(in, w, NULL)) == 0)
		rc = cmd_age_publish_output(&out, a.out, ctx);
	if (rc != 0)
		status = cmd_fail(ctx, rc);
out_free:
	/* An output not published is removed. */
	mig_writer_free(w);
	cmd_age_close_output(&out);
	mig_reader_free(in);
	mig_age_recipients_free(rs);
	cmd_age_args_free(&a);
	return status;
}
