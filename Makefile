# tellonce — build, test and run.
#
#   make run        install what is missing, build, start the demo gateway
#   make test       install what is missing, build, run the whole suite
#   make test SAN=1 the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make test-faults the fault tests (root: loop-mounted file systems, fsfreeze,
#                   iptables), SAN=1 too
#   make install    PREFIX=/usr/local DESTDIR=   (make uninstall: the same)
#   make deb        the Debian package (debian/), built in build/deb, linted
#   make test-deb   root: installs that package, starts it, purges it
#
# `deps`, `run` and `test` call make again after installing packages, so that
# pkg-config sees libraries that were only just installed.

PREFIX  ?= /usr/local
DESTDIR ?=
# GNU directory variables. The configuration goes to /etc when PREFIX is
# /usr (a distribution's layout), to PREFIX/etc otherwise.
BINDIR      ?= $(PREFIX)/bin
SYSCONFDIR  ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
DATADIR     ?= $(PREFIX)/share
MANDIR      ?= $(DATADIR)/man
DOCDIR      ?= $(DATADIR)/doc/tellonce
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
CC      ?= cc
SAN     ?= 0

# Debian 12 packages the build and `make run` need (the demo's partners are
# python3, its health checks curl).
DEB_PKGS = pkg-config make gcc libc6-dev \
	libcurl4-openssl-dev libssl-dev libjansson-dev libyaml-dev \
	libsqlite3-dev libevent-dev libpq-dev libutf8proc-dev \
	python3 curl
# Only the test suite needs these: a real PostgreSQL, the certificates its
# TLS tests make, the man page linters, systemd-analyze, promtool (the
# metrics lint), PyYAML (the e2e suite reads docs/openapi.yaml), Go and
# golang.org/x/mod (Go's own sumdb/tlog checks the audit log's format).
TEST_PKGS = python3-cryptography python3-yaml postgresql groff-base mandoc systemd \
	prometheus golang-go golang-golang-x-mod-dev
# Only the fault tests need these (a PostgreSQL server reached over TCP,
# whose packets tests/faults/test_pg_cut.py drops).
FAULT_PKGS = postgresql iptables
# Only the benchmarks need these.
BENCH_PKGS = wrk nginx-light
# Only `make deb` and `make test-deb` need these (the build dependencies
# are DEB_PKGS).
DEB_TOOL_PKGS = debhelper lintian
# Only `make fuzz` needs these (clang and its libFuzzer runtime).
FUZZ_PKGS = clang libclang-rt-14-dev
FUZZ_SECONDS ?= 60

PKGS = libcurl jansson yaml-0.1 sqlite3 libssl libcrypto libevent \
	libevent_openssl libevent_pthreads libpq libutf8proc

ifeq ($(FUZZ),1)
CC       = clang
BUILD    = build/fuzz
SANFLAGS = -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=undefined -fno-omit-frame-pointer
OPT      = -O1
else ifeq ($(SAN),1)
BUILD    = build/san
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
OPT      = -O1
else
BUILD    = build/release
SANFLAGS =
OPT      = -O2
endif

CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
	-Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter \
	-fPIC -pthread $(INCLUDES) $(SANFLAGS)
INCLUDES = -I. -Igateway -Iconnectors
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CPPFLAGS += $(PKG_CFLAGS) -DTELLONCE_VERSION=\"$(VERSION)\"
LDFLAGS  += -pthread $(SANFLAGS) -rdynamic
LDLIBS   += $(PKG_LIBS) -ldl -lm

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

# Everything but main.c goes into a static library that the daemon and the
# unit tests link, so a test exercises exactly the code that ships.
CORE_SRCS = $(filter-out gateway/main.c,$(wildcard gateway/*.c)) \
	$(wildcard connectors/*.c) \
	$(filter-out connectors/example/%,$(wildcard connectors/*/*.c))
# docs/openapi.yaml goes into the binary as a C array (GET /openapi.yaml),
# so the daemon needs no path to it and serves the document of its version.
CORE_OBJS = $(CORE_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/gen/openapi_yaml.o
UNIT_SRCS = $(wildcard tests/unit/test_*.c)
UNIT_BINS = $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
# bench/walpages.c is a library the gateway preloads (WALPAGES=1
# bench/push.sh), not a program.
TOOL_SRCS = $(wildcard tests/tools/*.c) \
	$(filter-out bench/walpages.c,$(wildcard bench/*.c))
TOOL_BINS = $(TOOL_SRCS:%.c=$(BUILD)/%) $(BUILD)/bench/walpages.so
# fuzz/fuzz_NAME.c: a libFuzzer harness (make fuzz), and under make test a
# replay of its saved corpus and regressions (tests/test_fuzz_NAME).
FUZZ_NAMES  = $(basename $(notdir $(wildcard fuzz/fuzz_*.c)))
FUZZ_COMMON = fuzz/common.c fuzz/fuzz.h tests/unit/tmpdir.h
FUZZ_REPLAY = $(FUZZ_NAMES:%=$(BUILD)/tests/test_%)
FUZZ_BINS   = $(FUZZ_NAMES:%=$(BUILD)/fuzz/%)

.PHONY: all deps build-tests test test-faults run install uninstall clean \
	bench fuzz fuzz-build deb test-deb

all: $(BUILD)/tellonce

deps:
	@missing=""; \
	for p in $(DEB_PKGS) $(EXTRA_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' \
	    || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(BUILD)/tellonce: $(BUILD)/gateway/main.o $(BUILD)/libtellonce.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/libtellonce.a: $(CORE_OBJS)
	@rm -f $@
	ar rcs $@ $^

# A connector sees connector.h and its own headers, never the gateway's:
# it reaches the core only through the ABI (connectors/connector.h).
$(BUILD)/connectors/%.o $(BUILD)/connectors/example.so: INCLUDES = -Iconnectors

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/gen/openapi_yaml.c: docs/openapi.yaml
	@mkdir -p $(dir $@)
	{ echo '/* Generated by the Makefile from docs/openapi.yaml. */'; \
	  echo '#include "api.h"'; \
	  echo 'const unsigned char api_openapi_yaml[] = {'; \
	  od -An -v -tx1 $< | sed -e 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  echo '};'; \
	  echo 'const size_t api_openapi_yaml_len = sizeof(api_openapi_yaml);'; \
	} > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(BUILD)/libtellonce.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libtellonce.a $(LDLIBS)

$(BUILD)/tests/tools/%: tests/tools/%.c $(BUILD)/libtellonce.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libtellonce.a $(LDLIBS)

$(BUILD)/bench/walpages.so: bench/walpages.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -shared $(LDFLAGS) -o $@ $< -ldl

$(BUILD)/bench/%: bench/%.c $(BUILD)/libtellonce.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libtellonce.a $(LDLIBS)

$(BUILD)/tests/test_fuzz_%: fuzz/fuzz_%.c fuzz/replay.c $(FUZZ_COMMON) $(BUILD)/libtellonce.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -DFUZZ_NAME=\"fuzz_$*\" $(LDFLAGS) -o $@ $< \
	    fuzz/replay.c fuzz/common.c $(BUILD)/libtellonce.a $(LDLIBS)

$(BUILD)/fuzz/%: fuzz/%.c $(FUZZ_COMMON) $(BUILD)/libtellonce.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -fsanitize=fuzzer -o $@ $< \
	    fuzz/common.c $(BUILD)/libtellonce.a $(LDLIBS)

# test_config fails the allocations of a load one by one (test_out_of_memory).
$(BUILD)/tests/test_config: LDFLAGS += -Wl,--wrap=malloc,--wrap=calloc \
	-Wl,--wrap=realloc,--wrap=reallocarray,--wrap=strdup
# test_blockcache counts the frees that reach malloc.
$(BUILD)/tests/test_blockcache: LDFLAGS += -Wl,--wrap=free

# The example plugin is a shared object loaded with dlopen (connectors/example).
$(BUILD)/connectors/example.so: $(wildcard connectors/example/*.c) connectors/connector.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -shared -o $@ $(wildcard connectors/example/*.c)

# Broken plugins the suite must refuse (tests/plugins/*.c).
$(BUILD)/tests/plugins/%.so: tests/plugins/%.c connectors/connector.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -shared -o $@ $<

PLUGINS = $(if $(wildcard connectors/example/*.c),$(BUILD)/connectors/example.so) \
	$(patsubst %.c,$(BUILD)/%.so,$(wildcard tests/plugins/*.c))
# The plugin tests load them.
$(BUILD)/tests/test_plugin $(BUILD)/tests/test_connector_matrix: $(PLUGINS)
# The name table of the identity test.
$(BUILD)/tests/test_identity: tests/unit/test_identity_names.h

# tests/tools/tlog_check.go: the audit log checked by Go's sumdb/note and
# sumdb/tlog, from Debian's sources of golang.org/x/mod (nothing downloaded).
$(BUILD)/tests/tools/tlog_check: tests/tools/tlog_check.go
	@mkdir -p $(dir $@)
	GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$(abspath $(BUILD))/gocache \
	  go build -o $@ $<

build-tests: all $(UNIT_BINS) $(TOOL_BINS) $(BUILD)/tests/tools/tlog_check \
	$(PLUGINS) $(FUZZ_REPLAY)

test:
	@$(MAKE) --no-print-directory deps EXTRA_PKGS="$(TEST_PKGS)"
	@$(MAKE) --no-print-directory build-tests
	@BUILD=$(BUILD) SAN=$(SAN) tests/run.sh

test-faults:
	@$(MAKE) --no-print-directory deps EXTRA_PKGS="$(FAULT_PKGS)"
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) SAN=$(SAN) tests/run.sh faults

# dpkg-buildpackage writes its packages next to the source tree, so it runs
# on a copy of the tree in build/deb, which keeps them, and the build's own
# debian/tellonce, out of the checkout. Building binary packages needs no
# orig tarball.
DEB_SRC = build/deb/tellonce-$(VERSION)
deb:
	@$(MAKE) --no-print-directory deps EXTRA_PKGS="$(DEB_TOOL_PKGS)"
	rm -rf build/deb
	mkdir -p $(DEB_SRC)
	tar -c --exclude=./build --exclude=./.git . | tar -x -C $(DEB_SRC)
	cd $(DEB_SRC) && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	    DEB_BUILD_OPTIONS="parallel=2 $(DEB_BUILD_OPTIONS)" \
	    dpkg-buildpackage -us -uc -b
	lintian --fail-on error build/deb/tellonce_*.changes

test-deb:
	@$(MAKE) --no-print-directory deb
	@tests/run.sh deb

run: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) config/demo.sh

bench:
	@$(MAKE) --no-print-directory deps EXTRA_PKGS="$(BENCH_PKGS)"
	@$(MAKE) --no-print-directory all $(TOOL_BINS)
	@BUILD=$(BUILD) bench/run.sh

# Each harness runs FUZZ_SECONDS on the saved corpus; new inputs go to
# build/fuzz/corpus, crashes to build/fuzz/crashes (copy them into
# fuzz/regressions/NAME once fixed).
fuzz:
	@$(MAKE) --no-print-directory deps EXTRA_PKGS="$(FUZZ_PKGS)"
	@$(MAKE) --no-print-directory FUZZ=1 fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh $(FUZZ_NAMES)

fuzz-build: $(FUZZ_BINS)

# The unit and the example configuration name the installed paths; the
# example keeps its store and audit log in the unit's StateDirectory, as
# ProtectSystem=strict leaves nothing else writable. Only these files are
# written, all under DESTDIR (tests/e2e/test_dist.py lists them).
INSTALL_DOCS = README.md $(wildcard docs/*.md) docs/openapi.yaml
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(SYSCONFDIR)/tellonce \
	    $(DESTDIR)$(DOCDIR)
	install -m 0755 $(BUILD)/tellonce $(DESTDIR)$(BINDIR)/tellonce
	sed -e 's|/usr/bin/tellonce|$(BINDIR)/tellonce|g' \
	    -e 's|/etc/tellonce|$(SYSCONFDIR)/tellonce|g' dist/tellonce.service \
	    > $(DESTDIR)$(UNITDIR)/tellonce.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/tellonce.service
	install -m 0644 dist/tellonce.sysusers $(DESTDIR)$(SYSUSERSDIR)/tellonce.conf
	install -m 0644 docs/man/tellonce.8 $(DESTDIR)$(MANDIR)/man8/tellonce.8
	install -m 0644 docs/man/tellonce.yaml.5 $(DESTDIR)$(MANDIR)/man5/tellonce.yaml.5
	sed -e 's|^  store: sqlite:tellonce.db .*|  store: sqlite:/var/lib/tellonce/tellonce.db|' \
	    -e 's|^    dir: audit .*|    dir: /var/lib/tellonce/audit|' config/example.yaml \
	    > $(DESTDIR)$(SYSCONFDIR)/tellonce/tellonce.yaml.example
	chmod 0644 $(DESTDIR)$(SYSCONFDIR)/tellonce/tellonce.yaml.example
	install -m 0644 $(INSTALL_DOCS) $(DESTDIR)$(DOCDIR)/

# Removes what install wrote; an admin's own files in SYSCONFDIR stay.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/tellonce $(DESTDIR)$(UNITDIR)/tellonce.service \
	    $(DESTDIR)$(SYSUSERSDIR)/tellonce.conf \
	    $(DESTDIR)$(MANDIR)/man8/tellonce.8 \
	    $(DESTDIR)$(MANDIR)/man5/tellonce.yaml.5 \
	    $(DESTDIR)$(SYSCONFDIR)/tellonce/tellonce.yaml.example \
	    $(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(INSTALL_DOCS)))
	rmdir $(DESTDIR)$(DOCDIR) $(DESTDIR)$(SYSCONFDIR)/tellonce 2>/dev/null || true

clean:
	rm -rf build

-include $(CORE_OBJS:.o=.d) $(BUILD)/gateway/main.d
