/*
 * libFuzzer target for the audit log reader: the line reader, the JSON
 * line scanner and the verifier state machine, fed the input as a log.
 * Besides memory safety it checks, line by line, that a line the scanner
 * accepts is JSON for jansson too, and that the strings the scanner
 * decodes are those jansson decodes.
 *
 *   make fuzz && build/fuzz/fuzz_audit tests/fuzz/corpus/audit
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "migrate/audit.h"
#include "migrate/error.h"

#include "audit/audit_int.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
	const char		*name;
	enum audit_field	 f;
} names[] = {
	{ "ts", AF_TS }, { "run", AF_RUN }, { "event", AF_EVENT },
	{ "object", AF_OBJECT }, { "reason", AF_REASON }, { "prev", AF_PREV },
};

static void
differential(const char *p, size_t n)
{
	static char buf[MIG_AUDIT_LINE_MAX + 16];
	struct audit_scan s;
	const char *why;
	json_error_t err;
	json_t *j, *m;
	uint64_t seq;
	size_t i;
	long len;

	if (audit_scan_line(p, n, &s, &why) != 0)
		return;
	(void)audit_rec_check(&s, &seq, &why);
	j = json_loadb(p, n, 0, &err);
	if (j == NULL) {
		/* jansson bounds numbers; the scanner need not. */
		if (strstr(err.text, "too big") == NULL &&
		    strstr(err.text, "overflow") == NULL &&
		    strstr(err.text, "underflow") == NULL)
			abort();
		return;
	}
	if (!json_is_object(j))
		abort();
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		m = json_object_get(j, names[i].name);
		if (s.f[names[i].f].type != AT_STRING)
			continue;
		if (!json_is_string(m))
			abort();
		len = audit_span_str(&s.f[names[i].f], buf, sizeof(buf));
		if (len < 0 || (size_t)len != json_string_length(m) ||
		    memcmp(buf, json_string_value(m), (size_t)len) != 0)
			abort();
	}
	json_decref(j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct audit_reader *r;
	struct audit_verifier *v;
	struct audit_line l;
	struct mig_audit_report rep;
	int rc;

	if (audit_reader_open(NULL, data, size, "fuzz", NULL, &r) != 0)
		return 0;
	if (audit_verifier_new(NULL, 0, NULL, &v) != 0) {
		audit_reader_free(r);
		return 0;
	}
	memset(&rep, 0, sizeof(rep));
	rc = 0;
	while (audit_reader_next(r, &l, NULL) == 1) {
		if (l.p != NULL)
			differential(l.p, l.len);
		if (rc == 0)
			rc = audit_verifier_line(v, &l, &rep);
	}
	if (rc == 0)
		(void)audit_verifier_end(v, &rep);
	audit_verifier_free(v);
	audit_reader_free(r);
	return 0;
}
