#!/usr/bin/env bash
# The run's objects live in a mapped file in the state directory
# (objstore.c, issue 20).  A write into a mapped page the file system has
# no room for is a SIGBUS, not an error: when the state directory's file
# system is full, the run must stop with an error that says so, not die
# of a signal.
. "$(dirname "$0")/lib.sh"
# A small file system of our own: a tmpfs in a user and mount namespace.
if ! unshare -rm true 2>/dev/null; then
	echo "skipped: no user namespaces here"
	exit 77
fi
setup_plans
mkdir -p "$T/src" "$T/audit"
for i in $(seq 1 3000); do echo "$i" > "$T/src/f$i"; done
write_plan "$T/r.toml" rehost "$T/src"

# The state directory (beside the audit log) on 512 KiB, 400 KiB taken:
# less than the 3000 objects need.
expect_exit 0 unshare -rm bash -c '
	mount -t tmpfs -o size=512k none "$1/audit" || exit 99
	dd if=/dev/zero of="$1/audit/fill" bs=4k count=100 status=none
	"$2" run --no-progress "$1/r.toml"
	echo "rc=$?"' - "$T" "$MIGRATE"
rc=$(sed -n 's/^rc=//p' "$T/out")
[ -n "$rc" ] && [ "$rc" -lt 128 ] && [ "$rc" -ne 0 ] || { cat "$T/err"
	fail "full state file system: exit $rc, want an error (not a signal)"; }
expect_err "No space left on device"
echo "ok"
