#!/usr/bin/env bash
# I/O faults during `migrate run`, each with a clear error, the right exit
# status, an audit record where the log is writable, nothing wrong visible
# under a final name, and a later run that recovers:
#   (a) the destination fills up (a small tmpfs as the lake), then grows
#   (b) a source file vanishes, or turns into a FIFO, before its turn
#   (c) a source file grows while it is being read
#   (d) the audit log cannot be written: an immutable log (chattr +i) and
#       a read-only audit directory (read-only bind mount) stop the run
#       before anything lands; a log whose file system fills up in the
#       middle of a run stops it (exit 1) with nothing landed off the
#       record
# Cases needing mount(8) or chattr(1) are skipped with a note when this
# machine cannot do them (they need root).
. "$(dirname "$0")/lib.sh"
setup_plans
# Mount points and immutable files to undo, one a line (cases run in
# subshells).
: >"$T/undo"
undo() { echo "$1" >>"$T/undo"; }
cleanup() {
	local m
	while IFS= read -r m; do
		chattr -i "$m" 2>/dev/null
		mountpoint -q "$m" 2>/dev/null && { umount "$m" || umount -l "$m"; }
	done < <(tac "$T/undo")
}
at_exit cleanup
note() { echo "  $*"; }
skip() { echo "  SKIP: $*"; exit 77; }

# plan FILE NAME SRC LAKE AUDITDIR [EXTRA]
plan() {
	cat >"$1" <<PLAN
version = 1
name = "$2"
strategy = "rehost"
[source]
path = "$3"
[destination]
url = "file://$4"
[encryption]
recipients_file = "$T/p/keys/demo.pub"
[audit]
log = "$5/$2.jsonl"
signing_key = "$T/p/keys/audit.pem"
${6:-}
PLAN
}

# visible_ok LAKE SRC: every object under its final name decrypts to the
# source file it names.
visible_ok() {
	local f rel n=0
	while IFS= read -r -d '' f; do
		case ${f##*/} in *.migrate-tmp-*) continue ;; esac
		case $f in */data/*) ;; *) continue ;; esac
		rel=${f#*/run=*/data/}
		rel=${rel%.age}
		[ -f "$2/$rel" ] || fail "visible object $f names no source file"
		age -d -i "$KEY" "$f" 2>/dev/null | cmp -s - "$2/$rel" ||
		    fail "visible object $f is not its source file $rel"
		n=$((n + 1))
	done < <(find "$1" -name '*.age' -print0 2>/dev/null)
	VISIBLE=$n
}

no_tmps() {
	local left
	left=$(find "$@" -name '*.migrate-tmp-*' 2>/dev/null | head -n 3)
	[ -z "$left" ] || fail "temporaries left: $left"
}

# recovered PLAN SRC LOG: the last run ($T/out) completed; deep verify
# passes; its restore is the whole snapshot, every file of SRC (landed by
# this run or held by an earlier one), each equal to its source file; the
# audit chain holds.
recovered() {
	local run n
	[ "$(json "$T/out" 'd["outcome"]')" = complete ] || fail "re-run not complete"
	run=$(json "$T/out" 'd["run"]')
	n=$(find "$2" -type f | wc -l)
	expect_exit 0 "$MIGRATE" verify --deep -i "$KEY" --run "$run" "$1"
	rm -rf "$T/back"
	expect_exit 0 "$MIGRATE" restore "$1" --run "$run" -i "$KEY" --to "$T/back"
	[ "$(find "$T/back" -type f | wc -l)" = "$n" ] ||
	    fail "restore of $run holds $(find "$T/back" -type f | wc -l) files, want $n"
	diff -r "$T/back" "$2" >/dev/null || fail "restore of $run differs from the source"
	rm -rf "$T/back"
	expect_exit 0 "$MIGRATE" audit verify --key "$T/p/keys/audit.pem.pub" "$3"
}

# --- (a) The destination fills up ------------------------------------------
case_a() {
	echo "(a) destination full: 8 MiB tmpfs lake, 16 MiB to land"
	local src=$T/a-src rc
	mkdir -p "$src" "$T/a-lake"
	for i in $(seq -w 1 16); do head -c 1048576 /dev/urandom >"$src/f$i.bin"; done
	if ! mount -t tmpfs -o size=8m tmpfs "$T/a-lake" 2>"$T/mount.err"; then
		skip "(a) cannot mount a tmpfs: $(cat "$T/mount.err")"
	else
		undo "$T/a-lake"
		plan "$T/a.toml" fa "$src" "$T/a-lake" "$T/a-audit"
		"$MIGRATE" run --no-progress --jobs 2 "$T/a.toml" >"$T/out" 2>"$T/err"
		rc=$?
		[ "$rc" = 4 ] || [ "$rc" = 1 ] || { cat "$T/err"; fail "(a) full lake: exit $rc, want 4 or 1"; }
		expect_err "No space left"
		grep -q '"event":"object.failed".*No space left' "$T/a-audit/fa.jsonl" ||
		    fail "(a) no object.failed naming the full disk in the audit"
		visible_ok "$T/a-lake" "$src"
		note "exit $rc, \"$(grep -m1 -o 'No space left[^"]*' "$T/err")\", $VISIBLE whole objects visible"
		[ -z "$(find "$T/a-lake" -name _SUCCESS)" ] || fail "(a) a bag was completed on a full disk"
		mount -o remount,size=256m "$T/a-lake" || fail "(a) remount"
		expect_exit 0 "$MIGRATE" run --no-progress --json "$T/a.toml"
		[ "$(json "$T/out" 'd["resumed"]')" = True ] || fail "(a) re-run did not resume"
		[ "$(json "$T/out" 'd["counts"]["stored"] + d["counts"]["already_landed"]')" = 16 ] ||
		    fail "(a) not every object landed once"
		no_tmps "$T/a-lake"
		recovered "$T/a.toml" "$src" "$T/a-audit/fa.jsonl"
		[ "$(find "$T/a-lake" -name _SUCCESS | wc -l)" = 1 ] || fail "(a) more than one bag"
		note "ok: after growing the lake the re-run resumed and completed"
	fi
}

# --- (b) A source file vanishes or turns into a FIFO before its turn -------
# The test build stops the run after its inventory (run.started): the file
# is moved away while the run stands there.  case_b NAME ACTION: ACTION is
# "gone" or "fifo".
case_b() {
	local name=$1 how=$2 src=$T/b-$1 rc
	if [ "$how" = gone ]; then
		echo "(b1) source file renamed away after the inventory"
	else
		echo "(b2) source file replaced by a FIFO after the inventory"
	fi
	mkdir -p "$src"
	for i in 1 2 3; do head -c 5000 /dev/urandom >"$src/m$i.csv"; done
	head -c 7000 /dev/urandom >"$src/v.csv"
	plan "$T/$name.toml" "f$name" "$src" "$T/$name-lake" "$T/$name-audit"
	# timeout(1) turns a hang on the FIFO into exit 124.
	hook_start "point=run.started action=pause" \
	    timeout 60 "$MIGRATE_HOOKS" run --no-progress --jobs 1 "$T/$name.toml"
	hook_wait run.started
	mv "$src/v.csv" "$T/$name-v.saved"
	[ "$how" = fifo ] && mkfifo "$src/v.csv"
	hook_resume
	hook_end
	rc=$HOOK_RC
	[ "$rc" != 124 ] || fail "($name) migrate hung (killed by timeout 60 s) on a source file that became a $how"
	[ "$rc" = 4 ] || { cat "$T/err"; fail "($name) exit $rc, want 4 (partial)"; }
	grep -q 'v.csv' "$T/err" || { cat "$T/err"; fail "($name) stderr does not name v.csv"; }
	grep -q '"event":"object.failed","object":"v.csv"' "$T/$name-audit/f$name.jsonl" ||
	    fail "($name) no object.failed for v.csv"
	[ -z "$(find "$T/$name-lake" -name 'v.csv.age')" ] || fail "($name) v.csv landed"
	no_tmps "$T/$name-lake"
	grep -q '"event":"object.stored","object":"m3.csv"' "$T/$name-audit/f$name.jsonl" ||
	    fail "($name) the other files did not land"
	note "exit 4: $(grep -m1 'v.csv' "$T/err")"
	rm -f "$src/v.csv"
	mv "$T/$name-v.saved" "$src/v.csv"
	expect_exit 0 timeout 60 "$MIGRATE" run --no-progress --json --jobs 1 "$T/$name.toml"
	[ "$(json "$T/out" 'd["resumed"]')" = True ] || fail "($name) re-run did not resume"
	[ "$(json "$T/out" 'd["counts"]["stored"]')" = 1 ] || fail "($name) re-run should land exactly v.csv"
	recovered "$T/$name.toml" "$src" "$T/$name-audit/f$name.jsonl"
	note "ok: put back, the file landed in the resumed run"
}

# --- (c) A source file grows while it is read -------------------------------
# The test build stops after the first MiB of grow.log has been read: the
# append lands in the middle of the read, every time.
case_c() {
	echo "(c) source file appended to while being read"
	local src=$T/c-src rc
	mkdir -p "$src"
	head -c $((128 * 1048576)) /dev/zero >"$src/grow.log"
	for i in 1 2; do head -c 3000 /dev/urandom >"$src/s$i.csv"; done
	plan "$T/c.toml" fc "$src" "$T/c-lake" "$T/c-audit"
	hook_start "point=source.read detail=grow.log min=1048576 action=pause" \
	    "$MIGRATE_HOOKS" run --no-progress --jobs 1 "$T/c.toml"
	hook_wait source.read
	printf 'more log lines\n' >>"$src/grow.log"
	hook_resume
	hook_end
	rc=$HOOK_RC
	[ "$rc" = 4 ] || { cat "$T/err"; fail "(c) exit $rc, want 4 (partial)"; }
	expect_err "grow.log: changed while being read"
	grep -q '"event":"object.failed","object":"grow.log".*changed while being read' \
	    "$T/c-audit/fc.jsonl" || fail "(c) object.failed for grow.log not audited"
	[ -z "$(find "$T/c-lake" -name 'grow.log.age')" ] || fail "(c) the changing file was published"
	no_tmps "$T/c-lake"
	visible_ok "$T/c-lake" "$src"
	note "exit 4: $(grep -m1 grow.log "$T/err")"
	expect_exit 0 "$MIGRATE" run --no-progress --json --jobs 1 "$T/c.toml"
	[ "$(json "$T/out" 'd["counts"]["stored"]')" = 1 ] || fail "(c) re-run should land grow.log"
	recovered "$T/c.toml" "$src" "$T/c-audit/fc.jsonl"
	note "ok: with the writer stopped the re-run landed it"
}

# --- (d) The audit log cannot be written ------------------------------------
case_d1() {
	echo "(d1) immutable audit log (chattr +i)"
	local src=$T/d-src log before
	mkdir -p "$src"
	for i in 1 2 3 4; do head -c 4000 /dev/urandom >"$src/r$i.csv"; done
	plan "$T/d.toml" fd "$src" "$T/d-lake" "$T/d-audit"
	expect_exit 0 "$MIGRATE" run --no-progress "$T/d.toml"
	log=$T/d-audit/fd.jsonl
	if ! chattr +i "$log" 2>"$T/chattr.err"; then
		skip "(d1) chattr +i not supported here: $(cat "$T/chattr.err")"
	else
		undo "$log"
		echo new >"$src/r5.csv"
		before=$(find "$T/d-lake" | sort)
		expect_exit 1 "$MIGRATE" run --no-progress "$T/d.toml"
		expect_err "$log"
		note "exit 1: $(head -n 1 "$T/err")"
		[ "$(find "$T/d-lake" | sort)" = "$before" ] ||
		    fail "(d1) the lake changed although the audit log could not be written"
		chattr -i "$log"
		expect_exit 0 "$MIGRATE" run --no-progress --json "$T/d.toml"
		[ "$(json "$T/out" 'd["counts"]["stored"]')" = 1 ] || fail "(d1) re-run should land r5.csv"
		recovered "$T/d.toml" "$src" "$log"
		note "ok: nothing landed off the record; writable again, the run completed"
	fi
}

case_d2() {
	echo "(d2) read-only audit directory (read-only bind mount)"
	local src=$T/e-src
	mkdir -p "$T/e-audit" "$src"
	for i in 1 2 3; do head -c 4000 /dev/urandom >"$src/q$i.csv"; done
	plan "$T/e.toml" fe "$src" "$T/e-lake" "$T/e-audit"
	if ! { mount --bind "$T/e-audit" "$T/e-audit" 2>"$T/mount.err" &&
	    undo "$T/e-audit" &&
	    mount -o remount,ro,bind "$T/e-audit" 2>>"$T/mount.err"; }; then
		skip "(d2) cannot make a read-only bind mount: $(cat "$T/mount.err")"
	else
		expect_exit 1 "$MIGRATE" run --no-progress "$T/e.toml"
		expect_err "$T/e-audit"
		expect_err "Read-only file system"
		note "exit 1: $(head -n 1 "$T/err")"
		[ -z "$(find "$T/e-lake" -name '*.age' 2>/dev/null)" ] ||
		    fail "(d2) objects landed without an audit log"
		umount "$T/e-audit" || fail "(d2) umount"
		expect_exit 0 "$MIGRATE" run --no-progress --json "$T/e.toml"
		recovered "$T/e.toml" "$src" "$T/e-audit/fe.jsonl"
		note "ok: refused to start; writable again, the run completed"
	fi
}

case_d3() {
	echo "(d3) the audit log's file system fills up in the middle of a run"
	local src=$T/g-src rc run bag
	mkdir -p "$src" "$T/g-audit"
	for i in $(seq -w 1 300); do printf 'row %s\n' "$i" >"$src/g$i.csv"; done
	plan "$T/g.toml" fg "$src" "$T/g-lake" "$T/g-audit"
	# 48 KiB for the log; its state directory (journal) on its own, roomy
	# tmpfs, so that it is the log that runs out of space.
	if ! mount -t tmpfs -o size=48k tmpfs "$T/g-audit" 2>"$T/mount.err"; then
		skip "(d3) cannot mount a tmpfs: $(cat "$T/mount.err")"
	fi
	undo "$T/g-audit"
	mkdir -m 700 "$T/g-audit/fg.state"
	mount -t tmpfs -o size=16m,mode=0700 tmpfs "$T/g-audit/fg.state" ||
	    skip "(d3) cannot mount a second tmpfs"
	undo "$T/g-audit/fg.state"
	timeout 120 "$MIGRATE" run --no-progress --jobs 2 "$T/g.toml" >"$T/out" 2>"$T/err"
	rc=$?
	[ "$rc" = 1 ] || { cat "$T/err"; fail "(d3) exit $rc, want 1: the audit trail cannot be written"; }
	grep -q "$T/g-audit/fg.jsonl.*No space left" "$T/err" ||
	    { cat "$T/err"; fail "(d3) the error does not name the audit log and the full disk"; }
	note "exit $rc: $(grep -m1 'No space left' "$T/err")"
	[ -z "$(find "$T/g-lake" -name _SUCCESS)" ] ||
	    fail "(d3) a bag was completed while its audit trail could not be written"
	visible_ok "$T/g-lake" "$src"
	# Nothing is under its final name without being on record.
	python3 - "$T/g-audit/fg.jsonl" "$T/g-lake" <<'PY' || fail "(d3) objects landed under their final names without an audit record"
import json, os, sys
log, lake = sys.argv[1:3]
rec = set()
for line in open(log, "rb"):
    try:
        d = json.loads(line)
    except ValueError:
        continue
    if d.get("event") == "object.stored":
        rec.add(d["dest"])
off = []
for top, dirs, files in os.walk(lake):
    for f in files:
        if f.endswith(".age") and "/data" in top and "migrate-tmp" not in f:
            rel = os.path.relpath(os.path.join(top, f), lake)
            dest = rel[rel.index("/data/") + 1:]
            if dest not in rec:
                off.append(dest)
if off:
    print("%d objects landed off the record, e.g. %s" % (len(off), ", ".join(sorted(off)[:3])))
sys.exit(1 if off else 0)
PY
	mount -o remount,size=64m "$T/g-audit" || fail "(d3) remount"
	expect_exit 0 timeout 120 "$MIGRATE" run --no-progress --json "$T/g.toml"
	run=$(json "$T/out" 'd["run"]')
	bag=$T/g-lake/$(json "$T/out" 'd["run_dir"]')
	[ "$(json "$T/out" 'd["counts"]["stored"] + d["counts"]["already_landed"]')" = 300 ] ||
	    fail "(d3) not every object landed once"
	recovered "$T/g.toml" "$src" "$T/g-audit/fg.jsonl"
	# Every object of the bag is on record with the hash the bag holds.
	python3 - "$T/g-audit/fg.jsonl" "$run" "$bag" <<'PY' || fail "(d3) objects in the bag are not on record"
import json, os, sys
log, run, bag = sys.argv[1:4]
rec = {}
for line in open(log, "rb"):
    try:
        d = json.loads(line)
    except ValueError:
        continue
    if d.get("run") == run and d.get("event") == "object.stored":
        rec.setdefault(d["dest"], set()).add(d["stored_sha256"])
bad = 0
for line in open(os.path.join(bag, "manifest-sha256.txt")):
    h, p = line.split(None, 1)
    p = p.rstrip("\n")
    if h not in rec.get(p, ()):
        bad += 1
        if bad <= 3:
            print("not on record:", p)
sys.exit(1 if bad else 0)
PY
	no_tmps "$T/g-lake"
	note "ok: no bag while the trail was failing; with room again the re-run completed"
}

passed=0 failed=0 skipped=0 failures=
# Each case in a subshell: a failed one does not stop the others.
for c in "case_a" "case_b b1 gone" "case_b b2 fifo" "case_c" "case_d1" \
    "case_d2" "case_d3"; do
	st=$(date +%s)
	( $c )
	rc=$?
	echo "  (${c#case_}: $(( $(date +%s) - st )) s)"
	case $rc in
	0) passed=$((passed + 1)) ;;
	77) skipped=$((skipped + 1)) ;;
	*) failed=$((failed + 1)); failures="$failures ${c#case_}" ;;
	esac
done
echo "faults_io: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ] || { echo "failed:$failures"; exit 1; }
[ "$passed" -gt 0 ] || exit 77
echo ok
