// SPDX-License-Identifier: GPL-2.0
/*
 * lib.c: the machine, as the tests/kvm programs drive it.  See lib.h.
 *
 * Read top to bottom: C's few necessities, output, the end of the
 * machine, interrupts (IDT, PIC, PIT), the UART, PCI, virtio, and the
 * virtio block requests the reboot programs count their boots with.
 */
#include "lib.h"

/*
 * C's necessities.  gcc may call these even in a freestanding program
 * (for a structure copy, say), so they exist, written so that it cannot
 * turn them into calls to themselves.
 */
void *memset(void *s, int c, size_t n)
{
	void *d = s;

	asm volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return s;
}

void *memcpy(void *dst, const void *src, size_t n)
{
	void *d = dst;

	asm volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const u8 *p = a, *q = b;

	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p - *q;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

/* The pool alloc() carves from; the loader zeroes the bss, start.S too. */
static u8 pool[64 * 1024] __attribute__((aligned(4096)));
static size_t pool_used;

void *alloc(size_t size, size_t align)
{
	size_t at = (pool_used + align - 1) & ~(align - 1);

	if (at + size > sizeof(pool))
		fail("alloc: out of memory (%u bytes wanted)",
		     (unsigned int)size);
	pool_used = at + size;
	return memset(pool + at, 0, size);
}

/*
 * Output.  Everything goes through the UART, "\n" as "\r\n" the way a
 * serial console sends it.
 */
void putchar(int c)
{
	if (c == '\n')
		uart_putc('\r');
	uart_putc(c);
}

void puts(const char *s)
{
	while (*s)
		putchar(*s++);
	putchar('\n');
}

/*
 * An unsigned number in base 10 or 16, at least 'width' digits wide.  An
 * unsigned long, so that the i386 build needs no 64-bit division (which
 * would be libgcc's, and we have no libgcc).
 */
static int put_number(unsigned long n, unsigned int base, unsigned int width,
		      char pad)
{
	char digits[24];
	unsigned int len = 0, i;

	do {
		digits[len++] = "0123456789abcdef"[n % base];
		n /= base;
	} while (n);
	for (i = len; i < width; i++)
		putchar(pad);
	for (i = len; i--;)
		putchar(digits[i]);
	return len > width ? len : width;
}

int vprintf(const char *fmt, va_list ap)
{
	int out = 0;

	for (; *fmt; fmt++) {
		unsigned int width = 0, prec = ~0u, len;
		bool is_long = false;
		unsigned long u;
		char pad = ' ';
		const char *s;
		int d;

		if (*fmt != '%') {
			putchar(*fmt);
			out++;
			continue;
		}
		if (*++fmt == '#') {
			putchar('0');
			putchar('x');
			out += 2;
			fmt++;
		}
		if (*fmt == '0')
			pad = *fmt++;
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + *fmt++ - '0';
		if (*fmt == '.')
			for (prec = 0, fmt++; *fmt >= '0' && *fmt <= '9'; fmt++)
				prec = prec * 10 + *fmt - '0';
		if (*fmt == 'l') {
			is_long = true;
			fmt++;
		}
		switch (*fmt) {
		case 'c':
			putchar(va_arg(ap, int));
			out++;
			break;
		case 's':
			s = va_arg(ap, const char *);
			for (len = 0; len < prec && s[len]; len++)
				;
			for (; width > len; width--, out++)
				putchar(' ');
			for (out += len; len--;)
				putchar(*s++);
			break;
		case 'd':
			d = va_arg(ap, int);
			if (d < 0) {
				putchar('-');
				out++;
				d = -d;
			}
			out += put_number(d, 10, width, pad);
			break;
		case 'u':
		case 'x':
			u = is_long ? va_arg(ap, unsigned long)
				    : va_arg(ap, unsigned int);
			out += put_number(u, *fmt == 'u' ? 10 : 16, width, pad);
			break;
		case 'p':
			putchar('0');
			putchar('x');
			out += 2 + put_number((unsigned long)va_arg(ap, void *),
					      16, 1, '0');
			break;
		case '\0':
			return out;
		default:
			putchar(*fmt);
			out++;
		}
	}
	return out;
}

int printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vprintf(fmt, ap);
	va_end(ap);
	return n;
}

void fail(const char *fmt, ...)
{
	va_list ap;

	cli();
	printf("FAIL: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	poweroff();
}

/*
 * The end of the machine.  Should the hypervisor not act on the write,
 * we say so and stop where the test's timeout will find us.
 */
static void noreturn halt_forever(const char *what)
{
	printf("%s: still running\n", what);
	for (;;)
		asm volatile("cli; hlt");
}

/*
 * lguest's DSDT gives S5 the sleep type 5; QEMU's (PIIX4 and ICH9 alike,
 * their PM1a control block also at 0x604 once SeaBIOS has set it up) gives
 * it 0.  We use lguest's, and QEMU's only when QEMU booted us.
 */
void poweroff(void)
{
	outw(ACPI_PM1A_CNT, ACPI_SLP_TYP_S5 | ACPI_SLP_EN);
	if (boot_magic == MULTIBOOT_BOOTLOADER_MAGIC) {
		outw(ACPI_PM1A_CNT, ACPI_SLP_EN);
		/* QEMU's CPU may run on a little while it shuts down. */
		for (;;)
			asm volatile("cli; hlt");
	}
	halt_forever("poweroff");
}

void reboot(void)
{
	outb(0x64, 0xFE);
	halt_forever("reboot");
}

/*
 * Interrupts.  The IDT holds 48 interrupt gates: start.S's stubs for the
 * 32 CPU exceptions and the 16 PIC lines, each of which calls interrupt()
 * with the registers it saved.  An x86-64 gate is twice as long, with the
 * upper half of the address in its second 8 bytes; its stubs save only
 * the registers a C function may change.
 */
#ifdef __x86_64__
struct irq_frame {
	u64 r11, r10, r9, r8, rdi, rsi, rdx, rcx, rax; /* the stub's... */
	u64 vector, error;
	u64 ip, cs, flags, sp, ss; /* the CPU's */
};
#else
struct irq_frame {
	u32 edi, esi, ebp, esp, ebx, edx, ecx, eax; /* pushal */
	u32 vector, error;			    /* the stub's */
	u32 ip, cs, flags;			    /* the CPU's */
};
#endif

struct idt_entry {
	u16 offset_lo;
	u16 selector;
	u8 zero; /* x86-64: no interrupt stack table */
	u8 type; /* present, ring 0, interrupt gate (32 or 64-bit): 0x8E */
	u16 offset_mid;
#ifdef __x86_64__
	u32 offset_hi;
	u32 reserved;
#endif
} __attribute__((packed));

extern const unsigned long vectors[48];
static struct idt_entry idt[48] __attribute__((aligned(8)));
static void (*irq_handlers[16])(unsigned int irq);
static u16 irq_masks = 0xFFFF;
static bool pic_ready;

static const char *const exceptions[32] = {
	"divide error",
	"debug",
	"NMI",
	"breakpoint",
	"overflow",
	"bound range",
	"invalid opcode",
	"device not available",
	"double fault",
	"coprocessor overrun",
	"invalid TSS",
	"segment not present",
	"stack fault",
	"general protection",
	"page fault",
	"reserved",
	"x87 error",
	"alignment check",
	"machine check",
	"SIMD error",
	"virtualization",
	"control protection",
};

static void idt_init(void)
{
	struct {
		u16 limit;
		unsigned long base;
	} __attribute__((packed)) desc = {
		.limit = sizeof(idt) - 1,
		.base = (unsigned long)idt,
	};
	u16 cs;
	unsigned int i;

	asm volatile("mov %%cs, %0" : "=r"(cs));
	for (i = 0; i < ARRAY_SIZE(idt); i++) {
		idt[i].offset_lo = vectors[i] & 0xFFFF;
		idt[i].offset_mid = vectors[i] >> 16 & 0xFFFF;
#ifdef __x86_64__
		idt[i].offset_hi = vectors[i] >> 32;
#endif
		idt[i].selector = cs;
		idt[i].type = 0x8E;
	}
	asm volatile("lidt %0" : : "m"(desc));
}

/* The 8259 pair: command and data ports of the master and the slave. */
#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xA0
#define PIC2_DATA 0xA1
#define PIC_EOI 0x20

static void pic_write_masks(void)
{
	outb(PIC1_DATA, irq_masks & 0xFF);
	outb(PIC2_DATA, irq_masks >> 8);
}

/*
 * ICW1: edge-triggered, cascaded, ICW4 follows.  ICW2: the vector base.
 * ICW3: the slave hangs off the master's line 2.  ICW4: 8086 mode, normal
 * EOI.  Then every line masked but the cascade.
 */
void pic_init(void)
{
	outb(PIC1_CMD, 0x11);
	outb(PIC2_CMD, 0x11);
	outb(PIC1_DATA, IRQ_VECTOR);
	outb(PIC2_DATA, IRQ_VECTOR + 8);
	outb(PIC1_DATA, 1 << 2);
	outb(PIC2_DATA, 2);
	outb(PIC1_DATA, 0x01);
	outb(PIC2_DATA, 0x01);
	irq_masks = 0xFFFF & ~(1 << 2);
	pic_write_masks();
	pic_ready = true;
}

void irq_handler(unsigned int irq, void (*fn)(unsigned int irq))
{
	if (!pic_ready)
		pic_init();
	irq_handlers[irq] = fn;
	irq_masks &= ~(1 << irq);
	pic_write_masks();
}

void irq_mask(unsigned int irq)
{
	irq_masks |= 1 << irq;
	pic_write_masks();
}

static void pic_eoi(unsigned int irq)
{
	if (irq >= 8)
		outb(PIC2_CMD, PIC_EOI);
	outb(PIC1_CMD, PIC_EOI);
}

/* Called by start.S's stubs, interrupts off. */
void interrupt(struct irq_frame *f);
void interrupt(struct irq_frame *f)
{
	unsigned int irq = f->vector - IRQ_VECTOR;

	if (f->vector < IRQ_VECTOR)
		fail("exception %u (%s), error code %#x, at ip %#lx",
		     (unsigned int)f->vector,
		     exceptions[f->vector] ? exceptions[f->vector] : "?",
		     (unsigned int)f->error, (unsigned long)f->ip);
	if (irq_handlers[irq])
		irq_handlers[irq](irq);
	pic_eoi(irq);
}

/* The PIT's channel 0 as a rate generator (mode 2) at HZ. */
#define PIT_HZ 1193182
volatile u32 jiffies;

static void timer_tick(unsigned int irq)
{
	(void)irq;
	jiffies++;
}

void timer_start(void)
{
	u16 divisor = PIT_HZ / HZ;

	outb(0x43, 0x34); /* channel 0, lobyte/hibyte, mode 2, binary */
	outb(0x40, divisor & 0xFF);
	outb(0x40, divisor >> 8);
	irq_handler(IRQ_TIMER, timer_tick);
}

/*
 * The 16550A UART.  Registers by offset from 0x3F8; with the divisor
 * latch access bit (DLAB) set in LCR, offsets 0 and 1 are the divisor.
 */
#define UART_RBR 0 /* receive buffer (read) */
#define UART_THR 0 /* transmit holding (write) */
#define UART_DLL 0
#define UART_IER 1
#define UART_DLM 1
#define UART_IIR 2 /* interrupt identification (read) */
#define UART_FCR 2 /* FIFO control (write) */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_IER_RDI 0x01 /* interrupt when data is received */
#define UART_LCR_DLAB 0x80
#define UART_MCR_OUT2 0x08 /* on a PC, gates the UART's IRQ to the PIC */
#define UART_LSR_DR 0x01   /* a received byte is waiting */
#define UART_LSR_THRE 0x20 /* the transmit register is empty */
#define UART_IIR_NO_INT 0x01
#define UART_IIR_ID 0x0E
#define UART_IIR_RDI 0x04	 /* received data available */
#define UART_IIR_RX_TIMEOUT 0x0C /* the same, with the FIFO on */

void uart_init(void)
{
	outb(UART_BASE + UART_IER, 0);
	outb(UART_BASE + UART_LCR, UART_LCR_DLAB);
	outb(UART_BASE + UART_DLL, 1); /* 115200 baud */
	outb(UART_BASE + UART_DLM, 0);
	outb(UART_BASE + UART_LCR, 0x03); /* 8 bits, no parity, 1 stop */
	outb(UART_BASE + UART_FCR, 0x07); /* FIFOs on and cleared */
	outb(UART_BASE + UART_MCR, 0x0B); /* DTR, RTS, OUT2 */
}

void uart_putc(char c)
{
	unsigned int i;

	for (i = 0; i < 100000; i++)
		if (inb(UART_BASE + UART_LSR) & UART_LSR_THRE)
			break;
	outb(UART_BASE + UART_THR, c);
}

/* Received bytes, from the interrupt handler to uart_getc(). */
static u8 rx_buf[256];
static volatile u8 rx_head, rx_tail;
volatile unsigned int uart_rx_irqs, uart_rx_no_reason;

/*
 * The receive interrupt.  IIR names the reason, which must be received
 * data (with the FIFOs on, possibly its timeout flavour): the only
 * interrupt we enabled.  We take every byte LSR says is waiting, and ask
 * IIR again until it says "nothing".  An interrupt for which IIR gives no
 * reason at all is counted: a PIC latches an edge even while its line is
 * masked, so one may come from before we unmasked it.
 */
static void uart_irq(unsigned int irq)
{
	bool reason = false;
	u8 iir;

	(void)irq;
	uart_rx_irqs++;
	while (!((iir = inb(UART_BASE + UART_IIR)) & UART_IIR_NO_INT)) {
		if ((iir & UART_IIR_ID) != UART_IIR_RDI &&
		    (iir & UART_IIR_ID) != UART_IIR_RX_TIMEOUT)
			fail("uart: IIR %#x, an interrupt we did not enable",
			     iir);
		while (inb(UART_BASE + UART_LSR) & UART_LSR_DR) {
			u8 c = inb(UART_BASE + UART_RBR);

			if ((u8)(rx_head + 1) == rx_tail)
				fail("uart: receive buffer overflow");
			rx_buf[rx_head++] = c;
		}
		reason = true;
	}
	if (!reason)
		uart_rx_no_reason++;
}

void uart_rx_irq_start(void)
{
	irq_handler(IRQ_UART, uart_irq);
	outb(UART_BASE + UART_IER, UART_IER_RDI);
}

bool uart_rx_ready(void)
{
	return rx_head != rx_tail;
}

int uart_getc(void)
{
	wait_for(uart_rx_ready(), 20, "UART input");
	return rx_buf[rx_tail++];
}

/*
 * PCI configuration mechanism #1: the address (enable bit, bus, device,
 * function, dword) to 0xCF8, then the data through 0xCFC, at the byte
 * lane of the offset.
 */
#define PCI_CONFIG_ADDRESS 0xCF8
#define PCI_CONFIG_DATA 0xCFC

static void pci_select(unsigned int slot, unsigned int off)
{
	outl(PCI_CONFIG_ADDRESS, 0x80000000 | slot << 11 | (off & 0xFC));
}

u32 pci_read(unsigned int slot, unsigned int off, unsigned int width)
{
	u16 port = PCI_CONFIG_DATA + (off & 3);

	pci_select(slot, off);
	if (width == 1)
		return inb(port);
	if (width == 2)
		return inw(port);
	return inl(port);
}

void pci_write(unsigned int slot, unsigned int off, unsigned int width, u32 val)
{
	u16 port = PCI_CONFIG_DATA + (off & 3);

	pci_select(slot, off);
	if (width == 1)
		outb(port, val);
	else if (width == 2)
		outw(port, val);
	else
		outl(port, val);
}

int pci_find(u16 vendor, u16 device)
{
	unsigned int slot;

	for (slot = 0; slot < 32; slot++)
		if (pci_read(slot, PCI_VENDOR_ID, 2) == vendor &&
		    pci_read(slot, PCI_DEVICE_ID, 2) == device)
			return slot;
	return -1;
}

u32 pci_bar_addr(unsigned int slot, unsigned int bar)
{
	u32 lo = pci_read(slot, PCI_BASE_ADDRESS_0 + 4 * bar, 4);

	if (lo & 1)
		fail("pci 00:%02x.0: BAR%u is an I/O BAR", slot, bar);
	/* Type 2: a 64-bit BAR, whose upper half must be 0 for us. */
	if ((lo & 6) == 4 &&
	    pci_read(slot, PCI_BASE_ADDRESS_0 + 4 * bar + 4, 4))
		fail("pci 00:%02x.0: BAR%u is above 4 GiB", slot, bar);
	return lo & ~0xFu;
}

/* Write all ones, read back which address bits stuck at 0, restore. */
u32 pci_bar_size(unsigned int slot, unsigned int bar)
{
	unsigned int off = PCI_BASE_ADDRESS_0 + 4 * bar;
	u32 old = pci_read(slot, off, 4), mask;

	pci_write(slot, off, 4, 0xFFFFFFFF);
	mask = pci_read(slot, off, 4) & ~0xFu;
	pci_write(slot, off, 4, old);
	return ~mask + 1;
}

/*
 * virtio over PCI (virtio 1.0 §4.1).  The device's vendor-specific
 * capabilities say which BAR, and where in it, each structure lives:
 *
 *	cap_vndr (0x09), cap_next, cap_len, cfg_type, bar, padding[3],
 *	offset (le32), length (le32), and for the notify capability
 *	notify_off_multiplier (le32)
 */
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG 3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4

bool virtio_find(struct virtio_dev *vd, const char *name, u16 type)
{
	int slot = pci_find(VIRTIO_VENDOR, VIRTIO_PCI_DEVICE(type));
	unsigned int cap, n;

	memset(vd, 0, sizeof(*vd));
	if (slot < 0)
		return false;
	vd->name = name;
	vd->slot = slot;
	vd->pin = pci_read(slot, PCI_INTERRUPT_PIN, 1);
	vd->line = pci_read(slot, PCI_INTERRUPT_LINE, 1);
	if (!(pci_read(slot, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST))
		fail("%s 00:%02x.0: no capability list", name, slot);

	/* The first structure of each type is the one to use (§4.1.4). */
	cap = pci_read(slot, PCI_CAPABILITY_LIST, 1) & ~3u;
	for (n = 0; cap && n < 48; n++) {
		u8 id = pci_read(slot, cap, 1), cfg_type, bar;
		u32 addr;

		if (id != PCI_CAP_ID_VNDR)
			goto next;
		cfg_type = pci_read(slot, cap + 3, 1);
		bar = pci_read(slot, cap + 4, 1);
		if (bar > 5 || cfg_type < VIRTIO_PCI_CAP_COMMON_CFG ||
		    cfg_type > VIRTIO_PCI_CAP_DEVICE_CFG)
			goto next;
		addr = pci_bar_addr(slot, bar) + pci_read(slot, cap + 8, 4);
		switch (cfg_type) {
		case VIRTIO_PCI_CAP_COMMON_CFG:
			if (!vd->common) {
				vd->common = addr;
				vd->bar = bar;
				vd->bar_addr = pci_bar_addr(slot, bar);
			}
			break;
		case VIRTIO_PCI_CAP_NOTIFY_CFG:
			if (!vd->notify) {
				vd->notify = addr;
				vd->notify_mul = pci_read(slot, cap + 16, 4);
			}
			break;
		case VIRTIO_PCI_CAP_ISR_CFG:
			vd->isr = vd->isr ? vd->isr : addr;
			break;
		case VIRTIO_PCI_CAP_DEVICE_CFG:
			vd->device = vd->device ? vd->device : addr;
			break;
		}
next:
		cap = pci_read(slot, cap + 1, 1) & ~3u;
	}
	if (!vd->common || !vd->notify || !vd->isr)
		fail("%s 00:%02x.0: capabilities missing (common %#x, notify "
		     "%#x, isr %#x)",
		     name, slot, vd->common, vd->notify, vd->isr);

	/* Let it answer at its BARs and reach our memory: 16 bits, always. */
	pci_write(slot, PCI_COMMAND, 2,
		  pci_read(slot, PCI_COMMAND, 2) | PCI_COMMAND_MEMORY |
			  PCI_COMMAND_MASTER);
	return true;
}

u32 vcommon_read(struct virtio_dev *vd, unsigned int off, unsigned int width)
{
	if (width == 1)
		return readb(vd->common + off);
	if (width == 2)
		return readw(vd->common + off);
	return readl(vd->common + off);
}

void vcommon_write(struct virtio_dev *vd, unsigned int off, unsigned int width,
		   u32 val)
{
	if (width == 1)
		writeb(vd->common + off, val);
	else if (width == 2)
		writew(vd->common + off, val);
	else
		writel(vd->common + off, val);
}

static u8 vstatus(struct virtio_dev *vd)
{
	return vcommon_read(vd, VIRTIO_PCI_DEVICE_STATUS, 1);
}

static void vstatus_add(struct virtio_dev *vd, u8 bit)
{
	vcommon_write(vd, VIRTIO_PCI_DEVICE_STATUS, 1, vstatus(vd) | bit);
}

/* The initialization sequence of §3.1.1, up to FEATURES_OK. */
u64 virtio_start(struct virtio_dev *vd, u64 want)
{
	u64 accept;

	vcommon_write(vd, VIRTIO_PCI_DEVICE_STATUS, 1, 0); /* reset */
	if (vstatus(vd))
		fail("%s: device_status %#x after reset", vd->name,
		     vstatus(vd));
	vstatus_add(vd, VIRTIO_STATUS_ACKNOWLEDGE);
	vstatus_add(vd, VIRTIO_STATUS_DRIVER);

	vcommon_write(vd, VIRTIO_PCI_DEVICE_FEATURE_SELECT, 4, 0);
	vd->features = vcommon_read(vd, VIRTIO_PCI_DEVICE_FEATURE, 4);
	vcommon_write(vd, VIRTIO_PCI_DEVICE_FEATURE_SELECT, 4, 1);
	vd->features |= (u64)vcommon_read(vd, VIRTIO_PCI_DEVICE_FEATURE, 4)
			<< 32;
	if (!(vd->features >> VIRTIO_F_VERSION_1 & 1))
		fail("%s: the device does not offer VIRTIO_F_VERSION_1",
		     vd->name);

	accept = (want & vd->features) | 1ULL << VIRTIO_F_VERSION_1;
	vcommon_write(vd, VIRTIO_PCI_DRIVER_FEATURE_SELECT, 4, 0);
	vcommon_write(vd, VIRTIO_PCI_DRIVER_FEATURE, 4, (u32)accept);
	vcommon_write(vd, VIRTIO_PCI_DRIVER_FEATURE_SELECT, 4, 1);
	vcommon_write(vd, VIRTIO_PCI_DRIVER_FEATURE, 4, accept >> 32);

	vstatus_add(vd, VIRTIO_STATUS_FEATURES_OK);
	if (!(vstatus(vd) & VIRTIO_STATUS_FEATURES_OK))
		fail("%s: the device refused our features", vd->name);
	return accept;
}

/*
 * Queue set-up (§4.1.5.1.3): size, the three parts, then enable.  Each
 * part's address is 64 bits wide, written as two 32-bit halves, low first.
 */
static void vqueue_addr(struct virtio_dev *vd, unsigned int off, void *part)
{
	u64 addr = (unsigned long)part;

	vcommon_write(vd, off, 4, (u32)addr);
	vcommon_write(vd, off + 4, 4, addr >> 32);
}

void virtq_setup_at(struct virtio_dev *vd, struct virtq *vq, u16 index,
		    u16 size, void *desc, void *avail, void *used)
{
	u16 max;

	memset(vq, 0, sizeof(*vq));
	vq->vd = vd;
	vq->index = index;
	vcommon_write(vd, VIRTIO_PCI_QUEUE_SELECT, 2, index);
	max = vcommon_read(vd, VIRTIO_PCI_QUEUE_SIZE, 2);
	if (!max)
		fail("%s: queue %u does not exist", vd->name, index);
	vq->size = size < max ? size : max;
	vcommon_write(vd, VIRTIO_PCI_QUEUE_SIZE, 2, vq->size);

	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	vqueue_addr(vd, VIRTIO_PCI_QUEUE_DESC, desc);
	vqueue_addr(vd, VIRTIO_PCI_QUEUE_AVAIL, avail);
	vqueue_addr(vd, VIRTIO_PCI_QUEUE_USED, used);

	vq->notify = vd->notify +
		     vd->notify_mul *
			     vcommon_read(vd, VIRTIO_PCI_QUEUE_NOTIFY_OFF, 2);
	vcommon_write(vd, VIRTIO_PCI_QUEUE_ENABLE, 2, 1);
}

/* ... with the three parts from the pool, zeroed. */
void virtq_setup(struct virtio_dev *vd, struct virtq *vq, u16 index, u16 size)
{
	virtq_setup_at(vd, vq, index, size, alloc(16 * size, 16),
		       alloc(6 + 2 * size, 2), alloc(6 + 8 * size, 4));
}

void virtio_driver_ok(struct virtio_dev *vd)
{
	vstatus_add(vd, VIRTIO_STATUS_DRIVER_OK);
}

u16 virtq_add(struct virtq *vq, const struct vbuf *bufs, unsigned int n)
{
	u16 head = vq->next_desc;
	unsigned int i;
	volatile u16 *idx = &vq->avail->idx;

	for (i = 0; i < n; i++) {
		struct vring_desc *d = &vq->desc[vq->next_desc];

		vq->next_desc = (vq->next_desc + 1) % vq->size;
		d->addr = (unsigned long)bufs[i].addr;
		d->len = bufs[i].len;
		d->flags = (bufs[i].write ? VRING_DESC_F_WRITE : 0) |
			   (i + 1 < n ? VRING_DESC_F_NEXT : 0);
		d->next = i + 1 < n ? vq->next_desc : 0;
	}
	vq->avail->ring[*idx % vq->size] = head;
	/* The entry before the index that publishes it (§2.4.7.2). */
	barrier();
	*idx = *idx + 1;
	barrier();
	return head;
}

/* A 16-bit write of the queue's index to its notify address (§4.1.4.4). */
void virtq_kick(struct virtq *vq)
{
	writew(vq->notify, vq->index);
}

bool virtq_has_used(struct virtq *vq)
{
	return vq->used->idx != vq->last_used;
}

u16 virtq_take(struct virtq *vq, u32 *len)
{
	volatile struct vring_used_elem *e;

	if (!virtq_has_used(vq))
		fail("%s: no used buffer to take", vq->vd->name);
	/* The index before the entry it published. */
	barrier();
	e = &vq->used->ring[vq->last_used++ % vq->size];
	*len = e->len;
	return e->id;
}

/*
 * A virtio-blk request (§5.2.6): the header the device reads, the data,
 * then the status byte it writes.  A flush has no data.
 */
struct virtio_blk_req {
	u32 type;
	u32 reserved;
	u64 sector;
};

u8 blk_request(struct virtq *vq, u32 type, u32 sector, void *buf, u32 len)
{
	static struct virtio_blk_req hdr;
	static volatile u8 status;
	struct vbuf parts[3];
	unsigned int n = 0;
	u16 head, used_head;
	u32 written;

	hdr.type = type;
	hdr.sector = sector;
	status = 0xFF;
	parts[n++] = (struct vbuf){ &hdr, sizeof(hdr), false };
	if (type != VIRTIO_BLK_T_FLUSH)
		parts[n++] = (struct vbuf){ buf, len, type == VIRTIO_BLK_T_IN };
	parts[n++] = (struct vbuf){ (void *)&status, 1, true };
	head = virtq_add(vq, parts, n);
	virtq_kick(vq);
	wait_for(virtq_has_used(vq), 20, "a block request");
	used_head = virtq_take(vq, &written);
	if (used_head != head)
		fail("block: used buffer %u, but we made %u available",
		     used_head, head);
	return status;
}

/*
 * The boot counter.  Sector 0 of the block device reads "lguest boots N"
 * (N in decimal), or anything else for none yet.
 */
static const char boots_tag[] = "lguest boots ";

unsigned int boot_count_bump(void)
{
	static u8 sector[512] __attribute__((aligned(512)));
	static struct virtio_dev vd;
	static struct virtq vq;
	unsigned int count = 0, i, n, len = sizeof(boots_tag) - 1;
	char digits[12];
	u64 features;
	u8 st;

	timer_start();
	if (!virtio_find(&vd, "block", VIRTIO_ID_BLOCK))
		fail("no virtio block device for the boot counter");
	features = virtio_start(&vd, 1ULL << VIRTIO_BLK_F_FLUSH);
	virtq_setup(&vd, &vq, 0, 8);
	virtio_driver_ok(&vd);

	st = blk_request(&vq, VIRTIO_BLK_T_IN, 0, sector, sizeof(sector));
	if (st != VIRTIO_BLK_S_OK)
		fail("block: reading sector 0: status %u", st);
	if (!memcmp(sector, boots_tag, len))
		for (i = len; sector[i] >= '0' && sector[i] <= '9'; i++)
			count = count * 10 + sector[i] - '0';
	count++;

	memset(sector, 0, sizeof(sector));
	memcpy(sector, boots_tag, len);
	for (i = count, n = 0; i; i /= 10)
		digits[n++] = '0' + i % 10;
	while (n)
		sector[len++] = digits[--n];
	sector[len] = '\n';

	st = blk_request(&vq, VIRTIO_BLK_T_OUT, 0, sector, sizeof(sector));
	if (st != VIRTIO_BLK_S_OK)
		fail("block: writing sector 0: status %u", st);
	if (features >> VIRTIO_BLK_F_FLUSH & 1) {
		st = blk_request(&vq, VIRTIO_BLK_T_FLUSH, 0, NULL, 0);
		if (st != VIRTIO_BLK_S_OK)
			fail("block: flush: status %u", st);
	}
	return count;
}

/* start.S calls this on its stack, with its GDT and a cleared bss. */
void kernel_main(void);
void kernel_main(void)
{
	uart_init();
	idt_init();
	main();
	poweroff();
}

u8 acpi_sum(const void *p, u32 len)
{
	const u8 *b = p;
	u8 s = 0;

	while (len--)
		s += *b++;
	return s;
}
