#!/usr/bin/env bash
# make bench: every benchmark side by side with its peer, one table.
#   QUICK=1      small datasets (256 MiB, 2,000 files), one run each: < 3 min
#   BENCH=NAME   only tests/bench/NAME.sh
#   BENCH_SKIP="NAME ..."  all but these (e.g. scale: 1M files, minutes)
set -u
here=$(cd "$(dirname "$0")" && pwd)
export BENCH_TMP=${BENCH_TMP:-/tmp/migrate-bench}
export BENCH_TABLE=$BENCH_TMP/table.tsv
# Lines a benchmark adds under the table (scale: RSS against files).
export BENCH_NOTES=$BENCH_TMP/notes.txt
if [ "${QUICK:-0}" = 1 ]; then
	export BENCH_SIZE_MB=${BENCH_SIZE_MB:-256} BENCH_FILES=${BENCH_FILES:-2000} RUNS=${RUNS:-1}
fi
mkdir -p "$BENCH_TMP"
: > "$BENCH_TABLE"
: > "$BENCH_NOTES"
# sftp and https measure the transports alone (BENCH=sftp, BENCH=https);
# remote measures migrate run end to end over both; wan the same through
# a latency proxy at 20 and 80 ms; scale memory and speed against the
# number of files (10k to 1M).
for b in age lake audit remote wan s3 scale sftp https; do
	if [ -n "${BENCH:-}" ]; then
		[ "$BENCH" = "$b" ] || continue
	else
		case $b in sftp|https) continue ;; esac
		case " ${BENCH_SKIP:-} " in *" $b "*) continue ;; esac
	fi
	[ -f "$here/$b.sh" ] || continue
	echo "== $b" >&2
	bash "$here/$b.sh" || echo "bench $b failed" >&2
done
echo
echo "migrate benchmarks ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, runs=${RUNS:-3}, median; ratio = migrate/peer, >1 is faster)"
awk -F'\t' 'BEGIN { printf "%-38s %9s %10s  %-18s %10s %6s %9s %9s\n", "workload", "unit", "migrate", "peer", "peer", "ratio", "RSS MiB", "peer RSS" }
    { printf "%-38s %9s %10s  %-18s %10s %6s %9s %9s\n", $1, $2, $3, $4, $5, $6, $7, $8 }' "$BENCH_TABLE"
if [ -s "$BENCH_NOTES" ]; then
	echo
	cat "$BENCH_NOTES"
fi
