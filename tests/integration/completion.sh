#!/usr/bin/env bash
# completions/migrate.bash: sourced into bash, asked like bash asks it
# (COMP_WORDS, COMP_CWORD), it offers the commands, subcommands, each
# command's options, and the right files.  Its option lists must be exactly
# the getopt_long tables of cmd/migrate/cmd_*.c, and cover every option
# that `migrate help CMD` shows and every command main.c registers.
. "$(dirname "$0")/lib.sh"
comp="$REPO_DIR/completions/migrate.bash"
[ -f "$comp" ] || fail "no $comp"
# shellcheck source=/dev/null
. "$comp"
complete -p migrate >/dev/null 2>&1 || fail "sourcing it registers no completion for migrate"

# offers WORD...: the sorted candidates bash would get for that line, the
# last word being the one under the cursor.
offers() {
	COMP_WORDS=("$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE="$*"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	_migrate 2>/dev/null
	printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | LC_ALL=C sort | tr '\n' ' ' |
	    sed 's/ $//'
}
# expect "CANDIDATES" WORD...: exactly these candidates.
expect() {
	local want=$1 got
	shift
	got=$(offers "$@")
	[ "$got" = "$want" ] || fail "'$*<TAB>' offers '$got', want '$want'"
}
# expect_has "CANDIDATE" WORD...: this one among the candidates.
expect_has() {
	local want=$1 got
	shift
	got=" $(offers "$@") "
	[[ $got == *" $want "* ]] || fail "'$*<TAB>' offers '$got', lacking '$want'"
}

# Commands and subcommands.
expect "restore run runs" migrate r
expect "--jobs --json" migrate run --j
expect "show verify" migrate audit ""
expect "check init" migrate plan ""
expect "--signing" migrate keygen --s
expect "--json" migrate plan check --j
expect "--deep" migrate verify --d
expect "--event" migrate audit show --e
expect "--allow-unsigned-tail --help --json --key --quiet --verbose -h -k -q -v" migrate audit verify -
expect "--wide" migrate audit show --w
expect "--help --quiet --verbose --version -V -h -q -v" migrate -
expect "--shard" migrate run --sh
expect "--passphrase --passphrase-env" migrate decrypt --passphrase
expect "decrypt" migrate help de
expect "audit" migrate au

# main.c's commands, all of them, and nothing else.
cmds=$(grep -oE '^[[:space:]]*\{ "[a-z]+", cmd_' "$REPO_DIR/cmd/migrate/main.c" |
    sed 's/.*"\([a-z]*\)".*/\1/' | { cat; echo help; } | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')
[ -n "$cmds" ] || fail "no commands found in cmd/migrate/main.c"
expect "$cmds" migrate ""
expect "$cmds" migrate help ""

# Files: plans (*.toml) and directories for run/verify/restore, logs
# (*.jsonl) for audit, directories only for --to, any file for keys.
mkdir -p "$T/c/sub dir" "$T/c/keys"
touch "$T/c/a.toml" "$T/c/b.txt" "$T/c/log.jsonl" "$T/c/keys/id" "$T/c/object.x"
cd "$T/c" || fail "cd"
expect "a.toml keys sub dir" migrate run ""
expect "a.toml keys sub dir" migrate verify --json ""
expect "a.toml keys sub dir" migrate plan check ""
expect "keys log.jsonl sub dir" migrate audit verify ""
expect "keys sub dir" migrate restore a.toml --to ""
expect "keys/id" migrate verify --deep -i keys/
expect "keys/id" migrate restore a.toml --identity keys/
expect "--identity=keys/id" migrate verify --deep --identity=keys/
expect "keys/id" migrate verify --deep --identity = keys/
expect "a.toml b.txt keys log.jsonl object.x sub dir" migrate encrypt -r age1x ""
expect "keys" migrate audit verify --key k
# An option argument is not an operand: no plan files after --jobs.
expect "" migrate run --jobs ""
expect "" migrate run --shard ""
export MIGRATE_COMPLETION_TEST_VAR=1
expect "MIGRATE_COMPLETION_TEST_VAR" migrate decrypt -p --passphrase-env MIGRATE_COMPLETION_T
expect_has "object.stored" migrate audit show --event ob
# The glob object.* is offered as it is, not expanded against ./object.x.
expect_has "object.*" migrate audit show --event ob
cd "$REPO_DIR" || fail "cd"

# Every getopt_long table: the completion offers exactly its options.
# Function cmd_X is command X; X_Y is "X Y" (plan_check, audit_show).
awk -f "$REPO_DIR/tests/integration/getopt_tables.awk" \
    "$REPO_DIR"/cmd/migrate/cmd_*.c > "$T/table"
[ -s "$T/table" ] || fail "no getopt_long tables found"
nkeys=0
for fn in $(cut -d' ' -f1 "$T/table" | sort -u); do
	case $fn in
	cmd_*) key=${fn#cmd_} ;;
	*_*) key="${fn%%_*} ${fn#*_}" ;;
	*) fail "getopt_long in $fn: which command is that?" ;;
	esac
	want=$(awk -v f="$fn" '$1 == f { print $2 }' "$T/table" | LC_ALL=C sort -u |
	    tr '\n' ' ' | sed 's/ $//')
	# shellcheck disable=SC2086
	got=$(offers migrate $key -)
	[ "$got" = "$want" ] ||
	    fail "completion of 'migrate $key -' offers '$got'; the getopt table of $fn has '$want'"
	# Whatever `migrate help` shows for it is offered too.
	"$MIGRATE" help "${key%% *}" > "$T/help" || fail "migrate help ${key%% *}"
	for o in $(awk -v k="migrate $key" '
	    /^$/ { exit }
	    { l = $0; sub(/^usage: /, "", l); sub(/^ +/, "", l) }
	    l ~ /^migrate / { on = (l == k || index(l, k " ") == 1) }
	    on' "$T/help" | grep -oE '(^|[^a-zA-Z0-9-])--?[a-zA-Z][a-zA-Z0-9-]*' | sed 's/^[^-]*//' |
	    sort -u); do
		[[ " $got " == *" $o "* ]] ||
		    fail "migrate help ${key%% *} shows $o, the completion of '$key' lacks it"
	done
	nkeys=$((nkeys + 1))
done
[ "$nkeys" -ge 10 ] || fail "only $nkeys option tables found"
echo "ok: $nkeys option tables in sync"

# plan init: the strategies; the run ids of a plan's audit log for --run
# (asked of migrate __complete runs, so migrate must be on PATH).
expect "check init" migrate plan ""
expect "rebuild refactor rehost replatform repurchase retain retire" migrate plan init re
expect "rehost" migrate plan init reh
expect "--source" migrate plan init --s
PATH=$(dirname "$MIGRATE"):$PATH
export PATH
setup_plans
mkdir -p "$T/src"
echo a > "$T/src/a.csv"
write_plan "$T/c/r.toml" rehost "$T/src"
"$MIGRATE" run -q --no-progress "$T/c/r.toml" > /dev/null || fail "run"
rid=$("$MIGRATE" __complete runs "$T/c/r.toml" | head -n 1)
[[ $rid =~ ^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$ ]] || fail "__complete runs gives '$rid'"
cd "$T/c" || fail "cd"
expect "$rid latest" migrate verify r.toml --run ""
expect "$rid" migrate restore r.toml -i x --run 2
expect "" migrate verify nosuch.toml --run ""
cd "$REPO_DIR" || fail "cd"

# zsh: the same option lists, branch by branch, and a file zsh can read.
zcomp="$REPO_DIR/completions/_migrate"
[ -f "$zcomp" ] || fail "no $zcomp"
for fn in $(cut -d' ' -f1 "$T/table" | sort -u); do
	case $fn in
	cmd_*) zkey=${fn#cmd_} ;;
	*_*) zkey="${fn%%_*}-${fn#*_}" ;;
	esac
	want=$(awk -v f="$fn" '$1 == f { print $2 }' "$T/table" | LC_ALL=C sort -u |
	    tr '\n' ' ' | sed 's/ $//')
	got=$(awk -v k="($zkey)" '
	    $1 == k { on = 1; next }
	    on && /\) ;;/ { exit }
	    on' "$zcomp" | grep -oE "^[[:space:]]*'\*?--?[A-Za-z][A-Za-z0-9-]*" |
	    sed "s/^[[:space:]]*'\*\{0,1\}//"
	    awk '/^[[:space:]]*common=\(/ { on = 1; next } on && /^[[:space:]]*\)/ { exit } on' "$zcomp" |
	    grep -oE "^[[:space:]]*'--?[A-Za-z][A-Za-z0-9-]*" | sed "s/^[[:space:]]*'//")
	got=$(echo "$got" | LC_ALL=C sort -u | tr '\n' ' ' | sed 's/ $//')
	[ "$got" = "$want" ] ||
	    fail "zsh completion ($zkey) offers '$got'; the getopt table of $fn has '$want'"
done
if command -v zsh >/dev/null; then
	zsh -n "$zcomp" || fail "zsh -n $zcomp"
	# Loaded by compinit from $fpath, it defines _migrate for migrate.
	out=$(HOME=$T zsh -f -c "fpath=($REPO_DIR/completions \$fpath); autoload -Uz compinit; compinit -u -d $T/zcd; print -r -- \${_comps[migrate]}" 2>&1)
	[ "$out" = "_migrate" ] || fail "compinit does not bind _migrate to migrate: $out"
	# What TAB inserts in an interactive zsh (zsh/zpty): each line is typed
	# with a TAB at its end and run; migrate is a function there that
	# prints the words the completed line gave it.
	cat > "$T/ztab.zsh" <<'EOF'
zmodload zsh/zpty || exit 3
repo=$1 zcd=$2
shift 2
zpty z 'zsh -f -i' || exit 3
zpty -w z "PS1='> '; fpath=($repo/completions \$fpath); autoload -Uz compinit; compinit -u -d $zcd; bindkey '^I' complete-word; migrate() { print -r -- \"G\"\"OT:\$*:EOL\"; }"
for line; do
	zpty -n -w z "$line"$'\t\n'
	zpty -r z out '*GOT:*:EOL*' || exit 4
	out=${out##*GOT:}
	print -r -- "${out%%:EOL*}"
done
zpty -d z
EOF
	cd "$T/c" || fail "cd"
	got=$(timeout 60 zsh -f "$T/ztab.zsh" "$REPO_DIR" "$T/zcd2" \
	    'migrate r' 'migrate plan i' 'migrate plan init reh' \
	    'migrate run --dr' 'migrate audit sh' 'migrate verify --de' \
	    'migrate keygen --si' 'migrate restore r.toml -i x --run 2' \
	    'migrate run --json r.t') || fail "zsh under zpty: exit $?"
	want="r
plan init
plan init rehost
run --dry-run
audit show
verify --deep
keygen --signing
restore r.toml -i x --run $rid
run --json r.toml"
	[ "$got" = "$want" ] || fail "zsh TAB inserted:
$got
want:
$want"
	cd "$REPO_DIR" || fail "cd"
else
	echo "zsh not installed: the zsh file was checked for sync only"
fi
echo "ok: bash and zsh completion in sync, run ids offered"
