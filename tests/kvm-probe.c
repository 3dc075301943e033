// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-probe: does /dev/kvm run a guest?  Opens /dev/kvm (or argv[1]),
 * creates a VM and a vCPU, and runs five bytes of real-mode code at
 * guest-physical 0x1000:
 *
 *	mov $0x3f8, %dx
 *	mov $'K', %al
 *	out %al, (%dx)
 *	hlt
 *
 * expecting KVM_EXIT_IO (a 1-byte OUT of 'K' to port 0x3f8), then
 * KVM_EXIT_HLT with RIP just past the hlt.  Prints each step as it goes,
 * "kvm-probe: ok" at the end, and exits 0; on the first failure, says which
 * step failed and why, and exits 1.  Built static (build/kvm-probe, see
 * tests/tests.mk) so that it runs in a bare initramfs (scripts/nested-host).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define GUEST_CODE 0x1000

static const uint8_t code[] = {
	0xba, 0xf8, 0x03, /* mov $0x3f8, %dx */
	0xb0, 'K',	  /* mov $'K', %al */
	0xee,		  /* out %al, (%dx) */
	0xf4,		  /* hlt */
};

static double t0;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void say(const char *fmt, ...)
{
	va_list ap;

	printf("kvm-probe: [%6.3fs] ", now() - t0);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void __attribute__((noreturn)) fail(const char *fmt, ...)
{
	va_list ap;

	printf("kvm-probe: FAIL: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	exit(1);
}

static const char *exit_name(uint32_t reason)
{
	static char buf[32];
	static const char *const names[] = {
		[KVM_EXIT_UNKNOWN] = "KVM_EXIT_UNKNOWN",
		[KVM_EXIT_EXCEPTION] = "KVM_EXIT_EXCEPTION",
		[KVM_EXIT_IO] = "KVM_EXIT_IO",
		[KVM_EXIT_HLT] = "KVM_EXIT_HLT",
		[KVM_EXIT_MMIO] = "KVM_EXIT_MMIO",
		[KVM_EXIT_SHUTDOWN] = "KVM_EXIT_SHUTDOWN",
		[KVM_EXIT_FAIL_ENTRY] = "KVM_EXIT_FAIL_ENTRY",
		[KVM_EXIT_INTERNAL_ERROR] = "KVM_EXIT_INTERNAL_ERROR",
	};

	if (reason < sizeof(names) / sizeof(names[0]) && names[reason])
		return names[reason];
	snprintf(buf, sizeof(buf), "exit reason %u", reason);
	return buf;
}

/* Run the vCPU once; fail unless it exits with 'want'. */
static void run(int vcpu, struct kvm_run *r, uint32_t want)
{
	if (ioctl(vcpu, KVM_RUN, 0) < 0)
		fail("KVM_RUN: %s", strerror(errno));
	if (r->exit_reason == want)
		return;
	if (r->exit_reason == KVM_EXIT_FAIL_ENTRY)
		fail("KVM_RUN: %s (hardware reason %#llx), want %s",
		     exit_name(r->exit_reason),
		     (unsigned long long)
			     r->fail_entry.hardware_entry_failure_reason,
		     exit_name(want));
	if (r->exit_reason == KVM_EXIT_INTERNAL_ERROR)
		fail("KVM_RUN: %s (suberror %u), want %s",
		     exit_name(r->exit_reason), r->internal.suberror,
		     exit_name(want));
	fail("KVM_RUN: %s, want %s", exit_name(r->exit_reason),
	     exit_name(want));
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/dev/kvm";
	struct kvm_userspace_memory_region region;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_run *r;
	int kvm, vm, vcpu, size;
	uint8_t *mem;

	t0 = now();
	kvm = open(path, O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		fail("open %s: %s", path, strerror(errno));
	say("opened %s; KVM_GET_API_VERSION %d", path,
	    ioctl(kvm, KVM_GET_API_VERSION, 0));

	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		fail("KVM_CREATE_VM: %s", strerror(errno));
	say("KVM_CREATE_VM ok");

	mem = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		fail("mmap guest memory: %s", strerror(errno));
	memcpy(mem + GUEST_CODE, code, sizeof(code));
	region = (struct kvm_userspace_memory_region){
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = 0x10000,
		.userspace_addr = (uintptr_t)mem,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		fail("KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));

	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		fail("KVM_CREATE_VCPU: %s", strerror(errno));
	size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < (int)sizeof(*r))
		fail("KVM_GET_VCPU_MMAP_SIZE: %d (%s)", size, strerror(errno));
	r = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (r == MAP_FAILED)
		fail("mmap kvm_run: %s", strerror(errno));
	say("KVM_CREATE_VCPU ok (kvm_run %d bytes)", size);

	/* Real mode, CS base 0, at 0000:1000. */
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		fail("KVM_GET_SREGS: %s", strerror(errno));
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		fail("KVM_SET_SREGS: %s", strerror(errno));
	regs = (struct kvm_regs){ .rip = GUEST_CODE, .rflags = 0x2 };
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		fail("KVM_SET_REGS: %s", strerror(errno));

	run(vcpu, r, KVM_EXIT_IO);
	if (r->io.direction != KVM_EXIT_IO_OUT || r->io.port != 0x3f8 ||
	    r->io.size != 1 || r->io.count != 1)
		fail("KVM_EXIT_IO: %s of %u x %u bytes at port %#x, want an "
		     "out of 1 x 1 byte at 0x3f8",
		     r->io.direction == KVM_EXIT_IO_OUT ? "out" : "in",
		     r->io.count, r->io.size, r->io.port);
	if (((uint8_t *)r)[r->io.data_offset] != 'K')
		fail("KVM_EXIT_IO: wrote %#x, want 'K'",
		     ((uint8_t *)r)[r->io.data_offset]);
	say("KVM_RUN: KVM_EXIT_IO, out 'K' to port 0x3f8");

	run(vcpu, r, KVM_EXIT_HLT);
	if (ioctl(vcpu, KVM_GET_REGS, &regs) < 0)
		fail("KVM_GET_REGS: %s", strerror(errno));
	if (regs.rip != GUEST_CODE + sizeof(code) || (regs.rax & 0xff) != 'K')
		fail("KVM_EXIT_HLT with rip %#llx al %#llx, want rip %#zx al "
		     "'K'",
		     (unsigned long long)regs.rip,
		     (unsigned long long)(regs.rax & 0xff),
		     GUEST_CODE + sizeof(code));
	say("KVM_RUN: KVM_EXIT_HLT, rip %#llx", (unsigned long long)regs.rip);
	say("ok");
	return 0;
}
