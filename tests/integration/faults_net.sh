#!/usr/bin/env bash
# Network faults over SFTP (a real sshd) and HTTPS (a real nginx), all on
# 127.0.0.1:
#   (1) sshd killed in the middle of a transfer: a clear error, exit 1 or
#       4, within a bounded time; on record; sshd back on the same port,
#       the re-run resumes, completes, verifies deep, restores
#   (2) nginx killed in the middle of a transfer: the same over HTTPS
#   (3) the TCP link to sshd cut once in the middle of a transfer (a proxy
#       that drops its first connection after 2 MiB): a clear outcome,
#       and a re-run completes
#   (4) a slow link: a proxy that sleeps per chunk between migrate and
#       sshd, and one in front of nginx; the runs complete, just slower
#   (5) sshd, then nginx, killed while many small objects are in flight:
#       the re-run resumes and lands the rest, nothing lost
# Every run is bounded by timeout(1); a hang is a failure.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sshd.sh"
. "$(dirname "$0")/nginx.sh"
export SSH_AUTH_SOCK=
# Cases run in subshells; the PIDs of what they start are kept in files.
cleanup() {
	[ -f "$T/sshd.pid" ] && SSHD_PID=$(cat "$T/sshd.pid")
	[ -f "$T/nginx1.pid" ] && NGINX1_PID=$(cat "$T/nginx1.pid")
	sshd_stop
	nginx_stop
}
at_exit cleanup
sshd_start >"$T/sshd-start.log" 2>&1
rc=$?
if [ "$rc" != 0 ]; then
	echo "sshd did not start: $(tail -n 1 "$T/sshd-start.log")"
	exit 77
fi
echo "$SSHD_PID" >"$T/sshd.pid"
# Case (1) kills it on purpose: no "Killed" notice from bash.
disown "$SSHD_PID" 2>/dev/null
have_nginx=1
nginx_start >"$T/nginx-start.log" 2>&1 && nginx_start_single >>"$T/nginx-start.log" 2>&1 ||
    have_nginx=0
[ "$have_nginx" = 1 ] && echo "$NGINX1_PID" >"$T/nginx1.pid"
setup_plans

# The servers back on the same ports, keys and certificates.
sshd_restart_logged() {
	sshd_restart
	echo "$SSHD_PID" >"$T/sshd.pid"
}
nginx1_restart() {
	"$NGINX_BIN" -p "$T/nginx1" -e "$T/nginx1/error.log" -c "$T/nginx1/nginx.conf" \
	    2>>"$T/nginx1/error.log" &
	NGINX1_PID=$!
	disown "$NGINX1_PID" 2>/dev/null
	echo "$NGINX1_PID" >"$T/nginx1.pid"
	nginx_wait_ports "$NGINX1_PID" "$NGINX1_PORT"
}

# sftp_plan FILE NAME SRC PORT [KNOWN_HOSTS]
sftp_plan() {
	cat >"$1" <<PLAN
version = 1
name = "$2"
strategy = "rehost"
[source]
path = "$3"
[destination]
url = "sftp://$SSHD_USER@127.0.0.1:$4$SSHD_ROOT/$2"
known_hosts = "${5:-$SSHD_KNOWN_HOSTS}"
identity = "$SSHD_KEY_ED25519"
[encryption]
recipients_file = "$T/p/keys/demo.pub"
[audit]
log = "$T/audit/$2.jsonl"
PLAN
}

# https_plan FILE NAME SRC PORT
https_plan() {
	cat >"$1" <<PLAN
version = 1
name = "$2"
strategy = "rehost"
[source]
path = "$3"
[destination]
url = "https://127.0.0.1:$4/open/$2"
ca_file = "$NGINX_CA"
[encryption]
recipients_file = "$T/p/keys/demo.pub"
[audit]
log = "$T/audit/$2.jsonl"
PLAN
}

# make_src DIR N KIB: N random files of KIB KiB.
make_src() {
	mkdir -p "$1"
	for i in $(seq -w 1 "$2"); do head -c $(($3 * 1024)) /dev/urandom >"$1/f$i.bin"; done
}

# kill_tree SIG PID: PID and all its descendants (by id).
kill_tree() {
	local c
	for c in $(ps -o pid= --ppid "$2" 2>/dev/null); do kill_tree "$1" "$c"; done
	kill "-$1" "$2" 2>/dev/null
}

# landed PLAN SRC ROOT: the run in $T/out completed with every file of
# SRC once; verify --deep passes; a restore equals SRC; on the server's
# disk (the lake is ROOT there) no temporary is left and the bag is a valid
# BagIt bag; the audit chain holds.
landed() {
	local run left bag
	[ "$(json "$T/out" 'd["outcome"]')" = complete ] || fail "$1: not complete"
	[ "$(json "$T/out" 'd["counts"]["stored"] + d["counts"]["already_landed"]')" = \
	    "$(find "$2" -type f | wc -l)" ] || fail "$1: not every object landed once"
	run=$(json "$T/out" 'd["run"]')
	cp "$T/out" "$T/landed.json"
	RESUMED=$(json "$T/out" 'd["resumed"]')
	ALREADY=$(json "$T/out" 'd["counts"]["already_landed"]')
	expect_exit 0 timeout 120 "$MIGRATE" verify --deep -i "$KEY" --run "$run" "$1"
	rm -rf "$T/back"
	expect_exit 0 timeout 120 "$MIGRATE" restore "$1" --run "$run" -i "$KEY" --to "$T/back"
	diff -r "$T/back" "$2" >/dev/null || fail "$1: restore differs from the source"
	rm -rf "$T/back"
	left=$(find "$3" -name '*.migrate-tmp-*' | head -n 3)
	[ -z "$left" ] || fail "$1: temporaries left on the server: $left"
	bag=$3/$(json "$T/landed.json" 'd["run_dir"]')
	expect_exit 0 "$MIGRATE" verify "$bag"
	expect_exit 0 "$MIGRATE" audit verify "$(sed -n 's/^log = "\(.*\)"/\1/p' "$1")"
}

# completes PLAN SRC ROOT: a re-run completes, and landed.
completes() {
	expect_exit 0 timeout 120 "$MIGRATE" run --no-progress --json "$1"
	landed "$@"
}

# kh_for PORT FILE: known_hosts for sshd reached through a proxy on PORT.
kh_for() {
	{ printf '[127.0.0.1]:%s ' "$1"; cat "$SSHD_DIR/host_ed25519.pub"; } >"$2"
	cat "$SSHD_KNOWN_HOSTS" >>"$2"
}

# lost CASE RC: the run that lost its server said so, exit 1 or 4, on
# record, no bag.
lost() {
	[ "$2" = 1 ] || [ "$2" = 4 ] || { cat "$T/err"; fail "($1) exit $2, want 1 or 4"; }
	grep -q '^migrate: ' "$T/err" || fail "($1) no error message"
	grep -qiE 'connect|connection|refused|closed|reset|socket|network|recv|send|eof|lost|empty reply' "$T/err" ||
	    { cat "$T/err"; fail "($1) the error does not say the connection was lost"; }
}

# killed_midway CASE KILL RESTART PLAN JOBS: runs PLAN (through the fault
# proxy already started with --stall-after and --ctl $HOOK_DIR); when the
# proxy stalls, KILL kills the server and the link is reset; RESTART
# brings the server back.  The run must give up in time and say it lost
# the connection.  Its exit status is in RC.
killed_midway() {
	local c=$1 kill=$2 restart=$3 plan=$4 jobs=$5
	hook_start "" timeout 60 "$MIGRATE" run --no-progress --jobs "$jobs" "$plan"
	hook_wait proxy.stalled
	eval "$kill"
	hook_resume reset
	hook_end
	RC=$HOOK_RC
	eval "$restart" || fail "($c) the server did not restart"
	[ "$RC" != 124 ] || fail "($c) migrate did not give up within 60 s after the server died"
	lost "$c" "$RC"
}
KILL_SSHD='disown "$SSHD_PID" 2>/dev/null; kill_tree KILL "$SSHD_PID"'
KILL_NGINX='kill -KILL "$NGINX1_PID"'

# --- (1) sshd killed mid-transfer ------------------------------------------
# The link goes through a fault proxy that stands still after 3.5 MB
# (inside the 4th of 60 files of 1 MiB): sshd is killed then, and the
# proxy resets the connection.  The server dies mid-transfer every time.
case_1() {
	local rc
	echo "(1) sshd killed in the middle of a transfer"
	make_src "$T/s1" 60 1024
	hook_open
	proxy_start "$SSHD_PORT" --stall-after 3500000 --ctl "$HOOK_DIR"
	kh_for "$PROXY_PORT" "$T/kh-1"
	sftp_plan "$T/n1.toml" n1 "$T/s1" "$PROXY_PORT" "$T/kh-1"
	killed_midway 1 "$KILL_SSHD" sshd_restart_logged "$T/n1.toml" 1
	rc=$RC
	grep -qE '"event":"(object.failed|run.end)"' "$T/audit/n1.jsonl" ||
	    fail "(1) the failure is not on record"
	[ -z "$(find "$SSHD_ROOT/n1" -name _SUCCESS)" ] || fail "(1) a bag completed without the server"
	echo "  exit $rc: $(tail -n 1 "$T/err")"
	completes "$T/n1.toml" "$T/s1" "$SSHD_ROOT/n1"
	[ "$RESUMED" = True ] || fail "(1) the re-run did not resume"
	[ "$ALREADY" = 3 ] || fail "(1) $ALREADY objects landed before the cut, want 3"
	echo "  ok: restarted, the re-run resumed ($ALREADY objects not sent again) and verified"
}

# --- (2) nginx killed mid-transfer -----------------------------------------
case_2() {
	local rc bag
	echo "(2) nginx killed in the middle of a transfer"
	[ "$have_nginx" = 1 ] || { echo "  skipped: nginx did not start: $(tail -n 1 "$T/nginx-start.log")"; exit 77; }
	make_src "$T/s2" 40 1024
	hook_open
	proxy_start "$NGINX1_PORT" --stall-after 3500000 --ctl "$HOOK_DIR"
	https_plan "$T/n2.toml" n2 "$T/s2" "$PROXY_PORT"
	killed_midway 2 "$KILL_NGINX" nginx1_restart "$T/n2.toml" 2
	rc=$RC
	grep -qE '"event":"(object.failed|run.end)"' "$T/audit/n2.jsonl" ||
	    fail "(2) the failure is not on record"
	[ -z "$(find "$NGINX1_WWW/open/n2" -name _SUCCESS)" ] || fail "(2) a bag completed without the server"
	echo "  exit $rc: $(tail -n 1 "$T/err")"
	# A PUT that completed whose MOVE never came leaves a temporary in
	# the unfinished run; the run that completes it must not keep it.
	# Over HTTPS temporaries are not dot-files (WebDAV listings hide
	# those, so they could never be swept): NAME.migrate-tmp-XXXXXXXX.
	bag=$(ls -d "$NGINX1_WWW"/open/n2/raw/n2/ingest_date=*/run=* | head -n 1)
	mkdir -p "$bag/data"
	echo stranded >"$bag/data/f01.bin.age.migrate-tmp-deadbeef"
	completes "$T/n2.toml" "$T/s2" "$NGINX1_WWW/open/n2"
	[ "$RESUMED" = True ] || fail "(2) the re-run did not resume"
	echo "  ok: restarted, the re-run resumed ($ALREADY objects not sent again) and verified"
}

# --- (3) the link is cut once mid-transfer ---------------------------------
# The proxy resets the connection once, after exactly 2 MiB went upstream
# (inside the 4th file of 512 KiB); the server stays up, and the re-run
# resumes through the same proxy.
case_3() {
	local rc out
	echo "(3) the TCP link to sshd cut once after 2 MiB"
	proxy_start "$SSHD_PORT" --cut-after 2097152
	kh_for "$PROXY_PORT" "$T/kh-cut"
	make_src "$T/s3" 12 512
	sftp_plan "$T/n3.toml" n3 "$T/s3" "$PROXY_PORT" "$T/kh-cut"
	timeout 120 "$MIGRATE" run --no-progress --json --jobs 1 "$T/n3.toml" >"$T/out" 2>"$T/err"
	rc=$?
	out=$(json "$T/out" 'd["outcome"]')
	echo "  exit $rc, $out: $(tail -n 1 "$T/err")"
	# A lost connection stops the run (the next objects would only pay
	# the same timeouts): exit 1, the object on record as failed.
	[ "$rc" = 1 ] || { cat "$T/err"; fail "(3) exit $rc, want 1: the cut stops the run"; }
	[ "$out" = failed ] || fail "(3) outcome $out, want failed"
	grep -q '"event":"object.failed"' "$T/audit/n3.jsonl" || fail "(3) the cut object is not on record"
	completes "$T/n3.toml" "$T/s3" "$SSHD_ROOT/n3"
	[ "$RESUMED" = True ] || fail "(3) the re-run did not resume"
	echo "  ok"
}

# --- (4) slow links ----------------------------------------------------------
case_4() {
	local t0
	echo "(4) a slow link (20 ms per 16 KiB chunk) to sshd"
	proxy_start "$SSHD_PORT" --delay-ms 20
	kh_for "$PROXY_PORT" "$T/kh-slow"
	make_src "$T/s4" 20 64
	head -c $((2 * 1048576)) /dev/urandom >"$T/s4/big.bin"
	sftp_plan "$T/n4.toml" n4 "$T/s4" "$PROXY_PORT" "$T/kh-slow"
	t0=$(date +%s)
	expect_exit 0 timeout 120 "$MIGRATE" run --no-progress --json --jobs 2 "$T/n4.toml"
	echo "  sftp: complete in $(( $(date +%s) - t0 ))s"
	# Checked over a direct link (the same lake, log and state).
	sftp_plan "$T/n4.toml" n4 "$T/s4" "$SSHD_PORT"
	landed "$T/n4.toml" "$T/s4" "$SSHD_ROOT/n4"
	[ "$have_nginx" = 1 ] || return 0
	echo "(4) a slow link to nginx"
	proxy_start "$NGINX1_PORT" --delay-ms 20
	https_plan "$T/n5.toml" n5 "$T/s4" "$PROXY_PORT"
	t0=$(date +%s)
	expect_exit 0 timeout 120 "$MIGRATE" run --no-progress --json --jobs 2 "$T/n5.toml"
	echo "  https: complete in $(( $(date +%s) - t0 ))s"
	https_plan "$T/n5.toml" n5 "$T/s4" "$NGINX1_PORT"
	landed "$T/n5.toml" "$T/s4" "$NGINX1_WWW/open/n5"
	echo "  ok"
}

# --- (5) the server killed with many small objects in flight ----------------
# 300 files of 16 KiB go whole, up to objects_in_flight per connection on
# lanes of their own (SFTP) or HTTP/2 streams (HTTPS): the server dies
# when about 1.5 MB has gone through, with objects in every state.  Those
# the journal has are not sent again; every other lands on the re-run.
case_5() {
	local rc
	echo "(5) sshd killed with small objects in flight"
	make_src "$T/s5" 300 16
	hook_open
	proxy_start "$SSHD_PORT" --stall-after 1500000 --ctl "$HOOK_DIR"
	kh_for "$PROXY_PORT" "$T/kh-5"
	sftp_plan "$T/n6.toml" n6 "$T/s5" "$PROXY_PORT" "$T/kh-5"
	killed_midway 5 "$KILL_SSHD" sshd_restart_logged "$T/n6.toml" 2
	rc=$RC
	[ -z "$(find "$SSHD_ROOT/n6" -name _SUCCESS)" ] || fail "(5) a bag completed without the server"
	echo "  exit $rc: $(tail -n 1 "$T/err")"
	completes "$T/n6.toml" "$T/s5" "$SSHD_ROOT/n6"
	[ "$RESUMED" = True ] || fail "(5) the re-run did not resume"
	[ "$ALREADY" -gt 0 ] && [ "$ALREADY" -lt 300 ] ||
	    fail "(5) $ALREADY objects landed before the kill, want some, not all"
	echo "  ok: $ALREADY objects landed before the kill were not sent again"
	[ "$have_nginx" = 1 ] || return 0
	echo "(5) nginx killed with small objects in flight"
	hook_open
	proxy_start "$NGINX1_PORT" --stall-after 1500000 --ctl "$HOOK_DIR"
	https_plan "$T/n7.toml" n7 "$T/s5" "$PROXY_PORT"
	killed_midway 5 "$KILL_NGINX" nginx1_restart "$T/n7.toml" 2
	rc=$RC
	echo "  exit $rc: $(tail -n 1 "$T/err")"
	# Through the same proxy (it takes new connections): the same
	# destination, so the same run.
	completes "$T/n7.toml" "$T/s5" "$NGINX1_WWW/open/n7"
	[ "$RESUMED" = True ] || fail "(5) the https re-run did not resume"
	[ "$ALREADY" -gt 0 ] && [ "$ALREADY" -lt 300 ] ||
	    fail "(5) $ALREADY objects landed over https before the kill, want some, not all"
	echo "  ok: $ALREADY objects landed before the kill were not sent again"
}

passed=0 failed=0 skipped=0 failures=
for c in ${FAULTS_NET_CASES:-1 2 3 4 5}; do
	st=$(date +%s)
	( "case_$c" )
	rc=$?
	echo "  ($c: $(( $(date +%s) - st )) s)"
	# A case that failed half-way may have left a server down.
	SSHD_PID=$(cat "$T/sshd.pid")
	kill -0 "$SSHD_PID" 2>/dev/null || sshd_restart_logged || fail "sshd cannot be restarted"
	if [ "$have_nginx" = 1 ]; then
		NGINX1_PID=$(cat "$T/nginx1.pid")
		kill -0 "$NGINX1_PID" 2>/dev/null || nginx1_restart || fail "nginx cannot be restarted"
	fi
	case $rc in
	0) passed=$((passed + 1)) ;;
	77) skipped=$((skipped + 1)) ;;
	*) failed=$((failed + 1)); failures="$failures ($c)" ;;
	esac
done
echo "faults_net: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ] || { echo "failed:$failures"; exit 1; }
echo ok
