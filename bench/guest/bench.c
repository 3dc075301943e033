// SPDX-License-Identifier: GPL-2.0
/*
 * bench.c: the bench guest's measurements.
 *
 * The guest prints "bench: up via LOADER" as soon as it runs (the line
 * bench/run times start-up by), reads "bench=MODE" from its command line,
 * measures, prints each result as
 *
 *	bench: result KEY VALUE UNIT
 *
 * and powers off the way the ACPI tables say.  Times are the guest's own:
 * the TSC, calibrated against the PIT (clock.c).  The modes:
 *
 *   boot      nothing more: power off at once
 *   exits     n=N accesses, each kind in loops of its own: a RAM read
 *             (the loop itself, for reference), a port read that the VMM
 *             serves in user space (the UART's scratch register), an MMIO
 *             read it serves in user space (a virtio common configuration
 *             register), and a queue notification, which KVM turns into
 *             an eventfd signal without leaving the kernel (ioeventfd)
 *   blk       virtio-blk: sequential reads and writes of size=BYTES (64
 *             KiB requests) and random 4 KiB reads (n=N of them), each
 *             with 1 and with 16 requests in flight
 *   net       virtio-net: frames each way (net.c)
 *   console   bytes=N to the virtio console in 4 KiB buffers, 16 in
 *             flight, then uart=N bytes to the 16550A, a byte at a time
 *             as a serial console writes them (LSR, then THR)
 *
 * With mem=MiB, the guest first writes every page of its RAM (but the
 * 384 KiB from 640 KiB to 1 MiB), so that all of it is resident: the VMM's
 * peak RSS less the guest's memory is then the VMM's own (bench/run).
 *
 * Completions come by interrupt, as with a Linux driver on a PCI line (no
 * MSI-X on either VMM): sleep in sti;hlt, and on the interrupt read ISR,
 * which lowers the line; the PIT ticks at 100 Hz for the timeouts.  Where
 * KVM has no hardware virtualization to use (kvm_pvm), its instruction
 * emulator runs every instruction of ours, near a microsecond each: then
 * the device has mostly finished by the time we look, we seldom sleep, and
 * the I/O modes measure the guest's own pace as much as the VMM's.
 */
#include "bench.h"

/*
 * Interrupts.  Each device's line gets a handler that reads the ISR of
 * every device on it; what was used is found in the used rings.
 */
static struct virtio_dev *on_line[16][4];

static void dev_irq(unsigned int irq)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(on_line[irq]) && on_line[irq][i]; i++)
		(void)readb(on_line[irq][i]->isr);
}

void dev_irq_on(struct virtio_dev *vd)
{
	unsigned int i;

	if (vd->line == 0 || vd->line == 2 || vd->line > 15)
		fail("%s: interrupt line %u is no 8259 input", vd->name,
		     vd->line);
	for (i = 0; on_line[vd->line][i]; i++)
		;
	on_line[vd->line][i] = vd;
	irq_handler(vd->line, dev_irq);
}

void wait_used(struct virtq *vq, unsigned int seconds, const char *what)
{
	wait_for(virtq_has_used(vq), seconds, what);
}

void vq_post(struct virtq *vq, u16 head)
{
	volatile u16 *idx = &vq->avail->idx;

	vq->avail->ring[*idx % vq->size] = head;
	barrier();
	*idx = *idx + 1;
}

/* The index store must be visible before we read the device's flags. */
static inline void mb(void)
{
	asm volatile("lock; addl $0, (%%esp)" : : : "memory", "cc");
}

void vq_kick(struct virtq *vq)
{
	mb();
	if (!(vq->used->flags & 1)) /* VRING_USED_F_NO_NOTIFY */
		virtq_kick(vq);
}

static bool mode_is(const char *mode, const char *name)
{
	size_t n = strlen(name);

	return !memcmp(mode, name, n) && (mode[n] == ' ' || !mode[n]);
}

/*
 * Every page of RAM made resident: below the 640 KiB hole, and from the
 * end of our image (loaded, so resident already) to mem=MiB.  Each page's
 * first word is rewritten with its own value: the loaders' tables there
 * (boot_params, multiboot, SeaBIOS's, ACPI's at the top) stay as they were.
 */
static void touch_range(unsigned long from, unsigned long to)
{
	unsigned long p;

	/* (Hidden from gcc, which takes page 0 for a null pointer.) */
	asm("" : "+r"(from));
	for (p = from; p < to; p += 4096) {
		volatile u32 *w = (volatile u32 *)p;

		*w = *w;
	}
}

static void touch_ram(void)
{
	u32 top = arg_u32("mem", 0) << 20;

	if (!top)
		return;
	touch_range(0, 0xA0000);
	touch_range(((u32)__image_end + 4095) & ~4095u, top);
	printf("bench: touched RAM up to %u MiB\n", top >> 20);
}

/*
 * exits: N accesses of each kind, in 5 loops of N/5; the cost of one is
 * the fastest loop's time over its accesses (the loop's own instructions
 * included, which the RAM row shows).  The fastest, because the TSC runs
 * on while the host runs something else in the vCPU thread's place.
 */
#define EXIT_REPS 5

static volatile u32 ram_word;

enum exit_kind { EXIT_RAM, EXIT_PIO, EXIT_MMIO, EXIT_NOTIFY };

static void exit_loop(const char *key, enum exit_kind kind, u32 n,
		      struct virtio_dev *vd, struct virtq *vq)
{
	u64 best = ~0ULL, t;
	unsigned int r;
	u32 i;

	for (r = 0; r < EXIT_REPS; r++) {
		t = rdtsc();
		switch (kind) {
		case EXIT_RAM:
			for (i = 0; i < n; i++)
				(void)ram_word;
			break;
		case EXIT_PIO:
			for (i = 0; i < n; i++)
				(void)inb(UART_BASE + 7); /* scratch register */
			break;
		case EXIT_MMIO:
			for (i = 0; i < n; i++)
				(void)vcommon_read(
					vd, VIRTIO_PCI_DEVICE_FEATURE_SELECT,
					4);
			break;
		case EXIT_NOTIFY:
			for (i = 0; i < n; i++)
				virtq_kick(vq);
			break;
		}
		t = rdtsc() - t;
		if (t < best)
			best = t;
	}
	result(key, cycles_ns(best), n, "ns");
}

static void bench_exits(void)
{
	u32 n = arg_u32("n", 20000) / EXIT_REPS;
	struct virtio_dev vd;
	struct virtq vq;

	exit_loop("exit.ram", EXIT_RAM, n, NULL, NULL);
	exit_loop("exit.pio", EXIT_PIO, n, NULL, NULL);

	/* The console: a virtio device on both VMMs (slot 1 on lguest). */
	if (!virtio_find(&vd, "console", 3))
		fail("exits: no virtio console");
	virtio_start(&vd, 0); /* lguest: no register reads before DRIVER */
	exit_loop("exit.mmio", EXIT_MMIO, n, &vd, NULL);

	/* Notifications of an empty transmitq: the device finds nothing. */
	virtq_setup(&vd, &vq, 1, 8);
	virtio_driver_ok(&vd);
	exit_loop("exit.notify", EXIT_NOTIFY, n, &vd, &vq);
}

/*
 * blk: 16 request slots, each three fixed descriptors (header, data,
 * status) of a 256-entry queue: slot s is chain 3s, so a used id names
 * its slot whatever order the device completes them in.
 */
#define BLK_SLOTS 16
#define BLK_MAX (64 * 1024)

struct blk_req {
	u32 type;
	u32 reserved;
	u64 sector;
};

static struct virtio_dev blk;
static struct virtq blkq;
static struct blk_req *blk_hdr;
static volatile u8 *blk_status;
static u8 *blk_data;
static u64 blk_sectors;

static void blk_setup(void)
{
	unsigned int s;

	if (!virtio_find(&blk, "block", VIRTIO_ID_BLOCK))
		fail("blk: no virtio block device");
	virtio_start(&blk, 0);
	blk_sectors = readl(blk.device) | (u64)readl(blk.device + 4) << 32;
	virtq_setup(&blk, &blkq, 0, 256);
	if (blkq.size < 3 * BLK_SLOTS)
		fail("blk: queue of %u entries", blkq.size);
	dev_irq_on(&blk);
	virtio_driver_ok(&blk);

	blk_hdr = alloc(BLK_SLOTS * sizeof(*blk_hdr), 16);
	blk_status = alloc(BLK_SLOTS, 1);
	blk_data = bigalloc(BLK_SLOTS * BLK_MAX);
	for (s = 0; s < BLK_SLOTS; s++) {
		struct vring_desc *d = &blkq.desc[3 * s];

		d[0] = (struct vring_desc){ (u32)&blk_hdr[s], sizeof(*blk_hdr),
					    VRING_DESC_F_NEXT, 3 * s + 1 };
		d[1] = (struct vring_desc){ (u32)blk_data + s * BLK_MAX, 0,
					    VRING_DESC_F_NEXT, 3 * s + 2 };
		d[2] = (struct vring_desc){ (u32)&blk_status[s], 1,
					    VRING_DESC_F_WRITE, 0 };
	}
	printf("bench: blk: %u sectors, queue of %u, line %u\n",
	       (u32)blk_sectors, blkq.size, blk.line);
}

/*
 * 'count' requests of 'bytes' each, 'depth' in flight: sequential from
 * sector 0 (wrapping at the end), or at random 4 KiB-aligned places.
 * Returns the nanoseconds from the first request to the last completion.
 */
static u64 blk_run(u32 type, u32 bytes, u32 count, unsigned int depth,
		   bool random)
{
	u32 issued = 0, done = 0, len, nfree = depth;
	u64 seq = 0, span = blk_sectors / 8, t0;
	u8 free[BLK_SLOTS];
	unsigned int s;

	if (blk_sectors < bytes / 512)
		fail("blk: the disk is smaller than a request");
	for (s = 0; s < depth; s++) {
		free[s] = s;
		blkq.desc[3 * s + 1].len = bytes;
		blkq.desc[3 * s + 1].flags =
			VRING_DESC_F_NEXT |
			(type == VIRTIO_BLK_T_IN ? VRING_DESC_F_WRITE : 0);
	}
	t0 = rdtsc();
	while (done < count) {
		for (; nfree && issued < count; issued++) {
			s = free[--nfree];
			blk_hdr[s].type = type;
			if (random) {
				blk_hdr[s].sector =
					(u64)(random32() % span) * 8;
			} else {
				if (seq + bytes / 512 > blk_sectors)
					seq = 0;
				blk_hdr[s].sector = seq;
				seq += bytes / 512;
			}
			blk_status[s] = 0xFF;
			vq_post(&blkq, 3 * s);
		}
		vq_kick(&blkq);
		wait_used(&blkq, 30, "a block request");
		while (virtq_has_used(&blkq)) {
			s = virtq_take(&blkq, &len) / 3;
			if (blk_status[s] != VIRTIO_BLK_S_OK)
				fail("blk: request status %u", blk_status[s]);
			free[nfree++] = s;
			done++;
		}
	}
	return cycles_ns(rdtsc() - t0);
}

/* KEY = PREFIX followed by the depth: "blk.seqread.qd16". */
static const char *key_qd(char *key, const char *prefix, unsigned int qd)
{
	size_t n = strlen(prefix);

	memcpy(key, prefix, n);
	if (qd >= 10)
		key[n++] = '0' + qd / 10;
	key[n++] = '0' + qd % 10;
	key[n] = '\0';
	return key;
}

static void bench_blk(void)
{
	u32 size = arg_u32("size", 256 << 20), n = arg_u32("n", 20000);
	static const unsigned int depths[] = { 1, 16 };
	u32 count = size / BLK_MAX;
	char key[48];
	unsigned int i;
	u64 ns;

	blk_setup();
	for (i = 0; i < ARRAY_SIZE(depths); i++) {
		unsigned int qd = depths[i];

		ns = blk_run(VIRTIO_BLK_T_IN, BLK_MAX, count, qd, false);
		result(key_qd(key, "blk.seqread.qd", qd),
		       (u64)count * BLK_MAX * 1000, ns, "MB/s");
		ns = blk_run(VIRTIO_BLK_T_OUT, BLK_MAX, count, qd, false);
		result(key_qd(key, "blk.seqwrite.qd", qd),
		       (u64)count * BLK_MAX * 1000, ns, "MB/s");
		ns = blk_run(VIRTIO_BLK_T_IN, 4096, n, qd, true);
		result(key_qd(key, "blk.randread.qd", qd), (u64)n * 1000000000,
		       ns, "IOPS");
	}
}

/*
 * console: the virtio console's transmitq (queue 1), 16 buffers of 4 KiB
 * in flight, each one descriptor, filled with lines of text; then the
 * UART.  Output goes to a file on both VMMs (bench/run).
 */
#define CON_SLOTS 16
#define CON_BUF 4096

static void fill_text(u8 *p, u32 len)
{
	static const char line[] = "lguest bench console output 0123456789 "
				   "abcdefghijklmnopqrstuvwxyz\n";
	u32 i;

	for (i = 0; i < len; i++)
		p[i] = line[i % (sizeof(line) - 1)];
}

static void bench_console(void)
{
	u32 bytes = arg_u32("bytes", 16 << 20),
	    uart = arg_u32("uart", 64 << 10);
	u32 count = bytes / CON_BUF, issued = 0, done = 0, len, nfree = 0, i;
	struct virtio_dev vd;
	struct virtq vq;
	u8 free[CON_SLOTS], *buf;
	static u8 text[256];
	u64 t0, ns;

	if (!virtio_find(&vd, "console", 3))
		fail("console: no virtio console");
	virtio_start(&vd, 0);
	virtq_setup(&vd, &vq, 1, 256);
	dev_irq_on(&vd);
	virtio_driver_ok(&vd);
	buf = bigalloc(CON_SLOTS * CON_BUF);
	fill_text(buf, CON_SLOTS * CON_BUF);
	for (i = 0; i < CON_SLOTS; i++) {
		vq.desc[i] = (struct vring_desc){ (u32)buf + i * CON_BUF,
						  CON_BUF, 0, 0 };
		free[nfree++] = i;
	}
	t0 = rdtsc();
	while (done < count) {
		for (; nfree && issued < count; issued++)
			vq_post(&vq, free[--nfree]);
		vq_kick(&vq);
		wait_used(&vq, 30, "console output");
		while (virtq_has_used(&vq)) {
			free[nfree++] = virtq_take(&vq, &len);
			done++;
		}
	}
	ns = cycles_ns(rdtsc() - t0);
	result("console.virtio", (u64)count * CON_BUF * 1000, ns, "MB/s");

	fill_text(text, sizeof(text));
	t0 = rdtsc();
	for (i = 0; i < uart; i++)
		uart_putc(text[i % sizeof(text)]);
	ns = cycles_ns(rdtsc() - t0);
	putchar('\n');
	result("console.uart", (u64)uart * 1000, ns, "MB/s");
}

void main(void)
{
	const char *mode;

	boot_init();
	/* The first line: what start-up is timed to. */
	printf("bench: up via %s\n", boot_via);
	mode = arg_str("bench");
	if (!mode || mode_is(mode, "boot"))
		acpi_poweroff();

	pic_init();
	tsc_calibrate();
	printf("bench: TSC at %u kHz\n", tsc_khz);
	touch_ram();
	timer_start();
	if (mode_is(mode, "exits"))
		bench_exits();
	else if (mode_is(mode, "blk"))
		bench_blk();
	else if (mode_is(mode, "net"))
		bench_net();
	else if (mode_is(mode, "console"))
		bench_console();
	else
		fail("unknown bench mode '%s'", mode);
	puts("bench: done");
	acpi_poweroff();
}
