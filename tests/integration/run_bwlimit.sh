#!/usr/bin/env bash
# --bwlimit and destination.bwlimit: a migration that shares a production
# link.  A limit is a floor on the time a run takes (N bytes at R bytes/s
# take at least N/R seconds less the 100 ms credit), so these checks hold
# on any machine, however slow; only a limiter that lets bytes through
# early fails them.  What is landed under a limit is complete: it
# deep-verifies and restores.
. "$(dirname "$0")/lib.sh"
setup_plans
SRC=$T/src
mkdir -p "$SRC/sub"
head -c $((1024 * 1024)) /dev/urandom > "$SRC/big.bin"
for i in 1 2 3 4; do head -c 20000 /dev/urandom > "$SRC/sub/s$i.bin"; done
total=$((1024 * 1024 + 4 * 20000))

now() { date +%s%N; }
# at_least START BYTES RATE WHAT: the time since START covers BYTES at RATE.
at_least() {
	local took=$(( ($(now) - $1) / 1000000 ))
	local due=$(( $2 * 1000 / $3 - 100 ))
	[ "$took" -ge "$due" ] ||
	    fail "$4: $2 bytes at $3 B/s took $took ms, at least $due ms due"
	echo "  $4: $took ms (at least $due)"
}

# 1. --bwlimit 256K, two jobs: one budget for the whole run.
write_plan "$T/rehost.toml" rehost "$SRC"
t0=$(now)
expect_exit 0 "$MIGRATE" run --no-progress --json --jobs 2 --bwlimit 256K "$T/rehost.toml"
at_least "$t0" "$total" $((256 * 1024)) "--bwlimit 256K, --jobs 2"
run=$(json "$T/out" 'd["run"]')
expect_exit 0 "$MIGRATE" verify --deep -i "$KEY" "$T/rehost.toml"
expect_exit 0 "$MIGRATE" restore "$T/rehost.toml" --run "$run" -i "$KEY" --to "$T/back1"
same_tree "$SRC" "$T/back1" "restore of the limited run"

# 2. The plan's destination.bwlimit, for a retire archive (one stream).
write_plan "$T/retire.toml" retire "$SRC"
sed -i 's|^url = .*|&\nbwlimit = "512k"|' "$T/retire.toml"
t0=$(now)
expect_exit 0 "$MIGRATE" run --no-progress "$T/retire.toml"
at_least "$t0" "$total" $((512 * 1024)) "destination.bwlimit 512k, retire"
expect_exit 0 "$MIGRATE" verify --deep -i "$KEY" "$T/retire.toml"

# 3. --bwlimit off beats the plan: at 1K/s this run would need 17
# minutes; the bound below only catches a limit that was not lifted.
write_plan "$T/slow.toml" rehost "$SRC"
sed -i -e 's|^url = .*|&\nbwlimit = "1K"|' -e 's|t-rehost|t-slow|' "$T/slow.toml"
expect_exit 0 timeout 300 "$MIGRATE" run --no-progress --bwlimit off "$T/slow.toml"

# 4. Mistakes get the form to write, and the place.
expect_exit 2 "$MIGRATE" run --bwlimit 10MB "$T/rehost.toml"
expect_err '--bwlimit takes bytes per second as 512K, 10M or 1G'
expect_err '"10MB"'
expect_exit 2 "$MIGRATE" run --bwlimit -- "$T/rehost.toml"
sed -i 's|^bwlimit = .*|bwlimit = "fast"|' "$T/slow.toml"
expect_exit 2 "$MIGRATE" plan check "$T/slow.toml"
expect_err "slow.toml:8:11: destination.bwlimit: \"fast\" is not a rate"
echo "ok"
