#!/usr/bin/env bash
# make fuzz-run FUZZ_SECONDS=N: each libFuzzer target in turn for N
# seconds, on a scratch copy of its seed corpus (tests/fuzz/corpus/NAME,
# where NAME is the target without "fuzz_"), under ASan+UBSan.  New
# crashes are left as crash-* files in the scratch directory; copy a
# reproducer into the unit tests when you fix one.
set -u
build=${1:-build/fuzz}
secs=${2:-60}
here=$(cd "$(dirname "$0")" && pwd)
work=${FUZZ_WORK:-/tmp/migrate-fuzz}
fail=0
for bin in "$build"/fuzz_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	seeds=$here/corpus/${name#fuzz_}
	mkdir -p "$work/$name/corpus" "$work/$name/artifacts"
	[ -d "$seeds" ] && cp -n "$seeds"/* "$work/$name/corpus/" 2>/dev/null
	dict=
	[ -f "$here/${name#fuzz_}.dict" ] && dict="-dict=$here/${name#fuzz_}.dict"
	echo "== $name for ${secs}s"
	if "$bin" -max_total_time="$secs" -max_len=65536 -timeout=10 \
	    -artifact_prefix="$work/$name/artifacts/" $dict \
	    "$work/$name/corpus" > "$work/$name/log" 2>&1; then
		tail -n 2 "$work/$name/log"
	else
		echo "FINDING in $name: see $work/$name/log and $work/$name/artifacts/"
		tail -n 20 "$work/$name/log"
		fail=1
	fi
done
exit $fail
