#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Start or stop the libvirt daemons the interop test uses, by hand (no systemd here), with
# pid files in DIR; stop only what a start in DIR started.
#   daemon.sh start DIR    virtlogd (if not running) and libvirtd, wait until virsh answers
#   daemon.sh stop DIR     libvirtd only (QEMU keeps running; its monitor becomes free)
#   daemon.sh stopall DIR  libvirtd and the virtlogd this DIR started
set -eu
cmd=$1
dir=$2
virsh="virsh -c qemu:///system"

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
. "$(dirname "$0")/../guest/lib.sh"

case $cmd in
start)
	if ! pgrep -x virtlogd >/dev/null; then
		virtlogd -d -p "$dir/virtlogd.pid"
	fi
	if ! alive "$dir/libvirtd.pid" && $virsh version >/dev/null 2>&1; then
		echo "libvirt: a libvirtd this test did not start is running; not touching it" >&2
		exit 1
	fi
	alive "$dir/libvirtd.pid" || libvirtd -d -p "$dir/libvirtd.pid"
	i=0
	until $virsh version >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 300 ] || { echo "libvirt: libvirtd does not answer after 30 s" >&2; exit 1; }
		sleep 0.1
	done
	;;
stop)
	stop_pid "$dir/libvirtd.pid"
	# libvirtd's short-lived children (it forks to probe and to spawn) inherit its fds,
	# the monitor's too: the monitor is free only once they are gone as well
	i=0
	while pgrep -x libvirtd >/dev/null && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	;;
stopall)
	stop_pid "$dir/libvirtd.pid"
	stop_pid "$dir/virtlogd.pid"
	;;
*)
	echo "usage: daemon.sh start|stop|stopall DIR" >&2
	exit 2
	;;
esac
