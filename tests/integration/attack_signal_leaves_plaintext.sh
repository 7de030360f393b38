#!/usr/bin/env bash
# Attack (issue 13, item 5.4): SIGINT or SIGTERM during `decrypt -o FILE`
# left its temporary, DIR/.FILE.migrate-tmp-XXXXXXXX, holding the
# plaintext decrypted so far; `encrypt -o` left its own.  Now the
# temporary is registered with handlers that remove it and then end the
# process by the same signal.
#
# Deterministic, no sleeps: migrate reads a FIFO the test feeds.  Writing
# 2 MiB into it returns only once migrate read all but a pipe's worth,
# which it does only after it created its temporary; migrate then blocks
# in read(2) on the FIFO when the signal comes.
. "$(dirname "$0")/lib.sh"
"$MIGRATE" keygen -o "$T/k" 2>/dev/null
grep -o 'age1[a-z0-9]*' "$T/k" >"$T/k.pub"
head -c $((4 << 20)) /dev/urandom >"$T/plain"
"$MIGRATE" encrypt -R "$T/k.pub" -o "$T/c.age" "$T/plain" ||
    fail "encrypt failed"
mkfifo "$T/in"
mkdir "$T/out"

# interrupt SIG WANT FEED CMD...: runs CMD (its input is $T/in, its output
# under $T/out) with SIG at its default action, feeds it the first 2 MiB
# of FEED, checks that its temporary exists, sends SIG and expects exit
# status WANT and an empty $T/out.
interrupt() {
	local sig=$1 want=$2 feed=$3 pid rc left
	shift 3
	env --default-signal="$sig" "$@" 2>"$T/err" &
	pid=$!
	exec 3>"$T/in"
	head -c $((2 << 20)) "$feed" >&3
	left=$(ls -A "$T/out")
	case $left in
	.*.migrate-tmp-*) ;;
	*) fail "$*: no temporary before the signal: '$left'" ;;
	esac
	kill -s "$sig" "$pid"
	wait "$pid"
	rc=$?
	exec 3>&-
	[ "$rc" = "$want" ] || { cat "$T/err" >&2; fail "$*: exit $rc, want $want"; }
	left=$(ls -A "$T/out")
	[ -z "$left" ] || fail "$* killed by $sig left: $left"
}

interrupt TERM 143 "$T/c.age" "$MIGRATE" decrypt -i "$T/k" -o "$T/out/plain" "$T/in"
interrupt INT 130 "$T/c.age" "$MIGRATE" decrypt -i "$T/k" -o "$T/out/plain" "$T/in"
interrupt HUP 129 "$T/c.age" "$MIGRATE" decrypt -i "$T/k" -o "$T/out/plain" "$T/in"
interrupt TERM 143 "$T/plain" "$MIGRATE" encrypt -R "$T/k.pub" -o "$T/out/c.age" "$T/in"

# A signal ignored on entry (nohup, background jobs) stays ignored: the
# run goes on and publishes its output.
env --ignore-signal=INT "$MIGRATE" decrypt -i "$T/k" -o "$T/out/plain" "$T/in" &
pid=$!
exec 3>"$T/in"
head -c $((2 << 20)) "$T/c.age" >&3
kill -s INT "$pid"
tail -c +$(((2 << 20) + 1)) "$T/c.age" >&3
exec 3>&-
wait "$pid" || fail "decrypt with SIGINT ignored: exit $?"
cmp -s "$T/out/plain" "$T/plain" || fail "decrypt with SIGINT ignored: wrong output"
[ "$(ls -A "$T/out")" = plain ] || fail "left: $(ls -A "$T/out")"
echo ok
