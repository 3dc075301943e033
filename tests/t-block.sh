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
