# bash completion for migrate(1)                          -*- shell-script -*-
#
# Install as /usr/share/bash-completion/completions/migrate, or source it.
# The option lists are those of the getopt_long tables in
# cmd/migrate/cmd_*.c; tests/integration/completion.sh fails when a table
# has an option that is not here.

_migrate_commands='run verify restore runs plan audit keygen encrypt decrypt help'

_migrate_events='run.start run.end object.stored object.skipped object.failed
object.retained source.deleted verify.ok verify.failed security.refused
checkpoint audit.torn object.* run.* verify.* security.*'

_migrate_strategies='retain retire rehost replatform refactor repurchase
rebuild'

# _migrate_options KEY: every option of a command ("plan check", "audit
# show" for the verbs with a subcommand).  Every command also takes
# -v/--verbose and -q/--quiet.
_migrate_options()
{
	local common='--verbose -v --quiet -q --help -h'
	case $1 in
	run) echo "--dry-run -n --jobs -j --bwlimit --full --new-run --shard --run-id
	    --no-progress --json --identity -i $common" ;;
	'plan check') echo "--online --json $common" ;;
	'plan init') echo "--source --to --output -o $common" ;;
	verify) echo "--run --deep --against-source --identity -i --key --json
	    $common" ;;
	restore) echo "--run --identity -i --passphrase -p --to --overwrite --key
	    $common" ;;
	runs) echo "--key --json $common" ;;
	'audit show') echo "--run --event --since --until --wide --json
	    $common" ;;
	'audit verify') echo "--key -k --allow-unsigned-tail --json $common" ;;
	keygen) echo "--output -o --signing -y $common" ;;
	encrypt) echo "--recipient -r --recipients-file -R --passphrase -p
	    --passphrase-env --armor -a --output -o $common" ;;
	decrypt) echo "--identity -i --passphrase -p --passphrase-env
	    --output -o $common" ;;
	'') echo '--help -h --version -V --verbose -v --quiet -q' ;;
	esac
}

# _migrate_takes_arg KEY OPTION: whether OPTION takes an argument.
_migrate_takes_arg()
{
	case "$1 $2" in
	'run --jobs' | 'run -j' | 'run --bwlimit' | 'run --shard' | \
	'run --run-id' | \
	'run --identity' | 'run -i' | \
	'verify --run' | 'verify --identity' | 'verify -i' | 'verify --key' | \
	'restore --run' | 'restore --identity' | 'restore -i' | \
	'restore --to' | 'restore --key' | 'runs --key' | \
	'audit show --run' | 'audit show --event' | 'audit show --since' | \
	'audit show --until' | \
	'audit verify --key' | 'audit verify -k' | \
	'keygen --output' | 'keygen -o' | 'keygen -y' | \
	'plan init --source' | 'plan init --to' | 'plan init --output' | \
	'plan init -o' | \
	'encrypt --recipient' | 'encrypt -r' | 'encrypt --recipients-file' | \
	'encrypt -R' | 'encrypt --passphrase-env' | 'encrypt --output' | \
	'encrypt -o' | \
	'decrypt --identity' | 'decrypt -i' | 'decrypt --passphrase-env' | \
	'decrypt --output' | 'decrypt -o')
		return 0 ;;
	esac
	return 1
}

# _migrate_files CUR [EXT]: files (only *.EXT, and directories to descend
# into, when EXT is given), or with EXT "/" directories only.
_migrate_files()
{
	local cur=$1 ext=${2:-} line
	compopt -o filenames 2>/dev/null
	while IFS= read -r line; do
		[ -n "$line" ] && COMPREPLY+=("$line")
	done < <(
		case $ext in
		'') compgen -f -- "$cur" ;;
		/) compgen -d -- "$cur" ;;
		*) compgen -f -X "!*.$ext" -- "$cur"; compgen -d -- "$cur" ;;
		esac | sort -u
	)
}

# _migrate_words "WORD..." : adds the words that start with $cur (split
# at white space, never globbed: "object.*" stays as it is).
_migrate_words()
{
	local w list
	read -r -d '' -a list <<<"$*"
	for w in "${list[@]}"; do
		[[ $w == "$cur"* ]] && COMPREPLY+=("$w")
	done
}

# _migrate_runs PLAN: the run ids of PLAN's audit log, and "latest"
# (asked of migrate itself, which reads the log).
_migrate_runs()
{
	local w
	[ -f "$1" ] || return 0
	while IFS= read -r w; do
		[[ $w == "$cur"* ]] && COMPREPLY+=("$w")
	done < <(command migrate __complete runs "$1" 2>/dev/null)
}

# _migrate_value OPTION [KEY PLAN]: completes $cur as the argument of
# OPTION of the command KEY, whose plan operand is PLAN.
_migrate_value()
{
	local w
	case ${2:-}:$1 in
	'plan init:--to') return 0 ;;
	'plan init:--source') _migrate_files "$cur"; return 0 ;;
	verify:--run | restore:--run) _migrate_runs "${3:-}"; return 0 ;;
	esac
	case $1 in
	--identity | -i | --output | -o | --recipients-file | -R | --key | -k | \
	-y)
		_migrate_files "$cur" ;;
	--to)
		_migrate_files "$cur" / ;;
	--passphrase-env)
		while IFS= read -r w; do
			COMPREPLY+=("$w")
		done < <(compgen -e -- "$cur") ;;
	--event)
		_migrate_words "$_migrate_events" ;;
	esac
}

_migrate()
{
	local cur prev cword words i w cmd='' key='' cmdi=0 plan=
	COMPREPLY=()
	words=("${COMP_WORDS[@]}")
	cword=$COMP_CWORD
	cur=${words[cword]:-}
	prev=${words[cword - 1]:-}
	# --option=value, split at "=" or not by COMP_WORDBREAKS.
	if [ "$cur" = = ] && [[ $prev == --* ]]; then
		cur=''
	elif [ "$prev" = = ] && [ "$cword" -ge 2 ] &&
	    [[ ${words[cword - 2]} == --* ]]; then
		prev=${words[cword - 2]}
	elif [[ $cur == --*=* ]]; then
		# "=" is not in COMP_WORDBREAKS: the reply replaces the word.
		prev=${cur%%=*}
		cur=${cur#*=}
		_migrate_value "$prev"
		for i in "${!COMPREPLY[@]}"; do
			COMPREPLY[i]="$prev=${COMPREPLY[i]}"
		done
		return 0
	fi

	for ((i = 1; i < cword; i++)); do
		w=${words[i]}
		if [ -z "$cmd" ]; then
			[[ $w == -* ]] && continue
			cmd=$w
			cmdi=$i
			key=$w
		elif [ "$i" = $((cmdi + 1)) ] &&
		    { [ "$cmd" = plan ] || [ "$cmd" = audit ]; }; then
			key="$cmd $w"
		elif [ -z "$plan" ] && [[ $w == *.toml ]]; then
			plan=$w
		fi
	done

	if [ -z "$cmd" ]; then
		if [[ $cur == -* ]]; then
			_migrate_words "$(_migrate_options '')"
		else
			_migrate_words "$_migrate_commands"
		fi
		return 0
	fi
	# The subcommand of plan and audit comes first.
	if [ "$cword" = $((cmdi + 1)) ]; then
		case $cmd in
		plan) _migrate_words 'check init'; return 0 ;;
		audit) _migrate_words show verify; return 0 ;;
		help) _migrate_words "$_migrate_commands"; return 0 ;;
		esac
	fi
	case $key in
	help | plan | audit) return 0 ;;
	esac

	# The argument of an option.
	if _migrate_takes_arg "$key" "$prev"; then
		_migrate_value "$prev" "$key" "$plan"
		return 0
	fi
	if [[ $cur == -* ]]; then
		_migrate_words "$(_migrate_options "$key")"
		return 0
	fi
	# Operands.
	case $key in
	run | restore | runs | 'plan check') _migrate_files "$cur" toml ;;
	'plan init') _migrate_words "$_migrate_strategies" ;;
	verify) _migrate_files "$cur" toml ;;
	'audit show' | 'audit verify') _migrate_files "$cur" jsonl ;;
	encrypt | decrypt) _migrate_files "$cur" ;;
	esac
	return 0
} &&
complete -F _migrate migrate
