# SPDX-License-Identifier: GPL-2.0
#
# tests/lib.sh: what every tests/t-*.sh sources.
#
# A test file prints TAP without a plan: one "ok N - what" or "not ok N -
# what" line per case, with "# " lines of diagnostics after a failure, and
# "ok N - what # SKIP why" for a case that cannot run here.  tests/run
# collects them.
#
# The launcher runs under the stand-in /dev/lguest (build/lgstub.so), whose
# guest is the scenario named by LGSTUB_SCENARIO; see tests/guest.h.  When
# the scenario ends, the guest dies and the launcher says why on stderr:
# "lguest: guest: passed N checks", exit status 1.
#
# Settings, from the environment:
#   LGUEST          the launcher under test (./lguest)
#   LGSTUB          the stand-in (build/lgstub.so)
#   TINY_ELF        the tiny test kernel (build/tiny.elf)
#   LGTEST_TIMEOUT  seconds one launcher run may take (30)

set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

LGUEST=${LGUEST:-./lguest}
LGSTUB=${LGSTUB:-build/lgstub.so}
TINY_ELF=${TINY_ELF:-build/tiny.elf}
TINY64=${TINY64:-build/tiny64.elf}
LGTEST_TIMEOUT=${LGTEST_TIMEOUT:-30}

TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/lgtest.XXXXXX") || exit 1
trap 'sanitizer_leftovers; rm -rf "$TEST_TMP"' EXIT

# A launcher built with "make check SANITIZE=1" (and the stand-in, and
# anything else built with ASan or UBSan that a test runs) writes its
# sanitizers' reports to files of their own, $SANITIZER_LOG.<pid>, not to
# stderr, where the cases look for the launcher's lines alone.  Any report
# fails the case that ran it: see ok().  Settings of the caller's come
# after ours, so they win.
SANITIZER_LOG=$TEST_TMP/sanitizer
export ASAN_OPTIONS="log_path=$SANITIZER_LOG${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="log_path=$SANITIZER_LOG:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

# What the sanitizers reported since the last case (the files are then
# removed), but for one warning that is no error: a service task is not
# a thread ASan knows, so on its way out (a noreturn call: it stops) ASan
# takes the main task's stack for its own, finds the task's stack pointer
# far outside it, and declines to unpoison "it", saying so.  The task
# ends right after, so no report can follow from that.
sanitizer_reports()
{
	local f

	for f in "$SANITIZER_LOG".*; do
		[ -e "$f" ] || continue
		grep -v -e '^==[0-9]*==WARNING: ASan is ignoring requested __asan_handle_no_return: stack type: default ' \
			-e '^False positive error reports may follow$' \
			-e '^For details see https://github.com/google/sanitizers/issues/189$' \
			"$f"
		rm -f "$f"
	done
}

# Reports that came after the last case fail one more.
sanitizer_leftovers()
{
	local report

	report=$(sanitizer_reports)
	[ -z "$report" ] || not_ok "no sanitizer report after the last case" \
		"$report"
}

tap_count=0

# A sanitizer's report since the last case turns ok into not ok.
ok()
{
	local report

	report=$(sanitizer_reports)
	if [ -n "$report" ]; then
		not_ok "$1" "a sanitizer reported:" "$report"
		return
	fi
	tap_count=$((tap_count + 1))
	echo "ok $tap_count - $1"
}

# not_ok WHAT [DIAGNOSTIC...]
not_ok()
{
	local report

	report=$(sanitizer_reports)
	tap_count=$((tap_count + 1))
	echo "not ok $tap_count - $1"
	shift
	[ $# -eq 0 ] || diag "$@"
	[ -z "$report" ] || diag "a sanitizer reported:" "$report"
}

# skip WHAT WHY
skip()
{
	local report

	report=$(sanitizer_reports)
	if [ -n "$report" ]; then
		not_ok "$1" "a sanitizer reported:" "$report"
		return
	fi
	tap_count=$((tap_count + 1))
	echo "ok $tap_count - $1 # SKIP $2"
}

# diag LINE...: each line of each argument as a "# " line.
diag()
{
	printf '%s\n' "$@" | sed 's/^/#   /'
}

# The launcher and the stand-in exist, or every case would fail alike.
require_built()
{
	local f missing=()

	for f in "$LGUEST" "$LGSTUB" "$TINY_ELF"; do
		[ -e "$f" ] || missing+=("$f")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	not_ok "the launcher and the test files are built" \
		"missing: ${missing[*]} (run make)"
	return 1
}

# Debian's kernel, a bzImage: $LGUEST_BZIMAGE, else the newest
# /boot/vmlinuz-*, else build/debian/vmlinuz; nothing if there is none.
find_bzimage()
{
	local newest

	if [ -n "${LGUEST_BZIMAGE:-}" ]; then
		echo "$LGUEST_BZIMAGE"
		return
	fi
	newest=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
	if [ -n "$newest" ]; then
		echo "$newest"
	elif [ -e build/debian/vmlinuz ]; then
		echo build/debian/vmlinuz
	fi
}

# Whether the launcher is built with AddressSanitizer (make SANITIZE=1).
launcher_asan()
{
	LC_ALL=C grep -qa __asan_init "$LGUEST"
}

# What LD_PRELOAD gets: the stand-in, after AddressSanitizer's runtime if
# the stand-in was built with it (ASan insists on being loaded first).
preload()
{
	local asan stub=$LGSTUB

	[ "${stub#/}" != "$stub" ] || stub=$PWD/$stub
	asan=$(ldd "$stub" 2>/dev/null | awk '$1 ~ /^libasan/ { print $3 }')
	echo "${asan:+$asan }$stub"
}

# run_lguest [NAME=value...] -- [LAUNCHER ARGUMENTS...]
#
# Run the launcher under the stand-in, with the given environment (say
# LGSTUB_SCENARIO=boot), no input, killed after $LGTEST_TIMEOUT seconds.
# Sets $status, $stdout and $stderr, and $guest_tap: the file holding one
# TAP line per check the guest made.  Inherited LGSTUB_* settings are
# dropped, except LGSTUB_VERBOSE.
run_lguest()
{
	lguest_command "$@"
	run_lguest_cmd
}

# What the last run did, for a failure's diagnostics.
run_diagnostics()
{
	local failed

	if [ "$status" = 124 ] || [ "$status" = 137 ]; then
		diag "the launcher was still running after ${LGTEST_TIMEOUT}s"
	else
		diag "exit status $status"
	fi
	[ -z "$stderr" ] || diag "stderr:" "$(tail -n 20 <<<"$stderr")"
	failed=$(grep '^not ok' "$guest_tap")
	[ -z "$failed" ] || diag "the guest's failed checks:" "$failed"
}

# guest_passed WHAT: the last run ended with the guest passing every check.
guest_passed()
{
	if [ "$status" = 1 ] &&
	   grep -qx 'lguest: guest: passed [0-9]* checks' <<<"$stderr"; then
		ok "$1"
	else
		not_ok "$1"
		run_diagnostics
	fi
}

# expect_stderr WHAT REGEX: the last run's stderr has a line matching REGEX
# (grep -E), and the launcher exited with status 1.
expect_stderr()
{
	if [ "$status" = 1 ] && grep -qE -- "$2" <<<"$stderr"; then
		ok "$1"
	else
		not_ok "$1" "want a line matching: $2"
		run_diagnostics
	fi
}

# run_plain [LAUNCHER ARGUMENTS...]: run the launcher as a user would,
# without the stand-in: no input, killed after $LGTEST_TIMEOUT seconds.
# Sets $status, $stdout and $stderr like run_lguest.
run_plain()
{
	guest_tap=$TEST_TMP/guest.tap
	: >"$guest_tap"
	timeout -k 5 "$LGTEST_TIMEOUT" "$LGUEST" "$@" </dev/null \
		>"$TEST_TMP/stdout" 2>"$TEST_TMP/stderr"
	status=$?
	stdout=$(cat "$TEST_TMP/stdout")
	stderr=$(cat "$TEST_TMP/stderr")
}

# one_line_error WHAT REGEX: the last run failed as a bad command line
# should: status 1, nothing on stdout, and exactly one line on stderr,
# matching REGEX (grep -E).
one_line_error()
{
	local lines

	lines=$(printf '%s' "$stderr" | grep -c '')
	if [ "$status" = 1 ] && [ -z "$stdout" ] && [ "$lines" = 1 ] &&
	   grep -qE -- "$2" <<<"$stderr"; then
		ok "$1"
	else
		not_ok "$1" "want status 1 and one line on stderr matching: $2" \
			"got $lines lines"
		run_diagnostics
	fi
}

# lguest_command [NAME=value...] -- [LAUNCHER ARGUMENTS...]: the command
# run_lguest runs, but for the timeout, in the array $lguest_cmd: the
# stand-in preloaded, a fresh $guest_tap, the given environment, and no
# inherited LGSTUB_* settings but LGSTUB_VERBOSE.
lguest_command()
{
	local env=() unset=() v

	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		env+=("$1")
		shift
	done
	[ $# -gt 0 ] && shift
	for v in $(compgen -e | grep '^LGSTUB_'); do
		[ "$v" = LGSTUB_VERBOSE ] || unset+=(-u "$v")
	done
	guest_tap=$TEST_TMP/guest.tap
	: >"$guest_tap"
	lguest_cmd=(env "${unset[@]}" LD_PRELOAD="$(preload)"
		LGSTUB_TAP="$guest_tap" "${env[@]}" "$LGUEST" "$@")
}

# The output of the launcher run last, once it has ended.
collect_output()
{
	stdout=$(cat "$TEST_TMP/stdout")
	stderr=$(cat "$TEST_TMP/stderr")
}

# run_lguest_input FILE [NAME=value...] -- [LAUNCHER ARGUMENTS...]: as
# run_lguest, with standard input from FILE instead of /dev/null.
run_lguest_input()
{
	local input=$1

	shift
	lguest_command "$@"
	lguest_input=$input run_lguest_cmd
}

# start_lguest [NAME=value...] -- [LAUNCHER ARGUMENTS...]: as run_lguest,
# but in the background, with standard input a pipe the test writes with
# type_keys.  wait_output waits for the guest to say something;
# finish_lguest waits for the launcher to end and sets $status, $stdout
# and $stderr.
start_lguest()
{
	lguest_command "$@"
	start_lguest_cmd
}

# wait_output REGEX: true once the running launcher's standard output has
# a line matching REGEX (grep -E); false if it ends first or takes longer
# than $LGTEST_TIMEOUT seconds.
wait_output()
{
	wait_line "$TEST_TMP/stdout" "$1"
}

# wait_line FILE REGEX: true once FILE has a line matching REGEX (grep
# -E); false if the running launcher ends first without one, or it takes
# longer than $LGTEST_TIMEOUT seconds.
wait_line()
{
	local i

	for ((i = 0; i < LGTEST_TIMEOUT * 20; i++)); do
		grep -qE -- "$2" "$1" && return 0
		kill -0 "$lguest_pid" 2>/dev/null || break
		sleep 0.05
	done
	grep -qE -- "$2" "$1"
}

# type_keys DELAY KEY...: each KEY (a printf format: '\003' is ^C) on the
# running launcher's standard input, in a write of its own, DELAY seconds
# apart.
type_keys()
{
	local delay=$1 key

	shift
	for key in "$@"; do
		# A launcher that has already gone must not take us with it.
		(trap '' PIPE && printf "$key") >&3 2>/dev/null
		sleep "$delay"
	done
}

finish_lguest()
{
	exec 3>&-
	wait "$lguest_pid"
	status=$?
	collect_output
}

# at_exit COMMAND: run COMMAND (with eval) when the test file exits, by
# signal too, before $TEST_TMP is removed.  For what a test sets up
# outside $TEST_TMP: a network namespace, a user.
at_exit_cmds=()
at_exit()
{
	at_exit_cmds+=("$1")
	trap 'sanitizer_leftovers
		for c in "${at_exit_cmds[@]}"; do eval "$c"; done
		rm -rf "$TEST_TMP"' EXIT
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# run_lguest_cmd: run the command lguest_command left in $lguest_cmd
# (which the test may have put inside another, "ip netns exec" say) as
# run_lguest runs the launcher, its input from $lguest_input (default
# /dev/null); sets $status, $stdout and $stderr.
run_lguest_cmd()
{
	timeout -k 5 "$LGTEST_TIMEOUT" "${lguest_cmd[@]}" \
		<"${lguest_input:-/dev/null}" \
		>"$TEST_TMP/stdout" 2>"$TEST_TMP/stderr"
	status=$?
	collect_output
}

# start_lguest_cmd: as start_lguest, for the command in $lguest_cmd.
start_lguest_cmd()
{
	local fifo=$TEST_TMP/stdin

	rm -f "$fifo"
	mkfifo "$fifo" || return 1
	timeout -k 5 "$LGTEST_TIMEOUT" "${lguest_cmd[@]}" <"$fifo" \
		>"$TEST_TMP/stdout" 2>"$TEST_TMP/stderr" &
	lguest_pid=$!
	# Opening the write end lets the launcher's redirection finish.
	exec 3>"$fifo"
}

# wait_guest_note REGEX: true once the running guest has noted (with
# guest_note) a line matching REGEX (grep -E, after the "# "); false if
# the launcher ends first or it takes longer than $LGTEST_TIMEOUT seconds.
wait_guest_note()
{
	wait_line "$guest_tap" "^# $1"
}

# patch_bytes FILE OFFSET HEX: overwrite bytes of FILE at OFFSET with the
# bytes HEX spells (e.g. "0300" for a little-endian 16-bit 3).
patch_bytes()
{
	printf "$(sed 's/../\\x&/g' <<<"$3")" |
		dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
