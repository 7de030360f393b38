#!/usr/bin/env bash
# migrate audit verify / show end to end: the tamper matrix, torn tails,
# key mismatch, usage errors, and the show table, filters and JSON lines.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/audit_gen.bash"
build_audit_gen

cd "$T" || exit 1
"$AUDIT_GEN" keygen audit.pem || fail "keygen"
"$AUDIT_GEN" keygen other.pem || fail "keygen other"
# 1 run.start + 48 objects (every 50th a failure: none here) + run.end,
# checkpoints after each seq multiple of 10 and at the end.
head=$("$AUDIT_GEN" good.jsonl 50 -k audit.pem -e 10) || fail "generate"
lines=$(wc -l < good.jsonl)
[ "$lines" -eq 56 ] || fail "expected 56 lines, got $lines"

expect_exit 0 "$MIGRATE" audit verify good.jsonl
expect_out "intact: 56 records on 56 lines"
expect_out "NOT checked (give --key PUBKEY)"
expect_exit 0 "$MIGRATE" audit verify good.jsonl --key audit.pem.pub
expect_out "6 of 6 checkpoints signed and valid"
expect_out "lines 1-55 of 56"
grep -qx "checkpoint head: $head" "$T/out" || fail "no checkpoint head line"

# tamper CASE SED_SCRIPT WANT_LINE_PREFIX REASON
tamper() {
	local name=$1 script=$2 where=$3 why=$4
	sed -e "$script" good.jsonl > "$name.jsonl"
	cmp -s good.jsonl "$name.jsonl" && fail "$name: sed changed nothing"
	expect_exit 3 "$MIGRATE" audit verify "$name.jsonl" --key audit.pem.pub
	expect_err "$name.jsonl:$where"
	expect_err "$why"
	expect_out "BROKEN at line"
}
tamper edited '20s/"bytes":18000/"bytes":18001/' '21: seq 21:' \
    'prev is not the SHA-256 of line 20'
tamper edited_json '20s/"bytes":18000/"bytes":18x00/' '20: seq ? (expected 20):' \
    'not a valid record'
tamper deleted '10d' '10: seq 11:' 'records were deleted'
tamper inserted '5p' '6: seq 5:' 'inserted'
tamper swapped '30{h;d};31G' '30: seq 31:' 'seq 31 where 30 was expected'
# Change the first digit whatever it is (a fixed "0" sometimes changed nothing).
tamper forged_head '11{s/"head":"0/"head":"1/;t;s/"head":"[0-9a-f]/"head":"0/}' '11: seq 11:' \
    'forged checkpoint'
tamper forged_sig '11{s/"sig":"A/"sig":"B/;t;s/"sig":"[A-Za-z0-9+/]/"sig":"A/}' '11: seq 11:' \
    'signature does not verify'
tamper blank_line '25a\\' '26: seq ? (expected 26):' 'empty line'

# A signature by another key.
expect_exit 3 "$MIGRATE" audit verify good.jsonl --key other.pem.pub
expect_err "good.jsonl:11: seq 11: checkpoint signed by another key"

# A rewrite without the key: the chain holds, the signatures do not.
python3 - <<'PY' || fail "rewrite"
import hashlib, re
lines = open("good.jsonl", "rb").read().split(b"\n")[:-1]
lines[3] = lines[3].replace(b'"bytes":3000', b'"bytes":3999')
for i in range(4, len(lines)):
    want = hashlib.sha256(lines[i - 1]).hexdigest().encode()
    have = re.search(rb'"prev":"([0-9a-f]{64})"', lines[i]).group(1)
    lines[i] = lines[i].replace(have, want)
open("rewritten.jsonl", "wb").write(b"\n".join(lines) + b"\n")
PY
expect_exit 0 "$MIGRATE" audit verify rewritten.jsonl
expect_exit 3 "$MIGRATE" audit verify rewritten.jsonl --key audit.pem.pub
expect_err "rewritten.jsonl:11: seq 11: checkpoint signature does not verify"

# Torn tail: cut inside the last line, then a new writer seals it.
cp good.jsonl torn.jsonl
size=$(wc -c < torn.jsonl)
truncate -s $((size - 30)) torn.jsonl
expect_exit 3 "$MIGRATE" audit verify torn.jsonl
expect_err "torn.jsonl:56: seq ? (expected 56): torn tail"
"$AUDIT_GEN" torn.jsonl 5 -k audit.pem -r 20261125T200000Z-00000002 \
    >/dev/null || fail "append after a torn tail"
expect_exit 0 "$MIGRATE" audit verify torn.jsonl --key audit.pem.pub
expect_out "torn: 1 torn region(s) recorded by audit.torn; the first: line 56"
grep -q '"event":"audit.torn","torn_offset":' torn.jsonl ||
    fail "no audit.torn record"

# A hash-only log checked against a key has no signed checkpoint.
"$AUDIT_GEN" plain.jsonl 20 >/dev/null || fail "generate plain"
expect_exit 0 "$MIGRATE" audit verify plain.jsonl
expect_out "signatures: none"
expect_exit 3 "$MIGRATE" audit verify plain.jsonl --key audit.pem.pub
expect_err "no checkpoint is signed by key"

# Usage and runtime errors.
expect_exit 2 "$MIGRATE" audit
expect_exit 2 "$MIGRATE" audit verify
expect_exit 2 "$MIGRATE" audit frobnicate good.jsonl
expect_exit 1 "$MIGRATE" audit verify missing.jsonl
expect_err "missing.jsonl"
expect_exit 1 "$MIGRATE" audit verify good.jsonl --key missing.pub
expect_exit 0 "$MIGRATE" audit -h
expect_out "migrate audit verify LOG|PLAN [--key PUBKEY]"
expect_exit 0 "$MIGRATE" help audit

# show: table, summary, filters, JSON lines.
"$AUDIT_GEN" show.jsonl 120 -r 20261125T190705Z-aaaaaaaa >/dev/null &&
"$AUDIT_GEN" show.jsonl 30 -r 20261125T210000Z-bbbbbbbb >/dev/null ||
    fail "generate show log"
# Not on a terminal: every field whole, whatever COLUMNS says (the
# 80-column table on a terminal is checked in audit_strict.sh).
COLUMNS=80 expect_exit 0 "$MIGRATE" audit show show.jsonl
expect_out "TIME                       RUN                       EVENT"
expect_out "20261125T190705Z-aaaaaaaa object.stored    data/part-000001.csv"
expect_out "run 20261125T190705Z-aaaaaaaa: 116 files"
expect_out "2 failures"
expect_out "run 20261125T210000Z-bbbbbbbb: 28 files"
expect_exit 0 "$MIGRATE" audit show show.jsonl --event 'object.fail*' --json
[ "$(wc -l < "$T/out")" -eq 2 ] || fail "--event: want 2 lines"
python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' \
    "$T/out" || fail "--json output is not JSON lines"
expect_exit 0 "$MIGRATE" audit show show.jsonl --run 20261125T210000Z-bbbbbbbb --json
[ "$(wc -l < "$T/out")" -eq 31 ] || fail "--run: want 31 lines"
cp "$T/out" run-full.out
# The 8 characters the table shows select the same records.
expect_exit 0 "$MIGRATE" audit show show.jsonl --run bbbbbbbb --json
cmp -s "$T/out" run-full.out || fail "--run bbbbbbbb differs from the full id"
expect_exit 0 "$MIGRATE" audit show show.jsonl --run bbbbbbb --json
[ ! -s "$T/out" ] || fail "--run with 7 characters matched"
expect_exit 0 "$MIGRATE" audit show show.jsonl --since 2999-01-01 --json
[ ! -s "$T/out" ] || fail "--since in the future printed records"
expect_exit 0 "$MIGRATE" audit show show.jsonl --until 2000-01-01T00:00Z
expect_out "TIME"
expect_exit 2 "$MIGRATE" audit show show.jsonl --since yesterday
expect_err "not a UTC time"
# Lines that are not records are flagged, not fatal.
cp torn.jsonl torn2.jsonl && printf 'junk' >> torn2.jsonl
expect_exit 0 "$MIGRATE" audit show torn2.jsonl
expect_err "not an audit record"
echo "audit_cli: ok"
