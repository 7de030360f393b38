# Sourced (not run) by the audit_*.sh scripts and tests/bench/audit.sh after
# lib.sh: builds the audit-gen test tool against the libmigrate.a next to
# $MIGRATE.  Not named *.sh so that run-integration.sh does not run it.
build_audit_gen() {
	local lib
	lib="$(dirname "$MIGRATE")/libmigrate.a"
	if [ ! -f "$lib" ]; then
		echo "no $lib to build tests/tools/audit-gen.c against"
		exit 77
	fi
	AUDIT_GEN=$T/audit-gen
	# A library built with SANITIZE=1 needs the sanitizers at link time.
	local san=
	if nm "$lib" 2>/dev/null | grep -q __asan_init; then
		san="-fsanitize=address,undefined"
	fi
	# shellcheck disable=SC2046
	${CC:-cc} $san -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
	    -I"$REPO_DIR/include" -o "$AUDIT_GEN" \
	    "$REPO_DIR/tests/tools/audit-gen.c" "$lib" \
	    $(pkg-config --libs openssl libssh2 libcurl libarchive libzstd \
	    jansson) -lpthread -lm ${AUDIT_GEN_LDFLAGS:-} ||
	    fail "cannot build audit-gen"
}
