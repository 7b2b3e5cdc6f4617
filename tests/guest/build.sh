#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Build the throw-away test guest: Debian's amd64 kernel (ACPI CPU hotplug built in), unpacked
# without installing it, and a busybox initramfs running init.sh. Output in $1 (default
# tests/guest/out): vmlinuz, initrd.gz. Nothing on the host is installed or changed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/out}
mkdir -p "$out"
[ -s "$out/vmlinuz" ] && [ -s "$out/initrd.gz" ] && [ "$out/initrd.gz" -nt "$here/init.sh" ] && exit 0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ ! -s "$out/vmlinuz" ]; then
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	[ -n "$pkg" ] || { echo "guest: cannot resolve linux-image-amd64 (apt-get update?)" >&2; exit 1; }
	(cd "$work" && apt-get download -qq -o APT::Sandbox::User=root "$pkg" >/dev/null)
	dpkg-deb -x "$work"/linux-image-*.deb "$work/k"
	cp "$work"/k/boot/vmlinuz-* "$out/vmlinuz"
fi

bb=/bin/busybox
[ -x "$bb" ] && file_is_static=$(ldd "$bb" 2>&1 | grep -c 'not a dynamic') || file_is_static=0
[ "$file_is_static" -ge 1 ] || { echo "guest: need a static /bin/busybox (busybox-static)" >&2; exit 1; }
mkdir -p "$work/r/bin" "$work/r/proc" "$work/r/sys" "$work/r/dev"
cp "$bb" "$work/r/bin/busybox"
cp "$here/init.sh" "$work/r/init"
chmod 755 "$work/r/init"
(cd "$work/r" && find . | cpio -o -H newc --quiet | gzip -9) > "$out/initrd.gz.tmp"
mv "$out/initrd.gz.tmp" "$out/initrd.gz"
