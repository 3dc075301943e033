#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# t-valgrind.sh: the launcher's single-task paths under valgrind's
# memcheck, which must find no error in them: bad command lines, loading
# kernels and initrds, boot_params, the PCI scans, device set-up up to
# DRIVER_OK, and the register rules a driver breaks before then.
#
# Only those: at DRIVER_OK the launcher clone()s its service tasks
# (CLONE_VM, not threads), which valgrind cannot follow; it would stop
# there.  Leaks at exit are no error for a launcher (--leak-check=no).
# A launcher built with AddressSanitizer (make check SANITIZE=1) is not
# run here: valgrind and ASan do not mix, and ASan checks the same paths.

. "$(dirname "$0")/lib.sh"

require_built || exit 0

if launcher_asan; then
	skip "the single-task paths under valgrind" \
		"$LGUEST is built with AddressSanitizer, which valgrind cannot run"
	exit 0
fi
if ! command -v valgrind >/dev/null; then
	not_ok "the single-task paths under valgrind" \
		"valgrind is not installed (Debian: apt-get install valgrind," \
		"as .ci/run does)"
	exit 0
fi

# Valgrind runs an i386 program only with the debug symbols of the i386
# C library's loader, which Debian ships for libc6:i386 (libc6-dbg:i386,
# multiarch), not for the libc6-i386 of gcc-multilib that "gcc -m32"
# programs run on.  Without them it refuses to start: then there is
# nothing to test here (AddressSanitizer covers the i386 build, with
# make check SANITIZE=1 CC="gcc -m32").
if ! vg_out=$(valgrind -q --error-exitcode=99 "$LGUEST" --version 2>&1) ||
   [ "${vg_out#lguest }" = "$vg_out" ] || [ "$(grep -c '' <<<"$vg_out")" != 1 ]
then
	if grep -q 'Fatal error at startup' <<<"$vg_out" &&
	   file -b "$LGUEST" | grep -q '^ELF 32-bit'; then
		skip "the single-task paths under valgrind" \
			"valgrind cannot start an i386 program here (it wants symbols for ld-linux.so.2 that libc6-i386 does not ship)"
	else
		not_ok "valgrind runs the launcher" \
			"valgrind $LGUEST --version said:" "$vg_out"
	fi
	exit 0
fi

# The launcher under test, run by valgrind: a script in its place.  Its
# errors go to a file of each run's own, so that stderr is the launcher's
# alone, and make the exit status 99.
real=$LGUEST
[ "${real#/}" != "$real" ] || real=$PWD/$real
LGUEST=$TEST_TMP/vg-lguest
cat >"$LGUEST" <<EOF
#!/bin/sh
exec valgrind -q --error-exitcode=99 --leak-check=no --read-inline-info=no \\
	--log-file="$TEST_TMP/valgrind.%p" "$real" "\$@"
EOF
chmod +x "$LGUEST"

# What valgrind said since the last case; the files are then removed.
valgrind_report()
{
	local f

	for f in "$TEST_TMP"/valgrind.*; do
		[ -e "$f" ] || continue
		cat "$f"
		rm -f "$f"
	done
}

# vg VERDICT WHAT [ARGUMENTS...]: the verdict lib.sh's VERDICT (say
# one_line_error) gives the last run, unless valgrind said anything of
# it.
vg()
{
	local verdict=$1 report

	shift
	report=$(valgrind_report)
	if [ -n "$report" ] || [ "$status" = 99 ]; then
		not_ok "$1" "valgrind (exit status $status):" "$report"
		return
	fi
	"$verdict" "$@"
}

# Only the exit status and what was printed.
exits()
{
	local what=$1 want=$2 re=$3

	if [ "$status" = "$want" ] && grep -qE -- "$re" <<<"$stdout$stderr"
	then
		ok "$what"
	else
		not_ok "$what" "want exit status $want and a line matching: $re"
		run_diagnostics
	fi
}

k=$TINY_ELF
t=$TEST_TMP
printf 'just some text, not a kernel\n' >"$t/text"
head -c $((3 * 1024 * 1024)) /dev/zero >"$t/big-initrd"
head -c 300001 /dev/urandom >"$t/initrd"
head -c $((1024 * 512)) /dev/zero >"$t/disk"

# The command line.
run_plain --help
vg exits "--help" 0 '^Usage: lguest '
run_plain abc "$k"
vg one_line_error "memory that is not a number" \
	"^lguest: memory size 'abc' is not a whole number of MiB"
run_plain --frobnicate 32 "$k"
vg one_line_error "an unknown option" "^lguest: unknown option '--frobnicate'"
run_plain --tunnet=10.0.0.1:01:00:5e:00:00:01 32 "$k"
vg one_line_error "--tunnet with a multicast MAC address" \
	'^lguest: --tunnet=10.0.0.1:01:00:5e:00:00:01: MAC address is a multicast address'
run_plain --username=lguest-no-such-user 32 "$k"
vg one_line_error "--username of nobody" \
	'^lguest: --username=lguest-no-such-user: no such user'
run_plain --block="$t/nope" 32 "$k"
vg one_line_error "--block of a missing file" \
	"^lguest: --block=$t/nope: cannot open it read-write"

# The kernel and the initrd, checked before anything is made.
run_plain 32 "$t/text"
vg one_line_error "a kernel that is neither ELF nor bzImage" \
	"is neither an ELF vmlinux nor a bzImage"
run_plain 32 /bin/true
vg one_line_error "an ELF that is a program, not a kernel" \
	"^lguest: kernel '/bin/true' is not an ELF executable"
run_lguest -- --lguest --initrd="$t/big-initrd" 2 "$k"
vg one_line_error "an initrd larger than guest memory" \
	"^lguest: initrd '$t/big-initrd' \(3145728 bytes\) is larger than guest memory \(2 MiB\)"

# Loading, and boot_params (tests/scenarios/boot.c checks them).
run_lguest LGSTUB_SCENARIO=boot LGSTUB_KERNEL="$k" LGSTUB_INITRD="$t/initrd" \
	LGSTUB_MEM_MIB=48 LGSTUB_CMDLINE="root=/dev/ram0 quiet" \
	-- --initrd="$t/initrd" 48 "$k" root=/dev/ram0 quiet
vg guest_passed "ELF vmlinux with an initrd: loaded, boot_params"
unaligned=$t/unaligned.elf
cp "$k" "$unaligned"
patch_bytes "$unaligned" 88 04200000	# p_offset 0x2004
patch_bytes "$unaligned" 92 040014c0	# p_vaddr 0xc0140004
patch_bytes "$unaligned" 96 04001400	# p_paddr 0x140004
patch_bytes "$unaligned" 100 04040000	# p_filesz 0x404
patch_bytes "$unaligned" 104 7f340000	# p_memsz 0x347f
run_lguest LGSTUB_SCENARIO=boot LGSTUB_KERNEL="$unaligned" LGSTUB_INITRD= \
	LGSTUB_MEM_MIB=32 LGSTUB_CMDLINE=quiet -- 32 "$unaligned" quiet
vg guest_passed "an ELF segment read in, not mapped"
bzimage=$(find_bzimage)
if [ -n "$bzimage" ] && [ -r "$bzimage" ]; then
	run_lguest LGSTUB_SCENARIO=boot LGSTUB_KERNEL="$bzimage" \
		LGSTUB_INITRD="$t/initrd" LGSTUB_MEM_MIB=128 \
		LGSTUB_CMDLINE="console=hvc0 root=/dev/vda" \
		-- --initrd="$t/initrd" 128 "$bzimage" console=hvc0 root=/dev/vda
	vg guest_passed "a bzImage with an initrd: loaded, boot_params"
else
	skip "a bzImage with an initrd: loaded, boot_params" \
		"no bzImage (t-boot.sh says where it looks)"
fi

# The bus, every device's set-up, the MMIO decoder, faults handed back.
run_lguest LGSTUB_SCENARIO=pci LGSTUB_PCI_DEVICES="block rng block" \
	-- --block="$t/disk" --rng --block="$t/disk" 32 "$k"
vg guest_passed "PCI: console, block, rng, block: headers, BARs, capabilities"
run_lguest LGSTUB_SCENARIO=mmio_encodings -- 32 "$k"
vg guest_passed "every mov encoding the MMIO decoder takes"
run_lguest LGSTUB_SCENARIO=handback -- 32 "$k"
vg guest_passed "faults handed back to the guest"

# Register rules broken before DRIVER_OK: the main task stops.
rule()
{
	local scenario=$1 re=$2

	shift 2
	run_lguest LGSTUB_SCENARIO="$scenario" -- "$@" 32 "$k"
	vg one_line_error "$scenario" "^lguest: .*: bad driver: $re"
}
rule rule_status_clear_bit 'device_status 0x3 -> 0x1 clears a bit'
rule rule_feature_over_accept 'driver accepted features'
rule rule_width_read_inside_field '8-bit read at BAR0 offset 5, inside'
rule rule_queue_desc_outside_ram 'descriptor table at .* is not in guest RAM'
rule rule_notify_before_driver_ok 'notified before DRIVER_OK'
rule rule_window_write 'write through the PCI_CFG window'
