#!/usr/bin/env bash
# Runs one plan as N shards, as concurrent local processes (GNU parallel
# when installed, else xargs -P), then verifies the run as a whole.
#
#   run-shards.sh [-n N] [-P PROCS] [-j JOBS] [--run-id ID] [--shards LIST]
#                 [--logs DIR] [--no-verify] PLAN
#
#   -n N            shards (default: the number of CPUs)
#   -P PROCS        shards running at once (default: N)
#   -j JOBS         migrate --jobs per shard (default: CPUs / PROCS, >= 1)
#   --run-id ID     resume or complete an existing run (default: a new id,
#                   YYYYMMDDTHHMMSSZ-xxxxxxxx)
#   --shards LIST   only these shards, e.g. 3,5 (re-run failed ones)
#   --logs DIR      where each shard's JSON summary (shard-K.json) and
#                   messages (shard-K.err) go (default: a new directory
#                   under ${TMPDIR:-/tmp})
#   --no-verify     do not run migrate verify afterwards
#
# MIGRATE names the binary (default: migrate on PATH); RUN_SHARDS_RUNNER
# (auto, parallel, xargs) forces the runner.  Exit status: 0
# when every shard and the verify passed; else the worst status of a shard
# (2 usage, 3 verification, 1 runtime, 4 partial: run the printed command
# again to resume), or verify's.
set -u

MIGRATE=${MIGRATE:-migrate}
export MIGRATE

# usage [STATUS]: the comment above, to stdout for --help, else stderr.
usage() {
	if [ "${1:-2}" = 0 ]; then
		sed -n '2,/^set -u/{/^set -u/d;/^$/d;s/^# \{0,1\}//;p}' "$0"
	else
		sed -n '2,/^set -u/{/^set -u/d;/^$/d;s/^# \{0,1\}//;p}' "$0" >&2
	fi
	exit "${1:-2}"
}

die() {
	echo "run-shards: $*" >&2
	exit 2
}

ncpus() {
	getconf _NPROCESSORS_ONLN 2>/dev/null || nproc 2>/dev/null || echo 1
}

new_run_id() {
	local hex
	hex=$(openssl rand -hex 4 2>/dev/null) ||
	    hex=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
	printf '%s-%s\n' "$(date -u +%Y%m%dT%H%M%SZ)" "$hex"
}

# __shard K: one shard, run by parallel or xargs with the settings in the
# environment; its exit status goes to DIR/shard-K.rc.
if [ "${1:-}" = __shard ]; then
	k=$2
	"$MIGRATE" run "$RS_PLAN" --shard "$k/$RS_N" --run-id "$RS_RUN_ID" \
	    --jobs "$RS_JOBS" --no-progress --json \
	    >"$RS_LOGS/shard-$k.json" 2>"$RS_LOGS/shard-$k.err"
	rc=$?
	echo "$rc" >"$RS_LOGS/shard-$k.rc"
	exit 0
fi

n='' procs='' jobs='' run_id='' only='' logs='' verify=1 plan=''
while [ $# -gt 0 ]; do
	case $1 in
	-n) n=${2:-}; shift ;;
	-P) procs=${2:-}; shift ;;
	-j) jobs=${2:-}; shift ;;
	--run-id) run_id=${2:-}; shift ;;
	--shards) only=${2:-}; shift ;;
	--logs) logs=${2:-}; shift ;;
	--no-verify) verify=0 ;;
	-h | --help) usage 0 ;;
	--) shift; break ;;
	-*) die "unknown option $1 (see --help)" ;;
	*) [ -z "$plan" ] || die "one PLAN only"; plan=$1 ;;
	esac
	[ $# -gt 0 ] && shift
done
[ -z "$plan" ] && [ $# -gt 0 ] && plan=$1
[ -n "$plan" ] || usage
[ -f "$plan" ] || die "$plan: no such plan"
isnum() { case $1 in '' | *[!0-9]* | 0*) return 1 ;; esac; }
cpus=$(ncpus)
n=${n:-$cpus}
isnum "$n" || die "-n takes a positive integer, not \"$n\""
procs=${procs:-$n}
isnum "$procs" || die "-P takes a positive integer, not \"$procs\""
[ "$procs" -le "$n" ] || procs=$n
if [ -z "$jobs" ]; then
	jobs=$((cpus / procs))
	[ "$jobs" -ge 1 ] || jobs=1
	[ "$jobs" -le 64 ] || jobs=64
fi
isnum "$jobs" || die "-j takes a positive integer, not \"$jobs\""
run_id=${run_id:-$(new_run_id)}
[[ $run_id =~ ^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$ ]] ||
    die "run id \"$run_id\" is not YYYYMMDDTHHMMSSZ-xxxxxxxx"

if [ -n "$only" ]; then
	shards=$(printf '%s\n' "$only" | tr ',' '\n' | sed '/^$/d' | sort -u)
	for k in $shards; do
		case $k in *[!0-9]*) die "--shards: \"$k\" is not a shard number" ;; esac
		[ "$k" -lt "$n" ] || die "--shards: $k is not below N=$n"
	done
else
	shards=$(seq 0 $((n - 1)))
fi
if [ -z "$logs" ]; then
	logs=$(mktemp -d "${TMPDIR:-/tmp}/migrate-$run_id.XXXXXX") ||
	    die "cannot create a log directory"
else
	mkdir -p "$logs" || die "$logs: cannot create"
fi
for k in $shards; do rm -f "$logs/shard-$k.rc"; done

self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
export RS_PLAN=$plan RS_N=$n RS_RUN_ID=$run_id RS_JOBS=$jobs RS_LOGS=$logs

case ${RUN_SHARDS_RUNNER:-auto} in
parallel) runner="GNU parallel" ;;
xargs) runner="xargs -P" ;;
auto)
	if command -v parallel >/dev/null 2>&1 &&
	    parallel --version 2>/dev/null | grep -q 'GNU parallel'; then
		runner="GNU parallel"
	else
		runner="xargs -P"
	fi
	;;
*) die "RUN_SHARDS_RUNNER is auto, parallel or xargs" ;;
esac
echo "run $run_id: $(echo "$shards" | wc -w) of $n shards, $procs at a time" \
    "($runner), $jobs workers each; logs in $logs"
if [ "$runner" = "GNU parallel" ]; then
	printf '%s\n' "$shards" |
	    parallel --will-cite -j "$procs" -q bash "$self" __shard '{}'
else
	printf '%s\n' "$shards" | xargs -P "$procs" -I{} bash "$self" __shard {}
fi

# Worst first: a usage error or a verification failure says more than a
# runtime failure, which says more than a partial run.
worst=0 failed=''
rank() { case $1 in 0) echo 0 ;; 4) echo 1 ;; 1) echo 2 ;; 3) echo 3 ;; 2) echo 4 ;; *) echo 2 ;; esac; }
for k in $shards; do
	rc=$(cat "$logs/shard-$k.rc" 2>/dev/null || echo 1)
	outcome=$(sed -n 's/^ *"outcome": *"\([a-z-]*\)".*/\1/p' \
	    "$logs/shard-$k.json" 2>/dev/null | head -n 1)
	printf 'shard %s/%s: %s (exit %s)\n' "$k" "$n" "${outcome:-failed}" "$rc"
	if [ "$rc" != 0 ]; then
		sed 's/^/    /' "$logs/shard-$k.err" 2>/dev/null | tail -n 5
		failed="$failed${failed:+,}$k"
		[ "$(rank "$rc")" -gt "$(rank "$worst")" ] && worst=$rc
	fi
done
if [ -n "$failed" ]; then
	echo "run $run_id: shards $failed of $n failed; resume them with:" >&2
	echo "  $0 -n $n --run-id $run_id --shards $failed $plan" >&2
	exit "$worst"
fi
[ "$verify" = 1 ] || exit 0
"$MIGRATE" verify "$plan" --run "$run_id" --json >"$logs/verify.json" \
    2>"$logs/verify.err"
rc=$?
if [ "$rc" = 0 ]; then
	echo "run $run_id: verified, all $n shards ($logs/verify.json)"
else
	echo "run $run_id: verify failed (exit $rc), see $logs/verify.json" >&2
	sed 's/^/    /' "$logs/verify.err" >&2
fi
exit "$rc"
