// SPDX-License-Identifier: GPL-2.0
/*
 * scenarios/console.c: the console (virtio 1.0 §5.3), driven as
 * drivers/char/virtio_console.c drives a single-port console: receiveq
 * (queue 0) holds device-writable buffers the device fills from the
 * launcher's standard input; transmitq (queue 1) takes device-readable
 * buffers it writes to standard output.  emerg_wr, in the device
 * configuration, writes one character at a time with no queue at all.
 *
 * The console is always slot 1.  The test tells the input scenarios what
 * to expect:
 *
 *	LGSTUB_CONSOLE_INPUT=<bytes>	what arrives on standard input
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_console.h>
#include <linux/virtio_pci.h>

#include "../virtio.h"

#define CONSOLE_SLOT 1
#define RECEIVEQ 0
#define TRANSMITQ 1

#define EMERG_WR offsetof(struct virtio_console_config, emerg_wr)

static struct {
	struct vdev *d;
	struct vring *rx, *tx;
} con;

/*
 * virtcons_probe(): we would take a size, multiple ports, indirect
 * descriptors and event indices if offered; lguest offers emergency
 * writes only.
 */
static void console_probe(u16 tx_size)
{
	u64 wanted = BIT_ULL(VIRTIO_CONSOLE_F_SIZE) |
		     BIT_ULL(VIRTIO_CONSOLE_F_MULTIPORT) |
		     BIT_ULL(VIRTIO_CONSOLE_F_EMERG_WRITE) |
		     BIT_ULL(VIRTIO_F_INDIRECT_DESC) |
		     BIT_ULL(VIRTIO_F_EVENT_IDX);

	con.d = vp_probe(CONSOLE_SLOT);
	check_eq(con.d->device_id, VIRTIO_PCI_MODERN_BASE + VIRTIO_ID_CONSOLE,
		 "slot 1 device ID (virtio 1.0 console)");
	vp_init(con.d, wanted);
	check_eq(con.d->features,
		 BIT_ULL(VIRTIO_F_VERSION_1) |
			 BIT_ULL(VIRTIO_CONSOLE_F_EMERG_WRITE),
		 "features offered: VERSION_1 and EMERG_WRITE, no more");
	check_eq(vp_common16(con.d, VIRTIO_PCI_COMMON_NUMQ), 2,
		 "num_queues (receiveq and transmitq: no MULTIPORT)");
	con.rx = vp_setup_vq(con.d, RECEIVEQ, 0);
	con.tx = vp_setup_vq(con.d, TRANSMITQ, tx_size);
	vp_driver_ok(con.d);
}

/* A string through emerg_wr, a 32-bit write per character. */
static void emerg_puts(const char *s)
{
	while (*s)
		vp_config_write32(con.d, EMERG_WR, (u8)*s++);
}

/* One buffer of text to transmitq, in nseg pieces; wait for it. */
static void console_write(const char *s, unsigned int nseg)
{
	u32 len = (u32)strlen(s), off = 0, used = 1;
	struct vbuf buf = vbuf_alloc(len), seg[8];
	unsigned int i;

	memcpy(buf.p, s, len);
	for (i = 0; i < nseg; i++) {
		u32 part = i + 1 < nseg ? len / nseg : len - off;

		seg[i] = vbuf_part(buf, off, part);
		off += part;
	}
	vq_add(con.tx, seg, nseg, NULL, 0);
	vq_kick(con.tx);
	vq_wait_used(con.tx, &used);
	check_eq(used, 0, "transmitq: used length 0 (nothing written)");
}

/*
 * The device configuration: cols, rows and max_nr_ports are there, but
 * belong to features not offered, so a driver must not read them (§2.3.1).
 */
static void console_config(void)
{
	check_eq(con.d->device_len, sizeof(struct virtio_console_config),
		 "device configuration length (cols to emerg_wr)");
	writew(2, con.d->common + VIRTIO_PCI_COMMON_Q_SELECT);
	check_eq(vp_common16(con.d, VIRTIO_PCI_COMMON_Q_SIZE), 0,
		 "queue 2's size: 0, there is no such queue");
}

/* Several buffers at once, one notification, used in order. */
static void console_batch(void)
{
	static const char *const lines[] = { "batch 1\n", "batch 2\n",
					     "batch 3\n", "batch 4\n" };
	struct vbuf b[4];
	unsigned int i;
	int head[4];
	u32 len;

	for (i = 0; i < 4; i++) {
		b[i] = vbuf_alloc((u32)strlen(lines[i]));
		memcpy(b[i].p, lines[i], b[i].len);
		head[i] = vq_add(con.tx, &b[i], 1, NULL, 0);
	}
	vq_kick(con.tx);
	for (i = 0; i < 4; i++)
		check_eq(vq_wait_used(con.tx, &len), head[i],
			 "a batch of 4: used in the order offered");
}

/*
 * The test compares standard output with what we write here, byte for
 * byte: emerg_wr first, then buffers of one and several segments, ten
 * lines through a 4-entry transmitq (the ring wraps), a batch, emerg_wr.
 */
static void console_output(void)
{
	char line[32];
	unsigned int i;

	console_probe(4);
	console_config();
	emerg_puts("[emergency]\n");
	console_write("one buffer\n", 1);
	console_write("a chain of three segments\n", 3);
	console_write("and of four: 1 2 3 4\n", 4);
	for (i = 0; i < 10; i++) {
		snprintf(line, sizeof(line), "line %u\n", i);
		console_write(line, 1);
	}
	console_batch();
	emerg_puts("[done]\n");
}
SCENARIO(console_output);

/*
 * Input.  A console driver keeps receiveq full of buffers; each comes
 * back with what one read of standard input gave, and an interrupt.
 */
#define RX_BUFS 4

static struct vbuf rx_buf[RX_BUFS][2];
static unsigned int rx_nseg[RX_BUFS];
static int rx_head[RX_BUFS];

/* Buffers of 16 bytes: some whole, some in pieces of 5 and 11. */
static void rx_fill(void)
{
	unsigned int i;

	for (i = 0; i < RX_BUFS; i++) {
		struct vbuf b = vbuf_alloc(16);

		rx_nseg[i] = i % 2 ? 2 : 1;
		rx_buf[i][0] = rx_nseg[i] == 2 ? vbuf_part(b, 0, 5) : b;
		rx_buf[i][1] = vbuf_part(b, 5, 11);
		rx_head[i] = vq_add(con.rx, NULL, 0, rx_buf[i], rx_nseg[i]);
	}
	vq_kick(con.rx);
}

/* Take one used receive buffer: append its bytes, offer it again. */
static size_t rx_take(char *got, size_t have, size_t room)
{
	unsigned int i;
	u32 len;
	int head = vq_wait_used(con.rx, &len);

	for (i = 0; i < RX_BUFS && rx_head[i] != head; i++)
		;
	if (i == RX_BUFS)
		guest_fail("receiveq: used entry %d is none of ours", head);
	check(len > 0 && len <= 16, "receiveq: used length %u of 16", len);
	if (len > room - have)
		len = (u32)(room - have);
	/* Both pieces come from one allocation: the bytes are contiguous. */
	memcpy(got + have, rx_buf[i][0].p, len);
	rx_head[i] = vq_add(con.rx, NULL, 0, rx_buf[i], rx_nseg[i]);
	vq_kick(con.rx);
	return have + len;
}

/* Receive until we have what the test sends; compare. */
static void receive_expected(void)
{
	const char *want = getenv("LGSTUB_CONSOLE_INPUT");
	size_t n = want ? strlen(want) : 0, have = 0;
	char *got = calloc(1, n + 1);

	if (!n || !got)
		guest_fail("console: LGSTUB_CONSOLE_INPUT is not set");
	while (have < n)
		have = rx_take(got, have, n);
	check(memcmp(got, want, n) == 0, "received the %zu bytes sent", n);
	free(got);
	/* Each buffer raised the line; if we never had to wait, it is up. */
	if (!con.d->queue_interrupts)
		vp_wait_irq(con.d, VIRTIO_TIMEOUT_MS);
	check(con.d->queue_interrupts > 0,
	      "input came with interrupts, ISR status saying so (%u of %u)",
	      con.d->queue_interrupts, con.d->interrupts);
}

/*
 * All of standard input (a file or a here-string), then its end: the
 * device keeps our last buffer and says it gets no more input.
 */
static void console_input(void)
{
	u32 len;

	console_probe(0);
	rx_fill();
	emerg_puts("ready\n");
	receive_expected();
	irq_wait(con.d->irq, 300);
	check(vq_get_used(con.rx, &len) < 0,
	      "after the end of input, no buffer comes back");
}
SCENARIO(console_input);

/*
 * A device busy with a buffer asks not to be notified (§2.4.9), and must
 * then find what we add without being told.  The test makes transmitq
 * busy: nobody reads our standard output (a pipe) until we say "ready",
 * so the device blocks writing a buffer larger than the pipe holds.
 */
#define PIPE_FILLER (256 * 1024)

static void console_no_notify(void)
{
	struct vbuf hello = vbuf_alloc(6), big = vbuf_alloc(PIPE_FILLER);
	struct vbuf after = vbuf_alloc(6);
	unsigned int polls = 0;
	u32 len;

	console_probe(0);
	memcpy(hello.p, "hello\n", 6);
	memset(big.p, 'x', PIPE_FILLER - 1);
	big.p[PIPE_FILLER - 1] = '\n';
	memcpy(after.p, "after\n", 6);

	/* Once it has interrupted us, the device has run out of work. */
	vq_add(con.tx, &hello, 1, NULL, 0);
	check(vq_kick(con.tx), "an idle transmitq wants notifying");
	check(vp_wait_irq(con.d, VIRTIO_TIMEOUT_MS), "hello: interrupt");
	check(vq_get_used(con.tx, &len) >= 0, "hello: used");

	vq_add(con.tx, &big, 1, NULL, 0);
	vq_kick(con.tx);
	while (!(con.tx->used->flags & VIRTQ_USED_F_NO_NOTIFY) &&
	       polls++ < 500)
		irq_wait(con.d->irq, 10);
	check(con.tx->used->flags & VIRTQ_USED_F_NO_NOTIFY,
	      "writing our big buffer, the device sets NO_NOTIFY");
	vq_add(con.tx, &after, 1, NULL, 0);
	check(!vq_kick(con.tx), "so the next buffer is not notified");
	guest_note("ready");
	vq_wait_used(con.tx, &len);
	vq_wait_used(con.tx, &len);
	check(true, "the device found the buffer nobody notified");
}
SCENARIO(console_no_notify);

/*
 * Keystrokes, as the test types them: each read is one buffer.  When the
 * test types three ^C in a second the launcher is to die of SIGINT, and
 * we never get to the end of LGSTUB_CONSOLE_INPUT.
 */
static void console_keys(void)
{
	console_probe(0);
	rx_fill();
	emerg_puts("ready\n");
	receive_expected();
}
SCENARIO(console_keys);
