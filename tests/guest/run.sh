#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Boot one throw-away TCG guest, run "$@" with VCPUSET_SOCKET, VCPUSET_SERIAL and
# VCPUSET_QEMU_PID set, then stop that QEMU (by its pid) and remove its files.
# The guest has 2 boot vCPUs and maxcpus=64: TCG never gives back a vCPU thread's context, so
# one guest takes at most 62 plugs over its life (see README, "Tests").
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${VCPUSET_GUEST_DIR:-$here/out}
sh "$here/build.sh" "$out"
dir=$(mktemp -d /tmp/vcpuset-guest.XXXXXX)
# QEMU goes where libvirt (without systemd) would put it: see cgroup.sh
group=/machine/qemu-$$-vcpuset-test.libvirt-qemu
cleanup() {
	if [ -s "$dir/qemu.pid" ]; then
		qpid=$(cat "$dir/qemu.pid")
		kill "$qpid" 2>/dev/null || true
		i=0
		while kill -0 "$qpid" 2>/dev/null && [ $i -lt 50 ]; do
			sleep 0.1
			i=$((i + 1))
		done
	fi
	sh "$here/cgroup.sh" remove "$group" || true
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
qemu-system-x86_64 -machine q35 -accel tcg -cpu qemu64 -m 256 -smp 2,maxcpus=64 \
	-name vcpuset-test -kernel "$out/vmlinuz" -initrd "$out/initrd.gz" \
	-append 'console=ttyS0 quiet panic=-1' -display none -no-reboot \
	-serial "file:$dir/serial.log" -qmp "unix:$dir/qmp.sock,server=on,wait=off" \
	-daemonize -pidfile "$dir/qemu.pid"
i=0
until grep -q 'VCPUSET-ONLINE 0-1' "$dir/serial.log" 2>/dev/null; do
	i=$((i + 1))
	if [ $i -gt 600 ]; then
		echo "guest: no sign of life after 60 s; serial log:" >&2
		cat "$dir/serial.log" >&2 || true
		exit 1
	fi
	sleep 0.1
done
export VCPUSET_SOCKET="$dir/qmp.sock" VCPUSET_SERIAL="$dir/serial.log"
VCPUSET_QEMU_PID=$(cat "$dir/qemu.pid")
export VCPUSET_QEMU_PID
sh "$here/cgroup.sh" place "$VCPUSET_QEMU_PID" "$group"
export VCPUSET_CGROUP="$group"
"$@"
