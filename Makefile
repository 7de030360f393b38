# migrate: plain Makefile, no generator.
#
#   make                 build/migrate and build/toml-decoder
#   make WERROR=1        the same with -Werror (CI builds so: .ci/run)
#   make check           unit + integration tests (+ toml-test when present)
#   make check SANITIZE=1  the same, built with ASan+UBSan into build/asan
#   make check-faults    the crash matrix; make check-stress: CI x5 + hog x5
#   make check-scale     200,000 files (SCALE_FILES=N): killed, resumed,
#                        incremental, restored; not part of make check
#   make fuzz            libFuzzer targets (clang) into build/fuzz
#   make bench           benchmarks side by side with the peer tools
#                        (QUICK=1 small; BENCH=NAME one, e.g. BENCH=scale
#                        for memory and speed against 10k to 1M files)
#   make install         PREFIX=/usr/local DESTDIR= BINDIR= MANDIR=; never
#                        builds (run make first, not as root)
#   make uninstall       removes what install put there
#   make deps            install the Debian 12 packages (root, idempotent)

CC	?= cc
PKG_CONFIG ?= pkg-config
PREFIX	?= /usr/local
DESTDIR	?=
BINDIR	?= $(PREFIX)/bin
MANDIR	?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions
VERSION	:= 0.1.0

# Every library through pkg-config; a missing .pc stops the build here
# rather than as a missing header or symbol later.  Goals that build
# nothing (deps, clean, uninstall, lint-man) do not need them.
PKGS	:= openssl libssh2 libcurl libarchive libzstd jansson libutf8proc expat
NOPKG_GOALS := deps clean uninstall lint-man
ifneq ($(filter-out $(NOPKG_GOALS),$(or $(MAKECMDGOALS),all)),)
PKGS_MISSING := $(shell for p in $(PKGS); do \
	$(PKG_CONFIG) --exists $$p || echo $$p; done)
ifneq ($(strip $(PKGS_MISSING)),)
$(error $(PKG_CONFIG) finds no .pc for: $(PKGS_MISSING) (make deps as root installs them, or set PKG_CONFIG_PATH))
endif
DEPS_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS))
DEPS_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS))
endif
# cmocka only for the unit tests: looked up when one is linked.
CMOCKA_LIBS = $(shell $(PKG_CONFIG) --libs cmocka)
CMOCKA_CFLAGS = $(shell $(PKG_CONFIG) --cflags cmocka)

WARN	:= -Wall -Wextra -Wshadow -Wstrict-prototypes \
	   -Wmissing-prototypes -Wformat=2 -Wvla
# -Werror is for CI and developers (WERROR=1): a newer compiler's new
# warning must not stop a user's build.
ifeq ($(WERROR),1)
WARN	+= -Werror
endif
CPPFLAGS_ALL := -Iinclude -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
	   -DMIG_VERSION='"$(VERSION)"' $(DEPS_CFLAGS)
OPT	?= -O2 -g

ifeq ($(SANITIZE),1)
BUILD	?= build/asan
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
	   -fno-sanitize-recover=all
OPT	:= -O1 -g
else
BUILD	?= build
SANFLAGS :=
endif

CFLAGS_ALL := -std=c11 $(WARN) $(OPT) $(SANFLAGS) -MMD -MP $(CFLAGS)
LDFLAGS_ALL := $(SANFLAGS) $(LDFLAGS)
LIBS	:= $(DEPS_LIBS) -lpthread -lm

LIB_SRC	:= $(sort $(wildcard lib/*/*.c))
CMD_SRC	:= $(sort $(wildcard cmd/migrate/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))

LIB_OBJ	:= $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CMD_OBJ	:= $(CMD_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
LIBMIG	:= $(BUILD)/libmigrate.a

.PHONY: all demo check check-unit check-integration check-faults check-stress \
	check-scale conformance \
	fuzz fuzz-run bench install uninstall deps clean lint-man

all: $(BUILD)/migrate $(BUILD)/migrate-hooks $(BUILD)/toml-decoder

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CPPFLAGS) $(CFLAGS_ALL) -c -o $@ $<

$(LIBMIG): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/migrate: $(CMD_OBJ) $(LIBMIG)
	$(CC) $(LDFLAGS_ALL) -o $@ $(CMD_OBJ) $(LIBMIG) $(LIBS)

# The test build: the same objects, and test points that act on
# MIGRATE_TEST_HOOK (cmd/migrate/testhook.c).  Never installed.
HOOKS_OBJ := $(filter-out $(BUILD)/obj/cmd/migrate/testhook.o,$(CMD_OBJ)) \
	$(BUILD)/obj/cmd/migrate/testhook-on.o
$(BUILD)/obj/cmd/migrate/testhook-on.o: cmd/migrate/testhook.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) -DMIG_TEST_HOOKS $(CPPFLAGS) $(CFLAGS_ALL) -c -o $@ $<

$(BUILD)/migrate-hooks: $(HOOKS_OBJ) $(LIBMIG)
	$(CC) $(LDFLAGS_ALL) -o $@ $(HOOKS_OBJ) $(LIBMIG) $(LIBS)

$(BUILD)/toml-decoder: $(BUILD)/obj/tests/tools/toml-decoder.o $(LIBMIG)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(LIBMIG) $(LIBS)

.SECONDARY:

# Unit tests see module internals through MIG_INTERNAL.
$(BUILD)/obj/tests/unit/%.o: tests/unit/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) -DMIG_INTERNAL -Ilib $(CMOCKA_CFLAGS) \
	    $(CPPFLAGS) $(CFLAGS_ALL) -c -o $@ $<

# What every unit test links besides its own file: scratch directories,
# and the failing transport (tests/unit/mock_transport.h).
TEST_SUPPORT := $(BUILD)/obj/tests/unit/testutil.o \
    $(BUILD)/obj/tests/unit/mock_transport.o
$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(TEST_SUPPORT) $(LIBMIG)
	@mkdir -p $(dir $@)
	@$(PKG_CONFIG) --exists cmocka || { echo "$(PKG_CONFIG) finds no" \
	    "cmocka.pc: make deps as root installs libcmocka-dev" >&2; \
	    exit 1; }
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(TEST_SUPPORT) \
	    $(LIBMIG) $(CMOCKA_LIBS) $(LIBS)

check: all $(UNIT_BIN)
	@bash tests/run-unit.sh $(BUILD)
	@MIGRATE=$(abspath $(BUILD)/migrate) bash tests/run-integration.sh
	@$(MAKE) --no-print-directory conformance BUILD=$(BUILD) SANITIZE=$(SANITIZE)

check-unit: all $(UNIT_BIN)
	@bash tests/run-unit.sh $(BUILD)

check-integration: all
	@MIGRATE=$(abspath $(BUILD)/migrate) bash tests/run-integration.sh $(T)

check-faults: all
	@MIGRATE=$(abspath $(BUILD)/migrate) bash tests/faults/crash-matrix.sh

# Many files at once (issue 20): minutes and a few GiB of tmpfs, so not
# part of make check.
check-scale: all
	@MIGRATE=$(abspath $(BUILD)/migrate) bash tests/scale/check_scale.sh

# Five CI runs on fresh clones, five integration runs beside a CPU hog
# (tests/stress.sh; about 75 minutes).
# The unit binaries too: https_transport and sftp_transport drive them,
# and a round that skips a script proves nothing about it.
check-stress: all $(UNIT_BIN)
	@MIGRATE=$(abspath $(BUILD)/migrate) bash tests/stress.sh

TOML_TEST := ../shared/conformance/run-toml-test
conformance: $(BUILD)/toml-decoder
	@if [ -x $(TOML_TEST) ] || [ -f $(TOML_TEST) ]; then \
	    echo "== toml-test conformance"; \
	    bash $(TOML_TEST) $(abspath $(BUILD)/toml-decoder); \
	else echo "== toml-test not present, skipped"; fi

# libFuzzer targets: every lib/ file rebuilt with clang and the sanitizers.
FUZZ_BUILD := build/fuzz
FUZZ_FLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(CPPFLAGS_ALL) -DMIG_INTERNAL -Ilib -std=c11 $(WARN) -O1 -g \
	    $(FUZZ_FLAGS) -MMD -MP -c -o $@ $<

$(FUZZ_BUILD)/%: tests/fuzz/%.c $(FUZZ_LIB_OBJ)
	clang $(CPPFLAGS_ALL) -DMIG_INTERNAL -Ilib -std=c11 $(WARN) -O1 -g \
	    -fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_LIB_OBJ) $(LIBS)

fuzz: $(FUZZ_BIN)

# make fuzz-run FUZZ_SECONDS=600: every target in turn on its seed corpus.
FUZZ_SECONDS ?= 60
fuzz-run: fuzz
	@bash tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# The README's first command: land the bundled example into ./lake and
# verify it.  Demo keys are created once under plans/keys/ (git-ignored).
demo: all
	@bash tests/demo.sh $(BUILD)/migrate

bench: all
	@MIGRATE=$(abspath $(BUILD)/migrate) bash tests/bench/run.sh

lint-man:
	@for m in man/*.[0-9]; do mandoc -Tlint -W warning $$m || exit 1; done

# install never builds: "sudo make install" would otherwise leave
# root-owned objects in build/ (or rebuild with root's environment).
# It refuses when build/ is missing or out of date.
MAN1	:= $(notdir $(wildcard man/*.1))
MAN5	:= $(notdir $(wildcard man/*.5))
install:
	@$(MAKE) --no-print-directory -q $(BUILD)/migrate || { \
	    echo "$(BUILD)/migrate is missing or out of date: run make" \
	    "first (as yourself), then make install" >&2; exit 1; }
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(BASHCOMPDIR)
	install -m 0755 $(BUILD)/migrate $(DESTDIR)$(BINDIR)/migrate
	install -m 0644 $(addprefix man/,$(MAN1)) $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(addprefix man/,$(MAN5)) $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 completions/migrate.bash \
	    $(DESTDIR)$(BASHCOMPDIR)/migrate
	install -d $(DESTDIR)$(ZSHCOMPDIR)
	install -m 0644 completions/_migrate $(DESTDIR)$(ZSHCOMPDIR)/_migrate

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/migrate $(DESTDIR)$(BASHCOMPDIR)/migrate \
	    $(DESTDIR)$(ZSHCOMPDIR)/_migrate \
	    $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(MAN1)) \
	    $(addprefix $(DESTDIR)$(MANDIR)/man5/,$(MAN5))

# Build, test and benchmark dependencies, all Debian 12 packages.
DEB_PKGS := build-essential clang pkg-config libssl-dev libssh2-1-dev \
	libcurl4-openssl-dev libarchive-dev libzstd-dev libjansson-dev \
	libcmocka-dev python3 mandoc age zstd openssh-server openssh-client \
	nginx-light libnginx-mod-http-dav-ext rclone rsync time ca-certificates \
	libclang-rt-14-dev python3-yaml shellcheck man-db parallel zsh \
	libutf8proc-dev unicode-data bzip2 libexpat1-dev
# s3.sh runs s3rver from npm.  Debian's npm only when no Node.js and npm
# are there already: machines with NodeSource's nodejs (which bundles npm)
# cannot take Debian's npm ("held broken packages").
NODE_PKGS := nodejs npm
deps:
	@missing=$$(for p in $(DEB_PKGS); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | \
	    grep -q 'install ok installed' || echo $$p; done); \
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
	    missing="$$missing $(NODE_PKGS)"; fi; \
	missing=$$(echo $$missing); \
	if [ -n "$$missing" ]; then \
	    echo "installing:" $$missing; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "all build dependencies present"; fi

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(CMD_OBJ:.o=.d) $(FUZZ_LIB_OBJ:.o=.d)
-include $(BUILD)/obj/tests/unit/*.d $(BUILD)/obj/tests/tools/*.d
