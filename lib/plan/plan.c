/*
 * Plan loading and validation.  The schema is a table of known keys per
 * section; anything else is an error with a "did you mean" hint, and every
 * error names FILE:LINE:COL.  The strategies are in strategy.c, the "did
 * you mean" hints in hint.c.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "migrate/archive.h"
#include "migrate/error.h"
#include "migrate/plan.h"
#include "migrate/stream.h"
#include "migrate/toml.h"
#include "migrate/transport.h"
#include "migrate/util.h"

/* Plans are small; anything bigger is a mistake, not a plan. */
#define PLAN_MAX_BYTES	(1024 * 1024)
#define NAME_MAX_LEN	64

/* Parsing state: the document, where messages point, and the result. */
struct loader {
	const char			*file;
	const struct mig_plan_env	*env;
	struct mig_ctx			*ctx;
	struct mig_plan			*plan;
};

static int
perr(struct loader *ld, struct mig_toml_pos pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
perr(struct loader *ld, struct mig_toml_pos pos, const char *fmt, ...)
{
	char msg[MIG_ERRMSG_MAX - 128];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (pos.line == 0)
		pos.line = pos.col = 1;
	return mig_seterr(ld->ctx, MIG_ERR_PARSE, "%s:%u:%u: %s", ld->file,
	    pos.line, pos.col, msg);
}

static int
nomem(struct loader *ld)
{
	return mig_seterr(ld->ctx, MIG_ERR_NOMEM, "out of memory");
}

/* --- Schema --------------------------------------------------------------- */

enum key_type { K_STRING, K_INT, K_BOOL, K_STRINGS, K_TABLE };

struct key_spec {
	const char	*name;
	enum key_type	 type;
};

static const struct key_spec root_keys[] = {
	{ "version", K_INT }, { "name", K_STRING }, { "strategy", K_STRING },
	{ "source", K_TABLE }, { "destination", K_TABLE },
	{ "encryption", K_TABLE }, { "compression", K_TABLE },
	{ "audit", K_TABLE }, { "retire", K_TABLE }, { "refactor", K_TABLE },
	{ NULL, 0 }
};
static const struct key_spec source_keys[] = {
	{ "path", K_STRING }, { "include", K_STRINGS },
	{ "exclude", K_STRINGS }, { "follow_symlinks", K_BOOL },
	{ "max_expansion_ratio", K_INT }, { "max_expanded_bytes", K_INT },
	{ NULL, 0 }
};
/* [destination] keys of every backend; each backend adds its own. */
static const struct key_spec destination_keys[] = {
	{ "url", K_STRING }, { "dataset", K_STRING }, { "zone", K_STRING },
	{ "bwlimit", K_STRING },
	{ NULL, 0 }
};
static const struct key_spec encryption_keys[] = {
	{ "recipients", K_STRINGS }, { "recipients_file", K_STRING },
	{ "passphrase_env", K_STRING },
	{ NULL, 0 }
};
static const struct key_spec compression_keys[] = {
	{ "zstd_level", K_INT }, { NULL, 0 }
};
static const struct key_spec audit_keys[] = {
	{ "log", K_STRING }, { "signing_key", K_STRING }, { NULL, 0 }
};
static const struct key_spec retire_keys[] = {
	{ "delete_source", K_BOOL }, { NULL, 0 }
};
static const struct key_spec refactor_keys[] = {
	{ "partition_by", K_STRING }, { "partition_key", K_STRING },
	{ NULL, 0 }
};

static const char *
type_word(enum key_type t)
{
	switch (t) {
	case K_STRING:	return "a string";
	case K_INT:	return "an integer";
	case K_BOOL:	return "a boolean (true or false)";
	case K_STRINGS:	return "an array of strings";
	case K_TABLE:	return "a table";
	}
	return "?";
}

static bool
type_matches(const struct mig_toml_value *v, enum key_type t)
{
	size_t i;

	switch (t) {
	case K_STRING:
		return mig_toml_type(v) == MIG_TOML_STRING;
	case K_INT:
		return mig_toml_type(v) == MIG_TOML_INTEGER;
	case K_BOOL:
		return mig_toml_type(v) == MIG_TOML_BOOL;
	case K_TABLE:
		return mig_toml_type(v) == MIG_TOML_TABLE;
	case K_STRINGS:
		if (mig_toml_type(v) != MIG_TOML_ARRAY)
			return false;
		for (i = 0; i < mig_toml_array_len(v); i++)
			if (mig_toml_type(mig_toml_array_at(v, i)) !=
			    MIG_TOML_STRING)
				return false;
		return true;
	}
	return false;
}

/*
 * Checks every key of table t against spec: unknown keys (with a hint) and
 * wrong types are errors.  section is "" for the root.
 */
static int
check_keys(struct loader *ld, const struct mig_toml_value *t,
    const char *section, const struct key_spec *spec)
{
	const char *names[32], *key, *hint;
	const struct mig_toml_value *v;
	size_t i, j, n, klen;

	for (n = 0; spec[n].name != NULL; n++)
		names[n] = spec[n].name;
	for (i = 0; i < mig_toml_table_len(t); i++) {
		key = mig_toml_table_key(t, i, &klen);
		v = mig_toml_table_value(t, i);
		for (j = 0; j < n; j++)
			if (strlen(spec[j].name) == klen &&
			    memcmp(spec[j].name, key, klen) == 0)
				break;
		if (j == n) {
			hint = strlen(key) == klen ?
			    mig_did_you_mean(key, names, n) : NULL;
			if (hint != NULL)
				return perr(ld, mig_toml_table_key_pos(t, i),
				    "unknown key \"%s%s%.*s\" (did you mean "
				    "\"%s\"?)", section, *section ? "." : "",
				    (int)klen, key, hint);
			return perr(ld, mig_toml_table_key_pos(t, i),
			    "unknown key \"%s%s%.*s\" (see migrate-plan(5) "
			    "for the keys of %s%s%s)", section,
			    *section ? "." : "", (int)klen, key,
			    *section ? "[" : "the top level", section,
			    *section ? "]" : "");
		}
		if (!type_matches(v, spec[j].type))
			return perr(ld, mig_toml_value_pos(v),
			    "%s%s%s must be %s, not %s", section,
			    *section ? "." : "", spec[j].name,
			    type_word(spec[j].type),
			    mig_toml_type_name(mig_toml_type(v)));
	}
	return 0;
}

/* --- Value helpers -------------------------------------------------------- */

static const struct mig_toml_value *
get(const struct mig_toml_value *t, const char *key)
{
	return t == NULL ? NULL : mig_toml_table_get(t, key);
}

/* A string with no NUL and no control characters, or an error. */
static int
get_string(struct loader *ld, const struct mig_toml_value *t,
    const char *section, const char *key, bool required, char **out)
{
	const struct mig_toml_value *v = get(t, key);
	const char *s;
	size_t len, i;

	*out = NULL;
	if (v == NULL) {
		if (!required)
			return 0;
		return perr(ld, t != NULL ? mig_toml_value_pos(t) :
		    (struct mig_toml_pos){ 1, 1 },
		    "missing required key \"%s%s%s\"", section,
		    *section ? "." : "", key);
	}
	s = mig_toml_string(v, &len);
	if (len == 0)
		return perr(ld, mig_toml_value_pos(v), "%s%s%s is empty",
		    section, *section ? "." : "", key);
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return perr(ld, mig_toml_value_pos(v),
			    "%s%s%s holds a control character", section,
			    *section ? "." : "", key);
	if ((*out = strdup(s)) == NULL)
		return nomem(ld);
	return 0;
}

static int
get_strings(struct loader *ld, const struct mig_toml_value *t,
    const char *key, char ***out)
{
	const struct mig_toml_value *v = get(t, key);
	char **list;
	size_t i, n;

	*out = NULL;
	if (v == NULL)
		return 0;
	n = mig_toml_array_len(v);
	if ((list = calloc(n + 1, sizeof(*list))) == NULL)
		return nomem(ld);
	for (i = 0; i < n; i++) {
		const struct mig_toml_value *e = mig_toml_array_at(v, i);
		size_t len;
		const char *s = mig_toml_string(e, &len);

		if (len == 0 || strlen(s) != len) {
			perr(ld, mig_toml_value_pos(e), "%s[%zu] is empty or "
			    "holds a NUL", key, i);
			goto out_free;
		}
		if ((list[i] = strdup(s)) == NULL) {
			nomem(ld);
			goto out_free;
		}
	}
	*out = list;
	return 0;
out_free:
	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
	return mig_errcode(ld->ctx);
}

static bool
valid_name(const char *s)
{
	size_t i;

	if (s[0] == '\0' || strlen(s) > NAME_MAX_LEN)
		return false;
	for (i = 0; s[i] != '\0'; i++)
		if (!(islower((unsigned char)s[i]) ||
		    isdigit((unsigned char)s[i]) || s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

/* Resolves a plan-relative path ("~/" from env->home) into a new string. */
static int
resolve_path(struct loader *ld, const struct mig_toml_value *pos_v,
    const char *path, char **out)
{
	const char *home = ld->env != NULL ? ld->env->home : NULL;
	size_t n;

	*out = NULL;
	if (path[0] == '~') {
		if (path[1] != '/' && path[1] != '\0')
			return perr(ld, mig_toml_value_pos(pos_v),
			    "\"%s\": only \"~/\" is understood, not ~user",
			    path);
		if (home == NULL || home[0] == '\0')
			return perr(ld, mig_toml_value_pos(pos_v),
			    "\"%s\": HOME is not set", path);
		n = strlen(home) + strlen(path) + 1;
		if ((*out = malloc(n)) == NULL)
			return nomem(ld);
		(void)snprintf(*out, n, "%s%s", home, path + 1);
		return 0;
	}
	*out = mig_path_join(path[0] == '/' ? NULL : ld->plan->dir, path);
	if (*out == NULL)
		return nomem(ld);
	return 0;
}

/* Same, for an optional string key holding a path. */
static int
get_path(struct loader *ld, const struct mig_toml_value *t,
    const char *section, const char *key, bool required, char **out)
{
	char *raw;
	int r;

	*out = NULL;
	if ((r = get_string(ld, t, section, key, required, &raw)) != 0 ||
	    raw == NULL)
		return r;
	r = resolve_path(ld, get(t, key), raw, out);
	free(raw);
	return r;
}

/* Environment variable names: [A-Za-z_][A-Za-z0-9_]*. */
static int
get_env_name(struct loader *ld, const struct mig_toml_value *t,
    const char *section, const char *key, char **out)
{
	size_t i;
	int r;

	if ((r = get_string(ld, t, section, key, false, out)) != 0 ||
	    *out == NULL)
		return r;
	for (i = 0; (*out)[i] != '\0'; i++) {
		char c = (*out)[i];

		if (!(isalpha((unsigned char)c) || c == '_' ||
		    (i > 0 && isdigit((unsigned char)c)))) {
			/* The value may be a secret pasted by mistake: the
			 * caller never sees it, so it is ours to wipe. */
			OPENSSL_cleanse(*out, strlen(*out));
			free(*out);
			*out = NULL;
			return perr(ld, mig_toml_value_pos(get(t, key)),
			    "%s.%s must name an environment variable "
			    "(letters, digits, '_'), not hold a secret",
			    section, key);
		}
	}
	return 0;
}

static void
free_list(char **list)
{
	size_t i;

	if (list == NULL)
		return;
	for (i = 0; list[i] != NULL; i++)
		free(list[i]);
	free(list);
}

/* --- Sections ------------------------------------------------------------- */

static int
load_top(struct loader *ld, const struct mig_toml_value *root)
{
	static const char *const names[MIG_STRATEGY_COUNT] = {
		"retain", "retire", "rehost", "replatform", "refactor",
		"repurchase", "rebuild"
	};
	struct mig_plan *p = ld->plan;
	const struct mig_toml_value *v;
	const char *hint;
	char *s;
	size_t i;
	int r;

	v = get(root, "version");
	if (v == NULL)
		return perr(ld, (struct mig_toml_pos){ 1, 1 },
		    "missing required key \"version\" (add: version = 1)");
	if (mig_toml_int(v) != 1)
		return perr(ld, mig_toml_value_pos(v),
		    "unsupported plan version %lld (this migrate reads "
		    "version 1)", (long long)mig_toml_int(v));
	p->version = 1;

	if ((r = get_string(ld, root, "", "name", true, &p->name)) != 0)
		return r;
	if (!valid_name(p->name))
		return perr(ld, mig_toml_value_pos(get(root, "name")),
		    "name \"%s\" must be 1-%d characters of a-z, 0-9, '_' "
		    "and '-'", p->name, NAME_MAX_LEN);

	if ((r = get_string(ld, root, "", "strategy", true, &s)) != 0)
		return r;
	v = get(root, "strategy");
	for (i = 0; i < MIG_STRATEGY_COUNT; i++)
		if (strcmp(s, names[i]) == 0)
			break;
	if (i == MIG_STRATEGY_COUNT) {
		hint = mig_did_you_mean(s, names, MIG_STRATEGY_COUNT);
		if (hint != NULL)
			r = perr(ld, mig_toml_value_pos(v),
			    "unknown strategy \"%s\" (did you mean \"%s\"?)",
			    s, hint);
		else
			r = perr(ld, mig_toml_value_pos(v),
			    "unknown strategy \"%s\" (one of retire, retain, "
			    "rehost, replatform, refactor, repurchase, "
			    "rebuild)", s);
		free(s);
		return r;
	}
	free(s);
	p->strategy = (enum mig_strategy)i;
	return 0;
}

/*
 * Checks a glob: no escaping pattern.  A leading '/' anchors a pattern to
 * the source root, as in .gitignore (migrate-plan(5) FILTERS); "//" is
 * a mistake, not an anchor.
 */
static int
check_globs(struct loader *ld, const struct mig_toml_value *src,
    const char *key, char **globs)
{
	size_t i;

	if (globs == NULL)
		return 0;
	for (i = 0; globs[i] != NULL; i++) {
		const struct mig_toml_value *e =
		    mig_toml_array_at(get(src, key), i);

		if (globs[i][0] == '/' && globs[i][1] == '/')
			return perr(ld, mig_toml_value_pos(e),
			    "source.%s: pattern \"%s\" starts with \"//\"; "
			    "patterns match paths relative to source.path "
			    "(one leading '/' anchors to it)", key, globs[i]);
		if (strstr(globs[i], "..") != NULL &&
		    (strncmp(globs[i], "../", 3) == 0 ||
		    strstr(globs[i], "/../") != NULL))
			return perr(ld, mig_toml_value_pos(e),
			    "source.%s: pattern \"%s\" leaves the source",
			    key, globs[i]);
	}
	return 0;
}

/* source.KEY, when present, a positive integer into *out. */
static int
get_limit(struct loader *ld, const struct mig_toml_value *src,
    const char *key, uint64_t *out)
{
	const struct mig_toml_value *v = get(src, key);

	if (v == NULL)
		return 0;
	if (mig_toml_int(v) < 1)
		return perr(ld, mig_toml_value_pos(v), "source.%s must be a "
		    "positive integer, not %lld", key,
		    (long long)mig_toml_int(v));
	*out = (uint64_t)mig_toml_int(v);
	return 0;
}

static int
load_source(struct loader *ld, const struct mig_toml_value *root)
{
	struct mig_plan *p = ld->plan;
	const struct mig_toml_value *src = get(root, "source"), *v;
	int r;

	if (src == NULL)
		return perr(ld, (struct mig_toml_pos){ 1, 1 },
		    "missing required table [source] (with path = "
		    "\"DIR-OR-ARCHIVE\")");
	if ((r = check_keys(ld, src, "source", source_keys)) != 0)
		return r;
	if ((r = get_path(ld, src, "source", "path", true,
	    &p->source_path)) != 0)
		return r;
	if ((r = get_strings(ld, src, "include", &p->include)) != 0 ||
	    (r = get_strings(ld, src, "exclude", &p->exclude)) != 0)
		return r;
	if ((r = check_globs(ld, src, "include", p->include)) != 0 ||
	    (r = check_globs(ld, src, "exclude", p->exclude)) != 0)
		return r;
	if ((v = get(src, "follow_symlinks")) != NULL)
		p->follow_symlinks = mig_toml_bool(v);
	/*
	 * Decompression bombs in archive sources: the default ratio (see
	 * archive.h) refuses a zip bomb and lets ordinary compressed data
	 * through; no default byte limit, which only the lake's size sets.
	 */
	p->max_expansion_ratio = MIG_ARCHIVE_MAX_RATIO;
	if ((r = get_limit(ld, src, "max_expansion_ratio",
	    &p->max_expansion_ratio)) != 0 ||
	    (r = get_limit(ld, src, "max_expanded_bytes",
	    &p->max_expanded_bytes)) != 0)
		return r;
	return 0;
}

/*
 * path made absolute and free of "." and ".." (the longest prefix that
 * exists resolved by realpath(3), the rest lexically), into a new string.
 */
static char *
canonical(const char *path)
{
	char buf[PATH_MAX], *real, *out, *slash;
	size_t n;

	if ((size_t)snprintf(buf, sizeof(buf), "%s", path) >= sizeof(buf))
		return NULL;
	for (;;) {
		if ((real = realpath(buf, NULL)) != NULL)
			break;
		if ((slash = strrchr(buf, '/')) == NULL) {
			/* A relative name of which nothing exists. */
			real = realpath(".", NULL);
			buf[0] = '\0';
			break;
		}
		*slash = '\0';
		if (buf[0] == '\0') {
			real = strdup("/");
			break;
		}
	}
	if (real == NULL)
		return NULL;
	n = strlen(buf);
	if (path[n] == '\0' || strstr(path + n, "/..") != NULL ||
	    strstr(path + n, "/./") != NULL)
		return real;	/* nothing left, or too odd to append */
	out = malloc(strlen(real) + strlen(path + n) + 2);
	if (out != NULL)
		(void)sprintf(out, "%s%s%s", strcmp(real, "/") == 0 ? "" : real,
		    path[n] == '/' ? "" : "/", path + n);
	free(real);
	return out;
}

/*
 * A lake inside the source would land the lake's own bags again on every
 * run, each run larger than the last.
 */
static int
check_lake_outside(struct loader *ld, const struct mig_toml_value *v)
{
	struct mig_plan *p = ld->plan;
	char *lake, *src;
	size_t n;
	int r = 0;

	if (p->lake_path == NULL || p->source_path == NULL)
		return 0;
	lake = canonical(p->lake_path);
	src = canonical(p->source_path);
	if (lake != NULL && src != NULL) {
		n = strlen(src);
		if (strncmp(lake, src, n) == 0 && (lake[n] == '\0' ||
		    lake[n] == '/' || strcmp(src, "/") == 0))
			r = perr(ld, mig_toml_value_pos(v), "destination.url: "
			    "the lake %s is inside the source %s: every run "
			    "would land the lake's own bags again; put the "
			    "lake outside the source", lake, src);
	}
	free(lake);
	free(src);
	return r;
}

/*
 * The [destination] keys the backend takes, as it declares them: unknown
 * ones get a "did you mean" among the common and the backend's keys, and
 * a key of another backend says which one.
 */
static int
check_dest_keys(struct loader *ld, const struct mig_toml_value *dst,
    const struct mig_transport_ops *be)
{
	const char *names[MIG_TOPTS_MAX + 8], *key, *hint, *other;
	const struct mig_tkey *k;
	size_t i, j, n = 0, klen;
	char kbuf[128];

	for (i = 0; destination_keys[i].name != NULL; i++)
		names[n++] = destination_keys[i].name;
	for (k = be->keys; k != NULL && k->name != NULL && n < 40; k++)
		names[n++] = k->name;
	for (i = 0; i < mig_toml_table_len(dst); i++) {
		key = mig_toml_table_key(dst, i, &klen);
		if (klen >= sizeof(kbuf) || strlen(key) != klen)
			return perr(ld, mig_toml_table_key_pos(dst, i),
			    "unknown key in [destination]");
		memcpy(kbuf, key, klen + 1);
		for (j = 0; j < n && strcmp(names[j], kbuf) != 0; j++)
			;
		if (j < n)
			continue;
		other = mig_transport_key_scheme(kbuf, be->scheme);
		if (other != NULL)
			return perr(ld, mig_toml_value_pos(
			    mig_toml_table_value(dst, i)), "destination.%s "
			    "only applies to %s:// destinations, not %s://",
			    kbuf, other, ld->plan->scheme);
		hint = mig_did_you_mean(kbuf, names, n);
		if (hint != NULL)
			return perr(ld, mig_toml_table_key_pos(dst, i),
			    "unknown key \"destination.%s\" (did you mean "
			    "\"%s\"?)", kbuf, hint);
		return perr(ld, mig_toml_table_key_pos(dst, i),
		    "unknown key \"destination.%s\" (see migrate-plan(5) for "
		    "the keys of %s:// destinations)", kbuf, be->scheme);
	}
	return 0;
}

/* One backend key into p->dest, typed as declared. */
static int
load_dest_key(struct loader *ld, const struct mig_toml_value *dst,
    const struct mig_tkey *k)
{
	struct mig_plan *p = ld->plan;
	const struct mig_toml_value *v = get(dst, k->name);
	char *val = NULL, num[32];
	int r;

	if (v == NULL && k->dflt == NULL)
		return 0;
	switch (k->type) {
	case MIG_TKEY_BOOL:
		if (v == NULL)
			val = strdup(k->dflt);
		else if (mig_toml_type(v) != MIG_TOML_BOOL)
			return perr(ld, mig_toml_value_pos(v), "destination.%s "
			    "must be a boolean (true or false)", k->name);
		else
			val = strdup(mig_toml_bool(v) ? "true" : "false");
		if (val == NULL)
			return nomem(ld);
		break;
	case MIG_TKEY_INT:
		if (v == NULL)
			(void)snprintf(num, sizeof(num), "%s", k->dflt);
		else if (mig_toml_type(v) != MIG_TOML_INTEGER)
			return perr(ld, mig_toml_value_pos(v), "destination.%s "
			    "must be an integer", k->name);
		else
			(void)snprintf(num, sizeof(num), "%lld",
			    (long long)mig_toml_int(v));
		if ((val = strdup(num)) == NULL)
			return nomem(ld);
		break;
	case MIG_TKEY_PATH:
		if (v == NULL)
			r = resolve_path(ld, dst, k->dflt, &val);
		else
			r = get_path(ld, dst, "destination", k->name, false,
			    &val);
		if (r != 0)
			return r;
		break;
	case MIG_TKEY_ENV:
		if ((r = get_env_name(ld, dst, "destination", k->name,
		    &val)) != 0)
			return r;
		break;
	default:
		if ((r = get_string(ld, dst, "destination", k->name, false,
		    &val)) != 0)
			return r;
		if (val == NULL && (val = strdup(k->dflt)) == NULL)
			return nomem(ld);
		break;
	}
	if (val != NULL && mig_topts_set(&p->dest, k->name, val) != 0) {
		free(val);
		return perr(ld, mig_toml_value_pos(dst), "too many "
		    "[destination] keys");
	}
	return 0;
}

/*
 * destination.bwlimit = "10M": bytes per second for the whole run, every
 * connection together; "0" or "off" for none (the default).
 */
static int
load_bwlimit(struct loader *ld, const struct mig_toml_value *dst)
{
	char *text = NULL;
	int r;

	if ((r = get_string(ld, dst, "destination", "bwlimit", false,
	    &text)) != 0 || text == NULL)
		return r;
	if (mig_parse_rate(text, &ld->plan->bwlimit) != 0)
		r = perr(ld, mig_toml_value_pos(get(dst, "bwlimit")),
		    "destination.bwlimit: \"%s\" is not a rate; write bytes "
		    "per second as \"512K\", \"10M\" or \"1G\" (powers of "
		    "1024), or \"off\"", text);
	free(text);
	return r;
}

static int
load_destination(struct loader *ld, const struct mig_toml_value *root)
{
	struct mig_plan *p = ld->plan;
	const struct mig_toml_value *dst = get(root, "destination"), *v;
	const struct mig_transport_ops *be;
	const struct mig_tkey *k;
	const char *badkey = NULL;
	char msg[MIG_ERRMSG_MAX], schemes[64];
	struct mig_url url;
	int r;

	if (dst == NULL)
		return perr(ld, (struct mig_toml_pos){ 1, 1 },
		    "missing required table [destination] (with url = "
		    "\"file://DIR\", \"sftp://...\" or \"https://...\")");
	if ((r = get_string(ld, dst, "destination", "url", true,
	    &p->url)) != 0)
		return r;
	v = get(dst, "url");
	if (mig_url_parse(p->url, &url, ld->ctx) != 0) {
		(void)snprintf(msg, sizeof(msg), "%s", mig_errmsg(ld->ctx));
		return perr(ld, mig_toml_value_pos(v), "destination.url: %s",
		    msg);
	}
	if ((p->scheme = strdup(url.scheme)) == NULL) {
		mig_url_free(&url);
		return nomem(ld);
	}
	if ((be = mig_transport_backend(p->scheme)) == NULL) {
		mig_url_free(&url);
		return perr(ld, mig_toml_value_pos(v), "destination.url: "
		    "unsupported scheme \"%s\" (%s)", p->scheme,
		    mig_transport_schemes(schemes, sizeof(schemes)));
	}
	r = 0;
	if (strcmp(p->scheme, "file") == 0)
		r = resolve_path(ld, v, url.path, &p->lake_path);
	for (k = be->keys; r == 0 && k != NULL && k->name != NULL; k++)
		r = load_dest_key(ld, dst, k);
	if (r == 0 && (r = check_dest_keys(ld, dst, be)) == 0 &&
	    be->check != NULL && be->check(&p->dest, &url, &badkey, msg,
	    sizeof(msg)) != 0) {
		v = badkey != NULL && get(dst, badkey) != NULL ?
		    get(dst, badkey) : get(dst, "url");
		r = perr(ld, mig_toml_value_pos(v), "%s", msg);
	}
	mig_url_free(&url);
	if (r != 0 || (strcmp(p->scheme, "file") == 0 &&
	    (r = check_lake_outside(ld, get(dst, "url"))) != 0))
		return r;

	if ((r = get_string(ld, dst, "destination", "dataset", false,
	    &p->dataset)) != 0)
		return r;
	if (p->dataset == NULL && (p->dataset = strdup(p->name)) == NULL)
		return nomem(ld);
	if (!valid_name(p->dataset))
		return perr(ld, mig_toml_value_pos(get(dst, "dataset")),
		    "dataset \"%s\" must be 1-%d characters of a-z, 0-9, '_' "
		    "and '-'", p->dataset, NAME_MAX_LEN);
	if ((r = get_string(ld, dst, "destination", "zone", false,
	    &p->zone)) != 0)
		return r;
	if (p->zone == NULL && (p->zone =
	    strdup(mig_strategy_info(p->strategy)->zone)) == NULL)
		return nomem(ld);
	if (!valid_name(p->zone))
		return perr(ld, mig_toml_value_pos(get(dst, "zone")),
		    "zone \"%s\" must be 1-%d characters of a-z, 0-9, '_' "
		    "and '-'", p->zone, NAME_MAX_LEN);
	return load_bwlimit(ld, dst);
}

/* Light syntax check; the age layer decodes recipients fully at run time. */
static bool
looks_like_recipient(const char *s)
{
	size_t i;

	if (strncmp(s, "age1", 4) != 0 || strlen(s) < 10)
		return false;
	for (i = 4; s[i] != '\0'; i++)
		if (strchr("qpzry9x8gf2tvdw0s3jn54khce6mua7l", s[i]) == NULL)
			return false;
	return true;
}

/* Whether s holds "AGE-SECRET-KEY-" anywhere, in any case. */
static bool
holds_identity(const char *s)
{
	static const char id[] = "AGE-SECRET-KEY-";

	for (; *s != '\0'; s++)
		if (strncasecmp(s, id, sizeof(id) - 1) == 0)
			return true;
	return false;
}

static int
load_encryption(struct loader *ld, const struct mig_toml_value *root)
{
	struct mig_plan *p = ld->plan;
	const struct mig_toml_value *enc = get(root, "encryption"), *v;
	size_t i;
	int r;

	if (enc == NULL)
		return perr(ld, (struct mig_toml_pos){ 1, 1 },
		    "missing required table [encryption] (recipients = "
		    "[\"age1...\"]; create a key with: migrate keygen -o "
		    "FILE)");
	if ((r = check_keys(ld, enc, "encryption", encryption_keys)) != 0)
		return r;
	if ((r = get_strings(ld, enc, "recipients", &p->recipients)) != 0 ||
	    (r = get_path(ld, enc, "encryption", "recipients_file", false,
	    &p->recipients_file)) != 0 ||
	    (r = get_env_name(ld, enc, "encryption", "passphrase_env",
	    &p->passphrase_env)) != 0)
		return r;
	v = get(enc, "recipients");
	for (i = 0; p->recipients != NULL && p->recipients[i] != NULL; i++) {
		if (looks_like_recipient(p->recipients[i]))
			continue;
		/*
		 * Never echo a secret key, not even part of it: not even
		 * one that a space or a quote puts past the start.
		 */
		if (holds_identity(p->recipients[i]))
			return perr(ld, mig_toml_value_pos(
			    mig_toml_array_at(v, i)), "encryption.recipients"
			    "[%zu] is an age SECRET key: never put it in a "
			    "plan; use its recipient (age1...) and treat the "
			    "key as compromised", i);
		return perr(ld, mig_toml_value_pos(mig_toml_array_at(v, i)),
		    "encryption.recipients[%zu]: \"%.20s%s\" is not an age "
		    "recipient (age1...)", i, p->recipients[i],
		    strlen(p->recipients[i]) > 20 ? "..." : "");
	}
	if ((p->recipients == NULL || p->recipients[0] == NULL) &&
	    p->recipients_file == NULL && p->passphrase_env == NULL)
		return perr(ld, mig_toml_value_pos(enc), "[encryption] needs "
		    "recipients, recipients_file or passphrase_env");
	if (p->passphrase_env != NULL && (p->recipients_file != NULL ||
	    (p->recipients != NULL && p->recipients[0] != NULL)))
		return perr(ld, mig_toml_value_pos(get(enc,
		    "passphrase_env")), "encryption.passphrase_env cannot be "
		    "combined with recipients (an age scrypt recipient must "
		    "be the only one)");
	return 0;
}

/* [compression]: only for strategies that compress, zstd_level 1 to 19. */
static int
load_compression(struct loader *ld, const struct mig_toml_value *root)
{
	struct mig_plan *p = ld->plan;
	const struct mig_strategy_info *si = mig_strategy_info(p->strategy);
	const struct mig_toml_value *t, *v;
	int r;

	p->compress = si->compress;
	p->zstd_level = 3;
	if ((t = get(root, "compression")) == NULL)
		return 0;
	if ((r = check_keys(ld, t, "compression", compression_keys)) != 0)
		return r;
	if (!si->compress)
		return perr(ld, mig_toml_value_pos(t), "[compression] "
		    "does not apply to strategy \"%s\" (%s); remove it%s",
		    si->name, si->moves_data ? "it lands files "
		    "uncompressed" : "it moves no data",
		    p->strategy == MIG_STRATEGY_REHOST ? " or use "
		    "strategy \"replatform\"" : "");
	if ((v = get(t, "zstd_level")) != NULL) {
		if (mig_toml_int(v) < 1 || mig_toml_int(v) > 19)
			return perr(ld, mig_toml_value_pos(v),
			    "compression.zstd_level must be 1 to 19, "
			    "not %lld", (long long)mig_toml_int(v));
		p->zstd_level = (int)mig_toml_int(v);
	}
	return 0;
}

/* [audit]: the log defaults to audit/NAME.jsonl beside the plan. */
static int
load_audit(struct loader *ld, const struct mig_toml_value *root)
{
	struct mig_plan *p = ld->plan;
	const struct mig_toml_value *t = get(root, "audit");
	char defpath[PATH_MAX];
	int r;

	if (t != NULL && (r = check_keys(ld, t, "audit", audit_keys)) != 0)
		return r;
	if ((r = get_path(ld, t, "audit", "log", false, &p->audit_log)) != 0 ||
	    (r = get_path(ld, t, "audit", "signing_key", false,
	    &p->signing_key)) != 0)
		return r;
	if (p->audit_log == NULL) {
		if ((size_t)snprintf(defpath, sizeof(defpath),
		    "audit/%s.jsonl", p->name) >= sizeof(defpath))
			return nomem(ld);
		if ((r = resolve_path(ld, root, defpath, &p->audit_log)) != 0)
			return r;
	}
	return 0;
}

/* [retire]: only for strategy retire. */
static int
load_retire(struct loader *ld, const struct mig_toml_value *root)
{
	struct mig_plan *p = ld->plan;
	const struct mig_toml_value *t, *v;
	int r;

	if ((t = get(root, "retire")) == NULL)
		return 0;
	if ((r = check_keys(ld, t, "retire", retire_keys)) != 0)
		return r;
	if (p->strategy != MIG_STRATEGY_RETIRE)
		return perr(ld, mig_toml_value_pos(t), "[retire] only "
		    "applies to strategy \"retire\", not \"%s\"",
		    mig_strategy_info(p->strategy)->name);
	if ((v = get(t, "delete_source")) != NULL)
		p->delete_source = mig_toml_bool(v);
	return 0;
}

/*
 * refactor.partition_by (value v of table t): "mtime:FORMAT", the key
 * "date" unless partition_key names another, or an extended regular
 * expression with one capture group, and then partition_key is required.
 */
static int
check_partition_by(struct loader *ld, const struct mig_toml_value *t,
    const struct mig_toml_value *v)
{
	struct mig_plan *p = ld->plan;
	const char *f;
	char msg[128];
	regex_t re;
	int rc;

	if (strncmp(p->partition_by, "mtime:", 6) == 0) {
		f = p->partition_by + 6;
		if (*f == '\0' || strchr(f, '/') != NULL)
			return perr(ld, mig_toml_value_pos(v),
			    "refactor.partition_by: the strftime "
			    "format after \"mtime:\" must be non-empty "
			    "and hold no '/'");
		if (p->partition_key == NULL &&
		    (p->partition_key = strdup("date")) == NULL)
			return nomem(ld);
		return 0;
	}
	if ((rc = regcomp(&re, p->partition_by, REG_EXTENDED)) != 0) {
		regerror(rc, &re, msg, sizeof(msg));
		return perr(ld, mig_toml_value_pos(v),
		    "refactor.partition_by: bad regular "
		    "expression: %s", msg);
	}
	rc = re.re_nsub == 1;
	regfree(&re);
	if (!rc)
		return perr(ld, mig_toml_value_pos(v),
		    "refactor.partition_by: the regular "
		    "expression needs exactly one capture "
		    "group (...), or use \"mtime:FORMAT\"");
	if (p->partition_key == NULL)
		return perr(ld, mig_toml_value_pos(t),
		    "refactor.partition_key is required with "
		    "a regular expression partition_by");
	return 0;
}

/* [refactor]: required by, and only for, the partitioning strategies. */
static int
load_refactor(struct loader *ld, const struct mig_toml_value *root)
{
	struct mig_plan *p = ld->plan;
	const struct mig_strategy_info *si = mig_strategy_info(p->strategy);
	const struct mig_toml_value *t = get(root, "refactor");
	int r;

	if (t != NULL) {
		if ((r = check_keys(ld, t, "refactor", refactor_keys)) != 0)
			return r;
		if (!si->partition)
			return perr(ld, mig_toml_value_pos(t), "[refactor] "
			    "only applies to strategies \"refactor\" and "
			    "\"rebuild\", not \"%s\"", si->name);
	}
	if (!si->partition)
		return 0;
	if (t == NULL)
		return perr(ld, (struct mig_toml_pos){ 1, 1 },
		    "strategy \"%s\" needs a [refactor] table with "
		    "partition_by (e.g. \"mtime:%%Y-%%m-%%d\")",
		    si->name);
	if ((r = get_string(ld, t, "refactor", "partition_by", true,
	    &p->partition_by)) != 0 ||
	    (r = get_string(ld, t, "refactor", "partition_key", false,
	    &p->partition_key)) != 0 ||
	    (r = check_partition_by(ld, t, get(t, "partition_by"))) != 0)
		return r;
	if (!valid_name(p->partition_key))
		return perr(ld, mig_toml_value_pos(get(t,
		    "partition_key")), "refactor.partition_key "
		    "\"%s\" must be 1-%d characters of a-z, 0-9, '_' "
		    "and '-'", p->partition_key, NAME_MAX_LEN);
	return 0;
}

/* --- Entry points --------------------------------------------------------- */

void
mig_plan_free(struct mig_plan *p)
{
	size_t i;

	if (p == NULL)
		return;
	free(p->file);
	free(p->dir);
	free(p->name);
	free(p->source_path);
	free_list(p->include);
	free_list(p->exclude);
	free(p->url);
	free(p->scheme);
	free(p->lake_path);
	free(p->dataset);
	free(p->zone);
	for (i = 0; i < p->dest.n; i++)
		free((char *)p->dest.v[i].value);
	free_list(p->recipients);
	free(p->recipients_file);
	free(p->passphrase_env);
	free(p->audit_log);
	free(p->signing_key);
	free(p->partition_by);
	free(p->partition_key);
	free(p);
}

static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

int
mig_plan_parse(const char *path, const char *buf, size_t len,
    const struct mig_plan_env *env, struct mig_ctx *ctx,
    struct mig_plan **planp)
{
	struct mig_toml_doc *doc = NULL;
	struct mig_toml_error terr;
	const struct mig_toml_value *root;
	struct loader ld = { path, env, ctx, NULL };
	unsigned char md[32];
	unsigned int mdlen = 0;
	int r;

	*planp = NULL;
	if ((ld.plan = calloc(1, sizeof(*ld.plan))) == NULL)
		return nomem(&ld);
	if ((ld.plan->file = strdup(path)) == NULL ||
	    (ld.plan->dir = dir_of(path)) == NULL) {
		r = nomem(&ld);
		goto out;
	}
	if (EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) != 1) {
		r = mig_seterr_ssl(ctx, MIG_ERR_CRYPTO, "%s: SHA-256", path);
		goto out;
	}
	mig_hex_encode(md, sizeof(md), ld.plan->sha256);

	r = mig_toml_parse(buf, len, &doc, &terr);
	if (r == MIG_ERR_NOMEM) {
		r = nomem(&ld);
		goto out;
	}
	if (r != 0) {
		r = perr(&ld, terr.pos, "%s", terr.msg);
		goto out;
	}
	root = mig_toml_root(doc);
	if ((r = check_keys(&ld, root, "", root_keys)) != 0 ||
	    (r = load_top(&ld, root)) != 0 ||
	    (r = load_source(&ld, root)) != 0 ||
	    (r = load_destination(&ld, root)) != 0 ||
	    (r = load_encryption(&ld, root)) != 0 ||
	    (r = load_compression(&ld, root)) != 0 ||
	    (r = load_audit(&ld, root)) != 0 ||
	    (r = load_retire(&ld, root)) != 0 ||
	    (r = load_refactor(&ld, root)) != 0)
		goto out;
	*planp = ld.plan;
	ld.plan = NULL;
out:
	mig_toml_free(doc);
	mig_plan_free(ld.plan);
	return r;
}

int
mig_plan_load(const char *path, const struct mig_plan_env *env,
    struct mig_ctx *ctx, struct mig_plan **planp)
{
	struct stat st;
	char *buf = NULL;
	ssize_t n;
	size_t len = 0;
	int fd, r;

	*planp = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return mig_seterr(ctx, errno == ENOENT ? MIG_ERR_NOTFOUND :
		    MIG_ERR_IO, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		r = mig_seterr(ctx, MIG_ERR_IO, "%s: %s", path,
		    strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = mig_seterr(ctx, MIG_ERR_USAGE, "%s: not a regular file",
		    path);
		goto out;
	}
	if (st.st_size > PLAN_MAX_BYTES) {
		r = mig_seterr(ctx, MIG_ERR_PARSE, "%s: larger than %d bytes; "
		    "is this really a plan?", path, PLAN_MAX_BYTES);
		goto out;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		r = mig_seterr(ctx, MIG_ERR_NOMEM, "out of memory");
		goto out;
	}
	while (len < (size_t)st.st_size) {
		n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = mig_seterr(ctx, MIG_ERR_IO, "%s: %s", path,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	r = mig_plan_parse(path, buf, len, env, ctx, planp);
out:
	free(buf);
	close(fd);
	return r;
}
