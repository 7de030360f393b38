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
# Every run is bounded by timeout(1); a hang is a failure.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sshd.sh"
. "$(dirname "$0")/nginx.sh"
export SSH_AUTH_SOCK=
# Cases run in subshells; the PIDs of what they start are kept in files.
cleanup() {
	local p
	[ -f "$T/proxies" ] && for p in $(cat "$T/proxies"); do kill "$p" 2>/dev/null; done
	[ -f "$T/sshd.pid" ] && SSHD_PID=$(cat "$T/sshd.pid")
	[ -f "$T/nginx1.pid" ] && NGINX1_PID=$(cat "$T/nginx1.pid")
	sshd_stop
	nginx_stop
	rm -rf "$T"
}
trap cleanup EXIT
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
trap cleanup EXIT
setup_plans

# The servers back on the same ports, keys and certificates.
sshd_restart() {
	"$SSHD_BIN" -D -e -f "$SSHD_DIR/sshd_config" 2>>"$SSHD_DIR/sshd.log" &
	SSHD_PID=$!
	echo "$SSHD_PID" >"$T/sshd.pid"
	nginx_wait_ports "$SSHD_PID" "$SSHD_PORT"
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

# wait_stored LOG N PID: until N objects are on record (or PID is gone).
wait_stored() {
	for _ in $(seq 1 3000); do
		n=$(grep -c '"event":"object.stored"' "$1" 2>/dev/null)
		[ "${n:-0}" -ge "$2" ] && return 0
		kill -0 "$3" 2>/dev/null || return 1
		sleep 0.01
	done
	return 1
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

# A TCP proxy on 127.0.0.1 (python3): proxy_start MODE UPSTREAM_PORT
#   slow      sleeps 20 ms per 16 KiB chunk, both ways
#   cut       closes the first connection that sent 2 MiB upstream
# Sets PROXY_PORT.
proxy_start() {
	python3 -u - "$1" "$2" >"$T/proxy-$1.log" 2>&1 <<'PY' &
import socket, sys, threading, time
mode, up = sys.argv[1], int(sys.argv[2])
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0))
ls.listen(64)
print("port", ls.getsockname()[1], flush=True)
cut_done = [False]
lock = threading.Lock()
def pump(a, b, upstream, state):
    try:
        while True:
            d = a.recv(16384)
            if not d:
                break
            if mode == "slow":
                time.sleep(0.02)
            if mode == "cut" and upstream:
                state["sent"] += len(d)
                with lock:
                    cut = state["sent"] > 2 << 20 and not cut_done[0]
                    if cut:
                        cut_done[0] = True
                if cut:
                    print("cut", flush=True)
                    break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()
while True:
    c, _ = ls.accept()
    u = socket.create_connection(("127.0.0.1", up))
    state = {"sent": 0}
    threading.Thread(target=pump, args=(c, u, True, state), daemon=True).start()
    threading.Thread(target=pump, args=(u, c, False, state), daemon=True).start()
PY
	echo $! >>"$T/proxies"
	for _ in $(seq 1 200); do
		PROXY_PORT=$(sed -n 's/^port //p' "$T/proxy-$1.log")
		[ -n "$PROXY_PORT" ] && return 0
		sleep 0.01
	done
	fail "proxy $1 did not start"
}

# --- (1) sshd killed mid-transfer ------------------------------------------
case_1() {
	local pid rc t0 secs
	echo "(1) sshd killed in the middle of a transfer"
	make_src "$T/s1" 60 1024
	sftp_plan "$T/n1.toml" n1 "$T/s1" "$SSHD_PORT"
	t0=$(date +%s)
	timeout 60 "$MIGRATE" run --no-progress --jobs 1 "$T/n1.toml" >"$T/out" 2>"$T/err" &
	pid=$!
	wait_stored "$T/audit/n1.jsonl" 3 "$pid" || fail "(1) the run did not get going"
	disown "$SSHD_PID" 2>/dev/null
	kill_tree KILL "$SSHD_PID"
	wait "$pid"
	rc=$?
	secs=$(( $(date +%s) - t0 ))
	sshd_restart || fail "(1) sshd did not restart"
	[ "$rc" != 124 ] || fail "(1) migrate did not give up within 60 s after the server died"
	[ "$rc" = 1 ] || [ "$rc" = 4 ] || { cat "$T/err"; fail "(1) exit $rc, want 1 or 4"; }
	grep -q '^migrate: ' "$T/err" || fail "(1) no error message"
	grep -qiE 'connect|connection|refused|closed|socket|network|eof|lost' "$T/err" ||
	    { cat "$T/err"; fail "(1) the error does not say the connection was lost"; }
	grep -qE '"event":"(object.failed|run.end)"' "$T/audit/n1.jsonl" ||
	    fail "(1) the failure is not on record"
	[ -z "$(find "$SSHD_ROOT/n1" -name _SUCCESS)" ] || fail "(1) a bag completed without the server"
	echo "  exit $rc after ${secs}s: $(tail -n 1 "$T/err")"
	completes "$T/n1.toml" "$T/s1" "$SSHD_ROOT/n1"
	[ "$RESUMED" = True ] || fail "(1) the re-run did not resume"
	echo "  ok: restarted, the re-run resumed ($ALREADY objects not sent again) and verified"
}

# --- (2) nginx killed mid-transfer -----------------------------------------
case_2() {
	local pid rc t0 secs bag
	echo "(2) nginx killed in the middle of a transfer"
	[ "$have_nginx" = 1 ] || { echo "  skipped: nginx did not start: $(tail -n 1 "$T/nginx-start.log")"; exit 77; }
	make_src "$T/s2" 40 1024
	https_plan "$T/n2.toml" n2 "$T/s2" "$NGINX1_PORT"
	t0=$(date +%s)
	timeout 60 "$MIGRATE" run --no-progress --jobs 2 "$T/n2.toml" >"$T/out" 2>"$T/err" &
	pid=$!
	wait_stored "$T/audit/n2.jsonl" 3 "$pid" || fail "(2) the run did not get going"
	kill -KILL "$NGINX1_PID"
	wait "$pid"
	rc=$?
	secs=$(( $(date +%s) - t0 ))
	nginx1_restart || fail "(2) nginx did not restart"
	[ "$rc" != 124 ] || fail "(2) migrate did not give up within 60 s after the server died"
	[ "$rc" = 1 ] || [ "$rc" = 4 ] || { cat "$T/err"; fail "(2) exit $rc, want 1 or 4"; }
	grep -q '^migrate: ' "$T/err" || fail "(2) no error message"
	grep -qiE 'connect|connection|refused|closed|reset|socket|network|recv|send' "$T/err" ||
	    { cat "$T/err"; fail "(2) the error does not say the connection was lost"; }
	grep -qE '"event":"(object.failed|run.end)"' "$T/audit/n2.jsonl" ||
	    fail "(2) the failure is not on record"
	[ -z "$(find "$NGINX1_WWW/open/n2" -name _SUCCESS)" ] || fail "(2) a bag completed without the server"
	echo "  exit $rc after ${secs}s: $(tail -n 1 "$T/err")"
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
case_3() {
	local out
	echo "(3) the TCP link to sshd cut once after 2 MiB"
	proxy_start cut "$SSHD_PORT"
	{ printf '[127.0.0.1]:%s ' "$PROXY_PORT"; cat "$SSHD_DIR/host_ed25519.pub"; } >"$T/kh-cut"
	make_src "$T/s3" 12 512
	sftp_plan "$T/n3.toml" n3 "$T/s3" "$PROXY_PORT" "$T/kh-cut"
	timeout 120 "$MIGRATE" run --no-progress --json --jobs 1 "$T/n3.toml" >"$T/out" 2>"$T/err"
	rc=$?
	case $rc in 0|1|4) ;; *) cat "$T/err"; fail "(3) exit $rc, want 0, 1 or 4" ;; esac
	out=$(json "$T/out" 'd["outcome"]')
	grep -q '^cut' "$T/proxy-cut.log" || fail "(3) the proxy never cut the link"
	if [ "$out" != complete ]; then
		grep -q '^migrate: ' "$T/err" || fail "(3) $out without an error message"
		echo "  exit $rc, $out: $(tail -n 1 "$T/err")"
		completes "$T/n3.toml" "$T/s3" "$SSHD_ROOT/n3"
	else
		echo "  the transport reconnected and the run completed"
		landed "$T/n3.toml" "$T/s3" "$SSHD_ROOT/n3"
	fi
	echo "  ok"
}

# --- (4) slow links ----------------------------------------------------------
case_4() {
	local t0
	echo "(4) a slow link (20 ms per 16 KiB chunk) to sshd"
	proxy_start slow "$SSHD_PORT"
	{ printf '[127.0.0.1]:%s ' "$PROXY_PORT"; cat "$SSHD_DIR/host_ed25519.pub"; } >"$T/kh-slow"
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
	proxy_start slow "$NGINX1_PORT"
	https_plan "$T/n5.toml" n5 "$T/s4" "$PROXY_PORT"
	t0=$(date +%s)
	expect_exit 0 timeout 120 "$MIGRATE" run --no-progress --json --jobs 2 "$T/n5.toml"
	echo "  https: complete in $(( $(date +%s) - t0 ))s"
	https_plan "$T/n5.toml" n5 "$T/s4" "$NGINX1_PORT"
	landed "$T/n5.toml" "$T/s4" "$NGINX1_WWW/open/n5"
	echo "  ok"
}

passed=0 failed=0 skipped=0 failures=
for c in 1 2 3 4; do
	st=$(date +%s)
	( "case_$c" )
	rc=$?
	echo "  ($c: $(( $(date +%s) - st )) s)"
	# A case that failed half-way may have left a server down.
	SSHD_PID=$(cat "$T/sshd.pid")
	kill -0 "$SSHD_PID" 2>/dev/null || sshd_restart || fail "sshd cannot be restarted"
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
