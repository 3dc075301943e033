#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# tests/stock/l1-test.sh [options]: the nested host's half of
# tests/t-stock.sh, run by busybox sh as scripts/nested-host's command in
# "L1" (Debian's kernel under QEMU, with kvm_amd and tun loaded).  It boots
# Debian's stock kernel as "L2" under the VMM being tested, with the four
# virtio devices, and checks from the host's side what the guest's /test
# (tests/stock/l2-test.sh) does with them:
#
#   block    /disk: random bytes, with the host's pattern in sectors
#            1000-1015 and a hash of every other range taken; after the
#            VMM exits, the guest's pattern must be in 2000-2031 and its
#            reboot marker in 3000, and nothing else may have changed
#   console  the VMM's stdin and stdout: once the guest says it is
#            listening, we type a line, which must come back
#   net      the tap device, 192.168.19.1, in a network namespace of our
#            own: /srv/blob is served over HTTP (busybox httpd, port 8000)
#            and nc takes what the guest sends (port 8001)
#   rng      the guest checks it alone
#
# The guest reboots once (reboot -f, after which the VMM starts it again:
# lguest re-execs itself) and the second boot powers off, so the VMM must
# exit with status 0.  With --kernel2, a second kernel (the bzImage) is
# then booted only to see every device bound and the power-off.
#
# Every result is a line on our standard output (the nested host's serial
# console), which tests/t-stock.sh picks out of the boot messages:
#
#   stock: ok - WHAT  /  stock: not ok - WHAT  /  stock: # DIAGNOSTIC
#   stock: time WHAT SECONDS
#
# The guest's own results come back relayed under the same names.  The
# VMM's output is also shown as it comes, each line after "L2| ".
#
# Options:
#   --vmm lguest|qemu   the VMM (default lguest): /lguest --kvm, or the
#                       stand-in, QEMU with KVM and the same devices (to
#                       prove this harness while lguest --kvm is being
#                       written; /usr/bin/qemu-system-x86_64 and its
#                       firmware must be in L1)
#   --kernel FILE       the L2 kernel (default /vmlinux, the ELF)
#   --kernel2 FILE      a second L2 kernel (the bzImage), booted after
#   --initrd FILE       the L2 initramfs (default /l2.cpio.gz)
#   --append ARGS       more L2 kernel arguments
#   --timeout SECONDS   give up on one VMM run after this long (default 120)
#
# Exit status: the number of failed checks (so 0: all passed).
set -u

# A network namespace of our own, so that the tap device and the servers
# are the only things on the network: busybox has unshare.  (Without it,
# L1 is a private network anyway: QEMU gave it no network device.)
if [ -z "${STOCK_NETNS:-}" ]; then
	if unshare -n true 2>/dev/null; then
		export STOCK_NETNS=yes
		exec unshare -n "$0" "$@"
	fi
	STOCK_NETNS=no
fi

vmm=lguest
kernel=/vmlinux
kernel2=
initrd=/l2.cpio.gz
append=
vmm_timeout=120
while [ $# -gt 0 ]; do
	case $1 in
	--vmm) vmm=$2; shift 2 ;;
	--kernel) kernel=$2; shift 2 ;;
	--kernel2) kernel2=$2; shift 2 ;;
	--initrd) initrd=$2; shift 2 ;;
	--append) append="$append $2"; shift 2 ;;
	--timeout) vmm_timeout=$2; shift 2 ;;
	*) echo "stock: not ok - l1-test.sh: unknown argument $1"; exit 1 ;;
	esac
done

HOST=192.168.19.1
GUEST=192.168.19.2
SECTORS=4096
HOSTPAT=1000 HOSTPAT_N=16
GUESTPAT=2000 GUESTPAT_N=32
MARK=3000
MARKER=lguest-stock-test-rebooted
# hvc0 is the console, /dev/console and /test's terminal.  Until it is up
# (virtio_console is a module), the kernel's messages go to the serial
# port (lguest's 16550A, whose output joins the console's on stdout) as an
# early console, so that a panic before /init still shows.  Not
# console=ttyS0: /dev/console would open ttyS0 at boot, and a console's
# serial port keeps its receive interrupt on for good (tty_port_shutdown
# skips console ports), so lguest would hand stdin to the UART, never to
# hvc0 (launcher-bugs K9).
CONSOLE="earlycon=uart8250,io,0x3f8 console=hvc0"
failures=0

ok() { echo "stock: ok - $1"; }
not_ok()
{
	echo "stock: not ok - $1"
	failures=$((failures + 1))
	shift
	for l in "$@"; do
		printf '%s\n' "$l" | sed 's/^/stock: #   /'
	done
}
# check WHAT COMMAND...: ok if COMMAND succeeds.
check()
{
	what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}
hash() { sha256sum | cut -d' ' -f1; }
# sectors START COUNT: the SHA-256 of those sectors of /disk.
sectors() { dd if=/disk bs=512 skip="$1" count="$2" 2>/dev/null | hash; }
now() { cut -d' ' -f1 /proc/uptime; }
# elapsed T0 T1: seconds from one uptime to the other.
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

if [ "$STOCK_NETNS" = yes ]; then
	ok "net: L1's side is a network namespace of its own"
else
	ok "net: L1's side is a network namespace of its own # SKIP no unshare -n; L1 has no other network"
fi
ip link set lo up

# --- The host's side of the devices -------------------------------------
#
# The disk: random bytes, so that a stray write of anything shows.  The
# ranges we do not expect the guest to write are hashed now and again
# after.
t0=$(now)
dd if=/dev/urandom of=/disk bs=512 count=$SECTORS 2>/dev/null
hostpat_sum=$(sectors $HOSTPAT $HOSTPAT_N)
RANGES="0,$HOSTPAT $((HOSTPAT + HOSTPAT_N)),$((GUESTPAT - HOSTPAT - HOSTPAT_N))
$((GUESTPAT + GUESTPAT_N)),$((MARK - GUESTPAT - GUESTPAT_N))
$((MARK + 1)),$((SECTORS - MARK - 1))"
for r in $RANGES; do
	echo "$r $(sectors "${r%,*}" "${r#*,}")"
done >/tmp/ranges.before

mkdir -p /srv
dd if=/dev/urandom of=/srv/blob bs=1024 count=1024 2>/dev/null
blob_sum=$(hash </srv/blob)

# The servers, in our namespace, on every address: the tap device's
# appears only when the VMM makes it.
httpd -f -p 8000 -h /srv &
httpd_pid=$!

# For QEMU, which runs a script on the tap device it makes; lguest gives
# its tap device the address itself.
cat >/tmp/ifup <<E
#!/bin/sh
ip addr add $HOST/24 dev "\$1" && ip link set "\$1" up
E
chmod +x /tmp/ifup

# run_vmm KERNEL ARGS: the VMM, with the four devices, on the fifo
# /tmp/vmm.in and the files /tmp/vmm.out and /tmp/vmm.err.  Changing the
# VMM is this function alone.
run_vmm()
{
	# $2, the kernel's arguments, is split into words on purpose.
	# shellcheck disable=SC2086
	case $vmm in
	lguest)
		exec /lguest --kvm --block=/disk --rng --tunnet=$HOST \
			--initrd="$initrd" 256 "$1" $2
		;;
	qemu)
		exec /usr/bin/qemu-system-x86_64 -accel kvm -cpu host -m 256 -smp 1 \
			-nodefaults -no-user-config -display none \
			-chardev stdio,id=con,signal=off \
			-chardev file,id=ser,path=/tmp/vmm.serial \
			-serial chardev:ser \
			-device virtio-serial-pci,disable-legacy=on \
			-device virtconsole,chardev=con \
			-drive if=none,id=d0,file=/disk,format=raw \
			-device virtio-blk-pci,disable-legacy=on,drive=d0 \
			-device virtio-rng-pci,disable-legacy=on \
			-netdev tap,id=n0,script=/tmp/ifup,downscript=no \
			-device virtio-net-pci,disable-legacy=on,netdev=n0,romfile= \
			-kernel "$1" -initrd "$initrd" -append "$2"
		;;
	esac
}

# boot NAME KERNEL ARGS [LINE]: run the VMM in the background, show its
# output as it comes, and type LINE (if given) once the guest says
# "stock-l2: console ready".  Sets $status and $seconds.
boot()
{
	name=$1 line=${4:-}
	rm -f /tmp/vmm.in
	mkfifo /tmp/vmm.in
	: >/tmp/vmm.out
	echo "stock: # $name: $vmm, kernel $2"
	t0=$(now)
	(run_vmm "$2" "$3") </tmp/vmm.in >/tmp/vmm.out 2>/tmp/vmm.err 4<&- &
	pid=$!
	exec 3>/tmp/vmm.in
	rm -f /tmp/relay
	mkfifo /tmp/relay
	while IFS= read -r l; do echo "L2| $l"; done </tmp/relay &
	tail -n +1 -f /tmp/vmm.out >/tmp/relay &
	tail_pid=$!
	i=0 sent=
	while kill -0 $pid 2>/dev/null; do
		if [ -n "$line" ] && [ -z "$sent" ] &&
		   grep -q 'stock-l2: console ready' /tmp/vmm.out; then
			echo "$line" >&3
			sent=yes
		fi
		# A panic reboots (panic=-1), and the VMM would boot the
		# guest again and again.
		if grep -q 'Kernel panic - not syncing' /tmp/vmm.out; then
			echo "stock: # $name: the guest's kernel panicked: stopped"
			kill -9 $pid
		# A first boot again: the marker did not reach the disk, and
		# every boot would be a first one.
		elif [ "$(grep -c 'stock-l2: boot 1 ' /tmp/vmm.out)" -gt 1 ]; then
			echo "stock: # $name: the guest's first boot came again: stopped"
			kill -9 $pid
		elif [ $i -ge $((vmm_timeout * 5)) ]; then
			echo "stock: # $name: still running after ${vmm_timeout}s: killed"
			kill -9 $pid
		fi
		# A heartbeat, so that a guest waiting quietly is not taken
		# for a frozen L1 (scripts/nested-host --idle).
		[ $((i % 50)) != 49 ] ||
			echo "stock: # $name: the VMM has run for $(((i + 1) / 5))s"
		sleep 0.2
		i=$((i + 1))
	done
	wait $pid
	status=$?
	exec 3>&-
	seconds=$(elapsed "$t0" "$(now)")
	sleep 0.2
	kill $tail_pid 2>/dev/null
	tr -d '\r' </tmp/vmm.out >/tmp/vmm.txt
	sed 's/^/L2 stderr| /' /tmp/vmm.err
	# QEMU's serial port (ttyS0) went to a file of its own.
	[ ! -e /tmp/vmm.serial ] || tr -d '\r' </tmp/vmm.serial | sed 's/^/L2 ttyS0| /'
	rm -f /tmp/vmm.serial
	echo "stock: time $name $seconds"
}

# relay PREFIX: the guest's results (the last run's) as ours, each case
# once, as the guest first reported it (a guest that boots again and again
# reports them again and again).
relay()
{
	awk -v p="$1" '
		/^stock-l2: (not )?ok - / {
			c = $0
			sub(/^stock-l2: (not )?ok - /, "", c)
			show = !(c in seen)
			seen[c] = 1
			if (!show)
				next
			v = $0 ~ /^stock-l2: ok/ ? "ok" : "not ok"
			print "stock: " v " - " p c
			if (v != "ok")
				failed++
			next
		}
		/^stock-l2: # / && show { sub(/^stock-l2: # /, "stock: #   "); print }
		END { print failed + 0 >"/tmp/relay.failed" }' /tmp/vmm.txt
	failures=$((failures + $(cat /tmp/relay.failed)))
}

# The VMM's exit status, and its stderr when it is not 0.
vmm_exit()
{
	if [ "$status" = 0 ]; then
		ok "$1"
	else
		not_ok "$1" "exit status $status" "stderr:" "$(tail -n 20 /tmp/vmm.err)"
	fi
}

# data KEY: the value of the guest's "stock-l2: data KEY VALUE".
data() { sed -n "s/^stock-l2: data $1 //p" /tmp/vmm.txt | tail -n 1; }

# --- The stock kernel, every device --------------------------------------
# nc's standard input is a fifo we hold open and never write: at the end
# of its input, busybox nc would shut its sending side, and the guest's nc,
# seeing that, would stop sending too.
rm -f /tmp/hold
mkfifo /tmp/hold
exec 4<>/tmp/hold
nc -l -p 8001 <&4 >/tmp/received &
nc_pid=$!
typed="typed into the VMM $(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
args="$CONSOLE panic=-1 quiet stock.mode=full stock.sectors=$SECTORS"
args="$args stock.hostpat=$HOSTPAT,$HOSTPAT_N,$hostpat_sum"
args="$args stock.guestpat=$GUESTPAT,$GUESTPAT_N stock.mark=$MARK"
args="$args stock.host=$HOST stock.guest=$GUEST$append"
echo "stock: time setup $(elapsed "$t0" "$(now)")"
boot "full run" "$kernel" "$args" "$typed"

relay ""
# The second boot's own report is missing when it never came.
if ! grep -qE '^stock-l2: (not )?ok - reboot: ' /tmp/vmm.txt; then
	not_ok "reboot: the second boot's /test found the first boot's marker" \
		"no second boot reported"
fi
vmm_exit "power-off: the VMM exited with status 0 after the guest's reboot and poweroff -f"
# Whether the guest came back after reboot -f, whatever the disk said (a
# first boot again, when the marker did not stick, counts here).
boots=$(grep -c '^stock-l2: boot [12] ' /tmp/vmm.txt)
if grep -q '^stock-l2: rebooting' /tmp/vmm.txt && [ "$boots" -ge 2 ]; then
	ok "reboot: reboot -f started the guest again"
else
	not_ok "reboot: reboot -f started the guest again" \
		"$boots boots of /test seen$(grep -q '^stock-l2: rebooting' /tmp/vmm.txt ||
			echo ', and no reboot -f')"
fi

got=$(data console-line)
if [ "$got" = "[$typed]" ]; then
	ok "console: the line typed came back on the VMM's stdout"
else
	not_ok "console: the line typed came back on the VMM's stdout" \
		"typed [$typed]" "got ${got:-nothing}"
fi

# The disk, from the host's side.
size=$(stat -c %s /disk)
check "block file: still $SECTORS sectors" [ "$size" = $((SECTORS * 512)) ]
got=$(sectors $GUESTPAT $GUESTPAT_N)
want=$(data guest-pattern)
if [ -n "$want" ] && [ "$got" = "$want" ]; then
	ok "block file: the guest's pattern is in sectors $GUESTPAT-$((GUESTPAT + GUESTPAT_N - 1))"
else
	not_ok "block file: the guest's pattern is in sectors $GUESTPAT-$((GUESTPAT + GUESTPAT_N - 1))" \
		"sha256 $got, the guest wrote ${want:-nothing it said}"
fi
check "block file: the host's pattern is intact" \
	[ "$(sectors $HOSTPAT $HOSTPAT_N)" = "$hostpat_sum" ]
got=$(dd if=/disk bs=512 skip=$MARK count=1 2>/dev/null | head -c ${#MARKER})
check "block file: the guest's reboot marker is in sector $MARK" [ "$got" = "$MARKER" ]
for r in $RANGES; do
	echo "$r $(sectors "${r%,*}" "${r#*,}")"
done >/tmp/ranges.after
if cmp -s /tmp/ranges.before /tmp/ranges.after; then
	ok "block file: nothing changed outside the sectors written"
else
	not_ok "block file: nothing changed outside the sectors written" \
		"changed (start,count):" \
		"$(diff /tmp/ranges.before /tmp/ranges.after | sed -n 's/^+\([0-9]\)/\1/p' | cut -d' ' -f1)"
fi

# The files moved over the network, from the host's side.
got=$(data fetched)
if [ "$got" = "$blob_sum $(stat -c %s /srv/blob)" ]; then
	ok "net: the guest fetched /blob intact (1 MiB, sha256)"
else
	not_ok "net: the guest fetched /blob intact (1 MiB, sha256)" \
		"guest: ${got:-nothing}" "host: $blob_sum $(stat -c %s /srv/blob)"
fi
kill $nc_pid 2>/dev/null
got="$(hash </tmp/received) $(stat -c %s /tmp/received)"
want=$(data sent)
if [ -n "$want" ] && [ "$got" = "$want" ]; then
	ok "net: the file the guest sent arrived intact (256 KiB, sha256)"
else
	not_ok "net: the file the guest sent arrived intact (256 KiB, sha256)" \
		"guest sent ${want:-nothing it said}" "host got $got"
fi

# --- The second kernel format: every device bound, power-off -------------
if [ -n "$kernel2" ]; then
	args="$CONSOLE panic=-1 quiet stock.mode=boot$append"
	boot "bzImage run" "$kernel2" "$args"
	relay "bzImage: "
	vmm_exit "bzImage: power-off: the VMM exited with status 0"
fi

kill $httpd_pid 2>/dev/null
echo "stock: done, $failures failed"
exit $failures
