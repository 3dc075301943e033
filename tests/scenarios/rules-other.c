// SPDX-License-Identifier: GPL-2.0
/*
 * scenarios/rules-other.c: what the launcher does about a guest besides
 * stopping it with "bad driver", where no other scenario looks:
 *
 *  - the host bridge's configuration space, read whole: it has no
 *    PCI_CFG window for a read to go wrong through;
 *  - MSI-X vector registers with no MSI-X capability: the original
 *    stopped any access; the specification lets a driver read them and
 *    write NO_VECTOR ("unmapped"), and lguest lets it;
 *  - a trap /dev/lguest reports that the launcher has no use for stops
 *    it, as the original's "Unknown trap" did;
 *  - FAILED in device_status: the original called it an unknown status
 *    bit; the specification lets a driver give up at any time (§2.1,
 *    §3.1.1), so lguest says so once and carries on, and the device
 *    works again after a reset.
 *
 * The other hand-backs (instructions the launcher does not emulate, I/O
 * from guest user mode, MMIO where no device is) are handback.c's, and
 * the refused configuration writes (the window's too) pci.c's.
 */
#include <linux/pci_regs.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_pci.h>

#include "../virtio.h"

#define RNG_SLOT 2

#define TRAP_UD 6

/*
 * Not a rule: the host bridge (slot 0) has no capabilities, so nothing
 * in its configuration space is a PCI_CFG window.  A guest that reads
 * all of it, as "lspci -xxx" does, must get its bytes, not a launcher
 * stopped over a window the bridge does not have (launcher-bugs.md:
 * the host bridge and dword 0x94).
 */
static void rule_host_bridge_config(void)
{
	unsigned int off;
	u32 rest = 0;

	check_eq(pci_read16(0, PCI_STATUS) & PCI_STATUS_CAP_LIST, 0,
		 "the host bridge has no capability list");
	for (off = 0; off < 256; off += 4) {
		u32 v = pci_read32(0, off);

		/* Past the 0x98 bytes each function has, nothing answers. */
		if (off > PCI_CLASS_REVISION && off < 0x98)
			rest |= v;
	}
	check_eq(rest, 0, "the host bridge's registers from 0x0c to 0x97");
}
SCENARIO(rule_host_bridge_config);

/*
 * Trap 6 (invalid opcode) reaching the launcher: the real host handles
 * it inside the guest, so the launcher can only stop.  raw_trap() does
 * not return if the launcher is right.
 */
static void rule_unknown_trap(void)
{
	static const u8 ud2[] = { 0x0f, 0x0b };

	raw_trap(TRAP_UD, ud2, sizeof(ud2), 0, NULL);
	guest_fail("the launcher went on after trap %d", TRAP_UD);
}
SCENARIO(rule_unknown_trap);

/* 16 bytes of entropy, in one buffer: the device must fill it. */
static void entropy(struct vring *rq, const char *when)
{
	struct vbuf b = vbuf_alloc(16);
	u32 len = 0;
	int head = vq_add(rq, NULL, 0, &b, 1);

	vq_kick(rq);
	check_eq(vq_wait_used(rq, &len), head, when);
	check_eq(len, 16, "... all 16 bytes of it");
}

/*
 * The entropy driver gives up on its device (FAILED), says so twice over,
 * and the device goes on serving it until it is reset; set up again, it
 * serves a new driver.
 */
static void rule_failed_reported_once(void)
{
	struct vdev *d = vp_probe(RNG_SLOT);
	struct vring *rq;
	u8 live = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		  VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
	u64 status = d->common + VIRTIO_PCI_COMMON_STATUS;

	vp_init(d, 0);
	rq = vp_setup_vq(d, 0, 4);
	vp_driver_ok(d);
	entropy(rq, "a buffer filled while all is well");

	writeb(live | VIRTIO_CONFIG_S_FAILED, status);
	check_eq(vp_status(d), live | VIRTIO_CONFIG_S_FAILED,
		 "device_status keeps FAILED");
	writeb(live | VIRTIO_CONFIG_S_FAILED, status);
	entropy(rq, "a buffer filled after FAILED");

	vp_init(d, 0);
	check_eq(vp_status(d),
		 VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			 VIRTIO_CONFIG_S_FEATURES_OK,
		 "after the reset, FAILED is gone");
	rq = vp_setup_vq(d, 0, 4);
	vp_driver_ok(d);
	entropy(rq, "a buffer filled after a reset and a new start");
}
SCENARIO(rule_failed_reported_once);

/*
 * No MSI-X capability, so nothing is mapped to a vector: msix_config and
 * each queue_msix_vector read VIRTIO_MSI_NO_VECTOR, and a driver may
 * write NO_VECTOR back (§4.1.5.1.2: "unmaps"); the device goes on.
 */
static void rule_msix_no_vector(void)
{
	struct vdev *d = vp_probe(RNG_SLOT);
	struct vring *rq;
	u64 msix = d->common + VIRTIO_PCI_COMMON_MSIX;
	u64 qmsix = d->common + VIRTIO_PCI_COMMON_Q_MSIX;

	vp_init(d, 0);
	check_eq(readw(msix), VIRTIO_MSI_NO_VECTOR, "msix_config");
	writew(VIRTIO_MSI_NO_VECTOR, msix);
	writew(0, d->common + VIRTIO_PCI_COMMON_Q_SELECT);
	check_eq(readw(qmsix), VIRTIO_MSI_NO_VECTOR, "queue_msix_vector");
	writew(VIRTIO_MSI_NO_VECTOR, qmsix);
	rq = vp_setup_vq(d, 0, 4);
	vp_driver_ok(d);
	entropy(rq, "a buffer filled after NO_VECTOR written to both");
}
SCENARIO(rule_msix_no_vector);
