#!/usr/bin/env bash
# Before it publishes, a run checks that every object is in the lake with
# the size it wrote: one listing per folder of the bag (not a stat per
# object, a round trip each over a WAN).  A lake writer who deletes or
# truncates objects between landing and publishing, or removes a whole
# folder, gets a run that refuses to publish and names how many; the next
# run lands them again and publishes a bag that deep-verifies.
. "$(dirname "$0")/lib.sh"
setup_plans
SRC=$T/src
# Folder a's files are not contiguous in path order: a/b/ sorts between
# a/a.csv and a/c.csv.
mkdir -p "$SRC/a/b" "$SRC/d"
for f in a/a.csv a/b/c.csv a/b/d.csv a/c.csv d/e.csv top.csv; do
	head -c 3000 /dev/urandom > "$SRC/$f"
done
write_plan "$T/rehost.toml" rehost "$SRC"
audit=$T/audit/t-rehost.jsonl

hook_start "point=run.landed action=pause" \
    timeout 120 "$MIGRATE_HOOKS" run --no-progress --jobs 2 "$T/rehost.toml"
hook_wait run.landed
bag=$(find "$LAKE" -type d -name data -path '*t-rehost*' | head -n 1)
[ -n "$bag" ] || fail "no bag data folder in the lake"
[ -f "$bag/a/c.csv.age" ] && [ -f "$bag/a/b/c.csv.age" ] || fail "objects not landed at run.landed"
rm "$bag/a/c.csv.age"
truncate -s 10 "$bag/a/b/c.csv.age"
rm -r "$bag/d"
hook_resume
hook_end
[ "$HOOK_RC" = 3 ] || { cat "$T/err"; fail "deleted objects: exit $HOOK_RC, want 3"; }
grep -q '3 objects missing or of the wrong size after landing' "$T/err" ||
    { cat "$T/err"; fail "the refusal does not count the 3 objects"; }
for o in data/a/c.csv.age data/a/b/c.csv.age data/d/e.csv.age; do
	grep -q "\"event\":\"verify.failed\",\"object\":\"$o\"" "$audit" ||
	    fail "no verify.failed record for $o"
done
[ "$(grep -c '"event":"verify.failed"' "$audit")" = 3 ] ||
    fail "verify.failed for objects that were intact"
[ -z "$(find "$LAKE" -name _SUCCESS)" ] || fail "the run published with objects missing"

# The next run resumes, lands exactly the three again and publishes.
expect_exit 0 "$MIGRATE" run --no-progress --json "$T/rehost.toml"
[ "$(json "$T/out" 'd["resumed"]')" = True ] || fail "the next run did not resume"
[ "$(json "$T/out" 'd["counts"]["stored"]')" = 3 ] ||
    fail "the next run stored $(json "$T/out" 'd["counts"]["stored"]') objects, want the 3 damaged ones"
run=$(json "$T/out" 'd["run"]')
expect_exit 0 "$MIGRATE" verify --deep -i "$KEY" "$T/rehost.toml"
expect_exit 0 "$MIGRATE" restore "$T/rehost.toml" --run "$run" -i "$KEY" --to "$T/back"
same_tree "$SRC" "$T/back" "restore after the repaired run"
echo "ok"
