/*
 * The multipart uploads of the s3 backend (lib/transport/s3_multipart.c
 * and s3_parts.c) against a fake S3 put in place of the connection's
 * request function (struct mig_s3's perform).  The fake plays the
 * multipart protocol in memory, thread-safe since parts arrive from the
 * writer's threads: Create, UploadPart, Complete (checking the part list
 * and its ETags), Abort and ListMultipartUploads, paginated.  s3rver, the
 * server of the integration tests, has no ListMultipartUploads and no
 * AbortMultipartUpload, so these paths are tested here.  The fake holds
 * parts back on a script (until others are in flight, or answered) so
 * that orders are forced, never timed.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "migrate/error.h"
#include "migrate/stream.h"
#include "migrate/transport.h"

#include "transport/s3_int.h"

#define PART		1000		/* bytes: the fake takes any size */
#define FPARTS		64
#define FUPLOADS	16
#define FLOG		256
#define KEY		"pfx/a&b/big.bin"

struct fupload {
	char		 key[256];
	char		 id[64];
	bool		 done, aborted;
	unsigned char	*data[FPARTS + 1];	/* by part number */
	size_t		 len[FPARTS + 1];
	char		 etag[FPARTS + 1][64];
};

struct fake {
	struct mig_s3	 s;		/* first: perform gets &s */
	struct mig_transport t;
	struct mig_ctx	*ctx;
	char		 prefix[8], bucket[8];
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct fupload	 up[FUPLOADS];
	int		 nup, next_id;
	unsigned char	*obj;		/* what Complete made */
	size_t		 olen;
	char		 log[FLOG][300];
	int		 nlog;
	int		 inflight, max_inflight;
	int		 answered[FPARTS + 1];	/* part answers, in order */
	int		 nanswered;
	bool		 part_done[FPARTS + 1];
	bool		 foreign_lane;	/* a request not on s->x */
	int		 abort_inflight;	/* others in flight at an Abort */
	/* The script */
	int		 total;		/* parts the test writes */
	bool		 reverse;	/* part k waits for k + 1 (see part) */
	bool		 hold;		/* parts 1..N wait for N in flight */
	int		 fail_part;	/* answered 400, once others fly */
	bool		 complete_error;	/* 200 with <Error> */
	long		 list_status;	/* 0: a listing */
	int		 page;		/* uploads per listing page */
};

/* ---------------------------------------------------------------------- */
/* The fake S3 */

static const char *
qget(const struct mig_s3_req *rq, const char *name)
{
	size_t i;

	for (i = 0; i < rq->nquery; i++)
		if (strcmp(rq->query[i].name, name) == 0)
			return rq->query[i].value != NULL ?
			    rq->query[i].value : "";
	return NULL;
}

static void
answer(struct mig_s3_req *rq, long status, const char *body)
{
	rq->status = status;
	rq->ans = body != NULL ? (unsigned char *)strdup(body) : NULL;
	rq->alen = body != NULL ? strlen(body) : 0;
}

static struct fupload *
find_upload(struct fake *f, const char *id)
{
	int i;

	for (i = 0; id != NULL && i < f->nup; i++)
		if (strcmp(f->up[i].id, id) == 0)
			return &f->up[i];
	return NULL;
}

/* A stale upload, as a killed run leaves it. */
static void
add_upload(struct fake *f, const char *key, const char *id)
{
	struct fupload *u = &f->up[f->nup++];

	assert_true(f->nup <= FUPLOADS);
	(void)snprintf(u->key, sizeof(u->key), "%s", key);
	(void)snprintf(u->id, sizeof(u->id), "%s", id);
}

static void
xml_escape(char *out, size_t cap, const char *in)
{
	size_t o = 0;

	for (; *in != '\0' && o + 6 < cap; in++) {
		if (*in == '&')
			o += (size_t)snprintf(out + o, cap - o, "&amp;");
		else if (*in == '<')
			o += (size_t)snprintf(out + o, cap - o, "&lt;");
		else
			out[o++] = *in;
	}
	out[o] = '\0';
}

/* Whether upload u comes after the markers, as S3 orders them. */
static bool
after_markers(const struct fupload *u, const char *km, const char *im)
{
	int c;

	if (km == NULL || km[0] == '\0')
		return true;
	c = strcmp(u->key, km);
	return c > 0 || (c == 0 && im != NULL && strcmp(u->id, im) > 0);
}

/* ListMultipartUploads: open uploads under prefix, f->page a page. */
static void
do_list(struct fake *f, struct mig_s3_req *rq)
{
	const char *pfx = qget(rq, "prefix");
	const char *km = qget(rq, "key-marker"), *im = qget(rq,
	    "upload-id-marker");
	char body[8192], k[600];
	const struct fupload *u, *last = NULL;
	int i, n = 0;
	size_t o;
	bool more = false;

	assert_non_null(pfx);
	if (f->list_status != 0) {
		answer(rq, f->list_status, f->list_status == 403 ?
		    "<Error><Code>AccessDenied</Code></Error>" :
		    "<Error><Code>NotImplemented</Code></Error>");
		return;
	}
	o = (size_t)snprintf(body, sizeof(body), "<?xml version=\"1.0\"?>"
	    "<ListMultipartUploadsResult xmlns=\"http://s3.amazonaws.com/"
	    "doc/2006-03-01/\"><Bucket>lake</Bucket>");
	/* Uploads are added in (key, id) order. */
	for (i = 0; i < f->nup; i++) {
		u = &f->up[i];
		if (u->done || u->aborted || strncmp(u->key, pfx,
		    strlen(pfx)) != 0 || !after_markers(u, km, im))
			continue;
		if (n == f->page) {
			more = true;
			break;
		}
		xml_escape(k, sizeof(k), u->key);
		o += (size_t)snprintf(body + o, sizeof(body) - o, "<Upload>"
		    "<Key>%s</Key><UploadId>%s</UploadId><Initiator><ID>x"
		    "</ID></Initiator></Upload>", k, u->id);
		last = u;
		n++;
	}
	if (more && last != NULL) {
		xml_escape(k, sizeof(k), last->key);
		o += (size_t)snprintf(body + o, sizeof(body) - o,
		    "<NextKeyMarker>%s</NextKeyMarker><NextUploadIdMarker>%s"
		    "</NextUploadIdMarker>", k, last->id);
	}
	(void)snprintf(body + o, sizeof(body) - o, "<IsTruncated>%s"
	    "</IsTruncated></ListMultipartUploadsResult>",
	    more ? "true" : "false");
	answer(rq, 200, body);
}

static void
do_create(struct fake *f, struct mig_s3_req *rq)
{
	struct fupload *u = &f->up[f->nup++];
	char body[256];

	assert_true(f->nup <= FUPLOADS);
	(void)snprintf(u->key, sizeof(u->key), "%s", rq->key);
	(void)snprintf(u->id, sizeof(u->id), "new-%d", ++f->next_id);
	(void)snprintf(body, sizeof(body), "<InitiateMultipartUploadResult>"
	    "<UploadId>%s</UploadId></InitiateMultipartUploadResult>", u->id);
	answer(rq, 200, body);
}

/* Whether the writer cancelled the lane: it saw a failure, or quits. */
static bool
cancelled(const struct mig_s3_lane *ln)
{
	return ln->cancel != NULL && atomic_load(ln->cancel);
}

/*
 * Whether part k waits: with reverse, for part k + 1 unless k is a
 * multiple of N or the last (so k + 1 is always sent: no deadlock);
 * with hold, parts 1..N for N in flight; with a failing part, that one
 * for the others of its window to be in flight, and they for the
 * writer to cancel them, which it does once it has the failure.
 */
static bool
part_waits(struct fake *f, const struct mig_s3_lane *ln, int k)
{
	int n = f->s.upload_concurrency;

	if (f->reverse && k % n != 0 && k < f->total && !f->part_done[k + 1])
		return true;
	if (f->hold && k <= n && f->inflight < n && f->nanswered == 0)
		return true;
	if (f->fail_part != 0 && k != f->fail_part && k <= n &&
	    !cancelled(ln))
		return true;
	if (f->fail_part == k && f->inflight < n)
		return true;
	return false;
}

/*
 * Waits for a change, or a while: the writer's cancel flag comes
 * without a signal.  Polled, so a slow machine only waits longer.
 */
static void
nap(struct fake *f)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 2 * 1000 * 1000;
	if (ts.tv_nsec >= 1000 * 1000 * 1000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000 * 1000 * 1000;
	}
	(void)pthread_cond_timedwait(&f->cv, &f->mu, &ts);
}

static int
do_part(struct fake *f, struct mig_s3_lane *ln, struct mig_s3_req *rq,
    int k)
{
	struct fupload *u = find_upload(f, qget(rq, "uploadId"));
	unsigned sum = 0;
	size_t i;

	assert_non_null(u);
	assert_true(k >= 1 && k <= FPARTS);
	while (part_waits(f, ln, k))
		nap(f);
	/* As the real request does: a cancelled transfer ends unanswered. */
	if (cancelled(ln))
		return mig_seterr(ln->ctx, MIG_ERR_CANCELLED, "cancelled");
	f->answered[f->nanswered++] = k;
	f->part_done[k] = true;
	if (k == f->fail_part) {
		answer(rq, 400, "<Error><Code>BadDigest</Code><Message>the "
		    "part is broken</Message></Error>");
		return 0;
	}
	free(u->data[k]);
	assert_non_null(u->data[k] = malloc(rq->blen + 1));
	memcpy(u->data[k], rq->body, rq->blen);
	u->len[k] = rq->blen;
	for (i = 0; i < rq->blen; i++)
		sum = sum * 31 + rq->body[i];
	(void)snprintf(u->etag[k], sizeof(u->etag[k]), "\"e%d-%08x\"", k,
	    sum);
	(void)snprintf(rq->etag, sizeof(rq->etag), "%s", u->etag[k]);
	answer(rq, 200, NULL);
	return 0;
}

/* Complete: the parts must be listed 1..n, each with its ETag. */
static void
do_complete(struct fake *f, struct mig_s3_req *rq, struct fupload *u)
{
	char *body = strndup((const char *)rq->body, rq->blen), *p, etag[64];
	int k, want = 1, n;
	size_t o = 0;

	assert_non_null(body);
	for (p = body; (p = strstr(p, "<PartNumber>")) != NULL; want++) {
		assert_int_equal(sscanf(p, "<PartNumber>%d</PartNumber>"
		    "<ETag>%63[^<]</ETag>", &k, etag), 2);
		assert_int_equal(k, want);
		assert_string_equal(etag, u->etag[k]);
		p++;
	}
	free(body);
	n = want - 1;
	assert_true(n >= 1);
	for (k = 1; k <= n; k++)
		o += u->len[k];
	free(f->obj);
	assert_non_null(f->obj = malloc(o + 1));
	f->olen = 0;
	for (k = 1; k <= n; k++) {
		memcpy(f->obj + f->olen, u->data[k], u->len[k]);
		f->olen += u->len[k];
	}
	u->done = true;
	if (f->complete_error)
		answer(rq, 200, "<?xml version=\"1.0\"?><Error><Code>"
		    "InternalError</Code><Message>try again</Message></Error>");
	else
		answer(rq, 200, "<CompleteMultipartUploadResult><Key>k</Key>"
		    "</CompleteMultipartUploadResult>");
}

static void
do_abort(struct fake *f, struct mig_s3_req *rq, struct fupload *u)
{
	f->abort_inflight = f->inflight - 1;
	if (u == NULL || u->done) {
		answer(rq, 404, "<Error><Code>NoSuchUpload</Code></Error>");
		return;
	}
	u->aborted = true;
	answer(rq, 204, NULL);
}

static void
log_request(struct fake *f, const struct mig_s3_req *rq)
{
	const char *num = qget(rq, "partNumber"), *id = qget(rq, "uploadId");

	assert_true(f->nlog < FLOG);
	(void)snprintf(f->log[f->nlog++], sizeof(f->log[0]), "%s %s%s%s%s%s%s",
	    rq->method, rq->key != NULL ? rq->key : "/",
	    qget(rq, "uploads") != NULL ? " uploads" : "",
	    num != NULL ? " part=" : "", num != NULL ? num : "",
	    id != NULL ? " id=" : "", id != NULL ? id : "");
}

static int
fake_perform(struct mig_s3 *s, struct mig_s3_lane *ln, struct mig_s3_req *rq,
    const char *what)
{
	struct fake *f = (struct fake *)s;
	const char *num = qget(rq, "partNumber");
	int r = 0;

	(void)what;
	assert_int_equal(pthread_mutex_lock(&f->mu), 0);
	if (++f->inflight > f->max_inflight)
		f->max_inflight = f->inflight;
	if (ln->x != &s->x)
		f->foreign_lane = true;
	log_request(f, rq);
	(void)pthread_cond_broadcast(&f->cv);
	if (strcmp(rq->method, "GET") == 0 && rq->key == NULL &&
	    qget(rq, "uploads") != NULL)
		do_list(f, rq);
	else if (strcmp(rq->method, "POST") == 0 && qget(rq, "uploads"))
		do_create(f, rq);
	else if (strcmp(rq->method, "PUT") == 0 && num != NULL)
		r = do_part(f, ln, rq, atoi(num));
	else if (strcmp(rq->method, "POST") == 0 && qget(rq, "uploadId"))
		do_complete(f, rq, find_upload(f, qget(rq, "uploadId")));
	else if (strcmp(rq->method, "DELETE") == 0 && qget(rq, "uploadId"))
		do_abort(f, rq, find_upload(f, qget(rq, "uploadId")));
	else
		fail_msg("unexpected %s %s", rq->method, rq->key);
	f->inflight--;
	(void)pthread_cond_broadcast(&f->cv);
	assert_int_equal(pthread_mutex_unlock(&f->mu), 0);
	return r;
}

/* ---------------------------------------------------------------------- */
/* Set-up */

static struct fake *
fake_new(int n)
{
	struct fake *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_non_null(f->ctx = mig_ctx_new());
	assert_int_equal(pthread_mutex_init(&f->mu, NULL), 0);
	assert_int_equal(pthread_cond_init(&f->cv, NULL), 0);
	(void)snprintf(f->prefix, sizeof(f->prefix), "pfx");
	(void)snprintf(f->bucket, sizeof(f->bucket), "lake");
	f->t.ctx = f->ctx;
	f->t.priv = &f->s;
	f->t.root = (char *)"s3://lake/pfx";
	f->s.t = &f->t;
	f->s.ctx = f->ctx;
	f->s.bucket = f->bucket;
	f->s.prefix = f->prefix;
	f->s.part_size = PART;
	f->s.upload_concurrency = n;
	f->s.perform = fake_perform;
	f->page = 1000;
	return f;
}

static void
fake_free(struct fake *f)
{
	int i, k;

	for (i = 0; i < f->nup; i++)
		for (k = 0; k <= FPARTS; k++)
			free(f->up[i].data[k]);
	free(f->obj);
	(void)pthread_cond_destroy(&f->cv);
	(void)pthread_mutex_destroy(&f->mu);
	mig_ctx_free(f->ctx);
	free(f);
}

static unsigned char *
pattern(size_t len)
{
	unsigned char *d = malloc(len);
	size_t i;

	assert_non_null(d);
	for (i = 0; i < len; i++)
		d[i] = (unsigned char)(i * 7 + i / 251);
	return d;
}

static struct mig_writer *
open_w(struct fake *f)
{
	struct mig_writer *w = NULL;

	assert_int_equal(mig_s3_open_write(&f->t, "a&b/big.bin", -1, &w), 0);
	return w;
}

/* Writes len bytes of the pattern in pieces of step; the first error. */
static int
write_all(struct mig_writer *w, const unsigned char *d, size_t len,
    size_t step)
{
	size_t o, n;
	int r = 0;

	for (o = 0; r == 0 && o < len; o += n) {
		n = len - o < step ? len - o : step;
		r = mig_writer_write(w, d + o, n);
	}
	return r;
}

static int
count_log(const struct fake *f, const char *prefix)
{
	int i, n = 0;

	for (i = 0; i < f->nlog; i++)
		if (strncmp(f->log[i], prefix, strlen(prefix)) == 0)
			n++;
	return n;
}

/* Uploads the pattern whole and checks what Complete made of it. */
static void
upload_ok(struct fake *f, size_t len, size_t step)
{
	unsigned char *d = pattern(len);
	struct mig_writer *w = open_w(f);

	assert_int_equal(write_all(w, d, len, step), 0);
	if (mig_writer_close(w) != 0)
		fail_msg("close: %s", mig_errmsg(f->ctx));
	mig_writer_free(w);
	assert_int_equal(f->olen, len);
	assert_memory_equal(f->obj, d, len);
	assert_int_equal(count_log(f, "POST " KEY " id="), 1);
	assert_int_equal(count_log(f, "DELETE " KEY " id=new"), 0);
	free(d);
}

/*
 * The upload new-1 was abandoned: never completed, aborted once, after
 * every part in flight had ended.
 */
static void
assert_abandoned(const struct fake *f)
{
	assert_int_equal(count_log(f, "POST " KEY " id="), 0);
	assert_int_equal(count_log(f, "DELETE"), 1);
	assert_int_equal(count_log(f, "DELETE " KEY " id=new-1"), 1);
	assert_int_equal(f->abort_inflight, 0);
	assert_true(f->up[0].aborted);
}

/* ---------------------------------------------------------------------- */
/* Cases */

/* Parts answered out of order; Complete lists them 1..n, in order. */
static void
test_s3_multipart__out_of_order(void **state)
{
	struct fake *f = fake_new(3);
	int i;
	bool sorted = true;

	(void)state;
	f->total = 7;
	f->reverse = true;
	upload_ok(f, 6 * PART + 500, 777);
	assert_int_equal(f->nanswered, 7);
	for (i = 1; i < f->nanswered; i++)
		if (f->answered[i] < f->answered[i - 1])
			sorted = false;
	assert_false(sorted);
	assert_int_equal(f->answered[0], 3);
	assert_true(f->foreign_lane);
	assert_true(f->max_inflight <= 3);
	fake_free(f);
}

/* At most N requests in flight at once, and N reached. */
static void
test_s3_multipart__bounded_in_flight(void **state)
{
	struct fake *f = fake_new(4);

	(void)state;
	f->total = 12;
	f->hold = true;
	upload_ok(f, 12 * PART, 4096);
	assert_int_equal(f->max_inflight, 4);
	assert_int_equal(count_log(f, "PUT " KEY " part="), 12);
	fake_free(f);
}

/* N = 1: one part at a time, all on the transport's own handle. */
static void
test_s3_multipart__one_lane(void **state)
{
	struct fake *f = fake_new(1);
	int i;

	(void)state;
	f->total = 5;
	upload_ok(f, 4 * PART + 1, 300);
	assert_int_equal(f->max_inflight, 1);
	assert_false(f->foreign_lane);
	for (i = 0; i < f->nanswered; i++)
		assert_int_equal(f->answered[i], i + 1);
	fake_free(f);
}

/* An object of one part or less is one PUT, no multipart at all. */
static void
test_s3_multipart__small_is_one_put(void **state)
{
	struct fake *f = fake_new(4);
	unsigned char *d = pattern(PART);
	struct mig_writer *w = open_w(f);

	(void)state;
	assert_int_equal(write_all(w, d, PART, 100), 0);
	/* The fake answers no plain PUT: the writer must not ask yet. */
	assert_int_equal(f->nlog, 0);
	mig_writer_free(w);
	assert_int_equal(f->nlog, 0);
	free(d);
	fake_free(f);
}

/*
 * Part 2 fails while parts 1 and 3 are in flight: close names part 2,
 * no part after it starts, no Complete, and the upload is aborted once
 * every part has ended.
 */
static void
test_s3_multipart__part_fails(void **state)
{
	struct fake *f = fake_new(3);
	unsigned char *d = pattern(3 * PART + 500);
	struct mig_writer *w = open_w(f);
	int r;

	(void)state;
	f->total = 4;
	f->fail_part = 2;
	assert_int_equal(write_all(w, d, 3 * PART + 500, 3 * PART + 500), 0);
	r = mig_writer_close(w);
	assert_int_equal(r, MIG_ERR_NET);
	if (strstr(mig_errmsg(f->ctx), "big.bin: part 2: PUT: HTTP 400 "
	    "BadDigest") == NULL)
		fail_msg("close: %s", mig_errmsg(f->ctx));
	assert_int_equal(count_log(f, "PUT " KEY " part=4"), 0);
	assert_abandoned(f);
	/* Closing again, or freeing, aborts nothing more. */
	assert_int_not_equal(mig_writer_close(w), 0);
	mig_writer_free(w);
	assert_abandoned(f);
	free(d);
	fake_free(f);
}

/* The failure reaches a write when that write needs a lane. */
static void
test_s3_multipart__part_fails_in_write(void **state)
{
	struct fake *f = fake_new(3);
	unsigned char *d = pattern(8 * PART);
	struct mig_writer *w = open_w(f);
	int r;

	(void)state;
	f->total = 8;
	f->fail_part = 2;
	r = write_all(w, d, 8 * PART, 8 * PART);
	assert_int_equal(r, MIG_ERR_NET);
	assert_non_null(strstr(mig_errmsg(f->ctx), "part 2"));
	assert_int_equal(count_log(f, "PUT " KEY " part=4"), 0);
	assert_abandoned(f);
	mig_writer_free(w);
	assert_abandoned(f);
	free(d);
	fake_free(f);
}

/* A writer freed without close, parts out: aborted, nothing completed. */
static void
test_s3_multipart__freed_before_close(void **state)
{
	struct fake *f = fake_new(2);
	unsigned char *d = pattern(2 * PART + 10);
	struct mig_writer *w = open_w(f);

	(void)state;
	f->total = 3;
	assert_int_equal(write_all(w, d, 2 * PART + 10, 64), 0);
	mig_writer_free(w);
	assert_int_equal(count_log(f, "PUT " KEY " part="), 2);
	assert_abandoned(f);
	free(d);
	fake_free(f);
}

/* Complete answered 200 with an <Error> document: failure and abort. */
static void
test_s3_multipart__complete_error_document(void **state)
{
	struct fake *f = fake_new(2);
	unsigned char *d = pattern(3 * PART);
	struct mig_writer *w = open_w(f);

	(void)state;
	f->total = 3;
	f->complete_error = true;
	assert_int_equal(write_all(w, d, 3 * PART, 999), 0);
	assert_int_equal(mig_writer_close(w), MIG_ERR_NET);
	assert_non_null(strstr(mig_errmsg(f->ctx), "CompleteMultipartUpload "
	    "failed: InternalError"));
	assert_int_equal(count_log(f, "DELETE " KEY " id=new-1"), 1);
	mig_writer_free(w);
	assert_int_equal(count_log(f, "DELETE"), 1);
	free(d);
	fake_free(f);
}

/*
 * Uploads a killed run left: the two of this key are aborted (over
 * pages of one upload each), the one of a key beside it, under the same
 * prefix, is not; then the object goes up.
 */
static void
test_s3_multipart__stale_aborted(void **state)
{
	struct fake *f = fake_new(2);
	int i;

	(void)state;
	add_upload(f, KEY, "old-1");
	add_upload(f, KEY, "old-2");
	add_upload(f, KEY ".x", "old-3");
	add_upload(f, "pfx/other", "old-4");
	f->page = 1;
	f->total = 3;
	upload_ok(f, 2 * PART + 1, 512);
	assert_true(f->up[0].aborted);
	assert_true(f->up[1].aborted);
	assert_false(f->up[2].aborted);
	assert_false(f->up[3].aborted);
	assert_int_equal(count_log(f, "GET / uploads"), 3);
	assert_int_equal(count_log(f, "DELETE " KEY " id=old-1"), 1);
	assert_int_equal(count_log(f, "DELETE " KEY " id=old-2"), 1);
	assert_int_equal(count_log(f, "DELETE " KEY " id=old-3"), 0);
	/* Listing and aborts come before Create. */
	for (i = 0; i < f->nlog; i++)
		if (strcmp(f->log[i], "POST " KEY " uploads") == 0)
			break;
	assert_int_equal(i, 5);
	fake_free(f);
}

/* A store without ListMultipartUploads: nothing to abort, no failure. */
static void
test_s3_multipart__list_not_implemented(void **state)
{
	static const long st[] = { 501, 405, 404 };
	struct fake *f;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
		f = fake_new(2);
		add_upload(f, KEY, "old-1");
		f->list_status = st[i];
		f->total = 2;
		upload_ok(f, PART + 1, 4096);
		assert_false(f->up[0].aborted);
		fake_free(f);
	}
}

/* A 403 to ListMultipartUploads is a failure: nothing is uploaded. */
static void
test_s3_multipart__list_forbidden(void **state)
{
	struct fake *f = fake_new(2);
	unsigned char *d = pattern(2 * PART);
	struct mig_writer *w = open_w(f);

	(void)state;
	f->list_status = 403;
	assert_int_equal(write_all(w, d, 2 * PART, 2 * PART), MIG_ERR_NET);
	assert_non_null(strstr(mig_errmsg(f->ctx),
	    "ListMultipartUploads: GET: HTTP 403"));
	assert_int_equal(count_log(f, "POST"), 0);
	assert_int_equal(count_log(f, "PUT"), 0);
	mig_writer_free(w);
	assert_int_equal(count_log(f, "DELETE"), 0);
	free(d);
	fake_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_s3_multipart__out_of_order),
		cmocka_unit_test(test_s3_multipart__bounded_in_flight),
		cmocka_unit_test(test_s3_multipart__one_lane),
		cmocka_unit_test(test_s3_multipart__small_is_one_put),
		cmocka_unit_test(test_s3_multipart__part_fails),
		cmocka_unit_test(test_s3_multipart__part_fails_in_write),
		cmocka_unit_test(test_s3_multipart__freed_before_close),
		cmocka_unit_test(test_s3_multipart__complete_error_document),
		cmocka_unit_test(test_s3_multipart__stale_aborted),
		cmocka_unit_test(test_s3_multipart__list_not_implemented),
		cmocka_unit_test(test_s3_multipart__list_forbidden),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
