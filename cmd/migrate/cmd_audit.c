/*
 * migrate audit show LOG [...]: review the audit trail.
 * migrate audit verify LOG [--key PUBKEY]: check the chain and signatures.
 */
#include <sys/ioctl.h>

#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "migrate/audit.h"
#include "migrate/error.h"
#include "migrate/sign.h"

#include "cmd.h"

const char *const cmd_audit_usage[] = {
	"migrate audit show LOG [--run ID] [--event GLOB] [--since T] "
	    "[--until T] [--json]",
	"migrate audit verify LOG [--key PUBKEY]",
	NULL
};

/* Widths of the fixed columns of the table. */
#define W_TIME		19
#define W_RUN		8
#define W_EVENT		16
#define W_BYTES		7
#define W_OUTCOME	8
#define W_OBJECT_MIN	12

static int
term_width(void)
{
	struct winsize ws;
	const char *c;
	int n;

	if (isatty(STDOUT_FILENO) &&
	    ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	c = getenv("COLUMNS");
	if (c != NULL && (n = atoi(c)) > 0)
		return n;
	return 80;
}

/* Copies s for a terminal: control characters become '?'. */
static void
sanitize(const char *s, char *out, size_t cap)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < cap; i++)
		out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' :
		    s[i];
	out[i] = '\0';
}

/* Prints s in exactly w columns, keeping its tail when too long. */
static void
put_col(const char *s, int w, bool left_trunc)
{
	char buf[512];
	size_t n;

	sanitize(s, buf, sizeof(buf));
	n = strlen(buf);
	if ((int)n > w && w > 3) {
		if (left_trunc)
			printf("...%s", buf + n - (size_t)(w - 3));
		else
			printf("%.*s...", w - 3, buf);
	} else
		printf("%-*s", w, buf);
}

static void
human_bytes(int64_t b, char *out, size_t cap)
{
	static const char units[] = "KMGTPE";
	double v = (double)b;
	int u = -1;

	if (b < 0) {
		(void)snprintf(out, cap, "-");
		return;
	}
	if (b < 1024) {
		(void)snprintf(out, cap, "%" PRId64 "B", b);
		return;
	}
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	(void)snprintf(out, cap, v < 10 ? "%.1f%c" : "%.0f%c", v, units[u]);
}

static const char *
short_run(const char *run)
{
	size_t n = strlen(run);

	return n > W_RUN ? run + n - W_RUN : run;
}

static void
print_row(const struct mig_audit_rec *r, int wobj)
{
	char t[W_TIME + 1], b[16], head[32];
	const char *obj, *outcome, *dot;

	memcpy(t, r->ts, W_TIME);
	t[W_TIME] = '\0';
	t[10] = ' ';
	obj = r->object != NULL ? r->object : r->reason != NULL ? r->reason :
	    "";
	if (r->object == NULL && r->head != NULL) {
		(void)snprintf(head, sizeof(head), "head %.12s", r->head);
		obj = head;
	}
	outcome = r->outcome;
	if (outcome == NULL) {
		dot = strrchr(r->event, '.');
		outcome = dot != NULL ? dot + 1 : "-";
	}
	human_bytes(r->bytes, b, sizeof(b));
	printf("%s ", t);
	put_col(short_run(r->run), W_RUN, true);
	putchar(' ');
	put_col(r->event, W_EVENT, false);
	putchar(' ');
	put_col(obj, wobj, true);
	printf(" %*s ", W_BYTES, b);
	put_col(outcome, W_OUTCOME, false);
	putchar('\n');
}

static void
print_runs(const struct mig_audit_iter *it)
{
	const struct mig_audit_runsum *runs;
	size_t n, i;
	char b[16];

	mig_audit_iter_runs(it, &runs, &n);
	if (n > 0)
		putchar('\n');
	for (i = 0; i < n; i++) {
		human_bytes((int64_t)runs[i].bytes, b, sizeof(b));
		printf("run %s: %" PRIu64 " files, %s, %" PRIu64
		    " failures, %" PRIu64 " skipped, %.1fs%s\n", runs[i].run,
		    runs[i].files, b, runs[i].failures, runs[i].skipped,
		    runs[i].duration, runs[i].ended ? "" : " (no run.end)");
	}
}

static int
audit_show(int argc, char **argv, struct mig_ctx *ctx)
{
	static const struct option opts[] = {
		{ "run", required_argument, NULL, 'r' },
		{ "event", required_argument, NULL, 'e' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct mig_audit_filter f;
	struct mig_audit_iter *it = NULL;
	const struct mig_audit_rec *r;
	char since[MIG_AUDIT_TSLEN + 1], until[MIG_AUDIT_TSLEN + 1];
	bool json = false;
	uint64_t bad = 0;
	int c, rc, wobj;

	memset(&f, 0, sizeof(f));
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			f.run = optarg;
			break;
		case 'e':
			f.event = optarg;
			break;
		case 's':
			if ((rc = mig_audit_time_parse(optarg, since,
			    ctx)) != 0)
				return cmd_bad_usage(cmd_audit_usage, "%s",
				    mig_errmsg(ctx));
			f.since = since;
			break;
		case 'u':
			if ((rc = mig_audit_time_parse(optarg, until,
			    ctx)) != 0)
				return cmd_bad_usage(cmd_audit_usage, "%s",
				    mig_errmsg(ctx));
			f.until = until;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			return cmd_help(cmd_audit_usage);
		default:
			return cmd_bad_usage(cmd_audit_usage, NULL);
		}
	}
	if (argc - optind != 1)
		return cmd_bad_usage(cmd_audit_usage, "audit show: one LOG "
		    "is needed");
	if ((rc = mig_audit_iter_open(argv[optind], &f, ctx, &it)) != 0)
		return cmd_fail(ctx, rc);
	wobj = term_width() - (W_TIME + W_RUN + W_EVENT + W_BYTES +
	    W_OUTCOME + 5);
	if (wobj < W_OBJECT_MIN)
		wobj = W_OBJECT_MIN;
	if (!json)
		printf("%-*s %-*s %-*s %-*s %*s %s\n", W_TIME, "TIME", W_RUN,
		    "RUN", W_EVENT, "EVENT", wobj, "OBJECT", W_BYTES, "BYTES",
		    "OUTCOME");
	while ((rc = mig_audit_iter_next(it, &r, ctx)) == 1) {
		if (!r->valid) {
			if (bad++ < 10)
				cmd_warn("%s:%" PRIu64 ": not an audit record "
				    "(run migrate audit verify)", argv[optind],
				    r->line);
			continue;
		}
		if (json) {
			fwrite(r->raw, 1, r->rawlen, stdout);
			putchar('\n');
		} else
			print_row(r, wobj);
	}
	if (rc < 0) {
		rc = cmd_fail(ctx, rc);
		goto out_free;
	}
	if (!json)
		print_runs(it);
	if (bad > 10)
		cmd_warn("%s: %" PRIu64 " lines are not audit records",
		    argv[optind], bad);
	rc = EXIT_OK;
out_free:
	mig_audit_iter_free(it);
	return rc;
}

static void
print_report(const char *log, const struct mig_audit_report *rep,
    bool keyed, int rc)
{
	uint64_t covered = rep->lines;

	if (rc == 0)
		printf("%s: intact: %" PRIu64 " records on %" PRIu64
		    " lines, last seq %" PRIu64 "\n", log, rep->records,
		    rep->lines, rep->last_seq);
	else {
		printf("%s: BROKEN at line %" PRIu64 ": %s\n", log,
		    rep->bad_line, rep->reason);
		covered = rep->bad_line > 0 ? rep->bad_line - 1 : 0;
		printf("%s: lines 1-%" PRIu64 " (%" PRIu64 " records, last "
		    "seq %" PRIu64 ") chain correctly\n", log, covered,
		    rep->records, rep->last_seq);
	}
	if (rep->checkpoints == 0)
		printf("checkpoints: none\n");
	else
		printf("checkpoints: %" PRIu64 ", the last on line %" PRIu64
		    " (seq %" PRIu64 "); %" PRIu64 " records after it\n",
		    rep->checkpoints, rep->checkpoint_line,
		    rep->checkpoint_seq, rep->last_seq - rep->checkpoint_seq);
	if (rep->signed_checkpoints == 0)
		printf("signatures: none (hash-only checkpoints)\n");
	else if (!keyed)
		printf("signatures: %" PRIu64 " signed checkpoints by key %s "
		    "NOT checked (give --key PUBKEY)\n",
		    rep->signed_checkpoints, rep->key_fp);
	else
		printf("signatures: %" PRIu64 " of %" PRIu64 " checkpoints "
		    "signed and valid (key %s); lines 1-%" PRIu64 " of %"
		    PRIu64 " (%.2f%%) are covered by a valid signature\n",
		    rep->sigs_verified, rep->checkpoints, rep->key_fp,
		    rep->signed_line, rep->lines, rep->lines == 0 ? 100.0 :
		    100.0 * (double)rep->signed_line / (double)rep->lines);
	if (rep->torn > 0)
		printf("torn: %" PRIu64 " torn region(s) recorded by "
		    "audit.torn; the first: line %" PRIu64 ", offset %"
		    PRIu64 ", %" PRIu64 " bytes (an interrupted append, not "
		    "part of the chain)\n", rep->torn, rep->torn_line,
		    rep->torn_offset, rep->torn_length);
	if (rep->checkpoints > 0)
		printf("checkpoint head: %s\n", rep->checkpoint_head);
	if (rc == 0)
		printf("last line hash: %s\n", rep->head);
}

static int
audit_verify(int argc, char **argv, struct mig_ctx *ctx)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct mig_audit_report rep;
	struct mig_sign_key *pub = NULL;
	const char *keypath = NULL;
	int c, rc, status;

	optind = 1;
	while ((c = getopt_long(argc, argv, "k:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			keypath = optarg;
			break;
		case 'h':
			return cmd_help(cmd_audit_usage);
		default:
			return cmd_bad_usage(cmd_audit_usage, NULL);
		}
	}
	if (argc - optind != 1)
		return cmd_bad_usage(cmd_audit_usage, "audit verify: one LOG "
		    "is needed");
	if (keypath != NULL &&
	    (rc = mig_sign_pubkey_load(keypath, ctx, &pub)) != 0)
		return cmd_fail(ctx, rc);
	rc = mig_audit_verify(argv[optind], pub, &rep, ctx);
	if (rc == 0 || rc == MIG_ERR_VERIFY)
		print_report(argv[optind], &rep, pub != NULL, rc);
	status = rc == 0 ? EXIT_OK : cmd_fail(ctx, rc);
	mig_sign_key_free(pub);
	return status;
}

int
cmd_audit(int argc, char **argv, struct mig_ctx *ctx)
{
	if (argc < 2)
		return cmd_bad_usage(cmd_audit_usage, "audit: show or verify?");
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		return cmd_help(cmd_audit_usage);
	if (strcmp(argv[1], "show") == 0)
		return audit_show(argc - 1, argv + 1, ctx);
	if (strcmp(argv[1], "verify") == 0)
		return audit_verify(argc - 1, argv + 1, ctx);
	return cmd_bad_usage(cmd_audit_usage, "audit: unknown subcommand "
	    "\"%s\"", argv[1]);
}
