#!/usr/bin/env bash
# The command line a demanding user expects (issue 18): did-you-mean for
# commands, subcommands and long options, -v/-q on every command, keygen
# -o FILE.pub and -y, plan init for every strategy, plan check as a
# preflight of what run refuses (each at PLAN:LINE:COL), verify --deep
# without -i, and no escape codes unless stderr is a terminal whose TERM
# is not dumb.
. "$(dirname "$0")/lib.sh"
setup_plans

# --- Did you mean ----------------------------------------------------------
expect_exit 2 "$MIGRATE" rn
expect_err 'unknown command "rn" (did you mean "run"?)'
expect_exit 2 "$MIGRATE" run --dryrun x.toml
expect_err 'unknown option --dryrun (did you mean --dry-run?)'
expect_exit 2 "$MIGRATE" verify --deap x.toml
expect_err 'unknown option --deap (did you mean --deep?)'
expect_exit 2 "$MIGRATE" run --jobs
expect_err 'option --jobs needs a value'
expect_exit 2 "$MIGRATE" run --json=yes x.toml
expect_err 'option --json takes no value'
expect_exit 2 "$MIGRATE" plan chekc x.toml
expect_err 'unknown subcommand "chekc" (did you mean "check"?)'
expect_exit 2 "$MIGRATE" audit shwo x.jsonl
expect_err '(did you mean "show"?)'
expect_exit 2 "$MIGRATE" --verbos run
expect_err 'did you mean --verbose?'
expect_exit 2 "$MIGRATE" run missing.toml
expect_err 'missing.toml'
echo "ok: did you mean"

# --- --help describes each option in one line --------------------------------
expect_exit 0 "$MIGRATE" run --help
expect_out "  -n, --dry-run"
expect_out "  -v, --verbose"
expect_exit 0 "$MIGRATE" help audit
expect_out "Options of audit verify:"

# --- keygen -------------------------------------------------------------------
expect_exit 0 "$MIGRATE" keygen -o "$T/k/deeper/lake.key"
[ "$(stat -c %a "$T/k")" = 700 ] && [ "$(stat -c %a "$T/k/deeper")" = 700 ] ||
    fail "parent folders not 0700"
[ "$(stat -c %a "$T/k/deeper/lake.key")" = 600 ] || fail "key not 0600"
rcpt=$(grep -o 'age1[a-z0-9]*' "$T/k/deeper/lake.key")
[ "$(cat "$T/k/deeper/lake.key.pub")" = "$rcpt" ] || fail "FILE.pub is not the recipient"
expect_exit 0 "$MIGRATE" keygen -y "$T/k/deeper/lake.key"
[ "$(cat "$T/out")" = "$rcpt" ] || fail "keygen -y printed $(cat "$T/out")"
# A missing key file: exit 2, its whole path once in the message.
expect_exit 2 "$MIGRATE" keygen -y "$T/k/nosuch.key"
grep -qx "migrate: keygen -y: $T/k/nosuch.key: No such file or directory" "$T/err" ||
    fail "keygen -y on a missing file said: $(cat "$T/err")"
expect_exit 1 "$MIGRATE" keygen -o "$T/k/deeper/lake.key"
expect_err "exists"
# -q: no "Public key:" line; -v: the folders made.
expect_exit 0 "$MIGRATE" keygen -q -o "$T/k/q.key"
[ -s "$T/err" ] && fail "keygen -q printed: $(cat "$T/err")"
expect_exit 0 "$MIGRATE" -v keygen -o "$T/k/v/v.key"
expect_err "keygen: folder $T/k/v"
echo "ok: keygen"

# --- plan init, every strategy, then plan check --------------------------------
mkdir -p "$T/init/data" "$T/init/keys"
echo a > "$T/init/data/a.csv"
"$MIGRATE" keygen -q -o "$T/init/keys/lake.key" || fail "keygen"
for s in retain retire rehost replatform refactor repurchase rebuild; do
	expect_exit 0 "$MIGRATE" plan init "$s" -o "$T/init/$s.toml"
	expect_exit 0 "$MIGRATE" plan check "$T/init/$s.toml"
	expect_out "strategy:    $s"
done
expect_exit 2 "$MIGRATE" plan init rehost -o "$T/init/rehost.toml"
expect_err "refusing to overwrite"
expect_exit 2 "$MIGRATE" plan init rehots
expect_err '(did you mean "rehost"?)'
expect_exit 0 "$MIGRATE" plan init retire --source /srv/x --to sftp://lake.example/data
expect_out 'url = "sftp://lake.example/data"'
expect_out 'delete_source = false'
echo "ok: plan init"

# --- plan check: what run would refuse ---------------------------------------
mkdir -p "$T/src"
echo a > "$T/src/a.csv"
# check_refused PLAN WHERE MESSAGE: plan check exits 2 naming PLAN:L:C and
# the message, and run refuses the same plan.
check_refused() {
	expect_exit 2 "$MIGRATE" plan check "$1"
	expect_err "$2"
	expect_err "$3"
	"$MIGRATE" run --no-progress "$1" > /dev/null 2>&1 && fail "run took $1"
	return 0
}
good() { write_plan "$1" rehost "$T/src"; }

good "$T/c1.toml"
rcpt=$(cat "$T/p/keys/demo.pub")
bad=${rcpt%?}q; [ "$bad" = "$rcpt" ] && bad=${rcpt%?}p
sed -i "s|^recipients_file = .*|recipients = [\"$bad\"]|" "$T/c1.toml"
check_refused "$T/c1.toml" "c1.toml:9:15: encryption.recipients[0]" "checksum"

good "$T/c2.toml"
sed -i "s|^recipients_file = .*|recipients_file = \"$KEY\"|" "$T/c2.toml"
check_refused "$T/c2.toml" "c2.toml:9:19: encryption.recipients_file" "an identity (AGE-SECRET-KEY-1...), not a recipient"

good "$T/c3.toml"
sed -i "s|^recipients_file = .*|recipients_file = \"$T/nope.pub\"|" "$T/c3.toml"
check_refused "$T/c3.toml" "c3.toml:9:19: encryption.recipients_file" "keygen -o KEY writes KEY.pub"

write_plan "$T/c4.toml" rehost "$T/no-such-source"
check_refused "$T/c4.toml" "c4.toml:5:8: source $T/no-such-source" "No such file"

good "$T/c5.toml"
sed -i "s|^url = .*|url = \"sftp://me@127.0.0.1:2222/lake\"\nknown_hosts = \"$T/kh\"|" "$T/c5.toml"
expect_exit 2 "$MIGRATE" plan check "$T/c5.toml"
expect_err "c5.toml:8:15: destination.known_hosts: $T/kh"
expect_err "ssh-keyscan -p 2222 127.0.0.1 >> $T/kh"

cp "$T/p/keys/audit.pem" "$T/loose.pem"
chmod 0644 "$T/loose.pem"
good "$T/c6.toml"
printf 'signing_key = "%s"\n' "$T/loose.pem" >> "$T/c6.toml"
check_refused "$T/c6.toml" "c6.toml:13:15: audit.signing_key" "$T/loose.pem"

echo "this is not an audit log" > "$T/notes.jsonl"
good "$T/c7.toml"
sed -i "s|^log = .*|log = \"$T/notes.jsonl\"|" "$T/c7.toml"
check_refused "$T/c7.toml" "c7.toml:11:7: audit.log" "not an audit log"
[ "$(cat "$T/notes.jsonl")" = "this is not an audit log" ] || fail "plan check changed the file"

good "$T/c8.toml"
sed -i "s|^recipients_file = .*|passphrase_env = \"MIGRATE_TEST_UNSET_VAR\"|" "$T/c8.toml"
unset MIGRATE_TEST_UNSET_VAR
check_refused "$T/c8.toml" "c8.toml" "encryption.passphrase_env names the environment variable MIGRATE_TEST_UNSET_VAR, which is not set"

# All problems at once, and a good plan is ok.
good "$T/c9.toml"
sed -i "s|^recipients_file = .*|recipients_file = \"$KEY\"|; s|^path = .*|path = \"$T/gone\"|" "$T/c9.toml"
expect_exit 2 "$MIGRATE" plan check "$T/c9.toml"
expect_err "source $T/gone"
expect_err "an identity (AGE-SECRET-KEY-1...)"
expect_err "2 problems that run would refuse"
good "$T/ok.toml"
expect_exit 0 "$MIGRATE" plan check "$T/ok.toml"
expect_out "(ok, sha256"
echo "ok: plan check preflight"

# --- verify --deep names the option it needs ------------------------------------
expect_exit 0 "$MIGRATE" run -q --no-progress "$T/ok.toml"
[ -s "$T/err" ] && fail "run -q printed: $(cat "$T/err")"
expect_exit 2 "$MIGRATE" verify --deep "$T/ok.toml"
expect_err "give the identity with -i FILE"
grep -q -- "-p" "$T/err" && fail "verify --deep suggests -p: $(cat "$T/err")"
expect_exit 0 "$MIGRATE" verify -q --deep -i "$KEY" "$T/ok.toml"

# --- -v and -q on every command --------------------------------------------
for c in run verify restore "plan check" "plan init" "audit show" \
    "audit verify" keygen encrypt decrypt; do
	# shellcheck disable=SC2086
	"$MIGRATE" $c -q --help > /dev/null || fail "$c takes no -q"
	# shellcheck disable=SC2086
	"$MIGRATE" $c --verbose --help > /dev/null || fail "$c takes no --verbose"
done
echo "ok: -v/-q"

# --- Escape codes: only on a terminal whose TERM is not dumb ----------------
if command -v script > /dev/null; then
	mkdir -p "$T/big"
	head -c 2000000 /dev/urandom > "$T/big/x.bin"
	write_plan "$T/tty.toml" rehost "$T/big"
	TERM=dumb script -qec "$MIGRATE run $T/tty.toml" /dev/null > "$T/tty-dumb" 2>&1
	grep -q $'\033' "$T/tty-dumb" && fail "escape codes under TERM=dumb"
	grep -q "MiB/s" "$T/tty-dumb" || fail "no MiB/s rate: $(cat "$T/tty-dumb")"
	echo y > "$T/big/y.bin"
	TERM=xterm script -qec "$MIGRATE run $T/tty.toml" /dev/null > "$T/tty-xterm" 2>&1
	grep -q $'\033\[K' "$T/tty-xterm" || fail "no progress bar on a terminal"
	grep -q "MB/s" "$T/tty-xterm" && fail "a rate in MB/s"
	echo "ok: escape codes"
fi
# --- audit show / verify take the plan as every other command does --------
# Before, the plan was read as a log: "line 1: not an audit record", exit 3.
write_plan "$T/aud.toml" rehost "$T/p/data/billing"
expect_exit 0 "$MIGRATE" run --no-progress "$T/aud.toml"
expect_exit 0 "$MIGRATE" audit verify "$T/aud.toml"
expect_out "$T/audit/t-rehost.jsonl: intact"
expect_exit 0 "$MIGRATE" audit show --json "$T/aud.toml"
cp "$T/out" "$T/show-plan"
expect_exit 0 "$MIGRATE" audit show --json "$T/audit/t-rehost.jsonl"
cmp -s "$T/out" "$T/show-plan" || fail "audit show PLAN differs from audit show LOG"
[ -s "$T/show-plan" ] || fail "audit show PLAN printed nothing"
expect_exit 2 "$MIGRATE" audit verify "$T/nosuch.toml"
expect_err "nosuch.toml"
echo "ok: audit commands take the plan"
echo "ok: cli habits"
