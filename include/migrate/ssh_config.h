/*
 * The user's OpenSSH client configuration (ssh_config(5)), as far as an
 * sftp:// destination needs it: HostName, User, Port, IdentityFile and
 * UserKnownHostsFile, picked by Host patterns ('*', '?', "!negation"),
 * the first value of a keyword winning (IdentityFile accumulates, as in
 * ssh).  Include and Match are not followed: lines after a Match line are
 * skipped until the next Host line.  And the destination those resolve
 * to: the plan beats ssh_config, ssh_config beats the defaults.
 *
 * Pure functions over a buffer, for the unit tests and the fuzzer; the
 * home directory comes from the caller (lib/ never reads the
 * environment).
 */
#ifndef MIGRATE_SSH_CONFIG_H
#define MIGRATE_SSH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

struct mig_ctx;
struct mig_topts;
struct mig_url;

/* Larger ssh_config files are refused. */
#define MIG_SSHCFG_MAX		(1024 * 1024)
/* IdentityFile lines kept per host; ssh(1) allows 100, 8 is plenty. */
#define MIG_SSHCFG_IDS_MAX	8

/* What ssh_config says for one host; raw values, tokens unexpanded. */
struct mig_ssh_host {
	char	*hostname;		/* HostName, or NULL */
	char	*user;			/* User, or NULL */
	int	 port;			/* Port, or 0 */
	char	*known_hosts;		/* first UserKnownHostsFile */
	/* IdentityFile values, in order. */
	char	*identity[MIG_SSHCFG_IDS_MAX];
	size_t	 nidentity;
};

/*
 * Reads the ssh_config text (buf, len) for host (the name in the URL,
 * matched in lower case).  Unknown keywords are ignored, as ssh does
 * with most of them here.  Returns 0, MIG_ERR_PARSE with "LINE: ..."
 * for a Port that is not 1-65535 or a line ssh would also refuse, or
 * MIG_ERR_NOMEM.  Caller frees *h with mig_ssh_host_free() (also on
 * failure).
 */
int	mig_ssh_config_parse(const char *buf, size_t len, const char *host,
	    struct mig_ssh_host *h, struct mig_ctx *ctx);
void	mig_ssh_host_free(struct mig_ssh_host *h);

/*
 * Expands a ssh_config path: a leading "~/" (or "~") from home, and the
 * tokens %d (home), %h (remote host), %p (port), %r (remote user), %u
 * (local user) and %%; a relative path stays relative, as in ssh.
 * NULL on ENOMEM, an unknown token, or a token whose value is NULL;
 * caller frees.
 */
char	*mig_ssh_expand(const char *raw, const char *home, const char *host,
	    int port, const char *ruser, const char *luser);

/* Where an sftp:// destination really is, and how to log in there. */
struct mig_sftp_target {
	char	*host;			/* to connect to */
	int	 port;
	char	*user;
	char	*known_hosts;		/* NULL: none configured */
	/* The key files to try after the agent, in order. */
	char	*identity[MIG_SSHCFG_IDS_MAX];
	size_t	 nidentity;
	bool	 identity_explicit;	/* the plan names it */
	char	*ssh_config;		/* the file read, or NULL */
};

/*
 * Resolves url and the sftp plan keys (known_hosts, identity, ssh_config)
 * with ssh_config: the plan's values first, then the ssh_config file
 * (plan key ssh_config: a path, "none", or home/.ssh/config when absent;
 * a missing default file is no error), then the defaults (port 22, the
 * login name luser, home/.ssh/known_hosts, and those of
 * home/.ssh/id_ed25519, id_ecdsa, id_rsa that exist; IdentityFiles of
 * ssh_config that do not exist are skipped, as ssh does).  luser NULL:
 * the login name of the uid.  base_dir anchors a relative ssh_config
 * path.  Caller frees *t with
 * mig_sftp_target_free() (also on failure).
 */
int	mig_sftp_resolve(const struct mig_topts *opts,
	    const struct mig_url *url, const char *home, const char *luser,
	    const char *base_dir, struct mig_sftp_target *t,
	    struct mig_ctx *ctx);
void	mig_sftp_target_free(struct mig_sftp_target *t);

#endif /* MIGRATE_SSH_CONFIG_H */
