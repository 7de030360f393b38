/*
 * Sizes and rates as people write them in plans and on command lines.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "migrate/util.h"

int
mig_parse_size(const char *s, uint64_t *out)
{
	static const struct {
		const char	*suffix;
		unsigned	 shift;
	} units[] = {
		{ "", 0 }, { "K", 10 }, { "KiB", 10 }, { "M", 20 },
		{ "MiB", 20 }, { "G", 30 }, { "GiB", 30 },
	};
	unsigned long long n;
	char *end;
	size_t i;

	/* strtoull would take " 5", "+5" and "-5" (as a huge number). */
	if (s == NULL || !isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(end, units[i].suffix) != 0)
			continue;
		if (n > (UINT64_MAX >> units[i].shift))
			return -1;
		*out = (uint64_t)n << units[i].shift;
		return 0;
	}
	return -1;
}

int
mig_parse_rate(const char *s, uint64_t *out)
{
	if (s != NULL && strcasecmp(s, "off") == 0) {
		*out = 0;
		return 0;
	}
	return mig_parse_size(s, out);
}
