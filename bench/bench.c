/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench: what the benchmarks share — running a program and summing up timings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "vcpuset.h"

void bench_add(struct bench_series *s, double value, bool ok)
{
	if (s->n < BENCH_MAX)
		s->v[s->n++] = value;
	if (!ok)
		s->failed++;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double bench_median(const struct bench_series *s)
{
	double t[BENCH_MAX];

	if (!s->n)
		return 0;
	memcpy(t, s->v, (size_t)s->n * sizeof(*t));
	qsort(t, (size_t)s->n, sizeof(*t), cmp_double);
	return t[s->n / 2];
}

double bench_min(const struct bench_series *s)
{
	double m = s->n ? s->v[0] : 0;
	int i;

	for (i = 1; i < s->n; i++)
		m = s->v[i] < m ? s->v[i] : m;
	return m;
}

double bench_max(const struct bench_series *s)
{
	double m = s->n ? s->v[0] : 0;
	int i;

	for (i = 1; i < s->n; i++)
		m = s->v[i] > m ? s->v[i] : m;
	return m;
}

/*
 * A child forked from the benchmark starts as a copy of it, peer and all, and the kernel
 * counts that copy in the child's peak RSS even after exec. So the program is started by a
 * runner: this binary exec'd afresh (small), which forks and execs the program, waits, and
 * reports the program's own wall time, peak RSS and CPU time on fd 3.
 */
#define RUNNER_FLAG "--bench-runner"

int bench_runner(int argc, char **argv)
{
	struct rusage ru;
	double t0;
	pid_t pid;
	int st;

	if (argc < 3 || strcmp(argv[1], RUNNER_FLAG) != 0)
		return -1;
	t0 = vs_now_ms();
	pid = fork();
	if (pid == 0) {
		close(3);
		execvp(argv[2], argv + 2);
		_exit(127);
	}
	if (pid < 0 || wait4(pid, &st, 0, &ru) < 0)
		_exit(126);
	dprintf(3, "%.3f %ld %.3f\n", vs_now_ms() - t0, ru.ru_maxrss,
		(double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
			(double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3);
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

int bench_run(char *const argv[], char *out, size_t size, double *ms, long *rss_kib,
	      double *cpu_ms)
{
	char *rargv[40], report[128];
	size_t len = 0;
	ssize_t n;
	int p[2], r[2], st, i;
	double wall = 0, cpu = 0;
	long rss = 0;
	pid_t pid;

	rargv[0] = "/proc/self/exe";
	rargv[1] = RUNNER_FLAG;
	for (i = 0; argv[i] && i < 37; i++)
		rargv[i + 2] = argv[i];
	rargv[i + 2] = NULL;
	if (pipe(p) < 0 || pipe(r) < 0) {
		perror("bench: pipe");
		exit(1);
	}
	pid = fork();
	if (pid == 0) {
		close(p[0]); /* first: either may be fd 3 */
		close(r[0]);
		dup2(p[1], 1);
		dup2(r[1], 3);
		execv(rargv[0], rargv);
		_exit(127);
	}
	close(p[1]);
	close(r[1]);
	for (;;) {
		char sink[4096];
		bool keep = out && len + 1 < size;

		n = keep ? read(p[0], out + len, size - 1 - len) : read(p[0], sink, sizeof(sink));
		if (n <= 0)
			break;
		if (keep)
			len += (size_t)n;
	}
	if (out && size)
		out[len] = '\0';
	close(p[0]);
	n = read(r[0], report, sizeof(report) - 1);
	close(r[0]);
	report[n > 0 ? n : 0] = '\0';
	if (waitpid(pid, &st, 0) < 0 || sscanf(report, "%lf %ld %lf", &wall, &rss, &cpu) != 3) {
		fprintf(stderr, "bench: running %s failed\n", argv[0]);
		exit(1);
	}
	if (ms)
		*ms = wall;
	if (rss_kib)
		*rss_kib = rss;
	if (cpu_ms)
		*cpu_ms = cpu;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
