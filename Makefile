# cekurafs - the Cekura API as files.
#
#   make            build build/cekurafs
#   make check      install what is missing (as root), then every test
#   make layers     the include graph points down the layers of README "How it is built"
#   make demo       install, build, start the simulator, mount, refetch, unmount
#   make tsan       unit and integration tests built with ThreadSanitizer (part of check)
#   make valgrind   integration tests with every daemon under valgrind (part of check)
#   make stress     the stress tests for STRESS_SECONDS (60) each, under ASan+UBSan and
#                   under TSan; not part of check
#   make soak       SOAK_MINUTES (2) of 32 concurrent shell loops against the simulator
#                   faulting 5% of requests; not part of check
#   make bench      cekurafs against its baselines (a minimal FUSE file system, curl),
#                   one table; not part of check (about 6 minutes)
#   make install    PREFIX (/usr/local), DESTDIR; make uninstall
#   make clean
#
# SAN=1 builds with AddressSanitizer and UndefinedBehaviorSanitizer (make sanitize
# does it in build/san), TSAN=1 with ThreadSanitizer (make tsan, in build/tsan).
# Warnings are errors.

CEKURAFS_VERSION := 0.1.0
CC ?= cc
BUILD ?= build
PKGS := fuse3 libcurl
PYTHON ?= python3

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS = $(shell pkg-config --libs $(PKGS))
CMOCKA_LIBS = $(shell pkg-config --libs cmocka)

WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=c17 -D_GNU_SOURCE -DCEKURAFS_VERSION='"$(CEKURAFS_VERSION)"' $(WARN) -Iinclude $(PKG_CFLAGS) $(CFLAGS)
# Every symbol bound at start: the dynamic linker's lazy resolver saves the
# vector registers on the stack, where they leave bytes of the key behind.
LINK_NOW := -Wl,-z,relro,-z,now
ifeq ($(SAN),1)
ALL_CFLAGS += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif

ifeq ($(TSAN),1)
ALL_CFLAGS += -O1 -g -fsanitize=thread
LDFLAGS += -fsanitize=thread
endif

ifeq ($(FUZZ),1)
ALL_CFLAGS += -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
endif

LIB_MODULES := clock text ids progress memory log stats tree json names agent_config errmap history result render events tools_progress run_request evaluators state http api job_kinds registry_base jobs listing agent_cache registry nodes ops
LIB_OBJS := $(LIB_MODULES:%=$(BUILD)/fs/%.o)
LIB := $(BUILD)/libcekurafs.a
DAEMON := $(BUILD)/cekurafs

UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
UNIT_SUPPORT := $(BUILD)/tests/fake_transport.o $(BUILD)/tests/rig.o

# Each compile writes, beside its output, the list of headers it really read
# (-MMD: ours, not the system's); -MP adds an empty rule per header, so that a
# header removed later does not stop the build. The next make reads them back.
DEPFLAGS = -MMD -MP

.PHONY: all deps unit integration sanitize tsan valgrind fuzz fuzz-run check demo soak stress stress-run \
	bench format format-check layers clean install uninstall
.SECONDARY:

all: $(DAEMON)

$(BUILD)/fs/%.o: fs/%.c | $(BUILD)/fs
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(DAEMON): $(BUILD)/fs/main.o $(LIB)
	$(CC) $(LDFLAGS) $(LINK_NOW) -o $@ $^ $(PKG_LIBS) -lm -lpthread

$(BUILD)/tests/%.o: tests/unit/%.c | $(BUILD)/tests
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -Itests/unit -c $< -o $@

$(UNIT_TESTS): $(BUILD)/tests/test_%: $(BUILD)/tests/test_%.o $(UNIT_SUPPORT) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(PKG_LIBS) -lm -lpthread

# libFuzzer harnesses over the response decoders and the control-file parser
# (tests/fuzz/), each run for FUZZ_SECONDS from its seed corpus. Needs clang.
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 15

$(BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(LIB) | $(BUILD)/tests
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -MF $@.d -fsanitize=fuzzer,address,undefined -o $@ $< $(LIB) $(PKG_LIBS) \
		-lm -lpthread

fuzz:
	$(MAKE) BUILD=build/fuzz CC=clang FUZZ=1 fuzz-run

fuzz-run: $(FUZZ_TARGETS:%=$(BUILD)/fuzz_%)
	@set -e; for t in $(FUZZ_TARGETS); do \
		mkdir -p $(BUILD)/corpus/$$t; \
		if ! $(BUILD)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -rss_limit_mb=1024 \
			-print_final_stats=1 $(BUILD)/corpus/$$t tests/fuzz/corpus/$$t >$(BUILD)/fuzz_$$t.log 2>&1; then \
			tail -40 $(BUILD)/fuzz_$$t.log; echo "fuzz_$$t: FAILED (log: $(BUILD)/fuzz_$$t.log)"; exit 1; \
		fi; \
		echo "fuzz_$$t: $$(grep -o 'number_of_executed_units: [0-9]*' $(BUILD)/fuzz_$$t.log) in $(FUZZ_SECONDS) s, no crash"; \
	done

$(BUILD)/fs $(BUILD)/tests $(BUILD)/bench:
	mkdir -p $@

deps:
	contrib/deps

unit: $(UNIT_TESTS)
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; $$t; done

integration: $(DAEMON)
	$(PYTHON) tests/integration/run.py --daemon $(DAEMON)

sanitize:
	$(MAKE) BUILD=build/san SAN=1 unit integration

# The same suites built with ThreadSanitizer: a data race, a lock-order
# inversion or a signal-unsafe call in a handler is printed on stderr
# ("WARNING: ThreadSanitizer: ..."); TSan then makes a unit test binary exit 66,
# and the integration harness (TSAN_OPTIONS in tests/integration/harness.py)
# fails the test that stopped the daemon. About 3 minutes on 2 cores.
tsan:
	$(MAKE) BUILD=build/tsan TSAN=1 unit integration

# A representative part of the integration tests with every daemon under valgrind
# (memcheck, about 20 times slower: --slow scales the harness's waits and time
# limits). An invalid access, a use of uninitialised memory or a definitely lost
# block makes valgrind exit 99, which fails the test that stopped that daemon.
# Left out: test_key and test_tls (under valgrind /proc/PID/environ is valgrind's
# own block, which keeps the key the daemon scrubbed from its copy), test_startup
# (refusals at start, where the daemon hardly runs), test_scale (100,000 agents:
# minutes under memcheck, for nothing test_tree does not cover), test_docs and
# test_build (no daemon), and the modules that time or weigh the daemon itself
# (test_shared, test_longrun, test_answers, test_stress: their bounds are for a
# daemon at full speed; test_stress runs under ASan and TSan instead).
VALGRIND ?= valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
	--show-leak-kinds=definite --track-fds=no -q
VALGRIND_TESTS ?= test_tree test_agent_config test_refetch test_progress test_wait test_events test_state test_crash \
	test_connections test_faults test_system test_examples test_hostile test_statedir test_mountpoint
VALGRIND_SLOW ?= 10
valgrind: $(DAEMON)
	$(PYTHON) tests/integration/run.py --daemon $(DAEMON) --wrapper "$(VALGRIND)" \
		--slow $(VALGRIND_SLOW) $(VALGRIND_TESTS:%=-k %.)

check: deps
	$(MAKE) all
	$(MAKE) format-check
	$(MAKE) layers
	$(MAKE) unit
	$(MAKE) integration
	$(MAKE) sanitize
	$(MAKE) tsan
	$(MAKE) valgrind
	$(MAKE) fuzz

demo: deps
	$(MAKE) all
	contrib/demo $(DAEMON)

# Not part of check (it takes minutes): RSS and open fds must stay flat under load.
SOAK_MINUTES ?= 2
soak: $(DAEMON)
	$(PYTHON) tests/soak/soak.py --daemon $(DAEMON) --minutes $(SOAK_MINUTES)

# Not part of check (about 10 minutes): tests/integration/test_stress.py, each
# test for STRESS_SECONDS (whole seconds) instead of the 5 s it has in check,
# with the daemon built with ASan+UBSan (build/san), then with TSan (build/tsan),
# both runs whatever the first gave; any sanitizer report fails the test. Each
# test's time limit is its duration + 2 minutes.
STRESS_SECONDS ?= 60
stress:
	@status=0; \
	$(MAKE) BUILD=build/san SAN=1 stress-run || status=1; \
	$(MAKE) BUILD=build/tsan TSAN=1 stress-run || status=1; \
	exit $$status

stress-run: $(DAEMON)
	STRESS_SECONDS=$(STRESS_SECONDS) $(PYTHON) tests/integration/run.py --daemon $(DAEMON) \
		--timeout $$(($(STRESS_SECONDS) + 120)) -k test_stress.

# Not part of check (minutes; timings, never a pass/fail on them): every figure of
# README "Benchmark" beside its baseline, measured in one run. The floor is the
# least a FUSE file system can do (tests/bench/floorfs.c). BENCH_ARGS: e.g. --quick.
BENCH_FLOOR := $(BUILD)/bench/floorfs
$(BENCH_FLOOR): tests/bench/floorfs.c | $(BUILD)/bench
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -MF $@.d -o $@ $< $(shell pkg-config --libs fuse3)

bench: deps
	$(MAKE) all $(BENCH_FLOOR)
	$(PYTHON) tests/bench/bench.py --daemon $(DAEMON) --floor $(BENCH_FLOOR) --scratch $(BUILD)/bench \
		--out $(BUILD)/bench/table.txt $(BENCH_ARGS)

FORMAT_FILES = $(wildcard fs/*.c fs/*.h include/cekurafs/*.h tests/unit/*.c tests/unit/*.h)
format:
	clang-format -i $(FORMAT_FILES)

format-check:
	contrib/format-check $(FORMAT_FILES)

# Every #include "..." of fs/ and include/cekurafs/ names a file of its own
# module or of a lower layer, by the table of README "How it is built"; the
# self-test first, so that a check that passes whatever the tree is caught.
layers:
	$(PYTHON) tests/test_layers.py
	$(PYTHON) tests/layers.py

# make install [PREFIX=/usr/local] [DESTDIR=...]: the daemon, its man page and
# the mount helpers that let fstab mount it (`mount /mnt/cekura` with type
# fuse.cekurafs). The helpers go to SBINDIR, /sbin whatever PREFIX is: mount(8)
# looks for mount.<type> there only.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
SBINDIR ?= /sbin
EXAMPLESDIR ?= $(PREFIX)/share/cekurafs/examples
EXAMPLES := refetch-all refetch-and-wait refetch-and-test watch-agents cron README.md

install: $(DAEMON)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(SBINDIR) $(DESTDIR)$(EXAMPLESDIR)
	install -m 0755 $(DAEMON) $(DESTDIR)$(BINDIR)/cekurafs
	install -m 0644 contrib/cekurafs.1 $(DESTDIR)$(MANDIR)/man1/cekurafs.1
	ln -sf $(BINDIR)/cekurafs $(DESTDIR)$(SBINDIR)/mount.cekurafs
	ln -sf $(BINDIR)/cekurafs $(DESTDIR)$(SBINDIR)/mount.fuse.cekurafs
	for f in $(EXAMPLES); do \
		install -m $$(if [ -x contrib/examples/$$f ]; then echo 0755; else echo 0644; fi) \
			contrib/examples/$$f $(DESTDIR)$(EXAMPLESDIR)/$$f || exit 1; \
	done

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/cekurafs $(DESTDIR)$(MANDIR)/man1/cekurafs.1 \
		$(DESTDIR)$(SBINDIR)/mount.cekurafs $(DESTDIR)$(SBINDIR)/mount.fuse.cekurafs
	rm -f $(EXAMPLES:%=$(DESTDIR)$(EXAMPLESDIR)/%)
	-rmdir $(DESTDIR)$(EXAMPLESDIR) $(DESTDIR)$(PREFIX)/share/cekurafs 2>/dev/null

clean:
	rm -rf build

# The header lists written by DEPFLAGS (none before the first build). Each is
# also named as a target without a recipe, so that make never looks for an
# implicit rule to remake one (build/tests/test_%.d would match the unit tests').
DEP_FILES := $(LIB_OBJS:.o=.d) $(BUILD)/fs/main.d $(UNIT_TESTS:=.d) $(UNIT_SUPPORT:.o=.d) \
	$(FUZZ_TARGETS:%=$(BUILD)/fuzz_%.d) $(BENCH_FLOOR).d
$(DEP_FILES):
-include $(wildcard $(DEP_FILES))
