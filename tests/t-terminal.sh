#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# t-terminal.sh: under a terminal, the launcher puts it in raw mode while
# the guest runs and gives it back as it found it, whether the command
# line was bad or the guest ran and died.

. "$(dirname "$0")/lib.sh"

require_built || exit 0

if ! command -v script >/dev/null; then
	not_ok "the terminal tests run" "script (util-linux) is not installed"
	exit 0
fi

# under_pty WHAT ENV-AND-ARGUMENTS...: run the launcher on a new
# pseudo-terminal, recording the terminal settings before and after.
under_pty()
{
	local what=$1 cmd

	shift
	printf -v cmd '%q ' "$@"
	script -qec "stty -g >$TEST_TMP/before; $cmd >$TEST_TMP/stdout 2>$TEST_TMP/stderr; echo \$? >$TEST_TMP/status; stty -g >$TEST_TMP/after" \
		/dev/null >/dev/null 2>&1 </dev/null
	status=$(cat "$TEST_TMP/status" 2>/dev/null)
	stderr=$(cat "$TEST_TMP/stderr" 2>/dev/null)
	stdout=$(cat "$TEST_TMP/stdout" 2>/dev/null)
	if [ -s "$TEST_TMP/before" ] &&
	   cmp -s "$TEST_TMP/before" "$TEST_TMP/after"; then
		ok "$what: the terminal is as it was"
	else
		not_ok "$what: the terminal is as it was" \
			"before: $(cat "$TEST_TMP/before" 2>/dev/null)" \
			"after:  $(cat "$TEST_TMP/after" 2>/dev/null)"
	fi
}

under_pty "a bad command line" "$LGUEST" --tunnet=bridge: 32 "$TINY_ELF"
one_line_error "a bad command line under a terminal: one line, status 1" \
	'^lguest: --tunnet=bridge:: empty bridge name'

under_pty "a guest that ran and died" env LD_PRELOAD="$(preload)" \
	LGSTUB_SCENARIO=tty "$LGUEST" 32 "$TINY_ELF"
guest_tap=/dev/null
guest_passed "while the guest ran, the terminal was raw"
