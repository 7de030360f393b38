#!/usr/bin/env bash
# retire with delete_source = true deletes the source only after a deep
# verify of the landed archive passes, and audits every deletion.
. "$(dirname "$0")/lib.sh"
setup_plans
src="$T/src"
mkdir -p "$src/x"
for i in 1 2 3 4 5; do echo "record $i" > "$src/x/r$i.txt"; done
cp -r "$src" "$T/copy"
write_plan "$T/d.toml" retire "$src" '[retire]
delete_source = true'
# Without the identity it refuses to start: nothing could be verified.
expect_exit 2 "$MIGRATE" run "$T/d.toml"
expect_err "delete_source = true"
[ -f "$src/x/r1.txt" ] || fail "source touched"
expect_exit 0 "$MIGRATE" run --json -i "$KEY" "$T/d.toml"
[ -z "$(find "$src" -type f)" ] || fail "source files not deleted"
[ "$(grep -c '"event":"source.deleted"' "$T/audit/t-retire.jsonl")" = 5 ] ||
    fail "deletions not audited one by one"
grep -q '"check":"deep verify before delete_source"' "$T/audit/t-retire.jsonl" ||
    fail "no deep verify recorded"
run=$(json "$T/out" 'd["run"]')
expect_exit 0 "$MIGRATE" restore "$T/d.toml" --run "$run" -i "$KEY" --to "$T/back"
diff -r "$T/back" "$T/copy" || fail "archive does not hold the source"
expect_exit 0 "$MIGRATE" audit verify "$T/audit/t-retire.jsonl"
echo ok
