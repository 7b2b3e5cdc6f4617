/* SPDX-License-Identifier: GPL-2.0-or-later */
/* peer: a scripted QMP peer for tests, with a small simulated QEMU behind it. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "peer.h"
#include "vcpuset.h"

#define MAXTHREADS 16

struct vthread {
	pthread_t th;
	int tid;
	volatile int stop;
};

struct slot {
	cJSON *props;
	char type[64];
	int vcpus;
	char qom[128];
	char id[64];
	int cpu_index[MAXTHREADS];
	struct vthread *threads[MAXTHREADS];
	double remove_at; /* > 0: device_del pending, completes then */
	bool borrowed;    /* threads[0] is the peer's helper, not its own */
	int created;      /* creation sequence, for query-cpus-fast order */
};

struct peer {
	pthread_t th;
	int fd, lfd;
	char path[108];
	struct peer_config cfg;
	int *counts; /* per override */
	struct slot *slots;
	int nslots;
	int next_index, next_created;
	char *log;
	size_t loglen;
	char ahead[1024]; /* commands the next one arrived during (hold_ms) */
	char *hp_text;    /* query-hotpluggable-cpus's return value, printed; NULL after a change */
	size_t rest;      /* bytes read after the line being handled */
	bool meddled;
	int served; /* clients greeted */
	volatile int refuse_now; /* peer_refuse: the guest refuses the pending unplugs */
	struct vthread *helper; /* old_thread: there from the start, named as a new vCPU's */
	pthread_mutex_t mu;
	volatile int quit;
};

static void *vthread_main(void *arg)
{
	struct vthread *v = arg;

	v->tid = (int)syscall(SYS_gettid);
	while (!v->stop)
		usleep(2000);
	return NULL;
}

static struct vthread *vthread_new(void)
{
	struct vthread *v = calloc(1, sizeof(*v));

	pthread_create(&v->th, NULL, vthread_main, v);
	while (!__atomic_load_n(&v->tid, __ATOMIC_SEQ_CST))
		usleep(100);
	return v;
}

static void vthread_free(struct vthread *v)
{
	if (!v)
		return;
	v->stop = 1;
	pthread_join(v->th, NULL);
	free(v);
}

cJSON *peer_fixture(const char *name)
{
	char path[256];
	FILE *f;
	long n;
	char *buf;
	cJSON *j;

	snprintf(path, sizeof(path), "tests/fixtures/%s.json", name);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		n = 0;
	buf[n] = '\0';
	fclose(f);
	j = cJSON_Parse(buf);
	free(buf);
	return j;
}

static void plug(struct peer *p, struct slot *s, const char *qom, const char *id)
{
	int i;

	snprintf(s->qom, sizeof(s->qom), "%s", qom);
	snprintf(s->id, sizeof(s->id), "%s", id ? id : "");
	s->created = ++p->next_created;
	for (i = 0; i < s->vcpus && i < MAXTHREADS; i++) {
		s->threads[i] = vthread_new();
		s->cpu_index[i] = p->next_index++;
	}
}

static void unplug(struct slot *s)
{
	int i;

	for (i = 0; i < MAXTHREADS; i++) {
		if (!s->borrowed || i)
			vthread_free(s->threads[i]);
		s->threads[i] = NULL;
	}
	s->borrowed = false;
	s->qom[0] = s->id[0] = '\0';
	s->remove_at = 0;
}

static void sim_init(struct peer *p)
{
	cJSON *fx = NULL, *hp, *it;
	int i;

	if (p->cfg.fixture) {
		fx = peer_fixture(p->cfg.fixture);
		hp = cJSON_GetObjectItem(cJSON_GetObjectItem(fx, "query-hotpluggable-cpus"), "return");
		p->nslots = cJSON_GetArraySize(hp);
		p->slots = calloc((size_t)p->nslots + 1, sizeof(*p->slots));
		/* QEMU lists slots highest first; keep index 0 = first listed. */
		i = 0;
		cJSON_ArrayForEach(it, hp) {
			struct slot *s = &p->slots[i++];

			s->props = cJSON_Duplicate(cJSON_GetObjectItem(it, "props"), 1);
			snprintf(s->type, sizeof(s->type), "%s", cJSON_GetObjectItem(it, "type")->valuestring);
			s->vcpus = cJSON_GetObjectItem(it, "vcpus-count")->valueint;
		}
		/* Plug boot vCPUs in QEMU's creation order: lowest topology first = listed last. */
		for (i = p->nslots - 1; i >= 0; i--) {
			cJSON *e = cJSON_GetArrayItem(hp, i);
			cJSON *q = cJSON_GetObjectItem(e, "qom-path");

			if (cJSON_IsString(q))
				plug(p, &p->slots[i], q->valuestring, NULL);
		}
		cJSON_Delete(fx);
		return;
	}
	p->nslots = p->cfg.gen_slots;
	p->slots = calloc((size_t)p->nslots + 1, sizeof(*p->slots));
	for (i = 0; i < p->nslots; i++) {
		struct slot *s = &p->slots[i];
		int core = p->nslots - 1 - i;

		s->props = cJSON_CreateObject();
		cJSON_AddNumberToObject(s->props, "core-id", core);
		cJSON_AddNumberToObject(s->props, "thread-id", 0);
		cJSON_AddNumberToObject(s->props, "socket-id", 0);
		snprintf(s->type, sizeof(s->type), "qemu64-x86_64-cpu");
		s->vcpus = 1;
	}
	for (i = 0; i < p->cfg.gen_online && i < p->nslots; i++) {
		char q[64];

		snprintf(q, sizeof(q), "/machine/unattached/device[%d]", i);
		plug(p, &p->slots[p->nslots - 1 - i], q, NULL);
	}
}

static void sim_free(struct peer *p)
{
	int i;

	for (i = 0; i < p->nslots; i++) {
		unplug(&p->slots[i]);
		cJSON_Delete(p->slots[i].props);
	}
	free(p->slots);
}

static void send_all(struct peer *p, const char *buf, size_t len, int chunk, int delay_ms)
{
	size_t off = 0;
	ssize_t n;

	if (p->fd < 0)
		return;
	while (off < len) {
		size_t want = chunk > 0 && (size_t)chunk < len - off ? (size_t)chunk : len - off;

		n = send(p->fd, buf + off, want, MSG_NOSIGNAL);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return;
		}
		off += (size_t)n;
		if (delay_ms && off < len)
			usleep((useconds_t)delay_ms * 1000);
	}
}

static void send_json(struct peer *p, cJSON *j)
{
	char *s = cJSON_PrintUnformatted(j);
	size_t n = strlen(s);

	s = realloc(s, n + 3);
	memcpy(s + n, "\r\n", 3);
	send_all(p, s, n + 2, p->cfg.chunk, 0);
	free(s);
}

static void send_event(struct peer *p, const char *name, cJSON *data)
{
	cJSON *e = cJSON_CreateObject(), *ts = cJSON_AddObjectToObject(e, "timestamp");

	cJSON_AddNumberToObject(ts, "seconds", 1);
	cJSON_AddNumberToObject(ts, "microseconds", 2);
	cJSON_AddStringToObject(e, "event", name);
	cJSON_AddItemToObject(e, "data", data);
	send_json(p, e);
	cJSON_Delete(e);
}

static cJSON *error_obj(const char *cls, const char *desc)
{
	cJSON *e = cJSON_CreateObject(), *x = cJSON_AddObjectToObject(e, "error");

	cJSON_AddStringToObject(x, "class", cls);
	cJSON_AddStringToObject(x, "desc", desc);
	return e;
}

static cJSON *ret_obj(cJSON *v)
{
	cJSON *r = cJSON_CreateObject();

	cJSON_AddItemToObject(r, "return", v ? v : cJSON_CreateObject());
	return r;
}

static void complete_removals(struct peer *p)
{
	int i;

	if (p->refuse_now) {
		p->refuse_now = 0;
		for (i = 0; i < p->nslots; i++) {
			struct slot *s = &p->slots[i];
			cJSON *d;

			if (s->remove_at <= 0)
				continue;
			s->remove_at = 0;
			d = cJSON_CreateObject();
			cJSON_AddStringToObject(d, "device", s->id);
			cJSON_AddStringToObject(d, "path", s->qom);
			send_event(p, "DEVICE_UNPLUG_GUEST_ERROR", d);
		}
	}
	for (i = 0; i < p->nslots; i++) {
		struct slot *s = &p->slots[i];
		char path[160], id[64];

		if (s->remove_at <= 0 || vs_now_ms() < s->remove_at)
			continue;
		snprintf(path, sizeof(path), "%s", s->qom);
		snprintf(id, sizeof(id), "%s", s->id);
		unplug(s);
		free(p->hp_text);
		p->hp_text = NULL;
		if (p->cfg.unplug == PEER_UNPLUG_KVM) {
			cJSON *d = cJSON_CreateObject();

			cJSON_AddStringToObject(d, "device", id);
			cJSON_AddStringToObject(d, "path", path);
			send_event(p, "DEVICE_DELETED", d);
		} else {
			cJSON *d = cJSON_CreateObject();

			strncat(path, "/lapic", sizeof(path) - strlen(path) - 1);
			cJSON_AddStringToObject(d, "path", path);
			send_event(p, "DEVICE_DELETED", d);
		}
	}
}

static struct slot *find_by_id(struct peer *p, const char *id)
{
	int i;

	for (i = 0; i < p->nslots; i++)
		if (p->slots[i].qom[0] && strcmp(p->slots[i].id, id) == 0)
			return &p->slots[i];
	return NULL;
}

static cJSON *sim_command(struct peer *p, const char *cmd, cJSON *args)
{
	int i, k;

	if (strcmp(cmd, "qmp_capabilities") == 0)
		return ret_obj(NULL);
	if (strcmp(cmd, "query-name") == 0) {
		cJSON *r = cJSON_CreateObject();

		if (p->cfg.name)
			cJSON_AddStringToObject(r, "name", p->cfg.name);
		return ret_obj(r);
	}
	if (strcmp(cmd, "query-uuid") == 0) {
		cJSON *r = cJSON_CreateObject();

		cJSON_AddStringToObject(r, "UUID", p->cfg.uuid ? p->cfg.uuid
							       : "00000000-0000-0000-0000-000000000000");
		return ret_obj(r);
	}
	if (strcmp(cmd, "query-status") == 0) {
		cJSON *r = cJSON_CreateObject();
		const char *st = p->cfg.run_state ? p->cfg.run_state : "running";

		cJSON_AddStringToObject(r, "status", st);
		cJSON_AddBoolToObject(r, "running", strcmp(st, "running") == 0);
		cJSON_AddBoolToObject(r, "singlestep", 0);
		return ret_obj(r);
	}
	if (strcmp(cmd, "query-migrate") == 0) {
		cJSON *r = cJSON_CreateObject();

		if (p->cfg.migration)
			cJSON_AddStringToObject(r, "status", p->cfg.migration);
		return ret_obj(r);
	}
	if (strcmp(cmd, "query-kvm") == 0) {
		cJSON *r = cJSON_CreateObject();

		cJSON_AddBoolToObject(r, "enabled", 0);
		cJSON_AddBoolToObject(r, "present", 0);
		return ret_obj(r);
	}
	if (strcmp(cmd, "query-commands") == 0) {
		cJSON *r = cJSON_CreateArray(), *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "name", p->cfg.legacy ? "cpu-add" : "device_add");
		cJSON_AddItemToArray(r, o);
		return ret_obj(r);
	}
	if (strcmp(cmd, "query-hotpluggable-cpus") == 0) {
		cJSON *r;

		if (p->cfg.legacy)
			return error_obj("CommandNotFound", "The command query-hotpluggable-cpus has not been found");
		if (p->cfg.no_hotplug)
			return error_obj("GenericError", "machine does not support hot-plugging CPUs");
		r = cJSON_CreateArray();
		for (i = 0; i < p->nslots; i++) {
			cJSON *o = cJSON_CreateObject();

			cJSON_AddItemToObject(o, "props", cJSON_Duplicate(p->slots[i].props, 1));
			cJSON_AddNumberToObject(o, "vcpus-count", p->slots[i].vcpus);
			if (p->slots[i].qom[0])
				cJSON_AddStringToObject(o, "qom-path", p->slots[i].qom);
			cJSON_AddStringToObject(o, "type", p->slots[i].type);
			cJSON_AddItemToArray(r, o);
		}
		return ret_obj(r);
	}
	if (strcmp(cmd, "query-cpus-fast") == 0) {
		cJSON *r = cJSON_CreateArray();
		int seq;

		for (seq = 1; seq <= p->next_created; seq++)
			for (i = 0; i < p->nslots; i++) {
				struct slot *s = &p->slots[i];

				if (!s->qom[0] || s->created != seq)
					continue;
				for (k = 0; k < s->vcpus && k < MAXTHREADS; k++) {
					cJSON *o = cJSON_CreateObject();
					char q[200];

					cJSON_AddNumberToObject(o, "thread-id", s->threads[k]->tid);
					cJSON_AddItemToObject(o, "props", cJSON_Duplicate(s->props, 1));
					if (s->vcpus > 1)
						snprintf(q, sizeof(q), "%s/thread[%d]", s->qom, k);
					else
						snprintf(q, sizeof(q), "%s", s->qom);
					cJSON_AddStringToObject(o, "qom-path", q);
					cJSON_AddNumberToObject(o, "cpu-index", s->cpu_index[k]);
					cJSON_AddStringToObject(o, "target", "x86_64");
					cJSON_AddItemToArray(r, o);
				}
			}
		return ret_obj(r);
	}
	if (strcmp(cmd, "cpu-add") == 0 && p->cfg.legacy) {
		int id = cJSON_GetObjectItem(args, "id")->valueint;
		char q[64];

		snprintf(q, sizeof(q), "/machine/unattached/device[%d]", 100 + id);
		if (id >= p->nslots || p->slots[p->nslots - 1 - id].qom[0])
			return error_obj("GenericError", "Unable to add CPU");
		plug(p, &p->slots[p->nslots - 1 - id], q, NULL);
		return ret_obj(NULL);
	}
	if (strcmp(cmd, "device_add") == 0) {
		const char *id = cJSON_GetObjectItem(args, "id")->valuestring;
		char q[128];

		for (i = 0; i < p->nslots; i++) {
			cJSON *it;
			int match = 1;

			cJSON_ArrayForEach(it, p->slots[i].props) {
				cJSON *a = cJSON_GetObjectItem(args, it->string);

				if (!a || !cJSON_Compare(a, it, 1))
					match = 0;
			}
			if (!match)
				continue;
			if (p->slots[i].qom[0])
				return error_obj("GenericError", "CPU is already present");
			snprintf(q, sizeof(q), "/machine/peripheral/%s", id);
			plug(p, &p->slots[i], q, id);
			if (p->cfg.old_thread) {
				vthread_free(p->slots[i].threads[0]);
				p->slots[i].threads[0] = p->helper;
				p->slots[i].borrowed = true;
			}
			if (p->cfg.meddle && !p->meddled && !p->slots[0].qom[0]) {
				/* slot 0 holds the highest core: another client's vcpu it is */
				p->meddled = true;
				plug(p, &p->slots[0], "/machine/peripheral/other", "other");
			}
			return ret_obj(NULL);
		}
		return error_obj("GenericError", "no such slot");
	}
	if (strcmp(cmd, "device_del") == 0) {
		const char *id = cJSON_GetObjectItem(args, "id")->valuestring;
		struct slot *s = find_by_id(p, id);
		char msg[128];

		if (s && p->cfg.unplug == PEER_UNPLUG_GONE) {
			unplug(s);
			s = NULL;
		}
		if (!s) {
			snprintf(msg, sizeof(msg), "Device '%s' not found", id);
			return error_obj("DeviceNotFound", msg);
		}
		if (s->remove_at > 0) {
			snprintf(msg, sizeof(msg), "Device %s is already in the process of unplug", id);
			return error_obj("GenericError", msg);
		}
		if (p->cfg.unplug == PEER_UNPLUG_REJECT || p->cfg.unplug == PEER_UNPLUG_REJECT_LATE) {
			cJSON *d = cJSON_CreateObject();

			cJSON_AddStringToObject(d, "device", id);
			cJSON_AddStringToObject(d, "path", s->qom);
			send_event(p, "DEVICE_UNPLUG_GUEST_ERROR", d);
			if (p->cfg.unplug == PEER_UNPLUG_REJECT_LATE)
				s->remove_at = vs_now_ms() + p->cfg.unplug_ms + 0.001;
		} else {
			/* NEVER: the guest holds on to it (paused) until peer_release() */
			s->remove_at = p->cfg.unplug == PEER_UNPLUG_NEVER
					       ? 1e300 : vs_now_ms() + p->cfg.unplug_ms + 0.001;
		}
		return ret_obj(NULL);
	}
	return error_obj("CommandNotFound", "The command has not been found");
}

static char *subst_id(const char *raw, const cJSON *id)
{
	char *ids = id ? cJSON_PrintUnformatted(id) : strdup("null");
	size_t cap = strlen(raw) * 2 + strlen(ids) * 8 + 16, n = 0;
	char *out = malloc(cap);
	const char *p = raw;

	while (*p) {
		if (strncmp(p, "%ID%", 4) == 0) {
			size_t l = strlen(ids);

			if (n + l + 1 >= cap)
				out = realloc(out, cap = cap * 2 + l);
			memcpy(out + n, ids, l);
			n += l;
			p += 4;
		} else {
			if (n + 2 >= cap)
				out = realloc(out, cap *= 2);
			out[n++] = *p++;
		}
	}
	out[n] = '\0';
	free(ids);
	return out;
}

static void log_line(struct peer *p, const char *line, size_t len)
{
	pthread_mutex_lock(&p->mu);
	p->log = realloc(p->log, p->loglen + len + 2);
	memcpy(p->log + p->loglen, line, len);
	p->loglen += len;
	p->log[p->loglen++] = '\n';
	p->log[p->loglen] = '\0';
	pthread_mutex_unlock(&p->mu);
}

/* Returns 0 to go on, 1 to close the connection. */
static int handle(struct peer *p, const char *line, size_t len)
{
	cJSON *m = cJSON_ParseWithLength(line, len), *reply;
	const char *cmd;
	bool ok;
	int i;

	log_line(p, line, len);
	if (!m)
		return 0;
	cmd = cJSON_GetStringValue(cJSON_GetObjectItem(m, "execute"));
	if (!cmd)
		cmd = "";
	if (p->cfg.hold_ms) {
		int more = 0;

		/* QEMU busy with this command: did the client send the next one meanwhile? */
		usleep((useconds_t)p->cfg.hold_ms * 1000);
		if (p->rest || (ioctl(p->fd, FIONREAD, &more) == 0 && more > 0)) {
			pthread_mutex_lock(&p->mu);
			snprintf(p->ahead + strlen(p->ahead), sizeof(p->ahead) - strlen(p->ahead),
				 "%s%s", p->ahead[0] ? " " : "", cmd);
			pthread_mutex_unlock(&p->mu);
		}
	}
	for (i = 0; i < p->cfg.noverrides; i++) {
		const struct peer_override *o = &p->cfg.overrides[i];

		if (strcmp(o->cmd, cmd) != 0)
			continue;
		p->counts[i]++;
		if (o->nth && o->nth != p->counts[i])
			continue;
		if (o->execute)
			cJSON_Delete(sim_command(p, cmd, cJSON_GetObjectItem(m, "arguments")));
		if (o->raw && o->raw[0]) {
			char *out = subst_id(o->raw, cJSON_GetObjectItem(m, "id"));

			send_all(p, out, strlen(out), o->chunk, o->delay_ms);
			free(out);
		}
		cJSON_Delete(m);
		return o->close_after ? 1 : 0;
	}
	if (strncmp(cmd, "query-", 6) != 0) {
		free(p->hp_text); /* it may change the slots */
		p->hp_text = NULL;
	} else if (strcmp(cmd, "query-hotpluggable-cpus") == 0 && !p->cfg.legacy &&
		   !p->cfg.no_hotplug) {
		/* like QEMU, answer at once: the slot list is printed once per change */
		char *id = cJSON_PrintUnformatted(cJSON_GetObjectItem(m, "id")), *out;
		size_t n;

		if (!p->hp_text) {
			reply = sim_command(p, cmd, NULL);
			p->hp_text = cJSON_PrintUnformatted(cJSON_GetObjectItem(reply, "return"));
			cJSON_Delete(reply);
		}
		n = strlen(p->hp_text) + (id ? strlen(id) : 4) + 32;
		out = malloc(n);
		snprintf(out, n, "{\"return\": %s, \"id\": %s}\r\n", p->hp_text, id ? id : "null");
		send_all(p, out, strlen(out), p->cfg.chunk, 0);
		free(out);
		free(id);
		cJSON_Delete(m);
		return 0;
	}
	reply = sim_command(p, cmd, cJSON_GetObjectItem(m, "arguments"));
	if (cJSON_GetObjectItem(m, "id"))
		cJSON_AddItemToObject(reply, "id", cJSON_Duplicate(cJSON_GetObjectItem(m, "id"), 1));
	send_json(p, reply);
	ok = cJSON_HasObjectItem(reply, "return");
	cJSON_Delete(reply);
	if (strcmp(cmd, "device_add") == 0 && ok && !p->cfg.no_ack) {
		cJSON *d = cJSON_CreateObject(), *info = cJSON_AddObjectToObject(d, "info");
		const char *dev = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(m,
										"arguments"), "id"));

		if (dev)
			cJSON_AddStringToObject(info, "device", dev);
		cJSON_AddStringToObject(info, "slot-type", "CPU");
		cJSON_AddNumberToObject(info, "source", 1);
		cJSON_AddNumberToObject(info, "status", 0);
		send_event(p, "ACPI_DEVICE_OST", d);
	}
	cJSON_Delete(m);
	return 0;
}

static void serve(struct peer *p)
{
	static const char greeting[] =
		"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 2, \"minor\": 0, \"major\": 10}, "
		"\"package\": \"peer\"}, \"capabilities\": [\"oob\"]}}\r\n";
	char *buf = malloc(1 << 20);
	size_t len = 0;
	struct pollfd pfd = { .fd = p->fd, .events = POLLIN };

	if (p->cfg.greet == PEER_CLOSE_AT_ONCE)
		goto out;
	if (p->cfg.greet != PEER_NO_GREETING && !(p->cfg.greet_once && p->served++))
		send_all(p, greeting, sizeof(greeting) - 1, p->cfg.chunk, 0);
	if (p->cfg.greet == PEER_CLOSE_AFTER_GREETING)
		goto out;
	while (!p->quit) {
		char *nl;
		ssize_t n;

		complete_removals(p);
		if (poll(&pfd, 1, 2) <= 0)
			continue;
		n = read(p->fd, buf + len, (1 << 20) - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
		while ((nl = memchr(buf, '\n', len))) {
			size_t l = (size_t)(nl - buf);

			p->rest = len - l - 1;
			if (handle(p, buf, l && buf[l - 1] == '\r' ? l - 1 : l))
				goto out;
			memmove(buf, nl + 1, len - l - 1);
			len -= l + 1;
		}
	}
out:
	free(buf);
	close(p->fd);
	p->fd = -1;
}

static void *peer_main(void *arg)
{
	struct peer *p = arg;

	if (p->lfd >= 0) {
		struct pollfd pfd = { .fd = p->lfd, .events = POLLIN };

		/* Like QEMU: one client at a time, the next one after it leaves. */
		while (!p->quit) {
			if (poll(&pfd, 1, 20) > 0) {
				p->fd = accept(p->lfd, NULL, NULL);
				if (p->fd >= 0)
					serve(p);
			}
		}
	} else {
		serve(p);
	}
	return NULL;
}

static struct peer *peer_new(const struct peer_config *cfg)
{
	struct peer *p = calloc(1, sizeof(*p));

	p->cfg = *cfg;
	p->fd = p->lfd = -1;
	p->counts = calloc((size_t)cfg->noverrides + 1, sizeof(int));
	p->log = calloc(1, 1);
	pthread_mutex_init(&p->mu, NULL);
	sim_init(p);
	if (cfg->old_thread)
		p->helper = vthread_new();
	return p;
}

struct peer *peer_start_fd(int fd, const struct peer_config *cfg)
{
	struct peer *p = peer_new(cfg);

	p->fd = fd;
	pthread_create(&p->th, NULL, peer_main, p);
	return p;
}

int peer_listen_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
		perror(path);
		abort();
	}
	return fd;
}

struct peer *peer_start_unix(const char *path, const struct peer_config *cfg)
{
	struct peer *p = peer_new(cfg);

	snprintf(p->path, sizeof(p->path), "%s", path);
	p->lfd = peer_listen_unix(path);
	pthread_create(&p->th, NULL, peer_main, p);
	return p;
}

void peer_refuse(struct peer *p)
{
	p->refuse_now = 1;
}

void peer_release(struct peer *p)
{
	int i;

	pthread_mutex_lock(&p->mu);
	for (i = 0; i < p->nslots; i++)
		if (p->slots[i].remove_at > 0)
			p->slots[i].remove_at = vs_now_ms();
	pthread_mutex_unlock(&p->mu);
}

int peer_online_vcpus(struct peer *p, int *out, int max)
{
	int i, n = 0;

	pthread_mutex_lock(&p->mu);
	for (i = p->nslots - 1; i >= 0 && n < max; i--)
		if (p->slots[i].qom[0])
			out[n++] = cJSON_GetObjectItem(p->slots[i].props, "core-id")->valueint;
	pthread_mutex_unlock(&p->mu);
	return n;
}

int peer_online(struct peer *p)
{
	int i, n = 0;

	pthread_mutex_lock(&p->mu);
	for (i = 0; i < p->nslots; i++)
		if (p->slots[i].qom[0])
			n += p->slots[i].vcpus;
	pthread_mutex_unlock(&p->mu);
	return n;
}

struct peer *peer_start_listen_fd(int lfd, const struct peer_config *cfg)
{
	struct peer *p = peer_new(cfg);

	p->lfd = lfd;
	pthread_create(&p->th, NULL, peer_main, p);
	return p;
}

char *peer_ahead(struct peer *p)
{
	char *s;

	pthread_mutex_lock(&p->mu);
	s = strdup(p->ahead);
	pthread_mutex_unlock(&p->mu);
	return s;
}

char *peer_log(struct peer *p)
{
	char *s;

	pthread_mutex_lock(&p->mu);
	s = strdup(p->log);
	pthread_mutex_unlock(&p->mu);
	return s;
}

char *peer_stop(struct peer *p)
{
	char *log;

	p->quit = 1;
	if (p->fd >= 0)
		shutdown(p->fd, SHUT_RDWR);
	pthread_join(p->th, NULL);
	if (p->lfd >= 0) {
		close(p->lfd);
		unlink(p->path);
	}
	sim_free(p);
	vthread_free(p->helper);
	free(p->hp_text);
	log = p->log;
	free(p->counts);
	pthread_mutex_destroy(&p->mu);
	free(p);
	return log;
}
