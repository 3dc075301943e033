#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# t-pci.sh: the PCI bus a guest kernel probes.  The "pci" scenario
# (tests/scenarios/pci.c) reads every slot of bus 0 through ports
# 0xcf8/0xcfc in 8, 16 and 32 bits, checks each device's header, BAR0 and
# virtio capability chain, makes the writes the launcher takes and those
# it refuses with a #GP, drives the console through the PCI configuration
# access window, and reads the ports nobody emulates.  Here we pick the
# devices and check what the launcher said and printed.

. "$(dirname "$0")/lib.sh"

require_built || exit 0

disk=$TEST_TMP/disk.img
head -c $((64 * 1024)) /dev/zero >"$disk"

REFUSED='^lguest: guest.s [124]-byte write of 0x[0-9a-f]+ to port 0xcf[c-f] '
REFUSED+='\(PCI [0-9a-f]{2}:[0-9a-f]{2}\.[0-7] register 0x[0-9a-f]+(, not enabled)?\) '
REFUSED+='refused: the guest gets a #GP$'

run_lguest LGSTUB_SCENARIO=pci LGSTUB_PCI_DEVICES="block rng block" \
	-- --block="$disk" --rng --block="$disk" 32 "$TINY_ELF"
guest_passed "console, block, rng, block: headers, BARs, capabilities, \
writes, window, ports"
expect_stderr "a refused configuration write is said on stderr" "$REFUSED"
if [ "$stdout" = PCI ]; then
	ok "emerg_wr through the PCI_CFG window prints on standard output"
else
	not_ok "emerg_wr through the PCI_CFG window prints on standard output" \
		"got: $stdout"
fi

run_lguest LGSTUB_SCENARIO=pci -- 32 "$TINY_ELF"
guest_passed "the console alone: slots 2-31 are empty"

# A network device needs a tap device, which we make in a network
# namespace of our own, so that nothing touches this machine's network.
NS=lgp$$
if [ "$(id -u)" = 0 ] && [ -c /dev/net/tun ] && ip netns add "$NS" 2>/dev/null
then
	at_exit 'ip netns del "$NS" 2>/dev/null'
	lguest_command LGSTUB_SCENARIO=pci LGSTUB_PCI_DEVICES="net rng" \
		-- --tunnet=192.168.19.1 --rng 32 "$TINY_ELF"
	lguest_cmd=(ip netns exec "$NS" "${lguest_cmd[@]}")
	run_lguest_cmd
	guest_passed "console, net, rng"
else
	skip "console, net, rng" "no network namespace with a tap device here"
fi

# Driver errors the launcher must stop on, and reads it must not.
WINDOW='^lguest: console 00:01\.0: bad driver: .*PCI_CFG window.* '
WINDOW+='\(virtio 1\.0 §4\.1\.4\.7\.2\)'
run_lguest LGSTUB_SCENARIO=pci_window_bad_read -- 32 "$TINY_ELF"
expect_stderr "a read through a misdirected PCI_CFG window stops the \
launcher (4.1.4.7.2)" "$WINDOW"
run_lguest LGSTUB_SCENARIO=pci_window_bad_write -- 32 "$TINY_ELF"
expect_stderr "a write through a misdirected PCI_CFG window stops the \
launcher (4.1.4.7.2)" "$WINDOW"
run_lguest LGSTUB_SCENARIO=msix_absent -- 32 "$TINY_ELF"
guest_passed "msix_config and queue_msix_vector read NO_VECTOR"
