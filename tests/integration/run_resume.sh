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

# Five attempts, each killed (SIGKILL, by the test build itself) at an
# exact point, so that every one of them dies while running:
#   1 after run.start is on record, before any object
#   2 in the middle of big.bin (16 MiB read; --jobs 1 takes it first)
#   3 after the 20th object of the attempt landed (journal written)
#   4 after the 50th object was written to the lake but before it is on
#     record or in the journal
#   5 after the bag's tag files, before _SUCCESS
# Each later attempt resumes the run the earlier ones began.
attempt() {	# attempt N JOBS SPEC
	hook_run "$3 action=kill" "$MIGRATE_HOOKS" run --no-progress --jobs "$2" "$T/r.toml"
	[ "$HOOK_RC" = 137 ] || { cat "$T/err"; fail "attempt $1 ($3): exit $HOOK_RC, want 137 (killed at the point)"; }
}
attempt 1 1 "point=run.started"
attempt 2 1 "point=source.read detail=big.bin min=16777216"
attempt 3 2 "point=object.landed nth=20"
attempt 4 2 "point=object.written nth=50"
# Objects visible under their final names are always whole.
for f in $(find "$T/lake" -name '*.age' ! -name '*migrate-tmp*'); do
	age -d -i "$KEY" "$f" > /dev/null || fail "$f is visible but broken"
done
attempt 5 2 "point=bag.tags"
[ -z "$(find "$T/lake" -name _SUCCESS)" ] || fail "a bag was published by a killed attempt"
expect_exit 0 "$MIGRATE" run --json "$T/r.toml"
[ "$(json "$T/out" 'd["outcome"]')" = complete ] || fail "not complete: $(json "$T/out" 'd["outcome"]')"
[ "$(json "$T/out" 'd["resumed"]')" = True ] || fail "did not resume"
landed=$(json "$T/out" 'd["counts"]["stored"] + d["counts"]["already_landed"]')
[ "$landed" = 241 ] || fail "landed $landed of 241"
# Attempt 5 had landed everything: the last run only finishes the bag.
[ "$(json "$T/out" 'd["counts"]["stored"]')" = 0 ] || fail "objects were sent again after attempt 5"
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
