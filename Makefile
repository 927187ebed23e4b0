# portredir — redirect privileged ports to unprivileged services with nftables.
PKG_CONFIG ?= pkg-config
PREFIX ?= /usr/local
DESTDIR ?=
SBINDIR ?= $(PREFIX)/sbin
SYSCONFDIR ?= /etc
MANDIR ?= $(PREFIX)/share/man
SYSTEMDUNITDIR ?= $(shell $(PKG_CONFIG) --variable=systemdsystemunitdir systemd 2>/dev/null || echo "$(PREFIX)/lib/systemd/system")
VERSION := 0.1.0

BUILD := build
SANITIZE ?= 0
WERROR ?= 0

# CFLAGS, CPPFLAGS, LDFLAGS and LDLIBS are the user's (make CFLAGS=-O0
# replaces only them); what portredir needs to build at all is kept in
# PORTREDIR_* and always passed, before the user's flags so that theirs
# can still override ours (-Wno-...), as the GNU coding standards ask.
CFLAGS ?= -O2 -g
PORTREDIR_WARNINGS := -Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes \
	-Wformat=2 -Wshadow -Wpointer-arith -Wundef
# Not by default: a newer compiler's new warning must not break a user's
# build. CI builds with WERROR=1.
ifeq ($(WERROR),1)
PORTREDIR_WARNINGS += -Werror
endif
PORTREDIR_CFLAGS := -std=gnu11 $(PORTREDIR_WARNINGS) -MMD -MP -pthread
PORTREDIR_CPPFLAGS = -D_GNU_SOURCE -DVERSION='"$(VERSION)"' -DSYSCONFDIR='"$(SYSCONFDIR)"' -Isrc \
	$(LIBRARY_CFLAGS)
PORTREDIR_LDFLAGS :=
PORTREDIR_LDLIBS = $(LIBRARY_LIBS) -pthread
ifeq ($(SANITIZE),1)
PORTREDIR_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
PORTREDIR_LDFLAGS += -fsanitize=address,undefined
endif
# Test-only fault injection (src/fault.h), built into $(BUILD)/faults/ by
# `make tests`; never part of the installed binary.
ifeq ($(FAULTS),1)
PORTREDIR_CPPFLAGS += -DPORTREDIR_FAULTS
endif
# The library as make fuzz builds it (with clang): coverage for libFuzzer.
ifeq ($(SANITIZE),fuzz)
PORTREDIR_CFLAGS += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
PORTREDIR_LDFLAGS += -fsanitize=address,undefined
endif

# pkg_config OPTION,PACKAGES: pkg-config's answer, or a stop that names
# the missing .pc files. Only expanded in recipes: make check and make
# demo install the libraries before the make that builds runs.
pkg_config = $(if $(call pkg_config_missing,$(2)),$(error $(call pkg_config_message,$(2))),$(shell $(PKG_CONFIG) $(1) $(2)))
pkg_config_missing = $(strip $(foreach package,$(1),$(if $(shell $(PKG_CONFIG) --exists $(package) 2>/dev/null && echo found),,$(package))))
pkg_config_message = $(if $(shell command -v $(PKG_CONFIG)),$(PKG_CONFIG) cannot find \
	$(patsubst %,%.pc,$(call pkg_config_missing,$(1))),$(PKG_CONFIG) is not installed); \
	run make deps (tests/install-deps.sh) to install the build dependencies
# Each asked once per make, on first use ($(eval) turns it into a simple
# variable holding the answer).
LIBRARY_CFLAGS = $(eval LIBRARY_CFLAGS := $(call pkg_config,--cflags,libnftnl libmnl))$(LIBRARY_CFLAGS)
LIBRARY_LIBS = $(eval LIBRARY_LIBS := $(call pkg_config,--libs,libnftnl libmnl))$(LIBRARY_LIBS)
CMOCKA_CFLAGS = $(eval CMOCKA_CFLAGS := $(call pkg_config,--cflags,cmocka))$(CMOCKA_CFLAGS)
CMOCKA_LIBS = $(eval CMOCKA_LIBS := $(call pkg_config,--libs,cmocka))$(CMOCKA_LIBS)

COMPILE = $(CC) $(PORTREDIR_CPPFLAGS) $(CPPFLAGS) $(PORTREDIR_CFLAGS) $(CFLAGS)
LINK = $(CC) $(CFLAGS) $(PORTREDIR_LDFLAGS) $(LDFLAGS)

ifeq ($(V),1)
Q :=
quiet = @:
else
Q := @
quiet = @printf '  %-6s %s\n'
endif

SOURCES := $(sort $(wildcard src/*.c))
OBJECTS := $(SOURCES:%.c=$(BUILD)/%.o)
LIBRARY_OBJECTS := $(filter-out $(BUILD)/src/main.o,$(OBJECTS))
UNIT_SOURCES := $(sort $(wildcard tests/unit/test_*.c))
UNIT_TESTS := $(UNIT_SOURCES:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SOURCES := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_TARGETS := $(FUZZ_SOURCES:tests/fuzz/%.c=$(BUILD)/%)
FUZZ_SECONDS ?= 60
# Every systemd unit in systemd/, built into $(BUILD)/ with the install
# paths substituted (NAME.in is a template, any other unit is copied as is).
SYSTEMD_TEMPLATES := $(patsubst systemd/%.in,$(BUILD)/%,$(wildcard systemd/*.in))
SYSTEMD_COPIES := $(patsubst systemd/%,$(BUILD)/%,$(wildcard systemd/*.service \
	systemd/*.path systemd/*.socket systemd/*.timer))
SYSTEMD_UNITS := $(sort $(SYSTEMD_TEMPLATES) $(SYSTEMD_COPIES))

all: $(BUILD)/portredir $(SYSTEMD_UNITS)

# Objects depend on the flags they were built with, so that switching
# SANITIZE=1 or WERROR=1 on or off rebuilds everything instead of mixing
# the two (and a warning is not lost in an object built before).
$(BUILD)/.flags: FORCE
	@mkdir -p $(@D)
	@echo '$(COMPILE) $(LINK)' | cmp -s - $@ || echo '$(COMPILE) $(LINK)' > $@

$(BUILD)/%.o: %.c $(BUILD)/.flags
	@mkdir -p $(@D)
	$(quiet) CC $<
	$(Q)$(COMPILE) -c -o $@ $<

$(BUILD)/tests/unit/%.o: PORTREDIR_CPPFLAGS += $(CMOCKA_CFLAGS)

$(BUILD)/libportredir.a: $(LIBRARY_OBJECTS)
	$(quiet) AR $@
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/portredir: $(BUILD)/src/main.o $(BUILD)/libportredir.a
	$(quiet) LD $@
	$(Q)$(LINK) -o $@ $^ $(PORTREDIR_LDLIBS) $(LDLIBS)

# Units are rebuilt when the paths substituted into them change.
$(BUILD)/.paths: FORCE
	@mkdir -p $(@D)
	@echo '$(SBINDIR) $(SYSCONFDIR)' | cmp -s - $@ || echo '$(SBINDIR) $(SYSCONFDIR)' > $@

SUBSTITUTE_PATHS = sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'

$(SYSTEMD_TEMPLATES): $(BUILD)/%: systemd/%.in $(BUILD)/.paths
	$(quiet) GEN $@
	$(Q)$(SUBSTITUTE_PATHS) $< > $@.tmp && mv $@.tmp $@

$(SYSTEMD_COPIES): $(BUILD)/%: systemd/% $(BUILD)/.paths
	$(quiet) GEN $@
	$(Q)$(SUBSTITUTE_PATHS) $< > $@.tmp && mv $@.tmp $@

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/libportredir.a
	@mkdir -p $(@D)
	$(quiet) LD $@
	$(Q)$(LINK) -o $@ $^ $(CMOCKA_LIBS) $(PORTREDIR_LDLIBS) $(LDLIBS)

# Records the reader's dumps for the decoder's fuzz seeds, and checks that
# they decode as the live read does: a test program, not part of portredir.
$(BUILD)/tests/record_dumps: $(BUILD)/tests/fuzz/record_dumps.o $(BUILD)/libportredir.a
	@mkdir -p $(@D)
	$(quiet) LD $@
	$(Q)$(LINK) -o $@ $^ $(PORTREDIR_LDLIBS) $(LDLIBS)

$(FUZZ_TARGETS): $(BUILD)/%: $(BUILD)/tests/fuzz/%.o $(BUILD)/libportredir.a
	$(quiet) LD $@
	$(Q)$(LINK) -fsanitize=fuzzer -o $@ $^ $(PORTREDIR_LDLIBS) $(LDLIBS)

fuzz-targets: $(FUZZ_TARGETS)

tests: $(BUILD)/portredir $(UNIT_TESTS) $(BUILD)/tests/record_dumps
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/faults FAULTS=1 $(BUILD)/faults/portredir

# The second command of the README. Missing dependencies are installed
# first, and make runs again so that pkg-config sees them.
check:
	@tests/install-deps.sh
	@$(MAKE) --no-print-directory tests
	@tests/run.sh $(UNIT_TESTS)

# The tests that need neither root nor a kernel to change: the unit tests
# and the mapping-file corpus. The package build runs them (dh_auto_test);
# make check runs them too, among everything else.
check-unit: $(BUILD)/portredir $(UNIT_TESTS)
	@set -e; for test in $(UNIT_TESTS); do $$test; done
	@PORTREDIR=$(BUILD)/portredir tests/run-corpus.sh >$(BUILD)/corpus.tap; \
	if grep '^not ok' $(BUILD)/corpus.tap; then exit 1; fi; \
	echo "corpus: $$(grep -c '^ok' $(BUILD)/corpus.tap) passed, 0 failed"

# The Debian package (debian/) and its -dbgsym, built from a copy of this
# tree in $(BUILD)/deb/ (dpkg-buildpackage writes beside the source
# directory, so everything lands there), then checked by lintian: no error
# and no warning. Log in $(BUILD)/deb/build.log.
DEB_VERSION = $(shell dpkg-parsechangelog -S Version 2>/dev/null)
DEB_ARCH = $(shell dpkg --print-architecture 2>/dev/null)
DEB_FILE = $(BUILD)/deb/portredir_$(DEB_VERSION)_$(DEB_ARCH).deb
deb:
	@tests/install-deps.sh debhelper dpkg-dev lintian
	@rm -rf $(BUILD)/deb && mkdir -p $(BUILD)/deb/portredir-$(DEB_VERSION)
	@tar -cf - --exclude=./$(BUILD) --exclude=./.git . | tar -xf - -C $(BUILD)/deb/portredir-$(DEB_VERSION)
	$(quiet) DEB $(DEB_FILE)
	@cd $(BUILD)/deb/portredir-$(DEB_VERSION) && \
	if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL dpkg-buildpackage -us -uc -b -Jauto >../build.log 2>&1; then \
		tail -n 40 ../build.log; echo "dpkg-buildpackage failed; the log is $(BUILD)/deb/build.log" >&2; exit 1; \
	fi
	$(quiet) LINT $(BUILD)/deb/portredir_$(DEB_VERSION)_$(DEB_ARCH).changes
	@lintian --fail-on error,warning $(BUILD)/deb/portredir_$(DEB_VERSION)_$(DEB_ARCH).changes

# The packet-path bench's load generator and servers (tests/bench/packet.py).
$(BUILD)/tests/packet_load: tests/bench/packet_load.c $(BUILD)/.flags
	@mkdir -p $(@D)
	$(quiet) CC $@
	$(Q)$(COMPILE) $(PORTREDIR_LDFLAGS) $(LDFLAGS) -o $@ $<

# Benchmarks against nft and against a direct bind, in throwaway
# namespaces; not part of check. BENCHFLAGS=--packet-only runs only the
# packet path (and not watch's bench).
bench:
	@tests/install-deps.sh gnuplot-nox
	@$(MAKE) --no-print-directory all $(BUILD)/tests/packet_load
	@python3 tests/bench/bench.py --out $(BUILD)/bench $(BENCHFLAGS)
	$(if $(findstring --packet-only,$(BENCHFLAGS)),,@python3 tests/bench/watch.py $(WATCHBENCHFLAGS))

# The installed units in a really booted minimal Debian system
# (systemd-nspawn, as root; tests/boot/check-boot.sh). Run by CI.
# The package too (make deb first; built here when there is none).
check-boot:
	@tests/install-deps.sh debootstrap systemd-container
	@$(MAKE) --no-print-directory all SANITIZE=0
	@[ -e $(DEB_FILE) ] || $(MAKE) --no-print-directory deb
	@SBINDIR='$(SBINDIR)' SYSTEMDUNITDIR='$(SYSTEMDUNITDIR)' DEB='$(DEB_FILE)' tests/boot/check-boot.sh

# The first command of the README: dependencies, build, and a demonstration
# in throwaway network namespaces. make is run again after the install so
# that pkg-config sees the libraries just installed.
demo:
	@tests/install-deps.sh
	@$(MAKE) --no-print-directory all
	@tests/demo.sh

# Each libFuzzer target of tests/fuzz for FUZZ_SECONDS seconds, built with
# clang, ASan and UBSan into $(BUILD)/fuzz; fails on any crash, leak or
# sanitizer report. Not part of check (CI runs it).
fuzz:
	@tests/install-deps.sh clang libclang-rt-dev
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/fuzz CC=clang SANITIZE=fuzz fuzz-targets
	@tests/fuzz/run.sh $(BUILD)/fuzz $(FUZZ_SECONDS)

deps:
	@tests/install-deps.sh

# Units are not enabled here (nor disabled by uninstall): that is the
# administrator's choice, with systemctl enable portredir.service.
install: $(BUILD)/portredir $(SYSTEMD_UNITS)
	install -D -m 0755 $(BUILD)/portredir $(DESTDIR)$(SBINDIR)/portredir
	install -d -m 0755 $(DESTDIR)$(SYSTEMDUNITDIR)
	install -m 0644 $(SYSTEMD_UNITS) $(DESTDIR)$(SYSTEMDUNITDIR)/
	install -D -m 0644 man/portredir.8 $(DESTDIR)$(MANDIR)/man8/portredir.8
	install -D -m 0644 man/portredir.conf.5 $(DESTDIR)$(MANDIR)/man5/portredir.conf.5
	@mkdir -p $(DESTDIR)$(SYSCONFDIR)/portredir
	@[ -e $(DESTDIR)$(SYSCONFDIR)/portredir/rules.conf ] || install -m 0644 rules/rules.conf $(DESTDIR)$(SYSCONFDIR)/portredir/rules.conf

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/portredir $(DESTDIR)$(MANDIR)/man8/portredir.8 \
	      $(DESTDIR)$(MANDIR)/man5/portredir.conf.5 \
	      $(SYSTEMD_UNITS:$(BUILD)/%=$(DESTDIR)$(SYSTEMDUNITDIR)/%)

clean:
	rm -rf $(BUILD)

-include $(OBJECTS:.o=.d) $(UNIT_SOURCES:tests/unit/%.c=$(BUILD)/tests/unit/%.d)
-include $(BUILD)/tests/fuzz/record_dumps.d $(FUZZ_SOURCES:%.c=$(BUILD)/%.d)

# The unit tests' objects are intermediate files of the pattern rules:
# without this make deletes them after linking (printing "rm ...") and
# relinks every test on the next run.
.SECONDARY:

.PHONY: all tests check check-unit check-boot deb bench demo deps fuzz fuzz-targets install uninstall clean FORCE
