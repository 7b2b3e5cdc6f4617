/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libvirt: a libvirt domain's live status file (/run/libvirt/qemu/NAME.xml) — find it by the
 * monitor socket or by the domain's name, id or uuid; read what libvirt would give a new vCPU;
 * write back what a run changed, as libvirt would have, while libvirt is away.
 */
#ifndef VCPUSET_LIBVIRT_H
#define VCPUSET_LIBVIRT_H

#include <stdbool.h>
#include <stddef.h>

#include "hostres.h"
#include "vcpuset.h"

/* Where libvirt's files are; NULL members take the defaults. */
struct lv_roots {
	const char *run;    /* /run/libvirt/qemu: the status files */
	const char *etc;    /* /etc/libvirt/qemu: the persistent configs */
	const char *proc;   /* /proc: is a libvirt daemon running? */
	const char *pidrun; /* /run: libvirtd.pid, virqemud.pid */
	const char *prefix; /* put before the paths the files name (--sysroot), or NULL */
};

struct lv;

/*
 * Is path libvirt's layout for a monitor, ".../domain-<id>-<name>/monitor.sock"? Its id and
 * name (libvirt's short name: the first 20 characters) into *id and name; false if not.
 */
bool lv_name_from_socket(const char *path, int *id, char *name, size_t size);

/*
 * The status file of the domain whose monitor socket is socket. 0 with *out NULL: the
 * socket is no libvirt domain's (no status file names it, and its path is not libvirt's
 * domain-N-NAME/monitor.sock). 1 with *out: a libvirt domain's; lv_why() says why it cannot
 * be used when it cannot (its status file missing, torn, or naming another socket).
 */
int lv_find_socket(const struct lv_roots *r, const char *socket, struct lv **out,
		   struct vs_err *err);

/*
 * The running domain named domain (its name, id or uuid, as virsh takes them): 0 with *out,
 * or -ENOENT with a message naming the domains there are.
 */
int lv_find_domain(const struct lv_roots *r, const char *domain, struct lv **out,
		   struct vs_err *err);
void lv_free(struct lv *lv);

/* A status file's text, parsed (not from a file: for fuzzing); NULL if out of memory. */
struct lv *lv_from_text(const char *text, size_t len);

/* Is a libvirt daemon running (libvirtd, virtqemud)? Its pid, or 0; what names it ("libvirtd"). */
int lv_daemon(const struct lv_roots *r, char *what, size_t size);

/* The socket to connect to ("" when not known), the domain's name, id, uuid, status file. */
const char *lv_socket(const struct lv *lv);
/*
 * The guest agent's socket as the status file has it: the unix <channel> whose target is named
 * port, else <channelTargetDir>/port; with --sysroot's prefix. 0, or -ENOENT when neither.
 */
int lv_agent_socket(const struct lv *lv, const char *port, char *buf, size_t size);
const char *lv_name(const struct lv *lv);
int lv_id(const struct lv *lv);
const char *lv_uuid(const struct lv *lv);
const char *lv_path(const struct lv *lv);

/* Why the status file cannot be read or written, or NULL when it can. */
const char *lv_why(const struct lv *lv);

/* Check the status file names QEMU's pid: otherwise lv_why() says so from now on. */
void lv_check_pid(struct lv *lv, int qemu_pid);

/*
 * What libvirt gives a new vCPU vcpu (settings of t still HR_UNSET only, then HR_LIBVIRT):
 * its <vcpupin>, else numad's cpuset (placement auto), else <vcpu cpuset>, as cpuset.cpus
 * and affinity; <numatune> strict or restrictive (a cell's restrictive <memnode> first) as
 * cpuset.mems; <vcpusched>; the first <cachetune>/<memorytune> and its monitor covering it;
 * <period>/<quota>. Values that cannot be used are said in warn (one line, "" if none).
 * Returns how many settings it gave.
 */
int lv_tune(const struct lv *lv, int vcpu, struct hostres_tune *t, char *warn, size_t size);

/* One slot of the vCPU table, as libvirt's status keeps it. */
struct lv_vcpu {
	bool online;
	bool hotpluggable; /* online: plugged with an alias; offline ones are always */
	int order;         /* 1-based enable order, 0 when offline */
	int tid;           /* 0 when not known */
};

/*
 * What a run changed, for lv_render: the table now (n slots), and the <cputune> entries of
 * vCPUs plugged from the command line: pin[i] a cpulist ("" none), sched[i] a policy
 * (SCHED_*, -1 none) with prio[i]; drop[i] removes vCPU i's vcpupin and vcpusched (those
 * vcpuset wrote, once it is unplugged). Arrays of n, each may be NULL.
 */
struct lv_change {
	int n;
	const struct lv_vcpu *v;
	const char *const *pin;
	const int *sched, *prio;
	const bool *drop;
	bool tids_valid;
};

/*
 * The status file after the change (*out, caller frees): the count, <vcpus> (enabled,
 * hotpluggable, order of every vCPU), the vCPU thread list, the <cputune> entries. *same is
 * true when it says what the file says already.
 */
int lv_render(struct lv *lv, const struct lv_change *ch, char **out, bool *same,
	      struct vs_err *err);

/*
 * The change as a unified diff of the file before and after (both written the same way, so
 * that only what changed shows): a new string, NULL if out of memory.
 */
char *lv_diff(const struct lv *lv, const char *after);

/* The file as it was read (for the copy kept in the state directory). */
const char *lv_text(const struct lv *lv);

/*
 * Replace the status file with text: only when no daemon runs and the file is still the one
 * read; a temporary file beside it (mode and owner of the old one), fsync, rename, fsync of
 * the directory.
 */
int lv_write(struct lv *lv, const struct lv_roots *r, const char *text, struct vs_err *err);

/*
 * The persistent config's vCPU count (its <vcpu current>, else its maximum): > 0, 0 when
 * the domain has none (a transient domain), or -errno.
 */
int lv_persistent_count(const struct lv *lv, const struct lv_roots *r, char *path, size_t size);

/* The domain's resctrl machine name, as libvirt makes it ("qemu-3-ol8"). */
void lv_machine_name(int id, const char *name, char *buf, size_t size);

/* Release libxml2's globals (at exit, for leak checkers). */
void lv_cleanup(void);

#endif
