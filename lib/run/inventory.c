/*
 * Source inventory: walk a directory without ever leaving it, or list an
 * archive, and keep the regular files that the plan's globs select.
 *
 * The walk holds a directory descriptor per level and opens every child
 * with openat(O_NOFOLLOW), so a directory swapped for a symlink while we
 * walk cannot lead us outside the source.
 */
#define MIG_RUN_INTERNAL
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "migrate/error.h"
#include "migrate/run.h"
#include "migrate/transport.h"

#include "run_int.h"

/*
 * Longest name component that can land: it lands as NAME.zst.age, and
 * NAME_MAX is 255.  The temporary an upload goes through is that name
 * shortened (mig_tmp_name()), so it needs no room of its own.
 */
#define MIG_NAME_COMPONENT_MAX	(255 - (sizeof(".zst.age") - 1))
_Static_assert(MIG_NAME_COMPONENT_MAX == 247, "the refusal names 247 bytes");

/* Deepest directory nesting walked; deeper trees are refused, not followed. */
#define WALK_MAX_DEPTH	256

/* --- Globs ---------------------------------------------------------------- */

/* Matches one path segment [s, s+slen) against pattern segment [p, p+plen). */
static bool
segment_match(const char *p, size_t plen, const char *s, size_t slen)
{
	char pat[NAME_MAX + 1], str[NAME_MAX + 1];

	if (plen > NAME_MAX || slen > NAME_MAX)
		return false;
	memcpy(pat, p, plen);
	pat[plen] = '\0';
	memcpy(str, s, slen);
	str[slen] = '\0';
	return fnmatch(pat, str, 0) == 0;
}

static bool
glob_at(const char *p, const char *s)
{
	const char *pe, *se;
	size_t plen;

	for (;;) {
		pe = strchr(p, '/');
		plen = pe != NULL ? (size_t)(pe - p) : strlen(p);
		if (plen == 2 && p[0] == '*' && p[1] == '*') {
			/* "**" matches zero or more whole segments. */
			if (pe == NULL)
				return true;
			for (;;) {
				if (glob_at(pe + 1, s))
					return true;
				s = strchr(s, '/');
				if (s == NULL)
					return false;
				s++;
			}
		}
		if (*s == '\0')
			return false;
		se = strchr(s, '/');
		if (!segment_match(p, plen, s, se != NULL ? (size_t)(se - s) :
		    strlen(s)))
			return false;
		if (pe == NULL)
			return se == NULL;
		if (se == NULL)
			return false;
		p = pe + 1;
		s = se + 1;
	}
}

/*
 * Whether pattern matches path or one of the folders that lead to it:
 * like .gitignore, a pattern that names a folder selects everything
 * beneath it.
 */
static bool
glob_path_or_parent(const char *p, const char *path)
{
	char buf[MIG_PATH_MAX + 1];
	size_t n = strlen(path);
	char *slash;

	if (glob_at(p, path))
		return true;
	if (n > MIG_PATH_MAX)
		return false;
	memcpy(buf, path, n + 1);
	while ((slash = strrchr(buf, '/')) != NULL) {
		*slash = '\0';
		if (glob_at(p, buf))
			return true;
	}
	return false;
}

/*
 * The rules of .gitignore (migrate-plan(5) FILTERS): a leading '/'
 * anchors a pattern to the source root, and so does a '/' inside it; a
 * pattern without one matches a name at any depth; a trailing '/' names
 * a folder, and everything beneath it.
 */
bool
mig_glob_match(const char *pattern, const char *path)
{
	char pat[MIG_PATH_MAX + 4];
	size_t n = strlen(pattern);
	bool anchored, dir_only = false;
	const char *p = pattern;

	if (n > 0 && pattern[n - 1] == '/') {
		dir_only = true;
		n--;
	}
	if (n > 0 && p[0] == '/') {
		p++;
		n--;
	}
	if (n == 0 || n > MIG_PATH_MAX)
		return false;
	anchored = p != pattern || memchr(p, '/', n) != NULL;
	(void)snprintf(pat, sizeof(pat), "%s%.*s%s", anchored ? "" : "**/",
	    (int)n, p, dir_only ? "/**" : "");
	if (dir_only)
		return glob_at(pat, path);
	return glob_path_or_parent(pat, path);
}

bool
mig_inventory_selected(char *const *include, char *const *exclude,
    const char *path)
{
	size_t i;
	bool in = include == NULL || include[0] == NULL;

	for (i = 0; !in && include[i] != NULL; i++)
		in = mig_glob_match(include[i], path);
	if (!in)
		return false;
	for (i = 0; exclude != NULL && exclude[i] != NULL; i++)
		if (mig_glob_match(exclude[i], path))
			return false;
	return true;
}

/* --- Names ------------------------------------------------------------------ */

/* Strict UTF-8: no overlongs, no surrogates, nothing above U+10FFFF. */
static bool
valid_utf8(const unsigned char *s, size_t len)
{
	size_t i = 0, n, k;
	unsigned long cp;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if (s[i] >= 0xc2 && s[i] <= 0xdf) {
			n = 1;
			cp = s[i] & 0x1f;
		} else if (s[i] >= 0xe0 && s[i] <= 0xef) {
			n = 2;
			cp = s[i] & 0x0f;
		} else if (s[i] >= 0xf0 && s[i] <= 0xf4) {
			n = 3;
			cp = s[i] & 0x07;
		} else
			return false;
		if (len - i <= n)
			return false;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

const char *
mig_name_problem(const char *path)
{
	const unsigned char *p;
	size_t len = strlen(path);
	const char *c, *slash;

	if (len == 0)
		return "empty name";
	if (len > MIG_PATH_MAX)
		return "path longer than 4000 bytes";
	if (path[0] == '/')
		return "absolute path";
	for (p = (const unsigned char *)path; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return "control character in name";
	if (!valid_utf8((const unsigned char *)path, len))
		return "name is not valid UTF-8";
	for (c = path; ; c = slash + 1) {
		slash = strchr(c, '/');
		len = slash != NULL ? (size_t)(slash - c) : strlen(c);
		if (len == 0 || (len == 1 && c[0] == '.') ||
		    (len == 2 && c[0] == '.' && c[1] == '.'))
			return "\"..\", \".\" or empty path component";
		if (len > MIG_NAME_COMPONENT_MAX)
			return "name component longer than 247 bytes (no room "
			    "for the .zst.age suffix in 255)";
		if (strstr(c, MIG_TMP_INFIX) != NULL &&
		    (slash == NULL || strstr(c, MIG_TMP_INFIX) < slash))
			return "name looks like a migrate temporary";
		if (slash == NULL)
			break;
	}
	return NULL;
}

/* --- The inventory object -------------------------------------------------- */

void
mig_inventory_free(struct mig_inventory *inv)
{
	size_t i;

	if (inv == NULL)
		return;
	for (i = 0; i < inv->count; i++) {
		free(inv->entries[i].path);
		free(inv->entries[i].target);
	}
	free(inv->entries);
	free(inv->root);
	free(inv);
}

/*
 * A selected file: handed to opts->entry, or kept.  target (via_link: the
 * file it resolved to) is borrowed.
 */
static int
inv_add(struct mig_inventory *inv, const struct mig_inventory_opts *opts,
    const char *path, const struct stat *st, const char *target,
    struct mig_ctx *ctx)
{
	struct mig_inv_entry e0, *e = &e0;

	if (opts->entry == NULL) {
		if (inv->count == inv->cap) {
			size_t ncap = inv->cap == 0 ? 256 : inv->cap * 2;
			struct mig_inv_entry *n;

			n = reallocarray(inv->entries, ncap, sizeof(*n));
			if (n == NULL)
				return mig_seterr(ctx, MIG_ERR_NOMEM,
				    "out of memory");
			inv->entries = n;
			inv->cap = ncap;
		}
		e = &inv->entries[inv->count];
	}
	memset(e, 0, sizeof(*e));
	e->path = (char *)path;
	e->target = (char *)target;
	e->size = (uint64_t)st->st_size;
	e->mtime = st->st_mtim.tv_sec;
	e->mtime_nsec = st->st_mtim.tv_nsec;
	e->mode = st->st_mode & 07777;
	e->via_link = target != NULL;
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	e->ctime = st->st_ctim.tv_sec;
	e->ctime_nsec = st->st_ctim.tv_nsec;
	inv->total_bytes += e->size;
	if (opts->entry != NULL)
		return opts->entry(opts->arg, e);
	e->path = strdup(path);
	e->target = target != NULL ? strdup(target) : NULL;
	if (e->path == NULL || (target != NULL && e->target == NULL)) {
		free(e->path);
		free(e->target);
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	}
	inv->count++;
	return 0;
}

struct walk {
	struct mig_inventory		*inv;
	const struct mig_inventory_opts	*opts;
	struct mig_ctx			*ctx;
	char				 root_real[PATH_MAX];
};

static int
report(struct walk *w, enum mig_inv_note kind, const char *path,
    const char *why)
{
	if (w->opts->note == NULL)
		return 0;
	return w->opts->note(w->opts->arg, kind, path, why);
}

/*
 * A symlink inside the source: followed only when the plan says so and
 * only when its target resolves inside the source root.
 */
static int
walk_link(struct walk *w, int dirfd, const char *name, const char *rel)
{
	char target[PATH_MAX], *real = NULL;
	struct stat st;
	size_t rootlen = strlen(w->root_real);
	int r = 0;

	if (!w->opts->follow_symlinks)
		return report(w, MIG_INV_SKIPPED, rel, "symbolic link "
		    "(follow_symlinks = false)");
	if ((size_t)snprintf(target, sizeof(target), "%s/%s", w->root_real,
	    rel) >= sizeof(target))
		return report(w, MIG_INV_REFUSED, rel, "path too long");
	real = realpath(target, NULL);
	if (real == NULL)
		return report(w, MIG_INV_SKIPPED, rel, "dangling symbolic link");
	if (strncmp(real, w->root_real, rootlen) != 0 ||
	    (real[rootlen] != '/' && real[rootlen] != '\0')) {
		r = report(w, MIG_INV_REFUSED, rel, "symbolic link points "
		    "outside the source");
		goto out;
	}
	if (fstatat(dirfd, name, &st, 0) != 0) {
		r = report(w, MIG_INV_SKIPPED, rel, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = report(w, MIG_INV_SKIPPED, rel, S_ISDIR(st.st_mode) ?
		    "symbolic link to a directory (not followed: it could "
		    "loop)" : "symbolic link to a special file");
		goto out;
	}
	if (mig_inventory_selected(w->opts->include, w->opts->exclude, rel))
		r = inv_add(w->inv, w->opts, rel, &st, real + rootlen + 1,
		    w->ctx);
out:
	free(real);
	return r;
}

static int walk_dir(struct walk *, int, const char *, int);

/* Into the directory name of dirfd (rel from the root), never a link. */
static int
walk_subdir(struct walk *w, int dirfd, const char *name, const char *rel,
    int depth)
{
	char why[256];
	int sub, r;

	sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (sub < 0) {
		(void)snprintf(why, sizeof(why), "cannot read the directory: "
		    "%s", strerror(errno));
		return report(w, MIG_INV_FAILED, rel, why);
	}
	r = walk_dir(w, sub, rel, depth + 1);
	close(sub);
	return r;
}

/* A directory's entries, read whole so that they can be walked in order. */
struct dlist {
	struct dent {
		size_t		 name;	/* offset in names */
		const char	*p;	/* once names has stopped moving */
		bool		 dir;
	}		*v;
	size_t		 n, cap;
	char		*names;
	size_t		 nlen, ncap;
};

static void
dlist_free(struct dlist *l)
{
	free(l->v);
	free(l->names);
}

static int
dlist_add(struct dlist *l, const char *name, bool dir)
{
	size_t len = strlen(name) + 1, ncap;
	void *np;

	if (l->n == l->cap) {
		ncap = l->cap == 0 ? 64 : l->cap * 2;
		if ((np = reallocarray(l->v, ncap, sizeof(*l->v))) == NULL)
			return MIG_ERR_NOMEM;
		l->v = np;
		l->cap = ncap;
	}
	if (l->ncap - l->nlen < len) {
		ncap = l->ncap == 0 ? 4096 : l->ncap;
		while (ncap - l->nlen < len)
			ncap *= 2;
		if ((np = realloc(l->names, ncap)) == NULL)
			return MIG_ERR_NOMEM;
		l->names = np;
		l->ncap = ncap;
	}
	memcpy(l->names + l->nlen, name, len);
	l->v[l->n].name = l->nlen;
	l->v[l->n].dir = dir;
	l->nlen += len;
	l->n++;
	return 0;
}

/*
 * Names compared as if every directory's ended in '/': the order of the
 * full paths beneath them (a name holds no '/', and two entries of one
 * directory never share a name).
 */
static int
dent_cmp(const void *a, const void *b)
{
	const struct dent *x = a, *y = b;
	const unsigned char *p = (const unsigned char *)x->p;
	const unsigned char *q = (const unsigned char *)y->p;
	int cp, cq;

	while (*p != '\0' && *p == *q) {
		p++;
		q++;
	}
	cp = *p != '\0' ? *p : x->dir ? '/' : 0;
	cq = *q != '\0' ? *q : y->dir ? '/' : 0;
	return cp - cq;
}

/* Reads the directory of dirfd whole, sorted for the walk. */
static int
read_dir(struct walk *w, int dirfd, const char *prefix, struct dlist *l)
{
	struct dirent *de;
	struct stat st;
	DIR *dir;
	bool isdir;
	size_t i;
	int fd, r = 0;

	if ((fd = dup(dirfd)) < 0)
		return mig_seterr(w->ctx, MIG_ERR_IO, "%s: %s", prefix,
		    strerror(errno));
	if ((dir = fdopendir(fd)) == NULL) {
		close(fd);
		return mig_seterr(w->ctx, MIG_ERR_IO, "%s: %s", prefix,
		    strerror(errno));
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(dir)) == NULL) {
			if (errno != 0)
				r = mig_seterr(w->ctx, MIG_ERR_IO, "%s/%s: %s",
				    w->inv->root, prefix, strerror(errno));
			break;
		}
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		/* Unknown types are looked at; a failure is reported later. */
		isdir = de->d_type == DT_DIR;
		if (de->d_type == DT_UNKNOWN)
			isdir = fstatat(dirfd, de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
		if (dlist_add(l, de->d_name, isdir) != 0) {
			r = mig_seterr(w->ctx, MIG_ERR_NOMEM, "out of memory");
			break;
		}
	}
	closedir(dir);
	for (i = 0; r == 0 && i < l->n; i++)
		l->v[i].p = l->names + l->v[i].name;
	if (r == 0 && l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), dent_cmp);
	return r;
}

/* One entry of a directory: a file kept, a folder walked, or a note. */
static int
walk_entry(struct walk *w, int dirfd, const char *prefix,
    const struct dent *d, int depth)
{
	const char *name = d->p;
	char rel[MIG_PATH_MAX + NAME_MAX + 2];
	const char *problem;
	struct stat st;

	if ((size_t)snprintf(rel, sizeof(rel), "%s%s%s", prefix,
	    *prefix ? "/" : "", name) >= sizeof(rel))
		return report(w, MIG_INV_REFUSED, prefix, "path too long");
	if ((problem = mig_name_problem(rel)) != NULL)
		return report(w, MIG_INV_REFUSED, rel, problem);
	/*
	 * What cannot be looked at or walked into is a failure, not a
	 * skip: the run must not call itself complete without it.
	 */
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return report(w, MIG_INV_FAILED, rel, strerror(errno));
	/* Walked as the other kind, it would come out of order. */
	if (S_ISDIR(st.st_mode) != d->dir)
		return report(w, MIG_INV_FAILED, rel, "changed type while "
		    "the source was walked");
	if (S_ISDIR(st.st_mode))
		return walk_subdir(w, dirfd, name, rel, depth);
	if (S_ISLNK(st.st_mode))
		return walk_link(w, dirfd, name, rel);
	if (!S_ISREG(st.st_mode))
		return report(w, MIG_INV_SKIPPED, rel, S_ISFIFO(st.st_mode) ?
		    "FIFO (not a regular file)" : S_ISSOCK(st.st_mode) ?
		    "socket (not a regular file)" : "device or special file");
	if (!mig_inventory_selected(w->opts->include, w->opts->exclude, rel))
		return 0;
	return inv_add(w->inv, w->opts, rel, &st, NULL, w->ctx);
}

static int
walk_dir(struct walk *w, int dirfd, const char *prefix, int depth)
{
	struct dlist l;
	size_t i;
	int r;

	if (depth > WALK_MAX_DEPTH)
		return report(w, MIG_INV_REFUSED, prefix, "directory nesting "
		    "deeper than 256 levels");
	memset(&l, 0, sizeof(l));
	if ((r = read_dir(w, dirfd, prefix, &l)) == 0)
		for (i = 0; i < l.n && r == 0; i++)
			r = walk_entry(w, dirfd, prefix, &l.v[i], depth);
	dlist_free(&l);
	return r;
}

int
mig_inventory_walk(const char *root, const struct mig_inventory_opts *opts,
    struct mig_ctx *ctx, struct mig_inventory **invp)
{
	struct walk w;
	struct stat st;
	int fd = -1, r;

	*invp = NULL;
	memset(&w, 0, sizeof(w));
	w.opts = opts;
	w.ctx = ctx;
	if ((w.inv = calloc(1, sizeof(*w.inv))) == NULL ||
	    (w.inv->root = strdup(root)) == NULL) {
		r = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    fstat(fd, &st) != 0) {
		r = mig_seterr(ctx, errno == ENOENT ? MIG_ERR_NOTFOUND :
		    MIG_ERR_IO, "%s: %s", root, strerror(errno));
		goto out;
	}
	if (realpath(root, w.root_real) == NULL) {
		r = mig_seterr(ctx, MIG_ERR_IO, "%s: %s", root,
		    strerror(errno));
		goto out;
	}
	if ((r = walk_dir(&w, fd, "", 0)) != 0)
		goto out;
	*invp = w.inv;
	w.inv = NULL;
out:
	if (fd >= 0)
		close(fd);
	mig_inventory_free(w.inv);
	return r;
}

void
mig_name_printable(const char *name, char *out, size_t size)
{
	const unsigned char *p = (const unsigned char *)name;
	bool utf8 = valid_utf8(p, strlen(name));
	size_t o = 0;

	/* Control bytes, '%' and (in non-UTF-8 names) bytes >= 0x80 as %XX. */
	for (; *p != '\0' && o + 4 < size; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == '%' || (!utf8 && *p >= 0x80))
			o += (size_t)snprintf(out + o, size - o, "%%%02X", *p);
		else
			out[o++] = (char)*p;
	}
	out[o] = '\0';
}
