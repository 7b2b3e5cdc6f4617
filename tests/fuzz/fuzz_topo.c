/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer harness: the vCPU table builder and the planner on whatever QEMU might answer.
 * An input that starts with '{' is a capture (a tests/fixtures JSON file: the two replies under
 * "query-hotpluggable-cpus" and "query-cpus-fast"), mutated as text; any other input drives
 * a generator that builds the two replies as JSON, slot by slot, from its bytes (ids in and
 * out of range, wrong types, missing keys, odd paths and aliases, shared thread ids).
 * Then everything main.c does with a table runs on it, and the table and every plan must
 * keep their invariants; a broken one aborts, so the fuzzer reports it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "topo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct bytes {
	const uint8_t *p;
	size_t n;
};

static unsigned take(struct bytes *b)
{
	if (!b->n)
		return 0;
	b->n--;
	return *b->p++;
}

#define CHECK(cond)                                                                  \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "invariant broken: %s (line %d)\n", #cond, __LINE__); \
			abort();                                                     \
		}                                                                    \
	} while (0)

static const char *const odd_strings[] = {
	"/machine/peripheral/vcpu1", "/machine/unattached/device[0]", "/machine/../etc",
	"/machine/a b", "/machine/a\x01", "machine", "/machine/peripheral/vcpu..",
	"/machine/peripheral/../../x", "/machine/peripheral/v/x", "", "/",
	"/machine/peripheral/vcpu\n", "/machine/peripheral/%s%n",
};

/* A number, or now and then something that is not one (or not a sane one). */
static cJSON *gen_number(struct bytes *b, int usual)
{
	unsigned k = take(b);

	switch (k & 15) {
	case 0:
		return cJSON_CreateNumber(-(double)(k >> 4));
	case 1:
		return cJSON_CreateNumber(1e18);
	case 2:
		return cJSON_CreateNumber(0.5);
	case 3:
		return cJSON_CreateString("1");
	case 4:
		return cJSON_CreateNull();
	case 5:
		return cJSON_CreateNumber(k);
	default:
		return cJSON_CreateNumber(usual);
	}
}

static const char *gen_path(struct bytes *b, int i, char *buf, size_t size)
{
	unsigned k = take(b);

	if (k < 100)
		snprintf(buf, size, "/machine/unattached/device[%d]", i);
	else if (k < 200)
		snprintf(buf, size, "/machine/peripheral/vcpu%d", i);
	else
		snprintf(buf, size, "%s", odd_strings[k % (sizeof(odd_strings) / sizeof(*odd_strings))]);
	return buf;
}

static void generate(struct bytes *b, cJSON **hp, cJSON **cf)
{
	static const char *const keys[] = { "socket-id", "die-id", "module-id", "core-id",
					    "thread-id", "node-id", "drawer-id", "book-id" };
	unsigned n = 1 + take(b) % 24, i, k, mask;
	char path[128];

	*hp = cJSON_CreateArray();
	*cf = cJSON_CreateArray();
	if (take(b) == 255)
		n = 1 + take(b) * 16;
	for (i = 0; i < n; i++) {
		cJSON *slot = cJSON_CreateObject(), *props = cJSON_CreateObject();
		unsigned flags = take(b);

		mask = take(b) | 0x08; /* core-id, mostly */
		for (k = 0; k < 8; k++)
			if (mask & (1u << k))
				cJSON_AddItemToObject(props, keys[k],
						      k == 3 ? gen_number(b, (int)i) : gen_number(b, 0));
		if (flags == 0x7f)
			cJSON_AddStringToObject(props, "driver", "evil");
		if (flags != 0x7e)
			cJSON_AddItemToObject(slot, "props", props);
		else
			cJSON_Delete(props);
		if (flags != 0x7d)
			cJSON_AddItemToObject(slot, "vcpus-count",
					      gen_number(b, (flags & 0x30) == 0x30 ? 2 : 1));
		if (flags != 0x7c)
			cJSON_AddStringToObject(slot, "type", flags == 0x7b ? "a cpu" : "qemu64-x86_64-cpu");
		if (flags & 1) {
			/* online: a qom-path here and the vCPU's thread in query-cpus-fast */
			cJSON *c = cJSON_CreateObject();

			gen_path(b, (int)i, path, sizeof(path));
			cJSON_AddStringToObject(slot, "qom-path", path);
			cJSON_AddItemToObject(c, "cpu-index", gen_number(b, (int)i));
			if (!(flags & 2))
				cJSON_AddItemToObject(c, "thread-id", gen_number(b, 1000 + (int)(take(b) % 8)));
			cJSON_AddStringToObject(c, "qom-path", flags & 4 ? path : "/machine/x");
			if (flags & 8)
				cJSON_AddStringToObject(c, "target", "x86_64");
			cJSON_AddItemToArray(*cf, c);
		}
		cJSON_AddItemToArray(*hp, slot);
	}
}

static int is_task(void *ctx, int tid)
{
	const uint8_t *mask = ctx;

	return (mask[0] >> (tid & 7)) & 1;
}

static void check_table(const struct topo_table *t)
{
	int i, online = 0;

	CHECK(t->n > 0 && t->n <= VS_MAX_SLOTS);
	for (i = 0; i < t->n; i++) {
		const struct topo_vcpu *v = &t->v[i];
		char buf[160];
		cJSON *j;

		CHECK(v->index == i);
		CHECK(v->head >= 0 && v->head <= i);
		CHECK(t->v[v->head].vcpus > 0 && v->head + t->v[v->head].vcpus > i);
		CHECK(t->v[v->head].online == v->online);
		online += v->online;
		CHECK(strlen(v->alias) < sizeof(v->alias) && strlen(v->qom_path) < TOPO_PATH_MAX && v->type);
		CHECK(!v->alias[0] || topo_valid_name("alias", v->alias, NULL) == 0);
		CHECK(!v->qom_path[0] || topo_valid_qom_path(v->qom_path, NULL) == 0);
		topo_describe(v, buf, sizeof(buf));
		j = topo_vcpu_json(v, t->tids_valid);
		CHECK(j);
		cJSON_Delete(j);
	}
	CHECK(online == t->online);
}

static void check_plan(const struct topo_table *t, const struct topo_plan *p, const bool *busy,
		       const cJSON *hp)
{
	int i, now = p->before, pending = 0;

	for (i = 0; busy && i < t->n; i++)
		pending += busy[i] && t->v[i].online;
	/* a slot whose unplug is pending counts as gone: COUNT starts from online minus those */
	CHECK(p->pending == pending);
	CHECK(p->before == t->online - pending);
	for (i = 0; i < p->nsteps; i++) {
		const struct topo_step *s = &p->steps[i];
		const char *cmd;
		cJSON *args = NULL;
		struct vs_err err;

		CHECK(s->vcpu >= 0 && s->vcpu < t->n && t->v[s->vcpu].head == s->vcpu);
		CHECK(s->vcpus == t->v[s->vcpu].vcpus);
		CHECK(!busy || !busy[s->vcpu]);
		CHECK(s->before == now);
		CHECK(s->op == TOPO_PLUG ? !t->v[s->vcpu].online && s->after == now + s->vcpus
					 : t->v[s->vcpu].online && t->v[s->vcpu].alias[0] &&
						   s->after == now - s->vcpus);
		now = s->after;
		if (topo_step_command(t, s, &cmd, &args, &err) == 0) {
			CHECK(cmd && args);
			cJSON_Delete(args);
		}
		if (hp)
			topo_slot_plugged(hp, &t->v[s->vcpu], &err);
	}
	CHECK(now == p->target);
}

static void plan_some(const struct topo_table *t, struct bytes *b, const cJSON *hp)
{
	static const char *const counts[] = { "0", "1", "+1", "-1", "+2", "-3", "64", "4096",
					      "99999999999999999999", "-", "+0", "x" };
	bool *busy = calloc((size_t)t->n, sizeof(*busy));
	unsigned k;
	int i;

	if (!busy)
		abort();
	for (i = 0; i < t->n; i++)
		busy[i] = (take(b) & 7) == 7;
	for (k = 0; k < 4; k++) {
		char num[24];
		const char *s = counts[take(b) % (sizeof(counts) / sizeof(*counts))];
		struct topo_count c;
		struct topo_plan p = { 0 };
		struct vs_err err;

		if (k == 3) {
			snprintf(num, sizeof(num), "%u", take(b) % (unsigned)(t->n + 2));
			s = num;
		}
		if (topo_parse_count(s, &c, &err) < 0)
			continue;
		if (topo_plan(t, &c, k & 1 ? busy : NULL, &p, &err) == 0)
			check_plan(t, &p, k & 1 ? busy : NULL, hp);
		topo_plan_clear(&p);
	}
	free(busy);
}

static void events(const struct topo_table *t, struct bytes *b)
{
	static const char *const names[] = { "DEVICE_DELETED", "ACPI_DEVICE_OST", "DEVICE_UNPLUG_GUEST_ERROR",
					     "X" };
	int i = t->n ? (int)(take(b) % (unsigned)t->n) : 0;
	cJSON *ev = cJSON_CreateObject(), *d = cJSON_AddObjectToObject(ev, "data");

	cJSON_AddStringToObject(ev, "event", names[take(b) & 3]);
	if (take(b) & 1)
		cJSON_AddStringToObject(d, "device", t->v[i].alias);
	if (take(b) & 1)
		cJSON_AddStringToObject(d, "path", t->v[i].qom_path);
	if (take(b) & 1)
		cJSON_AddStringToObject(cJSON_AddObjectToObject(d, "info"), "slot-type", "CPU");
	topo_event_kind(ev, t->v[i].alias, t->v[i].qom_path);
	topo_event_kind(ev, NULL, t->v[i].qom_path);
	cJSON_Delete(ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bytes b = { data, size };
	cJSON *doc = NULL, *hp = NULL, *cf = NULL, *own_hp = NULL, *own_cf = NULL;
	struct topo_table *t = NULL, *t2 = NULL;
	struct vs_err err;
	uint8_t mask;

	if (size > (1u << 20))
		return 0;
	if (size && data[0] == '{') {
		doc = cJSON_ParseWithLength((const char *)data, size);
		hp = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(doc, "query-hotpluggable-cpus"), "return");
		cf = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(doc, "query-cpus-fast"), "return");
		b.p = data + size / 2;
		b.n = size - size / 2;
		if (!cf) {
			cJSON_Delete(doc);
			return 0;
		}
	} else {
		generate(&b, &own_hp, &own_cf);
		hp = own_hp;
		cf = own_cf;
	}
	mask = (uint8_t)take(&b);
	if (topo_build(hp, cf, 1000 + (int)(take(&b) & 7), hp ? 0 : 8, NULL, &t, &err) == 0) {
		check_table(t);
		if (topo_check_tids(t, 1000, is_task, &mask, &err) < 0)
			CHECK(err.msg[0]);
		plan_some(t, &b, hp);
		events(t, &b);
		/* a refresh that keeps the earlier table's thread ids */
		if (topo_build(hp, cf, 1000, hp ? 0 : 8, t, &t2, &err) == 0) {
			check_table(t2);
			CHECK(t2->n == t->n);
		}
	} else {
		CHECK(err.msg[0] && !t);
	}
	topo_free(t);
	topo_free(t2);
	cJSON_Delete(doc);
	cJSON_Delete(own_hp);
	cJSON_Delete(own_cf);
	return 0;
}
