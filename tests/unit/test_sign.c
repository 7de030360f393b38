/*
 * Unit tests of lib/crypto/sign.c: Ed25519 key files, signatures and
 * fingerprints.
 */
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "migrate/error.h"
#include "migrate/sign.h"

#include "testutil.h"

struct fixture {
	char		 dir[64];
	char		 key[128];
	char		 pub[160];
	struct mig_ctx	*ctx;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(tu_mkdtemp(f->dir, sizeof(f->dir), "test_sign"), 0);
	snprintf(f->key, sizeof(f->key), "%s/audit.pem", f->dir);
	snprintf(f->pub, sizeof(f->pub), "%s.pub", f->key);
	f->ctx = mig_ctx_new();
	assert_non_null(f->ctx);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	mig_ctx_free(f->ctx);
	assert_int_equal(tu_rm_tree(f->dir), 0);
	free(f);
	return 0;
}

static void
test_sign__keygen_files(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	char buf[256];
	FILE *fp;
	size_t n;

	assert_int_equal(mig_sign_keygen(f->key, f->ctx), 0);
	assert_int_equal(stat(f->key, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(f->pub, &st), 0);
	fp = fopen(f->key, "r");
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	assert_non_null(strstr(buf, "-----BEGIN PRIVATE KEY-----"));
	fp = fopen(f->pub, "r");
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	assert_non_null(strstr(buf, "-----BEGIN PUBLIC KEY-----"));
	/* Never overwrites, and leaves the files as they were. */
	assert_int_equal(mig_sign_keygen(f->key, f->ctx), MIG_ERR_EXISTS);
	assert_int_equal(unlink(f->key), 0);
	assert_int_equal(mig_sign_keygen(f->key, f->ctx), MIG_ERR_EXISTS);
	assert_int_equal(access(f->key, F_OK), -1);
}

static void
test_sign__sign_verify(void **state)
{
	struct fixture *f = *state;
	struct mig_sign_key *sk, *pk, *pk_from_priv, *other;
	unsigned char sig[MIG_SIGN_SIGLEN];
	char fp1[65], fp2[65], fp3[65], other_path[160];
	const char msg[] = "4dfa8c89ce47389d341a25b09322169e676065b63170a788f4"
	    "5aceb5db0defab";

	assert_int_equal(mig_sign_keygen(f->key, f->ctx), 0);
	assert_int_equal(mig_sign_key_load(f->key, f->ctx, &sk), 0);
	assert_int_equal(mig_sign_pubkey_load(f->pub, f->ctx, &pk), 0);
	assert_int_equal(mig_sign_pubkey_load(f->key, f->ctx, &pk_from_priv),
	    0);
	assert_int_equal(mig_sign(sk, msg, 64, sig, f->ctx), 0);
	assert_int_equal(mig_sign_verify(pk, msg, 64, sig, f->ctx), 0);
	assert_int_equal(mig_sign_verify(sk, msg, 64, sig, f->ctx), 0);
	/* A changed message or signature does not verify. */
	assert_int_equal(mig_sign_verify(pk, msg, 63, sig, f->ctx),
	    MIG_ERR_VERIFY);
	sig[10] ^= 1;
	assert_int_equal(mig_sign_verify(pk, msg, 64, sig, f->ctx),
	    MIG_ERR_VERIFY);
	sig[10] ^= 1;
	/* A public key cannot sign. */
	assert_int_equal(mig_sign(pk, msg, 64, sig, f->ctx), MIG_ERR_USAGE);
	/* Fingerprints agree between the halves, and differ across keys. */
	assert_int_equal(mig_sign_fingerprint(sk, fp1, f->ctx), 0);
	assert_int_equal(mig_sign_fingerprint(pk, fp2, f->ctx), 0);
	assert_int_equal(mig_sign_fingerprint(pk_from_priv, fp3, f->ctx), 0);
	assert_string_equal(fp1, fp2);
	assert_string_equal(fp1, fp3);
	assert_int_equal(strlen(fp1), 64);
	snprintf(other_path, sizeof(other_path), "%s/other.pem", f->dir);
	assert_int_equal(mig_sign_keygen(other_path, f->ctx), 0);
	assert_int_equal(mig_sign_key_load(other_path, f->ctx, &other), 0);
	assert_int_equal(mig_sign_verify(other, msg, 64, sig, f->ctx),
	    MIG_ERR_VERIFY);
	assert_int_equal(mig_sign_fingerprint(other, fp3, f->ctx), 0);
	assert_string_not_equal(fp1, fp3);
	mig_sign_key_free(sk);
	mig_sign_key_free(pk);
	mig_sign_key_free(pk_from_priv);
	mig_sign_key_free(other);
	mig_sign_key_free(NULL);
}

static void
test_sign__refusals(void **state)
{
	struct fixture *f = *state;
	struct mig_sign_key *k = NULL;
	char ln[160], junk[160];
	FILE *fp;

	assert_int_equal(mig_sign_keygen(f->key, f->ctx), 0);
	/* Readable by group: refused, as private and as public source. */
	assert_int_equal(chmod(f->key, 0640), 0);
	assert_int_equal(mig_sign_key_load(f->key, f->ctx, &k),
	    MIG_ERR_SECURITY);
	assert_null(k);
	assert_non_null(strstr(mig_errmsg(f->ctx), "too open"));
	assert_int_equal(mig_sign_pubkey_load(f->key, f->ctx, &k),
	    MIG_ERR_SECURITY);
	assert_int_equal(chmod(f->key, 0604), 0);
	assert_int_equal(mig_sign_key_load(f->key, f->ctx, &k),
	    MIG_ERR_SECURITY);
	assert_int_equal(chmod(f->key, 0600), 0);
	/* A .pub is not a private key. */
	assert_int_equal(mig_sign_key_load(f->pub, f->ctx, &k),
	    MIG_ERR_FORMAT);
	/* Symlinks are not followed. */
	snprintf(ln, sizeof(ln), "%s/link.pem", f->dir);
	assert_int_equal(symlink(f->key, ln), 0);
	assert_int_equal(mig_sign_key_load(ln, f->ctx, &k), MIG_ERR_SECURITY);
	/* Not a key; a missing file. */
	snprintf(junk, sizeof(junk), "%s/junk.pem", f->dir);
	fp = fopen(junk, "w");
	fputs("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
	    fp);
	fclose(fp);
	assert_int_equal(mig_sign_pubkey_load(junk, f->ctx, &k),
	    MIG_ERR_FORMAT);
	assert_int_equal(mig_sign_pubkey_load("/nonexistent/k.pub", f->ctx,
	    &k), MIG_ERR_NOTFOUND);
	assert_null(k);
}

static void
test_sign__not_ed25519(void **state)
{
	struct fixture *f = *state;
	struct mig_sign_key *k = NULL;
	char path[160], cmd[512];

	snprintf(path, sizeof(path), "%s/ec.pem", f->dir);
	snprintf(cmd, sizeof(cmd), "openssl genpkey -algorithm EC -pkeyopt "
	    "ec_paramgen_curve:P-256 -out '%s' 2>/dev/null && chmod 600 '%s'",
	    path, path);
	if (system(cmd) != 0)
		skip();
	assert_int_equal(mig_sign_key_load(path, f->ctx, &k), MIG_ERR_FORMAT);
	assert_non_null(strstr(mig_errmsg(f->ctx), "Ed25519"));
}

/* RFC 8032 section 7.1 test 1 public key, as an OpenSSH line. */
#define SSH_B64	"AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv+08lkBzoO" \
		"4XLz2qYjJa8CGmj3B1Ea"
#define SSH_FP	"21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef4" \
		"7f9721b9"

/* Writes p[0..n) to DIR/ssh.pub and loads it as a public key. */
static int
load_bytes(struct fixture *f, const char *p, size_t n,
    struct mig_sign_key **kp)
{
	char path[160];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/ssh.pub", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(p, 1, n, fp), n);
	assert_int_equal(fclose(fp), 0);
	*kp = NULL;
	return mig_sign_pubkey_load(path, f->ctx, kp);
}

static int
load_text(struct fixture *f, const char *text, struct mig_sign_key **kp)
{
	return load_bytes(f, text, strlen(text), kp);
}

static void
test_sign__ssh_ed25519(void **state)
{
	static const char *good[] = {
		"ssh-ed25519 " SSH_B64 " auditor@host\n",
		"ssh-ed25519 " SSH_B64 "\n",
		"ssh-ed25519 " SSH_B64,
		"ssh-ed25519\t" SSH_B64 " two words \r\n",
	};
	static const char *bad[] = {
		/* Key 31 bytes long; type ssh-ed448 in the blob; a byte
		 * after the key; truncated; a non-base64 character; '='
		 * inside; upper case type; two keys. */
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAH9damAGCsQq31Uv+08lkBzoO"
		    "4XLz2qYjJa8CGmj3B1E=\n",
		"ssh-ed25519 AAAACXNzaC1lZDQ0OAAAACDXWpgBgrEKt9VL/tPJZAc6DuFy"
		    "89qmIyWvAhpo9wdRGg==\n",
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv+08lkBzoO"
		    "4XLz2qYjJa8CGmj3B1EaeA==\n",
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv+08lkBzoO"
		    "4XLz2qYjJa8CGmj3B1\n",
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv*08lkBzoO"
		    "4XLz2qYjJa8CGmj3B1Ea\n",
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv=08lkBzoO"
		    "4XLz2qYjJa8CGmj3B1Ea\n",
		"SSH-ED25519 " SSH_B64 "\n",
		"ssh-ed25519 " SSH_B64 " a\nssh-ed25519 " SSH_B64 " b\n",
	};
	static const char nul[] = "ssh-ed25519 " SSH_B64 "\n\0junk";
	struct fixture *f = *state;
	struct mig_sign_key *k;
	char fp[65];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (load_text(f, good[i], &k) != 0)
			fail_msg("good[%zu] refused: %s", i,
			    mig_errmsg(f->ctx));
		assert_int_equal(mig_sign_fingerprint(k, fp, f->ctx), 0);
		assert_string_equal(fp, SSH_FP);
		mig_sign_key_free(k);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (load_text(f, bad[i], &k) != MIG_ERR_FORMAT)
			fail_msg("bad[%zu] not refused as MIG_ERR_FORMAT", i);
	/* Bytes after a NUL are not ignored. */
	assert_int_equal(load_bytes(f, nul, sizeof(nul) - 1, &k),
	    MIG_ERR_FORMAT);
	/* Other OpenSSH key types are refused by name. */
	assert_int_equal(load_text(f, "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAB"
	    "AQC7 rsa@host\n", &k), MIG_ERR_FORMAT);
	assert_non_null(strstr(mig_errmsg(f->ctx), "an OpenSSH ssh-rsa key"));
	assert_int_equal(load_text(f, "sk-ssh-ed25519@openssh.com AAAA x\n",
	    &k), MIG_ERR_FORMAT);
	assert_non_null(strstr(mig_errmsg(f->ctx),
	    "sk-ssh-ed25519@openssh.com key"));
	/* A public key line is no private key. */
	assert_int_equal(load_text(f, "ssh-ed25519 " SSH_B64 "\n", &k), 0);
	mig_sign_key_free(k);
	{
		char path[160];

		snprintf(path, sizeof(path), "%s/ssh.pub", f->dir);
		assert_int_equal(mig_sign_key_load(path, f->ctx, &k),
		    MIG_ERR_FORMAT);
		assert_null(k);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sign__keygen_files,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign__sign_verify,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign__refusals,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign__not_ed25519,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign__ssh_ed25519,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
