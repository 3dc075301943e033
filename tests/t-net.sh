#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# t-net.sh: the network device over a real tap device, end to end.
#
# The launcher makes its tap device in whatever network namespace it runs
# in, so we give it one of its own, lgt<pid>, and nothing we do touches
# this machine's interfaces.  The guest's driver (tests/scenarios/net.c)
# finds the device and its MAC, then talks IPv4 to the host through it:
# ARP, pings (one through an indirect descriptor), a datagram to a closed
# port, a datagram from us.  While it runs we look at the tap device from
# the host's side: its address, its state, what its neighbour table
# learnt; afterwards, what the host's IPv4 counters saw.  A tap device
# can also join a bridge instead, if there is one.  Last, what no driver
# may do with this device: buffers the wrong way round on either queue,
# offload features without those they depend on.

. "$(dirname "$0")/lib.sh"

require_built || exit 0

NS=lgt$$
HOST_IP=192.168.19.1
GUEST_IP=192.168.19.2
MAC=52:54:00:12:34:56
PORT=7777
DATAGRAM="a datagram from the host, $$ $RANDOM"

CASES=(
	"config: the MAC given is in bytes 0-5, VIRTIO_NET_F_MAC offered"
	"config: without a MAC, VIRTIO_NET_F_MAC is not offered"
	"config: told another MAC, the guest's check fails"
	"while the guest runs: one tap device in the namespace"
	"while the guest runs: the tap device has address $HOST_IP"
	"while the guest runs: the tap device is up"
	"while the guest runs: the host learnt the guest's MAC by ARP"
	"traffic: ARP, pings (indirect, scattered, full-sized), UDP both ways"
	"traffic: the host answered 3 pings and 1 closed port, sent 1 datagram"
	"traffic: the tap device goes with the launcher"
	"traffic with checksum offload negotiated"
	"bridge: the tap device joins the bridge, with no address, up"
	"bridge: the guest ran"
	"a missing bridge stops the launcher: one line naming it"
	"a missing bridge: no tap device is left behind"
	"a device-readable buffer on receiveq stops the launcher"
	"a device-writable buffer on transmitq stops the launcher"
	"GUEST_TSO4 without GUEST_CSUM stops the launcher at FEATURES_OK"
	"HOST_ECN without HOST_TSO4 or HOST_TSO6 stops the launcher"
)

# Without /dev/net/tun there is no tap device: nothing here can run.
# (Only a character device is opened: "<>" would create a file.)
if ! [ -c /dev/net/tun ] || ! { exec 4<>/dev/net/tun; } 2>/dev/null; then
	for c in "${CASES[@]}"; do
		skip "$c" "cannot open /dev/net/tun for a tap device"
	done
	exit 0
fi
exec 4>&-

at_exit '[ -z "${lguest_pid:-}" ] || kill "$lguest_pid" 2>/dev/null'
at_exit 'ip netns del "$NS" 2>/dev/null'
if ! ip netns add "$NS"; then
	not_ok "a network namespace for the tap devices" \
		"ip netns add $NS failed"
	exit 0
fi
# IPv6 would have the host chatter on the link; the guest speaks IPv4.
for f in default all; do
	ip netns exec "$NS" sh -c \
		"echo 1 >/proc/sys/net/ipv6/conf/$f/disable_ipv6" 2>/dev/null
done

# in_ns [NAME=value...] -- [LAUNCHER ARGUMENTS...]: the launcher under
# the stand-in, inside the namespace, into $lguest_cmd.
in_ns()
{
	lguest_command "$@"
	lguest_cmd=(ip netns exec "$NS" "${lguest_cmd[@]}")
}

# The tap devices in the namespace, one name a line.
taps()
{
	ip -n "$NS" -o link show | awk -F': ' '$2 ~ /^tap[0-9]+(@|$)/ {
		sub(/@.*/, "", $2); print $2 }'
}

# snmp PROTO FIELD: the namespace's IPv4 counter (/proc/net/snmp).
snmp()
{
	ip netns exec "$NS" cat /proc/net/snmp | awk -v p="$1:" -v f="$2" '
		$1 == p && !names { for (i = 2; i <= NF; i++) col[$i] = i;
				    names = 1; next }
		$1 == p && names { print $col[f]; exit }'
}

# The guest's check of the device configuration.
in_ns LGSTUB_SCENARIO=net_config LGSTUB_NET_MAC=$MAC \
	-- --tunnet=$HOST_IP:$MAC 32 "$TINY_ELF"
run_lguest_cmd
guest_passed "${CASES[0]}"

in_ns LGSTUB_SCENARIO=net_config -- --tunnet=$HOST_IP 32 "$TINY_ELF"
run_lguest_cmd
guest_passed "${CASES[1]}"

in_ns LGSTUB_SCENARIO=net_config LGSTUB_NET_MAC=52:54:00:65:43:21 \
	-- --tunnet=$HOST_IP:$MAC 32 "$TINY_ELF"
run_lguest_cmd
expect_stderr "${CASES[2]}" "^lguest: guest: FAILED: config bytes 0-5, \
mac: $MAC, want 52:54:00:65:43:21 "

# traffic NAME=value...: the guest's traffic scenario with the settings
# given, waiting at "# up" for $TEST_TMP/go.  Leaves it running.
start_traffic()
{
	rm -f "$TEST_TMP/go"
	in_ns LGSTUB_SCENARIO=net_traffic LGSTUB_NET_MAC=$MAC \
		LGSTUB_NET_HOST_IP=$HOST_IP LGSTUB_NET_GUEST_IP=$GUEST_IP \
		LGSTUB_NET_GO="$TEST_TMP/go" LGSTUB_NET_PORT=$PORT \
		LGSTUB_NET_DATAGRAM="$DATAGRAM" "$@" \
		-- --tunnet=$HOST_IP:$MAC 32 "$TINY_ELF"
	start_lguest_cmd
}

# The datagram, from the host's side of the link to the guest's address.
send_datagram()
{
	ip netns exec "$NS" bash -c 'printf %s "$1" >"/dev/udp/$2/$3"' _ \
		"$DATAGRAM" "$GUEST_IP" "$PORT"
}

start_traffic
if wait_guest_note up; then
	tap=$(taps)
	if [ "$tap" = tap0 ]; then
		ok "${CASES[3]}"
	else
		not_ok "${CASES[3]}" "want tap0, got: ${tap:-none}" \
			"$(ip -n "$NS" link show)"
	fi
	addr=$(ip -n "$NS" -o -4 addr show dev "${tap:-tap0}" 2>&1)
	if grep -q " inet $HOST_IP/" <<<"$addr"; then
		ok "${CASES[4]}"
	else
		not_ok "${CASES[4]}" "ip -o -4 addr show dev ${tap:-tap0}:" \
			"$addr"
	fi
	link=$(ip -n "$NS" -o link show dev "${tap:-tap0}" 2>&1)
	if grep -qE '<([^>]*,)?UP[,>]' <<<"$link"; then
		ok "${CASES[5]}"
	else
		not_ok "${CASES[5]}" "ip -o link show dev ${tap:-tap0}:" "$link"
	fi
else
	for c in 3 4 5; do
		not_ok "${CASES[$c]}" "the guest never came up"
	done
fi
touch "$TEST_TMP/go"

if wait_guest_note "waiting for a datagram"; then
	neigh=$(ip -n "$NS" neigh show "$GUEST_IP" 2>&1)
	if grep -q "lladdr $MAC" <<<"$neigh"; then
		ok "${CASES[6]}"
	else
		not_ok "${CASES[6]}" "ip neigh show $GUEST_IP:" "$neigh"
	fi
	send_datagram
else
	not_ok "${CASES[6]}" \
		"the guest never got as far as waiting for a datagram"
fi
finish_lguest
guest_passed "${CASES[7]}"

got="$(snmp Icmp InEchos) $(snmp Icmp OutEchoReps) \
$(snmp Icmp OutDestUnreachs) $(snmp Udp NoPorts) $(snmp Udp OutDatagrams)"
if [ "$got" = "3 3 1 1 1" ]; then
	ok "${CASES[8]}"
else
	not_ok "${CASES[8]}" "Icmp InEchos, OutEchoReps, OutDestUnreachs;" \
		"Udp NoPorts, OutDatagrams: got $got, want 3 3 1 1 1"
fi

tap=$(taps)
if [ -z "$tap" ]; then
	ok "${CASES[9]}"
else
	not_ok "${CASES[9]}" "still there: $tap"
fi

# The same with checksum offload: the host may hand over its datagram with
# its checksum to finish (NEEDS_CSUM), which the guest completes.
start_traffic LGSTUB_NET_CSUM=1
wait_guest_note up
touch "$TEST_TMP/go"
wait_guest_note "waiting for a datagram" && send_datagram
finish_lguest
guest_passed "${CASES[10]}"

# A bridge in the namespace, and the tap device in it.
ip -n "$NS" link add br0 type bridge && ip -n "$NS" link set br0 up
rm -f "$TEST_TMP/go"
in_ns LGSTUB_SCENARIO=net_idle LGSTUB_NET_MAC=$MAC \
	LGSTUB_NET_GO="$TEST_TMP/go" -- --tunnet=bridge:br0:$MAC 32 "$TINY_ELF"
start_lguest_cmd
if wait_guest_note up; then
	tap=$(taps)
	members=$(ip -n "$NS" -o link show master br0 2>&1)
	addr=$(ip -n "$NS" -o addr show dev "${tap:-tap0}" 2>&1)
	link=$(ip -n "$NS" -o link show dev "${tap:-tap0}" 2>&1)
	if [ "$tap" = tap0 ] && grep -q "^[0-9]*: tap0[@:]" <<<"$members" &&
	   ! grep -q " inet " <<<"$addr" &&
	   grep -qE '<([^>]*,)?UP[,>]' <<<"$link"; then
		ok "${CASES[11]}"
	else
		not_ok "${CASES[11]}" "tap devices: ${tap:-none}" \
			"ip link show master br0:" "$members" \
			"ip addr show dev ${tap:-tap0}:" "$addr"
	fi
else
	not_ok "${CASES[11]}" "the guest never came up"
fi
touch "$TEST_TMP/go"
finish_lguest
guest_passed "${CASES[12]}"

in_ns LGSTUB_SCENARIO=net_idle -- --tunnet=bridge:nosuch 32 "$TINY_ELF"
run_lguest_cmd
one_line_error "${CASES[13]}" \
	'^lguest: cannot add tap0 to bridge nosuch: No such device$'
tap=$(taps)
if [ -z "$tap" ]; then
	ok "${CASES[14]}"
else
	not_ok "${CASES[14]}" "still there: $tap"
fi

DEV='^lguest: net 00:02\.0 queue'
in_ns LGSTUB_SCENARIO=net_bad_rx_readable -- --tunnet=$HOST_IP 32 "$TINY_ELF"
run_lguest_cmd
expect_stderr "${CASES[15]}" "$DEV receiveq: bad driver: device-readable \
buffer in a queue the device writes to \(virtio 1\.0 §5\.1\.6\)"
in_ns LGSTUB_SCENARIO=net_bad_tx_writable -- --tunnet=$HOST_IP 32 "$TINY_ELF"
run_lguest_cmd
expect_stderr "${CASES[16]}" "$DEV transmitq: bad driver: device-writable \
buffer in a queue the device reads from \(virtio 1\.0 §5\.1\.6\)"

# Features that need others (virtio 1.0 §5.1.3.1).
DEPS='^lguest: net 00:02\.0: bad driver: driver accepted VIRTIO_NET_F_'
in_ns LGSTUB_SCENARIO=net_bad_guest_tso4_alone \
	-- --tunnet=$HOST_IP 32 "$TINY_ELF"
run_lguest_cmd
expect_stderr "${CASES[17]}" "${DEPS}GUEST_TSO4 without GUEST_CSUM, which 5.1.3.1 says it requires \(virtio 1.0 §2.2.1\)"
in_ns LGSTUB_SCENARIO=net_bad_host_ecn_alone \
	-- --tunnet=$HOST_IP 32 "$TINY_ELF"
run_lguest_cmd
expect_stderr "${CASES[18]}" "${DEPS}HOST_ECN without HOST_TSO4 or HOST_TSO6, which 5.1.3.1 says it requires \(virtio 1.0 §2.2.1\)"
