#!/usr/bin/env bash
# Hostile sources: links out of the tree, FIFOs, names with newlines,
# ".." and absolute entries and devices in source archives.  Nothing of
# them is ever written; each is audited.
. "$(dirname "$0")/lib.sh"
setup_plans
src="$T/src"
mkdir -p "$src/sub" "$T/outside"
echo "fine" > "$src/ok.csv"
echo "secret" > "$T/outside/secret.txt"
ln -s "$T/outside/secret.txt" "$src/escape.txt"
ln -s ../ok.csv "$src/sub/inside-link.csv"
ln -s "$T/outside" "$src/dirlink"
mkfifo "$src/pipe"
printf 'x\n' > "$src/$(printf 'new\nline.csv')"

write_plan "$T/h.toml" rehost "$src"
expect_exit 0 timeout 60 "$MIGRATE" run --json "$T/h.toml"
[ "$(json "$T/out" 'd["counts"]["stored"]')" = 1 ] || fail "only ok.csv lands"
[ "$(json "$T/out" 'd["counts"]["refused"]')" = 1 ] || fail "newline name refused"
[ "$(json "$T/out" 'd["counts"]["skipped"]')" -ge 3 ] || fail "links and FIFO skipped"
log="$T/audit/t-rehost.jsonl"
grep -q '"event":"security.refused".*control character' "$log" || fail "no security.refused for the newline name"
grep -q '"event":"object.skipped".*"object":"pipe"' "$log" || fail "FIFO not audited"
grep -q '"event":"object.skipped".*"object":"escape.txt"' "$log" || fail "link not audited"
find "$T/lake" -name '*secret*' | grep -q . && fail "outside file landed"
find "$T/lake" -name '*line*' | grep -q . && fail "newline name landed"

# follow_symlinks = true: the inside link lands, the escaping one is refused.
write_plan "$T/f.toml" replatform "$src" '' 
sed -i 's/^path = .*/&\nfollow_symlinks = true/' "$T/f.toml"
expect_exit 0 timeout 60 "$MIGRATE" run --json "$T/f.toml"
[ "$(json "$T/out" 'd["counts"]["stored"]')" = 2 ] || fail "ok.csv + inside link"
grep -q '"event":"security.refused".*"object":"escape.txt".*outside the source' \
    "$T/audit/t-replatform.jsonl" || fail "escaping link not refused"
find "$T/lake" -name '*secret*' | grep -q . && fail "outside file landed via link"

# A hostile source archive.
python3 - "$T/evil.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    def add(name, data=b"x", type=tarfile.REGTYPE):
        i = tarfile.TarInfo(name); i.size = len(data) if type == tarfile.REGTYPE else 0; i.type = type
        if type == tarfile.SYMTYPE: i.linkname = "/etc/passwd"
        t.addfile(i, io.BytesIO(data) if type == tarfile.REGTYPE else None)
    add("good/a.csv", b"a,b\n1,2\n")
    add("../evil.txt", b"evil")
    add("/etc/abs.txt", b"abs")
    add("good/../../up.txt", b"up")
    add("dev/null0", type=tarfile.CHRTYPE)
    add("link", type=tarfile.SYMTYPE)
PY
write_plan "$T/a.toml" repurchase "$T/evil.tar"
sed -i 's/name = "t-repurchase"/name = "t-archive"/; s/t-repurchase.jsonl/t-archive.jsonl/' "$T/a.toml"
write_plan "$T/b.toml" rehost "$T/evil.tar"
sed -i 's/name = "t-rehost"/name = "t-tar"/; s/t-rehost.jsonl/t-tar.jsonl/' "$T/b.toml"
expect_exit 0 "$MIGRATE" run --json "$T/b.toml"
[ "$(json "$T/out" 'd["counts"]["stored"]')" = 1 ] || fail "only good/a.csv lands"
[ "$(json "$T/out" 'd["counts"]["refused"]')" -ge 4 ] || fail "escaping entries refused"
for bad in evil abs up; do
	find "$T/lake" -name "*$bad*" | grep -q . && fail "$bad landed"
done
for bad in '"../evil.txt"' '"/etc/abs.txt"' '"good/../../up.txt"' '"dev/null0"'; do
	grep -q "\"event\":\"security.refused\",\"object\":$bad" "$T/audit/t-tar.jsonl" ||
	    fail "$bad not refused in the audit"
done
expect_exit 0 "$MIGRATE" run --json "$T/a.toml"
expect_exit 0 "$MIGRATE" verify --deep -i "$KEY" "$T/a.toml"

# A 4,096-byte path is refused, not truncated.
long=$(python3 -c 'print("/".join(["d"*200]*20))')
mkdir -p "$T/src2/$long" 2>/dev/null && echo x > "$T/src2/$long/f.csv" && {
	echo y > "$T/src2/short.csv"
	write_plan "$T/l.toml" rehost "$T/src2"
	sed -i 's/name = "t-rehost"/name = "t-long"/; s/t-rehost.jsonl/t-long.jsonl/' "$T/l.toml"
	expect_exit 0 "$MIGRATE" run --json "$T/l.toml"
	[ "$(json "$T/out" 'd["counts"]["stored"]')" = 1 ] || fail "long path landed"
	[ "$(json "$T/out" 'd["counts"]["refused"]')" -ge 1 ] || fail "long path not refused"
}
echo ok
