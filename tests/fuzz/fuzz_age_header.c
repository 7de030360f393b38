/*
 * libFuzzer target for the age header parser and the decrypting reader:
 * the input is parsed as a header and then decrypted as a whole file
 * (binary or armored) with a fixed X25519 identity and a passphrase.
 * Nothing may crash or leak, and nothing but VERIFY, NOKEY, SECURITY or
 * success may come out.
 *
 *   make fuzz && build/fuzz/fuzz_age_header tests/fuzz/corpus/age_header
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/age.h"
#include "migrate/error.h"
#include "migrate/stream.h"

#include "crypto/crypto_int.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The identity of the seeds in tests/fuzz/corpus/age_header. */
#define FUZZ_IDENTITY \
	"AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mig_age_identities *ids;
	struct mig_ctx *ctx = mig_ctx_new();
	struct mig_age_header h;
	struct mig_reader *src = NULL, *r = NULL;
	unsigned char fk[AGE_FILE_KEY_LEN], buf[70000];
	size_t n;
	int rc;

	if (ids == NULL) {
		ids = mig_age_identities_new();
		if (ids == NULL ||
		    mig_age_identities_add(ids, FUZZ_IDENTITY, NULL) != 0 ||
		    mig_age_identities_add_passphrase(ids, "fuzz", 4,
		    NULL) != 0)
			abort();
		/* Keep scrypt cheap: a fuzzer must not spend seconds. */
		mig_age_identities_set_max_logn(ids, 4);
	}
	if (ctx == NULL || size > 1 << 20)
		goto out;
	memset(&h, 0, sizeof(h));
	if (mig_age_header_parse(data, size, &h, ctx) == 0) {
		if (h.nstanzas == 0 || h.maclen > size)
			abort();
		rc = mig_age_header_unwrap(&h, data, ids, fk, ctx);
		if (rc != 0 && rc != MIG_ERR_VERIFY && rc != MIG_ERR_NOKEY &&
		    rc != MIG_ERR_SECURITY)
			abort();
	}
	mig_age_header_clear(&h);
	if (mig_mem_reader_new(data, size, ctx, &src) != 0 ||
	    mig_age_decrypt_reader_new(ids, src, ctx, &r) != 0)
		goto out;
	for (;;) {
		rc = mig_reader_read(r, buf, sizeof(buf), &n);
		if (rc != 0) {
			if (rc != MIG_ERR_VERIFY && rc != MIG_ERR_NOKEY &&
			    rc != MIG_ERR_SECURITY)
				abort();
			break;
		}
		if (n == 0)
			break;
	}
out:
	mig_reader_free(r);
	mig_reader_free(src);
	mig_ctx_free(ctx);
	return 0;
}
