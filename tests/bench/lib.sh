# Shared by the benchmark scripts (sourced).  Timings are whole-process
# wall times under /usr/bin/time; each figure is the median of RUNS runs,
# migrate and its peer alternating (A B A B) so both see the same memory
# state, outputs deleted between runs (untimed), as ../shared/PEERS.md
# describes.  No thresholds: the table reports, it never fails.
set -u
: "${MIGRATE:?set MIGRATE to the migrate binary}"
RUNS=${RUNS:-3}
BENCH_TMP=${BENCH_TMP:-/tmp/migrate-bench}
BENCH_DST=${BENCH_DST:-/dev/shm/migrate-bench}
BENCH_TABLE=${BENCH_TABLE:-$BENCH_TMP/table.tsv}
mkdir -p "$BENCH_TMP" "$BENCH_DST"

# timed OUTVAR_SECONDS OUTVAR_KIB CMD...: runs CMD once.
timed() {
	local _s=$1 _k=$2; shift 2
	/usr/bin/time -f '%e %M' -o "$BENCH_TMP/time.out" "$@" \
	    >"$BENCH_TMP/cmd.out" 2>"$BENCH_TMP/cmd.err" || {
		echo "bench: command failed: $*" >&2
		tail -n 5 "$BENCH_TMP/cmd.err" >&2
		return 1
	}
	read -r "$_s" "$_k" < "$BENCH_TMP/time.out"
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
maxof() { printf '%s\n' "$@" | sort -g | tail -n 1; }

# compare WORKLOAD UNITS AMOUNT CLEANUP -- MIGRATE_CMD... -- PEER_NAME PEER_CMD...
# AMOUNT is bytes (UNITS=MB/s) or files (UNITS=files/s).  Commands run
# under sh -c.  Appends a row to the table and prints it.
compare() {
	local workload=$1 units=$2 amount=$3 cleanup=$4 mcmd=$5 pname=$6 pcmd=$7
	local i ms=() mk=() ps=() pk=() s k
	sh -c "$cleanup"
	for i in $(seq 1 "$RUNS"); do
		timed s k sh -c "$mcmd" || return 1; ms+=("$s"); mk+=("$k")
		sh -c "$cleanup"
		timed s k sh -c "$pcmd" || return 1; ps+=("$s"); pk+=("$k")
		sh -c "$cleanup"
	done
	local mt pt; mt=$(median "${ms[@]}"); pt=$(median "${ps[@]}")
	awk -v w="$workload" -v u="$units" -v a="$amount" -v mt="$mt" -v pt="$pt" \
	    -v mk="$(maxof "${mk[@]}")" -v pk="$(maxof "${pk[@]}")" -v pn="$pname" '
	    function rate(t) { if (t <= 0) t = 0.01; return u == "MB/s" ? a / t / 1e6 : a / t }
	    BEGIN { printf "%s\t%s\t%.1f\t%s\t%.1f\t%.2f\t%.1f\t%.1f\n", w, u, rate(mt), pn,
	        rate(pt), rate(mt) / rate(pt), mk / 1024, pk / 1024 }' | tee -a "$BENCH_TABLE"
}

# A single figure with no peer (e.g. audit verify): solo WORKLOAD UNITS AMOUNT CMD
solo() {
	local workload=$1 units=$2 amount=$3 cmd=$4 i ss=() kk=() s k
	for i in $(seq 1 "$RUNS"); do
		timed s k sh -c "$cmd" || return 1; ss+=("$s"); kk+=("$k")
	done
	awk -v w="$workload" -v u="$units" -v a="$amount" -v t="$(median "${ss[@]}")" \
	    -v k="$(maxof "${kk[@]}")" 'BEGIN { if (t <= 0) t = 0.01;
	    r = u == "MB/s" ? a / t / 1e6 : a / t;
	    printf "%s\t%s\t%.1f\t-\t-\t-\t%.1f\t-\n", w, u, r, k / 1024 }' | tee -a "$BENCH_TABLE"
}

# Datasets as in ../shared/PEERS.md: A (one file, BENCH_SIZE_MB MiB of
# random bytes, default 1024) and B (BENCH_FILES files of 4 KiB, default
# 10,000, 10/10/N nested).
BENCH_SIZE_MB=${BENCH_SIZE_MB:-1024}
BENCH_FILES=${BENCH_FILES:-10000}
DATA_A=$BENCH_TMP/A
DATA_B=$BENCH_TMP/B
make_datasets() {
	mkdir -p "$DATA_A"
	if [ "$(stat -c %s "$DATA_A/A.bin" 2>/dev/null)" != $((BENCH_SIZE_MB * 1048576)) ]; then
		openssl rand -out "$DATA_A/A.bin" $((BENCH_SIZE_MB * 1048576))
	fi
	if [ "$(find "$DATA_B" -type f 2>/dev/null | wc -l)" != "$BENCH_FILES" ]; then
		rm -rf "$DATA_B"
		python3 - "$DATA_B" "$BENCH_FILES" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
per = max(1, n // 100)
i = 0
for d in range(10):
    for e in range(10):
        p = os.path.join(root, "d%02d" % d, "e%02d" % e)
        os.makedirs(p, exist_ok=True)
        for f in range(per):
            if i < n:
                with open(os.path.join(p, "f%03d.bin" % f), "wb") as fh:
                    fh.write(os.urandom(4096))
                i += 1
PY
	fi
}

# crypt_conf FILE DIR: an rclone config with a crypt remote "bcrypt" over
# the local directory DIR, as in ../shared/PEERS.md.
crypt_conf() {
	cat >"$1" <<CONF
[bcrypt]
type = crypt
remote = $2
password = $(rclone obscure migrate-bench-password)
CONF
}

# bench_plan FILE NAME SOURCE URL KEYDIR EXTRA...: a rehost plan for the
# remote benchmarks, EXTRA lines in [destination]; recipients in
# KEYDIR/k.pub, the audit log under KEYDIR/audit.
bench_plan() {
	local f=$1 n=$2 src=$3 url=$4 kd=$5; shift 5
	cat > "$f" <<PLAN
version = 1
name = "$n"
strategy = "rehost"
[source]
path = "$src"
[destination]
url = "$url"
$(printf '%s\n' "$@")
[encryption]
recipients_file = "$kd/k.pub"
[audit]
log = "$kd/audit/$n.jsonl"
PLAN
}
