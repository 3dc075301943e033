#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# t-stock.sh: Debian's stock kernel as the guest, end to end, through the
# KVM path (lguest --kvm), with the four virtio devices.
#
# This machine's /dev/kvm cannot run a stock kernel, so the test nests
# (../shared/notes/nested-kvm.md): scripts/nested-host boots Debian's
# kernel as "L1" under QEMU (TCG, an AMD CPU with SVM) with kvm_amd and
# tun, and runs tests/stock/l1-test.sh there, once; that runs lguest
# --kvm, which boots the same kernel as "L2" with the initramfs
# scripts/stock-guest builds around tests/stock/l2-test.sh.  L2 checks
# its devices and says so on the virtio console; L1 types a line on
# lguest's stdin, serves and receives files over the tap device, checks
# the block device's file after lguest has exited, and prints every result
# as "stock: ok - WHAT" or "stock: not ok - WHAT" on its serial console,
# which we read here and relay, case by case, in the order of CASES.
# (The files say what each check does.)
#
# One L1 boot (~30 s in all) carries everything: the ELF vmlinux booted,
# rebooted (lguest re-execs itself) and powered off; then the bzImage
# booted to see its devices bound and powered off.  Now and then L1
# freezes as an L2 kernel starts (QEMU 7.2's TCG; see scripts/nested-host
# --retry: here about one L2 boot in 25, so one run in 9 with three of
# them), so an L1 whose console falls silent is booted again, twice at
# the most.
#
# Settings, from the environment:
#   LGTEST_STOCK_VMM  lguest (lguest --kvm), qemu (QEMU with KVM in L1:
#                     the stand-in that proves this harness while lguest
#                     has no --kvm), or auto (the default: lguest if it
#                     takes --kvm, else every case is skipped)
#   LGTEST_STOCK      "skip" skips every case (and saves the ~30 s the
#                     nested boot takes)
#   LGTEST_STOCK_LOG  also keep L1's console in this file
#   LGTEST_STOCK_APPEND
#                     more arguments for L2's kernel command line
#
# Needs: qemu-system-x86, busybox-static, cpio, xz-utils, binutils and
# build/debian (scripts/debian-kernel), as .ci/run installs them.

. "$(dirname "$0")/lib.sh"

# The cases, as tests/stock/l1-test.sh names them (the L2 ones relayed).
CASES=(
	"net: L1's side is a network namespace of its own"
	"bind: four virtio devices, every one with a driver"
	"bind: virtio_console drives one device"
	"bind: virtio_blk drives one device"
	"bind: virtio_rng drives one device"
	"bind: virtio_net drives one device"
	"block: /dev/vda has the file's 4096 sectors"
	"block: the host's pattern reads back (sectors 1000-1015)"
	"block: the guest's pattern written (sectors 2000-2031, O_DIRECT, fsync)"
	"block: fsync sent the device a flush"
	"block: the guest's pattern reads back"
	"rng: two reads of /dev/hwrng (virtio_rng) give 32 differing bytes"
	"console: a line typed on the VMM's stdin reached hvc0"
	"net: the interface up with address 192.168.19.2"
	"net: 3 pings to the host's tap address answered"
	"net: fetched /blob from the host over HTTP"
	"net: sent a file to the host with nc"
	"reboot: the second boot's /test found the first boot's marker"
	"power-off: the VMM exited with status 0 after the guest's reboot and poweroff -f"
	"reboot: reboot -f started the guest again"
	"console: the line typed came back on the VMM's stdout"
	"block file: still 4096 sectors"
	"block file: the guest's pattern is in sectors 2000-2031"
	"block file: the host's pattern is intact"
	"block file: the guest's reboot marker is in sector 3000"
	"block file: nothing changed outside the sectors written"
	"net: the guest fetched /blob intact (1 MiB, sha256)"
	"net: the file the guest sent arrived intact (256 KiB, sha256)"
	"kernel: no WARNING, BUG, Oops or virtio error in dmesg"
	"bzImage: bind: four virtio devices, every one with a driver"
	"bzImage: bind: virtio_console drives one device"
	"bzImage: bind: virtio_blk drives one device"
	"bzImage: bind: virtio_rng drives one device"
	"bzImage: bind: virtio_net drives one device"
	"bzImage: kernel: no WARNING, BUG, Oops or virtio error in dmesg"
	"bzImage: power-off: the VMM exited with status 0"
)

KDIR=build/debian
STOCK=build/stock

skip_all()
{
	local c

	for c in "${CASES[@]}"; do
		skip "$c" "$1"
	done
	exit 0
}

# What the nested run needs, or every case is skipped, saying why.
[ "${LGTEST_STOCK:-}" != skip ] || skip_all "LGTEST_STOCK=skip"
[ -x "$LGUEST" ] || skip_all "no $LGUEST (run make)"
command -v qemu-system-x86_64 >/dev/null ||
	skip_all "no qemu-system-x86_64 (install qemu-system-x86)"
command -v busybox >/dev/null ||
	skip_all "no busybox (install busybox-static)"
command -v cpio >/dev/null || skip_all "no cpio (install cpio)"
command -v xz >/dev/null || skip_all "no xz (install xz-utils)"
[ -d "$KDIR/root/lib/modules" ] ||
	skip_all "no Debian kernel in $KDIR (run scripts/debian-kernel)"

# The VMM: lguest, once it has a KVM path ("--kvm --version" is then a
# good command line, and an unknown option until then).
vmm=${LGTEST_STOCK_VMM:-auto}
if [ "$vmm" = auto ]; then
	if "$LGUEST" --kvm --version >/dev/null 2>&1; then
		vmm=lguest
	else
		skip_all "$LGUEST has no --kvm yet (LGTEST_STOCK_VMM=qemu runs this harness under QEMU)"
	fi
fi
case $vmm in
lguest) vmm_files=(--file "$LGUEST:/lguest") ;;
qemu)
	# The stand-in: QEMU, its libraries (mkinitramfs follows ldd) and
	# the firmware it loads: the BIOS, the option ROMs that boot a
	# bzImage (linuxboot_dma) or an ELF with a PVH note (pvh).
	vmm_files=(--file /usr/bin/qemu-system-x86_64:/usr/bin/qemu-system-x86_64)
	for f in /usr/share/seabios/bios-256k.bin /usr/share/qemu/linuxboot_dma.bin \
		/usr/share/qemu/kvmvapic.bin /usr/share/qemu/pvh.bin; do
		vmm_files+=(--file "$f:$f")
	done
	;;
*) skip_all "LGTEST_STOCK_VMM=$vmm: want lguest, qemu or auto" ;;
esac
echo "# stock: the VMM in L1 is $vmm"

# L2's initramfs (and the ELF vmlinux, which stock-guest extracts), built
# again when what goes into it is newer.
initrd=$STOCK/l2.cpio.gz
mkdir -p "$STOCK"
for f in tests/stock/l2-test.sh scripts/stock-guest scripts/mkinitramfs; do
	if [ ! -e "$initrd" ] || [ "$f" -nt "$initrd" ]; then
		rm -f "$initrd"
		break
	fi
done
if [ ! -e "$initrd" ] || [ ! -e "$KDIR/vmlinux" ] ||
   [ "$KDIR/vmlinuz" -nt "$KDIR/vmlinux" ]; then
	if ! scripts/stock-guest --init-script tests/stock/l2-test.sh \
		"$initrd" >"$TEST_TMP/build.log" 2>&1; then
		for c in "${CASES[@]}"; do
			not_ok "$c" "scripts/stock-guest failed:" \
				"$(tail -n 5 "$TEST_TMP/build.log")"
		done
		exit 0
	fi
fi

# One L1 boot.  A boot that freezes (the TCG bug) falls silent: nested-host
# gives up on it after --idle seconds of silence and boots again.  (L1
# says something every 10 s while the VMM runs, so a slow guest is not
# taken for a frozen L1.)
log=$TEST_TMP/l1.log
start=$(date +%s%N)
scripts/nested-host --module tun --retry 2 --timeout 300 --idle 40 \
	"${vmm_files[@]}" \
	--file "$KDIR/vmlinux:/vmlinux" --file "$KDIR/vmlinuz:/vmlinuz" \
	--file "$initrd:/l2.cpio.gz" --file tests/stock/l1-test.sh:/l1-test.sh \
	-- /l1-test.sh --vmm "$vmm" --kernel /vmlinux --kernel2 /vmlinuz \
	${LGTEST_STOCK_APPEND:+--append "$LGTEST_STOCK_APPEND"} \
	>"$log" 2>"$TEST_TMP/nested.err"
nested_status=$?
wall=$((($(date +%s%N) - start) / 1000000))
[ -z "${LGTEST_STOCK_LOG:-}" ] || tr -d '\r' <"$log" >"$LGTEST_STOCK_LOG"
# The last boot's console: an earlier one froze.
tr -d '\r' <"$log" |
	awk '/nested-host: L1 up at/ { n = 0 } { l[n++] = $0 }
		END { for (i = 0; i < n; i++) print l[i] }' >"$TEST_TMP/l1.txt"

# The timings, as comments: each VMM run (by L1's clock), the whole.
sed -n 's/^stock: time \(.*\) \([0-9.]*\)$/# stock: \1: \2 s (L1 clock)/p' "$TEST_TMP/l1.txt"
grep '^nested-host: .*wall time\|booting L1 again' "$TEST_TMP/nested.err" |
	sed 's/^/# /'
printf '# stock: %d.%03d s in all, exit status %d\n' $((wall / 1000)) \
	$((wall % 1000)) "$nested_status"

# The diagnostics that follow a case in L1's output.
case_diag()
{
	awk -v want="$1" '
		/^stock: (not )?ok - / { cur = $0; sub(/^stock: (not )?ok - /, "", cur); next }
		/^stock: #   / && cur == want { sub(/^stock: #   /, ""); print }' \
		"$TEST_TMP/l1.txt"
}

# Relay: each listed case as L1 reported it, or not ok if it did not.
declare -A listed=()
for c in "${CASES[@]}"; do
	listed[$c]=1
	line=$(awk -v c="$c" '$0 == "stock: ok - " c ||
		$0 == "stock: not ok - " c ||
		index($0, "stock: ok - " c " # SKIP ") == 1 { l = $0 }
		END { print l }' "$TEST_TMP/l1.txt")
	case $line in
	"stock: ok - $c # SKIP "*) skip "$c" "${line#*# SKIP }" ;;
	"stock: ok - $c") ok "$c" ;;
	"stock: not ok - $c") not_ok "$c" "$(case_diag "$c")" ;;
	*)
		if [ -n "${told:-}" ]; then
			not_ok "$c" "L1 did not report it either"
			continue
		fi
		told=yes
		not_ok "$c" "L1 did not report it (nested-host exit status $nested_status)" \
			"the end of L1's console:" \
			"$(grep -v '^$' "$TEST_TMP/l1.txt" | tail -n 25)" \
			"nested-host:" "$(tail -n 5 "$TEST_TMP/nested.err")"
		;;
	esac
done
# ... and anything it reported that is not listed, which is a mistake.
while IFS= read -r line; do
	c=${line#stock: ok - }
	c=${c#stock: not ok - }
	c=${c%% # SKIP *}
	[ -n "${listed[$c]:-}" ] || not_ok "unlisted case: $line"
done < <(grep -E '^stock: (not )?ok - ' "$TEST_TMP/l1.txt")
