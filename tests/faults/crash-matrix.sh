#!/usr/bin/env bash
# Crash matrix: "nothing lost, nothing changed, everything on record"
# when `migrate run` is killed with SIGKILL at random points.
#
# Each iteration starts `migrate run` in the background against a plan of a
# few hundred small files and one large one, SIGKILLs it after a random
# (bounded) delay, a random number of times (bounded), then lets one run
# finish.  Before the finishing run, every object visible under its final
# name is decrypted with age(1) and compared with the source file it names.
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
#   CRASH_SEED         seed of the random delays (printed)
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

# check_visible LAKE SRC SEENFILE: every object visible under its final
# name in a run directory not listed in SEENFILE decrypts to the source
# file it names.
check_visible() {
	local lake=$1 src=$2 seen=$3 rd f rel n=0
	while IFS= read -r rd; do
		grep -qxF -- "$rd" "$seen" && continue
		[ -d "$rd/data" ] || continue
		while IFS= read -r -d '' f; do
			case ${f##*/} in *.migrate-tmp-*) continue ;; esac
			rel=${f#"$rd/data/"}
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

# iteration DEST MODE IDX: one iteration; DEST local|sftp, MODE
# fresh|shared.
iteration() {
	local dest=$1 mode=$2 idx=$3 src lake url name strat pd ad plan \
	    k max kills=0 self='' ms delay jobs pid rc want final run bag \
	    bags ext extra got n tmps rd newbags
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
	else
		pd=$T/shared-$dest-${SHARED_GEN[$dest]}
		name=cm-shared
		strat=rehost
		[ -n "$ZSTD" ] && strat=replatform
		mkdir -p "$pd"
		if [ "${SHARED_RUNS[$dest]}" = 0 ]; then
			want=$(find "$src" -type f | wc -l)
		else
			MUTATIONS=$((MUTATIONS + 1))
			mutate "$src" "$MUTATIONS"
			want=$CHANGED
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

	# Kill it a random number of times, at random points.
	rnd "$MAX_KILLS"; max=$((R + 1))
	for k in $(seq 1 "$max"); do
		rnd 3; jobs=$(( 1 << R ))
		# Half the kills land early (start-up, inventory, the first
		# objects), half anywhere in a whole run.
		rnd 2
		if [ "$R" = 0 ]; then rnd 400; ms=$R; else rnd $((D_MS[$dest] * 11 / 10 + 1)); ms=$R; fi
		delay=$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))
		"$MIGRATE" run --no-progress --json --jobs "$jobs" "$plan" \
		    >"$W/a$k.out" 2>"$W/a$k.err" &
		pid=$!
		sleep "$delay"
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		rc=$?
		echo "    attempt $k: --jobs $jobs, SIGKILL after ${delay}s: exit $rc" >>"$W/log"
		if [ "$rc" = 137 ]; then
			kills=$((kills + 1))
		elif [ "$rc" = 0 ]; then
			self=$W/a$k.out
			break
		else
			ifail "attempt $k exited $rc: $(tail -n 3 "$W/a$k.err")"
			break
		fi
	done
	KILLS_TOTAL=$((KILLS_TOTAL + kills))

	[ "$ITER_OK" = 1 ] && check_visible "$lake" "$src" "$W/seen"

	# The completing run.
	timeout 300 "$MIGRATE" run --no-progress --json "$plan" \
	    >"$W/final.out" 2>"$W/final.err"
	rc=$?
	run=
	bag=
	final=
	if [ "$rc" != 0 ]; then
		ifail "completing run exited $rc: $(tail -n 3 "$W/final.err")"
	elif [ "$(json "$W/final.out" 'd["outcome"]')" = complete ]; then
		[ -z "$self" ] ||
		    ifail "a run completed (attempt $self), yet the next one landed again"
		final=$W/final.out
	else
		# nothing-new: an earlier run completed the bag.  Either an
		# attempt that exited 0 on its own says complete, or a kill came
		# after the bag was completed (while the process was exiting).
		[ "$(json "$W/final.out" 'd["outcome"]')" = nothing-new ] ||
		    ifail "completing run: outcome $(json "$W/final.out" 'd["outcome"]')"
		if [ -n "$self" ] &&
		    [ "$(json "$self" 'd["outcome"]')" = complete ]; then
			final=$self
			self="completed on its own"
		else
			mapfile -t newbags < <(run_dirs "$lake" | grep -vxF -f "$W/seen" |
			    while IFS= read -r rd; do [ -e "$rd/_SUCCESS" ] && echo "$rd"; done)
			if [ "${#newbags[@]}" = 1 ]; then
				bag=${newbags[0]}
				run=${bag##*/run=}
				self="killed after completing"
			else
				ifail "completing run says nothing-new, but ${#newbags[@]} bags were completed in this iteration"
			fi
		fi
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
	[ -n "$self" ] && ext="$ext, $self"
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

# calibrate DEST: how long a whole run takes (the kill delays scale to it).
calibrate() {
	local dest=$1 src c url extra='' t0 t1
	c=$T/cal-$1
	mkdir -p "$c"
	if [ "$dest" = local ]; then
		src=$T/src-local; url="file://$c/lake"
	else
		src=$T/src-sftp; url="sftp://$SSHD_USER@127.0.0.1:$SSHD_PORT$SSHD_ROOT/cal"
		extra="known_hosts = \"$SSHD_KNOWN_HOSTS\"
identity = \"$SSHD_KEY_ED25519\""
	fi
	write_cplan "$c/plan.toml" cm-cal rehost "$src" "$url" "$c/audit" "$extra"
	t0=$(date +%s%N)
	timeout 300 "$MIGRATE" run --no-progress "$c/plan.toml" >"$c/out" 2>&1 ||
	    { cat "$c/out"; return 1; }
	t1=$(date +%s%N)
	D_MS[$dest]=$(( (t1 - t0) / 1000000 ))
	rm -rf "$c"; [ "$dest" = sftp ] && rm -rf "$SSHD_ROOT/cal"
	echo "$dest: a whole run takes ${D_MS[$dest]} ms; kills within 0-$(( D_MS[$dest] * 11 / 10 )) ms"
}

declare -A D_MS SHARED_GEN SHARED_RUNS
MUTATIONS=0
KILLS_TOTAL=0
setup_plans

matrix() {	# matrix DEST ITERS
	local dest=$1 n=$2 i mode
	SHARED_GEN[$dest]=0
	SHARED_RUNS[$dest]=0
	calibrate "$dest" || { echo "FAIL: $dest calibration run failed"; FAILED=$((FAILED + 1)); return; }
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
