#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# t-block.sh: the block device over a file, end to end.  The guest's
# driver (tests/scenarios/block.c) reads the disk and compares it with a
# copy of the file, writes the sectors we name with bytes we give it, and
# flushes; afterwards we check that the file changed there and nowhere
# else.  Requests no driver may send (past the end, a sector number that
# overflows, indirect descriptors nobody offered) must stop the launcher
# with its message before a byte of the file changes.

. "$(dirname "$0")/lib.sh"

require_built || exit 0

SECTORS=2048

# 1 MiB of a known pattern: each 512-byte sector is 16 lines of 32 bytes,
# "sector S line L", so any byte read from the wrong place shows.
make_disk()
{
	awk -v n="$SECTORS" 'BEGIN {
		for (s = 0; s < n; s++)
			for (l = 0; l < 16; l++)
				printf "%-31s\n", "sector " s " line " l
	}' >"$1"
}

# The writes the guest makes, "sector:count", with data taken in order.
WRITES="0:1 5:2 700:3 1024:8 1500:1 2046:2"

# The file as it should be after those writes: the original, with each
# write's bytes put in place by dd.
expected_disk()
{
	local orig=$1 data=$2 out=$3 w sector count skip=0

	cp "$orig" "$out"
	for w in $WRITES; do
		sector=${w%%:*}
		count=${w##*:}
		dd if="$data" of="$out" bs=512 skip="$skip" seek="$sector" \
			count="$count" conv=notrunc status=none
		skip=$((skip + count))
	done
}

orig=$TEST_TMP/orig.img
disk=$TEST_TMP/disk.img
data=$TEST_TMP/data
want=$TEST_TMP/want.img
make_disk "$orig"
head -c $((32 * 512)) /dev/urandom >"$data"

cp "$orig" "$disk"
run_lguest LGSTUB_SCENARIO=block_io LGSTUB_BLOCK_IMAGE="$orig" \
	LGSTUB_BLOCK_DATA="$data" LGSTUB_BLOCK_WRITES="$WRITES" \
	-- --block="$disk" 32 "$TINY_ELF"
guest_passed "reads at the start, middle and end, odd framing, seg_max \
segments, writes, flush, GET_ID unsupported"

expected_disk "$orig" "$data" "$want"
if cmp -s "$disk" "$want"; then
	ok "the file changed exactly where the guest wrote"
else
	not_ok "the file changed exactly where the guest wrote" \
		"cmp -l (offset, file, want), first lines:" \
		"$(cmp -l "$disk" "$want" 2>&1 | head -n 5)"
fi
if cmp -s "$orig" "$want"; then
	not_ok "the writes change the file" "the test's data is the disk's"
else
	ok "the writes change the file"
fi

# bad_request WHAT SCENARIO REGEX: the launcher stops on the request with
# the message, and the file is as it was, byte for byte.
bad_request()
{
	local what=$1 scenario=$2 regex=$3 before after

	cp "$orig" "$disk"
	before=$(sha256sum <"$disk")
	run_lguest LGSTUB_SCENARIO="$scenario" -- --block="$disk" 32 "$TINY_ELF"
	expect_stderr "$what" "$regex"
	after=$(sha256sum <"$disk")
	if [ "$before" = "$after" ] &&
	   [ "$(stat -c %s "$disk")" = $((SECTORS * 512)) ]; then
		ok "$what: the file is unchanged"
	else
		not_ok "$what: the file is unchanged" \
			"size $(stat -c %s "$disk"), want $((SECTORS * 512))" \
			"sha256 before $before" "sha256 after  $after"
	fi
}

DEV='^lguest: block 00:02\.0 queue requestq: bad driver:'
PAST='goes past the end of the disk \(2048 sectors\)'
PAST="$PAST"' \(virtio 1\.0 §5\.2\.6\.1\)$'
bad_request "a write reaching past the end" block_bad_write_past_end \
	"$DEV write of 1024 bytes at sector 2047 $PAST"
bad_request "a read reaching past the end" block_bad_read_past_end \
	"$DEV read of 1024 bytes at sector 2047 $PAST"
bad_request "a sector number that overflows when multiplied by 512" \
	block_bad_sector_overflow \
	"$DEV write of 512 bytes at sector 36028797018963969 $PAST"
bad_request "an indirect request, not negotiated" block_bad_indirect \
	"$DEV indirect descriptor, but VIRTIO_F_INDIRECT_DESC was not \
negotiated \(virtio 1\.0 §2\.4\.5\.3\.1\)$"

# A stream of requests broken by resets and a reboot
# (tests/scenarios/block.c's block_resets has the steps' syntax): writes
# waited for, flushes, batches of writes in flight when the device is
# reset (at once, or once it has used one or two of them and is at work
# on the rest), a batch in flight when the guest reboots, more writes
# after each, and a write past the end, on which the launcher stops.  A
# sector written by a write that was waited for must hold the new bytes;
# one written only in flight, the old or the new, whole, and what the
# guest read back after the reset; every other sector, the old.  The file
# must be exactly that: its size and sha256 are compared.
new=$TEST_TMP/new.img
head -c $((SECTORS * 512)) /dev/urandom >"$new"
run_batch()
{
	local from=$1 count=$2 n=$3 i list=

	for ((i = 0; i < count; i++)); do
		list+=${list:+,}$((from + i * n)):$n
	done
	echo "$list"
}
STEPS="W:0:1 W:7:3 F I0:100:2,110:1,r50:4,120:8,130:1 W:140:2 F"
STEPS+=" I1:$(run_batch 600 32 4) W:130:1 W:260:1"
STEPS+=" B1:$(run_batch 900 16 4)"
STEPS+=" W:400:2 I2:500:8,508:8,r0:8,516:8,524:8 F W:560:1 F P:2047:2"
cp "$orig" "$disk"
run_lguest LGSTUB_SCENARIO=block_resets LGSTUB_BLOCK_IMAGE="$orig" \
	LGSTUB_BLOCK_NEW="$new" LGSTUB_BLOCK_STEPS="$STEPS" \
	-- --block="$disk" 32 "$TINY_ELF"
what="resets and a reboot mid-stream, then a write past the end"
if grep -q '^not ok' "$guest_tap" || ! grep -q '^# boot 2$' "$guest_tap" ||
   ! grep -q '^# step P:2047:2$' "$guest_tap"; then
	not_ok "$what: every step taken, the launcher stops on the last" \
		"want two boots, every step taken, no check failed:" \
		"$(grep -e '^not ok' -e '^# step' -e '^# boot' "$guest_tap" |
			tail -n 12)"
	run_diagnostics
else
	expect_stderr "$what: every step taken, the launcher stops on the last" \
		"$DEV write of 1024 bytes at sector 2047 $PAST"
fi

# sector FILE S: sector S of FILE, in hex.
sector()
{
	od -An -tx1 -v -j $(($2 * 512)) -N 512 "$1" | tr -d ' \n'
}

# The file as it must be: the old, the new where a write was waited for,
# and, where one was in flight, whichever of the two the file has, if
# it is either, and the guest read the same.
cp "$orig" "$want"
declare -A waited=()
why=()
landed=0 inflight=0
for step in $STEPS; do
	[ "${step:0:1}" = W ] || continue
	IFS=: read -r _ s n <<<"$step"
	for ((i = s; i < s + n; i++)); do
		waited[$i]=1
	done
	dd if="$new" of="$want" bs=512 skip="$s" seek="$s" count="$n" \
		conv=notrunc status=none
done
for step in $STEPS; do
	case ${step:0:1} in I | B) ;; *) continue ;; esac
	IFS=, read -ra items <<<"${step#*:}"
	for item in "${items[@]}"; do
		[ "${item:0:1}" != r ] || continue
		IFS=: read -r s n <<<"$item"
		for ((i = s; i < s + n; i++)); do
			[ -z "${waited[$i]:-}" ] || continue
			inflight=$((inflight + 1))
			got=$(sector "$disk" "$i")
			if [ "$got" = "$(sector "$new" "$i")" ]; then
				is=new
				landed=$((landed + 1))
				dd if="$new" of="$want" bs=512 skip="$i" \
					seek="$i" count=1 conv=notrunc status=none
			elif [ "$got" = "$(sector "$orig" "$i")" ]; then
				is=old
			else
				is=neither
				why+=("sector $i (written in flight) is neither the old nor the new")
			fi
			grep -qx "# in flight: sector $i: $is" "$guest_tap" ||
				why+=("sector $i is $is in the file, not what the guest read back")
		done
	done
done
echo "# block: $landed of the $inflight sectors written in flight landed"
size=$(stat -c %s "$disk")
[ "$size" = $((SECTORS * 512)) ] ||
	why+=("the file is $size bytes, not $((SECTORS * 512))")
[ "$(sha256sum <"$disk")" = "$(sha256sum <"$want")" ] ||
	why+=("sha256 differs from the file as it must be; cmp -l, first lines:" \
		"$(cmp -l "$disk" "$want" 2>&1 | head -n 5)")
if [ ${#why[@]} = 0 ]; then
	ok "$what: the file changed only where writes landed (size, sha256)"
else
	not_ok "$what: the file changed only where writes landed (size, sha256)" \
		"${why[@]}"
fi
