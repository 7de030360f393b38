/*
 * The one-shot WebDAV (RFC 4918) operations of the https backend, each a
 * request run by mig_https_run_request():
 *
 *   mkdir_p    MKCOL on every level not yet known to exist (405: exists)
 *   stat       PROPFIND Depth: 0      list  PROPFIND Depth: 1
 *   remove     DELETE
 *   move       MOVE with Overwrite: F; on 412, Overwrite: T
 *
 * stat uses PROPFIND Depth: 0 rather than HEAD: it answers for
 * collections too.  The answers are parsed by propfind.c.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/error.h"
#include "migrate/transport.h"

#define MIG_TRANSPORT_INTERNAL
#include "https_int.h"
#include "propfind_int.h"

/* Body of every PROPFIND: only the properties we read. */
static const char propfind_body[] =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
    "<D:propfind xmlns:D=\"DAV:\"><D:prop>"
    "<D:resourcetype/><D:getcontentlength/><D:getlastmodified/>"
    "</D:prop></D:propfind>\n";

/* ---------------------------------------------------------------------- */
/* Directory cache */

static bool
dir_known(struct mig_https *h, const char *dir)
{
	size_t i;

	for (i = 0; i < h->ndirs; i++)
		if (strcmp(h->dirs[i], dir) == 0)
			return true;
	return false;
}

void
mig_webdav_forget_dirs(struct mig_https *h)
{
	size_t i;

	for (i = 0; i < h->ndirs; i++)
		free(h->dirs[i]);
	h->ndirs = 0;
}

static void
dir_remember(struct mig_https *h, const char *dir)
{
	char *d;

	if (h->ndirs == MIG_HTTPS_DIRCACHE_MAX)
		mig_webdav_forget_dirs(h);
	if ((d = strdup(dir)) != NULL)
		h->dirs[h->ndirs++] = d;
}

/* ---------------------------------------------------------------------- */
/* mkdir_p */

/* MKCOL one level; 201 made, 405 exists. */
static int
mkcol(struct mig_https *h, const char *dir, long *statusp)
{
	struct mig_https_req rq;
	char wbuf[1024];
	int r;

	memset(&rq, 0, sizeof(rq));
	rq.method = "MKCOL";
	rq.path = dir;
	rq.dir = true;
	rq.retries = -1;
	if ((r = mig_https_run_request(h, &rq)) != 0)
		return r;
	*statusp = rq.status;
	if (rq.status == 201 || rq.status == 405 || rq.status == 409)
		return 0;
	return mig_https_http_error(&h->sx, h->ctx,
	    mig_https_where(h, dir, wbuf, sizeof(wbuf)), "MKCOL");
}

/* Creates each prefix "/a", "/a/b", ... of the root (after a 409). */
static void
mkcol_root(struct mig_https *h)
{
	struct mig_https_req rq;
	char *copy, *p, c;

	if ((copy = strdup(h->root)) == NULL)
		return;
	for (p = copy + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		c = *p;
		*p = '\0';
		memset(&rq, 0, sizeof(rq));
		rq.method = "MKCOL";
		rq.path = "";
		rq.abs = copy;
		rq.dir = true;
		rq.retries = -1;
		rq.quiet = true;
		(void)mig_https_run_request(h, &rq);
		*p = c;
		if (c == '\0')
			break;
	}
	free(copy);
}

void
mig_webdav_dir_known(struct mig_transport *t, const char *dir)
{
	struct mig_https *h = t->priv;
	char *d, *p, c;

	if ((d = strdup(dir)) == NULL)
		return;
	for (p = d; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		c = *p;
		*p = '\0';
		if (!dir_known(h, d))
			dir_remember(h, d);
		*p = c;
		if (c == '\0')
			break;
	}
	free(d);
}

int
mig_webdav_mkdir_p(struct mig_transport *t, const char *dir)
{
	struct mig_https *h = t->priv;
	char *d, *p, wbuf[1024];
	long status = 0;
	bool root_tried = false, first = true;
	int r;

	if ((r = mig_https_check_path(h, dir, true)) != 0)
		return r;
	if (*dir == '\0' || dir_known(h, dir))
		return 0;
	if ((d = strdup(dir)) == NULL)
		return mig_seterr(h->ctx, MIG_ERR_NOMEM, "out of memory");
	for (p = d; ; p++) {
		char c;

		if (*p != '/' && *p != '\0')
			continue;
		c = *p;
		*p = '\0';
		if (!dir_known(h, d)) {
			if ((r = mkcol(h, d, &status)) != 0)
				goto out;
			if (status == 409 && first && !root_tried &&
			    h->root[0] != '\0') {
				/* The root itself is missing: make it. */
				root_tried = true;
				mkcol_root(h);
				if ((r = mkcol(h, d, &status)) != 0)
					goto out;
			}
			if (status == 409) {
				r = mig_seterr(h->ctx, MIG_ERR_NET,
				    "%s: MKCOL: HTTP 409 Conflict (parent "
				    "missing or not a collection)",
				    mig_https_where(h, d, wbuf, sizeof(wbuf)));
				goto out;
			}
			dir_remember(h, d);
		}
		first = false;
		*p = c;
		if (c == '\0')
			break;
	}
	r = 0;
out:
	free(d);
	return r;
}

/* ---------------------------------------------------------------------- */
/* stat, list, remove, move */

/* Decoded absolute path of a relative path, without trailing '/'. */
static char *
abs_path(struct mig_https *h, const char *path)
{
	size_t n = strlen(h->root_dec) + strlen(path) + 2;
	char *s;

	if ((s = malloc(n)) == NULL)
		return NULL;
	if (*path == '\0')
		(void)snprintf(s, n, "%s", h->root_dec);
	else
		(void)snprintf(s, n, "%s/%s", h->root_dec, path);
	return s;
}

static int
propfind(struct mig_https *h, const char *path, bool dir, const char *depth,
    struct mig_pf *pf, char **basep)
{
	struct mig_https_req rq;
	char wbuf[1024];
	const char *what = mig_https_where(h, path, wbuf, sizeof(wbuf));
	int r;

	memset(pf, 0, sizeof(*pf));	/* the caller clears it in any case */
	*basep = abs_path(h, path);
	if (*basep == NULL)
		return mig_seterr(h->ctx, MIG_ERR_NOMEM, "out of memory");
	if ((r = mig_pf_init(pf, *basep, what, h->ctx)) != 0)
		return r;
	memset(&rq, 0, sizeof(rq));
	rq.method = "PROPFIND";
	rq.path = path;
	rq.dir = dir;
	rq.depth = depth;
	rq.body = propfind_body;
	rq.pf = pf;
	rq.retries = -1;
	if ((r = mig_https_run_request(h, &rq)) != 0)
		return r;
	if (rq.status != 207)
		return mig_https_http_error(&h->sx, h->ctx, what, "PROPFIND");
	/* A body cut short or not well-formed is refused, not half read. */
	return mig_pf_finish(pf);
}

int
mig_webdav_stat(struct mig_transport *t, const char *path, struct mig_tstat *st)
{
	struct mig_https *h = t->priv;
	struct mig_pf pf;
	char *base = NULL, wbuf[1024];
	size_t i;
	int r;

	memset(st, 0, sizeof(*st));
	if ((r = mig_https_check_path(h, path, true)) != 0)
		return r;
	if ((r = propfind(h, path, *path == '\0', "0", &pf, &base)) != 0)
		goto out;
	for (i = 0; i < pf.n; i++)
		if (pf.ents[i].name[0] == '\0') {
			*st = pf.ents[i].st;
			goto out;
		}
	r = mig_seterr(h->ctx, MIG_ERR_FORMAT, "%s: PROPFIND answer does not "
	    "describe it", mig_https_where(h, path, wbuf, sizeof(wbuf)));
out:
	mig_pf_clear(&pf);
	free(base);
	return r;
}

int
mig_webdav_list(struct mig_transport *t, const char *dir, mig_list_cb cb,
    void *arg)
{
	struct mig_https *h = t->priv;
	struct mig_pf pf;
	char *base = NULL, wbuf[1024];
	size_t i;
	int r;

	if ((r = mig_https_check_path(h, dir, true)) != 0)
		return r;
	if ((r = propfind(h, dir, true, "1", &pf, &base)) != 0)
		goto out;
	for (i = 0; i < pf.n; i++)
		if (pf.ents[i].name[0] == '\0') {
			if (pf.ents[i].st.type != MIG_FT_DIR) {
				r = mig_seterr(h->ctx, MIG_ERR_NOTFOUND,
				    "%s: not a directory", mig_https_where(h,
				    dir, wbuf, sizeof(wbuf)));
				goto out;
			}
		}
	for (i = 0; i < pf.n; i++) {
		if (pf.ents[i].name[0] == '\0')
			continue;
		if ((r = cb(arg, pf.ents[i].name, &pf.ents[i].st)) != 0)
			goto out;
	}
out:
	mig_pf_clear(&pf);
	free(base);
	return r;
}

int
mig_webdav_delete(struct mig_https *h, const char *path, bool dir, bool quiet)
{
	struct mig_https_req rq;
	char wbuf[1024];
	int r;

	memset(&rq, 0, sizeof(rq));
	rq.method = "DELETE";
	rq.path = path;
	rq.dir = dir;
	rq.depth = dir ? "infinity" : NULL;
	rq.retries = quiet ? 0 : -1;
	rq.quiet = quiet;
	if ((r = mig_https_run_request(h, &rq)) != 0)
		return r;
	if (rq.status >= 200 && rq.status <= 299)
		return 0;
	/* A retried DELETE whose first try landed finds nothing. */
	if (rq.status == 404 && rq.attempts > 1)
		return 0;
	return mig_https_http_error(&h->sx, quiet ? NULL : h->ctx,
	    mig_https_where(h, path, wbuf, sizeof(wbuf)), "DELETE");
}

int
mig_webdav_remove(struct mig_transport *t, const char *path)
{
	struct mig_https *h = t->priv;
	int r;

	if ((r = mig_https_check_path(h, path, false)) != 0)
		return r;
	return mig_webdav_delete(h, path, false, false);
}

int
mig_webdav_move(struct mig_https *h, const char *src, const char *dst)
{
	struct mig_https_req rq;
	char dest[MIG_HTTPS_URL_MAX], wbuf[1024];
	struct mig_tstat st;
	int r;

	if (mig_https_make_url(h, dst, false, dest, sizeof(dest)) != 0)
		return mig_seterr(h->ctx, MIG_ERR_USAGE, "%s: URL too long",
		    mig_https_where(h, dst, wbuf, sizeof(wbuf)));
	memset(&rq, 0, sizeof(rq));
	rq.method = "MOVE";
	rq.path = src;
	rq.dest = dest;
	rq.overwrite = "F";
	rq.retries = -1;
	if ((r = mig_https_run_request(h, &rq)) != 0)
		return r;
	if (rq.status == 412) {
		/* The final name exists (an earlier landing): replace it. */
		rq.overwrite = "T";
		if ((r = mig_https_run_request(h, &rq)) != 0)
			return r;
	}
	if (rq.status == 201 || rq.status == 204)
		return 0;
	if (rq.status == 404 && rq.attempts > 1 &&
	    mig_webdav_stat(h->t, dst, &st) == 0)
		return 0;	/* an earlier try moved it */
	return mig_https_http_error(&h->sx, h->ctx,
	    mig_https_where(h, dst, wbuf, sizeof(wbuf)), "MOVE");
}
