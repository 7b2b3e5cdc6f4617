/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hostres: every read and change on the host — procfs, sysfs, cgroups, affinity, resctrl. */
#ifndef VCPUSET_HOSTRES_H
#define VCPUSET_HOSTRES_H

#include "vcpuset.h"

/* Where the host's trees are; NULL members take the defaults (/proc, /sys, ...). */
struct hostres_roots {
	const char *proc;
};

struct hostres;

/* Open the roots as directory fds. The handle is the caller's: hostres_free(). */
int hostres_open(const struct hostres_roots *roots, struct hostres **out, struct vs_err *err);
void hostres_free(struct hostres *h);

/*
 * 1 if tid is a thread of process pid (/proc/<pid>/task/<tid> exists), 0 if not, negative
 * errno if procfs cannot be read.
 */
int hostres_is_thread_of(struct hostres *h, int pid, int tid);

#endif
