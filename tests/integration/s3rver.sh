# Sourced by tests that need an S3-compatible server on 127.0.0.1 (after
# lib.sh and nginx.sh): s3rver from npm, installed once into a git-ignored
# cache beside the tests, and nginx in front of it for TLS.  s3_start
# (S3_PORT, data under $T/s3data, bucket "lake") and s3_nginx_start are
# stopped by PID at exit.
command -v node >/dev/null && command -v npm >/dev/null ||
    fail "node and npm are needed (make deps installs them)"
[ -x "$NGINX_BIN" ] || fail "no $NGINX_BIN (make deps installs it)"

# s3rver, installed once into a cache beside the tests (git-ignored).
S3_CACHE=${S3_CACHE:-$TESTS_DIR/.cache/s3rver}
S3RVER=$S3_CACHE/node_modules/.bin/s3rver
if [ ! -x "$S3RVER" ]; then
	mkdir -p "$S3_CACHE"
	npm install --prefix "$S3_CACHE" --no-audit --no-fund --silent \
	    s3rver@3.7.1 >"$T/npm.log" 2>&1 || { cat "$T/npm.log" >&2;
	    fail "npm install s3rver failed"; }
fi

S3_PID=
s3_stop() {
	[ -n "$S3_PID" ] || return 0
	kill "$S3_PID" 2>/dev/null
	for _ in $(seq 1 50); do
		kill -0 "$S3_PID" 2>/dev/null || break
		sleep 0.05
	done
	kill -9 "$S3_PID" 2>/dev/null
	S3_PID=
}

# s3_start: s3rver on S3_PORT (plain HTTP, loopback only), bucket "lake".
s3_start() {
	# Its continuation tokens use a cipher OpenSSL 3 keeps in "legacy".
	NODE_OPTIONS=--openssl-legacy-provider "$S3RVER" -d "$T/s3data" -a 127.0.0.1 -p "$S3_PORT" --silent \
	    --no-vhost-buckets --configure-bucket lake \
	    >>"$T/s3rver.log" 2>&1 &
	S3_PID=$!
	at_exit s3_stop
	nginx_wait_ports "$S3_PID" "$S3_PORT"
}

# s3_nginx_start UPSTREAM_PORT: nginx on NGINX_PORT terminates TLS and
# passes every request through unchanged (the Host header too: it is
# signed) to UPSTREAM_PORT on 127.0.0.1.
s3_nginx_start() {
	local d=$NGINX_DIR user_line= up=$1
	[ "$(id -u)" -eq 0 ] && user_line="user root;"
	cat >"$d/nginx.conf" <<EOF
$user_line
daemon off;
worker_processes 2;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 256; }
http {
$(nginx_http_common "$d")
	server {
		listen 127.0.0.1:$NGINX_PORT ssl;
		location / {
			proxy_pass http://127.0.0.1:$up;
			proxy_set_header Host \$http_host;
			proxy_http_version 1.1;
			proxy_request_buffering off;
			proxy_buffering off;
		}
	}
}
EOF
	"$NGINX_BIN" -p "$d" -e "$d/error.log" -c "$d/nginx.conf" \
	    2>>"$d/error.log" &
	NGINX_PID=$!
	at_exit nginx_stop
	nginx_wait_ports "$NGINX_PID" "$NGINX_PORT"
}

