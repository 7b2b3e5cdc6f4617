/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vcpuset's own cost, with QEMU's out of the way: the scripted QMP peer (tests/peer.c)
 * answers at once, with 8, 288 and 4096 slots. For each size, alternating plug 1 and
 * unplug 1 (and --status), the wall time of the whole process (fork to exit), the time of
 * the step as vcpuset measured it, and the peak RSS (getrusage of the child).
 *   bench/overhead [RUNS]      prints a table; ./vcpuset must be built
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "peer.h"
#include "state.h"

/* The measures of one kind of run over all its repetitions. */
struct measure {
	struct bench_series wall, step, cpu;
	long rss_kib;
	double run_cpu; /* the largest CPU time of a whole run */
};

/* Run ./vcpuset with args and add its wall time, its first step's "ms" and its RSS to m. */
static int run(const char *const *args, struct measure *m)
{
	static char out[1 << 16];
	char *argv[16];
	const char *ms;
	double wall, cpu;
	long rss;
	int i, rc;

	argv[0] = "./vcpuset";
	for (i = 0; args[i] && i < 14; i++)
		argv[i + 1] = (char *)args[i];
	argv[i + 1] = NULL;
	rc = bench_run(argv, out, sizeof(out), &wall, &rss, &cpu);
	ms = strstr(out, "\"ms\":"); /* of the first step in the JSON report */
	bench_add(&m->wall, wall, rc == 0);
	bench_add(&m->step, ms ? strtod(ms + 5, NULL) : 0, rc == 0);
	ms = strstr(out, "\"cpu_ms\":");
	bench_add(&m->cpu, ms ? strtod(ms + 9, NULL) : 0, rc == 0);
	if (cpu > m->run_cpu)
		m->run_cpu = cpu;
	if (rss > m->rss_kib)
		m->rss_kib = rss;
	return rc;
}

static void row(const char *what, int slots, const struct measure *m)
{
	printf("| %-8s | %5d | %7.2f | %7.2f | %7.2f | %8.3f | %8.3f | %8.2f | %7.1f |\n", what,
	       slots, bench_median(&m->wall), bench_min(&m->wall), bench_max(&m->wall),
	       bench_median(&m->step), bench_median(&m->cpu), m->run_cpu, m->rss_kib / 1024.0);
}

/*
 * What issue 15's write-ahead intent costs a step: two ledger writes (the intent, then its
 * drop), timed here on the state directory the runs above used.
 */
static void intent_cost(const char *dir)
{
	struct state_key key = { 1, 1 };
	struct state_entry e = { .kind = STATE_PLUG, .vcpu = 2, .vcpus = 1, .old_count = 2,
				 .new_count = 3, .time = 1, .alias = "vcpu2",
				 .settings = "period=100000 quota=-1 cpus=0-1 affinity=0-1" };
	struct bench_series w = { 0 }, d = { 0 };
	struct vs_err err = { 0 };
	struct state *st = NULL;
	double t0;
	bool ok;
	int i;

	if (state_open(dir, &st, &err) < 0) {
		fprintf(stderr, "bench: %s\n", err.msg);
		return;
	}
	for (i = 0; i < 201; i++) {
		t0 = vs_now_ms();
		ok = state_save(st, &key, &e, 1, &err) == 0;
		bench_add(&w, vs_now_ms() - t0, ok);
		t0 = vs_now_ms();
		ok = state_save(st, &key, &e, 0, &err) == 0;
		bench_add(&d, vs_now_ms() - t0, ok);
	}
	state_free(st);
	printf("\nwrite-ahead intent (issue 15), %s: written %.3f ms, dropped %.3f ms (median of "
	       "201); a step pays both\n", dir, bench_median(&w), bench_median(&d));
}

int main(int argc, char **argv)
{
	static const int sizes[] = { 8, 288, 4096 };
	int runs = argc > 1 ? atoi(argv[1]) : 21, k, i;
	char sock[64], state[64];

	if (bench_runner(argc, argv) >= 0)
		return 0; /* not reached: the runner exits */
	if (runs < 1 || runs > BENCH_MAX)
		runs = 21;
	snprintf(sock, sizeof(sock), "/tmp/vcpuset-bench-%d.sock", (int)getpid());
	snprintf(state, sizeof(state), "/tmp/vcpuset-bench-%d.state", (int)getpid());
	printf("vcpuset against a zero-latency scripted QMP peer, %d runs each; wall = process start "
	       "to exit (ms); step = the one step's wall time as vcpuset timed it (ms; includes the "
	       "peer building its replies); step CPU = vcpuset's own CPU time in that step (ms); "
	       "run CPU = the most CPU time a whole run took (ms); RSS = peak (MiB)\n\n", runs);
	printf("| run      | slots | wall md | wall mn | wall mx | step md  | step CPU | run CPU  | RSS max |\n");
	printf("|----------|-------|---------|---------|---------|----------|----------|----------|---------|\n");
	for (k = 0; k < 3; k++) {
		struct peer_config cfg = { .gen_slots = sizes[k], .gen_online = 2 };
		struct measure plug = { 0 }, unplug = { 0 }, status = { 0 };
		struct peer *p = peer_start_unix(sock, &cfg);

		for (i = 0; i < runs; i++) {
			const char *const a_plug[] = { "--json", "--state-dir", state, "--no-audit",
						       "--socket", sock, "3", NULL };
			const char *const a_unplug[] = { "--json", "--state-dir", state, "--no-audit",
							 "--socket", sock, "2", NULL };
			const char *const a_status[] = { "--json", "--state-dir", state, "--status",
							 "--socket", sock, NULL };

			if (run(a_plug, &plug) != 0 || run(a_unplug, &unplug) != 0 ||
			    run(a_status, &status) != 0) {
				fprintf(stderr, "bench: a vcpuset run failed at %d slots\n", sizes[k]);
				return 1;
			}
		}
		free(peer_stop(p));
		row("plug 1", sizes[k], &plug);
		row("unplug 1", sizes[k], &unplug);
		row("--status", sizes[k], &status);
	}
	intent_cost(state);
	rmdir(state);
	return 0;
}
