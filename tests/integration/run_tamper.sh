#!/usr/bin/env bash
# verify names every kind of damage to a landed run and exits 3.
. "$(dirname "$0")/lib.sh"
setup_plans
cd "$T/p"
expect_exit 0 "$MIGRATE" run --json rehost.toml
dir=$(json "$T/out" 'd["lake"]+"/"+d["run_dir"]')
obj="$dir/data/2023/Q1/invoices.csv.age"
cp -a "$dir" "$T/pristine"
restore_bag() { rm -rf "$dir"; cp -a "$T/pristine" "$dir"; }

# A changed byte: named as altered, without and with keys.
flip_byte "$obj" 500
expect_exit 3 "$MIGRATE" verify rehost.toml
expect_out "altered    data/2023/Q1/invoices.csv.age"
expect_err "problem"
expect_exit 3 "$MIGRATE" verify --deep -i "$KEY" rehost.toml
restore_bag

# A truncated object.
truncate -s 100 "$obj"
expect_exit 3 "$MIGRATE" verify rehost.toml
expect_out "data/2023/Q1/invoices.csv.age"
restore_bag

# A deleted object.
rm "$obj"
expect_exit 3 "$MIGRATE" verify --json rehost.toml
[ "$(json "$T/out" '"missing" in [f["kind"] for f in d["findings"]]')" = True ] || fail "not reported missing"
restore_bag

# An added object.
echo intruder > "$dir/data/2023/extra.csv.age"
expect_exit 3 "$MIGRATE" verify rehost.toml
expect_out "extra      data/2023/extra.csv.age"
restore_bag

# No _SUCCESS: the run is not complete.
rm "$dir/_SUCCESS"
expect_exit 3 "$MIGRATE" verify rehost.toml
expect_out "_SUCCESS: the run is not complete"
restore_bag

# An edited manifest line.
c=$(head -c1 "$dir/manifest-sha256.txt")
[ "$c" = 0 ] && n=1 || n=0
sed -i "1s/^./$n/" "$dir/manifest-sha256.txt"
expect_exit 3 "$MIGRATE" verify rehost.toml
restore_bag

# A forged plaintext manifest (anyone with the recipient can encrypt one):
# the tag manifest no longer matches.
age -d -i "$KEY" "$dir/migrate-manifest.json.age" |
    sed 's/"size": 8808/"size": 8809/' |
    age -r "$(cat keys/demo.pub)" > "$T/forged.age"
cp "$T/forged.age" "$dir/migrate-manifest.json.age"
expect_exit 3 "$MIGRATE" verify rehost.toml
expect_out "migrate-manifest.json.age"
restore_bag

# The audit log cut before the head that the bag records.
log=audit/billing-rehost.jsonl
cp "$log" "$T/log.bak"
head -n 3 "$T/log.bak" > "$log"
expect_exit 3 "$MIGRATE" verify rehost.toml
expect_out "audit"
cp "$T/log.bak" "$log"
expect_exit 0 "$MIGRATE" verify rehost.toml

# A wrong identity: deep verify cannot decrypt, exit 1, not a pass.
"$MIGRATE" keygen -o "$T/other.key" 2>/dev/null
expect_exit 1 "$MIGRATE" verify --deep -i "$T/other.key" rehost.toml
echo ok
