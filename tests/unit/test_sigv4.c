/*
 * Signature V4 (lib/transport/sigv4.c) against AWS's published vectors.
 *
 * Source: the "Signature Version 4 test suite" of the AWS General
 * Reference (aws-sig-v4-test-suite, as vendored in bazelbuild/bazel
 * third_party/aws-sig-v4-test-suite/): get-vanilla,
 * get-vanilla-query-order-key-case, get-vanilla-empty-query-key,
 * get-vanilla-utf8-query, get-utf8, normalize-path/get-space (a path
 * without "." segments, so S3's no-normalisation rule gives the same
 * canonical URI), post-x-www-form-urlencoded (creq, sts and authz).
 * And the worked examples of the S3 API reference, "Signature
 * Calculations for the Authorization Header: Transferring Payload in a
 * Single Chunk" (GET Object with Range, PUT Object "test$file.text",
 * GET Bucket ?lifecycle, ListObjects ?max-keys=2&prefix=J).
 * Only the data comes from there; the code is ours.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "migrate/error.h"

#include "transport/sigv4_int.h"

#define SUITE_AK	"AKIDEXAMPLE"
#define SUITE_SK	"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_DATE	"20150830T123600Z"
#define SUITE_CRED	"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/" \
			"us-east-1/service/aws4_request, "
#define S3_AK		"AKIAIOSFODNN7EXAMPLE"
#define S3_SK		"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define S3_DATE		"20130524T000000Z"
#define S3_CRED		"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/" \
			"20130524/us-east-1/s3/aws4_request, "

static const struct mig_sigv4_kv suite_hdrs[] = {
	{ "Host", "example.amazonaws.com" },
	{ "X-Amz-Date", SUITE_DATE },
};

/* A suite GET of path and query, signed; compares the Authorization. */
static void
suite_get(const char *path, const struct mig_sigv4_kv *q, size_t nq,
    const char *want)
{
	struct mig_sigv4_req rq = {
		.method = "GET", .path = path, .query = q, .nquery = nq,
		.hdrs = suite_hdrs, .nhdrs = 2,
		.payload_sha256 = MIG_SIGV4_EMPTY_SHA256,
		.amz_date = SUITE_DATE, .region = "us-east-1",
		.service = "service",
	};
	char *auth = NULL;

	assert_int_equal(mig_sigv4_authorization(&rq, SUITE_AK, SUITE_SK,
	    strlen(SUITE_SK), &auth), 0);
	assert_string_equal(auth, want);
	free(auth);
}

static void
test_sigv4__get_vanilla(void **state)
{
	(void)state;
	suite_get("/", NULL, 0, SUITE_CRED "SignedHeaders=host;x-amz-date, "
	    "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d"
	    "763fbf31");
}

/* Parameters are sorted by name, upper case first (byte order). */
static void
test_sigv4__query_order_key_case(void **state)
{
	static const struct mig_sigv4_kv q[] = {
		{ "Param2", "value2" }, { "Param1", "value1" },
	};

	(void)state;
	suite_get("/", q, 2, SUITE_CRED "SignedHeaders=host;x-amz-date, "
	    "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec9"
	    "4cdf2500");
}

static void
test_sigv4__query_empty_key(void **state)
{
	static const struct mig_sigv4_kv q[] = { { "Param1", "value1" } };

	(void)state;
	suite_get("/", q, 1, SUITE_CRED "SignedHeaders=host;x-amz-date, "
	    "Signature=a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72"
	    "011b9aeb");
}

/* UTF-8 in a query name, and in the path; a space in the path. */
static void
test_sigv4__utf8_and_space(void **state)
{
	static const struct mig_sigv4_kv q[] = { { "\xe1\x88\xb4", "bar" } };

	(void)state;
	suite_get("/", q, 1, SUITE_CRED "SignedHeaders=host;x-amz-date, "
	    "Signature=2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c902"
	    "7818dd04");
	suite_get("/\xe1\x88\xb4", NULL, 0, SUITE_CRED "SignedHeaders=host;"
	    "x-amz-date, Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f"
	    "255a891fd03141be5d85");
	suite_get("/example space/", NULL, 0, SUITE_CRED "SignedHeaders=host;"
	    "x-amz-date, Signature=652487583200325589f1fba4c7e578f72c47cb61beec"
	    "a81406b39ddec1366741");
}

/* Every stage of one vector: canonical request, string to sign, header. */
static void
test_sigv4__post_form_urlencoded(void **state)
{
	static const struct mig_sigv4_kv h[] = {
		{ "Content-Type", "application/x-www-form-urlencoded" },
		{ "Host", "example.amazonaws.com" },
		{ "X-Amz-Date", SUITE_DATE },
	};
	struct mig_sigv4_req rq = {
		.method = "POST", .path = "/", .hdrs = h, .nhdrs = 3,
		.payload_sha256 = "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329"
		    "106275f4c7b24d0b6e",
		.amz_date = SUITE_DATE, .region = "us-east-1",
		.service = "service",
	};
	char *s = NULL;

	(void)state;
	assert_int_equal(mig_sigv4_canonical_request(&rq, &s), 0);
	assert_string_equal(s, "POST\n/\n\n"
	    "content-type:application/x-www-form-urlencoded\n"
	    "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
	    "content-type;host;x-amz-date\n"
	    "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
	free(s);
	assert_int_equal(mig_sigv4_string_to_sign(&rq, &s), 0);
	assert_string_equal(s, "AWS4-HMAC-SHA256\n20150830T123600Z\n"
	    "20150830/us-east-1/service/aws4_request\n"
	    "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281");
	free(s);
	assert_int_equal(mig_sigv4_authorization(&rq, SUITE_AK, SUITE_SK,
	    strlen(SUITE_SK), &s), 0);
	assert_string_equal(s, SUITE_CRED "SignedHeaders=content-type;host;"
	    "x-amz-date, Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b"
	    "1da7b9d196a0fe09473a");
	free(s);
}

/* An S3 request of the S3 API reference's examples. */
static void
s3_sign(const char *method, const char *path, const struct mig_sigv4_kv *q,
    size_t nq, const struct mig_sigv4_kv *h, size_t nh, const char *hash,
    const char *want)
{
	struct mig_sigv4_req rq = {
		.method = method, .path = path, .query = q, .nquery = nq,
		.hdrs = h, .nhdrs = nh, .payload_sha256 = hash,
		.amz_date = S3_DATE, .region = "us-east-1", .service = "s3",
	};
	char *auth = NULL;

	assert_int_equal(mig_sigv4_authorization(&rq, S3_AK, S3_SK,
	    strlen(S3_SK), &auth), 0);
	assert_string_equal(auth, want);
	free(auth);
}

/* GET Object with Range, and the real payload hash of a PUT. */
static void
test_sigv4__s3_object(void **state)
{
	static const struct mig_sigv4_kv get[] = {
		{ "Host", "examplebucket.s3.amazonaws.com" },
		{ "Range", "bytes=0-9" },
		{ "x-amz-content-sha256", MIG_SIGV4_EMPTY_SHA256 },
		{ "x-amz-date", S3_DATE },
	};
	static const struct mig_sigv4_kv put[] = {
		{ "Host", "examplebucket.s3.amazonaws.com" },
		{ "Date", "Fri, 24 May 2013 00:00:00 GMT" },
		{ "x-amz-date", S3_DATE },
		{ "x-amz-storage-class", "REDUCED_REDUNDANCY" },
		{ "x-amz-content-sha256", "44ce7dd67c959e0d3524ffac1771dfbba87d2b"
		    "6b4b4e99e42034a8b803f8b072" },
	};

	(void)state;
	s3_sign("GET", "/test.txt", NULL, 0, get, 4, MIG_SIGV4_EMPTY_SHA256,
	    S3_CRED "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
	    "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6"
	    "036bdb41");
	/* '$' in the key is encoded. */
	s3_sign("PUT", "/test$file.text", NULL, 0, put, 5, put[4].value,
	    S3_CRED "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;"
	    "x-amz-storage-class, Signature=98ad721746da40c64f1a55b78f14c238d84"
	    "1ea1380cd77a1b5971af0ece108bd");
}

/* A value-less parameter ("?lifecycle") and a sorted list query. */
static void
test_sigv4__s3_bucket_query(void **state)
{
	static const struct mig_sigv4_kv h[] = {
		{ "Host", "examplebucket.s3.amazonaws.com" },
		{ "x-amz-content-sha256", MIG_SIGV4_EMPTY_SHA256 },
		{ "x-amz-date", S3_DATE },
	};
	static const struct mig_sigv4_kv lc[] = { { "lifecycle", NULL } };
	static const struct mig_sigv4_kv ls[] = {
		{ "prefix", "J" }, { "max-keys", "2" },
	};

	(void)state;
	s3_sign("GET", "/", lc, 1, h, 3, MIG_SIGV4_EMPTY_SHA256, S3_CRED
	    "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=fea"
	    "454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
	s3_sign("GET", "/", ls, 2, h, 3, MIG_SIGV4_EMPTY_SHA256, S3_CRED
	    "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=34b"
	    "48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

/* Hive keys: '=' and spaces are encoded in the path, '/' kept. */
static void
test_sigv4__encode(void **state)
{
	static const struct mig_sigv4_kv q[] = {
		{ "uploadId", "a/b+c=" }, { "partNumber", "1" },
		{ "uploads", NULL },
	};
	char buf[64], *s = NULL;
	size_t n = 0;

	(void)state;
	assert_true(mig_sigv4_encode("ds/date=2024-01-01/a b\xc3\xa9.csv", true,
	    buf, sizeof(buf), &n));
	assert_string_equal(buf, "ds/date%3D2024-01-01/a%20b%C3%A9.csv");
	assert_int_equal(n, strlen(buf));
	n = 0;
	assert_true(mig_sigv4_encode("a/b", false, buf, sizeof(buf), &n));
	assert_string_equal(buf, "a%2Fb");
	/* Too small: false, nothing written past the old end. */
	n = 0;
	assert_false(mig_sigv4_encode("a b", false, buf, 5, &n));
	assert_int_equal(n, 0);
	assert_int_equal(mig_sigv4_query(q, 3, &s), 0);
	assert_string_equal(s, "partNumber=1&uploadId=a%2Fb%2Bc%3D&uploads=");
	free(s);
	assert_int_equal(mig_sigv4_query(NULL, 0, &s), 0);
	assert_string_equal(s, "");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigv4__get_vanilla),
		cmocka_unit_test(test_sigv4__query_order_key_case),
		cmocka_unit_test(test_sigv4__query_empty_key),
		cmocka_unit_test(test_sigv4__utf8_and_space),
		cmocka_unit_test(test_sigv4__post_form_urlencoded),
		cmocka_unit_test(test_sigv4__s3_object),
		cmocka_unit_test(test_sigv4__s3_bucket_query),
		cmocka_unit_test(test_sigv4__encode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
