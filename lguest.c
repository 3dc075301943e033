// SPDX-License-Identifier: GPL-2.0
/*
 * lguest: the launcher half of the lguest hypervisor.
 *
 * A guest's life, as this file tells it from top to bottom:
 *
 *   1. We read the command line and check everything on it before we touch
 *      anything: memory size, kernel, initrd, devices, user, chroot.
 *   2. We map the guest's "physical" memory: one private, zero-filled region
 *      of our own address space.  Guest-physical address 0 is the start of
 *      that region, so translating is an addition (and a bounds check).
 *   3. We load the kernel (an i386 ELF vmlinux or a bzImage) and an optional
 *      initrd into it, and write the boot_params the kernel reads at boot.
 *   4. We build the devices the guest will find: a PCI bus holding virtio 1.0
 *      devices (console, network over tap, block over a file, rng), each with
 *      its virtqueues.
 *   5. We run the guest: the hypervisor (/dev/lguest) runs it until it does
 *      something only we can do, an "in"/"out" or a touch of a device
 *      register, and hands us the faulting instruction to emulate.
 *   6. When the guest's driver says its queues are ready, one task per queue
 *      starts serving them, woken by an eventfd whenever the guest notifies.
 *   7. When the guest dies we print why; when it reboots, we run ourselves
 *      again from scratch.
 *
 * lguest is strict: a real device would shrug off a driver that breaks the
 * virtio 1.0 specification; we stop the guest and say which device, which
 * queue and which section of the specification was broken.  That is what
 * the tool is for.
 */
#define _GNU_SOURCE
#define _FILE_OFFSET_BITS 64
#include <ctype.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <linux/fs.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/pci_regs.h>
#include <linux/sockios.h>

/* Modern (virtio 1.0) definitions only: lguest never spoke legacy virtio. */
#define VIRTIO_PCI_NO_LEGACY
#define VIRTIO_CONFIG_NO_LEGACY
#define VIRTIO_BLK_NO_LEGACY
#define VIRTIO_NET_NO_LEGACY
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_console.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include <asm/bootparam.h>

/* make SANITIZE=1: AddressSanitizer is told where tasks' stacks start. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define __SANITIZE_ADDRESS__ 1
#endif
#endif
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#else
#define ASAN_UNPOISON_MEMORY_REGION(addr, size) ((void)(addr), (void)(size))
#endif

/* Virtio 1.0 names the UAPI headers keep only for legacy builds. */
#ifndef VIRTIO_BLK_F_FLUSH
#define VIRTIO_BLK_F_FLUSH 9
#endif
#define VIRTIO_ISR_QUEUE 0x1 /* ISR status: a queue was used */

#ifndef LGUEST_VERSION
#define LGUEST_VERSION "0.1"
#endif

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef unsigned long long u64;

#define MIB (1024ULL * 1024)
#define PAGE 4096ULL

/*
 * The /dev/lguest interface, as the 4.x kernel's lguest_launcher.h had it.
 * That header never reached the exported UAPI headers, so we say it here.
 * Every request is an array of unsigned longs written to the device; the
 * file offset of pread/pwrite names the virtual CPU (there is only CPU 0).
 */
enum {
	LHREQ_INITIALIZE = 0, /* + base, pfn limit, start, device limit */
	LHREQ_IRQ = 2,	      /* + interrupt line to raise */
	LHREQ_GETREG = 5,     /* + register offset; the next read gives it */
	LHREQ_SETREG = 6,     /* + register offset, value */
	LHREQ_TRAP = 7,	      /* + trap number to hand back to the guest */
};

/* What a read of /dev/lguest returns when the guest needs us. */
struct lguest_pending {
	u8 trap;    /* 13: #GP on in/out; 14: page fault in MMIO space */
	u8 insn[7]; /* the bytes at the faulting instruction */
	u32 addr;   /* for trap 14, the guest-physical address */
};

/*
 * The registers GETREG and SETREG name are offsets into the i386 struct
 * pt_regs: seventeen 32-bit slots.  The original launcher borrowed glibc's
 * struct user_regs_struct for these, which only has this shape on i386; we
 * spell the offsets out so the x86-64 build speaks the same ABI.
 */
enum {
	PT_EBX = 0,
	PT_ECX = 4,
	PT_EDX = 8,
	PT_ESI = 12,
	PT_EDI = 16,
	PT_EBP = 20,
	PT_EAX = 24,
	PT_EIP = 48,
	PT_CS = 52,
	PT_ESP = 60,
};

/* The guest's kernel runs in ring 1 under lguest. */
#define GUEST_KERNEL_RPL 1

/* ERESTART is what /dev/lguest reports when the guest asks to reboot. */
#ifndef ERESTART
#define ERESTART 85
#endif

/* 256 pages above RAM belong to the devices, as in the original. */
#define DEVICE_PAGES 256

/* Every queue offers this size on reset; the driver may only shrink it. */
#define QUEUE_MAX 256

/* PCI: 32 device numbers on bus 0; number 0 is the host bridge. */
#define PCI_SLOTS 32

/* Interrupt lines the lguest host can raise: one per slot will do. */
#define LGUEST_IRQS 32
_Static_assert(PCI_SLOTS <= LGUEST_IRQS, "an interrupt line per device");

/*
 * Diagnostics.
 *
 * Everything we print goes straight to file descriptor 2 with one write(),
 * formatted on the stack.  That is not fussiness: the queue service tasks
 * share our memory and our thread pointer (they are clone()d with CLONE_VM
 * but are not pthreads), so they must never enter stdio or malloc, whose
 * locks and caches live in thread-local storage they would share with us.
 * One printing path that is safe everywhere is simpler than two.
 */
static bool verbose_on;
static pid_t launcher_pid;

/* Ask the running side for the guest's instruction pointer, if it knows. */
static bool (*guest_ip)(u64 *ip);
static const char *ip_reg = "eip"; /* what to call it: eip, or rip */

static long raw_syscall(long nr, long a, long b, long c, long d, long e);

/*
 * Coverage builds ("make coverage") write out their counts before the
 * ways out that skip atexit(): _exit, death by signal, exec.
 */
#ifdef LGUEST_COVERAGE
void __gcov_dump(void);
#define coverage_flush() __gcov_dump()
#else
#define coverage_flush() \
	do {             \
	} while (0)
#endif

static void say_v(const char *fmt, va_list ap)
{
	char buf[1024];
	int n = snprintf(buf, sizeof(buf), "lguest: ");

	n += vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	raw_syscall(SYS_write, 2, (long)buf, n, 0, 0);
}

static void __attribute__((format(printf, 1, 2))) say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say_v(fmt, ap);
	va_end(ap);
}

#define verbose(...)                      \
	do {                              \
		if (verbose_on)           \
			say(__VA_ARGS__); \
	} while (0)

static bool in_task(void)
{
	return raw_syscall(SYS_gettid, 0, 0, 0, 0, 0) != launcher_pid;
}

/*
 * The fuzzer (tests/fuzz) drives the device model in-process, thousands
 * of inputs a second: there a stop returns to it instead of exiting.
 */
#ifdef LGUEST_FUZZ
#include <setjmp.h>
static jmp_buf *fuzz_stop;
static bool fuzz_driver_error; /* the last stop was bad_driver()'s */
#endif

/*
 * Stop the launcher.  In the main task exit() runs our atexit handler,
 * which stops every service task and puts the terminal back.  A service
 * task ends only itself; the main task sees it go (SIGCHLD) and follows.
 */
static void __attribute__((noreturn)) stop(void)
{
#ifdef LGUEST_FUZZ
	if (fuzz_stop)
		longjmp(*fuzz_stop, 1);
#endif
	if (in_task()) {
		for (;;)
			raw_syscall(SYS_exit, 1, 0, 0, 0, 0);
	}
	exit(1);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say_v(fmt, ap);
	va_end(ap);
	stop();
}

/* Like fatal(), with the reason the last system call gave. */
#define fatal_errno(fmt, ...) fatal(fmt ": %s", ##__VA_ARGS__, strerror(errno))

/*
 * The system calls of the service tasks.
 *
 * glibc's wrappers set errno, which lives in thread-local storage: a task
 * failing a read() would change the errno the main task is about to look at.
 * So the tasks enter the kernel directly and get the error as a negative
 * return value.  Only raising an interrupt on /dev/lguest goes through
 * glibc, because that device may be a stand-in living in the C library's
 * place (the test suite's); it fails only when the guest is already gone.
 */
#if defined(__x86_64__)
static long raw_syscall(long nr, long a, long b, long c, long d, long e)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
			 : "rcx", "r11", "memory");
	return ret;
}
#elif defined(__i386__)
static long raw_syscall(long nr, long a, long b, long c, long d, long e)
{
	long ret;

	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e)
			 : "memory");
	return ret;
}
#else
#error "lguest runs on i386 and x86-64 hosts only"
#endif

/* preadv/pwritev take the offset as two longs on every architecture. */
static long sys_preadv(int fd, const struct iovec *iov, int n, u64 off)
{
	return raw_syscall(SYS_preadv, fd, (long)iov, n, (long)off,
			   (long)(off >> 16 >> 16));
}

static long sys_pwritev(int fd, const struct iovec *iov, int n, u64 off)
{
	return raw_syscall(SYS_pwritev, fd, (long)iov, n, (long)off,
			   (long)(off >> 16 >> 16));
}

static long sys_readv(int fd, const struct iovec *iov, int n)
{
	return raw_syscall(SYS_readv, fd, (long)iov, n, 0, 0);
}

static long sys_writev(int fd, const struct iovec *iov, int n)
{
	return raw_syscall(SYS_writev, fd, (long)iov, n, 0, 0);
}

/* Wait until fd is readable: timeout_ms < 0 waits for ever. */
static long sys_poll1(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return raw_syscall(SYS_poll, (long)&p, 1, timeout_ms, 0, 0);
}

/* The text of a negative raw return value, without touching errno. */
static const char *raw_strerror(long ret)
{
	return strerrordesc_np((int)-ret) ?: "unknown error";
}

/* Little-endian field access: virtio and PCI are little-endian, as is x86. */
static u32 le_get(const u8 *p, unsigned int width)
{
	u32 v = 0;

	memcpy(&v, p, width);
	return v;
}

static void le_put(u8 *p, unsigned int width, u32 v)
{
	memcpy(p, &v, width);
}

static u32 width_mask(unsigned int width)
{
	return width == 4 ? 0xFFFFFFFF : (1U << (8 * width)) - 1;
}

/*
 * Memory ordering between us and the guest.  These are the C11 fences, so
 * they are right on both x86-64 and i386 (where the original used a locked
 * add to the stack pointer).  On x86 only the full barrier costs anything.
 */
#define mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
/* The compiler alone: what was read before it is not read again after. */
#define barrier() __asm__ __volatile__("" ::: "memory")

/*
 * A field the guest may change under us: read it exactly once, so that
 * what we check is what we use.  (Wider than a long, it may tear; it is
 * still read once.)
 */
#define READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))

/*
 * The command line.
 *
 *   lguest [options] <mem-in-MiB> <vmlinux|bzImage> [kernel arguments...]
 *
 * Everything is read and checked here, before we open, create or change
 * anything: a mistake costs the user one line on stderr and status 1, and
 * leaves the terminal, the network and the disk files as they were.
 */
enum dev_kind { ARG_NET, ARG_BLOCK, ARG_RNG };

struct dev_arg {
	enum dev_kind kind;
	const char *text; /* as given, for messages */
	/* --tunnet */
	bool bridge;
	char ifname[IFNAMSIZ]; /* the bridge to join */
	struct in_addr ip;     /* or the address to give the tap device */
	bool has_mac;
	u8 mac[6];
	/* --block */
	int fd;
	u64 bytes;
};

/* Console is always slot 1, so at most this many devices after it. */
#define MAX_DEV_ARGS (PCI_SLOTS - 2)

/* Which hypervisor runs the guest. */
enum hv_kind { HV_AUTO, HV_LGUEST, HV_KVM };

static struct {
	enum hv_kind hv; /* as asked; then as chosen */
	u64 mem;	 /* bytes of guest RAM */
	const char *kernel;
	const char *initrd;
	const char *chroot;
	const char *user;
	uid_t uid;
	gid_t gid;
	gid_t *groups; /* the user's, looked up before any chroot */
	int ngroups;
	char **kargs; /* the guest kernel's command line words */
	struct dev_arg dev[MAX_DEV_ARGS];
	unsigned int ndev;
	char **argv; /* as we were started, for a reboot */
} opt;

static const char usage_text[] =
	"Usage: lguest [options] <mem-in-MiB> <vmlinux|bzImage> [kernel args...]\n"
	"\n"
	"Run a Linux guest under the lguest hypervisor (/dev/lguest) or KVM, with a\n"
	"virtio 1.0 PCI console and the devices below.  lguest stops the guest\n"
	"with a message citing the virtio 1.0 section whenever a driver breaks\n"
	"the specification.\n"
	"\n"
	"  -v, --verbose              say what the launcher and devices do\n"
	"      --tunnet=<ip>[:<mac>]  network device over a new tap device,\n"
	"                             which gets address <ip> on the host\n"
	"      --tunnet=bridge:<br>[:<mac>]\n"
	"                             ... with the tap device joining bridge <br>\n"
	"      --block=<file>         block device backed by <file> (repeatable)\n"
	"      --rng                  entropy device fed from /dev/urandom\n"
	"      --initrd=<file>        load <file> as the initial ram disk\n"
	"      --username=<user>      drop to <user>'s uid, gid and groups\n"
	"      --chroot=<dir>         chroot into <dir> before running the guest\n"
	"      --kvm                  run the guest under /dev/kvm\n"
	"      --lguest               run it under /dev/lguest, nothing else\n"
	"                             (by default: /dev/lguest if it opens,\n"
	"                             else /dev/kvm)\n"
	"  -h, --help                 print this and exit\n"
	"      --version              print the version and exit\n"
	"\n"
	"Example:\n"
	"  lguest --block=rootfs --tunnet=192.168.19.1 --rng 256 bzImage root=/dev/vda\n";

/* Guest RAM in MiB: a positive whole number. */
static u64 parse_mem(const char *s)
{
	const u64 max_mib = 1ULL << 24; /* 16 TiB: beyond any host here */
	u64 mib = 0;
	const char *p;

	if (!*s)
		fatal("memory size is empty: give it in MiB, e.g. 64");
	for (p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			fatal("memory size '%s' is not a whole number of MiB",
			      s);
		mib = mib * 10 + (*p - '0');
		if (mib > max_mib)
			fatal("memory size %s MiB is too large (at most %llu "
			      "MiB)",
			      s, max_mib);
	}
	if (!mib)
		fatal("memory size must be at least 1 MiB");
	return mib * MIB;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A MAC address: six two-digit hex numbers separated by colons. */
static void parse_mac(const char *s, u8 mac[6], const char *arg)
{
	unsigned int i;

	for (i = 0; i < 6; i++, s += 3) {
		int hi = hexval(s[0]), lo = hi < 0 ? -1 : hexval(s[1]);

		if (lo < 0 || s[2] != (i < 5 ? ':' : '\0'))
			fatal("--tunnet=%s: malformed MAC address (want "
			      "xx:xx:xx:xx:xx:xx)",
			      arg);
		mac[i] = hi << 4 | lo;
	}
	if (mac[0] & 1)
		fatal("--tunnet=%s: MAC address is a multicast address", arg);
}

/* --tunnet=<ip>[:<mac>] or --tunnet=bridge:<name>[:<mac>] */
static void parse_tunnet(struct dev_arg *d, const char *arg)
{
	const char *s = arg, *colon;
	char word[INET_ADDRSTRLEN];
	size_t len;

	if (!strncmp(s, "bridge:", 7)) {
		d->bridge = true;
		s += 7;
	}
	colon = strchr(s, ':');
	len = colon ? (size_t)(colon - s) : strlen(s);
	if (colon) {
		parse_mac(colon + 1, d->mac, arg);
		d->has_mac = true;
	}
	if (d->bridge) {
		if (!len)
			fatal("--tunnet=%s: empty bridge name", arg);
		if (len >= IFNAMSIZ)
			fatal("--tunnet=%s: bridge name longer than %d bytes",
			      arg, IFNAMSIZ - 1);
		memcpy(d->ifname, s, len);
		return;
	}
	if (!len || len >= sizeof(word))
		fatal("--tunnet=%s: malformed IPv4 address", arg);
	memcpy(word, s, len);
	word[len] = '\0';
	if (inet_pton(AF_INET, word, &d->ip) != 1)
		fatal("--tunnet=%s: malformed IPv4 address", arg);
}

static struct dev_arg *new_dev_arg(enum dev_kind kind, const char *text)
{
	struct dev_arg *d;

	if (opt.ndev == MAX_DEV_ARGS)
		fatal("too many devices: PCI bus 0 holds the console and "
		      "%d more",
		      MAX_DEV_ARGS);
	d = &opt.dev[opt.ndev++];
	memset(d, 0, sizeof(*d));
	d->kind = kind;
	d->text = text;
	d->fd = -1;
	return d;
}

static void set_user(const char *name)
{
	const struct passwd *pw = getpwnam(name);

	if (!pw)
		fatal("--username=%s: no such user", name);
	opt.user = name;
	opt.uid = pw->pw_uid;
	opt.gid = pw->pw_gid;
	/* First ask how many groups, then fetch them. */
	opt.ngroups = 0;
	getgrouplist(name, opt.gid, NULL, &opt.ngroups);
	opt.groups = calloc(opt.ngroups + 1, sizeof(gid_t));
	if (!opt.groups ||
	    getgrouplist(name, opt.gid, opt.groups, &opt.ngroups) < 0)
		fatal("--username=%s: cannot look up its groups", name);
}

/* getopt said no: name the option and what is wrong with it. */
static void __attribute__((noreturn))
bad_option(const struct option *longopts, const char *word)
{
	const struct option *o;

	for (o = longopts; optopt && o->name; o++) {
		if (o->val != optopt)
			continue;
		if (o->has_arg == required_argument)
			fatal("option '--%s' needs a value (see lguest "
			      "--help)",
			      o->name);
		fatal("option '--%s' takes no value (see lguest --help)",
		      o->name);
	}
	if (optopt)
		fatal("unknown option '-%c' (see lguest --help)", optopt);
	fatal("unknown option '%s' (see lguest --help)", word);
}

static void parse_args(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "tunnet", required_argument, NULL, 't' },
		{ "block", required_argument, NULL, 'b' },
		{ "rng", no_argument, NULL, 'r' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "username", required_argument, NULL, 'u' },
		{ "chroot", required_argument, NULL, 'c' },
		{ "kvm", no_argument, NULL, 'K' },
		{ "lguest", no_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	/* getopt shuffles argv; a reboot wants it as we got it. */
	opt.argv = calloc(argc + 1, sizeof(*opt.argv));
	if (!opt.argv)
		fatal("out of memory");
	memcpy(opt.argv, argv, argc * sizeof(*argv));

	/*
	 * "+": stop at the first non-option, so options meant for the guest
	 * kernel (after the kernel file) stay the guest's.
	 */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'v':
			verbose_on = true;
			break;
		case 't':
			parse_tunnet(new_dev_arg(ARG_NET, optarg), optarg);
			break;
		case 'b':
			new_dev_arg(ARG_BLOCK, optarg);
			break;
		case 'r':
			new_dev_arg(ARG_RNG, "rng");
			break;
		case 'i':
			opt.initrd = optarg;
			break;
		case 'u':
			set_user(optarg);
			break;
		case 'c':
			opt.chroot = optarg;
			break;
		case 'K':
			opt.hv = HV_KVM;
			break;
		case 'L':
			opt.hv = HV_LGUEST;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		case 'V':
			printf("lguest %s\n", LGUEST_VERSION);
			exit(0);
		default:
			bad_option(longopts, argv[optind - 1]);
		}
	}
	if (optind >= argc)
		fatal("no memory size or kernel given (see lguest --help)");
	opt.mem = parse_mem(argv[optind]);
	if (optind + 1 >= argc)
		fatal("no kernel given (see lguest --help)");
	opt.kernel = argv[optind + 1];
	opt.kargs = argv + optind + 2;
}

/*
 * Guest memory.
 *
 * The guest's "physical" memory is one private, zero-filled mapping in our
 * address space: guest-physical address A is launcher address gbase + A.
 * Above RAM lie 256 pages the devices own, and above those the window the
 * devices' BAR0 register blocks are carved from.  Guard pages with no
 * access at all sit on either side of the mapping.
 *
 * Under KVM a guest may have more RAM than fits below the 32-bit PCI hole:
 * then RAM stops at 3 GiB, the device pages and the BARs follow, and the
 * rest of RAM starts at 4 GiB.  In our address space the three lie one
 * after another: low RAM, device pages (padded to 2 MiB), high RAM.
 *
 * The mapping starts on a 2 MiB boundary, and under KVM we ask for
 * transparent huge pages on it.  KVM maps guest memory to the guest 2 MiB
 * at a time only where our page there is a huge one and the guest-physical
 * and launcher addresses agree modulo 2 MiB; otherwise every 4 KiB page
 * the guest first touches costs it an exit to the host's page-fault
 * handler.  A stock kernel touches some twenty thousand of them on its
 * way to /init, which in a nested host is most of a second.
 *
 * Every address the guest gives us is hostile until guest_mem() has
 * checked it: that function is the only way from a guest-physical address
 * to a pointer.
 */
#define DEVICE_BYTES (DEVICE_PAGES * PAGE)
#define PCI_HOLE 0xC0000000ULL /* KVM: low RAM ends here at the most */
#define HIGH_RAM (1ULL << 32)  /* KVM: the rest of RAM starts here */
#define HUGE_PAGE (2 * MIB)
/* Where high RAM lies in our mapping: 2 MiB-aligned, as it is in the guest. */
#define HIGH_RAM_OFF (ram_lo + HUGE_PAGE)
_Static_assert(DEVICE_BYTES <= HUGE_PAGE, "the device pages fit in 2 MiB");

static u8 *gbase;
static u64 ram_lo;    /* bytes of RAM from guest-physical 0 */
static u64 ram_hi;    /* bytes of RAM from guest-physical 4 GiB */
static u64 mmio_next; /* next free address in the BAR window */

/* Where RAM goes: all of it low, or (hole) split around the PCI hole. */
static void plan_ram(u64 mem, bool hole)
{
	ram_lo = hole && mem > PCI_HOLE ? PCI_HOLE : mem;
	ram_hi = mem - ram_lo;
}

static void map_guest_memory(void)
{
	u64 len = ram_hi ? HIGH_RAM_OFF + ram_hi : ram_lo + DEVICE_BYTES;
	u8 *p;

	/* A guard page below, one above, and room to align to 2 MiB. */
	if (len + 2 * PAGE + HUGE_PAGE > SIZE_MAX)
		fatal("cannot map %llu MiB of guest memory: too large for "
		      "this launcher's address space",
		      opt.mem / MIB);
	p = mmap(NULL, len + 2 * PAGE + HUGE_PAGE, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		fatal("cannot map %llu MiB of guest memory: %s", opt.mem / MIB,
		      strerror(errno));
	gbase = p + PAGE + (-(uintptr_t)(p + PAGE) & (HUGE_PAGE - 1));
	if (mprotect(gbase, len, PROT_READ | PROT_WRITE))
		fatal("cannot map %llu MiB of guest memory: %s", opt.mem / MIB,
		      strerror(errno));
	/* Only a hint: without THP the guest runs all the same. */
	if (opt.hv == HV_KVM)
		madvise(gbase, len, MADV_HUGEPAGE);
	mmio_next = ram_lo + DEVICE_BYTES;
}

/* The one place a guest-physical address becomes a pointer: RAM only. */
static void *guest_mem(u64 gpa, u64 len)
{
	if (gpa <= ram_lo && len <= ram_lo - gpa)
		return gbase + gpa;
	if (gpa >= HIGH_RAM && gpa - HIGH_RAM <= ram_hi &&
	    len <= ram_hi - (gpa - HIGH_RAM))
		return gbase + HIGH_RAM_OFF + (gpa - HIGH_RAM);
	return NULL;
}

/* Carve a block of 'size' bytes (a power of two) from the BAR window. */
static u32 alloc_bar(u32 size)
{
	u64 addr = (mmio_next + size - 1) & ~(u64)(size - 1);

	mmio_next = addr + size;
	return addr;
}

/*
 * Loading.
 *
 * The guest kernel is an ELF vmlinux, loaded segment by segment at the
 * physical addresses its program headers give, or a bzImage, whose
 * protected-mode part we copy to 1 MiB.  /dev/lguest runs i386 kernels
 * only; KVM takes x86-64 ones too.  An initrd goes at the top of low RAM.
 * We check the files completely (probe_*) before guest memory exists, and
 * only then copy them in (load_*).
 */
enum kernel_kind { BZIMAGE, ELF32, ELF64 };

struct segment {
	u64 paddr, off, filesz, memsz;
};

struct kernel_image {
	int fd;
	u64 size;
	enum kernel_kind kind;
	struct segment *seg; /* ELF: the loadable segments */
	unsigned int nseg;
	u64 payload;	 /* bzImage: file offset of the 32-bit part */
	u32 cmdline_max; /* bzImage: the kernel's own limit, if told */
	u8 head[sizeof(struct boot_params)]; /* bzImage: its setup sectors */
	u64 lo, hi; /* guest-physical extent it occupies */
	u64 entry;
};

static struct kernel_image kimg;

/* boot_params sit at 0, the command line in the page after them. */
#define CMDLINE_GPA sizeof(struct boot_params)
#define CMDLINE_MAX (PAGE - 1)
#define BOOT_AREA_END (CMDLINE_GPA + PAGE)

/* bzImage payloads load at 1 MiB. */
#define BZIMAGE_GPA MIB

static int open_input(const char *what, const char *name, u64 *size)
{
	struct stat st;
	int fd = open(name, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		fatal("cannot open %s '%s': %s", what, name, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		fatal("%s '%s' is not a regular file", what, name);
	*size = st.st_size;
	return fd;
}

static void read_exact(int fd, void *buf, size_t len, u64 off, const char *name)
{
	ssize_t n = pread(fd, buf, len, off);

	if (n < 0)
		fatal("cannot read '%s': %s", name, strerror(errno));
	if ((size_t)n != len)
		fatal("'%s' is truncated (%zd of %zu bytes at offset %llu)",
		      name, n, len, off);
}

/* What ELF32 and ELF64 headers share, in one shape. */
struct elf_info {
	unsigned int type, machine, phentsize, phnum;
	u64 phoff, entry;
};

static void elf_header(const u8 *head, size_t len, struct elf_info *e)
{
	const char *name = opt.kernel;
	bool is64 = head[EI_CLASS] == ELFCLASS64;

	if ((!is64 && head[EI_CLASS] != ELFCLASS32) ||
	    head[EI_DATA] != ELFDATA2LSB)
		fatal("kernel '%s' is not a little-endian ELF of 32 or 64 bits",
		      name);
	if (len < (is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr)))
		fatal("kernel '%s': ELF header is short (%zu bytes)", name,
		      len);
	/* Copied out: head is bytes, with no alignment to speak of. */
	if (is64) {
		Elf64_Ehdr eh;

		memcpy(&eh, head, sizeof(eh));
		*e = (struct elf_info){ eh.e_type,	eh.e_machine,
					eh.e_phentsize, eh.e_phnum,
					eh.e_phoff,	eh.e_entry };
	} else {
		Elf32_Ehdr eh;

		memcpy(&eh, head, sizeof(eh));
		*e = (struct elf_info){ eh.e_type,	eh.e_machine,
					eh.e_phentsize, eh.e_phnum,
					eh.e_phoff,	eh.e_entry };
	}
	kimg.kind = is64 ? ELF64 : ELF32;
	if (e->machine != (is64 ? EM_X86_64 : EM_386))
		fatal("kernel '%s' is a %d-bit ELF for machine %u: lguest runs "
		      "i386 and x86-64 kernels",
		      name, is64 ? 64 : 32, e->machine);
	if (e->type != ET_EXEC)
		fatal("kernel '%s' is not an ELF executable (e_type %u)", name,
		      e->type);
	if (e->phentsize != (is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)))
		fatal("kernel '%s': ELF program header size %u, not %zu", name,
		      e->phentsize,
		      is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr));
	if (e->phnum < 1 || e->phnum > 65536 / e->phentsize)
		fatal("kernel '%s': ELF has %u program headers", name,
		      e->phnum);
}

/* Program header i, in one shape; false if it is not PT_LOAD. */
static bool elf_segment(const u8 *ph, unsigned int i, struct segment *sg)
{
	if (kimg.kind == ELF64) {
		const Elf64_Phdr *p = (const Elf64_Phdr *)ph + i;

		*sg = (struct segment){ p->p_paddr, p->p_offset, p->p_filesz,
					p->p_memsz };
		return p->p_type == PT_LOAD;
	} else {
		const Elf32_Phdr *p = (const Elf32_Phdr *)ph + i;

		*sg = (struct segment){ p->p_paddr, p->p_offset, p->p_filesz,
					p->p_memsz };
		return p->p_type == PT_LOAD;
	}
}

static void probe_elf(const u8 *head, size_t len)
{
	const char *name = opt.kernel;
	struct elf_info e;
	unsigned int i;
	u64 phbytes;
	u8 *ph;

	elf_header(head, len, &e);
	phbytes = (u64)e.phnum * e.phentsize;
	if (e.phoff > kimg.size || phbytes > kimg.size - e.phoff)
		fatal("kernel '%s': ELF program headers lie past the end "
		      "of the file",
		      name);
	ph = malloc(phbytes);
	kimg.seg = calloc(e.phnum, sizeof(*kimg.seg));
	if (!ph || !kimg.seg)
		fatal("out of memory");
	read_exact(kimg.fd, ph, phbytes, e.phoff, name);

	kimg.lo = ~0ULL;
	for (i = 0; i < e.phnum; i++) {
		struct segment *sg = &kimg.seg[kimg.nseg];

		if (!elf_segment(ph, i, sg))
			continue;
		if (sg->off > kimg.size || sg->filesz > kimg.size - sg->off)
			fatal("kernel '%s': segment %u lies past the end of "
			      "the file",
			      name, i);
		if (sg->filesz > sg->memsz)
			fatal("kernel '%s': segment %u has more file bytes "
			      "than memory bytes",
			      name, i);
		if (sg->paddr + sg->memsz < sg->paddr)
			fatal("kernel '%s': segment %u wraps around", name, i);
		if (sg->paddr < kimg.lo)
			kimg.lo = sg->paddr;
		if (sg->paddr + sg->memsz > kimg.hi)
			kimg.hi = sg->paddr + sg->memsz;
		if (e.entry >= sg->paddr && e.entry - sg->paddr < sg->memsz)
			kimg.entry = e.entry;
		kimg.nseg++;
	}
	free(ph);
	if (!kimg.nseg)
		fatal("kernel '%s': ELF has no loadable segment", name);
	/* We enter at a physical address: it must be one we loaded. */
	if (kimg.entry != e.entry || !e.entry)
		fatal("kernel '%s': entry point %#llx is in no loadable "
		      "segment",
		      name, e.entry);
}

static void probe_bzimage(const u8 *head, size_t len)
{
	const struct setup_header *h;
	unsigned int sects;

	if (len < sizeof(struct boot_params) ||
	    memcmp(head + offsetof(struct boot_params, hdr.header), "HdrS", 4))
		fatal("kernel '%s' is neither an ELF vmlinux nor a bzImage",
		      opt.kernel);
	h = &((const struct boot_params *)head)->hdr;
	if (h->version < 0x200 || !(h->loadflags & LOADED_HIGH))
		fatal("kernel '%s' is a zImage or an ancient bzImage "
		      "(boot protocol %#x): lguest loads bzImages only",
		      opt.kernel, h->version);
	sects = h->setup_sects ? h->setup_sects : 4;
	kimg.kind = BZIMAGE;
	kimg.payload = (sects + 1) * 512ULL;
	if (kimg.payload >= kimg.size)
		fatal("kernel '%s': bzImage has no protected-mode part",
		      opt.kernel);
	kimg.lo = BZIMAGE_GPA;
	kimg.hi = BZIMAGE_GPA + kimg.size - kimg.payload;
	kimg.entry = h->code32_start;
	if (h->version >= 0x206)
		kimg.cmdline_max = h->cmdline_size;
}

/* Open the kernel and check it is something we can load. */
static void probe_kernel(void)
{
	ssize_t n;

	kimg.fd = open_input("kernel", opt.kernel, &kimg.size);
	n = pread(kimg.fd, kimg.head, sizeof(kimg.head), 0);
	if (n < 0)
		fatal("cannot read kernel '%s': %s", opt.kernel,
		      strerror(errno));
	if ((size_t)n >= SELFMAG && !memcmp(kimg.head, ELFMAG, SELFMAG))
		probe_elf(kimg.head, n);
	else
		probe_bzimage(kimg.head, n);
}

static size_t cmdline_len(void)
{
	size_t len = 0;
	char **a;

	for (a = opt.kargs; *a; a++)
		len += strlen(*a) + (a != opt.kargs);
	return len;
}

/* The initrd goes at the top of low RAM, below 'top' at the most. */
static u64 initrd_top(void);

/* Does everything fit in guest RAM without overlapping? */
static void check_layout(u64 initrd_size, u64 boot_area_end,
			 const char *boot_area)
{
	size_t clen = cmdline_len();
	u64 initrd_gpa, top = initrd_top();

	if (clen > CMDLINE_MAX)
		fatal("kernel command line is %zu bytes; at most %llu fit",
		      clen, CMDLINE_MAX);
	if (kimg.cmdline_max && clen > kimg.cmdline_max)
		fatal("kernel command line is %zu bytes; this kernel takes "
		      "at most %u",
		      clen, kimg.cmdline_max);
	if (kimg.lo < boot_area_end)
		fatal("kernel '%s' loads at %#llx, over %s (below %#llx)",
		      opt.kernel, kimg.lo, boot_area, boot_area_end);
	if (kimg.hi > ram_lo)
		fatal("kernel '%s' needs memory up to %#llx, but the guest "
		      "has %llu MiB",
		      opt.kernel, kimg.hi, ram_lo / MIB);
	if (!opt.initrd)
		return;
	if (!initrd_size)
		fatal("initrd '%s' is empty", opt.initrd);
	if (initrd_size > top)
		fatal("initrd '%s' (%llu bytes) is larger than guest memory "
		      "(%llu MiB)",
		      opt.initrd, initrd_size, top / MIB);
	initrd_gpa = top - ((initrd_size + PAGE - 1) & ~(PAGE - 1));
	if (initrd_gpa < kimg.hi)
		fatal("initrd '%s' (%llu bytes) would overlap the kernel, "
		      "which ends at %#llx: give the guest more memory",
		      opt.initrd, initrd_size, kimg.hi);
}

/*
 * Copy len bytes of fd at offset off to guest-physical gpa.  Where both
 * are page-aligned we map the file privately instead, which shares the
 * page cache until the guest writes; otherwise we read.  Under KVM we
 * always read: the page cache comes in 4 KiB pages, each a fault for the
 * guest to take, where the guest's own memory is huge pages (see
 * map_guest_memory()).
 */
static void load_at(int fd, u64 gpa, u64 off, u64 len, const char *name)
{
	u8 *dst = guest_mem(gpa, len);

	if (!dst)
		fatal("internal error: loading %s outside guest memory", name);
	if (opt.hv != HV_KVM && len && !(gpa % PAGE) && !(off % PAGE) &&
	    mmap(dst, len, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE, fd,
		 off) != MAP_FAILED) {
		/* The last page shows the file's next bytes: clear them. */
		memset(dst + len, 0, -len % PAGE);
		return;
	}
	while (len) {
		ssize_t n =
			pread(fd, dst, len > (1 << 30) ? (1 << 30) : len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fatal("reading '%s': %s", name,
			      n ? strerror(errno)
				: "file shrank while loading");
		dst += n;
		off += n;
		len -= n;
	}
}

static void load_kernel(void)
{
	unsigned int i;

	if (kimg.kind == BZIMAGE)
		load_at(kimg.fd, BZIMAGE_GPA, kimg.payload,
			kimg.size - kimg.payload, opt.kernel);
	for (i = 0; i < kimg.nseg; i++) {
		const struct segment *sg = &kimg.seg[i];

		verbose("kernel segment: %llu bytes at %#llx", sg->memsz,
			sg->paddr);
		load_at(kimg.fd, sg->paddr, sg->off, sg->filesz, opt.kernel);
	}
	close(kimg.fd);
}

/* Where the initrd went, for boot_params. */
static u64 initrd_gpa, initrd_size;

/*
 * boot_params: the "zero page" a Linux kernel reads when it starts, at
 * guest-physical 0.  What both ways of running a guest put there: the
 * command line and the initrd.  The rest (the memory map, what machine
 * this is) depends on the hypervisor: see lg_boot_params() and
 * kvm_boot_params().
 */
static void write_boot_params(struct boot_params *bp)
{
	char *cmd = guest_mem(CMDLINE_GPA, CMDLINE_MAX + 1);
	char **a;

	bp->hdr.cmd_line_ptr = CMDLINE_GPA;
	cmd[0] = '\0';
	for (a = opt.kargs; *a; a++) {
		if (a != opt.kargs)
			strcat(cmd, " ");
		strcat(cmd, *a);
	}
	if (initrd_size) {
		bp->hdr.ramdisk_image = initrd_gpa;
		/*
		 * The original gave the page-rounded size; the boot protocol
		 * asks for the initrd's size, and that is what we give.
		 */
		bp->hdr.ramdisk_size = initrd_size;
		bp->hdr.type_of_loader = 0xFF; /* "unknown" loader */
	}
}

/* Load kernel and initrd into guest memory. */
static void load_guest(int initrd_fd, u64 size)
{
	load_kernel();
	if (initrd_fd < 0)
		return;
	initrd_size = size;
	initrd_gpa = initrd_top() - ((size + PAGE - 1) & ~(PAGE - 1));
	load_at(initrd_fd, initrd_gpa, 0, size, opt.initrd);
	close(initrd_fd);
	verbose("initrd: %llu bytes at %#llx", size, initrd_gpa);
}

/*
 * Devices and their virtqueues.
 *
 * Once the guest kernel is up, its virtio drivers find our devices on the
 * PCI bus, negotiate features and hand us virtqueues: rings in guest memory
 * through which they offer buffers (chains of descriptors) and we give them
 * back, used.  A device here knows nothing of /dev/lguest or KVM: it is
 * reached through the transport further down, and it raises interrupts
 * through the one hook the running side provides.
 */
struct dev;

/*
 * A service task: clone()d, sharing our memory, running fn(arg) for ever
 * (see "Service tasks" below).  'name' is for messages.
 */
struct task {
	char name[48];
	void (*fn)(void *arg);
	void *arg;
	pid_t pid;
	volatile bool stopping; /* we are killing it: let it die */
	u8 *stack;
};

struct vq {
	struct dev *dev;
	const char *name; /* the specification's name for it */
	u16 index;
	void (*service)(struct vq *vq); /* serves one buffer, in the task */

	/* What the driver set up through queue_select (virtio 1.0 4.1.4.3). */
	u16 size;
	bool enabled;
	u64 desc_gpa, avail_gpa, used_gpa;

	/* The rings, mapped and checked when the driver enables the queue. */
	u16 num;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	u16 last_avail;	      /* next available entry to take */
	u16 used_idx;	      /* our own count, never the guest's */
	unsigned int pending; /* used entries since the interrupt */

	int efd;		     /* the guest's notifications land here */
	struct task task;	     /* serving us, from DRIVER_OK on */
	struct iovec iov[QUEUE_MAX]; /* the buffer being served */
};

/* A buffer: its first 'out' iovecs are device-readable, the rest writable. */
struct chain {
	u16 head;
	unsigned int out, in;
	struct iovec *iov;
};

struct dev {
	const char *name;
	u8 slot;      /* PCI device number on bus 0 */
	u8 irq;	      /* interrupt line */
	u8 cfg[0x98]; /* PCI configuration space */
	u32 bar;      /* BAR0: where our registers live */
	u32 bar_size; /* BAR0's size, a power of two */
	u32 regs_len; /* the bytes of it in use */

	/* The virtio 1.0 common configuration, as the driver sees it. */
	u64 features, accepted;
	u32 dfsel, gfsel;
	u8 status;
	u16 qsel;
	bool unread_features_ok; /* FEATURES_OK set, status not re-read */
	bool gave_up;		 /* the driver set FAILED */
	u8 isr;

	/* Device-specific configuration, after the common block in BAR0. */
	u8 *config;
	u32 config_len;
	bool (*config_write)(struct dev *d, u32 off, unsigned int width,
			     u32 val);
	/* The driver settled its features (FEATURES_OK), or reset them. */
	void (*features_set)(struct dev *d);

	unsigned int nvq;
	struct vq vq[2];

	/* What the device needs to do its job. */
	int fd;		     /* tap, block file or /dev/urandom */
	u64 sectors;	     /* block capacity */
	unsigned int ctrl_c; /* console: ^C seen in a row... */
	u64 ctrl_c_ns[3];    /* ... and when the last three came */
};

/* How the running side raises a device's interrupt line. */
static void (*hv_interrupt)(struct dev *d);

/*
 * The device's queues went live (DRIVER_OK) or were reset: the running
 * side may route their notifications straight to the queues' eventfds.
 */
static void (*hv_queues)(struct dev *d, bool live);

/* Ports the running side emulates besides PCI's; false if not its. */
static bool (*hv_ports)(u16 port, unsigned int width, bool write, u32 *val);

/* Under KVM, stdin may be the UART's for a while; then this is set. */
static bool (*stdin_taken)(void);
static int stdin_wake = -1; /* written when that changes */

/*
 * A driver broke the rules: say who, where and which rule, and stop.
 * 'sec' is the virtio 1.0 section (cs04, March 2016) the check enforces.
 */
static void __attribute__((noreturn, format(printf, 4, 5)))
bad_driver(const struct dev *d, const struct vq *vq, const char *sec,
	   const char *fmt, ...)
{
	char what[512], at[48] = "";
	u64 ip;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (!in_task() && guest_ip && guest_ip(&ip))
		snprintf(at, sizeof(at), " at guest %s %#llx", ip_reg, ip);
	if (vq)
		say("%s 00:%02x.0 queue %s: bad driver: %s (virtio 1.0 §%s)%s",
		    d->name, d->slot, vq->name, what, sec, at);
	else
		say("%s 00:%02x.0: bad driver: %s (virtio 1.0 §%s)%s", d->name,
		    d->slot, what, sec, at);
#ifdef LGUEST_FUZZ
	fuzz_driver_error = true;
#endif
	stop();
}

/*
 * Virtqueues: the one descriptor walker.
 *
 * Everything in the rings is written by the guest while we read it, so
 * each field is read once into our own copy, and checked there.
 */
static void *vq_mem(struct vq *vq, u64 gpa, u64 len, const char *what,
		    const char *sec)
{
	void *p = guest_mem(gpa, len);

	if (!p)
		bad_driver(vq->dev, vq, sec,
			   "%s at %#llx (%llu bytes) is not in guest RAM "
			   "(%llu MiB)",
			   what, gpa, len, opt.mem / MIB);
	return p;
}

static bool vq_has_work(struct vq *vq)
{
	return READ_ONCE(vq->avail->idx) != vq->last_avail;
}

/* Take a buffer the driver made available, if there is one. */
static bool vq_pop(struct vq *vq, struct chain *c)
{
	const u8 *table = (const u8 *)vq->desc;
	unsigned int max = vq->num, seen = 0, i;
	u16 avail_idx = READ_ONCE(vq->avail->idx);
	bool indirect = false;
	u64 bytes = 0;

	if (avail_idx == vq->last_avail)
		return false;
	if ((u16)(avail_idx - vq->last_avail) > vq->num)
		bad_driver(vq->dev, vq, "2.4.6",
			   "available index jumped from %u to %u, past the "
			   "%u entries of the ring",
			   vq->last_avail, avail_idx, vq->num);
	/* Read the ring entry only after the index that published it. */
	rmb();
	c->head = READ_ONCE(vq->avail->ring[vq->last_avail % vq->num]);
	if (c->head >= vq->num)
		bad_driver(vq->dev, vq, "2.4.6",
			   "available ring entry %u names descriptor %u of %u",
			   vq->last_avail, c->head, vq->num);
	vq->last_avail++;
	c->out = c->in = 0;
	c->iov = vq->iov;

	for (i = c->head;;) {
		struct vring_desc d;
		u64 addr;
		u32 len;
		u16 flags, next;
		struct iovec *iov;

		/*
		 * One copy of the descriptor, read once: the driver may be
		 * rewriting it as we look.  An indirect table may sit at any
		 * address (2.4.5.3 asks no alignment), hence bytes.
		 */
		memcpy(&d, table + i * sizeof(d), sizeof(d));
		barrier();
		addr = d.addr;
		len = d.len;
		flags = d.flags;
		next = d.next;

		if (++seen > max)
			bad_driver(vq->dev, vq, "2.4.5.2",
				   "descriptor chain loops (more than %u "
				   "descriptors in a table of %u)",
				   max, max);
		if (flags & VRING_DESC_F_INDIRECT) {
			if (!(vq->dev->accepted &
			      (1ULL << VIRTIO_RING_F_INDIRECT_DESC)))
				bad_driver(vq->dev, vq, "2.4.5.3.1",
					   "indirect descriptor, but "
					   "VIRTIO_F_INDIRECT_DESC was not "
					   "negotiated");
			if (indirect)
				bad_driver(vq->dev, vq, "2.4.5.3.1",
					   "indirect descriptor inside an "
					   "indirect table");
			if (flags & VRING_DESC_F_NEXT)
				bad_driver(vq->dev, vq, "2.4.5.3.1",
					   "descriptor %u has both INDIRECT "
					   "and NEXT set",
					   i);
			if (!len || len % sizeof(struct vring_desc))
				bad_driver(vq->dev, vq, "2.4.5.3",
					   "indirect table of %u bytes is not "
					   "a whole number of 16-byte "
					   "descriptors",
					   len);
			max = len / sizeof(struct vring_desc);
			if (max > vq->num)
				bad_driver(vq->dev, vq, "2.4.5.3.1",
					   "indirect table of %u descriptors "
					   "is longer than the queue (%u)",
					   max, vq->num);
			table = vq_mem(vq, addr, len, "indirect table",
				       "2.4.5.3");
			indirect = true;
			seen = 0;
			i = 0;
			continue;
		}

		if (c->out + c->in == vq->num)
			bad_driver(vq->dev, vq, "2.4.5.3.1",
				   "descriptor chain is longer than the queue "
				   "(%u)",
				   vq->num);
		bytes += len;
		if (bytes > 0xFFFFFFFFULL)
			bad_driver(vq->dev, vq, "2.4.5.2",
				   "descriptor chain is over 2^32 bytes long");
		iov = &c->iov[c->out + c->in];
		iov->iov_base = vq_mem(vq, addr, len, "buffer", "2.4.5");
		iov->iov_len = len;
		if (flags & VRING_DESC_F_WRITE) {
			c->in++;
		} else {
			if (c->in)
				bad_driver(vq->dev, vq, "2.4.4.2",
					   "device-readable descriptor %u "
					   "after a device-writable one",
					   i);
			c->out++;
		}

		if (!(flags & VRING_DESC_F_NEXT))
			return true;
		if (next >= max)
			bad_driver(vq->dev, vq, "2.4.5",
				   "descriptor %u chains to %u, past the end "
				   "of a table of %u",
				   i, next, max);
		i = next;
	}
}

/* Hand a buffer back to the driver, 'len' bytes of it written. */
static void vq_push(struct vq *vq, u16 head, u32 len)
{
	struct vring_used_elem *e = &vq->used->ring[vq->used_idx % vq->num];

	WRITE_ONCE(e->id, head);
	WRITE_ONCE(e->len, len);
	/* The entry must be visible before the index that publishes it. */
	wmb();
	WRITE_ONCE(vq->used->idx, ++vq->used_idx);
	vq->pending++;
}

/* Interrupt the guest for what we have used, unless it asked us not to. */
static void vq_interrupt(struct vq *vq)
{
	u16 flags;

	if (!vq->pending)
		return;
	vq->pending = 0;
	/* Our used index must be out before we look at the guest's flags. */
	mb();
	flags = READ_ONCE(vq->avail->flags);
	if (flags > VRING_AVAIL_F_NO_INTERRUPT)
		bad_driver(vq->dev, vq, "2.4.7.1",
			   "available ring flags are %#x: without "
			   "VIRTIO_F_EVENT_IDX only 0 or 1 are allowed",
			   flags);
	if (flags & VRING_AVAIL_F_NO_INTERRUPT)
		return;
	/* ISR first: the driver reads it to learn why it was interrupted. */
	__atomic_or_fetch(&vq->dev->isr, VIRTIO_ISR_QUEUE, __ATOMIC_SEQ_CST);
	hv_interrupt(vq->dev);
}

/*
 * Wait for the next buffer.  Before we sleep, we interrupt the guest for
 * what we have done, and ask for a notification; while we are busy the
 * guest needn't notify us at all (VRING_USED_F_NO_NOTIFY).
 */
static void vq_wait(struct vq *vq, struct chain *c)
{
	while (!vq_pop(vq, c)) {
		u64 count;

		vq_interrupt(vq);
		WRITE_ONCE(vq->used->flags, 0);
		/* Ask, then look again: it may have slipped one in. */
		mb();
		if (!vq_has_work(vq)) {
			sys_poll1(vq->efd, -1);
			raw_syscall(SYS_read, vq->efd, (long)&count,
				    sizeof(count), 0, 0);
		}
		WRITE_ONCE(vq->used->flags, VRING_USED_F_NO_NOTIFY);
	}
}

/* A device whose queue must carry buffers in one direction only. */
static void vq_only_in(struct vq *vq, const struct chain *c, const char *sec)
{
	if (c->out)
		bad_driver(vq->dev, vq, sec,
			   "device-readable buffer in a queue the device "
			   "writes to");
}

static void vq_only_out(struct vq *vq, const struct chain *c, const char *sec)
{
	if (c->in)
		bad_driver(vq->dev, vq, sec,
			   "device-writable buffer in a queue the device "
			   "reads from");
}

/* Drop 'len' bytes from the front of the iovecs (after a partial I/O). */
static void iov_skip(struct iovec **iov, unsigned int *n, u64 len)
{
	while (*n && len >= (*iov)->iov_len) {
		len -= (*iov)->iov_len;
		(*iov)++;
		(*n)--;
	}
	if (*n) {
		(*iov)->iov_base = (u8 *)(*iov)->iov_base + len;
		(*iov)->iov_len -= len;
	}
}

static u64 iov_bytes(const struct iovec *iov, unsigned int n)
{
	u64 sum = 0;

	while (n--)
		sum += iov++->iov_len;
	return sum;
}

/* Write len bytes at byte 'off' of a chain's iovecs, as far as they go. */
static void iov_put(const struct iovec *iov, unsigned int n, u64 off,
		    const void *src, size_t len)
{
	const u8 *p = src;

	for (; n && len; iov++, n--) {
		size_t part;

		if (off >= iov->iov_len) {
			off -= iov->iov_len;
			continue;
		}
		part = iov->iov_len - off < len ? iov->iov_len - off : len;
		memcpy((u8 *)iov->iov_base + off, p, part);
		p += part;
		len -= part;
		off = 0;
	}
}

/*
 * Service tasks.
 *
 * When a driver sets DRIVER_OK, each queue it enabled gets a task of its
 * own: clone()d with CLONE_VM so it sees guest memory and our device
 * state, looping in the queue's service routine, asleep on the queue's
 * eventfd (or the tap device, or stdin) when there is nothing to do.
 * Because these tasks are not threads glibc knows of, they share our
 * thread pointer: they never call malloc or stdio, and make their system
 * calls directly (see raw_syscall()).  They block every signal; we stop
 * them with SIGKILL, and learn of their death by SIGCHLD.
 */
#define TASK_STACK (128 * 1024)
#define MAX_TASKS (2 * PCI_SLOTS)

static struct dev *slots[PCI_SLOTS];
static struct task *tasks[MAX_TASKS];
static unsigned int ntasks;

#define for_each_task(t, i)          \
	for (i = 0; i < ntasks; i++) \
		if (((t) = tasks[i]))

/* A task to be: its name, and what it runs. */
static void __attribute__((format(printf, 4, 5)))
task_init(struct task *t, void (*fn)(void *), void *arg, const char *fmt, ...)
{
	va_list ap;

	if (ntasks == MAX_TASKS)
		fatal("internal error: too many tasks");
	tasks[ntasks++] = t;
	t->fn = fn;
	t->arg = arg;
	va_start(ap, fmt);
	vsnprintf(t->name, sizeof(t->name), fmt, ap);
	va_end(ap);
}

static int task_main(void *arg)
{
	struct task *t = arg;

	for (;;)
		t->fn(t->arg);
	return 0;
}

static void task_start(struct task *t)
{
	sigset_t all, old;
	int err;

	if (!t->stack) {
		u8 *p = mmap(NULL, TASK_STACK + PAGE, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			fatal_errno("cannot map a stack for %s", t->name);
		/* A guard page below the stack. */
		mprotect(p, PAGE, PROT_NONE);
		t->stack = p + PAGE;
	}
	/*
	 * A task killed in its tracks (a reset) leaves AddressSanitizer's
	 * poison where its frames were; the next starts on a clean stack,
	 * as a new thread does.
	 */
	ASAN_UNPOISON_MEMORY_REGION(t->stack, TASK_STACK);
	/* The task starts with every signal blocked, and keeps them so. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	t->pid = clone(task_main, t->stack + TASK_STACK, CLONE_VM | SIGCHLD, t);
	err = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (t->pid < 0) {
		t->pid = 0;
		errno = err;
		fatal_errno("cannot start the task for %s", t->name);
	}
	verbose("%s: task %d serving", t->name, t->pid);
}

static void task_stop(struct task *t)
{
	if (!t->pid)
		return;
	t->stopping = true;
	kill(t->pid, SIGKILL);
	while (waitpid(t->pid, NULL, 0) < 0 && errno == EINTR)
		;
	t->pid = 0;
	t->stopping = false;
}

/* Safe in a signal handler: only kill(). */
static void kill_tasks(void)
{
	struct task *t;
	unsigned int i;

	for_each_task(t, i)
	{
		if (t->pid) {
			t->stopping = true;
			kill(t->pid, SIGKILL);
		}
	}
}

/* The terminal as we found it; the console puts it in raw mode. */
static struct termios saved_tio;
static bool tio_saved;

static void raw_terminal(void)
{
	struct termios t;

	if (tcgetattr(STDIN_FILENO, &saved_tio))
		return;
	tio_saved = true;
	t = saved_tio;
	/* No echo, no line editing, and ^C goes to the guest. */
	t.c_lflag &= ~(ISIG | ICANON | ECHO);
	tcsetattr(STDIN_FILENO, TCSANOW, &t);
}

/* Safe in a signal handler: tcsetattr() is async-signal-safe. */
static void restore_terminal(void)
{
	if (tio_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
}

/* Every way out of the launcher comes through here or the handler below. */
static void shutdown_launcher(void)
{
	struct task *t;
	unsigned int i;

	if (in_task())
		return;
	for_each_task(t, i) task_stop(t);
	restore_terminal();
}

/*
 * SIGINT (the console's three ^C, or anyone's kill), SIGTERM, SIGHUP:
 * stop the tasks, put the terminal back, and die of the signal, so whoever
 * started us sees why.
 */
static void on_fatal_signal(int sig)
{
	kill_tasks();
	restore_terminal();
	coverage_flush();
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * A task died without being told to: it hit a driver error (and said so)
 * or crashed.  Either way the launcher ends here and now, from the signal
 * handler, rather than when the run loop next wakes: the guest might be
 * waiting on that very queue.
 */
static void on_sigchld(int sig)
{
	struct task *t;
	unsigned int i;
	int st, saved = errno;

	(void)sig;
	for_each_task(t, i)
	{
		if (!t->pid || t->stopping ||
		    waitpid(t->pid, &st, WNOHANG) != t->pid)
			continue;
		t->pid = 0;
		kill_tasks();
		restore_terminal();
		/* A task that stops itself has said why already. */
		if (WIFSIGNALED(st))
			say("%s: service task killed by SIG%s", t->name,
			    sigabbrev_np(WTERMSIG(st)));
		else if (!WIFEXITED(st) || WEXITSTATUS(st) != 1)
			say("%s: service task exited with status %d", t->name,
			    WEXITSTATUS(st));
		coverage_flush();
		_exit(1);
	}
	errno = saved;
}

static void install_signals(void)
{
	static const int fatal_sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	struct sigaction sa;
	unsigned int i;

	memset(&sa, 0, sizeof(sa));
	sigfillset(&sa.sa_mask);
	sa.sa_handler = on_fatal_signal;
	for (i = 0; i < sizeof(fatal_sigs) / sizeof(fatal_sigs[0]); i++)
		sigaction(fatal_sigs[i], &sa, NULL);
	sa.sa_handler = on_sigchld;
	sigaction(SIGCHLD, &sa, NULL);
	/* A closed stdout is a console problem, not a reason to die. */
	signal(SIGPIPE, SIG_IGN);
}

/*
 * The devices.
 *
 * Each is a PCI function in its own slot of bus 0, with one BAR0 holding
 * the virtio registers and its device-specific configuration, one
 * interrupt line, and the queues the specification gives it.  The console
 * is always slot 1; the others follow in command-line order.
 */
static void pci_init(struct dev *d, u16 type, u8 class, u8 subclass);

static unsigned int ndevs;

/*
 * A device's interrupt line.  On lguest, slot N gets line N (line 0 is the
 * timer), as it always did.  A PC has legacy devices on most lines below
 * 16, and Linux only takes a PCI line below 16 without an IO-APIC routing
 * table; so under KVM the devices get the lines a PC leaves free (0 timer,
 * 1 keyboard, 2 cascade, 4 the UART, 8 the RTC, 9 ACPI's SCI, 13 the FPU
 * are taken), sharing them when there are more devices than lines.
 */
static u8 device_line(unsigned int slot)
{
	static const u8 free_lines[] = { 5, 10, 11, 3, 7, 12, 14, 15, 6 };

	if (opt.hv != HV_KVM)
		return slot;
	return free_lines[(slot - 1) % sizeof(free_lines)];
}

static struct dev *new_device(const char *name, u16 type, u8 class, u8 subclass,
			      u32 config_len)
{
	struct dev *d = calloc(1, sizeof(*d));

	if (!d || !(d->config = calloc(1, config_len + 1)))
		fatal("out of memory");
	d->name = name;
	d->slot = ++ndevs;
	d->irq = device_line(d->slot);
	d->fd = -1;
	d->features = 1ULL << VIRTIO_F_VERSION_1;
	d->config_len = config_len;
	d->regs_len = 60 + config_len; /* the common block, then config */
	for (d->bar_size = 16; d->bar_size < d->regs_len; d->bar_size <<= 1)
		;
	d->bar = alloc_bar(d->bar_size);
	pci_init(d, type, class, subclass);
	slots[d->slot] = d;
	verbose("%s: PCI 00:%02x.0, interrupt %u, registers at %#x", name,
		d->slot, d->irq, d->bar);
	return d;
}

/* A queue's task serves one buffer after another. */
static void vq_serve(void *arg)
{
	struct vq *vq = arg;

	vq->service(vq);
}

static void add_vq(struct dev *d, const char *name,
		   void (*service)(struct vq *vq))
{
	struct vq *vq = &d->vq[d->nvq];

	vq->dev = d;
	vq->name = name;
	vq->index = d->nvq++;
	vq->service = service;
	vq->size = QUEUE_MAX;
	task_init(&vq->task, vq_serve, vq, "%s queue %s", d->name, name);
	vq->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (vq->efd < 0)
		fatal_errno("cannot create an eventfd");
}

/*
 * The console: stdin to the guest's receiveq, its transmitq to stdout.
 * VIRTIO_CONSOLE_F_EMERG_WRITE also lets the guest write one character at
 * a time through emerg_wr, before any queue exists.
 */
static void console_ctrl_c(struct dev *d, long n, u8 first)
{
	struct timespec now;
	u64 *t = d->ctrl_c_ns;

	if (n != 1 || first != 3) {
		d->ctrl_c = 0;
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	t[d->ctrl_c++ % 3] = now.tv_sec * 1000000000ULL + now.tv_nsec;
	/* The last three ^C, each its own read, within a second: stop. */
	if (d->ctrl_c >= 3 &&
	    t[(d->ctrl_c - 1) % 3] - t[d->ctrl_c % 3] <= 1000000000ULL)
		raw_syscall(SYS_kill, launcher_pid, SIGINT, 0, 0, 0);
}

/*
 * Under KVM the UART reads stdin while the guest has its receive interrupt
 * on (a program has the serial line open); the console waits till then.
 */
static void console_wait_stdin(void)
{
	struct pollfd p[2] = { { .fd = STDIN_FILENO, .events = POLLIN },
			       { .fd = stdin_wake, .events = POLLIN } };
	u64 count;

	while (stdin_taken) {
		if (!stdin_taken()) {
			raw_syscall(SYS_poll, (long)p, 2, -1, 0, 0);
			if (!(p[1].revents & POLLIN) && !stdin_taken())
				return;
		} else {
			sys_poll1(stdin_wake, -1);
		}
		raw_syscall(SYS_read, stdin_wake, (long)&count, sizeof(count),
			    0, 0);
	}
}

static void console_rx(struct vq *vq)
{
	struct chain c;
	long n;
	u8 first = 0;
	unsigned int i;

	vq_wait(vq, &c);
	vq_only_in(vq, &c, "5.3.6.1");
	if (!iov_bytes(c.iov, c.in)) {
		vq_push(vq, c.head, 0);
		return;
	}
	console_wait_stdin();
	while ((n = sys_readv(STDIN_FILENO, c.iov, c.in)) == -EAGAIN ||
	       n == -EINTR)
		sys_poll1(STDIN_FILENO, -1);
	if (n <= 0) {
		say("console: %s; the guest gets no more input",
		    n ? raw_strerror(n) : "end of input");
		for (;;)
			sys_poll1(-1, -1);
	}
	for (i = 0; i < c.in; i++) {
		if (c.iov[i].iov_len) {
			first = *(u8 *)c.iov[i].iov_base;
			break;
		}
	}
	vq_push(vq, c.head, n);
	/* Typing is interactive: interrupt now, not when we next sleep. */
	vq_interrupt(vq);
	console_ctrl_c(vq->dev, n, first);
}

static void console_tx(struct vq *vq)
{
	struct chain c;
	struct iovec *iov;
	unsigned int n;
	long r;

	vq_wait(vq, &c);
	vq_only_out(vq, &c, "5.3.6.1");
	for (iov = c.iov, n = c.out; iov_skip(&iov, &n, 0), n;) {
		r = sys_writev(STDOUT_FILENO, iov, n);
		if (r == -EAGAIN) {
			struct pollfd p = { .fd = STDOUT_FILENO,
					    .events = POLLOUT };

			raw_syscall(SYS_poll, (long)&p, 1, -1, 0, 0);
			continue;
		}
		if (r < 0 && r != -EINTR) {
			verbose("console: writing guest output: %s",
				raw_strerror(r));
			break;
		}
		if (r > 0)
			iov_skip(&iov, &n, r);
	}
	vq_push(vq, c.head, 0);
}

static bool console_config_write(struct dev *d, u32 off, unsigned int width,
				 u32 val)
{
	u8 ch = val;

	if (off != offsetof(struct virtio_console_config, emerg_wr))
		return false;
	if (width != 4)
		bad_driver(d, NULL, "4.1.3.1",
			   "%u-bit write of emerg_wr, which is 32 bits wide",
			   width * 8);
	raw_syscall(SYS_write, STDOUT_FILENO, (long)&ch, 1, 0, 0);
	return true;
}

static void setup_console(void)
{
	struct dev *d = new_device("console", VIRTIO_ID_CONSOLE, 0x07, 0x00,
				   sizeof(struct virtio_console_config));

	add_vq(d, "receiveq", console_rx);
	add_vq(d, "transmitq", console_tx);
	d->features |= 1ULL << VIRTIO_CONSOLE_F_EMERG_WRITE;
	d->config_write = console_config_write;
}

/*
 * The network: a tap device on the host, its frames passed to and from
 * the guest's queues.  The tap speaks virtio's own 12-byte header
 * (IFF_VNET_HDR), so frames cross unchanged in both directions.
 */
static void net_rx(struct vq *vq)
{
	struct chain c;
	long n;

	vq_wait(vq, &c);
	vq_only_in(vq, &c, "5.1.6");
	/*
	 * The tap device does not block (O_NONBLOCK): while frames wait, each
	 * costs one read and no interrupt.  When none does, we first tell the
	 * guest of the last ones, then sleep till the next comes.
	 */
	while ((n = sys_readv(vq->dev->fd, c.iov, c.in)) == -EAGAIN ||
	       n == -EINTR) {
		if (n == -EAGAIN) {
			vq_interrupt(vq);
			sys_poll1(vq->dev->fd, -1);
		}
	}
	if (n < 0) {
		verbose("net: reading the tap device: %s", raw_strerror(n));
		n = 0;
	}
	/*
	 * The tap device writes the first 10 bytes of the 12-byte header.
	 * Without VIRTIO_NET_F_MRG_RXBUF, num_buffers is 1 (5.1.6.4.1).
	 */
	if (n >= (long)sizeof(struct virtio_net_hdr_v1))
		iov_put(c.iov, c.in,
			offsetof(struct virtio_net_hdr_v1, num_buffers),
			&(u16){ 1 }, sizeof(u16));
	vq_push(vq, c.head, n);
}

static void net_tx(struct vq *vq)
{
	struct chain c;
	long n;

	vq_wait(vq, &c);
	vq_only_out(vq, &c, "5.1.6");
	n = sys_writev(vq->dev->fd, c.iov, c.out);
	if (n < 0)
		verbose("net: writing to the tap device: %s", raw_strerror(n));
	vq_push(vq, c.head, 0);
}

static int open_tap(char name[IFNAMSIZ])
{
	int hdr = sizeof(struct virtio_net_hdr_v1);
	struct ifreq ifr;
	/*
	 * Non-blocking for net_rx(); writes never wait either way, as the
	 * tap device's send buffer is unlimited (TUNSETSNDBUF unset).
	 */
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		fatal_errno("cannot open /dev/net/tun");
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	strcpy(ifr.ifr_name, "tap%d");
	if (ioctl(fd, TUNSETIFF, &ifr))
		fatal_errno("cannot create a tap device");
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr))
		fatal_errno("cannot set the header size on %s", ifr.ifr_name);
	memcpy(name, ifr.ifr_name, IFNAMSIZ);
	return fd;
}

/* Give the tap device its address, or put it in its bridge; bring it up. */
static void configure_tap(const char tap[IFNAMSIZ], const struct dev_arg *a)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr;

	if (s < 0)
		fatal_errno("cannot open a socket to configure %s", tap);
	memset(&ifr, 0, sizeof(ifr));
	if (a->bridge) {
		memcpy(ifr.ifr_name, a->ifname, IFNAMSIZ);
		ifr.ifr_ifindex = if_nametoindex(tap);
		if (ioctl(s, SIOCBRADDIF, &ifr))
			fatal_errno("cannot add %s to bridge %s", tap,
				    a->ifname);
	} else {
		struct sockaddr_in sin = { .sin_family = AF_INET,
					   .sin_addr = a->ip };

		memcpy(ifr.ifr_name, tap, IFNAMSIZ);
		memcpy(&ifr.ifr_addr, &sin, sizeof(sin));
		if (ioctl(s, SIOCSIFADDR, &ifr))
			fatal_errno("cannot give %s address %s", tap,
				    inet_ntoa(a->ip));
	}
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, tap, IFNAMSIZ);
	if (ioctl(s, SIOCGIFFLAGS, &ifr))
		fatal_errno("cannot read the flags of %s", tap);
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr))
		fatal_errno("cannot bring %s up", tap);
	close(s);
}

/*
 * The driver's features decide what the tap device may hand us: partial
 * checksums only with GUEST_CSUM, TSO frames only with GUEST_TSO4/6
 * (5.1.6.4.1).  The original set every offload up front; we set what was
 * negotiated, and none after a reset.  And the feature bits depend on one
 * another (5.1.3.1): a driver must not accept one without what it needs.
 */
static void net_features_set(struct dev *d)
{
	/* The feature, and what it requires (one of them, for ECN). */
	static const struct {
		u8 bit, needs, or_needs;
		const char *what;
	} deps[] = {
		{ VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_CSUM, 0,
		  "GUEST_TSO4 without GUEST_CSUM" },
		{ VIRTIO_NET_F_GUEST_TSO6, VIRTIO_NET_F_GUEST_CSUM, 0,
		  "GUEST_TSO6 without GUEST_CSUM" },
		{ VIRTIO_NET_F_GUEST_ECN, VIRTIO_NET_F_GUEST_TSO4,
		  VIRTIO_NET_F_GUEST_TSO6,
		  "GUEST_ECN without GUEST_TSO4 or GUEST_TSO6" },
		{ VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_CSUM, 0,
		  "HOST_TSO4 without CSUM" },
		{ VIRTIO_NET_F_HOST_TSO6, VIRTIO_NET_F_CSUM, 0,
		  "HOST_TSO6 without CSUM" },
		{ VIRTIO_NET_F_HOST_ECN, VIRTIO_NET_F_HOST_TSO4,
		  VIRTIO_NET_F_HOST_TSO6,
		  "HOST_ECN without HOST_TSO4 or HOST_TSO6" },
	};
	static const struct {
		u8 bit;
		unsigned int tun;
	} offloads[] = {
		{ VIRTIO_NET_F_GUEST_CSUM, TUN_F_CSUM },
		{ VIRTIO_NET_F_GUEST_TSO4, TUN_F_TSO4 },
		{ VIRTIO_NET_F_GUEST_TSO6, TUN_F_TSO6 },
		{ VIRTIO_NET_F_GUEST_ECN, TUN_F_TSO_ECN },
	};
	unsigned int i, tun = 0;

	for (i = 0; i < sizeof(deps) / sizeof(deps[0]); i++) {
		u64 needs = 1ULL << deps[i].needs;

		if (deps[i].or_needs)
			needs |= 1ULL << deps[i].or_needs;
		if ((d->accepted >> deps[i].bit & 1) && !(d->accepted & needs))
			bad_driver(
				d, NULL, "2.2.1",
				"driver accepted VIRTIO_NET_F_%s, which 5.1.3.1 "
				"says it requires",
				deps[i].what);
	}
	for (i = 0; i < sizeof(offloads) / sizeof(offloads[0]); i++)
		if (d->accepted >> offloads[i].bit & 1)
			tun |= offloads[i].tun;
	if (ioctl(d->fd, TUNSETOFFLOAD, tun))
		fatal_errno("%s: cannot set the tap device's offloads",
			    d->name);
}

/*
 * The network device over fd: a tap device, or (for the fuzzer) anything
 * that reads and writes frames like one.  mac may be NULL.
 */
static struct dev *net_device(int fd, const u8 *mac)
{
	static const unsigned int offloads[] = {
		VIRTIO_NET_F_CSUM,	 VIRTIO_NET_F_GUEST_CSUM,
		VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6,
		VIRTIO_NET_F_GUEST_ECN,	 VIRTIO_NET_F_HOST_TSO4,
		VIRTIO_NET_F_HOST_TSO6,	 VIRTIO_NET_F_HOST_ECN,
	};
	/* mac, status, max_virtqueue_pairs and mtu, as lguest always had. */
	struct dev *d = new_device("net", VIRTIO_ID_NET, 0x02, 0x00,
				   offsetof(struct virtio_net_config, speed));
	unsigned int i;

	d->fd = fd;
	d->features_set = net_features_set;
	add_vq(d, "receiveq", net_rx);
	add_vq(d, "transmitq", net_tx);
	for (i = 0; i < sizeof(offloads) / sizeof(offloads[0]); i++)
		d->features |= 1ULL << offloads[i];
	d->features |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	if (mac) {
		d->features |= 1ULL << VIRTIO_NET_F_MAC;
		memcpy(d->config + offsetof(struct virtio_net_config, mac), mac,
		       6);
	}
	return d;
}

static void setup_net(const struct dev_arg *a)
{
	char tap[IFNAMSIZ];
	int fd = open_tap(tap);

	configure_tap(tap, a);
	net_device(fd, a->has_mac ? a->mac : NULL);
	verbose("net: %s, %s %s", tap, a->bridge ? "in bridge" : "address",
		a->bridge ? a->ifname : inet_ntoa(a->ip));
}

/*
 * The block device: a file (or block device) of the host, in 512-byte
 * sectors.  Every request is checked against the capacity before a byte
 * moves, so the file never grows and never changes outside a valid write.
 */
static bool iov_take(struct iovec **iov, unsigned int *n, void *dst, size_t len)
{
	u8 *p = dst;

	while (len) {
		size_t part;

		iov_skip(iov, n, 0);
		if (!*n)
			return false;
		part = len < (*iov)->iov_len ? len : (*iov)->iov_len;
		memcpy(p, (*iov)->iov_base, part);
		iov_skip(iov, n, part);
		p += part;
		len -= part;
	}
	return true;
}

static void block_check_range(struct vq *vq, u64 sector, u64 len,
			      const char *op)
{
	u64 cap = vq->dev->sectors;

	if (sector > cap || len > (cap - sector) * 512)
		bad_driver(vq->dev, vq, "5.2.6.1",
			   "%s of %llu bytes at sector %llu goes past the end "
			   "of the disk (%llu sectors)",
			   op, len, sector, cap);
}

/* Read or write all of the iovecs at 'off'; false on an I/O error. */
static bool block_io(struct vq *vq, struct iovec *iov, unsigned int n, u64 off,
		     bool write)
{
	int fd = vq->dev->fd;

	for (iov_skip(&iov, &n, 0); n; iov_skip(&iov, &n, 0)) {
		long r = write ? sys_pwritev(fd, iov, n, off)
			       : sys_preadv(fd, iov, n, off);

		if (r == -EINTR)
			continue;
		if (r <= 0) {
			say("block: %s at byte %llu: %s",
			    write ? "write" : "read", off,
			    r ? raw_strerror(r) : "unexpected end of file");
			return false;
		}
		iov_skip(&iov, &n, r);
		off += r;
	}
	return true;
}

static void block_request(struct vq *vq)
{
	struct virtio_blk_outhdr h;
	struct iovec *out;
	struct chain c;
	unsigned int nout, i;
	u8 *status = NULL, st;
	u32 used = 1;
	u64 len;

	vq_wait(vq, &c);
	out = c.iov;
	nout = c.out;
	if (!iov_take(&out, &nout, &h, sizeof(h)))
		bad_driver(vq->dev, vq, "5.2.6",
			   "request header shorter than its %zu bytes",
			   sizeof(h));
	/* The status is the last byte the device may write. */
	for (i = c.out + c.in; i-- > c.out;) {
		if (c.iov[i].iov_len) {
			status = (u8 *)c.iov[i].iov_base + --c.iov[i].iov_len;
			break;
		}
	}
	if (!status)
		bad_driver(
			vq->dev, vq, "5.2.6",
			"request has no device-writable byte for its status");

	switch (h.type) {
	case VIRTIO_BLK_T_IN:
		len = iov_bytes(c.iov + c.out, c.in);
		block_check_range(vq, h.sector, len, "read");
		st = block_io(vq, c.iov + c.out, c.in, h.sector * 512, false)
			     ? VIRTIO_BLK_S_OK
			     : VIRTIO_BLK_S_IOERR;
		if (st == VIRTIO_BLK_S_OK)
			used += len;
		break;
	case VIRTIO_BLK_T_OUT:
		len = iov_bytes(out, nout);
		block_check_range(vq, h.sector, len, "write");
		st = block_io(vq, out, nout, h.sector * 512, true)
			     ? VIRTIO_BLK_S_OK
			     : VIRTIO_BLK_S_IOERR;
		break;
	case VIRTIO_BLK_T_FLUSH:
		if (h.sector)
			bad_driver(vq->dev, vq, "5.2.6.1",
				   "flush request with sector %llu, not 0",
				   (u64)h.sector);
		st = raw_syscall(SYS_fdatasync, vq->dev->fd, 0, 0, 0, 0)
			     ? VIRTIO_BLK_S_IOERR
			     : VIRTIO_BLK_S_OK;
		break;
	default:
		/*
		 * The original served any other type as a read of sector 0,
		 * so GET_ID returned the disk's first bytes as its serial.
		 * The specification's answer is "unsupported".
		 */
		st = VIRTIO_BLK_S_UNSUPP;
		break;
	}
	WRITE_ONCE(*status, st);
	vq_push(vq, c.head, used);
}

static void setup_block(const struct dev_arg *a)
{
	struct dev *d = new_device("block", VIRTIO_ID_BLOCK, 0x01, 0x80,
				   offsetof(struct virtio_blk_config,
					    max_discard_sectors));
	struct virtio_blk_config *conf = (void *)d->config;

	d->fd = a->fd;
	d->sectors = a->bytes / 512;
	add_vq(d, "requestq", block_request);
	conf->capacity = d->sectors;
	/* Header and status take two descriptors of a full queue. */
	d->features |= 1ULL << VIRTIO_BLK_F_SEG_MAX;
	conf->seg_max = QUEUE_MAX - 2;
	/* Our writes land in the host's page cache: offer a flush. */
	d->features |= 1ULL << VIRTIO_BLK_F_FLUSH;
	verbose("block: '%s', %llu sectors", a->text, d->sectors);
}

/* The entropy device: guest buffers filled from /dev/urandom. */
static void rng_request(struct vq *vq)
{
	struct iovec *iov;
	struct chain c;
	unsigned int n;
	u32 total = 0;

	vq_wait(vq, &c);
	vq_only_in(vq, &c, "5.4.6.1");
	for (iov = c.iov, n = c.in; iov_skip(&iov, &n, 0), n;) {
		long r = sys_readv(vq->dev->fd, iov, n);

		if (r == -EINTR)
			continue;
		if (r <= 0)
			fatal("rng: reading /dev/urandom: %s",
			      r ? raw_strerror(r) : "end of file");
		iov_skip(&iov, &n, r);
		total += r;
	}
	vq_push(vq, c.head, total);
}

static void setup_rng(void)
{
	struct dev *d = new_device("rng", VIRTIO_ID_RNG, 0xff, 0x00, 0);

	d->fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (d->fd < 0)
		fatal_errno("cannot open /dev/urandom");
	add_vq(d, "requestq", rng_request);
}

/*
 * The transport: PCI configuration space and the virtio 1.0 registers.
 *
 * The guest's PCI code finds our devices through configuration mechanism
 * #1 (I/O ports 0xCF8 and 0xCFC), its virtio driver walks their capability
 * lists, and from then on it drives each device through BAR0.  Two entry
 * points are all the running side needs: port_io() and mmio_access().
 * This is where every rule the driver must follow is checked, so both
 * ways of running a guest are equally strict.
 *
 * Configuration space, as the original lguest laid it out:
 *   0x00  the standard header; BAR0 at 0x10, capabilities from 0x40
 *   0x40  common configuration capability  -> BAR0 + 0  (56 bytes)
 *   0x50  notification capability           -> BAR0 + 56 (2 bytes)
 *   0x64  ISR capability                    -> BAR0 + 58 (1 byte)
 *   0x74  device configuration capability   -> BAR0 + 60
 *   0x84  PCI configuration access capability, data at 0x94
 * The list runs 0x40, 0x50, 0x64, 0x84, then 0x74 if there is device
 * configuration.  BAR0 byte 59 is padding.
 */
enum {
	CAP_COMMON = 0x40,
	CAP_NOTIFY = 0x50,
	CAP_ISR = 0x64,
	CAP_DEVICE = 0x74,
	CAP_PCI_CFG = 0x84,
	PCI_CFG_SIZE = 0x98,
	WIN_BAR = CAP_PCI_CFG + offsetof(struct virtio_pci_cap, bar),
	WIN_OFFSET = CAP_PCI_CFG + offsetof(struct virtio_pci_cap, offset),
	WIN_LENGTH = CAP_PCI_CFG + offsetof(struct virtio_pci_cap, length),
	WIN_DATA = CAP_PCI_CFG + sizeof(struct virtio_pci_cap),
};

enum {
	BAR_NOTIFY = sizeof(struct virtio_pci_common_cfg),
	BAR_ISR = BAR_NOTIFY + 2,
	BAR_PAD = BAR_ISR + 1,
	BAR_DEVICE = BAR_PAD + 1,
};

#define CC(field) offsetof(struct virtio_pci_common_cfg, field)

/* The host bridge at 00:00.0, which Linux's PCI probe looks for. */
static struct dev host_bridge = { .name = "host-bridge" };

static void put_cap(u8 *cfg, u8 at, u8 type, u8 next, u32 off, u32 len,
		    u8 cap_len)
{
	cfg[at + offsetof(struct virtio_pci_cap, cap_vndr)] = PCI_CAP_ID_VNDR;
	cfg[at + offsetof(struct virtio_pci_cap, cap_next)] = next;
	cfg[at + offsetof(struct virtio_pci_cap, cap_len)] = cap_len;
	cfg[at + offsetof(struct virtio_pci_cap, cfg_type)] = type;
	cfg[at + offsetof(struct virtio_pci_cap, bar)] = 0;
	le_put(cfg + at + offsetof(struct virtio_pci_cap, offset), 4, off);
	le_put(cfg + at + offsetof(struct virtio_pci_cap, length), 4, len);
}

static void pci_init(struct dev *d, u16 type, u8 class, u8 subclass)
{
	u8 *c = d->cfg;

	_Static_assert(sizeof(d->cfg) == PCI_CFG_SIZE, "config space size");
	/* Virtio 1.0 IDs (4.1.2): modern devices are 0x1040 + type. */
	le_put(c + PCI_VENDOR_ID, 2, 0x1AF4);
	le_put(c + PCI_DEVICE_ID, 2, 0x1040 + type);
	le_put(c + PCI_STATUS, 2, PCI_STATUS_CAP_LIST);
	c[PCI_REVISION_ID] = 1;
	c[PCI_CLASS_DEVICE] = subclass;
	c[PCI_CLASS_DEVICE + 1] = class;
	le_put(c + PCI_BASE_ADDRESS_0, 4, d->bar);
	le_put(c + PCI_SUBSYSTEM_ID, 2, 0x40);
	c[PCI_CAPABILITY_LIST] = CAP_COMMON;
	c[PCI_INTERRUPT_LINE] = d->irq;
	/*
	 * lguest guests took the line as it was; a stock kernel under KVM
	 * only looks at the line of a function with an interrupt pin (INTA).
	 */
	c[PCI_INTERRUPT_PIN] = opt.hv == HV_KVM;

	put_cap(c, CAP_COMMON, VIRTIO_PCI_CAP_COMMON_CFG, CAP_NOTIFY, 0,
		sizeof(struct virtio_pci_common_cfg), 16);
	/* notify_off_multiplier 0: every queue notifies at one address. */
	put_cap(c, CAP_NOTIFY, VIRTIO_PCI_CAP_NOTIFY_CFG, CAP_ISR, BAR_NOTIFY,
		2, sizeof(struct virtio_pci_notify_cap));
	put_cap(c, CAP_ISR, VIRTIO_PCI_CAP_ISR_CFG, CAP_PCI_CFG, BAR_ISR, 1,
		16);
	put_cap(c, CAP_PCI_CFG, VIRTIO_PCI_CAP_PCI_CFG,
		d->config_len ? CAP_DEVICE : 0, 0, 0,
		sizeof(struct virtio_pci_cfg_cap));
	put_cap(c, CAP_DEVICE, VIRTIO_PCI_CAP_DEVICE_CFG, 0, BAR_DEVICE,
		d->config_len, 16);
}

static void pci_init_bus(void)
{
	host_bridge.cfg[PCI_CLASS_DEVICE + 1] = 0x06; /* bridge */
	host_bridge.cfg[PCI_CLASS_DEVICE] = 0x00;     /* host bridge */
	slots[0] = &host_bridge;
}

/*
 * The virtio registers in BAR0 (virtio 1.0 4.1.4.3), by offset.  A driver
 * must reach each with an access of its own width (4.1.3.1).
 */
static const struct {
	u8 width;
	const char *name;
} regs[BAR_DEVICE] = {
	[CC(device_feature_select)] = { 4, "device_feature_select" },
	[CC(device_feature)] = { 4, "device_feature" },
	[CC(guest_feature_select)] = { 4, "driver_feature_select" },
	[CC(guest_feature)] = { 4, "driver_feature" },
	[CC(msix_config)] = { 2, "msix_config" },
	[CC(num_queues)] = { 2, "num_queues" },
	[CC(device_status)] = { 1, "device_status" },
	[CC(config_generation)] = { 1, "config_generation" },
	[CC(queue_select)] = { 2, "queue_select" },
	[CC(queue_size)] = { 2, "queue_size" },
	[CC(queue_msix_vector)] = { 2, "queue_msix_vector" },
	[CC(queue_enable)] = { 2, "queue_enable" },
	[CC(queue_notify_off)] = { 2, "queue_notify_off" },
	[CC(queue_desc_lo)] = { 4, "queue_desc (low)" },
	[CC(queue_desc_hi)] = { 4, "queue_desc (high)" },
	[CC(queue_avail_lo)] = { 4, "queue_avail (low)" },
	[CC(queue_avail_hi)] = { 4, "queue_avail (high)" },
	[CC(queue_used_lo)] = { 4, "queue_used (low)" },
	[CC(queue_used_hi)] = { 4, "queue_used (high)" },
	[BAR_NOTIFY] = { 2, "the queue notify register" },
	[BAR_ISR] = { 1, "ISR status" },
	[BAR_PAD] = { 1, "padding" },
};

/* Check the width of an access to a register; returns its name. */
static const char *reg_access(struct dev *d, u32 off, unsigned int width,
			      const char *op)
{
	u32 start = off;

	if (regs[off].width == width)
		return regs[off].name;
	while (!regs[start].width)
		start--;
	if (start != off)
		bad_driver(d, NULL, "4.1.3.1",
			   "%u-bit %s at BAR0 offset %u, inside %s", width * 8,
			   op, off, regs[start].name);
	bad_driver(d, NULL, "4.1.3.1", "%u-bit %s of %s, which is %u bits wide",
		   width * 8, op, regs[off].name, regs[off].width * 8);
}

static bool status_has(const struct dev *d, u8 bit)
{
	return d->status & bit;
}

/* Steps 3 and 4 of 3.1.1: features are read and written after DRIVER. */
static void need_driver(struct dev *d, const char *reg, const char *op)
{
	if (!status_has(d, VIRTIO_CONFIG_S_DRIVER))
		bad_driver(d, NULL, "3.1.1",
			   "%s of %s before the driver set "
			   "DRIVER",
			   op, reg);
}

/* Feature writes belong between DRIVER and FEATURES_OK (3.1.1). */
static void feature_window(struct dev *d, const char *reg)
{
	need_driver(d, reg, "write");
	if (status_has(d, VIRTIO_CONFIG_S_FEATURES_OK))
		bad_driver(d, NULL, "3.1.1",
			   "write of %s after FEATURES_OK: "
			   "the features are settled",
			   reg);
}

/* The queue queue_select names, for reading: NULL if there is none. */
static struct vq *selected(struct dev *d)
{
	return d->qsel < d->nvq ? &d->vq[d->qsel] : NULL;
}

/* The queue queue_select names, for setting up: it must exist. */
static struct vq *selected_for(struct dev *d, const char *reg)
{
	struct vq *vq = selected(d);

	if (!vq)
		bad_driver(d, NULL, "4.1.5.1.3",
			   "write of %s while queue_select is %u, which names "
			   "no queue (its queue_size reads 0)",
			   reg, d->qsel);
	return vq;
}

static void drain_eventfd(int fd)
{
	u64 count;

	while (read(fd, &count, sizeof(count)) == sizeof(count))
		;
}

/* Writing 0 to device_status resets the device (4.1.4.3.1). */
static void reset_device(struct dev *d)
{
	struct vq *vq;

	verbose("%s: reset", d->name);
	if (hv_queues && status_has(d, VIRTIO_CONFIG_S_DRIVER_OK))
		hv_queues(d, false);
	for (vq = d->vq; vq < d->vq + d->nvq; vq++) {
		task_stop(&vq->task);
		drain_eventfd(vq->efd);
		vq->size = QUEUE_MAX;
		vq->enabled = false;
		vq->desc_gpa = vq->avail_gpa = vq->used_gpa = 0;
		vq->num = 0;
		vq->desc = NULL;
		vq->avail = NULL;
		vq->used = NULL;
		vq->last_avail = vq->used_idx = 0;
		vq->pending = 0;
	}
	d->accepted = 0;
	d->dfsel = d->gfsel = 0;
	d->status = 0;
	d->qsel = 0;
	d->unread_features_ok = false;
	d->gave_up = false;
	__atomic_store_n(&d->isr, 0, __ATOMIC_SEQ_CST);
	if (d->features_set)
		d->features_set(d);
}

/* Set when the running side can only reach 32-bit guest addresses. */
static bool queues_below_4g;

/* queue_enable: check the rings the driver set up, and map them. */
static void enable_queue(struct dev *d, struct vq *vq)
{
	u64 n = vq->size;

	if (!status_has(d, VIRTIO_CONFIG_S_FEATURES_OK))
		bad_driver(d, vq, "3.1.1", "queue enabled before FEATURES_OK");
	if (queues_below_4g &&
	    (vq->desc_gpa | vq->avail_gpa | vq->used_gpa) >> 32)
		bad_driver(d, vq, "2.4",
			   "64-bit queue address (desc %#llx, avail %#llx, "
			   "used %#llx): lguest guest memory is below 4 GiB",
			   vq->desc_gpa, vq->avail_gpa, vq->used_gpa);
	if (vq->desc_gpa % 16 || vq->avail_gpa % 2 || vq->used_gpa % 4)
		bad_driver(d, vq, "2.4.1",
			   "misaligned queue (desc %#llx, avail %#llx, used "
			   "%#llx: they need 16, 2 and 4)",
			   vq->desc_gpa, vq->avail_gpa, vq->used_gpa);
	vq->desc = vq_mem(vq, vq->desc_gpa, 16 * n, "descriptor table", "2.4");
	vq->avail =
		vq_mem(vq, vq->avail_gpa, 6 + 2 * n, "available ring", "2.4");
	vq->used = vq_mem(vq, vq->used_gpa, 6 + 8 * n, "used ring", "2.4");
	if (READ_ONCE(vq->used->flags))
		bad_driver(d, vq, "2.4.9.1",
			   "used ring flags are %#x when the queue is enabled: "
			   "the driver must zero them",
			   READ_ONCE(vq->used->flags));
	vq->num = n;
	vq->last_avail = vq->used_idx = 0;
	vq->pending = 0;
	vq->enabled = true;
	verbose("%s queue %s: %u entries, desc %#llx avail %#llx used %#llx",
		d->name, vq->name, vq->num, vq->desc_gpa, vq->avail_gpa,
		vq->used_gpa);
}

/*
 * device_status: the driver walks ACKNOWLEDGE, DRIVER, FEATURES_OK,
 * DRIVER_OK, one bit at a time and in that order (3.1.1), never clearing
 * one (2.1.1).  At DRIVER_OK the device goes live: its queues get tasks.
 */
static void write_status(struct dev *d, u8 val)
{
	static const u8 order[] = { VIRTIO_CONFIG_S_ACKNOWLEDGE,
				    VIRTIO_CONFIG_S_DRIVER,
				    VIRTIO_CONFIG_S_FEATURES_OK,
				    VIRTIO_CONFIG_S_DRIVER_OK };
	u8 old = d->status, added = val & ~old, before = 0;
	unsigned int i;
	struct vq *vq;

	verbose("%s: status %#x -> %#x", d->name, old, val);
	if (!val) {
		reset_device(d);
		return;
	}
	if (old & ~val)
		bad_driver(d, NULL, "2.1.1",
			   "device_status %#x -> %#x clears a bit", old, val);
	/*
	 * FAILED means the driver gave up on the device (2.1, 3.1.1); Linux
	 * sets it whenever a probe fails.  The original stopped here with
	 * "unknown status bit"; the specification allows it at any time, so
	 * we record it and say so once.
	 */
	if (added & VIRTIO_CONFIG_S_FAILED) {
		added &= ~VIRTIO_CONFIG_S_FAILED;
		if (!d->gave_up)
			say("%s 00:%02x.0: the driver gave up on the device "
			    "(FAILED; status %#x)",
			    d->name, d->slot, val);
		d->gave_up = true;
	}
	if (!added) {
		d->status = val;
		return;
	}
	for (i = 0; i < sizeof(order) && order[i] != added; i++)
		before |= order[i];
	if (i == sizeof(order))
		bad_driver(d, NULL, "3.1.1",
			   "device_status %#x -> %#x sets bits out of the "
			   "initialization sequence",
			   old, val);
	if ((old & ~VIRTIO_CONFIG_S_FAILED) != before)
		bad_driver(
			d, NULL, "3.1.1",
			"device_status %#x -> %#x skips or repeats a step of "
			"the initialization sequence",
			old, val);
	if (added == VIRTIO_CONFIG_S_FEATURES_OK) {
		d->unread_features_ok = true;
		if (d->features_set)
			d->features_set(d);
	}
	if (added == VIRTIO_CONFIG_S_DRIVER_OK) {
		if (d->unread_features_ok)
			bad_driver(d, NULL, "3.1.1",
				   "DRIVER_OK without re-reading device_status "
				   "after FEATURES_OK");
		d->status = val;
		for (vq = d->vq; vq < d->vq + d->nvq; vq++)
			if (vq->enabled)
				task_start(&vq->task);
		if (hv_queues)
			hv_queues(d, true);
		return;
	}
	d->status = val;
}

static void write_queue_addr(struct dev *d, u32 off, const char *reg, u32 val)
{
	struct vq *vq = selected_for(d, reg);
	u64 *field, shift = off % 8 ? 32 : 0;

	if (vq->enabled)
		bad_driver(d, vq, "4.1.4.3.2",
			   "%s written while the queue is enabled", reg);
	if (!status_has(d, VIRTIO_CONFIG_S_FEATURES_OK))
		bad_driver(d, vq, "3.1.1", "%s written before FEATURES_OK",
			   reg);
	if (d->unread_features_ok)
		bad_driver(d, vq, "3.1.1",
			   "%s written before re-reading device_status after "
			   "FEATURES_OK",
			   reg);
	if (off < CC(queue_avail_lo))
		field = &vq->desc_gpa;
	else if (off < CC(queue_used_lo))
		field = &vq->avail_gpa;
	else
		field = &vq->used_gpa;
	*field = (*field & ~(0xFFFFFFFFULL << shift)) | (u64)val << shift;
}

/* The driver kicks queue 'val' (4.1.5.2): wake its task. */
static void notify_queue(struct dev *d, u32 val)
{
	u64 one = 1;

	if (val >= d->nvq)
		bad_driver(d, NULL, "4.1.5.2",
			   "notification for queue %u; the device has %u", val,
			   d->nvq);
	if (!status_has(d, VIRTIO_CONFIG_S_DRIVER_OK))
		bad_driver(d, &d->vq[val], "3.1.1",
			   "notified before DRIVER_OK");
	if (write(d->vq[val].efd, &one, sizeof(one)) != sizeof(one))
		fatal_errno("%s: cannot notify queue %u", d->name, val);
}

static void virtio_write(struct dev *d, u32 off, unsigned int width, u32 val)
{
	const char *reg;
	struct vq *vq;

	if (off >= BAR_DEVICE) {
		off -= BAR_DEVICE;
		if (off < d->config_len && d->config_write &&
		    d->config_write(d, off, width, val))
			return;
		bad_driver(d, NULL, "3.1.1",
			   "%u-bit write of %#x to device configuration offset "
			   "%u, which the driver may not write",
			   width * 8, val, off);
	}
	reg = reg_access(d, off, width, "write");
	switch (off) {
	case CC(device_feature_select):
		feature_window(d, reg);
		d->dfsel = val;
		return;
	case CC(guest_feature_select):
		/* As the original: our devices have feature bits 0 to 63. */
		if (val > 1)
			bad_driver(d, NULL, "4.1.4.3",
				   "driver_feature_select %u: feature bits go "
				   "up to 63",
				   val);
		feature_window(d, reg);
		d->gfsel = val;
		return;
	case CC(guest_feature):
		feature_window(d, reg);
		d->accepted &= ~(0xFFFFFFFFULL << 32 * d->gfsel);
		d->accepted |= (u64)val << 32 * d->gfsel;
		if (d->accepted & ~d->features)
			bad_driver(d, NULL, "2.2.1",
				   "driver accepted features %#llx, but the "
				   "device offered only %#llx",
				   d->accepted, d->features);
		return;
	case CC(msix_config):
	case CC(queue_msix_vector):
		/*
		 * There is no MSI-X table, so every vector is outside it
		 * (4.1.5.1.2.2); only NO_VECTOR, "unmapped", may be written.
		 * The original refused even that.
		 */
		if (val != VIRTIO_MSI_NO_VECTOR)
			bad_driver(d, NULL, "4.1.5.1.2.2",
				   "write of vector %u to %s: the device has "
				   "no MSI-X capability",
				   val, reg);
		return;
	case CC(device_status):
		write_status(d, val);
		return;
	case CC(queue_select):
		d->qsel = val;
		return;
	case CC(queue_size):
		vq = selected_for(d, reg);
		if (!val || (val & (val - 1)))
			bad_driver(d, vq, "4.1.4.3.2",
				   "queue_size %u is not a power of 2", val);
		if (val > QUEUE_MAX)
			bad_driver(d, vq, "4.1.4.3",
				   "queue_size %u is above the device's %u: a "
				   "driver may only reduce it",
				   val, QUEUE_MAX);
		if (vq->enabled)
			bad_driver(d, vq, "4.1.4.3.2",
				   "queue_size changed while the queue is "
				   "enabled");
		vq->size = val;
		return;
	case CC(queue_enable):
		vq = selected_for(d, reg);
		if (val != 1)
			bad_driver(
				d, vq, "4.1.4.3.2",
				"queue_enable written with %u: only 1 may be "
				"written",
				val);
		if (status_has(d, VIRTIO_CONFIG_S_DRIVER_OK))
			bad_driver(d, vq, "3.1.1",
				   "queue enabled after DRIVER_OK");
		enable_queue(d, vq);
		return;
	case CC(queue_desc_lo):
	case CC(queue_desc_hi):
	case CC(queue_avail_lo):
	case CC(queue_avail_hi):
	case CC(queue_used_lo):
	case CC(queue_used_hi):
		write_queue_addr(d, off, reg, val);
		return;
	case BAR_NOTIFY:
		notify_queue(d, val);
		return;
	case BAR_PAD:
		bad_driver(
			d, NULL, "4.1.4",
			"write of %#x to BAR0 offset %u, padding between the "
			"virtio structures",
			val, off);
	case BAR_ISR:
		bad_driver(d, NULL, "4.1.4.5",
			   "write of %#x to ISR status, "
			   "which only the device writes",
			   val);
	}
	bad_driver(d, NULL, "4.1.4.3.2",
		   "write of %#x to %s, which is "
		   "read-only",
		   val, reg);
}

static u32 queue_reg(struct dev *d, u32 off, const char *reg)
{
	struct vq *vq = selected(d);

	need_driver(d, reg, "read");
	if (off == CC(queue_select))
		return d->qsel;
	if (!vq)
		return 0; /* queue_size 0: no such queue (4.1.4.3.1) */
	switch (off) {
	case CC(queue_size):
		return vq->size;
	case CC(queue_enable):
		return vq->enabled;
	case CC(queue_desc_lo):
		return vq->desc_gpa;
	case CC(queue_desc_hi):
		return vq->desc_gpa >> 32;
	case CC(queue_avail_lo):
		return vq->avail_gpa;
	case CC(queue_avail_hi):
		return vq->avail_gpa >> 32;
	case CC(queue_used_lo):
		return vq->used_gpa;
	case CC(queue_used_hi):
		return vq->used_gpa >> 32;
	case CC(queue_msix_vector):
		return VIRTIO_MSI_NO_VECTOR;
	}
	return 0; /* queue_notify_off: every queue notifies at one place */
}

static u32 virtio_read(struct dev *d, u32 off, unsigned int width)
{
	const char *reg;

	if (off >= BAR_DEVICE) {
		off -= BAR_DEVICE;
		if (off >= d->config_len || width > d->config_len - off)
			bad_driver(d, NULL, "4.1.4.6",
				   "%u-byte read at device configuration "
				   "offset %u, past its end (%u bytes)",
				   width, off, d->config_len);
		if (off % width)
			bad_driver(d, NULL, "4.1.3.1",
				   "misaligned %u-byte read at device "
				   "configuration offset %u",
				   width, off);
		need_driver(d, "device configuration", "read");
		return le_get(d->config + off, width);
	}
	reg = reg_access(d, off, width, "read");
	switch (off) {
	case CC(device_feature_select):
		need_driver(d, reg, "read");
		return d->dfsel;
	case CC(device_feature):
		need_driver(d, reg, "read");
		return d->dfsel < 2 ? d->features >> 32 * d->dfsel : 0;
	case CC(guest_feature_select):
		need_driver(d, reg, "read");
		return d->gfsel;
	case CC(guest_feature):
		need_driver(d, reg, "read");
		return d->accepted >> 32 * d->gfsel;
	case CC(msix_config):
		/*
		 * Nothing is mapped to a vector.  The original stopped any
		 * read of msix_config; the specification allows it.
		 */
		return VIRTIO_MSI_NO_VECTOR;
	case CC(num_queues):
		return d->nvq;
	case CC(device_status):
		/* The driver has looked: FEATURES_OK is confirmed (3.1.1). */
		d->unread_features_ok = false;
		return d->status;
	case CC(config_generation):
		return 0; /* our configuration never changes */
	case BAR_NOTIFY:
		if (!status_has(d, VIRTIO_CONFIG_S_DRIVER_OK))
			bad_driver(d, NULL, "3.1.1",
				   "read of the queue notify register before "
				   "DRIVER_OK");
		return 0;
	case BAR_ISR:
		/* Reading ISR status clears it (4.1.4.5.1). */
		return __atomic_exchange_n(&d->isr, 0, __ATOMIC_SEQ_CST);
	case BAR_PAD:
		bad_driver(d, NULL, "4.1.4",
			   "read of BAR0 offset %u, padding between the "
			   "virtio structures",
			   off);
	}
	return queue_reg(d, off, reg);
}

/*
 * The PCI configuration access capability (4.1.4.7): a window through
 * which a driver reaches BAR0 with configuration cycles alone.  Linux's
 * early lguest console wrote through it before any BAR was mapped.
 */
static bool window_target(struct dev *d, u32 *off, unsigned int *len)
{
	u8 bar = d->cfg[WIN_BAR];

	*off = le_get(d->cfg + WIN_OFFSET, 4);
	*len = le_get(d->cfg + WIN_LENGTH, 4);
	return bar == 0 && (*len == 1 || *len == 2 || *len == 4) &&
	       *off < d->regs_len && *len <= d->regs_len - *off &&
	       *off % *len == 0;
}

/* The window's target, or stop: a driver must aim it right (4.1.4.7.2). */
static void window_check(struct dev *d, u32 *off, unsigned int *len,
			 const char *op)
{
	if (!window_target(d, off, len))
		bad_driver(d, NULL, "4.1.4.7.2",
			   "%s through the PCI_CFG window with bar %u, offset "
			   "%u, length %u: not an aligned 1, 2 or 4 bytes "
			   "inside BAR0's %u",
			   op, d->cfg[WIN_BAR], *off, *len, d->regs_len);
}

/* Put 'width' bytes of val into the configuration dword at cfg+reg. */
static void cfg_merge(u8 *dword, unsigned int lane, unsigned int width, u32 val)
{
	unsigned int i;

	for (i = 0; i < width && lane + i < 4; i++)
		dword[lane + i] = val >> (8 * i);
}

/* Set under KVM: BARs 1-5, CardBus CIS and ROM read 0, writes or not. */
static bool pci_unused_zero;

/* The address the guest last wrote to 0xCF8. */
static u32 pci_addr;

/* Which function and dword that address selects; NULL if nothing's there. */
static struct dev *pci_target(u32 *reg)
{
	if (!(pci_addr & 0x80000000) || (pci_addr & 0x00FF0700))
		return NULL; /* disabled, or not bus 0 function 0 */
	*reg = pci_addr & 0xFC;
	if (*reg >= PCI_CFG_SIZE)
		return NULL;
	return slots[(pci_addr >> 11) & 0x1F];
}

/* Is there a function where 0xCF8 points? */
static bool pci_present(void)
{
	u32 reg;

	return pci_target(&reg) != NULL;
}

/* A configuration write was refused: say where it was aimed, and then what. */
static void say_refused(u16 port, unsigned int width, u32 val, const char *then)
{
	say("guest's %u-byte write of %#x to port %#x (PCI %02x:%02x.%u "
	    "register 0x%02x%s) refused: %s",
	    width, val, port, pci_addr >> 16 & 0xFF, pci_addr >> 11 & 0x1F,
	    pci_addr >> 8 & 7, pci_addr & 0xFC,
	    pci_addr & 0x80000000 ? "" : ", not enabled", then);
}

static void pci_data_read(unsigned int lane, unsigned int width, u32 *val)
{
	struct dev *d;
	u32 reg;

	d = pci_target(&reg);
	if (!d)
		return; /* nobody answers: all ones */
	if (reg == WIN_DATA && d != &host_bridge) {
		unsigned int len;
		u32 off;

		window_check(d, &off, &len, "read");
		le_put(d->cfg + WIN_DATA, 4, virtio_read(d, off, len));
	}
	*val = (le_get(d->cfg + reg, 4) >> (8 * lane)) & width_mask(width);
}

/*
 * Configuration writes.  Only what the original allowed is writable: the
 * BARs (BAR0 keeping its size bits clear, which is how the guest sizes
 * it), the CardBus CIS pointer and expansion ROM, cache line size and
 * latency timer, and the PCI_CFG window; 16-bit writes to the command and
 * status registers are accepted and ignored.  Anything else is refused,
 * which hands the guest a #GP (4.1.4.1: capabilities are read-only).
 */
static bool pci_data_write(unsigned int lane, unsigned int width, u32 val)
{
	unsigned int len;
	struct dev *d;
	u32 reg, off;

	d = pci_target(&reg);
	if (!d || (d == &host_bridge && reg >= CAP_COMMON))
		return false; /* the host bridge has no capabilities */
	switch (reg) {
	case PCI_BASE_ADDRESS_0:
		cfg_merge(d->cfg + reg, lane, width, val);
		if (d->bar_size)
			le_put(d->cfg + reg, 4,
			       le_get(d->cfg + reg, 4) & ~(d->bar_size - 1));
		return true;
	case PCI_BASE_ADDRESS_1:
	case PCI_BASE_ADDRESS_2:
	case PCI_BASE_ADDRESS_3:
	case PCI_BASE_ADDRESS_4:
	case PCI_BASE_ADDRESS_5:
	case PCI_CARDBUS_CIS: /* the original allowed it: so do we */
	case PCI_ROM_ADDRESS:
		/*
		 * The original let these hold what the guest wrote, and its
		 * guests let them be.  A stock kernel sizes them and would
		 * find, say, a 2 KiB expansion ROM: under KVM they are what
		 * PCI says registers we do not have are, zero.
		 */
		if (!pci_unused_zero)
			cfg_merge(d->cfg + reg, lane, width, val);
		return true;
	case WIN_BAR:
	case WIN_OFFSET:
	case WIN_LENGTH:
		cfg_merge(d->cfg + reg, lane, width, val);
		return true;
	case PCI_CACHE_LINE_SIZE:
		/* Header type and BIST, the dword's upper half, stay put. */
		if (lane < 2)
			cfg_merge(d->cfg + reg, lane,
				  width < 2 - lane ? width : 2 - lane, val);
		return true;
	case PCI_COMMAND:
		return width == 2;
	case WIN_DATA:
		/* The original refused a bad window with a #GP: stop instead. */
		window_check(d, &off, &len, "write");
		cfg_merge(d->cfg + reg, lane, width, val);
		/* The window's length, not this access's, sets the width. */
		virtio_write(d, off, len,
			     le_get(d->cfg + reg, 4) & width_mask(len));
		return true;
	}
	return false;
}

/*
 * Entry point: an "in" or "out" of 'width' bytes.  Returns false if a
 * write was refused.  Ports nobody emulates read as all ones and swallow
 * writes, like an ISA bus with nothing on it.
 */
#define PCI_CONFIG_ADDR 0xCF8
#define PCI_CONFIG_DATA 0xCFC
#define I8042_STATUS 0x64

static bool port_io(u16 port, unsigned int width, bool write, u32 *val)
{
	if (!write)
		*val = width_mask(width);
	if (hv_ports && hv_ports(port, width, write, val))
		return true;
	if (port >= PCI_CONFIG_ADDR && port < PCI_CONFIG_DATA) {
		unsigned int lane = port - PCI_CONFIG_ADDR;

		if (write)
			cfg_merge((u8 *)&pci_addr, lane, width, *val);
		else
			*val = (pci_addr >> (8 * lane)) & width_mask(width);
		return true;
	}
	if (port >= PCI_CONFIG_DATA && port < PCI_CONFIG_DATA + 4) {
		if (write)
			return pci_data_write(port - PCI_CONFIG_DATA, width,
					      *val);
		pci_data_read(port - PCI_CONFIG_DATA, width, val);
		return true;
	}
	/* The keyboard controller's status: nothing pending, ready. */
	if (!write && port == I8042_STATUS)
		*val = 1;
	return true;
}

/*
 * Entry point: a read or write of 'width' bytes at guest-physical 'gpa'.
 * Returns false if no device's BAR0 is there.
 */
static bool mmio_access(u64 gpa, unsigned int width, bool write, u32 *val)
{
	unsigned int s;

	for (s = 1; s < PCI_SLOTS; s++) {
		struct dev *d = slots[s];

		if (!d || gpa < d->bar || gpa - d->bar >= d->bar_size)
			continue;
		if (width != 1 && width != 2 && width != 4)
			bad_driver(
				d, NULL, "4.1.3.1",
				"%u-byte access at BAR0 offset %llu: the "
				"driver accesses fields 1, 2 or 4 bytes at a "
				"time",
				width, gpa - d->bar);
		if (gpa - d->bar + width > d->regs_len) {
			if (write)
				bad_driver(d, NULL, "4.1.4",
					   "%u-bit write at BAR0 offset %llu, "
					   "past the registers (%u bytes)",
					   width * 8, gpa - d->bar,
					   d->regs_len);
			bad_driver(d, NULL, "4.1.4.6",
				   "%u-bit read at BAR0 offset %llu, past the "
				   "registers (%u bytes)",
				   width * 8, gpa - d->bar, d->regs_len);
		}
		if (write)
			virtio_write(d, gpa - d->bar, width, *val);
		else
			*val = virtio_read(d, gpa - d->bar, width);
		return true;
	}
	return false;
}

/*
 * Running the guest on /dev/lguest.
 *
 * We tell the lguest host where guest memory is and where the kernel
 * starts (LHREQ_INITIALIZE), then read from /dev/lguest: each read runs the
 * guest until it does something we must emulate, and tells us what.  A
 * port access gives us trap 13 (#GP: the guest kernel runs in ring 1
 * without I/O permission); a touch of a device's registers gives us trap
 * 14 (a page fault in the MMIO range above RAM).  Either way we get the
 * instruction's bytes and fetch and set registers one at a time.
 */
static int lguest_fd = -1;
static int exe_fd = -1;

static void lguest_request(const unsigned long *req, size_t len,
			   const char *what)
{
	if (pwrite(lguest_fd, req, len, 0) < 0)
		fatal_errno("/dev/lguest refused %s", what);
}

static u32 lg_getreg(unsigned int off)
{
	unsigned long req[] = { LHREQ_GETREG, off };
	u32 val;

	lguest_request(req, sizeof(req), "a register read");
	if (pread(lguest_fd, &val, sizeof(val), 0) != sizeof(val))
		fatal_errno("reading guest register %u", off);
	return val;
}

static void lg_setreg(unsigned int off, u32 val)
{
	unsigned long req[] = { LHREQ_SETREG, off, val };

	lguest_request(req, sizeof(req), "a register write");
}

static bool lg_guest_ip(u64 *ip)
{
	*ip = lg_getreg(PT_EIP);
	return true;
}

/* Give the guest back a fault we will not emulate. */
static void lg_hand_back(unsigned int trap)
{
	unsigned long req[] = { LHREQ_TRAP, trap };

	lguest_request(req, sizeof(req), "to hand a trap back");
}

/*
 * Called from the service tasks: raise the device's interrupt line.  This
 * one call goes through glibc (see raw_syscall()); the host returns 0.
 */
static void lg_interrupt(struct dev *d)
{
	unsigned long req[] = { LHREQ_IRQ, d->irq };

	/*
	 * The host refuses only once the guest is dead; the main task is
	 * about to hear why, so this task just waits to be stopped.
	 */
	if (pwrite(lguest_fd, req, sizeof(req), 0) != 0)
		for (;;)
			sys_poll1(-1, -1);
}

/* What /dev/lguest can run: i386 kernels, in 32-bit guest-physical space. */
static void lg_check(u64 initrd_size)
{
	if (kimg.kind == ELF64)
		fatal("kernel '%s' is an x86-64 ELF: the lguest host runs "
		      "32-bit guests (--kvm runs it under KVM)",
		      opt.kernel);
	if (opt.mem > (4096 - 2) * MIB)
		fatal("memory size %llu MiB is too large for /dev/lguest: "
		      "guest RAM, device pages and BARs must fit below 4 GiB "
		      "(at most 4094 MiB)",
		      opt.mem / MIB);
	plan_ram(opt.mem, false);
	check_layout(initrd_size, BOOT_AREA_END,
		     "boot_params and the command line");
}

/*
 * The lguest guest's boot_params: one stretch of RAM, and a kernel that
 * knows it runs on lguest (hardware_subarch) with its segments set up.
 */
static void lg_boot_params(void)
{
	struct boot_params *bp = guest_mem(0, sizeof(*bp));

	memset(bp, 0, sizeof(*bp));
	write_boot_params(bp);
	bp->e820_entries = 1;
	bp->e820_table[0].addr = 0;
	bp->e820_table[0].size = ram_lo;
	bp->e820_table[0].type = 1; /* E820_TYPE_RAM */
	/* CONFIG_PHYSICAL_ALIGN of the lguest guests of old: 16 MiB. */
	bp->hdr.kernel_alignment = 16 * MIB;
	/* Protocol 2.07 is the first with hardware_subarch. */
	bp->hdr.version = 0x207;
	bp->hdr.hardware_subarch = X86_SUBARCH_LGUEST;
	/* The lguest host set up our segments: keep them. */
	bp->hdr.loadflags |= KEEP_SEGMENTS;
	/* No Intel TXT, and no APM BIOS to find. */
	bp->tboot_addr = 0;
	bp->apm_bios_info.version = 0;
}

static void lg_initialize(void)
{
	unsigned long req[] = { LHREQ_INITIALIZE, (unsigned long)gbase,
				ram_lo / PAGE, kimg.entry,
				(mmio_next + PAGE - 1) / PAGE };

	verbose("guest memory at %p: %llu MiB, devices up to %#llx, entry "
		"%#llx",
		gbase, ram_lo / MIB, mmio_next, kimg.entry);
	lguest_request(req, sizeof(req), "to initialize the guest");
	/* Both are 32-bit on lguest: the guest has no memory above 4 GiB. */
	queues_below_4g = true;
	hv_interrupt = lg_interrupt;
	guest_ip = lg_guest_ip;
}

/* Close every descriptor above stderr, but keep 'keep'. */
static void close_fds(int keep)
{
	long max = sysconf(_SC_OPEN_MAX);
	int fd;

	for (fd = 3; fd < (max > 0 ? max : 1024); fd++)
		if (fd != keep)
			close(fd);
}

/*
 * The guest rebooted: we begin again, as a new launcher with the same
 * arguments, so the next boot finds everything fresh.
 */
static void __attribute__((noreturn)) reboot_guest(void)
{
	extern char **environ;

	verbose("guest rebooting: starting again");
	shutdown_launcher();
	close_fds(exe_fd);
	coverage_flush();
	if (exe_fd >= 0)
		fexecve(exe_fd, opt.argv, environ);
	else
		execv("/proc/self/exe", opt.argv);
	fatal_errno("reboot: cannot run the launcher again");
}

/* The guest is dead; the host tells us why on the next read. */
static void __attribute__((noreturn)) guest_died(void)
{
	char why[1024];
	ssize_t n = pread(lguest_fd, why, sizeof(why) - 1, 0);

	why[n > 0 ? n : 0] = '\0';
	fatal("%s", why[0] ? why : "the guest died, giving no reason");
}

static void emulate_insn(const u8 insn[7]);
static void emulate_mmio(u32 gpa, const u8 insn[7]);

static void __attribute__((noreturn)) lg_run(void)
{
	for (;;) {
		struct lguest_pending p;
		ssize_t n = pread(lguest_fd, &p, sizeof(p), 0);
		int err = errno;

		if (n == sizeof(p) && p.trap == 13) {
			emulate_insn(p.insn);
		} else if (n == sizeof(p) && p.trap == 14) {
			emulate_mmio(p.addr, p.insn);
		} else if (n == sizeof(p)) {
			fatal("/dev/lguest reported trap %u (address %#x), "
			      "which the launcher does not handle",
			      p.trap, p.addr);
		} else if (n >= 0) {
			fatal("/dev/lguest returned %zd bytes, not a trap", n);
		} else if (err == ENOENT) {
			guest_died();
		} else if (err == ERESTART) {
			reboot_guest();
		} else if (err != EINTR) {
			errno = err;
			fatal_errno("running the guest on /dev/lguest");
		}
	}
}

/*
 * Instruction emulation.
 *
 * The host hands us the bytes at the faulting instruction.  For trap 13 we
 * expect the guest kernel's port I/O: "in" and "out" with an 8-bit port
 * number or with the port in %dx, of 8, 16 (0x66 prefix) or 32 bits; and
 * "cli", which a guest kernel may still issue early and we skip.  For trap
 * 14 we expect "mov" between a register and memory: what readb/w/l and
 * writeb/w/l compile to.  Anything else goes back to the guest as the
 * fault it was, and so does a trap 13 from guest user mode.
 */
static const u8 gpr_offset[8] = { PT_EAX, PT_ECX, PT_EDX, PT_EBX,
				  PT_ESP, PT_EBP, PT_ESI, PT_EDI };

/* Register 'r' as ModR/M numbers it: for bytes, 4-7 are AH, CH, DH, BH. */
static u32 gpr_get(unsigned int r, unsigned int width)
{
	if (width == 1 && r >= 4)
		return (lg_getreg(gpr_offset[r - 4]) >> 8) & 0xFF;
	return lg_getreg(gpr_offset[r]) & width_mask(width);
}

static void gpr_set(unsigned int r, unsigned int width, u32 val)
{
	unsigned int shift = 0;
	u32 mask, old;

	if (width == 1 && r >= 4) {
		r -= 4;
		shift = 8;
	}
	mask = width_mask(width) << shift;
	old = lg_getreg(gpr_offset[r]);
	lg_setreg(gpr_offset[r], (old & ~mask) | ((val << shift) & mask));
}

static void skip_insn(unsigned int len)
{
	lg_setreg(PT_EIP, lg_getreg(PT_EIP) + len);
}

static void emulate_insn(const u8 insn[7])
{
	unsigned int i = 0, len, width, port;
	bool in, dx, o16 = false;
	u32 val;

	/* Only the guest kernel (ring 1) may have us do its I/O. */
	if ((lg_getreg(PT_CS) & 3) != GUEST_KERNEL_RPL)
		goto hand_back;
	if (insn[0] == 0xFA) { /* cli */
		skip_insn(1);
		return;
	}
	if (insn[i] == 0x66) { /* operand size: 16 bits */
		o16 = true;
		i++;
	}
	switch (insn[i] & ~1) {
	case 0xE4: /* in imm8, %al/%ax/%eax */
	case 0xE6: /* out %al/%ax/%eax, imm8 */
		dx = false;
		len = i + 2;
		break;
	case 0xEC: /* in (%dx), %al/%ax/%eax */
	case 0xEE: /* out %al/%ax/%eax, (%dx) */
		dx = true;
		len = i + 1;
		break;
	default:
		goto hand_back;
	}
	in = !(insn[i] & 2);
	width = insn[i] & 1 ? (o16 ? 2 : 4) : 1;
	port = dx ? lg_getreg(PT_EDX) & 0xFFFF : insn[i + 1];

	if (in) {
		port_io(port, width, false, &val);
		gpr_set(0, width, val);
	} else {
		val = gpr_get(0, width);
		if (!port_io(port, width, true, &val)) {
			say_refused(port, width, val, "the guest gets a #GP");
			goto hand_back;
		}
	}
	verbose("%s port %#x, %u bytes: %#x", in ? "in" : "out", port, width,
		val);
	skip_insn(len);
	return;
hand_back:
	lg_hand_back(13);
}

/* Bytes from the ModR/M byte on, with 32-bit addressing. */
static unsigned int modrm_len(const u8 *m)
{
	unsigned int mod = m[0] >> 6, rm = m[0] & 7, len = 1;

	if (rm == 4) { /* a SIB byte follows */
		len++;
		if (mod == 0 && (m[1] & 7) == 5)
			len += 4; /* ... and a 32-bit displacement */
	}
	if (mod == 0 && rm == 5)
		len += 4; /* 32-bit absolute address */
	else if (mod == 1)
		len += 1;
	else if (mod == 2)
		len += 4;
	return len;
}

static void emulate_mmio(u32 gpa, const u8 insn[7])
{
	unsigned int i = 0, width;
	bool o16 = false;
	u8 op, modrm;
	u32 val;

	if (insn[i] == 0x66) {
		o16 = true;
		i++;
	}
	op = insn[i];
	modrm = insn[i + 1];
	/*
	 * 88/89: mov from a register to memory; 8a/8b: from memory to a
	 * register.  A ModR/M with mod 3 names a register, not memory, so it
	 * cannot have faulted here.  (The original counted mod 0, r/m 5 as
	 * a 2-byte displacement; in 32-bit code it is 4 bytes.)
	 */
	if ((op & ~3) != 0x88 || (modrm >> 6) == 3) {
		say("MMIO at %#x: instruction %02x %02x %02x %02x is not one "
		    "lguest emulates; the guest gets the page fault",
		    gpa, insn[0], insn[1], insn[2], insn[3]);
		goto hand_back;
	}
	width = op & 1 ? (o16 ? 2 : 4) : 1;
	if (op & 2) {
		if (!mmio_access(gpa, width, false, &val))
			goto nobody;
		gpr_set((modrm >> 3) & 7, width, val);
	} else {
		val = gpr_get((modrm >> 3) & 7, width);
		if (!mmio_access(gpa, width, true, &val))
			goto nobody;
	}
	skip_insn(i + 1 + modrm_len(&insn[i + 1]));
	return;
nobody:
	say("MMIO at %#x: no device there; the guest gets the page fault", gpa);
hand_back:
	lg_hand_back(14);
}

/*
 * Running the guest on /dev/kvm.
 *
 * /dev/lguest left Linux in 4.14; KVM is what machines have now.  Behind
 * the same memory layout, PCI bus and devices, a KVM virtual machine with
 * one vCPU runs the guest and comes back to us on port I/O and on touches
 * of the device registers, already decoded: no instruction emulation here,
 * the same port_io() and mmio_access() as for lguest, the same checks.
 * Queue notifications reach the service tasks' eventfds without passing
 * through us (ioeventfd), and their interrupts reach the guest the same
 * way (irqfd).
 *
 * A stock kernel expects more of a PC than a lguest guest did, so KVM
 * guests also get: KVM's in-kernel interrupt controllers (two 8259s, an
 * IO-APIC, a local APIC) and timer (PIT); a 16550A UART at 0x3F8 on line
 * 4, so that console=ttyS0 shows the kernel's log from its first line;
 * and a few ACPI tables, so that the kernel can power the machine off
 * (lguest exits with status 0) and reset it (lguest starts again).
 */
#define KVM_TSS_GPA 0xfffbd000ULL /* three pages KVM needs on VMX */
#define KVM_IDMAP_GPA 0xfffbc000ULL

/* The boot page: GDT and, for 64-bit kernels, identity page tables. */
#define BOOT_GDT 0x8000
#define BOOT_PML4 0x9000
#define BOOT_PDPT 0xA000
#define BOOT_PD 0xB000 /* four pages: 4 GiB in 2 MiB pages */
#define BOOT_CS 0x10   /* the boot protocol's __BOOT_CS ... */
#define BOOT_DS 0x18   /* ... and __BOOT_DS */

/* Below 1 MiB: the EBDA, and the BIOS area where the ACPI tables go. */
#define EBDA_GPA 0x9fc00ULL
#define ACPI_GPA 0xE0000ULL

/* The ports of the PC devices we add. */
#define UART_PORT 0x3F8
#define UART_LINE 4
#define PM1A_EVT 0x600 /* ACPI PM1a event block: 4 bytes */
#define PM1A_CNT 0x604 /* ACPI PM1a control block: 2 bytes */
#define SCI_LINE 9
#define SLP_TYP_S5 5 /* \_S5's value, in PM1a_CNT's SLP_TYP */
#define SLP_EN (1 << 13)
#define I8042_RESET 0xFE

static int kvm_fd = -1, vm_fd = -1, vcpu_fd = -1;
static struct kvm_run *kvm_run;
static bool notify_routed[PCI_SLOTS][2];

static void kvm_ioctl(int fd, unsigned long req, void *arg, const char *what)
{
	if (ioctl(fd, req, arg) < 0)
		fatal_errno("KVM: %s", what);
}

/* What KVM can run: any kernel lguest loads; RAM split around the hole. */
static void kvm_check(u64 initrd_size)
{
	int v = ioctl(kvm_fd, KVM_GET_API_VERSION, 0);

	if (v != KVM_API_VERSION)
		fatal("/dev/kvm speaks API version %d, not %d", v,
		      KVM_API_VERSION);
	plan_ram(opt.mem, true);
	check_layout(initrd_size, MIB,
		     "the boot page, the EBDA and the BIOS area");
}

/*
 * Interrupt lines.  The UART's is an ISA line: a pulse (irqfd) makes the
 * edge the guest's 8259 or IO-APIC waits for.  The devices' are PCI lines,
 * which ACPI makes level-triggered: raising one asserts it until the
 * guest's EOI, when KVM lowers it and tells the resampling task (irqfd's
 * resamplefd), which raises it again if a device on the line still has
 * its ISR set.  So an interrupt that comes while the guest is handling
 * the last one is never lost.
 */
static int line_fd[16];	    /* raises a line: a pulse, or assertion */
static int resample_fd[16]; /* a PCI line's guest sent an EOI */
static struct task resampler;

static void kvm_raise(unsigned int line)
{
	u64 one = 1;

	raw_syscall(SYS_write, line_fd[line], (long)&one, sizeof(one), 0, 0);
}

static void kvm_interrupt(struct dev *d)
{
	kvm_raise(d->irq);
}

static void kvm_resample(void *arg)
{
	struct pollfd p[16];
	unsigned int n = 0, i, s;
	u8 lines[16];
	u64 count;

	(void)arg;
	for (i = 0; i < 16; i++) {
		if (resample_fd[i] > 0) {
			p[n] = (struct pollfd){ resample_fd[i], POLLIN, 0 };
			lines[n++] = i;
		}
	}
	raw_syscall(SYS_poll, (long)p, n, -1, 0, 0);
	for (i = 0; i < n; i++) {
		if (!(p[i].revents & POLLIN))
			continue;
		raw_syscall(SYS_read, p[i].fd, (long)&count, sizeof(count), 0,
			    0);
		for (s = 1; s < PCI_SLOTS; s++) {
			if (slots[s] && slots[s]->irq == lines[i] &&
			    __atomic_load_n(&slots[s]->isr, __ATOMIC_SEQ_CST)) {
				kvm_raise(lines[i]);
				break;
			}
		}
	}
}

static void kvm_line(unsigned int line, bool level)
{
	struct kvm_irqfd irqfd = { .gsi = line };

	if (line_fd[line] > 0)
		return;
	line_fd[line] = eventfd(0, EFD_CLOEXEC);
	if (level)
		resample_fd[line] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (line_fd[line] < 0 || resample_fd[line] < 0)
		fatal_errno("cannot create an eventfd");
	irqfd.fd = line_fd[line];
	if (level) {
		irqfd.flags = KVM_IRQFD_FLAG_RESAMPLE;
		irqfd.resamplefd = resample_fd[line];
	}
	kvm_ioctl(vm_fd, KVM_IRQFD, &irqfd, "cannot attach interrupt line");
}

/*
 * Once a device is live, a 16-bit write of a queue's index to its notify
 * register goes straight to that queue's eventfd (ioeventfd).  Anything
 * else written there still comes to us, to be checked: a notification
 * before DRIVER_OK, of a queue that does not exist, of the wrong width.
 */
static void kvm_queues(struct dev *d, bool live)
{
	struct vq *vq;

	for (vq = d->vq; vq < d->vq + d->nvq; vq++) {
		struct kvm_ioeventfd io = {
			.datamatch = vq->index,
			.addr = d->bar + BAR_NOTIFY,
			.len = 2,
			.fd = vq->efd,
			.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
		};
		bool *routed = &notify_routed[d->slot][vq->index];

		if (live == *routed || (live && !vq->enabled))
			continue;
		if (!live)
			io.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
		kvm_ioctl(vm_fd, KVM_IOEVENTFD, &io,
			  "cannot route queue notifications");
		*routed = live;
	}
}

static bool kvm_guest_ip(u64 *ip)
{
	struct kvm_regs r;

	if (ioctl(vcpu_fd, KVM_GET_REGS, &r))
		return false;
	*ip = r.rip;
	return true;
}

/*
 * The UART: a 16550A at 0x3F8, as much of one as Linux's 8250 driver and
 * its console use.  Output goes to our stdout as it is written.  Input is
 * our stdin, read by a task of its own while the guest has the receive
 * interrupt on; the guest takes it from a small FIFO.
 */
enum {
	UART_RBR_THR,
	UART_IER,
	UART_IIR_FCR,
	UART_LCR,
	UART_MCR,
	UART_LSR,
	UART_MSR,
	UART_SCR,
};
#define UART_IER_RDI 0x01  /* receive data interrupt */
#define UART_IER_THRI 0x02 /* transmitter empty interrupt */
#define UART_LCR_DLAB 0x80
#define UART_MCR_LOOP 0x10
#define UART_LSR_DR 0x01
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40
#define UART_IIR_NONE 0x01
#define UART_IIR_THRI 0x02
#define UART_IIR_RDI 0x04
#define UART_IIR_FIFO 0xC0
#define UART_FIFO 64

static struct {
	u8 ier, lcr, mcr, scr, dll, dlm, fcr;
	bool thre; /* a "THR empty" interrupt is pending */
	u8 rx[UART_FIFO];
	u32 rx_head, rx_tail; /* the guest takes at head, we add at tail */
	int wake;	      /* tells the input task to look again */
	struct task task;
} uart;

static u32 uart_rx_count(void)
{
	return __atomic_load_n(&uart.rx_tail, __ATOMIC_ACQUIRE) - uart.rx_head;
}

/*
 * Who gets stdin: the device the guest's console is on.  The kernel's
 * last console= names it (ttyS0: the UART; hvc0: the virtio console).
 * Without one, the UART has it while the guest listens to it (its
 * receive interrupt is on); that cannot be the rule when the serial line
 * is the kernel's console, which keeps the interrupt on for ever.
 */
static enum { STDIN_AUTO, STDIN_UART, STDIN_VIRTIO } stdin_owner;

static void choose_stdin_owner(void)
{
	char **a;

	for (a = opt.kargs; *a; a++) {
		if (strncmp(*a, "console=", 8))
			continue;
		stdin_owner = strncmp(*a + 8, "ttyS", 4) ? STDIN_VIRTIO
							 : STDIN_UART;
	}
}

/* The guest listens (and is not talking to itself in loopback). */
static bool uart_wants_input(void)
{
	return stdin_owner != STDIN_VIRTIO &&
	       (READ_ONCE(uart.ier) & UART_IER_RDI) &&
	       !(READ_ONCE(uart.mcr) & UART_MCR_LOOP);
}

/* The virtio console must leave stdin alone. */
static bool uart_has_stdin(void)
{
	return stdin_owner == STDIN_UART || uart_wants_input();
}

/* Bytes for the guest to receive: from stdin, or looped back. */
static void uart_receive(const u8 *buf, u32 n)
{
	u32 i;

	for (i = 0; i < n; i++)
		uart.rx[(uart.rx_tail + i) % UART_FIFO] = buf[i];
	__atomic_store_n(&uart.rx_tail, uart.rx_tail + n, __ATOMIC_RELEASE);
	if (uart.ier & UART_IER_RDI)
		kvm_raise(UART_LINE);
}

static void uart_wake(void)
{
	u64 one = 1;

	raw_syscall(SYS_write, uart.wake, (long)&one, sizeof(one), 0, 0);
	raw_syscall(SYS_write, stdin_wake, (long)&one, sizeof(one), 0, 0);
}

/* The input task: stdin to the FIFO, while the guest wants it. */
static void uart_input(void *arg)
{
	struct pollfd p[2] = { { .fd = STDIN_FILENO, .events = POLLIN },
			       { .fd = uart.wake, .events = POLLIN } };
	u8 buf[UART_FIFO];
	u32 room;
	u64 count;
	long n;

	(void)arg;
	room = UART_FIFO - uart_rx_count();
	if (!uart_wants_input() || !room) {
		sys_poll1(uart.wake, -1);
	} else {
		raw_syscall(SYS_poll, (long)p, 2, -1, 0, 0);
		if ((p[0].revents & (POLLIN | POLLHUP)) && uart_wants_input()) {
			n = raw_syscall(SYS_read, STDIN_FILENO, (long)buf, room,
					0, 0);
			if (n <= 0) {
				/* No more input: nothing more to do. */
				for (;;)
					sys_poll1(-1, -1);
			}
			uart_receive(buf, n);
		}
	}
	raw_syscall(SYS_read, uart.wake, (long)&count, sizeof(count), 0, 0);
}

/* Is an interrupt the guest enabled pending? */
static bool uart_pending(void)
{
	return ((uart.ier & UART_IER_RDI) && uart_rx_count()) ||
	       ((uart.ier & UART_IER_THRI) && uart.thre);
}

static u8 uart_iir(void)
{
	u8 fifo = uart.fcr & 1 ? UART_IIR_FIFO : 0;

	if ((uart.ier & UART_IER_RDI) && uart_rx_count())
		return fifo | UART_IIR_RDI;
	if ((uart.ier & UART_IER_THRI) && uart.thre) {
		uart.thre = false; /* reading IIR says it, and clears it */
		return fifo | UART_IIR_THRI;
	}
	return fifo | UART_IIR_NONE;
}

static u8 uart_msr(void)
{
	u8 m = uart.mcr;

	/* In loopback the modem inputs are the modem outputs. */
	if (m & UART_MCR_LOOP)
		return (m & 0x02) << 3 | (m & 0x01) << 5 | (m & 0x04) << 4 |
		       (m & 0x08) << 4;
	return 0xB0; /* DCD, DSR, CTS: a terminal is there */
}

static u8 uart_read(unsigned int reg)
{
	u8 c;

	switch (reg) {
	case UART_RBR_THR:
		if (uart.lcr & UART_LCR_DLAB)
			return uart.dll;
		if (!uart_rx_count())
			return 0;
		c = uart.rx[uart.rx_head % UART_FIFO];
		__atomic_store_n(&uart.rx_head, uart.rx_head + 1,
				 __ATOMIC_RELEASE);
		uart_wake();
		return c;
	case UART_IER:
		return uart.lcr & UART_LCR_DLAB ? uart.dlm : uart.ier;
	case UART_IIR_FCR:
		return uart_iir();
	case UART_LCR:
		return uart.lcr;
	case UART_MCR:
		return uart.mcr;
	case UART_LSR:
		return UART_LSR_THRE | UART_LSR_TEMT |
		       (uart_rx_count() ? UART_LSR_DR : 0);
	case UART_MSR:
		return uart_msr();
	}
	return uart.scr;
}

static void uart_write(unsigned int reg, u8 v)
{
	u8 old;

	switch (reg) {
	case UART_RBR_THR:
		if (uart.lcr & UART_LCR_DLAB) {
			uart.dll = v;
			return;
		}
		if (!(uart.mcr & UART_MCR_LOOP))
			raw_syscall(SYS_write, STDOUT_FILENO, (long)&v, 1, 0,
				    0);
		else if (uart_rx_count() < UART_FIFO)
			uart_receive(&v, 1);
		/* Sent at once: the register is empty again. */
		uart.thre = true;
		if (uart.ier & UART_IER_THRI)
			kvm_raise(UART_LINE);
		return;
	case UART_IER:
		if (uart.lcr & UART_LCR_DLAB) {
			uart.dlm = v;
			return;
		}
		old = uart.ier;
		WRITE_ONCE(uart.ier, v & 0x0F);
		/* Turning the interrupt on with THR empty raises it at once. */
		if ((v & UART_IER_THRI) && !(old & UART_IER_THRI))
			uart.thre = true;
		if ((uart.ier ^ old) & UART_IER_RDI)
			uart_wake(); /* stdin changes hands */
		if (uart_pending())
			kvm_raise(UART_LINE);
		return;
	case UART_IIR_FCR:
		uart.fcr = v & 0xC9; /* enable, DMA mode, trigger level */
		return;
	case UART_LCR:
		uart.lcr = v;
		return;
	case UART_MCR:
		old = uart.mcr;
		WRITE_ONCE(uart.mcr, v & 0x1F);
		if ((uart.mcr ^ old) & UART_MCR_LOOP)
			uart_wake(); /* stdin changes hands */
		return;
	case UART_SCR:
		uart.scr = v;
		return;
	}
	/* LSR and MSR are read-only. */
}

static void uart_init(void)
{
	uart.wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	stdin_wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (uart.wake < 0 || stdin_wake < 0)
		fatal_errno("cannot create an eventfd");
	uart.thre = true;
	choose_stdin_owner();
	stdin_taken = uart_has_stdin;
	task_init(&uart.task, uart_input, NULL, "uart input");
}

static u16 pm1_enable; /* ACPI PM1a enable register */

static void __attribute__((noreturn)) power_off(void)
{
	verbose("the guest powered off");
	exit(0);
}

/*
 * PM1a's event block: two 16-bit registers, status (no event ever
 * happens, so it reads 0) and enable (what was written reads back),
 * reachable a byte at a time or both at once.
 */
static void pm1_event(unsigned int off, unsigned int width, bool write,
		      u32 *val)
{
	u32 in = *val, out = 0;
	unsigned int i, b;

	for (i = 0; i < width && off + i < 4; i++) {
		b = off + i;
		if (b < 2)
			continue;
		b = (b - 2) * 8;
		if (write)
			pm1_enable = (pm1_enable & ~(0xFF << b)) |
				     (in >> i * 8 & 0xFF) << b;
		else
			out |= (u32)(pm1_enable >> b & 0xFF) << i * 8;
	}
	if (!write)
		*val = out;
}

/*
 * The ports of the PC around the PCI bus: the UART, ACPI's power
 * management blocks, and the keyboard controller's reset line.
 */
static bool pc_ports(u16 port, unsigned int width, bool write, u32 *val)
{
	if (port >= UART_PORT && port < UART_PORT + 8) {
		if (write)
			uart_write(port - UART_PORT, *val);
		else
			*val = uart_read(port - UART_PORT);
		return true;
	}
	if (port >= PM1A_EVT && port < PM1A_EVT + 4) {
		pm1_event(port - PM1A_EVT, width, write, val);
		return true;
	}
	if (port >= PM1A_CNT && port < PM1A_CNT + 2) {
		if (!write) {
			*val = port == PM1A_CNT; /* SCI_EN: ACPI mode */
		} else if (port == PM1A_CNT && width == 2 && (*val & SLP_EN)) {
			if ((*val >> 10 & 7) == SLP_TYP_S5)
				power_off();
			say("the guest asked for sleep state %u, which this "
			    "machine does not have",
			    *val >> 10 & 7);
		}
		return true;
	}
	if (port == I8042_STATUS && write && (*val & 0xFF) == I8042_RESET)
		reboot_guest();
	return false;
}

/*
 * ACPI, as little as a stock kernel needs to power off and reset: RSDP,
 * RSDT and XSDT, a FADT (PM1a blocks, SCI line 9, the reset register:
 * 0xFE to the keyboard controller), its FACS, a MADT (one CPU, the
 * IO-APIC; each ISA line on its own pin, where KVM's timer is) and a DSDT
 * holding \_S5 and the PCI host bridge, with its windows and the devices'
 * interrupt lines (\_SB.PCI0: Linux finds the PCI bus only there once it
 * runs on ACPI).
 */
struct acpi_header {
	char sig[4];
	u32 len;
	u8 rev, sum;
	char oem[6], table[8];
	u32 oem_rev;
	char creator[4];
	u32 creator_rev;
} __attribute__((packed));

struct acpi_gas {
	u8 space, bits, offset, size;
	u64 addr;
} __attribute__((packed));

static u8 acpi_sum(const void *p, size_t len)
{
	const u8 *b = p;
	u8 sum = 0;

	while (len--)
		sum += *b++;
	return -sum;
}

/* A table at gpa: header filled in, body already written after it. */
static void acpi_table(u64 gpa, const char *sig, u8 rev, u32 len)
{
	struct acpi_header *h = guest_mem(gpa, len);

	memcpy(h->sig, sig, 4);
	h->len = len;
	h->rev = rev;
	memcpy(h->oem, "LGUEST", 6);
	memcpy(h->table, "LGUESTVM", 8);
	h->oem_rev = 1;
	memcpy(h->creator, "LGST", 4);
	h->creator_rev = 1;
	h->sum = 0;
	h->sum = acpi_sum(h, len);
}

static void put32(u64 gpa, u32 v)
{
	memcpy(guest_mem(gpa, 4), &v, 4);
}

static void put64(u64 gpa, u64 v)
{
	memcpy(guest_mem(gpa, 8), &v, 8);
}

static void put_gas(u64 gpa, u8 bits, u64 port)
{
	struct acpi_gas g = { .space = 1, .bits = bits, .addr = port };

	memcpy(guest_mem(gpa, sizeof(g)), &g, sizeof(g));
}

enum {
	ACPI_RSDP = ACPI_GPA,
	ACPI_RSDT = ACPI_GPA + 0x40,
	ACPI_XSDT = ACPI_GPA + 0x80,
	ACPI_FADT = ACPI_GPA + 0x100,
	ACPI_FACS = ACPI_GPA + 0x200,
	ACPI_MADT = ACPI_GPA + 0x300,
	ACPI_DSDT = ACPI_GPA + 0x400,
};

static void acpi_fadt(void)
{
	u64 f = ACPI_FADT + sizeof(struct acpi_header);
	u8 *b = guest_mem(ACPI_FADT, 244);

	put32(f + 4, ACPI_DSDT); /* DSDT; FIRMWARE_CTRL 0: X_ has the FACS */
	b[46] = SCI_LINE;	 /* SCI_INT */
	put32(ACPI_FADT + 56, PM1A_EVT); /* PM1a_EVT_BLK */
	put32(ACPI_FADT + 64, PM1A_CNT); /* PM1a_CNT_BLK */
	b[88] = 4;			 /* PM1_EVT_LEN */
	b[89] = 2;			 /* PM1_CNT_LEN */
	b[96] = 101;			 /* no C2 ... */
	b[98] = 0xE9, b[99] = 0x03;	 /* ... no C3 (1001 us) */
	b[109] = 0x24; /* IAPC_BOOT_ARCH: no VGA, no CMOS RTC, no 8042 */
	/* Flags: WBINVD works, no fixed power or sleep button, reset reg. */
	put32(ACPI_FADT + 112, 1 << 0 | 1 << 4 | 1 << 5 | 1 << 10);
	put_gas(ACPI_FADT + 116, 8, I8042_STATUS); /* RESET_REG ... */
	b[128] = I8042_RESET;			   /* ... RESET_VALUE */
	put64(ACPI_FADT + 132, ACPI_FACS);	   /* X_FIRMWARE_CTRL */
	put64(ACPI_FADT + 140, ACPI_DSDT);	   /* X_DSDT */
	put_gas(ACPI_FADT + 148, 32, PM1A_EVT);	   /* X_PM1a_EVT_BLK */
	put_gas(ACPI_FADT + 172, 16, PM1A_CNT);	   /* X_PM1a_CNT_BLK */
	acpi_table(ACPI_FADT, "FACP", 4, 244);
}

struct madt_entries {
	struct {
		u8 type, len, uid, apic_id;
		u32 flags;
	} __attribute__((packed)) cpu;
	struct {
		u8 type, len, id, reserved;
		u32 addr, gsi_base;
	} __attribute__((packed)) ioapic;
	struct {
		u8 type, len, bus, irq;
		u32 gsi;
		u16 flags;
	} __attribute__((packed)) sci;
} __attribute__((packed));

static void acpi_madt(void)
{
	const struct madt_entries e = {
		.cpu = { 0, sizeof(e.cpu), 0, 0, 1 }, /* enabled */
		.ioapic = { 1, sizeof(e.ioapic), 0, 0, 0xFEC00000, 0 },
		/* ACPI's SCI: level-triggered, active high. */
		.sci = { 2, sizeof(e.sci), 0, SCI_LINE, SCI_LINE, 0x0D },
	};
	u64 m = ACPI_MADT + sizeof(struct acpi_header);

	put32(m, 0xFEE00000); /* the local APIC */
	put32(m + 4, 1);      /* PCAT_COMPAT: there are 8259s too */
	memcpy(guest_mem(m + 8, sizeof(e)), &e, sizeof(e));
	acpi_table(ACPI_MADT, "APIC", 3, m + 8 + sizeof(e) - ACPI_MADT);
}

/*
 * AML, the DSDT's byte code, written by hand: a few names, one device.
 * Each package, buffer, scope or device starts with its length, in one
 * byte up to 63, in two up to 4095.
 */
struct aml {
	u8 b[1024];
	u32 n;
};

static void aml_put(struct aml *a, const void *p, u32 n)
{
	if (a->n + n > sizeof(a->b))
		fatal("internal error: the DSDT outgrew its buffer");
	memcpy(a->b + a->n, p, n);
	a->n += n;
}

/* op (1 or 2 bytes), then the length of what follows, then it. */
static void aml_wrap(struct aml *a, const u8 *op, u32 oplen,
		     const struct aml *body)
{
	u32 total = body->n + (body->n + 1 <= 63 ? 1 : 2);
	u8 len[2] = { total, 0 };

	aml_put(a, op, oplen);
	if (total > 63) {
		len[0] = 0x40 | (total & 0xF);
		len[1] = total >> 4;
	}
	aml_put(a, len, total > 63 ? 2 : 1);
	aml_put(a, body->b, body->n);
}

/* Name (NAME, Buffer () { bytes }) */
static void aml_buffer(struct aml *a, const char *name, const u8 *p, u8 n)
{
	struct aml body = { .n = 0 };

	aml_put(a, (const u8[]){ 0x08 }, 1); /* NameOp */
	aml_put(a, name, 4);
	aml_put(&body, (const u8[]){ 0x0A, n }, 2); /* its size */
	aml_put(&body, p, n);
	aml_wrap(a, (const u8[]){ 0x11 }, 1, &body); /* BufferOp */
}

/*
 * The host bridge's resources (_CRS): bus 0, the configuration ports, the
 * rest of I/O space, and the memory between RAM and the IO-APIC, where
 * the BARs are.
 */
static void aml_crs(struct aml *a)
{
	u32 lo = ram_lo, hi = 0xFEBFFFFF, len = hi - lo + 1;
	/* clang-format off */
	u8 crs[] = {
		0x88, 0x0D, 0x00, 0x02, 0x0C, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
		1, 0,					/* bus 0 */
		0x47, 0x01, 0xF8, 0x0C, 0xF8, 0x0C, 0x01, 0x08, /* 0xCF8 */
		0x88, 0x0D, 0x00, 0x01, 0x0C, 0x03, 0, 0, 0x00, 0x00,
		0xF7, 0x0C, 0, 0, 0xF8, 0x0C,		/* I/O below */
		0x88, 0x0D, 0x00, 0x01, 0x0C, 0x03, 0, 0, 0x00, 0x0D,
		0xFF, 0xFF, 0, 0, 0x00, 0xF3,		/* I/O above */
		0x87, 0x17, 0x00, 0x00, 0x0C, 0x01, 0, 0, 0, 0,
		lo, lo >> 8, lo >> 16, lo >> 24,
		hi, hi >> 8, hi >> 16, hi >> 24, 0, 0, 0, 0,
		len, len >> 8, len >> 16, len >> 24,	/* the BARs */
		0x79, 0x00,				/* end */
	};
	/* clang-format on */

	aml_buffer(a, "_CRS", crs, sizeof(crs));
}

/* _PRT: INTA of each slot goes to that device's line, as a GSI. */
static void aml_prt(struct aml *a)
{
	struct aml list = { .n = 0 }, entry;
	unsigned int s;
	u8 count = 0;

	aml_put(&list, &count, 1); /* patched below */
	for (s = 1; s < PCI_SLOTS; s++) {
		u32 addr = s << 16 | 0xFFFF;

		if (!slots[s])
			continue;
		entry.n = 0;
		aml_put(&entry, (const u8[]){ 4, 0x0C }, 2); /* 4: a DWord */
		aml_put(&entry, &addr, 4);
		aml_put(&entry, (const u8[]){ 0, 0, 0x0A, slots[s]->irq }, 4);
		aml_wrap(&list, (const u8[]){ 0x12 }, 1, &entry);
		count++;
	}
	list.b[0] = count;
	aml_put(a, (const u8[]){ 0x08, '_', 'P', 'R', 'T' }, 5);
	aml_wrap(a, (const u8[]){ 0x12 }, 1, &list);
}

static void acpi_dsdt(void)
{
	/* Name (_S5, Package (4) { 5, 5, 0, 0 }) */
	/* clang-format off */
	static const u8 s5[] = {
		0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04,
		0x0A, SLP_TYP_S5, 0x0A, SLP_TYP_S5, 0, 0,
	};
	/* Name (_HID, EisaId ("PNP0A03")), Name (_UID, 0) */
	static const u8 hid[] = {
		0x08, '_', 'H', 'I', 'D', 0x0C, 0x41, 0xD0, 0x0A, 0x03,
		0x08, '_', 'U', 'I', 'D', 0,
	};
	/* clang-format on */
	struct aml dsdt = { .n = 0 }, sb = { .n = 0 }, pci = { .n = 0 };
	u64 h = sizeof(struct acpi_header);

	aml_put(&pci, "PCI0", 4);
	aml_put(&pci, hid, sizeof(hid));
	aml_crs(&pci);
	aml_prt(&pci);
	aml_put(&sb, "\\_SB_", 5);
	aml_wrap(&sb, (const u8[]){ 0x5B, 0x82 }, 2, &pci); /* Device */
	aml_put(&dsdt, s5, sizeof(s5));
	aml_wrap(&dsdt, (const u8[]){ 0x10 }, 1, &sb); /* Scope */
	memcpy(guest_mem(ACPI_DSDT + h, dsdt.n), dsdt.b, dsdt.n);
	acpi_table(ACPI_DSDT, "DSDT", 2, h + dsdt.n);
}

static void acpi_tables(void)
{
	u8 *rsdp = guest_mem(ACPI_RSDP, 36), *facs = guest_mem(ACPI_FACS, 64);
	u64 h = sizeof(struct acpi_header);

	acpi_dsdt();
	memcpy(facs, "FACS", 4);
	put32(ACPI_FACS + 4, 64);
	facs[32] = 2; /* version */
	acpi_fadt();
	acpi_madt();
	put32(ACPI_RSDT + h, ACPI_FADT);
	put32(ACPI_RSDT + h + 4, ACPI_MADT);
	acpi_table(ACPI_RSDT, "RSDT", 1, h + 8);
	put64(ACPI_XSDT + h, ACPI_FADT);
	put64(ACPI_XSDT + h + 8, ACPI_MADT);
	acpi_table(ACPI_XSDT, "XSDT", 1, h + 16);

	memcpy(rsdp, "RSD PTR ", 8);
	memcpy(rsdp + 9, "LGUEST", 6);
	rsdp[15] = 2; /* ACPI 2.0 or later */
	put32(ACPI_RSDP + 16, ACPI_RSDT);
	put32(ACPI_RSDP + 20, 36);
	put64(ACPI_RSDP + 24, ACPI_XSDT);
	rsdp[8] = acpi_sum(rsdp, 20);
	rsdp[32] = acpi_sum(rsdp, 36);
}

/*
 * The PC guest's boot_params: a bzImage's own setup header, as the boot
 * protocol asks of a loader, or the fields a vmlinux reads; a memory map
 * with the PC's holes; hardware_subarch PC; and where ACPI is.
 */
static void kvm_boot_params(void)
{
	struct boot_params *bp = guest_mem(0, sizeof(*bp));
	struct boot_e820_entry *e = bp->e820_table;
	const u8 *head = kimg.head;

	memset(bp, 0, sizeof(*bp));
	if (kimg.kind == BZIMAGE) {
		size_t from = offsetof(struct boot_params, hdr);
		size_t to = 0x202 + head[0x201];

		memcpy((u8 *)bp + from, head + from, to - from);
	} else {
		bp->hdr.boot_flag = 0xAA55;
		memcpy(&bp->hdr.header, "HdrS", 4);
		bp->hdr.version = 0x20F;
		bp->hdr.kernel_alignment = 16 * MIB;
		bp->hdr.loadflags = LOADED_HIGH;
	}
	write_boot_params(bp);
	bp->hdr.type_of_loader = 0xFF;
	bp->hdr.loadflags &= ~KEEP_SEGMENTS;
	bp->hdr.hardware_subarch = X86_SUBARCH_PC;
	bp->acpi_rsdp_addr = ACPI_RSDP;

	*e++ = (struct boot_e820_entry){ 0, EBDA_GPA, 1 };
	*e++ = (struct boot_e820_entry){ EBDA_GPA, 0x400, 2 };
	*e++ = (struct boot_e820_entry){ ACPI_GPA, MIB - ACPI_GPA, 2 };
	if (ram_lo > MIB)
		*e++ = (struct boot_e820_entry){ MIB, ram_lo - MIB, 1 };
	if (ram_hi)
		*e++ = (struct boot_e820_entry){ HIGH_RAM, ram_hi, 1 };
	bp->e820_entries = e - bp->e820_table;
	acpi_tables();
}

/*
 * The vCPU as the boot protocol wants it: flat 32-bit protected mode for a
 * bzImage or an i386 ELF (%esi at boot_params), or long mode with the low
 * 4 GiB identity-mapped for an x86-64 ELF (%rsi at boot_params).
 */
static void kvm_boot_cpu(void)
{
	u64 *gdt = guest_mem(BOOT_GDT, 4 * 8);
	struct kvm_segment code = { .limit = 0xFFFFFFFF,
				    .selector = BOOT_CS,
				    .type = 11,
				    .present = 1,
				    .db = 1,
				    .s = 1,
				    .g = 1 };
	struct kvm_segment data = code;
	struct kvm_regs regs = { .rflags = 2, .rip = kimg.entry, .rsi = 0 };
	struct kvm_sregs sregs;

	kvm_ioctl(vcpu_fd, KVM_GET_SREGS, &sregs, "cannot read registers");
	data.selector = BOOT_DS;
	data.type = 3;
	gdt[0] = gdt[1] = 0;
	gdt[2] = 0x00CF9B000000FFFFULL; /* code: 4 GiB, 32-bit */
	gdt[3] = 0x00CF93000000FFFFULL; /* data: 4 GiB */
	sregs.gdt.base = BOOT_GDT;
	sregs.gdt.limit = 4 * 8 - 1;
	sregs.cr0 = 0x11; /* protected mode (PE, ET) */
	if (kimg.kind == ELF64) {
		u64 *pml4 = guest_mem(BOOT_PML4, PAGE);
		u64 *pdpt = guest_mem(BOOT_PDPT, PAGE);
		u64 *pd = guest_mem(BOOT_PD, 4 * PAGE);
		unsigned int i;

		pml4[0] = BOOT_PDPT | 3; /* present, writable */
		for (i = 0; i < 4; i++)
			pdpt[i] = (BOOT_PD + i * PAGE) | 3;
		for (i = 0; i < 4 * 512; i++)
			pd[i] = (u64)i << 21 | 0x83; /* 2 MiB pages */
		gdt[2] = 0x00AF9B000000FFFFULL;	     /* code: 64-bit */
		code.l = 1;
		code.db = 0;
		sregs.cr3 = BOOT_PML4;
		sregs.cr4 = 0x20;	 /* PAE */
		sregs.cr0 |= 0x80000000; /* paging */
		sregs.efer = 0x500;	 /* long mode, active */
	}
	sregs.cs = code;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	kvm_ioctl(vcpu_fd, KVM_SET_SREGS, &sregs, "cannot set registers");
	kvm_ioctl(vcpu_fd, KVM_SET_REGS, &regs, "cannot set registers");
}

/* The CPU KVM can give us, as it is, but for one bit. */
static void kvm_cpuid(void)
{
	struct kvm_cpuid2 *c = NULL;
	unsigned int n = 64;
	/*
	 * KVM's local APIC has the TSC-deadline timer, but the CPUID KVM
	 * offers leaves it out for the VMM to add where KVM says it can.  A
	 * kernel that sees it need not calibrate the APIC timer against the
	 * PIT at boot, a wait of a tenth of a second and more.
	 */
	u32 deadline = ioctl(kvm_fd, KVM_CHECK_EXTENSION,
			     KVM_CAP_TSC_DEADLINE_TIMER) > 0
			       ? 1U << 24
			       : 0;

	do {
		n *= 2;
		free(c);
		c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (!c)
			fatal("out of memory");
		c->nent = n;
	} while (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0 &&
		 errno == E2BIG && n < 4096);
	/*
	 * KVM offers its own leaves (0x40000000: "KVMKVMKVM", kvm-clock and
	 * the rest); a guest only looks for them with the hypervisor bit.
	 */
	for (n = 0; n < c->nent; n++)
		if (c->entries[n].function == 1)
			c->entries[n].ecx |= 1U << 31 | deadline;
	kvm_ioctl(vcpu_fd, KVM_SET_CPUID2, c, "cannot set the CPU's CPUID");
	free(c);
}

/*
 * A write to 0xCF8 only chooses the configuration register that the next
 * access to 0xCFC reaches.  Linux on an AMD CPU of the GART's families
 * (the nested host's is one) looks for an AGP bridge on every slot of
 * all 256 buses, twice, at boot: 16384 such writes, each followed by a
 * read of 0xCFC.  KVM can keep the writes in a ring ("coalesced PIO")
 * rather than come back to us for each; we replay them, in order, before
 * we handle the next exit, the first moment anything could see the
 * address.  The read still comes to us.  Where KVM cannot, every write
 * comes to us as before.
 */
static struct kvm_coalesced_mmio_ring *cf8_ring;
static u32 cf8_ring_max;

static void kvm_coalesce_cf8(long run_size)
{
	struct kvm_coalesced_mmio_zone z = { .addr = PCI_CONFIG_ADDR,
					     .size = 4,
					     .pio = 1 };
	long off = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO);

	if (off <= 0 || (off + 1) * (long)PAGE > run_size ||
	    ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_PIO) <= 0 ||
	    ioctl(vm_fd, KVM_REGISTER_COALESCED_MMIO, &z))
		return;
	cf8_ring = (void *)((u8 *)kvm_run + off * PAGE);
	cf8_ring_max = (PAGE - sizeof(*cf8_ring)) /
		       sizeof(cf8_ring->coalesced_mmio[0]);
}

static void kvm_replay_cf8(void)
{
	struct kvm_coalesced_mmio_ring *r = cf8_ring;

	if (!r)
		return;
	while (r->first != __atomic_load_n(&r->last, __ATOMIC_ACQUIRE)) {
		struct kvm_coalesced_mmio *m = &r->coalesced_mmio[r->first];
		u32 val = 0;

		memcpy(&val, m->data, m->len < 4 ? m->len : 4);
		port_io(m->phys_addr, m->len, true, &val);
		__atomic_store_n(&r->first, (r->first + 1) % cf8_ring_max,
				 __ATOMIC_RELEASE);
	}
}

static void kvm_memory(unsigned int slot, u64 gpa, u64 len, void *at)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = len,
		.userspace_addr = (unsigned long)at,
	};

	kvm_ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &r,
		  "cannot give the guest its memory");
}

static void kvm_initialize(void)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	u64 idmap = KVM_IDMAP_GPA;
	unsigned int s;
	long size;

	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm_fd < 0)
		fatal_errno("KVM: cannot create a virtual machine");
	/* VMX needs these pages of guest-physical space; others ignore it. */
	ioctl(vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_GPA);
	ioctl(vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap);
	/*
	 * Memory before the interrupt controllers: here a memory slot added
	 * after KVM_CREATE_IRQCHIP costs a wait of some 6 ms in the host
	 * kernel (from 16 MiB to 1 GiB alike), most of our start-up; before
	 * it, 0.1 ms.
	 */
	kvm_memory(0, 0, ram_lo, gbase);
	if (ram_hi)
		kvm_memory(1, HIGH_RAM, ram_hi, gbase + HIGH_RAM_OFF);
	kvm_ioctl(vm_fd, KVM_CREATE_IRQCHIP, NULL,
		  "cannot create the interrupt controllers");
	kvm_ioctl(vm_fd, KVM_CREATE_PIT2, &pit, "cannot create the timer");

	vcpu_fd = ioctl(vm_fd, KVM_CREATE_VCPU, 0);
	if (vcpu_fd < 0)
		fatal_errno("KVM: cannot create a virtual CPU");
	size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < (long)sizeof(*kvm_run))
		fatal_errno("KVM: cannot size the vCPU's shared page");
	kvm_run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd,
		       0);
	if (kvm_run == MAP_FAILED)
		fatal_errno("KVM: cannot map the vCPU's shared page");
	kvm_coalesce_cf8(size);
	kvm_cpuid();
	kvm_boot_params();
	kvm_boot_cpu();

	kvm_line(UART_LINE, false);
	for (s = 1; s < PCI_SLOTS; s++)
		if (slots[s])
			kvm_line(slots[s]->irq, true);
	hv_interrupt = kvm_interrupt;
	hv_queues = kvm_queues;
	hv_ports = pc_ports;
	pci_unused_zero = true;
	guest_ip = kvm_guest_ip;
	ip_reg = "rip";
	task_start(&uart.task);
	task_init(&resampler, kvm_resample, NULL, "interrupt resampler");
	task_start(&resampler);
	verbose("KVM: %llu MiB low, %llu MiB high, entry %#llx (%s)",
		ram_lo / MIB, ram_hi / MIB, kimg.entry,
		kimg.kind == ELF64 ? "long mode" : "protected mode");
}

/* KVM could not go on: say where the guest was, and what it ran. */
static void __attribute__((noreturn, format(printf, 1, 2)))
kvm_died(const char *fmt, ...)
{
	struct kvm_translation tr = { 0 };
	struct kvm_sregs sregs;
	char why[256], bytes[64] = "";
	u64 rip = 0;
	u8 *insn;
	va_list ap;
	int i;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (kvm_guest_ip(&rip) && !ioctl(vcpu_fd, KVM_GET_SREGS, &sregs)) {
		tr.linear_address = sregs.cs.base + rip;
		if (!ioctl(vcpu_fd, KVM_TRANSLATE, &tr) && tr.valid &&
		    (insn = guest_mem(tr.physical_address, 8)))
			for (i = 0; i < 8; i++)
				snprintf(bytes + 3 * i, 4, " %02x", insn[i]);
	}
	fatal("KVM: %s at guest rip %#llx:%s", why, rip,
	      bytes[0] ? bytes : " (instruction not readable)");
}

/* An "in" or "out" (perhaps a string of them) the guest did. */
static void kvm_io(void)
{
	u8 *data = (u8 *)kvm_run + kvm_run->io.data_offset;
	unsigned int i, size = kvm_run->io.size;
	bool out = kvm_run->io.direction == KVM_EXIT_IO_OUT;

	for (i = 0; i < kvm_run->io.count; i++, data += size) {
		u32 val = 0;

		memcpy(&val, data, size);
		/*
		 * A PC ignores what it cannot write; so do we, saying so but
		 * for probes of functions that are not there.
		 */
		if (!port_io(kvm_run->io.port, size, out, &val) &&
		    (verbose_on || pci_present()))
			say_refused(kvm_run->io.port, size, val, "ignored");
		if (!out)
			memcpy(data, &val, size);
	}
}

/* A read or write of device memory, or of memory where nothing is. */
static void kvm_mmio(void)
{
	u64 gpa = kvm_run->mmio.phys_addr;
	unsigned int len = kvm_run->mmio.len;
	bool write = kvm_run->mmio.is_write;
	u32 val = 0;

	if (write)
		memcpy(&val, kvm_run->mmio.data, len < 4 ? len : 4);
	if (!mmio_access(gpa, len, write, &val)) {
		verbose("guest %s %u bytes at %#llx, where nothing is",
			write ? "wrote" : "read", len, gpa);
		val = 0xFFFFFFFF;
	}
	if (!write) {
		memset(kvm_run->mmio.data, 0xFF, sizeof(kvm_run->mmio.data));
		memcpy(kvm_run->mmio.data, &val, len < 4 ? len : 4);
	}
}

static void __attribute__((noreturn)) kvm_run_guest(void)
{
	for (;;) {
		int ret = ioctl(vcpu_fd, KVM_RUN, 0), err = errno;

		kvm_replay_cf8();
		if (ret < 0) {
			if (err == EINTR || err == EAGAIN)
				continue;
			errno = err;
			fatal_errno("KVM: running the guest");
		}
		switch (kvm_run->exit_reason) {
		case KVM_EXIT_IO:
			kvm_io();
			break;
		case KVM_EXIT_MMIO:
			kvm_mmio();
			break;
		case KVM_EXIT_INTR:
			break;
		case KVM_EXIT_SHUTDOWN:
			/* A triple fault: a PC resets. */
			verbose("the guest's CPU shut down: rebooting");
			reboot_guest();
		case KVM_EXIT_SYSTEM_EVENT:
			if (kvm_run->system_event.type ==
			    KVM_SYSTEM_EVENT_SHUTDOWN)
				power_off();
			reboot_guest();
		case KVM_EXIT_INTERNAL_ERROR:
			kvm_died("internal error %u%s",
				 kvm_run->internal.suberror,
				 kvm_run->internal.suberror ==
						 KVM_INTERNAL_ERROR_EMULATION
					 ? " (emulation failure)"
					 : "");
		case KVM_EXIT_FAIL_ENTRY:
			kvm_died("cannot enter the guest (reason %#llx)",
				 (u64)kvm_run->fail_entry
					 .hardware_entry_failure_reason);
		default:
			kvm_died("unexpected exit %u", kvm_run->exit_reason);
		}
	}
}

/*
 * Setting up and letting go.
 *
 * main() checks everything on the command line first, then builds the
 * guest: memory, devices, kernel, boot_params.  It puts the terminal in
 * raw mode, tells the host about the guest, gives up root if asked to, and
 * runs the guest until it dies or reboots.
 */
static void open_block_files(void)
{
	unsigned int i;

	for (i = 0; i < opt.ndev; i++) {
		struct dev_arg *a = &opt.dev[i];
		struct stat st;

		if (a->kind != ARG_BLOCK)
			continue;
		a->fd = open(a->text, O_RDWR | O_CLOEXEC);
		if (a->fd < 0)
			fatal("--block=%s: cannot open it read-write: %s",
			      a->text, strerror(errno));
		if (fstat(a->fd, &st))
			fatal("--block=%s: %s", a->text, strerror(errno));
		if (S_ISREG(st.st_mode))
			a->bytes = st.st_size;
		else if (!S_ISBLK(st.st_mode) ||
			 ioctl(a->fd, BLKGETSIZE64, &a->bytes))
			fatal("--block=%s: not a file or a block device",
			      a->text);
	}
}

static void check_chroot(void)
{
	struct stat st;

	if (stat(opt.chroot, &st))
		fatal("--chroot=%s: %s", opt.chroot, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		fatal("--chroot=%s: not a directory", opt.chroot);
}

static void setup_devices(void)
{
	unsigned int i;

	pci_init_bus();
	setup_console();
	for (i = 0; i < opt.ndev; i++) {
		switch (opt.dev[i].kind) {
		case ARG_NET:
			setup_net(&opt.dev[i]);
			break;
		case ARG_BLOCK:
			setup_block(&opt.dev[i]);
			break;
		case ARG_RNG:
			setup_rng();
			break;
		}
	}
}

/*
 * --chroot, then --username: after set-up, before the guest runs.  The
 * user's groups were looked up before the chroot: the directory's own
 * /etc/group (if any) is not the system's.
 */
static void drop_privileges(void)
{
	if (opt.chroot) {
		if (chroot(opt.chroot) || chdir("/"))
			fatal_errno("cannot chroot to '%s'", opt.chroot);
		verbose("chrooted to %s", opt.chroot);
	}
	if (opt.user) {
		if (setgroups(opt.ngroups, opt.groups))
			fatal_errno("cannot set the groups of '%s'", opt.user);
		if (setresgid(opt.gid, opt.gid, opt.gid))
			fatal_errno("cannot become group %u", opt.gid);
		if (setresuid(opt.uid, opt.uid, opt.uid))
			fatal_errno("cannot become user '%s'", opt.user);
		verbose("running as %s (uid %u, gid %u)", opt.user, opt.uid,
			opt.gid);
	}
}

/*
 * /dev/lguest if it opens, unless told --kvm; else /dev/kvm, unless told
 * --lguest.  Either way, say plainly what could not be opened.
 */
static void choose_hypervisor(void)
{
	int lg_err = 0;

	if (opt.hv != HV_KVM) {
		lguest_fd = open("/dev/lguest", O_RDWR | O_CLOEXEC);
		if (lguest_fd >= 0) {
			opt.hv = HV_LGUEST;
			return;
		}
		lg_err = errno;
		if (opt.hv == HV_LGUEST)
			fatal("cannot open /dev/lguest: %s (Linux dropped the "
			      "lguest host in 4.14: run on a 4.13 or older "
			      "host kernel with the lg module loaded, or use "
			      "--kvm)",
			      strerror(lg_err));
	}
	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd >= 0) {
		opt.hv = HV_KVM;
		return;
	}
	if (opt.hv == HV_KVM)
		fatal("cannot open /dev/kvm: %s", strerror(errno));
	fatal("cannot open /dev/lguest (%s) or /dev/kvm (%s): this machine "
	      "can run no guest",
	      strerror(lg_err), strerror(errno));
}

/*
 * The initrd goes page-aligned at the top of low RAM; under KVM, below
 * 2 GiB too, where any kernel's initrd_addr_max allows it.
 */
static u64 initrd_top(void)
{
	if (opt.hv == HV_KVM && ram_lo > 2048 * MIB)
		return 2048 * MIB;
	return ram_lo;
}

#ifdef LGUEST_FUZZ
#define main lguest_main /* the fuzzer has its own */
#endif

int main(int argc, char *argv[])
{
	int initrd_fd = -1;
	u64 initrd_bytes = 0;

	launcher_pid = getpid();
	parse_args(argc, argv);
	probe_kernel();
	if (opt.initrd)
		initrd_fd = open_input("initrd", opt.initrd, &initrd_bytes);
	open_block_files();
	if (opt.chroot)
		check_chroot();
	choose_hypervisor();
	if (opt.hv == HV_LGUEST)
		lg_check(initrd_bytes);
	else
		kvm_check(initrd_bytes);
	map_guest_memory();
	/* To run ourselves again on reboot, even from inside a chroot. */
	exe_fd = open("/proc/self/exe", O_PATH | O_CLOEXEC);

	if (opt.hv == HV_KVM)
		uart_init();
	setup_devices();
	load_guest(initrd_fd, initrd_bytes);

	atexit(shutdown_launcher);
	install_signals();
	raw_terminal();
	if (opt.hv == HV_LGUEST) {
		lg_boot_params();
		lg_initialize();
		drop_privileges();
		lg_run();
	}
	kvm_initialize();
	drop_privileges();
	kvm_run_guest();
}
