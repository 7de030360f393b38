/*
 * The BagIt validator's view of a bag: read through a transport, the
 * file transport for a local directory.  A listing gives each entry's
 * type without following it (lstat), so a symbolic link or special file
 * under data/ goes to the caller as an odd entry and is never opened; a
 * file the transport refuses to open is MIG_ERR_FORMAT, for the caller to
 * report as a finding.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/error.h"
#include "migrate/transport.h"
#include "migrate/util.h"

#define MIG_BAGIT_INTERNAL
#include "bagit_int.h"
#include "bagit_validate_int.h"

/* Deepest directory nesting walked under data/. */
#define WALK_DEPTH_MAX	256

/* A growing path buffer. */
struct pbuf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

struct t_list {
	bagv_top_cb	 cb;
	void		*arg;
	/* for the walk: collected entries of one directory */
	char		**names;
	enum mig_ftype	 *types;
	uint64_t	 *sizes;
	size_t		  n;
	size_t		  cap;
	bool		  nomem;
};

static int	t_walk_entry(struct bagv_src *s, struct pbuf *rel,
		    enum mig_ftype type, uint64_t size, int depth,
		    bagv_file_cb fcb, bagv_odd_cb ocb, void *arg);

static int
pbuf_set(struct pbuf *b, size_t len, const char *add)
{
	size_t n = strlen(add), ncap;
	char *np;

	if (n > SIZE_MAX / 4 - len)
		return MIG_ERR_NOMEM;
	if (len + n + 2 > b->cap) {
		ncap = (len + n + 2) * 2;
		if ((np = realloc(b->p, ncap)) == NULL)
			return MIG_ERR_NOMEM;
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + len, add, n + 1);
	b->len = len + n;
	return 0;
}

/* BAGDIR/rel; NULL on ENOMEM. */
static char *
t_join(const struct bagv_src *s, const char *rel)
{
	return mig_path_join(s->bagdir, rel);
}

/*
 * Whether path holds a control character and s can read it: a bag may
 * name a file "a\nb" (RFC 8493 2.1.3), which the transport operations
 * refuse and only the file backend's *_any reads take.
 */
static bool
any_name(const struct bagv_src *s, const char *path)
{
	const unsigned char *p;

	if (!s->any_names)
		return false;
	for (p = (const unsigned char *)path; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return true;
	return false;
}

static int
t_stat(struct bagv_src *s, const char *path, struct mig_tstat *st)
{
	if (any_name(s, path))
		return mig_transport_file_stat_any(s->t, path, st);
	return mig_transport_stat(s->t, path, st);
}

static int
t_list(struct bagv_src *s, const char *dir, mig_list_cb cb, void *arg)
{
	if (any_name(s, dir))
		return mig_transport_file_list_any(s->t, dir, cb, arg);
	return mig_transport_list(s->t, dir, cb, arg);
}

/*
 * The transport's failure r to read rel, as the validator takes it: an
 * entry that is there but is not a regular file (a symbolic link the
 * transport refused to follow, a FIFO, a device, a directory) or a tag
 * file over the size limit is MIG_ERR_FORMAT, which callers report as a
 * finding; anything else is returned as it is.
 */
static int
t_refusal(struct bagv_src *s, const char *rel, const char *path, int r)
{
	char msg[MIG_ERRMSG_MAX];
	struct mig_tstat st;

	(void)snprintf(msg, sizeof(msg), "%s", mig_errmsg(s->ctx));
	if (r == MIG_ERR_SECURITY)
		return mig_seterr(s->ctx, MIG_ERR_FORMAT, "%s", msg);
	if (r != MIG_ERR_IO)
		return r;
	/* Only the failure path pays for the second round trip. */
	if (t_stat(s, path, &st) == 0 && st.type != MIG_FT_FILE)
		return mig_seterr(s->ctx, MIG_ERR_FORMAT, "%s/%s: not a "
		    "regular file", s->name, rel);
	return mig_seterr(s->ctx, r, "%s", msg);
}

/* Whole tag file; MIG_ERR_NOTFOUND when absent, FORMAT when refused. */
int
bagv_read_all(struct bagv_src *s, const char *rel, char **bufp, size_t *lenp)
{
	unsigned char *buf = NULL, *nb;
	size_t len = 0;
	char *path;
	int r;

	*bufp = NULL;
	*lenp = 0;
	if ((path = t_join(s, rel)) == NULL)
		return mig_seterr(s->ctx, MIG_ERR_NOMEM, "out of memory");
	r = mig_transport_get(s->t, path, MIG_BAG_TAGFILE_MAX, &buf, &len);
	if (r != 0)
		r = t_refusal(s, rel, path, r);
	free(path);
	if (r != 0)
		return r;
	/* NUL-terminate for the parsers' convenience. */
	if ((nb = realloc(buf, len + 1)) == NULL) {
		free(buf);
		return mig_seterr(s->ctx, MIG_ERR_NOMEM, "out of memory");
	}
	nb[len] = '\0';
	*bufp = (char *)nb;
	*lenp = len;
	return 0;
}

static int
t_top_cb(void *arg, const char *name, const struct mig_tstat *st)
{
	struct t_list *l = arg;

	(void)st;
	return l->cb(l->arg, name);
}

/* Names directly in the bag directory. */
int
bagv_list_top(struct bagv_src *s, bagv_top_cb cb, void *arg)
{
	struct t_list l = { .cb = cb, .arg = arg };
	const char *dir = s->bagdir;

	if (dir == NULL || strcmp(dir, ".") == 0)
		dir = "";	/* the transport's root */
	return mig_transport_list(s->t, dir, t_top_cb, &l);
}

static int
t_collect_cb(void *arg, const char *name, const struct mig_tstat *st)
{
	struct t_list *l = arg;
	size_t ncap;
	void *p;

	if (l->n == l->cap) {
		ncap = l->cap == 0 ? 64 : l->cap * 2;
		if ((p = realloc(l->names, ncap * sizeof(*l->names))) == NULL)
			goto out_nomem;
		l->names = p;
		if ((p = realloc(l->types, ncap * sizeof(*l->types))) == NULL)
			goto out_nomem;
		l->types = p;
		if ((p = realloc(l->sizes, ncap * sizeof(*l->sizes))) == NULL)
			goto out_nomem;
		l->sizes = p;
		l->cap = ncap;
	}
	if ((l->names[l->n] = strdup(name)) == NULL)
		goto out_nomem;
	l->types[l->n] = st->type;
	l->sizes[l->n] = st->size;
	l->n++;
	return 0;
out_nomem:
	l->nomem = true;
	return MIG_ERR_NOMEM;
}

static void
t_list_free(struct t_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
	free(l->types);
	free(l->sizes);
}

static int
t_walk_dir(struct bagv_src *s, struct pbuf *rel, int depth, bagv_file_cb fcb,
    bagv_odd_cb ocb, void *arg)
{
	struct t_list l = { .cb = NULL };
	size_t base = rel->len, i;
	char *path;
	int r;

	if ((path = t_join(s, rel->p)) == NULL)
		return mig_seterr(s->ctx, MIG_ERR_NOMEM, "out of memory");
	r = t_list(s, path, t_collect_cb, &l);
	free(path);
	if (l.nomem)
		r = mig_seterr(s->ctx, MIG_ERR_NOMEM, "out of memory");
	for (i = 0; r == 0 && i < l.n; i++) {
		if (pbuf_set(rel, base, "/") != 0 ||
		    pbuf_set(rel, rel->len, l.names[i]) != 0) {
			r = mig_seterr(s->ctx, MIG_ERR_NOMEM, "out of memory");
			break;
		}
		r = t_walk_entry(s, rel, l.types[i], l.sizes[i], depth, fcb,
		    ocb, arg);
	}
	rel->len = base;
	if (rel->p != NULL)
		rel->p[base] = '\0';
	t_list_free(&l);
	return r;
}

/*
 * One entry of a payload directory, by the type the listing gave it: a
 * listing reports a symbolic link or a special file as such (lstat), and
 * those are findings, never followed.  A backend that cannot tell (WebDAV)
 * says file, and opening it refuses what is not one.
 */
static int
t_walk_entry(struct bagv_src *s, struct pbuf *rel, enum mig_ftype type,
    uint64_t size, int depth, bagv_file_cb fcb, bagv_odd_cb ocb, void *arg)
{
	switch (type) {
	case MIG_FT_FILE:
		return fcb(arg, rel->p, size);
	case MIG_FT_DIR:
		if (depth >= WALK_DEPTH_MAX)
			return ocb(arg, rel->p, "directories nested too deep; "
			    "not checked");
		return t_walk_dir(s, rel, depth + 1, fcb, ocb, arg);
	case MIG_FT_LINK:
		return ocb(arg, rel->p, "symbolic link in the payload refused");
	case MIG_FT_OTHER:
		break;
	}
	return ocb(arg, rel->p, "not a regular file");
}

/* Every file under data/; MIG_ERR_NOTFOUND when there is no data/. */
int
bagv_walk(struct bagv_src *s, bagv_file_cb fcb, bagv_odd_cb ocb, void *arg)
{
	struct pbuf rel = { NULL, 0, 0 };
	struct mig_tstat st;
	char *path;
	int r;

	if ((path = t_join(s, "data")) == NULL)
		return mig_seterr(s->ctx, MIG_ERR_NOMEM, "out of memory");
	r = mig_transport_stat(s->t, path, &st);
	free(path);
	if (r == MIG_ERR_SECURITY)
		return t_refusal(s, "data", "data", r);
	if (r != 0)
		return r;
	if (st.type != MIG_FT_DIR)
		return mig_seterr(s->ctx, MIG_ERR_FORMAT, "%s/data: not a "
		    "directory", s->name);
	if (pbuf_set(&rel, 0, "data") != 0)
		return mig_seterr(s->ctx, MIG_ERR_NOMEM, "out of memory");
	r = t_walk_dir(s, &rel, 0, fcb, ocb, arg);
	free(rel.p);
	return r;
}

/* Opens rel for hashing; NOTFOUND when absent, FORMAT when refused. */
int
bagv_open(struct bagv_src *s, const char *rel, struct mig_reader **rp)
{
	char *path;
	int r;

	*rp = NULL;
	if ((path = t_join(s, rel)) == NULL)
		return mig_seterr(s->ctx, MIG_ERR_NOMEM, "out of memory");
	if (any_name(s, path))
		r = mig_transport_file_open_read_any(s->t, path, rp);
	else
		r = mig_transport_open_read(s->t, path, rp);
	if (r != 0)
		r = t_refusal(s, rel, path, r);
	free(path);
	return r;
}
