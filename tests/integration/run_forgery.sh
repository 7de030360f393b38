#!/usr/bin/env bash
# A lake writer who knows the public recipient, and no key, tries to make
# migrate vouch for data it never landed (issue 13).  Each case is an
# attack with the exit status it must get:
#   forged objects       objects re-encrypted, bag made consistent again
#   forged manifest      migrate-manifest.json.age replaced
#   forged run           a copy of a run under a later run id, with the
#                        old run's audit head
#   copied seal          a sealed bag copied over another run's place
#   spliced audit log    records of a forged run appended to the log with
#                        a valid hash chain and an unsigned checkpoint
#   unsealed plan        the forged objects attack on a plan without a
#                        signing key: caught by the audit record alone
#   version rollback     a rebuild version copied to v=99 / deleted
#   in progress          a run paused mid-way is never "latest"
. "$(dirname "$0")/lib.sh"
setup_plans
FORGE="python3 $TESTS_DIR/tools/bag_forge.py"
REC=$(cat "$T/p/keys/demo.pub")
PUB=$T/p/keys/audit.pem.pub
src=$T/src
mkdir -p "$src/a"
for i in 1 2 3 4 5; do head -c $((i * 1000)) /dev/urandom >"$src/a/f$i.bin"; done
echo hello >"$src/top.txt"
write_plan "$T/s.toml" rehost "$src" "signing_key = \"$T/p/keys/audit.pem\""
LOG=$T/audit/t-rehost.jsonl

# fresh: a new lake and log with one complete run; BAG is its bag.
fresh() {
	rm -rf "$T/lake" "$T/audit"
	expect_exit 0 "$MIGRATE" run --no-progress --json "$T/s.toml"
	RUN=$(json "$T/out" 'd["run"]')
	BAG=$T/lake/$(json "$T/out" 'd["run_dir"]')
}
# refused WHAT CMD...: CMD exits 3 and names why (an audit or extra
# finding: not a BagIt one, which the forger made consistent).
refused() {
	local what=$1
	shift
	expect_exit 3 "$@"
	grep -qE '^(audit|extra|missing) ' "$T/out" || { cat "$T/out"; fail "$what: no finding"; }
	echo "  $what: exit 3: $(grep -m1 -E '^(audit|extra|missing) ' "$T/out" | cut -c1-150)"
}

echo "forged objects"
fresh
expect_exit 0 "$MIGRATE" verify "$BAG"	# the untouched bag is fine
echo "attacker's data" | age -r "$REC" >"$BAG/data/a/f1.bin.age"
$FORGE "$BAG"
expect_exit 0 "$MIGRATE" verify "$BAG"	# BagIt alone cannot tell
refused "verify PLAN" "$MIGRATE" verify "$T/s.toml"
refused "verify --deep" "$MIGRATE" verify --deep -i "$KEY" "$T/s.toml"
refused "verify BAGDIR --key" "$MIGRATE" verify --key "$PUB" "$BAG"
grep -q 'tag manifest' "$T/out" || fail "the seal finding does not name the tag manifest"
expect_exit 3 "$MIGRATE" restore "$T/s.toml" --run "$RUN" -i "$KEY" --to "$T/back"
expect_err "restore refused"
[ ! -e "$T/back" ] || [ -z "$(ls -A "$T/back")" ] || fail "restore wrote files from a forged bag"
echo "  restore: exit 3: $(head -n 1 "$T/err" | cut -c1-120)"

echo "--run by suffix, prefix, latest; ambiguous and unknown"
fresh
expect_exit 0 "$MIGRATE" verify --run "${RUN##*-}" "$T/s.toml"
expect_out "run $RUN"
expect_exit 0 "$MIGRATE" verify --run latest "$T/s.toml"
expect_out "run $RUN"
echo again >"$src/top.txt"
expect_exit 0 "$MIGRATE" run --no-progress "$T/s.toml"
expect_exit 2 "$MIGRATE" verify --run "${RUN%%T*}" "$T/s.toml"
expect_err "matches 2 runs: "
expect_exit 2 "$MIGRATE" verify --run 19990101T000000Z-00000000 "$T/s.toml"
expect_err "the latest: "
echo hello >"$src/top.txt"

echo "forged manifest"
fresh
printf '{"version":1,"run":"%s","objects":[]}' "$RUN" | age -r "$REC" >"$BAG/migrate-manifest.json.age"
$FORGE "$BAG"
refused "verify PLAN" "$MIGRATE" verify "$T/s.toml"
grep -q 'encrypted manifest the run recorded' "$T/out" || fail "the snapshot manifest finding is missing"

echo "forged run with an old audit head"
fresh
forged=$(date -u -d '+1 day' +%Y%m%dT%H%M%SZ)-ffffffff
fdir=$(dirname "$BAG")/run=$forged
cp -a "$BAG" "$fdir"
echo "attacker's data" | age -r "$REC" >"$fdir/data/top.txt.age"
$FORGE "$fdir" --ext-id "$forged"
expect_exit 0 "$MIGRATE" verify "$fdir"
refused "verify PLAN (latest)" "$MIGRATE" verify "$T/s.toml"
grep -q "run $forged in the lake is not on record" "$T/out" || fail "the forged run is not named"
refused "verify --run FORGED" "$MIGRATE" verify --run "$forged" "$T/s.toml"
rm -rf "$fdir"

echo "copied seal"
fresh
first=$RUN
first_bag=$BAG
echo changed >"$src/top.txt"
expect_exit 0 "$MIGRATE" run --no-progress --json "$T/s.toml"
second_bag=$T/lake/$(json "$T/out" 'd["run_dir"]')
# The second run's place now holds the first run's sealed bag.
rm -rf "$second_bag"
cp -a "$first_bag" "$second_bag"
refused "verify PLAN" "$MIGRATE" verify "$T/s.toml"
grep -q "the seal is of run $first" "$T/out" || fail "the copied seal is not named"

echo "spliced audit log"
fresh
forged=$(date -u -d '+2 day' +%Y%m%dT%H%M%SZ)-eeeeeeee
fdir=$(dirname "$BAG")/run=$forged
rel=${fdir#"$T/lake/"}
cp -a "$BAG" "$fdir"
rm -f "$fdir/seal"
echo "attacker's data" | age -r "$REC" >"$fdir/data/top.txt.age"
$FORGE "$fdir" --ext-id "$forged"
# Records for the forged run, chained to the log, with an unsigned
# checkpoint whose head goes into the forged bag-info.txt.
python3 - "$LOG" "$forged" "$rel" "$fdir" <<'PY'
import hashlib, json, os, sys
log, run, rel, bag = sys.argv[1:5]
lines = open(log, "rb").read().split(b"\n")[:-1]
last = json.loads(lines[-1])
seq, prev = last["seq"], hashlib.sha256(lines[-1]).hexdigest()
def sha(p):
    return hashlib.sha256(open(os.path.join(bag, p), "rb").read()).hexdigest()
man = [l.split("  ", 1) for l in open(os.path.join(bag, "manifest-sha256.txt")).read().splitlines()]
recs = [{"event": "run.start", "dir": rel}]
recs += [{"event": "object.stored", "object": p[5:-4], "dest": p, "stored_sha256": h} for h, p in man]
recs += [{"event": "run.end", "outcome": "complete", "objects": len(man),
          "manifest_sha256": sha("manifest-sha256.txt"),
          "snapshot_sha256": sha("migrate-manifest.json.age")},
         {"event": "checkpoint"}]
out = b""
for r in recs:
    seq += 1
    d = {"v": 1, "seq": seq, "ts": last["ts"], "run": run, "plan": last["plan"],
         "actor": last["actor"], "event": r.pop("event")}
    if d["event"] == "checkpoint":
        d["head"] = prev
    d.update(r)
    d["prev"] = prev
    line = json.dumps(d, separators=(",", ":")).encode()
    out += line + b"\n"
    prev = hashlib.sha256(line).hexdigest()
    head = d.get("head")
open(log, "ab").write(out)
info = [l for l in open(os.path.join(bag, "bag-info.txt")) if not l.startswith("Migrate-Audit-Head")]
info.insert(0, "Migrate-Audit-Head: %s\n" % head)
open(os.path.join(bag, "bag-info.txt"), "w").write("".join(info))
PY
$FORGE "$fdir"
refused "verify --run SPLICED" "$MIGRATE" verify --run "$forged" "$T/s.toml"
grep -q 'not signed' "$T/out" || fail "the unsigned checkpoint is not named"
grep -q 'no seal' "$T/out" || fail "the missing seal is not named"
# The latest complete run on record is now the spliced one: refused too.
refused "verify PLAN (latest = spliced)" "$MIGRATE" verify "$T/s.toml"

echo "unsealed plan: the audit record alone"
write_plan "$T/u.toml" rehost "$src"
sed -i 's/t-rehost/u-rehost/g' "$T/u.toml"
rm -rf "$T/lake" "$T/audit"
expect_exit 0 "$MIGRATE" run --no-progress --json "$T/u.toml"
BAG=$T/lake/$(json "$T/out" 'd["run_dir"]')
expect_exit 0 "$MIGRATE" verify "$T/u.toml"
expect_err "not sealed"
echo "attacker's data" | age -r "$REC" >"$BAG/data/a/f2.bin.age"
$FORGE "$BAG"
refused "verify PLAN" "$MIGRATE" verify "$T/u.toml"
grep -q 'not on record as stored' "$T/out" || fail "the unrecorded object is not named"

echo "manifest path with a malformed %-escape"
# sscanf("%2x") once read "%+1" and "% 1" as escapes; the strict decoder
# names the line instead of guessing at a path.
sed -i '1s#  data/.*#  data/a/f%zz.bin.age#' "$BAG/manifest-sha256.txt"
refused "verify PLAN, %zz in the manifest" "$MIGRATE" verify "$T/u.toml"
grep -q 'manifest-sha256.txt.*line 1: a malformed %-escape' "$T/out" ||
	fail "the malformed escape is not named with its line"

echo "version rollback (rebuild)"
rm -rf "$T/lake" "$T/audit"
write_plan "$T/b.toml" rebuild "$src" "signing_key = \"$T/p/keys/audit.pem\"
[refactor]
partition_by = \"mtime:%Y\"
partition_key = \"year\""
expect_exit 0 "$MIGRATE" run --no-progress --json "$T/b.toml"
v1=$T/lake/$(json "$T/out" 'd["run_dir"]')
v1run=$(json "$T/out" 'd["run"]')
echo v2 >"$src/top.txt"
expect_exit 0 "$MIGRATE" run --no-progress --json "$T/b.toml"
v2=$T/lake/$(json "$T/out" 'd["run_dir"]')
expect_exit 0 "$MIGRATE" verify "$T/b.toml"
# A crafted v=99 copy of v=1 does not become "latest", and is named.
v99=${v1/\/v=1\//\/v=99\/}
mkdir -p "$(dirname "$v99")"
cp -a "$v1" "$v99"
refused "verify PLAN with a v=99 copy" "$MIGRATE" verify "$T/b.toml"
refused "verify --run V1 with a v=99 copy" "$MIGRATE" verify --run "$v1run" "$T/b.toml"
grep -q 'a second copy' "$T/out" || fail "the second copy is not named"
rm -rf "$T/lake/curated/t-rebuild/v=99"
expect_exit 0 "$MIGRATE" verify --run "$v1run" "$T/b.toml"
# The latest version deleted: the run on record is missing, exit 3.
rm -rf "$v2"
refused "verify PLAN, latest version deleted" "$MIGRATE" verify "$T/b.toml"
grep -q 'not in the lake' "$T/out" || fail "the missing version is not named"

echo "in progress"
rm -rf "$T/lake" "$T/audit"
expect_exit 0 "$MIGRATE" run --no-progress --json "$T/s.toml"
done_run=$(json "$T/out" 'd["run"]')
echo again >"$src/a/f9.bin"
hook_start "point=object.landed action=pause" "$MIGRATE_HOOKS" run --no-progress --jobs 1 "$T/s.toml"
hook_wait object.landed
live=$(ls -d "$T"/lake/raw/t-rehost/ingest_date=*/run=* | grep -v "$done_run" | sed 's/.*run=//')
# The run in progress is not "latest": the complete one is verified.
"$MIGRATE" verify "$T/s.toml" >"$T/v.out" 2>"$T/v.err"
rc=$?
[ "$rc" = 0 ] || { cat "$T/v.out" "$T/v.err"; hook_resume; hook_end; fail "verify during a run: exit $rc, want 0"; }
grep -q "run $done_run" "$T/v.out" || { hook_resume; hook_end; fail "verify did not pick the complete run"; }
"$MIGRATE" verify --run "$live" "$T/s.toml" >"$T/v.out" 2>"$T/v.err"
rc=$?
hook_resume
hook_end
[ "$rc" = 4 ] || { cat "$T/v.out" "$T/v.err"; fail "verify --run IN-PROGRESS: exit $rc, want 4"; }
grep -q 'in progress' "$T/v.err" || fail "the run in progress is not called so"
[ "$HOOK_RC" = 0 ] || fail "the paused run did not complete: $HOOK_RC"
expect_exit 0 "$MIGRATE" verify "$T/s.toml"
expect_out "run $live"
echo ok
