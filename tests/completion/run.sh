#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The bash completion (vcpuset.bash), driven as bash drives it: COMP_WORDS, COMP_CWORD and the
# function `complete` registered, on a fixture root with libvirt's sockets and status files.
set -u
here=$(cd "$(dirname "$0")/../.." && pwd)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
fails=0
# shellcheck source=/dev/null
source "$here/vcpuset.bash"
export VCPUSET_COMPLETION_ROOT=$root

# comp WORD...: what completing the last word offers, one per line, sorted
comp() {
	local fn
	COMP_WORDS=("$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE="$*"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	fn=$(complete -p vcpuset | sed -n 's/.*-F \([^ ]*\) .*/\1/p')
	"$fn" vcpuset "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
	printf '%s\n' "${COMPREPLY[@]}" | sort
}

# expect WHAT GOT WANT: GOT (lines) equals WANT (words)
expect() {
	local want
	want=$(printf '%s\n' $3 | sort)
	if [ "$2" != "$want" ]; then
		echo "FAIL $1: got [$(echo $2)], want [$(echo $want)]"
		fails=$((fails + 1))
	else
		echo "ok   $1"
	fi
}

# has WHAT GOT WORD: GOT holds WORD
has() {
	if printf '%s\n' "$2" | grep -qxF -- "$3"; then
		echo "ok   $1"
	else
		echo "FAIL $1: [$(echo $2)] lacks $3"
		fails=$((fails + 1))
	fi
}

mkdir -p "$root/var/lib/libvirt/qemu/domain-3-ol8" "$root/var/lib/libvirt/qemu/domain-4-web" \
	"$root/run/libvirt/qemu"
: >"$root/var/lib/libvirt/qemu/domain-3-ol8/monitor.sock"
: >"$root/var/lib/libvirt/qemu/domain-4-web/monitor.sock"
: >"$root/run/libvirt/qemu/ol8.xml"
: >"$root/run/libvirt/qemu/web.xml"

complete -p vcpuset | grep -q -- '-F _vcpuset' && echo "ok   registered" ||
	{ echo "FAIL not registered"; fails=$((fails + 1)); }
expect "options by prefix" "$(comp vcpuset --sch)" "--sched"
expect "options by prefix, several" "$(comp vcpuset --no-)" \
	"--no-libvirt --no-cgroup --no-inherit --no-audit --no-repair --no-guest-online"
has "--quiet is an option" "$(comp vcpuset -)" "--quiet"
has "--guest is an option" "$(comp vcpuset --gu)" "--guest-agent"
expect "--sched policies" "$(comp vcpuset --sched '')" "other batch idle fifo: rr:"
expect "--sched f" "$(comp vcpuset --sched f)" "fifo:"
expect "--audit modes" "$(comp vcpuset --audit '')" "auto required off"
expect "--audit=re" "$(comp vcpuset --audit = re)" "required"
expect "--audit=" "$(comp vcpuset --audit =)" "auto required off"
expect "--domain: running domains" "$(comp vcpuset --domain '')" "ol8 web"
expect "-d w" "$(comp vcpuset -d w)" "web"
has "--socket: libvirt's monitors" "$(comp vcpuset --socket /var/lib/libvirt/qemu/)" \
	"/var/lib/libvirt/qemu/domain-3-ol8/monitor.sock"
has "--socket: and files" "$(cd "$root" && comp vcpuset -s var/lib/libvirt/qemu/d)" \
	"var/lib/libvirt/qemu/domain-4-web"
has "--guest-agent auto" "$(comp vcpuset --guest-agent a)" "auto"
expect "a number: nothing" "$(comp vcpuset --timeout '')" ""
expect "a COUNT: nothing" "$(comp vcpuset -s /x '')" ""
[ "$fails" -eq 0 ] || { echo "completion: $fails failed"; exit 1; }
echo "completion: all passed"
