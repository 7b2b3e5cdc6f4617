#!/usr/bin/python
# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-2.0-or-later
"""Ansible module: change the vCPUs of a running QEMU guest with vcpuset."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: vcpuset
short_description: Set the number of online vCPUs of a running QEMU guest
version_added: "0.1.0"
description:
  - Runs the C(vcpuset) binary on the managed host, which plugs and unplugs the vCPUs of a
    running QEMU guest by talking QMP to its monitor socket, with no libvirtd in the way, and
    gives each new vCPU thread the host settings libvirt would (cgroups, affinity, policy).
  - Idempotent, C(changed) is true only when vCPUs were (or, in check mode, would be) plugged or
    unplugged. Check mode runs C(vcpuset --dry-run); nothing changes.
  - Diff mode gives the count and the online vCPU indices before and after.
  - The whole JSON document C(vcpuset --json) printed is returned as C(vcpuset).
  - Exit statuses become results, 0 ok; 1 and 2 failed with vcpuset's message; 3 (an unplug
    still pending) failed unless C(wait); 4 (partial) failed, with the steps done; 5 (outcome
    unknown) and 6 (the guest left plugged vCPUs offline) failed.
options:
  socket:
    description:
      - QEMU's QMP monitor socket, for example C(/var/lib/libvirt/qemu/domain-7-ol8/monitor.sock).
      - One of C(socket) and C(domain) is required.
    type: path
  domain:
    description:
      - A running libvirt domain, by name, id or uuid; its libvirtd must be stopped (vcpuset
        refuses a domain whose daemon runs, and names C(virsh setvcpus)).
    type: str
  count:
    description:
      - The number of online vCPUs wanted (absolute). Exactly one of C(count), C(enable) and
        C(disable) is required.
    type: int
  enable:
    description:
      - Plug exactly these vCPU indices (whole entities), for example C([4, 5]) or C(["4-7"]).
    type: list
    elements: str
  disable:
    description:
      - Unplug exactly these vCPU indices.
    type: list
    elements: str
  timeout:
    description:
      - Seconds to wait for each unplug (vcpuset's default, 5, when not given).
    type: float
  wait:
    description:
      - An unplug still pending after C(timeout) (exit 3) is not a failure, after one more
        C(vcpuset --wait) bounded by C(timeout); the pending vCPUs are returned.
    type: bool
    default: false
  cgroup:
    description: Parent of the per-vCPU cgroups (C(--cgroup)).
    type: str
  no_cgroup:
    description: No per-vCPU cgroups (C(--no-cgroup)).
    type: bool
    default: false
  period:
    description: CFS period of each new vCPU, in microseconds (C(--period)).
    type: int
  quota:
    description: CFS quota of each new vCPU, in microseconds, negative for none (C(--quota)).
    type: int
  cpuset:
    description: CPUs of each new vCPU (C(--cpuset)), a cpulist, optionally C(VCPUS:LIST).
    type: list
    elements: str
  mems:
    description: Memory nodes of each new vCPU (C(--mems)).
    type: list
    elements: str
  sched:
    description: Scheduler policy of each new vCPU (C(--sched)), C(other), C(batch), C(idle), C(fifo:PRIO) or C(rr:PRIO).
    type: list
    elements: str
  cachetune:
    description: resctrl allocation group to join (C(--cachetune)).
    type: str
  monitor:
    description: resctrl monitoring group to join (C(--monitor)).
    type: str
  no_inherit:
    description: Take nothing from the VM's tuned vCPUs (C(--no-inherit)).
    type: bool
    default: false
  guest_agent:
    description: The guest agent's socket, C(auto) or C(off) (C(--guest-agent)).
    type: str
  state_dir:
    description: vcpuset's state directory (C(--state-dir)).
    type: path
  audit:
    description: Audit records, C(auto), C(required) or C(off) (C(--audit)).
    type: str
    choices: [auto, required, "off"]
  vcpuset:
    description: The vcpuset binary, a path or a name looked up in C(PATH) and C(/usr/sbin).
    type: str
    default: vcpuset
requirements:
  - vcpuset on the managed host, run as root.
author:
  - vcpuset developers
notes:
  - Supports check mode and diff mode.
  - To change a fleet a few hosts at a time, use C(serial) and C(max_fail_percentage) in the play.
"""

EXAMPLES = r"""
- name: Six vCPUs for ol8, whose libvirtd is down
  vcpuset.vcpuset.vcpuset:
    domain: ol8
    count: 6

- name: Four vCPUs through a monitor socket, each new one pinned to CPUs 4-7
  vcpuset.vcpuset.vcpuset:
    socket: /run/qemu/vm1.qmp
    count: 4
    cpuset: ["4-7"]

- name: Unplug vCPUs 6 and 7, accepting an unplug the guest finishes later
  vcpuset.vcpuset.vcpuset:
    socket: /run/qemu/vm1.qmp
    disable: ["6-7"]
    timeout: 10
    wait: true

- name: A rolling change across a host group, two hosts at a time
  hosts: hypervisors
  serial: 2
  max_fail_percentage: 0
  tasks:
    - name: Eight vCPUs for every guest listed for the host
      vcpuset.vcpuset.vcpuset:
        domain: "{{ item }}"
        count: 8
      loop: "{{ guests }}"
"""

RETURN = r"""
rc:
  description: vcpuset's exit status.
  returned: always
  type: int
  sample: 0
before:
  description: The count the change was measured from (online minus pending unplugs).
  returned: when vcpuset read the VM
  type: int
  sample: 2
after:
  description: The count after the run (in check mode, the one planned).
  returned: when vcpuset read the VM
  type: int
  sample: 4
steps:
  description: The steps done (or planned, in check mode), as vcpuset's JSON has them.
  returned: always
  type: list
  elements: dict
pending:
  description: Unplugs still pending (vCPU indices).
  returned: always
  type: list
  elements: int
vcpuset:
  description: The whole JSON document vcpuset printed.
  returned: always
  type: dict
cmd:
  description: The command run.
  returned: always
  type: list
  elements: str
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule

EXIT_MEANING = {
    1: "failed, guest unchanged",
    2: "refused (bad usage or impossible change), nothing sent",
    3: "an unplug is still pending",
    4: "partial: some steps done, then a failure",
    5: "outcome unknown: QEMU never answered a step",
    6: "plugged, but the guest left vCPUs offline",
}


def vcpuset_argv(module, binary):
    """The command line for the module's parameters (without --dry-run)."""
    p = module.params
    argv = [binary, "--json"]
    if p["socket"]:
        argv += ["--socket", p["socket"]]
    else:
        argv += ["--domain", p["domain"]]
    for key, opt in (("timeout", "--timeout"), ("cgroup", "--cgroup"), ("period", "--period"),
                     ("quota", "--quota"), ("cachetune", "--cachetune"),
                     ("monitor", "--monitor"), ("guest_agent", "--guest-agent"),
                     ("state_dir", "--state-dir")):
        if p[key] is not None:
            argv += [opt, str(p[key])]
    if p["audit"] is not None:
        argv.append("--audit=" + p["audit"])
    for key, opt in (("no_cgroup", "--no-cgroup"), ("no_inherit", "--no-inherit")):
        if p[key]:
            argv.append(opt)
    for key, opt in (("cpuset", "--cpuset"), ("mems", "--mems"), ("sched", "--sched")):
        for value in p[key] or []:
            argv += [opt, value]
    if p["enable"]:
        argv += ["--enable", ",".join(p["enable"])]
    elif p["disable"]:
        argv += ["--disable", ",".join(p["disable"])]
    else:
        argv.append(str(p["count"]))
    return argv


def run_json(module, argv):
    """Run vcpuset; (rc, document, stderr). A document that does not parse fails the task."""
    rc, out, err = module.run_command(argv)
    try:
        doc = json.loads(out)
    except ValueError:
        module.fail_json(msg="vcpuset printed no JSON document: %s" % (err.strip() or out.strip()),
                         rc=rc, cmd=argv, stdout=out, stderr=err)
    return rc, doc, err


def online_list(module, binary):
    """The online vCPU indices (vcpuset --status), for diff mode."""
    p = module.params
    argv = [binary, "--json", "--status", "--audit=off", "--guest-agent", "off"]
    argv += ["--socket", p["socket"]] if p["socket"] else ["--domain", p["domain"]]
    if p["state_dir"]:
        argv += ["--state-dir", p["state_dir"]]
    rc, doc, err = run_json(module, argv)
    if rc != 0:
        return None
    return [v["index"] for v in doc.get("vcpus") or [] if v.get("online")]


def planned_list(before, steps):
    """The online list a plan leaves (check mode's diff)."""
    now = set(before)
    for s in steps:
        span = range(s["vcpu"], s["vcpu"] + s.get("vcpus", 1))
        if s["op"] == "plug":
            now.update(span)
        else:
            now.difference_update(span)
    return sorted(now)


def error_message(doc, err):
    e = doc.get("error") or {}
    return e.get("message") or err.strip() or "vcpuset failed"


def main():
    module = AnsibleModule(
        argument_spec=dict(
            socket=dict(type="path"),
            domain=dict(type="str"),
            count=dict(type="int"),
            enable=dict(type="list", elements="str"),
            disable=dict(type="list", elements="str"),
            timeout=dict(type="float"),
            wait=dict(type="bool", default=False),
            cgroup=dict(type="str"),
            no_cgroup=dict(type="bool", default=False),
            period=dict(type="int"),
            quota=dict(type="int"),
            cpuset=dict(type="list", elements="str"),
            mems=dict(type="list", elements="str"),
            sched=dict(type="list", elements="str"),
            cachetune=dict(type="str"),
            monitor=dict(type="str"),
            no_inherit=dict(type="bool", default=False),
            guest_agent=dict(type="str"),
            state_dir=dict(type="path"),
            audit=dict(type="str", choices=["auto", "required", "off"]),
            vcpuset=dict(type="str", default="vcpuset"),
        ),
        required_one_of=[["socket", "domain"], ["count", "enable", "disable"]],
        mutually_exclusive=[["socket", "domain"], ["count", "enable", "disable"]],
        supports_check_mode=True,
    )
    p = module.params
    binary = p["vcpuset"]
    if os.sep not in binary:
        binary = module.get_bin_path(binary, required=True, opt_dirs=["/usr/sbin", "/usr/local/sbin"])
    argv = vcpuset_argv(module, binary)
    if module.check_mode:
        argv.insert(2, "--dry-run")
    before_list = online_list(module, binary) if module._diff else None
    rc, doc, err = run_json(module, argv)
    steps = doc.get("steps") or []
    pending = [e.get("vcpu") for e in doc.get("pending") or []]
    if rc == 3 and p["wait"] and not module.check_mode:
        wait_argv = argv[:2] + argv[2:4] + ["--wait"]
        if p["timeout"] is not None:
            wait_argv += ["--timeout", str(p["timeout"])]
        if p["state_dir"]:
            wait_argv += ["--state-dir", p["state_dir"]]
        wrc, wdoc, werr = run_json(module, wait_argv)
        pending = [e.get("vcpu") for e in wdoc.get("pending") or []]
        if wrc in (0, 3):
            rc = 0
            if pending:
                module.warn("vcpuset: unplug of vCPU %s still pending (wait: true)" %
                            ", ".join(str(v) for v in pending))
    done = [s for s in steps if s.get("status") in ("done", "pending")]
    changed = bool(steps) if module.check_mode else bool(done)
    result = dict(changed=changed, rc=rc, cmd=argv, steps=steps, pending=pending, vcpuset=doc,
                  before=doc.get("before"), after=doc.get("target") if module.check_mode and steps
                  else doc.get("after"))
    if module._diff and before_list is not None:
        after_list = (planned_list(before_list, steps) if module.check_mode
                      else online_list(module, binary))
        result["diff"] = dict(
            before="vcpus: %s\nonline: %s\n" % (doc.get("before"), before_list),
            after="vcpus: %s\nonline: %s\n" % (result["after"], after_list),
            before_header="vCPUs before", after_header="vCPUs after")
    if rc != 0:
        msg = "vcpuset exit %d (%s): %s" % (rc, EXIT_MEANING.get(rc, "failed"),
                                           error_message(doc, err))
        module.fail_json(msg=msg, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
