/*
 * libFuzzer target for the ssh_config reader of lib/transport
 * (ssh_config.c).  The input is an ssh_config file, read for three host
 * names (an alias, an address, a name no pattern is likely to name);
 * every value it yields then goes through the token expansion.  Checks
 * besides memory safety: a port, when set, is 1-65535, and no more
 * IdentityFiles are kept than the limit.
 *
 *   make fuzz && build/fuzz/fuzz_ssh_config tests/fuzz/corpus/ssh_config
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "migrate/error.h"
#include "migrate/ssh_config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
expand(const char *raw)
{
	if (raw != NULL)
		free(mig_ssh_expand(raw, "/home/u", "lake", 2222, "bob", "me"));
}

static void
one_host(const char *text, size_t size, const char *host,
    struct mig_ctx *ctx)
{
	struct mig_ssh_host h;
	size_t i;

	if (mig_ssh_config_parse(text, size, host, &h, ctx) == 0) {
		if (h.port < 0 || h.port > 65535 ||
		    h.nidentity > MIG_SSHCFG_IDS_MAX)
			abort();
		expand(h.hostname);
		expand(h.user);
		expand(h.known_hosts);
		for (i = 0; i < h.nidentity; i++)
			expand(h.identity[i]);
	}
	mig_ssh_host_free(&h);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mig_ctx *ctx;

	if (size > 65536 || (ctx = mig_ctx_new()) == NULL)
		return 0;
	one_host((const char *)data, size, "lake", ctx);
	one_host((const char *)data, size, "127.0.0.1", ctx);
	one_host((const char *)data, size, "x.example.org", ctx);
	mig_ctx_free(ctx);
	return 0;
}
