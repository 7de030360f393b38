#!/usr/bin/env bash
# Resume is exact after a crash while finishing (issue 21):
#   killed after the tag files, before _SUCCESS, with a source file deleted
#     before the resume: the resumed bag holds no object outside its
#     manifests (removed and audited), verifies, restores the source
#   killed after _SUCCESS, before the local state said so: the next run
#     settles the state and never writes the published bag again
. "$(dirname "$0")/lib.sh"
setup_plans
src=$T/src
mkdir -p "$src/d"
for i in $(seq 1 12); do head -c $((i * 700)) /dev/urandom >"$src/d/f$i.bin"; done
write_plan "$T/r.toml" rehost "$src" "signing_key = \"$T/p/keys/audit.pem\""
LOG=$T/audit/t-rehost.jsonl

echo "killed between the tag files and _SUCCESS, a source file deleted"
hook_run "point=bag.tags action=kill" "$MIGRATE_HOOKS" run --no-progress "$T/r.toml"
[ "$HOOK_RC" = 137 ] || fail "first attempt: exit $HOOK_RC, want 137"
bag=$(ls -d "$T"/lake/raw/t-rehost/ingest_date=*/run=*)
[ -f "$bag/manifest-sha256.txt" ] && [ ! -e "$bag/_SUCCESS" ] || fail "not killed between tags and _SUCCESS"
rm "$src/d/f7.bin"
expect_exit 0 "$MIGRATE" run --no-progress --json "$T/r.toml"
[ "$(json "$T/out" 'd["outcome"]')" = complete ] || fail "resume: $(json "$T/out" 'd["outcome"]')"
[ "$(json "$T/out" 'd["resumed"]')" = True ] || fail "did not resume"
expect_err "removed data/d/f7.bin.age from the unfinished bag"
[ ! -e "$bag/data/d/f7.bin.age" ] || fail "the vanished file's object is still in the bag"
grep -q '"event":"object.removed".*"dest":"data/d/f7.bin.age"' "$LOG" || fail "the removal is not on record"
expect_exit 0 "$MIGRATE" verify --deep -i "$KEY" "$T/r.toml"
expect_exit 0 "$MIGRATE" restore "$T/r.toml" --run "${bag##*/run=}" -i "$KEY" --to "$T/back"
diff -r "$T/back" "$src" || fail "restore differs from the source"
echo "  ok: the vanished file's object removed, the bag verifies and restores"

echo "killed after _SUCCESS, before the state said so"
echo new >"$src/d/new.bin"
hook_run "point=run.published action=kill" "$MIGRATE_HOOKS" run --no-progress "$T/r.toml"
[ "$HOOK_RC" = 137 ] || fail "attempt: exit $HOOK_RC, want 137"
pub=$(ls -d "$T"/lake/raw/t-rehost/ingest_date=*/run=* | grep -v "${bag##*/}")
[ -e "$pub/_SUCCESS" ] || fail "the killed run did not publish its bag"
before=$(cd "$pub" && find . -type f -exec sha256sum {} + | sort)
expect_exit 0 "$MIGRATE" run --no-progress --json "$T/r.toml"
expect_err "was published before an interruption"
[ "$(json "$T/out" 'd["outcome"]')" = nothing-new ] || fail "after settling: $(json "$T/out" 'd["outcome"]')"
after=$(cd "$pub" && find . -type f -exec sha256sum {} + | sort)
[ "$before" = "$after" ] || fail "the published bag was written again"
expect_exit 0 "$MIGRATE" verify "$T/r.toml"
expect_out "run ${pub##*/run=}"
echo "  ok: settled, the published bag untouched, nothing new"
echo ok
