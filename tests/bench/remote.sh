#!/usr/bin/env bash
# migrate run over SFTP and HTTPS, end to end (hash, encrypt, transfer,
# bag), side by side with the peers doing only the transfer: OpenSSH
# sftp -b and rclone (sftp remote) against a real sshd; curl -T (one
# keep-alive connection for many files) against a real nginx.  Servers on 127.0.0.1, sharing the 2 cores.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/sshd.sh"
. "$(dirname "$0")/../integration/nginx.sh"
make_datasets
sshd_start || { echo "sshd did not start"; exit 77; }
nginx_start || { echo "nginx did not start"; exit 77; }
trap 'sshd_stop; nginx_stop; rm -rf "$T"' EXIT
W=$T/bench
mkdir -p "$W"
"$MIGRATE" keygen -o "$W/k.key" 2>/dev/null
grep -o 'age1[a-z0-9]*' "$W/k.key" > "$W/k.pub"
JOBS=${BENCH_JOBS:-2}
export LAKE_PASSWORD=$NGINX_PASSWORD

plan() {	# plan NAME SOURCE URL EXTRA...
	local n=$1 src=$2 url=$3; shift 3
	bench_plan "$W/$n.toml" "$n" "$src" "$url" "$W" "$@"
}
SURL="sftp://$SSHD_USER@127.0.0.1:$SSHD_PORT$SSHD_ROOT/lake"
SX=("known_hosts = \"$SSHD_KNOWN_HOSTS\"" "identity = \"$SSHD_KEY_ED25519\"")
HURL="https://127.0.0.1:$NGINX_PORT/dav/lake"
HX=("ca_file = \"$NGINX_CA\"" "user = \"$NGINX_USER\"" 'password_env = "LAKE_PASSWORD"')
plan sa "$DATA_A" "$SURL" "${SX[@]}"
plan sb "$DATA_B" "$SURL" "${SX[@]}"
plan ha "$DATA_A" "$HURL" "${HX[@]}"
plan hb "$DATA_B" "$HURL" "${HX[@]}"

SFTP="sftp -q -P $SSHD_PORT -i $SSHD_KEY_ED25519 -o UserKnownHostsFile=$SSHD_KNOWN_HOSTS -o BatchMode=yes"
echo "put $DATA_A/A.bin $SSHD_ROOT/peer.bin" > "$W/putA"
echo "put -r $DATA_B $SSHD_ROOT/peerB" > "$W/putB"
cat > "$W/rclone.conf" <<CONF
[bsftp]
type = sftp
host = 127.0.0.1
port = $SSHD_PORT
user = $SSHD_USER
key_file = $SSHD_KEY_ED25519
known_hosts_file = $SSHD_KNOWN_HOSTS
# The test sshd offers internal-sftp only: without this rclone waits on
# a shell for every file (15 files/s instead of hundreds).
shell_type = none
CONF
RC="RCLONE_CONFIG=$W/rclone.conf rclone -q copy --transfers $JOBS"
(cd "$BENCH_TMP" && find B -type f | sort | awk -v u="https://127.0.0.1:$NGINX_PORT/dav/curlB/" \
    -v r="$BENCH_TMP" '{ printf "upload-file = \"%s/%s\"\nurl = \"%s%s\"\n", r, $0, u, $0 }') > "$W/B.curl"
CURL="curl -sS --fail --cacert $NGINX_CA -u $NGINX_USER:$NGINX_PASSWORD"
clean="rm -rf $SSHD_ROOT/lake $SSHD_ROOT/peer.bin $SSHD_ROOT/peerB $SSHD_ROOT/rc $NGINX_WWW/dav/* $W/audit"
A_BYTES=$((BENCH_SIZE_MB * 1048576))
M="$MIGRATE run --no-progress --jobs $JOBS"
compare "sftp rehost A (${BENCH_SIZE_MB} MiB)" MB/s $A_BYTES "$clean" "$M $W/sa.toml" "OpenSSH sftp" "$SFTP -b $W/putA 127.0.0.1"
compare "sftp rehost B ($BENCH_FILES x 4 KiB)" files/s $BENCH_FILES "$clean" "$M $W/sb.toml" "OpenSSH sftp" "$SFTP -b $W/putB 127.0.0.1"
compare "sftp rehost B ($BENCH_FILES x 4 KiB)" files/s $BENCH_FILES "$clean" "$M $W/sb.toml" "rclone sftp" "$RC $DATA_B bsftp:$SSHD_ROOT/rc"
compare "https rehost A (${BENCH_SIZE_MB} MiB)" MB/s $A_BYTES "$clean" "$M $W/ha.toml" "curl -T" "$CURL -T $DATA_A/A.bin https://127.0.0.1:$NGINX_PORT/dav/peer.bin"
compare "https rehost B ($BENCH_FILES x 4 KiB)" files/s $BENCH_FILES "$clean" "$M $W/hb.toml" "curl -K (1 conn)" "$CURL -K $W/B.curl"
# No rclone webdav row: against this nginx it stalls ~33 ms on every file
# (30 files/s, a delayed-ACK wait), which measures the stall, not a tool.
sh -c "$clean"
