#!/usr/bin/env bash
# make check-scale (issue 20): a run of SCALE_FILES files (default
# 200,000 of 100 bytes, in folders of 1,000, on tmpfs) killed half way
# and resumed, then an incremental run, checked as the integration
# scripts check a small tree:
#   1 rehost --jobs 2 killed (SIGKILL, by the test build) when half the
#     objects have landed; resumed: exit 0, verify and verify --deep, and
#     the bag's manifest holds one object per file
#   2 1,000 files edited, 1,000 deleted, 1,000 added: the next run lands
#     exactly the 2,000 new and changed; verify; restoring the latest run
#     into an empty directory gives the source back (content, mode, mtime)
#   3 the wall time and peak RSS of each step, as a table
# The table only informs: no time or memory limits here (the tests never
# time; memory against the number of files is make bench's BENCH=scale).
# Not part of make check: it takes minutes and a few GiB of tmpfs.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	export TMPDIR=/dev/shm
fi
. "$(dirname "$0")/../integration/lib.sh"
N=${SCALE_FILES:-200000}
[ "$N" -ge 3000 ] 2>/dev/null || fail "SCALE_FILES=$N: at least 3000"
# The tree, the lake and the restored copy: a page and an inode a file
# each, so about 3 x 5 KiB a file.
need=$((N * 15))
avail=$(df -Pk "$T" | awk 'NR == 2 { print $4 }')
if [ "$avail" -lt "$need" ]; then
	echo "check-scale: $T has $((avail / 1024)) MiB free, needs ~$((need / 1024)) MiB" >&2
	exit 77
fi
setup_plans
src="$T/src"
started=$(date +%s)

# step NAME WANT CMD...: expect_exit WANT CMD under /usr/bin/time; the
# step's wall time and peak RSS go into the table.
: >"$T/steps"
record() {
	# The last line: a killed command's report begins with a note.
	tail -n 1 "$T/time" | {
		read -r s k
		printf '%s\t%s\t%s\n' "$1" "$s" "$k" >>"$T/steps"
	}
}
step() {
	local name=$1 want=$2
	shift 2
	expect_exit "$want" /usr/bin/time -f '%e %M' -o "$T/time" "$@"
	record "$name"
}

# N files of 100 random bytes: d0000/f000 ... d0199/f999.
"$PYTHON3" "$TESTS_DIR/tools/many_files.py" "$src" "$N"
write_plan "$T/s.toml" rehost "$src"

# 1. Killed when half the objects have landed (their journal entries
# written), then resumed by running the same command again.
half=$((N / 2))
hook_run "point=object.landed nth=$half action=kill" \
    /usr/bin/time -f '%e %M' -o "$T/time" \
    "$MIGRATE_HOOKS" run --no-progress --jobs 2 "$T/s.toml"
[ "$HOOK_RC" = 137 ] || { cat "$T/err" >&2; fail "run: exit $HOOK_RC, want 137 (killed at object $half)"; }
record "run, killed at object $half"
[ -z "$(find "$T/lake" -name _SUCCESS)" ] || fail "the killed run published a bag"
step "run, resumed" 0 "$MIGRATE" run --json --no-progress --jobs 2 "$T/s.toml"
cp "$T/out" "$T/first.json"
[ "$(json "$T/first.json" 'd["outcome"]')" = complete ] ||
    fail "resumed run: $(json "$T/first.json" 'd["outcome"]')"
[ "$(json "$T/first.json" 'd["resumed"]')" = True ] || fail "the run did not resume"
again=$(json "$T/first.json" 'd["counts"]["already_landed"]')
[ "$again" -ge "$half" ] ||
    fail "resumed with $again objects landed, the killed run had landed $half"
landed=$(json "$T/first.json" 'd["counts"]["stored"] + d["counts"]["already_landed"]')
[ "$landed" = "$N" ] || fail "landed $landed of $N"
first=$(json "$T/first.json" 'd["run"]')
bag="$T/lake/$(json "$T/first.json" 'd["run_dir"]')"
[ -f "$bag/_SUCCESS" ] || fail "no _SUCCESS in $bag"
[ "$(find "$T/lake" -name _SUCCESS | wc -l)" = 1 ] || fail "more than one bag"
[ -z "$(find "$T/lake" -name '*migrate-tmp*')" ] || fail "temporaries left"
step "verify" 0 "$MIGRATE" verify --json "$T/s.toml"
[ "$(json "$T/out" 'd["run"]')" = "$first" ] || fail "verify checked $(json "$T/out" 'd["run"]'), not $first"
step "verify --deep" 0 "$MIGRATE" verify --deep -i "$KEY" "$T/s.toml"
objs=$(wc -l <"$bag/manifest-sha256.txt")
[ "$objs" = "$N" ] || fail "the bag's manifest lists $objs objects, the source has $N files"
[ "$(find "$bag/data" -type f | wc -l)" = "$N" ] || fail "the bag holds other than $N objects"

# 2. Spread over the tree: file i edited when i % k == 0, deleted when
# i % k == 1, and a new file beside each edited one.
"$PYTHON3" - "$src" "$N" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
k = n // 1000
for j in range(1000):
    for r, what in ((0, "edit"), (1, "delete")):
        i = j * k + r
        p = os.path.join(root, "d%04d" % (i // 1000), "f%03d" % (i % 1000))
        if what == "delete":
            os.unlink(p)
            continue
        with open(p, "wb") as f:
            f.write(os.urandom(100))
        with open(os.path.join(os.path.dirname(p), "new%03d" % (i % 1000)), "wb") as f:
            f.write(os.urandom(100))
PY
step "incremental run (2,000 new/changed)" 0 "$MIGRATE" run --json --no-progress --jobs 2 "$T/s.toml"
cp "$T/out" "$T/second.json"
[ "$(json "$T/second.json" 'd["outcome"]')" = complete ] ||
    fail "incremental run: $(json "$T/second.json" 'd["outcome"]')"
c() { json "$T/second.json" "d[\"counts\"][\"$1\"]"; }
[ "$(c files)" = "$N" ] || fail "incremental run saw $(c files) files, not $N"
[ "$(c stored)" = 2000 ] || fail "incremental run landed $(c stored), not the 2000 new and changed"
[ "$(c unchanged)" = $((N - 2000)) ] || fail "incremental run: $(c unchanged) unchanged, want $((N - 2000))"
[ "$(c already_landed)" = 0 ] || fail "incremental run resumed something"
d() { json "$T/second.json" "d[\"drift\"][\"$1\"]"; }
[ "$(d new) $(d changed) $(d vanished)" = "1000 1000 1000" ] ||
    fail "drift new/changed/vanished: $(d new) $(d changed) $(d vanished), want 1000 each"
second=$(json "$T/second.json" 'd["run"]')
[ "$second" != "$first" ] || fail "the incremental run reused run id $first"
bag2="$T/lake/$(json "$T/second.json" 'd["run_dir"]')"
objs=$(wc -l <"$bag2/manifest-sha256.txt")
[ "$objs" = 2000 ] || fail "the incremental bag's manifest lists $objs objects, not 2000"
step "verify (incremental)" 0 "$MIGRATE" verify --json "$T/s.toml"
[ "$(json "$T/out" 'd["run"]')" = "$second" ] || fail "verify checked $(json "$T/out" 'd["run"]'), not $second"
step "restore --run latest" 0 "$MIGRATE" restore "$T/s.toml" --run latest -i "$KEY" --to "$T/back"
diff -r "$src" "$T/back" >&2 || fail "the restored tree differs from the source"
# Modes and mtimes too, as same_tree does, without three processes a file.
listing() {
	"$PYTHON3" - "$1" <<'PY'
import hashlib, os, sys
root = sys.argv[1]
out = []
for d, _, files in os.walk(root):
    for f in files:
        p = os.path.join(d, f)
        st = os.stat(p)
        with open(p, "rb") as fh:
            h = hashlib.sha256(fh.read()).hexdigest()
        out.append("%s %o %d %s" % (os.path.relpath(p, root),
            st.st_mode & 0o7777, int(st.st_mtime), h))
print("\n".join(sorted(out)))
PY
}
listing "$src" >"$T/want"
listing "$T/back" >"$T/have"
diff "$T/want" "$T/have" >&2 || fail "restored modes or mtimes differ (< source, > restored)"
[ "$(wc -l <"$T/have")" = "$N" ] || fail "restored $(wc -l <"$T/have") files, not $N"
expect_exit 0 "$MIGRATE" audit verify "$T/audit/t-rehost.jsonl"

# 3. The table (informational).
echo "check-scale: $N files of 100 B, --jobs 2, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
awk -F'\t' 'BEGIN { printf "%-38s %9s %12s\n", "step", "seconds", "peak RSS MiB" }
    { printf "%-38s %9.2f %12.1f\n", $1, $2, $3 / 1024 }' "$T/steps"
echo "resumed with $again of $N objects landed; the incremental run landed $(c stored)"
echo "total (tree built, checks included): $(($(date +%s) - started)) s"
echo ok
