#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# t-rng.sh: the entropy device, end to end: the guest's driver finds it,
# negotiates, sets up requestq and gets its buffers back full of
# /dev/urandom, with interrupts or without.  The checking is the "rng"
# scenario's (tests/scenarios/rng.c).

. "$(dirname "$0")/lib.sh"

require_built || exit 0

run_lguest LGSTUB_SCENARIO=rng -- --rng 32 "$TINY_ELF"
guest_passed "rng: buffers filled, chains, interrupts on and off, index wrap"
