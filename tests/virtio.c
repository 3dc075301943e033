// SPDX-License-Identifier: GPL-2.0
/*
 * virtio.c: the scripted guest's virtio 1.0 PCI driver; see virtio.h.
 *
 * Modelled on Linux's drivers/virtio/virtio_pci_modern*.c (finding the
 * structures, the initialization sequence) and virtio_ring.c (the split
 * ring), kept to what a test needs: one device at a time, polling or one
 * interrupt line, no MSI-X, no event index.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/pci_regs.h>
#include <linux/virtio_pci.h>

#include "virtio.h"

/* Something the device did that a driver would complain about. */
#define device_wrong(...) check(false, __VA_ARGS__)

/* Guest memory for rings and buffers. */
struct vbuf vbuf_alloc(u32 len)
{
	struct vbuf b;

	b.gpa = phys_alloc(len ? len : 1, 16);
	b.len = len;
	b.p = phys(b.gpa, len);
	return b;
}

struct vbuf vbuf_part(struct vbuf b, u32 off, u32 len)
{
	if (off > b.len || len > b.len - off)
		guest_fail("vbuf_part: [%u, %u) is outside a buffer of %u",
			   off, off + len, b.len);
	b.gpa += off;
	b.p += off;
	b.len = len;
	return b;
}

static u64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000 + (u64)ts.tv_nsec / 1000000;
}

/*
 * Finding the device (the PCI core's part).
 */

/*
 * BAR0 as __pci_read_base() sizes it while scanning the bus: write all
 * ones, read back which address bits stuck at zero, put the address back.
 * Memory decoding is off meanwhile (the command register reads 0).
 */
static void size_bar0(struct vdev *d)
{
	u32 orig = pci_read32(d->slot, PCI_BASE_ADDRESS_0), mask;

	pci_write32(d->slot, PCI_BASE_ADDRESS_0, ~0U);
	mask = pci_read32(d->slot, PCI_BASE_ADDRESS_0);
	pci_write32(d->slot, PCI_BASE_ADDRESS_0, orig);

	if (orig & PCI_BASE_ADDRESS_SPACE_IO)
		guest_fail("slot %u: BAR0 %#x is an I/O BAR", d->slot, orig);
	if (orig & PCI_BASE_ADDRESS_MEM_TYPE_MASK)
		device_wrong("slot %u: BAR0 %#x is not a 32-bit memory BAR",
			     d->slot, orig);
	mask &= PCI_BASE_ADDRESS_MEM_MASK;
	d->bar = orig & PCI_BASE_ADDRESS_MEM_MASK;
	d->bar_size = mask & -mask;
	if (!d->bar_size || mask != (u32)-d->bar_size)
		guest_fail("slot %u: BAR0 reads back %#x after all ones: not "
			   "a power-of-two size", d->slot, mask);
	if (d->bar & (d->bar_size - 1))
		device_wrong("slot %u: BAR0 %#x is not aligned to its size %#x",
			     d->slot, d->bar, d->bar_size);
}

/*
 * vp_modern_map_capability()'s checks: long enough, aligned, inside BAR0.
 * Returns the structure's guest-physical address.
 */
static u64 map_cap(struct vdev *d, u8 cap, const char *what, u32 minlen,
		   u32 align, u32 *len)
{
	u8 bar = pci_read8(d->slot, cap + VIRTIO_PCI_CAP_BAR);
	u32 off = pci_read32(d->slot, cap + VIRTIO_PCI_CAP_OFFSET);

	*len = pci_read32(d->slot, cap + VIRTIO_PCI_CAP_LENGTH);
	if (bar != 0)
		guest_fail("slot %u: %s is in BAR%u; lguest has BAR0 only",
			   d->slot, what, bar);
	if (*len < minlen || off % align ||
	    (u64)off + *len > d->bar_size)
		device_wrong("slot %u: %s: %u bytes at BAR0 offset %u: want at "
			     "least %u, aligned to %u, inside %u", d->slot,
			     what, *len, off, minlen, align, d->bar_size);
	return (u64)d->bar + off;
}

/*
 * __pci_find_next_cap(): the first vendor-specific capability on the list
 * from pointer pos on, or 0.  Each entry is read as one word: ID and next.
 */
static u8 next_vendor_cap(struct vdev *d, u8 pos, unsigned int *ttl)
{
	while ((*ttl)--) {
		u16 ent;

		if (pos < 0x40)
			return 0;
		pos &= ~3;
		ent = pci_read16(d->slot, pos);
		if ((ent & 0xff) == 0xff)
			return 0;
		if ((ent & 0xff) == PCI_CAP_ID_VNDR)
			return pos;
		pos = ent >> 8;
	}
	device_wrong("slot %u: the capability list loops", d->slot);
	return 0;
}

/* virtio_pci_find_capability(): the first structure of a type. */
static u8 find_cap(struct vdev *d, u8 cfg_type)
{
	unsigned int ttl = 48;
	u8 pos;

	if (!(pci_read16(d->slot, PCI_STATUS) & PCI_STATUS_CAP_LIST))
		return 0;
	pos = next_vendor_cap(d, pci_read8(d->slot, PCI_CAPABILITY_LIST),
			      &ttl);
	while (pos) {
		if (pci_read8(d->slot, pos + VIRTIO_PCI_CAP_CFG_TYPE) ==
		    cfg_type)
			return pos;
		pos = next_vendor_cap(d, pci_read8(d->slot, pos + 1), &ttl);
	}
	return 0;
}

static void find_structures(struct vdev *d)
{
	u8 common = find_cap(d, VIRTIO_PCI_CAP_COMMON_CFG);
	u8 notify = find_cap(d, VIRTIO_PCI_CAP_NOTIFY_CFG);
	u8 isr = find_cap(d, VIRTIO_PCI_CAP_ISR_CFG);
	u8 device = find_cap(d, VIRTIO_PCI_CAP_DEVICE_CFG);

	if (!common || !notify || !isr)
		guest_fail("slot %u: missing capabilities: common %#x, notify "
			   "%#x, ISR %#x", d->slot, common, notify, isr);
	d->common = map_cap(d, common, "common configuration",
			    sizeof(struct virtio_pci_common_cfg), 4,
			    &d->common_len);
	d->isr = map_cap(d, isr, "ISR status", 1, 1, &d->isr_len);
	d->notify = map_cap(d, notify, "notification structure", 2, 2,
			    &d->notify_len);
	d->notify_off_multiplier = pci_read32(
		d->slot,
		notify + offsetof(struct virtio_pci_notify_cap,
				  notify_off_multiplier));
	if (device)
		d->device = map_cap(d, device, "device configuration", 0, 4,
				    &d->device_len);
	d->pci_cfg_cap = find_cap(d, VIRTIO_PCI_CAP_PCI_CFG);
}

/*
 * The PCI core's scan (IDs, BAR0), then virtio_pci_probe(): enable the
 * function (memory decoding, then bus mastering: 16-bit writes to the
 * command register, which our host takes and ignores), find the virtio
 * structures.
 */
static struct vdev *probed;

struct vdev *vp_probe(unsigned int slot)
{
	struct vdev *d = calloc(1, sizeof(*d));
	u16 vendor = pci_read16(slot, PCI_VENDOR_ID), cmd;

	if (!d)
		guest_fail("vp_probe: out of memory");
	d->next_probed = probed;
	probed = d;
	d->slot = slot;
	d->device_id = pci_read16(slot, PCI_DEVICE_ID);
	if (vendor != VIRTIO_PCI_VENDOR || d->device_id < 0x1040 ||
	    d->device_id > 0x107f)
		guest_fail("slot %u: %04x:%04x is not a modern virtio device",
			   slot, vendor, d->device_id);

	size_bar0(d);
	cmd = pci_read16(slot, PCI_COMMAND);
	pci_write16(slot, PCI_COMMAND, cmd | PCI_COMMAND_MEMORY);
	d->irq = pci_read8(slot, PCI_INTERRUPT_LINE);
	find_structures(d);
	pci_write16(slot, PCI_COMMAND,
		    cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	return d;
}

/*
 * The registers.
 */
u8 vp_common8(struct vdev *d, unsigned int off)
{
	return readb(d->common + off);
}

u16 vp_common16(struct vdev *d, unsigned int off)
{
	return readw(d->common + off);
}

u32 vp_common32(struct vdev *d, unsigned int off)
{
	return readl(d->common + off);
}

static void no_device_config(struct vdev *d, unsigned int off)
{
	if (!d->device)
		guest_fail("slot %u: config offset %u, but the device has no "
			   "configuration", d->slot, off);
}

u8 vp_config8(struct vdev *d, unsigned int off)
{
	no_device_config(d, off);
	return readb(d->device + off);
}

u16 vp_config16(struct vdev *d, unsigned int off)
{
	no_device_config(d, off);
	return readw(d->device + off);
}

u32 vp_config32(struct vdev *d, unsigned int off)
{
	no_device_config(d, off);
	return readl(d->device + off);
}

u64 vp_config64(struct vdev *d, unsigned int off)
{
	unsigned int tries = 0;
	u8 gen, again;
	u64 v;

	do {
		if (++tries > 100)
			guest_fail("slot %u: config_generation never settles",
				   d->slot);
		gen = vp_common8(d, VIRTIO_PCI_COMMON_CFGGENERATION);
		v = vp_config32(d, off);
		v |= (u64)vp_config32(d, off + 4) << 32;
		again = vp_common8(d, VIRTIO_PCI_COMMON_CFGGENERATION);
	} while (gen != again);
	return v;
}

void vp_config_write32(struct vdev *d, unsigned int off, u32 value)
{
	no_device_config(d, off);
	writel(value, d->device + off);
}

u8 vp_status(struct vdev *d)
{
	return vp_common8(d, VIRTIO_PCI_COMMON_STATUS);
}

static void set_status(struct vdev *d, u8 status)
{
	writeb(status, d->common + VIRTIO_PCI_COMMON_STATUS);
}

/* virtio_add_status(): read the status, add a bit, write it back. */
static void add_status(struct vdev *d, u8 bit)
{
	set_status(d, vp_status(d) | bit);
}

/*
 * The PCI configuration access window (§4.1.4.7).  The length goes in
 * before the offset: an offset must never be written that is not a
 * multiple of the length (§4.1.4.7.2).
 */
static u8 window(struct vdev *d, u32 off, u32 len)
{
	u8 cap = d->pci_cfg_cap;

	if (!cap)
		guest_fail("slot %u: no PCI configuration access capability",
			   d->slot);
	pci_write8(d->slot, cap + VIRTIO_PCI_CAP_BAR, 0);
	pci_write32(d->slot, cap + VIRTIO_PCI_CAP_LENGTH, len);
	pci_write32(d->slot, cap + VIRTIO_PCI_CAP_OFFSET, off);
	return cap + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data);
}

u32 vp_window_read(struct vdev *d, u32 off, u32 len)
{
	u8 data = window(d, off, len);

	if (len == 1)
		return pci_read8(d->slot, data);
	if (len == 2)
		return pci_read16(d->slot, data);
	return pci_read32(d->slot, data);
}

void vp_window_write(struct vdev *d, u32 off, u32 len, u32 value)
{
	u8 data = window(d, off, len);

	if (len == 1)
		pci_write8(d->slot, data, (u8)value);
	else if (len == 2)
		pci_write16(d->slot, data, (u16)value);
	else
		pci_write32(d->slot, data, value);
}

/*
 * Starting the device (§3.1.1).
 */

/* vp_reset(): write 0, then wait for the device to read back 0. */
void vp_reset(struct vdev *d)
{
	unsigned int tries = 0;

	set_status(d, 0);
	while (vp_status(d)) {
		if (++tries == 1000)
			guest_fail("slot %u: device_status never reads 0 after "
				   "a reset", d->slot);
	}
}

u64 vp_device_features(struct vdev *d)
{
	u64 f;

	writel(0, d->common + VIRTIO_PCI_COMMON_DFSELECT);
	f = vp_common32(d, VIRTIO_PCI_COMMON_DF);
	writel(1, d->common + VIRTIO_PCI_COMMON_DFSELECT);
	f |= (u64)vp_common32(d, VIRTIO_PCI_COMMON_DF) << 32;
	return f;
}

static void set_driver_features(struct vdev *d, u64 f)
{
	writel(0, d->common + VIRTIO_PCI_COMMON_GFSELECT);
	writel((u32)f, d->common + VIRTIO_PCI_COMMON_GF);
	writel(1, d->common + VIRTIO_PCI_COMMON_GFSELECT);
	writel((u32)(f >> 32), d->common + VIRTIO_PCI_COMMON_GF);
}

u64 vp_init(struct vdev *d, u64 wanted)
{
	u8 status;

	vp_reset(d);
	add_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	add_status(d, VIRTIO_CONFIG_S_DRIVER);

	d->features = vp_device_features(d);
	if (!(d->features & BIT_ULL(VIRTIO_F_VERSION_1)))
		guest_fail("slot %u: the device does not offer VERSION_1 "
			   "(features %#llx)", d->slot,
			   (unsigned long long)d->features);
	d->accepted = (wanted | BIT_ULL(VIRTIO_F_VERSION_1)) & d->features;
	set_driver_features(d, d->accepted);

	add_status(d, VIRTIO_CONFIG_S_FEATURES_OK);
	status = vp_status(d);
	if (!(status & VIRTIO_CONFIG_S_FEATURES_OK))
		guest_fail("slot %u: the device refused features %#llx "
			   "(status %#x)", d->slot,
			   (unsigned long long)d->accepted, status);
	return d->accepted;
}

void vp_driver_ok(struct vdev *d)
{
	add_status(d, VIRTIO_CONFIG_S_DRIVER_OK);
}

/*
 * Queues (§4.1.5.1.3).
 */
static void *ring_alloc(size_t len, size_t align, u64 *gpa)
{
	*gpa = phys_alloc(len, align);
	return phys(*gpa, len);
}

static void write_addr(struct vdev *d, unsigned int lo, u64 gpa)
{
	writel((u32)gpa, d->common + lo);
	writel((u32)(gpa >> 32), d->common + lo + 4);
}

/* vp_modern_map_vq_notify(): notify base + queue_notify_off * mult. */
static u64 notify_address(struct vdev *d, u16 index)
{
	u16 off = vp_common16(d, VIRTIO_PCI_COMMON_Q_NOFF);
	u64 at = (u64)off * d->notify_off_multiplier;

	if (at + 2 > d->notify_len)
		guest_fail("slot %u: queue %u notifies at offset %llu, past "
			   "the notification structure (%u bytes)", d->slot,
			   index, (unsigned long long)at, d->notify_len);
	return d->notify + at;
}

static void init_free_list(struct vring *vq)
{
	u16 i;

	for (i = 0; i < vq->num; i++)
		vq->chain[i] = i + 1;
	vq->free_head = 0;
	vq->num_free = vq->num;
}

struct vring *vp_setup_vq(struct vdev *d, u16 index, u16 size)
{
	struct vring *vq = calloc(1, sizeof(*vq));
	u16 num;

	if (!vq || index >= sizeof(d->vq) / sizeof(d->vq[0]))
		guest_fail("vp_setup_vq: no room for queue %u", index);
	if (index >= vp_common16(d, VIRTIO_PCI_COMMON_NUMQ))
		guest_fail("slot %u: no queue %u (num_queues %u)", d->slot,
			   index, vp_common16(d, VIRTIO_PCI_COMMON_NUMQ));
	writew(index, d->common + VIRTIO_PCI_COMMON_Q_SELECT);
	num = vp_common16(d, VIRTIO_PCI_COMMON_Q_SIZE);
	if (!num || (num & (num - 1)) || num > 256)
		guest_fail("slot %u: queue %u has size %u", d->slot, index,
			   num);
	if (vp_common16(d, VIRTIO_PCI_COMMON_Q_ENABLE))
		guest_fail("slot %u: queue %u is already enabled", d->slot,
			   index);
	if (size && size < num)
		num = size;

	vq->dev = d;
	vq->index = index;
	vq->num = num;
	vq->desc = ring_alloc(sizeof(*vq->desc) * num, VIRTQ_DESC_ALIGN,
			      &vq->desc_gpa);
	vq->avail = ring_alloc(sizeof(*vq->avail) + 2 * num + 2,
			       VIRTQ_AVAIL_ALIGN, &vq->avail_gpa);
	vq->used = ring_alloc(sizeof(*vq->used) + 8 * num + 2,
			      VIRTQ_USED_ALIGN, &vq->used_gpa);
	init_free_list(vq);

	writew(num, d->common + VIRTIO_PCI_COMMON_Q_SIZE);
	write_addr(d, VIRTIO_PCI_COMMON_Q_DESCLO, vq->desc_gpa);
	write_addr(d, VIRTIO_PCI_COMMON_Q_AVAILLO, vq->avail_gpa);
	write_addr(d, VIRTIO_PCI_COMMON_Q_USEDLO, vq->used_gpa);
	vq->notify = notify_address(d, index);
	writew(1, d->common + VIRTIO_PCI_COMMON_Q_ENABLE);
	vq->replaced = d->vq[index];
	d->vq[index] = vq;
	return vq;
}

/*
 * Interrupts.
 */
u8 vp_read_isr(struct vdev *d)
{
	return readb(d->isr);
}

bool vp_wait_irq(struct vdev *d, unsigned int timeout_ms)
{
	if (!irq_wait(d->irq, timeout_ms))
		return false;
	d->interrupts++;
	d->isr_seen = vp_read_isr(d);
	if (d->isr_seen & VIRTIO_ISR_QUEUE)
		d->queue_interrupts++;
	return true;
}

/*
 * The ring.
 */

/* One descriptor: written field by field, as the device may be looking. */
static void set_desc(volatile struct virtq_desc *desc, const struct vbuf *b,
		     u16 flags, u16 next)
{
	desc->addr = b->gpa;
	desc->len = b->len;
	desc->flags = flags;
	desc->next = next;
}

/* Which segment of out[] then in[] is number i. */
static const struct vbuf *segment(const struct vbuf *out, unsigned int n_out,
				  const struct vbuf *in, unsigned int i,
				  u16 *flags)
{
	*flags = i < n_out ? 0 : VIRTQ_DESC_F_WRITE;
	return i < n_out ? &out[i] : &in[i - n_out];
}

/* Offer the chain at head: the avail entry, a barrier, the index. */
static void publish(struct vring *vq, u16 head)
{
	vq->avail->ring[vq->avail_idx & (vq->num - 1)] = head;
	/* The device must see the entry before the index that covers it. */
	virtio_wmb();
	vq->avail->idx = ++vq->avail_idx;
}

/* What we remember of a buffer in flight, to check the device's answer. */
static void track(struct vring *vq, u16 head, u16 ndesc, bool indirect,
		  const struct vbuf *in, unsigned int n_in)
{
	u64 bytes = 0;

	while (n_in--)
		bytes += in++->len;
	vq->inflight[head].ndesc = ndesc;
	vq->inflight[head].indirect = indirect;
	vq->inflight[head].in_bytes = bytes;
}

static void need_free(struct vring *vq, unsigned int n)
{
	if (!n || n > vq->num_free)
		guest_fail("slot %u queue %u: %u descriptors wanted, %u free",
			   vq->dev->slot, vq->index, n, vq->num_free);
}

int vq_add(struct vring *vq, const struct vbuf *out, unsigned int n_out,
	   const struct vbuf *in, unsigned int n_in)
{
	unsigned int total = n_out + n_in, k;
	u16 head = vq->free_head, i = head, flags;

	need_free(vq, total);
	for (k = 0; k < total; k++) {
		const struct vbuf *b = segment(out, n_out, in, k, &flags);

		if (k + 1 < total)
			flags |= VIRTQ_DESC_F_NEXT;
		set_desc(&vq->desc[i], b, flags, vq->chain[i]);
		if (k + 1 < total)
			i = vq->chain[i];
	}
	vq->free_head = vq->chain[i];
	vq->num_free -= total;
	track(vq, head, total, false, in, n_in);
	publish(vq, head);
	return head;
}

int vq_add_indirect(struct vring *vq, const struct vbuf *out,
		    unsigned int n_out, const struct vbuf *in,
		    unsigned int n_in)
{
	unsigned int total = n_out + n_in, k;
	struct vbuf table = vbuf_alloc(total * sizeof(struct virtq_desc));
	volatile struct virtq_desc *t = (void *)table.p;
	u16 head = vq->free_head, flags;

	need_free(vq, 1);
	for (k = 0; k < total; k++) {
		const struct vbuf *b = segment(out, n_out, in, k, &flags);

		if (k + 1 < total)
			flags |= VIRTQ_DESC_F_NEXT;
		set_desc(&t[k], b, flags, k + 1 < total ? k + 1 : 0);
	}
	vq->free_head = vq->chain[head];
	set_desc(&vq->desc[head], &table, VIRTQ_DESC_F_INDIRECT, 0);
	vq->num_free--;
	track(vq, head, 1, true, in, n_in);
	publish(vq, head);
	return head;
}

bool vq_kick(struct vring *vq)
{
	/* Our new index must be out before we read the device's flags. */
	virtio_mb();
	if (vq->used->flags & VIRTQ_USED_F_NO_NOTIFY) {
		vq->kicks_skipped++;
		return false;
	}
	writew(vq->index, vq->notify);
	vq->kicks++;
	return true;
}

/* detach_buf(): the chain at head goes back on the free list. */
static void detach(struct vring *vq, u16 head)
{
	u16 i = head, n = vq->inflight[head].ndesc;

	while (--n)
		i = vq->chain[i];
	vq->chain[i] = vq->free_head;
	vq->free_head = head;
	vq->num_free += vq->inflight[head].ndesc;
	vq->inflight[head].ndesc = 0;
}

int vq_get_used(struct vring *vq, u32 *len)
{
	volatile struct virtq_used_elem *e;
	u32 id;

	if (vq->last_used == vq->used->idx)
		return -1;
	/* Read the entry only after the index that covers it. */
	virtio_rmb();
	e = &vq->used->ring[vq->last_used & (vq->num - 1)];
	id = e->id;
	*len = e->len;
	if (id >= vq->num || !vq->inflight[id].ndesc)
		guest_fail("slot %u queue %u: used entry %u names descriptor "
			   "%u, which is not a buffer we offered",
			   vq->dev->slot, vq->index, vq->last_used, id);
	if (*len > vq->inflight[id].in_bytes)
		device_wrong("slot %u queue %u: the device says it wrote %u "
			     "bytes into buffer %u, which has %llu writable",
			     vq->dev->slot, vq->index, *len, id,
			     (unsigned long long)vq->inflight[id].in_bytes);
	vq->last_used++;
	detach(vq, (u16)id);
	return (int)id;
}

int vq_wait_used(struct vring *vq, u32 *len)
{
	u64 deadline = now_ms() + VIRTIO_TIMEOUT_MS;
	int head;

	while ((head = vq_get_used(vq, len)) < 0) {
		if (now_ms() > deadline)
			guest_fail("slot %u queue %u: no buffer used after "
				   "%u ms", vq->dev->slot, vq->index,
				   VIRTIO_TIMEOUT_MS);
		vp_wait_irq(vq->dev, 20);
	}
	return head;
}

void vq_disable_cb(struct vring *vq)
{
	vq->avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
	virtio_mb();
}

void vq_enable_cb(struct vring *vq)
{
	vq->avail->flags = 0;
	virtio_mb();
}
