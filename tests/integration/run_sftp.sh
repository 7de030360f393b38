#!/usr/bin/env bash
# migrate run / verify / restore against a real OpenSSH sshd on 127.0.0.1.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sshd.sh"
start_or_skip sshd sshd_start
setup_plans
unset SSH_AUTH_SOCK

sftp_plan() {	# sftp_plan FILE NAME STRATEGY SOURCE [EXTRA...]
	local f=$1 n=$2 s=$3 src=$4; shift 4
	cat > "$f" <<PLAN
version = 1
name = "$n"
strategy = "$s"
[source]
path = "$src"
[destination]
url = "sftp://$SSHD_USER@127.0.0.1:$SSHD_PORT$SSHD_ROOT/lake"
known_hosts = "$T/known_hosts"
identity = "$SSHD_KEY_ED25519"
$(printf '%s\n' "$@")
[encryption]
recipients_file = "$T/p/keys/demo.pub"
[audit]
log = "$T/audit/$n.jsonl"
PLAN
}
cp "$SSHD_KNOWN_HOSTS" "$T/known_hosts"

for s in rehost replatform; do
	sftp_plan "$T/$s.toml" "s-$s" "$s" "$T/p/data/warehouse"
	expect_exit 0 "$MIGRATE" run --json "$T/$s.toml"
	[ "$(json "$T/out" 'd["outcome"]')" = complete ] || fail "$s not complete"
	run=$(json "$T/out" 'd["run"]')
	expect_exit 0 "$MIGRATE" verify "$T/$s.toml"
	expect_exit 0 "$MIGRATE" verify --deep -i "$KEY" "$T/$s.toml"
	expect_exit 0 "$MIGRATE" restore "$T/$s.toml" --run "$run" -i "$KEY" --to "$T/back-$s"
	diff -r "$T/back-$s" "$T/p/data/warehouse" || fail "$s restore differs"
done
dir=$(ls -d "$SSHD_ROOT"/lake/raw/s-rehost/ingest_date=*/run=*)
expect_exit 0 "$MIGRATE" verify "$dir"
[ -z "$(find "$SSHD_ROOT" -name '*migrate-tmp*')" ] || fail "temporaries left on the server"

# Hashed known_hosts entries work too.
cp "$SSHD_KNOWN_HOSTS_HASHED" "$T/known_hosts"
expect_exit 0 "$MIGRATE" verify "$T/rehost.toml"

# Unknown host key: refused with its fingerprint, audited, exit 1.
: > "$T/known_hosts"
sftp_plan "$T/u.toml" s-unknown rehost "$T/p/data/warehouse"
expect_exit 1 "$MIGRATE" run "$T/u.toml"
expect_err "SHA256:"
grep -q '"event":"security.refused"' "$T/audit/s-unknown.jsonl" || fail "host key refusal not audited"
[ -z "$(ls "$SSHD_ROOT/lake/raw" | grep unknown)" ] || fail "wrote to an unknown host"

# Changed host key: refused loudly.
ssh-keygen -q -t ed25519 -N '' -f "$T/otherhost" >/dev/null
echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$T/otherhost.pub")" > "$T/known_hosts"
sftp_plan "$T/c.toml" s-changed rehost "$T/p/data/warehouse"
expect_exit 1 "$MIGRATE" run "$T/c.toml"
expect_err "CHANGED"
cp "$SSHD_KNOWN_HOSTS" "$T/known_hosts"

# Wrong user key: refused, exit 1.
sftp_plan "$T/w.toml" s-wrongkey rehost "$T/p/data/warehouse"
sed -i "s|^identity = .*|identity = \"$SSHD_KEY_OTHER\"|" "$T/w.toml"
expect_exit 1 "$MIGRATE" run "$T/w.toml"
expect_err "authentication"

# A key with a passphrase from the environment the plan names.
export KEYPASS=$SSHD_KEY_PASSPHRASE
sftp_plan "$T/k.toml" s-passkey rehost "$T/p/data/billing" 'identity_passphrase_env = "KEYPASS"'
sed -i "s|^identity = .*|identity = \"$SSHD_KEY_PASS\"|" "$T/k.toml"
expect_exit 0 "$MIGRATE" run "$T/k.toml"

# Permission denied on the target: a read-only SFTP server.
sftp_plan "$T/r.toml" s-readonly rehost "$T/p/data/warehouse"
sed -i "s/:$SSHD_PORT/:$SSHD_RO_PORT/" "$T/r.toml"
expect_exit 1 "$MIGRATE" run "$T/r.toml"
expect_err "ermission denied"

# Many small files, several connections.
mkdir -p "$T/many"
for i in $(seq 1 300); do printf 'f%d\n' "$i" > "$T/many/f$i.txt"; done
sftp_plan "$T/m.toml" s-many rehost "$T/many"
expect_exit 0 "$MIGRATE" run --jobs 4 --json "$T/m.toml"
[ "$(json "$T/out" 'd["counts"]["stored"]')" = 300 ] || fail "not 300 landed"
expect_exit 0 "$MIGRATE" verify --deep -i "$KEY" "$T/m.toml"

# Server killed mid-run, restarted: the re-run resumes and completes.
mkdir -p "$T/big"
for i in $(seq 1 40); do head -c 2000000 /dev/urandom > "$T/big/f$i.bin"; done
# Through a fault proxy that stops forwarding after 9 MB (in the middle
# of the 5th file): the server is killed while the link stands still, then
# the proxy resets the connection.  The server always dies mid-transfer.
hook_open
proxy_start "$SSHD_PORT" --stall-after 9000000 --ctl "$HOOK_DIR"
{ printf '[127.0.0.1]:%s ' "$PROXY_PORT"; cat "$SSHD_DIR/host_ed25519.pub"; } >>"$T/known_hosts"
sftp_plan "$T/s.toml" s-stop rehost "$T/big"
sed -i "s/127.0.0.1:$SSHD_PORT/127.0.0.1:$PROXY_PORT/" "$T/s.toml"
hook_start "" "$MIGRATE_HOOKS" run --no-progress --jobs 1 "$T/s.toml"
hook_wait proxy.stalled
pkill -9 -P "$SSHD_PID" 2>/dev/null	# its sessions
sshd_stop
hook_resume reset
hook_end
rc1=$HOOK_RC
[ "$rc1" = 1 ] || [ "$rc1" = 4 ] || { cat "$T/err"; fail "run without its server: exit $rc1, want 1 or 4"; }
grep -q '^migrate: ' "$T/err" || fail "no error message when the server went away"
# The same server again; the re-run goes through the same proxy (the
# same URL: the same destination, so the same resume state).
sshd_restart || fail "sshd did not restart"
expect_exit 0 "$MIGRATE" run --json "$T/s.toml"
[ "$(json "$T/out" 'd["outcome"]')" = complete ] || fail "re-run not complete: $(json "$T/out" 'd["outcome"]')"
[ "$(json "$T/out" 'd["resumed"]')" = True ] || fail "re-run did not resume"
already=$(json "$T/out" 'd["counts"]["already_landed"]')
[ "$already" = 4 ] || fail "re-run: $already objects already landed, want the 4 before the cut"
echo "resumed: $already objects were not sent again"
expect_exit 0 "$MIGRATE" verify --deep -i "$KEY" "$T/s.toml"
echo ok
