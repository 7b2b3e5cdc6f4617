#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Build the throw-away test guest: Debian's amd64 kernel (ACPI CPU hotplug built in) and its
# virtio-serial modules, unpacked without installing them, Debian's qemu-ga (the binary and the
# shared libraries it loads), and a busybox initramfs running init.sh. Output in $1 (default
# tests/guest/out): vmlinuz, initrd.gz. Nothing on the host is installed or changed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/out}
mkdir -p "$out"
[ -s "$out/vmlinuz" ] && [ -s "$out/initrd.gz" ] && [ "$out/initrd.gz" -nt "$here/init.sh" ] &&
	[ "$out/initrd.gz" -nt "$here/build.sh" ] && exit 0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
[ -n "$pkg" ] || { echo "guest: cannot resolve linux-image-amd64 (apt-get update?)" >&2; exit 1; }
# the guest agent as QEMU 10 ships it (bookworm-backports), else bookworm's
ga=qemu-guest-agent/bookworm-backports
apt-cache policy qemu-guest-agent 2>/dev/null | grep -q bookworm-backports || ga=qemu-guest-agent
(cd "$work" && apt-get download -qq -o APT::Sandbox::User=root "$pkg" "$ga" >/dev/null)
dpkg-deb -x "$work"/linux-image-*.deb "$work/k"
dpkg-deb -x "$work"/qemu-guest-agent_*.deb "$work/g"
cp "$work"/k/boot/vmlinuz-* "$out/vmlinuz.tmp"
mv "$out/vmlinuz.tmp" "$out/vmlinuz"
bb=/bin/busybox
[ -x "$bb" ] && file_is_static=$(ldd "$bb" 2>&1 | grep -c 'not a dynamic') || file_is_static=0
[ "$file_is_static" -ge 1 ] || { echo "guest: need a static /bin/busybox (busybox-static)" >&2; exit 1; }
mkdir -p "$work/r/bin" "$work/r/proc" "$work/r/sys" "$work/r/dev"
cp "$bb" "$work/r/bin/busybox"
cp "$here/init.sh" "$work/r/init"
# virtio-serial, in the order init.sh loads them (the kernel has them as modules)
mkdir -p "$work/r/lib/modules"
for m in virtio/virtio_ring virtio/virtio virtio/virtio_pci_legacy_dev \
	virtio/virtio_pci_modern_dev virtio/virtio_pci char/virtio_console; do
	cp "$work"/k/lib/modules/*/kernel/drivers/$m.ko "$work/r/lib/modules/"
done
# qemu-ga and what the dynamic loader gives it here (the host's libraries: same Debian)
mkdir -p "$work/r/usr/sbin"
cp "$work/g/usr/sbin/qemu-ga" "$work/r/usr/sbin/qemu-ga"
if ldd "$work/g/usr/sbin/qemu-ga" | grep -q 'not found'; then
	echo "guest: qemu-ga needs libraries this host lacks:" >&2
	ldd "$work/g/usr/sbin/qemu-ga" | grep 'not found' >&2
	exit 1
fi
ldd "$work/g/usr/sbin/qemu-ga" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
	while read -r lib; do
		mkdir -p "$work/r$(dirname "$lib")"
		cp -L "$lib" "$work/r$lib"
	done
chmod 755 "$work/r/init"
(cd "$work/r" && find . | cpio -o -H newc --quiet | gzip -9) > "$out/initrd.gz.tmp"
mv "$out/initrd.gz.tmp" "$out/initrd.gz"
