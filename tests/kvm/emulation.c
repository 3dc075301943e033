// SPDX-License-Identifier: GPL-2.0
/*
 * emulation.c: an instruction KVM cannot emulate, on MMIO.
 *
 * Under KVM every access to MMIO (a BAR) goes through KVM's instruction
 * emulator, which does not know every instruction.  POPCNT is one it does
 * not (its opcode table has no entry for 0F B8), so a popcnt whose source
 * is a device register ends KVM_RUN with KVM_EXIT_INTERNAL_ERROR
 * (KVM_INTERNAL_ERROR_EMULATION).  lguest must stop with status 1, naming
 * the guest's RIP and the instruction's bytes, which we print first.
 */
#include "lib.h"

extern const u8 popcnt_insn[], popcnt_insn_end[];

void main(void)
{
	static struct virtio_dev rng;
	const u8 *p;
	u32 reg;
	u16 v;

	if (!virtio_find(&rng, "rng", VIRTIO_ID_RNG))
		fail("rng: no device 1af4:%x on bus 0",
		     VIRTIO_PCI_DEVICE(VIRTIO_ID_RNG));
	/* num_queues: 16 bits, readable at any time. */
	reg = rng.common + VIRTIO_PCI_NUM_QUEUES;
	printf("emulation: popcnt of num_queues at %#x, rip %p:", reg,
	       popcnt_insn);
	for (p = popcnt_insn; p < popcnt_insn_end; p++)
		printf(" %02x", *p);
	putchar('\n');
	asm volatile(".globl popcnt_insn, popcnt_insn_end\n"
		     "popcnt_insn:\n\t"
		     "popcntw (%1), %0\n"
		     "popcnt_insn_end:"
		     : "=a"(v)
		     : "d"(reg)
		     : "memory");
	fail("emulation: popcnt of an MMIO register ran (it gave %u)", v);
}
