# lguest: the launcher for the lguest hypervisor.
#
#   make run                    build lguest and Debian's stock kernel into a
#                               guest, and boot it to a shell (scripts/run)
#   make                        build ./lguest for this machine
#   make CC="gcc -m32"          build the i386 launcher a real lguest host runs
#   make check                  build it and run the test suite (TAP)
#   make install                install lguest and lguest.8 (PREFIX, DESTDIR)
#   make coverage               the test suite over a gcov build of lguest.c
#   make check SANITIZE=1       the suite with ASan and UBSan built in
#   make fuzz                   fuzz the device model (tests/fuzz/README):
#                               FUZZ_SECONDS=N (60), FUZZ_JOBS=N (2)
#   make bench                  lguest against QEMU, side by side, into
#                               bench/results.md (bench/run --help)
#
# CC, CFLAGS, CPPFLAGS and LDFLAGS are yours to set; the warnings stay on.

VERSION := 0.1
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man

CFLAGS ?= -O2 -g
WARNINGS := -Wall -Wextra -Werror

# SANITIZE=1: AddressSanitizer and UndefinedBehaviorSanitizer in the
# launcher and the test stand-in, any report fatal.
ifeq ($(SANITIZE),1)
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
endif

LGUEST_CFLAGS := $(WARNINGS) $(CFLAGS) $(COVFLAGS) $(SANFLAGS) \
	-DLGUEST_VERSION='"$(VERSION)"'

all: lguest

# Rebuild everything when the compiler or its flags change, so that
# "make check CC='gcc -m32'" after "make check" tests the i386 build.
BUILD_FLAGS := $(CC) | $(CPPFLAGS) | $(CFLAGS) | $(LDFLAGS) | $(COVFLAGS) | \
	$(SANFLAGS)
build/flags: FORCE
	@mkdir -p build
	@echo '$(BUILD_FLAGS)' | cmp -s - $@ || echo '$(BUILD_FLAGS)' > $@

lguest: lguest.c build/flags
	$(CC) $(CPPFLAGS) $(LGUEST_CFLAGS) -o $@ lguest.c $(LDFLAGS) $(SANFLAGS)

include tests/tests.mk
include tests/fuzz/fuzz.mk
include bench/bench.mk

check: lguest $(TEST_DEPS)
	tests/run

# The last line it prints is "lguest.c lines: NN.N%".
coverage:
	rm -f lguest.gcda
	$(MAKE) check CFLAGS="-O0 -g" \
		COVFLAGS="--coverage -DLGUEST_COVERAGE"; st=$$?; \
	gcov -n lguest.c | awk -F'[:%]' '/^Lines executed/ { \
		printf "lguest.c lines: %.1f%%\n", $$2; exit }'; \
	exit $$st

run: lguest
	scripts/run

bench: lguest $(BENCH_DEPS)
	bench/run

install: lguest
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8
	install -m 755 lguest $(DESTDIR)$(BINDIR)/lguest
	install -m 644 lguest.8 $(DESTDIR)$(MANDIR)/man8/lguest.8

clean:
	rm -rf lguest build *.gcda *.gcno *.gcov

FORCE:

.PHONY: all check coverage run bench install clean FORCE
