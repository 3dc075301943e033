// SPDX-License-Identifier: GPL-2.0
/*
 * lgstub.c: a stand-in for /dev/lguest, loaded into the launcher with
 * LD_PRELOAD.
 *
 * Linux lost lguest in 4.14, so no kernel we can run has /dev/lguest.  This
 * library takes its place: it catches the launcher's open() of the device
 * and every read and write on the descriptor it hands back, and answers as
 * the 4.x kernel's lguest module did (drivers/lguest/lguest_user.c and
 * core.c): the same requests, return values and errors.  Every other file
 * descriptor goes straight through to the C library.
 *
 * The guest is not a kernel but a scripted driver (guest.c and the
 * scenarios), run as a coroutine: when the launcher reads the device to run
 * the guest, we switch to the scenario; when the scenario executes an
 * instruction that would trap to the launcher on real lguest, it switches
 * back and the read returns the trap.
 *
 * The launcher serves each virtqueue from a task of its own, clone()d with
 * its memory but not as a thread: those tasks share the main task's
 * thread-local storage, so the path they take through here (raising an
 * interrupt) touches no lock and no allocator, only atomics and system
 * calls.  Everything else happens in the main task.
 */

/*
 * We define read, pread, pread64 and the rest under their own names, so
 * the headers must not rename them (large-file and time64 builds do) or
 * wrap them (fortify).
 */
#undef _FILE_OFFSET_BITS
#undef _TIME_BITS
#undef _FORTIFY_SOURCE
#define _GNU_SOURCE

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "lgstub.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define __SANITIZE_ADDRESS__ 1
#endif
#endif
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/lsan_interface.h>
#endif

#ifndef ERESTART
#define ERESTART 85
#endif

/* The requests, from the 4.x kernel's include/linux/lguest_launcher.h. */
enum lguest_req {
	LHREQ_INITIALIZE = 0,	/* + base, pfn_limit, start, device_limit */
	LHREQ_IRQ = 2,		/* + irq */
	LHREQ_GETREG = 5,	/* + pt_regs offset; the next read gives it */
	LHREQ_SETREG = 6,	/* + offset in pt_regs, value */
	LHREQ_TRAP = 7,		/* + trap number to deliver to the guest */
};

/* The scenario's stack: generous, since it formats messages. */
#define GUEST_STACK_SIZE (1024 * 1024)

/*
 * The C library's own functions, found before main() runs, so that a
 * service task never has to look one up (dlsym takes locks).
 */
static struct {
	int (*open)(const char *, int, ...);
	int (*open64)(const char *, int, ...);
	int (*openat)(int, const char *, int, ...);
	int (*openat64)(int, const char *, int, ...);
	int (*open_2)(const char *, int);
	int (*open64_2)(const char *, int);
	int (*openat_2)(int, const char *, int);
	int (*openat64_2)(int, const char *, int);
	int (*close)(int);
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*read_chk)(int, void *, size_t, size_t);
	ssize_t (*write)(int, const void *, size_t);
	ssize_t (*pread)(int, void *, size_t, off_t);
	ssize_t (*pread64)(int, void *, size_t, off64_t);
	ssize_t (*pread_chk)(int, void *, size_t, off_t, size_t);
	ssize_t (*pread64_chk)(int, void *, size_t, off64_t, size_t);
	ssize_t (*pwrite)(int, const void *, size_t, off_t);
	ssize_t (*pwrite64)(int, const void *, size_t, off64_t);
	void *(*mmap)(void *, size_t, int, int, int, off_t);
	void *(*mmap64)(void *, size_t, int, int, int, off64_t);
	int (*fexecve)(int, char *const[], char *const[]);
	int (*execv)(const char *, char *const[]);
	/*
	 * AddressSanitizer's swapcontext() warns on stderr, and clears the
	 * shadow of the stack it switches to, live frames and all; we tell
	 * it of each switch ourselves (switch_context()), and call the C
	 * library's.  It returns a second time, as setjmp() does.
	 */
	int (*swapcontext)(ucontext_t *, const ucontext_t *)
#if defined(__has_attribute) && __has_attribute(__indirect_return__)
		__attribute__((__indirect_return__))
#endif
		;
} libc;

static void *libc_sym(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

__attribute__((constructor)) static void find_libc(void)
{
	libc.open = libc_sym("open");
	libc.open64 = libc_sym("open64");
	libc.openat = libc_sym("openat");
	libc.openat64 = libc_sym("openat64");
	libc.open_2 = libc_sym("__open_2");
	libc.open64_2 = libc_sym("__open64_2");
	libc.openat_2 = libc_sym("__openat_2");
	libc.openat64_2 = libc_sym("__openat64_2");
	libc.close = libc_sym("close");
	libc.read = libc_sym("read");
	libc.read_chk = libc_sym("__read_chk");
	libc.write = libc_sym("write");
	libc.pread = libc_sym("pread");
	libc.pread64 = libc_sym("pread64");
	libc.pread_chk = libc_sym("__pread_chk");
	libc.pread64_chk = libc_sym("__pread64_chk");
	libc.pwrite = libc_sym("pwrite");
	libc.pwrite64 = libc_sym("pwrite64");
	libc.swapcontext = libc_sym("swapcontext");
	libc.mmap = libc_sym("mmap");
	libc.mmap64 = libc_sym("mmap64");
	libc.fexecve = libc_sym("fexecve");
	libc.execv = libc_sym("execv");
}

/*
 * Should anything call us before our constructor has run (another
 * library's constructor, say), find the functions then.
 */
#define LIBC(fn) (libc.fn ? libc.fn : (find_libc(), libc.fn))

/*
 * The descriptors open on /dev/lguest, stored as fd + 1 so that zero means
 * a free slot.  Read lock-free by every task; changed by open and close.
 */
#define MAX_LGUEST_FILES 8

struct lguest_file {
	int fd_plus_1;
	int accmode;	/* O_RDONLY, O_WRONLY or O_RDWR */
};

static struct lguest_file lguest_files[MAX_LGUEST_FILES];

static struct lguest_file *lguest_file(int fd)
{
	unsigned int i;

	if (fd < 0)
		return NULL;
	for (i = 0; i < MAX_LGUEST_FILES; i++) {
		if (__atomic_load_n(&lguest_files[i].fd_plus_1,
				    __ATOMIC_ACQUIRE) == fd + 1)
			return &lguest_files[i];
	}
	return NULL;
}

/* Where the guest is in its life. */
enum guest_state {
	GUEST_READY,	/* initialized; the next read starts it */
	GUEST_RUNNING,	/* stopped at a trap, or not started */
	GUEST_HALTED,	/* waiting for an interrupt */
	GUEST_DEAD,
};

/*
 * The one guest (the kernel's struct lguest).  A launcher makes one guest
 * per process, so we keep one.
 */
static struct lguest {
	struct lguest_file *file;	/* the open file it belongs to */
	pid_t tsk;			/* only the initializing task reads */
	enum guest_state state;
	int reg_read;			/* offset a GETREG asked for, or -1 */
	u32 irqs;			/* raised, not yet acknowledged */
	int wake_fd;			/* an eventfd: wakes a halted guest */
	unsigned int halt_line;
	u64 halt_until_ms;
	bool restart;			/* died asking to be rebooted */
	char dead[1024];		/* why it died */
	ucontext_t host_ctx, guest_ctx;
	struct stack {
		const void *bottom;
		size_t size;
	} host_stack, guest_stack;
} lg = { .reg_read = -1, .wake_fd = -1 };

struct lg_cpu lg_cpu;

static ssize_t fail(int err)
{
	errno = err;
	return -1;
}

static pid_t current_task(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static bool guest_dead(void)
{
	return __atomic_load_n(&lg.state, __ATOMIC_ACQUIRE) == GUEST_DEAD;
}

static u64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000 + (u64)ts.tv_nsec / 1000000;
}

/*
 * Launcher mistakes the real host would not notice.  Kept for the guest to
 * report as a failed check, and said on stderr at once.
 */
static char complaint[512];

void host_complain(const char *fmt, ...)
{
	char msg[sizeof(complaint)];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	dprintf(2, "lgstub: %s\n", msg);
	if (n > 0 && !complaint[0])
		memcpy(complaint, msg, sizeof(msg));
}

const char *host_complaint(void)
{
	static char taken[sizeof(complaint)];

	if (!complaint[0])
		return NULL;
	memcpy(taken, complaint, sizeof(taken));
	complaint[0] = '\0';
	return taken;
}

/*
 * The coroutine.  switch_context() is the only place we change stacks:
 * from the launcher's read() to the guest (to_guest) or back.  A guest
 * that will never run again makes a final switch.  AddressSanitizer is
 * told each time which stack it is going to, and then where it came from.
 */
static void switch_context(bool to_guest, bool final)
{
	ucontext_t *from = to_guest ? &lg.host_ctx : &lg.guest_ctx;
	ucontext_t *to = to_guest ? &lg.guest_ctx : &lg.host_ctx;
	struct stack *dest = to_guest ? &lg.guest_stack : &lg.host_stack;
#ifdef __SANITIZE_ADDRESS__
	void *fake_stack = NULL;

	__sanitizer_start_switch_fiber(final ? NULL : &fake_stack,
				       dest->bottom, dest->size);
#else
	(void)final;
#endif
	if (LIBC(swapcontext)(from, to) < 0)
		abort();
#ifdef __SANITIZE_ADDRESS__
	__sanitizer_finish_switch_fiber(fake_stack, &dest->bottom, &dest->size);
#else
	(void)dest;
#endif
}

static void guest_entry(void)
{
#ifdef __SANITIZE_ADDRESS__
	__sanitizer_finish_switch_fiber(NULL, &lg.host_stack.bottom,
					&lg.host_stack.size);
#endif
	guest_main();
}

static void start_guest(void)
{
	size_t size = GUEST_STACK_SIZE + PAGE_SIZE;
	u8 *stack;

	stack = mmap(NULL, size, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED)
		abort();
	/* A guard page, so an overflow faults instead of corrupting. */
	mprotect(stack, PAGE_SIZE, PROT_NONE);
	lg.guest_stack.bottom = stack + PAGE_SIZE;
	lg.guest_stack.size = GUEST_STACK_SIZE;
#ifdef __SANITIZE_ADDRESS__
	/*
	 * Whatever was here before may have left its shadow poisoned.  And
	 * what the scenario allocates is often held by its stack alone when
	 * the launcher exits: LeakSanitizer is to look there, as it looks
	 * at the stacks of threads.
	 */
	ASAN_UNPOISON_MEMORY_REGION(stack + PAGE_SIZE, GUEST_STACK_SIZE);
	__lsan_register_root_region(stack + PAGE_SIZE, GUEST_STACK_SIZE);
#endif

	getcontext(&lg.guest_ctx);
	lg.guest_ctx.uc_stack.ss_sp = stack + PAGE_SIZE;
	lg.guest_ctx.uc_stack.ss_size = GUEST_STACK_SIZE;
	lg.guest_ctx.uc_link = NULL;
	makecontext(&lg.guest_ctx, guest_entry, 0);
}

/* Run the guest until it traps, halts or dies. */
static void enter_guest(void)
{
	if (lg.state == GUEST_READY)
		start_guest();
	lg.state = GUEST_RUNNING;
	switch_context(true, false);
}

/* The guest's side: back to the launcher's read(). */
static void exit_guest(void)
{
	switch_context(false, false);
}

int host_trap(u8 trap, const u8 insn[7], u32 addr)
{
	lg_cpu.pending.trap = trap;
	memcpy(lg_cpu.pending.insn, insn, sizeof(lg_cpu.pending.insn));
	lg_cpu.pending.addr = addr;
	lg_cpu.handed_back = -1;
	exit_guest();
	return lg_cpu.handed_back;
}

/*
 * The guest halts (LHCALL_HALT on real lguest): the host sleeps in the
 * launcher's read() until an interrupt comes for it.
 */
void host_halt(unsigned int line, unsigned int timeout_ms)
{
	lg.halt_line = line;
	lg.halt_until_ms = now_ms() + timeout_ms;
	lg.state = GUEST_HALTED;
	exit_guest();
}

bool host_irq_ack(unsigned int line)
{
	u32 bit = 1U << line;

	return __atomic_fetch_and(&lg.irqs, ~bit, __ATOMIC_ACQ_REL) & bit;
}

static void __noreturn die(void)
{
	__atomic_store_n(&lg.state, GUEST_DEAD, __ATOMIC_RELEASE);
	switch_context(false, true);
	/* Nobody resumes a dead guest. */
	abort();
}

void host_die(const char *reason)
{
	snprintf(lg.dead, sizeof(lg.dead), "%s", reason);
	die();
}

/* The guest's LHCALL_SHUTDOWN with LGUEST_SHUTDOWN_RESTART. */
void host_reboot(void)
{
	lg.restart = true;
	die();
}

/*
 * The registers the launcher may name (the kernel's lguest_arch_regptr):
 * the general registers, EIP and ESP both ways; the segments and EFLAGS
 * only to read.  Returns the pt_regs word, or -1 for "no such register".
 */
static int regptr(unsigned long off, bool any)
{
	switch (off) {
	case PT_EBX: case PT_ECX: case PT_EDX: case PT_ESI:
	case PT_EDI: case PT_EBP: case PT_EAX: case PT_EIP:
	case PT_ESP:
		return (int)(off / 4);
	case PT_DS: case PT_ES: case PT_FS: case PT_GS:
	case PT_CS: case PT_EFLAGS: case PT_SS:
		return any ? (int)(off / 4) : -1;
	default:
		return -1;
	}
}

/*
 * The boot count rides in the environment, which the launcher hands on
 * when it re-executes itself to reboot the guest.
 */
static unsigned int count_boot(void)
{
	const char *s = getenv("LGSTUB_BOOT");
	unsigned int boot = (s ? (unsigned int)atoi(s) : 0) + 1;
	char buf[16];

	snprintf(buf, sizeof(buf), "%u", boot);
	setenv("LGSTUB_BOOT", buf, 1);
	return boot;
}

/*
 * LHREQ_INITIALIZE: base (the launcher's address of guest-physical 0),
 * pfn_limit (pages of RAM), start (the first EIP) and device_limit (the
 * end of the MMIO window, in pages).  The guest starts in ring 1 with
 * interrupts on, every general register zero (so %esi points at
 * boot_params, at guest-physical 0).
 */
static ssize_t initialize(struct lguest_file *f, const unsigned long *args)
{
	if (lg.file == f)
		return fail(EBUSY);
	if (lg.file) {
		dprintf(2, "lgstub: only one guest per process\n");
		return fail(ENOMEM);
	}

	lg_cpu.info.base = (void *)args[0];
	lg_cpu.info.pfn_limit = args[1];
	lg_cpu.info.start = args[2];
	lg_cpu.info.device_limit = args[3];
	lg_cpu.info.boot = count_boot();

	memset(lg_cpu.regs, 0, sizeof(lg_cpu.regs));
	lg_cpu.regs[PT_CS / 4] = GUEST_CS;
	lg_cpu.regs[PT_DS / 4] = GUEST_DS;
	lg_cpu.regs[PT_ES / 4] = GUEST_DS;
	lg_cpu.regs[PT_SS / 4] = GUEST_DS;
	lg_cpu.regs[PT_EFLAGS / 4] = GUEST_EFLAGS;
	lg_cpu.regs[PT_EIP / 4] = (u32)args[2];

	lg.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (lg.wake_fd < 0)
		return fail(ENOMEM);
	lg.tsk = current_task();
	lg.state = GUEST_READY;
	__atomic_store_n(&lg.file, f, __ATOMIC_RELEASE);
	return 4 * sizeof(unsigned long);
}

/*
 * LHREQ_IRQ, from any task: mark the line and kick the guest in case it
 * is halted.  Atomics and one system call, nothing else.
 */
static ssize_t send_irq(const unsigned long *args)
{
	u64 one = 1;

	if (args[0] >= LGUEST_IRQS)
		return fail(EINVAL);
	__atomic_fetch_or(&lg.irqs, 1U << args[0], __ATOMIC_ACQ_REL);
	syscall(SYS_write, lg.wake_fd, &one, sizeof(one));
	return 0;
}

/* LHREQ_GETREG: remember which; the next read() returns it. */
static ssize_t getreg_setup(const unsigned long *args)
{
	int reg = regptr(args[0], true);

	if (reg < 0)
		return fail(ENOENT);
	lg.reg_read = reg;
	return 2 * sizeof(unsigned long);
}

static ssize_t setreg(const unsigned long *args)
{
	int reg = regptr(args[0], false);

	if (reg < 0)
		return fail(ENOENT);
	/* An i386 host could not have seen the upper half; we can. */
	if (args[1] != (u32)args[1])
		host_complain("SETREG %lu to %#lx: wider than a 32-bit "
			      "register", args[0], args[1]);
	lg_cpu.regs[reg] = (u32)args[1];
	return 3 * sizeof(unsigned long);
}

/*
 * LHREQ_TRAP: the launcher could not emulate the instruction and hands the
 * fault back.  The kernel pushes a trap frame for the guest's handler; our
 * guest just learns which trap it got.  Every vector of a Linux guest has
 * a handler, so only numbers past the IDT are refused.
 */
static ssize_t trap(const unsigned long *args)
{
	if (args[0] >= 256)
		return fail(EINVAL);
	if (lg.state != GUEST_RUNNING || !lg_cpu.pending.trap)
		host_complain("LHREQ_TRAP %lu while the guest was not "
			      "stopped at a trap", args[0]);
	else if (lg_cpu.handed_back >= 0)
		host_complain("LHREQ_TRAP %lu after LHREQ_TRAP %d for the "
			      "same instruction", args[0], lg_cpu.handed_back);
	lg_cpu.handed_back = (int)args[0];
	return 0;
}

/* How many words each request carries, the request word included. */
static unsigned int request_words(unsigned long req)
{
	switch (req) {
	case LHREQ_INITIALIZE:
		return 5;
	case LHREQ_SETREG:
		return 3;
	default:
		return 2;
	}
}

/*
 * write() on /dev/lguest.  Like the kernel we do not look at len; unlike
 * it we say so when it is shorter than the request (except for IRQ, which
 * comes from the service tasks, where we may not format messages).
 */
static ssize_t lguest_write(struct lguest_file *f, const void *buf,
			    size_t len, unsigned int cpu)
{
	const unsigned long *in = buf;
	unsigned long req = in[0];

	if (f->accmode == O_RDONLY)
		return fail(EBADF);
	if (req != LHREQ_IRQ && len < request_words(req) * sizeof(long))
		host_complain("request %lu written with %zu bytes, not %zu",
			      req, len, request_words(req) * sizeof(long));

	if (req != LHREQ_INITIALIZE) {
		if (__atomic_load_n(&lg.file, __ATOMIC_ACQUIRE) != f ||
		    cpu != 0)
			return fail(EINVAL);
		if (guest_dead())
			return fail(ENOENT);
	}

	switch (req) {
	case LHREQ_INITIALIZE:
		return initialize(f, in + 1);
	case LHREQ_IRQ:
		return send_irq(in + 1);
	case LHREQ_GETREG:
		return getreg_setup(in + 1);
	case LHREQ_SETREG:
		return setreg(in + 1);
	case LHREQ_TRAP:
		return trap(in + 1);
	default:
		return fail(EINVAL);
	}
}

/*
 * The guest is halted: sleep until its interrupt line is raised or its
 * timeout passes (true: run it again), or a signal arrives (false: the
 * read fails with EINTR, as the kernel's -ERESTARTSYS does for a launcher
 * whose handlers do not ask for restarts).
 */
static bool wait_for_interrupt(void)
{
	u32 bit = 1U << lg.halt_line;
	struct pollfd p = { .fd = lg.wake_fd, .events = POLLIN };
	u64 count;

	for (;;) {
		u64 now = now_ms();

		if (__atomic_load_n(&lg.irqs, __ATOMIC_ACQUIRE) & bit)
			return true;
		if (now >= lg.halt_until_ms)
			return true;
		if (poll(&p, 1, (int)(lg.halt_until_ms - now)) < 0 &&
		    errno == EINTR)
			return false;
		if (p.revents & POLLIN)
			LIBC(read)(lg.wake_fd, &count, sizeof(count));
	}
}

/*
 * Run the guest until the launcher has something to do: a trap to report
 * (the 12-byte struct lguest_pending, whatever size was asked for, as the
 * kernel did), or a death.  A guest that halts is waited for here.
 */
static ssize_t run_guest(void *buf, size_t size)
{
	for (;;) {
		if (lg.state == GUEST_HALTED && !wait_for_interrupt())
			return fail(EINTR);

		enter_guest();
		if (guest_dead())
			return fail(lg.restart ? ERESTART : ENOENT);
		if (lg_cpu.pending.trap)
			break;
	}
	if (size < sizeof(lg_cpu.pending))
		host_complain("read of %zu bytes, but a trap is %zu", size,
			      sizeof(lg_cpu.pending));
	memcpy(buf, &lg_cpu.pending, sizeof(lg_cpu.pending));
	return sizeof(lg_cpu.pending);
}

/* Once dead, a read says why (with its NUL), or fails for a reboot. */
static ssize_t why_dead(void *buf, size_t size)
{
	size_t len = strlen(lg.dead) + 1;

	if (lg.restart)
		return fail(ERESTART);
	if (len > size)
		len = size;
	memcpy(buf, lg.dead, len);
	return (ssize_t)len;
}

/* The register an LHREQ_GETREG asked for: always four bytes. */
static ssize_t read_register(void *buf, size_t size)
{
	u32 value = lg_cpu.regs[lg.reg_read];

	if (size < sizeof(value))
		host_complain("read of %zu bytes for a register", size);
	memcpy(buf, &value, sizeof(value));
	lg.reg_read = -1;
	return sizeof(value);
}

static ssize_t lguest_read(struct lguest_file *f, void *buf, size_t size,
			   unsigned int cpu)
{
	if (f->accmode == O_WRONLY)
		return fail(EBADF);
	if (lg.file != f || cpu != 0)
		return fail(EINVAL);
	if (current_task() != lg.tsk)
		return fail(EPERM);
	if (guest_dead())
		return why_dead(buf, size);
	if (lg.reg_read >= 0)
		return read_register(buf, size);

	lg_cpu.pending.trap = 0;
	return run_guest(buf, size);
}

/*
 * Opening /dev/lguest: a descriptor of /dev/null stands in, so the number
 * is real and closing it works.  LGSTUB_OPEN_ERRNO=<n> makes it fail.
 */
static bool is_lguest(const char *path)
{
	return path && strcmp(path, "/dev/lguest") == 0;
}

static int lguest_open(int flags)
{
	const char *err = getenv("LGSTUB_OPEN_ERRNO");
	int accmode = flags & O_ACCMODE;
	unsigned int i;
	int fd;

	if (err && *err)
		return (int)fail(atoi(err));

	fd = LIBC(open)("/dev/null", accmode | (flags & O_CLOEXEC));
	if (fd < 0)
		return fd;
	for (i = 0; i < MAX_LGUEST_FILES; i++) {
		struct lguest_file *f = &lguest_files[i];

		if (f->fd_plus_1)
			continue;
		f->accmode = accmode;
		__atomic_store_n(&f->fd_plus_1, fd + 1, __ATOMIC_RELEASE);
		return fd;
	}
	LIBC(close)(fd);
	return (int)fail(EMFILE);
}

/*
 * Closing it: the kernel would free the guest.  Ours stays dead; a launcher
 * only closes the device to exit or to re-execute itself.
 */
static void lguest_release(struct lguest_file *f)
{
	if (lg.file == f) {
		__atomic_store_n(&lg.state, GUEST_DEAD, __ATOMIC_RELEASE);
		LIBC(close)(lg.wake_fd);
		lg.wake_fd = -1;
	}
	__atomic_store_n(&f->fd_plus_1, 0, __ATOMIC_RELEASE);
}

/* The interposers.  Anything not /dev/lguest passes straight through. */

static mode_t open_mode(int flags, va_list ap)
{
	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
		return va_arg(ap, mode_t);
	return 0;
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	if (is_lguest(path))
		return lguest_open(flags);
	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	return LIBC(open)(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	if (is_lguest(path))
		return lguest_open(flags);
	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	return LIBC(open64)(path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	if (is_lguest(path))
		return lguest_open(flags);
	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	return LIBC(openat)(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	if (is_lguest(path))
		return lguest_open(flags);
	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	return LIBC(openat64)(dirfd, path, flags, mode);
}

/* The fortified forms _FORTIFY_SOURCE turns open() into. */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

int __open_2(const char *path, int flags)
{
	if (is_lguest(path))
		return lguest_open(flags);
	return LIBC(open_2)(path, flags);
}

int __open64_2(const char *path, int flags)
{
	if (is_lguest(path))
		return lguest_open(flags);
	return LIBC(open64_2)(path, flags);
}

int __openat_2(int dirfd, const char *path, int flags)
{
	if (is_lguest(path))
		return lguest_open(flags);
	return LIBC(openat_2)(dirfd, path, flags);
}

int __openat64_2(int dirfd, const char *path, int flags)
{
	if (is_lguest(path))
		return lguest_open(flags);
	return LIBC(openat64_2)(dirfd, path, flags);
}

int close(int fd)
{
	struct lguest_file *f = lguest_file(fd);

	if (f)
		lguest_release(f);
	return LIBC(close)(fd);
}

/*
 * The file offset names the virtual CPU.  The kernel took it as an unsigned
 * int; plain read() and write() use the file position, which for our
 * /dev/null stand-in is always 0.
 */
ssize_t read(int fd, void *buf, size_t n)
{
	struct lguest_file *f = lguest_file(fd);

	if (f)
		return lguest_read(f, buf, n, 0);
	return LIBC(read)(fd, buf, n);
}

ssize_t write(int fd, const void *buf, size_t n)
{
	struct lguest_file *f = lguest_file(fd);

	if (f)
		return lguest_write(f, buf, n, 0);
	return LIBC(write)(fd, buf, n);
}

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	struct lguest_file *f = lguest_file(fd);

	if (f)
		return lguest_read(f, buf, n, (unsigned int)off);
	return LIBC(pread)(fd, buf, n, off);
}

ssize_t pread64(int fd, void *buf, size_t n, off64_t off)
{
	struct lguest_file *f = lguest_file(fd);

	if (f)
		return lguest_read(f, buf, n, (unsigned int)off);
	return LIBC(pread64)(fd, buf, n, off);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	struct lguest_file *f = lguest_file(fd);

	if (f)
		return lguest_write(f, buf, n, (unsigned int)off);
	return LIBC(pwrite)(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
	struct lguest_file *f = lguest_file(fd);

	if (f)
		return lguest_write(f, buf, n, (unsigned int)off);
	return LIBC(pwrite64)(fd, buf, n, off);
}

/* The fortified reads. */
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen);
ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off,
		      size_t buflen);

ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	struct lguest_file *f = lguest_file(fd);

	if (f)
		return lguest_read(f, buf, n, 0);
	return LIBC(read_chk)(fd, buf, n, buflen);
}

ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
{
	struct lguest_file *f = lguest_file(fd);

	if (f)
		return lguest_read(f, buf, n, (unsigned int)off);
	return LIBC(pread_chk)(fd, buf, n, off, buflen);
}

ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off,
		      size_t buflen)
{
	struct lguest_file *f = lguest_file(fd);

	if (f)
		return lguest_read(f, buf, n, (unsigned int)off);
	return LIBC(pread64_chk)(fd, buf, n, off, buflen);
}

/*
 * Knobs for the launcher's own failures, which no real host would give it
 * on demand:
 *
 *	LGSTUB_MMAP_MAX=<bytes>	an mmap() of more bytes fails with ENOMEM,
 *				as under "ulimit -v" (which a launcher built
 *				with AddressSanitizer cannot start under)
 *	LGSTUB_EXEC_ERRNO=<n>	fexecve() and execv(), the launcher's way to
 *				run itself again for a reboot, fail with
 *				errno n
 */
static bool mmap_refused(size_t len)
{
	const char *max = getenv("LGSTUB_MMAP_MAX");

	return max && *max && len > strtoull(max, NULL, 0);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (mmap_refused(len)) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	return LIBC(mmap)(addr, len, prot, flags, fd, off);
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd,
	     off64_t off)
{
	if (mmap_refused(len)) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	return LIBC(mmap64)(addr, len, prot, flags, fd, off);
}

static int exec_errno(void)
{
	const char *err = getenv("LGSTUB_EXEC_ERRNO");

	return err && *err ? atoi(err) : 0;
}

int fexecve(int fd, char *const argv[], char *const envp[])
{
	if (exec_errno())
		return (int)fail(exec_errno());
	return LIBC(fexecve)(fd, argv, envp);
}

int execv(const char *path, char *const argv[])
{
	if (exec_errno())
		return (int)fail(exec_errno());
	return LIBC(execv)(path, argv);
}
