#!/usr/bin/env bash
# Sharded runs: N shards as concurrent processes (xargs -P, as a
# scheduler would run them) against one lake and one audit log land one
# run that verifies as a whole and restores as a whole.
. "$(dirname "$0")/lib.sh"
setup_plans
src="$T/src"
for d in a b c d e; do
	mkdir -p "$src/$d"
	for i in $(seq 1 40); do printf '%s,%d\n' "$d" "$i" > "$src/$d/f$i.csv"; done
done
write_plan "$T/s.toml" replatform "$src"
N=4
ID="$(date -u +%Y%m%dT%H%M%SZ)-$(openssl rand -hex 4)"
seq 0 $((N - 1)) | xargs -P "$N" -I{} "$MIGRATE" run --no-progress --json \
    --shard "{}/$N" --run-id "$ID" "$T/s.toml" > "$T/shards.out" 2>&1 ||
    { cat "$T/shards.out"; fail "a shard failed"; }
[ "$(find "$T/lake" -name _SUCCESS | wc -l)" = "$N" ] || fail "not $N bags"
expect_exit 0 "$MIGRATE" verify --json --run "$ID" "$T/s.toml"
[ "$(json "$T/out" 'd["shards"]')" = "$N" ] || fail "verify did not check $N shards"
[ "$(json "$T/out" 'd["objects"]')" = 200 ] || fail "the shards do not hold 200 objects"
expect_exit 0 "$MIGRATE" verify --deep -i "$KEY" --run "$ID" "$T/s.toml"
expect_exit 0 "$MIGRATE" restore "$T/s.toml" --run "$ID" -i "$KEY" --to "$T/back"
diff -r "$T/back" "$src" || fail "the shards do not reassemble the source"
# One audit log, several writers at once: still one valid chain, and every
# record of a shard says which.
expect_exit 0 "$MIGRATE" audit verify "$T/audit/t-replatform.jsonl"
[ "$(grep -c '"event":"run.start".*"shard":"' "$T/audit/t-replatform.jsonl")" = "$N" ] ||
    fail "run.start not tagged with the shard"

# A missing shard fails verification, naming it.
rm -rf "$(ls -d "$T"/lake/raw/t-replatform/ingest_date=*/run=$ID/shard=2-of-$N)"
expect_exit 3 "$MIGRATE" verify --run "$ID" "$T/s.toml"
expect_out "shard=2-of-$N"
# Run the missing shard again: the run is whole again.
expect_exit 0 "$MIGRATE" run --shard "2/$N" --run-id "$ID" --full "$T/s.toml"
expect_exit 0 "$MIGRATE" verify --run "$ID" "$T/s.toml"

# A file in two shards is caught.
dir=$(ls -d "$T"/lake/raw/t-replatform/ingest_date=*/run=$ID)
grep -m1 'data/' "$dir/shard=0-of-$N/manifest-sha256.txt" > "$T/line"
obj=$(sed 's/^[0-9a-f]*  //' "$T/line")
mkdir -p "$(dirname "$dir/shard=1-of-$N/$obj")"
cp "$dir/shard=0-of-$N/$obj" "$dir/shard=1-of-$N/$obj"
cat "$T/line" >> "$dir/shard=1-of-$N/manifest-sha256.txt"
expect_exit 3 "$MIGRATE" verify --run "$ID" "$T/s.toml"
expect_out "in shard=0-of-$N and in shard=1-of-$N"

# A scheduler retrying a shard that already finished changes nothing,
# even when the source changed meanwhile.
echo "late" > "$src/a/late.csv"
expect_exit 0 "$MIGRATE" run --json --shard "1/$N" --run-id "$ID" "$T/s.toml"
[ "$(json "$T/out" 'd["outcome"]')" = already-complete ] || fail "finished shard re-landed"
rm "$src/a/late.csv"

# Shards are bound to their run by the audit log (issue 21).
# A shard copied in from another run (a bag that verifies on its own):
ID2="$(date -u -d '+1 min' +%Y%m%dT%H%M%SZ)-$(openssl rand -hex 4)"
for k in 0 1 2 3; do
	expect_exit 0 "$MIGRATE" run --no-progress --full --shard "$k/$N" --run-id "$ID2" "$T/s.toml"
done
expect_exit 0 "$MIGRATE" run --no-progress --shard "2/$N" --run-id "$ID" --full "$T/s.toml"
dir2=$(ls -d "$T"/lake/raw/t-replatform/ingest_date=*/run=$ID2)
rm -rf "$dir/shard=1-of-$N"
cp -a "$dir2/shard=1-of-$N" "$dir/shard=1-of-$N"
expect_exit 0 "$MIGRATE" verify "$dir/shard=1-of-$N"
expect_exit 3 "$MIGRATE" verify --deep -i "$KEY" --run "$ID" "$T/s.toml"
expect_out "External-Identifier $ID2 is not the run id $ID"
expect_exit 3 "$MIGRATE" restore "$T/s.toml" --run "$ID" -i "$KEY" --to "$T/back2"
expect_err "restore refused"
# A hand-made empty bag in place of a missing shard:
rm -rf "$dir/shard=1-of-$N"
cp -a "$dir2/shard=1-of-$N" "$dir/shard=1-of-$N"	# keep a real one to copy from
rm -rf "$dir/shard=3-of-$N"
mkdir -p "$dir/shard=3-of-$N/data"
(
	cd "$dir/shard=3-of-$N" || exit 1
	printf 'BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n' >bagit.txt
	printf 'External-Identifier: %s\nPayload-Oxum: 0.0\n' "$ID" >bag-info.txt
	: >manifest-sha256.txt
	sha256sum bagit.txt bag-info.txt manifest-sha256.txt >tagmanifest-sha256.txt
	: >_SUCCESS
)
expect_exit 0 "$MIGRATE" verify "$dir/shard=3-of-$N"
expect_exit 3 "$MIGRATE" verify --run "$ID" "$T/s.toml"
grep -q "shard=3-of-$N" "$T/out" || { cat "$T/out"; fail "the hand-made shard is not named"; }

# Usage errors.
expect_exit 2 "$MIGRATE" run --shard 1/4 "$T/s.toml"
expect_exit 2 "$MIGRATE" run --shard 4/4 --run-id "$ID" "$T/s.toml"
expect_exit 2 "$MIGRATE" run --shard 0/2 --run-id nope "$T/s.toml"
echo ok
