/*
 * libFuzzer target for the age ASCII armor reader: decodes the input
 * through odd read sizes; whatever decodes must armor back to a text the
 * reader accepts again with the same bytes.
 *
 *   make fuzz && build/fuzz/fuzz_armor tests/fuzz/corpus/armor
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/age.h"
#include "migrate/error.h"
#include "migrate/stream.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Decodes text; returns the rc and the bytes in *outp (caller frees). */
static int
decode(const void *text, size_t len, size_t step, unsigned char **outp,
    size_t *lenp, struct mig_ctx *ctx)
{
	struct mig_reader *src = NULL, *r = NULL;
	unsigned char *out;
	size_t n, got = 0;
	int rc;

	*outp = NULL;
	*lenp = 0;
	if ((out = malloc(len + 1)) == NULL)
		return MIG_ERR_NOMEM;
	if ((rc = mig_mem_reader_new(text, len, ctx, &src)) != 0 ||
	    (rc = mig_armor_reader_new(src, ctx, &r)) != 0)
		goto out;
	for (;;) {
		/* Decoding never grows the data: room must remain. */
		if (got >= len + 1)
			abort();
		n = len + 1 - got < step ? len + 1 - got : step;
		if ((rc = mig_reader_read(r, out + got, n, &n)) != 0)
			goto out;
		if (n == 0)
			break;
		got += n;
	}
	*outp = out;
	*lenp = got;
	out = NULL;
out:
	free(out);
	mig_reader_free(r);
	mig_reader_free(src);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mig_ctx *ctx = mig_ctx_new();
	struct mig_writer *sink = NULL, *w = NULL;
	const unsigned char *text;
	unsigned char *out = NULL, *again = NULL;
	size_t len, tlen, len2;

	if (ctx == NULL || size > 1 << 20)
		goto out;
	if (decode(data, size, 1, &out, &len, ctx) != 0)
		goto out;
	/* Re-encode and decode again: a fixed point. */
	if (mig_mem_writer_new(0, ctx, &sink) != 0 ||
	    mig_armor_writer_new(sink, ctx, &w) != 0 ||
	    mig_writer_write(w, out, len) != 0 || mig_writer_close(w) != 0)
		abort();
	text = mig_mem_writer_data(sink, &tlen);
	if (decode(text, tlen, 4096, &again, &len2, ctx) != 0 ||
	    len2 != len || memcmp(again, out, len) != 0)
		abort();
out:
	free(out);
	free(again);
	mig_writer_free(w);
	mig_writer_free(sink);
	mig_ctx_free(ctx);
	return 0;
}
