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
. "$here/lib.sh"
cleanup() {
	stop_pid "$dir/qemu.pid"
	sh "$here/cgroup.sh" remove "$group" || true
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
# VCPUSET_GUEST_AGENT=1: qemu-ga serves a virtio-serial port (make demo shows the guest's side)
agent=
if [ "${VCPUSET_GUEST_AGENT:-}" = 1 ]; then
	agent="-device virtio-serial-pci,id=vs0 -chardev socket,id=qga0,path=$dir/qga.sock,server=on,wait=off"
	agent="$agent -device virtserialport,bus=vs0.0,chardev=qga0,name=org.qemu.guest_agent.0"
fi
boot() {
	rm -f "$dir/serial.log" "$dir/qmp.sock"
	qemu-system-x86_64 -machine q35 -accel tcg -cpu qemu64 -m 256 -smp 2,maxcpus=64 \
		-name vcpuset-test -kernel "$out/vmlinuz" -initrd "$out/initrd.gz" \
		-append 'console=ttyS0 quiet panic=-1' -display none -no-reboot \
		-serial "file:$dir/serial.log" -qmp "unix:$dir/qmp.sock,server=on,wait=off" \
		$agent -daemonize -pidfile "$dir/qemu.pid"
	wait_boot "$dir/serial.log" guest
}
# A TCG guest very rarely stalls in its early boot (an RCU stall, its timer never firing,
# before its init runs): boot it once more, a fresh QEMU.
boot || { stop_pid "$dir/qemu.pid"; echo "guest: booting it again" >&2; boot; }
export VCPUSET_SOCKET="$dir/qmp.sock" VCPUSET_SERIAL="$dir/serial.log" VCPUSET_GUEST_OUT="$out"
VCPUSET_QEMU_PID=$(cat "$dir/qemu.pid")
export VCPUSET_QEMU_PID
sh "$here/cgroup.sh" place "$VCPUSET_QEMU_PID" "$group"
export VCPUSET_CGROUP="$group"
"$@"
