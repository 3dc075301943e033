// SPDX-License-Identifier: GPL-2.0
/*
 * scenarios/lifecycle.c: a guest's life and death as the launcher sees
 * them.
 *
 * lifecycle: the first boot drives the console and the block device (slot
 * 2) to DRIVER_OK, writes a line and a sector, and reboots, as Linux's
 * "reboot" does (LHCALL_SHUTDOWN, LGUEST_SHUTDOWN_RESTART).  The launcher
 * runs itself again with the same arguments: the second boot finds every
 * device reset, the same command line, and the sector it wrote.
 *
 * guest_dies: the guest dies with a reason full of printf directives,
 * which the launcher is to print as it is.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <asm/bootparam.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_pci.h>

#include "../virtio.h"

#define CONSOLE_SLOT 1
#define BLOCK_SLOT 2
#define MARKER "written before the reboot"

/* The launcher's own command line, NULs turned to spaces. */
static const char *launcher_cmdline(void)
{
	static char buf[4096];
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	ssize_t i;

	if (fd >= 0)
		close(fd);
	if (n < 0)
		guest_fail("cannot read /proc/self/cmdline");
	for (i = 0; i < n; i++)
		buf[i] = buf[i] ? buf[i] : ' ';
	buf[n] = '\0';
	return buf;
}

static void console_line(struct vdev *d, struct vring *tx, const char *s)
{
	struct vbuf b = vbuf_alloc((u32)strlen(s));
	u32 len;

	memcpy(b.p, s, b.len);
	vq_add(tx, &b, 1, NULL, 0);
	vq_kick(tx);
	vq_wait_used(tx, &len);
	(void)d;
}

/* One block request: sector 0, 512 bytes, either way; the status. */
static u8 sector0(struct vring *rq, u32 type, struct vbuf data)
{
	struct vbuf h = vbuf_alloc(sizeof(struct virtio_blk_outhdr));
	struct vbuf st = vbuf_alloc(1);
	struct virtio_blk_outhdr *hdr = (void *)h.p;
	struct vbuf out[2] = { h, data }, in[2] = { data, st };
	u32 len;

	hdr->type = type;
	if (type == VIRTIO_BLK_T_OUT)
		vq_add(rq, out, 2, &st, 1);
	else
		vq_add(rq, &h, 1, in, 2);
	vq_kick(rq);
	vq_wait_used(rq, &len);
	return *st.p;
}

static void first_boot(void)
{
	struct vdev *con = vp_probe(CONSOLE_SLOT), *blk = vp_probe(BLOCK_SLOT);
	struct vring *tx, *rq;
	struct vbuf data = vbuf_alloc(512);

	vp_init(con, 0);
	vp_setup_vq(con, 0, 0);
	tx = vp_setup_vq(con, 1, 0);
	vp_driver_ok(con);
	console_line(con, tx, "boot 1\n");
	vp_init(blk, 0);
	rq = vp_setup_vq(blk, 0, 0);
	vp_driver_ok(blk);
	strcpy((char *)data.p, MARKER);
	check_eq(sector0(rq, VIRTIO_BLK_T_OUT, data), VIRTIO_BLK_S_OK,
		 "boot 1: sector 0 written");
	check_eq(vp_status(con), 0xf, "boot 1: the console is DRIVER_OK");
	setenv("LGSTUB_FIRST_CMDLINE", launcher_cmdline(), 1);
	guest_reboot();
}

/* After a reset: status 0, queues disabled at their full size. */
static void check_reset(struct vdev *d, const char *name)
{
	char what[64];
	u16 q;

	snprintf(what, sizeof(what), "boot 2: %s device_status", name);
	check_eq(vp_status(d), 0, what);
	writeb(VIRTIO_CONFIG_S_ACKNOWLEDGE, d->common +
	       VIRTIO_PCI_COMMON_STATUS);
	writeb(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER,
	       d->common + VIRTIO_PCI_COMMON_STATUS);
	for (q = 0; q < vp_common16(d, VIRTIO_PCI_COMMON_NUMQ); q++) {
		writew(q, d->common + VIRTIO_PCI_COMMON_Q_SELECT);
		check(!vp_common16(d, VIRTIO_PCI_COMMON_Q_ENABLE) &&
		      !vp_common32(d, VIRTIO_PCI_COMMON_Q_DESCLO) &&
		      vp_common16(d, VIRTIO_PCI_COMMON_Q_SIZE) == 256,
		      "boot 2: %s queue %u disabled, no rings, size 256", name,
		      q);
	}
}

static void second_boot(void)
{
	const char *first = getenv("LGSTUB_FIRST_CMDLINE");
	const char *want = getenv("LGSTUB_CMDLINE");
	const struct boot_params *bp = phys(0, sizeof(*bp));
	struct vdev *con = vp_probe(CONSOLE_SLOT), *blk = vp_probe(BLOCK_SLOT);
	struct vring *tx, *rq;
	struct vbuf data = vbuf_alloc(512);

	check(first && !strcmp(first, launcher_cmdline()),
	      "boot 2: the launcher runs with the same arguments: %s",
	      launcher_cmdline());
	check(want && !strcmp(phys(bp->hdr.cmd_line_ptr, 1), want),
	      "boot 2: the kernel command line is \"%s\"",
	      (const char *)phys(bp->hdr.cmd_line_ptr, 1));
	check_reset(con, "console");
	check_reset(blk, "block");

	vp_init(con, 0);
	vp_setup_vq(con, 0, 0);
	tx = vp_setup_vq(con, 1, 0);
	vp_driver_ok(con);
	console_line(con, tx, "boot 2\n");
	vp_init(blk, 0);
	rq = vp_setup_vq(blk, 0, 0);
	vp_driver_ok(blk);
	check_eq(sector0(rq, VIRTIO_BLK_T_IN, data), VIRTIO_BLK_S_OK,
		 "boot 2: sector 0 read");
	check(!strcmp((char *)data.p, MARKER),
	      "boot 2: sector 0 holds what boot 1 wrote");
}

static void lifecycle(void)
{
	unsigned int boot = guest_boot()->boot;

	if (boot == 1)
		first_boot();
	check_eq(boot, 2, "the boot after a reboot is boot 2");
	second_boot();
}
SCENARIO(lifecycle);

/* The launcher prints the host's reason as it is: no format expansion. */
static void guest_dies(void)
{
	guest_fail("kernel panic: 100%% sure, %%s %%n %%x, \\n not a newline");
}
SCENARIO(guest_dies);
