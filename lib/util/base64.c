/*
 * Base64 (RFC 4648 section 4), encoded and decoded by hand so that the
 * decoder can be strict.  OpenSSL's EVP_DecodeBlock() skips whitespace,
 * decodes '=' in the middle and ignores the unused bits of the last
 * character, so several texts give one value; signatures, keys and age
 * stanzas must have exactly one text each, or a signed value could be
 * altered without breaking its signature.
 */
#include <limits.h>
#include <stdint.h>

#include "migrate/util.h"

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

size_t
mig_base64_len(size_t len)
{
	return (len / 3 + (len % 3 != 0)) * 4;
}

size_t
mig_base64_raw_len(size_t len)
{
	return len / 3 * 4 + (len % 3 == 0 ? 0 : len % 3 + 1);
}

/* Writes the unpadded encoding; returns the characters written. */
static size_t
encode(const unsigned char *buf, size_t len, char *out)
{
	size_t i, o = 0;
	uint32_t v;

	for (i = 0; i + 3 <= len; i += 3) {
		v = (uint32_t)buf[i] << 16 | (uint32_t)buf[i + 1] << 8 |
		    buf[i + 2];
		out[o++] = b64chars[v >> 18];
		out[o++] = b64chars[(v >> 12) & 63];
		out[o++] = b64chars[(v >> 6) & 63];
		out[o++] = b64chars[v & 63];
	}
	if (len - i == 1) {
		v = (uint32_t)buf[i] << 16;
		out[o++] = b64chars[v >> 18];
		out[o++] = b64chars[(v >> 12) & 63];
	} else if (len - i == 2) {
		v = (uint32_t)buf[i] << 16 | (uint32_t)buf[i + 1] << 8;
		out[o++] = b64chars[v >> 18];
		out[o++] = b64chars[(v >> 12) & 63];
		out[o++] = b64chars[(v >> 6) & 63];
	}
	return o;
}

void
mig_base64_raw_encode(const unsigned char *buf, size_t len, char *out)
{
	out[encode(buf, len, out)] = '\0';
}

void
mig_base64_encode(const unsigned char *buf, size_t len, char *out)
{
	size_t o = encode(buf, len, out);

	while (o % 4 != 0)
		out[o++] = '=';
	out[o] = '\0';
}

long
mig_base64_raw_decode(const char *s, size_t slen, unsigned char *out,
    size_t cap)
{
	size_t i, o = 0, rem = slen % 4;
	uint32_t v;
	int a, b, c, d;

	if (rem == 1 || slen > (size_t)LONG_MAX / 3 * 4 - 4 ||
	    slen / 4 * 3 + (rem == 0 ? 0 : rem - 1) > cap)
		return -1;
	for (i = 0; i + 4 <= slen; i += 4) {
		a = b64val((unsigned char)s[i]);
		b = b64val((unsigned char)s[i + 1]);
		c = b64val((unsigned char)s[i + 2]);
		d = b64val((unsigned char)s[i + 3]);
		if ((a | b | c | d) < 0)
			return -1;
		v = (uint32_t)a << 18 | (uint32_t)b << 12 |
		    (uint32_t)c << 6 | (uint32_t)d;
		out[o++] = (unsigned char)(v >> 16);
		out[o++] = (unsigned char)(v >> 8);
		out[o++] = (unsigned char)v;
	}
	/* The unused low bits of the last character must be zero. */
	if (rem == 2) {
		a = b64val((unsigned char)s[i]);
		b = b64val((unsigned char)s[i + 1]);
		if ((a | b) < 0 || (b & 15) != 0)
			return -1;
		out[o++] = (unsigned char)(a << 2 | b >> 4);
	} else if (rem == 3) {
		a = b64val((unsigned char)s[i]);
		b = b64val((unsigned char)s[i + 1]);
		c = b64val((unsigned char)s[i + 2]);
		if ((a | b | c) < 0 || (c & 3) != 0)
			return -1;
		out[o++] = (unsigned char)(a << 2 | b >> 4);
		out[o++] = (unsigned char)((b & 15) << 4 | c >> 2);
	}
	return (long)o;
}

long
mig_base64_decode(const char *s, size_t slen, unsigned char *out,
    size_t cap)
{
	size_t pad = 0;

	if (slen % 4 != 0)
		return -1;
	if (slen >= 1 && s[slen - 1] == '=')
		pad++;
	if (slen >= 2 && s[slen - 2] == '=')
		pad++;
	/* The raw decoder refuses any '=' left in the body. */
	return mig_base64_raw_decode(s, slen - pad, out, cap);
}
