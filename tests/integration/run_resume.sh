#!/usr/bin/env bash
# A run killed with SIGKILL at several points is resumed by running the
# same command again: nothing landed is sent twice, the finished run is
# complete and verifies, and no temporary is left behind.
. "$(dirname "$0")/lib.sh"
setup_plans
src="$T/src"
mkdir -p "$src"
for d in 0 1 2 3; do
	mkdir -p "$src/d$d"
	for i in $(seq 1 60); do head -c $((RANDOM % 9000 + 1)) /dev/urandom > "$src/d$d/f$i.bin"; done
done
head -c $((48 * 1024 * 1024)) /dev/urandom > "$src/big.bin"
write_plan "$T/r.toml" rehost "$src"

kills=0
for delay in 0.05 0.15 0.3 0.5 0.8; do
	"$MIGRATE" run --no-progress --jobs 2 "$T/r.toml" >/dev/null 2>&1 &
	pid=$!
	sleep "$delay"
	if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
	wait "$pid" 2>/dev/null
done
echo "killed $kills runs"
# Objects visible under their final names are always whole.
for f in $(find "$T/lake" -name '*.age' ! -name '*migrate-tmp*'); do
	age -d -i "$KEY" "$f" > /dev/null || fail "$f is visible but broken"
done
expect_exit 0 "$MIGRATE" run --json "$T/r.toml"
outcome=$(json "$T/out" 'd["outcome"]')
if [ "$kills" -eq 5 ]; then
	# Every attempt was killed: this run finishes the unfinished one.
	[ "$outcome" = complete ] || fail "not complete: $outcome"
	[ "$(json "$T/out" 'd["resumed"]')" = True ] || fail "did not resume"
	landed=$(json "$T/out" 'd["counts"]["stored"] + d["counts"]["already_landed"]')
	[ "$landed" = 241 ] || fail "landed $landed of 241"
else
	# One attempt finished before its kill: nothing is left to land.
	[ "$outcome" = nothing-new ] || [ "$outcome" = complete ] || fail "outcome $outcome"
fi
expect_exit 0 "$MIGRATE" verify --json "$T/r.toml"
run=$(json "$T/out" 'd["run"]')
[ -z "$(find "$T/lake" -name '*migrate-tmp*')" ] || fail "temporaries left"
expect_exit 0 "$MIGRATE" verify --deep -i "$KEY" "$T/r.toml"
expect_exit 0 "$MIGRATE" restore "$T/r.toml" --run "$run" -i "$KEY" --to "$T/back"
diff -r "$T/back" "$src" || fail "restore differs"
expect_exit 0 "$MIGRATE" audit verify "$T/audit/t-rehost.jsonl"
# Exactly one bag: the killed attempts all went into the resumed run.
[ "$(find "$T/lake" -name _SUCCESS | wc -l)" = 1 ] || fail "more than one bag"
echo ok
