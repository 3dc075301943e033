#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# t-console.sh: the console, end to end.  What the guest's driver
# (tests/scenarios/console.c) writes through transmitq and emerg_wr comes
# out on the launcher's standard output, byte for byte; what we feed its
# standard input (a file, a pipe, keys typed one at a time) reaches the
# guest in receiveq buffers.  Three ^C typed within a second end the
# launcher with SIGINT (under a terminal too, which it leaves as it was:
# t-terminal.sh).

. "$(dirname "$0")/lib.sh"

require_built || exit 0

# Output: emerg_wr, buffers of 1, 3 and 4 segments, ten lines through a
# 4-entry queue, a batch of four, emerg_wr again.
expected_output()
{
	printf '[emergency]\none buffer\na chain of three segments\n'
	printf 'and of four: 1 2 3 4\n'
	printf 'line %d\n' 0 1 2 3 4 5 6 7 8 9
	printf 'batch %d\n' 1 2 3 4
	printf '[done]\n'
}

run_lguest LGSTUB_SCENARIO=console_output -- 32 "$TINY_ELF"
guest_passed "output: features, configuration, transmitq, emerg_wr"
if expected_output | cmp -s - "$TEST_TMP/stdout"; then
	ok "output: standard output is what the guest wrote, in order"
else
	not_ok "output: standard output is what the guest wrote, in order" \
		"got:" "$(od -c "$TEST_TMP/stdout" | head -n 20)"
fi

# Input: a few hundred bytes, more than the guest's four 16-byte buffers
# hold, so they go round many times.
input="The quick brown fox jumps over the lazy dog; \
pack my box with five dozen liquor jugs.	Tab, UTF-8: ünïcödé €, \
symbols !\"#\$%&'()*+,-./:;<=>?@[\\]^_\`{|}~ and digits 0123456789."
input="$input $input $input"
printf '%s' "$input" >"$TEST_TMP/input"

run_lguest_input "$TEST_TMP/input" LGSTUB_SCENARIO=console_input \
	LGSTUB_CONSOLE_INPUT="$input" -- 32 "$TINY_ELF"
guest_passed "input from a file reaches the guest, buffer by buffer"
expect_stderr "input from a file: its end is said" \
	'^lguest: console: end of input; the guest gets no more input$'

run_lguest_input <(printf '%s' "$input") LGSTUB_SCENARIO=console_input \
	LGSTUB_CONSOLE_INPUT="$input" -- 32 "$TINY_ELF"
guest_passed "input from a pipe reaches the guest"

# A here-string ends with a newline.
run_lguest_input /dev/stdin LGSTUB_SCENARIO=console_input \
	LGSTUB_CONSOLE_INPUT="$input"$'\n' -- 32 "$TINY_ELF" <<<"$input"
guest_passed "input from a here-string reaches the guest"

# A busy device needs no notification: standard output is a pipe nobody
# reads until the guest says (in its TAP file) that transmitq is stuck
# writing a buffer larger than the pipe holds, and that it has added
# another without notifying.  Then we read everything.
no_notify()
{
	local out=$TEST_TMP/stdout.fifo

	lguest_command LGSTUB_SCENARIO=console_no_notify -- 32 "$TINY_ELF"
	rm -f "$out"
	mkfifo "$out"
	timeout -k 5 "$LGTEST_TIMEOUT" "${lguest_cmd[@]}" </dev/null \
		>"$out" 2>"$TEST_TMP/stderr" &
	lguest_pid=$!
	exec 4<"$out"
	wait_guest_note ready
	cat <&4 >"$TEST_TMP/stdout"
	exec 4<&-
	wait "$lguest_pid"
	status=$?
	collect_output
}

no_notify
guest_passed "a buffer offered while the device is busy needs no notification"
if { echo hello; head -c $((256 * 1024 - 1)) /dev/zero | tr '\0' x; echo;
     echo after; } | cmp -s - "$TEST_TMP/stdout"; then
	ok "... and all three buffers reach standard output, in order"
else
	not_ok "... and all three buffers reach standard output, in order" \
		"got $(wc -c <"$TEST_TMP/stdout") bytes"
fi

# keys WHAT STATUS DELAYS... -- KEYS...: type KEYS one at a time (the
# guest expects them all), each followed by the next of DELAYS; STATUS is
# "killed" (SIGINT, 130) or "passed" (the guest got every key).
keys()
{
	local what=$1 want=$2 delays=() all="" k i=0

	shift 2
	while [ "$1" != -- ]; do
		delays+=("$1")
		shift
	done
	shift
	for k in "$@"; do
		all+=$(printf "$k")
	done
	start_lguest LGSTUB_SCENARIO=console_keys \
		LGSTUB_CONSOLE_INPUT="$all" -- 32 "$TINY_ELF"
	if wait_output '^ready'; then
		for k in "$@"; do
			type_keys "${delays[i++]:-0}" "$k"
		done
	fi
	finish_lguest
	if [ "$want" = passed ]; then
		guest_passed "$what"
	elif [ "$status" = 130 ]; then
		ok "$what"
	else
		not_ok "$what" "want death by SIGINT (status 130)"
		run_diagnostics
	fi
}

keys "three ^C within a second: the launcher dies of SIGINT" killed \
	0.2 0.2 0.2 -- '\003' '\003' '\003' 'x'
keys "two ^C are the guest's" passed \
	0.2 0.2 0.2 -- '\003' '\003' 'q'
keys "three ^C over more than a second are the guest's" passed \
	0.6 0.6 0.2 -- '\003' '\003' '\003' 'q'
keys "^C, x, ^C, ^C: not three in a row, the guest's" passed \
	0.1 0.1 0.1 0.2 -- '\003' 'x' '\003' '\003' 'q'
keys "four ^C, the last three within a second: SIGINT" killed \
	0.6 0.6 0.05 0.5 -- '\003' '\003' '\003' '\003' 'q'

# Three ^C under a real terminal, which must come back as it was: see
# t-terminal.sh.
