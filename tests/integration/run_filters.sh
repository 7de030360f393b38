#!/usr/bin/env bash
# What a run selects and says (issue 18): gitignore-like filters, a
# warning for an include that matches nothing, --dry-run totals, no
# "since the last run" before there was one, and run.start as the first
# record of every run even when the inventory leaves files out.
. "$(dirname "$0")/lib.sh"
setup_plans

# --- run.start is the first record of a run --------------------------------
mkdir -p "$T/s1/sub"
echo a > "$T/s1/a.csv"
echo b > "$T/s1/sub/b.csv"
mkfifo "$T/s1/pipe"				# skipped: not a regular file
write_plan "$T/p1.toml" rehost "$T/s1"
expect_exit 0 "$MIGRATE" run --no-progress "$T/p1.toml"
python3 - "$T/audit/t-rehost.jsonl" <<'PY' || fail "a record of the run comes before its run.start"
import json, sys
first = {}
skipped = False
for line in open(sys.argv[1]):
    r = json.loads(line)
    first.setdefault(r["run"], r["event"])
    skipped |= r["event"] == "object.skipped"
assert skipped, "the FIFO was not audited as skipped"
bad = {k: v for k, v in first.items() if v != "run.start"}
assert not bad, bad
PY
echo "ok: run.start comes first"
