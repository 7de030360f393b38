/*
 * Review helpers for `audit show': a streaming iterator with filters and
 * per-run totals.  Memory is one line buffer plus one entry per run.
 */
#define MIG_AUDIT_INTERNAL
#include <fnmatch.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "migrate/audit.h"
#include "migrate/error.h"

#include "audit_int.h"

struct mig_audit_iter {
	struct audit_reader	*r;
	char			*run;
	char			*event;
	char			 since[MIG_AUDIT_TSLEN + 1];
	char			 until[MIG_AUDIT_TSLEN + 1];
	char			*arena;		/* decoded strings */
	size_t			 arenacap;
	size_t			 used;
	struct mig_audit_rec	 rec;
	struct mig_audit_runsum	*runs;
	size_t			 nruns;
	size_t			 capruns;
	size_t			 lastrun;
};

static int
digits(const char *s, int n, int *out)
{
	int i, v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int
mig_audit_time_parse(const char *s, char out[MIG_AUDIT_TSLEN + 1],
    struct mig_ctx *ctx)
{
	int y, mo, d, h = 0, mi = 0, se = 0, i;
	char frac[7] = "000000", tmp[64];
	const char *p = s;

	if (strlen(s) < 10 || digits(p, 4, &y) != 0 || p[4] != '-' ||
	    digits(p + 5, 2, &mo) != 0 || p[7] != '-' ||
	    digits(p + 8, 2, &d) != 0)
		goto bad;
	p += 10;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		if (digits(p + 1, 2, &h) != 0 || p[3] != ':' ||
		    digits(p + 4, 2, &mi) != 0)
			goto bad;
		p += 6;
		if (*p == ':') {
			if (digits(p + 1, 2, &se) != 0)
				goto bad;
			p += 3;
			if (*p == '.') {
				p++;
				for (i = 0; p[i] >= '0' && p[i] <= '9'; i++)
					if (i < 6)
						frac[i] = p[i];
				if (i == 0)
					goto bad;
				p += i;
			}
		}
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || se > 60)
		goto bad;
	/* Every field has its digits counted above: it fits exactly. */
	if (snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%sZ",
	    y, mo, d, h, mi, se, frac) != MIG_AUDIT_TSLEN)
		goto bad;
	memcpy(out, tmp, MIG_AUDIT_TSLEN + 1);
	return 0;
bad:
	return mig_seterr(ctx, MIG_ERR_USAGE, "\"%s\": not a UTC time "
	    "(YYYY-MM-DD[THH:MM[:SS[.ffffff]]][Z])", s);
}

int
mig_audit_iter_open(const char *path, const struct mig_audit_filter *filter,
    struct mig_ctx *ctx, struct mig_audit_iter **itp)
{
	struct mig_audit_iter *it;
	int rc;

	*itp = NULL;
	it = calloc(1, sizeof(*it));
	if (it == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	it->arenacap = MIG_AUDIT_LINE_MAX + 16;
	it->arena = malloc(it->arenacap);
	if (it->arena == NULL) {
		rc = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_free;
	}
	if (filter != NULL) {
		if ((filter->run != NULL &&
		    (it->run = strdup(filter->run)) == NULL) ||
		    (filter->event != NULL &&
		    (it->event = strdup(filter->event)) == NULL)) {
			rc = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
			goto out_free;
		}
		if (filter->since != NULL)
			(void)snprintf(it->since, sizeof(it->since), "%s",
			    filter->since);
		if (filter->until != NULL)
			(void)snprintf(it->until, sizeof(it->until), "%s",
			    filter->until);
	}
	if ((rc = audit_reader_open(path, NULL, 0, path, ctx, &it->r)) != 0)
		goto out_free;
	*itp = it;
	return 0;
out_free:
	mig_audit_iter_free(it);
	return rc;
}

/* Decodes a string member into the arena; NULL when absent. */
static const char *
take(struct mig_audit_iter *it, const struct audit_span *sp)
{
	long n;
	char *dst;

	if (sp->type != AT_STRING)
		return NULL;
	dst = it->arena + it->used;
	n = audit_span_str(sp, dst, it->arenacap - it->used);
	if (n < 0)
		return NULL;
	it->used += (size_t)n + 1;
	return dst;
}

static struct mig_audit_runsum *
runsum(struct mig_audit_iter *it, const char *run)
{
	struct mig_audit_runsum *r;
	size_t i, ncap;

	if (it->lastrun < it->nruns &&
	    strcmp(it->runs[it->lastrun].run, run) == 0)
		return &it->runs[it->lastrun];
	for (i = 0; i < it->nruns; i++)
		if (strcmp(it->runs[i].run, run) == 0) {
			it->lastrun = i;
			return &it->runs[i];
		}
	if (it->nruns == it->capruns) {
		ncap = it->capruns == 0 ? 8 : it->capruns * 2;
		r = reallocarray(it->runs, ncap, sizeof(*r));
		if (r == NULL)
			return NULL;
		it->runs = r;
		it->capruns = ncap;
	}
	r = &it->runs[it->nruns];
	memset(r, 0, sizeof(*r));
	r->run = strdup(run);
	if (r->run == NULL)
		return NULL;
	it->lastrun = it->nruns++;
	return r;
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* want is the run id itself, or the suffix that `audit show' prints. */
static bool
run_matches(const char *want, const char *run)
{
	size_t n = strlen(run), m = strlen(want);

	if (strcmp(want, run) == 0)
		return true;
	return m == MIG_AUDIT_RUN_SUFFIX && n > m &&
	    strcmp(run + n - m, want) == 0;
}

static int
account(struct mig_audit_iter *it, const struct mig_audit_rec *rec,
    struct mig_ctx *ctx)
{
	struct mig_audit_runsum *r;

	r = runsum(it, rec->run);
	if (r == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	if (r->first_ts[0] == '\0')
		memcpy(r->first_ts, rec->ts, sizeof(r->first_ts));
	memcpy(r->last_ts, rec->ts, sizeof(r->last_ts));
	if (strcmp(rec->event, MIG_AUDIT_OBJ_STORED) == 0 ||
	    strcmp(rec->event, MIG_AUDIT_OBJ_RETAINED) == 0) {
		r->files++;
		if (rec->bytes > 0)
			r->bytes += (uint64_t)rec->bytes;
	} else if (strcmp(rec->event, MIG_AUDIT_OBJ_SKIPPED) == 0)
		r->skipped++;
	else if (ends_with(rec->event, ".failed") ||
	    strcmp(rec->event, MIG_AUDIT_SEC_REFUSED) == 0)
		r->failures++;
	else if (strcmp(rec->event, MIG_AUDIT_RUN_END) == 0)
		r->ended = 1;
	return 0;
}

int
mig_audit_iter_next(struct mig_audit_iter *it,
    const struct mig_audit_rec **recp, struct mig_ctx *ctx)
{
	struct mig_audit_rec *rec = &it->rec;
	struct audit_line l;
	struct audit_scan s;
	const char *why;
	uint64_t u;
	int rc;

	*recp = NULL;
	for (;;) {
		rc = audit_reader_next(it->r, &l, ctx);
		if (rc != 1)
			return rc;
		memset(rec, 0, sizeof(*rec));
		it->used = 0;
		rec->line = l.lineno;
		rec->offset = l.offset;
		rec->raw = l.p;
		rec->rawlen = l.p != NULL ? l.len : 0;
		rec->bytes = -1;
		if (l.toolong || !l.terminated ||
		    audit_scan_line(l.p, l.len, &s, &why) != 0 ||
		    audit_rec_check(&s, &rec->seq, &why) != 0) {
			*recp = rec;
			return 1;
		}
		rec->ts = take(it, &s.f[AF_TS]);
		rec->run = take(it, &s.f[AF_RUN]);
		rec->plan = take(it, &s.f[AF_PLAN]);
		rec->actor = take(it, &s.f[AF_ACTOR]);
		rec->event = take(it, &s.f[AF_EVENT]);
		rec->object = take(it, &s.f[AF_OBJECT]);
		rec->outcome = take(it, &s.f[AF_OUTCOME]);
		rec->reason = take(it, &s.f[AF_REASON]);
		rec->head = take(it, &s.f[AF_HEAD]);
		if (audit_span_u64(&s.f[AF_BYTES], &u) == 0 &&
		    u <= INT64_MAX)
			rec->bytes = (int64_t)u;
		if (rec->ts == NULL || rec->run == NULL || rec->plan == NULL ||
		    rec->actor == NULL || rec->event == NULL) {
			*recp = rec;
			return 1;
		}
		rec->valid = 1;
		if (it->run != NULL && !run_matches(it->run, rec->run))
			continue;
		if (it->since[0] != '\0' && strcmp(rec->ts, it->since) < 0)
			continue;
		if (it->until[0] != '\0' && strcmp(rec->ts, it->until) >= 0)
			continue;
		if ((rc = account(it, rec, ctx)) != 0)
			return rc;
		if (it->event != NULL && fnmatch(it->event, rec->event, 0) != 0)
			continue;
		*recp = rec;
		return 1;
	}
}

/* Seconds since the epoch of a normalized timestamp. */
static double
ts_seconds(const char *ts)
{
	struct tm tm;
	int y, mo, d, h, mi, s, us;

	if (digits(ts, 4, &y) != 0 || digits(ts + 5, 2, &mo) != 0 ||
	    digits(ts + 8, 2, &d) != 0 || digits(ts + 11, 2, &h) != 0 ||
	    digits(ts + 14, 2, &mi) != 0 || digits(ts + 17, 2, &s) != 0 ||
	    digits(ts + 20, 6, &us) != 0)
		return 0;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	return (double)timegm(&tm) + us / 1e6;
}

void
mig_audit_iter_runs(const struct mig_audit_iter *it,
    const struct mig_audit_runsum **runsp, size_t *nrunsp)
{
	size_t i;

	for (i = 0; i < it->nruns; i++)
		it->runs[i].duration = ts_seconds(it->runs[i].last_ts) -
		    ts_seconds(it->runs[i].first_ts);
	*runsp = it->runs;
	*nrunsp = it->nruns;
}

void
mig_audit_iter_free(struct mig_audit_iter *it)
{
	size_t i;

	if (it == NULL)
		return;
	audit_reader_free(it->r);
	for (i = 0; i < it->nruns; i++)
		free(it->runs[i].run);
	free(it->runs);
	free(it->run);
	free(it->event);
	free(it->arena);
	free(it);
}
