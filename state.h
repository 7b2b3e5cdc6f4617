/* SPDX-License-Identifier: GPL-2.0-or-later */
/* state: one directory of per-VM state — each VM's lock and its ledger of unfinished unplugs. */
#ifndef VCPUSET_STATE_H
#define VCPUSET_STATE_H

#include <stdbool.h>
#include <cjson/cJSON.h>

#include "vcpuset.h"

/*
 * A VM is keyed by QEMU's pid and its start time (field 22 of /proc/<pid>/stat, in clock
 * ticks after boot), so a new QEMU with a recycled pid is never taken for the old one.
 */
struct state_key {
	int pid;
	unsigned long long start;
};

/*
 * What an entry is: an unplug QEMU accepted that has not completed (or that the guest
 * refused), or the write-ahead intent of a plug or an unplug about to be asked: written
 * before the command goes to QEMU, dropped (or made pending) once the step is complete. An
 * intent found by a run that holds the VM's lock was left by a run that died.
 */
enum state_kind { STATE_PENDING, STATE_PLUG, STATE_UNPLUG };

struct state_entry {
	enum state_kind kind;
	int vcpu, vcpus;          /* head index, entity size */
	int tid;                  /* its thread when it was asked, 0 if unknown */
	int old_count, new_count; /* the counts of its audit record */
	long long time;           /* when it was asked, seconds since the epoch */
	bool refused;             /* the guest refused it: it stays, and counts */
	bool recorded;            /* an intent whose success record is being sent: not again */
	char alias[64];
	char qom_path[256];       /* "" for a plug: QEMU names it */
	char settings[1024];      /* a plug's host settings (hostres_tune_text), "" for none */
};

struct state;

/*
 * Open the state directory dir (an absolute path), walking it from / one component at a time
 * without following a symlink and making its last component (0700) if missing; it must be
 * owned by the effective uid and not writable by group or others. The handle is the
 * caller's: state_free(), which also releases the lock.
 */
int state_open(const char *dir, struct state **out, struct vs_err *err);

/* The same on a directory fd the caller opened (taken), named path in messages: for tests. */
int state_adopt(int dirfd, const char *path, struct state **out, struct vs_err *err);
void state_free(struct state *s);

/*
 * Take the lock of the VM whose monitor socket file has device dev and inode ino (flock on
 * sock-<dev>-<ino>.lock), waiting up to timeout_s; this pid is written in it. -EWOULDBLOCK
 * on timeout, the message naming the holder's pid. Held until state_free().
 */
int state_lock(struct state *s, unsigned long long dev, unsigned long long ino, double timeout_s,
	       struct vs_err *err);

/*
 * The ledger of VM k: *out (caller frees) with *n entries; none when there is no file. A
 * torn, oversized, foreign or linked file, or a malformed entry, is not trusted: it is left
 * out and *why (may be NULL) says so ("" when all was read).
 */
int state_load(struct state *s, const struct state_key *k, struct state_entry **out, int *n,
	       char *why, size_t why_size);

/*
 * Write the ledger of VM k atomically (temporary file 0600, rename; no fsync: it describes
 * live processes, and a host crash ends them); no entries removes the file.
 */
int state_save(struct state *s, const struct state_key *k, const struct state_entry *e, int n,
	       struct vs_err *err);

/*
 * Remember where VM k's vcpuN groups are: the parents (absolute paths) in each hierarchy,
 * written to qemu-<pid>-<start>.groups, so that they can be removed once that QEMU is gone.
 */
int state_groups_save(struct state *s, const struct state_key *k, const char *const *parents,
		      int n, struct vs_err *err);

/*
 * Another file of VM k's, qemu-<pid>-<start>.<suffix> (suffixes "libvirt.xml": the libvirt
 * status file before vcpuset last wrote it; "cputune": the vCPUs whose libvirt <cputune>
 * entries vcpuset wrote), written whole as text (NULL removes it); removed with the VM's
 * other files once it is gone. get: its text (caller frees), NULL when there is none.
 */
int state_file_put(struct state *s, const struct state_key *k, const char *suffix,
		   const char *text, struct vs_err *err);
char *state_file_get(struct state *s, const struct state_key *k, const char *suffix);

/*
 * Remove the files of VMs that are gone: those for which alive(ctx, key) is false (no such
 * pid, or one started at another time). Before a groups file goes, groups(ctx, parent) is
 * called with each parent it lists (may be NULL). Calls removed(ctx, name) for each file
 * removed.
 */
void state_gc(struct state *s, bool (*alive)(void *ctx, const struct state_key *k),
	      void (*removed)(void *ctx, const char *name),
	      void (*groups)(void *ctx, const char *parent), void *ctx);

/* An entry as the JSON report shows it (the ledger's own fields); NULL if out of memory. */
cJSON *state_entry_json(const struct state_entry *e);

#endif
