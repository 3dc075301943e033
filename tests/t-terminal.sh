#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# t-terminal.sh: under a terminal, the launcher puts it in raw mode while
# the guest runs and gives it back as it found it, whichever way it ends:
# a bad command line; the guest's death; a driver error caught in the main
# task, or in a service task (which exits: SIGCHLD); three ^C; SIGTERM; a
# service task killed by a signal; a reboot whose exec fails; and under
# KVM, power-off and an instruction KVM cannot emulate.  Each case runs
# the launcher on a pseudo-terminal of its own (script(1)), compares
# "stty -g" before and after, and checks that the launcher did end the
# way the case is about (its exit status and its last words).

. "$(dirname "$0")/lib.sh"

require_built || exit 0

if ! command -v script >/dev/null; then
	not_ok "the terminal tests run" "script (util-linux) is not installed"
	exit 0
fi

# pty_start [NAME=value...] -- [LAUNCHER ARGUMENTS...]: as start_lguest,
# but on a new pseudo-terminal, whose input is the pipe type_keys writes;
# "stty -g" is recorded before the launcher starts and after it ends.
# pty_start_cmd does the same for the command in $lguest_cmd.  The
# launcher's stderr is $TEST_TMP/stderr; the terminal's output (the
# launcher's stdout) is $TEST_TMP/stdout.
pty_start()
{
	lguest_command "$@"
	pty_start_cmd
}

pty_start_cmd()
{
	local fifo=$TEST_TMP/stdin cmd

	printf -v cmd '%q ' "${lguest_cmd[@]}"
	rm -f "$fifo" "$TEST_TMP"/{before,after,status,stderr}
	: >"$TEST_TMP/stderr"
	mkfifo "$fifo" || return 1
	SHELL=/bin/bash timeout -k 5 "$LGTEST_TIMEOUT" script -qefc \
		"stty -g >$TEST_TMP/before; $cmd 2>$TEST_TMP/stderr; \
echo \$? >$TEST_TMP/status; stty -g >$TEST_TMP/after" /dev/null \
		<"$fifo" >"$TEST_TMP/stdout" 2>/dev/null &
	lguest_pid=$!
	exec 3>"$fifo"
}

# pty_finish WHAT STATUS REGEX: the launcher has ended (or ends now) with
# exit status STATUS and a line on stderr matching REGEX (grep -E), and
# the terminal is as it was before.
pty_finish()
{
	local what=$1 want=$2 re=$3 why=()

	finish_lguest
	status=$(cat "$TEST_TMP/status" 2>/dev/null)
	[ "$status" = "$want" ] || why+=("want exit status $want")
	grep -qE -- "$re" <<<"$stderr" ||
		why+=("want a line on stderr matching: $re")
	if [ ! -s "$TEST_TMP/before" ] ||
	   ! cmp -s "$TEST_TMP/before" "$TEST_TMP/after"; then
		why+=("the terminal changed:" \
			"before: $(cat "$TEST_TMP/before" 2>/dev/null)" \
			"after:  $(cat "$TEST_TMP/after" 2>/dev/null)")
	fi
	if [ ${#why[@]} = 0 ]; then
		ok "$what: the terminal is as it was"
	else
		not_ok "$what: the terminal is as it was" "${why[@]}"
		run_diagnostics
	fi
}

# The guest's checks that it ran on a raw terminal, if it got that far.
raw_while_running()
{
	local failed

	failed=$(grep '^not ok' "$guest_tap")
	if grep -q '^ok .*\^C is the guest' "$guest_tap" && [ -z "$failed" ]
	then
		ok "$1: while the guest ran, the terminal was raw"
	else
		not_ok "$1: while the guest ran, the terminal was raw" \
			"the guest's checks:" "$(cat "$guest_tap")"
	fi
}

# A bad command line: the terminal is never touched.
lguest_cmd=("$LGUEST" --tunnet=bridge: 32 "$TINY_ELF")
pty_start_cmd
pty_finish "a bad command line" 1 '^lguest: --tunnet=bridge:: empty bridge name'
one_line_error "a bad command line under a terminal: one line, status 1" \
	'^lguest: --tunnet=bridge:: empty bridge name'

# The guest dies (the host's ENOENT, and the reason it gives).
pty_start LGSTUB_SCENARIO=tty -- 32 "$TINY_ELF"
pty_finish "the guest died" 1 '^lguest: guest: passed [0-9]+ checks$'
raw_while_running "the guest died"

# A driver breaks a rule in a register: the main task stops.
pty_start LGSTUB_SCENARIO=rule_status_clear_bit -- 32 "$TINY_ELF"
pty_finish "a driver error, caught in the main task" 1 \
	'^lguest: console 00:01\.0: bad driver: device_status 0x3 -> 0x1 clears a bit .* at guest eip 0x[0-9a-f]+$'

# ... in a ring: the queue's task stops, and the main task follows.
pty_start LGSTUB_SCENARIO=rule_rng_readable -- --rng 32 "$TINY_ELF"
pty_finish "a driver error, caught in a service task" 1 \
	'^lguest: rng 00:02\.0 queue requestq: bad driver: device-readable buffer in a queue the device writes to'

# Three ^C within a second: SIGINT.
pty_start LGSTUB_SCENARIO=console_keys \
	LGSTUB_CONSOLE_INPUT=$'\003\003\003x' -- 32 "$TINY_ELF"
wait_output '^ready' && type_keys 0.2 '\003' '\003' '\003'
pty_finish "three ^C" 130 ''

# SIGTERM from outside.
pty_start LGSTUB_SCENARIO=tty_wait -- 32 "$TINY_ELF"
if wait_guest_note 'launcher pid [0-9]+$'; then
	pid=$(sed -n 's/^# launcher pid //p' "$guest_tap")
	kill -TERM "$pid"
fi
pty_finish "SIGTERM" 143 ''
raw_while_running "SIGTERM"

# A service task killed by a signal (SIGKILL, from outside): the main task
# hears of it (SIGCHLD) and stops.
pty_start LGSTUB_SCENARIO=console_keys LGSTUB_CONSOLE_INPUT=never \
	-- -v 32 "$TINY_ELF"
re='^lguest: console queue receiveq: task ([0-9]+) serving$'
if wait_line "$TEST_TMP/stderr" "$re"; then
	pid=$(sed -nE "s/$re/\\1/p" "$TEST_TMP/stderr" | head -n 1)
	kill -KILL "$pid"
fi
pty_finish "a service task killed by SIGKILL" 1 \
	'^lguest: console queue receiveq: service task killed by SIGKILL$'

# The guest reboots, and running the launcher again fails (the stand-in
# makes fexecve fail).
pty_start LGSTUB_SCENARIO=tty_reboot LGSTUB_EXEC_ERRNO=8 -- 32 "$TINY_ELF"
pty_finish "a reboot whose exec fails" 1 \
	'^lguest: reboot: cannot run the launcher again: Exec format error$'
raw_while_running "a reboot whose exec fails"

# Under KVM (the tests/kvm programs): power-off, and an emulation failure.
kvm_what=("KVM: power-off (status 0)" "KVM: an instruction KVM cannot emulate")
if ! { : <>/dev/kvm; } 2>/dev/null; then
	for what in "${kvm_what[@]}"; do
		skip "$what: the terminal is as it was" "/dev/kvm cannot be opened"
	done
else
	lguest_cmd=("$LGUEST" --kvm 16 build/kvm/uart.elf)
	pty_start_cmd
	pty_finish "${kvm_what[0]}" 0 ''
	lguest_cmd=("$LGUEST" --kvm --rng 16 build/kvm/emulation.elf)
	pty_start_cmd
	pty_finish "${kvm_what[1]}" 1 '^lguest: KVM: internal error .*emulation'
fi
