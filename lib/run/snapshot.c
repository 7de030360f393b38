/*
 * Snapshots: every source path as of a run, one JSON line each.
 *
 * A run's migrate-manifest.json.age (encrypted) and the local
 * snapshot.jsonl beside the audit log (plaintext digests stay on the
 * source side) have the same shape:
 *
 *   {"version":2,"run":ID,"parent":ID|null,"plan":..,"strategy":..,
 *    "compressed":bool[,"archive":{"object":..,"stored_size":..,
 *    "stored_sha256":..}]}
 *   {"path":..,"size":..,"mode":"0644","mtime":..,"sha256":..,
 *    "run":HOLDER,"bag":HOLDER-BAG,"object":"data/..","stored_size":..,
 *    "stored_sha256":..}
 *   ...
 *
 * one line per path, sorted by path.  A path whose file did not change
 * since an earlier run names that run (and its bag) as the holder of its
 * object: a run is a complete snapshot while only changed objects travel.
 * retain writes no object; retire and repurchase name their archive and
 * the member instead.  Version 1 manifests (one JSON document with an
 * "objects" array, all held by the run itself) are still read.
 */
#define MIG_RUN_INTERNAL
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "migrate/age.h"
#include "migrate/error.h"
#include "migrate/stream.h"
#include "migrate/transport.h"

#include "run_int.h"

/* A line of a snapshot: a path of MIG_PATH_MAX and its fields. */
#define SNAP_LINE_MAX	(64 * 1024)
/* A version 1 manifest is one document: bounded. */
#define SNAP_V1_MAX	(512u * 1024 * 1024)
#define SNAP_BUF	(64 * 1024)

struct snap_reader {
	struct mig_reader	*src;		/* owned chain, or NULL */
	struct mig_reader	*dec;
	struct snap_header	 hdr;
	char			*name;
	struct mig_ctx		*ctx;
	/* Line buffer over src. */
	char			*buf;
	size_t			 len, off;
	bool			 eof;
	char			*line;
	/* Version 1: the document and where its array stands. */
	json_t			*v1;
	size_t			 v1_next;
	json_t			*cur;		/* the entry given last */
	char			*v1_bag;
};

/* --- Writing ------------------------------------------------------------ */

static int
write_json_line(struct mig_writer *w, json_t *j, struct mig_ctx *ctx)
{
	char *text;
	size_t len;
	int r;

	if (j == NULL || (text = json_dumps(j, JSON_COMPACT |
	    JSON_PRESERVE_ORDER)) == NULL) {
		json_decref(j);
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	}
	json_decref(j);
	len = strlen(text);
	text[len] = '\n';	/* json_dumps leaves room for the NUL */
	r = mig_writer_write(w, text, len + 1);
	/* Plaintext digests passed through it. */
	OPENSSL_cleanse(text, len + 1);
	free(text);
	return r;
}

int
snap_write_header(struct mig_writer *w, const struct snap_header *h,
    struct mig_ctx *ctx)
{
	json_t *j;

	j = json_pack("{s:i, s:s, s:s?, s:s, s:s, s:b}", "version", 2, "run",
	    h->run, "parent", h->parent[0] != '\0' ? h->parent : NULL,
	    "plan", h->plan, "strategy", h->strategy, "compressed",
	    h->compressed);
	if (j != NULL && h->archive != NULL)
		json_object_set_new(j, "archive", json_pack("{s:s, s:I, s:s}",
		    "object", h->archive, "stored_size",
		    (json_int_t)h->archive_stored_size, "stored_sha256",
		    h->archive_stored_sha256));
	return write_json_line(w, j, ctx);
}

int
snap_write_entry(struct mig_writer *w, const struct snap_entry *e,
    struct mig_ctx *ctx)
{
	char mode[8];
	json_t *j;

	(void)snprintf(mode, sizeof(mode), "%04o", (unsigned)(e->mode & 07777));
	j = json_pack("{s:s, s:I, s:s, s:I}", "path", e->path, "size",
	    (json_int_t)e->size, "mode", mode, "mtime", (json_int_t)e->mtime);
	if (j == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	if (e->sha256[0] != '\0')
		json_object_set_new(j, "sha256", json_string(e->sha256));
	if (e->run[0] != '\0') {
		json_object_set_new(j, "run", json_string(e->run));
		json_object_set_new(j, "bag", json_string(e->bag));
	}
	if (e->object != NULL) {
		json_object_set_new(j, "object", json_string(e->object));
		json_object_set_new(j, "stored_size",
		    json_integer((json_int_t)e->stored_size));
		json_object_set_new(j, "stored_sha256",
		    json_string(e->stored_sha256));
	}
	if (e->member != NULL) {
		json_object_set_new(j, "archive", json_string(e->archive));
		json_object_set_new(j, "member", json_string(e->member));
	}
	return write_json_line(w, j, ctx);
}

/* --- Reading ------------------------------------------------------------ */

/* The next line of r (without its newline) in r->line; 0 at the end. */
static int
next_line(struct snap_reader *r, size_t *lenp)
{
	char *nl;
	size_t n;
	int rc;

	for (;;) {
		nl = memchr(r->buf + r->off, '\n', r->len - r->off);
		if (nl != NULL) {
			*nl = '\0';
			r->line = r->buf + r->off;
			*lenp = (size_t)(nl - r->line);
			r->off = (size_t)(nl - r->buf) + 1;
			return 1;
		}
		if (r->eof) {
			if (r->off == r->len)
				return 0;
			return mig_seterr(r->ctx, MIG_ERR_FORMAT, "%s: the last "
			    "line is cut short", r->name);
		}
		/* Keep the partial line, read more after it. */
		memmove(r->buf, r->buf + r->off, r->len - r->off);
		r->len -= r->off;
		r->off = 0;
		if (r->len == SNAP_LINE_MAX)
			return mig_seterr(r->ctx, MIG_ERR_FORMAT, "%s: a line "
			    "longer than %d bytes", r->name, SNAP_LINE_MAX);
		if ((rc = mig_reader_read(r->dec, r->buf + r->len,
		    SNAP_LINE_MAX - r->len, &n)) != 0)
			return rc;
		if (n == 0)
			r->eof = true;
		r->len += n;
	}
}

static void
take_str(const json_t *j, const char *key, char *out, size_t size)
{
	const char *s = json_string_value(json_object_get(j, key));

	out[0] = '\0';
	if (s != NULL && strlen(s) < size)
		memcpy(out, s, strlen(s) + 1);
}

static int
parse_header(struct snap_reader *r, const json_t *j)
{
	const json_t *a = json_object_get(j, "archive");
	const char *obj;

	r->hdr.version = (int)json_integer_value(json_object_get(j,
	    "version"));
	take_str(j, "run", r->hdr.run, sizeof(r->hdr.run));
	take_str(j, "parent", r->hdr.parent, sizeof(r->hdr.parent));
	take_str(j, "plan", r->hdr.plan, sizeof(r->hdr.plan));
	take_str(j, "strategy", r->hdr.strategy, sizeof(r->hdr.strategy));
	r->hdr.compressed = json_is_true(json_object_get(j, "compressed"));
	if (a != NULL && (obj = json_string_value(json_object_get(a,
	    "object"))) != NULL) {
		if ((r->hdr.archive = strdup(obj)) == NULL)
			return mig_seterr(r->ctx, MIG_ERR_NOMEM,
			    "out of memory");
		r->hdr.archive_stored_size = (uint64_t)json_integer_value(
		    json_object_get(a, "stored_size"));
		take_str(a, "stored_sha256", r->hdr.archive_stored_sha256,
		    sizeof(r->hdr.archive_stored_sha256));
	}
	if (r->hdr.run[0] == '\0')
		return mig_seterr(r->ctx, MIG_ERR_FORMAT, "%s: not a migrate "
		    "snapshot (no run)", r->name);
	return 0;
}

/* An entry from its JSON object; strings borrowed from j. */
static int
parse_entry(struct snap_reader *r, const json_t *j, struct snap_entry *e)
{
	const char *mode = json_string_value(json_object_get(j, "mode"));
	char *end;

	memset(e, 0, sizeof(*e));
	e->path = (char *)json_string_value(json_object_get(j, "path"));
	if (e->path == NULL)
		return mig_seterr(r->ctx, MIG_ERR_FORMAT, "%s: an entry "
		    "without a path", r->name);
	e->size = (uint64_t)json_integer_value(json_object_get(j, "size"));
	e->mtime = (time_t)json_integer_value(json_object_get(j, "mtime"));
	e->mode = mode != NULL ? (mode_t)strtoul(mode, &end, 8) & 07777 : 0;
	take_str(j, "sha256", e->sha256, sizeof(e->sha256));
	take_str(j, "run", e->run, sizeof(e->run));
	e->bag = (char *)json_string_value(json_object_get(j, "bag"));
	e->object = (char *)json_string_value(json_object_get(j, "object"));
	e->stored_size = (uint64_t)json_integer_value(json_object_get(j,
	    "stored_size"));
	take_str(j, "stored_sha256", e->stored_sha256,
	    sizeof(e->stored_sha256));
	e->archive = (char *)json_string_value(json_object_get(j, "archive"));
	e->member = (char *)json_string_value(json_object_get(j, "member"));
	if (r->v1 != NULL && (e->object != NULL || e->member != NULL)) {
		/* Version 1: everything is held by the run itself. */
		memcpy(e->run, r->hdr.run, sizeof(e->run));
		e->bag = r->v1_bag;
	}
	if ((e->object != NULL || e->member != NULL) &&
	    (e->run[0] == '\0' || e->bag == NULL))
		return mig_seterr(r->ctx, MIG_ERR_FORMAT, "%s: %s: an object "
		    "without the run that holds it", r->name, e->path);
	return 0;
}

/* Version 1: the whole document, whose first line we already hold. */
static int
read_v1(struct snap_reader *r, const char *bag)
{
	struct mig_writer *mem = NULL;
	const unsigned char *data;
	json_error_t jerr;
	size_t len;
	int rc;

	if ((rc = mig_mem_writer_new(SNAP_V1_MAX, r->ctx, &mem)) != 0 ||
	    (rc = mig_writer_write(mem, r->buf, r->len)) != 0 ||
	    (rc = mig_stream_copy(r->dec, mem, NULL)) != 0)
		goto out;
	data = mig_mem_writer_data(mem, &len);
	r->v1 = json_loadb((const char *)data, len, 0, &jerr);
	OPENSSL_cleanse((void *)data, len);
	if (r->v1 == NULL || !json_is_array(json_object_get(r->v1,
	    "objects"))) {
		rc = mig_seterr(r->ctx, MIG_ERR_FORMAT, "%s: not a migrate "
		    "manifest (%s)", r->name, jerr.text);
		goto out;
	}
	if ((r->v1_bag = strdup(bag != NULL ? bag : "")) == NULL) {
		rc = mig_seterr(r->ctx, MIG_ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = parse_header(r, r->v1);
out:
	mig_writer_free(mem);
	return rc;
}

static int
reader_start(struct snap_reader *r, const char *bag)
{
	json_t *j;
	size_t len;
	int rc;

	if ((r->buf = malloc(SNAP_LINE_MAX)) == NULL)
		return mig_seterr(r->ctx, MIG_ERR_NOMEM, "out of memory");
	if ((rc = next_line(r, &len)) < 0)
		return rc;
	if (rc == 0)
		return mig_seterr(r->ctx, MIG_ERR_FORMAT, "%s: empty snapshot",
		    r->name);
	j = json_loadb(r->line, len, 0, NULL);
	if (j != NULL && json_integer_value(json_object_get(j,
	    "version")) == 2) {
		rc = parse_header(r, j);
		json_decref(j);
		return rc;
	}
	json_decref(j);
	/* Not a version 2 header line: a version 1 document. */
	r->line[len] = '\n';
	r->off = 0;
	return read_v1(r, bag);
}

int
snap_next(struct snap_reader *r, struct snap_entry *e)
{
	size_t len;
	int rc;

	json_decref(r->cur);
	r->cur = NULL;
	if (r->v1 != NULL) {
		json_t *a = json_object_get(r->v1, "objects");

		if (r->v1_next >= json_array_size(a))
			return 0;
		r->cur = json_incref(json_array_get(a, r->v1_next++));
		if ((rc = parse_entry(r, r->cur, e)) != 0)
			return rc;
		if (e->member != NULL && e->archive == NULL)
			e->archive = r->hdr.archive;
		return 1;
	}
	if ((rc = next_line(r, &len)) <= 0)
		return rc;
	if ((r->cur = json_loadb(r->line, len, 0, NULL)) == NULL ||
	    !json_is_object(r->cur))
		return mig_seterr(r->ctx, MIG_ERR_FORMAT, "%s: a line that is "
		    "not a JSON object", r->name);
	OPENSSL_cleanse(r->line, len);
	return parse_entry(r, r->cur, e) == 0 ? 1 : mig_errcode(r->ctx);
}

const struct snap_header *
snap_header_of(const struct snap_reader *r)
{
	return &r->hdr;
}

void
snap_reader_free(struct snap_reader *r)
{
	if (r == NULL)
		return;
	json_decref(r->cur);
	json_decref(r->v1);
	mig_reader_free(r->dec);
	if (r->src != r->dec)
		mig_reader_free(r->src);
	if (r->buf != NULL) {
		OPENSSL_cleanse(r->buf, SNAP_LINE_MAX);
		free(r->buf);
	}
	free(r->hdr.archive);
	free(r->v1_bag);
	free(r->name);
	free(r);
}

static struct snap_reader *
reader_new(const char *name, struct mig_ctx *ctx)
{
	struct snap_reader *r = calloc(1, sizeof(*r));

	if (r == NULL || (r->name = strdup(name)) == NULL) {
		free(r);
		return NULL;
	}
	r->ctx = ctx;
	return r;
}

int
snap_open_lake(struct mig_transport *t, const char *bag,
    const struct mig_age_identities *ids, struct snap_reader **rp,
    struct mig_ctx *ctx)
{
	struct snap_reader *r;
	char path[PATH_MAX];
	int rc;

	*rp = NULL;
	if ((size_t)snprintf(path, sizeof(path), "%s/migrate-manifest.json.age",
	    bag) >= sizeof(path))
		return mig_seterr(ctx, MIG_ERR_INTERNAL, "path too long");
	if ((r = reader_new(path, ctx)) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	if ((rc = mig_transport_open_read(t, path, &r->src)) != 0 ||
	    (rc = mig_age_decrypt_reader_new(ids, r->src, ctx,
	    &r->dec)) != 0 || (rc = reader_start(r, bag)) != 0) {
		(void)mig_preferr(ctx, "%s", path);
		snap_reader_free(r);
		return rc;
	}
	*rp = r;
	return 0;
}

int
snap_open_file(const char *path, struct snap_reader **rp, struct mig_ctx *ctx)
{
	struct snap_reader *r;
	int rc;

	*rp = NULL;
	if ((r = reader_new(path, ctx)) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	if ((rc = mig_file_reader_new(path, false, ctx, &r->dec)) != 0 ||
	    (rc = reader_start(r, NULL)) != 0) {
		snap_reader_free(r);
		return rc;
	}
	r->src = r->dec;
	*rp = r;
	return 0;
}
