/*
 * libFuzzer target for the Bech32 codec of lib/crypto: whatever decodes
 * must encode back to the same string (in its case), and the key parsers
 * built on it must never crash.
 *
 *   make fuzz && build/fuzz/fuzz_bech32 tests/fuzz/corpus/bech32
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/age.h"
#include "migrate/error.h"

#include "crypto/crypto_int.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mig_age_recipients *rs;
	struct mig_age_identities *ids;
	unsigned char *out = NULL;
	char *s, *hrp = NULL, *enc = NULL;
	size_t len = 0;
	bool upper;

	if (size > 4096)
		return 0;
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (mig_bech32_decode(s, &hrp, &out, &len) == 0) {
		upper = strpbrk(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != NULL;
		if (mig_bech32_encode(hrp, out, len, upper, &enc) != 0)
			abort();
		if (strlen(s) == strlen(enc) && strcmp(s, enc) != 0)
			abort();
		free(enc);
	}
	free(hrp);
	free(out);
	rs = mig_age_recipients_new();
	ids = mig_age_identities_new();
	if (rs != NULL && ids != NULL) {
		(void)mig_age_recipients_add(rs, s, NULL);
		(void)mig_age_identities_add(ids, s, NULL);
		(void)mig_age_recipients_parse(rs, s, size, "fuzz", NULL);
		(void)mig_age_identities_parse(ids, s, size, "fuzz", NULL);
	}
	mig_age_recipients_free(rs);
	mig_age_identities_free(ids);
	free(s);
	return 0;
}
