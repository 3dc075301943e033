// SPDX-License-Identifier: GPL-2.0
/*
 * block.c: a virtio block round trip.
 *
 * The test gives us a small disk of random bytes.  We read its capacity,
 * read sector 0 (and print its first bytes, which the test knows), write
 * sector 1 as sector 0 with one added to every byte, and flush.  The
 * test then finds the file changed in sector 1 alone, exactly so.
 */
#include "lib.h"

static struct virtio_dev blk;
static struct virtq vq;

void main(void)
{
	static u8 sector0[512] __attribute__((aligned(512)));
	static u8 sector1[512] __attribute__((aligned(512)));
	u32 cap_lo, cap_hi;
	unsigned int i;
	u64 features;
	u8 st;

	timer_start();
	if (!virtio_find(&blk, "block", VIRTIO_ID_BLOCK))
		fail("block: no device 1af4:%x on bus 0",
		     VIRTIO_PCI_DEVICE(VIRTIO_ID_BLOCK));
	features = virtio_start(&blk, 1ULL << VIRTIO_BLK_F_FLUSH);
	if (!(features >> VIRTIO_BLK_F_FLUSH & 1))
		fail("block: the device offers no flush");
	/* capacity: le64 at offset 0 of the device configuration (§5.2.4). */
	if (!blk.device)
		fail("block: no device configuration");
	cap_lo = readl(blk.device);
	cap_hi = readl(blk.device + 4);
	printf("block: 00:%02x.0, capacity %u sectors\n", blk.slot, cap_lo);
	if (cap_hi || cap_lo < 2)
		fail("block: capacity %#x%08x: want 2 sectors or more", cap_hi,
		     cap_lo);
	virtq_setup(&blk, &vq, 0, 8);
	virtio_driver_ok(&blk);

	st = blk_request(&vq, VIRTIO_BLK_T_IN, 0, sector0, 512);
	if (st != VIRTIO_BLK_S_OK)
		fail("block: reading sector 0: status %u", st);
	printf("ok - block: read sector 0:");
	for (i = 0; i < 8; i++)
		printf(" %02x", sector0[i]);
	putchar('\n');

	for (i = 0; i < 512; i++)
		sector1[i] = sector0[i] + 1;
	st = blk_request(&vq, VIRTIO_BLK_T_OUT, 1, sector1, 512);
	if (st != VIRTIO_BLK_S_OK)
		fail("block: writing sector 1: status %u", st);
	puts("ok - block: wrote sector 1");

	st = blk_request(&vq, VIRTIO_BLK_T_FLUSH, 0, NULL, 0);
	if (st != VIRTIO_BLK_S_OK)
		fail("block: flush: status %u", st);
	puts("ok - block: flushed");
	poweroff();
}
