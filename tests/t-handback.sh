#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# t-handback.sh: faults the launcher gives back to the guest instead of
# emulating: instructions it does not know, port I/O from guest user
# mode, MMIO where no device is, mov forms it does not decode.  The
# guest (tests/scenarios/handback.c) checks the trap that came back and
# that EIP and every register were left alone; we check the launcher
# said why, and went on.

. "$(dirname "$0")/lib.sh"

require_built || exit 0

run_lguest LGSTUB_SCENARIO=handback -- 32 "$TINY_ELF"
guest_passed "ud2, hlt, string I/O, user-mode I/O, MMIO without a device, \
undecoded movs: all handed back"

PF='the guest gets the page fault$'
expect_stderr "MMIO where no device is: said on stderr" \
	"^lguest: MMIO at 0x[0-9a-f]+: no device there; $PF"
expect_stderr "an undecoded mov: said on stderr, with its bytes" \
	"^lguest: MMIO at 0x[0-9a-f]+: instruction c7 00 01 00 is not one \
lguest emulates; $PF"
