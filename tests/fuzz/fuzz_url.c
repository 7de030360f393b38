/*
 * libFuzzer target for mig_url_parse() (lib/transport/transport.c), the
 * destination URL of every plan.  Checks besides memory safety: an
 * accepted URL has a scheme and a path, a host unless it is file://, a
 * port in 0-65535, and no NUL cut into its path; a refused one leaves
 * nothing allocated.
 *
 *   make fuzz && build/fuzz/fuzz_url tests/fuzz/corpus/url
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/error.h"
#include "migrate/transport.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mig_ctx *ctx;
	struct mig_url u;
	char *text;

	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if ((ctx = mig_ctx_new()) == NULL) {
		free(text);
		return 0;
	}
	if (mig_url_parse(text, &u, ctx) == 0) {
		if (u.scheme == NULL || u.path == NULL ||
		    (strcmp(u.scheme, "file") != 0 &&
		    (u.host == NULL || u.host[0] == '\0')) ||
		    u.port < 0 || u.port > 65535)
			abort();
		mig_url_free(&u);
	} else if (u.scheme != NULL || u.host != NULL || u.path != NULL)
		abort();
	mig_ctx_free(ctx);
	free(text);
	return 0;
}
