/*
 * Destinations: one interface, one backend per URL scheme (file, sftp,
 * https, s3).  Each backend declares its scheme and the plan keys it takes;
 * the plan and the command line learn them from the registry, so adding
 * a backend is one new file and one line in transport.c's table.
 * Callers use the mig_transport_* wrappers below, never the ops.
 *
 * Every path given to an operation is RELATIVE to the destination root
 * (the URL's path), uses '/' separators, and has already been checked by
 * the caller to contain no "..", no empty or "." component, no leading
 * '/', no control characters.  Backends check it again (defence in depth)
 * and refuse with MIG_ERR_SECURITY.
 *
 * One struct mig_transport is one connection; it is not thread-safe.
 * A run opens one per worker.
 */
#ifndef MIGRATE_TRANSPORT_H
#define MIGRATE_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "migrate/error.h"

struct mig_ctx;
struct mig_writer;
struct mig_reader;
struct mig_transport;

/*
 * Temporary objects are named DIR/.BASE.migrate-tmp-XXXXXXXX; the https
 * backend drops the leading dot (WebDAV listings hide dot-files, and a
 * temporary must be listable to be swept).  Sweeps match MIG_TMP_INFIX.
 */
#define MIG_TMP_INFIX	".migrate-tmp-"

struct mig_url {
	char		*scheme;	/* "file", "sftp", "https", "http" */
	char		*user;		/* NULL when absent */
	char		*host;		/* NULL for file:// */
	int		 port;		/* 0 when absent */
	char		*path;		/* decoded; for file:// as written */
};

/*
 * Parses "file://PATH", "sftp://[user@]host[:port]/path",
 * "https://host[:port]/path", "s3://bucket/prefix" (and "http://" for
 * loopback tests); all but file:// are split by libcurl's URL parser.
 * Percent-escapes in user and path are decoded.  Caller frees with
 * mig_url_free().  MIG_ERR_PARSE with a message on bad input: a port that
 * is not 1-65535 in plain digits, a password, a query or fragment.
 */
int	mig_url_parse(const char *text, struct mig_url *url,
	    struct mig_ctx *ctx);
void	mig_url_free(struct mig_url *url);

/* --- Destination options ----------------------------------------------- */

/* How a plan key of a backend is read. */
enum mig_tkey_type {
	MIG_TKEY_STRING,	/* any string */
	MIG_TKEY_PATH,		/* a file, relative to the plan ("~/" ok) */
	MIG_TKEY_ENV,		/* the NAME of an environment variable that
				   holds a secret: never the secret itself */
	MIG_TKEY_BOOL,		/* "true" or "false" */
	MIG_TKEY_INT		/* an integer, in decimal; the backend's
				   check() bounds it */
};

/* One plan key a backend takes ([destination] NAME = ...). */
struct mig_tkey {
	const char		*name;
	enum mig_tkey_type	 type;
	const char		*dflt;	/* default value, or NULL */
	const char		*help;	/* one line, for messages and docs */
};

#define MIG_TOPTS_MAX	32

/*
 * Destination options by name.  Values are borrowed strings; in a
 * transport config, an MIG_TKEY_ENV option holds the secret itself
 * (resolved from the environment by the caller: lib/ never reads it).
 */
struct mig_topts {
	size_t	n;
	struct {
		const char	*name;
		const char	*value;
	} v[MIG_TOPTS_MAX];
};

/* The value of name, or NULL. */
const char *mig_topts_get(const struct mig_topts *o, const char *name);
/* True when name is "true". */
bool	mig_topts_bool(const struct mig_topts *o, const char *name);
/* Sets (or replaces) name; both borrowed.  MIG_ERR_USAGE when full. */
int	mig_topts_set(struct mig_topts *o, const char *name, const char *value);

/*
 * Everything a backend needs.  Secrets are resolved by the caller and
 * borrowed; the backend never logs or prints them.
 */
struct mig_transport_config {
	const char	*url;			/* the destination URL */
	const char	*base_dir;		/* file:// relative paths start here */
	struct mig_topts opts;			/* the backend's plan keys */
	const char	*agent_socket;		/* SSH_AUTH_SOCK, or NULL */
	const char	*home;			/* HOME, for default files, or NULL */
	long		 connect_timeout_ms;	/* 0: default 15 s */
	long		 io_timeout_ms;		/* 0: default 60 s */
	int		 retries;		/* transient failures; 0: 4 */
	int		 jobs;			/* the run's --jobs; 0: unknown */
	/* Tests: this backend, whatever the URL's scheme (NULL: by scheme). */
	const struct mig_transport_ops *ops;
};

enum mig_ftype {
	MIG_FT_FILE,
	MIG_FT_DIR,
	MIG_FT_LINK,		/* a symbolic link (never followed) */
	MIG_FT_OTHER		/* device, FIFO, socket, unknown */
};

struct mig_tstat {
	uint64_t	size;
	time_t		mtime;
	enum mig_ftype	type;
};

/* A put that completed (see put_start), for whoever started it. */
struct mig_put_done {
	void		*token;
	int		 code;		/* 0, or the failure's MIG_ERR_* */
	char		 msg[MIG_ERRMSG_MAX];	/* the failure ("" on success) */
};

/* Callback for list: return non-zero to stop (that value is returned). */
typedef int (*mig_list_cb)(void *arg, const char *name,
    const struct mig_tstat *st);

struct mig_transport_ops {
	const char	*scheme;
	/* Another scheme it also serves ("http" for https), or NULL. */
	const char	*alias;
	/* The plan keys it takes, NULL-terminated (may be NULL). */
	const struct mig_tkey *keys;
	/*
	 * Checks the options together with the URL (keys that need each
	 * other, formats); on a problem writes a message into msg, sets
	 * *keyp to the key at fault (NULL: the URL) and returns
	 * MIG_ERR_PARSE.  Optional.
	 */
	int	(*check)(const struct mig_topts *opts, const struct mig_url *url,
		    const char **keyp, char *msg, size_t size);
	/* Connect and authenticate; verify host key / certificate. */
	int	(*open)(struct mig_transport *t,
		    const struct mig_transport_config *cfg,
		    const struct mig_url *url);
	void	(*close)(struct mig_transport *t);
	/* Create dir and its parents; existing directories are fine. */
	int	(*mkdir_p)(struct mig_transport *t, const char *dir);
	/*
	 * A sink whose close makes the object durable and then publishes it
	 * atomically at path (temporary name, fsync where possible, rename).
	 * Freed without a successful close, the temporary is removed.
	 * size is the exact length that will be written (-1 if unknown).
	 */
	int	(*open_write)(struct mig_transport *t, const char *path,
		    int64_t size, struct mig_writer **wp);
	/*
	 * The same for an object inside a run directory that is not yet
	 * published (no _SUCCESS): it may be written in place, without
	 * the temporary and the rename, which cost a round trip each over
	 * SFTP (DESIGN.md 3).  It is never created through a link already
	 * at path: that is removed first.  Freed without a successful
	 * close, nothing of it is left (and the object that stood at path
	 * before may be gone too).  Optional: open_write serves.  A backend
	 * that has it writes no temporary here, nor in put_start: a run
	 * directory written only so holds none to sweep.
	 */
	int	(*open_write_unpublished)(struct mig_transport *t,
		    const char *path, int64_t size, struct mig_writer **wp);
	int	(*open_read)(struct mig_transport *t, const char *path,
		    struct mig_reader **rp);
	/* MIG_ERR_NOTFOUND when path does not exist. */
	int	(*stat)(struct mig_transport *t, const char *path,
		    struct mig_tstat *st);
	/*
	 * Entries of dir (not "." or ".."), in no particular order.  A
	 * server may hide dot-files from a listing (WebDAV: nginx's
	 * dav_ext), so a name a listing leaves out is not yet missing:
	 * stat it before saying so.
	 */
	int	(*list)(struct mig_transport *t, const char *dir,
		    mig_list_cb cb, void *arg);
	/* Remove a file; MIG_ERR_NOTFOUND when absent. */
	int	(*remove)(struct mig_transport *t, const char *path);
	/*
	 * Whole objects in flight, for a WAN: put_start begins writing an
	 * object of an unpublished run directory (as open_write_unpublished
	 * does, its parent already made), all len bytes of it in buf, and
	 * returns without waiting for the server; buf stays borrowed until
	 * put_next hands back its completion.  The caller never has more
	 * than put_capacity() puts started and not yet collected.  0 when
	 * started, else the error and nothing was started.  put_next
	 * collects one completed put into *d and returns 1, or returns 0
	 * when none has completed (wait: when none is in flight); with
	 * wait it drives the transfers until one completes.  All three or
	 * none (the wrappers below then write each object at once).
	 */
	int	(*put_start)(struct mig_transport *t, const char *path,
		    const void *buf, size_t len, void *token);
	int	(*put_next)(struct mig_transport *t, bool wait,
		    struct mig_put_done *d);
	size_t	(*put_capacity)(struct mig_transport *t);
	/*
	 * n puts will come: get ready for them now, while the caller has
	 * time to wait (SFTP opens its lanes' channels).  Optional; a
	 * failure is not an error here (put_start copes).
	 */
	void	(*put_prepare)(struct mig_transport *t, size_t n);
	/*
	 * dir and every folder above it were made (or found real) a moment
	 * ago by this process on another connection to the same
	 * destination: take them as there, without asking.  Optional.
	 */
	void	(*dir_known)(struct mig_transport *t, const char *dir);
};

struct mig_transport {
	const struct mig_transport_ops	*ops;
	void				*priv;
	struct mig_ctx			*ctx;	/* borrowed */
	char				*root;	/* for messages: URL sans secrets */
	/* A backend without put_start: the one put done and not collected. */
	struct mig_put_done		*put_held;
};

/*
 * Opens the backend for cfg->url's scheme.  Caller frees with
 * mig_transport_close().  Refusals (unknown host key, bad certificate)
 * are MIG_ERR_SECURITY with a message that says how to fix it.
 */
int	mig_transport_open(const struct mig_transport_config *cfg,
	    struct mig_ctx *ctx, struct mig_transport **tp);
void	mig_transport_close(struct mig_transport *t);

/* The backend for scheme (or its alias), or NULL. */
const struct mig_transport_ops *mig_transport_backend(const char *scheme);
/* "file, sftp or https" (the schemes there are) into buf; returns buf. */
const char *mig_transport_schemes(char *buf, size_t size);
/*
 * The first scheme other than not_scheme whose backend takes key name,
 * or NULL (to say "this key is for sftp:// destinations").
 */
const char *mig_transport_key_scheme(const char *name,
	    const char *not_scheme);
/* The declaration of key name in backend ops, or NULL. */
const struct mig_tkey *mig_transport_key(const struct mig_transport_ops *ops,
	    const char *name);

/*
 * The operations, for every caller.  Each checks its path once (relative,
 * no "..", no control characters: MIG_ERR_SECURITY) and reports on t's
 * context; an operation a backend lacks is MIG_ERR_USAGE.
 */
int	mig_transport_mkdir_p(struct mig_transport *t, const char *dir);
int	mig_transport_open_write(struct mig_transport *t, const char *path,
	    int64_t size, struct mig_writer **wp);
/*
 * For an object of a run directory without _SUCCESS only: the backend's
 * open_write_unpublished, else open_write.  A resumed run trusts no
 * object its journal does not record as landed and checked, so a
 * partial object written in place is never taken for a whole one.
 */
int	mig_transport_open_write_unpublished(struct mig_transport *t,
	    const char *path, int64_t size, struct mig_writer **wp);
int	mig_transport_open_read(struct mig_transport *t, const char *path,
	    struct mig_reader **rp);
/* MIG_ERR_NOTFOUND when path does not exist. */
int	mig_transport_stat(struct mig_transport *t, const char *path,
	    struct mig_tstat *st);
int	mig_transport_list(struct mig_transport *t, const char *dir,
	    mig_list_cb cb, void *arg);
int	mig_transport_remove(struct mig_transport *t, const char *path);

/*
 * True when objects of an unpublished run directory are written in place
 * (the backend has open_write_unpublished): no temporary is ever left
 * there by this process, so a fresh run directory needs no sweep.
 */
bool	mig_transport_unpublished_in_place(const struct mig_transport *t);

/*
 * Whole objects in flight (the ops' put_start, put_next, put_capacity).
 * Over a backend without them, put_start writes the object at once
 * (open_write_unpublished, write, close) and holds its completion for
 * put_next, and the capacity is 1.  The path is checked as for every
 * operation; an error from put_start means nothing was started.
 */
int	mig_transport_put_start(struct mig_transport *t, const char *path,
	    const void *buf, size_t len, void *token);
int	mig_transport_put_next(struct mig_transport *t, bool wait,
	    struct mig_put_done *d);
size_t	mig_transport_put_capacity(struct mig_transport *t);
void	mig_transport_put_prepare(struct mig_transport *t, size_t n);

/*
 * dir (and the folders above it) was made by mig_transport_mkdir_p() on
 * another connection of this process to the same destination: this one
 * need not ask again (over a WAN a round trip per level).  A no-op for a
 * path that does not check, or a backend that keeps no such knowledge.
 */
void	mig_transport_dir_known(struct mig_transport *t, const char *dir);

/* Convenience wrappers over open_write/open_read for small objects. */
int	mig_transport_put(struct mig_transport *t, const char *path,
	    const void *buf, size_t len);
/* The same through open_write_unpublished (see there). */
int	mig_transport_put_unpublished(struct mig_transport *t,
	    const char *path, const void *buf, size_t len);
/* Reads at most max bytes (MIG_ERR_FORMAT if larger); caller frees *bufp. */
int	mig_transport_get(struct mig_transport *t, const char *path,
	    size_t max, unsigned char **bufp, size_t *lenp);

/*
 * The file backend's reads of a path whose names hold control characters,
 * which the operations above refuse: a BagIt bag may name a file "a\nb"
 * (RFC 8493 2.1.3), and the validator reads a local bag through these.
 * The path must still be plain (relative, no "..", "." or empty
 * component: MIG_ERR_SECURITY), nothing below the root is followed, and
 * messages may hold the name raw (escape it before printing).
 * MIG_ERR_USAGE when t is not a file:// transport.
 */
int	mig_transport_file_open_read_any(struct mig_transport *t,
	    const char *path, struct mig_reader **rp);
int	mig_transport_file_stat_any(struct mig_transport *t, const char *path,
	    struct mig_tstat *st);
int	mig_transport_file_list_any(struct mig_transport *t, const char *dir,
	    mig_list_cb cb, void *arg);

/*
 * The temporary name every backend writes an object to before publishing
 * it: mig_tmp_name() of util.h, DIR/.BASE.migrate-tmp-XXXXXXXX with BASE
 * shortened so that the name fits in NAME_MAX as the final name does.
 * Caller frees; NULL on ENOMEM or when no randomness is available.
 */
char	*mig_transport_tmp_name(const char *path);

/*
 * Checks a relative object path as described above; returns 0 or
 * MIG_ERR_SECURITY with a message naming the path.
 */
int	mig_path_check_relative(const char *path, struct mig_ctx *ctx);

#endif /* MIGRATE_TRANSPORT_H */
