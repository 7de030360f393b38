/*
 * migrate run PLAN: execute a plan into its destination.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "migrate/age.h"
#include "migrate/audit.h"
#include "migrate/error.h"
#include "migrate/plan.h"
#include "migrate/run.h"
#include "migrate/sign.h"
#include "migrate/transport.h"
#include "migrate/util.h"

#include "cmd.h"

const char *const cmd_run_usage[] = {
	"migrate run PLAN [--dry-run] [--jobs N] [--bwlimit RATE] [--full]",
	"            [--new-run] [--shard K/N --run-id ID] [--no-progress]",
	"            [--json] [-i IDENTITY]",
	NULL
};

const char *const cmd_run_options[] = {
	"-n, --dry-run        list what would land, with the totals; write "
	    "nothing",
	"-j, --jobs N         files landed at once (1-64; default: one per "
	    "CPU)",
	"    --bwlimit RATE   bytes per second, all jobs together (512K, 10M, "
	    "1G, off)",
	"    --full           land unchanged files too, not only new and "
	    "changed ones",
	"    --new-run        abandon an unfinished run instead of resuming it",
	"    --shard K/N      land only shard K of N (0 <= K < N); with "
	    "--run-id",
	"    --run-id ID      the run id that every shard of one run shares",
	"    --no-progress    no progress bar on stderr",
	"    --json           stdout: one JSON document, the summary",
	"-i, --identity FILE  retire with delete_source: the identity for the "
	    "deep verify",
	NULL
};

struct run_ui {
	bool		 json;
	bool		 progress;
	bool		 dry_run;
	json_t		*would_land;	/* --dry-run --json: the list */
	uint64_t	 would_files;	/* --dry-run: what would land */
	uint64_t	 would_bytes;
	uint64_t	 would_new;	/* of them, not in the last run */
	struct mig_run_last *last;	/* --dry-run: the last run, or NULL */
	struct timespec	 t0;
	pthread_mutex_t	 mu;
	bool		 bar_shown;
};

static double
elapsed(const struct run_ui *ui)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - ui->t0.tv_sec) +
	    (double)(now.tv_nsec - ui->t0.tv_nsec) / 1e9;
}

static void
on_progress(void *arg, const struct mig_run_progress *pr)
{
	struct run_ui *ui = arg;

	if (!ui->progress)
		return;
	pthread_mutex_lock(&ui->mu);
	cmd_progress_line(pr, elapsed(ui));
	ui->bar_shown = true;
	pthread_mutex_unlock(&ui->mu);
}

static void
on_note(void *arg, const char *msg)
{
	struct run_ui *ui = arg;

	if (cmd_verbosity < 0)
		return;
	pthread_mutex_lock(&ui->mu);
	if (ui->bar_shown) {
		cmd_progress_done();
		ui->bar_shown = false;
	}
	fprintf(stderr, "migrate: %s\n", msg);
	pthread_mutex_unlock(&ui->mu);
}

static void
on_would_land(void *arg, const char *src, const char *dst, uint64_t size)
{
	struct run_ui *ui = arg;
	char b[32];

	ui->would_files++;
	ui->would_bytes += size;
	if (!mig_run_last_has(ui->last, src))
		ui->would_new++;
	/* One document on stdout: the list goes inside the summary. */
	if (ui->json)
		json_array_append_new(ui->would_land, json_pack("{s:s, s:s, "
		    "s:I}", "source", src, "destination", dst, "bytes",
		    (json_int_t)size));
	else
		printf("would land %s -> %s (%s)\n", src, dst,
		    cmd_bytes(size, b, sizeof(b)));
}

static const char *
outcome(int r, const struct mig_run_summary *s, bool dry)
{
	if (dry)
		return "dry-run";
	if (r == MIG_ERR_PARTIAL)
		return "partial";
	if (r != 0)
		return "failed";
	if (s->already_complete)
		return "already-complete";
	return s->landed ? "complete" : "nothing-new";
}

/* --dry-run: what the filters selected and what would land of it. */
static void
print_dry_totals(const struct mig_plan *p, int r,
    const struct mig_run_summary *s, const struct run_ui *ui)
{
	char b[32];

	if (r != 0)
		return;
	printf("dry run: %llu file%s selected, %llu would land (%s)",
	    (unsigned long long)s->files, s->files == 1 ? "" : "s",
	    (unsigned long long)ui->would_files,
	    cmd_bytes(ui->would_bytes, b, sizeof(b)));
	if (ui->last != NULL)
		printf(": %llu new, %llu changed, %llu unchanged since the "
		    "last run", (unsigned long long)ui->would_new,
		    (unsigned long long)(ui->would_files - ui->would_new),
		    (unsigned long long)(s->files - ui->would_files));
	else
		printf(" (no earlier run: all new)");
	printf("; nothing written\n");
	if (s->files == 0)
		printf("  no file is selected: see include/exclude in %s and "
		    "FILTERS in migrate-plan(5)\n", p->file);
}

/* The summary as one JSON document on stdout (with --json). */
static void
print_summary_json(const struct mig_plan *p, int r,
    const struct mig_run_summary *s, const struct run_ui *ui, int shard_k,
    int shard_n)
{
	bool dry = ui->dry_run;
	json_t *o;

	o = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:b, s:i,"
	    " s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I}, s:I, s:I, s:f}",
	    "run", s->run_id, "plan", p->name, "outcome", outcome(r, s, dry),
	    "run_dir", s->run_dir, "lake", s->lake, "resumed", s->resumed,
	    "version", s->version, "counts",
	    "files", (json_int_t)s->files, "stored", (json_int_t)s->stored,
	    "already_landed", (json_int_t)s->already,
	    "unchanged", (json_int_t)s->unchanged,
	    "skipped", (json_int_t)s->skipped,
	    "refused", (json_int_t)s->refused,
	    "failed", (json_int_t)s->failed,
	    "bytes_in", (json_int_t)s->bytes_in,
	    "bytes_out", (json_int_t)s->bytes_out, "seconds", s->seconds);
	if (o != NULL && shard_n > 0)
		json_object_set_new(o, "shard", json_pack("{s:i, s:i}",
		    "k", shard_k, "n", shard_n));
	/* Drift against the previous snapshot, for every strategy: scripts
	 * watch "vanished" as much as retain does. */
	if (o != NULL)
		json_object_set_new(o, "drift", json_pack("{s:I, s:I,"
		    " s:I}", "new", (json_int_t)s->drift_new,
		    "changed", (json_int_t)s->drift_changed,
		    "vanished", (json_int_t)s->drift_vanished));
	if (o != NULL && r != 0 && r != MIG_ERR_PARTIAL)
		json_object_set_new(o, "exit", json_integer(
		    mig_exit_status(r)));
	if (o != NULL && dry)
		json_object_set_new(o, "would_land", json_pack("{s:I, "
		    "s:I, s:I, s:I, s:I, s:b, s:o}", "files",
		    (json_int_t)ui->would_files, "bytes",
		    (json_int_t)ui->would_bytes, "new",
		    (json_int_t)ui->would_new, "changed",
		    (json_int_t)(ui->would_files - ui->would_new),
		    "unchanged", (json_int_t)(s->files -
		    ui->would_files), "last_run", ui->last != NULL,
		    "objects", ui->would_land != NULL ?
		    json_incref(ui->would_land) : json_array()));
	json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	putchar('\n');
	json_decref(o);
}

static void
print_summary(const struct mig_plan *p, int r,
    const struct mig_run_summary *s, const struct run_ui *ui, int shard_k,
    int shard_n)
{
	char in[32], out[32];
	bool dry = ui->dry_run;

	if (ui->json) {
		print_summary_json(p, r, s, ui, shard_k, shard_n);
		return;
	}
	if (dry) {
		print_dry_totals(p, r, s, ui);
		return;
	}
	if (r == 0 && !s->landed && s->files == 0) {
		printf("run %s: no file of the source is selected by the plan; "
		    "no bag landed\n", s->run_id);
		return;
	}
	if (r == 0 && !s->landed) {
		printf("run %s: nothing new or changed since the last run "
		    "(%llu files unchanged); no bag landed\n", s->run_id,
		    (unsigned long long)s->unchanged);
		return;
	}
	if (r != 0 && r != MIG_ERR_PARTIAL)
		return;
	if (s->already_complete) {
		printf("run %s: already complete, nothing landed\n",
		    s->run_id);
		return;
	}
	printf("run %s%s: %s\n", s->run_id, s->resumed ? " (resumed)" : "",
	    outcome(r, s, dry));
	if (p->strategy == MIG_STRATEGY_RETAIN)
		printf("  inventory: %llu files, %s hashed, %.2f s",
		    (unsigned long long)s->files,
		    cmd_bytes(s->bytes_in, in, sizeof(in)), s->seconds);
	else
		printf("  landed:   %llu of %llu files, %s in, %s out, %.2f s",
		    (unsigned long long)s->stored, (unsigned long long)s->files,
		    cmd_bytes(s->bytes_in, in, sizeof(in)),
		    cmd_bytes(s->bytes_out, out, sizeof(out)), s->seconds);
	if (s->seconds > 0)
		printf(" (%.1f MiB/s)", (double)s->bytes_in / 1048576.0 /
		    s->seconds);
	putchar('\n');
	if (s->already != 0 || s->unchanged != 0)
		printf("  kept:     %llu landed before the resume, %llu "
		    "unchanged since the last run\n",
		    (unsigned long long)s->already,
		    (unsigned long long)s->unchanged);
	if (s->skipped != 0 || s->refused != 0 || s->failed != 0)
		printf("  left out: %llu skipped, %llu refused, %llu failed "
		    "(see the audit log)\n", (unsigned long long)s->skipped,
		    (unsigned long long)s->refused,
		    (unsigned long long)s->failed);
	if (p->strategy == MIG_STRATEGY_RETAIN || s->drift_new != 0 ||
	    s->drift_changed != 0 || s->drift_vanished != 0)
		printf("  drift:    %llu new, %llu changed, %llu vanished\n",
		    (unsigned long long)s->drift_new,
		    (unsigned long long)s->drift_changed,
		    (unsigned long long)s->drift_vanished);
	if (s->landed)
		printf("  bag:      %s/%s\n", s->lake != NULL ? s->lake : "",
		    s->run_dir != NULL ? s->run_dir : "");
	if (r == MIG_ERR_PARTIAL)
		printf("  resume:   migrate run %s\n", p->file);
}

int
cmd_run(int argc, char **argv, struct mig_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "bwlimit", required_argument, NULL, 'B' },
		{ "full", no_argument, NULL, 'F' },
		{ "new-run", no_argument, NULL, 'N' },
		{ "no-progress", no_argument, NULL, 'P' },
		{ "json", no_argument, NULL, 'J' },
		{ "identity", required_argument, NULL, 'i' },
		{ "shard", required_argument, NULL, 'S' },
		{ "run-id", required_argument, NULL, 'R' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct mig_run_opts o;
	struct mig_run_summary sum;
	struct mig_transport_config tcfg;
	struct mig_plan *plan = NULL;
	struct mig_age_recipients *rs = NULL;
	struct mig_age_identities *ids = NULL;
	char *idfiles[16];
	size_t nid = 0;
	struct mig_sign_key *key = NULL;
	struct mig_audit_log *log = NULL;
	struct run_ui ui;
	struct cmd_testhook *th = NULL;
	bool no_progress = false, bw_set = false;
	uint64_t bwlimit = 0;
	long jobs = 0;
	int c, r, status;

	memset(&o, 0, sizeof(o));
	memset(&ui, 0, sizeof(ui));
	memset(&sum, 0, sizeof(sum));
	optind = 1;
	while ((c = getopt_long(argc, argv, ":hi:j:nvq", longopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			/* Only for retire's delete_source deep verify. */
			if (nid == 16)
				return cmd_bad_usage(cmd_run_usage, "at most 16 "
				    "identities");
			idfiles[nid++] = optarg;
			break;
		case 'n':
			o.dry_run = true;
			break;
		case 'j':
			if ((jobs = cmd_parse_count(optarg, 64)) < 0)
				return cmd_bad_usage(cmd_run_usage, "--jobs "
				    "takes a number from 1 to 64, not \"%s\"",
				    optarg);
			break;
		case 'B':
			if (mig_parse_rate(optarg, &bwlimit) != 0)
				return cmd_bad_usage(cmd_run_usage, "--bwlimit "
				    "takes bytes per second as 512K, 10M or 1G "
				    "(powers of 1024), or off; not \"%s\"",
				    optarg);
			bw_set = true;
			break;
		case 'F':
			o.full = true;
			break;
		case 'S': {
			char tail;

			if (sscanf(optarg, "%d/%d%c", &o.shard_k, &o.shard_n,
			    &tail) != 2 || o.shard_n < 1 || o.shard_n > 100000 ||
			    o.shard_k < 0 || o.shard_k >= o.shard_n)
				return cmd_bad_usage(cmd_run_usage, "--shard "
				    "takes K/N with 0 <= K < N, not \"%s\"",
				    optarg);
			break;
		}
		case 'R':
			if (!mig_run_id_valid(optarg))
				return cmd_bad_usage(cmd_run_usage, "--run-id "
				    "takes YYYYMMDDTHHMMSSZ-xxxxxxxx (e.g. "
				    "$(date -u +%%Y%%m%%dT%%H%%M%%SZ)-$(openssl "
				    "rand -hex 4)), not \"%s\"", optarg);
			o.run_id = optarg;
			break;
		case 'N':
			o.new_run = true;
			break;
		case 'P':
			no_progress = true;
			break;
		case 'J':
			ui.json = true;
			break;
		case 'v':
		case 'q':
			cmd_set_verbosity(c);
			break;
		case 'h':
			return cmd_help_options(cmd_run_usage, cmd_run_options);
		default:
			return cmd_bad_option(c, argv, longopts, cmd_run_usage);
		}
	}
	if (optind != argc - 1)
		return cmd_bad_usage(cmd_run_usage, "run: expected one PLAN");
	if ((o.shard_n > 0) != (o.run_id != NULL))
		return cmd_bad_usage(cmd_run_usage, "--shard and --run-id go "
		    "together: every shard of one run shares its id");
	ui.progress = !no_progress && cmd_progress_ok() && !o.dry_run;
	if (ui.json && o.dry_run && (ui.would_land = json_array()) == NULL)
		return cmd_fail(ctx, mig_seterr(ctx, MIG_ERR_NOMEM,
		    "out of memory"));
	ui.dry_run = o.dry_run;
	pthread_mutex_init(&ui.mu, NULL);
	clock_gettime(CLOCK_MONOTONIC, &ui.t0);

	if ((r = cmd_load_plan(argv[optind], ctx, &plan)) != 0 ||
	    (r = cmd_transport_config(plan, &tcfg, ctx)) != 0 ||
	    (r = cmd_plan_recipients(plan, ctx, &rs)) != 0)
		goto out;
	if (o.dry_run && (r = mig_run_last_load(plan, o.shard_k, o.shard_n,
	    ctx, &ui.last)) != 0)
		goto out;
	if (nid > 0 && (r = cmd_identities(idfiles, nid, false, NULL, NULL,
	    ctx, &ids)) != 0)
		goto out;
	if (!o.dry_run && (r = cmd_open_audit(plan, ctx, &key, &log)) != 0)
		goto out;
	o.identities = ids;
	o.plan = plan;
	o.tcfg = &tcfg;
	o.recipients = rs;
	o.audit = log;
	o.seal_key = key;
	o.jobs = jobs > 0 ? (int)jobs : cmd_ncpus();
	/* The s3 backend sizes its parts in flight by it. */
	tcfg.jobs = o.jobs;
	o.bwlimit = bw_set ? bwlimit : plan->bwlimit;
	o.progress = on_progress;
	o.note = on_note;
	o.would_land = on_would_land;
	o.arg = &ui;
	th = cmd_testhook_new();
	o.hook = cmd_testhook_get(th);
	o.tmp_dir = getenv("TMPDIR");
	r = mig_run_execute(&o, &sum, ctx);
	if (ui.bar_shown)
		cmd_progress_done();
out:
	if (log != NULL) {
		struct mig_ctx *c2 = mig_ctx_new();

		if (mig_audit_close(log, c2) != 0 && r == 0) {
			r = mig_seterr(ctx, mig_errcode(c2), "%s",
			    mig_errmsg(c2));
		}
		mig_ctx_free(c2);
	}
	if (plan != NULL && (r == 0 || r == MIG_ERR_PARTIAL || ui.json))
		print_summary(plan, r, &sum, &ui, o.shard_k, o.shard_n);
	if (plan != NULL && r == 0 && sum.files == 0 && plan->include != NULL &&
	    plan->include[0] != NULL && !sum.already_complete)
		cmd_warn("warning: %s: include matches no file of %s (patterns "
		    "follow .gitignore: see FILTERS in migrate-plan(5); migrate "
		    "plan check names each pattern)", plan->file,
		    plan->source_path);
	status = r == 0 ? EXIT_OK : cmd_fail(ctx, r);
	mig_run_summary_free(&sum);
	mig_sign_key_free(key);
	mig_age_recipients_free(rs);
	mig_age_identities_free(ids);
	mig_plan_free(plan);
	cmd_testhook_free(th);
	pthread_mutex_destroy(&ui.mu);
	json_decref(ui.would_land);
	mig_run_last_free(ui.last);
	return status;
}
