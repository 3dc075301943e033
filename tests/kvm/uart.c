// SPDX-License-Identifier: GPL-2.0
/*
 * uart.c: a line through the UART, then power off.
 *
 * The program says hello, then probes the 16550A the way a serial driver
 * does (Linux's autoconfig() in 8250_port.c): the scratch register holds
 * what it is given, the divisor latch reads back, IIR says "no interrupt",
 * LSR says the transmitter is empty, and in loopback mode the modem
 * outputs come back as its inputs and a byte written comes back on the
 * receive side instead of going out.  It reports each check ("ok - uart:
 * ..." or "FAIL: ...") and powers off: lguest exits with status 0.
 */
#include "lib.h"

#define UART(reg) (UART_BASE + (reg))

/*
 * While DLAB or loopback is on, what we print would not go out: the checks
 * are made first and reported after.
 */
static bool scratch, divisor, lcr_back, iir_none, lsr_idle, msr_loop,
	loop_ready, loop_byte, loop_taken;

static void check(bool ok, const char *what)
{
	if (!ok)
		fail("uart: %s", what);
	printf("ok - uart: %s\n", what);
}

void main(void)
{
	u8 lcr = inb(UART(3)), v;

	puts("uart: hello from a tiny guest on the 16550A");

	outb(UART(7), 0xA5);
	v = inb(UART(7));
	outb(UART(7), 0x5A);
	scratch = v == 0xA5 && inb(UART(7)) == 0x5A;

	outb(UART(3), lcr | 0x80);
	outb(UART(0), 0x0C);
	outb(UART(1), 0x00);
	v = inb(UART(0));
	divisor = v == 0x0C && inb(UART(1)) == 0x00;
	outb(UART(0), 0x01);
	outb(UART(3), lcr);
	lcr_back = inb(UART(3)) == lcr;

	iir_none = (inb(UART(2)) & 0x0F) == 0x01;
	v = inb(UART(5));
	lsr_idle = (v & 0x60) == 0x60 && !(v & 0x01);

	/*
	 * Loopback (MCR bit 4): the transmitter feeds the receiver, and the
	 * modem control outputs show up as the modem status inputs (RTS as
	 * CTS, DTR as DSR, OUT1 as RI, OUT2 as DCD).  Byte 0x01 must not
	 * reach stdout.
	 */
	outb(UART(4), 0x1F);
	msr_loop = (inb(UART(6)) & 0xF0) == 0xF0;
	outb(UART(0), 0x01);
	loop_ready = inb(UART(5)) & 0x01;
	loop_byte = inb(UART(0)) == 0x01;
	loop_taken = !(inb(UART(5)) & 0x01);
	outb(UART(4), 0x0B);

	check(scratch, "the scratch register keeps what is written");
	check(divisor, "the divisor latch reads back with DLAB set");
	check(lcr_back, "LCR reads back");
	check(iir_none, "IIR: no interrupt pending");
	check(lsr_idle, "LSR: transmitter empty, nothing received");
	check(msr_loop, "MSR mirrors MCR in loopback");
	check(loop_ready, "LSR: the looped-back byte is waiting");
	check(loop_byte, "RBR: the looped-back byte");
	check(loop_taken, "LSR: nothing waiting after RBR read");
	puts("uart: powering off");
	poweroff();
}
