/*
 * Scratch directories for the unit tests: one helper instead of a copy of
 * rm -r in every test file.
 */
#ifndef MIGRATE_TESTUTIL_H
#define MIGRATE_TESTUTIL_H

#include <stddef.h>

/*
 * Creates $TMPDIR/TAG.XXXXXX (TMPDIR defaults to /tmp) and writes its path
 * into buf.  Returns 0, or -1 with errno set.
 */
int	tu_mkdtemp(char *buf, size_t size, const char *tag);

/* rm -r of path, not following symbolic links.  0 when all is gone. */
int	tu_rm_tree(const char *path);

#endif
