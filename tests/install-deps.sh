#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Install what vcpuset needs to build and test on Debian 12: build deps, QEMU 10 from
# bookworm-backports, and the guest's pieces. Idempotent; quiet when all is present.
set -eu

need=""
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }

# (the guest's qemu-ga is unpacked by tests/guest/build.sh, not installed; the libraries it
# loads are copied from this host: libglib2.0-0, libnuma1, liburing2; make deb needs
# debhelper, dpkg-dev, lintian and man-db; the Ansible module's tests ansible-core)
for p in build-essential pkg-config libcjson-dev libaudit-dev libcriterion-dev libxml2-dev \
	 busybox-static cpio gzip groff-base mandoc auditd clang libclang-rt-14-dev clang-tidy valgrind cppcheck \
	 libglib2.0-0 libnuma1 liburing2 \
	 debhelper dpkg-dev lintian man-db ansible-core; do
	have "$p" || need="$need $p"
done

if [ "$(id -u)" -ne 0 ]; then
	[ -z "$need" ] || { echo "install-deps: need root to install:$need" >&2; exit 1; }
	exit 0
fi

export DEBIAN_FRONTEND=noninteractive
updated=""
bp=/etc/apt/sources.list.d/bookworm-backports.sources
if [ ! -e "$bp" ] && ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d; then
	cat > "$bp" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	apt-get update -qq
	updated=1
fi

qemu_ok() {
	command -v qemu-system-x86_64 >/dev/null 2>&1 &&
	qemu-system-x86_64 --version | awk 'NR==1 { split($4, v, "."); exit !(v[1] >= 10) }'
}

if [ -n "$need" ] || ! qemu_ok; then
	[ -n "$updated" ] || apt-get update -qq
	if [ -n "$need" ]; then
		# shellcheck disable=SC2086
		apt-get install -y -qq --no-install-recommends $need >/dev/null
	fi
	if ! qemu_ok; then
		apt-get install -y -qq --no-install-recommends -t bookworm-backports \
			qemu-system-x86 qemu-system-ppc qemu-system-s390x qemu-system-arm >/dev/null
	fi
fi

# libvirt 11 (pairs with QEMU 10), for the interop test only: if it cannot be installed,
# that test skips and says why; nothing else needs it. Its daemons are not started here.
libvirt_ok() {
	command -v libvirtd >/dev/null 2>&1 && command -v virsh >/dev/null 2>&1 &&
	libvirtd --version | awk '{ split($NF, v, "."); exit !(v[1] >= 11) }'
}
if ! libvirt_ok; then
	apt-get install -y -qq --no-install-recommends -t bookworm-backports \
		libvirt-daemon-system libvirt-clients libvirt-daemon-driver-qemu >/dev/null ||
		echo "install-deps: libvirt could not be installed; the libvirt interop test will skip" >&2
fi
