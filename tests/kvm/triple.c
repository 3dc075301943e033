// SPDX-License-Identifier: GPL-2.0
/*
 * triple.c: reboot by triple fault, once.
 *
 * As reboot.c, counting boots on the block device, but the first boot
 * ends in a triple fault: with an empty IDT, the general protection fault
 * of loading a selector past the end of the GDT cannot be delivered, nor
 * can the double fault that follows, and the CPU shuts down.  lguest
 * treats that as a reboot.  (Not int3, the usual way: where KVM's
 * emulator runs all of the guest, on a host without VT-x or AMD-V, int3
 * is an emulation failure instead of an exception.)
 */
#include "lib.h"

static void noreturn triple_fault(void)
{
	static const struct {
		u16 limit;
		u32 base;
	} __attribute__((packed)) empty = { 0, 0 };

	cli();
	asm volatile("lidt %0" : : "m"(empty));
	/* 0x28: past our GDT's four entries, so #GP, so #DF, so shutdown. */
	asm volatile("movw %w0, %%ds" : : "r"(0x28) : "memory");
	fail("triple: still running after the triple fault");
}

void main(void)
{
	unsigned int boot = boot_count_bump();

	printf("triple: boot %u\n", boot);
	if (boot == 1) {
		puts("triple: faulting with an empty IDT");
		triple_fault();
	}
	if (boot != 2)
		fail("triple: boot %u, want 1 or 2", boot);
	puts("triple: powering off");
	poweroff();
}
