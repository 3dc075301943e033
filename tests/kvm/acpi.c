// SPDX-License-Identifier: GPL-2.0
/*
 * acpi.c: power off as an ACPI operating system does, and the PC ports.
 *
 * We find the RSDP in the BIOS area (0xE0000-0xFFFFF, on a 16-byte
 * boundary), check its checksums and those of every table the RSDT (and
 * XSDT) lists, and take from them what a kernel's poweroff needs: the
 * FADT's PM1a control block and the sleep type of \_S5 in the DSDT.  We
 * print what we found ("acpi: ..."), for the test to compare with what
 * lguest promises: PM1a at 0x600/0x604, SCI on line 9, the reset
 * register (0xFE to port 0x64), one local APIC and an IO-APIC in the
 * MADT, \_S5 = 5.  Then the ports around them: PM1a_CNT reads SCI_EN,
 * the PM1a event block reads 0, the keyboard controller's status reads 1,
 * a port nobody has reads all ones.  Last, we power off with the values
 * the tables gave.
 */
#include "lib.h"

/* A table the RSDT names: its header must be whole and sum to 0. */
static const struct acpi_header *table(u32 addr, const char *why)
{
	const struct acpi_header *h = (const void *)addr;

	if (!addr || h->len < sizeof(*h) || h->len > 0x10000)
		fail("acpi: %s at %#x: bad table", why, addr);
	if (acpi_sum(h, h->len))
		fail("acpi: %.4s at %#x: checksum is off by %u", h->sig, addr,
		     acpi_sum(h, h->len));
	return h;
}

static const u8 *find_rsdp(void)
{
	u32 p;

	for (p = 0xE0000; p < 0x100000; p += 16)
		if (!memcmp((const void *)p, "RSD PTR ", 8) &&
		    !acpi_sum((const void *)p, 20))
			return (const u8 *)p;
	fail("acpi: no RSDP in 0xe0000-0xfffff");
}

static u32 get32(const void *p)
{
	return *(const u32 *)p;
}

static u8 slp_typ_s5(const struct acpi_header *dsdt)
{
	const u8 *aml = (const u8 *)dsdt, *end = aml + dsdt->len, *p;

	/* Name (_S5, Package (n) { a, b, ... }): NameOp "_S5_" PackageOp */
	for (p = aml + sizeof(*dsdt); p + 8 <= end; p++) {
		if (memcmp(p, "_S5_", 4) || p[4] != 0x12)
			continue;
		p += 5;
		p += 1 + (*p >> 6); /* PkgLength, 1 to 4 bytes */
		p++;		    /* NumElements */
		if (*p == 0x0A)	    /* BytePrefix */
			return p[1];
		if (*p <= 1) /* ZeroOp, OneOp */
			return *p;
		fail("acpi: \\_S5's first element is AML op %#x", *p);
	}
	fail("acpi: no \\_S5 package in the DSDT");
}

void main(void)
{
	const struct acpi_header *rsdt, *fadt = NULL, *madt = NULL, *dsdt;
	const u8 *rsdp = find_rsdp(), *f, *m;
	u32 pm1a_evt, pm1a_cnt, n, i, lapics = 0, ioapics = 0;
	u8 slp_typ;

	printf("acpi: RSDP at %p, revision %u\n", rsdp, rsdp[15]);
	if (rsdp[15] >= 2 && acpi_sum(rsdp, get32(rsdp + 20)))
		fail("acpi: the RSDP's extended checksum is off");
	rsdt = table(get32(rsdp + 16), "RSDT");
	if (memcmp(rsdt->sig, "RSDT", 4))
		fail("acpi: the RSDP points at %.4s, not an RSDT", rsdt->sig);
	n = (rsdt->len - sizeof(*rsdt)) / 4;
	for (i = 0; i < n; i++) {
		const struct acpi_header *t =
			table(get32((const u8 *)(rsdt + 1) + 4 * i), "entry");

		printf("acpi: %.4s at %p, %u bytes\n", t->sig, t, t->len);
		if (!memcmp(t->sig, "FACP", 4))
			fadt = t;
		if (!memcmp(t->sig, "APIC", 4))
			madt = t;
	}
	if (rsdp[15] >= 2) {
		const u32 *x = (const u32 *)(rsdp + 24);
		const struct acpi_header *xsdt;

		if (x[1])
			fail("acpi: the XSDT is above 4 GiB");
		xsdt = table(x[0], "XSDT");
		if ((xsdt->len - sizeof(*xsdt)) / 8 != n)
			fail("acpi: the XSDT and the RSDT list different tables");
		for (i = 0; i < n; i++)
			if (get32((const u8 *)(xsdt + 1) + 8 * i) !=
			    get32((const u8 *)(rsdt + 1) + 4 * i))
				fail("acpi: XSDT entry %u is not RSDT's", i);
		puts("ok - acpi: the XSDT lists what the RSDT does");
	}
	if (!fadt)
		fail("acpi: no FADT");
	f = (const u8 *)fadt;
	pm1a_evt = get32(f + 56);
	pm1a_cnt = get32(f + 64);
	printf("acpi: FADT: SCI %u, PM1a_EVT %#x (%u bytes), PM1a_CNT %#x "
	       "(%u bytes), flags %#x\n",
	       *(const u16 *)(f + 46), pm1a_evt, f[88], pm1a_cnt, f[89],
	       get32(f + 112));
	if (fadt->len >= 111)
		printf("acpi: FADT: IAPC_BOOT_ARCH %#x: i8042 %s, CMOS RTC %s\n",
		       *(const u16 *)(f + 109), f[109] & 1 << 1 ? "yes" : "no",
		       f[109] & 1 << 5 ? "no" : "yes");
	if (fadt->len >= 129 && (get32(f + 112) & 1 << 10))
		printf("acpi: FADT: reset by writing %#x to space %u address "
		       "%#x\n",
		       f[128], f[116], get32(f + 120));
	if (fadt->len >= 140 && get32(f + 36))
		if (memcmp((const void *)get32(f + 36), "FACS", 4))
			fail("acpi: FIRMWARE_CTRL points at no FACS");
	dsdt = table(get32(f + 40), "DSDT");
	if (memcmp(dsdt->sig, "DSDT", 4))
		fail("acpi: the FADT's DSDT is a %.4s", dsdt->sig);
	slp_typ = slp_typ_s5(dsdt);
	printf("acpi: DSDT: \\_S5 sleep type %u\n", slp_typ);

	if (!madt)
		fail("acpi: no MADT");
	for (m = (const u8 *)(madt + 1) + 8; m < (const u8 *)madt + madt->len;
	     m += m[1]) {
		if (m[1] < 2)
			fail("acpi: MADT entry of length %u", m[1]);
		lapics += m[0] == 0;
		ioapics += m[0] == 1;
		if (m[0] == 1)
			printf("acpi: MADT: IO-APIC at %#x\n", get32(m + 4));
	}
	printf("acpi: MADT: %u local APIC, %u IO-APIC\n", lapics, ioapics);
	puts("ok - acpi: every table's checksum");

	printf("acpi: ports: PM1a_CNT %#x, PM1a_EVT %#x, i8042 status %#x, "
	       "port 0x2e8 %#x/%#x/%#x\n",
	       inw(pm1a_cnt), inl(pm1a_evt), inb(0x64), inb(0x2E8), inw(0x2E8),
	       inl(0x2E8));

	/* PM1a_EN, a byte at a time or with PM1a_STS as one dword. */
	outw(pm1a_evt + 2, 0x0121);
	outb(pm1a_evt + 3, 0xAB);
	printf("acpi: PM1a_EN: %#x, high byte %#x, with PM1a_STS %#x\n",
	       inw(pm1a_evt + 2), inb(pm1a_evt + 3), inl(pm1a_evt));
	outw(pm1a_evt + 2, 0);

	printf("acpi: powering off: SLP_TYP %u, SLP_EN to port %#x\n", slp_typ,
	       pm1a_cnt);
	outw(pm1a_cnt, slp_typ << 10 | ACPI_SLP_EN);
	fail("acpi: still running after the power-off the tables describe");
}
