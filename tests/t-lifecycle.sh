#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# t-lifecycle.sh: a guest that reboots gets a fresh launcher with the same
# arguments (tests/scenarios/lifecycle.c checks the second boot finds its
# devices reset and its disk written); a guest that dies has its reason
# printed as it is, and the launcher exits 1.

. "$(dirname "$0")/lib.sh"

require_built || exit 0

disk=$TEST_TMP/disk.img
head -c $((64 * 1024)) /dev/zero >"$disk"

run_lguest LGSTUB_SCENARIO=lifecycle LGSTUB_CMDLINE="reboot=now test=1" \
	-- --block="$disk" 32 "$TINY_ELF" reboot=now test=1
guest_passed "a reboot: the same arguments, devices reset, the disk kept"
if grep -q '^# boot 2: scenario lifecycle$' "$guest_tap"; then
	ok "the guest booted twice"
else
	not_ok "the guest booted twice" "$(grep '^#' "$guest_tap")"
fi
if [ "$stdout" = $'boot 1\nboot 2' ]; then
	ok "each boot's console output, once"
else
	not_ok "each boot's console output, once" "got: $stdout"
fi
if [ "$(head -c 25 "$disk")" = "written before the reboot" ]; then
	ok "boot 1's write reached the file"
else
	not_ok "boot 1's write reached the file"
fi

run_lguest LGSTUB_SCENARIO=guest_dies -- 32 "$TINY_ELF"
expect_stderr "a death: 'lguest: <reason>', printed as it is, status 1" \
	'^lguest: guest: FAILED: kernel panic: 100% sure, %s %n %x, \\n not '\
'a newline \(1 of 1 checks failed\)$'
