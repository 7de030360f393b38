/*
 * The check before a run is published: every object of the bag is in the
 * lake with the size that was written.  One listing per folder of the
 * bag, not a stat per object: over a WAN a stat is a round trip, and a
 * run of a million small files would pay a million of them one after
 * another, where its folders are a few thousand listings.  A name the
 * listing left out is then asked for by itself (stat_one).
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

/* One object to check: its place in the bag and what the listing said. */
struct landed {
	const struct obj *ob;
	const char	*base;		/* in ob->dest */
	size_t		 dirlen;	/* ob->dest up to the last '/' */
	bool		 listed;
	uint64_t	 size;
};

/* The objects of one folder, by name, while its listing comes in. */
struct folder {
	struct landed	*v;
	struct mig_htab	 names;		/* base -> index into v */
};

static int
landed_cmp(const void *a, const void *b)
{
	const struct landed *x = a, *y = b;
	size_t n = x->dirlen < y->dirlen ? x->dirlen : y->dirlen;
	int c = memcmp(x->ob->dest, y->ob->dest, n);

	if (c != 0)
		return c;
	if (x->dirlen != y->dirlen)
		return x->dirlen < y->dirlen ? -1 : 1;
	return strcmp(x->base, y->base);
}

static int
folder_entry(void *arg, const char *name, const struct mig_tstat *st)
{
	struct folder *f = arg;
	size_t i;

	if (st->type == MIG_FT_FILE && mig_htab_get(&f->names, name, &i)) {
		f->v[i].listed = true;
		f->v[i].size = st->size;
	}
	return 0;
}

/* Lists run_dir/DIR once for the n objects of v that live there. */
static int
check_folder(struct run *rn, struct landed *v, size_t n)
{
	struct folder f = { .v = v };
	char dir[PATH_MAX], full[PATH_MAX];
	size_t i;
	bool dup;
	int r;

	if (v[0].dirlen >= sizeof(dir))
		return mig_seterr(rn->ctx, MIG_ERR_INTERNAL, "path too long");
	memcpy(dir, v[0].ob->dest, v[0].dirlen);
	dir[v[0].dirlen] = '\0';
	if ((r = run_join(full, sizeof(full), rn->run_dir, dir)) != 0)
		return mig_seterr(rn->ctx, r, "%s/%s: path too long",
		    rn->run_dir, dir);
	if ((r = mig_htab_init(&f.names, n)) != 0)
		return mig_seterr(rn->ctx, r, "out of memory");
	for (i = 0; i < n && r == 0; i++)
		r = mig_htab_put(&f.names, v[i].base, i, &dup, NULL);
	if (r != 0)
		r = mig_seterr(rn->ctx, r, "out of memory");
	else if ((r = mig_transport_list(rn->t, full, folder_entry, &f)) ==
	    MIG_ERR_NOTFOUND) {
		/* The folder is gone: so is every object in it. */
		mig_clearerr(rn->ctx);
		r = 0;
	}
	mig_htab_free(&f.names);
	return r;
}

/*
 * What the listing did not show, asked for by name: WebDAV servers may
 * leave names out of a listing (nginx's dav_ext hides dot-files from
 * PROPFIND) that they serve all the same.  Costs a round trip only for
 * such names, or for objects that are really missing.
 */
static int
stat_one(struct run *rn, struct landed *l)
{
	struct mig_tstat st;
	char full[PATH_MAX];
	int r;

	if ((r = run_join(full, sizeof(full), rn->run_dir, l->ob->dest)) != 0)
		return mig_seterr(rn->ctx, r, "%s/%s: path too long",
		    rn->run_dir, l->ob->dest);
	if ((r = mig_transport_stat(rn->t, full, &st)) == 0 &&
	    st.type == MIG_FT_FILE) {
		l->listed = true;
		l->size = st.size;
	} else if (r == 0 || r == MIG_ERR_NOTFOUND) {
		mig_clearerr(rn->ctx);
		r = 0;
	}
	return r;
}

static bool
counts(const struct obj *ob, const struct obj *arch)
{
	return ob->dest != NULL && (ob == arch || ob->state == OBJ_STORED ||
	    ob->state == OBJ_ALREADY);
}

int
run_check_landed(struct run *rn, const struct obj *arch)
{
	struct landed *v;
	const char *slash;
	size_t i, j, n = 0, bad = 0, total = rn->nobj + (arch != NULL);
	int r = 0;

	if ((v = calloc(total ? total : 1, sizeof(*v))) == NULL)
		return mig_seterr(rn->ctx, MIG_ERR_NOMEM, "out of memory");
	for (i = 0; i < total; i++) {
		const struct obj *ob = i < rn->nobj ? &rn->objs[i] : arch;

		if (!counts(ob, arch))
			continue;
		slash = strrchr(ob->dest, '/');
		v[n].ob = ob;
		v[n].base = slash != NULL ? slash + 1 : ob->dest;
		v[n].dirlen = slash != NULL ? (size_t)(slash - ob->dest) : 0;
		n++;
	}
	qsort(v, n, sizeof(*v), landed_cmp);
	for (i = 0; i < n && r == 0; i = j) {
		for (j = i + 1; j < n && v[j].dirlen == v[i].dirlen &&
		    memcmp(v[j].ob->dest, v[i].ob->dest, v[i].dirlen) == 0; j++)
			;
		r = check_folder(rn, v + i, j - i);
	}
	for (i = 0; i < n && r == 0; i++) {
		if (!v[i].listed && (r = stat_one(rn, &v[i])) != 0)
			break;
		if (v[i].listed && v[i].size == v[i].ob->stored_size)
			continue;
		bad++;
		(void)run_audit(rn, MIG_AUDIT_VERIFY_FAILED, json_pack(
		    "{s:s, s:s}", "object", v[i].ob->dest, "reason",
		    "missing or wrong size after landing"), rn->ctx);
	}
	free(v);
	if (r == 0 && bad != 0)
		r = mig_seterr(rn->ctx, MIG_ERR_VERIFY, "%s: %zu object%s "
		    "missing or of the wrong size after landing", rn->run_dir,
		    bad, bad == 1 ? "" : "s");
	return r;
}
