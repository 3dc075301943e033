# SPDX-License-Identifier: GPL-2.0
#
# tests/tests.mk: the test suite's build, included by the top Makefile.
#
#   build/lgstub.so  the stand-in /dev/lguest and its scripted guests,
#                    built with the launcher's own $(CC) and $(CFLAGS), so
#                    that it speaks the same "unsigned long" (CC="gcc -m32"
#                    gives the i386 build a real lguest host spoke to)
#   build/tiny.elf   a tiny i386 ELF "vmlinux" for the loader tests
#   build/kvm-probe  a static program that runs a few real-mode instructions
#                    through /dev/kvm (not in $(TEST_DEPS): "make
#                    build/kvm-probe"; scripts/nested-host runs it in L1)
#   build/kvm/*.elf  the freestanding i386 programs of tests/kvm/ that
#                    t-kvm.sh runs under "lguest --kvm" on the real /dev/kvm
#   build/kvm64/*.elf  the x86-64 ones of tests/kvm64/ (t-kvm64.sh), on
#                    tests/kvm's library and linker script
#
# $(TEST_DEPS) lists them; tests/run expects them and ./lguest to exist.

LGSTUB_SRCS := tests/lgstub.c tests/guest.c tests/virtio.c \
	$(sort $(wildcard tests/scenarios/*.c))
LGSTUB_HDRS := tests/lgstub.h tests/guest.h tests/virtio.h

KVM_PROGS := uart uart-echo rng-irq block bad-queue-size desc-loop reboot \
	triple emulation boot acpi
KVM_ELFS := $(KVM_PROGS:%=build/kvm/%.elf)
KVM64_PROGS := highmem
KVM64_ELFS := $(KVM64_PROGS:%=build/kvm64/%.elf)
TEST_DEPS := build/lgstub.so build/tiny.elf build/tiny64.elf $(KVM_ELFS) \
	$(KVM64_ELFS)

# build/flags (the top Makefile's) changes with CC and the flags, so the
# stand-in is rebuilt whenever the launcher is.
build/lgstub.so: $(LGSTUB_SRCS) $(LGSTUB_HDRS) tests/tests.mk build/flags
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(WARNINGS) $(CFLAGS) $(SANFLAGS) -shared -fPIC -o $@ \
		$(LGSTUB_SRCS) -ldl

# Plain binutils: no multilib C library needed for an i386 image.
build/tiny.elf: tests/tiny/tiny.s tests/tiny/tiny.ld tests/tests.mk
	@mkdir -p $(@D)
	$(AS) --32 -o build/tiny.o tests/tiny/tiny.s
	$(LD) -m elf_i386 -T tests/tiny/tiny.ld -z noexecstack --build-id=none \
		-o $@ build/tiny.o

# An x86-64 one, for what only KVM runs.
build/tiny64.elf: tests/tiny/tiny64.s tests/tiny/tiny64.ld tests/tests.mk
	@mkdir -p $(@D)
	$(AS) --64 -o build/tiny64.o tests/tiny/tiny64.s
	$(LD) -m elf_x86_64 -T tests/tiny/tiny64.ld -z noexecstack \
		--build-id=none -o $@ build/tiny64.o

# Static, so that it runs in scripts/nested-host's bare initramfs.
build/kvm-probe: tests/kvm-probe.c tests/tests.mk build/flags
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(WARNINGS) $(CFLAGS) -static -o $@ tests/kvm-probe.c

# The tests/kvm programs are guests, not host programs: they are built
# the same whatever $(CC) and $(CFLAGS) the suite uses, by a gcc that
# needs no multilib C library.  -nostdinc keeps the host's headers out;
# gcc's own (stdint.h, stdarg.h...) are all a freestanding program gets.
# General registers only, and no CET padding: the code must be plain
# enough for KVM's instruction emulator, which on a host without VT-x or
# AMD-V may run all of it.
KVM_GUEST_CC ?= gcc
KVM_GUEST_COMMON = -O2 -Wall -Wextra -Werror \
	-ffreestanding -fno-pic -fno-stack-protector -fcf-protection=none \
	-fno-asynchronous-unwind-tables -mgeneral-regs-only \
	-nostdinc -isystem $(shell $(KVM_GUEST_CC) -print-file-name=include)
KVM_GUEST_CFLAGS = -m32 -march=i686 $(KVM_GUEST_COMMON)
KVM_GUEST_LDFLAGS = -nostdlib -static -no-pie -Wl,-T,tests/kvm/kvm.ld \
	-Wl,--build-id=none -Wl,-z,noexecstack
KVM_LIB := tests/kvm/start.S tests/kvm/lib.c
build/kvm/%.elf: tests/kvm/%.c $(KVM_LIB) tests/kvm/vectors.S tests/kvm/lib.h \
		tests/kvm/kvm.ld tests/tests.mk
	@mkdir -p $(@D)
	$(KVM_GUEST_CC) $(KVM_GUEST_CFLAGS) $(KVM_GUEST_LDFLAGS) -o $@ \
		$(KVM_LIB) $<

# The x86-64 programs: the same library, for the baseline x86-64 (no
# distribution's idea of a default -march), and without the red zone,
# since their interrupts land on the stack the interrupted code is using.
KVM64_GUEST_CFLAGS = -m64 -march=x86-64 -mno-red-zone $(KVM_GUEST_COMMON)
KVM64_LIB := tests/kvm64/start.S tests/kvm/lib.c
build/kvm64/%.elf: tests/kvm64/%.c $(KVM64_LIB) tests/kvm/lib.h \
		tests/kvm/kvm.ld tests/tests.mk
	@mkdir -p $(@D)
	$(KVM_GUEST_CC) $(KVM64_GUEST_CFLAGS) $(KVM_GUEST_LDFLAGS) -o $@ \
		$(KVM64_LIB) $<
