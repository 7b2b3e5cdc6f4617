/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for topo.c: tables from real QEMU captures, validation, planning, parsers. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdlib.h>

#include "peer.h"
#include "topo.h"

static struct vs_err err;

static cJSON *reply(cJSON *fx, const char *cmd)
{
	return cJSON_GetObjectItem(cJSON_GetObjectItem(fx, cmd), "return");
}

/* Build the table of a captured fixture; pid 1 is never one of its tids. */
static struct topo_table *load(const char *name)
{
	cJSON *fx = peer_fixture(name);
	struct topo_table *t = NULL;

	cr_assert_not_null(fx, "fixture %s", name);
	cr_assert_eq(topo_build(reply(fx, TOPO_CMD_HOTPLUGGABLE), reply(fx, TOPO_CMD_CPUS), 1, 0, NULL,
				&t, &err), 0, "%s: %s", name, err.msg);
	cJSON_Delete(fx);
	return t;
}

struct fixture_case {
	const char *name;
	int slots, online, entity;
	const char *type;
	const char *first_free; /* topology of the lowest free slot */
};

static struct fixture_case fixture_cases[] = {
	{ "x86-q35-2-8", 8, 2, 1, "qemu64-x86_64-cpu", "socket-id=0 core-id=2 thread-id=0" },
	{ "x86-q35-dies", 8, 2, 1, "qemu64-x86_64-cpu",
	  "socket-id=0 die-id=1 core-id=0 thread-id=0" },
	{ "x86-q35-modules", 16, 2, 1, "qemu64-x86_64-cpu",
	  "socket-id=0 module-id=0 core-id=1 thread-id=0" },
	{ "x86-q35-288", 288, 2, 1, "qemu64-x86_64-cpu", "socket-id=0 core-id=2 thread-id=0" },
	{ "x86-pc", 4, 3, 1, "qemu64-x86_64-cpu", "socket-id=1 core-id=1 thread-id=0" },
	{ "ppc64-pseries-t8", 32, 8, 8, "power10_v2.0-spapr-cpu-core", "core-id=8 node-id=0" },
	{ "s390x-ccw", 4, 2, 1, "qemu-s390x-cpu", "drawer-id=0 book-id=0 socket-id=0 core-id=2" },
	{ "x86-q35-64-plugged", 64, 3, 1, "qemu64-x86_64-cpu", "socket-id=0 core-id=3 thread-id=0" },
};

ParameterizedTestParameters(topo, builds_table_from_real_capture)
{
	return cr_make_param_array(struct fixture_case, fixture_cases,
				   sizeof(fixture_cases) / sizeof(fixture_cases[0]));
}

ParameterizedTest(struct fixture_case *fc, topo, builds_table_from_real_capture)
{
	struct topo_table *t = load(fc->name);
	char d[160];
	int i, k, free_slot = -1;

	cr_assert_eq(t->n, fc->slots, "%s slots", fc->name);
	cr_assert_eq(t->online, fc->online, "%s online", fc->name);
	cr_assert(t->tids_valid, "%s tids", fc->name);
	for (i = 0; i < t->n; i++) {
		const struct topo_vcpu *v = &t->v[i];

		if (free_slot < 0 && !v->online)
			free_slot = i;
		if (v->vcpus) {
			cr_assert_eq(v->vcpus, fc->entity, "%s slot %d", fc->name, i);
			cr_assert_str_eq(v->type, fc->type);
			cr_assert_geq(v->keys[0], 0, "%s slot %d: props have topology keys", fc->name, i);
		}
		if (i > 0) {
			/* Sorted by the whole topology, outermost first. */
			for (k = 0; k < TOPO_NSORT && t->v[i - 1].ids[k] == v->ids[k]; k++)
				;
			cr_assert(k == TOPO_NSORT ? v->vcpus == 0 : t->v[i - 1].ids[k] < v->ids[k],
				  "%s: slot %d is out of order", fc->name, i);
		}
		if (v->online) {
			cr_assert_gt(v->tid, 0, "%s slot %d has a thread", fc->name, i);
			cr_assert_gt(v->order, 0);
			cr_assert(!v->hotpluggable || v->alias[0]);
		} else {
			cr_assert_eq(v->tid, 0);
			cr_assert(v->hotpluggable);
		}
	}
	cr_assert_geq(free_slot, 0);
	cr_assert_str_eq(topo_describe(&t->v[free_slot], d, sizeof(d)), fc->first_free, "%s",
			 fc->name);
	topo_free(t);
}

/* The table does not depend on the order QEMU lists the slots in: as is, reversed, mixed. */
Test(topo, slot_order_in_the_reply_does_not_matter)
{
	static const char *const orders[] = { "asis", "reversed", "mixed" };
	struct topo_table *want = load("x86-q35-dies"), *t;
	int o, i, n;

	for (o = 0; o < 3; o++) {
		cJSON *fx = peer_fixture("x86-q35-dies"), *hp = reply(fx, TOPO_CMD_HOTPLUGGABLE);
		cJSON *re = cJSON_CreateArray(), *it;

		n = cJSON_GetArraySize(hp);
		for (i = 0; i < n; i++) {
			/* reversed: n-1..0; mixed: the odd ones first, then the even ones */
			int from = o == 0 ? i : o == 1 ? n - 1 - i : i < n / 2 ? 2 * i + 1 : 2 * (i - n / 2);

			it = cJSON_GetArrayItem(hp, from);
			cJSON_AddItemToArray(re, cJSON_Duplicate(it, 1));
		}
		t = NULL;
		cr_assert_eq(topo_build(re, reply(fx, TOPO_CMD_CPUS), 1, 0, NULL, &t, &err), 0, "%s: %s",
			     orders[o], err.msg);
		cr_assert_eq(t->n, want->n);
		for (i = 0; i < t->n; i++) {
			cr_assert_arr_eq(t->v[i].ids, want->v[i].ids, sizeof(t->v[i].ids), "%s: slot %d",
					 orders[o], i);
			cr_assert_str_eq(t->v[i].qom_path, want->v[i].qom_path, "%s: slot %d", orders[o], i);
			cr_assert_eq(t->v[i].tid, want->v[i].tid);
		}
		topo_free(t);
		cJSON_Delete(re);
		cJSON_Delete(fx);
	}
	topo_free(want);
}

Test(topo, aarch64_virt_cannot_hotplug_but_has_a_table)
{
	cJSON *fx = peer_fixture("aarch64-virt");
	cJSON *e = cJSON_GetObjectItem(cJSON_GetObjectItem(fx, TOPO_CMD_HOTPLUGGABLE), "error");
	struct topo_table *t = NULL;

	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(e, "class")), "GenericError");
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(e, "desc")),
			 "machine does not support hot-plugging CPUs");
	cr_assert_eq(topo_build(NULL, reply(fx, TOPO_CMD_CPUS), 1, 0, NULL, &t, &err), 0, "%s", err.msg);
	cr_assert_eq(t->n, 2);
	cr_assert_eq(t->online, 2);
	cr_assert(!t->v[0].hotpluggable && !t->v[1].hotpluggable);
	cr_assert_str_eq(t->target, "aarch64");
	topo_free(t);
	cJSON_Delete(fx);
}

Test(topo, ppc64_threads_map_into_their_core)
{
	struct topo_table *t = load("ppc64-pseries-t8");
	int i;

	for (i = 0; i < 8; i++) {
		cr_assert(t->v[i].online);
		cr_assert_eq(t->v[i].head, 0);
		cr_assert_eq(t->v[i].vcpus, i == 0 ? 8 : 0);
		cr_assert_eq(t->v[i].qemu_id, i);
		cr_assert_str_eq(t->v[i].qom_path, "/machine/unattached/device[1]");
	}
	cr_assert_eq(t->v[8].vcpus, 8);
	cr_assert_eq(t->v[8].ids[TOPO_CORE], 8);
	cr_assert_eq(t->v[9].head, 8);
	topo_free(t);
}

Test(topo, x86_modules_sort_module_before_core)
{
	struct topo_table *t = load("x86-q35-modules");

	/* modules=2,cores=2,threads=2: slot 4 is module 1, core 0 (libvirt's sort gets this wrong). */
	cr_assert_eq(t->v[4].ids[TOPO_MODULE], 1);
	cr_assert_eq(t->v[4].ids[TOPO_CORE], 0);
	cr_assert_eq(t->v[3].ids[TOPO_MODULE], 0);
	cr_assert_eq(t->v[3].ids[TOPO_CORE], 1);
	cr_assert_eq(t->v[3].ids[TOPO_THREAD], 1);
	topo_free(t);
}

Test(topo, plugged_vcpu_has_alias_and_order)
{
	struct topo_table *t = load("x86-q35-64-plugged");

	cr_assert_str_eq(t->v[2].alias, "vcpu2");
	cr_assert_str_eq(t->v[2].qom_path, "/machine/peripheral/vcpu2");
	cr_assert_eq(t->v[2].order, 3);
	cr_assert(t->v[2].hotpluggable);
	cr_assert(!t->v[0].hotpluggable);
	cr_assert_str_eq(t->v[0].alias, "");
	topo_free(t);
}

/* --- the TCG rule and foreign threads --- */

static cJSON *fast_with_tids(const char *name, int a, int b)
{
	cJSON *fx = peer_fixture(name), *cf = cJSON_Duplicate(reply(fx, TOPO_CMD_CPUS), 1);

	cJSON_SetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(cf, 0), "thread-id"), a);
	cJSON_SetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(cf, 1), "thread-id"), b);
	cJSON_Delete(fx);
	return cf;
}

Test(topo, tcg_rule_drops_duplicate_and_main_thread_ids)
{
	cJSON *fx = peer_fixture("x86-q35-2-8"), *hp = reply(fx, TOPO_CMD_HOTPLUGGABLE);
	cJSON *same = fast_with_tids("x86-q35-2-8", 500, 500), *main = fast_with_tids("x86-q35-2-8", 77, 501);
	cJSON *fine = fast_with_tids("x86-q35-2-8", 600, 601);
	struct topo_table *t = NULL, *prev = NULL;

	cr_assert_eq(topo_build(hp, same, 77, 0, NULL, &t, &err), 0, "%s", err.msg);
	cr_assert(!t->tids_valid);
	cr_assert_eq(t->v[0].tid, 0);
	topo_free(t);
	cr_assert_eq(topo_build(hp, main, 77, 0, NULL, &t, &err), 0, "%s", err.msg);
	cr_assert(!t->tids_valid);
	cr_assert_eq(t->v[1].tid, 0);
	topo_free(t);
	/* A failing refresh keeps the thread ids known before. */
	cr_assert_eq(topo_build(hp, fine, 77, 0, NULL, &prev, &err), 0, "%s", err.msg);
	cr_assert(prev->tids_valid);
	cr_assert_eq(topo_build(hp, same, 77, 0, prev, &t, &err), 0, "%s", err.msg);
	cr_assert_eq(t->v[0].tid, 600);
	cr_assert_eq(t->v[1].tid, 601);
	topo_free(t);
	topo_free(prev);
	cJSON_Delete(same);
	cJSON_Delete(main);
	cJSON_Delete(fine);
	cJSON_Delete(fx);
}

static int only_600(void *ctx, int tid)
{
	(void)ctx;
	return tid == 600;
}

Test(topo, foreign_thread_is_refused)
{
	cJSON *fx = peer_fixture("x86-q35-2-8"), *cf = fast_with_tids("x86-q35-2-8", 600, 4242);
	struct topo_table *t = NULL;

	cr_assert_eq(topo_build(reply(fx, TOPO_CMD_HOTPLUGGABLE), cf, 77, 0, NULL, &t, &err), 0);
	cr_assert_eq(topo_check_tids(t, 77, only_600, NULL, &err), -ESRCH);
	cr_assert(strstr(err.msg, "thread 4242 for vCPU 1"), "%s", err.msg);
	cr_assert(strstr(err.msg, "not a thread of QEMU (pid 77)"), "%s", err.msg);
	topo_free(t);
	cJSON_Delete(cf);
	cJSON_Delete(fx);
}

/* --- strict parsing: every rejection names what was wrong --- */

struct bad_case {
	const char *hp; /* query-hotpluggable-cpus return */
	const char *cf; /* query-cpus-fast return */
	int rc;
	const char *msg;
};

#define SLOT(props, extra) "{\"props\":" props ",\"vcpus-count\":1,\"type\":\"t-cpu\"" extra "}"
#define P0 "{\"socket-id\":0,\"core-id\":0,\"thread-id\":0}"
#define P1 "{\"socket-id\":0,\"core-id\":1,\"thread-id\":0}"
#define ONLINE0 ",\"qom-path\":\"/machine/unattached/device[0]\""
#define CF0 "[{\"cpu-index\":0,\"thread-id\":100,\"qom-path\":\"/machine/unattached/device[0]\"}]"

static struct bad_case bad_cases[] = {
	{ "{}", CF0, -EINVAL, "did not return a list" },
	{ "[]", CF0, -EINVAL, "returned no slots" },
	{ "[" SLOT(P0, ONLINE0) ",42]", CF0, -EINVAL, "entry 1: slot is not an object" },
	{ "[{\"props\":" P0 ",\"vcpus-count\":1}]", CF0, -EINVAL, "slot has no 'type'" },
	{ "[{\"props\":" P0 ",\"type\":\"t\"}]", CF0, -EINVAL, "slot has no 'vcpus-count'" },
	{ "[{\"vcpus-count\":1,\"type\":\"t\"}]", CF0, -EINVAL, "slot has no 'props'" },
	{ "[{\"props\":" P0 ",\"vcpus-count\":\"1\",\"type\":\"t\"}]", CF0, -EINVAL,
	  "vcpus-count is not a number" },
	{ "[{\"props\":" P0 ",\"vcpus-count\":0,\"type\":\"t\"}]", CF0, -EINVAL,
	  "vcpus-count 0 is not an integer in 1..16384" },
	{ "[" SLOT("{\"socket-id\":-1,\"core-id\":0}", ONLINE0) "]", CF0, -EINVAL,
	  "socket-id -1 is not an integer" },
	{ "[" SLOT("{\"socket-id\":99999999999,\"core-id\":0}", ONLINE0) "]", CF0, -EINVAL,
	  "socket-id 99999999999 is not an integer" },
	{ "[" SLOT("{\"socket-id\":0.5,\"core-id\":0}", ONLINE0) "]", CF0, -EINVAL,
	  "socket-id 0.5 is not an integer" },
	{ "[" SLOT("{\"die-id\":0}", ONLINE0) "]", CF0, -EINVAL, "props report no topology" },
	{ "[" SLOT("{\"core-id\":0,\"x\":[1]}", ONLINE0) "]", CF0, -EINVAL,
	  "props key 'x' is not a plain value" },
	{ "[" SLOT("{\"core-id\":0,\"driver\":\"evil\"}", ONLINE0) "]", CF0, -EINVAL,
	  "props has a 'driver' key" },
	{ "[" SLOT("{\"core-id\":0,\"socket-id\":0,\"core-id\":1}", ONLINE0) "]", CF0, -EINVAL,
	  "props has 'core-id' twice" },
	{ "[" SLOT(P0, ONLINE0) "," SLOT(P0, "") "]", CF0, -EINVAL,
	  "lists the slot socket-id=0 core-id=0 thread-id=0 twice" },
	{ "[" SLOT(P0, ONLINE0) "," SLOT(P1, ONLINE0) "]", CF0, -EINVAL,
	  "lists qom-path '/machine/unattached/device[0]' twice" },
	{ "[{\"props\":" P0 ",\"vcpus-count\":1,\"type\":\"t cpu\"}]", CF0, -EINVAL,
	  "vCPU type 't cpu' has an unexpected character" },
	{ "[" SLOT(P0, ",\"qom-path\":\"/machine/../etc\"") "]", CF0, -EINVAL,
	  "qom-path '/machine/../etc' has an empty, '.' or '..' component" },
	{ "[" SLOT(P0, ",\"qom-path\":\"/machine/a b\"") "]", CF0, -EINVAL,
	  "qom-path '/machine/a b' has a space or control character" },
	{ "[" SLOT(P0, ",\"qom-path\":\"/machine/a\\u0001\"") "]", CF0, -EINVAL,
	  "has a space or control character" },
	{ "[" SLOT(P0, ",\"qom-path\":\"machine\"") "]", CF0, -EINVAL, "is not an absolute path" },
	{ "[" SLOT(P0, ",\"qom-path\":\"/machine/peripheral/vcpu..\"") "]",
	  "[{\"cpu-index\":0,\"thread-id\":100,\"qom-path\":\"/machine/peripheral/vcpu..\"}]", -EINVAL,
	  "alias 'vcpu..' has a character outside" },
	{ "[" SLOT(P0, ",\"qom-path\":\"/machine/peripheral/vcpu%\"") "]",
	  "[{\"cpu-index\":0,\"thread-id\":100,\"qom-path\":\"/machine/peripheral/vcpu%\"}]", -EINVAL,
	  "alias 'vcpu%' has a character outside [A-Za-z0-9_-]" },
	{ "[" SLOT(P0, ONLINE0) "]", "{}", -EINVAL, "query-cpus-fast did not return a list" },
	{ "[" SLOT(P0, ONLINE0) "]", "[]", -EINVAL, "query-cpus-fast returned no vCPUs" },
	{ "[" SLOT(P0, ONLINE0) "]", "[{\"cpu-index\":0,\"thread-id\":-5,\"qom-path\":\"/machine/unattached/device[0]\"}]",
	  -EINVAL, "thread-id -5 is not an integer" },
	{ "[" SLOT(P0, ONLINE0) "]", "[{\"cpu-index\":0,\"thread-id\":5}]", -EINVAL,
	  "entry 0: entry has no qom-path" },
	{ "[" SLOT(P0, ONLINE0) "]", "[{\"cpu-index\":0,\"thread-id\":5,\"qom-path\":\"/x\"}]",
	  -EAGAIN, "query-cpus-fast lists '/x', which query-hotpluggable-cpus does not" },
	{ "[" SLOT(P0, ONLINE0) "]", "[{\"cpu-index\":0,\"thread-id\":5,\"qom-path\":\"/machine/unattached/device[0]\"},"
	  "{\"cpu-index\":1,\"thread-id\":6,\"qom-path\":\"/machine/unattached/device[0]\"}]", -EINVAL,
	  "more threads for '/machine/unattached/device[0]' than its 1 vCPUs" },
};

ParameterizedTestParameters(topo, rejects_bad_replies)
{
	return cr_make_param_array(struct bad_case, bad_cases, sizeof(bad_cases) / sizeof(bad_cases[0]));
}

ParameterizedTest(struct bad_case *bc, topo, rejects_bad_replies)
{
	cJSON *hp = cJSON_Parse(bc->hp), *cf = cJSON_Parse(bc->cf);
	struct topo_table *t = NULL;

	cr_assert_not_null(hp, "test input %s", bc->hp);
	cr_assert_not_null(cf, "test input %s", bc->cf);
	memset(&err, 0, sizeof(err));
	cr_assert_eq(topo_build(hp, cf, 1, 0, NULL, &t, &err), bc->rc, "%s -> %s", bc->hp, err.msg);
	cr_assert_null(t);
	cr_assert(strstr(err.msg, bc->msg), "got '%s', want '%s'", err.msg, bc->msg);
	cJSON_Delete(hp);
	cJSON_Delete(cf);
}

Test(topo, hundred_thousand_slots_are_refused)
{
	cJSON *hp = cJSON_CreateArray(), *cf = cJSON_Parse(CF0);
	struct topo_table *t = NULL;
	int i;

	for (i = 0; i < 100000; i++)
		cJSON_AddItemToArray(hp, cJSON_Parse(SLOT(P0, "")));
	cr_assert_eq(topo_build(hp, cf, 1, 0, NULL, &t, &err), -E2BIG);
	cr_assert(strstr(err.msg, "100000 slots, more than the 16384"), "%s", err.msg);
	cJSON_Delete(hp);
	cJSON_Delete(cf);
}

/* --- planning --- */

struct plan_case {
	const char *fixture;
	const char *count;
	int rc;
	const char *steps; /* "+2 +3" or "-7" */
	const char *msg;
};

static struct plan_case plan_cases[] = {
	{ "x86-q35-64-plugged", "5", 0, "+3 +4", NULL },
	{ "x86-q35-64-plugged", "+1", 0, "+3", NULL },
	{ "x86-q35-64-plugged", "3", 0, "", NULL },
	{ "x86-q35-64-plugged", "2", 0, "-2", NULL },
	{ "x86-q35-64-plugged", "-1", 0, "-2", NULL },
	{ "x86-q35-64-plugged", "64", 0, NULL, NULL },
	{ "x86-q35-64-plugged", "65", -ERANGE, NULL, "COUNT 65 is above the maximum of 64 vCPUs" },
	{ "x86-q35-64-plugged", "0", -EINVAL, NULL, "COUNT must be at least 1" },
	{ "x86-q35-64-plugged", "-3", -EINVAL, NULL, "COUNT -3 from 3 vCPUs leaves 0" },
	{ "x86-q35-64-plugged", "1", -EINVAL, NULL,
	  "COUNT 1 is below the 2 vCPUs that cannot be unplugged" },
	{ "ppc64-pseries-t8", "24", 0, "+8 +16", NULL },
	{ "ppc64-pseries-t8", "15", -EINVAL, NULL,
	  "COUNT 15 is not reachable: this machine plugs vCPUs 8 at a time (8 online; nearest counts 8 and 16)" },
	{ "ppc64-pseries-t8", "23", -EINVAL, NULL, "nearest counts 16 and 24" },
	{ "ppc64-pseries-t8", "25", -EINVAL, NULL, "nearest counts 24 and 32" },
	{ "x86-pc", "4", 0, "+3", NULL },
	{ "x86-q35-modules", "4", 0, "+2 +3", NULL },
};

ParameterizedTestParameters(topo, plans_count)
{
	return cr_make_param_array(struct plan_case, plan_cases, sizeof(plan_cases) / sizeof(plan_cases[0]));
}

ParameterizedTest(struct plan_case *pc, topo, plans_count)
{
	struct topo_table *t = load(pc->fixture);
	struct topo_count c;
	struct topo_plan p;
	char got[256] = "";
	int i, rc;

	cr_assert_eq(topo_parse_count(pc->count, &c, &err), 0);
	memset(&err, 0, sizeof(err));
	rc = topo_plan(t, &c, NULL, &p, &err);
	cr_assert_eq(rc, pc->rc, "%s %s: %s", pc->fixture, pc->count, err.msg);
	for (i = 0; i < p.nsteps; i++) {
		size_t l = strlen(got);

		snprintf(got + l, sizeof(got) - l, "%s%c%d", i ? " " : "",
			 p.steps[i].op == TOPO_PLUG ? '+' : '-', p.steps[i].vcpu);
		cr_assert_eq(p.steps[i].after - p.steps[i].before,
			     p.steps[i].op == TOPO_PLUG ? p.steps[i].vcpus : -p.steps[i].vcpus);
	}
	if (pc->steps)
		cr_assert_str_eq(got, pc->steps, "%s %s", pc->fixture, pc->count);
	if (pc->msg)
		cr_assert(strstr(err.msg, pc->msg), "got '%s', want '%s'", err.msg, pc->msg);
	if (rc == 0 && !pc->steps)
		cr_assert_eq(p.nsteps, 61);
	topo_plan_clear(&p);
	topo_free(t);
}

Test(topo, busy_slot_is_skipped)
{
	struct topo_table *t = load("x86-q35-64-plugged");
	struct topo_count c = { '+', 1 };
	struct topo_plan p;
	bool *busy = calloc((size_t)t->n, sizeof(bool));

	busy[3] = true;
	cr_assert_eq(topo_plan(t, &c, busy, &p, &err), 0, "%s", err.msg);
	cr_assert_eq(p.steps[0].vcpu, 4);
	topo_plan_clear(&p);
	busy[2] = true;
	c = (struct topo_count){ '-', 1 };
	cr_assert_eq(topo_plan(t, &c, busy, &p, &err), -EINVAL);
	cr_assert(strstr(err.msg, "COUNT 1 is below the 2 vCPUs that cannot be unplugged"), "%s",
		  err.msg);
	free(busy);
	topo_free(t);
}

/* vCPU 2 (online, hot-plugged) is pending unplug: COUNT is measured from 3 - 1 = 2. */
struct pending_case {
	const char *count;
	int rc;
	const char *steps; /* "+3" ... */
	int before, target;
	const char *msg;
};

static const struct pending_case pending_cases[] = {
	{ "2", 0, "", 2, 2, NULL },          /* nothing to do: vCPU 2 is leaving already */
	{ "3", 0, "+3", 2, 3, NULL },        /* the next free slot, never the leaving one */
	{ "+1", 0, "+3", 2, 3, NULL },
	{ "+2", 0, "+3 +4", 2, 4, NULL },
	{ "-1", -EINVAL, NULL, 2, 0, "COUNT 1 is below the 2 vCPUs that cannot be unplugged" },
	{ "64", -ERANGE, NULL, 2, 0, "COUNT 64 is above the maximum of 63 vCPUs while an unplug is pending" },
	{ "63", 0, NULL, 2, 63, NULL },
};

ParameterizedTestParameters(topo, pending_unplug_counts_as_gone)
{
	return cr_make_param_array(struct pending_case, pending_cases,
				   sizeof(pending_cases) / sizeof(pending_cases[0]));
}

ParameterizedTest(struct pending_case *pc, topo, pending_unplug_counts_as_gone)
{
	struct topo_table *t = load("x86-q35-64-plugged");
	struct topo_count c;
	struct topo_plan p;
	bool *busy = calloc((size_t)t->n, sizeof(bool));
	char got[256] = "";
	int i, rc;

	cr_assert_eq(t->online, 3);
	busy[2] = true;
	cr_assert_eq(topo_parse_count(pc->count, &c, &err), 0);
	rc = topo_plan(t, &c, busy, &p, &err);
	cr_assert_eq(rc, pc->rc, "%s: %s", pc->count, err.msg);
	cr_assert_eq(p.before, pc->before, "%s", pc->count);
	cr_assert_eq(p.pending, 1, "%s", pc->count);
	for (i = 0; i < p.nsteps; i++) {
		size_t l = strlen(got);

		cr_assert_neq(p.steps[i].vcpu, 2, "%s: the leaving vCPU was planned", pc->count);
		if (i < 8)
			snprintf(got + l, sizeof(got) - l, "%s%c%d", i ? " " : "",
				 p.steps[i].op == TOPO_PLUG ? '+' : '-', p.steps[i].vcpu);
	}
	if (rc == 0) {
		cr_assert_eq(p.target, pc->target, "%s", pc->count);
		cr_assert_eq(p.nsteps ? p.steps[p.nsteps - 1].after : p.before, pc->target);
	}
	if (pc->steps)
		cr_assert_str_eq(got, pc->steps, "%s", pc->count);
	if (pc->msg)
		cr_assert(strstr(err.msg, pc->msg), "got '%s', want '%s'", err.msg, pc->msg);
	topo_plan_clear(&p);
	free(busy);
	topo_free(t);
}

Test(topo, legacy_plugs_with_cpu_add_and_refuses_unplug)
{
	cJSON *cf = cJSON_Parse(CF0), *args = NULL;
	struct topo_table *t = NULL;
	struct topo_count c = { 0, 3 };
	struct topo_plan p;
	const char *cmd;
	char *s;

	cr_assert_eq(topo_build(NULL, cf, 1, 4, NULL, &t, &err), 0, "%s", err.msg);
	cr_assert(t->legacy);
	cr_assert_eq(t->n, 4);
	cr_assert_eq(topo_plan(t, &c, NULL, &p, &err), 0, "%s", err.msg);
	cr_assert_eq(p.nsteps, 2);
	cr_assert_eq(topo_step_command(t, &p.steps[0], &cmd, &args, &err), 0);
	s = cJSON_PrintUnformatted(args);
	cr_assert_str_eq(cmd, "cpu-add");
	cr_assert_str_eq(s, "{\"id\":1}");
	free(s);
	cJSON_Delete(args);
	topo_plan_clear(&p);
	topo_free(t);
	cr_assert_eq(topo_build(NULL, cf, 1, 1, NULL, &t, &err), 0);
	t->v[0].online = true;
	t->online = 2;
	cr_assert_eq(topo_plan(t, &(struct topo_count){ 0, 1 }, NULL, &p, &err), -EINVAL);
	cr_assert(strstr(err.msg, "needs an unplug, which this QEMU cannot do"), "%s", err.msg);
	topo_free(t);
	cJSON_Delete(cf);
}

Test(topo, device_add_passes_props_verbatim)
{
	cJSON *fx = peer_fixture("x86-q35-dies"), *it, *props = NULL, *j;
	struct topo_table *t = NULL;
	struct topo_step s = { TOPO_PLUG, 2, 1, 2, 3 };
	const char *cmd;
	cJSON *args = NULL;
	char *txt;

	/* a key vcpuset does not know, on the slot of vCPU 2 (die 1, core 0) */
	cJSON_ArrayForEach(it, reply(fx, TOPO_CMD_HOTPLUGGABLE)) {
		cJSON *p = cJSON_GetObjectItem(it, "props");

		if (cJSON_GetObjectItem(p, "die-id")->valueint == 1 &&
		    cJSON_GetObjectItem(p, "core-id")->valueint == 0)
			props = p;
	}
	cr_assert_not_null(props);
	cJSON_AddStringToObject(props, "future-key", "kept");
	cr_assert_eq(topo_build(reply(fx, TOPO_CMD_HOTPLUGGABLE), reply(fx, TOPO_CMD_CPUS), 1, 0, NULL,
				&t, &err), 0, "%s", err.msg);
	cJSON_Delete(fx);
	j = topo_vcpu_json(&t->v[2], true);
	txt = cJSON_PrintUnformatted(cJSON_GetObjectItem(j, "props"));
	cr_assert_str_eq(txt, "{\"core-id\":0,\"thread-id\":0,\"die-id\":1,\"socket-id\":0,"
			      "\"future-key\":\"kept\"}", "--status shows them as QEMU did");
	free(txt);
	cJSON_Delete(j);
	cr_assert_null(t->v[3].extra, "no copy for the slots without unknown keys");
	cr_assert_eq(topo_step_command(t, &s, &cmd, &args, &err), 0, "%s", err.msg);
	txt = cJSON_PrintUnformatted(args);
	cr_assert_str_eq(cmd, "device_add");
	cr_assert_str_eq(txt, "{\"driver\":\"qemu64-x86_64-cpu\",\"id\":\"vcpu2\",\"core-id\":0,"
			      "\"thread-id\":0,\"die-id\":1,\"socket-id\":0,\"future-key\":\"kept\"}");
	free(txt);
	cJSON_Delete(args);
	topo_free(t);
}

/* --- events and the slot list --- */

struct event_case {
	const char *ev;
	enum topo_event kind;
};

static struct event_case event_cases[] = {
	{ "{\"event\":\"DEVICE_DELETED\",\"data\":{\"device\":\"vcpu5\",\"path\":\"/machine/peripheral/vcpu5\"}}", TOPO_EV_DELETED },
	{ "{\"event\":\"DEVICE_DELETED\",\"data\":{\"path\":\"/machine/peripheral/vcpu5\"}}", TOPO_EV_DELETED },
	{ "{\"event\":\"DEVICE_DELETED\",\"data\":{\"path\":\"/machine/peripheral/vcpu5/lapic\"}}", TOPO_EV_RELATED },
	{ "{\"event\":\"DEVICE_DELETED\",\"data\":{\"device\":\"vcpu6\",\"path\":\"/machine/peripheral/vcpu6\"}}", TOPO_EV_OTHER },
	{ "{\"event\":\"DEVICE_DELETED\",\"data\":{\"path\":\"/machine/peripheral/vcpu55\"}}", TOPO_EV_OTHER },
	{ "{\"event\":\"DEVICE_UNPLUG_GUEST_ERROR\",\"data\":{\"device\":\"vcpu5\",\"path\":\"/machine/peripheral/vcpu5\"}}", TOPO_EV_REJECTED },
	{ "{\"event\":\"DEVICE_UNPLUG_GUEST_ERROR\",\"data\":{\"path\":\"/machine/peripheral/vcpu9\"}}", TOPO_EV_OTHER },
	{ "{\"event\":\"ACPI_DEVICE_OST\",\"data\":{\"info\":{\"source\":3,\"status\":0,\"slot\":\"5\",\"slot-type\":\"CPU\"}}}", TOPO_EV_RELATED },
	{ "{\"event\":\"ACPI_DEVICE_OST\",\"data\":{\"info\":{\"slot-type\":\"DIMM\"}}}", TOPO_EV_OTHER },
	{ "{\"event\":\"STOP\"}", TOPO_EV_OTHER },
	{ "{\"event\":5,\"data\":{}}", TOPO_EV_OTHER },
};

ParameterizedTestParameters(topo, classifies_events)
{
	return cr_make_param_array(struct event_case, event_cases, sizeof(event_cases) / sizeof(event_cases[0]));
}

ParameterizedTest(struct event_case *ec, topo, classifies_events)
{
	cJSON *ev = cJSON_Parse(ec->ev);

	cr_assert_eq(topo_event_kind(ev, "vcpu5", "/machine/peripheral/vcpu5"), ec->kind, "%s", ec->ev);
	cJSON_Delete(ev);
}

Test(topo, slot_plugged_reads_the_slot_list)
{
	cJSON *fx = peer_fixture("x86-q35-64-plugged");
	struct topo_table *t = load("x86-q35-64-plugged");

	cr_assert_eq(topo_slot_plugged(reply(fx, TOPO_CMD_HOTPLUGGABLE), &t->v[2], &err), 1);
	cr_assert_eq(topo_slot_plugged(reply(fx, TOPO_CMD_HOTPLUGGABLE), &t->v[3], &err), 0);
	cr_assert_eq(topo_slot_plugged(cJSON_GetObjectItem(fx, "cmdline"), &t->v[3], &err), -EINVAL);
	topo_free(t);
	cJSON_Delete(fx);
}

/* --- a step's table from query-cpus-fast alone (topo_update) --- */

/* The fixture's replies as if entity path were not plugged: hp without its qom-path, cf
 * without its threads. */
static void without(cJSON *fx, const char *path, cJSON **hp, cJSON **cf)
{
	cJSON *it, *next;

	*hp = cJSON_Duplicate(reply(fx, TOPO_CMD_HOTPLUGGABLE), 1);
	*cf = cJSON_Duplicate(reply(fx, TOPO_CMD_CPUS), 1);
	cJSON_ArrayForEach(it, *hp) {
		const char *q = cJSON_GetStringValue(cJSON_GetObjectItem(it, "qom-path"));

		if (q && strcmp(q, path) == 0)
			cJSON_DeleteItemFromObject(it, "qom-path");
	}
	for (it = (*cf)->child; it; it = next) {
		const char *q = cJSON_GetStringValue(cJSON_GetObjectItem(it, "qom-path"));

		next = it->next;
		if (q && strncmp(q, path, strlen(path)) == 0)
			cJSON_Delete(cJSON_DetachItemViaPointer(*cf, it));
	}
}

/* Every field a step can change, slot by slot, and the counts. */
static void assert_same_table(const struct topo_table *a, const struct topo_table *b)
{
	int i;

	cr_assert_eq(a->n, b->n);
	cr_assert_eq(a->online, b->online);
	cr_assert_eq(a->tids_valid, b->tids_valid);
	cr_assert_str_eq(a->target, b->target);
	for (i = 0; i < a->n; i++) {
		const struct topo_vcpu *x = &a->v[i], *y = &b->v[i];

		cr_assert_eq(x->online, y->online, "slot %d", i);
		cr_assert_eq(x->hotpluggable, y->hotpluggable, "slot %d", i);
		cr_assert_eq(x->tid, y->tid, "slot %d", i);
		cr_assert_eq(x->qemu_id, y->qemu_id, "slot %d", i);
		cr_assert_eq(x->order, y->order, "slot %d", i);
		cr_assert_eq(x->head, y->head, "slot %d", i);
		cr_assert_eq(x->vcpus, y->vcpus, "slot %d", i);
		cr_assert_str_eq(x->alias, y->alias, "slot %d", i);
		cr_assert_str_eq(x->qom_path, y->qom_path, "slot %d", i);
		cr_assert_str_eq(x->type, y->type, "slot %d", i);
		cr_assert_eq(memcmp(x->ids, y->ids, sizeof(x->ids)), 0, "slot %d", i);
	}
}

struct update_case {
	const char *fixture;
	int slot;          /* the entity plugged, then unplugged */
	const char *path;  /* its qom-path */
};

static struct update_case update_cases[] = {
	{ "x86-q35-64-plugged", 2, "/machine/peripheral/vcpu2" },
	{ "x86-q35-64-plugged", 1, "/machine/unattached/device[2]" },
};

ParameterizedTestParameters(topo, a_step_read_from_cpus_fast_is_the_full_table)
{
	return cr_make_param_array(struct update_case, update_cases,
				   sizeof(update_cases) / sizeof(update_cases[0]));
}

/*
 * Plug: the table without the entity, updated with the full query-cpus-fast, is the table
 * both queries give; unplug: the other way round; undone, each is as it was.
 */
ParameterizedTest(struct update_case *uc, topo, a_step_read_from_cpus_fast_is_the_full_table)
{
	cJSON *fx = peer_fixture(uc->fixture), *hp, *cf;
	struct topo_table *full = load(uc->fixture), *before = NULL, *t = NULL;
	struct topo_undo *undo = NULL;

	without(fx, uc->path, &hp, &cf);
	cr_assert_eq(topo_build(hp, cf, 1, 0, NULL, &before, &err), 0, "%s", err.msg);
	cr_assert_eq(topo_build(hp, cf, 1, 0, NULL, &t, &err), 0, "%s", err.msg);
	cr_assert_not(t->v[uc->slot].online, "%s is not plugged before", uc->path);
	cr_assert_eq(topo_update(t, reply(fx, TOPO_CMD_CPUS), 1, uc->slot, uc->path, &undo, &err), 0,
		     "%s", err.msg);
	assert_same_table(t, full);
	topo_undo(t, undo);
	assert_same_table(t, before);
	topo_free(t);
	t = load(uc->fixture);
	cr_assert_eq(topo_update(t, cf, 1, uc->slot, NULL, &undo, &err), 0, "%s", err.msg);
	assert_same_table(t, before);
	topo_undo(t, undo);
	assert_same_table(t, full);
	topo_free(t);
	topo_free(before);
	topo_free(full);
	cJSON_Delete(hp);
	cJSON_Delete(cf);
	cJSON_Delete(fx);
}

/* A ppc64 core of 8 threads plugged: its 8 threads fill its 8 slots in reply order. */
Test(topo, a_step_of_a_core_fills_its_threads)
{
	cJSON *fx = peer_fixture("ppc64-pseries-t8"), *hp, *cf, *it;
	struct topo_table *t = load("ppc64-pseries-t8"), *full = NULL;
	struct topo_undo *undo = NULL;
	int k, slot = -1;

	hp = cJSON_Duplicate(reply(fx, TOPO_CMD_HOTPLUGGABLE), 1);
	cf = cJSON_Duplicate(reply(fx, TOPO_CMD_CPUS), 1);
	cJSON_ArrayForEach(it, hp)
		if (cJSON_GetObjectItem(cJSON_GetObjectItem(it, "props"), "core-id")->valueint == 8)
			cJSON_AddStringToObject(it, "qom-path", "/machine/peripheral/vcpu8");
	for (k = 0; k < 8; k++) {
		char path[64];

		it = cJSON_Duplicate(cJSON_GetArrayItem(cf, 0), 1);
		snprintf(path, sizeof(path), "/machine/peripheral/vcpu8/thread[%d]", k);
		cJSON_ReplaceItemInObject(it, "qom-path", cJSON_CreateString(path));
		cJSON_SetNumberValue(cJSON_GetObjectItem(it, "thread-id"), 5000 + k);
		cJSON_SetNumberValue(cJSON_GetObjectItem(it, "cpu-index"), 8 + k);
		cJSON_AddItemToArray(cf, it);
	}
	cr_assert_eq(topo_build(hp, cf, 1, 0, NULL, &full, &err), 0, "%s", err.msg);
	for (k = 0; k < full->n; k++)
		if (full->v[k].vcpus && !t->v[k].online && full->v[k].online)
			slot = k;
	cr_assert_geq(slot, 0);
	/* a ninth thread for the core is one too many, and changes nothing */
	it = cJSON_Duplicate(cJSON_GetArrayItem(cf, 8), 1);
	cJSON_AddItemToArray(cf, it);
	cr_assert_eq(topo_update(t, cf, 1, slot, "/machine/peripheral/vcpu8", &undo, &err), -EINVAL);
	cr_assert(strstr(err.msg, "more threads"), "%s", err.msg);
	cr_assert_not(t->v[slot].online);
	cJSON_DeleteItemFromArray(cf, cJSON_GetArraySize(cf) - 1);
	cr_assert_eq(topo_update(t, cf, 1, slot, "/machine/peripheral/vcpu8", &undo, &err), 0,
		     "%s", err.msg);
	assert_same_table(t, full);
	cr_assert_eq(t->v[slot + 7].tid, 5007);
	topo_undo_free(undo);
	topo_free(t);
	topo_free(full);
	cJSON_Delete(hp);
	cJSON_Delete(cf);
	cJSON_Delete(fx);
}

Test(topo, a_cpus_fast_the_step_does_not_explain_is_asked_again)
{
	cJSON *fx = peer_fixture("x86-q35-64-plugged"), *hp, *cf;
	struct topo_table *full = load("x86-q35-64-plugged"), *before = NULL, *copy = NULL;
	struct topo_undo *undo = NULL;

	without(fx, "/machine/peripheral/vcpu2", &hp, &cf);
	cr_assert_eq(topo_build(hp, cf, 1, 0, NULL, &before, &err), 0, "%s", err.msg);
	cr_assert_eq(topo_build(hp, cf, 1, 0, NULL, &copy, &err), 0, "%s", err.msg);
	/* another client plugged it, not this step (which plugged vcpu3) */
	cr_assert_eq(topo_update(before, reply(fx, TOPO_CMD_CPUS), 1, 3, "/machine/peripheral/vcpu3",
				 &undo, &err), -EAGAIN);
	cr_assert(strstr(err.msg, "'/machine/peripheral/vcpu2', which the step does not explain"),
		  "%s", err.msg);
	/* no step named: nothing new explained */
	cr_assert_eq(topo_update(before, reply(fx, TOPO_CMD_CPUS), 1, -1, NULL, &undo, &err), -EAGAIN);
	/* a slot that is online already cannot be the plugged one */
	cr_assert_eq(topo_update(full, reply(fx, TOPO_CMD_CPUS), 1, 2, "/machine/peripheral/vcpu2",
				 &undo, &err), -EAGAIN);
	/* what is malformed is malformed */
	cr_assert_eq(topo_update(before, hp, 1, 2, "/machine/peripheral/vcpu2", &undo, &err), -EINVAL);
	cr_assert_null(undo);
	assert_same_table(before, copy); /* a refused update changes nothing */
	topo_free(copy);
	topo_free(before);
	topo_free(full);
	cJSON_Delete(hp);
	cJSON_Delete(cf);
	cJSON_Delete(fx);
}

Test(topo, a_step_keeps_the_tcg_rule)
{
	cJSON *fx = peer_fixture("x86-q35-64-plugged"), *hp, *cf, *dup;
	struct topo_table *t = NULL;
	struct topo_undo *undo = NULL;
	int tid0;

	without(fx, "/machine/peripheral/vcpu2", &hp, &cf);
	cr_assert_eq(topo_build(hp, cf, 1, 0, NULL, &t, &err), 0, "%s", err.msg);
	cr_assert(t->tids_valid);
	tid0 = t->v[0].tid;
	dup = cJSON_Duplicate(reply(fx, TOPO_CMD_CPUS), 1);
	cJSON_SetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(dup, 2), "thread-id"), tid0);
	/* single-threaded TCG: one id for all */
	cr_assert_eq(topo_update(t, dup, 1, 2, "/machine/peripheral/vcpu2", &undo, &err), 0,
		     "%s", err.msg);
	cr_assert_not(t->tids_valid);
	cr_assert(t->v[2].online);
	cr_assert_eq(t->v[2].tid, 0, "no id for the new vCPU");
	cr_assert_eq(t->v[0].tid, tid0, "the earlier ids are kept");
	topo_undo_free(undo);
	topo_free(t);
	cJSON_Delete(hp);
	cJSON_Delete(cf);
	cJSON_Delete(dup);
	cJSON_Delete(fx);
}

Test(topo, cpus_fast_lists_an_entity_by_any_thread)
{
	cJSON *fx = peer_fixture("ppc64-pseries-t8");

	cr_assert_eq(topo_cpus_list(reply(fx, TOPO_CMD_CPUS), "/machine/unattached/device[1]", &err), 1,
		     "%s", err.msg);
	cr_assert_eq(topo_cpus_list(reply(fx, TOPO_CMD_CPUS), "/machine/peripheral/vcpu8", &err), 0);
	cr_assert_eq(topo_cpus_list(cJSON_GetObjectItem(fx, "cmdline"), "/x", &err), -EINVAL);
	cJSON_Delete(fx);
}

/* --- the parsers --- */

struct cpulist_case {
	const char *in;
	int rc;
	const char *out;
};

static struct cpulist_case cpulist_cases[] = {
	{ "0", 0, "0" },
	{ "0-3", 0, "0-3" },
	{ "3,1,2,8-9", 0, "1-3,8-9" },
	{ "0-1\n", 0, "0-1" },
	{ "5,5,5", 0, "5" },
	{ "0-127", 0, "0-127" },
	{ "", -EINVAL, NULL },
	{ "a", -EINVAL, NULL },
	{ "1-", -EINVAL, NULL },
	{ "3-1", -EINVAL, NULL },
	{ "1,,2", -EINVAL, NULL },
	{ "1 2", -EINVAL, NULL },
	{ "-1", -EINVAL, NULL },
	{ "128", -ERANGE, NULL },
	{ "99999999999999999999", -ERANGE, NULL },
};

ParameterizedTestParameters(topo, cpulist_round_trip)
{
	return cr_make_param_array(struct cpulist_case, cpulist_cases, sizeof(cpulist_cases) / sizeof(cpulist_cases[0]));
}

ParameterizedTest(struct cpulist_case *cc, topo, cpulist_round_trip)
{
	uint64_t mask[2];
	char buf[64];

	cr_assert_eq(topo_cpulist_parse(cc->in, mask, 128, &err), cc->rc, "'%s': %s", cc->in, err.msg);
	if (cc->out) {
		cr_assert_geq(topo_cpulist_format(mask, 128, buf, sizeof(buf)), 0);
		cr_assert_str_eq(buf, cc->out);
	} else {
		cr_assert(strstr(err.msg, "list '"), "%s", err.msg);
	}
}

struct number_case {
	const char *in;
	long long min, max;
	int rc;
	long long out;
};

static struct number_case number_cases[] = {
	{ "1000", 1000, 1000000, 0, 1000 },
	{ "999", 1000, 1000000, -ERANGE, 0 },
	{ "-1", -1, 10, 0, -1 },
	{ "-1", 0, 10, -ERANGE, 0 },
	{ "12a", 0, 100, -EINVAL, 0 },
	{ "", 0, 100, -EINVAL, 0 },
	{ "+5", 0, 100, -EINVAL, 0 },
	{ " 5", 0, 100, -EINVAL, 0 },
	{ "99999999999999999999", 0, 100, -ERANGE, 0 },
	{ "17592186044415", 1000, 17592186044415LL, 0, 17592186044415LL },
};

ParameterizedTestParameters(topo, bounded_numbers)
{
	return cr_make_param_array(struct number_case, number_cases, sizeof(number_cases) / sizeof(number_cases[0]));
}

ParameterizedTest(struct number_case *nc, topo, bounded_numbers)
{
	long long v = 0;

	cr_assert_eq(topo_parse_ll("--x", nc->in, nc->min, nc->max, &v, &err), nc->rc, "'%s'", nc->in);
	if (nc->rc == 0)
		cr_assert_eq(v, nc->out);
	else
		cr_assert(strstr(err.msg, "--x"), "%s", err.msg);
}

Test(topo, seconds_and_counts)
{
	double s;
	struct topo_count c;

	cr_assert_eq(topo_parse_seconds("--timeout", "0.001", 0.001, 86400, &s, &err), 0);
	cr_assert_float_eq(s, 0.001, 1e-9);
	cr_assert_eq(topo_parse_seconds("--timeout", "2.5", 0.001, 86400, &s, &err), 0);
	cr_assert_eq(topo_parse_seconds("--timeout", "0", 0.001, 86400, &s, &err), -ERANGE);
	cr_assert_eq(topo_parse_seconds("--timeout", "nan", 0.001, 86400, &s, &err), -EINVAL);
	cr_assert_eq(topo_parse_seconds("--timeout", "0x10", 0.001, 86400, &s, &err), -EINVAL);
	cr_assert_eq(topo_parse_seconds("--timeout", "5s", 0.001, 86400, &s, &err), -EINVAL);
	cr_assert_eq(topo_parse_count("+2", &c, &err), 0);
	cr_assert(c.sign == '+' && c.n == 2);
	cr_assert_eq(topo_parse_count("-1", &c, &err), 0);
	cr_assert(c.sign == '-' && c.n == 1);
	cr_assert_eq(topo_parse_count("6", &c, &err), 0);
	cr_assert(c.sign == 0 && c.n == 6);
	cr_assert_eq(topo_parse_count("six", &c, &err), -EINVAL);
	cr_assert(strstr(err.msg, "COUNT 'six' is not a number"), "%s", err.msg);
	cr_assert_eq(topo_parse_count("+", &c, &err), -EINVAL);
	cr_assert_eq(topo_parse_count("99999999999", &c, &err), -ERANGE);
}

Test(topo, known_bad_qemu_versions_are_named)
{
	char why[320];

	cr_assert(topo_qemu_known_bad("7.2.11", true, why, sizeof(why)));
	cr_assert(strstr(why, "QEMU 7.2.11 under TCG crashes"), "%s", why);
	cr_assert(strstr(why, "qemu-on-this-machine.md"), "the source is named: %s", why);
	cr_assert(!topo_qemu_known_bad("7.2.11", false, why, sizeof(why)), "KVM is not affected");
	cr_assert(!topo_qemu_known_bad("10.0.2", true, why, sizeof(why)));
	cr_assert(!topo_qemu_known_bad("7.1.0", true, why, sizeof(why)));
	cr_assert(!topo_qemu_known_bad("", true, why, sizeof(why)));
	cr_assert(!topo_qemu_known_bad("x.y", true, why, sizeof(why)));
}

/* Issue 17: a list of vCPUs into steps, or its refusal. */
Test(topo, a_list_plans_exactly_its_entities)
{
	struct topo_table *t = load("ppc64-pseries-t8");
	struct topo_plan p;
	bool busy[32] = { false };

	cr_assert_eq(topo_plan_list(t, "16-31", true, NULL, &p, &err), 0, "%s", err.msg);
	cr_assert_eq(p.nsteps, 2);
	cr_assert_eq(p.steps[0].vcpu, 16, "lowest first");
	cr_assert_eq(p.steps[0].vcpus, 8);
	cr_assert_eq(p.steps[1].before, 16);
	cr_assert_eq(p.target, 24);
	topo_plan_clear(&p);
	cr_assert_eq(topo_plan_list(t, "9", true, NULL, &p, &err), -EINVAL);
	cr_assert(strstr(err.msg, "vCPUs 8-15 are one hot-pluggable entity"), "%s", err.msg);
	cr_assert_eq(topo_plan_list(t, "0-7", true, NULL, &p, &err), 0, "all online: nothing");
	cr_assert_eq(p.nsteps, 0);
	cr_assert_eq(topo_plan_list(t, "0-7", false, NULL, &p, &err), -EINVAL);
	cr_assert(strstr(err.msg, "present at boot"), "%s", err.msg);
	cr_assert_eq(topo_plan_list(t, "32", true, NULL, &p, &err), -ERANGE);
	cr_assert_eq(topo_plan_list(t, "", true, NULL, &p, &err), -EINVAL);
	busy[8] = true;
	cr_assert_eq(topo_plan_list(t, "8-15", true, busy, &p, &err), -EINVAL);
	cr_assert(strstr(err.msg, "pending"), "%s", err.msg);
	cr_assert_str_eq(topo_why_fixed(t, 3, NULL), "present at boot (no alias to unplug it by)");
	cr_assert_str_eq(topo_why_fixed(t, 20, NULL), "offline");
	topo_free(t);
}
