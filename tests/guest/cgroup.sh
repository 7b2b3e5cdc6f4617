#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Put a test QEMU where libvirt would (without systemd): GROUP/emulator in every cgroup v1
# hierarchy with cpu, cpuacct or cpuset, and in the unified (v2) one, as a threaded group.
#   cgroup.sh place PID GROUP     e.g. GROUP=/machine/qemu-1-vcpuset-test.libvirt-qemu
#   cgroup.sh remove GROUP        rmdir GROUP's vcpuN, emulator and GROUP (QEMU gone)
set -eu
cmd=$1
shift
if [ "$cmd" = place ]; then
	pid=$1
	shift
fi
group=$1

# "1 MOUNT" or "2 MOUNT" for each hierarchy vcpuset uses
hierarchies() {
	awk '$3 == "cgroup" && $4 ~ /(^|,)(cpu|cpuacct|cpuset)(,|$)/ { print 1, $2 }
	     $3 == "cgroup2" { print 2, $2 }' /proc/mounts
}

# mkdir each level of $2 under $1; a new v1 cpuset level gets its parent's cpus and mems
mkpath() {
	p=$1
	for c in $(echo "$2" | tr / ' '); do
		if [ ! -d "$p/$c" ]; then
			mkdir "$p/$c"
			if [ -f "$p/cpuset.cpus" ] && [ -f "$p/$c/cpuset.cpus" ] && [ ! -f "$p/cgroup.type" ]; then
				cat "$p/cpuset.cpus" >"$p/$c/cpuset.cpus"
				cat "$p/cpuset.mems" >"$p/$c/cpuset.mems"
			fi
		fi
		p=$p/$c
	done
}

case $cmd in
place)
	hierarchies | while read -r v m; do
		if [ "$v" = 1 ]; then
			mkpath "$m" "$group/emulator"
			echo "$pid" >"$m$group/emulator/cgroup.procs"
		else
			mkpath "$m" "$group"
			echo "$pid" >"$m$group/cgroup.procs"
			mkdir -p "$m$group/emulator"
			echo threaded >"$m$group/emulator/cgroup.type"
			for t in /proc/"$pid"/task/*; do
				echo "${t##*/}" >"$m$group/emulator/cgroup.threads"
			done
		fi
	done
	;;
remove)
	hierarchies | while read -r v m; do
		[ -d "$m$group" ] || continue
		for d in "$m$group"/vcpu* "$m$group/emulator" "$m$group"; do
			[ -d "$d" ] && rmdir "$d" 2>/dev/null || true
		done
		rmdir "$m${group%/*}" 2>/dev/null || true
	done
	;;
*)
	echo "usage: cgroup.sh place PID GROUP | remove GROUP" >&2
	exit 2
	;;
esac
