#!/usr/bin/env bash
# OpenSSH habits of sftp:// destinations against a real sshd on 127.0.0.1,
# each case with a scratch HOME (never the real one):
#  - a URL naming only a Host alias lands through ~/.ssh/config (HostName,
#    Port, User, IdentityFile, UserKnownHostsFile; a later "Host *" block
#    loses, ssh_config beats the default ~/.ssh/known_hosts);
#  - the URL and the plan beat ~/.ssh/config (user, known_hosts);
#  - with no identity anywhere, ~/.ssh/id_ed25519 is tried after the
#    agent, and refused (run and plan check) when its mode is 0644;
#  - a missing known_hosts file gets the exact ssh-keyscan line;
#  - plan check --online says ok against the good server, and exits 1
#    naming the host key problem against a wrong known_hosts (and the
#    login problem for a wrong user), writing nothing on the server or
#    beside the plan.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sshd.sh"
start_or_skip sshd sshd_start
setup_plans
unset SSH_AUTH_SOCK

# A known_hosts file whose key for this server is another one.
ssh-keygen -q -t ed25519 -N '' -C wrong -f "$T/wrong_host" || fail "ssh-keygen"
printf '[127.0.0.1]:%s %s\n' "$SSHD_PORT" \
    "$(cut -d' ' -f1,2 "$T/wrong_host.pub")" > "$T/kh_wrong"

# new_home DIR: an empty HOME with .ssh (0700), exported.
new_home() {
	export HOME=$1
	mkdir -p "$HOME/.ssh" "$HOME/keys"
	chmod 700 "$HOME" "$HOME/.ssh"
}

# plan NAME URL [EXTRA]: a rehost plan of the warehouse data to URL.
plan() {
	cat > "$T/$1.toml" <<PLAN
version = 1
name = "$1"
strategy = "rehost"
[source]
path = "$T/p/data/warehouse"
[destination]
url = "$2"
${3:-}
[encryption]
recipients_file = "$T/p/keys/demo.pub"
[audit]
log = "$T/audit/$1.jsonl"
PLAN
}

landed() {	# landed NAME: objects of the run are on the server
	[ -n "$(find "$SSHD_ROOT/lake/raw/$1" -name '*.age' 2>/dev/null |
	    head -n 1)" ] || fail "$1: nothing landed"
}

not_landed() {
	[ ! -e "$SSHD_ROOT/lake/raw/$1" ] || fail "$1: data landed"
}

# --- A Host alias resolved through ~/.ssh/config ---------------------------
new_home "$T/home1"
cp "$SSHD_KEY_ED25519" "$HOME/keys/lake" && chmod 600 "$HOME/keys/lake"
cp "$SSHD_KNOWN_HOSTS" "$HOME/kh_lake"
# The default known_hosts holds a wrong key: ssh_config's file must win.
cp "$T/kh_wrong" "$HOME/.ssh/known_hosts"
cat > "$HOME/.ssh/config" <<CFG
# The lake, by alias.
Host other-host
    Port 1
Host lakehost
    HostName 127.0.0.1
    Port $SSHD_PORT
    User $SSHD_USER
    IdentityFile ~/keys/lake
    UserKnownHostsFile ~/kh_lake
Host *
    Port 1
    User nobody-at-all
    IdentityFile ~/keys/nothing-here
CFG
plan alias "sftp://lakehost$SSHD_ROOT/lake"
expect_exit 0 "$MIGRATE" run "$T/alias.toml"
landed alias

# plan check --online against the good server: ok, nothing new on it.
tree_of() { (cd "$1" && find . -printf '%y %m %s %P\n' | LC_ALL=C sort); }
tree_of "$SSHD_ROOT" > "$T/before"
plan online-ok "sftp://lakehost$SSHD_ROOT/lake"
expect_exit 0 "$MIGRATE" plan check --online "$T/online-ok.toml"
expect_out "online:      ok"
[ ! -e "$T/audit/online-ok.jsonl" ] || fail "online check wrote an audit log"

# The plan's known_hosts beats ssh_config's: a wrong key is refused, by
# run and by plan check --online, which exits 1 and writes nothing.
plan plan-kh "sftp://lakehost$SSHD_ROOT/lake" "known_hosts = \"$T/kh_wrong\""
expect_exit 0 "$MIGRATE" plan check "$T/plan-kh.toml"
expect_exit 1 "$MIGRATE" plan check --online "$T/plan-kh.toml"
expect_err "REMOTE HOST KEY CHANGED"
expect_err "$T/kh_wrong:1"
[ ! -e "$T/audit/plan-kh.jsonl" ] || fail "online check wrote an audit log"
expect_exit 1 "$MIGRATE" plan check --online --json "$T/plan-kh.toml"
[ "$(json "$T/out" 'd["ok"] is False and "REMOTE HOST KEY CHANGED" in d["findings"][0]["message"]')" = True ] ||
    fail "--online --json: no finding"
tree_of "$SSHD_ROOT" > "$T/after"
diff "$T/before" "$T/after" >&2 || fail "plan check --online changed the server"
expect_exit 1 "$MIGRATE" run "$T/plan-kh.toml"
expect_err "REMOTE HOST KEY CHANGED"
not_landed plan-kh

# The URL's user beats ssh_config's User.
plan url-user "sftp://nosuch-user@lakehost$SSHD_ROOT/lake"
expect_exit 1 "$MIGRATE" plan check --online "$T/url-user.toml"
expect_err "authentication failed for nosuch-user@127.0.0.1"
expect_exit 1 "$MIGRATE" run "$T/url-user.toml"
expect_err "authentication failed for nosuch-user@127.0.0.1"
not_landed url-user

# ssh_config = "none": the alias is not resolved (the default known_hosts
# then has no key for it, whatever name it resolves to).
plan no-cfg "sftp://$SSHD_USER@127.0.0.1:$SSHD_PORT$SSHD_ROOT/lake" \
    'ssh_config = "none"'
expect_exit 1 "$MIGRATE" run "$T/no-cfg.toml"
expect_err "$HOME/.ssh/known_hosts"
not_landed no-cfg

# A missing UserKnownHostsFile: plan check and run give the exact line.
sed -i 's|UserKnownHostsFile ~/kh_lake|UserKnownHostsFile ~/kh_missing|' \
    "$HOME/.ssh/config"
plan kh-missing "sftp://lakehost$SSHD_ROOT/lake"
expect_exit 2 "$MIGRATE" plan check "$T/kh-missing.toml"
expect_err "ssh-keyscan -p $SSHD_PORT 127.0.0.1 >> $HOME/kh_missing"
expect_exit 1 "$MIGRATE" run "$T/kh-missing.toml"
expect_err "ssh-keyscan -p $SSHD_PORT 127.0.0.1 >> $HOME/kh_missing"
not_landed kh-missing
# The same without ssh_config: the message of the connection itself.
plan kh-nofile "sftp://$SSHD_USER@127.0.0.1:$SSHD_PORT$SSHD_ROOT/lake" \
    "known_hosts = \"$T/kh_nofile\"
ssh_config = \"none\""
expect_exit 1 "$MIGRATE" run "$T/kh-nofile.toml"
expect_err "ssh-keyscan -p $SSHD_PORT 127.0.0.1 >> $T/kh_nofile"
sed -i '/^ssh_config = /d' "$T/kh-nofile.toml"
expect_exit 1 "$MIGRATE" run "$T/kh-nofile.toml"
expect_err "ssh-keyscan -p $SSHD_PORT 127.0.0.1 >> $T/kh_nofile"
not_landed kh-nofile

# --- Default identities ----------------------------------------------------
new_home "$T/home2"
cp "$SSHD_KEY_ED25519" "$HOME/.ssh/id_ed25519"
chmod 600 "$HOME/.ssh/id_ed25519"
plan dflt-id "sftp://$SSHD_USER@127.0.0.1:$SSHD_PORT$SSHD_ROOT/lake" \
    "known_hosts = \"$SSHD_KNOWN_HOSTS\""
expect_exit 0 "$MIGRATE" run "$T/dflt-id.toml"
landed dflt-id

# Readable by others: refused before any connection, by run and by
# plan check.
chmod 644 "$HOME/.ssh/id_ed25519"
plan dflt-open "sftp://$SSHD_USER@127.0.0.1:$SSHD_PORT$SSHD_ROOT/lake" \
    "known_hosts = \"$SSHD_KNOWN_HOSTS\""
expect_exit 1 "$MIGRATE" run "$T/dflt-open.toml"
expect_err "$HOME/.ssh/id_ed25519"
expect_err "too open (group or others may access it)"
not_landed dflt-open
expect_exit 2 "$MIGRATE" plan check "$T/dflt-open.toml"
expect_err "$HOME/.ssh/id_ed25519"
expect_err "too open"
echo ok
