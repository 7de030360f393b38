# Starts a real OpenSSH sshd on 127.0.0.1 for the SFTP tests (sourced,
# not run).  Needs $T (a scratch directory, from lib.sh).
#
#   sshd_start       starts it; on return these are set:
#     SSHD_DIR                 the server's directory (keys, config, logs)
#     SSHD_PORT                the normal port
#     SSHD_RO_PORT             a second port whose SFTP server is read-only
#                              (internal-sftp -R: every write is refused with
#                              "permission denied", which a root login would
#                              otherwise bypass)
#     SSHD_PID                 the listener's process id
#     SSHD_USER                the login (the current user)
#     SSHD_ROOT                an empty directory to use as the destination
#     SSHD_KNOWN_HOSTS         "[127.0.0.1]:PORT ssh-ed25519 ..." entries
#     SSHD_KNOWN_HOSTS_HASHED  the same, hashed with ssh-keygen -H
#     SSHD_KEY_ED25519, SSHD_KEY_ECDSA, SSHD_KEY_RSA   authorized user keys
#     SSHD_KEY_OTHER           a user key the server does not know
#     SSHD_KEY_PASS            an authorized ed25519 key encrypted with the
#                              passphrase $SSHD_KEY_PASSPHRASE
#   sshd_stop        stops it by PID (also done by the EXIT trap)
#
# Returns 77 from sshd_start when sshd or ssh-keygen is missing.

SSHD_BIN=/usr/sbin/sshd
SSHD_KEY_PASSPHRASE="correct horse battery"

sshd_free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

sshd_stop() {
	if [ -n "${SSHD_PID:-}" ]; then
		kill "$SSHD_PID" 2>/dev/null
		SSHD_PID=
	fi
}

# sshd_restart: the server again, after sshd_stop, on the same ports
# with the same host keys.
sshd_restart() {
	"$SSHD_BIN" -D -e -f "$SSHD_DIR/sshd_config" 2>>"$SSHD_DIR/sshd.log" &
	SSHD_PID=$!
	python3 "$TESTS_DIR/tools/wait_ports.py" "$SSHD_PID" "$SSHD_PORT" \
	    "$SSHD_RO_PORT"
}

# sshd_second NAME LINE...: a second sshd from the running one's
# configuration (its Match blocks dropped), on a free port, with LINEs
# appended (options that cannot go in a Match block; the copy's own value
# of each keyword goes, since sshd takes the first).  Sets SECOND_PORT,
# SECOND_LOG, stops it at exit, and writes $T/known_hosts for it.
sshd_second() {
	local name=$1 d l drop=()
	shift
	d=$(dirname "$SSHD_KEY_ED25519")
	SECOND_PORT=$(sshd_free_port) || fail "no free port"
	for l in "$@"; do drop+=(-e "/^${l%% *} /d"); done
	sed -e "/^Port /d" "${drop[@]}" -e "/^Match /,\$d" \
	    -e "s|^PidFile .*|PidFile $d/$name.pid|" \
	    "$d/sshd_config" > "$d/${name}_config"
	printf 'Port %s\n' "$SECOND_PORT" >> "$d/${name}_config"
	printf '%s\n' "$@" >> "$d/${name}_config"
	"$SSHD_BIN" -D -e -f "$d/${name}_config" 2>"$d/$name.log" &
	SECOND_PID=$!
	at_exit "kill $SECOND_PID 2>/dev/null"
	python3 "$TESTS_DIR/tools/wait_ports.py" "$SECOND_PID" "$SECOND_PORT" ||
	    fail "the $name sshd did not start: $(cat "$d/$name.log")"
	{ printf '[127.0.0.1]:%s ' "$SECOND_PORT"; cat "$d/host_ed25519.pub"; } > "$T/known_hosts"
	SECOND_LOG=$d/$name.log
}

sshd_start() {
	local d i
	[ -x "$SSHD_BIN" ] || { echo "no $SSHD_BIN"; return 77; }
	command -v ssh-keygen >/dev/null || { echo "no ssh-keygen"; return 77; }
	command -v python3 >/dev/null || { echo "no python3"; return 77; }
	SSHD_DIR=$T/sshd
	d=$SSHD_DIR
	mkdir -p "$d/root" || return 1
	chmod 700 "$d"
	SSHD_ROOT=$d/root
	SSHD_USER=$(id -un)
	# The privilege separation directory must exist (root only).
	if [ "$(id -u)" -eq 0 ]; then
		mkdir -p /run/sshd && chmod 755 /run/sshd
	fi
	ssh-keygen -q -t ed25519 -N '' -f "$d/host_ed25519" || return 1
	ssh-keygen -q -t ed25519 -N '' -C user-ed25519 -f "$d/id_ed25519" &&
	ssh-keygen -q -t ecdsa -b 256 -N '' -C user-ecdsa -f "$d/id_ecdsa" &&
	ssh-keygen -q -t rsa -b 3072 -N '' -C user-rsa -f "$d/id_rsa" &&
	ssh-keygen -q -t ed25519 -N '' -C other -f "$d/id_other" &&
	ssh-keygen -q -t ed25519 -N "$SSHD_KEY_PASSPHRASE" -C user-pass \
	    -f "$d/id_pass" || return 1
	cat "$d/id_ed25519.pub" "$d/id_ecdsa.pub" "$d/id_rsa.pub" \
	    "$d/id_pass.pub" >"$d/authorized_keys"
	SSHD_KEY_ED25519=$d/id_ed25519
	SSHD_KEY_ECDSA=$d/id_ecdsa
	SSHD_KEY_RSA=$d/id_rsa
	SSHD_KEY_OTHER=$d/id_other
	SSHD_KEY_PASS=$d/id_pass

	# A free port can be taken between the probe and the bind: retry.
	for i in 1 2 3 4 5; do
		SSHD_PORT=$(sshd_free_port) || return 1
		SSHD_RO_PORT=$(sshd_free_port) || return 1
		[ "$SSHD_PORT" != "$SSHD_RO_PORT" ] || continue
		cat >"$d/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $SSHD_PORT
Port $SSHD_RO_PORT
HostKey $d/host_ed25519
PidFile $d/sshd.pid
AuthorizedKeysFile $d/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
AllowTcpForwarding no
X11Forwarding no
LogLevel ERROR
MaxStartups 64:30:128
MaxSessions 64
Subsystem sftp internal-sftp
Match LocalPort $SSHD_RO_PORT
	ForceCommand internal-sftp -R
EOF
		rm -f "$d/sshd.pid"
		# -D -e keeps it in the foreground (its PID is ours) and its
		# log on stderr.
		"$SSHD_BIN" -D -e -f "$d/sshd_config" 2>"$d/sshd.log" &
		SSHD_PID=$!
		at_exit sshd_stop
		# Ready when both ports accept connections.
		python3 "$TESTS_DIR/tools/wait_ports.py" "$SSHD_PID" \
		    "$SSHD_PORT" "$SSHD_RO_PORT"
		if kill -0 "$SSHD_PID" 2>/dev/null; then
			break
		fi
		SSHD_PID=
		echo "sshd did not start (try $i):" >&2
		cat "$d/sshd.log" >&2
	done
	[ -n "$SSHD_PID" ] || return 1

	SSHD_KNOWN_HOSTS=$d/known_hosts
	{
		printf '[127.0.0.1]:%s ' "$SSHD_PORT"
		cat "$d/host_ed25519.pub"
		printf '[127.0.0.1]:%s ' "$SSHD_RO_PORT"
		cat "$d/host_ed25519.pub"
	} >"$SSHD_KNOWN_HOSTS"
	SSHD_KNOWN_HOSTS_HASHED=$d/known_hosts_hashed
	cp "$SSHD_KNOWN_HOSTS" "$SSHD_KNOWN_HOSTS_HASHED"
	ssh-keygen -q -H -f "$SSHD_KNOWN_HOSTS_HASHED" >/dev/null 2>&1 ||
	    return 1
	rm -f "$SSHD_KNOWN_HOSTS_HASHED.old"
	grep -q '^|1|' "$SSHD_KNOWN_HOSTS_HASHED" || return 1
	return 0
}
