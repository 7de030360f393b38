/*
 * Bech32 (BIP 173) as age uses it: the classic checksum constant 1, no
 * length limit on the data part, all upper or all lower case.  Written
 * from the BIP; the checksum is computed over the lower-case string.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "migrate/error.h"

#define MIG_CRYPTO_INTERNAL
#include "crypto_int.h"

static const char charset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/* BIP 173 checksum generator over GF(32). */
static uint32_t
polymod_step(uint32_t chk, unsigned int v)
{
	static const uint32_t gen[5] = {
		0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3
	};
	uint32_t top = chk >> 25;
	int i;

	chk = ((chk & 0x1ffffff) << 5) ^ v;
	for (i = 0; i < 5; i++)
		if ((top >> i) & 1)
			chk ^= gen[i];
	return chk;
}

/* Checksum state after the expanded human-readable part. */
static uint32_t
polymod_hrp(const char *hrp, size_t hlen)
{
	uint32_t chk = 1;
	size_t i;

	for (i = 0; i < hlen; i++)
		chk = polymod_step(chk, (unsigned char)hrp[i] >> 5);
	chk = polymod_step(chk, 0);
	for (i = 0; i < hlen; i++)
		chk = polymod_step(chk, (unsigned char)hrp[i] & 31);
	return chk;
}

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

int
mig_bech32_encode(const char *hrp, const unsigned char *data, size_t len,
    bool upper, char **outp)
{
	size_t hlen, n5, total, i, o;
	uint32_t chk, acc = 0;
	unsigned int bits = 0;
	unsigned char *d5;
	char *out;
	int rc = MIG_ERR_NOMEM;

	*outp = NULL;
	hlen = strlen(hrp);
	if (len > SIZE_MAX / 8 - 8)
		return MIG_ERR_USAGE;
	n5 = (len * 8 + 4) / 5;
	total = hlen + 1 + n5 + 6;
	if ((d5 = calloc(n5 + 6, 1)) == NULL)
		return MIG_ERR_NOMEM;
	if ((out = malloc(total + 1)) == NULL)
		goto out_free_d5;
	/* Regroup 8-bit bytes into 5-bit groups, zero-padding the last. */
	for (i = 0, o = 0; i < len; i++) {
		acc = (acc << 8) | data[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			d5[o++] = (acc >> bits) & 31;
		}
	}
	if (bits > 0)
		d5[o++] = (acc << (5 - bits)) & 31;
	chk = polymod_hrp(hrp, hlen);
	for (i = 0; i < n5; i++)
		chk = polymod_step(chk, d5[i]);
	for (i = 0; i < 6; i++)
		chk = polymod_step(chk, 0);
	chk ^= 1;
	for (i = 0; i < 6; i++)
		d5[n5 + i] = (chk >> (5 * (5 - i))) & 31;
	for (i = 0; i < hlen; i++)
		out[i] = (upper && hrp[i] >= 'a' && hrp[i] <= 'z') ?
		    (char)(hrp[i] - 'a' + 'A') : hrp[i];
	out[hlen] = '1';
	for (i = 0; i < n5 + 6; i++) {
		char c = charset[d5[i]];

		if (upper && c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		out[hlen + 1 + i] = c;
	}
	out[total] = '\0';
	*outp = out;
	rc = 0;
out_free_d5:
	OPENSSL_cleanse(d5, n5 + 6);
	free(d5);
	return rc;
}

static int
charset_value(int c)
{
	const char *p;

	if (c == '\0')
		return -1;
	p = strchr(charset, c);
	return p == NULL ? -1 : (int)(p - charset);
}

/*
 * Every character is printable US-ASCII (33 to 126), and upper and lower
 * case are not mixed.
 */
static bool
valid_chars(const char *s, size_t slen)
{
	bool has_lower = false, has_upper = false;
	size_t i;

	for (i = 0; i < slen; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 33 || c > 126)
			return false;
		if (c >= 'a' && c <= 'z')
			has_lower = true;
		if (c >= 'A' && c <= 'Z')
			has_upper = true;
	}
	return !(has_lower && has_upper);
}

/*
 * Regroups n5 5-bit groups into bytes at data (room for n5 * 5 / 8), their
 * count into *lenp.  False unless the padding is at most 4 bits, all zero.
 */
static bool
regroup(const unsigned char *d5, size_t n5, unsigned char *data,
    size_t *lenp)
{
	uint32_t acc = 0;
	unsigned int bits = 0;
	size_t i, o;

	for (i = 0, o = 0; i < n5; i++) {
		acc = ((acc << 5) | d5[i]) & 0xfff;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			data[o++] = (acc >> bits) & 0xff;
		}
	}
	*lenp = o;
	return bits < 5 && (acc & ((1u << bits) - 1)) == 0;
}

int
mig_bech32_decode(const char *s, char **hrpp, unsigned char **datap,
    size_t *lenp)
{
	size_t slen, hlen, n5, i, o;
	const char *sep;
	unsigned char *d5 = NULL, *data = NULL;
	char *hrp = NULL;
	uint32_t chk;
	int rc = MIG_ERR_PARSE, v;

	*hrpp = NULL;
	*datap = NULL;
	*lenp = 0;
	slen = strlen(s);
	if (!valid_chars(s, slen))
		return MIG_ERR_PARSE;
	if ((sep = strrchr(s, '1')) == NULL)
		return MIG_ERR_PARSE;
	hlen = (size_t)(sep - s);
	if (hlen < 1 || slen - hlen - 1 < 6)
		return MIG_ERR_PARSE;
	n5 = slen - hlen - 1 - 6;
	if ((hrp = malloc(hlen + 1)) == NULL ||
	    (d5 = malloc(n5 + 6 + 1)) == NULL ||
	    (data = malloc(n5 * 5 / 8 + 1)) == NULL) {
		rc = MIG_ERR_NOMEM;
		goto out_free;
	}
	for (i = 0; i < hlen; i++)
		hrp[i] = (char)lower(s[i]);
	hrp[hlen] = '\0';
	for (i = 0; i < n5 + 6; i++) {
		if ((v = charset_value(lower(sep[1 + i]))) < 0)
			goto out_free;
		d5[i] = (unsigned char)v;
	}
	chk = polymod_hrp(hrp, hlen);
	for (i = 0; i < n5 + 6; i++)
		chk = polymod_step(chk, d5[i]);
	if (chk != 1)
		goto out_free;
	if (!regroup(d5, n5, data, &o))
		goto out_free;
	*hrpp = hrp;
	*datap = data;
	*lenp = o;
	hrp = NULL;
	data = NULL;
	rc = 0;
out_free:
	if (data != NULL) {
		OPENSSL_cleanse(data, n5 * 5 / 8 + 1);
		free(data);
	}
	if (d5 != NULL) {
		OPENSSL_cleanse(d5, n5 + 6 + 1);
		free(d5);
	}
	free(hrp);
	return rc;
}
