/*
 * The age ASCII armor, a strict subset of RFC 7468 PEM with the label
 * "AGE ENCRYPTED FILE": 64-column lines of padded, canonical base64
 * (util.h), the last one possibly shorter.
 * Whitespace is accepted before the BEGIN line and after the END line
 * only; lines may end in LF or CRLF.  Anything else is tampering
 * (MIG_ERR_VERIFY), since an armor parser that tolerates slack makes
 * the file malleable.
 */
#include <stdbool.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "migrate/age.h"
#include "migrate/error.h"
#include "migrate/stream.h"
#include "migrate/util.h"

#define MIG_CRYPTO_INTERNAL
#include "crypto_int.h"

#define ARMOR_BEGIN	"-----BEGIN AGE ENCRYPTED FILE-----"
#define ARMOR_END	"-----END AGE ENCRYPTED FILE-----"
#define ARMOR_COLS	64
#define ARMOR_BYTES	48	/* bytes per full line */

/* --- armor writer ------------------------------------------------------- */

/* Full lines encoded per push downstream (about 64 KiB of text). */
#define ARMOR_WBATCH	1000

struct armor_writer {
	unsigned char	 in[ARMOR_BYTES];
	size_t		 inlen;
	bool		 begun;
	char		*out;		/* ARMOR_WBATCH lines */
	size_t		 outlen;
};

static int
armor_flush(struct mig_writer *w)
{
	struct armor_writer *a = w->priv;
	int rc;

	if (a->outlen == 0)
		return 0;
	rc = mig_writer_write(w->next, a->out, a->outlen);
	a->outlen = 0;
	return rc;
}

static int
armor_begin(struct mig_writer *w)
{
	struct armor_writer *a = w->priv;

	if (a->begun)
		return 0;
	a->begun = true;
	memcpy(a->out, ARMOR_BEGIN "\n", sizeof(ARMOR_BEGIN));
	a->outlen = sizeof(ARMOR_BEGIN);
	return 0;
}

/* Appends one encoded line of len (<= 48) bytes to the batch. */
static int
armor_line(struct mig_writer *w, const unsigned char *buf, size_t len)
{
	struct armor_writer *a = w->priv;
	int rc;

	if (a->outlen + ARMOR_COLS + 1 > (ARMOR_WBATCH + 1) * (ARMOR_COLS + 1)
	    && (rc = armor_flush(w)) != 0)
		return rc;
	mig_base64_encode(buf, len, a->out + a->outlen);
	a->outlen += (len + 2) / 3 * 4;
	a->out[a->outlen++] = '\n';
	return 0;
}

static int
armor_write(struct mig_writer *w, const void *buf, size_t len)
{
	struct armor_writer *a = w->priv;
	const unsigned char *p = buf;
	size_t n;
	int rc;

	armor_begin(w);
	if (a->inlen > 0) {
		n = ARMOR_BYTES - a->inlen;
		if (n > len)
			n = len;
		memcpy(a->in + a->inlen, p, n);
		a->inlen += n;
		p += n;
		len -= n;
		if (a->inlen < ARMOR_BYTES)
			return 0;
		if ((rc = armor_line(w, a->in, ARMOR_BYTES)) != 0)
			return rc;
		a->inlen = 0;
	}
	while (len >= ARMOR_BYTES) {
		if ((rc = armor_line(w, p, ARMOR_BYTES)) != 0)
			return rc;
		p += ARMOR_BYTES;
		len -= ARMOR_BYTES;
	}
	memcpy(a->in, p, len);
	a->inlen = len;
	return 0;
}

static int
armor_close(struct mig_writer *w)
{
	struct armor_writer *a = w->priv;
	int rc;

	armor_begin(w);
	if (a->inlen > 0 && (rc = armor_line(w, a->in, a->inlen)) != 0)
		return rc;
	a->inlen = 0;
	if ((rc = armor_flush(w)) != 0)
		return rc;
	return mig_writer_write(w->next, ARMOR_END "\n", sizeof(ARMOR_END));
}

static void
armor_wfree(struct mig_writer *w)
{
	struct armor_writer *a = w->priv;

	if (a == NULL)
		return;
	free(a->out);
	free(a);
}

static const struct mig_writer_ops armor_writer_ops = {
	.name = "armor",
	.write = armor_write,
	.close = armor_close,
	.free = armor_wfree,
};

int
mig_armor_writer_new(struct mig_writer *next, struct mig_ctx *ctx,
    struct mig_writer **wp)
{
	struct armor_writer *a;

	*wp = NULL;
	if ((a = calloc(1, sizeof(*a))) == NULL ||
	    (a->out = malloc((ARMOR_WBATCH + 1) * (ARMOR_COLS + 1))) == NULL)
		goto out_nomem;
	if ((*wp = mig_writer_new(&armor_writer_ops, a, next, ctx)) == NULL)
		goto out_nomem;
	return 0;
out_nomem:
	if (a != NULL)
		free(a->out);
	free(a);
	return mig_seterr(ctx, MIG_ERR_NOMEM, "armor: out of memory");
}

/* --- armor reader ------------------------------------------------------- */

#define ARMOR_RBUF	(16 * 1024)

enum armor_state {
	ARMOR_ST_START,		/* skipping whitespace, want BEGIN */
	ARMOR_ST_BODY,		/* base64 lines */
	ARMOR_ST_LAST,		/* saw a short line, want END */
	ARMOR_ST_TRAIL,		/* after END: whitespace only */
	ARMOR_ST_EOF
};

struct armor_reader {
	enum armor_state state;
	unsigned char	 buf[ARMOR_RBUF];
	size_t		 off, len;
	bool		 src_eof;
	unsigned char	 out[ARMOR_BYTES];
	size_t		 outoff, outlen;
};

static int
armor_bad(struct mig_reader *r, const char *what)
{
	return mig_seterr(r->ctx, MIG_ERR_VERIFY, "armor: %s", what);
}

/* Reads more of src after compacting; sets src_eof at the end. */
static int
armor_fill(struct mig_reader *r)
{
	struct armor_reader *a = r->priv;
	size_t n;
	int rc;

	if (a->off > 0) {
		memmove(a->buf, a->buf + a->off, a->len - a->off);
		a->len -= a->off;
		a->off = 0;
	}
	if (a->len == sizeof(a->buf))
		return armor_bad(r, "line too long");
	if ((rc = mig_reader_read(r->src, a->buf + a->len,
	    sizeof(a->buf) - a->len, &n)) != 0)
		return rc;
	if (n == 0)
		a->src_eof = true;
	a->len += n;
	return 0;
}

/*
 * Finds the next line; *linep and *linelen exclude the LF or CRLF.  Sets
 * *linep to NULL at the end of the stream when no bytes are left, and
 * fails on a final line without a line feed unless allow_noeol.
 */
static int
armor_getline(struct mig_reader *r, const char **linep, size_t *linelen,
    bool allow_noeol)
{
	struct armor_reader *a = r->priv;
	unsigned char *nl;
	size_t n;
	int rc;

	*linep = NULL;
	*linelen = 0;
	for (;;) {
		nl = memchr(a->buf + a->off, '\n', a->len - a->off);
		if (nl != NULL)
			break;
		if (a->src_eof) {
			if (a->len == a->off)
				return 0;
			if (!allow_noeol)
				return armor_bad(r, "truncated");
			*linep = (const char *)a->buf + a->off;
			*linelen = a->len - a->off;
			a->off = a->len;
			return 0;
		}
		if ((rc = armor_fill(r)) != 0)
			return rc;
	}
	n = (size_t)(nl - (a->buf + a->off));
	*linep = (const char *)a->buf + a->off;
	a->off += n + 1;
	if (n > 0 && (*linep)[n - 1] == '\r')
		n--;
	*linelen = n;
	return 0;
}

static bool
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Skips whitespace; at the end sets *eof. */
static int
armor_skip_space(struct mig_reader *r, bool *eof)
{
	struct armor_reader *a = r->priv;
	int rc;

	*eof = false;
	for (;;) {
		while (a->off < a->len && is_space(a->buf[a->off]))
			a->off++;
		if (a->off < a->len)
			return 0;
		if (a->src_eof) {
			*eof = true;
			return 0;
		}
		if ((rc = armor_fill(r)) != 0)
			return rc;
	}
}

/* Advances the state machine by one line; may decode into a->out. */
static int
armor_step(struct mig_reader *r)
{
	struct armor_reader *a = r->priv;
	const char *line;
	size_t len;
	long n;
	bool eof;
	int rc;

	switch (a->state) {
	case ARMOR_ST_START:
		if ((rc = armor_skip_space(r, &eof)) != 0)
			return rc;
		if (eof)
			return armor_bad(r, "empty input");
		if ((rc = armor_getline(r, &line, &len, false)) != 0)
			return rc;
		if (len != strlen(ARMOR_BEGIN) ||
		    memcmp(line, ARMOR_BEGIN, len) != 0)
			return armor_bad(r, "missing BEGIN line");
		a->state = ARMOR_ST_BODY;
		return 0;
	case ARMOR_ST_BODY:
	case ARMOR_ST_LAST:
		if ((rc = armor_getline(r, &line, &len, true)) != 0)
			return rc;
		if (line == NULL)
			return armor_bad(r, "truncated: no END line");
		if (len == strlen(ARMOR_END) &&
		    memcmp(line, ARMOR_END, len) == 0) {
			a->state = ARMOR_ST_TRAIL;
			return 0;
		}
		if (a->state == ARMOR_ST_LAST)
			return armor_bad(r, "data after the last line");
		if (len == 0 || len > ARMOR_COLS || len % 4 != 0)
			return armor_bad(r, "bad line length");
		if ((n = mig_base64_decode(line, len, a->out, ARMOR_BYTES)) < 0)
			return armor_bad(r, "non-canonical base64");
		if (len < ARMOR_COLS || line[len - 1] == '=')
			a->state = ARMOR_ST_LAST;
		a->outoff = 0;
		a->outlen = (size_t)n;
		return 0;
	case ARMOR_ST_TRAIL:
		if ((rc = armor_skip_space(r, &eof)) != 0)
			return rc;
		if (!eof)
			return armor_bad(r, "garbage after END line");
		a->state = ARMOR_ST_EOF;
		return 0;
	case ARMOR_ST_EOF:
		return 0;
	}
	return mig_seterr(r->ctx, MIG_ERR_INTERNAL, "armor: bad state");
}

static int
armor_read(struct mig_reader *r, void *buf, size_t cap, size_t *nread)
{
	struct armor_reader *a = r->priv;
	unsigned char *p = buf;
	size_t n, got = 0;
	int rc = 0;

	while (got < cap && a->state != ARMOR_ST_EOF) {
		if (a->outoff == a->outlen) {
			if ((rc = armor_step(r)) != 0)
				break;
			continue;
		}
		n = a->outlen - a->outoff;
		if (n > cap - got)
			n = cap - got;
		memcpy(p + got, a->out + a->outoff, n);
		a->outoff += n;
		got += n;
	}
	*nread = rc == 0 ? got : 0;
	return rc;
}

static void
armor_rfree(struct mig_reader *r)
{
	free(r->priv);
}

static const struct mig_reader_ops armor_reader_ops = {
	.name = "armor",
	.read = armor_read,
	.free = armor_rfree,
};

int
mig_armor_reader_new(struct mig_reader *src, struct mig_ctx *ctx,
    struct mig_reader **rp)
{
	struct armor_reader *a;

	*rp = NULL;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "armor: out of memory");
	if ((*rp = mig_reader_new(&armor_reader_ops, a, src, ctx)) == NULL) {
		free(a);
		return mig_seterr(ctx, MIG_ERR_NOMEM, "armor: out of memory");
	}
	return 0;
}
