/* SPDX-License-Identifier: GPL-2.0 */
/*
 * start.S: where a tests/kvm program begins, and where interrupts land.
 *
 * lguest enters at e_entry in flat 32-bit protected mode (CS 0x10, DS/ES/SS
 * 0x18), paging and interrupts off.  A multiboot loader (QEMU's -kernel)
 * enters the same way but for the selectors and the GDT, which it leaves
 * undefined, and puts its magic in %eax.  So we bring our own GDT with
 * lguest's selectors, our own stack, clear the bss, and call lib.c's
 * kernel_main().
 */
	.file	"start.S"	/* not the temporary object's name: reproducible */

#define MULTIBOOT_MAGIC 0x1BADB002
#define MULTIBOOT_FLAGS 0

#define BOOT_CS 0x10
#define BOOT_DS 0x18

/* The multiboot header: within the file's first 8 KiB, 4-byte aligned. */
	.section .multiboot, "a"
	.balign	4
	.long	MULTIBOOT_MAGIC
	.long	MULTIBOOT_FLAGS
	.long	-(MULTIBOOT_MAGIC + MULTIBOOT_FLAGS)

	.section .text.start, "ax"
	.globl	_start
_start:
	/*
	 * What we were given, for boot.c to check: the registers first,
	 * then, on our own stack (the segments are flat either way), the
	 * flags as they were.
	 */
	movl	%eax, boot_magic
	movl	%esi, entry_esi
	movw	%cs, entry_cs
	movw	%ds, entry_ds
	movw	%ss, entry_ss
	movl	%cr0, %eax
	movl	%eax, entry_cr0
	movl	$stack_top, %esp
	pushfl
	popl	entry_eflags
	cli
	cld
	lgdt	gdt_desc
	ljmp	$BOOT_CS, $1f
1:	movl	$BOOT_DS, %eax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movw	%ax, %fs
	movw	%ax, %gs
	movl	$stack_top, %esp
	/* What we saved lives in .data, not in the bss we clear now. */
	movl	$__bss_start, %edi
	movl	$__bss_end, %ecx
	subl	%edi, %ecx
	xorl	%eax, %eax
	rep stosb
	xorl	%ebp, %ebp
	call	kernel_main
2:	cli
	hlt
	jmp	2b

#include "vectors.S"

	.data
	.globl	boot_magic, entry_esi, entry_cr0, entry_eflags
	.globl	entry_cs, entry_ds, entry_ss
	.balign	4
boot_magic:
	.long	0
entry_esi:
	.long	0
entry_cr0:
	.long	0
entry_eflags:
	.long	0
entry_cs:
	.word	0
entry_ds:
	.word	0
entry_ss:
	.word	0

	.bss
	.balign	16
stack:
	.skip	16384
stack_top:
