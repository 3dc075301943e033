/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lgstub.h: the seam between the stand-in /dev/lguest (lgstub.c, playing
 * the host kernel's lguest module) and the scripted guest (guest.c).
 *
 * On real lguest the host runs the guest until it does something the host
 * cannot finish alone; then the launcher's read() returns and says what.
 * Here the guest is a coroutine: the host switches to it from inside the
 * launcher's read(), and it switches back with one of three stories: "I
 * trapped" (host_trap), "I halted until an interrupt" (host_halt), or "I
 * died" (host_die, host_reboot).
 */
#ifndef LGSTUB_LGSTUB_H
#define LGSTUB_LGSTUB_H

#include "guest.h"

/* The number of interrupt lines the host lets the launcher raise. */
#define LGUEST_IRQS 32

/* struct pt_regs on i386: seventeen 32-bit words. */
#define PT_REGS_WORDS 17

/* The i386 segment selectors a 4.x lguest guest kernel starts with. */
#define GUEST_CS (0x60 | 1)	/* __KERNEL_CS, ring 1 */
#define GUEST_DS (0x68 | 1)	/* __KERNEL_DS, ring 1 */
#define GUEST_EFLAGS 0x202	/* IF, and bit 1 which is always set */

/* What the launcher's read() returns when the guest needs it. */
struct lguest_pending {
	u8 trap;
	u8 insn[7];
	u32 addr;
};

/* The one virtual CPU, as the host keeps it. */
struct lg_cpu {
	u32 regs[PT_REGS_WORDS];	/* indexed by pt_regs offset / 4 */
	struct guest_boot info;		/* what LHREQ_INITIALIZE said */
	struct lguest_pending pending;	/* the trap being reported */
	int handed_back;		/* trap from LHREQ_TRAP, or -1 */
};

extern struct lg_cpu lg_cpu;

/*
 * Guest to host.  host_trap() reports a trap and returns, once the
 * launcher reads again, the trap it handed back (or -1 if none).
 * host_halt() returns once the line is raised or the time is up;
 * host_irq_ack() says whether a line was raised, and lowers it.
 */
int host_trap(u8 trap, const u8 insn[7], u32 addr);
void host_halt(unsigned int line, unsigned int timeout_ms);
bool host_irq_ack(unsigned int line);
void host_die(const char *reason) __noreturn;
void host_reboot(void) __noreturn;

/*
 * Host to guest: the guest's life, started on its own stack at the
 * launcher's first read after LHREQ_INITIALIZE.  It never returns.
 */
void guest_main(void) __noreturn;

/*
 * Something the launcher did that the real host would have let pass but
 * that no correct launcher does (say, a SETREG value wider than the 32-bit
 * register): the guest records it as a failed check when it next runs.
 */
void host_complain(const char *fmt, ...) __printf(1, 2);
/* The first complaint not yet reported, which it then forgets; or NULL. */
const char *host_complaint(void);

#endif /* LGSTUB_LGSTUB_H */
