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

int bench_run(char *const argv[], char *out, size_t size, double *ms, long *rss_kib)
{
	double t0 = vs_now_ms();
	struct rusage ru;
	size_t len = 0;
	ssize_t n;
	int p[2], st;
	pid_t pid;

	if (pipe(p) < 0) {
		perror("bench: pipe");
		exit(1);
	}
	pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
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
	if (wait4(pid, &st, 0, &ru) < 0) {
		perror("bench: wait4");
		exit(1);
	}
	if (ms)
		*ms = vs_now_ms() - t0;
	if (rss_kib)
		*rss_kib = ru.ru_maxrss;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
