#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "migrate/error.h"
#include "migrate/keyfile.h"

int
mig_keyfile_read(const char *path, bool secret, char **bufp, size_t *lenp,
    struct mig_ctx *ctx)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, rc = 0;

	*bufp = NULL;
	*lenp = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    (secret ? O_NOFOLLOW : 0));
	if (fd < 0) {
		if (errno == ELOOP && secret)
			return mig_seterr(ctx, MIG_ERR_SECURITY, "%s: is a "
			    "symbolic link; refusing it as a private key file",
			    path);
		return mig_seterr(ctx, errno == ENOENT ? MIG_ERR_NOTFOUND :
		    MIG_ERR_IO, "%s: %s", path, strerror(errno));
	}
	if (fstat(fd, &st) != 0) {
		rc = mig_seterr(ctx, MIG_ERR_IO, "%s: %s", path,
		    strerror(errno));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = mig_seterr(ctx, secret ? MIG_ERR_SECURITY : MIG_ERR_IO,
		    "%s: not a regular file", path);
		goto out_close;
	}
	if (secret && (st.st_mode & 077) != 0) {
		rc = mig_seterr(ctx, MIG_ERR_SECURITY, "%s: private key file "
		    "mode %04o is too open (group or others may access it); "
		    "refusing it: chmod 600 %s", path,
		    (unsigned int)(st.st_mode & 07777), path);
		goto out_close;
	}
	if (st.st_size > MIG_KEYFILE_MAX) {
		rc = mig_seterr(ctx, MIG_ERR_FORMAT, "%s: too large for a key "
		    "file", path);
		goto out_close;
	}
	if ((buf = OPENSSL_secure_zalloc(MIG_KEYFILE_MAX + 1)) == NULL) {
		rc = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_close;
	}
	for (;;) {
		n = read(fd, buf + len, MIG_KEYFILE_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = mig_seterr(ctx, MIG_ERR_IO, "%s: read: %s", path,
			    strerror(errno));
			goto out_free;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > MIG_KEYFILE_MAX) {
			rc = mig_seterr(ctx, MIG_ERR_FORMAT, "%s: too large "
			    "for a key file", path);
			goto out_free;
		}
	}
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	buf = NULL;
out_free:
	mig_keyfile_free(buf, MIG_KEYFILE_MAX);
out_close:
	(void)close(fd);
	return rc;
}

void
mig_keyfile_free(char *buf, size_t len)
{
	if (buf != NULL)
		OPENSSL_secure_clear_free(buf, len + 1);
}
