#!/usr/bin/env bash
# A run after a complete one lands only what is new or changed (by
# plaintext SHA-256); --full lands everything; nothing new lands no bag.
. "$(dirname "$0")/lib.sh"
setup_plans
src="$T/src"
mkdir -p "$src/a" "$src/b"
for i in $(seq 1 20); do printf 'row,%d\n' "$i" > "$src/a/f$i.csv"; done
head -c 100000 /dev/urandom > "$src/b/blob.bin"
write_plan "$T/i.toml" replatform "$src"

expect_exit 0 "$MIGRATE" run --json "$T/i.toml"
[ "$(json "$T/out" 'd["counts"]["stored"]')" = 21 ] || fail "first run lands all"
first=$(json "$T/out" 'd["run"]')

echo "changed" >> "$src/a/f3.csv"
echo "new" > "$src/a/new.csv"
touch "$src/a/f5.csv"			# mtime only: same SHA-256
rm "$src/a/f7.csv"
expect_exit 0 "$MIGRATE" run --json "$T/i.toml"
[ "$(json "$T/out" 'd["counts"]["stored"]')" = 2 ] || fail "second run lands 2"
[ "$(json "$T/out" 'd["counts"]["unchanged"]')" = 19 ] || fail "19 unchanged"
second=$(json "$T/out" 'd["run"]')
[ "$first" != "$second" ] || fail "same run id"
expect_exit 0 "$MIGRATE" verify --deep -i "$KEY" "$T/i.toml"
# Each run is a complete snapshot of the source: restoring the second run
# gives back the whole tree as it stood, the 19 unchanged files from the
# first bag, the 2 new from the second, and not the deleted f7.csv.
expect_exit 0 "$MIGRATE" restore "$T/i.toml" --run "$second" -i "$KEY" --to "$T/r2"
diff -r "$T/r2" "$src" || fail "second run does not restore the source as it stood"
[ ! -e "$T/r2/a/f7.csv" ] || fail "a file deleted before the second run came back"
# Restoring the first run still gives the first tree.
expect_exit 0 "$MIGRATE" restore "$T/i.toml" --run "$first" -i "$KEY" --to "$T/r1"
[ -e "$T/r1/a/f7.csv" ] || fail "first run lost f7.csv"
[ ! -e "$T/r1/a/new.csv" ] || fail "first run gained new.csv"
grep -q "^changed$" "$T/r1/a/f3.csv" && fail "first run holds the second f3.csv"

expect_exit 0 "$MIGRATE" run --json "$T/i.toml"
[ "$(json "$T/out" 'd["outcome"]')" = nothing-new ] || fail "third run: nothing new"
third=$(json "$T/out" 'd["run"]')
[ ! -e "$T/lake/raw/t-replatform/ingest_date="*"/run=$third/_SUCCESS" ] || fail "empty bag landed"
grep -q "\"run\":\"$third\".*\"event\":\"run.end\".*\"outcome\":\"nothing new\",\"objects\":0" \
    "$T/audit/t-replatform.jsonl" || fail "audit lacks the empty run"
expect_exit 0 "$MIGRATE" run --json "$T/i.toml"
[ "$(json "$T/out" 'd["outcome"]')" = nothing-new ] || fail "fourth run: nothing new"

expect_exit 0 "$MIGRATE" run --json --full "$T/i.toml"
[ "$(json "$T/out" 'd["counts"]["stored"]')" = 21 ] || fail "--full lands all"
expect_exit 0 "$MIGRATE" verify --deep -i "$KEY" "$T/i.toml"
expect_exit 0 "$MIGRATE" audit verify "$T/audit/t-replatform.jsonl"

# Run ids order runs.  Runs of this second and the next two already hold
# the greatest suffix, so the next run must wait them out to sort after
# them, and verify without --run must then pick it (two runs in one second
# were once ordered by their random suffix).
ds="$T/lake/raw/t-replatform"
now=$(date -u +%s)
for k in 0 1 2; do
	id=$(date -u -d "@$((now + k))" +%Y%m%dT%H%M%SZ)-ffffffff
	mkdir -p "$ds/ingest_date=$(date -u -d "@$((now + k))" +%F)/run=$id"
	last_fake=$id
done
echo "later" >> "$src/a/f1.csv"
expect_exit 0 "$MIGRATE" run --json "$T/i.toml"
fifth=$(json "$T/out" 'd["run"]')
[[ "$fifth" > "$last_fake" ]] || fail "run id $fifth sorts before $last_fake"
expect_exit 0 "$MIGRATE" verify --json "$T/i.toml"
[ "$(json "$T/out" 'd["run"]')" = "$fifth" ] || fail "verify picked $(json "$T/out" 'd["run"]'), not $fifth"
rm -r "$ds"/ingest_date=*/run=*-ffffffff

# --dry-run lists and writes nothing anywhere.
echo "more" > "$src/a/more.csv"
before=$(find "$T/lake" "$T/audit" -type f | xargs cat | sha256sum)
expect_exit 0 "$MIGRATE" run --dry-run "$T/i.toml"
expect_out "would land a/more.csv -> "
[ "$(grep -c '^would land ' "$T/out")" = 1 ] || fail "--dry-run lists unchanged files"
expect_out "1 would land"
after=$(find "$T/lake" "$T/audit" -type f | xargs cat | sha256sum)
[ "$before" = "$after" ] || fail "--dry-run wrote something"
# Lake wiped between runs: the local state still says every file landed,
# but the lake is the truth.  The next run must land every file again,
# not publish an "unchanged" run whose objects are nowhere (it once did,
# and verify said ok: 0 objects).
rm -rf "$T/lake"
expect_exit 0 "$MIGRATE" run --json "$T/i.toml"
wiped=$(json "$T/out" 'd["run"]')
[ "$(json "$T/out" 'd["counts"]["stored"]')" = 22 ] || fail "after the lake was wiped the run landed $(json "$T/out" 'd["counts"]["stored"]') of 22"
expect_err "not published in the lake"
expect_exit 0 "$MIGRATE" verify --deep -i "$KEY" "$T/i.toml"
expect_exit 0 "$MIGRATE" restore "$T/i.toml" --run "$wiped" -i "$KEY" --to "$T/r-wiped"
diff -r "$T/r-wiped" "$src" || fail "after the lake was wiped the run does not restore the source"
echo ok
