/*
 * Destinations: one interface, one backend per URL scheme (file, sftp,
 * https).  Adding a backend changes no caller.
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
#include <stdint.h>
#include <time.h>

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
 * "https://host[:port]/path" (and "http://" for loopback tests).
 * Percent-escapes in the path are decoded.  Caller frees with
 * mig_url_free().  MIG_ERR_PARSE with a message on bad input.
 */
int	mig_url_parse(const char *text, struct mig_url *url,
	    struct mig_ctx *ctx);
void	mig_url_free(struct mig_url *url);

/*
 * Everything a backend needs.  Secrets (passphrase, password, token) are
 * resolved from the environment by the caller (lib/ never reads the
 * environment) and are borrowed; the backend never logs or prints them.
 */
struct mig_transport_config {
	const char	*url;			/* the destination URL */
	const char	*base_dir;		/* file:// relative paths start here */
	/* sftp */
	const char	*known_hosts;		/* required for sftp */
	const char	*identity;		/* private key file, or NULL */
	const char	*identity_passphrase;	/* secret, or NULL */
	const char	*password;		/* secret, or NULL */
	const char	*agent_socket;		/* SSH_AUTH_SOCK, or NULL */
	/* https */
	const char	*ca_file;		/* NULL: the system store */
	const char	*pinned_pubkey;		/* "sha256//..." or NULL */
	const char	*token;			/* bearer secret, or NULL */
	const char	*user;			/* basic auth user, or NULL */
	bool		 allow_plain_http_loopback;
	/* all network backends */
	long		 connect_timeout_ms;	/* 0: default 15 s */
	long		 io_timeout_ms;		/* 0: default 60 s */
	int		 retries;		/* transient failures; 0: 4 */
};

struct mig_tstat {
	uint64_t	size;
	time_t		mtime;
	bool		is_dir;
};

/* Callback for list: return non-zero to stop (that value is returned). */
typedef int (*mig_list_cb)(void *arg, const char *name,
    const struct mig_tstat *st);

struct mig_transport_ops {
	const char	*scheme;
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
	int	(*open_read)(struct mig_transport *t, const char *path,
		    struct mig_reader **rp);
	/* MIG_ERR_NOTFOUND when path does not exist. */
	int	(*stat)(struct mig_transport *t, const char *path,
		    struct mig_tstat *st);
	/* Entries of dir (not "." or ".."), in no particular order. */
	int	(*list)(struct mig_transport *t, const char *dir,
		    mig_list_cb cb, void *arg);
	/* Remove a file; MIG_ERR_NOTFOUND when absent. */
	int	(*remove)(struct mig_transport *t, const char *path);
	/* Remove an empty directory (optional: may be NULL). */
	int	(*rmdir)(struct mig_transport *t, const char *dir);
};

struct mig_transport {
	const struct mig_transport_ops	*ops;
	void				*priv;
	struct mig_ctx			*ctx;	/* borrowed */
	char				*root;	/* for messages: URL sans secrets */
};

/*
 * Opens the backend for cfg->url's scheme.  Caller frees with
 * mig_transport_close().  Refusals (unknown host key, bad certificate)
 * are MIG_ERR_SECURITY with a message that says how to fix it.
 */
int	mig_transport_open(const struct mig_transport_config *cfg,
	    struct mig_ctx *ctx, struct mig_transport **tp);
void	mig_transport_close(struct mig_transport *t);

/* True when a backend for scheme is compiled in. */
bool	mig_transport_has_scheme(const char *scheme);

/* Convenience wrappers over open_write/open_read for small objects. */
int	mig_transport_put(struct mig_transport *t, const char *path,
	    const void *buf, size_t len);
/* Reads at most max bytes (MIG_ERR_FORMAT if larger); caller frees *bufp. */
int	mig_transport_get(struct mig_transport *t, const char *path,
	    size_t max, unsigned char **bufp, size_t *lenp);

/*
 * The temporary name every backend writes an object to before publishing
 * it: DIR/.BASE.migrate-tmp-XXXXXXXX (8 random hex digits).  Caller frees;
 * NULL on ENOMEM or when no randomness is available.
 */
char	*mig_transport_tmp_name(const char *path);

/*
 * Checks a relative object path as described above; returns 0 or
 * MIG_ERR_SECURITY with a message naming the path.
 */
int	mig_path_check_relative(const char *path, struct mig_ctx *ctx);

#endif /* MIGRATE_TRANSPORT_H */
