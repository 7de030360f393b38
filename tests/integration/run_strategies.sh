#!/usr/bin/env bash
# Every example plan runs, verifies (plain and deep), passes audit verify,
# and restores byte for byte where its strategy keeps files.
. "$(dirname "$0")/lib.sh"
setup_plans
cd "$T/p"
for p in retain retire rehost replatform refactor repurchase rebuild; do
	expect_exit 0 "$MIGRATE" plan check "$p.toml"
	expect_exit 0 "$MIGRATE" run --json "$p.toml"
	cp "$T/out" "$T/$p.json"
	[ "$(json "$T/$p.json" 'd["outcome"]')" = complete ] || fail "$p: not complete"
	expect_exit 0 "$MIGRATE" verify "$p.toml"
	expect_out "as on record in the audit log"
	expect_exit 0 "$MIGRATE" verify --deep -i "$KEY" "$p.toml"
	expect_out "every object decrypted and checked"
	log=$(ls "$T/p/audit/"*"$p"*.jsonl)
	if grep -q '^signing_key' "$p.toml"; then
		expect_exit 0 "$MIGRATE" audit verify "$log" --key keys/audit.pem.pub
	else
		# rebuild.toml signs nothing: the chain alone must hold.
		expect_exit 0 "$MIGRATE" audit verify "$log"
	fi
	run=$(json "$T/$p.json" 'd["run"]')
	dir=$(json "$T/$p.json" 'd["lake"]+"/"+d["run_dir"]')
	[ -f "$dir/_SUCCESS" ] || fail "$p: no _SUCCESS"
	# Any bag validator accepts the run directory without keys.
	expect_exit 0 "$MIGRATE" verify "$dir"
	if [ "$p" != retain ]; then
		expect_exit 0 "$MIGRATE" restore "$p.toml" --run "$run" -i "$KEY" --to "$T/restore-$p"
	fi
done

# Byte-equal round trips.
diff -r "$T/restore-rehost" data/billing -x tmp || fail "rehost restore differs"
diff -r "$T/restore-replatform/part-0000.csv" data/warehouse/part-0000.csv 2>/dev/null
for f in orders/part-0000.csv images/logo.bin empty.dat; do
	cmp "$T/restore-replatform/$f" "data/warehouse/$f" || fail "replatform $f differs"
done
diff -r "$T/restore-retire" data/legacy-crm || fail "retire restore differs"
diff -r "$T/restore-refactor" data/events || fail "refactor restore differs"
diff -r "$T/restore-rebuild" data/metrics || fail "rebuild restore differs"
mkdir -p "$T/crm" && tar -xzf data/crm-export.tar.gz -C "$T/crm"
diff -r "$T/restore-repurchase" "$T/crm" || fail "repurchase restore differs"

# Layout of DESIGN.md section 4.
lake=$(json "$T/rehost.json" 'd["lake"]')
ls -d "$lake"/raw/billing/ingest_date=*/run=* >/dev/null || fail "rehost layout"
ls "$lake"/raw/billing/ingest_date=*/run=*/data/2024/Q1/invoices.csv.age >/dev/null || fail "rehost names"
ls "$lake"/raw/warehouse/ingest_date=*/run=*/data/orders/part-0000.csv.zst.age >/dev/null || fail "replatform names"
ls "$lake"/curated/events/ingest_date=*/run=*/data/month=2024-03/events-2024-03-15.csv.zst.age >/dev/null || fail "refactor partitions"
ls -d "$lake"/curated/metrics/v=1/ingest_date=*/run=*/data/date=* >/dev/null || fail "rebuild version"
ls "$lake"/archive/legacy-crm/ingest_date=*/run=*/data/legacy-crm-retire.tar.zst.age >/dev/null || fail "retire archive"
ls "$lake"/export/crm/ingest_date=*/run=*/data/crm-repurchase.tar.age >/dev/null || fail "repurchase bundle"
ls "$lake"/inventory/hr/ingest_date=*/run=*/migrate-manifest.json.age >/dev/null || fail "retain inventory"
# The stock age tool decrypts what migrate wrote (no lock-in).
f=$(ls "$lake"/raw/billing/ingest_date=*/run=*/data/2024/Q1/invoices.csv.age)
age -d -i "$KEY" "$f" | cmp - data/billing/2024/Q1/invoices.csv || fail "age cannot decrypt"
# The repurchase bundle holds a valid BagIt bag.
f=$(ls "$lake"/export/crm/ingest_date=*/run=*/data/crm-repurchase.tar.age)
mkdir -p "$T/bundle" && age -d -i "$KEY" "$f" | tar -xf - -C "$T/bundle"
expect_exit 0 "$MIGRATE" verify "$T/bundle/crm-repurchase"
# rebuild never resumes nor reuses: a second run is v=2, v=1 untouched.
expect_exit 0 "$MIGRATE" run --json rebuild.toml
ls -d "$lake"/curated/metrics/v=2 >/dev/null || fail "rebuild v=2"
expect_exit 0 "$MIGRATE" verify --deep -i "$KEY" rebuild.toml
echo ok
