// SPDX-License-Identifier: GPL-2.0
/*
 * highmem.c: RAM above 4 GiB, and a virtqueue there, under lguest --kvm.
 *
 * A guest with more than 3 GiB of RAM gets, as a PC does around its
 * 32-bit PCI hole, RAM from 0 to 3 GiB and the rest from 4 GiB up; the
 * e820 map says so.  Its drivers may then put their virtqueues anywhere in
 * RAM, 64-bit addresses and all (queue_desc_hi and its fellows not 0), and
 * lguest still checks every part against RAM: RAM as it is, two pieces
 * with the hole between them.
 *
 * Run with 4608 MiB (high RAM [4 GiB, 5.5 GiB)) and --rng, we
 *   - find lguest's long-mode entry as the boot protocol has it, and its
 *     page tables mapping the low 4 GiB in 2 MiB pages, nothing above;
 *   - find RAM up to 3 GiB and from 4 GiB in boot_params' e820 map, and
 *     none in between;
 *   - map all of high RAM, with page directories of our own;
 *   - write and read back patterns at its first bytes, across the 5 GiB
 *     line and at its last bytes, and make sure it is no alias of low RAM;
 *   - drive the entropy device with its descriptor table and used ring
 *     just above 4 GiB and its available ring ending on high RAM's last
 *     byte, and give it two 64-byte buffers to fill: one ending on low
 *     RAM's last byte (just below 3 GiB), one on high RAM's first (4 GiB).
 *     Its interrupt line stays masked: we poll the used ring (at each tick
 *     of the timer, which bounds the wait).
 * Each check that holds prints "ok - highmem: ..."; one that does not,
 * "FAIL: ...", and the machine powers off.
 *
 * A word on the kernel command line makes the driver break the rule
 * instead (virtio 1.0 §2.4: the queue's parts, and §2.4.5: its buffers,
 * are in the guest's memory), with an address that is not RAM:
 *
 *	used-past-end	the used ring at high RAM's end, its first byte past it
 *	used-across-end	the used ring ending 2 bytes past high RAM
 *	desc-in-hole	the descriptor table in the hole, at 3.25 GiB: not
 *			RAM, though below the memory size
 *	buffer-past-end	a buffer at high RAM's end (which the queue's task,
 *			not queue_enable, comes upon)
 *
 * lguest must stop, naming the part, its address and its size; we say
 * first what we are about to do, and fail if the device takes it.
 */
#include "../kvm/lib.h"

#define MIB (1UL << 20)
#define GIB (1UL << 30)
#define HOLE (3 * GIB)	   /* low RAM ends here, when there is high RAM */
#define HIGH_RAM (4 * GIB) /* where the rest of RAM starts */

#define QSIZE 8 /* entries in the queue */
#define LEN 64	/* bytes a request asks for */

/*
 * Control registers and EFER, for the state lguest entered us in; CR3
 * written back to itself flushes the TLB after we change the tables.
 */
#define CR0_PE 0x1
#define CR0_PG 0x80000000UL
#define CR4_PAE 0x20
#define MSR_EFER 0xC0000080
#define EFER_LME 0x100
#define EFER_LMA 0x400

#define read_cr(n)                                              \
	({                                                      \
		u64 __v;                                        \
		asm volatile("mov %%cr" #n ", %0" : "=r"(__v)); \
		__v;                                            \
	})

static inline void write_cr3(u64 v)
{
	asm volatile("mov %0, %%cr3" : : "r"(v) : "memory");
}

static inline u64 rdmsr(u32 msr)
{
	u32 lo, hi;

	asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return (u64)hi << 32 | lo;
}

/*
 * Page table entries: present, writable, and (in a page directory) a
 * 2 MiB page rather than a page table.  The CPU may set accessed and
 * dirty bits in them as we run, so those are not compared.
 */
#define PTE_P 0x1UL
#define PTE_W 0x2UL
#define PTE_PS 0x80UL
#define PTE_ADDR 0x000FFFFFFFFFF000UL
#define PTE_MASK (PTE_ADDR | PTE_P | PTE_W | PTE_PS)
#define PAGE_2M (2 * MIB)

static u64 *table(u64 entry)
{
	return (u64 *)(entry & PTE_ADDR);
}

/* struct boot_params (Linux's arch/x86/include/uapi/asm/bootparam.h) */
#define BP_E820_ENTRIES 0x1E8
#define BP_CMD_LINE_PTR 0x228
#define BP_E820_TABLE 0x2D0

/*
 * boot_params, at guest-physical (and virtual) 0.  main() takes its
 * address from %rsi through an empty asm: gcc must not learn that the
 * pointer is NULL, or it would take our reads for mistakes.
 */
static const u8 *bp;
static u64 *pdpt;    /* lguest's page directory pointer table */
static u64 low_end;  /* RAM is [1 MiB, low_end) ... */
static u64 high_end; /* ... and [4 GiB, high_end) */
static const char *cmdline;

static u32 bp32(unsigned int off)
{
	return *(const u32 *)(bp + off);
}

static void entry_state(void)
{
	u64 cr0 = read_cr(0), cr3 = read_cr(3), cr4 = read_cr(4);
	u64 efer = rdmsr(MSR_EFER), *pml4, *pd, want;
	unsigned int i, j;

	printf("highmem: entered with cs %#x ds %#x ss %#x rsi %#lx rflags "
	       "%#lx\n",
	       entry_cs, entry_ds, entry_ss, entry_rsi, entry_rflags);
	printf("highmem: cr0 %#lx cr3 %#lx cr4 %#lx efer %#lx\n", cr0, cr3, cr4,
	       efer);
	if (entry_cs != 0x10 || entry_ds != 0x18 || entry_ss != 0x18)
		fail("highmem: segments cs %#x ds %#x ss %#x, want 0x10 0x18 "
		     "0x18",
		     entry_cs, entry_ds, entry_ss);
	if (entry_rflags & 0x200)
		fail("highmem: entered with interrupts on");
	if (entry_rsi)
		fail("highmem: rsi %#lx, want 0 (boot_params)", entry_rsi);
	if (!(cr0 & CR0_PE) || !(cr0 & CR0_PG) || !(cr4 & CR4_PAE) ||
	    (efer & (EFER_LME | EFER_LMA)) != (EFER_LME | EFER_LMA))
		fail("highmem: not in long mode with paging");
	puts("ok - highmem: long mode, interrupts off, rsi = boot_params");

	/*
	 * The boot page tables: one PML4 entry, four page directories of
	 * 2 MiB pages mapping [0, 4 GiB) one to one, nothing else.
	 */
	pml4 = table(cr3);
	for (i = 1; i < 512; i++)
		if (pml4[i] & PTE_P)
			fail("highmem: PML4 entry %u is present (%#lx)", i,
			     pml4[i]);
	if (!(pml4[0] & PTE_P))
		fail("highmem: PML4 entry 0 is not present");
	pdpt = table(pml4[0]);
	for (i = 0; i < 512; i++) {
		if (i >= 4) {
			if (pdpt[i] & PTE_P)
				fail("highmem: GiB %u is mapped already (%#lx)",
				     i, pdpt[i]);
			continue;
		}
		if ((pdpt[i] & (PTE_P | PTE_PS)) != PTE_P)
			fail("highmem: PDPT entry %u is %#lx: want a page "
			     "directory",
			     i, pdpt[i]);
		pd = table(pdpt[i]);
		for (j = 0; j < 512; j++) {
			want = (u64)(i * 512 + j) * PAGE_2M | PTE_P | PTE_W |
			       PTE_PS;
			if ((pd[j] & PTE_MASK) != want)
				fail("highmem: the entry for %#lx is %#lx, "
				     "want %#lx",
				     (u64)(i * 512 + j) * PAGE_2M, pd[j], want);
		}
	}
	printf("ok - highmem: cr3 %#lx: [0, 4 GiB) identity-mapped in 2 MiB "
	       "pages, nothing above\n",
	       cr3);
}

/*
 * The e820 map: in order, without overlaps; RAM from 1 MiB up to 3 GiB
 * (all that fits below the hole) and from 4 GiB, none in between.
 */
static void e820(void)
{
	const struct e820_entry *e = (const void *)(bp + BP_E820_TABLE);
	unsigned int n = bp[BP_E820_ENTRIES], i;
	u64 end = 0;

	if (!n || n > 128)
		fail("highmem: %u e820 entries", n);
	for (i = 0; i < n; i++, e++) {
		u64 last = e->addr + e->size;

		printf("highmem: e820 %s [%#lx, %#lx)\n",
		       e->type == 1 ? "RAM" : "reserved", e->addr, last);
		if (!e->size || e->addr < end)
			fail("highmem: e820 entry %u is empty, out of order or "
			     "overlaps",
			     i);
		end = last;
		if (e->type != 1)
			continue;
		if (e->addr < HIGH_RAM && last > HOLE)
			fail("highmem: RAM in the hole [3 GiB, 4 GiB)");
		if (e->addr == MIB)
			low_end = last;
		if (e->addr == HIGH_RAM)
			high_end = last;
	}
	if (!high_end)
		fail("highmem: no RAM at 4 GiB (run with more than 3 GiB)");
	if (low_end != HOLE)
		fail("highmem: low RAM ends at %#lx: want 3 GiB, with RAM "
		     "above 4 GiB",
		     low_end);
	printf("ok - highmem: e820: RAM up to 3 GiB, %lu MiB from 4 GiB, "
	       "none between\n",
	       (high_end - HIGH_RAM) / MIB);
}

/*
 * High RAM into our address space, one to one, in 2 MiB pages: a page
 * directory of our own for each GiB of it (up to 4 GiB of it, enough for
 * any memory size the test uses), hung in lguest's PDPT.
 */
static u64 high_pd[4][512] __attribute__((aligned(4096)));

static void map_high(void)
{
	unsigned int pages = 0, dirs = 0;
	u64 a;

	for (a = HIGH_RAM; a < high_end; a += PAGE_2M) {
		unsigned int gib = a / GIB, pde = a / PAGE_2M % 512;
		u64 *pd;

		if (gib - 4 >= ARRAY_SIZE(high_pd))
			fail("highmem: more high RAM than we can map");
		pd = high_pd[gib - 4];
		if (!(pdpt[gib] & PTE_P)) {
			pdpt[gib] = (u64)pd | PTE_P | PTE_W;
			dirs++;
		}
		pd[pde] = a | PTE_P | PTE_W | PTE_PS;
		pages++;
	}
	write_cr3(read_cr(3));
	printf("highmem: mapped [%#lx, %#lx): %u pages of 2 MiB in %u new "
	       "page directories\n",
	       HIGH_RAM, high_end, pages, dirs);
}

/* A pattern that differs at every 8 bytes of the address space. */
static u64 pattern(u64 addr)
{
	return addr * 0x9E3779B97F4A7C15UL ^ 0x6C67756573742121UL;
}

static void fill(u64 addr)
{
	u64 a;

	for (a = addr; a < addr + LEN; a += 8)
		*(volatile u64 *)a = pattern(a);
}

static void check_fill(u64 addr, const char *what)
{
	u64 a, v;

	for (a = addr; a < addr + LEN; a += 8) {
		v = *(volatile u64 *)a;
		if (v != pattern(a))
			fail("highmem: %#lx reads %#lx, not the %#lx written "
			     "there (%s)",
			     a, v, pattern(a), what);
	}
}

/*
 * High RAM holds what is written to it: at its first bytes, across the
 * 5 GiB line (two of our page directories; one mapping in lguest), and
 * at its last bytes.  And it is not low RAM again: 8 MiB above 4 GiB is
 * not 8 MiB, as it would be where an address lost its upper half.
 */
static void memory(void)
{
	u64 at[3] = { HIGH_RAM, 5 * GIB - LEN / 2, high_end - LEN };
	u64 alias = 8 * MIB;
	unsigned int i;

	if (high_end < 5 * GIB + LEN)
		fail("highmem: high RAM ends below 5 GiB (run with 4608 MiB)");
	fill(alias);
	for (i = 0; i < ARRAY_SIZE(at); i++)
		fill(at[i]);
	fill(HIGH_RAM + alias);
	for (i = 0; i < ARRAY_SIZE(at); i++)
		check_fill(at[i], "high RAM");
	printf("ok - highmem: %u bytes written and read back at %#lx, %#lx "
	       "and %#lx\n",
	       LEN, at[0], at[1], at[2]);
	check_fill(alias, "low RAM, after writing 4 GiB above it");
	check_fill(HIGH_RAM + alias, "high RAM");
	printf("ok - highmem: %#lx is not %#lx (high RAM is no alias of low "
	       "RAM)\n",
	       HIGH_RAM + alias, alias);
}

/* Is [addr, addr + len) RAM, that we may touch? */
static bool in_ram(u64 addr, u64 len)
{
	return (addr >= MIB && addr + len <= low_end) ||
	       (addr >= HIGH_RAM && addr + len <= high_end);
}

/* Zero a part of the queue, if it is RAM (the rule breakers' may not be). */
static void *part(u64 addr, u64 len)
{
	if (in_ram(addr, len))
		memset((void *)addr, 0, len);
	return (void *)addr;
}

/* Is 'word' one of the words of the kernel command line? */
static bool variant(const char *word)
{
	size_t n = strlen(word);
	const char *p = cmdline;

	while (p && *p) {
		while (*p == ' ')
			p++;
		if (!memcmp(p, word, n) && (p[n] == ' ' || !p[n]))
			return true;
		while (*p && *p != ' ')
			p++;
	}
	return false;
}

/* A queue register's 64 bits, read back (each half at its own width). */
static u64 queue_reg(struct virtio_dev *vd, unsigned int off)
{
	u64 lo = vcommon_read(vd, off, 4), hi = vcommon_read(vd, off + 4, 4);

	return hi << 32 | lo;
}

/* Make one device-writable buffer of LEN bytes available, and notify. */
static u16 offer(struct virtq *vq, u64 buf)
{
	struct vbuf one = { (void *)buf, LEN, true };
	u16 head = virtq_add(vq, &one, 1);

	virtq_kick(vq);
	return head;
}

/*
 * One request, polled for: the buffer filled with 0xa5 first, then it
 * must come back used, all LEN bytes written, and not all 0xa5 any more.
 */
static void request(struct virtq *vq, u64 buf, const char *where)
{
	u8 *p = (u8 *)buf;
	u16 head, used_head;
	unsigned int i;
	u32 len;

	memset(p, 0xA5, LEN);
	head = offer(vq, buf);
	wait_for(virtq_has_used(vq), 10, "the rng's used ring");
	used_head = virtq_take(vq, &len);
	if (used_head != head || len != LEN)
		fail("highmem: rng: used buffer %u with %u bytes, want %u with "
		     "%u",
		     used_head, len, head, LEN);
	for (i = 0; i < LEN && p[i] == 0xA5; i++)
		;
	if (i == LEN)
		fail("highmem: rng: the buffer at %#lx still holds our 0xa5s",
		     buf);
	printf("ok - highmem: rng: %u bytes into the buffer at %#lx (%s): "
	       "%02x %02x %02x %02x...\n",
	       LEN, buf, where, p[0], p[1], p[2], p[3]);
}

void main(void)
{
	static struct virtio_dev rng;
	static struct virtq vq;
	u64 desc, avail, used, buf_low, buf_high;
	u64 got_desc, got_avail, got_used;
	const char *breaks = NULL;

	asm("" : "=r"(bp) : "0"(entry_rsi));
	entry_state();
	cmdline = (const char *)(unsigned long)bp32(BP_CMD_LINE_PTR);
	printf("highmem: command line '%s'\n", cmdline ? cmdline : "");
	e820();
	map_high();
	memory();

	/* Where everything goes; the rule breakers move one thing. */
	desc = HIGH_RAM + MIB;
	used = HIGH_RAM + MIB + 4096;
	avail = high_end - (6 + 2 * QSIZE);
	buf_low = low_end - LEN;
	buf_high = HIGH_RAM;
	if (variant("used-past-end")) {
		used = high_end;
		breaks = "used ring";
	} else if (variant("used-across-end")) {
		used = high_end - 68;
		breaks = "used ring";
	} else if (variant("desc-in-hole")) {
		desc = HOLE + 256 * MIB;
		breaks = "descriptor table";
	} else if (variant("buffer-past-end")) {
		buf_high = high_end;
	}

	timer_start();
	if (!virtio_find(&rng, "rng", VIRTIO_ID_RNG))
		fail("rng: no device 1af4:%x on bus 0",
		     VIRTIO_PCI_DEVICE(VIRTIO_ID_RNG));
	printf("highmem: rng at 00:%02x.0\n", rng.slot);
	virtio_start(&rng, 0);
	printf("highmem: queue: desc %#lx, avail %#lx, used %#lx\n", desc,
	       avail, used);
	if (breaks)
		printf("highmem: enabling the queue, its %s not in RAM\n",
		       breaks);
	virtq_setup_at(&rng, &vq, 0, QSIZE, part(desc, 16 * QSIZE),
		       part(avail, 6 + 2 * QSIZE), part(used, 6 + 8 * QSIZE));
	if (breaks)
		fail("highmem: the device took a queue whose %s is not in RAM",
		     breaks);
	if (vq.size != QSIZE)
		fail("highmem: rng: queue of %u entries, want %u", vq.size,
		     QSIZE);
	got_desc = queue_reg(&rng, VIRTIO_PCI_QUEUE_DESC);
	got_avail = queue_reg(&rng, VIRTIO_PCI_QUEUE_AVAIL);
	got_used = queue_reg(&rng, VIRTIO_PCI_QUEUE_USED);
	if (got_desc != desc || got_avail != avail || got_used != used)
		fail("highmem: queue_desc %#lx, queue_avail %#lx, queue_used "
		     "%#lx read back",
		     got_desc, got_avail, got_used);
	puts("ok - highmem: rng: queue enabled above 4 GiB, its 64-bit "
	     "addresses read back");
	virtio_driver_ok(&rng);

	if (buf_high >= high_end) {
		printf("highmem: rng: a buffer at %#lx, past high RAM\n",
		       buf_high);
		offer(&vq, buf_high);
		wait_for(virtq_has_used(&vq), 5, "lguest to stop us");
		fail("highmem: rng: the device used a buffer past RAM");
	}
	request(&vq, buf_low, "low RAM's last bytes");
	request(&vq, buf_high, "high RAM's first bytes");
	if (virtq_has_used(&vq))
		fail("highmem: rng: a third used buffer, and we gave two");
	puts("highmem: powering off");
}
