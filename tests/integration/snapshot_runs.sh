#!/usr/bin/env bash
# Every run is a complete snapshot (issue 17): three runs with edits,
# deletions, renames, a mode and an mtime change in between; restoring each
# run gives back the source as it stood then, byte for byte, with its modes
# and mtimes, though only changed objects travelled.  Over file://, sftp and
# https.  Then retain's drift is exact, and restore into a tree that
# already matches does nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sshd.sh"
. "$(dirname "$0")/nginx.sh"
setup_plans
umask 022
unset SSH_AUTH_SOCK

start_or_skip sshd sshd_start
start_or_skip nginx nginx_start
cp "$SSHD_KNOWN_HOSTS" "$T/known_hosts"
export LAKE_PASSWORD=$NGINX_PASSWORD

snap_plan() {	# snap_plan KIND STRATEGY SOURCE -> $T/KIND-STRATEGY.toml
	local k=$1 s=$2 src=$3 dest
	case $k in
	file)	dest="url = \"file://$T/lake\"" ;;
	sftp)	dest="url = \"sftp://$SSHD_USER@127.0.0.1:$SSHD_PORT$SSHD_ROOT/lake\"
known_hosts = \"$T/known_hosts\"
identity = \"$SSHD_KEY_ED25519\"" ;;
	https)	dest="url = \"https://127.0.0.1:$NGINX_PORT/dav/lake\"
ca_file = \"$NGINX_CA\"
user = \"$NGINX_USER\"
password_env = \"LAKE_PASSWORD\"" ;;
	esac
	cat > "$T/$k-$s.toml" <<PLAN
version = 1
name = "snap-$k-$s"
strategy = "$s"
[source]
path = "$src"
[destination]
$dest
[encryption]
recipients_file = "$T/p/keys/demo.pub"
[audit]
log = "$T/audit/snap-$k-$s.jsonl"
PLAN
}

run_json() {	# run_json PLAN -> sets $run_id
	expect_exit 0 "$MIGRATE" run --json "$1"
	[ "$(json "$T/out" 'd["outcome"]')" = complete ] ||
	    fail "$1: outcome $(json "$T/out" 'd["outcome"]')"
	run_id=$(json "$T/out" 'd["run"]')
}

# Compressed and plain objects on the local lake; one of each remotely.
for kind in file sftp https; do
	case $kind in
	file)	strategies="rehost replatform" ;;
	sftp)	strategies=replatform ;;
	https)	strategies=rehost ;;
	esac
	for s in $strategies; do
		echo "== $kind $s"
		src="$T/src-$kind-$s"
		rm -rf "$src"; mkdir -p "$src/a" "$src/b" "$src/c" "$src/d"
		for i in 1 2 3; do printf 'id,v\n%d,%d\n' "$i" "$i" > "$src/a/$i.csv"; done
		head -c 300000 /dev/urandom > "$src/b/big.bin"
		printf '#!/bin/sh\necho hi\n' > "$src/c/run.sh"; chmod 755 "$src/c/run.sh"
		echo "old name" > "$src/d/old.txt"
		touch -d '2020-01-02 03:04:05' "$src/a/1.csv"
		snap_plan "$kind" "$s" "$src"
		plan="$T/$kind-$s.toml"

		run_json "$plan"; r1=$run_id
		cp -a "$src" "$T/copy1"

		echo "edited" >> "$src/a/1.csv"		# changed
		rm "$src/a/2.csv"			# deleted
		mv "$src/d/old.txt" "$src/d/new.txt"	# renamed, same bytes
		chmod 700 "$src/c/run.sh"		# mode only
		touch -d '2021-06-07 08:09:10' "$src/a/3.csv"	# mtime only
		mkdir "$src/e"; echo "added" > "$src/e/x.txt"	# added
		run_json "$plan"; r2=$run_id
		# The changed, the renamed and the added travel; the rest is
		# held by run 1's bag.
		[ "$(json "$T/out" 'd["counts"]["stored"]')" = 3 ] ||
		    fail "$kind $s run 2 landed $(json "$T/out" 'd["counts"]["stored"]') objects, want 3"
		[ "$(json "$T/out" 'd["drift"]["vanished"]')" = 2 ] ||
		    fail "$kind $s run 2: vanished $(json "$T/out" 'd["drift"]["vanished"]'), want 2"
		cp -a "$src" "$T/copy2"

		rm "$src/b/big.bin"			# the big one goes
		printf 'id,v\n2,back\n' > "$src/a/2.csv"	# a deleted name returns, other bytes
		mv "$src/c" "$src/c2"			# a directory renamed
		run_json "$plan"; r3=$run_id
		cp -a "$src" "$T/copy3"

		# runs lists the three, oldest first, each naming its parent.
		expect_exit 0 "$MIGRATE" runs --json "$plan"
		[ "$(json "$T/out" '" ".join(r["id"] + ":" + str(r["parent"]) + ":" + r["state"] + ":" + str(r["files"]) for r in d["runs"])')" = \
		    "$r1:None:complete:6 $r2:$r1:complete:6 $r3:$r2:complete:6" ] ||
		    fail "$kind $s runs: $(cat "$T/out")"
		expect_exit 0 "$MIGRATE" runs "$plan"
		[ "$(grep -c "^2" "$T/out")" = 3 ] || fail "$kind $s runs table: $(cat "$T/out")"
		# The source as it is now against the snapshot: the local one
		# (no key), then run 1's from the lake (with the key).
		expect_exit 0 "$MIGRATE" verify --against-source "$plan"
		expect_out "matches the snapshot of run $r3: 6 files"
		printf 'id,v\n9,9\n' > "$src/a/1.csv"	# same size, other bytes
		rm "$src/e/x.txt"; echo extra > "$src/extra.txt"
		expect_exit 3 "$MIGRATE" verify --against-source --json "$plan"
		[ "$(json "$T/out" '" ".join(f["kind"] + ":" + f["path"] for f in d["findings"])')" = \
		    "altered:a/1.csv missing:e/x.txt extra:extra.txt" ] ||
		    fail "$kind $s against the source: $(cat "$T/out")"
		expect_exit 3 "$MIGRATE" verify --against-source --json --run "$r1" -i "$KEY" "$plan"
		[ "$(json "$T/out" 'd["run"]')" = "$r1" ] || fail "--against-source --run $r1 checked $(json "$T/out" 'd["run"]')"
		grep -q '"path": "b/big.bin"' "$T/out" || fail "run 1's big.bin not missing: $(cat "$T/out")"
		expect_exit 2 "$MIGRATE" verify --against-source --run "$r1" "$plan"
		expect_err "give -i IDENTITY"
		rm -rf "$src"; cp -a "$T/copy3" "$src"
		expect_exit 0 "$MIGRATE" verify --against-source --run "$r3" -i "$KEY" "$plan"
		for k in 1 2 3; do
			eval "id=\$r$k"
			rm -rf "$T/back"
			expect_exit 0 "$MIGRATE" restore "$plan" --run "$id" -i "$KEY" --to "$T/back"
			same_tree "$T/back" "$T/copy$k" "$kind $s run $k"
			expect_exit 0 "$MIGRATE" verify --deep --run "$id" -i "$KEY" "$plan"
		done
		# latest is run 3; a tree that already matches is left alone.
		expect_exit 0 "$MIGRATE" restore "$plan" --run latest -i "$KEY" --to "$T/back"
		expect_out "restored 0 files"
		same_tree "$T/back" "$T/copy3" "$kind $s latest again"
		# Run 1 over run 3's tree: refused without --overwrite, nothing
		# touched; with it, run 1's files come back.
		expect_exit 1 "$MIGRATE" restore "$plan" --run "$r1" -i "$KEY" --to "$T/back"
		expect_err "--overwrite"
		same_tree "$T/back" "$T/copy3" "$kind $s refused overwrite"
		expect_exit 0 "$MIGRATE" restore "$plan" --run "$r1" -i "$KEY" --overwrite --to "$T/back"
		rm -rf "$T/back/e" "$T/back/c2" "$T/back/d/new.txt"	# run 3's extras stay
		same_tree "$T/back" "$T/copy1" "$kind $s --overwrite"
		# A subset by path and glob.
		rm -rf "$T/sub"
		expect_exit 0 "$MIGRATE" restore "$plan" --run "$r2" -i "$KEY" --to "$T/sub" 'a/*.csv' e/x.txt
		[ "$(cd "$T/sub" && find . -type f | LC_ALL=C sort | tr '\n' ' ')" = "./a/1.csv ./a/3.csv ./e/x.txt " ] ||
		    fail "$kind $s subset restored $(cd "$T/sub" && find . -type f | tr '\n' ' ')"
		rm -rf "$T/copy1" "$T/copy2" "$T/copy3" "$T/back" "$T/sub"
	done
done

echo "== runs: no bag for nothing new; a bag the log does not know is shown"
src="$T/src-runs"
mkdir -p "$src"; echo a > "$src/a.csv"
snap_plan file rehost "$src"
sed -i 's/snap-file-rehost/snap-runs/g' "$T/file-rehost.toml"
plan="$T/file-rehost.toml"
run_json "$plan"; r1=$run_id
expect_exit 0 "$MIGRATE" run --json "$plan"
[ "$(json "$T/out" 'd["outcome"]')" = nothing-new ] || fail "second run not nothing-new"
forged=20300101T000000Z-0badf00d
mkdir -p "$T/lake/raw/snap-runs/ingest_date=2030-01-01/run=$forged"
touch "$T/lake/raw/snap-runs/ingest_date=2030-01-01/run=$forged/_SUCCESS"
expect_exit 0 "$MIGRATE" runs --json "$plan"
[ "$(json "$T/out" '" ".join(r["id"] + ":" + r["state"] for r in d["runs"])')" = \
    "$r1:complete $forged:not on record" ] || fail "runs with a forged bag: $(cat "$T/out")"
rm -r "$T/lake/raw/snap-runs/ingest_date=2030-01-01"
# --run takes what runs prints: the id, a prefix, the 8-character suffix.
for sel in "$r1" "${r1:0:${#r1}-1}" "${r1: -8}" latest; do
	expect_exit 0 "$MIGRATE" verify --json --run "$sel" "$plan"
	[ "$(json "$T/out" 'd["run"]')" = "$r1" ] || fail "--run $sel picked $(json "$T/out" 'd["run"]')"
done
expect_exit 2 "$MIGRATE" verify --run 2 "$plan"
expect_err "$r1"
# The bag gone from the lake: on record, missing.
mv "$T/lake/raw/snap-runs" "$T/gone"
expect_exit 0 "$MIGRATE" runs --json "$plan"
[ "$(json "$T/out" '" ".join(r["id"] + ":" + r["state"] for r in d["runs"])')" = "$r1:missing" ] ||
    fail "runs with the bag gone: $(cat "$T/out")"
mv "$T/gone" "$T/lake/raw/snap-runs"

echo "== retain: drift is exact"
src="$T/src-retain"
mkdir -p "$src"
for f in keep chg del ren; do echo "$f" > "$src/$f.csv"; done
snap_plan file retain "$src"
plan="$T/file-retain.toml"
drift() { printf '%s %s %s' "$(json "$T/out" 'd["drift"]["new"]')" \
    "$(json "$T/out" 'd["drift"]["changed"]')" "$(json "$T/out" 'd["drift"]["vanished"]')"; }
expect_exit 0 "$MIGRATE" run --json "$plan"
expect_exit 0 "$MIGRATE" run --json "$plan"
[ "$(drift)" = "0 0 0" ] || fail "retain twice unchanged: drift $(drift)"
echo more >> "$src/chg.csv"; rm "$src/del.csv"; mv "$src/ren.csv" "$src/moved.csv"
echo new > "$src/add.csv"
expect_exit 0 "$MIGRATE" run --json "$plan"
[ "$(drift)" = "2 1 2" ] || fail "retain after edits: drift $(drift), want 2 new 1 changed 2 vanished"
for d in "new file add.csv" "new file moved.csv" "changed chg.csv" "vanished del.csv" "vanished ren.csv"; do
	grep -q "drift: $d" "$T/err" || fail "retain does not say 'drift: $d'"
done
grep -q "drift: .*keep.csv" "$T/err" && fail "retain reports drift for keep.csv"
expect_exit 0 "$MIGRATE" run --json "$plan"
[ "$(drift)" = "0 0 0" ] || fail "retain after settling: drift $(drift)"
expect_exit 0 "$MIGRATE" audit verify "$T/audit/snap-file-retain.jsonl"
echo ok
