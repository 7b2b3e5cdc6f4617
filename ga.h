/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ga: the guest's view through its agent (qemu-ga): a bounded client for the agent's channel,
 * the guest's CPUs mapped to vCPU indices, and bringing plugged vCPUs online.
 */
#ifndef VCPUSET_GA_H
#define VCPUSET_GA_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "qmp.h"
#include "vcpuset.h"

#define GA_PORT_NAME "org.qemu.guest_agent.0" /* the virtio-serial port qemu-ga serves */
#define GA_MAX_MESSAGE (1u << 20)   /* bytes in one message from the agent */
#define GA_MAX_CPUS VS_MAX_SLOTS    /* CPUs in one guest-get-vcpus reply */
#define GA_REASON_MAX 600

struct ga;

/* One CPU as the guest lists it, and the vCPU it is (-1 when not known). */
struct ga_cpu {
	int id; /* the guest's logical id */
	bool online;
	bool can_offline;
	int vcpu;
};

/* How guest CPUs were matched to vCPU indices. */
enum ga_map {
	GA_MAP_NONE,  /* not (yet) */
	GA_MAP_ACPI,  /* each CPU's ACPI device (\_SB.CPUS.Cxxx, xxx = the vCPU index), read in sysfs */
	GA_MAP_ORDER, /* the k-th logical id is the k-th vCPU QEMU lists online */
};
extern const char *const ga_map_names[]; /* "none", "acpi", "order" */

struct ga_view {
	struct ga_cpu *cpu; /* sorted by logical id */
	int n;
	enum ga_map map;
	char why_order[GA_REASON_MAX]; /* why the ACPI names could not be used, "" */
};

/*
 * Connect to the agent's socket at path (a unix socket, not a symlink), check that process
 * expect_pid serves it (SO_PEERCRED; 0 = do not check), and resynchronise: 0xFF, then
 * guest-sync-delimited with a random id, everything before the agent's 0xFF dropped. All
 * within timeout_ms. trace (may be NULL) sees the traffic. 0 and *out, or a negative errno.
 */
int ga_connect(const char *path, int expect_pid, int timeout_ms, qmp_trace_fn trace,
	       void *trace_ctx, struct ga **out, struct vs_err *err);
void ga_free(struct ga *g);

/* A client on an already connected stream fd (tests); not resynchronised. */
int ga_adopt_fd(int fd, struct ga **out, struct vs_err *err);

/*
 * The guest's CPUs (guest-get-vcpus), mapped to the vCPU indices in online[] (the vCPUs QEMU
 * lists online, ascending, n_online of them): by ACPI name when the guest lets its files be
 * read (cached per logical id for the client's life), else by order. Within timeout_ms.
 */
int ga_view(struct ga *g, const int *online, int n_online, int timeout_ms, struct ga_view *v,
	    struct vs_err *err);
void ga_view_clear(struct ga_view *v);

/* The CPU of v that is vCPU i, or NULL. */
const struct ga_cpu *ga_cpu_of(const struct ga_view *v, int vcpu);

/*
 * guest-set-vcpus: each of the n logical ids to online[k]. The agent stops at the first it
 * cannot change: *done (may be NULL) is how many it changed, in order; fewer than n is -EIO
 * with the reason.
 */
int ga_set(struct ga *g, const int *ids, const bool *online, int n, int timeout_ms, int *done,
	   struct vs_err *err);

/* ---- after the plugs: the guest's part of each ---- */

enum ga_state { GA_UNKNOWN, GA_ONLINE, GA_ONLINED, GA_OFFLINE };
extern const char *const ga_state_names[]; /* "unknown", "online", "onlined", "offline" */

struct ga_result {
	enum ga_state state;
	int id;          /* the guest's logical id, -1 when not known */
	int can_offline; /* 1, 0, or -1 when not known */
	char reason[GA_REASON_MAX]; /* why unknown or offline; "" otherwise */
};

/*
 * Wait until the guest lists each of the n vCPUs in vcpus[] (just plugged) and brings it
 * online; one it leaves offline for grace_ms after listing it is onlined with guest-set-vcpus
 * unless !bring_online, and checked again. Everything within timeout_ms. res[k] is vcpus[k]'s
 * part; *sent says whether guest-set-vcpus was sent; view (cleared first) gets the guest's
 * CPUs as last listed. 0, or a negative errno when the agent failed (every result not settled
 * then is unknown, with the reason).
 */
int ga_settle(struct ga *g, const int *online, int n_online, const int *vcpus, int n,
	      bool bring_online, int grace_ms, int timeout_ms, struct ga_result *res, bool *sent,
	      struct ga_view *view, struct vs_err *err);

/* ---- parsers, exported for tests and fuzzing: strict, 0 or -EBADMSG with err set ---- */

/* guest-get-vcpus's "return": the CPUs, sorted by logical id (caller frees *cpu). */
int ga_parse_vcpus(const cJSON *ret, struct ga_cpu **cpu, int *n, struct vs_err *err);
/* A CPU's sysfs firmware_node/path as Linux prints QEMU's ACPI name: the vCPU index. */
int ga_parse_acpi_path(const char *text, size_t len, int *index, struct vs_err *err);
/* Standard base64 (guest-file-read's buf-b64) into out (size bytes at most): *len, or -1. */
int ga_base64(const char *in, unsigned char *out, size_t size, size_t *len);

#endif
