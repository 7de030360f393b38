#!/usr/bin/env bash
# A lake writer plants symbolic links in an SFTP lake (issue 13): SFTP has
# no O_NOFOLLOW, so migrate lstat's every component it creates or opens
# and refuses links, as file:// does.
#   link on the write path   a lake directory that is a link to elsewhere
#                            on the server: refused, exit 1, on record,
#                            nothing written there
#   link on the read path    an object replaced by a link to another file:
#                            verify --deep and restore refuse it
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sshd.sh"
start_or_skip sshd sshd_start
setup_plans
unset SSH_AUTH_SOCK
src=$T/src
mkdir -p "$src"
for i in 1 2 3; do echo "row $i" >"$src/f$i.csv"; done

sftp_plan() {	# sftp_plan FILE NAME LAKEDIR
	cat >"$1" <<PLAN
version = 1
name = "$2"
strategy = "rehost"
[source]
path = "$src"
[destination]
url = "sftp://$SSHD_USER@127.0.0.1:$SSHD_PORT$3"
known_hosts = "$SSHD_KNOWN_HOSTS"
identity = "$SSHD_KEY_ED25519"
[encryption]
recipients_file = "$T/p/keys/demo.pub"
[audit]
log = "$T/audit/$2.jsonl"
PLAN
}

echo "a link on the write path"
mkdir -p "$SSHD_ROOT/w" "$T/elsewhere"
ln -s "$T/elsewhere" "$SSHD_ROOT/w/raw"
sftp_plan "$T/w.toml" lw "$SSHD_ROOT/w"
expect_exit 1 "$MIGRATE" run --no-progress "$T/w.toml"
expect_err "raw: a symbolic link in the lake; refusing to follow it"
[ -z "$(find "$T/elsewhere" -mindepth 1 | head -n 1)" ] || fail "something was written through the link"
grep -q '"event":"security.refused"' "$T/audit/lw.jsonl" || fail "the refusal is not on record"
echo "  ok: $(head -n 1 "$T/err" | cut -c1-110)"

echo "a link on the read path"
sftp_plan "$T/r.toml" lr "$SSHD_ROOT/r"
expect_exit 0 "$MIGRATE" run --no-progress --json "$T/r.toml"
run=$(json "$T/out" 'd["run"]')
obj=$SSHD_ROOT/r/$(json "$T/out" 'd["run_dir"]')/data/f2.csv.age
cp "$obj" "$T/f2.age.copy"
rm "$obj"
ln -s "$T/f2.age.copy" "$obj"
expect_exit 3 "$MIGRATE" verify --deep -i "$KEY" "$T/r.toml"
grep -q 'f2.csv.age.*symbolic link' "$T/out" || { cat "$T/out"; fail "verify does not name the link"; }
# A refusal, like a refused host key: exit 1.
expect_exit 1 "$MIGRATE" restore "$T/r.toml" --run "$run" -i "$KEY" --to "$T/back"
expect_err "f2.csv.age: a symbolic link in the lake; refusing to follow it"
[ ! -e "$T/back/f2.csv" ] || fail "restore read through the link"
echo "  ok: verify and restore refuse the planted link"
echo ok
