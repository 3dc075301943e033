# SPDX-License-Identifier: GPL-2.0
#
# tiny64.s: the smallest x86-64 ELF "vmlinux": one loadable segment at
# 1 MiB whose first instruction halts.  The launcher's loader tests use it
# (an x86-64 kernel is for KVM only; /dev/lguest runs i386 guests).
	.code64
	.text
	.globl _start
_start:
	hlt
	jmp	_start
