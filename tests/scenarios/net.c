// SPDX-License-Identifier: GPL-2.0
/*
 * scenarios/net.c: the network device (virtio 1.0 §5.1), driven as
 * drivers/net/virtio_net.c drives it without mergeable receive buffers:
 * receiveq (queue 0) holds device-writable buffers of 1526 bytes, each of
 * which the device fills with one frame; transmitq (queue 1) takes
 * device-readable buffers, one frame each.  Every frame, both ways, starts
 * with the 12-byte struct virtio_net_hdr of virtio 1.0 (§5.1.6).
 *
 * Behind the device is a tap device the launcher made in the test's own
 * network namespace, holding the host's IPv4 address.  We play a small
 * IPv4 host on the same link, the way a guest kernel's stack would: we ask
 * for the host's MAC address by ARP, ping it (once through an indirect
 * descriptor), send a UDP datagram to a port where nobody listens and find
 * it quoted back in the host's ICMP "port unreachable", answer the host's
 * ARP requests for our address, and wait for a datagram the test sends us.
 * The test meanwhile looks at the tap device from the host's side.
 *
 * The test tells us, in the environment:
 *
 *	LGSTUB_NET_MAC=<mac>		the MAC given to --tunnet (unset: none)
 *	LGSTUB_NET_HOST_IP=<ip>		the tap device's address
 *	LGSTUB_NET_GUEST_IP=<ip>	ours, on the same /24
 *	LGSTUB_NET_GO=<path>		a file it creates once it has looked at
 *					the tap device while we were up
 *	LGSTUB_NET_PORT=<n>		our UDP port, for its datagram
 *	LGSTUB_NET_DATAGRAM=<text>	what its datagram says
 *	LGSTUB_NET_CSUM=1		negotiate checksum offload both ways
 *
 * and we tell it how far we got with guest_note() lines in the TAP file:
 * "# up" once the device is live, "# waiting for a datagram" once the
 * host knows our MAC address.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/pci_regs.h>
#include <linux/virtio_net.h>
#include <linux/virtio_pci.h>

#include "../virtio.h"

#define NET_SLOT 2
#define RECEIVEQ 0
#define TRANSMITQ 1

/*
 * The header of every frame (§5.1.6): virtio 1.0 always has num_buffers,
 * so it is 12 bytes whatever was negotiated.  Written out here, as the
 * specification has it, rather than taken from the launcher's headers.
 */
struct net_hdr {
	u8 flags;
	u8 gso_type;
	u16 hdr_len;
	u16 gso_size;
	u16 csum_start;
	u16 csum_offset;
	u16 num_buffers;
};
_Static_assert(sizeof(struct net_hdr) == 12, "the virtio 1.0 net header");

#define NET_HDR sizeof(struct net_hdr)
#define HDR_F_NEEDS_CSUM 1
#define HDR_F_DATA_VALID 2
#define HDR_GSO_NONE 0

/* Ethernet, and the frames the largest receive buffer holds (§5.1.6.3). */
#define ETH_HDR 14
#define ETH_MAX 1514
#define RX_LEN (NET_HDR + ETH_MAX)
#define RX_BUFS 32
#define ETHERTYPE_IP 0x0800
#define ETHERTYPE_ARP 0x0806

#define IP_HDR 20
#define PROTO_ICMP 1
#define PROTO_UDP 17
#define ARP_LEN 28
#define UDP_HDR 8
#define ICMP_HDR 8

/* The port we send to on the host, where nobody listens: discard. */
#define DISCARD_PORT 9
#define OUR_PORT 40000

/* What the device offers, MAC aside: lguest's offloads, both ways. */
#define NET_OFFERED                                                        \
	(BIT_ULL(VIRTIO_F_VERSION_1) | BIT_ULL(VIRTIO_NET_F_CSUM) |        \
	 BIT_ULL(VIRTIO_NET_F_GUEST_CSUM) |                                 \
	 BIT_ULL(VIRTIO_NET_F_GUEST_TSO4) |                                 \
	 BIT_ULL(VIRTIO_NET_F_GUEST_TSO6) |                                 \
	 BIT_ULL(VIRTIO_NET_F_GUEST_ECN) | BIT_ULL(VIRTIO_NET_F_HOST_TSO4) | \
	 BIT_ULL(VIRTIO_NET_F_HOST_TSO6) | BIT_ULL(VIRTIO_NET_F_HOST_ECN) | \
	 BIT_ULL(VIRTIO_F_INDIRECT_DESC))

static const u8 broadcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const u8 no_mac[6];

/* A frame as it crosses the wire, and the header it came with. */
struct frame {
	struct net_hdr hdr;
	u32 len;
	u8 b[ETH_MAX];
};

static struct {
	struct vdev *d;
	struct vring *rx, *tx;
	bool csum;			/* checksum offload negotiated */
	u8 mac[6], host_mac[6];
	u8 ip[4], host_ip[4];
	struct vbuf rxbuf[RX_BUFS];
	u8 rxbuf_of[256];		/* which buffer a receiveq head holds */
	unsigned int sent, received, arp_answered;
} net;

static u64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000 + (u64)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static const char *need_env(const char *name)
{
	const char *v = getenv(name);

	if (!v || !*v)
		guest_fail("net: the test did not set %s", name);
	return v;
}

static void env_ip(const char *name, u8 ip[4])
{
	if (inet_pton(AF_INET, need_env(name), ip) != 1)
		guest_fail("net: %s=%s is not an IPv4 address", name,
			   getenv(name));
}

/* The MAC the test gave the launcher; false if it gave none. */
static bool env_mac(u8 mac[6])
{
	const char *s = getenv("LGSTUB_NET_MAC");
	unsigned int m[6], i;

	if (!s || !*s)
		return false;
	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3],
		   &m[4], &m[5]) != 6)
		guest_fail("net: LGSTUB_NET_MAC=%s is not a MAC address", s);
	for (i = 0; i < 6; i++)
		mac[i] = (u8)m[i];
	return true;
}

static const char *mac_str(const u8 *m)
{
	static char s[4][18];
	static unsigned int n;
	char *p = s[n++ % 4];

	snprintf(p, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
		 m[3], m[4], m[5]);
	return p;
}

static const char *ip_str(const u8 *ip)
{
	static char s[4][16];
	static unsigned int n;
	char *p = s[n++ % 4];

	snprintf(p, 16, "%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3]);
	return p;
}

/* Network byte order. */
static void put16(u8 *p, u16 v)
{
	p[0] = (u8)(v >> 8);
	p[1] = (u8)v;
}

static u16 get16(const u8 *p)
{
	return (u16)(p[0] << 8 | p[1]);
}

/*
 * The Internet checksum (RFC 1071): the ones' complement of the ones'
 * complement sum of the 16-bit words.  A header with its checksum in
 * place sums to 0xffff, so inet_csum() of it is 0.
 */
static u32 csum_add(u32 sum, const u8 *p, size_t len)
{
	for (; len > 1; p += 2, len -= 2)
		sum += get16(p);
	if (len)
		sum += (u32)p[0] << 8;
	return sum;
}

static u16 csum_fold(u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (u16)~sum;
}

static u16 inet_csum(const u8 *p, size_t len)
{
	return csum_fold(csum_add(0, p, len));
}

/* The UDP pseudo header's sum: addresses, protocol, length. */
static u32 pseudo_sum(const u8 *ip, u16 udp_len)
{
	return csum_add(0, ip + 12, 8) + PROTO_UDP + udp_len;
}

/*
 * Finding and starting the device: virtnet_probe() and virtnet_open().
 */

/* The MAC in the device configuration, a byte at a time, as Linux reads it. */
static void read_mac(u8 mac[6])
{
	unsigned int tries = 0, i;
	u8 gen;

	do {
		if (++tries > 100)
			guest_fail("net: config_generation never settles");
		gen = vp_common8(net.d, VIRTIO_PCI_COMMON_CFGGENERATION);
		for (i = 0; i < 6; i++)
			mac[i] = vp_config8(net.d,
					    offsetof(struct virtio_net_config,
						     mac) + i);
	} while (gen != vp_common8(net.d, VIRTIO_PCI_COMMON_CFGGENERATION));
}

/*
 * The IDs, the features, the MAC: what the driver checks before it
 * commits.  We want the MAC and indirect descriptors, and with
 * LGSTUB_NET_CSUM checksum offload both ways; no segmentation offload,
 * no mergeable buffers.
 */
static void net_probe(void)
{
	const char *csum = getenv("LGSTUB_NET_CSUM");
	u64 wanted = BIT_ULL(VIRTIO_NET_F_MAC) |
		     BIT_ULL(VIRTIO_F_INDIRECT_DESC);
	u8 want_mac[6];
	bool has_mac = env_mac(want_mac);

	net.csum = csum && *csum == '1';
	if (net.csum)
		wanted |= BIT_ULL(VIRTIO_NET_F_CSUM) |
			  BIT_ULL(VIRTIO_NET_F_GUEST_CSUM);

	net.d = vp_probe(NET_SLOT);
	check_eq(net.d->device_id, VIRTIO_PCI_MODERN_BASE + VIRTIO_ID_NET,
		 "slot 2 device ID (virtio 1.0 network device)");
	check_eq(pci_read16(NET_SLOT, PCI_CLASS_DEVICE), 0x0200,
		 "PCI class 02, subclass 00 (Ethernet controller)");
	check_eq(pci_read8(NET_SLOT, PCI_CLASS_PROG), 0,
		 "PCI programming interface");

	vp_init(net.d, wanted);
	if (has_mac)
		check_eq(net.d->features,
			 NET_OFFERED | BIT_ULL(VIRTIO_NET_F_MAC),
			 "features offered: VERSION_1, CSUM, GUEST_CSUM, "
			 "GUEST_TSO4/6, GUEST_ECN, HOST_TSO4/6, HOST_ECN, "
			 "INDIRECT_DESC, and MAC");
	else
		check_eq(net.d->features, NET_OFFERED,
			 "features offered: VERSION_1, CSUM, GUEST_CSUM, "
			 "GUEST_TSO4/6, GUEST_ECN, HOST_TSO4/6, HOST_ECN, "
			 "INDIRECT_DESC; no MAC");
	check_eq(vp_common16(net.d, VIRTIO_PCI_COMMON_NUMQ), 2,
		 "num_queues (receiveq and transmitq: no CTRL_VQ, no MQ)");
	check(net.d->device_len >= 6,
	      "the device configuration holds mac (%u bytes)",
	      net.d->device_len);

	read_mac(net.mac);
	if (has_mac) {
		check(!memcmp(net.mac, want_mac, 6),
		      "config bytes 0-5, mac: %s, want %s", mac_str(net.mac),
		      mac_str(want_mac));
	} else {
		/* No MAC offered: a locally administered one of our own. */
		static const u8 ours[6] = { 0x02, 0x4c, 0x47, 0, 0, 0x02 };

		memcpy(net.mac, ours, 6);
	}
}

/*
 * Receive buffers: 1526 bytes each, one frame each (§5.1.6.3).  The even
 * ones are one descriptor (Linux today), the odd ones a 12-byte header
 * descriptor and a frame descriptor (Linux of old).  Each is filled with
 * 0xa5 first, so whatever the device does not write shows.
 */
static void rx_post(unsigned int i)
{
	struct vbuf b = net.rxbuf[i], seg[2];
	int head;

	memset(b.p, 0xa5, b.len);
	if (i % 2 == 0) {
		head = vq_add(net.rx, NULL, 0, &b, 1);
	} else {
		seg[0] = vbuf_part(b, 0, NET_HDR);
		seg[1] = vbuf_part(b, NET_HDR, b.len - NET_HDR);
		head = vq_add(net.rx, NULL, 0, seg, 2);
	}
	net.rxbuf_of[head] = (u8)i;
}

/*
 * Both queues, receiveq full of buffers, DRIVER_OK, then the notification
 * (none may come before DRIVER_OK, §3.1.1).  Like Linux we ask for no
 * interrupts on transmitq and reclaim what it used as we go: every
 * interrupt we then take is receiveq's.
 */
static void net_start(void)
{
	unsigned int i;

	net_probe();
	net.rx = vp_setup_vq(net.d, RECEIVEQ, 0);
	net.tx = vp_setup_vq(net.d, TRANSMITQ, 0);
	vq_disable_cb(net.tx);
	for (i = 0; i < RX_BUFS; i++) {
		net.rxbuf[i] = vbuf_alloc(RX_LEN);
		rx_post(i);
	}
	vp_driver_ok(net.d);
	vq_kick(net.rx);
}

/*
 * Transmitting (§5.1.6.2): the header all zero, as a driver without
 * offloads in use sends it (flags 0, GSO_NONE, num_buffers 0), then the
 * frame, laid out one of several ways; the device must read them all as
 * one run of bytes.
 */
enum tx_layout {
	TX_APART,	/* header, frame: two descriptors */
	TX_TOGETHER,	/* header and frame in one descriptor */
	TX_SCATTERED,	/* header as 5 + 7 bytes, the frame in 3 pieces */
	TX_INDIRECT,	/* header, frame, in an indirect table */
};

static void tx_wait(int head, const char *what)
{
	u64 deadline = now_ms() + VIRTIO_TIMEOUT_MS;
	u32 len = ~0U;
	int used;

	while ((used = vq_get_used(net.tx, &len)) < 0) {
		if (now_ms() > deadline)
			guest_fail("net: %s: transmitq did not use it in %u "
				   "ms", what, VIRTIO_TIMEOUT_MS);
		sleep_ms(1);
	}
	if (used != head)
		check(false, "%s: transmitq used buffer %d, want %d", what,
		      used, head);
	if (len)
		check(false, "%s: transmitq used length %u, want 0", what,
		      len);
}

static void net_send(const struct frame *f, enum tx_layout how,
		     const char *what)
{
	struct vbuf b = vbuf_alloc(NET_HDR + f->len), seg[5];
	u32 third = f->len / 3;
	unsigned int n = 0;
	int head;

	memcpy(b.p + NET_HDR, f->b, f->len);
	switch (how) {
	case TX_TOGETHER:
		seg[n++] = b;
		break;
	case TX_SCATTERED:
		seg[n++] = vbuf_part(b, 0, 5);
		seg[n++] = vbuf_part(b, 5, NET_HDR - 5);
		seg[n++] = vbuf_part(b, NET_HDR, third);
		seg[n++] = vbuf_part(b, NET_HDR + third, third);
		seg[n++] = vbuf_part(b, NET_HDR + 2 * third,
				     f->len - 2 * third);
		break;
	case TX_APART:
	case TX_INDIRECT:
		seg[n++] = vbuf_part(b, 0, NET_HDR);
		seg[n++] = vbuf_part(b, NET_HDR, f->len);
		break;
	}
	if (how == TX_INDIRECT)
		head = vq_add_indirect(net.tx, seg, n, NULL, 0);
	else
		head = vq_add(net.tx, seg, n, NULL, 0);
	vq_kick(net.tx);
	tx_wait(head, what);
	net.sent++;
}

/*
 * Building frames: Ethernet from our MAC, then ARP, or IPv4 to the host.
 */
static u8 *eth_start(struct frame *f, const u8 *dst, u16 type)
{
	memset(f, 0, sizeof(*f));
	memcpy(f->b, dst, 6);
	memcpy(f->b + 6, net.mac, 6);
	put16(f->b + 12, type);
	f->len = ETH_HDR;
	return f->b + ETH_HDR;
}

static void arp_frame(struct frame *f, const u8 *dst, u16 op, const u8 *tha,
		      const u8 *tpa)
{
	u8 *a = eth_start(f, dst, ETHERTYPE_ARP);

	put16(a, 1);			/* Ethernet */
	put16(a + 2, ETHERTYPE_IP);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, net.mac, 6);
	memcpy(a + 14, net.ip, 4);
	memcpy(a + 18, tha, 6);
	memcpy(a + 24, tpa, 4);
	f->len += ARP_LEN;
}

/* An IPv4 header to the host, checksummed; returns where the payload goes. */
static u8 *ip_start(struct frame *f, u8 proto, u16 payload_len)
{
	static u16 id = 0x4c47;
	u8 *ip = eth_start(f, net.host_mac, ETHERTYPE_IP);

	ip[0] = 0x45;			/* version 4, 5 words */
	put16(ip + 2, IP_HDR + payload_len);
	put16(ip + 4, id++);
	put16(ip + 6, 0x4000);		/* don't fragment */
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, net.ip, 4);
	memcpy(ip + 16, net.host_ip, 4);
	put16(ip + 10, inet_csum(ip, IP_HDR));
	f->len += IP_HDR + payload_len;
	return ip + IP_HDR;
}

static void echo_request(struct frame *f, u16 seq, u16 len)
{
	u8 *icmp = ip_start(f, PROTO_ICMP, ICMP_HDR + len);
	u16 i;

	icmp[0] = 8;			/* echo request */
	put16(icmp + 4, 0x4c47);	/* "LG" */
	put16(icmp + 6, seq);
	for (i = 0; i < len; i++)
		icmp[ICMP_HDR + i] = (u8)(seq * 31 + i);
	put16(icmp + 2, inet_csum(icmp, ICMP_HDR + len));
}

static void udp_datagram(struct frame *f, u16 dport, const char *text)
{
	u16 len = (u16)strlen(text), ulen = UDP_HDR + len;
	u8 *udp = ip_start(f, PROTO_UDP, ulen), *ip = udp - IP_HDR;
	u16 sum;

	put16(udp, OUR_PORT);
	put16(udp + 2, dport);
	put16(udp + 4, ulen);
	memcpy(udp + UDP_HDR, text, len);
	sum = csum_fold(csum_add(pseudo_sum(ip, ulen), udp, ulen));
	put16(udp + 6, sum ? sum : 0xffff);
}

/*
 * Receiving (§5.1.6.4).  Each used buffer holds the 12-byte header, then
 * one whole frame; we copy it out and give the buffer straight back.
 */
static bool rx_take(struct frame *f)
{
	u32 len;
	int head = vq_get_used(net.rx, &len);
	unsigned int i;

	if (head < 0)
		return false;
	i = net.rxbuf_of[head];
	if (len < NET_HDR + ETH_HDR || len > RX_LEN) {
		check(false, "receiveq buffer %d: used length %u: want the "
		      "12-byte header and a frame (%u to %u bytes)", head, len,
		      (u32)(NET_HDR + ETH_HDR), (u32)RX_LEN);
		len = len < NET_HDR ? NET_HDR : len > RX_LEN ? RX_LEN : len;
	}
	memcpy(&f->hdr, net.rxbuf[i].p, NET_HDR);
	f->len = len - NET_HDR;
	memcpy(f->b, net.rxbuf[i].p + NET_HDR, f->len);
	rx_post(i);
	vq_kick(net.rx);
	net.received++;
	return true;
}

/*
 * The header of a frame received (§5.1.6.3.2, §5.1.6.4.1): num_buffers 1
 * without VIRTIO_NET_F_MRG_RXBUF; flags 0 without GUEST_CSUM; GSO_NONE
 * without GUEST_TSO4/6.
 */
static void check_rx_header(const struct frame *f, const char *what)
{
	const struct net_hdr *h = &f->hdr;

	check(h->num_buffers == 1,
	      "%s: header num_buffers %#x, want 1 (no MRG_RXBUF, virtio 1.0 "
	      "§5.1.6.4.1)", what, h->num_buffers);
	if (net.csum)
		check(!(h->flags & ~(HDR_F_NEEDS_CSUM | HDR_F_DATA_VALID)),
		      "%s: header flags %#x: no bits but NEEDS_CSUM and "
		      "DATA_VALID", what, h->flags);
	else
		check(h->flags == 0,
		      "%s: header flags %#x, want 0 (no GUEST_CSUM, virtio 1.0 "
		      "§5.1.6.4.1)", what, h->flags);
	check(h->gso_type == HDR_GSO_NONE,
	      "%s: header gso_type %#x, want GSO_NONE (no GUEST_TSO, virtio "
	      "1.0 §5.1.6.4.1)", what, h->gso_type);
}

static u16 ethertype(const struct frame *f)
{
	return get16(f->b + 12);
}

static const u8 *arp_of(const struct frame *f, u16 op)
{
	const u8 *a = f->b + ETH_HDR;

	if (ethertype(f) != ETHERTYPE_ARP || f->len < ETH_HDR + ARP_LEN ||
	    get16(a) != 1 || get16(a + 2) != ETHERTYPE_IP || a[4] != 6 ||
	    a[5] != 4 || get16(a + 6) != op)
		return NULL;
	return a;
}

/* The IPv4 packet in f, from the host to us, of protocol proto; or NULL. */
static const u8 *ip_of(const struct frame *f, u8 proto)
{
	const u8 *ip = f->b + ETH_HDR;

	if (ethertype(f) != ETHERTYPE_IP || f->len < ETH_HDR + IP_HDR ||
	    ip[0] != 0x45 || ip[9] != proto ||
	    memcmp(ip + 12, net.host_ip, 4) || memcmp(ip + 16, net.ip, 4))
		return NULL;
	return ip;
}

/* The host asks who has our address: we say, as any IPv4 host would. */
static bool answer_arp(const struct frame *f)
{
	const u8 *a = arp_of(f, 1);
	struct frame reply;

	if (!a || memcmp(a + 24, net.ip, 4))
		return false;
	arp_frame(&reply, a + 8, 2, a + 8, a + 14);
	net_send(&reply, TX_TOGETHER, "our ARP reply");
	net.arp_answered++;
	return true;
}

/*
 * Wait for the frame match() wants, answering ARP requests and noting
 * anything else, for up to VIRTIO_TIMEOUT_MS; sleep on the interrupt
 * meanwhile.  The frame must come with an interrupt: one since irqs (the
 * count of receive interrupts when we sent what it answers).
 */
typedef bool (*match_fn)(const struct frame *f, const void *arg);

static bool net_receive(struct frame *f, match_fn match, const void *arg,
			unsigned int irqs, const char *what)
{
	u64 deadline = now_ms() + VIRTIO_TIMEOUT_MS;

	for (;;) {
		while (rx_take(f)) {
			if (answer_arp(f))
				continue;
			if (match(f, arg)) {
				check_rx_header(f, what);
				if (net.d->queue_interrupts == irqs)
					vp_wait_irq(net.d, 1000);
				check(net.d->queue_interrupts > irqs,
				      "%s: came with an interrupt", what);
				return true;
			}
			guest_note("%s: passed over a frame of %u bytes, "
				   "ethertype %#06x", what, f->len,
				   ethertype(f));
		}
		if (now_ms() > deadline) {
			check(false, "%s: nothing came in %u ms", what,
			      VIRTIO_TIMEOUT_MS);
			return false;
		}
		vp_wait_irq(net.d, 50);
	}
}

/* Frames addressed to us, from the host once we know its MAC. */
static void check_eth(const struct frame *f, const char *what)
{
	check(!memcmp(f->b, net.mac, 6), "%s: to our MAC %s (got %s)", what,
	      mac_str(net.mac), mac_str(f->b));
	check(!memcmp(f->b + 6, net.host_mac, 6),
	      "%s: from the host's MAC %s (got %s)", what,
	      mac_str(net.host_mac), mac_str(f->b + 6));
}

static void check_ip(const struct frame *f, const u8 *ip, const char *what)
{
	u32 total = get16(ip + 2);

	check_eth(f, what);
	check(total >= IP_HDR && ETH_HDR + total <= f->len,
	      "%s: IPv4 total length %u inside the %u-byte frame", what,
	      total, f->len);
	check_eq(inet_csum(ip, IP_HDR), 0, "... IPv4 header checksum sums");
}

/*
 * ARP: who has the host's address?  Asked by broadcast, header and frame
 * in separate descriptors.  The host's answer, 42 bytes, comes in a
 * buffer used for exactly 12 + 42 bytes: our header reached the tap device
 * as 12 bytes (else the host would have seen no ARP request), and its
 * header reached us as 12 bytes (else the reply would not parse).
 */
static bool is_arp_reply(const struct frame *f, const void *arg)
{
	const u8 *a = arp_of(f, 2);

	(void)arg;
	return a && !memcmp(a + 14, net.host_ip, 4) &&
	       !memcmp(a + 24, net.ip, 4);
}

static void net_arp(void)
{
	unsigned int irqs = net.d->queue_interrupts;
	struct frame f;
	const u8 *a;

	arp_frame(&f, broadcast, 1, no_mac, net.host_ip);
	net_send(&f, TX_APART, "ARP request");
	if (!net_receive(&f, is_arp_reply, NULL, irqs,
			 "the host's ARP reply"))
		guest_fail("net: the host never answered our ARP request for "
			   "%s", ip_str(net.host_ip));
	a = f.b + ETH_HDR;
	check_eq(NET_HDR + f.len, NET_HDR + ETH_HDR + ARP_LEN,
		 "ARP reply: used length (12-byte header, 42-byte frame)");
	memcpy(net.host_mac, a + 8, 6);
	check(!memcmp(a + 18, net.mac, 6), "ARP reply: to our MAC %s (got %s)",
	      mac_str(net.mac), mac_str(a + 18));
	check_eth(&f, "ARP reply");
	guest_note("the host %s is at %s", ip_str(net.host_ip),
		   mac_str(net.host_mac));
}

/* ping: an echo request, and the reply with the same bytes. */
static bool is_echo_reply(const struct frame *f, const void *arg)
{
	const u8 *ip = ip_of(f, PROTO_ICMP);
	u16 seq = *(const u16 *)arg;

	return ip && f->len >= ETH_HDR + IP_HDR + ICMP_HDR &&
	       ip[IP_HDR] == 0 && get16(ip + IP_HDR + 4) == 0x4c47 &&
	       get16(ip + IP_HDR + 6) == seq;
}

static void net_ping(u16 seq, u16 len, enum tx_layout how, const char *what)
{
	unsigned int irqs = net.d->queue_interrupts;
	struct frame req, f;
	const u8 *ip, *sent = req.b + ETH_HDR + IP_HDR;

	echo_request(&req, seq, len);
	net_send(&req, how, what);
	if (!net_receive(&f, is_echo_reply, &seq, irqs, what))
		return;
	ip = f.b + ETH_HDR;
	check_ip(&f, ip, what);
	check_eq(get16(ip + 2), IP_HDR + ICMP_HDR + len,
		 "... echo reply's length is the request's");
	check_eq(inet_csum(ip + IP_HDR, ICMP_HDR + len), 0,
		 "... ICMP checksum sums");
	check(!memcmp(ip + IP_HDR + ICMP_HDR, sent + ICMP_HDR, len),
	      "... the %u bytes of data come back as sent", len);
}

/*
 * A datagram to a port where nobody listens: the host answers "port
 * unreachable" and quotes what it got, which must be what we sent, byte
 * for byte.  The header and frame share one descriptor.
 */
static bool is_unreachable(const struct frame *f, const void *arg)
{
	const u8 *ip = ip_of(f, PROTO_ICMP);

	(void)arg;
	return ip && f->len >= ETH_HDR + IP_HDR + ICMP_HDR &&
	       ip[IP_HDR] == 3 && ip[IP_HDR + 1] == 3;
}

static void net_udp_out(void)
{
	static const char text[] = "lguest: a datagram from the guest";
	unsigned int irqs = net.d->queue_interrupts;
	struct frame dgram, f;
	const u8 *ip, *quote;
	u32 sent_len, quoted;

	udp_datagram(&dgram, DISCARD_PORT, text);
	sent_len = dgram.len - ETH_HDR;
	net_send(&dgram, TX_TOGETHER, "a datagram to the discard port");
	if (!net_receive(&f, is_unreachable, NULL, irqs,
			 "the host's port unreachable"))
		return;
	ip = f.b + ETH_HDR;
	check_ip(&f, ip, "port unreachable");
	check_eq(inet_csum(ip + IP_HDR, get16(ip + 2) - IP_HDR), 0,
		 "... ICMP checksum sums");
	quote = ip + IP_HDR + ICMP_HDR;
	quoted = get16(ip + 2) - IP_HDR - ICMP_HDR;
	check(quoted >= sent_len && !memcmp(quote, dgram.b + ETH_HDR, sent_len),
	      "... it quotes our %u-byte datagram as we sent it (%u bytes "
	      "quoted)", sent_len, quoted);
}

/*
 * The test's datagram to us: addressed right, its data the test's, its
 * checksums good.  With GUEST_CSUM the device may hand it over with
 * NEEDS_CSUM: then csum_start and csum_offset name the UDP checksum, which
 * holds the pseudo header's sum, and completing it must give a good
 * datagram (§5.1.6.4.1).  Without, the checksum must be whole.
 */
static bool is_datagram(const struct frame *f, const void *arg)
{
	const u8 *ip = ip_of(f, PROTO_UDP);

	return ip && f->len >= ETH_HDR + IP_HDR + UDP_HDR &&
	       get16(ip + IP_HDR + 2) == *(const u16 *)arg;
}

static void net_udp_in(void)
{
	const char *want = need_env("LGSTUB_NET_DATAGRAM");
	u16 port = (u16)atoi(need_env("LGSTUB_NET_PORT"));
	u16 wlen = (u16)strlen(want), ulen;
	unsigned int irqs = net.d->queue_interrupts;
	struct frame f;
	u8 *ip, *udp;

	guest_note("waiting for a datagram on port %u", port);
	if (!net_receive(&f, is_datagram, &port, irqs, "the test's datagram"))
		return;
	ip = f.b + ETH_HDR;
	udp = ip + IP_HDR;
	ulen = get16(udp + 4);
	check_ip(&f, ip, "the test's datagram");
	check(ulen == UDP_HDR + wlen && IP_HDR + ulen <= get16(ip + 2),
	      "... UDP length %u, want %u", ulen, UDP_HDR + wlen);
	check(ulen == UDP_HDR + wlen && !memcmp(udp + UDP_HDR, want, wlen),
	      "... it says \"%s\"", want);
	if (ulen > f.len - ETH_HDR - IP_HDR)
		return;
	if (f.hdr.flags & HDR_F_NEEDS_CSUM) {
		u32 start = f.hdr.csum_start, off = f.hdr.csum_offset;

		check_eq(start, ETH_HDR + IP_HDR,
			 "... NEEDS_CSUM: csum_start is the UDP header");
		check_eq(off, 6, "... NEEDS_CSUM: csum_offset is the UDP "
			 "checksum");
		check_eq(get16(udp + 6), (u16)~csum_fold(pseudo_sum(ip, ulen)),
			 "... NEEDS_CSUM: the checksum field holds the pseudo "
			 "header's sum");
		if (start == ETH_HDR + IP_HDR && off == 6)
			put16(udp + 6, inet_csum(udp, ulen));
	}
	check(get16(udp + 6) == 0 ||
		      csum_fold(csum_add(pseudo_sum(ip, ulen), udp, ulen)) == 0,
	      "... UDP checksum %#06x sums%s", get16(udp + 6),
	      f.hdr.flags & HDR_F_NEEDS_CSUM ? " once completed" : "");
}

/* Idle, as a guest with nothing to do, until the test has looked. */
static void wait_for_test(void)
{
	const char *go = need_env("LGSTUB_NET_GO");
	u64 deadline = now_ms() + 2 * VIRTIO_TIMEOUT_MS;

	guest_note("up");
	while (access(go, F_OK)) {
		if (now_ms() > deadline)
			guest_fail("net: the test never created %s", go);
		sleep_ms(20);
	}
}

/* The device as the driver finds it, with and without a MAC. */
static void net_config(void)
{
	net_probe();
	net.rx = vp_setup_vq(net.d, RECEIVEQ, 0);
	net.tx = vp_setup_vq(net.d, TRANSMITQ, 0);
	vp_driver_ok(net.d);
}
SCENARIO(net_config);

/* Live, with buffers waiting, until the test has looked. */
static void net_idle(void)
{
	net_start();
	wait_for_test();
}
SCENARIO(net_idle);

static void net_traffic(void)
{
	env_ip("LGSTUB_NET_HOST_IP", net.host_ip);
	env_ip("LGSTUB_NET_GUEST_IP", net.ip);
	net_start();
	wait_for_test();
	net_arp();
	net_ping(1, 56, TX_INDIRECT, "ping through an indirect descriptor");
	net_ping(2, 1000, TX_SCATTERED, "ping in five pieces");
	net_ping(3, ETH_MAX - ETH_HDR - IP_HDR - ICMP_HDR, TX_APART,
		 "ping of a full-sized frame");
	net_udp_out();
	net_udp_in();
	guest_note("%u frames sent, %u received, %u ARP requests answered, "
		   "%u receive interrupts", net.sent, net.received,
		   net.arp_answered, net.d->queue_interrupts);
}
SCENARIO(net_traffic);

/*
 * Buffers no driver may offer (§5.1.6): a device-readable one on
 * receiveq, a device-writable one on transmitq.  The launcher must stop;
 * if the device takes them instead, that is our failure.
 */
static void net_bad(u16 queue, bool writable)
{
	struct vbuf b = vbuf_alloc(RX_LEN);
	struct vring *vq;
	u64 deadline;
	u32 len;

	net_probe();
	net.rx = vp_setup_vq(net.d, RECEIVEQ, 0);
	net.tx = vp_setup_vq(net.d, TRANSMITQ, 0);
	vp_driver_ok(net.d);
	vq = queue == RECEIVEQ ? net.rx : net.tx;
	if (writable)
		vq_add(vq, NULL, 0, &b, 1);
	else
		vq_add(vq, &b, 1, NULL, 0);
	vq_kick(vq);
	/* A receive buffer is used only when a frame comes: give it time. */
	deadline = now_ms() + 2000;
	while (vq_get_used(vq, &len) < 0 && now_ms() < deadline)
		vp_wait_irq(net.d, 50);
	check(false, "the device kept a %s buffer on %s instead of stopping",
	      writable ? "device-writable" : "device-readable",
	      queue == RECEIVEQ ? "receiveq" : "transmitq");
}

static void net_bad_rx_readable(void)
{
	net_bad(RECEIVEQ, false);
}
SCENARIO(net_bad_rx_readable);

static void net_bad_tx_writable(void)
{
	net_bad(TRANSMITQ, true);
}
SCENARIO(net_bad_tx_writable);

/*
 * Feature bits a driver may take only with others (§5.1.3.1): receiving
 * TSO needs receiving partial checksums; sending with ECN needs sending
 * TSO.  The launcher refuses the set at FEATURES_OK.
 */
static void net_bad_features(u64 accept)
{
	net.d = vp_probe(NET_SLOT);
	vp_init(net.d, accept);
	check(false, "the device took features %#llx",
	      (unsigned long long)net.d->accepted);
}

static void net_bad_guest_tso4_alone(void)
{
	net_bad_features(BIT_ULL(VIRTIO_NET_F_GUEST_TSO4));
}
SCENARIO(net_bad_guest_tso4_alone);

static void net_bad_host_ecn_alone(void)
{
	net_bad_features(BIT_ULL(VIRTIO_NET_F_CSUM) |
			 BIT_ULL(VIRTIO_NET_F_HOST_ECN));
}
SCENARIO(net_bad_host_ecn_alone);
