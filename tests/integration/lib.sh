# Shared helpers for the integration scripts (sourced, not run).
set -u
: "${MIGRATE:?}"
TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO_DIR=$(cd "$TESTS_DIR/.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/migrate-test.XXXXXX")
trap 'rm -rf "$T"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_exit CODE CMD...: runs CMD, stdout/stderr to $T/out $T/err.
expect_exit() {
	local want=$1; shift
	"$@" >"$T/out" 2>"$T/err"
	local got=$?
	if [ "$got" -ne "$want" ]; then
		echo "command: $*" >&2
		echo "stdout:" >&2; cat "$T/out" >&2
		echo "stderr:" >&2; cat "$T/err" >&2
		fail "exit $got, want $want"
	fi
}

# expect_err SUBSTRING: the last command's stderr holds SUBSTRING.
expect_err() {
	grep -qF -- "$1" "$T/err" || { cat "$T/err" >&2; fail "stderr lacks: $1"; }
}
expect_out() {
	grep -qF -- "$1" "$T/out" || { cat "$T/out" >&2; fail "stdout lacks: $1"; }
}

# A private copy of plans/ (with data) and demo keys under $T/p, so the
# tests never touch the repository's own lake, audit logs or keys.
setup_plans() {
	mkdir -p "$T/p"
	cp -r "$REPO_DIR/plans/." "$T/p/"
	rm -rf "$T/p/keys" "$T/p/audit"
	mkdir -p "$T/p/keys"
	"$MIGRATE" keygen -o "$T/p/keys/demo.key" 2>/dev/null
	grep -o 'age1[a-z0-9]*' "$T/p/keys/demo.key" > "$T/p/keys/demo.pub"
	"$MIGRATE" keygen --signing -o "$T/p/keys/audit.pem" >/dev/null 2>&1
	LAKE="$T/lake"
	KEY="$T/p/keys/demo.key"
}

# json FILE EXPR: evaluates a Python expression on the JSON document in FILE
# (bound to d) and prints the result.
json() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# A plan for an arbitrary source directory: write_plan FILE STRATEGY SRC [EXTRA]
write_plan() {
	cat > "$1" <<PLAN
version = 1
name = "t-$2"
strategy = "$2"
[source]
path = "$3"
[destination]
url = "file://$T/lake"
[encryption]
recipients_file = "$T/p/keys/demo.pub"
[audit]
log = "$T/audit/t-$2.jsonl"
${4:-}
PLAN
}
