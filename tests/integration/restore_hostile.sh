#!/usr/bin/env bash
# Restore into a target that someone else can write to, from a lake that
# is not trusted (issue 13, item 4: "Restore can be turned against root").
# Each case is named after the attack it replays; the races are replayed
# at exact test points of the test build (restore.written: a file's
# temporary is complete and about to be renamed into place;
# restore.published: it was just renamed), never guessed with sleeps.
. "$(dirname "$0")/lib.sh"
setup_plans
src=$T/src
mkdir -p "$src/sub" "$T/outside"
printf 'open to all\n' >"$src/f.csv"
chmod 0777 "$src/f.csv"
printf 'group may write\n' >"$src/perm.csv"
chmod 0664 "$src/perm.csv"
printf 'in a subdirectory\n' >"$src/sub/g.csv"
printf '#!/bin/sh\necho set-uid\n' >"$src/suid"
chmod 4755 "$src/suid"
write_plan "$T/r.toml" rehost "$src"
expect_exit 0 "$MIGRATE" run --json "$T/r.toml"
RUN=$(json "$T/out" 'd["run"]')
B=$T/lake/$(json "$T/out" 'd["run_dir"]')

# The victim: a file of root's that nobody else may touch.
victim=$T/victim
printf 'precious\n' >"$victim"
chmod 0600 "$victim"
touch -d @1000000000 "$victim"
victim_intact() {	# victim_intact CASE
	[ "$(stat -c %a:%Y "$victim")" = 600:1000000000 ] ||
	    fail "$1: the victim's mode:mtime became $(stat -c %a:%Y "$victim")"
	[ "$(cat "$victim")" = precious ] || fail "$1: the victim was written"
	[ -z "$(ls -A "$T/outside")" ] ||
	    fail "$1: written outside the target: $(ls -A "$T/outside")"
}
no_temporaries() {	# no_temporaries DIR CASE
	! find "$1" -name '*migrate-tmp*' | grep -q . ||
	    fail "$2: a temporary was left behind: $(find "$1" -name '*migrate-tmp*')"
}

echo "== chmod race on restore: link swapped in after the rename"
# The old restore renamed a file into place and then chmod()ed it by path:
# whoever swapped the new file for a link in between had the victim made
# mode 0777.  Swap it at exactly that moment.
to=$T/back-race1
hook_start "point=restore.published detail=f.csv action=pause" \
    "$MIGRATE_HOOKS" restore "$T/r.toml" --run "$RUN" -i "$KEY" --to "$to"
hook_wait restore.published
rm -f "$to/f.csv"
ln -s "$victim" "$to/f.csv"
hook_resume
hook_end
victim_intact "link after the rename"
[ -L "$to/f.csv" ] || fail "the planted link is gone"

echo "== chmod race on restore: link planted at the final name before the rename"
to=$T/back-race2
hook_start "point=restore.written detail=f.csv action=pause" \
    "$MIGRATE_HOOKS" restore "$T/r.toml" --run "$RUN" -i "$KEY" --to "$to"
hook_wait restore.written
ln -s "$victim" "$to/f.csv"
hook_resume
hook_end
[ "$HOOK_RC" = 1 ] || { cat "$T/err" >&2; fail "exit $HOOK_RC, want 1 (refused)"; }
expect_err "refusing to replace it"
victim_intact "link at the final name"
[ -L "$to/f.csv" ] || fail "the planted link was replaced"
no_temporaries "$to" "link at the final name"

echo "== chmod race on restore: parent directory swapped for a link to outside"
# The link leads to a directory holding a victim under the file's name.
mkdir -p "$T/victims"
printf 'precious\n' >"$T/victims/g.csv"
chmod 0600 "$T/victims/g.csv"
touch -d @1000000000 "$T/victims/g.csv"
to=$T/back-race3
hook_start "point=restore.written detail=sub/g.csv action=pause" \
    "$MIGRATE_HOOKS" restore "$T/r.toml" --run "$RUN" -i "$KEY" --to "$to"
hook_wait restore.written
mv "$to/sub" "$to/sub.moved"
ln -s "$T/victims" "$to/sub"
hook_resume
hook_end
[ "$HOOK_RC" = 0 ] || { cat "$T/err" >&2; fail "exit $HOOK_RC, want 0"; }
[ "$(stat -c %a:%Y "$T/victims/g.csv")" = 600:1000000000 ] ||
    fail "parent swapped: the victim's mode:mtime became $(stat -c %a:%Y "$T/victims/g.csv")"
[ "$(cat "$T/victims/g.csv")" = precious ] || fail "parent swapped: the victim was written"
[ "$(ls -A "$T/victims")" = g.csv ] || fail "parent swapped: written beside the victim"
# The file went where the directory the restore had opened now is.
cmp -s "$to/sub.moved/g.csv" "$src/sub/g.csv" ||
    fail "sub/g.csv did not land in the directory restore had opened"
no_temporaries "$to" "parent swapped"

echo "== symlink as --to"
mkdir -p "$T/elsewhere"
ln -s "$T/elsewhere" "$T/to-link"
for to in "$T/to-link" "$T/to-link/"; do
	expect_exit 1 "$MIGRATE" restore "$T/r.toml" --run "$RUN" -i "$KEY" --to "$to"
	expect_err "symbolic link"
done
[ -z "$(ls -A "$T/elsewhere")" ] || fail "restored through the --to link"
# A missing --to is created, for the restoring user only.
expect_exit 0 "$MIGRATE" restore "$T/r.toml" --run "$RUN" -i "$KEY" --to "$T/new-to"
[ "$(stat -c %a "$T/new-to")" = 700 ] ||
    fail "--to created with mode $(stat -c %a "$T/new-to"), want 700"

echo "== umask honoured, set-id bits never restored"
# The manifest really carries the setuid bit: what a restore gets to see.
"$MIGRATE" decrypt -i "$KEY" -o "$T/manifest.json" "$B/migrate-manifest.json.age" ||
    fail "cannot decrypt the manifest"
# The manifest is a snapshot: a header line, then one JSON line per path.
[ "$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    o = json.loads(l)
    if o.get("path") == "suid": print(o["mode"])' "$T/manifest.json")" = 4755 ] ||
    fail "the manifest does not carry mode 4755 for suid"
(umask 077; "$MIGRATE" restore "$T/r.toml" --run "$RUN" -i "$KEY" --to "$T/u077") \
    >"$T/out" 2>"$T/err" || { cat "$T/err" >&2; fail "restore under umask 077"; }
for f in f.csv:700 perm.csv:600 sub/g.csv:600 suid:700; do
	got=$(stat -c %a "$T/u077/${f%%:*}")
	[ "$got" = "${f#*:}" ] || fail "umask 077: ${f%%:*} has mode $got, want ${f#*:}"
done
[ -z "$(find "$T/u077" -perm /077)" ] ||
    fail "umask 077: group/other bits on $(find "$T/u077" -perm /077)"
(umask 022; "$MIGRATE" restore "$T/r.toml" --run "$RUN" -i "$KEY" --to "$T/u022") \
    >"$T/out" 2>"$T/err" || { cat "$T/err" >&2; fail "restore under umask 022"; }
for f in f.csv:755 perm.csv:644 sub/g.csv:644 suid:755; do
	got=$(stat -c %a "$T/u022/${f%%:*}")
	[ "$got" = "${f#*:}" ] || fail "umask 022: ${f%%:*} has mode $got, want ${f#*:}"
done
[ -z "$(find "$T/u022" -perm /7000)" ] ||
    fail "set-id or sticky bit restored on $(find "$T/u022" -perm /7000)"

echo "== zstd bomb"
# A lake writer knows the recipients: it replaces the object of a 1,000
# byte file with 200 MB of zeros, zstd-compressed and age-encrypted.
command -v age >/dev/null 2>&1 || { echo "age not installed"; exit 77; }
command -v zstd >/dev/null 2>&1 || { echo "zstd not installed"; exit 77; }
mkdir -p "$T/src-bomb"
head -c 1000 /dev/urandom >"$T/src-bomb/bomb.bin"
write_plan "$T/z.toml" replatform "$T/src-bomb"
expect_exit 0 "$MIGRATE" run --json "$T/z.toml"
ZRUN=$(json "$T/out" 'd["run"]')
obj=$T/lake/$(json "$T/out" 'd["run_dir"]')/data/bomb.bin.zst.age
[ -f "$obj" ] || fail "no object $obj"
head -c 200000000 /dev/zero | zstd -q -3 | age -r "$(cat "$T/p/keys/demo.pub")" >"$obj.new" ||
    fail "cannot build the bomb"
[ "$(stat -c %s "$obj.new")" -lt 1000000 ] || fail "the bomb is not small"
mv "$obj.new" "$obj"
# Any file bigger than 1 MiB kills the restore (SIGXFSZ, exit 153): the
# file-size limit bounds the disk a restore may use, without watching it.
(ulimit -f 1024; exec "$MIGRATE" restore "$T/z.toml" --run "$ZRUN" -i "$KEY" --to "$T/zback") \
    >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 3 ] || { cat "$T/err" >&2; fail "zstd bomb: exit $rc, want 3"; }
expect_err "bomb.bin.zst.age"
[ ! -e "$T/zback/bomb.bin" ] || fail "zstd bomb: bomb.bin was published"
no_temporaries "$T/zback" "zstd bomb"
[ -z "$(find "$T/zback" -type f -size +1000c)" ] ||
    fail "zstd bomb: a file bigger than its manifest size: $(find "$T/zback" -type f -size +1000c)"
echo "== killed in the middle of a restore: no plaintext left"
# The first file is whole but not yet published when the test build
# stops; SIGKILL then (no handler can run) must leave nothing readable.
for sig in KILL TERM; do
	hook_start "point=restore.written action=pause" "$MIGRATE_HOOKS" restore "$T/r.toml" \
	    --run "$RUN" -i "$KEY" --to "$T/killed-$sig"
	hook_wait restore.written
	kill -"$sig" "$HOOK_TARGET"
	hook_end
	[ "$HOOK_RC" -gt 128 ] || fail "restore not killed by SIG$sig: exit $HOOK_RC"
	left=$(find "$T/killed-$sig" -type f | head -n 3)
	[ -z "$left" ] || fail "SIG$sig during restore left plaintext: $left"
done
echo ok
