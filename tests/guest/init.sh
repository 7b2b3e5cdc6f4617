#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Test guest init: online every CPU that appears, never one that is being ejected, and print
# the guest's own view of online CPUs on the serial console whenever it changes. With
# vcpuset.noonline on the kernel command line it onlines nothing (as Ubuntu and many appliance
# images, which have no udev rule for it). When QEMU gives it a virtio-serial port named
# org.qemu.guest_agent.0, qemu-ga serves it ("VCPUSET-AGENT-UP" once it runs).
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
# "inode path": a CPU ejected and plugged again between two scans gets a new sysfs inode.
# (ls pads the inode column to the widest: one space, or a width change would look new)
cpus() { ls -di /sys/devices/system/cpu/cpu[0-9]* 2>/dev/null | awk '{ print $1, $2 }'; }
seen=$(cpus)
last=""
echo "VCPUSET-GUEST-UP"
online=1
case "$(cat /proc/cmdline)" in *vcpuset.noonline*) online=0 ;; esac
# the guest agent, on its port (virtio-serial is modules in Debian's kernel)
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_console; do
	[ -f /lib/modules/$m.ko ] && insmod /lib/modules/$m.ko 2>/dev/null
done
for p in /sys/class/virtio-ports/*; do
	[ "$(cat "$p/name" 2>/dev/null)" = org.qemu.guest_agent.0 ] || continue
	mkdir -p /run /tmp
	qemu-ga -m virtio-serial -p "/dev/${p##*/}" -t /run -f /run/qemu-ga.pid </dev/null >/dev/null 2>&1 &
	echo "VCPUSET-AGENT-UP"
done
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
		*) [ $online = 1 ] && [ -e "$c/online" ] && echo 1 > "$c/online" 2>/dev/null ;;
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
