/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vcpuset against `virsh setvcpus --live` and against the floor, on one booted libvirt
 * domain (run through tests/libvirt/run.sh, see `make bench`). The floor is the least any
 * tool must do: the same QMP exchanges, in-process — connect, negotiate, device_add and the
 * two queries; device_del and query-hotpluggable-cpus until the slot is free.
 * floor-cli is the floor as a one-shot program must do it: a fresh process that connects,
 * negotiates, asks query-hotpluggable-cpus for the slot to change, then does the floor's
 * exchanges — vcpuset against it is what vcpuset adds beyond what any one-shot tool pays.
 * The tools alternate within each round, vcpuset first in one round and last in the next,
 * each after a pause that lets the guest settle, so that machine noise hits all of them.
 * vcpuset and the floor need the monitor, so libvirtd is stopped for them and started for
 * virsh (not timed). A TCG guest takes at most 62 plugs over its life: the rounds fit.
 *   bench/compare ROUNDS    prints a table (medians, min/max, ratios)
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "qmp.h"
#include "vcpuset.h"

static const char *name, *dir, *daemon_cmd;
static char sock[512];

static void daemon_ctl(const char *what)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "%s %s %s", daemon_cmd, what, dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "bench: '%s' failed\n", cmd);
		exit(1);
	}
}

/*
 * vcpuset to count vCPUs, doing what virsh setvcpus --live does (no wait for the guest); with
 * ack, the defaults: waiting for the guest to take a plug, and for its agent to list it online.
 */
static bool vcpuset_run(int count, bool ack, double *ms)
{
	char n[16];
	char *argv[] = { "./vcpuset", "--no-audit", "--socket", sock, n, "--ack-timeout", "0",
			 "--guest-agent", "off", NULL };

	if (ack)
		argv[5] = NULL;

	snprintf(n, sizeof(n), "%d", count);
	return bench_run(argv, NULL, 0, ms, NULL, NULL) == 0;
}

static bool vcpuset(int count, double *ms)
{
	return vcpuset_run(count, false, ms);
}

static bool virsh(int count, double *ms)
{
	char n[16];
	char *argv[] = { "virsh", "-q", "-c", "qemu:///system", "setvcpus", (char *)name, n, "--live",
			 NULL };

	snprintf(n, sizeof(n), "%d", count);
	return bench_run(argv, NULL, 0, ms, NULL, NULL) == 0;
}

/* The slots as vcpuset --status --json lists them (not timed). */
static cJSON *slots(void)
{
	static char out[1 << 20];
	char *argv[] = { "./vcpuset", "--json", "--status", "--socket", sock, NULL };
	cJSON *doc;

	if (bench_run(argv, out, sizeof(out), NULL, NULL, NULL) != 0 || !(doc = cJSON_Parse(out))) {
		fprintf(stderr, "bench: vcpuset --status failed\n");
		exit(1);
	}
	return doc;
}

static bool floor_connect(struct qmp **q)
{
	struct vs_err err;

	if (qmp_connect(sock, 3000, q, &err) < 0 || qmp_handshake(*q, 3000, &err) < 0) {
		fprintf(stderr, "bench: floor: %s\n", err.msg);
		return false;
	}
	return true;
}

/* device_add of a slot (its type and props) as vCPU id, then the two queries; 0 or -errno. */
static int bare_plug(struct qmp *q, const char *type, const cJSON *props, const char *id,
		     struct vs_err *err)
{
	cJSON *args = cJSON_CreateObject(), *it, *ret = NULL;
	int rc;

	cJSON_AddStringToObject(args, "driver", type);
	cJSON_AddStringToObject(args, "id", id);
	cJSON_ArrayForEach(it, props)
		cJSON_AddItemToObject(args, it->string, cJSON_Duplicate(it, 1));
	rc = qmp_execute(q, "device_add", args, 30000, NULL, err);
	if (rc == 0)
		rc = qmp_execute(q, "query-hotpluggable-cpus", NULL, 30000, &ret, err);
	cJSON_Delete(ret);
	ret = NULL;
	if (rc == 0)
		rc = qmp_execute(q, "query-cpus-fast", NULL, 30000, &ret, err);
	cJSON_Delete(ret);
	cJSON_Delete(args);
	return rc;
}

/* device_del of id (an alias or a QOM path), then wait until the slot of props is free. */
static int bare_unplug(struct qmp *q, const char *id, const cJSON *props, struct vs_err *err)
{
	cJSON *args = cJSON_CreateObject(), *it, *ret = NULL;
	double deadline = vs_now_ms() + 10000;
	bool gone = false;
	int rc;

	cJSON_AddStringToObject(args, "id", id);
	rc = qmp_execute(q, "device_del", args, 30000, NULL, err);
	while (rc == 0 && !gone && vs_now_ms() < deadline) {
		rc = qmp_execute(q, "query-hotpluggable-cpus", NULL, 30000, &ret, err);
		gone = true;
		cJSON_ArrayForEach(it, ret)
			if (cJSON_Compare(cJSON_GetObjectItem(it, "props"), props, 1) &&
			    cJSON_HasObjectItem(it, "qom-path"))
				gone = false;
		cJSON_Delete(ret);
		ret = NULL;
		if (!gone)
			usleep(10000);
	}
	cJSON_Delete(args);
	return rc == 0 && !gone ? vs_err_set(err, ETIMEDOUT, "the slot is not free after 10 s") : rc;
}

/* Plug (or unplug) the next slot count times, as bare QMP. Returns success. */
static bool floor_step(bool plug, int count, double *ms)
{
	cJSON *doc = slots(), *v, *todo[64];
	struct qmp *q = NULL;
	struct vs_err err;
	int n = 0, i;
	double t0;
	bool ok = true;

	cJSON_ArrayForEach(v, cJSON_GetObjectItem(doc, "vcpus")) {
		bool online = cJSON_IsTrue(cJSON_GetObjectItem(v, "online"));

		if (plug && !online && n < count)
			todo[n++] = v;
	}
	if (!plug) {
		int k = cJSON_GetArraySize(cJSON_GetObjectItem(doc, "vcpus"));

		for (i = k - 1; i >= 0 && n < count; i--) {
			v = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "vcpus"), i);
			if (cJSON_IsTrue(cJSON_GetObjectItem(v, "online")) &&
			    cJSON_IsString(cJSON_GetObjectItem(v, "alias")))
				todo[n++] = v;
		}
	}
	t0 = vs_now_ms();
	ok = floor_connect(&q);
	for (i = 0; ok && i < n; i++) {
		const cJSON *props = cJSON_GetObjectItem(todo[i], "props");
		char id[32];

		if (plug) {
			snprintf(id, sizeof(id), "vcpu%d", cJSON_GetObjectItem(todo[i], "index")->valueint);
			ok = bare_plug(q, cJSON_GetStringValue(cJSON_GetObjectItem(todo[i], "type")), props,
				       id, &err) == 0;
		} else {
			ok = bare_unplug(q, cJSON_GetStringValue(cJSON_GetObjectItem(todo[i], "alias")),
					 props, &err) == 0;
		}
	}
	qmp_free(q);
	*ms = vs_now_ms() - t0;
	cJSON_Delete(doc);
	return ok;
}

/* Order of two query-hotpluggable-cpus entries by their topology ids, as vCPU indexes go. */
static int slot_cmp(const cJSON *a, const cJSON *b)
{
	static const char *const keys[] = { "drawer-id", "book-id", "socket-id", "die-id",
					    "cluster-id", "module-id", "core-id", "thread-id" };
	const cJSON *pa = cJSON_GetObjectItem(a, "props"), *pb = cJSON_GetObjectItem(b, "props");
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const cJSON *x = cJSON_GetObjectItem(pa, keys[i]), *y = cJSON_GetObjectItem(pb, keys[i]);
		double u = cJSON_IsNumber(x) ? x->valuedouble : -1, v = cJSON_IsNumber(y) ? y->valuedouble : -1;

		if (u != v)
			return u < v ? -1 : 1;
	}
	return 0;
}

/*
 * floor-cli (its own process, timed by bench_run): plug the lowest free slot, or unplug the
 * highest plugged one, as bare QMP. Exit 0 on success.
 */
static int floor_cli(const char *path, bool plug)
{
	cJSON *hp = NULL, *it, *pick = NULL;
	struct qmp *q = NULL;
	struct vs_err err;
	int rank = 0, rc;

	if (qmp_connect(path, 3000, &q, &err) < 0 || qmp_handshake(q, 3000, &err) < 0 ||
	    qmp_execute(q, "query-hotpluggable-cpus", NULL, 30000, &hp, &err) < 0) {
		fprintf(stderr, "floor-cli: %s\n", err.msg);
		return 1;
	}
	cJSON_ArrayForEach(it, hp) {
		bool used = cJSON_HasObjectItem(it, "qom-path");

		if (used != plug && (!pick || (plug ? slot_cmp(it, pick) < 0 : slot_cmp(it, pick) > 0)))
			pick = it;
	}
	cJSON_ArrayForEach(it, hp)
		rank += pick && slot_cmp(it, pick) < 0;
	if (plug && pick) {
		char id[32];

		snprintf(id, sizeof(id), "vcpu%d", rank); /* libvirt's alias for it */
		rc = bare_plug(q, cJSON_GetStringValue(cJSON_GetObjectItem(pick, "type")),
			       cJSON_GetObjectItem(pick, "props"), id, &err);
	} else if (pick) {
		/* device_del takes a QOM path too */
		rc = bare_unplug(q, cJSON_GetStringValue(cJSON_GetObjectItem(pick, "qom-path")),
				 cJSON_GetObjectItem(pick, "props"), &err);
	} else {
		rc = vs_err_set(&err, ENOENT, "no slot to %s", plug ? "plug" : "unplug");
	}
	if (rc < 0)
		fprintf(stderr, "floor-cli: %s\n", err.msg);
	cJSON_Delete(hp);
	qmp_free(q);
	return rc < 0;
}

/*
 * The kernel's part: a no-op move of this process into its own cgroup after a quiet while
 * (what the first move of a new vCPU thread waits for, see hostres.c), in ms; -1 if none.
 */
static double first_move_ms(void)
{
	char line[4096], path[4400], pid[16];
	FILE *f = fopen("/proc/self/cgroup", "r");
	double t0 = -1;
	int fd = -1;

	while (f && fd < 0 && fgets(line, sizeof(line), f)) {
		/* "N:controllers:path": the usual mount points of that hierarchy */
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (!c2)
			continue;
		*c2 = '\0';
		c2[1 + strcspn(c2 + 1, "\n")] = '\0';
		snprintf(path, sizeof(path), "/sys/fs/cgroup/%s%s/cgroup.procs",
			 c1[1] ? c1 + 1 : "unified", strcmp(c2 + 1, "/") ? c2 + 1 : "");
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 && !c1[1]) {
			snprintf(path, sizeof(path), "/sys/fs/cgroup%s/cgroup.procs",
				 strcmp(c2 + 1, "/") ? c2 + 1 : "");
			fd = open(path, O_WRONLY | O_CLOEXEC);
		}
	}
	if (f)
		fclose(f);
	if (fd < 0)
		return -1;
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	usleep(300000);
	t0 = vs_now_ms();
	if (pwrite(fd, pid, strlen(pid), 0) < 0)
		t0 = -1;
	close(fd);
	return t0 < 0 ? -1 : vs_now_ms() - t0;
}

/* One step kind, from and to a vCPU count: each tool's wall times. */
struct kind {
	const char *what;
	int from, to;
	struct bench_series tool, floor_, cli, virsh;
	struct bench_series ack; /* vcpuset waiting for the guest's acknowledgment (plugs) */
};

/* A pause before each timed step: the guest has onlined or offlined the last vCPU. */
static void settle(void)
{
	usleep(300000);
}

/* One tool's step from up->from to up->to (plug) or back; success. */
typedef bool step_fn(bool plug, const struct kind *up, double *ms);

static bool vcpuset_step(bool plug, const struct kind *up, double *ms)
{
	return vcpuset(plug ? up->to : up->from, ms);
}

static bool vcpuset_ack_step(bool plug, const struct kind *up, double *ms)
{
	return vcpuset_run(plug ? up->to : up->from, true, ms);
}

static bool floor_in_process(bool plug, const struct kind *up, double *ms)
{
	return floor_step(plug, up->to - up->from, ms);
}

static bool virsh_step(bool plug, const struct kind *up, double *ms)
{
	return virsh(plug ? up->to : up->from, ms);
}

/* floor-cli in its own process, started like vcpuset */
static bool floor_cli_step(bool plug, const struct kind *up, double *ms)
{
	char *argv[] = { "./bench/compare", "--floor-cli", sock, plug ? "plug" : "unplug", NULL };

	(void)up;
	return bench_run(argv, NULL, 0, ms, NULL, NULL) == 0;
}

/* Time run there (into there) and, if back is not NULL, back again (into back). */
static void there_and_back(step_fn *run, const struct kind *up, struct bench_series *there,
			   struct bench_series *back)
{
	double ms;
	bool ok;

	settle();
	ok = run(true, up, &ms);
	bench_add(there, ms, ok);
	if (!back)
		return;
	settle();
	ok = run(false, up, &ms);
	bench_add(back, ms, ok);
}

/*
 * One round: vcpuset (first, or last when last), the floor and, with cli, floor-cli there and
 * back (libvirtd down), then virsh there (libvirtd up) and, if virsh_back, back too; then to
 * up->from again, untimed. Under TCG libvirt waits for an event that never comes when it
 * unplugs: that once only.
 */
static void measure(struct kind *up, struct kind *down, bool virsh_back, bool cli, bool last)
{
	daemon_ctl("stop");
	if (!last)
		there_and_back(vcpuset_step, up, &up->tool, &down->tool);
	there_and_back(floor_in_process, up, &up->floor_, &down->floor_);
	if (cli) {
		there_and_back(floor_cli_step, up, &up->cli, &down->cli);
		there_and_back(vcpuset_ack_step, up, &up->ack, NULL); /* and back, untimed: */
		if (!vcpuset(up->from, NULL))
			fprintf(stderr, "bench: could not go back to %d vCPUs\n", up->from);
	}
	if (last)
		there_and_back(vcpuset_step, up, &up->tool, &down->tool);
	daemon_ctl("start");
	there_and_back(virsh_step, up, &up->virsh, virsh_back ? &down->virsh : NULL);
	daemon_ctl("stop");
	if (!vcpuset(up->from, NULL))
		fprintf(stderr, "bench: could not go back to %d vCPUs\n", up->from);
}

static void row(const struct kind *k)
{
	const struct bench_series *t = &k->tool, *f = &k->floor_, *c = &k->cli, *v = &k->virsh;

	printf("| %-8s | %8.1f | %6.1f-%-7.1f | %8.1f | %6.1f-%-7.1f | %5.2fx |", k->what,
	       bench_median(t), bench_min(t), bench_max(t), bench_median(f), bench_min(f),
	       bench_max(f), bench_median(f) > 0 ? bench_median(t) / bench_median(f) : 0);
	if (c->n)
		printf(" %8.1f%s | %5.2fx |", bench_median(c), c->failed ? " (failed)" : "",
		       bench_median(c) > 0 ? bench_median(t) / bench_median(c) : 0);
	else
		printf(" %8s | %6s |", "-", "-");
	if (v->n)
		printf(" %8.1f%s | %6.1fx |\n", bench_median(v), v->failed ? " (failed)" : "",
		       bench_median(t) > 0 ? bench_median(v) / bench_median(t) : 0);
	else
		printf(" %8s | %7s |\n", "-", "-");
}

int main(int argc, char **argv)
{
	struct kind plug = { .what = "plug 1", .from = 2, .to = 3 };
	struct kind unplug = { .what = "unplug 1", .from = 3, .to = 2 };
	struct kind up = { .what = "2->8", .from = 2, .to = 8 };
	struct kind down = { .what = "8->2", .from = 8, .to = 2 };
	int rounds = argc > 1 ? atoi(argv[1]) : 5, i;

	struct bench_series wait = { 0 };

	if (bench_runner(argc, argv) >= 0)
		return 0; /* not reached: the runner exits */
	if (argc == 4 && strcmp(argv[1], "--floor-cli") == 0)
		return floor_cli(argv[2], strcmp(argv[3], "plug") == 0);
	name = getenv("VCPUSET_LV_NAME");
	dir = getenv("VCPUSET_LV_DIR");
	daemon_cmd = getenv("VCPUSET_LV_DAEMON");
	if (!name || !dir || !daemon_cmd || !getenv("VCPUSET_LV_ID")) {
		fprintf(stderr, "bench: run me through tests/libvirt/run.sh\n");
		return 2;
	}
	snprintf(sock, sizeof(sock), "/var/lib/libvirt/qemu/domain-%s-%.20s/monitor.sock",
		 getenv("VCPUSET_LV_ID"), name);
	if (rounds < 1 || rounds > 5)
		rounds = 5; /* 5 plugs a round, 36 for the 2->8 part: within TCG's 62 */
	for (i = 0; i < 5; i++) {
		double w = first_move_ms();

		if (w >= 0)
			bench_add(&wait, w, true);
	}
	for (i = 0; i < rounds; i++)
		measure(&plug, &unplug, i == 0, true, i % 2 == 1);
	for (i = 0; i < 2; i++)
		measure(&up, &down, i == 1, false, i % 2 == 1);
	daemon_ctl("start");
	printf("vcpuset, the floor (bare QMP in-process), floor-cli (the floor as a fresh process that "
	       "also looks the slot up) and virsh setvcpus --live, on one libvirt TCG domain; %d "
	       "rounds (2->8 and 8->2: 2), wall ms, median and min-max\n\n", rounds);
	printf("| step     | vcpuset  | min-max        | floor    | min-max        | /floor | floor-cli "
	       "| /cli   | virsh    | virsh/vcpuset |\n");
	printf("|----------|----------|----------------|----------|----------------|--------|----------"
	       "-|--------|----------|---------------|\n");
	row(&plug);
	row(&unplug);
	row(&up);
	row(&down);
	if (plug.ack.n)
		printf("\nplug 1 with the defaults, waiting for the guest's acknowledgment (--ack-timeout "
		       "3) and for its agent to list the vCPU online: median %.1f ms, %.1f-%.1f "
		       "(vcpuset above: --ack-timeout 0 --guest-agent off, %.1f ms)\n",
		       bench_median(&plug.ack), bench_min(&plug.ack), bench_max(&plug.ack),
		       bench_median(&plug.tool));
	if (wait.n)
		printf("\nkernel: a first cgroup move after a quiet while (what placing a new vCPU thread "
		       "waits for): median %.1f ms, %.1f-%.1f over %d tries\n", bench_median(&wait),
		       bench_min(&wait), bench_max(&wait), wait.n);
	return 0;
}
