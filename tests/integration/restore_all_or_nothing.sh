#!/usr/bin/env bash
# A restore refused without --overwrite writes nothing at all.  It once
# stopped at the first file that differed, after writing every missing
# file sorted before it: a user who answered "no" still got half a tree
# mixed into theirs.  Also over a sharded run (every shard is looked at
# before any is written), and --overwrite still restores the whole tree.
. "$(dirname "$0")/lib.sh"
setup_plans
src="$T/src"
mkdir -p "$src/a" "$src/z"
for i in 1 2 3 4 5; do echo "file $i" > "$src/a/f$i.txt"; done
echo "last" > "$src/z/last.txt"
write_plan "$T/r.toml" rehost "$src"
expect_exit 0 "$MIGRATE" run --json "$T/r.toml"
run=$(json "$T/out" 'd["run"]')

# The target holds only the file sorted last, with other bytes.
mkdir -p "$T/to/z"; echo "mine" > "$T/to/z/last.txt"
expect_exit 1 "$MIGRATE" restore "$T/r.toml" --run "$run" -i "$KEY" --to "$T/to"
[ "$(cd "$T/to" && find . -type f | LC_ALL=C sort | tr '\n' ' ')" = "./z/last.txt " ] ||
    fail "refused restore wrote $(cd "$T/to" && find . -type f | tr '\n' ' ')"
expect_err "z/last.txt: exists and differs from the snapshot (1 file of the restore do)"
expect_err "nothing was restored"
[ ! -e "$T/to/a" ] || fail "refused restore made a/"
grep -qx mine "$T/to/z/last.txt" || fail "refused restore changed z/last.txt"

# Two that differ are counted; a matching file is not a conflict.
mkdir -p "$T/to/a"; echo "not 3" > "$T/to/a/f3.txt"
cp -p "$src/a/f1.txt" "$T/to/a/f1.txt"	# as in the snapshot: mode, mtime, bytes
expect_exit 1 "$MIGRATE" restore "$T/r.toml" --run "$run" -i "$KEY" --to "$T/to"
expect_err "a/f3.txt: exists and differs from the snapshot (2 files of the restore do)"
[ "$(cd "$T/to" && find . -type f | wc -l)" = 3 ] || fail "second refused restore wrote files"

# --overwrite: the whole tree as it was.
expect_exit 0 "$MIGRATE" restore "$T/r.toml" --run "$run" -i "$KEY" --overwrite --to "$T/to"
diff -r "$T/to" "$src" || fail "--overwrite did not restore the tree"

# A sharded run: the conflict is in the second shard, the first would
# have written its files first.
mkdir -p "$T/many"
for i in $(seq 1 30); do echo "row $i" > "$T/many/f$i.csv"; done
write_plan "$T/s.toml" replatform "$T/many"
expect_exit 0 "$MIGRATE" run --json --shard 0/2 --run-id 20300101T000000Z-00000001 "$T/s.toml"
expect_exit 0 "$MIGRATE" run --json --shard 1/2 --run-id 20300101T000000Z-00000001 "$T/s.toml"
# One file of shard 1 (the one restored last) differs in the target.
victim=$(cd "$T/lake" && find . -path '*shard=1-of-2/data/*' -type f | head -n 1 |
    sed 's#.*/data/##; s#\.zst\.age$##; s#\.age$##')
[ -n "$victim" ] || fail "no object in shard 1"
mkdir -p "$T/sto"; echo "theirs" > "$T/sto/$victim"
expect_exit 1 "$MIGRATE" restore "$T/s.toml" --run 20300101T000000Z-00000001 -i "$KEY" --to "$T/sto"
expect_err "$victim: exists and differs"
[ "$(cd "$T/sto" && find . -type f | wc -l)" = 1 ] || fail "refused sharded restore wrote files"
expect_exit 0 "$MIGRATE" restore "$T/s.toml" --run 20300101T000000Z-00000001 -i "$KEY" --overwrite --to "$T/sto"
diff -r "$T/sto" "$T/many" || fail "sharded --overwrite did not restore the tree"
echo ok
