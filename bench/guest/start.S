/* SPDX-License-Identifier: GPL-2.0 */
/*
 * start.S: where the bench guest begins, however it was booted.
 *
 * One entry point, _start, serves the three loaders the benchmark uses,
 * and e_entry and the PVH note both name it:
 *
 *   lguest --kvm      flat 32-bit protected mode, CS 0x10 and DS 0x18,
 *                     %esi = boot_params (guest-physical 0), %ebx = 0
 *   QEMU -M pc        multiboot (the header below): %eax = 0x2BADB002,
 *                     %ebx = the multiboot information; selectors and
 *                     GDT undefined
 *   QEMU -M microvm   PVH (the Xen ELF note below, which QEMU's ELF loader
 *                     finds in the PT_NOTE segment): %ebx = hvm_start_info,
 *                     whose first word is 0x336EC578; selectors undefined
 *
 * All three leave paging and interrupts off and the segments flat, so one
 * path does: save %eax, %ebx and %esi for boot.c to tell the loaders apart,
 * load our own GDT (lguest's selectors), take our own stack and call
 * lib.c's kernel_main(), which calls main().
 *
 * The interrupt stubs are tests/kvm/vectors.S: every vector pushes an
 * error code (the CPU's or 0) and its number, lib.c's interrupt() takes
 * the frame, and we return without iret, which KVM's instruction emulator
 * (all that runs this code on a kvm_pvm host) implements in real mode only.
 */
	.file	"start.S"

#define MULTIBOOT_MAGIC 0x1BADB002
#define MULTIBOOT_FLAGS 0

#define XEN_ELFNOTE_PHYS32_ENTRY 18

#define BOOT_CS 0x10
#define BOOT_DS 0x18

/* The multiboot header: within the file's first 8 KiB, 4-byte aligned. */
	.section .multiboot, "a"
	.balign	4
	.long	MULTIBOOT_MAGIC
	.long	MULTIBOOT_FLAGS
	.long	-(MULTIBOOT_MAGIC + MULTIBOOT_FLAGS)

/*
 * The PVH entry: an ELF note named "Xen" of type XEN_ELFNOTE_PHYS32_ENTRY
 * whose descriptor is the 32-bit physical entry address.
 */
	.section .note.Xen, "a", @note
	.balign	4
	.long	2f - 1f			/* namesz */
	.long	4f - 3f			/* descsz */
	.long	XEN_ELFNOTE_PHYS32_ENTRY
1:	.asciz	"Xen"
2:	.balign	4
3:	.long	_start
4:	.balign	4

	.section .text.start, "ax"
	.globl	_start
_start:
	movl	%eax, boot_magic
	movl	%ebx, entry_ebx
	movl	%esi, entry_esi
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
	/*
	 * No clearing of the bss: every loader here gives an ELF segment's
	 * memory beyond its file bytes as zeroes (lguest's memory is fresh,
	 * QEMU's ELF loader pads its image), and KVM's instruction emulator
	 * takes about 15 ms over a rep stosb of our 90 KiB -- most of the
	 * start-up we are here to time.  boot.c checks the bss is zero.
	 */
	xorl	%ebp, %ebp
	call	kernel_main
2:	cli
	hlt
	jmp	2b

#include "../../tests/kvm/vectors.S"

/* Saved before the bss is cleared, so in .data. */
	.data
	.globl	boot_magic, entry_ebx, entry_esi
	.balign	4
boot_magic:
	.long	0
entry_ebx:
	.long	0
entry_esi:
	.long	0

	.bss
	.balign	16
	.skip	16384
stack_top:
