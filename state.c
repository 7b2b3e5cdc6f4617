/* SPDX-License-Identifier: GPL-2.0-or-later */
/* state: one directory of per-VM state — each VM's lock and its ledger of unfinished unplugs. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "state.h"

#define LEDGER_MAX (1u << 20)
#define PATH_SIZE 1024

struct state {
	int fd;      /* the directory */
	int lock_fd; /* the VM's lock, held */
	char path[PATH_SIZE];
};

int state_adopt(int dirfd, const char *path, struct state **out, struct vs_err *err)
{
	struct state *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s) {
		close(dirfd);
		return vs_err_set(err, ENOMEM, "out of memory");
	}
	s->fd = dirfd;
	s->lock_fd = -1;
	snprintf(s->path, sizeof(s->path), "%s", path);
	*out = s;
	return 0;
}

int state_open(const char *dir, struct state **out, struct vs_err *err)
{
	char comp[NAME_MAX + 1];
	const char *p = dir;
	struct stat st;
	int fd, nfd;

	*out = NULL;
	if (dir[0] != '/')
		return vs_err_set(err, EINVAL, "the state directory %s is not an absolute path", dir);
	if (strlen(dir) >= PATH_SIZE)
		return vs_err_set(err, ENAMETOOLONG, "the state directory path is too long");
	/* one component at a time, never through a symlink; only the last one is made */
	fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return vs_err_set(err, errno, "cannot open /: %s", strerror(errno));
	while (*p) {
		size_t n;
		bool last;

		p += strspn(p, "/");
		n = strcspn(p, "/");
		if (n == 0)
			break;
		last = p[n + strspn(p + n, "/")] == '\0';
		if (n > NAME_MAX || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) {
			close(fd);
			return vs_err_set(err, EINVAL, "the state directory %s has a '.' or '..' "
					  "component", dir);
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		p += n;
		if (last && mkdirat(fd, comp, 0700) < 0 && errno != EEXIST) {
			int e = errno;

			close(fd);
			return vs_err_set(err, e, "cannot create the state directory %s: %s", dir,
					  strerror(e));
		}
		nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0) {
			int e = errno;

			if (fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
				e = ELOOP;
			close(fd);
			if (e == ELOOP)
				return vs_err_set(err, e, "the state directory %s: its path goes "
						  "through a symlink ('%s'): refusing", dir, comp);
			return vs_err_set(err, e, "the state directory %s: %s", dir, strerror(e));
		}
		close(fd);
		fd = nfd;
	}
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 022)) {
		close(fd);
		return vs_err_set(err, EPERM, "the state directory %s must be owned by uid %d and "
				  "writable by it alone", dir, (int)geteuid());
	}
	return state_adopt(fd, dir, out, err);
}

void state_free(struct state *s)
{
	if (!s)
		return;
	if (s->lock_fd >= 0)
		close(s->lock_fd); /* releases the flock */
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

int state_lock(struct state *s, unsigned long long dev, unsigned long long ino, double timeout_s,
	       struct vs_err *err)
{
	double until = vs_now_ms() + timeout_s * 1000.0;
	char name[96], holder[32], mine[32];
	struct stat st;
	int fd;

	snprintf(name, sizeof(name), "sock-%llu-%llu.lock", dev, ino);
	fd = openat(s->fd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0)
		return vs_err_set(err, errno, "cannot open the lock %s/%s: %s", s->path, name,
				  strerror(errno));
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			int e = errno;

			close(fd);
			return vs_err_set(err, e, "cannot lock %s/%s: %s", s->path, name, strerror(e));
		}
		if (vs_now_ms() >= until) {
			ssize_t n = pread(fd, holder, sizeof(holder) - 1, 0);

			holder[n > 0 ? n : 0] = '\0';
			holder[strcspn(holder, "\n")] = '\0';
			close(fd);
			return vs_err_set(err, EWOULDBLOCK, "another vcpuset (pid %s) is changing this VM; "
					  "gave up after %.3g s (--lock-timeout)",
					  holder[0] ? holder : "?", timeout_s);
		}
		usleep(20000);
	}
	snprintf(mine, sizeof(mine), "%d\n", (int)getpid());
	/* in place; truncated only when an earlier holder's pid was longer (a truncate costs) */
	if (pwrite(fd, mine, strlen(mine), 0) == (ssize_t)strlen(mine) && fstat(fd, &st) == 0 &&
	    st.st_size > (off_t)strlen(mine))
		(void)!ftruncate(fd, (off_t)strlen(mine)); /* the pid is only a hint for others */
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	s->lock_fd = fd;
	return 0;
}

static void key_name(const struct state_key *k, char *buf, size_t size)
{
	snprintf(buf, size, "qemu-%d-%llu.json", k->pid, k->start);
}

/* ---- the ledger's format: this file's alone ---- */

static int json_int(const cJSON *o, const char *k, long long min, long long max, long long *v)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!cJSON_IsNumber(x) || x->valuedouble < (double)min || x->valuedouble > (double)max ||
	    x->valuedouble != (double)(long long)x->valuedouble)
		return -EINVAL;
	*v = (long long)x->valuedouble;
	return 0;
}

static int json_text(const cJSON *o, const char *k, char *buf, size_t size)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));

	if (!v || strlen(v) >= size)
		return -EINVAL;
	snprintf(buf, size, "%s", v);
	return 0;
}

static const char *const kind_names[] = { "pending", "plug", "unplug" };

/* An entry's kind: "kind" absent is a pending unplug (the ledgers written before intents). */
static int kind_from(const cJSON *o, enum state_kind *kind)
{
	const cJSON *k = cJSON_GetObjectItemCaseSensitive(o, "kind");
	size_t i;

	*kind = STATE_PENDING;
	if (!k)
		return 0;
	for (i = 0; i < sizeof(kind_names) / sizeof(*kind_names); i++)
		if (cJSON_IsString(k) && strcmp(k->valuestring, kind_names[i]) == 0) {
			*kind = (enum state_kind)i;
			return 0;
		}
	return -EINVAL;
}

/* Settings: optional, printable, one line. */
static int settings_from(const cJSON *o, char *buf, size_t size)
{
	const char *p;

	buf[0] = '\0';
	if (!cJSON_HasObjectItem(o, "settings"))
		return 0;
	if (json_text(o, "settings", buf, size) < 0)
		return -EINVAL;
	for (p = buf; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return -EINVAL;
	return 0;
}

/* One entry from the file: every field present, in range, of the right type. */
static int entry_from(const cJSON *o, struct state_entry *e)
{
	long long v[6];

	memset(e, 0, sizeof(*e));
	if (kind_from(o, &e->kind) < 0 || settings_from(o, e->settings, sizeof(e->settings)) < 0)
		return -EINVAL;
	if (!cJSON_IsObject(o) || json_int(o, "vcpu", 0, INT_MAX, &v[0]) < 0 ||
	    json_int(o, "vcpus", 1, INT_MAX, &v[1]) < 0 || json_int(o, "tid", 0, INT_MAX, &v[2]) < 0 ||
	    json_int(o, "old", 0, INT_MAX, &v[3]) < 0 || json_int(o, "new", 0, INT_MAX, &v[4]) < 0 ||
	    json_int(o, "time", 0, LLONG_MAX / 2, &v[5]) < 0 ||
	    json_text(o, "alias", e->alias, sizeof(e->alias)) < 0 || !e->alias[0] ||
	    json_text(o, "qom_path", e->qom_path, sizeof(e->qom_path)) < 0)
		return -EINVAL;
	e->vcpu = (int)v[0];
	e->vcpus = (int)v[1];
	e->tid = (int)v[2];
	e->old_count = (int)v[3];
	e->new_count = (int)v[4];
	e->time = v[5];
	e->refused = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "refused"));
	e->recorded = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "recorded"));
	return 0;
}

cJSON *state_entry_json(const struct state_entry *e)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	if (e->kind != STATE_PENDING)
		cJSON_AddStringToObject(o, "kind", kind_names[e->kind]);
	cJSON_AddNumberToObject(o, "vcpu", e->vcpu);
	cJSON_AddNumberToObject(o, "vcpus", e->vcpus);
	cJSON_AddStringToObject(o, "alias", e->alias);
	cJSON_AddStringToObject(o, "qom_path", e->qom_path);
	cJSON_AddNumberToObject(o, "tid", e->tid);
	cJSON_AddNumberToObject(o, "old", e->old_count);
	cJSON_AddNumberToObject(o, "new", e->new_count);
	cJSON_AddNumberToObject(o, "time", (double)e->time);
	if (e->refused)
		cJSON_AddTrueToObject(o, "refused");
	if (e->recorded)
		cJSON_AddTrueToObject(o, "recorded");
	if (e->settings[0])
		cJSON_AddStringToObject(o, "settings", e->settings);
	return o;
}

int state_load(struct state *s, const struct state_key *k, struct state_entry **out, int *n,
	       char *why, size_t why_size)
{
	const cJSON *pid, *start, *pending, *it;
	char name[96], dummy[8], *text = NULL;
	cJSON *doc;
	struct stat st;
	int fd, rc, i = 0;

	*out = NULL;
	*n = 0;
	if (!why) {
		why = dummy;
		why_size = sizeof(dummy);
	}
	why[0] = '\0';
	key_name(k, name, sizeof(name));
	fd = openat(s->fd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno != ENOENT)
			snprintf(why, why_size, "state file %s/%s: %s; ignored", s->path, name,
				 errno == ELOOP ? "a symlink" : strerror(errno));
		return 0;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)LEDGER_MAX ||
	    st.st_uid != geteuid()) {
		close(fd);
		snprintf(why, why_size, "state file %s/%s is not a regular file of ours under 1 MiB; "
			 "ignored", s->path, name);
		return 0;
	}
	rc = vs_read_fd(fd, LEDGER_MAX + 1, &text); /* the file just checked, not its name again */
	close(fd);
	if (rc < 0) {
		snprintf(why, why_size, "state file %s/%s: %s; ignored", s->path, name, strerror(-rc));
		return 0;
	}
	doc = cJSON_ParseWithLength(text, (size_t)rc);
	free(text);
	pid = cJSON_GetObjectItemCaseSensitive(doc, "qemu_pid");
	start = cJSON_GetObjectItemCaseSensitive(doc, "qemu_start");
	pending = cJSON_GetObjectItemCaseSensitive(doc, "pending");
	if (!cJSON_IsObject(doc) || !cJSON_IsNumber(pid) || !cJSON_IsNumber(start) ||
	    !cJSON_IsArray(pending) || pid->valuedouble != (double)k->pid ||
	    start->valuedouble != (double)k->start) {
		snprintf(why, why_size, "state file %s/%s is torn or not this VM's; ignored", s->path,
			 name);
		cJSON_Delete(doc);
		return 0;
	}
	*out = calloc((size_t)cJSON_GetArraySize(pending) + 1, sizeof(**out));
	if (!*out) {
		cJSON_Delete(doc);
		return -ENOMEM;
	}
	cJSON_ArrayForEach(it, pending) {
		if (entry_from(it, &(*out)[i]) == 0)
			i++;
		else
			snprintf(why, why_size, "%s", "a pending-unplug entry is malformed; dropped");
	}
	*n = i;
	cJSON_Delete(doc);
	return 0;
}

/*
 * Write text and a newline as the file name of the directory, all or nothing (a temporary
 * file 0600, then rename). No fsync: the state describes live processes and must survive a
 * killed vcpuset, which the page cache does; after a host crash its VMs are gone and so is
 * its meaning.
 */
static int write_file(struct state *s, const char *name, const char *text, bool nl,
		      struct vs_err *err)
{
	size_t len = strlen(text);
	char tmp[160];
	int fd, rc = 0;

	snprintf(tmp, sizeof(tmp), ".%s.%d.tmp", name, (int)getpid());
	fd = openat(s->fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return vs_err_set(err, errno, "cannot create %s/%s: %s", s->path, tmp, strerror(errno));
	if (write(fd, text, len) != (ssize_t)len || (nl && write(fd, "\n", 1) != 1))
		rc = vs_err_set(err, errno ? errno : EIO, "cannot write %s/%s: %s", s->path, tmp,
				strerror(errno ? errno : EIO));
	if (close(fd) < 0 && rc == 0)
		rc = vs_err_set(err, errno, "cannot write %s/%s: %s", s->path, tmp, strerror(errno));
	if (rc == 0 && renameat(s->fd, tmp, s->fd, name) < 0)
		rc = vs_err_set(err, errno, "cannot rename %s/%s: %s", s->path, tmp, strerror(errno));
	if (rc < 0)
		unlinkat(s->fd, tmp, 0);
	return rc;
}

int state_save(struct state *s, const struct state_key *k, const struct state_entry *e, int n,
	       struct vs_err *err)
{
	char name[96], *text;
	cJSON *doc, *pending;
	int rc, i;

	key_name(k, name, sizeof(name));
	if (n == 0) {
		if (unlinkat(s->fd, name, 0) < 0 && errno != ENOENT)
			return vs_err_set(err, errno, "cannot remove %s/%s: %s", s->path, name,
					  strerror(errno));
		return 0;
	}
	doc = cJSON_CreateObject();
	cJSON_AddNumberToObject(doc, "vcpuset_ledger", 1);
	cJSON_AddNumberToObject(doc, "qemu_pid", k->pid);
	cJSON_AddNumberToObject(doc, "qemu_start", (double)k->start);
	pending = cJSON_AddArrayToObject(doc, "pending");
	for (i = 0; i < n; i++)
		cJSON_AddItemToArray(pending, state_entry_json(&e[i]));
	text = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	if (!text)
		return vs_err_set(err, ENOMEM, "out of memory");
	rc = write_file(s, name, text, true, err);
	free(text);
	return rc;
}

int state_groups_save(struct state *s, const struct state_key *k, const char *const *parents,
		      int n, struct vs_err *err)
{
	char name[96], *text;
	size_t len = 1, o = 0;
	int i, rc;

	snprintf(name, sizeof(name), "qemu-%d-%llu.groups", k->pid, k->start);
	for (i = 0; i < n; i++)
		len += strlen(parents[i]) + 1;
	text = calloc(1, len);
	if (!text)
		return vs_err_set(err, ENOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		if (parents[i][0] != '/' || strchr(parents[i], '\n')) {
			free(text);
			return vs_err_set(err, EINVAL, "'%s' is not an absolute path", parents[i]);
		}
		o += (size_t)snprintf(text + o, len - o, "%s%s", parents[i], i + 1 < n ? "\n" : "");
	}
	rc = write_file(s, name, text, true, err);
	free(text);
	return rc;
}

int state_file_put(struct state *s, const struct state_key *k, const char *suffix,
		   const char *text, struct vs_err *err)
{
	char name[128];

	snprintf(name, sizeof(name), "qemu-%d-%llu.%s", k->pid, k->start, suffix);
	if (text)
		return write_file(s, name, text, false, err);
	if (unlinkat(s->fd, name, 0) < 0 && errno != ENOENT)
		return vs_err_set(err, errno, "cannot remove %s/%s: %s", s->path, name, strerror(errno));
	return 0;
}

char *state_file_get(struct state *s, const struct state_key *k, const char *suffix)
{
	char name[128], *text = NULL;
	struct stat st;
	int fd;

	snprintf(name, sizeof(name), "qemu-%d-%llu.%s", k->pid, k->start, suffix);
	fd = openat(s->fd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    st.st_size > (off_t)LEDGER_MAX || vs_read_fd(fd, LEDGER_MAX + 1, &text) < 0)
		text = NULL;
	close(fd);
	return text;
}

/* The parents listed in the groups file name, each to fn (a gone VM's). */
static void each_parent(struct state *s, const char *name, void (*fn)(void *ctx, const char *p),
			void *ctx)
{
	char *text = NULL, *line, *save = NULL;
	struct stat st;
	int fd;

	fd = openat(s->fd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= 65536 &&
	    vs_read_fd(fd, 65537, &text) >= 0)
		for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			if (line[0] == '/')
				fn(ctx, line);
	free(text);
	close(fd);
}

/* The files of a VM: its ledger, its groups, libvirt's (state_file_put's). */
static bool known_suffix(const char *end)
{
	static const char *const known[] = { ".json", ".groups", ".libvirt.xml", ".cputune", NULL };
	int i;

	for (i = 0; known[i]; i++)
		if (strcmp(end, known[i]) == 0)
			return true;
	return false;
}

void state_gc(struct state *s, bool (*alive)(void *ctx, const struct state_key *k),
	      void (*removed)(void *ctx, const char *name),
	      void (*groups)(void *ctx, const char *parent), void *ctx)
{
	struct dirent *d;
	DIR *dir;
	int fd;

	fd = openat(s->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(dir = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((d = readdir(dir))) {
		struct state_key k;
		char *end;
		long pid;

		/* qemu-<pid>-<start>.json, as key_name makes them */
		if (strncmp(d->d_name, "qemu-", 5) != 0)
			continue;
		errno = 0;
		pid = strtol(d->d_name + 5, &end, 10);
		if (errno || pid <= 0 || pid > INT_MAX || *end != '-' || !(end[1] >= '0' && end[1] <= '9'))
			continue;
		k.pid = (int)pid;
		k.start = strtoull(end + 1, &end, 10);
		if (errno || !known_suffix(end) || alive(ctx, &k))
			continue;
		if (strcmp(end, ".groups") == 0 && groups)
			each_parent(s, d->d_name, groups, ctx);
		if (unlinkat(dirfd(dir), d->d_name, 0) == 0 && removed)
			removed(ctx, d->d_name);
	}
	closedir(dir);
}
