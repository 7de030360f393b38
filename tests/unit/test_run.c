/*
 * lib/run against a destination that fails: each case injects one fault
 * through the mock transport (mock_transport.h) at a chosen call, then
 * checks what the run promises whatever the destination does:
 *
 *   - it says so (the error code a script would act on);
 *   - nothing is published that is not whole: no _SUCCESS, no temporary
 *     left behind, no object the lake does not hold as it was written;
 *   - it is on record (the audit log);
 *   - the same run again, on a destination that works, resumes and
 *     publishes a bag that deep-verifies.
 *
 * The integration scripts stage such faults with real servers and a
 * fault proxy; here each error path of the run is reached exactly, with
 * no server and no timing.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <openssl/crypto.h>

#include "migrate/age.h"
#include "migrate/audit.h"
#include "migrate/error.h"
#include "migrate/plan.h"
#include "migrate/run.h"
#include "migrate/transport.h"

#include "mock_transport.h"
#include "testutil.h"

#define NFILES	3

struct fx {
	char		 dir[256];
	char		 src[320];
	char		 lake[320];
	char		 plan_path[320];
	char		 audit[320];
	char		 url[340];
	char		*secret;
	char		*recipient;
	struct mig_ctx	*ctx;
	struct mig_plan	*plan;
	struct mig_age_recipients *rs;
	struct mig_transport_config tcfg;	/* through the mock */
};

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static int
fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char path[400], text[2048];
	struct mig_plan_env env = { NULL };
	int i;

	if (f == NULL || (f->ctx = mig_ctx_new()) == NULL ||
	    tu_mkdtemp(f->dir, sizeof(f->dir), "run") != 0)
		return -1;
	(void)snprintf(f->src, sizeof(f->src), "%s/src", f->dir);
	(void)snprintf(f->lake, sizeof(f->lake), "%s/lake", f->dir);
	(void)snprintf(f->plan_path, sizeof(f->plan_path), "%s/p.toml",
	    f->dir);
	(void)snprintf(f->audit, sizeof(f->audit), "%s/audit/p.jsonl",
	    f->dir);
	(void)snprintf(f->url, sizeof(f->url), "file://%s", f->lake);
	if (mkdir(f->src, 0700) != 0 || mkdir(f->lake, 0700) != 0)
		return -1;
	(void)snprintf(path, sizeof(path), "%s/audit", f->dir);
	if (mkdir(path, 0700) != 0)
		return -1;
	/* a.txt, b.txt, c.txt: the run lands them in this order (jobs 1). */
	for (i = 0; i < NFILES; i++) {
		(void)snprintf(path, sizeof(path), "%s/%c.txt", f->src,
		    'a' + i);
		(void)snprintf(text, sizeof(text), "file %c, %d\n", 'a' + i,
		    i * 7919);
		write_file(path, text);
	}
	if (mig_age_keygen(&f->secret, &f->recipient, f->ctx) != 0)
		return -1;
	(void)snprintf(text, sizeof(text),
	    "version = 1\nname = \"mock\"\nstrategy = \"rehost\"\n"
	    "[source]\npath = \"%s\"\n[destination]\nurl = \"%s\"\n"
	    "[encryption]\nrecipients = [\"%s\"]\n[audit]\nlog = \"%s\"\n",
	    f->src, f->url, f->recipient, f->audit);
	write_file(f->plan_path, text);
	if (mig_plan_load(f->plan_path, &env, f->ctx, &f->plan) != 0 ||
	    (f->rs = mig_age_recipients_new()) == NULL ||
	    mig_age_recipients_add(f->rs, f->recipient, f->ctx) != 0) {
		print_error("setup: %s\n", mig_errmsg(f->ctx));
		return -1;
	}
	f->tcfg.url = f->url;
	f->tcfg.retries = 1;
	f->tcfg.ops = &mock_transport_ops;
	mock_transport_reset();
	*state = f;
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fx *f = *state;

	mig_plan_free(f->plan);
	mig_age_recipients_free(f->rs);
	if (f->secret != NULL)
		OPENSSL_cleanse(f->secret, strlen(f->secret));
	free(f->secret);
	free(f->recipient);
	mig_ctx_free(f->ctx);
	(void)tu_rm_tree(f->dir);
	free(f);
	return 0;
}

/* One `migrate run` of the plan: audit log open, run, log closed. */
static int
run_once(struct fx *f, struct mig_run_summary *sum)
{
	struct mig_audit_opts ao;
	struct mig_audit_log *log = NULL;
	struct mig_run_opts o;
	struct mig_ctx *c2;
	int r;

	memset(&ao, 0, sizeof(ao));
	ao.plan = "mock";
	ao.actor = "test@localhost";
	assert_int_equal(mig_audit_open(f->audit, &ao, f->ctx, &log), 0);
	memset(&o, 0, sizeof(o));
	o.plan = f->plan;
	o.tcfg = &f->tcfg;
	o.recipients = f->rs;
	o.audit = log;
	o.jobs = 1;
	r = mig_run_execute(&o, sum, f->ctx);
	/* Its own context: the run's error message is what the test reads. */
	c2 = mig_ctx_new();
	assert_non_null(c2);
	assert_int_equal(mig_audit_close(log, c2), 0);
	mig_ctx_free(c2);
	return r;
}

/* --- What the lake holds ------------------------------------------------- */

struct scan {
	unsigned	 success;	/* _SUCCESS markers */
	unsigned	 temporaries;	/* names of unfinished uploads */
	unsigned	 objects;	/* files under a data/ folder */
};

static void
scan_dir(const char *dir, struct scan *s)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct stat st;
	char path[4096];

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		(void)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		assert_int_equal(lstat(path, &st), 0);
		if (S_ISDIR(st.st_mode)) {
			scan_dir(path, s);
			continue;
		}
		if (strcmp(e->d_name, "_SUCCESS") == 0)
			s->success++;
		if (strstr(e->d_name, ".migrate-tmp") != NULL ||
		    strstr(e->d_name, ".tmp") != NULL)
			s->temporaries++;
		if (strstr(path, "/data/") != NULL)
			s->objects++;
	}
	(void)closedir(d);
}

static struct scan
scan_lake(const struct fx *f)
{
	struct scan s;

	memset(&s, 0, sizeof(s));
	scan_dir(f->lake, &s);
	return s;
}

/* The number of records of event in the audit log. */
static unsigned
audit_count(const struct fx *f, const char *event)
{
	char needle[128], line[8192];
	unsigned n = 0;
	FILE *fp = fopen(f->audit, "r");

	assert_non_null(fp);
	(void)snprintf(needle, sizeof(needle), "\"event\":\"%s\"", event);
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strstr(line, needle) != NULL)
			n++;
	(void)fclose(fp);
	return n;
}

/* The number of run.end records with that outcome. */
static unsigned
audit_outcome_count(const struct fx *f, const char *outcome)
{
	char needle[128], line[8192];
	unsigned n = 0;
	FILE *fp = fopen(f->audit, "r");

	assert_non_null(fp);
	(void)snprintf(needle, sizeof(needle), "\"outcome\":\"%s\"",
	    outcome);
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strstr(line, "\"event\":\"run.end\"") != NULL &&
		    strstr(line, needle) != NULL)
			n++;
	(void)fclose(fp);
	return n;
}

/* verify --deep of the latest run through tcfg. */
static int
verify_once(struct fx *f, const struct mig_transport_config *tcfg,
    struct mig_verify_summary *vs)
{
	struct mig_verify_opts vo;
	struct mig_age_identities *ids = mig_age_identities_new();
	int r;

	assert_non_null(ids);
	assert_int_equal(mig_age_identities_add(ids, f->secret, f->ctx), 0);
	memset(&vo, 0, sizeof(vo));
	memset(vs, 0, sizeof(*vs));
	vo.plan = f->plan;
	vo.tcfg = tcfg;
	vo.identities = ids;
	vo.deep = true;
	r = mig_verify_run(&vo, vs, f->ctx);
	mig_age_identities_free(ids);
	return r;
}

/* Deep verify of the latest run over the plain file backend. */
static void
assert_deep_verifies(struct fx *f)
{
	struct mig_transport_config plain = f->tcfg;
	struct mig_verify_summary vs;
	int r;

	plain.ops = NULL;
	r = verify_once(f, &plain, &vs);
	if (r != 0)
		print_error("verify: %s\n", mig_errmsg(f->ctx));
	assert_int_equal(r, 0);
	assert_int_equal(vs.findings, 0);
	assert_int_equal(vs.deep_objects, NFILES);
	mig_verify_summary_free(&vs);
}

/* The run again, nothing injected: it resumes and publishes one bag. */
static void
assert_resumes(struct fx *f, uint64_t landed_before)
{
	struct mig_run_summary sum;
	struct scan s;
	int r;

	mock_transport_pass_rest();
	r = run_once(f, &sum);
	if (r != 0)
		print_error("second run: %s\n", mig_errmsg(f->ctx));
	assert_int_equal(r, 0);
	assert_true(sum.landed);
	assert_true(sum.resumed);
	assert_int_equal(sum.already, landed_before);
	assert_int_equal(sum.already + sum.stored, NFILES);
	mig_run_summary_free(&sum);
	s = scan_lake(f);
	assert_int_equal(s.success, 1);
	assert_int_equal(s.temporaries, 0);
	assert_int_equal(audit_count(f, "run.start"), 2);
	assert_deep_verifies(f);
}

/*
 * The run with the faults the test queued: it must not publish, and must
 * have taken every fault.  The caller frees *sum.
 */
static int
faulty_run(struct fx *f, struct mig_run_summary *sum)
{
	int r;

	mock_transport_pass_rest();
	r = run_once(f, sum);
	assert_false(sum->landed);
	assert_true(mock_transport_all_taken());
	assert_int_equal(scan_lake(f).success, 0);
	return r;
}

/* --- The cases ------------------------------------------------------------ */

/* The baseline: through the mock with nothing injected, a bag lands. */
static void
test_run__mock_passes_through(void **state)
{
	struct fx *f = *state;
	struct mig_run_summary sum;

	mock_transport_pass_rest();
	assert_int_equal(run_once(f, &sum), 0);
	assert_true(sum.landed);
	assert_false(sum.resumed);
	assert_int_equal(sum.stored, NFILES);
	mig_run_summary_free(&sum);
	assert_true(mock_transport_all_taken());
	assert_int_equal(scan_lake(f).success, 1);
	assert_int_equal(mock_transport_calls("mock_put_data"), NFILES);
	assert_int_equal(mock_transport_calls("mock_publish_marker"), 1);
	assert_deep_verifies(f);
}

/* The second object's upload cannot start: the others land, no bag. */
static void
test_run__object_upload_refused_then_resume(void **state)
{
	struct fx *f = *state;
	struct mig_run_summary sum;
	struct scan s;

	will_return(mock_put_data, 0);
	will_return(mock_put_data, MIG_ERR_IO);
	assert_int_equal(faulty_run(f, &sum), MIG_ERR_PARTIAL);
	assert_int_equal(sum.stored, NFILES - 1);
	assert_int_equal(sum.failed, 1);
	mig_run_summary_free(&sum);
	assert_non_null(strstr(mig_errmsg(f->ctx), "b.txt"));
	s = scan_lake(f);
	assert_int_equal(s.temporaries, 0);
	assert_int_equal(audit_count(f, "object.failed"), 1);
	assert_resumes(f, NFILES - 1);
}

/* The object is written but its publication fails: no temporary stays. */
static void
test_run__publish_fails_leaves_no_temporary(void **state)
{
	struct fx *f = *state;
	struct mig_run_summary sum;
	struct scan s;

	will_return(mock_publish_data, MIG_ERR_IO);
	assert_int_equal(faulty_run(f, &sum), MIG_ERR_PARTIAL);
	assert_int_equal(sum.failed, 1);
	mig_run_summary_free(&sum);
	s = scan_lake(f);
	assert_int_equal(s.temporaries, 0);
	assert_int_equal(s.objects, NFILES - 1);
	assert_resumes(f, NFILES - 1);
}

/* A write into the object fails half-way: the same. */
static void
test_run__write_fails_midway(void **state)
{
	struct fx *f = *state;
	struct mig_run_summary sum;
	struct scan s;

	will_return(mock_write_data, MIG_ERR_IO);
	assert_int_equal(faulty_run(f, &sum), MIG_ERR_PARTIAL);
	assert_int_equal(sum.failed, 1);
	mig_run_summary_free(&sum);
	s = scan_lake(f);
	assert_int_equal(s.temporaries, 0);
	assert_resumes(f, NFILES - 1);
}

/* Every object refused: a failure, not a partial run. */
static void
test_run__every_object_refused_is_a_failure(void **state)
{
	struct fx *f = *state;
	struct mig_run_summary sum;

	will_return_count(mock_put_data, MIG_ERR_IO, NFILES);
	assert_int_equal(faulty_run(f, &sum), MIG_ERR_IO);
	assert_int_equal(sum.stored, 0);
	mig_run_summary_free(&sum);
	assert_non_null(strstr(mig_errmsg(f->ctx), "every object failed"));
	assert_resumes(f, 0);
}

/*
 * The server goes away (retries spent) at the second object: the run
 * stops there instead of paying the same timeout for every object left.
 */
static void
test_run__server_gone_stops_the_run(void **state)
{
	struct fx *f = *state;
	struct mig_run_summary sum;

	will_return(mock_put_data, 0);
	will_return(mock_put_data, MIG_ERR_NET);
	assert_int_equal(faulty_run(f, &sum), MIG_ERR_NET);
	mig_run_summary_free(&sum);
	assert_int_equal(mock_transport_calls("mock_put_data"), 2);
	assert_int_equal(mock_transport_calls("mock_put_marker"), 0);
	assert_resumes(f, 1);
}

/*
 * Every object landed and the run is on record as complete (the record
 * comes first: its checkpoint goes into the bag), but _SUCCESS cannot be
 * written.  Nothing is published, and the log must not be left saying
 * the run is complete: a record says it was not published.
 */
static void
test_run__success_marker_refused(void **state)
{
	struct fx *f = *state;
	struct mig_run_summary sum;

	will_return(mock_put_marker, MIG_ERR_IO);
	assert_int_equal(faulty_run(f, &sum), MIG_ERR_IO);
	mig_run_summary_free(&sum);
	assert_int_equal(audit_outcome_count(f, "complete"), 1);
	assert_int_equal(audit_outcome_count(f, "unpublished"), 1);
	assert_resumes(f, NFILES);
	assert_int_equal(audit_outcome_count(f, "complete"), 2);
}

/*
 * A server that acknowledges an object and loses it: the check before
 * publication must see it missing, and the run must not publish a bag
 * that lacks it.  The resumed run must land it again rather than trust
 * the journal's word that it landed.
 */
static void
test_run__server_loses_acknowledged_object(void **state)
{
	struct fx *f = *state;
	struct mig_run_summary sum;
	int r;

	will_return(mock_publish_data, 0);
	will_return(mock_publish_data, MOCK_DROP);
	r = faulty_run(f, &sum);
	assert_int_not_equal(r, 0);
	mig_run_summary_free(&sum);
	assert_non_null(strstr(mig_errmsg(f->ctx), "missing or"));
	assert_resumes(f, NFILES - 1);
}

/* The same for an object the server keeps one byte short. */
static void
test_run__server_truncates_acknowledged_object(void **state)
{
	struct fx *f = *state;
	struct mig_run_summary sum;
	int r;

	will_return(mock_publish_data, MOCK_SHORT);
	r = faulty_run(f, &sum);
	assert_int_not_equal(r, 0);
	mig_run_summary_free(&sum);
	assert_resumes(f, NFILES - 1);
}

/* The listing of the landed check fails: nothing is published. */
static void
test_run__landed_check_cannot_list(void **state)
{
	struct fx *f = *state;
	struct mig_run_summary sum;
	int r;

	will_return(mock_list, MIG_ERR_NET);
	r = faulty_run(f, &sum);
	assert_int_not_equal(r, 0);
	mig_run_summary_free(&sum);
}

/*
 * A folder cannot be made: the object that needed it fails, the others
 * land, and the resumed run makes the folder and lands the object.
 */
static void
test_run__mkdir_refused(void **state)
{
	struct fx *f = *state;
	struct mig_run_summary sum;

	/*
	 * The first mkdir is the main connection's of data/, made once for
	 * every worker (run_workers); one that fails is left to the workers,
	 * whose own mkdir of an object's folder is the one refused here.
	 */
	will_return(mock_mkdir, 0);
	will_return(mock_mkdir, MIG_ERR_IO);
	assert_int_equal(faulty_run(f, &sum), MIG_ERR_PARTIAL);
	assert_int_equal(sum.failed, 1);
	mig_run_summary_free(&sum);
	assert_non_null(strstr(mig_errmsg(f->ctx), "mock_mkdir"));
	assert_resumes(f, NFILES - 1);
}

/*
 * The main connection cannot make data/ ahead for the workers: no harm,
 * each worker makes its objects' folders itself, and the bag lands.
 */
static void
test_run__data_mkdir_ahead_refused_lands(void **state)
{
	struct fx *f = *state;
	struct mig_run_summary sum;

	will_return(mock_mkdir, MIG_ERR_IO);
	mock_transport_pass_rest();
	assert_int_equal(run_once(f, &sum), 0);
	assert_true(sum.landed);
	assert_int_equal(sum.stored, NFILES);
	assert_int_equal(sum.failed, 0);
	mig_run_summary_free(&sum);
	assert_true(mock_transport_all_taken());
	assert_int_equal(scan_lake(f).success, 1);
	assert_deep_verifies(f);
}

/*
 * The destination is refused at connection (an unknown host key, an
 * untrusted certificate): exit as a refusal, and on record as one.
 */
static void
test_run__refused_destination_is_on_record(void **state)
{
	struct fx *f = *state;
	struct mig_run_summary sum;

	will_return(mock_open, MIG_ERR_SECURITY);
	assert_int_equal(faulty_run(f, &sum), MIG_ERR_SECURITY);
	mig_run_summary_free(&sum);
	assert_int_equal(audit_count(f, "security.refused"), 1);
	assert_int_equal(scan_lake(f).objects, 0);
}

/* A run landed through the mock with nothing injected, scripts cleared. */
static void
land_clean(struct fx *f)
{
	struct mig_run_summary sum;

	mock_transport_pass_rest();
	assert_int_equal(run_once(f, &sum), 0);
	assert_true(sum.landed);
	mig_run_summary_free(&sum);
	mock_transport_reset();
}

/* verify cannot list the bag: an error, never "intact". */
static void
test_verify__listing_fails_is_never_intact(void **state)
{
	struct fx *f = *state;
	struct mig_verify_summary vs;

	land_clean(f);
	will_return(mock_list, MIG_ERR_NET);
	mock_transport_pass_rest();
	assert_int_not_equal(verify_once(f, &f->tcfg, &vs), 0);
	assert_true(mock_transport_all_taken());
	mig_verify_summary_free(&vs);
}

/*
 * verify --deep cannot read one object: an error or a finding, and the
 * objects it did read are not counted as that one.
 */
static void
test_verify__unreadable_object_is_never_intact(void **state)
{
	struct fx *f = *state;
	struct mig_verify_summary vs;
	unsigned reads;
	int r;

	land_clean(f);
	/* Count the reads verify makes before the objects. */
	mock_transport_pass_rest();
	assert_int_equal(verify_once(f, &f->tcfg, &vs), 0);
	mig_verify_summary_free(&vs);
	reads = mock_transport_calls("mock_read");
	assert_true(reads >= NFILES);
	mock_transport_reset();
	/* The last read is of an object (deep verify reads them last). */
	will_return_count(mock_read, 0, (int)reads - 1);
	will_return(mock_read, MIG_ERR_NET);
	mock_transport_pass_rest();
	r = verify_once(f, &f->tcfg, &vs);
	assert_true(mock_transport_all_taken());
	assert_true(r != 0 || vs.findings > 0);
	assert_true(vs.deep_objects < NFILES);
	mig_verify_summary_free(&vs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
		T(test_run__mock_passes_through),
		T(test_run__object_upload_refused_then_resume),
		T(test_run__publish_fails_leaves_no_temporary),
		T(test_run__write_fails_midway),
		T(test_run__every_object_refused_is_a_failure),
		T(test_run__server_gone_stops_the_run),
		T(test_run__success_marker_refused),
		T(test_run__server_loses_acknowledged_object),
		T(test_run__server_truncates_acknowledged_object),
		T(test_run__landed_check_cannot_list),
		T(test_run__mkdir_refused),
		T(test_run__data_mkdir_ahead_refused_lands),
		T(test_run__refused_destination_is_on_record),
		T(test_verify__listing_fails_is_never_intact),
		T(test_verify__unreadable_object_is_never_intact),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
