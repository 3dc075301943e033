// SPDX-License-Identifier: GPL-2.0
/*
 * uart-echo.c: input through the UART's receive interrupt.
 *
 * The PIC is programmed, the UART's receive interrupt enabled (IER bit 0,
 * IRQ 4), and the program sleeps in sti;hlt.  Each byte that arrives (from
 * lguest's standard input, which goes to the UART while IER bit 0 is set)
 * wakes it through IRQ 4, and is echoed; a '.' ends the input, and the
 * program says how many bytes and interrupts it saw and powers off.
 */
#include "lib.h"

void main(void)
{
	unsigned int n = 0;
	int c;

	timer_start();
	uart_rx_irq_start();
	puts("uart-echo: ready");
	printf("uart-echo: ");
	do {
		c = uart_getc();
		putchar(c);
		n++;
	} while (c != '.');
	putchar('\n');
	if (!uart_rx_irqs)
		fail("uart-echo: input arrived without a receive interrupt");
	printf("uart-echo: %u bytes, %u receive interrupts (%u with no "
	       "reason in IIR)\n",
	       n, uart_rx_irqs, uart_rx_no_reason);
	poweroff();
}
