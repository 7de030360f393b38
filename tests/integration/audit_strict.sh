#!/usr/bin/env bash
# migrate audit verify --key holds a signed log to its signatures, and
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

# nohashonly: no line of the last report calls the log hash-only.
nohashonly() {
	! grep -q "hash-only" "$T/out" || { cat "$T/out"; fail "$1: reported as hash-only"; }
}

echo "== unsigned tail after the last signed checkpoint"
# Someone who can write the log but has no key appends a run (its own
# checkpoint unsigned): lines 57-62.
cp good.jsonl tail.jsonl
"$AUDIT_GEN" tail.jsonl 5 -r 20261125T200000Z-eeeeeeee >/dev/null || fail "append"
expect_exit 3 "$MIGRATE" audit verify tail.jsonl --key audit.pem.pub
expect_err "tail.jsonl:57: seq 57: 6 record(s) after the last signed checkpoint (line 56, seq 56)"
expect_out "NOT COVERED BY A SIGNATURE from line 57 (seq 57)"
expect_out "--allow-unsigned-tail"
# Accepted only when asked for, and counted.
expect_exit 0 "$MIGRATE" audit verify tail.jsonl --key audit.pem.pub --allow-unsigned-tail
expect_out "unsigned tail: 6 records after the last signed checkpoint, from line 57 (seq 57)"
expect_exit 0 "$MIGRATE" audit verify tail.jsonl --key audit.pem.pub --allow-unsigned-tail --json
[ "$(json "$T/out" 'd["unsigned_tail"]["records"]')" = 6 ] || fail "--json: unsigned_tail.records"
[ "$(json "$T/out" 'd["result"]')" = intact ] || fail "--json: result"
# Without a key nothing changes, but the report says the signatures were not checked.
expect_exit 0 "$MIGRATE" audit verify tail.jsonl
expect_out "intact: 62 records on 62 lines, last seq 62 (hash chain only: signatures NOT checked against a key)"
expect_exit 2 "$MIGRATE" audit verify tail.jsonl --allow-unsigned-tail
expect_err "--allow-unsigned-tail needs --key"

echo "== spliced log"
# ... and then the owner's next run chains onto those records and signs
# over them: the unsigned checkpoint on line 62 gives the splice away.
cp tail.jsonl spliced.jsonl
"$AUDIT_GEN" spliced.jsonl 5 -k audit.pem -r 20261125T210000Z-ffffffff >/dev/null ||
    fail "append signed"
for allow in "" --allow-unsigned-tail; do
	# shellcheck disable=SC2086
	expect_exit 3 "$MIGRATE" audit verify spliced.jsonl --key audit.pem.pub $allow
	expect_err "spliced.jsonl:62: seq 62: unsigned checkpoint between the signed checkpoints on lines 56 and 68"
	expect_err "spliced log"
done
expect_exit 3 "$MIGRATE" audit verify spliced.jsonl --key audit.pem.pub --json
[ "$(json "$T/out" 'd["failure"]["line"], d["failure"]["seq"], d["failure"]["kind"]')" = "(62, 62, 'unsigned')" ] ||
    { cat "$T/out"; fail "--json: failure"; }
# A log that was hash-only until the plan got a key is not a splice.
"$AUDIT_GEN" adopted.jsonl 10 >/dev/null && "$AUDIT_GEN" adopted.jsonl 10 -k audit.pem \
    -r 20261125T210000Z-ffffffff >/dev/null || fail "generate adopted"
expect_exit 0 "$MIGRATE" audit verify adopted.jsonl --key audit.pem.pub
expect_out "unsigned checkpoints: 1"

echo "== tampered signature reported as failed"
# A record edited before the first checkpoint: the check stops there,
# and the report still says the log is signed.
sed -e '5s/"bytes":[0-9]*/"bytes":1/' good.jsonl > edited.jsonl
expect_exit 3 "$MIGRATE" audit verify edited.jsonl --key audit.pem.pub
expect_out "signatures: the log has 6 signed checkpoints"
nohashonly edited
expect_exit 3 "$MIGRATE" audit verify edited.jsonl
expect_out "signatures: 6 signed checkpoints by key"
nohashonly "edited, no key"
# A signature that does not verify, one cut short, one by another key.
sed -e '11{s/"sig":"A/"sig":"B/;t;s/"sig":"[A-Za-z0-9+/]/"sig":"A/}' good.jsonl > forged.jsonl
sed -e '11s/"sig":"[A-Za-z0-9+/]/"sig":"/' good.jsonl > short.jsonl
"$AUDIT_GEN" keygen other.pem || fail "keygen other"
for log in forged short; do
	expect_exit 3 "$MIGRATE" audit verify $log.jsonl --key audit.pem.pub
	expect_out "signatures: FAILED at the checkpoint on line 11 (seq 11):"
	nohashonly $log
	expect_exit 3 "$MIGRATE" audit verify $log.jsonl --key audit.pem.pub --json
	[ "$(json "$T/out" 'd["failure"]["kind"], d["failure"]["line"]')" = "('signature', 11)" ] ||
	    { cat "$T/out"; fail "$log --json: failure"; }
done
expect_out '"reason": "checkpoint sig or key malformed'
expect_exit 3 "$MIGRATE" audit verify good.jsonl --key other.pem.pub
expect_out "signatures: FAILED at the checkpoint on line 11 (seq 11): checkpoint signed by another key"

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

echo "== ssh-ed25519 public key accepted"
# The key as an OpenSSH line, as an auditor may keep it.
python3 - audit.pem.pub > audit.ssh.pub <<'PY' || fail "ssh line"
import base64, struct, subprocess, sys
der = subprocess.run(["openssl", "pkey", "-pubin", "-in", sys.argv[1], "-outform", "DER"],
                     check=True, capture_output=True).stdout
s = lambda b: struct.pack(">I", len(b)) + b
print("ssh-ed25519 " + base64.b64encode(s(b"ssh-ed25519") + s(der[-32:])).decode() + " auditor@host")
PY
expect_exit 0 "$MIGRATE" audit verify good.jsonl --key audit.ssh.pub
expect_out "6 of 6 checkpoints signed and valid"
expect_exit 3 "$MIGRATE" audit verify tail.jsonl --key audit.ssh.pub
if command -v ssh-keygen >/dev/null; then
	ssh-keygen -q -t ed25519 -N '' -f sshother >/dev/null || fail "ssh-keygen ed25519"
	expect_exit 3 "$MIGRATE" audit verify good.jsonl --key sshother.pub
	expect_err "checkpoint signed by another key"
	ssh-keygen -q -t rsa -b 2048 -N '' -f sshrsa >/dev/null || fail "ssh-keygen rsa"
	expect_exit 2 "$MIGRATE" audit verify good.jsonl --key sshrsa.pub
	expect_err "sshrsa.pub: an OpenSSH ssh-rsa key; audit checkpoints are signed with Ed25519"
fi
sed 's/ssh-ed25519 AAAA/ssh-ed25519 AA*A/' audit.ssh.pub > broken.ssh.pub
expect_exit 2 "$MIGRATE" audit verify good.jsonl --key broken.ssh.pub
expect_err "broken.ssh.pub: not an OpenSSH ssh-ed25519 public key"

echo "== audit log pointing at a non-audit file refused"
setup_plans
mkdir -p src && echo "a,b" > src/x.csv
printf 'id,amount\n1,100\n2,250\n' > ledger.csv
cp ledger.csv ledger.orig
printf '{\n  "config": true\n}\n' > settings.json
cp settings.json settings.orig
for target in ledger.csv settings.json; do
	cat > p.toml <<PLAN
version = 1
name = "t-foreign"
strategy = "rehost"
[source]
path = "src"
[destination]
url = "file://$T/lake"
[encryption]
recipients_file = "$T/p/keys/demo.pub"
[audit]
log = "$target"
PLAN
	expect_exit 2 "$MIGRATE" run p.toml
	expect_err "p.toml: audit.log: $target: not an audit log (line 1"
	expect_err "refusing to append audit records to it"
done
cmp -s ledger.csv ledger.orig || fail "the CSV file was changed"
cmp -s settings.json settings.orig || fail "the JSON file was changed"
[ ! -e "$T/lake" ] || fail "data landed although the audit log was refused"
# An empty file is a new log.
: > empty.jsonl
sed -i "s|^log = .*|log = \"empty.jsonl\"|" p.toml
expect_exit 0 "$MIGRATE" run p.toml
expect_exit 0 "$MIGRATE" audit verify empty.jsonl
echo "audit_strict: ok"
