# SPDX-License-Identifier: GPL-2.0
#
# tiny.s: the smallest "vmlinux" the launcher can load.
#
# Laid out like an i386 Linux kernel image (see tiny.ld): linked to run at
# 0xC0000000 + its physical address, loaded by physical address, entered
# at a physical address part-way into the first segment.  It never runs:
# under the test suite's stand-in /dev/lguest the guest is a script, and
# what matters is that each byte lands where it should.  So every byte
# here is a pattern a misplaced copy cannot fake.

	.section .text, "ax"
	.globl	startup_32

# Before the entry point: bytes 0x00..0xff, so an entry point taken from
# the segment's start (not from e_entry) is caught.
text_pattern:
	.ascii	"lguest tiny text"
	.set	i, 0
	.rept	256
	.byte	i
	.set	i, i + 1
	.endr

# The entry point: a real kernel would start here with %esi pointing at
# boot_params.
startup_32:
	cli
1:	hlt
	jmp	1b

	.section .rodata, "a"
	.ascii	"lguest tiny rodata"
	.set	i, 255
	.rept	256
	.byte	i
	.set	i, i - 1
	.endr

# The second segment: data that ends part-way into a page, then bss.
	.section .data, "aw"
	.ascii	"lguest tiny data"
	.set	i, 0
	.rept	1000
	.byte	(i * 37 + 11) & 0xff
	.set	i, i + 1
	.endr
	.ascii	"end of tiny data"

	.section .bss, "aw", @nobits
	.skip	3 * 4096 + 123

# Not loaded at all, but placed in the file right after .data: a loader
# that maps whole pages of the file instead of p_filesz bytes puts these
# 0xee bytes into the bss, where the kernel expects zeroes.
	.section .trailer, "", @progbits
	.fill	4096, 1, 0xee
