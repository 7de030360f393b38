/*
 * manifest-sha256.txt written as it is made (issue 20).  A run of
 * millions of files must not hold its manifest: the lines go out through
 * the transport as the run hands them over, in the order the file has
 * anyway, and are hashed on the way for the tag manifest and the audit
 * record.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/bagit.h"
#include "migrate/error.h"
#include "migrate/stream.h"
#include "migrate/transport.h"
#include "migrate/util.h"

#define MIG_BAGIT_INTERNAL
#include "bagit_int.h"

#define LINES_BUF	(64 * 1024)

struct mig_bag_manifest_writer {
	struct mig_transport	*t;
	struct mig_ctx		*ctx;
	struct mig_writer	*sink;	/* the transport's */
	struct mig_writer	*sha;	/* over sink */
	char			*buf;
	size_t			 len;
	char			*last;	/* the path of the last line */
	size_t			 lastcap;
	uint64_t		 files, bytes;
};

int
mig_bag_manifest_writer_open(struct mig_transport *t, const char *bagdir,
    bool unpublished, struct mig_ctx *ctx,
    struct mig_bag_manifest_writer **mwp)
{
	struct mig_bag_manifest_writer *mw;
	char *path = NULL;
	int r;

	*mwp = NULL;
	if ((mw = calloc(1, sizeof(*mw))) == NULL ||
	    (mw->buf = malloc(LINES_BUF)) == NULL ||
	    (path = mig_path_join(bagdir, "manifest-sha256.txt")) == NULL) {
		r = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto fail;
	}
	mw->t = t;
	mw->ctx = ctx;
	if ((r = unpublished ? mig_transport_open_write_unpublished(t, path,
	    -1, &mw->sink) : mig_transport_open_write(t, path, -1,
	    &mw->sink)) != 0) {
		r = mig_bag_transport_err(t, ctx, r);
		goto fail;
	}
	if ((r = mig_sha256_writer_new(mw->sink, ctx, &mw->sha)) != 0)
		goto fail;
	free(path);
	*mwp = mw;
	return 0;
fail:
	free(path);
	mig_bag_manifest_writer_free(mw);
	return r;
}

static int
flush_lines(struct mig_bag_manifest_writer *mw)
{
	int r;

	if (mw->len == 0)
		return 0;
	if ((r = mig_writer_write(mw->sha, mw->buf, mw->len)) != 0)
		return mig_bag_transport_err(mw->t, mw->ctx, r);
	mw->len = 0;
	return 0;
}

/* Remembers path as the last one, for the order of the next. */
static int
keep_last(struct mig_bag_manifest_writer *mw, const char *path, size_t n)
{
	char *nl;

	if (mw->lastcap <= n) {
		if ((nl = realloc(mw->last, n + 1)) == NULL)
			return mig_seterr(mw->ctx, MIG_ERR_NOMEM,
			    "out of memory");
		mw->last = nl;
		mw->lastcap = n + 1;
	}
	memcpy(mw->last, path, n + 1);
	return 0;
}

int
mig_bag_manifest_writer_add(struct mig_bag_manifest_writer *mw,
    const char *path, const unsigned char digest[32], uint64_t size)
{
	const char *why;
	char hex[65], *enc;
	size_t n = strlen(path), need;
	int r;

	if ((why = mig_bag_path_problem(path, n)) != NULL)
		return mig_seterr(mw->ctx, MIG_ERR_USAGE, "bag payload "
		    "\"%s\": %s", path, why);
	if (mw->last != NULL && strcmp(mw->last, path) >= 0)
		return mig_seterr(mw->ctx, MIG_ERR_USAGE, "bag payload "
		    "\"%s\" comes after \"%s\": not in path order", path,
		    mw->last);
	if ((r = keep_last(mw, path, n)) != 0)
		return r;
	if ((enc = mig_bag_path_encode(path)) == NULL)
		return mig_seterr(mw->ctx, MIG_ERR_NOMEM, "out of memory");
	need = 64 + 7 + strlen(enc) + 1;
	if ((LINES_BUF - mw->len < need && (r = flush_lines(mw)) != 0) ||
	    (need > LINES_BUF && (r = mig_seterr(mw->ctx, MIG_ERR_USAGE,
	    "bag payload \"%s\": path too long", path)) != 0)) {
		free(enc);
		return r;
	}
	mig_hex_encode(digest, 32, hex);
	memcpy(mw->buf + mw->len, hex, 64);
	memcpy(mw->buf + mw->len + 64, "  data/", 7);
	memcpy(mw->buf + mw->len + 71, enc, strlen(enc));
	mw->buf[mw->len + need - 1] = '\n';
	mw->len += need;
	free(enc);
	mw->files++;
	mw->bytes += size;
	return 0;
}

int
mig_bag_manifest_writer_close(struct mig_bag_manifest_writer *mw,
    struct mig_bag_manifest *m)
{
	unsigned char digest[32];
	uint64_t count;
	int r;

	if ((r = flush_lines(mw)) != 0)
		return r;
	if ((r = mig_writer_close(mw->sha)) != 0)
		return mig_bag_transport_err(mw->t, mw->ctx, r);
	mig_sha256_writer_result(mw->sha, digest, &count);
	mig_bag_manifest_set_payload(m, digest, mw->files, mw->bytes);
	return 0;
}

void
mig_bag_manifest_writer_free(struct mig_bag_manifest_writer *mw)
{
	if (mw == NULL)
		return;
	mig_writer_free(mw->sha);
	mig_writer_free(mw->sink);
	free(mw->buf);
	free(mw->last);
	free(mw);
}
