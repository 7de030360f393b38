# Shared helpers for the integration scripts (sourced, not run).
set -u
: "${MIGRATE:?}"
TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO_DIR=$(cd "$TESTS_DIR/.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/migrate-test.XXXXXX")
# Proxies started by proxy_start, stopped by PID.
kill_proxies() {
	local p
	[ -f "$T/proxies" ] || return 0
	for p in $(cat "$T/proxies"); do kill "$p" 2>/dev/null; done
}
# at_exit CMD: CMD runs at exit, the last registered first; then the
# proxies are stopped and $T removed.  One EXIT trap for every script,
# so that servers and proxies never outlive the test.
LIB_AT_EXIT=()
at_exit() {
	local c
	for c in "${LIB_AT_EXIT[@]}"; do [ "$c" = "$1" ] && return 0; done
	LIB_AT_EXIT+=("$1")
}
lib_exit() {
	local i
	for ((i = ${#LIB_AT_EXIT[@]} - 1; i >= 0; i--)); do eval "${LIB_AT_EXIT[i]}"; done
	kill_proxies
	rm -rf "$T"
}
trap lib_exit EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# Debian's python3 (make deps installs it), not a version manager's shim
# first on PATH: a pyenv shim is a chain of shell scripts that costs
# seconds per call on a loaded machine, and the tests call python3 often.
if [ -x /usr/bin/python3 ]; then PYTHON3=/usr/bin/python3; else PYTHON3=$(command -v python3); fi
python3() { "$PYTHON3" "$@"; }

# expect_exit CODE CMD...: runs CMD, stdout/stderr to $T/out $T/err.
expect_exit() {
	local want=$1; shift
	"$@" >"$T/out" 2>"$T/err"
	local got=$?
	if [ "$got" -ne "$want" ]; then
		echo "command: $*" >&2
		echo "stdout:" >&2; cat "$T/out" >&2
		echo "stderr:" >&2; cat "$T/err" >&2
		fail "exit $got, want $want"
	fi
}

# expect_err SUBSTRING: the last command's stderr holds SUBSTRING.
expect_err() {
	grep -qF -- "$1" "$T/err" || { cat "$T/err" >&2; fail "stderr lacks: $1"; }
}
expect_out() {
	grep -qF -- "$1" "$T/out" || { cat "$T/out" >&2; fail "stdout lacks: $1"; }
}

# A private copy of plans/ (with data) and demo keys under $T/p, so the
# tests never touch the repository's own lake, audit logs or keys.
setup_plans() {
	mkdir -p "$T/p"
	cp -r "$REPO_DIR/plans/." "$T/p/"
	rm -rf "$T/p/keys" "$T/p/audit"
	mkdir -p "$T/p/keys"
	"$MIGRATE" keygen -o "$T/p/keys/demo.key" 2>/dev/null
	grep -o 'age1[a-z0-9]*' "$T/p/keys/demo.key" > "$T/p/keys/demo.pub"
	"$MIGRATE" keygen --signing -o "$T/p/keys/audit.pem" >/dev/null 2>&1
	LAKE="$T/lake"
	KEY="$T/p/keys/demo.key"
}

# json FILE EXPR: evaluates a Python expression on the JSON document in FILE
# (bound to d) and prints the result.
json() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# A plan for an arbitrary source directory: write_plan FILE STRATEGY SRC [EXTRA]
write_plan() {
	cat > "$1" <<PLAN
version = 1
name = "t-$2"
strategy = "$2"
[source]
path = "$3"
[destination]
url = "file://$T/lake"
[encryption]
recipients_file = "$T/p/keys/demo.pub"
[audit]
log = "$T/audit/t-$2.jsonl"
${4:-}
PLAN
}

# flip_byte FILE OFFSET: changes the byte at OFFSET (XOR 1), in place.
# Tampering by writing a fixed character is not tampering when that
# character is already there: 'X' at a random spot of an age header is
# there once in 64 runs (s3.sh failed so in a check-stress round).
flip_byte() {
	local b
	b=$(od -An -tu1 -j "$2" -N 1 "$1" | tr -d ' ')
	[ -n "$b" ] || fail "flip_byte: $1 has no byte at $2"
	printf "$(printf '\\%03o' $((b ^ 1)))" |
	    dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# --- Restored trees ------------------------------------------------------
# "path mode mtime sha256" for every file under $1, sorted.
tree_listing() {
	(cd "$1" && find . -type f -printf '%P\n' | LC_ALL=C sort |
	    while IFS= read -r f; do
		printf '%s %s %s %s\n' "$f" "$(stat -c '%a %Y' "$f")" \
		    "$(sha256sum < "$f" | cut -c1-64)"
	    done)
}

# same_tree RESTORED COPY WHAT: the same files with the same mode,
# mtime and SHA-256 (diff -r does not look at modes and times).
same_tree() {
	tree_listing "$1" > "$T/have"
	tree_listing "$2" > "$T/want"
	diff "$T/want" "$T/have" >&2 || fail "$3: restored tree differs (< want, > have)"
}

# start_or_skip WHAT START...: runs a server's start function (sshd_start,
# nginx_start); the script is skipped (exit 77) when it says this machine
# cannot run that server, and fails when the server should have started.
start_or_skip() {
	local what=$1 rc
	shift
	"$@"
	rc=$?
	[ $rc -eq 77 ] && exit 77
	[ $rc -eq 0 ] || fail "$what did not start"
}

# --- Test points: acting at an exact moment (issue 19) ---------------------
# The test build of the binary (make builds it beside $MIGRATE) stops at a
# named point of the library when MIGRATE_TEST_HOOK says so (see
# cmd/migrate/testhook.c), so that no test guesses a moment with sleep.
MIGRATE_HOOKS=${MIGRATE_HOOKS:-$(dirname "$MIGRATE")/migrate-hooks}
[ -x "$MIGRATE_HOOKS" ] || fail "no test build at $MIGRATE_HOOKS (make builds it)"
export MIGRATE_HOOKS

# hook_start SPEC CMD...: runs CMD in the background with
# MIGRATE_TEST_HOOK=SPEC (stdout, stderr to $T/out, $T/err).  Its points
# and, at the end, "exit RC" arrive on one channel (the FIFO
# $HOOK_DIR/reached, held open here), so hook_wait can never wait for a
# process that is already gone.  $HOOK_DIR is also the --ctl of
# tests/tools/fault_proxy.py.
hook_start() {
	local spec=$1
	shift
	[ "${HOOK_OPEN:-0}" = 1 ] || hook_open
	HOOK_OPEN=0
	(
		MIGRATE_TEST_HOOK=$spec MIGRATE_TEST_HOOK_DIR=$HOOK_DIR "$@" \
		    >"$T/out" 2>"$T/err"
		echo "exit $? 0 -" >"$HOOK_DIR/reached"
	) 2>/dev/null &
	HOOK_PID=$!
}

# hook_open: makes the next $HOOK_DIR before hook_start, for a proxy that
# must know it first (proxy_start ... --ctl "$HOOK_DIR").
hook_open() {
	HOOK_DIR=$(mktemp -d "$T/hook.XXXXXX")
	mkfifo "$HOOK_DIR/reached" "$HOOK_DIR/resume"
	exec {HOOK_FD}<>"$HOOK_DIR/reached"
	HOOK_OPEN=1
}

# hook_wait POINT: the next line is POINT reached (HOOK_LINE holds
# "POINT VALUE PID DETAIL", HOOK_TARGET the paused PID); fails the test
# when the process ended instead (HOOK_RC).  The 600 s bound only turns a
# hang into a failure; it never decides an outcome.
hook_wait() {
	local point _v
	if ! read -r -t 600 -u "$HOOK_FD" HOOK_LINE; then
		fail "nothing reached $1 within 600 s (hung)"
	fi
	read -r point _v HOOK_TARGET _ <<<"$HOOK_LINE"
	if [ "$point" = exit ]; then
		HOOK_RC=$_v
		cat "$T/err" >&2
		fail "the process exited ($HOOK_RC) before reaching $1"
	fi
	[ "$point" = "$1" ] || fail "reached $point, expected $1"
}

# hook_resume [CMD]: lets the paused process (or proxy) go on ("go"), or
# tells the proxy to "reset" its connections.
hook_resume() {
	echo "${1:-go}" >"$HOOK_DIR/resume"
}

# hook_end: waits for the process of hook_start; its exit status in
# HOOK_RC (137: killed by SIGKILL, e.g. by action=kill).
hook_end() {
	local word
	while read -r -t 600 -u "$HOOK_FD" word HOOK_RC _; do
		[ "$word" = exit ] && break
	done
	[ "$word" = exit ] || fail "the process did not end within 600 s (hung)"
	wait "$HOOK_PID" 2>/dev/null
	exec {HOOK_FD}<&-
}

# hook_run SPEC CMD...: hook_start and hook_end in one (for kill and fail
# actions, which need no handshake).
hook_run() {
	hook_start "$@"
	hook_end
}

# proxy_start TARGET_PORT ARGS...: tests/tools/fault_proxy.py in front of
# TARGET_PORT; PROXY_PORT is its port once it accepts connections (read
# from its stdout: no polling), PROXY_PID its process.
proxy_start() {
	local word
	exec {PROXY_FD}< <(exec "$PYTHON3" "$TESTS_DIR/tools/fault_proxy.py" "$@")
	PROXY_PID=$!
	read -r -t 60 -u "$PROXY_FD" word PROXY_PORT || fail "fault proxy did not start"
	[ "$word" = port ] || fail "fault proxy: $word $PROXY_PORT"
	echo "$PROXY_PID" >>"$T/proxies"
}
