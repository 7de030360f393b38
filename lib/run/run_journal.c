/*
 * The run's journal, STATE/RUNID.journal: one JSON line per object that
 * landed, appended and synced (fdatasync) once the object is on record
 * as object.stored.  A resumed run trusts an object only when the journal
 * has it (same destination, size and mtime) and the lake holds it at the
 * size that was written; every other object lands again.
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

int
run_journal_load(struct run *rn)
{
	FILE *fp;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if ((rn->journal = json_object()) == NULL)
		return mig_seterr(rn->ctx, MIG_ERR_NOMEM, "out of memory");
	if ((fp = fopen(rn->journal_path, "r")) == NULL)
		return 0;
	while ((n = getline(&line, &cap, fp)) > 0) {
		json_t *e = json_loadb(line, (size_t)n, 0, NULL);
		const char *path = json_string_value(json_object_get(e,
		    "path"));

		/* A torn last line (crash mid-append) is simply not there. */
		if (path != NULL)
			json_object_set(rn->journal, path, e);
		json_decref(e);
	}
	free(line);
	fclose(fp);
	return 0;
}

int
run_journal_append(struct run *rn, const struct obj *ob, struct mig_ctx *ctx)
{
	json_t *e;
	char *text, hex[65], chex[65];
	size_t len;
	int r = 0;

	mig_hex_encode(ob->sha, 32, hex);
	mig_hex_encode(ob->csha, 32, chex);
	e = json_pack("{s:s, s:s, s:I, s:I, s:i, s:i, s:s, s:s, s:I}",
	    "path", ob->path, "dest", ob->dest, "size", (json_int_t)ob->size,
	    "mtime", (json_int_t)ob->mtime, "nsec", (int)ob->mtime_nsec,
	    "mode", (int)ob->mode, "sha256", hex, "stored_sha256", chex,
	    "stored_size", (json_int_t)ob->stored_size);
	if (e == NULL || (text = json_dumps(e, JSON_COMPACT)) == NULL) {
		json_decref(e);
		return mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
	}
	json_decref(e);
	len = strlen(text);
	text[len] = '\n';	/* json_dumps leaves room for the NUL */
	pthread_mutex_lock(&rn->mu);
	if (write(rn->journal_fd, text, len + 1) != (ssize_t)(len + 1) ||
	    fdatasync(rn->journal_fd) != 0)
		r = mig_seterr(ctx, MIG_ERR_IO, "%s: %s", rn->journal_path,
		    strerror(errno));
	pthread_mutex_unlock(&rn->mu);
	free(text);
	return r;
}

void
run_journal_apply(struct run *rn)
{
	char full[PATH_MAX];
	unsigned char md[32], cmd[32];
	struct mig_tstat st;
	size_t i;

	for (i = 0; i < rn->nobj; i++) {
		struct obj *ob = &rn->objs[i];
		json_t *e = json_object_get(rn->journal, ob->path);
		const char *sha, *csha, *dest;

		if (e == NULL)
			continue;
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
			continue;
		ob->stored_size = (uint64_t)json_integer_value(
		    json_object_get(e, "stored_size"));
		if (ob->dest != NULL) {
			if (run_join(full, sizeof(full), rn->run_dir, ob->dest) != 0 ||
			    mig_transport_stat(rn->t, full, &st) != 0 ||
			    st.size != ob->stored_size) {
				mig_clearerr(rn->ctx);
				continue;
			}
		}
		memcpy(ob->sha, md, 32);
		memcpy(ob->csha, cmd, 32);
		ob->state = OBJ_ALREADY;
		rn->sum->already++;
	}
}
