/*
 * toml-decoder: the toml-test decoder for lib/toml.
 *
 * Reads TOML on stdin and prints the tagged JSON of toml-test on stdout,
 * exit 0.  On invalid input prints "LINE:COL: MESSAGE" on stderr, exit 1.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/error.h"
#include "migrate/toml.h"

static void
put_string(const char *s, size_t len)
{
	unsigned char c;
	size_t i;

	putchar('"');
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		switch (c) {
		case '"':
			fputs("\\\"", stdout);
			break;
		case '\\':
			fputs("\\\\", stdout);
			break;
		case '\n':
			fputs("\\n", stdout);
			break;
		case '\t':
			fputs("\\t", stdout);
			break;
		case '\r':
			fputs("\\r", stdout);
			break;
		default:
			if (c < 0x20 || c == 0x7f)
				printf("\\u%04x", c);
			else
				putchar(c);
		}
	}
	putchar('"');
}

static void
put_leaf(const char *type, const char *value)
{
	printf("{\"type\":\"%s\",\"value\":", type);
	put_string(value, strlen(value));
	putchar('}');
}

static void
put_float(double f)
{
	char buf[64];

	if (isnan(f))
		(void)snprintf(buf, sizeof(buf), "nan");
	else if (isinf(f))
		(void)snprintf(buf, sizeof(buf), "%sinf", f < 0 ? "-" : "");
	else
		(void)snprintf(buf, sizeof(buf), "%.17g", f);
	put_leaf("float", buf);
}

static void
put_value(const struct mig_toml_value *v)
{
	char buf[32];
	const char *s;
	size_t i, len;

	switch (mig_toml_type(v)) {
	case MIG_TOML_TABLE:
		putchar('{');
		for (i = 0; i < mig_toml_table_len(v); i++) {
			if (i > 0)
				putchar(',');
			s = mig_toml_table_key(v, i, &len);
			put_string(s, len);
			putchar(':');
			put_value(mig_toml_table_value(v, i));
		}
		putchar('}');
		break;
	case MIG_TOML_ARRAY:
		putchar('[');
		for (i = 0; i < mig_toml_array_len(v); i++) {
			if (i > 0)
				putchar(',');
			put_value(mig_toml_array_at(v, i));
		}
		putchar(']');
		break;
	case MIG_TOML_STRING:
		s = mig_toml_string(v, &len);
		fputs("{\"type\":\"string\",\"value\":", stdout);
		put_string(s, len);
		putchar('}');
		break;
	case MIG_TOML_INTEGER:
		(void)snprintf(buf, sizeof(buf), "%" PRId64, mig_toml_int(v));
		put_leaf("integer", buf);
		break;
	case MIG_TOML_FLOAT:
		put_float(mig_toml_float(v));
		break;
	case MIG_TOML_BOOL:
		put_leaf("bool", mig_toml_bool(v) ? "true" : "false");
		break;
	case MIG_TOML_DATETIME:
		put_leaf("datetime", mig_toml_datetime_text(v));
		break;
	case MIG_TOML_DATETIME_LOCAL:
		put_leaf("datetime-local", mig_toml_datetime_text(v));
		break;
	case MIG_TOML_DATE_LOCAL:
		put_leaf("date-local", mig_toml_datetime_text(v));
		break;
	case MIG_TOML_TIME_LOCAL:
		put_leaf("time-local", mig_toml_datetime_text(v));
		break;
	}
}

int
main(void)
{
	struct mig_toml_error err;
	struct mig_toml_doc *doc;
	char *buf = NULL, *nb;
	size_t len = 0, cap = 0, n;
	int r;

	for (;;) {
		if (cap - len < 65536) {
			cap = cap == 0 ? 65536 : cap * 2;
			if ((nb = realloc(buf, cap)) == NULL) {
				fprintf(stderr, "toml-decoder: %s\n",
				    mig_strerror(MIG_ERR_NOMEM));
				free(buf);
				return 2;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, stdin);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(stdin)) {
		fprintf(stderr, "toml-decoder: read error\n");
		free(buf);
		return 2;
	}
	r = mig_toml_parse(buf, len, &doc, &err);
	free(buf);
	if (r != 0) {
		fprintf(stderr, "%u:%u: %s\n", err.pos.line, err.pos.col,
		    err.msg);
		return 1;
	}
	put_value(mig_toml_root(doc));
	putchar('\n');
	mig_toml_free(doc);
	return fflush(stdout) == 0 ? 0 : 2;
}
