// SPDX-License-Identifier: GPL-2.0
/*
 * tests/fuzz/fuzz.c: a libFuzzer harness over lguest's device model.
 *
 * Everything a guest controls reaches the launcher through two entry
 * points, port_io() and mmio_access(), and through the memory the queue
 * service routines read.  This harness plays the guest: each fuzzer input
 * is a little program of guest actions (port and MMIO accesses of every
 * width, stores to guest memory, "the queue's task runs now"), and after
 * every action it checks that the launcher did one of exactly two things:
 *
 *   - served the guest correctly, or
 *   - stopped with a "bad driver" message (in production: exit 1; in this
 *     build stop() longjmp()s back to us, so one process runs millions of
 *     inputs).
 *
 * Anything else is a finding, reported and abort()ed on so that libFuzzer
 * keeps the input:
 *
 *   - a crash, an out-of-bounds access, undefined behaviour: ASan and
 *     UBSan, built in, report it;
 *   - a touch of memory outside guest RAM: guest memory is lguest's own
 *     mapping, with no-access guard pages on either side; we also take
 *     away access to the device pages between low and high RAM, which
 *     only a translation gone wrong could reach;
 *   - a hang: libFuzzer's -timeout;
 *   - a write into guest memory that the guest did not hand the device:
 *     we keep a second copy of guest RAM ("the shadow"), make every store
 *     of ours to both, and after each service routine copy over only the
 *     bytes the device was allowed to write (the writable buffers of the
 *     chain it took, and its used ring entry and index).  At the end of
 *     the input the two must be the same;
 *   - a change to the block device's file other than a valid write: the
 *     file is a memfd with a known pattern, whose copy we update with
 *     every write request the device completes; the file must match it,
 *     and keep its size, after every input;
 *   - a request the rules say must stop the guest that was served, or one
 *     they allow that was refused: we walk each chain ourselves before the
 *     device does (a second, independent reading of the ring rules), and
 *     predict the outcome, the used entry (id, length) and what the
 *     device writes or sends: the bytes typed, the frame received, the
 *     sectors read, the status; the frame sent, the console's output;
 *   - an interrupt without ISR set first, or one more or fewer than the
 *     guest's flags ask for;
 *   - a device state the transport rules forbid, after any operation: a
 *     feature accepted that was not offered, DRIVER_OK out of sequence, a
 *     queue enabled before FEATURES_OK, misaligned, outside RAM or (on
 *     lguest) above 4 GiB; tap offloads other than those negotiated;
 *   - a reset that leaves anything behind: each input starts by
 *     resetting every device, which must then be the device as set up;
 *   - a stop that is not a driver error (a fatal() reached from guest
 *     input, say): bad_driver() sets fuzz_driver_error, and every stop
 *     must have it set; with libFuzzer's -close_fd_mask=2 we also catch
 *     the launcher's stderr in a memfd of our own and check the message.
 *
 * The harness #includes lguest.c itself, to reach its static functions:
 * under -DLGUEST_FUZZ its main() is lguest_main() and stop() returns to
 * the jmp_buf in fuzz_stop.  Two more things are replaced from here,
 * with macros around the #include:
 *
 *   clone()  The service tasks.  DRIVER_OK starts one per queue; here no
 *            task ever runs (fuzz_clone() says "started", pid 0, and
 *            task_stop() leaves pid 0 alone).  Instead the input says when
 *            a queue's task gets to run, and we call its service routine
 *            synchronously, only when it would not block.
 *   ioctl()  The tap device's TUNSETOFFLOAD, the one ioctl of the device
 *            model.  The "tap" here is one end of a datagram socketpair
 *            (each datagram a frame), which has no offloads to set: we
 *            take the call, and check that the offloads match what the
 *            driver negotiated.
 *
 * The devices are the production ones, built by the production functions
 * on fds of our own: the console on a pipe (stdin, which we fill) and a
 * memfd (stdout, which we read back); the network device (net_device(),
 * which is setup_net() without the tap) on the socketpair; the block
 * device on a 64 KiB + 300 byte memfd (so a tail past the last whole
 * sector exists, and must never be touched); the rng on /dev/zero.
 * Console slot 1, net 2, block 3, rng 4, as "lguest --tunnet=...
 * --block=... --rng" would lay them out.
 *
 * Guest memory: 4 MiB of low RAM, the 256 device pages, and 1 MiB of
 * "high" RAM at guest-physical 4 GiB: a miniature of the KVM memory map,
 * so the translation of addresses above 4 GiB is exercised too.
 *
 * The input format
 * ----------------
 *
 * Byte 0 is the mode:
 *   bit 0  queues_below_4g, as under /dev/lguest (else 64-bit queue
 *          addresses are allowed, as under KVM)
 *   bit 1  the PC around the bus, as under KVM: the UART, ACPI and i8042
 *          ports (pc_ports()), unused BARs reading 0, and the UART able
 *          to take stdin from the console
 *
 * Then operations, until the input ends: an opcode byte (modulo the
 * number of operations) and its arguments, little-endian.  An input
 * that runs out mid-operation reads zeros.  "dev" is a byte naming a
 * device (modulo 4: console, net, block, rng); "w" a width selector.
 *
 *   0 PORT     port:16 w:8 val:32      port_io(); w bit 7: write, the
 *                                      rest modulo 3: 1, 2 or 4 bytes
 *   1 CFG      slot:8 reg:8 w:8 val:32 0xCF8 <- bus 0 slot%8 reg, then
 *                                      port_io() on 0xCFC + reg%4
 *   2 MMIO     dev:8 off:8 w:8 val:32  mmio_access() at BAR0 + off; w
 *                                      bit 7: write, the rest modulo 4:
 *                                      1, 2, 4 or 8 bytes
 *   3 MMIO_RAW off:16 w:8 val:32       the same anywhere in the BAR window
 *   4 MEM      where:8 off:32 len:8 bytes[len+1]
 *                                      store to guest RAM: low RAM at off %
 *                                      4 MiB, or (where bit 0) high RAM
 *   5 FILL     where:8 off:32 len:16 byte:8
 *   6 INIT     dev:8 how:8 lo:32 hi:32 the driver's start (3.1.1): reset,
 *                                      ACKNOWLEDGE, DRIVER, read features,
 *                                      accept (how bit 0: what is offered
 *                                      & lo:hi, else lo:hi as it is),
 *                                      FEATURES_OK, read the status back
 *   7 QUEUE    dev:8 q:8 size:8 layout:8 [desc:A avail:A used:A]
 *                                      set up queue q%4 (2 and 3 do not
 *                                      exist) with 1 << size%10 entries
 *                                      and enable it: layout bit 7 takes
 *                                      the three addresses from the input,
 *                                      else a standard place (bit 0: in
 *                                      high RAM), its rings zeroed first
 *   8 DRIVER_OK dev:8
 *   9 CHAIN    dev:8 q:8 n:8 ind:8 then n%8+1 times: kind:8 len:16|32
 *                [addr:A if kind bit 1] [flags:16 next:16 if kind bit 2]
 *                [bytes, for a readable one with kind bit 3]
 *                                      a buffer of n descriptors offered
 *                                      in queue q (ind bit 0: through an
 *                                      indirect table); kind bit 0 makes
 *                                      it device-writable, bit 7 its
 *                                      length 32-bit; data goes in a
 *                                      scratch area unless bit 1 gives its
 *                                      guest-physical address
 *  10 BLK      type:8 sector:8|64 len:8 segs:8 fill:8
 *                                      a block request: type%8 0 IN, 1 OUT,
 *                                      2 FLUSH, 3 GET_ID, 4 IN with a raw
 *                                      sector:64, 5 OUT with one, 6 and 7 a
 *                                      raw type:32; len%18 sectors (17: a
 *                                      raw len:16 in bytes) in segs%4+1
 *                                      descriptors; fill bit 7: indirect
 *  11 NOTIFY   dev:8 q:8
 *  12 SERVE    dev:8 q:8 count:8       the queue's task runs: up to
 *                                      count%16+1 buffers, each through
 *                                      the service routine if one is
 *                                      waiting, else the task's step
 *                                      before it sleeps (vq_interrupt())
 *  13 STDIN    len:8 bytes[len+1]      typed on the console (^C is typed
 *                                      as ^D: three of them end lguest)
 *  14 TAP      len:16 bytes            a frame arrives from the network
 *                                      (len % 4096 bytes, the input's
 *                                      bytes first, then zeros)
 *  15 RESET    dev:8                   device_status <- 0
 *  16 AVAIL    dev:8 q:8 idx:16 flags:16
 *                                      the available ring's index and flags
 *  17 RING     dev:8 q:8 slot:16 head:16
 *                                      one available ring entry
 *  18 SKIP     dev:8 q:8 n:16 x:16     as if n buffers had been offered,
 *                                      served and taken back (on a live,
 *                                      idle queue): both ring indices
 *                                      move on by n, towards their wrap
 *
 * An address "A" is a selector byte (modulo 8) and an operand: 0 a raw
 * addr:64; 1 the end of low RAM - off:16; 2 the device pages + off:16;
 * 3 4 GiB - off:16; 4 4 GiB + off:16; 5 the end of high RAM - off:16;
 * 6 2^64 - off:16; 7 the data area + off:32.
 *
 * Queues are served only when their task would run (DRIVER_OK, queue
 * enabled) and would not block: the console's receiveq only with bytes on
 * stdin that the UART has not taken, the net receiveq only with a frame
 * waiting.  Writes that would power the machine off or reset it (ACPI
 * S5, i8042 0xFE) end the input instead: lguest would exit(0) or exec.
 *
 * Environment:
 *   LGUEST_FUZZ_TRACE=1     print each operation (and, with
 *                           -close_fd_mask=2, the launcher's messages)
 *   LGUEST_FUZZ_SEEDS=DIR   write the seed corpus to DIR and exit
 */
#define clone fuzz_clone
#define ioctl fuzz_ioctl
#include "../../lguest.c"
#undef clone
#undef ioctl

/* Guest memory: low RAM, the device pages, high RAM (at 4 GiB). */
#define FZ_RAM_LO (4 * MIB)
#define FZ_RAM_HI (1 * MIB)
#define FZ_HI_OFF (FZ_RAM_LO + HUGE_PAGE) /* where high RAM is mapped */
#define FZ_MAP (FZ_HI_OFF + FZ_RAM_HI)

/* Where the standard queue layout and the buffers go, in low RAM. */
#define FZ_QUEUES 0x100000ULL /* 0x4000 per queue: desc, avail, used */
#define FZ_DATA 0x200000ULL   /* buffers, handed out in order */
#define FZ_DATA_END FZ_RAM_LO

/* The block device's file: not a whole number of sectors. */
#define FZ_DISK (64 * 1024 + 300)

#define NDEV 4
static struct dev *devs[NDEV]; /* console, net, block, rng */
#define NET (devs[1])
#define BLK (devs[2])

static u8 *shadow;		/* guest memory as the device may leave it */
static u8 *rbuf, *wbuf;		/* a chain's bytes, gathered */
static u8 disk_shadow[FZ_DISK]; /* what the block file must hold */
static u8 disk_pristine[FZ_DISK];
static bool disk_dirty;
static u8 saved_cfg[NDEV + 1][PCI_CFG_SIZE];
static struct dev pristine[NDEV]; /* each device as set up */
static typeof(uart) pristine_uart;

static int disk_fd, tap_peer, stdin_w, orig_err = 2, cap_fd = -1;
static bool capture, capture_decided, trace;

/* What the harness's "driver" remembers during one input. */
static u16 next_desc[NDEV][2];
static u64 data_next;

/* Bytes waiting on the console's stdin, and frames on the "tap". */
static u8 stdin_q[65536];
static size_t stdin_len;
#define MAX_FRAMES 64
static struct {
	u8 buf[4096];
	size_t len;
} frames[MAX_FRAMES];
static unsigned int nframes;

/*
 * What one input may have the devices move, all told: past it, the guest
 * is only keeping the host busy, which is its right, and we move on.
 * (A chain may cover all of RAM; an input could ask for a few thousand.)
 */
#define SERVE_BUDGET (256 * MIB)
static u64 served;

static unsigned int op_no; /* the operation being run, for reports */
static const char *op_name;
static bool ended; /* the launcher exited (stop, power-off) */

/*
 * Reports.
 *
 * Our own messages go to the stderr we were started with (saved before
 * libFuzzer's -close_fd_mask=2 replaces it), so they land next to
 * libFuzzer's report in the log of the input that failed.
 */
static void __attribute__((format(printf, 1, 2))) note(const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(orig_err, buf, n) < 0)
		return;
}

/* The launcher's last messages of this input, if we are catching them. */
static size_t launcher_said(char *buf, size_t size)
{
	off_t end = lseek(cap_fd, 0, SEEK_END);
	ssize_t n;

	if (!capture || end < 0)
		return 0;
	n = pread(cap_fd, buf, size - 1,
		  end > (off_t)size - 1 ? end - (off_t)size + 1 : 0);
	buf[n > 0 ? n : 0] = '\0';
	return n > 0 ? n : 0;
}

static void __attribute__((noreturn, format(printf, 1, 2)))
finding(const char *fmt, ...)
{
	char buf[2048], said[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	note("lguest-fuzz: FINDING at operation %u (%s): %s", op_no,
	     op_name ? op_name : "set-up", buf);
	if (launcher_said(said, sizeof(said)))
		note("lguest-fuzz: the launcher said:\n%s", said);
	abort();
}

#define fz_assert(cond, ...)                  \
	do {                                  \
		if (!(cond))                  \
			finding(__VA_ARGS__); \
	} while (0)

/*
 * The two replacements (see the top of the file).
 */
int fuzz_clone(int (*fn)(void *), void *stack, int flags, void *arg, ...)
{
	(void)fn;
	(void)stack;
	(void)flags;
	(void)arg;
	return 0; /* "started": pid 0 is a task task_stop() leaves be */
}

extern int ioctl(int fd, unsigned long req, ...);

int fuzz_ioctl(int fd, unsigned long req, ...)
{
	static const struct {
		u8 bit;
		u32 tun;
	} map[] = {
		{ VIRTIO_NET_F_GUEST_CSUM, TUN_F_CSUM },
		{ VIRTIO_NET_F_GUEST_TSO4, TUN_F_TSO4 },
		{ VIRTIO_NET_F_GUEST_TSO6, TUN_F_TSO6 },
		{ VIRTIO_NET_F_GUEST_ECN, TUN_F_TSO_ECN },
	};
	unsigned long arg;
	unsigned int i;
	u32 want = 0;
	va_list ap;

	va_start(ap, req);
	arg = va_arg(ap, unsigned long);
	va_end(ap);
	if (!NET || fd != NET->fd || req != TUNSETOFFLOAD)
		return ioctl(fd, req, arg);
	/* 5.1.6.4.1: exactly the offloads the driver can take. */
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (NET->accepted >> map[i].bit & 1)
			want |= map[i].tun;
	fz_assert(arg == want,
		  "tap offloads %#lx, but the driver negotiated %#x (features "
		  "%#llx)",
		  arg, want, NET->accepted);
	return 0;
}

/*
 * The running side's hooks, which a hypervisor would provide.
 */
static unsigned int interrupts;

static void fz_interrupt(struct dev *d)
{
	/* vq_interrupt() sets ISR first: the driver reads why (4.1.4.5). */
	fz_assert(__atomic_load_n(&d->isr, __ATOMIC_SEQ_CST) & VIRTIO_ISR_QUEUE,
		  "%s interrupted the guest with ISR %#x", d->name, d->isr);
	interrupts++;
}

static bool in_service; /* a queue's task is running */

/* Messages from the tasks name no instruction: they know none. */
static bool fz_guest_ip(u64 *ip)
{
	*ip = 0xc0de0000 + op_no;
	return !in_service;
}

static void fz_queues(struct dev *d, bool live)
{
	fz_assert(!live || status_has(d, VIRTIO_CONFIG_S_DRIVER_OK),
		  "%s: queues went live with status %#x", d->name, d->status);
}

/* The PC's ports, but for the two that end the launcher. */
static bool fz_pc_ports(u16 port, unsigned int width, bool write, u32 *val)
{
	if (write && port == I8042_STATUS && (*val & 0xFF) == I8042_RESET) {
		ended = true; /* reboot_guest(): lguest runs itself again */
		return true;
	}
	if (write && port == PM1A_CNT && width == 2 && (*val & SLP_EN) &&
	    (*val >> 10 & 7) == SLP_TYP_S5) {
		ended = true; /* power_off(): exit(0) */
		return true;
	}
	return pc_ports(port, width, write, val);
}

/*
 * Guest memory, as the harness sees it.
 *
 * Our own translation from guest-physical to an offset in lguest's
 * mapping, written differently from guest_mem() on purpose: we check the
 * launcher against it.
 */
static bool fz_off(u64 gpa, u64 len, u64 *off)
{
	unsigned __int128 end = (unsigned __int128)gpa + len;

	if (end <= FZ_RAM_LO) {
		*off = gpa;
		return true;
	}
	if (gpa >= HIGH_RAM && end <= (unsigned __int128)HIGH_RAM + FZ_RAM_HI) {
		*off = FZ_HI_OFF + (gpa - HIGH_RAM);
		return true;
	}
	return false;
}

/* The guest stores: to its memory and to the shadow alike. */
static void fz_write(u64 off, const void *src, size_t len)
{
	memcpy(gbase + off, src, len);
	memcpy(shadow + off, src, len);
}

static void fz_fill(u64 off, u8 byte, size_t len)
{
	memset(gbase + off, byte, len);
	memset(shadow + off, byte, len);
}

static void gwrite(u64 gpa, const void *src, size_t len)
{
	u64 off;

	if (fz_off(gpa, len, &off))
		fz_write(off, src, len);
}

static void gput16(u64 gpa, u16 v)
{
	gwrite(gpa, &v, 2);
}

static u16 rd16(u64 off)
{
	u16 v;

	memcpy(&v, gbase + off, 2);
	return v;
}

static u32 rd32(u64 off)
{
	u32 v;

	memcpy(&v, gbase + off, 4);
	return v;
}

static u64 rd64(u64 off)
{
	u64 v;

	memcpy(&v, gbase + off, 8);
	return v;
}

/* The device may write these bytes: copy them over to the shadow. */
static void allow(u64 off, u64 len)
{
	memcpy(shadow + off, gbase + off, len);
}

/* A scratch buffer in the data area, for a chain. */
static u64 data_alloc(u64 len)
{
	u64 at;

	len = (len + 15) & ~15ULL;
	if (len > FZ_DATA_END - FZ_DATA)
		len = FZ_DATA_END - FZ_DATA;
	if (data_next + len > FZ_DATA_END)
		data_next = FZ_DATA;
	at = data_next;
	data_next += len;
	return at;
}

/*
 * The input.
 */
struct in {
	const u8 *p;
	size_t n;
};

static u8 get8(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static u16 get16(struct in *in)
{
	u16 lo = get8(in);

	return lo | get8(in) << 8;
}

static u32 get32(struct in *in)
{
	u32 lo = get16(in);

	return lo | (u32)get16(in) << 16;
}

static u64 get64(struct in *in)
{
	u64 lo = get32(in);

	return lo | (u64)get32(in) << 32;
}

/* Up to len bytes of the input; *got says how many there were. */
static const u8 *getn(struct in *in, size_t len, size_t *got)
{
	const u8 *p = in->p;

	*got = len < in->n ? len : in->n;
	in->p += *got;
	in->n -= *got;
	return p;
}

static struct dev *get_dev(struct in *in)
{
	return devs[get8(in) % NDEV];
}

static unsigned int dev_no(const struct dev *d)
{
	return d->slot - 1;
}

#define TRACE(...)                         \
	do {                               \
		if (trace)                 \
			note(__VA_ARGS__); \
	} while (0)

/*
 * Register access as the driver does it, through mmio_access().
 */
static void bar_write(struct dev *d, u32 off, unsigned int width, u32 v)
{
	u32 val = v;

	fz_assert(mmio_access(d->bar + off, width, true, &val),
		  "%s: BAR0 at %#x does not answer", d->name, d->bar);
}

static u32 bar_read(struct dev *d, u32 off, unsigned int width)
{
	u32 val = 0xdeadbeef;

	fz_assert(mmio_access(d->bar + off, width, false, &val),
		  "%s: BAR0 at %#x does not answer", d->name, d->bar);
	fz_assert(!(val & ~width_mask(width)),
		  "%s: %u-byte read at BAR0 offset %u returned %#x", d->name,
		  width, off, val);
	return val;
}

/*
 * Invariants of the transport, checked after every operation: whatever
 * the guest did, the device's state stays within what the rules allow.
 */
static void check_device(struct dev *d)
{
	u8 st = d->status & ~VIRTIO_CONFIG_S_FAILED;
	struct vq *vq;

	fz_assert(!(d->accepted & ~d->features),
		  "%s accepted %#llx, offered %#llx", d->name, d->accepted,
		  d->features);
	if (st & VIRTIO_CONFIG_S_DRIVER_OK)
		fz_assert(st == (VIRTIO_CONFIG_S_ACKNOWLEDGE |
				 VIRTIO_CONFIG_S_DRIVER |
				 VIRTIO_CONFIG_S_FEATURES_OK |
				 VIRTIO_CONFIG_S_DRIVER_OK),
			  "%s: status %#x", d->name, d->status);
	for (vq = d->vq; vq < d->vq + d->nvq; vq++) {
		u64 off;

		fz_assert(vq->size && vq->size <= QUEUE_MAX &&
				  !(vq->size & (vq->size - 1)),
			  "%s queue %s: size %u", d->name, vq->name, vq->size);
		if (!vq->enabled)
			continue;
		fz_assert(status_has(d, VIRTIO_CONFIG_S_FEATURES_OK),
			  "%s queue %s enabled without FEATURES_OK", d->name,
			  vq->name);
		fz_assert(vq->num == vq->size, "%s queue %s: num %u, size %u",
			  d->name, vq->name, vq->num, vq->size);
		fz_assert(!(vq->desc_gpa % 16 || vq->avail_gpa % 2 ||
			    vq->used_gpa % 4),
			  "%s queue %s enabled misaligned", d->name, vq->name);
		fz_assert(!queues_below_4g || !((vq->desc_gpa | vq->avail_gpa |
						 vq->used_gpa) >>
						32),
			  "%s queue %s enabled above 4 GiB", d->name, vq->name);
		fz_assert(fz_off(vq->desc_gpa, 16 * vq->num, &off) &&
				  (u8 *)vq->desc == gbase + off,
			  "%s queue %s: descriptor table %#llx not in RAM",
			  d->name, vq->name, vq->desc_gpa);
		fz_assert(fz_off(vq->avail_gpa, 6 + 2 * vq->num, &off) &&
				  (u8 *)vq->avail == gbase + off,
			  "%s queue %s: available ring %#llx not in RAM",
			  d->name, vq->name, vq->avail_gpa);
		fz_assert(fz_off(vq->used_gpa, 6 + 8 * vq->num, &off) &&
				  (u8 *)vq->used == gbase + off,
			  "%s queue %s: used ring %#llx not in RAM", d->name,
			  vq->name, vq->used_gpa);
	}
}

/* The launcher stopped: it must have been a driver error. */
static void check_stop(void)
{
	char said[8192], *last, *end;
	size_t n;

	ended = true;
	fz_assert(fuzz_driver_error,
		  "the launcher stopped, but not in bad_driver()");
	fuzz_driver_error = false;
	if (!capture)
		return;
	n = launcher_said(said, sizeof(said));
	fz_assert(n, "the launcher stopped without a word");
	end = said + n;
	while (end > said && end[-1] == '\n')
		*--end = '\0';
	last = strrchr(said, '\n');
	last = last ? last + 1 : said;
	fz_assert(!strncmp(last, "lguest: ", 8) &&
			  strstr(last, ": bad driver: ") &&
			  strstr(last, " (virtio 1.0 §"),
		  "the launcher stopped, but not for a driver error: \"%s\"",
		  last);
}

/*
 * A chain, as we read the ring rules (virtio 1.0 2.4.5, and lguest's own
 * limits, README "It also checks").  walk() is our second reading of
 * what vq_pop() must do: where it says "bad", the device must stop
 * before writing anything; where it says fine, the device must take the
 * same buffers.
 */
struct span {
	u64 off, len; /* in the mapping */
};

static struct {
	bool work; /* the driver made a buffer available */
	bool bad;  /* and the rules say the device must stop */
	const char *why;
	u16 head;
	unsigned int nr, nw;
	struct span r[QUEUE_MAX], w[QUEUE_MAX];
	u64 rbytes, wbytes;
} ref;

static bool walk_bad(const char *why)
{
	ref.bad = true;
	ref.why = why;
	return false;
}

static bool walk(struct dev *d, struct vq *vq)
{
	u64 avail, table, off, bytes = 0;
	unsigned int num = vq->num, max = num, seen = 0, ndesc = 0, i;
	bool indirect = false;
	u16 idx;

	memset(&ref, 0, offsetof(typeof(ref), r));
	ref.rbytes = ref.wbytes = 0;
	fz_off(vq->avail_gpa, 6 + 2 * num, &avail);
	fz_off(vq->desc_gpa, 16 * num, &table);
	idx = rd16(avail + 2);
	if (idx == vq->last_avail)
		return false;
	ref.work = true;
	if ((u16)(idx - vq->last_avail) > num)
		return walk_bad("available index ran ahead");
	ref.head = rd16(avail + 4 + 2 * (vq->last_avail % num));
	if (ref.head >= num)
		return walk_bad("head out of range");
	for (i = ref.head;;) {
		u64 addr = rd64(table + 16 * i);
		u32 len = rd32(table + 16 * i + 8);
		u16 flags = rd16(table + 16 * i + 12);
		u16 next = rd16(table + 16 * i + 14);

		if (++seen > max)
			return walk_bad("loop");
		if (flags & VRING_DESC_F_INDIRECT) {
			if (!(d->accepted &
			      1ULL << VIRTIO_RING_F_INDIRECT_DESC))
				return walk_bad("indirect not negotiated");
			if (indirect)
				return walk_bad("indirect in indirect");
			if (flags & VRING_DESC_F_NEXT)
				return walk_bad("indirect with next");
			if (!len || len % 16)
				return walk_bad("indirect table size");
			if (len / 16 > num)
				return walk_bad("indirect table too long");
			if (!fz_off(addr, len, &table))
				return walk_bad("indirect table not in RAM");
			max = len / 16;
			indirect = true;
			seen = 0;
			i = 0;
			continue;
		}
		if (ndesc++ == num)
			return walk_bad("chain longer than the queue");
		bytes += len;
		if (bytes > 0xFFFFFFFFULL)
			return walk_bad("chain over 4 GiB");
		if (!fz_off(addr, len, &off))
			return walk_bad("buffer not in RAM");
		if (flags & VRING_DESC_F_WRITE) {
			ref.w[ref.nw++] = (struct span){ off, len };
			ref.wbytes += len;
		} else {
			if (ref.nw)
				return walk_bad("readable after writable");
			ref.r[ref.nr++] = (struct span){ off, len };
			ref.rbytes += len;
		}
		if (!(flags & VRING_DESC_F_NEXT))
			return true;
		if (next >= max)
			return walk_bad("next out of range");
		i = next;
	}
}

/*
 * Gather spans into one buffer, as far as GATHER_MAX bytes.  A chain may
 * name the same RAM many times over (256 descriptors of all of it); the
 * checks that need a chain's bytes are the ones of short chains.
 */
#define GATHER_MAX FZ_MAP

static void gather(u8 *dst, const struct span *s, unsigned int n)
{
	u64 room = GATHER_MAX, part;
	unsigned int i;

	for (i = 0; i < n && room; i++) {
		part = s[i].len < room ? s[i].len : room;
		memcpy(dst, gbase + s[i].off, part);
		dst += part;
		room -= part;
	}
}

static int span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

/* The device may write these spans: copy them over, each byte once. */
static void allow_spans(const struct span *w, unsigned int n)
{
	static struct span s[QUEUE_MAX];
	u64 start, end;
	unsigned int i;

	memcpy(s, w, n * sizeof(s[0]));
	qsort(s, n, sizeof(s[0]), span_cmp);
	for (i = 0; i < n;) {
		start = s[i].off;
		end = s[i].off + s[i].len;
		for (i++; i < n && s[i].off <= end; i++)
			if (s[i].off + s[i].len > end)
				end = s[i].off + s[i].len;
		allow(start, end - start);
	}
}

/*
 * Do the places the device writes overlap?  Then what a buffer holds
 * afterwards depends on the order of the writes, and we check less.
 */
static bool writes_overlap(u64 used_off, u16 used_idx, unsigned int num)
{
	static struct span s[QUEUE_MAX + 2];
	unsigned int n = 0, i;

	for (i = 0; i < ref.nw; i++)
		if (ref.w[i].len)
			s[n++] = ref.w[i];
	s[n++] = (struct span){ used_off + 2, 2 };
	s[n++] = (struct span){ used_off + 4 + 8 * (used_idx % num), 8 };
	qsort(s, n, sizeof(s[0]), span_cmp);
	for (i = 1; i < n; i++)
		if (s[i].off < s[i - 1].off + s[i - 1].len)
			return true;
	return false;
}

/*
 * The queue's task, one step: serve a buffer if there is one, else do
 * what it does before sleeping.  Returns false once the launcher stopped.
 */
enum kind { CON_RX, CON_TX, NET_RX, NET_TX, BLOCK, RNG_RQ };

static bool serve_idle(struct dev *d, struct vq *vq)
{
	jmp_buf jb;
	u16 flags = READ_ONCE(vq->avail->flags);
	bool must_stop = vq->pending && flags > VRING_AVAIL_F_NO_INTERRUPT;
	bool irq = vq->pending && !flags;
	unsigned int before = interrupts;
	jmp_buf *outer = fuzz_stop;

	fuzz_stop = &jb;
	if (setjmp(jb)) {
		in_service = false;
		fuzz_stop = outer;
		fz_assert(must_stop, "%s queue %s stopped before sleeping",
			  d->name, vq->name);
		check_stop();
		return false;
	}
	in_service = true;
	vq_interrupt(vq);
	in_service = false;
	fuzz_stop = outer;
	fz_assert(!must_stop,
		  "%s queue %s: available flags %#x not refused (2.4.7.1)",
		  d->name, vq->name, flags);
	fz_assert(interrupts - before == irq,
		  "%s queue %s: %u interrupts, want %u", d->name, vq->name,
		  interrupts - before, irq);
	return true;
}

static bool serve_one(struct dev *d, struct vq *vq, enum kind k)
{
	static u8 frame[4096];
	struct virtio_blk_outhdr h = { 0 };
	u64 used_off, status_off = 0, cap = d->sectors, sector = 0;
	u16 old_used = vq->used_idx;
	unsigned int num = vq->num, i;
	bool must_stop, stopped = false, overlap;
	size_t frame_len = 0, n = 0;
	u32 want_used = 0, type = 0;
	unsigned int irqs, want_irqs = 0;
	jmp_buf jb, *outer;
	long got;

	walk(d, vq);
	must_stop = ref.bad;
	served += ref.rbytes + ref.wbytes;
	if (trace) {
		TRACE("  %s queue %s: head %u, %u readable (%llu bytes), %u "
		      "writable (%llu bytes)%s%s",
		      d->name, vq->name, ref.head, ref.nr, ref.rbytes, ref.nw,
		      ref.wbytes, ref.bad ? ": must stop, " : "",
		      ref.bad ? ref.why : "");
		for (i = 0; i < ref.nr; i++)
			TRACE("    r %#llx+%llu", ref.r[i].off, ref.r[i].len);
		for (i = 0; i < ref.nw; i++)
			TRACE("    w %#llx+%llu", ref.w[i].off, ref.w[i].len);
	}
	fz_off(vq->used_gpa, 6 + 8 * num, &used_off);
	if (!must_stop) {
		gather(rbuf, ref.r, ref.nr);
		for (i = ref.nw; i-- > 0;) {
			if (ref.w[i].len) {
				status_off = ref.w[i].off + ref.w[i].len - 1;
				break;
			}
		}
	}
	if (!must_stop) {
		switch (k) {
		case CON_RX:
		case NET_RX:
		case RNG_RQ:
			must_stop = ref.nr; /* 5.3.6.1, 5.1.6, 5.4.6.1 */
			if (k == CON_RX)
				n = stdin_len < ref.wbytes ? stdin_len
							   : ref.wbytes;
			if (k == NET_RX) {
				frame_len = frames[0].len;
				memcpy(frame, frames[0].buf, frame_len);
				n = frame_len < ref.wbytes ? frame_len
							   : ref.wbytes;
			}
			want_used = k == RNG_RQ ? ref.wbytes : n;
			break;
		case CON_TX:
		case NET_TX:
			must_stop = ref.nw;
			ftruncate(STDOUT_FILENO, 0);
			lseek(STDOUT_FILENO, 0, SEEK_SET);
			break;
		case BLOCK:
			/* 5.2.6: a header, then data, then a status byte. */
			if (ref.rbytes < sizeof(h) || !ref.wbytes) {
				must_stop = true;
				break;
			}
			memcpy(&h, rbuf, sizeof(h));
			type = h.type;
			sector = h.sector;
			want_used = 1;
			if (type == VIRTIO_BLK_T_IN) {
				must_stop = sector > cap ||
					    ref.wbytes - 1 >
						    (cap - sector) * 512;
				want_used = ref.wbytes;
			} else if (type == VIRTIO_BLK_T_OUT) {
				must_stop = sector > cap ||
					    ref.rbytes - sizeof(h) >
						    (cap - sector) * 512;
				disk_dirty = true;
			} else if (type == VIRTIO_BLK_T_FLUSH) {
				must_stop = sector;
			}
			break;
		}
	}

	irqs = interrupts;
	outer = fuzz_stop;
	fuzz_stop = &jb;
	in_service = true;
	if (setjmp(jb))
		stopped = true;
	else
		vq->service(vq);
	in_service = false;
	fuzz_stop = outer;

	/* The device may have written its buffers and used ring, no more. */
	if (!ref.bad) {
		allow_spans(ref.w, ref.nw);
		allow(used_off + 2, 2);
		allow(used_off + 4 + 8 * (old_used % num), 8);
	}
	/*
	 * The console interrupts at once (typing is interactive), unless
	 * the guest asked not to be, where bad flags stop it (2.4.7.1).  The
	 * others wait till their queue runs dry; the net receiveq also when
	 * no frame is waiting, and we serve it only with one waiting.
	 */
	if (k == CON_RX && !must_stop && ref.wbytes) {
		u16 flags = READ_ONCE(vq->avail->flags);

		must_stop = flags > VRING_AVAIL_F_NO_INTERRUPT;
		want_irqs = !flags;
	}
	if (stopped != must_stop)
		finding("%s queue %s %s a chain that the rules say %s (%s; "
			"%u readable, %u writable descriptors, %llu and %llu "
			"bytes%s)",
			d->name, vq->name, stopped ? "stopped on" : "served",
			must_stop ? "must stop it" : "is fine",
			ref.bad ? ref.why : "device rules", ref.nr, ref.nw,
			ref.rbytes, ref.wbytes,
			k == BLOCK ? ", a block request" : "");
	if (stopped) {
		check_stop();
		return false;
	}

	fz_assert(interrupts - irqs == want_irqs,
		  "%s queue %s: %u interrupts for one buffer, want %u", d->name,
		  vq->name, interrupts - irqs, want_irqs);

	/* Served: one used entry, for this chain, of the right length. */
	fz_assert(vq->used_idx == (u16)(old_used + 1) &&
			  rd16(used_off + 2) == vq->used_idx,
		  "%s queue %s: used index %u -> %u (ring says %u)", d->name,
		  vq->name, old_used, vq->used_idx, rd16(used_off + 2));
	fz_assert(rd32(used_off + 4 + 8 * (old_used % num)) == ref.head,
		  "%s queue %s: used id %u, head was %u", d->name, vq->name,
		  rd32(used_off + 4 + 8 * (old_used % num)), ref.head);
	got = rd32(used_off + 8 + 8 * (old_used % num));
	fz_assert(got == want_used && got <= (long)ref.wbytes,
		  "%s queue %s: used length %ld, want %u (%llu writable)",
		  d->name, vq->name, got, want_used, ref.wbytes);

	/* And what it wrote, where we can tell. */
	overlap = writes_overlap(used_off, old_used, num);
	switch (k) {
	case CON_RX:
		if (!overlap && n) {
			gather(wbuf, ref.w, ref.nw);
			fz_assert(
				!memcmp(wbuf, stdin_q, n),
				"console: the guest got other bytes than were "
				"typed");
		}
		memmove(stdin_q, stdin_q + n, stdin_len - n);
		stdin_len -= n;
		break;
	case NET_RX:
		if (ref.wbytes) {
			memmove(frames, frames + 1,
				--nframes * sizeof(frames[0]));
		}
		if (!overlap && n) {
			gather(wbuf, ref.w, ref.nw);
			if (n >= sizeof(struct virtio_net_hdr_v1))
				le_put(frame + offsetof(struct virtio_net_hdr_v1,
							num_buffers),
				       2, 1);
			fz_assert(!memcmp(wbuf, frame, n),
				  "net: the guest got another frame than the "
				  "tap's (%zu bytes)",
				  n);
		}
		break;
	case CON_TX: {
		static u8 out[GATHER_MAX];
		struct stat st;
		ssize_t r = pread(STDOUT_FILENO, out, sizeof(out), 0);

		fz_assert(!fstat(STDOUT_FILENO, &st) &&
				  (u64)st.st_size == ref.rbytes,
			  "console: %lld bytes written for %llu",
			  (long long)st.st_size, ref.rbytes);
		fz_assert(ref.rbytes > GATHER_MAX || !memcmp(out, rbuf, r),
			  "console: other bytes written than the guest's");
		break;
	}
	case NET_TX: {
		static u8 out[256 * 1024];
		ssize_t r = recv(tap_peer, out, sizeof(out), MSG_TRUNC);

		/*
		 * Frames too big for a datagram are lost, and a socket sends
		 * nothing for an empty write; the rest arrive.
		 */
		if (ref.rbytes && ref.rbytes < 200 * 1024)
			fz_assert(r == (ssize_t)ref.rbytes &&
					  !memcmp(out, rbuf, r),
				  "net: a %zd-byte frame for %llu bytes", r,
				  ref.rbytes);
		while (recv(tap_peer, out, sizeof(out), 0) >= 0)
			;
		break;
	}
	case BLOCK: {
		u8 st = gbase[status_off];
		u8 want = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_OUT ||
					  type == VIRTIO_BLK_T_FLUSH
				  ? VIRTIO_BLK_S_OK
				  : VIRTIO_BLK_S_UNSUPP;

		if (type == VIRTIO_BLK_T_OUT)
			memcpy(disk_shadow + sector * 512, rbuf + sizeof(h),
			       ref.rbytes - sizeof(h));
		if (overlap)
			break;
		fz_assert(st == want, "block: status %u for type %u, want %u",
			  st, type, want);
		if (type == VIRTIO_BLK_T_IN) {
			gather(wbuf, ref.w, ref.nw);
			fz_assert(!memcmp(wbuf, disk_shadow + sector * 512,
					  ref.wbytes - 1),
				  "block: a read of sector %llu returned other "
				  "bytes than the disk's",
				  sector);
		}
		break;
	}
	case RNG_RQ:
		break;
	}
	return true;
}

static bool serve(struct dev *d, unsigned int q, unsigned int count)
{
	static const enum kind kinds[NDEV][2] = {
		{ CON_RX, CON_TX },
		{ NET_RX, NET_TX },
		{ BLOCK, BLOCK },
		{ RNG_RQ, RNG_RQ },
	};
	struct vq *vq;

	if (q >= d->nvq)
		return true;
	vq = &d->vq[q];
	/* The task runs from DRIVER_OK, for an enabled queue. */
	if (!status_has(d, VIRTIO_CONFIG_S_DRIVER_OK) || !vq->enabled)
		return true;
	while (count--) {
		enum kind k = kinds[dev_no(d)][q];

		if (!vq_has_work(vq))
			return serve_idle(d, vq);
		/* Where the task would block waiting for input, it waits. */
		if (k == CON_RX &&
		    (!stdin_len || (stdin_taken && stdin_taken())))
			return true;
		if (k == NET_RX && !nframes)
			return true;
		if (served > SERVE_BUDGET)
			return true;
		if (!serve_one(d, vq, k))
			return false;
		check_device(d);
	}
	return true;
}

/*
 * The driver's helpers: what a well-behaved driver does, so that the
 * fuzzer gets past set-up quickly and spends its time on what follows.
 */
struct seg {
	u64 gpa;
	u32 len;
	u16 flags, next;
	bool raw; /* flags and next as given */
};

/* Offer a chain in queue q, as its driver would (2.4.6). */
static void add_chain(struct dev *d, unsigned int q, struct seg *s,
		      unsigned int n, bool indirect)
{
	struct vq *vq;
	u64 desc, avail, at;
	unsigned int size, i;
	u16 head, idx;
	u8 e[16];

	if (q >= d->nvq)
		return;
	vq = &d->vq[q];
	size = vq->size;
	if (!fz_off(vq->desc_gpa, 16 * size, &desc) ||
	    !fz_off(vq->avail_gpa, 4 + 2 * size, &avail))
		return;
	head = next_desc[dev_no(d)][q] % size;
	for (i = 0; i < n; i++) {
		if (!s[i].raw) {
			s[i].flags |= i + 1 < n ? VRING_DESC_F_NEXT : 0;
			s[i].next = indirect ? i + 1 : (head + i + 1) % size;
		}
	}
	if (indirect) {
		at = data_alloc(16 * n);
		for (i = 0; i < n; i++) {
			le_put(e, 4, s[i].gpa);
			le_put(e + 4, 4, s[i].gpa >> 32);
			le_put(e + 8, 4, s[i].len);
			le_put(e + 12, 2, s[i].flags);
			le_put(e + 14, 2, s[i].next);
			gwrite(at + 16 * i, e, 16);
		}
		s[0] = (struct seg){ at, 16 * n, VRING_DESC_F_INDIRECT, 0,
				     false };
		n = 1;
	}
	for (i = 0; i < n && i < size; i++) {
		le_put(e, 4, s[i].gpa);
		le_put(e + 4, 4, s[i].gpa >> 32);
		le_put(e + 8, 4, s[i].len);
		le_put(e + 12, 2, s[i].flags);
		le_put(e + 14, 2, s[i].next);
		fz_write(desc + 16 * ((head + i) % size), e, 16);
	}
	next_desc[dev_no(d)][q] += n;
	idx = rd16(avail + 2);
	gput16(vq->avail_gpa + 4 + 2 * (idx % size), head);
	gput16(vq->avail_gpa + 2, idx + 1);
}

/* Place a buffer's bytes in the data area. */
static u64 put_data(const u8 *p, size_t len, size_t room)
{
	u64 at = data_alloc(room);

	if (len)
		gwrite(at, p, len < room ? len : room);
	return at;
}

static void op_init(struct dev *d, u8 how, u64 accept)
{
	u64 offered;

	bar_write(d, CC(device_status), 1, 0);
	bar_write(d, CC(device_status), 1, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	bar_write(d, CC(device_status), 1,
		  VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	bar_write(d, CC(device_feature_select), 4, 0);
	offered = bar_read(d, CC(device_feature), 4);
	bar_write(d, CC(device_feature_select), 4, 1);
	offered |= (u64)bar_read(d, CC(device_feature), 4) << 32;
	if (how & 1)
		accept &= offered;
	bar_write(d, CC(guest_feature_select), 4, 0);
	bar_write(d, CC(guest_feature), 4, accept);
	bar_write(d, CC(guest_feature_select), 4, 1);
	bar_write(d, CC(guest_feature), 4, accept >> 32);
	bar_write(d, CC(device_status), 1,
		  VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			  VIRTIO_CONFIG_S_FEATURES_OK);
	bar_read(d, CC(device_status), 1);
}

static void op_queue(struct dev *d, unsigned int q, unsigned int size, u64 desc,
		     u64 avail, u64 used, bool zero)
{
	u64 off;

	if (zero) {
		if (fz_off(desc, 16 * size, &off))
			fz_fill(off, 0, 16 * size);
		if (fz_off(avail, 6 + 2 * size, &off))
			fz_fill(off, 0, 6 + 2 * size);
		if (fz_off(used, 6 + 8 * size, &off))
			fz_fill(off, 0, 6 + 8 * size);
	}
	if (q < 2)
		next_desc[dev_no(d)][q] = 0;
	bar_write(d, CC(queue_select), 2, q);
	bar_write(d, CC(queue_size), 2, size);
	bar_write(d, CC(queue_desc_lo), 4, desc);
	bar_write(d, CC(queue_desc_hi), 4, desc >> 32);
	bar_write(d, CC(queue_avail_lo), 4, avail);
	bar_write(d, CC(queue_avail_hi), 4, avail >> 32);
	bar_write(d, CC(queue_used_lo), 4, used);
	bar_write(d, CC(queue_used_hi), 4, used >> 32);
	bar_write(d, CC(queue_enable), 2, 1);
}

/* The standard place of a device's queue: low RAM, or high (hi). */
static u64 queue_base(struct dev *d, unsigned int q, bool hi)
{
	u64 at = (dev_no(d) * 2 + q % 2) * 0x4000ULL;

	return hi ? HIGH_RAM + at : FZ_QUEUES + at;
}

/*
 * The history of n buffers offered, served and taken back, in no time:
 * so that inputs reach the ring indices' wrap at 65536.
 */
static void skip_ahead(struct dev *d, struct vq *vq, u16 n)
{
	if (!status_has(d, VIRTIO_CONFIG_S_DRIVER_OK) || !vq->enabled ||
	    vq_has_work(vq))
		return;
	vq->last_avail += n;
	vq->used_idx += n;
	gput16(vq->avail_gpa + 2, vq->last_avail);
	gput16(vq->used_gpa + 2, vq->used_idx);
}

static void op_blk(struct in *in)
{
	static const u32 types[] = { VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT,
				     VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID };
	u8 t = get8(in) % 8, lens, segs, fill;
	struct seg s[8];
	u8 hdr[16];
	u64 sector;
	u32 type, len, i, n = 0, part;

	if (t < 4) {
		type = types[t];
		sector = get8(in);
	} else if (t < 6) {
		type = types[t - 4];
		sector = get64(in);
	} else {
		type = get32(in);
		sector = get64(in);
	}
	lens = get8(in) % 18;
	len = lens == 17 ? get16(in) : lens * 512u;
	segs = get8(in) % 4 + 1;
	fill = get8(in);
	TRACE("  block request type %u sector %llu, %u bytes in %u, fill %#x",
	      type, sector, len, segs, fill);
	le_put(hdr, 4, type);
	le_put(hdr + 4, 4, 0);
	le_put(hdr + 8, 4, sector);
	le_put(hdr + 12, 4, sector >> 32);
	s[n++] = (struct seg){ put_data(hdr, 16, 16), 16, 0, 0, false };
	for (i = 0; i < segs && len; i++) {
		static u8 buf[65536];
		u32 j;

		part = i + 1 < segs ? len / segs
				    : len - (segs - 1) * (len / segs);
		if (type == VIRTIO_BLK_T_OUT) {
			for (j = 0; j < part; j++)
				buf[j] = fill + i * 31 + j * 7;
			s[n++] = (struct seg){ put_data(buf, part, part), part,
					       0, 0, false };
		} else {
			s[n++] = (struct seg){ data_alloc(part), part,
					       VRING_DESC_F_WRITE, 0, false };
		}
	}
	s[n++] = (struct seg){ data_alloc(1), 1, VRING_DESC_F_WRITE, 0, false };
	add_chain(BLK, 0, s, n, fill & 0x80);
}

/*
 * A guest-physical address the input chooses: mostly near the edges of
 * RAM, where a translation that is off by one would show.
 */
static u64 get_addr(struct in *in)
{
	u8 sel = get8(in) % 8;

	switch (sel) {
	case 0:
		return get64(in);
	case 1:
		return FZ_RAM_LO - get16(in); /* low RAM's end */
	case 2:
		return FZ_RAM_LO + get16(in); /* the device pages */
	case 3:
		return HIGH_RAM - get16(in); /* the hole below 4 GiB */
	case 4:
		return HIGH_RAM + get16(in); /* high RAM's start */
	case 5:
		return HIGH_RAM + FZ_RAM_HI - get16(in); /* high RAM's end */
	case 6:
		return 0 - (u64)get16(in); /* the top: wraps */
	}
	return FZ_DATA + get32(in) % (FZ_DATA_END - FZ_DATA);
}

static void op_chain(struct in *in)
{
	struct dev *d = get_dev(in);
	u8 q = get8(in) % 2, n = get8(in) % 8 + 1, ind = get8(in), i;
	struct seg s[8];

	for (i = 0; i < n; i++) {
		u8 kind = get8(in);
		u32 len = kind & 0x80 ? get32(in) : get16(in);

		s[i] = (struct seg){ 0, len, kind & 1 ? VRING_DESC_F_WRITE : 0,
				     0, false };
		if (kind & 2)
			s[i].gpa = get_addr(in);
		else
			s[i].gpa = data_alloc(len);
		if (kind & 4) {
			s[i].flags = get16(in);
			s[i].next = get16(in);
			s[i].raw = true;
		}
		if ((kind & 8) && !(kind & 1)) {
			size_t got;
			const u8 *p = getn(in, len, &got);

			gwrite(s[i].gpa, p, got);
		}
		TRACE("  desc %u: %#llx len %u flags %#x%s", i, s[i].gpa,
		      s[i].len, s[i].flags, s[i].raw ? " (raw)" : "");
	}
	TRACE("  chain of %u on %s queue %u%s", n, d->name, q,
	      ind & 1 ? ", indirect" : "");
	add_chain(d, q, s, n, ind & 1);
}

/* Type on the console: the pipe takes what it can. */
static void op_stdin(struct in *in)
{
	u8 buf[256];
	size_t len = get8(in) + 1, got, i;
	const u8 *p = getn(in, len, &got);
	ssize_t w;

	for (i = 0; i < got; i++)
		buf[i] = p[i] == 3 ? 4 : p[i];
	if (got > sizeof(stdin_q) - stdin_len)
		got = sizeof(stdin_q) - stdin_len;
	w = write(stdin_w, buf, got);
	if (w > 0) {
		memcpy(stdin_q + stdin_len, buf, w);
		stdin_len += w;
	}
}

static void op_tap(struct in *in)
{
	size_t len = get16(in) % 4096, got;
	const u8 *p = getn(in, len, &got);

	if (nframes == MAX_FRAMES)
		return;
	memset(frames[nframes].buf, 0, len);
	memcpy(frames[nframes].buf, p, got);
	if (send(tap_peer, frames[nframes].buf, len, MSG_DONTWAIT) ==
	    (ssize_t)len)
		frames[nframes++].len = len;
}

enum {
	OP_PORT,
	OP_CFG,
	OP_MMIO,
	OP_MMIO_RAW,
	OP_MEM,
	OP_FILL,
	OP_INIT,
	OP_QUEUE,
	OP_DRIVER_OK,
	OP_CHAIN,
	OP_BLK,
	OP_NOTIFY,
	OP_SERVE,
	OP_STDIN,
	OP_TAP,
	OP_RESET,
	OP_AVAIL,
	OP_RING,
	OP_SKIP,
	NOPS
};

static const char *const op_names[NOPS] = {
	"PORT",	 "CFG",	      "MMIO",  "MMIO_RAW", "MEM",    "FILL",  "INIT",
	"QUEUE", "DRIVER_OK", "CHAIN", "BLK",	   "NOTIFY", "SERVE", "STDIN",
	"TAP",	 "RESET",     "AVAIL", "RING",	   "SKIP",
};

static const unsigned int widths[] = { 1, 2, 4, 8 };

/* One operation; false once the launcher is gone. */
static bool run_op(struct in *in)
{
	u8 op = get8(in) % NOPS;
	struct dev *d;
	u32 val;
	u64 off;

	op_name = op_names[op];
	switch (op) {
	case OP_PORT: {
		u16 port = get16(in);
		u8 w = get8(in);
		unsigned int width = widths[(w & 0x7F) % 3];
		bool write = w & 0x80;

		val = get32(in);
		port_io(port, width, write, &val);
		TRACE("%u PORT %s %#x width %u: %#x", op_no,
		      write ? "out" : "in", port, width, val);
		break;
	}
	case OP_CFG: {
		u8 slot = get8(in) % 8, reg = get8(in), w = get8(in);
		unsigned int width = widths[(w & 0x7F) % 3];
		bool write = w & 0x80;
		u32 addr = 0x80000000u | slot << 11 | (reg & 0xFC);

		val = get32(in);
		port_io(PCI_CONFIG_ADDR, 4, true, &addr);
		port_io(PCI_CONFIG_DATA + (reg & 3), width, write, &val);
		TRACE("%u CFG %s slot %u reg %#x width %u: %#x", op_no,
		      write ? "write" : "read", slot, reg, width, val);
		break;
	}
	case OP_MMIO:
	case OP_MMIO_RAW: {
		unsigned int width;
		bool write;
		u64 gpa;
		u8 w;

		if (op == OP_MMIO) {
			d = get_dev(in);
			gpa = d->bar + get8(in);
		} else {
			gpa = FZ_RAM_LO + DEVICE_BYTES + get16(in);
		}
		w = get8(in);
		width = widths[(w & 0x7F) % 4];
		write = w & 0x80;
		val = get32(in);
		TRACE("%u MMIO %s %#llx width %u val %#x", op_no,
		      write ? "write" : "read", gpa, width, val);
		mmio_access(gpa, width, write, &val);
		break;
	}
	case OP_MEM:
	case OP_FILL: {
		u8 where = get8(in);
		u32 at = get32(in);
		size_t len = op == OP_MEM ? get8(in) + 1u : get16(in), got;
		u64 limit = where & 1 ? FZ_RAM_HI : FZ_RAM_LO;

		at %= limit;
		if (len > limit - at)
			len = limit - at;
		off = (where & 1 ? FZ_HI_OFF : 0) + at;
		if (op == OP_MEM) {
			const u8 *p = getn(in, len, &got);

			fz_write(off, p, got);
		} else {
			fz_fill(off, get8(in), len);
		}
		TRACE("%u %s %s RAM %#x, %zu bytes", op_no, op_names[op],
		      where & 1 ? "high" : "low", at, len);
		break;
	}
	case OP_INIT: {
		u8 how;
		u64 accept;

		d = get_dev(in);
		how = get8(in);
		accept = get64(in);
		TRACE("%u INIT %s accepting %#llx%s", op_no, d->name, accept,
		      how & 1 ? " of what is offered" : "");
		op_init(d, how, accept);
		break;
	}
	case OP_QUEUE: {
		u8 q, size, layout;
		u64 desc, avail, used;

		d = get_dev(in);
		q = get8(in) % 4;
		size = get8(in) % 10;
		layout = get8(in);
		if (layout & 0x80) {
			desc = get_addr(in);
			avail = get_addr(in);
			used = get_addr(in);
		} else {
			desc = queue_base(d, q, layout & 1);
			avail = desc + 0x1000;
			used = desc + 0x2000;
		}
		TRACE("%u QUEUE %s %u: %u entries, desc %#llx avail %#llx used "
		      "%#llx",
		      op_no, d->name, q, 1u << size, desc, avail, used);
		op_queue(d, q, 1u << size, desc, avail, used, !(layout & 0x80));
		break;
	}
	case OP_DRIVER_OK:
		d = get_dev(in);
		TRACE("%u DRIVER_OK %s", op_no, d->name);
		val = bar_read(d, CC(device_status), 1);
		bar_write(d, CC(device_status), 1,
			  val | VIRTIO_CONFIG_S_DRIVER_OK);
		break;
	case OP_CHAIN:
		TRACE("%u CHAIN", op_no);
		op_chain(in);
		break;
	case OP_BLK:
		TRACE("%u BLK", op_no);
		op_blk(in);
		break;
	case OP_NOTIFY:
		d = get_dev(in);
		val = get8(in);
		TRACE("%u NOTIFY %s queue %u", op_no, d->name, val);
		bar_write(d, BAR_NOTIFY, 2, val);
		break;
	case OP_SERVE: {
		u8 q, count;

		d = get_dev(in);
		q = get8(in) % 2;
		count = get8(in) % 16 + 1;
		TRACE("%u SERVE %s queue %u, up to %u", op_no, d->name, q,
		      count);
		if (!serve(d, q, count))
			return false;
		break;
	}
	case OP_STDIN:
		TRACE("%u STDIN", op_no);
		op_stdin(in);
		break;
	case OP_TAP:
		TRACE("%u TAP", op_no);
		op_tap(in);
		break;
	case OP_RESET:
		d = get_dev(in);
		TRACE("%u RESET %s", op_no, d->name);
		bar_write(d, CC(device_status), 1, 0);
		break;
	case OP_AVAIL:
	case OP_RING:
	case OP_SKIP: {
		u8 q;
		u16 a, b;

		d = get_dev(in);
		q = get8(in) % 2;
		a = get16(in);
		b = get16(in);
		TRACE("%u %s %s queue %u: %#x %#x", op_no, op_names[op],
		      d->name, q, a, b);
		if (q >= d->nvq)
			break;
		if (op == OP_SKIP) {
			skip_ahead(d, &d->vq[q], a);
		} else if (op == OP_AVAIL) {
			gput16(d->vq[q].avail_gpa + 2, a);
			gput16(d->vq[q].avail_gpa, b);
		} else {
			gput16(d->vq[q].avail_gpa + 4 + 2 * (a % d->vq[q].size),
			       b);
		}
		break;
	}
	}
	return !ended;
}

/*
 * Between inputs: everything back as lguest had it at start-up.
 */
static void drain(int fd)
{
	u8 buf[4096];

	/* Till it would block: an empty datagram reads as 0 bytes. */
	while (read(fd, buf, sizeof(buf)) >= 0)
		;
}

/*
 * A reset device is the device as it was set up (virtio 1.0 2.1.2, 4.1.4.3.1):
 * every field, but for the buffer being served and a task's stack.
 */
static void check_reset(struct dev *d, const struct dev *was)
{
	static struct dev now;
	unsigned int q;
	size_t i;

	memcpy(&now, d, sizeof(now));
	for (q = 0; q < d->nvq; q++) {
		memcpy(now.vq[q].iov, was->vq[q].iov, sizeof(now.vq[q].iov));
		now.vq[q].task.stack = was->vq[q].task.stack;
	}
	if (!memcmp(&now, was, sizeof(now)))
		return;
	for (i = 0; ((u8 *)&now)[i] == ((const u8 *)was)[i]; i++)
		;
	finding("%s after a reset differs from %s as set up at byte %zu of "
		"struct dev",
		d->name, d->name, i);
}

static void begin_input(void)
{
	unsigned int i;
	jmp_buf jb;

	launcher_pid = raw_syscall(SYS_gettid, 0, 0, 0, 0, 0);
	op_no = 0;
	op_name = "the reset before the input";
	ended = false;
	interrupts = 0;
	served = 0;

	/* Guest memory zero again: the pages are given back. */
	madvise(gbase, FZ_RAM_LO, MADV_DONTNEED);
	madvise(gbase + FZ_HI_OFF, FZ_RAM_HI, MADV_DONTNEED);
	madvise(shadow, FZ_MAP, MADV_DONTNEED);

	if (disk_dirty) {
		if (pwrite(disk_fd, disk_pristine, FZ_DISK, 0) != FZ_DISK)
			finding("cannot restore the disk: %s", strerror(errno));
		memcpy(disk_shadow, disk_pristine, FZ_DISK);
		disk_dirty = false;
	}

	drain(STDIN_FILENO);
	stdin_len = 0;
	drain(NET->fd);
	drain(tap_peer);
	nframes = 0;
	ftruncate(STDOUT_FILENO, 0);
	lseek(STDOUT_FILENO, 0, SEEK_SET);
	if (capture) {
		ftruncate(cap_fd, 0);
		lseek(cap_fd, 0, SEEK_SET);
	}

	/* The PCI bus and the PC around it. */
	pci_addr = 0;
	memcpy(host_bridge.cfg, saved_cfg[0], PCI_CFG_SIZE);
	pm1_enable = 0;
	memcpy(&uart, &pristine_uart, sizeof(uart));
	stdin_owner = STDIN_AUTO;
	drain(uart.wake);
	drain(stdin_wake);

	/* The devices, as a driver's reset leaves them. */
	fuzz_stop = &jb;
	if (setjmp(jb))
		finding("a device reset stopped the launcher");
	for (i = 0; i < NDEV; i++) {
		memcpy(devs[i]->cfg, saved_cfg[i + 1], PCI_CFG_SIZE);
		reset_device(devs[i]);
		devs[i]->ctrl_c = 0;
		memset(devs[i]->ctrl_c_ns, 0, sizeof(devs[i]->ctrl_c_ns));
	}
	fuzz_stop = NULL;
	for (i = 0; i < NDEV; i++)
		check_reset(devs[i], &pristine[i]);
	memset(next_desc, 0, sizeof(next_desc));
	data_next = FZ_DATA;
}

/* Guest memory: nothing the device was not allowed to write, changed. */
static void check_memory(void)
{
	static const struct {
		u64 off, len, gpa;
	} ram[] = { { 0, FZ_RAM_LO, 0 }, { FZ_HI_OFF, FZ_RAM_HI, HIGH_RAM } };
	static unsigned char vec[FZ_RAM_LO / PAGE];
	unsigned int r;
	u64 p, i;

	for (r = 0; r < 2; r++) {
		if (mincore(gbase + ram[r].off, ram[r].len, vec))
			finding("mincore: %s", strerror(errno));
		for (p = 0; p < ram[r].len / PAGE; p++) {
			u64 off = ram[r].off + p * PAGE;

			if (!(vec[p] & 1) ||
			    !memcmp(gbase + off, shadow + off, PAGE))
				continue;
			for (i = 0; gbase[off + i] == shadow[off + i]; i++)
				;
			finding("guest memory at %#llx is %#x, not %#x: "
				"written by the device, but in no buffer it "
				"was given to write",
				ram[r].gpa + p * PAGE + i, gbase[off + i],
				shadow[off + i]);
		}
	}
}

/* The block file: its size, and nothing but valid writes in it. */
static void check_disk(void)
{
	static u8 now[FZ_DISK + 1];
	struct stat st;
	ssize_t n;
	size_t i;

	fz_assert(!fstat(disk_fd, &st) && st.st_size == FZ_DISK,
		  "the block file is %lld bytes, not %d", (long long)st.st_size,
		  FZ_DISK);
	n = pread(disk_fd, now, sizeof(now), 0);
	fz_assert(n == FZ_DISK, "reading the block file: %zd", n);
	if (!memcmp(now, disk_shadow, FZ_DISK))
		return;
	for (i = 0; now[i] == disk_shadow[i]; i++)
		;
	finding("block file byte %zu is %#x, not %#x: changed by no valid "
		"write",
		i, now[i], disk_shadow[i]);
}

/*
 * Is libFuzzer writing elsewhere than fd 2 (-close_fd_mask=2)?  Then we
 * catch the launcher's messages there, and check every stop's.
 */
static void decide_capture(void)
{
	struct stat a, b;

	capture_decided = true;
	if (fstat(2, &a) || fstat(orig_err, &b))
		return;
	if (a.st_dev == b.st_dev && a.st_ino == b.st_ino &&
	    a.st_rdev == b.st_rdev)
		return; /* stderr is still where libFuzzer reports */
	cap_fd = memfd_create("lguest-stderr", MFD_CLOEXEC);
	if (cap_fd < 0 || dup2(cap_fd, 2) < 0)
		return;
	capture = true;
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct in in = { data, size };
	jmp_buf jb;
	u8 mode;
	unsigned int i;

	if (!capture_decided)
		decide_capture();
	begin_input();

	mode = get8(&in);
	queues_below_4g = mode & 1;
	if (mode & 2) {
		hv_ports = fz_pc_ports;
		pci_unused_zero = true;
		stdin_taken = uart_has_stdin;
	} else {
		hv_ports = NULL;
		pci_unused_zero = false;
		stdin_taken = NULL;
	}
	TRACE("mode %#x: %s queues, %s ports", mode,
	      queues_below_4g ? "32-bit" : "64-bit",
	      hv_ports ? "PC" : "PCI only");

	fuzz_stop = &jb;
	fuzz_driver_error = false;
	if (setjmp(jb)) {
		check_stop();
	} else {
		while (in.n) {
			op_no++;
			if (!run_op(&in))
				break;
			fuzz_stop = &jb;
			for (i = 0; i < NDEV; i++)
				check_device(devs[i]);
		}
	}
	fuzz_stop = NULL;
	if (trace && capture) {
		char said[4096];

		if (launcher_said(said, sizeof(said)))
			note("launcher:\n%s", said);
	}
	op_name = "end of input";
	check_disk();
	check_memory();
	return 0;
}

/*
 * Start-up: lguest's guest memory and devices, once.
 */
static void write_seeds(const char *dir);

static void die(const char *what)
{
	note("lguest-fuzz: %s: %s", what, strerror(errno));
	exit(1);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char *no_kargs[] = { NULL };
	static const u8 mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	struct dev_arg disk = { .kind = ARG_BLOCK, .text = "fuzz-disk" };
	int p[2], sv[2], fd;
	unsigned int i;

	(void)argc;
	(void)argv;
	orig_err = dup(2);
	if (orig_err < 0)
		orig_err = 2;
	trace = getenv("LGUEST_FUZZ_TRACE");
	launcher_pid = getpid();

	/* stdin: a pipe we type into; stdout: a memfd we read back. */
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) || dup2(p[0], STDIN_FILENO) < 0)
		die("stdin pipe");
	close(p[0]);
	stdin_w = p[1];
	fd = memfd_create("console-out", MFD_CLOEXEC);
	if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0)
		die("stdout memfd");
	close(fd);

	/* The block device's file, with a pattern we can recognize. */
	disk_fd = memfd_create("fuzz-disk", MFD_CLOEXEC);
	if (disk_fd < 0)
		die("disk memfd");
	for (i = 0; i < FZ_DISK; i++)
		disk_pristine[i] = i / 512 * 13 + i * 7 + 1;
	if (pwrite(disk_fd, disk_pristine, FZ_DISK, 0) != FZ_DISK)
		die("disk memfd");
	memcpy(disk_shadow, disk_pristine, FZ_DISK);
	disk.fd = disk_fd;
	disk.bytes = FZ_DISK;

	/* The "tap": frames are datagrams. */
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		       sv))
		die("socketpair");
	tap_peer = sv[1];

	/* lguest as under KVM (interrupt lines, pins), minus the VM. */
	opt.hv = HV_KVM;
	opt.kargs = no_kargs;
	plan_ram(FZ_RAM_LO, false);
	ram_hi = FZ_RAM_HI;
	opt.mem = ram_lo + ram_hi;
	map_guest_memory();
	/* Only a translation gone wrong reaches the device pages (and pad). */
	if (mprotect(gbase + ram_lo, FZ_HI_OFF - ram_lo, PROT_NONE))
		die("mprotect");
	/*
	 * Small pages for us: each input starts from zeroed RAM (madvise
	 * MADV_DONTNEED), and huge ones would be zeroed 2 MiB at a time on
	 * every input's first touch, a quarter of the speed.
	 */
	madvise(gbase, FZ_MAP, MADV_NOHUGEPAGE);
	shadow = mmap(NULL, FZ_MAP, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	rbuf = malloc(FZ_MAP);
	wbuf = malloc(FZ_MAP);
	if (shadow == MAP_FAILED || !rbuf || !wbuf)
		die("memory");

	uart_init();
	memcpy(&pristine_uart, &uart, sizeof(uart));
	for (i = 0; i < 16; i++)
		line_fd[i] = -1;
	hv_interrupt = fz_interrupt;
	guest_ip = fz_guest_ip;
	hv_queues = fz_queues;

	pci_init_bus();
	setup_console();
	net_device(sv[0], mac);
	setup_block(&disk);
	setup_rng();
	close(slots[4]->fd);
	slots[4]->fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	if (slots[4]->fd < 0)
		die("/dev/zero");
	for (i = 0; i < NDEV; i++)
		devs[i] = slots[i + 1];
	memcpy(saved_cfg[0], host_bridge.cfg, PCI_CFG_SIZE);
	for (i = 0; i < NDEV; i++) {
		memcpy(saved_cfg[i + 1], devs[i]->cfg, PCI_CFG_SIZE);
		memcpy(&pristine[i], devs[i], sizeof(pristine[i]));
	}

	if (getenv("LGUEST_FUZZ_SEEDS")) {
		write_seeds(getenv("LGUEST_FUZZ_SEEDS"));
		exit(0);
	}
	return 0;
}

/*
 * The seed corpus: inputs that take each device to DRIVER_OK and serve
 * requests, written in the format above (LGUEST_FUZZ_SEEDS=DIR).
 */
static u8 sbuf[8192];
static size_t slen;

static void e8(u8 v)
{
	if (slen < sizeof(sbuf))
		sbuf[slen++] = v;
}

static void e16(u16 v)
{
	e8(v);
	e8(v >> 8);
}

static void e32(u32 v)
{
	e16(v);
	e16(v >> 16);
}

static void e64(u64 v)
{
	e32(v);
	e32(v >> 32);
}

static void s_init(u8 dev, u64 accept)
{
	e8(OP_INIT), e8(dev), e8(1), e64(accept);
}

static void s_queue(u8 dev, u8 q, u8 size_log2, u8 layout)
{
	e8(OP_QUEUE), e8(dev), e8(q), e8(size_log2), e8(layout);
}

static void s_driver_ok(u8 dev)
{
	e8(OP_DRIVER_OK), e8(dev);
}

static void s_serve(u8 dev, u8 q, u8 count)
{
	e8(OP_SERVE), e8(dev), e8(q), e8(count - 1);
}

static void s_notify(u8 dev, u8 q)
{
	e8(OP_NOTIFY), e8(dev), e8(q);
}

/* A chain of one buffer: readable with 'text', or writable of len. */
static void s_buf(u8 dev, u8 q, const char *text, u16 len, bool ind)
{
	e8(OP_CHAIN), e8(dev), e8(q), e8(0), e8(ind);
	if (text) {
		e8(8), e16(strlen(text));
		while (*text)
			e8(*text++);
	} else {
		e8(1), e16(len);
	}
}

static void s_blk(u8 type, u8 sector, u8 sectors, u8 segs, u8 fill)
{
	e8(OP_BLK), e8(type), e8(sector), e8(sectors), e8(segs - 1), e8(fill);
}

static void s_cfg(u8 slot, u8 reg, bool write, u8 wsel, u32 val)
{
	e8(OP_CFG), e8(slot), e8(reg), e8(wsel | (write ? 0x80 : 0)), e32(val);
}

static void s_mmio(u8 dev, u8 off, bool write, u8 wsel, u32 val)
{
	e8(OP_MMIO), e8(dev), e8(off), e8(wsel | (write ? 0x80 : 0)), e32(val);
}

static void s_port(u16 port, bool write, u8 wsel, u32 val)
{
	e8(OP_PORT), e16(port), e8(wsel | (write ? 0x80 : 0)), e32(val);
}

static void s_save(const char *dir, const char *name)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, sbuf, slen) != (ssize_t)slen)
		die(path);
	close(fd);
	slen = 0;
}

#define NET_OFFLOADS                                                        \
	(1ULL << VIRTIO_NET_F_CSUM | 1ULL << VIRTIO_NET_F_GUEST_CSUM |      \
	 1ULL << VIRTIO_NET_F_GUEST_TSO4 | 1ULL << VIRTIO_NET_F_HOST_TSO4 | \
	 1ULL << VIRTIO_NET_F_MAC)
#define V1 (1ULL << VIRTIO_F_VERSION_1)
#define IND (1ULL << VIRTIO_RING_F_INDIRECT_DESC)

static void write_seeds(const char *dir)
{
	static const char frame[] = "\0\0\0\0\0\0\0\0\0\0\0\0"
				    "\xff\xff\xff\xff\xff\xff"
				    "RT\0\x12\x34V\x08\x06 an ARP frame";
	unsigned int mode, slot, reg, i;
	char name[64];

	/* The bus as Linux probes it, in both modes. */
	for (mode = 0; mode < 4; mode += 3) {
		e8(mode);
		for (slot = 0; slot < 6; slot++)
			for (reg = 0; reg < 0x98; reg += 4)
				if (reg != WIN_DATA)
					s_cfg(slot, reg, false, 2, 0);
		for (slot = 1; slot < 5; slot++) {
			s_cfg(slot, PCI_BASE_ADDRESS_0, true, 2, 0xFFFFFFFF);
			s_cfg(slot, PCI_BASE_ADDRESS_0, false, 2, 0);
			s_cfg(slot, PCI_COMMAND, true, 1, 6);
		}
		/* The PCI_CFG window onto device_status. */
		s_cfg(1, WIN_BAR, true, 0, 0);
		s_cfg(1, WIN_OFFSET, true, 2, CC(device_status));
		s_cfg(1, WIN_LENGTH, true, 2, 1);
		s_cfg(1, WIN_DATA, true, 0, VIRTIO_CONFIG_S_ACKNOWLEDGE);
		s_cfg(1, WIN_DATA, false, 0, 0);
		snprintf(name, sizeof(name), "pci-probe-%u", mode);
		s_save(dir, name);
	}

	/* Each device to DRIVER_OK and a request served. */
	for (mode = 0; mode < 4; mode += 3) {
		e8(mode);
		s_init(0, V1 | 1ULL << VIRTIO_CONSOLE_F_EMERG_WRITE);
		s_mmio(0, BAR_DEVICE + 8, true, 2, 'A'); /* emerg_wr */
		s_queue(0, 0, 4, mode & 1 ? 0 : 1);
		s_queue(0, 1, 4, 0);
		s_driver_ok(0);
		s_buf(0, 1, "hello, world\n", 0, false);
		s_notify(0, 1);
		s_serve(0, 1, 2);
		e8(OP_STDIN), e8(2), e8('l'), e8('s'), e8('\n');
		s_buf(0, 0, NULL, 64, false);
		s_notify(0, 0);
		s_serve(0, 0, 2);
		snprintf(name, sizeof(name), "console-%u", mode);
		s_save(dir, name);

		e8(mode);
		s_init(2, V1 | 1ULL << VIRTIO_BLK_F_SEG_MAX |
				  1ULL << VIRTIO_BLK_F_FLUSH);
		s_queue(2, 0, 5, 0);
		s_driver_ok(2);
		s_blk(1, 3, 2, 2, 0x11); /* OUT sectors 3-4 */
		s_blk(0, 2, 4, 3, 0);	 /* IN sectors 2-5 */
		s_blk(2, 0, 0, 1, 0);	 /* FLUSH */
		s_blk(3, 0, 1, 1, 0);	 /* GET_ID: unsupported */
		s_notify(2, 0);
		s_serve(2, 0, 8);
		s_blk(1, 127, 1, 1, 0x22); /* the last whole sector */
		s_serve(2, 0, 2);
		snprintf(name, sizeof(name), "block-%u", mode);
		s_save(dir, name);

		e8(mode);
		s_init(1, V1 | NET_OFFLOADS | IND);
		s_queue(1, 0, 6, 0);
		s_queue(1, 1, 6, mode & 1 ? 0 : 1);
		s_driver_ok(1);
		e8(OP_CHAIN), e8(1), e8(1), e8(1), e8(0); /* two, readable */
		e8(8), e16(12);
		for (i = 0; i < 12; i++)
			e8(0);
		e8(8), e16(sizeof(frame) - 13);
		for (i = 12; i < sizeof(frame) - 1; i++)
			e8(frame[i]);
		s_notify(1, 1);
		s_serve(1, 1, 2);
		e8(OP_TAP), e16(sizeof(frame) - 1);
		for (i = 0; i < sizeof(frame) - 1; i++)
			e8(frame[i]);
		s_buf(1, 0, NULL, 1526, true);
		s_serve(1, 0, 2);
		snprintf(name, sizeof(name), "net-%u", mode);
		s_save(dir, name);

		e8(mode);
		s_init(3, V1);
		s_queue(3, 0, 4, mode & 1 ? 0 : 1);
		s_driver_ok(3);
		for (i = 0; i < 10; i++)
			s_buf(3, 0, NULL, 16 << (i % 4), false);
		e8(OP_AVAIL), e8(3), e8(0), e16(10), e16(1); /* no interrupts */
		s_notify(3, 0);
		s_serve(3, 0, 16);
		snprintf(name, sizeof(name), "rng-%u", mode);
		s_save(dir, name);
	}

	/* Under KVM: the UART, then the console with the UART listening. */
	e8(2);
	s_port(0x3F8 + 3, true, 0, 0x80); /* DLAB */
	s_port(0x3F8, true, 0, 1);
	s_port(0x3F8 + 3, true, 0, 3);
	s_port(0x3F8 + 1, true, 0, 1); /* receive interrupt on */
	s_port(0x3F8, true, 0, 'x');
	s_port(0x3F8 + 5, false, 0, 0);
	s_port(0x3F8 + 4, true, 0, 0x10); /* loopback */
	s_port(0x3F8, true, 0, 'y');
	s_port(0x3F8, false, 0, 0);
	s_port(0x600 + 2, true, 1, 0x100);
	s_port(0x600 + 2, false, 1, 0);
	s_port(0x604, false, 1, 0);
	s_init(0, V1);
	s_queue(0, 0, 2, 1);
	s_driver_ok(0);
	e8(OP_STDIN), e8(0), e8('k');
	s_buf(0, 0, NULL, 8, false);
	s_serve(0, 0, 1);
	s_port(0x3F8 + 1, true, 0, 0); /* receive interrupt off */
	s_serve(0, 0, 1);
	s_save(dir, "uart-console");

	/* Every register of the net device, read at its width. */
	e8(0);
	s_init(1, V1);
	for (reg = 0; reg < BAR_DEVICE; reg++)
		if (regs[reg].width && reg != BAR_NOTIFY && reg != BAR_PAD)
			s_mmio(1, reg, false, regs[reg].width / 2, 0);
	for (reg = 0; reg < 12; reg += 2)
		s_mmio(1, BAR_DEVICE + reg, false, 1, 0);
	s_save(dir, "registers");

	/* The ring indices wrapping at 65536. */
	e8(0);
	s_init(3, V1);
	s_queue(3, 0, 2, 0);
	s_driver_ok(3);
	e8(OP_SKIP), e8(3), e8(0), e16(65533), e16(0);
	for (i = 0; i < 3; i++) {
		s_buf(3, 0, NULL, 8, false);
		s_serve(3, 0, 2);
	}
	s_save(dir, "rng-wrap");

	/*
	 * And a few drivers that break a ring rule, to start from: a loop,
	 * a writable buffer before a readable one, buffers across the ends
	 * of RAM, a bad indirect table.
	 */
	e8(0);
	s_init(3, V1);
	s_queue(3, 0, 3, 0);
	s_driver_ok(3);
	e8(OP_CHAIN), e8(3), e8(0), e8(1), e8(0); /* two, looping */
	e8(5), e16(8), e16(VRING_DESC_F_WRITE | VRING_DESC_F_NEXT), e16(1);
	e8(5), e16(8), e16(VRING_DESC_F_WRITE | VRING_DESC_F_NEXT), e16(0);
	s_serve(3, 0, 1);
	s_save(dir, "bad-loop");

	e8(0);
	s_init(2, V1);
	s_queue(2, 0, 3, 0);
	s_driver_ok(2);
	e8(OP_CHAIN), e8(2), e8(0), e8(1), e8(0); /* writable, readable */
	e8(1), e16(16);
	e8(8), e16(16);
	for (i = 0; i < 16; i++)
		e8(0);
	s_serve(2, 0, 1);
	s_save(dir, "bad-order");

	for (mode = 0; mode < 2; mode++) {
		e8(0);
		s_init(3, V1);
		s_queue(3, 0, 3, 0);
		s_driver_ok(3);
		e8(OP_CHAIN), e8(3), e8(0), e8(0), e8(0);
		e8(3), e16(16), e8(mode ? 5 : 1), e16(15);
		s_serve(3, 0, 1);
		snprintf(name, sizeof(name), "bad-edge-%u", mode);
		s_save(dir, name);
	}

	/* A next one past the end of its table: the main one, an indirect. */
	for (mode = 0; mode < 2; mode++) {
		e8(0);
		s_init(1, V1 | IND);
		s_queue(1, 1, 3, 0);
		s_driver_ok(1);
		e8(OP_CHAIN), e8(1), e8(1), e8(1), e8(mode);
		e8(4), e16(12), e16(VRING_DESC_F_NEXT), e16(mode ? 2 : 8);
		e8(4), e16(60), e16(0), e16(0);
		s_serve(1, 1, 1);
		snprintf(name, sizeof(name), "bad-next-%u", mode);
		s_save(dir, name);
	}

	e8(0);
	s_init(1, V1 | IND);
	s_queue(1, 0, 3, 0);
	s_driver_ok(1);
	e8(OP_TAP), e16(60);
	for (i = 0; i < 60; i++)
		e8(i);
	e8(OP_CHAIN), e8(1), e8(0), e8(0), e8(0);
	e8(7), e16(24), e8(7), e32(0), e16(VRING_DESC_F_INDIRECT), e16(0);
	s_serve(1, 0, 1);
	s_save(dir, "bad-indirect");

	/* An indirect table at an odd address: virtio 1.0 allows it. */
	e8(0);
	s_init(1, V1 | IND);
	s_queue(1, 0, 3, 0);
	s_driver_ok(1);
	e8(OP_TAP), e16(16);
	for (i = 0; i < 16; i++)
		e8(0x40 + i);
	e8(OP_MEM), e8(0), e32(FZ_DATA + 0x1001), e8(15); /* one descriptor */
	e64(FZ_DATA + 0x2000), e32(64), e16(VRING_DESC_F_WRITE), e16(0);
	e8(OP_CHAIN), e8(1), e8(0), e8(0), e8(0);
	e8(2 | 4), e16(16), e8(7), e32(0x1001), e16(VRING_DESC_F_INDIRECT),
		e16(0);
	s_serve(1, 0, 1);
	s_save(dir, "net-indirect-odd");

	/* 32-bit queues refused above 4 GiB (lguest), taken under KVM. */
	for (mode = 0; mode < 2; mode++) {
		e8(mode);
		s_init(3, V1);
		s_queue(3, 0, 8, 1);
		s_driver_ok(3);
		s_buf(3, 0, NULL, 4096, false);
		s_serve(3, 0, 2);
		snprintf(name, sizeof(name), "high-queue-%u", mode);
		s_save(dir, name);
	}
}
