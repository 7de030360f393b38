#!/usr/bin/env bash
# Crash matrix: "nothing lost, nothing changed, everything on record"
# when `migrate run` is killed with SIGKILL at random points.
#
# Each iteration runs `migrate run` against a plan of a few hundred small
# files and one large one and kills it (SIGKILL) a random number of times
# (bounded), then lets one run finish.  Each kill comes at a test point
# chosen at random (the test build, migrate-hooks, kills itself there: see
# cmd/migrate/testhook.c), among those the attempt is sure to reach: after
# run.start, while reading the K-th chunk of source data, after the K-th
# object was written but before it is on record, after the K-th object
# landed, after the bag's tag files before _SUCCESS, or after _SUCCESS
# before the local state says so (then the next run must settle it without
# writing the bag again).  Every attempt must die at its point (exit 137):
# an attempt that finished instead fails the iteration, so no iteration
# passes without the crash it is about.  Before the finishing run, every
# object a resume would trust is decrypted with age(1) and compared with
# the source file it names: every object visible under its final name in a
# local lake (written through a temporary) and in a published bag, and in
# an unpublished bag over SFTP, which writes objects in place (DESIGN.md 3),
# every object the run's journal records as landed (a partial object there
# is expected after a kill: the journal does not name it, and the next run
# lands it again).
# After it:
#   - the run is complete and counts every object exactly once
#     (stored + already_landed = the files that had to land);
#   - migrate verify --deep passes and a restore equals the source byte
#     for byte;
#   - no temporary (*.migrate-tmp-*) is left in the lake;
#   - migrate audit verify passes (signed checkpoints) and every object in
#     the bag is on record as object.stored with the ciphertext hash the
#     bag holds;
#   - exactly one bag (_SUCCESS) per completed run, and no run directory is
#     left that is neither complete nor abandoned.
# Iterations alternate between a fresh lake + audit log and one shared
# lake + audit log that sees many incremental runs (the source changes a
# little before each of those).
#
# Environment:
#   MIGRATE            the binary (required)
#   CRASH_ITERS        iterations into a local lake (default 50)
#   CRASH_SFTP_ITERS   iterations over SFTP to a local sshd (default 20)
#   CRASH_QUICK=1      short form for CI (5 local + 2 SFTP)
#   CRASH_MAX_KILLS    most kills per iteration (default 4)
#   CRASH_SEED         seed of the random choices (printed)
#   CRASH_KEEP=DIR     copy the scratch of failed iterations there
# Exit 0 when every iteration passed, 1 otherwise, 77 if nothing could run.
set -u
: "${MIGRATE:?set MIGRATE to the migrate binary}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/lib.sh"
. "$here/../integration/sshd.sh"
set +e

if [ "${CRASH_QUICK:-0}" = 1 ]; then
	LOCAL_ITERS=${CRASH_ITERS:-5}
	SFTP_ITERS=${CRASH_SFTP_ITERS:-2}
	MAX_KILLS=${CRASH_MAX_KILLS:-3}
else
	LOCAL_ITERS=${CRASH_ITERS:-50}
	SFTP_ITERS=${CRASH_SFTP_ITERS:-20}
	MAX_KILLS=${CRASH_MAX_KILLS:-4}
fi
SEED=${CRASH_SEED:-$(( $(date +%s) % 32768 ))}
RANDOM=$SEED
ZSTD=$(command -v zstd || true)
export SSH_AUTH_SOCK=
PASSED=0
FAILED=0
FAILURES=()
START=$(date +%s)

echo "crash matrix: $LOCAL_ITERS local + $SFTP_ITERS sftp iterations," \
    "up to $MAX_KILLS kills each, seed $SEED"

# rnd N: R = a random number in [0, N).
rnd() {
	R=$(( ((RANDOM << 15) | RANDOM) % $1 ))
}

# gen_source DIR BIG_MIB NSMALL: NSMALL files of 1-20 KiB in 7 directories
# and one BIG_MIB MiB file.
gen_source() {
	python3 - "$1" "$2" "$3" "$SEED" <<'PY'
import os, random, sys
root, big, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
r = random.Random(seed)
for i in range(n):
    d = os.path.join(root, "d%d" % (i % 7))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%03d.bin" % i), "wb") as f:
        f.write(os.urandom(r.randint(1024, 20480)))
with open(os.path.join(root, "big.bin"), "wb") as f:
    for _ in range(big):
        f.write(os.urandom(1 << 20))
PY
}

# mutate SRC GEN: changes two small files, adds one, and every third time
# rewrites 1 MiB of the big one.  Sets CHANGED to the number of files that
# must land in the next incremental run.
mutate() {
	local src=$1 gen=$2 a b files
	mapfile -t files < <(cd "$src" && find d? -type f | sort)
	rnd ${#files[@]}; a=${files[$R]}
	b=$a
	while [ "$b" = "$a" ]; do rnd ${#files[@]}; b=${files[$R]}; done
	rnd 20480; head -c $((R + 1024)) /dev/urandom >"$src/$a"
	rnd 20480; head -c $((R + 1024)) /dev/urandom >"$src/$b"
	mkdir -p "$src/new"
	rnd 20480; head -c $((R + 1)) /dev/urandom >"$src/new/g$gen-$RANDOM.bin"
	CHANGED=3
	if [ $((gen % 3)) = 0 ]; then
		local mib
		mib=$(( $(stat -c %s "$src/big.bin") >> 20 ))
		rnd "$mib"
		dd if=/dev/urandom of="$src/big.bin" bs=1M count=1 seek="$R" \
		    conv=notrunc status=none
		CHANGED=4
	fi
}

# Per-iteration failure messages.
ifail() {
	ITER_OK=0
	echo "    FAIL: $*" >>"$W/log"
}

# write_cplan FILE NAME STRATEGY SRC URL AUDITDIR [EXTRA]
write_cplan() {
	cat >"$1" <<PLAN
version = 1
name = "$2"
strategy = "$3"
[source]
path = "$4"
[destination]
url = "$5"
${7:-}
[encryption]
recipients_file = "$T/p/keys/demo.pub"
[audit]
log = "$6/$2.jsonl"
signing_key = "$T/p/keys/audit.pem"
PLAN
}

# run dirs of a lake on disk, one a line.
run_dirs() {
	[ -d "$1" ] || return 0
	find "$1" -type d -name 'run=*' | sort
}

# journal_landed AUDITDIR RUNDIR: the objects (under data/) the journal of
# the run of RUNDIR (STATE/RUNID.journal beside the log) records as
# landed, one a line: those whose source path's last line is a landing,
# not a retraction (run_journal.c).  Read once per bag.
journal_landed() {
	local id=${2##*/run=} j
	j=$(find "$1" -name "${id%%/*}.journal" 2>/dev/null | head -n 1)
	[ -n "$j" ] || return 0
	python3 - "$j" <<'PY'
import json, sys
last = {}
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    try:
        e = json.loads(line)
    except ValueError:
        continue          # a torn last line is not there
    if isinstance(e, dict) and "path" in e:
        last[e["path"]] = e
for e in last.values():
    if not e.get("retract") and str(e.get("dest", "")).startswith("data/"):
        print(e["dest"][5:])
PY
}

# check_visible LAKE SRC SEENFILE [AUDITDIR]: every object visible under
# its final name in a run directory not listed in SEENFILE decrypts to the
# source file it names.  With AUDITDIR (a backend that writes the objects
# of an unpublished bag in place), an unpublished bag is held to that only
# for the objects its journal records: those are the ones a resume trusts.
check_visible() {
	local lake=$1 src=$2 seen=$3 ad=${4:-} rd f rel n=0 inplace
	while IFS= read -r rd; do
		grep -qxF -- "$rd" "$seen" && continue
		[ -d "$rd/data" ] || continue
		inplace=0
		if [ -n "$ad" ] && [ ! -e "$rd/_SUCCESS" ]; then
			inplace=1
			journal_landed "$ad" "$rd" >"$W/landed"
		fi
		while IFS= read -r -d '' f; do
			case ${f##*/} in *.migrate-tmp-*) continue ;; esac
			rel=${f#"$rd/data/"}
			[ "$inplace" = 1 ] && ! grep -qxF -- "$rel" "$W/landed" &&
			    continue
			n=$((n + 1))
			case $rel in
			*.zst.age)
				rel=${rel%.zst.age}
				[ -f "$src/$rel" ] || { ifail "visible $f names no source file"; continue; }
				age -d -i "$KEY" "$f" 2>/dev/null | "$ZSTD" -dcq 2>/dev/null |
				    cmp -s - "$src/$rel" ||
				    ifail "visible object $f does not decrypt to $rel"
				;;
			*.age)
				rel=${rel%.age}
				[ -f "$src/$rel" ] || { ifail "visible $f names no source file"; continue; }
				age -d -i "$KEY" "$f" 2>/dev/null | cmp -s - "$src/$rel" ||
				    ifail "visible object $f does not decrypt to $rel"
				;;
			*)
				ifail "unexpected file under data/: $f"
				;;
			esac
		done < <(find "$rd/data" -type f -print0)
	done < <(run_dirs "$lake")
	echo "    $n visible objects checked before the completing run" >>"$W/log"
}

# check_audit LOG RUN BAGDIR: every object in the bag's manifest is on
# record as object.stored in RUN with that ciphertext hash, and the run
# ended complete.
check_audit() {
	python3 - "$1" "$2" "$3" <<'PY'
import json, os, sys
log, run, bag = sys.argv[1:4]
stored, ended = {}, False
with open(log, "rb") as f:
    for line in f:
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if d.get("run") != run:
            continue
        if d.get("event") == "object.stored":
            stored.setdefault(d.get("dest"), set()).add(d.get("stored_sha256"))
        if d.get("event") == "run.end" and d.get("outcome") == "complete":
            ended = True
bad = []
with open(os.path.join(bag, "manifest-sha256.txt")) as f:
    for line in f:
        h, p = line.rstrip("\n").split(None, 1)
        if p not in stored:
            bad.append("%s is in the bag but not on record" % p)
        elif h not in stored[p]:
            bad.append("%s: bag hash %s is not the recorded one %s" % (p, h, sorted(stored[p])))
if not ended:
    bad.append("no run.end complete for %s" % run)
for b in bad[:10]:
    print(b)
sys.exit(1 if bad else 0)
PY
}

# pending LOG WANT LAKE: PENDING = the objects of the unfinished run (a
# run directory of this iteration without _SUCCESS) still to land: WANT
# less those on record as stored in it; BIG = 1 when big.bin is among
# them and must land (BIG_WANTED).  What the log does not say landed is
# taken as pending, so a chosen point is never beyond reach.
pending() {
	local out rd id=
	while IFS= read -r rd; do
		[ -e "$rd/_SUCCESS" ] || id=${rd##*/run=}
	done < <(run_dirs "$3" | grep -vxF -f "$W/seen")
	out=$(python3 - "$1" "$id" <<'PY'
import json, sys
log, run = sys.argv[1], sys.argv[2]
got = set()
try:
    f = open(log, "rb")
except OSError:
    f = []
for line in f:
    try:
        d = json.loads(line)
    except ValueError:
        continue
    if run and d.get("run") == run and d.get("event") == "object.stored":
        got.add(d.get("object"))
print(len(got), 1 if "big.bin" in got else 0)
PY
)
	PENDING=$(( $2 - ${out% *} ))
	BIG=$BIG_WANTED
	[ "${out#* }" = 1 ] && BIG=0
	[ "$PENDING" -ge 0 ] || PENDING=0
}

# kill_point: SPEC = a random test point this attempt will reach, given
# PENDING and BIG (see pending).
kill_point() {
	local choices=(started tags published)
	[ "$PENDING" -gt 0 ] && choices+=(read written landed)
	[ "$BIG" = 1 ] && choices+=(bigread)
	rnd ${#choices[@]}
	case ${choices[$R]} in
	started) SPEC="point=run.started" ;;
	tags) SPEC="point=bag.tags" ;;
	published) SPEC="point=run.published" ;;
	read) rnd "$PENDING"; SPEC="point=source.read nth=$((R + 1))" ;;
	written) rnd "$PENDING"; SPEC="point=object.written nth=$((R + 1))" ;;
	landed) rnd "$PENDING"; SPEC="point=object.landed nth=$((R + 1))" ;;
	bigread)
		rnd $(( $(stat -c %s "$src/big.bin") / 262144 ))
		SPEC="point=source.read detail=big.bin nth=$((R + 1))" ;;
	esac
	SPEC="$SPEC action=kill"
}

# iteration DEST MODE IDX: one iteration; DEST local|sftp, MODE
# fresh|shared.
iteration() {
	local dest=$1 mode=$2 idx=$3 src lake url name strat pd ad plan \
	    k max kills=0 jobs rc want final run bag published newbags \
	    bags ext extra got n tmps rd
	ITER_OK=1
	W=$T/it-$dest-$idx
	mkdir -p "$W"
	: >"$W/log"
	if [ "$dest" = local ]; then src=$T/src-local; else src=$T/src-sftp; fi
	if [ "$mode" = fresh ]; then
		name=cm-fresh
		pd=$W
		rnd 2
		strat=rehost
		[ "$R" = 1 ] && [ -n "$ZSTD" ] && strat=replatform
		want=$(find "$src" -type f | wc -l)
		BIG_WANTED=1
	else
		pd=$T/shared-$dest-${SHARED_GEN[$dest]}
		name=cm-shared
		strat=rehost
		[ -n "$ZSTD" ] && strat=replatform
		mkdir -p "$pd"
		if [ "${SHARED_RUNS[$dest]}" = 0 ]; then
			want=$(find "$src" -type f | wc -l)
			BIG_WANTED=1
		else
			MUTATIONS=$((MUTATIONS + 1))
			mutate "$src" "$MUTATIONS"
			want=$CHANGED
			BIG_WANTED=0
			[ "$CHANGED" = 4 ] && BIG_WANTED=1
		fi
	fi
	ad=$pd/audit
	if [ "$dest" = local ]; then
		lake=$pd/lake
		url="file://$lake"
		extra=
	else
		lake=$SSHD_ROOT/${pd##*/}
		url="sftp://$SSHD_USER@127.0.0.1:$SSHD_PORT$lake"
		extra="known_hosts = \"$SSHD_KNOWN_HOSTS\"
identity = \"$SSHD_KEY_ED25519\""
	fi
	plan=$pd/plan.toml
	write_cplan "$plan" "$name" "$strat" "$src" "$url" "$ad" "$extra"
	run_dirs "$lake" >"$W/seen"

	published=0
	# Kill it a random number of times, each at a random point.
	rnd "$MAX_KILLS"; max=$((R + 1))
	for k in $(seq 1 "$max"); do
		rnd 3; jobs=$(( 1 << R ))
		pending "$ad/$name.jsonl" "$want" "$lake"
		kill_point
		# (The group keeps bash's "Killed" notice off the output.)
		{
			MIGRATE_TEST_HOOK=$SPEC "$MIGRATE_HOOKS" run --no-progress \
			    --json --jobs "$jobs" "$plan" >"$W/a$k.out" 2>"$W/a$k.err"
			rc=$?
		} 2>/dev/null
		echo "    attempt $k: --jobs $jobs, $PENDING pending, kill at $SPEC: exit $rc" >>"$W/log"
		if [ "$rc" = 137 ]; then
			kills=$((kills + 1))
			# Published: the run is over, only its state is not.
			case $SPEC in *run.published*) published=1; break ;; esac
		else
			ifail "attempt $k was not killed at $SPEC: exit $rc: $(tail -n 3 "$W/a$k.err")"
			break
		fi
	done
	KILLS_TOTAL=$((KILLS_TOTAL + kills))

	if [ "$dest" = local ]; then
		[ "$ITER_OK" = 1 ] && check_visible "$lake" "$src" "$W/seen"
	else
		[ "$ITER_OK" = 1 ] && check_visible "$lake" "$src" "$W/seen" "$ad"
	fi

	# The completing run.
	timeout 300 "$MIGRATE" run --no-progress --json "$plan" \
	    >"$W/final.out" 2>"$W/final.err"
	rc=$?
	run=
	bag=
	final=
	# The last attempt died before _SUCCESS: this run completes the bag;
	# or after it: this run settles the state and lands nothing.
	if [ "$rc" != 0 ]; then
		ifail "completing run exited $rc: $(tail -n 3 "$W/final.err")"
	elif [ "$published" = 1 ]; then
		[ "$(json "$W/final.out" 'd["outcome"]')" = nothing-new ] ||
		    ifail "after a kill at run.published: outcome $(json "$W/final.out" 'd["outcome"]'), want nothing-new"
		grep -q 'published before an interruption' "$W/final.err" ||
		    ifail "the published run's state was not settled"
		mapfile -t newbags < <(run_dirs "$lake" | grep -vxF -f "$W/seen" |
		    while IFS= read -r rd; do [ -e "$rd/_SUCCESS" ] && echo "$rd"; done)
		if [ "${#newbags[@]}" = 1 ]; then
			bag=${newbags[0]}
			run=${bag##*/run=}
		else
			ifail "${#newbags[@]} bags published in this iteration, want 1"
		fi
	elif [ "$(json "$W/final.out" 'd["outcome"]')" = complete ]; then
		final=$W/final.out
	else
		ifail "completing run: outcome $(json "$W/final.out" 'd["outcome"]'), want complete"
	fi
	if [ "$ITER_OK" = 1 ] && [ -n "$final" ]; then
		run=$(json "$final" 'd["run"]')
		got=$(json "$final" 'd["counts"]["stored"] + d["counts"]["already_landed"]')
		[ "$got" = "$want" ] ||
		    ifail "run $run: stored + already_landed = $got, want $want"
		[ "$(json "$final" 'd["counts"]["failed"]')" = 0 ] ||
		    ifail "run $run: failed objects"
		bag=$lake/$(json "$final" 'd["run_dir"]')
	fi
	if [ "$ITER_OK" = 1 ]; then
		[ -f "$bag/_SUCCESS" ] || ifail "$bag has no _SUCCESS"
		got=$(wc -l <"$bag/manifest-sha256.txt")
		[ "$got" = "$want" ] || ifail "bag of $run holds $got objects, want $want"
		timeout 300 "$MIGRATE" verify --deep -i "$KEY" --run "$run" "$plan" \
		    >"$W/verify.out" 2>"$W/verify.err" ||
		    ifail "verify --deep: $(tail -n 3 "$W/verify.err")"
		rm -rf "$W/back"
		if timeout 300 "$MIGRATE" restore "$plan" --run "$run" -i "$KEY" \
		    --to "$W/back" >"$W/restore.out" 2>"$W/restore.err"; then
			if [ "$mode" = fresh ]; then
				diff -r "$W/back" "$src" >"$W/diff" 2>&1 ||
				    ifail "restore differs: $(head -n 3 "$W/diff")"
			else
				# Every run of the shared lake, overlaid in
				# order, is the source.
				mkdir -p "$pd/overlay"
				cp -a "$W/back/." "$pd/overlay/"
				diff -r "$pd/overlay" "$src" >"$W/diff" 2>&1 ||
				    ifail "restores of all runs differ from the source: $(head -n 3 "$W/diff")"
			fi
		else
			ifail "restore: $(tail -n 3 "$W/restore.err")"
		fi
		rm -rf "$W/back"
		check_audit "$ad/$name.jsonl" "$run" "$bag" >"$W/audit.chk" 2>&1 ||
		    ifail "audit record: $(head -n 3 "$W/audit.chk" | paste -sd ";" -)"
	fi
	tmps=$(find "$lake" -name '*.migrate-tmp-*' 2>/dev/null | head -n 3)
	[ -z "$tmps" ] || ifail "temporaries left: $tmps"
	"$MIGRATE" audit verify --key "$T/p/keys/audit.pem.pub" "$ad/$name.jsonl" \
	    >"$W/auditv.out" 2>&1 ||
	    ifail "audit verify: $(tail -n 3 "$W/auditv.out")"
	if [ "$ITER_OK" = 1 ]; then
		if [ "$mode" = shared ]; then
			SHARED_RUNS[$dest]=$(( ${SHARED_RUNS[$dest]} + 1 ))
			bags=${SHARED_RUNS[$dest]}
		else
			bags=1
		fi
		n=$(find "$lake" -name _SUCCESS | wc -l)
		[ "$n" = "$bags" ] || ifail "$n bags (_SUCCESS) for $bags completed runs"
	fi
	while IFS= read -r rd; do
		[ -e "$rd/_SUCCESS" ] || [ -e "$rd/_ABANDONED" ] ||
		    ifail "run directory neither complete nor abandoned: ${rd#"$lake"/} ($(ls "$rd" | tr '\n' ' '))"
	done < <(run_dirs "$lake")

	ext="$strat, $kills kills"
	if [ "$ITER_OK" = 1 ]; then
		PASSED=$((PASSED + 1))
		echo "ok   $dest $mode #$idx ($ext)"
		[ "$mode" = fresh ] && rm -rf "$W" "$lake"
		[ "$mode" = shared ] && rm -rf "$W"
	else
		FAILED=$((FAILED + 1))
		FAILURES+=("$dest $mode #$idx")
		echo "FAIL $dest $mode #$idx ($ext)"
		cat "$W/log"
		if [ -n "${CRASH_KEEP:-}" ]; then
			mkdir -p "$CRASH_KEEP"
			cp -a "$pd" "$CRASH_KEEP/" 2>/dev/null
			[ -d "$lake" ] && cp -a "$lake" "$CRASH_KEEP/${pd##*/}-lake" 2>/dev/null
			cp -a "$W" "$CRASH_KEEP/" 2>/dev/null
			echo "    kept in $CRASH_KEEP"
		fi
		if [ "$mode" = shared ]; then
			# Start the shared lake over: the next one lands all.
			SHARED_GEN[$dest]=$(( ${SHARED_GEN[$dest]} + 1 ))
			SHARED_RUNS[$dest]=0
		else
			rm -rf "$lake"
		fi
	fi
}

declare -A SHARED_GEN SHARED_RUNS
MUTATIONS=0
KILLS_TOTAL=0
setup_plans

matrix() {	# matrix DEST ITERS
	local dest=$1 n=$2 i mode
	SHARED_GEN[$dest]=0
	SHARED_RUNS[$dest]=0
	for i in $(seq 1 "$n"); do
		if [ $((i % 2)) = 1 ]; then mode=fresh; else mode=shared; fi
		iteration "$dest" "$mode" "$i"
	done
}

if [ "$LOCAL_ITERS" -gt 0 ]; then
	mkdir -p "$T/src-local"
	gen_source "$T/src-local" 64 300
	matrix local "$LOCAL_ITERS"
fi
if [ "$SFTP_ITERS" -gt 0 ]; then
	sshd_start >"$T/sshd-start.log" 2>&1
	rc=$?
	if [ "$rc" != 0 ]; then
		echo "sftp: skipped, sshd did not start: $(tail -n 1 "$T/sshd-start.log")"
	else
		mkdir -p "$T/src-sftp"
		gen_source "$T/src-sftp" 16 200
		matrix sftp "$SFTP_ITERS"
	fi
fi

echo "crash matrix: $PASSED passed, $FAILED failed" \
    "($KILLS_TOTAL kills, seed $SEED, $(( $(date +%s) - START )) s)"
for f in "${FAILURES[@]}"; do echo "  failed: $f"; done
[ "$FAILED" = 0 ] || exit 1
[ "$PASSED" -gt 0 ] || exit 77
exit 0
