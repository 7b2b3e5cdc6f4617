/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ga: the guest agent. qemu-ga speaks QMP's framing on a virtio-serial port whose host end is
 * a unix socket QEMU serves: no greeting, no events, replies in order. The channel may hold
 * what an earlier client left (replies nobody read, half a command), so every connection
 * starts with 0xFF (which resets the agent's parser) and guest-sync-delimited with a random
 * id: the agent answers 0xFF then the id, and everything before that is dropped. Everything
 * the agent says is the guest's word: parsed strictly, bounded in size and time, and used
 * only to report and to ask the agent itself.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "ga.h"
#include "qmp.h"

#define CMD_SYNC "guest-sync-delimited"
#define CMD_GET "guest-get-vcpus"
#define CMD_SET "guest-set-vcpus"
#define CMD_OPEN "guest-file-open"
#define CMD_READ "guest-file-read"
#define CMD_CLOSE "guest-file-close"
#define ACPI_PATH_FMT "/sys/devices/system/cpu/cpu%d/firmware_node/path"
#define ACPI_READ_MAX 64 /* bytes of a firmware path read */
#define POLL_MS 50       /* between two looks at the guest while settling */
#define LOOK_GRACE_MS 1000 /* a look at the guest begun before the deadline may end after it */

const char *const ga_map_names[] = { "none", "acpi", "order" };
const char *const ga_state_names[] = { "unknown", "online", "onlined", "offline" };

struct ga {
	struct qmp *q;
	int *acpi;      /* by logical id: the vCPU its ACPI name says, -1 not read yet */
	int nacpi;
	bool no_acpi;   /* the guest's files or names cannot be used: map by order */
	char why[GA_REASON_MAX];
};

static struct ga *ga_new(struct qmp *q, struct vs_err *err)
{
	struct ga *g = calloc(1, sizeof(*g));

	if (!g) {
		qmp_free(q);
		vs_err_set(err, ENOMEM, "out of memory");
		return NULL;
	}
	g->q = q;
	qmp_set_peer_name(q, "the guest agent", "its channel");
	qmp_set_max_message(q, GA_MAX_MESSAGE);
	return g;
}

void ga_free(struct ga *g)
{
	if (!g)
		return;
	qmp_free(g->q);
	free(g->acpi);
	free(g);
}

int ga_adopt_fd(int fd, struct ga **out, struct vs_err *err)
{
	struct qmp *q = NULL;
	int rc = qmp_adopt_fd(fd, "guest agent", &q, err);

	*out = NULL;
	if (rc < 0)
		return rc;
	*out = ga_new(q, err);
	return *out ? 0 : -ENOMEM;
}

/* 0xFF and guest-sync-delimited with a fresh random id; older syncs' answers are skipped. */
static int ga_sync(struct ga *g, double deadline, qmp_trace_fn trace, void *trace_ctx,
		   struct vs_err *err)
{
	unsigned int r = 0;
	long long id, got;
	char text[128];
	cJSON *msg = NULL, *ret;
	int rc, len;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (unsigned int)time(NULL) ^ (unsigned int)((unsigned long)g >> 4);
	id = (long long)(r & 0x7fffffff) + 1;
	len = snprintf(text, sizeof(text), "\xff{\"execute\":\"" CMD_SYNC "\",\"arguments\":{\"id\":%lld}}\n",
		       id);
	if (trace)
		trace(trace_ctx, '>', text + 1, (size_t)len - 2);
	rc = qmp_send_raw(g->q, text, (size_t)len, vs_left_ms(deadline), err);
	for (; rc == 0; cJSON_Delete(msg), msg = NULL) {
		rc = qmp_skip_past(g->q, 0xff, vs_left_ms(deadline), err);
		if (rc == 0)
			rc = qmp_read(g->q, vs_left_ms(deadline), &msg, err);
		if (rc < 0)
			break;
		rc = 0;
		ret = cJSON_GetObjectItemCaseSensitive(msg, "return");
		if (!cJSON_IsNumber(ret)) {
			rc = vs_err_set(err, EPROTO, "the guest agent answered %s without its id", CMD_SYNC);
			break;
		}
		got = ret->valuedouble >= 0 && ret->valuedouble < 9007199254740992.0
			      ? (long long)ret->valuedouble : -1;
		if (got == id && (double)got == ret->valuedouble)
			break; /* ours; an earlier client's sync is skipped */
	}
	cJSON_Delete(msg);
	return rc;
}

int ga_connect(const char *path, int expect_pid, int timeout_ms, qmp_trace_fn trace,
	       void *trace_ctx, struct ga **out, struct vs_err *err)
{
	double deadline = vs_now_ms() + timeout_ms;
	struct qmp *q = NULL;
	int rc;

	*out = NULL;
	rc = qmp_open(path, &q, err);
	if (rc == 0)
		rc = qmp_dial(q, timeout_ms, err);
	if (rc == 0 && expect_pid > 0 && qmp_peer_pid(q) != expect_pid)
		rc = vs_err_set(err, EPERM, "'%s' is served by pid %d, not by this QEMU (pid %d): "
				"another guest's agent", path, qmp_peer_pid(q), expect_pid);
	if (rc < 0) {
		qmp_free(q);
		return rc;
	}
	if (trace)
		qmp_set_trace(q, trace, trace_ctx);
	*out = ga_new(q, err);
	if (!*out)
		return -ENOMEM;
	rc = ga_sync(*out, deadline, trace, trace_ctx, err);
	if (rc < 0) {
		ga_free(*out);
		*out = NULL;
	}
	return rc;
}

/* ---- parsers ---- */

static int cmp_cpu(const void *a, const void *b)
{
	int x = ((const struct ga_cpu *)a)->id, y = ((const struct ga_cpu *)b)->id;

	return (x > y) - (x < y);
}

static int parse_cpu(const cJSON *it, struct ga_cpu *c, struct vs_err *err)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "logical-id");
	const cJSON *on = cJSON_GetObjectItemCaseSensitive(it, "online");
	const cJSON *co = cJSON_GetObjectItemCaseSensitive(it, "can-offline");

	if (!cJSON_IsObject(it) || !cJSON_IsNumber(id) || !cJSON_IsBool(on) ||
	    (co && !cJSON_IsBool(co)))
		return vs_err_set(err, EBADMSG, "the guest agent's %s entry is not {logical-id, "
				  "online, can-offline}", CMD_GET);
	if (id->valuedouble < 0 || id->valuedouble >= GA_MAX_CPUS ||
	    id->valuedouble != (double)(int)id->valuedouble)
		return vs_err_set(err, EBADMSG, "the guest agent lists a CPU with logical-id %.17g "
				  "(0..%d)", id->valuedouble, GA_MAX_CPUS - 1);
	c->id = (int)id->valuedouble;
	c->online = cJSON_IsTrue(on);
	/* absent: the agent could not tell (Windows guests); never offline what it cannot say */
	c->can_offline = co && cJSON_IsTrue(co);
	c->vcpu = -1;
	return 0;
}

int ga_parse_vcpus(const cJSON *ret, struct ga_cpu **cpu, int *n, struct vs_err *err)
{
	const cJSON *it;
	struct ga_cpu *c;
	int m = 0, k, rc;

	*cpu = NULL;
	*n = 0;
	if (!cJSON_IsArray(ret))
		return vs_err_set(err, EBADMSG, "the guest agent's %s reply is not a list", CMD_GET);
	k = cJSON_GetArraySize(ret);
	if (k > GA_MAX_CPUS)
		return vs_err_set(err, EBADMSG, "the guest agent lists %d CPUs (%d at most)", k,
				  GA_MAX_CPUS);
	c = calloc((size_t)k + 1, sizeof(*c));
	if (!c)
		return vs_err_set(err, ENOMEM, "out of memory");
	cJSON_ArrayForEach(it, ret) {
		rc = parse_cpu(it, &c[m], err);
		if (rc < 0) {
			free(c);
			return rc;
		}
		m++;
	}
	qsort(c, (size_t)m, sizeof(*c), cmp_cpu);
	for (k = 1; k < m; k++)
		if (c[k].id == c[k - 1].id) {
			rc = vs_err_set(err, EBADMSG, "the guest agent lists logical-id %d twice",
					c[k].id);
			free(c);
			return rc;
		}
	*cpu = c;
	*n = m;
	return 0;
}

int ga_parse_acpi_path(const char *text, size_t len, int *index, struct vs_err *err)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *seg;
	size_t i;
	int v = 0;

	if (len && text[len - 1] == '\n')
		len--;
	for (i = 0; i < len; i++)
		if (text[i] < 0x21 || text[i] > 0x7e)
			break;
	if (len == 0 || len > ACPI_READ_MAX || i < len)
		return vs_err_set(err, EBADMSG, "the guest's ACPI name for a CPU is not printable text");
	/* QEMU's: \_SB.CPUS.Cxxx, xxx the vCPU index in hex (Linux pads \_SB to \_SB_) */
	for (seg = text + len; seg > text && seg[-1] != '.'; seg--)
		;
	if ((size_t)(text + len - seg) != 4 || seg[0] != 'C' || seg - text < 6 || seg[-5] != 'C' ||
	    seg[-4] != 'P' || seg[-3] != 'U' || seg[-2] != 'S')
		return vs_err_set(err, EBADMSG, "the guest's ACPI name '%.*s' is not QEMU's "
				  "\\_SB.CPUS.Cxxx", (int)len, text);
	for (i = 1; i < 4; i++) {
		const char *h = seg[i] ? strchr(hex, seg[i]) : NULL;

		if (!h)
			return vs_err_set(err, EBADMSG, "the guest's ACPI name '%.*s' is not QEMU's "
					  "\\_SB.CPUS.Cxxx", (int)len, text);
		v = v * 16 + (int)(h - hex);
	}
	*index = v;
	return 0;
}

static int b64_value(char ch)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = ch ? strchr(tab, ch) : NULL;

	return p ? (int)(p - tab) : -1;
}

int ga_base64(const char *in, unsigned char *out, size_t size, size_t *len)
{
	size_t n = strlen(in), i, o = 0;
	int k, v, pad;

	if (n % 4)
		return -1;
	for (i = 0; i < n; i += 4) {
		unsigned long acc = 0;

		pad = 0;
		for (k = 0; k < 4; k++) {
			if (in[i + k] == '=' && i + 4 == n && k >= 2) {
				pad++;
				acc <<= 6;
				continue;
			}
			v = b64_value(in[i + k]);
			if (v < 0 || pad)
				return -1;
			acc = acc << 6 | (unsigned long)v;
		}
		for (k = 0; k < 3 - pad; k++) {
			if (o >= size)
				return -1;
			out[o++] = (unsigned char)(acc >> (16 - 8 * k));
		}
	}
	*len = o;
	return 0;
}

/* ---- the guest's CPUs ---- */

void ga_view_clear(struct ga_view *v)
{
	free(v->cpu);
	memset(v, 0, sizeof(*v));
}

const struct ga_cpu *ga_cpu_of(const struct ga_view *v, int vcpu)
{
	int k;

	for (k = 0; vcpu >= 0 && k < v->n; k++)
		if (v->cpu[k].vcpu == vcpu)
			return &v->cpu[k];
	return NULL;
}

/* One command with an object of arguments made from a format ("{\"handle\":%d}"). */
static int call(struct ga *g, const char *cmd, const char *args, double deadline, cJSON **ret,
		struct vs_err *err)
{
	cJSON *a = args ? cJSON_Parse(args) : NULL;
	int rc;

	if (args && !a)
		return vs_err_set(err, ENOMEM, "out of memory");
	rc = qmp_execute(g->q, cmd, a, vs_left_ms(deadline), ret, err);
	cJSON_Delete(a);
	return rc;
}

/* The vCPU index CPU id's ACPI name says: read through the guest's files. */
static int acpi_read(struct ga *g, int id, double deadline, int *index, struct vs_err *err)
{
	unsigned char buf[ACPI_READ_MAX + 1];
	char args[160];
	const cJSON *b, *c;
	cJSON *ret = NULL;
	size_t len = 0;
	int rc, h;

	snprintf(args, sizeof(args), "{\"path\":\"" ACPI_PATH_FMT "\",\"mode\":\"r\"}", id);
	rc = call(g, CMD_OPEN, args, deadline, &ret, err);
	if (rc < 0)
		return rc;
	/* the agent's handles are counters; one past INT_MAX is not one vcpuset takes */
	if (!cJSON_IsNumber(ret) || ret->valuedouble < 0 || ret->valuedouble > INT_MAX ||
	    ret->valuedouble != (double)(int)ret->valuedouble) {
		cJSON_Delete(ret);
		return vs_err_set(err, EBADMSG, "the guest agent's file handle is not a number");
	}
	h = (int)ret->valuedouble;
	cJSON_Delete(ret);
	ret = NULL;
	snprintf(args, sizeof(args), "{\"handle\":%d,\"count\":%d}", h, ACPI_READ_MAX);
	rc = call(g, CMD_READ, args, deadline, &ret, err);
	b = cJSON_GetObjectItemCaseSensitive(ret, "buf-b64");
	c = cJSON_GetObjectItemCaseSensitive(ret, "count");
	if (rc == 0 && (!cJSON_IsString(b) || !cJSON_IsNumber(c) ||
			ga_base64(b->valuestring, buf, ACPI_READ_MAX, &len) < 0 ||
			(double)len != c->valuedouble))
		rc = vs_err_set(err, EBADMSG, "the guest agent's %s reply is malformed", CMD_READ);
	if (rc == 0)
		rc = ga_parse_acpi_path((const char *)buf, len, index, err);
	cJSON_Delete(ret);
	snprintf(args, sizeof(args), "{\"handle\":%d}", h);
	if (call(g, CMD_CLOSE, args, deadline, NULL, NULL) < 0 && rc == 0)
		rc = -EIO;
	return rc;
}

/* Map by ACPI names: 0, 1 when they cannot be used (g->why says why), or a failed agent. */
static int map_acpi(struct ga *g, struct ga_view *v, const int *online, int n_online,
		    double deadline, struct vs_err *err)
{
	struct vs_err e = { 0 };
	int k, j, idx = -1, rc;

	if (g->no_acpi)
		return 1;
	if (v->n && v->cpu[v->n - 1].id >= g->nacpi) {
		int *na = realloc(g->acpi, (size_t)(v->cpu[v->n - 1].id + 1) * sizeof(*na));

		if (!na)
			return vs_err_set(err, ENOMEM, "out of memory");
		for (k = g->nacpi; k <= v->cpu[v->n - 1].id; k++)
			na[k] = -1;
		g->acpi = na;
		g->nacpi = v->cpu[v->n - 1].id + 1;
	}
	for (k = 0; k < v->n; k++) {
		if (g->acpi[v->cpu[k].id] < 0) {
			rc = acpi_read(g, v->cpu[k].id, deadline, &idx, &e);
			if (rc == -ETIMEDOUT || rc == -EPIPE || rc == -EPROTO || rc == -ENOMEM) {
				*err = e;
				return rc;
			}
			if (rc < 0) {
				g->no_acpi = true;
				snprintf(g->why, sizeof(g->why), "CPU %d's ACPI name: %.500s", v->cpu[k].id,
					 e.msg);
				return 1;
			}
			g->acpi[v->cpu[k].id] = idx;
		}
		v->cpu[k].vcpu = g->acpi[v->cpu[k].id];
	}
	/* each a vCPU QEMU lists online, none twice: else the names are not QEMU's indices */
	for (k = 0; k < v->n; k++) {
		bool found = false;

		for (j = 0; j < n_online && !found; j++)
			found = online[j] == v->cpu[k].vcpu;
		for (j = 0; j < k && found; j++)
			found = v->cpu[j].vcpu != v->cpu[k].vcpu;
		if (!found) {
			g->no_acpi = true;
			snprintf(g->why, sizeof(g->why), "the guest's ACPI name of CPU %d says vCPU %d, "
				 "which QEMU does not list online once", v->cpu[k].id, v->cpu[k].vcpu);
			return 1;
		}
	}
	return 0;
}

int ga_view(struct ga *g, const int *online, int n_online, int timeout_ms, struct ga_view *v,
	    struct vs_err *err)
{
	double deadline = vs_now_ms() + timeout_ms;
	cJSON *ret = NULL;
	int rc, k;

	ga_view_clear(v);
	rc = call(g, CMD_GET, NULL, deadline, &ret, err);
	if (rc == 0)
		rc = ga_parse_vcpus(ret, &v->cpu, &v->n, err);
	cJSON_Delete(ret);
	if (rc < 0)
		return rc;
	rc = map_acpi(g, v, online, n_online, deadline, err);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		v->map = GA_MAP_ACPI;
		return 0;
	}
	snprintf(v->why_order, sizeof(v->why_order), "%s", g->why);
	for (k = 0; k < v->n; k++)
		v->cpu[k].vcpu = v->n == n_online ? online[k] : -1;
	v->map = v->n == n_online ? GA_MAP_ORDER : GA_MAP_NONE;
	return 0;
}

int ga_set(struct ga *g, const int *ids, const bool *online, int n, int timeout_ms, int *done,
	   struct vs_err *err)
{
	cJSON *args = cJSON_CreateObject(), *list, *it, *ret = NULL;
	int rc = 0, k;

	if (done)
		*done = 0;
	list = args ? cJSON_AddArrayToObject(args, "vcpus") : NULL;
	for (k = 0; list && k < n; k++) {
		it = cJSON_CreateObject();
		if (!it || !cJSON_AddItemToArray(list, it) ||
		    !cJSON_AddNumberToObject(it, "logical-id", ids[k]) ||
		    !cJSON_AddBoolToObject(it, "online", online[k]))
			list = NULL;
	}
	if (!list)
		rc = vs_err_set(err, ENOMEM, "out of memory");
	if (rc == 0)
		rc = qmp_execute(g->q, CMD_SET, args, timeout_ms, &ret, err);
	cJSON_Delete(args);
	if (rc == 0 && (!cJSON_IsNumber(ret) || ret->valuedouble < 0 || ret->valuedouble > n ||
			ret->valuedouble != (double)(int)ret->valuedouble))
		rc = vs_err_set(err, EBADMSG, "the guest agent's %s reply is not a count 0..%d",
				CMD_SET, n);
	if (rc == 0 && done)
		*done = (int)ret->valuedouble;
	if (rc == 0 && (int)ret->valuedouble < n)
		rc = vs_err_set(err, EIO, "the guest changed %d of the %d CPUs asked (it stopped at "
				"logical id %d)", (int)ret->valuedouble, n, ids[(int)ret->valuedouble]);
	cJSON_Delete(ret);
	return rc;
}

/* ---- after the plugs ---- */

struct settle {
	const int *vcpus;
	struct ga_result *res;
	double *seen;   /* when the guest first listed it offline, 0 = not yet */
	bool *tried;    /* guest-set-vcpus was sent for it */
	bool *settled;
	int n;
};

/* Look at the view once: settle what can be, collect in ids[] what is to be onlined. */
static int settle_look(const struct settle *s, const struct ga_view *v, bool bring_online,
		       int grace_ms, int *ids)
{
	double now = vs_now_ms();
	int k, m = 0;

	for (k = 0; k < s->n; k++) {
		const struct ga_cpu *c = ga_cpu_of(v, s->vcpus[k]);
		struct ga_result *r = &s->res[k];

		if (s->settled[k] || !c)
			continue;
		r->id = c->id;
		r->can_offline = c->can_offline;
		if (c->online) {
			r->state = s->tried[k] ? GA_ONLINED : GA_ONLINE;
			r->reason[0] = 0;
			s->settled[k] = true;
		} else if (!s->seen[k]) {
			s->seen[k] = now;
		} else if (now - s->seen[k] >= grace_ms && !bring_online) {
			r->state = GA_OFFLINE;
			snprintf(r->reason, sizeof(r->reason), "the guest left it offline "
				 "(--no-guest-online)");
			s->settled[k] = true;
		} else if (now - s->seen[k] >= grace_ms && !s->tried[k]) {
			ids[m++] = c->id;
			s->tried[k] = true;
		}
	}
	return m;
}

/* The deadline passed: what is not settled gets its reason. */
static void settle_late(const struct settle *s, int timeout_ms, const struct ga_view *v)
{
	int k;

	for (k = 0; k < s->n; k++) {
		struct ga_result *r = &s->res[k];

		if (s->settled[k])
			continue;
		if (r->state == GA_OFFLINE && r->reason[0])
			continue; /* guest-set-vcpus failed: its reason stays */
		if (s->seen[k]) {
			r->state = GA_OFFLINE;
			snprintf(r->reason, sizeof(r->reason), "still offline in the guest after %.1f s%s",
				 timeout_ms / 1000.0, s->tried[k] ? " (guest-set-vcpus did not bring "
				 "it online)" : "");
		} else {
			r->state = GA_UNKNOWN;
			if (v->map == GA_MAP_NONE && v->n)
				snprintf(r->reason, sizeof(r->reason), "the guest lists %d CPUs, QEMU "
					 "another count, after %.1f s (%.400s)", v->n, timeout_ms / 1000.0,
					 v->why_order);
			else
				snprintf(r->reason, sizeof(r->reason), "the guest did not list it "
					 "within %.1f s", timeout_ms / 1000.0);
		}
	}
}

static void settle_failed(const struct settle *s, const struct vs_err *e)
{
	int k;

	for (k = 0; k < s->n; k++)
		if (!s->settled[k] && !(s->res[k].state == GA_OFFLINE && s->res[k].reason[0])) {
			s->res[k].state = GA_UNKNOWN;
			snprintf(s->res[k].reason, sizeof(s->res[k].reason), "%.500s", e->msg);
		}
}

static bool all_settled(const struct settle *s)
{
	int k;

	for (k = 0; k < s->n; k++)
		if (!s->settled[k])
			return false;
	return true;
}

/* guest-set-vcpus for the m CPUs in ids[]; a refusal settles them offline with its reason. */
static int settle_online(struct ga *g, const struct settle *s, const int *ids, int m,
			 double deadline, bool *sent, struct vs_err *err)
{
	bool *on = malloc((size_t)m * sizeof(*on));
	struct vs_err e = { 0 };
	int k, j, rc;

	if (!on)
		return vs_err_set(err, ENOMEM, "out of memory");
	for (k = 0; k < m; k++)
		on[k] = true;
	*sent = true;
	rc = ga_set(g, ids, on, m, vs_left_ms(deadline) + LOOK_GRACE_MS, NULL, &e);
	free(on);
	if (rc == -EIO || rc == -EREMOTEIO) {
		for (k = 0; k < s->n; k++)
			for (j = 0; j < m; j++)
				if (!s->settled[k] && s->res[k].id == ids[j]) {
					s->res[k].state = GA_OFFLINE;
					snprintf(s->res[k].reason, sizeof(s->res[k].reason),
						 "guest-set-vcpus: %.500s", e.msg);
				}
		return 0;
	}
	if (rc < 0)
		*err = e;
	return rc;
}

static int settle_loop(struct ga *g, const struct settle *s, const int *online, int n_online,
		       bool bring_online, int grace_ms, int timeout_ms, bool *sent,
		       struct ga_view *view, struct vs_err *err)
{
	double deadline = vs_now_ms() + timeout_ms;
	struct ga_view v = { 0 };
	int *ids = malloc(((size_t)s->n + 1) * sizeof(*ids)), m, rc = 0;

	if (!ids)
		return vs_err_set(err, ENOMEM, "out of memory");
	for (;;) {
		/* a look started before the deadline may take a second past it: bounded still */
		rc = ga_view(g, online, n_online, vs_left_ms(deadline) + LOOK_GRACE_MS, &v, err);
		if (rc < 0)
			break;
		ga_view_clear(view);
		*view = v;
		v.cpu = NULL; /* the view's now */
		m = settle_look(s, view, bring_online, grace_ms, ids);
		if (m)
			rc = settle_online(g, s, ids, m, deadline, sent, err);
		if (rc < 0 || all_settled(s))
			break;
		if (vs_now_ms() + POLL_MS >= deadline) {
			settle_late(s, timeout_ms, view);
			break;
		}
		nanosleep(&(struct timespec){ .tv_nsec = POLL_MS * 1000000L }, NULL);
	}
	ga_view_clear(&v);
	free(ids);
	return rc;
}

int ga_settle(struct ga *g, const int *online, int n_online, const int *vcpus, int n,
	      bool bring_online, int grace_ms, int timeout_ms, struct ga_result *res, bool *sent,
	      struct ga_view *view, struct vs_err *err)
{
	struct settle s = { vcpus, res, calloc((size_t)n + 1, sizeof(double)),
			    calloc((size_t)n + 1, sizeof(bool)), calloc((size_t)n + 1, sizeof(bool)),
			    n };
	int k, rc;

	*sent = false;
	for (k = 0; k < n; k++)
		res[k] = (struct ga_result){ .state = GA_UNKNOWN, .id = -1, .can_offline = -1 };
	if (!s.seen || !s.tried || !s.settled) {
		rc = vs_err_set(err, ENOMEM, "out of memory");
	} else {
		rc = settle_loop(g, &s, online, n_online, bring_online, grace_ms, timeout_ms, sent,
				 view, err);
		if (rc < 0)
			settle_failed(&s, err);
	}
	free(s.seen);
	free(s.tried);
	free(s.settled);
	return rc;
}
