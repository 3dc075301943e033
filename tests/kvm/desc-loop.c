// SPDX-License-Identifier: GPL-2.0
/*
 * desc-loop.c: a driver that breaks a rule in the ring.
 *
 * A descriptor chain must not loop (virtio 1.0 §2.4.5.2: the device may
 * not follow more descriptors than the queue has).  We set up the entropy
 * device properly, then make available a chain of descriptors 0 -> 1 -> 0
 * -> ... and notify.  It is the queue's service task, not the vCPU, that
 * walks the chain, so lguest's message has no guest address in it; lguest
 * must stop with status 1.  If it does not within 5 seconds, we say so.
 */
#include "lib.h"

void main(void)
{
	static struct virtio_dev rng;
	static struct virtq vq;
	static u8 buf[2][16];
	unsigned int i;

	timer_start();
	if (!virtio_find(&rng, "rng", VIRTIO_ID_RNG))
		fail("rng: no device 1af4:%x on bus 0",
		     VIRTIO_PCI_DEVICE(VIRTIO_ID_RNG));
	virtio_start(&rng, 0);
	virtq_setup(&rng, &vq, 0, 8);
	virtio_driver_ok(&rng);

	/*
	 * The device may look at the ring before we notify (its task
	 * polls it before it sleeps), so we speak first.
	 */
	puts("desc-loop: making descriptor 0 -> 1 -> 0 available; notifying");
	for (i = 0; i < 2; i++) {
		vq.desc[i].addr = (u32)buf[i];
		vq.desc[i].len = sizeof(buf[i]);
		vq.desc[i].flags = VRING_DESC_F_WRITE | VRING_DESC_F_NEXT;
		vq.desc[i].next = !i;
	}
	vq.avail->ring[0] = 0;
	barrier();
	vq.avail->idx = 1;
	barrier();
	virtq_kick(&vq);
	wait_for(virtq_has_used(&vq), 5, "lguest to stop us");
	fail("desc-loop: the device used a looping chain");
}
