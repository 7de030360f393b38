#!/usr/bin/env bash
# audit show never lets what a log holds act on a terminal.  Each case is
# named after the attack it stops; each failed on the binary before it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/audit_gen.bash"
build_audit_gen

cd "$T" || exit 1
"$AUDIT_GEN" keygen audit.pem || fail "keygen"
# 56 lines, checkpoints every 10 seqs and at the end (line 56), all signed.
"$AUDIT_GEN" good.jsonl 50 -k audit.pem -e 10 >/dev/null || fail "generate"
expect_exit 0 "$MIGRATE" audit verify good.jsonl --key audit.pem.pub

echo "== hostile run field escaped"
# A log written by hand: every string carries terminal escapes (OSC title,
# clear screen, 8-bit CSI, right-to-left override, DEL); the chain is valid.
python3 - hostile.jsonl <<'PY' || fail "write hostile log"
import hashlib, json, sys
E = "\x1b]0;pwned\x07\x1b[2J\u009b31m\u202e\x7f"
recs, prev = [], "0" * 64
def add(**d):
    global prev
    r = {"v": 1, "seq": len(recs) + 1, "ts": "2026-11-25T19:07:05.%06dZ" % len(recs),
         "run": "20261125T190705Z-" + E, "plan": "p" + E, "actor": "a" + E, "event": d.pop("event")}
    r.update(d)
    r["prev"] = prev
    line = json.dumps(r, separators=(",", ":"), ensure_ascii=False)
    recs.append(line)
    prev = hashlib.sha256(line.encode()).hexdigest()
add(event="run.start")
add(event="object.stored", object="data/" + E + ".csv", bytes=5, outcome="st" + E)
add(event="object.failed", object="x", reason="why" + E)
add(event="checkpoint", head=prev)
open(sys.argv[1], "w").write("\n".join(recs) + "\n")
PY
expect_exit 0 "$MIGRATE" audit verify hostile.jsonl
# raw FILE: fails when FILE holds a byte a terminal would act on.
raw() {
	python3 - "$1" <<'PY'
import re, sys
b = open(sys.argv[1], "rb").read()
bad = re.search(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\xa8-\xae]|\xe2\x81[\xa6-\xa9]", b)
if bad:
    print("raw control bytes at offset %d: %r" % (bad.start(), b[bad.start():bad.start() + 8]))
    sys.exit(1)
PY
}
expect_exit 0 "$MIGRATE" audit show hostile.jsonl
raw "$T/out" || fail "audit show: control bytes reach the terminal"
expect_out 'run 20261125T190705Z-\x1b]0;pwned\x07\x1b[2J\u009b31m\u202e\x7f: 1 files'
expect_out 'data/\x1b]0;pwned'
expect_exit 0 "$MIGRATE" audit show hostile.jsonl --json
raw "$T/out" || fail "audit show --json: control bytes reach the terminal"
# Escaped, the JSON lines still hold exactly what the log holds.
python3 - "$T/out" hostile.jsonl <<'PY' || fail "--json changed the records"
import json, sys
a = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
b = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
sys.exit(a != b)
PY
# On a terminal, cut to its width, and still escaped.
if command -v script >/dev/null; then
	script -qec "stty cols 80 rows 50; '$MIGRATE' audit show hostile.jsonl" /dev/null > tty.out ||
	    fail "script"
	tr -d '\r' < tty.out > "$T/out"
	raw "$T/out" || fail "audit show on a terminal: control bytes reach it"
	expect_out "TIME                RUN      EVENT"
else
	echo "no script(1): the terminal case is not checked"
fi

echo "== audit show: cut on a terminal only, never in a pipe"
"$AUDIT_GEN" show.jsonl 20 -r 20261125T190705Z-aaaaaaaa >/dev/null || fail "generate show"
long=$(printf 'deep/%.0s' $(seq 1 30))file.csv
python3 - show.jsonl "$long" <<'PY' || fail "write long object"
import hashlib, json, sys
lines = open(sys.argv[1]).read().split("\n")[:-1]
prev = hashlib.sha256(lines[-1].encode()).hexdigest()
last = json.loads(lines[-1])
r = {"v": 1, "seq": last["seq"] + 1, "ts": last["ts"], "run": last["run"], "plan": "p",
     "actor": "a@b", "event": "object.stored", "object": sys.argv[2], "bytes": 1, "prev": prev}
open(sys.argv[1], "a").write(json.dumps(r, separators=(",", ":")) + "\n")
PY
COLUMNS=80 expect_exit 0 "$MIGRATE" audit show show.jsonl
expect_out "$long"
expect_out "20261125T190705Z-aaaaaaaa"
if command -v script >/dev/null; then
	script -qec "stty cols 80 rows 50; '$MIGRATE' audit show show.jsonl" /dev/null |
	    tr -d '\r' > "$T/out"
	awk 'length($0) > 80 { exit 1 }' "$T/out" || { cat "$T/out"; fail "table wider than 80 on a terminal"; }
	expect_out "aaaaaaaa object.stored"
	expect_out ".../deep/file.csv"
	grep -qF -- "$long" "$T/out" && fail "not cut on a terminal"
	script -qec "stty cols 80 rows 50; '$MIGRATE' audit show show.jsonl --wide" /dev/null |
	    tr -d '\r' > "$T/out"
	expect_out "$long"
fi

echo "audit_strict: ok"
