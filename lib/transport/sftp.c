/*
 * SFTP destination over libssh2: the operations and the object streams.
 * The connection, host key check and authentication are sftp_conn.c's.
 *
 * Objects are written under a temporary name beside their final path,
 * flushed with fsync@openssh.com where the server offers it, and renamed
 * into place.  The lake is not trusted: no operation follows a symbolic
 * link below the root (sftp_no_links()).
 *
 * Throughput: libssh2 1.10 splits an sftp write into ~30 KB SFTP packets
 * and keeps in flight only what one libssh2_sftp_write() call was given,
 * so writes are gathered into a large buffer (MIG_SFTP_BUFSIZE) that
 * slides: more is appended while the front is still in flight, and
 * libssh2 sends the new bytes when called again (sftp_push).  The SSH
 * channel window (OpenSSH's is 2 MiB) then bounds what is in flight, as
 * it does for OpenSSH's sftp.  Reads ask for a large buffer, which sets
 * libssh2's read-ahead.
 */
#define MIG_TRANSPORT_INTERNAL

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libssh2.h>
#include <libssh2_sftp.h>

#include "migrate/error.h"
#include "migrate/stream.h"
#include "migrate/transport.h"

#include "sftp_int.h"
#include "transport_int.h"

/* Write gathering and read buffer; see the comment at the top. */
#ifndef MIG_SFTP_BUFSIZE
#define MIG_SFTP_BUFSIZE	(2 * 1024 * 1024)
#endif
#define SFTP_FILE_MODE		0644
#define SFTP_DIR_MODE		0755

struct sftp_wpriv {
	struct mig_sftp_conn	*c;
	LIBSSH2_SFTP_HANDLE	*h;
	unsigned int		 gen;		/* of the connection of h */
	char			*path;		/* relative, for messages */
	char			*final;
	char			*tmp;		/* NULL: written in place */
	unsigned char		*buf;
	size_t			 head;		/* buf[head, len): not acked */
	size_t			 len;
	size_t			 cap;
	int64_t			 expect;
	uint64_t		 written;
	bool			 published;
	bool			 created;	/* in place: final exists */
};

struct sftp_rpriv {
	struct mig_sftp_conn	*c;
	LIBSSH2_SFTP_HANDLE	*h;
	unsigned int		 gen;
	char			*path;
	unsigned char		*buf;
	size_t			 off;
	size_t			 len;
	size_t			 cap;
	uint64_t		 size;		/* at open */
	uint64_t		 got;
	bool			 eof;
};

/* True while the handle opened at generation gen is usable. */
static bool
sftp_alive(const struct mig_sftp_conn *c, unsigned int gen)
{
	return !c->broken && c->session != NULL && gen == c->gen;
}

/* Joins the remote root and a relative path; NULL on ENOMEM. */
static char *
sftp_join(const struct mig_sftp_conn *c, const char *rel)
{
	size_t n;
	char *p;

	if (rel[0] == '\0')
		return strdup(c->root[0] == '\0' ? "." : c->root);
	n = strlen(c->root) + strlen(rel) + 2;
	if ((p = malloc(n)) == NULL)
		return NULL;
	if (c->root[0] == '\0')
		(void)snprintf(p, n, "%s", rel);
	else if (strcmp(c->root, "/") == 0)
		(void)snprintf(p, n, "/%s", rel);
	else
		(void)snprintf(p, n, "%s/%s", c->root, rel);
	return p;
}

/* --- Directory cache ----------------------------------------------------- */

static bool
dircache_has(const struct mig_sftp_dircache *dc, const char *path)
{
	return mig_htab_get(&dc->index, path, NULL);
}

/* Remembers path; a cache that cannot grow only costs round trips. */
static void
dircache_add(struct mig_sftp_dircache *dc, const char *path)
{
	char **np, *s;
	size_t ncap;
	bool found;

	if (dircache_has(dc, path))
		return;
	if (dc->n == dc->cap) {
		ncap = dc->cap == 0 ? 64 : dc->cap * 2;
		if ((np = realloc(dc->paths, ncap * sizeof(*np))) == NULL)
			return;
		dc->paths = np;
		dc->cap = ncap;
	}
	if ((s = strdup(path)) == NULL)
		return;
	if (mig_htab_put(&dc->index, s, dc->n, &found, NULL) != 0) {
		free(s);
		return;
	}
	dc->paths[dc->n++] = s;
}

static void
dircache_clear(struct mig_sftp_dircache *dc)
{
	size_t i;

	mig_htab_free(&dc->index);
	for (i = 0; i < dc->n; i++)
		free(dc->paths[i]);
	free(dc->paths);
	memset(dc, 0, sizeof(*dc));
}

/* --- Opening and closing ------------------------------------------------- */

static int
sftp_open(struct mig_transport *t, const struct mig_transport_config *cfg,
    const struct mig_url *url)
{
	struct mig_sftp_conn *c;
	int r;

	if ((r = mig_sftp_conn_open(t, cfg, url, &c)) == 0)
		t->priv = c;
	return r;
}

static void
sftp_close(struct mig_transport *t)
{
	struct mig_sftp_conn *c = t->priv;

	if (c != NULL)
		dircache_clear(&c->dirs);
	mig_sftp_conn_free(c);
	t->priv = NULL;
}

/* --- Paths --------------------------------------------------------------- */

/* Stats full (type LIBSSH2_SFTP_STAT or _LSTAT); libssh2's result. */
static int
sftp_stat_full(struct mig_sftp_conn *c, const char *full, int type,
    LIBSSH2_SFTP_ATTRIBUTES *attrs)
{
	memset(attrs, 0, sizeof(*attrs));
	return libssh2_sftp_stat_ex(c->sftp, full, (unsigned int)strlen(full),
	    type, attrs);
}

/* True when the last failure says that the path does not exist. */
static bool
sftp_missing(struct mig_sftp_conn *c)
{
	unsigned long st = mig_sftp_last_status(c);

	return st == LIBSSH2_FX_NO_SUCH_FILE || st == LIBSSH2_FX_NO_SUCH_PATH;
}

/*
 * One component of sftp_no_links(): prefix, the part of rel up to and
 * including it.  0 when it is a real directory (or, when last, anything
 * but a symbolic link); 1 when it is missing, so that nothing below it
 * can be a link either; else an error.
 */
static int
sftp_no_link(struct mig_sftp_conn *c, const char *rel, const char *prefix,
    bool is_last)
{
	LIBSSH2_SFTP_ATTRIBUTES attrs;
	char *full;
	int r = 0;

	if ((full = sftp_join(c, prefix)) == NULL)
		return mig_seterr(c->ctx, MIG_ERR_NOMEM, "out of memory");
	if (dircache_has(&c->dirs, full))
		goto out_free;
	if (sftp_stat_full(c, full, LIBSSH2_SFTP_LSTAT, &attrs) != 0)
		/* Missing: nothing to follow (callers say so). */
		r = sftp_missing(c) ? 1 : mig_sftp_fail(c, prefix, "lstat");
	else if ((attrs.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) &&
	    LIBSSH2_SFTP_S_ISLNK(attrs.permissions))
		r = mig_seterr(c->ctx, MIG_ERR_SECURITY, "%s: a symbolic link "
		    "in the lake; refusing to follow it", prefix);
	else if (!is_last && (attrs.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) &&
	    !LIBSSH2_SFTP_S_ISDIR(attrs.permissions))
		r = mig_seterr(c->ctx, MIG_ERR_IO, "%s: %s exists and is not a "
		    "directory", rel, prefix);
	else if (!is_last)
		dircache_add(&c->dirs, full);
out_free:
	free(full);
	return r;
}

/*
 * The lake is not trusted, and SFTP has no O_NOFOLLOW: every component of
 * rel below the root (the last one too when last) is lstat'ed, and a
 * symbolic link is refused, so that a link planted in the lake never
 * takes a write or a read elsewhere on the server.  Directories found to
 * be real go in the directory cache and are not asked again.  (A server
 * that lies, or a swap between the check and the use, is beyond what a
 * client can see: the seal and the audit log catch what that changes.)
 */
static int
sftp_no_links(struct mig_sftp_conn *c, const char *rel, bool last)
{
	char prefix[PATH_MAX];
	const char *p = rel, *slash;
	bool is_last;
	int r = 0;

	while (*p != '\0' && r == 0) {
		slash = strchr(p, '/');
		is_last = slash == NULL;
		if (is_last && !last)
			break;
		(void)snprintf(prefix, sizeof(prefix), "%.*s",
		    (int)(is_last ? strlen(rel) : (size_t)(slash - rel)), rel);
		r = sftp_no_link(c, rel, prefix, is_last);
		p = is_last ? p + strlen(p) : slash + 1;
	}
	return r == 1 ? 0 : r;
}

/*
 * What every operation does first, and only once: checks the relative
 * path (dir_ok: "" too, the root), reconnects if need be, refuses links
 * on the way (sftp_no_links(), last as there), and joins the path to the
 * root in *fullp.  Caller must free *fullp.
 */
static int
sftp_begin(struct mig_sftp_conn *c, const char *path, bool dir_ok,
    bool last, char **fullp)
{
	int r;

	*fullp = NULL;
	if ((!dir_ok || path[0] != '\0') &&
	    (r = mig_path_check_relative(path, c->ctx)) != 0)
		return r;
	if ((r = mig_sftp_ready(c)) != 0 ||
	    (r = sftp_no_links(c, path, last)) != 0)
		return r;
	if ((*fullp = sftp_join(c, path)) == NULL)
		return mig_seterr(c->ctx, MIG_ERR_NOMEM, "out of memory");
	return 0;
}

/*
 * The parent of the remote path full in *parentp ("/" for "/x"), or NULL
 * when full has no '/'.  Caller must free *parentp.
 */
static int
sftp_parent(struct mig_sftp_conn *c, const char *full, char **parentp)
{
	char *slash;

	*parentp = NULL;
	if (strchr(full, '/') == NULL)
		return 0;
	if ((*parentp = strdup(full)) == NULL)
		return mig_seterr(c->ctx, MIG_ERR_NOMEM, "out of memory");
	slash = strrchr(*parentp, '/');
	if (slash == *parentp)
		slash[1] = '\0';
	else
		*slash = '\0';
	return 0;
}

/* --- Directories --------------------------------------------------------- */

/*
 * Creates the remote directory full and its parents.  mkdir first, since
 * most directories a run creates are new.  On failure "no such file" means
 * the parent is missing (sftp-server answers so for ENOENT; an existing
 * directory is a plain failure): create it without asking, a round trip
 * per new level saved.  Otherwise stat tells whether it exists already.
 */
static int
sftp_mkdir_full(struct mig_sftp_conn *c, const char *full,
    const char *display)
{
	LIBSSH2_SFTP_ATTRIBUTES attrs;
	char *parent;
	int r;

	if (full[0] == '\0' || strcmp(full, "/") == 0 ||
	    strcmp(full, ".") == 0 || dircache_has(&c->dirs, full))
		return 0;
	if (libssh2_sftp_mkdir_ex(c->sftp, full, (unsigned int)strlen(full),
	    SFTP_DIR_MODE) == 0)
		goto out_ok;
	if ((r = mig_sftp_fail(c, display, "mkdir")) == MIG_ERR_NET ||
	    mig_sftp_last_status(c) == LIBSSH2_FX_OK)
		return r;
	if (sftp_missing(c))
		goto parent;
	if (sftp_stat_full(c, full, LIBSSH2_SFTP_STAT, &attrs) == 0) {
		if ((attrs.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) &&
		    !LIBSSH2_SFTP_S_ISDIR(attrs.permissions))
			return mig_seterr(c->ctx, MIG_ERR_IO, "%s: mkdir: "
			    "exists and is not a directory", display);
		goto out_ok;
	}
	if (!sftp_missing(c))
		return mig_sftp_fail(c, display, "stat");
parent:
	/* The parent is missing: create it, then try again. */
	if ((r = sftp_parent(c, full, &parent)) != 0)
		return r;
	if (parent == NULL)
		return mig_sftp_fail(c, display, "mkdir");
	r = sftp_mkdir_full(c, parent, display);
	free(parent);
	if (r != 0)
		return r;
	if (libssh2_sftp_mkdir_ex(c->sftp, full, (unsigned int)strlen(full),
	    SFTP_DIR_MODE) != 0) {
		r = mig_sftp_fail(c, display, "mkdir");
		/* Someone else may have made it meanwhile. */
		if (r == MIG_ERR_NET ||
		    sftp_stat_full(c, full, LIBSSH2_SFTP_STAT, &attrs) != 0 ||
		    !(attrs.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) ||
		    !LIBSSH2_SFTP_S_ISDIR(attrs.permissions))
			return r;
	}
out_ok:
	dircache_add(&c->dirs, full);
	return 0;
}

static int
sftp_mkdir_one(struct mig_sftp_conn *c, const char *full)
{
	return libssh2_sftp_mkdir_ex(c->sftp, full, (unsigned int)strlen(full),
	    SFTP_DIR_MODE);
}

/* The root and its parents (mkdir_p's levels are below it). */
static int
sftp_mkdir_root(struct mig_sftp_conn *c)
{
	char *full;
	int r;

	if ((full = sftp_join(c, "")) == NULL)
		return mig_seterr(c->ctx, MIG_ERR_NOMEM, "out of memory");
	r = sftp_mkdir_full(c, full, full);
	free(full);
	return r;
}

/*
 * One level of mkdir_p: prefix (of rel) becomes a real directory.  While
 * the levels above exist, each is lstat'ed (a link is refused, as
 * sftp_no_links() does); from the first missing one on (*gone) the rest
 * are made without asking: a new chain costs a round trip per level.
 */
static int
sftp_mkdir_level(struct mig_sftp_conn *c, const char *rel,
    const char *prefix, bool *gone)
{
	char msg[MIG_ERRMSG_MAX], *full;
	int r = 0, r2;

	if ((full = sftp_join(c, prefix)) == NULL)
		return mig_seterr(c->ctx, MIG_ERR_NOMEM, "out of memory");
	if (dircache_has(&c->dirs, full))
		goto out_free;
	if (!*gone) {
		if ((r = sftp_no_link(c, rel, prefix, false)) != 1)
			goto out_free;
		r = 0;
		*gone = true;
	}
	if (sftp_mkdir_one(c, full) == 0 ||
	    /* The first level, and the root itself is missing: make it. */
	    (strchr(prefix, '/') == NULL && sftp_missing(c) &&
	    (r = sftp_mkdir_root(c)) == 0 && sftp_mkdir_one(c, full) == 0)) {
		dircache_add(&c->dirs, full);
		goto out_free;
	}
	if (r != 0 || (r = mig_sftp_fail(c, prefix, "mkdir")) == MIG_ERR_NET)
		goto out_free;
	/* Made meanwhile (another worker's connection): a real one only. */
	(void)snprintf(msg, sizeof(msg), "%s", mig_errmsg(c->ctx));
	mig_clearerr(c->ctx);
	if ((r2 = sftp_no_link(c, rel, prefix, false)) == 1)
		r = mig_seterr(c->ctx, r, "%s", msg);
	else
		r = r2;
out_free:
	free(full);
	return r;
}

static void
sftp_dir_known(struct mig_transport *t, const char *dir)
{
	struct mig_sftp_conn *c = t->priv;
	char prefix[PATH_MAX], *full;
	const char *slash = dir;

	for (;;) {
		slash = strchr(slash, '/');
		(void)snprintf(prefix, sizeof(prefix), "%.*s", slash != NULL ?
		    (int)(slash - dir) : (int)strlen(dir), dir);
		if ((full = sftp_join(c, prefix)) != NULL &&
		    !dircache_has(&c->dirs, full))
			dircache_add(&c->dirs, full);
		free(full);
		if (slash++ == NULL)
			break;
	}
}

static int
sftp_mkdir_p(struct mig_transport *t, const char *dir)
{
	struct mig_sftp_conn *c = t->priv;
	char prefix[PATH_MAX];
	const char *slash;
	bool gone = false;
	char *full;
	int r;

	if (dir[0] == '\0') {
		/* The root itself. */
		if ((r = sftp_begin(c, dir, true, true, &full)) == 0)
			r = sftp_mkdir_full(c, full, t->root);
		free(full);
		return r;
	}
	if ((r = mig_path_check_relative(dir, c->ctx)) != 0 ||
	    (r = mig_sftp_ready(c)) != 0)
		return r;
	for (slash = dir; r == 0; slash++) {
		slash = strchr(slash, '/');
		(void)snprintf(prefix, sizeof(prefix), "%.*s", slash != NULL ?
		    (int)(slash - dir) : (int)strlen(dir), dir);
		r = sftp_mkdir_level(c, dir, prefix, &gone);
		if (slash == NULL)
			break;
	}
	return r;
}

static void
attrs_to_tstat(const LIBSSH2_SFTP_ATTRIBUTES *a, struct mig_tstat *st)
{
	memset(st, 0, sizeof(*st));
	if (a->flags & LIBSSH2_SFTP_ATTR_SIZE)
		st->size = a->filesize;
	if (a->flags & LIBSSH2_SFTP_ATTR_ACMODTIME)
		st->mtime = (time_t)a->mtime;
	if (!(a->flags & LIBSSH2_SFTP_ATTR_PERMISSIONS))
		st->type = MIG_FT_FILE;	/* the server did not say */
	else if (LIBSSH2_SFTP_S_ISREG(a->permissions))
		st->type = MIG_FT_FILE;
	else if (LIBSSH2_SFTP_S_ISDIR(a->permissions))
		st->type = MIG_FT_DIR;
	else if (LIBSSH2_SFTP_S_ISLNK(a->permissions))
		st->type = MIG_FT_LINK;
	else
		st->type = MIG_FT_OTHER;
}

static int
sftp_stat(struct mig_transport *t, const char *path, struct mig_tstat *st)
{
	struct mig_sftp_conn *c = t->priv;
	LIBSSH2_SFTP_ATTRIBUTES attrs;
	char *full;
	int r;

	memset(st, 0, sizeof(*st));
	if ((r = sftp_begin(c, path, true, true, &full)) != 0)
		goto out_free;
	if (sftp_stat_full(c, full, LIBSSH2_SFTP_STAT, &attrs) != 0)
		r = mig_sftp_fail(c, path[0] != '\0' ? path : t->root, "stat");
	else
		attrs_to_tstat(&attrs, st);
out_free:
	free(full);
	return r;
}

static int
sftp_list(struct mig_transport *t, const char *dir, mig_list_cb cb,
    void *arg)
{
	struct mig_sftp_conn *c = t->priv;
	LIBSSH2_SFTP_HANDLE *h;
	LIBSSH2_SFTP_ATTRIBUTES attrs;
	struct mig_tstat st;
	const char *display = dir[0] != '\0' ? dir : t->root;
	char *full, name[4096];
	int n, r;

	if ((r = sftp_begin(c, dir, true, true, &full)) != 0)
		goto out_free;
	h = libssh2_sftp_open_ex(c->sftp, full, (unsigned int)strlen(full), 0,
	    0, LIBSSH2_SFTP_OPENDIR);
	if (h == NULL) {
		r = mig_sftp_fail(c, display, "opendir");
		goto out_free;
	}
	for (;;) {
		memset(&attrs, 0, sizeof(attrs));
		n = libssh2_sftp_readdir_ex(h, name, sizeof(name), NULL, 0,
		    &attrs);
		if (n < 0) {
			r = mig_sftp_fail(c, display, "readdir");
			break;
		}
		if (n == 0)
			break;
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		attrs_to_tstat(&attrs, &st);
		if ((r = cb(arg, name, &st)) != 0)
			break;
	}
	(void)libssh2_sftp_close_handle(h);
out_free:
	free(full);
	return r;
}

static int
sftp_remove(struct mig_transport *t, const char *path)
{
	struct mig_sftp_conn *c = t->priv;
	char *full;
	int r;

	if ((r = sftp_begin(c, path, false, false, &full)) == 0 &&
	    libssh2_sftp_unlink_ex(c->sftp, full,
	    (unsigned int)strlen(full)) != 0)
		r = mig_sftp_fail(c, path, "remove");
	free(full);
	return r;
}

/* --- Streams ------------------------------------------------------------- */

/*
 * MIG_ERR_NET (for "PATH: OP") unless the handle opened at generation
 * gen is still usable.
 */
static int
sftp_check_alive(const struct mig_sftp_conn *c, unsigned int gen,
    const char *path, const char *op)
{
	if (sftp_alive(c, gen))
		return 0;
	return mig_seterr(c->ctx, MIG_ERR_NET, "%s: %s: connection lost",
	    path, op);
}

/* Closes h unless it went with the connection it was opened on. */
static void
sftp_handle_drop(struct mig_sftp_conn *c, LIBSSH2_SFTP_HANDLE *h,
    unsigned int gen)
{
	if (h != NULL && c->session != NULL && gen == c->gen)
		(void)libssh2_sftp_close_handle(h);
}

/* --- Writing ------------------------------------------------------------- */

/*
 * Hands the bytes of p->buf from p->head on to libssh2, which sends what
 * it has not sent yet in ~30 KB packets and returns as soon as the first
 * ones are acknowledged; until all are when all.  Not all: the
 * acknowledged front is dropped, so that the caller can append behind
 * what is still in flight and the window never runs dry (waiting for a
 * whole buffer to be acknowledged cost a round trip per buffer).
 */
static int
sftp_push(struct sftp_wpriv *p, bool all)
{
	ssize_t k;
	int next;

	(void)libssh2_keepalive_send(p->c->session, &next);
	while (p->head < p->len) {
		k = libssh2_sftp_write(p->h, (const char *)p->buf + p->head,
		    p->len - p->head);
		if (k < 0)
			return mig_sftp_fail(p->c, p->path, "write");
		if (k == 0)
			return mig_seterr(p->c->ctx, MIG_ERR_NET, "%s: write: "
			    "no progress", p->path);
		p->head += (size_t)k;
		p->written += (uint64_t)k;
		if (!all && p->head >= p->cap / 4)
			break;
	}
	/* libssh2 copied what it sent: the rest may move. */
	memmove(p->buf, p->buf + p->head, p->len - p->head);
	p->len -= p->head;
	p->head = 0;
	return 0;
}

static int
sftp_w_write(struct mig_writer *w, const void *buf, size_t len)
{
	struct sftp_wpriv *p = w->priv;
	const unsigned char *b = buf;
	size_t take;
	int r;

	if ((r = sftp_check_alive(p->c, p->gen, p->path, "write")) != 0)
		return r;
	while (len > 0) {
		if (p->len == p->cap && (r = sftp_push(p, false)) != 0)
			return r;
		take = p->cap - p->len;
		if (take > len)
			take = len;
		memcpy(p->buf + p->len, b, take);
		p->len += take;
		b += take;
		len -= take;
	}
	return 0;
}

/* Renames tmp over final: plain rename, or replace an existing file. */
static int
sftp_publish(struct sftp_wpriv *p)
{
	struct mig_sftp_conn *c = p->c;
	LIBSSH2_SFTP_ATTRIBUTES attrs;
	unsigned long st;
	long flags = LIBSSH2_SFTP_RENAME_OVERWRITE |
	    LIBSSH2_SFTP_RENAME_ATOMIC | LIBSSH2_SFTP_RENAME_NATIVE;

	if (libssh2_sftp_rename_ex(c->sftp, p->tmp,
	    (unsigned int)strlen(p->tmp), p->final,
	    (unsigned int)strlen(p->final), flags) == 0)
		return 0;
	st = mig_sftp_last_status(c);
	if (st != LIBSSH2_FX_FAILURE && st != LIBSSH2_FX_FILE_ALREADY_EXISTS)
		return mig_sftp_fail(c, p->path, "rename");
	/*
	 * XXX: libssh2 1.10 has no posix-rename@openssh.com and SFTP v3
	 * RENAME refuses an existing target, so a replacement removes the
	 * old object first.  There is a short window in which the path is
	 * absent, never one in which it is partly written.
	 */
	if (sftp_stat_full(c, p->final, LIBSSH2_SFTP_STAT, &attrs) != 0 ||
	    ((attrs.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) &&
	    !LIBSSH2_SFTP_S_ISREG(attrs.permissions)))
		return mig_seterr(c->ctx, MIG_ERR_IO, "%s: rename: %s", p->path,
		    mig_sftp_status_name(st));
	if (libssh2_sftp_unlink_ex(c->sftp, p->final,
	    (unsigned int)strlen(p->final)) != 0)
		return mig_sftp_fail(c, p->path, "replace");
	if (libssh2_sftp_rename_ex(c->sftp, p->tmp,
	    (unsigned int)strlen(p->tmp), p->final,
	    (unsigned int)strlen(p->final), flags) != 0)
		return mig_sftp_fail(c, p->path, "rename");
	return 0;
}

static int
sftp_w_close(struct mig_writer *w)
{
	struct sftp_wpriv *p = w->priv;
	struct mig_sftp_conn *c = p->c;
	int r;

	if ((r = sftp_check_alive(c, p->gen, p->path, "close")) != 0)
		return r;
	if (p->len > 0 && (r = sftp_push(p, true)) != 0)
		return r;
	if (p->expect >= 0 && p->written != (uint64_t)p->expect)
		return mig_seterr(w->ctx, MIG_ERR_INTERNAL, "%s: %llu bytes "
		    "written, %lld announced", p->path,
		    (unsigned long long)p->written, (long long)p->expect);
	/* fsync@openssh.com; a server without it gets no durability step. */
	if (libssh2_sftp_fsync(p->h) != 0 &&
	    mig_sftp_last_status(c) != LIBSSH2_FX_OP_UNSUPPORTED)
		return mig_sftp_fail(c, p->path, "fsync");
	r = libssh2_sftp_close_handle(p->h);
	p->h = NULL;
	if (r != 0)
		return mig_sftp_fail(c, p->path, "close");
	if (p->tmp != NULL && (r = sftp_publish(p)) != 0)
		return r;
	p->published = true;
	return 0;
}

/*
 * Abandoned: drop the temporary (or the object written in place, once
 * created).  Over a lost connection it stays behind, a temporary under
 * its MIG_TMP_INFIX name for a later sweep, an object in place for the
 * resumed run to land again.  NULL is a no-op.
 */
static void
sftp_wpriv_free(struct sftp_wpriv *p)
{
	const char *made;

	if (p == NULL)
		return;
	made = p->tmp != NULL ? p->tmp : p->created ? p->final : NULL;
	sftp_handle_drop(p->c, p->h, p->gen);
	if (!p->published && made != NULL && sftp_alive(p->c, p->gen))
		(void)libssh2_sftp_unlink_ex(p->c->sftp, made,
		    (unsigned int)strlen(made));
	free(p->buf);
	free(p->path);
	free(p->final);
	free(p->tmp);
	free(p);
}

static void
sftp_w_free(struct mig_writer *w)
{
	sftp_wpriv_free(w->priv);
	w->priv = NULL;
}

static const struct mig_writer_ops sftp_writer_ops = {
	.name = "sftp",
	.write = sftp_w_write,
	.close = sftp_w_close,
	.free = sftp_w_free,
};

static LIBSSH2_SFTP_HANDLE *
sftp_create(struct mig_sftp_conn *c, const char *path)
{
	return libssh2_sftp_open_ex(c->sftp, path, (unsigned int)strlen(path),
	    LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_EXCL,
	    SFTP_FILE_MODE, LIBSSH2_SFTP_OPENFILE);
}

/*
 * In place, what already stands at p->final goes first (never written
 * through: it may be a link a lake writer planted), unless it is a
 * directory.  0, or the error.
 */
static int
sftp_clear_final(struct sftp_wpriv *p)
{
	struct mig_sftp_conn *c = p->c;
	LIBSSH2_SFTP_ATTRIBUTES attrs;

	if (sftp_stat_full(c, p->final, LIBSSH2_SFTP_LSTAT, &attrs) != 0)
		return sftp_missing(c) ? 0 : mig_sftp_fail(c, p->path, "lstat");
	if ((attrs.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) &&
	    LIBSSH2_SFTP_S_ISDIR(attrs.permissions))
		return mig_seterr(c->ctx, MIG_ERR_IO, "%s: a directory stands "
		    "where the object goes", p->path);
	if (libssh2_sftp_unlink_ex(c->sftp, p->final,
	    (unsigned int)strlen(p->final)) != 0)
		return mig_sftp_fail(c, p->path, "replace");
	return 0;
}

/*
 * Creates p->tmp, or p->final in place (O_EXCL either way: nothing is
 * opened through a link); when its directory is missing (the caller did
 * not mkdir_p), creates that first.
 */
static int
sftp_create_tmp(struct sftp_wpriv *p)
{
	struct mig_sftp_conn *c = p->c;
	const char *target = p->tmp != NULL ? p->tmp : p->final;
	unsigned long st;
	char *dir;
	int r;

	p->h = sftp_create(c, target);
	if (p->h == NULL && p->tmp == NULL && ((st = mig_sftp_last_status(c)) ==
	    LIBSSH2_FX_FAILURE || st == LIBSSH2_FX_FILE_ALREADY_EXISTS)) {
		/* An object of an earlier attempt, or something planted. */
		if ((r = sftp_clear_final(p)) != 0)
			return r;
		p->h = sftp_create(c, target);
	}
	if (p->h == NULL && sftp_missing(c)) {
		if ((r = sftp_parent(c, p->final, &dir)) != 0)
			return r;
		if (dir == NULL || strcmp(dir, "/") == 0)
			r = mig_sftp_fail(c, p->path, "create");
		else
			r = sftp_mkdir_full(c, dir, p->path);
		free(dir);
		if (r != 0)
			return r;
		p->h = sftp_create(c, target);
	}
	if (p->h == NULL)
		return mig_sftp_fail(c, p->path, "create");
	p->created = p->tmp == NULL;
	return 0;
}

static int
sftp_writer(struct mig_transport *t, const char *path, int64_t size,
    bool in_place, struct mig_writer **wp)
{
	struct mig_sftp_conn *c = t->priv;
	struct sftp_wpriv *p;
	char *full;
	int r;

	*wp = NULL;
	if ((r = sftp_begin(c, path, false, false, &full)) != 0)
		return r;
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		free(full);
		return mig_seterr(c->ctx, MIG_ERR_NOMEM, "out of memory");
	}
	p->c = c;
	p->gen = c->gen;
	p->final = full;
	p->expect = size;
	p->cap = MIG_SFTP_BUFSIZE;
	if (size >= 0 && (uint64_t)size < p->cap)
		p->cap = size > 0 ? (size_t)size : 1;
	p->path = strdup(path);
	p->tmp = in_place ? NULL : mig_transport_tmp_name(p->final);
	p->buf = malloc(p->cap);
	if (p->path == NULL || (!in_place && p->tmp == NULL) || p->buf == NULL)
		r = mig_seterr(c->ctx, MIG_ERR_NOMEM, "out of memory");
	else if ((r = sftp_create_tmp(p)) == 0 &&
	    (*wp = mig_writer_new(&sftp_writer_ops, p, NULL, c->ctx)) == NULL)
		r = mig_seterr(c->ctx, MIG_ERR_NOMEM, "out of memory");
	if (r != 0)
		sftp_wpriv_free(p);
	return r;
}

static int
sftp_open_write(struct mig_transport *t, const char *path, int64_t size,
    struct mig_writer **wp)
{
	return sftp_writer(t, path, size, false, wp);
}

static int
sftp_open_write_unpublished(struct mig_transport *t, const char *path,
    int64_t size, struct mig_writer **wp)
{
	return sftp_writer(t, path, size, true, wp);
}

/* --- Reading ------------------------------------------------------------- */

static int
sftp_r_read(struct mig_reader *rd, void *buf, size_t cap, size_t *nread)
{
	struct sftp_rpriv *p = rd->priv;
	ssize_t k;
	size_t n;
	int r;

	*nread = 0;
	if (cap == 0)
		return 0;
	if (p->off == p->len && !p->eof) {
		if ((r = sftp_check_alive(p->c, p->gen, p->path, "read")) != 0)
			return r;
		k = libssh2_sftp_read(p->h, (char *)p->buf, p->cap);
		if (k < 0)
			return mig_sftp_fail(p->c, p->path, "read");
		p->off = 0;
		p->len = (size_t)k;
		p->got += (uint64_t)k;
		if (k == 0) {
			p->eof = true;
			if (p->got < p->size)
				return mig_seterr(rd->ctx, MIG_ERR_NET,
				    "%s: read: truncated at %llu of %llu "
				    "bytes", p->path,
				    (unsigned long long)p->got,
				    (unsigned long long)p->size);
		}
	}
	n = p->len - p->off;
	if (n > cap)
		n = cap;
	memcpy(buf, p->buf + p->off, n);
	p->off += n;
	*nread = n;
	return 0;
}

/* NULL is a no-op. */
static void
sftp_rpriv_free(struct sftp_rpriv *p)
{
	if (p == NULL)
		return;
	sftp_handle_drop(p->c, p->h, p->gen);
	free(p->buf);
	free(p->path);
	free(p);
}

static void
sftp_r_free(struct mig_reader *rd)
{
	sftp_rpriv_free(rd->priv);
	rd->priv = NULL;
}

static const struct mig_reader_ops sftp_reader_ops = {
	.name = "sftp",
	.read = sftp_r_read,
	.free = sftp_r_free,
};

/* Opens full for p: a regular file, whose size at open p->size gets. */
static int
sftp_open_file(struct sftp_rpriv *p, const char *full)
{
	struct mig_sftp_conn *c = p->c;
	LIBSSH2_SFTP_ATTRIBUTES attrs;

	p->h = libssh2_sftp_open_ex(c->sftp, full, (unsigned int)strlen(full),
	    LIBSSH2_FXF_READ, 0, LIBSSH2_SFTP_OPENFILE);
	if (p->h == NULL)
		return mig_sftp_fail(c, p->path, "open");
	memset(&attrs, 0, sizeof(attrs));
	if (libssh2_sftp_fstat_ex(p->h, &attrs, 0) != 0)
		return mig_sftp_fail(c, p->path, "fstat");
	if ((attrs.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) &&
	    !LIBSSH2_SFTP_S_ISREG(attrs.permissions))
		return mig_seterr(c->ctx, MIG_ERR_IO, "%s: not a regular file",
		    p->path);
	if (attrs.flags & LIBSSH2_SFTP_ATTR_SIZE)
		p->size = attrs.filesize;
	return 0;
}

static int
sftp_open_read(struct mig_transport *t, const char *path,
    struct mig_reader **rp)
{
	struct mig_sftp_conn *c = t->priv;
	struct sftp_rpriv *p = NULL;
	char *full;
	int r;

	*rp = NULL;
	if ((r = sftp_begin(c, path, false, true, &full)) != 0)
		goto out_free;
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		r = mig_seterr(c->ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_free;
	}
	p->c = c;
	p->gen = c->gen;
	p->cap = MIG_SFTP_BUFSIZE;
	p->path = strdup(path);
	p->buf = malloc(p->cap);
	if (p->path == NULL || p->buf == NULL)
		r = mig_seterr(c->ctx, MIG_ERR_NOMEM, "out of memory");
	else if ((r = sftp_open_file(p, full)) == 0 &&
	    (*rp = mig_reader_new(&sftp_reader_ops, p, NULL, c->ctx)) == NULL)
		r = mig_seterr(c->ctx, MIG_ERR_NOMEM, "out of memory");
out_free:
	if (r != 0)
		sftp_rpriv_free(p);
	free(full);
	return r;
}

/* --- Objects in flight (sftp_pipe.c) ------------------------------------ */

static int
sftp_put_start(struct mig_transport *t, const char *path, const void *buf,
    size_t len, void *token)
{
	struct mig_sftp_conn *c = t->priv;
	char *full;
	int r;

	/* Links refused on the way, as for every write. */
	if ((r = sftp_begin(c, path, false, false, &full)) != 0)
		return r;
	r = mig_sftp_pipe_start(c, path, full, buf, len, token);
	free(full);
	return r;
}

static int
sftp_put_next(struct mig_transport *t, bool wait, struct mig_put_done *d)
{
	struct mig_sftp_conn *c = t->priv;
	struct mig_sftp_put put;
	int r;

	if (mig_sftp_pipe_next(c, wait, &put) != 1)
		return 0;
	d->token = put.token;
	d->code = put.code;
	(void)snprintf(d->msg, sizeof(d->msg), "%s", put.msg);
	/* What the lane left to the main channel: written blocking. */
	if (put.blocking && (r = mig_transport_put_unpublished(t, put.path,
	    put.buf, put.len)) != 0) {
		d->code = r;
		(void)snprintf(d->msg, sizeof(d->msg), "%s",
		    mig_errmsg(c->ctx));
		mig_clearerr(c->ctx);
	}
	return 1;
}

static void
sftp_put_prepare(struct mig_transport *t, size_t n)
{
	mig_sftp_pipe_prepare(t->priv, n);
}

static size_t
sftp_put_capacity(struct mig_transport *t)
{
	struct mig_sftp_conn *c = t->priv;

	return c->lanes;
}

static int
sftp_check(const struct mig_topts *o, const struct mig_url *url,
    const char **keyp, char *msg, size_t size)
{
	(void)url;
	*keyp = NULL;
	if (mig_sftp_lanes(mig_topts_get(o, "objects_in_flight")) == 0) {
		*keyp = "objects_in_flight";
		(void)snprintf(msg, size, "destination.objects_in_flight "
		    "must be 1 to %d (OpenSSH allows 10 channels on a "
		    "connection: MaxSessions)", MIG_SFTP_LANES_MAX);
		return MIG_ERR_PARSE;
	}
	return 0;
}

static const struct mig_tkey sftp_keys[] = {
	{ "known_hosts", MIG_TKEY_PATH, NULL, "the host keys to trust "
	    "(OpenSSH format; default: ssh_config's UserKnownHostsFile, else "
	    "~/.ssh/known_hosts); an unknown key is refused" },
	{ "identity", MIG_TKEY_PATH, NULL, "private key file, tried after "
	    "the agent (default: ssh_config's IdentityFile, else "
	    "~/.ssh/id_ed25519, id_ecdsa, id_rsa)" },
	{ "ssh_config", MIG_TKEY_STRING, NULL, "OpenSSH client config to "
	    "read (default ~/.ssh/config; \"none\": none)" },
	{ "identity_passphrase_env", MIG_TKEY_ENV, NULL, "variable holding "
	    "the identity's passphrase" },
	{ "password_env", MIG_TKEY_ENV, NULL, "variable holding a password "
	    "(discouraged)" },
	{ "objects_in_flight", MIG_TKEY_INT, "8", "small objects (up to "
	    "256 KiB) in flight on each connection, each on an SFTP channel "
	    "of its own (1-9; the server's MaxSessions bounds it)" },
	{ NULL, 0, NULL, NULL }
};

const struct mig_transport_ops mig_transport_sftp_ops = {
	.scheme = "sftp",
	.keys = sftp_keys,
	.open = sftp_open,
	.close = sftp_close,
	.mkdir_p = sftp_mkdir_p,
	.open_write = sftp_open_write,
	.open_write_unpublished = sftp_open_write_unpublished,
	.open_read = sftp_open_read,
	.stat = sftp_stat,
	.list = sftp_list,
	.remove = sftp_remove,
	.put_start = sftp_put_start,
	.put_next = sftp_put_next,
	.put_capacity = sftp_put_capacity,
	.put_prepare = sftp_put_prepare,
	.dir_known = sftp_dir_known,
	.check = sftp_check,
};
