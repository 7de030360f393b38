#!/usr/bin/env bash
# Attack (issue 13, item 5.3): a core dump of `migrate decrypt` holds the
# raw X25519 key (and encrypt -p the passphrase).  Now every verb, before
# it reads anything, sets RLIMIT_CORE to 0 (soft and hard) and makes the
# process not dumpable (PR_SET_DUMPABLE 0), which also keeps processes of
# the same user from ptrace-attaching to it.
#
# Checked on the live process, blocked on a FIFO the test controls: once
# the test's open of the FIFO returns, migrate has opened its input, so
# main() is behind it.  RLIMIT_CORE is read from /proc/PID/limits, started
# with core dumps allowed up to the hard limit; dumpability shows in who owns
# /proc/PID: root when not dumpable, else the process's user, so that a
# root test runs migrate as nobody (setpriv(1)).
. "$(dirname "$0")/lib.sh"
command -v setpriv >/dev/null || { echo "no setpriv (util-linux)"; exit 77; }
D=$T/pub
chmod 711 "$T"
mkdir -m 777 "$D"
"$MIGRATE" keygen -o "$D/k" 2>/dev/null
grep -o 'age1[a-z0-9]*' "$D/k" >"$D/k.pub"
echo "secret data" >"$D/plain"
"$MIGRATE" encrypt -R "$D/k.pub" -o "$D/c.age" "$D/plain" || fail "encrypt"
mkfifo -m 644 "$D/in"
as=()
if [ "$(id -u)" = 0 ]; then
	chown 65534:65534 "$D/k"
	as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi
hard=$(ulimit -H -c)
[ "$hard" != 0 ] || echo "note: hard RLIMIT_CORE is already 0 here"

# check NAME FEED CMD...: starts CMD (reading $D/in) with the soft core
# limit raised to the hard one, checks it while it waits for input, then
# feeds it FEED and expects success.
check() {
	local name=$1 feed=$2 pid lim own
	shift 2
	(ulimit -S -c "$hard" && exec "${as[@]}" "$@") &
	pid=$!
	exec 3>"$D/in"
	lim=$(awk '/^Max core file size/ { print $5, $6 }' "/proc/$pid/limits")
	own=$(stat -c %u "/proc/$pid/status")
	cat "$feed" >&3
	exec 3>&-
	wait "$pid" || fail "$name: exit $?"
	[ "$lim" = "0 0" ] || fail "$name: RLIMIT_CORE (soft hard) is $lim"
	[ "$own" = 0 ] || fail "$name: dumpable (/proc/$pid owned by uid $own)"
}

check decrypt "$D/c.age" "$MIGRATE" decrypt -i "$D/k" -o "$D/out" "$D/in"
cmp -s "$D/out" "$D/plain" || fail "decrypt: wrong output"
export MIG_TEST_PASS=correct-horse
check "encrypt -p" "$D/plain" "$MIGRATE" encrypt -p \
    --passphrase-env MIG_TEST_PASS -o "$D/c2.age" "$D/in"
echo ok
