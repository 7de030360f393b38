#!/usr/bin/env bash
# Docs that run (issue 18): the commands of README.md "Using it" and of
# migrate(1) EXAMPLES work as they are written, in order, on a scratch
# copy of the repository's plans after the set-up the docs name (make
# demo: tests/demo.sh), with the binary on PATH as `migrate`.
. "$(dirname "$0")/lib.sh"
bindir=$(dirname "$MIGRATE")
[ "$(basename "$MIGRATE")" = migrate ] || fail "MIGRATE must be named migrate"

# scratch DIR: the plans and demo script of a fresh clone, demo run.
scratch() {
	mkdir -p "$1/tests"
	cp -r "$REPO_DIR/plans" "$1/plans"
	rm -rf "$1/plans/keys" "$1/plans/audit" "$1/plans/.migrate"* "$1/lake"
	cp "$REPO_DIR/tests/demo.sh" "$1/tests/demo.sh"
	(cd "$1" && bash tests/demo.sh "$MIGRATE") > "$1.demo" 2>&1 ||
	    { cat "$1.demo"; fail "make demo (tests/demo.sh) failed in $1"; }
}

# run_script NAME DIR FILE: runs FILE's lines in DIR with bash -e -x.
run_script() {
	local n
	n=$(grep -c '^migrate ' "$3")
	echo "$1: $n migrate commands"
	(cd "$2" && PATH="$bindir:$PATH" bash -e -x "$3") > "$T/$1.log" 2>&1 ||
	    { tail -n 30 "$T/$1.log"; fail "$1: an example failed (above)"; }
}

# README.md: the indented lines of the "Using it" section.
awk '/^## Using it/ { on = 1; next } /^## / { on = 0 } on && /^    / { sub(/^    /, ""); print }' \
    "$REPO_DIR/README.md" > "$T/readme.sh"
[ "$(grep -c '^migrate ' "$T/readme.sh")" -ge 15 ] ||
    { cat "$T/readme.sh"; fail "README examples not found"; }
scratch "$T/r1"
run_script readme "$T/r1" "$T/readme.sh"
[ -f "$T/r1/out/sub/b.csv" ] || [ -n "$(ls -A "$T/r1/out")" ] || fail "restore wrote nothing"
grep -q '^hello$' "$T/readme.log" || fail "decrypt did not give hello back"

# migrate(1) EXAMPLES: the literal blocks and .Dl lines, unescaped.
awk '
/^\.Sh EXAMPLES/ { on = 1; next }
/^\.Sh / { on = 0 }
!on { next }
/^\.Bd -literal/ { lit = 1; next }
/^\.Ed/ { lit = 0; next }
/^\.Dl / { sub(/^\.Dl /, ""); print; next }
lit { print }' "$REPO_DIR/man/migrate.1" |
    sed -e 's/\\e/\\/g' -e 's/\\(dq/"/g' -e "s/\\\\(aq/'/g" > "$T/man.sh"
[ "$(grep -c '^migrate ' "$T/man.sh")" -ge 8 ] ||
    { cat "$T/man.sh"; fail "migrate(1) examples not found"; }
scratch "$T/m1"
run_script man "$T/m1" "$T/man.sh"
echo "ok: README and migrate(1) examples run as written"
