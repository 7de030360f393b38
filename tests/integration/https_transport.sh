#!/usr/bin/env bash
# HTTPS (WebDAV) transport against a real nginx on 127.0.0.1: runs the
# cmocka binary build/tests/test_transport_https with the servers of
# nginx.sh (round trips up to 100 MiB, listing, temporaries, certificate,
# pin and credential refusals, plain http policy, retries of a busy server,
# a server frozen and then killed mid-upload, whole objects in flight over
# HTTP/2 and HTTP/1.1, a connection reset under them, a server gone).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nginx.sh"

BIN=$(dirname "$MIGRATE")/tests/test_transport_https
[ -x "$BIN" ] || { echo "no $BIN (make $BIN)"; exit 77; }

start_or_skip nginx nginx_start
nginx_start_single || fail "second nginx did not start"

run=$(date +%s)-$$
export MIG_TEST_HTTPS_URL="https://127.0.0.1:$NGINX_PORT/dav/t-$run"
export MIG_TEST_HTTPS_CA=$NGINX_CA
export MIG_TEST_HTTPS_USER=$NGINX_USER
export MIG_TEST_HTTPS_PASSWORD=$NGINX_PASSWORD
export MIG_TEST_HTTPS_BEARER_URL="https://127.0.0.1:$NGINX_PORT/bearer/t-$run"
export MIG_TEST_HTTPS_TOKEN=$NGINX_TOKEN
export MIG_TEST_HTTPS_PIN=$NGINX_PIN
export MIG_TEST_HTTPS_WRONG_URL="https://127.0.0.1:$NGINX_WRONG_PORT/open/t-$run"
export MIG_TEST_HTTP_URL="http://127.0.0.1:$NGINX_HTTP_PORT/open/t-$run"
export MIG_TEST_HTTPS_BUSY_URL="https://127.0.0.1:$NGINX_PORT/busy/t-$run"
export MIG_TEST_HTTPS_KILL_URL="https://127.0.0.1:$NGINX1_PORT/open/t-$run"
export MIG_TEST_HTTPS_KILL_PID=$NGINX1_PID
# Proxies in front of the main server for the puts in flight: one resets
# every connection once, after 200000 bytes from the client (the cut
# test sends 640 KiB); the test kills the other.
proxy_start "$NGINX_PORT" --cut-after 200000
export MIG_TEST_HTTPS_CUT_URL="https://127.0.0.1:$PROXY_PORT/dav/t-$run"
proxy_start "$NGINX_PORT"
export MIG_TEST_HTTPS_GONE_URL="https://127.0.0.1:$PROXY_PORT/dav/t-$run"
export MIG_TEST_HTTPS_GONE_PID=$PROXY_PID

# A hang is a failure too: the binary gets a generous bound.
timeout 900 "$BIN" || fail "test_transport_https failed (exit $?)"

# The transport contract, the same suite every backend passes.
MIG_TEST_CONF_URL="https://127.0.0.1:$NGINX_PORT/dav/conform-$run" \
MIG_TEST_CONF_OPTS="ca_file=$NGINX_CA
user=$NGINX_USER
password_env=$NGINX_PASSWORD" timeout 600 \
    "$(dirname "$MIGRATE")/tests/test_transport_conformance" ||
    fail "transport conformance (https)"

# The busy server was asked three times (retries = 2) before giving up,
# and so was the PUT answered 500; the other failing PUTs once.
n=$(grep -c '"OPTIONS /busy/' "$NGINX_DIR/access.log")
[ "$n" -eq 3 ] || fail "busy server asked $n times, want 3"
for s in put500:3 nodir:3 put403:1 put302:1 put600:1; do
	n=$(grep -c "\"PUT /dav/t-$run/pf/${s%:*}/" "$NGINX_DIR/access.log")
	[ "$n" -eq "${s#*:}" ] || fail "PUT to ${s%:*} asked $n times, want ${s#*:}"
done

# The transport speaks HTTP/2 to a server that does (ALPN).
if [ "$NGINX_H2" = 1 ]; then
	rt=$(grep " \"[A-Z]* /dav/t-$run/rt/" "$NGINX_DIR/conn.log")
	[ -n "$rt" ] || fail "no request of the round trips in the log"
	echo "$rt" | grep -qv ' HTTP/2.0 ' && fail "a request not over HTTP/2"
fi

# The 40 puts in flight each went once, all over one connection, the
# transport's (HTTP/2: streams of it) when the server speaks HTTP/2.
puts=$(grep " \"PUT /dav/t-$run/pp/" "$NGINX_DIR/conn.log")
[ "$(echo "$puts" | wc -l)" -eq 40 ] || fail "not 40 PUTs in flight: $puts"
conns=$(echo "$puts" | cut -d' ' -f1 | sort -u | wc -l)
if [ "$NGINX_H2" = 1 ]; then
	[ "$conns" -eq 1 ] || fail "puts over HTTP/2 used $conns connections, want 1"
	echo "$puts" | grep -qv ' HTTP/2.0 ' && fail "a put in flight not over HTTP/2"
	echo "puts in flight: 40 over 1 HTTP/2 connection"
fi
# Without HTTP/2 (plain http; the one-process server's TLS), a connection
# per put in flight (8), the one-shot requests' and a few more at most.
for log in "$NGINX_DIR/conn.log" "$NGINX1_DIR/conn.log"; do
	puts=$(grep " \"PUT /open/t-$run/ph/" "$log")
	[ "$(echo "$puts" | wc -l)" -eq 24 ] || fail "not 24 PUTs over HTTP/1.1 in $log"
	echo "$puts" | grep -qv ' HTTP/1.1 ' && fail "a put without HTTP/2 not HTTP/1.1"
	conns=$(echo "$puts" | cut -d' ' -f1 | sort -u | wc -l)
	[ "$conns" -le 12 ] || fail "puts over HTTP/1.1 used $conns connections, want 12 at most"
	echo "puts in flight: 24 over $conns HTTP/1.1 connections"
done
# The reset connection: the puts went on over another.
conns=$(grep " \"PUT /dav/t-$run/cut/" "$NGINX_DIR/conn.log" | cut -d' ' -f1 | sort -u | wc -l)
[ "$conns" -ge 2 ] || fail "puts under a reset used $conns connections, want 2 or more"

# Nothing half-written anywhere on the server's disk: no temporary left
# behind, and every object that landed is complete (sizes checked above).
left=$(find "$NGINX_WWW" -name "*.migrate-tmp-*" | head -n 5)
[ -z "$left" ] || fail "temporaries left on the server: $left"
[ -f "$NGINX_WWW/dav/t-$run/rt/hundred" ] || fail "100 MiB object missing"
[ "$(stat -c %s "$NGINX_WWW/dav/t-$run/rt/hundred")" -eq $((100 << 20)) ] ||
    fail "100 MiB object has the wrong size"
# The killed server never published the interrupted object.
[ ! -e "$NGINX1_WWW/open/t-$run/kill/big" ] || fail "partial object published"
echo "https transport: ok"
exit 0
