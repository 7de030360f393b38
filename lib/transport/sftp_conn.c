/*
 * The SFTP transport's connection (libssh2 1.10, OpenSSL backend): TCP
 * within a deadline, the SSH handshake with our algorithm preferences,
 * the host key check, authentication, reconnects with backoff, and the
 * one translation of libssh2's errors.  Everything a reviewer of the
 * trust decisions needs is here; the operations are in sftp.c.
 *
 * The host key is always checked against the configured known_hosts file
 * and an unknown or changed key is refused: nothing turns that off, and
 * nothing warns and goes on.  Key files that others can read are refused
 * before any network traffic.
 */
#define MIG_TRANSPORT_INTERNAL

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libssh2.h>
#include <libssh2_sftp.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "migrate/error.h"
#include "migrate/keyfile.h"
#include "migrate/ssh_config.h"
#include "migrate/transport.h"
#include "migrate/util.h"

#include "knownhosts_int.h"
#include "sftp_int.h"

/*
 * Algorithm preferences.  AES-CTR runs on AES-NI through OpenSSL; libssh2
 * 1.10 has neither AES-GCM nor chacha20-poly1305.  Key exchange and host
 * key signatures are limited to what OpenSSH still offers by default:
 * libssh2's own defaults include the SHA-1 key exchanges
 * (diffie-hellman-group1-sha1, -group14-sha1, -group-exchange-sha1) and
 * ssh-rsa (SHA-1) signatures, and a server that offers nothing better is
 * refused (key exchange failed) rather than used.
 */
#define MIG_SFTP_KEX		"curve25519-sha256," \
				"curve25519-sha256@libssh.org," \
				"ecdh-sha2-nistp256,ecdh-sha2-nistp384," \
				"ecdh-sha2-nistp521," \
				"diffie-hellman-group-exchange-sha256," \
				"diffie-hellman-group16-sha512," \
				"diffie-hellman-group18-sha512," \
				"diffie-hellman-group14-sha256"
#ifndef MIG_SFTP_CIPHERS
#define MIG_SFTP_CIPHERS	"aes128-ctr,aes256-ctr,aes192-ctr"
#endif
#ifndef MIG_SFTP_MACS
#define MIG_SFTP_MACS		"hmac-sha2-256,hmac-sha2-512,hmac-sha1"
#endif
#define MIG_SFTP_HOSTKEYS	"ssh-ed25519,ecdsa-sha2-nistp256," \
				"ecdsa-sha2-nistp384,ecdsa-sha2-nistp521," \
				"rsa-sha2-512,rsa-sha2-256"

/* Which list each libssh2 method type gets (sftp_method_pref()). */
static const struct sftp_pref {
	int		 type;
	const char	*names;
} sftp_prefs[] = {
	{ LIBSSH2_METHOD_KEX,		MIG_SFTP_KEX },
	{ LIBSSH2_METHOD_CRYPT_CS,	MIG_SFTP_CIPHERS },
	{ LIBSSH2_METHOD_CRYPT_SC,	MIG_SFTP_CIPHERS },
	{ LIBSSH2_METHOD_MAC_CS,	MIG_SFTP_MACS },
	{ LIBSSH2_METHOD_MAC_SC,	MIG_SFTP_MACS },
	{ LIBSSH2_METHOD_HOSTKEY,	MIG_SFTP_HOSTKEYS },
};

#define SFTP_CONNECT_TIMEOUT_MS	15000L
#define SFTP_IO_TIMEOUT_MS	60000L
#define SFTP_RETRIES		4
#define SFTP_BACKOFF_MS		250L
#define SFTP_BACKOFF_MAX_MS	8000L
#define SFTP_KEEPALIVE_S	15

static pthread_once_t sftp_once = PTHREAD_ONCE_INIT;
static int sftp_init_rc;

/* libssh2_init() is not thread-safe: run it once for the process. */
static void
sftp_global_init(void)
{
	sftp_init_rc = libssh2_init(0);
}

/* --- Error translation --------------------------------------------------- */

const char *
mig_sftp_status_name(unsigned long st)
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
void
mig_sftp_mark_broken(struct mig_sftp_conn *c)
{
	c->broken = true;
	if (c->sock >= 0)
		(void)shutdown(c->sock, SHUT_RDWR);
}


/*
 * Records the last libssh2 error as "OBJ: OP: WHAT".  SFTP status codes
 * are named; everything else carries libssh2's own text.  A connection
 * failure marks the connection for a reconnect before its next use.
 */
int
mig_sftp_fail(struct mig_sftp_conn *c, const char *obj, const char *op)
{
	return mig_sftp_fail_on(c, c->sftp, obj, op);
}

int
mig_sftp_fail_on(struct mig_sftp_conn *c, LIBSSH2_SFTP *sftp,
    const char *obj, const char *op)
{
	unsigned long st;
	const char *what;
	char *msg = NULL;
	int rc, code;

	if (c->session == NULL)
		return mig_seterr(c->ctx, MIG_ERR_NET, "%s: %s: not connected",
		    obj, op);
	rc = libssh2_session_last_error(c->session, &msg, NULL, 0);
	if (rc == LIBSSH2_ERROR_SFTP_PROTOCOL && sftp != NULL) {
		st = libssh2_sftp_last_error(sftp);
		code = sftp_status_code(st);
		if (code == MIG_ERR_NET)
			mig_sftp_mark_broken(c);
		return mig_seterr(c->ctx, code, "%s: %s: %s (SFTP status %lu)",
		    obj, op, mig_sftp_status_name(st), st);
	}
	code = sftp_libssh2_code(rc, &what);
	if (code == MIG_ERR_NET)
		mig_sftp_mark_broken(c);
	if (msg != NULL && *msg != '\0')
		return mig_seterr(c->ctx, code, "%s: %s: %s: %s", obj, op,
		    what, msg);
	return mig_seterr(c->ctx, code, "%s: %s: %s (libssh2 error %d)", obj,
	    op, what, rc);
}

/* The SFTP status of the last failure, or LIBSSH2_FX_OK for others. */
unsigned long
mig_sftp_last_status(struct mig_sftp_conn *c)
{
	if (c->session == NULL || c->sftp == NULL ||
	    libssh2_session_last_errno(c->session) !=
	    LIBSSH2_ERROR_SFTP_PROTOCOL)
		return LIBSSH2_FX_OK;
	return libssh2_sftp_last_error(c->sftp);
}

/* --- Small helpers ------------------------------------------------------- */

size_t
mig_sftp_lanes(const char *v)
{
	char *end;
	long n;

	if (v == NULL)
		return MIG_SFTP_LANES_DEF;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < 1 ||
	    n > MIG_SFTP_LANES_MAX)
		return 0;
	return (size_t)n;
}

static void
free_secret(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
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
 * Waits until the non-blocking connect(2) on fd completes or the
 * deadline passes; 0 when connected, else the errno value of the failure.
 */
static int
tcp_wait_connected(int fd, long deadline)
{
	struct pollfd pfd;
	socklen_t elen;
	long left;
	int e = 0, g;

	pfd.fd = fd;
	pfd.events = POLLOUT;
	for (;;) {
		left = deadline - mig_now_ms();
		if (left <= 0)
			return ETIMEDOUT;
		pfd.revents = 0;
		g = poll(&pfd, 1, (int)left);
		if (g < 0 && errno == EINTR)
			continue;
		if (g <= 0)
			return g == 0 ? ETIMEDOUT : errno;
		elen = sizeof(e);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) != 0)
			e = errno;
		return e;
	}
}

/*
 * Opens a TCP connection within the connect timeout: a non-blocking
 * connect per address, then poll.  Transient failures are MIG_ERR_AGAIN.
 */
static int
sftp_tcp_connect(struct mig_sftp_conn *c)
{
	struct addrinfo hints, *res = NULL, *ai;
	char portstr[16];
	long deadline;
	int fd = -1, e = 0, g, one = 1, flags;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	(void)snprintf(portstr, sizeof(portstr), "%d", c->port);
	g = getaddrinfo(c->host, portstr, &hints, &res);
	if (g != 0)
		return mig_seterr(c->ctx, g == EAI_AGAIN ? MIG_ERR_AGAIN :
		    MIG_ERR_NET, "%s: cannot resolve host: %s", c->where,
		    gai_strerror(g));
	deadline = mig_now_ms() + c->connect_timeout_ms;
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
		if (e == EINPROGRESS && (e = tcp_wait_connected(fd,
		    deadline)) == 0)
			break;
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
 * Ends the connection: says goodbye first and then shuts the socket, so
 * that closing the channels below fails at once instead of waiting a
 * round trip each for the server's answer (nothing is pending: every
 * object was closed and acknowledged before).  Over a broken connection
 * there is no goodbye.  The channels go before the session that holds
 * them.
 */
static void
sftp_disconnect(struct mig_sftp_conn *c)
{
	if (c->session != NULL && !c->broken)
		(void)libssh2_session_disconnect(c->session, "migrate: done");
	if (c->sock >= 0)
		(void)shutdown(c->sock, SHUT_RDWR);
	mig_sftp_pipe_drop(c);
	if (c->sftp != NULL) {
		(void)libssh2_sftp_shutdown(c->sftp);
		c->sftp = NULL;
	}
	if (c->session != NULL) {
		(void)libssh2_session_free(c->session);
		c->session = NULL;
	}
	if (c->sock >= 0) {
		(void)close(c->sock);
		c->sock = -1;
	}
}

/* --- Host key ------------------------------------------------------------ */

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
sftp_check_hostkey(struct mig_sftp_conn *c)
{
	const char *key;
	size_t keylen = 0;
	int type = 0;

	key = libssh2_session_hostkey(c->session, &keylen, &type);
	if (key == NULL)
		return mig_sftp_fail(c, c->where, "host key");
	return mig_kh_verify(c->ctx, c->where, c->known_hosts, c->host,
	    c->port, (const unsigned char *)key, keylen,
	    hostkey_type_name(type));
}

/* --- Authentication ------------------------------------------------------ */

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
sftp_auth_agent(struct mig_sftp_conn *c)
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
sftp_auth_key(struct mig_sftp_conn *c, const char *path, char *tried,
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
		(void)snprintf(tried + used, size - used, "%s (an RSA key: "
		    "this libssh2 signs only with ssh-rsa/SHA-1, which "
		    "current OpenSSH servers refuse; use an ed25519 or ecdsa "
		    "key)", path);
	else if (r != LIBSSH2_ERROR_AUTHENTICATION_FAILED &&
	    r != LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED)
		(void)snprintf(tried + used, size - used, "%s (cannot load "
		    "it: wrong or missing passphrase, or an unsupported "
		    "format%s%s)", path,
		    msg != NULL && *msg != '\0' ? ": " : "",
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
sftp_auth(struct mig_sftp_conn *c)
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
		return mig_sftp_fail(c, c->where, "authentication");
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

/* --- Session set-up and reconnects --------------------------------------- */

/*
 * Maps a libssh2 failure during connection set-up; socket trouble is
 * transient (MIG_ERR_AGAIN), with the same message.
 */
static int
sftp_setup_fail(struct mig_sftp_conn *c, const char *op)
{
	char msg[MIG_ERRMSG_MAX];
	int rc = libssh2_session_last_errno(c->session);
	int r;

	r = mig_sftp_fail(c, c->where, op);
	switch (rc) {
	case LIBSSH2_ERROR_SOCKET_DISCONNECT:
	case LIBSSH2_ERROR_SOCKET_RECV:
	case LIBSSH2_ERROR_SOCKET_SEND:
	case LIBSSH2_ERROR_BANNER_RECV:
	case LIBSSH2_ERROR_TIMEOUT:
	case LIBSSH2_ERROR_SOCKET_TIMEOUT:
		/* A copy: mig_seterr() overwrites the message it is given. */
		(void)snprintf(msg, sizeof(msg), "%s", mig_errmsg(c->ctx));
		return mig_seterr(c->ctx, MIG_ERR_AGAIN, "%s", msg);
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
sftp_method_pref(struct mig_sftp_conn *c, int type, const char *prefs)
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
		r = mig_sftp_fail(c, c->where, "algorithm preferences");
	return r;
}

/* One attempt: TCP, SSH handshake, host key, authentication, SFTP. */
static int
sftp_connect_once(struct mig_sftp_conn *c)
{
	size_t i;
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
	for (i = 0; i < sizeof(sftp_prefs) / sizeof(sftp_prefs[0]); i++)
		if ((r = sftp_method_pref(c, sftp_prefs[i].type,
		    sftp_prefs[i].names)) != 0)
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
sftp_connect(struct mig_sftp_conn *c)
{
	char msg[MIG_ERRMSG_MAX];
	int attempt, r;

	for (attempt = 0; ; attempt++) {
		if ((r = sftp_connect_once(c)) == 0)
			return 0;
		mig_sftp_mark_broken(c);
		sftp_disconnect(c);
		if (r != MIG_ERR_AGAIN)
			return r;
		if (attempt >= c->retries)
			break;
		mig_sleep_ms(mig_backoff_ms(attempt, SFTP_BACKOFF_MS,
		    SFTP_BACKOFF_MAX_MS));
	}
	(void)snprintf(msg, sizeof(msg), "%s", mig_errmsg(c->ctx));
	return mig_seterr(c->ctx, MIG_ERR_NET, "%s (gave up after %d "
	    "attempts)", msg, attempt + 1);
}

/* Before each operation: reconnect when an earlier one lost the link. */
int
mig_sftp_ready(struct mig_sftp_conn *c)
{
	int next;

	if (c->session != NULL && !c->broken) {
		(void)libssh2_keepalive_send(c->session, &next);
		return 0;
	}
	sftp_disconnect(c);
	return sftp_connect(c);
}

/* --- Opening and freeing ------------------------------------------------- */

void
mig_sftp_conn_free(struct mig_sftp_conn *c)
{
	size_t n;

	if (c == NULL)
		return;
	sftp_disconnect(c);
	mig_sftp_pipe_free(c);
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
sftp_conn_target(struct mig_sftp_conn *c, struct mig_transport *t,
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
sftp_check_keys(struct mig_sftp_conn *c)
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

int
mig_sftp_conn_open(struct mig_transport *t,
    const struct mig_transport_config *cfg, const struct mig_url *url,
    struct mig_sftp_conn **cp)
{
	struct mig_sftp_conn *c;
	const char *root;
	size_t n;
	bool nomem = false;
	int r;

	*cp = NULL;
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
	c->root = mig_strdup_or_null(root, &nomem);
	c->passphrase = mig_strdup_or_null(mig_topts_get(&cfg->opts,
	    "identity_passphrase_env"), &nomem);
	c->password = mig_strdup_or_null(mig_topts_get(&cfg->opts,
	    "password_env"), &nomem);
	c->agent_socket = mig_strdup_or_null(cfg->agent_socket, &nomem);
	c->connect_timeout_ms = cfg->connect_timeout_ms > 0 ?
	    cfg->connect_timeout_ms : SFTP_CONNECT_TIMEOUT_MS;
	c->io_timeout_ms = cfg->io_timeout_ms > 0 ? cfg->io_timeout_ms :
	    SFTP_IO_TIMEOUT_MS;
	c->retries = cfg->retries > 0 ? cfg->retries : SFTP_RETRIES;
	c->lanes = mig_sftp_lanes(mig_topts_get(&cfg->opts,
	    "objects_in_flight"));
	if (c->lanes == 0) {
		r = mig_seterr(t->ctx, MIG_ERR_PARSE, "%s: objects_in_flight "
		    "must be 1 to %d", t->root, MIG_SFTP_LANES_MAX);
		goto out_free;
	}
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
	*cp = c;
	return 0;
out_free:
	mig_sftp_conn_free(c);
	return r;
}
