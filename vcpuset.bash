# SPDX-License-Identifier: GPL-2.0-or-later
# bash completion for vcpuset(1): installed as completions/vcpuset (make install, the package).
# Self-contained (no bash-completion helpers needed). VCPUSET_COMPLETION_ROOT (tests only)
# puts libvirt's directories under another root, as vcpuset's --sysroot does.

# The running libvirt domains: the live status files libvirt keeps (libvirtd may be down).
_vcpuset_domains()
{
	local f root=${VCPUSET_COMPLETION_ROOT:-}

	for f in "$root"/run/libvirt/qemu/*.xml; do
		[[ -e $f ]] && printf '%s\n' "${f##*/}" | sed 's/\.xml$//'
	done
}

# libvirt's monitor sockets, then any file or directory (other sockets).
_vcpuset_sockets()
{
	local cur=$1 root=${VCPUSET_COMPLETION_ROOT:-} f
	local -a found=()

	for f in "$root"/var/lib/libvirt/qemu/domain-*/monitor.sock; do
		[[ -e $f ]] && found+=("${f#"$root"}")
	done
	compgen -W "${found[*]}" -- "$cur"
	compgen -f -- "$cur"
}

_vcpuset()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local opts="--socket --domain --enable --disable --no-libvirt --status --dry-run --json
		--quiet --timeout --verbose --force --ack-timeout --command-timeout --trust-pid
		--help --version --cgroup --no-cgroup --period --quota --cpuset --mems --sched
		--cachetune --monitor --no-inherit --audit --no-audit --name --uuid --state-dir
		--lock-timeout --wait --repair --no-repair --guest --guest-agent --guest-timeout
		--no-guest-online"

	COMPREPLY=()
	# --opt=value: bash splits at '=' (COMP_WORDBREAKS)
	if [[ $cur == = ]]; then
		prev=${COMP_WORDS[COMP_CWORD-1]}
		cur=
	elif [[ $prev == = ]] && ((COMP_CWORD >= 2)); then
		prev=${COMP_WORDS[COMP_CWORD-2]}
	fi
	case $prev in
	-s | --socket)
		mapfile -t COMPREPLY < <(_vcpuset_sockets "$cur")
		compopt -o filenames 2>/dev/null
		return
		;;
	-d | --domain)
		mapfile -t COMPREPLY < <(compgen -W "$(_vcpuset_domains)" -- "$cur")
		return
		;;
	--sched)
		mapfile -t COMPREPLY < <(compgen -W "other batch idle fifo: rr:" -- "$cur")
		[[ ${COMPREPLY[0]-} == *: ]] && compopt -o nospace 2>/dev/null
		return
		;;
	--audit)
		mapfile -t COMPREPLY < <(compgen -W "auto required off" -- "$cur")
		return
		;;
	--guest-agent)
		mapfile -t COMPREPLY < <(compgen -W "auto off" -- "$cur"; compgen -f -- "$cur")
		compopt -o filenames 2>/dev/null
		return
		;;
	--cgroup | --state-dir | --sysroot)
		mapfile -t COMPREPLY < <(compgen -d -- "$cur")
		compopt -o filenames 2>/dev/null
		return
		;;
	--cachetune)
		mapfile -t COMPREPLY < <(compgen -W "$(cd /sys/fs/resctrl 2>/dev/null &&
			ls -d -- */ 2>/dev/null | sed 's,/$,,' | grep -vx 'info\|mon_groups\|mon_data')" -- "$cur")
		return
		;;
	-t | --timeout | --ack-timeout | --command-timeout | --lock-timeout | --guest-timeout | \
	--period | --quota | --cpuset | --mems | --enable | --disable | --name | --uuid | --monitor)
		return # a value of the admin's own
		;;
	esac
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
		return
	fi
}
complete -F _vcpuset vcpuset
