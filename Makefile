# smtpcluster — one entry point: deps, build, run, test, bench, lint, fuzz.
#
#   make run    install what is missing, build, start a 3-node cluster
#   make test   install what is missing, build, run every test
#   make lab    the docker-compose lab (docs/lab.md); lab-test, lab-down
#
# Objects go to build/ (release) and build/asan/ (ASan+UBSan, unit tests).
# Sources are found by wildcard: a new .c in spool/, raft/, src/ or cli/ is
# built without touching this file; tests/unit/test_<module>.c becomes a
# unit test binary.

PREFIX   ?= /usr/local
DESTDIR  ?=
CC       ?= cc
CLANG    ?= clang
BUILD    := build
ASAN     := $(BUILD)/asan

PKGS     := raft libuv lmdb libcares libssl libcrypto inih json-c libsystemd libmicrohttpd libsasl2
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lraft -luv -llmdb -lcares -lssl -lcrypto -linih -ljson-c -lsystemd -lmicrohttpd -lsasl2)

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
CSTD     := -std=c11 -D_GNU_SOURCE
CFLAGS   ?= -O2 -g
ALL_CFLAGS = $(CSTD) $(WARN) $(CFLAGS) -I. $(PKG_CFLAGS) -MMD -MP
SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
ASAN_CFLAGS = $(CSTD) $(WARN) -O1 -g $(SAN) -I. $(PKG_CFLAGS) -MMD -MP

# Layers (docs/architecture.md): spool/codec (pure) <- spool/store (LMDB)
# <- raft <- src/<subsystem> <- src/daemon/main.c; cli links only
# spool/codec.
CODEC_SRC := $(sort $(wildcard spool/codec/*.c))
STORE_SRC := $(sort $(wildcard spool/store/*.c))
SPOOL_SRC := $(CODEC_SRC) $(STORE_SRC)
RAFT_SRC  := $(sort $(wildcard raft/*.c))
SRC_SRC   := $(sort $(filter-out src/daemon/main.c src/testhooks/%,$(wildcard src/*/*.c)))
HOOK_SRC  := $(sort $(wildcard src/testhooks/*.c))
CLI_SRC   := $(sort $(filter-out cli/smtpctl.c,$(wildcard cli/*.c)))
UNIT_SRC  := $(sort $(wildcard tests/unit/test_*.c))

CODEC_OBJ := $(CODEC_SRC:%.c=$(BUILD)/%.o)
SPOOL_OBJ := $(SPOOL_SRC:%.c=$(BUILD)/%.o)
CORE_OBJ  := $(SPOOL_OBJ) $(RAFT_SRC:%.c=$(BUILD)/%.o) $(SRC_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ   := $(CLI_SRC:%.c=$(BUILD)/%.o)
HOOK_OBJ  := $(HOOK_SRC:%.c=$(BUILD)/%.o)
ASAN_LIB_OBJ := $(SPOOL_SRC:%.c=$(ASAN)/%.o) $(RAFT_SRC:%.c=$(ASAN)/%.o) \
		$(SRC_SRC:%.c=$(ASAN)/%.o) $(CLI_SRC:%.c=$(ASAN)/%.o) \
		$(HOOK_SRC:%.c=$(ASAN)/%.o)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(ASAN)/tests/%)
ASAN_CORE_OBJ := $(SPOOL_SRC:%.c=$(ASAN)/%.o) $(RAFT_SRC:%.c=$(ASAN)/%.o) \
		$(SRC_SRC:%.c=$(ASAN)/%.o)
ASAN_HOOK_OBJ := $(HOOK_SRC:%.c=$(ASAN)/%.o)

BINS := $(BUILD)/smtpclusterd $(BUILD)/smtpctl
# The test daemon: the same sources, built with ASan+UBSan, plus the test
# hooks of src/testhooks/ (the "debug" control commands; one writes the
# spool outside raft), for the integration and fault tests only. Never
# installed.
TEST_DAEMON := $(BUILD)/test/smtpclusterd

FUZZ_SECONDS ?= 60
FUZZ_SRC  := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN  := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)

.PHONY: all deps test unit integration test-daemon faults faults-short run bench bench-scale lint format fuzz install check-install clean check-format lab lab-test lab-down

all: $(BINS) $(BUILD)/libspool.a

deps:
	@sh deploy/install-deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(ASAN)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_CFLAGS) -c $< -o $@

$(BUILD)/libspool.a: $(SPOOL_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/smtpclusterd: $(BUILD)/src/daemon/main.o $(CORE_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS) -lm

# main.c with -DSMTPCLUSTER_TESTHOOKS registers the hooks' commands. The
# test daemon is built under ASan+UBSan: every integration and fault test
# runs against it, so a memory error on any error path fails the run
# (tests/integration/cluster.py reads the sanitizer reports from the logs).
$(ASAN)/test/src/daemon/main.o: src/daemon/main.c
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_CFLAGS) -DSMTPCLUSTER_TESTHOOKS -c $< -o $@

$(TEST_DAEMON): $(ASAN)/test/src/daemon/main.o $(ASAN_CORE_OBJ) $(ASAN_HOOK_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(SAN) -g -o $@ $^ $(PKG_LIBS) -lm

test-daemon: $(TEST_DAEMON)

# smtpctl speaks the control protocol: spool/codec's validators, json-c,
# nothing of LMDB, libraft or libuv.
$(BUILD)/smtpctl: $(BUILD)/cli/smtpctl.o $(CLI_OBJ) $(CODEC_OBJ) $(BUILD)/src/base/clock.o
	$(CC) $(CFLAGS) -o $@ $^ $(shell pkg-config --libs json-c libcrypto 2>/dev/null || echo -ljson-c -lcrypto)

$(ASAN)/libcore.a: $(ASAN_LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(ASAN)/tests/%: tests/unit/%.c $(ASAN)/libcore.a
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_CFLAGS) -Itests/unit -o $@ $< $(ASAN)/libcore.a -lcmocka $(PKG_LIBS) -lm

unit: $(UNIT_BIN)
	@sh tests/unit/run.sh $(UNIT_BIN)

integration: all $(TEST_DAEMON)
	@if [ -f tests/integration/run.sh ]; then sh tests/integration/run.sh; \
	else echo "integration: no integration tests yet"; fi

# The fault harness (tests/faults/faults.py, docs/faults.md): each node in
# its own network namespace; needs root. `make faults` runs ROUNDS rounds
# (5: about 12 minutes on 2 cores, under the 15 of issue #10) of every
# scenario; `make test` runs the short version, one round.
ROUNDS ?= 5
faults: all $(TEST_DAEMON)
	@python3 -u tests/faults/faults.py --rounds $(ROUNDS)

faults-short: all $(TEST_DAEMON)
	@python3 -u tests/faults/faults.py --short --rounds 1

test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory integration
	@$(MAKE) --no-print-directory faults-short

run: deps
	@$(MAKE) --no-print-directory all
	@if [ -f deploy/run-local.sh ]; then sh deploy/run-local.sh; \
	else echo "make run: the cluster daemon is not built yet (issue #3); only the spool library exists"; exit 1; fi

# The docker-compose lab (deploy/lab, docs/lab.md): installs docker.io,
# docker-compose and debootstrap when missing, starts dockerd when none
# answers, builds the image without a registry. lab-test runs the test
# daemon (debug snapshot-hash) and removes the lab afterwards, pass or fail.
LAB_TEST_TIMEOUT ?= 600
lab: deps
	@$(MAKE) --no-print-directory all
	@sh deploy/lab/lab.sh up

lab-test: deps
	@$(MAKE) --no-print-directory all test-daemon
	@sh deploy/lab/lab.sh down >/dev/null 2>&1 || true
	@LAB_DAEMON=smtpclusterd-test timeout -k 15 $(LAB_TEST_TIMEOUT) sh -c \
		'sh deploy/lab/lab.sh start && python3 -u tests/lab/lab-test.py'; \
		rc=$$?; sh deploy/lab/lab.sh down >/dev/null 2>&1; exit $$rc

lab-down:
	@sh deploy/lab/lab.sh down

# the bench needs no test hook: it runs the production daemon
bench: deps
	@$(MAKE) --no-print-directory all
	@SMTPCLUSTERD=$(CURDIR)/$(BUILD)/smtpclusterd sh tests/bench/run.sh

# where one raft group saturates, and the multi-group model
# (docs/scale-out.md)
bench-scale: all
	@SMTPCLUSTERD=$(CURDIR)/$(BUILD)/smtpclusterd python3 tests/bench/bench_backlog.py saturate
	@python3 tests/bench/sim_groups.py

LINT_SRC = $(SPOOL_SRC) $(RAFT_SRC) $(wildcard src/*/*.c) $(wildcard cli/*.c)
# cppcheck reads no system header; the <sys/queue.h> lists are macros it
# must see expanded, so it is handed that one header (found through cc)
QUEUE_H = $(shell printf '\043include <sys/queue.h>\n' | $(CC) -E -H -x c - 2>&1 >/dev/null | sed -n '1s/^\. //p')
lint: all
	python3 tests/lint/check-layers.py --binaries
	cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,performance,portability \
		--inline-suppr --suppress=missingIncludeSystem -I. -D__GNUC__ \
		$(if $(QUEUE_H),--include=$(QUEUE_H)) $(LINT_SRC)
	@$(MAKE) --no-print-directory check-format

FORMAT_SRC = $(wildcard spool/*/*.[ch] raft/*.[ch] src/*/*.[ch] cli/*.[ch] tests/unit/*.[ch] tests/fuzz/*.[ch])
format:
	clang-format -i $(FORMAT_SRC)

check-format:
	@clang-format --dry-run --Werror $(FORMAT_SRC) && echo "format: clean"

$(BUILD)/fuzz/%: tests/fuzz/%.c $(SPOOL_SRC)
	@mkdir -p $(dir $@)
	$(CLANG) $(CSTD) -g -O1 -fsanitize=fuzzer,address,undefined -I. $(PKG_CFLAGS) -o $@ $< $(SPOOL_SRC) $(PKG_LIBS)

fuzz: $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do \
		n=$$(basename $$f); mkdir -p $(BUILD)/fuzz/corpus-$$n; \
		echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -rss_limit_mb=2048 \
			-artifact_prefix=$(BUILD)/fuzz/$$n- \
			$(BUILD)/fuzz/corpus-$$n tests/fuzz/corpus/$$n >$(BUILD)/fuzz/$$n.log 2>&1; \
		rc=$$?; tail -n 12 $(BUILD)/fuzz/$$n.log; \
		if [ $$rc -ne 0 ]; then \
			grep -A40 -m1 'ERROR: \|==ERROR\|runtime error' $(BUILD)/fuzz/$$n.log; \
			echo "fuzz: $$n FAILED (exit $$rc); log $(BUILD)/fuzz/$$n.log"; exit 1; \
		fi; \
	done

# make install [DESTDIR=...] [PREFIX=/usr/local]: the binaries, the man
# pages, the systemd unit (its ExecStart follows PREFIX), the sysusers.d
# and tmpfiles.d entries, the logrotate file (in SYSCONFDIR/logrotate.d)
# and the sample /etc/smtpcluster of a three-host cluster (as examples in
# the doc directory: a real /etc/smtpcluster is never overwritten).
# `make check-install` installs into a temporary DESTDIR and checks it
# (tests/integration/test_install.py: systemd-analyze verify, mandoc lint,
# SIGHUP and logrotate reopening the log).
SYSCONFDIR ?= /etc
UNITDIR    := $(PREFIX)/lib/systemd/system
DOCDIR     := $(PREFIX)/share/doc/smtpcluster
install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin \
		$(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man8 \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(PREFIX)/lib/sysusers.d \
		$(DESTDIR)$(PREFIX)/lib/tmpfiles.d $(DESTDIR)$(SYSCONFDIR)/logrotate.d \
		$(DESTDIR)$(DOCDIR)/examples
	$(if $(wildcard $(BUILD)/smtpclusterd),install -m 755 $(BUILD)/smtpclusterd $(DESTDIR)$(PREFIX)/sbin/)
	$(if $(wildcard $(BUILD)/smtpctl),install -m 755 $(BUILD)/smtpctl $(DESTDIR)$(PREFIX)/sbin/)
	$(if $(wildcard $(BUILD)/smtpctl),ln -sf smtpctl $(DESTDIR)$(PREFIX)/sbin/sendmail)
	$(if $(wildcard docs/*.8),install -m 644 docs/*.8 $(DESTDIR)$(PREFIX)/share/man/man8/)
	$(if $(wildcard docs/*.5),install -m 644 docs/*.5 $(DESTDIR)$(PREFIX)/share/man/man5/)
	sed 's|/usr/sbin/smtpclusterd|$(PREFIX)/sbin/smtpclusterd|' deploy/systemd/smtpclusterd.service \
		>$(DESTDIR)$(UNITDIR)/smtpclusterd.service
	chmod 644 $(DESTDIR)$(UNITDIR)/smtpclusterd.service
	install -m 644 deploy/sysusers.d/smtpcluster.conf $(DESTDIR)$(PREFIX)/lib/sysusers.d/smtpcluster.conf
	install -m 644 deploy/tmpfiles.d/smtpcluster.conf $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/smtpcluster.conf
	install -m 644 deploy/logrotate $(DESTDIR)$(SYSCONFDIR)/logrotate.d/smtpcluster
	cp -R deploy/etc/. $(DESTDIR)$(DOCDIR)/examples/
	install -m 644 deploy/node.conf.example $(DESTDIR)$(DOCDIR)/examples/node.conf.example

check-install: all $(TEST_DAEMON)
	@python3 -u tests/integration/test_install.py

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
