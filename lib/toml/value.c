/*
 * The TOML document: its arena, table index and read-only accessors.
 */
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/error.h"
#include "migrate/toml.h"
#include "migrate/util.h"

#define MIG_TOML_PRIVATE
#include "toml_int.h"

#define BLOCK_SIZE	(64 * 1024)

struct mig_toml_block {
	struct mig_toml_block	*next;
	size_t			 used, size;
	alignas(max_align_t) unsigned char data[];
};

struct mig_toml_doc *
mig_toml_doc_new(void)
{
	return calloc(1, sizeof(struct mig_toml_doc));
}

/*
 * Returns size zeroed bytes aligned for any type, owned by doc, or NULL
 * on ENOMEM.  A request larger than a block gets a block of its own.
 */
void *
mig_toml_alloc(struct mig_toml_doc *doc, size_t size)
{
	struct mig_toml_block *b = doc->blocks;
	const size_t align = alignof(max_align_t);
	size_t bsize;
	void *p;

	if (size > SIZE_MAX / 2)
		return NULL;
	size = (size + align - 1) & ~(align - 1);
	if (size == 0)
		size = align;
	if (b == NULL || b->size - b->used < size) {
		bsize = size > BLOCK_SIZE ? size : BLOCK_SIZE;
		if ((b = malloc(sizeof(*b) + bsize)) == NULL)
			return NULL;
		b->used = 0;
		b->size = bsize;
		if (size > BLOCK_SIZE / 4 && doc->blocks != NULL) {
			/* Keep filling the current block after this one. */
			b->next = doc->blocks->next;
			doc->blocks->next = b;
		} else {
			b->next = doc->blocks;
			doc->blocks = b;
		}
	}
	p = b->data + b->used;
	b->used += size;
	memset(p, 0, size);
	return p;
}

void
mig_toml_free(struct mig_toml_doc *doc)
{
	struct mig_toml_block *b, *next;

	if (doc == NULL)
		return;
	for (b = doc->blocks; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	free(doc);
}

size_t
mig_toml_find(const struct mig_toml_value *t, const char *key, size_t klen,
    uint64_t hash)
{
	const struct mig_toml_entry *e;
	size_t i, mask;
	uint32_t slot;

	if (t->u.tab.idx == NULL) {
		for (i = 0; i < t->u.tab.len; i++) {
			e = &t->u.tab.ents[i];
			if (e->hash == hash && e->klen == klen &&
			    memcmp(e->key, key, klen) == 0)
				return i;
		}
		return SIZE_MAX;
	}
	mask = t->u.tab.icap - 1;
	for (i = (size_t)hash & mask;; i = (i + 1) & mask) {
		if ((slot = t->u.tab.idx[i]) == 0)
			return SIZE_MAX;
		e = &t->u.tab.ents[slot - 1];
		if (e->hash == hash && e->klen == klen &&
		    memcmp(e->key, key, klen) == 0)
			return slot - 1;
	}
}

/* Rebuilds the index of t with icap slots (a power of two). */
static int
reindex(struct mig_toml_doc *doc, struct mig_toml_value *t, size_t icap)
{
	uint32_t *idx;
	size_t i, j, mask = icap - 1;

	if (icap > SIZE_MAX / sizeof(*idx) ||
	    (idx = mig_toml_alloc(doc, icap * sizeof(*idx))) == NULL)
		return MIG_ERR_NOMEM;
	for (i = 0; i < t->u.tab.len; i++) {
		j = (size_t)t->u.tab.ents[i].hash & mask;
		while (idx[j] != 0)
			j = (j + 1) & mask;
		idx[j] = (uint32_t)(i + 1);
	}
	t->u.tab.idx = idx;
	t->u.tab.icap = icap;
	return 0;
}

/*
 * Grows an arena array of *capp elements of size sz to hold one more.
 * The old storage stays in the arena: at most half of it is wasted.
 */
static void *
grow(struct mig_toml_doc *doc, void *old, size_t len, size_t *capp, size_t sz)
{
	size_t cap = *capp == 0 ? 4 : *capp * 2;
	void *p;

	if (len < *capp)
		return old;
	if (cap > SIZE_MAX / sz || cap > UINT32_MAX - 1)
		return NULL;
	if ((p = mig_toml_alloc(doc, cap * sz)) == NULL)
		return NULL;
	if (len > 0)
		memcpy(p, old, len * sz);
	*capp = cap;
	return p;
}

int
mig_toml_insert(struct mig_toml_doc *doc, struct mig_toml_value *t,
    const char *key, size_t klen, uint64_t hash, struct mig_toml_pos pos,
    struct mig_toml_value *val)
{
	struct mig_toml_entry *ents, *e;
	size_t j, mask, n;

	ents = grow(doc, t->u.tab.ents, t->u.tab.len, &t->u.tab.cap,
	    sizeof(*ents));
	if (ents == NULL)
		return MIG_ERR_NOMEM;
	t->u.tab.ents = ents;
	e = &ents[t->u.tab.len++];
	e->key = key;
	e->klen = klen;
	e->hash = hash;
	e->pos = pos;
	e->val = val;
	n = t->u.tab.len;
	if (n < MIG_TOML_INDEX_MIN)
		return 0;
	if (t->u.tab.idx == NULL || n > t->u.tab.icap / 2)
		return reindex(doc, t, t->u.tab.icap == 0 ? 32 :
		    t->u.tab.icap * 2);
	mask = t->u.tab.icap - 1;
	j = (size_t)hash & mask;
	while (t->u.tab.idx[j] != 0)
		j = (j + 1) & mask;
	t->u.tab.idx[j] = (uint32_t)n;
	return 0;
}

int
mig_toml_push(struct mig_toml_doc *doc, struct mig_toml_value *a,
    struct mig_toml_value *val)
{
	struct mig_toml_value **items;

	items = grow(doc, a->u.arr.items, a->u.arr.len, &a->u.arr.cap,
	    sizeof(*items));
	if (items == NULL)
		return MIG_ERR_NOMEM;
	a->u.arr.items = items;
	items[a->u.arr.len++] = val;
	return 0;
}

const struct mig_toml_value *
mig_toml_root(const struct mig_toml_doc *doc)
{
	return doc == NULL ? NULL : doc->root;
}

enum mig_toml_type
mig_toml_type(const struct mig_toml_value *v)
{
	return v->type;
}

const char *
mig_toml_type_name(enum mig_toml_type t)
{
	switch (t) {
	case MIG_TOML_TABLE:		return "table";
	case MIG_TOML_ARRAY:		return "array";
	case MIG_TOML_STRING:		return "string";
	case MIG_TOML_INTEGER:		return "integer";
	case MIG_TOML_FLOAT:		return "float";
	case MIG_TOML_BOOL:		return "boolean";
	case MIG_TOML_DATETIME:		return "offset date-time";
	case MIG_TOML_DATETIME_LOCAL:	return "local date-time";
	case MIG_TOML_DATE_LOCAL:	return "local date";
	case MIG_TOML_TIME_LOCAL:	return "local time";
	}
	return "unknown";
}

struct mig_toml_pos
mig_toml_value_pos(const struct mig_toml_value *v)
{
	return v->pos;
}

size_t
mig_toml_table_len(const struct mig_toml_value *t)
{
	if (t == NULL || t->type != MIG_TOML_TABLE)
		return 0;
	return t->u.tab.len;
}

const char *
mig_toml_table_key(const struct mig_toml_value *t, size_t i, size_t *lenp)
{
	if (lenp != NULL)
		*lenp = 0;
	if (t == NULL || t->type != MIG_TOML_TABLE || i >= t->u.tab.len)
		return NULL;
	if (lenp != NULL)
		*lenp = t->u.tab.ents[i].klen;
	return t->u.tab.ents[i].key;
}

struct mig_toml_pos
mig_toml_table_key_pos(const struct mig_toml_value *t, size_t i)
{
	struct mig_toml_pos none = { 0, 0 };

	if (t == NULL || t->type != MIG_TOML_TABLE || i >= t->u.tab.len)
		return none;
	return t->u.tab.ents[i].pos;
}

const struct mig_toml_value *
mig_toml_table_value(const struct mig_toml_value *t, size_t i)
{
	if (t == NULL || t->type != MIG_TOML_TABLE || i >= t->u.tab.len)
		return NULL;
	return t->u.tab.ents[i].val;
}

/* Value for the klen bytes of key in t, or NULL. */
static const struct mig_toml_value *
table_getn(const struct mig_toml_value *t, const char *key, size_t klen)
{
	size_t i;

	if (t == NULL || t->type != MIG_TOML_TABLE)
		return NULL;
	i = mig_toml_find(t, key, klen, mig_fnv1a(key, klen));
	return i == SIZE_MAX ? NULL : t->u.tab.ents[i].val;
}

const struct mig_toml_value *
mig_toml_table_get(const struct mig_toml_value *t, const char *key)
{
	if (key == NULL)
		return NULL;
	return table_getn(t, key, strlen(key));
}

const struct mig_toml_value *
mig_toml_get_path(const struct mig_toml_value *t, const char *path)
{
	const char *dot;

	if (path == NULL)
		return NULL;
	while (t != NULL && (dot = strchr(path, '.')) != NULL) {
		t = table_getn(t, path, (size_t)(dot - path));
		path = dot + 1;
	}
	return table_getn(t, path, strlen(path));
}

size_t
mig_toml_array_len(const struct mig_toml_value *a)
{
	if (a == NULL || a->type != MIG_TOML_ARRAY)
		return 0;
	return a->u.arr.len;
}

const struct mig_toml_value *
mig_toml_array_at(const struct mig_toml_value *a, size_t i)
{
	if (a == NULL || a->type != MIG_TOML_ARRAY || i >= a->u.arr.len)
		return NULL;
	return a->u.arr.items[i];
}

const char *
mig_toml_string(const struct mig_toml_value *v, size_t *lenp)
{
	if (lenp != NULL)
		*lenp = 0;
	if (v == NULL || v->type != MIG_TOML_STRING)
		return NULL;
	if (lenp != NULL)
		*lenp = v->u.str.len;
	return v->u.str.ptr;
}

int64_t
mig_toml_int(const struct mig_toml_value *v)
{
	if (v == NULL || v->type != MIG_TOML_INTEGER)
		return 0;
	return v->u.i;
}

double
mig_toml_float(const struct mig_toml_value *v)
{
	if (v == NULL || v->type != MIG_TOML_FLOAT)
		return 0.0;
	return v->u.f;
}

bool
mig_toml_bool(const struct mig_toml_value *v)
{
	if (v == NULL || v->type != MIG_TOML_BOOL)
		return false;
	return v->u.b;
}

static bool
is_datetime(const struct mig_toml_value *v)
{
	return v != NULL && (v->type == MIG_TOML_DATETIME ||
	    v->type == MIG_TOML_DATETIME_LOCAL ||
	    v->type == MIG_TOML_DATE_LOCAL ||
	    v->type == MIG_TOML_TIME_LOCAL);
}

const struct mig_toml_datetime *
mig_toml_datetime(const struct mig_toml_value *v)
{
	return is_datetime(v) ? &v->u.dt.dt : NULL;
}

const char *
mig_toml_datetime_text(const struct mig_toml_value *v)
{
	return is_datetime(v) ? v->u.dt.text : NULL;
}
