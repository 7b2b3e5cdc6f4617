# SPDX-License-Identifier: GPL-2.0-or-later
# Shell helpers for the scripts that boot and stop test guests (sourced, not run).

# stop_pid FILE: stop the process whose pid FILE holds (TERM, up to 10 s, then KILL)
stop_pid() {
	[ -s "$1" ] || return 0
	sp_pid=$(cat "$1")
	kill "$sp_pid" 2>/dev/null || true
	sp_i=0
	while kill -0 "$sp_pid" 2>/dev/null && [ $sp_i -lt 100 ]; do
		sleep 0.1
		sp_i=$((sp_i + 1))
	done
	kill -KILL "$sp_pid" 2>/dev/null || true
	rm -f "$1"
}

# wait_boot SERIAL WHO: wait up to 60 s for the guest's first "VCPUSET-ONLINE 0-1"
wait_boot() {
	wb_i=0
	until grep -q 'VCPUSET-ONLINE 0-1' "$1" 2>/dev/null; do
		wb_i=$((wb_i + 1))
		if [ $wb_i -gt 600 ]; then
			echo "$2: no sign of life after 60 s; serial log:" >&2
			cat "$1" >&2 || true
			return 1
		fi
		sleep 0.1
	done
}
