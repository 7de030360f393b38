#!/usr/bin/env bash
# The SFTP transport against a real OpenSSH sshd on 127.0.0.1: runs the
# cmocka program build/tests/test_transport_sftp with the server's URL,
# keys and known_hosts in its environment.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sshd.sh"

prog="$(dirname "$MIGRATE")/tests/test_transport_sftp"
[ -x "$prog" ] || { echo "no $prog (make check-unit builds it)"; exit 77; }
start_or_skip sshd sshd_start

# An ssh-agent holding the ed25519 key, for the agent case.
agent_pid=
if command -v ssh-agent >/dev/null && command -v ssh-add >/dev/null; then
	# ssh-agent returns once its socket is bound and says its PID.
	agent_pid=$(ssh-agent -s -a "$T/agent.sock" | sed -n 's/^SSH_AGENT_PID=\([0-9]*\);.*/\1/p')
	[ -S "$T/agent.sock" ] && [ -n "$agent_pid" ] || fail "ssh-agent did not start"
	SSH_AUTH_SOCK=$T/agent.sock ssh-add -q "$SSHD_KEY_ED25519" \
	    2>/dev/null || fail "ssh-add"
	export MIG_TEST_SFTP_AGENT_SOCK=$T/agent.sock
fi
cleanup() {
	sshd_stop
	[ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null
}
at_exit cleanup

base="sftp://$SSHD_USER@127.0.0.1"
export MIG_TEST_SFTP_URL="$base:$SSHD_PORT$SSHD_ROOT"
export MIG_TEST_SFTP_RO_URL="$base:$SSHD_RO_PORT$SSHD_ROOT"
export MIG_TEST_SFTP_KNOWN_HOSTS=$SSHD_KNOWN_HOSTS
export MIG_TEST_SFTP_KNOWN_HOSTS_HASHED=$SSHD_KNOWN_HOSTS_HASHED
export MIG_TEST_SFTP_KEY=$SSHD_KEY_ED25519
export MIG_TEST_SFTP_KEY_ECDSA=$SSHD_KEY_ECDSA
export MIG_TEST_SFTP_KEY_RSA=$SSHD_KEY_RSA
export MIG_TEST_SFTP_KEY_OTHER=$SSHD_KEY_OTHER
export MIG_TEST_SFTP_KEY_PASS=$SSHD_KEY_PASS
export MIG_TEST_SFTP_KEY_PASSPHRASE=$SSHD_KEY_PASSPHRASE
export MIG_TEST_SFTP_SSHD_PID=$SSHD_PID
export TMPDIR=$T

if ! "$prog"; then
	echo "sshd log:"
	cat "$SSHD_DIR/sshd.log"
	fail "test_transport_sftp"
fi
# The transport contract, the same suite every backend passes.
conform="$(dirname "$MIGRATE")/tests/test_transport_conformance"
MIG_TEST_CONF_URL="$base:$SSHD_PORT$SSHD_ROOT/conform-$$" \
MIG_TEST_CONF_LOCAL="$SSHD_ROOT/conform-$$" \
MIG_TEST_CONF_OPTS="known_hosts=$SSHD_KNOWN_HOSTS
identity=$SSHD_KEY_ED25519" "$conform" || fail "transport conformance (sftp)"
# Nothing half-written is left behind under the server's root.
left=$(find "$SSHD_ROOT" -name "*.migrate-tmp-*" ! -path "*case-kill*" \
    ! -path "*case-stop*" | head -n 5)
[ -z "$left" ] || fail "temporary files left: $left"
echo "sftp transport: ok"
