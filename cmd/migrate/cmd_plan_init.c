/*
 * migrate plan init STRATEGY [--source PATH] [--to URL] [-o FILE]: a
 * commented starter plan for one strategy.  It passes `plan check` once
 * the paths it names exist: the source, and the recipients file that
 * `migrate keygen -o keys/lake.key` writes (keys/lake.key.pub), both
 * relative to the plan file.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "migrate/error.h"
#include "migrate/plan.h"

#include "cmd.h"

/* What each strategy does, in the plan's first comment. */
static const char *const what[MIG_STRATEGY_COUNT] = {
	[MIG_STRATEGY_RETAIN] = "# Retain: nothing moves.  Each run hashes "
	    "the source and lands a signed\n# inventory (paths, sizes, "
	    "SHA-256) in the inventory zone, and reports\n# drift against "
	    "the previous run.\n",
	[MIG_STRATEGY_RETIRE] = "# Retire: the whole source goes into one "
	    "archive (pax tar, zstd, age) in\n# the archive zone.  The "
	    "source stays unless delete_source = true, and\n# then only "
	    "after a deep verify of the landed archive passes.\n",
	[MIG_STRATEGY_REHOST] = "# Rehost (\"lift and shift\"): every file "
	    "lands 1:1 under its relative\n# path as NAME.age, encrypted, "
	    "not compressed, in the raw zone.\n",
	[MIG_STRATEGY_REPLATFORM] = "# Replatform: every file lands as "
	    "NAME.zst.age (zstd, then age) in the\n# raw zone.\n",
	[MIG_STRATEGY_REFACTOR] = "# Refactor: files are re-partitioned "
	    "Hive-style (KEY=VALUE/) into the\n# curated zone, as "
	    "NAME.zst.age.\n",
	[MIG_STRATEGY_REPURCHASE] = "# Repurchase: everything goes into "
	    "one hand-off bundle for the new\n# product (a BagIt bag in a "
	    "pax tar, age-encrypted to the receiving\n# party's recipients) "
	    "in the export zone.\n",
	[MIG_STRATEGY_REBUILD] = "# Rebuild: like refactor, into a new "
	    "immutable version v=N/ every run;\n# earlier versions stay as "
	    "they are.\n",
};

/* The plan's name: FILE's base name without .toml, in [a-z0-9_-]. */
static void
plan_name(const char *out, const char *strategy, char *buf, size_t size)
{
	const char *base = out != NULL ? strrchr(out, '/') : NULL;
	size_t i, n = 0;

	base = base != NULL ? base + 1 : out;
	if (base != NULL)
		for (i = 0; base[i] != '\0' && strcmp(base + i, ".toml") != 0 &&
		    n + 1 < size && n < 64; i++) {
			unsigned char c = (unsigned char)tolower(
			    (unsigned char)base[i]);

			buf[n++] = isalnum(c) || c == '-' || c == '_' ? (char)c :
			    '-';
		}
	buf[n] = '\0';
	if (n == 0)
		(void)snprintf(buf, size, "my-%s", strategy);
}

static const char *
destination_notes(const char *url)
{
	if (strncmp(url, "sftp://", 7) == 0)
		return "# HOST may be a Host alias of ~/.ssh/config: its "
		    "HostName, User, Port,\n"
		    "# IdentityFile and UserKnownHostsFile apply unless set "
		    "here.\n"
		    "# The host key must be known first (check it, then:\n"
		    "#   ssh-keyscan -p PORT HOST >> ~/.ssh/known_hosts).\n"
		    "# known_hosts = \"~/.ssh/known_hosts\"\n"
		    "# identity = \"~/.ssh/id_ed25519\"      # after ssh-agent\n"
		    "#   (default: ~/.ssh/id_ed25519, id_ecdsa, id_rsa, those "
		    "that exist)\n"
		    "# identity_passphrase_env = \"VAR\"\n"
		    "# ssh_config = \"none\"                 # do not read "
		    "~/.ssh/config\n";
	if (strncmp(url, "https://", 8) == 0)
		return "# ca_file = \"ca.pem\"                  # default: the "
		    "system's\n"
		    "# token_env = \"LAKE_TOKEN\"             # a bearer token "
		    "from that variable\n";
	return "";
}

static const char *
strategy_tables(enum mig_strategy s)
{
	switch (s) {
	case MIG_STRATEGY_RETIRE:
		return "\n[retire]\n"
		    "delete_source = false  # true: delete each source file "
		    "after a deep verify\n";
	case MIG_STRATEGY_REFACTOR:
	case MIG_STRATEGY_REBUILD:
		return "\n[refactor]\n"
		    "# mtime:FORMAT (strftime) or a regex with one capture "
		    "group on the path\n"
		    "partition_by = \"mtime:%Y-%m-%d\"\n"
		    "partition_key = \"date\"\n";
	case MIG_STRATEGY_REPLATFORM:
		return "\n[compression]\n"
		    "zstd_level = 3         # 1 (fast) to 19 (small)\n";
	default:
		return "";
	}
}

static int
write_plan(FILE *fp, enum mig_strategy s, const char *name,
    const char *source, const char *to)
{
	const struct mig_strategy_info *si = mig_strategy_info(s);

	fprintf(fp, "%s"
	    "# Written by `migrate plan init %s`; migrate-plan(5) has every "
	    "key.\n"
	    "# Paths are relative to this file.  Before the first run:\n"
	    "#   migrate keygen -o keys/lake.key   # writes keys/lake.key.pub\n"
	    "#   migrate plan check THIS-FILE      # the preflight\n"
	    "version = 1\n"
	    "name = \"%s\"\n"
	    "strategy = \"%s\"\n"
	    "\n[source]\n"
	    "path = \"%s\"\n"
	    "# include = [\"*.csv\"]      # .gitignore rules: *.csv at any "
	    "depth, /x anchored\n"
	    "# exclude = [\"tmp/\"]\n"
	    "\n[destination]\n"
	    "url = \"%s\"\n"
	    "# dataset = \"%s\"           # default: name\n"
	    "# zone = \"%s\"\n%s"
	    "\n[encryption]\n"
	    "recipients_file = \"keys/lake.key.pub\"\n"
	    "# recipients = [\"age1...\"]\n"
	    "%s"
	    "\n[audit]\n"
	    "log = \"audit/%s.jsonl\"\n"
	    "# signing_key = \"keys/audit.pem\"  # migrate keygen --signing -o "
	    "keys/audit.pem\n",
	    what[s], si->name, name, si->name, source, to, name, si->zone,
	    destination_notes(to), strategy_tables(s), name);
	return fflush(fp) == 0 && !ferror(fp) ? 0 : -1;
}

/* The strategy from its name, with "did you mean" for a typo. */
static int
find_strategy(const char *word, enum mig_strategy *sp)
{
	const char *names[MIG_STRATEGY_COUNT], *hint;
	size_t i;

	for (i = 0; i < MIG_STRATEGY_COUNT; i++) {
		names[i] = mig_strategy_info((enum mig_strategy)i)->name;
		if (strcmp(word, names[i]) == 0) {
			*sp = (enum mig_strategy)i;
			return 0;
		}
	}
	if ((hint = mig_did_you_mean(word, names, MIG_STRATEGY_COUNT)) != NULL)
		return cmd_bad_usage(cmd_plan_usage, "plan init: unknown "
		    "strategy \"%s\" (did you mean \"%s\"?)", word, hint);
	return cmd_bad_usage(cmd_plan_usage, "plan init: unknown strategy "
	    "\"%s\" (one of retain, retire, rehost, replatform, refactor, "
	    "repurchase, rebuild)", word);
}

static int
emit(const char *out, enum mig_strategy s, const char *source,
    const char *to, struct mig_ctx *ctx)
{
	char name[80];
	FILE *fp = stdout;
	int fd, r;

	plan_name(out, mig_strategy_info(s)->name, name, sizeof(name));
	if (out != NULL) {
		fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0644);
		if (fd < 0 || (fp = fdopen(fd, "w")) == NULL) {
			r = mig_seterr(ctx, errno == EEXIST ? MIG_ERR_USAGE :
			    MIG_ERR_IO, "plan init: %s: %s%s", out,
			    strerror(errno), errno == EEXIST ? " (refusing to "
			    "overwrite it)" : "");
			if (fd >= 0)
				(void)close(fd);
			return cmd_fail(ctx, r);
		}
	}
	r = write_plan(fp, s, name, source, to);
	if (out != NULL && fclose(fp) != 0)
		r = -1;
	if (r != 0)
		return cmd_fail(ctx, mig_seterr(ctx, MIG_ERR_IO, "plan init: "
		    "%s: write error", out != NULL ? out : "stdout"));
	if (out != NULL)
		cmd_info("wrote %s; next: migrate plan check %s", out, out);
	return EXIT_OK;
}

/* Whether s can go between the quotes of a TOML basic string as it is. */
static bool
toml_safe(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '"' ||
		    *s == '\\')
			return false;
	return true;
}

/* Function name plan_init: the tests read "plan init" from it. */
static int
plan_init(int argc, char **argv, struct mig_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "source", required_argument, NULL, 's' },
		{ "to", required_argument, NULL, 't' },
		{ "output", required_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *source = "data", *to = "file://lake", *out = NULL;
	enum mig_strategy s = MIG_STRATEGY_REHOST;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, ":o:hvq", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			source = optarg;
			break;
		case 't':
			to = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'v':
		case 'q':
			cmd_set_verbosity(c);
			break;
		case 'h':
			return cmd_help_options(cmd_plan_usage,
			    cmd_plan_options);
		default:
			return cmd_bad_option(c, argv, longopts, cmd_plan_usage);
		}
	}
	if (optind != argc - 1)
		return cmd_bad_usage(cmd_plan_usage, "plan init: expected one "
		    "STRATEGY");
	if (!toml_safe(source) || !toml_safe(to))
		return cmd_bad_usage(cmd_plan_usage, "plan init: --source and "
		    "--to may not hold '\"', '\\' or control characters");
	if ((r = find_strategy(argv[optind], &s)) != 0)
		return r;
	return emit(out, s, source, to, ctx);
}

int
cmd_plan_init(int argc, char **argv, struct mig_ctx *ctx)
{
	return plan_init(argc, argv, ctx);
}
