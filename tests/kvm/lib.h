/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lib.h: what the freestanding test programs of tests/kvm/ and
 * tests/kvm64/ share.
 *
 * Each program is a tiny i386 "kernel": lguest --kvm loads it at 1 MiB
 * and enters it in flat 32-bit protected mode with interrupts and paging
 * off (QEMU's -kernel does the same through the multiboot header).
 * start.S gives it a GDT, a stack and an IDT, then calls main().  The
 * programs of tests/kvm64/ are x86-64 ones, entered in long mode with the
 * low 4 GiB identity-mapped; their own start.S does the same for them,
 * and this library compiles for both (an address is an unsigned long, as
 * wide as a pointer).  From there a program talks to the machine as a
 * small driver would: ports, the 8259 PIC and the PIT, a 16550A UART on
 * 0x3F8 (where everything it prints goes), PCI configuration mechanism
 * #1, and a virtio 1.0 PCI driver with one split virtqueue.  It ends by
 * powering the machine off (ACPI, port 0x604), or by rebooting it (the
 * i8042 reset line).
 *
 * A check that fails prints "FAIL: what" and powers off; the tests look
 * for the lines a program prints, so a program that fails says so.
 */
#ifndef LGUEST_TESTS_KVM_LIB_H
#define LGUEST_TESTS_KVM_LIB_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define noreturn __attribute__((noreturn))
#define printf_like(f, a) __attribute__((format(printf, f, a)))

/* Each program's own code, called once the machine is set up. */
void main(void);

/* The multiboot magic in %eax at entry: set when QEMU's -kernel booted us. */
extern u32 boot_magic;
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002

/* The machine as start.S found it at the entry point. */
#ifdef __x86_64__
extern u64 entry_rsi, entry_rflags;
#else
extern u32 entry_esi, entry_cr0, entry_eflags;
#endif
extern u16 entry_cs, entry_ds, entry_ss;

/*
 * Ports and memory-mapped registers.
 */
static inline void outb(u16 port, u8 v)
{
	asm volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outw(u16 port, u16 v)
{
	asm volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(u16 port, u32 v)
{
	asm volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline u8 inb(u16 port)
{
	u8 v;

	asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline u16 inw(u16 port)
{
	u16 v;

	asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline u32 inl(u16 port)
{
	u32 v;

	asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/*
 * Paging is off (i386) or maps the low 4 GiB one to one (x86-64), so a
 * physical address is a pointer.  Each accessor is one plain mov of its
 * width, the instruction a hypervisor sees as MMIO.
 */
static inline u8 readb(unsigned long addr)
{
	return *(volatile u8 *)addr;
}

static inline u16 readw(unsigned long addr)
{
	return *(volatile u16 *)addr;
}

static inline u32 readl(unsigned long addr)
{
	return *(volatile u32 *)addr;
}

static inline void writeb(unsigned long addr, u8 v)
{
	*(volatile u8 *)addr = v;
}

static inline void writew(unsigned long addr, u16 v)
{
	*(volatile u16 *)addr = v;
}

static inline void writel(unsigned long addr, u32 v)
{
	*(volatile u32 *)addr = v;
}

/*
 * One CPU, and the device's side runs on the host: x86 keeps stores in
 * order, so the compiler is all that must be kept from reordering.
 */
#define barrier() asm volatile("" : : : "memory")

static inline void cli(void)
{
	asm volatile("cli" : : : "memory");
}

static inline void sti(void)
{
	asm volatile("sti" : : : "memory");
}

/*
 * Sleep until an interrupt.  The instruction after sti runs before any
 * interrupt is taken, so one that arrives between a check made with
 * interrupts off and the hlt still wakes us.  Returns with them off.
 */
static inline void sti_hlt(void)
{
	asm volatile("sti; hlt; cli" : : : "memory");
}

/*
 * Output: everything goes to the UART.  printf knows %c %s %d %u %x %p,
 * with '#' (0x), '0' padding, a field width, a precision for %s, and 'l'
 * for an unsigned long %u or %x (64 bits wide on x86-64 only).  "\n" goes
 * out as "\r\n".
 */
void putchar(int c);
void puts(const char *s);
int printf(const char *fmt, ...) printf_like(1, 2);
int vprintf(const char *fmt, va_list ap);
void noreturn fail(const char *fmt, ...) printf_like(1, 2);

void *memset(void *s, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* Zeroed memory from a small static pool, never freed. */
void *alloc(size_t size, size_t align);

/*
 * The end of the machine: ACPI soft-off (SLP_TYP 5, SLP_EN, to the PM1a
 * control block at 0x604) and the i8042's reset pulse (0xFE to port 0x64).
 */
#define ACPI_PM1A_CNT 0x604
#define ACPI_SLP_TYP_S5 (5 << 10)
#define ACPI_SLP_EN (1 << 13)
void noreturn poweroff(void);
void noreturn reboot(void);

/*
 * Interrupts.  start.S's IDT sends the CPU exceptions (vectors 0-31) to a
 * handler that fails the program, and the sixteen 8259 lines to vectors
 * 0x20-0x2F.  pic_init() programs the PIC pair that way, every line
 * masked; irq_handler() installs a handler and unmasks its line.  The
 * handler runs with interrupts off; the line is acknowledged (EOI) after
 * it returns.
 */
#define IRQ_VECTOR 0x20
#define IRQ_TIMER 0
#define IRQ_UART 4
void pic_init(void);
void irq_handler(unsigned int irq, void (*fn)(unsigned int irq));
void irq_mask(unsigned int irq);

/* The PIT on IRQ 0, HZ ticks a second: for timeouts. */
#define HZ 100
extern volatile u32 jiffies;
void timer_start(void);

/*
 * wait_for(cond, seconds, what): sleep (sti; hlt) until cond holds,
 * checking it with interrupts off; fail naming 'what' once 'seconds' have
 * passed.  The timer must be running.
 */
#define wait_for(cond, seconds, what)                                      \
	do {                                                               \
		u32 __end = jiffies + (seconds)*HZ;                        \
		for (cli(); !(cond); sti_hlt())                            \
			if ((int)(jiffies - __end) >= 0)                   \
				fail("timed out after %us waiting for %s", \
				     (unsigned int)(seconds), what);       \
	} while (0)

/*
 * The 16550A UART at 0x3F8 (COM1), 115200 8N1.  uart_rx_irq_start()
 * enables its receive interrupt (IER bit 0) on IRQ 4; received bytes wait
 * for uart_getc() in a small buffer (which fails after 20 seconds without
 * one; the timer must be running).
 */
#define UART_BASE 0x3F8
void uart_init(void);
void uart_putc(char c);
void uart_rx_irq_start(void);
bool uart_rx_ready(void);
int uart_getc(void);
/* Receive interrupts taken; those of them for which IIR gave no reason. */
extern volatile unsigned int uart_rx_irqs, uart_rx_no_reason;

/*
 * PCI configuration mechanism #1: bus 0, function 0, device 'slot'.
 * Accesses are the width asked for, in the right byte lane of 0xCFC.
 */
u32 pci_read(unsigned int slot, unsigned int off, unsigned int width);
void pci_write(unsigned int slot, unsigned int off, unsigned int width,
	       u32 val);
/* The first slot holding vendor:device, or -1. */
int pci_find(u16 vendor, u16 device);
/* A memory BAR's address (it must lie below 4 GiB), and its size. */
u32 pci_bar_addr(unsigned int slot, unsigned int bar);
u32 pci_bar_size(unsigned int slot, unsigned int bar);

#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4
#define PCI_STATUS 0x06
#define PCI_STATUS_CAP_LIST 0x10
#define PCI_REVISION_ID 0x08
#define PCI_BASE_ADDRESS_0 0x10
#define PCI_CAPABILITY_LIST 0x34
#define PCI_INTERRUPT_LINE 0x3C
#define PCI_INTERRUPT_PIN 0x3D
#define PCI_CAP_ID_VNDR 0x09

/*
 * A virtio 1.0 PCI device (virtio 1.0 §4.1), driven through the
 * structures its vendor capabilities point at.
 */
#define VIRTIO_VENDOR 0x1AF4
#define VIRTIO_PCI_DEVICE(type) (0x1040 + (type))
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_RNG 4

/* device_status bits (§2.1) */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_F_VERSION_1 32

/* The common configuration structure's fields, by offset (§4.1.4.3). */
#define VIRTIO_PCI_DEVICE_FEATURE_SELECT 0
#define VIRTIO_PCI_DEVICE_FEATURE 4
#define VIRTIO_PCI_DRIVER_FEATURE_SELECT 8
#define VIRTIO_PCI_DRIVER_FEATURE 12
#define VIRTIO_PCI_MSIX_CONFIG 16
#define VIRTIO_PCI_NUM_QUEUES 18
#define VIRTIO_PCI_DEVICE_STATUS 20
#define VIRTIO_PCI_CONFIG_GENERATION 21
#define VIRTIO_PCI_QUEUE_SELECT 22
#define VIRTIO_PCI_QUEUE_SIZE 24
#define VIRTIO_PCI_QUEUE_MSIX_VECTOR 26
#define VIRTIO_PCI_QUEUE_ENABLE 28
#define VIRTIO_PCI_QUEUE_NOTIFY_OFF 30
#define VIRTIO_PCI_QUEUE_DESC 32
#define VIRTIO_PCI_QUEUE_AVAIL 40
#define VIRTIO_PCI_QUEUE_USED 48

/* ISR status bits (§4.1.4.5) */
#define VIRTIO_ISR_QUEUE 1
#define VIRTIO_ISR_CONFIG 2

struct virtio_dev {
	const char *name;
	unsigned int slot;
	u8 pin, line; /* interrupt pin (1 = INTA) and line */
	u8 bar;	      /* the BAR holding the common configuration... */
	u32 bar_addr; /* ... and where it is */
	u32 common;   /* where the structures are mapped */
	u32 notify;
	u32 notify_mul; /* notify_off_multiplier */
	u32 isr;
	u32 device;   /* device-specific configuration; 0 if none */
	u64 features; /* what the device offered */
};

/* The split virtqueue's parts in guest memory (§2.4). */
#define VRING_DESC_F_NEXT 1
#define VRING_DESC_F_WRITE 2

struct vring_desc {
	u64 addr;
	u32 len;
	u16 flags;
	u16 next;
};

struct vring_avail {
	u16 flags;
	u16 idx;
	u16 ring[];
};

struct vring_used_elem {
	u32 id;
	u32 len;
};

struct vring_used {
	u16 flags;
	u16 idx;
	struct vring_used_elem ring[];
};

struct virtq {
	struct virtio_dev *vd;
	u16 index;
	u16 size;
	u32 notify; /* this queue's notification address */
	struct vring_desc *desc;
	struct vring_avail *avail;
	volatile struct vring_used *used;
	u16 next_desc; /* descriptors are handed out round the table */
	u16 last_used; /* the next used entry we have not looked at */
};

/* One part of a buffer: 'write' if the device writes it. */
struct vbuf {
	void *addr;
	u32 len;
	bool write;
};

/*
 * virtio_find: the first device of 'type' on bus 0; its capabilities
 * walked, its interrupt pin and line read, bus mastering and memory
 * decoding on.  False if there is none.
 */
bool virtio_find(struct virtio_dev *vd, const char *name, u16 type);
/* Common configuration registers, each at its own width (§4.1.3.1). */
u32 vcommon_read(struct virtio_dev *vd, unsigned int off, unsigned int width);
void vcommon_write(struct virtio_dev *vd, unsigned int off, unsigned int width,
		   u32 val);
/*
 * virtio_start: reset, ACKNOWLEDGE, DRIVER, read the device's features,
 * accept VERSION_1 and those of 'want' it offers, FEATURES_OK and check it
 * stuck (§3.1.1).  Returns the features accepted.
 */
u64 virtio_start(struct virtio_dev *vd, u64 want);
/* Set up queue 'index' with 'size' entries (at most the device's). */
void virtq_setup(struct virtio_dev *vd, struct virtq *vq, u16 index, u16 size);
/*
 * ... with its three parts where the caller says, each aligned (to 16, 2
 * and 4 bytes) and big enough for 'size' entries (16 * size, 6 + 2 * size
 * and 6 + 8 * size bytes), the used ring's flags zeroed.  Only virtq_add()
 * and virtq_take() touch them, so a part that is not memory may be given,
 * to see the device refuse it.
 */
void virtq_setup_at(struct virtio_dev *vd, struct virtq *vq, u16 index,
		    u16 size, void *desc, void *avail, void *used);
/* DRIVER_OK: the device is live. */
void virtio_driver_ok(struct virtio_dev *vd);
/* Chain 'n' parts into descriptors and make it available; its head. */
u16 virtq_add(struct virtq *vq, const struct vbuf *bufs, unsigned int n);
void virtq_kick(struct virtq *vq);
/* Has the device used a buffer we have not taken yet? */
bool virtq_has_used(struct virtq *vq);
/* Take the next used buffer: its head, and the bytes written ('len'). */
u16 virtq_take(struct virtq *vq, u32 *len);

/*
 * virtio-blk (§5.2): one request at a time, waited for (timer needed).
 * Returns the status byte the device wrote.
 */
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_S_OK 0
u8 blk_request(struct virtq *vq, u32 type, u32 sector, void *buf, u32 len);

/*
 * The boot counter of reboot.c and triple.c: a virtio block device whose
 * sector 0 begins with "lguest boots N\n".  Bumps N, writes it back,
 * flushes, and returns the new N.
 */
unsigned int boot_count_bump(void);

/* An entry of boot_params' e820 map. */
struct e820_entry {
	u64 addr;
	u64 size;
	u32 type;
} __attribute__((packed));

/* ACPI: a table's common header, and the byte sum that must come to 0. */
struct acpi_header {
	char sig[4];
	u32 len;
	u8 rev;
	u8 sum;
	char oem[6];
	char oem_table[8];
	u32 oem_rev;
	u32 creator;
	u32 creator_rev;
} __attribute__((packed));
u8 acpi_sum(const void *p, u32 len);

#endif
