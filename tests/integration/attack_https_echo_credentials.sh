#!/usr/bin/env bash
# Attack (issue 13, items 5.2 and 7.6): an HTTPS server that echoes the
# request's Authorization header in an error body (nginx
# `return 409 "$http_authorization"`, and the same with 500) put the bearer
# token, or base64(user:password), into the error on stderr and into the
# object.failed record of the signed, append-only audit log.  Now the
# transport scrubs server text of its credentials: "[redacted]".
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nginx.sh"
start_or_skip nginx nginx_start
nginx_start_single || fail "one-process nginx did not start"
setup_plans
mkdir -p "$T/src"
echo "a,b" >"$T/src/a.csv"
# The echo locations ask for no authentication: any credentials will do.
ECHO_TOKEN=tok-$(openssl rand -hex 16)
ECHO_PASSWORD=pw-$(openssl rand -hex 8)
export ECHO_TOKEN ECHO_PASSWORD
user=migrate
b64=$(printf '%s:%s' "$user" "$ECHO_PASSWORD" | openssl base64 -A)
# Every form of a secret that the server could send back.
secrets=("$ECHO_TOKEN" "$ECHO_PASSWORD" "$user:$ECHO_PASSWORD" "$b64"
    "${b64%%=*}")

# plan FILE NAME PATH AUTH...
plan() {
	local f=$1 n=$2 u=$3
	shift 3
	cat >"$f" <<PLAN
version = 1
name = "$n"
strategy = "rehost"
[source]
path = "$T/src"
[destination]
url = "https://127.0.0.1:$NGINX1_PORT$u"
ca_file = "$NGINX_CA"
$(printf '%s\n' "$@")
[encryption]
recipients_file = "$T/p/keys/demo.pub"
[audit]
log = "$T/audit/$n.jsonl"
PLAN
}

for loc in echo409 echo500; do
	for auth in bearer basic; do
		n=$loc-$auth
		if [ "$auth" = bearer ]; then
			plan "$T/$n.toml" "$n" "/$loc/lake" \
			    'token_env = "ECHO_TOKEN"'
			scheme="Bearer"
		else
			plan "$T/$n.toml" "$n" "/$loc/lake" "user = \"$user\"" \
			    'password_env = "ECHO_PASSWORD"'
			scheme="Basic"
		fi
		expect_exit 1 "$MIGRATE" run --no-progress --jobs 1 "$T/$n.toml"
		# The server's answer is shown, without the secret.
		expect_err "PUT: HTTP ${loc#echo} "
		expect_err "$scheme [redacted]"
		log=$T/audit/$n.jsonl
		grep '"event":"object.failed"' "$log" |
		    grep -qF "$scheme [redacted]" ||
		    fail "$n: object.failed does not hold the scrubbed answer"
		for s in "${secrets[@]}"; do
			grep -qF -- "$s" "$T/err" "$T/out" "$log" &&
			    fail "$n: a credential leaked: $s"
		done
		expect_exit 0 "$MIGRATE" audit verify "$log"
	done
done
echo ok
