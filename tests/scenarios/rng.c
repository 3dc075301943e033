// SPDX-License-Identifier: GPL-2.0
/*
 * scenarios/rng.c: the entropy device (virtio 1.0 §5.4), driven as
 * drivers/char/hw_random/virtio-rng.c drives it: one queue, requestq, of
 * device-writable buffers that come back full of randomness.
 *
 * The test runs the launcher with --rng as its only device: slot 2.
 */
#include <string.h>

#include <linux/pci_regs.h>
#include <linux/virtio_pci.h>

#include "../virtio.h"

#define RNG_SLOT 2

static bool all_zero(const u8 *p, size_t len)
{
	while (len--) {
		if (*p++)
			return false;
	}
	return true;
}

/* The driver's first look: IDs, features, no configuration, one queue. */
static struct vdev *rng_probe(void)
{
	struct vdev *d = vp_probe(RNG_SLOT);

	check_eq(d->device_id, VIRTIO_PCI_MODERN_BASE + 4,
		 "slot 2 device ID (virtio 1.0 entropy device)");
	vp_init(d, 0);
	check_eq(d->features, BIT_ULL(VIRTIO_F_VERSION_1),
		 "features offered: VERSION_1 only");
	check(!d->device, "no device configuration capability (§5.4.4)");
	check_eq(vp_common16(d, VIRTIO_PCI_COMMON_NUMQ), 1,
		 "num_queues (requestq only)");
	return d;
}

/* Ask for one buffer's worth, by interrupt; returns the length used. */
static u32 rng_read(struct vring *rq, const struct vbuf *seg, unsigned int n)
{
	u32 len;
	int head = vq_add(rq, NULL, 0, seg, n);

	vq_kick(rq);
	check_eq(vq_wait_used(rq, &len), head, "used entry names our buffer");
	return len;
}

/*
 * One request, watched closely: the device is idle, so we must notify
 * it; it fills the buffer, says so in the used ring, sets ISR and raises
 * our interrupt line; reading ISR clears it.
 */
static void rng_first_read(struct vdev *d, struct vring *rq, struct vbuf a)
{
	int head, got;
	u32 len = 0;

	head = vq_add(rq, NULL, 0, &a, 1);
	check(vq_kick(rq), "an idle device wants notifying "
	      "(VIRTQ_USED_F_NO_NOTIFY clear)");
	check(vp_wait_irq(d, VIRTIO_TIMEOUT_MS), "the interrupt comes on "
	      "line %u (PCI_INTERRUPT_LINE)", d->irq);
	check_eq(d->isr_seen, VIRTIO_ISR_QUEUE,
		 "ISR status in the interrupt handler");
	check_eq(vp_read_isr(d), 0, "ISR status read again (reading clears)");
	got = vq_get_used(rq, &len);
	check_eq(got, head, "the used ring holds our buffer");
	check_eq(len, a.len, "used length: the whole buffer");
	check(!all_zero(a.p, a.len), "the buffer was filled");
}

/* Two buffers of entropy are never the same. */
static void rng_two_reads(struct vdev *d, struct vring *rq)
{
	struct vbuf a = vbuf_alloc(64), b = vbuf_alloc(64);

	rng_first_read(d, rq, a);
	check_eq(rng_read(rq, &b, 1), 64, "second read: used length 64");
	check(memcmp(a.p, b.p, 64) != 0, "two reads differ");
}

/* A chain of writable segments is one buffer: every segment is filled. */
static void rng_chain(struct vring *rq)
{
	struct vbuf buf = vbuf_alloc(4096 + 10 + 1 + 53);
	struct vbuf seg[] = {
		vbuf_part(buf, 0, 10),
		vbuf_part(buf, 10, 1),
		vbuf_part(buf, 11, 53),
		vbuf_part(buf, 64, 4096),
	};

	check_eq(rng_read(rq, seg, 4), buf.len,
		 "a chain of 4 segments (10, 1, 53, 4096 bytes): used length");
	check(!all_zero(seg[0].p, 10) && !all_zero(seg[2].p, 53) &&
	      !all_zero(seg[3].p, 4096),
	      "every segment of the chain was filled");
}

/*
 * With VIRTQ_AVAIL_F_NO_INTERRUPT the device still uses the buffer but
 * neither interrupts nor sets ISR (§2.4.7); clear it and interrupts come
 * back.
 */
static void rng_no_interrupt(struct vdev *d, struct vring *rq)
{
	struct vbuf a = vbuf_alloc(32);
	unsigned int polls = 0, irqs = 0;
	u32 len;
	int head;

	/* The last buffer's interrupt may still be on its way: take it. */
	if (irq_wait(d->irq, 200))
		vp_read_isr(d);
	vq_disable_cb(rq);
	head = vq_add(rq, NULL, 0, &a, 1);
	vq_kick(rq);
	while (vq_get_used(rq, &len) != head && polls++ < 500)
		irqs += irq_wait(d->irq, 10);
	check(polls <= 500, "interrupts off: the buffer is used all the same");
	/* Give a late interrupt time to show. */
	irqs += irq_wait(d->irq, 100);
	check_eq(irqs, 0, "interrupts off: no interrupt");
	check_eq(vp_read_isr(d), 0, "interrupts off: ISR status stays 0");

	vq_enable_cb(rq);
	head = vq_add(rq, NULL, 0, &a, 1);
	vq_kick(rq);
	check(vp_wait_irq(d, VIRTIO_TIMEOUT_MS) &&
	      d->isr_seen == VIRTIO_ISR_QUEUE,
	      "interrupts on again: the next buffer interrupts");
	check_eq(vq_get_used(rq, &len), head, "... and is used");
}

/*
 * A queue the driver shrank to 4 entries, used 4 at a time for more than
 * 65536 buffers: both ring indices wrap past 0xffff, as §2.4.6 and §2.4.8
 * say they may.
 */
static void rng_wrap(struct vdev *d)
{
	struct vbuf seg[4];
	struct vring *rq;
	unsigned int i, k, bad = 0;
	u32 len;

	vp_init(d, 0);
	rq = vp_setup_vq(d, 0, 4);
	vp_driver_ok(d);
	check_eq(rq->num, 4, "requestq shrunk to 4 entries");
	for (k = 0; k < 4; k++)
		seg[k] = vbuf_alloc(2);
	for (i = 0; i < 65536 / 4 + 8; i++) {
		for (k = 0; k < 4; k++)
			vq_add(rq, NULL, 0, &seg[k], 1);
		vq_kick(rq);
		for (k = 0; k < 4; k++) {
			vq_wait_used(rq, &len);
			bad += len != 2;
		}
	}
	check_eq(rq->avail_idx, (u16)((65536 / 4 + 8) * 4),
		 "the available index wrapped");
	check_eq(rq->used->idx, rq->avail_idx,
		 "the used index wrapped with it");
	check_eq(bad, 0, "every one of 65568 buffers came back full");
}

static void rng(void)
{
	struct vdev *d = rng_probe();
	struct vring *rq = vp_setup_vq(d, 0, 0);

	check_eq(rq->num, 256, "requestq size, as offered");
	vp_driver_ok(d);
	rng_two_reads(d, rq);
	rng_chain(rq);
	rng_no_interrupt(d, rq);
	rng_wrap(d);
}
SCENARIO(rng);
