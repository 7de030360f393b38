/*
 * The https (WebDAV) backend's own internals, shared by its five files:
 * https.c (open, close, credentials, plan keys), https_xfer.c (the
 * transfers on the multi handle, one-shot requests, HTTP statuses),
 * webdav.c (MKCOL, PROPFIND, DELETE, MOVE), https_stream.c (streamed
 * PUT and GET) and https_pipe.c (whole objects in flight).  Lib-only:
 * not part of the public API.
 */
#ifndef MIGRATE_HTTPS_INT_H
#define MIGRATE_HTTPS_INT_H

#if !defined(MIG_TRANSPORT_INTERNAL) && !defined(MIG_INTERNAL)
#error "https_int.h is private to lib/transport"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "migrate/error.h"
#include "migrate/stream.h"
#include "migrate/transport.h"

#include "curl_xfer_int.h"
#include "propfind_int.h"

#define MIG_HTTPS_ERRBODY_MAX	512		/* error body bytes kept */
#define MIG_HTTPS_DIRCACHE_MAX	1024		/* directories known to exist */
#define MIG_HTTPS_URL_MAX	8192
#define MIG_HTTPS_PUTS_DEF	16		/* objects_in_flight */
#define MIG_HTTPS_PUTS_MAX	64

struct mig_https;
struct mig_https_pipe;

/* One transfer on one easy handle of the multi handle. */
struct mig_https_xfer {
	struct mig_curlx_xfer	 c;	/* the handle, outcome, answer head */
	struct mig_https	*h;
	struct curl_slist	*hdrs;
	bool			 in_multi;
	bool			 done;		/* CURLMSG_DONE seen */
	char			 errbody[MIG_HTTPS_ERRBODY_MAX];
	size_t			 errlen;
	/* Body sink for 2xx answers: returns len, PAUSE, or 0 on error. */
	size_t			(*sink)(void *arg, const char *buf, size_t len);
	void			*sink_arg;
};

/* An open writer (PUT) or reader (GET). */
struct mig_https_stream {
	struct mig_https	*h;	/* NULL once the transport closed */
	struct mig_https_stream	*prev, *next;	/* open streams of h */
	struct mig_https_xfer	 x;
	char			*path;	/* final relative path */
	/* temporary relative path (writer); NULL: written in place */
	char			*tmp;
	/* writer */
	int64_t			 size;
	uint64_t		 count;
	const unsigned char	*src;
	size_t			 srclen;
	bool			 eof;
	bool			 paused;
	bool			 published;
	bool			 chunked;
	/*
	 * The last byte of an announced-size body, held back until close so
	 * that an abandoned upload never completes on the server.
	 */
	unsigned char		 held;
	bool			 has_held;
	EVP_MD_CTX		*md;
	/* reader */
	unsigned char		*ring;
	size_t			 rhead, rlen;
	bool			 rpaused;
};

struct mig_https {
	struct mig_transport	*t;
	struct mig_ctx		*ctx;
	CURLM			*multi;
	CURLSH			*share;
	/* TLS, timeouts, and what auth carries, scrubbed from answers. */
	struct mig_curlx_conn	 conn;
	struct mig_https_xfer	 sx;	/* the one-shot request handle */
	char			*origin;	/* "https://host:port" */
	char			*root;	/* encoded root path, no trailing '/' */
	char			*root_dec;	/* decoded, no trailing '/' */
	char			*auth;	/* "Authorization: ..." (secret) */
	bool			 plain;
	char			**dirs;	/* directories known to exist */
	size_t			 ndirs;
	struct mig_https_stream	*streams;
	size_t			 nputs;	/* objects_in_flight */
	struct mig_https_pipe	*pipe;	/* the puts; NULL until the first */
};

/* One request of the one-shot kind. */
struct mig_https_req {
	const char	*method;
	const char	*path;		/* relative; "" is the root */
	const char	*abs;		/* encoded path replacing root+path */
	bool		 dir;		/* URL ends with '/' */
	const char	*depth;
	const char	*dest;		/* Destination URL */
	const char	*overwrite;	/* "T" or "F" */
	const char	*body;		/* an XML body to send, or NULL */
	struct mig_pf	*pf;		/* parses a 2xx body */
	int		 retries;	/* -1: the transport's setting */
	bool		 quiet;		/* leave ctx alone */
	long		 status;	/* out */
	int		 attempts;	/* out: how many were made */
};

/* --- https_xfer.c: URLs, HTTP statuses, transfers ---------------------- */

/*
 * "ROOT/PATH" for messages (never carries credentials), in buf or the
 * root itself.  Borrowed.
 */
const char *mig_https_where(struct mig_https *h, const char *path, char *buf,
	    size_t sz);

/* Appends s percent-encoded (keeping '/') to out[*olen]; false if full. */
bool	mig_https_encode_path(const char *s, char *out, size_t cap,
	    size_t *olen);

/*
 * Full URL of a relative path (trailing '/' for a collection) into out.
 * 0, or MIG_ERR_USAGE (no message) when it does not fit.
 */
int	mig_https_make_url(struct mig_https *h, const char *path, bool dir,
	    char *out, size_t cap);

/* Path checks of transport.h, with "" meaning the root where allowed. */
int	mig_https_check_path(struct mig_https *h, const char *path,
	    bool root_ok);

/* 408, 429 and the 5xx worth another attempt. */
bool	mig_https_status_transient(long status);

/*
 * An unexpected HTTP status of x as MIG_ERR_* with the server's message
 * (scrubbed) on ctx; a redirect is MIG_ERR_SECURITY.  Returns the code.
 */
int	mig_https_http_error(struct mig_https_xfer *x, struct mig_ctx *ctx,
	    const char *what, const char *method);

/*
 * One round of every transfer of h, without waiting: finished ones are
 * marked done on their struct mig_https_xfer; *runningp is how many are
 * left.  0, or MIG_ERR_NET when curl cannot go on.
 */
int	mig_https_perform(struct mig_https *h, int *runningp,
	    struct mig_ctx *ctx, const char *what);

/* Waits up to ms (at most a second) for activity on h's transfers. */
int	mig_https_poll(struct mig_https *h, long ms, struct mig_ctx *ctx,
	    const char *what);

/*
 * Runs every transfer of h until ready(arg) holds.  Finished transfers
 * are marked done on their struct mig_https_xfer whoever waits for them.
 * 0, or MIG_ERR_NET / MIG_ERR_INTERNAL when curl cannot go on.
 */
int	mig_https_pump(struct mig_https *h, bool (*ready)(void *), void *arg,
	    struct mig_ctx *ctx, const char *what);

/* Readiness tests of mig_https_pump for a struct mig_https_xfer. */
bool	mig_https_ready_done(void *arg);
bool	mig_https_ready_headers(void *arg);

/* Takes x off the multi handle, if it is on it. */
void	mig_https_xfer_detach(struct mig_https *h, struct mig_https_xfer *x);

/*
 * Resets x for a request to url with the options every request shares.
 * x->hdrs stays owned by x.  0 or MIG_ERR_*.
 */
int	mig_https_xfer_setup(struct mig_https *h, struct mig_https_xfer *x,
	    const char *url);

/*
 * Header list of x: the credentials and the non-NULL extra lines; wiped
 * on free.  0 or MIG_ERR_*.
 */
int	mig_https_build_headers(struct mig_https *h, struct mig_https_xfer *x,
	    const char *const *extra, size_t nextra);

/*
 * x set up for a PUT of size bytes (-1: chunked) to url, its body read
 * by rd(arg), with the credentials and the non-NULL extra header lines.
 * 0 or MIG_ERR_*.
 */
int	mig_https_upload_setup(struct mig_https *h, struct mig_https_xfer *x,
	    const char *url, int64_t size, curl_read_callback rd, void *arg,
	    const char *const *extra, size_t nextra);

/*
 * What the end of x means for attempt number attempt (0-based) of a
 * request allowed max retries: 1 to try again after *delayp ms (a
 * connection failure or a transient status); 0 for an answer for the
 * caller to read (x->c.status); or the failure, as MIG_ERR_* on ctx,
 * once the retries are spent or when retrying cannot help.
 */
int	mig_https_verdict(struct mig_https *h, struct mig_https_xfer *x,
	    int attempt, int max, struct mig_ctx *ctx, const char *what,
	    const char *method, long *delayp);

/*
 * Runs rq on h->sx, retrying connection failures and transient statuses.
 * 0 with rq->status set for any answer that is not transient, or
 * MIG_ERR_* (on ctx unless rq->quiet).
 */
int	mig_https_run_request(struct mig_https *h, struct mig_https_req *rq);

/* --- webdav.c: the one-shot WebDAV operations -------------------------- */

/* Empties the cache of directories known to exist. */
void	mig_webdav_forget_dirs(struct mig_https *h);

/* The transport ops of the same names. */
int	mig_webdav_mkdir_p(struct mig_transport *t, const char *dir);
/* dir and the folders above it are there (transport.h: dir_known). */
void	mig_webdav_dir_known(struct mig_transport *t, const char *dir);
int	mig_webdav_stat(struct mig_transport *t, const char *path,
	    struct mig_tstat *st);
int	mig_webdav_list(struct mig_transport *t, const char *dir,
	    mig_list_cb cb, void *arg);
int	mig_webdav_remove(struct mig_transport *t, const char *path);

/*
 * DELETE path (Depth: infinity for a collection).  quiet: tried once,
 * ctx left alone (cleaning up after a failure).  0 or MIG_ERR_*.
 */
int	mig_webdav_delete(struct mig_https *h, const char *path, bool dir,
	    bool quiet);

/* MOVE src to dst, replacing dst if it exists.  0 or MIG_ERR_*. */
int	mig_webdav_move(struct mig_https *h, const char *src, const char *dst);

/* --- https_stream.c: streamed PUT and GET ------------------------------ */

/* The transport ops of the same names. */
int	mig_https_open_write(struct mig_transport *t, const char *path,
	    int64_t size, struct mig_writer **wp);
int	mig_https_open_write_unpublished(struct mig_transport *t,
	    const char *path, int64_t size, struct mig_writer **wp);
int	mig_https_open_read(struct mig_transport *t, const char *path,
	    struct mig_reader **rp);

/* Open streams lose their transport; their transfers stop here. */
void	mig_https_streams_orphan(struct mig_https *h);

/* --- https_pipe.c: whole objects in flight ---------------------------- */

/*
 * objects_in_flight's value (NULL: the default), or 0 when it is not
 * 1 to MIG_HTTPS_PUTS_MAX.
 */
size_t	mig_https_puts_value(const char *v);

/* The transport ops of the same names. */
int	mig_https_put_start(struct mig_transport *t, const char *path,
	    const void *buf, size_t len, void *token);
int	mig_https_put_next(struct mig_transport *t, bool wait,
	    struct mig_put_done *d);
size_t	mig_https_put_capacity(struct mig_transport *t);

/* Stops and frees the puts in flight (their buffers are the caller's). */
void	mig_https_pipe_free(struct mig_https *h);

#endif /* MIGRATE_HTTPS_INT_H */
