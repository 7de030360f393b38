#!/usr/bin/env bash
# age interoperability: migrate encrypt -> age -d and age -e -> migrate
# decrypt, for one and several recipients, armor, passphrases, edge sizes
# and a large file; tampered and truncated files exit 3 and leave no
# output; key file permissions; "no identity matches" exits 1.
. "$(dirname "$0")/lib.sh"

command -v age >/dev/null 2>&1 || { echo "age not installed"; exit 77; }
command -v age-keygen >/dev/null 2>&1 || { echo "age-keygen missing"; exit 77; }

cd "$T" || fail "cd $T"

# Keys: two made by migrate, one by age-keygen.
expect_exit 0 "$MIGRATE" keygen -o m1.key
expect_err "Public key: age1"
M1=$(sed -n 's/^# public key: //p' m1.key)
[ "$(stat -c %a m1.key)" = 600 ] || fail "keygen file mode $(stat -c %a m1.key)"
grep -q '^# created: ' m1.key || fail "keygen: no created comment"
grep -q '^AGE-SECRET-KEY-1' m1.key || fail "keygen: no secret key"
expect_exit 1 "$MIGRATE" keygen -o m1.key
expect_err "already exists"
expect_exit 0 "$MIGRATE" keygen -o m2.key
M2=$(sed -n 's/^# public key: //p' m2.key)
age-keygen -o a1.key 2>/dev/null || fail "age-keygen"
A1=$(sed -n 's/^# public key: //p' a1.key)
# keygen to stdout: the recipient age derives matches the comment.
expect_exit 0 "$MIGRATE" keygen
grep '^AGE-SECRET-KEY-1' "$T/out" >stdout.key
chmod 600 stdout.key
[ "$(age-keygen -y stdout.key)" = "$(sed -n 's/^# public key: //p' "$T/out")" ] ||
	fail "keygen to stdout: public key differs from age-keygen -y"
[ "$(age-keygen -y m1.key)" = "$M1" ] || fail "age-keygen -y disagrees"

# Inputs: empty, 1 byte, a chunk, a chunk + 1, 20 MiB.
: >s0
printf x >s1
head -c 65536 /dev/urandom >s65536
head -c 65537 /dev/urandom >s65537
head -c 131072 /dev/urandom >s131072
head -c $((20 * 1024 * 1024)) /dev/urandom >s20m
SIZES="s0 s1 s65536 s65537 s131072 s20m"

for f in $SIZES; do
	# migrate -> age
	expect_exit 0 "$MIGRATE" encrypt -r "$A1" -o "$f.m.age" "$f"
	age -d -i a1.key "$f.m.age" >"$f.m.out" || fail "age -d $f"
	cmp -s "$f" "$f.m.out" || fail "migrate->age $f differs"
	# age -> migrate
	age -r "$M1" -o "$f.a.age" "$f" || fail "age -e $f"
	expect_exit 0 "$MIGRATE" decrypt -i m1.key -o "$f.a.out" "$f.a.age"
	cmp -s "$f" "$f.a.out" || fail "age->migrate $f differs"
	# migrate -> migrate, through pipes
	"$MIGRATE" encrypt -r "$M2" <"$f" | "$MIGRATE" decrypt -i m2.key \
	    >"$f.mm.out" || fail "pipe round trip $f"
	cmp -s "$f" "$f.mm.out" || fail "migrate->migrate $f differs"
done
# A chunk-sized plaintext ends with a full final chunk, as age writes it.
[ "$(stat -c %s s65536.m.age)" -eq "$(stat -c %s s65536.a.age)" ] ||
	fail "64 KiB: ciphertext sizes differ from age's"

# Several recipients, -R file with comments, either identity opens it.
printf '# team\n%s\n\n%s\n' "$M1" "$A1" >team.txt
expect_exit 0 "$MIGRATE" encrypt -R team.txt -r "$M2" -o multi.age s65537
age -d -i a1.key multi.age | cmp -s - s65537 || fail "multi: age"
for k in m1.key m2.key; do
	expect_exit 0 "$MIGRATE" decrypt -i "$k" -o multi.$k.out multi.age
	cmp -s s65537 multi.$k.out || fail "multi: $k"
done
age -r "$M1" -r "$A1" -r "$M2" -o amulti.age s1 || fail "age multi"
expect_exit 0 "$MIGRATE" decrypt -i m2.key -o amulti.out amulti.age
cmp -s s1 amulti.out || fail "age multi -> migrate"
# Several identity files, the matching one last.
expect_exit 0 "$MIGRATE" decrypt -i m1.key -i a1.key -o amulti2.out amulti.age

# Armor both ways.
expect_exit 0 "$MIGRATE" encrypt -a -r "$A1" -o arm.m.age s65537
head -n 1 arm.m.age | grep -qx -- '-----BEGIN AGE ENCRYPTED FILE-----' ||
	fail "armor: no BEGIN line"
awk 'NR>1 && !/^-----END/ && length($0) > 64 { exit 1 }' arm.m.age ||
	fail "armor: line over 64 columns"
age -d -i a1.key arm.m.age | cmp -s - s65537 || fail "armor: age -d"
age -a -r "$M1" -o arm.a.age s65537 || fail "age -a"
expect_exit 0 "$MIGRATE" decrypt -i m1.key -o arm.a.out arm.a.age
cmp -s s65537 arm.a.out || fail "armor: age -> migrate"
# Armored output to stdout is allowed, binary to a terminal is not.
if command -v script >/dev/null 2>&1; then
	timeout 120 script -qec "'$MIGRATE' encrypt -r '$A1' s1" /dev/null >tty.out 2>&1
	rc=$?
	[ $rc -eq 2 ] || fail "binary to a terminal: exit $rc, want 2"
	grep -q "terminal" tty.out || fail "binary to a terminal: message"
fi

# Passphrases: migrate <-> migrate through the environment.
export MIG_TEST_PASS='correct horse battery staple'
expect_exit 0 "$MIGRATE" encrypt -p --passphrase-env MIG_TEST_PASS \
    -o pass.age s65537
grep -aq '^-> scrypt ' pass.age || fail "passphrase: no scrypt stanza"
expect_exit 0 "$MIGRATE" decrypt -p --passphrase-env MIG_TEST_PASS \
    -o pass.out pass.age
cmp -s s65537 pass.out || fail "passphrase round trip"
export MIG_WRONG_PASS='incorrect horse'
expect_exit 1 "$MIGRATE" decrypt --passphrase-env MIG_WRONG_PASS \
    -o pass.bad pass.age
expect_err "incorrect passphrase"
[ ! -e pass.bad ] || fail "wrong passphrase left an output file"
expect_exit 2 "$MIGRATE" decrypt --passphrase-env MIG_UNSET_VAR_XYZ pass.age
expect_exit 1 "$MIGRATE" decrypt -i m1.key -o pass.bad pass.age
expect_err "passphrase"
expect_exit 2 "$MIGRATE" encrypt -p -r "$M1" s1
# With age, which reads passphrases from the terminal only: drive it
# through script(1) when that is available.
if command -v script >/dev/null 2>&1; then
	printf '%s\n%s\n' "$MIG_TEST_PASS" "$MIG_TEST_PASS" |
	    timeout 120 script -qec "age -p -o '$T/pass.a.age' '$T/s65537'" /dev/null \
	    >/dev/null 2>&1 || fail "age -p"
	expect_exit 0 "$MIGRATE" decrypt --passphrase-env MIG_TEST_PASS \
	    -o pass.a.out pass.a.age
	cmp -s s65537 pass.a.out || fail "age -p -> migrate"
	printf '%s\n' "$MIG_TEST_PASS" |
	    timeout 120 script -qec "age -d -o '$T/pass.m.out' '$T/pass.age'" /dev/null \
	    >/dev/null 2>&1 || fail "migrate -p -> age -d"
	cmp -s s65537 pass.m.out || fail "migrate -p -> age differs"
	# migrate's own terminal prompt (asked twice when encrypting).
	printf 'tty-pass\ntty-pass\n' |
	    timeout 120 script -qec "'$MIGRATE' encrypt -p -o '$T/tty.age' '$T/s1'" \
	    /dev/null >/dev/null 2>&1 || fail "migrate -p from a terminal"
	printf 'tty-pass\n' |
	    timeout 120 script -qec "'$MIGRATE' decrypt -p -o '$T/tty.out' '$T/tty.age'" \
	    /dev/null >/dev/null 2>&1 || fail "migrate decrypt -p (terminal)"
	cmp -s s1 tty.out || fail "terminal passphrase round trip"
	printf 'one\ntwo\n' |
	    timeout 120 script -qec "'$MIGRATE' encrypt -p -o '$T/tty2.age' '$T/s1'" \
	    /dev/null >tty2.log 2>&1 && fail "mismatched passphrases accepted"
	grep -q "do not match" tty2.log || fail "mismatch: message"
	[ ! -e tty2.age ] || fail "mismatch: output left"
fi

# Tampering: every case exits 3 and leaves no output (nor temporary).
head -c 140000 /dev/urandom >s140000
age -r "$M1" -o t.age s140000 || fail "age -e for tamper"
expect_exit 0 "$MIGRATE" decrypt -i m1.key -o t.out t.age
cmp -s s140000 t.out || fail "tamper base file"
size=$(stat -c %s t.age)
hdr=$(grep -abo -m 1 -- '^--- ' t.age | cut -d: -f1)
hdrlen=$((hdr + 4 + 43 + 1))	# "--- " MAC LF
flip() { flip_byte "$@"; }
check_tampered() { # check_tampered NAME
	expect_exit 3 "$MIGRATE" decrypt -i m1.key -o "$1.out" "$1"
	[ ! -e "$1.out" ] || fail "$1: output file left behind"
	if ls -a | grep -q 'migrate-tmp'; then fail "$1: temporary left"; fi
}
cp t.age hdrmac.age; flip hdrmac.age $((hdr + 5))
check_tampered hdrmac.age
cp t.age hdrver.age; flip hdrver.age 20
check_tampered hdrver.age
cp t.age payload.age; flip payload.age $((hdrlen + 16 + 70000))
check_tampered payload.age
cp t.age lasttag.age; flip lasttag.age $((size - 1))
check_tampered lasttag.age
head -c $((hdrlen + 16 + 65552)) t.age >trunc_chunk.age
check_tampered trunc_chunk.age
head -c $((hdrlen + 16 + 2 * 65552)) t.age >trunc_chunk2.age
check_tampered trunc_chunk2.age
head -c $((hdrlen + 16 + 1000)) t.age >trunc_mid.age
check_tampered trunc_mid.age
head -c $((size - 1)) t.age >trunc_last.age
check_tampered trunc_last.age
head -c "$hdrlen" t.age >trunc_hdr.age
check_tampered trunc_hdr.age
head -c $((hdr + 10)) t.age >trunc_inhdr.age
check_tampered trunc_inhdr.age
{ cat t.age; printf x; } >append1.age
check_tampered append1.age
{ cat t.age; head -c 65552 /dev/zero; } >appendchunk.age
check_tampered appendchunk.age
# Armor: garbage after END, and a non-canonical last line.
{ cat arm.a.age; echo junk; } >armjunk.age
check_tampered armjunk.age
sed '$d' arm.a.age | sed '$d' >armtrunc.age
echo '-----END AGE ENCRYPTED FILE-----' >>armtrunc.age
check_tampered armtrunc.age
# A failed decryption never replaces an existing output file.
echo keep >keep.out
expect_exit 3 "$MIGRATE" decrypt -i m1.key -o keep.out trunc_mid.age
[ "$(cat keep.out)" = keep ] || fail "failed decryption replaced output"

# Key file readable by others: refused (1), and the message says why.
cp m1.key open.key
chmod 644 open.key
expect_exit 1 "$MIGRATE" decrypt -i open.key -o x.out t.age
expect_err "group or others"
[ ! -e x.out ] || fail "refused key left output"

# No identity matches: 1.
expect_exit 1 "$MIGRATE" decrypt -i m2.key -o nomatch.out t.age
expect_err "no identity matched"
[ ! -e nomatch.out ] || fail "no-match left output"

# Usage errors: 2; help: 0 on stdout.
expect_exit 2 "$MIGRATE" encrypt s1
expect_exit 2 "$MIGRATE" decrypt t.age
expect_exit 2 "$MIGRATE" encrypt -r "$M1" -o x.age s1 s1
expect_exit 2 "$MIGRATE" encrypt -r age1notarecipient -o x.age s1
expect_exit 2 "$MIGRATE" decrypt -i missing.key t.age
for v in keygen encrypt decrypt; do
	expect_exit 0 "$MIGRATE" "$v" --help
	expect_out "usage: migrate $v"
	expect_exit 0 "$MIGRATE" help "$v"
	expect_out "usage: migrate $v"
done

echo "age interop: ok"
exit 0
