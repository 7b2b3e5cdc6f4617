/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hostres: every read and change on the host — procfs, sysfs, cgroups, affinity, resctrl. */
#ifndef VCPUSET_HOSTRES_H
#define VCPUSET_HOSTRES_H

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "topo.h"
#include "vcpuset.h"

/*
 * Where the host's trees are; NULL members take the defaults. Tests point them at fixture
 * trees. Mount points come from <proc>/self/mountinfo, so a fixture's mountinfo names
 * directories inside the fixture.
 */
struct hostres_roots {
	const char *proc;    /* /proc */
	const char *sys;     /* /sys: devices/system/cpu/{online,isolated}, devices/system/node */
	const char *resctrl; /* /sys/fs/resctrl */
	const char *mounts;  /* put before the mount points mountinfo names (--sysroot), or NULL */
};

#define HOSTRES_PATH_MAX 1024
#define HOSTRES_NAME_MAX 128 /* resctrl group names, with the NUL */
#define HOSTRES_MASK_WORDS (TOPO_MAX_CPUS / 64)

/* Where a setting comes from. */
enum hostres_src { HR_UNSET, HR_GIVEN, HR_LIBVIRT, HR_INHERITED, HR_DEFAULT };
extern const char *const hostres_src_names[];

/* What one vCPU thread gets (or, read back, has). Masks cover TOPO_MAX_CPUS bits. */
struct hostres_tune {
	enum hostres_src bw_src;
	long long period; /* us; 0 = leave as is */
	long long quota;  /* us; 0 = leave as is, < 0 = no limit */
	enum hostres_src cpus_src, mems_src, aff_src, sched_src, rc_src;
	uint64_t cpus[HOSTRES_MASK_WORDS]; /* cpuset.cpus */
	uint64_t mems[HOSTRES_MASK_WORDS]; /* cpuset.mems */
	uint64_t aff[HOSTRES_MASK_WORDS];  /* sched_setaffinity */
	int policy;                        /* SCHED_* */
	int prio;
	char cachetune[HOSTRES_NAME_MAX]; /* resctrl allocation group, "" = none */
	char monitor[HOSTRES_NAME_MAX];   /* resctrl monitor group, "" = none */
};

/* Range checks and parsers for the command line: 0 or -EINVAL/-ERANGE naming the value. */
#define HOSTRES_PERIOD_MIN 1000LL
#define HOSTRES_PERIOD_MAX 1000000LL
#define HOSTRES_QUOTA_MIN 1000LL
#define HOSTRES_QUOTA_MAX 17592186044415LL /* 2^44 - 1 */
int hostres_parse_period(const char *s, long long *out, struct vs_err *err);
int hostres_parse_quota(const char *s, long long *out, struct vs_err *err);
int hostres_parse_sched(const char *s, int *policy, int *prio, struct vs_err *err);
int hostres_valid_group(const char *what, const char *s, struct vs_err *err);
const char *hostres_policy_name(int policy);

struct hostres;

/* Open the roots. The handle is the caller's: hostres_free(). */
int hostres_open(const struct hostres_roots *roots, struct hostres **out, struct vs_err *err);
void hostres_free(struct hostres *h);

/*
 * Dry mode: every change is logged, none is made. warn receives non-fatal problems. log, if
 * set, receives each change (made or, in dry mode, to be made) as a JSON object; the array
 * stays the caller's.
 */
void hostres_set_dry(struct hostres *h, bool dry);
void hostres_set_warn(struct hostres *h, void (*warn)(void *ctx, const char *msg), void *ctx);
void hostres_set_log(struct hostres *h, cJSON *log);
/* note receives what is normal but worth telling (--verbose). */
void hostres_set_note(struct hostres *h, void (*note)(void *ctx, const char *msg), void *ctx);

/*
 * 1 if tid is a thread of process pid (/proc/<pid>/task/<tid> exists), 0 if not, negative
 * errno if procfs cannot be read.
 */
int hostres_is_thread_of(struct hostres *h, int pid, int tid);

/*
 * Does process pid hold the socket with inode ino among its fds (/proc/<pid>/fd)? 1 yes, 0 no,
 * negative errno if they cannot be read. The proof that pid serves a monitor connection.
 */
int hostres_holds_socket(struct hostres *h, int pid, unsigned long ino, struct vs_err *err);

/* Is the process of this pidfd still alive (not exited)? */
bool hostres_pidfd_alive(int pidfd);

/*
 * Keep only the capabilities the rest of the run needs, before anything QEMU says is read:
 * CAP_SYS_NICE (affinity and policy of QEMU's threads, which another user may own),
 * CAP_SYS_PTRACE only with keep_ptrace (the core-scheduling cookies of a VM that uses them),
 * CAP_AUDIT_WRITE (the records) and CAP_DAC_OVERRIDE (a monitor socket, cgroup or resctrl
 * file owned by another user: QEMU's, a delegated subtree's). no_new_privs is set too. Calls
 * by this thread only: before any other thread is started.
 */
int hostres_drop_privileges(bool keep_ptrace, struct vs_err *err);

/*
 * Core scheduling (PR_SCHED_CORE). cookie: thread tid's cookie (0: none); -EINVAL when the
 * kernel has no core scheduling, -errno otherwise. in_use: does some thread of process pid
 * carry a cookie (then CAP_SYS_PTRACE is kept: the kernel asks it to read or share the
 * cookie of another user's thread)? share: give thread tid the cookie of thread from, in a
 * helper thread (logged; nothing in dry mode).
 */
int hostres_core_cookie(int tid, unsigned long *cookie);
bool hostres_core_in_use(struct hostres *h, int pid);
int hostres_core_share(struct hostres *h, int from, int tid, struct vs_err *err);

/*
 * Find QEMU's (pid) cgroups and choose the parent of the vCPU groups in each hierarchy that
 * has the cpu, cpuacct or cpuset controller, plus the unified (v2) one. override, if not
 * NULL, is the parent path inside every hierarchy. Hierarchies where QEMU sits in the root
 * are skipped unless override is given: with a warning when they have the cpu or cpuset
 * controller, with a note otherwise. Returns the number of hierarchies.
 */
int hostres_cgroups_find(struct hostres *h, int pid, const char *override, struct vs_err *err);
/* Does some hierarchy in use have the cpu (resp. cpuset) controller? */
bool hostres_has_cpu(const struct hostres *h);
bool hostres_has_cpuset(const struct hostres *h);
/* The hierarchies in use as JSON: [{"version","controllers","parent","qemu"}]. */
cJSON *hostres_cgroups_json(const struct hostres *h);

/*
 * Check a tune against the host before anything changes: CPUs online and inside the parent
 * cpuset, memory nodes online and with memory, controllers present, a v1 quota within the
 * parent's limit, policies vcpuset can set, resctrl groups present.
 */
int hostres_validate(struct hostres *h, const struct hostres_tune *t, struct vs_err *err);

/*
 * The settings of t that are set, as one line of "key=value" words ("period=100000
 * quota=-1 cpus=0-3 mems=0 affinity=0-3 sched=fifo:5 cachetune=g monitor=m"): what a
 * write-ahead intent keeps of them. -ENOSPC when it does not fit in size.
 */
int hostres_tune_text(const struct hostres_tune *t, char *buf, size_t size);

/* Such a line back into *t (its settings HR_GIVEN), each value checked as on the command line. */
int hostres_tune_parse(const char *s, struct hostres_tune *t, struct vs_err *err);

/* Fill t->aff with the host's online CPUs minus the isolated ones. */
int hostres_default_affinity(struct hostres *h, struct hostres_tune *t, struct vs_err *err);

/*
 * What a new vCPU inherits from its n tuned online siblings (sib[i] read back from vCPU
 * idx[i]): a setting only when it is the VM's, i.e. every sibling has the same value
 * (bandwidth: a quota; policy: other than SCHED_OTHER; resctrl: a group), and only a value
 * vcpuset can apply (policies other, batch, idle, fifo, rr). Settings already set in t (given)
 * are left alone; the others that agree are copied with src HR_INHERITED. For each setting
 * not inherited because the siblings differ or the value cannot be applied, why[k] (k in
 * enum hostres_setting) says so ("siblings differ: vcpu0 0, vcpu1 1"); else why[k] is "".
 * Returns how many settings were inherited.
 */
enum hostres_setting { HR_S_BW, HR_S_CPUS, HR_S_MEMS, HR_S_AFF, HR_S_SCHED, HR_S_RC, HR_NSETTINGS };
#define HOSTRES_WHY_MAX 256
extern const char *const hostres_setting_names[HR_NSETTINGS];
int hostres_inherit(struct hostres_tune *t, const struct hostres_tune *sib, const int *idx, int n,
		    char why[HR_NSETTINGS][HOSTRES_WHY_MAX]);

/* The settings still HR_UNSET in t, copied from from (with their sources). */
void hostres_tune_fill(struct hostres_tune *t, const struct hostres_tune *from);

/* Can vcpuset give a thread this policy (other, batch, idle, fifo, rr)? */
bool hostres_policy_known(int policy);

/* Is there a vcpu<index> group in some hierarchy in use? */
bool hostres_vcpu_has_group(struct hostres *h, int index);

/*
 * Drift (issue 15): in each hierarchy where QEMU's vCPUs have groups (a vcpuN directory under
 * the parent), each vCPU thread belongs in its own. 1 when thread tid of vCPU index is in
 * <parent>/vcpu<index> in every such hierarchy, 0 when it is missing from one, -errno when
 * it cannot be told (no cgroups found: 1).
 */
int hostres_vcpu_placed(struct hostres *h, int index, int tid);

/* The vcpuN groups under QEMU's parent in any hierarchy: their indices, sorted, in *out. */
int hostres_vcpu_groups(struct hostres *h, int **out, int *n);

/*
 * The parents of the vcpuN groups, one absolute path per hierarchy in use: into paths (n
 * strings of size bytes), their number returned.
 */
int hostres_group_parents(struct hostres *h, char *paths, size_t size, int n);

/*
 * A QEMU that died left its vcpuN groups under parent (an absolute path): remove those that
 * are empty (the kernel refuses the others). Returns how many went.
 */
int hostres_remove_groups_at(struct hostres *h, const char *parent);

/* Does group vcpu<index> hold a thread in some hierarchy (or cannot it be read)? */
bool hostres_vcpu_group_used(struct hostres *h, int index);

/*
 * Read what the kernel says about vCPU index (thread tid): its groups' bandwidth and cpuset,
 * the thread's affinity, policy and resctrl groups. Sets src of each value found to src.
 * With out_json, also a report of the same (paths included).
 */
int hostres_vcpu_read(struct hostres *h, int index, int tid, struct hostres_tune *t,
		      enum hostres_src src, cJSON **out_json, struct vs_err *err);

/*
 * Give thread tid of QEMU (pid) the vcpu<index> groups and the settings of t, in libvirt's
 * order: groups, move, cpuset, bandwidth, affinity, scheduler, resctrl. tid 0 is allowed in
 * dry mode only (the thread does not exist yet). The thread is pinned for the setup (its start
 * time, a thread pidfd where the kernel has them) and checked after every act by its number:
 * one that exited meanwhile stops the setup with -ESRCH naming what may have reached another
 * thread.
 */
int hostres_vcpu_setup(struct hostres *h, int pid, int index, int tid,
		       const struct hostres_tune *t, struct vs_err *err);

/*
 * Before a plug: in a helper thread, move vcpuset into the cgroup it is already in (a no-op
 * that takes the kernel's cgroup migration lock), so that the grace period the first move
 * after a quiet while waits for passes while QEMU answers, not after. Needs no hierarchy of
 * QEMU's: vcpuset's own (from /proc/self) serve. A start while a move is still in flight
 * leaves that one to serve. Best effort, nothing in dry mode. wait joins the helper
 * (hostres_free does too).
 */
void hostres_warm_start(struct hostres *h);
void hostres_warm_wait(struct hostres *h);

/*
 * Tests: hook is called after each act on a thread by its number (its move into a cgroup, its
 * affinity, policy, resctrl groups), before the thread is checked to be the same one.
 */
void hostres_set_act_hook(struct hostres *h, void (*hook)(void *ctx, const char *act), void *ctx);

/* The thread ids of process pid now (/proc/<pid>/task): *out (caller frees), *n. */
int hostres_tasks(struct hostres *h, int pid, int **out, int *n);

/* Remove vcpu<index> from every hierarchy in use; problems are warnings. Returns removed. */
int hostres_vcpu_remove(struct hostres *h, int index);

/*
 * libvirt's emulator cpuset.mems widening around plugs: when QEMU's cpuset group is an
 * "emulator" group on a NUMA host, widen its mems to every host node with memory
 * (node/has_memory); restore puts the saved value back (and is a no-op otherwise).
 */
int hostres_emulator_widen(struct hostres *h, struct vs_err *err);
void hostres_emulator_restore(struct hostres *h);


/*
 * Process pid's start time (field 22 of /proc/<pid>/stat, clock ticks after boot): with the
 * pid, what tells one QEMU from a later one that got its pid.
 */
int hostres_start_time(struct hostres *h, int pid, unsigned long long *start, struct vs_err *err);

#endif
