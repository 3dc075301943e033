// SPDX-License-Identifier: GPL-2.0
/*
 * boot.c: who booted us, what they said, and how to power off.
 *
 * Three loaders enter the bench guest at the same _start (start.S):
 *
 *   multiboot  %eax = 0x2BADB002, %ebx = the multiboot information, whose
 *              flags bit 2 says cmdline (offset 16) holds the command
 *              line's address.  QEMU -M pc; its firmware (SeaBIOS) left
 *              the ACPI RSDP in the BIOS area, where we look for it.
 *   PVH        %ebx = struct hvm_start_info, magic 0x336EC578 first, then
 *              version, flags, nr_modules, modlist_paddr (64-bit),
 *              cmdline_paddr (64-bit, offset 24) and rsdp_paddr (64-bit,
 *              offset 32).  QEMU -M microvm.
 *   lguest     %esi = boot_params at guest-physical 0 (%ebx is 0): the
 *              command line's address at 0x228, the RSDP's at 0x070.
 *
 * The command line is "key=value" words; bench.c reads "bench=MODE" and
 * the mode's own numbers.
 *
 * Power-off is ACPI's, as the tables describe it, so that one guest ends
 * all three machines: lguest's FADT names PM1a control at 0x604 with \_S5
 * sleep type 5; QEMU's pc (PIIX4) the same port with sleep type 0; and
 * microvm is a hardware-reduced platform (FADT flag HW_REDUCED_ACPI) whose
 * FADT names a sleep control register (its generic event device, in
 * memory) that takes SLP_TYP << 2 | SLP_EN (1 << 5).
 */
#include "bench.h"

#define MULTIBOOT_INFO_CMDLINE (1 << 2)
#define PVH_MAGIC 0x336EC578
#define BP_ACPI_RSDP_ADDR 0x070
#define BP_HEADER 0x202
#define BP_CMD_LINE_PTR 0x228

const char *boot_via = "?";
/* A copy: the loader's may lie in RAM that the rss mode rewrites. */
static char cmdline[1024];
static u32 rsdp_hint;

static u32 get32(unsigned long addr)
{
	return *(const volatile u32 *)addr;
}

/*
 * start.S leaves the bss to the loaders, which must have zeroed it: a word
 * in each of its pages says whether they did (all of it would cost as much
 * as clearing it).
 */
extern u8 __bss_start[], __bss_end[];

static void check_bss(void)
{
	unsigned long p;

	for (p = (unsigned long)__bss_start; p < (unsigned long)__bss_end;
	     p = (p + 4096) & ~4095ul)
		if (*(volatile u8 *)p)
			fail("the loader left the bss dirty at %#lx", p);
}

void boot_init(void)
{
	u32 p = 0;

	check_bss();

	/*
	 * PVH first: microvm's firmware enters a PVH kernel with the
	 * multiboot magic left in %eax.  (A multiboot information block
	 * starts with its flags, never with the PVH magic.)
	 */
	if (entry_ebx && get32(entry_ebx) == PVH_MAGIC) {
		boot_via = "pvh";
		/* Both addresses are 64-bit; ours lie below 4 GiB. */
		p = get32(entry_ebx + 24);
		rsdp_hint = get32(entry_ebx + 32);
	} else if (boot_magic == MULTIBOOT_BOOTLOADER_MAGIC) {
		boot_via = "multiboot";
		if (get32(entry_ebx) & MULTIBOOT_INFO_CMDLINE)
			p = get32(entry_ebx + 16);
	} else if (!memcmp((const void *)(entry_esi + BP_HEADER), "HdrS", 4)) {
		boot_via = "lguest";
		p = get32(entry_esi + BP_CMD_LINE_PTR);
		rsdp_hint = get32(entry_esi + BP_ACPI_RSDP_ADDR);
	}
	if (p) {
		size_t n = strlen((const char *)p);

		if (n >= sizeof(cmdline))
			n = sizeof(cmdline) - 1;
		memcpy(cmdline, (const char *)p, n);
	}
}

const char *arg_str(const char *key)
{
	size_t klen = strlen(key);
	const char *p = cmdline;

	while (*p) {
		while (*p == ' ')
			p++;
		if (!memcmp(p, key, klen) && p[klen] == '=')
			return p + klen + 1;
		while (*p && *p != ' ')
			p++;
	}
	return NULL;
}

u32 arg_u32(const char *key, u32 def)
{
	const char *p = arg_str(key);
	u32 n = 0;

	if (!p || *p < '0' || *p > '9')
		return def;
	while (*p >= '0' && *p <= '9')
		n = n * 10 + *p++ - '0';
	if (*p == 'k')
		n <<= 10;
	else if (*p == 'M')
		n <<= 20;
	else if (*p == 'G')
		n <<= 30;
	return n;
}

/*
 * ACPI.  The RSDP: where the loader said, else on a 16-byte boundary in
 * the EBDA's first KiB or in 0xE0000-0xFFFFF, with its checksum.
 */
static bool is_rsdp(u32 p)
{
	return p && !memcmp((const void *)p, "RSD PTR ", 8) &&
	       !acpi_sum((const void *)p, 20);
}

static u32 find_rsdp(void)
{
	/* The EBDA's segment, in the BIOS data area. */
	unsigned long bda = 0x40E;
	u32 ebda, p;

	/* (Hidden from gcc, which takes low addresses for null pointers.) */
	asm("" : "+r"(bda));
	ebda = *(const volatile u16 *)bda;
	ebda <<= 4;

	if (is_rsdp(rsdp_hint))
		return rsdp_hint;
	if (ebda >= 0x80000 && ebda < 0xA0000)
		for (p = ebda; p < ebda + 1024; p += 16)
			if (is_rsdp(p))
				return p;
	for (p = 0xE0000; p < 0x100000; p += 16)
		if (is_rsdp(p))
			return p;
	return 0;
}

/* A table the RSDT or XSDT lists, by signature. */
static const struct acpi_header *find_table(u32 rsdp, const char *sig)
{
	const u8 *r = (const u8 *)rsdp;
	const struct acpi_header *sdt;
	unsigned int i, n, w = 4;
	u32 at = get32(rsdp + 16);

	/* The XSDT where there is one below 4 GiB (microvm has no RSDT). */
	if (r[15] >= 2 && get32(rsdp + 24) && !get32(rsdp + 28)) {
		at = get32(rsdp + 24);
		w = 8;
	}
	if (!at)
		return NULL;
	sdt = (const void *)at;
	n = (sdt->len - sizeof(*sdt)) / w;
	for (i = 0; i < n; i++) {
		u32 t = get32(at + sizeof(*sdt) + w * i);

		if (t && !memcmp((const void *)t, sig, 4))
			return (const void *)t;
	}
	return NULL;
}

/* \_S5's sleep type: Name (_S5, Package (n) { type, ... }) in the DSDT. */
static int slp_typ_s5(const struct acpi_header *dsdt)
{
	const u8 *p = (const u8 *)(dsdt + 1),
		 *end = (const u8 *)dsdt + dsdt->len;

	for (; p + 8 <= end; p++) {
		if (memcmp(p, "_S5_", 4) || p[4] != 0x12)
			continue;
		p += 5;
		p += 1 + (*p >> 6); /* PkgLength */
		p++;		    /* NumElements */
		if (*p == 0x0A)	    /* BytePrefix */
			return p[1];
		if (*p <= 1) /* ZeroOp, OneOp */
			return *p;
		return -1;
	}
	return -1;
}

#define FADT_DSDT 40
#define FADT_PM1A_CNT 64
#define FADT_FLAGS 112
#define FADT_X_DSDT 140
#define FADT_SLEEP_CONTROL 244 /* a GAS: space, width, offset, size, addr */
#define FADT_HW_REDUCED (1 << 20)
#define SLEEP_CTL_SLP_EN (1 << 5)

void acpi_poweroff(void)
{
	u32 rsdp = find_rsdp(), dsdt_at;
	const struct acpi_header *fadt, *dsdt;
	const u8 *f;
	int typ = -1;

	fadt = rsdp ? find_table(rsdp, "FACP") : NULL;
	if (!fadt) {
		puts("bench: no ACPI FADT: cannot power off");
		for (;;)
			asm volatile("cli; hlt");
	}
	f = (const u8 *)fadt;
	dsdt_at = get32((u32)f + FADT_DSDT);
	if (fadt->len >= FADT_X_DSDT + 8 && get32((u32)f + FADT_X_DSDT))
		dsdt_at = get32((u32)f + FADT_X_DSDT);
	dsdt = (const void *)dsdt_at;
	if (dsdt_at && !memcmp(dsdt->sig, "DSDT", 4))
		typ = slp_typ_s5(dsdt);

	if (fadt->len >= FADT_SLEEP_CONTROL + 12 &&
	    (get32((u32)f + FADT_FLAGS) & FADT_HW_REDUCED)) {
		u8 space = f[FADT_SLEEP_CONTROL];
		u32 addr = get32((u32)f + FADT_SLEEP_CONTROL + 4);
		u8 v = (typ < 0 ? 5 : typ) << 2 | SLEEP_CTL_SLP_EN;

		if (space == 0)
			writeb(addr, v);
		else
			outb(addr, v);
	} else {
		outw(get32((u32)f + FADT_PM1A_CNT),
		     (typ < 0 ? 5 : typ) << 10 | ACPI_SLP_EN);
	}
	/* The VMM may let the CPU run a little while it stops. */
	for (;;)
		asm volatile("cli; hlt");
}
