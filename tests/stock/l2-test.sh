#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# tests/stock/l2-test.sh: the stock guest's /test for tests/t-stock.sh
# (scripts/stock-guest --init-script), run by busybox sh in "L2": Debian's
# kernel, booted by the VMM under test (lguest --kvm) inside the nested
# host.  Its terminal is hvc0, the virtio console, so everything it prints
# reaches the VMM's standard output, where tests/stock/l1-test.sh reads it.
#
# It says what it finds in lines L1 can pick out of the kernel's chatter:
#
#   stock-l2: ok - WHAT         a check passed
#   stock-l2: not ok - WHAT     ... failed, with "stock-l2: # WHY" after it
#   stock-l2: data KEY VALUE    a fact L1 checks on its side (a hash)
#
# The checks are named exactly as tests/t-stock.sh lists them.  Its
# settings come from the kernel command line, which L1 writes:
#
#   stock.mode=full|boot      full: every device end to end, then reboot;
#                             boot: only that every device is bound, then
#                             power off (the second kernel format's run)
#   stock.sectors=N           the block device's size, in 512-byte sectors
#   stock.hostpat=S,N,SHA256  sectors S..S+N-1 hold the host's pattern
#   stock.guestpat=S,N        sectors S..S+N-1 are ours to write
#   stock.mark=S              sector S says "this is the second boot"
#   stock.host=IP stock.guest=IP
#                             the tap device's address and ours (/24)
#
# The full run ends with "reboot -f": the VMM starts again (lguest re-execs
# itself), and the second boot's /test finds the marker it wrote in
# sector S, says so and powers off, which ends the VMM with status 0.

mode=full sectors=0 hostpat='' guestpat='' mark='' host='' guest=''
for arg in $(cat /proc/cmdline); do
	case $arg in
	stock.mode=*) mode=${arg#*=} ;;
	stock.sectors=*) sectors=${arg#*=} ;;
	stock.hostpat=*) hostpat=${arg#*=} ;;
	stock.guestpat=*) guestpat=${arg#*=} ;;
	stock.mark=*) mark=${arg#*=} ;;
	stock.host=*) host=${arg#*=} ;;
	stock.guest=*) guest=${arg#*=} ;;
	esac
done
MARKER=lguest-stock-test-rebooted
PORT_HTTP=8000
PORT_NC=8001

ok() { echo "stock-l2: ok - $1"; }
not_ok()
{
	echo "stock-l2: not ok - $1"
	shift
	for l in "$@"; do echo "stock-l2: # $l"; done
}
# check WHAT COMMAND...: ok if COMMAND succeeds.
check()
{
	what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what" "failed: $*"; fi
}
uptime() { cut -d' ' -f1 /proc/uptime; }
# hash: the SHA-256 of standard input, in hex.
hash() { sha256sum | cut -d' ' -f1; }

# The second boot: the first wrote the marker just before it rebooted.
if [ "$mode" = full ] && [ -n "$mark" ] &&
   [ "$(dd if=/dev/vda bs=512 skip="$mark" count=1 2>/dev/null |
	head -c ${#MARKER})" = "$MARKER" ]; then
	echo "stock-l2: boot 2 at $(uptime)s: the marker is in sector $mark"
	ok "reboot: the second boot's /test found the first boot's marker"
	poweroff -f
fi
echo "stock-l2: boot 1 at $(uptime)s, mode $mode"

# --- Every device bound to its driver ------------------------------------
#
# Four virtio devices, each with a driver; one of them is each of
# virtio_console, virtio_blk, virtio_rng and virtio_net.
n=0 unbound=
for dev in /sys/bus/virtio/devices/*; do
	[ -e "$dev" ] || continue
	n=$((n + 1))
	[ -e "$dev/driver" ] ||
		unbound="$unbound ${dev##*/}(device $(cat "$dev/device"))"
done
if [ "$n" = 4 ] && [ -z "$unbound" ]; then
	ok "bind: four virtio devices, every one with a driver"
else
	not_ok "bind: four virtio devices, every one with a driver" \
		"$n devices; without a driver:${unbound:- none}"
fi
for drv in virtio_console virtio_blk virtio_rng virtio_net; do
	devs=$(ls -d /sys/bus/virtio/drivers/$drv/virtio[0-9]* 2>/dev/null)
	if [ "$(echo "$devs" | grep -c virtio)" = 1 ]; then
		ok "bind: $drv drives one device"
	else
		not_ok "bind: $drv drives one device" \
			"$drv has: ${devs:-nothing}" \
			"modules: $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
	fi
done
# kernel_clean: the kernel has not complained.  (With "quiet", warnings
# do not reach the console; dmesg has them.)
kernel_clean()
{
	bad=$(dmesg | grep -E 'WARNING:|BUG:|Oops|Call Trace|virtio.*(error|fail)')
	if [ -z "$bad" ]; then
		ok "kernel: no WARNING, BUG, Oops or virtio error in dmesg"
	else
		not_ok "kernel: no WARNING, BUG, Oops or virtio error in dmesg" \
			"$(echo "$bad" | head -n 10)"
	fi
}

if [ "$mode" != full ]; then
	kernel_clean
	echo "stock-l2: powering off at $(uptime)s"
	poweroff -f
fi

# --- Block -----------------------------------------------------------------
#
# The host filled the disk with random bytes and put a pattern of its own
# in known sectors; we check that pattern, write ours elsewhere with
# O_DIRECT (so the bytes go to the device now, not to our page cache) and
# fsync, which sends a flush: the device's flush count (field 16 of
# /sys/block/vda/stat) must go up.  L1 checks the file afterwards.
got=$(cat /sys/block/vda/size 2>/dev/null)
if [ "$got" = "$sectors" ]; then
	ok "block: /dev/vda has the file's $sectors sectors"
else
	not_ok "block: /dev/vda has the file's $sectors sectors" "size: ${got:-no vda}"
fi

IFS=, read -r hs hn hsum <<E
$hostpat
E
got=$(dd if=/dev/vda bs=512 skip="$hs" count="$hn" iflag=direct 2>/dev/null | hash)
if [ "$got" = "$hsum" ]; then
	ok "block: the host's pattern reads back (sectors $hs-$((hs + hn - 1)))"
else
	not_ok "block: the host's pattern reads back (sectors $hs-$((hs + hn - 1)))" \
		"sha256 $got, want $hsum"
fi

IFS=, read -r gs gn <<E
$guestpat
E
dd if=/dev/urandom of=/tmp/pattern bs=512 count="$gn" 2>/dev/null
echo "stock-l2: data guest-pattern $(hash </tmp/pattern)"
wc=$(cat /sys/block/vda/queue/write_cache)
# Field 16 of the stat file: flush requests completed (17 is their ms).
flushes() { awk '{ print $16 }' /sys/block/vda/stat; }
before=$(flushes)
if dd if=/tmp/pattern of=/dev/vda bs=512 seek="$gs" count="$gn" \
	oflag=direct conv=fsync,notrunc 2>/tmp/dd.err; then
	ok "block: the guest's pattern written (sectors $gs-$((gs + gn - 1)), O_DIRECT, fsync)"
else
	not_ok "block: the guest's pattern written (sectors $gs-$((gs + gn - 1)), O_DIRECT, fsync)" \
		"$(cat /tmp/dd.err)"
fi
after=$(flushes)
if [ "$wc" = "write back" ] && [ -n "$after" ] && [ "$after" -gt "$before" ]; then
	ok "block: fsync sent the device a flush"
else
	not_ok "block: fsync sent the device a flush" \
		"write_cache '$wc'; flushes before $before, after $after"
fi
got=$(dd if=/dev/vda bs=512 skip="$gs" count="$gn" iflag=direct 2>/dev/null | hash)
check "block: the guest's pattern reads back" \
	[ "$got" = "$(hash </tmp/pattern)" ]

# --- Entropy ---------------------------------------------------------------
cur=$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)
a=$(dd if=/dev/hwrng bs=32 count=1 2>/dev/null | od -An -tx1 | tr -d ' \n')
b=$(dd if=/dev/hwrng bs=32 count=1 2>/dev/null | od -An -tx1 | tr -d ' \n')
case $cur in
virtio_rng*)
	if [ ${#a} = 64 ] && [ ${#b} = 64 ] && [ "$a" != "$b" ]; then
		ok "rng: two reads of /dev/hwrng (virtio_rng) give 32 differing bytes"
	else
		not_ok "rng: two reads of /dev/hwrng (virtio_rng) give 32 differing bytes" \
			"rng_current $cur" "first $a" "second $b"
	fi
	;;
*)
	not_ok "rng: two reads of /dev/hwrng (virtio_rng) give 32 differing bytes" \
		"rng_current is '$cur', not virtio_rng"
	;;
esac

# --- Console input ---------------------------------------------------------
#
# No echo, so that what L1 sees come back is what we read and printed, not
# the tty echoing the keys; then L1 types a line into the VMM's stdin.
tty=$(readlink /proc/self/fd/0)
stty -echo
echo "stock-l2: console ready"
# (read -t: busybox sh has it.)
# shellcheck disable=SC3045
if ! read -t 30 -r line; then
	not_ok "console: a line typed on the VMM's stdin reached hvc0" \
		"nothing in 30 s on $tty"
else
	echo "stock-l2: data console-line [$line]"
	if [ "$tty" = /dev/hvc0 ]; then
		ok "console: a line typed on the VMM's stdin reached hvc0"
	else
		not_ok "console: a line typed on the VMM's stdin reached hvc0" \
			"it reached $tty: there is no hvc0"
	fi
fi
stty echo

# --- Network ---------------------------------------------------------------
#
# eth0 gets $guest/24; the host's end is the tap device, $host.  Three
# pings, then a file each way: L1 serves /blob over HTTP (busybox httpd)
# and listens with nc for ours.  L1 compares the hashes.
ifc=$(ls /sys/bus/virtio/drivers/virtio_net/virtio*/net 2>/dev/null | head -n 1)
ip link set lo up
if [ -n "$ifc" ] && ip addr add "$guest/24" dev "$ifc" && ip link set "$ifc" up; then
	ok "net: the interface up with address $guest"
	echo "stock-l2: data interface $ifc"
else
	not_ok "net: the interface up with address $guest" "interface '${ifc}'"
fi
out=$(ping -c 3 -i 0.2 -w 15 "$host" 2>&1)
if echo "$out" | grep -q '3 packets transmitted, 3 packets received'; then
	ok "net: 3 pings to the host's tap address answered"
else
	not_ok "net: 3 pings to the host's tap address answered" "$(echo "$out" | tail -n 2)"
fi
# (Not wget -T: Debian 12's busybox 1.35 wget crashes with it.)
if timeout 30 wget -q -O /tmp/blob "http://$host:$PORT_HTTP/blob" 2>/tmp/wget.err; then
	ok "net: fetched /blob from the host over HTTP"
	echo "stock-l2: data fetched $(hash </tmp/blob) $(wc -c </tmp/blob)"
else
	not_ok "net: fetched /blob from the host over HTTP" "$(cat /tmp/wget.err)"
fi
dd if=/dev/urandom of=/tmp/upload bs=1024 count=256 2>/dev/null
echo "stock-l2: data sent $(hash </tmp/upload) $(wc -c </tmp/upload)"
if timeout 20 nc "$host" "$PORT_NC" </tmp/upload; then
	ok "net: sent a file to the host with nc"
else
	not_ok "net: sent a file to the host with nc" "nc exit status $?"
fi

# --- Reboot ----------------------------------------------------------------
kernel_clean
echo "$MARKER" | dd of=/dev/vda bs=512 seek="$mark" count=1 conv=sync,fsync,notrunc \
	oflag=direct 2>/dev/null
echo "stock-l2: rebooting at $(uptime)s"
reboot -f
