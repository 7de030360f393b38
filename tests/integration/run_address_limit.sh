#!/usr/bin/env bash
# The run's objects live in address space reserved up front (objstore.c,
# issue 20).  Under a limit on address space (ulimit -v, as batch systems
# set it), a run must reserve what the limit allows, not fail at once:
# a run of a few files needs a few pages.
. "$(dirname "$0")/lib.sh"
# A sanitizer's shadow memory needs terabytes of address space itself.
if nm "$MIGRATE" 2>/dev/null | grep -q __asan_init; then
	echo "skipped: a sanitizer build needs more address space than the limit"
	exit 77
fi
setup_plans
mkdir -p "$T/src/d"
for f in a.csv d/b.csv; do head -c 3000 /dev/urandom > "$T/src/$f"; done
write_plan "$T/r.toml" rehost "$T/src"

# 2 GiB of address space: far more than these files need.
expect_exit 0 bash -c 'ulimit -v 2097152 && exec "$@"' - \
    "$MIGRATE" run --no-progress "$T/r.toml"
expect_exit 0 "$MIGRATE" verify --deep -i "$KEY" "$T/r.toml"
echo "ok"
