#!/usr/bin/env bash
# The SFTP host key policy against a real OpenSSH sshd on 127.0.0.1, one
# case per known_hosts trick: each refusal exits 1, lands nothing, is
# audited as security.refused and names the known_hosts line; the lines
# OpenSSH accepts still connect.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sshd.sh"
start_or_skip sshd sshd_start
setup_plans
unset SSH_AUTH_SOCK

KH=$T/known_hosts
HP="[127.0.0.1]:$SSHD_PORT"
KEY=$(cut -d' ' -f1,2 "$SSHD_DIR/host_ed25519.pub")
FP=$(ssh-keygen -l -f "$SSHD_DIR/host_ed25519.pub" | cut -d' ' -f2)
ssh-keygen -q -t ed25519 -N '' -C ca -f "$T/ca" || fail "ssh-keygen"
CA=$(cut -d' ' -f1,2 "$T/ca.pub")

sftp_plan() {	# sftp_plan NAME
	cat > "$T/$1.toml" <<PLAN
version = 1
name = "$1"
strategy = "rehost"
[source]
path = "$T/p/data/warehouse"
[destination]
url = "sftp://$SSHD_USER@127.0.0.1:$SSHD_PORT$SSHD_ROOT/lake"
known_hosts = "$KH"
identity = "$SSHD_KEY_ED25519"
[encryption]
recipients_file = "$T/p/keys/demo.pub"
[audit]
log = "$T/audit/$1.jsonl"
PLAN
}

# refused NAME TEXT...: with known_hosts holding the lines already
# written, the run exits 1, stderr holds each TEXT, nothing lands and the
# audit log has the refusal with the same reason.
refused() {
	local n=$1 why=$2 w
	shift
	sftp_plan "$n"
	expect_exit 1 "$MIGRATE" run "$T/$n.toml"
	for w in "$@"; do expect_err "$w"; done
	[ ! -e "$SSHD_ROOT/lake/raw/$n" ] || fail "$n: data landed"
	grep -q '"event":"security.refused"' "$T/audit/$n.jsonl" ||
	    fail "$n: refusal not audited"
	grep -qF "$why" "$T/audit/$n.jsonl" || fail "$n: reason not audited"
}

# landed NAME: the run completes and its objects are on the server.
landed() {
	sftp_plan "$1"
	expect_exit 0 "$MIGRATE" run --json "$T/$1.toml"
	[ "$(json "$T/out" 'd["outcome"]')" = complete ] || fail "$1 not complete"
	[ -n "$(find "$SSHD_ROOT/lake/raw/$1" -name '*.age' | head -n 1)" ] ||
	    fail "$1: nothing landed"
}

# A normal line still connects, and so does a wildcard one.
echo "$HP $KEY" > "$KH"
landed kh-plain
echo "* $KEY" > "$KH"
landed kh-wildcard
printf '# all but one other host\n*,!192.0.2.1 %s\n' "$KEY" > "$KH"
landed kh-negated-other

# "@revoked * KEY", the usual form, beats the line that vouches for it.
printf '%s %s\n@revoked * %s\n' "$HP" "$KEY" "$KEY" > "$KH"
refused kh-revoked "@revoked" "$KH:2" "$HP" "ED25519" "$FP"

# "*,!HOST": every host but this one.
echo "*,!$HP $KEY" > "$KH"
refused kh-negated-star "unknown host $HP" "$KH:1" "negated" "$FP" \
    "ssh-keyscan -p $SSHD_PORT 127.0.0.1"

# A negated match wins over a positive one on the same line.
echo "$HP,!$HP $KEY" > "$KH"
refused kh-negated-self "unknown host $HP" "$KH:1" "negated"

# A matching @cert-authority line: host certificates are not supported,
# so it is refused, not skipped, even beside a line with the key.
printf '%s %s\n@cert-authority *,!192.0.2.1 %s\n' "$HP" "$KEY" "$CA" > "$KH"
refused kh-cert-authority "$KH:2" "@cert-authority" \
    "host certificates are not supported" "$HP" "$FP"

# A bare "127.0.0.1 KEY" line is for port 22, not this server's port.
echo "127.0.0.1 $KEY" > "$KH"
refused kh-portless "unknown host $HP" "$KH:1" "without a port" \
    "ssh-keyscan -p $SSHD_PORT"

# Reading back goes through the same check: verify of a run that
# landed is refused once its key is revoked.
printf '@revoked * %s\n%s %s\n' "$KEY" "$HP" "$KEY" > "$KH"
expect_exit 1 "$MIGRATE" verify "$T/kh-plain.toml"
expect_err "@revoked"
echo ok
