#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# t-mmio.sh: every mov the launcher decodes on an MMIO fault, 8, 16 and
# 32 bits, to and from every register, with every addressing form (no,
# 8-bit and 32-bit displacements, SIB, bare 32-bit addresses): each must
# reach the right device register with the right value, and leave EIP
# just past the instruction.  The work is the "mmio_encodings" scenario's
# (tests/scenarios/mmio.c).

. "$(dirname "$0")/lib.sh"

require_built || exit 0

run_lguest LGSTUB_SCENARIO=mmio_encodings -- 32 "$TINY_ELF"
guest_passed "88/8a, 66 89/66 8b, 89/8b: every register, every addressing form"
