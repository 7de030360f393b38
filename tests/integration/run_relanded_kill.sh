#!/usr/bin/env bash
# An object the journal records, damaged in the lake before the resume,
# is landed again; killed after the new copy is in place but before it is
# on record, the run must not trust the old journal line for it: the new
# copy has the size that line records but another ciphertext, and a bag
# published on that line would list a hash its object does not have.
. "$(dirname "$0")/lib.sh"
setup_plans
src=$T/src
mkdir -p "$src/d"
for i in $(seq 1 6); do head -c $((i * 900)) /dev/urandom >"$src/d/f$i.bin"; done
write_plan "$T/r.toml" rehost "$src"

# Every object landed and journaled, then killed before the bag.
hook_run "point=run.landed action=kill" "$MIGRATE_HOOKS" run --no-progress "$T/r.toml"
[ "$HOOK_RC" = 137 ] || fail "first attempt: exit $HOOK_RC, want 137"
bag=$(ls -d "$T"/lake/raw/t-rehost/ingest_date=*/run=*)
obj=$bag/data/d/f3.bin.age
[ -f "$obj" ] || fail "no object $obj"
# Damaged: one byte short, so the resume lands it again.
truncate -s -1 "$obj"
hook_run "point=object.written detail=d/f3.bin action=kill" "$MIGRATE_HOOKS" \
    run --no-progress "$T/r.toml"
[ "$HOOK_RC" = 137 ] || fail "second attempt: exit $HOOK_RC, want 137"
expect_exit 0 "$MIGRATE" run --no-progress --json "$T/r.toml"
[ "$(json "$T/out" 'd["outcome"]')" = complete ] || fail "resume: $(json "$T/out" 'd["outcome"]')"
expect_exit 0 "$MIGRATE" verify "$T/r.toml"
expect_exit 0 "$MIGRATE" verify --deep -i "$KEY" "$T/r.toml"
echo "ok"
