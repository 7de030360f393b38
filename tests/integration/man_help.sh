#!/usr/bin/env bash
# migrate(1) and the --help texts say the same thing:
#  - every option `migrate help CMD` shows is in the man page's SYNOPSIS
#    for CMD and described in its ".Ss CMD" section;
#  - every option the SYNOPSIS gives for CMD is in `migrate help CMD`, and
#    of every option list entry (.It Fl ...) of ".Ss CMD" at least one
#    spelling is;
#  - every option of the getopt_long tables (cmd/migrate/cmd_*.c) is
#    described in the man page;
#  - the man and help commands are the same set.
# The checker is shown to fail on an altered man page and on an altered
# help text.  Then: mandoc -Tlint is clean for every man/*.[15], and
# `make install` installs the binary and the man pages, which man -l renders.
. "$(dirname "$0")/lib.sh"
MAN1="$REPO_DIR/man/migrate.1"
[ -f "$MAN1" ] || fail "no $MAN1"

# man_table MANFILE: SYN/MEN/GRP/SEC lines (tab-separated) from the mdoc.
#   SYN key opt   the SYNOPSIS gives opt for "migrate key"
#   MEN key opt   opt appears (Fl) in the ".Ss key" section
#   GRP key a,b   an option list entry (.It) of ".Ss key" with spellings a, b
#   SEC key       ".Ss key" exists
# The global options (before the first .Ss) have the key "-".
man_table() {
	awk '
	function flags(kind, key,    i, s, out) {
		out = ""
		for (i = 1; i < NF; i++)
			if (($i == "Fl" || $i == ".Fl") && $(i + 1) ~ /^-?[A-Za-z][A-Za-z0-9-]*$/) {
				s = "-" $(i + 1)
				if (kind == "GRP")
					out = out (out == "" ? "" : ",") s
				else
					printf "%s\t%s\t%s\n", kind, key, s
			}
		if (kind == "GRP" && out != "")
			printf "GRP\t%s\t%s\n", key, out
	}
	/^\.Sh / {
		sh = $2; ss = "-"
		if (sh == "DESCRIPTION") printf "SEC\t-\n"
		next
	}
	sh == "SYNOPSIS" && /^\.Nm/ { blk = "-"; first = 1; next }
	sh == "SYNOPSIS" && /^\.Cm / && first {
		blk = $2; for (i = 3; i <= NF; i++) blk = blk " " $i
		first = 0; next
	}
	sh == "SYNOPSIS" { first = 0; flags("SYN", blk); next }
	sh == "DESCRIPTION" && /^\.Ss / {
		ss = $2; for (i = 3; i <= NF; i++) ss = ss " " $i
		printf "SEC\t%s\n", ss; next
	}
	sh == "DESCRIPTION" {
		flags("MEN", ss)
		if ($1 == ".It") flags("GRP", ss)
	}' "$1"
}

# help_table MIGRATE: HELP/HKEY lines from the usage lines of `migrate
# --help` and each `migrate help CMD`, and OPT lines from the option
# descriptions that follow them ("Options:" of CMD, "Options of plan
# init:", "Common options:" with the key "-").  A second word of all
# lower-case letters is a subcommand ("plan check"); operands are upper
# case.
help_table() {
	local bin=$1 cmd
	{
		"$bin" --help | sed -n '/^usage:/,/^$/p'
		for cmd in $("$bin" --help | awk '/^Commands:/ { on = 1; next }
		    on && /^  [a-z]/ { print $1 } on && /^$/ { exit }'); do
			echo "CMD $cmd"
			"$bin" help "$cmd" || echo "NOHELP $cmd"
		done
	} | awk '
	/^NOHELP / { printf "NOHELP\t%s\n", $2; next }
	/^CMD / { cmd = $2; key = ""; okey = ""; next }
	/^$/ { key = ""; next }
	/^Options:$/ { okey = cmd; next }
	/^Options of [a-z]+ [a-z]+:$/ { okey = $3 " " substr($4, 1, length($4) - 1); next }
	/^Common options:$/ { okey = "-"; next }
	okey != "" && /^ +-/ {
		o = $0; sub(/^ +/, "", o); sub(/  .*/, "", o)
		s = " " o
		while (match(s, /[^A-Za-z0-9-]--?[A-Za-z][A-Za-z0-9-]*/)) {
			printf "OPT\t%s\t%s\n", okey, substr(s, RSTART + 1, RLENGTH - 1)
			s = substr(s, RSTART + RLENGTH)
		}
		next
	}
	okey != "" { next }
	{
		l = $0; sub(/^usage: /, "", l); sub(/^ +/, "", l)
		if (l ~ /^migrate /) {
			n = split(l, w, " ")
			key = "-"
			if (w[2] ~ /^[a-z]+$/) {
				key = w[2]
				if (w[3] ~ /^[a-z]+$/) key = key " " w[3]
			}
			if (key == "help") key = ""
			if (key != "") printf "HKEY\t%s\n", key
		}
		if (key == "") next
		s = " " l
		while (match(s, /[^A-Za-z0-9-]--?[A-Za-z][A-Za-z0-9-]*/)) {
			printf "HELP\t%s\t%s\n", key, substr(s, RSTART + 1, RLENGTH - 1)
			s = substr(s, RSTART + RLENGTH)
		}
	}'
}

# code_table: CODE lines: the options of every getopt_long table.
# Function cmd_X is command X; X_Y is "X Y".  -v/--verbose and
# -q/--quiet, which every verb takes, are the global options' (key "-").
# ANY lines: every option of every table, -h and -v included.
code_table() {
	awk -f "$REPO_DIR/tests/integration/getopt_tables.awk" \
	    "$REPO_DIR"/cmd/migrate/cmd_*.c | awk '
	{
		fn = $1
		key = fn
		if (fn == "cmd_plan") key = "plan check"
		else if (fn ~ /^cmd_/) key = substr(fn, 5)
		else if (fn ~ /_/) { key = fn; sub(/_/, " ", key) }
		if ($2 ~ /^(-v|--verbose|-q|--quiet)$/)
			printf "CODE\t-\t%s\n", $2
		else if ($2 != "--help" && $2 != "-h")
			printf "CODE\t%s\t%s\n", key, $2
		printf "ANY\t%s\t%s\n", key, $2
	}'
}

# check MANFILE MIGRATE: prints every mismatch; fails when there is one.
check() {
	{ man_table "$1"; help_table "$2"; code_table; } > "$T/tables" ||
	    return 1
	grep -q '^SYN' "$T/tables" || { echo "no SYNOPSIS options parsed"; return 1; }
	grep -q '^HELP' "$T/tables" || { echo "no help options parsed"; return 1; }
	grep -q '^CODE' "$T/tables" || { echo "no getopt tables parsed"; return 1; }
	awk -F '\t' '
	$1 == "SYN" { syn[$2 SUBSEP $3] = 1; synl[++ns] = $2 SUBSEP $3 }
	$1 == "MEN" { men[$2 SUBSEP $3] = 1 }
	$1 == "GRP" { grp[++ng] = $2 SUBSEP $3 }
	$1 == "SEC" { sec[$2] = 1 }
	$1 == "HKEY" { hkey[$2] = 1 }
	$1 == "NOHELP" { printf "migrate help %s fails\n", $2; bad++ }
	$1 == "HELP" { help[$2 SUBSEP $3] = 1; helpl[++nh] = $2 SUBSEP $3 }
	$1 == "CODE" { code[++nc] = $2 SUBSEP $3 }
	$1 == "ANY" { any[$2 SUBSEP $3] = 1; anyl[++na] = $2 SUBSEP $3 }
	$1 == "OPT" { opt[$2 SUBSEP $3] = 1; optl[++no] = $2 SUBSEP $3 }
	function cmdname(k) { return k == "-" ? "migrate" : "migrate " k }
	END {
		for (k in hkey)
			if (!(k in sec)) {
				printf "%s: in the help, but migrate(1) has no \".Ss %s\"\n", cmdname(k), k; bad++
			}
		for (k in sec)
			if (!(k in hkey)) {
				printf "migrate(1) has \".Ss %s\", the help has no migrate %s\n", k, k; bad++
			}
		for (i = 1; i <= nh; i++) {
			split(helpl[i], p, SUBSEP)
			if (!(helpl[i] in syn)) {
				printf "%s: the help shows %s, the SYNOPSIS of migrate(1) does not\n", cmdname(p[1]), p[2]; bad++
			}
			if (!(helpl[i] in men)) {
				printf "%s: the help shows %s, \".Ss %s\" of migrate(1) does not describe it\n", cmdname(p[1]), p[2], p[1] == "-" ? "(global)" : p[1]; bad++
			}
		}
		for (i = 1; i <= ns; i++) {
			split(synl[i], p, SUBSEP)
			if (p[1] == "help") continue
			if (!(synl[i] in help)) {
				printf "%s: the SYNOPSIS of migrate(1) gives %s, the help does not\n", cmdname(p[1]), p[2]; bad++
			}
		}
		for (i = 1; i <= ng; i++) {
			split(grp[i], p, SUBSEP)
			n = split(p[2], alt, ",")
			ok = 0
			for (j = 1; j <= n; j++) if ((p[1] SUBSEP alt[j]) in help) ok = 1
			if (!ok) {
				printf "%s: migrate(1) lists option %s, the help shows no spelling of it\n", cmdname(p[1]), p[2]; bad++
			}
		}
		for (i = 1; i <= nc; i++) {
			split(code[i], p, SUBSEP)
			if (!(code[i] in men)) {
				printf "%s: the code accepts %s, \".Ss %s\" of migrate(1) does not describe it\n", cmdname(p[1]), p[2], p[1]; bad++
			}
		}
		# Each option of a getopt table has its line in the help, and
		# each line there is an option of the table.
		for (i = 1; i <= na; i++) {
			split(anyl[i], p, SUBSEP)
			if (!(anyl[i] in opt) && !(("-" SUBSEP p[2]) in opt)) {
				printf "%s: the code accepts %s, migrate help describes it in no line\n", cmdname(p[1]), p[2]; bad++
			}
		}
		for (i = 1; i <= no; i++) {
			split(optl[i], p, SUBSEP)
			if (p[1] == "-") continue
			if (!(optl[i] in any)) {
				printf "%s: migrate help describes %s, the getopt table has no such option\n", cmdname(p[1]), p[2]; bad++
			}
		}
		exit bad > 0
	}' "$T/tables"
}

# 1. The checker fails on a mismatch, in each direction.
sed '/^\.Sh SYNOPSIS/,/^\.Sh DESCRIPTION/{/^\.Op Fl -full$/d}' "$MAN1" > "$T/no-full.1"
cmp -s "$MAN1" "$T/no-full.1" && fail "could not alter the SYNOPSIS (no .Op Fl -full line?)"
check "$T/no-full.1" "$MIGRATE" > "$T/msg" && fail "a SYNOPSIS without --full passed"
grep -q 'migrate run: the help shows --full, the SYNOPSIS' "$T/msg" ||
    { cat "$T/msg"; fail "the missing --full is not named"; }

sed 's/^\.It Fl -to Ar dir$/.It Fl -into Ar dir/' "$MAN1" > "$T/into.1"
cmp -s "$MAN1" "$T/into.1" && fail "could not alter the restore options (no .It Fl -to line?)"
check "$T/into.1" "$MIGRATE" > "$T/msg" && fail "an option list with --into passed"
grep -q 'migrate restore: migrate(1) lists option --into, the help shows no spelling' "$T/msg" ||
    { cat "$T/msg"; fail "the unknown --into is not named"; }

cat > "$T/fake-migrate" <<EOF
#!/bin/sh
if [ "\$1" = help ] && [ "\$2" = verify ]; then
	"$MIGRATE" "\$@" | sed '1s/\$/ [--sloppy]/'
else
	exec "$MIGRATE" "\$@"
fi
EOF
chmod +x "$T/fake-migrate"
check "$MAN1" "$T/fake-migrate" > "$T/msg" && fail "a help text with --sloppy passed"
grep -q 'migrate verify: the help shows --sloppy, the SYNOPSIS' "$T/msg" ||
    { cat "$T/msg"; fail "the undocumented --sloppy is not named"; }

cat > "$T/fake-migrate2" <<EOF
#!/bin/sh
if [ "\$1" = help ] && [ "\$2" = run ]; then
	"$MIGRATE" "\$@" | sed 's/^  -n, --dry-run /  -n, --dry-runs/'
else
	exec "$MIGRATE" "\$@"
fi
EOF
chmod +x "$T/fake-migrate2"
check "$MAN1" "$T/fake-migrate2" > "$T/msg" && fail "a help text describing --dry-runs passed"
grep -q 'migrate run: the code accepts --dry-run, migrate help describes it in no line' "$T/msg" ||
    { cat "$T/msg"; fail "the undescribed --dry-run is not named"; }

# 2. The real man page and help texts.
if ! check "$MAN1" "$MIGRATE" > "$T/msg"; then
	cat "$T/msg" >&2
	fail "man/migrate.1 and the --help texts disagree ($(wc -l < "$T/msg") mismatches)"
fi

# 3. mandoc is silent on every page.
command -v mandoc >/dev/null || { echo "mandoc not installed: skipping the rest"; exit 77; }
for m in "$REPO_DIR"/man/*.[15]; do
	mandoc -Tlint -W warning "$m" > "$T/lint" 2>&1 ||
	    { cat "$T/lint"; fail "mandoc -Tlint: $(basename "$m")"; }
	[ ! -s "$T/lint" ] || { cat "$T/lint"; fail "mandoc -Tlint: $(basename "$m")"; }
done

# 4. make install (with this binary: -o all builds nothing) and man -l.
command -v make >/dev/null || { echo "make not installed"; exit 77; }
mkdir -p "$T/b"
cp "$MIGRATE" "$T/b/migrate"
make -s -C "$REPO_DIR" -o all install BUILD="$T/b" DESTDIR="$T/inst" \
    PREFIX=/usr > "$T/make.out" 2>&1 || { cat "$T/make.out"; fail "make install"; }
inst="$T/inst/usr"
[ -x "$inst/bin/migrate" ] || fail "make install: no bin/migrate"
"$inst/bin/migrate" --version | grep -q '^migrate ' || fail "the installed migrate does not run"
for m in "$REPO_DIR"/man/*.[15]; do
	sec=${m##*.}
	[ -f "$inst/share/man/man$sec/$(basename "$m")" ] ||
	    fail "make install: no share/man/man$sec/$(basename "$m")"
done
if grep -q 'completions/migrate.bash' "$REPO_DIR/Makefile"; then
	[ -f "$inst/share/bash-completion/completions/migrate" ] ||
	    fail "make install: no bash completion"
fi
command -v man >/dev/null || { echo "man not installed: man -l not checked"; exit 77; }
MANPAGER=cat MANWIDTH=80 man -l "$inst/share/man/man1/migrate.1" 2>/dev/null > "$T/man1"
grep -q 'migrate run' "$T/man1" || fail "man -l migrate.1 does not render"
for m in "$inst"/share/man/man5/*.5; do
	MANPAGER=cat man -l "$m" 2>/dev/null | grep -q 'SYNOPSIS\|DESCRIPTION' ||
	    fail "man -l $(basename "$m") does not render"
done
echo "ok: man page, help texts and option tables agree; man pages lint clean and install"
