# Prints "FUNCTION OPTION" for every option of the getopt_long tables in
# cmd/migrate/cmd_*.c: long options from the struct option lines, short
# ones from the optstring of getopt_long(...), or of
# cmd_age_parse(argc, argv, "VERB", "OPTSTRING", ...) which encrypt and
# decrypt call with their own tables.  Used by man_help.sh and
# completion.sh, so that both read the code the same way.
/^[a-z_][a-z_0-9]*\(/ { fn = substr($0, 1, index($0, "(") - 1) }
/\{ "[a-z][a-z-]*", (no|required|optional)_argument/ {
	s = $0; sub(/^[^"]*"/, "", s); sub(/".*/, "", s)
	print fn, "--" s
}
/getopt_long\([^"]*"/ || /cmd_age_parse\(argc, argv, "[a-z]*", "/ {
	s = $0
	if (s ~ /cmd_age_parse\(/)
		sub(/^.*cmd_age_parse\(argc, argv, "[a-z]*", "/, "", s)
	else
		sub(/^.*getopt_long\([^"]*"/, "", s)
	sub(/".*/, "", s)
	gsub(/[:+-]/, "", s)
	for (i = 1; i <= length(s); i++)
		print fn, "-" substr(s, i, 1)
}
