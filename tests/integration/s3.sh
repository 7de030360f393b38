#!/usr/bin/env bash
# migrate run / verify / restore against a real S3-compatible server on
# 127.0.0.1: s3rver (npm; it checks every SigV4 signature) behind nginx
# for TLS with the generated CA of nginx.sh.  Both stopped by PID.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nginx.sh"

. "$(dirname "$0")/s3rver.sh"

# The verifier between nginx and s3rver (s3rver itself only compares the
# access key id): tests/tools/s3_sigv4_proxy.py recomputes every
# request's Signature V4 with the secret it is given, independently of
# migrate's C code, and checks the payload hash against the body it
# received.  s3v_start LOG [ARGS...] (re)starts it on S3V_PORT with the
# secret S3V_SECRET; each verified request is one "ok METHOD ..." line
# in LOG.
S3V_PID=
s3v_stop() {
	[ -n "$S3V_PID" ] || return 0
	kill "$S3V_PID" 2>/dev/null
	wait "$S3V_PID" 2>/dev/null
	S3V_PID=
}
s3v_start() {
	local log=$1 word port
	shift
	s3v_stop
	exec {S3V_FD}< <(S3_SIGV4_SECRET=$S3V_SECRET exec "$PYTHON3" \
	    "$TESTS_DIR/tools/s3_sigv4_proxy.py" --target "$S3_PORT" \
	    --port "$S3V_PORT" --access-key S3RVER --region us-east-1 \
	    --log "$log" "$@")
	S3V_PID=$!
	echo "$S3V_PID" >>"$T/proxies"
	at_exit s3v_stop
	read -r -t 60 -u "$S3V_FD" word port || fail "sigv4 proxy did not start"
	[ "$word $port" = "port $S3V_PORT" ] || fail "sigv4 proxy: $word $port"
}
# s3v_count LOG METHOD: requests of METHOD the verifier passed.
s3v_count() {
	grep -c "^ok $2 " "$1"
}

NGINX_DIR=$T/nginx
mkdir -p "$NGINX_DIR/tmp" "$T/s3data"
nginx_setup_pki || fail "openssl failed"
S3_PORT=$(nginx_free_port)
S3V_PORT=$(nginx_free_port)
NGINX_PORT=$(nginx_free_port)
s3_start || fail "s3rver did not start: $(cat "$T/s3rver.log")"
# The verifier agrees with AWS's own examples before it judges migrate.
python3 "$TESTS_DIR/tools/s3_sigv4_proxy.py" --self-test >"$T/out" ||
    fail "sigv4 proxy: $(cat "$T/out")"
# s3rver's fixed account, with a secret of '=', spaces and UTF-8 (s3rver
# ignores the secret; the verifier does not).
S3V_SECRET='S3RVER/k=v wJal rXUtn ü€ ✓+x=='
S3V_LOG=$T/sigv4.log
s3v_start "$S3V_LOG"
s3_nginx_start "$S3V_PORT" || fail "nginx did not start: $(tail -n 5 "$NGINX_DIR/error.log")"
setup_plans

export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=$S3V_SECRET
unset AWS_SESSION_TOKEN AWS_PROFILE
export HOME=$T/home
mkdir -p "$HOME"

# The transport contract, the same suite every backend passes (through
# the SigV4 verifier, like every request below).
conform="$(dirname "$MIGRATE")/tests/test_transport_conformance"
[ -x "$conform" ] || fail "no $conform (make check-unit builds it)"
# s3rver keeps each object as a file named KEY._S3rver_object beside
# KEY._S3rver_metadata.json, so the last part of a key can be at most
# 255 - 22 bytes there (AWS S3 takes keys of 1,024 bytes).
MIG_TEST_CONF_NAME_MAX=232 \
MIG_TEST_CONF_URL="s3://lake/conform-$$" \
MIG_TEST_CONF_OPTS="endpoint=https://127.0.0.1:$NGINX_PORT
addressing=path
ca_file=$NGINX_CA
access_key_id_env=S3RVER
secret_access_key_env=$S3V_SECRET" timeout 600 "$conform" ||
    fail "transport conformance (s3)"

s3_plan() {	# s3_plan FILE NAME STRATEGY SRC PREFIX [EXTRA...]
	local f=$1 n=$2 s=$3 src=$4 pfx=$5; shift 5
	cat > "$f" <<PLAN
version = 1
name = "$n"
strategy = "$s"
[source]
path = "$src"
[destination]
url = "s3://lake/$pfx"
endpoint = "https://127.0.0.1:$NGINX_PORT"
addressing = "path"
ca_file = "$NGINX_CA"
$(printf '%s\n' "$@")
[encryption]
recipients_file = "$T/p/keys/demo.pub"
[audit]
log = "$T/audit/$n.jsonl"
PLAN
}

# Hive-style keys: '=', spaces, UTF-8; and a file above the part size
# (5 MiB parts: 12 MiB goes up as a multipart upload of 3 parts).
SRC=$T/src
mkdir -p "$SRC/date=2024-01-01/région=eu ouest" "$SRC/plain"
echo "a,b" > "$SRC/date=2024-01-01/région=eu ouest/part 1=x.csv"
printf 'naïve €\n' > "$SRC/plain/ünïcødé ✓.txt"
head -c 12582917 /dev/urandom > "$SRC/plain/big.bin"
cp -r "$T/p/data/warehouse/." "$SRC/plain/"

for s in rehost replatform refactor; do
	extra=
	[ $s = refactor ] && extra='[refactor]
partition_by = "mtime:%Y-%m-%d"
partition_key = "day"'
	s3_plan "$T/$s.toml" "s3-$s" $s "$SRC" "data lake/$s" \
	    'part_size = "5M"'
	[ -n "$extra" ] && printf '%s\n' "$extra" >> "$T/$s.toml"
	expect_exit 0 "$MIGRATE" run --json "$T/$s.toml"
	[ "$(json "$T/out" 'd["outcome"]')" = complete ] || fail "$s not complete"
	run=$(json "$T/out" 'd["run"]')
	expect_exit 0 "$MIGRATE" verify "$T/$s.toml"
	expect_exit 0 "$MIGRATE" verify --deep -i "$KEY" "$T/$s.toml"
	expect_exit 0 "$MIGRATE" restore "$T/$s.toml" --run "$run" -i "$KEY" \
	    --to "$T/back-$s"
	diff -r "$T/back-$s" "$SRC" || fail "$s: restore from S3 differs"
done

# The keys on the server are the plan's paths, '=', spaces and UTF-8 as
# they are (s3rver keeps them as files under its directory).
find "$T/s3data/lake" -path '*date=2024-01-01/région=eu ouest/part 1=x.csv.age*' |
    grep -q . || fail "Hive key not stored as such"
find "$T/s3data/lake" -path '*ünïcødé ✓.txt.age*' | grep -q . ||
    fail "UTF-8 key not stored as such"
# The multipart object is whole: its ciphertext matches the manifest
# (verify above), and it is larger than two parts.
sz=$(find "$T/s3data/lake" -path '*data lake/rehost/*big.bin.age._S3rver_object' -printf '%s\n' | head -n 1)
[ -n "$sz" ] && [ "$sz" -gt 12582917 ] || fail "multipart object missing or short ($sz)"

# A second run lands nothing new (listing, stat and the manifests agree).
expect_exit 0 "$MIGRATE" run --json "$T/rehost.toml"

# A tampered object: verify fails with exit 3.
obj=$(find "$T/s3data/lake" -path '*data lake/rehost/*part 1=x.csv.age._S3rver_object' | head -n 1)
[ -n "$obj" ] || fail "object not found on the server"
cp "$obj" "$T/saved"
flip_byte "$obj" 100
cmp -s "$obj" "$T/saved" && fail "the object is unchanged after flip_byte"
expect_exit 3 "$MIGRATE" verify "$T/rehost.toml"
cp "$T/saved" "$obj"
expect_exit 0 "$MIGRATE" verify "$T/rehost.toml"

# Everything so far went through the verifier and passed it: every
# method migrate used was verified (PUT, GET, HEAD, POST for multipart,
# DELETE when used), with the real payload hash, and nothing was refused.
grep -v '^ok ' "$S3V_LOG" && fail "the verifier refused requests above"
for m in PUT GET HEAD POST; do
	[ "$(s3v_count "$S3V_LOG" $m)" -gt 0 ] || fail "no $m verified"
done
for m in $(awk '{print $2}' "$S3V_LOG" | sort -u); do
	[ "$(s3v_count "$S3V_LOG" "$m")" -gt 0 ] || fail "$m not verified"
done
echo "verified: $(awk '/^ok /{n[$2]++} END{for (m in n) printf "%s %d ", m, n[m]}' "$S3V_LOG")"
# The parts of the multipart uploads were among them.
grep -q "^ok PUT .*big\\.bin\\.age?partNumber=3&uploadId=" "$S3V_LOG" ||
    fail "no part verified"

# A verifier holding another secret than migrate's: every signature is
# wrong, migrate stops at once with exit 1, says so, audits it, and shows
# neither secret.
S3V_SECRET=other-secret-7c1e9a s3v_start "$T/sigv4-other.log"
s3_plan "$T/sig.toml" s3-sig rehost "$T/p/data/warehouse" sig
expect_exit 1 "$MIGRATE" run "$T/sig.toml"
expect_err "credentials refused (SignatureDoesNotMatch)"
grep -q '^refused .* SignatureDoesNotMatch ' "$T/sigv4-other.log" ||
    fail "the verifier did not refuse the signature"
grep -q '^ok ' "$T/sigv4-other.log" && fail "a request passed a wrong secret"
grep -q '"event":"security.refused"' "$T/audit/s3-sig.jsonl" ||
    fail "refused signature not audited"
grep -rqF -e "other-secret-7c1e9a" -e "$S3V_SECRET" -e "wJal" "$T/err" \
    "$T/out" "$T/audit" && fail "a secret key leaked"

# One bit of a PUT body changed on the way (after migrate signed it):
# the payload hash signed in x-amz-content-sha256 no longer matches the
# body received, the store refuses it, nothing is published.
s3v_start "$T/sigv4-flip.log" --flip-put-byte
s3_plan "$T/flip.toml" s3-flip rehost "$T/p/data/warehouse" flip
"$MIGRATE" run "$T/flip.toml" >"$T/out" 2>"$T/err"
rc=$?
[ $rc -ne 0 ] || fail "a changed body was accepted"
expect_err "XAmzContentSHA256Mismatch"
grep -q '^refused PUT XAmzContentSHA256Mismatch ' "$T/sigv4-flip.log" ||
    fail "the verifier did not catch the changed body"
[ -z "$(find "$T/s3data/lake" -path '*flip*_SUCCESS*')" ] ||
    fail "a run with a changed body was published"
s3v_start "$S3V_LOG"

# Bad credentials: refused, exit 1, on record, the secret never shown.
# s3rver 3.7 checks the access key id; the verifier too.
s3_plan "$T/bad.toml" s3-bad rehost "$SRC" bad
AWS_ACCESS_KEY_ID=AKIDWRONG AWS_SECRET_ACCESS_KEY=wrong-secret-4f2a9c \
    expect_exit 1 "$MIGRATE" run "$T/bad.toml"
expect_err "credentials refused"
grep -q '"event":"security.refused"' "$T/audit/s3-bad.jsonl" ||
    fail "refused credentials not audited"
grep -rq "wrong-secret-4f2a9c" "$T/err" "$T/out" "$T/audit" &&
    fail "secret key leaked"

# No credentials at all: refused with a message that says where to put them.
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY \
    "$MIGRATE" run "$T/bad.toml" >"$T/out" 2>"$T/err"
[ $? -eq 1 ] || fail "run without credentials: exit $?"
expect_err "AWS_ACCESS_KEY_ID"

# A profile of ~/.aws/credentials, named by the plan.
mkdir -p "$HOME/.aws"
printf '[default]\naws_access_key_id = nobody\naws_secret_access_key = x\n[lake]\naws_access_key_id = S3RVER\naws_secret_access_key = %s\n' "$S3V_SECRET" \
    > "$HOME/.aws/credentials"
s3_plan "$T/prof.toml" s3-prof rehost "$T/p/data/warehouse" prof \
    'profile = "lake"'
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY \
    "$MIGRATE" run "$T/prof.toml" >"$T/out" 2>"$T/err" ||
    { cat "$T/err" >&2; fail "run with a profile failed"; }

# The AWS CLI's variables.  No keys in the environment: AWS_PROFILE picks
# the profile ([default] holds a key id s3rver refuses).
s3_plan "$T/awsp.toml" s3-awsp rehost "$T/p/data/warehouse" awsp
AWS_PROFILE=lake expect_exit 0 env -u AWS_ACCESS_KEY_ID \
    -u AWS_SECRET_ACCESS_KEY "$MIGRATE" run "$T/awsp.toml"
AWS_PROFILE=nosuch expect_exit 1 env -u AWS_ACCESS_KEY_ID \
    -u AWS_SECRET_ACCESS_KEY "$MIGRATE" run "$T/awsp.toml"
expect_err "has no profile [nosuch] (named by AWS_PROFILE)"
# Keys in the environment come before AWS_PROFILE, a profile in the plan
# (the CLI's --profile) before both.
AWS_PROFILE=default expect_exit 0 "$MIGRATE" run "$T/awsp.toml"
AWS_PROFILE=default AWS_ACCESS_KEY_ID=AKIDWRONG expect_exit 0 \
    "$MIGRATE" run "$T/prof.toml"
# AWS_SHARED_CREDENTIALS_FILE moves the file ("~/" as the CLI expands
# it), with AWS_PROFILE or [default]; a file the plan names comes first.
mkdir -p "$HOME/elsewhere"
printf '[default]\naws_access_key_id = S3RVER\naws_secret_access_key = %s\n[p2]\naws_access_key_id = S3RVER\naws_secret_access_key = %s\n' \
    "$S3V_SECRET" "$S3V_SECRET" > "$HOME/elsewhere/creds"
for f in "$HOME/elsewhere/creds" "~/elsewhere/creds"; do
	AWS_SHARED_CREDENTIALS_FILE=$f expect_exit 0 env -u AWS_ACCESS_KEY_ID \
	    -u AWS_SECRET_ACCESS_KEY "$MIGRATE" run "$T/awsp.toml"
	AWS_SHARED_CREDENTIALS_FILE=$f AWS_PROFILE=p2 expect_exit 0 env \
	    -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$MIGRATE" run \
	    "$T/awsp.toml"
done
AWS_SHARED_CREDENTIALS_FILE=$T/none expect_exit 1 env -u AWS_ACCESS_KEY_ID \
    -u AWS_SECRET_ACCESS_KEY "$MIGRATE" run "$T/awsp.toml"
expect_err "$T/none"
s3_plan "$T/cf.toml" s3-cf rehost "$T/p/data/warehouse" cf \
    "credentials_file = \"$HOME/elsewhere/creds\""
AWS_SHARED_CREDENTIALS_FILE=$HOME/.aws/credentials expect_exit 0 \
    env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$MIGRATE" run \
    "$T/cf.toml"
grep -rqF -e "$S3V_SECRET" -e "wJal" "$T/err" "$T/out" "$T/audit" &&
    fail "a secret key leaked"

# Variables named by the plan.
export LAKE_AK=S3RVER LAKE_SK=$S3V_SECRET
s3_plan "$T/named.toml" s3-named rehost "$T/p/data/warehouse" named \
    'access_key_id_env = "LAKE_AK"' 'secret_access_key_env = "LAKE_SK"'
AWS_ACCESS_KEY_ID=AKIDWRONG expect_exit 0 "$MIGRATE" run "$T/named.toml"

# An untrusted certificate: refused, exit 1.
s3_plan "$T/u.toml" s3-untrusted rehost "$T/p/data/warehouse" u
sed -i '/^ca_file/d' "$T/u.toml"
expect_exit 1 "$MIGRATE" run "$T/u.toml"
grep -q '"event":"security.refused"' "$T/audit/s3-untrusted.jsonl" ||
    fail "TLS refusal not audited"

# Plan errors: exit 2 before anything moves.
s3_plan "$T/e.toml" s3-e rehost "$T/p/data/warehouse" e 'part_size = "1M"'
expect_exit 2 "$MIGRATE" plan check "$T/e.toml"
expect_err "part_size"
s3_plan "$T/e.toml" s3-e rehost "$T/p/data/warehouse" e 'sse = "rot13"'
expect_exit 2 "$MIGRATE" plan check "$T/e.toml"
expect_err "sse"
for v in 0 17; do
	s3_plan "$T/e.toml" s3-e rehost "$T/p/data/warehouse" e \
	    "upload_concurrency = $v"
	expect_exit 2 "$MIGRATE" plan check "$T/e.toml"
	expect_err "upload_concurrency must be an integer from 1 to 16"
done
s3_plan "$T/e.toml" s3-e rehost "$T/p/data/warehouse" e \
    'upload_concurrency = "4"'
expect_exit 2 "$MIGRATE" plan check "$T/e.toml"
expect_err "destination.upload_concurrency must be an integer"
# --- Faults ------------------------------------------------------------
# The server goes away in the middle of a transfer.  A fault proxy in
# front of nginx stalls the link when 2 MiB have gone up: everything
# before big.bin's first 5 MiB part is well under 2 MiB, so that moment
# is inside the body of a part.  Then s3rver is stopped and the stalled
# connection reset; every retry finds no server: the run fails, having
# published nothing.  With s3rver back, the same command resumes that
# run and lands everything, whole.
G=$T/srcg
mkdir -p "$G"
cp -r "$T/p/data/warehouse/." "$G/"
[ "$(du -sb "$G" | cut -f1)" -lt 1048576 ] || fail "small files too big"
head -c 12582917 /dev/urandom > "$G/big.bin"
hook_open
proxy_start "$NGINX_PORT" --stall-after 2097152 --ctl "$HOOK_DIR"
s3_plan "$T/gone.toml" s3-gone rehost "$G" gone 'part_size = "5M"'
sed -i "s|^endpoint = .*|endpoint = \"https://127.0.0.1:$PROXY_PORT\"|" \
    "$T/gone.toml"
hook_start "" "$MIGRATE" run --no-progress --jobs 1 "$T/gone.toml"
hook_wait proxy.stalled
grep -q "^ok PUT .*/gone/.*big\.bin\.age?partNumber" "$S3V_LOG" &&
    fail "a part of big.bin landed before the cut"
s3_stop
hook_resume reset
hook_end
[ "$HOOK_RC" -ne 0 ] || fail "a run without its server succeeded"
grep -q "big.bin" "$T/err" || { cat "$T/err"; fail "no error for big.bin"; }
[ -z "$(find "$T/s3data/lake" -path '*gone*_SUCCESS*')" ] ||
    fail "a run without its server was published"
s3_start || fail "s3rver did not restart: $(tail -n 5 "$T/s3rver.log")"
expect_exit 0 "$MIGRATE" run --json --no-progress "$T/gone.toml"
[ "$(json "$T/out" 'd["outcome"]')" = complete ] || fail "gone: not complete"
[ "$(json "$T/out" 'd["resumed"]')" = True ] || fail "gone: did not resume"
run=$(json "$T/out" 'd["run"]')
expect_exit 0 "$MIGRATE" verify --deep -i "$KEY" "$T/gone.toml"
expect_exit 0 "$MIGRATE" restore "$T/gone.toml" --run "$run" -i "$KEY" \
    --to "$T/back-gone"
diff -r "$T/back-gone" "$G" || fail "gone: restore differs"
[ "$(find "$T/s3data/lake" -path '*gone*_SUCCESS._S3rver_object' | wc -l)" = 1 ] ||
    fail "gone: not exactly one bag"

# 100 MiB through multipart in 16 MiB parts, two in flight, killed
# (SIGKILL, by the test build at the exact point) when 72 MiB of it have
# been read: parts are on the server, the upload is not complete.  The
# chain between the read and the upload holds less than 5 MiB (the async
# stage's queue), so part 4 (from 64 MiB) has been handed over by then,
# which took a free lane of the two: at least two parts were
# acknowledged.  The same command resumes and lands the object whole:
# deep verify and restore agree.
H=$T/srch
mkdir -p "$H"
head -c $((100 * 1024 * 1024)) /dev/urandom > "$H/huge.bin"
s3_plan "$T/huge.toml" s3-huge rehost "$H" huge 'part_size = "16M"' \
    'upload_concurrency = 2'
hook_run "point=source.read detail=huge.bin min=$((72 * 1024 * 1024)) action=kill" \
    "$MIGRATE_HOOKS" run --no-progress --jobs 1 "$T/huge.toml"
[ "$HOOK_RC" = 137 ] || { cat "$T/err"; fail "huge: exit $HOOK_RC, want 137"; }
[ "$(grep -c "^ok PUT .*/huge/.*huge\.bin\.age?partNumber=" "$S3V_LOG")" -ge 2 ] ||
    fail "huge: killed before two parts were up"
grep -q "^ok POST .*/huge/.*huge\.bin\.age?uploadId=" "$S3V_LOG" &&
    fail "huge: the upload was completed before the kill"
[ -z "$(find "$T/s3data/lake" -path '*huge*_SUCCESS*')" ] ||
    fail "huge: a killed run was published"
expect_exit 0 "$MIGRATE" run --json --no-progress "$T/huge.toml"
[ "$(json "$T/out" 'd["outcome"]')" = complete ] || fail "huge: not complete"
[ "$(json "$T/out" 'd["resumed"]')" = True ] || fail "huge: did not resume"
run=$(json "$T/out" 'd["run"]')
# Before it uploaded the object again it asked for the killed upload
# (ListMultipartUploads, to abort it): s3rver has none (501), no failure.
grep -q "^ok GET [0-9]* 501 /lake?prefix=huge/.*huge\.bin\.age&uploads=$" \
    "$S3V_LOG" || fail "huge: the killed upload was not looked for"
grep -q "^ok PUT .*/huge/.*huge\.bin\.age?partNumber=7&" "$S3V_LOG" ||
    fail "huge: not 7 parts of 16 MiB"
grep -q "^ok PUT .*/huge/.*huge\.bin\.age?partNumber=8&" "$S3V_LOG" &&
    fail "huge: parts larger than 16 MiB expected"
expect_exit 0 "$MIGRATE" verify --deep -i "$KEY" "$T/huge.toml"
expect_exit 0 "$MIGRATE" restore "$T/huge.toml" --run "$run" -i "$KEY" \
    --to "$T/back-huge"
cmp "$T/back-huge/huge.bin" "$H/huge.bin" || fail "huge: restore differs"
# The cut may catch any part of big.bin in flight (up to 8 lanes with
# --jobs 1), and the kill those of huge.bin: bodies that ended early.
grep -v -e '^ok ' -e '^refused GET InvalidAccessKeyId ' -e '^down ' \
    -e '^aborted PUT .*/gone/.*big\.bin\.age?partNumber=[0-9]*&' \
    -e '^aborted PUT .*/huge/.*huge\.bin\.age?partNumber=[0-9]*&' \
    "$S3V_LOG" && fail "the verifier refused requests of the fault cases"

echo "ok"
