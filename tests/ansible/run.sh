#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The Ansible module (ansible/ansible_collections/vcpuset/vcpuset) with Debian's ansible-core:
# ansible-doc renders it, and tests/ansible/play.yml runs against the real test guest
# (run through tests/guest/run.sh, which exports VCPUSET_SOCKET).
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
export ANSIBLE_COLLECTIONS_PATH="$here/ansible" ANSIBLE_NOCOLOR=1 ANSIBLE_LOCALHOST_WARNING=false \
	ANSIBLE_INVENTORY_UNPARSED_WARNING=false ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 \
	ANSIBLE_HOME="${TMPDIR:-/tmp}/vcpuset-ansible-home.$$"
state=$(mktemp -d)
trap 'rm -rf "$state" "$ANSIBLE_HOME"' EXIT
ansible-doc -t module vcpuset.vcpuset.vcpuset >"$state/doc.txt"
grep -q 'VCPUSET.VCPUSET.VCPUSET' "$state/doc.txt" && grep -q 'socket' "$state/doc.txt" ||
	{ echo "ansible-doc: no module" >&2; exit 1; }
grep -q 'EXAMPLES' "$state/doc.txt" && grep -q 'RETURN VALUES' "$state/doc.txt" ||
	{ echo "ansible-doc: no examples or return values" >&2; exit 1; }
echo "ansible-doc: renders"
ansible-playbook -i localhost, "$here/tests/ansible/play.yml" \
	-e "sock=$VCPUSET_SOCKET" -e "bin=$here/vcpuset" -e "state=$state"
