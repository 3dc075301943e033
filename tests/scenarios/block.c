// SPDX-License-Identifier: GPL-2.0
/*
 * scenarios/block.c: the block device (virtio 1.0 §5.2), driven as
 * drivers/block/virtio_blk.c drives it: one queue, requestq, each request
 * a device-readable header (type, priority, sector), then the data
 * (device-readable for a write, device-writable for a read), then one
 * device-writable status byte.
 *
 * The test runs the launcher with --block=<disk> as its only device (slot
 * 2) and tells us, in the environment:
 *
 *	LGSTUB_BLOCK_IMAGE=<path>	a copy of the disk as it was
 *	LGSTUB_BLOCK_DATA=<path>	bytes to write, taken in order
 *	LGSTUB_BLOCK_WRITES="S:N ..."	write N sectors at sector S, each
 *
 * The test itself checks, afterwards, that the disk file changed exactly
 * there.  The block_bad_* scenarios each send one request a driver must
 * never send, for the launcher to refuse; the test checks the message, and
 * that the file did not change at all.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_pci.h>

#include "../virtio.h"

#define BLOCK_SLOT 2
#define SECTOR 512
#define SEG_MAX 254

static struct {
	struct vdev *d;
	struct vring *rq;
	u64 capacity;
	u8 *image;
	size_t image_size;
	u8 *data;
	size_t data_size, data_used;
} blk;

static u8 *read_file(const char *env, size_t *size)
{
	const char *path = getenv(env);
	FILE *f;
	u8 *buf;
	long len;

	if (!path || !*path)
		guest_fail("block: the test did not set %s", env);
	f = fopen(path, "re");
	if (!f || fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0)
		guest_fail("block: cannot read %s", path);
	buf = malloc((size_t)len + 1);
	rewind(f);
	if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len)
		guest_fail("block: cannot read %s", path);
	fclose(f);
	*size = (size_t)len;
	return buf;
}

/*
 * virtblk_probe(): the IDs, the features (we would take read-only, block
 * size, indirect descriptors and more if they were offered), the capacity
 * and seg_max, one queue.
 */
static void block_probe(void)
{
	u64 wanted = BIT_ULL(VIRTIO_BLK_F_SEG_MAX) |
		     BIT_ULL(VIRTIO_BLK_F_FLUSH) | BIT_ULL(VIRTIO_BLK_F_RO) |
		     BIT_ULL(VIRTIO_BLK_F_BLK_SIZE) |
		     BIT_ULL(VIRTIO_BLK_F_SIZE_MAX) |
		     BIT_ULL(VIRTIO_F_INDIRECT_DESC);

	blk.d = vp_probe(BLOCK_SLOT);
	check_eq(blk.d->device_id, VIRTIO_PCI_MODERN_BASE + VIRTIO_ID_BLOCK,
		 "slot 2 device ID (virtio 1.0 block device)");
	vp_init(blk.d, wanted);
	check_eq(blk.d->features,
		 BIT_ULL(VIRTIO_F_VERSION_1) | BIT_ULL(VIRTIO_BLK_F_SEG_MAX) |
			 BIT_ULL(VIRTIO_BLK_F_FLUSH),
		 "features offered: VERSION_1, SEG_MAX, FLUSH");
	check_eq(blk.d->device_len, offsetof(struct virtio_blk_config,
					     max_discard_sectors),
		 "device configuration length (capacity to num_queues)");
	blk.capacity = vp_config64(blk.d, offsetof(struct virtio_blk_config,
						   capacity));
	check_eq(vp_config32(blk.d, offsetof(struct virtio_blk_config,
					     seg_max)),
		 SEG_MAX, "seg_max (a full queue less header and status)");
	blk.rq = vp_setup_vq(blk.d, 0, 0);
	vp_driver_ok(blk.d);
}

/*
 * One request, every part given: out[] (header first, then any data),
 * in[] (any data, the status byte last).  Returns the status byte and the
 * length the device said it wrote.
 */
static u8 block_request(const struct vbuf *out, unsigned int n_out,
			const struct vbuf *in, unsigned int n_in, bool indirect,
			u32 *len)
{
	/* The status is the last byte of the last writable segment. */
	u8 *status = in[n_in - 1].p + in[n_in - 1].len - 1;
	int head;

	*status = 0xff;
	if (indirect)
		head = vq_add_indirect(blk.rq, out, n_out, in, n_in);
	else
		head = vq_add(blk.rq, out, n_out, in, n_in);
	vq_kick(blk.rq);
	if (vq_wait_used(blk.rq, len) != head)
		check(false, "the used entry names another request");
	return *status;
}

static struct vbuf block_header(u32 type, u64 sector)
{
	struct vbuf h = vbuf_alloc(sizeof(struct virtio_blk_outhdr));
	struct virtio_blk_outhdr *hdr = (void *)h.p;

	hdr->type = type;
	hdr->ioprio = 0;
	hdr->sector = sector;
	return h;
}

/* The simplest request: header, one data segment, status. */
static u8 block_simple(u32 type, u64 sector, struct vbuf data, u32 *len)
{
	struct vbuf h = block_header(type, sector), st = vbuf_alloc(1);
	struct vbuf in[2] = { data, st }, out[2] = { h, data };

	if (type == VIRTIO_BLK_T_OUT)
		return block_request(out, 2, &st, 1, false, len);
	return block_request(&h, 1, in, 2, false, len);
}

/* Sectors [sector, sector + n) of the disk as it was, from the image. */
static const u8 *image_at(u64 sector, u64 n)
{
	if ((sector + n) * SECTOR > blk.image_size)
		guest_fail("block: sectors %llu+%llu are outside the image",
			   (unsigned long long)sector,
			   (unsigned long long)n);
	return blk.image + sector * SECTOR;
}

/* Read n sectors at sector, in one segment; compare with want. */
static void check_read(u64 sector, u32 n, const u8 *want, const char *what)
{
	struct vbuf data = vbuf_alloc(n * SECTOR);
	u32 len = 0;
	u8 st = block_simple(VIRTIO_BLK_T_IN, sector, data, &len);

	check_eq(st, VIRTIO_BLK_S_OK, what);
	check_eq(len, n * SECTOR + 1, "... used length: data and status");
	check(memcmp(data.p, want, n * SECTOR) == 0,
	      "... %u sectors at %llu are the disk's", n,
	      (unsigned long long)sector);
}

/*
 * The first request, watched closely: used, interrupt, ISR 1 then 0.
 */
static void block_first_read(void)
{
	struct vbuf h = block_header(VIRTIO_BLK_T_IN, 0), st = vbuf_alloc(1);
	struct vbuf in[2] = { vbuf_alloc(SECTOR), st };
	u32 len;
	int head = vq_add(blk.rq, &h, 1, in, 2);

	check(vq_kick(blk.rq), "an idle device wants notifying");
	check(vp_wait_irq(blk.d, VIRTIO_TIMEOUT_MS),
	      "the interrupt comes on line %u", blk.d->irq);
	check_eq(blk.d->isr_seen, VIRTIO_ISR_QUEUE, "ISR status: queue used");
	check_eq(vp_read_isr(blk.d), 0, "ISR status read again: 0");
	check_eq(vq_get_used(blk.rq, &len), head, "sector 0: used");
	check_eq(*st.p, VIRTIO_BLK_S_OK, "sector 0: status OK");
	check(memcmp(in[0].p, image_at(0, 1), SECTOR) == 0,
	      "sector 0 is the disk's");
}

/* Reads at the start, the middle and the very end of the disk. */
static void block_reads(void)
{
	u64 mid = blk.capacity / 2, last = blk.capacity - 1;

	check_eq(blk.capacity * SECTOR, blk.image_size,
		 "capacity in sectors is the file's size");
	block_first_read();
	check_read(1, 7, image_at(1, 7), "sectors 1-7: status OK");
	check_read(mid, 8, image_at(mid, 8), "8 sectors mid-disk: status OK");
	check_read(last, 1, image_at(last, 1), "the last sector: status OK");
}

/*
 * A read laid out as no driver of Linux's would, but as §2.4.4 allows: the
 * header in two descriptors, the data in odd pieces, the status byte
 * sharing the last data descriptor.
 */
static void block_read_framing(void)
{
	struct vbuf h = block_header(VIRTIO_BLK_T_IN, 3);
	struct vbuf out[2] = { vbuf_part(h, 0, 4), vbuf_part(h, 4, 12) };
	struct vbuf buf = vbuf_alloc(3 * SECTOR + 1);
	struct vbuf in[3] = { vbuf_part(buf, 0, 100), vbuf_part(buf, 100, 412),
			      vbuf_part(buf, 512, SECTOR + SECTOR + 1) };
	u32 len;
	u8 st = block_request(out, 2, in, 3, false, &len);

	check_eq(st, VIRTIO_BLK_S_OK, "a read framed oddly: status OK");
	check_eq(len, 3 * SECTOR + 1, "... used length 1537");
	check(memcmp(buf.p, image_at(3, 3), 3 * SECTOR) == 0,
	      "... the 3 sectors at 3 are the disk's");
}

/* seg_max data segments: header, 254 sectors, status fill the queue. */
static void block_read_seg_max(void)
{
	struct vbuf h = block_header(VIRTIO_BLK_T_IN, 10);
	struct vbuf buf = vbuf_alloc(SEG_MAX * SECTOR + 1);
	struct vbuf in[SEG_MAX + 1];
	unsigned int i;
	u32 len;
	u8 st;

	for (i = 0; i < SEG_MAX; i++)
		in[i] = vbuf_part(buf, i * SECTOR, SECTOR);
	in[SEG_MAX] = vbuf_part(buf, SEG_MAX * SECTOR, 1);
	check_eq(blk.rq->num_free, blk.rq->num, "the queue is empty");
	st = block_request(&h, 1, in, SEG_MAX + 1, false, &len);
	check_eq(st, VIRTIO_BLK_S_OK, "a read of seg_max segments: status OK");
	check(memcmp(buf.p, image_at(10, SEG_MAX), SEG_MAX * SECTOR) == 0,
	      "... its 254 sectors are the disk's");
}

/* The next n sectors' worth of the test's data. */
static const u8 *next_data(u32 n)
{
	const u8 *p = blk.data + blk.data_used;

	if (blk.data_used + (size_t)n * SECTOR > blk.data_size)
		guest_fail("block: LGSTUB_BLOCK_DATA is too short");
	blk.data_used += (size_t)n * SECTOR;
	return p;
}

/*
 * Write n sectors at sector, laid out the k-th way: one data segment;
 * pieces of 1, 511 and the rest; or the header split and the data in two.
 */
static void block_write(unsigned int k, u64 sector, u32 n)
{
	struct vbuf h = block_header(VIRTIO_BLK_T_OUT, sector);
	struct vbuf data = vbuf_alloc(n * SECTOR), st = vbuf_alloc(1);
	u32 all = n * SECTOR, half = all / 2, len;
	struct vbuf out[4];
	unsigned int n_out = 0;
	u8 status;

	memcpy(data.p, next_data(n), all);
	if (k % 3 == 2) {
		out[n_out++] = vbuf_part(h, 0, 12);
		out[n_out++] = vbuf_part(h, 12, 4);
	} else {
		out[n_out++] = h;
	}
	if (k % 3 == 0) {
		out[n_out++] = data;
	} else if (k % 3 == 1) {
		out[n_out++] = vbuf_part(data, 0, 1);
		out[n_out++] = vbuf_part(data, 1, 511);
		if (all > SECTOR)
			out[n_out++] = vbuf_part(data, SECTOR, all - SECTOR);
	} else {
		out[n_out++] = vbuf_part(data, 0, half);
		out[n_out++] = vbuf_part(data, half, all - half);
	}
	status = block_request(out, n_out, &st, 1, false, &len);
	check_eq(status, VIRTIO_BLK_S_OK, "write: status OK");
	check_eq(len, 1, "... used length 1: the status byte only");
	check_read(sector, n, data.p, "... read back: status OK");
}

/* Each of the test's writes, then a flush. */
static void block_writes(void)
{
	const char *list = getenv("LGSTUB_BLOCK_WRITES");
	unsigned long long sector;
	unsigned int n, k = 0;
	int used;

	blk.data = read_file("LGSTUB_BLOCK_DATA", &blk.data_size);
	while (list && sscanf(list, " %llu:%u%n", &sector, &n, &used) == 2) {
		guest_note("write %u: %u sectors at %llu", k, n, sector);
		block_write(k++, sector, n);
		list += used;
	}
	check(k > 0, "the test asked for %u writes", k);
}

/* VIRTIO_BLK_T_FLUSH: sector 0, no data, status OK (§5.2.6.1). */
static void block_flush(void)
{
	struct vbuf h = block_header(VIRTIO_BLK_T_FLUSH, 0), st = vbuf_alloc(1);
	u32 len;

	check_eq(block_request(&h, 1, &st, 1, false, &len), VIRTIO_BLK_S_OK,
		 "flush: status OK");
	check_eq(len, 1, "flush: used length 1");
}

/*
 * A type the device does not know (GET_ID, whose feature nobody offered):
 * VIRTIO_BLK_S_UNSUPP, and the buffer untouched.  The original launcher
 * read sector 0 into it.
 */
static void block_get_id(void)
{
	struct vbuf h = block_header(VIRTIO_BLK_T_GET_ID, 0);
	struct vbuf in[2] = { vbuf_alloc(VIRTIO_BLK_ID_BYTES), vbuf_alloc(1) };
	unsigned int i, touched = 0;
	u32 len;

	memset(in[0].p, 0xaa, VIRTIO_BLK_ID_BYTES);
	check_eq(block_request(&h, 1, in, 2, false, &len),
		 VIRTIO_BLK_S_UNSUPP, "GET_ID: status UNSUPP");
	check_eq(len, 1, "GET_ID: used length 1: the status byte only");
	for (i = 0; i < VIRTIO_BLK_ID_BYTES; i++)
		touched += in[0].p[i] != 0xaa;
	check_eq(touched, 0, "GET_ID: bytes of the ID buffer written");
}

static void block_io(void)
{
	blk.image = read_file("LGSTUB_BLOCK_IMAGE", &blk.image_size);
	block_probe();
	block_reads();
	block_read_framing();
	block_read_seg_max();
	block_writes();
	block_flush();
	block_get_id();
}
SCENARIO(block_io);

/*
 * Requests a driver must never send.  Each should stop the launcher before
 * a byte moves; if the device answers instead, that is our failure.  A
 * negative sector counts back from the capacity.
 */
static void block_bad(u32 type, long long sector, u32 n, bool indirect)
{
	struct vbuf h, st = vbuf_alloc(1), data = vbuf_alloc(n * SECTOR);
	struct vbuf out[2], in[2];
	u64 at;
	u32 len;
	u8 status;

	block_probe();
	at = sector < 0 ? blk.capacity + sector : (u64)sector;
	guest_note("capacity %llu: %s of %u sectors at %llu%s",
		   (unsigned long long)blk.capacity,
		   type == VIRTIO_BLK_T_OUT ? "write" : "read", n,
		   (unsigned long long)at, indirect ? ", indirect" : "");
	h = block_header(type, at);
	memset(data.p, 0x5a, data.len);
	out[0] = h;
	out[1] = data;
	in[0] = data;
	in[1] = st;
	if (type == VIRTIO_BLK_T_OUT)
		status = block_request(out, 2, &st, 1, indirect, &len);
	else
		status = block_request(&h, 1, in, 2, indirect, &len);
	check(false, "the device served the request (status %u) instead of "
	      "stopping", status);
}

/* Two sectors from the last one: the second is past the end. */
static void block_bad_write_past_end(void)
{
	block_bad(VIRTIO_BLK_T_OUT, -1, 2, false);
}
SCENARIO(block_bad_write_past_end);

static void block_bad_read_past_end(void)
{
	block_bad(VIRTIO_BLK_T_IN, -1, 2, false);
}
SCENARIO(block_bad_read_past_end);

/* 2^55 + 1: times 512 it wraps to 512, well inside the disk. */
static void block_bad_sector_overflow(void)
{
	block_bad(VIRTIO_BLK_T_OUT, (1LL << 55) + 1, 1, false);
}
SCENARIO(block_bad_sector_overflow);

/* Indirect descriptors, which the block device does not offer. */
static void block_bad_indirect(void)
{
	block_bad(VIRTIO_BLK_T_OUT, 0, 1, true);
}
SCENARIO(block_bad_indirect);

/*
 * block_resets: a stream of requests broken by resets and a reboot.  The
 * test gives the steps in LGSTUB_BLOCK_STEPS, words separated by spaces:
 *
 *	W:S:N		write N sectors at S, wait till it is used, read it
 *			back
 *	F		flush, and wait
 *	IK:S:N,...	in flight: a write of N sectors at S for each (a read,
 *			for rS:N), one kick, and a reset as soon as the device
 *			has used K of them (K may be 0), while it works on
 *			the rest; then the device set up again, and each
 *			written sector read back
 *	BK:S:N,...	in flight the same way, then a reboot; the next boot
 *			reads them back
 *	P:S:N		a write of N sectors at S that goes past the end: the
 *			launcher is to stop on it, so it comes last
 *
 * A write of sector S always writes sector S of LGSTUB_BLOCK_NEW, a file
 * the disk's size, so the test knows what each sector of the disk may
 * hold afterwards: one written by a W step, the new bytes; one written
 * only in flight, the old (LGSTUB_BLOCK_IMAGE) or the new, whole, and
 * what we read back ("# in flight: sector S: old" or "new"); any other,
 * the old.
 */
static struct {
	const u8 *new;
	size_t new_size;
} rs;

static const u8 *new_at(u64 sector, u64 n)
{
	if ((sector + n) * SECTOR > rs.new_size)
		guest_fail("block: sectors %llu+%llu are outside %s",
			   (unsigned long long)sector, (unsigned long long)n,
			   "LGSTUB_BLOCK_NEW");
	return rs.new + sector * SECTOR;
}

/* DRIVER_OK again after a reset: the features, the queue, as at probe. */
static void block_start(void)
{
	vp_init(blk.d, BIT_ULL(VIRTIO_BLK_F_SEG_MAX) |
			       BIT_ULL(VIRTIO_BLK_F_FLUSH));
	blk.rq = vp_setup_vq(blk.d, 0, 0);
	vp_driver_ok(blk.d);
}

/* The next "S:N" (or "rS:N") of a list; false at its end. */
static bool next_item(const char **list, bool *read, u64 *sector, u32 *n)
{
	unsigned long long s;
	int used;

	*read = **list == 'r';
	if (sscanf(*list + *read, "%llu:%u%n", &s, n, &used) != 2)
		return false;
	*sector = s;
	*list += *read + used;
	if (**list == ',')
		(*list)++;
	return true;
}

/*
 * Every item of the list on the ring, one kick; then wait for the device
 * to use the first 'used' of them, looking at the ring without sleeping,
 * so as to reset it while it is at work on the next.
 */
static void send_in_flight(const char *list, unsigned int used)
{
	struct timespec start, now;

	u64 sector;
	bool read;
	u32 n;

	while (next_item(&list, &read, &sector, &n)) {
		struct vbuf h = block_header(read ? VIRTIO_BLK_T_IN :
						    VIRTIO_BLK_T_OUT,
					     sector);
		struct vbuf data = vbuf_alloc(n * SECTOR), st = vbuf_alloc(1);
		struct vbuf out[2] = { h, data }, in[2] = { data, st };

		guest_note("in flight: %s of %u sectors at %llu",
			   read ? "read" : "write", n,
			   (unsigned long long)sector);
		if (read) {
			vq_add(blk.rq, &h, 1, in, 2);
		} else {
			memcpy(data.p, new_at(sector, n), data.len);
			vq_add(blk.rq, out, 2, &st, 1);
		}
	}
	vq_kick(blk.rq);
	clock_gettime(CLOCK_MONOTONIC, &start);
	while ((u16)(blk.rq->used->idx - blk.rq->last_used) < used) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > VIRTIO_TIMEOUT_MS / 1000)
			guest_fail("block: %u requests in flight not used", used);
	}
}

/* What each sector written in flight holds now: the old or the new. */
static void read_back(const char *list)
{
	u64 sector, i;
	bool read;
	u32 n, len;

	while (next_item(&list, &read, &sector, &n)) {
		struct vbuf data = vbuf_alloc(n * SECTOR);

		if (read)
			continue;
		check_eq(block_simple(VIRTIO_BLK_T_IN, sector, data, &len),
			 VIRTIO_BLK_S_OK, "in flight: read back: status OK");
		for (i = 0; i < n; i++) {
			const u8 *got = data.p + i * SECTOR;
			bool old = !memcmp(got, image_at(sector + i, 1), SECTOR);
			bool new = !memcmp(got, new_at(sector + i, 1), SECTOR);

			check(old || new,
			      "in flight: sector %llu is the old or the new, "
			      "whole",
			      (unsigned long long)(sector + i));
			guest_note("in flight: sector %llu: %s",
				   (unsigned long long)(sector + i),
				   new ? "new" : old ? "old" : "neither");
		}
	}
}

/* A W step: written, used, and read back. */
static void write_new(u64 sector, u32 n)
{
	struct vbuf data = vbuf_alloc(n * SECTOR);
	u32 len;

	memcpy(data.p, new_at(sector, n), data.len);
	check_eq(block_simple(VIRTIO_BLK_T_OUT, sector, data, &len),
		 VIRTIO_BLK_S_OK, "write: status OK");
	check_read(sector, n, new_at(sector, n), "... read back: status OK");
}

/* The P step: bytes no sector of the disk holds, for the launcher to refuse. */
static void past_end(u64 sector, u32 n)
{
	struct vbuf data = vbuf_alloc(n * SECTOR);
	u32 len;
	u8 st;

	memset(data.p, 0x5a, data.len);
	st = block_simple(VIRTIO_BLK_T_OUT, sector, data, &len);
	check(false, "the device served a write past the end (status %u) "
	      "instead of stopping", st);
}

static void block_resets(void)
{
	const char *steps = getenv("LGSTUB_BLOCK_STEPS");
	unsigned int boot = guest_boot()->boot, b = 1;
	unsigned long long s;
	char word[512], *arg;
	unsigned int k;
	size_t size;
	int used;
	u32 n;

	if (!steps)
		guest_fail("block: the test did not set LGSTUB_BLOCK_STEPS");
	blk.image = read_file("LGSTUB_BLOCK_IMAGE", &blk.image_size);
	rs.new = read_file("LGSTUB_BLOCK_NEW", &size);
	rs.new_size = size;
	block_probe();
	guest_note("boot %u", boot);
	for (; sscanf(steps, " %511s%n", word, &used) == 1; steps += used) {
		k = strtoul(word + 1, &arg, 10);
		arg += *arg == ':';
		/* An earlier boot's steps are done; the last one is ours. */
		if (b < boot) {
			if (word[0] == 'B' && ++b == boot)
				read_back(arg);
			continue;
		}
		guest_note("step %s", word);
		switch (word[0]) {
		case 'W':
		case 'P':
			if (sscanf(arg, "%llu:%u", &s, &n) != 2)
				guest_fail("block: bad step %s", word);
			if (word[0] == 'W') {
				write_new(s, n);
				break;
			}
			past_end(s, n);
			return;
		case 'F':
			block_flush();
			break;
		case 'I':
			send_in_flight(arg, k);
			vp_reset(blk.d);
			block_start();
			read_back(arg);
			break;
		case 'B':
			send_in_flight(arg, k);
			guest_reboot();
		default:
			guest_fail("block: bad step %s", word);
		}
	}
}
SCENARIO(block_resets);
