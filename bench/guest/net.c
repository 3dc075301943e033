// SPDX-License-Identifier: GPL-2.0
/*
 * net.c: the bench guest's network mode, against bench/netpeer.c.
 *
 * The VMM's tap device lives in a network namespace that bench/run makes
 * for the purpose; netpeer sits on it with a packet socket.  Guest and
 * peer speak raw Ethernet: control frames of EtherType 0x88B5 ("LGBN",
 * then a command and its numbers) and data frames of 0x88B6 ("LGBD", then
 * a sequence number), which the host's own stack ignores.  So no ARP, no
 * IP, and nothing but the VMM's path between guest and tap is measured.
 *
 *   guest -> peer   HELLO (until the peer answers HELLO: it is bound to
 *                   the tap device, which lguest creates as it starts)
 *   guest -> peer   TXSTART size count, then the data frames, then TXEND;
 *                   the peer answers TXEND with the frames and bytes it
 *                   received
 *   guest -> peer   RXSTART size count window: the peer sends that many
 *                   data frames, as fast as it can but never more than
 *                   'window' past the count the guest last acknowledged
 *                   (RXACK, every 64 frames)
 *   guest -> peer   BYE
 *
 * Guest to host ("tx") is timed from the first data frame made available
 * to the last one the device has used (written to the tap device); host
 * to guest ("rx") from the first data frame received to the last.  Each
 * way twice: minimum frames (60 bytes) for frames per second, full ones
 * (1514 bytes) for MB/s.  The window keeps the peer from overrunning the
 * tap device's queue (1000 frames), so nothing is dropped either way.
 *
 * The device: VIRTIO_F_VERSION_1 and nothing else (no offloads, no
 * mergeable buffers), so every buffer starts with the 12-byte
 * virtio_net_hdr_v1, all zeroes.  Queues of 256: receiveq (0) with 256
 * buffers of 2 KiB always available, transmitq (1) with 256 slots, slot s
 * being descriptor s (255 for control frames, the rest for data, whose
 * headers are written once per test).
 */
#include "bench.h"

#define VIRTIO_ID_NET 1
#define NET_HDR 12
#define NET_Q 256
#define NET_BUF 2048

/* Host to guest: frames in flight at most, and how often we say so. */
#define RX_WINDOW 512
#define RX_ACK_EVERY 64

#define ETH_CTL 0x88B5
#define ETH_DATA 0x88B6

enum { HELLO = 1, TXSTART, TXEND, RXSTART, RXACK, BYE };

struct ctl {
	u8 dst[6], src[6];
	u8 type[2]; /* big-endian */
	char magic[4];
	u32 cmd, size, count, a, b;
} __attribute__((packed));

static const u8 guest_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };
static const u8 bcast[6] = { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF };

static struct virtio_dev net;
static struct virtq rxq, txq;
static u8 *rxbuf, *txbuf;
/*
 * Transmit slots: data frames take 0-254, whose headers are written once
 * per test; control frames have slot 255 to themselves.
 */
#define CTL_SLOT (NET_Q - 1)
#define DATA_SLOTS (NET_Q - 1)
static u8 txfree[DATA_SLOTS];
static unsigned int ntxfree;
static bool ctl_busy;

/* What the receive side saw: data frames, and the peer's last answer. */
static u32 rx_data, rx_cmd, rx_a, rx_b;
static u64 rx_first, rx_last;

static void net_setup(void)
{
	unsigned int i;

	if (!virtio_find(&net, "net", VIRTIO_ID_NET))
		fail("net: no virtio network device");
	virtio_start(&net, 0);
	virtq_setup(&net, &rxq, 0, NET_Q);
	virtq_setup(&net, &txq, 1, NET_Q);
	if (rxq.size != NET_Q || txq.size != NET_Q)
		fail("net: queues of %u and %u entries", rxq.size, txq.size);
	dev_irq_on(&net);
	rxbuf = bigalloc(NET_Q * NET_BUF);
	txbuf = bigalloc(NET_Q * NET_BUF);
	memset(txbuf, 0, NET_Q * NET_BUF);
	for (i = 0; i < NET_Q; i++) {
		rxq.desc[i] = (struct vring_desc){ (u32)rxbuf + i * NET_BUF,
						   NET_BUF, VRING_DESC_F_WRITE,
						   0 };
		txq.desc[i] = (struct vring_desc){ (u32)txbuf + i * NET_BUF, 0,
						   0, 0 };
		if (i != CTL_SLOT)
			txfree[ntxfree++] = i;
	}
	/* Every receive buffer available before the device goes live. */
	for (i = 0; i < NET_Q; i++)
		vq_post(&rxq, i);
	virtio_driver_ok(&net);
	vq_kick(&rxq);
	printf("bench: net: 00:%02x.0, line %u\n", net.slot, net.line);
}

/* Take what the device has received, give the buffers back. */
static void net_rx_reap(void)
{
	bool any = false;
	u32 len;

	while (virtq_has_used(&rxq)) {
		u16 id = virtq_take(&rxq, &len);
		const u8 *f = rxbuf + id * NET_BUF + NET_HDR;
		u16 type = f[12] << 8 | f[13];

		if (len >= NET_HDR + 18 && type == ETH_DATA &&
		    !memcmp(f + 14, "LGBD", 4)) {
			rx_last = rdtsc();
			if (!rx_data++)
				rx_first = rx_last;
		} else if (len >= NET_HDR + sizeof(struct ctl) &&
			   type == ETH_CTL && !memcmp(f + 14, "LGBN", 4)) {
			const struct ctl *c = (const void *)f;

			rx_a = c->a;
			rx_b = c->b;
			rx_cmd = c->cmd; /* last: it says the rest is there */
		}
		vq_post(&rxq, id);
		any = true;
	}
	if (any)
		vq_kick(&rxq);
}

static void net_tx_reap(void)
{
	u32 len;

	while (virtq_has_used(&txq)) {
		u16 id = virtq_take(&txq, &len);

		if (id == CTL_SLOT)
			ctl_busy = false;
		else
			txfree[ntxfree++] = id;
	}
}

static void eth_head(u8 *f, u16 type)
{
	memcpy(f, bcast, 6);
	memcpy(f + 6, guest_mac, 6);
	f[12] = type >> 8;
	f[13] = type;
}

static void send_ctl(u32 cmd, u32 size, u32 count, u32 a)
{
	struct ctl *c = (void *)(txbuf + CTL_SLOT * NET_BUF + NET_HDR);

	net_tx_reap();
	if (ctl_busy) {
		vq_kick(&txq);
		wait_for((net_tx_reap(), !ctl_busy), 30, "the control slot");
	}
	ctl_busy = true;
	memset(c, 0, 64);
	eth_head((u8 *)c, ETH_CTL);
	memcpy(c->magic, "LGBN", 4);
	c->cmd = cmd;
	c->size = size;
	c->count = count;
	c->a = a;
	c->b = RX_WINDOW; /* for RXSTART */
	txq.desc[CTL_SLOT].len = NET_HDR + 64;
	vq_post(&txq, CTL_SLOT);
	vq_kick(&txq);
}

/*
 * Sleep until something was received or transmitted, or 'ticks' of the
 * 100 Hz timer have passed since 'since'; false on the timeout.
 */
static bool net_wait(u32 since, u32 ticks)
{
	for (cli(); !virtq_has_used(&rxq) && !virtq_has_used(&txq); sti_hlt())
		if (jiffies - since >= ticks)
			return false;
	return true;
}

/* Send 'cmd' until the peer answers it (every 50 ms, for 'secs'). */
static void ask(u32 cmd, u32 size, u32 count, unsigned int secs,
		const char *what)
{
	u32 start = jiffies, sent;

	rx_cmd = 0;
	while (jiffies - start < secs * HZ) {
		send_ctl(cmd, size, count, 0);
		sent = jiffies;
		while (rx_cmd != cmd && net_wait(sent, HZ / 20)) {
			net_rx_reap();
			net_tx_reap();
		}
		if (rx_cmd == cmd)
			return;
	}
	fail("net: the peer did not answer %s in %us", what, secs);
}

/* Guest to host: 'count' data frames of 'size' bytes. */
static void net_tx(const char *key, u32 size, u32 count, bool per_second)
{
	u32 seq = 0, peer_frames;
	u64 t0, ns;
	unsigned int s;

	/* The frames' headers once: only the sequence number changes. */
	for (s = 0; s < DATA_SLOTS; s++) {
		u8 *f = txbuf + s * NET_BUF + NET_HDR;

		memset(f, 0, size);
		eth_head(f, ETH_DATA);
		memcpy(f + 14, "LGBD", 4);
	}
	ask(TXSTART, size, count, 5, "TXSTART");
	net_tx_reap();
	t0 = rdtsc();
	while (seq < count || ntxfree < DATA_SLOTS) {
		net_tx_reap();
		for (; ntxfree && seq < count; seq++) {
			s = txfree[--ntxfree];
			*(u32 *)(txbuf + s * NET_BUF + NET_HDR + 18) = seq;
			txq.desc[s].len = NET_HDR + size;
			vq_post(&txq, s);
		}
		vq_kick(&txq);
		if (ntxfree < DATA_SLOTS)
			wait_used(&txq, 30, "transmitted frames");
	}
	ns = cycles_ns(rdtsc() - t0);
	ask(TXEND, size, count, 5, "TXEND");
	peer_frames = rx_a;
	printf("bench: net: tx %u frames of %u bytes, the peer got %u\n", count,
	       size, peer_frames);
	if (per_second)
		result(key, (u64)count * 1000000000, ns, "frames/s");
	else
		result(key, (u64)count * size * 1000, ns, "MB/s");
}

/*
 * Host to guest: ask for 'count' frames, 'window' of them at most ahead of
 * what we have acknowledged (RXACK with the count so far, every 64), so
 * that the peer never overruns the tap device's queue of 1000 and waits
 * for us instead of spinning: nothing is dropped, and the rate is ours.
 */
static void net_rx(const char *key, u32 size, u32 count, bool per_second)
{
	u32 last, acked = 0;
	u64 ns;

	rx_data = 0;
	ask(RXSTART, size, count, 5, "RXSTART");
	last = jiffies;
	while (rx_data < count) {
		u32 before = rx_data;

		if (!net_wait(last, 2 * HZ))
			fail("net: rx: no frame for 2 s after %u", rx_data);
		net_rx_reap();
		net_tx_reap();
		if (rx_data != before)
			last = jiffies;
		if (rx_data - acked >= RX_ACK_EVERY && rx_data < count) {
			acked = rx_data;
			send_ctl(RXACK, size, count, acked);
		}
	}
	ns = cycles_ns(rx_last - rx_first);
	if (per_second)
		result(key, (u64)(rx_data - 1) * 1000000000, ns, "frames/s");
	else
		result(key, (u64)(rx_data - 1) * size * 1000, ns, "MB/s");
}

void bench_net(void)
{
	u32 n = arg_u32("n", 20000), nbig = arg_u32("nbig", 20000);

	net_setup();
	ask(HELLO, 0, 0, 20, "HELLO");
	puts("bench: net: the peer answers");
	net_tx("net.tx.small", 60, n, true);
	net_tx("net.tx.big", 1514, nbig, false);
	net_rx("net.rx.small", 60, n, true);
	net_rx("net.rx.big", 1514, nbig, false);
	send_ctl(BYE, 0, 0, 0);
}
