// SPDX-License-Identifier: GPL-2.0
/*
 * scenarios/pci.c: the PCI bus as a guest kernel's PCI core sees it.
 *
 * Linux's arch/x86/pci/direct.c reaches configuration space through
 * mechanism #1: the address (enable bit, bus, device, function, dword) to
 * port 0xcf8, the data through 0xcfc-0xcff, in 8, 16 or 32 bits.  The
 * core then scans bus 0, reads each function's header, sizes its BARs and
 * walks its capabilities; virtio_pci finds its structures there.  This
 * scenario does all of that and checks every answer against what the
 * README and the virtio 1.0 specification (§4.1) promise, then tries the
 * writes the launcher allows and those it refuses with a #GP, the PCI
 * configuration access window (§4.1.4.7), and the ports nobody emulates.
 *
 * The test names the devices it gave the launcher, in slot order after
 * the console:
 *
 *	LGSTUB_PCI_DEVICES="block rng ..."	(console, net, block or rng)
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/pci_regs.h>
#include <linux/virtio_console.h>
#include <linux/virtio_pci.h>

#include "../virtio.h"

#define PCI_SLOTS 32
#define CONF_ADDR 0xcf8
#define CONF_DATA 0xcfc
#define ALL_ONES 0xffffffffU
#define TRAP_GP 13

/* What each kind of device should look like. */
struct kind {
	const char *name;
	u16 type;		/* virtio device type */
	u8 class, subclass;
	u32 config_len;		/* device configuration, in bytes */
};

static const struct kind kinds[] = {
	{ "console", 3, 0x07, 0x00, 12 },
	{ "net", 1, 0x02, 0x00, 12 },
	{ "block", 2, 0x01, 0x80, 36 },
	{ "rng", 4, 0xff, 0x00, 0 },
};

static const struct kind *slot_kind[PCI_SLOTS];
static unsigned int nslots;	/* slots in use, the host bridge included */

static void read_devices(void)
{
	const char *list = getenv("LGSTUB_PCI_DEVICES");
	char word[16];
	int used;
	unsigned int i;

	slot_kind[1] = &kinds[0];
	nslots = 2;
	while (list && sscanf(list, " %15s%n", word, &used) == 1) {
		for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
			if (!strcmp(word, kinds[i].name))
				break;
		}
		if (i == sizeof(kinds) / sizeof(kinds[0]) ||
		    nslots == PCI_SLOTS)
			guest_fail("pci: LGSTUB_PCI_DEVICES: bad '%s'", word);
		slot_kind[nslots++] = &kinds[i];
		list += used;
	}
}

/* Mechanism #1's address for bus, device, function, register. */
static u32 conf_addr(unsigned int bus, unsigned int dev, unsigned int fn,
		     unsigned int reg)
{
	return 0x80000000U | bus << 16 | dev << 11 | fn << 8 | (reg & 0xfc);
}

/* A read of width bytes at register reg, by hand, from any function. */
static u32 conf_read(u32 addr, unsigned int reg, unsigned int width)
{
	u16 port = CONF_DATA + (reg & 3);

	outl(addr, CONF_ADDR);
	return width == 1 ? inb(port) : width == 2 ? inw(port) : inl(port);
}

/* A write the launcher should refuse: true if it handed back a #GP. */
static bool conf_write_refused(u32 addr, unsigned int reg,
			       unsigned int width, u32 value)
{
	static const u8 opcode[] = { 0, 0xee, 0xef, 0, 0xef };

	outl(addr, CONF_ADDR);
	return port_io(width == 2, opcode[width], CONF_DATA + (reg & 3),
		       &value) == TRAP_GP;
}

static u32 width_mask(unsigned int width)
{
	return width == 4 ? ALL_ONES : (1U << (8 * width)) - 1;
}

/*
 * The address register keeps what was written to it, by lanes.
 */
static void address_register(void)
{
	u32 a = conf_addr(0, 1, 0, PCI_VENDOR_ID);

	outl(a, CONF_ADDR);
	check_eq(inl(CONF_ADDR), a, "0xcf8 reads back the address written");
	check_eq(inb(CONF_ADDR + 1), (a >> 8) & 0xff, "0xcf9: its byte 1");
	check_eq(inw(CONF_ADDR + 2), a >> 16, "0xcfa: its upper half");
	check_eq(inl(CONF_DATA), 0x10431af4, "0xcfc: slot 1's IDs");
	check_eq(inb(CONF_DATA + 1), 0x1a, "0xcfd: byte 1 of them");
	check_eq(inw(CONF_DATA + 2), 0x1043, "0xcfe: the upper half");
}

/* An empty place reads all ones, in every width. */
static void expect_nothing(u32 addr, const char *what)
{
	unsigned int reg, width, bad = 0;

	for (reg = 0; reg < 0x40; reg += 4) {
		for (width = 1; width <= 4; width *= 2)
			bad += conf_read(addr, reg + (width == 1 ? 3 : 0),
					 width) != width_mask(width);
	}
	check_eq(bad, 0, what);
}

static void host_bridge(void)
{
	check_eq(pci_read8(0, PCI_CLASS_DEVICE + 1), 0x06,
		 "00:00.0 base class: bridge");
	check_eq(pci_read8(0, PCI_CLASS_DEVICE), 0x00,
		 "00:00.0 subclass: host bridge");
	check_eq(pci_read16(0, PCI_CLASS_DEVICE), 0x0600,
		 "00:00.0 class word, as pci_sanity_check() reads it");
}

/* IDs and the header fields the README lists, in 8, 16 and 32 bits. */
static void check_header(unsigned int s, const struct kind *k)
{
	char what[64];
	u16 dev = VIRTIO_PCI_MODERN_BASE + k->type;

	snprintf(what, sizeof(what), "00:%02x.0 (%s)", s, k->name);
	guest_note("%s", what);
	check_eq(pci_read32(s, PCI_VENDOR_ID), (u32)dev << 16 | 0x1af4,
		 "IDs, 32 bits");
	check_eq(pci_read16(s, PCI_VENDOR_ID), 0x1af4, "vendor ID, 16 bits");
	check_eq(pci_read16(s, PCI_DEVICE_ID), dev, "device ID: 0x1040 + type");
	check_eq(pci_read8(s, PCI_DEVICE_ID + 1), dev >> 8,
		 "device ID, high byte");
	check_eq(pci_read8(s, PCI_REVISION_ID), 1, "revision ID 1");
	check_eq(pci_read8(s, PCI_CLASS_DEVICE + 1), k->class, "base class");
	check_eq(pci_read8(s, PCI_CLASS_DEVICE), k->subclass, "subclass");
	check_eq(pci_read8(s, PCI_CLASS_PROG), 0, "programming interface");
	check_eq(pci_read8(s, PCI_HEADER_TYPE), 0,
		 "header type 0, single function");
	check_eq(pci_read16(s, PCI_SUBSYSTEM_ID), 0x40, "subsystem ID 0x40");
	check(pci_read16(s, PCI_STATUS) & PCI_STATUS_CAP_LIST,
	      "status has the capability list bit");
	check_eq(pci_read8(s, PCI_CAPABILITY_LIST), 0x40,
		 "capability pointer 0x40");
	check_eq(pci_read8(s, PCI_INTERRUPT_LINE), s,
		 "interrupt line: numbered from 1 in slot order");
	check_eq(pci_read8(s, PCI_INTERRUPT_PIN), 0, "interrupt pin 0");
}

/* BAR0: a power of two, aligned to it, above RAM and the device pages. */
static void check_bar0(unsigned int s, const struct kind *k, u64 *bar,
		       u32 *size)
{
	u64 ram = (u64)guest_boot()->pfn_limit * PAGE_SIZE;
	u64 end = (u64)guest_boot()->device_limit * PAGE_SIZE;
	u32 orig = pci_read32(s, PCI_BASE_ADDRESS_0), mask;
	unsigned int i;

	pci_write32(s, PCI_BASE_ADDRESS_0, ALL_ONES);
	mask = pci_read32(s, PCI_BASE_ADDRESS_0);
	pci_write32(s, PCI_BASE_ADDRESS_0, orig);
	check_eq(pci_read32(s, PCI_BASE_ADDRESS_0), orig,
		 "BAR0 reads back its address after sizing");
	check_eq(orig & 0xf, 0, "BAR0: 32-bit memory, not prefetchable");
	*size = mask & -mask & ~0xfU;
	*bar = orig;
	check(*size && mask == (u32)-*size,
	      "BAR0 sizes to a power of two (all ones read back %#x)", mask);
	check(*size && !(*bar & (*size - 1)), "BAR0 %#llx is aligned to its "
	      "size %#x", (unsigned long long)*bar, *size);
	check(*size >= 60 + k->config_len, "BAR0's %u bytes hold the %u of "
	      "the registers", *size, 60 + k->config_len);
	check(*bar >= ram + 256 * PAGE_SIZE && *bar + *size <= end,
	      "BAR0 [%#llx, %#llx) is above RAM and the 256 device pages, "
	      "below the MMIO window's end %#llx", (unsigned long long)*bar,
	      (unsigned long long)(*bar + *size), (unsigned long long)end);
	for (i = 1; i < 6; i++)
		check_eq(pci_read32(s, PCI_BASE_ADDRESS_0 + 4 * i), 0,
			 "BAR1-5 unimplemented: 0");
}

/* One virtio capability: where it is, what it says. */
static void check_cap(unsigned int s, u8 at, u8 type, u8 cap_len, u32 off,
		      u32 len)
{
	static const char *const names[] = { "?", "common", "notify", "ISR",
					     "device", "PCI_CFG" };

	guest_note("capability at %#x: %s", at, names[type]);
	check_eq(pci_read8(s, at + VIRTIO_PCI_CAP_VNDR), PCI_CAP_ID_VNDR,
		 "cap_vndr: vendor-specific");
	check_eq(pci_read8(s, at + VIRTIO_PCI_CAP_LEN), cap_len, "cap_len");
	check_eq(pci_read8(s, at + VIRTIO_PCI_CAP_CFG_TYPE), type, "cfg_type");
	check_eq(pci_read8(s, at + VIRTIO_PCI_CAP_BAR), 0, "bar 0");
	check_eq(pci_read32(s, at + VIRTIO_PCI_CAP_OFFSET), off, "offset");
	check_eq(pci_read32(s, at + VIRTIO_PCI_CAP_LENGTH), len, "length");
}

/*
 * The chain: common 0x40, notify 0x50, ISR 0x64, PCI_CFG 0x84, then the
 * device configuration at 0x74 if there is one.
 */
static void check_caps(unsigned int s, const struct kind *k)
{
	static const u8 chain[] = { 0x40, 0x50, 0x64, 0x84, 0x74 };
	unsigned int n = k->config_len ? 5 : 4, i;
	u8 at = pci_read8(s, PCI_CAPABILITY_LIST);

	for (i = 0; i < n; i++) {
		check_eq(at, chain[i], "next capability");
		if (at != chain[i])
			return;
		at = pci_read8(s, at + VIRTIO_PCI_CAP_NEXT);
	}
	check_eq(at, 0, "the chain ends");
	check_cap(s, 0x40, VIRTIO_PCI_CAP_COMMON_CFG, 16, 0, 56);
	check_cap(s, 0x50, VIRTIO_PCI_CAP_NOTIFY_CFG, 20, 56, 2);
	check_eq(pci_read32(s, 0x50 + 16), 0,
		 "notify_off_multiplier 0: one address for every queue");
	check_cap(s, 0x64, VIRTIO_PCI_CAP_ISR_CFG, 16, 58, 1);
	check_cap(s, 0x84, VIRTIO_PCI_CAP_PCI_CFG, 20, 0, 0);
	if (k->config_len)
		check_cap(s, 0x74, VIRTIO_PCI_CAP_DEVICE_CFG, 16, 60,
			  k->config_len);
}

/* Every slot of bus 0, and what lies beyond: functions, buses. */
static void scan_bus(void)
{
	u64 bar[PCI_SLOTS];
	u32 size[PCI_SLOTS];
	unsigned int s, t;
	char what[64];

	host_bridge();
	for (s = 1; s < PCI_SLOTS; s++) {
		const struct kind *k = slot_kind[s];

		snprintf(what, sizeof(what), "00:%02x.0 is empty: all ones", s);
		if (!k) {
			expect_nothing(conf_addr(0, s, 0, 0), what);
			continue;
		}
		check_header(s, k);
		check_bar0(s, k, &bar[s], &size[s]);
		check_caps(s, k);
		for (t = 1; t < s; t++)
			check(bar[t] + size[t] <= bar[s] ||
			      bar[s] + size[s] <= bar[t],
			      "BAR0 of slots %u and %u do not overlap", t, s);
	}
	expect_nothing(conf_addr(0, 1, 1, 0), "00:01.1: all ones");
	expect_nothing(conf_addr(0, 1, 7, 0), "00:01.7: all ones");
	expect_nothing(conf_addr(0, 0, 3, 0), "00:00.3: all ones");
	expect_nothing(conf_addr(1, 1, 0, 0), "01:01.0: all ones");
	expect_nothing(conf_addr(255, 0, 0, 0), "ff:00.0: all ones");
}

/*
 * Writes the launcher takes: BAR1-5, the CardBus CIS pointer, the ROM,
 * cache line size and latency timer (not header type or BIST), the
 * PCI_CFG window; a 16-bit write to command or status is taken and
 * ignored.
 */
static void stored(unsigned int s, unsigned int reg, u32 value)
{
	pci_write32(s, reg, value);
	check_eq(pci_read32(s, reg), value, "a writable register keeps it");
	pci_write32(s, reg, 0);
}

static void writes_taken(unsigned int s)
{
	unsigned int i;

	for (i = 1; i < 6; i++)
		stored(s, PCI_BASE_ADDRESS_0 + 4 * i, 0xdead0000 + i);
	stored(s, PCI_CARDBUS_CIS, 0x12345678);
	stored(s, PCI_ROM_ADDRESS, 0xfffe0000);

	pci_write8(s, PCI_CACHE_LINE_SIZE, 0x10);
	pci_write8(s, PCI_LATENCY_TIMER, 0x40);
	check_eq(pci_read16(s, PCI_CACHE_LINE_SIZE), 0x4010,
		 "cache line size and latency timer are writable");
	pci_write32(s, PCI_CACHE_LINE_SIZE, 0xffff0820);
	check_eq(pci_read32(s, PCI_CACHE_LINE_SIZE), 0x00000820,
		 "a dword write there leaves header type and BIST alone");

	pci_write8(s, PCI_HEADER_TYPE, 0x80);
	pci_write8(s, PCI_BIST, 0x40);
	pci_write16(s, PCI_HEADER_TYPE, 0xffff);
	check_eq(pci_read16(s, PCI_HEADER_TYPE), 0,
		 "writes to header type and BIST are taken and ignored");

	pci_write16(s, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	check_eq(pci_read16(s, PCI_COMMAND), 0,
		 "a 16-bit write to command is taken and ignored");
	pci_write16(s, PCI_STATUS, 0xffff);
	check_eq(pci_read16(s, PCI_STATUS), PCI_STATUS_CAP_LIST,
		 "a 16-bit write to status is taken and ignored");
}

/*
 * Writes the launcher refuses, handing back the #GP (and the register is
 * as it was).  port_io() sees the trap, and checks EIP was not moved.
 */
static void refused(u32 addr, unsigned int reg, unsigned int width,
		    const char *what)
{
	u32 before = conf_read(addr, reg, width);

	check(conf_write_refused(addr, reg, width, ~before),
	      "%s: refused with a #GP", what);
	check_eq(conf_read(addr, reg, width), before, "... and unchanged");
}

static void writes_refused(unsigned int s)
{
	u32 a = conf_addr(0, s, 0, 0);

	refused(a, PCI_VENDOR_ID, 2, "16-bit write to the vendor ID");
	refused(a, PCI_VENDOR_ID, 4, "32-bit write to the IDs");
	refused(a, PCI_COMMAND, 4, "32-bit write to the command dword");
	refused(a, PCI_COMMAND, 1, "8-bit write to command");
	refused(a, PCI_REVISION_ID, 4, "write to revision and class");
	refused(a, PCI_SUBSYSTEM_VENDOR_ID, 4, "write to the subsystem IDs");
	refused(a, PCI_CAPABILITY_LIST, 1, "write to the capability pointer");
	refused(a, PCI_INTERRUPT_LINE, 1, "write to the interrupt line");
	refused(a, 0x40, 4, "write to the common capability");
	refused(a, 0x50 + 16, 4, "write to notify_off_multiplier");
	refused(a, 0x64 + VIRTIO_PCI_CAP_OFFSET, 4, "write to ISR's offset");
	refused(a, 0x74 + VIRTIO_PCI_CAP_LENGTH, 4,
		"write to device configuration's length");
	refused(a, 0x84, 2, "write to the PCI_CFG capability's header");
	refused(conf_addr(0, 31, 0, PCI_BASE_ADDRESS_0), PCI_BASE_ADDRESS_0, 4,
		"write to an empty slot");
	refused(conf_addr(0, s, 1, PCI_BASE_ADDRESS_0), PCI_BASE_ADDRESS_0, 4,
		"write to function 1");
	refused(conf_addr(1, s, 0, PCI_BASE_ADDRESS_0), PCI_BASE_ADDRESS_0, 4,
		"write to bus 1");
}

/*
 * The PCI configuration access window on the console (§4.1.4.7): drive
 * the device through configuration space alone, as Linux's early lguest
 * console did before any BAR was mapped.
 */
static void pci_cfg_window(void)
{
	struct vdev *d = vp_probe(1);
	u8 data = d->pci_cfg_cap + 16;

	check_eq(d->pci_cfg_cap, 0x84, "the console's PCI_CFG capability");
	vp_window_write(d, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	vp_window_write(d, VIRTIO_PCI_COMMON_STATUS, 1,
			VIRTIO_CONFIG_S_ACKNOWLEDGE);
	vp_window_write(d, VIRTIO_PCI_COMMON_STATUS, 1,
			VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	check_eq(vp_window_read(d, VIRTIO_PCI_COMMON_STATUS, 1), 3,
		 "window, length 1: device_status");
	check_eq(vp_status(d), 3, "... which BAR0 agrees with");
	check_eq(vp_window_read(d, VIRTIO_PCI_COMMON_NUMQ, 2), 2,
		 "window, length 2: num_queues");
	vp_window_write(d, VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
	check_eq(vp_window_read(d, VIRTIO_PCI_COMMON_DF, 4),
		 1U << VIRTIO_CONSOLE_F_EMERG_WRITE,
		 "window, length 4: device_feature 0-31");
	vp_window_write(d, VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
	check_eq(vp_window_read(d, VIRTIO_PCI_COMMON_DF, 4), 1,
		 "window, length 4: device_feature 32-63 (VERSION_1)");
	check_eq(pci_read8(d->slot, data), 1,
		 "pci_cfg_data read 8 bits at a time");
	check_eq(vp_window_read(d, 58, 1), 0, "window: ISR status");
	/*
	 * emerg_wr, a 32-bit field: the window is 4 bytes long, so the
	 * device writes 4 bytes of pci_cfg_data however wide the driver's
	 * access to it was (§4.1.4.7.1).
	 */
	vp_window_write(d, 60 + 8, 4, 'P');
	pci_write8(d->slot, data, 'C');
	pci_write16(d->slot, data, 'I');
	vp_window_write(d, 60 + 8, 4, '\n');
	vp_window_write(d, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	check_eq(vp_status(d), 0, "a reset through the window");
}

/*
 * Ports: 0x64 (the i8042's status: nothing pending) reads 1; every other
 * port nobody emulates reads all ones and swallows writes, in the imm8
 * and the %dx forms, 8, 16 and 32 bits.
 */
static void ports(void)
{
	static const u8 low[] = { 0x20, 0x60, 0x61, 0x70, 0x71, 0x80, 0x92,
				  0xed };
	static const u16 high[] = { 0x3f8, 0x3fd, 0x1f7, 0x4d0, 0xcf7, 0xd00,
				    0xffff };
	unsigned int i, bad = 0;

	check_eq(inb(0x64), 1, "inb(0x64)");
	check_eq(inw(0x64), 1, "inw(0x64)");
	check_eq(inl(0x64), 1, "inl(0x64)");
	check_eq(inb_imm(0x64), 1, "inb $0x64");
	check_eq(inw_imm(0x64), 1, "inw $0x64");
	check_eq(inl_imm(0x64), 1, "inl $0x64");
	for (i = 0; i < sizeof(low); i++) {
		bad += inb_imm(low[i]) != 0xff || inw_imm(low[i]) != 0xffff ||
		       inl_imm(low[i]) != ALL_ONES || inb(low[i]) != 0xff ||
		       inw(low[i]) != 0xffff || inl(low[i]) != ALL_ONES;
		outb_imm(0, low[i]);
		outw_imm(0, low[i]);
		outl_imm(0, low[i]);
		outb(0, low[i]);
	}
	for (i = 0; i < sizeof(high) / sizeof(high[0]); i++) {
		bad += inb(high[i]) != 0xff || inw(high[i]) != 0xffff ||
		       inl(high[i]) != ALL_ONES;
		outb(0x55, high[i]);
		outw(0x55aa, high[i]);
		outl(0x55aa55aa, high[i]);
	}
	check_eq(bad, 0, "other ports read all ones, every form and width");
	check(true, "writes to them are swallowed");
	cli();
	check(true, "cli is stepped over");
}

static void pci(void)
{
	read_devices();
	address_register();
	scan_bus();
	writes_taken(1);
	writes_taken(nslots - 1);
	writes_refused(1);
	writes_refused(nslots - 1);
	pci_cfg_window();
	ports();
}
SCENARIO(pci);

/*
 * The window pointed at 3 bytes: no access of the device's is 3 bytes
 * long, so reading or writing pci_cfg_data breaks §4.1.4.7.2 and the
 * launcher is to stop.  If it goes on, that is our failure.
 */
static void window_length_3(void)
{
	pci_write8(1, 0x84 + VIRTIO_PCI_CAP_BAR, 0);
	pci_write32(1, 0x84 + VIRTIO_PCI_CAP_OFFSET, VIRTIO_PCI_COMMON_STATUS);
	pci_write32(1, 0x84 + VIRTIO_PCI_CAP_LENGTH, 3);
}

static void pci_window_bad_read(void)
{
	window_length_3();
	pci_read32(1, 0x84 + 16);
	check(false, "the launcher went on after a read through a 3-byte "
	      "window; want a §4.1.4.7.2 stop");
}
SCENARIO(pci_window_bad_read);

static void pci_window_bad_write(void)
{
	u32 v = VIRTIO_CONFIG_S_ACKNOWLEDGE;
	int r;

	window_length_3();
	outl(conf_addr(0, 1, 0, 0x84 + 16), CONF_ADDR);
	r = port_io(false, 0xef, CONF_DATA, &v);
	check(false, "the launcher went on (%s) after a write through a "
	      "3-byte window; want a §4.1.4.7.2 stop",
	      r == TRAP_GP ? "with a #GP" : "emulating it");
}
SCENARIO(pci_window_bad_write);

/*
 * Without an MSI-X capability no event is mapped to a vector: both vector
 * fields read NO_VECTOR (§4.1.5.1.2.1), and reading them is no fault.
 */
static void msix_absent(void)
{
	struct vdev *d = vp_probe(1);
	u16 q;

	vp_init(d, 0);
	check_eq(vp_common16(d, VIRTIO_PCI_COMMON_MSIX), 0xffff,
		 "msix_config: VIRTIO_MSI_NO_VECTOR");
	for (q = 0; q < 2; q++) {
		writew(q, d->common + VIRTIO_PCI_COMMON_Q_SELECT);
		check_eq(vp_common16(d, VIRTIO_PCI_COMMON_Q_MSIX), 0xffff,
			 "queue_msix_vector: VIRTIO_MSI_NO_VECTOR");
	}
}
SCENARIO(msix_absent);
