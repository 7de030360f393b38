#!/usr/bin/env bash
# make demo: the README's first command.  Creates the demo keys once
# (plans/keys/, git-ignored), lands plans/rehost.toml into ./lake, then
# verifies the landed bag, deeply (decrypting every object).
set -euo pipefail
migrate=${1:-build/migrate}
cd "$(dirname "$0")/.."
mkdir -p plans/keys
if [ ! -f plans/keys/demo.key ]; then
	"$migrate" keygen -o plans/keys/demo.key
	grep -o 'age1[a-z0-9]*' plans/keys/demo.key > plans/keys/demo.pub
	echo "created demo identity plans/keys/demo.key"
fi
if [ ! -f plans/keys/audit.pem ]; then
	"$migrate" keygen --signing -o plans/keys/audit.pem
	echo "created audit signing key plans/keys/audit.pem"
fi
set -x
"$migrate" plan check plans/rehost.toml
"$migrate" run plans/rehost.toml
"$migrate" verify --deep -i plans/keys/demo.key plans/rehost.toml
"$migrate" audit verify plans/audit/billing-rehost.jsonl --key plans/keys/audit.pem.pub
