// SPDX-License-Identifier: GPL-2.0
/*
 * clock.c: time and numbers for the bench guest.
 *
 * The guest times itself with the TSC.  Its rate comes from the PIT, which
 * both VMMs have in the kernel (KVM's), counting at 1.193182 MHz: we let
 * channel 0 count down from 65536 in mode 2 and read it, latched, as fast
 * as we can for about 50 ms, adding up how far it went between reads (a
 * read every few microseconds, so a wrap, every 55 ms, is never missed).
 * The TSC cycles over the same span give its rate to about 1e-4.
 *
 * The i386 build has no libgcc, so 64-bit division is ours: __udivdi3,
 * __umoddi3 and __udivmoddi4, which gcc calls for u64 '/' and '%', done
 * with divl where the divisor fits 32 bits, bit by bit where it does not.
 */
#include "bench.h"

#define PIT_HZ 1193182
#define PIT_CH0 0x40
#define PIT_CMD 0x43

u32 tsc_khz;

/* n / d for a 32-bit d: two divl, high half first. */
u64 udiv64(u64 n, u32 d)
{
	u32 hi = n >> 32, lo = n, qhi = hi / d, r = hi % d, qlo;

	asm("divl %4" : "=a"(qlo), "=d"(r) : "a"(lo), "d"(r), "rm"(d));
	return (u64)qhi << 32 | qlo;
}

u64 __udivdi3(u64 n, u64 d);
u64 __umoddi3(u64 n, u64 d);
u64 __udivmoddi4(u64 n, u64 d, u64 *rem);

u64 __udivdi3(u64 n, u64 d)
{
	u64 q = 0, bit = 1;

	if (!(d >> 32))
		return udiv64(n, d);
	while (!(d >> 63) && d < n) {
		d <<= 1;
		bit <<= 1;
	}
	for (; bit; d >>= 1, bit >>= 1) {
		if (n >= d) {
			n -= d;
			q |= bit;
		}
	}
	return q;
}

u64 __umoddi3(u64 n, u64 d)
{
	return n - __udivdi3(n, d) * d;
}

u64 __udivmoddi4(u64 n, u64 d, u64 *rem)
{
	u64 q = __udivdi3(n, d);

	if (rem)
		*rem = n - q * d;
	return q;
}

static u16 pit_read(void)
{
	u8 lo, hi;

	outb(PIT_CMD, 0x00); /* latch channel 0 */
	lo = inb(PIT_CH0);
	hi = inb(PIT_CH0);
	return lo | hi << 8;
}

void tsc_calibrate(void)
{
	u32 ticks = 0, want = PIT_HZ / 20;
	u16 prev, now;
	u64 t0, t1;

	outb(PIT_CMD, 0x34); /* channel 0, low then high byte, mode 2 */
	outb(PIT_CH0, 0);
	outb(PIT_CH0, 0); /* 65536 */
	prev = pit_read();
	t0 = rdtsc();
	while (ticks < want) {
		now = pit_read();
		ticks += (u16)(prev - now);
		prev = now;
	}
	t1 = rdtsc();
	tsc_khz = udiv64((t1 - t0) * (PIT_HZ / 1000), ticks);
	/* Mode 0, one shot: no more ticks until someone asks for them. */
	outb(PIT_CMD, 0x30);
	outb(PIT_CH0, 0xFF);
	outb(PIT_CH0, 0xFF);
}

u64 cycles_ns(u64 cycles)
{
	return udiv64(cycles * 1000000, tsc_khz);
}

void put_u64(u64 n)
{
	char d[24];
	int i = 0;

	do {
		d[i++] = '0' + n % 10;
		n /= 10;
	} while (n);
	while (i)
		putchar(d[--i]);
}

void result(const char *key, u64 num, u64 den, const char *unit)
{
	u64 milli = den ? num * 1000 / den : 0;

	printf("bench: result %s ", key);
	put_u64(milli / 1000);
	printf(".%03u %s\n", (unsigned int)(milli % 1000), unit);
}

u32 random32(void)
{
	static u32 x = 2463534242u;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return x;
}

/* From 8 MiB up: clear of the image, the loaders' tables and the stack. */
void *bigalloc(u32 size)
{
	static u32 next = 8 << 20;
	u32 at = next;

	if ((u32)__image_end > at)
		fail("bigalloc: the image reaches past 8 MiB");
	next = (next + size + 4095) & ~4095u;
	return (void *)at;
}
