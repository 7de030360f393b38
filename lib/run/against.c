/*
 * verify --against-source: the source as it is now against a run's
 * snapshot, file by file (size, then SHA-256), as DataSync's "point in
 * time" check compares source and destination.  Without a key the
 * snapshot is the local copy that the last complete run left in the
 * plan's state directory (it holds plaintext hashes only, no data); with
 * identities it is any run's encrypted manifest, fetched from the lake
 * once the audit log vouches for the bag.
 *
 * The source is walked with the plan's own filters, and each file is
 * opened beneath the source root without following links, as run reads
 * it; both sides come sorted by path and are merge-joined, so memory is
 * the inventory's, whatever the snapshot's size.
 */
#define MIG_LAKE_INTERNAL
#define MIG_RUN_INTERNAL
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "migrate/error.h"
#include "migrate/plan.h"
#include "migrate/run.h"
#include "migrate/transport.h"

#include "../lake/layout_int.h"
#include "run_int.h"

#define HASH_BUF	(256 * 1024)

struct against {
	const struct mig_verify_opts	*o;
	struct mig_verify_summary	*sum;
	struct mig_ctx			*ctx;
	int				 rootfd;
	unsigned char			*buf;
};

/*
 * The snapshot as one stream in path order: one reader, or a sharded
 * run's shard snapshots merged (each sorted, their paths disjoint).  An
 * entry's strings stay valid until the next snap_src_next.
 */
struct snap_src {
	struct snap_reader	**r;
	struct snap_entry	 *cur;
	int			 *more;	/* snap_next's last answer per reader */
	size_t			  n;
	size_t			  last;	/* reader of the entry handed out */
	bool			  started;
};

static int
snap_src_next(struct snap_src *ss, struct snap_entry *e)
{
	size_t i, best = ss->n;

	if (!ss->started) {
		for (i = 0; i < ss->n; i++)
			if ((ss->more[i] = snap_next(ss->r[i], &ss->cur[i])) < 0)
				return ss->more[i];
		ss->started = true;
	} else if ((ss->more[ss->last] = snap_next(ss->r[ss->last],
	    &ss->cur[ss->last])) < 0)
		return ss->more[ss->last];
	for (i = 0; i < ss->n; i++)
		if (ss->more[i] == 1 && (best == ss->n ||
		    strcmp(ss->cur[i].path, ss->cur[best].path) < 0))
			best = i;
	if (best == ss->n)
		return 0;
	ss->last = best;
	*e = ss->cur[best];
	return 1;
}

static void
snap_src_free(struct snap_src *ss)
{
	size_t i;

	for (i = 0; i < ss->n; i++)
		snap_reader_free(ss->r[i]);
	free(ss->r);
	free(ss->cur);
	free(ss->more);
	memset(ss, 0, sizeof(*ss));
}

/* Room for n readers, none open yet. */
static int
snap_src_init(struct snap_src *ss, size_t n, struct mig_ctx *ctx)
{
	memset(ss, 0, sizeof(*ss));
	ss->r = calloc(n, sizeof(*ss->r));
	ss->cur = calloc(n, sizeof(*ss->cur));
	ss->more = calloc(n, sizeof(*ss->more));
	if (ss->r == NULL || ss->cur == NULL || ss->more == NULL) {
		snap_src_free(ss);
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	}
	ss->n = n;
	return 0;
}

static void
found(struct against *a, enum mig_finding_kind kind, const char *path,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
found(struct against *a, enum mig_finding_kind kind, const char *path,
    const char *fmt, ...)
{
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	a->sum->findings++;
	if (a->o->finding != NULL)
		a->o->finding(a->o->arg, kind, path, detail);
}

/* SHA-256 of the source file rel, read beneath the root, no links. */
static int
hash_source(struct against *a, const char *rel, char hex[65],
    uint64_t *countp)
{
	unsigned char md[32];
	EVP_MD_CTX *mdc = NULL;
	ssize_t n;
	int fd = -1, r;
	size_t i;

	*countp = 0;
	if ((r = fdpath_open(a->rootfd, rel, O_RDONLY | O_NONBLOCK, 0, &fd,
	    a->ctx)) != 0)
		return r;
	if ((mdc = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(mdc, EVP_sha256(), NULL) != 1) {
		r = mig_seterr(a->ctx, MIG_ERR_CRYPTO, "SHA-256 unavailable");
		goto out;
	}
	while ((n = read(fd, a->buf, HASH_BUF)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = mig_seterr(a->ctx, MIG_ERR_IO, "%s/%s: %s",
			    a->o->plan->source_path, rel, strerror(errno));
			goto out;
		}
		if (EVP_DigestUpdate(mdc, a->buf, (size_t)n) != 1) {
			r = mig_seterr(a->ctx, MIG_ERR_CRYPTO, "SHA-256 failed");
			goto out;
		}
		*countp += (uint64_t)n;
	}
	if (EVP_DigestFinal_ex(mdc, md, NULL) != 1) {
		r = mig_seterr(a->ctx, MIG_ERR_CRYPTO, "SHA-256 failed");
		goto out;
	}
	for (i = 0; i < sizeof(md); i++)
		(void)snprintf(hex + 2 * i, 3, "%02x", md[i]);
out:
	EVP_MD_CTX_free(mdc);
	if (fd >= 0)
		(void)close(fd);
	return r;
}

/* One path in both: size first (no read), then the bytes. */
static int
compare_one(struct against *a, const struct mig_inv_entry *ie,
    const struct snap_entry *se)
{
	char hex[65];
	uint64_t count;
	int r;

	a->sum->objects++;
	if (ie->size != se->size) {
		found(a, MIG_FIND_ALTERED, ie->path, "size %llu in the source, "
		    "%llu in the snapshot", (unsigned long long)ie->size,
		    (unsigned long long)se->size);
		return 0;
	}
	if (se->sha256[0] == '\0')
		return 0;	/* a v1 archive member: size is all it has */
	r = hash_source(a, ie->path, hex, &count);
	if (r == MIG_ERR_NOTFOUND) {
		/* Gone between the walk and the read. */
		mig_clearerr(a->ctx);
		found(a, MIG_FIND_MISSING, ie->path, "in the snapshot, gone "
		    "from the source while it was checked");
		return 0;
	}
	if (r != 0)
		return r;
	a->sum->bytes += count;
	if (count != se->size || strcmp(hex, se->sha256) != 0)
		found(a, MIG_FIND_ALTERED, ie->path, "the source's SHA-256 "
		    "%.16s... differs from the snapshot's %.16s...", hex,
		    se->sha256);
	return 0;
}

static int
join(struct against *a, const struct mig_inventory *inv,
    struct snap_src *sr)
{
	struct snap_entry se;
	size_t i = 0;
	int more, c, r = 0;

	if ((more = snap_src_next(sr, &se)) < 0)
		return more;
	while (r == 0 && (i < inv->count || more == 1)) {
		const struct mig_inv_entry *ie = i < inv->count ?
		    &inv->entries[i] : NULL;

		if (ie == NULL)
			c = 1;
		else if (more != 1)
			c = -1;
		else
			c = strcmp(ie->path, se.path);
		if (c < 0) {
			found(a, MIG_FIND_EXTRA, ie->path, "in the source, not "
			    "in the snapshot");
			i++;
			continue;
		}
		if (c > 0)
			found(a, MIG_FIND_MISSING, se.path, "in the snapshot, "
			    "not in the source");
		else {
			r = compare_one(a, ie, &se);
			i++;
		}
		if (r == 0 && (more = snap_src_next(sr, &se)) < 0)
			r = more;
		if (a->o->progress != NULL) {
			struct mig_run_progress pr = { "against-source",
			    a->sum->objects, inv->count, a->sum->bytes,
			    inv->total_bytes };

			a->o->progress(a->o->arg, &pr);
		}
	}
	return r;
}

/* The local snapshot of the last complete run, for the run wanted. */
static int
open_local(struct against *a, struct snap_src *ss)
{
	struct snap_reader **srp;
	const struct snap_header *h;
	char dir[PATH_MAX], path[PATH_MAX];
	const char *want = a->o->run_id;
	int r;

	if ((r = state_dir_for(a->o->plan, 0, 0, dir, sizeof(dir),
	    a->ctx)) != 0)
		return r;
	if ((size_t)snprintf(path, sizeof(path), "%s/snapshot.jsonl", dir) >=
	    sizeof(path))
		return mig_seterr(a->ctx, MIG_ERR_INTERNAL, "path too long");
	if ((r = snap_src_init(ss, 1, a->ctx)) != 0)
		return r;
	srp = &ss->r[0];
	r = snap_open_file(path, srp, a->ctx);
	if (r == MIG_ERR_NOTFOUND)
		return mig_seterr(a->ctx, MIG_ERR_NOTFOUND, "%s: no local "
		    "snapshot of a complete run of %s on this machine; give "
		    "-i IDENTITY to check against a run's encrypted manifest",
		    path, a->o->plan->name);
	if (r != 0)
		return r;
	h = snap_header_of(*srp);
	if (want != NULL && strcmp(want, "latest") != 0 &&
	    strcmp(want, h->run) != 0 &&
	    (strlen(want) > strlen(h->run) ||
	    (strncmp(h->run, want, strlen(want)) != 0 &&
	    strcmp(h->run + strlen(h->run) - strlen(want), want) != 0)))
		return mig_seterr(a->ctx, MIG_ERR_USAGE, "the local snapshot "
		    "is of run %s; give -i IDENTITY to check run %s against "
		    "its encrypted manifest", h->run, want);
	(void)snprintf(a->sum->run_id, sizeof(a->sum->run_id), "%s", h->run);
	return 0;
}

static void
trust_finding(void *arg, enum mig_finding_kind kind, const char *path,
    const char *detail)
{
	found(arg, kind, path, "%s", detail);
}

/*
 * A sharded run's snapshot is whole only with all N shards.  A shard the
 * log records as published but the lake lacks is a finding (exit 3); one
 * never landed means the run is not finished (exit 4).
 */
static int
shards_whole(struct against *a, const struct run_trust *tr, char **shards,
    size_t nshards, int shardn)
{
	char name[64], dir[PATH_MAX];
	size_t i;
	int k;

	for (k = 0; k < shardn; k++) {
		(void)snprintf(name, sizeof(name), "shard=%d-of-%d", k, shardn);
		for (i = 0; i < nshards && strcmp(shards[i], name) != 0; i++)
			;
		if (i < nshards)
			continue;
		if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", tr->dir,
		    name) < sizeof(dir) && trust_bag(tr, dir) != NULL) {
			found(a, MIG_FIND_MISSING, dir, "shard %d of %d is on "
			    "record but not in the lake", k, shardn);
			return mig_seterr(a->ctx, MIG_ERR_VERIFY, "%s: shard on "
			    "record, gone from the lake: the snapshot of run %s "
			    "is not whole", dir, tr->id);
		}
		return mig_seterr(a->ctx, MIG_ERR_PARTIAL, "run %s has %zu of "
		    "its %d shards in the lake (not %s): run the missing "
		    "shards first", tr->id, nshards, shardn, name);
	}
	return 0;
}

/*
 * Any run's snapshot from the lake, once the log vouches for its bag or,
 * for a sharded run, for every one of its N shards (their snapshots are
 * merged into one stream).
 */
static int
open_lake(struct against *a, struct mig_transport **tp,
    struct run_trust *tr, struct snap_src *ss)
{
	const struct mig_verify_opts *o = a->o;
	struct trust_sink sk = { trust_finding, a };
	char **shards = NULL, dir[PATH_MAX];
	size_t nshards = 0, s;
	int r, shardn = 0;

	if ((r = mig_transport_open(o->tcfg, a->ctx, tp)) != 0 ||
	    (r = trust_open(*tp, o->plan, o->seal_pub, o->run_id, &sk, tr,
	    a->ctx)) != 0 ||
	    (r = mig_lake_list_shards(*tp, tr->dir, &shards, &nshards, &shardn,
	    a->ctx)) != 0)
		goto out;
	(void)snprintf(a->sum->run_id, sizeof(a->sum->run_id), "%s", tr->id);
	if (nshards != (size_t)shardn &&
	    (r = shards_whole(a, tr, shards, nshards, shardn)) != 0)
		goto out;
	for (s = 0; s < (nshards == 0 ? 1 : nshards) && r == 0; s++) {
		if ((r = mig_lake_bag_dir(dir, sizeof(dir), tr->dir, shards,
		    nshards, s, a->ctx)) == 0)
			r = trust_check_bag_t(*tp, tr, dir, &sk, a->ctx);
	}
	if (r != 0)
		goto out;
	a->sum->run_dir = strdup(tr->dir);
	a->sum->sealed = o->seal_pub != NULL && a->sum->findings == 0;
	if (a->sum->findings != 0) {
		r = mig_seterr(a->ctx, MIG_ERR_VERIFY, "%s: the bag of run "
		    "%s is not as on record; its snapshot is not trusted",
		    tr->dir, tr->id);
		goto out;
	}
	if ((r = snap_src_init(ss, nshards == 0 ? 1 : nshards, a->ctx)) != 0)
		goto out;
	for (s = 0; s < ss->n && r == 0; s++) {
		if ((r = mig_lake_bag_dir(dir, sizeof(dir), tr->dir, shards,
		    nshards, s, a->ctx)) == 0)
			r = snap_open_lake(*tp, dir, o->identities, &ss->r[s],
			    a->ctx);
	}
out:
	mig_lake_free_names(shards, nshards);
	return r;
}

int
verify_against_source(const struct mig_verify_opts *o,
    struct mig_verify_summary *sum, struct mig_ctx *ctx)
{
	const struct mig_plan *p = o->plan;
	struct mig_inventory_opts io = { p->include, p->exclude,
	    p->follow_symlinks, NULL, NULL, NULL };
	struct against a = { o, sum, ctx, -1, NULL };
	struct mig_inventory *inv = NULL;
	struct mig_transport *t = NULL;
	struct snap_src sr;
	struct run_trust tr;
	int r;

	memset(&tr, 0, sizeof(tr));
	memset(&sr, 0, sizeof(sr));
	if ((a.buf = malloc(HASH_BUF)) == NULL)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	r = o->identities != NULL ? open_lake(&a, &t, &tr, &sr) :
	    open_local(&a, &sr);
	if (r != 0)
		goto out;
	if ((a.rootfd = open(p->source_path, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0) {
		r = mig_seterr(ctx, errno == ENOENT ? MIG_ERR_NOTFOUND :
		    MIG_ERR_IO, "%s: %s", p->source_path, strerror(errno));
		goto out;
	}
	if ((r = mig_inventory_walk(p->source_path, &io, ctx, &inv)) != 0 ||
	    (r = join(&a, inv, &sr)) != 0)
		goto out;
	sum->on_record = o->identities != NULL;
out:
	if (a.rootfd >= 0)
		(void)close(a.rootfd);
	mig_inventory_free(inv);
	snap_src_free(&sr);
	trust_close(&tr);
	mig_transport_close(t);
	free(a.buf);
	if (r == 0 && sum->findings != 0)
		r = mig_seterr(ctx, MIG_ERR_VERIFY, "%s: the source differs from "
		    "the snapshot of run %s in %llu place%s", p->source_path,
		    sum->run_id, (unsigned long long)sum->findings,
		    sum->findings == 1 ? "" : "s");
	return r;
}
