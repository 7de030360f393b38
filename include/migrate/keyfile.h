/*
 * Reading key files: age identities and recipients, audit signing keys,
 * SSH identities.  One place decides what a safe private key file is.
 */
#ifndef MIGRATE_KEYFILE_H
#define MIGRATE_KEYFILE_H

#include <stdbool.h>
#include <stddef.h>

struct mig_ctx;

/* Larger files are not key files. */
#define MIG_KEYFILE_MAX	(1024 * 1024)

/*
 * Reads the whole file at path into a NUL-terminated buffer that the
 * caller releases with mig_keyfile_free().  With secret set the file is
 * opened with O_NOFOLLOW and refused (MIG_ERR_SECURITY) when it is a
 * symbolic link, not a regular file, or accessible by group or others;
 * the buffer then comes from OpenSSL's secure heap where one is set up.
 * MIG_ERR_NOTFOUND when it does not exist, MIG_ERR_FORMAT when too large.
 */
int	mig_keyfile_read(const char *path, bool secret, char **bufp,
	    size_t *lenp, struct mig_ctx *ctx);
/* Wipes and frees a buffer of mig_keyfile_read().  NULL is a no-op. */
void	mig_keyfile_free(char *buf, size_t len);

#endif /* MIGRATE_KEYFILE_H */
