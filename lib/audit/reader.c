/*
 * Streaming line reader for audit logs: one buffer of MIG_AUDIT_LINE_MAX
 * plus a read chunk, whatever the size of the log.  A line longer than
 * MIG_AUDIT_LINE_MAX is skipped and reported as toolong.
 */
#define MIG_AUDIT_INTERNAL
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "migrate/error.h"

#include "audit_int.h"

#define READ_CHUNK	(256 * 1024)

struct audit_reader {
	int		 fd;		/* -1 for memory */
	const char	*mem;
	size_t		 memlen;
	char		*buf;
	size_t		 cap;
	size_t		 start;		/* first unconsumed byte */
	size_t		 end;		/* end of valid data */
	uint64_t	 off;		/* file offset of buf[start] */
	uint64_t	 lineno;
	bool		 eof;
	char		*name;
};

int
audit_reader_open(const char *path, const void *mem, size_t memlen,
    const char *name, struct mig_ctx *ctx, struct audit_reader **rp)
{
	struct audit_reader *r;
	struct stat st;
	int rc;

	*rp = NULL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	r->fd = -1;
	r->name = strdup(name != NULL ? name : path != NULL ? path : "log");
	if (r->name == NULL) {
		rc = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_free;
	}
	if (path == NULL) {
		r->mem = mem;
		r->memlen = memlen;
		*rp = r;
		return 0;
	}
	r->cap = MIG_AUDIT_LINE_MAX + 1 + READ_CHUNK;
	r->buf = malloc(r->cap);
	if (r->buf == NULL) {
		rc = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_free;
	}
	r->fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (r->fd < 0) {
		rc = mig_seterr(ctx, errno == ENOENT ? MIG_ERR_NOTFOUND :
		    MIG_ERR_IO, "%s: %s", path, strerror(errno));
		goto out_free;
	}
	if (fstat(r->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = mig_seterr(ctx, MIG_ERR_IO, "%s: not a regular file",
		    path);
		goto out_free;
	}
	*rp = r;
	return 0;
out_free:
	audit_reader_free(r);
	return rc;
}

/* Memory input: lines point straight into the caller's buffer. */
static int
next_mem(struct audit_reader *r, struct audit_line *l)
{
	const char *p, *nl;
	size_t left;

	if (r->off >= r->memlen)
		return 0;
	p = r->mem + r->off;
	left = r->memlen - (size_t)r->off;
	nl = memchr(p, '\n', left);
	memset(l, 0, sizeof(*l));
	l->lineno = ++r->lineno;
	l->offset = r->off;
	l->len = nl != NULL ? (size_t)(nl - p) : left;
	l->terminated = nl != NULL;
	if (l->len > MIG_AUDIT_LINE_MAX)
		l->toolong = true;
	else
		l->p = p;
	r->off += l->len + (nl != NULL);
	return 1;
}

/* Reads more input after compacting the buffer; 0 or MIG_ERR_IO. */
static int
fill(struct audit_reader *r, struct mig_ctx *ctx)
{
	ssize_t n;

	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	for (;;) {
		n = read(r->fd, r->buf + r->end, r->cap - r->end);
		if (n >= 0)
			break;
		if (errno != EINTR)
			return mig_seterr(ctx, MIG_ERR_IO, "%s: read: %s",
			    r->name, strerror(errno));
	}
	if (n == 0)
		r->eof = true;
	r->end += (size_t)n;
	return 0;
}

/* Skips the rest of an over-long line; *skipped counts its bytes. */
static int
skip_line(struct audit_reader *r, uint64_t *skipped, bool *term,
    struct mig_ctx *ctx)
{
	char *nl;
	int rc;

	*term = false;
	for (;;) {
		nl = memchr(r->buf + r->start, '\n', r->end - r->start);
		if (nl != NULL) {
			*skipped += (uint64_t)(nl - (r->buf + r->start));
			r->start = (size_t)(nl - r->buf) + 1;
			*term = true;
			return 0;
		}
		*skipped += r->end - r->start;
		r->start = r->end;
		if (r->eof)
			return 0;
		if ((rc = fill(r, ctx)) != 0)
			return rc;
	}
}

int
audit_reader_next(struct audit_reader *r, struct audit_line *l,
    struct mig_ctx *ctx)
{
	char *nl;
	size_t have;
	uint64_t skipped;
	bool term;
	int rc;

	if (r->fd < 0)
		return next_mem(r, l);
	memset(l, 0, sizeof(*l));
	for (;;) {
		have = r->end - r->start;
		nl = memchr(r->buf + r->start, '\n', have);
		if (nl != NULL || (r->eof && have > 0) ||
		    have > MIG_AUDIT_LINE_MAX)
			break;
		if (r->eof)
			return 0;
		if ((rc = fill(r, ctx)) != 0)
			return rc;
	}
	l->lineno = ++r->lineno;
	l->offset = r->off;
	if (nl == NULL && have > MIG_AUDIT_LINE_MAX) {
		skipped = 0;
		if ((rc = skip_line(r, &skipped, &term, ctx)) != 0)
			return rc;
		l->toolong = true;
		l->len = (size_t)skipped;
		l->terminated = term;
		r->off += skipped + term;
		return 1;
	}
	l->p = r->buf + r->start;
	l->len = nl != NULL ? (size_t)(nl - l->p) : have;
	l->terminated = nl != NULL;
	if (l->len > MIG_AUDIT_LINE_MAX) {
		l->toolong = true;
		l->p = NULL;
	}
	r->start += l->len + (nl != NULL);
	r->off += l->len + (nl != NULL);
	return 1;
}

void
audit_reader_free(struct audit_reader *r)
{
	if (r == NULL)
		return;
	if (r->fd >= 0)
		(void)close(r->fd);
	free(r->buf);
	free(r->name);
	free(r);
}
