#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The fuzzer's findings stay found: every input in tests/fuzz/regress/
# (each one a crash the fuzzer once found, minimized) and the seed corpus
# in tests/fuzz/corpus/ run through the harness, build/fuzz/lguest-fuzz
# (tests/fuzz/fuzz.c, over this lguest.c, with ASan and UBSan).  Each must
# end cleanly: correct service, or a stop with a driver error.
#
# libFuzzer runs the files it is given once each, as a regression, and
# exits non-zero on the first that crashes.  -close_fd_mask=2 lets the
# harness check that every stop is a driver error.

source "$(dirname "$0")/lib.sh"

FUZZ=${FUZZ:-build/fuzz/lguest-fuzz}

# replay WHAT FILE...
replay()
{
	local what=$1 out

	shift
	if out=$(timeout 120 "$FUZZ" -close_fd_mask=2 -timeout=10 "$@" 2>&1); then
		ok "$what"
	else
		not_ok "$what" "$(printf '%s\n' "$out" |
			grep -E 'FINDING|ERROR|runtime error|SUMMARY|Running:' |
			tail -n 12)"
	fi
}

if [ ! -x "$FUZZ" ]; then
	not_ok "the fuzzing harness is built" "missing: $FUZZ (run make)"
	exit 0
fi

regress=()
for f in tests/fuzz/regress/*; do
	[ -f "$f" ] || continue
	regress+=("$f")
	replay "regress: $(basename "$f")" "$f"
done
# And all in one process, in order, as the fuzzer runs them: nothing an
# input leaves behind may change how the next one goes.
[ ${#regress[@]} -eq 0 ] ||
	replay "regress: all ${#regress[@]} inputs in one process" "${regress[@]}"

seeds=(tests/fuzz/corpus/*)
replay "the seed corpus (${#seeds[@]} inputs) runs clean" "${seeds[@]}"

# The seeds the harness writes today are all in the corpus: its input
# format and the corpus have not drifted apart.
mkdir -p "$TEST_TMP/seeds"
stale=()
if LGUEST_FUZZ_SEEDS="$TEST_TMP/seeds" "$FUZZ" >/dev/null 2>&1; then
	for f in "$TEST_TMP"/seeds/*; do
		cmp -s "$f" "tests/fuzz/corpus/${f##*/}" || stale+=("${f##*/}")
	done
else
	stale=("(the harness wrote no seeds)")
fi
if [ ${#stale[@]} -eq 0 ]; then
	ok "tests/fuzz/corpus holds the seeds the harness writes"
else
	not_ok "tests/fuzz/corpus holds the seeds the harness writes" \
		"missing or different: ${stale[*]} (make fuzz-seeds)"
fi
