#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Run the given test suites as an unprivileged user (uid 65534), on the fixture host they make
# for vcpuset (--sysroot): from a copy that user can read, whatever the checkout's permissions.
set -e
d=$(mktemp -d /tmp/vcpuset-nobody.XXXXXX)
trap 'rm -rf "$d"' EXIT
mkdir -p "$d/tests"
cp vcpuset "$d/"
cp -r tests/fixtures tests/audit_shim.so tests/core_shim.so "$d/tests/"
for t in "$@"; do cp "$t" "$d/$t"; done
chmod -R a+rX "$d"
cd "$d"
for t in "$@"; do
	echo "== $t (uid 65534, fixture host)"
	setpriv --reuid=65534 --regid=65534 --clear-groups "./$t" --jobs 2
done
