/*
 * Small string helpers that several modules need.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/util.h"

char *
mig_strdup_or_null(const char *s, bool *nomem)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		*nomem = true;
	return d;
}
