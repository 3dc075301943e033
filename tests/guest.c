// SPDX-License-Identifier: GPL-2.0
/*
 * guest.c: the scripted guest's CPU, bus and bookkeeping.
 *
 * A real lguest guest is a Linux kernel running in ring 1.  When its
 * drivers touch hardware, one of two things happens: an "in" or "out"
 * raises a general protection fault (ring 1 has no I/O permission), or a
 * "mov" to a device register page-faults, because the host never maps the
 * MMIO window above RAM.  Either way the host stops the guest and the
 * launcher's read() of /dev/lguest returns the trap with the faulting
 * instruction's bytes; the launcher decodes them, emulates the device,
 * writes the result into the guest's registers and moves EIP past the
 * instruction.
 *
 * Here each such instruction is built byte for byte, the guest's registers
 * are set as the real instruction would find them, and the trap goes to
 * the launcher.  When it reads us again, we look at what it did to the
 * registers, which is all a CPU would have seen.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <asm/bootparam.h>

#include "lgstub.h"

/* Every SCENARIO() lands in this section; the linker brackets it. */
extern const struct scenario __start_lgstub_scenarios[] __attribute__((weak));
extern const struct scenario __stop_lgstub_scenarios[] __attribute__((weak));

/* The ModR/M register numbers, as pt_regs offsets. */
static const enum pt_reg modrm_regs[8] = {
	PT_EAX, PT_ECX, PT_EDX, PT_EBX, PT_ESP, PT_EBP, PT_ESI, PT_EDI,
};

static const char *const reg_names[PT_REGS_WORDS] = {
	"ebx", "ecx", "edx", "esi", "edi", "ebp", "eax", "ds", "es", "fs",
	"gs", "orig_eax", "eip", "cs", "eflags", "esp", "ss",
};

#define REG(r) lg_cpu.regs[(r) / 4]

/*
 * The outcome.
 */
static struct {
	unsigned int checks, failed;
	char first_failure[256];
} tally;

static void tap_line(const char *fmt, ...) __printf(1, 2);
static void tap_line(const char *fmt, ...)
{
	const char *path = getenv("LGSTUB_TAP");
	const char *verbose = getenv("LGSTUB_VERBOSE");
	char line[600];
	va_list ap;
	int fd, n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';

	if (verbose && *verbose)
		dprintf(2, "lgstub: %.*s", n, line);
	if (!path || !*path)
		return;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write(fd, line, (size_t)n) != n)
		dprintf(2, "lgstub: short write to %s\n", path);
	close(fd);
}

static void record(bool ok, const char *msg)
{
	tally.checks++;
	if (!ok && !tally.failed++)
		snprintf(tally.first_failure, sizeof(tally.first_failure),
			 "%.*s", (int)sizeof(tally.first_failure) - 1, msg);
	tap_line("%s %u - %s", ok ? "ok" : "not ok", tally.checks, msg);
}

bool check(bool cond, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	record(cond, msg);
	return cond;
}

/*
 * A failure found by the machinery itself (the launcher moved EIP wrongly,
 * say).  Its successes are not counted: "passed N checks" is the
 * scenario's N.
 */
static void fault(const char *fmt, ...) __printf(1, 2);
static void fault(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	record(false, msg);
}

/* Anything the host noticed the launcher doing wrong since we last ran. */
static void take_complaints(void)
{
	const char *c = host_complaint();

	if (c)
		fault("launcher: %s", c);
}

void guest_note(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tap_line("# %s", msg);
}

void guest_done(void)
{
	char reason[512];

	take_complaints();
	if (tally.failed)
		snprintf(reason, sizeof(reason),
			 "guest: FAILED: %s (%u of %u checks failed)",
			 tally.first_failure, tally.failed, tally.checks);
	else
		snprintf(reason, sizeof(reason), "guest: passed %u checks",
			 tally.checks);
	host_die(reason);
}

void guest_fail(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	record(false, msg);
	guest_done();
}

/*
 * A reboot forgets everything, so a guest that has already failed dies
 * with its failure instead: the launcher would otherwise never print it.
 */
void guest_reboot(void)
{
	take_complaints();
	if (tally.failed)
		guest_done();
	guest_note("boot %u: rebooting after %u checks", lg_cpu.info.boot,
		   tally.checks);
	host_reboot();
}

const struct guest_boot *guest_boot(void)
{
	return &lg_cpu.info;
}

static int reg_word(enum pt_reg reg)
{
	if (reg % 4 || reg / 4 >= PT_REGS_WORDS)
		guest_fail("no register at pt_regs offset %d", (int)reg);
	return reg / 4;
}

u32 guest_getreg(enum pt_reg reg)
{
	return lg_cpu.regs[reg_word(reg)];
}

void guest_setreg(enum pt_reg reg, u32 value)
{
	lg_cpu.regs[reg_word(reg)] = value;
}

/*
 * What a register holds when the code we play does not care: something
 * the launcher must not confuse with a value it put there.
 */
static u32 junk(void)
{
	static u32 x = 0x4c475354;	/* "LGST" */

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return x;
}

static u32 width_mask(unsigned int width)
{
	return width == 4 ? 0xffffffff : (1U << (8 * width)) - 1;
}

static char width_suffix(unsigned int width)
{
	return width == 1 ? 'b' : width == 2 ? 'w' : 'l';
}

/*
 * The CPU.
 *
 * An instruction that traps, and what the launcher must do for it: move
 * EIP past it, change the bits in mask of register dest (none if dest is
 * -1), and nothing else.
 */
struct effect {
	char what[96];
	int dest;
	u32 mask;
};

static void describe(struct effect *e, const u8 *bytes, unsigned int len,
		     const char *fmt, ...) __printf(4, 5);
static void describe(struct effect *e, const u8 *bytes, unsigned int len,
		     const char *fmt, ...)
{
	size_t n;
	va_list ap;
	unsigned int i;

	va_start(ap, fmt);
	n = (size_t)vsnprintf(e->what, sizeof(e->what), fmt, ap);
	va_end(ap);
	for (i = 0; i < len && n + 4 < sizeof(e->what); i++)
		n += (size_t)snprintf(e->what + n, sizeof(e->what) - n,
				      i ? " %02x" : " [%02x", bytes[i]);
	if (n + 2 < sizeof(e->what))
		snprintf(e->what + n, sizeof(e->what) - n, "]");
}

/* Every register but EIP is as before, except dest's bits in mask. */
static void expect_registers(const u32 *before, const struct effect *e)
{
	int i;

	for (i = 0; i < PT_REGS_WORDS; i++) {
		u32 may = i == e->dest ? e->mask : 0;
		u32 now = lg_cpu.regs[i];

		if (i == PT_EIP / 4 || !((now ^ before[i]) & ~may))
			continue;
		fault("%s at %#x: launcher changed %s from %#x to %#x%s",
		      e->what, before[PT_EIP / 4], reg_names[i], before[i],
		      now, may ? " (outside the bytes it may change)" : "");
	}
}

/*
 * Execute one trapping instruction.  Returns INSN_EMULATED, or the trap
 * the launcher handed back.  Either way the guest goes on after it: real
 * lguest guest code would have its fault handler skip it.
 */
static int execute(u8 trap, const u8 *bytes, unsigned int len, u32 addr,
		   const struct effect *e)
{
	static const struct effect untouched = { .dest = -1 };
	u32 before[PT_REGS_WORDS];
	u8 insn[7];
	u32 eip, want;
	int handed;

	/* What follows the instruction in memory: not part of it. */
	memset(insn, 0xcc, sizeof(insn));
	memcpy(insn, bytes, len < sizeof(insn) ? len : sizeof(insn));
	memcpy(before, lg_cpu.regs, sizeof(before));
	eip = before[PT_EIP / 4];

	handed = host_trap(trap, insn, addr);
	take_complaints();
	expect_registers(before, handed < 0 ? e : &untouched);

	want = handed < 0 ? eip + len : eip;
	if (REG(PT_EIP) != want)
		fault("%s at %#x: launcher %s EIP to %#x, not %#x", e->what,
		      eip, handed < 0 ? "emulated it and moved" :
		      "handed it back but moved", REG(PT_EIP), want);
	if (handed >= 0 && handed != trap)
		fault("%s at %#x: launcher handed back trap %d for trap %u",
		      e->what, eip, handed, trap);
	REG(PT_EIP) = eip + len;
	return handed < 0 ? INSN_EMULATED : handed;
}

int raw_trap(u8 trap, const u8 *bytes, unsigned int len, u32 addr,
	     u32 *advance)
{
	struct effect e = { .dest = -1 };
	u32 before[PT_REGS_WORDS];
	u8 insn[7];
	u32 eip = REG(PT_EIP);
	int handed;

	memset(insn, 0xcc, sizeof(insn));
	memcpy(insn, bytes, len < sizeof(insn) ? len : sizeof(insn));
	memcpy(before, lg_cpu.regs, sizeof(before));
	handed = host_trap(trap, insn, addr);
	take_complaints();
	if (handed >= 0) {
		/* A fault handed back: the CPU state is the guest's. */
		describe(&e, bytes, len, "trap %u", trap);
		expect_registers(before, &e);
		if (REG(PT_EIP) != eip)
			fault("%s at %#x: launcher handed it back but moved "
			      "EIP to %#x", e.what, eip, REG(PT_EIP));
		REG(PT_EIP) = eip + len;
		return handed;
	}
	if (advance)
		*advance = REG(PT_EIP) - eip;
	return INSN_EMULATED;
}

/*
 * Port I/O.  The opcode says it all: bit 0 clear is a byte access, bit 1
 * set is "out", bit 3 set takes the port from %dx instead of an imm8.
 */
int port_io(bool prefix66, u8 opcode, u16 port, u32 *value)
{
	bool imm = !(opcode & 0x08), in = !(opcode & 0x02);
	unsigned int width = !(opcode & 1) ? 1 : prefix66 ? 2 : 4;
	u32 mask = width_mask(width);
	struct effect e = { .dest = in ? PT_EAX / 4 : -1, .mask = mask };
	u8 bytes[3];
	unsigned int len = 0;
	int r;

	if ((opcode & 0xf4) != 0xe4)
		guest_fail("port_io: %#x is not an in or out opcode", opcode);
	if (imm && port > 0xff)
		guest_fail("port_io: port %#x does not fit an imm8", port);

	if (prefix66)
		bytes[len++] = 0x66;
	bytes[len++] = opcode;
	if (imm)
		bytes[len++] = (u8)port;
	else
		REG(PT_EDX) = junk() << 16 | port;

	if (in) {
		REG(PT_EAX) = junk();
		describe(&e, bytes, len, "in%c(%#x)", width_suffix(width),
			 port);
	} else {
		REG(PT_EAX) = (junk() & ~mask) | (*value & mask);
		describe(&e, bytes, len, "out%c(%#x, %#x)",
			 width_suffix(width), *value & mask, port);
	}

	r = execute(13, bytes, len, 0, &e);
	if (r == INSN_EMULATED && in)
		*value = REG(PT_EAX) & mask;
	return r;
}

/* The helpers: a fault handed back is a failure, and reads as all-ones. */
static u32 pio(bool prefix66, u8 opcode, u16 port, u32 value)
{
	int r = port_io(prefix66, opcode, port, &value);

	if (r == INSN_EMULATED)
		return value;
	fault("%s port %#x: launcher handed back trap %d",
	      opcode & 0x02 ? "out to" : "in from", port, r);
	return 0xffffffff;
}

u8 inb(u16 port) { return (u8)pio(false, 0xec, port, 0); }
u16 inw(u16 port) { return (u16)pio(true, 0xed, port, 0); }
u32 inl(u16 port) { return pio(false, 0xed, port, 0); }
void outb(u8 value, u16 port) { pio(false, 0xee, port, value); }
void outw(u16 value, u16 port) { pio(true, 0xef, port, value); }
void outl(u32 value, u16 port) { pio(false, 0xef, port, value); }
u8 inb_imm(u8 port) { return (u8)pio(false, 0xe4, port, 0); }
u16 inw_imm(u8 port) { return (u16)pio(true, 0xe5, port, 0); }
u32 inl_imm(u8 port) { return pio(false, 0xe5, port, 0); }
void outb_imm(u8 value, u8 port) { pio(false, 0xe6, port, value); }
void outw_imm(u16 value, u8 port) { pio(true, 0xe7, port, value); }
void outl_imm(u32 value, u8 port) { pio(false, 0xe7, port, value); }

/*
 * cli: Linux's early boot code disables interrupts with it here and there,
 * and under lguest it faults; the launcher steps over it.
 */
void cli(void)
{
	static const u8 insn[] = { 0xfa };
	struct effect e = { .dest = -1 };
	int r;

	describe(&e, insn, sizeof(insn), "cli");
	r = execute(13, insn, sizeof(insn), 0, &e);
	if (r != INSN_EMULATED)
		fault("cli: launcher handed back trap %d", r);
}

/*
 * PCI configuration mechanism #1, as arch/x86/pci/direct.c does it.
 */
#define PCI_CONF_ADDR 0xcf8
#define PCI_CONF_DATA 0xcfc

static u16 pci_select(unsigned int slot, unsigned int off)
{
	if (slot > 31 || off > 255)
		guest_fail("no PCI config register %u of slot %u", off, slot);
	outl(0x80000000U | slot << 11 | (off & 0xfc), PCI_CONF_ADDR);
	return (u16)(PCI_CONF_DATA + (off & 3));
}

u8 pci_read8(unsigned int slot, unsigned int off)
{
	return inb(pci_select(slot, off));
}

u16 pci_read16(unsigned int slot, unsigned int off)
{
	return inw(pci_select(slot, off));
}

u32 pci_read32(unsigned int slot, unsigned int off)
{
	return inl(pci_select(slot, off));
}

void pci_write8(unsigned int slot, unsigned int off, u8 value)
{
	outb(value, pci_select(slot, off));
}

void pci_write16(unsigned int slot, unsigned int off, u16 value)
{
	outw(value, pci_select(slot, off));
}

void pci_write32(unsigned int slot, unsigned int off, u32 value)
{
	outl(value, pci_select(slot, off));
}

/*
 * Memory.
 */
static u64 ram_size(void)
{
	return (u64)lg_cpu.info.pfn_limit * PAGE_SIZE;
}

void *phys(u64 gpa, size_t len)
{
	if (gpa > ram_size() || len > ram_size() - gpa)
		guest_fail("guest-physical %#llx (+%zu) is outside RAM "
			   "(%#llx bytes)", (unsigned long long)gpa, len,
			   (unsigned long long)ram_size());
	return (u8 *)lg_cpu.info.base + gpa;
}

bool find_mapping(uintptr_t addr, struct mapping *m)
{
	FILE *maps = fopen("/proc/self/maps", "re");
	char *line = NULL;
	size_t cap = 0;
	bool found = false;

	if (!maps)
		guest_fail("cannot read /proc/self/maps");
	while (!found && getline(&line, &cap, maps) > 0) {
		unsigned long long start, end;
		char perms[5];

		if (sscanf(line, "%llx-%llx %4s", &start, &end, perms) != 3)
			continue;
		if (addr < start || addr >= end)
			continue;
		m->start = (uintptr_t)start;
		m->end = (uintptr_t)end;
		memcpy(m->perms, perms, sizeof(perms));
		found = true;
	}
	free(line);
	fclose(maps);
	return found;
}

/*
 * The real host reads guest memory through the launcher's mapping and
 * kills the guest if it cannot.  We look once, before the scenario runs,
 * so that a bad mapping is a message and not a crash.
 */
static void check_ram_mapped(void)
{
	uintptr_t base = (uintptr_t)lg_cpu.info.base;
	uintptr_t addr = base, end = base + (uintptr_t)ram_size();
	struct mapping m;

	while (addr < end) {
		if (!find_mapping(addr, &m))
			guest_fail("guest RAM at %#llx (launcher address %p) "
				   "is not mapped",
				   (unsigned long long)(addr - base),
				   (void *)addr);
		if (m.perms[0] != 'r' || m.perms[1] != 'w')
			guest_fail("guest RAM at %#llx (launcher address %p) "
				   "is mapped %s, not read-write",
				   (unsigned long long)(addr - base),
				   (void *)addr, m.perms);
		addr = m.end;
	}
}

/*
 * phys_alloc()'s region; see guest.h.
 */
static struct {
	u64 next, end;
	bool ready;
} pool;

void phys_alloc_region(u64 lo, u64 hi)
{
	if (lo >= hi || hi > ram_size())
		guest_fail("phys_alloc region [%#llx, %#llx) is not inside "
			   "RAM", (unsigned long long)lo,
			   (unsigned long long)hi);
	pool.next = lo;
	pool.end = hi;
	pool.ready = true;
}

static void pool_init(void)
{
	const struct boot_params *boot = phys(0, sizeof(*boot));
	const char *env = getenv("LGSTUB_ALLOC");
	unsigned long long lo = 8, hi;
	u64 top = ram_size() - 2 * MIB;

	if (env && *env) {
		if (sscanf(env, "%llu-%llu", &lo, &hi) != 2)
			guest_fail("LGSTUB_ALLOC=%s is not <lo>-<hi> in MiB",
				   env);
		phys_alloc_region(lo * MIB, hi * MIB);
		return;
	}
	if (boot->hdr.ramdisk_size && boot->hdr.ramdisk_image < top)
		top = boot->hdr.ramdisk_image & ~(PAGE_SIZE - 1);
	phys_alloc_region(lo * MIB, top);
}

static bool all_zero(const u8 *p, size_t len)
{
	return !len || (!p[0] && !memcmp(p, p + 1, len - 1));
}

u64 phys_alloc(size_t len, size_t align)
{
	u64 addr;

	if (!pool.ready)
		pool_init();
	if (!align)
		align = 1;
	if (align & (align - 1))
		guest_fail("phys_alloc: alignment %zu is not a power of 2",
			   align);

	addr = (pool.next + align - 1) & ~(u64)(align - 1);
	if (addr > pool.end || len > pool.end - addr)
		guest_fail("phys_alloc: no room for %zu bytes in [%#llx, "
			   "%#llx)", len, (unsigned long long)pool.next,
			   (unsigned long long)pool.end);
	if (!all_zero(phys(addr, len), len))
		guest_fail("phys_alloc: [%#llx, %#llx) is not free (does the "
			   "kernel or initrd reach there?)",
			   (unsigned long long)addr,
			   (unsigned long long)(addr + len));
	pool.next = addr + len;
	return addr;
}

/*
 * MMIO.  The host never maps [pfn_limit, device_limit): a mov there
 * page-faults and reaches the launcher as trap 14 with the guest-physical
 * address.  In RAM the same mov just works.
 */
static bool in_ram(u64 gpa, unsigned int width)
{
	return gpa + width <= ram_size();
}

static bool in_mmio_window(u64 gpa, unsigned int width)
{
	return gpa >= ram_size() &&
	       gpa + width <= (u64)lg_cpu.info.device_limit * PAGE_SIZE;
}

/* Where the guest's ioremap() would have put it: any kernel address. */
static u32 ioremap(u64 gpa)
{
	return 0xf8000000U + (u32)(gpa - ram_size());
}

static void ram_access(bool load, u64 gpa, unsigned int width, u32 *value)
{
	u8 *p = phys(gpa, width);

	if (load) {
		*value = 0;
		memcpy(value, p, width);
	} else {
		memcpy(p, value, width);
	}
}

/*
 * Lay out the instruction: [66] opcode modrm [sib] [disp].  Returns its
 * length, and which register (ModR/M number) holds the address, or -1
 * for a bare disp32, whose displacement is then the address itself.
 */
static unsigned int encode_mov(const struct mov_insn *m, u32 vaddr,
			       u8 *bytes, int *base)
{
	bool no_base = m->mod == 0 &&
		       (m->rm == 5 || (m->rm == 4 && m->sib_base == 5));
	s32 disp = m->mod == 1 ? (s32)(int8_t)m->disp : m->disp;
	unsigned int len = 0;

	if (m->prefix66)
		bytes[len++] = 0x66;
	bytes[len++] = m->opcode;
	bytes[len++] = (u8)(m->mod << 6 | m->reg << 3 | m->rm);
	if (m->rm == 4)
		bytes[len++] = 0x20 | m->sib_base;	/* no index */

	*base = no_base ? -1 : m->rm == 4 ? m->sib_base : m->rm;
	if (no_base)
		disp = (s32)vaddr;
	else if (m->mod == 0)
		disp = 0;

	if (m->mod == 1) {
		bytes[len++] = (u8)disp;
	} else if (m->mod == 2 || no_base) {
		memcpy(bytes + len, &disp, 4);
		len += 4;
	}
	if (*base >= 0)
		REG(modrm_regs[*base]) = vaddr - (u32)disp;
	return len;
}

int mmio_mov(const struct mov_insn *m, u64 gpa, u32 *value)
{
	bool byte = !(m->opcode & 1), load = m->opcode & 2;
	unsigned int width = byte ? 1 : m->prefix66 ? 2 : 4;
	unsigned int reg = m->reg, shift = 0, len;
	struct effect e = { .dest = -1 };
	u32 mask, *r;
	u8 bytes[8];
	int base, ret;

	if ((m->opcode & 0xfc) != 0x88 || m->reg > 7 || m->mod > 2 ||
	    m->rm > 7 || m->sib_base > 7)
		guest_fail("mmio_mov: no such mov (opcode %#x reg %u mod %u "
			   "rm %u base %u)", m->opcode, m->reg, m->mod, m->rm,
			   m->sib_base);
	if (in_ram(gpa, width)) {
		ram_access(load, gpa, width, value);
		return INSN_EMULATED;
	}
	if (!in_mmio_window(gpa, width))
		guest_fail("MMIO at %#llx is past device_limit (%#lx pages): "
			   "a real guest would oops there",
			   (unsigned long long)gpa, lg_cpu.info.device_limit);

	/* In byte operations, registers 4-7 are AH, CH, DH and BH. */
	if (byte && reg >= 4) {
		reg -= 4;
		shift = 8;
	}
	mask = width_mask(width) << shift;
	r = &REG(modrm_regs[reg]);

	len = encode_mov(m, ioremap(gpa), bytes, &base);
	if (!load && base == (int)reg)
		guest_fail("mmio_mov: %s holds both address and value",
			   reg_names[modrm_regs[reg] / 4]);
	if (!load)
		*r = (junk() & ~mask) | ((*value << shift) & mask);
	else if (base != (int)reg)
		*r = junk();

	if (load) {
		e.dest = modrm_regs[reg] / 4;
		e.mask = mask;
	}
	describe(&e, bytes, len, "%s%c(%#llx)", load ? "read" : "write",
		 width_suffix(width), (unsigned long long)gpa);
	ret = execute(14, bytes, len, (u32)gpa, &e);
	if (ret == INSN_EMULATED && load)
		*value = (*r & mask) >> shift;
	return ret;
}

/* Linux's accessors: loads into %eax through (%eax), stores via (%edx). */
static u32 mmio(bool prefix66, u8 opcode, u8 rm, u64 gpa, u32 value)
{
	struct mov_insn m = { .prefix66 = prefix66, .opcode = opcode,
			      .rm = rm };
	int r = mmio_mov(&m, gpa, &value);

	if (r == INSN_EMULATED)
		return value;
	fault("MMIO %s %#llx: launcher handed back trap %d",
	      opcode & 2 ? "read of" : "write to", (unsigned long long)gpa, r);
	return 0xffffffff;
}

u8 readb(u64 gpa) { return (u8)mmio(false, 0x8a, 0, gpa, 0); }
u16 readw(u64 gpa) { return (u16)mmio(true, 0x8b, 0, gpa, 0); }
u32 readl(u64 gpa) { return mmio(false, 0x8b, 0, gpa, 0); }
void writeb(u8 value, u64 gpa) { mmio(false, 0x88, 2, gpa, value); }
void writew(u16 value, u64 gpa) { mmio(true, 0x89, 2, gpa, value); }
void writel(u32 value, u64 gpa) { mmio(false, 0x89, 2, gpa, value); }

/*
 * Interrupts.
 */
bool irq_seen(unsigned int line)
{
	if (line >= LGUEST_IRQS)
		guest_fail("there is no interrupt line %u", line);
	return host_irq_ack(line);
}

bool irq_wait(unsigned int line, unsigned int timeout_ms)
{
	if (irq_seen(line))
		return true;
	host_halt(line, timeout_ms);
	take_complaints();
	return host_irq_ack(line);
}

/*
 * The guest's life: find the scenario, run it, die with the verdict.
 */
static const struct scenario *find_scenario(const char *name)
{
	const struct scenario *s;

	for (s = __start_lgstub_scenarios; s < __stop_lgstub_scenarios; s++) {
		if (name && strcmp(s->name, name) == 0)
			return s;
	}
	return NULL;
}

static void __noreturn no_such_scenario(const char *name)
{
	char known[256] = "";
	const struct scenario *s;
	size_t n = 0;

	for (s = __start_lgstub_scenarios; s < __stop_lgstub_scenarios; s++) {
		if (n + strlen(s->name) + 2 > sizeof(known))
			break;
		n += (size_t)sprintf(known + n, " %s", s->name);
	}
	if (!name)
		guest_fail("LGSTUB_SCENARIO is not set (scenarios:%s)", known);
	guest_fail("no scenario named '%s' (scenarios:%s)", name, known);
}

void guest_main(void)
{
	const char *name = getenv("LGSTUB_SCENARIO");
	const struct scenario *s = find_scenario(name);

	guest_note("boot %u: scenario %s", lg_cpu.info.boot,
		   name ? name : "(none)");
	if (!s)
		no_such_scenario(name);
	check_ram_mapped();
	s->run();
	guest_done();
}
