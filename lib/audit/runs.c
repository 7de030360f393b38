/*
 * What the audit log says of a plan's runs, read in one pass that also
 * verifies the chain (and, with a key, every signed checkpoint): which
 * runs there are, in the order they started; for each bag (a run, or each
 * shard of one) whether it ended complete, with how many objects and
 * which manifest digest; the run's checkpoints; and, for one chosen run,
 * every object the log says was stored, with its ciphertext SHA-256.
 *
 * verify and restore trust a bag in the lake only when it agrees with
 * this: the lake is writable by people the audit log is not.
 */
#define MIG_AUDIT_INTERNAL
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "migrate/audit.h"
#include "migrate/error.h"

#include "audit_int.h"

static struct mig_audit_run *
find_run(struct mig_audit_runs *out, const char *id)
{
	size_t i;

	/* Runs are few and the newest is the likeliest: search backwards. */
	for (i = out->n; i > 0; i--)
		if (strcmp(out->v[i - 1].id, id) == 0)
			return &out->v[i - 1];
	return NULL;
}

static struct mig_audit_run *
add_run(struct mig_audit_runs *out, const char *id, uint64_t seq)
{
	struct mig_audit_run *nv, *r;

	if (out->n == out->cap) {
		size_t cap = out->cap == 0 ? 16 : out->cap * 2;

		if ((nv = reallocarray(out->v, cap, sizeof(*nv))) == NULL)
			return NULL;
		out->v = nv;
		out->cap = cap;
	}
	r = &out->v[out->n++];
	memset(r, 0, sizeof(*r));
	if (strlen(id) >= sizeof(r->id))
		id = "(id too long)";
	memcpy(r->id, id, strlen(id) + 1);
	r->first_seq = seq;
	return r;
}

static struct mig_audit_bag *
find_bag(struct mig_audit_run *r, const char *shard, bool create)
{
	struct mig_audit_bag *nv, *b;
	size_t i;

	for (i = 0; i < r->nbags; i++)
		if (strcmp(r->bags[i].shard, shard) == 0)
			return &r->bags[i];
	if (!create)
		return NULL;
	if ((nv = reallocarray(r->bags, r->nbags + 1, sizeof(*nv))) == NULL)
		return NULL;
	r->bags = nv;
	b = &r->bags[r->nbags++];
	memset(b, 0, sizeof(*b));
	(void)snprintf(b->shard, sizeof(b->shard), "%s", shard);
	return b;
}

static int
add_checkpoint(struct mig_audit_run *r, uint64_t seq, const char *head,
    bool sig)
{
	struct mig_audit_cp *nv;

	if (r->ncps == r->cpcap) {
		size_t cap = r->cpcap == 0 ? 4 : r->cpcap * 2;

		if ((nv = reallocarray(r->cps, cap, sizeof(*nv))) == NULL)
			return MIG_ERR_NOMEM;
		r->cps = nv;
		r->cpcap = cap;
	}
	r->cps[r->ncps].seq = seq;
	r->cps[r->ncps].signed_ = sig;
	(void)snprintf(r->cps[r->ncps].head, sizeof(r->cps[0].head), "%s",
	    head);
	r->ncps++;
	return 0;
}

static const char *
jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}

/* The 16-byte key of (dest, sha): SHA-256 of "dest\0sha", truncated. */
static int
stored_key(const char *dest, const char *sha, unsigned char key[16])
{
	unsigned char md[32];
	EVP_MD_CTX *c;
	int ok;

	if ((c = EVP_MD_CTX_new()) == NULL)
		return MIG_ERR_NOMEM;
	ok = EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(c, dest, strlen(dest) + 1) == 1 &&
	    EVP_DigestUpdate(c, sha, strlen(sha)) == 1 &&
	    EVP_DigestFinal_ex(c, md, NULL) == 1;
	EVP_MD_CTX_free(c);
	if (!ok)
		return MIG_ERR_CRYPTO;
	memcpy(key, md, 16);
	return 0;
}

static int
stored_add(struct mig_audit_stored *s, const char *dest, const char *sha)
{
	unsigned char (*nv)[16];
	size_t ncap;

	if (s->n == s->cap) {
		ncap = s->cap == 0 ? 1024 : s->cap + s->cap / 2;
		if ((nv = reallocarray(s->v, ncap, sizeof(*nv))) == NULL)
			return MIG_ERR_NOMEM;
		s->v = nv;
		s->cap = ncap;
	}
	return stored_key(dest, sha, s->v[s->n++]);
}

static int
key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

bool
mig_audit_stored_has(const struct mig_audit_stored *s, const char *dest,
    const char *sha256_hex)
{
	unsigned char key[16];

	if (s->n == 0 || stored_key(dest, sha256_hex, key) != 0)
		return false;
	return bsearch(key, s->v, s->n, sizeof(*s->v), key_cmp) != NULL;
}

void
mig_audit_stored_free(struct mig_audit_stored *s)
{
	if (s == NULL)
		return;
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* A run.start, run.end or object.stored record of a run of the plan. */
static int
take_event(struct mig_audit_runs *out, struct mig_audit_run *r,
    const char *event, const json_t *j, uint64_t seq, const char *want_run,
    struct mig_audit_stored *stored)
{
	struct mig_audit_bag *b;

	if (strcmp(event, MIG_AUDIT_RUN_START) == 0) {
		if ((b = find_bag(r, jstr(j, "shard"), true)) == NULL)
			return MIG_ERR_NOMEM;
		if (b->dir[0] == '\0') {
			(void)snprintf(b->dir, sizeof(b->dir), "%s",
			    jstr(j, "dir"));
			(void)snprintf(b->ts, sizeof(b->ts), "%s",
			    jstr(j, "ts"));
			(void)snprintf(b->strategy, sizeof(b->strategy), "%s",
			    jstr(j, "strategy"));
		}
		b->started = true;
	} else if (strcmp(event, MIG_AUDIT_RUN_END) == 0) {
		const char *outcome = jstr(j, "outcome");

		if ((b = find_bag(r, jstr(j, "shard"), true)) == NULL)
			return MIG_ERR_NOMEM;
		if (strcmp(outcome, "complete") == 0) {
			b->complete = true;
			b->end_seq = seq;
			b->objects = (uint64_t)json_integer_value(
			    json_object_get(j, "objects"));
			(void)snprintf(b->manifest_sha256,
			    sizeof(b->manifest_sha256), "%s",
			    jstr(j, "manifest_sha256"));
			(void)snprintf(b->snapshot_sha256,
			    sizeof(b->snapshot_sha256), "%s",
			    jstr(j, "snapshot_sha256"));
			b->files = (uint64_t)json_integer_value(
			    json_object_get(j, "files"));
			b->bytes = (uint64_t)json_integer_value(
			    json_object_get(j, "bytes_in"));
			(void)snprintf(b->parent, sizeof(b->parent), "%s",
			    jstr(j, "parent"));
		} else if (strcmp(outcome, "nothing new") == 0)
			b->nothing_new = true;
		else if (strcmp(outcome, "unpublished") == 0)
			/* Its bag was never published: not complete after all. */
			b->complete = false;
	} else if (strcmp(event, MIG_AUDIT_OBJ_STORED) == 0 &&
	    stored != NULL && strcmp(r->id, want_run) == 0) {
		/* Per-file objects name their place in "dest"; archives in
		 * "object". */
		const char *dest = jstr(j, "dest");

		if (dest[0] == '\0')
			dest = jstr(j, "object");
		return stored_add(stored, dest, jstr(j, "stored_sha256"));
	}
	(void)out;
	return 0;
}

/* One record of the log (already chain-checked). */
static int
take_line(struct mig_audit_runs *out, const struct audit_line *l,
    const char *plan, const char *want_run, struct mig_audit_stored *stored)
{
	struct audit_scan s;
	struct mig_audit_run *r;
	char run[64], pl[256], event[64], head[MIG_AUDIT_HEXLEN + 1];
	const char *why;
	uint64_t seq;
	json_t *j;
	int rc;

	if (l->p == NULL || audit_scan_line(l->p, l->len, &s, &why) != 0 ||
	    audit_rec_check(&s, &seq, &why) != 0 ||
	    audit_span_str(&s.f[AF_RUN], run, sizeof(run)) < 0 ||
	    audit_span_str(&s.f[AF_PLAN], pl, sizeof(pl)) < 0 ||
	    audit_span_str(&s.f[AF_EVENT], event, sizeof(event)) < 0 ||
	    strcmp(pl, plan) != 0)
		return 0;
	r = find_run(out, run);
	if (strcmp(event, MIG_AUDIT_CHECKPOINT) == 0) {
		if (r == NULL || audit_span_str(&s.f[AF_HEAD], head,
		    sizeof(head)) != MIG_AUDIT_HEXLEN)
			return 0;
		return add_checkpoint(r, seq, head,
		    s.f[AF_SIG].type == AT_STRING);
	}
	if (strcmp(event, MIG_AUDIT_RUN_START) != 0 &&
	    strcmp(event, MIG_AUDIT_RUN_END) != 0 &&
	    strcmp(event, MIG_AUDIT_OBJ_STORED) != 0)
		return 0;
	if (strcmp(event, MIG_AUDIT_OBJ_STORED) == 0 &&
	    (stored == NULL || strcmp(run, want_run) != 0))
		return 0;
	if (r == NULL) {
		if (strcmp(event, MIG_AUDIT_RUN_START) != 0)
			return 0;	/* no run.start: not a run we know */
		if ((r = add_run(out, run, seq)) == NULL)
			return MIG_ERR_NOMEM;
	}
	if ((j = json_loadb(l->p, l->len, 0, NULL)) == NULL)
		return 0;
	rc = take_event(out, r, event, j, seq, want_run, stored);
	json_decref(j);
	return rc;
}

int
mig_audit_runs_read(const char *path, const char *plan,
    const struct mig_sign_key *pub, const char *want_run,
    struct mig_audit_stored *stored, struct mig_audit_runs *out,
    struct mig_audit_report *rep, struct mig_ctx *ctx)
{
	struct audit_reader *rd = NULL;
	struct audit_verifier *v = NULL;
	struct audit_line l;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(rep, 0, sizeof(*rep));
	if (stored != NULL)
		memset(stored, 0, sizeof(*stored));
	if ((rc = audit_reader_open(path, NULL, 0, path, ctx, &rd)) != 0)
		goto out;
	/*
	 * A run in progress may have appended after the last signed
	 * checkpoint; the run checked must have its own signed one (trust.c).
	 */
	if (audit_verifier_new(pub, MIG_AUDIT_ALLOW_UNSIGNED_TAIL, NULL,
	    &v) != 0) {
		rc = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out;
	}
	while ((rc = audit_reader_next(rd, &l, ctx)) == 1) {
		if ((rc = audit_verifier_line(v, &l, rep)) != 0)
			break;
		if ((rc = take_line(out, &l, plan, want_run, stored)) != 0) {
			rc = mig_seterr(ctx, rc, "out of memory");
			break;
		}
	}
	if (rc == 0)
		rc = audit_verifier_end(v, rep);
	if (rc == MIG_ERR_VERIFY)
		mig_seterr(ctx, rc, "%s:%" PRIu64 ": %s: the audit log is "
		    "broken, it cannot vouch for any run", path, rep->bad_line,
		    rep->reason);
out:
	audit_verifier_free(v);
	audit_reader_free(rd);
	if (rc == 0 && stored != NULL && stored->n > 1)
		qsort(stored->v, stored->n, sizeof(*stored->v), key_cmp);
	if (rc != 0) {
		mig_audit_runs_free(out);
		mig_audit_stored_free(stored);
	}
	return rc;
}

void
mig_audit_runs_free(struct mig_audit_runs *runs)
{
	size_t i;

	if (runs == NULL)
		return;
	for (i = 0; i < runs->n; i++) {
		free(runs->v[i].bags);
		free(runs->v[i].cps);
	}
	free(runs->v);
	memset(runs, 0, sizeof(*runs));
}

const struct mig_audit_run *
mig_audit_runs_find(const struct mig_audit_runs *runs, const char *id)
{
	size_t i;

	for (i = runs->n; i > 0; i--)
		if (strcmp(runs->v[i - 1].id, id) == 0)
			return &runs->v[i - 1];
	return NULL;
}
