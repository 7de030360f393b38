#!/usr/bin/env bash
# make demo: the README's first command.  Creates demo keys if missing,
# then checks and runs plans/rehost.toml into ./lake and verifies it.
set -euo pipefail
migrate=${1:-build/migrate}
cd "$(dirname "$0")/.."
mkdir -p plans/keys
if [ ! -f plans/keys/demo.key ]; then
	"$migrate" keygen -o plans/keys/demo.key 2>/dev/null
	grep -o 'age1[a-z0-9]*' plans/keys/demo.key > plans/keys/demo.pub
	echo "created demo identity plans/keys/demo.key (recipient in plans/keys/demo.pub)"
fi
if [ ! -f plans/keys/audit.pem ]; then
	"$migrate" keygen --signing -o plans/keys/audit.pem >/dev/null
	echo "created audit signing key plans/keys/audit.pem"
fi
set -x
"$migrate" plan check plans/rehost.toml
