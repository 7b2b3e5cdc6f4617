/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * core_shim: LD_PRELOAD'ed into vcpuset by test_select, it stands in for the kernel's core
 * scheduling (PR_SCHED_CORE), which the test machine's kernel lacks. Cookies live in the
 * file $VCPUSET_SHIM_CORE, one "TID COOKIE" (hex) per line; a thread not listed has none.
 *   GET        the listed cookie of the thread, or 0
 *   SHARE_FROM the calling thread takes the cookie of the thread named
 *   SHARE_TO   the thread named takes the calling thread's cookie
 * Any other prctl goes to the kernel.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PR_SCHED_CORE 62
#define MAXT 256

int prctl(int option, ...);

static int load(long *tid, unsigned long *ck)
{
	const char *path = getenv("VCPUSET_SHIM_CORE");
	FILE *f = path ? fopen(path, "r") : NULL;
	int n = 0;

	while (f && n < MAXT && fscanf(f, "%ld %lx", &tid[n], &ck[n]) == 2)
		n++;
	if (f)
		fclose(f);
	return n;
}

static void save(const long *tid, const unsigned long *ck, int n)
{
	const char *path = getenv("VCPUSET_SHIM_CORE");
	FILE *f = path ? fopen(path, "w") : NULL;
	int i;

	for (i = 0; f && i < n; i++)
		fprintf(f, "%ld %lx\n", tid[i], ck[i]);
	if (f)
		fclose(f);
}

static unsigned long get(const long *tid, const unsigned long *ck, int n, long t)
{
	int i;

	for (i = 0; i < n; i++)
		if (tid[i] == t)
			return ck[i];
	return 0;
}

static int put(long *tid, unsigned long *ck, int n, long t, unsigned long c)
{
	int i;

	for (i = 0; i < n && tid[i] != t; i++)
		;
	if (i == n && n < MAXT)
		n++;
	tid[i] = t;
	ck[i] = c;
	return n;
}

int prctl(int option, ...)
{
	unsigned long a[4], ck[MAXT];
	long tid[MAXT], self = syscall(SYS_gettid);
	va_list ap;
	int i, n;

	va_start(ap, option);
	for (i = 0; i < 4; i++)
		a[i] = va_arg(ap, unsigned long);
	va_end(ap);
	if (option != PR_SCHED_CORE)
		return (int)syscall(SYS_prctl, option, a[0], a[1], a[2], a[3]);
	n = load(tid, ck);
	switch (a[0]) {
	case 0: /* GET */
		*(unsigned long *)a[3] = get(tid, ck, n, (long)a[1] ? (long)a[1] : self);
		return 0;
	case 3: /* SHARE_FROM */
		save(tid, ck, put(tid, ck, n, self, get(tid, ck, n, (long)a[1])));
		return 0;
	case 2: /* SHARE_TO */
		save(tid, ck, put(tid, ck, n, (long)a[1], get(tid, ck, n, self)));
		return 0;
	}
	errno = EINVAL;
	return -1;
}
