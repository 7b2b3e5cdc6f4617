#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# make demo: boot a throw-away guest and show vcpuset plugging and unplugging its vCPUs,
# with the guest's own view from its serial console after each step.
set -eu
bin=${1:-./vcpuset}
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${VCPUSET_SOCKET:-}" ]; then
	VCPUSET_GUEST_AGENT=1 exec sh "$here/run.sh" sh "$0" "$bin"
fi
guest() {
	sleep 1
	printf '   guest says online: %s\n\n' "$(grep VCPUSET-ONLINE "$VCPUSET_SERIAL" | tail -1 | cut -d' ' -f2)"
}
show() {
	printf '$ vcpuset --socket $SOCK %s\n' "$*"
	"$bin" --socket "$VCPUSET_SOCKET" "$@" || printf '   (exit %d)\n' "$?"
}
# qemu-ga starts a moment after the guest's init: wait for its first answer
i=0
until "$bin" --socket "$VCPUSET_SOCKET" --no-audit --guest --status >/dev/null 2>&1 || [ $i -ge 60 ]; do
	sleep 0.5
	i=$((i + 1))
done
show --status | head -7; echo
show 4; guest
show +2; guest
show --dry-run 3; echo
show 3; guest
show -1; guest
show 1; echo
show --guest 1; guest
show --guest --status; echo
show --guest 2; guest
show --json 2 | head -20; guest
