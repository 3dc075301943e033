// SPDX-License-Identifier: GPL-2.0
/*
 * rng-irq.c: the entropy device, end to end, with its interrupt.
 *
 * Found by scanning bus 0 for 1AF4:1044, the device must say it uses
 * interrupt pin A and name a line the PIC has (we use the line it names);
 * the BAR its registers are in is sized as a PCI driver does.
 * We set up its queue, unmask the line, make one 64-byte device-writable
 * buffer available, notify, and sleep in sti;hlt.  The interrupt must come
 * on that line with ISR status 1 (a used buffer; reading it clears it),
 * and the used ring must hold our buffer, all 64 bytes written, and not
 * the zeroes we put there.
 */
#include "lib.h"

#define LEN 64

static struct virtio_dev rng;
static struct virtq vq;
static volatile unsigned int irqs;
static volatile u8 isr_seen;

/* Read ISR status: that is what says why, and lowers the line. */
static void rng_irq(unsigned int irq)
{
	(void)irq;
	isr_seen = readb(rng.isr);
	irqs++;
}

void main(void)
{
	static u8 buf[LEN], zeroes[LEN];
	struct vbuf part = { buf, LEN, true };
	u16 head, used_head;
	u32 len, size;
	u8 isr;

	timer_start();
	if (!virtio_find(&rng, "rng", VIRTIO_ID_RNG))
		fail("rng: no device 1af4:%x on bus 0",
		     VIRTIO_PCI_DEVICE(VIRTIO_ID_RNG));
	printf("rng: 00:%02x.0, interrupt pin %u, line %u\n", rng.slot, rng.pin,
	       rng.line);
	if (rng.pin != 1)
		fail("rng: interrupt pin %u, want 1 (INTA)", rng.pin);
	if (rng.line == 0 || rng.line == 2 || rng.line > 15)
		fail("rng: interrupt line %u is not an 8259 input we can use",
		     rng.line);
	printf("ok - rng: interrupt pin A, line %u\n", rng.line);

	/* A BAR is a power of two in size, aligned to it, and holds them. */
	size = pci_bar_size(rng.slot, rng.bar);
	printf("rng: registers in BAR%u at %#x, %u bytes\n", rng.bar,
	       rng.bar_addr, size);
	if (!size || (size & (size - 1)) || (rng.bar_addr & (size - 1)))
		fail("rng: BAR%u of %u bytes at %#x", rng.bar, size,
		     rng.bar_addr);
	if (rng.common - rng.bar_addr > size - 56 ||
	    rng.isr - rng.bar_addr >= size)
		fail("rng: the registers are not inside BAR%u", rng.bar);

	virtio_start(&rng, 0);
	virtq_setup(&rng, &vq, 0, 8);
	virtio_driver_ok(&rng);
	irq_handler(rng.line, rng_irq);

	head = virtq_add(&vq, &part, 1);
	virtq_kick(&vq);
	wait_for(irqs, 10, "the rng's interrupt");
	printf("ok - rng: interrupt on line %u\n", rng.line);
	if (isr_seen != VIRTIO_ISR_QUEUE)
		fail("rng: ISR status %#x in the handler, want 0x1", isr_seen);
	printf("ok - rng: ISR status 0x1 in the handler\n");
	isr = readb(rng.isr);
	if (isr)
		fail("rng: ISR status %#x after the handler read it, want 0",
		     isr);
	printf("ok - rng: reading ISR status cleared it\n");

	if (!virtq_has_used(&vq))
		fail("rng: interrupted, but the used ring is empty");
	used_head = virtq_take(&vq, &len);
	if (used_head != head || len != LEN)
		fail("rng: used buffer %u with %u bytes, want %u with %u",
		     used_head, len, head, LEN);
	printf("ok - rng: used buffer %u, %u bytes written\n", used_head, len);
	if (!memcmp(buf, zeroes, LEN))
		fail("rng: the buffer is still all zeroes");
	printf("ok - rng: the buffer holds new bytes (%02x %02x %02x %02x...)\n",
	       buf[0], buf[1], buf[2], buf[3]);
	if (virtq_has_used(&vq))
		fail("rng: a second used buffer, and we gave one");
	poweroff();
}
