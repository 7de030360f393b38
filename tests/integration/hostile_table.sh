#!/usr/bin/env bash
# Table-driven hostile inputs: bad plans, hostile sources, corrupted lakes
# and audit logs.  Each row names what it feeds migrate, the exit status it
# must give, a substring its output (stdout + stderr) must hold, and
# sometimes more conditions (nothing landed, no secret echoed, memory
# bound, nothing written outside).  Every row runs under timeout(1): a hang
# fails it.  Rows do not stop each other; the summary lists the failures.
. "$(dirname "$0")/lib.sh"
setup_plans
P=$T/plan.toml
# GNU time measures peak RSS; without it the memory bounds are not checked.
GNU_TIME=
[ -x /usr/bin/time ] && /usr/bin/time -f %M true >/dev/null 2>&1 && GNU_TIME=/usr/bin/time
[ -n "$GNU_TIME" ] || echo "note: no GNU time(1): memory bounds not checked"
PASS=0
FAILS=()

# base_plan FILE [NAME [SRC [STRATEGY]]]: a valid plan to mutate.
base_plan() {
	cat >"$1" <<PLAN
version = 1
name = "${2:-hp}"
strategy = "${4:-rehost}"
[source]
path = "${3:-$T/src}"
[destination]
url = "file://$T/lake"
[encryption]
recipients_file = "$T/p/keys/demo.pub"
[audit]
log = "$T/audit/${2:-hp}.jsonl"
PLAN
}
mkdir -p "$T/src"
echo "a,b" >"$T/src/a.csv"

# row NAME WANT SUBSTRING CMD...: runs CMD (timeout 120, peak RSS in
# $T/rss KiB); the row fails unless it exits WANT and its output holds
# SUBSTRING.  Later `must` checks can still fail the row; `done_row`
# prints the verdict.
row() {
	ROW=$1 ROW_WANT=$2 ROW_SUB=$3 ROW_BAD=
	shift 3
	if [ -n "$GNU_TIME" ]; then
		"$GNU_TIME" -f %M -o "$T/rss" timeout 120 "$@" >"$T/out" 2>"$T/err"
		ROW_GOT=$?
		# time(1) notes a non-zero status on a line of its own.
		sed -i '/^Command /d' "$T/rss"
	else
		timeout 120 "$@" >"$T/out" 2>"$T/err"
		ROW_GOT=$?
		echo 0 >"$T/rss"
	fi
	cat "$T/out" "$T/err" >"$T/all"
	[ "$ROW_GOT" = 124 ] && ROW_BAD="hung (timeout 120 s)"
	[ -z "$ROW_BAD" ] && [ "$ROW_GOT" != "$ROW_WANT" ] &&
	    ROW_BAD="exit $ROW_GOT, want $ROW_WANT"
	[ -z "$ROW_BAD" ] && ! grep -aqF -- "$ROW_SUB" "$T/all" &&
	    ROW_BAD="output lacks \"$ROW_SUB\""
	return 0
}
# must DESCRIPTION CMD...: CMD must succeed for the row to pass.
must() {
	local what=$1
	shift
	[ -n "$ROW_BAD" ] && return 0
	"$@" >/dev/null 2>&1 || ROW_BAD=$what
}
done_row() {
	local msg
	msg=$(grep -a -m1 '^migrate: ' "$T/err" | cut -c1-110)
	if [ -z "$ROW_BAD" ]; then
		PASS=$((PASS + 1))
		printf 'ok   %-28s exit %s  %s\n' "$ROW" "$ROW_GOT" "$msg"
	else
		FAILS+=("$ROW")
		printf 'FAIL %-28s %s\n' "$ROW" "$ROW_BAD"
		sed 's/^/       | /' "$T/all" | head -n 6 | cut -c1-200
	fi
}
no_file() { [ ! -e "$1" ]; }
lacks() { ! grep -qF -- "$1" "$2"; }
smaller() { [ "$(wc -c <"$2")" -lt "$1" ]; }
rss_below() { [ "$(tail -n 1 "$T/rss")" -lt "$1" ]; }
nothing_landed() { [ -z "$(find "$T/lake" -name '*.age' 2>/dev/null)" ]; }
not_landed() { [ -z "$(find "$T/lake" -name "$1" 2>/dev/null)" ]; }
json_is() { [ "$(json "$T/out" "$1")" = "$2" ]; }

echo "== bad plans"
# The table: NAME | EXIT | SUBSTRING | generator (writes $P; may set P).
plans_table=$(cat <<'TABLE'
plan-is-a-directory|2|not a regular file|rm -f "$P"; mkdir -p "$P"
plan-is-dev-zero|2|not a regular file|P=/dev/zero
plan-of-2-MB|2|larger than 1048576 bytes|base_plan "$P"; python3 -c 'print("#" + "x" * 2000000)' >>"$P"
binary-garbage|2|:1:1:|{ printf '\x89PNG\r\n\x1a\n'; head -c 4000 /dev/urandom; } >"$P"
NUL-byte-in-a-string|2|U+0000|printf 'version = 1\nname = "h\0p"\n' >"$P"
invalid-UTF-8|2|invalid UTF-8|printf 'version = 1\nname = "h\xffp"\n' >"$P"
inline-tables-100000-deep|2|nesting deeper than|python3 -c 'print("version = 1\nx = " + "{a = " * 100000 + "1" + "}" * 100000)' >"$P"
arrays-300000-deep|2|nesting deeper than|python3 -c 'print("version = 1\nx = " + "[" * 300000 + "]" * 300000)' >"$P"
duplicate-key|2|duplicate key 'name'|printf 'version = 1\nname = "a"\nname = "b"\n' >"$P"
table-defined-twice|2|defined twice|base_plan "$P"; printf '[source]\npath = "y"\n' >>"$P"
unknown-strategy|2|unknown strategy "rehots" (did you mean "rehost"?)|base_plan "$P"; sed -i 's/^strategy = .*/strategy = "rehots"/' "$P"
strategy-not-a-string|2|strategy must be a string|base_plan "$P"; sed -i 's/^strategy = .*/strategy = 7/' "$P"
unsupported-version|2|unsupported plan version 2|base_plan "$P"; sed -i 's/^version = 1/version = 2/' "$P"
version-overflows|2|out of range|base_plan "$P"; sed -i 's/^version = 1/version = 99999999999999999999/' "$P"
empty-plan|2|missing required key "version"|: >"$P"
no-encryption-table|2|missing required table [encryption]|base_plan "$P"; sed -i '/^\[encryption\]/,/^recipients_file/d' "$P"
name-escapes|2|name "../../etc" must be|base_plan "$P"; sed -i 's|^name = .*|name = "../../etc"|' "$P"
dataset-escapes|2|dataset "../escape" must be|base_plan "$P"; sed -i 's|^url = .*|&\ndataset = "../escape"|' "$P"
zone-absolute|2|zone "/abs" must be|base_plan "$P"; sed -i 's|^url = .*|&\nzone = "/abs"|' "$P"
url-ftp|2|unsupported scheme "ftp"|base_plan "$P"; sed -i 's|^url = .*|url = "ftp://x/y"|' "$P"
url-plain-http|2|plain http:// is refused|base_plan "$P"; sed -i 's|^url = .*|url = "http://example.com/lake"|' "$P"
url-file-empty|2|empty path|base_plan "$P"; sed -i 's|^url = .*|url = "file://"|' "$P"
zstd-level-99|2|zstd_level|base_plan "$P" hp "$T/src" replatform; printf '[compression]\nzstd_level = 99\n' >>"$P"
recipient-not-age|2|is not an age recipient|base_plan "$P"; sed -i 's|^recipients_file = .*|recipients = ["age1invalid"]|' "$P"
TABLE
)
while IFS="|" read -r -u 3 name want sub gen; do
	P=$T/plan.toml
	rm -rf "$P" "$T/lake" "$T/audit"
	eval "$gen"
	row "$name" "$want" "$sub" "$MIGRATE" plan check "$P"
	must "error message longer than 4 KiB" smaller 4096 "$T/err"
	must "more than 64 MiB of memory" rss_below 65536
	done_row
done 3<<<"$plans_table"
P=$T/plan.toml

# Secrets put in a plan are refused and never echoed.
base_plan "$P"
sed -i 's|^url = .*|&\npassword = "hunter2-SECRET"|' "$P"
row inline-password 2 'unknown key "destination.password"' "$MIGRATE" plan check "$P"
must "the password was echoed" lacks hunter2 "$T/all"
done_row
secret=$(grep -m1 '^AGE-SECRET-KEY-1' "$T/p/keys/demo.key")
base_plan "$P"
sed -i "s|^recipients_file = .*|recipients = [\"$secret\"]|" "$P"
row secret-key-as-recipient 2 "SECRET key" "$MIGRATE" run "$P"
must "the secret key was echoed" lacks "${secret:20:30}" "$T/all"
must "something landed" nothing_landed
done_row
base_plan "$P"
python3 -c 'print("k" + "x" * 900000 + " = 1")' >>"$P"
row unknown-key-of-900-KB 2 'unknown key "audit.kxxx' "$MIGRATE" plan check "$P"
must "error message longer than 4 KiB" smaller 4096 "$T/err"
done_row
base_plan "$P"
sed -i "s|$T/p/keys/demo.pub|$T/missing.pub|" "$P"
row recipients-file-missing 1 "$T/missing.pub: No such file or directory" "$MIGRATE" run "$P"
must "something landed" nothing_landed
done_row
cp "$T/p/keys/audit.pem" "$T/loose.pem"
chmod 640 "$T/loose.pem"
base_plan "$P"
sed -i "s|^log = .*|&\nsigning_key = \"$T/loose.pem\"|" "$P"
row signing-key-group-readable 1 "too open" "$MIGRATE" run "$P"
must "something landed" nothing_landed
done_row
mkdir -p "$T/logdir.jsonl"
base_plan "$P"
sed -i "s|^log = .*|log = \"$T/logdir.jsonl\"|" "$P"
row audit-log-is-a-directory 1 "$T/logdir.jsonl" "$MIGRATE" run "$P"
must "something landed" nothing_landed
done_row

echo "== hostile sources"
rm -rf "$T/lake" "$T/audit"
# A name that is not UTF-8: refused, on record with the object and why.
mkdir -p "$T/s-utf8"
echo ok >"$T/s-utf8/good.csv"
echo bad >"$T/s-utf8/$(printf 'bad\xff.csv')"
base_plan "$P" h-utf8 "$T/s-utf8"
row name-not-UTF-8 0 "not valid UTF-8" "$MIGRATE" run --json "$P"
must "not refused" json_is 'd["counts"]["refused"]' 1
must "good.csv did not land" json_is 'd["counts"]["stored"]' 1
must "the refusal is on record without the object and the reason" \
    grep -q '"event":"security.refused","object":"bad.*not valid UTF-8' "$T/audit/h-utf8.jsonl"
done_row

# A 255-byte name: NAME.age cannot exist in the lake; refused up front,
# not a partial run that no re-run can finish.
mkdir -p "$T/s-255"
echo y >"$T/s-255/ok.csv"
n255=$(printf 'n%.0s' $(seq 1 255))
echo x >"$T/s-255/$n255"
base_plan "$P" h-255 "$T/s-255"
row name-of-255-bytes 0 "nnnnnnnnnn" "$MIGRATE" run --json "$P"
must "not refused" json_is 'd["counts"]["refused"]' 1
must "temporaries left" eval '[ -z "$(find "$T/lake" -name "*migrate-tmp*")" ]'
done_row

# A 4,096-byte path: refused, not truncated.
long=$(python3 -c 'print("/".join(["d" * 200] * 20))')
mkdir -p "$T/s-long/$long" && echo x >"$T/s-long/$long/f.csv"
echo y >"$T/s-long/short.csv"
base_plan "$P" h-long "$T/s-long"
row path-of-4096-bytes 0 "" "$MIGRATE" run --json "$P"
must "not refused" json_is 'd["counts"]["refused"]' 1
must "short.csv did not land" json_is 'd["counts"]["stored"]' 1
done_row

# A zip bomb: 1 GiB of zeros in a 1 MB zip (1000:1) is refused from its
# central directory, before anything lands, in bounded memory
# (source.max_expansion_ratio, default 100; tests/integration/archive_hostile.sh
# has the rest).
python3 - "$T/bomb.zip" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    with z.open("zeros.bin", "w", force_zip64=True) as f:
        chunk = b"\0" * (1 << 20)
        for _ in range(1024):
            f.write(chunk)
PY
base_plan "$P" h-bomb "$T/bomb.zip" replatform
row zip-bomb-1-GiB 1 "zeros.bin: the archive expands to at least 1073741824 bytes" "$MIGRATE" run --json "$P"
must "the limit not named" grep -qF "more than max_expansion_ratio = 100 times" "$T/err"
must "peak RSS above 256 MiB" rss_below 262144
must "zeros.bin landed" not_landed "zeros.bin*"
must "the refusal is not on record" grep -q '"event":"security.refused".*bomb.zip: zeros.bin' "$T/audit/h-bomb.jsonl"
done_row
echo "       (peak RSS $(tail -n 1 "$T/rss") KiB)"

# Absolute and ".." names in a zip.
python3 - "$T/names.zip" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("/etc/abs.txt", b"abs")
    z.writestr("../up.txt", b"up")
    z.writestr("a/../../up2.txt", b"up2")
    z.writestr("ok.txt", b"ok")
PY
base_plan "$P" h-zipnames "$T/names.zip"
row zip-absolute-and-dotdot 0 "absolute path" "$MIGRATE" run --json "$P"
must "not all three refused" json_is 'd["counts"]["refused"]' 3
must "an escaping name landed" eval '[ -z "$(find "$T/lake" -name "*abs*" -o -name "*up*")" ]'
must "not on record" grep -q '"event":"security.refused","object":"/etc/abs.txt"' "$T/audit/h-zipnames.jsonl"
done_row

# Devices, FIFOs and hard links inside a tar.
python3 - "$T/dev.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    def add(name, data=b"x", type=tarfile.REGTYPE, link=""):
        i = tarfile.TarInfo(name); i.type = type; i.linkname = link
        i.size = len(data) if type == tarfile.REGTYPE else 0
        if type in (tarfile.CHRTYPE, tarfile.BLKTYPE):
            i.devmajor, i.devminor = 1, 3
        t.addfile(i, io.BytesIO(data) if type == tarfile.REGTYPE else None)
    add("a/ok.csv", b"ok\n")
    add("b/blk", type=tarfile.BLKTYPE)
    add("c/chr", type=tarfile.CHRTYPE)
    add("d/fifo", type=tarfile.FIFOTYPE)
    add("e/hard", type=tarfile.LNKTYPE, link="../../etc/passwd")
PY
base_plan "$P" h-dev "$T/dev.tar"
row tar-devices-and-links 0 "device or special file" "$MIGRATE" run --json "$P"
must "devices not refused" json_is 'd["counts"]["refused"]' 3
must "the hard link was not left out" json_is 'd["counts"]["skipped"]' 1
must "only a/ok.csv lands" json_is 'd["counts"]["stored"]' 1
must "a device landed" eval '[ -z "$(find "$T/lake" -name "blk*" -o -name "chr*" -o -name "fifo*" -o -name "hard*")" ]'
done_row

# Members in an order that is not sorted: every one lands in one run.
mkdir -p "$T/ord"
echo b >"$T/ord/b.txt"
echo a >"$T/ord/a.txt"
tar -C "$T/ord" -cf "$T/order.tar" b.txt a.txt
base_plan "$P" h-order "$T/order.tar"
row tar-members-not-sorted 0 "" "$MIGRATE" run --json "$P"
must "not every member landed in the first run" json_is 'd["counts"]["stored"]' 2
done_row

# The same member name twice: what lands is what tar(1) extracts (the
# last), or the duplicate is refused and on record; never silently the
# first.
python3 - "$T/dup.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    for data in (b"first\n", b"second\n"):
        i = tarfile.TarInfo("dup.csv"); i.size = len(data)
        t.addfile(i, io.BytesIO(data))
PY
base_plan "$P" h-dup "$T/dup.tar"
row tar-duplicate-member 0 "" "$MIGRATE" run --json "$P"
dup_ok() {
	local run
	if grep -q '"object":"dup.csv".*duplicate' "$T/audit/h-dup.jsonl"; then return 0; fi
	run=$(json "$T/out" 'd["run"]')
	rm -rf "$T/dup-back"
	"$MIGRATE" restore "$P" --run "$run" -i "$KEY" --to "$T/dup-back" || return 1
	[ "$(cat "$T/dup-back/dup.csv")" = second ]
}
must "landed the first of two members named dup.csv, silently" dup_ok
done_row

echo "== corrupted lakes"
mkdir -p "$T/s-lake"
for i in 1 2 3; do echo "row $i" >"$T/s-lake/f$i.csv"; done
base_plan "$T/c.toml" c "$T/s-lake"
expect_exit 0 "$MIGRATE" run --json "$T/c.toml"
RUN=$(json "$T/out" 'd["run"]')
B=$T/lake/$(json "$T/out" 'd["run_dir"]')
cp -a "$B" "$T/pristine-bag"
cp "$T/audit/c.jsonl" "$T/pristine.jsonl"
reset_lake() {
	rm -rf "$B" "$T/back"
	cp -a "$T/pristine-bag" "$B"
	cp "$T/pristine.jsonl" "$T/audit/c.jsonl"
}
names() { grep -aqF -- "$1" "$T/all"; }

reset_lake; head -c 40 "$B/bag-info.txt" >"$T/x"; mv "$T/x" "$B/bag-info.txt"
row truncated-bag-info 3 "problem" "$MIGRATE" verify "$T/c.toml"
must "bag-info.txt not named" names bag-info.txt
done_row
reset_lake; echo "$(sha256sum /etc/hostname | cut -d' ' -f1)  data/../../../../etc/hostname" >>"$B/manifest-sha256.txt"
row manifest-with-dotdot 3 "problem" "$MIGRATE" verify "$T/c.toml"
must "the ../ entry not named" names "etc/hostname"
done_row
reset_lake; head -c 3000 /dev/urandom >"$B/manifest-sha256.txt"
row manifest-of-binary-garbage 3 "problem" "$MIGRATE" verify "$T/c.toml"
must "manifest-sha256.txt not named" names manifest-sha256.txt
done_row
reset_lake; rm "$B/data/f1.csv.age"; ln -s /etc/passwd "$B/data/f1.csv.age"
row object-is-a-symlink-out 3 "" "$MIGRATE" verify --deep -i "$KEY" "$T/c.toml"
must "the planted link not named" names "f1.csv.age"
done_row
row restore-through-symlink 1 "symbolic link" "$MIGRATE" restore "$T/c.toml" --run "$RUN" -i "$KEY" --to "$T/back"
must "restored something from the link" no_file "$T/back/f1.csv"
done_row
reset_lake; ln -s /etc "$B/data/etc"
row symlinked-dir-in-bag 3 "" "$MIGRATE" verify "$T/c.toml"
must "the planted link not named" names "data/etc"
done_row
reset_lake; rm "$B/data/f2.csv.age"; mkfifo "$B/data/f2.csv.age"
row object-is-a-FIFO 3 "" "$MIGRATE" verify --deep -i "$KEY" "$T/c.toml"
must "the FIFO not named" names "f2.csv.age"
done_row
reset_lake; echo junk >"$B/data/extra.bin"
row extra-payload-file 3 "not in any payload manifest" "$MIGRATE" verify "$T/c.toml"
must "the extra file not named" names "data/extra.bin"
done_row
reset_lake; echo junk >"$B/data/.f1.csv.age.migrate-tmp-0badf00d"
row stray-temporary-in-bag 3 "not in any payload manifest" "$MIGRATE" verify "$B"
must "the temporary not named" names "migrate-tmp-0badf00d"
done_row
reset_lake; rm "$B/_SUCCESS"
row no-_SUCCESS 3 "no _SUCCESS" "$MIGRATE" verify "$T/c.toml"
done_row
reset_lake; sed -i 's/1.0/9.9/' "$B/bagit.txt"
row bagit-version-9.9 3 "unsupported BagIt-Version 9.9" "$MIGRATE" verify "$T/c.toml"
done_row
reset_lake; sed -i 's/Payload-Oxum: [0-9]*/Payload-Oxum: 1/' "$B/bag-info.txt"
row payload-oxum-wrong 3 "Payload-Oxum" "$MIGRATE" verify "$T/c.toml"
done_row
reset_lake; head -c 500 /dev/urandom >"$B/migrate-manifest.json.age"
row encrypted-manifest-garbage 3 "migrate-manifest.json.age" "$MIGRATE" verify --deep -i "$KEY" "$T/c.toml"
done_row
reset_lake; mkdir -p "$T/outside" "$T/back"; echo precious >"$T/outside/victim"
ln -s "$T/outside/victim" "$T/back/f1.csv"
row restore-over-planted-link 1 "refusing to replace" "$MIGRATE" restore "$T/c.toml" --run "$RUN" -i "$KEY" --to "$T/back"
must "wrote through the planted link" eval '[ "$(cat "$T/outside/victim")" = precious ]'
done_row

echo "== corrupted audit logs"
reset_lake
python3 - "$T/audit/c.jsonl" <<'PY'
import sys
p = sys.argv[1]
b = open(p, "rb").read()
i = b.index(b"\n") + 20
open(p, "wb").write(b[:i] + b"\0" + b[i + 1:])
PY
row audit-log-with-NUL 3 ":2:" "$MIGRATE" audit verify "$T/audit/c.jsonl"
done_row
row run-after-NUL-keeps-the-break 3 ":2:" sh -c '"$1" run "$2" >/dev/null 2>&1; "$1" audit verify "$3"' sh "$MIGRATE" "$T/c.toml" "$T/audit/c.jsonl"
done_row
reset_lake
python3 -c 'import sys; open(sys.argv[1], "ab").write(b"{\"v\":1,\"x\":\"" + b"A" * 2000000 + b"\"}\n")' "$T/audit/c.jsonl"
row audit-line-of-2-MB 3 "longer than" "$MIGRATE" audit verify "$T/audit/c.jsonl"
must "more than 64 MiB of memory" rss_below 65536
done_row
row audit-show-2-MB-line 0 "not an audit record" "$MIGRATE" audit show "$T/audit/c.jsonl"
must "more than 64 MiB of memory" rss_below 65536
done_row
row run-after-2-MB-keeps-the-break 3 "longer than" sh -c '"$1" run "$2" >/dev/null 2>&1; "$1" audit verify "$3"' sh "$MIGRATE" "$T/c.toml" "$T/audit/c.jsonl"
done_row
reset_lake; head -n 3 "$T/pristine.jsonl" >"$T/audit/c.jsonl"
row audit-log-cut-after-bag 3 "the log was cut or rewritten" "$MIGRATE" verify "$T/c.toml"
done_row
reset_lake; sed -i '3s/"bytes":[0-9]*/"bytes":999/' "$T/audit/c.jsonl"
row audit-record-edited 3 "prev is not the SHA-256 of line 3" "$MIGRATE" audit verify "$T/audit/c.jsonl"
done_row

echo "hostile table: $PASS passed, ${#FAILS[@]} failed"
if [ "${#FAILS[@]}" -gt 0 ]; then
	printf '  failed: %s\n' "${FAILS[@]}"
	exit 1
fi
echo ok
