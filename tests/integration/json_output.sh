#!/usr/bin/env bash
# --json (issue 18): every command that has it prints exactly one JSON
# document on stdout and nothing else (audit show --json: JSON Lines, as
# migrate(1) says), whatever the outcome.  The list of commands is taken
# from the getopt tables, so a new --json cannot go untested.
. "$(dirname "$0")/lib.sh"
setup_plans
mkdir -p "$T/src/sub"
echo a > "$T/src/a.csv"
echo b > "$T/src/sub/b.csv"
write_plan "$T/p.toml" replatform "$T/src" '[audit]'
sed -i '$d' "$T/p.toml"
echo "signing_key = \"$T/p/keys/audit.pem\"" >> "$T/p.toml"

# one_doc: $T/out is one JSON document (an object) and nothing else.
one_doc() {
	python3 - "$T/out" "$1" <<'PY' || fail "$1: stdout is not exactly one JSON document: $(head -c 400 "$T/out")"
import json, sys
text = open(sys.argv[1]).read()
d, end = json.JSONDecoder().raw_decode(text)
assert text[end:].strip() == "", "more after the document"
assert isinstance(d, dict), "not an object"
PY
}
tested=""
t() { tested="$tested $1"; }

expect_exit 0 "$MIGRATE" run --dry-run --json "$T/p.toml"
one_doc "run --dry-run --json"; t "cmd_run"
[ "$(json "$T/out" 'd["would_land"]["files"]')" = 2 ] || fail "would_land.files"
[ "$(json "$T/out" 'len(d["would_land"]["objects"])')" = 2 ] || fail "would_land.objects"
expect_exit 0 "$MIGRATE" run --json --no-progress "$T/p.toml"
one_doc "run --json"
[ "$(json "$T/out" 'd["outcome"]')" = complete ] || fail "run outcome"
expect_exit 0 "$MIGRATE" plan check --json "$T/p.toml"
one_doc "plan check --json"; t "plan_check"
[ "$(json "$T/out" 'd["ok"]')" = True ] || fail "plan check ok"
expect_exit 0 "$MIGRATE" verify --json "$T/p.toml"
one_doc "verify --json"; t "cmd_verify"
expect_exit 0 "$MIGRATE" runs --json "$T/p.toml"
one_doc "runs --json"; t "cmd_runs"
[ "$(json "$T/out" 'd["runs"][0]["state"]')" = sealed ] || fail "runs state"
expect_exit 0 "$MIGRATE" verify --against-source --json "$T/p.toml"
one_doc "verify --against-source --json"
expect_exit 0 "$MIGRATE" audit verify --json --key "$T/p/keys/audit.pem.pub" "$T/audit/t-replatform.jsonl"
one_doc "audit verify --json"; t "audit_verify"
[ "$(json "$T/out" 'd["result"]')" = intact ] || fail "audit verify result"
# audit show --json: JSON Lines, one record a line, nothing else.
expect_exit 0 "$MIGRATE" audit show --json "$T/audit/t-replatform.jsonl"
python3 - "$T/out" <<'PY' || fail "audit show --json is not JSON Lines"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert lines and all(isinstance(json.loads(l), dict) for l in lines)
PY
t "audit_show"

# Failures are one document too: a plan check with findings, a tampered lake.
echo "not an audit log" > "$T/audit/other.jsonl"
sed "s|^log = .*|log = \"$T/audit/other.jsonl\"|" "$T/p.toml" > "$T/bad.toml"
expect_exit 2 "$MIGRATE" plan check --json "$T/bad.toml"
one_doc "plan check --json (refused)"
[ "$(json "$T/out" 'd["ok"]')" = False ] || fail "plan check ok on a bad log"
json "$T/out" 'd["findings"][0]["message"]' | grep -q "audit.log" || fail "finding"
f=$(find "$T/lake" -name 'a.csv.zst.age' | head -n 1)
echo x >> "$f"
expect_exit 3 "$MIGRATE" verify --json "$T/p.toml"
one_doc "verify --json (tampered)"

# Every getopt table with --json was exercised above.
for fn in $(awk -f "$REPO_DIR/tests/integration/getopt_tables.awk" \
    "$REPO_DIR"/cmd/migrate/cmd_*.c | awk '$2 == "--json" { print $1 }' | sort -u); do
	[[ " $tested " == *" $fn "* ]] || fail "$fn has --json, and this test does not run it"
done
echo "ok: every --json prints one document"
