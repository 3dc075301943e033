// SPDX-License-Identifier: GPL-2.0
/*
 * bad-queue-size.c: a driver that breaks a rule in a register.
 *
 * queue_size must be a power of 2 (virtio 1.0 §4.1.4.3.2).  We bring the
 * entropy device up to FEATURES_OK as a driver should, then write 3 to its
 * queue_size.  lguest must stop there, with status 1, naming the device,
 * the queue, the rule and where the guest was: we print the address of
 * the writing instruction and of the one after it, for the test to find
 * in lguest's message.  Should lguest let it pass, we say so.
 */
#include "lib.h"

extern const char queue_size_write[], queue_size_write_end[];

void main(void)
{
	static struct virtio_dev rng;
	u32 reg;

	if (!virtio_find(&rng, "rng", VIRTIO_ID_RNG))
		fail("rng: no device 1af4:%x on bus 0",
		     VIRTIO_PCI_DEVICE(VIRTIO_ID_RNG));
	virtio_start(&rng, 0);
	vcommon_write(&rng, VIRTIO_PCI_QUEUE_SELECT, 2, 0);
	printf("bad-queue-size: queue_size %u; writing 3 at %p (next %p)\n",
	       vcommon_read(&rng, VIRTIO_PCI_QUEUE_SIZE, 2), queue_size_write,
	       queue_size_write_end);
	reg = rng.common + VIRTIO_PCI_QUEUE_SIZE;
	asm volatile(".globl queue_size_write, queue_size_write_end\n"
		     "queue_size_write:\n\t"
		     "movw %w0, (%1)\n"
		     "queue_size_write_end:"
		     :
		     : "a"(3), "d"(reg)
		     : "memory");
	fail("bad-queue-size: the device took queue_size 3");
}
