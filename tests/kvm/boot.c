// SPDX-License-Identifier: GPL-2.0
/*
 * boot.c: what an i386 ELF finds when lguest --kvm enters it.
 *
 * The boot protocol's 32-bit entry: flat protected mode with CS 0x10 and
 * DS/SS 0x18, paging and interrupts off, %esi pointing at boot_params
 * (guest-physical 0).  In boot_params: the setup header's magic, a PC
 * (hardware_subarch 0) whose segments the kernel may reload (no
 * KEEP_SEGMENTS), the command line at 0x1000, the ACPI RSDP's address,
 * and an e820 map with RAM below the EBDA and from 1 MiB up, and nothing
 * but reserved ranges between (the ACPI tables at 0xE0000 among them).
 * We print what we find ("boot: ..."), for the test to compare with the
 * command line and memory size it gave, and fail what is wrong whatever
 * they were.  Booted by multiboot (QEMU), there is no boot_params to see.
 */
#include "lib.h"

/* struct boot_params (Linux's arch/x86/include/uapi/asm/bootparam.h) */
#define BP_ACPI_RSDP_ADDR 0x070
#define BP_E820_ENTRIES 0x1E8
#define BP_BOOT_FLAG 0x1FE
#define BP_HEADER 0x202
#define BP_LOADFLAGS 0x211
#define BP_CMD_LINE_PTR 0x228
#define BP_HARDWARE_SUBARCH 0x23C
#define BP_E820_TABLE 0x2D0
#define KEEP_SEGMENTS 0x40

#define EBDA 0x9FC00
#define MIB 0x100000

/* boot_params, where %esi said it was (it must say 0). */
static const u8 *bp;

static u8 bp8(u32 off)
{
	return bp[off];
}

static u16 bp16(u32 off)
{
	return *(const u16 *)(bp + off);
}

static u32 bp32(u32 off)
{
	return *(const u32 *)(bp + off);
}

static void entry_state(void)
{
	printf("boot: entered with cs %#x ds %#x ss %#x esi %#x eflags %#x "
	       "cr0 %#x\n",
	       entry_cs, entry_ds, entry_ss, entry_esi, entry_eflags,
	       entry_cr0);
	if (entry_cs != 0x10 || entry_ds != 0x18 || entry_ss != 0x18)
		fail("boot: segments cs %#x ds %#x ss %#x, want 0x10 0x18 "
		     "0x18",
		     entry_cs, entry_ds, entry_ss);
	if (entry_eflags & 0x200)
		fail("boot: entered with interrupts on");
	if (!(entry_cr0 & 1) || (entry_cr0 & 0x80000000))
		fail("boot: cr0 %#x: want protected mode, paging off",
		     entry_cr0);
	if (entry_esi)
		fail("boot: esi %#x, want 0 (boot_params)", entry_esi);
	puts("ok - boot: flat protected mode, paging and interrupts off, "
	     "esi = boot_params");
}

static void setup_header(void)
{
	const char *cmdline = (const char *)bp32(BP_CMD_LINE_PTR);

	if (bp16(BP_BOOT_FLAG) != 0xAA55 || memcmp(bp + BP_HEADER, "HdrS", 4))
		fail("boot: boot_params has no setup header (boot_flag %#x)",
		     bp16(BP_BOOT_FLAG));
	if (bp8(BP_HARDWARE_SUBARCH))
		fail("boot: hardware_subarch %u, want 0 (a PC)",
		     bp8(BP_HARDWARE_SUBARCH));
	if (bp8(BP_LOADFLAGS) & KEEP_SEGMENTS)
		fail("boot: KEEP_SEGMENTS set in loadflags");
	puts("ok - boot: setup header, hardware_subarch 0, no KEEP_SEGMENTS");
	printf("boot: command line at %p: '%s'\n", cmdline,
	       cmdline ? cmdline : "");
	printf("boot: acpi_rsdp_addr %#x\n", bp32(BP_ACPI_RSDP_ADDR));
}

/*
 * The map must be in order without overlaps, have RAM from 0 to the EBDA
 * and from 1 MiB on, no RAM in between, and reserve the BIOS area.
 */
static void e820(void)
{
	const struct e820_entry *e = (const void *)(bp + BP_E820_TABLE);
	unsigned int n = bp8(BP_E820_ENTRIES), i;
	bool low = false, high = false, bios = false;
	u64 end = 0, ram = 0;

	if (!n || n > 128)
		fail("boot: %u e820 entries", n);
	for (i = 0; i < n; i++, e++) {
		u64 last = e->addr + e->size;

		if (e->addr >> 32 || last >> 32)
			printf("boot: e820 %s [%#x%08x, %#x%08x)\n",
			       e->type == 1 ? "RAM" : "reserved",
			       (u32)(e->addr >> 32), (u32)e->addr,
			       (u32)(last >> 32), (u32)last);
		else
			printf("boot: e820 %s [%#x, %#x) type %u\n",
			       e->type == 1 ? "RAM" : "reserved", (u32)e->addr,
			       (u32)last, e->type);
		if (!e->size || e->addr < end)
			fail("boot: e820 entry %u is empty, out of order or "
			     "overlaps",
			     i);
		end = last;
		if (e->type == 1) {
			ram += e->size;
			if (e->addr < MIB && last > EBDA)
				fail("boot: RAM in e820 between the EBDA and "
				     "1 MiB");
			low |= e->addr == 0 && last == EBDA;
			high |= e->addr == MIB;
		} else if (e->addr <= 0xE0000 && last >= MIB) {
			bios = true;
		}
	}
	if (!low || !high || !bios)
		fail("boot: e820 wants RAM [0, %#x), RAM from 1 MiB and the "
		     "BIOS area [0xe0000, 1 MiB) reserved",
		     EBDA);
	printf("ok - boot: e820 map (%u KiB of RAM)\n", (u32)(ram >> 10));
}

void main(void)
{
	if (boot_magic == MULTIBOOT_BOOTLOADER_MAGIC) {
		puts("boot: booted by multiboot: no boot_params to check");
		poweroff();
	}
	entry_state();
	bp = (const u8 *)entry_esi;
	setup_header();
	e820();
	poweroff();
}
