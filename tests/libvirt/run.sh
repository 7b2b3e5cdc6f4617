#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The libvirt interop test's guest: start virtlogd and libvirtd by hand, create a transient
# TCG domain from the test guest (q35, kernel + initrd copies, serial to a file,
# current=2 of 64 vCPUs), wait for it to boot, then run "$@" with:
#   VCPUSET_LV_DIR      this run's directory (pid files, serial.log, the domain XML)
#   VCPUSET_LV_NAME     the domain's name; VCPUSET_LV_ID its id
#   VCPUSET_LV_SERIAL   the guest's serial log
#   VCPUSET_LV_DAEMON   "sh .../daemon.sh" (start|stop DIR) to stop and restart libvirtd
# and stop the domain and only the daemons it started, by pid, afterwards.
# Exit 77 (skip) when libvirt is not installed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
guest=${VCPUSET_GUEST_DIR:-$here/../guest/out}
command -v libvirtd >/dev/null && command -v virsh >/dev/null || {
	echo "libvirt: libvirtd/virsh not installed (tests/install-deps.sh installs them)" >&2
	exit 77
}
sh "$here/../guest/build.sh" "$guest"
. "$here/../guest/lib.sh"
name=vcpuset-lv-$$
virsh="virsh -c qemu:///system"
dir=$(mktemp -d /tmp/vcpuset-libvirt.XXXXXX)
chmod 755 "$dir"
cleanup() {
	qpid=$(cat "/run/libvirt/qemu/$name.pid" 2>/dev/null || true)
	sh "$here/daemon.sh" start "$dir" >/dev/null 2>&1 || true
	$virsh destroy "$name" >/dev/null 2>&1 || true
	sh "$here/daemon.sh" stopall "$dir" || true
	# whatever libvirt could not stop: this domain's QEMU, by its pid
	if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null &&
		grep -q "guest=$name," "/proc/$qpid/cmdline" 2>/dev/null; then
		kill "$qpid" 2>/dev/null || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
# libvirt changes the owner of what it boots: give it copies
cp "$guest/vmlinuz" "$guest/initrd.gz" "$dir/"
cat >"$dir/domain.xml" <<XML
<domain type='qemu'>
  <name>$name</name>
  <memory unit='MiB'>256</memory>
  <vcpu placement='static' current='2'>64</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>$dir/vmlinuz</kernel>
    <initrd>$dir/initrd.gz</initrd>
    <cmdline>console=ttyS0 quiet panic=-1</cmdline>
  </os>
  <features><acpi/></features>
  <cpu mode='custom' match='exact' check='none'><model fallback='forbid'>qemu64</model></cpu>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$(command -v qemu-system-x86_64)</emulator>
    <serial type='file'><source path='$dir/serial.log'/><target port='0'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>
XML
sh "$here/daemon.sh" start "$dir"
$virsh create "$dir/domain.xml" >/dev/null
wait_boot "$dir/serial.log" "libvirt: the domain"
VCPUSET_LV_ID=$($virsh domid "$name")
export VCPUSET_LV_DIR="$dir" VCPUSET_LV_NAME="$name" VCPUSET_LV_ID
export VCPUSET_LV_SERIAL="$dir/serial.log" VCPUSET_LV_DAEMON="sh $here/daemon.sh"
"$@"
