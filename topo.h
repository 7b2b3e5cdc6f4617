/* SPDX-License-Identifier: GPL-2.0-or-later */
/* topo: the vCPU table from QEMU's two queries, the plan for a COUNT, cpulists. No I/O. */
#ifndef VCPUSET_TOPO_H
#define VCPUSET_TOPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "vcpuset.h"

/* QEMU's vocabulary for vCPUs: main.c names commands only through these. */
#define TOPO_CMD_HOTPLUGGABLE "query-hotpluggable-cpus"
#define TOPO_CMD_CPUS "query-cpus-fast"
#define TOPO_CMD_COMMANDS "query-commands"
#define TOPO_CMD_MACHINES "query-machines"
#define TOPO_CMD_NAME "query-name"
#define TOPO_CMD_UUID "query-uuid"
#define TOPO_CMD_KVM "query-kvm"
#define TOPO_CMD_LEGACY_ADD "cpu-add"
#define TOPO_CMD_STATUS "query-status"
#define TOPO_CMD_MIGRATE "query-migrate"

/* Topology keys, outermost first; the first TOPO_NSORT are the sort keys. */
enum topo_key {
	TOPO_DRAWER,
	TOPO_BOOK,
	TOPO_SOCKET,
	TOPO_DIE,
	TOPO_CLUSTER,
	TOPO_MODULE,
	TOPO_CORE,
	TOPO_THREAD,
	TOPO_NODE,
	TOPO_NKEYS
};
#define TOPO_NSORT TOPO_NODE
extern const char *const topo_key_names[TOPO_NKEYS];

#define TOPO_NAME_MAX 64  /* ids and aliases, with the NUL */
#define TOPO_PATH_MAX 256 /* qom-paths, with the NUL */

struct topo_vcpu {
	int index;
	int head;  /* index of the first slot of this slot's entity */
	int vcpus; /* entity size on the head, 0 on the other slots of the entity */
	bool online;
	bool hotpluggable;
	int tid;     /* host thread id; 0 = unknown or not running */
	int qemu_id; /* QEMU's cpu-index, -1 when offline */
	int order;   /* 1-based enable order, 0 when offline */
	long long ids[TOPO_NKEYS]; /* -1 where QEMU reported no such key */
	signed char keys[TOPO_NKEYS]; /* heads: the props' topology keys in QEMU's order, -1 ends */
	const char *type;     /* QEMU's vCPU type, "" if unknown; the table's string */
	char alias[TOPO_NAME_MAX];
	const char *qom_path; /* "" when offline; the table's string */
	cJSON *extra; /* heads: props keys outside topo_key_names, verbatim, owned; usually NULL */
};

struct topo_more;

struct topo_table {
	int n;      /* slots, i.e. maxcpus */
	int online; /* online slots */
	bool legacy;     /* no query-hotpluggable-cpus; plug with cpu-add, no unplug */
	bool tids_valid; /* thread ids passed the TCG rule and may be acted on */
	char target[24]; /* QEMU's target ("x86_64", "ppc64"), "" if unknown */
	struct topo_vcpu *v;
	char *strings;   /* the slots' types and qom-paths */
	struct topo_more *more; /* qom-paths of vCPUs plugged since (topo_update) */
};

/*
 * Build the table from the "return" values of query-hotpluggable-cpus (NULL on a legacy QEMU,
 * then legacy_max gives the slot count) and query-cpus-fast. qemu_pid feeds the TCG thread-id
 * rule; when that rule fails the tids of prev (may be NULL) are kept, as libvirt does.
 * Everything QEMU says is validated. -EAGAIN means the two replies disagree (QEMU changed in
 * between): query again. The table is the caller's: topo_free().
 */
int topo_build(const cJSON *hotpluggable, const cJSON *cpus_fast, int qemu_pid, int legacy_max,
	       const struct topo_table *prev, struct topo_table **out, struct vs_err *err);
void topo_free(struct topo_table *t);

/*
 * Make t the table after one step, from query-cpus-fast alone (the online vCPUs: qom-path,
 * thread id), in place, at a cost that grows with the vCPUs online, not with the slots: each
 * entity is online when query-cpus-fast lists its qom-path. A path t does not know may only
 * be new_path (not NULL: the step plugged entity slot, QEMU names it "/machine/peripheral/<id>");
 * anything else, or a legacy table, is -EAGAIN: the reply is not t after that step (another
 * client changed the VM): ask both queries again (topo_build). Thread ids and the TCG rule as
 * topo_build. On failure t is unchanged; on success *undo puts it back as it was (topo_undo:
 * the thread ids fail a later check) or is dropped (topo_undo_free).
 */
struct topo_undo;
int topo_update(struct topo_table *t, const cJSON *cpus_fast, int qemu_pid, int slot,
		const char *new_path, struct topo_undo **undo, struct vs_err *err);
void topo_undo(struct topo_table *t, struct topo_undo *u);
void topo_undo_free(struct topo_undo *u);

/*
 * Does query-cpus-fast's reply list the entity with qom-path path (any of its threads)?
 * 1 yes, 0 no, or a negative errno for a malformed reply.
 */
int topo_cpus_list(const cJSON *cpus_fast, const char *path, struct vs_err *err);

/*
 * Check every thread id of an online slot with is_task(ctx, tid) (1 = a thread of QEMU).
 * Returns 0, or -ESRCH naming the first foreign tid. Skipped when !t->tids_valid.
 */
int topo_check_tids(const struct topo_table *t, int qemu_pid, int (*is_task)(void *ctx, int tid),
		    void *ctx, struct vs_err *err);

/* Validators, exported for tests: 0 or -EINVAL with a message naming the value. */
int topo_valid_name(const char *what, const char *s, struct vs_err *err);
int topo_valid_qom_path(const char *s, struct vs_err *err);

/* "socket-id=0 core-id=2 thread-id=0" for the keys present. Returns buf. */
char *topo_describe(const struct topo_vcpu *v, char *buf, size_t size);

/*
 * The props of head v as QEMU listed them (topology keys in QEMU's order, then any other
 * keys), the topology arguments of its device_add. NULL if out of memory.
 */
cJSON *topo_props(const struct topo_vcpu *v);

/* The slot as a JSON object (the fields of --status --json); NULL if out of memory. */
cJSON *topo_vcpu_json(const struct topo_vcpu *v, bool tids_valid);

/* COUNT: absolute (sign 0) or relative ('+' / '-'). */
struct topo_count {
	char sign;
	long long n;
};
int topo_parse_count(const char *s, struct topo_count *c, struct vs_err *err);
/* What COUNT c asks for, from cur: itself, or cur plus or minus it. */
long long topo_count_target(const struct topo_count *c, long long cur);

enum topo_op { TOPO_PLUG, TOPO_UNPLUG };

struct topo_step {
	enum topo_op op;
	int vcpu;  /* head index */
	int vcpus; /* entity size */
	int before, after; /* online counts around this step */
};

struct topo_plan {
	int before;  /* the count COUNT is measured from: online minus pending */
	int pending; /* vCPUs still online whose unplug is pending (busy) */
	int target, max;
	int nsteps;
	struct topo_step *steps;
};

/*
 * Plan the steps from t to COUNT c: plug the lowest free heads first, unplug the highest
 * heads with an alias first, whole entities only. busy (may be NULL, t->n entries) marks
 * slots that must not be touched (an unplug still pending): they count as gone, so COUNT is
 * measured from the online vCPUs minus the busy ones. Refusals are -EINVAL or -ERANGE with
 * the numbers in the message; nothing to do is 0 steps.
 */
int topo_plan(const struct topo_table *t, const struct topo_count *c, const bool *busy,
	      struct topo_plan *p, struct vs_err *err);
void topo_plan_clear(struct topo_plan *p);

/*
 * Plan the steps that plug (enable) or unplug exactly the vCPUs of list (a cpulist of
 * indices): whole entities, plugs lowest first, unplugs highest first. Refused, nothing
 * planned (-EINVAL or -ERANGE naming the indices): a bad or empty list, an index past the
 * last, part of an entity (the whole one named), a vCPU whose unplug is pending, an unplug of
 * a vCPU present at boot, some of the list already in the asked state, a legacy QEMU. All of
 * it already in the asked state: 0 steps, nothing to do.
 */
int topo_plan_list(const struct topo_table *t, const char *list, bool enable, const bool *busy,
		   struct topo_plan *p, struct vs_err *err);

/*
 * Why vCPU i cannot be disabled now ("offline", "present at boot ...", "its unplug is
 * pending"), or NULL when it can (with the rest of its entity).
 */
const char *topo_why_fixed(const struct topo_table *t, int i, const bool *busy);

/*
 * The QMP command for step s: *cmd (static) and *args (new, caller deletes). Plug is
 * device_add (cpu-add on a legacy QEMU), unplug device_del.
 */
int topo_step_command(const struct topo_table *t, const struct topo_step *s, const char **cmd,
		      cJSON **args, struct vs_err *err);

enum topo_event {
	TOPO_EV_OTHER,    /* nothing to do with this vCPU */
	TOPO_EV_RELATED,  /* about this vCPU's removal, not its end: look again */
	TOPO_EV_DELETED,  /* the device is gone */
	TOPO_EV_REJECTED, /* the guest refused to release it */
};

/*
 * Is this QEMU version ("7.2.11") known to break vCPU hot-plug (under TCG when tcg)? true with
 * why (what breaks, and the source) in buf. The table is in topo.c.
 */
bool topo_qemu_known_bad(const char *version, bool tcg, char *why, size_t size);

/* The events vcpuset reads (NULL-terminated): the others need not be kept. */
extern const char *const topo_events[];

/* Classify event ev for the unplug of the device alias / qom_path. */
enum topo_event topo_event_kind(const cJSON *ev, const char *alias, const char *qom_path);

/*
 * Is ev the guest's ACPI answer to a CPU insert (ACPI_DEVICE_OST, source 1)? 1 with the
 * device id (*device points into ev) and the status (0 = taken), else 0.
 */
int topo_ost_insert(const cJSON *ev, const char **device, int *status);

/*
 * In the return value of query-hotpluggable-cpus, is the slot with head's topology still
 * plugged? 1 plugged, 0 free, negative errno if the reply is malformed or lacks the slot.
 */
int topo_slot_plugged(const cJSON *hotpluggable, const struct topo_vcpu *head, struct vs_err *err);

/*
 * cpulists ("0-3,8,10-11"). A mask is an array of uint64_t words covering nbits CPUs.
 * parse: -EINVAL on junk, reversed ranges or empty lists, -ERANGE past nbits.
 * format: ascending, ranges as a-b; returns the length or -ENOSPC.
 */
#define TOPO_MAX_CPUS 8192
int topo_cpulist_parse(const char *s, uint64_t *mask, size_t nbits, struct vs_err *err);
int topo_cpulist_format(const uint64_t *mask, size_t nbits, char *buf, size_t size);

/*
 * The one bounded number parser: decimal, optional leading '-' only when min < 0, no junk,
 * no overflow; -EINVAL or -ERANGE with a message naming what. Seconds accept fractions.
 */
int topo_parse_ll(const char *what, const char *s, long long min, long long max, long long *out,
		  struct vs_err *err);
int topo_parse_seconds(const char *what, const char *s, double min, double max, double *out,
		       struct vs_err *err);

#endif
