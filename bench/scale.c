/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What a step costs as maxcpus grows, on real QEMU 10 (TCG, q35, -S so that nothing runs in
 * the guest: --force, --no-audit, --no-cgroup, --ack-timeout 0). For 64, 1024 and 4096 slots:
 *   raw     a fresh process that does the least a plug needs: connect, negotiate, ask the
 *           slot list once, device_add of the lowest free slot, query-cpus-fast
 *   plug 1  vcpuset +1, the whole process (fork to exit)
 *   bulk    vcpuset +8: the median step's wall and CPU time, as vcpuset timed them
 *   bench/scale [RUNS]      prints a table; ./vcpuset must be built, QEMU installed
 *   bench/scale --raw SOCK  the raw client (what the table runs)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "qmp.h"

#define MS 30000
/*
 * Before each timed run: a vCPU just plugged starts its thread (TCG contexts and all) for
 * some 100 ms, on the cores the next client's QEMU work needs.
 */
#define SETTLE_US 300000

/* The raw client: plug the lowest free slot with the fewest exchanges. 0 or 1. */
static int raw(const char *path)
{
	cJSON *hp = NULL, *cf = NULL, *it, *pick = NULL, *args, *p;
	struct vs_err err = { 0 };
	struct qmp *q = NULL;
	char id[32];
	int rc;

	rc = qmp_connect(path, MS, &q, &err);
	if (rc == 0)
		rc = qmp_handshake(q, MS, &err);
	if (rc == 0)
		rc = qmp_execute(q, "query-hotpluggable-cpus", NULL, MS, &hp, &err);
	cJSON_ArrayForEach(it, hp)
		if (!cJSON_HasObjectItem(it, "qom-path"))
			pick = it; /* QEMU lists the slots highest first */
	if (rc == 0 && !pick)
		rc = vs_err_set(&err, ENOSPC, "no free slot");
	if (rc == 0) {
		p = cJSON_GetObjectItem(pick, "props");
		snprintf(id, sizeof(id), "raw%d", cJSON_GetObjectItem(p, "core-id")->valueint);
		args = cJSON_CreateObject();
		cJSON_AddStringToObject(args, "driver", cJSON_GetStringValue(cJSON_GetObjectItem(pick, "type")));
		cJSON_AddStringToObject(args, "id", id);
		cJSON_ArrayForEach(it, p)
			cJSON_AddItemToObject(args, it->string, cJSON_Duplicate(it, 1));
		rc = qmp_execute(q, "device_add", args, MS, NULL, &err);
		cJSON_Delete(args);
	}
	if (rc == 0)
		rc = qmp_execute(q, "query-cpus-fast", NULL, MS, &cf, &err);
	if (rc < 0)
		fprintf(stderr, "raw: %s\n", err.msg);
	cJSON_Delete(hp);
	cJSON_Delete(cf);
	qmp_free(q);
	return rc < 0;
}

static pid_t start_qemu(int maxcpus, const char *sock)
{
	char smp[64], qmp[160];
	pid_t pid;
	int i;

	snprintf(smp, sizeof(smp), "1,maxcpus=%d", maxcpus);
	snprintf(qmp, sizeof(qmp), "unix:%s,server=on,wait=off", sock);
	unlink(sock);
	pid = fork();
	if (pid == 0) {
		execlp("qemu-system-x86_64", "qemu-system-x86_64", "-machine", "q35", "-accel", "tcg",
		       "-cpu", "qemu64", "-m", "256", "-smp", smp, "-S", "-display", "none",
		       "-nodefaults", "-qmp", qmp, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 3000 && access(sock, F_OK) != 0; i++)
		usleep(10000);
	return pid;
}

/* The "ms" or "cpu_ms" values of the steps in a JSON report, into s. */
static void add_steps(const char *out, const char *key, struct bench_series *s)
{
	cJSON *doc = cJSON_Parse(out), *it;

	cJSON_ArrayForEach(it, cJSON_GetObjectItem(doc, "steps"))
		bench_add(s, cJSON_GetObjectItem(it, key)->valuedouble, true);
	cJSON_Delete(doc);
}

struct row {
	int slots;
	struct bench_series raw, plug, step, cpu;
};

static void measure(struct row *w, int runs, const char *self)
{
	static char out[1 << 16];
	char sock[64];
	double ms;
	pid_t qemu;
	int i, rc;

	snprintf(sock, sizeof(sock), "/tmp/vcpuset-scale-%d.sock", w->slots);
	qemu = start_qemu(w->slots, sock);
	for (i = 0; i < runs; i++) {
		char *rargv[] = { (char *)self, "--raw", sock, NULL };
		char *vargv[] = { "./vcpuset", "--force", "--no-audit", "--no-cgroup", "--ack-timeout",
				  "0", "--json", "--socket", sock, "+1", NULL };

		usleep(SETTLE_US);
		rc = bench_run(rargv, NULL, 0, &ms, NULL, NULL);
		bench_add(&w->raw, ms, rc == 0);
		usleep(SETTLE_US);
		rc = bench_run(vargv, out, sizeof(out), &ms, NULL, NULL);
		bench_add(&w->plug, ms, rc == 0);
	}
	{
		char *bargv[] = { "./vcpuset", "--force", "--no-audit", "--no-cgroup", "--ack-timeout",
				  "0", "--json", "--socket", sock, "+8", NULL };

		usleep(SETTLE_US);
		rc = bench_run(bargv, out, sizeof(out), &ms, NULL, NULL);
		if (rc != 0)
			fprintf(stderr, "bench: bulk run at %d slots: exit %d\n", w->slots, rc);
		add_steps(out, "ms", &w->step);
		add_steps(out, "cpu_ms", &w->cpu);
	}
	kill(qemu, SIGTERM);
	waitpid(qemu, NULL, 0);
	unlink(sock);
}

int main(int argc, char **argv)
{
	static struct row rows[] = { { .slots = 64 }, { .slots = 1024 }, { .slots = 4096 } };
	int runs = 7, i;

	if (bench_runner(argc, argv) >= 0)
		return 0;
	if (argc == 3 && strcmp(argv[1], "--raw") == 0)
		return raw(argv[2]);
	if (argc > 1)
		runs = atoi(argv[1]) > 0 && atoi(argv[1]) <= 40 ? atoi(argv[1]) : runs;
	for (i = 0; i < 3; i++)
		measure(&rows[i], runs, argv[0]);
	printf("vcpuset against real QEMU 10 (TCG q35, -S) as maxcpus grows, %d runs each; raw = a "
	       "fresh process: slot list once, device_add, query-cpus-fast; plug 1 = vcpuset +1, "
	       "process start to exit; bulk = the median step of one +8 run, wall and vcpuset's "
	       "own CPU (ms)\n\n", runs);
	printf("| slots | raw md | plug 1 md | plug 1 / raw | bulk step md | bulk step CPU | failed |\n");
	printf("|-------|--------|-----------|--------------|--------------|---------------|--------|\n");
	for (i = 0; i < 3; i++) {
		const struct row *w = &rows[i];

		printf("| %5d | %6.2f | %9.2f | %12.2f | %12.2f | %13.3f | %6d |\n", w->slots,
		       bench_median(&w->raw), bench_median(&w->plug),
		       bench_median(&w->plug) / bench_median(&w->raw), bench_median(&w->step),
		       bench_median(&w->cpu), w->raw.failed + w->plug.failed);
	}
	printf("\nbulk step at 4096 / at 64: %.2f (target 1.2); plug 1 at 4096 / raw: %.2f "
	       "(target 1.3)\n", bench_median(&rows[2].step) / bench_median(&rows[0].step),
	       bench_median(&rows[2].plug) / bench_median(&rows[2].raw));
	return 0;
}
