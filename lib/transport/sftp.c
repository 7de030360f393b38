/*
 * SFTP destination over libssh2 (1.10, OpenSSL backend).
 *
 * One struct mig_transport is one SSH connection with one SFTP channel.
 * The host key is always checked against the configured known_hosts file;
 * nothing turns that off.  Objects are written under a temporary name
 * beside their final path, flushed with fsync@openssh.com where the server
 * offers it, and renamed into place.
 *
 * Throughput: libssh2 1.10 splits an sftp write into ~30 KB SFTP packets
 * and keeps them all in flight only within one libssh2_sftp_write() call,
 * so writes are gathered into a large buffer (MIG_SFTP_BUFSIZE) and handed
 * over whole; libssh2_sftp_write() then returns partial counts as the
 * server acknowledges them.  Reads likewise ask for a large buffer, which
 * sets libssh2's read-ahead.
 */
#define MIG_TRANSPORT_INTERNAL

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libssh2.h>
#include <libssh2_sftp.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "migrate/error.h"
#include "migrate/keyfile.h"
#include "migrate/ssh_config.h"
#include "migrate/stream.h"
#include "migrate/transport.h"

#include "knownhosts_int.h"
#include "transport_int.h"

/* Write gathering and read buffer; see the comment at the top. */
#ifndef MIG_SFTP_BUFSIZE
#define MIG_SFTP_BUFSIZE	(2 * 1024 * 1024)
#endif
/*
 * Algorithm preferences.  AES-CTR runs on AES-NI through OpenSSL; libssh2
 * 1.10 has neither AES-GCM nor chacha20-poly1305.
 */
#ifndef MIG_SFTP_CIPHERS
#define MIG_SFTP_CIPHERS	"aes128-ctr,aes256-ctr,aes192-ctr"
#endif
#ifndef MIG_SFTP_MACS
#define MIG_SFTP_MACS		"hmac-sha2-256,hmac-sha2-512,hmac-sha1"
#endif
#define MIG_SFTP_HOSTKEYS	"ssh-ed25519,ecdsa-sha2-nistp256," \
				"ecdsa-sha2-nistp384,ecdsa-sha2-nistp521," \
				"rsa-sha2-512,rsa-sha2-256,ssh-rsa"

#define SFTP_DEFAULT_PORT	22
#define SFTP_CONNECT_TIMEOUT_MS	15000L
#define SFTP_IO_TIMEOUT_MS	60000L
#define SFTP_RETRIES		4
#define SFTP_BACKOFF_MS		250L
#define SFTP_BACKOFF_MAX_MS	8000L
#define SFTP_KEEPALIVE_S	15
#define SFTP_FILE_MODE		0644
#define SFTP_DIR_MODE		0755

/* A set of remote directories known to exist (open addressing). */
struct dircache {
	char	**slot;
	size_t	  cap;		/* power of two, or 0 */
	size_t	  used;
};

struct sftp_conn {
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
	struct dircache		 dirs;
};

struct sftp_wpriv {
	struct sftp_conn	*c;
	LIBSSH2_SFTP_HANDLE	*h;
	unsigned int		 gen;		/* of the connection of h */
	char			*path;		/* relative, for messages */
	char			*final;
	char			*tmp;
	unsigned char		*buf;
	size_t			 len;
	size_t			 cap;
	int64_t			 expect;
	uint64_t		 written;
	bool			 published;
};

struct sftp_rpriv {
	struct sftp_conn	*c;
	LIBSSH2_SFTP_HANDLE	*h;
	unsigned int		 gen;
	char			*path;
	unsigned char		*buf;
	size_t			 off;
	size_t			 len;
	size_t			 cap;
	uint64_t		 size;		/* at open */
	uint64_t		 got;
	bool			 eof;
};

static pthread_once_t sftp_once = PTHREAD_ONCE_INIT;
static int sftp_init_rc;

/* libssh2_init() is not thread-safe: run it once for the process. */
static void
sftp_global_init(void)
{
	sftp_init_rc = libssh2_init(0);
}

/* --- Error translation --------------------------------------------------- */

static const char *
sftp_status_name(unsigned long st)
{
	switch (st) {
	case LIBSSH2_FX_OK:			return "ok";
	case LIBSSH2_FX_EOF:			return "end of file";
	case LIBSSH2_FX_NO_SUCH_FILE:		return "no such file";
	case LIBSSH2_FX_PERMISSION_DENIED:	return "permission denied";
	case LIBSSH2_FX_FAILURE:		return "failure";
	case LIBSSH2_FX_BAD_MESSAGE:		return "bad message";
	case LIBSSH2_FX_NO_CONNECTION:		return "no connection";
	case LIBSSH2_FX_CONNECTION_LOST:	return "connection lost";
	case LIBSSH2_FX_OP_UNSUPPORTED:		return "operation unsupported";
	case LIBSSH2_FX_INVALID_HANDLE:		return "invalid handle";
	case LIBSSH2_FX_NO_SUCH_PATH:		return "no such path";
	case LIBSSH2_FX_FILE_ALREADY_EXISTS:	return "file already exists";
	case LIBSSH2_FX_WRITE_PROTECT:		return "write protected";
	case LIBSSH2_FX_NO_MEDIA:		return "no media";
	case LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM:	return "no space left";
	case LIBSSH2_FX_QUOTA_EXCEEDED:		return "quota exceeded";
	case LIBSSH2_FX_UNKNOWN_PRINCIPAL:	return "unknown principal";
	case LIBSSH2_FX_LOCK_CONFLICT:		return "lock conflict";
	case LIBSSH2_FX_DIR_NOT_EMPTY:		return "directory not empty";
	case LIBSSH2_FX_NOT_A_DIRECTORY:	return "not a directory";
	case LIBSSH2_FX_INVALID_FILENAME:	return "invalid file name";
	case LIBSSH2_FX_LINK_LOOP:		return "symbolic link loop";
	default:				return "unknown SFTP status";
	}
}

static int
sftp_status_code(unsigned long st)
{
	switch (st) {
	case LIBSSH2_FX_NO_SUCH_FILE:
	case LIBSSH2_FX_NO_SUCH_PATH:
		return MIG_ERR_NOTFOUND;
	case LIBSSH2_FX_FILE_ALREADY_EXISTS:
		return MIG_ERR_EXISTS;
	case LIBSSH2_FX_NO_CONNECTION:
	case LIBSSH2_FX_CONNECTION_LOST:
		return MIG_ERR_NET;
	default:
		/* Remote file system refusals: not transient. */
		return MIG_ERR_IO;
	}
}

/*
 * The one place that maps a libssh2 error code to a MIG_ERR_* code and a
 * short explanation.  Connection-level failures are MIG_ERR_NET.
 */
static int
sftp_libssh2_code(int rc, const char **whatp)
{
	switch (rc) {
	case LIBSSH2_ERROR_ALLOC:
		*whatp = "out of memory";
		return MIG_ERR_NOMEM;
	case LIBSSH2_ERROR_TIMEOUT:
	case LIBSSH2_ERROR_SOCKET_TIMEOUT:
		*whatp = "timed out";
		return MIG_ERR_NET;
	case LIBSSH2_ERROR_SOCKET_DISCONNECT:
	case LIBSSH2_ERROR_SOCKET_RECV:
	case LIBSSH2_ERROR_SOCKET_SEND:
	case LIBSSH2_ERROR_BAD_SOCKET:
	case LIBSSH2_ERROR_CHANNEL_CLOSED:
	case LIBSSH2_ERROR_CHANNEL_EOF_SENT:
		*whatp = "connection lost";
		return MIG_ERR_NET;
	case LIBSSH2_ERROR_BANNER_RECV:
	case LIBSSH2_ERROR_BANNER_SEND:
		*whatp = "no SSH server answered";
		return MIG_ERR_NET;
	case LIBSSH2_ERROR_KEX_FAILURE:
	case LIBSSH2_ERROR_KEY_EXCHANGE_FAILURE:
	case LIBSSH2_ERROR_METHOD_NONE:
		*whatp = "key exchange failed (no common algorithm?)";
		return MIG_ERR_NET;
	case LIBSSH2_ERROR_INVALID_MAC:
	case LIBSSH2_ERROR_DECRYPT:
	case LIBSSH2_ERROR_ENCRYPT:
	case LIBSSH2_ERROR_PROTO:
	case LIBSSH2_ERROR_OUT_OF_BOUNDARY:
		*whatp = "SSH protocol error";
		return MIG_ERR_NET;
	case LIBSSH2_ERROR_AUTHENTICATION_FAILED:
	case LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED:
	case LIBSSH2_ERROR_PASSWORD_EXPIRED:
		*whatp = "authentication failed";
		return MIG_ERR_NET;
	case LIBSSH2_ERROR_FILE:
	case LIBSSH2_ERROR_KEYFILE_AUTH_FAILED:
		*whatp = "cannot use the private key";
		return MIG_ERR_NET;
	case LIBSSH2_ERROR_CHANNEL_FAILURE:
	case LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED:
	case LIBSSH2_ERROR_CHANNEL_UNKNOWN:
	case LIBSSH2_ERROR_CHANNEL_OUTOFORDER:
	case LIBSSH2_ERROR_CHANNEL_WINDOW_EXCEEDED:
	case LIBSSH2_ERROR_CHANNEL_PACKET_EXCEEDED:
		*whatp = "SSH channel failure";
		return MIG_ERR_NET;
	case LIBSSH2_ERROR_BUFFER_TOO_SMALL:
		*whatp = "name too long";
		return MIG_ERR_IO;
	default:
		*whatp = "SSH failure";
		return MIG_ERR_NET;
	}
}

/*
 * A connection that failed is shut down at once, so that nothing waits
 * on it any more (a stopped server would hold every call for the whole
 * I/O timeout); the next operation reconnects.
 */
static void
sftp_mark_broken(struct sftp_conn *c)
{
	c->broken = true;
	if (c->sock >= 0)
		(void)shutdown(c->sock, SHUT_RDWR);
}

/* True while the handle opened at generation gen is usable. */
static bool
sftp_alive(const struct sftp_conn *c, unsigned int gen)
{
	return !c->broken && c->session != NULL && gen == c->gen;
}

/*
 * Records the last libssh2 error as "OBJ: OP: WHAT".  SFTP status codes
 * are named; everything else carries libssh2's own text.  A connection
 * failure marks the connection for a reconnect before its next use.
 */
static int
sftp_fail(struct sftp_conn *c, const char *obj, const char *op)
{
	unsigned long st;
	const char *what;
	char *msg = NULL;
	int rc, code;

	if (c->session == NULL)
		return mig_seterr(c->ctx, MIG_ERR_NET, "%s: %s: not connected",
		    obj, op);
	rc = libssh2_session_last_error(c->session, &msg, NULL, 0);
	if (rc == LIBSSH2_ERROR_SFTP_PROTOCOL && c->sftp != NULL) {
		st = libssh2_sftp_last_error(c->sftp);
		code = sftp_status_code(st);
		if (code == MIG_ERR_NET)
			sftp_mark_broken(c);
		return mig_seterr(c->ctx, code, "%s: %s: %s (SFTP status %lu)",
		    obj, op, sftp_status_name(st), st);
	}
	code = sftp_libssh2_code(rc, &what);
	if (code == MIG_ERR_NET)
		sftp_mark_broken(c);
	if (msg != NULL && *msg != '\0')
		return mig_seterr(c->ctx, code, "%s: %s: %s: %s", obj, op,
		    what, msg);
	return mig_seterr(c->ctx, code, "%s: %s: %s (libssh2 error %d)", obj,
	    op, what, rc);
}

/* The SFTP status of the last failure, or LIBSSH2_FX_OK for others. */
static unsigned long
sftp_last_status(struct sftp_conn *c)
{
	if (c->session == NULL || c->sftp == NULL ||
	    libssh2_session_last_errno(c->session) !=
	    LIBSSH2_ERROR_SFTP_PROTOCOL)
		return LIBSSH2_FX_OK;
	return libssh2_sftp_last_error(c->sftp);
}

/* --- Small helpers ------------------------------------------------------- */

static char *
xstrdup_or_null(const char *s, bool *nomem)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		*nomem = true;
	return d;
}

static void
free_secret(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

/* Joins the remote root and a relative path; NULL on ENOMEM. */
static char *
sftp_join(const struct sftp_conn *c, const char *rel)
{
	size_t n;
	char *p;

	if (rel[0] == '\0')
		return strdup(c->root[0] == '\0' ? "." : c->root);
	n = strlen(c->root) + strlen(rel) + 2;
	if ((p = malloc(n)) == NULL)
		return NULL;
	if (c->root[0] == '\0')
		(void)snprintf(p, n, "%s", rel);
	else if (strcmp(c->root, "/") == 0)
		(void)snprintf(p, n, "/%s", rel);
	else
		(void)snprintf(p, n, "%s/%s", c->root, rel);
	return p;
}

/* Checks a relative object path; dirs may also be "" (the root). */
static int
sftp_check_path(struct sftp_conn *c, const char *path, bool dir_ok)
{
	if (dir_ok && path[0] == '\0')
		return 0;
	return mig_path_check_relative(path, c->ctx);
}

static void
sleep_ms(long ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static long
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- Directory cache ----------------------------------------------------- */

static uint64_t
dircache_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static bool
dircache_has(const struct dircache *dc, const char *path)
{
	size_t i;

	if (dc->cap == 0)
		return false;
	for (i = dircache_hash(path) & (dc->cap - 1); dc->slot[i] != NULL;
	    i = (i + 1) & (dc->cap - 1))
		if (strcmp(dc->slot[i], path) == 0)
			return true;
	return false;
}

/* Takes over s on success; on failure (ENOMEM) the caller frees s. */
static int
dircache_put_owned(struct dircache *dc, char *s)
{
	char **nslot;
	size_t i, ncap, j;

	if ((dc->used + 1) * 2 > dc->cap) {
		ncap = dc->cap == 0 ? 64 : dc->cap * 2;
		if ((nslot = calloc(ncap, sizeof(*nslot))) == NULL)
			return -1;
		for (j = 0; j < dc->cap; j++) {
			if (dc->slot[j] == NULL)
				continue;
			for (i = dircache_hash(dc->slot[j]) & (ncap - 1);
			    nslot[i] != NULL; i = (i + 1) & (ncap - 1))
				;
			nslot[i] = dc->slot[j];
		}
		free(dc->slot);
		dc->slot = nslot;
		dc->cap = ncap;
	}
	for (i = dircache_hash(s) & (dc->cap - 1); dc->slot[i] != NULL;
	    i = (i + 1) & (dc->cap - 1))
		if (strcmp(dc->slot[i], s) == 0) {
			free(s);
			return 0;
		}
	dc->slot[i] = s;
	dc->used++;
	return 0;
}

/* Remembers path; a cache that cannot grow only costs round trips. */
static void
dircache_add(struct dircache *dc, const char *path)
{
	char *s;

	if (dircache_has(dc, path) || (s = strdup(path)) == NULL)
		return;
	if (dircache_put_owned(dc, s) != 0)
		free(s);
}

static void
dircache_clear(struct dircache *dc)
{
	size_t i;

	for (i = 0; i < dc->cap; i++)
		free(dc->slot[i]);
	free(dc->slot);
	memset(dc, 0, sizeof(*dc));
}

/* --- Connecting ---------------------------------------------------------- */

static bool
errno_transient(int e)
{
	return e == ECONNREFUSED || e == ETIMEDOUT || e == ECONNRESET ||
	    e == EHOSTUNREACH || e == ENETUNREACH || e == ECONNABORTED ||
	    e == EAGAIN || e == EINTR;
}

/*
 * Opens a TCP connection within the connect timeout: a non-blocking
 * connect per address, then poll.  Transient failures are MIG_ERR_AGAIN.
 */
static int
sftp_tcp_connect(struct sftp_conn *c)
{
	struct addrinfo hints, *res = NULL, *ai;
	char portstr[16];
	long deadline, left;
	int fd = -1, e = 0, g, one = 1, flags;
	socklen_t elen;
	struct pollfd pfd;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	(void)snprintf(portstr, sizeof(portstr), "%d", c->port);
	g = getaddrinfo(c->host, portstr, &hints, &res);
	if (g != 0)
		return mig_seterr(c->ctx, g == EAI_AGAIN ? MIG_ERR_AGAIN :
		    MIG_ERR_NET, "%s: cannot resolve host: %s", c->where,
		    gai_strerror(g));
	deadline = now_ms() + c->connect_timeout_ms;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, ai->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		e = errno;
		if (e == EINPROGRESS) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			for (;;) {
				left = deadline - now_ms();
				if (left <= 0) {
					e = ETIMEDOUT;
					break;
				}
				pfd.revents = 0;
				g = poll(&pfd, 1, (int)left);
				if (g < 0 && errno == EINTR)
					continue;
				if (g <= 0) {
					e = g == 0 ? ETIMEDOUT : errno;
					break;
				}
				elen = sizeof(e);
				if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e,
				    &elen) != 0)
					e = errno;
				break;
			}
			if (e == 0)
				break;
		}
		(void)close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return mig_seterr(c->ctx, errno_transient(e) ? MIG_ERR_AGAIN :
		    MIG_ERR_NET, "%s: connect: %s", c->where, strerror(e));
	/* libssh2 runs in blocking mode; its own timeout bounds each wait. */
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
		e = errno;
		(void)close(fd);
		return mig_seterr(c->ctx, MIG_ERR_NET, "%s: fcntl: %s",
		    c->where, strerror(e));
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	c->sock = fd;
	return 0;
}

/*
 * Ends the connection.  Over a broken one (its socket already shut down)
 * every call below fails at once instead of waiting, and still frees.
 */
static void
sftp_disconnect(struct sftp_conn *c)
{
	if (c->broken && c->sock >= 0)
		(void)shutdown(c->sock, SHUT_RDWR);
	if (c->sftp != NULL) {
		(void)libssh2_sftp_shutdown(c->sftp);
		c->sftp = NULL;
	}
	if (c->session != NULL) {
		if (!c->broken)
			(void)libssh2_session_disconnect(c->session,
			    "migrate: done");
		(void)libssh2_session_free(c->session);
		c->session = NULL;
	}
	if (c->sock >= 0) {
		(void)close(c->sock);
		c->sock = -1;
	}
}

/* The display name of a libssh2 host key type, as OpenSSH prints it. */
static const char *
hostkey_type_name(int type)
{
	switch (type) {
	case LIBSSH2_HOSTKEY_TYPE_RSA:
		return "RSA";
	case LIBSSH2_HOSTKEY_TYPE_DSS:
		return "DSA";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:
		return "ECDSA";
	case LIBSSH2_HOSTKEY_TYPE_ED25519:
		return "ED25519";
	default:
		return "unknown";
	}
}

/*
 * Refuses the connection unless known_hosts vouches for the server's key,
 * with OpenSSH's rules (knownhosts.c): libssh2's own matcher knows no
 * wildcards, negation or port rules and would ignore "@revoked * KEY".
 */
static int
sftp_check_hostkey(struct sftp_conn *c)
{
	const char *key;
	size_t keylen = 0;
	int type = 0;

	key = libssh2_session_hostkey(c->session, &keylen, &type);
	if (key == NULL)
		return sftp_fail(c, c->where, "host key");
	return mig_kh_verify(c->ctx, c->where, c->known_hosts, c->host,
	    c->port, (const unsigned char *)key, keylen,
	    hostkey_type_name(type));
}

/*
 * True for an RSA private key (PEM "RSA PRIVATE KEY", or an OpenSSH key
 * whose public part is "ssh-rsa").  libssh2 1.10 signs with RSA only as
 * "ssh-rsa" (SHA-1), which OpenSSH 8.8 and later refuse by default.
 */
static bool
key_is_rsa(const char *key, size_t len)
{
	static const char begin[] = "-----BEGIN OPENSSH PRIVATE KEY-----";
	unsigned char raw[512];
	const char *b64;
	char chunk[344];
	size_t i, n = 0;
	int k;

	if (strstr(key, "BEGIN RSA PRIVATE KEY") != NULL)
		return true;
	if ((b64 = strstr(key, begin)) == NULL)
		return false;
	b64 += sizeof(begin) - 1;
	/* The public key blob sits in the first few hundred bytes. */
	for (i = (size_t)(b64 - key); i < len && n < sizeof(chunk) - 1; i++)
		if (key[i] != '\n' && key[i] != '\r')
			chunk[n++] = key[i];
	n -= n % 4;
	chunk[n] = '\0';
	k = EVP_DecodeBlock(raw, (const unsigned char *)chunk, (int)n);
	for (i = 0; k > 7 && i + 7 <= (size_t)k; i++)
		if (memcmp(raw + i, "ssh-rsa", 7) == 0)
			return true;
	return false;
}

static void
tried_add(char *buf, size_t len, const char *what)
{
	size_t used = strlen(buf);

	(void)snprintf(buf + used, len - used, "%s%s", used > 0 ? ", " : "",
	    what);
}

/*
 * Whether an ssh-agent answers at path.  libssh2 1.10 (Debian 12) closes
 * its socket when connect(2) to the agent fails but keeps the number, and
 * libssh2_agent_free() then closes that number again.  With --jobs the
 * second close(2) lands on whatever another thread has just opened: a
 * stale SSH_AUTH_SOCK (a common sight after logging in again under tmux)
 * made a worker's key file read fail with EBADF, and could as well have
 * closed a source file or the journal under another thread.  So we
 * connect first ourselves, and hand libssh2 only an agent that answers.
 */
static int
agent_reachable(const char *path)
{
	struct sockaddr_un sun;
	size_t len;
	int fd, ok;

	if (path == NULL || (len = strlen(path)) == 0 ||
	    len >= sizeof(sun.sun_path))
		return 0;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, len);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	ok = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	(void)close(fd);
	return ok;
}

static int
sftp_auth_agent(struct sftp_conn *c)
{
	LIBSSH2_AGENT *agent;
	struct libssh2_agent_publickey *id = NULL, *prev = NULL;
	int r = -1;

	if ((agent = libssh2_agent_init(c->session)) == NULL)
		return -1;
	libssh2_agent_set_identity_path(agent, c->agent_socket);
	if (libssh2_agent_connect(agent) != 0) {
		/*
		 * The agent went away since agent_reachable(): freeing now
		 * would close a number that is no longer ours (see there).
		 * A few hundred bytes leaked once beat a stray close(2).
		 */
		return -1;
	}
	if (libssh2_agent_list_identities(agent) != 0)
		goto out_disconnect;
	while (libssh2_agent_get_identity(agent, &id, prev) == 0) {
		if (libssh2_agent_userauth(agent, c->user, id) == 0) {
			r = 0;
			break;
		}
		prev = id;
	}
out_disconnect:
	(void)libssh2_agent_disconnect(agent);
	libssh2_agent_free(agent);
	return r;
}

/*
 * Tries the private key at path; 0 when the server accepts it, 1 when
 * not (what happened appended to tried), or an error when the file is
 * unsafe or unreadable.
 */
static int
sftp_auth_key(struct sftp_conn *c, const char *path, char *tried,
    size_t size)
{
	char *key = NULL, *msg = NULL;
	size_t keylen = 0, used;
	unsigned int ulen = (unsigned int)strlen(c->user);
	bool rsa;
	int r;

	if ((r = mig_keyfile_read(path, true, &key, &keylen, c->ctx)) != 0)
		return r;
	r = libssh2_userauth_publickey_frommemory(c->session, c->user, ulen,
	    NULL, 0, key, keylen, c->passphrase != NULL ? c->passphrase : "");
	rsa = r != 0 && key_is_rsa(key, keylen);
	mig_keyfile_free(key, keylen);
	if (r == 0)
		return 0;
	(void)libssh2_session_last_error(c->session, &msg, NULL, 0);
	tried_add(tried, size, "key ");
	used = strlen(tried);
	if (rsa)
		(void)snprintf(tried + used, size - used, "%s (an RSA key: this "
		    "libssh2 signs only with ssh-rsa/SHA-1, which current "
		    "OpenSSH servers refuse; use an ed25519 or ecdsa key)",
		    path);
	else if (r != LIBSSH2_ERROR_AUTHENTICATION_FAILED &&
	    r != LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED)
		(void)snprintf(tried + used, size - used, "%s (cannot load it: "
		    "wrong or missing passphrase, or an unsupported format%s%s)",
		    path, msg != NULL && *msg != '\0' ? ": " : "",
		    msg != NULL ? msg : "");
	else
		(void)snprintf(tried + used, size - used, "%s", path);
	return 1;
}

/*
 * Authenticates with, in order: the ssh-agent, the identity files (the
 * plan's, else ssh_config's, else the default ones that exist), the
 * password; each only when configured.  No secret reaches a message.
 */
static int
sftp_auth(struct sftp_conn *c)
{
	const char *methods;
	char tried[1024] = "";
	unsigned int ulen = (unsigned int)strlen(c->user);
	size_t i;
	int r;

	methods = libssh2_userauth_list(c->session, c->user, ulen);
	if (methods == NULL) {
		if (libssh2_userauth_authenticated(c->session))
			return 0;
		return sftp_fail(c, c->where, "authentication");
	}
	if (c->agent_socket != NULL && strstr(methods, "publickey") != NULL) {
		if (!agent_reachable(c->agent_socket))
			tried_add(tried, sizeof(tried),
			    "ssh-agent (none answers at SSH_AUTH_SOCK)");
		else if (sftp_auth_agent(c) == 0)
			return 0;
		else
			tried_add(tried, sizeof(tried), "ssh-agent");
	}
	for (i = 0; i < c->nidentity && strstr(methods, "publickey") != NULL;
	    i++)
		if ((r = sftp_auth_key(c, c->identity[i], tried,
		    sizeof(tried))) <= 0)
			return r;
	if (c->password != NULL && strstr(methods, "password") != NULL) {
		r = libssh2_userauth_password_ex(c->session, c->user, ulen,
		    c->password, (unsigned int)strlen(c->password), NULL);
		if (r == 0)
			return 0;
		tried_add(tried, sizeof(tried), "password");
	}
	if (tried[0] == '\0')
		(void)snprintf(tried, sizeof(tried), "nothing: no ssh-agent, "
		    "identity or password the server accepts");
	return mig_seterr(c->ctx, MIG_ERR_NET, "%s: authentication failed "
	    "for %s@%s (tried: %s; the server accepts: %s)", c->where,
	    c->user, c->host, tried, methods);
}

/* Maps a libssh2 failure during connection set-up; socket trouble is
 * transient (MIG_ERR_AGAIN). */
static int
sftp_setup_fail(struct sftp_conn *c, const char *op)
{
	int rc = libssh2_session_last_errno(c->session);
	int r;

	r = sftp_fail(c, c->where, op);
	switch (rc) {
	case LIBSSH2_ERROR_SOCKET_DISCONNECT:
	case LIBSSH2_ERROR_SOCKET_RECV:
	case LIBSSH2_ERROR_SOCKET_SEND:
	case LIBSSH2_ERROR_BANNER_RECV:
	case LIBSSH2_ERROR_TIMEOUT:
	case LIBSSH2_ERROR_SOCKET_TIMEOUT:
		return mig_seterr(c->ctx, MIG_ERR_AGAIN, "%s",
		    mig_errmsg(c->ctx));
	default:
		return r;
	}
}

/*
 * Sets a preference list after keeping only the names this libssh2 knows:
 * libssh2 1.10 strips unknown names itself with an overlapping memcpy.
 * A list with no known name leaves libssh2's defaults.
 */
static int
sftp_method_pref(struct sftp_conn *c, int type, const char *prefs)
{
	const char **algs = NULL;
	char list[512], name[64];
	const char *p, *end;
	size_t len, used = 0;
	int n, i, r = 0;

	n = libssh2_session_supported_algs(c->session, type, &algs);
	if (n <= 0)
		return 0;
	list[0] = '\0';
	for (p = prefs; *p != '\0'; p = *end == ',' ? end + 1 : end) {
		end = p + strcspn(p, ",");
		len = (size_t)(end - p);
		if (len == 0 || len >= sizeof(name))
			continue;
		memcpy(name, p, len);
		name[len] = '\0';
		for (i = 0; i < n; i++)
			if (strcmp(algs[i], name) == 0)
				break;
		if (i == n || used + len + 2 > sizeof(list))
			continue;
		used += (size_t)snprintf(list + used, sizeof(list) - used,
		    "%s%s", used > 0 ? "," : "", name);
	}
	libssh2_free(c->session, algs);
	if (used > 0 && libssh2_session_method_pref(c->session, type, list) !=
	    0)
		r = sftp_fail(c, c->where, "algorithm preferences");
	return r;
}

/* One attempt: TCP, SSH handshake, host key, authentication, SFTP. */
static int
sftp_connect_once(struct sftp_conn *c)
{
	int r;

	c->broken = false;
	c->gen++;
	if ((r = sftp_tcp_connect(c)) != 0)
		return r;
	c->session = libssh2_session_init_ex(NULL, NULL, NULL, c);
	if (c->session == NULL)
		return mig_seterr(c->ctx, MIG_ERR_NOMEM, "%s: cannot create "
		    "an SSH session", c->where);
	libssh2_session_set_blocking(c->session, 1);
	libssh2_session_set_timeout(c->session, c->io_timeout_ms);
	if ((r = sftp_method_pref(c, LIBSSH2_METHOD_CRYPT_CS,
	    MIG_SFTP_CIPHERS)) != 0 ||
	    (r = sftp_method_pref(c, LIBSSH2_METHOD_CRYPT_SC,
	    MIG_SFTP_CIPHERS)) != 0 ||
	    (r = sftp_method_pref(c, LIBSSH2_METHOD_MAC_CS,
	    MIG_SFTP_MACS)) != 0 ||
	    (r = sftp_method_pref(c, LIBSSH2_METHOD_MAC_SC,
	    MIG_SFTP_MACS)) != 0 ||
	    (r = sftp_method_pref(c, LIBSSH2_METHOD_HOSTKEY,
	    MIG_SFTP_HOSTKEYS)) != 0)
		return r;
	if (libssh2_session_handshake(c->session, c->sock) != 0)
		return sftp_setup_fail(c, "SSH handshake");
	if ((r = sftp_check_hostkey(c)) != 0)
		return r;
	if ((r = sftp_auth(c)) != 0)
		return r;
	if ((c->sftp = libssh2_sftp_init(c->session)) == NULL)
		return sftp_setup_fail(c, "starting SFTP");
	libssh2_keepalive_config(c->session, 1, SFTP_KEEPALIVE_S);
	return 0;
}

/*
 * Connects, retrying transient failures with exponential backoff and
 * jitter up to c->retries times.  A refusal (host key, authentication)
 * is never retried.
 */
static int
sftp_connect(struct sftp_conn *c)
{
	char msg[MIG_ERRMSG_MAX];
	long delay = SFTP_BACKOFF_MS, d;
	int attempt, r;

	for (attempt = 0; ; attempt++) {
		if ((r = sftp_connect_once(c)) == 0)
			return 0;
		sftp_mark_broken(c);
		sftp_disconnect(c);
		if (r != MIG_ERR_AGAIN)
			return r;
		if (attempt >= c->retries)
			break;
		/* Full jitter within [delay/2, delay]. */
		d = delay / 2 + (long)arc4random_uniform(
		    (uint32_t)(delay / 2 + 1));
		sleep_ms(d);
		delay = delay * 2 > SFTP_BACKOFF_MAX_MS ? SFTP_BACKOFF_MAX_MS :
		    delay * 2;
	}
	(void)snprintf(msg, sizeof(msg), "%s", mig_errmsg(c->ctx));
	return mig_seterr(c->ctx, MIG_ERR_NET, "%s (gave up after %d "
	    "attempts)", msg, attempt + 1);
}

/* Before each operation: reconnect when an earlier one lost the link. */
static int
sftp_ready(struct sftp_conn *c)
{
	int next;

	if (c->session != NULL && !c->broken) {
		(void)libssh2_keepalive_send(c->session, &next);
		return 0;
	}
	sftp_disconnect(c);
	return sftp_connect(c);
}

static void
sftp_conn_free(struct sftp_conn *c)
{
	size_t n;

	if (c == NULL)
		return;
	sftp_disconnect(c);
	dircache_clear(&c->dirs);
	free(c->host);
	free(c->user);
	free(c->root);
	free(c->where);
	free(c->known_hosts);
	for (n = 0; n < c->nidentity; n++)
		free(c->identity[n]);
	free_secret(c->passphrase);
	free_secret(c->password);
	free(c->agent_socket);
	free(c);
}

/*
 * Host, port, user, known_hosts and identities: the URL and the plan,
 * then ssh_config, then the defaults (ssh_config.c).  Takes them all.
 */
static int
sftp_conn_target(struct sftp_conn *c, struct mig_transport *t,
    const struct mig_transport_config *cfg, const struct mig_url *url)
{
	struct mig_sftp_target tg;
	size_t i;
	int r;

	r = mig_sftp_resolve(&cfg->opts, url, cfg->home, NULL, cfg->base_dir,
	    &tg, t->ctx);
	if (r != 0) {
		mig_preferr(t->ctx, "%s", t->root);
		goto out;
	}
	if (tg.known_hosts == NULL) {
		r = mig_seterr(t->ctx, MIG_ERR_SECURITY, "%s: sftp needs a "
		    "known_hosts file to verify the server's host key",
		    t->root);
		goto out;
	}
	c->host = tg.host;
	c->port = tg.port;
	c->user = tg.user;
	c->known_hosts = tg.known_hosts;
	tg.host = tg.user = tg.known_hosts = NULL;
	for (i = 0; i < tg.nidentity; i++) {
		c->identity[i] = tg.identity[i];
		tg.identity[i] = NULL;
	}
	c->nidentity = tg.nidentity;
	c->identity_explicit = tg.identity_explicit;
	tg.nidentity = 0;
out:
	mig_sftp_target_free(&tg);
	return r;
}

/* Refuses a badly protected key before any network traffic. */
static int
sftp_check_keys(struct sftp_conn *c)
{
	char *key = NULL;
	size_t i, keylen = 0;
	int r = 0;

	for (i = 0; r == 0 && i < c->nidentity; i++) {
		r = mig_keyfile_read(c->identity[i], true, &key, &keylen,
		    c->ctx);
		mig_keyfile_free(key, keylen);
		key = NULL;
		if (r != 0 && !c->identity_explicit)
			mig_preferr(c->ctx, "default identity (destination."
			    "identity unset)");
	}
	return r;
}

static int
sftp_open(struct mig_transport *t, const struct mig_transport_config *cfg,
    const struct mig_url *url)
{
	struct sftp_conn *c;
	const char *root;
	size_t n;
	bool nomem = false;
	int r;

	(void)pthread_once(&sftp_once, sftp_global_init);
	if (sftp_init_rc != 0)
		return mig_seterr(t->ctx, MIG_ERR_INTERNAL,
		    "libssh2_init failed (%d)", sftp_init_rc);
	if (url->host == NULL || url->host[0] == '\0')
		return mig_seterr(t->ctx, MIG_ERR_PARSE, "%s: no host in the "
		    "URL", t->root);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return mig_seterr(t->ctx, MIG_ERR_NOMEM, "out of memory");
	c->ctx = t->ctx;
	c->sock = -1;
	if ((r = sftp_conn_target(c, t, cfg, url)) != 0)
		goto out_free;
	/* "/~/dir" is relative to the login directory. */
	root = url->path;
	if (strcmp(root, "/~") == 0)
		root = "";
	else if (strncmp(root, "/~/", 3) == 0)
		root += 3;
	c->root = xstrdup_or_null(root, &nomem);
	c->passphrase = xstrdup_or_null(mig_topts_get(&cfg->opts, "identity_passphrase_env"), &nomem);
	c->password = xstrdup_or_null(mig_topts_get(&cfg->opts, "password_env"), &nomem);
	c->agent_socket = xstrdup_or_null(cfg->agent_socket, &nomem);
	c->connect_timeout_ms = cfg->connect_timeout_ms > 0 ?
	    cfg->connect_timeout_ms : SFTP_CONNECT_TIMEOUT_MS;
	c->io_timeout_ms = cfg->io_timeout_ms > 0 ? cfg->io_timeout_ms :
	    SFTP_IO_TIMEOUT_MS;
	c->retries = cfg->retries > 0 ? cfg->retries : SFTP_RETRIES;
	if (nomem || c->root == NULL) {
		r = mig_seterr(t->ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_free;
	}
	/* Strip trailing slashes (but keep "/"). */
	n = strlen(c->root);
	while (n > 1 && c->root[n - 1] == '/')
		c->root[--n] = '\0';
	n = strlen(c->user) + strlen(c->host) + 16;
	if ((c->where = malloc(n)) == NULL) {
		r = mig_seterr(t->ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_free;
	}
	(void)snprintf(c->where, n, "%s@%s:%d", c->user, c->host, c->port);
	if ((r = sftp_check_keys(c)) != 0 || (r = sftp_connect(c)) != 0)
		goto out_free;
	t->priv = c;
	return 0;
out_free:
	sftp_conn_free(c);
	return r;
}

static void
sftp_close(struct mig_transport *t)
{
	sftp_conn_free(t->priv);
	t->priv = NULL;
}

/* --- Directories --------------------------------------------------------- */

static int
sftp_stat_full(struct sftp_conn *c, const char *full,
    LIBSSH2_SFTP_ATTRIBUTES *attrs)
{
	memset(attrs, 0, sizeof(*attrs));
	return libssh2_sftp_stat_ex(c->sftp, full, (unsigned int)strlen(full),
	    LIBSSH2_SFTP_STAT, attrs);
}

/*
 * The lake is not trusted, and SFTP has no O_NOFOLLOW: every component of
 * rel below the root (the last one too when last) is lstat'ed, and a
 * symbolic link is refused, so that a link planted in the lake never
 * takes a write or a read elsewhere on the server.  Directories found to
 * be real go in the directory cache and are not asked again.  (A server
 * that lies, or a swap between the check and the use, is beyond what a
 * client can see: the seal and the audit log catch what that changes.)
 */
static int
sftp_no_links(struct sftp_conn *c, const char *rel, bool last)
{
	LIBSSH2_SFTP_ATTRIBUTES attrs;
	char prefix[PATH_MAX], *full;
	const char *p = rel, *slash;
	bool is_last;
	int r = 0;

	while (*p != '\0' && r == 0) {
		slash = strchr(p, '/');
		is_last = slash == NULL;
		if (is_last && !last)
			break;
		(void)snprintf(prefix, sizeof(prefix), "%.*s",
		    (int)(is_last ? strlen(rel) : (size_t)(slash - rel)), rel);
		if ((full = sftp_join(c, prefix)) == NULL)
			return mig_seterr(c->ctx, MIG_ERR_NOMEM, "out of memory");
		if (!dircache_has(&c->dirs, full)) {
			memset(&attrs, 0, sizeof(attrs));
			if (libssh2_sftp_stat_ex(c->sftp, full,
			    (unsigned int)strlen(full), LIBSSH2_SFTP_LSTAT,
			    &attrs) != 0) {
				/* Missing: nothing to follow (callers say so). */
				if (sftp_last_status(c) != LIBSSH2_FX_NO_SUCH_FILE &&
				    sftp_last_status(c) != LIBSSH2_FX_NO_SUCH_PATH)
					r = sftp_fail(c, prefix, "lstat");
				free(full);
				break;
			}
			if ((attrs.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) &&
			    LIBSSH2_SFTP_S_ISLNK(attrs.permissions))
				r = mig_seterr(c->ctx, MIG_ERR_SECURITY, "%s: a "
				    "symbolic link in the lake; refusing to "
				    "follow it", prefix);
			else if (!is_last && (attrs.flags &
			    LIBSSH2_SFTP_ATTR_PERMISSIONS) &&
			    !LIBSSH2_SFTP_S_ISDIR(attrs.permissions))
				r = mig_seterr(c->ctx, MIG_ERR_IO, "%s: %s "
				    "exists and is not a directory", rel,
				    prefix);
			else if (!is_last)
				dircache_add(&c->dirs, full);
		}
		free(full);
		p = is_last ? p + strlen(p) : slash + 1;
	}
	return r;
}

/*
 * Creates the remote directory full and its parents.  mkdir first, since
 * most directories a run creates are new; on failure, stat tells whether
 * it exists already or its parent is missing.
 */
static int
sftp_mkdir_full(struct sftp_conn *c, const char *full, const char *display)
{
	LIBSSH2_SFTP_ATTRIBUTES attrs;
	char *parent, *slash;
	int r;

	if (full[0] == '\0' || strcmp(full, "/") == 0 ||
	    strcmp(full, ".") == 0 || dircache_has(&c->dirs, full))
		return 0;
	if (libssh2_sftp_mkdir_ex(c->sftp, full, (unsigned int)strlen(full),
	    SFTP_DIR_MODE) == 0)
		goto out_ok;
	if ((r = sftp_fail(c, display, "mkdir")) == MIG_ERR_NET ||
	    sftp_last_status(c) == LIBSSH2_FX_OK)
		return r;
	if (sftp_stat_full(c, full, &attrs) == 0) {
		if ((attrs.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) &&
		    !LIBSSH2_SFTP_S_ISDIR(attrs.permissions))
			return mig_seterr(c->ctx, MIG_ERR_IO, "%s: mkdir: "
			    "exists and is not a directory", display);
		goto out_ok;
	}
	if (sftp_last_status(c) != LIBSSH2_FX_NO_SUCH_FILE &&
	    sftp_last_status(c) != LIBSSH2_FX_NO_SUCH_PATH)
		return sftp_fail(c, display, "stat");
	/* The parent is missing: create it, then try again. */
	if ((parent = strdup(full)) == NULL)
		return mig_seterr(c->ctx, MIG_ERR_NOMEM, "out of memory");
	slash = strrchr(parent, '/');
	if (slash == NULL) {
		free(parent);
		return sftp_fail(c, display, "mkdir");
	}
	if (slash == parent)
		slash[1] = '\0';
	else
		*slash = '\0';
	r = sftp_mkdir_full(c, parent, display);
	free(parent);
	if (r != 0)
		return r;
	if (libssh2_sftp_mkdir_ex(c->sftp, full, (unsigned int)strlen(full),
	    SFTP_DIR_MODE) != 0) {
		r = sftp_fail(c, display, "mkdir");
		/* Someone else may have made it meanwhile. */
		if (r == MIG_ERR_NET || sftp_stat_full(c, full, &attrs) != 0 ||
		    !(attrs.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) ||
		    !LIBSSH2_SFTP_S_ISDIR(attrs.permissions))
			return r;
	}
out_ok:
	dircache_add(&c->dirs, full);
	return 0;
}

static int
sftp_mkdir_p(struct mig_transport *t, const char *dir)
{
	struct sftp_conn *c = t->priv;
	char *full;
	int r;

	if ((r = sftp_check_path(c, dir, true)) != 0 ||
	    (r = sftp_ready(c)) != 0 ||
	    (r = sftp_no_links(c, dir, true)) != 0)
		return r;
	if ((full = sftp_join(c, dir)) == NULL)
		return mig_seterr(c->ctx, MIG_ERR_NOMEM, "out of memory");
	r = sftp_mkdir_full(c, full, dir[0] != '\0' ? dir : t->root);
	free(full);
	return r;
}

static void
attrs_to_tstat(const LIBSSH2_SFTP_ATTRIBUTES *a, struct mig_tstat *st)
{
	memset(st, 0, sizeof(*st));
	if (a->flags & LIBSSH2_SFTP_ATTR_SIZE)
		st->size = a->filesize;
	if (a->flags & LIBSSH2_SFTP_ATTR_ACMODTIME)
		st->mtime = (time_t)a->mtime;
	if (!(a->flags & LIBSSH2_SFTP_ATTR_PERMISSIONS))
		st->type = MIG_FT_FILE;	/* the server did not say */
	else if (LIBSSH2_SFTP_S_ISREG(a->permissions))
		st->type = MIG_FT_FILE;
	else if (LIBSSH2_SFTP_S_ISDIR(a->permissions))
		st->type = MIG_FT_DIR;
	else if (LIBSSH2_SFTP_S_ISLNK(a->permissions))
		st->type = MIG_FT_LINK;
	else
		st->type = MIG_FT_OTHER;
}

static int
sftp_stat(struct mig_transport *t, const char *path, struct mig_tstat *st)
{
	struct sftp_conn *c = t->priv;
	LIBSSH2_SFTP_ATTRIBUTES attrs;
	char *full;
	int r = 0;

	memset(st, 0, sizeof(*st));
	if ((r = sftp_check_path(c, path, true)) != 0 ||
	    (r = sftp_ready(c)) != 0 ||
	    (r = sftp_no_links(c, path, true)) != 0)
		return r;
	if ((full = sftp_join(c, path)) == NULL)
		return mig_seterr(c->ctx, MIG_ERR_NOMEM, "out of memory");
	if (sftp_stat_full(c, full, &attrs) != 0)
		r = sftp_fail(c, path[0] != '\0' ? path : t->root, "stat");
	else
		attrs_to_tstat(&attrs, st);
	free(full);
	return r;
}

static int
sftp_list(struct mig_transport *t, const char *dir, mig_list_cb cb,
    void *arg)
{
	struct sftp_conn *c = t->priv;
	LIBSSH2_SFTP_HANDLE *h;
	LIBSSH2_SFTP_ATTRIBUTES attrs;
	struct mig_tstat st;
	const char *display = dir[0] != '\0' ? dir : t->root;
	char *full, name[4096];
	int n, r = 0;

	if ((r = sftp_check_path(c, dir, true)) != 0 ||
	    (r = sftp_ready(c)) != 0 ||
	    (r = sftp_no_links(c, dir, true)) != 0)
		return r;
	if ((full = sftp_join(c, dir)) == NULL)
		return mig_seterr(c->ctx, MIG_ERR_NOMEM, "out of memory");
	h = libssh2_sftp_open_ex(c->sftp, full, (unsigned int)strlen(full), 0,
	    0, LIBSSH2_SFTP_OPENDIR);
	if (h == NULL) {
		r = sftp_fail(c, display, "opendir");
		goto out_free;
	}
	for (;;) {
		memset(&attrs, 0, sizeof(attrs));
		n = libssh2_sftp_readdir_ex(h, name, sizeof(name), NULL, 0,
		    &attrs);
		if (n < 0) {
			r = sftp_fail(c, display, "readdir");
			break;
		}
		if (n == 0)
			break;
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		attrs_to_tstat(&attrs, &st);
		if ((r = cb(arg, name, &st)) != 0)
			break;
	}
	(void)libssh2_sftp_close_handle(h);
out_free:
	free(full);
	return r;
}

static int
sftp_remove(struct mig_transport *t, const char *path)
{
	struct sftp_conn *c = t->priv;
	char *full;
	int r = 0;

	if ((r = sftp_check_path(c, path, false)) != 0 ||
	    (r = sftp_ready(c)) != 0 ||
	    (r = sftp_no_links(c, path, false)) != 0)
		return r;
	if ((full = sftp_join(c, path)) == NULL)
		return mig_seterr(c->ctx, MIG_ERR_NOMEM, "out of memory");
	if (libssh2_sftp_unlink_ex(c->sftp, full, (unsigned int)strlen(full))
	    != 0)
		r = sftp_fail(c, path, "remove");
	free(full);
	return r;
}

/* --- Writing ------------------------------------------------------------- */

/* Hands n bytes to libssh2, which pipelines them in ~30 KB packets. */
static int
sftp_push(struct sftp_wpriv *p, const unsigned char *buf, size_t n)
{
	ssize_t k;
	int next;

	(void)libssh2_keepalive_send(p->c->session, &next);
	while (n > 0) {
		k = libssh2_sftp_write(p->h, (const char *)buf, n);
		if (k < 0)
			return sftp_fail(p->c, p->path, "write");
		if (k == 0)
			return mig_seterr(p->c->ctx, MIG_ERR_NET, "%s: write: "
			    "no progress", p->path);
		buf += k;
		n -= (size_t)k;
		p->written += (uint64_t)k;
	}
	return 0;
}

static int
sftp_w_write(struct mig_writer *w, const void *buf, size_t len)
{
	struct sftp_wpriv *p = w->priv;
	const unsigned char *b = buf;
	size_t take;
	int r;

	if (!sftp_alive(p->c, p->gen))
		return mig_seterr(w->ctx, MIG_ERR_NET, "%s: write: connection "
		    "lost", p->path);
	while (len > 0) {
		/* Large writes skip the copy. */
		if (p->len == 0 && len >= p->cap)
			return sftp_push(p, b, len);
		take = p->cap - p->len;
		if (take > len)
			take = len;
		memcpy(p->buf + p->len, b, take);
		p->len += take;
		b += take;
		len -= take;
		if (p->len == p->cap) {
			if ((r = sftp_push(p, p->buf, p->len)) != 0)
				return r;
			p->len = 0;
		}
	}
	return 0;
}

/* Renames tmp over final: plain rename, or replace an existing file. */
static int
sftp_publish(struct sftp_wpriv *p)
{
	struct sftp_conn *c = p->c;
	LIBSSH2_SFTP_ATTRIBUTES attrs;
	unsigned long st;
	long flags = LIBSSH2_SFTP_RENAME_OVERWRITE |
	    LIBSSH2_SFTP_RENAME_ATOMIC | LIBSSH2_SFTP_RENAME_NATIVE;

	if (libssh2_sftp_rename_ex(c->sftp, p->tmp,
	    (unsigned int)strlen(p->tmp), p->final,
	    (unsigned int)strlen(p->final), flags) == 0)
		return 0;
	st = sftp_last_status(c);
	if (st != LIBSSH2_FX_FAILURE && st != LIBSSH2_FX_FILE_ALREADY_EXISTS)
		return sftp_fail(c, p->path, "rename");
	/*
	 * XXX: libssh2 1.10 has no posix-rename@openssh.com and SFTP v3
	 * RENAME refuses an existing target, so a replacement removes the
	 * old object first.  There is a short window in which the path is
	 * absent, never one in which it is partly written.
	 */
	if (sftp_stat_full(c, p->final, &attrs) != 0 ||
	    ((attrs.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) &&
	    !LIBSSH2_SFTP_S_ISREG(attrs.permissions)))
		return mig_seterr(c->ctx, MIG_ERR_IO, "%s: rename: %s", p->path,
		    sftp_status_name(st));
	if (libssh2_sftp_unlink_ex(c->sftp, p->final,
	    (unsigned int)strlen(p->final)) != 0)
		return sftp_fail(c, p->path, "replace");
	if (libssh2_sftp_rename_ex(c->sftp, p->tmp,
	    (unsigned int)strlen(p->tmp), p->final,
	    (unsigned int)strlen(p->final), flags) != 0)
		return sftp_fail(c, p->path, "rename");
	return 0;
}

static int
sftp_w_close(struct mig_writer *w)
{
	struct sftp_wpriv *p = w->priv;
	struct sftp_conn *c = p->c;
	int r;

	if (!sftp_alive(c, p->gen))
		return mig_seterr(w->ctx, MIG_ERR_NET, "%s: close: connection "
		    "lost", p->path);
	if (p->len > 0) {
		if ((r = sftp_push(p, p->buf, p->len)) != 0)
			return r;
		p->len = 0;
	}
	if (p->expect >= 0 && p->written != (uint64_t)p->expect)
		return mig_seterr(w->ctx, MIG_ERR_INTERNAL, "%s: %llu bytes "
		    "written, %lld announced", p->path,
		    (unsigned long long)p->written, (long long)p->expect);
	/* fsync@openssh.com; a server without it gets no durability step. */
	if (libssh2_sftp_fsync(p->h) != 0 &&
	    sftp_last_status(c) != LIBSSH2_FX_OP_UNSUPPORTED)
		return sftp_fail(c, p->path, "fsync");
	r = libssh2_sftp_close_handle(p->h);
	p->h = NULL;
	if (r != 0)
		return sftp_fail(c, p->path, "close");
	if ((r = sftp_publish(p)) != 0)
		return r;
	p->published = true;
	return 0;
}

static void
sftp_w_free(struct mig_writer *w)
{
	struct sftp_wpriv *p = w->priv;
	struct sftp_conn *c;

	if (p == NULL)
		return;
	c = p->c;
	/*
	 * Abandoned: drop the temporary.  Over a lost connection it stays
	 * behind under its MIG_TMP_INFIX name for a later sweep.
	 */
	if (p->h != NULL && c->session != NULL && p->gen == c->gen)
		(void)libssh2_sftp_close_handle(p->h);
	if (!p->published && p->tmp != NULL && sftp_alive(c, p->gen))
		(void)libssh2_sftp_unlink_ex(c->sftp, p->tmp,
		    (unsigned int)strlen(p->tmp));
	free(p->buf);
	free(p->path);
	free(p->final);
	free(p->tmp);
	free(p);
	w->priv = NULL;
}

static const struct mig_writer_ops sftp_writer_ops = {
	.name = "sftp",
	.write = sftp_w_write,
	.close = sftp_w_close,
	.free = sftp_w_free,
};

static LIBSSH2_SFTP_HANDLE *
sftp_create(struct sftp_conn *c, const char *path)
{
	return libssh2_sftp_open_ex(c->sftp, path, (unsigned int)strlen(path),
	    LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_EXCL,
	    SFTP_FILE_MODE, LIBSSH2_SFTP_OPENFILE);
}

static int
sftp_open_write(struct mig_transport *t, const char *path, int64_t size,
    struct mig_writer **wp)
{
	struct sftp_conn *c = t->priv;
	struct sftp_wpriv *p;
	char *dir, *slash;
	int r;

	*wp = NULL;
	if ((r = sftp_check_path(c, path, false)) != 0 ||
	    (r = sftp_ready(c)) != 0 ||
	    (r = sftp_no_links(c, path, false)) != 0)
		return r;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return mig_seterr(c->ctx, MIG_ERR_NOMEM, "out of memory");
	p->c = c;
	p->gen = c->gen;
	p->expect = size;
	p->cap = MIG_SFTP_BUFSIZE;
	if (size >= 0 && (uint64_t)size < p->cap)
		p->cap = size > 0 ? (size_t)size : 1;
	p->path = strdup(path);
	p->final = sftp_join(c, path);
	p->tmp = p->final != NULL ? mig_transport_tmp_name(p->final) : NULL;
	p->buf = malloc(p->cap);
	if (p->path == NULL || p->final == NULL || p->tmp == NULL ||
	    p->buf == NULL) {
		r = mig_seterr(c->ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_free;
	}
	p->h = sftp_create(c, p->tmp);
	if (p->h == NULL && (sftp_last_status(c) == LIBSSH2_FX_NO_SUCH_FILE ||
	    sftp_last_status(c) == LIBSSH2_FX_NO_SUCH_PATH)) {
		/* The caller did not mkdir_p: create the parent for it. */
		if ((dir = strdup(p->final)) == NULL) {
			r = mig_seterr(c->ctx, MIG_ERR_NOMEM, "out of memory");
			goto out_free;
		}
		slash = strrchr(dir, '/');
		if (slash != NULL && slash != dir) {
			*slash = '\0';
			r = sftp_mkdir_full(c, dir, path);
		} else
			r = sftp_fail(c, path, "create");
		free(dir);
		if (r != 0)
			goto out_free;
		p->h = sftp_create(c, p->tmp);
	}
	if (p->h == NULL) {
		r = sftp_fail(c, path, "create");
		goto out_free;
	}
	if ((*wp = mig_writer_new(&sftp_writer_ops, p, NULL, c->ctx)) ==
	    NULL) {
		r = mig_seterr(c->ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_free;
	}
	return 0;
out_free:
	{
		struct mig_writer tmpw;

		memset(&tmpw, 0, sizeof(tmpw));
		tmpw.priv = p;
		sftp_w_free(&tmpw);
	}
	return r;
}

/* --- Reading ------------------------------------------------------------- */

static int
sftp_r_read(struct mig_reader *rd, void *buf, size_t cap, size_t *nread)
{
	struct sftp_rpriv *p = rd->priv;
	ssize_t k;
	size_t n;

	*nread = 0;
	if (cap == 0)
		return 0;
	if (p->off == p->len && !p->eof) {
		if (!sftp_alive(p->c, p->gen))
			return mig_seterr(rd->ctx, MIG_ERR_NET, "%s: read: "
			    "connection lost", p->path);
		k = libssh2_sftp_read(p->h, (char *)p->buf, p->cap);
		if (k < 0)
			return sftp_fail(p->c, p->path, "read");
		p->off = 0;
		p->len = (size_t)k;
		p->got += (uint64_t)k;
		if (k == 0) {
			p->eof = true;
			if (p->got < p->size)
				return mig_seterr(rd->ctx, MIG_ERR_NET,
				    "%s: read: truncated at %llu of %llu "
				    "bytes", p->path,
				    (unsigned long long)p->got,
				    (unsigned long long)p->size);
		}
	}
	n = p->len - p->off;
	if (n > cap)
		n = cap;
	memcpy(buf, p->buf + p->off, n);
	p->off += n;
	*nread = n;
	return 0;
}

static void
sftp_r_free(struct mig_reader *rd)
{
	struct sftp_rpriv *p = rd->priv;

	if (p == NULL)
		return;
	if (p->h != NULL && p->c->session != NULL && p->gen == p->c->gen)
		(void)libssh2_sftp_close_handle(p->h);
	free(p->buf);
	free(p->path);
	free(p);
	rd->priv = NULL;
}

static const struct mig_reader_ops sftp_reader_ops = {
	.name = "sftp",
	.read = sftp_r_read,
	.free = sftp_r_free,
};

static int
sftp_open_read(struct mig_transport *t, const char *path,
    struct mig_reader **rp)
{
	struct sftp_conn *c = t->priv;
	struct sftp_rpriv *p;
	struct mig_reader tmpr;
	LIBSSH2_SFTP_ATTRIBUTES attrs;
	char *full = NULL;
	int r;

	*rp = NULL;
	if ((r = sftp_check_path(c, path, false)) != 0 ||
	    (r = sftp_ready(c)) != 0 ||
	    (r = sftp_no_links(c, path, true)) != 0)
		return r;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return mig_seterr(c->ctx, MIG_ERR_NOMEM, "out of memory");
	p->c = c;
	p->gen = c->gen;
	p->cap = MIG_SFTP_BUFSIZE;
	p->path = strdup(path);
	full = sftp_join(c, path);
	p->buf = malloc(p->cap);
	if (p->path == NULL || full == NULL || p->buf == NULL) {
		r = mig_seterr(c->ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_free;
	}
	p->h = libssh2_sftp_open_ex(c->sftp, full, (unsigned int)strlen(full),
	    LIBSSH2_FXF_READ, 0, LIBSSH2_SFTP_OPENFILE);
	if (p->h == NULL) {
		r = sftp_fail(c, path, "open");
		goto out_free;
	}
	memset(&attrs, 0, sizeof(attrs));
	if (libssh2_sftp_fstat_ex(p->h, &attrs, 0) != 0) {
		r = sftp_fail(c, path, "fstat");
		goto out_free;
	}
	if ((attrs.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) &&
	    !LIBSSH2_SFTP_S_ISREG(attrs.permissions)) {
		r = mig_seterr(c->ctx, MIG_ERR_IO, "%s: not a regular file",
		    path);
		goto out_free;
	}
	if (attrs.flags & LIBSSH2_SFTP_ATTR_SIZE)
		p->size = attrs.filesize;
	if ((*rp = mig_reader_new(&sftp_reader_ops, p, NULL, c->ctx)) ==
	    NULL) {
		r = mig_seterr(c->ctx, MIG_ERR_NOMEM, "out of memory");
		goto out_free;
	}
	free(full);
	return 0;
out_free:
	free(full);
	memset(&tmpr, 0, sizeof(tmpr));
	tmpr.priv = p;
	sftp_r_free(&tmpr);
	return r;
}

static const struct mig_tkey sftp_keys[] = {
	{ "known_hosts", MIG_TKEY_PATH, NULL, "the host keys to trust "
	    "(OpenSSH format; default: ssh_config's UserKnownHostsFile, else "
	    "~/.ssh/known_hosts); an unknown key is refused" },
	{ "identity", MIG_TKEY_PATH, NULL, "private key file, tried after "
	    "the agent (default: ssh_config's IdentityFile, else "
	    "~/.ssh/id_ed25519, id_ecdsa, id_rsa)" },
	{ "ssh_config", MIG_TKEY_STRING, NULL, "OpenSSH client config to "
	    "read (default ~/.ssh/config; \"none\": none)" },
	{ "identity_passphrase_env", MIG_TKEY_ENV, NULL, "variable holding "
	    "the identity's passphrase" },
	{ "password_env", MIG_TKEY_ENV, NULL, "variable holding a password "
	    "(discouraged)" },
	{ NULL, 0, NULL, NULL }
};

const struct mig_transport_ops mig_transport_sftp_ops = {
	.scheme = "sftp",
	.keys = sftp_keys,
	.open = sftp_open,
	.close = sftp_close,
	.mkdir_p = sftp_mkdir_p,
	.open_write = sftp_open_write,
	.open_read = sftp_open_read,
	.stat = sftp_stat,
	.list = sftp_list,
	.remove = sftp_remove,
};
