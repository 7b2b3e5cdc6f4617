#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Run ./vcpuset under valgrind: any leak or memory error turns into exit 99, which every
# test that checks an exit code then reports. Used by `make check-valgrind` via VCPUSET_BIN.
exec valgrind -q --leak-check=full --errors-for-leak-kinds=all --error-exitcode=99 \
	"$(dirname "$0")/../vcpuset" "$@"
