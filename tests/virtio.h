/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio.h: a virtio 1.0 PCI driver for the scripted guest.
 *
 * The scenarios talk to the launcher's devices the way Linux does, through
 * virtio_pci_modern and virtio_ring, only in a few hundred lines: find the
 * device on the PCI bus, walk its capabilities to the virtio structures in
 * BAR0, negotiate features, set up split virtqueues in guest memory, and
 * move buffers through them.  A scenario then reads like a driver:
 *
 *	struct vdev *d = vp_probe(2);
 *	struct vring *rq;
 *	struct vbuf out[1], in[2];	(header; data, status: vbuf_alloc())
 *	u32 len;
 *
 *	vp_init(d, BIT_ULL(VIRTIO_BLK_F_FLUSH));
 *	rq = vp_setup_vq(d, 0, 128);
 *	vp_driver_ok(d);
 *	...
 *	vq_add(rq, out, 1, in, 2);
 *	vq_kick(rq);
 *	vq_wait_used(rq, &len);
 *
 * Every register access is a trapping instruction (guest.h), so the launcher
 * checks each step exactly as it would for a real guest kernel; a launcher
 * that stops us for a correct driver fails the test with its message.  The
 * driver checks the device in turn: what it finds wrong is a failed check().
 *
 * The ring layout below is the specification's (virtio 1.0 §2.4), written
 * out here rather than taken from the launcher's own headers.
 */
#ifndef LGSTUB_VIRTIO_H
#define LGSTUB_VIRTIO_H

#include <linux/virtio_config.h>

#include "guest.h"

/* PCI IDs (virtio 1.0 §4.1.2): a modern device is 0x1040 + its type. */
#define VIRTIO_PCI_VENDOR 0x1af4
#define VIRTIO_PCI_MODERN_BASE 0x1040

/* Feature bits of the transport and the ring (§6). */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#ifndef VIRTIO_F_VERSION_1
#define VIRTIO_F_VERSION_1 32
#endif
#define BIT_ULL(n) (1ULL << (n))

/* The split virtqueue (§2.4.5 - §2.4.8), as the driver lays it out. */
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1

/* The alignment §2.4 asks of each part. */
#define VIRTQ_DESC_ALIGN 16
#define VIRTQ_AVAIL_ALIGN 2
#define VIRTQ_USED_ALIGN 4

struct virtq_desc {
	u64 addr;
	u32 len;
	u16 flags;
	u16 next;
};

struct virtq_avail {
	u16 flags;
	u16 idx;
	u16 ring[];
};

struct virtq_used_elem {
	u32 id;
	u32 len;
};

struct virtq_used {
	u16 flags;
	u16 idx;
	struct virtq_used_elem ring[];
};

/* The ISR status bit that says a queue was used (§4.1.4.5). */
#define VIRTIO_ISR_QUEUE 1

/* How long the driver waits for the device before it gives up. */
#define VIRTIO_TIMEOUT_MS 10000

/*
 * A buffer in guest memory: where the device finds it (gpa), how long it
 * is, and where we see it.
 */
struct vbuf {
	u64 gpa;
	u32 len;
	u8 *p;
};

/* len zeroed bytes, from phys_alloc(). */
struct vbuf vbuf_alloc(u32 len);
/* Bytes [off, off + len) of b, as a buffer of its own. */
struct vbuf vbuf_part(struct vbuf b, u32 off, u32 len);

struct vdev;

/* One split virtqueue, and the driver's bookkeeping for it. */
struct vring {
	struct vdev *dev;
	u16 index;
	u16 num;			/* entries, a power of 2 */
	u64 desc_gpa, avail_gpa, used_gpa;
	volatile struct virtq_desc *desc;
	volatile struct virtq_avail *avail;
	volatile struct virtq_used *used;
	u64 notify;			/* where to write our index */

	u16 free_head, num_free;	/* unused descriptors */
	u16 avail_idx;			/* our copy of avail->idx */
	u16 last_used;			/* next used entry to look at */
	/*
	 * Our own copy of each descriptor's next, which chains the free
	 * ones too (Linux's desc_extra): we never trust the ring for it.
	 */
	u16 chain[256];
	struct {
		u16 ndesc;		/* descriptors the buffer holds */
		bool indirect;
		u64 in_bytes;		/* device-writable bytes in it */
	} inflight[256];

	unsigned int kicks, kicks_skipped;
	/* The queue this one replaced, after a reset: kept, as devices are. */
	struct vring *replaced;
};

/* A virtio PCI device, as the driver found it. */
struct vdev {
	unsigned int slot, irq;
	u16 device_id;
	u32 bar, bar_size;
	/* Guest-physical addresses of the virtio structures in BAR0. */
	u64 common, notify, isr, device;
	u32 common_len, notify_len, isr_len, device_len;
	u32 notify_off_multiplier;
	u8 pci_cfg_cap;			/* the PCI_CFG capability, or 0 */

	u64 features;			/* offered */
	u64 accepted;			/* negotiated */
	struct vring *vq[8];

	u8 isr_seen;			/* ISR at the last interrupt */
	unsigned int interrupts;	/* how many we took */
	unsigned int queue_interrupts;	/* ... with VIRTIO_ISR_QUEUE set */

	/*
	 * Every device probed, newest first.  The guest never frees one (a
	 * scenario may use it to its end); held here, none is a leak to
	 * LeakSanitizer ("make check SANITIZE=1").
	 */
	struct vdev *next_probed;
};

/*
 * Finding and starting the device (virtio 1.0 §3.1 and §4.1).
 *
 * vp_probe() is the PCI core and virtio_pci_probe(): check the IDs, enable
 * the device, size BAR0, walk the capability list.  vp_init() is the first
 * half of virtio_dev_probe(): reset, ACKNOWLEDGE, DRIVER, read the
 * features, accept wanted & offered (VERSION_1 always: a modern driver
 * needs it), FEATURES_OK, and check the device kept it.  The scenario then
 * sets up its queues and calls vp_driver_ok().
 */
struct vdev *vp_probe(unsigned int slot);
void vp_reset(struct vdev *d);
u64 vp_init(struct vdev *d, u64 wanted);
void vp_driver_ok(struct vdev *d);
u8 vp_status(struct vdev *d);

/* The 64 feature bits a device offers, through device_feature_select. */
u64 vp_device_features(struct vdev *d);

/*
 * Queue index's set-up (§4.1.5.1.3): select it, read its size, shrink it
 * to size if that is smaller (0 keeps the device's), lay the three parts
 * out in guest memory at their alignment, tell the device where, find the
 * notify address, enable it.
 */
struct vring *vp_setup_vq(struct vdev *d, u16 index, u16 size);

/*
 * The common configuration and the device configuration, by offset, each
 * field with an access of its own width.
 */
u8 vp_common8(struct vdev *d, unsigned int off);
u16 vp_common16(struct vdev *d, unsigned int off);
u32 vp_common32(struct vdev *d, unsigned int off);
u8 vp_config8(struct vdev *d, unsigned int off);
u16 vp_config16(struct vdev *d, unsigned int off);
u32 vp_config32(struct vdev *d, unsigned int off);
/* Two 32-bit reads, retried until config_generation holds still. */
u64 vp_config64(struct vdev *d, unsigned int off);
void vp_config_write32(struct vdev *d, unsigned int off, u32 value);

/*
 * The PCI configuration access capability (§4.1.4.7): point its window at
 * len bytes at BAR0 offset off, then read or write pci_cfg_data.
 */
u32 vp_window_read(struct vdev *d, u32 off, u32 len);
void vp_window_write(struct vdev *d, u32 off, u32 len, u32 value);

/*
 * The interrupt: wait up to timeout_ms for the device's line (from
 * PCI_INTERRUPT_LINE), then read ISR status as an interrupt handler does,
 * which clears it; d->isr_seen says what it held.  False if none came.
 */
bool vp_wait_irq(struct vdev *d, unsigned int timeout_ms);
u8 vp_read_isr(struct vdev *d);

/*
 * The ring (virtio_ring's split queue).
 *
 * vq_add() chains n_out device-readable segments, then n_in
 * device-writable ones, into free descriptors, puts the head in the
 * available ring and publishes the new index after a write barrier; it
 * returns the head.  vq_add_indirect() puts the same chain in an indirect
 * table (§2.4.5.3), taking one descriptor of the ring.
 *
 * vq_kick() notifies the device, after a full barrier, unless the device
 * set VIRTQ_USED_F_NO_NOTIFY; it returns whether it did.
 *
 * vq_get_used() takes the next used entry, if there is one: its head (or
 * -1) and the length the device wrote; its descriptors are free again.
 * vq_wait_used() waits for one, sleeping on the interrupt, and fails the
 * guest if none comes within VIRTIO_TIMEOUT_MS.
 *
 * vq_disable_cb() and vq_enable_cb() set and clear
 * VIRTQ_AVAIL_F_NO_INTERRUPT (§2.4.7).
 */
int vq_add(struct vring *vq, const struct vbuf *out, unsigned int n_out,
	   const struct vbuf *in, unsigned int n_in);
int vq_add_indirect(struct vring *vq, const struct vbuf *out,
		    unsigned int n_out, const struct vbuf *in,
		    unsigned int n_in);
bool vq_kick(struct vring *vq);
int vq_get_used(struct vring *vq, u32 *len);
int vq_wait_used(struct vring *vq, u32 *len);
void vq_disable_cb(struct vring *vq);
void vq_enable_cb(struct vring *vq);

/* Memory barriers: C11 fences, as the launcher's. */
#define virtio_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define virtio_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define virtio_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)

#endif /* LGSTUB_VIRTIO_H */
