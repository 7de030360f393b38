/*
 * libFuzzer target for the BagIt tag-file parsers: bagit.txt, manifest
 * and fetch.txt lines, bag-info.txt, Payload-Oxum, path checks, the
 * manifest percent-encoding and NFD.  Checks two properties besides
 * memory safety: a decoded path survives encode + parse unchanged, and
 * NFD is idempotent.
 *
 * Seeds: tests/fuzz/corpus/bag_manifest/.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/error.h"

#include "lake/bagit_int.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
info_cb(void *arg, const char *label, const char *value)
{
	size_t *n = arg;

	*n += strlen(label) + strlen(value);
	return 0;
}

static void
info_err(void *arg, size_t lineno, const char *why)
{
	(void)arg;
	(void)lineno;
	(void)why;
}

/* Encoding a decoded path and parsing it back gives the same path. */
static void
roundtrip(const char *path)
{
	static const char hex[] = "00112233445566778899aabbccddeeff";
	unsigned char d[16];
	const char *why;
	char *enc, *line, *back = NULL;
	size_t n;

	if (path[0] == '\0' || path[0] == ' ' || path[0] == '\t')
		return;		/* the separator eats leading blanks */
	if ((enc = mig_bag_path_encode(path)) == NULL)
		return;
	n = strlen(hex) + 2 + strlen(enc);
	if ((line = malloc(n + 1)) != NULL) {
		memcpy(line, hex, 32);
		memcpy(line + 32, "  ", 2);
		memcpy(line + 34, enc, strlen(enc) + 1);
		if (memchr(enc, '\n', strlen(enc)) != NULL ||
		    memchr(enc, '\r', strlen(enc)) != NULL)
			abort();	/* an encoded path is one line */
		if (mig_bag_parse_manifest_line(line, n, 16, true, d, &back,
		    &why) != 0 || strcmp(back, path) != 0)
			abort();
		free(back);
		free(line);
	}
	free(enc);
}

static void
nfd_idempotent(const char *s, size_t len)
{
	char *a, *b;
	size_t alen, blen;

	if ((a = mig_bag_nfd(s, len, &alen)) == NULL)
		return;
	if ((b = mig_bag_nfd(a, alen, &blen)) != NULL) {
		if (alen != blen || memcmp(a, b, alen) != 0)
			abort();
		free(b);
	}
	free(a);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data, *line, *why;
	struct mig_bag_lines it;
	unsigned char digest[64];
	char version[16], enc[32], err[256], *path, *copy;
	uint64_t b, f;
	int64_t fsz;
	size_t n, total = 0;
	bool bom;

	(void)mig_bag_parse_declaration(buf, size, version, sizeof(version),
	    enc, sizeof(enc), &bom, err, sizeof(err));
	(void)mig_bag_parse_info(buf, size, info_cb, info_err, &total);

	mig_bag_lines_init(&it, buf, size);
	while (mig_bag_lines_next(&it, &line, &n)) {
		if (mig_bag_parse_manifest_line(line, n, 32, true, digest,
		    &path, &why) == 0) {
			(void)mig_bag_path_problem(path, strlen(path));
			roundtrip(path);
			free(path);
		}
		if (mig_bag_parse_manifest_line(line, n, 16, false, digest,
		    &path, &why) == 0)
			free(path);
		if (mig_bag_parse_fetch_line(line, n, true, &fsz, &path,
		    &why) == 0)
			free(path);
		nfd_idempotent(line, n);
		(void)mig_bag_path_problem(line, n);
		if ((copy = malloc(n + 1)) != NULL) {
			memcpy(copy, line, n);
			copy[n] = '\0';
			(void)mig_bag_parse_oxum(copy, &b, &f);
			free(copy);
		}
	}
	return 0;
}
