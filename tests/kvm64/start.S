/* SPDX-License-Identifier: GPL-2.0 */
/*
 * start.S: where a tests/kvm64 program begins, and where interrupts land.
 *
 * lguest --kvm enters an x86-64 ELF at e_entry in 64-bit long mode, as
 * the boot protocol's 64-bit entry has it: CS 0x10 (64-bit code), DS, ES
 * and SS 0x18, interrupts off, %rsi at boot_params (guest-physical 0),
 * and the low 4 GiB identity-mapped by its own page tables (CR3 0x9000).
 * We keep its GDT (at 0x8000) and its page tables (a program may add to
 * them); we bring our own stack, clear the bss, and call tests/kvm/lib.c's
 * kernel_main(), as tests/kvm/start.S does for the i386 programs.  No
 * loader but lguest's runs these: there is no multiboot header, and
 * boot_magic stays 0.
 */
	.file	"start.S"	/* not the temporary object's name: reproducible */

	.code64
	.section .text.start, "ax"
	.globl	_start
_start:
	/*
	 * What we were given, for the program to check: the registers
	 * first, then, on our own stack (lguest gives us none), the flags
	 * as they were.
	 */
	movq	%rsi, entry_rsi(%rip)
	movw	%cs, entry_cs(%rip)
	movw	%ds, entry_ds(%rip)
	movw	%ss, entry_ss(%rip)
	leaq	stack_top(%rip), %rsp
	pushfq
	popq	entry_rflags(%rip)
	cli
	cld
	/* What we saved lives in .data, not in the bss we clear now. */
	leaq	__bss_start(%rip), %rdi
	leaq	__bss_end(%rip), %rcx
	subq	%rdi, %rcx
	xorl	%eax, %eax
	rep stosb
	xorl	%ebp, %ebp
	call	kernel_main
2:	cli
	hlt
	jmp	2b

/*
 * Interrupt entry.  In long mode the CPU aligns the stack to 16 bytes and
 * always pushes ss, rsp, rflags, cs and rip (then an error code, for some
 * exceptions).  Every stub pushes an error code (the CPU's, or 0) and its
 * vector, so that interrupt() in lib.c sees one frame layout:
 *
 *	r11 r10 r9 r8 rdi rsi rdx rcx rax, vector, error, rip cs rflags rsp ss
 *
 * The stubs save only the registers a C function may change (lib.c is
 * compiled without the red zone, so nothing of the interrupted code's
 * lives below its stack pointer).
 */
.macro vector n
	.balign	16
vector_\n:
	.if !(\n == 8 || (\n >= 10 && \n <= 14) || \n == 17 || \n == 21)
	pushq	$0
	.endif
	pushq	$\n
	jmp	interrupt_common
.endm

interrupt_common:
	pushq	%rax
	pushq	%rcx
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	movq	%rsp, %rdi		/* the frame, for interrupt() */
	pushq	%rbp			/* and the ABI's 16-byte alignment */
	movq	%rsp, %rbp
	andq	$-16, %rsp
	call	interrupt
	movq	%rbp, %rsp
	popq	%rbp
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%rcx
	popq	%rax
	addq	$16, %rsp		/* rip cs rflags rsp ss */
	/*
	 * Back to the interrupted code, which runs on this stack, in this
	 * code segment, at this privilege level.  iretq would do, but not
	 * where KVM's instruction emulator runs all of our code (see
	 * tests/kvm/start.S).  So we copy its rip and rflags, and the two
	 * registers the copying needs, to the four words below the stack
	 * pointer S it had (the red zone is off: nothing lives there),
	 * switch to them, and pop them back, the flags with popfq and rip
	 * with ret.  Those words may overlap the frame, which the CPU pushed
	 * below S rounded down to 16 bytes; each word of the frame is read
	 * before a write can reach it.
	 */
	pushq	%rax
	pushq	%rbx			/* rbx rax rip cs rflags rsp ss */
	movq	40(%rsp), %rbx		/* S */
	movq	16(%rsp), %rax
	movq	%rax, -8(%rbx)		/* rip; only ss is at or above A - 8 */
	movq	32(%rsp), %rax
	movq	%rax, -16(%rbx)		/* rflags; S was read already */
	movq	8(%rsp), %rax
	movq	%rax, -24(%rbx)		/* rax */
	movq	(%rsp), %rax
	movq	%rax, -32(%rbx)		/* rbx */
	leaq	-32(%rbx), %rsp
	popq	%rbx
	popq	%rax
	popfq
	/* An interrupt taken here nests harmlessly below us. */
	ret

/* The 32 CPU exceptions (those above push an error code), 16 PIC lines. */
.irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, \
	16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, \
	32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47
	vector	\n
.endr

/* The stubs' addresses, for lib.c to put in the IDT. */
	.section .rodata
	.globl	vectors
	.balign	8
vectors:
.irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, \
	16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, \
	32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47
	.quad	vector_\n
.endr

	.data
	.globl	boot_magic, entry_rsi, entry_rflags
	.globl	entry_cs, entry_ds, entry_ss
	.balign	8
entry_rsi:
	.quad	0
entry_rflags:
	.quad	0
boot_magic:
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
