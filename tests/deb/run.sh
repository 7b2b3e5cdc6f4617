#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# make deb: build the Debian package from a copy of the tree (dpkg-buildpackage -us -uc -b),
# lintian with no error, then as root install it, run what it installed (vcpuset --version,
# man -w vcpuset, the completion) and remove it again. The .deb is left in deb/.
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
version=$(dpkg-parsechangelog -l "$here/debian/changelog" -S Version)
src=$work/vcpuset-$version
mkdir "$src"
cd "$here"
if git rev-parse --git-dir >/dev/null 2>&1; then
	git ls-files -z | cpio -0pdm --quiet "$src"
	cp -a .git "$src/.git" # --version names the commit, as a build from the checkout does
else
	tar --exclude=./debian/vcpuset --exclude=./tests/guest/out --exclude=./tests/fuzz/out \
		-cf - . | tar -C "$src" -xf -
fi
(cd "$src" && dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1) ||
	{ tail -n 40 "$work/build.log" >&2; echo "deb: dpkg-buildpackage failed" >&2; exit 1; }
deb=$(ls "$work"/vcpuset_"$version"_*.deb)
echo "deb: built $(basename "$deb")"
lintian --fail-on error --suppress-tags-from-file /dev/null "$work"/vcpuset_"$version"_*.changes |
	tee "$work/lintian.log"
echo "deb: lintian: no error ($(grep -c '^W:' "$work/lintian.log" || true) warnings)"
mkdir -p "$here/deb"
cp "$deb" "$here/deb/"
[ "$(id -u)" -eq 0 ] || { echo "deb: not root: not installed"; exit 0; }
if dpkg-query -W vcpuset >/dev/null 2>&1; then
	echo "deb: a vcpuset package is installed already; not touching it" >&2
	exit 1
fi
dpkg -i "$deb" >/dev/null
trap 'dpkg -r vcpuset >/dev/null 2>&1; rm -rf "$work"' EXIT
/usr/sbin/vcpuset --version | grep -q "^vcpuset $version" ||
	{ echo "deb: /usr/sbin/vcpuset --version: $(/usr/sbin/vcpuset --version)" >&2; exit 1; }
page=$(man -w vcpuset)
[ "$page" = /usr/share/man/man1/vcpuset.1.gz ] || { echo "deb: man -w vcpuset: $page" >&2; exit 1; }
[ -f /usr/share/bash-completion/completions/vcpuset ] || { echo "deb: no completion" >&2; exit 1; }
[ -f /usr/share/doc/vcpuset/README.md.gz ] || [ -f /usr/share/doc/vcpuset/README.md ] ||
	{ echo "deb: no README" >&2; exit 1; }
echo "deb: installed: $(/usr/sbin/vcpuset --version), $page"
dpkg -r vcpuset >/dev/null
[ ! -e /usr/sbin/vcpuset ] && [ ! -e /usr/share/man/man1/vcpuset.1.gz ] ||
	{ echo "deb: dpkg -r left files behind" >&2; exit 1; }
trap 'rm -rf "$work"' EXIT
echo "deb: removed"
