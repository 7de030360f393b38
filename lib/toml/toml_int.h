/*
 * Internals of the TOML parser, shared by parse.c, scalar.c and value.c.
 */
#ifndef MIGRATE_TOML_INT_H
#define MIGRATE_TOML_INT_H

#if !defined(MIG_TOML_PRIVATE) && !defined(MIG_INTERNAL)
#error "toml_int.h is private to lib/toml"
#endif

#include <stddef.h>
#include <stdint.h>

#include "migrate/toml.h"

/*
 * Table flags (see the redefinition rules in parse.c): EXPLICIT, defined
 * by a [header]; DOTTED, created or extended by dotted keys; FROZEN, an
 * inline table or a table inside one.  Array flag: AOT, an array of
 * tables made by [[header]].
 */
#define MIG_TOML_F_EXPLICIT	0x01
#define MIG_TOML_F_DOTTED	0x02
#define MIG_TOML_F_FROZEN	0x04
#define MIG_TOML_F_AOT		0x08

/* Tables at least this long get a hash index. */
#define MIG_TOML_INDEX_MIN	8

/* A table entry; key is NUL-terminated and may hold NUL bytes. */
struct mig_toml_entry {
	const char		*key;
	size_t			 klen;
	uint64_t		 hash;
	struct mig_toml_pos	 pos;
	struct mig_toml_value	*val;
};

struct mig_toml_value {
	enum mig_toml_type	 type;
	struct mig_toml_pos	 pos;
	unsigned		 flags;
	unsigned		 depth;	/* root table is 0 */
	unsigned long		 gen;	/* section that last used it */
	union {
		struct {
			struct mig_toml_entry	*ents;
			size_t			 len, cap;
			/* Hash slots: entry index + 1, 0 when empty. */
			uint32_t		*idx;
			size_t			 icap;	/* a power of two */
		} tab;
		struct {
			struct mig_toml_value	**items;
			size_t			 len, cap;
		} arr;
		struct {
			char	*ptr;
			size_t	 len;
		} str;
		int64_t		 i;
		double		 f;
		bool		 b;
		struct {
			struct mig_toml_datetime	 dt;
			char				*text;
		} dt;
	} u;
};

struct mig_toml_block;

/* Every byte of a document lives in its arena: one owner, one free. */
struct mig_toml_doc {
	struct mig_toml_block	*blocks;
	struct mig_toml_value	*root;
};

void	*mig_toml_alloc(struct mig_toml_doc *doc, size_t size);
struct mig_toml_doc *mig_toml_doc_new(void);
/* Index of key in table t, or SIZE_MAX. */
size_t	 mig_toml_find(const struct mig_toml_value *t, const char *key,
	    size_t klen, uint64_t hash);
/* Appends an entry; key must live in doc.  Returns 0 or MIG_ERR_NOMEM. */
int	 mig_toml_insert(struct mig_toml_doc *doc, struct mig_toml_value *t,
	    const char *key, size_t klen, uint64_t hash,
	    struct mig_toml_pos pos, struct mig_toml_value *val);
int	 mig_toml_push(struct mig_toml_doc *doc, struct mig_toml_value *a,
	    struct mig_toml_value *val);

#endif /* MIGRATE_TOML_INT_H */
