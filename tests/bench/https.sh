#!/usr/bin/env bash
# HTTPS (WebDAV) upload throughput: migrate's transport vs curl, both to
# the same nginx on 127.0.0.1 with TLS and basic auth.
#
#   MIGRATE=build/migrate bash tests/bench/https.sh
#
# Environment:
#   BENCH_SIZE_MB    size of the one big object (default 1024)
#   BENCH_FILES      number of small objects (default 10000; 0 skips)
#   BENCH_FILE_KIB   size of each small object (default 4)
#   LIBMIGRATE       the library to link (default: beside $MIGRATE)
#
# The transport lands each object as PUT to a temporary name + MOVE, so
# it makes two requests per object where "curl -T" makes one.
set -u
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/../integration/nginx.sh"

SIZE_MB=${BENCH_SIZE_MB:-1024}
FILES=${BENCH_FILES:-10000}
FILE_KIB=${BENCH_FILE_KIB:-4}
LIBMIGRATE=${LIBMIGRATE:-$(dirname "$MIGRATE")/libmigrate.a}
CC=${CC:-cc}
[ -f "$LIBMIGRATE" ] || { echo "no $LIBMIGRATE"; exit 77; }
command -v curl >/dev/null || { echo "no curl"; exit 77; }

nginx_start
rc=$?
[ $rc -eq 77 ] && exit 77
[ $rc -eq 0 ] || fail "nginx did not start"
# The bench measures transfers, not logging.
sed -i "s|access_log $NGINX_DIR/access.log;|access_log off;|" \
    "$NGINX_DIR/nginx.conf"
kill -HUP "$NGINX_PID"
sleep 0.5

libs=$(pkg-config --libs openssl libssh2 libcurl libarchive libzstd jansson \
    2>/dev/null || echo -lssl -lcrypto -lssh2 -lcurl -larchive -lzstd -ljansson)
cflags="-std=c11 -O2 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
    -I$REPO_DIR/include -I$REPO_DIR/lib"
$CC $cflags -o "$T/bench" "$REPO_DIR/tests/bench/https_bench.c" \
    "$LIBMIGRATE" $libs -lpthread -lm || fail "cannot build the bench program"

base="https://127.0.0.1:$NGINX_PORT/dav"
export BENCH_PASSWORD=$NGINX_PASSWORD
printf 'user = "%s:%s"\n' "$NGINX_USER" "$NGINX_PASSWORD" >"$T/curl-auth"
chmod 600 "$T/curl-auth"
curl_c=(curl -sS --cacert "$NGINX_CA" -K "$T/curl-auth" -o /dev/null)
mbps() {	# BYTES SECONDS
	awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f", b / 1e6 / s }'
}
timed() {	# CMD...: prints seconds
	local t0 t1
	t0=$(date +%s.%N)
	"$@" >/dev/null 2>"$T/timed.err" || { cat "$T/timed.err" >&2; return 1; }
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}

bytes=$((SIZE_MB * 1024 * 1024))
src=$T/big.bin
head -c "$bytes" /dev/urandom >"$src"
echo "== one ${SIZE_MB} MiB object to 127.0.0.1 (client and nginx share $(nproc) cores)"
# Alternate the two, twice, and keep each one's best run.
best_ours=0 best_curl=0
for round in 1 2; do
	line=$("$T/bench" put "$base" "$NGINX_CA" "$NGINX_USER" "$src") ||
	    fail "bench put"
	v=$(echo "$line" | awk '{print $4}')
	best_ours=$(awk -v a="$best_ours" -v b="$v" 'BEGIN { print (b > a) ? b : a }')
	printf '%-44s %8s MB/s\n' "migrate https transport (put, run $round)" "$v"
	s=$(timed "${curl_c[@]}" -T "$src" "$base/bench/curl.bin") ||
	    fail "curl -T"
	v=$(mbps "$bytes" "$s")
	best_curl=$(awk -v a="$best_curl" -v b="$v" 'BEGIN { print (b > a) ? b : a }')
	printf '%-44s %8s MB/s\n' "curl -T (run $round)" "$v"
	rm -f "$NGINX_WWW/dav/bench/curl.bin"
done
line=$("$T/bench" get "$base" "$NGINX_CA" "$NGINX_USER") || fail "bench get"
printf '%-44s %8s MB/s\n' "migrate https transport (get)" \
    "$(echo "$line" | awk '{print $4}')"
s=$(timed "${curl_c[@]}" "$base/bench/big.bin") || fail "curl get"
printf '%-44s %8s MB/s\n' "curl (get)" "$(mbps "$bytes" "$s")"
cmp -s "$src" "$NGINX_WWW/dav/bench/big.bin" || fail "uploaded object differs"
awk -v a="$best_ours" -v b="$best_curl" \
    'BEGIN { printf "put ratio migrate/curl (best of 2): %.2f\n", a / b }'
rm -f "$src" "$NGINX_WWW/dav/bench/big.bin"

if [ "$FILES" -gt 0 ]; then
	echo "== $FILES objects of $FILE_KIB KiB, one keep-alive connection"
	line=$("$T/bench" many "$base" "$NGINX_CA" "$NGINX_USER" "$FILES" \
	    "$FILE_KIB") || fail "bench many"
	ours=$(echo "$line" | awk '{print $3}')
	ours_fps=$(awk -v n="$FILES" -v s="$ours" 'BEGIN { printf "%.0f", n / s }')
	printf '%-44s %8s s  %8s files/s\n' "migrate https transport (PUT+MOVE)" \
	    "$ours" "$ours_fps"
	head -c $((FILE_KIB * 1024)) /dev/urandom >"$T/one"
	: >"$T/curl-many"
	for i in $(seq 0 $((FILES - 1))); do
		printf 'upload-file = "%s"\nurl = "%s/bench/curl-many/f%d.age"\n' \
		    "$T/one" "$base" "$i"
	done >"$T/curl-many"
	s=$(timed "${curl_c[@]}" -K "$T/curl-many") || fail "curl many"
	curl_fps=$(awk -v n="$FILES" -v s="$s" 'BEGIN { printf "%.0f", n / s }')
	printf '%-44s %8s s  %8s files/s\n' "curl -K (PUT only, one process)" \
	    "$s" "$curl_fps"
	n=$(ls "$NGINX_WWW/dav/bench/many" | wc -l)
	[ "$n" -eq "$FILES" ] || fail "$n objects landed, want $FILES"
	awk -v a="$ours_fps" -v b="$curl_fps" \
	    'BEGIN { printf "files/s ratio migrate/curl: %.2f\n", a / b }'
fi
exit 0
