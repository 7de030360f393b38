#!/bin/bash
# One sharded migrate run as a Slurm job array: array task K runs
#
#   migrate run PLAN --shard K/N --run-id RUN_ID --no-progress --json
#
# and lands its bag at run=RUN_ID/shard=K-of-N/; a dependent job then runs
# migrate verify PLAN --run RUN_ID --json.  See deploy/slurm/README.md.
#
#   migrate-array.sh submit PLAN N [SBATCH-OPTION...]
#       on the login node: makes a RUN_ID, submits the array (0..N-1) and
#       the verify job (--dependency=afterok:ARRAYJOB), prints all three.
#   sbatch --array=0-$((N-1)) --export=ALL,RUN_ID=ID,SHARDS=N migrate-array.sh PLAN
#       one array task per shard (what submit does).
#   sbatch --dependency=afterok:JOBID --export=ALL,RUN_ID=ID migrate-array.sh --verify PLAN
#       the verify step, after every array task succeeded.
#
# Environment: RUN_ID (exported by the submitter, required), SHARDS (N;
# default: the array's task count when the array is 0..N-1), MIGRATE (the
# binary, default migrate on PATH), MIGRATE_JOBS (workers per shard,
# default SLURM_CPUS_PER_TASK).  Exit status: migrate's (0 ok, 1 runtime,
# 2 usage, 3 verification failed, 4 partial: resubmit that index).
#
#SBATCH --job-name=migrate
#SBATCH --array=0-7
#SBATCH --cpus-per-task=4
#SBATCH --mem=2G
#SBATCH --time=24:00:00
#SBATCH --output=migrate-%A_%a.out
#SBATCH --error=migrate-%A_%a.err
set -u

MIGRATE=${MIGRATE:-migrate}
RUN_ID_RE='^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$'

die() {
	echo "migrate-array: $*" >&2
	exit 2
}

new_run_id() {
	local hex
	hex=$(openssl rand -hex 4 2>/dev/null) ||
	    hex=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
	printf '%s-%s\n' "$(date -u +%Y%m%dT%H%M%SZ)" "$hex"
}

# submit PLAN N [SBATCH-OPTION...]: both sbatch calls, from the login node.
submit() {
	local plan=${1:-} n=${2:-} script array verify
	[ $# -ge 2 ] || die "usage: migrate-array.sh submit PLAN N [SBATCH-OPTION...]"
	shift 2
	case $n in '' | *[!0-9]* | 0*) die "N must be a positive integer, not \"$n\"" ;; esac
	[ -f "$plan" ] || die "$plan: no such plan"
	plan=$(cd "$(dirname "$plan")" && pwd)/$(basename "$plan")
	script=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
	RUN_ID=${RUN_ID:-$(new_run_id)}
	[[ $RUN_ID =~ $RUN_ID_RE ]] || die "RUN_ID \"$RUN_ID\" is not YYYYMMDDTHHMMSSZ-xxxxxxxx"
	array=$(sbatch --parsable --array="0-$((n - 1))" \
	    --export="ALL,RUN_ID=$RUN_ID,SHARDS=$n" "$@" "$script" "$plan") ||
	    die "sbatch of the array failed"
	array=${array%%;*}
	verify=$(sbatch --parsable --job-name=migrate-verify \
	    --dependency="afterok:$array" --kill-on-invalid-dep=yes \
	    --export="ALL,RUN_ID=$RUN_ID" "$@" "$script" --verify "$plan") ||
	    die "sbatch of the verify job failed (array job $array is queued)"
	verify=${verify%%;*}
	echo "run id:     $RUN_ID"
	echo "shards:     job $array (array 0-$((n - 1)))"
	echo "verify:     job $verify (after every shard succeeded)"
}

verify_step() {
	local plan=${1:-}
	[ -n "$plan" ] || die "usage: migrate-array.sh --verify PLAN"
	[ -n "${RUN_ID:-}" ] || die "RUN_ID is not set (export it to sbatch)"
	exec "$MIGRATE" verify "$plan" --run "$RUN_ID" --json
}

shard_step() {
	local plan=${1:-} k n jobs
	[ -n "$plan" ] || die "usage: sbatch --array=0-(N-1) migrate-array.sh PLAN"
	[ -n "${RUN_ID:-}" ] || die "RUN_ID is not set (export it to sbatch: --export=ALL,RUN_ID=...)"
	[[ $RUN_ID =~ $RUN_ID_RE ]] || die "RUN_ID \"$RUN_ID\" is not YYYYMMDDTHHMMSSZ-xxxxxxxx"
	k=${SLURM_ARRAY_TASK_ID:-}
	[ -n "$k" ] || die "not an array task (submit with sbatch --array=0-(N-1))"
	n=${SHARDS:-}
	if [ -z "$n" ]; then
		# Only a whole 0..N-1 array says what N is; a resubmitted
		# index (--array=5) must be told: SHARDS=N.
		if [ "${SLURM_ARRAY_TASK_MIN:-}" = 0 ] &&
		    [ -n "${SLURM_ARRAY_TASK_COUNT:-}" ] &&
		    [ "${SLURM_ARRAY_TASK_MAX:-}" = $((SLURM_ARRAY_TASK_COUNT - 1)) ]; then
			n=$SLURM_ARRAY_TASK_COUNT
		else
			die "set SHARDS=N (the array is not 0..N-1)"
		fi
	fi
	jobs=${MIGRATE_JOBS:-${SLURM_CPUS_PER_TASK:-}}
	echo "migrate-array: shard $k/$n of run $RUN_ID on $(hostname)" >&2
	exec "$MIGRATE" run "$plan" --shard "$k/$n" --run-id "$RUN_ID" \
	    ${jobs:+--jobs "$jobs"} --no-progress --json
}

case ${1:-} in
submit)
	shift
	submit "$@"
	;;
--verify)
	shift
	verify_step "$@"
	;;
-h | --help)
	sed -n '2,/^#SBATCH/{/^#SBATCH/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
	;;
*)
	shard_step "$@"
	;;
esac
