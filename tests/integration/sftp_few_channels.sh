#!/usr/bin/env bash
# A server that allows fewer channels per connection than objects in
# flight (MaxSessions 3: the main channel and two lanes) still takes
# every object: the lanes it refuses write through the main channel.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sshd.sh"
start_or_skip sshd sshd_start
setup_plans
unset SSH_AUTH_SOCK

sshd_second few "MaxSessions 3"
few=$SECOND_PORT

# The transport contract, nine objects in flight asked for.
conform="$(dirname "$MIGRATE")/tests/test_transport_conformance"
MIG_TEST_CONF_URL="sftp://$SSHD_USER@127.0.0.1:$few$SSHD_ROOT/few-$$" \
MIG_TEST_CONF_LOCAL="$SSHD_ROOT/few-$$" \
MIG_TEST_CONF_OPTS="known_hosts=$T/known_hosts
identity=$SSHD_KEY_ED25519
objects_in_flight=9" "$conform" || fail "transport conformance (MaxSessions 3)"
# sshd's word for a channel over MaxSessions.
grep -q "no more sessions" "$SECOND_LOG" ||
    fail "the server never refused a channel: the case did not happen ($(tail -3 "$SECOND_LOG"))"

# A whole run, then verify --deep and a restore.
write_plan "$T/f.toml" rehost "$T/p/data/warehouse"
sed -i "s|^url = .*|url = \"sftp://$SSHD_USER@127.0.0.1:$few$SSHD_ROOT/lake\"\nknown_hosts = \"$T/known_hosts\"\nidentity = \"$SSHD_KEY_ED25519\"\nobjects_in_flight = 9|" "$T/f.toml"
expect_exit 0 "$MIGRATE" run --jobs 2 --json "$T/f.toml"
[ "$(json "$T/out" 'd["outcome"]')" = complete ] || fail "run not complete"
expect_exit 0 "$MIGRATE" verify --deep -i "$KEY" "$T/f.toml"
expect_exit 0 "$MIGRATE" restore "$T/f.toml" --run latest -i "$KEY" --to "$T/back"
diff -r "$T/back" "$T/p/data/warehouse" || fail "restore differs"

# Out of range: refused with the key named, before anything is written.
sed -i "s|^objects_in_flight = 9|objects_in_flight = 10|" "$T/f.toml"
expect_exit 2 "$MIGRATE" run "$T/f.toml"
expect_err "objects_in_flight"
echo "sftp few channels: ok"
