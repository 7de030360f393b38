/*
 * The s3 backend's own internals, shared by its five files: s3.c (open,
 * close, credentials, plan keys, mkdir_p, remove), s3_request.c (signed
 * requests on a lane: an easy handle and the context its errors go to;
 * S3's error answers), s3_read.c (HEAD, ListObjectsV2, ranged GETs),
 * s3_multipart.c (PUT and multipart upload) and s3_parts.c (the parts
 * of one upload, several in flight on threads of their own).  Lib-only:
 * not part of the public API.
 */
#ifndef MIGRATE_S3_INT_H
#define MIGRATE_S3_INT_H

#if !defined(MIG_TRANSPORT_INTERNAL) && !defined(MIG_INTERNAL)
#error "s3_int.h is private to lib/transport"
#endif

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <expat.h>

#include "migrate/error.h"
#include "migrate/stream.h"
#include "migrate/transport.h"

#include "curl_xfer_int.h"
#include "sigv4_int.h"

#define MIG_S3_MIB		(1024 * 1024)
#define MIG_S3_ERRBODY_MAX	(64 * 1024)
#define MIG_S3_KEY_MAX		1024		/* S3's key limit */
#define MIG_S3_DIRCACHE_MAX	256
#define MIG_S3_PARTS_MAX	10000		/* S3's part limit */
#define MIG_S3_LANES_MAX	16		/* upload_concurrency */

struct mig_s3;
struct mig_s3_req;

/*
 * Open streams, so that closing the transport detaches them.  detach
 * (NULL: none) runs first, while the transport is still whole: a writer
 * stops its threads there.
 */
struct mig_s3_stream {
	struct mig_s3		*s;
	struct mig_s3_stream	*next, *prev;
	void			(*detach)(struct mig_s3_stream *st);
};

/*
 * Where one request runs: an easy handle (curl's are never shared
 * between threads) and the context its errors go to.  The transport's
 * own lane is its handle x and its ctx; each thread of s3_parts.c has
 * one of its own.  cancel (NULL: never) stops a transfer under way and
 * any retry once it reads true.
 */
struct mig_s3_lane {
	struct mig_curlx_xfer	*x;
	struct mig_ctx		*ctx;
	const atomic_bool	*cancel;
};

/*
 * Performs one request on a lane and fills its answer: status, body,
 * ETag.  An error only when no HTTP answer came (connection, TLS,
 * cancel, bounds); the status is judged by the caller.  Reads struct
 * mig_s3 and writes nothing in it: threads call it at once.
 */
typedef int (*mig_s3_perform_fn)(struct mig_s3 *s, struct mig_s3_lane *ln,
	    struct mig_s3_req *rq, const char *what);

struct mig_s3 {
	struct mig_transport	*t;
	struct mig_ctx		*ctx;
	/* TLS, timeouts, and the secrets scrubbed from answers. */
	struct mig_curlx_conn	 conn;
	/* The one transfer; its head is the last answer's. */
	struct mig_curlx_xfer	 x;
	char			*origin;	/* https://host[:port] */
	char			*host;		/* Host header value */
	char			*bucket;
	char			*prefix;	/* "", or "a/b": no end '/' */
	bool			 virtual_host;
	char			*region;
	char			*storage_class, *sse, *sse_kms;
	char			*ak, *sk, *token;	/* secrets */
	uint64_t		 part_size;
	int			 upload_concurrency;	/* 1..16 */
	/* mig_s3_perform; unit tests put a fake S3 here. */
	mig_s3_perform_fn	 perform;
	struct mig_s3_stream	*streams;
	char			*dirs[MIG_S3_DIRCACHE_MAX];	/* markers */
	size_t			 ndirs, dirnext;
};

/* One request and its answer (the rest of its head: the lane's x). */
struct mig_s3_req {
	const char			*method;
	const char			*key;	/* full key; NULL: the bucket */
	const struct mig_sigv4_kv	*query;
	size_t				 nquery;
	const struct mig_sigv4_kv	*hdrs;	/* extra, signed */
	size_t				 nhdrs;
	const unsigned char		*body;
	size_t				 blen;
	size_t				 max;	/* answer body bound */
	unsigned char			*ans;	/* caller frees */
	size_t				 alen;
	size_t				 acap;	/* allocated for ans */
	bool				 ans_over;
	long				 status;	/* answer */
	char				 etag[MIG_CURLX_ETAG_MAX];
	/* Upload cursor */
	size_t				 sent;
};

/* --- s3_request.c: signed requests ------------------------------------- */

/*
 * The full key of a relative path and suffix: PREFIX/PATH (or PATH).
 * 0, or MIG_ERR_USAGE past S3's key limit.
 */
int	mig_s3_full_key(struct mig_s3 *s, const char *path, const char *suffix,
	    char *out, size_t cap);

/* "ROOT/PATH" for messages, in buf.  Returns buf. */
const char *mig_s3_where(struct mig_s3 *s, const char *path, char *buf,
	    size_t cap);

/* The text of <tag>...</tag> in an answer body, scrubbed, or "". */
void	mig_s3_xml_field(struct mig_s3 *s, const unsigned char *body,
	    size_t len, const char *tag, char *out, size_t cap);

/* The local part of an XML element name ("s3:Key" or "Key"). */
const char *mig_s3_xml_local(const char *name);

/* The text of the element an answer's parser is in, bounded. */
struct mig_s3_xtext {
	char	 buf[MIG_S3_KEY_MAX + 64];
	size_t	 len;
	bool	 over;		/* it was longer than buf holds */
};

/* Empties t: at each element's start and end. */
void	mig_s3_xtext_reset(struct mig_s3_xtext *t);

/* Appends s[0..len) of expat's text handler to t. */
void	mig_s3_xtext_add(struct mig_s3_xtext *t, const XML_Char *s, int len);

/*
 * Parses body[0..len) with expat, the handlers given arg.  0,
 * MIG_ERR_NOMEM, or MIG_ERR_FORMAT when it is not well formed; no
 * message set.
 */
int	mig_s3_xml_parse(const unsigned char *body, size_t len, void *arg,
	    XML_StartElementHandler start, XML_EndElementHandler end,
	    XML_CharacterDataHandler text);

/*
 * The real s->perform: signs and performs rq on ln, retrying connection
 * failures, 408, 429 and 5xx but 501 (every body is in memory, so every
 * request can be replayed).
 */
int	mig_s3_perform(struct mig_s3 *s, struct mig_s3_lane *ln,
	    struct mig_s3_req *rq, const char *what);

/*
 * s->perform on ln; anything but 2xx in the end is an error on ln->ctx.
 * 0 or MIG_ERR_*; either way rq->ans (the caller frees it) holds the
 * answer body, rq->status its status (0: none), and ln->x the rest of
 * its head until the next request on ln.
 */
int	mig_s3_request_on(struct mig_s3 *s, struct mig_s3_lane *ln,
	    struct mig_s3_req *rq, const char *what);

/* mig_s3_request_on the transport's own lane (s->x, s->ctx). */
int	mig_s3_request(struct mig_s3 *s, struct mig_s3_req *rq,
	    const char *what);

/* --- s3_read.c: HEAD, ListObjectsV2, ranged GETs ------------------------ */

/*
 * Whether anything lies under the full prefix pfx: one ListObjectsV2
 * request for one key.  0 with *foundp set, or MIG_ERR_*.
 */
int	mig_s3_probe(struct mig_s3 *s, const char *pfx, bool *foundp,
	    const char *what);

/* HEAD of a full key: 0 with the size, or MIG_ERR_NOTFOUND. */
int	mig_s3_head(struct mig_s3 *s, const char *key, struct mig_tstat *st,
	    const char *what);

/* The transport ops of the same names. */
int	mig_s3_list(struct mig_transport *t, const char *dir, mig_list_cb cb,
	    void *arg);
int	mig_s3_stat(struct mig_transport *t, const char *path,
	    struct mig_tstat *st);
int	mig_s3_open_read(struct mig_transport *t, const char *path,
	    struct mig_reader **rp);

/* --- s3_multipart.c: uploads ------------------------------------------- */

/* One PUT of body[0..len) to a full key.  0 or MIG_ERR_*. */
int	mig_s3_put_object(struct mig_s3 *s, const char *key,
	    const unsigned char *body, size_t len, const char *what);

/* The transport op of the same name. */
int	mig_s3_open_write(struct mig_transport *t, const char *path,
	    int64_t size, struct mig_writer **wp);

/* --- s3_parts.c: the parts of one multipart upload --------------------- */

struct mig_s3_parts;

/*
 * The parts of the upload upload_id of key (both borrowed, as is what,
 * until mig_s3_parts_free): at most s->upload_concurrency in flight,
 * each on a thread and lane of its own; with 1, each part goes up on
 * the transport's own lane before mig_s3_parts_put returns.  Caller
 * frees *pp.  0 or MIG_ERR_NOMEM on ctx.
 */
int	mig_s3_parts_new(struct mig_s3 *s, const char *key,
	    const char *upload_id, const char *what, struct mig_ctx *ctx,
	    struct mig_s3_parts **pp);

/*
 * Hands (*bufp)[0..len) over as part number num, the next one, waiting
 * while every lane is busy, and gives back in *bufp and *capp a buffer
 * to fill next (NULL and 0 at first).  Every buffer is wiped before it
 * is freed.  0, or the first failure of any part (named) on ctx: then no
 * part starts any more.
 */
int	mig_s3_parts_put(struct mig_s3_parts *p, int num, unsigned char **bufp,
	    size_t *capp, size_t len, struct mig_ctx *ctx);

/*
 * Waits until no part is in flight.  0 when every part handed over was
 * acknowledged, or the first failure on ctx.
 */
int	mig_s3_parts_wait(struct mig_s3_parts *p, struct mig_ctx *ctx);

/* The ETag of part num, after mig_s3_parts_wait returned 0. */
const char *mig_s3_parts_etag(const struct mig_s3_parts *p, int num);

/*
 * Cancels the parts in flight, joins every thread and frees p.  NULL is
 * fine.
 */
void	mig_s3_parts_free(struct mig_s3_parts *p);

/* --- s3.c: the list of open streams ------------------------------------ */

void	mig_s3_stream_link(struct mig_s3 *s, struct mig_s3_stream *st);
void	mig_s3_stream_unlink(struct mig_s3_stream *st);

/* MIG_ERR_USAGE on ctx: the stream outlived its transport. */
int	mig_s3_stream_gone(struct mig_ctx *ctx, const char *key);

#endif /* MIGRATE_S3_INT_H */
