#!/usr/bin/env bash
# SFTP upload throughput: migrate's transport vs OpenSSH sftp vs curl
# (libssh2), all to the same sshd on 127.0.0.1.
#
#   MIGRATE=build/migrate bash tests/bench/sftp.sh
#
# Environment:
#   BENCH_SIZE_MB    size of the one big object (default 1024)
#   BENCH_FILES      number of small objects (default 10000; 0 skips)
#   BENCH_FILE_KIB   size of each small object (default 4)
#   BENCH_BUFSIZES   space-separated write buffer sizes in bytes to compare
#                    (the transport recompiled with -DMIG_SFTP_BUFSIZE=N);
#                    default: only the built-in size
#   LIBMIGRATE       the library to link (default: beside $MIGRATE)
#   SFTP_BENCH_DIR   where the data and the server's destination live
#                    (default: a new directory on /dev/shm, removed at the
#                    end, so that the disk is not measured: migrate fsyncs
#                    each object, which costs nothing on tmpfs; point it at
#                    an empty directory on a disk to include that)
#   BENCH_TABLE      when set (tests/bench/run.sh), rows are appended to it
set -u
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/../integration/sshd.sh"

SIZE_MB=${BENCH_SIZE_MB:-1024}
FILES=${BENCH_FILES:-10000}
FILE_KIB=${BENCH_FILE_KIB:-4}
LIBMIGRATE=${LIBMIGRATE:-$(dirname "$MIGRATE")/libmigrate.a}
CC=${CC:-cc}
[ -f "$LIBMIGRATE" ] || { echo "no $LIBMIGRATE"; exit 77; }

sshd_start
rc=$?
[ $rc -eq 77 ] && exit 77
[ $rc -eq 0 ] || fail "sshd did not start"
if [ -n "${SFTP_BENCH_DIR:-}" ]; then
	BENCH_TMP=$(mktemp -d "$SFTP_BENCH_DIR/sftp-bench.XXXXXX")
elif [ -d /dev/shm ] && [ -w /dev/shm ]; then
	BENCH_TMP=$(mktemp -d /dev/shm/migrate-sftp-bench.XXXXXX)
else
	BENCH_TMP=$(mktemp -d "$T/sftp-bench.XXXXXX")
fi
trap 'sshd_stop; rm -rf "$T" "$BENCH_TMP"' EXIT
# row WORKLOAD UNIT MIGRATE PEER_NAME PEER: one line of run.sh's table.
row() {
	[ -n "${BENCH_TABLE:-}" ] || return 0
	awk -v w="$1" -v u="$2" -v m="$3" -v pn="$4" -v p="$5" 'BEGIN {
	    printf "%s\t%s\t%.1f\t%s\t%.1f\t%.2f\t-\t-\n", w, u, m, pn, p,
	    m / p }' >>"$BENCH_TABLE"
}
DEST=$BENCH_TMP/dest
mkdir -p "$DEST/bench" || fail "mkdir $DEST"

libs=$(pkg-config --libs openssl libssh2 libcurl libarchive libzstd jansson \
    2>/dev/null || echo -lssl -lcrypto -lssh2 -lcurl -larchive -lzstd -ljansson)
cflags="-std=c11 -O2 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
    -I$REPO_DIR/include -I$REPO_DIR/lib"
build_bench() {	# OUT [BUFSIZE]
	local extra=
	if [ -n "${2:-}" ]; then
		$CC $cflags -DMIG_SFTP_BUFSIZE="$2" -c \
		    "$REPO_DIR/lib/transport/sftp.c" -o "$T/sftp-$2.o" ||
		    return 1
		extra=$T/sftp-$2.o
	fi
	$CC $cflags -o "$1" "$REPO_DIR/tests/bench/sftp_bench.c" $extra \
	    "$LIBMIGRATE" $libs -lpthread -lm
}
build_bench "$T/bench" || fail "cannot build the bench program"

url="sftp://$SSHD_USER@127.0.0.1:$SSHD_PORT$DEST"
kh=$SSHD_KNOWN_HOSTS
key=$SSHD_KEY_ED25519
ssh_opts=(-q -i "$key" -o "UserKnownHostsFile=$kh" -o StrictHostKeyChecking=yes
    -o BatchMode=yes -P "$SSHD_PORT")
mbps() {	# BYTES SECONDS
	awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f", b / 1e6 / s }'
}
timed() {	# CMD...: prints seconds
	local t0 t1
	t0=$(date +%s.%N)
	if ! "$@" >/dev/null 2>"$T/timed.err"; then
		cat "$T/timed.err" >&2
		return 1
	fi
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}

bytes=$((SIZE_MB * 1024 * 1024))
src=$BENCH_TMP/big.bin
head -c "$bytes" /dev/urandom >"$src"
echo "== one ${SIZE_MB} MiB object to 127.0.0.1, destination $DEST"
load=$(uptime | sed 's/.*,  *load/load/')
echo "   ($(nproc) cores shared by client and server; $load)"

line=$("$T/bench" put "$url" "$kh" "$key" "$SIZE_MB") || fail "bench put"
ours=$(echo "$line" | awk '{print $4}')
printf '%-44s %8s MB/s\n' "migrate sftp transport (put)" "$ours"
line=$("$T/bench" get "$url" "$kh" "$key" "$SIZE_MB") || fail "bench get"
printf '%-44s %8s MB/s\n' "migrate sftp transport (get)" \
    "$(echo "$line" | awk '{print $4}')"
rm -f "$DEST/bench/big.bin"

for b in ${BENCH_BUFSIZES:-}; do
	build_bench "$T/bench-$b" "$b" || fail "build with buffer $b"
	line=$("$T/bench-$b" put "$url" "$kh" "$key" "$SIZE_MB") ||
	    fail "bench put ($b)"
	printf '%-44s %8s MB/s\n' "  with a $b-byte write buffer" \
	    "$(echo "$line" | awk '{print $4}')"
	rm -f "$DEST/bench/big.bin"
done

echo "put $src $DEST/bench/openssh.bin" >"$T/batch"
s=$(timed sftp "${ssh_opts[@]}" -b "$T/batch" "$SSHD_USER@127.0.0.1") ||
    fail "sftp"
openssh=$(mbps "$bytes" "$s")
printf '%-44s %8s MB/s\n' "OpenSSH sftp (default: chacha20-poly1305)" \
    "$openssh"
s=$(timed sftp "${ssh_opts[@]}" -c aes128-ctr -o MACs=hmac-sha2-256 \
    -b "$T/batch" "$SSHD_USER@127.0.0.1") || fail "sftp aes128-ctr"
printf '%-44s %8s MB/s\n' "OpenSSH sftp (aes128-ctr, hmac-sha2-256)" \
    "$(mbps "$bytes" "$s")"
rm -f "$DEST/bench/openssh.bin"

curl_ok=
if command -v curl >/dev/null && curl -V | grep -q libssh2; then
	fp=$(ssh-keygen -lf "$SSHD_DIR/host_ed25519.pub" | awk '{print $2}')
	fp=${fp#SHA256:}
	s=$(timed curl -sS --hostpubsha256 "$fp" --key "$key" \
	    --pubkey "$key.pub" -T "$src" \
	    "sftp://$SSHD_USER@127.0.0.1:$SSHD_PORT$DEST/bench/curl.bin") &&
	    curl_ok=1
	if [ -n "$curl_ok" ]; then
		curl=$(mbps "$bytes" "$s")
		printf '%-44s %8s MB/s\n' "curl sftp:// (libssh2)" "$curl"
	else
		echo "curl: failed (see above)"
	fi
	rm -f "$DEST/bench/curl.bin"
fi
awk -v a="$ours" -v b="$openssh" \
    'BEGIN { printf "ratio migrate/OpenSSH: %.2f\n", a / b }'
row "sftp put ${SIZE_MB} MiB" MB/s "$ours" "OpenSSH sftp" "$openssh"
[ -n "$curl_ok" ] && awk -v a="$ours" -v b="$curl" \
    'BEGIN { printf "ratio migrate/curl:    %.2f\n", a / b }'
rm -f "$src"

if [ "$FILES" -gt 0 ]; then
	echo "== $FILES objects of $FILE_KIB KiB"
	line=$("$T/bench" many "$url" "$kh" "$key" "$FILES" "$FILE_KIB") ||
	    fail "bench many"
	secs=$(echo "$line" | awk '{print $3}')
	printf '%-44s %8s s  %8.0f files/s\n' "migrate sftp transport" "$secs" \
	    "$(awk -v n="$FILES" -v s="$secs" 'BEGIN { print n / s }')"
	mkdir -p "$BENCH_TMP/many"
	head -c $((FILE_KIB * 1024)) /dev/urandom >"$T/one"
	for i in $(seq 0 $((FILES - 1))); do
		cp "$T/one" "$BENCH_TMP/many/f$i.age"
	done
	mkdir -p "$DEST/bench/openssh-many"
	# sftp's batch put with a glob uploads file by file on one session.
	echo "put $BENCH_TMP/many/* $DEST/bench/openssh-many/" >"$T/batch"
	s=$(timed sftp "${ssh_opts[@]}" -b "$T/batch" \
	    "$SSHD_USER@127.0.0.1") || fail "sftp many"
	row "sftp put $FILES x $FILE_KIB KiB" files/s \
	    "$(awk -v n="$FILES" -v s="$secs" 'BEGIN { print n / s }')" \
	    "OpenSSH sftp" "$(awk -v n="$FILES" -v s="$s" 'BEGIN { print n / s }')"
	printf '%-44s %8s s  %8.0f files/s\n' "OpenSSH sftp" "$s" \
	    "$(awk -v n="$FILES" -v s="$s" 'BEGIN { print n / s }')"
	if [ -n "$curl_ok" ]; then
		mkdir -p "$DEST/bench/curl-many"
		s=$(timed curl -sS --hostpubsha256 "$fp" --key "$key" \
		    --pubkey "$key.pub" \
		    -T "$BENCH_TMP/many/f[0-$((FILES - 1))].age" \
		    "sftp://$SSHD_USER@127.0.0.1:$SSHD_PORT$DEST/bench/curl-many/"\
		    ) ||
		    fail "curl many"
		printf '%-44s %8s s  %8.0f files/s\n' \
		    "curl sftp:// (one process)" "$s" \
		    "$(awk -v n="$FILES" -v s="$s" 'BEGIN { print n / s }')"
	fi
fi
exit 0
