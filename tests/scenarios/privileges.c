// SPDX-License-Identifier: GPL-2.0
/*
 * scenarios/privileges.c: a guest that holds still while the test looks
 * at the launcher from outside.
 *
 * With --chroot and --username the launcher gives up its root directory
 * and its identity after setting up and before the guest runs; so by the
 * time we run, it is done, and the test can read /proc/<pid>/ of the
 * launcher and of its queue tasks (which start when we set DRIVER_OK, and
 * must be just as unprivileged).  We cannot leave it a file to find: the
 * test's directories are outside our root now, and not ours.  So we speak
 * through the console, the one device every guest has (slot 1): we say
 * "ready <pid>" on transmitq, and wait for the test to type a key, which
 * arrives on receiveq.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../virtio.h"

#define CONSOLE_SLOT 1
#define RECEIVEQ 0
#define TRANSMITQ 1

/* How long the test may take to look: its whole timeout, near enough. */
#define HOLD_MS (3 * VIRTIO_TIMEOUT_MS)

static u64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000 + (u64)ts.tv_nsec / 1000000;
}

static void priv_hold(void)
{
	struct vdev *d = vp_probe(CONSOLE_SLOT);
	struct vbuf key = vbuf_alloc(16), line = vbuf_alloc(32);
	struct vring *rx, *tx;
	u64 deadline;
	u32 len = 0;
	int head;

	vp_init(d, 0);
	rx = vp_setup_vq(d, RECEIVEQ, 0);
	tx = vp_setup_vq(d, TRANSMITQ, 0);
	head = vq_add(rx, NULL, 0, &key, 1);
	vp_driver_ok(d);
	vq_kick(rx);

	line.len = (u32)snprintf((char *)line.p, 32, "ready %d\n", getpid());
	vq_add(tx, &line, 1, NULL, 0);
	vq_kick(tx);
	vq_wait_used(tx, &len);

	deadline = now_ms() + HOLD_MS;
	while (vq_get_used(rx, &len) != head) {
		if (now_ms() > deadline)
			guest_fail("privileges: no key came in %u ms", HOLD_MS);
		vp_wait_irq(d, 100);
	}
	check(len >= 1, "the test's key came on receiveq (%u bytes)", len);
}
SCENARIO(priv_hold);
