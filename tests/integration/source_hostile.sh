#!/usr/bin/env bash
# The source tree as an adversary or an accident makes it (issue 13):
#   unreadable directory     a failure (exit 4, audited), never "skipped"
#                            with the run called complete
#   lake inside the source   refused by plan check and run (exit 2,
#                            file:line:col), before anything lands
#   parent swap during run   a sub-directory replaced by a link to a
#                            decoy outside (same name, size, mtime) after
#                            the inventory: the decoy never lands
. "$(dirname "$0")/lib.sh"
setup_plans
# Root reads everything; without these two capabilities it is refused
# like anyone else.
NOCAP="setpriv --bounding-set=-dac_override,-dac_read_search"
$NOCAP true 2>/dev/null || { echo "setpriv cannot drop capabilities here"; exit 77; }

echo "unreadable source directory"
src=$T/u-src
mkdir -p "$src/open" "$src/secret"
echo a >"$src/open/a.csv"
echo b >"$src/secret/b.csv"
chmod 000 "$src/secret"
at_exit "chmod 755 '$src/secret'"
write_plan "$T/u.toml" rehost "$src"
expect_exit 4 $NOCAP "$MIGRATE" run --no-progress --json "$T/u.toml"
expect_err "secret: cannot read the directory"
[ "$(json "$T/out" 'd["outcome"]')" = partial ] || fail "outcome $(json "$T/out" 'd["outcome"]'), want partial"
grep -q '"event":"object.failed","object":"secret"' "$T/audit/t-rehost.jsonl" ||
    fail "the unreadable directory is not on record as failed"
[ -z "$(find "$T/lake" -name _SUCCESS)" ] || fail "a bag was published without the unreadable directory"
chmod 755 "$src/secret"
expect_exit 0 "$MIGRATE" run --no-progress --json "$T/u.toml"
[ "$(json "$T/out" 'd["resumed"]')" = True ] || fail "the re-run did not resume"
[ "$(json "$T/out" 'd["counts"]["stored"] + d["counts"]["already_landed"]')" = 2 ] ||
    fail "the re-run did not land both files"
echo "  ok: exit 4, then complete once readable"
echo "parent-directory swap during run"
src=$T/w-src
out=$T/w-outside
mkdir -p "$src/sub" "$out"
echo "inside data" >"$src/sub/report.csv"
echo "other file" >"$src/top.csv"
# The decoy: same name, same size, same mtime, outside the source.
echo "SECRET data" >"$out/report.csv"
touch -r "$src/sub/report.csv" "$out/report.csv"
write_plan "$T/w.toml" rehost "$src" 'follow_symlinks = false'
sed -i 's/^follow_symlinks = false$//; s/^\[source\]$/[source]\nfollow_symlinks = false/' "$T/w.toml"
hook_start "point=run.started action=pause" "$MIGRATE_HOOKS" run --no-progress --jobs 1 "$T/w.toml"
hook_wait run.started
mv "$src/sub" "$T/w-moved"
ln -s "$out" "$src/sub"
hook_resume
hook_end
[ "$HOOK_RC" = 4 ] || { cat "$T/err"; fail "swap during run: exit $HOOK_RC, want 4"; }
grep -q 'sub/report.csv: changed since the inventory' "$T/err" || { cat "$T/err"; fail "the swapped file is not named"; }
for f in $(find "$T/lake" -name '*.age'); do
	age -d -i "$KEY" "$f" | grep -q SECRET && fail "the decoy outside the source landed: $f"
done
echo "  ok: exit 4, $(grep -m1 'sub/report.csv' "$T/err" | cut -c1-100)"

echo "a lake inside the source"
src=$T/l-src
mkdir -p "$src/data"
echo a >"$src/data/a.csv"
write_plan "$T/l.toml" rehost "$src"
sed -i "s|^url = .*|url = \"file://$src/data/../lake\"|" "$T/l.toml"
expect_exit 2 "$MIGRATE" plan check "$T/l.toml"
expect_err "l.toml:7:7: destination.url: the lake $src/lake is inside the source $src"
expect_exit 2 "$MIGRATE" run --no-progress "$T/l.toml"
[ ! -e "$src/lake" ] || fail "a lake was made inside the source"
echo "  ok: $(head -n 1 "$T/err" | cut -c1-120)"
echo ok
