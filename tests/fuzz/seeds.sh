#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Seed corpora for the fuzz harnesses, from the real captures in tests/fixtures:
#   seeds.sh OUTDIR     writes OUTDIR/{qmp,topo,cpulist,hostres,libvirt,ga}/
set -eu
out=$1
here=$(dirname "$0")
fx=$here/../fixtures
mkdir -p "$out/qmp" "$out/topo" "$out/cpulist" "$out/hostres" "$out/libvirt"

greeting='{"QMP": {"version": {"qemu": {"micro": 2, "minor": 0, "major": 10}, "package": "Debian 1:10.0.2+ds-1~bpo12+1"}, "capabilities": ["oob"]}}'

# one reply of a capture on one line (the captures hold no newline inside a string)
reply() {
	awk -v key="\"$2\"" '
		index($0, key) == 2 && !grab { grab = 1; depth = 0 }
		grab { line = line $0; n = gsub(/[{[]/, "&"); m = gsub(/[]}]/, "&"); depth += n - m
		       if (depth <= 0 && length(line) > 0) { print line; exit } }' "$1" |
	sed -e "s/^ *\"$2\": *//" -e 's/,$//' | tr -s ' '
}

for f in "$fx"/*.json; do
	b=$(basename "$f" .json)
	cp "$f" "$out/topo/$b"
	hp=$(reply "$f" query-hotpluggable-cpus)
	# mode 1: greeting, the capabilities reply, the fixture's reply, events
	{
		printf '\001\000\000%s\r\n{"return": {}, "id": "vcpuset-1"}\r\n' "$greeting"
		printf '{"event": "DEVICE_DELETED", "data": {"path": "/machine/peripheral/vcpu2/lapic"}, "timestamp": {"seconds": 1, "microseconds": 2}}\r\n'
		printf '%s, "id": "vcpuset-2"}\r\n' "$(printf '%s' "$hp" | sed 's/}$//')"
		printf '{"event": "ACPI_DEVICE_OST", "data": {"info": {"device": "vcpu2", "source": 3, "status": 0, "slot": "2", "slot-type": "CPU"}}}\r\n'
	} >"$out/qmp/$b-seq"
	# mode 0: events only, cut at arbitrary points
	{
		printf '\000\021\042'
		printf '{"event": "DEVICE_DELETED", "data": {"device": "vcpu2", "path": "/machine/peripheral/vcpu2"}}\r\n\n'
		printf '{"event": "X", "data": {}}\n{"event": "Y", "data": {"a": [1, 2, {"b": null}]}}\r\n'
	} >"$out/qmp/$b-events"
done
printf '\003\000\000%s\r\n{"return": {}, "id": "vcpuset-1"}\r\n{"error": {"class": "GenericError", "desc": "x\\ny"}, "id": "vcpuset-2"}\r\n' \
	"$greeting" >"$out/qmp/error"

# the generator's inputs: a few byte strings
printf '\010\000\001\010\000\001\005\003\002\001\001\006\000\007' >"$out/topo/gen-small"
printf '\377\002\045\011\000\001\005\003\002\001\001\006\000\007\045\011' >"$out/topo/gen-large"

for s in '0-3,8,10-11' '0' '0-8191' '1,3,5,7' '4-2' '0-3,,4' ' 0-1' '0-1\n' '7:3' '-5' \
	 '+2' '1e3' '1000000' 'fifo:10' 'rr:99' 'other' 'vcpus_1' 'vcpu1' '/machine/peripheral/vcpu1'; do
	n=$(printf '%s' "$s" | cksum | cut -d' ' -f1)
	printf "\\$(printf '%03o' $((n % 8)))$s" >"$out/cpulist/$n"
done

# hostres: a libvirt-like v1 + v2 layout, sections in fuzz_hostres.c's order
sep='
%%
'
{
	printf '12:cpuset:/machine/vm/emulator\n11:cpu:/machine/vm/emulator\n10:cpuacct:/machine/vm/emulator\n0::/machine/vm/emulator%s' "$sep"
	printf '32 31 0:29 / @/cg/cpu rw,relatime - cgroup cgroup rw,cpu\n34 31 0:31 / @/cg/cpuset rw,relatime - cgroup cgroup rw,cpuset\n41 31 0:38 / @/cg/unified rw,relatime - cgroup2 cgroup2 rw\n%s' "$sep"
	printf '4242 (qemu-system-x86) S 1 4242 4242 0 -1 4194560 1 0 0 0 5 3 0 0 20 0 4 0 123456 1 1 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n%s' "$sep"
	printf '0-1\n%s\n%s0\n%s' "$sep" "$sep" "$sep"
	printf '100000\n%s50000\n%s50000 100000\n%s0-1\n%s0\n%s' "$sep" "$sep" "$sep" "$sep" "$sep"
	printf '4243\n%s4243\n%scpu cpuset\n%s0-1\n%s' "$sep" "$sep" "$sep" "$sep"
	printf '[{"vcpu": 3, "alias": "vcpu3", "since": 1}]'
} >"$out/hostres/libvirt-v1-v2"

# libvirt: a status file libvirt 11.3 wrote (after setvcpus, vcpupin and schedinfo)
cp "$fx/libvirt-11.3-status.xml" "$out/libvirt/status"

# ga: what qemu-ga 10 answered the test guest (guest-get-vcpus, an ACPI name, base64), and a
# whole look: the list, then each CPU's ACPI name through guest-file-open/read/close
mkdir -p "$out/ga"
printf '\000[{"online": true, "can-offline": false, "logical-id": 0}, {"online": false, "can-offline": true, "logical-id": 1}]' >"$out/ga/list"
printf '\001\\_SB_.CPUS.C001\n' >"$out/ga/acpi"
printf '\002XF9TQl8uQ1BVUy5DMDAxCg==' >"$out/ga/b64"
{
	printf '\003{"return": [{"online": true, "can-offline": false, "logical-id": 0}, {"online": true, "can-offline": true, "logical-id": 1}], "id": "vcpuset-1"}\n'
	n=2
	for c in 0 1; do
		printf '{"return": %d, "id": "vcpuset-%d"}\n' $((1000 + c)) $n
		printf '{"return": {"count": 16, "buf-b64": "%s", "eof": true}, "id": "vcpuset-%d"}\n' \
			"$(printf '\\_SB_.CPUS.C00%d\n' $c | base64)" $((n + 1))
		printf '{"return": {}, "id": "vcpuset-%d"}\n' $((n + 2))
		n=$((n + 3))
	done
} >"$out/ga/look"
