/*
 * migrate keygen: a new age X25519 identity (like age-keygen), or with
 * --signing an Ed25519 key pair for signed audit checkpoints.
 * migrate keygen -y IDENTITY: the recipient of an identity file again
 * (age-keygen -y).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "migrate/age.h"
#include "migrate/error.h"
#include "migrate/keyfile.h"
#include "migrate/sign.h"

#include "cmd.h"

const char *const cmd_keygen_usage[] = {
	"migrate keygen [-o FILE]",
	"migrate keygen --signing -o FILE",
	"migrate keygen -y IDENTITY",
	NULL
};

const char *const cmd_keygen_options[] = {
	"-o, --output FILE  write the identity to FILE (0600) and its "
	    "recipient to FILE.pub",
	"    --signing      an Ed25519 audit signing key (FILE, 0600) and "
	    "FILE.pub",
	"-y IDENTITY        print the recipient (age1...) of an identity file",
	NULL
};

/*
 * Creates the missing folders that lead to path, each mode 0700: a key's
 * folder is nobody else's business.  Existing folders are left as they are.
 */
static int
make_parents(const char *path, struct mig_ctx *ctx)
{
	char tmp[PATH_MAX], *s;
	int r = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s", path) >= sizeof(tmp))
		return mig_seterr(ctx, MIG_ERR_USAGE, "%s: path too long", path);
	for (s = tmp + 1; *s != '\0' && r == 0; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
			r = mig_seterr(ctx, MIG_ERR_IO, "keygen: %s: %s", tmp,
			    strerror(errno));
		else
			cmd_verbose("keygen: folder %s", tmp);
		*s = '/';
	}
	return r;
}

/*
 * Refuses to begin when FILE or FILE.pub is there: nothing is overwritten,
 * and no folder is made for a key that will not be written.  FILE is named
 * first, in the words the key writers use when their O_EXCL open fails.
 */
static int
pub_path(const char *out, char *buf, size_t size, struct mig_ctx *ctx)
{
	struct stat st;
	int r = 0;

	if ((size_t)snprintf(buf, size, "%s.pub", out) >= size)
		r = mig_seterr(ctx, MIG_ERR_USAGE, "%s: path too long", out);
	else if (lstat(out, &st) == 0)
		r = mig_seterr(ctx, MIG_ERR_EXISTS, "%s: already exists, "
		    "refusing to overwrite", out);
	else if (lstat(buf, &st) == 0)
		r = mig_seterr(ctx, MIG_ERR_EXISTS, "%s: already exists, "
		    "refusing to overwrite", buf);
	return r;
}

/* FILE.pub: the recipient, one line, mode 0644 (it is public). */
static int
write_pub(const char *path, const char *recipient, struct mig_ctx *ctx)
{
	size_t n = strlen(recipient);
	int fd, r = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0644);
	if (fd < 0)
		return mig_seterr(ctx, MIG_ERR_IO, "keygen: %s: %s", path,
		    strerror(errno));
	if (write(fd, recipient, n) != (ssize_t)n || write(fd, "\n", 1) != 1 ||
	    fsync(fd) != 0)
		r = mig_seterr(ctx, MIG_ERR_IO, "keygen: %s: %s", path,
		    strerror(errno));
	if (close(fd) != 0 && r == 0)
		r = mig_seterr(ctx, MIG_ERR_IO, "keygen: %s: %s", path,
		    strerror(errno));
	return r;
}

/*
 * Prints the recipient of every identity in the file, one a line, as
 * age-keygen -y does.  The file must be a safe key file (mode 0600).
 */
static int
print_recipients(const char *path, struct mig_ctx *ctx)
{
	char *buf = NULL, *line, *save = NULL, *rcpt;
	size_t len = 0, found = 0;
	int r;

	if ((r = mig_keyfile_read(path, true, &buf, &len, ctx)) != 0) {
		/*
		 * The message is copied first: mig_seterr() clears it
		 * before it formats (passed as is, it came out as
		 * "keygen -y: keygen -y: t/x.key: ...").
		 */
		if (r == MIG_ERR_NOTFOUND) {
			char msg[MIG_ERRMSG_MAX];

			(void)snprintf(msg, sizeof(msg), "%s",
			    mig_errmsg(ctx));
			r = mig_seterr(ctx, MIG_ERR_USAGE, "keygen -y: %s",
			    msg);
		}
		return r;
	}
	for (line = strtok_r(buf, "\r\n", &save); line != NULL && r == 0;
	    line = strtok_r(NULL, "\r\n", &save)) {
		if (strncmp(line, "AGE-SECRET-KEY-1", 16) != 0)
			continue;
		if ((r = mig_age_identity_to_recipient(line, &rcpt,
		    ctx)) != 0) {
			(void)mig_preferr(ctx, "keygen -y: %s", path);
			break;
		}
		printf("%s\n", rcpt);
		free(rcpt);
		found++;
	}
	if (r == 0 && found == 0)
		r = mig_seterr(ctx, MIG_ERR_USAGE, "keygen -y: %s holds no age "
		    "identity (AGE-SECRET-KEY-1...)", path);
	mig_keyfile_free(buf, len);
	return r;
}

static int
keygen_file(const char *out, bool signing, struct mig_ctx *ctx)
{
	char pub[PATH_MAX], *recipient = NULL;
	int r;

	if ((r = pub_path(out, pub, sizeof(pub), ctx)) != 0 ||
	    (r = make_parents(out, ctx)) != 0)
		return r;
	if (signing) {
		if ((r = mig_sign_keygen(out, ctx)) != 0)
			return r;
		cmd_info("Public key: %s", pub);
		return 0;
	}
	if ((r = mig_age_keygen_file(out, &recipient, ctx)) != 0)
		return r;
	if ((r = write_pub(pub, recipient, ctx)) == 0) {
		cmd_info("Public key: %s", recipient);
		cmd_info("Recipient written to %s (migrate keygen -y %s "
		    "prints it again)", pub, out);
	}
	free(recipient);
	return r;
}

int
cmd_keygen(int argc, char **argv, struct mig_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "signing", no_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *out = NULL, *ident = NULL;
	char *text = NULL, *recipient = NULL;
	bool signing = false;
	int c, rc, status = EXIT_OK;

	optind = 1;
	while ((c = getopt_long(argc, argv, ":o:y:hvq", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 's':
			signing = true;
			break;
		case 'y':
			ident = optarg;
			break;
		case 'v':
		case 'q':
			cmd_set_verbosity(c);
			break;
		case 'h':
			return cmd_help_options(cmd_keygen_usage,
			    cmd_keygen_options);
		default:
			return cmd_bad_option(c, argv, longopts,
			    cmd_keygen_usage);
		}
	}
	if (optind != argc)
		return cmd_bad_usage(cmd_keygen_usage,
		    "keygen: unexpected argument \"%s\"", argv[optind]);
	if (ident != NULL) {
		if (out != NULL || signing)
			return cmd_bad_usage(cmd_keygen_usage, "keygen: -y "
			    "goes alone: it prints, it creates nothing");
		rc = print_recipients(ident, ctx);
		return rc == 0 ? EXIT_OK : cmd_fail(ctx, rc);
	}
	if (signing && out == NULL)
		return cmd_bad_usage(cmd_keygen_usage,
		    "keygen: --signing needs -o FILE");
	if (out != NULL) {
		rc = keygen_file(out, signing, ctx);
		return rc == 0 ? EXIT_OK : cmd_fail(ctx, rc);
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
