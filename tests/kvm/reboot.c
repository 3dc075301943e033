// SPDX-License-Identifier: GPL-2.0
/*
 * reboot.c: reboot through the keyboard controller, once.
 *
 * A program cannot count its own boots, since each one starts afresh, so
 * it keeps the count on the virtio block device (lib.c's
 * boot_count_bump()).  The first boot pulses the reset line (0xFE to the
 * i8042's command port 0x64), which lguest answers by running itself
 * again; the second powers off.
 */
#include "lib.h"

void main(void)
{
	unsigned int boot = boot_count_bump();

	printf("reboot: boot %u\n", boot);
	if (boot == 1) {
		puts("reboot: resetting through the i8042");
		reboot();
	}
	if (boot != 2)
		fail("reboot: boot %u, want 1 or 2", boot);
	puts("reboot: powering off");
	poweroff();
}
