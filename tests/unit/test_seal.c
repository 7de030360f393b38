/*
 * Unit tests of lib/lake/seal.c: C2SP signed notes and run seals.
 *
 * The signed-note vector is the published example of
 * golang.org/x/mod/sumdb/note (note_test.go and the package
 * documentation): key "PeterNeumann", verifier key
 * PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW,
 * signer key PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+
 * Y7hfZx09iUvxdXHKDFz (base64 of 0x01 || seed).  Ed25519 is deterministic,
 * so signing its text must give its signature line byte for byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "migrate/bagit.h"
#include "migrate/error.h"
#include "migrate/sign.h"

static const char GO_TEXT[] =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n";
static const char GO_NOTE[] =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
    "\n"
    "\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInN"
    "IuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
static const char GO_VKEY_B64[] =
    "ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
static const char GO_SKEY_B64[] =
    "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";

struct fx {
	struct mig_ctx		*ctx;
	struct mig_sign_key	*priv, *pub, *other;
};

/* Key from base64(0x01 || 32 bytes). */
static struct mig_sign_key *
go_key(const char *b64, bool private, struct mig_ctx *ctx)
{
	unsigned char raw[36];
	struct mig_sign_key *k = NULL;

	assert_int_equal(EVP_DecodeBlock(raw, (const unsigned char *)b64,
	    44), 33);
	assert_int_equal(raw[0], 0x01);
	assert_int_equal(mig_sign_key_from_raw(raw + 1, private, ctx, &k), 0);
	return k;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	unsigned char seed[32];

	assert_non_null(f);
	assert_non_null(f->ctx = mig_ctx_new());
	f->priv = go_key(GO_SKEY_B64, true, f->ctx);
	f->pub = go_key(GO_VKEY_B64, false, f->ctx);
	memset(seed, 7, sizeof(seed));
	assert_int_equal(mig_sign_key_from_raw(seed, true, f->ctx, &f->other),
	    0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	mig_sign_key_free(f->priv);
	mig_sign_key_free(f->pub);
	mig_sign_key_free(f->other);
	mig_ctx_free(f->ctx);
	free(f);
	return 0;
}

static void
test_seal__go_vector_signs_byte_for_byte(void **state)
{
	struct fx *f = *state;
	char *note = NULL;

	assert_int_equal(mig_note_sign(f->priv, "PeterNeumann", GO_TEXT,
	    strlen(GO_TEXT), &note, f->ctx), 0);
	assert_string_equal(note, GO_NOTE);
	free(note);
}

static void
test_seal__go_vector_opens(void **state)
{
	struct fx *f = *state;
	size_t tlen = 0;

	assert_int_equal(mig_note_open(GO_NOTE, strlen(GO_NOTE),
	    "PeterNeumann", f->pub, &tlen, f->ctx), 0);
	assert_int_equal(tlen, strlen(GO_TEXT));
	/* Another name or another key: no signature by it. */
	assert_int_equal(mig_note_open(GO_NOTE, strlen(GO_NOTE), "Peter",
	    f->pub, &tlen, f->ctx), MIG_ERR_VERIFY);
	assert_int_equal(mig_note_open(GO_NOTE, strlen(GO_NOTE),
	    "PeterNeumann", f->other, &tlen, f->ctx), MIG_ERR_VERIFY);
}

static void
test_seal__go_vector_tampered(void **state)
{
	struct fx *f = *state;
	char note[sizeof(GO_NOTE)];
	size_t tlen, i;
	/* One byte of the text, of the key id, of the signature. */
	const size_t at[] = { 3, sizeof(GO_TEXT) + 20, sizeof(GO_NOTE) - 10 };

	for (i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		memcpy(note, GO_NOTE, sizeof(note));
		note[at[i]] ^= 0x01;
		assert_int_not_equal(mig_note_open(note, strlen(note),
		    "PeterNeumann", f->pub, &tlen, f->ctx), 0);
	}
}

static void
test_seal__malformed_notes(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = {
		"",
		"no newline",
		"text\n",					/* no sig */
		"text\n\n",					/* no lines */
		"text\n\n-- PeterNeumann AAAA\n",		/* not U+2014 */
		"text\n\n\xe2\x80\x94 PeterNeumann\n",
		"te\txt\n\n\xe2\x80\x94 PeterNeumann AAAA\n",	/* control */
	};
	size_t i, tlen;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(mig_note_open(bad[i], strlen(bad[i]),
		    "PeterNeumann", f->pub, &tlen, f->ctx), 0);
}

static void
fill(struct mig_seal *s)
{
	memset(s, 0, sizeof(*s));
	strcpy(s->run, "20261205T101500Z-0a1b2c3d");
	strcpy(s->dir, "raw/billing/ingest_date=2026-12-05/"
	    "run=20261205T101500Z-0a1b2c3d");
	strcpy(s->plan, "billing");
	memset(s->plan_sha256, 'a', 64);
	memset(s->tagmanifest_sha256, 'b', 64);
	memset(s->audit_head, 'c', 64);
}

static void
test_seal__round_trip(void **state)
{
	struct fx *f = *state;
	struct mig_seal s, got;
	char *note = NULL;

	fill(&s);
	assert_int_equal(mig_seal_make(f->other, &s, &note, f->ctx), 0);
	assert_non_null(strstr(note, "migrate-seal/v1\nrun "));
	assert_int_equal(mig_seal_verify(note, strlen(note), f->other, &got,
	    f->ctx), 0);
	assert_memory_equal(&s, &got, sizeof(s));
	/* Not with another key. */
	assert_int_equal(mig_seal_verify(note, strlen(note), f->pub, &got,
	    f->ctx), MIG_ERR_VERIFY);
	free(note);
}

/* Every field is signed: changing any byte of the text breaks the seal. */
static void
test_seal__every_field_signed(void **state)
{
	struct fx *f = *state;
	struct mig_seal s, got;
	char *note = NULL, *nl;
	size_t i, tlen;

	fill(&s);
	assert_int_equal(mig_seal_make(f->other, &s, &note, f->ctx), 0);
	tlen = (size_t)(strstr(note, "\n\n") - note);
	for (i = 0; i < tlen; i++) {
		if (note[i] == '\n')
			continue;
		note[i] ^= 0x02;
		assert_int_not_equal(mig_seal_verify(note, strlen(note),
		    f->other, &got, f->ctx), 0);
		note[i] ^= 0x02;
	}
	/* A second signer's line is ignored; the seal still verifies. */
	nl = malloc(strlen(note) + 200);
	assert_non_null(nl);
	(void)sprintf(nl, "%s\xe2\x80\x94 witness.example AAAAAAAAAAAA\n", note);
	assert_int_equal(mig_seal_verify(nl, strlen(nl), f->other, &got,
	    f->ctx), 0);
	free(nl);
	free(note);
}

static void
test_seal__bad_fields_refused(void **state)
{
	struct fx *f = *state;
	struct mig_seal s;
	char *note = NULL;

	fill(&s);
	s.audit_head[3] = 'G';
	assert_int_equal(mig_seal_make(f->other, &s, &note, f->ctx),
	    MIG_ERR_USAGE);
	fill(&s);
	strcpy(s.dir, "a\nrun forged");
	assert_int_equal(mig_seal_make(f->other, &s, &note, f->ctx),
	    MIG_ERR_USAGE);
	assert_null(note);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seal__go_vector_signs_byte_for_byte),
		cmocka_unit_test(test_seal__go_vector_opens),
		cmocka_unit_test(test_seal__go_vector_tampered),
		cmocka_unit_test(test_seal__malformed_notes),
		cmocka_unit_test(test_seal__round_trip),
		cmocka_unit_test(test_seal__every_field_signed),
		cmocka_unit_test(test_seal__bad_fields_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
