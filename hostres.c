/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hostres: every read and change on the host — procfs, sysfs, cgroups, affinity, resctrl. */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/file.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hostres.h"

#define MAX_HIER 8
#define VALUE_MAX 4096        /* one cgroup or sysfs value (a cpulist of 8192 CPUs fits) */
#define MOUNTINFO_MAX (4u << 20)
#define RMDIR_WAIT_MS 1000    /* an exiting thread may leave its group a moment later */

const char *const hostres_src_names[] = { "unset", "given", "libvirt", "inherited", "default" };

struct hier {
	int version;     /* 1 or 2 */
	bool cpu, cpuacct, cpuset; /* controllers of the vCPU groups here */
	char ctrls[64];  /* for reports: "cpu", "cpu,cpuacct", "cpuset", v2: "cpu cpuset" */
	char field[256]; /* the controllers field of /proc/<pid>/cgroup ("" for v2) */
	char mount[HOSTRES_PATH_MAX];
	char qemu[HOSTRES_PATH_MAX];   /* QEMU's group, relative to the mount */
	char parent[HOSTRES_PATH_MAX]; /* parent of vcpu<N>, relative to the mount */
	char full[2 * HOSTRES_PATH_MAX]; /* mount + parent */
	int fd;                        /* the parent directory */
	int groups;                    /* vcpuN groups under it: 0 not looked at, 1 some, 2 none */
};

struct mnt;

struct hostres {
	int proc_fd, sys_fd, resctrl_fd;
	int resctrl_errno;
	char resctrl_path[HOSTRES_PATH_MAX];
	char mount_prefix[HOSTRES_PATH_MAX]; /* before mountinfo's mount points ("" = none) */
	int nh;
	struct hier hh[MAX_HIER];
	bool dry;
	void (*warn)(void *ctx, const char *msg);
	void (*note)(void *ctx, const char *msg);
	void *warn_ctx, *note_ctx;
	cJSON *log;
	int pid;
	/* emulator cpuset.mems widening */
	int emu_fd;
	bool emu_widened;
	char emu_path[2 * HOSTRES_PATH_MAX];
	char emu_saved[VALUE_MAX];
	/* the early no-op migration (hostres_warm_start) */
	pthread_t warm_th;
	bool warm_looked, warm_running;
	int warm_fd; /* cgroup.procs of vcpuset's own group, -1 if none */
	char warm_pid[16];
	struct mnt *mnts; /* the cgroup mounts, read once (mounts()) */
	int nmnts;
	void (*act_hook)(void *ctx, const char *act); /* tests: after each act on a thread */
	void *act_ctx;
};

static void hwarn(struct hostres *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void hwarn(struct hostres *h, const char *fmt, ...)
{
	char buf[768];
	va_list ap;

	va_start(ap, fmt);
	/* clang 14's analyzer misses the va_start right above (a false positive): */
	vsnprintf(buf, sizeof(buf), fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized) */
	va_end(ap);
	if (h->warn)
		h->warn(h->warn_ctx, buf);
}

/* What is normal but worth telling under --verbose. */
static void hnote(struct hostres *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void hnote(struct hostres *h, const char *fmt, ...)
{
	char buf[768];
	va_list ap;

	if (!h->note)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized) */
	va_end(ap);
	h->note(h->note_ctx, buf);
}

/* ---- command-line values ---- */

int hostres_parse_period(const char *s, long long *out, struct vs_err *err)
{
	return topo_parse_ll("--period", s, HOSTRES_PERIOD_MIN, HOSTRES_PERIOD_MAX, out, err);
}

int hostres_parse_quota(const char *s, long long *out, struct vs_err *err)
{
	long long v;
	int rc;

	rc = topo_parse_ll("--quota", s, LLONG_MIN + 1, LLONG_MAX, &v, err);
	if (rc < 0)
		return rc;
	if ((v >= 0 && v < HOSTRES_QUOTA_MIN) || v > HOSTRES_QUOTA_MAX)
		return vs_err_set(err, ERANGE, "--quota '%s' is out of range (%lld to %lld, or "
				  "negative for no limit)", s, HOSTRES_QUOTA_MIN, HOSTRES_QUOTA_MAX);
	*out = v < 0 ? -1 : v;
	return 0;
}

static const struct {
	const char *name;
	int policy;
} policies[] = {
	{ "other", SCHED_OTHER }, { "batch", SCHED_BATCH }, { "idle", SCHED_IDLE },
	{ "fifo", SCHED_FIFO },   { "rr", SCHED_RR },
};

const char *hostres_policy_name(int policy)
{
	size_t i;

	for (i = 0; i < sizeof(policies) / sizeof(policies[0]); i++)
		if (policies[i].policy == policy)
			return policies[i].name;
	return policy == 6 ? "deadline" : "unknown"; /* SCHED_DEADLINE: not in glibc 2.36's headers */
}

bool hostres_policy_known(int policy)
{
	size_t i;

	for (i = 0; i < sizeof(policies) / sizeof(policies[0]); i++)
		if (policies[i].policy == policy)
			return true;
	return false;
}

int hostres_parse_sched(const char *s, int *policy, int *prio, struct vs_err *err)
{
	const char *colon = strchr(s, ':');
	size_t len = colon ? (size_t)(colon - s) : strlen(s), i;
	long long p = 0;
	int lo, hi, rc;

	for (i = 0; i < sizeof(policies) / sizeof(policies[0]); i++)
		if (strlen(policies[i].name) == len && strncmp(s, policies[i].name, len) == 0)
			break;
	if (i == sizeof(policies) / sizeof(policies[0]))
		return vs_err_set(err, EINVAL, "--sched: unknown policy '%.*s' "
				  "(other, batch, idle, fifo:PRIO, rr:PRIO)", (int)(len > 32 ? 32 : len), s);
	*policy = policies[i].policy;
	lo = sched_get_priority_min(*policy);
	hi = sched_get_priority_max(*policy);
	if (lo < 0 || hi < 0)
		return vs_err_set(err, errno, "--sched: the kernel gives no priority range for %s: %s",
				  policies[i].name, strerror(errno));
	if (!colon) {
		if (lo > 0)
			return vs_err_set(err, EINVAL, "--sched: %s needs a priority, %s:%d..%d",
					  policies[i].name, policies[i].name, lo, hi);
		*prio = 0;
		return 0;
	}
	if (hi == 0)
		return vs_err_set(err, EINVAL, "--sched: %s takes no priority", policies[i].name);
	rc = topo_parse_ll("--sched priority", colon + 1, LLONG_MIN + 1, LLONG_MAX, &p, err);
	if (rc < 0)
		return rc;
	if (p < lo || p > hi)
		return vs_err_set(err, ERANGE, "--sched: priority %lld out of range %d..%d for %s", p,
				  lo, hi, policies[i].name);
	*prio = (int)p;
	return 0;
}

/* A resctrl group name: one path component of [A-Za-z0-9_.:+-,], not a reserved name. */
int hostres_valid_group(const char *what, const char *s, struct vs_err *err)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				 "0123456789_.:+-,";
	size_t n = strlen(s);

	if (n == 0 || n >= HOSTRES_NAME_MAX)
		return vs_err_set(err, EINVAL, "%s: a group name of 1..%d characters is needed", what,
				  HOSTRES_NAME_MAX - 1);
	if (strspn(s, ok) != n || strcmp(s, ".") == 0 || strcmp(s, "..") == 0 ||
	    strcmp(s, "info") == 0 || strcmp(s, "mon_groups") == 0 || strcmp(s, "mon_data") == 0)
		return vs_err_set(err, EINVAL, "%s: '%.*s' is not a resctrl group name (letters, "
				  "digits, '_.:+-,', not info, mon_groups or mon_data)", what,
				  (int)(n > 64 ? 64 : n), s);
	return 0;
}

/*
 * ---- file primitives: every open is relative to a directory fd and never follows; reads
 * are O_NONBLOCK, so that a fifo planted in a tree cannot stall vcpuset ----
 */

/* Read a small file; trailing whitespace is dropped. Length, or -errno (-EFBIG if too long). */
static int read_at(int dirfd, const char *name, char *buf, size_t size)
{
	size_t off = 0;
	ssize_t n;
	int fd, rc = 0;

	buf[0] = '\0';
	fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (off + 1 >= size) {
			char extra;

			n = read(fd, &extra, 1);
			rc = n > 0 ? -EFBIG : 0;
			break;
		}
		n = read(fd, buf + off, size - 1 - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	buf[off] = '\0';
	if (memchr(buf, '\0', off))
		return -EINVAL;
	while (off && (buf[off - 1] == '\n' || buf[off - 1] == ' '))
		buf[--off] = '\0';
	return rc < 0 ? rc : (int)off;
}

static int write_at(int dirfd, const char *name, const char *val)
{
	size_t len = strlen(val);
	ssize_t n;
	int fd, rc = 0;

	fd = openat(dirfd, name, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	do
		n = write(fd, val, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		rc = -errno;
	else if ((size_t)n != len)
		rc = -EIO;
	if (close(fd) < 0 && rc == 0 && errno != EINTR)
		rc = -errno;
	return rc;
}

/*
 * Open rel ("a/b", "/a/b" or "/") beneath dirfd, one component at a time, refusing symlinks,
 * "." and "..": nothing can lead out of the tree.
 */
static int open_beneath(int dirfd, const char *rel, int *out)
{
	char comp[NAME_MAX + 1];
	const char *p = rel;
	int fd, nfd;

	*out = -1;
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (*p) {
		size_t n;

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (n == 0)
			break;
		if (n > NAME_MAX || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) {
			close(fd);
			return -EINVAL;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		p += n;
		nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0) {
			int e = errno;
			struct stat st;

			if (e == ENOTDIR && fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISLNK(st.st_mode))
				e = ELOOP;
			close(fd);
			return -e;
		}
		close(fd);
		fd = nfd;
	}
	*out = fd;
	return 0;
}

/* Call fn for every number in a one-per-line file (tasks, cgroup.threads); stops on nonzero. */
static int for_each_tid(int dirfd, const char *name, int (*fn)(void *ctx, long tid), void *ctx)
{
	char buf[4096], num[24];
	size_t nl = 0;
	ssize_t n;
	int fd, rc = 0;

	fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	while (rc == 0 && (n = read(fd, buf, sizeof(buf))) != 0) {
		ssize_t i;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		for (i = 0; i < n && rc == 0; i++) {
			if (buf[i] >= '0' && buf[i] <= '9' && nl + 1 < sizeof(num)) {
				num[nl++] = buf[i];
			} else if (buf[i] == '\n') {
				num[nl] = '\0';
				if (nl)
					rc = fn(ctx, strtol(num, NULL, 10));
				nl = 0;
			} else {
				rc = -EINVAL;
			}
		}
	}
	if (rc == 0 && nl) {
		num[nl] = '\0';
		rc = fn(ctx, strtol(num, NULL, 10));
	}
	close(fd);
	return rc;
}

static int tid_equals(void *ctx, long tid)
{
	return tid == *(const long *)ctx ? 1 : 0;
}

/* 1 if the file lists tid, 0 if not, -errno. */
static int file_has_tid(int dirfd, const char *name, long tid)
{
	return for_each_tid(dirfd, name, tid_equals, &tid);
}

static bool is_dir_at(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* ---- the change log; dry mode ---- */

static cJSON *log_op(struct hostres *h, const char *op, const char *path)
{
	cJSON *o;

	if (!h->log)
		return NULL;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "op", op);
	if (path)
		cJSON_AddStringToObject(o, "path", path);
	cJSON_AddItemToArray(h->log, o);
	return o;
}

static int do_write(struct hostres *h, int dirfd, const char *dir, const char *name,
		    const char *val, struct vs_err *err)
{
	char path[2 * HOSTRES_PATH_MAX + 128];
	cJSON *o;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	o = log_op(h, "write", path);
	if (o)
		cJSON_AddStringToObject(o, "value", val);
	if (h->dry)
		return 0;
	rc = write_at(dirfd, name, val);
	if (rc < 0) {
		if (o)
			cJSON_AddStringToObject(o, "error", strerror(-rc));
		return vs_err_set(err, rc, "cannot write '%s' to %s: %s", val, path, strerror(-rc));
	}
	return 0;
}

static void fmt_tid(char *buf, size_t size, int tid)
{
	if (tid > 0)
		snprintf(buf, size, "%d", tid);
	else
		snprintf(buf, size, "%s", "<tid>");
}

/* ---- open, close ---- */

static int open_root(const char *path, int *fd, struct vs_err *err)
{
	*fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0)
		return vs_err_set(err, errno, "cannot open '%s': %s", path, strerror(errno));
	return 0;
}

int hostres_open(const struct hostres_roots *roots, struct hostres **out, struct vs_err *err)
{
	struct hostres *h = calloc(1, sizeof(*h));
	const char *rs;
	int rc;

	*out = NULL;
	if (!h)
		return vs_err_set(err, ENOMEM, "out of memory");
	h->proc_fd = h->sys_fd = h->resctrl_fd = h->emu_fd = -1;
	h->warm_fd = -1;
	rc = open_root(roots && roots->proc ? roots->proc : "/proc", &h->proc_fd, err);
	if (rc == 0)
		rc = open_root(roots && roots->sys ? roots->sys : "/sys", &h->sys_fd, err);
	if (rc < 0) {
		hostres_free(h);
		return rc;
	}
	if (roots && roots->mounts)
		snprintf(h->mount_prefix, sizeof(h->mount_prefix), "%s", roots->mounts);
	rs = roots && roots->resctrl ? roots->resctrl : "/sys/fs/resctrl";
	snprintf(h->resctrl_path, sizeof(h->resctrl_path), "%s", rs);
	h->resctrl_fd = open(rs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (h->resctrl_fd < 0) {
		h->resctrl_errno = errno;
	} else if (faccessat(h->resctrl_fd, "tasks", F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
		h->resctrl_errno = ENOENT; /* a bare mount point: resctrl is not mounted */
		close(h->resctrl_fd);
		h->resctrl_fd = -1;
	}
	*out = h;
	return 0;
}

void hostres_free(struct hostres *h)
{
	int i;

	if (!h)
		return;
	hostres_warm_wait(h);
	free(h->mnts);
	if (h->warm_fd >= 0)
		close(h->warm_fd);
	if (h->proc_fd >= 0)
		close(h->proc_fd);
	if (h->sys_fd >= 0)
		close(h->sys_fd);
	if (h->resctrl_fd >= 0)
		close(h->resctrl_fd);
	if (h->emu_fd >= 0)
		close(h->emu_fd);
	for (i = 0; i < h->nh; i++)
		if (h->hh[i].fd >= 0)
			close(h->hh[i].fd);
	free(h);
}

void hostres_set_dry(struct hostres *h, bool dry)
{
	h->dry = dry;
}

void hostres_set_warn(struct hostres *h, void (*warn)(void *ctx, const char *msg), void *ctx)
{
	h->warn = warn;
	h->warn_ctx = ctx;
}

void hostres_set_note(struct hostres *h, void (*note)(void *ctx, const char *msg), void *ctx)
{
	h->note = note;
	h->note_ctx = ctx;
}

void hostres_set_log(struct hostres *h, cJSON *log)
{
	h->log = log;
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

int hostres_holds_socket(struct hostres *h, int pid, unsigned long ino, struct vs_err *err)
{
	char rel[48], want[48], link[64];
	struct dirent *d;
	DIR *dir;
	int fd, found = 0;
	ssize_t n;

	snprintf(rel, sizeof(rel), "%d/fd", pid);
	fd = openat(h->proc_fd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return vs_err_set(err, errno, "cannot read /proc/%d/fd: %s", pid, strerror(errno));
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return vs_err_set(err, errno, "cannot read /proc/%d/fd: %s", pid, strerror(errno));
	}
	snprintf(want, sizeof(want), "socket:[%lu]", ino);
	while (!found && (d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		n = readlinkat(dirfd(dir), d->d_name, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = '\0';
			found = strcmp(link, want) == 0;
		}
	}
	closedir(dir);
	return found;
}

bool hostres_pidfd_alive(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	int rc;

	/* a pidfd turns readable when its process (or, a thread pidfd, its thread) has exited */
	do
		rc = poll(&p, 1, 0);
	while (rc < 0 && errno == EINTR);
	return rc == 0;
}

int hostres_drop_privileges(bool keep_ptrace, struct vs_err *err)
{
	static const int keep[] = { CAP_DAC_OVERRIDE, CAP_SYS_NICE, CAP_AUDIT_WRITE, CAP_SYS_PTRACE };
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	uint32_t mask[2] = { 0, 0 };
	size_t i;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return vs_err_set(err, errno, "cannot set no_new_privs: %s", strerror(errno));
	if (syscall(SYS_capget, &hdr, data) < 0)
		return vs_err_set(err, errno, "cannot read this process's capabilities: %s",
				  strerror(errno));
	for (i = 0; i < sizeof(keep) / sizeof(*keep) - !keep_ptrace; i++)
		mask[keep[i] / 32] |= 1u << (keep[i] % 32);
	for (i = 0; i < 2; i++) {
		data[i].effective &= mask[i];
		data[i].permitted &= mask[i];
		data[i].inheritable = 0;
	}
	if (syscall(SYS_capset, &hdr, data) < 0)
		return vs_err_set(err, errno, "cannot drop capabilities: %s", strerror(errno));
	return 0;
}

/* ---- finding the cgroups ---- */

/* Read a whole procfs file of up to max bytes into a new string. */
static int slurp_at(int dirfd, const char *name, size_t max, char **out)
{
	int fd, rc;

	*out = NULL;
	fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	rc = vs_read_fd(fd, max, out);
	close(fd);
	return rc;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s)
{
	char *d = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*d++ = *s++;
		}
	}
	*d = '\0';
}

static bool has_token(const char *list, const char *tok, const char *seps)
{
	size_t n = strlen(tok);
	const char *p = list;

	while (*p) {
		size_t len = strcspn(p, seps);

		if (len == n && strncmp(p, tok, n) == 0)
			return true;
		p += len;
		p += strspn(p, seps);
	}
	return false;
}

struct mnt {
	int version;
	char point[HOSTRES_PATH_MAX];
	char opts[512];
};

/* The cgroup mounts of the root of their hierarchy, from mountinfo. */
static int read_mounts(struct hostres *h, struct mnt *m, int max, struct vs_err *err)
{
	char *text = NULL, *line, *save = NULL;
	int rc, n = 0;

	rc = slurp_at(h->proc_fd, "self/mountinfo", MOUNTINFO_MAX, &text);
	if (rc < 0)
		return vs_err_set(err, rc, "cannot read /proc/self/mountinfo: %s", strerror(-rc));
	for (line = strtok_r(text, "\n", &save); line && n < max; line = strtok_r(NULL, "\n", &save)) {
		char *f[6] = { 0 }, *sep, *type, *src, *sopts, *p = line;
		int i;

		for (i = 0; i < 6 && p; i++) {
			f[i] = p;
			p = strchr(p, ' ');
			if (p)
				*p++ = '\0';
		}
		sep = p ? strstr(p, "- ") : NULL;
		if (i < 6 || !sep)
			continue;
		type = sep + 2;
		src = strchr(type, ' ');
		if (!src)
			continue;
		*src++ = '\0';
		sopts = strchr(src, ' ');
		sopts = sopts ? sopts + 1 : src + strlen(src);
		unescape_octal(f[3]);
		unescape_octal(f[4]);
		if (strcmp(f[3], "/") != 0)
			continue; /* a bind mount of a subtree */
		if (strcmp(type, "cgroup2") == 0)
			m[n].version = 2;
		else if (strcmp(type, "cgroup") == 0)
			m[n].version = 1;
		else
			continue;
		if (strlen(sopts) >= sizeof(m[n].opts) ||
		    (size_t)snprintf(m[n].point, sizeof(m[n].point), "%s%s", h->mount_prefix, f[4]) >=
		    sizeof(m[n].point))
			continue;
		snprintf(m[n].opts, sizeof(m[n].opts), "%s", sopts);
		n++;
	}
	free(text);
	return n;
}

#define MAX_MOUNTS 64

/*
 * The cgroup mounts, read once for the run (for QEMU's hierarchies and vcpuset's own): their
 * number and *m, or a negative errno (read again on the next call).
 */
static int mounts(struct hostres *h, const struct mnt **m, struct vs_err *err)
{
	if (!h->mnts) {
		h->mnts = calloc(MAX_MOUNTS, sizeof(*h->mnts));
		if (!h->mnts)
			return vs_err_set(err, ENOMEM, "out of memory");
		h->nmnts = read_mounts(h, h->mnts, MAX_MOUNTS, err);
		if (h->nmnts < 0) {
			free(h->mnts);
			h->mnts = NULL;
			return h->nmnts;
		}
	}
	*m = h->mnts;
	return h->nmnts;
}

/* Strip suffix ("/emulator") from path if it ends so; true if it did. */
static bool strip_suffix(char *path, const char *suffix)
{
	size_t n = strlen(path), k = strlen(suffix);

	if (n > k && strcmp(path + n - k, suffix) == 0) {
		path[n - k] = '\0';
		return true;
	}
	return false;
}

/*
 * A hierarchy where QEMU sits in the root: would vcpuset set anything there (cpu or cpuset,
 * or a v2 root offering either)? Then skipping it is worth a warning; a cpuacct-only one
 * (libvirt leaves QEMU in its root when mounted apart) is normal.
 */
static bool root_matters(const struct mnt *m, int mfd)
{
	char ctl[VALUE_MAX];

	if (m->version == 1)
		return has_token(m->opts, "cpu", ",") || has_token(m->opts, "cpuset", ",");
	return read_at(mfd, "cgroup.controllers", ctl, sizeof(ctl)) >= 0 &&
	       (has_token(ctl, "cpu", " ") || has_token(ctl, "cpuset", " "));
}

static int add_hier(struct hostres *h, const struct mnt *m, const char *field,
		    const char *qemu_path, const char *override, int *skipped_root,
		    struct vs_err *err)
{
	struct hier *x = &h->hh[h->nh];
	int mfd, rc;

	memset(x, 0, sizeof(*x));
	x->fd = -1;
	x->version = m->version;
	snprintf(x->field, sizeof(x->field), "%s", field);
	snprintf(x->mount, sizeof(x->mount), "%s", m->point);
	snprintf(x->qemu, sizeof(x->qemu), "%s", qemu_path);
	mfd = open(m->point, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	rc = mfd < 0 ? -errno : 0;
	if (rc < 0)
		return vs_err_set(err, rc, "cannot open cgroup mount %s: %s", m->point, strerror(-rc));
	if (override) {
		snprintf(x->parent, sizeof(x->parent), "%s", override);
	} else {
		int lfd;

		snprintf(x->parent, sizeof(x->parent), "%s", qemu_path);
		if (strip_suffix(x->parent, "/emulator"))
			strip_suffix(x->parent, "/libvirt");
		if (strcmp(x->parent, "/") != 0 && strlen(x->parent) + 8 < sizeof(x->parent) &&
		    open_beneath(mfd, x->parent, &lfd) == 0) {
			size_t n = strlen(x->parent);

			if (is_dir_at(lfd, "libvirt"))
				snprintf(x->parent + n, sizeof(x->parent) - n, "%s", "/libvirt");
			close(lfd);
		}
		if (strcmp(x->parent, "/") == 0 || x->parent[0] == '\0') {
			if (root_matters(m, mfd))
				*skipped_root += 1;
			else
				hnote(h, "QEMU sits in the root of the %s hierarchy (%s), as libvirt leaves "
				      "it there: no vCPU groups in it", field[0] ? field : "v2", m->point);
			close(mfd);
			return 0;
		}
	}
	rc = open_beneath(mfd, x->parent, &x->fd);
	close(mfd);
	if (rc < 0)
		return vs_err_set(err, rc, "cannot open cgroup %s%s: %s", m->point, x->parent,
				  rc == -ELOOP ? "a symlink on the way, refusing" : strerror(-rc));
	snprintf(x->full, sizeof(x->full), "%s%s%s", m->point,
		 x->parent[0] == '/' ? "" : "/", strcmp(x->parent, "/") == 0 ? "" : x->parent);
	if (m->version == 2) {
		char ctl[VALUE_MAX];

		if (read_at(x->fd, "cgroup.controllers", ctl, sizeof(ctl)) >= 0) {
			x->cpu = has_token(ctl, "cpu", " ");
			x->cpuset = has_token(ctl, "cpuset", " ");
		}
		snprintf(x->ctrls, sizeof(x->ctrls), "%s%s%s", x->cpu ? "cpu" : "",
			 x->cpu && x->cpuset ? " " : "", x->cpuset ? "cpuset" : "");
	} else {
		x->cpu = has_token(m->opts, "cpu", ",");
		x->cpuacct = has_token(m->opts, "cpuacct", ",");
		x->cpuset = has_token(m->opts, "cpuset", ",");
		snprintf(x->ctrls, sizeof(x->ctrls), "%s", x->cpu && x->cpuacct ? "cpu,cpuacct"
							 : x->cpu ? "cpu" : x->cpuacct ? "cpuacct"
							 : "cpuset");
	}
	h->nh++;
	return 1;
}

/*
 * Split a line of /proc/<pid>/cgroup ("N:controllers:path") in place; false if it is not one
 * with an absolute path.
 */
static bool cgroup_line(char *line, char **ctrls, char **path)
{
	char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

	if (!c2 || c2[1] != '/')
		return false;
	*c2 = '\0';
	*ctrls = c1 + 1;
	*path = c2 + 1;
	return true;
}

/*
 * The mount (index into m) of the hierarchy a /proc/<pid>/cgroup line's controller field names:
 * cgroup2 for "", else the v1 mount whose options name every controller of the line; -1 if
 * none is mounted.
 */
static int mount_of(const struct mnt *m, int nm, const char *ctrls)
{
	int i;

	for (i = 0; i < nm; i++) {
		char list[256], *c, *save = NULL;
		bool all = true;

		if (ctrls[0] == '\0' || m[i].version == 2) {
			if (ctrls[0] == '\0' && m[i].version == 2)
				return i;
			continue;
		}
		snprintf(list, sizeof(list), "%s", ctrls);
		for (c = strtok_r(list, ",", &save); c; c = strtok_r(NULL, ",", &save))
			all = all && has_token(m[i].opts, c, ",");
		if (all)
			return i;
	}
	return -1;
}

int hostres_cgroups_find(struct hostres *h, int pid, const char *override, struct vs_err *err)
{
	const struct mnt *m = NULL;
	char rel[64], *text = NULL, *line, *save = NULL;
	int nm, rc, i, skipped_root = 0;

	if (override && (override[0] != '/' || strstr(override, "/../") || strstr(override, "/./") ||
			 (strlen(override) >= 3 && strcmp(override + strlen(override) - 3, "/..") == 0) ||
			 strlen(override) >= HOSTRES_PATH_MAX / 2))
		return vs_err_set(err, EINVAL, "--cgroup: '%.*s' is not an absolute cgroup path without "
				  "'.' or '..'", 200, override);
	h->pid = pid;
	nm = mounts(h, &m, err);
	if (nm < 0)
		return nm;
	snprintf(rel, sizeof(rel), "%d/cgroup", pid);
	rc = slurp_at(h->proc_fd, rel, 1u << 20, &text);
	if (rc < 0)
		return vs_err_set(err, rc, "cannot read /proc/%d/cgroup: %s", pid, strerror(-rc));
	rc = 0;
	for (line = strtok_r(text, "\n", &save); line && rc >= 0; line = strtok_r(NULL, "\n", &save)) {
		char *ctrls, *path;

		if (!cgroup_line(line, &ctrls, &path))
			continue;
		if (ctrls[0] && !has_token(ctrls, "cpu", ",") && !has_token(ctrls, "cpuacct", ",") &&
		    !has_token(ctrls, "cpuset", ","))
			continue; /* a v1 hierarchy without the controllers vCPUs are tuned with */
		i = mount_of(m, nm, ctrls);
		if (i >= 0 && h->nh < MAX_HIER)
			rc = add_hier(h, &m[i], ctrls, path, override, &skipped_root, err);
	}
	free(text);
	if (rc < 0)
		return rc;
	if (skipped_root)
		hwarn(h, "QEMU (pid %d) sits in the root of %s cgroup hierarchy with the cpu or cpuset "
		      "controller: per-vCPU groups there would be shared with every other process; "
		      "skipped (use --cgroup PATH)", pid, h->nh ? "a" : "every");
	return h->nh;
}

bool hostres_has_cpu(const struct hostres *h)
{
	int i;

	for (i = 0; i < h->nh; i++)
		if (h->hh[i].cpu)
			return true;
	return false;
}

bool hostres_has_cpuset(const struct hostres *h)
{
	int i;

	for (i = 0; i < h->nh; i++)
		if (h->hh[i].cpuset)
			return true;
	return false;
}

cJSON *hostres_cgroups_json(const struct hostres *h)
{
	cJSON *a = cJSON_CreateArray();
	int i;

	for (i = 0; i < h->nh; i++) {
		const struct hier *x = &h->hh[i];
		cJSON *o = cJSON_CreateObject();

		cJSON_AddNumberToObject(o, "version", x->version);
		cJSON_AddStringToObject(o, "controllers", x->ctrls);
		cJSON_AddStringToObject(o, "parent", x->full);
		cJSON_AddStringToObject(o, "qemu", x->qemu);
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

/* ---- masks ---- */

static bool mask_empty(const uint64_t *m)
{
	size_t i;

	for (i = 0; i < HOSTRES_MASK_WORDS; i++)
		if (m[i])
			return false;
	return true;
}

/* The first bit of a not in b, or -1. */
static int mask_first_outside(const uint64_t *a, const uint64_t *b)
{
	size_t i;

	for (i = 0; i < HOSTRES_MASK_WORDS; i++) {
		uint64_t d = a[i] & ~b[i];

		if (d)
			return (int)(i * 64) + __builtin_ctzll(d);
	}
	return -1;
}

static void mask_text(const uint64_t *m, char *buf, size_t size)
{
	if (topo_cpulist_format(m, TOPO_MAX_CPUS, buf, size) < 0)
		snprintf(buf, size, "%s", "?");
}

/* Read a cpulist file into a mask; an empty list is an empty mask. m is unchanged on error. */
static int read_mask_at(int dirfd, const char *name, uint64_t *m)
{
	uint64_t tmp[HOSTRES_MASK_WORDS] = { 0 };
	char buf[VALUE_MAX];
	int rc;

	rc = read_at(dirfd, name, buf, sizeof(buf));
	if (rc > 0)
		rc = topo_cpulist_parse(buf, tmp, TOPO_MAX_CPUS, NULL);
	if (rc < 0)
		return rc;
	memcpy(m, tmp, sizeof(tmp));
	return 0;
}

/*
 * The host's memory nodes as a cpuset.mems would take them: nodes with memory (a v1 cpuset
 * refuses a memoryless node, EINVAL), from node/has_memory, else node/online on kernels
 * without it. The text in buf (may be NULL); length, 0 when the host is not NUMA, -errno.
 */
static int memory_nodes(struct hostres *h, uint64_t *m, char *buf, size_t size)
{
	char tmp[VALUE_MAX];
	int rc;

	if (!buf) {
		buf = tmp;
		size = sizeof(tmp);
	}
	rc = read_at(h->sys_fd, "devices/system/node/has_memory", buf, size);
	if (rc == -ENOENT)
		rc = read_at(h->sys_fd, "devices/system/node/online", buf, size);
	if (rc > 0 && m) {
		memset(m, 0, HOSTRES_MASK_WORDS * sizeof(*m));
		if (topo_cpulist_parse(buf, m, TOPO_MAX_CPUS, NULL) < 0)
			return -EINVAL;
	}
	return rc;
}

int hostres_default_affinity(struct hostres *h, struct hostres_tune *t, struct vs_err *err)
{
	uint64_t iso[HOSTRES_MASK_WORDS];
	size_t i;
	int rc;

	rc = read_mask_at(h->sys_fd, "devices/system/cpu/online", t->aff);
	if (rc < 0 || mask_empty(t->aff))
		return vs_err_set(err, rc < 0 ? rc : EINVAL, "cannot read the host's online CPUs "
				  "(/sys/devices/system/cpu/online): %s", strerror(rc < 0 ? -rc : EINVAL));
	if (read_mask_at(h->sys_fd, "devices/system/cpu/isolated", iso) == 0)
		for (i = 0; i < HOSTRES_MASK_WORDS; i++)
			t->aff[i] &= ~iso[i];
	if (mask_empty(t->aff))
		return vs_err_set(err, EINVAL, "every online host CPU is isolated");
	t->aff_src = HR_DEFAULT;
	return 0;
}

/* ---- validation ---- */

static int check_resctrl(struct hostres *h, const struct hostres_tune *t, struct vs_err *err)
{
	char rel[3 * HOSTRES_NAME_MAX + 32];
	int fd, rc;

	if (!t->cachetune[0] && !t->monitor[0])
		return 0;
	if (h->resctrl_fd < 0)
		return vs_err_set(err, ENOENT, "resctrl is not mounted at %s (%s)", h->resctrl_path,
				  strerror(h->resctrl_errno));
	if (t->cachetune[0]) {
		rc = open_beneath(h->resctrl_fd, t->cachetune, &fd);
		if (rc < 0)
			return vs_err_set(err, rc, "no resctrl group %s/%s: %s", h->resctrl_path,
					  t->cachetune, strerror(-rc));
		close(fd);
	}
	if (t->monitor[0]) {
		if (t->cachetune[0])
			snprintf(rel, sizeof(rel), "%s/mon_groups/%s", t->cachetune, t->monitor);
		else
			snprintf(rel, sizeof(rel), "mon_groups/%s", t->monitor);
		rc = open_beneath(h->resctrl_fd, rel, &fd);
		if (rc < 0)
			return vs_err_set(err, rc, "no resctrl monitor group %s/%s: %s", h->resctrl_path,
					  rel, strerror(-rc));
		close(fd);
	}
	return 0;
}

/*
 * cgroup v1 refuses a child's quota above its parent's limit (EINVAL): the limit is that of
 * the nearest group on the way up from the parent that has a quota. 0 if the quota q per
 * period p fits under parent of x, else -EINVAL naming the limit.
 */
static int check_parent_quota(const struct hier *x, long long q, long long p, struct vs_err *err)
{
	char rel[HOSTRES_PATH_MAX], buf[64];
	long long pq, pp;
	int mfd, fd, rc = 0;

	if (x->version != 1 || !x->cpu || q <= 0)
		return 0;
	mfd = open(x->mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return 0; /* setting it up will say why */
	snprintf(rel, sizeof(rel), "%s", x->parent);
	for (;;) {
		char *slash;

		if (open_beneath(mfd, rel, &fd) < 0)
			break;
		pq = pp = 0;
		if (read_at(fd, "cpu.cfs_quota_us", buf, sizeof(buf)) > 0)
			topo_parse_ll("quota", buf, -1, LLONG_MAX, &pq, NULL);
		if (read_at(fd, "cpu.cfs_period_us", buf, sizeof(buf)) > 0)
			topo_parse_ll("period", buf, 1, LLONG_MAX, &pp, NULL);
		close(fd);
		if (pq > 0 && pp > 0) {
			/* q/p > pq/pp, in integers the kernel's own ratios cannot overflow */
			if ((unsigned __int128)q * (unsigned __int128)pp >
			    (unsigned __int128)pq * (unsigned __int128)p)
				rc = vs_err_set(err, EINVAL, "--quota %lld per %lld us is above the limit "
						"of %lld per %lld us of cgroup %s%s: the kernel would "
						"refuse it", q, p, pq, pp, x->mount,
						strcmp(rel, "/") == 0 ? "" : rel);
			break;
		}
		slash = strrchr(rel, '/');
		if (!slash || strcmp(rel, "/") == 0 || rel[0] == '\0')
			break;
		if (slash == rel)
			snprintf(rel, sizeof(rel), "%s", "/");
		else
			*slash = '\0';
	}
	close(mfd);
	return rc;
}

int hostres_tune_text(const struct hostres_tune *t, char *buf, size_t size)
{
	char list[3][4096];
	size_t o = 0;

	buf[0] = '\0';
	mask_text(t->cpus, list[0], sizeof(list[0]));
	mask_text(t->mems, list[1], sizeof(list[1]));
	mask_text(t->aff, list[2], sizeof(list[2]));
	if (t->bw_src && t->period && o < size)
		o += (size_t)snprintf(buf + o, size - o, "period=%lld ", t->period);
	if (t->bw_src && t->quota && o < size)
		o += (size_t)snprintf(buf + o, size - o, "quota=%lld ", t->quota);
	if (t->cpus_src && o < size)
		o += (size_t)snprintf(buf + o, size - o, "cpus=%s ", list[0]);
	if (t->mems_src && o < size)
		o += (size_t)snprintf(buf + o, size - o, "mems=%s ", list[1]);
	if (t->aff_src && o < size)
		o += (size_t)snprintf(buf + o, size - o, "affinity=%s ", list[2]);
	if (t->sched_src && o < size)
		o += (size_t)snprintf(buf + o, size - o, t->prio ? "sched=%s:%d " : "sched=%s ",
				      hostres_policy_name(t->policy), t->prio);
	if (t->rc_src && t->cachetune[0] && o < size)
		o += (size_t)snprintf(buf + o, size - o, "cachetune=%s ", t->cachetune);
	if (t->rc_src && t->monitor[0] && o < size)
		o += (size_t)snprintf(buf + o, size - o, "monitor=%s ", t->monitor);
	if (o >= size) {
		buf[0] = '\0';
		return -ENOSPC;
	}
	if (o && buf[o - 1] == ' ')
		buf[o - 1] = '\0';
	return 0;
}

/* One key=value word of hostres_tune_text's into t. */
static int tune_word(const char *key, const char *v, struct hostres_tune *t, struct vs_err *err)
{
	if (strcmp(key, "period") == 0)
		return hostres_parse_period(v, &t->period, err) < 0 ? -EINVAL : (t->bw_src = HR_GIVEN, 0);
	if (strcmp(key, "quota") == 0)
		return hostres_parse_quota(v, &t->quota, err) < 0 ? -EINVAL : (t->bw_src = HR_GIVEN, 0);
	if (strcmp(key, "cpus") == 0 || strcmp(key, "mems") == 0 || strcmp(key, "affinity") == 0) {
		uint64_t *m = key[0] == 'c' ? t->cpus : key[0] == 'm' ? t->mems : t->aff;

		if (topo_cpulist_parse(v, m, TOPO_MAX_CPUS, err) < 0)
			return -EINVAL;
		*(key[0] == 'c' ? &t->cpus_src : key[0] == 'm' ? &t->mems_src : &t->aff_src) = HR_GIVEN;
		return 0;
	}
	if (strcmp(key, "sched") == 0)
		return hostres_parse_sched(v, &t->policy, &t->prio, err) < 0 ? -EINVAL
		       : (t->sched_src = HR_GIVEN, 0);
	if (strcmp(key, "cachetune") == 0 || strcmp(key, "monitor") == 0) {
		if (hostres_valid_group(key, v, err) < 0)
			return -EINVAL;
		snprintf(key[0] == 'c' ? t->cachetune : t->monitor, HOSTRES_NAME_MAX, "%s", v);
		t->rc_src = HR_GIVEN;
		return 0;
	}
	return vs_err_set(err, EINVAL, "unknown setting '%.32s'", key);
}

int hostres_tune_parse(const char *s, struct hostres_tune *t, struct vs_err *err)
{
	char *copy = strdup(s), *w, *save = NULL, *eq;
	int rc = 0;

	memset(t, 0, sizeof(*t));
	if (!copy)
		return vs_err_set(err, ENOMEM, "out of memory");
	for (w = strtok_r(copy, " ", &save); w && rc == 0; w = strtok_r(NULL, " ", &save)) {
		eq = strchr(w, '=');
		if (!eq) {
			rc = vs_err_set(err, EINVAL, "'%.32s' is not key=value", w);
			break;
		}
		*eq = '\0';
		rc = tune_word(w, eq + 1, t, err);
	}
	free(copy);
	return rc;
}

int hostres_validate(struct hostres *h, const struct hostres_tune *t, struct vs_err *err)
{
	uint64_t have[HOSTRES_MASK_WORDS];
	int i, bad;

	if (t->sched_src != HR_UNSET && !hostres_policy_known(t->policy))
		return vs_err_set(err, EINVAL, "scheduler policy %s (%d) cannot be set by vcpuset "
				  "(other, batch, idle, fifo, rr only)", hostres_policy_name(t->policy),
				  t->policy);
	if (t->bw_src != HR_UNSET && (t->period || t->quota) && !hostres_has_cpu(h))
		return vs_err_set(err, EOPNOTSUPP, "cgroup cpu controller is required for --period "
				  "and --quota, and QEMU's cgroups have none in use");
	if (t->mems_src != HR_UNSET && !hostres_has_cpuset(h))
		return vs_err_set(err, EOPNOTSUPP, "cgroup cpuset controller is required for --mems, "
				  "and QEMU's cgroups have none in use");
	if (t->cpus_src != HR_UNSET) {
		if (read_mask_at(h->sys_fd, "devices/system/cpu/online", have) == 0 &&
		    (bad = mask_first_outside(t->cpus, have)) >= 0)
			return vs_err_set(err, EINVAL, "CPU %d is not online on this host", bad);
	}
	if (t->mems_src != HR_UNSET) {
		uint64_t online[HOSTRES_MASK_WORDS];

		if (memory_nodes(h, have, NULL, 0) <= 0) {
			memset(have, 0, sizeof(have));
			have[0] = 1; /* no NUMA: node 0 only */
		}
		if (read_mask_at(h->sys_fd, "devices/system/node/online", online) < 0)
			memcpy(online, have, sizeof(online));
		if ((bad = mask_first_outside(t->mems, have)) >= 0)
			return vs_err_set(err, EINVAL, "memory node %d %s on this host", bad,
					  mask_first_outside(t->mems, online) == bad ? "is not online"
					  : "has no memory (a cpuset cannot use it)");
	}
	for (i = 0; i < h->nh; i++) {
		const struct hier *x = &h->hh[i];
		bool v2 = x->version == 2;

		if (t->bw_src != HR_UNSET &&
		    check_parent_quota(x, t->quota, t->period ? t->period : 100000, err) < 0)
			return -EINVAL;
		if (!x->cpuset)
			continue;
		if (t->cpus_src != HR_UNSET &&
		    read_mask_at(x->fd, v2 ? "cpuset.cpus.effective" : "cpuset.cpus", have) == 0 &&
		    !mask_empty(have) && (bad = mask_first_outside(t->cpus, have)) >= 0)
			return vs_err_set(err, EINVAL, "CPU %d is outside the cpuset of %s", bad, x->full);
		if (t->mems_src != HR_UNSET &&
		    read_mask_at(x->fd, v2 ? "cpuset.mems.effective" : "cpuset.mems", have) == 0 &&
		    !mask_empty(have) && (bad = mask_first_outside(t->mems, have)) >= 0)
			return vs_err_set(err, EINVAL, "memory node %d is outside the cpuset of %s", bad,
					  x->full);
	}
	return check_resctrl(h, t, err);
}

/* ---- inheritance from sibling vCPUs ---- */

const char *const hostres_setting_names[HR_NSETTINGS] = { "period/quota", "cpus", "mems",
							  "affinity", "policy", "resctrl" };

/* The setting k of t as text, for the reasons; "" when t does not have it. */
static void setting_text(const struct hostres_tune *t, int k, char *buf, size_t size)
{
	buf[0] = '\0';
	switch (k) {
	case HR_S_BW:
		if (t->bw_src != HR_UNSET && t->quota > 0)
			snprintf(buf, size, "%lld/%lld", t->quota, t->period);
		break;
	case HR_S_CPUS:
		if (t->cpus_src != HR_UNSET)
			mask_text(t->cpus, buf, size);
		break;
	case HR_S_MEMS:
		if (t->mems_src != HR_UNSET)
			mask_text(t->mems, buf, size);
		break;
	case HR_S_AFF:
		if (t->aff_src != HR_UNSET)
			mask_text(t->aff, buf, size);
		break;
	case HR_S_SCHED:
		if (t->sched_src != HR_UNSET && t->policy != SCHED_OTHER) {
			if (t->policy == SCHED_FIFO || t->policy == SCHED_RR)
				snprintf(buf, size, "%s:%d", hostres_policy_name(t->policy), t->prio);
			else if (strcmp(hostres_policy_name(t->policy), "unknown") != 0)
				snprintf(buf, size, "%s", hostres_policy_name(t->policy));
			else
				snprintf(buf, size, "policy %d", t->policy);
		}
		break;
	case HR_S_RC:
		if (t->rc_src != HR_UNSET && (t->cachetune[0] || t->monitor[0]))
			snprintf(buf, size, "%s%s%s", t->cachetune[0] ? t->cachetune : "/",
				 t->monitor[0] ? " mon " : "", t->monitor);
		break;
	}
}

static enum hostres_src *src_of(struct hostres_tune *t, int k)
{
	enum hostres_src *src[HR_NSETTINGS] = { &t->bw_src, &t->cpus_src, &t->mems_src, &t->aff_src,
						&t->sched_src, &t->rc_src };

	return src[k];
}

/* Copy setting k from s into t. */
static void take_setting(struct hostres_tune *t, const struct hostres_tune *s, int k)
{
	switch (k) {
	case HR_S_BW:
		t->period = s->period;
		t->quota = s->quota;
		break;
	case HR_S_CPUS:
		memcpy(t->cpus, s->cpus, sizeof(t->cpus));
		break;
	case HR_S_MEMS:
		memcpy(t->mems, s->mems, sizeof(t->mems));
		break;
	case HR_S_AFF:
		memcpy(t->aff, s->aff, sizeof(t->aff));
		break;
	case HR_S_SCHED:
		t->policy = s->policy;
		t->prio = s->prio;
		break;
	case HR_S_RC:
		memcpy(t->cachetune, s->cachetune, sizeof(t->cachetune));
		memcpy(t->monitor, s->monitor, sizeof(t->monitor));
		break;
	}
	*src_of(t, k) = HR_INHERITED;
}

void hostres_tune_fill(struct hostres_tune *t, const struct hostres_tune *from)
{
	int k;

	for (k = 0; k < HR_NSETTINGS; k++) {
		enum hostres_src src = *src_of((struct hostres_tune *)from, k);

		if (*src_of(t, k) != HR_UNSET || src == HR_UNSET)
			continue;
		take_setting(t, from, k);
		*src_of(t, k) = src;
	}
}

int hostres_inherit(struct hostres_tune *t, const struct hostres_tune *sib, const int *idx, int n,
		    char why[HR_NSETTINGS][HOSTRES_WHY_MAX])
{
	char first[VALUE_MAX], val[VALUE_MAX];
	int k, i, taken = 0;

	for (k = 0; k < HR_NSETTINGS; k++) {
		bool same = true;

		why[k][0] = '\0';
		if (n <= 0 || *src_of(t, k) != HR_UNSET)
			continue;
		setting_text(&sib[0], k, first, sizeof(first));
		for (i = 1; i < n && same; i++) {
			setting_text(&sib[i], k, val, sizeof(val));
			same = strcmp(first, val) == 0;
		}
		if (!same) {
			size_t o = (size_t)snprintf(why[k], HOSTRES_WHY_MAX, "siblings differ:");

			for (i = 0; i < n && o < HOSTRES_WHY_MAX; i++) {
				setting_text(&sib[i], k, val, sizeof(val));
				o += (size_t)snprintf(why[k] + o, HOSTRES_WHY_MAX - o, "%s vcpu%d %s",
						      i ? "," : "", idx[i], val[0] ? val
						      : k == HR_S_SCHED ? "other" : "none");
			}
			if (o >= HOSTRES_WHY_MAX) /* too many to list: say so at the end */
				snprintf(why[k] + HOSTRES_WHY_MAX - 5, 5, "%s", " ...");
			continue;
		}
		if (!first[0])
			continue; /* none of them has it: nothing to inherit */
		if (k == HR_S_SCHED && !hostres_policy_known(sib[0].policy)) {
			snprintf(why[k], HOSTRES_WHY_MAX, "siblings run %.64s, which vcpuset cannot "
				 "give a thread (other, batch, idle, fifo, rr only)", first);
			continue;
		}
		take_setting(t, &sib[0], k);
		taken++;
	}
	return taken;
}

/* ---- reading a vCPU's state ---- */

bool hostres_vcpu_has_group(struct hostres *h, int index)
{
	char name[32];
	int i;

	snprintf(name, sizeof(name), "vcpu%d", index);
	for (i = 0; i < h->nh; i++)
		if (is_dir_at(h->hh[i].fd, name))
			return true;
	return false;
}

static int read_bw(const struct hier *x, int fd, struct hostres_tune *t)
{
	char buf[128], *sp;
	long long q = -1, p;

	/* Strictly: a value inherited by the next vCPU must be one the kernel would take. */
	if (x->version == 2) {
		if (read_at(fd, "cpu.max", buf, sizeof(buf)) < 0 || !(sp = strchr(buf, ' ')))
			return -EINVAL;
		*sp++ = '\0';
		if (strcmp(buf, "max") != 0 &&
		    topo_parse_ll("cpu.max", buf, HOSTRES_QUOTA_MIN, HOSTRES_QUOTA_MAX, &q, NULL) < 0)
			return -EINVAL;
		if (topo_parse_ll("cpu.max", sp, HOSTRES_PERIOD_MIN, HOSTRES_PERIOD_MAX, &p, NULL) < 0)
			return -EINVAL;
	} else {
		if (read_at(fd, "cpu.cfs_period_us", buf, sizeof(buf)) < 0 ||
		    topo_parse_ll("period", buf, HOSTRES_PERIOD_MIN, HOSTRES_PERIOD_MAX, &p, NULL) < 0)
			return -EINVAL;
		if (read_at(fd, "cpu.cfs_quota_us", buf, sizeof(buf)) < 0 ||
		    topo_parse_ll("quota", buf, -1, HOSTRES_QUOTA_MAX, &q, NULL) < 0 ||
		    (q >= 0 && q < HOSTRES_QUOTA_MIN))
			return -EINVAL;
	}
	t->period = p;
	t->quota = q < 0 ? -1 : q;
	return 0;
}

struct rc_scan {
	long tid;
	char group[HOSTRES_NAME_MAX];
	char mon[HOSTRES_NAME_MAX];
};

/* Find a monitor group under dirfd ("<...>/mon_groups") listing the tid. */
static bool scan_mon_groups(int gfd, long tid, char *out)
{
	struct dirent *d;
	bool found = false;
	int fd, sub;
	DIR *dir;

	if (open_beneath(gfd, "mon_groups", &fd) < 0)
		return false;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return false;
	}
	while (!found && (d = readdir(dir))) {
		if (d->d_name[0] == '.' || strlen(d->d_name) >= HOSTRES_NAME_MAX)
			continue;
		if (open_beneath(dirfd(dir), d->d_name, &sub) < 0)
			continue;
		if (file_has_tid(sub, "tasks", tid) == 1) {
			snprintf(out, HOSTRES_NAME_MAX, "%.*s", HOSTRES_NAME_MAX - 1, d->d_name);
			found = true;
		}
		close(sub);
	}
	closedir(dir);
	return found;
}

/* The resctrl control group (not the root) and monitor group listing tid. */
static void scan_resctrl(struct hostres *h, struct rc_scan *s)
{
	struct dirent *d;
	int fd, sub;
	DIR *dir;

	s->group[0] = s->mon[0] = '\0';
	if (h->resctrl_fd < 0 || open_beneath(h->resctrl_fd, "/", &fd) < 0)
		return;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return;
	}
	while ((d = readdir(dir))) {
		if (hostres_valid_group("", d->d_name, NULL) < 0)
			continue;
		if (open_beneath(dirfd(dir), d->d_name, &sub) < 0)
			continue;
		if (file_has_tid(sub, "tasks", s->tid) == 1) {
			snprintf(s->group, sizeof(s->group), "%.*s", HOSTRES_NAME_MAX - 1, d->d_name);
			scan_mon_groups(sub, s->tid, s->mon);
			close(sub);
			break;
		}
		close(sub);
	}
	closedir(dir);
	if (!s->group[0])
		scan_mon_groups(h->resctrl_fd, s->tid, s->mon);
}

static void add_mask(cJSON *o, const char *key, const uint64_t *m)
{
	char buf[VALUE_MAX];

	mask_text(m, buf, sizeof(buf));
	cJSON_AddStringToObject(o, key, buf);
}

/* What the kernel says of thread tid: affinity, policy, resctrl groups (into t and o). */
static void read_thread(struct hostres *h, int tid, struct hostres_tune *t, enum hostres_src src,
			cJSON *o)
{
	size_t setsize = CPU_ALLOC_SIZE(TOPO_MAX_CPUS);
	cpu_set_t *set = CPU_ALLOC(TOPO_MAX_CPUS);
	struct rc_scan s = { .tid = tid };
	struct sched_param sp;
	char path[2 * HOSTRES_NAME_MAX + 16];
	int pol, c;

	if (set && sched_getaffinity(tid, setsize, set) == 0) {
		memset(t->aff, 0, sizeof(t->aff));
		for (c = 0; c < TOPO_MAX_CPUS; c++)
			if (CPU_ISSET_S((size_t)c, setsize, set))
				t->aff[c / 64] |= 1ULL << (c % 64);
		t->aff_src = src;
		if (o)
			add_mask(o, "affinity", t->aff);
	}
	CPU_FREE(set);
	pol = sched_getscheduler(tid);
	if (pol >= 0 && sched_getparam(tid, &sp) == 0) {
		t->policy = pol & ~SCHED_RESET_ON_FORK;
		t->prio = sp.sched_priority;
		t->sched_src = src;
		if (o) {
			cJSON_AddStringToObject(o, "policy", hostres_policy_name(t->policy));
			cJSON_AddNumberToObject(o, "priority", t->prio);
		}
	}
	scan_resctrl(h, &s);
	if (s.group[0] || s.mon[0]) {
		snprintf(t->cachetune, sizeof(t->cachetune), "%s", s.group);
		snprintf(t->monitor, sizeof(t->monitor), "%s", s.mon);
		t->rc_src = src;
	}
	if (o) {
		cJSON *r = cJSON_AddArrayToObject(o, "resctrl");

		if (s.group[0])
			cJSON_AddItemToArray(r, cJSON_CreateString(s.group));
		if (s.mon[0]) {
			snprintf(path, sizeof(path), "%s%smon_groups/%s", s.group, s.group[0] ? "/" : "",
				 s.mon);
			cJSON_AddItemToArray(r, cJSON_CreateString(path));
		}
	}
}

int hostres_vcpu_read(struct hostres *h, int index, int tid, struct hostres_tune *t,
		      enum hostres_src src, cJSON **out_json, struct vs_err *err)
{
	cJSON *o = out_json ? cJSON_CreateObject() : NULL, *groups = NULL;
	char name[32], path[2 * HOSTRES_PATH_MAX + 32];
	int i, fd;

	snprintf(name, sizeof(name), "vcpu%d", index);
	if (o)
		groups = cJSON_AddArrayToObject(o, "cgroups");
	for (i = 0; i < h->nh; i++) {
		const struct hier *x = &h->hh[i];

		if (open_beneath(x->fd, name, &fd) < 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", x->full, name);
		if (groups)
			cJSON_AddItemToArray(groups, cJSON_CreateString(path));
		if (x->cpu && read_bw(x, fd, t) == 0)
			t->bw_src = src;
		if (x->cpuset) {
			if (read_mask_at(fd, "cpuset.cpus", t->cpus) == 0 && !mask_empty(t->cpus))
				t->cpus_src = src;
			if (read_mask_at(fd, "cpuset.mems", t->mems) == 0 && !mask_empty(t->mems))
				t->mems_src = src;
		}
		close(fd);
	}
	if (o && t->bw_src == src) {
		cJSON_AddNumberToObject(o, "period", (double)t->period);
		cJSON_AddNumberToObject(o, "quota", (double)t->quota);
	}
	if (o && t->cpus_src == src)
		add_mask(o, "cpus", t->cpus);
	if (o && t->mems_src == src)
		add_mask(o, "mems", t->mems);
	if (tid > 0)
		read_thread(h, tid, t, src, o);
	(void)err;
	if (out_json)
		*out_json = o;
	return 0;
}

/* ---- setting a vCPU up ---- */

/*
 * ---- the kernel's cgroup migration lock, taken early ----
 * The first move of a thread into a cgroup after a quiet while waits for an RCU grace period
 * (5-15 ms here): the kernel's thread-group semaphore switches its readers to the slow path
 * first, and stays switched for about one more grace period after the last writer. vcpuset
 * pays that wait while QEMU plugs the vCPU instead of after it: a helper thread moves
 * vcpuset itself into the group it is already in (a no-op migration, which takes the
 * semaphore all the same), and the real move that follows finds it switched already.
 */
static void *warm_main(void *arg)
{
	struct hostres *h = arg;
	ssize_t n;

	n = pwrite(h->warm_fd, h->warm_pid, strlen(h->warm_pid), 0); /* the fd serves each plug */
	(void)n; /* best effort: a failure only means no head start */
	return NULL;
}

/*
 * Open cgroup.procs of vcpuset's own group in the first mounted hierarchy it is in (any one
 * will do: the semaphore is the kernel's, shared by every hierarchy); -1 if none.
 */
static int own_procs(struct hostres *h)
{
	char *text = NULL, *line, *save = NULL, path[2 * HOSTRES_PATH_MAX + 32];
	const struct mnt *m = NULL;
	int nm, fd = -1;

	nm = mounts(h, &m, NULL);
	if (nm > 0 && slurp_at(h->proc_fd, "self/cgroup", 1u << 20, &text) >= 0) {
		for (line = strtok_r(text, "\n", &save); line && fd < 0;
		     line = strtok_r(NULL, "\n", &save)) {
			char *ctrls, *own;
			int i;

			if (!cgroup_line(line, &ctrls, &own) || (i = mount_of(m, nm, ctrls)) < 0 ||
			    strstr(own, "/..") || strlen(m[i].point) + strlen(own) + 16 > sizeof(path))
				continue;
			snprintf(path, sizeof(path), "%s%s/cgroup.procs", m[i].point,
				 strcmp(own, "/") == 0 ? "" : own);
			fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
		}
	}
	free(text);
	return fd;
}

void hostres_warm_start(struct hostres *h)
{
	if (h->dry)
		return;
	if (h->warm_running) {
		if (pthread_tryjoin_np(h->warm_th, NULL) == EBUSY)
			return; /* the move in flight serves this plug too */
		h->warm_running = false;
	}
	if (!h->warm_looked) {
		/* found once: a later plug of the run writes the same file */
		h->warm_looked = true;
		h->warm_fd = own_procs(h);
		snprintf(h->warm_pid, sizeof(h->warm_pid), "%d", (int)getpid());
	}
	if (h->warm_fd >= 0 && pthread_create(&h->warm_th, NULL, warm_main, h) == 0)
		h->warm_running = true;
}

void hostres_warm_wait(struct hostres *h)
{
	if (h->warm_running)
		pthread_join(h->warm_th, NULL);
	h->warm_running = false;
}

/* The file of a group that lists its threads, and takes a thread moved in. */
static const char *threads_file(const struct hier *x)
{
	return x->version == 2 ? "cgroup.threads" : "tasks";
}

/* "vcpu<N>": N, or -1 for any other name. */
static int vcpu_index_of(const char *name)
{
	char *end;
	long n;

	if (strncmp(name, "vcpu", 4) != 0 || !isdigit((unsigned char)name[4]) ||
	    (name[4] == '0' && name[5]))
		return -1;
	n = strtol(name + 4, &end, 10);
	return *end || n > VS_MAX_SLOTS ? -1 : (int)n;
}

/* Call fn(ctx, N) for each vcpuN directory under x's parent. */
static void each_vcpu_group(const struct hier *x, void (*fn)(void *ctx, int n), void *ctx)
{
	int fd = openat(x->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *d;
	DIR *dir;

	if (fd < 0 || !(dir = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((d = readdir(dir)))
		if (vcpu_index_of(d->d_name) >= 0 && is_dir_at(x->fd, d->d_name))
			fn(ctx, vcpu_index_of(d->d_name));
	closedir(dir);
}

int hostres_group_parents(struct hostres *h, char *paths, size_t size, int n)
{
	int i, k = 0;

	for (i = 0; i < h->nh && k < n; i++)
		if ((size_t)snprintf(paths + (size_t)k * size, size, "%s", h->hh[i].full) < size)
			k++;
	return k;
}

struct remove_ctx {
	struct hostres *h;
	int dirfd, removed;
	const char *parent;
};

static void remove_group(void *ctx, int n)
{
	struct remove_ctx *r = ctx;
	char name[32], dir[2 * HOSTRES_PATH_MAX + 32];

	snprintf(name, sizeof(name), "vcpu%d", n);
	snprintf(dir, sizeof(dir), "%s/%s", r->parent, name);
	log_op(r->h, "rmdir", dir);
	if (r->h->dry)
		return;
	if (unlinkat(r->dirfd, name, AT_REMOVEDIR) == 0)
		r->removed++;
	else
		hnote(r->h, "left %s of a QEMU that is gone: %s", dir, strerror(errno));
}

int hostres_remove_groups_at(struct hostres *h, const char *parent)
{
	struct remove_ctx r = { h, -1, 0, parent };
	struct hier x;

	memset(&x, 0, sizeof(x));
	if (parent[0] != '/')
		return 0;
	x.fd = open(parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (x.fd < 0)
		return 0; /* gone with its QEMU (libvirt removes the machine's group) */
	r.dirfd = x.fd;
	each_vcpu_group(&x, remove_group, &r);
	close(x.fd);
	return r.removed;
}

static void count_group(void *ctx, int n)
{
	(void)n;
	(*(int *)ctx)++;
}

int hostres_vcpu_placed(struct hostres *h, int index, int tid)
{
	char name[32];
	int i, fd, rc;

	snprintf(name, sizeof(name), "vcpu%d", index);
	for (i = 0; i < h->nh; i++) {
		struct hier *x = &h->hh[i];

		if (!x->groups) { /* looked at once a run */
			int groups = 0;

			each_vcpu_group(x, count_group, &groups);
			x->groups = groups ? 1 : 2;
		}
		if (x->groups == 2)
			continue; /* nobody's vCPUs have groups here */
		if (open_beneath(x->fd, name, &fd) < 0)
			return 0;
		rc = file_has_tid(fd, threads_file(x), tid);
		close(fd);
		if (rc <= 0)
			return rc;
	}
	return 1;
}

struct group_list {
	int *v, n, cap;
};

static void add_group(void *ctx, int n)
{
	struct group_list *g = ctx;
	int *nv, k;

	for (k = 0; k < g->n; k++)
		if (g->v[k] == n)
			return;
	if (g->n == g->cap) {
		nv = realloc(g->v, (size_t)(g->cap ? 2 * g->cap : 16) * sizeof(*nv));
		if (!nv)
			return;
		g->v = nv;
		g->cap = g->cap ? 2 * g->cap : 16;
	}
	g->v[g->n++] = n;
}

static int cmp_index(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return x < y ? -1 : x > y;
}

int hostres_vcpu_groups(struct hostres *h, int **out, int *n)
{
	struct group_list g = { 0 };
	int i;

	for (i = 0; i < h->nh; i++)
		each_vcpu_group(&h->hh[i], add_group, &g);
	if (g.n)
		qsort(g.v, (size_t)g.n, sizeof(*g.v), cmp_index);
	*out = g.v;
	*n = g.n;
	return 0;
}

static int any_tid(void *ctx, long tid)
{
	(void)ctx;
	return tid > 0;
}

bool hostres_vcpu_group_used(struct hostres *h, int index)
{
	char name[32];
	int i, fd, rc;

	snprintf(name, sizeof(name), "vcpu%d", index);
	for (i = 0; i < h->nh; i++) {
		const struct hier *x = &h->hh[i];

		if (open_beneath(x->fd, name, &fd) < 0)
			continue;
		rc = for_each_tid(fd, threads_file(x), any_tid, NULL);
		close(fd);
		if (rc != 0 && rc != -ENOENT)
			return true; /* a thread, or a file that cannot be read: left alone */
	}
	return false;
}


struct foreign_ctx {
	struct hostres *h;
	long found;
};

static int not_qemus(void *ctx, long tid)
{
	struct foreign_ctx *f = ctx;

	if (tid > 0 && tid <= INT_MAX && hostres_is_thread_of(f->h, f->h->pid, (int)tid) == 1)
		return 0;
	f->found = tid;
	return 1;
}

/* The first thread in group fd (of hierarchy x) that is not QEMU's, or 0. */
static long foreign_thread(struct hostres *h, const struct hier *x, int fd)
{
	struct foreign_ctx f = { h, 0 };

	for_each_tid(fd, threads_file(x), not_qemus, &f);
	return f.found;
}

/* Make (or take over) <parent>/vcpu<index> in one hierarchy and move tid into it. */
/*
 * Make the group name under x (or take an existing one over: it must hold nothing but QEMU's
 * threads) and open it into *fd (-1 in a dry run that would make it).
 */
static int open_group(struct hostres *h, struct hier *x, const char *name, const char *dir,
		      bool *created, int *fd, struct vs_err *err)
{
	long stranger;
	int rc;

	*created = false;
	*fd = -1;
	if (!is_dir_at(x->fd, name)) {
		log_op(h, "mkdir", dir);
		if (!h->dry && mkdirat(x->fd, name, 0755) < 0 && errno != EEXIST) {
			int e = errno;
			cJSON *last = h->log ? cJSON_GetArrayItem(h->log, cJSON_GetArraySize(h->log) - 1)
					     : NULL;

			if (last)
				cJSON_AddStringToObject(last, "error", strerror(e));
			return vs_err_set(err, e, "cannot create cgroup %s: %s", dir, strerror(e));
		}
		*created = true;
	}
	if (!h->dry || !*created) {
		rc = open_beneath(x->fd, name, fd);
		if (rc < 0)
			return vs_err_set(err, rc, "cannot open cgroup %s: %s", dir,
					  rc == -ELOOP ? "it is a symlink, refusing" : strerror(-rc));
	}
	if (*fd < 0 || *created)
		return 0;
	stranger = foreign_thread(h, x, *fd);
	if (!stranger)
		return 0;
	close(*fd);
	*fd = -1;
	return vs_err_set(err, EEXIST, "cgroup %s already holds thread %ld, which is not QEMU's "
			  "(pid %d): refusing to use it", dir, stranger, h->pid);
}

/* An empty v1 cpuset refuses tasks (ENOSPC): the parent's values, copied into a new group. */
static int seed_cpuset(struct hostres *h, const struct hier *x, int fd, const char *dir,
		       bool created, struct vs_err *err)
{
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems", "cpuset.memory_migrate" };
	char val[VALUE_MAX];
	bool copy = created || read_at(fd, "cpuset.cpus", val, sizeof(val)) == 0;
	size_t i;
	int rc;

	for (i = 0; copy && i < 3; i++) {
		rc = read_at(x->fd, files[i], val, sizeof(val));
		if (rc < 0)
			return vs_err_set(err, rc, "cannot read %s/%s: %s", x->full, files[i],
					  strerror(-rc));
		rc = do_write(h, fd, dir, files[i], val, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* A v2 group for a thread: threaded, with the parent handing it the cpu and cpuset controllers. */
static int make_threaded(struct hostres *h, const struct hier *x, int fd, const char *dir,
			 bool created, struct vs_err *err)
{
	static const char *const ctl[] = { "cpu", "cpuset" };
	char val[VALUE_MAX], sub[VALUE_MAX], plus[16];
	size_t i;
	int rc;

	if (created || read_at(fd, "cgroup.type", val, sizeof(val)) < 0 ||
	    strcmp(val, "threaded") != 0) {
		rc = do_write(h, fd, dir, "cgroup.type", "threaded", err);
		if (rc < 0)
			return rc;
	}
	if (read_at(x->fd, "cgroup.subtree_control", sub, sizeof(sub)) < 0)
		sub[0] = '\0';
	for (i = 0; i < 2; i++) {
		if (!(i == 0 ? x->cpu : x->cpuset) || has_token(sub, ctl[i], " "))
			continue;
		snprintf(plus, sizeof(plus), "+%s", ctl[i]);
		rc = do_write(h, x->fd, x->full, "cgroup.subtree_control", plus, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int setup_group(struct hostres *h, struct hier *x, const char *name, int tid,
		       int *out_fd, struct vs_err *err)
{
	char dir[2 * HOSTRES_PATH_MAX + 32], t[24];
	bool created;
	int fd, rc;

	*out_fd = -1;
	snprintf(dir, sizeof(dir), "%s/%s", x->full, name);
	rc = open_group(h, x, name, dir, &created, &fd, err);
	if (rc < 0)
		return rc;
	if (x->version == 1 && x->cpuset)
		rc = seed_cpuset(h, x, fd, dir, created, err);
	if (rc == 0 && x->version == 2)
		rc = make_threaded(h, x, fd, dir, created, err);
	if (rc == 0) {
		fmt_tid(t, sizeof(t), tid);
		rc = do_write(h, fd, dir, threads_file(x), t, err);
	}
	if (rc < 0) {
		if (fd >= 0)
			close(fd);
		return rc;
	}
	*out_fd = fd;
	return 0;
}

static int set_bandwidth(struct hostres *h, const struct hier *x, int fd, const char *dir,
			 const struct hostres_tune *t, struct vs_err *err)
{
	char old[128], val[160], tok[32], *sp;
	long long oldp = 0;
	bool period_written = false;
	int rc;

	if (t->period) {
		if (x->version == 2) {
			if (read_at(fd, "cpu.max", old, sizeof(old)) < 0)
				snprintf(old, sizeof(old), "%s", "max 100000"); /* new group's default */
			sp = strchr(old, ' ');
			if (!sp || (size_t)(sp - old) >= sizeof(tok) ||
			    topo_parse_ll("cpu.max", sp + 1, 1, LLONG_MAX, &oldp, NULL) < 0)
				return vs_err_set(err, EINVAL, "invalid cpu.max value '%s' in %s", old, dir);
			snprintf(tok, sizeof(tok), "%.*s", (int)(sp - old), old);
			snprintf(val, sizeof(val), "%s %lld", tok, t->period);
			rc = do_write(h, fd, dir, "cpu.max", val, err);
		} else {
			if (read_at(fd, "cpu.cfs_period_us", old, sizeof(old)) >= 0)
				oldp = strtoll(old, NULL, 10);
			snprintf(val, sizeof(val), "%lld", t->period);
			rc = do_write(h, fd, dir, "cpu.cfs_period_us", val, err);
		}
		if (rc < 0)
			return rc;
		period_written = true;
	}
	if (t->quota) {
		if (x->version == 2 && (t->quota < 0 || t->quota == HOSTRES_QUOTA_MAX))
			snprintf(val, sizeof(val), "%s", "max");
		else
			snprintf(val, sizeof(val), "%lld", t->quota < 0 ? -1LL : t->quota);
		rc = do_write(h, fd, dir, x->version == 2 ? "cpu.max" : "cpu.cfs_quota_us", val, err);
		if (rc < 0) {
			if (period_written && oldp > 0 && !h->dry) {
				struct vs_err ignore;

				if (x->version == 2)
					snprintf(val, sizeof(val), "%s %lld", tok, oldp);
				else
					snprintf(val, sizeof(val), "%lld", oldp);
				do_write(h, fd, dir, x->version == 2 ? "cpu.max" : "cpu.cfs_period_us", val,
					 &ignore);
			}
			return rc;
		}
	}
	return 0;
}

static int set_affinity(struct hostres *h, int tid, const uint64_t *mask, struct vs_err *err)
{
	size_t setsize = CPU_ALLOC_SIZE(TOPO_MAX_CPUS);
	char text[VALUE_MAX];
	cpu_set_t *set;
	cJSON *o;
	int c, rc = 0;

	mask_text(mask, text, sizeof(text));
	o = log_op(h, "sched_setaffinity", NULL);
	if (o) {
		cJSON_AddNumberToObject(o, "tid", tid);
		cJSON_AddStringToObject(o, "cpus", text);
	}
	if (h->dry)
		return 0;
	set = CPU_ALLOC(TOPO_MAX_CPUS);
	if (!set)
		return vs_err_set(err, ENOMEM, "out of memory");
	CPU_ZERO_S(setsize, set);
	for (c = 0; c < TOPO_MAX_CPUS; c++)
		if (mask[c / 64] & (1ULL << (c % 64)))
			CPU_SET_S((size_t)c, setsize, set);
	if (sched_setaffinity(tid, setsize, set) < 0) {
		rc = vs_err_set(err, errno, "cannot set the CPU affinity of thread %d to %s: %s", tid,
				text, strerror(errno));
		if (o)
			cJSON_AddStringToObject(o, "error", strerror(-rc));
	}
	CPU_FREE(set);
	return rc;
}

/* ---- core scheduling (PR_SCHED_CORE, Linux 5.14) ---- */

#ifndef PR_SCHED_CORE
#define PR_SCHED_CORE 62
#define PR_SCHED_CORE_GET 0
#define PR_SCHED_CORE_SHARE_TO 2
#define PR_SCHED_CORE_SHARE_FROM 3
#endif
#define CORE_PIDTYPE_PID 0

int hostres_core_cookie(int tid, unsigned long *cookie)
{
	unsigned long c = 0;

	*cookie = 0;
	if (prctl(PR_SCHED_CORE, PR_SCHED_CORE_GET, tid, CORE_PIDTYPE_PID, (unsigned long)&c) < 0)
		return -errno;
	*cookie = c;
	return 0;
}

bool hostres_core_in_use(struct hostres *h, int pid)
{
	unsigned long c;
	bool used = false;
	int *tids = NULL, n = 0, i;

	if (hostres_core_cookie(pid, &c) == -EINVAL || hostres_tasks(h, pid, &tids, &n) < 0)
		return false; /* no core scheduling in this kernel, or no threads to look at */
	for (i = 0; i < n && !used; i++)
		used = hostres_core_cookie(tids[i], &c) == 0 && c != 0;
	free(tids);
	return used;
}

struct core_share {
	int from, to, rc;
};

/* In a thread of its own, whose cookie may change: take from's cookie, give it to to. */
static void *core_share_thread(void *arg)
{
	struct core_share *s = arg;

	if (prctl(PR_SCHED_CORE, PR_SCHED_CORE_SHARE_FROM, s->from, CORE_PIDTYPE_PID, 0) < 0 ||
	    prctl(PR_SCHED_CORE, PR_SCHED_CORE_SHARE_TO, s->to, CORE_PIDTYPE_PID, 0) < 0)
		s->rc = -errno;
	return NULL;
}

int hostres_core_share(struct hostres *h, int from, int tid, struct vs_err *err)
{
	struct core_share s = { from, tid, 0 };
	cJSON *o = log_op(h, "core_share", NULL);
	pthread_t th;
	int rc;

	if (o) {
		cJSON_AddNumberToObject(o, "from", from);
		cJSON_AddNumberToObject(o, "tid", tid);
	}
	if (h->dry)
		return 0;
	rc = pthread_create(&th, NULL, core_share_thread, &s);
	if (rc != 0)
		return vs_err_set(err, rc, "cannot start a thread for core scheduling: %s", strerror(rc));
	pthread_join(th, NULL);
	if (s.rc < 0) {
		if (o)
			cJSON_AddStringToObject(o, "error", strerror(-s.rc));
		return vs_err_set(err, s.rc, "cannot give thread %d the core-scheduling cookie of "
				  "thread %d: %s", tid, from, strerror(-s.rc));
	}
	return 0;
}

static int set_sched(struct hostres *h, int tid, int policy, int prio, struct vs_err *err)
{
	struct sched_param sp = { .sched_priority = prio };
	cJSON *o = log_op(h, "sched_setscheduler", NULL);

	if (o) {
		cJSON_AddNumberToObject(o, "tid", tid);
		cJSON_AddStringToObject(o, "policy", hostres_policy_name(policy));
		cJSON_AddNumberToObject(o, "priority", prio);
	}
	if (h->dry)
		return 0;
	if (sched_setscheduler(tid, policy, &sp) < 0) {
		int e = errno;

		if (o)
			cJSON_AddStringToObject(o, "error", strerror(e));
		return vs_err_set(err, e, "cannot set scheduler %s:%d on thread %d: %s%s",
				  hostres_policy_name(policy), prio, tid, strerror(e),
				  e == EPERM && (policy == SCHED_FIFO || policy == SCHED_RR)
					  ? " (a cgroup v1 cpu group needs cpu.rt_runtime_us > 0 for "
					    "real-time threads)" : "");
	}
	return 0;
}

static int set_resctrl(struct hostres *h, int tid, const struct hostres_tune *t,
		       struct vs_err *err)
{
	char rel[3 * HOSTRES_NAME_MAX + 32], dir[HOSTRES_PATH_MAX + sizeof(rel)], num[24];
	int fd, rc, k;

	fmt_tid(num, sizeof(num), tid);
	for (k = 0; k < 2; k++) {
		if (k == 0 && !t->cachetune[0])
			continue;
		if (k == 1 && !t->monitor[0])
			continue;
		if (k == 0)
			snprintf(rel, sizeof(rel), "%s", t->cachetune);
		else if (t->cachetune[0])
			snprintf(rel, sizeof(rel), "%s/mon_groups/%s", t->cachetune, t->monitor);
		else
			snprintf(rel, sizeof(rel), "mon_groups/%s", t->monitor);
		snprintf(dir, sizeof(dir), "%s/%s", h->resctrl_path, rel);
		if (h->resctrl_fd < 0)
			return vs_err_set(err, ENOENT, "resctrl is not mounted at %s", h->resctrl_path);
		rc = open_beneath(h->resctrl_fd, rel, &fd);
		if (rc < 0)
			return vs_err_set(err, rc, "cannot add thread %s to resctrl group %s: %s", num,
					  dir, strerror(-rc));
		rc = do_write(h, fd, dir, "tasks", num, err);
		close(fd);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/*
 * A thread pinned for the time of its setup: QEMU's thread tid, with its start time and, on
 * kernels that have them (6.9), a pidfd of the thread itself. A thread id is only a number:
 * the thread may exit and the number go to a thread of another process between two acts.
 */
struct pinned {
	int pid, tid, pidfd;
	unsigned long long start; /* 0 when the stat cannot be read (fixture trees) */
	const char *act;          /* the last act done to it */
};

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL /* Linux 6.9 */
#endif

static int stat_start(struct hostres *h, const char *rel, unsigned long long *out);

/* A thread's start time, 0 when it cannot be read. */
static unsigned long long thread_start(struct hostres *h, int pid, int tid)
{
	unsigned long long start = 0;
	char rel[64];

	snprintf(rel, sizeof(rel), "%d/task/%d/stat", pid, tid);
	return stat_start(h, rel, &start) == 0 ? start : 0;
}

static int pin_thread(struct hostres *h, int pid, int tid, struct pinned *t, struct vs_err *err)
{
	*t = (struct pinned){ pid, tid, -1, 0, "none yet" };
	if (h->dry)
		return 0;
	if (tid <= 0 || hostres_is_thread_of(h, pid, tid) != 1)
		return vs_err_set(err, ESRCH, "thread %d is not a thread of QEMU (pid %d): refusing to "
				  "touch it", tid, pid);
	t->start = thread_start(h, pid, tid);
	t->pidfd = (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD);
	if (hostres_is_thread_of(h, pid, tid) != 1) /* it went before the pidfd was taken */
		return vs_err_set(err, ESRCH, "thread %d of QEMU exited before its setup", tid);
	return 0;
}

static void unpin_thread(struct pinned *t)
{
	if (t->pidfd >= 0)
		close(t->pidfd);
	t->pidfd = -1;
}

/*
 * After each act by number: is the thread the one pinned? If not, the act may have reached
 * a thread of another process that got the number: say so, the caller undoes what it can.
 */
static int still_pinned(struct hostres *h, struct pinned *t, const char *act, struct vs_err *err)
{
	bool same;

	if (h->dry)
		return 0;
	if (h->act_hook)
		h->act_hook(h->act_ctx, act);
	same = hostres_is_thread_of(h, t->pid, t->tid) == 1 &&
	       (!t->start || thread_start(h, t->pid, t->tid) == t->start) &&
	       (t->pidfd < 0 || hostres_pidfd_alive(t->pidfd));
	if (same) {
		t->act = act;
		return 0;
	}
	return vs_err_set(err, ESRCH, "thread %d of QEMU (pid %d) exited during its setup, after %s "
			  "(its number may be another process's thread now, which %s may have "
			  "reached): stopped", t->tid, t->pid, t->act, act);
}

int hostres_vcpu_setup(struct hostres *h, int pid, int index, int tid,
		       const struct hostres_tune *t, struct vs_err *err)
{
	char name[32], dir[2 * HOSTRES_PATH_MAX + 32];
	int i, rc = 0, fds[MAX_HIER];
	struct pinned th;

	h->pid = pid;
	rc = pin_thread(h, pid, tid, &th, err);
	if (rc < 0)
		return rc;
	snprintf(name, sizeof(name), "vcpu%d", index);
	for (i = 0; i < MAX_HIER; i++)
		fds[i] = -1;
	/* groups first, the thread moved into each, then the limits */
	for (i = 0; i < h->nh && rc == 0; i++) {
		rc = setup_group(h, &h->hh[i], name, tid, &fds[i], err);
		if (rc == 0)
			rc = still_pinned(h, &th, "its move into a cgroup", err);
	}
	for (i = 0; i < h->nh && rc == 0; i++) {
		struct hier *x = &h->hh[i];

		snprintf(dir, sizeof(dir), "%s/%s", x->full, name);
		if (x->cpuset && t->cpus_src != HR_UNSET) {
			char v[VALUE_MAX];

			mask_text(t->cpus, v, sizeof(v));
			rc = do_write(h, fds[i], dir, "cpuset.cpus", v, err);
		}
		if (rc == 0 && x->cpuset && t->mems_src != HR_UNSET) {
			char v[VALUE_MAX];

			mask_text(t->mems, v, sizeof(v));
			rc = do_write(h, fds[i], dir, "cpuset.mems", v, err);
		}
		if (rc == 0 && x->cpu && t->bw_src != HR_UNSET)
			rc = set_bandwidth(h, x, fds[i], dir, t, err);
	}
	for (i = 0; i < h->nh; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (rc == 0 && t->aff_src != HR_UNSET) {
		rc = set_affinity(h, tid, t->aff, err);
		if (rc < 0 && t->aff_src == HR_DEFAULT) {
			hwarn(h, "%s (ignored: it is only the default)", err->msg);
			memset(err, 0, sizeof(*err));
			rc = 0;
		}
		if (rc == 0)
			rc = still_pinned(h, &th, "its CPU affinity", err);
	}
	if (rc == 0 && t->sched_src != HR_UNSET) {
		rc = set_sched(h, tid, t->policy, t->prio, err);
		if (rc == 0)
			rc = still_pinned(h, &th, "its scheduler policy", err);
	}
	if (rc == 0 && t->rc_src != HR_UNSET) {
		rc = set_resctrl(h, tid, t, err);
		if (rc == 0)
			rc = still_pinned(h, &th, "its resctrl groups", err);
	}
	unpin_thread(&th);
	return rc;
}

void hostres_set_act_hook(struct hostres *h, void (*hook)(void *ctx, const char *act), void *ctx)
{
	h->act_hook = hook;
	h->act_ctx = ctx;
}

int hostres_tasks(struct hostres *h, int pid, int **out, int *n)
{
	char rel[32];
	struct dirent *d;
	int *v = NULL, cap = 0, fd;
	DIR *dir;

	*out = NULL;
	*n = 0;
	snprintf(rel, sizeof(rel), "%d/task", pid);
	fd = openat(h->proc_fd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || !(dir = fdopendir(fd))) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return -e;
	}
	while ((d = readdir(dir))) {
		long t = strtol(d->d_name, NULL, 10);

		if (t <= 0 || t > INT_MAX)
			continue;
		if (*n == cap) {
			int *nv = realloc(v, (size_t)(cap = cap ? 2 * cap : 64) * sizeof(*v));

			if (!nv) {
				free(v);
				closedir(dir);
				return -ENOMEM;
			}
			v = nv;
		}
		v[(*n)++] = (int)t;
	}
	closedir(dir);
	*out = v;
	return 0;
}

int hostres_vcpu_remove(struct hostres *h, int index)
{
	char name[32], dir[2 * HOSTRES_PATH_MAX + 32];
	int i, removed = 0;

	snprintf(name, sizeof(name), "vcpu%d", index);
	for (i = 0; i < h->nh; i++) {
		struct hier *x = &h->hh[i];
		double until = vs_now_ms() + RMDIR_WAIT_MS;
		int rc, fd;

		if (!is_dir_at(x->fd, name))
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", x->full, name);
		if (open_beneath(x->fd, name, &fd) == 0) {
			long stranger = foreign_thread(h, x, fd);

			close(fd);
			if (stranger) {
				hwarn(h, "left cgroup %s alone: it holds thread %ld, which is not QEMU's",
				      dir, stranger);
				continue;
			}
		}
		log_op(h, "rmdir", dir);
		if (h->dry)
			continue;
		while ((rc = unlinkat(x->fd, name, AT_REMOVEDIR)) < 0 && errno == EBUSY &&
		       vs_now_ms() < until)
			usleep(10000); /* the thread is still leaving */
		if (rc < 0)
			hwarn(h, "cannot remove cgroup %s: %s", dir, strerror(errno));
		else
			removed++;
	}
	return removed;
}

/* ---- emulator cpuset.mems ---- */

int hostres_emulator_widen(struct hostres *h, struct vs_err *err)
{
	char nodes[VALUE_MAX];
	int i, fd, rc;

	if (memory_nodes(h, NULL, nodes, sizeof(nodes)) <= 0)
		return 0; /* not a NUMA host */
	for (i = 0; i < h->nh; i++) {
		struct hier *x = &h->hh[i];
		char mnt_rel[HOSTRES_PATH_MAX];
		int mfd;

		if (!x->cpuset || strlen(x->qemu) <= 9 ||
		    strcmp(x->qemu + strlen(x->qemu) - 9, "/emulator") != 0)
			continue;
		mfd = open(x->mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (mfd < 0)
			return 0;
		snprintf(mnt_rel, sizeof(mnt_rel), "%s", x->qemu);
		rc = open_beneath(mfd, mnt_rel, &fd);
		close(mfd);
		if (rc < 0)
			return 0;
		snprintf(h->emu_path, sizeof(h->emu_path), "%s%s", x->mount, x->qemu);
		if (read_at(fd, "cpuset.mems", h->emu_saved, sizeof(h->emu_saved)) < 0 ||
		    strcmp(h->emu_saved, nodes) == 0) {
			close(fd);
			return 0;
		}
		rc = do_write(h, fd, h->emu_path, "cpuset.mems", nodes, err);
		if (rc < 0) {
			hwarn(h, "%s", err->msg);
			memset(err, 0, sizeof(*err));
			close(fd);
			return 0;
		}
		h->emu_fd = fd;
		h->emu_widened = !h->dry;
		return 1;
	}
	return 0;
}

void hostres_emulator_restore(struct hostres *h)
{
	struct vs_err e = { 0 };

	if (h->emu_fd < 0)
		return;
	if (h->emu_widened && do_write(h, h->emu_fd, h->emu_path, "cpuset.mems", h->emu_saved, &e) < 0)
		hwarn(h, "%s", e.msg);
	h->emu_widened = false;
	close(h->emu_fd);
	h->emu_fd = -1;
}

/* ---- a process's start time ---- */

/*
 * The start time in a stat file of procfs (rel: "<pid>/stat" or "<pid>/task/<tid>/stat"):
 * 0, a negative errno when it cannot be read, -EINVAL when it is not in the expected format.
 */
static int stat_start(struct hostres *h, const char *rel, unsigned long long *out)
{
	char buf[2048], *p, *end;
	unsigned long long start;
	int rc, field;

	rc = read_at(h->proc_fd, rel, buf, sizeof(buf));
	if (rc < 0)
		return rc;
	/* the command name may hold spaces and ')': fields count from the last ')' */
	p = strrchr(buf, ')');
	/* p ends field 2; each space found starts the next field: stop at field 22, starttime */
	for (field = 2; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p || !(p[1] >= '0' && p[1] <= '9'))
		return -EINVAL;
	errno = 0;
	start = strtoull(p + 1, &end, 10);
	if (errno || (*end != ' ' && *end != '\0'))
		return -EINVAL;
	*out = start;
	return 0;
}

int hostres_start_time(struct hostres *h, int pid, unsigned long long *out, struct vs_err *err)
{
	char rel[32];
	int rc;

	snprintf(rel, sizeof(rel), "%d/stat", pid);
	rc = stat_start(h, rel, out);
	if (rc == -EINVAL)
		return vs_err_set(err, EINVAL, "/proc/%d/stat has no start time", pid);
	if (rc < 0)
		return vs_err_set(err, rc, "cannot read /proc/%d/stat: %s", pid, strerror(-rc));
	return 0;
}
