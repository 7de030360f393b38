/*
 * libFuzzer target for lib/toml: parses the input and, when it is valid,
 * walks the whole document through the public accessors.
 *
 *   make fuzz && build/fuzz/fuzz_toml tests/fuzz/corpus/toml
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/error.h"
#include "migrate/toml.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Touches every byte the API hands out, so ASan checks it. */
static size_t
walk(const struct mig_toml_value *v, unsigned depth)
{
	const struct mig_toml_datetime *dt;
	const char *s;
	size_t n = 0, i, len;

	if (depth > MIG_TOML_MAX_DEPTH + 1)
		abort();
	switch (mig_toml_type(v)) {
	case MIG_TOML_TABLE:
		for (i = 0; i < mig_toml_table_len(v); i++) {
			s = mig_toml_table_key(v, i, &len);
			if (s == NULL || s[len] != '\0')
				abort();
			/* Every key must be found again by lookup. */
			if (strlen(s) == len &&
			    mig_toml_table_get(v, s) == NULL)
				abort();
			n += len + mig_toml_table_key_pos(v, i).line;
			n += walk(mig_toml_table_value(v, i), depth + 1);
		}
		break;
	case MIG_TOML_ARRAY:
		for (i = 0; i < mig_toml_array_len(v); i++)
			n += walk(mig_toml_array_at(v, i), depth + 1);
		break;
	case MIG_TOML_STRING:
		s = mig_toml_string(v, &len);
		if (s == NULL || s[len] != '\0')
			abort();
		n += len;
		break;
	case MIG_TOML_INTEGER:
		n += (size_t)mig_toml_int(v);
		break;
	case MIG_TOML_FLOAT:
		n += mig_toml_float(v) > 0;
		break;
	case MIG_TOML_BOOL:
		n += mig_toml_bool(v);
		break;
	default:
		dt = mig_toml_datetime(v);
		s = mig_toml_datetime_text(v);
		if (dt == NULL || s == NULL)
			abort();
		n += strlen(s) + (size_t)dt->second;
		break;
	}
	return n + mig_toml_value_pos(v).col;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mig_toml_error err;
	struct mig_toml_doc *doc;
	volatile size_t sink;
	size_t i, lines = 1;
	int r;

	r = mig_toml_parse((const char *)data, size, &doc, &err);
	if (r == 0) {
		sink = walk(mig_toml_root(doc), 0);
		(void)sink;
		mig_toml_free(doc);
		return 0;
	}
	/* Errors point inside the document and say something. */
	for (i = 0; i < size; i++)
		lines += data[i] == '\n';
	if (r != MIG_ERR_PARSE || doc != NULL || err.pos.line == 0 ||
	    err.pos.line > lines || err.pos.col == 0 || err.msg[0] == '\0' ||
	    memchr(err.msg, '\0', sizeof(err.msg)) == NULL)
		abort();
	return 0;
}
