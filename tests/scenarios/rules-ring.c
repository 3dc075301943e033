// SPDX-License-Identifier: GPL-2.0
/*
 * scenarios/rules-ring.c: drivers that break a rule of the split
 * virtqueue (virtio 1.0 §2.4) or of their device (§5): descriptor chains
 * that loop or run off their table, indirect tables no device may
 * follow, rings that lie about their indices, buffers outside guest RAM
 * or facing the wrong way, and block requests with no room for their
 * header or status.
 *
 * As in rules-transport.c, every scenario sets its device up as a good
 * driver does, then offers one buffer that is wrong in exactly one way,
 * written by hand into the descriptor table and available ring that
 * struct vring exposes, and notifies the device.  These rules are checked
 * by the queue's service task as it takes the buffer: the task says what
 * is wrong and stops, and the launcher ends with it.  Meanwhile we wait;
 * if the device answers instead, or nothing happens, the guest dies
 * saying so.
 *
 * Devices: the entropy device (--rng, slot 2) for most ring rules, being
 * the simplest; the console (slot 1) and the block device (--block, slot
 * 2) for their own rules; the network device (--tunnet, slot 2) only
 * where a rule needs indirect descriptors, which only it offers.  The
 * comment on each scenario gives the original launcher's check it answers
 * (see tests/RULES.md), or says lguest adds it.
 */
#include <stddef.h>
#include <string.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_pci.h>

#include "../virtio.h"

#define CONSOLE_SLOT 1
#define DEVICE_SLOT 2 /* --rng, --block or --tunnet, whichever is given */

/* Queue indices. */
#define RECEIVEQ 0
#define TRANSMITQ 1
#define REQUESTQ 0

#define R 0		     /* device-readable */
#define W VIRTQ_DESC_F_WRITE /* device-writable */
#define NEXT VIRTQ_DESC_F_NEXT
#define INDIRECT VIRTQ_DESC_F_INDIRECT

/* How long the device gets to take the buffer and stop the launcher. */
#define STOP_MS 5000

static u64 ram_size(void)
{
	return (u64)guest_boot()->pfn_limit * PAGE_SIZE;
}

/*
 * A device found, its features negotiated (VERSION_1 and what we name, if
 * offered), one queue of num entries set up, and the device live.  Only
 * that queue is enabled: the others stay quiet.
 */
static struct vring *one_queue(unsigned int slot, u16 device_id, u64 wanted,
			       u16 index, u16 num)
{
	struct vdev *d = vp_probe(slot);
	struct vring *vq;

	check_eq(d->device_id, VIRTIO_PCI_MODERN_BASE + device_id,
		 "the device in the slot");
	vp_init(d, wanted);
	check_eq(d->accepted & wanted, wanted, "the features we want");
	vq = vp_setup_vq(d, index, num);
	check_eq(vq->num, num, "the queue's size");
	vp_driver_ok(d);
	return vq;
}

static struct vring *rng_queue(u16 num)
{
	return one_queue(DEVICE_SLOT, VIRTIO_ID_RNG, 0, REQUESTQ, num);
}

/* The network device's transmitq, with indirect descriptors. */
static struct vring *net_indirect_queue(u16 num)
{
	return one_queue(DEVICE_SLOT, VIRTIO_ID_NET,
			 BIT_ULL(VIRTIO_F_INDIRECT_DESC), TRANSMITQ, num);
}

static void set_desc(volatile struct virtq_desc *desc, u64 gpa, u32 len,
		     u16 flags, u16 next)
{
	desc->addr = gpa;
	desc->len = len;
	desc->flags = flags;
	desc->next = next;
}

/*
 * Offer the chain at head, as virtqueue_add() and virtqueue_kick() would:
 * the ring entry, a write barrier, the index, a full barrier, the kick.
 */
static void offer(struct vring *vq, u16 head)
{
	vq->avail->ring[vq->avail_idx % vq->num] = head;
	virtio_wmb();
	vq->avail->idx = ++vq->avail_idx;
	vq_kick(vq);
}

/*
 * Wait for the device to stop the launcher over what we offered.  Should
 * it use the buffer instead, or do nothing, the guest dies saying so.
 */
static void __noreturn should_stop(struct vring *vq, const char *what)
{
	unsigned int waited;

	for (waited = 0; waited < STOP_MS; waited += 50) {
		if (vq->used->idx != vq->last_used)
			guest_fail("the device used a buffer with %s", what);
		irq_wait(vq->dev->irq, 50);
	}
	guest_fail("the device neither used nor refused a buffer with %s",
		   what);
}

/* A buffer of len bytes, for when only its address and length matter. */
static u64 buffer(u32 len)
{
	return vbuf_alloc(len).gpa;
}

/*
 * The descriptor table (§2.4.5).
 */

/* #2, §2.4.5: a buffer that runs 8 bytes past the end of RAM. */
static void rule_ring_buffer_outside_ram(void)
{
	struct vring *vq = rng_queue(4);

	set_desc(&vq->desc[0], ram_size() - 8, 16, W, 0);
	offer(vq, 0);
	should_stop(vq, "its end outside RAM");
}
SCENARIO(rule_ring_buffer_outside_ram);

/* #3, §2.4.5: descriptor 0 chains to 7, in a table of 4. */
static void rule_ring_next_past_end(void)
{
	struct vring *vq = rng_queue(4);

	set_desc(&vq->desc[0], buffer(16), 16, W | NEXT, 7);
	offer(vq, 0);
	should_stop(vq, "next past the table");
}
SCENARIO(rule_ring_next_past_end);

/* #13, §2.4.5.2: 0, 1, 2, 3, and back to 0. */
static void rule_ring_loop(void)
{
	struct vring *vq = rng_queue(4);
	u64 buf = buffer(16);
	u16 i;

	for (i = 0; i < 4; i++)
		set_desc(&vq->desc[i], buf, 16, W | NEXT, (i + 1) % 4);
	offer(vq, 0);
	should_stop(vq, "a chain that loops");
}
SCENARIO(rule_ring_loop);

/*
 * lguest adds, §2.4.5.2: 2^32 bytes in one chain, which needs no loop:
 * the same stretch of RAM (all of it) described over and over.
 */
static void rule_ring_chain_4g(void)
{
	struct vring *vq = rng_queue(256);
	u32 len = (u32)ram_size();
	u16 i, n = (u16)((1ULL << 32) / len);

	check(n < 256, "%u descriptors of all RAM make 4 GiB", n);
	for (i = 0; i < n; i++)
		set_desc(&vq->desc[i], 0, len, W | (i + 1 < n ? NEXT : 0),
			 i + 1);
	offer(vq, 0);
	should_stop(vq, "4 GiB in one chain");
}
SCENARIO(rule_ring_chain_4g);

/* #12, §2.4.4.2: a block write with its status byte before its data. */
static void rule_ring_out_after_in(void)
{
	struct vring *vq =
		one_queue(DEVICE_SLOT, VIRTIO_ID_BLOCK, 0, REQUESTQ, 16);
	struct vbuf hdr = vbuf_alloc(sizeof(struct virtio_blk_outhdr));
	struct virtio_blk_outhdr *h = (void *)hdr.p;

	h->type = VIRTIO_BLK_T_OUT;
	set_desc(&vq->desc[0], hdr.gpa, hdr.len, R | NEXT, 1);
	set_desc(&vq->desc[1], buffer(1), 1, W | NEXT, 2);
	set_desc(&vq->desc[2], buffer(512), 512, R, 0);
	offer(vq, 0);
	should_stop(vq, "readable data after its status");
}
SCENARIO(rule_ring_out_after_in);

/*
 * The available ring (§2.4.6, §2.4.7).
 */

/*
 * #4, §2.4.7.1: flags 2, which only VIRTIO_F_EVENT_IDX could explain.
 * The device fills the buffer as it should; the rule bites as it goes to
 * interrupt us for it, so here the interrupt is what must not come.
 */
static void rule_ring_avail_flags(void)
{
	struct vring *vq = rng_queue(4);
	unsigned int waited;

	vq->avail->flags = 2;
	set_desc(&vq->desc[0], buffer(16), 16, W, 0);
	offer(vq, 0);
	for (waited = 0; waited < STOP_MS; waited += 50) {
		if (irq_wait(vq->dev->irq, 50))
			guest_fail("the device interrupted us, though the "
				   "available ring's flags were 2");
	}
	guest_fail("the device neither interrupted us nor stopped");
}
SCENARIO(rule_ring_avail_flags);

/* #5, §2.4.6: five buffers published in a ring of four. */
static void rule_ring_avail_idx_jump(void)
{
	struct vring *vq = rng_queue(4);
	u16 i;

	for (i = 0; i < 4; i++) {
		set_desc(&vq->desc[i], buffer(16), 16, W, 0);
		vq->avail->ring[i] = i;
	}
	virtio_wmb();
	vq->avail_idx = 5;
	vq->avail->idx = 5;
	vq_kick(vq);
	should_stop(vq, "an available index 5 ahead in a ring of 4");
}
SCENARIO(rule_ring_avail_idx_jump);

/* #6, §2.4.6: the ring names descriptor 4 of 0-3. */
static void rule_ring_head_past_end(void)
{
	struct vring *vq = rng_queue(4);

	offer(vq, 4);
	should_stop(vq, "head 4 in a ring of 4");
}
SCENARIO(rule_ring_head_past_end);

/*
 * Indirect descriptors (§2.4.5.3).
 */

/* #7, §2.4.5.3.1: the console never offered VIRTIO_F_INDIRECT_DESC. */
static void rule_ring_indirect_not_negotiated(void)
{
	struct vring *vq =
		one_queue(CONSOLE_SLOT, VIRTIO_ID_CONSOLE, 0, TRANSMITQ, 4);
	struct vbuf text = vbuf_alloc(6);

	memcpy(text.p, "hello\n", 6);
	vq_add_indirect(vq, &text, 1, NULL, 0);
	vq_kick(vq);
	should_stop(vq, "an indirect table nobody negotiated");
}
SCENARIO(rule_ring_indirect_not_negotiated);

/* #8, §2.4.5.3.1: an indirect table whose entry is another table. */
static void rule_ring_nested_indirect(void)
{
	struct vring *vq = net_indirect_queue(4);
	struct vbuf outer = vbuf_alloc(16), inner = vbuf_alloc(16);

	set_desc((void *)inner.p, buffer(64), 64, R, 0);
	set_desc((void *)outer.p, inner.gpa, 16, INDIRECT, 0);
	set_desc(&vq->desc[0], outer.gpa, 16, INDIRECT, 0);
	offer(vq, 0);
	should_stop(vq, "a table inside a table");
}
SCENARIO(rule_ring_nested_indirect);

/* #9, §2.4.5.3.1: INDIRECT and NEXT on one descriptor. */
static void rule_ring_indirect_and_next(void)
{
	struct vring *vq = net_indirect_queue(4);
	struct vbuf table = vbuf_alloc(16);

	set_desc((void *)table.p, buffer(64), 64, R, 0);
	set_desc(&vq->desc[0], table.gpa, 16, INDIRECT | NEXT, 1);
	set_desc(&vq->desc[1], buffer(64), 64, R, 0);
	offer(vq, 0);
	should_stop(vq, "INDIRECT and NEXT together");
}
SCENARIO(rule_ring_indirect_and_next);

/* #10, §2.4.5.3: a table of one and a half descriptors (24 bytes). */
static void rule_ring_indirect_size(void)
{
	struct vring *vq = net_indirect_queue(4);
	struct vbuf table = vbuf_alloc(32);

	set_desc((void *)table.p, buffer(64), 64, R, 0);
	set_desc(&vq->desc[0], table.gpa, 24, INDIRECT, 0);
	offer(vq, 0);
	should_stop(vq, "an indirect table of 24 bytes");
}
SCENARIO(rule_ring_indirect_size);

/* #10 (lguest adds the empty case), §2.4.5.3: a table of no entries. */
static void rule_ring_indirect_empty(void)
{
	struct vring *vq = net_indirect_queue(4);

	set_desc(&vq->desc[0], buffer(16), 0, INDIRECT, 0);
	offer(vq, 0);
	should_stop(vq, "an empty indirect table");
}
SCENARIO(rule_ring_indirect_empty);

/* #11, §2.4.5.3.1: a table of 8 for a queue of 4. */
static void rule_ring_indirect_too_long(void)
{
	struct vring *vq = net_indirect_queue(4);
	struct vbuf table = vbuf_alloc(8 * 16);
	volatile struct virtq_desc *t = (void *)table.p;
	u64 buf = buffer(64);
	u16 i;

	for (i = 0; i < 8; i++)
		set_desc(&t[i], buf, 8, R | (i < 7 ? NEXT : 0), i + 1);
	set_desc(&vq->desc[0], table.gpa, table.len, INDIRECT, 0);
	offer(vq, 0);
	should_stop(vq, "an indirect table longer than the queue");
}
SCENARIO(rule_ring_indirect_too_long);

/* #2 (the original's check_pointer()), §2.4.5: a table beyond RAM. */
static void rule_ring_indirect_outside_ram(void)
{
	struct vring *vq = net_indirect_queue(4);

	set_desc(&vq->desc[0], ram_size() - 16, 32, INDIRECT, 0);
	offer(vq, 0);
	should_stop(vq, "an indirect table past the end of RAM");
}
SCENARIO(rule_ring_indirect_outside_ram);

/*
 * lguest adds, §2.4.5.3.1: one descriptor, then a full table of four: a
 * chain of five in a queue of four.  Without indirect descriptors no
 * chain can be longer than its table without looping.
 */
static void rule_ring_chain_longer_than_queue(void)
{
	struct vring *vq = net_indirect_queue(4);
	struct vbuf table = vbuf_alloc(4 * 16);
	volatile struct virtq_desc *t = (void *)table.p;
	u64 buf = buffer(64);
	u16 i;

	for (i = 0; i < 4; i++)
		set_desc(&t[i], buf + 12 + 8 * i, 8, R | (i < 3 ? NEXT : 0),
			 i + 1);
	set_desc(&vq->desc[0], buf, 12, R | NEXT, 1);
	set_desc(&vq->desc[1], table.gpa, table.len, INDIRECT, 0);
	offer(vq, 0);
	should_stop(vq, "a chain of 5 in a queue of 4");
}
SCENARIO(rule_ring_chain_longer_than_queue);

/*
 * Which way buffers face, device by device.
 */

/* #14, §5.3.6.1: the console's receiveq, given a buffer to read. */
static void rule_console_rx_readable(void)
{
	struct vring *vq =
		one_queue(CONSOLE_SLOT, VIRTIO_ID_CONSOLE, 0, RECEIVEQ, 4);
	struct vbuf b = vbuf_alloc(16);

	vq_add(vq, &b, 1, NULL, 0);
	vq_kick(vq);
	should_stop(vq, "a device-readable buffer in receiveq");
}
SCENARIO(rule_console_rx_readable);

/* #15, §5.3.6.1: the console's transmitq, given a buffer to write. */
static void rule_console_tx_writable(void)
{
	struct vring *vq =
		one_queue(CONSOLE_SLOT, VIRTIO_ID_CONSOLE, 0, TRANSMITQ, 4);
	struct vbuf b = vbuf_alloc(16);

	vq_add(vq, NULL, 0, &b, 1);
	vq_kick(vq);
	should_stop(vq, "a device-writable buffer in transmitq");
}
SCENARIO(rule_console_tx_writable);

/* #16, §5.1.6: a packet to send that the device may write over. */
static void rule_net_tx_writable(void)
{
	struct vring *vq =
		one_queue(DEVICE_SLOT, VIRTIO_ID_NET, 0, TRANSMITQ, 4);
	struct vbuf hdr = vbuf_alloc(12), frame = vbuf_alloc(60);

	vq_add(vq, &hdr, 1, &frame, 1);
	vq_kick(vq);
	should_stop(vq, "a device-writable buffer in transmitq");
}
SCENARIO(rule_net_tx_writable);

/* #17, §5.1.6: a receive buffer the device may only read. */
static void rule_net_rx_readable(void)
{
	struct vring *vq =
		one_queue(DEVICE_SLOT, VIRTIO_ID_NET, 0, RECEIVEQ, 4);
	struct vbuf b = vbuf_alloc(1526);

	vq_add(vq, &b, 1, NULL, 0);
	vq_kick(vq);
	should_stop(vq, "a device-readable buffer in receiveq");
}
SCENARIO(rule_net_rx_readable);

/* #57, §5.4.6.1: entropy wanted in a buffer the device may only read. */
static void rule_rng_readable(void)
{
	struct vring *vq = rng_queue(4);
	struct vbuf b = vbuf_alloc(16);

	vq_add(vq, &b, 1, NULL, 0);
	vq_kick(vq);
	should_stop(vq, "a device-readable buffer in requestq");
}
SCENARIO(rule_rng_readable);

/*
 * Block requests (§5.2.6): a 16-byte header the device reads, the data,
 * and a status byte it writes.
 */
static struct vring *block_queue(void)
{
	return one_queue(DEVICE_SLOT, VIRTIO_ID_BLOCK, 0, REQUESTQ, 16);
}

static struct vbuf block_header(u32 type, u64 sector)
{
	struct vbuf h = vbuf_alloc(sizeof(struct virtio_blk_outhdr));
	struct virtio_blk_outhdr *hdr = (void *)h.p;

	hdr->type = type;
	hdr->sector = sector;
	return h;
}

/* #1 (the original's "iovec too short"), §5.2.6: 8 bytes of header. */
static void rule_block_short_header(void)
{
	struct vring *vq = block_queue();
	struct vbuf h = block_header(VIRTIO_BLK_T_IN, 0);
	struct vbuf in[2] = { vbuf_alloc(512), vbuf_alloc(1) };

	h.len = 8;
	vq_add(vq, &h, 1, in, 2);
	vq_kick(vq);
	should_stop(vq, "a header of 8 bytes");
}
SCENARIO(rule_block_short_header);

/* #55, §5.2.6: a flush with nowhere to put its status. */
static void rule_block_no_status(void)
{
	struct vring *vq = block_queue();
	struct vbuf h = block_header(VIRTIO_BLK_T_FLUSH, 0);

	vq_add(vq, &h, 1, NULL, 0);
	vq_kick(vq);
	should_stop(vq, "no status byte");
}
SCENARIO(rule_block_no_status);

/* #55, §5.2.6: a status "byte" that is an empty descriptor. */
static void rule_block_empty_status(void)
{
	struct vring *vq = block_queue();
	struct vbuf h = block_header(VIRTIO_BLK_T_FLUSH, 0);
	struct vbuf st = vbuf_alloc(1);

	st.len = 0;
	vq_add(vq, &h, 1, &st, 1);
	vq_kick(vq);
	should_stop(vq, "a status descriptor of 0 bytes");
}
SCENARIO(rule_block_empty_status);

/* lguest adds, §5.2.6.1: a flush names sector 0; this one names 5. */
static void rule_block_flush_sector(void)
{
	struct vring *vq = block_queue();
	struct vbuf h = block_header(VIRTIO_BLK_T_FLUSH, 5);
	struct vbuf st = vbuf_alloc(1);

	vq_add(vq, &h, 1, &st, 1);
	vq_kick(vq);
	should_stop(vq, "a flush of sector 5");
}
SCENARIO(rule_block_flush_sector);

/*
 * lguest adds, §2.2.1 (and the list in §5.1.3.1): GUEST_TSO4 accepted
 * without GUEST_CSUM, which it requires.  Caught at FEATURES_OK, when
 * the features are settled.
 */
static void rule_net_feature_dependency(void)
{
	struct vdev *d = vp_probe(DEVICE_SLOT);
	u8 status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
	u64 common = d->common;

	vp_reset(d);
	writeb(VIRTIO_CONFIG_S_ACKNOWLEDGE, common + VIRTIO_PCI_COMMON_STATUS);
	writeb(status, common + VIRTIO_PCI_COMMON_STATUS);
	d->features = vp_device_features(d);
	check(d->features & BIT_ULL(VIRTIO_NET_F_GUEST_TSO4),
	      "the device offers GUEST_TSO4");
	writel(0, common + VIRTIO_PCI_COMMON_GFSELECT);
	writel((u32)BIT_ULL(VIRTIO_NET_F_GUEST_TSO4),
	       common + VIRTIO_PCI_COMMON_GF);
	writel(1, common + VIRTIO_PCI_COMMON_GFSELECT);
	writel(1, common + VIRTIO_PCI_COMMON_GF); /* VERSION_1 */
	writeb(status | VIRTIO_CONFIG_S_FEATURES_OK,
	       common + VIRTIO_PCI_COMMON_STATUS);
	guest_fail("the launcher let a driver take GUEST_TSO4 without "
		   "GUEST_CSUM");
}
SCENARIO(rule_net_feature_dependency);
