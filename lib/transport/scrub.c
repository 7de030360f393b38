/*
 * Scrubbing server-sent text of the request's credentials (see
 * scrub_int.h).  One pass over the input: at each position the longest
 * secret that starts there is replaced, so that "user:password" goes
 * whole rather than leaving "user:" before a redacted password.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define MIG_TRANSPORT_INTERNAL
#include "scrub_int.h"

/*
 * Length of the longest secret at in[i..inlen), or 0.  With cut, a
 * secret that starts at i and runs past inlen counts as matching all the
 * rest of the input.
 */
static size_t
match_at(const char *in, size_t inlen, size_t i, bool cut,
    const char *const *secrets, size_t n)
{
	size_t k, len, left = inlen - i, best = 0;

	for (k = 0; k < n; k++) {
		if (secrets[k] == NULL || (len = strlen(secrets[k])) == 0)
			continue;
		if (len <= left) {
			if (memcmp(in + i, secrets[k], len) == 0 && len > best)
				best = len;
		} else if (cut && memcmp(in + i, secrets[k], left) == 0)
			best = left;
	}
	return best;
}

static size_t
scrub(const char *in, size_t inlen, bool cut, const char *const *secrets,
    size_t n, bool printable, size_t max, char *out, size_t cap)
{
	static const char red[] = MIG_SCRUB_REDACTED;
	size_t i = 0, o = 0, m, k;
	unsigned char c;

	if (cap == 0)
		return 0;
	if (max > cap - 1)
		max = cap - 1;
	while (i < inlen && o < max) {
		if ((m = match_at(in, inlen, i, cut, secrets, n)) > 0) {
			for (k = 0; k < sizeof(red) - 1 && o < max; k++)
				out[o++] = red[k];
			i += m;
			continue;
		}
		c = (unsigned char)in[i++];
		out[o++] = printable && (c < 0x20 || c == 0x7f) ? '?' :
		    (char)c;
	}
	out[o] = '\0';
	return o;
}

size_t
mig_scrub_secrets(const char *in, size_t inlen, bool cut,
    const char *const *secrets, size_t n, char *out, size_t cap)
{
	return scrub(in, inlen, cut, secrets, n, false, (size_t)-1, out, cap);
}

size_t
mig_scrub(const char *in, size_t inlen, bool cut, const char *const *secrets,
    size_t n, size_t max, char *out, size_t cap)
{
	return scrub(in, inlen, cut, secrets, n, true, max, out, cap);
}
