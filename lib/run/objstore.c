/*
 * Where a run keeps its objects (issue 20: millions of files in constant
 * memory).  A run needs one struct obj per file, plus its path and
 * destination, for the whole run: sharding, resume, the manifest and
 * the snapshot all go over them again.  Held on the heap they cost about
 * 350 bytes a file, 3.5 GB for ten million.  Here they live in two
 * temporary files (records, and the strings they point to), unlinked at
 * once and mapped shared: the kernel keeps in memory the pages in use
 * and may write the rest out, and objstore_trim() lets the run's own
 * mappings go of what it no longer touches.  The passes over the objects
 * are sequential, so a page dropped is one a pass has finished with.
 *
 * The address space for both files is reserved up front (PROT_NONE,
 * nothing committed), and the files are mapped into it as they grow, so
 * a pointer into the store stays valid until objstore_close().
 */
#define MIG_RUN_INTERNAL
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

/* Linux's O_TMPFILE: glibc names it only under _GNU_SOURCE. */
#if !defined(O_TMPFILE) && defined(__O_TMPFILE)
#define O_TMPFILE	__O_TMPFILE
#endif

#include "migrate/error.h"

#include "run_core.h"

/* Address space reserved: 2^28 records and 2^36 bytes of strings. */
#define RECORDS_RESERVE	((size_t)sizeof(struct obj) << 28)
#define STRINGS_RESERVE	((size_t)1 << 36)
/* Files grow by this much at a time (a multiple of the page size). */
#define GROW_STEP	((size_t)8 << 20)
/*
 * Blocks are allocated by this much at a time (GROW_STEP is a multiple):
 * a page of a mapped file without them is a SIGBUS when the file system
 * is full, where an allocation is an error.
 */
#define ALLOC_STEP	((size_t)256 << 10)
/* Objects touched between two trims. */
#define TRIM_EVERY	32768

/* A temporary file no other process can open: in dir, unlinked. */
static int
tmp_file(const char *dir, struct mig_ctx *ctx)
{
	char path[PATH_MAX];
	int fd;

#ifdef O_TMPFILE
	if ((fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) >= 0)
		return fd;
#endif
	if ((size_t)snprintf(path, sizeof(path), "%s/.migrate-objects-XXXXXX",
	    dir) >= sizeof(path))
		return mig_seterr(ctx, MIG_ERR_IO, "%s: path too long", dir);
	if ((fd = mkstemp(path)) < 0)
		return mig_seterr(ctx, MIG_ERR_IO, "%s: a temporary file for "
		    "the run's objects: %s", dir, strerror(errno));
	(void)unlink(path);
	return fd;
}

/*
 * What to reserve: under a limit on address space (ulimit -v), an eighth
 * of it at most, so that a run of a few files is not refused and the rest
 * of the process keeps room; a run that outgrows it then says so.
 */
static size_t
reserve_size(size_t want)
{
	struct rlimit rl;
	size_t cap;

	if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur / 8 >= want)
		return want;
	cap = (size_t)(rl.rlim_cur / 8) / GROW_STEP * GROW_STEP;
	return cap < GROW_STEP ? GROW_STEP : cap;
}

static int
region_open(struct objregion *g, const char *dir, size_t reserve,
    struct mig_ctx *ctx)
{
	void *p;

	memset(g, 0, sizeof(*g));
	g->fd = -1;
	reserve = reserve_size(reserve);
	p = mmap(NULL, reserve, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
	    MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "reserving address space "
		    "for the run's objects: %s", strerror(errno));
	g->base = p;
	g->reserved = reserve;
	if ((g->fd = tmp_file(dir, ctx)) < 0) {
		(void)munmap(g->base, g->reserved);
		g->base = NULL;
		return MIG_ERR_IO;
	}
	return 0;
}

static void
region_close(struct objregion *g)
{
	if (g->base != NULL)
		(void)munmap(g->base, g->reserved);
	if (g->fd >= 0)
		(void)close(g->fd);
	memset(g, 0, sizeof(*g));
	g->fd = -1;
}

/* Blocks for n more bytes of the mapped file, allocated ahead. */
static int
region_alloc(struct objregion *g, size_t n, struct mig_ctx *ctx)
{
	size_t want;
	int e;

	if (g->allocated - g->used >= n)
		return 0;
	want = (g->used + n + ALLOC_STEP - 1) / ALLOC_STEP * ALLOC_STEP;
	if ((e = posix_fallocate(g->fd, (off_t)g->allocated,
	    (off_t)(want - g->allocated))) != 0)
		return mig_seterr(ctx, MIG_ERR_IO, "the run's object store: "
		    "%s", strerror(e));
	g->allocated = want;
	return 0;
}

/* Room for n more bytes: the file grown and mapped further. */
static int
region_need(struct objregion *g, size_t n, struct mig_ctx *ctx)
{
	size_t want;
	void *p;

	if (g->mapped - g->used >= n)
		return region_alloc(g, n, ctx);
	want = g->used + n;
	want = (want + GROW_STEP - 1) / GROW_STEP * GROW_STEP;
	if (want > g->reserved)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "more objects than a run "
		    "can hold (%zu bytes reserved)", g->reserved);
	if (ftruncate(g->fd, (off_t)want) != 0)
		return mig_seterr(ctx, MIG_ERR_IO, "the run's object store: "
		    "%s", strerror(errno));
	p = mmap(g->base + g->mapped, want - g->mapped, PROT_READ |
	    PROT_WRITE, MAP_SHARED | MAP_FIXED, g->fd, (off_t)g->mapped);
	if (p == MAP_FAILED)
		return mig_seterr(ctx, MIG_ERR_NOMEM, "the run's object store: "
		    "%s", strerror(errno));
	g->mapped = want;
	return region_alloc(g, n, ctx);
}

int
objstore_open(struct objstore *os, const char *dir, struct mig_ctx *ctx)
{
	int r;

	memset(os, 0, sizeof(*os));
	os->records.fd = os->strings.fd = -1;
	if ((r = region_open(&os->records, dir, RECORDS_RESERVE, ctx)) != 0 ||
	    (r = region_open(&os->strings, dir, STRINGS_RESERVE, ctx)) != 0) {
		region_close(&os->records);
		region_close(&os->strings);
		return r;
	}
	os->open = true;
	return 0;
}

void
objstore_close(struct objstore *os)
{
	/* A store never opened (a zeroed struct run) holds nothing. */
	if (!os->open)
		return;
	region_close(&os->records);
	region_close(&os->strings);
	os->open = false;
}

struct obj *
objstore_push(struct objstore *os, struct mig_ctx *ctx)
{
	struct obj *ob;

	if (region_need(&os->records, sizeof(*ob), ctx) != 0)
		return NULL;
	ob = (struct obj *)(void *)(os->records.base + os->records.used);
	os->records.used += sizeof(*ob);
	memset(ob, 0, sizeof(*ob));
	objstore_trim_maybe(os);
	return ob;
}

void
objstore_pop(struct objstore *os)
{
	if (os->records.used >= sizeof(struct obj))
		os->records.used -= sizeof(struct obj);
}

char *
objstore_strdup(struct objstore *os, const char *s, struct mig_ctx *ctx)
{
	size_t n = strlen(s) + 1;
	char *d;

	if (region_need(&os->strings, n, ctx) != 0)
		return NULL;
	d = os->strings.base + os->strings.used;
	memcpy(d, s, n);
	os->strings.used += n;
	return d;
}

void
objstore_trim(struct objstore *os)
{
	/*
	 * Shared file mappings: the pages stay in the file (and the page
	 * cache); only this process's hold on them goes.
	 */
	if (os->records.mapped > 0)
		(void)madvise(os->records.base, os->records.mapped,
		    MADV_DONTNEED);
	if (os->strings.mapped > 0)
		(void)madvise(os->strings.base, os->strings.mapped,
		    MADV_DONTNEED);
}

void
objstore_trim_maybe(struct objstore *os)
{
	/* Racy on purpose: a trim more or less changes nothing. */
	if (__atomic_add_fetch(&os->touched, 1, __ATOMIC_RELAXED) %
	    TRIM_EVERY == 0)
		objstore_trim(os);
}
