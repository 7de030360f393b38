/*
 * libFuzzer target for the PROPFIND multistatus parser of lib/transport
 * (propfind.c): the input is the body a WebDAV server answers to
 * PROPFIND /dav/lake/.  It is parsed twice, in one piece and cut at a
 * point taken from its first byte, and both parses must agree.  Checks
 * besides memory safety: every entry names the base ("") or one plain
 * component below it (no '/', ".", "..", control byte), a refusal is
 * MIG_ERR_FORMAT, and no entry comes from a refused answer's end.
 *
 *   make fuzz && build/fuzz/fuzz_propfind -dict=tests/fuzz/propfind.dict \
 *       tests/fuzz/corpus/propfind
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/error.h"

#include "transport/propfind_int.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_entries(const struct mig_pf *pf)
{
	const char *s;
	size_t i, j;

	if (pf->n > MIG_PF_MAX_ENTRIES)
		abort();
	for (i = 0; i < pf->n; i++) {
		s = pf->ents[i].name;
		if (strchr(s, '/') != NULL || strcmp(s, ".") == 0 ||
		    strcmp(s, "..") == 0)
			abort();
		for (j = 0; s[j] != '\0'; j++)
			if ((unsigned char)s[j] < 0x20 || s[j] == 0x7f)
				abort();
		if (pf->ents[i].st.type != MIG_FT_FILE &&
		    pf->ents[i].st.type != MIG_FT_DIR)
			abort();
	}
}

/* Parses text in two pieces cut at cut; returns the result code. */
static int
parse(struct mig_pf *pf, const char *text, size_t size, size_t cut)
{
	if (mig_pf_init(pf, "/dav/lake", "fuzz", NULL) != 0)
		abort();
	if (mig_pf_feed(pf, text, cut) != cut ||
	    mig_pf_feed(pf, text + cut, size - cut) != size - cut)
		return pf->err;
	return mig_pf_finish(pf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct mig_pf a, b;
	size_t cut, i;
	int ra, rb;

	if (size > 65536)
		return 0;
	cut = size > 0 ? data[0] % (size + 1) : 0;
	ra = parse(&a, text, size, size);
	rb = parse(&b, text, size, cut);
	if ((ra != 0 && ra != MIG_ERR_FORMAT) || (ra == 0) != (rb == 0))
		abort();
	check_entries(&a);
	check_entries(&b);
	if (ra == 0) {
		if (a.n != b.n)
			abort();
		for (i = 0; i < a.n; i++)
			if (strcmp(a.ents[i].name, b.ents[i].name) != 0 ||
			    memcmp(&a.ents[i].st, &b.ents[i].st,
			    sizeof(a.ents[i].st)) != 0)
				abort();
	}
	mig_pf_clear(&a);
	mig_pf_clear(&b);
	return 0;
}
