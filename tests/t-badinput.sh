#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# t-badinput.sh: every bad command line gets one line on stderr naming what
# is wrong, status 1, and nothing opened, created or changed.  Each case
# here breaks one thing and leaves the rest valid.

. "$(dirname "$0")/lib.sh"

require_built || exit 0

# bad WHAT REGEX [LAUNCHER ARGUMENTS...]
bad()
{
	local what=$1 re=$2

	shift 2
	run_plain "$@"
	one_line_error "$what" "$re"
}

k=$TINY_ELF
t=$TEST_TMP

# The cases only one hypervisor has: under the stand-in /dev/lguest (the
# launcher stops before the guest would start), or under KVM.
bad_lguest()
{
	local what=$1 re=$2

	shift 2
	run_lguest -- --lguest "$@"
	one_line_error "$what" "$re"
}

bad_kvm()
{
	local what=$1 re=$2

	shift 2
	if [ ! -c /dev/kvm ]; then
		skip "$what" "/dev/kvm does not exist here"
		return
	fi
	run_plain --kvm "$@"
	one_line_error "$what" "$re"
}

# Files to be wrong with.
printf 'just some text, not a kernel\n' >"$t/text"
printf '\177ELF\001\001\001' >"$t/short-elf"
# An ELF32 header for ARM (e_machine 40), otherwise plausible.
{
	printf '\177ELF\001\001\001\000\000\000\000\000\000\000\000\000'
	printf '\002\000\050\000\001\000\000\000'
	head -c 28 /dev/zero
} >"$t/arm-elf"
head -c $((3 * 1024 * 1024)) /dev/zero >"$t/big-initrd"
head -c $((900 * 1024)) /dev/zero >"$t/mid-initrd"
: >"$t/empty-initrd"
mkdir -p "$t/dir"
head -c 1048576 /dev/zero >"$t/disk"

bad "no arguments at all" \
	'^lguest: no memory size or kernel given'
bad "memory that is not a number" \
	"^lguest: memory size 'abc' is not a whole number of MiB" abc "$k"
bad "memory that is not whole" \
	"^lguest: memory size '1.5' is not a whole number of MiB" 1.5 "$k"
bad "zero memory" \
	'^lguest: memory size must be at least 1 MiB' 0 "$k"
bad "memory beyond any machine" \
	'^lguest: memory size 99999999 MiB is too large \(at most 16777216 MiB\)' \
	99999999 "$k"
bad_lguest "memory beyond /dev/lguest's 32-bit guest-physical space" \
	'^lguest: memory size 99999 MiB is too large for /dev/lguest: guest RAM, device pages and BARs must fit below 4 GiB \(at most 4094 MiB\)' \
	99999 "$k"
# 256 MiB of address space for a 1 GiB guest.  A launcher built with
# AddressSanitizer reserves terabytes of address space for its shadow as
# it starts, and cannot start at all under "ulimit -v": there the
# stand-in refuses the mapping instead, as the kernel would.
if launcher_asan; then
	run_lguest LGSTUB_MMAP_MAX=$((256 << 20)) -- 1024 "$k"
	one_line_error "memory too large to map" \
		'^lguest: cannot map 1024 MiB of guest memory: Cannot allocate memory'
else
	(
		ulimit -v 262144
		run_lguest -- 1024 "$k"
		one_line_error "memory too large to map" \
			'^lguest: cannot map 1024 MiB of guest memory: Cannot allocate memory'
	)
	tap_count=$((tap_count + 1))
fi
bad "an unknown option" \
	"^lguest: unknown option '--frobnicate'" --frobnicate 32 "$k"
bad "an unknown short option" \
	"^lguest: unknown option '-x'" -x 32 "$k"
bad "an option without its value" \
	"^lguest: option '--block' needs a value" --block
bad "an option with a value it does not take" \
	"^lguest: option '--rng' takes no value" --rng=yes 32 "$k"
bad "memory but no kernel" \
	'^lguest: no kernel given' 32
bad "a missing kernel" \
	"^lguest: cannot open kernel '$t/nope': No such file or directory" \
	32 "$t/nope"
bad "an unreadable kernel (a directory)" \
	"^lguest: kernel '$t/dir' is not a regular file" 32 "$t/dir"
bad "a kernel that is neither ELF nor bzImage" \
	"^lguest: kernel '$t/text' is neither an ELF vmlinux nor a bzImage" \
	32 "$t/text"
bad "an ELF kernel for another machine" \
	"^lguest: kernel '$t/arm-elf' is a 32-bit ELF for machine 40: lguest runs i386 and x86-64 kernels" \
	32 "$t/arm-elf"
bad "an ELF that is a program, not a kernel" \
	"^lguest: kernel '/bin/true' is not an ELF executable \(e_type 3\)" \
	32 /bin/true
bad_lguest "an x86-64 kernel, which /dev/lguest cannot run" \
	"^lguest: kernel '$TINY64' is an x86-64 ELF: the lguest host runs 32-bit guests \(--kvm runs it under KVM\)" \
	32 "$TINY64"
bad "an ELF kernel with a short header" \
	"^lguest: kernel '$t/short-elf': ELF header is short \(7 bytes\)" \
	32 "$t/short-elf"
# Variants of the tiny kernel, each wrong in one field of its ELF headers.
elf_variant()
{
	cp "$k" "$t/$1"
	patch_bytes "$t/$1" "$2" "$3"
}
elf_variant elf64 4 02		# EI_CLASS: ELFCLASS64
elf_variant elf-dyn 16 0300	# e_type: ET_DYN
elf_variant elf-phentsize 42 2800	# e_phentsize: 40
elf_variant elf-nophdr 44 0000	# e_phnum: 0
elf_variant elf-phoff 28 00000100	# e_phoff: 16 MiB, past the end
elf_variant elf-seg-past-end 56 00f00000	# segment 0's p_offset
elf_variant elf-filesz 104 00010000	# segment 1: p_memsz < p_filesz
elf_variant elf-noload 52 04000000	# segment 0: PT_NOTE ...
patch_bytes "$t/elf-noload" 84 04000000	# ... and segment 1
elf_variant elf-low 96 00100000	# segment 1's p_paddr: 0x1000

bad "an ELF kernel of the wrong class (64-bit header, i386 machine)" \
	"^lguest: kernel '$t/elf64' is a 64-bit ELF for machine 3: lguest runs i386 and x86-64 kernels" \
	32 "$t/elf64"
bad "an ELF that is not an executable" \
	"^lguest: kernel '$t/elf-dyn' is not an ELF executable \(e_type 3\)" \
	32 "$t/elf-dyn"
bad "an ELF with program headers of the wrong size" \
	"^lguest: kernel '$t/elf-phentsize': ELF program header size 40, not 32" \
	32 "$t/elf-phentsize"
bad "an ELF with no program headers" \
	"^lguest: kernel '$t/elf-nophdr': ELF has 0 program headers" \
	32 "$t/elf-nophdr"
bad "an ELF whose program headers lie past its end" \
	"^lguest: kernel '$t/elf-phoff': ELF program headers lie past the end of the file" \
	32 "$t/elf-phoff"
bad "an ELF segment past the end of the file" \
	"^lguest: kernel '$t/elf-seg-past-end': segment 0 lies past the end of the file" \
	32 "$t/elf-seg-past-end"
bad "an ELF segment with more file bytes than memory bytes" \
	"^lguest: kernel '$t/elf-filesz': segment 1 has more file bytes than memory bytes" \
	32 "$t/elf-filesz"
bad "an ELF with nothing to load" \
	"^lguest: kernel '$t/elf-noload': ELF has no loadable segment" \
	32 "$t/elf-noload"
bad_lguest "an ELF that would load over boot_params and the command line" \
	"^lguest: kernel '$t/elf-low' loads at 0x1000, over boot_params and the command line \(below 0x2000\)" \
	32 "$t/elf-low"

bad_kvm "under KVM, an ELF that would load below 1 MiB" \
	"^lguest: kernel '$t/elf-low' loads at 0x1000, over the boot page, the EBDA and the BIOS area \(below 0x100000\)" \
	32 "$t/elf-low"
elf_variant elf-entry 24 00000000	# e_entry: 0, in no segment
bad "an ELF whose entry point is in no segment" \
	"^lguest: kernel '$t/elf-entry': entry point 0 is in no loadable segment" \
	32 "$t/elf-entry"

bad "a kernel larger than guest memory" \
	"^lguest: kernel '$k' needs memory up to 0x143483, but the guest has 1 MiB" \
	1 "$k"
bad "a missing initrd" \
	"^lguest: cannot open initrd '$t/nope': No such file or directory" \
	--initrd="$t/nope" 32 "$k"
bad "an empty initrd" \
	"^lguest: initrd '$t/empty-initrd' is empty" \
	--initrd="$t/empty-initrd" 32 "$k"
bad "an initrd larger than guest memory" \
	"^lguest: initrd '$t/big-initrd' \(3145728 bytes\) is larger than guest memory \(2 MiB\)" \
	--initrd="$t/big-initrd" 2 "$k"
bad "an initrd that would overlap the kernel" \
	"^lguest: initrd '$t/mid-initrd' \(921600 bytes\) would overlap the kernel, which ends at 0x143483" \
	--initrd="$t/mid-initrd" 2 "$k"
bad "--tunnet with a malformed IP address" \
	'^lguest: --tunnet=192.168.1: malformed IPv4 address' \
	--tunnet=192.168.1 32 "$k"
bad "--tunnet with an IP address out of range" \
	'^lguest: --tunnet=10.0.0.256: malformed IPv4 address' \
	--tunnet=10.0.0.256 32 "$k"
bad "--tunnet with a malformed MAC address" \
	'^lguest: --tunnet=10.0.0.1:52:54:00:12:34: malformed MAC address' \
	--tunnet=10.0.0.1:52:54:00:12:34 32 "$k"
bad "--tunnet with a multicast MAC address" \
	'^lguest: --tunnet=10.0.0.1:01:00:5e:00:00:01: MAC address is a multicast address' \
	--tunnet=10.0.0.1:01:00:5e:00:00:01 32 "$k"
bad "--tunnet with an empty bridge name" \
	'^lguest: --tunnet=bridge:: empty bridge name' \
	--tunnet=bridge: 32 "$k"
bad "--tunnet with a bridge name too long for Linux" \
	'^lguest: --tunnet=bridge:abcdefghijklmnop: bridge name longer than 15 bytes' \
	--tunnet=bridge:abcdefghijklmnop 32 "$k"
bad "an unknown user" \
	"^lguest: --username=no-such-user-here: no such user" \
	--username=no-such-user-here 32 "$k"
bad "a missing chroot directory" \
	"^lguest: --chroot=$t/nope: No such file or directory" \
	--chroot="$t/nope" 32 "$k"
bad "a chroot that is not a directory" \
	"^lguest: --chroot=$t/text: not a directory" \
	--chroot="$t/text" 32 "$k"
bad "a block file that does not exist" \
	"^lguest: --block=$t/nope: cannot open it read-write: No such file or directory" \
	--block="$t/nope" 32 "$k"
bad "a block file that cannot be opened read-write (a directory)" \
	"^lguest: --block=$t/dir: cannot open it read-write: Is a directory" \
	--block="$t/dir" 32 "$k"
bad "a kernel command line longer than a page" \
	'^lguest: kernel command line is 5000 bytes; at most 4095 fit' \
	32 "$k" "$(head -c 5000 /dev/zero | tr '\0' x)"

many=()
for i in $(seq 31); do
	many+=(--rng)
done
bad "more devices than bus 0 has slots" \
	'^lguest: too many devices: PCI bus 0 holds the console and 30 more' \
	"${many[@]}" 32 "$k"

# Everything else right, but no lguest host: say so, and how to get one.
run_lguest LGSTUB_OPEN_ERRNO=2 -- --lguest --block="$t/disk" 32 "$k"
one_line_error "--lguest, but no /dev/lguest: said plainly, with what to do" \
	'^lguest: cannot open /dev/lguest: No such file or directory \(Linux dropped the lguest host in 4.14: run on a 4.13 or older host kernel with the lg module loaded, or use --kvm\)'

# Neither hypervisor: a /dev with nothing in it, in a mount namespace.
no_dev()
{
	unshare -m bash -c 'mount -t tmpfs none /dev && exec "$@"' -- \
		"$LGUEST" "$@" </dev/null >"$TEST_TMP/stdout" 2>"$TEST_TMP/stderr"
	status=$?
	collect_output
}
no_dev --block="$t/disk" 32 "$k"
one_line_error "neither /dev/lguest nor /dev/kvm: said so" \
	'^lguest: cannot open /dev/lguest \(No such file or directory\) or /dev/kvm \(No such file or directory\): this machine can run no guest'
no_dev --kvm 32 "$k"
one_line_error "--kvm, but no /dev/kvm: said so" \
	'^lguest: cannot open /dev/kvm: No such file or directory'

# None of that touched the block file.
if cmp -s "$t/disk" <(head -c 1048576 /dev/zero); then
	ok "the block file is as it was"
else
	not_ok "the block file is as it was"
fi
