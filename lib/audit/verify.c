/*
 * The verifier: one streaming pass over a log, constant memory.
 *
 * Each line is hashed and scanned; a record is accepted when its seq is
 * one more than the last accepted record's and its prev is the SHA-256 of
 * the last accepted line.  Lines that are not records (torn or garbage)
 * are held as a pending region: the next record must be an audit.torn
 * record naming exactly that region (offset, length, SHA-256), or the
 * first line of the region is reported.  A torn line that happened to
 * hold a complete record is accepted first and then taken back when the
 * audit.torn record after it names it (see migrate-audit(5)).
 *
 * With a key the log is also held to its signatures: the records after
 * the last valid signed checkpoint (the tail) are covered by no
 * signature, and an unsigned checkpoint after a signed one means that
 * someone without the key wrote there.  After the first problem the
 * rest of the log is only scanned, to tell a signed log from a hash-only
 * one in the report.
 */
#define MIG_AUDIT_INTERNAL
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "migrate/error.h"
#include "migrate/sign.h"
#include "migrate/util.h"

#include "audit_int.h"

/* What a torn line may roll back: everything about accepted lines. */
struct vstate {
	uint64_t	seq;
	unsigned char	h[32];
	char		hhex[MIG_AUDIT_HEXLEN + 1];
	uint64_t	line;		/* last accepted line, 0: none */
	uint64_t	offset;
	uint64_t	len;
	uint64_t	records;
	uint64_t	checkpoints;
	uint64_t	checkpoint_line;
	uint64_t	checkpoint_seq;
	char		checkpoint_head[MIG_AUDIT_HEXLEN + 1];
	uint64_t	signed_checkpoints;
	uint64_t	sigs_verified;
	uint64_t	sigs_unchecked;
	uint64_t	signed_line;
	uint64_t	signed_seq;
	uint64_t	unsigned_checkpoints;
	/* With a key: the last valid signed checkpoint. */
	uint64_t	signed_cp_line;
	uint64_t	signed_cp_seq;
	/* With a key: the first record after it (line 0: none). */
	uint64_t	tail_line;
	uint64_t	tail_offset;
	uint64_t	tail_seq;
	/*
	 * With a key: the first unsigned checkpoint after a signed one,
	 * and that signed one's line.
	 */
	uint64_t	splice_after;
	uint64_t	splice_line;
	uint64_t	splice_offset;
	uint64_t	splice_seq;
};

struct audit_verifier {
	const struct mig_sign_key	*pub;
	unsigned int			 flags;
	char				 pubfp[MIG_AUDIT_HEXLEN + 1];
	const char			*head;
	uint64_t			 found_at;	/* line of head */
	struct mig_ctx			*ctx;
	EVP_MD_CTX			*md;
	EVP_MD_CTX			*region;
	EVP_MD				*sha256;
	struct vstate			 st;
	struct vstate			 saved;
	uint64_t			 lines;
	char				 keyfp[MIG_AUDIT_HEXLEN + 1];
	/* Pending region of lines that are not records. */
	bool				 pending;
	uint64_t			 p_line;
	uint64_t			 p_offset;
	uint64_t			 p_end;	/* offset after its last byte */
	char				 p_why[128];
	/* Torn regions explained so far. */
	uint64_t			 torn;
	uint64_t			 torn_line;
	uint64_t			 torn_offset;
	uint64_t			 torn_length;
	/* Checkpoint lines with a sig member, past a failure too. */
	uint64_t			 sig_members;
	bool				 failed;
};

int
audit_verifier_new(const struct mig_sign_key *pub, unsigned int flags,
    const char *head, struct audit_verifier **vp)
{
	struct audit_verifier *v;
	int rc = MIG_ERR_NOMEM;

	*vp = NULL;
	v = calloc(1, sizeof(*v));
	if (v == NULL)
		return MIG_ERR_NOMEM;
	v->pub = pub;
	v->flags = flags;
	v->head = head;
	v->ctx = mig_ctx_new();
	v->md = EVP_MD_CTX_new();
	v->region = EVP_MD_CTX_new();
	v->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (v->ctx == NULL || v->md == NULL || v->region == NULL ||
	    v->sha256 == NULL)
		goto out_free;
	memset(v->st.hhex, '0', MIG_AUDIT_HEXLEN);
	if (pub != NULL &&
	    (rc = mig_sign_fingerprint(pub, v->pubfp, v->ctx)) != 0)
		goto out_free;
	*vp = v;
	return 0;
out_free:
	audit_verifier_free(v);
	return rc;
}

void
audit_verifier_free(struct audit_verifier *v)
{
	if (v == NULL)
		return;
	mig_ctx_free(v->ctx);
	EVP_MD_CTX_free(v->md);
	EVP_MD_CTX_free(v->region);
	EVP_MD_free(v->sha256);
	free(v);
}

static void
fill_report(const struct audit_verifier *v, struct mig_audit_report *rep)
{
	const struct vstate *st = &v->st;

	if (rep == NULL)
		return;
	rep->lines = v->lines;
	rep->records = st->records;
	rep->last_seq = st->seq;
	memcpy(rep->head, st->hhex, sizeof(rep->head));
	rep->checkpoints = st->checkpoints;
	rep->checkpoint_line = st->checkpoint_line;
	rep->checkpoint_seq = st->checkpoint_seq;
	memcpy(rep->checkpoint_head, st->checkpoint_head,
	    sizeof(rep->checkpoint_head));
	rep->signed_checkpoints = st->signed_checkpoints;
	rep->sigs_verified = st->sigs_verified;
	rep->sigs_unchecked = st->sigs_unchecked;
	rep->signed_line = st->signed_line;
	rep->signed_seq = st->signed_seq;
	memcpy(rep->key_fp, v->keyfp, sizeof(rep->key_fp));
	rep->sig_members = v->sig_members;
	rep->unsigned_checkpoints = st->unsigned_checkpoints;
	rep->tail_line = st->tail_line;
	rep->tail_seq = st->tail_seq;
	rep->tail_records = st->tail_line != 0 ?
	    st->seq - st->signed_cp_seq : 0;
	rep->torn = v->torn;
	rep->torn_line = v->torn_line;
	rep->torn_offset = v->torn_offset;
	rep->torn_length = v->torn_length;
}

static int
vbad(struct audit_verifier *v, struct mig_audit_report *rep,
    enum mig_audit_bad kind, uint64_t line, uint64_t offset, uint64_t seq,
    const char *fmt, va_list ap) __attribute__((format(printf, 7, 0)));

static int
vbad(struct audit_verifier *v, struct mig_audit_report *rep,
    enum mig_audit_bad kind, uint64_t line, uint64_t offset, uint64_t seq,
    const char *fmt, va_list ap)
{
	v->failed = true;
	if (rep == NULL)
		return MIG_ERR_VERIFY;
	fill_report(v, rep);
	rep->bad_kind = kind;
	rep->bad_line = line;
	rep->bad_offset = offset;
	rep->bad_seq = seq;
	/* Only a chain problem is where another seq was expected. */
	rep->expected_seq = kind == MIG_AUDIT_BAD_UNSIGNED ? seq :
	    v->st.seq + 1;
	(void)vsnprintf(rep->reason, sizeof(rep->reason), fmt, ap);
	return MIG_ERR_VERIFY;
}

/* The first problem, of the given kind. */
static int
bad_as(struct audit_verifier *v, struct mig_audit_report *rep,
    enum mig_audit_bad kind, uint64_t line, uint64_t offset, uint64_t seq,
    const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static int
bad_as(struct audit_verifier *v, struct mig_audit_report *rep,
    enum mig_audit_bad kind, uint64_t line, uint64_t offset, uint64_t seq,
    const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vbad(v, rep, kind, line, offset, seq, fmt, ap);
	va_end(ap);
	return rc;
}

/* The first problem: a line that is not a record or does not chain. */
static int
bad(struct audit_verifier *v, struct mig_audit_report *rep, uint64_t line,
    uint64_t offset, uint64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static int
bad(struct audit_verifier *v, struct mig_audit_report *rep, uint64_t line,
    uint64_t offset, uint64_t seq, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vbad(v, rep, MIG_AUDIT_BAD_CHAIN, line, offset, seq, fmt, ap);
	va_end(ap);
	return rc;
}

static int
bad_pending(struct audit_verifier *v, struct mig_audit_report *rep,
    const char *extra)
{
	return bad(v, rep, v->p_line, v->p_offset, 0, "%s%s", v->p_why,
	    extra);
}

static bool
sha_line(struct audit_verifier *v, const void *p, size_t n,
    unsigned char md[32])
{
	return EVP_DigestInit_ex(v->md, v->sha256, NULL) == 1 &&
	    EVP_DigestUpdate(v->md, p, n) == 1 &&
	    EVP_DigestFinal_ex(v->md, md, NULL) == 1;
}

/* Adds a line that is not a record to the pending region. */
static int
add_pending(struct audit_verifier *v, const struct audit_line *l,
    const char *why, struct mig_audit_report *rep)
{
	bool ok;

	if (!v->pending) {
		v->pending = true;
		v->p_line = l->lineno;
		v->p_offset = l->offset;
		(void)snprintf(v->p_why, sizeof(v->p_why), "%s", why);
		ok = EVP_DigestInit_ex(v->region, v->sha256, NULL) == 1;
	} else
		ok = EVP_DigestUpdate(v->region, "\n", 1) == 1;
	if (ok && l->len > 0)
		ok = EVP_DigestUpdate(v->region, l->p, l->len) == 1;
	if (!ok)
		return bad(v, rep, l->lineno, l->offset, 0, "SHA-256 failed");
	v->p_end = l->offset + l->len;
	return 0;
}

/*
 * Strict base64 of exactly 64 bytes (88 characters, "==" padded): one
 * text per signature, so a signed log has one spelling.
 */
static int
b64_sig(const struct audit_span *sp, unsigned char sig[MIG_SIGN_SIGLEN])
{
	if (sp->type != AT_STRING || sp->esc ||
	    mig_base64_decode(sp->p, sp->len, sig, MIG_SIGN_SIGLEN) !=
	    MIG_SIGN_SIGLEN)
		return -1;
	return 0;
}

/*
 * A checkpoint without a sig.  With a key, one after a valid signed
 * checkpoint is remembered: it fails the log when a signed checkpoint
 * follows it (a splice), and otherwise lies in the unsigned tail.
 */
static void
unsigned_checkpoint(struct audit_verifier *v, const struct audit_line *l,
    uint64_t seq)
{
	v->st.unsigned_checkpoints++;
	if (v->pub != NULL && v->st.signed_cp_line != 0 &&
	    v->st.splice_line == 0) {
		v->st.splice_after = v->st.signed_cp_line;
		v->st.splice_line = l->lineno;
		v->st.splice_offset = l->offset;
		v->st.splice_seq = seq;
	}
}

/* A checkpoint with a sig whose key is pub's: it must verify. */
static int
check_signature(struct audit_verifier *v, const struct audit_span *head,
    const unsigned char raw[MIG_SIGN_SIGLEN], const struct audit_line *l,
    uint64_t seq, struct mig_audit_report *rep)
{
	if (mig_sign_verify(v->pub, head->p, MIG_AUDIT_HEXLEN, raw,
	    v->ctx) != 0)
		return bad_as(v, rep, MIG_AUDIT_BAD_SIGNATURE, l->lineno,
		    l->offset, seq, "checkpoint signature does not verify "
		    "(forged checkpoint)");
	v->st.sigs_verified++;
	v->st.signed_line = l->lineno - 1;
	v->st.signed_seq = seq - 1;
	v->st.signed_cp_line = l->lineno;
	v->st.signed_cp_seq = seq;
	return 0;
}

static int
check_checkpoint(struct audit_verifier *v, const struct audit_scan *s,
    const struct audit_line *l, uint64_t seq, struct mig_audit_report *rep)
{
	const struct audit_span *head = &s->f[AF_HEAD], *sig = &s->f[AF_SIG];
	const struct audit_span *key = &s->f[AF_KEY];
	unsigned char raw[MIG_SIGN_SIGLEN];

	if (!audit_span_hex64(head) ||
	    memcmp(head->p, v->st.hhex, MIG_AUDIT_HEXLEN) != 0)
		return bad(v, rep, l->lineno, l->offset, seq,
		    "checkpoint head is not the chain hash (forged "
		    "checkpoint)");
	if (sig->type == AT_ABSENT && key->type == AT_ABSENT) {
		unsigned_checkpoint(v, l, seq);
		return 0;
	}
	if (b64_sig(sig, raw) != 0 || !audit_span_hex64(key))
		return bad_as(v, rep, MIG_AUDIT_BAD_SIGNATURE, l->lineno,
		    l->offset, seq, "checkpoint sig or key malformed (forged "
		    "checkpoint)");
	v->st.signed_checkpoints++;
	memcpy(v->keyfp, key->p, MIG_AUDIT_HEXLEN);
	v->keyfp[MIG_AUDIT_HEXLEN] = '\0';
	if (v->pub == NULL) {
		v->st.sigs_unchecked++;
		return 0;
	}
	if (memcmp(key->p, v->pubfp, MIG_AUDIT_HEXLEN) != 0)
		return bad_as(v, rep, MIG_AUDIT_BAD_SIGNATURE, l->lineno,
		    l->offset, seq, "checkpoint signed by another key "
		    "(%.16s..., expected %.16s...)", v->keyfp, v->pubfp);
	return check_signature(v, head, raw, l, seq, rep);
}

/* An audit.torn record: does it explain the bytes just before it? */
static int
check_torn(struct audit_verifier *v, const struct audit_scan *s,
    const struct audit_line *l, uint64_t seq, struct mig_audit_report *rep)
{
	uint64_t off, len;
	unsigned char md[32];
	char hex[MIG_AUDIT_HEXLEN + 1];
	const struct audit_span *sh = &s->f[AF_TORN_SHA256];

	if (audit_span_u64(&s->f[AF_TORN_OFFSET], &off) != 0 ||
	    audit_span_u64(&s->f[AF_TORN_LENGTH], &len) != 0 ||
	    !audit_span_hex64(sh)) {
		if (v->pending)
			return bad_pending(v, rep, "");
		return bad(v, rep, l->lineno, l->offset, seq,
		    "audit.torn record without torn_offset, torn_length "
		    "and torn_sha256");
	}
	if (v->pending) {
		if (EVP_DigestFinal_ex(v->region, md, NULL) != 1)
			return bad(v, rep, l->lineno, l->offset, seq,
			    "SHA-256 failed");
		mig_hex_encode(md, 32, hex);
		if (off != v->p_offset || len != v->p_end - v->p_offset ||
		    l->offset != v->p_end + 1 ||
		    memcmp(sh->p, hex, MIG_AUDIT_HEXLEN) != 0) {
			v->pending = false;
			return bad(v, rep, v->p_line, v->p_offset, 0,
			    "%s (the audit.torn record on line %" PRIu64
			    " does not describe it)", v->p_why, l->lineno);
		}
		v->pending = false;
		if (v->torn++ == 0) {
			v->torn_line = v->p_line;
			v->torn_offset = off;
			v->torn_length = len;
		}
		return 0;
	}
	/* A torn line that held a whole record: take it back. */
	if (v->st.line > 0 && off == v->st.offset && len == v->st.len &&
	    l->offset == off + len + 1 &&
	    memcmp(sh->p, v->st.hhex, MIG_AUDIT_HEXLEN) == 0) {
		if (v->torn++ == 0) {
			v->torn_line = v->st.line;
			v->torn_offset = off;
			v->torn_length = len;
		}
		if (v->found_at == v->st.line)
			v->found_at = 0;	/* that head was torn */
		v->st = v->saved;
		return 0;
	}
	return bad(v, rep, l->lineno, l->offset, seq,
	    "audit.torn record names no torn bytes before it");
}

/* Counts a checkpoint that carries a sig, valid or not, checked or not. */
static void
note_sig(struct audit_verifier *v, const struct audit_scan *s)
{
	if (!audit_span_eq(&s->f[AF_EVENT], MIG_AUDIT_CHECKPOINT) ||
	    s->f[AF_SIG].type == AT_ABSENT)
		return;
	v->sig_members++;
	if (v->keyfp[0] == '\0' && audit_span_hex64(&s->f[AF_KEY])) {
		memcpy(v->keyfp, s->f[AF_KEY].p, MIG_AUDIT_HEXLEN);
		v->keyfp[MIG_AUDIT_HEXLEN] = '\0';
	}
}

/* A line after the first problem: only what it says about signing. */
static void
census(struct audit_verifier *v, const struct audit_line *l)
{
	struct audit_scan s;
	const char *why;

	if (l->p != NULL && audit_scan_line(l->p, l->len, &s, &why) == 0)
		note_sig(v, &s);
}

/*
 * Makes the line with hash md the end of the chain; before is the state
 * a torn record after it would bring back.  With a key, the line starts
 * the unsigned tail unless it is a valid signed checkpoint.
 */
static void
accept_line(struct audit_verifier *v, const struct audit_line *l,
    uint64_t seq, const unsigned char md[32], const struct vstate *before)
{
	v->saved = *before;
	v->st.seq = seq;
	memcpy(v->st.h, md, sizeof(v->st.h));
	mig_hex_encode(md, 32, v->st.hhex);
	v->st.line = l->lineno;
	v->st.offset = l->offset;
	v->st.len = l->len;
	v->st.records++;
	if (v->pub == NULL)
		return;
	if (v->st.signed_cp_line == l->lineno)
		v->st.tail_line = 0;
	else if (v->st.tail_line == 0) {
		v->st.tail_line = l->lineno;
		v->st.tail_offset = l->offset;
		v->st.tail_seq = seq;
	}
}

/*
 * The last line has no newline: an append was interrupted there.  The
 * region reported starts at the pending lines before it, if any.
 */
static int
torn_tail(struct audit_verifier *v, const struct audit_line *l,
    struct mig_audit_report *rep)
{
	if (v->pending)
		return bad(v, rep, v->p_line, v->p_offset, 0,
		    "torn tail: the %" PRIu64 " bytes from offset %" PRIu64
		    " to the end end without a newline (an interrupted "
		    "append; the next writer records it as audit.torn)",
		    l->offset + l->len - v->p_offset, v->p_offset);
	return bad(v, rep, l->lineno, l->offset, 0,
	    "torn tail: the last %zu bytes (offset %" PRIu64 ") end without "
	    "a newline (an interrupted append; the next writer records it "
	    "as audit.torn)", l->len, l->offset);
}

/*
 * The chain: a record's seq is one more than the last accepted record's,
 * and its prev is that record's line's SHA-256 (64 zeros for the first).
 */
static int
check_link(struct audit_verifier *v, const struct audit_scan *s,
    const struct audit_line *l, uint64_t seq, struct mig_audit_report *rep)
{
	if (seq != v->st.seq + 1)
		return bad(v, rep, l->lineno, l->offset, seq,
		    "seq %" PRIu64 " where %" PRIu64 " was expected: %s",
		    seq, v->st.seq + 1, seq > v->st.seq + 1 ?
		    "records were deleted" :
		    "a record was inserted, duplicated or moved");
	if (memcmp(s->f[AF_PREV].p, v->st.hhex, MIG_AUDIT_HEXLEN) != 0) {
		if (v->st.line == 0)
			return bad(v, rep, l->lineno, l->offset, seq,
			    "prev of the first record is not 64 zeros");
		return bad(v, rep, l->lineno, l->offset, seq,
		    "prev is not the SHA-256 of line %" PRIu64 ": that "
		    "line was altered, or lines were removed or inserted "
		    "here", v->st.line);
	}
	return 0;
}

static int
verify_line(struct audit_verifier *v, const struct audit_line *l,
    struct mig_audit_report *rep)
{
	struct audit_scan s;
	const char *why;
	unsigned char md[32];
	struct vstate before;
	uint64_t seq;
	int rc;

	v->lines++;
	if (!l->terminated)
		return torn_tail(v, l, rep);
	if (l->toolong)
		return bad(v, rep, l->lineno, l->offset, 0,
		    "line longer than %d bytes", MIG_AUDIT_LINE_MAX);
	if (audit_scan_line(l->p, l->len, &s, &why) != 0 ||
	    audit_rec_check(&s, &seq, &why) != 0) {
		char buf[128];

		(void)snprintf(buf, sizeof(buf), "not a valid record: %s",
		    why);
		return add_pending(v, l, buf, rep);
	}
	note_sig(v, &s);
	if (!sha_line(v, l->p, l->len, md))
		return bad(v, rep, l->lineno, l->offset, seq,
		    "SHA-256 failed");
	before = v->st;
	if (audit_span_eq(&s.f[AF_EVENT], MIG_AUDIT_TORN)) {
		if ((rc = check_torn(v, &s, l, seq, rep)) != 0)
			return rc;
		before = v->st;		/* it may have taken a line back */
	} else if (v->pending)
		return bad_pending(v, rep, "");
	if ((rc = check_link(v, &s, l, seq, rep)) != 0)
		return rc;
	if (audit_span_eq(&s.f[AF_EVENT], MIG_AUDIT_CHECKPOINT)) {
		if ((rc = check_checkpoint(v, &s, l, seq, rep)) != 0)
			return rc;
		v->st.checkpoints++;
		v->st.checkpoint_line = l->lineno;
		v->st.checkpoint_seq = seq;
		memcpy(v->st.checkpoint_head, v->st.hhex,
		    sizeof(v->st.checkpoint_head));
		if (v->head != NULL &&
		    memcmp(v->head, v->st.hhex, MIG_AUDIT_HEXLEN) == 0)
			v->found_at = l->lineno;
	}
	accept_line(v, l, seq, md, &before);
	if (v->st.splice_line != 0 && v->st.signed_cp_line == l->lineno)
		return bad_as(v, rep, MIG_AUDIT_BAD_UNSIGNED,
		    v->st.splice_line, v->st.splice_offset, v->st.splice_seq,
		    "unsigned checkpoint between the signed checkpoints on "
		    "lines %" PRIu64 " and %" PRIu64 ": records were "
		    "appended without the key and signed over later (a "
		    "spliced log)", v->st.splice_after, l->lineno);
	return 0;
}

/*
 * When looking for a head, the checkpoint that has it counts once the
 * line after it did not take it back as torn.
 */
int
audit_verifier_line(struct audit_verifier *v, const struct audit_line *l,
    struct mig_audit_report *rep)
{
	uint64_t found = v->found_at;
	int rc;

	if (v->failed) {
		census(v, l);
		return MIG_ERR_VERIFY;
	}
	rc = verify_line(v, l, rep);
	if (found != 0 && v->found_at == found)
		return 1;
	return rc;
}

int
audit_verifier_end(struct audit_verifier *v, struct mig_audit_report *rep)
{
	const struct vstate *st = &v->st;

	if (v->found_at != 0)
		return 1;
	if (v->failed) {
		/* What the census of the lines after the problem found. */
		if (rep != NULL) {
			rep->sig_members = v->sig_members;
			memcpy(rep->key_fp, v->keyfp, sizeof(rep->key_fp));
		}
		return MIG_ERR_VERIFY;
	}
	if (v->pending)
		return bad_pending(v, rep, " (no audit.torn record follows)");
	if (v->pub != NULL && st->records > 0 && st->sigs_verified == 0)
		return bad_as(v, rep, MIG_AUDIT_BAD_UNSIGNED, st->tail_line,
		    st->tail_offset, st->tail_seq, "no checkpoint is signed "
		    "by key %.16s...: no record is covered by a signature",
		    v->pubfp);
	if (v->pub != NULL && st->tail_line != 0 &&
	    (v->flags & MIG_AUDIT_ALLOW_UNSIGNED_TAIL) == 0)
		return bad_as(v, rep, MIG_AUDIT_BAD_UNSIGNED, st->tail_line,
		    st->tail_offset, st->tail_seq, "%" PRIu64 " record(s) "
		    "after the last signed checkpoint (line %" PRIu64 ", seq %"
		    PRIu64 ") are covered by no signature: appended without "
		    "the key, or by a run that did not finish",
		    st->seq - st->signed_cp_seq, st->signed_cp_line,
		    st->signed_cp_seq);
	fill_report(v, rep);
	return 0;
}

/*
 * Looking for a head stops at the first problem; a full check reads on
 * to the end, so that the census can say whether the log is signed.
 */
static int
run_verifier(const char *path, const struct mig_sign_key *pub,
    unsigned int flags, const char *head, struct mig_audit_report *rep,
    struct mig_ctx *ctx)
{
	struct audit_reader *r = NULL;
	struct audit_verifier *v = NULL;
	struct audit_line l;
	struct mig_audit_report local;
	int rc;

	if (rep == NULL)
		rep = &local;
	memset(rep, 0, sizeof(*rep));
	if ((rc = audit_reader_open(path, NULL, 0, path, ctx, &r)) != 0)
		return rc;
	rc = audit_verifier_new(pub, flags, head, &v);
	if (rc != 0) {
		rc = mig_seterr(ctx, rc, "%s: cannot start verifier", path);
		goto out_free;
	}
	while ((rc = audit_reader_next(r, &l, ctx)) == 1) {
		rc = audit_verifier_line(v, &l, rep);
		if (rc != 0 && (rc != MIG_ERR_VERIFY || head != NULL))
			break;
	}
	if (rc == 0)
		rc = audit_verifier_end(v, rep);
	if (rc == MIG_ERR_VERIFY && head != NULL) {
		mig_seterr(ctx, rc, "%s:%" PRIu64 ": %s (before the "
		    "checkpoint with head %.16s...)", path, rep->bad_line,
		    rep->reason, head);
	} else if (rc == MIG_ERR_VERIFY) {
		if (rep->bad_seq != 0)
			mig_seterr(ctx, rc, "%s:%" PRIu64 ": seq %" PRIu64
			    ": %s", path, rep->bad_line, rep->bad_seq,
			    rep->reason);
		else
			mig_seterr(ctx, rc, "%s:%" PRIu64 ": seq ? (expected %"
			    PRIu64 "): %s", path, rep->bad_line,
			    rep->expected_seq, rep->reason);
	}
	if (rc == 1)
		fill_report(v, rep);
out_free:
	audit_verifier_free(v);
	audit_reader_free(r);
	return rc;
}

int
mig_audit_verify(const char *path, const struct mig_sign_key *pub,
    unsigned int flags, struct mig_audit_report *rep, struct mig_ctx *ctx)
{
	int rc;

	rc = run_verifier(path, pub, flags, NULL, rep, ctx);
	return rc == 1 ? MIG_ERR_INTERNAL : rc;
}

int
mig_audit_find_head(const char *path, const char *head_hex,
    struct mig_ctx *ctx)
{
	int rc;

	if (head_hex == NULL || strlen(head_hex) != MIG_AUDIT_HEXLEN)
		return mig_seterr(ctx, MIG_ERR_VERIFY,
		    "%s: Migrate-Audit-Head is not 64 hex digits", path);
	rc = run_verifier(path, NULL, 0, head_hex, NULL, ctx);
	if (rc == 1)
		return 0;
	if (rc == 0)
		return mig_seterr(ctx, MIG_ERR_VERIFY,
		    "%s: no checkpoint with head %.16s...: the log was cut "
		    "or rewritten after the bag was made", path, head_hex);
	return rc;
}
