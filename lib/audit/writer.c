/*
 * The audit writer.
 *
 * Every append takes the log's mutex (threads of this process share one
 * open file description, which flock(2) does not tell apart) and then an
 * exclusive flock (other processes).  The hash and seq of the last line
 * are kept in memory together with the file size they belong to; when the
 * size changed under us (another process appended), the tail is read
 * again before chaining.  That tail scan is also where a torn last line
 * is found: the bytes after the last complete record become a torn
 * region, and the next record written is an audit.torn record that names
 * the region and chains to the last complete record (migrate-audit(5)).
 * A torn line this process would leave itself (a write that failed part
 * way, ENOSPC) is cut off again at once.  A file that does not start
 * like an audit log is never appended to.
 */
#define MIG_AUDIT_INTERNAL
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "migrate/audit.h"
#include "migrate/error.h"
#include "migrate/sign.h"
#include "migrate/util.h"

#include "audit_int.h"
#include "../util/util_int.h"

/* The longest torn region a writer will describe; more is not a crash. */
#define TORN_MAX	(4 * (off_t)MIG_AUDIT_LINE_MAX)
#define SCAN_CHUNK	(64 * 1024)

struct mig_audit_log {
	pthread_mutex_t			 mu;
	int				 fd;
	char				*path;
	char				*plan;
	char				*actor;
	const struct mig_sign_key	*key;
	char				 keyfp[MIG_AUDIT_HEXLEN + 1];
	unsigned int			 every;
	int				(*clock)(struct timespec *);
	/* Chain state, valid while the file size is known_size. */
	off_t				 known_size;
	uint64_t			 seq;
	char				 hhex[MIG_AUDIT_HEXLEN + 1];
	/* A torn region found by the last tail scan, not yet recorded. */
	bool				 torn;
	bool				 torn_seal;	/* needs a newline */
	uint64_t			 torn_off;
	uint64_t			 torn_len;
	char				 torn_sha[MIG_AUDIT_HEXLEN + 1];
	char				*buf;	/* MIG_AUDIT_LINE_MAX + 1 */
	/*
	 * SHA-256 of the lines written, fetched once: SHA256() and
	 * EVP_sha256() look the algorithm up again at every call.
	 */
	EVP_MD				*sha256;
	EVP_MD_CTX			*md;
};

/* The bytes every record starts with, as the writer serializes it. */
static const char rec_magic[] = "{\"v\":1,\"seq\":";

static const char *const reserved[] = {
	"v", "seq", "ts", "run", "plan", "actor", "event", "prev", "head",
	"sig", "key", NULL
};

static const char *const secret_names[] = {
	"password", "passphrase", "secret", "token", "private", NULL
};

/* What a secret key looks like inside a string. */
static const char *const secret_marks[] = {
	"AGE-SECRET-KEY-", "PRIVATE KEY-----", NULL
};

static int
default_clock(struct timespec *now)
{
	return clock_gettime(CLOCK_REALTIME, now);
}

/* ---- Secrets and names ---------------------------------------------- */

/*
 * Whether s holds one of marks, in any case.  strncasecmp() only where
 * the first letter matches: the members of every record are scanned, and
 * a call at every position of every string was a share of an append.
 */
static bool
holds_any(const char *s, const char *const *marks)
{
	const char *p;
	size_t i, n;
	int first;

	for (i = 0; marks[i] != NULL; i++) {
		n = strlen(marks[i]);
		first = tolower((unsigned char)marks[i][0]);
		for (p = s; *p != '\0'; p++)
			if (tolower((unsigned char)*p) == first &&
			    strncasecmp(p, marks[i], n) == 0)
				return true;
	}
	return false;
}

/* MIG_ERR_SECURITY when v (recursively) looks like it holds a secret. */
static int
check_secrets(const json_t *v, int depth, struct mig_ctx *ctx)
{
	const char *k;
	json_t *m;
	size_t i;
	int rc;

	if (depth > 32)
		return mig_seterr(ctx, MIG_ERR_USAGE,
		    "audit record nested too deeply");
	if (json_is_string(v)) {
		if (holds_any(json_string_value(v), secret_marks))
			return mig_seterr(ctx, MIG_ERR_SECURITY,
			    "refusing to write a secret key into the audit "
			    "log");
		return 0;
	}
	if (json_is_array(v)) {
		json_array_foreach(v, i, m)
			if ((rc = check_secrets(m, depth + 1, ctx)) != 0)
				return rc;
		return 0;
	}
	if (!json_is_object(v))
		return 0;
	json_object_foreach((json_t *)v, k, m) {
		if (holds_any(k, secret_names))
			return mig_seterr(ctx, MIG_ERR_SECURITY,
			    "refusing audit member \"%s\": secrets never go "
			    "into the audit log", k);
		if ((rc = check_secrets(m, depth + 1, ctx)) != 0)
			return rc;
	}
	return 0;
}

static bool
event_name_ok(const char *e)
{
	size_t i;

	if (e == NULL || e[0] == '\0' || strlen(e) > 64)
		return false;
	for (i = 0; e[i] != '\0'; i++)
		if (!(islower((unsigned char)e[i]) ||
		    isdigit((unsigned char)e[i]) || e[i] == '.' ||
		    e[i] == '_' || e[i] == '-'))
			return false;
	return true;
}

static bool
text_ok(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0' || strlen(s) > 512)
		return false;
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/* ---- Open and close ------------------------------------------------- */

static int	pread_all(struct mig_audit_log *, void *, size_t, off_t,
		    struct mig_ctx *);

/* p[0..n) is the start of a record as this writer writes one: torn. */
static bool
record_prefix(const char *p, size_t n)
{
	size_t m = sizeof(rec_magic) - 1;

	return n > 0 && memcmp(p, rec_magic, n < m ? n : m) == 0;
}

/*
 * Appending to a file that is not an audit log would bury it under
 * records (and let a verifier call it torn).  The file must start with
 * a record, after at most some torn starts of records that a crash in
 * its first appends left (each the start of what the writer writes, and
 * together no longer than a torn region may be); or be one torn start.
 */
static int
check_head(struct mig_audit_log *log, off_t size, struct mig_ctx *ctx)
{
	struct audit_scan s;
	const char *why = "empty line", *nl;
	uint64_t seq, lineno = 1;
	off_t off = 0;
	size_t n, k;
	int rc;

	for (; off < size && off < TORN_MAX; off += (off_t)k + 1, lineno++) {
		n = size - off > MIG_AUDIT_LINE_MAX + 1 ?
		    MIG_AUDIT_LINE_MAX + 1 : (size_t)(size - off);
		if ((rc = pread_all(log, log->buf, n, off, ctx)) != 0)
			return rc;
		nl = memchr(log->buf, '\n', n);
		k = nl != NULL ? (size_t)(nl - log->buf) : n;
		if (k > MIG_AUDIT_LINE_MAX) {
			why = "longer than an audit record may be";
			break;
		}
		if (nl != NULL &&
		    audit_scan_line(log->buf, k, &s, &why) == 0 &&
		    audit_rec_check(&s, &seq, &why) == 0)
			return 0;
		if (!record_prefix(log->buf, k)) {
			if (nl == NULL)
				why = "not a JSON Lines record";
			break;
		}
		if (nl == NULL)
			return 0;	/* one torn start, not yet recorded */
	}
	if (lineno == 1)
		return mig_seterr(ctx, MIG_ERR_FORMAT, "%s: not an audit log "
		    "(line 1: %s); refusing to append audit records to it",
		    log->path, why);
	return mig_seterr(ctx, MIG_ERR_FORMAT, "%s: not an audit log (line 1 "
	    "is no audit record, and line %" PRIu64 ": %s); refusing to "
	    "append audit records to it", log->path, lineno, why);
}

int
mig_audit_open(const char *path, const struct mig_audit_opts *opts,
    struct mig_ctx *ctx, struct mig_audit_log **logp)
{
	struct mig_audit_log *log;
	struct stat st;
	int rc;

	*logp = NULL;
	if (path == NULL || opts == NULL || !text_ok(opts->plan) ||
	    !text_ok(opts->actor))
		return mig_seterr(ctx, MIG_ERR_USAGE,
		    "audit: a log path, a plan name and an actor are needed");
	log = calloc(1, sizeof(*log));
	if (log == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	log->fd = -1;
	if (pthread_mutex_init(&log->mu, NULL) != 0) {
		free(log);
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	}
	log->path = strdup(path);
	log->plan = strdup(opts->plan);
	log->actor = strdup(opts->actor);
	log->buf = malloc(MIG_AUDIT_LINE_MAX + 1);
	if (log->path == NULL || log->plan == NULL || log->actor == NULL ||
	    log->buf == NULL) {
		rc = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_free;
	}
	if ((log->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL ||
	    (log->md = EVP_MD_CTX_new()) == NULL) {
		rc = mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "SHA-256");
		goto out_free;
	}
	log->key = opts->key;
	log->every = opts->checkpoint_every != 0 ? opts->checkpoint_every :
	    MIG_AUDIT_CHECKPOINT_EVERY;
	log->clock = opts->clock != NULL ? opts->clock : default_clock;
	log->known_size = -1;
	if (log->key != NULL &&
	    (rc = mig_sign_fingerprint(log->key, log->keyfp, ctx)) != 0)
		goto out_free;
	log->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0640);
	if (log->fd < 0) {
		rc = mig_seterr(ctx, errno == ELOOP ? MIG_ERR_SECURITY :
		    MIG_ERR_IO, "%s: %s", path, strerror(errno));
		goto out_free;
	}
	if (fstat(log->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = mig_seterr(ctx, MIG_ERR_IO, "%s: not a regular file",
		    path);
		goto out_free;
	}
	if (st.st_size > 0 && (rc = check_head(log, st.st_size, ctx)) != 0)
		goto out_free;
	*logp = log;
	return 0;
out_free:
	(void)mig_audit_close(log, NULL);
	return rc;
}

/*
 * What mig_audit_open() would refuse, found without opening for append:
 * the same head check on a read-only descriptor.
 */
int
mig_audit_probe(const char *path, struct mig_ctx *ctx)
{
	struct mig_audit_log log;
	struct stat st;
	int rc = 0;

	memset(&log, 0, sizeof(log));
	log.fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (log.fd < 0) {
		if (errno == ENOENT)
			return 0;
		return mig_seterr(ctx, errno == ELOOP ? MIG_ERR_SECURITY :
		    MIG_ERR_IO, "%s: %s", path, strerror(errno));
	}
	log.path = (char *)path;
	if (fstat(log.fd, &st) != 0 || !S_ISREG(st.st_mode))
		rc = mig_seterr(ctx, MIG_ERR_IO, "%s: not a regular file", path);
	else if (st.st_size > 0 &&
	    (log.buf = malloc(MIG_AUDIT_LINE_MAX + 1)) == NULL)
		rc = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	else if (st.st_size > 0)
		rc = check_head(&log, st.st_size, ctx);
	free(log.buf);
	(void)close(log.fd);
	return rc;
}

int
mig_audit_close(struct mig_audit_log *log, struct mig_ctx *ctx)
{
	int rc = 0;

	if (log == NULL)
		return 0;
	if (log->fd >= 0) {
		if (fsync(log->fd) != 0)
			rc = mig_seterr(ctx, MIG_ERR_IO, "%s: fsync: %s",
			    log->path, strerror(errno));
		if (close(log->fd) != 0 && rc == 0)
			rc = mig_seterr(ctx, MIG_ERR_IO, "%s: close: %s",
			    log->path, strerror(errno));
	}
	pthread_mutex_destroy(&log->mu);
	free(log->path);
	free(log->plan);
	free(log->actor);
	free(log->buf);
	EVP_MD_CTX_free(log->md);
	EVP_MD_free(log->sha256);
	free(log);
	return rc;
}

/* ---- Tail scan ------------------------------------------------------ */

static int
pread_all(struct mig_audit_log *log, void *buf, size_t n, off_t off,
    struct mig_ctx *ctx)
{
	ssize_t r;
	size_t done = 0;

	while (done < n) {
		r = pread(log->fd, (char *)buf + done, n - done,
		    off + (off_t)done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return mig_seterr(ctx, MIG_ERR_IO, "%s: read: %s",
			    log->path, r < 0 ? strerror(errno) :
			    "file shrank");
		done += (size_t)r;
	}
	return 0;
}

/*
 * Finds the start of the line that ends at end (exclusive): the offset
 * after the previous newline, or 0.
 */
static int
line_start(struct mig_audit_log *log, off_t end, off_t *startp,
    struct mig_ctx *ctx)
{
	char chunk[SCAN_CHUNK];
	const char *nl;
	off_t from;
	size_t n;
	int rc;

	while (end > 0) {
		from = end > SCAN_CHUNK ? end - SCAN_CHUNK : 0;
		n = (size_t)(end - from);
		if ((rc = pread_all(log, chunk, n, from, ctx)) != 0)
			return rc;
		nl = chunk + n;
		while (nl > chunk && nl[-1] != '\n')
			nl--;
		if (nl > chunk) {
			nl--;
			*startp = from + (nl - chunk) + 1;
			return 0;
		}
		end = from;
	}
	*startp = 0;
	return 0;
}

static int
hash_region(struct mig_audit_log *log, off_t off, off_t len,
    struct mig_ctx *ctx)
{
	unsigned char h[32];
	size_t n;
	int rc;

	if (EVP_DigestInit_ex2(log->md, log->sha256, NULL) != 1)
		return mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "SHA-256");
	while (len > 0) {
		n = len > MIG_AUDIT_LINE_MAX ? MIG_AUDIT_LINE_MAX :
		    (size_t)len;
		if ((rc = pread_all(log, log->buf, n, off, ctx)) != 0)
			return rc;
		if (EVP_DigestUpdate(log->md, log->buf, n) != 1)
			return mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "SHA-256");
		off += (off_t)n;
		len -= (off_t)n;
	}
	if (EVP_DigestFinal_ex(log->md, h, NULL) != 1)
		return mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "SHA-256");
	mig_hex_encode(h, 32, log->torn_sha);
	return 0;
}

/*
 * Re-reads the end of the log (size bytes): the last newline-terminated
 * line that is a record gives seq and the chain hash; whatever follows it
 * (an unterminated line always, and lines that are not records) is a torn
 * region, to be described by an audit.torn record.
 */
static int
resync(struct mig_audit_log *log, off_t size, struct mig_ctx *ctx)
{
	struct audit_scan s;
	const char *why;
	unsigned char md[32];
	off_t end, start = 0, region_end, torn_off;
	char last;
	bool ends_nl, term, found = false;
	uint64_t seq = 0;
	int rc;

	log->torn = false;
	log->seq = 0;
	memset(log->hhex, '0', MIG_AUDIT_HEXLEN);
	log->hhex[MIG_AUDIT_HEXLEN] = '\0';
	if (size == 0)
		goto out_ok;
	if ((rc = pread_all(log, &last, 1, size - 1, ctx)) != 0)
		return rc;
	ends_nl = last == '\n';
	region_end = ends_nl ? size - 1 : size;
	end = region_end;
	term = ends_nl;
	for (;;) {
		if ((rc = line_start(log, end, &start, ctx)) != 0)
			return rc;
		if (term && end - start <= MIG_AUDIT_LINE_MAX) {
			rc = pread_all(log, log->buf, (size_t)(end - start),
			    start, ctx);
			if (rc != 0)
				return rc;
			if (audit_scan_line(log->buf, (size_t)(end - start),
			    &s, &why) == 0 &&
			    audit_rec_check(&s, &seq, &why) == 0) {
				found = true;
				break;
			}
		}
		if (region_end - start > TORN_MAX)
			return mig_seterr(ctx, MIG_ERR_FORMAT, "%s: the last "
			    "%lld bytes hold no audit record: not an audit "
			    "log, or damaged (see migrate audit verify)",
			    log->path, (long long)(region_end - start));
		if (start == 0)
			break;
		end = start - 1;
		term = true;
	}
	torn_off = 0;
	if (found) {
		audit_sha256(log->buf, (size_t)(end - start), md);
		mig_hex_encode(md, 32, log->hhex);
		log->seq = seq;
		if (end == region_end)
			goto out_ok;
		torn_off = end + 1;
	}
	log->torn = true;
	log->torn_seal = !ends_nl;
	log->torn_off = (uint64_t)torn_off;
	log->torn_len = (uint64_t)(region_end - torn_off);
	if ((rc = hash_region(log, torn_off, region_end - torn_off, ctx)) != 0)
		return rc;
out_ok:
	log->known_size = size;
	return 0;
}

/* ---- Appending ------------------------------------------------------ */

/* Takes the mutex and the flock, and catches up with other writers. */
static int
lock_log(struct mig_audit_log *log, struct mig_ctx *ctx)
{
	struct stat st;
	int rc;

	if (pthread_mutex_lock(&log->mu) != 0)
		return mig_seterr(ctx, MIG_ERR_INTERNAL, "%s: mutex",
		    log->path);
	while (flock(log->fd, LOCK_EX) != 0) {
		if (errno == EINTR)
			continue;
		rc = mig_seterr(ctx, MIG_ERR_IO, "%s: flock: %s", log->path,
		    strerror(errno));
		goto out_unlock;
	}
	if (fstat(log->fd, &st) != 0) {
		rc = mig_seterr(ctx, MIG_ERR_IO, "%s: %s", log->path,
		    strerror(errno));
		goto out_unflock;
	}
	if (st.st_size != log->known_size &&
	    (rc = resync(log, st.st_size, ctx)) != 0)
		goto out_unflock;
	return 0;
out_unflock:
	(void)flock(log->fd, LOCK_UN);
out_unlock:
	(void)pthread_mutex_unlock(&log->mu);
	return rc;
}

static void
unlock_log(struct mig_audit_log *log)
{
	(void)flock(log->fd, LOCK_UN);
	(void)pthread_mutex_unlock(&log->mu);
}

static int
make_ts(struct mig_audit_log *log, char out[MIG_AUDIT_TSLEN + 1],
    struct mig_ctx *ctx)
{
	struct timespec now;
	struct tm tm;
	int n;

	if (log->clock(&now) != 0 || gmtime_r(&now.tv_sec, &tm) == NULL)
		return mig_seterr(ctx, MIG_ERR_IO, "clock: %s",
		    strerror(errno));
	n = snprintf(out, MIG_AUDIT_TSLEN + 1,
	    "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    now.tv_nsec / 1000);
	if (n != MIG_AUDIT_TSLEN)
		return mig_seterr(ctx, MIG_ERR_INTERNAL, "clock out of range");
	return 0;
}

/* writev until everything is out; with O_APPEND the bytes stay together. */
static int
write_iov(struct mig_audit_log *log, struct iovec *iov, int cnt,
    struct mig_ctx *ctx)
{
	ssize_t n;
	size_t k;

	while (cnt > 0) {
		n = writev(log->fd, iov, cnt);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return mig_seterr(ctx, MIG_ERR_IO, "%s: write: %s",
			    log->path, n < 0 ? strerror(errno) : "no progress");
		k = (size_t)n;
		while (cnt > 0 && k >= iov->iov_len) {
			k -= iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (char *)iov->iov_base + k;
			iov->iov_len -= k;
		}
	}
	return 0;
}

/*
 * After a failed append (ENOSPC or EFBIG part way through a line, EIO),
 * cuts the file back to its size before the append: no torn line stays
 * behind and the chain state still holds.  The flock keeps every other
 * writer out meanwhile.  When even that fails, the chain state is
 * dropped, so that the next append re-reads the tail and records the
 * torn line as audit.torn.
 */
static void
unwrite(struct mig_audit_log *log, struct mig_ctx *ctx)
{
	char msg[MIG_ERRMSG_MAX];

	if (ftruncate(log->fd, log->known_size) == 0)
		return;
	(void)snprintf(msg, sizeof(msg), "%s", mig_errmsg(ctx));
	(void)mig_seterr(ctx, MIG_ERR_IO, "%s (and cutting the partial line "
	    "off failed: %s; the next append records it as audit.torn)", msg,
	    strerror(errno));
	log->known_size = -1;
}

/*
 * Serializes and appends one record (after a newline when seal), then
 * advances the in-memory chain.  The line is what jansson's json_dumps()
 * with JSON_COMPACT | JSON_PRESERVE_ORDER writes for the object {v, seq,
 * ts, run, plan, actor, event, the members..., prev}, written into
 * log->buf without building that object (util_int.h): the bytes are a
 * contract (migrate-audit(5)), and building and dumping a json_t cost
 * more than the rest of an append.  A failed write is undone by
 * unwrite().
 */
static int
write_record(struct mig_audit_log *log, const char *run, const char *event,
    const json_t *members, bool seal, struct mig_ctx *ctx)
{
	char ts[MIG_AUDIT_TSLEN + 1];
	unsigned char md[32];
	struct iovec iov[2];
	struct mig_jtext t;
	int rc, cnt = 0;

	if ((rc = make_ts(log, ts, ctx)) != 0)
		return rc;
	/* Room for the longest record and its newline. */
	mig_jtext_init(&t, log->buf, MIG_AUDIT_LINE_MAX + 1);
	mig_jtext_raw(&t, rec_magic, sizeof(rec_magic) - 1);
	mig_jtext_int(&t, (json_int_t)(log->seq + 1));
	mig_jtext_lit(&t, ",\"ts\":");
	mig_jtext_str(&t, ts, strlen(ts));
	mig_jtext_lit(&t, ",\"run\":");
	mig_jtext_str(&t, run, strlen(run));
	mig_jtext_lit(&t, ",\"plan\":");
	mig_jtext_str(&t, log->plan, strlen(log->plan));
	mig_jtext_lit(&t, ",\"actor\":");
	mig_jtext_str(&t, log->actor, strlen(log->actor));
	mig_jtext_lit(&t, ",\"event\":");
	mig_jtext_str(&t, event, strlen(event));
	if (t.bad)
		return mig_seterr(ctx, MIG_ERR_USAGE, "%s: audit record for "
		    "%s: run id is not UTF-8", log->path, event);
	if (members != NULL)
		mig_jtext_members(&t, members,
		    JSON_COMPACT | JSON_PRESERVE_ORDER);
	mig_jtext_lit(&t, ",\"prev\":\"");
	mig_jtext_raw(&t, log->hhex, MIG_AUDIT_HEXLEN);
	mig_jtext_lit(&t, "\"}");
	if (t.bad)
		return mig_seterr(ctx, MIG_ERR_USAGE, "%s: audit record for %s "
		    "cannot be encoded", log->path, event);
	if (t.len > MIG_AUDIT_LINE_MAX)
		return mig_seterr(ctx, MIG_ERR_USAGE, "%s: audit record for %s "
		    "is longer than %d bytes", log->path, event,
		    MIG_AUDIT_LINE_MAX);
	log->buf[t.len] = '\n';
	if (seal) {
		iov[cnt].iov_base = (void *)"\n";
		iov[cnt++].iov_len = 1;
	}
	iov[cnt].iov_base = log->buf;
	iov[cnt++].iov_len = t.len + 1;
	if ((rc = write_iov(log, iov, cnt, ctx)) != 0) {
		unwrite(log, ctx);
		return rc;
	}
	if (EVP_DigestInit_ex2(log->md, log->sha256, NULL) != 1 ||
	    EVP_DigestUpdate(log->md, log->buf, t.len) != 1 ||
	    EVP_DigestFinal_ex(log->md, md, NULL) != 1) {
		/* On record all the same: the next append reads it back. */
		ERR_clear_error();
		log->known_size = -1;
		return 0;
	}
	mig_hex_encode(md, 32, log->hhex);
	log->seq++;
	log->known_size += (off_t)(t.len + 1 + seal);
	return 0;
}

static int
sync_log(struct mig_audit_log *log, struct mig_ctx *ctx)
{
	if (fsync(log->fd) != 0)
		return mig_seterr(ctx, MIG_ERR_IO, "%s: fsync: %s", log->path,
		    strerror(errno));
	return 0;
}

/* Records a torn region found by the last tail scan. */
static int
write_torn(struct mig_audit_log *log, const char *run, struct mig_ctx *ctx)
{
	json_t *extra;
	int rc;

	if (!log->torn)
		return 0;
	extra = json_pack("{s:I, s:I, s:s}", "torn_offset",
	    (json_int_t)log->torn_off, "torn_length",
	    (json_int_t)log->torn_len, "torn_sha256", log->torn_sha);
	if (extra == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	rc = write_record(log, run, MIG_AUDIT_TORN, extra, log->torn_seal,
	    ctx);
	json_decref(extra);
	if (rc == 0) {
		log->torn = false;
		rc = sync_log(log, ctx);
	}
	return rc;
}

static int
write_checkpoint(struct mig_audit_log *log, const char *run,
    char head_out[MIG_AUDIT_HEXLEN + 1], struct mig_ctx *ctx)
{
	unsigned char sig[MIG_SIGN_SIGLEN];
	char b64[4 * ((MIG_SIGN_SIGLEN + 2) / 3) + 1];
	char head[MIG_AUDIT_HEXLEN + 1];
	json_t *extra;
	int rc;

	memcpy(head, log->hhex, sizeof(head));
	if (log->key != NULL) {
		rc = mig_sign(log->key, head, MIG_AUDIT_HEXLEN, sig, ctx);
		if (rc != 0)
			return rc;
		mig_base64_encode(sig, sizeof(sig), b64);
		extra = json_pack("{s:s, s:s, s:s}", "head", head, "sig", b64,
		    "key", log->keyfp);
	} else
		extra = json_pack("{s:s}", "head", head);
	if (extra == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	rc = write_record(log, run, MIG_AUDIT_CHECKPOINT, extra, false, ctx);
	json_decref(extra);
	if (rc == 0)
		rc = sync_log(log, ctx);
	if (rc == 0 && head_out != NULL)
		memcpy(head_out, head, MIG_AUDIT_HEXLEN + 1);
	return rc;
}

int
mig_audit_emit(struct mig_audit_log *log, const char *run,
    const char *event, const json_t *fields, struct mig_ctx *ctx)
{
	const char *k;
	json_t *m;
	size_t i;
	int rc;

	if (log == NULL || !text_ok(run) || !event_name_ok(event) ||
	    strcmp(event, MIG_AUDIT_CHECKPOINT) == 0 ||
	    strcmp(event, MIG_AUDIT_TORN) == 0 ||
	    (fields != NULL && !json_is_object(fields)))
		return mig_seterr(ctx, MIG_ERR_USAGE, "audit: invalid run id "
		    "or event name \"%s\"", event != NULL ? event : "");
	if (fields != NULL) {
		json_object_foreach((json_t *)fields, k, m)
			for (i = 0; reserved[i] != NULL; i++)
				if (strcmp(k, reserved[i]) == 0)
					return mig_seterr(ctx, MIG_ERR_USAGE,
					    "audit: member \"%s\" is "
					    "reserved", k);
		if ((rc = check_secrets(fields, 0, ctx)) != 0)
			return rc;
	}
	if ((rc = lock_log(log, ctx)) != 0)
		return rc;
	if ((rc = write_torn(log, run, ctx)) != 0)
		goto out_unlock;
	if ((rc = write_record(log, run, event, fields, false, ctx)) != 0)
		goto out_unlock;
	if (log->seq % log->every == 0)
		rc = write_checkpoint(log, run, NULL, ctx);
out_unlock:
	unlock_log(log);
	return rc;
}

int
mig_audit_checkpoint(struct mig_audit_log *log, const char *run,
    char head_out[MIG_AUDIT_HEXLEN + 1], struct mig_ctx *ctx)
{
	int rc;

	if (log == NULL || !text_ok(run))
		return mig_seterr(ctx, MIG_ERR_USAGE, "audit: invalid run id");
	if ((rc = lock_log(log, ctx)) != 0)
		return rc;
	if ((rc = write_torn(log, run, ctx)) == 0)
		rc = write_checkpoint(log, run, head_out, ctx);
	unlock_log(log);
	return rc;
}

int
mig_audit_sync(struct mig_audit_log *log, struct mig_ctx *ctx)
{
	if (log == NULL)
		return mig_seterr(ctx, MIG_ERR_USAGE, "audit: no log");
	return sync_log(log, ctx);
}
