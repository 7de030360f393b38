# Starts a real nginx with WebDAV on 127.0.0.1 for the HTTPS tests
# (sourced, not run).  Needs $T (a scratch directory, from lib.sh).
#
#   nginx_start      starts the main server; on return these are set:
#     NGINX_DIR        its directory (config, certificates, logs, temp)
#     NGINX_PID        the master's process id
#     NGINX_PORT       HTTPS, certificate for 127.0.0.1 and localhost,
#                      HTTP/2 as well when NGINX_H2 is 1 (nginx has it):
#                        /dav/     basic auth ($NGINX_USER, $NGINX_PASSWORD);
#                                  below it, a PUT to a path holding
#                                  /put403/ is refused (403), /put302/ is
#                                  redirected to /open/, /put500/ gets a
#                                  500 whose body is the request's
#                                  Authorization header, /put600/ a 600;
#                                  below /nodir/ a PUT makes no folder
#                                  (nginx answers 500 when one is missing)
#                        /bearer/  "Authorization: Bearer $NGINX_TOKEN"
#                        /open/    no authentication
#                        /busy/    always 503 with Retry-After: 0
#     NGINX_WRONG_PORT HTTPS, same CA, certificate only for "wrong.example"
#     NGINX_HTTP_PORT  plain HTTP, /open/ without authentication
#     NGINX_CA         the CA certificate (PEM) that signed both
#     NGINX_PIN        "sha256//..." of the server's public key
#     NGINX_WWW        the document root (/dav/ is $NGINX_WWW/dav)
#     $NGINX_DIR/conn.log  a line per request to the main server:
#                      CONNECTION PROTOCOL "REQUEST LINE" STATUS
#   nginx_start_single   a second server, one process (master_process off)
#                    so that one PID stops or freezes all of it; HTTP/1.1
#                    only:
#     NGINX1_PID, NGINX1_PORT (HTTPS, same CA), NGINX1_WWW, NGINX1_DIR
#                        /open/     no authentication
#                      hostile answers, no authentication asked:
#                        /moved/    every request: 301 to /open/
#                        /moveput/  WebDAV, but PUT: 302 to /open/
#                        /echo409/  WebDAV, but PUT: 409 whose body is the
#                                   request's Authorization header
#                        /echo500/  the same with 500
#     NGINX1_TLS11_PORT  HTTPS offering TLS 1.1 only, /open/; its handshakes
#                        are logged to $NGINX1_DIR/tls11.log (level info).
#                        Empty when this OpenSSL cannot speak TLS 1.1 (then
#                        NGINX1_TLS11_WHY says why)
#   nginx1_sync      returns once the one-process server answered a new
#                    request: every log line of earlier ones is written
#                    (one event loop handles them in turn)
#   nginx_stop       stops both by PID (also done by the EXIT trap)
#
# Returns 77 from nginx_start when nginx, its DAV modules or openssl are
# missing.

NGINX_BIN=/usr/sbin/nginx
NGINX_DAV_EXT=/usr/lib/nginx/modules/ngx_http_dav_ext_module.so
# " http2" on the main server's listen line when this nginx has it.
NGINX_H2=0
NGINX_H2_LISTEN=
if "$NGINX_BIN" -V 2>&1 | grep -q -- --with-http_v2_module; then
	NGINX_H2=1
	NGINX_H2_LISTEN=" http2"
fi

nginx_free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

nginx_stop() {
	local p
	for p in "${NGINX_PID:-}" "${NGINX1_PID:-}"; do
		[ -n "$p" ] || continue
		kill -CONT "$p" 2>/dev/null
		kill "$p" 2>/dev/null
		# Wait for a clean exit so the temp dir can go.
		for _ in $(seq 1 50); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.05
		done
		kill -9 "$p" 2>/dev/null
	done
	NGINX_PID=
	NGINX1_PID=
}

# nginx_wait_ports PID PORT...: true when every port accepts connections.
nginx_wait_ports() {
	python3 "$TESTS_DIR/tools/wait_ports.py" "$@"
}

# nginx_cert NAME SAN: key and certificate signed by the test CA.
nginx_cert() {
	local d=$NGINX_DIR name=$1 san=$2
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$d/$name.key" -out "$d/$name.csr" \
	    -subj "/CN=$name" 2>/dev/null || return 1
	cat >"$d/$name.ext" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = $san
EOF
	openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.crt" \
	    -CAkey "$d/ca.key" -CAcreateserial -days 2 \
	    -extfile "$d/$name.ext" -out "$d/$name.crt" 2>/dev/null
}

nginx_setup_pki() {
	local d=$NGINX_DIR
	[ -f "$d/ca.crt" ] && return 0
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$d/ca.key" -out "$d/ca.crt" -days 2 \
	    -subj "/CN=migrate test CA" \
	    -addext "basicConstraints = critical, CA:TRUE" \
	    -addext "keyUsage = critical, keyCertSign, cRLSign" \
	    2>/dev/null || return 1
	nginx_cert server "IP:127.0.0.1, DNS:localhost" || return 1
	nginx_cert wrong "DNS:wrong.example" || return 1
	NGINX_CA=$d/ca.crt
	NGINX_PIN="sha256//$(openssl x509 -in "$d/server.crt" -pubkey -noout |
	    openssl pkey -pubin -outform DER |
	    openssl dgst -sha256 -binary | openssl base64 -A)"
}

# Lines common to every server's http block.
nginx_http_common() {
	local d=$1
	cat <<EOF
	access_log $d/access.log;
	log_format conn '\$connection \$server_protocol "\$request" \$status';
	access_log $d/conn.log conn;
	client_body_temp_path $d/tmp/body;
	proxy_temp_path $d/tmp/proxy;
	fastcgi_temp_path $d/tmp/fastcgi;
	uwsgi_temp_path $d/tmp/uwsgi;
	scgi_temp_path $d/tmp/scgi;
	client_max_body_size 0;
	keepalive_requests 100000;
	keepalive_timeout 60s;
	ssl_protocols TLSv1.2 TLSv1.3;
	ssl_certificate $NGINX_DIR/server.crt;
	ssl_certificate_key $NGINX_DIR/server.key;
EOF
}

# Lines of a WebDAV location.
nginx_dav() {
	cat <<'EOF'
		dav_methods PUT DELETE MKCOL COPY MOVE;
		dav_ext_methods PROPFIND OPTIONS;
		create_full_put_path on;
		dav_access user:rw group:r all:r;
EOF
}

# Locations below /dav/ whose PUTs fail (see the header): for one
# object failing among good ones in flight.
nginx_dav_hostile() {
	cat <<EOF
		location ~ /put403/ {
			if (\$request_method = PUT) {
				return 403;
			}
		}
		location ~ /put302/ {
			if (\$request_method = PUT) {
				return 302 https://127.0.0.1:$NGINX_PORT/open/;
			}
		}
		location ~ /put500/ {
			if (\$request_method = PUT) {
				return 500 "\$http_authorization";
			}
		}
		location ~ /nodir/ {
			create_full_put_path off;
		}
		location ~ /put600/ {
			if (\$request_method = PUT) {
				return 600;
			}
		}
EOF
}

nginx_start() {
	local d i user_line=
	[ -x "$NGINX_BIN" ] || { echo "no $NGINX_BIN"; return 77; }
	[ -f "$NGINX_DAV_EXT" ] || { echo "no $NGINX_DAV_EXT"; return 77; }
	command -v openssl >/dev/null || { echo "no openssl"; return 77; }
	command -v python3 >/dev/null || { echo "no python3"; return 77; }
	NGINX_DIR=$T/nginx
	d=$NGINX_DIR
	mkdir -p "$d/tmp" "$d/www/dav" "$d/www/bearer" "$d/www/open" ||
	    return 1
	NGINX_WWW=$d/www
	nginx_setup_pki || { echo "openssl failed" >&2; return 1; }
	NGINX_USER=migrate
	NGINX_PASSWORD=pw-$(openssl rand -hex 8)
	NGINX_TOKEN=tok-$(openssl rand -hex 16)
	printf '%s:%s\n' "$NGINX_USER" \
	    "$(openssl passwd -apr1 "$NGINX_PASSWORD")" >"$d/htpasswd"
	# Workers must be able to write the scratch directory.
	[ "$(id -u)" -eq 0 ] && user_line="user root;"

	for i in 1 2 3 4 5; do
		NGINX_PORT=$(nginx_free_port) || return 1
		NGINX_WRONG_PORT=$(nginx_free_port) || return 1
		NGINX_HTTP_PORT=$(nginx_free_port) || return 1
		[ "$NGINX_PORT" != "$NGINX_WRONG_PORT" ] &&
		    [ "$NGINX_PORT" != "$NGINX_HTTP_PORT" ] &&
		    [ "$NGINX_WRONG_PORT" != "$NGINX_HTTP_PORT" ] || continue
		cat >"$d/nginx.conf" <<EOF
load_module $NGINX_DAV_EXT;
$user_line
daemon off;
worker_processes 2;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 256; }
http {
$(nginx_http_common "$d")
	server {
		listen 127.0.0.1:$NGINX_PORT ssl$NGINX_H2_LISTEN;
		server_name localhost;
		root $d/www;
		location /dav/ {
			auth_basic "migrate";
			auth_basic_user_file $d/htpasswd;
$(nginx_dav)
$(nginx_dav_hostile)
		}
		location /bearer/ {
			if (\$http_authorization != "Bearer $NGINX_TOKEN") {
				return 401;
			}
$(nginx_dav)
		}
		location /open/ {
$(nginx_dav)
		}
		location /busy/ {
			add_header Retry-After 0 always;
			return 503;
		}
	}
	server {
		listen 127.0.0.1:$NGINX_WRONG_PORT ssl;
		ssl_certificate $d/wrong.crt;
		ssl_certificate_key $d/wrong.key;
		root $d/www;
		location /open/ {
$(nginx_dav)
		}
	}
	server {
		listen 127.0.0.1:$NGINX_HTTP_PORT;
		root $d/www;
		location /open/ {
$(nginx_dav)
		}
	}
}
EOF
		"$NGINX_BIN" -p "$d" -e "$d/error.log" -c "$d/nginx.conf" \
		    2>>"$d/error.log" &
		NGINX_PID=$!
		at_exit nginx_stop
		if nginx_wait_ports "$NGINX_PID" "$NGINX_PORT" \
		    "$NGINX_WRONG_PORT" "$NGINX_HTTP_PORT"; then
			break
		fi
		kill "$NGINX_PID" 2>/dev/null
		NGINX_PID=
		echo "nginx did not start (try $i):" >&2
		tail -n 5 "$d/error.log" >&2
	done
	[ -n "$NGINX_PID" ] || return 1
	return 0
}

# nginx_restart: the main server again, after nginx_stop, on the same
# ports with the same certificates and credentials (a destination is the
# same only on the same URL).
nginx_restart() {
	local d=$NGINX_DIR
	"$NGINX_BIN" -p "$d" -e "$d/error.log" -c "$d/nginx.conf" \
	    2>>"$d/error.log" &
	NGINX_PID=$!
	nginx_wait_ports "$NGINX_PID" "$NGINX_PORT" "$NGINX_WRONG_PORT" \
	    "$NGINX_HTTP_PORT"
}

# Locations of the one-process server that answer as a hostile or
# misconfigured server would (see the header).
nginx_hostile() {
	cat <<EOF
		location /moved/ {
			return 301 https://127.0.0.1:$NGINX1_PORT/open/;
		}
		location /moveput/ {
			if (\$request_method = PUT) {
				return 302 https://127.0.0.1:$NGINX1_PORT/open/;
			}
$(nginx_dav)
		}
		location /echo409/ {
			if (\$request_method = PUT) {
				return 409 "\$http_authorization";
			}
$(nginx_dav)
		}
		location /echo500/ {
			if (\$request_method = PUT) {
				return 500 "\$http_authorization";
			}
$(nginx_dav)
		}
EOF
}

# Whether the server on port $1 completes a TLS 1.1 handshake.  OpenSSL 3
# allows TLS 1.1 only at security level 0, on both sides.
nginx_speaks_tls11() {
	openssl s_client -connect "127.0.0.1:$1" -tls1_1 \
	    -cipher 'DEFAULT:@SECLEVEL=0' </dev/null 2>/dev/null |
	    grep -q 'Protocol *: TLSv1.1$'
}

nginx1_sync() {
	python3 - "$NGINX1_PORT" "$NGINX_CA" <<'EOF'
import http.client, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
c = http.client.HTTPSConnection("127.0.0.1", int(sys.argv[1]), context=ctx,
    timeout=30)
c.request("GET", "/open/")
c.getresponse().read()
c.close()
EOF
}

nginx_start_single() {
	local d=$T/nginx1 i
	[ -n "${NGINX_DIR:-}" ] || { echo "nginx_start first" >&2; return 1; }
	mkdir -p "$d/tmp" "$d/www/open" "$d/www/moveput" "$d/www/echo409" \
	    "$d/www/echo500" || return 1
	NGINX1_WWW=$d/www
	NGINX1_DIR=$d
	for i in 1 2 3 4 5; do
		NGINX1_PORT=$(nginx_free_port) || return 1
		NGINX1_TLS11_PORT=$(nginx_free_port) || return 1
		[ "$NGINX1_PORT" != "$NGINX1_TLS11_PORT" ] || continue
		cat >"$d/nginx.conf" <<EOF
load_module $NGINX_DAV_EXT;
daemon off;
master_process off;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 64; }
http {
$(nginx_http_common "$d")
	server {
		listen 127.0.0.1:$NGINX1_PORT ssl;
		root $d/www;
		location /open/ {
$(nginx_dav)
		}
$(nginx_hostile)
	}
	server {
		listen 127.0.0.1:$NGINX1_TLS11_PORT ssl;
		ssl_protocols TLSv1.1;
		ssl_ciphers DEFAULT:@SECLEVEL=0;
		error_log $d/tls11.log info;
		root $d/www;
		location /open/ {
$(nginx_dav)
		}
	}
}
EOF
		"$NGINX_BIN" -p "$d" -e "$d/error.log" -c "$d/nginx.conf" \
		    2>>"$d/error.log" &
		NGINX1_PID=$!
		# Tests kill it on purpose: no "Killed" notice from bash.
		disown "$NGINX1_PID" 2>/dev/null
		if nginx_wait_ports "$NGINX1_PID" "$NGINX1_PORT" \
		    "$NGINX1_TLS11_PORT"; then
			break
		fi
		kill "$NGINX1_PID" 2>/dev/null
		NGINX1_PID=
		echo "nginx (single) did not start (try $i):" >&2
		tail -n 5 "$d/error.log" >&2
	done
	[ -n "$NGINX1_PID" ] || return 1
	NGINX1_TLS11_WHY=
	if ! nginx_speaks_tls11 "$NGINX1_TLS11_PORT"; then
		NGINX1_TLS11_WHY="openssl s_client -tls1_1 gets no TLS 1.1 from nginx here (OpenSSL $(openssl version | cut -d' ' -f2))"
		NGINX1_TLS11_PORT=
	fi
	return 0
}
