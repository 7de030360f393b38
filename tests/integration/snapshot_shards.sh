#!/usr/bin/env bash
# Every run a complete snapshot, also when a run is sharded and when each
# run is a new rebuild version: three runs with edits, deletions and
# additions between them; each run restores the tree as it stood (path,
# mode, mtime, SHA-256), deep-verifies, and --against-source checks the
# source against the merged snapshot of all the shards.
. "$(dirname "$0")/lib.sh"
setup_plans

edit_source() {		# the edits between run 1 and 2, then 2 and 3
	case $1 in
	2)	echo "changed" >> "$src/a/f3.csv"
		rm "$src/a/f7.csv" "$src/b/g2.txt"
		echo "new" > "$src/c/new.csv"
		chmod 600 "$src/a/f9.csv"
		touch -d '2020-01-02 03:04:05' "$src/b/g5.txt" ;;
	3)	echo "again" >> "$src/a/f3.csv"
		echo "back" > "$src/a/f7.csv"		# a name returns, new bytes
		mv "$src/b" "$src/b2"			# a directory renamed
		rm "$src/c/new.csv" ;;
	esac
}
fresh_source() {
	rm -rf "$src"; mkdir -p "$src/a" "$src/b" "$src/c"
	for i in $(seq 1 12); do printf 'row,%d\n' "$i" > "$src/a/f$i.csv"; done
	for i in $(seq 1 8); do printf 'text %d\n' "$i" > "$src/b/g$i.txt"; done
	head -c 70000 /dev/urandom > "$src/c/blob.bin"
	touch -d '2024-03-15 12:00:00' "$src/a"/* "$src/b"/* "$src/c"/*
}
src="$T/src"

echo "== sharded runs: 3 shards each, 3 runs"
fresh_source
write_plan "$T/s.toml" replatform "$src"
for k in 1 2 3; do
	[ "$k" = 1 ] || edit_source "$k"
	id=2030010${k}T000000Z-0000000$k
	for s in 0 1 2; do
		expect_exit 0 "$MIGRATE" run --json --shard "$s/3" --run-id "$id" "$T/s.toml"
		[ "$(json "$T/out" 'd["outcome"]')" = complete ] ||
		    [ "$(json "$T/out" 'd["outcome"]')" = nothing-new ] ||
		    fail "run $k shard $s: $(json "$T/out" 'd["outcome"]')"
	done
	rm -rf "$T/copy$k"; cp -a "$src" "$T/copy$k"
done
# Run 2 and 3 landed only what changed in their shard: fewer objects than files.
objs=$(find "$T/lake" -path "*run=20300102T000000Z-00000002/shard=*/data/*" -type f | wc -l)
[ "$objs" -lt 20 ] || fail "sharded run 2 landed $objs objects: not incremental"
for k in 1 2 3; do
	id=2030010${k}T000000Z-0000000$k
	rm -rf "$T/back"
	expect_exit 0 "$MIGRATE" restore "$T/s.toml" --run "$id" -i "$KEY" --to "$T/back"
	same_tree "$T/back" "$T/copy$k" "sharded run $k"
	expect_exit 0 "$MIGRATE" verify --deep --run "$id" -i "$KEY" "$T/s.toml"
done
# --against-source over the merged shard snapshots (it once refused:
# "run ... is sharded").
expect_exit 0 "$MIGRATE" verify --against-source --run 20300103T000000Z-00000003 -i "$KEY" "$T/s.toml"
expect_out "matches the snapshot of run 20300103T000000Z-00000003: 20 files"
expect_exit 3 "$MIGRATE" verify --against-source --json --run 20300101T000000Z-00000001 -i "$KEY" "$T/s.toml"
[ "$(json "$T/out" '" ".join(f["kind"] + ":" + f["path"] for f in d["findings"])')" = \
    "altered:a/f3.csv altered:a/f7.csv missing:b/g1.txt missing:b/g2.txt missing:b/g3.txt missing:b/g4.txt missing:b/g5.txt missing:b/g6.txt missing:b/g7.txt missing:b/g8.txt extra:b2/g1.txt extra:b2/g3.txt extra:b2/g4.txt extra:b2/g5.txt extra:b2/g6.txt extra:b2/g7.txt extra:b2/g8.txt" ] ||
    fail "against run 1: $(json "$T/out" '" ".join(f["kind"] + ":" + f["path"] for f in d["findings"])')"
# A shard gone from the lake: the snapshot is not whole, said so.
mv "$T/lake/raw/t-replatform/ingest_date=2030-01-03/run=20300103T000000Z-00000003/shard=1-of-3" "$T/shard-away"
expect_exit 3 "$MIGRATE" verify --against-source --run 20300103T000000Z-00000003 -i "$KEY" "$T/s.toml"
expect_err "shard=1-of-3: shard on record, gone from the lake"
mv "$T/shard-away" "$T/lake/raw/t-replatform/ingest_date=2030-01-03/run=20300103T000000Z-00000003/shard=1-of-3"

echo "== rebuild: each run a new version, 3 runs"
fresh_source
write_plan "$T/b.toml" rebuild "$src" '[refactor]
partition_by = "mtime:%Y"
partition_key = "year"'
ids=()
for k in 1 2 3; do
	[ "$k" = 1 ] || edit_source "$k"
	expect_exit 0 "$MIGRATE" run --json "$T/b.toml"
	ids+=("$(json "$T/out" 'd["run"]')")
	rm -rf "$T/copy$k"; cp -a "$src" "$T/copy$k"
done
ls -d "$T/lake/curated/t-rebuild/v=1" "$T/lake/curated/t-rebuild/v=2" "$T/lake/curated/t-rebuild/v=3" >/dev/null ||
    fail "rebuild versions: $(ls "$T/lake/curated/t-rebuild")"
for k in 1 2 3; do
	id=${ids[$((k - 1))]}
	rm -rf "$T/back"
	expect_exit 0 "$MIGRATE" restore "$T/b.toml" --run "$id" -i "$KEY" --to "$T/back"
	same_tree "$T/back" "$T/copy$k" "rebuild run $k"
	expect_exit 0 "$MIGRATE" verify --deep --run "$id" -i "$KEY" "$T/b.toml"
done
expect_exit 0 "$MIGRATE" verify --against-source --run "${ids[2]}" -i "$KEY" "$T/b.toml"
expect_exit 0 "$MIGRATE" verify --against-source "$T/b.toml"
echo ok
