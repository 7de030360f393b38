#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "migrate/error.h"

struct mig_ctx {
	int	code;
	char	msg[MIG_ERRMSG_MAX];
};

struct mig_ctx *
mig_ctx_new(void)
{
	return calloc(1, sizeof(struct mig_ctx));
}

void
mig_ctx_free(struct mig_ctx *ctx)
{
	free(ctx);
}

int
mig_vseterr(struct mig_ctx *ctx, int code, const char *fmt, va_list ap)
{
	if (ctx == NULL)
		return code;
	ctx->code = code;
	/* Truncation is acceptable: the message is for humans. */
	(void)vsnprintf(ctx->msg, sizeof(ctx->msg), fmt, ap);
	return code;
}

int
mig_seterr(struct mig_ctx *ctx, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)mig_vseterr(ctx, code, fmt, ap);
	va_end(ap);
	return code;
}

int
mig_seterr_ssl(struct mig_ctx *ctx, int code, const char *fmt, ...)
{
	va_list ap;
	unsigned long e;
	size_t len;
	char reason[256];

	va_start(ap, fmt);
	(void)mig_vseterr(ctx, code, fmt, ap);
	va_end(ap);
	while ((e = ERR_get_error()) != 0) {
		if (ctx == NULL)
			continue;
		ERR_error_string_n(e, reason, sizeof(reason));
		len = strlen(ctx->msg);
		if (len + 3 < sizeof(ctx->msg))
			(void)snprintf(ctx->msg + len, sizeof(ctx->msg) - len,
			    ": %s", reason);
	}
	return code;
}

int
mig_preferr(struct mig_ctx *ctx, const char *fmt, ...)
{
	char old[MIG_ERRMSG_MAX];
	size_t plen, olen;
	va_list ap;

	if (ctx == NULL)
		return MIG_ERR_INTERNAL;
	memcpy(old, ctx->msg, sizeof(old));
	va_start(ap, fmt);
	(void)vsnprintf(ctx->msg, sizeof(ctx->msg) / 2, fmt, ap);
	va_end(ap);
	/* "PREFIX: OLD", truncating OLD if it must. */
	plen = strlen(ctx->msg);
	olen = strnlen(old, sizeof(old) - 1);
	if (olen > sizeof(ctx->msg) - plen - 3)
		olen = sizeof(ctx->msg) - plen - 3;
	memcpy(ctx->msg + plen, ": ", 2);
	memcpy(ctx->msg + plen + 2, old, olen);
	ctx->msg[plen + 2 + olen] = '\0';
	return ctx->code;
}

void
mig_clearerr(struct mig_ctx *ctx)
{
	if (ctx == NULL)
		return;
	ctx->code = 0;
	ctx->msg[0] = '\0';
}

const char *
mig_errmsg(const struct mig_ctx *ctx)
{
	if (ctx == NULL || ctx->msg[0] == '\0')
		return ctx == NULL ? "no context" : mig_strerror(ctx->code);
	return ctx->msg;
}

int
mig_errcode(const struct mig_ctx *ctx)
{
	return ctx == NULL ? MIG_ERR_INTERNAL : ctx->code;
}

const char *
mig_strerror(int code)
{
	switch (code) {
	case MIG_OK:		return "success";
	case MIG_ERR_NOMEM:	return "out of memory";
	case MIG_ERR_IO:	return "input/output error";
	case MIG_ERR_USAGE:	return "invalid usage";
	case MIG_ERR_PARSE:	return "invalid document";
	case MIG_ERR_CRYPTO:	return "cryptographic failure";
	case MIG_ERR_VERIFY:	return "verification failed";
	case MIG_ERR_NOKEY:	return "no identity matched";
	case MIG_ERR_SECURITY:	return "refused for security";
	case MIG_ERR_NET:	return "network failure";
	case MIG_ERR_PARTIAL:	return "some objects failed";
	case MIG_ERR_NOTFOUND:	return "not found";
	case MIG_ERR_EXISTS:	return "already exists";
	case MIG_ERR_FORMAT:	return "malformed input";
	case MIG_ERR_INTERNAL:	return "internal error";
	case MIG_ERR_AGAIN:	return "temporary failure";
	case MIG_ERR_CANCELLED:	return "cancelled";
	}
	return "unknown error";
}

int
mig_exit_status(int code)
{
	switch (code) {
	case MIG_OK:
		return 0;
	case MIG_ERR_USAGE:
	case MIG_ERR_PARSE:
		return 2;
	case MIG_ERR_VERIFY:
	case MIG_ERR_FORMAT:	/* corrupt input is as bad as tampered */
		return 3;
	case MIG_ERR_PARTIAL:
		return 4;
	}
	return 1;
}
