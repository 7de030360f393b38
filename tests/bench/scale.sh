#!/usr/bin/env bash
# Memory and speed against the number of files (issue 20): trees of N
# files of 100 bytes (folders of 1,000) on tmpfs, each built once for its
# rows and removed after them.  For every N: migrate run --dry-run and
# migrate run (rehost into a local lake on tmpfs, --jobs 2); for the
# largest N also a second run with nothing changed, and the peers: rclone
# copy into a local crypt remote (first and second copy) and rsync -a
# (no crypto).  Fresh state and lake for every first run.
#   BENCH_SCALE_COUNTS  the series (default 10000 100000 1000000;
#                       QUICK=1: 10000 100000)
#   BENCH_SCALE_RUNS    runs of each, median (default 1: 1M files take
#                       minutes a tool)
# Besides the table's rows, one line per N in $BENCH_NOTES (run.sh prints
# them under the table): peak RSS per file shows whether memory is flat.
. "$(dirname "$0")/lib.sh"
if [ "${QUICK:-0}" = 1 ]; then
	COUNTS=${BENCH_SCALE_COUNTS:-10000 100000}
else
	COUNTS=${BENCH_SCALE_COUNTS:-10000 100000 1000000}
fi
SRUNS=${BENCH_SCALE_RUNS:-1}
JOBS=${BENCH_JOBS:-2}
BENCH_NOTES=${BENCH_NOTES:-$BENCH_TMP/notes.txt}
LARGEST=$(printf '%s\n' $COUNTS | sort -n | tail -n 1)
W=$BENCH_TMP/scale
S=$BENCH_DST/scale
rm -rf "$S"
mkdir -p "$W" "$S"
trap 'rm -rf "$S"' EXIT
"$MIGRATE" keygen -o "$W/k.key" 2>/dev/null || true
grep -o 'age1[a-z0-9]*' "$W/k.key" > "$W/k.pub"
crypt_conf "$W/rclone.conf" "$S/crypt"
clean() { rm -rf "$S/lake" "$S/audit" "$S/crypt" "$S/rsync"; }

# 10000 -> 10k, 1000000 -> 1M.
label() {
	if [ $(($1 % 1000000)) = 0 ]; then echo "$(($1 / 1000000))M"
	elif [ $(($1 % 1000)) = 0 ]; then echo "$(($1 / 1000))k"
	else echo "$1"; fi
}

PYTHON3=/usr/bin/python3
[ -x "$PYTHON3" ] || PYTHON3=$(command -v python3)
# tree N: $S/src-N, N files of 100 random bytes, d0000/f000 onwards.
tree() {
	"$PYTHON3" "$(dirname "$0")/../tools/many_files.py" "$S/src-$1" "$1"
}

# Figures by key ("run 10000", "rclone 1000000", ...): seconds and KiB,
# one word a run.
declare -A SECS KIBS
measure() {	# measure KEY CMD...
	local key=$1 s k
	shift
	timed s k "$@" || exit 1
	SECS[$key]="${SECS[$key]:-} $s"
	KIBS[$key]="${KIBS[$key]:-} $k"
}
secs() { median ${SECS[$1]}; }
kibs() { maxof ${KIBS[$1]}; }

# row WORKLOAD N KEY [PEER_NAME PEER_KEY]: a table row as compare() makes.
row() {
	local pn=${4:--} pt=0 pk=0
	if [ -n "${5:-}" ]; then pt=$(secs "$5"); pk=$(kibs "$5"); fi
	awk -v w="$1" -v a="$2" -v mt="$(secs "$3")" -v mk="$(kibs "$3")" \
	    -v pn="$pn" -v pt="$pt" -v pk="$pk" '
	    function rate(t) { if (t <= 0) t = 0.01; return a / t }
	    BEGIN { if (pn == "-")
		printf "%s\tfiles/s\t%.1f\t-\t-\t-\t%.1f\t-\n", w, rate(mt), mk / 1024
	    else
		printf "%s\tfiles/s\t%.1f\t%s\t%.1f\t%.2f\t%.1f\t%.1f\n", w, rate(mt),
		    pn, rate(pt), rate(mt) / rate(pt), mk / 1024, pk / 1024 }' |
	    tee -a "$BENCH_TABLE"
}

RC=(env "RCLONE_CONFIG=$W/rclone.conf" rclone -q copy --transfers "$JOBS")
M=("$MIGRATE" run --no-progress --jobs "$JOBS")
for n in $COUNTS; do
	need=$((n * 12))	# KiB: tree and one copy, a page and an inode a file
	avail=$(df -Pk "$S" | awk 'NR == 2 { print $4 }')
	if [ "$avail" -lt "$need" ]; then
		echo "scale: $(label "$n") files need ~$((need / 1024)) MiB on $S, $((avail / 1024)) free: skipped" >&2
		continue
	fi
	tree "$n"
	cat > "$W/s$n.toml" <<PLAN
version = 1
name = "scale$n"
strategy = "rehost"
[source]
path = "$S/src-$n"
[destination]
url = "file://$S/lake"
[encryption]
recipients_file = "$W/k.pub"
[audit]
log = "$S/audit/scale$n.jsonl"
PLAN
	for _ in $(seq 1 "$SRUNS"); do
		clean
		measure "dry $n" "${M[@]}" --dry-run "$W/s$n.toml"
		measure "run $n" "${M[@]}" "$W/s$n.toml"
		if [ "$n" = "$LARGEST" ]; then
			measure "again $n" "${M[@]}" "$W/s$n.toml"
			clean
			measure "rclone $n" "${RC[@]}" "$S/src-$n" bcrypt:
			measure "rclone2 $n" "${RC[@]}" "$S/src-$n" bcrypt:
			clean
			measure "rsync $n" rsync -a "$S/src-$n/" "$S/rsync/"
		fi
	done
	clean
	rm -rf "$S/src-$n"
	l=$(label "$n")
	if [ "$n" = "$LARGEST" ]; then
		row "scale rehost $l x 100 B" "$n" "run $n" "rclone crypt" "rclone $n"
		row "scale rehost $l x 100 B" "$n" "run $n" "rsync -a" "rsync $n"
		row "scale 2nd run $l (nothing changed)" "$n" "again $n" "rclone crypt" "rclone2 $n"
	else
		row "scale rehost $l x 100 B" "$n" "run $n"
	fi
	row "scale dry-run $l" "$n" "dry $n"
done

# Flatness: peak RSS per file falls as N grows when memory is flat.
{
	echo "scale (files of 100 B, --jobs $JOBS, runs=$SRUNS): peak RSS and rate against the number of files"
	printf '%10s %10s %12s %11s %10s %12s %11s\n' files "run MiB" \
	    "run B/file" "run files/s" "dry MiB" "dry B/file" "dry files/s"
	for n in $COUNTS; do
		[ -n "${SECS[run $n]:-}" ] || continue
		awk -v n="$n" -v rk="$(kibs "run $n")" -v rt="$(secs "run $n")" \
		    -v dk="$(kibs "dry $n")" -v dt="$(secs "dry $n")" 'BEGIN {
		    if (rt <= 0) rt = 0.01; if (dt <= 0) dt = 0.01
		    printf "%10d %10.1f %12.0f %11.0f %10.1f %12.0f %11.0f\n", n,
			rk / 1024, rk * 1024 / n, n / rt, dk / 1024, dk * 1024 / n, n / dt }'
	done
} | tee -a "$BENCH_NOTES"
