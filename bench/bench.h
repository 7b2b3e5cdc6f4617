/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench: what the benchmarks share — running a program and summing up timings. */
#ifndef VCPUSET_BENCH_H
#define VCPUSET_BENCH_H

#include <stdbool.h>
#include <stddef.h>

#define BENCH_MAX 256

/* One measured quantity over the runs of a benchmark. */
struct bench_series {
	double v[BENCH_MAX];
	int n, failed;
};

void bench_add(struct bench_series *s, double value, bool ok);
double bench_median(const struct bench_series *s);
double bench_min(const struct bench_series *s);
double bench_max(const struct bench_series *s);

/*
 * Run argv (searched in PATH), its stdout into out (size bytes, may be NULL to discard);
 * the wall time from fork to exit in *ms, its peak RSS in *rss_kib and the CPU time it used
 * (user + system) in *cpu_ms (each may be NULL).
 * Returns its exit status (128 + signal when killed). Through bench_runner, so that the
 * figures are the program's alone.
 */
/* Each benchmark's main() starts with: if (bench_runner(argc, argv) >= 0) return 0; */
int bench_runner(int argc, char **argv);

int bench_run(char *const argv[], char *out, size_t size, double *ms, long *rss_kib,
	      double *cpu_ms);

#endif
