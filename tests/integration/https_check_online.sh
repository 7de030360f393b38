#!/usr/bin/env bash
# migrate plan check --online against a real nginx (WebDAV over TLS) on
# 127.0.0.1: ok with the right CA and password; exit 1 naming the
# problem with the system CAs only, with a certificate for another name,
# and with a wrong password; never writing on the server or beside the
# plan.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nginx.sh"
start_or_skip nginx nginx_start
setup_plans

plan() {	# plan NAME PORT [EXTRA...]
	local n=$1 port=$2; shift 2
	cat > "$T/$n.toml" <<PLAN
version = 1
name = "$n"
strategy = "rehost"
[source]
path = "$T/p/data/warehouse"
[destination]
url = "https://127.0.0.1:$port/dav/lake"
user = "$NGINX_USER"
password_env = "LAKE_PASSWORD"
$(printf '%s\n' "$@")
[encryption]
recipients_file = "$T/p/keys/demo.pub"
[audit]
log = "$T/audit/$n.jsonl"
PLAN
}

tree_of() { (cd "$1" && find . -printf '%y %m %s %P\n' | LC_ALL=C sort); }
tree_of "$NGINX_WWW" > "$T/before"

export LAKE_PASSWORD=$NGINX_PASSWORD
plan good "$NGINX_PORT" "ca_file = \"$NGINX_CA\""
expect_exit 0 "$MIGRATE" plan check --online "$T/good.toml"
expect_out "online:      ok"

plan untrusted "$NGINX_PORT"
expect_exit 0 "$MIGRATE" plan check "$T/untrusted.toml"
expect_exit 1 "$MIGRATE" plan check --online "$T/untrusted.toml"
expect_err "certificate"

plan wrongname "$NGINX_WRONG_PORT" "ca_file = \"$NGINX_CA\""
expect_exit 1 "$MIGRATE" plan check --online "$T/wrongname.toml"
expect_err "certificate"

export LAKE_PASSWORD="not-$NGINX_PASSWORD"
expect_exit 1 "$MIGRATE" plan check --online "$T/good.toml"
expect_err "401"
expect_exit 1 "$MIGRATE" plan check --online --json "$T/good.toml"
[ "$(json "$T/out" 'd["ok"] is False and "401" in d["findings"][0]["message"]')" = True ] ||
    fail "--online --json: no finding"

tree_of "$NGINX_WWW" > "$T/after"
diff "$T/before" "$T/after" >&2 || fail "plan check --online changed the server"
[ ! -e "$T/audit" ] || fail "plan check --online wrote beside the plan"
echo ok
