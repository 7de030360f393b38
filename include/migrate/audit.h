/*
 * Tamper-evident audit trail (migrate-audit(5)).
 *
 * The log is JSON Lines.  Every line is one record whose "prev" member is
 * the lowercase hex SHA-256 of the previous line's bytes (without its
 * terminating newline); the first line's prev is 64 zeros.  A "checkpoint"
 * record carries "head" (equal to its prev: the chain hash that commits to
 * every earlier line) and, when a signing key is set, "sig" (base64
 * Ed25519 signature over the 64 ASCII hex characters of head) and "key"
 * (hex SHA-256 of the raw public key).
 *
 * Writers append with O_APPEND under flock(2), so that several processes
 * (and several threads of one process) appending to one log keep a single
 * valid chain.  A torn last line left by a crash is never absorbed: the
 * next writer appends an "audit.torn" record that names its offset,
 * length and SHA-256 and chains to the last complete record.
 */
#ifndef MIGRATE_AUDIT_H
#define MIGRATE_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

struct mig_ctx;
struct mig_sign_key;

/* Longest line a writer produces and a reader accepts (newline excluded). */
#define MIG_AUDIT_LINE_MAX		(1024 * 1024)
/* Default checkpoint cadence: after every record whose seq is a multiple. */
#define MIG_AUDIT_CHECKPOINT_EVERY	1000
#define MIG_AUDIT_HEXLEN		64

/*
 * Event names of DESIGN.md section 5 (the writer accepts any name made of
 * [a-z0-9._-]; "checkpoint" and "audit.torn" are written only by the
 * library).  Event-specific members that `audit show' displays (the
 * members of every event are listed in migrate-audit(5)):
 *   "object"  (string) path of the object, relative to the source root
 *   "bytes"   (integer) plaintext size
 *   "outcome" (string) short result ("complete", "partial", ...)
 *   "reason"  (string) why, for failures and refusals
 */
#define MIG_AUDIT_RUN_START	"run.start"
#define MIG_AUDIT_RUN_END	"run.end"
#define MIG_AUDIT_OBJ_STORED	"object.stored"
#define MIG_AUDIT_OBJ_SKIPPED	"object.skipped"
#define MIG_AUDIT_OBJ_FAILED	"object.failed"
#define MIG_AUDIT_OBJ_RETAINED	"object.retained"
#define MIG_AUDIT_OBJ_REMOVED	"object.removed"	/* from an unfinished bag */
#define MIG_AUDIT_SRC_DELETED	"source.deleted"
#define MIG_AUDIT_SRC_DELETING	"source.deleting"	/* intent, synced */
#define MIG_AUDIT_SRC_KEPT	"source.kept"	/* delete_source did not */
#define MIG_AUDIT_VERIFY_OK	"verify.ok"
#define MIG_AUDIT_VERIFY_FAILED	"verify.failed"
#define MIG_AUDIT_SEC_REFUSED	"security.refused"
#define MIG_AUDIT_CHECKPOINT	"checkpoint"
#define MIG_AUDIT_TORN		"audit.torn"

/* ---- Writer --------------------------------------------------------- */

struct mig_audit_log;

struct mig_audit_opts {
	const char			*plan;	/* plan name; required */
	const char			*actor;	/* "user@host"; required */
	/*
	 * Borrowed private key; must outlive the log.  NULL: checkpoints
	 * carry only the hash.
	 */
	const struct mig_sign_key	*key;
	/* Checkpoint after each record whose seq is a multiple; 0: 1000. */
	unsigned int			 checkpoint_every;
	/* Clock for "ts"; NULL: clock_gettime(CLOCK_REALTIME).  For tests. */
	int				(*clock)(struct timespec *now);
};

/*
 * Opens (creating with mode 0640 if needed) the log at path for
 * appending.  The strings of opts are copied.  The log may be shared by
 * several threads; each passes its own ctx to the calls below.
 * Caller must mig_audit_close() *logp.
 */
int	mig_audit_open(const char *path, const struct mig_audit_opts *opts,
	    struct mig_ctx *ctx, struct mig_audit_log **logp);

/*
 * Whether mig_audit_open() would take the file at path, checked read-only
 * (plan check): 0 when it is missing, empty or starts like an audit log;
 * MIG_ERR_FORMAT when it is some other file, MIG_ERR_SECURITY when it is
 * a symbolic link, MIG_ERR_IO when it cannot be read.
 */
int	mig_audit_probe(const char *path, struct mig_ctx *ctx);

/*
 * Appends one record: v, seq, ts, run, plan, actor, event, then the
 * members of fields in their insertion order, then prev.  fields is
 * borrowed (the caller keeps its reference) and may be NULL.  It must not
 * use the reserved names (v, seq, ts, run, plan, actor, event, prev,
 * head, sig, key): MIG_ERR_USAGE.  A member named like a secret
 * (password, passphrase, secret, token, private) or a string value that
 * holds an age secret key or a PEM private key is refused with
 * MIG_ERR_SECURITY, so that no secret ever reaches the log.
 * When the record's seq is a multiple of the checkpoint cadence, a
 * checkpoint follows it under the same lock.
 */
int	mig_audit_emit(struct mig_audit_log *log, const char *run,
	    const char *event, const json_t *fields, struct mig_ctx *ctx);

/*
 * Appends a checkpoint record for run (signed when the log has a key) and
 * fsyncs the log.  Call it at every run end, after "run.end".  head_out
 * (may be NULL) receives the checkpoint's head, NUL-terminated: the value
 * for a bag's Migrate-Audit-Head.
 */
int	mig_audit_checkpoint(struct mig_audit_log *log, const char *run,
	    char head_out[MIG_AUDIT_HEXLEN + 1], struct mig_ctx *ctx);

/*
 * fsyncs the log: what was appended so far survives a crash (an intent
 * recorded before an irreversible step, e.g. source.deleting).
 */
int	mig_audit_sync(struct mig_audit_log *log, struct mig_ctx *ctx);
/*
 * fsyncs and closes the log and frees it; NULL is a no-op.  Returns
 * MIG_ERR_IO (with the log still freed) when fsync or close fail.
 */
int	mig_audit_close(struct mig_audit_log *log, struct mig_ctx *ctx);

/* ---- Verifier ------------------------------------------------------- */

/* What kind of problem rep->bad_* describes. */
enum mig_audit_bad {
	MIG_AUDIT_BAD_NONE = 0,
	MIG_AUDIT_BAD_CHAIN,	/* a line is not a record, or does not chain */
	MIG_AUDIT_BAD_SIGNATURE,/* a checkpoint's sig or key is wrong */
	MIG_AUDIT_BAD_UNSIGNED	/* with a key: records no signature covers */
};

/*
 * With a key, accept the records after the last valid signed checkpoint
 * (a run that did not finish, or records appended without the key) and
 * count them in rep->tail_records instead of failing on the first one.
 */
#define MIG_AUDIT_ALLOW_UNSIGNED_TAIL	0x01

struct mig_audit_report {
	uint64_t	lines;		/* lines read */
	uint64_t	records;	/* lines accepted as records */
	uint64_t	last_seq;	/* seq of the last accepted record */
	char		head[MIG_AUDIT_HEXLEN + 1]; /* SHA-256 of that line */
	uint64_t	checkpoints;
	/* Last checkpoint: its line; lines before it are checkpointed. */
	uint64_t	checkpoint_line;
	uint64_t	checkpoint_seq;
	char		checkpoint_head[MIG_AUDIT_HEXLEN + 1]; /* its head */
	uint64_t	signed_checkpoints;	/* carrying a sig */
	uint64_t	sigs_verified;		/* valid under the given key */
	uint64_t	sigs_unchecked;		/* signed, but no key given */
	/* Lines 1..signed_line are covered by a valid signature. */
	uint64_t	signed_line;
	uint64_t	signed_seq;	/* seq of the last covered line */
	char		key_fp[MIG_AUDIT_HEXLEN + 1]; /* "key" of the log */
	/*
	 * Checkpoints that carry a "sig" member on any line of the log,
	 * also on lines after the first problem (which are not otherwise
	 * checked): tells a signed log from a hash-only one even when the
	 * chain breaks before its first checkpoint.
	 */
	uint64_t	sig_members;
	/*
	 * Checkpoints without a sig.  With a key, in a log that passes:
	 * those before the first signed one, and those of an accepted tail.
	 */
	uint64_t	unsigned_checkpoints;
	/*
	 * With a key: records after the last valid signed checkpoint, and
	 * the first of them (0: none).  Accepted only with
	 * MIG_AUDIT_ALLOW_UNSIGNED_TAIL.
	 */
	uint64_t	tail_records;
	uint64_t	tail_line;
	uint64_t	tail_seq;
	/* Torn regions explained by audit.torn records. */
	uint64_t	torn;
	uint64_t	torn_line;	/* first one: line, offset, length */
	uint64_t	torn_offset;
	uint64_t	torn_length;
	/* The first problem (bad_line == 0: none). */
	enum mig_audit_bad bad_kind;
	uint64_t	bad_line;
	uint64_t	bad_offset;
	uint64_t	bad_seq;	/* seq on that line, 0 if unreadable */
	uint64_t	expected_seq;	/* the seq the chain expected there */
	char		reason[256];
};

/*
 * Checks the whole log at path in one streaming pass (constant memory):
 * every line is a record, seq increases by one, prev chains, every
 * checkpoint's head is its prev, torn regions are explained by
 * audit.torn records.  With pub (borrowed; may be NULL) the log is held
 * to its signatures: every signed checkpoint must carry pub's
 * fingerprint and a valid signature, at least one must, the last record
 * must be a valid signed checkpoint (unless flags has
 * MIG_AUDIT_ALLOW_UNSIGNED_TAIL), and no checkpoint after the first
 * signed one may be unsigned (records spliced in without the key and
 * signed over by a later writer).  Unsigned checkpoints before the first
 * signed one are counted (a log that was hash-only until the plan got a
 * signing key): the first signature covers them.
 * Returns 0 when intact, MIG_ERR_VERIFY with rep->bad_* and the ctx
 * message "PATH:LINE: seq N: REASON" on the first bad line, MIG_ERR_IO
 * or MIG_ERR_NOTFOUND when the log cannot be read.  rep may be NULL.
 */
int	mig_audit_verify(const char *path, const struct mig_sign_key *pub,
	    unsigned int flags, struct mig_audit_report *rep,
	    struct mig_ctx *ctx);

/*
 * 0 when the log at path holds, intact up to it, a checkpoint whose head
 * is head_hex (a bag's Migrate-Audit-Head); MIG_ERR_VERIFY when it does
 * not (log truncated or rewritten) or the chain breaks before it.
 */
int	mig_audit_find_head(const char *path, const char *head_hex,
	    struct mig_ctx *ctx);

/* ---- Runs on record (lib/audit/runs.c) -------------------------------- */

/* A checkpoint of a run. */
struct mig_audit_cp {
	uint64_t	seq;
	char		head[MIG_AUDIT_HEXLEN + 1];
	bool		signed_;	/* carries a sig (verified with a key) */
};

/* One bag of a run: the run itself, or one shard ("K/N") of it. */
struct mig_audit_bag {
	char		shard[16];		/* "" or "K/N" */
	char		dir[1024];		/* run.start "dir" */
	bool		started;
	bool		complete;		/* a run.end "complete" */
	bool		nothing_new;		/* a run.end "nothing new" */
	uint64_t	end_seq;		/* of the last complete run.end */
	uint64_t	objects;		/* its "objects" */
	char		manifest_sha256[MIG_AUDIT_HEXLEN + 1]; /* or "" */
	/* SHA-256 of migrate-manifest.json.age as stored, or "" */
	char		snapshot_sha256[MIG_AUDIT_HEXLEN + 1];
	/* Of the last complete run.end, for `migrate runs': */
	uint64_t	files;			/* in the snapshot */
	uint64_t	bytes;			/* read from the source */
	char		parent[32];		/* or "" */
	char		ts[40];			/* its first run.start */
	char		strategy[16];		/* run.start "strategy" */
};

struct mig_audit_run {
	char			 id[32];
	uint64_t		 first_seq;	/* its first run.start */
	struct mig_audit_bag	*bags;
	size_t			 nbags;
	struct mig_audit_cp	*cps;		/* in log order */
	size_t			 ncps, cpcap;
};

/* The runs of one plan, in the order they first started. */
struct mig_audit_runs {
	struct mig_audit_run	*v;
	size_t			 n, cap;
};

/*
 * What the log says was stored in one run: every (object, ciphertext
 * SHA-256) pair, one per landing attempt, kept as the first 16 bytes of
 * SHA-256(dest NUL sha256-hex), sorted.  A run of millions of objects
 * costs 16 bytes an object (issue 20); a pair that was never recorded
 * passes only with a 128-bit second preimage.
 */
struct mig_audit_stored {
	unsigned char	(*v)[16];
	size_t		 n, cap;
};

/* Whether (dest, sha256 hex) is on record in s. */
bool	mig_audit_stored_has(const struct mig_audit_stored *s,
	    const char *dest, const char *sha256_hex);
void	mig_audit_stored_free(struct mig_audit_stored *s);

/*
 * Reads the log at path in one pass, verifying it as mig_audit_verify()
 * does (pub may be NULL), and collects the runs of plan.  With want_run
 * and stored, *stored gets every object the log says was stored in
 * want_run (bag-relative "data/..." path, or "object" for an archive)
 * with its ciphertext SHA-256; the caller frees it with
 * mig_audit_stored_free().  Returns 0; MIG_ERR_VERIFY (rep says where)
 * when the chain or a signature is broken; MIG_ERR_IO/MIG_ERR_NOTFOUND
 * when the log cannot be read.  Caller frees *out with
 * mig_audit_runs_free().
 */
int	mig_audit_runs_read(const char *path, const char *plan,
	    const struct mig_sign_key *pub, const char *want_run,
	    struct mig_audit_stored *stored, struct mig_audit_runs *out,
	    struct mig_audit_report *rep, struct mig_ctx *ctx);
void	mig_audit_runs_free(struct mig_audit_runs *runs);
/* The run with that id, or NULL.  Borrowed from runs. */
const struct mig_audit_run *mig_audit_runs_find(
	    const struct mig_audit_runs *runs, const char *id);

/* ---- Review (audit show) -------------------------------------------- */

/* Timestamps compare as normalized strings "YYYY-MM-DDTHH:MM:SS.uuuuuuZ". */
#define MIG_AUDIT_TSLEN	27

/*
 * Normalizes "YYYY-MM-DD", "YYYY-MM-DDTHH:MM", "...:SS", "...:SS.frac"
 * with an optional trailing "Z" (UTC; a space may replace the "T") into
 * out.  MIG_ERR_USAGE when s is not such a time.
 */
int	mig_audit_time_parse(const char *s, char out[MIG_AUDIT_TSLEN + 1],
	    struct mig_ctx *ctx);

/* The end of a run id that `audit show' prints (the random part). */
#define MIG_AUDIT_RUN_SUFFIX	8

struct mig_audit_filter {
	/*
	 * A run id, or its last MIG_AUDIT_RUN_SUFFIX characters (which may
	 * match several runs); NULL: every run.
	 */
	const char	*run;
	const char	*event;		/* fnmatch(3) glob, or NULL */
	const char	*since;		/* normalized; ts >= since, or NULL */
	const char	*until;		/* normalized; ts < until, or NULL */
};

/* One line of the log.  Strings are decoded and NUL-terminated. */
struct mig_audit_rec {
	uint64_t	 line;
	uint64_t	 offset;
	const char	*raw;		/* the line's bytes (no newline) */
	size_t		 rawlen;
	int		 valid;		/* 0: not a record (torn or garbage) */
	uint64_t	 seq;
	const char	*ts, *run, *plan, *actor, *event;
	const char	*object;	/* NULL when absent */
	int64_t		 bytes;		/* -1 when absent */
	const char	*outcome;	/* NULL when absent */
	const char	*reason;	/* NULL when absent */
	const char	*head;		/* checkpoints; NULL when absent */
};

struct mig_audit_runsum {
	char		*run;
	char		 first_ts[MIG_AUDIT_TSLEN + 1];
	char		 last_ts[MIG_AUDIT_TSLEN + 1];
	uint64_t	 files;		/* object.stored + object.retained */
	uint64_t	 bytes;		/* their bytes */
	uint64_t	 skipped;
	uint64_t	 failures;	/* *.failed + security.refused */
	int		 ended;		/* run.end seen */
	double		 duration;	/* seconds from first to last ts */
};

struct mig_audit_iter;

/*
 * Streams the log at path.  filter is copied (may be NULL).  Caller must
 * mig_audit_iter_free() *itp.
 */
int	mig_audit_iter_open(const char *path,
	    const struct mig_audit_filter *filter, struct mig_ctx *ctx,
	    struct mig_audit_iter **itp);
/*
 * Sets *recp to the next line that passes the filter (lines that are not
 * records are always returned, with valid = 0) and returns 1; returns 0
 * at the end, or a MIG_ERR_* code.  *recp is borrowed until the next call.
 */
int	mig_audit_iter_next(struct mig_audit_iter *it,
	    const struct mig_audit_rec **recp, struct mig_ctx *ctx);
/*
 * Per-run totals over the records that passed the run, since and until
 * filters (whatever the event filter), in order of first appearance.
 * Borrowed; valid until mig_audit_iter_free().
 */
void	mig_audit_iter_runs(const struct mig_audit_iter *it,
	    const struct mig_audit_runsum **runsp, size_t *nrunsp);
void	mig_audit_iter_free(struct mig_audit_iter *it);

#endif /* MIGRATE_AUDIT_H */
