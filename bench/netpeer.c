// SPDX-License-Identifier: GPL-2.0
/*
 * netpeer.c: the host's end of the bench guest's network mode.
 *
 *   netpeer IFNAME [SECONDS]
 *
 * Waits (up to SECONDS, default 60) for the tap device IFNAME to exist and
 * be up -- lguest creates its own as it starts -- then sits on it with a
 * packet socket and answers the guest (bench/guest/net.c says what they
 * say): HELLO back, the count of frames received between TXSTART and
 * TXEND, and on RXSTART the data frames it asks for, as fast as sendmmsg()
 * takes them but never more than its window ahead of what the guest has
 * acknowledged (RXACK).  Ends on BYE,
 * or after SECONDS without a frame.  One line on stderr per command.
 *
 * Run it in the benchmark's network namespace, where only the VMM's tap
 * device is; IPv6 off there, so that the host stack sends the guest
 * nothing of its own.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ETH_CTL 0x88B5
#define ETH_DATA 0x88B6
#define BURST 64

enum { HELLO = 1, TXSTART, TXEND, RXSTART, RXACK, BYE };

struct ctl {
	uint8_t dst[6], src[6];
	uint16_t type; /* big-endian */
	char magic[4];
	uint32_t cmd, size, count, a, b;
} __attribute__((packed));

static int sock;
static uint8_t our_mac[6];

static void die(const char *what)
{
	fprintf(stderr, "netpeer: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* The interface's index once it exists and is up; 0 on the timeout. */
static int wait_for_link(const char *name, double secs)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	double end = now() + secs;
	struct ifreq ifr;

	if (s < 0)
		die("socket");
	for (;;) {
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
		if (!ioctl(s, SIOCGIFFLAGS, &ifr) && (ifr.ifr_flags & IFF_UP)) {
			if (!ioctl(s, SIOCGIFHWADDR, &ifr))
				memcpy(our_mac, ifr.ifr_hwaddr.sa_data, 6);
			close(s);
			return if_nametoindex(name);
		}
		if (now() > end) {
			close(s);
			return 0;
		}
		usleep(1000);
	}
}

static void reply(const struct ctl *to, uint32_t cmd, uint32_t a, uint32_t b)
{
	uint8_t f[64] = { 0 };
	struct ctl *c = (void *)f;

	memcpy(c->dst, to->src, 6);
	memcpy(c->src, our_mac, 6);
	c->type = htons(ETH_CTL);
	memcpy(c->magic, "LGBN", 4);
	c->size = to->size;
	c->count = to->count;
	c->a = a;
	c->b = b;
	c->cmd = cmd;
	if (send(sock, f, sizeof(f), 0) < 0)
		perror("netpeer: send");
}

/* The guest's next RXACK: how many it has received; -1 after 2 s. */
static long wait_ack(void)
{
	static uint8_t buf[2048];
	const struct ctl *c = (const void *)buf;
	struct pollfd p = { sock, POLLIN, 0 };

	for (;;) {
		ssize_t n;

		if (poll(&p, 1, 2000) <= 0)
			return -1;
		n = recv(sock, buf, sizeof(buf), 0);
		if (n >= (ssize_t)sizeof(*c) && c->type == htons(ETH_CTL) &&
		    !memcmp(c->magic, "LGBN", 4) && c->cmd == RXACK)
			return c->a;
	}
}

/*
 * 'count' data frames of 'size' bytes to the guest, BURST at a time, never
 * more than 'window' ahead of what it has acknowledged.
 */
static void blast(const struct ctl *to, uint32_t size, uint32_t count,
		  uint32_t window)
{
	static uint8_t frames[BURST][1536];
	struct mmsghdr msg[BURST];
	struct iovec iov[BURST];
	uint32_t sent = 0, acked = 0, i;
	double t0 = now();

	if (size < 60 || size > 1514)
		size = size < 60 ? 60 : 1514;
	if (!window)
		window = count;
	memset(msg, 0, sizeof(msg));
	for (i = 0; i < BURST; i++) {
		uint8_t *f = frames[i];

		memset(f, 0, size);
		memcpy(f, to->src, 6);
		memcpy(f + 6, our_mac, 6);
		f[12] = ETH_DATA >> 8;
		f[13] = ETH_DATA & 0xFF;
		memcpy(f + 14, "LGBD", 4);
		iov[i] = (struct iovec){ f, size };
		msg[i].msg_hdr.msg_iov = &iov[i];
		msg[i].msg_hdr.msg_iovlen = 1;
	}
	while (sent < count) {
		unsigned int n = count - sent, room = acked + window - sent;
		int r;

		if (n > BURST)
			n = BURST;
		if (n > room)
			n = room;
		if (!n) {
			long a = wait_ack();

			if (a < 0) {
				fprintf(stderr,
					"netpeer: no RXACK for 2 s after "
					"%u frames sent\n",
					sent);
				return;
			}
			if ((uint32_t)a > acked)
				acked = a;
			continue;
		}
		for (i = 0; i < n; i++)
			memcpy(frames[i] + 18, &(uint32_t){ sent + i }, 4);
		r = sendmmsg(sock, msg, n, 0);
		if (r < 0) {
			if (errno == ENOBUFS || errno == EAGAIN)
				continue;
			die("sendmmsg");
		}
		sent += r;
	}
	fprintf(stderr, "netpeer: sent %u frames of %u bytes in %.3f s\n", sent,
		size, now() - t0);
}

int main(int argc, char *argv[])
{
	double secs = argc > 2 ? atof(argv[2]) : 60;
	uint32_t frames = 0, bytes = 0;
	struct sockaddr_ll sll = { 0 };
	int one = 1, big = 64 << 20, ifindex;
	static uint8_t buf[65536];

	if (argc < 2) {
		fprintf(stderr, "usage: netpeer IFNAME [SECONDS]\n");
		return 1;
	}
	ifindex = wait_for_link(argv[1], secs);
	if (!ifindex) {
		fprintf(stderr, "netpeer: %s did not come up in %.0f s\n",
			argv[1], secs);
		return 1;
	}
	sock = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	if (sock < 0)
		die("packet socket");
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = ifindex;
	if (bind(sock, (struct sockaddr *)&sll, sizeof(sll)))
		die("bind");
	setsockopt(sock, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	if (setsockopt(sock, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)))
		setsockopt(sock, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	fprintf(stderr, "netpeer: on %s\n", argv[1]);

	for (;;) {
		struct pollfd p = { sock, POLLIN, 0 };
		const struct ctl *c = (const void *)buf;
		ssize_t n;

		if (poll(&p, 1, secs * 1000) == 0) {
			fprintf(stderr, "netpeer: nothing for %.0f s\n", secs);
			return 1;
		}
		n = recv(sock, buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("recv");
		}
		if (n < 18)
			continue;
		if (c->type == htons(ETH_DATA) &&
		    !memcmp(c->magic, "LGBD", 4)) {
			frames++;
			bytes += n;
			continue;
		}
		if (n < (ssize_t)sizeof(*c) || c->type != htons(ETH_CTL) ||
		    memcmp(c->magic, "LGBN", 4))
			continue;
		switch (c->cmd) {
		case HELLO:
			reply(c, HELLO, 0, 0);
			break;
		case TXSTART:
			frames = bytes = 0;
			reply(c, TXSTART, 0, 0);
			break;
		case TXEND:
			fprintf(stderr,
				"netpeer: got %u of %u frames (%u bytes)\n",
				frames, c->count, bytes);
			reply(c, TXEND, frames, bytes);
			break;
		case RXSTART:
			reply(c, RXSTART, 0, 0);
			blast(c, c->size, c->count, c->b);
			break;
		case BYE:
			fprintf(stderr, "netpeer: bye\n");
			return 0;
		}
	}
}
