/*
 * Shared declarations of the command-line front end.  Only cmd/ prints
 * and only cmd/ maps error codes to exit statuses.
 */
#ifndef MIGRATE_CMD_H
#define MIGRATE_CMD_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

struct mig_ctx;

/* Exit statuses of migrate(1). */
#define EXIT_OK		0
#define EXIT_RUNTIME	1
#define EXIT_USAGE	2
#define EXIT_VERIFY	3
#define EXIT_PARTIAL	4

/*
 * A verb: fn gets argv with argv[0] the verb's own name and returns the
 * process exit status.  usage is a NULL-terminated array of lines whose
 * text matches the SYNOPSIS of migrate(1).
 */
struct cmd {
	const char		*name;
	int			(*fn)(int argc, char **argv,
				    struct mig_ctx *ctx);
	const char		*summary;
	const char *const	*usage;
	const char *const	*options;	/* one line per option */
};

/* Prints usage lines, each prefixed with "usage: " or spaces. */
void	cmd_print_usage(FILE *fp, const char *const *usage);
/* Prints the usage to stdout and returns 0 (for -h/--help). */
int	cmd_help(const char *const *usage);
/* Prints "migrate: MSG" and the usage to stderr; returns EXIT_USAGE. */
int	cmd_bad_usage(const char *const *usage, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Prints "migrate: " and ctx's message to stderr; returns the exit status. */
int	cmd_fail(struct mig_ctx *ctx, int rc);
/* Prints "migrate: MSG" to stderr. */
void	cmd_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* --- Talking to a person (cmd_ui.c) ----------------------------------- */

struct option;

/* -1 after -q, 1 after -v, else 0. */
extern int cmd_verbosity;
/*
 * Every verb's getopt table has { "verbose", 'v' } and { "quiet", 'q' }
 * (and "vq" in its optstring); it passes either here.
 */
void	cmd_set_verbosity(int c);
/* A message for the person (stderr, no prefix); silent with -q. */
void	cmd_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "migrate: MSG" on stderr, only with -v. */
void	cmd_verbose(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
/*
 * Whether stderr may get a progress bar and its escape codes: a terminal
 * whose TERM is set and not "dumb", and no -q.
 */
bool	cmd_progress_ok(void);
/*
 * The usage, then each option in one line: options[] lines start with
 * '-' or a space; any other line heads a group ("Options of audit
 * show:").  The common options (-v, -q, -h) follow.
 */
void	cmd_print_help(FILE *fp, const char *const *usage,
	    const char *const *options);
/* cmd_print_help to stdout; returns EXIT_OK (for -h/--help). */
int	cmd_help_options(const char *const *usage, const char *const *options);
/*
 * A getopt_long error (opterr is 0 and optstrings start with ':'): c is
 * what getopt_long returned ('?' or ':').  Names the option, says "did
 * you mean" for a mistyped long option, and returns EXIT_USAGE.
 */
int	cmd_bad_option(int c, char **argv, const struct option *longopts,
	    const char *const *usage);

/* --- Shared by the verbs that take a plan (cmd_common.c) ----------- */

struct mig_plan;
struct mig_transport_config;
struct mig_age_recipients;
struct mig_age_identities;
struct mig_audit_log;
struct mig_sign_key;

/* Loads a plan; a missing file is a usage error.  Returns 0 or a code. */
int	cmd_load_plan(const char *path, struct mig_ctx *ctx,
	    struct mig_plan **planp);
/*
 * Fills cfg from the plan and the environment variables it names
 * (secrets stay in the environment's memory; cfg borrows them).
 */
int	cmd_transport_config(const struct mig_plan *p,
	    struct mig_transport_config *cfg, struct mig_ctx *ctx);
/* The plan's recipients (list, file, or passphrase from its variable). */
int	cmd_plan_recipients(const struct mig_plan *p, struct mig_ctx *ctx,
	    struct mig_age_recipients **rsp);
/*
 * Identities from -i files, or a passphrase (from env var passenv, or
 * the plan's passphrase_env when p is given, or the terminal).
 */
int	cmd_identities(char *const *files, size_t nfiles, bool passphrase,
	    const char *passenv, const struct mig_plan *p,
	    struct mig_ctx *ctx, struct mig_age_identities **idsp);
/*
 * Opens the plan's audit log (creating its directory) and signing key.
 * An existing file that is not an audit log is refused: MIG_ERR_USAGE,
 * the plan's audit.log is wrong.
 */
int	cmd_open_audit(const struct mig_plan *p, struct mig_ctx *ctx,
	    struct mig_sign_key **keyp, struct mig_audit_log **logp);
/*
 * The audit public key that checks seals: keyfile (--key), else the
 * plan's signing_key.pub, else the public half of signing_key.  *pubp is
 * NULL when there is neither (the plan does not seal).  Caller frees it.
 */
int	cmd_seal_pub(const char *keyfile, const struct mig_plan *p,
	    struct mig_ctx *ctx, struct mig_sign_key **pubp);
/* "user@host" of this process. */
void	cmd_actor(char *buf, size_t size);
/* Number of online CPUs, at least 1. */
int	cmd_ncpus(void);
/* Parses a positive integer option; -1 when bad. */
long	cmd_parse_count(const char *s, long max);
/* Human-readable byte count ("1.5 MiB") into buf. */
const char *cmd_bytes(unsigned long long n, char *buf, size_t size);
/* A one-line progress bar on stderr (only call when it is a tty). */
struct mig_run_progress;
void	cmd_progress_line(const struct mig_run_progress *pr, double elapsed);
void	cmd_progress_done(void);

/*
 * No core dump and no ptrace by the same user (RLIMIT_CORE 0,
 * PR_SET_DUMPABLE 0): called before any verb reads a key.  0 or a code.
 */
int	cmd_no_core_dumps(struct mig_ctx *ctx);
/*
 * A temporary (name in dirfd, both borrowed until cmd_tmp_forget) that a
 * fatal signal (HUP, INT, QUIT, TERM, PIPE, XCPU, XFSZ) removes before
 * the process ends by that signal.  Returns its slot, or -1 when the name
 * is too long or every slot is taken.  Register between cmd_tmp_block and
 * cmd_tmp_unblock, around the file's creation, so that no signal falls in
 * between.
 */
int	cmd_tmp_register(int dirfd, const char *name);
void	cmd_tmp_forget(int slot);
void	cmd_tmp_block(sigset_t *old);
void	cmd_tmp_unblock(const sigset_t *old);

/* --- Passphrases and inputs (cmd_encrypt.c) ---------------------------- */

struct mig_reader;

/*
 * A passphrase from the environment variable env, or else the terminal
 * (echo off; asked twice when confirm).  Never from argv.  Caller must
 * wipe (OPENSSL_cleanse) and free *passp.
 */
int	cmd_age_passphrase(const char *env, bool confirm, char **passp,
	    size_t *lenp, struct mig_ctx *ctx);
/* Wipes and frees what cmd_age_passphrase gave (NULL is fine). */
void	cmd_age_passphrase_free(char *pass);

/*
 * The command line of encrypt and decrypt: the verb's getopt_long tables
 * ('E' is --passphrase-env) and at most one input.  cmd_age_parse returns
 * -1 to go on, or else the exit status (--help shown, or a usage error).
 */
struct cmd_age_args {
	char		**keys;		/* -i IDENTITY or -r RECIPIENT */
	size_t		  nkeys;
	char		**files;	/* -R FILE */
	size_t		  nfiles;
	const char	 *in, *out, *passenv;
	bool		  pass, armor;
};
struct option;
int	cmd_age_parse(int argc, char **argv, const char *verb,
	    const char *shortopts, const struct option *longopts,
	    const char *const *usage, const char *const *options,
	    struct cmd_age_args *a, struct mig_ctx *ctx);
void	cmd_age_args_free(struct cmd_age_args *a);
/* A reader over path, or stdin for NULL or "-". */
int	cmd_age_open_input(const char *path, struct mig_ctx *ctx,
	    struct mig_reader **rp);
/*
 * The output of -o path: a regular file is written to a temporary beside
 * it (DIR/.BASE.migrate-tmp-XXXXXXXX) that a fatal signal removes (a
 * decrypted temporary is plaintext), published by cmd_age_publish_output
 * once the stream closed; devices and FIFOs are written in place; NULL
 * or "-" is stdout.  cmd_age_close_output frees it all, removing a
 * temporary not published; it must follow cmd_age_open_output whatever
 * that returned.
 */
struct mig_writer;
struct cmd_age_output {
	struct mig_writer *w;		/* the sink to write to */
	int		 fd;		/* ours to close, or -1 */
	int		 dirfd;		/* a regular file's directory, or -1 */
	char		*name;		/* its name in dirfd */
	char		*tmp;		/* its temporary, until published */
	int		 slot;		/* cmd_tmp_register slot of tmp, or -1 */
};
int	cmd_age_open_output(const char *path, mode_t mode,
	    struct mig_ctx *ctx, struct cmd_age_output *o);
int	cmd_age_publish_output(struct cmd_age_output *o, const char *path,
	    struct mig_ctx *ctx);
void	cmd_age_close_output(struct cmd_age_output *o);
/* Encryption threads for one file: one per CPU, at most 4. */
int	cmd_age_threads(void);

/* --- Test points (testhook.c) ------------------------------------------ */

/*
 * The test build's hook from MIGRATE_TEST_HOOK, or NULL (always NULL in
 * the release binary).  cmd_testhook_get(NULL) is NULL, as is the hook
 * for the library's opts; cmd_testhook_free(NULL) is a no-op.
 */
struct cmd_testhook;
struct mig_testhook;
struct cmd_testhook *cmd_testhook_new(void);
const struct mig_testhook *cmd_testhook_get(const struct cmd_testhook *th);
void	cmd_testhook_free(struct cmd_testhook *th);

/* Verbs, one per cmd_<verb>.c, with their usage and option lines. */
int	cmd_plan(int argc, char **argv, struct mig_ctx *ctx);
extern const char *const cmd_plan_usage[], *const cmd_plan_options[];
/* plan init (cmd_plan_init.c); argv[0] is "init". */
int	cmd_plan_init(int argc, char **argv, struct mig_ctx *ctx);
int	cmd_keygen(int argc, char **argv, struct mig_ctx *ctx);
extern const char *const cmd_keygen_usage[], *const cmd_keygen_options[];
int	cmd_encrypt(int argc, char **argv, struct mig_ctx *ctx);
extern const char *const cmd_encrypt_usage[], *const cmd_encrypt_options[];
int	cmd_decrypt(int argc, char **argv, struct mig_ctx *ctx);
extern const char *const cmd_decrypt_usage[], *const cmd_decrypt_options[];
int	cmd_audit(int argc, char **argv, struct mig_ctx *ctx);
extern const char *const cmd_audit_usage[], *const cmd_audit_options[];
int	cmd_run(int argc, char **argv, struct mig_ctx *ctx);
extern const char *const cmd_run_usage[], *const cmd_run_options[];
int	cmd_verify(int argc, char **argv, struct mig_ctx *ctx);
extern const char *const cmd_verify_usage[], *const cmd_verify_options[];
int	cmd_restore(int argc, char **argv, struct mig_ctx *ctx);
extern const char *const cmd_restore_usage[], *const cmd_restore_options[];
int	cmd_runs(int argc, char **argv, struct mig_ctx *ctx);
extern const char *const cmd_runs_usage[], *const cmd_runs_options[];
/* Hidden: what the shell completions ask (cmd_complete.c). */
int	cmd_complete(int argc, char **argv, struct mig_ctx *ctx);

#endif /* MIGRATE_CMD_H */
