/*
 * The failing transport of mock_transport.h.  The file backend does the
 * work; this layer only decides, per call, whether the call happens.
 */
#include <pthread.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "migrate/error.h"
#include "migrate/stream.h"
#include "migrate/transport.h"

#include "mock_transport.h"

/*
 * cmocka keeps its will_return() queues per thread, and the run calls its
 * transport from worker threads.  So the values are taken off the queues
 * in the test's thread, by mock_transport_pass_rest(), into one script
 * per operation that the workers read under a lock.  Test code only.
 */
#define MOCK_SCRIPT_MAX	256
/* Queued by pass_rest after the test's values: the end of a script. */
#define MOCK_END	0x7fff0000

static const char *const mock_ops[] = {
	"mock_open", "mock_mkdir",
	"mock_put_data", "mock_publish_data", "mock_write_data",
	"mock_put_marker", "mock_publish_marker",
	"mock_put_other", "mock_publish_other",
	"mock_read", "mock_stat", "mock_list", "mock_remove",
};
#define NOPS	(sizeof(mock_ops) / sizeof(mock_ops[0]))

static struct {
	pthread_mutex_t	 mu;
	struct {
		int		 v[MOCK_SCRIPT_MAX];
		size_t		 n, next;
		unsigned	 calls;
	} op[NOPS];
} mock = { .mu = PTHREAD_MUTEX_INITIALIZER };

static size_t
op_index(const char *op)
{
	size_t i;

	for (i = 0; i < NOPS; i++)
		if (strcmp(mock_ops[i], op) == 0)
			return i;
	fail_msg("mock transport: no operation %s", op);
	return 0;
}

static int
consult(const char *op)
{
	size_t i = op_index(op);
	int v = 0;

	pthread_mutex_lock(&mock.mu);
	mock.op[i].calls++;
	if (mock.op[i].next < mock.op[i].n)
		v = mock.op[i].v[mock.op[i].next++];
	pthread_mutex_unlock(&mock.mu);
	return v;
}

void
mock_transport_pass_rest(void)
{
	size_t i, n;
	int v;

	pthread_mutex_lock(&mock.mu);
	for (i = 0; i < NOPS; i++) {
		_will_return(mock_ops[i], __FILE__, __LINE__, MOCK_END, 1);
		for (n = mock.op[i].n; (v = (int)_mock(mock_ops[i], __FILE__,
		    __LINE__)) != MOCK_END; n++) {
			if (n == MOCK_SCRIPT_MAX)
				fail_msg("mock transport: more than %d values "
				    "for %s (will_return_always is not "
				    "supported: give a count)",
				    MOCK_SCRIPT_MAX, mock_ops[i]);
			mock.op[i].v[n] = v;
		}
		mock.op[i].n = n;
	}
	pthread_mutex_unlock(&mock.mu);
}

unsigned
mock_transport_calls(const char *op)
{
	size_t i = op_index(op);
	unsigned n;

	pthread_mutex_lock(&mock.mu);
	n = mock.op[i].calls;
	pthread_mutex_unlock(&mock.mu);
	return n;
}

bool
mock_transport_all_taken(void)
{
	size_t i;
	bool all = true;

	pthread_mutex_lock(&mock.mu);
	for (i = 0; i < NOPS; i++)
		if (mock.op[i].next < mock.op[i].n) {
			print_error("mock transport: %zu value(s) for %s "
			    "not taken\n", mock.op[i].n - mock.op[i].next,
			    mock_ops[i]);
			all = false;
		}
	pthread_mutex_unlock(&mock.mu);
	return all;
}

void
mock_transport_reset(void)
{
	pthread_mutex_lock(&mock.mu);
	memset(mock.op, 0, sizeof(mock.op));
	pthread_mutex_unlock(&mock.mu);
}

static int
injected(struct mig_ctx *ctx, int v, const char *op, const char *path)
{
	return mig_seterr(ctx, v, "%s %s: injected failure (%s)", op, path,
	    mig_strerror(v));
}

/* The inner file transport, and the kind of each path. */
static struct mig_transport *
inner(struct mig_transport *t)
{
	return t->priv;
}

enum kind { KIND_DATA, KIND_MARKER, KIND_OTHER };

static enum kind
kind_of(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base != NULL ? base + 1 : path;
	if (strncmp(path, "data/", 5) == 0 || strstr(path, "/data/") != NULL)
		return KIND_DATA;
	return base[0] == '_' ? KIND_MARKER : KIND_OTHER;
}

static const char *const put_op[] = {
	"mock_put_data", "mock_put_marker", "mock_put_other"
};
static const char *const publish_op[] = {
	"mock_publish_data", "mock_publish_marker", "mock_publish_other"
};

/* --- The sink: the file backend's writer, published or not ------------- */

struct sink {
	struct mig_transport	*t;
	struct mig_writer	*inner;
	enum kind		 kind;
	char			*path;
};

static int
sink_write(struct mig_writer *w, const void *buf, size_t len)
{
	struct sink *s = w->priv;
	int v;

	if (s->kind == KIND_DATA && (v = consult("mock_write_data")) < 0)
		return injected(w->ctx, v, "mock_write_data", s->path);
	return mig_writer_write(s->inner, buf, len);
}

/* What a lying server does after it acknowledged the object. */
static int
sink_lie(struct sink *s, int v)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int r;

	if (v == MOCK_DROP)
		return mig_transport_remove(inner(s->t), s->path);
	if ((r = mig_transport_get(inner(s->t), s->path, 64 << 20, &buf,
	    &len)) == 0)
		r = mig_transport_put(inner(s->t), s->path, buf,
		    len > 0 ? len - 1 : 0);
	free(buf);
	return r;
}

static int
sink_close(struct mig_writer *w)
{
	struct sink *s = w->priv;
	const char *op = publish_op[s->kind];
	int v, r;

	/* Not published: the inner writer is abandoned when freed. */
	if ((v = consult(op)) < 0)
		return injected(w->ctx, v, op, s->path);
	if ((r = mig_writer_close(s->inner)) != 0)
		return r;
	if (v == MOCK_DROP || v == MOCK_SHORT) {
		if ((r = sink_lie(s, v)) != 0)
			return r;
	}
	return 0;
}

static void
sink_free(struct mig_writer *w)
{
	struct sink *s = w->priv;

	mig_writer_free(s->inner);
	free(s->path);
	free(s);
}

static const struct mig_writer_ops sink_ops = {
	"mock", sink_write, sink_close, sink_free
};

/* --- The operations -------------------------------------------------- */

static int
mock_open(struct mig_transport *t, const struct mig_transport_config *cfg,
    const struct mig_url *url)
{
	struct mig_transport_config c = *cfg;
	struct mig_transport *in = NULL;
	int v, r;

	(void)url;
	if ((v = consult("mock_open")) < 0)
		return injected(t->ctx, v, "mock_open", cfg->url);
	c.ops = NULL;
	if ((r = mig_transport_open(&c, t->ctx, &in)) != 0)
		return r;
	t->priv = in;
	return 0;
}

static void
mock_close(struct mig_transport *t)
{
	mig_transport_close(inner(t));
	t->priv = NULL;
}

static int
mock_mkdir_p(struct mig_transport *t, const char *dir)
{
	int v;

	if ((v = consult("mock_mkdir")) < 0)
		return injected(t->ctx, v, "mock_mkdir", dir);
	return mig_transport_mkdir_p(inner(t), dir);
}

static int
mock_open_write(struct mig_transport *t, const char *path, int64_t size,
    struct mig_writer **wp)
{
	struct sink *s;
	enum kind k = kind_of(path);
	int v, r;

	*wp = NULL;
	if ((v = consult(put_op[k])) < 0)
		return injected(t->ctx, v, put_op[k], path);
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->path = strdup(path)) == NULL) {
		free(s);
		return mig_seterr(t->ctx, MIG_ERR_NOMEM, "out of memory");
	}
	s->t = t;
	s->kind = k;
	if ((r = mig_transport_open_write(inner(t), path, size,
	    &s->inner)) != 0) {
		free(s->path);
		free(s);
		return r;
	}
	if ((*wp = mig_writer_new(&sink_ops, s, NULL, t->ctx)) == NULL) {
		sink_free(&(struct mig_writer){ .priv = s });
		return mig_seterr(t->ctx, MIG_ERR_NOMEM, "out of memory");
	}
	return 0;
}

static int
mock_open_read(struct mig_transport *t, const char *path,
    struct mig_reader **rp)
{
	int v;

	*rp = NULL;
	if ((v = consult("mock_read")) < 0)
		return injected(t->ctx, v, "mock_read", path);
	return mig_transport_open_read(inner(t), path, rp);
}

static int
mock_stat(struct mig_transport *t, const char *path, struct mig_tstat *st)
{
	int v;

	if ((v = consult("mock_stat")) < 0)
		return injected(t->ctx, v, "mock_stat", path);
	return mig_transport_stat(inner(t), path, st);
}

static int
mock_list(struct mig_transport *t, const char *dir, mig_list_cb cb,
    void *arg)
{
	int v;

	if ((v = consult("mock_list")) < 0)
		return injected(t->ctx, v, "mock_list", dir);
	return mig_transport_list(inner(t), dir, cb, arg);
}

static int
mock_remove(struct mig_transport *t, const char *path)
{
	int v;

	if ((v = consult("mock_remove")) < 0)
		return injected(t->ctx, v, "mock_remove", path);
	return mig_transport_remove(inner(t), path);
}

const struct mig_transport_ops mock_transport_ops = {
	.scheme = "file",
	.open = mock_open,
	.close = mock_close,
	.mkdir_p = mock_mkdir_p,
	.open_write = mock_open_write,
	.open_read = mock_open_read,
	.stat = mock_stat,
	.list = mock_list,
	.remove = mock_remove,
};
