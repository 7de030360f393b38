/*
 * BagIt validator (RFC 8493 sections 3 and 4: complete and valid bags).
 *
 * The bag is read through a small source interface with two
 * implementations: a local directory (openat() beneath the bag, never
 * following a symbolic link) and a transport (file, sftp, https).
 *
 * Order of work: bagit.txt; the list of tag files at the top; bag-info.txt;
 * every payload manifest into one hash table keyed by the NFD form of the
 * path (so NFC and NFD spellings of a name match); fetch.txt; one walk of
 * data/ hashing each payload file once for every algorithm together; what
 * was never found; Payload-Oxum; every tag manifest.  Lookups are O(1), so
 * the overhead beyond hashing stays small for large bags.
 *
 * Versions 0.93 to 1.0 are validated by the rules of their own draft or
 * of RFC 8493; bagit_parse.c lists what differs.  Tag files are converted
 * from their Tag-File-Character-Encoding to UTF-8 (iconv) before parsing.
 *
 * Choices where the texts leave room, documented in migrate(1):
 *  - A file listed in fetch.txt and absent makes the bag incomplete,
 *    hence invalid: it is reported as MIG_BAG_FETCH, not skipped.
 *  - Percent-decoding of %0A, %0D and %25 applies to version 1.0
 *    manifests; earlier manifests are taken literally.
 *  - A byte-order mark in bagit.txt is refused in every version.  A
 *    UTF-8 BOM at the start of another tag file is refused in 1.0
 *    (RFC 8493 2.3) and skipped before it.
 *  - A "./" before a manifest path is accepted and removed; so is the
 *    md5sum '*' before 1.0, which 1.0 refuses.
 *  - Files outside data/ that no tag manifest lists (such as _SUCCESS)
 *    are ignored.  Tag-manifest paths are matched byte for byte.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "migrate/bagit.h"
#include "migrate/error.h"
#include "migrate/stream.h"
#include "migrate/transport.h"
#include "migrate/util.h"

#define MIG_BAGIT_INTERNAL
#include "bagit_int.h"

/* Deepest directory nesting walked under data/. */
#define WALK_DEPTH_MAX	256

static const struct {
	const char	*name;		/* in manifest-NAME.txt */
	const char	*evp;		/* OpenSSL fetch name */
	size_t		 dlen;
} algs[] = {
	{ "md5", "MD5", 16 },
	{ "sha1", "SHA1", 20 },
	{ "sha224", "SHA2-224", 28 },
	{ "sha256", "SHA2-256", 32 },
	{ "sha384", "SHA2-384", 48 },
	{ "sha512", "SHA2-512", 64 },
};
#define NALG	(sizeof(algs) / sizeof(algs[0]))
#define DMAX	64

/* --- Sources ----------------------------------------------------------- */

struct src;

/* What the walk knows about a payload file, for opening it cheaply. */
struct walkfile {
	int		 dirfd;		/* local: its directory; else -1 */
	const char	*name;		/* local: entry name in dirfd */
};

typedef int (*top_cb)(void *arg, const char *name);
typedef int (*file_cb)(void *arg, const char *rel, uint64_t size,
    const struct walkfile *wf);
typedef int (*odd_cb)(void *arg, const char *rel, const char *what);

struct src_ops {
	/* Whole tag file; MIG_ERR_NOTFOUND when absent. */
	int	(*read_all)(struct src *s, const char *rel, char **bufp,
		    size_t *lenp);
	/* Names directly in the bag directory. */
	int	(*list_top)(struct src *s, top_cb cb, void *arg);
	/* Every file under data/; MIG_ERR_NOTFOUND when there is no data/. */
	int	(*walk)(struct src *s, file_cb fcb, odd_cb ocb, void *arg);
	/* Open for hashing; wf may be NULL (tag files). */
	int	(*open)(struct src *s, const char *rel,
		    const struct walkfile *wf, void **hp);
	int	(*read)(struct src *s, void *h, void *buf, size_t cap,
		    size_t *n);
	void	(*close)(struct src *s, void *h);
};

struct src {
	const struct src_ops	*ops;
	struct mig_ctx		*ctx;
	const char		*name;		/* for messages */
	/* local */
	int			 bagfd;
	/* transport */
	struct mig_transport	*t;
	const char		*bagdir;
};

/* A growing path buffer. */
struct pbuf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

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

/* --- Local directory source -------------------------------------------- */

static int
local_errno(struct src *s, const char *rel, int e)
{
	if (e == ENOENT)
		return MIG_ERR_NOTFOUND;
	if (e == ELOOP)
		return mig_seterr(s->ctx, MIG_ERR_FORMAT, "%s/%s: symbolic "
		    "link refused", s->name, rel);
	return mig_seterr(s->ctx, MIG_ERR_IO, "%s/%s: %s", s->name, rel,
	    strerror(e));
}

/*
 * Opens rel beneath the bag without following any symbolic link in any
 * component.  Returns a descriptor or -1 with errno set.
 */
static int
open_beneath(int bagfd, const char *rel)
{
	char comp[NAME_MAX + 1];
	const char *p = rel, *slash;
	int fd = bagfd, nfd, e;
	size_t n;

	for (;;) {
		slash = strchr(p, '/');
		if (slash == NULL)
			break;
		n = (size_t)(slash - p);
		if (n == 0 || n > NAME_MAX) {
			e = n == 0 ? ENOENT : ENAMETOOLONG;
			goto out_err;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		e = errno;
		if (fd != bagfd)
			(void)close(fd);
		if (nfd < 0) {
			errno = e == ENOTDIR ? ELOOP : e;
			return -1;
		}
		fd = nfd;
		p = slash + 1;
	}
	nfd = openat(fd, p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	e = errno;
	if (fd != bagfd)
		(void)close(fd);
	errno = e;
	return nfd;
out_err:
	if (fd != bagfd)
		(void)close(fd);
	errno = e;
	return -1;
}

/* Checks that fd is a regular file; EINVAL otherwise. */
static int
check_regular(int fd, struct stat *st)
{
	if (fstat(fd, st) != 0)
		return -1;
	if (!S_ISREG(st->st_mode)) {
		errno = EINVAL;
		return -1;
	}
	/* O_NONBLOCK has no effect on reading a regular file. */
	return 0;
}

static int
local_read_all(struct src *s, const char *rel, char **bufp, size_t *lenp)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, r = 0;

	*bufp = NULL;
	*lenp = 0;
	if ((fd = open_beneath(s->bagfd, rel)) < 0)
		return local_errno(s, rel, errno);
	if (check_regular(fd, &st) != 0) {
		r = errno == EINVAL ? mig_seterr(s->ctx, MIG_ERR_FORMAT,
		    "%s/%s: not a regular file", s->name, rel) :
		    local_errno(s, rel, errno);
		goto out;
	}
	if ((uint64_t)st.st_size > MIG_BAG_TAGFILE_MAX) {
		r = mig_seterr(s->ctx, MIG_ERR_FORMAT, "%s/%s: tag file larger "
		    "than %zu bytes", s->name, rel, MIG_BAG_TAGFILE_MAX);
		goto out;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		r = mig_seterr(s->ctx, MIG_ERR_NOMEM, "out of memory");
		goto out;
	}
	while (len < (size_t)st.st_size) {
		n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = local_errno(s, rel, errno);
			goto out;
		}
		if (n == 0)
			break;		/* shrank meanwhile */
		len += (size_t)n;
	}
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	buf = NULL;
out:
	free(buf);
	(void)close(fd);
	return r;
}

static int
local_list_top(struct src *s, top_cb cb, void *arg)
{
	struct dirent *de;
	DIR *d;
	int fd, r = 0;

	if ((fd = dup(s->bagfd)) < 0)
		return local_errno(s, ".", errno);
	if ((d = fdopendir(fd)) == NULL) {
		r = local_errno(s, ".", errno);
		(void)close(fd);
		return r;
	}
	rewinddir(d);
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if ((r = cb(arg, de->d_name)) != 0)
			break;
	}
	if (de == NULL && errno != 0)
		r = local_errno(s, ".", errno);
	(void)closedir(d);
	return r;
}

static int
local_walk_dir(struct src *s, int dfd, struct pbuf *rel, int depth,
    file_cb fcb, odd_cb ocb, void *arg)
{
	struct dirent *de;
	struct walkfile wf;
	struct stat st;
	size_t base = rel->len;
	DIR *d;
	int sub, r = 0;

	if ((d = fdopendir(dfd)) == NULL) {
		r = local_errno(s, rel->p, errno);
		(void)close(dfd);
		return r;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (pbuf_set(rel, base, "/") != 0 ||
		    pbuf_set(rel, rel->len, de->d_name) != 0) {
			r = mig_seterr(s->ctx, MIG_ERR_NOMEM, "out of memory");
			break;
		}
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			if (errno == ENOENT)
				continue;	/* removed meanwhile */
			r = local_errno(s, rel->p, errno);
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			if (depth >= WALK_DEPTH_MAX) {
				r = ocb(arg, rel->p, "directories nested too "
				    "deep; not checked");
				if (r != 0)
					break;
				continue;
			}
			sub = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0) {
				r = local_errno(s, rel->p, errno);
				break;
			}
			r = local_walk_dir(s, sub, rel, depth + 1, fcb, ocb,
			    arg);
		} else if (S_ISREG(st.st_mode)) {
			wf.dirfd = dfd;
			wf.name = de->d_name;
			r = fcb(arg, rel->p, (uint64_t)st.st_size, &wf);
		} else
			r = ocb(arg, rel->p, S_ISLNK(st.st_mode) ?
			    "symbolic link in the payload refused" :
			    "not a regular file");
		if (r != 0)
			break;
	}
	if (r == 0 && de == NULL && errno != 0)
		r = local_errno(s, rel->p, errno);
	rel->len = base;
	rel->p[base] = '\0';
	(void)closedir(d);
	return r;
}

static int
local_walk(struct src *s, file_cb fcb, odd_cb ocb, void *arg)
{
	struct pbuf rel = { NULL, 0, 0 };
	struct stat st;
	int dfd, r;

	if (fstatat(s->bagfd, "data", &st, AT_SYMLINK_NOFOLLOW) != 0)
		return local_errno(s, "data", errno);
	if (!S_ISDIR(st.st_mode))
		return mig_seterr(s->ctx, MIG_ERR_FORMAT, "%s/data: not a "
		    "directory", s->name);
	dfd = openat(s->bagfd, "data", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (dfd < 0)
		return local_errno(s, "data", errno);
	if (pbuf_set(&rel, 0, "data") != 0) {
		(void)close(dfd);
		return mig_seterr(s->ctx, MIG_ERR_NOMEM, "out of memory");
	}
	r = local_walk_dir(s, dfd, &rel, 0, fcb, ocb, arg);
	free(rel.p);
	return r;
}

static int
local_open(struct src *s, const char *rel, const struct walkfile *wf,
    void **hp)
{
	struct stat st;
	int fd, *box;

	*hp = NULL;
	if (wf != NULL)
		fd = openat(wf->dirfd, wf->name, O_RDONLY | O_NOFOLLOW |
		    O_NONBLOCK | O_CLOEXEC);
	else
		fd = open_beneath(s->bagfd, rel);
	if (fd < 0)
		return local_errno(s, rel, errno);
	if (check_regular(fd, &st) != 0) {
		int e = errno;

		(void)close(fd);
		if (e == EINVAL)
			return mig_seterr(s->ctx, MIG_ERR_FORMAT,
			    "%s/%s: not a regular file", s->name, rel);
		return local_errno(s, rel, e);
	}
	if ((box = malloc(sizeof(*box))) == NULL) {
		(void)close(fd);
		return mig_seterr(s->ctx, MIG_ERR_NOMEM, "out of memory");
	}
	*box = fd;
	*hp = box;
	return 0;
}

static int
local_read(struct src *s, void *h, void *buf, size_t cap, size_t *n)
{
	ssize_t got;

	for (;;) {
		got = read(*(int *)h, buf, cap);
		if (got >= 0)
			break;
		if (errno != EINTR)
			return mig_seterr(s->ctx, MIG_ERR_IO, "%s: read: %s",
			    s->name, strerror(errno));
	}
	*n = (size_t)got;
	return 0;
}

static void
local_close(struct src *s, void *h)
{
	(void)s;
	if (h == NULL)
		return;
	(void)close(*(int *)h);
	free(h);
}

static const struct src_ops local_ops = {
	.read_all = local_read_all,
	.list_top = local_list_top,
	.walk = local_walk,
	.open = local_open,
	.read = local_read,
	.close = local_close,
};

/* --- Transport source -------------------------------------------------- */

/* BAGDIR/rel; NULL on ENOMEM. */
static char *
t_join(const struct src *s, const char *rel)
{
	return mig_path_join(s->bagdir, rel);
}

static int
t_read_all(struct src *s, const char *rel, char **bufp, size_t *lenp)
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

struct t_list {
	struct src	*s;
	top_cb		 cb;
	void		*arg;
	/* for the walk: collected entries of one directory */
	char		**names;
	bool		 *isdir;
	uint64_t	 *sizes;
	size_t		  n;
	size_t		  cap;
	bool		  nomem;
};

static int
t_top_cb(void *arg, const char *name, const struct mig_tstat *st)
{
	struct t_list *l = arg;

	(void)st;
	return l->cb(l->arg, name);
}

static int
t_list_top(struct src *s, top_cb cb, void *arg)
{
	struct t_list l = { .s = s, .cb = cb, .arg = arg };
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
		if ((p = realloc(l->isdir, ncap * sizeof(*l->isdir))) == NULL)
			goto out_nomem;
		l->isdir = p;
		if ((p = realloc(l->sizes, ncap * sizeof(*l->sizes))) == NULL)
			goto out_nomem;
		l->sizes = p;
		l->cap = ncap;
	}
	if ((l->names[l->n] = strdup(name)) == NULL)
		goto out_nomem;
	l->isdir[l->n] = (st->type == MIG_FT_DIR);
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
	free(l->isdir);
	free(l->sizes);
}

static int
t_walk_dir(struct src *s, struct pbuf *rel, int depth, file_cb fcb,
    odd_cb ocb, void *arg)
{
	struct t_list l = { .s = s };
	size_t base = rel->len, i;
	char *path;
	int r;

	if ((path = t_join(s, rel->p)) == NULL)
		return mig_seterr(s->ctx, MIG_ERR_NOMEM, "out of memory");
	r = mig_transport_list(s->t, path, t_collect_cb, &l);
	free(path);
	if (l.nomem)
		r = mig_seterr(s->ctx, MIG_ERR_NOMEM, "out of memory");
	for (i = 0; r == 0 && i < l.n; i++) {
		if (pbuf_set(rel, base, "/") != 0 ||
		    pbuf_set(rel, rel->len, l.names[i]) != 0) {
			r = mig_seterr(s->ctx, MIG_ERR_NOMEM, "out of memory");
			break;
		}
		if (!l.isdir[i])
			r = fcb(arg, rel->p, l.sizes[i], NULL);
		else if (depth >= WALK_DEPTH_MAX)
			r = ocb(arg, rel->p, "directories nested too deep; "
			    "not checked");
		else
			r = t_walk_dir(s, rel, depth + 1, fcb, ocb, arg);
	}
	rel->len = base;
	if (rel->p != NULL)
		rel->p[base] = '\0';
	t_list_free(&l);
	return r;
}

static int
t_walk(struct src *s, file_cb fcb, odd_cb ocb, void *arg)
{
	struct pbuf rel = { NULL, 0, 0 };
	struct mig_tstat st;
	char *path;
	int r;

	if ((path = t_join(s, "data")) == NULL)
		return mig_seterr(s->ctx, MIG_ERR_NOMEM, "out of memory");
	r = mig_transport_stat(s->t, path, &st);
	free(path);
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

static int
t_open(struct src *s, const char *rel, const struct walkfile *wf, void **hp)
{
	struct mig_reader *rd = NULL;
	char *path;
	int r;

	(void)wf;
	*hp = NULL;
	if ((path = t_join(s, rel)) == NULL)
		return mig_seterr(s->ctx, MIG_ERR_NOMEM, "out of memory");
	r = mig_transport_open_read(s->t, path, &rd);
	free(path);
	if (r == 0)
		*hp = rd;
	return r;
}

static int
t_read(struct src *s, void *h, void *buf, size_t cap, size_t *n)
{
	(void)s;
	return mig_reader_read(h, buf, cap, n);
}

static void
t_close(struct src *s, void *h)
{
	(void)s;
	mig_reader_free(h);
}

static const struct src_ops transport_ops = {
	.read_all = t_read_all,
	.list_top = t_list_top,
	.walk = t_walk,
	.open = t_open,
	.read = t_read,
	.close = t_close,
};

/* --- Validation -------------------------------------------------------- */

struct pent {
	char		*path;		/* "data/...", decoded */
	char		*key;		/* NFD form of path */
	unsigned char	*dig[NALG];	/* NULL: not in that manifest */
	int64_t		 known_size;	/* fetch.txt or opts->expect; -1 */
	bool		 in_fetch;
	bool		 found;
	bool		 tag;		/* 0.93-0.95: tag file in a manifest */
};

/* A 0.93/0.94 tag checksum file NAME.ALG. */
struct tcfile {
	char		*name;
	int		 alg;
};

struct val {
	struct src			*src;
	struct mig_ctx			*ctx;
	struct mig_bag_report		*rep;
	const struct mig_bag_validate_opts *opts;
	size_t				 max_findings;
	size_t				 cap_findings;
	int				 ver;		/* 93..97, 100 */
	bool				 decode;	/* %0A %0D %25 */
	bool				 utf8;		/* no conversion */
	bool				 every;		/* in every manifest */
	const char			*info_name;	/* bag- or package- */
	unsigned			 payload_mask;
	unsigned			 tag_mask;
	unsigned			 unsupported;	/* count */
	bool				 has_fetch;
	bool				 has_info;
	unsigned			 tm_listed;	/* manifests in a TM */
	unsigned			 tcf_mask;	/* algs of tcf[] */
	struct tcfile			*tcf;
	size_t				 ntcf;
	struct pent			*pe;
	size_t				 npe;
	size_t				 cappe;
	struct mig_htab		 idx;
	EVP_MD				*md[NALG];
	EVP_MD_CTX			*mctx[NALG];
	unsigned char			*buf;
};

/* Path as shown in findings: control characters and '%' as %XX. */
static char *
display_path(const char *path)
{
	const unsigned char *p;
	size_t n = 0;
	char *out, *o;

	for (p = (const unsigned char *)path; *p != '\0'; p++)
		n += (*p < 0x20 || *p == 0x7f || *p == '%') ? 3 : 1;
	if ((out = malloc(n + 1)) == NULL)
		return NULL;
	for (o = out, p = (const unsigned char *)path; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == '%') {
			(void)snprintf(o, 4, "%%%02X", *p);
			o += 3;
		} else
			*o++ = (char)*p;
	}
	*o = '\0';
	return out;
}

/* A manifest path for a message: controls and '%' as %XX, bounded. */
static const char *
shown(const char *path, char *buf, size_t size)
{
	size_t o = 0;

	for (; *path != '\0' && o + 4 < size; path++) {
		unsigned char c = (unsigned char)*path;

		if (c < 0x20 || c == 0x7f || c == '%')
			o += (size_t)snprintf(buf + o, size - o, "%%%02X", c);
		else
			buf[o++] = (char)c;
	}
	buf[o] = '\0';
	return buf;
}

static int
finding(struct val *v, enum mig_bag_kind kind, const char *path,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
finding(struct val *v, enum mig_bag_kind kind, const char *path,
    const char *fmt, ...)
{
	struct mig_bag_report *rep = v->rep;
	struct mig_bag_finding *f, *nf;
	char detail[1024];
	va_list ap;
	size_t ncap;

	rep->counts[kind]++;
	if (rep->nfindings >= v->max_findings) {
		rep->dropped++;
		return 0;
	}
	if (rep->nfindings == v->cap_findings) {
		ncap = v->cap_findings == 0 ? 16 : v->cap_findings * 2;
		if ((nf = realloc(rep->findings, ncap * sizeof(*nf))) == NULL)
			return mig_seterr(v->ctx, MIG_ERR_NOMEM,
			    "out of memory");
		rep->findings = nf;
		v->cap_findings = ncap;
	}
	va_start(ap, fmt);
	(void)vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	f = &rep->findings[rep->nfindings];
	f->kind = kind;
	f->path = display_path(path);
	f->detail = strdup(detail);
	if (f->path == NULL || f->detail == NULL) {
		free(f->path);
		free(f->detail);
		return mig_seterr(v->ctx, MIG_ERR_NOMEM, "out of memory");
	}
	rep->nfindings++;
	return 0;
}

/*
 * Reads a tag file other than bagit.txt as UTF-8 text: converted from the
 * bag's encoding, a leading byte-order mark skipped (and, for UTF-8 in
 * 1.0, reported).  A file that cannot be decoded is a finding and reads
 * as empty.
 */
static int
read_tag(struct val *v, const char *rel, char **bufp, const char **textp,
    size_t *lenp)
{
	char *buf, *conv, err[256];
	size_t len, clen;
	int r;

	*bufp = NULL;
	if ((r = v->src->ops->read_all(v->src, rel, &buf, &len)) != 0)
		return r;
	if (!v->utf8) {
		r = mig_bag_decode(v->rep->encoding, buf, len, &conv, &clen,
		    err, sizeof(err));
		free(buf);
		if (r == MIG_ERR_NOMEM)
			return mig_seterr(v->ctx, r, "out of memory");
		if (r != 0) {
			*textp = "";
			*lenp = 0;
			return finding(v, MIG_BAG_FORMAT, rel, "not text in "
			    "the bag's encoding: %s", err);
		}
		buf = conv;
		len = clen;
	}
	*bufp = buf;
	*textp = buf;
	*lenp = len;
	if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
		*textp = buf + 3;
		*lenp = len - 3;
		if (v->utf8 && v->ver >= 100 && (r = finding(v,
		    MIG_BAG_FORMAT, rel, "starts with a byte-order mark, "
		    "which UTF-8 tag files must not (RFC 8493 2.3)")) != 0) {
			free(buf);
			*bufp = NULL;
		}
	}
	return r;
}

static bool
blank(const char *line, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t')
			return false;
	return true;
}

/* Why bagit.txt is not plain UTF-8, from its first bytes; NULL if it is. */
static const char *
declaration_bom(const char *buf, size_t len)
{
	if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
		return "starts with a byte-order mark; bagit.txt must be "
		    "UTF-8 without one (RFC 8493 2.1.1)";
	if (len >= 2 && (memcmp(buf, "\xFF\xFE", 2) == 0 ||
	    memcmp(buf, "\xFE\xFF", 2) == 0))
		return "is UTF-16 (byte-order mark); bagit.txt must be UTF-8 "
		    "without one (RFC 8493 2.1.1)";
	return NULL;
}

/* Checks the version and encoding declared; 0 or FORMAT with err set. */
static int
declaration_check(struct val *v, char *err, size_t errsz)
{
	struct mig_bag_report *rep = v->rep;
	char *conv;
	size_t clen;
	int r;

	if ((v->ver = mig_bag_version_code(rep->version)) < 0) {
		(void)snprintf(err, errsz, "unsupported BagIt-Version %s "
		    "(0.93 to 0.97 and 1.0 are)", rep->version);
		return MIG_ERR_FORMAT;
	}
	v->utf8 = mig_bag_encoding_is_utf8(rep->encoding);
	if (v->utf8)
		return 0;
	/* Converting nothing tells whether iconv knows the encoding. */
	r = mig_bag_decode(rep->encoding, "", 0, &conv, &clen, err, errsz);
	free(conv);
	if (r == MIG_ERR_NOTFOUND) {
		(void)snprintf(err, errsz, "unsupported "
		    "Tag-File-Character-Encoding \"%s\"", rep->encoding);
		r = MIG_ERR_FORMAT;
	}
	return r;
}

static int
declaration(struct val *v)
{
	struct mig_bag_report *rep = v->rep;
	const char *why;
	char *buf = NULL, err[256];
	size_t len;
	bool bom;
	int r;

	r = v->src->ops->read_all(v->src, "bagit.txt", &buf, &len);
	if (r == MIG_ERR_NOTFOUND) {
		(void)finding(v, MIG_BAG_FORMAT, "bagit.txt", "missing: not a "
		    "bag");
		return mig_seterr(v->ctx, MIG_ERR_FORMAT, "%s: not a bag (no "
		    "bagit.txt)", v->src->name);
	}
	if (r != 0)
		return r;
	if ((why = declaration_bom(buf, len)) != NULL) {
		(void)snprintf(err, sizeof(err), "%s", why);
		r = MIG_ERR_FORMAT;
	} else
		r = mig_bag_parse_declaration(buf, len, rep->version,
		    sizeof(rep->version), rep->encoding,
		    sizeof(rep->encoding), &bom, err, sizeof(err));
	free(buf);
	if (r == 0)
		r = declaration_check(v, err, sizeof(err));
	if (r == MIG_ERR_NOMEM)
		return mig_seterr(v->ctx, r, "out of memory");
	if (r != 0) {
		(void)finding(v, MIG_BAG_FORMAT, "bagit.txt", "%s", err);
		return mig_seterr(v->ctx, MIG_ERR_FORMAT, "%s/bagit.txt: %s",
		    v->src->name, err);
	}
	v->decode = v->ver >= 100;
	/* 0.95 to 0.97 need a payload file in one manifest only. */
	v->every = v->ver <= 94 || v->ver >= 100;
	v->info_name = v->ver <= 95 ? "package-info.txt" : "bag-info.txt";
	return 0;
}

static int
alg_index(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < NALG; i++)
		if (strlen(algs[i].name) == len &&
		    strncmp(algs[i].name, name, len) == 0)
			return (int)i;
	return -1;
}

/*
 * 0.93 and 0.94: NAME.ALG holds the checksum of tag file NAME ("tag
 * checksum file", draft-kunze-bagit-00 2.1).  Remembers it for checking.
 */
static int
tag_checksum_file(struct val *v, const char *name)
{
	const char *dot = strrchr(name, '.');
	struct tcfile *nt;
	int a;

	if (v->ver > 94 || dot == NULL || dot == name ||
	    (a = alg_index(dot + 1, strlen(dot + 1))) < 0)
		return 0;
	if ((nt = realloc(v->tcf, (v->ntcf + 1) * sizeof(*nt))) == NULL)
		return mig_seterr(v->ctx, MIG_ERR_NOMEM, "out of memory");
	v->tcf = nt;
	if ((nt[v->ntcf].name = strdup(name)) == NULL)
		return mig_seterr(v->ctx, MIG_ERR_NOMEM, "out of memory");
	nt[v->ntcf++].alg = a;
	v->tcf_mask |= 1u << a;
	return 0;
}

static int
top_entry(void *arg, const char *name)
{
	struct val *v = arg;
	size_t n = strlen(name), plen;
	const char *alg;
	bool tag;
	int a;

	if (strcmp(name, "fetch.txt") == 0) {
		v->has_fetch = true;
		return 0;
	}
	if (strcmp(name, v->info_name) == 0) {
		v->has_info = true;
		return 0;
	}
	if (n > 13 && strncmp(name, "tagmanifest-", 12) == 0)
		tag = true;
	else if (n > 10 && strncmp(name, "manifest-", 9) == 0)
		tag = false;
	else
		return tag_checksum_file(v, name);
	if (n < 4 || strcmp(name + n - 4, ".txt") != 0)
		return tag_checksum_file(v, name);
	plen = tag ? 12 : 9;
	alg = name + plen;
	if ((a = alg_index(alg, n - plen - 4)) < 0) {
		v->unsupported++;
		return finding(v, MIG_BAG_FORMAT, name, "unsupported "
		    "algorithm; this manifest cannot be checked");
	}
	if (tag)
		v->tag_mask |= 1u << a;
	else
		v->payload_mask |= 1u << a;
	return 0;
}

static void
alg_list(unsigned mask, char *out, size_t outsz)
{
	size_t i, len = 0;

	out[0] = '\0';
	for (i = 0; i < NALG; i++) {
		if (!(mask & (1u << i)))
			continue;
		(void)snprintf(out + len, outsz - len, "%s%s",
		    len > 0 ? "," : "", algs[i].name);
		len = strlen(out);
	}
}

static int
info_item(void *arg, const char *label, const char *value)
{
	struct val *v = arg;
	struct mig_bag_report *rep = v->rep;
	struct mig_bag_info_item *ni;

	if (rep->ninfo >= 100000)
		return 0;	/* absurd; keep the rest out of memory */
	ni = realloc(rep->info, (rep->ninfo + 1) * sizeof(*ni));
	if (ni == NULL)
		return MIG_ERR_NOMEM;
	rep->info = ni;
	ni[rep->ninfo].label = strdup(label);
	ni[rep->ninfo].value = strdup(value);
	if (ni[rep->ninfo].label == NULL || ni[rep->ninfo].value == NULL) {
		free(ni[rep->ninfo].label);
		free(ni[rep->ninfo].value);
		return MIG_ERR_NOMEM;
	}
	rep->ninfo++;
	return 0;
}

static void
info_err(void *arg, size_t lineno, const char *why)
{
	struct val *v = arg;

	(void)finding(v, MIG_BAG_FORMAT, v->info_name, "line %zu: %s",
	    lineno, why);
}

static int
bag_info(struct val *v)
{
	const char *text;
	char *buf;
	size_t len;
	int r;

	if (!v->has_info)
		return 0;
	if ((r = read_tag(v, v->info_name, &buf, &text, &len)) != 0)
		return r;
	r = mig_bag_parse_info(text, len, info_item, info_err, v);
	free(buf);
	if (r == MIG_ERR_NOMEM)
		r = mig_seterr(v->ctx, r, "out of memory");
	return r;
}

/* Finds or adds the entry for a decoded path; *idxp gets its index. */
static int
entry_get(struct val *v, const char *path, bool create, size_t *idxp,
    bool *existed)
{
	struct pent *np, *e;
	char *key;
	size_t klen, old;
	bool found;
	int r;

	*existed = false;
	if ((key = mig_bag_nfd(path, strlen(path), &klen)) == NULL)
		return mig_seterr(v->ctx, MIG_ERR_NOMEM, "out of memory");
	if (mig_htab_get(&v->idx, key, &old)) {
		free(key);
		*idxp = old;
		*existed = true;
		return 0;
	}
	if (!create) {
		free(key);
		return MIG_ERR_NOTFOUND;
	}
	if (v->npe == v->cappe) {
		size_t ncap = v->cappe == 0 ? 256 : v->cappe * 2;

		if ((np = realloc(v->pe, ncap * sizeof(*np))) == NULL) {
			free(key);
			return mig_seterr(v->ctx, MIG_ERR_NOMEM,
			    "out of memory");
		}
		v->pe = np;
		v->cappe = ncap;
	}
	e = &v->pe[v->npe];
	memset(e, 0, sizeof(*e));
	e->key = key;
	e->known_size = -1;
	if ((e->path = strdup(path)) == NULL) {
		free(key);
		return mig_seterr(v->ctx, MIG_ERR_NOMEM, "out of memory");
	}
	if ((r = mig_htab_put(&v->idx, e->key, v->npe, &found,
	    &old)) != 0) {
		free(e->path);
		free(key);
		return mig_seterr(v->ctx, MIG_ERR_NOMEM, "out of memory");
	}
	*idxp = v->npe++;
	return 0;
}

/* One well-formed line of a payload or tag manifest, or of fetch.txt. */
struct tag_line {
	const char	*tagfile;
	size_t		 lineno;
	const char	*path;		/* decoded, free of traversal */
	unsigned char	 digest[DMAX];	/* manifests */
	int64_t		 size;		/* fetch.txt: -1 when "-" */
};

typedef int (*tag_line_fn)(struct val *v, const struct tag_line *l, int a);

static int
line_finding(struct val *v, const struct tag_line *l, const char *why)
{
	char sbuf[512];

	return finding(v, MIG_BAG_FORMAT, l->tagfile, "line %zu: %s: %s",
	    l->lineno, shown(l->path, sbuf, sizeof(sbuf)), why);
}

/*
 * Parses every line of tagfile: a manifest of algorithm a, or fetch.txt
 * when a < 0.  A "./" before the path, and before 1.0 md5sum's '*' (and
 * in fetch.txt a leading '/'), are removed.  Lines that do not parse, and
 * paths that escape the bag, are findings; fn gets the rest.  Only hard
 * errors stop the walk.
 */
static int
each_tag_line(struct val *v, const char *tagfile, int a, tag_line_fn fn)
{
	struct mig_bag_lines it;
	struct tag_line l;
	const char *text, *line, *why;
	char *buf = NULL, *path = NULL;
	unsigned strip = 0;
	size_t len, n;
	int r;

	if ((r = read_tag(v, tagfile, &buf, &text, &len)) != 0)
		return r;
	if (v->ver < 100)
		strip = a < 0 ? MIG_BAG_STRIP_SLASH : MIG_BAG_STRIP_STAR;
	l.tagfile = tagfile;
	mig_bag_lines_init(&it, text, len);
	while (r == 0 && mig_bag_lines_next(&it, &line, &n)) {
		if (blank(line, n))
			continue;
		l.size = -1;
		if (a < 0)
			r = mig_bag_parse_fetch_line(line, n, v->decode,
			    &l.size, &path, &why);
		else
			r = mig_bag_parse_manifest_line(line, n, algs[a].dlen,
			    v->decode, l.digest, &path, &why);
		l.lineno = it.lineno;
		l.path = path != NULL ? mig_bag_path_strip(path, strip) : NULL;
		if (r == MIG_ERR_NOMEM)
			r = mig_seterr(v->ctx, r, "out of memory");
		else if (r != 0)
			r = finding(v, MIG_BAG_FORMAT, tagfile, "line %zu: %s",
			    it.lineno, why);
		else if ((why = mig_bag_path_problem(l.path,
		    strlen(l.path))) != NULL)
			r = line_finding(v, &l, why);
		else
			r = fn(v, &l, a);
		free(path);
		path = NULL;
	}
	free(buf);
	return r;
}

static int
payload_line(struct val *v, const struct tag_line *l, int a)
{
	size_t idx;
	bool existed;
	int r;

	if (strncmp(l->path, "data/", 5) != 0 && l->path[0] == '*' &&
	    strncmp(l->path + 1, "data/", 5) == 0)
		return line_finding(v, l, "'*' before the path (md5sum binary "
		    "mode) fails strict BagIt 1.0 validation (RFC 8493 6.1.3)");
	/* Up to 0.95 a payload manifest may list tag files too. */
	if (strncmp(l->path, "data/", 5) != 0 &&
	    (v->ver > 95 || strchr(l->path, '/') != NULL))
		return line_finding(v, l, "payload path not under data/");
	if ((r = entry_get(v, l->path, true, &idx, &existed)) != 0)
		return r;
	v->pe[idx].tag = strncmp(l->path, "data/", 5) != 0;
	if (v->pe[idx].dig[a] != NULL)
		return finding(v, MIG_BAG_FORMAT, l->tagfile, "line %zu: "
		    "duplicate entry for %s", l->lineno, l->path);
	if ((v->pe[idx].dig[a] = malloc(algs[a].dlen)) == NULL)
		return mig_seterr(v->ctx, MIG_ERR_NOMEM, "out of memory");
	memcpy(v->pe[idx].dig[a], l->digest, algs[a].dlen);
	return 0;
}

static int
payload_manifest(struct val *v, int a)
{
	char name[64];

	(void)snprintf(name, sizeof(name), "manifest-%s.txt", algs[a].name);
	return each_tag_line(v, name, a, payload_line);
}

static int
fetch_line(struct val *v, const struct tag_line *l, int a)
{
	size_t idx;
	bool existed;
	int r;

	(void)a;
	if (strncmp(l->path, "data/", 5) != 0)
		return line_finding(v, l, "fetched path not under data/");
	v->rep->fetch_entries++;
	r = entry_get(v, l->path, false, &idx, &existed);
	if (r == MIG_ERR_NOTFOUND)
		return finding(v, MIG_BAG_FORMAT, l->tagfile, "line %zu: %s "
		    "is in no payload manifest", l->lineno, l->path);
	if (r == 0) {
		v->pe[idx].in_fetch = true;
		if (l->size >= 0)
			v->pe[idx].known_size = l->size;
	}
	return r;
}

static int
fetch(struct val *v)
{
	return v->has_fetch ? each_tag_line(v, "fetch.txt", -1, fetch_line) :
	    0;
}

/* Hashes rel with every algorithm in mask; out[a] gets each digest. */
static int
hash_file(struct val *v, const char *rel, const struct walkfile *wf,
    unsigned mask, unsigned char out[NALG][DMAX], uint64_t *nbytes)
{
	void *h = NULL;
	size_t n, a;
	uint64_t total = 0;
	int r;

	for (a = 0; a < NALG; a++)
		if ((mask & (1u << a)) &&
		    EVP_DigestInit_ex(v->mctx[a], v->md[a], NULL) != 1)
			return mig_seterr_ssl(v->ctx, MIG_ERR_CRYPTO, "%s",
			    algs[a].name);
	if ((r = v->src->ops->open(v->src, rel, wf, &h)) != 0)
		return r;
	for (;;) {
		if ((r = v->src->ops->read(v->src, h, v->buf,
		    MIG_BAG_READ_CHUNK, &n)) != 0) {
			(void)mig_preferr(v->ctx, "%s", rel);
			goto out;
		}
		if (n == 0)
			break;
		total += n;
		for (a = 0; a < NALG; a++)
			if ((mask & (1u << a)) &&
			    EVP_DigestUpdate(v->mctx[a], v->buf, n) != 1) {
				r = mig_seterr_ssl(v->ctx, MIG_ERR_CRYPTO,
				    "%s", algs[a].name);
				goto out;
			}
	}
	for (a = 0; a < NALG; a++)
		if ((mask & (1u << a)) &&
		    EVP_DigestFinal_ex(v->mctx[a], out[a], NULL) != 1) {
			r = mig_seterr_ssl(v->ctx, MIG_ERR_CRYPTO, "%s",
			    algs[a].name);
			goto out;
		}
	*nbytes = total;
out:
	v->src->ops->close(v->src, h);
	return r;
}

static int
on_odd(void *arg, const char *rel, const char *what)
{
	return finding(arg, MIG_BAG_FORMAT, rel, "%s", what);
}

static int
on_payload(void *arg, const char *rel, uint64_t size,
    const struct walkfile *wf)
{
	struct val *v = arg;
	struct mig_bag_report *rep = v->rep;
	unsigned char got[NALG][DMAX];
	char ehex[2 * DMAX + 1], ghex[2 * DMAX + 1];
	struct pent *e;
	uint64_t nbytes = 0;
	unsigned mask = 0;
	size_t idx, a;
	bool existed;
	int r;

	rep->payload_files++;
	rep->payload_bytes += size;
	r = entry_get(v, rel, false, &idx, &existed);
	if (r == MIG_ERR_NOTFOUND)
		return finding(v, MIG_BAG_EXTRA, rel, "not in any payload "
		    "manifest");
	if (r != 0)
		return r;
	e = &v->pe[idx];
	if (e->found)
		return finding(v, MIG_BAG_EXTRA, rel, "same name as %s up to "
		    "Unicode normalisation; only one is checked", e->path);
	e->found = true;
	for (a = 0; a < NALG; a++) {
		if (!(v->payload_mask & (1u << a)))
			continue;
		if (e->dig[a] != NULL)
			mask |= 1u << a;
		else if (v->every && (r = finding(v, MIG_BAG_EXTRA, rel,
		    "not listed in manifest-%s.txt", algs[a].name)) != 0)
			return r;
	}
	if ((r = hash_file(v, rel, wf, mask, got, &nbytes)) != 0) {
		if (r == MIG_ERR_NOTFOUND) {
			e->found = false;	/* vanished meanwhile */
			return 0;
		}
		if (r == MIG_ERR_FORMAT || r == MIG_ERR_SECURITY) {
			/* A link or special file the source refused. */
			r = finding(v, MIG_BAG_FORMAT, rel, "%s",
			    mig_errmsg(v->ctx));
			mig_clearerr(v->ctx);
		}
		return r;
	}
	rep->files_hashed++;
	rep->bytes_hashed += nbytes;
	for (a = 0; a < NALG; a++) {
		if (!(mask & (1u << a)) ||
		    memcmp(got[a], e->dig[a], algs[a].dlen) == 0)
			continue;
		mig_hex_encode(e->dig[a], algs[a].dlen, ehex);
		mig_hex_encode(got[a], algs[a].dlen, ghex);
		if (e->known_size >= 0 && nbytes < (uint64_t)e->known_size)
			r = finding(v, MIG_BAG_TRUNCATED, rel, "%llu bytes, "
			    "%lld expected; %s %s, expected %s",
			    (unsigned long long)nbytes,
			    (long long)e->known_size, algs[a].name, ghex,
			    ehex);
		else
			r = finding(v, MIG_BAG_ALTERED, rel, "%s %s, expected "
			    "%s", algs[a].name, ghex, ehex);
		if (r != 0)
			return r;
		break;		/* one finding per file */
	}
	if (v->opts != NULL && v->opts->progress != NULL)
		v->opts->progress(v->opts->progress_arg, rep->files_hashed,
		    rep->bytes_hashed);
	return 0;
}

/*
 * Up to 0.95 a payload manifest may list tag files (0.93 and 0.94 in every
 * manifest, like payload files): each is checked with every algorithm
 * that lists it.
 */
static int
legacy_tag_entry(struct val *v, const struct pent *e)
{
	unsigned char got[NALG][DMAX];
	char ehex[2 * DMAX + 1], ghex[2 * DMAX + 1];
	unsigned mask = 0;
	uint64_t nbytes;
	size_t a;
	int r;

	for (a = 0; a < NALG; a++) {
		if (!(v->payload_mask & (1u << a)))
			continue;
		if (e->dig[a] != NULL)
			mask |= 1u << a;
		else if (v->every && (r = finding(v, MIG_BAG_EXTRA, e->path,
		    "not listed in manifest-%s.txt", algs[a].name)) != 0)
			return r;
	}
	r = hash_file(v, e->path, NULL, mask, got, &nbytes);
	if (r == MIG_ERR_NOTFOUND)
		return finding(v, MIG_BAG_MISSING, e->path, "listed in the "
		    "payload manifest, not in the bag");
	if (r == MIG_ERR_FORMAT) {
		r = finding(v, MIG_BAG_FORMAT, e->path, "%s",
		    mig_errmsg(v->ctx));
		mig_clearerr(v->ctx);
		return r;
	}
	for (a = 0; r == 0 && a < NALG; a++) {
		if (!(mask & (1u << a)) ||
		    memcmp(got[a], e->dig[a], algs[a].dlen) == 0)
			continue;
		mig_hex_encode(e->dig[a], algs[a].dlen, ehex);
		mig_hex_encode(got[a], algs[a].dlen, ghex);
		return finding(v, MIG_BAG_ALTERED, e->path, "%s %s, expected "
		    "%s (manifest-%s.txt)", algs[a].name, ghex, ehex,
		    algs[a].name);
	}
	return r;
}

/*
 * A payload file of the manifest that a remote listing left out, asked
 * for by name: a WebDAV server may serve names its listings hide
 * (nginx's dav_ext leaves dot-files out of PROPFIND).  A local walk sees
 * every name, so only a transport's bag is asked.  e->found says whether
 * it was there; it is then checked and counted as the walk would have.
 */
static int
unlisted_entry(struct val *v, struct pent *e)
{
	struct mig_bag_report *rep = v->rep;
	uint64_t hashed = rep->bytes_hashed;
	int r;

	if (v->src->t == NULL)
		return 0;
	r = on_payload(v, e->path, 0, NULL);
	if (e->found)
		rep->payload_bytes += rep->bytes_hashed - hashed;
	else
		rep->payload_files--;	/* not there after all */
	return r;
}

/* Payload-Oxum against what the walk counted. */
static int
oxum(struct val *v)
{
	struct mig_bag_report *rep = v->rep;
	const char *ox;
	uint64_t ob, of;
	size_t i, n = 0;
	int r;

	for (i = 0; i < rep->ninfo; i++)
		if (strcasecmp(rep->info[i].label, "Payload-Oxum") == 0)
			n++;
	if (n > 1 && v->ver >= 100 && (r = finding(v, MIG_BAG_FORMAT,
	    v->info_name, "Payload-Oxum given %zu times; RFC 8493 2.2.2 "
	    "allows one", n)) != 0)
		return r;
	if ((ox = mig_bag_report_info(rep, "Payload-Oxum")) == NULL)
		return 0;
	if (mig_bag_parse_oxum(ox, &ob, &of) != 0)
		return finding(v, MIG_BAG_FORMAT, v->info_name, "bad "
		    "Payload-Oxum \"%s\"", ox);
	if (ob != rep->payload_bytes || of != rep->payload_files)
		return finding(v, MIG_BAG_OXUM, v->info_name, "Payload-Oxum "
		    "%llu.%llu, payload has %llu bytes in %llu files",
		    (unsigned long long)ob, (unsigned long long)of,
		    (unsigned long long)rep->payload_bytes,
		    (unsigned long long)rep->payload_files);
	return 0;
}

static int
payload(struct val *v)
{
	size_t i;
	int r;

	r = v->src->ops->walk(v->src, on_payload, on_odd, v);
	if (r == MIG_ERR_NOTFOUND || r == MIG_ERR_FORMAT) {
		if ((r = finding(v, MIG_BAG_FORMAT, "data", "%s", r ==
		    MIG_ERR_NOTFOUND ? "payload directory missing" :
		    mig_errmsg(v->ctx))) != 0)
			return r;
		mig_clearerr(v->ctx);
	} else if (r != 0)
		return r;
	for (i = 0; i < v->npe; i++) {
		if (v->pe[i].found)
			continue;
		if (v->pe[i].tag)
			r = legacy_tag_entry(v, &v->pe[i]);
		else if (v->pe[i].in_fetch)
			r = finding(v, MIG_BAG_FETCH, v->pe[i].path, "listed "
			    "in fetch.txt and not fetched: the bag is not "
			    "complete");
		else if ((r = unlisted_entry(v, &v->pe[i])) == 0 &&
		    !v->pe[i].found)
			r = finding(v, MIG_BAG_MISSING, v->pe[i].path,
			    "listed in the payload manifest, not in the bag");
		if (r != 0)
			return r;
	}
	return oxum(v);
}

/* The algorithm of a payload manifest name "manifest-ALG.txt", or -1. */
static int
payload_manifest_alg(const char *name)
{
	size_t n = strlen(name);

	if (n <= 13 || strncmp(name, "manifest-", 9) != 0 ||
	    strcmp(name + n - 4, ".txt") != 0)
		return -1;
	return alg_index(name + 9, n - 13);
}

static int
tag_line(struct val *v, const struct tag_line *l, int a)
{
	unsigned char got[NALG][DMAX];
	char ehex[2 * DMAX + 1], ghex[2 * DMAX + 1];
	uint64_t nbytes;
	int b, r;

	if (strncmp(l->path, "data/", 5) == 0)
		return line_finding(v, l, "payload file in a tag manifest");
	if (strcmp(l->path, l->tagfile) == 0)
		return line_finding(v, l, "a tag manifest cannot list itself");
	if (v->ver >= 100 && strncmp(l->path, "tagmanifest-", 12) == 0 &&
	    strchr(l->path, '/') == NULL)
		return line_finding(v, l, "a tag manifest must not list tag "
		    "manifests (RFC 8493 2.2.1)");
	if ((b = payload_manifest_alg(l->path)) >= 0)
		v->tm_listed |= 1u << b;
	r = hash_file(v, l->path, NULL, 1u << a, got, &nbytes);
	if (r == MIG_ERR_NOTFOUND)
		return finding(v, MIG_BAG_MISSING, l->path, "listed in %s, "
		    "not in the bag", l->tagfile);
	if (r == MIG_ERR_FORMAT) {
		r = finding(v, MIG_BAG_FORMAT, l->path, "%s",
		    mig_errmsg(v->ctx));
		mig_clearerr(v->ctx);
		return r;
	}
	if (r == 0 && memcmp(got[a], l->digest, algs[a].dlen) != 0) {
		mig_hex_encode(l->digest, algs[a].dlen, ehex);
		mig_hex_encode(got[a], algs[a].dlen, ghex);
		return finding(v, MIG_BAG_ALTERED, l->path, "%s %s, expected "
		    "%s (%s)", algs[a].name, ghex, ehex, l->tagfile);
	}
	return r;
}

/* A tag manifest; in 1.0 it must list every payload manifest. */
static int
tag_manifest(struct val *v, int a)
{
	char name[64], miss[64];
	unsigned left;
	int r;

	(void)snprintf(name, sizeof(name), "tagmanifest-%s.txt",
	    algs[a].name);
	v->tm_listed = 0;
	if ((r = each_tag_line(v, name, a, tag_line)) != 0)
		return r;
	left = v->payload_mask & ~v->tm_listed;
	if (v->ver >= 100 && left != 0) {
		alg_list(left, miss, sizeof(miss));
		r = finding(v, MIG_BAG_FORMAT, name, "does not list the "
		    "payload manifest for %s; RFC 8493 2.2.1 wants every one",
		    miss);
	}
	return r;
}

static int
cmp_finding(const void *a, const void *b)
{
	const struct mig_bag_finding *x = a, *y = b;
	int c = strcmp(x->path, y->path);

	if (c != 0)
		return c;
	return (int)x->kind - (int)y->kind;
}

static void
known_sizes(struct val *v)
{
	uint64_t size;
	size_t i;

	if (v->opts == NULL || v->opts->expect == NULL)
		return;
	for (i = 0; i < v->npe; i++)
		if (mig_bag_manifest_lookup(v->opts->expect,
		    v->pe[i].path + 5, NULL, &size) && size <= INT64_MAX)
			v->pe[i].known_size = (int64_t)size;
}

static int
setup_digests(struct val *v)
{
	unsigned mask = v->payload_mask | v->tag_mask | v->tcf_mask;
	size_t a;

	for (a = 0; a < NALG; a++) {
		if (!(mask & (1u << a)))
			continue;
		v->md[a] = EVP_MD_fetch(NULL, algs[a].evp, NULL);
		v->mctx[a] = EVP_MD_CTX_new();
		if (v->md[a] == NULL || v->mctx[a] == NULL)
			return mig_seterr_ssl(v->ctx, MIG_ERR_CRYPTO,
			    "%s: digest %s unavailable", v->src->name,
			    algs[a].name);
	}
	if ((v->buf = malloc(MIG_BAG_READ_CHUNK)) == NULL)
		return mig_seterr(v->ctx, MIG_ERR_NOMEM, "out of memory");
	return 0;
}

static void
summary(struct val *v)
{
	static const enum mig_bag_kind order[] = {
		MIG_BAG_FORMAT, MIG_BAG_ALTERED, MIG_BAG_TRUNCATED,
		MIG_BAG_MISSING, MIG_BAG_EXTRA, MIG_BAG_FETCH, MIG_BAG_OXUM,
	};
	char msg[512];
	size_t i, len = 0;

	msg[0] = '\0';
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (v->rep->counts[order[i]] == 0)
			continue;
		(void)snprintf(msg + len, sizeof(msg) - len, "%s%zu %s",
		    len > 0 ? ", " : "", v->rep->counts[order[i]],
		    mig_bag_kind_name(order[i]));
		len = strlen(msg);
	}
	(void)mig_seterr(v->ctx, v->rep->counts[MIG_BAG_FORMAT] > 0 ?
	    MIG_ERR_FORMAT : MIG_ERR_VERIFY, "%s: bag is not valid: %s",
	    v->src->name, msg);
}

static int
validate(struct src *s, const struct mig_bag_validate_opts *opts,
    struct mig_bag_report *rep, struct mig_ctx *ctx)
{
	struct val v;
	size_t i, k;
	int a, r;

	memset(&v, 0, sizeof(v));
	v.src = s;
	v.ctx = ctx;
	v.rep = rep;
	v.opts = opts;
	v.max_findings = opts != NULL && opts->max_findings > 0 ?
	    opts->max_findings : MIG_BAG_FINDINGS_MAX;

	if ((r = declaration(&v)) != 0)
		goto out;
	if ((r = s->ops->list_top(s, top_entry, &v)) != 0)
		goto out;
	alg_list(v.payload_mask, rep->payload_algs, sizeof(rep->payload_algs));
	alg_list(v.tag_mask, rep->tag_algs, sizeof(rep->tag_algs));
	if (v.payload_mask == 0) {
		(void)finding(&v, MIG_BAG_FORMAT, "", "no payload manifest "
		    "(manifest-ALG.txt) that can be checked");
		r = mig_seterr(ctx, MIG_ERR_FORMAT, "%s: no payload manifest "
		    "that can be checked", s->name);
		goto out;
	}
	if ((r = setup_digests(&v)) != 0 ||
	    (r = mig_htab_init(&v.idx, 1024)) != 0 ||
	    (r = bag_info(&v)) != 0)
		goto out;
	for (a = 0; a < (int)NALG; a++)
		if ((v.payload_mask & (1u << a)) &&
		    (r = payload_manifest(&v, a)) != 0)
			goto out;
	rep->manifest_entries = v.npe;
	if ((r = fetch(&v)) != 0)
		goto out;
	known_sizes(&v);
	if ((r = payload(&v)) != 0)
		goto out;
	for (a = 0; a < (int)NALG; a++)
		if ((v.tag_mask & (1u << a)) && (r = tag_manifest(&v, a)) != 0)
			goto out;
	for (i = 0; i < v.ntcf; i++)
		if ((r = each_tag_line(&v, v.tcf[i].name, v.tcf[i].alg,
		    tag_line)) != 0)
			goto out;
	r = 0;
	for (k = 0; k < MIG_BAG_NKINDS; k++)
		if (rep->counts[k] > 0)
			r = MIG_ERR_VERIFY;
	if (rep->counts[MIG_BAG_FORMAT] > 0)
		r = MIG_ERR_FORMAT;
	if (r != 0)
		summary(&v);
out:
	if (r == MIG_ERR_NOMEM && mig_errcode(ctx) != MIG_ERR_NOMEM)
		(void)mig_seterr(ctx, r, "out of memory");
	if (rep->nfindings > 1)
		qsort(rep->findings, rep->nfindings, sizeof(*rep->findings),
		    cmp_finding);
	for (i = 0; i < v.npe; i++) {
		free(v.pe[i].path);
		free(v.pe[i].key);
		for (k = 0; k < NALG; k++)
			free(v.pe[i].dig[k]);
	}
	free(v.pe);
	for (i = 0; i < v.ntcf; i++)
		free(v.tcf[i].name);
	free(v.tcf);
	mig_htab_free(&v.idx);
	for (k = 0; k < NALG; k++) {
		EVP_MD_CTX_free(v.mctx[k]);
		EVP_MD_free(v.md[k]);
	}
	free(v.buf);
	return r;
}

int
mig_bag_validate(const char *dir, const struct mig_bag_validate_opts *opts,
    struct mig_bag_report *rep, struct mig_ctx *ctx)
{
	struct src s;
	int r;

	memset(rep, 0, sizeof(*rep));
	memset(&s, 0, sizeof(s));
	s.ops = &local_ops;
	s.ctx = ctx;
	s.name = dir;
	s.bagfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s.bagfd < 0)
		return mig_seterr(ctx, errno == ENOENT ? MIG_ERR_NOTFOUND :
		    MIG_ERR_IO, "%s: %s", dir, strerror(errno));
	r = validate(&s, opts, rep, ctx);
	(void)close(s.bagfd);
	return r;
}

int
mig_bag_validate_t(struct mig_transport *t, const char *bagdir,
    const struct mig_bag_validate_opts *opts, struct mig_bag_report *rep,
    struct mig_ctx *ctx)
{
	struct src s;
	char *name;
	size_t n;
	int r;

	memset(rep, 0, sizeof(*rep));
	memset(&s, 0, sizeof(s));
	s.ops = &transport_ops;
	s.ctx = ctx;
	s.t = t;
	s.bagdir = bagdir;
	s.bagfd = -1;
	n = strlen(t->root != NULL ? t->root : "") +
	    strlen(bagdir != NULL ? bagdir : "") + 2;
	if ((name = malloc(n)) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	(void)snprintf(name, n, "%s/%s", t->root != NULL ? t->root : "",
	    bagdir != NULL ? bagdir : "");
	s.name = name;
	r = validate(&s, opts, rep, ctx);
	free(name);
	return r;
}

void
mig_bag_report_free(struct mig_bag_report *rep)
{
	size_t i;

	if (rep == NULL)
		return;
	for (i = 0; i < rep->nfindings; i++) {
		free(rep->findings[i].path);
		free(rep->findings[i].detail);
	}
	for (i = 0; i < rep->ninfo; i++) {
		free(rep->info[i].label);
		free(rep->info[i].value);
	}
	free(rep->findings);
	free(rep->info);
	memset(rep, 0, sizeof(*rep));
}

const char *
mig_bag_report_info(const struct mig_bag_report *rep, const char *label)
{
	size_t i;

	for (i = 0; i < rep->ninfo; i++)
		if (strcasecmp(rep->info[i].label, label) == 0)
			return rep->info[i].value;
	return NULL;
}

const char *
mig_bag_kind_name(enum mig_bag_kind kind)
{
	switch (kind) {
	case MIG_BAG_MISSING:	return "missing";
	case MIG_BAG_EXTRA:	return "extra";
	case MIG_BAG_ALTERED:	return "altered";
	case MIG_BAG_TRUNCATED:	return "truncated";
	case MIG_BAG_OXUM:	return "oxum";
	case MIG_BAG_FETCH:	return "fetch";
	case MIG_BAG_FORMAT:	return "format";
	case MIG_BAG_NKINDS:	break;
	}
	return "unknown";
}
