#!/usr/bin/env bash
# A server that offers only SHA-1 key exchange is refused, not used.
# libssh2's defaults would accept diffie-hellman-group14-sha1; migrate
# names its own list (sftp_conn.c), as OpenSSH's defaults do.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sshd.sh"
start_or_skip sshd sshd_start
setup_plans
unset SSH_AUTH_SOCK

# A second sshd with only SHA-1 key exchange (KexAlgorithms cannot go in
# a Match block).
sshd_second weak "KexAlgorithms diffie-hellman-group14-sha1"
weak=$SECOND_PORT

# OpenSSH's own client, with that one algorithm allowed, gets in: the
# server works, and what stops migrate is its algorithm list.
echo "ls" | sftp -q -b - -P "$weak" -i "$SSHD_KEY_ED25519" \
    -o UserKnownHostsFile="$T/known_hosts" -o BatchMode=yes \
    -o KexAlgorithms=diffie-hellman-group14-sha1 \
    "$SSHD_USER@127.0.0.1" >/dev/null 2>"$T/sftp.err" ||
    fail "the SHA-1-only sshd refused OpenSSH sftp too: $(cat "$T/sftp.err")"

write_plan "$T/w.toml" rehost "$T/p/data/warehouse"
sed -i "s|^url = .*|url = \"sftp://$SSHD_USER@127.0.0.1:$weak$SSHD_ROOT/lake\"\nknown_hosts = \"$T/known_hosts\"\nidentity = \"$SSHD_KEY_ED25519\"|" "$T/w.toml"
expect_exit 1 "$MIGRATE" run "$T/w.toml"
expect_err "key exchange failed"
[ ! -e "$SSHD_ROOT/lake" ] || fail "wrote to a server with SHA-1 key exchange"
echo "weak kex: refused"
