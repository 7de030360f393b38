/*
 * Joining paths, and the temporary names every writer publishes from.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "migrate/error.h"
#include "migrate/util.h"

#define TMP_RANDLEN	8	/* hex digits */

/* The parts of a join: dir (maybe empty), the separator, name. */
static void
join_parts(const char **dirp, const char **sepp, const char **namep)
{
	const char *dir = *dirp != NULL ? *dirp : "", *name = *namep;
	size_t dl = strlen(dir);

	*dirp = dir;
	*sepp = "/";
	if (dl == 0 || strcmp(dir, ".") == 0) {
		*dirp = "";
		*sepp = "";
		if (*name == '\0')
			*namep = ".";
	} else if (*name == '\0' || dir[dl - 1] == '/')
		*sepp = "";
}

char *
mig_path_join(const char *dir, const char *name)
{
	const char *sep;
	size_t n;
	char *out;

	join_parts(&dir, &sep, &name);
	n = strlen(dir) + strlen(sep) + strlen(name) + 1;
	if ((out = malloc(n)) != NULL)
		(void)snprintf(out, n, "%s%s%s", dir, sep, name);
	return out;
}

int
mig_path_join_buf(char *buf, size_t size, const char *dir, const char *name)
{
	const char *sep;
	int n;

	join_parts(&dir, &sep, &name);
	n = snprintf(buf, size, "%s%s%s", dir, sep, name);
	if (n < 0 || (size_t)n >= size) {
		if (size > 0)
			buf[0] = '\0';
		return MIG_ERR_USAGE;
	}
	return 0;
}

bool
mig_path_is_plain(const char *rel)
{
	const char *comp, *slash;
	size_t len;

	if (rel[0] == '/')
		return false;
	for (comp = rel; ; comp = slash + 1) {
		slash = strchr(comp, '/');
		len = slash != NULL ? (size_t)(slash - comp) : strlen(comp);
		if (len == 0 || (len == 1 && comp[0] == '.') ||
		    (len == 2 && comp[0] == '.' && comp[1] == '.'))
			return false;
		if (slash == NULL)
			return true;
	}
}

int
mig_path_join_under(const char *dir, const char *rel, char **outp)
{
	*outp = NULL;
	if (!mig_path_is_plain(rel))
		return MIG_ERR_SECURITY;
	if ((*outp = mig_path_join(dir, rel)) == NULL)
		return MIG_ERR_NOMEM;
	return 0;
}

int
mig_tmp_name(const char *path, char **outp)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash != NULL ? slash + 1 : path;
	size_t dl = (size_t)(base - path), blen = strlen(base), fixed, n;
	unsigned char rnd[TMP_RANDLEN / 2];
	char hex[TMP_RANDLEN + 1], *out;

	*outp = NULL;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return MIG_ERR_CRYPTO;
	mig_hex_encode(rnd, sizeof(rnd), hex);
	/* ".", BASE, the infix, the digits: one component of NAME_MAX. */
	fixed = 1 + strlen(MIG_TMP_INFIX) + TMP_RANDLEN;
	if (blen > NAME_MAX - fixed) {
		/* Cut at a character, not inside a UTF-8 sequence. */
		blen = NAME_MAX - fixed;
		while (blen > 0 && ((unsigned char)base[blen] & 0xc0) == 0x80)
			blen--;
	}
	n = dl + blen + fixed + 1;
	if ((out = malloc(n)) == NULL)
		return MIG_ERR_NOMEM;
	(void)snprintf(out, n, "%.*s.%.*s%s%s", (int)dl, path, (int)blen, base,
	    MIG_TMP_INFIX, hex);
	*outp = out;
	return 0;
}
