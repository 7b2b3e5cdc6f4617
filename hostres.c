/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hostres: every read and change on the host — procfs, sysfs, cgroups, affinity, resctrl. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hostres.h"

struct hostres {
	int proc_fd;
};

static int open_root(const char *path, int *fd, struct vs_err *err)
{
	*fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0)
		return vs_err_set(err, errno, "open '%s': %s", path, strerror(errno));
	return 0;
}

int hostres_open(const struct hostres_roots *roots, struct hostres **out, struct vs_err *err)
{
	struct hostres *h = calloc(1, sizeof(*h));
	int rc;

	*out = NULL;
	if (!h)
		return vs_err_set(err, ENOMEM, "out of memory");
	h->proc_fd = -1;
	rc = open_root(roots && roots->proc ? roots->proc : "/proc", &h->proc_fd, err);
	if (rc < 0) {
		hostres_free(h);
		return rc;
	}
	*out = h;
	return 0;
}

void hostres_free(struct hostres *h)
{
	if (!h)
		return;
	if (h->proc_fd >= 0)
		close(h->proc_fd);
	free(h);
}

int hostres_is_thread_of(struct hostres *h, int pid, int tid)
{
	char rel[64];
	struct stat st;

	if (pid <= 0 || tid <= 0)
		return 0;
	snprintf(rel, sizeof(rel), "%d/task/%d", pid, tid);
	if (fstatat(h->proc_fd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return S_ISDIR(st.st_mode) ? 1 : 0;
	return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
}
