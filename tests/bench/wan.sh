#!/usr/bin/env bash
# Issue 15's WAN rows: migrate run over SFTP and HTTPS with a round-trip
# delay between client and server (../shared/peers/latency_proxy.py: the
# kernel here has no netem), side by side with the peers through the same
# proxy in the same run: OpenSSH sftp -b, rsync over ssh and rclone sftp
# (4 transfers, its default) against a real sshd; curl with one keep-alive
# connection and curl --parallel against a real nginx.  migrate runs the
# whole pipeline (hash, encrypt, transfer, bag); the peers only transfer.
#
#   BENCH_RTTS        round trips in ms (default "20 80")
#   BENCH_WAN_FILES   small files of 4 KiB (default 100)
#   BENCH_WAN_MB      the one big file, MiB (default 64)
#   BENCH_WAN_RUNS    runs per figure (default 1: at 80 ms a figure takes
#                     minutes; the median of more when set)
#   BENCH_WAN_JOBS    migrate's --jobs (default 2, as many as the cores
#                     here; over a WAN more workers wait on round trips
#                     in parallel: 16 is worth a row of its own)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/sshd.sh"
. "$(dirname "$0")/../integration/nginx.sh"
PROXY=$REPO_DIR/../shared/peers/latency_proxy.py
[ -f "$PROXY" ] || { echo "no $PROXY (../shared beside the repository)"; exit 77; }
# shellcheck disable=SC2034  # read by compare() in lib.sh
RUNS=${BENCH_WAN_RUNS:-1}
NSMALL=${BENCH_WAN_FILES:-100}
BIG_MB=${BENCH_WAN_MB:-64}

sshd_start || { echo "sshd did not start"; exit 77; }
nginx_start || { echo "nginx did not start"; exit 77; }
PIDS=()
stop_proxies() { local p; for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; PIDS=(); }
trap 'stop_proxies; sshd_stop; nginx_stop; rm -rf "$T"' EXIT
W=$T/wan
mkdir -p "$W/small" "$W/big"
for i in $(seq 1 "$NSMALL"); do head -c 4096 /dev/urandom > "$W/small/f$i.bin"; done
head -c $((BIG_MB * 1048576)) /dev/urandom > "$W/big/big.bin"
"$MIGRATE" keygen -o "$W/k.key" 2>/dev/null
grep -o 'age1[a-z0-9]*' "$W/k.key" > "$W/k.pub"
export LAKE_PASSWORD=$NGINX_PASSWORD

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# proxy TARGET RTT: a latency proxy on a free port, printed.
proxy() {
	local port
	port=$(free_port)
	python3 "$PROXY" "$port" "$1" "$2" >/dev/null 2>&1 &
	PIDS+=($!)
	nginx_wait_ports "$!" "$port" || { echo "latency proxy did not start" >&2; exit 1; }
	echo "$port"
}
plan() {	# plan FILE SOURCE URL EXTRA...
	local f=$1 src=$2 url=$3; shift 3
	bench_plan "$f" wan "$src" "$url" "$W" "$@"
}

for rtt in ${BENCH_RTTS:-20 80}; do
	SP=$(proxy "$SSHD_PORT" "$rtt")
	HP=$(proxy "$NGINX_PORT" "$rtt")
	# The host key as seen through the proxy's port.
	sed "s/^\[127.0.0.1\]:$SSHD_PORT /[127.0.0.1]:$SP /" "$SSHD_KNOWN_HOSTS" > "$W/kh"
	SX=("known_hosts = \"$W/kh\"" "identity = \"$SSHD_KEY_ED25519\"")
	plan "$W/ss.toml" "$W/small" "sftp://$SSHD_USER@127.0.0.1:$SP$SSHD_ROOT/lake" "${SX[@]}"
	plan "$W/sb.toml" "$W/big" "sftp://$SSHD_USER@127.0.0.1:$SP$SSHD_ROOT/lake" "${SX[@]}"
	HX=("ca_file = \"$NGINX_CA\"" "user = \"$NGINX_USER\"" 'password_env = "LAKE_PASSWORD"')
	plan "$W/hs.toml" "$W/small" "https://127.0.0.1:$HP/dav/lake" "${HX[@]}"
	plan "$W/hb.toml" "$W/big" "https://127.0.0.1:$HP/dav/lake" "${HX[@]}"
	SSHO="-i $SSHD_KEY_ED25519 -o UserKnownHostsFile=$W/kh -o BatchMode=yes"
	SFTP="sftp -q -P $SP $SSHO"
	echo "put -r $W/small $SSHD_ROOT/peer" > "$W/puts"
	echo "put $W/big/big.bin $SSHD_ROOT/peer.bin" > "$W/putb"
	RSYNC="rsync -a -e 'ssh -p $SP $SSHO'"
	cat > "$W/rclone.conf" <<CONF
[wan]
type = sftp
host = 127.0.0.1
port = $SP
user = $SSHD_USER
key_file = $SSHD_KEY_ED25519
known_hosts_file = $W/kh
shell_type = none
CONF
	RC="RCLONE_CONFIG=$W/rclone.conf rclone -q copy --transfers 4"
	(cd "$W/small" && ls | awk -v u="https://127.0.0.1:$HP/dav/peer/" -v r="$W/small" \
	    '{ printf "upload-file = \"%s/%s\"\nurl = \"%s%s\"\n", r, $0, u, $0 }') > "$W/small.curl"
	CURL="curl -sS --fail --cacert $NGINX_CA -u $NGINX_USER:$NGINX_PASSWORD"
	clean="rm -rf $SSHD_ROOT/lake $SSHD_ROOT/peer $SSHD_ROOT/peer.bin $NGINX_WWW/dav/* $W/audit; mkdir -p $NGINX_WWW/dav/peer"
	M="$MIGRATE run --no-progress --jobs ${BENCH_WAN_JOBS:-2}"
	S="$rtt ms sftp $NSMALL x 4 KiB"
	compare "$S" files/s "$NSMALL" "$clean" "$M $W/ss.toml" "OpenSSH sftp" "$SFTP -b $W/puts 127.0.0.1"
	command -v rsync >/dev/null &&
	    compare "$S" files/s "$NSMALL" "$clean" "$M $W/ss.toml" "rsync over ssh" "$RSYNC $W/small/ $SSHD_USER@127.0.0.1:$SSHD_ROOT/peer/"
	compare "$S" files/s "$NSMALL" "$clean" "$M $W/ss.toml" "rclone sftp x4" "$RC $W/small wan:$SSHD_ROOT/peer"
	B="$rtt ms sftp $BIG_MB MiB"
	compare "$B" MB/s $((BIG_MB * 1048576)) "$clean" "$M $W/sb.toml" "OpenSSH sftp" "$SFTP -b $W/putb 127.0.0.1"
	command -v rsync >/dev/null &&
	    compare "$B" MB/s $((BIG_MB * 1048576)) "$clean" "$M $W/sb.toml" "rsync over ssh" "$RSYNC $W/big/big.bin $SSHD_USER@127.0.0.1:$SSHD_ROOT/peer.bin"
	compare "$B" MB/s $((BIG_MB * 1048576)) "$clean" "$M $W/sb.toml" "rclone sftp x4" "$RC $W/big wan:$SSHD_ROOT/peer"
	H="$rtt ms https $NSMALL x 4 KiB"
	compare "$H" files/s "$NSMALL" "$clean" "$M $W/hs.toml" "curl -K (1 conn)" "$CURL -K $W/small.curl"
	compare "$H" files/s "$NSMALL" "$clean" "$M $W/hs.toml" "curl --parallel" "$CURL --parallel --parallel-max 4 -K $W/small.curl"
	compare "$rtt ms https $BIG_MB MiB" MB/s $((BIG_MB * 1048576)) "$clean" "$M $W/hb.toml" "curl -T" "$CURL -T $W/big/big.bin https://127.0.0.1:$HP/dav/peer.bin"
	sh -c "$clean"
	stop_proxies
done
