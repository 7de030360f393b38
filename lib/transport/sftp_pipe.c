/*
 * SFTP: whole objects in flight over one SSH session (put_start,
 * put_next; issue 15).
 *
 * Over a WAN a small object costs round trips, not bandwidth: open,
 * write, fsync, close are four, one after the other.  libssh2 keeps the
 * state of an open, an fsync and so on per SFTP channel, so one channel
 * carries one such request at a time; but a session carries many
 * channels.  Each object in flight gets a "lane": its own SFTP channel
 * on the connection's session, driven as a state machine in libssh2's
 * non-blocking mode, all lanes from one loop that waits on the socket.
 * Everything else on the connection stays blocking and uses the main
 * channel; the session is non-blocking only inside pipe_drive().
 *
 * Lanes open their channels when first needed, in the same loop, one at
 * a time (libssh2 keeps that state per session) while the open lanes go
 * on.  OpenSSH allows ten sessions per connection (MaxSessions), the
 * main channel one of them, so at most MIG_SFTP_LANES_MAX; a lane the
 * server refuses a channel writes its objects through the main channel,
 * blocking.
 *
 * What a lane cannot do without asking first (something already stands
 * at the path: an object of an earlier attempt, or a link; its parent
 * is gone) it hands to the blocking writer of sftp.c, which knows how.
 */
#define MIG_TRANSPORT_INTERNAL

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libssh2.h>
#include <libssh2_sftp.h>

#include "migrate/error.h"
#include "migrate/transport.h"
#include "migrate/util.h"

#include "sftp_int.h"

#define LANE_FILE_MODE	0644
/* Channel window a close may go behind an fsync with (both ~50 bytes). */
#define LANE_WINDOW_SPARE	4096

enum lane_step {
	LANE_FREE,
	LANE_CHANNEL,		/* its channel is being opened */
	LANE_OPEN,
	LANE_WRITE,
	LANE_FSYNC,
	LANE_CLOSE,
	LANE_DONE		/* outcome in code and msg, for put_next */
};

struct sftp_lane {
	LIBSSH2_SFTP		*sftp;		/* its channel; NULL: none yet */
	bool			 refused;	/* no channel: blocking writes */
	LIBSSH2_SFTP_HANDLE	*h;
	enum lane_step		 step;
	bool			 created;	/* its object stands there */
	bool			 close_sent;	/* behind the fsync */
	bool			 stale;		/* shut its channel first */
	bool			 blocking;	/* DONE, but hand it to sftp.c */
	char			*path;		/* relative, for messages */
	char			*full;
	const unsigned char	*buf;		/* borrowed */
	size_t			 len, off;
	void			*token;
	unsigned long		 seq;		/* order of put_start */
	int			 code;
	char			 msg[MIG_ERRMSG_MAX];
};

struct mig_sftp_pipe {
	size_t			 nlanes;
	unsigned long		 seq;
	/* libssh2 opens one SFTP channel of a session at a time. */
	struct sftp_lane	*opening;
	struct sftp_lane	 lane[MIG_SFTP_LANES_MAX];
};


/* Marks l done with the failure on c's context, which it takes over. */
static void
lane_done(struct mig_sftp_conn *c, struct sftp_lane *l, int code)
{
	l->step = LANE_DONE;
	l->code = code;
	(void)snprintf(l->msg, sizeof(l->msg), "%s", code != 0 ?
	    mig_errmsg(c->ctx) : "");
	mig_clearerr(c->ctx);
}

/* The session's last error for l, as mig_sftp_fail() words it. */
static int
lane_fail(struct mig_sftp_conn *c, struct sftp_lane *l, const char *op)
{
	return mig_sftp_fail_on(c, l->sftp, l->path, op);
}

/* True when l's last call only has to be made again. */
static bool
lane_again(struct mig_sftp_conn *c)
{
	return libssh2_session_last_errno(c->session) == LIBSSH2_ERROR_EAGAIN;
}

/*
 * Opens l's channel, one lane at a time, while the lanes already open
 * go on.  A channel the server refuses (MaxSessions) makes the lane
 * hand its objects to the main channel from then on.
 */
static int
lane_channel(struct mig_sftp_conn *c, struct mig_sftp_pipe *p,
    struct sftp_lane *l)
{
	if (p->opening != NULL && p->opening != l)
		return 0;
	p->opening = l;
	if ((l->sftp = libssh2_sftp_init(c->session)) == NULL) {
		if (lane_again(c))
			return 0;
		p->opening = NULL;
		l->refused = true;
		l->blocking = true;
		lane_done(c, l, 0);
		return -1;
	}
	p->opening = NULL;
	l->step = LANE_OPEN;
	return 1;
}

/*
 * The close goes out right behind the fsync, a round trip saved: the
 * server answers in order, so the fsync's answer comes first and is
 * always taken before the close's (lane_step calls fsync first), and the
 * handle, which the close frees, outlives it.  Only when the fsync
 * request is surely out whole: libssh2 would send a close behind a
 * partly sent one, so not while the socket or the channel window holds
 * it back.  A close that finished at once (both answers there already:
 * it happens on loopback) took the handle with it, and the fsync's
 * answer cannot be read any more: the object is written again by the
 * blocking writer, and the lane's channel, with that answer in it, is
 * shut (stale) before it carries another.
 */
static int
lane_close_behind(struct mig_sftp_conn *c, struct sftp_lane *l)
{
	int rc;

	if ((libssh2_session_block_directions(c->session) &
	    LIBSSH2_SESSION_BLOCK_OUTBOUND) ||
	    libssh2_channel_window_write(libssh2_sftp_get_channel(l->sftp)) <
	    LANE_WINDOW_SPARE)
		return 0;
	rc = libssh2_sftp_close_handle(l->h);
	if (rc == LIBSSH2_ERROR_EAGAIN) {
		l->close_sent = true;
		return 1;
	}
	l->h = NULL;
	l->stale = true;
	if (rc != 0) {
		lane_done(c, l, lane_fail(c, l, "close"));
		return -1;
	}
	l->blocking = true;
	lane_done(c, l, 0);
	return -1;
}

/*
 * One step of l, without blocking: 1 when it moved on, 0 when it waits
 * for the server, -1 when it failed or ended (LANE_DONE).
 */
static int
lane_step(struct mig_sftp_conn *c, struct mig_sftp_pipe *p,
    struct sftp_lane *l)
{
	unsigned long st;
	ssize_t k;
	int rc;

	switch (l->step) {
	case LANE_CHANNEL:
		return lane_channel(c, p, l);
	case LANE_OPEN:
		l->h = libssh2_sftp_open_ex(l->sftp, l->full,
		    (unsigned int)strlen(l->full), LIBSSH2_FXF_WRITE |
		    LIBSSH2_FXF_CREAT | LIBSSH2_FXF_EXCL, LANE_FILE_MODE,
		    LIBSSH2_SFTP_OPENFILE);
		if (l->h != NULL) {
			l->created = true;
			l->step = LANE_WRITE;
			return 1;
		}
		if (lane_again(c))
			return 0;
		st = libssh2_session_last_errno(c->session) ==
		    LIBSSH2_ERROR_SFTP_PROTOCOL ?
		    libssh2_sftp_last_error(l->sftp) : LIBSSH2_FX_OK;
		if (st == LIBSSH2_FX_FAILURE ||
		    st == LIBSSH2_FX_FILE_ALREADY_EXISTS ||
		    st == LIBSSH2_FX_NO_SUCH_FILE ||
		    st == LIBSSH2_FX_NO_SUCH_PATH) {
			/* Something stands there, or the folder is gone. */
			l->blocking = true;
			lane_done(c, l, 0);
			return -1;
		}
		lane_done(c, l, lane_fail(c, l, "create"));
		return -1;
	case LANE_WRITE:
		if (l->off == l->len) {
			l->step = LANE_FSYNC;
			return 1;
		}
		k = libssh2_sftp_write(l->h, (const char *)l->buf + l->off,
		    l->len - l->off);
		if (k == LIBSSH2_ERROR_EAGAIN)
			return 0;
		if (k <= 0) {
			lane_done(c, l, k < 0 ? lane_fail(c, l, "write") :
			    mig_seterr(c->ctx, MIG_ERR_NET, "%s: write: no "
			    "progress", l->path));
			return -1;
		}
		l->off += (size_t)k;
		return 1;
	case LANE_FSYNC:
		/* fsync@openssh.com; a server without it gets none. */
		rc = libssh2_sftp_fsync(l->h);
		if (rc == LIBSSH2_ERROR_EAGAIN)
			return l->close_sent ? 0 : lane_close_behind(c, l);
		if (rc != 0 && (libssh2_session_last_errno(c->session) !=
		    LIBSSH2_ERROR_SFTP_PROTOCOL ||
		    libssh2_sftp_last_error(l->sftp) !=
		    LIBSSH2_FX_OP_UNSUPPORTED)) {
			lane_done(c, l, lane_fail(c, l, "fsync"));
			return -1;
		}
		l->step = LANE_CLOSE;
		return 1;
	case LANE_CLOSE:
		rc = libssh2_sftp_close_handle(l->h);
		if (rc == LIBSSH2_ERROR_EAGAIN)
			return 0;
		l->h = NULL;
		lane_done(c, l, rc != 0 ? lane_fail(c, l, "close") : 0);
		return -1;
	default:
		return -1;
	}
}

/* True when a channel of a lane in flight has data libssh2 holds for it. */
static bool
lanes_have_data(struct mig_sftp_pipe *p)
{
	size_t i;

	for (i = 0; i < p->nlanes; i++)
		if (p->lane[i].step > LANE_CHANNEL &&
		    p->lane[i].step < LANE_DONE &&
		    libssh2_poll_channel_read(libssh2_sftp_get_channel(
		    p->lane[i].sftp), 0))
			return true;
	return false;
}

/* Waits up to ms for the socket to be ready as the session needs it. */
static int
wait_socket(struct mig_sftp_conn *c, long ms)
{
	struct pollfd pfd;
	int dir, n;

	dir = libssh2_session_block_directions(c->session);
	pfd.fd = c->sock;
	pfd.events = 0;
	if (dir & LIBSSH2_SESSION_BLOCK_INBOUND)
		pfd.events |= POLLIN;
	if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
		pfd.events |= POLLOUT;
	if (pfd.events == 0)
		pfd.events = POLLIN;
	do
		n = poll(&pfd, 1, (int)ms);
	while (n < 0 && errno == EINTR);
	return n;
}

/* Every lane in flight fails with the connection (it is marked broken). */
static void
lanes_lost(struct mig_sftp_conn *c, struct mig_sftp_pipe *p, const char *why)
{
	struct sftp_lane *l;
	size_t i;

	for (i = 0; i < p->nlanes; i++) {
		l = &p->lane[i];
		if (l->step == LANE_FREE || l->step == LANE_DONE)
			continue;
		lane_done(c, l, mig_seterr(c->ctx, MIG_ERR_NET, "%s: %s",
		    l->path, why));
	}
	mig_sftp_mark_broken(c);
}

/*
 * Moves every lane in flight on, without blocking, until one is done
 * (until: also those done before count) or, unless wait, until none can
 * move without the server.  Waiting, the I/O timeout runs from the last
 * progress; when it passes the connection is given up.
 */
static void
pipe_drive(struct mig_sftp_conn *c, struct mig_sftp_pipe *p, bool wait)
{
	long idle_since = mig_now_ms(), left;
	bool moved, busy, done;
	size_t i;
	int next, s;

	libssh2_session_set_blocking(c->session, 0);
	for (;;) {
		moved = busy = done = false;
		for (i = 0; i < p->nlanes; i++) {
			if (p->lane[i].step == LANE_FREE)
				continue;
			if (p->lane[i].step == LANE_DONE) {
				done = true;
				continue;
			}
			s = lane_step(c, p, &p->lane[i]);
			moved |= s != 0;
			done |= s < 0;
			busy |= s >= 0;
		}
		if (done || !busy || (!wait && !moved))
			break;
		if (moved || lanes_have_data(p)) {
			idle_since = mig_now_ms();
			continue;
		}
		(void)libssh2_keepalive_send(c->session, &next);
		left = c->io_timeout_ms - (mig_now_ms() - idle_since);
		if (left <= 0) {
			lanes_lost(c, p, "no answer from the server "
			    "(I/O timeout)");
			break;
		}
		/* A bounded wait: libssh2 may hold data poll cannot see. */
		if (wait_socket(c, left < 1000 ? left : 1000) < 0) {
			lanes_lost(c, p, strerror(errno));
			break;
		}
	}
	libssh2_session_set_blocking(c->session, 1);
}

/* Closes the lanes' channels; objects in flight fail with the link. */
void
mig_sftp_pipe_drop(struct mig_sftp_conn *c)
{
	struct mig_sftp_pipe *p = c->pipe;
	struct sftp_lane *l;
	size_t i;

	if (p == NULL)
		return;
	p->opening = NULL;
	for (i = 0; i < p->nlanes; i++) {
		l = &p->lane[i];
		if (l->step != LANE_FREE && l->step != LANE_DONE)
			lane_done(c, l, mig_seterr(c->ctx, MIG_ERR_NET,
			    "%s: connection lost", l->path));
		if (l->h != NULL)
			(void)libssh2_sftp_close_handle(l->h);
		l->h = NULL;
		if (l->sftp != NULL)
			(void)libssh2_sftp_shutdown(l->sftp);
		l->sftp = NULL;
		l->refused = false;
	}
}

void
mig_sftp_pipe_free(struct mig_sftp_conn *c)
{
	struct mig_sftp_pipe *p = c->pipe;
	size_t i;

	if (p == NULL)
		return;
	mig_sftp_pipe_drop(c);
	for (i = 0; i < p->nlanes; i++) {
		free(p->lane[i].path);
		free(p->lane[i].full);
	}
	free(p);
	c->pipe = NULL;
}

/* The connection's pipe, made on first use; NULL on ENOMEM (said). */
static struct mig_sftp_pipe *
pipe_of(struct mig_sftp_conn *c)
{
	if (c->pipe == NULL &&
	    (c->pipe = calloc(1, sizeof(*c->pipe))) == NULL) {
		(void)mig_seterr(c->ctx, MIG_ERR_NOMEM, "out of memory");
		return NULL;
	}
	if (c->pipe != NULL)
		c->pipe->nlanes = c->lanes;
	return c->pipe;
}

void
mig_sftp_pipe_prepare(struct mig_sftp_conn *c, size_t n)
{
	struct mig_sftp_pipe *p;
	struct sftp_lane *l;
	size_t i;

	if (mig_sftp_ready(c) != 0 || (p = pipe_of(c)) == NULL) {
		mig_clearerr(c->ctx);
		return;
	}
	for (i = 0; i < p->nlanes && i < n; i++) {
		l = &p->lane[i];
		if (l->step != LANE_FREE || l->sftp != NULL || l->refused)
			continue;
		/* Refused (MaxSessions): put_start sends its objects on. */
		if ((l->sftp = libssh2_sftp_init(c->session)) == NULL)
			l->refused = true;
	}
	mig_clearerr(c->ctx);
}

int
mig_sftp_pipe_start(struct mig_sftp_conn *c, const char *path,
    const char *full, const void *buf, size_t len, void *token)
{
	struct mig_sftp_pipe *p = c->pipe;
	struct sftp_lane *l = NULL;
	size_t i;

	if (p == NULL && (p = pipe_of(c)) == NULL)
		return MIG_ERR_NOMEM;
	for (i = 0; i < p->nlanes && l == NULL; i++)
		if (p->lane[i].step == LANE_FREE)
			l = &p->lane[i];
	if (l == NULL)
		return mig_seterr(c->ctx, MIG_ERR_INTERNAL, "%s: more objects "
		    "in flight than lanes", path);
	free(l->path);
	free(l->full);
	l->full = strdup(full);
	if ((l->path = strdup(path)) == NULL || l->full == NULL)
		return mig_seterr(c->ctx, MIG_ERR_NOMEM, "out of memory");
	l->buf = buf;
	l->len = len;
	l->off = 0;
	l->token = token;
	l->seq = p->seq++;
	l->blocking = false;
	l->close_sent = false;
	l->code = 0;
	l->msg[0] = '\0';
	if (l->refused) {
		l->blocking = true;
		l->step = LANE_DONE;
		return 0;
	}
	l->step = l->sftp != NULL ? LANE_OPEN : LANE_CHANNEL;
	/* Off it goes, while the caller makes the next object. */
	pipe_drive(c, p, false);
	return 0;
}

/*
 * A lane that is done, settled (blocking): its handle closed, what a
 * failed object left removed, a stale channel shut.  Over a lost
 * connection nothing is asked: the reconnect drops it all.
 */
static void
lane_settle(struct mig_sftp_conn *c, struct sftp_lane *l)
{
	if (c->broken || c->session == NULL)
		return;
	if (l->h != NULL)
		(void)libssh2_sftp_close_handle(l->h);
	l->h = NULL;
	if (l->code != 0 && l->created)
		(void)libssh2_sftp_unlink_ex(c->sftp, l->full,
		    (unsigned int)strlen(l->full));
	if (l->stale && l->sftp != NULL)
		(void)libssh2_sftp_shutdown(l->sftp);
	if (l->stale)
		l->sftp = NULL;
	l->stale = false;
	l->created = false;
	mig_clearerr(c->ctx);
}

int
mig_sftp_pipe_next(struct mig_sftp_conn *c, bool wait,
    struct mig_sftp_put *put)
{
	struct mig_sftp_pipe *p = c->pipe;
	struct sftp_lane *l, *oldest;
	bool busy, driven = false;
	size_t i;

	if (p == NULL)
		return 0;
	for (;;) {
		oldest = NULL;
		busy = false;
		for (i = 0; i < p->nlanes; i++) {
			l = &p->lane[i];
			if (l->step == LANE_DONE &&
			    (oldest == NULL || l->seq < oldest->seq))
				oldest = l;
			busy |= l->step != LANE_FREE && l->step != LANE_DONE;
		}
		if (oldest != NULL)
			break;
		if (!busy || (!wait && driven))
			return 0;
		pipe_drive(c, p, wait);
		driven = true;
	}
	lane_settle(c, oldest);
	put->token = oldest->token;
	put->path = oldest->path;
	put->buf = oldest->buf;
	put->len = oldest->len;
	put->blocking = oldest->blocking;
	put->code = oldest->code;
	put->msg = oldest->msg;
	oldest->step = LANE_FREE;
	return 1;
}
