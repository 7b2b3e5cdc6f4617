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
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "peer.h"
#include "vcpuset.h"

struct sample {
	double wall_ms, step_ms;
	long rss_kib;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Run ./vcpuset with args, stdout to a buffer; fills s. Returns the exit status. */
static int run(const char *const *args, struct sample *s)
{
	char out[1 << 16];
	const char *argv[16];
	struct rusage ru;
	size_t len = 0;
	ssize_t n;
	double t0 = vs_now_ms();
	int p[2], st, i;
	pid_t pid;

	argv[0] = "./vcpuset";
	for (i = 0; args[i] && i < 14; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	if (pipe(p) < 0)
		exit(1);
	pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	while ((n = read(p[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(p[0]);
	if (wait4(pid, &st, 0, &ru) < 0)
		exit(1);
	s->wall_ms = vs_now_ms() - t0;
	s->rss_kib = ru.ru_maxrss;
	s->step_ms = 0;
	{
		/* "ms": of the first step in the JSON report */
		const char *m = strstr(out, "\"ms\":");

		if (m)
			s->step_ms = strtod(m + 5, NULL);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void row(const char *what, int slots, struct sample *s, int n)
{
	double w[256], st[256];
	long rss = 0;
	int i;

	for (i = 0; i < n; i++) {
		w[i] = s[i].wall_ms;
		st[i] = s[i].step_ms;
		if (s[i].rss_kib > rss)
			rss = s[i].rss_kib;
	}
	qsort(w, (size_t)n, sizeof(*w), cmp_double);
	qsort(st, (size_t)n, sizeof(*st), cmp_double);
	printf("| %-8s | %5d | %7.2f | %7.2f | %7.2f | %9.3f | %7.1f |\n", what, slots, w[n / 2], w[0],
	       w[n - 1], st[n / 2], rss / 1024.0);
}

int main(int argc, char **argv)
{
	static const int sizes[] = { 8, 288, 4096 };
	int runs = argc > 1 ? atoi(argv[1]) : 21, k, i;
	char sock[64], state[64];

	if (runs < 1 || runs > 256)
		runs = 21;
	snprintf(sock, sizeof(sock), "/tmp/vcpuset-bench-%d.sock", (int)getpid());
	snprintf(state, sizeof(state), "/tmp/vcpuset-bench-%d.state", (int)getpid());
	printf("vcpuset against a zero-latency scripted QMP peer, %d runs each; wall = process start "
	       "to exit (ms), step = vcpuset's own time for the one step (ms), RSS = peak (MiB)\n\n",
	       runs);
	printf("| run      | slots | wall md | wall mn | wall mx | step md   | RSS max |\n");
	printf("|----------|-------|---------|---------|---------|-----------|---------|\n");
	for (k = 0; k < 3; k++) {
		struct peer_config cfg = { .gen_slots = sizes[k], .gen_online = 2 };
		struct sample plug[256], unplug[256], status[256];
		struct peer *p = peer_start_unix(sock, &cfg);

		for (i = 0; i < runs; i++) {
			const char *const a_plug[] = { "--json", "--state-dir", state, "--no-audit",
						       "--socket", sock, "3", NULL };
			const char *const a_unplug[] = { "--json", "--state-dir", state, "--no-audit",
							 "--socket", sock, "2", NULL };
			const char *const a_status[] = { "--json", "--state-dir", state, "--status",
							 "--socket", sock, NULL };

			if (run(a_plug, &plug[i]) != 0 || run(a_unplug, &unplug[i]) != 0 ||
			    run(a_status, &status[i]) != 0) {
				fprintf(stderr, "bench: a vcpuset run failed at %d slots\n", sizes[k]);
				return 1;
			}
		}
		free(peer_stop(p));
		row("plug 1", sizes[k], plug, runs);
		row("unplug 1", sizes[k], unplug, runs);
		row("--status", sizes[k], status, runs);
	}
	rmdir(state);
	return 0;
}
