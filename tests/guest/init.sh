#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Test guest init: online every CPU that appears, never one that is being ejected, and print
# the guest's own view of online CPUs on the serial console whenever it changes.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
# "inode path": a CPU ejected and plugged again between two scans gets a new sysfs inode.
cpus() { ls -di /sys/devices/system/cpu/cpu[0-9]* 2>/dev/null; }
seen=$(cpus)
last=""
echo "VCPUSET-GUEST-UP"
# a guest asked to power off (the preflight tests' "shutdown" state, with -no-shutdown)
case "$(cat /proc/cmdline)" in *vcpuset.poweroff*) echo "VCPUSET-POWEROFF"; poweroff -f ;; esac
while :; do
	now=$(cpus)
	echo "$now" | while read -r ino c; do
		case "
$seen
" in
		*"
$ino $c
"*) ;;
		*) [ -e "$c/online" ] && echo 1 > "$c/online" 2>/dev/null ;;
		esac
	done
	seen=$now
	on=$(cat /sys/devices/system/cpu/online)
	if [ "$on" != "$last" ]; then
		echo "VCPUSET-ONLINE $on"
		last=$on
	fi
	sleep 0.1
done
