#!/usr/bin/env bash
# The source tree as an adversary or an accident makes it (issue 13):
#   unreadable directory     a failure (exit 4, audited), never "skipped"
#                            with the run called complete
#   lake inside the source   refused by plan check and run (exit 2,
#                            file:line:col), before anything lands
#   parent swap during run   a sub-directory replaced by a link to a
#                            decoy outside (same name, size, mtime) after
#                            the inventory: the decoy never lands
#   delete_source, tar with refused members   the archive is kept
#   parent swap during delete_source           nothing outside is deleted
#   crash in the delete phase (before and after the unlink)   the next run
#                            settles each intent: kept, or deleted on record
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

retire_plan() {	# retire_plan FILE NAME SRC
	write_plan "$1" retire "$3" '[retire]
delete_source = true'
	sed -i "s/t-retire/$2/g" "$1"
}

echo "delete_source: a tar source whose members were refused or skipped"
mkdir -p "$T/tar"
python3 - "$T/tar/src.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    def add(name, data=b"x\n", **kw):
        i = tarfile.TarInfo(name)
        for k, v in kw.items():
            setattr(i, k, v)
        i.size = len(data) if i.type == tarfile.REGTYPE else 0
        t.addfile(i, io.BytesIO(data) if i.type == tarfile.REGTYPE else None)
    add("good.csv", b"a,b\n")
    add("link", type=tarfile.SYMTYPE, linkname="good.csv")
    add("hard", type=tarfile.LNKTYPE, linkname="good.csv")
    add("new\nline.csv")
PY
retire_plan "$T/t.toml" t-tar "$T/tar/src.tar"
expect_exit 0 "$MIGRATE" run --no-progress -i "$KEY" "$T/t.toml"
[ -f "$T/tar/src.tar" ] || fail "the archive was deleted although members did not land"
expect_err "kept $T/tar/src.tar: not every member of the archive landed"
grep -q '"event":"source.kept"' "$T/audit/t-tar.jsonl" || fail "keeping the archive is not on record"
grep -q '"event":"source.deleted"' "$T/audit/t-tar.jsonl" && fail "a deletion is on record"
echo "  ok: $(grep -m1 'kept' "$T/err" | cut -c1-110)"

echo "parent-directory swap during delete_source"
src=$T/r-src
out=$T/r-outside
mkdir -p "$src/sub" "$out"
echo "inside one" >"$src/sub/a.csv"
echo "inside two" >"$src/sub/b.csv"
echo "top" >"$src/top.csv"
for f in a b; do
	echo "victim $f!" >"$out/$f.csv"
	touch -r "$src/sub/$f.csv" "$out/$f.csv"
done
retire_plan "$T/r.toml" t-swap "$src"
hook_start "point=retire.delete nth=1 action=pause" "$MIGRATE_HOOKS" run --no-progress -i "$KEY" "$T/r.toml"
hook_wait retire.delete
mv "$src/sub" "$T/r-moved"
ln -s "$out" "$src/sub"
hook_resume
hook_end
[ "$HOOK_RC" = 0 ] || { cat "$T/err"; fail "swap during delete: exit $HOOK_RC"; }
[ -f "$out/a.csv" ] && [ -f "$out/b.csv" ] || fail "a file outside the source was deleted"
grep -q '"event":"source.kept".*"object":"sub/' "$T/audit/t-swap.jsonl" ||
    fail "the files behind the swapped directory are not on record as kept"
echo "  ok: outside untouched; $(grep -m1 'kept sub' "$T/err" | cut -c1-100)"

echo "a crash in the delete phase"
src=$T/c-src
mkdir -p "$src"
for i in 1 2 3; do echo "row $i" >"$src/f$i.csv"; done
retire_plan "$T/c.toml" t-crash "$src"
# Killed after the first unlink, before source.deleted.
hook_run "point=retire.deleted nth=1 action=kill" "$MIGRATE_HOOKS" run --no-progress -i "$KEY" "$T/c.toml"
[ "$HOOK_RC" = 137 ] || fail "not killed after the unlink: $HOOK_RC"
gone=$(grep '"event":"source.deleting"' "$T/audit/t-crash.jsonl" | tail -n 1 | sed 's/.*"object":"\([^"]*\)".*/\1/')
[ ! -e "$src/$gone" ] || fail "$gone was not deleted before the kill"
grep -q "\"event\":\"source.deleted\".*\"object\":\"$gone\"" "$T/audit/t-crash.jsonl" &&
    fail "the deletion is on record although the kill came first"
# Killed after the next intent, before its unlink.
hook_run "point=retire.delete nth=1 action=kill" "$MIGRATE_HOOKS" run --no-progress -i "$KEY" "$T/c.toml"
[ "$HOOK_RC" = 137 ] || fail "not killed before the unlink: $HOOK_RC ($(cat "$T/err"))"
expect_err "settled an interrupted deletion of $gone: it is gone"
kept=$(grep '"event":"source.deleting"' "$T/audit/t-crash.jsonl" | tail -n 1 | sed 's/.*"object":"\([^"]*\)".*/\1/')
[ -e "$src/$kept" ] || fail "$kept was deleted though the kill came before the unlink"
expect_exit 0 "$MIGRATE" run --no-progress -i "$KEY" "$T/c.toml"
expect_err "settled an interrupted deletion of $kept: the file is still there"
grep -q "\"event\":\"source.deleted\".*\"object\":\"$gone\".*a crash kept it off the record" \
    "$T/audit/t-crash.jsonl" || fail "the first deletion was not settled on record"
grep -q "\"event\":\"source.kept\".*\"object\":\"$kept\"" "$T/audit/t-crash.jsonl" ||
    fail "the interrupted intent was not settled as kept"
expect_exit 0 "$MIGRATE" audit verify "$T/audit/t-crash.jsonl"
echo "  ok: $gone settled as deleted, $kept as kept"

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
