#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# t-kvm.sh: lguest --kvm on this machine's own /dev/kvm, no stand-in.
#
# The guests are the small freestanding i386 programs of tests/kvm/
# (build/kvm/*.elf) and x86-64 ones of tests/kvm64/ (build/kvm64/*.elf),
# each a driver that talks to one part of the machine lguest gives a KVM
# guest and prints what it found on the UART: "ok - ..." for each check
# that held, "FAIL: ..." for one that did not (and then it powers off).
# They reach what a stock kernel cannot on a host whose KVM is
# software-backed: interrupts through the in-kernel 8259s, the 16550A,
# ACPI power-off, both ways of rebooting, a driver breaking a rule (lguest
# must stop, naming the rule), an instruction KVM cannot emulate, and RAM
# and virtqueues above 4 GiB.
#
# A case is skipped only when /dev/kvm cannot be opened, or (those that
# give the guest more than 4 GiB) when the launcher is an i386 build.

. "$(dirname "$0")/lib.sh"

KVM_PROGS=${KVM_PROGS:-build/kvm}
KVM64_PROGS=${KVM64_PROGS:-build/kvm64}

require_built || exit 0

# /dev/kvm must open read-write, as lguest opens it.
kvm_unusable=
if ! kvm_err=$({ : <>/dev/kvm; } 2>&1); then
	kvm_unusable="/dev/kvm cannot be opened (${kvm_err##*: })"
fi

# kvm_elf PROGRAM: the file of tests/kvm's PROGRAM, or of tests/kvm64's
# for 64/PROGRAM.
kvm_elf()
{
	case $1 in
	64/*) echo "$KVM64_PROGS/${1#64/}.elf" ;;
	*) echo "$KVM_PROGS/$1.elf" ;;
	esac
}

# kvm_case PROGRAM WHAT...: false, each case WHAT reported, if PROGRAM
# cannot run here.
kvm_case()
{
	local prog what

	prog=$(kvm_elf "$1")

	shift
	if [ -z "$kvm_unusable" ] && [ -e "$prog" ]; then
		return 0
	fi
	for what in "$@"; do
		if [ -n "$kvm_unusable" ]; then
			skip "$what" "$kvm_unusable"
		else
			not_ok "$what" "missing: $prog (run make)"
		fi
	done
	return 1
}

# run_kvm PROGRAM [LAUNCHER OPTIONS...] [-- KERNEL ARGUMENTS...]: run the
# program under lguest --kvm with $kvm_mem MiB (16 unless set for the
# call: kvm_mem=4608 run_kvm ...), no input, as run_plain does; $out is
# its output without the serial line's carriage returns.
run_kvm()
{
	local prog=$1 opts=()

	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	[ $# -gt 0 ] && shift
	run_plain --kvm "${opts[@]}" "${kvm_mem:-16}" "$(kvm_elf "$prog")" "$@"
	out=$(tr -d '\r' <<<"$stdout")
}

# start_kvm PROGRAM [LAUNCHER OPTIONS...]: as run_kvm, in the background
# with standard input a pipe (type_keys), as start_lguest does; then
# finish_kvm.
start_kvm()
{
	local prog=$1

	shift
	guest_tap=$TEST_TMP/guest.tap
	: >"$guest_tap"
	lguest_cmd=("$LGUEST" --kvm "$@" 16 "$KVM_PROGS/$prog.elf")
	start_lguest_cmd
}

finish_kvm()
{
	finish_lguest
	out=$(tr -d '\r' <<<"$stdout")
}

# What the last run did, for a failure's diagnostics (nothing, if there
# was no run).
status= out= stderr=
kvm_diagnostics()
{
	if [ -z "$status" ]; then
		return
	elif [ "$status" = 124 ] || [ "$status" = 137 ]; then
		diag "lguest was still running after ${LGTEST_TIMEOUT}s"
	else
		diag "exit status $status"
	fi
	[ -z "$out" ] || diag "the guest said:" "$(tail -n 15 <<<"$out")"
	[ -z "$stderr" ] || diag "stderr:" "$(tail -n 10 <<<"$stderr")"
}

# Each case collects what is wrong with the run in $why, then says
# verdict.  kvm_expect STATUS LINE...: the run ended with exit status
# STATUS, and the guest printed every LINE (a grep -E regex for a whole
# line).  kvm_no_fail: and it printed no FAIL line.
kvm_expect()
{
	local re

	why=()
	[ "$status" = "$1" ] || why+=("want exit status $1")
	shift
	for re in "$@"; do
		grep -qxE -- "$re" <<<"$out" ||
			why+=("want a line from the guest matching: $re")
	done
}

kvm_no_fail()
{
	! grep -q '^FAIL' <<<"$out" || why+=("the guest failed a check")
}

# kvm_stopped REGEX: the run ended with status 1, a line on stderr
# matching REGEX (grep -E, whole line), and no FAIL from the guest (it
# would have failed, had lguest let it go on).
kvm_stopped()
{
	kvm_expect 1
	grep -qxE -- "$1" <<<"$stderr" ||
		why+=("want a line on stderr matching:" "  $1")
	kvm_no_fail
}

verdict()
{
	if [ ${#why[@]} = 0 ]; then
		ok "$1"
	else
		not_ok "$1" "${why[@]}"
		kvm_diagnostics
	fi
}

# What the guest printed after PREFIX on its line, or nothing.
guest_says()
{
	sed -n "s/^$1//p" <<<"$out" | head -n 1
}

# The programs are guests, not host programs: whatever compiler and flags
# the suite is built with, they come out the same (KVM_GUEST_CC, gcc by
# default, builds them), without a warning: tests/kvm's as i386
# executables that QEMU's -kernel takes too (a multiboot header in the
# first 8 KiB), tests/kvm64's as x86-64 ones, on the same library.
what="tests/kvm programs: the same whatever CC and CFLAGS; i386, multiboot"
what64="tests/kvm64 programs: the same whatever CC and CFLAGS; x86-64"
src=$TEST_TMP/src
mkdir -p "$src/tests/fuzz" "$src/bench"
cp Makefile "$src/" && cp -r tests/tests.mk tests/kvm tests/kvm64 "$src/tests/"
cp tests/fuzz/fuzz.mk "$src/tests/fuzz/" && cp bench/bench.mk "$src/bench/"
why=() why64=()
for cc in gcc "gcc -m32" clang; do
	command -v "${cc%% *}" >/dev/null || continue
	rm -rf "$src/build"
	build_out=$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
		make -s -C "$src" build/kvm/uart.elf build/kvm64/highmem.elf \
		CC="$cc" CFLAGS="-O0 -g3" 2>&1) ||
		why+=("CC=$cc: make failed") why64+=("CC=$cc: make failed")
	[ -z "$build_out" ] || why+=("CC=$cc: the build said:" "$build_out")
	[ -z "$build_out" ] || why64+=("CC=$cc: the build said:" "$build_out")
	cmp -s "$src/build/kvm/uart.elf" "$KVM_PROGS/uart.elf" ||
		why+=("CC=$cc CFLAGS='-O0 -g3' built a different uart.elf")
	cmp -s "$src/build/kvm64/highmem.elf" "$KVM64_PROGS/highmem.elf" ||
		why64+=("CC=$cc CFLAGS='-O0 -g3' built a different highmem.elf")
done
file -b "$KVM_PROGS/uart.elf" | grep -q 'ELF 32-bit LSB executable, Intel 80386' ||
	why+=("uart.elf is a $(file -b "$KVM_PROGS/uart.elf")")
od -An -tx4 -w4 -v -N8192 "$KVM_PROGS/uart.elf" | grep -qx ' 1badb002' ||
	why+=("no multiboot header in the first 8 KiB of uart.elf")
file -b "$KVM64_PROGS/highmem.elf" | grep -q 'ELF 64-bit LSB executable, x86-64' ||
	why64+=("highmem.elf is a $(file -b "$KVM64_PROGS/highmem.elf")")
verdict "$what"
why=("${why64[@]}")
verdict "$what64"

# What an i386 ELF finds at its entry point: the boot protocol's 32-bit
# state, boot_params with a PC's setup header, the command line, the
# e820 map of 16 MiB (RAM below the EBDA and from 1 MiB; reserved between,
# the ACPI tables' BIOS area among them).
what="i386 ELF entry: registers, boot_params, command line, e820"
rsdp=
if kvm_case boot "$what"; then
	run_kvm boot -- console=ttyS0 root=/dev/vda "two  spaces"
	kvm_expect 0 \
		"ok - boot: flat protected mode, paging and interrupts off, esi = boot_params" \
		"ok - boot: setup header, hardware_subarch 0, no KEEP_SEGMENTS" \
		"boot: command line at 0x1000: 'console=ttyS0 root=/dev/vda two  spaces'" \
		"boot: e820 RAM \[0x0, 0x9fc00\) type 1" \
		"boot: e820 RAM \[0x100000, 0x1000000\) type 1" \
		"boot: e820 reserved \[0x[0-9a-f]*, 0x100000\) type 2" \
		"ok - boot: e820 map \(15999 KiB of RAM\)"
	kvm_no_fail
	verdict "$what"
	rsdp=$(guest_says "boot: acpi_rsdp_addr ")
fi

# ACPI as a kernel's poweroff uses it: the tables (checksums, RSDT and
# XSDT alike), the FADT's PM1a blocks, SCI and reset register, the MADT,
# \_S5 in the DSDT; the PC's ports; and power-off with what the tables
# say.  The RSDP is where boot_params said.
what="ACPI tables, PM1a and i8042 ports, power-off through \\_S5: status 0"
if kvm_case acpi "$what"; then
	run_kvm acpi
	kvm_expect 0 \
		"acpi: RSDP at ${rsdp:-0x[0-9a-f]*}, revision [2-9]" \
		"ok - acpi: the XSDT lists what the RSDT does" \
		"acpi: FADT: SCI 9, PM1a_EVT 0x600 \(4 bytes\), PM1a_CNT 0x604 \(2 bytes\), flags 0x[0-9a-f]*" \
		"acpi: FADT: IAPC_BOOT_ARCH 0x[0-9a-f]*: i8042 no, CMOS RTC no" \
		"acpi: FADT: reset by writing 0xfe to space 1 address 0x64" \
		"acpi: DSDT: \\\\_S5 sleep type 5" \
		"acpi: MADT: 1 local APIC, 1 IO-APIC" \
		"ok - acpi: every table's checksum" \
		"acpi: ports: PM1a_CNT 0x1, PM1a_EVT 0x0, i8042 status 0x1, port 0x2e8 0xff/0xffff/0xffffffff" \
		"acpi: PM1a_EN: 0xab21, high byte 0xab, with PM1a_STS 0xab210000" \
		"acpi: powering off: SLP_TYP 5, SLP_EN to port 0x604"
	kvm_no_fail
	verdict "$what"
fi

# The UART: its output is lguest's standard output, and power-off is a
# clean exit.  The same run probes the registers as a serial driver does;
# a byte sent in loopback must stay inside the UART.
what="UART: the guest's line on stdout, then ACPI power-off: status 0"
what2="UART: scratch, divisor latch, LCR, IIR, LSR, MSR and loopback"
if kvm_case uart "$what" "$what2"; then
	run_kvm uart
	kvm_expect 0 "uart: hello from a tiny guest on the 16550A"
	verdict "$what"
	# The loopback byte is looked for below, not in the lines.
	out=$(tr -d '\001' <<<"$out")
	kvm_expect 0 \
		"ok - uart: the scratch register keeps what is written" \
		"ok - uart: the divisor latch reads back with DLAB set" \
		"ok - uart: LCR reads back" \
		"ok - uart: IIR: no interrupt pending" \
		"ok - uart: LSR: transmitter empty, nothing received" \
		"ok - uart: MSR mirrors MCR in loopback" \
		"ok - uart: LSR: the looped-back byte is waiting" \
		"ok - uart: RBR: the looped-back byte" \
		"ok - uart: LSR: nothing waiting after RBR read" \
		"uart: powering off"
	kvm_no_fail
	! LC_ALL=C grep -q $'\x01' "$TEST_TMP/stdout" ||
		why+=("the byte sent in loopback (0x01) reached stdout")
	verdict "$what2"
fi

# UART input: stdin goes to the UART once the guest enables its receive
# interrupt; each byte is an interrupt on line 4 through the 8259s.
echo_case()
{
	local what=$1 delay=$2 text=$3 keys=() k

	kvm_case uart-echo "$what" || return
	start_kvm uart-echo
	if ! wait_output "uart-echo: ready"; then
		finish_kvm
		why=("the guest never said it was ready")
		verdict "$what"
		return
	fi
	if [ "$delay" = 0 ]; then
		keys=("$text")
	else
		while IFS= read -r -n 1 k; do
			keys+=("$k")
		done < <(printf '%s' "$text")
	fi
	type_keys "$delay" "${keys[@]}"
	finish_kvm
	kvm_expect 0 "uart-echo: ${text//./\\.}" \
		"uart-echo: ${#text} bytes, [1-9][0-9]* receive interrupts .*"
	kvm_no_fail
	verdict "$what"
}
echo_case "UART input with its receive interrupt, typed a key at a time" \
	0.05 "kvm-uart-echo."
echo_case "UART input with its receive interrupt, in one burst" \
	0 "sixteen-bytes-and-then-some-more."

# The entropy device end to end: interrupt pin A, its line from the list
# (5, 10, 11, 3, ...) in slot order, BAR0 (64 bytes, above the 16 MiB of
# RAM), the interrupt delivered through the 8259s, ISR status, the used
# ring.
rng_case()
{
	local what=$1 slot=$2 line=$3 bar

	shift 3
	kvm_case rng-irq "$what" || return
	run_kvm rng-irq "$@"
	kvm_expect 0 \
		"rng: 00:$slot\.0, interrupt pin 1, line $line" \
		"rng: registers in BAR0 at 0x[0-9a-f]*, 64 bytes" \
		"ok - rng: interrupt on line $line" \
		"ok - rng: ISR status 0x1 in the handler" \
		"ok - rng: reading ISR status cleared it" \
		"ok - rng: used buffer 0, 64 bytes written" \
		"ok - rng: the buffer holds new bytes .*"
	kvm_no_fail
	bar=$(guest_says "rng: registers in BAR0 at ")
	bar=${bar%%,*}
	[ -z "$bar" ] || (( bar >= 16 << 20 )) ||
		why+=("BAR0 at $bar, inside the guest's 16 MiB of RAM")
	verdict "$what"
}
rng_case "virtio rng at 00:02.0, line 10: interrupt, ISR, used ring" \
	02 10 --rng
head -c 4096 /dev/zero >"$TEST_TMP/spare.img"
rng_case "virtio rng at 00:03.0 after a block device: line 11" \
	03 11 --block="$TEST_TMP/spare.img" --rng

# A block round trip: sector 0 read, sector 1 written (sector 0's bytes,
# each plus one), a flush; the file changed there and nowhere else.
what="virtio block: read sector 0, write sector 1, flush; the file checked"
if kvm_case block "$what"; then
	disk=$TEST_TMP/disk.img
	want=$TEST_TMP/want.img
	head -c 4096 /dev/urandom >"$disk"
	{
		head -c 512 "$disk"
		head -c 512 "$disk" | LC_ALL=C tr '\000-\377' '\001-\377\000'
		tail -c +1025 "$disk"
	} >"$want"
	first=$(od -An -tx1 -N8 "$disk" | tr -s ' ' | sed 's/ $//')
	run_kvm block --block="$disk"
	kvm_expect 0 "block: 00:02\.0, capacity 8 sectors" \
		"ok - block: read sector 0:$first" \
		"ok - block: wrote sector 1" "ok - block: flushed"
	kvm_no_fail
	cmp -s "$disk" "$want" ||
		why+=("the file is not as the guest wrote it (cmp -l):" \
			"$(cmp -l "$disk" "$want" 2>&1 | head -n 5)")
	verdict "$what"
fi

# A driver breaking a rule in a register: lguest stops at once, naming the
# device, queue, rule and section, and where the guest was.  KVM reports
# an MMIO write with the guest's rip already past the instruction (a read
# with it on the instruction), so either address names the access.
what="queue_size 3: lguest stops, citing virtio 1.0 4.1.4.3.2 and the rip"
if kvm_case bad-queue-size "$what"; then
	run_kvm bad-queue-size --rng
	at=$(guest_says "bad-queue-size: queue_size [0-9]*; writing 3 at ")
	insn=${at%% *}
	next=$(sed -n 's/.*(next \(0x[0-9a-f]*\))$/\1/p' <<<"$at")
	re="lguest: rng 00:02\.0 queue requestq: bad driver: queue_size 3 is"
	re+=" not a power of 2 \(virtio 1\.0 §4\.1\.4\.3\.2\) at guest rip"
	re+=" (${insn:-none}|${next:-none})"
	kvm_stopped "$re"
	verdict "$what"
fi

# A driver breaking a rule in the ring: the queue's task finds it, so the
# message names no guest address.
what="a looping descriptor chain: lguest stops, citing 2.4.5.2"
if kvm_case desc-loop "$what"; then
	run_kvm desc-loop --rng
	re="lguest: rng 00:02\.0 queue requestq: bad driver: descriptor chain"
	re+=" loops \(more than 8 descriptors in a table of 8\)"
	re+=" \(virtio 1\.0 §2\.4\.5\.2\)"
	kvm_stopped "$re"
	verdict "$what"
fi

# reboot_case WHAT PROGRAM HOW: PROGRAM counts its boots in sector 0 of a
# block device, reboots (saying HOW) on the first and powers off on the
# second; lguest runs itself again in between, and ends with status 0.
# The rest of the disk is not touched.
reboot_case()
{
	local what=$1 prog=$2 how=$3 disk=$TEST_TMP/boots.img
	local want=$TEST_TMP/boots.want

	kvm_case "$prog" "$what" || return
	head -c 4096 /dev/urandom >"$disk"
	dd if=/dev/zero of="$disk" bs=512 count=1 conv=notrunc status=none
	{
		printf 'lguest boots 2\n'
		head -c $((512 - 15)) /dev/zero
		tail -c +513 "$disk"
	} >"$want"
	run_kvm "$prog" --block="$disk"
	kvm_expect 0 "$prog: boot 1" "$how" "$prog: boot 2" \
		"$prog: powering off"
	kvm_no_fail
	[ "$(grep -c "^$prog: boot" <<<"$out")" = 2 ] ||
		why+=("want exactly two boots")
	cmp -s "$disk" "$want" ||
		why+=("want sector 0 to say 'lguest boots 2', the rest as it" \
			"was; cmp -l:" "$(cmp -l "$disk" "$want" 2>&1 | head -n 5)")
	verdict "$what"
}
reboot_case "reboot through the i8042 (0xFE to port 0x64): lguest runs again" \
	reboot "reboot: resetting through the i8042"
reboot_case "a triple fault reboots: lguest runs again" \
	triple "triple: faulting with an empty IDT"

# An instruction KVM's emulator does not know, on MMIO: lguest stops,
# naming the guest's rip and the instruction's bytes, as the guest
# printed them.
what="an instruction KVM cannot emulate: status 1, the rip and its bytes"
if kvm_case emulation "$what"; then
	run_kvm emulation --rng
	at=$(guest_says "emulation: popcnt of num_queues at 0x[0-9a-f]*, rip ")
	rip=${at%%:*}
	bytes=${at#*: }
	kvm_stopped "lguest: .*emulation.* rip ${rip:-none}\b.*${bytes:-none}.*"
	verdict "$what"
fi

# More than 3 GiB of RAM: 3 GiB below the PCI hole, the rest from 4 GiB,
# and virtqueues may live there (64-bit queue addresses, still checked
# against RAM, which has a hole in it now).  tests/kvm64/highmem.c is an
# x86-64 program, entered in long mode with the low 4 GiB mapped; it maps
# high RAM itself.  4608 MiB of guest memory costs only the pages touched.
#
# An i386 launcher cannot hold that much guest memory in its address
# space: it must refuse, in one line.  That refusal is its case, in place
# of the ones that need the memory, which have nothing to test there.
kvm64_mem=4608
what="x86-64 ELF, 4608 MiB: long-mode entry; e820 RAM to 3 GiB and from 4 GiB; high RAM mapped, written, no alias"
what2="virtio rng, its queue above 4 GiB (64-bit addresses read back): buffers ending at 3 GiB and at 4 GiB"
launcher32=
[ "$(od -An -tx1 -j4 -N1 "$LGUEST" | tr -d ' ')" != 01 ] ||
	launcher32="an i386 launcher cannot map $kvm64_mem MiB of guest memory"
if [ -n "$launcher32" ]; then
	what0="i386 launcher: $kvm64_mem MiB refused, too large for its address space"
	if kvm_case 64/highmem "$what0"; then
		kvm_mem=$kvm64_mem run_kvm 64/highmem --rng
		kvm_stopped "lguest: cannot map $kvm64_mem MiB of guest memory: too large for this launcher's address space"
		[ "$(grep -c '' <<<"$stderr")" = 1 ] && [ -z "$out" ] ||
			why+=("want one line on stderr, nothing on stdout")
		verdict "$what0"
	fi
elif kvm_case 64/highmem "$what" "$what2"; then
	kvm_mem=$kvm64_mem run_kvm 64/highmem --rng
	# The memory's half: what the guest said before it found the rng.
	all_out=$out
	out=$(sed '/^highmem: rng at/,$d' <<<"$all_out")
	kvm_expect "$status" \
		"ok - highmem: long mode, interrupts off, rsi = boot_params" \
		"ok - highmem: cr3 0x9000: \[0, 4 GiB\) identity-mapped in 2 MiB pages, nothing above" \
		"highmem: e820 RAM \[0x100000, 0xc0000000\)" \
		"highmem: e820 RAM \[0x100000000, 0x160000000\)" \
		"ok - highmem: e820: RAM up to 3 GiB, 1536 MiB from 4 GiB, none between" \
		"highmem: mapped \[0x100000000, 0x160000000\): 768 pages of 2 MiB in 2 new page directories" \
		"ok - highmem: 64 bytes written and read back at 0x100000000, 0x13fffffe0 and 0x15fffffc0" \
		"ok - highmem: 0x100800000 is not 0x800000 \(high RAM is no alias of low RAM\)"
	kvm_no_fail
	out=$all_out
	verdict "$what"
	kvm_expect 0 \
		"highmem: rng at 00:02\.0" \
		"highmem: queue: desc 0x100100000, avail 0x15fffffea, used 0x100101000" \
		"ok - highmem: rng: queue enabled above 4 GiB, its 64-bit addresses read back" \
		"ok - highmem: rng: 64 bytes into the buffer at 0xbfffffc0 \(low RAM's last bytes\): .*" \
		"ok - highmem: rng: 64 bytes into the buffer at 0x100000000 \(high RAM's first bytes\): .*" \
		"highmem: powering off"
	kvm_no_fail
	verdict "$what2"
fi

# highmem_stops WHAT WORD PART ADDRESS BYTES SECTION: with WORD on its
# command line, highmem puts its queue's PART (or a buffer) at ADDRESS,
# which is not RAM; lguest must stop, naming them and the section.  A
# queue part is refused at queue_enable, where the vCPU is (its rip is
# named); a buffer, by the queue's task when it comes to it.
highmem_stops()
{
	local what=$1 word=$2 part=$3 addr=$4 bytes=$5 sec=$6 re

	[ -z "$launcher32" ] || return 0
	kvm_case 64/highmem "$what" || return
	kvm_mem=$kvm64_mem run_kvm 64/highmem --rng -- "$word"
	re="lguest: rng 00:02\.0 queue requestq: bad driver: $part at $addr"
	re+=" \($bytes bytes\) is not in guest RAM \($kvm64_mem MiB\)"
	re+=" \(virtio 1\.0 §${sec//./\\.}\)"
	[ "$part" = buffer ] || re+=" at guest rip 0x[0-9a-f]+"
	kvm_stopped "$re"
	grep -q "^highmem: .*$addr" <<<"$out" ||
		why+=("want the guest to say it used $addr")
	verdict "$what"
}
highmem_stops "a used ring at high RAM's end (5.5 GiB): lguest stops, citing 2.4" \
	used-past-end "used ring" 0x160000000 70 2.4
highmem_stops "a used ring 2 bytes across high RAM's end: lguest stops" \
	used-across-end "used ring" 0x15fffffbc 70 2.4
highmem_stops "a descriptor table in the hole (3.25 GiB, below the memory size): lguest stops" \
	desc-in-hole "descriptor table" 0xd0000000 128 2.4
highmem_stops "a buffer at high RAM's end: lguest's queue task stops it, citing 2.4.5" \
	buffer-past-end buffer 0x160000000 64 2.4.5
