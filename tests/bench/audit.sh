#!/usr/bin/env bash
# audit verify throughput and memory: a log of BENCH_RECORDS records
# (default 1,000,000) written through lib/audit with signed checkpoints,
# then `migrate audit verify --key`; records per second and peak RSS.
# There is no peer tool that checks such a chain, so the floors printed
# beside it are plain hashing of the same file with sha256sum(1) and
# openssl dgst.  Peak RSS is also measured on a log a tenth the size, to
# show that memory does not grow with the log.
#
#   MIGRATE=build/migrate bash tests/bench/audit.sh
#
# Environment: BENCH_RECORDS (QUICK=1: 100,000), BENCH_TMP (default: a directory on /dev/shm
# so that the disk is not measured), LIBMIGRATE (default: beside $MIGRATE).
set -u
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/../integration/audit_gen.bash"

if [ "${QUICK:-0}" = 1 ]; then
	RECORDS=${BENCH_RECORDS:-100000}
else
	RECORDS=${BENCH_RECORDS:-1000000}
fi
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (package time)"; exit 77; }
build_audit_gen
if [ -z "${BENCH_TMP:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	BENCH_TMP=$(mktemp -d /dev/shm/migrate-bench.XXXXXX)
	trap 'rm -rf "$T" "$BENCH_TMP"' EXIT
fi
BENCH_TMP=${BENCH_TMP:-$T}
LOG=$BENCH_TMP/audit.jsonl
SMALL=$BENCH_TMP/small.jsonl
# A log left by an earlier run would be appended to, under a new key.
rm -f "$LOG" "$SMALL"

"$AUDIT_GEN" keygen "$T/audit.pem" || fail "keygen"
start=$(date +%s.%N)
"$AUDIT_GEN" "$LOG" "$RECORDS" -k "$T/audit.pem" >/dev/null || fail "generate"
end=$(date +%s.%N)
"$AUDIT_GEN" "$SMALL" $((RECORDS / 10)) -k "$T/audit.pem" >/dev/null ||
    fail "generate small"
lines=$(wc -l < "$LOG")
bytes=$(wc -c < "$LOG")

# measure NAME CMD...: wall seconds, CPU seconds, peak RSS (KiB).
measure() {
	local name=$1; shift
	/usr/bin/time -f "%e %U %S %M" -o "$T/time" "$@" >"$T/out" 2>"$T/err" ||
	    { cat "$T/err" >&2; fail "$name failed"; }
	read -r wall user sys rss < "$T/time"
	cpu=$(echo "$user + $sys" | bc -l)
}
report() {
	local name=$1
	printf '%-28s %8.2f s wall %8.2f s CPU %10.0f rec/s (wall) %10.0f rec/s (CPU) %8d KiB peak RSS\n' \
	    "$name" "$wall" "$cpu" "$(echo "$lines / $wall" | bc -l)" \
	    "$(echo "$lines / ($cpu + 0.001)" | bc -l)" "$rss"
}

echo "== audit: $lines lines, $((bytes / 1048576)) MiB, signed checkpoints"
printf '%-28s %8.2f s wall %10.0f rec/s\n' "write (lib/audit)" \
    "$(echo "$end - $start" | bc -l)" \
    "$(echo "$lines / ($end - $start)" | bc -l)"
measure verify "$MIGRATE" audit verify "$LOG" --key "$T/audit.pem.pub"
grep -q "intact: $lines records" "$T/out" || fail "log not intact"
report "migrate audit verify --key"
big_rss=$rss
big_wall=$wall
measure verify-nokey "$MIGRATE" audit verify "$LOG"
report "migrate audit verify"
measure sha256sum sha256sum "$LOG"
report "sha256sum (floor)"
if [ -n "${BENCH_TABLE:-}" ]; then
	awk -v n="$lines" -v m="$big_wall" -v p="$wall" -v mk="$big_rss" -v pk="$rss" \
	    'BEGIN { printf "audit verify --key (%d records)\trecords/s\t%.0f\tsha256sum\t%.0f\t%.2f\t%.1f\t%.1f\n",
	    n, n / m, n / p, p / m, mk / 1024, pk / 1024 }' >>"$BENCH_TABLE"
fi
measure openssl openssl dgst -sha256 "$LOG"
report "openssl dgst -sha256 (floor)"
measure small "$MIGRATE" audit verify "$SMALL" --key "$T/audit.pem.pub"
echo "peak RSS: $big_rss KiB for $lines lines, $rss KiB for" \
    "$(wc -l < "$SMALL") lines"
rm -f "$LOG" "$SMALL"
