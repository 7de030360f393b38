/*
 * The run's journal, STATE/RUNID.journal: one JSON line per object that
 * landed, appended once the object is on record as object.stored.  A
 * resumed run trusts an object only when the journal has it (same
 * destination, size and mtime) and the lake holds it at the size that
 * was written; every other object lands again.
 *
 * Lines are synced (fdatasync) in batches, not one by one: a line lost
 * with the machine only makes the resumed run land that object again
 * (a process killed loses nothing written), and a sync per object cost
 * a disk flush per file (issue 20).  A resumed run reads the journal as
 * a stream and finds each line's object by its path: the objects are in
 * path order, so nothing is held per line.  The last line of an object
 * decides; a line the resume did not trust is retracted (a synced
 * {"path", "retract": true} line) before the object lands again, so
 * that it can never vouch for the copy that replaces it.
 */
#define MIG_RUN_INTERNAL
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <jansson.h>

#include "migrate/error.h"
#include "migrate/transport.h"
#include "migrate/util.h"

#include "run_core.h"
#include "../util/util_int.h"

/* Lines appended between two syncs of the journal. */
#define JOURNAL_SYNC_EVERY	256

void
run_journal_name(struct run *rn)
{
	(void)run_join(rn->journal_path, sizeof(rn->journal_path),
	    rn->state_dir, rn->run_id);
	(void)snprintf(rn->journal_path + strlen(rn->journal_path),
	    sizeof(rn->journal_path) - strlen(rn->journal_path), ".journal");
}

int
run_journal_open(struct run *rn)
{
	rn->journal_fd = open(rn->journal_path, O_WRONLY | O_CREAT |
	    O_APPEND | O_CLOEXEC, 0600);
	if (rn->journal_fd < 0)
		return mig_seterr(rn->ctx, MIG_ERR_IO, "%s: %s",
		    rn->journal_path, strerror(errno));
	return 0;
}

void
run_journal_close(struct run *rn)
{
	if (rn->journal_fd < 0)
		return;
	if (rn->journal_unsynced > 0)
		(void)fdatasync(rn->journal_fd);
	(void)close(rn->journal_fd);
	rn->journal_fd = -1;
	rn->journal_unsynced = 0;
}

/*
 * The journal line of ob into t, newline included: what json_dumps()
 * with JSON_COMPACT writes for {path, dest, size, mtime, nsec, mode,
 * sha256, stored_sha256, stored_size}, written without building that
 * object (util_int.h), a line per object.
 */
static void
journal_line(struct mig_jtext *t, const struct obj *ob)
{
	char hex[65];

	if (ob->path == NULL || ob->dest == NULL) {
		t->bad = true;		/* as json_pack() refused it */
		return;
	}
	mig_jtext_lit(t, "{\"path\":");
	mig_jtext_str(t, ob->path, strlen(ob->path));
	mig_jtext_lit(t, ",\"dest\":");
	mig_jtext_str(t, ob->dest, strlen(ob->dest));
	mig_jtext_lit(t, ",\"size\":");
	mig_jtext_int(t, (json_int_t)ob->size);
	mig_jtext_lit(t, ",\"mtime\":");
	mig_jtext_int(t, (json_int_t)ob->mtime);
	mig_jtext_lit(t, ",\"nsec\":");
	mig_jtext_int(t, (int)ob->mtime_nsec);
	mig_jtext_lit(t, ",\"mode\":");
	mig_jtext_int(t, (int)ob->mode);
	mig_hex_encode(ob->sha, 32, hex);
	mig_jtext_lit(t, ",\"sha256\":\"");
	mig_jtext_raw(t, hex, 64);
	mig_hex_encode(ob->csha, 32, hex);
	mig_jtext_lit(t, "\",\"stored_sha256\":\"");
	mig_jtext_raw(t, hex, 64);
	mig_jtext_lit(t, "\",\"stored_size\":");
	mig_jtext_int(t, (json_int_t)ob->stored_size);
	mig_jtext_lit(t, "}\n");
}

int
run_journal_append(struct run *rn, const struct obj *ob, struct mig_ctx *ctx)
{
	char buf[1024], *line = buf;
	struct mig_jtext t;
	bool sync = false;
	int r = 0;

	mig_jtext_init(&t, buf, sizeof(buf));
	journal_line(&t, ob);
	if (!t.bad && t.len > sizeof(buf)) {
		/* Long names full of escapes: again, into a buffer that fits. */
		if ((line = malloc(t.len)) == NULL)
			return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		mig_jtext_init(&t, line, t.len);
		journal_line(&t, ob);
	}
	if (t.bad) {
		r = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_free;
	}
	/*
	 * The sync goes outside the run's mutex: on a real disk it can take
	 * milliseconds, and every worker takes that mutex for its next
	 * object and for its progress.  It still covers every line written
	 * before it.
	 */
	pthread_mutex_lock(&rn->mu);
	if (write(rn->journal_fd, line, t.len) != (ssize_t)t.len)
		r = mig_seterr(ctx, MIG_ERR_IO, "%s: %s", rn->journal_path,
		    strerror(errno));
	else if (++rn->journal_unsynced >= JOURNAL_SYNC_EVERY) {
		rn->journal_unsynced = 0;
		sync = true;
	}
	pthread_mutex_unlock(&rn->mu);
	if (sync && fdatasync(rn->journal_fd) != 0)
		r = mig_seterr(ctx, MIG_ERR_IO, "%s: %s", rn->journal_path,
		    strerror(errno));
out_free:
	if (line != buf)
		free(line);
	return r;
}

/* Finds the object for path, or NULL (objects sorted by path). */
struct obj *
run_obj_find(struct run *rn, const char *path)
{
	size_t lo = 0, hi = rn->nobj, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(path, rn->objs[mid].path);
		if (c == 0)
			return &rn->objs[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/*
 * One journal line.  The last line of an object is the one that counts
 * (an object stored again), so an earlier line's verdict is undone
 * first.
 */
static void
apply_line(struct run *rn, const json_t *e)
{
	const char *path = json_string_value(json_object_get(e, "path"));
	const char *sha, *csha, *dest;
	unsigned char md[32], cmd[32];
	char full[PATH_MAX];
	struct mig_tstat st;
	struct obj *ob;

	if (path == NULL || (ob = run_obj_find(rn, path)) == NULL)
		return;
	if (ob->state == OBJ_ALREADY) {
		ob->state = OBJ_PENDING;
		rn->sum->already--;
	}
	/* Untrusted until a line below says otherwise. */
	ob->journal_stale = !json_is_true(json_object_get(e, "retract"));
	if (!ob->journal_stale)
		return;		/* retracted: nothing to take */
	sha = json_string_value(json_object_get(e, "sha256"));
	csha = json_string_value(json_object_get(e, "stored_sha256"));
	dest = json_string_value(json_object_get(e, "dest"));
	if (sha == NULL || csha == NULL || dest == NULL ||
	    strlen(sha) != 64 || strlen(csha) != 64 ||
	    mig_hex_decode(sha, md, 32) != 0 ||
	    mig_hex_decode(csha, cmd, 32) != 0 ||
	    (ob->dest != NULL && strcmp(dest, ob->dest) != 0) ||
	    json_integer_value(json_object_get(e, "size")) !=
	    (json_int_t)ob->size ||
	    json_integer_value(json_object_get(e, "mtime")) !=
	    (json_int_t)ob->mtime)
		return;
	ob->stored_size = (uint64_t)json_integer_value(
	    json_object_get(e, "stored_size"));
	if (ob->dest != NULL) {
		if (run_join(full, sizeof(full), rn->run_dir, ob->dest) != 0 ||
		    mig_transport_stat(rn->t, full, &st) != 0 ||
		    st.size != ob->stored_size) {
			mig_clearerr(rn->ctx);
			return;
		}
	}
	memcpy(ob->sha, md, 32);
	memcpy(ob->csha, cmd, 32);
	ob->state = OBJ_ALREADY;
	ob->journal_stale = false;
	rn->sum->already++;
}

int
run_journal_retract(struct run *rn)
{
	json_t *e;
	char *text;
	size_t i, len, n = 0;
	int r = 0;

	for (i = 0; i < rn->nobj && r == 0; i++, run_touch(rn)) {
		if (!rn->objs[i].journal_stale)
			continue;
		e = json_pack("{s:s, s:b}", "path", rn->objs[i].path,
		    "retract", 1);
		if (e == NULL || (text = json_dumps(e, JSON_COMPACT)) == NULL) {
			json_decref(e);
			return mig_seterr(rn->ctx, MIG_ERR_NOMEM,
			    "out of memory");
		}
		json_decref(e);
		len = strlen(text);
		text[len] = '\n';
		if (write(rn->journal_fd, text, len + 1) != (ssize_t)(len + 1))
			r = mig_seterr(rn->ctx, MIG_ERR_IO, "%s: %s",
			    rn->journal_path, strerror(errno));
		free(text);
		rn->objs[i].journal_stale = false;
		n++;
	}
	if (r == 0 && n > 0 && fdatasync(rn->journal_fd) != 0)
		r = mig_seterr(rn->ctx, MIG_ERR_IO, "%s: %s", rn->journal_path,
		    strerror(errno));
	return r;
}

int
run_journal_apply(struct run *rn)
{
	FILE *fp;
	json_t *e;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if ((fp = fopen(rn->journal_path, "r")) == NULL)
		return 0;
	while ((n = getline(&line, &cap, fp)) > 0) {
		/* A torn last line (crash mid-append) is simply not there. */
		if ((e = json_loadb(line, (size_t)n, 0, NULL)) != NULL)
			apply_line(rn, e);
		json_decref(e);
		run_touch(rn);
	}
	free(line);
	fclose(fp);
	return 0;
}
