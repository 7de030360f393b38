#!/usr/bin/env bash
# File names as long as a file system allows, landed, verified and
# restored, locally and over SFTP.  A name lands as NAME.zst.age (or
# NAME.age), so 247 bytes is the longest that fits NAME_MAX (255); the
# upload's temporary is the final name shortened, never longer.  Before,
# every name over 224 bytes was refused, and over SFTP any object whose
# name was over 233 bytes failed (its temporary did not fit).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sshd.sh"
start_or_skip sshd sshd_start
setup_plans
unset SSH_AUTH_SOCK

src=$T/s-long
mkdir -p "$src/sub"
a247=$(printf 'a%.0s' $(seq 1 247))
u246=$(printf '\xc3\xbc%.0s' $(seq 1 123))	# 123 x u-umlaut, 246 bytes
a248=$(printf 'b%.0s' $(seq 1 248))
echo "ascii 247" > "$src/$a247"
echo "utf-8 246" > "$src/sub/$u246"
echo "one byte too long" > "$src/$a248"
echo short > "$src/short.csv"

for lake in local sftp; do
	if [ "$lake" = local ]; then
		write_plan "$T/$lake.toml" replatform "$src"
	else
		cp "$SSHD_KNOWN_HOSTS" "$T/known_hosts"
		write_plan "$T/$lake.toml" replatform "$src"
		sed -i "s|^url = .*|url = \"sftp://$SSHD_USER@127.0.0.1:$SSHD_PORT$SSHD_ROOT/lake\"\nknown_hosts = \"$T/known_hosts\"\nidentity = \"$SSHD_KEY_ED25519\"|" "$T/$lake.toml"
		sed -i "s|t-replatform|t-sftp|" "$T/$lake.toml"
	fi
	# The 248-byte name is refused by name, the rest lands: partial.
	expect_exit 0 "$MIGRATE" run --json "$T/$lake.toml"
	[ "$(json "$T/out" 'd["counts"]["stored"]')" = 3 ] &&
	    [ "$(json "$T/out" 'd["counts"]["refused"]')" = 1 ] ||
	    fail "$lake: $(json "$T/out" 'd["counts"]["stored"]') stored, want 3"
	grep -q "name component longer than 247 bytes" "$T/err" ||
	    fail "$lake: the 248-byte name was not refused by name: $(cat "$T/err")"
	run=$(json "$T/out" 'd["run"]')
	expect_exit 0 "$MIGRATE" verify --deep -i "$KEY" "$T/$lake.toml"
	expect_exit 0 "$MIGRATE" restore "$T/$lake.toml" --run "$run" -i "$KEY" --to "$T/back-$lake"
	cmp "$T/back-$lake/$a247" "$src/$a247" || fail "$lake: 247-byte name not restored"
	cmp "$T/back-$lake/sub/$u246" "$src/sub/$u246" || fail "$lake: UTF-8 name not restored"
	[ ! -e "$T/back-$lake/$a248" ] || fail "$lake: the refused name was restored"
done
[ -z "$(find "$SSHD_ROOT" "$T/lake" -name '*migrate-tmp*')" ] || fail "temporaries left"
echo "long names: ok"
