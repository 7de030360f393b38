/*
 * Lowercase hex encoding, strict decoding.
 */
#include <stddef.h>

#include "migrate/error.h"
#include "migrate/stream.h"

static int
nibble(unsigned char c)
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

/*
 * Either case is accepted.  What follows the 2*len digits may be anything
 * but another hex digit (a NUL, a space before a path), so a longer run
 * of digits is refused rather than silently cut.
 */
int
mig_hex_decode(const char *hex, unsigned char *buf, size_t len)
{
	size_t i;
	int hi, lo;

	for (i = 0; i < len; i++) {
		hi = nibble((unsigned char)hex[2 * i]);
		if (hi < 0)
			return MIG_ERR_FORMAT;
		lo = nibble((unsigned char)hex[2 * i + 1]);
		if (lo < 0)
			return MIG_ERR_FORMAT;
		buf[i] = (unsigned char)(hi << 4 | lo);
	}
	if (nibble((unsigned char)hex[2 * len]) >= 0)
		return MIG_ERR_FORMAT;
	return 0;
}
