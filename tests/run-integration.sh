#!/usr/bin/env bash
# Runs the end-to-end scripts under tests/integration against the real
# binary ($MIGRATE).  Each script exits 0 on success, 77 when it cannot
# run here (skipped).  Optional argument: a substring of script names.
set -u
: "${MIGRATE:?set MIGRATE to the migrate binary}"
export MIGRATE
here=$(cd "$(dirname "$0")" && pwd)
filter=${1:-}
pass=0 fail=0 skip=0
for t in "$here"/integration/*.sh; do
	name=$(basename "$t" .sh)
	# Sourced helpers (servers, shared functions) are not tests.
	case "$name" in lib|sshd|nginx|s3rver) continue ;; esac
	case "$name" in *"$filter"*) ;; *) continue ;; esac
	log=$(mktemp)
	start=$(date +%s)
	bash "$t" >"$log" 2>&1
	rc=$?
	secs=$(( $(date +%s) - start ))
	if [ $rc -eq 0 ]; then
		echo "ok   $name (${secs}s)"
		pass=$((pass + 1))
	elif [ $rc -eq 77 ]; then
		echo "skip $name: $(tail -n 1 "$log")"
		skip=$((skip + 1))
	else
		echo "FAIL $name (exit $rc, ${secs}s)"
		sed 's/^/    | /' "$log" | tail -n 40
		fail=$((fail + 1))
	fi
	rm -f "$log"
done
echo "integration: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
