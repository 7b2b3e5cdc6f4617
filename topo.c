/* SPDX-License-Identifier: GPL-2.0-or-later */
/* topo: the vCPU table from QEMU's two queries, the plan for a COUNT, cpulists. No I/O. */
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "topo.h"

const char *const topo_key_names[TOPO_NKEYS] = {
	[TOPO_DRAWER] = "drawer-id", [TOPO_BOOK] = "book-id",     [TOPO_SOCKET] = "socket-id",
	[TOPO_DIE] = "die-id",       [TOPO_CLUSTER] = "cluster-id", [TOPO_MODULE] = "module-id",
	[TOPO_CORE] = "core-id",     [TOPO_THREAD] = "thread-id",   [TOPO_NODE] = "node-id",
};

/* Largest topology id accepted; real ones are below a few thousand. */
#define MAX_TOPO_ID 0xffffff

struct entity {
	const char *type; /* this and qom: into the caller's reply, valid during topo_build */
	const char *qom;
	int vcpus;
	long long ids[TOPO_NKEYS];
	signed char keys[TOPO_NKEYS];
	const cJSON *props; /* with keys outside topo_key_names; NULL when none */
	int order;
	int first; /* first slot */
};

int topo_valid_name(const char *what, const char *s, struct vs_err *err)
{
	size_t i, n = strlen(s);

	if (n == 0 || n >= TOPO_NAME_MAX)
		return vs_err_set(err, EINVAL, "%s '%.80s' must be 1 to %d characters", what, s,
				  TOPO_NAME_MAX - 1);
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return vs_err_set(err, EINVAL, "%s '%.80s' has a character outside [A-Za-z0-9_-]",
					  what, s);
	return 0;
}

int topo_valid_qom_path(const char *s, struct vs_err *err)
{
	size_t i, n = strlen(s);

	if (n < 2 || n >= TOPO_PATH_MAX || s[0] != '/')
		return vs_err_set(err, EINVAL, "qom-path '%.80s' is not an absolute path of under %d "
				  "characters", s, TOPO_PATH_MAX);
	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return vs_err_set(err, EINVAL, "qom-path '%.80s' has a space or control character",
					  s);
	if (strstr(s, "/../") || strstr(s, "/./") || strstr(s, "//") ||
	    (n >= 3 && strcmp(s + n - 3, "/..") == 0) || (n >= 2 && strcmp(s + n - 2, "/.") == 0))
		return vs_err_set(err, EINVAL, "qom-path '%.80s' has an empty, '.' or '..' component",
				  s);
	return 0;
}

static int valid_type(const char *s, struct vs_err *err)
{
	size_t i, n = strlen(s);

	if (n == 0 || n >= 128)
		return vs_err_set(err, EINVAL, "vCPU type '%.80s' must be 1 to 127 characters", s);
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_-.+,", s[i]))
			return vs_err_set(err, EINVAL, "vCPU type '%.80s' has an unexpected character", s);
	return 0;
}

/* A JSON integer in [lo, hi], else -EINVAL naming what. */
static int json_int(const cJSON *j, const char *what, long long lo, long long hi, long long *out,
		    struct vs_err *err)
{
	double d;

	if (!cJSON_IsNumber(j))
		return vs_err_set(err, EINVAL, "%s is not a number", what);
	d = j->valuedouble;
	if (!isfinite(d) || d != floor(d) || d < (double)lo || d > (double)hi)
		return vs_err_set(err, EINVAL, "%s %.17g is not an integer in %lld..%lld", what, d, lo,
				  hi);
	*out = (long long)d;
	return 0;
}

/* The topo_key named s, TOPO_NKEYS for any other name (or none). */
static int key_of(const char *s)
{
	int k;

	for (k = 0; s && k < TOPO_NKEYS && strcmp(s, topo_key_names[k]) != 0; k++)
		;
	return s ? k : TOPO_NKEYS;
}

/*
 * Read the topology keys of a props object into ids, their order into keys (if not NULL;
 * -1 ends it); unknown keys must be scalars, and make the result 1.
 */
static int parse_props(const cJSON *props, long long ids[TOPO_NKEYS],
		       signed char keys[TOPO_NKEYS], struct vs_err *err)
{
	const cJSON *it;
	int k, rc, n = 0, extra = 0;

	if (!cJSON_IsObject(props))
		return vs_err_set(err, EINVAL, "props is not an object");
	for (k = 0; k < TOPO_NKEYS; k++) {
		ids[k] = -1;
		if (keys)
			keys[k] = -1;
	}
	cJSON_ArrayForEach(it, props) {
		k = key_of(it->string);
		if (k < TOPO_NKEYS) {
			if (ids[k] >= 0)
				return vs_err_set(err, EINVAL, "props has '%s' twice", topo_key_names[k]);
			rc = json_int(it, topo_key_names[k], 0, MAX_TOPO_ID, &ids[k], err);
			if (rc < 0)
				return rc;
			if (keys)
				keys[n++] = (signed char)k;
			continue;
		}
		extra = 1;
		if (!it->string || !(cJSON_IsNumber(it) || cJSON_IsString(it) || cJSON_IsBool(it))) {
			return vs_err_set(err, EINVAL, "props key '%.40s' is not a plain value",
					  it->string ? it->string : "");
		} else if (strcmp(it->string, "driver") == 0 || strcmp(it->string, "id") == 0) {
			/* These would override device_add's own arguments. */
			return vs_err_set(err, EINVAL, "props has a '%s' key", it->string);
		}
	}
	if (ids[TOPO_NODE] < 0 && ids[TOPO_SOCKET] < 0 && ids[TOPO_CORE] < 0 && ids[TOPO_THREAD] < 0)
		return vs_err_set(err, EINVAL, "props report no topology (no socket, core, thread or "
				  "node id)");
	return extra;
}

static int cmp_ids(const long long *a, const long long *b)
{
	int k;

	for (k = 0; k < TOPO_NSORT; k++)
		if (a[k] != b[k])
			return a[k] < b[k] ? -1 : 1;
	return 0;
}

static int cmp_entity(const void *pa, const void *pb)
{
	const struct entity *a = pa, *b = pb;

	return cmp_ids(a->ids, b->ids);
}

static const char *str_item(const cJSON *o, const char *key)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(s) ? s->valuestring : NULL;
}

/* The core's path of a per-thread qom-path (ppc64 ".../thread[3]"), into buf. */
static void core_path(const char *qom, char *buf, size_t size)
{
	const char *t = strstr(qom, "/thread");
	size_t n = t ? (size_t)(t - qom) : strlen(qom);

	if (n >= size)
		n = size - 1;
	memcpy(buf, qom, n);
	buf[n] = '\0';
}

/* The alias QEMU shows for a device that vcpuset or libvirt added: "/machine/peripheral/vcpuN". */
static void alias_of(const char *qom, char *buf, size_t size)
{
	static const char pre[] = "/machine/peripheral/";

	buf[0] = '\0';
	if (qom && strncmp(qom, pre, sizeof(pre) - 1) == 0 && strncmp(qom + sizeof(pre) - 1, "vcpu", 4) == 0 &&
	    !strchr(qom + sizeof(pre) - 1, '/'))
		snprintf(buf, size, "%s", qom + sizeof(pre) - 1);
}

/* How many items reply r of cmd lists: 1 to VS_MAX_SLOTS of them (what they are: what). */
static int list_size(const cJSON *r, const char *cmd, const char *what, int *n,
		     struct vs_err *err)
{
	if (!cJSON_IsArray(r))
		return vs_err_set(err, EINVAL, "%s did not return a list", cmd);
	*n = cJSON_GetArraySize(r);
	if (*n == 0)
		return vs_err_set(err, EINVAL, "%s returned no %s", cmd, what);
	if (*n > VS_MAX_SLOTS)
		return vs_err_set(err, E2BIG, "%s returned %d %s, more than the %d vcpuset accepts",
				  cmd, *n, what, VS_MAX_SLOTS);
	return 0;
}

/* One slot of query-hotpluggable-cpus into e (its strings stay the reply's). */
static int parse_entity(const cJSON *it, struct entity *e, struct vs_err *err)
{
	const char *type = str_item(it, "type");
	const cJSON *props;
	long long v;
	int rc;

	if (!cJSON_IsObject(it))
		return vs_err_set(err, EINVAL, "slot is not an object");
	if (!type)
		return vs_err_set(err, EINVAL, "slot has no 'type'");
	rc = valid_type(type, err);
	if (rc < 0)
		return rc;
	e->type = type;
	if (!cJSON_HasObjectItem(it, "vcpus-count"))
		return vs_err_set(err, EINVAL, "slot has no 'vcpus-count'");
	rc = json_int(cJSON_GetObjectItemCaseSensitive(it, "vcpus-count"), "vcpus-count", 1,
		      VS_MAX_SLOTS, &v, err);
	if (rc < 0)
		return rc;
	e->vcpus = (int)v;
	props = cJSON_GetObjectItemCaseSensitive(it, "props");
	if (!props)
		return vs_err_set(err, EINVAL, "slot has no 'props'");
	rc = parse_props(props, e->ids, e->keys, err);
	if (rc < 0)
		return rc;
	e->props = rc ? props : NULL;
	if (!cJSON_HasObjectItem(it, "qom-path"))
		return 0;
	e->qom = str_item(it, "qom-path");
	if (!e->qom)
		return vs_err_set(err, EINVAL, "qom-path is not a string");
	return topo_valid_qom_path(e->qom, err);
}

/*
 * The entities in topology order (QEMU lists them in one order or the other: sorted only
 * when it is neither), each slot once.
 */
static int sort_entities(struct entity *e, int n, struct vs_err *err)
{
	int i;

	for (i = 1; i < n && cmp_entity(&e[i - 1], &e[i]) <= 0; i++)
		;
	if (i < n) {
		for (i = 1; i < n && cmp_entity(&e[i - 1], &e[i]) >= 0; i++)
			;
		if (i == n) {
			for (i = 0; i < n / 2; i++) {
				struct entity x = e[i];

				e[i] = e[n - 1 - i];
				e[n - 1 - i] = x;
			}
		} else {
			qsort(e, (size_t)n, sizeof(*e), cmp_entity);
		}
	}
	for (i = 1; i < n; i++)
		if (cmp_ids(e[i - 1].ids, e[i].ids) == 0) {
			char d[160];
			struct topo_vcpu tmp = { 0 };

			memcpy(tmp.ids, e[i].ids, sizeof(tmp.ids));
			return vs_err_set(err, EINVAL, "query-hotpluggable-cpus lists the slot %s twice",
					  topo_describe(&tmp, d, sizeof(d)));
		}
	return 0;
}

static int parse_entities(const cJSON *hp, struct entity **out, int *nout, struct vs_err *err)
{
	struct entity *e = NULL;
	const cJSON *it;
	int n, i = 0, rc = 0;
	long long total = 0;

	rc = list_size(hp, TOPO_CMD_HOTPLUGGABLE, "slots", &n, err);
	if (rc < 0)
		return rc;
	e = calloc((size_t)n, sizeof(*e));
	if (!e)
		return vs_err_set(err, ENOMEM, "out of memory");
	cJSON_ArrayForEach(it, hp) {
		rc = parse_entity(it, &e[i], err);
		if (rc < 0) {
			vs_err_prefix(err, "query-hotpluggable-cpus entry %d", i);
			goto fail;
		}
		total += e[i++].vcpus;
	}
	if (total > VS_MAX_SLOTS) {
		rc = vs_err_set(err, E2BIG, "query-hotpluggable-cpus describes %lld vCPUs, more than the "
				"%d vcpuset accepts", total, VS_MAX_SLOTS);
		goto fail;
	}
	rc = sort_entities(e, n, err);
	if (rc < 0)
		goto fail;
	*out = e;
	*nout = n;
	return 0;
fail:
	free(e);
	return rc;
}

/* Entities by qom-path, for lookups from query-cpus-fast in O(log n). */
struct path_index {
	const char *path;
	int entity;
};

static int cmp_path(const void *pa, const void *pb)
{
	return strcmp(((const struct path_index *)pa)->path, ((const struct path_index *)pb)->path);
}

static int index_paths(const struct entity *e, int n, struct path_index **out, int *nout,
		       struct vs_err *err)
{
	struct path_index *ix = calloc((size_t)n, sizeof(*ix));
	int i, m = 0;

	if (!ix)
		return vs_err_set(err, ENOMEM, "out of memory");
	for (i = 0; i < n; i++)
		if (e[i].qom)
			ix[m++] = (struct path_index){ e[i].qom, i };
	qsort(ix, (size_t)m, sizeof(*ix), cmp_path);
	for (i = 1; i < m; i++)
		if (strcmp(ix[i - 1].path, ix[i].path) == 0) {
			vs_err_set(err, EINVAL, "query-hotpluggable-cpus lists qom-path '%s' twice",
				   ix[i].path);
			free(ix);
			return -EINVAL;
		}
	*out = ix;
	*nout = m;
	return 0;
}

static int find_entity(const struct path_index *ix, int n, const char *path)
{
	struct path_index key = { path, -1 }, *hit;

	hit = n ? bsearch(&key, ix, (size_t)n, sizeof(*ix), cmp_path) : NULL;
	return hit ? hit->entity : -1;
}

struct fast_cpu {
	int qemu_id;
	int tid;
	char path[TOPO_PATH_MAX];
};

static int parse_fast(const cJSON *cf, struct fast_cpu **out, int *nout, char *target,
		      size_t tsize, struct vs_err *err)
{
	struct fast_cpu *f = NULL;
	const cJSON *it;
	long long v;
	int n, i = 0, rc;

	rc = list_size(cf, TOPO_CMD_CPUS, "vCPUs", &n, err);
	if (rc < 0)
		return rc;
	f = calloc((size_t)n, sizeof(*f));
	if (!f)
		return vs_err_set(err, ENOMEM, "out of memory");
	cJSON_ArrayForEach(it, cf) {
		const char *qom = str_item(it, "qom-path"), *tg = str_item(it, "target");

		if (!cJSON_IsObject(it)) {
			rc = vs_err_set(err, EINVAL, "entry is not an object");
			goto bad;
		}
		rc = json_int(cJSON_GetObjectItemCaseSensitive(it, "cpu-index"), "cpu-index", 0,
			      INT_MAX, &v, err);
		if (rc < 0)
			goto bad;
		f[i].qemu_id = (int)v;
		v = 0;
		if (cJSON_HasObjectItem(it, "thread-id")) {
			rc = json_int(cJSON_GetObjectItemCaseSensitive(it, "thread-id"), "thread-id", 0,
				      INT_MAX, &v, err);
			if (rc < 0)
				goto bad;
		}
		f[i].tid = (int)v;
		if (!qom) {
			rc = vs_err_set(err, EINVAL, "entry has no qom-path");
			goto bad;
		}
		rc = topo_valid_qom_path(qom, err);
		if (rc < 0)
			goto bad;
		core_path(qom, f[i].path, sizeof(f[i].path));
		if (tg && !target[0] && strlen(tg) < tsize && topo_valid_name("target", tg, NULL) == 0)
			snprintf(target, tsize, "%s", tg);
		i++;
	}
	*out = f;
	*nout = n;
	return 0;
bad:
	vs_err_prefix(err, "query-cpus-fast entry %d", i);
	free(f);
	return rc;
}

/* A string a step added to a table (the qom-path of a vCPU plugged since it was built). */
struct topo_more {
	struct topo_more *next;
	char s[];
};

void topo_free(struct topo_table *t)
{
	int i;

	if (!t)
		return;
	for (i = 0; t->v && i < t->n; i++)
		cJSON_Delete(t->v[i].extra);
	while (t->more) {
		struct topo_more *m = t->more;

		t->more = m->next;
		free(m);
	}
	free(t->v);
	free(t->strings);
	free(t);
}

/* A table of n empty slots, with room for strings bytes of strings. */
static struct topo_table *table_new(int n, size_t strings)
{
	struct topo_table *t = calloc(1, sizeof(*t));
	int i, k;

	if (!t)
		return NULL;
	t->v = calloc((size_t)n, sizeof(*t->v));
	t->strings = malloc(strings + 1);
	if (!t->v || !t->strings) {
		free(t->v);
		free(t->strings);
		free(t);
		return NULL;
	}
	t->strings[0] = '\0';
	t->n = n;
	for (i = 0; i < n; i++) {
		t->v[i].index = i;
		t->v[i].head = i;
		t->v[i].qemu_id = -1;
		t->v[i].type = t->v[i].qom_path = t->strings;
		for (k = 0; k < TOPO_NKEYS; k++) {
			t->v[i].ids[k] = -1;
			t->v[i].keys[k] = -1;
		}
	}
	return t;
}

/* Copy s into the table's strings at *used (table_new counted it in). */
static const char *keep(struct topo_table *t, size_t *used, const char *s, size_t len)
{
	char *d = t->strings + 1 + *used;

	memcpy(d, s, len);
	d[len] = '\0';
	*used += len + 1;
	return d;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return x < y ? -1 : x > y;
}

/*
 * libvirt's rule for TCG: single-threaded TCG reports one thread for every vCPU, or QEMU's
 * main thread; such ids must never be acted on (topo_build then keeps the earlier ones).
 */
static int apply_tcg_rule(struct topo_table *t, const int *tids, int qemu_pid, struct vs_err *err)
{
	int *sorted = malloc(((size_t)t->n + 1) * sizeof(*sorted)), i, m = 0;
	bool valid = true;

	if (!sorted)
		return vs_err_set(err, ENOMEM, "out of memory");
	for (i = 0; i < t->n; i++) {
		if (tids[i] != 0 && tids[i] == qemu_pid)
			valid = false;
		if (tids[i])
			sorted[m++] = tids[i];
	}
	qsort(sorted, (size_t)m, sizeof(*sorted), cmp_int);
	for (i = 1; i < m && valid; i++)
		if (sorted[i] == sorted[i - 1])
			valid = false;
	free(sorted);
	t->tids_valid = valid;
	for (i = 0; i < t->n; i++)
		t->v[i].tid = valid ? tids[i] : 0;
	return 0;
}

static int build_legacy(const struct fast_cpu *f, int nf, int qemu_pid, int max,
			struct topo_table **out, struct vs_err *err)
{
	struct topo_table *t;
	size_t room = 0, used = 0;
	int *tids, i, rc;

	if (max < nf)
		max = nf;
	if (max > VS_MAX_SLOTS)
		return vs_err_set(err, E2BIG, "%d vCPUs, more than the %d vcpuset accepts", max,
				  VS_MAX_SLOTS);
	for (i = 0; i < nf; i++)
		room += strlen(f[i].path) + 1;
	t = table_new(max, room);
	tids = calloc((size_t)max + 1, sizeof(*tids));
	if (!t || !tids) {
		topo_free(t);
		free(tids);
		return vs_err_set(err, ENOMEM, "out of memory");
	}
	t->legacy = true;
	for (i = 0; i < max; i++) {
		struct topo_vcpu *v = &t->v[i];

		v->vcpus = 1;
		v->online = i < nf;
		v->hotpluggable = !v->online;
		if (v->online) {
			v->qemu_id = f[i].qemu_id;
			v->order = i + 1;
			tids[i] = f[i].tid;
			v->qom_path = keep(t, &used, f[i].path, strlen(f[i].path));
			t->online++;
		}
	}
	rc = apply_tcg_rule(t, tids, qemu_pid, err);
	free(tids);
	if (rc < 0) {
		topo_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

/* Does entity i have another type than the one before it? (Every entity has a type.) */
static bool new_type(const struct entity *e, int i)
{
	if (!e[i].type)
		return false;
	return i == 0 || !e[i - 1].type || strcmp(e[i].type, e[i - 1].type) != 0;
}

/* The props keys that are not topology keys, copied into *out. */
static int keep_extra(const cJSON *props, cJSON **out, struct vs_err *err)
{
	const cJSON *it;

	*out = cJSON_CreateObject();
	if (!*out)
		return vs_err_set(err, ENOMEM, "out of memory");
	cJSON_ArrayForEach(it, props) {
		cJSON *d;

		if (key_of(it->string) < TOPO_NKEYS)
			continue;
		d = cJSON_Duplicate(it, 1);
		if (!d)
			return vs_err_set(err, ENOMEM, "out of memory");
		cJSON_AddItemToObject(*out, it->string, d);
	}
	return 0;
}

/* Bytes of strings a table of entities e needs: their qom-paths, one copy of each type. */
static size_t strings_room(const struct entity *e, int ne)
{
	size_t room = 0;
	int i;

	for (i = 0; i < ne; i++) {
		if (e[i].qom)
			room += strlen(e[i].qom) + 1;
		if (new_type(e, i))
			room += strlen(e[i].type) + 1;
	}
	return room;
}

/* The slots of t from the entities, in their order (e[i].first: the first slot of each). */
static int fill_slots(struct topo_table *t, const struct entity *e, int ne, struct vs_err *err)
{
	const char *type = "";
	size_t used = 0;
	int i, s, rc;

	for (i = 0; i < ne; i++) {
		const char *qom = e[i].qom ? keep(t, &used, e[i].qom, strlen(e[i].qom)) : t->strings;

		if (new_type(e, i))
			type = keep(t, &used, e[i].type, strlen(e[i].type)); /* one copy a run */
		for (s = e[i].first; s < e[i].first + e[i].vcpus; s++) {
			struct topo_vcpu *v = &t->v[s];

			v->head = e[i].first;
			v->vcpus = s == e[i].first ? e[i].vcpus : 0;
			v->online = e[i].qom != NULL;
			alias_of(e[i].qom, v->alias, sizeof(v->alias));
			if (v->alias[0] && topo_valid_name("alias", v->alias, err) < 0)
				return -EINVAL;
			v->hotpluggable = v->alias[0] || !v->online;
			v->order = v->online ? e[i].order : 0;
			memcpy(v->ids, e[i].ids, sizeof(v->ids));
			v->type = type;
			v->qom_path = qom;
			if (s == e[i].first) {
				memcpy(v->keys, e[i].keys, sizeof(v->keys));
				if (e[i].props) {
					rc = keep_extra(e[i].props, &v->extra, err);
					if (rc < 0)
						return rc;
				}
			}
			if (v->online)
				t->online++;
		}
	}
	return 0;
}

/* Threads of a multi-vCPU entity fill its slots in reply order, never past its end. */
static int fill_threads(struct topo_table *t, const struct entity *e,
			const struct path_index *ix, int nix, const struct fast_cpu *f, int nf,
			int *tids, struct vs_err *err)
{
	bool *filled = calloc((size_t)t->n + 1, sizeof(*filled));
	int i, k;

	if (!filled)
		return vs_err_set(err, ENOMEM, "out of memory");
	for (i = 0; i < nf; i++) {
		int x = find_entity(ix, nix, f[i].path);

		for (k = e[x].first; k < e[x].first + e[x].vcpus && filled[k]; k++)
			;
		if (k == e[x].first + e[x].vcpus) {
			free(filled);
			return vs_err_set(err, EINVAL, "query-cpus-fast lists more threads for '%s' than "
					  "its %d vCPUs", e[x].qom, e[x].vcpus);
		}
		filled[k] = true;
		tids[k] = f[i].tid;
		t->v[k].qemu_id = f[i].qemu_id;
	}
	free(filled);
	return 0;
}

/* Each entity's first slot, and the slots in all; enable order from query-cpus-fast's. */
static int place_entities(struct entity *e, int ne, const struct path_index *ix, int nix,
			  const struct fast_cpu *f, int nf, int *total, struct vs_err *err)
{
	int i, next_order = 1;

	*total = 0;
	for (i = 0; i < ne; i++) {
		e[i].first = *total;
		*total += e[i].vcpus;
	}
	/* Enable order follows query-cpus-fast's order, which is QEMU's creation order. */
	for (i = 0; i < nf; i++) {
		int x = find_entity(ix, nix, f[i].path);

		if (x < 0)
			return vs_err_set(err, EAGAIN, "query-cpus-fast lists '%s', which "
					  "query-hotpluggable-cpus does not", f[i].path);
		if (!e[x].order)
			e[x].order = next_order++;
	}
	return 0;
}

int topo_build(const cJSON *hotpluggable, const cJSON *cpus_fast, int qemu_pid, int legacy_max,
	       const struct topo_table *prev, struct topo_table **out, struct vs_err *err)
{
	struct entity *e = NULL;
	struct fast_cpu *f = NULL;
	struct topo_table *t = NULL;
	struct path_index *ix = NULL;
	char target[24] = "";
	int nix = 0, ne = 0, nf = 0, total = 0, i, rc;
	int *tids = NULL;

	*out = NULL;
	rc = parse_fast(cpus_fast, &f, &nf, target, sizeof(target), err);
	if (rc < 0)
		return rc;
	if (!hotpluggable) {
		rc = build_legacy(f, nf, qemu_pid, legacy_max, &t, err);
		goto done;
	}
	rc = parse_entities(hotpluggable, &e, &ne, err);
	if (rc == 0)
		rc = index_paths(e, ne, &ix, &nix, err);
	if (rc == 0)
		rc = place_entities(e, ne, ix, nix, f, nf, &total, err);
	if (rc < 0)
		goto out;
	t = table_new(total, strings_room(e, ne));
	tids = calloc((size_t)total + 1, sizeof(*tids));
	if (!t || !tids) {
		rc = vs_err_set(err, ENOMEM, "out of memory");
		goto out;
	}
	rc = fill_slots(t, e, ne, err);
	if (rc == 0)
		rc = fill_threads(t, e, ix, nix, f, nf, tids, err);
	if (rc == 0)
		rc = apply_tcg_rule(t, tids, qemu_pid, err);
	if (rc < 0)
		goto out;
	if (!t->tids_valid && prev && prev->n == t->n)
		for (i = 0; i < t->n; i++)
			t->v[i].tid = t->v[i].online ? prev->v[i].tid : 0;
done:
	if (rc == 0) {
		memcpy(t->target, target, sizeof(t->target));
		*out = t;
		t = NULL;
	}
out:
	topo_free(t);
	free(ix);
	free(e);
	free(f);
	free(tids);
	return rc;
}

/* What a step changed in a table, to put it back (topo_undo). */
struct topo_undo {
	int n;
	int *idx;             /* the slots saved */
	struct topo_vcpu *v;  /* as they were */
	int online;
	bool tids_valid;
	char target[24];
};

/* The online entities' heads by qom-path, for lookups in O(log n). */
static int index_online(const struct topo_table *t, struct path_index **out, int *nout,
			struct vs_err *err)
{
	struct path_index *ix = calloc((size_t)t->online + 1, sizeof(*ix));
	int i, m = 0;

	if (!ix)
		return vs_err_set(err, ENOMEM, "out of memory");
	for (i = 0; i < t->n && m < t->online; i++)
		if (t->v[i].vcpus > 0 && t->v[i].online && t->v[i].qom_path[0])
			ix[m++] = (struct path_index){ t->v[i].qom_path, i };
	qsort(ix, (size_t)m, sizeof(*ix), cmp_path);
	*out = ix;
	*nout = m;
	return 0;
}

/* Entity at head: online at path (NULL: offline), in enable order order. */
static void set_entity(struct topo_table *t, int head, const char *path, int order)
{
	int s;

	for (s = head; s < head + t->v[head].vcpus; s++) {
		struct topo_vcpu *v = &t->v[s];

		v->online = path != NULL;
		v->qom_path = path ? path : t->strings;
		alias_of(path, v->alias, sizeof(v->alias));
		v->hotpluggable = v->alias[0] || !v->online;
		v->order = order;
		v->qemu_id = -1;
		v->tid = 0;
	}
}

/* Which head each of query-cpus-fast's entries is, from t and the new path. */
static int place_fast(const struct topo_table *t, const struct fast_cpu *f, int nf, int slot,
		      const char *new_path, int *heads, struct vs_err *err)
{
	struct path_index *ix = NULL;
	int nix = 0, i, rc;

	rc = index_online(t, &ix, &nix, err);
	for (i = 0; rc == 0 && i < nf; i++) {
		struct path_index key = { f[i].path, -1 }, *hit;

		hit = nix ? bsearch(&key, ix, (size_t)nix, sizeof(*ix), cmp_path) : NULL;
		heads[i] = hit ? hit->entity : new_path && strcmp(f[i].path, new_path) == 0 ? slot : -1;
		if (heads[i] < 0)
			rc = vs_err_set(err, EAGAIN, "query-cpus-fast lists '%s', which the step does not "
					"explain", f[i].path);
	}
	free(ix);
	return rc;
}

static const int *sort_heads; /* for cmp_by_head: qsort has no context argument */

static int cmp_by_head(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	if (sort_heads[x] != sort_heads[y])
		return sort_heads[x] < sort_heads[y] ? -1 : 1;
	return x < y ? -1 : x > y;
}

/* The slot each entry fills: an entity's threads fill its slots in reply order, never past. */
static int place_threads(const struct topo_table *t, const struct fast_cpu *f, int nf,
			 const int *heads, int *fill, struct vs_err *err)
{
	int *order = malloc(((size_t)nf + 1) * sizeof(*order)), i, j = 0;

	if (!order)
		return vs_err_set(err, ENOMEM, "out of memory");
	for (i = 0; i < nf; i++)
		order[i] = i;
	sort_heads = heads;
	qsort(order, (size_t)nf, sizeof(*order), cmp_by_head);
	for (i = 0; i < nf; i++) {
		int h = heads[order[i]];

		j = i && heads[order[i - 1]] == h ? j + 1 : 0;
		if (j >= t->v[h].vcpus) {
			vs_err_set(err, EINVAL, "query-cpus-fast lists more threads for '%s' than its %d "
				   "vCPUs", f[order[i]].path, t->v[h].vcpus);
			free(order);
			return -EINVAL;
		}
		fill[order[i]] = h + j;
	}
	free(order);
	return 0;
}

/* libvirt's TCG rule on the thread ids of the vCPUs listed: distinct, none QEMU's main. */
static bool tids_pass(const struct fast_cpu *f, int nf, int qemu_pid)
{
	int *sorted = malloc(((size_t)nf + 1) * sizeof(*sorted)), i, m = 0;
	bool valid = sorted != NULL;

	for (i = 0; valid && i < nf; i++) {
		if (f[i].tid && f[i].tid == qemu_pid)
			valid = false;
		if (f[i].tid)
			sorted[m++] = f[i].tid;
	}
	if (valid)
		qsort(sorted, (size_t)m, sizeof(*sorted), cmp_int);
	for (i = 1; valid && i < m; i++)
		if (sorted[i] == sorted[i - 1])
			valid = false;
	free(sorted);
	return valid;
}

/* Save the slots a step may change: those online now, and those of the entity it plugs. */
static struct topo_undo *undo_new(const struct topo_table *t, int slot, bool plug)
{
	struct topo_undo *u = calloc(1, sizeof(*u));
	int i, cap = t->online + (plug ? t->v[slot].vcpus : 0);

	if (!u)
		return NULL;
	u->idx = calloc((size_t)cap + 1, sizeof(*u->idx));
	u->v = calloc((size_t)cap + 1, sizeof(*u->v));
	if (!u->idx || !u->v) {
		topo_undo_free(u);
		return NULL;
	}
	for (i = 0; i < t->n && u->n < cap; i++)
		if (t->v[i].online || (plug && i >= slot && i < slot + t->v[slot].vcpus)) {
			u->idx[u->n] = i;
			u->v[u->n++] = t->v[i];
		}
	u->online = t->online;
	u->tids_valid = t->tids_valid;
	memcpy(u->target, t->target, sizeof(u->target));
	return u;
}

void topo_undo_free(struct topo_undo *u)
{
	if (!u)
		return;
	free(u->idx);
	free(u->v);
	free(u);
}

void topo_undo(struct topo_table *t, struct topo_undo *u)
{
	int i;

	if (!u)
		return;
	for (i = 0; i < u->n; i++)
		t->v[u->idx[i]] = u->v[i];
	t->online = u->online;
	t->tids_valid = u->tids_valid;
	memcpy(t->target, u->target, sizeof(t->target));
	topo_undo_free(u);
}

/* Everything a step's update needs, found before the table changes. */
struct update_plan {
	struct fast_cpu *f;
	int nf;
	int *heads;  /* per entry: the head of its entity */
	int *fill;   /* per entry: the slot it fills */
	int *old_tid; /* per entry: its slot's thread id before (the TCG rule's fallback) */
	const char **path; /* per entry: its entity's qom-path (the table's, or more's) */
	struct topo_more *more; /* the new path's copy */
	char target[24];
};

static void update_plan_free(struct update_plan *p)
{
	free(p->f);
	free(p->heads);
	free(p->fill);
	free(p->old_tid);
	free((void *)p->path);
	free(p->more);
}

static int update_prepare(const struct topo_table *t, const cJSON *cf, int slot,
			  const char *new_path, struct update_plan *p, struct vs_err *err)
{
	size_t n;
	int rc, i;

	rc = parse_fast(cf, &p->f, &p->nf, p->target, sizeof(p->target), err);
	if (rc < 0)
		return rc;
	n = (size_t)p->nf + 1;
	p->heads = calloc(n, sizeof(*p->heads));
	p->fill = calloc(n, sizeof(*p->fill));
	p->old_tid = calloc(n, sizeof(*p->old_tid));
	p->path = calloc(n, sizeof(*p->path));
	if (new_path)
		p->more = calloc(1, sizeof(*p->more) + strlen(new_path) + 1);
	if (!p->heads || !p->fill || !p->old_tid || !p->path || (new_path && !p->more))
		return vs_err_set(err, ENOMEM, "out of memory");
	if (new_path)
		memcpy(p->more->s, new_path, strlen(new_path) + 1);
	rc = place_fast(t, p->f, p->nf, slot, new_path, p->heads, err);
	if (rc == 0)
		rc = place_threads(t, p->f, p->nf, p->heads, p->fill, err);
	for (i = 0; rc == 0 && i < p->nf; i++) {
		const struct topo_vcpu *v = &t->v[p->fill[i]];

		p->old_tid[i] = v->online ? v->tid : 0;
		p->path[i] = new_path && p->heads[i] == slot ? p->more->s : t->v[p->heads[i]].qom_path;
	}
	return rc;
}

int topo_update(struct topo_table *t, const cJSON *cpus_fast, int qemu_pid, int slot,
		const char *new_path, struct topo_undo **undo, struct vs_err *err)
{
	struct update_plan p = { 0 };
	char alias[TOPO_NAME_MAX];
	struct topo_undo *u = NULL;
	int i, next_order = 1, rc;
	bool valid;

	*undo = NULL;
	if (t->legacy || (new_path && (slot < 0 || slot >= t->n || t->v[slot].vcpus <= 0 ||
				       t->v[slot].online)))
		return vs_err_set(err, EAGAIN, "%s", "the table cannot follow this step alone");
	if (new_path) {
		alias_of(new_path, alias, sizeof(alias));
		if (topo_valid_qom_path(new_path, err) < 0 ||
		    (alias[0] && topo_valid_name("alias", alias, err) < 0))
			return -EINVAL;
	}
	rc = update_prepare(t, cpus_fast, slot, new_path, &p, err);
	if (rc == 0 && !(u = undo_new(t, slot, new_path != NULL)))
		rc = vs_err_set(err, ENOMEM, "out of memory");
	if (rc < 0) {
		update_plan_free(&p);
		return rc;
	}
	/* from here on nothing fails: every entity offline, then online in the reply's order */
	valid = tids_pass(p.f, p.nf, qemu_pid);
	for (i = 0; i < u->n; i++)
		if (t->v[u->idx[i]].vcpus > 0 && t->v[u->idx[i]].online)
			set_entity(t, u->idx[i], NULL, 0);
	for (i = 0; i < p.nf; i++) {
		struct topo_vcpu *v = &t->v[p.fill[i]];

		if (!t->v[p.heads[i]].online)
			set_entity(t, p.heads[i], p.path[i], next_order++);
		v->qemu_id = p.f[i].qemu_id;
		v->tid = valid ? p.f[i].tid : p.old_tid[i];
	}
	t->online = 0;
	for (i = 0; i < p.nf; i++)
		t->online += p.heads[i] == p.fill[i] ? t->v[p.heads[i]].vcpus : 0;
	t->tids_valid = valid;
	if (p.target[0])
		memcpy(t->target, p.target, sizeof(t->target));
	if (p.more) {
		p.more->next = t->more;
		t->more = p.more;
		p.more = NULL;
	}
	update_plan_free(&p);
	*undo = u;
	return 0;
}

int topo_cpus_list(const cJSON *cpus_fast, const char *path, struct vs_err *err)
{
	struct fast_cpu *f = NULL;
	char target[24] = "";
	int nf = 0, i, rc, found = 0;

	rc = parse_fast(cpus_fast, &f, &nf, target, sizeof(target), err);
	if (rc < 0)
		return rc;
	for (i = 0; i < nf && !found; i++)
		found = strcmp(f[i].path, path) == 0;
	free(f);
	return found;
}

int topo_check_tids(const struct topo_table *t, int qemu_pid, int (*is_task)(void *ctx, int tid),
		    void *ctx, struct vs_err *err)
{
	int i;

	if (!t->tids_valid)
		return 0;
	for (i = 0; i < t->n; i++) {
		if (!t->v[i].online || t->v[i].tid == 0)
			continue;
		if (is_task(ctx, t->v[i].tid) != 1)
			return vs_err_set(err, ESRCH, "QEMU reports thread %d for vCPU %d, which is not "
					  "a thread of QEMU (pid %d): refusing to act on it",
					  t->v[i].tid, i, qemu_pid);
	}
	return 0;
}

char *topo_describe(const struct topo_vcpu *v, char *buf, size_t size)
{
	size_t off = 0;
	int k, n;

	buf[0] = '\0';
	for (k = 0; k < TOPO_NKEYS; k++) {
		if (v->ids[k] < 0)
			continue;
		n = snprintf(buf + off, size - off, "%s%s=%lld", off ? " " : "", topo_key_names[k],
			     v->ids[k]);
		if (n < 0 || (size_t)n >= size - off)
			break;
		off += (size_t)n;
	}
	return buf;
}

cJSON *topo_props(const struct topo_vcpu *v)
{
	cJSON *o = cJSON_CreateObject();
	const cJSON *it;
	int k;

	for (k = 0; o && k < TOPO_NKEYS && v->keys[k] >= 0; k++)
		if (!cJSON_AddNumberToObject(o, topo_key_names[v->keys[k]], (double)v->ids[v->keys[k]]))
			goto fail;
	cJSON_ArrayForEach(it, v->extra) {
		cJSON *d = cJSON_Duplicate(it, 1);

		if (!d || !o)
			goto fail;
		cJSON_AddItemToObject(o, it->string, d);
	}
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

cJSON *topo_vcpu_json(const struct topo_vcpu *v, bool tids_valid)
{
	cJSON *o = cJSON_CreateObject(), *topo;
	int k;

	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "index", v->index);
	cJSON_AddBoolToObject(o, "online", v->online);
	cJSON_AddBoolToObject(o, "hotpluggable", v->hotpluggable);
	cJSON_AddNumberToObject(o, "vcpus", v->vcpus);
	cJSON_AddNumberToObject(o, "entity", v->head);
	if (v->alias[0])
		cJSON_AddStringToObject(o, "alias", v->alias);
	else
		cJSON_AddNullToObject(o, "alias");
	if (v->qom_path[0])
		cJSON_AddStringToObject(o, "qom_path", v->qom_path);
	else
		cJSON_AddNullToObject(o, "qom_path");
	if (v->online && v->tid > 0 && tids_valid)
		cJSON_AddNumberToObject(o, "tid", v->tid);
	else
		cJSON_AddNullToObject(o, "tid");
	if (v->qemu_id >= 0)
		cJSON_AddNumberToObject(o, "cpu_index", v->qemu_id);
	else
		cJSON_AddNullToObject(o, "cpu_index");
	cJSON_AddNumberToObject(o, "order", v->order);
	if (v->type[0])
		cJSON_AddStringToObject(o, "type", v->type);
	topo = cJSON_AddObjectToObject(o, "topology");
	for (k = 0; topo && k < TOPO_NKEYS; k++)
		if (v->ids[k] >= 0)
			cJSON_AddNumberToObject(topo, topo_key_names[k], (double)v->ids[k]);
	if (v->vcpus > 0 && v->keys[0] >= 0)
		cJSON_AddItemToObject(o, "props", topo_props(v));
	return o;
}

int topo_parse_count(const char *s, struct topo_count *c, struct vs_err *err)
{
	const char *p = s;
	long long n = 0;

	c->sign = 0;
	if (*p == '+' || *p == '-')
		c->sign = *p++;
	if (!*p)
		return vs_err_set(err, EINVAL, "COUNT '%s' is not a number", s);
	for (; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return vs_err_set(err, EINVAL, "COUNT '%s' is not a number", s);
		if (n > (VS_MAX_SLOTS * 10LL))
			return vs_err_set(err, ERANGE, "COUNT '%s' is out of range", s);
		n = n * 10 + (*p - '0');
	}
	c->n = n;
	return 0;
}

long long topo_count_target(const struct topo_count *c, long long cur)
{
	return c->sign == '+' ? cur + c->n : c->sign == '-' ? cur - c->n : c->n;
}

void topo_plan_clear(struct topo_plan *p)
{
	free(p->steps);
	memset(p, 0, sizeof(*p));
}

static int entity_size(const struct topo_table *t)
{
	int i, g = 0;

	for (i = 0; i < t->n; i++)
		if (t->v[i].vcpus > g)
			g = t->v[i].vcpus;
	return g ? g : 1;
}

/* Why COUNT target cannot be reached from cur vCPUs, entity by entity. */
static int unreachable(const struct topo_table *t, long long target, int cur, struct vs_err *err)
{
	int g = entity_size(t), fixed = 0, i;

	for (i = 0; i < t->n; i++)
		if (t->v[i].online && !t->v[i].hotpluggable)
			fixed++;
	if (g > 1 && (target - cur) % g != 0)
		return vs_err_set(err, EINVAL, "COUNT %lld is not reachable: this machine plugs vCPUs "
				  "%d at a time (%d online; nearest counts %lld and %lld)", target, g,
				  cur, cur + ((target - cur) / g - (target < cur)) * g,
				  cur + ((target - cur) / g + (target > cur)) * g);
	if (target < cur)
		return vs_err_set(err, EINVAL, "COUNT %lld is below the %d vCPUs that cannot be "
				  "unplugged (present at boot or not added as vcpuN)", target, fixed);
	return vs_err_set(err, EINVAL, "COUNT %lld is not reachable: the %d free slots do not add "
			  "up to it", target, t->n - t->online);
}

int topo_plan(const struct topo_table *t, const struct topo_count *c, const bool *busy,
	      struct topo_plan *p, struct vs_err *err)
{
	long long target;
	int cur, pending = 0, i, reach;

	/* an entity whose unplug is pending counts as gone: the ledger says it is leaving */
	for (i = 0; busy && i < t->n; i++)
		if (busy[i] && t->v[i].online)
			pending++;
	cur = t->online - pending;
	memset(p, 0, sizeof(*p));
	p->before = cur;
	p->pending = pending;
	p->max = t->n;
	target = topo_count_target(c, cur);
	if (target < 1) {
		if (c->sign)
			return vs_err_set(err, EINVAL, "COUNT %c%lld from %d vCPUs leaves %lld: a guest "
					  "needs at least 1 vCPU", c->sign, c->n, cur, target);
		return vs_err_set(err, EINVAL, "COUNT must be at least 1: a guest cannot run without "
				  "vCPUs");
	}
	if (target > t->n - pending)
		return vs_err_set(err, ERANGE, "COUNT %lld is above the maximum of %d vCPUs%s", target,
				  t->n - pending, pending ? " while an unplug is pending" : "");
	p->target = (int)target;
	if (target == cur)
		return 0;
	if (target < cur && t->legacy)
		return vs_err_set(err, EINVAL, "COUNT %lld needs an unplug, which this QEMU cannot do: "
				  "it has cpu-add but no query-hotpluggable-cpus", target);
	p->steps = calloc((size_t)t->n, sizeof(*p->steps));
	if (!p->steps)
		return vs_err_set(err, ENOMEM, "out of memory");
	reach = cur;
	if (target > cur) {
		/* a slot pending unplug is still listed online: never plugged again meanwhile */
		for (i = 0; i < t->n && reach < target; i++) {
			const struct topo_vcpu *v = &t->v[i];

			if (v->online || v->vcpus == 0 || (busy && busy[i]))
				continue;
			if (reach + v->vcpus > target)
				break;
			p->steps[p->nsteps++] = (struct topo_step){ TOPO_PLUG, i, v->vcpus, reach,
								    reach + v->vcpus };
			reach += v->vcpus;
		}
	} else {
		for (i = t->n - 1; i >= 0 && reach > target; i--) {
			const struct topo_vcpu *v = &t->v[i];

			if (!v->online || v->vcpus == 0 || !v->alias[0] || (busy && busy[i]))
				continue;
			if (reach - v->vcpus < target)
				break;
			p->steps[p->nsteps++] = (struct topo_step){ TOPO_UNPLUG, i, v->vcpus, reach,
								    reach - v->vcpus };
			reach -= v->vcpus;
		}
	}
	if (reach != target) {
		topo_plan_clear(p);
		p->before = cur;
		p->pending = pending;
		p->max = t->n;
		return unreachable(t, target, cur, err);
	}
	p->target = (int)target;
	return 0;
}

#define LIST_WORDS (VS_MAX_SLOTS / 64)

static bool bit(const uint64_t *m, int i)
{
	return (m[i / 64] >> (i % 64)) & 1;
}

static void set_bit(uint64_t *m, int i)
{
	m[i / 64] |= 1ULL << (i % 64);
}

const char *topo_why_fixed(const struct topo_table *t, int i, const bool *busy)
{
	const struct topo_vcpu *h = &t->v[t->v[i].head];

	if (!t->v[i].online)
		return "offline";
	if (t->legacy)
		return "this QEMU cannot unplug (cpu-add, no query-hotpluggable-cpus)";
	if (!h->alias[0])
		return "present at boot (no alias to unplug it by)";
	if (busy && busy[h->index])
		return "its unplug is pending";
	return NULL;
}

/* m as a cpulist into buf (at most size bytes, "..." when cut). */
static const char *list_text(const uint64_t *m, char *buf, size_t size)
{
	if (topo_cpulist_format(m, VS_MAX_SLOTS, buf, size) < 0)
		snprintf(buf + size - 4, 4, "...");
	return buf;
}

/* Is every selected slot of each entity selected with all its others? -EINVAL naming one. */
static int whole_entities(const struct topo_table *t, const uint64_t *m, const char *opt,
			  const char *list, struct vs_err *err)
{
	int h, j, k;

	for (h = 0; h < t->n; h++) {
		const struct topo_vcpu *v = &t->v[h];

		if (v->vcpus <= 1)
			continue;
		for (j = h, k = 0; j < h + v->vcpus; j++)
			k += bit(m, j);
		if (k && k < v->vcpus)
			return vs_err_set(err, EINVAL, "%s %.64s: vCPUs %d-%d are one hot-pluggable "
					  "entity (a %s's threads), changed whole: give all of them, %s "
					  "%d-%d", opt, list, h, h + v->vcpus - 1,
					  v->keys[0] >= 0 ? topo_key_names[v->keys[0]] : "core", opt, h,
					  h + v->vcpus - 1);
	}
	return 0;
}

/* The selected heads, sorted into: already in the asked state, fixed, pending. */
static int list_states(const struct topo_table *t, const uint64_t *m, bool enable,
		       const bool *busy, uint64_t *already, uint64_t *fixed, uint64_t *pend)
{
	int h, n = 0;

	for (h = 0; h < t->n; h++) {
		const struct topo_vcpu *v = &t->v[h];

		if (v->vcpus == 0 || !bit(m, h))
			continue;
		n++;
		if (busy && busy[h])
			set_bit(pend, h);
		else if (v->online == enable)
			set_bit(already, h);
		else if (!enable && !v->alias[0])
			set_bit(fixed, h);
	}
	return n;
}

static bool any(const uint64_t *m)
{
	int i;

	for (i = 0; i < LIST_WORDS; i++)
		if (m[i])
			return true;
	return false;
}

/* The refusals of a list, after its syntax and bounds: -EINVAL naming the vCPUs, or 0. */
static int list_refusals(const struct topo_table *t, const uint64_t *m, bool enable,
			 const bool *busy, const char *opt, const char *list, bool *all_already,
			 struct vs_err *err)
{
	uint64_t *st = calloc((size_t)3 * LIST_WORDS, sizeof(*st));
	uint64_t *already, *fixed, *pend;
	char a[512];
	int rc = 0, n, k = 0, i;

	if (!st)
		return vs_err_set(err, ENOMEM, "out of memory");
	already = st;
	fixed = st + LIST_WORDS;
	pend = st + (size_t)2 * LIST_WORDS;
	n = list_states(t, m, enable, busy, already, fixed, pend);
	for (i = 0; i < LIST_WORDS; i++)
		k += __builtin_popcountll(already[i]);
	if (any(pend))
		rc = vs_err_set(err, EINVAL, "%s %.64s: the unplug of vCPU %s is pending: it is "
				"neither plugged nor unplugged again until it ends (vcpuset --wait)",
				opt, list, list_text(pend, a, sizeof(a)));
	else if (any(fixed))
		rc = vs_err_set(err, EINVAL, "%s %.64s: vCPU %s was present at boot (no alias to "
				"unplug it by) and cannot be unplugged", opt, list,
				list_text(fixed, a, sizeof(a)));
	else if (k && k < n)
		rc = vs_err_set(err, EINVAL, "%s %.64s: vCPU %s is %s already (give only the others)",
				opt, list, list_text(already, a, sizeof(a)),
				enable ? "online" : "offline");
	*all_already = rc == 0 && k == n;
	free(st);
	return rc;
}

/* The steps: plugs lowest first, unplugs highest first, counts chained from cur. */
static int list_steps(const struct topo_table *t, const uint64_t *m, bool enable, int cur,
		      struct topo_plan *p, struct vs_err *err)
{
	int i, reach = cur;

	p->steps = calloc((size_t)t->n + 1, sizeof(*p->steps));
	if (!p->steps)
		return vs_err_set(err, ENOMEM, "out of memory");
	for (i = enable ? 0 : t->n - 1; enable ? i < t->n : i >= 0; i += enable ? 1 : -1) {
		const struct topo_vcpu *v = &t->v[i];
		int next = enable ? reach + v->vcpus : reach - v->vcpus;

		if (v->vcpus == 0 || !bit(m, i))
			continue;
		p->steps[p->nsteps++] = (struct topo_step){ enable ? TOPO_PLUG : TOPO_UNPLUG, i,
							    v->vcpus, reach, next };
		reach = next;
	}
	p->target = reach;
	return 0;
}

int topo_plan_list(const struct topo_table *t, const char *list, bool enable, const bool *busy,
		   struct topo_plan *p, struct vs_err *err)
{
	const char *opt = enable ? "--enable" : "--disable";
	uint64_t *m = calloc(LIST_WORDS, sizeof(*m));
	bool all_already = false;
	int i, pending = 0, rc;

	memset(p, 0, sizeof(*p));
	if (!m)
		return vs_err_set(err, ENOMEM, "out of memory");
	for (i = 0; busy && i < t->n; i++)
		pending += busy[i] && t->v[i].online;
	p->before = p->target = t->online - pending;
	p->pending = pending;
	p->max = t->n;
	rc = topo_cpulist_parse(list, m, VS_MAX_SLOTS, err);
	if (rc < 0)
		rc = vs_err_prefix(err, "%s", opt);
	for (i = t->n; rc == 0 && i < VS_MAX_SLOTS; i++)
		if (bit(m, i))
			rc = vs_err_set(err, ERANGE, "%s %.64s: vCPU %d is past the last one, %d (%d "
					"vCPUs at most)", opt, list, i, t->n - 1, t->n);
	if (rc == 0 && t->legacy)
		rc = vs_err_set(err, EINVAL, "%s needs query-hotpluggable-cpus, which this QEMU "
				"lacks (cpu-add only)", opt);
	if (rc == 0)
		rc = whole_entities(t, m, opt, list, err);
	if (rc == 0)
		rc = list_refusals(t, m, enable, busy, opt, list, &all_already, err);
	if (rc == 0 && !all_already)
		rc = list_steps(t, m, enable, p->before, p, err);
	free(m);
	return rc;
}

int topo_step_command(const struct topo_table *t, const struct topo_step *s, const char **cmd,
		      cJSON **args, struct vs_err *err)
{
	const struct topo_vcpu *v = &t->v[s->vcpu];
	cJSON *a = cJSON_CreateObject(), *it, *props;
	char id[TOPO_NAME_MAX];

	*args = NULL;
	if (!a)
		return vs_err_set(err, ENOMEM, "out of memory");
	if (s->op == TOPO_PLUG && t->legacy) {
		*cmd = TOPO_CMD_LEGACY_ADD;
		cJSON_AddNumberToObject(a, "id", s->vcpu);
	} else if (s->op == TOPO_PLUG) {
		*cmd = "device_add";
		snprintf(id, sizeof(id), "vcpu%d", s->vcpu);
		cJSON_AddStringToObject(a, "driver", v->type);
		cJSON_AddStringToObject(a, "id", id);
		props = topo_props(v);
		if (!props) {
			cJSON_Delete(a);
			return vs_err_set(err, ENOMEM, "out of memory");
		}
		while ((it = props->child)) /* moved over in their order */
			cJSON_AddItemToObject(a, it->string, cJSON_DetachItemViaPointer(props, it));
		cJSON_Delete(props);
	} else {
		*cmd = "device_del";
		if (!v->alias[0]) {
			cJSON_Delete(a);
			return vs_err_set(err, EINVAL, "vCPU %d has no vcpuN id and cannot be unplugged",
					  s->vcpu);
		}
		cJSON_AddStringToObject(a, "id", v->alias);
	}
	*args = a;
	return 0;
}

/*
 * QEMU versions known to break vCPU hot-plug, with where that is known from. Measured here or
 * reported with a reproduction; a version not listed is not known to be good either.
 */
static const struct {
	int from[3], to[3]; /* inclusive */
	bool tcg_only;
	const char *what;
} bad_qemu[] = {
	{ { 7, 2, 0 }, { 7, 2, 99 }, true,
	  "crashes (SIGSEGV) on the first device_add of a CPU after any CPU was unplugged "
	  "(Debian 12's 7.2, measured: shared/reference/qemu-on-this-machine.md)" },
};

static int version_cmp(const int a[3], const int b[3])
{
	int i;

	for (i = 0; i < 3; i++)
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	return 0;
}

bool topo_qemu_known_bad(const char *version, bool tcg, char *why, size_t size)
{
	const char *p = version;
	int v[3] = { 0, 0, 0 };
	size_t i;

	for (i = 0; p && i < 3; i++) {
		char *end;
		long n = strtol(p, &end, 10);

		if (end == p || n < 0 || n > 9999 || *end != (i < 2 ? '.' : '\0'))
			return false;
		v[i] = (int)n;
		p = end + 1;
	}
	if (!p)
		return false;
	for (i = 0; i < sizeof(bad_qemu) / sizeof(*bad_qemu); i++)
		if (version_cmp(v, bad_qemu[i].from) >= 0 && version_cmp(v, bad_qemu[i].to) <= 0 &&
		    (tcg || !bad_qemu[i].tcg_only)) {
			snprintf(why, size, "QEMU %s%s %s", version, bad_qemu[i].tcg_only ? " under TCG"
				 : "", bad_qemu[i].what);
			return true;
		}
	return false;
}

const char *const topo_events[] = { "DEVICE_DELETED", "DEVICE_UNPLUG_GUEST_ERROR", "ACPI_DEVICE_OST",
				    NULL };

enum topo_event topo_event_kind(const cJSON *ev, const char *alias, const char *qom_path)
{
	const char *name = str_item(ev, "event");
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(ev, "data");
	const char *dev = str_item(data, "device"), *path = str_item(data, "path");
	char peri[TOPO_PATH_MAX];
	size_t ql = qom_path ? strlen(qom_path) : 0;
	bool mine;

	if (!name || !cJSON_IsObject(data))
		return TOPO_EV_OTHER;
	snprintf(peri, sizeof(peri), "/machine/peripheral/%s", alias ? alias : "");
	mine = (dev && alias && alias[0] && strcmp(dev, alias) == 0) ||
	       (path && ((ql && strcmp(path, qom_path) == 0) || (alias && alias[0] && strcmp(path, peri) == 0)));
	if (strcmp(name, "DEVICE_DELETED") == 0) {
		if (mine)
			return TOPO_EV_DELETED;
		/* Under TCG only the child (".../vcpuN/lapic") is announced. */
		if (path && ql && strncmp(path, qom_path, ql) == 0 && path[ql] == '/')
			return TOPO_EV_RELATED;
		return TOPO_EV_OTHER;
	}
	if (strcmp(name, "DEVICE_UNPLUG_GUEST_ERROR") == 0)
		return mine ? TOPO_EV_REJECTED : TOPO_EV_OTHER;
	if (strcmp(name, "ACPI_DEVICE_OST") == 0) {
		const cJSON *info = cJSON_GetObjectItemCaseSensitive(data, "info");
		const char *st = str_item(info, "slot-type"), *idev = str_item(info, "device");
		const cJSON *src = cJSON_GetObjectItemCaseSensitive(info, "source");
		const cJSON *status = cJSON_GetObjectItemCaseSensitive(info, "status");

		if (!st || strcmp(st, "CPU") != 0)
			return TOPO_EV_OTHER;
		/* the guest's answer to an eject request (source 3): 0x84 is "in progress" */
		if (idev && alias && alias[0] && strcmp(idev, alias) == 0 && cJSON_IsNumber(src) &&
		    src->valuedouble == 3 && cJSON_IsNumber(status) && status->valuedouble != 0 &&
		    status->valuedouble != 0x84)
			return TOPO_EV_REJECTED;
		return TOPO_EV_RELATED;
	}
	return TOPO_EV_OTHER;
}

int topo_ost_insert(const cJSON *ev, const char **device, int *status)
{
	const cJSON *info = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ev,
									     "data"), "info");
	const char *name = str_item(ev, "event"), *st = str_item(info, "slot-type");
	const cJSON *src = cJSON_GetObjectItemCaseSensitive(info, "source");
	const cJSON *stat = cJSON_GetObjectItemCaseSensitive(info, "status");

	*device = str_item(info, "device");
	if (!name || strcmp(name, "ACPI_DEVICE_OST") != 0 || !st || strcmp(st, "CPU") != 0 ||
	    !*device || !cJSON_IsNumber(src) || src->valuedouble != 1 || !cJSON_IsNumber(stat) ||
	    stat->valuedouble < 0 || stat->valuedouble > 0xffff)
		return 0;
	*status = (int)stat->valuedouble;
	return 1;
}

int topo_slot_plugged(const cJSON *hotpluggable, const struct topo_vcpu *head, struct vs_err *err)
{
	const cJSON *it;
	long long ids[TOPO_NKEYS];
	int rc;

	if (!cJSON_IsArray(hotpluggable))
		return vs_err_set(err, EINVAL, "query-hotpluggable-cpus did not return a list");
	cJSON_ArrayForEach(it, hotpluggable) {
		rc = parse_props(cJSON_GetObjectItemCaseSensitive(it, "props"), ids, NULL, err);
		if (rc < 0)
			return vs_err_prefix(err, "query-hotpluggable-cpus");
		if (cmp_ids(ids, head->ids) == 0)
			return cJSON_HasObjectItem(it, "qom-path") ? 1 : 0;
	}
	return vs_err_set(err, ENOENT, "query-hotpluggable-cpus no longer lists vCPU %d", head->index);
}

int topo_cpulist_parse(const char *s, uint64_t *mask, size_t nbits, struct vs_err *err)
{
	const char *p = s;
	unsigned long a, b;
	char *end;
	size_t i;

	memset(mask, 0, (nbits + 63) / 64 * sizeof(*mask));
	if (!*p || *p == '\n')
		return vs_err_set(err, EINVAL, "list '%s' is empty", s);
	for (;;) {
		if (!isdigit((unsigned char)*p))
			return vs_err_set(err, EINVAL, "list '%s' is not a list like 0-3,8", s);
		errno = 0;
		a = strtoul(p, &end, 10);
		b = a;
		p = end;
		if (*p == '-') {
			p++;
			if (!isdigit((unsigned char)*p))
				return vs_err_set(err, EINVAL, "list '%s' is not a list like 0-3,8", s);
			b = strtoul(p, &end, 10);
			p = end;
		}
		if (errno || a >= nbits || b >= nbits)
			return vs_err_set(err, ERANGE, "list '%s' names a CPU at or past %zu", s, nbits);
		if (b < a)
			return vs_err_set(err, EINVAL, "list '%s' has the reversed range %lu-%lu", s, a, b);
		for (i = a; i <= b; i++)
			mask[i / 64] |= UINT64_C(1) << (i % 64);
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == '\n' && p[1] == '\0')
			return 0;
		if (*p)
			return vs_err_set(err, EINVAL, "list '%s' is not a list like 0-3,8", s);
		return 0;
	}
}

int topo_cpulist_format(const uint64_t *mask, size_t nbits, char *buf, size_t size)
{
	size_t i = 0, off = 0, a;
	int n;

	if (size == 0)
		return -ENOSPC;
	buf[0] = '\0';
	while (i < nbits) {
		if (!(mask[i / 64] >> (i % 64) & 1)) {
			i++;
			continue;
		}
		a = i;
		while (i + 1 < nbits && (mask[(i + 1) / 64] >> ((i + 1) % 64) & 1))
			i++;
		n = a == i ? snprintf(buf + off, size - off, "%s%zu", off ? "," : "", a)
			   : snprintf(buf + off, size - off, "%s%zu-%zu", off ? "," : "", a, i);
		if (n < 0 || (size_t)n >= size - off)
			return -ENOSPC;
		off += (size_t)n;
		i++;
	}
	return (int)off;
}

int topo_parse_ll(const char *what, const char *s, long long min, long long max, long long *out,
		  struct vs_err *err)
{
	const char *p = s;
	long long v;
	char *end;

	if (*p == '-' && min >= 0)
		return vs_err_set(err, ERANGE, "%s '%s' must not be negative", what, s);
	if (*p == '-')
		p++;
	if (!isdigit((unsigned char)*p))
		return vs_err_set(err, EINVAL, "%s '%s' is not a whole number", what, s);
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end)
		return vs_err_set(err, EINVAL, "%s '%s' is not a whole number", what, s);
	if (errno == ERANGE || v < min || v > max)
		return vs_err_set(err, ERANGE, "%s '%s' is out of range (%lld to %lld)", what, s, min,
				  max);
	*out = v;
	return 0;
}

int topo_parse_seconds(const char *what, const char *s, double min, double max, double *out,
		       struct vs_err *err)
{
	double v;
	char *end;

	if ((!isdigit((unsigned char)s[0]) && s[0] != '.') || strpbrk(s, "xXpPnN"))
		return vs_err_set(err, EINVAL, "%s '%s' is not a number of seconds", what, s);
	errno = 0;
	v = strtod(s, &end);
	if (*end || end == s || errno == ERANGE || !isfinite(v))
		return vs_err_set(err, EINVAL, "%s '%s' is not a number of seconds", what, s);
	if (v < min || v > max)
		return vs_err_set(err, ERANGE, "%s '%s' is out of range (%g to %g seconds)", what, s,
				  min, max);
	*out = v;
	return 0;
}
