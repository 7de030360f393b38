#!/usr/bin/env bash
# Runs every cmocka unit test binary under BUILD/tests and prints one
# closing line "N passed, N failed".
set -u
build=${1:-build}
pass=0 fail=0
for t in "$build"/tests/test_*; do
	[ -x "$t" ] || continue
	if "$t"; then
		pass=$((pass + 1))
	else
		echo "FAILED: $t" >&2
		fail=$((fail + 1))
	fi
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
