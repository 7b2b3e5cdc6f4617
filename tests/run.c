/* SPDX-License-Identifier: GPL-2.0-or-later */
/* run: exec the built vcpuset binary and capture what it says (tests only). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <fcntl.h>
#include <signal.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "peer.h"
#include "qmp.h"
#include "run.h"
#include "vcpuset.h"

static void drain(int fd, char **buf, size_t *len)
{
	char tmp[4096];
	ssize_t n = read(fd, tmp, sizeof(tmp));

	if (n <= 0)
		return;
	*buf = realloc(*buf, *len + (size_t)n + 1);
	memcpy(*buf + *len, tmp, (size_t)n);
	*len += (size_t)n;
	(*buf)[*len] = '\0';
}

static char sysroot[128]; /* the fixture tree runs use, "" for the real host */

void run_start(struct run_proc *p, const char *const *args)
{
	const char *bin = getenv("VCPUSET_BIN") ? getenv("VCPUSET_BIN") : "./vcpuset";
	const char *argv[64];
	int po[2], pe[2], i, n = 1;

	memset(p, 0, sizeof(*p));
	argv[0] = bin;
	if (sysroot[0]) {
		argv[n++] = "--sysroot";
		argv[n++] = sysroot;
	}
	for (i = 0; args[i] && n < 63; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if (pipe(po) < 0 || pipe(pe) < 0)
		abort();
	p->pid = fork();
	if (p->pid == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]);
		close(pe[0]);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	p->fd[0] = po[0];
	p->fd[1] = pe[0];
	p->out = calloc(1, 1);
	p->err = calloc(1, 1);
}

/* Read what is there; returns the number of streams still open. */
static int pump(struct run_proc *p, int timeout_ms)
{
	struct pollfd pf[2] = { { p->fd[0], POLLIN, 0 }, { p->fd[1], POLLIN, 0 } };
	int i, open_fds = 0;

	poll(pf, 2, timeout_ms);
	for (i = 0; i < 2; i++) {
		if (pf[i].revents & POLLIN)
			drain(pf[i].fd, i ? &p->err : &p->out, i ? &p->lerr : &p->lout);
		else if (pf[i].revents & (POLLHUP | POLLERR)) {
			close(p->fd[i]);
			p->fd[i] = -1; /* poll ignores it from now on */
		}
		if (p->fd[i] >= 0)
			open_fds++;
	}
	return open_fds;
}

/* Pump p until *text (its out or err, which pumping may move) holds needle, or the time is up. */
static bool wait_text(struct run_proc *p, char **text, const char *needle, int timeout_ms)
{
	double until = vs_now_ms() + timeout_ms;

	while (!strstr(*text, needle) && vs_now_ms() < until)
		if (pump(p, 5) == 0)
			break;
	return strstr(*text, needle) != NULL;
}

bool run_wait_stderr(struct run_proc *p, const char *needle, int timeout_ms)
{
	return wait_text(p, &p->err, needle, timeout_ms);
}

bool run_wait_stdout(struct run_proc *p, const char *needle, int timeout_ms)
{
	return wait_text(p, &p->out, needle, timeout_ms);
}

void run_finish(struct run_proc *p, struct run_result *r)
{
	int st;

	while (pump(p, -1))
		;
	waitpid(p->pid, &st, 0);
	memset(r, 0, sizeof(*r));
	r->exit = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	r->out = p->out;
	r->err = p->err;
	r->json = cJSON_Parse(r->out);
	p->out = p->err = NULL;
}

void run_vcpuset(struct run_result *r, const char *const *args)
{
	struct run_proc p;

	run_start(&p, args);
	run_finish(&p, r);
}

void run_free(struct run_result *r)
{
	free(r->out);
	free(r->err);
	cJSON_Delete(r->json);
	memset(r, 0, sizeof(*r));
}

cJSON *run_item(const cJSON *o, const char *k)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	cr_assert_not_null(v, "JSON has no '%s'", k);
	return v;
}

void run_assert_nothing_sent(struct peer *p)
{
	static const char *const changing[] = { "\"device_add\"", "\"device_del\"", "\"cpu-add\"" };
	char *log = peer_log(p);
	size_t i;

	for (i = 0; i < sizeof(changing) / sizeof(*changing); i++)
		cr_assert_null(strstr(log, changing[i]), "%s was sent: %s", changing[i], log);
	free(log);
}

void run_remove_dir(const char *dir)
{
	char p[512];
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			unlink(p);
		}
	if (d)
		closedir(d);
	rmdir(dir);
}

char *run_read_file(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, size - 1, f) : 0;

	buf[n] = '\0';
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	if (f)
		fclose(f);
	return buf;
}

/* The guest's own last word on its online CPUs. */
static void guest_online(const char *serial, char *buf, size_t size)
{
	FILE *f = fopen(serial, "r");
	char line[256];

	buf[0] = '\0';
	cr_assert_not_null(f, "serial log %s", serial);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VCPUSET-ONLINE ", 15) == 0) {
			line[strcspn(line, "\r\n")] = '\0';
			snprintf(buf, size, "%.63s", line + 15);
		}
	fclose(f);
}

/* The number of CPUs in a cpulist ("0-3,5" is 5); -1 if it is not one. */
static int cpulist_count(const char *s)
{
	int n = 0;

	while (*s) {
		char *end;
		long a = strtol(s, &end, 10), b = a;

		if (end == s)
			return -1;
		if (*end == '-') {
			s = end + 1;
			b = strtol(s, &end, 10);
			if (end == s || b < a)
				return -1;
		}
		n += (int)(b - a + 1);
		s = *end == ',' ? end + 1 : end;
		if (*end && *end != ',')
			return -1;
	}
	return n;
}

void run_wait_guest_count(const char *serial, int want, int timeout_ms)
{
	double deadline = vs_now_ms() + timeout_ms;
	char got[64] = "";

	for (;;) {
		guest_online(serial, got, sizeof(got));
		if (cpulist_count(got) == want)
			return;
		if (vs_now_ms() >= deadline)
			break;
		usleep(50000);
	}
	cr_assert_fail("guest shows CPUs '%s' online, want %d of them", got, want);
}

cJSON *run_qmp_args(const char *sock, const char *cmd, const char *args)
{
	struct vs_err e = { 0 };
	struct qmp *q = NULL;
	cJSON *a = args ? cJSON_Parse(args) : NULL, *ret = NULL;
	int rc;

	cr_assert(!args || a, "arguments %s", args);
	rc = qmp_connect(sock, 3000, &q, &e);
	if (rc == 0)
		rc = qmp_handshake(q, 3000, &e);
	if (rc == 0)
		rc = qmp_execute(q, cmd, a, 10000, &ret, &e);
	qmp_free(q);
	cJSON_Delete(a);
	cr_assert_eq(rc, 0, "QMP '%s' on %s: %s", cmd, sock, e.msg);
	return ret;
}

void run_qmp(const char *sock, const char *cmd)
{
	cJSON_Delete(run_qmp_args(sock, cmd, NULL));
}

pid_t run_qemu(const char *dir, const char *const *extra, char *sock, size_t size)
{
	const char *out = getenv("VCPUSET_GUEST_OUT");
	char kernel[256], initrd[256], serial[256], qmp[256];
	const char *argv[48] = { "qemu-system-x86_64", "-machine", "q35", "-accel", "tcg", "-cpu",
				 "qemu64", "-m", "256", "-smp", "2,maxcpus=8", "-display", "none",
				 "-no-reboot", "-kernel", kernel, "-initrd", initrd, "-serial", serial,
				 "-qmp", qmp };
	int n = 22, i;
	pid_t pid;

	cr_assert_not_null(out, "run through tests/guest/run.sh, which exports VCPUSET_GUEST_OUT");
	snprintf(kernel, sizeof(kernel), "%s/vmlinuz", out);
	snprintf(initrd, sizeof(initrd), "%s/initrd.gz", out);
	snprintf(serial, sizeof(serial), "file:%s/serial.log", dir);
	snprintf(sock, size, "%s/qmp.sock", dir);
	snprintf(qmp, sizeof(qmp), "unix:%s,server=on,wait=off", sock);
	for (i = 0; extra[i] && n < 46; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(null, 1);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	for (i = 0; i < 300 && access(sock, F_OK) != 0; i++)
		usleep(10000);
	cr_assert_eq(access(sock, F_OK), 0, "QEMU made its monitor socket %s", sock);
	return pid;
}

void run_qemu_stop(pid_t pid)
{
	int i;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (i = 0; i < 100 && waitpid(pid, NULL, WNOHANG) == 0; i++)
		usleep(50000);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

void run_wait_guest(const char *serial, const char *want, int timeout_ms)
{
	double deadline = vs_now_ms() + timeout_ms;
	char got[64] = "";

	for (;;) {
		guest_online(serial, got, sizeof(got));
		if (strcmp(got, want) == 0)
			return;
		if (vs_now_ms() >= deadline)
			break;
		usleep(50000);
	}
	cr_assert_fail("guest shows CPUs '%s' online, want '%s'", got, want);
}

bool run_has_warning(const struct run_result *res, const char *needle)
{
	const cJSON *w;

	cJSON_ArrayForEach(w, run_item(res->json, "warnings"))
		if (strstr(w->valuestring, needle))
			return true;
	return false;
}

/* LD_PRELOAD tests/NAME.so into the vcpuset runs from now on. */
static void preload(const char *name)
{
	char so[PATH_MAX], rel[64], asan[512];
	const char *old = getenv("ASAN_OPTIONS");

	snprintf(rel, sizeof(rel), "tests/%s.so", name);
	cr_assert_not_null(realpath(rel, so), "make %s", rel);
	setenv("LD_PRELOAD", so, 1);
	/* a sanitized vcpuset wants its runtime first: the shim is not sanitized */
	if (!old || !strstr(old, "verify_asan_link_order")) {
		snprintf(asan, sizeof(asan), "%s%sverify_asan_link_order=0", old ? old : "",
			 old ? ":" : "");
		setenv("ASAN_OPTIONS", asan, 1);
	}
}

void run_audit_shim(const char *mode, char *log, size_t size)
{
	preload("audit_shim");
	snprintf(log, size, "/tmp/vcpuset-shim-%d.log", (int)getpid());
	unlink(log);
	setenv("VCPUSET_SHIM_LOG", log, 1);
	if (mode)
		setenv("VCPUSET_SHIM_AUDIT", mode, 1);
	else
		unsetenv("VCPUSET_SHIM_AUDIT");
}

void run_core_shim(const char *cookies)
{
	preload("core_shim");
	setenv("VCPUSET_SHIM_CORE", cookies, 1);
}

/* ---- the fixture host (--sysroot) ---- */

void run_sysroot_put(const char *rel, const char *text)
{
	char p[512], *s;
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", sysroot, rel);
	for (s = strchr(p + strlen(sysroot) + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		mkdir(p, 0755);
		*s = '/';
	}
	if (!text) {
		mkdir(p, 0755);
		return;
	}
	f = fopen(p, "w");
	cr_assert_not_null(f, "fixture %s", p);
	fputs(text, f);
	fclose(f);
}

/* The host's file at path, copied into the fixture at the same place ("" when it has none). */
static void fx_copy(const char *path)
{
	char buf[4096];

	run_read_file(path, buf, sizeof(buf));
	strcat(buf, "\n");
	run_sysroot_put(path + 1, buf);
}

void run_sysroot(int qemu_pid)
{
	static const char *const hier[] = { "cpu", "cpuacct", "cpuset", "unified" };
	char p[512], mi[2048];
	size_t i, o = 0;

	snprintf(sysroot, sizeof(sysroot), "/tmp/vcpuset-root-%d", (int)getpid());
	run_sysroot_off();
	snprintf(sysroot, sizeof(sysroot), "/tmp/vcpuset-root-%d", (int)getpid());
	mkdir(sysroot, 0755);
	/* the cgroup mounts of a v1 host (as Debian's container hosts), QEMU in their roots */
	for (i = 0; i < sizeof(hier) / sizeof(*hier); i++) {
		bool v2 = strcmp(hier[i], "unified") == 0;

		o += (size_t)snprintf(mi + o, sizeof(mi) - o, "%zu 30 0:%zu / /sys/fs/cgroup/%s rw - %s "
				      "%s rw%s%s\n", 31 + i, 28 + i, hier[i], v2 ? "cgroup2" : "cgroup",
				      v2 ? "cgroup2" : "cgroup", v2 ? "" : ",", v2 ? "" : hier[i]);
		snprintf(p, sizeof(p), "sys/fs/cgroup/%s/%s", hier[i], v2 ? "cgroup.procs" : "tasks");
		run_sysroot_put(p, "");
		snprintf(p, sizeof(p), "sys/fs/cgroup/%s/cgroup.procs", hier[i]);
		run_sysroot_put(p, "");
	}
	run_sysroot_put("proc/self/mountinfo", mi);
	run_sysroot_put("proc/self/cgroup", "3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n0::/\n");
	run_sysroot_put("sys/fs/cgroup/unified/cgroup.controllers", "\n");
	fx_copy("/sys/fs/cgroup/cpuset/cpuset.cpus");
	fx_copy("/sys/fs/cgroup/cpuset/cpuset.mems");
	fx_copy("/sys/devices/system/cpu/online");
	fx_copy("/sys/devices/system/cpu/isolated");
	fx_copy("/sys/devices/system/node/online");
	fx_copy("/sys/devices/system/node/has_memory");
	run_sysroot_put("run", NULL);
	run_sysroot_add(qemu_pid);
}

void run_sysroot_add(int pid)
{
	char p[256], link[64];

	/* QEMU's own entries are the kernel's: the peer is a real process */
	snprintf(p, sizeof(p), "%s/proc/%d", sysroot, pid);
	snprintf(link, sizeof(link), "/proc/%d", pid);
	cr_assert_eq(symlink(link, p), 0, "fixture %s", p);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 ? 0 : 0;
}

void run_sysroot_off(void)
{
	if (sysroot[0])
		nftw(sysroot, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	sysroot[0] = '\0';
}

const char *run_sysroot_dir(void)
{
	return sysroot;
}

void run_real_host(void)
{
	run_sysroot_off();
	if (geteuid() != 0)
		cr_skip_test("needs root: the real cgroup v1 hierarchy and scheduler (run as root in "
			     "make check)");
}

void run_online_vcpus(const char *sock, char *buf, size_t size)
{
	struct run_result r;
	cJSON *v;
	size_t o = 0;

	run_vcpuset(&r, (const char *const[]){ "--json", "--no-audit", "--status", "--socket", sock,
					       NULL });
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	buf[0] = '\0';
	cJSON_ArrayForEach(v, run_item(r.json, "vcpus"))
		if (cJSON_IsTrue(run_item(v, "online")) && o < size)
			o += (size_t)snprintf(buf + o, size - o, "%s%d", o ? "," : "",
					      run_item(v, "index")->valueint);
	run_free(&r);
}
