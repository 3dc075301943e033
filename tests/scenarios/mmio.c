// SPDX-License-Identifier: GPL-2.0
/*
 * scenarios/mmio.c: every form of "mov" the launcher decodes when a guest
 * touches a device register.
 *
 * Linux's readb/readw/readl and writeb/writew/writel are single movs, but
 * the compiler picks the registers and the addressing: any general
 * register (for bytes, AL to BH, AH-BH being the second byte of EAX-EBX),
 * a base register with no, an 8-bit or a 32-bit displacement, a SIB byte,
 * or a bare 32-bit address.  We drive three registers of the console's
 * common configuration, one of each width, through all of them:
 *
 *	device_status (8 bits)		88 (store), 8a (load)
 *	queue_select (16 bits)		66 89, 66 8b
 *	device_feature_select (32 bits)	89, 8b
 *
 * mmio_mov() checks what the launcher did to the registers and EIP (the
 * instruction's exact length); we check the value went where it should.
 */
#define _GNU_SOURCE
#include <stdio.h>

#include <linux/virtio_pci.h>

#include "../virtio.h"

/* An addressing form: ModR/M mod and r/m, the SIB base, a displacement. */
struct form {
	u8 mod, rm, base;
	s32 disp;
};

#define MAX_FORMS 45
static struct form forms[MAX_FORMS];
static unsigned int nforms;

/* mod 0, 1 and 2; every r/m; with r/m 4, a SIB byte with every base. */
static void make_forms(void)
{
	static const s32 disp8[] = { -0x70, 0x44 };
	static const s32 disp32[] = { 0x12345678, -0x1000 };
	u8 mod, rm, base;

	for (mod = 0; mod < 3; mod++) {
		for (rm = 0; rm < 8; rm++) {
			for (base = 0; base < (rm == 4 ? 8 : 1); base++) {
				struct form *f = &forms[nforms++];

				f->mod = mod;
				f->rm = rm;
				f->base = base;
				f->disp = mod == 1 ? disp8[nforms % 2] :
					  mod == 2 ? disp32[nforms % 2] : 0;
			}
		}
	}
}

/* The register holding the address, or -1 for a bare disp32. */
static int base_of(const struct form *f)
{
	if (f->mod == 0 && (f->rm == 5 || (f->rm == 4 && f->base == 5)))
		return -1;
	return f->rm == 4 ? f->base : f->rm;
}

static const char *describe(const struct form *f)
{
	static char s[48];
	int base = base_of(f);

	if (base < 0)
		snprintf(s, sizeof(s), "mod 0 r/m %u%s: disp32 only", f->rm,
			 f->rm == 4 ? " SIB base 5" : "");
	else
		snprintf(s, sizeof(s), "mod %u r/m %u%s base %d disp %d",
			 f->mod, f->rm, f->rm == 4 ? " (SIB)" : "", base,
			 f->mod ? f->disp : 0);
	return s;
}

/* A register operand as the 32-bit register it lives in. */
static int value_reg(u8 width, u8 reg)
{
	return width == 1 && reg >= 4 ? reg - 4 : reg;
}

static const char *const reg_names[3][8] = {
	{ "al", "cl", "dl", "bl", "ah", "ch", "dh", "bh" },
	{ "ax", "cx", "dx", "bx", "sp", "bp", "si", "di" },
	{ "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi" },
};

/* One of the three registers we drive, and how to use it. */
struct field {
	const char *name;
	unsigned int off, width;
	u32 first;		/* values used: first, first + 1, ... */
};

static struct vdev *dev;

static u32 plain_read(const struct field *fl)
{
	u64 at = dev->common + fl->off;

	return fl->width == 1 ? readb(at) : fl->width == 2 ? readw(at) :
					   readl(at);
}

static void plain_write(const struct field *fl, u32 v)
{
	u64 at = dev->common + fl->off;

	if (fl->width == 1)
		writeb((u8)v, at);
	else if (fl->width == 2)
		writew((u16)v, at);
	else
		writel(v, at);
}

static int mov(const struct field *fl, bool load, u8 reg,
	       const struct form *f, u32 *value)
{
	struct mov_insn m = {
		.prefix66 = fl->width == 2,
		.opcode = (u8)((fl->width == 1 ? 0x88 : 0x89) | (load ? 2 : 0)),
		.reg = reg,
		.mod = f->mod,
		.rm = f->rm,
		.sib_base = f->base,
		.disp = f->disp,
	};

	return mmio_mov(&m, dev->common + fl->off, value);
}

/*
 * device_status only takes the initialization sequence: before each
 * store, a reset; the store is ACKNOWLEDGE.  The others take anything.
 */
static u32 store_value(const struct field *fl, unsigned int k)
{
	if (fl->off == VIRTIO_PCI_COMMON_STATUS) {
		plain_write(fl, 0);
		return VIRTIO_CONFIG_S_ACKNOWLEDGE;
	}
	return fl->first + k;
}

/* Is this one access wrong?  Store through the form, or load through it. */
static bool wrong(const struct field *fl, bool load, u8 reg,
		  const struct form *f, unsigned int k)
{
	u32 v, got = 0;

	if (!load) {
		v = store_value(fl, k);
		return mov(fl, false, reg, f, &v) != INSN_EMULATED ||
		       plain_read(fl) != v;
	}
	if (fl->off == VIRTIO_PCI_COMMON_STATUS) {
		v = plain_read(fl);
	} else {
		v = fl->first + k;
		plain_write(fl, v);
	}
	return mov(fl, true, reg, f, &got) != INSN_EMULATED || got != v;
}

/* Every addressing form with one register; one check says how it went. */
static void every_form(const struct field *fl, bool load, u8 reg)
{
	const char *name = reg_names[fl->width / 2][reg];
	unsigned int i, tried = 0, bad = 0;
	const struct form *first_bad = NULL;

	for (i = 0; i < nforms; i++) {
		/* A store cannot use its value's register as the address. */
		if (!load && base_of(&forms[i]) == value_reg(fl->width, reg))
			continue;
		tried++;
		if (wrong(fl, load, reg, &forms[i], i)) {
			bad++;
			if (!first_bad)
				first_bad = &forms[i];
		}
	}
	check(!bad, "%s %s %s %s, %u forms: %u wrong%s%s",
	      load ? "load of" : "store to", fl->name, load ? "into" : "from",
	      name, tried, bad, first_bad ? ", first " : "",
	      first_bad ? describe(first_bad) : "");
}

static void every_register(const struct field *fl)
{
	u8 reg;

	for (reg = 0; reg < 8; reg++) {
		every_form(fl, false, reg);
		every_form(fl, true, reg);
	}
}

static void mmio_encodings(void)
{
	static const struct field status = { "device_status",
					     VIRTIO_PCI_COMMON_STATUS, 1, 0 };
	static const struct field select = { "queue_select",
					     VIRTIO_PCI_COMMON_Q_SELECT, 2,
					     0x1200 };
	static const struct field dfselect = { "device_feature_select",
					       VIRTIO_PCI_COMMON_DFSELECT, 4,
					       0xfe010000 };

	make_forms();
	dev = vp_probe(1);
	vp_reset(dev);
	every_register(&status);
	/* Reading queue_select and writing feature selects need DRIVER. */
	plain_write(&status, 0);
	plain_write(&status, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	plain_write(&status,
		    VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	every_register(&select);
	every_register(&dfselect);
}
SCENARIO(mmio_encodings);
