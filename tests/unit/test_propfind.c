/*
 * Unit tests for the PROPFIND multistatus parser (lib/transport/
 * propfind.c): answers as nginx and Apache send them, in one piece and
 * byte by byte, and the answers a hostile server could send instead.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "migrate/error.h"
#include "migrate/transport.h"

#include "transport/propfind_int.h"

#define BASE	"/dav/lake"

/* nginx (dav-ext) style: the D: prefix, a 404 propstat per response. */
static const char nginx_ms[] =
    "<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n"
    "<D:multistatus xmlns:D=\"DAV:\">\n"
    "<D:response><D:href>/dav/lake/</D:href><D:propstat><D:prop>"
    "<D:resourcetype><D:collection/></D:resourcetype>"
    "<D:getlastmodified>Sat, 05 Dec 2026 12:00:00 GMT</D:getlastmodified>"
    "</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>"
    "<D:propstat><D:prop><D:getcontentlength/></D:prop>"
    "<D:status>HTTP/1.1 404 Not Found</D:status></D:propstat></D:response>\n"
    "<D:response><D:href>/dav/lake/a%20b.txt</D:href><D:propstat><D:prop>"
    "<D:resourcetype/><D:getcontentlength>1234</D:getcontentlength>"
    "<D:getlastmodified>Thu, 01 Jan 1970 00:01:40 GMT</D:getlastmodified>"
    "</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>"
    "</D:response>\n"
    "<D:response><D:href>http://127.0.0.1:8080/dav/lake/sub/</D:href>"
    "<D:propstat><D:prop><D:resourcetype><D:collection/></D:resourcetype>"
    "</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>"
    "</D:response>\n"
    /* Not a direct child: ignored. */
    "<D:response><D:href>/dav/lake/sub/deeper</D:href><D:propstat>"
    "<D:prop/><D:status>HTTP/1.1 200 OK</D:status></D:propstat>"
    "</D:response>\n"
    "</D:multistatus>\n";

/* Apache style: a default namespace, CDATA, comments, entities. */
static const char apache_ms[] =
    "<?xml version=\"1.0\"?>"
    "<multistatus xmlns=\"DAV:\" xmlns:lp1=\"DAV:\"><!-- hi -->"
    "<response><href>/dav/lake/x&amp;y</href><propstat><prop>"
    "<lp1:getcontentlength><![CDATA[42]]></lp1:getcontentlength>"
    "<resourcetype/></prop><status>HTTP/1.1 200 OK</status></propstat>"
    "</response></multistatus>";

struct fx {
	struct mig_ctx	*ctx;
	struct mig_pf	 pf;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->ctx = mig_ctx_new();
	assert_non_null(f->ctx);
	assert_int_equal(mig_pf_init(&f->pf, BASE, "PROPFIND test", f->ctx),
	    0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	mig_pf_clear(&f->pf);
	mig_ctx_free(f->ctx);
	free(f);
	return 0;
}

/* The whole text in one piece, then the end: 0 or the error. */
static int
parse(struct fx *f, const char *text, size_t len)
{
	if (mig_pf_feed(&f->pf, text, len) != len)
		return f->pf.err;
	return mig_pf_finish(&f->pf);
}

static const struct mig_pf_entry *
entry(const struct mig_pf *pf, const char *name)
{
	size_t i;

	for (i = 0; i < pf->n; i++)
		if (strcmp(pf->ents[i].name, name) == 0)
			return &pf->ents[i];
	return NULL;
}

static void
check_nginx(const struct mig_pf *pf)
{
	const struct mig_pf_entry *e;

	assert_int_equal(pf->n, 3);
	assert_non_null(e = entry(pf, ""));
	assert_int_equal(e->st.type, MIG_FT_DIR);
	assert_int_equal(e->st.size, 0);
	assert_int_equal(e->st.mtime, 1796472000);
	assert_non_null(e = entry(pf, "a b.txt"));
	assert_int_equal(e->st.type, MIG_FT_FILE);
	assert_int_equal(e->st.size, 1234);
	assert_int_equal(e->st.mtime, 100);
	assert_non_null(e = entry(pf, "sub"));
	assert_int_equal(e->st.type, MIG_FT_DIR);
}

static void
test_propfind__nginx_multistatus(void **state)
{
	struct fx *f = *state;

	assert_int_equal(parse(f, nginx_ms, sizeof(nginx_ms) - 1), 0);
	check_nginx(&f->pf);
}

static void
test_propfind__byte_by_byte(void **state)
{
	struct fx *f = *state;
	size_t i;

	for (i = 0; i < sizeof(nginx_ms) - 1; i++)
		assert_int_equal(mig_pf_feed(&f->pf, nginx_ms + i, 1), 1);
	assert_int_equal(mig_pf_finish(&f->pf), 0);
	check_nginx(&f->pf);
	/* A retry starts from nothing. */
	assert_int_equal(mig_pf_restart(&f->pf, f->ctx), 0);
	assert_int_equal(f->pf.n, 0);
	assert_int_equal(parse(f, nginx_ms, sizeof(nginx_ms) - 1), 0);
	check_nginx(&f->pf);
}

static void
test_propfind__apache_multistatus(void **state)
{
	struct fx *f = *state;
	const struct mig_pf_entry *e;

	assert_int_equal(parse(f, apache_ms, sizeof(apache_ms) - 1), 0);
	assert_int_equal(f->pf.n, 1);
	assert_non_null(e = entry(&f->pf, "x&y"));
	assert_int_equal(e->st.size, 42);
	assert_int_equal(e->st.type, MIG_FT_FILE);
}

/*
 * An href, a length or a collection in another namespace is not DAV's.
 * The old tokenizer matched any "*:href": it listed "evil" and "other"
 * and took 666 as the size.
 */
static void
test_propfind__foreign_namespace_ignored(void **state)
{
	static const char ms[] =
	    "<D:multistatus xmlns:D=\"DAV:\" xmlns:x=\"urn:evil\">"
	    "<D:response><x:href>/dav/lake/evil</x:href>"
	    "<D:href>/dav/lake/good</D:href><D:propstat><D:prop>"
	    "<x:getcontentlength>666</x:getcontentlength>"
	    "<D:getcontentlength>7</D:getcontentlength>"
	    "<D:resourcetype><x:collection/></D:resourcetype>"
	    "</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>"
	    "</D:response>"
	    "<D:response><href>/dav/lake/other</href></D:response>"
	    "</D:multistatus>";
	struct fx *f = *state;
	const struct mig_pf_entry *e;

	/* The second response has no DAV: href at all. */
	assert_int_equal(parse(f, ms, sizeof(ms) - 1), MIG_ERR_FORMAT);
	assert_non_null(strstr(mig_errmsg(f->ctx), "response without href"));
	assert_int_equal(f->pf.n, 1);
	assert_non_null(e = entry(&f->pf, "good"));
	assert_int_equal(e->st.size, 7);
	assert_int_equal(e->st.type, MIG_FT_FILE);
	assert_null(entry(&f->pf, "evil"));
}

/* A multistatus in another namespace is not one: nothing is listed. */
static void
test_propfind__foreign_root_ignored(void **state)
{
	static const char ms[] =
	    "<multistatus xmlns=\"urn:evil\"><response xmlns=\"DAV:\">"
	    "<href>/dav/lake/evil</href></response></multistatus>";
	struct fx *f = *state;

	assert_int_equal(parse(f, ms, sizeof(ms) - 1), 0);
	assert_int_equal(f->pf.n, 0);
}

/* Every cut of a good answer is refused at the end of the body. */
static void
test_propfind__truncated(void **state)
{
	struct fx *f = *state;
	size_t cut, len = strlen(nginx_ms);

	/* The last cut drops only the final newline: still complete. */
	for (cut = 0; cut < len - 1; cut += 7) {
		assert_int_equal(mig_pf_restart(&f->pf, f->ctx), 0);
		assert_int_equal(parse(f, nginx_ms, cut), MIG_ERR_FORMAT);
	}
	assert_int_equal(mig_pf_restart(&f->pf, f->ctx), 0);
	assert_int_equal(parse(f, nginx_ms, len - 1), 0);
}

static void
test_propfind__billion_laughs(void **state)
{
	static const char bomb[] =
	    "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n"
	    " <!ENTITY lol \"lol\">\n"
	    " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
	    " <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
	    " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
	    " <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
	    " <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n"
	    " <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n"
	    " <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n"
	    " <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n"
	    " <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n"
	    "]>\n<D:multistatus xmlns:D=\"DAV:\"><D:response>"
	    "<D:href>/dav/lake/&lol9;</D:href></D:response></D:multistatus>";
	struct fx *f = *state;

	assert_int_equal(parse(f, bomb, sizeof(bomb) - 1), MIG_ERR_FORMAT);
	assert_non_null(strstr(mig_errmsg(f->ctx),
	    "document type declaration refused"));
	assert_int_equal(f->pf.n, 0);
}

static void
test_propfind__external_entity(void **state)
{
	static const char xxe[] =
	    "<?xml version=\"1.0\"?>\n"
	    "<!DOCTYPE m [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n"
	    "<D:multistatus xmlns:D=\"DAV:\"><D:response>"
	    "<D:href>/dav/lake/&x;</D:href></D:response></D:multistatus>";
	static const char undeclared[] =
	    "<D:multistatus xmlns:D=\"DAV:\"><D:response>"
	    "<D:href>/dav/lake/&x;</D:href></D:response></D:multistatus>";
	struct fx *f = *state;

	assert_int_equal(parse(f, xxe, sizeof(xxe) - 1), MIG_ERR_FORMAT);
	assert_int_equal(f->pf.n, 0);
	assert_int_equal(mig_pf_restart(&f->pf, f->ctx), 0);
	assert_int_equal(parse(f, undeclared, sizeof(undeclared) - 1),
	    MIG_ERR_FORMAT);
	assert_int_equal(f->pf.n, 0);
}

static void
test_propfind__deep_nesting(void **state)
{
	enum { N = 10000 };
	struct fx *f = *state;
	char *doc;
	size_t i, len = 0;

	doc = malloc(N * 3 + 64);
	assert_non_null(doc);
	len += (size_t)sprintf(doc, "<D:multistatus xmlns:D=\"DAV:\">");
	for (i = 0; i < N; i++) {
		memcpy(doc + len, "<a>", 3);
		len += 3;
	}
	assert_int_equal(parse(f, doc, len), MIG_ERR_FORMAT);
	assert_non_null(strstr(mig_errmsg(f->ctx), "nested too deeply"));
	free(doc);
}

static void
test_propfind__bounds(void **state)
{
	static const char head[] =
	    "<D:multistatus xmlns:D=\"DAV:\"><D:response><D:href>/dav/lake/";
	struct fx *f = *state;
	char *doc;
	size_t len;

	/* One href longer than MIG_PF_TEXT_MAX. */
	len = sizeof(head) - 1 + MIG_PF_TEXT_MAX;
	doc = malloc(len);
	assert_non_null(doc);
	memcpy(doc, head, sizeof(head) - 1);
	memset(doc + sizeof(head) - 1, 'x', MIG_PF_TEXT_MAX);
	assert_int_equal(mig_pf_feed(&f->pf, doc, len), 0);
	assert_int_equal(f->pf.err, MIG_ERR_FORMAT);
	assert_non_null(strstr(mig_errmsg(f->ctx), "value too long"));
	free(doc);
	/* A body past MIG_PF_BODY_MAX, without sending 512 MiB. */
	assert_int_equal(mig_pf_restart(&f->pf, f->ctx), 0);
	assert_int_equal(mig_pf_feed(&f->pf, head, 10), 10);
	f->pf.bytes = MIG_PF_BODY_MAX - 5;
	assert_int_equal(mig_pf_feed(&f->pf, head + 10, 6), 0);
	assert_non_null(strstr(mig_errmsg(f->ctx), "answer too large"));
}

static void
test_propfind__bad_values(void **state)
{
	static const char *const bad[] = {
	    "<D:getcontentlength>-1</D:getcontentlength>",
	    "<D:getcontentlength> 1</D:getcontentlength>",
	    "<D:getcontentlength>99999999999999999999</D:getcontentlength>",
	    "<D:getcontentlength>1<D:x/></D:getcontentlength>",
	};
	struct fx *f = *state;
	char doc[512];
	size_t i;
	int n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = snprintf(doc, sizeof(doc), "<D:multistatus xmlns:D=\"DAV:\">"
		    "<D:response><D:href>/dav/lake/f</D:href><D:propstat>"
		    "<D:prop>%s</D:prop><D:status>HTTP/1.1 200 OK</D:status>"
		    "</D:propstat></D:response></D:multistatus>", bad[i]);
		assert_int_equal(mig_pf_restart(&f->pf, f->ctx), 0);
		assert_int_equal(parse(f, doc, (size_t)n), MIG_ERR_FORMAT);
	}
	/* Names that are not one component below base are skipped. */
	assert_int_equal(mig_pf_restart(&f->pf, f->ctx), 0);
	n = snprintf(doc, sizeof(doc), "<D:multistatus xmlns:D=\"DAV:\">"
	    "<D:response><D:href>/dav/lake/..</D:href></D:response>"
	    "<D:response><D:href>/dav/lake/%%2e%%2e</D:href></D:response>"
	    "<D:response><D:href>/dav/lakeside</D:href></D:response>"
	    "<D:response><D:href>/dav/lake/a%%0ab</D:href></D:response>"
	    "<D:response><D:href>/other/lake/x</D:href></D:response>"
	    "</D:multistatus>");
	assert_int_equal(parse(f, doc, (size_t)n), 0);
	assert_int_equal(f->pf.n, 0);
	/* %00 is refused. */
	assert_int_equal(mig_pf_restart(&f->pf, f->ctx), 0);
	n = snprintf(doc, sizeof(doc), "<D:multistatus xmlns:D=\"DAV:\">"
	    "<D:response><D:href>/dav/lake/a%%00b</D:href></D:response>"
	    "</D:multistatus>");
	assert_int_equal(parse(f, doc, (size_t)n), MIG_ERR_FORMAT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_propfind__nginx_multistatus, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_propfind__byte_by_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_propfind__apache_multistatus, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_propfind__foreign_namespace_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_propfind__foreign_root_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_propfind__truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_propfind__billion_laughs, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_propfind__external_entity, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_propfind__deep_nesting, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_propfind__bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_propfind__bad_values, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
