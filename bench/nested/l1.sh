#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# bench/nested/l1.sh RUNS: the nested host's half of bench/run, run by
# busybox sh as scripts/nested-host's command in "L1" (Debian's kernel
# under QEMU's software emulation, with kvm_amd).  It boots Debian's stock
# kernel as "L2" (the ELF vmlinux, entered directly by lguest, through its
# PVH note by QEMU) with an initramfs whose /init says "bench-l2: /init"
# and powers off (bench/nested/l2-init), RUNS times under each VMM,
# alternating:
#
#   lguest     /lguest --kvm 256 /vmlinux (its console, as always)
#   qemu       QEMU -M pc with KVM, SeaBIOS, a virtio console as lguest's:
#              the same binary, libraries and firmware as on the host
#   microvm    QEMU -M microvm with KVM: no PCI, the serial port only
#
# each timed by /launch (bench/launch.c) from just before the fork to the
# marker and to the VMM's exit.  Every result is a line on our standard
# output (L1's serial console), which bench/run picks out:
#
#   bench-l1: result VMM stock.init|stock.exit MILLISECONDS ms
#   bench-l1: result VMM stock.rss KIB KiB
#   bench-l1: # DIAGNOSTIC
#
# and a heartbeat line before each run, so that a frozen L1 (see
# scripts/nested-host --retry) is told from a slow one.
set -u
runs=${1:-3}
ARGS="console=ttyS0 panic=-1 quiet"

run_one()
{
	vmm=$1
	echo "bench-l1: # run $i: $vmm"
	case $vmm in
	lguest)
		set -- /lguest --kvm --initrd=/l2.cpio.gz 256 /vmlinux $ARGS
		;;
	qemu)
		set -- /usr/bin/qemu-system-x86_64 -enable-kvm -M pc -cpu host \
			-m 256 -smp 1 -nodefaults -no-user-config -display none \
			-no-reboot -serial stdio \
			-device virtio-serial-pci,disable-legacy=on,vectors=0 \
			-kernel /vmlinux -initrd /l2.cpio.gz -append "$ARGS"
		;;
	microvm)
		set -- /usr/bin/qemu-system-x86_64 -enable-kvm -M microvm \
			-cpu host -m 256 -smp 1 -nodefaults -no-user-config \
			-display none -no-reboot -serial stdio \
			-kernel /vmlinux -initrd /l2.cpio.gz -append "$ARGS"
		;;
	esac
	line=$(/launch -o /tmp/l2.out -e /tmp/l2.err -m "bench-l2: /init" \
		-t 120 -- "$@")
	echo "bench-l1: # $vmm: $line"
	set -- $(echo "$line" | tr '=' ' ')
	# marker_ms M exit_ms E status S maxrss_kb K
	if [ "$6" != 0 ] || [ "$2" = -1.0 ]; then
		echo "bench-l1: # $vmm failed; its output:"
		tail -n 20 /tmp/l2.out /tmp/l2.err | sed 's/^/bench-l1: #   /'
		return
	fi
	echo "bench-l1: result $vmm stock.init $2 ms"
	echo "bench-l1: result $vmm stock.exit $4 ms"
	echo "bench-l1: result $vmm stock.rss $8 KiB"
}

i=1
while [ "$i" -le "$runs" ]; do
	# Alternate which goes first, so that neither always follows the other.
	if [ $((i % 2)) = 1 ]; then
		order="lguest qemu microvm"
	else
		order="microvm qemu lguest"
	fi
	for vmm in $order; do
		run_one "$vmm"
	done
	i=$((i + 1))
done
echo "bench-l1: done"
