/*
 * Unit tests of lib/audit: writer, chain, checkpoints, the tamper matrix,
 * torn lines, concurrency (threads and processes), show filters and the
 * JSON line scanner; a signed log held to its signatures (unsigned tail,
 * splice, failures named), OpenSSH keys, foreign files, failed writes.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "migrate/audit.h"
#include "migrate/error.h"
#include "migrate/sign.h"
#include "migrate/util.h"

#include "audit/audit_int.h"

#include "testutil.h"

struct fixture {
	char			 dir[64];
	char			 log[128];
	char			 key[128];
	char			 key2[128];
	char			 pub[160];
	char			 pub2[160];
	struct mig_ctx		*ctx;
	struct mig_sign_key	*sk;	/* private, key */
	struct mig_sign_key	*pk;	/* public, key.pub */
	struct mig_sign_key	*pk2;	/* public, key2.pub */
};

static int64_t fake_now;

/* A clock that advances by 1.5 ms per call from 2026-11-25T19:07:05Z. */
static int
fake_clock(struct timespec *now)
{
	int64_t us = 1795633625LL * 1000000 + fake_now;

	fake_now += 1500;
	now->tv_sec = (time_t)(us / 1000000);
	now->tv_nsec = (long)(us % 1000000) * 1000;
	return 0;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(tu_mkdtemp(f->dir, sizeof(f->dir), "test_audit"), 0);
	snprintf(f->log, sizeof(f->log), "%s/audit.jsonl", f->dir);
	snprintf(f->key, sizeof(f->key), "%s/audit.pem", f->dir);
	snprintf(f->key2, sizeof(f->key2), "%s/other.pem", f->dir);
	snprintf(f->pub, sizeof(f->pub), "%s.pub", f->key);
	snprintf(f->pub2, sizeof(f->pub2), "%s.pub", f->key2);
	f->ctx = mig_ctx_new();
	assert_non_null(f->ctx);
	assert_int_equal(mig_sign_keygen(f->key, f->ctx), 0);
	assert_int_equal(mig_sign_keygen(f->key2, f->ctx), 0);
	assert_int_equal(mig_sign_key_load(f->key, f->ctx, &f->sk), 0);
	assert_int_equal(mig_sign_pubkey_load(f->pub, f->ctx, &f->pk), 0);
	assert_int_equal(mig_sign_pubkey_load(f->pub2, f->ctx, &f->pk2), 0);
	fake_now = 0;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	mig_sign_key_free(f->sk);
	mig_sign_key_free(f->pk);
	mig_sign_key_free(f->pk2);
	mig_ctx_free(f->ctx);
	assert_int_equal(tu_rm_tree(f->dir), 0);
	free(f);
	return 0;
}

static struct mig_audit_log *
open_log(struct fixture *f, const struct mig_sign_key *key, unsigned every)
{
	struct mig_audit_opts o;
	struct mig_audit_log *log = NULL;

	memset(&o, 0, sizeof(o));
	o.plan = "billing";
	o.actor = "alice@host";
	o.key = key;
	o.checkpoint_every = every;
	o.clock = fake_clock;
	assert_int_equal(mig_audit_open(f->log, &o, f->ctx, &log), 0);
	return log;
}

static void
emit_obj(struct mig_audit_log *log, const char *run, unsigned long i,
    struct mig_ctx *ctx)
{
	char obj[64];
	json_t *fl;

	snprintf(obj, sizeof(obj), "data/file-%05lu.csv", i);
	fl = json_pack("{s:s, s:I, s:s}", "object", obj, "bytes",
	    (json_int_t)i * 10, "outcome", "stored");
	assert_non_null(fl);
	assert_int_equal(mig_audit_emit(log, run, MIG_AUDIT_OBJ_STORED, fl,
	    ctx), 0);
	json_decref(fl);
}

/* One run of n object records with a final checkpoint. */
static void
write_run(struct fixture *f, const struct mig_sign_key *key, unsigned every,
    const char *run, unsigned long n, char head[MIG_AUDIT_HEXLEN + 1])
{
	struct mig_audit_log *log = open_log(f, key, every);
	unsigned long i;

	assert_int_equal(mig_audit_emit(log, run, MIG_AUDIT_RUN_START, NULL,
	    f->ctx), 0);
	for (i = 1; i <= n; i++)
		emit_obj(log, run, i, f->ctx);
	assert_int_equal(mig_audit_emit(log, run, MIG_AUDIT_RUN_END, NULL,
	    f->ctx), 0);
	assert_int_equal(mig_audit_checkpoint(log, run, head, f->ctx), 0);
	assert_int_equal(mig_audit_close(log, f->ctx), 0);
}

static char *
slurp(const char *path, size_t *lenp)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	*lenp = (size_t)n;
	return buf;
}

static void
spew(const char *path, const char *buf, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(buf, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

/* Verifies a log held in memory, as mig_audit_verify() does a file. */
static int
verify_mem(const char *buf, size_t len, const struct mig_sign_key *pub,
    struct mig_audit_report *rep)
{
	struct audit_reader *r;
	struct audit_verifier *v;
	struct audit_line l;
	int rc;

	memset(rep, 0, sizeof(*rep));
	assert_int_equal(audit_reader_open(NULL, buf, len, "mem", NULL, &r),
	    0);
	assert_int_equal(audit_verifier_new(pub, 0, NULL, &v), 0);
	/* Past a problem, lines are still fed in: the census goes on. */
	while ((rc = audit_reader_next(r, &l, NULL)) == 1)
		if ((rc = audit_verifier_line(v, &l, rep)) != 0 &&
		    rc != MIG_ERR_VERIFY)
			break;
	if (rc == 0)
		rc = audit_verifier_end(v, rep);
	audit_verifier_free(v);
	audit_reader_free(r);
	return rc;
}

/* ---- Lines of a log, for tampering ------------------------------------ */

struct lines {
	char	**l;
	size_t	 n;
};

static void
split(const char *buf, struct lines *ls)
{
	const char *p = buf, *nl;

	ls->l = NULL;
	ls->n = 0;
	while (*p != '\0') {
		nl = strchr(p, '\n');
		assert_non_null(nl);
		ls->l = realloc(ls->l, (ls->n + 1) * sizeof(char *));
		ls->l[ls->n++] = strndup(p, (size_t)(nl - p));
		p = nl + 1;
	}
}

static char *
join(const struct lines *ls, size_t *lenp)
{
	size_t i, len = 0;
	char *buf, *p;

	for (i = 0; i < ls->n; i++)
		len += strlen(ls->l[i]) + 1;
	buf = malloc(len + 1);
	p = buf;
	for (i = 0; i < ls->n; i++)
		p += sprintf(p, "%s\n", ls->l[i]);
	*lenp = len;
	return buf;
}

static void
free_lines(struct lines *ls)
{
	size_t i;

	for (i = 0; i < ls->n; i++)
		free(ls->l[i]);
	free(ls->l);
}

static void
line_hash(const char *line, char hex[65])
{
	unsigned char md[32];

	audit_sha256(line, strlen(line), md);
	mig_hex_encode(md, 32, hex);
}

/* Replaces every occurrence of from (64 chars) in line with to. */
static void
replace_hex(char *line, const char *from, const char *to)
{
	char *p = line;

	while ((p = strstr(p, from)) != NULL) {
		memcpy(p, to, 64);
		p += 64;
	}
}

/* An attacker's rewrite: recompute prev (and head) from line i on. */
static void
rechain(struct lines *ls, size_t from)
{
	char want[65], have[65], *p;
	size_t i;

	for (i = from; i < ls->n; i++) {
		line_hash(ls->l[i - 1], want);
		p = strstr(ls->l[i], "\"prev\":\"");
		assert_non_null(p);
		memcpy(have, p + 8, 64);
		have[64] = '\0';
		replace_hex(ls->l[i], have, want);
	}
}

static size_t
find_line(const struct lines *ls, const char *needle, size_t from)
{
	size_t i;

	for (i = from; i < ls->n; i++)
		if (strstr(ls->l[i], needle) != NULL)
			return i;
	fail_msg("no line with %s", needle);
	return 0;
}

/* ---- Tests ---------------------------------------------------------- */

/*
 * The objects a run stored, as verify checks a manifest against them:
 * every (dest, sha) pair on record, one per landing attempt, and nothing
 * else, in 16 bytes an object (issue 20).
 */
static void
test_audit__stored_pairs(void **state)
{
	struct fixture *f = *state;
	struct mig_audit_log *log = open_log(f, NULL, 0);
	struct mig_audit_stored st;
	struct mig_audit_runs runs;
	struct mig_audit_report rep;
	const char *sha1 = "1111111111111111111111111111111111111111111111111111"
	    "111111111111", *sha2 = "2222222222222222222222222222222222222222"
	    "222222222222222222222222";
	const char *const rec[][2] = {
		{ "run-a", "data/x.csv.age" },
		{ "run-a", "data/y=1/z w.age" },
		{ "run-b", "data/other.age" },
	};
	size_t i;
	json_t *fl;

	assert_int_equal(mig_audit_emit(log, "run-a", MIG_AUDIT_RUN_START,
	    NULL, f->ctx), 0);
	assert_int_equal(mig_audit_emit(log, "run-b", MIG_AUDIT_RUN_START,
	    NULL, f->ctx), 0);
	for (i = 0; i < sizeof(rec) / sizeof(rec[0]); i++) {
		fl = json_pack("{s:s, s:s}", "dest", rec[i][1],
		    "stored_sha256", sha1);
		assert_int_equal(mig_audit_emit(log, rec[i][0],
		    MIG_AUDIT_OBJ_STORED, fl, f->ctx), 0);
		json_decref(fl);
	}
	/* x landed twice: both attempts are on record. */
	fl = json_pack("{s:s, s:s}", "dest", "data/x.csv.age",
	    "stored_sha256", sha2);
	assert_int_equal(mig_audit_emit(log, "run-a", MIG_AUDIT_OBJ_STORED,
	    fl, f->ctx), 0);
	json_decref(fl);
	assert_int_equal(mig_audit_close(log, f->ctx), 0);

	assert_int_equal(mig_audit_runs_read(f->log, "billing", NULL, "run-a",
	    &st, &runs, &rep, f->ctx), 0);
	assert_int_equal(st.n, 3);
	assert_true(mig_audit_stored_has(&st, "data/x.csv.age", sha1));
	assert_true(mig_audit_stored_has(&st, "data/x.csv.age", sha2));
	assert_true(mig_audit_stored_has(&st, "data/y=1/z w.age", sha1));
	assert_false(mig_audit_stored_has(&st, "data/y=1/z w.age", sha2));
	assert_false(mig_audit_stored_has(&st, "data/other.age", sha1));
	assert_false(mig_audit_stored_has(&st, "data/x.csv.ag", sha1));
	/* The NUL between them: ("ab", "c...") is not ("a", "bc..."). */
	assert_false(mig_audit_stored_has(&st, "data/x.csv.age1", sha1 + 1));
	mig_audit_stored_free(&st);
	mig_audit_runs_free(&runs);
}

static void
test_audit__roundtrip_signed(void **state)
{
	struct fixture *f = *state;
	struct mig_audit_report rep;
	char head[65];

	write_run(f, f->sk, 10, "run-1", 25, head);
	assert_int_equal(mig_audit_verify(f->log, f->pk, 0, &rep, f->ctx), 0);
	/* 27 records + checkpoints after seq 10, 20 + the final one. */
	assert_int_equal(rep.records, 30);
	assert_int_equal(rep.lines, 30);
	assert_int_equal(rep.checkpoints, 3);
	assert_int_equal(rep.sigs_verified, 3);
	assert_int_equal(rep.signed_line, 29);
	assert_int_equal(rep.checkpoint_line, 30);
	assert_int_equal(mig_audit_find_head(f->log, head, f->ctx), 0);
	/* Without a key, the signatures are counted as unchecked. */
	assert_int_equal(mig_audit_verify(f->log, NULL, 0, &rep, f->ctx), 0);
	assert_int_equal(rep.sigs_unchecked, 3);
	assert_int_equal(rep.sigs_verified, 0);
}

static void
test_audit__record_format(void **state)
{
	struct fixture *f = *state;
	struct lines ls;
	char head[65], *buf;
	size_t len;

	write_run(f, NULL, 0, "run-1", 1, head);
	buf = slurp(f->log, &len);
	split(buf, &ls);
	assert_int_equal(ls.n, 4);
	assert_string_equal(ls.l[0], "{\"v\":1,\"seq\":1,"
	    "\"ts\":\"2026-11-25T19:07:05.000000Z\",\"run\":\"run-1\","
	    "\"plan\":\"billing\",\"actor\":\"alice@host\","
	    "\"event\":\"run.start\",\"prev\":\""
	    "0000000000000000000000000000000000000000000000000000000000000000"
	    "\"}");
	assert_non_null(strstr(ls.l[1], "\"ts\":\"2026-11-25T19:07:05.001500Z"
	    "\",\"run\":\"run-1\",\"plan\":\"billing\",\"actor\":\"alice@host\","
	    "\"event\":\"object.stored\",\"object\":\"data/file-00001.csv\","
	    "\"bytes\":10,\"outcome\":\"stored\",\"prev\":\""));
	/* Hash-only checkpoint: head equals prev, no sig, no key. */
	assert_non_null(strstr(ls.l[3], "\"event\":\"checkpoint\",\"head\":\""));
	assert_null(strstr(ls.l[3], "\"sig\""));
	assert_memory_equal(strstr(ls.l[3], "\"head\":\"") + 8,
	    strstr(ls.l[3], "\"prev\":\"") + 8, 64);
	assert_memory_equal(strstr(ls.l[3], "\"head\":\"") + 8, head, 64);
	free_lines(&ls);
	free(buf);
}

/* How many checkpoints the writer makes for nrec records, by the rule. */
static uint64_t
expected_checkpoints(uint64_t nrec, unsigned every)
{
	uint64_t seq = 0, cps = 0, i;

	for (i = 0; i < nrec; i++)
		if (++seq % every == 0) {
			seq++;
			cps++;
		}
	return cps;
}

static void
test_audit__checkpoint_cadence(void **state)
{
	struct fixture *f = *state;
	struct mig_audit_iter *it;
	const struct mig_audit_rec *r;
	uint64_t since = 0, maxgap = 0, cps = 0, last = 0, lastcp = 0;
	char head[65];

	write_run(f, NULL, 7, "run-1", 100, head);
	assert_int_equal(mig_audit_iter_open(f->log, NULL, f->ctx, &it), 0);
	while (mig_audit_iter_next(it, &r, f->ctx) == 1) {
		assert_true(r->valid);
		last = r->seq;
		if (strcmp(r->event, "checkpoint") == 0) {
			/* Each follows a record whose seq is a multiple. */
			if (lastcp != 0)
				assert_int_equal((lastcp - 1) % 7, 0);
			lastcp = r->seq;
			cps++;
			since = 0;
		} else if (++since > maxgap)
			maxgap = since;
	}
	mig_audit_iter_free(it);
	assert_int_equal(lastcp, last);		/* the run-end one */
	assert_int_equal(maxgap, 7);
	assert_int_equal(cps, expected_checkpoints(102, 7) + 1);
}

static void
test_audit__edit_any_byte(void **state)
{
	struct fixture *f = *state;
	struct mig_audit_report rep;
	char head[65], *buf;
	size_t len, i, lastline;
	int rc;

	write_run(f, f->sk, 5, "run-1", 12, head);
	buf = slurp(f->log, &len);
	assert_int_equal(verify_mem(buf, len, f->pk, &rep), 0);
	/* Every byte but those of the last line (chained by no later line). */
	lastline = len - 1;
	while (lastline > 0 && buf[lastline - 1] != '\n')
		lastline--;
	for (i = 0; i < lastline; i++) {
		unsigned char c = (unsigned char)buf[i];

		buf[i] = (char)(c ^ 0x01);
		rc = verify_mem(buf, len, f->pk, &rep);
		if (rc != MIG_ERR_VERIFY)
			fail_msg("flipping byte %zu (%c) not detected", i, c);
		assert_true(rep.bad_line > 0);
		buf[i] = (char)c;
	}
	free(buf);
}

static void
test_audit__edit_reports_line(void **state)
{
	struct fixture *f = *state;
	struct mig_audit_report rep;
	struct lines ls;
	char head[65], *buf, *b2, *p;
	size_t len, len2;

	write_run(f, f->sk, 0, "run-1", 20, head);
	buf = slurp(f->log, &len);
	split(buf, &ls);
	/* A valid-looking edit on line 6: bytes 50 -> 59. */
	p = strstr(ls.l[5], "\"bytes\":50,");
	assert_non_null(p);
	p[9] = '9';
	b2 = join(&ls, &len2);
	spew(f->log, b2, len2);
	assert_int_equal(mig_audit_verify(f->log, f->pk, 0, &rep, f->ctx),
	    MIG_ERR_VERIFY);
	assert_int_equal(rep.bad_line, 7);
	assert_int_equal(rep.bad_seq, 7);
	assert_non_null(strstr(rep.reason, "line 6"));
	assert_non_null(strstr(mig_errmsg(f->ctx), ":7: seq 7: prev"));
	free(b2);
	/* An edit that breaks the JSON is reported on its own line. */
	p[9] = '"';
	b2 = join(&ls, &len2);
	assert_int_equal(verify_mem(b2, len2, f->pk, &rep), MIG_ERR_VERIFY);
	assert_int_equal(rep.bad_line, 6);
	assert_int_equal(rep.expected_seq, 6);
	assert_non_null(strstr(rep.reason, "not a valid record"));
	free(b2);
	free_lines(&ls);
	free(buf);
}

static void
test_audit__delete_insert_swap(void **state)
{
	struct fixture *f = *state;
	struct mig_audit_report rep;
	struct lines ls;
	char head[65], *buf, *b2, *tmp;
	size_t len, len2;

	write_run(f, NULL, 0, "run-1", 20, head);
	buf = slurp(f->log, &len);

	/* Deleted line 8. */
	split(buf, &ls);
	free(ls.l[7]);
	memmove(&ls.l[7], &ls.l[8], (ls.n - 8) * sizeof(char *));
	ls.n--;
	b2 = join(&ls, &len2);
	assert_int_equal(verify_mem(b2, len2, NULL, &rep), MIG_ERR_VERIFY);
	assert_int_equal(rep.bad_line, 8);
	assert_int_equal(rep.bad_seq, 9);
	assert_non_null(strstr(rep.reason, "deleted"));
	free(b2);
	free_lines(&ls);

	/* Deleted last lines are only seen against a bag's head. */
	split(buf, &ls);
	ls.n -= 2;
	free(ls.l[ls.n]);
	free(ls.l[ls.n + 1]);
	b2 = join(&ls, &len2);
	assert_int_equal(verify_mem(b2, len2, NULL, &rep), 0);
	spew(f->log, b2, len2);
	assert_int_equal(mig_audit_find_head(f->log, head, f->ctx),
	    MIG_ERR_VERIFY);
	assert_non_null(strstr(mig_errmsg(f->ctx), "no checkpoint with head"));
	free(b2);
	free_lines(&ls);

	/*
	 * A forged record inserted after line 5, with the right seq and
	 * prev: the original line 6 after it no longer fits.
	 */
	split(buf, &ls);
	ls.l = realloc(ls.l, (ls.n + 1) * sizeof(char *));
	memmove(&ls.l[6], &ls.l[5], (ls.n - 5) * sizeof(char *));
	ls.n++;
	ls.l[5] = strdup(ls.l[6]);
	ls.l[5][strlen(ls.l[5]) - 100] ^= 1;
	b2 = join(&ls, &len2);
	assert_int_equal(verify_mem(b2, len2, NULL, &rep), MIG_ERR_VERIFY);
	assert_int_equal(rep.bad_line, 7);
	assert_int_equal(rep.bad_seq, 6);
	assert_non_null(strstr(rep.reason, "inserted"));
	free(b2);
	free_lines(&ls);

	/* A copy of line 3 inserted after line 10. */
	split(buf, &ls);
	ls.l = realloc(ls.l, (ls.n + 1) * sizeof(char *));
	memmove(&ls.l[11], &ls.l[10], (ls.n - 10) * sizeof(char *));
	ls.n++;
	ls.l[10] = strdup(ls.l[2]);
	b2 = join(&ls, &len2);
	assert_int_equal(verify_mem(b2, len2, NULL, &rep), MIG_ERR_VERIFY);
	assert_int_equal(rep.bad_line, 11);
	assert_int_equal(rep.bad_seq, 3);
	assert_non_null(strstr(rep.reason, "inserted"));
	free(b2);
	free_lines(&ls);

	/* Lines 12 and 13 swapped. */
	split(buf, &ls);
	tmp = ls.l[11];
	ls.l[11] = ls.l[12];
	ls.l[12] = tmp;
	b2 = join(&ls, &len2);
	assert_int_equal(verify_mem(b2, len2, NULL, &rep), MIG_ERR_VERIFY);
	assert_int_equal(rep.bad_line, 12);
	assert_int_equal(rep.bad_seq, 13);
	free(b2);
	free_lines(&ls);
	free(buf);
}

static void
test_audit__forged_checkpoint(void **state)
{
	struct fixture *f = *state;
	struct mig_audit_report rep;
	struct lines ls;
	char head[65], *buf, *b2, *p;
	size_t len, len2, cp;

	write_run(f, f->sk, 10, "run-1", 30, head);
	buf = slurp(f->log, &len);

	/* A checkpoint whose head is not the chain hash. */
	split(buf, &ls);
	cp = find_line(&ls, "\"checkpoint\"", 0);
	p = strstr(ls.l[cp], "\"head\":\"") + 8;
	p[0] = p[0] == 'a' ? 'b' : 'a';
	b2 = join(&ls, &len2);
	assert_int_equal(verify_mem(b2, len2, NULL, &rep), MIG_ERR_VERIFY);
	assert_int_equal(rep.bad_line, cp + 1);
	assert_non_null(strstr(rep.reason, "forged"));
	free(b2);
	free_lines(&ls);

	/* A rewrite from line 4 on: the chain holds, signatures do not. */
	split(buf, &ls);
	p = strstr(ls.l[3], "\"bytes\":30");
	p[8] = '9';
	rechain(&ls, 4);
	b2 = join(&ls, &len2);
	assert_int_equal(verify_mem(b2, len2, NULL, &rep), 0);
	assert_int_equal(verify_mem(b2, len2, f->pk, &rep), MIG_ERR_VERIFY);
	cp = find_line(&ls, "\"checkpoint\"", 0);
	assert_int_equal(rep.bad_line, cp + 1);
	assert_non_null(strstr(rep.reason, "does not verify"));
	free(b2);
	free_lines(&ls);

	/* A signature string that is not 64 bytes of base64. */
	split(buf, &ls);
	cp = find_line(&ls, "\"checkpoint\"", 0);
	p = strstr(ls.l[cp], "\"sig\":\"") + 7;
	p[86] = 'A';
	b2 = join(&ls, &len2);
	assert_int_equal(verify_mem(b2, len2, f->pk, &rep), MIG_ERR_VERIFY);
	/* The edit also breaks the next line's prev; the sig is first. */
	assert_int_equal(rep.bad_line, cp + 1);
	free(b2);
	free_lines(&ls);
	free(buf);
}

static void
test_audit__other_key(void **state)
{
	struct fixture *f = *state;
	struct mig_audit_report rep;
	char head[65];

	write_run(f, f->sk, 10, "run-1", 5, head);
	assert_int_equal(mig_audit_verify(f->log, f->pk2, 0, &rep, f->ctx),
	    MIG_ERR_VERIFY);
	assert_int_equal(rep.bad_line, rep.lines);
	assert_non_null(strstr(rep.reason, "another key"));
	/* A hash-only log checked with --key: nothing is signed. */
	assert_int_equal(unlink(f->log), 0);
	write_run(f, NULL, 10, "run-1", 5, head);
	assert_int_equal(mig_audit_verify(f->log, f->pk, 0, &rep, f->ctx),
	    MIG_ERR_VERIFY);
	assert_non_null(strstr(rep.reason, "no checkpoint is signed"));
	assert_int_equal(mig_audit_verify(f->log, NULL, 0, &rep, f->ctx), 0);
}

static void
test_audit__torn_tail(void **state)
{
	struct fixture *f = *state;
	struct mig_audit_report rep;
	struct mig_audit_log *log;
	char head[65], *buf, *b2, want[65];
	size_t len, len2, cut;
	unsigned char md[32];

	write_run(f, f->sk, 0, "run-1", 5, head);
	buf = slurp(f->log, &len);
	/* Cut the log in the middle of its last line. */
	cut = len - 40;
	assert_int_equal(truncate(f->log, (off_t)cut), 0);
	assert_int_equal(mig_audit_verify(f->log, NULL, 0, &rep, f->ctx),
	    MIG_ERR_VERIFY);
	assert_int_equal(rep.bad_line, 8);
	assert_non_null(strstr(rep.reason, "torn tail"));
	/* The next writer records the torn bytes and chains past them. */
	log = open_log(f, f->sk, 0);
	emit_obj(log, "run-2", 1, f->ctx);
	assert_int_equal(mig_audit_checkpoint(log, "run-2", head, f->ctx), 0);
	assert_int_equal(mig_audit_close(log, f->ctx), 0);
	assert_int_equal(mig_audit_verify(f->log, f->pk, 0, &rep, f->ctx), 0);
	assert_int_equal(rep.torn, 1);
	assert_int_equal(rep.torn_line, 8);
	assert_int_equal(rep.torn_length, cut - rep.torn_offset);
	/* The audit.torn record names offset, length and SHA-256. */
	b2 = slurp(f->log, &len2);
	audit_sha256(b2 + rep.torn_offset, rep.torn_length, md);
	mig_hex_encode(md, 32, want);
	assert_non_null(strstr(b2, want));
	assert_non_null(strstr(b2 + cut, "\"event\":\"audit.torn\""));
	assert_int_equal(b2[cut], '\n');
	/* seq 8 was torn: the torn record takes it, the chain goes on. */
	assert_int_equal(rep.last_seq, 10);
	assert_int_equal(mig_audit_find_head(f->log, head, f->ctx), 0);
	free(b2);
	free(buf);
}

static void
test_audit__torn_whole_record(void **state)
{
	struct fixture *f = *state;
	struct mig_audit_report rep;
	struct mig_audit_log *log;
	char head[65], *buf;
	size_t len;

	/* Only the newline of the last record is missing. */
	write_run(f, NULL, 0, "run-1", 3, head);
	buf = slurp(f->log, &len);
	assert_int_equal(truncate(f->log, (off_t)len - 1), 0);
	assert_int_equal(mig_audit_verify(f->log, NULL, 0, &rep, f->ctx),
	    MIG_ERR_VERIFY);
	log = open_log(f, NULL, 0);
	emit_obj(log, "run-2", 1, f->ctx);
	assert_int_equal(mig_audit_close(log, f->ctx), 0);
	assert_int_equal(mig_audit_verify(f->log, NULL, 0, &rep, f->ctx), 0);
	assert_int_equal(rep.torn, 1);
	assert_int_equal(rep.torn_line, 6);
	/* The checkpoint that was torn does not count. */
	assert_int_equal(rep.checkpoints, 0);
	assert_int_equal(mig_audit_find_head(f->log, head, f->ctx),
	    MIG_ERR_VERIFY);
	free(buf);
}

static void
test_audit__torn_twice(void **state)
{
	struct fixture *f = *state;
	struct mig_audit_report rep;
	struct mig_audit_log *log;
	char head[65];
	int fd;

	write_run(f, NULL, 0, "run-1", 3, head);
	/* A crash, then a writer that crashed while sealing it. */
	fd = open(f->log, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"v\":1,\"se", 10), 10);
	assert_int_equal(write(fd, "\n{\"v\":1,\"seq\":7,\"ts\"", 20), 20);
	close(fd);
	log = open_log(f, NULL, 0);
	emit_obj(log, "run-2", 1, f->ctx);
	assert_int_equal(mig_audit_close(log, f->ctx), 0);
	assert_int_equal(mig_audit_verify(f->log, NULL, 0, &rep, f->ctx), 0);
	assert_int_equal(rep.torn, 1);
	assert_int_equal(rep.torn_length, 30);
	assert_int_equal(rep.records, 8);
	/* Garbage without an audit.torn record is reported. */
	fd = open(f->log, O_WRONLY | O_APPEND);
	assert_int_equal(write(fd, "garbage\n", 8), 8);
	close(fd);
	assert_int_equal(mig_audit_verify(f->log, NULL, 0, &rep, f->ctx),
	    MIG_ERR_VERIFY);
	assert_int_equal(rep.bad_line, 11);
	assert_non_null(strstr(rep.reason, "no audit.torn"));
}

static void
test_audit__torn_record_forged(void **state)
{
	struct fixture *f = *state;
	struct mig_audit_report rep;
	struct mig_audit_log *log;
	struct lines ls;
	char head[65], *buf, *b2, *p;
	size_t len, len2, t;

	write_run(f, NULL, 0, "run-1", 3, head);
	assert_int_equal(truncate(f->log, 100), 0);
	log = open_log(f, NULL, 0);
	emit_obj(log, "run-2", 1, f->ctx);
	assert_int_equal(mig_audit_close(log, f->ctx), 0);
	buf = slurp(f->log, &len);
	split(buf, &ls);
	t = find_line(&ls, "audit.torn", 0);
	/* A torn record that lies about the length is not accepted. */
	p = strstr(ls.l[t], "\"torn_length\":");
	assert_non_null(p);
	p[14] = p[14] == '1' ? '2' : '1';
	rechain(&ls, t + 1);
	b2 = join(&ls, &len2);
	assert_int_equal(verify_mem(b2, len2, NULL, &rep), MIG_ERR_VERIFY);
	assert_int_equal(rep.bad_line, t);
	assert_non_null(strstr(rep.reason, "does not describe it"));
	free(b2);
	free_lines(&ls);
	free(buf);
}

struct worker {
	struct mig_audit_log	*log;
	int			 id;
	int			 n;
	int			 rc;
};

static void *
thread_main(void *arg)
{
	struct worker *w = arg;
	struct mig_ctx *ctx = mig_ctx_new();
	char run[32];
	int i;

	snprintf(run, sizeof(run), "thread-%d", w->id);
	for (i = 0; i < w->n && w->rc == 0; i++) {
		json_t *fl = json_pack("{s:i}", "i", i);

		w->rc = mig_audit_emit(w->log, run, "object.stored", fl, ctx);
		json_decref(fl);
	}
	mig_ctx_free(ctx);
	return NULL;
}

static void
test_audit__threads(void **state)
{
	struct fixture *f = *state;
	struct mig_audit_report rep;
	struct mig_audit_log *log = open_log(f, f->sk, 100);
	struct worker w[4];
	pthread_t t[4];
	int i;

	for (i = 0; i < 4; i++) {
		w[i].log = log;
		w[i].id = i;
		w[i].n = 500;
		w[i].rc = 0;
		assert_int_equal(pthread_create(&t[i], NULL, thread_main,
		    &w[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].rc, 0);
	}
	assert_int_equal(mig_audit_close(log, f->ctx), 0);
	/* No run end, so no checkpoint after the last records. */
	assert_int_equal(mig_audit_verify(f->log, f->pk,
	    MIG_AUDIT_ALLOW_UNSIGNED_TAIL, &rep, f->ctx), 0);
	assert_int_equal(rep.records - rep.checkpoints, 2000);
	assert_int_equal(rep.checkpoints, expected_checkpoints(2000, 100));
	assert_int_equal(rep.tail_records, rep.last_seq - rep.checkpoint_seq);
}

static void
test_audit__processes(void **state)
{
	struct fixture *f = *state;
	struct mig_audit_report rep;
	pid_t pid[3];
	int i, st, j;

	for (i = 0; i < 3; i++) {
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if (pid[i] == 0) {
			struct mig_ctx *ctx = mig_ctx_new();
			struct mig_audit_opts o;
			struct mig_audit_log *log;
			char run[32];

			memset(&o, 0, sizeof(o));
			o.plan = "billing";
			o.actor = "proc@host";
			o.key = f->sk;
			o.checkpoint_every = 250;
			snprintf(run, sizeof(run), "proc-%d", i);
			if (mig_audit_open(f->log, &o, ctx, &log) != 0)
				_exit(1);
			for (j = 0; j < 1500; j++)
				if (mig_audit_emit(log, run, "object.stored",
				    NULL, ctx) != 0)
					_exit(2);
			if (mig_audit_checkpoint(log, run, NULL, ctx) != 0 ||
			    mig_audit_close(log, ctx) != 0)
				_exit(3);
			_exit(0);
		}
	}
	for (i = 0; i < 3; i++) {
		assert_int_equal(waitpid(pid[i], &st, 0), pid[i]);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	assert_int_equal(mig_audit_verify(f->log, f->pk, 0, &rep, f->ctx), 0);
	assert_int_equal(rep.records - rep.checkpoints, 4500);
	assert_int_equal(rep.torn, 0);
}

static void
test_audit__refusals(void **state)
{
	struct fixture *f = *state;
	struct mig_audit_log *log = open_log(f, NULL, 0);
	json_t *fl;

	fl = json_pack("{s:s}", "prev", "x");
	assert_int_equal(mig_audit_emit(log, "r", "x.y", fl, f->ctx),
	    MIG_ERR_USAGE);
	json_decref(fl);
	fl = json_pack("{s:s}", "password_env", "X");
	assert_int_equal(mig_audit_emit(log, "r", "x.y", fl, f->ctx),
	    MIG_ERR_SECURITY);
	json_decref(fl);
	fl = json_pack("{s:{s:[s]}}", "a", "b", "AGE-SECRET-KEY-1QQQ");
	assert_int_equal(mig_audit_emit(log, "r", "x.y", fl, f->ctx),
	    MIG_ERR_SECURITY);
	json_decref(fl);
	assert_int_equal(mig_audit_emit(log, "r", "checkpoint", NULL, f->ctx),
	    MIG_ERR_USAGE);
	assert_int_equal(mig_audit_emit(log, "r", "Bad Event", NULL, f->ctx),
	    MIG_ERR_USAGE);
	assert_int_equal(mig_audit_emit(log, "", "x.y", NULL, f->ctx),
	    MIG_ERR_USAGE);
	assert_int_equal(mig_audit_close(log, f->ctx), 0);
	/* Nothing was written. */
	assert_int_equal(access(f->log, F_OK), 0);
	{
		struct stat st;

		assert_int_equal(stat(f->log, &st), 0);
		assert_int_equal(st.st_size, 0);
	}
	/* A symlink is refused. */
	{
		char ln[160];

		snprintf(ln, sizeof(ln), "%s/link.jsonl", f->dir);
		assert_int_equal(symlink(f->log, ln), 0);
		struct mig_audit_opts o = { .plan = "p", .actor = "a@b" };
		assert_int_equal(mig_audit_open(ln, &o, f->ctx, &log),
		    MIG_ERR_SECURITY);
	}
}

static void
test_audit__show_filters(void **state)
{
	struct fixture *f = *state;
	struct mig_audit_filter flt;
	struct mig_audit_iter *it;
	const struct mig_audit_rec *r;
	const struct mig_audit_runsum *runs;
	char head[65], since[28], until[28];
	size_t n, cnt = 0;

	write_run(f, NULL, 0, "run-a", 4, head);
	write_run(f, NULL, 0, "run-b", 6, head);
	memset(&flt, 0, sizeof(flt));
	flt.run = "run-b";
	flt.event = "object.*";
	assert_int_equal(mig_audit_iter_open(f->log, &flt, f->ctx, &it), 0);
	while (mig_audit_iter_next(it, &r, f->ctx) == 1) {
		assert_string_equal(r->run, "run-b");
		assert_string_equal(r->event, "object.stored");
		assert_non_null(r->object);
		cnt++;
	}
	assert_int_equal(cnt, 6);
	mig_audit_iter_runs(it, &runs, &n);
	assert_int_equal(n, 1);
	assert_int_equal(runs[0].files, 6);
	assert_int_equal(runs[0].bytes, 210);
	assert_true(runs[0].ended);
	assert_true(runs[0].duration > 0.0119 && runs[0].duration < 0.0121);
	mig_audit_iter_free(it);
	/* Time window: records 3..5 are at +3.0, +4.5, +6.0 ms. */
	assert_int_equal(mig_audit_time_parse("2026-11-25T19:07:05.003Z",
	    since, f->ctx), 0);
	assert_string_equal(since, "2026-11-25T19:07:05.003000Z");
	assert_int_equal(mig_audit_time_parse("2026-11-25 19:07:05.0061",
	    until, f->ctx), 0);
	memset(&flt, 0, sizeof(flt));
	flt.since = since;
	flt.until = until;
	cnt = 0;
	assert_int_equal(mig_audit_iter_open(f->log, &flt, f->ctx, &it), 0);
	while (mig_audit_iter_next(it, &r, f->ctx) == 1)
		cnt++;
	mig_audit_iter_free(it);
	assert_int_equal(cnt, 3);
	assert_int_equal(mig_audit_time_parse("2026-13-01", since, f->ctx),
	    MIG_ERR_USAGE);
	assert_int_equal(mig_audit_time_parse("yesterday", since, f->ctx),
	    MIG_ERR_USAGE);
	assert_int_equal(mig_audit_time_parse("2026-11-25", since, f->ctx),
	    0);
	assert_string_equal(since, "2026-11-25T00:00:00.000000Z");
}

static void
test_audit__scanner(void **state)
{
	static const char *good[] = {
		"{}", " { \"a\" : [1, -2.5e+3, true, false, null, {}] } ",
		"{\"s\":\"\\u00e9\\ud83d\\ude00\\n\\\"\"}", "{\"x\":\"\xc3\xa9\"}",
		"{\"prev\":\"a\",\"pre\\u0076x\":1}",
	};
	static const char *bad[] = {
		"", "[]", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\":01}",
		"{\"a\":1.}", "{\"a\":tru}", "{\"a\":\"\\x\"}",
		"{\"a\":\"\\ud800\"}", "{\"a\":\"\\u0000\"}", "{\"a\":\"\xc0\xaf\"}",
		"{\"a\":\"\xed\xa0\x80\"}", "{\"a\":1} x", "{\"seq\":1,\"seq\":2}",
		"{\"pr\\u0065v\":\"a\",\"prev\":\"b\"}", "{\"a\":\"\t\"}",
	};
	struct audit_scan s;
	const char *why;
	char deep[200];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (audit_scan_line(good[i], strlen(good[i]), &s, &why) != 0)
			fail_msg("good[%zu] rejected: %s", i, why);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (audit_scan_line(bad[i], strlen(bad[i]), &s, &why) == 0)
			fail_msg("bad[%zu] accepted", i);
	memset(deep, '[', sizeof(deep));
	memcpy(deep, "{\"a\":", 5);
	assert_int_equal(audit_scan_line(deep, sizeof(deep), &s, &why), -1);
	/* Escaped member names are decoded before matching. */
	assert_int_equal(audit_scan_line("{\"s\\u0065q\":5}", 14, &s, &why),
	    0);
	assert_int_equal(s.f[AF_SEQ].type, AT_NUMBER);
}

/* ---- A signed log held to its signatures ----------------------------- */

/* n records of run, then close without a checkpoint (an unfinished run). */
static void
write_unfinished(struct fixture *f, const struct mig_sign_key *key,
    const char *run, unsigned long n)
{
	struct mig_audit_log *log = open_log(f, key, 0);
	unsigned long i;

	for (i = 1; i <= n; i++)
		emit_obj(log, run, i, f->ctx);
	assert_int_equal(mig_audit_close(log, f->ctx), 0);
}

static void
test_audit__unsigned_tail(void **state)
{
	struct fixture *f = *state;
	struct mig_audit_report rep;
	char head[65];

	/* Lines 1-8 signed; 9-13 appended without the key (with their own
	 * unsigned checkpoint on line 13). */
	write_run(f, f->sk, 0, "run-1", 5, head);
	write_run(f, NULL, 0, "run-2", 2, head);
	assert_int_equal(mig_audit_verify(f->log, f->pk, 0, &rep, f->ctx),
	    MIG_ERR_VERIFY);
	assert_int_equal(rep.bad_kind, MIG_AUDIT_BAD_UNSIGNED);
	assert_int_equal(rep.bad_line, 9);
	assert_int_equal(rep.bad_seq, 9);
	assert_int_equal(rep.tail_records, 5);
	assert_non_null(strstr(rep.reason, "after the last signed checkpoint "
	    "(line 8, seq 8)"));
	assert_non_null(strstr(mig_errmsg(f->ctx), ":9: seq 9: 5 record"));
	/* Accepted, and counted, only when asked for. */
	assert_int_equal(mig_audit_verify(f->log, f->pk,
	    MIG_AUDIT_ALLOW_UNSIGNED_TAIL, &rep, f->ctx), 0);
	assert_int_equal(rep.tail_records, 5);
	assert_int_equal(rep.tail_line, 9);
	assert_int_equal(rep.unsigned_checkpoints, 1);
	assert_int_equal(rep.signed_line, 7);
	/* Without a key nothing changes: the chain holds. */
	assert_int_equal(mig_audit_verify(f->log, NULL, 0, &rep, f->ctx), 0);
	assert_int_equal(rep.sig_members, 1);
	/* A run that did not finish leaves a tail too, until a checkpoint. */
	assert_int_equal(unlink(f->log), 0);
	write_run(f, f->sk, 0, "run-1", 5, head);
	write_unfinished(f, f->sk, "run-2", 3);
	assert_int_equal(mig_audit_verify(f->log, f->pk, 0, &rep, f->ctx),
	    MIG_ERR_VERIFY);
	assert_int_equal(rep.bad_line, 9);
	assert_int_equal(rep.tail_records, 3);
	write_run(f, f->sk, 0, "run-3", 1, head);
	assert_int_equal(mig_audit_verify(f->log, f->pk, 0, &rep, f->ctx), 0);
	assert_int_equal(rep.tail_records, 0);
}

static void
test_audit__spliced(void **state)
{
	struct fixture *f = *state;
	struct mig_audit_report rep;
	char head[65];

	/* Signed, then a run without the key (checkpoint on line 13), then
	 * a signed run that chains on and signs over it. */
	write_run(f, f->sk, 0, "run-1", 5, head);
	write_run(f, NULL, 0, "evil", 2, head);
	write_run(f, f->sk, 0, "run-3", 1, head);
	assert_int_equal(mig_audit_verify(f->log, f->pk, 0, &rep, f->ctx),
	    MIG_ERR_VERIFY);
	assert_int_equal(rep.bad_kind, MIG_AUDIT_BAD_UNSIGNED);
	assert_int_equal(rep.bad_line, 13);
	assert_int_equal(rep.bad_seq, 13);
	assert_non_null(strstr(rep.reason, "between the signed checkpoints "
	    "on lines 8 and 17"));
	assert_non_null(strstr(rep.reason, "spliced"));
	/* No flag accepts it: it is not a tail. */
	assert_int_equal(mig_audit_verify(f->log, f->pk,
	    MIG_AUDIT_ALLOW_UNSIGNED_TAIL, &rep, f->ctx), MIG_ERR_VERIFY);
	assert_int_equal(rep.bad_line, 13);
	/* A log that was hash-only before the plan got a key: the first
	 * signature covers the unsigned checkpoints before it. */
	assert_int_equal(unlink(f->log), 0);
	write_run(f, NULL, 0, "run-1", 2, head);
	write_run(f, f->sk, 0, "run-2", 2, head);
	assert_int_equal(mig_audit_verify(f->log, f->pk, 0, &rep, f->ctx), 0);
	assert_int_equal(rep.unsigned_checkpoints, 1);
	assert_int_equal(rep.sigs_verified, 1);
	assert_int_equal(rep.signed_line, rep.lines - 1);
}

/* Signature failures are named; a signed log is never called hash-only. */
static void
test_audit__signature_failures_named(void **state)
{
	struct fixture *f = *state;
	struct mig_audit_report rep;
	struct lines ls;
	char head[65], fp[65], *buf, *b2, *p;
	size_t len, len2, cp;

	write_run(f, f->sk, 10, "run-1", 30, head);
	buf = slurp(f->log, &len);
	assert_int_equal(mig_sign_fingerprint(f->pk, fp, f->ctx), 0);
	/* An edit before the first checkpoint: the check stops there, and
	 * the rest of the log is still seen to be signed. */
	split(buf, &ls);
	p = strstr(ls.l[2], "\"bytes\":20");
	assert_non_null(p);
	p[8] = '9';
	b2 = join(&ls, &len2);
	assert_int_equal(verify_mem(b2, len2, f->pk, &rep), MIG_ERR_VERIFY);
	assert_int_equal(rep.bad_kind, MIG_AUDIT_BAD_CHAIN);
	assert_int_equal(rep.bad_line, 4);
	assert_int_equal(rep.signed_checkpoints, 0);
	assert_int_equal(rep.sig_members, 4);
	assert_string_equal(rep.key_fp, fp);
	assert_int_equal(verify_mem(b2, len2, NULL, &rep), MIG_ERR_VERIFY);
	assert_int_equal(rep.sig_members, 4);
	free(b2);
	free_lines(&ls);
	/* A signature that does not verify, and one that is malformed. */
	split(buf, &ls);
	cp = find_line(&ls, "\"checkpoint\"", 0);
	p = strstr(ls.l[cp], "\"sig\":\"") + 7;
	p[10] = p[10] == 'A' ? 'B' : 'A';
	b2 = join(&ls, &len2);
	assert_int_equal(verify_mem(b2, len2, f->pk, &rep), MIG_ERR_VERIFY);
	assert_int_equal(rep.bad_kind, MIG_AUDIT_BAD_SIGNATURE);
	assert_int_equal(rep.bad_line, cp + 1);
	assert_int_equal(rep.sig_members, 4);
	free(b2);
	p[10] = '*';
	b2 = join(&ls, &len2);
	assert_int_equal(verify_mem(b2, len2, f->pk, &rep), MIG_ERR_VERIFY);
	assert_int_equal(rep.bad_kind, MIG_AUDIT_BAD_SIGNATURE);
	assert_int_equal(rep.bad_line, cp + 1);
	assert_non_null(strstr(rep.reason, "malformed"));
	assert_int_equal(rep.sig_members, 4);
	free(b2);
	free_lines(&ls);
	free(buf);
	/* A hash-only log has none. */
	assert_int_equal(unlink(f->log), 0);
	write_run(f, NULL, 10, "run-1", 30, head);
	assert_int_equal(mig_audit_verify(f->log, NULL, 0, &rep, f->ctx), 0);
	assert_int_equal(rep.sig_members, 0);
}

/*
 * The last checkpoint's sig re-spelled with the unused bits of its last
 * base64 character set: the same 64 bytes, another text.  Nothing hashes
 * the last line, so only a strict decoder can tell; a lax one let a
 * signed log be altered without breaking a signature.
 */
static void
test_audit__sig_one_spelling(void **state)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	struct fixture *f = *state;
	struct mig_audit_report rep;
	struct lines ls;
	char head[65], *buf, *b2, *p;
	size_t len, len2;
	int idx;

	write_run(f, f->sk, 10, "run-1", 5, head);
	buf = slurp(f->log, &len);
	split(buf, &ls);
	p = strstr(ls.l[ls.n - 1], "\"sig\":\"");
	assert_non_null(p);
	p += 7;
	assert_memory_equal(p + 86, "==", 2);
	idx = (int)(strchr(b64, p[85]) - b64);
	assert_int_equal(idx & 15, 0);
	p[85] = b64[idx | 1];
	b2 = join(&ls, &len2);
	assert_int_equal(verify_mem(b2, len2, f->pk, &rep), MIG_ERR_VERIFY);
	assert_int_equal(rep.bad_kind, MIG_AUDIT_BAD_SIGNATURE);
	assert_int_equal(rep.bad_line, ls.n);
	assert_non_null(strstr(rep.reason, "malformed"));
	free(b2);
	free_lines(&ls);
	free(buf);
}

/* An OpenSSH "ssh-ed25519 AAAA... comment" line for the PEM key at pub. */
static void
ssh_line(const char *pub, const char *out)
{
	unsigned char raw[32], wire[51];
	char b64[69];
	size_t rawlen = sizeof(raw);
	EVP_PKEY *pk;
	FILE *fp;

	fp = fopen(pub, "r");
	assert_non_null(fp);
	pk = PEM_read_PUBKEY(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_non_null(pk);
	assert_int_equal(EVP_PKEY_get_raw_public_key(pk, raw, &rawlen), 1);
	EVP_PKEY_free(pk);
	memcpy(wire, "\0\0\0\x0bssh-ed25519\0\0\0\x20", 19);
	memcpy(wire + 19, raw, 32);
	assert_int_equal(EVP_EncodeBlock((unsigned char *)b64, wire, 51), 68);
	fp = fopen(out, "w");
	assert_non_null(fp);
	fprintf(fp, "ssh-ed25519 %s auditor@host\n", b64);
	assert_int_equal(fclose(fp), 0);
}

static void
test_audit__ssh_pubkey(void **state)
{
	struct fixture *f = *state;
	struct mig_audit_report rep;
	struct mig_sign_key *ssh = NULL, *ssh2 = NULL;
	char path[160], head[65];
	FILE *fp;

	write_run(f, f->sk, 10, "run-1", 12, head);
	snprintf(path, sizeof(path), "%s/audit.ssh.pub", f->dir);
	ssh_line(f->pub, path);
	assert_int_equal(mig_sign_pubkey_load(path, f->ctx, &ssh), 0);
	assert_int_equal(mig_audit_verify(f->log, ssh, 0, &rep, f->ctx), 0);
	assert_int_equal(rep.sigs_verified, 2);
	/* The other key's OpenSSH line fails as the other key. */
	ssh_line(f->pub2, path);
	assert_int_equal(mig_sign_pubkey_load(path, f->ctx, &ssh2), 0);
	assert_int_equal(mig_audit_verify(f->log, ssh2, 0, &rep, f->ctx),
	    MIG_ERR_VERIFY);
	assert_non_null(strstr(rep.reason, "another key"));
	/* Another OpenSSH key type is refused by name. */
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 rsa@host\n", fp);
	assert_int_equal(fclose(fp), 0);
	mig_sign_key_free(ssh2);
	ssh2 = NULL;
	assert_int_equal(mig_sign_pubkey_load(path, f->ctx, &ssh2),
	    MIG_ERR_FORMAT);
	assert_non_null(strstr(mig_errmsg(f->ctx), "ssh-rsa"));
	mig_sign_key_free(ssh);
}

/* ---- Opening and appending ---------------------------------------------- */

static void
put_file(const char *path, const char *text)
{
	spew(path, text, strlen(text));
}

static void
test_audit__foreign_file_refused(void **state)
{
	static const char *foreign[] = {
		"id,amount\n1,2\n",		/* CSV */
		"{\n  \"a\": 1\n}\n",		/* one JSON document */
		"{\"v\":1}\n",			/* JSON Lines, not records */
		"\n{\"v\":1,\"seq\":1,",	/* an empty first line */
		"hello",			/* one line, no newline */
	};
	struct fixture *f = *state;
	struct mig_audit_opts o = { .plan = "p", .actor = "a@b" };
	struct mig_audit_log *log;
	struct mig_audit_report rep;
	char head[65], *buf;
	size_t i, len;

	for (i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++) {
		put_file(f->log, foreign[i]);
		if (mig_audit_open(f->log, &o, f->ctx, &log) != MIG_ERR_FORMAT)
			fail_msg("foreign[%zu] not refused", i);
		assert_non_null(strstr(mig_errmsg(f->ctx), "not an audit log"));
		assert_non_null(strstr(mig_errmsg(f->ctx), f->log));
		buf = slurp(f->log, &len);
		assert_string_equal(buf, foreign[i]);
		free(buf);
	}
	/* Empty, new and real logs open; so does one whose first append
	 * was torn by a crash, which the next writer records. */
	put_file(f->log, "");
	write_run(f, NULL, 0, "run-1", 1, head);
	write_run(f, NULL, 0, "run-2", 1, head);
	assert_int_equal(unlink(f->log), 0);
	put_file(f->log, "{\"v\":1,\"se");
	write_run(f, NULL, 0, "run-1", 1, head);
	write_run(f, NULL, 0, "run-2", 1, head);
	assert_int_equal(mig_audit_verify(f->log, NULL, 0, &rep, f->ctx), 0);
	assert_int_equal(rep.torn, 1);
	assert_int_equal(rep.torn_line, 1);
}

/*
 * A write that fails part way through a line (here EFBIG: the file size
 * limit is set 40 bytes past the end, in a child) is cut back at once.
 */
static void
test_audit__failed_write_cut_back(void **state)
{
	struct fixture *f = *state;
	struct mig_audit_report rep;
	struct mig_audit_log *log;
	struct stat st;
	char head[65], *buf;
	size_t len;
	pid_t pid;
	int status;

	write_run(f, f->sk, 0, "run-1", 3, head);
	assert_int_equal(stat(f->log, &st), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = { st.st_size + 40, st.st_size + 40 };
		struct mig_ctx *ctx = mig_ctx_new();

		(void)signal(SIGXFSZ, SIG_IGN);
		log = open_log(f, f->sk, 0);
		if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
			_exit(2);
		if (mig_audit_emit(log, "run-2", MIG_AUDIT_RUN_START, NULL,
		    ctx) != MIG_ERR_IO ||
		    strstr(mig_errmsg(ctx), "write") == NULL)
			_exit(3);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* Not a byte of the failed record stays behind. */
	buf = slurp(f->log, &len);
	assert_int_equal(len, (size_t)st.st_size);
	assert_int_equal(buf[len - 1], '\n');
	free(buf);
	assert_int_equal(mig_audit_verify(f->log, f->pk, 0, &rep, f->ctx), 0);
	/* The next writer finds no torn line to record. */
	log = open_log(f, f->sk, 0);
	emit_obj(log, "run-2", 1, f->ctx);
	assert_int_equal(mig_audit_checkpoint(log, "run-2", head, f->ctx), 0);
	assert_int_equal(mig_audit_close(log, f->ctx), 0);
	assert_int_equal(mig_audit_verify(f->log, f->pk, 0, &rep, f->ctx), 0);
	assert_int_equal(rep.torn, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_audit__stored_pairs,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit__roundtrip_signed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit__record_format,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit__checkpoint_cadence,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit__edit_any_byte,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit__edit_reports_line,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit__delete_insert_swap,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit__forged_checkpoint,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit__other_key,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit__torn_tail,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit__torn_whole_record,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit__torn_twice,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit__torn_record_forged,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit__threads,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit__processes,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit__refusals,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit__show_filters,
		    setup, teardown),
		cmocka_unit_test(test_audit__scanner),
		cmocka_unit_test_setup_teardown(test_audit__unsigned_tail,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit__spliced,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_audit__signature_failures_named, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit__sig_one_spelling,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit__ssh_pubkey,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_audit__foreign_file_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_audit__failed_write_cut_back, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
