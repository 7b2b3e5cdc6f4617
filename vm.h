/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vm: the conversation with one QEMU about its vCPUs. Connect and prove who serves the socket,
 * the pipelined start-up (vCPU queries, run state, identity), the vCPU table and its refresh,
 * a plug with the check after it, an unplug with its bounded wait, and the reconnection that
 * learns what a command whose answer was lost did. qmp.c is the wire under it; topo.c turns
 * what QEMU says into the table. Nothing here writes to the host, the audit log or the state
 * directory: what the caller must record comes back in the results.
 */
#ifndef VCPUSET_VM_H
#define VCPUSET_VM_H

#include <signal.h>
#include <stdbool.h>
#include <cjson/cJSON.h>

#include "qmp.h"
#include "topo.h"
#include "vcpuset.h"

struct vm;
struct hostres;

struct vm_opts {
	const char *socket;
	int connect_ms;  /* connect and greeting */
	int command_ms;  /* any one command's answer */
	bool trust_pid;  /* a peer without a pidfd, or without proof */
	bool ask_state;  /* query-status and query-migrate at start-up */
	bool ask_identity; /* query-name, query-uuid and query-kvm at start-up */
	const char *count; /* COUNT, for a legacy QEMU's maximum (cpu-add); NULL when none */
	volatile sig_atomic_t *stop; /* set by a signal: waits end early; NULL: none */
};

/* What the caller hears of, as it happens; any may be NULL. */
struct vm_hooks {
	void (*warn)(void *ctx, const char *msg);
	/* every event read while waiting for an unplug (the guest's answers to plugs) */
	void (*event)(void *ctx, const cJSON *ev);
	/* host work that runs while QEMU answers the start-up queries (a cgroup lookup) */
	void (*meanwhile)(void *ctx);
	/* an unplug's wait begins: QEMU took device_del */
	void (*waiting)(void *ctx);
	qmp_trace_fn trace; /* the QMP traffic */
	void *ctx;
	/* an unplug's wait goes on: waited_ms of timeout_ms so far (each look at QEMU), or ends */
	void (*progress)(void *ctx, double waited_ms, double timeout_ms, bool done);
};

/* What QEMU says of the VM (the identity once read: vm_identity). */
struct vm_info {
	int pid;            /* QEMU's, proven (vm_connect); 0 before */
	bool can_hotplug;   /* query-hotpluggable-cpus answered */
	bool kvm;
	char hotplug_error[512]; /* why QEMU cannot hot-plug; "" when it can, or has cpu-add */
	char run_state[32]; /* query-status, "" when unknown */
	char migration[32]; /* query-migrate's status, "none" when none, "" when unknown */
	char name[256];     /* query-name, "" when none */
	char uuid[40];      /* query-uuid, "" when none or all zeros */
};

/* What the caller must record of a step: an audit record, and of which outcome. */
enum vm_record { VM_REC_NONE, VM_REC_OK, VM_REC_FAILED };

/* Open the socket file (qmp_open: O_PATH, no symlink); nothing is connected yet. */
int vm_open(const struct vm_opts *o, struct hostres *h, const struct vm_hooks *hooks,
	    struct vm **out, struct vs_err *err);

/* Wrap a connected stream (tests: a socketpair); the peer is taken as QEMU with pid pid. */
int vm_adopt(int fd, int pid, const struct vm_opts *o, struct hostres *h,
	     const struct vm_hooks *hooks, struct vm **out, struct vs_err *err);

void vm_free(struct vm *vm);

/* The socket file's device and inode (the VM's lock key). */
void vm_socket_id(const struct vm *vm, unsigned long long *dev, unsigned long long *ino);

/*
 * Connect, wait for QEMU to greet, and prove that the process serving the socket is alive
 * and holds the other end of this connection (SO_PEERPIDFD, sock_diag). vm_info's pid then.
 */
int vm_connect(struct vm *vm, struct vs_err *err);

/*
 * The start-up, sent in one go behind qmp_capabilities: the vCPU queries, then what vm_opts
 * asks (run state, identity). vm_read reads the replies and builds the table (the identity
 * replies are read last, by vm_identity or before anything else is asked).
 */
int vm_start(struct vm *vm, struct vs_err *err);
int vm_read(struct vm *vm, struct vs_err *err);

const struct vm_info *vm_info(const struct vm *vm);
/* The table as QEMU last described it; NULL before vm_read. Valid until the next refresh. */
const struct topo_table *vm_table(const struct vm *vm);
/* QEMU's version from its greeting ("" before). */
const char *vm_version(const struct vm *vm);

/* Read the identity replies if they are not yet (a broken monitor is an error). */
int vm_identity(struct vm *vm, struct vs_err *err);

/*
 * Is the VM in a state where a change means what it says: running (paused and prelaunch
 * with force), no migration under way. Warns of a QEMU known to be bad, and of what could not
 * be checked.
 */
int vm_preflight(struct vm *vm, bool force, struct vs_err *err);

/* Ask QEMU for the vCPU table again. */
int vm_refresh(struct vm *vm, struct vs_err *err);

/* The next event (qmp_next_event). */
int vm_next_event(struct vm *vm, int timeout_ms, cJSON **ev, struct vs_err *err);

struct vm_plug {
	enum vm_record record;
	bool learned; /* the answer was lost; asked again, QEMU has plugged it (why says more) */
	bool undo;    /* QEMU took it, then the check failed: it must be unplugged again */
	char why[256];
};

/*
 * Plug step s with command qmp (device_add or cpu-add), then check what QEMU lists: the
 * entity online, a thread per vCPU that was not QEMU's before the plug. 0 when plugged and
 * checked (the table is fresh); -ENOTRECOVERABLE when QEMU cannot be asked what it did;
 * another negative errno otherwise, with res->undo when the vCPU is plugged and must go.
 */
int vm_plug(struct vm *vm, const struct topo_step *s, const cJSON *qmp, struct vm_plug *res,
	    struct vs_err *err);

struct vm_unplug {
	enum vm_record record;
	bool accepted; /* QEMU took device_del */
};

/*
 * Send qmp (device_del) for the entity at vcpu and wait up to timeout_ms for it to go. 0 when
 * gone and confirmed by a refresh; -EINPROGRESS when still there at the deadline (or a stop
 * signal); -EPERM when the guest refused; -ENOTRECOVERABLE when QEMU cannot be asked whether
 * it took it; another negative errno on errors.
 */
int vm_unplug(struct vm *vm, int vcpu, int vcpus, const cJSON *qmp, double timeout_ms,
	      struct vm_unplug *res, struct vs_err *err);

/*
 * Take out again the entity a failed step s plugged with plug_qmp (its alias, when the table
 * has none yet, is the id device_add was given): vm_unplug's results; -EOPNOTSUPP on a
 * legacy QEMU (cpu-add has no undo).
 */
int vm_unplug_again(struct vm *vm, const struct topo_step *s, const cJSON *plug_qmp,
		    double timeout_ms, struct vm_unplug *res, struct vs_err *err);

/*
 * The guest agent's channel as QEMU has it: the unix socket QEMU listens on for the chardev
 * of its virtserialport named port (QOM, query-chardev), and whether the guest has opened the
 * port (frontend-open: an agent runs). 0; -ENOENT when QEMU has no such port; -EOPNOTSUPP
 * when it is no socket QEMU listens on, or QEMU has no qom-list to tell; another negative
 * errno when the monitor fails.
 */
int vm_agent_channel(struct vm *vm, const char *port, char *path, size_t size, bool *guest_open,
		     struct vs_err *err);

#endif
