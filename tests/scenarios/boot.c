// SPDX-License-Identifier: GPL-2.0
/*
 * scenarios/boot.c: what the launcher hands a guest before its first
 * instruction.
 *
 * A real guest kernel starts at the entry point LHREQ_INITIALIZE gave, with
 * %esi pointing at boot_params at guest-physical 0, and trusts everything
 * it finds: its own image where the loader put it, the initrd where
 * boot_params says, the e820 map, the command line.  This scenario is that
 * kernel's first look around, made by someone who knows what should be
 * there.  The test tells it, in the environment:
 *
 *	LGSTUB_KERNEL=<path>	the kernel given to the launcher
 *	LGSTUB_INITRD=<path>	the initrd given, or empty for none
 *	LGSTUB_MEM_MIB=<n>	the memory given, in MiB
 *	LGSTUB_CMDLINE=<string>	the kernel command line it should find
 */
#define _GNU_SOURCE
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <asm/bootparam.h>
#include <linux/pci_regs.h>

#include "../guest.h"

/* The launcher's pages for devices, between RAM and the BARs. */
#define DEVICE_PAGES 256

/* A bzImage's protected-mode kernel is loaded at 1 MiB. */
#define BZIMAGE_LOAD_ADDR (1 * MIB)

#define E820_RAM 1

/* A stretch of guest memory the launcher was to fill. */
struct region {
	u64 start, end;
	char what[40];
};

#define MAX_REGIONS 32

/* What the test says it gave the launcher, and what that implies. */
static struct {
	u64 mem;
	const char *kernel_path, *initrd_path, *cmdline;
	u8 *kernel, *initrd;
	size_t kernel_size, initrd_size;
	u64 entry;
	u64 mapped;		/* bytes mapped read-write from base */
	struct region loaded[MAX_REGIONS];	/* non-zero bytes may be here */
	struct region bss[MAX_REGIONS];		/* zero bytes must be here */
	unsigned int nloaded, nbss;
} want;

static void add_region(struct region *r, unsigned int *n, u64 start,
		       u64 end, const char *what)
{
	if (*n == MAX_REGIONS)
		guest_fail("boot: more than %u regions to check", MAX_REGIONS);
	r[*n].start = start;
	r[*n].end = end;
	snprintf(r[*n].what, sizeof(r[*n].what), "%s", what);
	(*n)++;
}

static u8 *slurp(const char *path, size_t *size)
{
	FILE *f = fopen(path, "re");
	u8 *buf;
	long len;

	if (!f || fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0)
		guest_fail("boot: cannot read %s", path);
	buf = malloc((size_t)len + 1);
	rewind(f);
	if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len)
		guest_fail("boot: cannot read %s", path);
	fclose(f);
	*size = (size_t)len;
	return buf;
}

static const char *need_env(const char *name)
{
	const char *v = getenv(name);

	if (!v || !*v)
		guest_fail("boot: the test did not set %s", name);
	return v;
}

static void read_expectations(void)
{
	const char *initrd = getenv("LGSTUB_INITRD");
	const char *cmdline = getenv("LGSTUB_CMDLINE");

	want.mem = strtoull(need_env("LGSTUB_MEM_MIB"), NULL, 10) * MIB;
	want.kernel_path = need_env("LGSTUB_KERNEL");
	want.kernel = slurp(want.kernel_path, &want.kernel_size);
	want.cmdline = cmdline ? cmdline : "";
	if (initrd && *initrd) {
		want.initrd_path = initrd;
		want.initrd = slurp(initrd, &want.initrd_size);
	}
}

/* Where two byte strings first differ, or -1. */
static long first_difference(const u8 *a, const u8 *b, size_t len)
{
	size_t i;

	if (!memcmp(a, b, len))
		return -1;
	for (i = 0; a[i] == b[i]; i++)
		;
	return (long)i;
}

/*
 * The launcher told the host how big the guest is and where it starts.
 */
static void check_initialize(void)
{
	const struct guest_boot *b = guest_boot();
	u64 ram_pages = want.mem / PAGE_SIZE;

	check_eq(b->pfn_limit, ram_pages, "INITIALIZE pfn_limit (RAM pages)");
	check_eq(b->start, want.entry, "INITIALIZE start (kernel entry)");
	check(b->device_limit >= ram_pages + DEVICE_PAGES,
	      "INITIALIZE device_limit %#lx covers RAM and the %u device "
	      "pages (at least %#llx)", b->device_limit, DEVICE_PAGES,
	      (unsigned long long)(ram_pages + DEVICE_PAGES));
}

static bool rw_private(const struct mapping *m)
{
	return m->perms[0] == 'r' && m->perms[1] == 'w' && m->perms[3] == 'p';
}

/* The page at addr is a PROT_NONE guard. */
static void check_guard(uintptr_t addr, const char *where)
{
	struct mapping m;
	const char *perms = find_mapping(addr, &m) ? m.perms : "unmapped";

	check(strcmp(perms, "---p") == 0,
	      "the page %s guest memory: %s, want ---p (a PROT_NONE guard)",
	      where, perms);
}

/*
 * Guest memory is one private mapping, RAM and then the device pages,
 * fenced by a PROT_NONE page on each side.
 */
static void check_mapping(void)
{
	uintptr_t base = (uintptr_t)guest_boot()->base;
	u64 full = want.mem + DEVICE_PAGES * PAGE_SIZE;
	uintptr_t end = base;
	struct mapping m;

	check_guard(base - PAGE_SIZE, "below");
	while (find_mapping(end, &m) && rw_private(&m))
		end = m.end;
	want.mapped = end - base;
	check(want.mapped >= want.mem,
	      "guest RAM is mapped private and read-write: %#llx bytes, "
	      "want at least %#llx", (unsigned long long)want.mapped,
	      (unsigned long long)want.mem);
	check_eq(want.mapped, full, "bytes mapped: RAM + 256 device pages");
	check_guard(end, "above");
	if (want.mapped > full)
		want.mapped = full;
}

/* The bytes [gpa, gpa + len) must be the file's bytes at off. */
static void check_loaded(u64 gpa, const u8 *bytes, size_t len,
			 const char *what)
{
	long diff;

	if (gpa + len > want.mem)
		guest_fail("boot: %s does not fit in %llu MiB", what,
			   (unsigned long long)(want.mem / MIB));
	diff = first_difference(phys(gpa, len), bytes, len);
	if (diff < 0)
		check(true, "%s: %zu bytes at %#llx are the file's", what,
		      len, (unsigned long long)gpa);
	else
		check(false, "%s: %zu bytes at %#llx differ from the file's "
		      "from %#llx on", what, len, (unsigned long long)gpa,
		      (unsigned long long)(gpa + (u64)diff));
	add_region(want.loaded, &want.nloaded, gpa, gpa + len, what);
}

/*
 * An ELF vmlinux: each PT_LOAD segment's file bytes at its physical
 * address (not its virtual one); the rest of p_memsz must read as zero.
 */
static void expect_elf(void)
{
	const Elf32_Ehdr *eh = (const void *)want.kernel;
	const Elf32_Phdr *ph;
	char what[40];
	unsigned int i;

	if (want.kernel_size < sizeof(*eh) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS32 || eh->e_machine != EM_386 ||
	    eh->e_type != ET_EXEC || eh->e_phentsize != sizeof(*ph) ||
	    eh->e_phoff + (u64)eh->e_phnum * sizeof(*ph) > want.kernel_size)
		guest_fail("boot: %s is not an i386 ELF32 executable",
			   want.kernel_path);

	want.entry = eh->e_entry;
	ph = (const void *)(want.kernel + eh->e_phoff);
	for (i = 0; i < eh->e_phnum; i++, ph++) {
		if (ph->p_type != PT_LOAD)
			continue;
		if ((u64)ph->p_offset + ph->p_filesz > want.kernel_size)
			guest_fail("boot: %s: PT_LOAD %u is past the file's "
				   "end", want.kernel_path, i);
		snprintf(what, sizeof(what), "ELF PT_LOAD %u", i);
		check_loaded(ph->p_paddr, want.kernel + ph->p_offset,
			     ph->p_filesz, what);
		if (ph->p_memsz <= ph->p_filesz)
			continue;
		snprintf(what, sizeof(what), "the bss of PT_LOAD %u", i);
		add_region(want.bss, &want.nbss,
			   (u64)ph->p_paddr + ph->p_filesz,
			   (u64)ph->p_paddr + ph->p_memsz, what);
	}
}

/*
 * A bzImage: after the boot sector and setup_sects sectors of real-mode
 * setup (0 meaning 4, as the boot protocol says) comes the protected-mode
 * kernel, loaded at 1 MiB and entered at code32_start.
 */
static void expect_bzimage(void)
{
	struct boot_params file;
	size_t off;

	memcpy(&file, want.kernel, sizeof(file));
	off = ((size_t)(file.hdr.setup_sects ? file.hdr.setup_sects : 4) + 1)
	      * 512;
	if (off >= want.kernel_size)
		guest_fail("boot: %s: setup_sects runs past the file's end",
			   want.kernel_path);

	want.entry = file.hdr.code32_start;
	check_loaded(BZIMAGE_LOAD_ADDR, want.kernel + off,
		     want.kernel_size - off, "bzImage protected-mode kernel");
}

static void expect_kernel(void)
{
	if (want.kernel_size >= SELFMAG &&
	    !memcmp(want.kernel, ELFMAG, SELFMAG))
		expect_elf();
	else if (want.kernel_size >= sizeof(struct boot_params) &&
		 !memcmp(want.kernel + 0x202, "HdrS", 4))
		expect_bzimage();
	else
		guest_fail("boot: %s is neither an ELF file nor a bzImage",
			   want.kernel_path);
}

static u64 initrd_address(void)
{
	u64 len = (want.initrd_size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);

	return want.mem - len;
}

/* The initrd sits at the top of RAM, starting on a page boundary. */
static void expect_initrd(void)
{
	if (want.initrd)
		check_loaded(initrd_address(), want.initrd, want.initrd_size,
			     "initrd at the top of RAM");
}

/* The command line the guest reads, if cmd_line_ptr leads anywhere. */
static const char *guest_cmdline(u32 ptr)
{
	u64 ram = want.mem;
	const char *s;

	if (ptr >= ram)
		return "(cmd_line_ptr is outside RAM)";
	s = phys(ptr, 1);
	if (strnlen(s, ram - ptr) == ram - ptr)
		return "(no NUL before the end of RAM)";
	return s;
}

static void check_boot_params(void)
{
	const struct boot_params *bp = phys(0, sizeof(*bp));
	const struct setup_header *hdr = &bp->hdr;
	const char *cmdline = guest_cmdline(hdr->cmd_line_ptr);
	bool initrd = want.initrd;

	check_eq(bp->e820_entries, 1, "boot_params.e820_entries");
	check_eq(bp->e820_table[0].addr, 0, "e820_table[0].addr");
	check_eq(bp->e820_table[0].size, want.mem, "e820_table[0].size (RAM)");
	check_eq(bp->e820_table[0].type, E820_RAM, "e820_table[0].type (RAM)");
	check_eq(hdr->cmd_line_ptr, sizeof(*bp),
		 "hdr.cmd_line_ptr (just after boot_params)");
	check(strcmp(cmdline, want.cmdline) == 0,
	      "the command line is \"%s\", want \"%s\"", cmdline,
	      want.cmdline);
	add_region(want.loaded, &want.nloaded, 0,
		   sizeof(*bp) + strlen(want.cmdline) + 1,
		   "boot_params and the command line");

	check_eq(hdr->kernel_alignment, 0x1000000, "hdr.kernel_alignment");
	check_eq(hdr->version, 0x207, "hdr.version (boot protocol 2.07)");
	check_eq(hdr->hardware_subarch, X86_SUBARCH_LGUEST,
		 "hdr.hardware_subarch (X86_SUBARCH_LGUEST)");
	check(hdr->loadflags & KEEP_SEGMENTS,
	      "hdr.loadflags %#x has KEEP_SEGMENTS", hdr->loadflags);
	check_eq(bp->tboot_addr, 0, "boot_params.tboot_addr (no tboot)");
	check_eq(bp->apm_bios_info.version, 0,
		 "apm_bios_info.version (no APM)");

	check_eq(hdr->ramdisk_image, initrd ? initrd_address() : 0,
		 "hdr.ramdisk_image");
	check_eq(hdr->ramdisk_size, want.initrd_size, "hdr.ramdisk_size");
	check_eq(hdr->type_of_loader, initrd ? 0xff : 0,
		 "hdr.type_of_loader");
}

/* Where a stray byte is, in words a reader can act on. */
static const char *whereabouts(u64 gpa)
{
	unsigned int i;

	for (i = 0; i < want.nbss; i++) {
		if (gpa >= want.bss[i].start && gpa < want.bss[i].end)
			return want.bss[i].what;
	}
	return gpa >= want.mem ? "the device pages" : "memory nobody loaded";
}

/*
 * The loaded region holding gpa (true, and where it ends), or else where
 * the next one starts (false).
 */
static bool loaded_at(u64 gpa, u64 *next)
{
	unsigned int i;

	*next = want.mapped;
	for (i = 0; i < want.nloaded; i++) {
		const struct region *r = &want.loaded[i];

		if (gpa >= r->start && gpa < r->end) {
			*next = r->end;
			return true;
		}
		if (r->start > gpa && r->start < *next)
			*next = r->start;
	}
	return false;
}

static u64 first_nonzero(const u8 *mem, u64 from, u64 to)
{
	static const u8 zero[4096];

	while (from < to) {
		u64 len = to - from < sizeof(zero) ? to - from : sizeof(zero);

		if (memcmp(mem + from, zero, len))
			break;
		from += len;
	}
	while (from < to && !mem[from])
		from++;
	return from;
}

/*
 * Everything not loaded reads as zero: RAM, each bss, the device pages.
 * Returns the first non-zero byte's address, or the end.
 */
static u64 first_stray_byte(void)
{
	const u8 *mem = guest_boot()->base;
	u64 gpa = 0, next, stray;

	while (gpa < want.mapped) {
		if (!loaded_at(gpa, &next)) {
			stray = first_nonzero(mem, gpa, next);
			if (stray < next)
				return stray;
		}
		gpa = next;
	}
	return want.mapped;
}

static void check_rest_is_zero(void)
{
	u64 stray = first_stray_byte();

	if (stray == want.mapped)
		check(true, "guest memory is zero outside what was loaded");
	else
		check(false, "guest memory is zero outside what was loaded: "
		      "%#llx, in %s, is %#x", (unsigned long long)stray,
		      whereabouts(stray),
		      ((const u8 *)guest_boot()->base)[stray]);
}

/* The PCI bus a 4.x guest probes first: the host bridge and the console. */
static void pci_smoke(void)
{
	check_eq(pci_read8(0, PCI_CLASS_DEVICE + 1), 0x06,
		 "slot 0 base class (bridge)");
	check_eq(pci_read8(0, PCI_CLASS_DEVICE), 0x00,
		 "slot 0 subclass (host bridge)");
	check_eq(pci_read16(1, PCI_VENDOR_ID), 0x1af4,
		 "slot 1 vendor ID (virtio)");
	check_eq(pci_read16(1, PCI_DEVICE_ID), 0x1043,
		 "slot 1 device ID (virtio 1.0 console)");
	check_eq(pci_read32(1, PCI_VENDOR_ID), 0x10431af4,
		 "slot 1 ID dword, as the early console probes it");
}

static void boot(void)
{
	read_expectations();
	expect_kernel();
	check_initialize();
	check_mapping();
	expect_initrd();
	check_boot_params();
	check_rest_is_zero();
	pci_smoke();
}
SCENARIO(boot);
