#!/usr/bin/env bash
# Archive sources as an adversary makes them (issue 21, item 6):
#   zip bomb 1000:1          refused before anything lands (exit 1, the
#                            archive, the entry and the limit named,
#                            security.refused on record), in bounded memory
#   tar.gz bomb 1000:1       the same
#   ordinary 15:1 CSV zip    lands under the default limit; a plan's
#                            max_expansion_ratio = 10 refuses it, a plan's
#                            max_expanded_bytes too
#   limit raised in a plan   max_expansion_ratio = 2000 lets a 1000:1
#                            archive land: the limit is the plan's
#   sizes that lie           a zip whose headers announce 1000 bytes for
#                            64 MiB of zeros: stopped while reading, the
#                            entry never lands
#   zip cut short            central directory cut off or cut into: refused
#                            (exit 3), never landed from its local headers,
#                            where its symbolic link reads as a regular file
#   zip with a symlink       the link is skipped and on record, never a file
. "$(dirname "$0")/lib.sh"
setup_plans
GNU_TIME=
[ -x /usr/bin/time ] && /usr/bin/time -f %M true >/dev/null 2>&1 && GNU_TIME=/usr/bin/time

# aplan FILE NAME SRC [STRATEGY [SOURCE-KEYS]]: a plan for archive SRC.
aplan() {
	cat >"$1" <<PLAN
version = 1
name = "$2"
strategy = "${4:-replatform}"
[source]
path = "$3"
${5:-}
[destination]
url = "file://$T/lake"
[encryption]
recipients_file = "$T/p/keys/demo.pub"
[audit]
log = "$T/audit/$2.jsonl"
PLAN
}
# run_rss CMD...: expect_exit's output files, peak RSS (KiB) in $T/rss.
run_rss() {
	if [ -n "$GNU_TIME" ]; then
		"$GNU_TIME" -f %M -o "$T/rss" "$@" >"$T/out" 2>"$T/err"
	else
		"$@" >"$T/out" 2>"$T/err"
		echo 0 >"$T/rss"
	fi
}
rc_is() {	# rc_is WANT GOT WHAT
	[ "$2" = "$1" ] || { cat "$T/out" "$T/err" >&2; fail "$3: exit $2, want $1"; }
}
nothing_landed() {
	[ -z "$(find "$T/lake" -name '*.age' 2>/dev/null)" ] ||
	    fail "$1: something landed: $(find "$T/lake" -name '*.age' | head -n 3)"
}
rss_below() {	# rss_below KIB WHAT
	[ "$(tail -n 1 "$T/rss" | grep -o '[0-9]*$')" -lt "$1" ] ||
	    fail "$2: peak RSS $(tail -n 1 "$T/rss") KiB"
}

echo "zip bomb 1000:1"
python3 - "$T/bomb.zip" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    with z.open("zeros.bin", "w", force_zip64=True) as f:
        chunk = b"\0" * (1 << 20)
        for _ in range(256):
            f.write(chunk)
PY
aplan "$T/b.toml" zbomb "$T/bomb.zip"
run_rss "$MIGRATE" run --no-progress "$T/b.toml"
rc_is 1 $? "zip bomb"
expect_err "bomb.zip: zeros.bin: the archive expands to at least 268435456 bytes from its"
expect_err "more than max_expansion_ratio = 100 times; refused as a likely decompression bomb"
nothing_landed "zip bomb"
grep -q '"event":"security.refused".*"reason":"[^"]*bomb.zip: zeros.bin: [^"]*max_expansion_ratio = 100' \
    "$T/audit/zbomb.jsonl" || fail "the zip bomb's refusal is not on record"
rss_below 65536 "zip bomb"
echo "  ok: exit 1, $(grep -m1 -o 'zeros.bin: the archive expands[^,]*' "$T/err")"

echo "tar.gz bomb 1000:1"
python3 - "$T/bomb.tar.gz" <<'PY'
import sys, tarfile
class Zeros:
    def __init__(self, n): self.n = n
    def read(self, k=-1):
        k = self.n if k < 0 else min(k, self.n)
        self.n -= k
        return b"\0" * k
with tarfile.open(sys.argv[1], "w:gz", compresslevel=9) as t:
    i = tarfile.TarInfo("zeros.bin"); i.size = 256 << 20
    t.addfile(i, Zeros(i.size))
PY
aplan "$T/tb.toml" tbomb "$T/bomb.tar.gz"
run_rss "$MIGRATE" run --no-progress "$T/tb.toml"
rc_is 1 $? "tar.gz bomb"
expect_err "bomb.tar.gz: zeros.bin: the archive expands to at least 268435456 bytes"
expect_err "max_expansion_ratio = 100"
nothing_landed "tar.gz bomb"
grep -q '"event":"security.refused".*bomb.tar.gz: zeros.bin' "$T/audit/tbomb.jsonl" ||
    fail "the tar.gz bomb's refusal is not on record"
rss_below 65536 "tar.gz bomb"
echo "  ok: exit 1, refused and on record"

echo "ordinary CSV, about 15:1"
# The rows of tests/unit/test_stream.c make_csv(): deflate 15:1, zstd 13:1.
python3 - "$T/orders.zip" <<'PY'
import os, sys, zipfile
M = (1 << 64) - 1
x, rows = 0x9e3779b97f4a7c15, []
size = 0
while size < 8 << 20:
    x ^= (x << 13) & M; x ^= x >> 7; x ^= (x << 17) & M
    r = b"2024-03-%02d,store-%02d,status=ACTIVE,currency=EUR,qty=%d\n" % (1 + x % 28, (x >> 8) % 16, (x >> 16) % 10)
    rows.append(r); size += len(r)
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("orders.csv", b"".join(rows))
ratio = size / os.path.getsize(sys.argv[1])
assert 10 < ratio < 30, ratio
PY
rm -rf "$T/lake"
aplan "$T/o.toml" orders "$T/orders.zip"
expect_exit 0 "$MIGRATE" run --no-progress --json "$T/o.toml"
[ "$(json "$T/out" 'd["counts"]["stored"]')" = 1 ] || fail "the ordinary zip did not land"
expect_exit 0 "$MIGRATE" verify --deep -i "$KEY" "$T/o.toml"
echo "  ok: lands under the default limit, deep verify passes"
rm -rf "$T/lake"
aplan "$T/o10.toml" orders10 "$T/orders.zip" replatform 'max_expansion_ratio = 10'
expect_exit 1 "$MIGRATE" run --no-progress "$T/o10.toml"
expect_err "orders.zip: orders.csv:"
expect_err "more than max_expansion_ratio = 10 times"
nothing_landed "max_expansion_ratio = 10"
echo "  ok: max_expansion_ratio = 10 in the plan refuses it (exit 1)"
aplan "$T/ob.toml" ordersb "$T/orders.zip" replatform 'max_expanded_bytes = 1_000_000'
expect_exit 1 "$MIGRATE" run --no-progress "$T/ob.toml"
expect_err "orders.zip: orders.csv: the archive expands to at least 8388"
expect_err "more than max_expanded_bytes = 1000000; refused"
nothing_landed "max_expanded_bytes"
echo "  ok: max_expanded_bytes = 1_000_000 refuses its 8 MiB (exit 1)"

echo "the limit raised in the plan"
python3 - "$T/zeros64.zip" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    z.writestr("zeros.bin", b"\0" * (64 << 20))
PY
aplan "$T/z.toml" zeros "$T/zeros64.zip"
expect_exit 1 "$MIGRATE" run --no-progress "$T/z.toml"
expect_err "max_expansion_ratio = 100"
aplan "$T/z.toml" zeros "$T/zeros64.zip" replatform 'max_expansion_ratio = 2000'
expect_exit 0 "$MIGRATE" run --no-progress --json "$T/z.toml"
[ "$(json "$T/out" 'd["bytes_in"]')" = $((64 << 20)) ] || fail "the 64 MiB did not land whole"
echo "  ok: refused at 100, lands at max_expansion_ratio = 2000"

echo "sizes that lie"
rm -rf "$T/lake"
python3 - "$T/liar.zip" <<'PY'
import struct, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    z.writestr("zeros.bin", b"\0" * (64 << 20))
d = bytearray(open(sys.argv[1], "rb").read())
# Both headers announce 1000 bytes for the 64 MiB.
struct.pack_into("<I", d, 22, 1000)
cd = d.find(b"PK\x01\x02")
struct.pack_into("<I", d, cd + 24, 1000)
open(sys.argv[1], "wb").write(d)
PY
aplan "$T/l.toml" liar "$T/liar.zip"
run_rss "$MIGRATE" run --no-progress "$T/l.toml"
rc_is 1 $? "lying sizes"
expect_err "liar.zip: zeros.bin: expands to at least"
expect_err "it takes in the archive, more than max_expansion_ratio = 100 times"
nothing_landed "lying sizes"
grep -q '"object":"zeros.bin".*max_expansion_ratio' "$T/audit/liar.jsonl" ||
    fail "the lying entry's failure is not on record"
grep -q '"event":"security.refused".*liar.zip: zeros.bin' "$T/audit/liar.jsonl" ||
    fail "the lying entry's refusal is not on record"
rss_below 65536 "lying sizes"
echo "  ok: exit 1, stopped while reading, zeros.bin never landed"

echo "zip cut short"
python3 - "$T/link.zip" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    i = zipfile.ZipInfo("ok.txt"); i.create_system = 3; i.external_attr = 0o100644 << 16
    z.writestr(i, b"ok\n")
    i = zipfile.ZipInfo("ln"); i.create_system = 3; i.external_attr = 0o120777 << 16
    z.writestr(i, b"/etc/passwd")
PY
read -r cd eocd < <(python3 -c '
import struct, sys
d = open(sys.argv[1], "rb").read()
e = d.rfind(b"PK\x05\x06")
print(struct.unpack("<I", d[e + 16:e + 20])[0], e)' "$T/link.zip")
for cut in "end-record-removed:$eocd" "inside-the-directory:$((cd + 4))" "at-the-directory:$cd"; do
	rm -rf "$T/lake" "$T/audit"
	head -c "${cut#*:}" "$T/link.zip" >"$T/cut.zip"
	aplan "$T/c.toml" cut "$T/cut.zip" rehost
	expect_exit 3 "$MIGRATE" run --no-progress "$T/c.toml"
	expect_err "cut.zip: a zip without its central directory (cut short or truncated?): refused"
	nothing_landed "zip cut ${cut%%:*}"
	echo "  ok: ${cut%%:*}: exit 3, refused, nothing landed"
done

echo "tar cut short between the inventory and the landing"
# The inventory read the whole archive; what the landing then cannot read
# must say why, not call the members "vanished".
mkdir -p "$T/tcut"
for f in a b c; do head -c 200000 /dev/urandom >"$T/tcut/$f.bin"; done
tar -C "$T/tcut" -cf "$T/tcut.tar" a.bin b.bin c.bin
rm -rf "$T/lake" "$T/audit"
aplan "$T/tc.toml" tcut "$T/tcut.tar" rehost
hook_start "point=inventory.done action=pause" "$MIGRATE_HOOKS" run --no-progress "$T/tc.toml"
hook_wait inventory.done
truncate -s 300000 "$T/tcut.tar"
hook_resume
hook_end
[ "$HOOK_RC" != 0 ] || fail "a cut archive landed whole: exit 0"
expect_err "c.bin: not read from the source archive: "
grep -q 'vanished' "$T/err" && fail "a read error called a member vanished: $(cat "$T/err")"
echo "  ok: exit $HOOK_RC, the read error is named"

echo "zip with a symbolic link"
rm -rf "$T/lake" "$T/audit"
aplan "$T/s.toml" link "$T/link.zip" rehost
expect_exit 0 "$MIGRATE" run --no-progress --json "$T/s.toml"
expect_err "skipped ln: symbolic link in archive"
[ "$(json "$T/out" 'd["counts"]["stored"]')" = 1 ] || fail "ok.txt did not land"
[ "$(json "$T/out" 'd["counts"]["skipped"]')" = 1 ] || fail "the link was not left out"
[ -z "$(find "$T/lake" -name 'ln*')" ] || fail "the symbolic link landed as a file"
grep -q '"event":"object.skipped","object":"ln","reason":"symbolic link in archive"' \
    "$T/audit/link.jsonl" || fail "the skipped link is not on record"
echo "  ok: ln skipped and on record, ok.txt landed"

echo "plan check"
aplan "$T/bad.toml" bad "$T/link.zip" rehost 'max_expansion_ratio = 0'
expect_exit 2 "$MIGRATE" plan check "$T/bad.toml"
expect_err "bad.toml:6:23: source.max_expansion_ratio must be a positive integer, not 0"
echo "  ok: exit 2 with file:line:col"
echo ok
