/*
 * A string-keyed hash table: FNV-1a, open addressing with linear
 * probing, at most half full.  Keys are borrowed, values are size_t.
 */
#include <stdlib.h>
#include <string.h>

#include "migrate/error.h"
#include "migrate/util.h"

uint64_t
mig_fnv1a(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/*
 * The slot for a key.  The high bits are folded in: the low bits of
 * FNV-1a alone vary little across keys that differ only at their end,
 * such as "data/f1" and "data/f2".
 */
static size_t
slot_of(const struct mig_htab *h, const char *key)
{
	uint64_t v = mig_fnv1a(key, strlen(key));
	size_t i = (size_t)(v ^ (v >> 29)) & (h->cap - 1);

	while (h->keys[i] != NULL && strcmp(h->keys[i], key) != 0)
		i = (i + 1) & (h->cap - 1);
	return i;
}

int
mig_htab_init(struct mig_htab *h, size_t expect)
{
	size_t cap = 16;

	memset(h, 0, sizeof(*h));
	while (cap / 2 < expect) {
		if (cap > SIZE_MAX / 4 / sizeof(*h->vals))
			return MIG_ERR_NOMEM;
		cap *= 2;
	}
	h->keys = calloc(cap, sizeof(*h->keys));
	h->vals = calloc(cap, sizeof(*h->vals));
	if (h->keys == NULL || h->vals == NULL) {
		mig_htab_free(h);
		return MIG_ERR_NOMEM;
	}
	h->cap = cap;
	return 0;
}

void
mig_htab_free(struct mig_htab *h)
{
	free(h->keys);
	free(h->vals);
	memset(h, 0, sizeof(*h));
}

bool
mig_htab_get(const struct mig_htab *h, const char *key, size_t *val)
{
	size_t i;

	if (h->cap == 0)
		return false;
	i = slot_of(h, key);
	if (h->keys[i] == NULL)
		return false;
	if (val != NULL)
		*val = h->vals[i];
	return true;
}

/* Doubles the table; on failure it is left as it was. */
static int
grow(struct mig_htab *h)
{
	struct mig_htab nh;
	size_t i, j;
	int r;

	if ((r = mig_htab_init(&nh, h->cap)) != 0)
		return r;
	for (i = 0; i < h->cap; i++) {
		if (h->keys[i] == NULL)
			continue;
		j = slot_of(&nh, h->keys[i]);
		nh.keys[j] = h->keys[i];
		nh.vals[j] = h->vals[i];
	}
	nh.n = h->n;
	mig_htab_free(h);
	*h = nh;
	return 0;
}

int
mig_htab_put(struct mig_htab *h, const char *key, size_t val, bool *found,
    size_t *old)
{
	size_t i;
	int r = 0;

	*found = false;
	if (h->cap == 0)
		r = mig_htab_init(h, 8);
	else if (h->n + 1 > h->cap / 2)
		r = grow(h);
	if (r != 0)
		return r;
	i = slot_of(h, key);
	if (h->keys[i] != NULL) {
		*found = true;
		if (old != NULL)
			*old = h->vals[i];
		return 0;
	}
	h->keys[i] = key;
	h->vals[i] = val;
	h->n++;
	return 0;
}

bool
mig_htab_next(const struct mig_htab *h, size_t *iter, const char **keyp,
    size_t *valp)
{
	size_t i;

	for (i = *iter; i < h->cap; i++) {
		if (h->keys[i] == NULL)
			continue;
		*keyp = h->keys[i];
		if (valp != NULL)
			*valp = h->vals[i];
		*iter = i + 1;
		return true;
	}
	*iter = h->cap;
	return false;
}
