#!/usr/bin/env bash
# The command line: help, version, exit codes, plan check.
. "$(dirname "$0")/lib.sh"
expect_exit 0 "$MIGRATE" --help
expect_out "Commands:"
expect_exit 0 "$MIGRATE" --version
expect_out "migrate "
expect_exit 2 "$MIGRATE"
expect_err "no command given"
expect_exit 2 "$MIGRATE" frobnicate
expect_err 'unknown command "frobnicate"'
# Every registered command has help that is the same three ways.
for c in $("$MIGRATE" --help | awk '/^Commands:/{on=1; next} on && /^  [a-z]/ {print $1} on && !NF {exit}'); do
	"$MIGRATE" help "$c" > "$T/a" || fail "help $c"
	"$MIGRATE" "$c" --help > "$T/b" || fail "$c --help"
	"$MIGRATE" "$c" -h > "$T/c" || fail "$c -h"
	cmp -s "$T/a" "$T/b" && cmp -s "$T/a" "$T/c" || fail "help of $c differs"
	grep -q "^usage: migrate $c" "$T/a" || fail "usage of $c"
	expect_exit 2 "$MIGRATE" "$c" --no-such-option
done

# plan check: all seven examples pass once the keys they name exist
# (setup_plans: a copy of plans/ with keys/, as make demo makes them;
# plan check is a preflight and refuses a missing recipients file);
# JSON is one document.
setup_plans
for p in "$T"/p/*.toml; do
	expect_exit 0 "$MIGRATE" plan check "$p"
	expect_exit 0 "$MIGRATE" plan check --json "$p"
	python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/out" || fail "$p json"
done
# A bad plan: exit 2 with FILE:LINE:COL and a hint.
printf 'version = 1\nname = "x"\nstrategy = "rehots"\n' > "$T/bad.toml"
expect_exit 2 "$MIGRATE" plan check "$T/bad.toml"
expect_err "migrate: $T/bad.toml:3:12: unknown strategy \"rehots\" (did you mean \"rehost\"?)"
expect_exit 2 "$MIGRATE" run "$T/bad.toml"
expect_err "$T/bad.toml:3:12:"
printf 'version = 1\nname = "x\n' > "$T/syntax.toml"
expect_exit 2 "$MIGRATE" plan check "$T/syntax.toml"
expect_err "$T/syntax.toml:2:"
expect_exit 2 "$MIGRATE" plan check "$T/missing.toml"
expect_exit 2 "$MIGRATE" run --jobs 0 "$T/bad.toml"
expect_err "--jobs takes a number"
echo ok
