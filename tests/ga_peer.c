/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ga_peer: a scripted guest agent for tests (see ga_peer.h). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "ga_peer.h"
#include "peer.h"

#define MAXCPU 64

struct ga_peer {
	pthread_t th;
	int lfd;
	char path[108];
	struct ga_peer_config cfg;
	pthread_mutex_t mu;
	char *log;
	size_t loglen;
	int lid_of[MAXCPU];  /* by vCPU: the logical id the guest gave it, -1 none yet */
	int nlid;            /* logical ids given so far */
	bool online[MAXCPU]; /* by logical id */
	bool present[MAXCPU];
	int vcpu_of[MAXCPU]; /* by logical id */
	bool synced;         /* the boot CPUs are known */
	volatile int quit;
};

static void logcmd(struct ga_peer *g, const char *name)
{
	size_t n = strlen(name);
	char *nl;

	pthread_mutex_lock(&g->mu);
	nl = realloc(g->log, g->loglen + n + 2);
	if (nl) {
		g->log = nl;
		memcpy(g->log + g->loglen, name, n);
		g->loglen += n;
		g->log[g->loglen++] = '\n';
		g->log[g->loglen] = '\0';
	}
	pthread_mutex_unlock(&g->mu);
}

/* Follow QEMU's vCPUs as a Linux guest does: a new one gets the next logical id, kept. */
static void sync_cpus(struct ga_peer *g)
{
	int v[MAXCPU], n, k, id;
	bool now[MAXCPU];

	if (!g->cfg.qemu) {
		for (k = 0; k < g->cfg.ncpus && k < MAXCPU; k++) {
			if (!g->present[k])
				g->online[k] = true;
			g->present[k] = true;
			g->vcpu_of[k] = k;
		}
		return;
	}
	n = peer_online_vcpus(g->cfg.qemu, v, MAXCPU);
	memset(now, 0, sizeof(now));
	for (k = 0; k < n; k++) {
		if (v[k] >= MAXCPU)
			continue;
		if (g->lid_of[v[k]] < 0) {
			id = g->nlid++;
			if (g->cfg.swap_ids && (v[k] == 2 || v[k] == 3))
				id = v[k] == 2 ? 3 : 2;
			g->lid_of[v[k]] = id;
		}
		id = g->lid_of[v[k]];
		now[id] = true;
		g->vcpu_of[id] = v[k];
		/* the boot CPUs are online; a hot-added one only if the guest onlines it itself */
		if (!g->present[id])
			g->online[id] = !g->synced || g->cfg.auto_online;
	}
	for (k = 0; k < MAXCPU; k++) {
		if (!now[k])
			g->online[k] = false;
		g->present[k] = now[k];
	}
	g->synced = true;
}

static void send_text(int fd, const char *s, size_t n)
{
	size_t off = 0;
	ssize_t w;

	while (off < n) {
		w = send(fd, s + off, n - off, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		off += (size_t)w;
	}
}

/* {"return": ret} (taken) or {"error": ...}, with the command's id, on a line. */
static void reply(int fd, const cJSON *cmd, cJSON *ret, const char *cls, const char *desc,
		  bool delimit)
{
	cJSON *o = cJSON_CreateObject(), *id = cJSON_GetObjectItem(cmd, "id");
	char *t;

	if (ret) {
		cJSON_AddItemToObject(o, "return", ret);
	} else {
		cJSON *e = cJSON_AddObjectToObject(o, "error");

		cJSON_AddStringToObject(e, "class", cls);
		cJSON_AddStringToObject(e, "desc", desc);
	}
	if (id)
		cJSON_AddItemToObject(o, "id", cJSON_Duplicate(id, 1));
	t = cJSON_PrintUnformatted(o);
	if (delimit)
		send_text(fd, "\xff", 1);
	send_text(fd, t, strlen(t));
	send_text(fd, "\n", 1);
	free(t);
	cJSON_Delete(o);
}

static cJSON *vcpus_list(struct ga_peer *g)
{
	cJSON *a = cJSON_CreateArray(), *o;
	int k;

	sync_cpus(g);
	for (k = 0; k < MAXCPU; k++) {
		if (!g->present[k])
			continue;
		o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "logical-id", k);
		cJSON_AddBoolToObject(o, "online", g->online[k]);
		cJSON_AddBoolToObject(o, "can-offline", k != 0 && !(g->cfg.no_offline >> k & 1));
		cJSON_AddItemToArray(a, o);
		if (g->cfg.fault == GA_BAD_LIST)
			cJSON_AddItemToArray(a, cJSON_Duplicate(o, 1));
	}
	return a;
}

static void set_vcpus(struct ga_peer *g, int fd, const cJSON *cmd)
{
	const cJSON *l = cJSON_GetObjectItem(cJSON_GetObjectItem(cmd, "arguments"), "vcpus"), *it;
	int done = 0;

	sync_cpus(g);
	cJSON_ArrayForEach(it, l) {
		int id = cJSON_GetObjectItem(it, "logical-id")->valueint;
		bool on = cJSON_IsTrue(cJSON_GetObjectItem(it, "online"));

		if (id < 0 || id >= MAXCPU || !g->present[id] || (on && g->cfg.set_fail_at == id + 1) ||
		    (!on && (id == 0 || (g->cfg.no_offline >> id & 1))))
			break;
		if (!g->cfg.set_ignored)
			g->online[id] = on;
		done++;
	}
	if (done == 0 && cJSON_GetArraySize(l) > 0)
		reply(fd, cmd, NULL, "GenericError", "Permission denied: cannot change that CPU", false);
	else
		reply(fd, cmd, cJSON_CreateNumber(done), NULL, NULL, false);
}

static void b64(const char *in, char *out)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(in), i, o = 0;

	for (i = 0; i < n; i += 3) {
		unsigned long v = (unsigned long)(unsigned char)in[i] << 16;

		v |= i + 1 < n ? (unsigned long)(unsigned char)in[i + 1] << 8 : 0;
		v |= i + 2 < n ? (unsigned char)in[i + 2] : 0;
		out[o++] = t[v >> 18 & 63];
		out[o++] = t[v >> 12 & 63];
		out[o++] = i + 1 < n ? t[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? t[v & 63] : '=';
	}
	out[o] = '\0';
}

static void files(struct ga_peer *g, int fd, const cJSON *cmd, const char *name)
{
	const cJSON *a = cJSON_GetObjectItem(cmd, "arguments");
	char text[64], enc[128];
	cJSON *r;
	int id;

	if (g->cfg.files_blocked) {
		reply(fd, cmd, NULL, "CommandNotFound", "Command guest-file-open has been disabled",
		      false);
		return;
	}
	if (strcmp(name, "guest-file-open") == 0) {
		const char *p = cJSON_GetStringValue(cJSON_GetObjectItem(a, "path"));

		sync_cpus(g);
		if (p && sscanf(p, "/sys/devices/system/cpu/cpu%d/firmware_node/path", &id) == 1 &&
		    id >= 0 && id < MAXCPU && g->present[id])
			reply(fd, cmd, cJSON_CreateNumber(1000 + id), NULL, NULL, false);
		else
			reply(fd, cmd, NULL, "GenericError", "failed to open file: No such file or "
			      "directory", false);
		return;
	}
	if (strcmp(name, "guest-file-read") == 0) {
		id = cJSON_GetObjectItem(a, "handle")->valueint - 1000;
		snprintf(text, sizeof(text), "\\_SB_.CPUS.C%03X\n", id >= 0 && id < MAXCPU
			 ? g->vcpu_of[id] : 0);
		b64(text, enc);
		r = cJSON_CreateObject();
		cJSON_AddNumberToObject(r, "count", (double)strlen(text));
		cJSON_AddStringToObject(r, "buf-b64", enc);
		cJSON_AddBoolToObject(r, "eof", true);
		reply(fd, cmd, r, NULL, NULL, false);
		return;
	}
	reply(fd, cmd, cJSON_CreateObject(), NULL, NULL, false);
}

static void huge(int fd, const cJSON *cmd)
{
	size_t n = (2u << 20) + 100;
	char *t = malloc(n + 1);

	(void)cmd;
	memset(t, ' ', n);
	memcpy(t, "{\"return\": [", 12);
	t[n - 2] = ']';
	t[n - 1] = '}';
	t[n] = '\0';
	send_text(fd, t, n);
	send_text(fd, "\n", 1);
	free(t);
}

/* One command; false when the connection is to be closed. */
static bool handle(struct ga_peer *g, int fd, const cJSON *cmd)
{
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(cmd, "execute"));
	const cJSON *a = cJSON_GetObjectItem(cmd, "arguments");

	if (!name)
		return true;
	logcmd(g, name);
	if (g->cfg.fault == GA_CLOSE)
		return false;
	if (g->cfg.fault == GA_HUNG)
		return true;
	if (g->cfg.fault == GA_JUNK) {
		send_text(fd, "<html>not an agent</html>\n", 26);
		return true;
	}
	pthread_mutex_lock(&g->mu);
	if (strcmp(name, "guest-sync-delimited") == 0 || strcmp(name, "guest-sync") == 0) {
		double id = cJSON_GetObjectItem(a, "id")->valuedouble;

		reply(fd, cmd, cJSON_CreateNumber(g->cfg.fault == GA_WRONG_SYNC ? id + 1 : id), NULL,
		      NULL, strcmp(name, "guest-sync-delimited") == 0);
	} else if (strcmp(name, "guest-get-vcpus") == 0 && g->cfg.fault == GA_HUGE) {
		huge(fd, cmd);
	} else if (strcmp(name, "guest-get-vcpus") == 0) {
		reply(fd, cmd, vcpus_list(g), NULL, NULL, false);
	} else if (strcmp(name, "guest-set-vcpus") == 0) {
		set_vcpus(g, fd, cmd);
	} else if (strncmp(name, "guest-file-", 11) == 0) {
		files(g, fd, cmd, name);
	} else {
		reply(fd, cmd, NULL, "CommandNotFound", "The command has not been found", false);
	}
	pthread_mutex_unlock(&g->mu);
	return true;
}

/* Lines of one client until it goes; a 0xFF resets the parser, and is answered as qemu-ga does. */
static void serve(struct ga_peer *g, int fd)
{
	char buf[65536];
	size_t len = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (g->cfg.fault == GA_STALE)
		send_text(fd, "{\"return\": [], \"id\": \"vcpuset-1\"}\n\xff{\"return\": 12345}\n"
			      "{\"return\": {}}\n{\"ret", 70);
	while (!g->quit) {
		char *nl, *line;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			return;
		len += (size_t)n;
		while ((nl = memchr(buf, '\n', len))) {
			cJSON *cmd;
			bool go_on = true;

			*nl = '\0';
			line = buf;
			while (*line == '\xff') {
				if (g->cfg.fault == GA_FINE || g->cfg.fault == GA_STALE)
					send_text(fd, "{\"error\": {\"class\": \"GenericError\", \"desc\": "
						  "\"JSON parse error, stray '\\uFFFD'\"}}\n", 77);
				line++;
			}
			cmd = cJSON_Parse(line);
			if (cmd)
				go_on = handle(g, fd, cmd);
			cJSON_Delete(cmd);
			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len);
			if (!go_on)
				return;
		}
		if (len == sizeof(buf) - 1)
			len = 0;
	}
}

static void *ga_main(void *arg)
{
	struct ga_peer *g = arg;
	struct pollfd p = { .fd = g->lfd, .events = POLLIN };
	int fd;

	while (!g->quit) {
		if (poll(&p, 1, 100) <= 0)
			continue;
		fd = accept(g->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		serve(g, fd);
		close(fd);
	}
	return NULL;
}

struct ga_peer *ga_peer_start(const char *path, const struct ga_peer_config *cfg)
{
	struct ga_peer *g = calloc(1, sizeof(*g));
	int k;

	g->cfg = *cfg;
	for (k = 0; k < MAXCPU; k++)
		g->lid_of[k] = -1;
	pthread_mutex_init(&g->mu, NULL);
	sync_cpus(g); /* the guest's boot CPUs: QEMU's vCPUs now */
	snprintf(g->path, sizeof(g->path), "%s", path);
	g->lfd = peer_listen_unix(path);
	pthread_create(&g->th, NULL, ga_main, g);
	return g;
}

char *ga_peer_log(struct ga_peer *g)
{
	char *s;

	pthread_mutex_lock(&g->mu);
	s = strdup(g->log ? g->log : "");
	pthread_mutex_unlock(&g->mu);
	return s;
}

bool ga_peer_online(struct ga_peer *g, int id)
{
	bool on;

	pthread_mutex_lock(&g->mu);
	sync_cpus(g);
	on = id >= 0 && id < MAXCPU && g->present[id] && g->online[id];
	pthread_mutex_unlock(&g->mu);
	return on;
}

char *ga_peer_stop(struct ga_peer *g)
{
	char *log;

	g->quit = 1;
	pthread_join(g->th, NULL);
	close(g->lfd);
	unlink(g->path);
	log = g->log ? g->log : strdup("");
	pthread_mutex_destroy(&g->mu);
	free(g);
	return log;
}
