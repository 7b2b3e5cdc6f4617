#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# make install honours DESTDIR and PREFIX (binary in sbin, man page, bash completion), and
# make uninstall removes exactly what it put there.
set -eu
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
for prefix in /usr/local /usr /opt/vcpuset; do
	make -s install DESTDIR="$stage" PREFIX="$prefix"
	for f in "$prefix/sbin/vcpuset" "$prefix/share/man/man1/vcpuset.1" \
		"$prefix/share/bash-completion/completions/vcpuset"; do
		[ -f "$stage$f" ] || { echo "install: $f is not in DESTDIR with PREFIX=$prefix" >&2; exit 1; }
	done
	[ -x "$stage$prefix/sbin/vcpuset" ] || { echo "install: the binary is not executable" >&2; exit 1; }
	"$stage$prefix/sbin/vcpuset" --version | grep -q '^vcpuset ' ||
		{ echo "install: the installed binary does not run" >&2; exit 1; }
	[ "$(find "$stage" -type f | wc -l)" -eq 3 ] ||
		{ echo "install: other files than the three:" >&2; find "$stage" -type f >&2; exit 1; }
	make -s uninstall DESTDIR="$stage" PREFIX="$prefix"
	left=$(find "$stage" -type f)
	[ -z "$left" ] || { echo "uninstall left: $left" >&2; exit 1; }
	echo "ok   install and uninstall with PREFIX=$prefix"
done
