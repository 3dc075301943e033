// SPDX-License-Identifier: GPL-2.0
/*
 * tty: while the guest runs, the launcher's standard input is a raw
 * terminal: no echo, no line editing, and ^C goes to the guest as a byte
 * instead of raising SIGINT.  (The test runs us under a pseudo-terminal
 * and checks that the settings come back afterwards, whichever way the
 * launcher ends.)
 *
 * tty_wait: the same, then the launcher's pid noted ("# launcher pid N":
 * the guest runs in its main task) and a wait for ever, for the test to
 * stop the launcher with a signal.  tty_reboot: the same, then a reboot,
 * once.
 */
#include <termios.h>
#include <unistd.h>

#include "../guest.h"

static void tty(void)
{
	struct termios t;

	if (!check(tcgetattr(STDIN_FILENO, &t) == 0,
		   "standard input is a terminal"))
		return;
	check(!(t.c_lflag & ECHO), "the console does not echo");
	check(!(t.c_lflag & ICANON), "the console does not edit lines");
	check(!(t.c_lflag & ISIG), "^C is the guest's, not a signal");
}
SCENARIO(tty);

static void tty_wait(void)
{
	tty();
	guest_note("launcher pid %d", (int)getpid());
	for (;;)
		irq_wait(31, 1000);
}
SCENARIO(tty_wait);

static void tty_reboot(void)
{
	tty();
	if (guest_boot()->boot == 1)
		guest_reboot();
}
SCENARIO(tty_reboot);
