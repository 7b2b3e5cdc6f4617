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
# With VCPUSET_LV_TWINS=1 it also boots two twin domains from one XML (2 of 8 vCPUs,
# <vcpupin vcpu='2' cpuset='1'/>): VCPUSET_LV_TWIN_A / _B their names, serial logs in
# VCPUSET_LV_DIR/serial-a.log and serial-b.log.
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
twins=${VCPUSET_LV_TWINS:-0}
names="$name"
[ "$twins" != 1 ] || names="$name $name-a $name-b"
cleanup() {
	qpids=""
	for n in $names; do
		qpids="$qpids $n:$(cat "/run/libvirt/qemu/$n.pid" 2>/dev/null || true)"
	done
	sh "$here/daemon.sh" start "$dir" >/dev/null 2>&1 || true
	for n in $names; do
		$virsh destroy "$n" >/dev/null 2>&1 || true
	done
	sh "$here/daemon.sh" stopall "$dir" || true
	# whatever libvirt could not stop: these domains' QEMUs, by their pids
	for np in $qpids; do
		n=${np%%:*}
		qpid=${np#*:}
		if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null &&
			grep -q "guest=$n," "/proc/$qpid/cmdline" 2>/dev/null; then
			kill "$qpid" 2>/dev/null || true
		fi
	done
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
# libvirt changes the owner of what it boots: give it copies
cp "$guest/vmlinuz" "$guest/initrd.gz" "$dir/"
# domain NAME CURRENT MAX SERIAL [CPUTUNE [DEVICE]]: a domain's XML on stdout
domain() {
	cat <<XML
<domain type='qemu'>
  <name>$1</name>
  <memory unit='MiB'>256</memory>
  <vcpu placement='static' current='$2'>$3</vcpu>
  ${5:-}
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
    <serial type='file'><source path='$4'/><target port='0'/></serial>
    ${6:-}
    <memballoon model='none'/>
  </devices>
</domain>
XML
}
# the domain has the guest agent's channel (libvirt makes its socket; the guest runs qemu-ga)
domain "$name" 2 64 "$dir/serial.log" "" \
	"<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>" \
	>"$dir/domain.xml"
sh "$here/daemon.sh" start "$dir"
$virsh create "$dir/domain.xml" >/dev/null
if [ "$twins" = 1 ]; then
	for t in a b; do
		domain "$name-$t" 2 8 "$dir/serial-$t.log" \
			"<cputune><vcpupin vcpu='2' cpuset='1'/></cputune>" >"$dir/twin-$t.xml"
		$virsh create "$dir/twin-$t.xml" >/dev/null
	done
	export VCPUSET_LV_TWIN_A="$name-a" VCPUSET_LV_TWIN_B="$name-b"
fi
wait_boot "$dir/serial.log" "libvirt: the domain"
if [ "$twins" = 1 ]; then
	wait_boot "$dir/serial-a.log" "libvirt: twin a"
	wait_boot "$dir/serial-b.log" "libvirt: twin b"
fi
VCPUSET_LV_ID=$($virsh domid "$name")
export VCPUSET_LV_DIR="$dir" VCPUSET_LV_NAME="$name" VCPUSET_LV_ID
export VCPUSET_LV_SERIAL="$dir/serial.log" VCPUSET_LV_DAEMON="sh $here/daemon.sh"
"$@"
