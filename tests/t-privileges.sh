#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# t-privileges.sh: --chroot and --username.  After setting up, and before
# the guest runs, the launcher changes its root directory and becomes the
# user: uid, gid and supplementary groups, with no capabilities left.  Its
# queue tasks, started later, are the same.
#
# The guest (tests/scenarios/privileges.c) says "ready <pid>" on the
# console and waits for a key; meanwhile we read /proc/<pid>/ of the
# launcher and of its tasks.  We make a user of our own for this, with a
# primary group and two supplementary ones, and remove them at the end.
#
# The stand-in's guest reads /proc/self/maps as it starts, so the jail
# has a proc mounted in it, in a mount namespace of the launcher's own
# (unshare --mount-proc): nothing of it shows outside.  The jail is
# otherwise empty, and must stay so.

. "$(dirname "$0")/lib.sh"

require_built || exit 0

U=lgt$$
GP=${U}p
G1=${U}a
G2=${U}b

at_exit '[ -z "${lguest_pid:-}" ] || kill "$lguest_pid" 2>/dev/null'
at_exit 'userdel "$U" 2>/dev/null; for g in "$G1" "$G2" "$GP"; do
	groupdel "$g" 2>/dev/null; done'
if ! { groupadd "$GP" && groupadd "$G1" && groupadd "$G2" &&
       useradd -M -N -g "$GP" -G "$G1,$G2" -d /nonexistent \
	       -s /usr/sbin/nologin "$U"; } 2>"$TEST_TMP/useradd"; then
	not_ok "a user for the test, with supplementary groups" \
		"$(cat "$TEST_TMP/useradd")"
	exit 0
fi
uid=$(id -u "$U")
gid=$(id -g "$U")
# The groups the system gives the user: its primary group, both others.
groups=$(id -G "$U" | tr ' ' '\n' | sort -n | tr '\n' ' ')

jail=$(cd "$TEST_TMP" && pwd -P)/jail
mkdir -p "$jail/proc"

# field PID NAME: a line of /proc/PID/status, its words joined by spaces.
field()
{
	awk -v f="$2:" '$1 == f { $1 = ""; print substr($0, 2) }' \
		"/proc/$1/status" 2>/dev/null
}

# sorted_groups PID: its supplementary groups, in numerical order.
sorted_groups()
{
	field "$1" Groups | tr ' ' '\n' | grep . | sort -n | tr '\n' ' '
}

# The launcher's children: its queue tasks.
tasks()
{
	local s rest

	for s in /proc/[0-9]*/stat; do
		read -r rest <"$s" 2>/dev/null || continue
		# After "pid (comm) ": state, then the parent's pid.
		rest=${rest##*) }
		set -- $rest
		if [ "$2" = "$pid" ]; then
			s=${s#/proc/}
			echo "${s%/stat}"
		fi
	done
	return 0
}

# Whatever is in the jail but its proc mount point.
jail_contents()
{
	find "$jail" -mindepth 1 ! -path "$jail/proc" 2>&1
}

# start_held [LAUNCHER ARGUMENTS...]: the launcher, with the guest holding
# still, and $pid its process once it says it is ready.
start_held()
{
	lguest_command LGSTUB_SCENARIO=priv_hold -- "$@" 32 "$TINY_ELF"
	lguest_cmd=(unshare --mount-proc="$jail/proc" "${lguest_cmd[@]}")
	start_lguest_cmd
	pid=
	wait_output '^ready [0-9]+$' &&
		pid=$(awk '/^ready/ { print $2; exit }' "$TEST_TMP/stdout")
	[ -n "$pid" ] && [ -d "/proc/$pid" ]
}

release()
{
	type_keys 0 x
	finish_lguest
}

# expect WHAT GOT WANT: a case, ok when GOT is WANT.
expect()
{
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1" "got:  $2" "want: $3"
	fi
}

# The launcher and its tasks, as /proc says, one line each.
creds()
{
	local p

	for p in "$pid" $(tasks); do
		echo "root $(readlink "/proc/$p/root") uid $(field "$p" Uid)" \
			"gid $(field "$p" Gid) groups $(sorted_groups "$p")"
	done
}

W="--chroot and --username"
if start_held --chroot="$jail" --username="$U"; then
	expect "$W: the root directory is the jail" \
		"$(readlink "/proc/$pid/root") $(readlink "/proc/$pid/cwd")" \
		"$jail $jail"
	expect "$W: real, effective, saved and filesystem uid and gid" \
		"$(field "$pid" Uid) / $(field "$pid" Gid)" \
		"$uid $uid $uid $uid / $gid $gid $gid $gid"
	expect "$W: the user's groups, no others" "$(sorted_groups "$pid")" \
		"$groups"
	expect "$W: no capabilities left" \
		"$(field "$pid" CapPrm) $(field "$pid" CapEff)" \
		"0000000000000000 0000000000000000"
	all=$(creds)
	n=$(grep -c . <<<"$all")
	if [ "$n" -ge 3 ] && [ "$(sort -u <<<"$all" | grep -c .)" = 1 ]; then
		ok "$W: the queue tasks are the same as the launcher"
	else
		not_ok "$W: the queue tasks are the same as the launcher" \
			"launcher $pid, tasks: $(tasks | tr '\n' ' ')" "$all"
	fi
	expect "$W: nothing is made in the jail while the guest runs" \
		"$(jail_contents)" ""
else
	not_ok "$W: the guest says it is ready" "pid '$pid'"
fi
release
guest_passed "$W: the guest ran"
expect "$W: nothing is left in the jail" "$(jail_contents)" ""

W="--username alone"
if start_held --username="$U"; then
	expect "$W: the root directory stays /" \
		"$(readlink "/proc/$pid/root")" /
	got="$(field "$pid" Uid) / $(field "$pid" Gid)"
	got="$got / $(sorted_groups "$pid")"
	expect "$W: uid, gid and the user's groups" "$got" \
		"$uid $uid $uid $uid / $gid $gid $gid $gid / $groups"
else
	not_ok "$W: the guest says it is ready" "pid '$pid'"
fi
release
guest_passed "$W: the guest ran"

W="--chroot alone"
if start_held --chroot="$jail"; then
	expect "$W: the root directory is the jail, the launcher stays root" \
		"$(readlink "/proc/$pid/root") $(field "$pid" Uid)" \
		"$jail 0 0 0 0"
else
	not_ok "$W: the guest says it is ready" "pid '$pid'"
fi
release
guest_passed "$W: the guest ran"
