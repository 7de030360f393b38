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

# --- Filters: a name pattern matches at any depth, '/' anchors --------------
mkdir -p "$T/s2/2024/Q1" "$T/s2/tmp"
echo 1 > "$T/s2/top.csv"
echo 2 > "$T/s2/2024/Q1/deep.csv"
echo 3 > "$T/s2/tmp/scratch.csv"
echo 4 > "$T/s2/notes.txt"
write_plan "$T/p2.toml" replatform "$T/s2" 'x = 1'
sed -i '/^x = 1$/d; s|^\[source\]$|[source]\ninclude = ["*.csv"]\nexclude = ["tmp/"]|' "$T/p2.toml"
expect_exit 0 "$MIGRATE" run --dry-run "$T/p2.toml"
expect_out "would land 2024/Q1/deep.csv"
expect_out "would land top.csv"
grep -q "scratch.csv\|notes.txt" "$T/out" && fail "tmp/ or *.txt selected: $(cat "$T/out")"
# Totals, and no earlier run to compare with.
expect_out "dry run: 2 files selected, 2 would land (4 B) (no earlier run: all new)"
expect_exit 0 "$MIGRATE" run --no-progress "$T/p2.toml"
echo changed >> "$T/s2/top.csv"
echo 5 > "$T/s2/2024/new.csv"
expect_exit 0 "$MIGRATE" run --dry-run "$T/p2.toml"
expect_out "dry run: 3 files selected, 2 would land"
expect_out "1 new, 1 changed, 1 unchanged since the last run"
echo "ok: filters and dry-run totals"

# --- An include that matches nothing: warned, and said plainly --------------
sed -i 's|^include = .*|include = ["/*.parquet", "*.csv"]|' "$T/p2.toml"
expect_exit 0 "$MIGRATE" plan check "$T/p2.toml"
expect_err "p2.toml:"
expect_err 'warning: source.include[0] "/*.parquet" matches no file'
mkdir -p "$T/s3"
echo x > "$T/s3/a.txt"
write_plan "$T/p3.toml" rehost "$T/s3"
sed -i 's|^\[source\]$|[source]\ninclude = ["*.csv"]|' "$T/p3.toml"
expect_exit 0 "$MIGRATE" run --no-progress "$T/p3.toml"
expect_out "no file of the source is selected by the plan"
grep -q "since the last run" "$T/out" && fail "a first run speaks of the last run: $(cat "$T/out")"
expect_err "warning: $T/p3.toml: include matches no file"
echo "ok: include matching nothing"
