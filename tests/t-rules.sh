#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# t-rules.sh: every rule a virtio driver must follow, broken once.
#
# Each scenario of tests/scenarios/rules-*.c is a driver that does all
# right up to one step and gets that step wrong; the launcher must stop
# it there with exit status 1 and one line on stderr naming the device,
# its PCI address, the queue if there is one, what was wrong and the
# section of virtio 1.0 it breaks:
#
#   lguest: rng 00:02.0 queue requestq: bad driver: descriptor chain loops
#   (more than 4 descriptors in a table of 4) (virtio 1.0 §2.4.5.2)
#
# A rule broken in a register access is caught as the guest's instruction
# traps, and the line ends with " at guest eip 0x..."; a rule broken in a
# ring is caught by the queue's service task as it takes the buffer, which
# knows no EIP, and the launcher ends with it.
#
# tests/RULES.md is the table of which case answers which of the original
# launcher's checks; the last cases here check that table against the
# tests that exist.

. "$(dirname "$0")/lib.sh"

require_built || exit 0

# A disk for the block device: 1024 sectors of zeros.
disk=$TEST_TMP/disk.img
head -c $((1024 * 512)) /dev/zero >"$disk"

# The network device needs a tap device, which we make in a network
# namespace of our own, so that nothing here touches this machine's
# interfaces.  Without one, the cases that need it are skipped.
NS=lgr$$
NET_IP=192.168.19.1
no_net="no network namespace with a tap device here"
if ! command -v ip >/dev/null; then
	no_net="no ip(8) for a network namespace"
elif ! { exec 4<>/dev/net/tun; } 2>/dev/null; then
	no_net="cannot open /dev/net/tun for a tap device"
else
	exec 4>&-
	at_exit 'ip netns del "$NS" 2>/dev/null'
	ip netns add "$NS" 2>/dev/null && no_net=
fi

# guest DEVICE SCENARIO: run the launcher with DEVICE (console, rng,
# block or net) after the console, the guest playing SCENARIO.  Sets
# $slot to the device's PCI slot, and what run_lguest sets.
guest()
{
	local args

	case $1 in
	console) args=(32 "$TINY_ELF") slot=01 ;;
	rng) args=(--rng 32 "$TINY_ELF") slot=02 ;;
	block) args=(--block="$disk" 32 "$TINY_ELF") slot=02 ;;
	net) args=(--tunnet=$NET_IP 32 "$TINY_ELF") slot=02 ;;
	esac
	if [ "$1" = net ]; then
		lguest_command LGSTUB_SCENARIO="$2" -- "${args[@]}"
		lguest_cmd=(ip netns exec "$NS" "${lguest_cmd[@]}")
		run_lguest_cmd
	else
		run_lguest LGSTUB_SCENARIO="$2" -- "${args[@]}"
	fi
}

# literal TEXT: an extended regular expression matching TEXT and nothing
# else, but that @X@ stands for any hexadecimal digits, and "a 8-bit" may
# read "an 8-bit".
literal()
{
	sed -e 's/[][\.*^$+?(){}|]/\\&/g' -e 's/@X@/[0-9a-f]*/g' \
		-e 's/ a 8-bit/ an? 8-bit/g' <<<"$1"
}

# one_line WHAT REGEX: the last run ended with status 1 and stderr is
# exactly one line, matching REGEX.
one_line()
{
	local lines

	lines=$(printf '%s' "$stderr" | grep -c '')
	if [ "$lines" -gt 1 ]; then
		not_ok "$1" "want one line on stderr, got $lines"
		run_diagnostics
		return
	fi
	expect_stderr "$1" "$2"
}

# stop HOW SCENARIO DEVICE QUEUE MESSAGE: SCENARIO, run with DEVICE,
# stops the launcher with the line
#   lguest: DEVICE 00:SS.0[ queue QUEUE]: bad driver: MESSAGE
# (QUEUE "-" for none), caught as the guest traps (HOW "trap": the line
# goes on " at guest eip 0x...") or by a service task (HOW "task").
stop()
{
	local how=$1 scenario=$2 device=$3 queue=$4 message=$5 want

	if [ "$device" = net ] && [ -n "$no_net" ]; then
		skip "$scenario: $message" "$no_net"
		return
	fi
	guest "$device" "$scenario"
	want="^lguest: $device 00:$slot\\.0"
	[ "$queue" = - ] || want+=" queue $queue"
	want+=": bad driver: $(literal "$message")"
	if [ "$how" = trap ]; then
		want+=" at guest eip 0x[0-9a-f]+\$"
	else
		want+="\$"
	fi
	one_line "$scenario: $message" "$want"
}

trap_stop()
{
	stop trap "$@"
}

task_stop()
{
	stop task "$@"
}

#
# device_status (§2.1, §3.1.1)
#
trap_stop rule_status_clear_bit console - \
	"device_status 0x3 -> 0x1 clears a bit (virtio 1.0 §2.1.1)"
trap_stop rule_status_unknown_bit console - \
	"device_status 0x1 -> 0x21 sets bits out of the initialization sequence (virtio 1.0 §3.1.1)"
trap_stop rule_status_two_steps console - \
	"device_status 0 -> 0x3 sets bits out of the initialization sequence (virtio 1.0 §3.1.1)"
trap_stop rule_status_skip_acknowledge console - \
	"device_status 0 -> 0x2 skips or repeats a step of the initialization sequence (virtio 1.0 §3.1.1)"
trap_stop rule_status_skip_features_ok console - \
	"device_status 0x3 -> 0x7 skips or repeats a step of the initialization sequence (virtio 1.0 §3.1.1)"
trap_stop rule_status_driver_ok_unread console - \
	"DRIVER_OK without re-reading device_status after FEATURES_OK (virtio 1.0 §3.1.1)"

#
# Feature negotiation (§2.2, §3.1.1)
#
trap_stop rule_feature_read_before_driver console - \
	"read of device_feature before the driver set DRIVER (virtio 1.0 §3.1.1)"
trap_stop rule_feature_write_before_driver console - \
	"write of driver_feature_select before the driver set DRIVER (virtio 1.0 §3.1.1)"
trap_stop rule_feature_write_after_features_ok console - \
	"write of driver_feature_select after FEATURES_OK: the features are settled (virtio 1.0 §3.1.1)"
trap_stop rule_feature_select_above_1 console - \
	"driver_feature_select 2: feature bits go up to 63 (virtio 1.0 §4.1.4.3)"
trap_stop rule_feature_over_accept console - \
	"driver accepted features 0x6, but the device offered only 0x100000004 (virtio 1.0 §2.2.1)"
trap_stop rule_net_feature_dependency net - \
	"driver accepted VIRTIO_NET_F_GUEST_TSO4 without GUEST_CSUM, which 5.1.3.1 says it requires (virtio 1.0 §2.2.1)"

#
# Access widths (§4.1.3.1)
#
trap_stop rule_width_write32 console - \
	"16-bit write of device_feature_select, which is 32 bits wide (virtio 1.0 §4.1.3.1)"
trap_stop rule_width_emerg_wr console - \
	"8-bit write of emerg_wr, which is 32 bits wide (virtio 1.0 §4.1.3.1)"
trap_stop rule_width_write16 console - \
	"32-bit write of queue_select, which is 16 bits wide (virtio 1.0 §4.1.3.1)"
trap_stop rule_width_write8 console - \
	"16-bit write of device_status, which is 8 bits wide (virtio 1.0 §4.1.3.1)"
trap_stop rule_width_read_isr console - \
	"16-bit read of ISR status, which is 8 bits wide (virtio 1.0 §4.1.3.1)"
trap_stop rule_width_read32 console - \
	"16-bit read of device_feature, which is 32 bits wide (virtio 1.0 §4.1.3.1)"
trap_stop rule_width_read16 console - \
	"8-bit read of num_queues, which is 16 bits wide (virtio 1.0 §4.1.3.1)"
trap_stop rule_width_read8 console - \
	"16-bit read of config_generation, which is 8 bits wide (virtio 1.0 §4.1.3.1)"
trap_stop rule_width_read_queue_field console - \
	"32-bit read of queue_size, which is 16 bits wide (virtio 1.0 §4.1.3.1)"
trap_stop rule_width_read_inside_field console - \
	"8-bit read at BAR0 offset 5, inside device_feature (virtio 1.0 §4.1.3.1)"
trap_stop rule_width_write_inside_field console - \
	"8-bit write at BAR0 offset 25, inside queue_size (virtio 1.0 §4.1.3.1)"
trap_stop rule_width_config_misaligned console - \
	"misaligned 4-byte read at device configuration offset 2 (virtio 1.0 §4.1.3.1)"

#
# Registers the driver may only read, or not touch (§4.1.4)
#
trap_stop rule_write_device_feature console - \
	"write of 0xffffffff to device_feature, which is read-only (virtio 1.0 §4.1.4.3.2)"
trap_stop rule_write_num_queues console - \
	"write of 0x4 to num_queues, which is read-only (virtio 1.0 §4.1.4.3.2)"
trap_stop rule_write_config_generation console - \
	"write of 0x1 to config_generation, which is read-only (virtio 1.0 §4.1.4.3.2)"
trap_stop rule_write_queue_notify_off console - \
	"write of 0x1 to queue_notify_off, which is read-only (virtio 1.0 §4.1.4.3.2)"
trap_stop rule_msix_config_write console - \
	"write of vector 1 to msix_config: the device has no MSI-X capability (virtio 1.0 §4.1.5.1.2.2)"
trap_stop rule_queue_msix_vector_write console - \
	"write of vector 1 to queue_msix_vector: the device has no MSI-X capability (virtio 1.0 §4.1.5.1.2.2)"
trap_stop rule_isr_write console - \
	"write of 0x1 to ISR status, which only the device writes (virtio 1.0 §4.1.4.5)"
trap_stop rule_padding_read console - \
	"read of BAR0 offset 59, padding between the virtio structures (virtio 1.0 §4.1.4)"
trap_stop rule_padding_write console - \
	"write of 0x1 to BAR0 offset 59, padding between the virtio structures (virtio 1.0 §4.1.4)"
trap_stop rule_read_past_config console - \
	"32-bit read at BAR0 offset 72, past the registers (72 bytes) (virtio 1.0 §4.1.4.6)"
trap_stop rule_read_past_registers rng - \
	"8-bit read at BAR0 offset 63, past the registers (60 bytes) (virtio 1.0 §4.1.4.6)"
trap_stop rule_write_past_registers console - \
	"32-bit write at BAR0 offset 72, past the registers (72 bytes) (virtio 1.0 §4.1.4)"
trap_stop rule_config_read_before_driver console - \
	"read of device configuration before the driver set DRIVER (virtio 1.0 §3.1.1)"
trap_stop rule_queue_read_before_driver console - \
	"read of queue_size before the driver set DRIVER (virtio 1.0 §3.1.1)"
trap_stop rule_config_write console - \
	"32-bit write of 0x1 to device configuration offset 4, which the driver may not write (virtio 1.0 §3.1.1)"

#
# Queue set-up (§4.1.5.1.3, §2.4)
#
trap_stop rule_queue_size_not_power_of_2 console receiveq \
	"queue_size 100 is not a power of 2 (virtio 1.0 §4.1.4.3.2)"
trap_stop rule_queue_size_zero console receiveq \
	"queue_size 0 is not a power of 2 (virtio 1.0 §4.1.4.3.2)"
trap_stop rule_queue_size_above_max console receiveq \
	"queue_size 512 is above the device's 256: a driver may only reduce it (virtio 1.0 §4.1.4.3)"
trap_stop rule_queue_size_while_enabled console receiveq \
	"queue_size changed while the queue is enabled (virtio 1.0 §4.1.4.3.2)"
trap_stop rule_queue_enable_zero console receiveq \
	"queue_enable written with 0: only 1 may be written (virtio 1.0 §4.1.4.3.2)"
trap_stop rule_queue_enable_after_driver_ok console transmitq \
	"queue enabled after DRIVER_OK (virtio 1.0 §3.1.1)"
trap_stop rule_queue_enable_before_features_ok console receiveq \
	"queue enabled before FEATURES_OK (virtio 1.0 §3.1.1)"
trap_stop rule_queue_addr_while_enabled console receiveq \
	"queue_desc (low) written while the queue is enabled (virtio 1.0 §4.1.4.3.2)"
trap_stop rule_queue_addr_before_features_ok console receiveq \
	"queue_desc (low) written before FEATURES_OK (virtio 1.0 §3.1.1)"
trap_stop rule_queue_addr_unread_features_ok console receiveq \
	"queue_desc (low) written before re-reading device_status after FEATURES_OK (virtio 1.0 §3.1.1)"
trap_stop rule_queue_no_such_queue console - \
	"write of queue_size while queue_select is 7, which names no queue (its queue_size reads 0) (virtio 1.0 §4.1.5.1.3)"
trap_stop rule_queue_64bit_address console receiveq \
	"64-bit queue address (desc 0x1@X@000, avail 0x@X@000, used 0x@X@000): lguest guest memory is below 4 GiB (virtio 1.0 §2.4)"
trap_stop rule_queue_misaligned_desc console receiveq \
	"misaligned queue (desc 0x@X@008, avail 0x@X@000, used 0x@X@000: they need 16, 2 and 4) (virtio 1.0 §2.4.1)"
trap_stop rule_queue_misaligned_avail console receiveq \
	"misaligned queue (desc 0x@X@000, avail 0x@X@001, used 0x@X@000: they need 16, 2 and 4) (virtio 1.0 §2.4.1)"
trap_stop rule_queue_misaligned_used console receiveq \
	"misaligned queue (desc 0x@X@000, avail 0x@X@000, used 0x@X@002: they need 16, 2 and 4) (virtio 1.0 §2.4.1)"
trap_stop rule_queue_used_flags console receiveq \
	"used ring flags are 0x1 when the queue is enabled: the driver must zero them (virtio 1.0 §2.4.9.1)"
trap_stop rule_queue_desc_outside_ram console receiveq \
	"descriptor table at 0x1fff800 (4096 bytes) is not in guest RAM (32 MiB) (virtio 1.0 §2.4)"
trap_stop rule_queue_used_outside_ram console receiveq \
	"used ring at 0x1fffff8 (2054 bytes) is not in guest RAM (32 MiB) (virtio 1.0 §2.4)"

#
# Notification (§4.1.5.2, §3.1.1)
#
trap_stop rule_notify_no_such_queue console - \
	"notification for queue 2; the device has 2 (virtio 1.0 §4.1.5.2)"
trap_stop rule_notify_before_driver_ok console receiveq \
	"notified before DRIVER_OK (virtio 1.0 §3.1.1)"
trap_stop rule_notify_read_before_driver_ok console - \
	"read of the queue notify register before DRIVER_OK (virtio 1.0 §3.1.1)"

#
# The PCI configuration access window (§4.1.4.7)
#
WINDOW="not an aligned 1, 2 or 4 bytes inside BAR0's 72 (virtio 1.0 §4.1.4.7.2)"
trap_stop rule_window_bad_bar console - \
	"read through the PCI_CFG window with bar 1, offset 18, length 2: $WINDOW"
trap_stop rule_window_past_registers console - \
	"read through the PCI_CFG window with bar 0, offset 72, length 4: $WINDOW"
trap_stop rule_window_bad_length console - \
	"read through the PCI_CFG window with bar 0, offset 16, length 3: $WINDOW"
trap_stop rule_window_misaligned console - \
	"read through the PCI_CFG window with bar 0, offset 18, length 4: $WINDOW"
trap_stop rule_window_write console - \
	"write through the PCI_CFG window with bar 0, offset 72, length 4: $WINDOW"

#
# The descriptor table, the available ring, indirect descriptors (§2.4)
#
task_stop rule_ring_buffer_outside_ram rng requestq \
	"buffer at 0x1fffff8 (16 bytes) is not in guest RAM (32 MiB) (virtio 1.0 §2.4.5)"
task_stop rule_ring_next_past_end rng requestq \
	"descriptor 0 chains to 7, past the end of a table of 4 (virtio 1.0 §2.4.5)"
task_stop rule_ring_loop rng requestq \
	"descriptor chain loops (more than 4 descriptors in a table of 4) (virtio 1.0 §2.4.5.2)"
task_stop rule_ring_chain_4g rng requestq \
	"descriptor chain is over 2^32 bytes long (virtio 1.0 §2.4.5.2)"
task_stop rule_ring_out_after_in block requestq \
	"device-readable descriptor 2 after a device-writable one (virtio 1.0 §2.4.4.2)"
task_stop rule_ring_avail_flags rng requestq \
	"available ring flags are 0x2: without VIRTIO_F_EVENT_IDX only 0 or 1 are allowed (virtio 1.0 §2.4.7.1)"
task_stop rule_ring_avail_idx_jump rng requestq \
	"available index jumped from 0 to 5, past the 4 entries of the ring (virtio 1.0 §2.4.6)"
task_stop rule_ring_head_past_end rng requestq \
	"available ring entry 0 names descriptor 4 of 4 (virtio 1.0 §2.4.6)"
task_stop rule_ring_indirect_not_negotiated console transmitq \
	"indirect descriptor, but VIRTIO_F_INDIRECT_DESC was not negotiated (virtio 1.0 §2.4.5.3.1)"
task_stop rule_ring_nested_indirect net transmitq \
	"indirect descriptor inside an indirect table (virtio 1.0 §2.4.5.3.1)"
task_stop rule_ring_indirect_and_next net transmitq \
	"descriptor 0 has both INDIRECT and NEXT set (virtio 1.0 §2.4.5.3.1)"
task_stop rule_ring_indirect_size net transmitq \
	"indirect table of 24 bytes is not a whole number of 16-byte descriptors (virtio 1.0 §2.4.5.3)"
task_stop rule_ring_indirect_empty net transmitq \
	"indirect table of 0 bytes is not a whole number of 16-byte descriptors (virtio 1.0 §2.4.5.3)"
task_stop rule_ring_indirect_too_long net transmitq \
	"indirect table of 8 descriptors is longer than the queue (4) (virtio 1.0 §2.4.5.3.1)"
task_stop rule_ring_indirect_outside_ram net transmitq \
	"indirect table at 0x1fffff0 (32 bytes) is not in guest RAM (32 MiB) (virtio 1.0 §2.4.5.3)"
task_stop rule_ring_chain_longer_than_queue net transmitq \
	"descriptor chain is longer than the queue (4) (virtio 1.0 §2.4.5.3.1)"

#
# Buffers facing the wrong way, and block requests (§5)
#
task_stop rule_console_rx_readable console receiveq \
	"device-readable buffer in a queue the device writes to (virtio 1.0 §5.3.6.1)"
task_stop rule_console_tx_writable console transmitq \
	"device-writable buffer in a queue the device reads from (virtio 1.0 §5.3.6.1)"
task_stop rule_net_tx_writable net transmitq \
	"device-writable buffer in a queue the device reads from (virtio 1.0 §5.1.6)"
task_stop rule_net_rx_readable net receiveq \
	"device-readable buffer in a queue the device writes to (virtio 1.0 §5.1.6)"
task_stop rule_rng_readable rng requestq \
	"device-readable buffer in a queue the device writes to (virtio 1.0 §5.4.6.1)"
task_stop rule_block_short_header block requestq \
	"request header shorter than its 16 bytes (virtio 1.0 §5.2.6)"
task_stop rule_block_no_status block requestq \
	"request has no device-writable byte for its status (virtio 1.0 §5.2.6)"
task_stop rule_block_empty_status block requestq \
	"request has no device-writable byte for its status (virtio 1.0 §5.2.6)"
task_stop rule_block_flush_sector block requestq \
	"flush request with sector 5, not 0 (virtio 1.0 §5.2.6.1)"

#
# Besides "bad driver": a trap the launcher cannot use, a driver that
# gives up, vector registers with no MSI-X, and a configuration space
# with no window in it.
#
guest console rule_unknown_trap
one_line "rule_unknown_trap: trap 6 from /dev/lguest stops the launcher" \
	"^$(literal "lguest: /dev/lguest reported trap 6 (address 0), which the launcher does not handle")\$"

FAILED="lguest: rng 00:02.0: the driver gave up on the device (FAILED; status 0x8f)"
guest rng rule_failed_reported_once
guest_passed "rule_failed_reported_once: FAILED taken, the device still serves, and serves again after a reset"
if [ "$(grep -cxF -- "$FAILED" <<<"$stderr")" = 1 ]; then
	ok "rule_failed_reported_once: said once: $FAILED"
else
	not_ok "rule_failed_reported_once: said once: $FAILED" \
		"stderr:" "$stderr"
fi

guest rng rule_msix_no_vector
guest_passed "rule_msix_no_vector: no MSI-X: both vector registers read NO_VECTOR, take it, and the device works"

guest console rule_host_bridge_config
guest_passed "rule_host_bridge_config: the host bridge's configuration space reads whole"

#
# The table, tests/RULES.md.
#
table=tests/RULES.md

# The cells of the table's rows: "| a | b |" gives "a<TAB>b".
rows()
{
	sed -n 's/^| *\(.*[^ ]\) *|$/\1/p' "$table" | grep -v '^-' |
		sed 's/ *| */\t/g'
}

# Each of the original's 57 checks has a row, numbered as in
# /work/shared/reference/rules.md.
missing=()
for n in $(seq 1 57); do
	rows | cut -f1 | grep -qx "$n" || missing+=("$n")
done
if [ ${#missing[@]} = 0 ]; then
	ok "RULES.md has a row for each of the original's 57 checks"
else
	not_ok "RULES.md has a row for each of the original's 57 checks" \
		"no row for: ${missing[*]}"
fi

# Every row names the test cases that answer it, as "t-FILE.sh:CASE", or
# says why there is none ("no test: ..."); every case named is there,
# in that file.
bad=()
while IFS=$'\t' read -r id rest; do
	refs=$(grep -o 't-[a-z0-9-]*\.sh:[A-Za-z0-9_]*' <<<"$rest")
	if [ -z "$refs" ]; then
		grep -q 'no test:' <<<"$rest" || bad+=("row $id names no test")
		continue
	fi
	for r in $refs; do
		f=tests/${r%%:*}
		[ -f "$f" ] && grep -qw -- "${r#*:}" "$f" ||
			bad+=("row $id: $r is not there")
	done
done < <(rows | grep -E $'^([0-9]+|[A-Z][0-9]+)\t')
if [ ${#bad[@]} = 0 ]; then
	ok "every row of RULES.md names test cases that exist"
else
	not_ok "every row of RULES.md names test cases that exist" "${bad[@]}"
fi

# Every rule scenario is in the table and run above, and everything run
# above is a scenario.
scenarios=$(grep -ho 'SCENARIO(rule_[a-z0-9_]*)' tests/scenarios/rules-*.c |
	sed 's/SCENARIO(\(.*\))/\1/')
self=$(grep -ow 'rule_[a-z0-9_]\+' tests/t-rules.sh | sort -u)
bad=()
for s in $scenarios; do
	grep -qw -- "t-rules.sh:$s" "$table" || bad+=("$s is not in RULES.md")
	grep -qx -- "$s" <<<"$self" || bad+=("$s is not run by t-rules.sh")
done
for s in $self; do
	grep -qx -- "$s" <<<"$scenarios" || bad+=("t-rules.sh runs $s, which no rules-*.c has")
done
if [ ${#bad[@]} = 0 ]; then
	ok "every rule scenario is in RULES.md and run here"
else
	not_ok "every rule scenario is in RULES.md and run here" "${bad[@]}"
fi
