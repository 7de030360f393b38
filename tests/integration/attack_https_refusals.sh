#!/usr/bin/env bash
# Attack (issue 13, item 7.5): an HTTPS destination that offers only
# TLS 1.1, or that answers with a redirect.  The old binary retried the
# TLS handshake five times and audited neither: each was a network error.
# Now both are refusals (exit 1, MIG_ERR_SECURITY): one attempt, never
# followed, and on record as security.refused in the audit log.
#
# Requests and handshakes are counted in the logs of the one-process
# nginx; nginx1_sync makes sure every earlier line is written first.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nginx.sh"
start_or_skip nginx nginx_start
nginx_start_single || fail "one-process nginx did not start"
setup_plans
mkdir -p "$T/src"
echo "a,b" >"$T/src/a.csv"

# plan FILE NAME PORT PATH
plan() {
	cat >"$1" <<PLAN
version = 1
name = "$2"
strategy = "rehost"
[source]
path = "$T/src"
[destination]
url = "https://127.0.0.1:$3$4"
ca_file = "$NGINX_CA"
[encryption]
recipients_file = "$T/p/keys/demo.pub"
[audit]
log = "$T/audit/$2.jsonl"
PLAN
}

# refused LOG SUBSTRING: the log holds exactly one security.refused
# record, and its reason holds SUBSTRING.
refused() {
	local n
	n=$(grep -c '"event":"security.refused"' "$1")
	[ "$n" = 1 ] || fail "$1: $n security.refused records, want 1"
	grep '"event":"security.refused"' "$1" | grep -qF -- "$2" ||
	    fail "$1: security.refused does not say: $2"
	expect_exit 0 "$MIGRATE" audit verify "$1"
}

# 1. Redirect at the first request (OPTIONS): refused, not followed.
plan "$T/moved.toml" moved "$NGINX1_PORT" /moved/lake
expect_exit 1 "$MIGRATE" run --no-progress "$T/moved.toml"
expect_err "OPTIONS: redirect refused (HTTP 301"
expect_err "to https://127.0.0.1:$NGINX1_PORT/open/"
nginx1_sync || fail "nginx1 did not answer"
n=$(grep -c '"[A-Z]* /moved/' "$NGINX1_DIR/access.log")
[ "$n" = 1 ] || fail "redirecting server asked $n times, want 1"
# Only nginx1_sync's GETs went to /open/.
grep -v '"GET /open/ ' "$NGINX1_DIR/access.log" | grep -q ' /open/' &&
    fail "the redirect was followed"
refused "$T/audit/moved.jsonl" "redirect refused (HTTP 301"

# 2. Redirect of the upload, mid-run: the same, from a worker.
plan "$T/moveput.toml" moveput "$NGINX1_PORT" /moveput/lake
expect_exit 1 "$MIGRATE" run --no-progress --jobs 1 "$T/moveput.toml"
expect_err "PUT: redirect refused (HTTP 302"
nginx1_sync || fail "nginx1 did not answer"
n=$(grep -c '"PUT /moveput/' "$NGINX1_DIR/access.log")
[ "$n" = 1 ] || fail "redirected upload sent $n times, want 1"
refused "$T/audit/moveput.jsonl" "redirect refused (HTTP 302"

# 3. A server that offers TLS 1.1 only: one handshake, refused.
if [ -z "$NGINX1_TLS11_PORT" ]; then
	echo "note: TLS 1.1 case not run: $NGINX1_TLS11_WHY"
else
	hs() { grep -c 'SSL_do_handshake() failed' "$NGINX1_DIR/tls11.log"; }
	before=$(hs)
	plan "$T/tls11.toml" tls11 "$NGINX1_TLS11_PORT" /open/lake
	expect_exit 1 "$MIGRATE" run --no-progress "$T/tls11.toml"
	expect_err "TLS version refused: the server offers no TLS 1.2 or later"
	nginx1_sync || fail "nginx1 did not answer"
	n=$(( $(hs) - before ))
	[ "$n" = 1 ] || fail "TLS 1.1 server saw $n handshakes, want 1"
	refused "$T/audit/tls11.jsonl" "TLS version refused"
	# verify refuses it the same way.
	expect_exit 1 "$MIGRATE" verify "$T/tls11.toml"
	expect_err "TLS version refused"
fi
echo ok
