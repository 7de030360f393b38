#!/usr/bin/env bash
# The hand verification of migrate-audit(5) works as printed: the shell
# blocks between the BEGIN-/END- comments of man/migrate-audit.5 are run,
# with nothing but sh, sed, sha256sum, base64 and openssl, on a log
# written by lib/audit, and must accept it and catch tampering.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/audit_gen.bash"
command -v openssl >/dev/null || { echo "no openssl"; exit 77; }
build_audit_gen

man="$REPO_DIR/man/migrate-audit.5"
# extract NAME: the literal block between the NAME markers, unescaped.
extract() {
	sed -n "/^\\.\\\\\" BEGIN-$1/,/^\\.\\\\\" END-$1/p" "$man" |
	    sed -e '/^\.\\"/d' -e '/^\.Bd/d' -e '/^\.Ed/d' \
	    -e 's/\\e/\\/g' -e 's/\\&//g'
}
extract CHAIN-EXAMPLE > "$T/chain.sh"
extract CHECKPOINT-EXAMPLE > "$T/checkpoint.sh"
[ -s "$T/chain.sh" ] && [ -s "$T/checkpoint.sh" ] ||
    fail "examples not found in $man"

mkdir "$T/good" "$T/bad" && cd "$T/good" || exit 1
"$AUDIT_GEN" keygen audit.pem || fail "keygen"
"$AUDIT_GEN" keygen "$T/other.pem" || fail "keygen other"
"$AUDIT_GEN" audit.jsonl 1200 -k audit.pem >/dev/null || fail "generate"
lines=$(wc -l < audit.jsonl)
sed -n 1001p audit.jsonl | grep -q '"event":"checkpoint"' ||
    fail "line 1001 is not a checkpoint"

for shell in sh bash; do
	$shell "$T/chain.sh" > "$T/chain.out" 2>&1 || fail "$shell chain.sh"
	last=$(tail -n 1 audit.jsonl | tr -d '\n' | sha256sum | cut -c1-64)
	grep -qx "checked $lines lines, last line hash $last" "$T/chain.out" ||
	    { cat "$T/chain.out"; fail "$shell: manual chain check"; }
	grep -q "prev is not" "$T/chain.out" && fail "$shell: false alarm"
done

sh "$T/checkpoint.sh" > "$T/cp.out" 2>&1 || { cat "$T/cp.out"; fail "checkpoint.sh"; }
grep -qx "Signature Verified Successfully" "$T/cp.out" ||
    fail "openssl did not verify the checkpoint signature"
head=$(sed -n 's/^head: *//p' "$T/cp.out")
[ ${#head} -eq 64 ] || fail "no head printed"
grep -qx "$head  -" "$T/cp.out" || fail "head is not the hash of line 1000"
key=$(sed -n 's/^key: *//p' "$T/cp.out")
[ ${#key} -eq 64 ] || fail "no key printed"
grep -qx "$key  -" "$T/cp.out" || fail "key is not the public key's hash"
# migrate agrees with the hand check.
expect_exit 0 "$MIGRATE" audit verify audit.jsonl --key audit.pem.pub

# With another public key, openssl refuses the same signature.
cp "$T/other.pem.pub" audit.pem.pub.other
sed 's/audit\.pem\.pub/audit.pem.pub.other/' "$T/checkpoint.sh" > "$T/cp2.sh"
sh "$T/cp2.sh" > "$T/cp2.out" 2>&1
grep -q "Signature Verified Successfully" "$T/cp2.out" &&
    fail "openssl verified with another key"
grep -qx "Signature Verification Failure" "$T/cp2.out" ||
    { cat "$T/cp2.out"; fail "openssl did not refuse another key"; }

# The hand chain check catches an edited line, as migrate does.
cd "$T/bad" || exit 1
sed '500s/"bytes":[0-9]*/"bytes":1/' "$T/good/audit.jsonl" > audit.jsonl
cmp -s audit.jsonl "$T/good/audit.jsonl" && fail "sed changed nothing"
sh "$T/chain.sh" > "$T/bad.out" 2>&1
grep -qx "line 501: prev is not the SHA-256 of line 500" "$T/bad.out" ||
    { cat "$T/bad.out"; fail "manual chain check missed the edit"; }
expect_exit 3 "$MIGRATE" audit verify audit.jsonl
expect_err "audit.jsonl:501: seq 501: prev is not the SHA-256 of line 500"
echo "audit_manual: ok"
