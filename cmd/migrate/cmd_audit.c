/*
 * migrate audit show LOG [...]: review the audit trail.
 * migrate audit verify LOG [--key PUBKEY] [...]: check the chain and the
 * signatures.
 *
 * Whatever a log holds is shown escaped (a log is written by whoever
 * could write the file, and a terminal obeys escape sequences).
 */
#include <sys/ioctl.h>

#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "migrate/audit.h"
#include "migrate/error.h"
#include "migrate/plan.h"
#include "migrate/sign.h"
#include "migrate/util.h"

#include "cmd.h"

const char *const cmd_audit_usage[] = {
	"migrate audit show LOG|PLAN [--run ID] [--event GLOB] [--since T] "
	    "[--until T] [--wide] [--json]",
	"migrate audit verify LOG|PLAN [--key PUBKEY] [--allow-unsigned-tail] "
	    "[--json]",
	NULL
};

const char *const cmd_audit_options[] = {
	"Options of audit show:",
	"    --run ID     only this run (an id, a unique prefix or suffix)",
	"    --event GLOB only these events (object.*, run.start, ...)",
	"    --since T    records at or after T (YYYY-MM-DD[THH:MM[:SS]], UTC)",
	"    --until T    records before T",
	"    --wide       never cut a field (the default when stdout is no "
	    "terminal)",
	"    --json       stdout: the records as JSON Lines, as written",
	"Options of audit verify:",
	"-k, --key PUBKEY          check the signed checkpoints with this "
	    "key (PEM or ssh-ed25519)",
	"    --allow-unsigned-tail with --key: accept records after the last "
	    "signed checkpoint",
	"    --json                stdout: one JSON document, the report",
	NULL
};

/* Widths of the fixed columns of the table (wide: not cut). */
#define W_TIME		19
#define W_TIME_WIDE	26
#define W_RUN		MIG_AUDIT_RUN_SUFFIX
#define W_RUN_WIDE	25
#define W_EVENT		16
#define W_BYTES		7
#define W_OUTCOME	8
#define W_OBJECT_MIN	12

struct layout {
	bool	wide;		/* never cut a field */
	int	wtime;
	int	wrun;
	int	wobj;
};

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

/*
 * Code points shown escaped although they are valid text: the C1
 * controls (U+0080-U+009F; some terminals obey them as ESC sequences),
 * line separators, and the bidirectional controls, which make a
 * terminal show text in another order than it is written.
 */
static bool
unsafe_cp(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x061c ||
	    cp == 0x200e || cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
	    (cp >= 0x2066 && cp <= 0x2069);
}

/*
 * The next character of s as it may reach a terminal: itself when it is
 * harmless; C0 controls, DEL, a byte that starts no valid UTF-8 and the
 * backslash itself as \xNN or \\; unsafe_cp() ones as \uNNNN.  out gets
 * the text (NUL-terminated), *colsp its width.  Returns the bytes of s
 * it stands for (0 at the end of s).  s is a C string: its NUL ends any
 * UTF-8 sequence before the decoder reads past it.
 */
static size_t
esc_char(const char *s, char out[12], size_t *colsp)
{
	const unsigned char *u = (const unsigned char *)s;
	uint32_t cp;
	size_t n;

	out[0] = '\0';
	*colsp = 0;
	if (u[0] == '\0')
		return 0;
	if (u[0] < 0x80) {
		n = 1;
		if (u[0] < 0x20 || u[0] == 0x7f)
			(void)snprintf(out, 12, "\\x%02x", u[0]);
		else if (u[0] == '\\')
			(void)snprintf(out, 12, "\\\\");
		else
			(void)snprintf(out, 12, "%c", u[0]);
	} else if ((n = mig_utf8_decode(u, SIZE_MAX, &cp)) == 0) {
		n = 1;
		(void)snprintf(out, 12, "\\x%02x", u[0]);
	} else if (unsafe_cp(cp))
		(void)snprintf(out, 12, "\\u%04lx", (unsigned long)cp);
	else {
		memcpy(out, s, n);
		out[n] = '\0';
		*colsp = 1;
		return n;
	}
	*colsp = strlen(out);
	return n;
}

/* Columns s takes once escaped (one per character; wide ones count 1). */
static size_t
esc_width(const char *s)
{
	char tok[12];
	size_t n, cols, w = 0;

	while ((n = esc_char(s, tok, &cols)) > 0) {
		w += cols;
		s += n;
	}
	return w;
}

/*
 * Prints s escaped, leaving out the characters that start before column
 * from and stopping before column from + max; returns the columns shown.
 */
static size_t
put_esc(const char *s, size_t from, size_t max)
{
	char tok[12];
	size_t n, cols, pos = 0, shown = 0;

	while ((n = esc_char(s, tok, &cols)) > 0) {
		s += n;
		if (pos < from) {
			pos += cols;
			continue;
		}
		if (shown + cols > max)
			break;
		fputs(tok, stdout);
		pos += cols;
		shown += cols;
	}
	return shown;
}

/*
 * Prints s escaped in at least w columns.  Unless wide, a longer s is
 * cut to w columns with "...", keeping its tail when left_trunc.
 */
static void
put_col(const char *s, int w, bool left_trunc, bool wide)
{
	size_t n = esc_width(s), shown, want = w > 0 ? (size_t)w : 0;

	if (wide || n <= want || want <= 3)
		shown = put_esc(s, 0, SIZE_MAX);
	else if (left_trunc) {
		fputs("...", stdout);
		shown = 3 + put_esc(s, n - (want - 3), SIZE_MAX);
	} else {
		shown = put_esc(s, 0, want - 3) + 3;
		fputs("...", stdout);
	}
	for (; shown < want; shown++)
		putchar(' ');
}

/*
 * Copies a JSON line to stdout as written, except that the characters
 * unsafe_cp() names (and DEL) become \u escapes: the same JSON value,
 * which a terminal cannot act on.  They can only occur inside strings
 * (the line passed the scanner), where \u escapes are valid.
 */
static void
put_json_line(const char *raw, size_t len)
{
	const unsigned char *u = (const unsigned char *)raw;
	uint32_t cp;
	size_t i = 0, n, from = 0;

	while (i < len) {
		if (u[i] < 0x80 && u[i] != 0x7f) {
			i++;
			continue;
		}
		n = 1;
		cp = u[i];
		if (u[i] != 0x7f &&
		    (n = mig_utf8_decode(u + i, len - i, &cp)) == 0) {
			/* Not UTF-8: the scanner lets no such line by. */
			n = 1;
			cp = 0;
		}
		if (cp == 0x7f || unsafe_cp(cp)) {
			fwrite(raw + from, 1, i - from, stdout);
			printf("\\u%04lx", (unsigned long)cp);
			from = i + n;
		}
		i += n;
	}
	fwrite(raw + from, 1, len - from, stdout);
	putchar('\n');
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
print_row(const struct mig_audit_rec *r, const struct layout *lo)
{
	char t[W_TIME_WIDE + 1], b[16], head[80];
	const char *obj, *outcome, *dot;

	/* ts is YYYY-MM-DDTHH:MM:SS.uuuuuuZ (audit_rec_check). */
	memcpy(t, r->ts, (size_t)lo->wtime);
	t[lo->wtime] = '\0';
	t[10] = ' ';
	obj = r->object != NULL ? r->object : r->reason != NULL ? r->reason :
	    "";
	if (r->object == NULL && r->head != NULL) {
		(void)snprintf(head, sizeof(head), "head %.*s",
		    lo->wide ? 64 : 12, r->head);
		obj = head;
	}
	outcome = r->outcome;
	if (outcome == NULL) {
		dot = strrchr(r->event, '.');
		outcome = dot != NULL ? dot + 1 : "-";
	}
	human_bytes(r->bytes, b, sizeof(b));
	printf("%s ", t);
	put_col(lo->wide ? r->run : short_run(r->run), lo->wrun, true,
	    lo->wide);
	putchar(' ');
	put_col(r->event, W_EVENT, false, lo->wide);
	putchar(' ');
	put_col(obj, lo->wobj, true, lo->wide);
	printf(" %*s ", W_BYTES, b);
	put_col(outcome, W_OUTCOME, false, lo->wide);
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
		fputs("run ", stdout);
		(void)put_esc(runs[i].run, 0, SIZE_MAX);
		printf(": %" PRIu64 " files, %s, %" PRIu64 " failures, %"
		    PRIu64 " skipped, %.1fs%s\n", runs[i].files, b,
		    runs[i].failures, runs[i].skipped, runs[i].duration,
		    runs[i].ended ? "" : " (no run.end)");
	}
}

struct show_args {
	struct mig_audit_filter	f;
	char			since[MIG_AUDIT_TSLEN + 1];
	char			until[MIG_AUDIT_TSLEN + 1];
	bool			json;
	bool			wide;
};

/*
 * Fields are cut to fit only on a terminal without --wide: a table that
 * goes to a file or a pipe is a record, and shows every field whole.
 */
static void
show_layout(bool wide, struct layout *lo)
{
	lo->wide = wide || !isatty(STDOUT_FILENO);
	lo->wtime = lo->wide ? W_TIME_WIDE : W_TIME;
	lo->wrun = lo->wide ? W_RUN_WIDE : W_RUN;
	lo->wobj = term_width() - (lo->wtime + lo->wrun + W_EVENT + W_BYTES +
	    W_OUTCOME + 5);
	if (lo->wobj < W_OBJECT_MIN)
		lo->wobj = W_OBJECT_MIN;
	printf("%-*s %-*s %-*s %-*s %*s %s\n", lo->wtime, "TIME", lo->wrun,
	    "RUN", W_EVENT, "EVENT", lo->wobj, "OBJECT", W_BYTES, "BYTES",
	    "OUTCOME");
}

static int
show_log(const char *log, const struct show_args *a, struct mig_ctx *ctx)
{
	struct layout lo = { 0 };
	struct mig_audit_iter *it = NULL;
	const struct mig_audit_rec *r;
	const struct mig_audit_runsum *runs;
	uint64_t bad = 0;
	size_t nruns;
	int rc;

	if ((rc = mig_audit_iter_open(log, &a->f, ctx, &it)) != 0)
		return cmd_fail(ctx, rc);
	if (!a->json)
		show_layout(a->wide, &lo);
	while ((rc = mig_audit_iter_next(it, &r, ctx)) == 1) {
		if (!r->valid) {
			if (bad++ < 10)
				cmd_warn("%s:%" PRIu64 ": not an audit record "
				    "(run migrate audit verify)", log,
				    r->line);
			continue;
		}
		if (a->json)
			put_json_line(r->raw, r->rawlen);
		else
			print_row(r, &lo);
	}
	if (rc < 0) {
		rc = cmd_fail(ctx, rc);
		goto out_free;
	}
	if (!a->json)
		print_runs(it);
	if (bad > 10)
		cmd_warn("%s: %" PRIu64 " lines are not audit records", log,
		    bad);
	mig_audit_iter_runs(it, &runs, &nruns);
	if (a->f.run != NULL && nruns > 1)
		cmd_warn("--run %s matches %zu runs (shown together); give "
		    "the full run id", a->f.run, nruns);
	rc = EXIT_OK;
out_free:
	mig_audit_iter_free(it);
	return rc;
}

/*
 * The log to read: LOG itself, or the audit.log of the plan when the
 * argument is a plan (PLAN.toml), which users give as they give it to
 * every other command; reading the plan as a log would only say that
 * its line 1 is no audit record.  *logp is the caller's to free.
 */
static int
audit_log_of(const char *arg, char **logp, struct mig_ctx *ctx)
{
	struct mig_plan *plan = NULL;
	size_t n = strlen(arg);
	int r;

	*logp = NULL;
	if (n > 5 && strcmp(arg + n - 5, ".toml") == 0) {
		if ((r = cmd_load_plan(arg, ctx, &plan)) != 0)
			return cmd_fail(ctx, r);
		*logp = strdup(plan->audit_log);
		mig_plan_free(plan);
	} else
		*logp = strdup(arg);
	if (*logp == NULL) {
		(void)mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		return cmd_fail(ctx, MIG_ERR_NOMEM);
	}
	return EXIT_OK;
}

static int
audit_show(int argc, char **argv, struct mig_ctx *ctx)
{
	static const struct option opts[] = {
		{ "run", required_argument, NULL, 'r' },
		{ "event", required_argument, NULL, 'e' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "wide", no_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct show_args a;
	char *log = NULL;
	int c, status;

	memset(&a, 0, sizeof(a));
	optind = 1;
	while ((c = getopt_long(argc, argv, ":hvq", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			a.f.run = optarg;
			break;
		case 'e':
			a.f.event = optarg;
			break;
		case 's':
		case 'u':
			if (mig_audit_time_parse(optarg, c == 's' ? a.since :
			    a.until, ctx) != 0)
				return cmd_bad_usage(cmd_audit_usage, "%s",
				    mig_errmsg(ctx));
			if (c == 's')
				a.f.since = a.since;
			else
				a.f.until = a.until;
			break;
		case 'w':
			a.wide = true;
			break;
		case 'j':
			a.json = true;
			break;
		case 'v':
		case 'q':
			cmd_set_verbosity(c);
			break;
		case 'h':
			return cmd_help_options(cmd_audit_usage,
			    cmd_audit_options);
		default:
			return cmd_bad_option(c, argv, opts, cmd_audit_usage);
		}
	}
	if (argc - optind != 1)
		return cmd_bad_usage(cmd_audit_usage, "audit show: one LOG "
		    "(or PLAN) is needed");
	if ((status = audit_log_of(argv[optind], &log, ctx)) != EXIT_OK)
		return status;
	status = show_log(log, &a, ctx);
	free(log);
	return status;
}

/* The first line of the report: the chain, and where the check failed. */
static void
print_chain(const char *log, const struct mig_audit_report *rep,
    bool keyed, int rc)
{
	uint64_t covered;

	if (rc == 0) {
		printf("%s: intact: %" PRIu64 " records on %" PRIu64 " lines, "
		    "last seq %" PRIu64 "%s\n", log, rep->records, rep->lines,
		    rep->last_seq, !keyed && rep->sig_members > 0 ?
		    " (hash chain only: signatures NOT checked against a key)" :
		    "");
		return;
	}
	if (rep->bad_kind == MIG_AUDIT_BAD_UNSIGNED) {
		printf("%s: NOT COVERED BY A SIGNATURE from line %" PRIu64
		    " (seq %" PRIu64 "): %s\n", log, rep->bad_line,
		    rep->bad_seq, rep->reason);
		printf("%s: lines 1-%" PRIu64 " (%" PRIu64 " records, last "
		    "seq %" PRIu64 ") chain correctly\n", log, rep->lines,
		    rep->records, rep->last_seq);
		if (rep->tail_line == rep->bad_line && rep->sigs_verified > 0)
			printf("(an interrupted run leaves such a tail until "
			    "the next run's checkpoint; --allow-unsigned-tail "
			    "accepts it and counts it)\n");
		return;
	}
	printf("%s: BROKEN at line %" PRIu64 ": %s\n", log, rep->bad_line,
	    rep->reason);
	covered = rep->bad_line > 0 ? rep->bad_line - 1 : 0;
	printf("%s: lines 1-%" PRIu64 " (%" PRIu64 " records, last seq %"
	    PRIu64 ") chain correctly\n", log, covered, rep->records,
	    rep->last_seq);
}

/*
 * What the signatures say.  A log is hash-only only when no line of it
 * carries a sig (rep->sig_members counts past a failure too).
 */
static void
print_sigs(const struct mig_audit_report *rep, bool keyed, int rc)
{
	if (rc != 0 && rep->bad_kind == MIG_AUDIT_BAD_SIGNATURE)
		printf("signatures: FAILED at the checkpoint on line %" PRIu64
		    " (seq %" PRIu64 "): %s\n", rep->bad_line, rep->bad_seq,
		    rep->reason);
	else if (rep->sig_members == 0)
		printf("signatures: none (hash-only checkpoints)\n");
	else if (!keyed)
		printf("signatures: %" PRIu64 " signed checkpoints by key %s "
		    "NOT checked (give --key PUBKEY)\n", rep->sig_members,
		    rep->key_fp);
	else if (rc != 0 && rep->bad_kind == MIG_AUDIT_BAD_UNSIGNED)
		printf("signatures: %" PRIu64 " of %" PRIu64 " checkpoints "
		    "signed and valid (key %s), %" PRIu64 " unsigned: the "
		    "records from line %" PRIu64 " on are not all covered\n",
		    rep->sigs_verified, rep->checkpoints, rep->key_fp,
		    rep->unsigned_checkpoints, rep->bad_line);
	else if (rc != 0 && rep->bad_kind == MIG_AUDIT_BAD_CHAIN)
		printf("signatures: the log has %" PRIu64 " signed checkpoints "
		    "(key %s); %" PRIu64 " checked and valid before line %"
		    PRIu64 ", where the check stopped\n", rep->sig_members,
		    rep->key_fp, rep->sigs_verified, rep->bad_line);
	else
		printf("signatures: %" PRIu64 " of %" PRIu64 " checkpoints "
		    "signed and valid (key %s); lines 1-%" PRIu64 " of %"
		    PRIu64 " (%.2f%%) are covered by a valid signature\n",
		    rep->sigs_verified, rep->checkpoints, rep->key_fp,
		    rep->signed_line, rep->lines, rep->lines == 0 ? 100.0 :
		    100.0 * (double)rep->signed_line / (double)rep->lines);
	if (keyed && rep->unsigned_checkpoints > 0 && rc == 0)
		printf("unsigned checkpoints: %" PRIu64 " (before the first "
		    "signed one, which covers them, or in the unsigned tail)\n",
		    rep->unsigned_checkpoints);
	if (keyed && rc == 0 && rep->tail_records > 0)
		printf("unsigned tail: %" PRIu64 " records after the last "
		    "signed checkpoint, from line %" PRIu64 " (seq %" PRIu64
		    "), covered by no signature (accepted: "
		    "--allow-unsigned-tail)\n", rep->tail_records,
		    rep->tail_line, rep->tail_seq);
}

static void
print_report(const char *log, const struct mig_audit_report *rep,
    bool keyed, int rc)
{
	print_chain(log, rep, keyed, rc);
	if (rep->checkpoints == 0)
		printf("checkpoints: none\n");
	else
		printf("checkpoints: %" PRIu64 ", the last on line %" PRIu64
		    " (seq %" PRIu64 "); %" PRIu64 " records after it\n",
		    rep->checkpoints, rep->checkpoint_line,
		    rep->checkpoint_seq, rep->last_seq - rep->checkpoint_seq);
	print_sigs(rep, keyed, rc);
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

static const char *
bad_kind_name(enum mig_audit_bad kind)
{
	switch (kind) {
	case MIG_AUDIT_BAD_CHAIN:
		return "chain";
	case MIG_AUDIT_BAD_SIGNATURE:
		return "signature";
	case MIG_AUDIT_BAD_UNSIGNED:
		return "unsigned";
	case MIG_AUDIT_BAD_NONE:
		break;
	}
	return "none";
}

/* The parts of the JSON report that may be null. */
static void
json_parts(const struct mig_audit_report *rep, bool keyed, int rc,
    json_t *o)
{
	json_t *v;

	v = rep->checkpoints == 0 ? json_null() : json_pack("{s:I, s:I, s:s}",
	    "line", (json_int_t)rep->checkpoint_line, "seq",
	    (json_int_t)rep->checkpoint_seq, "head", rep->checkpoint_head);
	json_object_set_new(o, "last_checkpoint", v);
	v = !keyed || rep->tail_records == 0 ? json_null() :
	    json_pack("{s:I, s:I, s:I, s:b}", "records",
	    (json_int_t)rep->tail_records, "line",
	    (json_int_t)rep->tail_line, "seq", (json_int_t)rep->tail_seq,
	    "accepted", rc == 0);
	json_object_set_new(o, "unsigned_tail", v);
	v = rep->torn == 0 ? json_null() : json_pack("{s:I, s:I, s:I, s:I}",
	    "regions", (json_int_t)rep->torn, "line",
	    (json_int_t)rep->torn_line, "offset",
	    (json_int_t)rep->torn_offset, "length",
	    (json_int_t)rep->torn_length);
	json_object_set_new(o, "torn", v);
	v = rc == 0 ? json_null() : json_pack("{s:s, s:I, s:I, s:o, s:I, "
	    "s:s}", "kind", bad_kind_name(rep->bad_kind), "line",
	    (json_int_t)rep->bad_line, "offset", (json_int_t)rep->bad_offset,
	    "seq", rep->bad_seq != 0 ? json_integer((json_int_t)rep->bad_seq) :
	    json_null(), "expected_seq", (json_int_t)rep->expected_seq,
	    "reason", rep->reason);
	json_object_set_new(o, "failure", v);
}

static int
print_json(const char *log, const struct mig_audit_report *rep, bool keyed,
    int rc)
{
	json_t *o;
	int r;

	o = json_pack("{s:s, s:s, s:b, s:s?, s:I, s:I, s:I, s:s?, s:I, s:I, "
	    "s:I, s:I, s:I}", "log", log, "result", rc == 0 ? "intact" :
	    "failed", "key_checked", keyed, "key", rep->key_fp[0] != '\0' ?
	    rep->key_fp : NULL, "lines", (json_int_t)rep->lines, "records",
	    (json_int_t)rep->records, "last_seq", (json_int_t)rep->last_seq,
	    "head", rc == 0 ? rep->head : NULL, "checkpoints",
	    (json_int_t)rep->checkpoints, "signed_checkpoints",
	    (json_int_t)rep->sig_members, "signatures_verified",
	    (json_int_t)rep->sigs_verified, "unsigned_checkpoints",
	    (json_int_t)rep->unsigned_checkpoints, "signed_lines",
	    (json_int_t)rep->signed_line);
	if (o == NULL)
		return -1;
	json_parts(rep, keyed, rc, o);
	r = json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	putchar('\n');
	json_decref(o);
	return r;
}

static int
audit_verify(int argc, char **argv, struct mig_ctx *ctx)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "allow-unsigned-tail", no_argument, NULL, 'T' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct mig_audit_report rep;
	struct mig_sign_key *pub = NULL;
	const char *keypath = NULL;
	char *log = NULL;
	unsigned int flags = 0;
	bool json = false;
	int c, rc, status;

	optind = 1;
	while ((c = getopt_long(argc, argv, ":k:hvq", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			keypath = optarg;
			break;
		case 'T':
			flags |= MIG_AUDIT_ALLOW_UNSIGNED_TAIL;
			break;
		case 'j':
			json = true;
			break;
		case 'v':
		case 'q':
			cmd_set_verbosity(c);
			break;
		case 'h':
			return cmd_help_options(cmd_audit_usage,
			    cmd_audit_options);
		default:
			return cmd_bad_option(c, argv, opts, cmd_audit_usage);
		}
	}
	if (argc - optind != 1)
		return cmd_bad_usage(cmd_audit_usage, "audit verify: one LOG "
		    "(or PLAN) is needed");
	if (flags != 0 && keypath == NULL)
		return cmd_bad_usage(cmd_audit_usage, "audit verify: "
		    "--allow-unsigned-tail needs --key (without a key no "
		    "signature is checked)");
	/* A --key that is no Ed25519 public key is not a tampered log. */
	if (keypath != NULL &&
	    (rc = mig_sign_pubkey_load(keypath, ctx, &pub)) != 0)
		return cmd_fail(ctx, rc == MIG_ERR_FORMAT ? MIG_ERR_USAGE : rc);
	if ((status = audit_log_of(argv[optind], &log, ctx)) != EXIT_OK) {
		mig_sign_key_free(pub);
		return status;
	}
	rc = mig_audit_verify(log, pub, flags, &rep, ctx);
	status = rc == 0 ? EXIT_OK : cmd_fail(ctx, rc);
	if (rc == 0 || rc == MIG_ERR_VERIFY) {
		if (!json)
			print_report(log, &rep, pub != NULL, rc);
		else if (print_json(log, &rep, pub != NULL, rc) != 0)
			status = EXIT_RUNTIME;
	}
	mig_sign_key_free(pub);
	free(log);
	return status;
}

int
cmd_audit(int argc, char **argv, struct mig_ctx *ctx)
{
	static const char *const subs[] = { "show", "verify" };

	if (argc < 2)
		return cmd_bad_usage(cmd_audit_usage, "audit: show or verify?");
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		return cmd_help_options(cmd_audit_usage, cmd_audit_options);
	if (strcmp(argv[1], "show") == 0)
		return audit_show(argc - 1, argv + 1, ctx);
	if (strcmp(argv[1], "verify") == 0)
		return audit_verify(argc - 1, argv + 1, ctx);
	if (mig_did_you_mean(argv[1], subs, 2) != NULL)
		return cmd_bad_usage(cmd_audit_usage, "audit: unknown subcommand "
		    "\"%s\" (did you mean \"%s\"?)", argv[1],
		    mig_did_you_mean(argv[1], subs, 2));
	return cmd_bad_usage(cmd_audit_usage, "audit: unknown subcommand "
	    "\"%s\"", argv[1]);
}
