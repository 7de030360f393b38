#!/usr/bin/env bash
# Benchmark: migrate encrypt/decrypt against the age tool on one random
# file (1 GiB; BENCH_SIZE_MB to change), written to /dev/null and to a
# file.  Runs alternate (migrate, age, migrate, age, ...); a file output
# is deleted before the next run.  Prints the median of BENCH_RUNS (3)
# runs in MB/s (10^6 bytes), the throughput ratio migrate/age, and the
# peak RSS of each tool.
#
#   MIGRATE=build/migrate bash tests/bench/age.sh
set -u
: "${MIGRATE:?set MIGRATE to the migrate binary}"
command -v age >/dev/null 2>&1 || { echo "age not installed"; exit 77; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time missing (package time)"; exit 77; }

SIZE_MB=${BENCH_SIZE_MB:-1024}
RUNS=${BENCH_RUNS:-3}
W=$(mktemp -d "${TMPDIR:-/tmp}/migrate-bench-age.XXXXXX")
trap 'rm -rf "$W"' EXIT

head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom >"$W/in"
bytes=$(stat -c %s "$W/in")
age-keygen -o "$W/key" 2>/dev/null
R=$(age-keygen -y "$W/key")
age -r "$R" -o "$W/in.age" "$W/in" || { echo "age -e failed"; exit 1; }
# Warm the page cache so the first run is not penalised.
cat "$W/in" "$W/in.age" >/dev/null

# run NAME CMD...: appends "seconds rss_kib" to $W/NAME.
run() {
	local name=$1 t0 t1
	shift
	t0=$(date +%s.%N)
	/usr/bin/time -f '%M' -o "$W/rss" "$@" >/dev/null 2>"$W/err" || {
		echo "failed: $*" >&2
		cat "$W/err" >&2
		exit 1
	}
	t1=$(date +%s.%N)
	echo "$(echo "$t1 - $t0" | bc -l) $(cat "$W/rss")" >>"$W/$name"
	rm -f "$W/out"
}

# To /dev/null the figures are the crypto and read path alone; to a file
# they include writing it (migrate also fsyncs before it renames the
# finished file into place; age does not).
N=/dev/null
for i in $(seq "$RUNS"); do
	run enc_null_migrate "$MIGRATE" encrypt -r "$R" -o $N "$W/in"
	run enc_null_age age -r "$R" -o $N "$W/in"
	run dec_null_migrate "$MIGRATE" decrypt -i "$W/key" -o $N "$W/in.age"
	run dec_null_age age -d -i "$W/key" -o $N "$W/in.age"
	run enc_file_migrate "$MIGRATE" encrypt -r "$R" -o "$W/out" "$W/in"
	run enc_file_age age -r "$R" -o "$W/out" "$W/in"
	run dec_file_migrate "$MIGRATE" decrypt -i "$W/key" -o "$W/out" \
	    "$W/in.age"
	run dec_file_age age -d -i "$W/key" -o "$W/out" "$W/in.age"
done

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
mbps() { echo "scale=1; $bytes / 1000000 / $1" | bc -l; }

printf 'age benchmark: %d MiB, median of %d runs, %s CPUs, load %s\n' \
    "$SIZE_MB" "$RUNS" "$(nproc)" "$(cut -d' ' -f1 /proc/loadavg)"
printf '%-8s %-10s %-8s %10s %10s %14s\n' op output tool seconds MB/s \
    peak_RSS_KiB
for op in enc dec; do
	for out in null file; do
		for tool in migrate age; do
			f="$W/${op}_${out}_$tool"
			s=$(cut -d' ' -f1 "$f" | median)
			rss=$(cut -d' ' -f2 "$f" | sort -n | tail -n 1)
			eval "${op}_${out}_${tool}=$s"
			eval "${op}_${out}_${tool}_rss=$rss"
			printf '%-8s %-10s %-8s %10.3f %10s %14s\n' \
			    "$([ $op = enc ] && echo encrypt || echo decrypt)" \
			    "$([ $out = null ] && echo /dev/null || echo file)" \
			    "$tool" "$s" "$(mbps "$s")" "$rss"
		done
	done
done
# Throughput ratio migrate/age: above 1 means migrate is faster.
ratio() { echo "$1 / $2" | bc -l; }
printf 'ratio migrate/age (throughput): encrypt %.2f (/dev/null) %.2f (file), decrypt %.2f (/dev/null) %.2f (file)\n' \
    "$(ratio "$enc_null_age" "$enc_null_migrate")" \
    "$(ratio "$enc_file_age" "$enc_file_migrate")" \
    "$(ratio "$dec_null_age" "$dec_null_migrate")" \
    "$(ratio "$dec_file_age" "$dec_file_migrate")"

# Rows of make bench's one table (tests/bench/run.sh).
if [ -n "${BENCH_TABLE:-}" ]; then
	for op in enc dec; do
		for out in null file; do
			eval "m=\$${op}_${out}_migrate p=\$${op}_${out}_age"
			eval "mk=\$${op}_${out}_migrate_rss pk=\$${op}_${out}_age_rss"
			awk -v w="$([ $op = enc ] && echo encrypt || echo decrypt) ${SIZE_MB} MiB -> $([ $out = null ] && echo /dev/null || echo file)" \
			    -v b="$bytes" -v m="$m" -v p="$p" -v mk="$mk" -v pk="$pk" \
			    'BEGIN { printf "%s\tMB/s\t%.1f\tage\t%.1f\t%.2f\t%.1f\t%.1f\n",
			    w, b / m / 1e6, b / p / 1e6, p / m, mk / 1024, pk / 1024 }' >>"$BENCH_TABLE"
		done
	done
fi
