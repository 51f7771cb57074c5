# cekurafs - the Cekura API as files.
#
#   make            build build/cekurafs
#   make check      install what is missing (as root), then every test
#   make demo       install, build, start the simulator, mount, refetch, unmount
#   make clean
#
# SAN=1 builds with AddressSanitizer and UndefinedBehaviorSanitizer (make sanitize
# does it in build/san). Warnings are errors.

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
ifeq ($(SAN),1)
ALL_CFLAGS += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif

LIB_MODULES := log tree json errmap render state http api agents nodes ops
LIB_OBJS := $(LIB_MODULES:%=$(BUILD)/fs/%.o)
LIB := $(BUILD)/libcekurafs.a
DAEMON := $(BUILD)/cekurafs

UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
UNIT_SUPPORT := $(BUILD)/tests/fake_transport.o

.PHONY: all deps unit integration sanitize check demo format format-check clean
.SECONDARY:

all: $(DAEMON)

$(BUILD)/fs/%.o: fs/%.c $(wildcard include/cekurafs/*.h) | $(BUILD)/fs
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(DAEMON): $(BUILD)/fs/main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm -lpthread

$(BUILD)/tests/%.o: tests/unit/%.c $(wildcard include/cekurafs/*.h tests/unit/*.h) | $(BUILD)/tests
	$(CC) $(ALL_CFLAGS) -Itests/unit -c $< -o $@

$(BUILD)/tests/test_%: $(BUILD)/tests/test_%.o $(UNIT_SUPPORT) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(PKG_LIBS) -lm -lpthread

$(BUILD)/fs $(BUILD)/tests:
	mkdir -p $@

deps:
	contrib/deps

unit: $(UNIT_TESTS)
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; $$t; done

integration: $(DAEMON)
	$(PYTHON) tests/integration/run.py --daemon $(DAEMON)

sanitize:
	$(MAKE) BUILD=build/san SAN=1 unit integration

check: deps
	$(MAKE) all
	$(MAKE) format-check
	$(MAKE) unit
	$(MAKE) integration
	$(MAKE) sanitize

demo: deps
	$(MAKE) all
	contrib/demo $(DAEMON)

FORMAT_FILES = $(wildcard fs/*.c include/cekurafs/*.h tests/unit/*.c tests/unit/*.h)
format:
	clang-format -i $(FORMAT_FILES)

format-check:
	contrib/format-check $(FORMAT_FILES)

clean:
	rm -rf build
