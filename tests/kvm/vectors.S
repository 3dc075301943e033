/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vectors.S: the interrupt entry and the GDT of the tests/kvm programs
 * and the bench guest, #included by their start.S after _start (in its
 * .text section).  The GDT has lguest's selectors; start.S loads it
 * through gdt_desc.
 */
/*
 * Interrupt entry: every vector pushes an error code (the CPU's, or 0) and
 * its number, so that interrupt() in lib.c sees one frame layout:
 *
 *	edi esi ebp esp ebx edx ecx eax (pushal), vector, error, eip, cs, eflags
 */
.macro vector n
	.balign	8
vector_\n:
	.if !(\n == 8 || (\n >= 10 && \n <= 14) || \n == 17 || \n == 21)
	pushl	$0
	.endif
	pushl	$\n
	jmp	interrupt_common
.endm

interrupt_common:
	pushal
	pushl	%esp
	call	interrupt
	addl	$4, %esp
	popal
	addl	$8, %esp
	/*
	 * Back to the interrupted code, which runs on this stack, in this
	 * code segment, at this privilege level: an iret would do, but not
	 * where KVM's instruction emulator runs all of our code (a host
	 * without VT-x or AMD-V, as kvm_pvm's), for it implements iret in
	 * real mode only and stops the guest with an emulation failure.
	 * So we turn the frame (eip, cs, eflags) into (eflags, eip, -),
	 * restore the flags with popf, and return with ret $4.  An
	 * interrupt taken between the two nests harmlessly below us.
	 */
	pushl	%eax			/* eax eip cs eflags */
	movl	12(%esp), %eax
	xchgl	%eax, 4(%esp)		/* eax eflags cs eflags; %eax = eip */
	movl	%eax, 8(%esp)		/* eax eflags eip eflags */
	popl	%eax			/* eflags eip - */
	popfl
	ret	$4

/* The 32 CPU exceptions (those above push an error code), 16 PIC lines. */
.irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, \
	16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, \
	32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47
	vector	\n
.endr

/* The stubs' addresses, for lib.c to put in the IDT. */
	.section .rodata
	.globl	vectors
	.balign	4
vectors:
.irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, \
	16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, \
	32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47
	.long	vector_\n
.endr

/*
 * The GDT: null, null, then flat 4 GiB code (0x10) and data (0x18), as
 * the Linux boot protocol (and lguest) has them.
 */
	.balign	8
gdt:
	.quad	0
	.quad	0
	.quad	0x00cf9a000000ffff	/* 0x10: code, base 0, limit 4G, 32-bit */
	.quad	0x00cf92000000ffff	/* 0x18: data, base 0, limit 4G */
gdt_end:

	.balign	4
	.word	0
gdt_desc:
	.word	gdt_end - gdt - 1
	.long	gdt
