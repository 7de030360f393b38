#!/usr/bin/env bash
# One run, one writer (issue 21): what operators do with two terminals and
# a scheduler that retries.
#   two runs at once        the second fails fast (exit 1) naming the
#                           first; the first completes and verifies
#   stale lock              a run killed with SIGKILL leaves its holder
#                           line; the next run takes the lock over and
#                           records that in run.start
#   shards                  two shards of one run do run at once
#   shared audit log        two plans of one name and one log, different
#                           datasets, keep separate incremental state
#   old state layout        state from before per-plan keys is moved once
. "$(dirname "$0")/lib.sh"
setup_plans
src=$T/src
mkdir -p "$src/d"
for i in $(seq 1 20); do head -c 3000 /dev/urandom >"$src/d/f$i.bin"; done
write_plan "$T/r.toml" rehost "$src"
LOG=$T/audit/t-rehost.jsonl

echo "two runs of the same plan at once"
hook_start "point=object.landed nth=5 action=pause" "$MIGRATE_HOOKS" run --no-progress --jobs 1 "$T/r.toml"
hook_wait object.landed
first=$HOOK_TARGET
"$MIGRATE" run --no-progress --json "$T/r.toml" >"$T/b.out" 2>"$T/b.err"
rc=$?
hook_resume
hook_end
[ "$rc" = 1 ] || { cat "$T/b.err"; fail "second run: exit $rc, want 1"; }
grep -q "another run of this plan" "$T/b.err" || { cat "$T/b.err"; fail "no message naming the lock"; }
grep -q "pid $first " "$T/b.err" || { cat "$T/b.err"; fail "the message does not name the holder pid $first"; }
echo "  exit 1: $(head -n 1 "$T/b.err" | cut -c1-160)"
[ "$HOOK_RC" = 0 ] || { cat "$T/err"; fail "the first run: exit $HOOK_RC"; }
[ "$(grep -c '"event":"run.start"' "$LOG")" = 1 ] || fail "the second run wrote a run.start"
expect_exit 0 "$MIGRATE" verify --deep -i "$KEY" "$T/r.toml"
expect_exit 0 "$MIGRATE" run --no-progress --json "$T/r.toml"
[ "$(json "$T/out" 'd["outcome"]')" = nothing-new ] || fail "third run: $(json "$T/out" 'd["outcome"]')"

echo "a stale lock of a dead process"
echo more >"$src/d/new.bin"
hook_run "point=object.landed action=kill" "$MIGRATE_HOOKS" run --no-progress --jobs 1 "$T/r.toml"
[ "$HOOK_RC" = 137 ] || fail "killed run: exit $HOOK_RC"
lock=$(find "$T/audit/t-rehost.state" -name lock)
[ -s "$lock" ] || fail "the killed run left no holder line in $lock"
dead=$(cat "$lock")
expect_exit 0 "$MIGRATE" run --no-progress --json "$T/r.toml"
expect_err "took over the lock of a run that died ($dead)"
grep '"event":"run.start"' "$LOG" | tail -n 1 | grep -qF "\"lock_taken_over\":\"$dead\"" ||
    fail "the takeover is not in run.start"
[ ! -s "$lock" ] || fail "the lock file still names a holder after a clean run"
echo "  taken over: $dead"

echo "two shards of one run at once"
id=$(date -u +%Y%m%dT%H%M%SZ)-0123abcd
write_plan "$T/s.toml" rehost "$src"
sed -i 's/t-rehost/t-shards/g' "$T/s.toml"
hook_start "point=object.landed action=pause" "$MIGRATE_HOOKS" run --no-progress --shard 0/2 --run-id "$id" "$T/s.toml"
hook_wait object.landed
"$MIGRATE" run --no-progress --shard 1/2 --run-id "$id" "$T/s.toml" >"$T/b.out" 2>"$T/b.err"
rc=$?
hook_resume
hook_end
[ "$rc" = 0 ] || { cat "$T/b.err"; fail "shard 1 beside shard 0: exit $rc"; }
[ "$HOOK_RC" = 0 ] || fail "shard 0: exit $HOOK_RC"
expect_exit 0 "$MIGRATE" verify "$T/s.toml"

echo "two plans sharing an audit log"
write_plan "$T/p1.toml" rehost "$src"
sed -i 's/t-rehost/shared-name/; s|^log = .*|log = "'"$T"'/audit/shared.jsonl"|' "$T/p1.toml"
sed -e 's/^\[destination\]/[destination]\ndataset = "other"/' "$T/p1.toml" >"$T/p2.toml"
expect_exit 0 "$MIGRATE" run --no-progress --json "$T/p1.toml"
expect_exit 0 "$MIGRATE" run --no-progress --json "$T/p2.toml"
[ "$(json "$T/out" 'd["outcome"]')" = complete ] ||
    fail "the second plan (new dataset) says $(json "$T/out" 'd["outcome"]'): it used the first plan's state"
[ "$(json "$T/out" 'd["counts"]["stored"]')" = 21 ] || fail "the second plan did not land every file"
expect_exit 0 "$MIGRATE" verify "$T/p2.toml"

echo "state of the old layout moves once"
write_plan "$T/o.toml" rehost "$src"
sed -i 's/t-rehost/t-old/g' "$T/o.toml"
expect_exit 0 "$MIGRATE" run --no-progress --json "$T/o.toml"
st=$T/audit/t-old.state
key=$(ls "$st")
# The layout before per-plan keys and before snapshots: one last.json.
rm -rf "${st:?}/$key"
bag=$(cd "$T/lake" && ls -d raw/t-old/ingest_date=*/run=*)
printf '{"run":"%s","dir":"%s","objects":{}}\n' "${bag##*run=}" "$bag" > "$st/last.json"
expect_exit 0 "$MIGRATE" run --no-progress --json "$T/o.toml"
[ "$(json "$T/out" 'd["outcome"]')" = complete ] || fail "old state: $(json "$T/out" 'd["outcome"]')"
expect_err "state of an earlier version without snapshots"
[ ! -e "$st/last.json" ] && [ ! -e "$st/$key/last.json" ] || fail "old state left behind"
[ -f "$st/$key/snapshot.jsonl" ] || fail "no snapshot in $key after the run"
expect_exit 0 "$MIGRATE" run --no-progress --json "$T/o.toml"
[ "$(json "$T/out" 'd["outcome"]')" = nothing-new ] || fail "snapshot not used: $(json "$T/out" 'd["outcome"]')"
echo ok
