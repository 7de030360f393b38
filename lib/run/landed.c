/*
 * The check before a run is published: every object of the bag is in the
 * lake with the size that was written.  One listing per folder of the
 * bag, not a stat per object: over a WAN a stat is a round trip, and a
 * run of a million small files would pay a million of them one after
 * another, where its folders are a few thousand listings.  A name the
 * listing left out is then asked for by itself (stat_one).
 *
 * The objects go by in the manifest's order (strcmp of their place in
 * the bag), in which everything beneath a folder comes in one stretch.
 * So the listings held are those of the folders above the current one,
 * each made once, and memory does not grow with the run (issue 20).
 */
#define MIG_RUN_INTERNAL
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "migrate/error.h"
#include "migrate/transport.h"
#include "migrate/util.h"

#include "run_core.h"

/* One folder's files as its listing gave them: name -> size. */
struct listing {
	char		*dir;		/* bag-relative; "" for the bag */
	size_t		 dirlen;
	struct mig_htab	 names;		/* -> index in own and size */
	char		**own;
	uint64_t	*size;
	size_t		 n, cap;
	int		 err;		/* of the listing callback */
};

/* The folders above the object at hand, each with its listing. */
struct folders {
	struct listing	*v;
	size_t		 depth, cap;
};

static void
listing_free(struct listing *l)
{
	size_t i;

	mig_htab_free(&l->names);
	for (i = 0; i < l->n; i++)
		free(l->own[i]);
	free(l->own);
	free(l->size);
	free(l->dir);
	memset(l, 0, sizeof(*l));
}

static int
listing_entry(void *arg, const char *name, const struct mig_tstat *st)
{
	struct listing *l = arg;
	size_t ncap;
	void *np;
	bool dup;

	if (st->type != MIG_FT_FILE)
		return 0;
	if (l->n == l->cap) {
		ncap = l->cap == 0 ? 64 : l->cap * 2;
		if ((np = reallocarray(l->own, ncap, sizeof(*l->own))) == NULL)
			return l->err = MIG_ERR_NOMEM;
		l->own = np;
		if ((np = reallocarray(l->size, ncap, sizeof(*l->size))) ==
		    NULL)
			return l->err = MIG_ERR_NOMEM;
		l->size = np;
		l->cap = ncap;
	}
	if ((l->own[l->n] = strdup(name)) == NULL)
		return l->err = MIG_ERR_NOMEM;
	if (mig_htab_put(&l->names, l->own[l->n], l->n, &dup, NULL) != 0) {
		free(l->own[l->n]);
		return l->err = MIG_ERR_NOMEM;
	}
	if (dup) {
		free(l->own[l->n]);
		return 0;
	}
	l->size[l->n++] = st->size;
	return 0;
}

/* Lists run_dir/DIR (dest[0..dirlen)) into l. */
static int
list_folder(struct run *rn, const char *dest, size_t dirlen,
    struct listing *l)
{
	char full[PATH_MAX];
	int r;

	memset(l, 0, sizeof(*l));
	if ((l->dir = strndup(dest, dirlen)) == NULL)
		return mig_seterr(rn->ctx, MIG_ERR_NOMEM, "out of memory");
	l->dirlen = dirlen;
	if ((r = run_join(full, sizeof(full), rn->run_dir, l->dir)) != 0)
		return mig_seterr(rn->ctx, r, "%s/%s: path too long",
		    rn->run_dir, l->dir);
	r = mig_transport_list(rn->t, full, listing_entry, l);
	if (l->err != 0)
		return mig_seterr(rn->ctx, l->err, "out of memory");
	if (r == MIG_ERR_NOTFOUND) {
		/* The folder is gone: so is every object in it. */
		mig_clearerr(rn->ctx);
		r = 0;
	}
	return r;
}

/* Whether folder a (alen bytes) is dir[0..dirlen) or above it. */
static bool
holds(const char *a, size_t alen, const char *dir, size_t dirlen)
{
	if (alen == 0)
		return true;
	return alen <= dirlen && memcmp(a, dir, alen) == 0 &&
	    (alen == dirlen || dir[alen] == '/');
}

/*
 * The listing of the folder of dest (dirlen bytes): folders passed are
 * let go of, and a new one is listed once.
 */
static int
folder_of(struct run *rn, struct folders *f, const char *dest, size_t dirlen,
    struct listing **lp)
{
	struct listing *top;
	void *np;
	int r;

	while (f->depth > 0 && !holds(f->v[f->depth - 1].dir,
	    f->v[f->depth - 1].dirlen, dest, dirlen))
		listing_free(&f->v[--f->depth]);
	top = f->depth > 0 ? &f->v[f->depth - 1] : NULL;
	if (top != NULL && top->dirlen == dirlen) {
		*lp = top;
		return 0;
	}
	if (f->depth == f->cap) {
		f->cap = f->cap == 0 ? 16 : f->cap * 2;
		if ((np = reallocarray(f->v, f->cap, sizeof(*f->v))) == NULL)
			return mig_seterr(rn->ctx, MIG_ERR_NOMEM,
			    "out of memory");
		f->v = np;
	}
	if ((r = list_folder(rn, dest, dirlen, &f->v[f->depth])) != 0) {
		listing_free(&f->v[f->depth]);
		return r;
	}
	*lp = &f->v[f->depth++];
	return 0;
}

/*
 * What the listing did not show, asked for by name: WebDAV servers may
 * leave names out of a listing (nginx's dav_ext hides dot-files from
 * PROPFIND) that they serve all the same.  Costs a round trip only for
 * such names, or for objects that are really missing.
 */
static int
stat_one(struct run *rn, const struct obj *ob, bool *found, uint64_t *size)
{
	struct mig_tstat st;
	char full[PATH_MAX];
	int r;

	if ((r = run_join(full, sizeof(full), rn->run_dir, ob->dest)) != 0)
		return mig_seterr(rn->ctx, r, "%s/%s: path too long",
		    rn->run_dir, ob->dest);
	if ((r = mig_transport_stat(rn->t, full, &st)) == 0 &&
	    st.type == MIG_FT_FILE) {
		*found = true;
		*size = st.size;
	} else if (r == 0 || r == MIG_ERR_NOTFOUND) {
		mig_clearerr(rn->ctx);
		r = 0;
	}
	return r;
}

/* Whether ob is in the lake with its size; 0 or the error asking. */
static int
check_one(struct run *rn, struct folders *f, const struct obj *ob, bool *ok)
{
	const char *slash = strrchr(ob->dest, '/');
	const char *base = slash != NULL ? slash + 1 : ob->dest;
	size_t dirlen = slash != NULL ? (size_t)(slash - ob->dest) : 0, idx;
	struct listing *l = NULL;
	uint64_t size = 0;
	bool found;
	int r;

	if ((r = folder_of(rn, f, ob->dest, dirlen, &l)) != 0)
		return r;
	if ((found = mig_htab_get(&l->names, base, &idx)))
		size = l->size[idx];
	else if ((r = stat_one(rn, ob, &found, &size)) != 0)
		return r;
	*ok = found && size == ob->stored_size;
	return 0;
}

int
run_check_landed(struct run *rn, const struct obj *arch)
{
	const struct obj **ord = NULL, *ob;
	struct folders f = { NULL, 0, 0 };
	size_t i, k, n, bad = 0;
	bool ok;
	int r;

	if ((r = run_bag_order(rn, arch, false, &ord, &n)) != 0)
		return r;
	for (i = 0, k = 0; k < n && r == 0; i++, run_touch(rn)) {
		ob = ord != NULL ? ord[k] : i < rn->nobj ? &rn->objs[i] : arch;
		if (ord == NULL && !run_in_bag(ob, arch))
			continue;
		k++;
		if ((r = check_one(rn, &f, ob, &ok)) != 0 || ok)
			continue;
		bad++;
		(void)run_audit(rn, MIG_AUDIT_VERIFY_FAILED, json_pack(
		    "{s:s, s:s}", "object", ob->dest, "reason",
		    "missing or wrong size after landing"), rn->ctx);
	}
	while (f.depth > 0)
		listing_free(&f.v[--f.depth]);
	free(f.v);
	free(ord);
	if (r == 0 && bad != 0)
		r = mig_seterr(rn->ctx, MIG_ERR_VERIFY, "%s: %zu object%s "
		    "missing or of the wrong size after landing", rn->run_dir,
		    bad, bad == 1 ? "" : "s");
	return r;
}
