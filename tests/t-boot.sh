#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# t-boot.sh: the launcher loads a kernel (an i386 ELF vmlinux, or a
# bzImage) and an initrd into guest memory and fills in boot_params, and
# the guest finds everything where the boot protocol says.  The checking
# is the "boot" scenario's (tests/scenarios/boot.c); here we pick kernels.

. "$(dirname "$0")/lib.sh"

require_built || exit 0

# boot_case WHAT MEM-MIB KERNEL INITRD [KERNEL ARGUMENTS...]
# (INITRD empty for none.)  The guest expects the arguments joined by
# single spaces as its command line.
boot_case()
{
	local what=$1 mem=$2 kernel=$3 initrd=$4 opts=()

	shift 4
	[ -z "$initrd" ] || opts=(--initrd="$initrd")
	run_lguest LGSTUB_SCENARIO=boot LGSTUB_KERNEL="$kernel" \
		LGSTUB_INITRD="$initrd" LGSTUB_MEM_MIB="$mem" \
		LGSTUB_CMDLINE="$*" -- "${opts[@]}" "$mem" "$kernel" "$@"
	guest_passed "$what"
}

# An initrd whose size is not a multiple of the page size, so that its
# placement (page-aligned, at the top of RAM) and its recorded size (the
# file's, exactly) are both visible.
initrd=$TEST_TMP/initrd.img
head -c 300001 /dev/urandom >"$initrd"

boot_case "ELF vmlinux, a command line of several words" \
	32 "$TINY_ELF" "" console=hvc0 root=/dev/vda rw init=/bin/sh
boot_case "ELF vmlinux with an initrd" \
	48 "$TINY_ELF" "$initrd" root=/dev/ram0 quiet
boot_case "ELF vmlinux, no kernel arguments: an empty command line" \
	32 "$TINY_ELF" ""

# The tiny kernel with its second segment moved 4 bytes along, in the file
# and in memory: not page-aligned, so it is read in rather than mapped.
unaligned=$TEST_TMP/unaligned.elf
cp "$TINY_ELF" "$unaligned"
patch_bytes "$unaligned" 88 04200000	# p_offset 0x2004
patch_bytes "$unaligned" 92 040014c0	# p_vaddr 0xc0140004
patch_bytes "$unaligned" 96 04001400	# p_paddr 0x140004
patch_bytes "$unaligned" 100 04040000	# p_filesz 0x404
patch_bytes "$unaligned" 104 7f340000	# p_memsz 0x347f
boot_case "ELF vmlinux with a segment that is not page-aligned" \
	32 "$unaligned" "" quiet

bzimage=$(find_bzimage)
if [ -z "$bzimage" ]; then
	not_ok "bzImage (Debian's kernel) with an initrd" \
		"no bzImage: looked at \$LGUEST_BZIMAGE (unset)," \
		"/boot/vmlinuz-* and build/debian/vmlinuz" \
		"(scripts/debian-kernel fetches it)"
elif [ ! -r "$bzimage" ]; then
	not_ok "bzImage (Debian's kernel) with an initrd" \
		"cannot read $bzimage"
else
	boot_case "bzImage ($bzimage) with an initrd" \
		128 "$bzimage" "$initrd" console=hvc0 root=/dev/vda
fi
