/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bench.h: what the bench guest's files share.
 *
 * The bench guest is a tests/kvm program (lib.c does its printing, PIC,
 * PCI and virtio) with an entry of its own (start.S: multiboot, PVH and
 * lguest's boot_params alike), and these parts:
 *
 *   boot.c   which loader booted us, the command line it gave, the ACPI
 *            tables it left, and the power-off they describe
 *   clock.c  the TSC, calibrated against the PIT; 64-bit arithmetic the
 *            i386 build has no libgcc for; printing results
 *   bench.c  main(): the bench modes (boot, exits, blk, console)
 *   net.c    the net mode, against bench/netpeer.c on the host
 */
#ifndef LGUEST_BENCH_GUEST_H
#define LGUEST_BENCH_GUEST_H

#include "../../tests/kvm/lib.h"

/* What start.S saved: %ebx and %esi at entry (boot_magic is lib.h's). */
extern u32 entry_ebx, entry_esi;
/* The end of our image (bench.ld): RAM above it is free for buffers. */
extern u8 __image_end[];

/*
 * boot.c
 */
/* How we were booted: "lguest" (boot_params), "multiboot" or "pvh". */
extern const char *boot_via;
/* Find the loader's information; call first. */
void boot_init(void);
/* The value of "key=value" on the command line, or NULL. */
const char *arg_str(const char *key);
/* ... as a decimal number (a k, M or G suffix multiplies), or 'def'. */
u32 arg_u32(const char *key, u32 def);
/* Power off as the ACPI tables say (PM1a control, or the sleep control
 * register of a hardware-reduced platform such as microvm). */
void noreturn acpi_poweroff(void);

/*
 * clock.c
 */
static inline u64 rdtsc(void)
{
	u32 lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (u64)hi << 32 | lo;
}

extern u32 tsc_khz;
/* Measure the TSC against the PIT's 1.193182 MHz (about 50 ms). */
void tsc_calibrate(void);
/* Division of a 64-bit number by a 32-bit one, with divl alone. */
u64 udiv64(u64 n, u32 d);
/* TSC cycles to nanoseconds. */
u64 cycles_ns(u64 cycles);
/* A 64-bit unsigned number in decimal. */
void put_u64(u64 n);
/*
 * One result line, for bench/run to pick up:
 *   "bench: result KEY VALUE UNIT" with VALUE = num / den, 3 decimals.
 */
void result(const char *key, u64 num, u64 den, const char *unit);

/* A small, fast pseudo-random sequence (xorshift32). */
u32 random32(void);

/* Memory for big buffers: page-aligned, above the image; never freed. */
void *bigalloc(u32 size);

/*
 * bench.c: a virtio device with its interrupt line, the handler reading
 * ISR (which lowers the line), and waits that sleep in sti;hlt.
 */
void dev_irq_on(struct virtio_dev *vd);
/* Sleep until the device has used a buffer of 'vq' (at most 'seconds'). */
void wait_used(struct virtq *vq, unsigned int seconds, const char *what);
/* Put descriptor chain 'head' on the available ring (no kick). */
void vq_post(struct virtq *vq, u16 head);
/* Kick, unless the device said it needs none (VRING_USED_F_NO_NOTIFY). */
void vq_kick(struct virtq *vq);

void bench_net(void);

#endif
