#!/usr/bin/env bash
# migrate run into an S3-compatible store, end to end (hash, encrypt,
# multipart upload, bag), side by side with rclone's s3 backend doing only
# the upload, against the same s3rver (npm) behind nginx TLS on 127.0.0.1.
# s3rver is a single Node.js process: it bounds both tools, so the ratio
# says how much migrate's work costs on top of the store, not what AWS
# would sustain.  Both use 16 MiB parts; rclone keeps its default of 4
# parts in flight, migrate its upload_concurrency (default: 8 / --jobs,
# within 2 to 8).  A last row is migrate alone with one part at a time
# (upload_concurrency = 1), as it was before parts went up side by side.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/nginx.sh"
. "$(dirname "$0")/../integration/s3rver.sh"
make_datasets
NGINX_DIR=$T/nginx
mkdir -p "$NGINX_DIR/tmp" "$T/s3data"
nginx_setup_pki || { echo "openssl failed"; exit 77; }
S3_PORT=$(nginx_free_port)
NGINX_PORT=$(nginx_free_port)
s3_start || { echo "s3rver did not start"; exit 77; }
s3_nginx_start "$S3_PORT" || { echo "nginx did not start"; exit 77; }
W=$T/bench
mkdir -p "$W" "$T/home"
"$MIGRATE" keygen -o "$W/k.key" 2>/dev/null
grep -o 'age1[a-z0-9]*' "$W/k.key" > "$W/k.pub"
JOBS=${BENCH_JOBS:-2}
export HOME=$T/home AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
# AWS_CA_BUNDLE (set on some machines) makes the SDK in rclone 1.60 fail.
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_CA_BUNDLE

plan() {	# plan NAME SOURCE PREFIX [EXTRA...]
	local n=$1 src=$2 pfx=$3; shift 3
	cat > "$W/$n.toml" <<PLAN
version = 1
name = "$n"
strategy = "rehost"
[source]
path = "$src"
[destination]
url = "s3://lake/$pfx"
endpoint = "https://127.0.0.1:$NGINX_PORT"
addressing = "path"
ca_file = "$NGINX_CA"
part_size = "16M"
$(printf '%s\n' "$@")
[encryption]
recipients_file = "$W/k.pub"
[audit]
log = "$W/audit/$n.jsonl"
PLAN
}
plan s3a "$DATA_A" lakeA
plan s3b "$DATA_B" lakeB
plan s3a1 "$DATA_A" lakeA 'upload_concurrency = 1'
cat > "$W/rclone.conf" <<CONF
[bs3]
type = s3
provider = Other
access_key_id = S3RVER
secret_access_key = S3RVER
endpoint = https://127.0.0.1:$NGINX_PORT
force_path_style = true
chunk_size = 16M
CONF
RC="SSL_CERT_FILE=$NGINX_CA RCLONE_CONFIG=$W/rclone.conf rclone -q copy --transfers $JOBS"
# s3rver keeps each object as files under the bucket's folder: removing
# the prefixes there empties them without a request.
clean="rm -rf $T/s3data/lake/lakeA $T/s3data/lake/lakeB $T/s3data/lake/peerA $T/s3data/lake/peerB $W/audit"
A_BYTES=$((BENCH_SIZE_MB * 1048576))
M="$MIGRATE run --no-progress --jobs $JOBS"
compare "s3 rehost A (${BENCH_SIZE_MB} MiB)" MB/s $A_BYTES "$clean" "$M $W/s3a.toml" "rclone s3" "$RC $DATA_A bs3:lake/peerA"
compare "s3 rehost B ($BENCH_FILES x 4 KiB)" files/s $BENCH_FILES "$clean" "$M $W/s3b.toml" "rclone s3" "$RC $DATA_B bs3:lake/peerB"
# Each run lands into an empty prefix (the removal is timed too: small).
sh -c "$clean"
solo "s3 rehost A, 1 part in flight" MB/s $A_BYTES "$M $W/s3a1.toml && $clean"
sh -c "$clean"
