#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# tests/guest-virtio.sh: a /test for the stock guest (scripts/stock-guest
# --init-script tests/guest-virtio.sh), run by busybox sh inside the guest,
# under whatever VMM presents its virtio devices (QEMU, lguest).
#
# Checks that every module /etc/modules lists is loaded, that every virtio
# device on the bus has a driver, and exercises each bound device a little:
# reads the block device, reads the entropy device, writes to hvc0, lists the
# network interface.  Prints one "ok"/"FAIL" line per check and exits with
# the number of failures (0: all passed).
fail=0
ok() { echo "guest-virtio: ok: $*"; }
bad() { echo "guest-virtio: FAIL: $*"; fail=$((fail + 1)); }

while read -r ko _; do
	m=${ko%.ko}
	m=$(echo "$m" | tr - _)
	if grep -q "^$m " /proc/modules; then ok "module $m loaded"; else bad "module $m not loaded"; fi
done </etc/modules

for drv in /sys/bus/virtio/drivers/*; do
	devs=
	for d in "$drv"/virtio[0-9]*; do
		[ -e "$d" ] && devs="$devs ${d##*/}"
	done
	echo "guest-virtio: driver ${drv##*/}:${devs:- no devices}"
done

n=0
for dev in /sys/bus/virtio/devices/*; do
	[ -e "$dev" ] || continue
	n=$((n + 1))
	id=$(cat "$dev/device")
	feat=$(cat "$dev/features")
	if [ -e "$dev/driver" ]; then
		drv=$(basename "$(readlink "$dev/driver")")
		ok "${dev##*/} (device $id, features $feat) bound to $drv"
	else
		bad "${dev##*/} (device $id) has no driver"
		continue
	fi
	case $id in
	0x0001)
		ifs=$(ls "$dev/net" 2>/dev/null)
		if [ -n "$ifs" ]; then ok "net: interface $ifs"; else bad "net: no interface"; fi
		;;
	0x0002)
		blk=$(ls "$dev/block" 2>/dev/null | head -n 1)
		if [ -n "$blk" ] && dd if="/dev/$blk" of=/dev/null bs=4096 count=16 2>/dev/null; then
			ok "block: read 64 KiB from /dev/$blk ($(cat "/sys/block/$blk/size") sectors)"
		else
			bad "block: cannot read /dev/${blk:-vd?}"
		fi
		;;
	0x0003)
		if [ -c /dev/hvc0 ] && echo "guest-virtio: hello on hvc0" >/dev/hvc0; then
			ok "console: wrote to /dev/hvc0"
		else
			bad "console: no /dev/hvc0"
		fi
		;;
	0x0004)
		cur=$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)
		got=$(dd if=/dev/hwrng bs=16 count=1 2>/dev/null | wc -c)
		if [ "$got" -eq 16 ]; then
			ok "rng: read 16 bytes from /dev/hwrng ($cur)"
		else
			bad "rng: read $got bytes from /dev/hwrng ($cur)"
		fi
		;;
	esac
done
[ $n -gt 0 ] || bad "no virtio devices"
echo "guest-virtio: $n devices, $fail failures"
exit $fail
