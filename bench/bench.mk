# SPDX-License-Identifier: GPL-2.0
#
# bench/bench.mk: the benchmark's build, included by the top Makefile
# ("make bench" runs bench/run, which also reads this file itself, so it
# guards against being read twice).
#
#   build/bench/guest.elf  the bench guest: a freestanding i386 program
#                          (bench/guest/ on tests/kvm/lib.c) with a
#                          multiboot header and a PVH note, which lguest
#                          --kvm (at e_entry) and QEMU -M pc (multiboot)
#                          boot
#   build/bench/guest-pvh.elf  the same file with the multiboot header's
#                          12 bytes zeroed, for QEMU -M microvm: QEMU 7.2
#                          tries multiboot before PVH on every machine, so
#                          only without the header does microvm take the
#                          PVH note (and its firmware-light path, qboot
#                          with no option ROM for multiboot)
#   build/bench/netpeer    the host's end of its network mode
#   build/bench/launch     runs a VMM, times it to a marker and to its
#                          exit, reports its peak RSS (static: it also
#                          runs in the nested host)
#
# $(BENCH_DEPS) lists them.

ifndef BENCH_MK
BENCH_MK := 1

OBJCOPY ?= objcopy

BENCH_DEPS := build/bench/guest.elf build/bench/guest-pvh.elf \
	build/bench/netpeer build/bench/launch

# As the tests/kvm programs (tests/tests.mk): one gcc, whatever $(CC), no
# multilib C library, general registers only, code plain enough for KVM's
# instruction emulator.
BENCH_GUEST_CC ?= gcc
BENCH_GUEST_CFLAGS = -m32 -march=i686 -O2 -Wall -Wextra -Werror \
	-ffreestanding -fno-pic -fno-stack-protector -fcf-protection=none \
	-fno-asynchronous-unwind-tables -mgeneral-regs-only \
	-nostdinc -isystem $(shell $(BENCH_GUEST_CC) -print-file-name=include)
BENCH_GUEST_LDFLAGS = -nostdlib -static -no-pie \
	-Wl,-T,bench/guest/bench.ld -Wl,--build-id=none -Wl,-z,noexecstack
BENCH_GUEST_SRCS := bench/guest/start.S tests/kvm/lib.c bench/guest/boot.c \
	bench/guest/clock.c bench/guest/bench.c bench/guest/net.c

build/bench/guest.elf: $(BENCH_GUEST_SRCS) bench/guest/bench.h \
		tests/kvm/lib.h tests/kvm/vectors.S bench/guest/bench.ld \
		bench/bench.mk
	@mkdir -p $(@D)
	$(BENCH_GUEST_CC) $(BENCH_GUEST_CFLAGS) $(BENCH_GUEST_LDFLAGS) -o $@ \
		$(BENCH_GUEST_SRCS)

build/bench/guest-pvh.elf: build/bench/guest.elf
	head -c 12 /dev/zero >$@.zero
	$(OBJCOPY) --update-section .multiboot=$@.zero $< $@
	rm -f $@.zero

# Host programs, for this machine whatever $(CC) builds lguest for.
BENCH_HOST_CC ?= gcc
BENCH_HOST_CFLAGS = -O2 -g -Wall -Wextra -Werror

build/bench/netpeer: bench/netpeer.c bench/bench.mk
	@mkdir -p $(@D)
	$(BENCH_HOST_CC) $(BENCH_HOST_CFLAGS) -o $@ bench/netpeer.c

build/bench/launch: bench/launch.c bench/bench.mk
	@mkdir -p $(@D)
	$(BENCH_HOST_CC) $(BENCH_HOST_CFLAGS) -static -o $@ bench/launch.c

.PHONY: bench-deps
bench-deps: $(BENCH_DEPS)

endif
