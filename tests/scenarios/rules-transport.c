// SPDX-License-Identifier: GPL-2.0
/*
 * scenarios/rules-transport.c: drivers that break a rule of the virtio
 * PCI transport, one rule each: the common configuration's registers and
 * their widths, device_status, feature negotiation, queue set-up,
 * notification, ISR status, the device configuration and the PCI
 * configuration access window (virtio 1.0 §2.1, §2.2, §2.4, §3.1, §4.1).
 *
 * Every scenario is a driver that does everything right up to one step,
 * and gets that one step wrong.  The launcher must stop there, in the
 * trap of that very instruction, saying which device, which rule and
 * which section; tests/t-rules.sh runs each scenario and checks the
 * message.  A launcher that lets the wrong step pass lets the scenario
 * run on into should_have_stopped(), and the guest dies saying so.
 *
 * The comment on each scenario gives the number of the original
 * launcher's check it answers (tests/RULES.md has the table), or says
 * that the check is one lguest adds.
 *
 * Most scenarios drive the console, which every guest has (slot 1, with
 * 12 bytes of device configuration: BAR0 holds 72 bytes of registers);
 * those about a device without configuration drive the entropy device
 * (--rng: slot 2, 60 bytes of registers).
 */
#include <stddef.h>

#include <linux/virtio_console.h>
#include <linux/virtio_pci.h>

#include "../virtio.h"

#define CONSOLE_SLOT 1
#define RNG_SLOT 2

#define ACK VIRTIO_CONFIG_S_ACKNOWLEDGE
#define DRIVER VIRTIO_CONFIG_S_DRIVER
#define FEATURES_OK VIRTIO_CONFIG_S_FEATURES_OK
#define DRIVER_OK VIRTIO_CONFIG_S_DRIVER_OK

/* The console's feature we may accept, and one it does not offer. */
#define OFFERED_EMERG_WRITE BIT_ULL(VIRTIO_CONSOLE_F_EMERG_WRITE)
#define UNOFFERED_MULTIPORT BIT_ULL(VIRTIO_CONSOLE_F_MULTIPORT)

/*
 * The launcher let the wrong step through: the driver carries on, and the
 * guest dies saying what went unnoticed.
 */
static void __noreturn should_have_stopped(const char *what)
{
	guest_fail("the launcher let a driver %s", what);
}

/* A register of the common configuration, as an address. */
static u64 common(struct vdev *d, unsigned int off)
{
	return d->common + off;
}

static void set_status(struct vdev *d, u8 status)
{
	writeb(status, common(d, VIRTIO_PCI_COMMON_STATUS));
}

/*
 * The first steps of §3.1.1, each scenario taking as many as it needs:
 * found and reset, then ACKNOWLEDGE, then DRIVER.
 */
static struct vdev *found(unsigned int slot)
{
	struct vdev *d = vp_probe(slot);

	vp_reset(d);
	return d;
}

static struct vdev *acknowledged(unsigned int slot)
{
	struct vdev *d = found(slot);

	set_status(d, ACK);
	return d;
}

static struct vdev *driver_set(unsigned int slot)
{
	struct vdev *d = acknowledged(slot);

	set_status(d, ACK | DRIVER);
	return d;
}

/* Our half of the features: both words, through driver_feature_select. */
static void accept_features(struct vdev *d, u64 features)
{
	writel(0, common(d, VIRTIO_PCI_COMMON_GFSELECT));
	writel((u32)features, common(d, VIRTIO_PCI_COMMON_GF));
	writel(1, common(d, VIRTIO_PCI_COMMON_GFSELECT));
	writel((u32)(features >> 32), common(d, VIRTIO_PCI_COMMON_GF));
}

/*
 * Up to FEATURES_OK, but without step 6: the driver does not read
 * device_status back to see whether the device took its features.
 */
static struct vdev *features_ok_unread(unsigned int slot)
{
	struct vdev *d = driver_set(slot);

	d->features = vp_device_features(d);
	accept_features(d, BIT_ULL(VIRTIO_F_VERSION_1));
	set_status(d, ACK | DRIVER | FEATURES_OK);
	return d;
}

/* The whole of steps 1-6: the features settled and confirmed. */
static struct vdev *negotiated(unsigned int slot)
{
	struct vdev *d = vp_probe(slot);

	vp_init(d, 0);
	return d;
}

/*
 * A virtqueue laid out in guest memory the way §2.4 asks (zeroed, each
 * part at its alignment), for the scenarios that program the queue
 * registers themselves.  Each part starts a page of its own, so that the
 * addresses in the launcher's messages end in 000 but where a scenario
 * moves a part.
 */
struct layout {
	u16 num;
	u64 desc, avail, used;
};

static struct layout lay_out(u16 num)
{
	struct layout q = { .num = num };

	if (num > 256)
		guest_fail("lay_out: %u entries do not fit a page a part", num);
	q.desc = phys_alloc(3 * PAGE_SIZE, PAGE_SIZE);
	q.avail = q.desc + PAGE_SIZE;
	q.used = q.avail + PAGE_SIZE;
	return q;
}

static void write_addr(struct vdev *d, unsigned int lo, u64 gpa)
{
	writel((u32)gpa, common(d, lo));
	writel((u32)(gpa >> 32), common(d, lo + 4));
}

/* §4.1.5.1.3 up to, not including, queue_enable. */
static void program_queue(struct vdev *d, u16 index, const struct layout *q)
{
	writew(index, common(d, VIRTIO_PCI_COMMON_Q_SELECT));
	check_eq(readw(common(d, VIRTIO_PCI_COMMON_Q_SIZE)), 256,
		 "queue_size before we choose ours");
	writew(q->num, common(d, VIRTIO_PCI_COMMON_Q_SIZE));
	write_addr(d, VIRTIO_PCI_COMMON_Q_DESCLO, q->desc);
	write_addr(d, VIRTIO_PCI_COMMON_Q_AVAILLO, q->avail);
	write_addr(d, VIRTIO_PCI_COMMON_Q_USEDLO, q->used);
}

static void enable_queue(struct vdev *d)
{
	writew(1, common(d, VIRTIO_PCI_COMMON_Q_ENABLE));
}

/*
 * device_status (§2.1, §3.1.1).
 */

/* #24, §2.1.1: DRIVER set, then taken back. */
static void rule_status_clear_bit(void)
{
	struct vdev *d = driver_set(CONSOLE_SLOT);

	set_status(d, ACK);
	should_have_stopped("clear DRIVER");
}
SCENARIO(rule_status_clear_bit);

/* #25, §3.1.1: a bit virtio 1.0 does not define (0x20). */
static void rule_status_unknown_bit(void)
{
	struct vdev *d = acknowledged(CONSOLE_SLOT);

	set_status(d, ACK | 0x20);
	should_have_stopped("set status bit 0x20");
}
SCENARIO(rule_status_unknown_bit);

/* #25, §3.1.1: ACKNOWLEDGE and DRIVER in one write. */
static void rule_status_two_steps(void)
{
	struct vdev *d = found(CONSOLE_SLOT);

	set_status(d, ACK | DRIVER);
	should_have_stopped("set ACKNOWLEDGE and DRIVER at once");
}
SCENARIO(rule_status_two_steps);

/* #26, §3.1.1: DRIVER straight after the reset, without ACKNOWLEDGE. */
static void rule_status_skip_acknowledge(void)
{
	struct vdev *d = found(CONSOLE_SLOT);

	set_status(d, DRIVER);
	should_have_stopped("set DRIVER without ACKNOWLEDGE");
}
SCENARIO(rule_status_skip_acknowledge);

/* #26, §3.1.1: DRIVER_OK with no FEATURES_OK before it. */
static void rule_status_skip_features_ok(void)
{
	struct vdev *d = driver_set(CONSOLE_SLOT);

	d->features = vp_device_features(d);
	accept_features(d, BIT_ULL(VIRTIO_F_VERSION_1));
	set_status(d, ACK | DRIVER | DRIVER_OK);
	should_have_stopped("set DRIVER_OK without FEATURES_OK");
}
SCENARIO(rule_status_skip_features_ok);

/*
 * #27, §3.1.1 step 6: FEATURES_OK, then DRIVER_OK without reading
 * device_status in between to see that the device kept FEATURES_OK.
 */
static void rule_status_driver_ok_unread(void)
{
	struct vdev *d = features_ok_unread(CONSOLE_SLOT);

	set_status(d, ACK | DRIVER | FEATURES_OK | DRIVER_OK);
	should_have_stopped("set DRIVER_OK without re-reading FEATURES_OK");
}
SCENARIO(rule_status_driver_ok_unread);

/*
 * Feature negotiation (§2.2, §3.1.1 steps 4 and 5).
 */

/* #45, §3.1.1: device_feature read before DRIVER says who is asking. */
static void rule_feature_read_before_driver(void)
{
	struct vdev *d = acknowledged(CONSOLE_SLOT);

	readl(common(d, VIRTIO_PCI_COMMON_DF));
	should_have_stopped("read device_feature before DRIVER");
}
SCENARIO(rule_feature_read_before_driver);

/* #40, §3.1.1: features accepted before DRIVER. */
static void rule_feature_write_before_driver(void)
{
	struct vdev *d = acknowledged(CONSOLE_SLOT);

	accept_features(d, BIT_ULL(VIRTIO_F_VERSION_1));
	should_have_stopped("write its features before DRIVER");
}
SCENARIO(rule_feature_write_before_driver);

/* #41, §3.1.1 step 5: features settled, and then changed. */
static void rule_feature_write_after_features_ok(void)
{
	struct vdev *d = negotiated(CONSOLE_SLOT);

	accept_features(d, BIT_ULL(VIRTIO_F_VERSION_1) | OFFERED_EMERG_WRITE);
	should_have_stopped("change its features after FEATURES_OK");
}
SCENARIO(rule_feature_write_after_features_ok);

/* #22, §4.1.4.3: a third word of features, bits 64-95. */
static void rule_feature_select_above_1(void)
{
	struct vdev *d = driver_set(CONSOLE_SLOT);

	d->features = vp_device_features(d);
	accept_features(d, BIT_ULL(VIRTIO_F_VERSION_1));
	writel(2, common(d, VIRTIO_PCI_COMMON_GFSELECT));
	should_have_stopped("select driver feature word 2");
}
SCENARIO(rule_feature_select_above_1);

/* #23, §2.2.1: MULTIPORT accepted, though the console never offered it. */
static void rule_feature_over_accept(void)
{
	struct vdev *d = driver_set(CONSOLE_SLOT);

	d->features = vp_device_features(d);
	check_eq(d->features, BIT_ULL(VIRTIO_F_VERSION_1) | OFFERED_EMERG_WRITE,
		 "the console offers VERSION_1 and EMERG_WRITE");
	writel(0, common(d, VIRTIO_PCI_COMMON_GFSELECT));
	writel((u32)(OFFERED_EMERG_WRITE | UNOFFERED_MULTIPORT),
	       common(d, VIRTIO_PCI_COMMON_GF));
	should_have_stopped("accept MULTIPORT");
}
SCENARIO(rule_feature_over_accept);

/*
 * Access widths (§4.1.3.1): every field with an access of its own width,
 * at its first byte.  The original checked the width of writes and of the
 * reads it handled field by field; lguest checks every field.
 */

/* #42: a 32-bit field written 16 bits at a time. */
static void rule_width_write32(void)
{
	struct vdev *d = driver_set(CONSOLE_SLOT);

	writew(0, common(d, VIRTIO_PCI_COMMON_DFSELECT));
	should_have_stopped("write device_feature_select with 16 bits");
}
SCENARIO(rule_width_write32);

/* #42: emerg_wr is a 32-bit field too, even for one character. */
static void rule_width_emerg_wr(void)
{
	struct vdev *d = vp_probe(CONSOLE_SLOT);

	writeb('!',
	       d->device + offsetof(struct virtio_console_config, emerg_wr));
	should_have_stopped("write emerg_wr with 8 bits");
}
SCENARIO(rule_width_emerg_wr);

/* #43: a 16-bit field written 32 bits at a time. */
static void rule_width_write16(void)
{
	struct vdev *d = negotiated(CONSOLE_SLOT);

	writel(0, common(d, VIRTIO_PCI_COMMON_Q_SELECT));
	should_have_stopped("write queue_select with 32 bits");
}
SCENARIO(rule_width_write16);

/* #44: device_status is one byte; this driver writes a word. */
static void rule_width_write8(void)
{
	struct vdev *d = found(CONSOLE_SLOT);

	writew(ACK, common(d, VIRTIO_PCI_COMMON_STATUS));
	should_have_stopped("write device_status with 16 bits");
}
SCENARIO(rule_width_write8);

/* #48: ISR status is one byte; this interrupt handler reads a word. */
static void rule_width_read_isr(void)
{
	struct vdev *d = negotiated(CONSOLE_SLOT);

	readw(d->isr);
	should_have_stopped("read ISR status with 16 bits");
}
SCENARIO(rule_width_read_isr);

/* #52: device_feature read 16 bits at a time. */
static void rule_width_read32(void)
{
	struct vdev *d = driver_set(CONSOLE_SLOT);

	writel(0, common(d, VIRTIO_PCI_COMMON_DFSELECT));
	readw(common(d, VIRTIO_PCI_COMMON_DF));
	should_have_stopped("read device_feature with 16 bits");
}
SCENARIO(rule_width_read32);

/* #53: num_queues read as a byte. */
static void rule_width_read16(void)
{
	struct vdev *d = found(CONSOLE_SLOT);

	readb(common(d, VIRTIO_PCI_COMMON_NUMQ));
	should_have_stopped("read num_queues with 8 bits");
}
SCENARIO(rule_width_read16);

/* #54: config_generation read as a word. */
static void rule_width_read8(void)
{
	struct vdev *d = negotiated(CONSOLE_SLOT);

	readw(common(d, VIRTIO_PCI_COMMON_CFGGENERATION));
	should_have_stopped("read config_generation with 16 bits");
}
SCENARIO(rule_width_read8);

/*
 * lguest adds: the queue registers' reads are checked too (the original
 * served them whatever their width).
 */
static void rule_width_read_queue_field(void)
{
	struct vdev *d = negotiated(CONSOLE_SLOT);

	writew(0, common(d, VIRTIO_PCI_COMMON_Q_SELECT));
	readl(common(d, VIRTIO_PCI_COMMON_Q_SIZE));
	should_have_stopped("read queue_size with 32 bits");
}
SCENARIO(rule_width_read_queue_field);

/* lguest adds: a read that starts inside a field, not at its first byte. */
static void rule_width_read_inside_field(void)
{
	struct vdev *d = driver_set(CONSOLE_SLOT);

	writel(0, common(d, VIRTIO_PCI_COMMON_DFSELECT));
	readb(common(d, VIRTIO_PCI_COMMON_DF + 1));
	should_have_stopped("read the second byte of device_feature");
}
SCENARIO(rule_width_read_inside_field);

/* lguest adds: a write inside a field: queue_size's high byte alone. */
static void rule_width_write_inside_field(void)
{
	struct vdev *d = negotiated(CONSOLE_SLOT);

	writew(0, common(d, VIRTIO_PCI_COMMON_Q_SELECT));
	writeb(0, common(d, VIRTIO_PCI_COMMON_Q_SIZE + 1));
	should_have_stopped("write the high byte of queue_size");
}
SCENARIO(rule_width_write_inside_field);

/*
 * lguest adds: a device configuration read not aligned to its width: a
 * 32-bit read of the console's rows and half of max_nr_ports.
 */
static void rule_width_config_misaligned(void)
{
	struct vdev *d = driver_set(CONSOLE_SLOT);

	readl(d->device + offsetof(struct virtio_console_config, rows));
	should_have_stopped("read 32 bits at device configuration offset 2");
}
SCENARIO(rule_width_config_misaligned);

/*
 * Registers the driver may only read (§4.1.4.3.2), and those it may not
 * touch at all.
 */

/* #39: device_feature is the device's to write. */
static void rule_write_device_feature(void)
{
	struct vdev *d = driver_set(CONSOLE_SLOT);

	writel(0, common(d, VIRTIO_PCI_COMMON_DFSELECT));
	writel(0xffffffff, common(d, VIRTIO_PCI_COMMON_DF));
	should_have_stopped("write device_feature");
}
SCENARIO(rule_write_device_feature);

/* #39: num_queues, likewise. */
static void rule_write_num_queues(void)
{
	struct vdev *d = negotiated(CONSOLE_SLOT);

	writew(4, common(d, VIRTIO_PCI_COMMON_NUMQ));
	should_have_stopped("write num_queues");
}
SCENARIO(rule_write_num_queues);

/* #39: config_generation, likewise. */
static void rule_write_config_generation(void)
{
	struct vdev *d = negotiated(CONSOLE_SLOT);

	writeb(1, common(d, VIRTIO_PCI_COMMON_CFGGENERATION));
	should_have_stopped("write config_generation");
}
SCENARIO(rule_write_config_generation);

/* #33: queue_notify_off, likewise. */
static void rule_write_queue_notify_off(void)
{
	struct vdev *d = negotiated(CONSOLE_SLOT);

	writew(0, common(d, VIRTIO_PCI_COMMON_Q_SELECT));
	check_eq(readw(common(d, VIRTIO_PCI_COMMON_Q_NOFF)), 0,
		 "queue_notify_off of receiveq");
	writew(1, common(d, VIRTIO_PCI_COMMON_Q_NOFF));
	should_have_stopped("write queue_notify_off");
}
SCENARIO(rule_write_queue_notify_off);

/*
 * #39 (the original's "unexpected write"), §4.1.5.1.2.2: with no MSI-X
 * capability there is no table, and every vector but NO_VECTOR is
 * outside it.  This driver maps the configuration interrupt to vector 1.
 */
static void rule_msix_config_write(void)
{
	struct vdev *d = negotiated(CONSOLE_SLOT);

	writew(1, common(d, VIRTIO_PCI_COMMON_MSIX));
	should_have_stopped("map the configuration interrupt to vector 1");
}
SCENARIO(rule_msix_config_write);

/* #30, §4.1.5.1.2.2: nor a queue's interrupt to vector 1. */
static void rule_queue_msix_vector_write(void)
{
	struct vdev *d = negotiated(CONSOLE_SLOT);

	writew(0, common(d, VIRTIO_PCI_COMMON_Q_SELECT));
	writew(1, common(d, VIRTIO_PCI_COMMON_Q_MSIX));
	should_have_stopped("map receiveq's interrupt to vector 1");
}
SCENARIO(rule_queue_msix_vector_write);

/* #38: an interrupt handler that "acknowledges" by writing ISR back. */
static void rule_isr_write(void)
{
	struct vdev *d = negotiated(CONSOLE_SLOT);

	check_eq(readb(d->isr), 0, "ISR status");
	writeb(1, d->isr);
	should_have_stopped("write ISR status");
}
SCENARIO(rule_isr_write);

/* #49: BAR0 offset 59, the byte between ISR status and the device's. */
static void rule_padding_read(void)
{
	struct vdev *d = negotiated(CONSOLE_SLOT);

	readb(d->isr + 1);
	should_have_stopped("read the padding after ISR status");
}
SCENARIO(rule_padding_read);

/* #39 (the original's "unexpected write"): the padding written. */
static void rule_padding_write(void)
{
	struct vdev *d = negotiated(CONSOLE_SLOT);

	writeb(1, d->isr + 1);
	should_have_stopped("write the padding after ISR status");
}
SCENARIO(rule_padding_write);

/*
 * #50: one field past the console's configuration (12 bytes, ending at
 * BAR0 offset 72), as a driver that believed in a newer, larger struct.
 */
static void rule_read_past_config(void)
{
	struct vdev *d = driver_set(CONSOLE_SLOT);

	check_eq(d->device_len, sizeof(struct virtio_console_config),
		 "the console's configuration length");
	readl(d->device + d->device_len);
	should_have_stopped("read past the device configuration");
}
SCENARIO(rule_read_past_config);

/*
 * #50: the entropy device has no configuration: its registers end at
 * BAR0 offset 60, its BAR at 64.  A read of BAR0's last byte.
 */
static void rule_read_past_registers(void)
{
	struct vdev *d = driver_set(RNG_SLOT);

	check_eq(d->bar_size, 64, "the entropy device's BAR0 size");
	readb(d->bar + d->bar_size - 1);
	should_have_stopped("read BAR0 past its registers");
}
SCENARIO(rule_read_past_registers);

/* #39 (the original's "unexpected write"): a write past the registers. */
static void rule_write_past_registers(void)
{
	struct vdev *d = negotiated(CONSOLE_SLOT);

	writel(0, d->device + d->device_len);
	should_have_stopped("write past the device configuration");
}
SCENARIO(rule_write_past_registers);

/* #51, §3.1.1 step 4: the console's cols read before DRIVER. */
static void rule_config_read_before_driver(void)
{
	struct vdev *d = acknowledged(CONSOLE_SLOT);

	readw(d->device + offsetof(struct virtio_console_config, cols));
	should_have_stopped("read the device configuration before DRIVER");
}
SCENARIO(rule_config_read_before_driver);

/*
 * #51: the original read queue registers by the same path as the device
 * configuration, so they too wait for DRIVER.
 */
static void rule_queue_read_before_driver(void)
{
	struct vdev *d = acknowledged(CONSOLE_SLOT);

	readw(common(d, VIRTIO_PCI_COMMON_Q_SIZE));
	should_have_stopped("read queue_size before DRIVER");
}
SCENARIO(rule_queue_read_before_driver);

/*
 * #39 (the original's "unexpected write"), §3.1.1: the device
 * configuration is the device's, but for the console's emerg_wr.
 */
static void rule_config_write(void)
{
	struct vdev *d = negotiated(CONSOLE_SLOT);

	writel(1, d->device +
			  offsetof(struct virtio_console_config, max_nr_ports));
	should_have_stopped("write max_nr_ports");
}
SCENARIO(rule_config_write);

/*
 * Queue set-up (§4.1.5.1.3): select, size, addresses, enable, each at
 * its time.
 */

/* #28, §4.1.4.3.2: 100 entries. */
static void rule_queue_size_not_power_of_2(void)
{
	struct vdev *d = negotiated(CONSOLE_SLOT);

	writew(0, common(d, VIRTIO_PCI_COMMON_Q_SELECT));
	writew(100, common(d, VIRTIO_PCI_COMMON_Q_SIZE));
	should_have_stopped("make receiveq 100 entries long");
}
SCENARIO(rule_queue_size_not_power_of_2);

/* lguest adds (the original took it): a queue of no entries at all. */
static void rule_queue_size_zero(void)
{
	struct vdev *d = negotiated(CONSOLE_SLOT);

	writew(0, common(d, VIRTIO_PCI_COMMON_Q_SELECT));
	writew(0, common(d, VIRTIO_PCI_COMMON_Q_SIZE));
	should_have_stopped("make receiveq 0 entries long");
}
SCENARIO(rule_queue_size_zero);

/* lguest adds, §4.1.4.3: a driver may shrink a queue, never grow it. */
static void rule_queue_size_above_max(void)
{
	struct vdev *d = negotiated(CONSOLE_SLOT);

	writew(0, common(d, VIRTIO_PCI_COMMON_Q_SELECT));
	writew(512, common(d, VIRTIO_PCI_COMMON_Q_SIZE));
	should_have_stopped("make receiveq 512 entries long");
}
SCENARIO(rule_queue_size_above_max);

/* #29: the queue is live; its size is no longer ours to change. */
static void rule_queue_size_while_enabled(void)
{
	struct vdev *d = negotiated(CONSOLE_SLOT);

	vp_setup_vq(d, 0, 0);
	writew(64, common(d, VIRTIO_PCI_COMMON_Q_SIZE));
	should_have_stopped("resize an enabled queue");
}
SCENARIO(rule_queue_size_while_enabled);

/* #31, §4.1.4.3.2: queue_enable takes 1, and only 1. */
static void rule_queue_enable_zero(void)
{
	struct vdev *d = negotiated(CONSOLE_SLOT);
	struct layout q = lay_out(16);

	program_queue(d, 0, &q);
	writew(0, common(d, VIRTIO_PCI_COMMON_Q_ENABLE));
	should_have_stopped("write 0 to queue_enable");
}
SCENARIO(rule_queue_enable_zero);

/* #32, §3.1.1: transmitq enabled once the device is live. */
static void rule_queue_enable_after_driver_ok(void)
{
	struct vdev *d = negotiated(CONSOLE_SLOT);
	struct layout q = lay_out(16);

	vp_setup_vq(d, 0, 16);
	vp_driver_ok(d);
	program_queue(d, 1, &q);
	enable_queue(d);
	should_have_stopped("enable a queue after DRIVER_OK");
}
SCENARIO(rule_queue_enable_after_driver_ok);

/*
 * lguest adds, §3.1.1: queue set-up is step 7, after FEATURES_OK.  This
 * driver enables receiveq as the reset left it, before negotiating.
 */
static void rule_queue_enable_before_features_ok(void)
{
	struct vdev *d = driver_set(CONSOLE_SLOT);

	writew(0, common(d, VIRTIO_PCI_COMMON_Q_SELECT));
	enable_queue(d);
	should_have_stopped("enable a queue before FEATURES_OK");
}
SCENARIO(rule_queue_enable_before_features_ok);

/* #34: the rings of a live queue moved. */
static void rule_queue_addr_while_enabled(void)
{
	struct vdev *d = negotiated(CONSOLE_SLOT);
	struct layout q = lay_out(16);

	vp_setup_vq(d, 0, 16);
	writel((u32)q.desc, common(d, VIRTIO_PCI_COMMON_Q_DESCLO));
	should_have_stopped("move an enabled queue's descriptor table");
}
SCENARIO(rule_queue_addr_while_enabled);

/* #35, §3.1.1: rings given before FEATURES_OK. */
static void rule_queue_addr_before_features_ok(void)
{
	struct vdev *d = driver_set(CONSOLE_SLOT);
	struct layout q = lay_out(16);

	d->features = vp_device_features(d);
	accept_features(d, BIT_ULL(VIRTIO_F_VERSION_1));
	writew(0, common(d, VIRTIO_PCI_COMMON_Q_SELECT));
	writel((u32)q.desc, common(d, VIRTIO_PCI_COMMON_Q_DESCLO));
	should_have_stopped("set up a queue before FEATURES_OK");
}
SCENARIO(rule_queue_addr_before_features_ok);

/* #36, §3.1.1 step 6: FEATURES_OK never read back before queue set-up. */
static void rule_queue_addr_unread_features_ok(void)
{
	struct vdev *d = features_ok_unread(CONSOLE_SLOT);
	struct layout q = lay_out(16);

	writew(0, common(d, VIRTIO_PCI_COMMON_Q_SELECT));
	writel((u32)q.desc, common(d, VIRTIO_PCI_COMMON_Q_DESCLO));
	should_have_stopped("set up a queue without re-reading FEATURES_OK");
}
SCENARIO(rule_queue_addr_unread_features_ok);

/*
 * lguest adds, §4.1.5.1.3: queue 7 does not exist (its queue_size reads
 * 0), yet this driver sizes it.
 */
static void rule_queue_no_such_queue(void)
{
	struct vdev *d = negotiated(CONSOLE_SLOT);

	writew(7, common(d, VIRTIO_PCI_COMMON_Q_SELECT));
	check_eq(readw(common(d, VIRTIO_PCI_COMMON_Q_SIZE)), 0,
		 "queue 7's queue_size: there is no queue 7");
	writew(64, common(d, VIRTIO_PCI_COMMON_Q_SIZE));
	should_have_stopped("set up queue 7, which does not exist");
}
SCENARIO(rule_queue_no_such_queue);

/* #19, §2.4: lguest guests live below 4 GiB; their rings too. */
static void rule_queue_64bit_address(void)
{
	struct vdev *d = negotiated(CONSOLE_SLOT);
	struct layout q = lay_out(16);

	program_queue(d, 0, &q);
	writel(1, common(d, VIRTIO_PCI_COMMON_Q_DESCHI));
	enable_queue(d);
	should_have_stopped("put a descriptor table above 4 GiB");
}
SCENARIO(rule_queue_64bit_address);

/* #20, §2.4.1: each part at its alignment (16, 2, 4); here one is not. */
static void misaligned(u64 desc_off, u64 avail_off, u64 used_off)
{
	struct vdev *d = negotiated(CONSOLE_SLOT);
	struct layout q = lay_out(16);

	q.desc += desc_off;
	q.avail += avail_off;
	q.used += used_off;
	program_queue(d, 0, &q);
	enable_queue(d);
	should_have_stopped("enable a misaligned queue");
}

static void rule_queue_misaligned_desc(void)
{
	misaligned(8, 0, 0);
}
SCENARIO(rule_queue_misaligned_desc);

static void rule_queue_misaligned_avail(void)
{
	misaligned(0, 1, 0);
}
SCENARIO(rule_queue_misaligned_avail);

static void rule_queue_misaligned_used(void)
{
	misaligned(0, 0, 2);
}
SCENARIO(rule_queue_misaligned_used);

/* #21, §2.4.9.1: a used ring handed over with a flag already set. */
static void rule_queue_used_flags(void)
{
	struct vdev *d = negotiated(CONSOLE_SLOT);
	struct layout q = lay_out(16);
	u16 *used_flags = phys(q.used, 2);

	*used_flags = VIRTQ_USED_F_NO_NOTIFY;
	program_queue(d, 0, &q);
	enable_queue(d);
	should_have_stopped("hand over a used ring with flags 1");
}
SCENARIO(rule_queue_used_flags);

/*
 * #2 (the original's check_pointer(), at queue set-up), §2.4.5: rings
 * must lie in guest RAM.  A 256-entry descriptor table (4096 bytes) from
 * 2 KiB below the top of RAM; a used ring (2054 bytes) from 8 bytes
 * below it.
 */
enum ring_part { DESC_TABLE, USED_RING };

static void outside_ram(enum ring_part part, u64 below_top)
{
	struct vdev *d = negotiated(CONSOLE_SLOT);
	struct layout q = lay_out(256);
	u64 at = (u64)guest_boot()->pfn_limit * PAGE_SIZE - below_top;

	if (part == DESC_TABLE)
		q.desc = at;
	else
		q.used = at;
	program_queue(d, 0, &q);
	enable_queue(d);
	should_have_stopped("put a ring past the end of RAM");
}

static void rule_queue_desc_outside_ram(void)
{
	outside_ram(DESC_TABLE, 2048);
}
SCENARIO(rule_queue_desc_outside_ram);

static void rule_queue_used_outside_ram(void)
{
	outside_ram(USED_RING, 8);
}
SCENARIO(rule_queue_used_outside_ram);

/*
 * Notification (§4.1.5.2) and the device going live (§3.1.1 step 8).
 */

/* #37, §4.1.5.2: the console has queues 0 and 1; this kicks queue 2. */
static void rule_notify_no_such_queue(void)
{
	struct vdev *d = negotiated(CONSOLE_SLOT);

	vp_setup_vq(d, 0, 16);
	vp_setup_vq(d, 1, 16);
	vp_driver_ok(d);
	writew(2, d->notify);
	should_have_stopped("notify queue 2 of 2");
}
SCENARIO(rule_notify_no_such_queue);

/* lguest adds, §3.1.1: a queue kicked before the device is live. */
static void rule_notify_before_driver_ok(void)
{
	struct vdev *d = negotiated(CONSOLE_SLOT);
	struct vring *rq = vp_setup_vq(d, 0, 16);

	writew(rq->index, rq->notify);
	should_have_stopped("notify receiveq before DRIVER_OK");
}
SCENARIO(rule_notify_before_driver_ok);

/* #47, §3.1.1: the notify register read before the device is live. */
static void rule_notify_read_before_driver_ok(void)
{
	struct vdev *d = negotiated(CONSOLE_SLOT);

	vp_setup_vq(d, 0, 16);
	readw(d->notify);
	should_have_stopped("read the notify register before DRIVER_OK");
}
SCENARIO(rule_notify_read_before_driver_ok);

/*
 * The PCI configuration access window (§4.1.4.7).  Each scenario first
 * reads num_queues through it as it should, then points it somewhere it
 * must not and reads pci_cfg_data.
 */
#define WINDOW_BAR VIRTIO_PCI_CAP_BAR
#define WINDOW_OFFSET VIRTIO_PCI_CAP_OFFSET
#define WINDOW_LENGTH VIRTIO_PCI_CAP_LENGTH
#define WINDOW_DATA offsetof(struct virtio_pci_cfg_cap, pci_cfg_data)

/* #18, §4.1.4.7.2: read through a window of bar, offset and length. */
static void window_read(u8 bar, u32 off, u32 len)
{
	struct vdev *d = found(CONSOLE_SLOT);
	u8 cap = d->pci_cfg_cap;

	check(cap != 0, "the console has a PCI_CFG capability");
	check_eq(vp_window_read(d, VIRTIO_PCI_COMMON_NUMQ, 2), 2,
		 "num_queues through the window");
	pci_write8(CONSOLE_SLOT, cap + WINDOW_BAR, bar);
	pci_write32(CONSOLE_SLOT, cap + WINDOW_OFFSET, off);
	pci_write32(CONSOLE_SLOT, cap + WINDOW_LENGTH, len);
	pci_read32(CONSOLE_SLOT, cap + WINDOW_DATA);
	should_have_stopped("read through a window outside BAR0's registers");
}

/* BAR1, which the console does not have. */
static void rule_window_bad_bar(void)
{
	window_read(1, VIRTIO_PCI_COMMON_NUMQ, 2);
}
SCENARIO(rule_window_bad_bar);

/* 4 bytes from offset 72, where the console's registers end. */
static void rule_window_past_registers(void)
{
	window_read(0, 72, 4);
}
SCENARIO(rule_window_past_registers);

/* A length of 3: accesses are 1, 2 or 4 bytes. */
static void rule_window_bad_length(void)
{
	window_read(0, VIRTIO_PCI_COMMON_MSIX, 3);
}
SCENARIO(rule_window_bad_length);

/* 4 bytes at offset 18: not a multiple of the length. */
static void rule_window_misaligned(void)
{
	window_read(0, VIRTIO_PCI_COMMON_NUMQ, 4);
}
SCENARIO(rule_window_misaligned);

/*
 * lguest adds (the original refused the write with a #GP): a write
 * through the window is bound by §4.1.4.7.2 as a read is.  This driver
 * means to write device_status but aims 4 bytes past the registers.
 */
static void rule_window_write(void)
{
	struct vdev *d = found(CONSOLE_SLOT);

	check_eq(vp_window_read(d, VIRTIO_PCI_COMMON_NUMQ, 2), 2,
		 "num_queues through the window");
	vp_window_write(d, 72, 4, ACK);
	should_have_stopped("write through a window outside BAR0's registers");
}
SCENARIO(rule_window_write);
