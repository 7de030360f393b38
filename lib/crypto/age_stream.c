/*
 * The age payload as stream stages: an encrypting writer and a
 * decrypting reader.
 *
 * The payload is a 16-byte nonce, then 64 KiB plaintext chunks sealed with
 * ChaCha20-Poly1305 under HKDF(file key, nonce, "payload"); the 12-byte
 * chunk nonce is an 11-byte big-endian counter and a last-chunk flag.
 * Only the last chunk may be short, and it is empty only when the whole
 * plaintext is.  So the writer holds back a batch until it knows whether
 * more follows, and the reader looks one byte past a batch of full chunks
 * to know whether it holds the last.  Batches of full chunks are sealed or
 * opened on a small thread pool when asked (mig_age_*_set_threads()).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "migrate/age.h"
#include "migrate/error.h"
#include "migrate/stream.h"

#define MIG_CRYPTO_INTERNAL
#include "crypto_int.h"

static void
chunk_nonce(uint64_t counter, bool last, unsigned char nonce[12])
{
	int i;

	/* The counter never reaches 2^64 chunks, so 3 bytes stay zero. */
	memset(nonce, 0, 12);
	for (i = 10; i >= 3; i--) {
		nonce[i] = (unsigned char)(counter & 0xff);
		counter >>= 8;
	}
	nonce[11] = last ? 1 : 0;
}

/* --- chunk pool: seals or opens batches of full chunks on threads ------ */

/*
 * One EVP context per thread, all under the payload key.  The caller's
 * thread takes the first slice of a batch and helpers the others; a
 * batch holds only full, non-final chunks, so slices are independent.
 */
struct pool_arg {
	struct age_pool	*p;
	int		 idx;
};

struct age_pool {
	bool			 enc;
	int			 nt;		/* threads wanted, caller included */
	int			 nhelpers;	/* helpers running */
	unsigned char		 key[AGE_KEY_LEN];
	EVP_CIPHER_CTX		*c[MIG_AGE_MAX_THREADS];
	pthread_t		 tid[MIG_AGE_MAX_THREADS];
	struct pool_arg		 arg[MIG_AGE_MAX_THREADS];
	bool			 sync;		/* mu and the conds exist */
	pthread_mutex_t		 mu;
	pthread_cond_t		 work, done;
	unsigned long		 gen;
	int			 pending;
	bool			 quit;
	/* The current batch. */
	const unsigned char	*in;
	size_t			 istride;
	unsigned char		*out;
	size_t			 n;
	uint64_t		 ctr0;
	int			 err[MIG_AGE_MAX_THREADS];
};

#define CRYPT_AUTH	(-1)	/* tag mismatch */
#define CRYPT_FAIL	(-2)	/* OpenSSL failed */

/*
 * Seals (enc) len bytes of in into out and the tag after them, or opens
 * them with the tag read from in + len.  in may equal out.
 */
static int
crypt_one(EVP_CIPHER_CTX *c, bool enc, const unsigned char *in, size_t len,
    unsigned char *out, uint64_t counter, bool last)
{
	unsigned char nonce[12];
	int n = 0, m = 0;

	chunk_nonce(counter, last, nonce);
	if (EVP_CipherInit_ex2(c, NULL, NULL, nonce, enc ? 1 : 0,
	    NULL) != 1)
		return CRYPT_FAIL;
	if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, AGE_TAG_LEN,
	    (void *)(in + len)) != 1)
		return CRYPT_FAIL;
	if (len > 0 && EVP_CipherUpdate(c, out, &n, in, (int)len) != 1)
		return CRYPT_FAIL;
	if (EVP_CipherFinal_ex(c, out + n, &m) != 1) {
		ERR_clear_error();
		if (!enc)
			OPENSSL_cleanse(out, len);
		return enc ? CRYPT_FAIL : CRYPT_AUTH;
	}
	if ((size_t)(n + m) != len)
		return CRYPT_FAIL;
	if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, AGE_TAG_LEN,
	    out + len) != 1)
		return CRYPT_FAIL;
	return 0;
}

/* Runs slice idx of the current batch. */
static int
pool_slice(struct age_pool *p, int idx)
{
	size_t i, lo, hi;
	int rc, worst = 0;

	lo = p->n * (size_t)idx / (size_t)p->nt;
	hi = p->n * (size_t)(idx + 1) / (size_t)p->nt;
	for (i = lo; i < hi; i++) {
		rc = crypt_one(p->c[idx], p->enc, p->in + i * p->istride,
		    AGE_CHUNK, p->out + i * AGE_ENC_CHUNK, p->ctr0 + i, false);
		if (rc < worst)
			worst = rc;
		if (rc != 0)
			break;
	}
	return worst;
}

static void *
pool_main(void *arg)
{
	struct pool_arg *a = arg;
	struct age_pool *p = a->p;
	unsigned long seen = 0;
	int rc;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->quit && p->gen == seen)
			pthread_cond_wait(&p->work, &p->mu);
		if (p->quit)
			break;
		seen = p->gen;
		pthread_mutex_unlock(&p->mu);
		rc = pool_slice(p, a->idx);
		pthread_mutex_lock(&p->mu);
		p->err[a->idx] = rc;
		if (--p->pending == 0)
			pthread_cond_signal(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static EVP_CIPHER_CTX *
pool_newctx(const struct age_pool *p)
{
	EVP_CIPHER_CTX *c;

	if (mig_age_chacha() == NULL || (c = EVP_CIPHER_CTX_new()) == NULL)
		return NULL;
	if (EVP_CipherInit_ex2(c, mig_age_chacha(), p->key, NULL,
	    p->enc ? 1 : 0, NULL) != 1) {
		EVP_CIPHER_CTX_free(c);
		return NULL;
	}
	return c;
}

static int
pool_init(struct age_pool *p, const unsigned char fk[AGE_FILE_KEY_LEN],
    const unsigned char nonce[AGE_NONCE_LEN], bool enc, struct mig_ctx *ctx)
{
	int rc;

	p->enc = enc;
	p->nt = 1;
	if ((rc = mig_age_hkdf(fk, AGE_FILE_KEY_LEN, nonce, AGE_NONCE_LEN,
	    "payload", p->key, ctx)) != 0)
		return rc;
	if ((p->c[0] = pool_newctx(p)) == NULL)
		return mig_seterr_ssl(ctx, MIG_ERR_CRYPTO,
		    "ChaCha20-Poly1305 unavailable");
	return 0;
}

/* Starts the helpers; on failure runs with those it has. */
static void
pool_start(struct age_pool *p)
{
	int k;

	if (!p->sync) {
		if (pthread_mutex_init(&p->mu, NULL) != 0) {
			p->nt = 1;
			return;
		}
		if (pthread_cond_init(&p->work, NULL) != 0) {
			pthread_mutex_destroy(&p->mu);
			p->nt = 1;
			return;
		}
		if (pthread_cond_init(&p->done, NULL) != 0) {
			pthread_cond_destroy(&p->work);
			pthread_mutex_destroy(&p->mu);
			p->nt = 1;
			return;
		}
		p->sync = true;
	}
	for (k = p->nhelpers + 1; k < p->nt; k++) {
		if ((p->c[k] = pool_newctx(p)) == NULL)
			break;
		p->arg[k].p = p;
		p->arg[k].idx = k;
		if (pthread_create(&p->tid[k], NULL, pool_main,
		    &p->arg[k]) != 0) {
			EVP_CIPHER_CTX_free(p->c[k]);
			p->c[k] = NULL;
			break;
		}
		p->nhelpers++;
	}
	p->nt = p->nhelpers + 1;
}

/*
 * Seals or opens n full non-final chunks: chunk i from in + i * istride
 * to out + i * AGE_ENC_CHUNK, counters from ctr0.  Returns 0, CRYPT_AUTH
 * or CRYPT_FAIL.
 */
static int
pool_run(struct age_pool *p, const unsigned char *in, size_t istride,
    unsigned char *out, size_t n, uint64_t ctr0)
{
	int k, worst;

	if (n == 0)
		return 0;
	if (p->nt > p->nhelpers + 1)
		pool_start(p);
	p->in = in;
	p->istride = istride;
	p->out = out;
	p->n = n;
	p->ctr0 = ctr0;
	if (p->nt == 1 || n == 1) {
		k = p->nt;
		p->nt = 1;
		worst = pool_slice(p, 0);
		p->nt = k;
		return worst;
	}
	pthread_mutex_lock(&p->mu);
	p->pending = p->nt - 1;
	p->gen++;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	worst = pool_slice(p, 0);
	pthread_mutex_lock(&p->mu);
	while (p->pending > 0)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
	for (k = 1; k < p->nt; k++)
		if (p->err[k] < worst)
			worst = p->err[k];
	return worst;
}

static void
pool_fini(struct age_pool *p)
{
	int k;

	if (p->nhelpers > 0) {
		pthread_mutex_lock(&p->mu);
		p->quit = true;
		pthread_cond_broadcast(&p->work);
		pthread_mutex_unlock(&p->mu);
		for (k = 1; k <= p->nhelpers; k++)
			pthread_join(p->tid[k], NULL);
	}
	if (p->sync) {
		pthread_cond_destroy(&p->done);
		pthread_cond_destroy(&p->work);
		pthread_mutex_destroy(&p->mu);
	}
	for (k = 0; k < MIG_AGE_MAX_THREADS; k++)
		EVP_CIPHER_CTX_free(p->c[k]);
	OPENSSL_cleanse(p->key, sizeof(p->key));
	memset(p, 0, sizeof(*p));
}

static int
pool_set_threads(struct age_pool *p, int n)
{
	if (n < 1 || n > MIG_AGE_MAX_THREADS)
		return MIG_ERR_USAGE;
	/* Only before the first batch started helpers. */
	if (p->nhelpers == 0)
		p->nt = n;
	return 0;
}

/* --- encryption --------------------------------------------------------- */

/* Chunks sealed per batch, and per write downstream. */
#define AGE_BATCH	8

/*
 * Plaintext is held at a stride of AGE_ENC_CHUNK in buf, so that chunks
 * are sealed in place and a batch leaves as one contiguous write.
 */
struct age_enc {
	struct age_pool		 pool;
	bool			 pool_ok;
	unsigned char		*buf;		/* cap chunks at AGE_ENC_CHUNK */
	size_t			 cap;		/* chunks allocated, <= AGE_BATCH */
	size_t			 hw;		/* bytes of buf ever written */
	size_t			 held;		/* plaintext bytes in buf */
	uint64_t		 counter;
	unsigned char		*head;		/* header + payload nonce */
	size_t			 headlen;
	bool			 started;
	struct mig_writer	*armor;		/* owned, or NULL */
};

static int
enc_fail(struct mig_writer *w)
{
	return mig_seterr_ssl(w->ctx, MIG_ERR_CRYPTO,
	    "age: chunk encryption failed");
}

static int
enc_start(struct mig_writer *w)
{
	struct age_enc *e = w->priv;
	int rc;

	if (e->started)
		return 0;
	e->started = true;
	rc = mig_writer_write(w->next, e->head, e->headlen);
	free(e->head);
	e->head = NULL;
	return rc;
}

/*
 * Grows buf to hold n chunks.  Small files, the common case when landing
 * many of them, never pay for (or wipe) a whole batch buffer.
 */
static int
enc_reserve(struct mig_writer *w, size_t n)
{
	struct age_enc *e = w->priv;
	unsigned char *nb;

	if (n <= e->cap)
		return 0;
	if (n < e->cap * 2)
		n = e->cap * 2;
	if (n > AGE_BATCH)
		n = AGE_BATCH;
	if ((nb = malloc(n * AGE_ENC_CHUNK)) == NULL)
		return mig_seterr(w->ctx, MIG_ERR_NOMEM, "out of memory");
	if (e->buf != NULL) {
		memcpy(nb, e->buf, e->hw);
		OPENSSL_cleanse(e->buf, e->hw);
		free(e->buf);
	}
	e->buf = nb;
	e->cap = n;
	return 0;
}

static void
enc_touch(struct age_enc *e, size_t end)
{
	if (end > e->hw)
		e->hw = end;
}

/* Seals n full chunks from in (stride istride) into buf and sends them. */
static int
enc_batch(struct mig_writer *w, const unsigned char *in, size_t istride,
    size_t n)
{
	struct age_enc *e = w->priv;
	int rc;

	if ((rc = enc_reserve(w, n)) != 0)
		return rc;
	enc_touch(e, n * AGE_ENC_CHUNK);
	if (pool_run(&e->pool, in, istride, e->buf, n, e->counter) != 0)
		return enc_fail(w);
	e->counter += n;
	return mig_writer_write(w->next, e->buf, n * AGE_ENC_CHUNK);
}

static int
enc_write(struct mig_writer *w, const void *buf, size_t len)
{
	struct age_enc *e = w->priv;
	const unsigned char *p = buf;
	size_t n, j, o;
	int rc;

	if ((rc = enc_start(w)) != 0)
		return rc;
	while (len > 0) {
		if (e->held == AGE_BATCH * AGE_CHUNK) {
			/* More data follows: no held chunk is the last. */
			if ((rc = enc_batch(w, e->buf, AGE_ENC_CHUNK,
			    AGE_BATCH)) != 0)
				return rc;
			e->held = 0;
		}
		if (e->held == 0 && len > AGE_BATCH * AGE_CHUNK) {
			/* Seal straight from the caller's buffer. */
			if ((rc = enc_batch(w, p, AGE_CHUNK, AGE_BATCH)) != 0)
				return rc;
			p += AGE_BATCH * AGE_CHUNK;
			len -= AGE_BATCH * AGE_CHUNK;
			continue;
		}
		j = e->held / AGE_CHUNK;
		o = e->held % AGE_CHUNK;
		n = AGE_CHUNK - o;
		if (n > len)
			n = len;
		if ((rc = enc_reserve(w, j + 1)) != 0)
			return rc;
		enc_touch(e, j * AGE_ENC_CHUNK + o + n);
		memcpy(e->buf + j * AGE_ENC_CHUNK + o, p, n);
		e->held += n;
		p += n;
		len -= n;
	}
	return 0;
}

static int
enc_close(struct mig_writer *w)
{
	struct age_enc *e = w->priv;
	size_t nfull, lastlen;
	unsigned char *last;
	int rc;

	if ((rc = enc_start(w)) != 0)
		return rc;
	/* Only an empty plaintext ends with an empty chunk. */
	nfull = e->held == 0 ? 0 : (e->held - 1) / AGE_CHUNK;
	lastlen = e->held - nfull * AGE_CHUNK;
	if ((rc = enc_reserve(w, nfull + 1)) != 0)
		return rc;
	enc_touch(e, nfull * AGE_ENC_CHUNK + lastlen + AGE_TAG_LEN);
	if (pool_run(&e->pool, e->buf, AGE_ENC_CHUNK, e->buf, nfull,
	    e->counter) != 0)
		return enc_fail(w);
	e->counter += nfull;
	last = e->buf + nfull * AGE_ENC_CHUNK;
	if (crypt_one(e->pool.c[0], true, last, lastlen, last, e->counter,
	    true) != 0)
		return enc_fail(w);
	e->counter++;
	rc = mig_writer_write(w->next, e->buf,
	    nfull * AGE_ENC_CHUNK + lastlen + AGE_TAG_LEN);
	e->held = 0;
	return rc;
}

static void
enc_free(struct mig_writer *w)
{
	struct age_enc *e = w->priv;

	if (e == NULL)
		return;
	if (e->pool_ok)
		pool_fini(&e->pool);
	if (e->buf != NULL) {
		OPENSSL_cleanse(e->buf, e->hw);
		free(e->buf);
	}
	free(e->head);
	mig_writer_free(e->armor);
	free(e);
}

static const struct mig_writer_ops age_enc_ops = {
	.name = "age",
	.write = enc_write,
	.close = enc_close,
	.free = enc_free,
};

int
mig_age_encrypt_writer_new(const struct mig_age_recipients *rs, bool armor,
    struct mig_writer *next, struct mig_ctx *ctx, struct mig_writer **wp)
{
	/* The file key, then the payload nonce: one draw from the DRBG. */
	unsigned char rnd[AGE_FILE_KEY_LEN + AGE_NONCE_LEN], *hdr = NULL;
	const unsigned char *fk = rnd, *nonce = rnd + AGE_FILE_KEY_LEN;
	struct age_enc *e;
	size_t hdrlen = 0;
	int rc;

	*wp = NULL;
	if (rs == NULL || rs->n == 0)
		return mig_seterr(ctx, MIG_ERR_USAGE, "age: no recipients");
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		rc = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_free;
	}
	if ((rc = mig_age_random(rnd, sizeof(rnd), ctx)) != 0 ||
	    (rc = mig_age_header_build(rs, fk, &hdr, &hdrlen, ctx)) != 0)
		goto out_free;
	rc = pool_init(&e->pool, fk, nonce, true, ctx);
	e->pool_ok = true;
	if (rc != 0)
		goto out_free;
	if ((e->head = malloc(hdrlen + AGE_NONCE_LEN)) == NULL) {
		rc = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_free;
	}
	memcpy(e->head, hdr, hdrlen);
	memcpy(e->head + hdrlen, nonce, AGE_NONCE_LEN);
	e->headlen = hdrlen + AGE_NONCE_LEN;
	if (armor && (rc = mig_armor_writer_new(next, ctx, &e->armor)) != 0)
		goto out_free;
	*wp = mig_writer_new(&age_enc_ops, e, armor ? e->armor : next, ctx);
	if (*wp == NULL) {
		rc = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_free;
	}
	e = NULL;
out_free:
	if (e != NULL) {
		struct mig_writer tmp;

		memset(&tmp, 0, sizeof(tmp));
		tmp.priv = e;
		enc_free(&tmp);
	}
	free(hdr);
	OPENSSL_cleanse(rnd, sizeof(rnd));
	return rc;
}

int
mig_age_writer_set_threads(struct mig_writer *w, int n)
{
	struct age_enc *e;

	if (w == NULL || w->ops != &age_enc_ops)
		return MIG_ERR_USAGE;
	e = w->priv;
	return pool_set_threads(&e->pool, n);
}

/* --- replay reader: serves a saved prefix, then src --------------------- */

struct replay {
	unsigned char	*buf;
	size_t		 off, len;
};

static int
replay_read(struct mig_reader *r, void *buf, size_t cap, size_t *nread)
{
	struct replay *p = r->priv;
	size_t n;

	if (p->off < p->len) {
		n = p->len - p->off;
		if (n > cap)
			n = cap;
		memcpy(buf, p->buf + p->off, n);
		p->off += n;
		*nread = n;
		return 0;
	}
	return mig_reader_read(r->src, buf, cap, nread);
}

static void
replay_free(struct mig_reader *r)
{
	struct replay *p = r->priv;

	free(p->buf);
	free(p);
}

static const struct mig_reader_ops replay_ops = {
	.name = "age",
	.read = replay_read,
	.free = replay_free,
};

/* --- decryption --------------------------------------------------------- */

/* A batch of sealed chunks and one byte more, to tell the last one. */
#define DEC_BUFSZ	(AGE_BATCH * AGE_ENC_CHUNK + 1)

enum dec_state {
	DEC_START,	/* nothing read yet */
	DEC_PAYLOAD,	/* header checked, chunks follow */
	DEC_LAST,	/* the batch with the final chunk is being served */
	DEC_FAILED
};

struct age_dec {
	const struct mig_age_identities	*ids;
	enum dec_state			 state;
	int				 err;	/* sticky, once failed */
	int				 nthreads;
	struct mig_reader		*in;	/* src or armor */
	struct mig_reader		*replay; /* owned, armor only */
	struct mig_reader		*armor;	/* owned */
	struct age_pool			 pool;
	bool				 pool_ok;
	uint64_t			 counter;
	unsigned char			*buf;	/* DEC_BUFSZ */
	size_t				 off, len;
	bool				 eof;
	/* Opened chunks: segment i is at buf + i * AGE_ENC_CHUNK. */
	size_t				 seg, nseg, segoff, lastlen;
};

static int
dec_bad(struct mig_reader *r, const char *what)
{
	return mig_seterr(r->ctx, MIG_ERR_VERIFY, "age: %s", what);
}

/* Moves unread bytes to the front and reads until want bytes or EOF. */
static int
dec_fill(struct mig_reader *r, size_t want)
{
	struct age_dec *d = r->priv;
	size_t n;
	int rc;

	if (d->off > 0) {
		memmove(d->buf, d->buf + d->off, d->len - d->off);
		d->len -= d->off;
		d->off = 0;
	}
	if (want > DEC_BUFSZ)
		want = DEC_BUFSZ;
	while (d->len < want && !d->eof) {
		if ((rc = mig_reader_read(d->in, d->buf + d->len,
		    DEC_BUFSZ - d->len, &n)) != 0)
			return rc;
		if (n == 0)
			d->eof = true;
		d->len += n;
	}
	return 0;
}

static bool
is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Looks at the first bytes: armored input starts (after optional
 * whitespace) with '-'; then the bytes read so far are replayed into an
 * armor reader which becomes the input.
 */
static int
dec_detect(struct mig_reader *r)
{
	struct age_dec *d = r->priv;
	struct replay *p;
	size_t i, n;
	int rc;

	i = 0;
	for (;;) {
		while (i < d->len && is_ws(d->buf[i]))
			i++;
		if (i < d->len || d->eof || d->len == DEC_BUFSZ)
			break;
		if ((rc = mig_reader_read(d->in, d->buf + d->len,
		    DEC_BUFSZ - d->len, &n)) != 0)
			return rc;
		if (n == 0)
			d->eof = true;
		d->len += n;
	}
	if (i == d->len)
		return 0;
	if (d->buf[i] != '-')
		return 0;
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->buf = malloc(d->len)) == NULL) {
		free(p);
		return mig_seterr(r->ctx, MIG_ERR_NOMEM, "out of memory");
	}
	memcpy(p->buf, d->buf, d->len);
	p->len = d->len;
	if ((d->replay = mig_reader_new(&replay_ops, p, r->src,
	    r->ctx)) == NULL) {
		free(p->buf);
		free(p);
		return mig_seterr(r->ctx, MIG_ERR_NOMEM, "out of memory");
	}
	if ((rc = mig_armor_reader_new(d->replay, r->ctx, &d->armor)) != 0)
		return rc;
	d->in = d->armor;
	d->off = d->len = 0;
	d->eof = false;
	return 0;
}

/* Reads the header lines (up to and including "--- MAC") into *hdrp. */
static int
dec_read_header(struct mig_reader *r, unsigned char **hdrp, size_t *lenp)
{
	struct age_dec *d = r->priv;
	unsigned char *hdr, *nl, *line;
	size_t hlen = 0, n;
	int rc;

	*hdrp = NULL;
	*lenp = 0;
	if ((hdr = malloc(AGE_HEADER_MAX)) == NULL)
		return mig_seterr(r->ctx, MIG_ERR_NOMEM, "out of memory");
	for (;;) {
		nl = memchr(d->buf + d->off, '\n', d->len - d->off);
		if (nl == NULL) {
			if (d->eof) {
				rc = dec_bad(r, hlen == 0 && d->len == d->off ?
				    "empty input" : "truncated header");
				goto out_free;
			}
			if (d->off == 0 && d->len == DEC_BUFSZ) {
				rc = dec_bad(r, "header line too long");
				goto out_free;
			}
			if ((rc = dec_fill(r, DEC_BUFSZ)) != 0)
				goto out_free;
			continue;
		}
		line = d->buf + d->off;
		n = (size_t)(nl - line) + 1;
		if (n > AGE_HEADER_MAX - hlen) {
			rc = dec_bad(r, "header too large");
			goto out_free;
		}
		memcpy(hdr + hlen, line, n);
		hlen += n;
		d->off += n;
		if (hlen == n && (n < 19 ||
		    memcmp(line, "age-encryption.org/", 19) != 0)) {
			rc = dec_bad(r, "not an age file");
			goto out_free;
		}
		if (n >= 4 && memcmp(line, "---", 3) == 0)
			break;
	}
	*hdrp = hdr;
	*lenp = hlen;
	return 0;
out_free:
	free(hdr);
	return rc;
}

static int
dec_start(struct mig_reader *r)
{
	struct age_dec *d = r->priv;
	struct mig_age_header h;
	unsigned char fk[AGE_FILE_KEY_LEN], nonce[AGE_NONCE_LEN], *hdr = NULL;
	size_t hlen = 0;
	int rc;

	memset(&h, 0, sizeof(h));
	if ((rc = dec_detect(r)) != 0 ||
	    (rc = dec_read_header(r, &hdr, &hlen)) != 0 ||
	    (rc = mig_age_header_parse(hdr, hlen, &h, r->ctx)) != 0 ||
	    (rc = mig_age_header_unwrap(&h, hdr, d->ids, fk, r->ctx)) != 0)
		goto out_free;
	if ((rc = dec_fill(r, AGE_NONCE_LEN)) != 0)
		goto out_wipe;
	if (d->len - d->off < AGE_NONCE_LEN) {
		rc = dec_bad(r, "truncated: no payload");
		goto out_wipe;
	}
	memcpy(nonce, d->buf + d->off, AGE_NONCE_LEN);
	d->off += AGE_NONCE_LEN;
	rc = pool_init(&d->pool, fk, nonce, false, r->ctx);
	d->pool_ok = true;
	if (rc != 0)
		goto out_wipe;
	(void)pool_set_threads(&d->pool, d->nthreads);
	d->state = DEC_PAYLOAD;
out_wipe:
	OPENSSL_cleanse(fk, sizeof(fk));
out_free:
	mig_age_header_clear(&h);
	free(hdr);
	return rc;
}

/*
 * Reads the next batch and opens every chunk of it in place; nothing of
 * the batch is served unless all of it authenticated.
 */
static int
dec_batch(struct mig_reader *r)
{
	struct age_dec *d = r->priv;
	size_t n, lastclen = 0;
	bool final;
	int rc;

	if ((rc = dec_fill(r, DEC_BUFSZ)) != 0)
		return rc;
	if (d->len == DEC_BUFSZ) {
		/* A byte follows the batch: none of it is final. */
		n = AGE_BATCH;
		final = false;
	} else {
		if (d->len == 0)
			return dec_bad(r, d->counter > 0 ?
			    "truncated: the final chunk is missing" :
			    "truncated: no payload chunk");
		n = (d->len - 1) / AGE_ENC_CHUNK;
		lastclen = d->len - n * AGE_ENC_CHUNK;
		final = true;
		if (lastclen < AGE_TAG_LEN)
			return dec_bad(r, "truncated chunk");
		if (lastclen == AGE_TAG_LEN && d->counter + n > 0)
			return dec_bad(r, "empty final chunk");
	}
	rc = pool_run(&d->pool, d->buf, AGE_ENC_CHUNK, d->buf, n, d->counter);
	if (rc == 0 && final)
		rc = crypt_one(d->pool.c[0], false,
		    d->buf + n * AGE_ENC_CHUNK, lastclen - AGE_TAG_LEN,
		    d->buf + n * AGE_ENC_CHUNK, d->counter + n, true);
	if (rc == CRYPT_FAIL)
		return mig_seterr_ssl(r->ctx, MIG_ERR_CRYPTO,
		    "age: chunk decryption failed");
	if (rc != 0) {
		OPENSSL_cleanse(d->buf, d->len);
		return dec_bad(r, final ? "chunk authentication failed "
		    "(corrupt, truncated or extended)" :
		    "chunk authentication failed (corrupt)");
	}
	d->counter += n + (final ? 1 : 0);
	d->seg = 0;
	d->segoff = 0;
	d->nseg = n + (final ? 1 : 0);
	d->lastlen = final ? lastclen - AGE_TAG_LEN : AGE_CHUNK;
	d->off = final ? d->len : AGE_BATCH * AGE_ENC_CHUNK;
	if (final)
		d->state = DEC_LAST;
	return 0;
}

static int
dec_read(struct mig_reader *r, void *buf, size_t cap, size_t *nread)
{
	struct age_dec *d = r->priv;
	unsigned char *p = buf;
	size_t n, seglen, got = 0;
	int rc = 0;

	*nread = 0;
	if (d->state == DEC_FAILED)
		return d->err;
	if (d->state == DEC_START && (rc = dec_start(r)) != 0)
		goto out_fail;
	while (got < cap) {
		if (d->seg < d->nseg) {
			seglen = d->seg == d->nseg - 1 ? d->lastlen :
			    AGE_CHUNK;
			n = seglen - d->segoff;
			if (n > cap - got)
				n = cap - got;
			memcpy(p + got, d->buf + d->seg * AGE_ENC_CHUNK +
			    d->segoff, n);
			d->segoff += n;
			got += n;
			if (d->segoff == seglen) {
				d->seg++;
				d->segoff = 0;
			}
			continue;
		}
		if (d->state == DEC_LAST)
			break;
		if ((rc = dec_batch(r)) != 0)
			goto out_fail;
	}
	*nread = got;
	return 0;
out_fail:
	d->state = DEC_FAILED;
	d->err = rc;
	if (got == 0)
		return rc;
	/* Hand over what earlier batches authenticated; fail next time. */
	*nread = got;
	return 0;
}

static void
dec_free(struct mig_reader *r)
{
	struct age_dec *d = r->priv;

	if (d == NULL)
		return;
	if (d->pool_ok)
		pool_fini(&d->pool);
	if (d->buf != NULL) {
		OPENSSL_cleanse(d->buf, DEC_BUFSZ);
		free(d->buf);
	}
	mig_reader_free(d->armor);
	mig_reader_free(d->replay);
	free(d);
}

static const struct mig_reader_ops age_dec_ops = {
	.name = "age",
	.read = dec_read,
	.free = dec_free,
};

int
mig_age_decrypt_reader_new(const struct mig_age_identities *ids,
    struct mig_reader *src, struct mig_ctx *ctx, struct mig_reader **rp)
{
	struct age_dec *d;

	*rp = NULL;
	if (ids == NULL || ids->n == 0)
		return mig_seterr(ctx, MIG_ERR_USAGE, "age: no identities");
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->buf = malloc(DEC_BUFSZ)) == NULL)
		goto out_nomem;
	d->ids = ids;
	d->in = src;
	d->nthreads = 1;
	if ((*rp = mig_reader_new(&age_dec_ops, d, src, ctx)) == NULL)
		goto out_nomem;
	return 0;
out_nomem:
	if (d != NULL)
		free(d->buf);
	free(d);
	return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
}

int
mig_age_reader_set_threads(struct mig_reader *r, int n)
{
	struct age_dec *d;

	if (r == NULL || r->ops != &age_dec_ops || n < 1 ||
	    n > MIG_AGE_MAX_THREADS)
		return MIG_ERR_USAGE;
	d = r->priv;
	d->nthreads = n;
	if (d->pool_ok)
		return pool_set_threads(&d->pool, n);
	return 0;
}
