// SPDX-License-Identifier: GPL-2.0
/*
 * scenarios/handback.c: traps the launcher must give back.
 *
 * Not every fault that reaches the launcher is a device access it should
 * emulate.  An instruction it does not know, port I/O from guest user
 * mode (which the guest kernel's own #GP handler must see), a touch of
 * the MMIO window where no BAR is, a mov form it does not decode: each
 * goes back to the guest as the fault it was (LHREQ_TRAP), EIP and every
 * register untouched, and the guest goes on.  port_io(), mmio_mov() and
 * raw_trap() check the registers; we check which trap came back.
 */
#include <linux/pci_regs.h>
#include <linux/virtio_pci.h>

#include "../virtio.h"

#define TRAP_GP 13
#define TRAP_PF 14

/* The selectors a 4.x guest kernel and its user space run with. */
#define KERNEL_CS (0x60 | 1)
#define USER_CS (0x70 | 3)

/* Instructions a guest kernel might fault on that are not port I/O. */
static void unknown_gp(void)
{
	static const u8 ud2[] = { 0x0f, 0x0b };
	static const u8 hlt[] = { 0xf4 };
	static const u8 insb[] = { 0x6c };
	static const u8 rep_outsb[] = { 0xf3, 0x6e };

	check_eq(raw_trap(TRAP_GP, ud2, sizeof(ud2), 0, NULL), TRAP_GP,
		 "ud2 (0f 0b): the #GP comes back");
	check_eq(raw_trap(TRAP_GP, hlt, sizeof(hlt), 0, NULL), TRAP_GP,
		 "hlt (f4): the #GP comes back");
	check_eq(raw_trap(TRAP_GP, insb, sizeof(insb), 0, NULL), TRAP_GP,
		 "insb (6c), string I/O: the #GP comes back");
	check_eq(raw_trap(TRAP_GP, rep_outsb, sizeof(rep_outsb), 0, NULL),
		 TRAP_GP, "rep outsb (f3 6e): the #GP comes back");
}

/* Port I/O and cli from ring 3: the guest kernel's business, not ours. */
static void user_mode_io(void)
{
	static const u8 cli_insn[] = { 0xfa };
	u32 v = 0x80000800;

	guest_setreg(PT_CS, USER_CS);
	check_eq(port_io(false, 0xef, 0xcf8, &v), TRAP_GP,
		 "outl to 0xcf8 from user mode: #GP");
	check_eq(port_io(false, 0xed, 0xcfc, &v), TRAP_GP,
		 "inl from 0xcfc from user mode: #GP");
	check_eq(port_io(true, 0xe5, 0x64, &v), TRAP_GP,
		 "inw $0x64 from user mode: #GP");
	check_eq(port_io(false, 0xe6, 0x80, &v), TRAP_GP,
		 "outb to 0x80 from user mode: #GP");
	check_eq(raw_trap(TRAP_GP, cli_insn, 1, 0, NULL), TRAP_GP,
		 "cli from user mode: #GP");
	guest_setreg(PT_CS, KERNEL_CS);
	check_eq(pci_read16(1, PCI_VENDOR_ID), 0x1af4,
		 "back in the kernel, configuration space answers");
}

static int mmio_load(u64 gpa, u32 *value)
{
	struct mov_insn m = { .opcode = 0x8b };

	return mmio_mov(&m, gpa, value);
}

static int mmio_store(u64 gpa, u32 value)
{
	struct mov_insn m = { .opcode = 0x89, .rm = 2 };

	return mmio_mov(&m, gpa, &value);
}

/*
 * The MMIO window where no device is: the 256 device pages above RAM,
 * and what is left of the last page after the last BAR.
 */
static void no_device(struct vdev *con)
{
	u64 ram = (u64)guest_boot()->pfn_limit * PAGE_SIZE;
	u64 end = (u64)guest_boot()->device_limit * PAGE_SIZE;
	u64 past = (u64)con->bar + con->bar_size;
	u32 v = 0;

	check_eq(mmio_load(ram, &v), TRAP_PF,
		 "a load from the first device page: the page fault");
	check_eq(mmio_store(ram + 0x1234, 0x5a5a5a5a), TRAP_PF,
		 "a store to a device page: the page fault");
	check_eq(mmio_load(con->bar - 4, &v), TRAP_PF,
		 "a load just below the first BAR: the page fault");
	check(past < end, "the console's BAR0 ends before the window does "
	      "(%#llx, %#llx)", (unsigned long long)past,
	      (unsigned long long)end);
	check_eq(mmio_load(end - 4, &v), TRAP_PF,
		 "a load from the window's last word, past every BAR: the "
		 "page fault");
}

/* A mov the launcher does not decode, at a real register. */
static void unknown_mov(struct vdev *con)
{
	u64 status = con->common + VIRTIO_PCI_COMMON_STATUS;
	u8 movl_imm[] = { 0xc7, 0x00, 0x01, 0x00, 0x00, 0x00 };
	u8 mod3[] = { 0x89, 0xc0 };
	u8 movzbl[] = { 0x0f, 0xb6, 0x00 };
	u8 movb_imm[] = { 0xc6, 0x00, 0x01 };

	check_eq(raw_trap(TRAP_PF, movl_imm, sizeof(movl_imm), (u32)status,
			  NULL),
		 TRAP_PF, "movl $1, (%eax) (c7 00 ...): the page fault");
	check_eq(raw_trap(TRAP_PF, movb_imm, sizeof(movb_imm), (u32)status,
			  NULL),
		 TRAP_PF, "movb $1, (%eax) (c6 00 01): the page fault");
	check_eq(raw_trap(TRAP_PF, movzbl, sizeof(movzbl), (u32)status, NULL),
		 TRAP_PF, "movzbl (%eax), %eax (0f b6 00): the page fault");
	check_eq(raw_trap(TRAP_PF, mod3, sizeof(mod3), (u32)status, NULL),
		 TRAP_PF, "mov %eax, %eax (89 c0, mod 3): the page fault");
	check_eq(vp_status(con), 0, "device_status was not written");
}

static void handback(void)
{
	struct vdev *con = vp_probe(1);

	vp_reset(con);
	unknown_gp();
	user_mode_io();
	no_device(con);
	unknown_mov(con);
	cli();
	check(true, "and the guest runs on: cli is still stepped over");
}
SCENARIO(handback);
