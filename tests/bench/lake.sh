#!/usr/bin/env bash
# Local lake: rehost and replatform of A (one big file) and B (many 4 KiB
# files) into a lake on tmpfs, side by side with rclone copy into a local
# crypt remote and with age + sha256sum.
. "$(dirname "$0")/lib.sh"
make_datasets
W=$BENCH_TMP/lake
mkdir -p "$W"
"$MIGRATE" keygen -o "$W/k.key" 2>/dev/null || true
grep -o 'age1[a-z0-9]*' "$W/k.key" > "$W/k.pub"
R=$(cat "$W/k.pub")
JOBS=${BENCH_JOBS:-2}

plan() {	# plan NAME STRATEGY SOURCE
	cat > "$W/$1.toml" <<PLAN
version = 1
name = "$1"
strategy = "$2"
[source]
path = "$3"
[destination]
url = "file://$BENCH_DST/lake"
[encryption]
recipients_file = "$W/k.pub"
[audit]
log = "$BENCH_DST/audit/$1.jsonl"
PLAN
}
plan ra rehost "$DATA_A"
plan pa replatform "$DATA_A"
plan rb rehost "$DATA_B"
plan pb replatform "$DATA_B"

crypt_conf "$W/rclone.conf" "$BENCH_DST/crypt"
RC="RCLONE_CONFIG=$W/rclone.conf rclone -q copy --transfers $JOBS"
# rclone drops what it read from the page cache (fadvise DONTNEED), so the
# command after it read the sources cold from disk: every migrate run but
# the first did, 1.1 s against 0.6 s warm for dataset B.  Each side now
# starts with the sources in the cache.
warm="find $DATA_A $DATA_B -type f -print0 | xargs -0 cat > /dev/null"
clean="rm -rf $BENCH_DST/lake $BENCH_DST/audit $BENCH_DST/crypt $BENCH_DST/age; $warm"
# age + sha256sum: what a careful operator scripts without migrate.
agesha_a="sha256sum $DATA_A/A.bin > /dev/null && mkdir -p $BENCH_DST/age && age -r $R -o $BENCH_DST/age/A.age $DATA_A/A.bin"
agesha_b="cd $DATA_B && find . -type f | xargs sha256sum > /dev/null && find . -type f | while read -r f; do mkdir -p $BENCH_DST/age/\$(dirname \$f); age -r $R -o $BENCH_DST/age/\$f.age \$f; done"

A_BYTES=$((BENCH_SIZE_MB * 1048576))
M="$MIGRATE run --no-progress --jobs $JOBS"
compare "lake rehost A (${BENCH_SIZE_MB} MiB)" MB/s $A_BYTES "$clean" "$M $W/ra.toml" "rclone crypt" "$RC $DATA_A/A.bin bcrypt:"
compare "lake rehost A (${BENCH_SIZE_MB} MiB)" MB/s $A_BYTES "$clean" "$M $W/ra.toml" "age+sha256sum" "$agesha_a"
compare "lake replatform A" MB/s $A_BYTES "$clean" "$M $W/pa.toml" "rclone crypt" "$RC $DATA_A/A.bin bcrypt:"
compare "lake rehost B ($BENCH_FILES x 4 KiB)" files/s $BENCH_FILES "$clean" "$M $W/rb.toml" "rclone crypt" "$RC $DATA_B bcrypt:"
compare "lake replatform B" files/s $BENCH_FILES "$clean" "$M $W/pb.toml" "rclone crypt" "$RC $DATA_B bcrypt:"
if [ "${QUICK:-0}" != 1 ]; then
	# Two processes per file: ~50 s a run, so one run of each side.
	RUNS=1 compare "lake rehost B ($BENCH_FILES x 4 KiB)" files/s $BENCH_FILES "$clean" "$M $W/rb.toml" "age+sha256sum" "$agesha_b"
fi
sh -c "$clean"
