#!/usr/bin/env bash
# Attack (issue 13, item 5.1): a plan's recipients_file, or encrypt -R,
# pointing at an age identity file put the AGE-SECRET-KEY-1 line into the
# error on stderr.  Now no line of a key file and no -r argument is ever
# echoed: the message names the file and line (or -r #N) and says what
# the line is.  The run is refused before anything lands.
. "$(dirname "$0")/lib.sh"
setup_plans
mkdir -p "$T/src"
echo "a,b" >"$T/src/a.csv"
# The key's data after "AGE-SECRET-KEY-1": no message may hold any of it.
secret=$(grep '^AGE-SECRET-KEY-1' "$KEY")
data=${secret#AGE-SECRET-KEY-1}
[ ${#data} -gt 40 ] || fail "no identity in $KEY"

# no_key_in FILE...: none holds the key, its data, or 12 characters of it.
no_key_in() {
	local f
	for f in "$@"; do
		[ -f "$f" ] || continue
		grep -qiF -- "$data" "$f" && fail "$f holds the key"
		grep -qiF -- "${data:0:12}" "$f" && fail "$f holds part of the key"
		grep -qiF -- "${data: -12}" "$f" && fail "$f holds the key's end"
	done
	return 0
}

write_plan "$T/x.toml" rehost "$T/src"
sed -i "s|^recipients_file = .*|recipients_file = \"$KEY\"|" "$T/x.toml"
expect_exit 2 "$MIGRATE" run "$T/x.toml"
expect_err "$T/x.toml: encryption.recipients_file: $KEY:3: an identity (AGE-SECRET-KEY-1...), not a recipient (age1...)"
expect_err '"# public key:" line'
no_key_in "$T/err" "$T/out" "$T"/audit/*.jsonl
[ ! -d "$T/lake" ] || [ -z "$(find "$T/lake" -name '*.age')" ] ||
    fail "an object landed"

# encrypt -R IDENTITY and -r IDENTITY: the same, for the command line.
echo hello >"$T/plain"
expect_exit 2 "$MIGRATE" encrypt -R "$KEY" -o "$T/c.age" "$T/plain"
expect_err "$KEY:3: an identity (AGE-SECRET-KEY-1...)"
no_key_in "$T/err" "$T/out"
expect_exit 2 "$MIGRATE" encrypt -r "$(cat "$T/p/keys/demo.pub")" \
    -r "$secret" -o "$T/c.age" "$T/plain"
expect_err "-r #2: an identity (AGE-SECRET-KEY-1...)"
no_key_in "$T/err" "$T/out"
[ ! -e "$T/c.age" ] || fail "encrypt wrote output"

# Any other line of a key file is not echoed either (an SSH private key
# given as recipients: its base64 body is the secret).
printf -- '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n' \
    >"$T/id_x"
expect_exit 2 "$MIGRATE" encrypt -R "$T/id_x" -o "$T/c.age" "$T/plain"
expect_err "$T/id_x:1: not an age recipient (age1...)"
grep -qF 'BEGIN OPENSSH' "$T/err" && fail "a key file line was echoed"
echo ok
