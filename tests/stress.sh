#!/usr/bin/env bash
# make check-stress: proof that no test depends on the scheduler.
#   1. `bash .ci/run` on a fresh clone of HEAD, STRESS_CI times in a row
#      (default 5), each clone with the shared folder beside it as CI has;
#   2. the integration suite STRESS_HOG times (default 5) while two busy
#      loops take both cores (a CPU hog beside the tests).
# Prints one line per round and a total; exit 1 when any round failed.
# Logs of failed rounds are kept under $STRESS_DIR (default a temporary
# directory, printed).
set -u
repo=$(cd "$(dirname "$0")/.." && pwd)
shared=$(cd "$repo/../shared" 2>/dev/null && pwd) ||
    { echo "check-stress: ../shared is not beside the repository"; exit 2; }
: "${MIGRATE:?set MIGRATE to the migrate binary}"
ci=${STRESS_CI:-5}
hog=${STRESS_HOG:-5}
dir=${STRESS_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/migrate-stress.XXXXXX")}
mkdir -p "$dir"
echo "check-stress: $ci x .ci/run on a fresh clone, $hog x integration with a CPU hog; logs in $dir"
failed=0
hogs=()
stop_hogs() {
	local p
	for p in "${hogs[@]}"; do kill "$p" 2>/dev/null; done
	hogs=()
}
trap stop_hogs EXIT

for i in $(seq 1 "$ci"); do
	w=$dir/ci-$i
	rm -rf "$w"
	mkdir -p "$w"
	ln -s "$shared" "$w/shared"
	git clone -q "$repo" "$w/main" || { echo "ci $i: clone failed"; failed=$((failed + 1)); continue; }
	start=$(date +%s)
	(cd "$w/main" && bash .ci/run) >"$w.log" 2>&1
	rc=$?
	secs=$(( $(date +%s) - start ))
	if [ "$rc" = 0 ] && ! grep -q '^skip ' "$w.log"; then
		echo "ci $i: ok ($secs s; $(grep -E '^(unit|integration|crash matrix):' "$w.log" | paste -sd ';' -))"
		rm -rf "$w" "$w.log"
	else
		echo "ci $i: FAILED rc $rc ($secs s), log $w.log:"
		grep -E '^(FAIL|skip)' "$w.log" | head -n 5 | sed 's/^/    /'
		failed=$((failed + 1))
	fi
done

for i in $(seq 1 "$hog"); do
	for _ in 1 2; do
		( while :; do :; done ) &
		hogs+=($!)
	done
	start=$(date +%s)
	MIGRATE=$MIGRATE bash "$repo/tests/run-integration.sh" >"$dir/hog-$i.log" 2>&1
	rc=$?
	stop_hogs
	secs=$(( $(date +%s) - start ))
	# Every script must run in every round: a skip is not green.
	if [ "$rc" = 0 ] && ! grep -q '^skip ' "$dir/hog-$i.log"; then
		echo "hog $i: ok ($secs s; $(tail -n 1 "$dir/hog-$i.log"))"
		rm -f "$dir/hog-$i.log"
	else
		echo "hog $i: FAILED ($secs s), log $dir/hog-$i.log:"
		grep -E '^(FAIL|skip)' "$dir/hog-$i.log" | head -n 5 | sed 's/^/    /'
		failed=$((failed + 1))
	fi
done
echo "check-stress: $((ci + hog - failed)) of $((ci + hog)) rounds green"
[ "$failed" = 0 ]
