/*
 * Lowercase hex encoding, strict decoding, and %XX escapes.
 */
#include <stdlib.h>
#include <string.h>

#include "migrate/error.h"
#include "migrate/util.h"

int
mig_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void
mig_hex_encode(const unsigned char *buf, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[buf[i] >> 4];
		out[2 * i + 1] = digits[buf[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

int
mig_hex_decode(const char *hex, unsigned char *buf, size_t len)
{
	size_t i;
	int hi, lo;

	for (i = 0; i < len; i++) {
		hi = mig_hex_digit((unsigned char)hex[2 * i]);
		if (hi < 0)
			return MIG_ERR_FORMAT;
		lo = mig_hex_digit((unsigned char)hex[2 * i + 1]);
		if (lo < 0)
			return MIG_ERR_FORMAT;
		buf[i] = (unsigned char)(hi << 4 | lo);
	}
	if (mig_hex_digit((unsigned char)hex[2 * len]) >= 0)
		return MIG_ERR_FORMAT;
	return 0;
}

int
mig_percent_decode(const char *s, size_t len, char **outp)
{
	char *out, *o;
	size_t i;
	int hi, lo, r = 0;

	*outp = NULL;
	if (len == SIZE_MAX || (out = malloc(len + 1)) == NULL)
		return MIG_ERR_NOMEM;
	o = out;
	for (i = 0; i < len; i++) {
		if (s[i] == '\0') {
			r = MIG_ERR_FORMAT;
			goto out_free;
		}
		if (s[i] != '%') {
			*o++ = s[i];
			continue;
		}
		hi = len - i >= 3 ? mig_hex_digit((unsigned char)s[i + 1]) : -1;
		lo = len - i >= 3 ? mig_hex_digit((unsigned char)s[i + 2]) : -1;
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			r = MIG_ERR_FORMAT;
			goto out_free;
		}
		*o++ = (char)(hi << 4 | lo);
		i += 2;
	}
	*o = '\0';
	*outp = out;
	out = NULL;
out_free:
	free(out);
	return r;
}
