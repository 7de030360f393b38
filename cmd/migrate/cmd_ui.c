/*
 * What every verb shares in how it talks to a person: -v/-q, help that
 * describes each option, "did you mean" for a mistyped option, and
 * whether stderr may get a progress bar.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "migrate/plan.h"

#include "cmd.h"

int cmd_verbosity;

/* The two options every verb takes, described once for every help. */
static const char *const common_options[] = {
	"-v, --verbose      say more about what is done (to stderr)",
	"-q, --quiet        say nothing but errors and warnings",
	"-h, --help         this help",
	NULL
};

void
cmd_set_verbosity(int c)
{
	cmd_verbosity = c == 'v' ? 1 : -1;
}

void
cmd_info(const char *fmt, ...)
{
	va_list ap;

	if (cmd_verbosity < 0)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
cmd_verbose(const char *fmt, ...)
{
	va_list ap;

	if (cmd_verbosity < 1)
		return;
	fputs("migrate: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/*
 * Progress bars and the escape codes that draw them: only on a terminal
 * that understands them (TERM set and not "dumb"), and never with -q.
 */
bool
cmd_progress_ok(void)
{
	const char *term = getenv("TERM");

	return cmd_verbosity >= 0 && isatty(STDERR_FILENO) && term != NULL &&
	    term[0] != '\0' && strcmp(term, "dumb") != 0;
}

static void
print_options(FILE *fp, const char *const *options)
{
	size_t i;

	for (i = 0; options != NULL && options[i] != NULL; i++) {
		/* A line that is no option heads a group of them. */
		if (options[i][0] != '-' && options[i][0] != ' ')
			fprintf(fp, "\n%s\n", options[i]);
		else
			fprintf(fp, "  %s\n", options[i]);
	}
}

void
cmd_print_help(FILE *fp, const char *const *usage,
    const char *const *options)
{
	cmd_print_usage(fp, usage);
	if (options != NULL && options[0] != NULL &&
	    options[0][0] != '-' && options[0][0] != ' ')
		print_options(fp, options);
	else {
		fputs("\nOptions:\n", fp);
		print_options(fp, options);
	}
	fputs("\nCommon options:\n", fp);
	print_options(fp, common_options);
}

int
cmd_help_options(const char *const *usage, const char *const *options)
{
	cmd_print_help(stdout, usage, options);
	return EXIT_OK;
}

/* The long option the argument names (up to '='), or NULL. */
static const struct option *
long_named(const struct option *longopts, const char *name, size_t n)
{
	size_t i;

	for (i = 0; longopts[i].name != NULL; i++)
		if (strlen(longopts[i].name) == n &&
		    strncmp(longopts[i].name, name, n) == 0)
			return &longopts[i];
	return NULL;
}

/* "--de" that starts two long options: their names, for the message. */
static size_t
prefix_matches(const struct option *longopts, const char *name, size_t n,
    char *buf, size_t size)
{
	size_t i, count = 0, len = 0;

	buf[0] = '\0';
	for (i = 0; longopts[i].name != NULL; i++) {
		if (strncmp(longopts[i].name, name, n) != 0)
			continue;
		if (len < size)
			len += (size_t)snprintf(buf + len, size - len, "%s--%s",
			    count > 0 ? ", " : "", longopts[i].name);
		count++;
	}
	return count;
}

static int
bad_long(const char *arg, const struct option *longopts,
    const char *const *usage)
{
	const char *name = arg + 2, *eq = strchr(name, '='), *hint;
	const char *cands[64];
	size_t n = eq != NULL ? (size_t)(eq - name) : strlen(name), i, nc = 0;
	const struct option *o = long_named(longopts, name, n);
	char word[128], list[512];

	if (o != NULL && eq != NULL && o->has_arg == no_argument)
		return cmd_bad_usage(usage, "option --%s takes no value", o->name);
	if (o != NULL)
		return cmd_bad_usage(usage, "option --%s needs a value", o->name);
	if (prefix_matches(longopts, name, n, list, sizeof(list)) > 1)
		return cmd_bad_usage(usage, "option --%.*s is ambiguous: %s",
		    (int)n, name, list);
	for (i = 0; longopts[i].name != NULL && nc < 64; i++)
		cands[nc++] = longopts[i].name;
	(void)snprintf(word, sizeof(word), "%.*s", (int)n, name);
	if ((hint = mig_did_you_mean(word, cands, nc)) != NULL)
		return cmd_bad_usage(usage, "unknown option --%s (did you mean "
		    "--%s?)", word, hint);
	return cmd_bad_usage(usage, "unknown option --%s", word);
}

int
cmd_bad_option(int c, char **argv, const struct option *longopts,
    const char *const *usage)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "";
	size_t i;

	if (strncmp(arg, "--", 2) == 0 && arg[2] != '\0') {
		/* An unknown long option, or a known one misused. */
		if (optopt == 0 || c == ':' || strchr(arg, '=') != NULL)
			return bad_long(arg, longopts, usage);
	}
	if (c == ':') {
		for (i = 0; longopts[i].name != NULL; i++)
			if (longopts[i].val == optopt &&
			    longopts[i].has_arg != no_argument)
				return cmd_bad_usage(usage, "option -%c (--%s) "
				    "needs a value", optopt, longopts[i].name);
		return cmd_bad_usage(usage, "option -%c needs a value", optopt);
	}
	if (optopt > 0x20 && optopt < 0x7f)
		return cmd_bad_usage(usage, "unknown option -%c", optopt);
	return cmd_bad_usage(usage, "unknown option %s", arg);
}
