/*
 * The SFTP transport's two halves: sftp_conn.c makes and keeps the
 * connection (TCP, SSH handshake, host key, authentication, reconnects)
 * and translates libssh2's errors; sftp.c runs the operations and the
 * object streams over it.  sftp_conn.c uses nothing of sftp.c, so that
 * sftp.c can be rebuilt alone with another MIG_SFTP_BUFSIZE
 * (tests/bench/sftp.sh).  Lib-only.
 */
#ifndef MIGRATE_SFTP_INT_H
#define MIGRATE_SFTP_INT_H

#if !defined(MIG_TRANSPORT_INTERNAL)
#error "sftp_int.h is private to lib/transport"
#endif

#include <stdbool.h>
#include <stddef.h>

#include <libssh2.h>
#include <libssh2_sftp.h>

#include "migrate/ssh_config.h"
#include "migrate/transport.h"
#include "migrate/util.h"

struct mig_ctx;

/* A set of remote directories known to exist (sftp.c). */
struct mig_sftp_dircache {
	struct mig_htab	  index;	/* path -> its place in paths */
	char		**paths;	/* owned; the index borrows them */
	size_t		  n, cap;
};

/*
 * SFTP channels of one connection that each carry one object in flight
 * (sftp_pipe.c): OpenSSH's MaxSessions is 10, the main channel is one.
 */
#define MIG_SFTP_LANES_MAX	9
#define MIG_SFTP_LANES_DEF	8

struct mig_sftp_pipe;

/* objects_in_flight's value (NULL: the default), or 0 when out of range. */
size_t	mig_sftp_lanes(const char *v);

/* One SSH connection with one SFTP channel: a transport's priv. */
struct mig_sftp_conn {
	struct mig_ctx		*ctx;		/* borrowed */
	char			*host;
	int			 port;
	char			*user;
	char			*root;		/* remote root, no final '/' */
	char			*where;		/* "user@host:port" */
	char			*known_hosts;
	char			*identity[MIG_SSHCFG_IDS_MAX]; /* to try */
	size_t			 nidentity;
	bool			 identity_explicit;
	char			*passphrase;	/* secret */
	char			*password;	/* secret */
	char			*agent_socket;
	long			 connect_timeout_ms;
	long			 io_timeout_ms;
	int			 retries;

	int			 sock;
	LIBSSH2_SESSION		*session;
	LIBSSH2_SFTP		*sftp;
	bool			 broken;	/* reconnect before next use */
	unsigned int		 gen;		/* connection generation */
	/* sftp.c's: it empties the cache before mig_sftp_conn_free(). */
	struct mig_sftp_dircache dirs;
	/* Objects in flight (sftp_pipe.c), on up to lanes more channels. */
	struct mig_sftp_pipe	*pipe;
	size_t			 lanes;
};

/*
 * Resolves the destination (URL, plan, ssh_config), refuses key files
 * that others can read, and connects: TCP, handshake, host key check
 * against known_hosts, authentication, SFTP.  Returns 0 with *cp set, or
 * a negative MIG_ERR_* with the detail on t->ctx.  Caller must free *cp
 * with mig_sftp_conn_free().
 */
int	mig_sftp_conn_open(struct mig_transport *t,
	    const struct mig_transport_config *cfg, const struct mig_url *url,
	    struct mig_sftp_conn **cp);
/* Disconnects and frees c, wiping its secrets.  NULL is a no-op. */
void	mig_sftp_conn_free(struct mig_sftp_conn *c);

/*
 * Before each operation: 0 when the connection is up, reconnecting first
 * when an earlier operation lost it; else the failure of the reconnect.
 */
int	mig_sftp_ready(struct mig_sftp_conn *c);

/*
 * Records the last libssh2 error of c as "OBJ: OP: WHAT" and returns its
 * MIG_ERR_* code; a connection failure (MIG_ERR_NET) marks c for a
 * reconnect before its next use.
 */
int	mig_sftp_fail(struct mig_sftp_conn *c, const char *obj,
	    const char *op);
/* The same for a failure on another SFTP channel of c (a lane's). */
int	mig_sftp_fail_on(struct mig_sftp_conn *c, LIBSSH2_SFTP *sftp,
	    const char *obj, const char *op);
/* Gives up the connection: nothing more waits on it; reconnect next. */
void	mig_sftp_mark_broken(struct mig_sftp_conn *c);
/* The SFTP status of the last failure, or LIBSSH2_FX_OK for others. */
unsigned long mig_sftp_last_status(struct mig_sftp_conn *c);
/* A static name for an SFTP status code ("no such file"). */
const char *mig_sftp_status_name(unsigned long st);

/*
 * Objects in flight (sftp_pipe.c).  pipe_start begins writing buf (len
 * bytes, borrowed) in place at full, a path already checked and its
 * parent made, without waiting for the server.  pipe_next hands back one
 * finished object (1; 0 when none is, or, wait, none is in flight),
 * driving the transfers until one is when wait.  blocking: the lane did
 * not write it (something stands at its path, or the server allows no
 * more channels); the caller writes it through the main channel.  path
 * and msg are the lane's until its next start.
 */
struct mig_sftp_put {
	void			*token;
	const char		*path;
	const void		*buf;
	size_t			 len;
	bool			 blocking;
	int			 code;
	const char		*msg;
};

int	mig_sftp_pipe_start(struct mig_sftp_conn *c, const char *path,
	    const char *full, const void *buf, size_t len, void *token);
int	mig_sftp_pipe_next(struct mig_sftp_conn *c, bool wait,
	    struct mig_sftp_put *put);
/* Opens the channels of n lanes now (blocking), those it can. */
void	mig_sftp_pipe_prepare(struct mig_sftp_conn *c, size_t n);
/* Closes the lanes' channels (before the session goes); in flight fail. */
void	mig_sftp_pipe_drop(struct mig_sftp_conn *c);
void	mig_sftp_pipe_free(struct mig_sftp_conn *c);

#endif /* MIGRATE_SFTP_INT_H */
