/*
 * BagIt: bags written through the file transport validate; every kind of
 * tampering is found and named; 0.97 bags, several algorithms, fetch.txt,
 * percent-encoded names and NFC/NFD spellings are handled; the tag-file
 * parsers accept and refuse what RFC 8493 says; every bag under
 * tests/data/bagit (0.93 to 1.0, UTF-16 and Latin-1 tag files, one bag
 * per rule) is judged as its row says; NFD agrees with Unicode's
 * NormalizationTest.txt.
 */

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "migrate/bagit.h"
#include "migrate/error.h"
#include "migrate/transport.h"
#include "migrate/util.h"

#include "lake/bagit_int.h"

#include "testutil.h"

struct fx {
	char			 root[64];	/* temporary directory */
	char			 bag[128];	/* root/lake/run=1 */
	struct mig_ctx		*ctx;
	struct mig_transport	*t;
	struct mig_bag_report	 rep;
};

static int
setup(void **state)
{
	struct mig_transport_config cfg;
	struct fx *f;
	char url[128];

	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(tu_mkdtemp(f->root, sizeof(f->root), "test_bagit"), 0);
	(void)snprintf(f->bag, sizeof(f->bag), "%s/lake/run=1", f->root);
	f->ctx = mig_ctx_new();
	assert_non_null(f->ctx);
	memset(&cfg, 0, sizeof(cfg));
	(void)snprintf(url, sizeof(url), "file://%s/lake", f->root);
	cfg.url = url;
	if (mig_transport_open(&cfg, f->ctx, &f->t) != 0)
		fail_msg("transport: %s", mig_errmsg(f->ctx));
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	mig_bag_report_free(&f->rep);
	mig_transport_close(f->t);
	mig_ctx_free(f->ctx);
	assert_int_equal(tu_rm_tree(f->root), 0);
	free(f);
	return 0;
}

/* --- Helpers ----------------------------------------------------------- */

static void
mkparents(const char *path)
{
	char buf[1024], *p;

	(void)snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			fail_msg("mkdir %s: %s", buf, strerror(errno));
		*p = '/';
	}
}

/* Writes len bytes at BAG/rel, creating directories. */
static void
put_bytes(const char *bag, const char *rel, const void *data, size_t len)
{
	char path[1024];
	FILE *fp;

	(void)snprintf(path, sizeof(path), "%s/%s", bag, rel);
	mkparents(path);
	fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static void
put_text(const char *bag, const char *rel, const char *text)
{
	put_bytes(bag, rel, text, strlen(text));
}

static char *
get_text(const char *bag, const char *rel)
{
	char path[1024], *buf;
	FILE *fp;
	long n;

	(void)snprintf(path, sizeof(path), "%s/%s", bag, rel);
	fp = fopen(path, "rb");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	rewind(fp);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	(void)fclose(fp);
	return buf;
}

static void
rm_file(const char *bag, const char *rel)
{
	char path[1024];

	(void)snprintf(path, sizeof(path), "%s/%s", bag, rel);
	assert_int_equal(unlink(path), 0);
}

/* Hex digest of s with the OpenSSL algorithm name alg, into out. */
static const char *
hexof(const char *alg, const char *s, char *out)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n, i;

	assert_int_equal(EVP_Digest(s, strlen(s), d, &n,
	    EVP_get_digestbyname(alg), NULL), 1);
	for (i = 0; i < n; i++)
		(void)sprintf(out + 2 * i, "%02x", d[i]);
	return out;
}

/* Replaces the first occurrence of from by to in BAG/rel. */
static void
edit(const char *bag, const char *rel, const char *from, const char *to)
{
	char *text = get_text(bag, rel), *p, *out;
	size_t n;

	p = strstr(text, from);
	if (p == NULL)
		fail_msg("%s: \"%s\" not found", rel, from);
	n = strlen(text) - strlen(from) + strlen(to) + 1;
	out = calloc(1, n);
	assert_non_null(out);
	memcpy(out, text, (size_t)(p - text));
	strcat(out, to);
	strcat(out, p + strlen(from));
	put_text(bag, rel, out);
	free(out);
	free(text);
}

/* Does the report hold a finding of kind for path? */
static bool
has(const struct mig_bag_report *rep, enum mig_bag_kind kind,
    const char *path)
{
	size_t i;

	for (i = 0; i < rep->nfindings; i++)
		if (rep->findings[i].kind == kind &&
		    strcmp(rep->findings[i].path, path) == 0)
			return true;
	return false;
}

static void
dump(const struct mig_bag_report *rep)
{
	size_t i;

	for (i = 0; i < rep->nfindings; i++)
		print_message("  %s %s: %s\n",
		    mig_bag_kind_name(rep->findings[i].kind),
		    rep->findings[i].path, rep->findings[i].detail);
}

static int
validate(struct fx *f)
{
	int r;

	mig_bag_report_free(&f->rep);
	mig_clearerr(f->ctx);
	r = mig_bag_validate(f->bag, NULL, &f->rep, f->ctx);
	if (r != 0)
		dump(&f->rep);
	return r;
}

static const char *const payload[][2] = {
	{ "a.csv.age", "alpha,beta\n1,2\n" },
	{ "sub/b.bin.age", "\x01\x02\x03 binary" },
	{ "sub/deep/c.age", "" },
};
#define NPAYLOAD (sizeof(payload) / sizeof(payload[0]))

static const struct mig_bag_tag info_tags[] = {
	{ "Bagging-Date", "2026-11-25" },
	{ "External-Identifier", "20261125T101010Z-0a1b2c3d" },
	{ "Migrate-Strategy", "rehost" },
	{ "Migrate-Plan-SHA256", "00112233445566778899aabbccddeeff"
	    "00112233445566778899aabbccddeeff" },
	{ "Migrate-Audit-Head", "ffeeddccbbaa99887766554433221100"
	    "ffeeddccbbaa99887766554433221100" },
	{ "Payload-Oxum", "1.1" },	/* ignored: computed */
};

/* Lands the payload and writes the tags through the file transport. */
static void
write_bag(struct fx *f)
{
	struct mig_bag_manifest *m;
	struct mig_bag_info info = { info_tags,
	    sizeof(info_tags) / sizeof(info_tags[0]), false };
	char path[256], hex[129];
	size_t i;

	m = mig_bag_manifest_new();
	assert_non_null(m);
	for (i = 0; i < NPAYLOAD; i++) {
		(void)snprintf(path, sizeof(path), "run=1/data/%s",
		    payload[i][0]);
		*strrchr(path, '/') = '\0';
		if (f->t->ops->mkdir_p(f->t, path) != 0)
			fail_msg("mkdir_p: %s", mig_errmsg(f->ctx));
		path[strlen(path)] = '/';
		if (mig_transport_put(f->t, path, payload[i][1],
		    strlen(payload[i][1])) != 0)
			fail_msg("put: %s", mig_errmsg(f->ctx));
		assert_int_equal(mig_bag_manifest_add(m, payload[i][0],
		    hexof("SHA256", payload[i][1], hex),
		    strlen(payload[i][1]), f->ctx), 0);
	}
	assert_int_equal(mig_transport_put(f->t,
	    "run=1/migrate-manifest.json.age", "age-encrypted", 13), 0);
	assert_int_equal(mig_bag_manifest_add_tagfile(m,
	    "migrate-manifest.json.age", NULL, f->ctx), 0);
	if (mig_bag_write_tags(f->t, "run=1", m, &info, f->ctx) != 0)
		fail_msg("write_tags: %s", mig_errmsg(f->ctx));
	assert_int_equal(mig_transport_put(f->t, "run=1/_SUCCESS", "", 0), 0);
	mig_bag_manifest_free(m);
}

/* --- Writer and round trip --------------------------------------------- */

static void
test_bagit__write_and_validate(void **state)
{
	struct fx *f = *state;
	char *text, hex[129], line[512];

	write_bag(f);
	text = get_text(f->bag, "bagit.txt");
	assert_string_equal(text, "BagIt-Version: 1.0\n"
	    "Tag-File-Character-Encoding: UTF-8\n");
	free(text);

	/* Sorted by path; two spaces like sha256sum. */
	text = get_text(f->bag, "manifest-sha256.txt");
	(void)snprintf(line, sizeof(line), "%s  data/a.csv.age\n",
	    hexof("SHA256", payload[0][1], hex));
	assert_memory_equal(text, line, strlen(line));
	assert_non_null(strstr(text, "  data/sub/deep/c.age\n"));
	assert_true(strstr(text, "sub/b.bin") < strstr(text, "sub/deep"));
	free(text);

	text = get_text(f->bag, "bag-info.txt");
	assert_non_null(strstr(text, "Bagging-Date: 2026-11-25\n"
	    "External-Identifier: 20261125T101010Z-0a1b2c3d\n"
	    "Migrate-Strategy: rehost\n"));
	assert_non_null(strstr(text, "\nPayload-Oxum: 25.3\n"));
	assert_null(strstr(text, "1.1"));
	free(text);

	text = get_text(f->bag, "tagmanifest-sha256.txt");
	assert_non_null(strstr(text, "  bag-info.txt\n"));
	assert_non_null(strstr(text, "  bagit.txt\n"));
	assert_non_null(strstr(text, "  manifest-sha256.txt\n"));
	(void)snprintf(line, sizeof(line), "%s  migrate-manifest.json.age\n",
	    hexof("SHA256", "age-encrypted", hex));
	assert_non_null(strstr(text, line));
	assert_null(strstr(text, "_SUCCESS"));
	free(text);

	/* Plain coreutils agree with both manifests. */
	(void)snprintf(line, sizeof(line), "cd '%s' && sha256sum --quiet "
	    "--strict -c manifest-sha256.txt && sha256sum --quiet --strict "
	    "-c tagmanifest-sha256.txt", f->bag);
	assert_int_equal(system(line), 0);

	assert_int_equal(validate(f), 0);
	assert_string_equal(f->rep.version, "1.0");
	assert_string_equal(f->rep.payload_algs, "sha256");
	assert_string_equal(f->rep.tag_algs, "sha256");
	assert_int_equal(f->rep.payload_files, 3);
	assert_int_equal(f->rep.payload_bytes, 25);
	assert_int_equal(f->rep.files_hashed, 3);
	assert_int_equal(f->rep.manifest_entries, 3);
	assert_int_equal(f->rep.nfindings, 0);
	assert_string_equal(mig_bag_report_info(&f->rep,
	    "external-identifier"), "20261125T101010Z-0a1b2c3d");
	assert_string_equal(mig_bag_report_info(&f->rep, "Payload-Oxum"),
	    "25.3");

	/* The same bag through the transport. */
	mig_bag_report_free(&f->rep);
	if (mig_bag_validate_t(f->t, "run=1", NULL, &f->rep, f->ctx) != 0) {
		dump(&f->rep);
		fail_msg("validate_t: %s", mig_errmsg(f->ctx));
	}
	assert_int_equal(f->rep.files_hashed, 3);
}

/*
 * The manifest written as it is made (issue 20) is byte for byte the one
 * mig_bag_write_tags() renders, and so are the tag files over it; written
 * as an unpublished bag's are (in place, in flight: issue 15) too.
 */
static void
test_bagit__manifest_streamed(void **state)
{
	struct fx *f = *state;
	struct mig_bag_manifest *m;
	struct mig_bag_manifest_writer *mw;
	struct mig_bag_info info = { info_tags,
	    sizeof(info_tags) / sizeof(info_tags[0]), true };
	unsigned char d[32];
	char bag2[sizeof(f->bag)], path[256], hex[129], *a, *b;
	const char *const names[] = { "manifest-sha256.txt", "bag-info.txt",
	    "bagit.txt", "tagmanifest-sha256.txt" };
	size_t i;

	write_bag(f);
	assert_non_null(m = mig_bag_manifest_new());
	assert_int_equal(f->t->ops->mkdir_p(f->t, "run=2"), 0);
	assert_int_equal(mig_bag_manifest_writer_open(f->t, "run=2", true,
	    f->ctx, &mw), 0);
	for (i = 0; i < NPAYLOAD; i++) {
		(void)snprintf(path, sizeof(path), "run=2/data/%s",
		    payload[i][0]);
		*strrchr(path, '/') = '\0';
		assert_int_equal(f->t->ops->mkdir_p(f->t, path), 0);
		path[strlen(path)] = '/';
		assert_int_equal(mig_transport_put(f->t, path, payload[i][1],
		    strlen(payload[i][1])), 0);
		(void)hexof("SHA256", payload[i][1], hex);
		assert_int_equal(mig_hex_decode(hex, d, 32), 0);
		assert_int_equal(mig_bag_manifest_writer_add(mw, payload[i][0],
		    d, strlen(payload[i][1])), 0);
	}
	assert_int_equal(mig_bag_manifest_writer_close(mw, m), 0);
	mig_bag_manifest_writer_free(mw);
	assert_int_equal(mig_transport_put(f->t,
	    "run=2/migrate-manifest.json.age", "age-encrypted", 13), 0);
	assert_int_equal(mig_bag_manifest_add_tagfile(m,
	    "migrate-manifest.json.age", NULL, f->ctx), 0);
	if (mig_bag_write_tags(f->t, "run=2", m, &info, f->ctx) != 0)
		fail_msg("write_tags: %s", mig_errmsg(f->ctx));
	mig_bag_manifest_free(m);
	(void)snprintf(bag2, sizeof(bag2), "%.64s/lake/run=2", f->root);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		a = get_text(f->bag, names[i]);
		b = get_text(bag2, names[i]);
		if (strcmp(a, b) != 0)
			fail_msg("%s differs:\n%s---\n%s", names[i], a, b);
		free(a);
		free(b);
	}
	(void)snprintf(f->bag, sizeof(f->bag), "%s", bag2);
	assert_int_equal(validate(f), 0);
	assert_int_equal(f->rep.payload_files, 3);
}

/* Entries of a directory, "." and ".." aside. */
static int
count_entries(const char *dir)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	assert_non_null(d = opendir(dir));
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	(void)closedir(d);
	return n;
}

/* Out of order is refused; freed without a close, nothing is left. */
static void
test_bagit__manifest_streamed_refuses(void **state)
{
	struct fx *f = *state;
	struct mig_bag_manifest_writer *mw;
	unsigned char d[32];
	char path[256];
	struct stat st;

	memset(d, 0xab, sizeof(d));
	assert_int_equal(f->t->ops->mkdir_p(f->t, "run=3"), 0);
	assert_int_equal(mig_bag_manifest_writer_open(f->t, "run=3", false, f->ctx,
	    &mw), 0);
	assert_int_equal(mig_bag_manifest_writer_add(mw, "b", d, 1), 0);
	assert_int_equal(mig_bag_manifest_writer_add(mw, "a", d, 1),
	    MIG_ERR_USAGE);
	assert_non_null(strstr(mig_errmsg(f->ctx), "not in path order"));
	assert_int_equal(mig_bag_manifest_writer_add(mw, "b", d, 1),
	    MIG_ERR_USAGE);
	assert_int_equal(mig_bag_manifest_writer_add(mw, "../x", d, 1),
	    MIG_ERR_USAGE);
	assert_int_equal(mig_bag_manifest_writer_add(mw, "c\nd%e", d, 1), 0);
	mig_bag_manifest_writer_free(mw);
	(void)snprintf(path, sizeof(path), "%s/lake/run=3", f->root);
	assert_int_equal(count_entries(path), 0);
	(void)snprintf(path, sizeof(path),
	    "%s/lake/run=3/manifest-sha256.txt", f->root);
	assert_int_equal(stat(path, &st), -1);
}

static void
test_bagit__writer_refuses(void **state)
{
	struct fx *f = *state;
	struct mig_bag_manifest *m = mig_bag_manifest_new();
	static const char *const bad[] = {
		"", "/abs", "a/../b", "..", "a//b", "./a", "a/", "a/.",
	};
	static const struct mig_bag_tag badtags[][1] = {
		{ { "Bad:Label", "x" } }, { { "", "x" } },
		{ { " Lead", "x" } }, { { "Ok", "two\nlines" } },
	};
	char hex[65];
	size_t i;

	assert_non_null(m);
	hexof("SHA256", "x", hex);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(mig_bag_manifest_add(m, bad[i], hex, 1,
		    f->ctx), MIG_ERR_USAGE);
	assert_int_equal(mig_bag_manifest_add(m, "x", "abc", 1, f->ctx),
	    MIG_ERR_USAGE);
	hex[5] = 'g';
	assert_int_equal(mig_bag_manifest_add(m, "x", hex, 1, f->ctx),
	    MIG_ERR_USAGE);
	assert_int_equal(mig_bag_manifest_add_tagfile(m, "data/x", NULL,
	    f->ctx), MIG_ERR_USAGE);
	assert_int_equal(mig_bag_manifest_add_tagfile(m, "bagit.txt", NULL,
	    f->ctx), MIG_ERR_USAGE);
	assert_int_equal(mig_bag_manifest_add_tagfile(m, "../x", NULL,
	    f->ctx), MIG_ERR_USAGE);
	for (i = 0; i < sizeof(badtags) / sizeof(badtags[0]); i++) {
		struct mig_bag_info info = { badtags[i], 1, false };

		assert_int_equal(mig_bag_write_tags(f->t, "run=1", m, &info,
		    f->ctx), MIG_ERR_USAGE);
	}
	/* An extra tag file that was never written. */
	assert_int_equal(mig_bag_manifest_add_tagfile(m, "absent.json", NULL,
	    f->ctx), 0);
	assert_int_equal(mig_bag_write_tags(f->t, "run=1", m, NULL, f->ctx),
	    MIG_ERR_NOTFOUND);
	mig_bag_manifest_free(m);
}

static void
test_bagit__manifest_replace_and_encode(void **state)
{
	struct fx *f = *state;
	struct mig_bag_manifest *m = mig_bag_manifest_new();
	unsigned char d[32];
	uint64_t files, bytes, size;
	char hex[65], *text;

	assert_non_null(m);
	assert_int_equal(mig_bag_manifest_add(m, "x", hexof("SHA256", "1",
	    hex), 10, f->ctx), 0);
	assert_int_equal(mig_bag_manifest_add(m, "new\nline%25.txt",
	    hexof("SHA256", "2", hex), 5, f->ctx), 0);
	/* Re-stored: replaces. */
	assert_int_equal(mig_bag_manifest_add(m, "x", hexof("SHA256", "3",
	    hex), 7, f->ctx), 0);
	mig_bag_manifest_totals(m, &files, &bytes);
	assert_int_equal(files, 2);
	assert_int_equal(bytes, 12);
	assert_true(mig_bag_manifest_lookup(m, "x", d, &size));
	assert_int_equal(size, 7);
	assert_false(mig_bag_manifest_lookup(m, "y", NULL, NULL));
	assert_int_equal(mig_bag_write_tags(f->t, "run=1", m, NULL, f->ctx),
	    0);
	text = get_text(f->bag, "manifest-sha256.txt");
	assert_non_null(strstr(text, "  data/new%0Aline%2525.txt\n"));
	assert_non_null(strstr(text, hexof("SHA256", "3", hex)));
	assert_null(strstr(text, hexof("SHA256", "1", hex)));
	free(text);
	text = get_text(f->bag, "bag-info.txt");
	assert_string_equal(text, "Payload-Oxum: 12.2\n");
	free(text);
	mig_bag_manifest_free(m);
}

struct adder {
	struct mig_bag_manifest	*m;
	int			 id;
};

static void *
adder_main(void *arg)
{
	struct adder *a = arg;
	char path[64];
	int i;

	for (i = 0; i < 500; i++) {
		(void)snprintf(path, sizeof(path), "t%d/f%d", a->id, i);
		if (mig_bag_manifest_add(a->m, path, "00000000000000000000"
		    "00000000000000000000000000000000000000000000",
		    1, NULL) != 0)
			return a;
	}
	return NULL;
}

static void
test_bagit__manifest_threads(void **state)
{
	struct mig_bag_manifest *m = mig_bag_manifest_new();
	struct adder a[4];
	pthread_t th[4];
	uint64_t files, bytes;
	void *ret;
	int i;

	(void)state;
	assert_non_null(m);
	for (i = 0; i < 4; i++) {
		a[i].m = m;
		a[i].id = i;
		assert_int_equal(pthread_create(&th[i], NULL, adder_main,
		    &a[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], &ret), 0);
		assert_null(ret);
	}
	mig_bag_manifest_totals(m, &files, &bytes);
	assert_int_equal(files, 2000);
	assert_int_equal(bytes, 2000);
	assert_true(mig_bag_manifest_lookup(m, "t3/f499", NULL, NULL));
	mig_bag_manifest_free(m);
}

/* --- Tamper matrix ----------------------------------------------------- */

static void
test_bagit__tamper_byte(void **state)
{
	struct fx *f = *state;

	write_bag(f);
	put_text(f->bag, "data/a.csv.age", "alpha,beta\n1,3\n");
	assert_int_equal(validate(f), MIG_ERR_VERIFY);
	assert_true(has(&f->rep, MIG_BAG_ALTERED, "data/a.csv.age"));
	assert_int_equal(f->rep.nfindings, 1);
	assert_int_equal(f->rep.counts[MIG_BAG_ALTERED], 1);
	assert_non_null(strstr(mig_errmsg(f->ctx), "1 altered"));
}

static void
test_bagit__tamper_deleted(void **state)
{
	struct fx *f = *state;

	write_bag(f);
	rm_file(f->bag, "data/sub/b.bin.age");
	assert_int_equal(validate(f), MIG_ERR_VERIFY);
	assert_true(has(&f->rep, MIG_BAG_MISSING, "data/sub/b.bin.age"));
	assert_true(has(&f->rep, MIG_BAG_OXUM, "bag-info.txt"));
	assert_int_equal(f->rep.nfindings, 2);
}

static void
test_bagit__tamper_added(void **state)
{
	struct fx *f = *state;

	write_bag(f);
	put_text(f->bag, "data/sub/planted.age", "evil");
	assert_int_equal(validate(f), MIG_ERR_VERIFY);
	assert_true(has(&f->rep, MIG_BAG_EXTRA, "data/sub/planted.age"));
	assert_true(has(&f->rep, MIG_BAG_OXUM, "bag-info.txt"));
	assert_int_equal(f->rep.nfindings, 2);

	/* The transport variant sees the same. */
	mig_bag_report_free(&f->rep);
	assert_int_equal(mig_bag_validate_t(f->t, "run=1", NULL, &f->rep,
	    f->ctx), MIG_ERR_VERIFY);
	assert_true(has(&f->rep, MIG_BAG_EXTRA, "data/sub/planted.age"));
	assert_true(has(&f->rep, MIG_BAG_OXUM, "bag-info.txt"));
	assert_int_equal(f->rep.nfindings, 2);
	put_text(f->bag, "data/a.csv.age", "tampered");
	mig_bag_report_free(&f->rep);
	assert_int_equal(mig_bag_validate_t(f->t, "run=1", NULL, &f->rep,
	    f->ctx), MIG_ERR_VERIFY);
	assert_true(has(&f->rep, MIG_BAG_ALTERED, "data/a.csv.age"));
}

static void
test_bagit__tamper_manifest_line(void **state)
{
	struct fx *f = *state;
	char hex[65], fake[65];

	write_bag(f);
	hexof("SHA256", payload[0][1], hex);
	hexof("SHA256", "forged", fake);
	edit(f->bag, "manifest-sha256.txt", hex, fake);
	assert_int_equal(validate(f), MIG_ERR_VERIFY);
	assert_true(has(&f->rep, MIG_BAG_ALTERED, "data/a.csv.age"));
	assert_true(has(&f->rep, MIG_BAG_ALTERED, "manifest-sha256.txt"));
	assert_int_equal(f->rep.nfindings, 2);
}

static void
test_bagit__tamper_oxum(void **state)
{
	struct fx *f = *state;

	write_bag(f);
	edit(f->bag, "bag-info.txt", "Payload-Oxum: 25.3",
	    "Payload-Oxum: 26.3");
	assert_int_equal(validate(f), MIG_ERR_VERIFY);
	assert_true(has(&f->rep, MIG_BAG_OXUM, "bag-info.txt"));
	assert_true(has(&f->rep, MIG_BAG_ALTERED, "bag-info.txt"));
	assert_int_equal(f->rep.nfindings, 2);

	edit(f->bag, "bag-info.txt", "Payload-Oxum: 26.3", "Payload-Oxum: x");
	assert_int_equal(validate(f), MIG_ERR_FORMAT);
	assert_true(has(&f->rep, MIG_BAG_FORMAT, "bag-info.txt"));
}

static void
test_bagit__tamper_tagmanifest(void **state)
{
	struct fx *f = *state;

	write_bag(f);
	put_text(f->bag, "migrate-manifest.json.age", "age-encrypteD");
	assert_int_equal(validate(f), MIG_ERR_VERIFY);
	assert_true(has(&f->rep, MIG_BAG_ALTERED,
	    "migrate-manifest.json.age"));
	assert_int_equal(f->rep.nfindings, 1);

	rm_file(f->bag, "migrate-manifest.json.age");
	assert_int_equal(validate(f), MIG_ERR_VERIFY);
	assert_true(has(&f->rep, MIG_BAG_MISSING,
	    "migrate-manifest.json.age"));

	/* An edited tag manifest line. */
	write_bag(f);
	edit(f->bag, "tagmanifest-sha256.txt", "  bagit.txt", "  bagit.txT");
	assert_int_equal(validate(f), MIG_ERR_VERIFY);
	assert_true(has(&f->rep, MIG_BAG_MISSING, "bagit.txT"));
}

static void
test_bagit__tamper_truncated(void **state)
{
	struct fx *f = *state;
	struct mig_bag_manifest *m = mig_bag_manifest_new();
	struct mig_bag_validate_opts opts = { 0 };
	char hex[65];

	write_bag(f);
	put_text(f->bag, "data/a.csv.age", "alpha,beta\n");
	/* Without known sizes a short file is "altered". */
	assert_int_equal(validate(f), MIG_ERR_VERIFY);
	assert_true(has(&f->rep, MIG_BAG_ALTERED, "data/a.csv.age"));

	assert_non_null(m);
	assert_int_equal(mig_bag_manifest_add(m, "a.csv.age",
	    hexof("SHA256", payload[0][1], hex), strlen(payload[0][1]),
	    f->ctx), 0);
	opts.expect = m;
	mig_bag_report_free(&f->rep);
	assert_int_equal(mig_bag_validate(f->bag, &opts, &f->rep, f->ctx),
	    MIG_ERR_VERIFY);
	assert_true(has(&f->rep, MIG_BAG_TRUNCATED, "data/a.csv.age"));
	mig_bag_manifest_free(m);
}

static void
test_bagit__malformed(void **state)
{
	struct fx *f = *state;
	char hex[65];

	write_bag(f);
	edit(f->bag, "manifest-sha256.txt", "  data/a.csv.age",
	    "  data/../../../etc/passwd");
	assert_int_equal(validate(f), MIG_ERR_FORMAT);
	assert_true(has(&f->rep, MIG_BAG_FORMAT, "manifest-sha256.txt"));
	assert_true(has(&f->rep, MIG_BAG_EXTRA, "data/a.csv.age"));

	write_bag(f);
	hexof("SHA256", payload[0][1], hex);
	edit(f->bag, "manifest-sha256.txt", hex, "nothex");
	assert_int_equal(validate(f), MIG_ERR_FORMAT);

	write_bag(f);
	edit(f->bag, "manifest-sha256.txt", "  data/a.csv.age",
	    "  /etc/passwd");
	assert_int_equal(validate(f), MIG_ERR_FORMAT);

	write_bag(f);
	edit(f->bag, "manifest-sha256.txt", "  data/a.csv.age", "  bagit.txt");
	assert_int_equal(validate(f), MIG_ERR_FORMAT);

	/* Not a bag at all. */
	rm_file(f->bag, "bagit.txt");
	assert_int_equal(validate(f), MIG_ERR_FORMAT);
	assert_non_null(strstr(mig_errmsg(f->ctx), "not a bag"));

	mig_bag_report_free(&f->rep);
	assert_int_equal(mig_bag_validate("/nonexistent/bag", NULL, &f->rep,
	    f->ctx), MIG_ERR_NOTFOUND);
}

static void
test_bagit__symlink_refused(void **state)
{
	struct fx *f = *state;
	char path[512];

	write_bag(f);
	(void)snprintf(path, sizeof(path), "%s/data/link", f->bag);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	assert_int_equal(validate(f), MIG_ERR_FORMAT);
	assert_true(has(&f->rep, MIG_BAG_FORMAT, "data/link"));
}

/* Does the report hold a finding of kind for path whose detail has s? */
static bool
has_detail(const struct mig_bag_report *rep, enum mig_bag_kind kind,
    const char *path, const char *s)
{
	size_t i;

	for (i = 0; i < rep->nfindings; i++)
		if (rep->findings[i].kind == kind &&
		    strcmp(rep->findings[i].path, path) == 0 &&
		    strstr(rep->findings[i].detail, s) != NULL)
			return true;
	return false;
}

/* A fresh bag, the one write_bag() makes, and nothing outside it. */
static void
fresh_bag(struct fx *f)
{
	char outside[512];
	struct stat sb;

	(void)snprintf(outside, sizeof(outside), "%s/outside", f->root);
	if (lstat(outside, &sb) == 0)
		assert_int_equal(tu_rm_tree(outside), 0);
	if (lstat(f->bag, &sb) == 0)
		assert_int_equal(tu_rm_tree(f->bag), 0);
	write_bag(f);
}

/* Moves BAG/rel to ROOT/outside/rel and puts a link to it in its place. */
static void
link_out(struct fx *f, const char *rel)
{
	char from[512], to[512];

	(void)snprintf(from, sizeof(from), "%s/%s", f->bag, rel);
	(void)snprintf(to, sizeof(to), "%s/outside/%s", f->root, rel);
	mkparents(to);
	assert_int_equal(rename(from, to), 0);
	assert_int_equal(symlink(to, from), 0);
}

/*
 * Links and special files inside a bag are findings: never followed,
 * never hashed, never a reason to stop (or to say the bag is fine).
 */
static void
test_bagit__odd_entries(void **state)
{
	static const char *const tags[] = {
		"bag-info.txt", "migrate-manifest.json.age", "bagit.txt",
	};
	struct fx *f = *state;
	char path[512];
	size_t i;

	/* A payload file replaced by a link to an identical copy. */
	fresh_bag(f);
	link_out(f, "data/a.csv.age");
	assert_int_equal(validate(f), MIG_ERR_FORMAT);
	assert_true(has_detail(&f->rep, MIG_BAG_FORMAT, "data/a.csv.age",
	    "symbolic link in the payload refused"));
	assert_true(has(&f->rep, MIG_BAG_MISSING, "data/a.csv.age"));
	assert_int_equal(f->rep.files_hashed, NPAYLOAD - 1);

	/* A link to a directory outside. */
	fresh_bag(f);
	(void)snprintf(path, sizeof(path), "%s/outside", f->root);
	(void)mkdir(path, 0755);
	(void)snprintf(path, sizeof(path), "%s/data/sub/out", f->bag);
	assert_int_equal(symlink("../../../../outside", path), 0);
	assert_int_equal(validate(f), MIG_ERR_FORMAT);
	assert_true(has_detail(&f->rep, MIG_BAG_FORMAT, "data/sub/out",
	    "symbolic link in the payload refused"));
	assert_int_equal(f->rep.nfindings, 1);

	/* A FIFO: a finding, and nothing waits for a writer. */
	fresh_bag(f);
	(void)snprintf(path, sizeof(path), "%s/data/fifo", f->bag);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(validate(f), MIG_ERR_FORMAT);
	assert_true(has_detail(&f->rep, MIG_BAG_FORMAT, "data/fifo",
	    "not a regular file"));
	assert_int_equal(f->rep.nfindings, 1);

	/* data/ itself a link. */
	fresh_bag(f);
	link_out(f, "data");
	assert_int_equal(validate(f), MIG_ERR_FORMAT);
	assert_true(has_detail(&f->rep, MIG_BAG_FORMAT, "data",
	    "symbolic link"));
	assert_true(has(&f->rep, MIG_BAG_MISSING, "data/sub/deep/c.age"));
	assert_int_equal(f->rep.files_hashed, 0);

	/* Tag files: a link in place of each is a finding, not "valid". */
	for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		fresh_bag(f);
		link_out(f, tags[i]);
		assert_int_equal(validate(f), MIG_ERR_FORMAT);
		assert_true(has_detail(&f->rep, MIG_BAG_FORMAT, tags[i],
		    "symbolic link"));
	}
	assert_string_equal(f->rep.version, "");	/* bagit.txt, last */
	fresh_bag(f);
	rm_file(f->bag, "manifest-sha256.txt");
	(void)snprintf(path, sizeof(path), "%s/manifest-sha256.txt", f->bag);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(validate(f), MIG_ERR_FORMAT);
	assert_true(has_detail(&f->rep, MIG_BAG_FORMAT, "manifest-sha256.txt",
	    "not a regular file"));
}

/* --- Hand-made bags ---------------------------------------------------- */

static void
test_bagit__v097_crlf_bom(void **state)
{
	struct fx *f = *state;
	char hex[65], text[512];

	put_text(f->bag, "bagit.txt", "BagIt-Version: 0.97\r\n"
	    "Tag-File-Character-Encoding: UTF-8\r\n");
	put_text(f->bag, "data/x%0A.txt", "literal");
	/* 0.97 takes names literally: no percent-decoding. */
	(void)snprintf(text, sizeof(text), "%s  data/x%%0A.txt\r\n",
	    hexof("SHA256", "literal", hex));
	put_text(f->bag, "manifest-sha256.txt", text);
	put_text(f->bag, "bag-info.txt", "Payload-Oxum: 7.1\r\n"
	    "Contact-Name: A. Person\r\n  continued\r\n");
	assert_int_equal(validate(f), 0);
	assert_string_equal(f->rep.version, "0.97");
	assert_string_equal(mig_bag_report_info(&f->rep, "Contact-Name"),
	    "A. Person continued");

	/* Every version refuses a byte-order mark in bagit.txt. */
	put_text(f->bag, "bagit.txt", "\xEF\xBB\xBF" "BagIt-Version: 0.97\r\n"
	    "Tag-File-Character-Encoding: UTF-8\r\n");
	assert_int_equal(validate(f), MIG_ERR_FORMAT);
	assert_true(has(&f->rep, MIG_BAG_FORMAT, "bagit.txt"));
	put_text(f->bag, "bagit.txt", "\xEF\xBB\xBF" "BagIt-Version: 1.0\n"
	    "Tag-File-Character-Encoding: UTF-8\n");
	assert_int_equal(validate(f), MIG_ERR_FORMAT);
	/* Unknown versions are refused. */
	put_text(f->bag, "bagit.txt", "BagIt-Version: 2.0\n"
	    "Tag-File-Character-Encoding: UTF-8\n");
	assert_int_equal(validate(f), MIG_ERR_FORMAT);
	put_text(f->bag, "bagit.txt", "BagIt-Version: 1.0\n"
	    "Tag-File-Character-Encoding: EBCDIC\n");
	assert_int_equal(validate(f), MIG_ERR_FORMAT);
}

static void
test_bagit__md5_sha512(void **state)
{
	struct fx *f = *state;
	char hex[129], text[1024];

	put_text(f->bag, "bagit.txt", "BagIt-Version: 1.0\n"
	    "Tag-File-Character-Encoding: UTF-8\n");
	put_text(f->bag, "data/one", "one");
	put_text(f->bag, "data/two words.txt", "two");
	(void)snprintf(text, sizeof(text), "%s data/one\n",
	    hexof("MD5", "one", hex));
	(void)snprintf(text + strlen(text), sizeof(text) - strlen(text),
	    "%s\tdata/two words.txt\n", hexof("MD5", "two", hex));
	put_text(f->bag, "manifest-md5.txt", text);
	(void)snprintf(text, sizeof(text), "%s  data/two words.txt\n",
	    hexof("SHA512", "two", hex));
	(void)snprintf(text + strlen(text), sizeof(text) - strlen(text),
	    "%s  data/one\n", hexof("SHA512", "one", hex));
	put_text(f->bag, "manifest-sha512.txt", text);
	assert_int_equal(validate(f), 0);
	assert_string_equal(f->rep.payload_algs, "md5,sha512");
	assert_int_equal(f->rep.files_hashed, 2);

	put_text(f->bag, "data/one", "One");
	assert_int_equal(validate(f), MIG_ERR_VERIFY);
	assert_true(has(&f->rep, MIG_BAG_ALTERED, "data/one"));
	assert_int_equal(f->rep.nfindings, 1);

	/* Listed in one manifest only: not in every manifest. */
	put_text(f->bag, "data/one", "one");
	(void)snprintf(text, sizeof(text), "%s  data/one\n",
	    hexof("SHA512", "one", hex));
	put_text(f->bag, "manifest-sha512.txt", text);
	assert_int_equal(validate(f), MIG_ERR_VERIFY);
	assert_true(has(&f->rep, MIG_BAG_EXTRA, "data/two words.txt"));

	/* An algorithm nobody can check. */
	(void)snprintf(text, sizeof(text), "%s  data/one\n",
	    hexof("SHA512", "one", hex));
	(void)snprintf(text + strlen(text), sizeof(text) - strlen(text),
	    "%s  data/two words.txt\n", hexof("SHA512", "two", hex));
	put_text(f->bag, "manifest-sha512.txt", text);
	assert_int_equal(validate(f), 0);
	put_text(f->bag, "manifest-whirlpool.txt", "");
	assert_int_equal(validate(f), MIG_ERR_FORMAT);
	assert_true(has(&f->rep, MIG_BAG_FORMAT, "manifest-whirlpool.txt"));
}

static void
test_bagit__fetch(void **state)
{
	struct fx *f = *state;
	char hex[65], text[1024];

	put_text(f->bag, "bagit.txt", "BagIt-Version: 1.0\n"
	    "Tag-File-Character-Encoding: UTF-8\n");
	put_text(f->bag, "data/here", "here");
	(void)snprintf(text, sizeof(text), "%s  data/here\n",
	    hexof("SHA256", "here", hex));
	(void)snprintf(text + strlen(text), sizeof(text) - strlen(text),
	    "%s  data/remote.bin\n", hexof("SHA256", "remote bytes", hex));
	put_text(f->bag, "manifest-sha256.txt", text);
	put_text(f->bag, "fetch.txt",
	    "https://example.org/remote.bin 12 data/remote.bin\n");
	assert_int_equal(validate(f), MIG_ERR_VERIFY);
	assert_true(has(&f->rep, MIG_BAG_FETCH, "data/remote.bin"));
	assert_int_equal(f->rep.nfindings, 1);
	assert_int_equal(f->rep.fetch_entries, 1);

	/* Fetched: complete and valid. */
	put_text(f->bag, "data/remote.bin", "remote bytes");
	assert_int_equal(validate(f), 0);

	/* Fetched short: truncated, thanks to the fetch.txt length. */
	put_text(f->bag, "data/remote.bin", "remote");
	assert_int_equal(validate(f), MIG_ERR_VERIFY);
	assert_true(has(&f->rep, MIG_BAG_TRUNCATED, "data/remote.bin"));

	/* A fetch entry must be in the payload manifests. */
	put_text(f->bag, "data/remote.bin", "remote bytes");
	put_text(f->bag, "fetch.txt",
	    "https://example.org/x - data/unlisted\n");
	assert_int_equal(validate(f), MIG_ERR_FORMAT);
	assert_true(has(&f->rep, MIG_BAG_FORMAT, "fetch.txt"));
}

static void
test_bagit__encoded_names(void **state)
{
	struct fx *f = *state;
	char hex[65], text[1024];

	put_text(f->bag, "bagit.txt", "BagIt-Version: 1.0\n"
	    "Tag-File-Character-Encoding: UTF-8\n");
	put_text(f->bag, "data/new\nline.txt", "nl");
	put_text(f->bag, "data/cr\rhere", "cr");
	put_text(f->bag, "data/100%.txt", "pct");
	put_text(f->bag, "data/%41 stays", "lit");
	(void)snprintf(text, sizeof(text), "%s  data/new%%0Aline.txt\n",
	    hexof("SHA256", "nl", hex));
	(void)snprintf(text + strlen(text), sizeof(text) - strlen(text),
	    "%s  data/cr%%0dhere\n", hexof("SHA256", "cr", hex));
	(void)snprintf(text + strlen(text), sizeof(text) - strlen(text),
	    "%s  data/100%%25.txt\n", hexof("SHA256", "pct", hex));
	(void)snprintf(text + strlen(text), sizeof(text) - strlen(text),
	    "%s  data/%%41 stays\n", hexof("SHA256", "lit", hex));
	put_text(f->bag, "manifest-sha256.txt", text);
	assert_int_equal(validate(f), 0);
	assert_int_equal(f->rep.files_hashed, 4);

	/* Findings show names encoded, never raw control characters. */
	rm_file(f->bag, "data/new\nline.txt");
	assert_int_equal(validate(f), MIG_ERR_VERIFY);
	assert_true(has(&f->rep, MIG_BAG_MISSING, "data/new%0Aline.txt"));
}

/*
 * Control characters in directory and file names: read beneath the bag
 * all the same, and never shown raw in a finding.
 */
static void
test_bagit__control_names(void **state)
{
	struct fx *f = *state;
	char hex[65], text[1024], path[512], *man;
	size_t i;

	put_text(f->bag, "bagit.txt", "BagIt-Version: 1.0\n"
	    "Tag-File-Character-Encoding: UTF-8\n");
	put_text(f->bag, "data/tab\there/esc\x1b[31m", "esc");
	(void)snprintf(text, sizeof(text), "%s  data/tab\there/esc\x1b[31m\n",
	    hexof("SHA256", "esc", hex));
	put_text(f->bag, "manifest-sha256.txt", text);
	assert_int_equal(validate(f), 0);
	assert_int_equal(f->rep.files_hashed, 1);

	/* A FIFO and a link so named are findings, shown escaped. */
	(void)snprintf(path, sizeof(path), "%s/data/tab\there/fifo\r", f->bag);
	assert_int_equal(mkfifo(path, 0600), 0);
	(void)snprintf(path, sizeof(path), "%s/data/tab\there/ln\n", f->bag);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	assert_int_equal(validate(f), MIG_ERR_FORMAT);
	assert_true(has(&f->rep, MIG_BAG_FORMAT, "data/tab%09here/fifo%0D"));
	assert_true(has(&f->rep, MIG_BAG_FORMAT, "data/tab%09here/ln%0A"));
	/* A tag file so named, refused when opened: its message too. */
	(void)snprintf(path, sizeof(path), "%s/tag\nfifo", f->bag);
	assert_int_equal(mkfifo(path, 0600), 0);
	man = get_text(f->bag, "manifest-sha256.txt");
	(void)snprintf(text, sizeof(text), "%s  manifest-sha256.txt\n"
	    "%s  tag%%0Afifo\n", hexof("SHA256", man, hex), hex);
	free(man);
	put_text(f->bag, "tagmanifest-sha256.txt", text);
	assert_int_equal(validate(f), MIG_ERR_FORMAT);
	assert_true(has_detail(&f->rep, MIG_BAG_FORMAT, "tag%0Afifo",
	    "tag%0Afifo: not a regular file"));
	assert_int_equal(f->rep.nfindings, 3);
	for (i = 0; i < f->rep.nfindings; i++)
		assert_null(strpbrk(f->rep.findings[i].detail, "\t\r\n\x1b"));
}

static void
test_bagit__nfc_nfd(void **state)
{
	struct fx *f = *state;
	char hex[65], text[1024];

	put_text(f->bag, "bagit.txt", "BagIt-Version: 1.0\n"
	    "Tag-File-Character-Encoding: UTF-8\n");
	/* On disk NFD, in the manifest NFC, and the other way round. */
	put_text(f->bag, "data/cafe\xCC\x81.txt", "coffee");
	put_text(f->bag, "data/\xC3\x85ngstr\xC3\xB6m", "unit");
	(void)snprintf(text, sizeof(text), "%s  data/caf\xC3\xA9.txt\n",
	    hexof("SHA256", "coffee", hex));
	(void)snprintf(text + strlen(text), sizeof(text) - strlen(text),
	    "%s  data/A\xCC\x8Angstro\xCC\x88m\n", hexof("SHA256", "unit",
	    hex));
	put_text(f->bag, "manifest-sha256.txt", text);
	assert_int_equal(validate(f), 0);
	assert_int_equal(f->rep.files_hashed, 2);

	/* Different letters still differ. */
	put_text(f->bag, "manifest-sha256.txt", "");
	(void)snprintf(text, sizeof(text), "%s  data/caf\xC3\xA8.txt\n",
	    hexof("SHA256", "coffee", hex));
	put_text(f->bag, "manifest-sha256.txt", text);
	assert_int_equal(validate(f), MIG_ERR_VERIFY);
	assert_int_equal(f->rep.counts[MIG_BAG_MISSING], 1);
	assert_int_equal(f->rep.counts[MIG_BAG_EXTRA], 2);
}

static void
test_bagit__latin1(void **state)
{
	struct fx *f = *state;
	char hex[65], text[512];

	put_text(f->bag, "bagit.txt", "BagIt-Version: 1.0\n"
	    "Tag-File-Character-Encoding: ISO-8859-1\n");
	put_text(f->bag, "data/caf\xC3\xA9", "x");
	(void)snprintf(text, sizeof(text), "%s  data/caf\xE9\n",
	    hexof("SHA256", "x", hex));
	put_text(f->bag, "manifest-sha256.txt", text);
	assert_int_equal(validate(f), 0);
}

static void
test_bagit__many_files(void **state)
{
	struct fx *f = *state;
	char hex[65], rel[64], content[32], *text, *p;
	size_t i, n = 10000, cap = n * 100;

	put_text(f->bag, "bagit.txt", "BagIt-Version: 1.0\n"
	    "Tag-File-Character-Encoding: UTF-8\n");
	text = p = malloc(cap);
	assert_non_null(text);
	for (i = 0; i < n; i++) {
		(void)snprintf(rel, sizeof(rel), "data/d%02zu/f%05zu", i % 50,
		    i);
		(void)snprintf(content, sizeof(content), "%zu", i);
		put_text(f->bag, rel, content);
		p += sprintf(p, "%s  %s\n", hexof("SHA256", content, hex),
		    rel);
	}
	put_text(f->bag, "manifest-sha256.txt", text);
	free(text);
	assert_int_equal(validate(f), 0);
	assert_int_equal(f->rep.files_hashed, n);
	put_text(f->bag, "data/d07/f00007", "8");
	assert_int_equal(validate(f), MIG_ERR_VERIFY);
	assert_int_equal(f->rep.nfindings, 1);
	assert_true(has(&f->rep, MIG_BAG_ALTERED, "data/d07/f00007"));
}

/*
 * A manifest read as a stream (issue 20) across its 1 MiB buffer: CRLF
 * lines of 256 bytes after one of 257, so that a CR is the last byte of
 * the first read and its LF the first of the next.  Split wrongly, the
 * pair would count as two lines: the bad line at the end is named with
 * the number it has in the file.
 */
static void
test_bagit__manifest_stream_boundary(void **state)
{
	struct fx *f = *state;
	char hex[65], rel[256], *text, *p;
	size_t i, n = 9000, len;

	put_text(f->bag, "bagit.txt", "BagIt-Version: 1.0\n"
	    "Tag-File-Character-Encoding: UTF-8\n");
	(void)hexof("SHA256", "a", hex);
	text = p = malloc(n * 260 + 512);
	assert_non_null(text);
	for (i = 0; i < n; i++) {
		/* 64 + 2 + path + 2 = 256 (257 for the first line). */
		len = 256 - 68 + (i == 0);
		(void)snprintf(rel, sizeof(rel), "data/%0*zu", (int)len - 5, i);
		if (i == 0)
			(void)snprintf(rel, sizeof(rel), "data/a%0*d",
			    (int)len - 6, 0);
		p += sprintf(p, "%s  %s\r\n", hex, rel);
		if (i == 0)
			assert_int_equal(p - text, 257);
	}
	assert_true(p - text > 1048576 + 256);
	assert_int_equal(text[1048575], '\r');
	assert_int_equal(text[1048576], '\n');
	p += sprintf(p, "zz  data/bad\r\n");
	put_text(f->bag, "manifest-sha256.txt", text);
	free(text);
	assert_int_equal(validate(f), MIG_ERR_FORMAT);
	if (!has_detail(&f->rep, MIG_BAG_FORMAT, "manifest-sha256.txt",
	    "line 9001:")) {
		dump(&f->rep);
		fail_msg("the bad line is not named as line 9001");
	}
}

/* --- Parsers ----------------------------------------------------------- */

static void
test_bagit__parse_declaration(void **state)
{
	static const struct {
		const char	*text;
		int		 want;
		const char	*version;
	} cases[] = {
		{ "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n",
		    0, "1.0" },
		{ "BagIt-Version: 0.97\rTag-File-Character-Encoding: UTF-8",
		    0, "0.97" },
		{ "BagIt-Version:1.0\r\nTag-File-Character-Encoding:UTF-8\r\n",
		    0, "1.0" },
		{ "BagIt-Version: 1.0\n", MIG_ERR_FORMAT, NULL },
		{ "Tag-File-Character-Encoding: UTF-8\n", MIG_ERR_FORMAT,
		    NULL },
		{ "BagIt-Version: one\nTag-File-Character-Encoding: UTF-8\n",
		    MIG_ERR_FORMAT, NULL },
		{ "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
		    "Extra: x\n", MIG_ERR_FORMAT, NULL },
		{ "BagIt-Version: 1.0\nBagIt-Version: 1.0\n", MIG_ERR_FORMAT,
		    NULL },
		{ "", MIG_ERR_FORMAT, NULL },
	};
	char version[16], enc[32], err[128];
	bool bom;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = mig_bag_parse_declaration(cases[i].text,
		    strlen(cases[i].text), version, sizeof(version), enc,
		    sizeof(enc), &bom, err, sizeof(err));

		if (r != cases[i].want)
			fail_msg("case %zu: %d, want %d (%s)", i, r,
			    cases[i].want, err);
		if (r == 0) {
			assert_string_equal(version, cases[i].version);
			assert_string_equal(enc, "UTF-8");
		}
	}
}

static void
test_bagit__parse_lines(void **state)
{
	static const struct {
		const char	*line;
		bool		 decode;
		const char	*path;	/* NULL: refused */
	} cases[] = {
		{ "0a0b  data/x", true, "data/x" },
		{ "0A0B\tdata/with space ", true, "data/with space " },
		{ "0a0b data/a%0Ab%0dc%25d%41", true, "data/a\nb\rc%d%41" },
		{ "0a0b data/a%0Ab", false, "data/a%0Ab" },
		{ "0a0b data/%", true, "data/%" },
		{ "0a0b", true, NULL },
		{ "0a0b   ", true, NULL },
		{ "0a0 data/x", true, NULL },
		{ "0a0bc data/x", true, NULL },
		{ "0g0b data/x", true, NULL },
		{ "", true, NULL },
	};
	unsigned char d[2];
	const char *why;
	char *path;
	size_t i;
	int64_t size;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = mig_bag_parse_manifest_line(cases[i].line,
		    strlen(cases[i].line), 2, cases[i].decode, d, &path,
		    &why);

		if (cases[i].path == NULL) {
			assert_int_equal(r, MIG_ERR_FORMAT);
			assert_non_null(why);
			assert_null(path);
			continue;
		}
		if (r != 0)
			fail_msg("case %zu: %s", i, why);
		assert_string_equal(path, cases[i].path);
		assert_int_equal(d[0], 0x0a);
		assert_int_equal(d[1], 0x0b);
		free(path);
	}

	assert_int_equal(mig_bag_parse_fetch_line("http://x/y 12 data/y", 20,
	    true, &size, &path, &why), 0);
	assert_int_equal(size, 12);
	assert_string_equal(path, "data/y");
	free(path);
	assert_int_equal(mig_bag_parse_fetch_line("u - data/a b", 12, true,
	    &size, &path, &why), 0);
	assert_int_equal(size, -1);
	assert_string_equal(path, "data/a b");
	free(path);
	assert_int_equal(mig_bag_parse_fetch_line("u 1x data/y", 11, true,
	    &size, &path, &why), MIG_ERR_FORMAT);
	assert_int_equal(mig_bag_parse_fetch_line("u 12", 4, true, &size,
	    &path, &why), MIG_ERR_FORMAT);
	assert_int_equal(mig_bag_parse_fetch_line("u 99999999999999999999 d",
	    24, true, &size, &path, &why), MIG_ERR_FORMAT);
}

static void
test_bagit__parse_paths_oxum(void **state)
{
	static const char *const good[] = {
		"data/x", "data/a b/c", "data/..x", "data/.hidden", "tag.txt",
	};
	static const char *const bad[] = {
		"", "/data/x", "data/../x", "data//x", "data/./x", "..",
		"data/x/", "data/..",
	};
	uint64_t b, n;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_null(mig_bag_path_problem(good[i], strlen(good[i])));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_non_null(mig_bag_path_problem(bad[i], strlen(bad[i])));
	assert_non_null(mig_bag_path_problem("a\0b", 3));

	assert_int_equal(mig_bag_parse_oxum("279164409832.1198", &b, &n), 0);
	assert_int_equal(b, 279164409832ULL);
	assert_int_equal(n, 1198);
	assert_int_equal(mig_bag_parse_oxum("0.0", &b, &n), 0);
	assert_int_equal(mig_bag_parse_oxum("1", &b, &n), MIG_ERR_FORMAT);
	assert_int_equal(mig_bag_parse_oxum(".1", &b, &n), MIG_ERR_FORMAT);
	assert_int_equal(mig_bag_parse_oxum("1.", &b, &n), MIG_ERR_FORMAT);
	assert_int_equal(mig_bag_parse_oxum("1.2.3", &b, &n), MIG_ERR_FORMAT);
	assert_int_equal(mig_bag_parse_oxum("1 .2", &b, &n), MIG_ERR_FORMAT);
	assert_int_equal(mig_bag_parse_oxum("99999999999999999999999.1", &b,
	    &n), MIG_ERR_FORMAT);
}

struct info_seen {
	char	labels[8][64];
	char	values[8][128];
	int	n;
	int	errors;
};

static int
info_cb(void *arg, const char *label, const char *value)
{
	struct info_seen *s = arg;

	if (s->n < 8) {
		(void)snprintf(s->labels[s->n], 64, "%s", label);
		(void)snprintf(s->values[s->n], 128, "%s", value);
	}
	s->n++;
	return 0;
}

static void
info_errcb(void *arg, size_t lineno, const char *why)
{
	struct info_seen *s = arg;

	(void)lineno;
	(void)why;
	s->errors++;
}

static void
test_bagit__parse_info(void **state)
{
	static const char text[] =
	    "Source-Organization: Example\n"
	    "External-Description: a long\n"
	    "   description folded\n"
	    "\tover lines\n"
	    "Empty:\n"
	    "Key : value: with colon \n"
	    "no colon here\n"
	    ": no label\n"
	    "Source-Organization: Twice";
	struct info_seen s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(mig_bag_parse_info(text, sizeof(text) - 1, info_cb,
	    info_errcb, &s), 0);
	assert_int_equal(s.n, 5);
	assert_int_equal(s.errors, 2);
	assert_string_equal(s.labels[1], "External-Description");
	assert_string_equal(s.values[1], "a long description folded over "
	    "lines");
	assert_string_equal(s.values[2], "");
	assert_string_equal(s.labels[3], "Key");
	assert_string_equal(s.values[3], "value: with colon");
	assert_string_equal(s.values[4], "Twice");
}

static void
test_bagit__nfd(void **state)
{
	static const char *const same[][2] = {
		{ "caf\xC3\xA9", "cafe\xCC\x81" },
		/* Angstrom sign, A-ring, A + ring above. */
		{ "\xE2\x84\xAB", "A\xCC\x8A" },
		{ "\xC3\x85", "A\xCC\x8A" },
		/* Marks of different classes commute: dot below, dot above. */
		{ "a\xCC\xA3\xCC\x87", "a\xCC\x87\xCC\xA3" },
		{ "\xE1\xBA\xA1\xCC\x87", "a\xCC\x87\xCC\xA3" },
		/* Vietnamese: e with circumflex and acute. */
		{ "\xE1\xBA\xBF", "e\xCC\x82\xCC\x81" },
		/* Hangul syllable GA and its jamo. */
		{ "\xEA\xB0\x80", "\xE1\x84\x80\xE1\x85\xA1" },
		/* Greek alpha with tonos. */
		{ "\xCE\xAC", "\xCE\xB1\xCC\x81" },
	};
	static const char *const differ[][2] = {
		{ "caf\xC3\xA9", "caf\xC3\xA8" },
		/* Same-class marks do not commute. */
		{ "a\xCC\x81\xCC\x80", "a\xCC\x80\xCC\x81" },
		/* Compatibility forms stay distinct. */
		{ "\xEF\xAC\x81", "fi" },
	};
	char *a, *b;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		a = mig_bag_nfd(same[i][0], strlen(same[i][0]), NULL);
		b = mig_bag_nfd(same[i][1], strlen(same[i][1]), NULL);
		assert_non_null(a);
		assert_non_null(b);
		if (strcmp(a, b) != 0)
			fail_msg("case %zu differs", i);
		free(a);
		free(b);
	}
	for (i = 0; i < sizeof(differ) / sizeof(differ[0]); i++) {
		a = mig_bag_nfd(differ[i][0], strlen(differ[i][0]), NULL);
		b = mig_bag_nfd(differ[i][1], strlen(differ[i][1]), NULL);
		assert_string_not_equal(a, b);
		free(a);
		free(b);
	}
	/* Invalid UTF-8 is compared as bytes. */
	a = mig_bag_nfd("\xC3(\xFF", 3, NULL);
	assert_string_equal(a, "\xC3(\xFF");
	free(a);
}

/* --- The bags under tests/data/bagit --------------------------------- */

#define BAGS_DIR	"tests/data/bagit"

/*
 * Every bag tests/data/bagit/make-bags.sh writes, what the validator must
 * say about it and, for an invalid one, a finding it must hold: its kind,
 * its path and part of its detail.
 */
static const struct {
	const char	*dir;
	int		 want;		/* 0, MIG_ERR_VERIFY, MIG_ERR_FORMAT */
	const char	*version;
	enum mig_bag_kind kind;
	const char	*path;
	const char	*detail;
} bags[] = {
	{ "valid/v093-basic", 0, "0.93", 0, NULL, NULL },
	{ "valid/v094-basic", 0, "0.94", 0, NULL, NULL },
	{ "valid/v095-union", 0, "0.95", 0, NULL, NULL },
	{ "valid/v096-star-fetch", 0, "0.96", 0, NULL, NULL },
	{ "valid/v097-tagdir-literal", 0, "0.97", 0, NULL, NULL },
	{ "valid/v097-utf16be-declared", 0, "0.97", 0, NULL, NULL },
	{ "valid/v100-all-algorithms", 0, "1.0", 0, NULL, NULL },
	{ "valid/v100-cr-lines", 0, "1.0", 0, NULL, NULL },
	{ "valid/v100-dot-slash", 0, "1.0", 0, NULL, NULL },
	{ "valid/v100-latin1", 0, "1.0", 0, NULL, NULL },
	{ "valid/v100-nfc-nfd", 0, "1.0", 0, NULL, NULL },
	{ "valid/v100-percent", 0, "1.0", 0, NULL, NULL },
	{ "valid/v100-utf16be-bom", 0, "1.0", 0, NULL, NULL },
	{ "valid/v100-utf16le-bom", 0, "1.0", 0, NULL, NULL },
	{ "invalid/bom-in-bagit-txt", MIG_ERR_FORMAT, "", MIG_BAG_FORMAT,
	    "bagit.txt", "byte-order mark" },
	{ "invalid/bom-in-bagit-txt-v097", MIG_ERR_FORMAT, "",
	    MIG_BAG_FORMAT, "bagit.txt", "byte-order mark" },
	{ "invalid/bom-in-utf8-manifest", MIG_ERR_FORMAT, "1.0",
	    MIG_BAG_FORMAT, "manifest-sha256.txt", "byte-order mark" },
	{ "invalid/dot-dot-path", MIG_ERR_FORMAT, "1.0", MIG_BAG_FORMAT,
	    "manifest-sha256.txt", "escapes the bag" },
	{ "invalid/fetch-not-fetched", MIG_ERR_VERIFY, "1.0", MIG_BAG_FETCH,
	    "data/b.txt", "not fetched" },
	{ "invalid/fetch-not-in-manifest", MIG_ERR_FORMAT, "1.0",
	    MIG_BAG_FORMAT, "fetch.txt", "in no payload manifest" },
	{ "invalid/missing-payload-file", MIG_ERR_VERIFY, "1.0",
	    MIG_BAG_MISSING, "data/b.txt", "not in the bag" },
	{ "invalid/no-bagit-txt", MIG_ERR_FORMAT, "", MIG_BAG_FORMAT,
	    "bagit.txt", "not a bag" },
	{ "invalid/no-payload-manifest", MIG_ERR_FORMAT, "1.0",
	    MIG_BAG_FORMAT, "", "no payload manifest" },
	{ "invalid/not-in-every-manifest", MIG_ERR_VERIFY, "1.0",
	    MIG_BAG_EXTRA, "data/b.txt", "manifest-md5.txt" },
	{ "invalid/oxum-mismatch", MIG_ERR_VERIFY, "1.0", MIG_BAG_OXUM,
	    "bag-info.txt", "11.3" },
	{ "invalid/oxum-repeated", MIG_ERR_FORMAT, "1.0", MIG_BAG_FORMAT,
	    "bag-info.txt", "2 times" },
	{ "invalid/payload-altered", MIG_ERR_VERIFY, "1.0", MIG_BAG_ALTERED,
	    "data/a.txt", "sha256" },
	{ "invalid/payload-not-in-manifest", MIG_ERR_VERIFY, "1.0",
	    MIG_BAG_EXTRA, "data/c.txt", "not in any payload manifest" },
	{ "invalid/star-in-v100", MIG_ERR_FORMAT, "1.0", MIG_BAG_FORMAT,
	    "manifest-sha256.txt", "md5sum binary mode" },
	{ "invalid/tagmanifest-lists-tagmanifest", MIG_ERR_FORMAT, "1.0",
	    MIG_BAG_FORMAT, "tagmanifest-sha256.txt", "must not list tag" },
	{ "invalid/tagmanifest-misses-manifest", MIG_ERR_FORMAT, "1.0",
	    MIG_BAG_FORMAT, "tagmanifest-sha256.txt", "payload manifest for "
	    "sha256" },
	{ "invalid/tagmanifest-wrong", MIG_ERR_VERIFY, "1.0",
	    MIG_BAG_ALTERED, "bag-info.txt", "tagmanifest-sha256.txt" },
	{ "invalid/unknown-encoding", MIG_ERR_FORMAT, "1.0", MIG_BAG_FORMAT,
	    "bagit.txt", "X-NO-SUCH-CHARSET" },
	{ "invalid/unknown-version", MIG_ERR_FORMAT, "0.92", MIG_BAG_FORMAT,
	    "bagit.txt", "unsupported BagIt-Version 0.92" },
	{ "invalid/utf16-bagit-txt", MIG_ERR_FORMAT, "", MIG_BAG_FORMAT,
	    "bagit.txt", "is UTF-16" },
	{ "invalid/utf16-truncated", MIG_ERR_FORMAT, "1.0", MIG_BAG_FORMAT,
	    "manifest-sha256.txt", "incomplete UTF-16 sequence" },
	{ "invalid/v093-not-in-every-manifest", MIG_ERR_VERIFY, "0.93",
	    MIG_BAG_EXTRA, "data/b.txt", "manifest-sha1.txt" },
	{ "invalid/v093-tag-checksum-wrong", MIG_ERR_VERIFY, "0.93",
	    MIG_BAG_ALTERED, "manifest-md5.txt", "manifest-md5.txt.sha1" },
	{ "invalid/v095-package-info-oxum", MIG_ERR_VERIFY, "0.95",
	    MIG_BAG_OXUM, "package-info.txt", "99.9" },
	{ "invalid/v096-payload-altered", MIG_ERR_VERIFY, "0.96",
	    MIG_BAG_ALTERED, "data/a.txt", "md5" },
	{ "invalid/v096-tag-in-payload-manifest", MIG_ERR_FORMAT, "0.96",
	    MIG_BAG_FORMAT, "manifest-md5.txt", "not under data/" },
};
#define NBAGS	(sizeof(bags) / sizeof(bags[0]))

/* Fails when a bag directory under BAGS_DIR/sub is not in the table. */
static void
all_in_table(const char *sub)
{
	char dir[256], rel[512];
	struct dirent *de;
	size_t i;
	DIR *d;

	(void)snprintf(dir, sizeof(dir), "%s/%s", BAGS_DIR, sub);
	if ((d = opendir(dir)) == NULL)
		fail_msg("%s: %s (run from the top of the tree)", dir,
		    strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		(void)snprintf(rel, sizeof(rel), "%s/%s", sub, de->d_name);
		for (i = 0; i < NBAGS && strcmp(bags[i].dir, rel) != 0; i++)
			;
		if (i == NBAGS)
			fail_msg("%s/%s is in no row of the table", BAGS_DIR,
			    rel);
	}
	(void)closedir(d);
}

static void
test_bagit__table(void **state)
{
	struct mig_bag_report rep;
	struct mig_ctx *ctx;
	char dir[256];
	size_t i, bad = 0;
	int r;

	(void)state;
	all_in_table("valid");
	all_in_table("invalid");
	ctx = mig_ctx_new();
	assert_non_null(ctx);
	for (i = 0; i < NBAGS; i++) {
		(void)snprintf(dir, sizeof(dir), "%s/%s", BAGS_DIR,
		    bags[i].dir);
		mig_clearerr(ctx);
		r = mig_bag_validate(dir, NULL, &rep, ctx);
		if (r != bags[i].want || strcmp(rep.version,
		    bags[i].version) != 0 || (bags[i].path != NULL &&
		    !has_detail(&rep, bags[i].kind, bags[i].path,
		    bags[i].detail))) {
			print_message("%s: %d (%s), version \"%s\"; want %d, "
			    "version \"%s\"\n", bags[i].dir, r,
			    r != 0 ? mig_errmsg(ctx) : "valid", rep.version,
			    bags[i].want, bags[i].version);
			if (bags[i].path != NULL)
				print_message("  want %s %s: ...%s...\n",
				    mig_bag_kind_name(bags[i].kind),
				    bags[i].path, bags[i].detail);
			dump(&rep);
			bad++;
		}
		mig_bag_report_free(&rep);
	}
	mig_ctx_free(ctx);
	if (bad > 0)
		fail_msg("%zu of %zu bags judged wrongly", bad, NBAGS);
}

/* --- NFD against Unicode's NormalizationTest.txt ------------------------ */

#define NORMTEST	"/usr/share/unicode/NormalizationTest.txt"

static size_t
put_utf8(uint32_t cp, char *o)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/*
 * One field "1E0A 0323" of a test line as UTF-8 into out; the first code
 * point in *first.  Returns false on a malformed field.
 */
static bool
field_utf8(const char *f, const char *end, char *out, size_t outsz,
    uint32_t *first)
{
	size_t o = 0, n = 0;
	unsigned long cp;
	char *next;

	while (f < end) {
		if (*f == ' ') {
			f++;
			continue;
		}
		cp = strtoul(f, &next, 16);
		if (next == f || next > end || cp > 0x10FFFF || o + 5 > outsz)
			return false;
		if (n++ == 0)
			*first = (uint32_t)cp;
		o += put_utf8((uint32_t)cp, out + o);
		f = next;
	}
	out[o] = '\0';
	return n > 0;
}

/* Is NFD(s) exactly want? */
static bool
nfd_is(const char *s, const char *want)
{
	char *got = mig_bag_nfd(s, strlen(s), NULL);
	bool ok;

	assert_non_null(got);
	ok = strcmp(got, want) == 0;
	free(got);
	return ok;
}

/*
 * Checks one line "c1;c2;c3;c4;c5; # ...": NFD(c1) = NFD(c2) = NFD(c3) =
 * c3 and NFD(c4) = NFD(c5) = c5 (the file's own statement of the NFD
 * invariants).  Marks a single code point of part 1 in seen.
 */
static bool
norm_line(const char *line, bool part1, unsigned char *seen)
{
	char c[5][256];
	const char *p = line, *semi;
	uint32_t first = 0, cp;
	int i;

	for (i = 0; i < 5; i++) {
		if ((semi = strchr(p, ';')) == NULL ||
		    !field_utf8(p, semi, c[i], sizeof(c[i]),
		    i == 0 ? &first : &cp))
			fail_msg("NormalizationTest: bad line: %s", line);
		p = semi + 1;
	}
	if (part1)
		seen[first / 8] |= (unsigned char)(1u << (first % 8));
	return nfd_is(c[0], c[2]) && nfd_is(c[1], c[2]) &&
	    nfd_is(c[2], c[2]) && nfd_is(c[3], c[4]) && nfd_is(c[4], c[4]);
}

static FILE *
open_normtest(bool *piped)
{
	FILE *fp;

	*piped = false;
	if ((fp = fopen(NORMTEST, "r")) != NULL)
		return fp;
	/* Debian's unicode-data ships it compressed. */
	if (access(NORMTEST ".bz2", R_OK) != 0 ||
	    access("/usr/bin/bzip2", X_OK) != 0)
		return NULL;
	*piped = true;
	return popen("/usr/bin/bzip2 -dc " NORMTEST ".bz2", "r");
}

static void
test_bagit__nfd_unicode(void **state)
{
	unsigned char *seen;
	char line[1024], one[8];
	size_t lines = 0, bad = 0;
	bool part1 = false, piped;
	uint32_t cp;
	FILE *fp;

	(void)state;
	if ((fp = open_normtest(&piped)) == NULL) {
		print_message("skipped: no %s (Debian package unicode-data)\n",
		    NORMTEST);
		skip();
	}
	seen = calloc(0x110000 / 8, 1);
	assert_non_null(seen);
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (line[0] == '@') {
			part1 = strncmp(line, "@Part1 ", 7) == 0;
			continue;
		}
		lines++;
		if (!norm_line(line, part1, seen) && bad++ < 10)
			print_message("NFD differs: %s", line);
	}
	if (piped)
		assert_int_equal(pclose(fp), 0);
	else
		(void)fclose(fp);
	/* Code points Part 1 does not list are their own NFD. */
	for (cp = 0x80; cp < 0x110000; cp++) {
		if ((cp >= 0xD800 && cp <= 0xDFFF) ||
		    (seen[cp / 8] & (1u << (cp % 8))))
			continue;
		one[put_utf8(cp, one)] = '\0';
		if (!nfd_is(one, one) && bad++ < 10)
			print_message("NFD changes U+%04X\n", (unsigned)cp);
	}
	free(seen);
	print_message("NormalizationTest: %zu lines\n", lines);
	assert_true(lines > 18000);
	assert_int_equal(bad, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bagit__write_and_validate,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bagit__writer_refuses,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bagit__manifest_streamed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_bagit__manifest_streamed_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_bagit__manifest_replace_and_encode, setup, teardown),
		cmocka_unit_test(test_bagit__manifest_threads),
		cmocka_unit_test_setup_teardown(test_bagit__tamper_byte,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bagit__tamper_deleted,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bagit__tamper_added,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_bagit__tamper_manifest_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bagit__tamper_oxum,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_bagit__tamper_tagmanifest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bagit__tamper_truncated,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bagit__malformed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bagit__symlink_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bagit__odd_entries,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bagit__v097_crlf_bom,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bagit__md5_sha512,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bagit__fetch,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bagit__encoded_names,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bagit__control_names,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bagit__nfc_nfd,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bagit__latin1,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_bagit__manifest_stream_boundary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bagit__many_files,
		    setup, teardown),
		cmocka_unit_test(test_bagit__parse_declaration),
		cmocka_unit_test(test_bagit__parse_lines),
		cmocka_unit_test(test_bagit__parse_paths_oxum),
		cmocka_unit_test(test_bagit__parse_info),
		cmocka_unit_test(test_bagit__nfd),
		cmocka_unit_test(test_bagit__nfd_unicode),
		cmocka_unit_test(test_bagit__table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
