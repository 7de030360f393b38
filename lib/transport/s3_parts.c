/*
 * The parts of one multipart upload, as s3_multipart.c hands them over:
 * while the writer fills the next part, up to upload_concurrency earlier
 * ones go up at once, each on a thread with a lane of its own (an easy
 * handle, since curl's are never shared between threads, and a context
 * for its errors).  The threads read struct mig_s3 and write nothing in
 * it (s3_request.c).
 *
 * A lane takes the buffer of the part it sends and gives the writer the
 * one it sent before, so an upload holds at most upload_concurrency + 1
 * buffers of part_size.  ETags are kept by part number.  The first part
 * that fails is the one reported: no part starts after it, and the parts
 * still in flight are cancelled, since the upload is aborted anyway.
 * With upload_concurrency 1 there is no thread: each part goes up on the
 * transport's own lane before the writer goes on, as it always did.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "migrate/error.h"
#include "migrate/transport.h"

#define MIG_TRANSPORT_INTERNAL
#include "curl_xfer_int.h"
#include "s3_int.h"
#include "sigv4_int.h"

#define ETAG_MAX	MIG_CURLX_ETAG_MAX

/* One thread and what it sends. */
struct plane {
	struct mig_s3_parts	*p;
	pthread_t		 th;
	bool			 started;
	struct mig_curlx_xfer	 x;
	struct mig_s3_lane	 ln;
	char			 what[2100];
	/* The part it holds, under p->mu: num is 0 when it is idle. */
	unsigned char		*buf;
	size_t			 cap, len;
	int			 num;
};

struct mig_s3_parts {
	struct mig_s3		*s;
	const char		*key, *upload_id, *what;	/* borrowed */
	char			(*etags)[ETAG_MAX];	/* by part number */
	int			 n;		/* lanes */
	pthread_mutex_t		 mu;
	/* A part handed over or done, or the end: every lane rechecks. */
	pthread_cond_t		 cv;
	atomic_bool		 cancel;
	bool			 stop;
	int			 busy;		/* parts in flight */
	int			 err;		/* the first failure, or 0 */
	struct plane		*failed;	/* its lane (NULL: no thread) */
	struct plane		 lanes[MIG_S3_LANES_MAX];
};

/* UploadPart of buf[0..len) as part num on ln; its ETag kept. */
static int
upload_part(struct mig_s3_parts *p, struct mig_s3_lane *ln, int num,
    const unsigned char *buf, size_t len, const char *what)
{
	struct mig_sigv4_kv q[2];
	struct mig_s3_req rq;
	char nbuf[16];
	int r;

	(void)snprintf(nbuf, sizeof(nbuf), "%d", num);
	q[0] = (struct mig_sigv4_kv){ "partNumber", nbuf };
	q[1] = (struct mig_sigv4_kv){ "uploadId", p->upload_id };
	memset(&rq, 0, sizeof(rq));
	rq.method = "PUT";
	rq.key = p->key;
	rq.query = q;
	rq.nquery = 2;
	rq.body = buf;
	rq.blen = len;
	rq.max = MIG_S3_ERRBODY_MAX;
	if ((r = mig_s3_request_on(p->s, ln, &rq, what)) == 0) {
		if (rq.etag[0] == '\0')
			r = mig_seterr(ln->ctx, MIG_ERR_NET, "%s: no ETag",
			    what);
		else
			(void)snprintf(p->etags[num - 1], ETAG_MAX, "%s",
			    rq.etag);
	}
	free(rq.ans);
	return r;
}

/* A lane's thread: the parts it is handed, one at a time, until stop. */
static void *
lane_main(void *arg)
{
	struct plane *l = arg;
	struct mig_s3_parts *p = l->p;
	int r;

	(void)pthread_mutex_lock(&p->mu);
	for (;;) {
		while (l->num == 0 && !p->stop)
			(void)pthread_cond_wait(&p->cv, &p->mu);
		if (l->num == 0)
			break;
		(void)pthread_mutex_unlock(&p->mu);
		r = upload_part(p, &l->ln, l->num, l->buf, l->len, l->what);
		(void)pthread_mutex_lock(&p->mu);
		if (r != 0 && p->err == 0) {
			p->err = r;
			p->failed = l;
			atomic_store(&p->cancel, true);
		}
		l->num = 0;
		p->busy--;
		(void)pthread_cond_broadcast(&p->cv);
	}
	(void)pthread_mutex_unlock(&p->mu);
	return NULL;
}

/*
 * The first failure again, on ctx.  The failed lane is never handed
 * another part, so its message stays.
 */
static int
report(const struct mig_s3_parts *p, struct mig_ctx *ctx)
{
	if (p->failed == NULL)
		return p->err;	/* said on ctx when it happened */
	return mig_seterr(ctx, p->err, "%s", mig_errmsg(p->failed->ln.ctx));
}

int
mig_s3_parts_new(struct mig_s3 *s, const char *key, const char *upload_id,
    const char *what, struct mig_ctx *ctx, struct mig_s3_parts **pp)
{
	struct mig_s3_parts *p;

	*pp = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		goto out_nomem;
	if ((p->etags = calloc(MIG_S3_PARTS_MAX, sizeof(*p->etags))) == NULL)
		goto out_free;
	if (pthread_mutex_init(&p->mu, NULL) != 0)
		goto out_free_etags;
	if (pthread_cond_init(&p->cv, NULL) != 0)
		goto out_mutex;
	p->s = s;
	p->key = key;
	p->upload_id = upload_id;
	p->what = what;
	p->n = s->upload_concurrency < 1 ? 1 :
	    s->upload_concurrency > MIG_S3_LANES_MAX ? MIG_S3_LANES_MAX :
	    s->upload_concurrency;
	atomic_init(&p->cancel, false);
	*pp = p;
	return 0;
out_mutex:
	(void)pthread_mutex_destroy(&p->mu);
out_free_etags:
	free(p->etags);
out_free:
	free(p);
out_nomem:
	return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
}

/* A lane's handle, context and thread, the first time it is used. */
static int
lane_start(struct mig_s3_parts *p, struct plane *l, struct mig_ctx *ctx)
{
	if (l->started)
		return 0;
	l->p = p;
	if ((l->x.easy == NULL && (l->x.easy = curl_easy_init()) == NULL) ||
	    (l->ln.ctx == NULL && (l->ln.ctx = mig_ctx_new()) == NULL))
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	l->ln.x = &l->x;
	l->ln.cancel = &p->cancel;
	if (pthread_create(&l->th, NULL, lane_main, l) != 0)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "%s: cannot start a "
		    "thread for the parts of this upload", p->what);
	l->started = true;
	return 0;
}

/* upload_concurrency 1: the part goes up here and now. */
static int
put_here(struct mig_s3_parts *p, int num, const unsigned char *buf,
    size_t len, struct mig_ctx *ctx)
{
	struct mig_s3_lane ln = { &p->s->x, ctx, NULL };
	char *what = p->lanes[0].what;

	if (p->err != 0)
		return p->err;
	(void)snprintf(what, sizeof(p->lanes[0].what), "%s: part %d",
	    p->what, num);
	p->err = upload_part(p, &ln, num, buf, len, what);
	return p->err;
}

int
mig_s3_parts_put(struct mig_s3_parts *p, int num, unsigned char **bufp,
    size_t *capp, size_t len, struct mig_ctx *ctx)
{
	struct plane *l;
	unsigned char *b;
	size_t c;
	int r;

	if (num < 1 || num > MIG_S3_PARTS_MAX)
		return mig_seterr(ctx, MIG_ERR_INTERNAL, "%s: part %d",
		    p->what, num);
	if (p->n == 1)
		return put_here(p, num, *bufp, len, ctx);
	(void)pthread_mutex_lock(&p->mu);
	while (p->busy == p->n && p->err == 0)
		(void)pthread_cond_wait(&p->cv, &p->mu);
	if (p->err != 0) {
		r = report(p, ctx);
		goto out_unlock;
	}
	for (l = p->lanes; l->num != 0; l++)
		;
	if ((r = lane_start(p, l, ctx)) != 0)
		goto out_unlock;
	b = l->buf;
	c = l->cap;
	l->buf = *bufp;
	l->cap = *capp;
	l->len = len;
	l->num = num;
	(void)snprintf(l->what, sizeof(l->what), "%s: part %d", p->what, num);
	*bufp = b;
	*capp = c;
	p->busy++;
	(void)pthread_cond_broadcast(&p->cv);
out_unlock:
	(void)pthread_mutex_unlock(&p->mu);
	return r;
}

int
mig_s3_parts_wait(struct mig_s3_parts *p, struct mig_ctx *ctx)
{
	int r;

	if (p->n == 1)
		return p->err;
	(void)pthread_mutex_lock(&p->mu);
	while (p->busy > 0)
		(void)pthread_cond_wait(&p->cv, &p->mu);
	r = p->err != 0 ? report(p, ctx) : 0;
	(void)pthread_mutex_unlock(&p->mu);
	return r;
}

const char *
mig_s3_parts_etag(const struct mig_s3_parts *p, int num)
{
	return p->etags[num - 1];
}

void
mig_s3_parts_free(struct mig_s3_parts *p)
{
	struct plane *l;
	int i;

	if (p == NULL)
		return;
	(void)pthread_mutex_lock(&p->mu);
	p->stop = true;
	if (p->busy > 0)
		atomic_store(&p->cancel, true);
	(void)pthread_cond_broadcast(&p->cv);
	(void)pthread_mutex_unlock(&p->mu);
	for (i = 0; i < MIG_S3_LANES_MAX; i++) {
		l = &p->lanes[i];
		if (l->started)
			(void)pthread_join(l->th, NULL);
		if (l->x.easy != NULL)
			curl_easy_cleanup(l->x.easy);
		mig_ctx_free(l->ln.ctx);
		if (l->buf != NULL) {
			/* Ciphertext, but wiped all the same: cheap. */
			OPENSSL_cleanse(l->buf, l->cap);
			free(l->buf);
		}
	}
	(void)pthread_cond_destroy(&p->cv);
	(void)pthread_mutex_destroy(&p->mu);
	free(p->etags);
	free(p);
}
