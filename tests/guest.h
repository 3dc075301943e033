/* SPDX-License-Identifier: GPL-2.0 */
/*
 * guest.h: how a test scenario plays the lguest guest.
 *
 * Under the test suite /dev/lguest is a stand-in (lgstub.so, loaded with
 * LD_PRELOAD), and the "guest" it runs is not a kernel but a scenario: a C
 * function that talks to the launcher's devices the way a Linux driver
 * would, one trapping instruction at a time.  A scenario reads like this:
 *
 *	static void console_is_there(void)
 *	{
 *		check(pci_read16(1, PCI_VENDOR_ID) == 0x1af4,
 *		      "slot 1 is a virtio device");
 *	}
 *	SCENARIO(console_is_there);
 *
 * and runs when LGSTUB_SCENARIO=console_is_there.  Each accessor below
 * encodes the very instruction bytes Linux's own accessor compiles to,
 * traps to the launcher exactly as real lguest would (#GP for in/out, a page
 * fault in the MMIO window for mov), and, when the launcher has emulated it,
 * checks that the launcher did what the CPU would have done: EIP moved past
 * the instruction by its exact length, the destination register changed in
 * the bytes of the access width only, no other register changed.  These
 * checks of the machinery's own count only when they fail.
 *
 * When the scenario returns (or calls guest_done()), the guest dies with the
 * reason "guest: passed N checks" or "guest: FAILED: <first failure> (N of M
 * checks failed)"; the launcher prints that as "lguest: <reason>" and exits
 * with status 1, which is what lguest does whenever its guest dies.
 *
 * Environment the stand-in reads (the test sets it):
 *	LGSTUB_SCENARIO=<name>	which scenario plays the guest
 *	LGSTUB_TAP=<path>	append one TAP line per check to <path>
 *	LGSTUB_VERBOSE=1	echo every check to stderr as well
 *	LGSTUB_OPEN_ERRNO=<n>	make open("/dev/lguest") fail with errno n
 *	LGSTUB_MMAP_MAX=<bytes>	make a larger mmap() fail with ENOMEM
 *	LGSTUB_EXEC_ERRNO=<n>	make fexecve() and execv() (a reboot) fail
 *	LGSTUB_ALLOC=<lo>-<hi>	phys_alloc()'s region, in MiB (see below)
 *	LGSTUB_BOOT		set by the stand-in itself: the boot count
 *
 * Everything here runs in the launcher's main task, inside its read() of
 * /dev/lguest, on a stack of its own: stdio and malloc are fine.
 */
#ifndef LGSTUB_GUEST_H
#define LGSTUB_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int32_t s32;

#define __printf(a, b) __attribute__((format(printf, a, b)))
#define __noreturn __attribute__((noreturn))

#define KIB 1024ULL
#define MIB (1024ULL * KIB)
#define PAGE_SIZE 4096ULL

/*
 * The registers, named by their offset in the i386 struct pt_regs: the
 * numbers LHREQ_GETREG and LHREQ_SETREG take.
 */
enum pt_reg {
	PT_EBX = 0, PT_ECX = 4, PT_EDX = 8, PT_ESI = 12, PT_EDI = 16,
	PT_EBP = 20, PT_EAX = 24, PT_DS = 28, PT_ES = 32, PT_FS = 36,
	PT_GS = 40, PT_ORIG_EAX = 44, PT_EIP = 48, PT_CS = 52,
	PT_EFLAGS = 56, PT_ESP = 60, PT_SS = 64,
};

/* The guest's registers, as the launcher would see them with GETREG. */
u32 guest_getreg(enum pt_reg reg);
/* Change one, as guest code could (e.g. CS to pretend to be in ring 3). */
void guest_setreg(enum pt_reg reg, u32 value);

/*
 * What the guest was told by LHREQ_INITIALIZE, and which boot this is:
 * 1 the first time, 2 after the launcher re-ran itself for a reboot, ...
 */
struct guest_boot {
	void *base;		/* launcher address of guest-physical 0 */
	unsigned long pfn_limit;	/* pages of RAM */
	unsigned long start;		/* first EIP */
	unsigned long device_limit;	/* end of the MMIO window, in pages */
	unsigned int boot;
};
const struct guest_boot *guest_boot(void);

/*
 * Port I/O, as in <asm/io.h>: the port goes in %dx (upper half of %edx
 * holding junk, as it may in real code), the value in %al/%ax/%eax.
 * The _imm forms are the imm8 encodings, for ports below 256.
 */
u8 inb(u16 port);
u16 inw(u16 port);
u32 inl(u16 port);
void outb(u8 value, u16 port);
void outw(u16 value, u16 port);
void outl(u32 value, u16 port);
u8 inb_imm(u8 port);
u16 inw_imm(u8 port);
u32 inl_imm(u8 port);
void outb_imm(u8 value, u8 port);
void outw_imm(u16 value, u8 port);
void outl_imm(u32 value, u8 port);

/*
 * The low-level port access: opcode is one of e4 e5 e6 e7 (imm8 port) or
 * ec ed ee ef (port in %dx), with an optional 0x66 operand-size prefix.
 * For an "in", *value receives what arrived in the register; for an "out"
 * it is what is sent.  Returns INSN_EMULATED when the launcher emulated the
 * instruction (already checked as described above), or the trap number the
 * launcher handed back with LHREQ_TRAP, EIP untouched (also checked; the
 * guest's own fault handler then steps over the instruction).  The helpers
 * above count a handed-back fault as a failure; tests of hand-back call
 * this directly.
 */
#define INSN_EMULATED (-1)
int port_io(bool prefix66, u8 opcode, u16 port, u32 *value);

/* "cli": a #GP under lguest, which the launcher is to step over. */
void cli(void);

/*
 * Any other instruction that traps: its bytes (up to 7 reach the launcher,
 * as with real lguest), the trap (13 or 14) and, for 14, the address.
 * Returns the trap handed back (the registers, EIP included, checked to be
 * untouched), or INSN_EMULATED with *advance set to how far the launcher
 * moved EIP.  No other check is made.
 */
int raw_trap(u8 trap, const u8 *bytes, unsigned int len, u32 addr,
	     u32 *advance);

/*
 * PCI configuration mechanism #1 on bus 0, function 0: the address goes
 * to 0xcf8, the data through 0xcfc + (offset & 3) with the access width.
 */
u8 pci_read8(unsigned int slot, unsigned int off);
u16 pci_read16(unsigned int slot, unsigned int off);
u32 pci_read32(unsigned int slot, unsigned int off);
void pci_write8(unsigned int slot, unsigned int off, u8 value);
void pci_write16(unsigned int slot, unsigned int off, u16 value);
void pci_write32(unsigned int slot, unsigned int off, u32 value);

/*
 * MMIO, at a guest-physical address: inside the MMIO window [pfn_limit,
 * device_limit) these fault to the launcher (trap 14) with the bytes of
 * Linux's readb/readw/readl and writeb/writew/writel; inside RAM they are
 * plain memory accesses, as they would be on real lguest.
 */
u8 readb(u64 gpa);
u16 readw(u64 gpa);
u32 readl(u64 gpa);
void writeb(u8 value, u64 gpa);
void writew(u16 value, u64 gpa);
void writel(u32 value, u64 gpa);

/*
 * Any mov between a register and memory the launcher is meant to decode:
 *	opcode 0x88 (byte store), 0x89 (store), 0x8a (byte load), 0x8b (load)
 *	prefix66 16-bit operand (with 0x89/0x8b)
 *	reg	ModR/M reg: eax ecx edx ebx esp ebp esi edi, or for byte
 *		operations al cl dl bl ah ch dh bh
 *	mod	0 (no displacement), 1 (disp8), 2 (disp32)
 *	rm	the base register; 4 adds a SIB byte (no index, base sib_base),
 *		and rm 5 (or sib_base 5) with mod 0 is a bare disp32
 *	disp	the displacement (truncated to 8 bits for mod 1)
 * Returns like port_io(); *value is loaded or stored.
 */
struct mov_insn {
	bool prefix66;
	u8 opcode;
	u8 reg, mod, rm, sib_base;
	s32 disp;
};
int mmio_mov(const struct mov_insn *insn, u64 gpa, u32 *value);

/*
 * The mapping of the launcher's address space (a line of /proc/self/maps)
 * that holds addr; false if nothing is mapped there.  perms is "rw-p" etc.
 */
struct mapping {
	uintptr_t start, end;
	char perms[5];
};
bool find_mapping(uintptr_t addr, struct mapping *m);

/*
 * Guest memory.  phys() is the guest-physical range [gpa, gpa + len) as the
 * launcher mapped it; it must lie inside RAM (below pfn_limit pages).
 * phys_alloc() hands out zeroed memory for rings and buffers from a region
 * that avoids boot_params, the command line, the kernel and the initrd:
 * by default from 8 MiB up to 2 MiB below the top of RAM or the initrd's
 * start, whichever is lower; LGSTUB_ALLOC=<lo>-<hi> (MiB) or
 * phys_alloc_region() changes it.  A kernel loaded at 1 MiB that is
 * longer than 7 MiB (a distribution bzImage) overlaps the default: that is
 * caught, since phys_alloc() fails the guest if what it would hand out is
 * not all zero.
 */
void *phys(u64 gpa, size_t len);
u64 phys_alloc(size_t len, size_t align);
void phys_alloc_region(u64 lo, u64 hi);

/*
 * Interrupts, as LHREQ_IRQ raises them.  irq_wait() halts the guest (on
 * real lguest, the LHCALL_HALT hypercall) until the line is raised or
 * timeout_ms passes, and acknowledges it: true if it came.  irq_seen()
 * does not wait: true if the line was raised since it was last
 * acknowledged, and acknowledges it.
 */
bool irq_wait(unsigned int line, unsigned int timeout_ms);
bool irq_seen(unsigned int line);

/*
 * The outcome.  check() records one check (and a TAP line when LGSTUB_TAP
 * is set) and goes on either way; it returns cond.  guest_fail() records a
 * failure and kills the guest now.  guest_note() adds a "# " comment line
 * to the TAP file.  guest_done() ends the scenario (returning from it does
 * the same); guest_reboot() asks for a reboot, as LHCALL_SHUTDOWN with
 * LGUEST_SHUTDOWN_RESTART does: the launcher's read fails with ERESTART.
 */
bool check(bool cond, const char *fmt, ...) __printf(2, 3);

/* check() that got equals want, saying both: "what: 0x1, want 0x2". */
#define check_eq(got, want, what)					\
	({								\
		u64 got_ = (u64)(got), want_ = (u64)(want);		\
		check(got_ == want_, "%s: %#llx, want %#llx", (what),	\
		      (unsigned long long)got_,				\
		      (unsigned long long)want_);			\
	})

void guest_fail(const char *fmt, ...) __printf(1, 2) __noreturn;
void guest_note(const char *fmt, ...) __printf(1, 2);
void guest_done(void) __noreturn;
void guest_reboot(void) __noreturn;

/*
 * The scenario table.  Each tests/scenarios/<area>.c file names its
 * scenarios with SCENARIO(fn): the name is the function's.
 */
struct scenario {
	const char *name;
	void (*run)(void);
};

#define SCENARIO(fn)							\
	static const struct scenario scenario_##fn			\
	__attribute__((used, section("lgstub_scenarios"),		\
		       aligned(sizeof(void *)))) = { #fn, fn }

#endif /* LGSTUB_GUEST_H */
