/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * hostres on fixture trees: what this machine cannot give for real (cgroup v2 controllers, a
 * libvirt machine.slice layout, hybrid hosts, resctrl). Each test builds a tree under /tmp
 * with a mountinfo naming its directories, the files the kernel would show, and the real pid
 * and a real thread id of this process (so affinity and policy are real syscalls), then
 * checks the files vcpuset wrote and the changes it logged.
 */
#include <criterion/criterion.h>
#include <ftw.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hostres.h"

static char root[64];
static struct hostres *h;
static cJSON *log_;
static cJSON *warnings;
static int pid, tid;
static pthread_t thread;
static int thread_pipe[2];
static struct vs_err err;

static void *sleeper(void *arg)
{
	char c;

	*(int *)arg = (int)syscall(SYS_gettid);
	if (read(thread_pipe[0], &c, 1) < 0)
		return NULL;
	return NULL;
}

static void fx_mkdir(const char *rel)
{
	char p[512], *s;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	for (s = p + strlen(root) + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			mkdir(p, 0755);
			*s = '/';
		}
	mkdir(p, 0755);
}

static void fx_put(const char *rel, const char *text)
{
	char p[512], dir[512], *slash;
	FILE *f;

	snprintf(dir, sizeof(dir), "%s", rel);
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		fx_mkdir(dir);
	}
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	f = fopen(p, "w");
	cr_assert_not_null(f, "%s", p);
	fputs(text, f);
	fclose(f);
}

static const char *fx_get(const char *rel)
{
	static char buf[4096];
	char p[512];
	size_t n;
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	f = fopen(p, "r");
	cr_assert_not_null(f, "%s", p);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static bool fx_exists(const char *rel)
{
	char p[512];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	return lstat(p, &st) == 0;
}

static void collect_warning(void *ctx, const char *msg)
{
	(void)ctx;
	cJSON_AddItemToArray(warnings, cJSON_CreateString(msg));
}

static cJSON *notes;

static void collect_note(void *ctx, const char *msg)
{
	(void)ctx;
	cJSON_AddItemToArray(notes, cJSON_CreateString(msg));
}

static void setup(void)
{
	char p[128];

	snprintf(root, sizeof(root), "/tmp/vcpuset-fx-XXXXXX");
	cr_assert_not_null(mkdtemp(root));
	cr_assert_eq(pipe(thread_pipe), 0);
	tid = 0;
	cr_assert_eq(pthread_create(&thread, NULL, sleeper, &tid), 0);
	while (!__atomic_load_n(&tid, __ATOMIC_SEQ_CST))
		usleep(1000);
	pid = getpid();
	snprintf(p, sizeof(p), "proc/%d/task/%d", pid, tid);
	fx_mkdir(p);
	fx_put("sys/devices/system/cpu/online", "0-1\n");
	fx_put("sys/devices/system/cpu/isolated", "\n");
	fx_put("sys/devices/system/node/online", "0-1\n");
	log_ = cJSON_CreateArray();
	warnings = cJSON_CreateArray();
	notes = cJSON_CreateArray();
	memset(&err, 0, sizeof(err));
	h = NULL;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void teardown(void)
{
	hostres_free(h);
	cJSON_Delete(log_);
	cJSON_Delete(warnings);
	cJSON_Delete(notes);
	if (write(thread_pipe[1], "x", 1) == 1)
		pthread_join(thread, NULL);
	close(thread_pipe[0]);
	close(thread_pipe[1]);
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(hostres, .init = setup, .fini = teardown, .timeout = 20);

/* Open hostres on the fixture, resctrl at <root>/resctrl. */
static void open_fx(void)
{
	char proc[96], sys[96], rc[96];
	struct hostres_roots roots = { proc, sys, rc, NULL };

	snprintf(proc, sizeof(proc), "%s/proc", root);
	snprintf(sys, sizeof(sys), "%s/sys", root);
	snprintf(rc, sizeof(rc), "%s/resctrl", root);
	cr_assert_eq(hostres_open(&roots, &h, &err), 0, "%s", err.msg);
	hostres_set_log(h, log_);
	hostres_set_warn(h, collect_warning, NULL);
	hostres_set_note(h, collect_note, NULL);
}

static void put_mountinfo(const char *lines)
{
	char buf[2048], *d = buf;
	const char *s;

	/* "@" in the lines stands for the fixture root */
	for (s = lines; *s && d < buf + sizeof(buf) - 80; s++) {
		if (*s == '@')
			d += snprintf(d, 80, "%s", root);
		else
			*d++ = *s;
	}
	*d = '\0';
	fx_put("proc/self/mountinfo", buf);
}

static void put_qemu_cgroup(const char *text)
{
	char p[64];

	snprintf(p, sizeof(p), "proc/%d/cgroup", pid);
	fx_put(p, text);
}

/* The kernel's files of a fresh v2 group (mkdir in a fixture makes an empty directory). */
static void v2_group(const char *rel)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/cgroup.type", rel);
	fx_put(p, "domain\n");
	snprintf(p, sizeof(p), "%s/cgroup.threads", rel);
	fx_put(p, "");
	snprintf(p, sizeof(p), "%s/cpu.max", rel);
	fx_put(p, "max 100000\n");
	snprintf(p, sizeof(p), "%s/cpuset.cpus", rel);
	fx_put(p, "\n");
	snprintf(p, sizeof(p), "%s/cpuset.mems", rel);
	fx_put(p, "\n");
}

#define SCOPE "cg/machine.slice/machine-qemu\\x2d1\\x2dvm1.scope"

/* libvirt on a systemd host with pure cgroup v2: QEMU in .../libvirt/emulator. */
static void v2_libvirt_tree(void)
{
	put_mountinfo("25 1 0:22 / /sys/fs/cgroup/x rw - tmpfs tmpfs rw\n"
		      "26 1 0:23 / @/cg rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n");
	put_qemu_cgroup("0::/machine.slice/machine-qemu\\x2d1\\x2dvm1.scope/libvirt/emulator\n");
	fx_put("cg/cgroup.controllers", "cpuset cpu io memory pids\n");
	fx_put(SCOPE "/libvirt/cgroup.controllers", "cpuset cpu\n");
	fx_put(SCOPE "/libvirt/cgroup.subtree_control", "\n");
	fx_put(SCOPE "/libvirt/cpuset.cpus.effective", "0-1\n");
	fx_put(SCOPE "/libvirt/cpuset.mems.effective", "0-1\n");
	fx_put(SCOPE "/libvirt/emulator/cgroup.type", "threaded\n");
	fx_put(SCOPE "/libvirt/emulator/cpuset.mems", "0\n");
	v2_group(SCOPE "/libvirt/vcpu2");
}

/* Index of the first logged change op on a path ending in suffix (value, if not NULL). */
static int logged(const char *op, const char *suffix, const char *value)
{
	const cJSON *a;
	int i = 0;

	cJSON_ArrayForEach(a, log_) {
		const char *o = cJSON_GetStringValue(cJSON_GetObjectItem(a, "op"));
		const char *p = cJSON_GetStringValue(cJSON_GetObjectItem(a, "path"));
		const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(a, "value"));

		if (o && strcmp(o, op) == 0 && (!suffix || (p && strlen(p) >= strlen(suffix) &&
							    strcmp(p + strlen(p) - strlen(suffix), suffix) == 0)) &&
		    (!value || (v && strcmp(v, value) == 0)))
			return i;
		i++;
	}
	return -1;
}

static struct hostres_tune tune(void)
{
	struct hostres_tune t;

	memset(&t, 0, sizeof(t));
	return t;
}

static void mask(uint64_t *m, const char *list)
{
	cr_assert_eq(topo_cpulist_parse(list, m, TOPO_MAX_CPUS, NULL), 0);
}

Test(hostres, v2_libvirt_layout_threaded_group_beside_libvirts)
{
	struct hostres_tune t = tune();
	char tids[16], parent[512];
	cJSON *j;
	cpu_set_t set;
	int mv;

	v2_libvirt_tree();
	open_fx();
	cr_assert_eq(hostres_cgroups_find(h, pid, NULL, &err), 1, "%s", err.msg);
	j = hostres_cgroups_json(h);
	snprintf(parent, sizeof(parent), "%s/" SCOPE "/libvirt", root);
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(j, 0), "parent")), parent);
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(j, 0), "controllers")),
			 "cpu cpuset");
	cJSON_Delete(j);
	t.bw_src = HR_GIVEN;
	t.period = 200000;
	t.quota = 50000;
	t.cpus_src = t.aff_src = t.mems_src = HR_GIVEN;
	mask(t.cpus, "1");
	mask(t.aff, "1");
	mask(t.mems, "0");
	cr_assert_eq(hostres_validate(h, &t, &err), 0, "%s", err.msg);
	cr_assert_eq(hostres_vcpu_setup(h, pid, 2, tid, &t, &err), 0, "%s", err.msg);

	snprintf(tids, sizeof(tids), "%d", tid);
	cr_assert_str_eq(fx_get(SCOPE "/libvirt/vcpu2/cgroup.type"), "threaded");
	cr_assert_str_eq(fx_get(SCOPE "/libvirt/vcpu2/cgroup.threads"), tids);
	cr_assert_str_eq(fx_get(SCOPE "/libvirt/vcpu2/cpuset.cpus"), "1");
	cr_assert_str_eq(fx_get(SCOPE "/libvirt/vcpu2/cpuset.mems"), "0");
	cr_assert_geq(logged("write", "libvirt/cgroup.subtree_control", "+cpu"), 0);
	cr_assert_geq(logged("write", "libvirt/cgroup.subtree_control", "+cpuset"), 0);
	cr_assert_lt(logged("write", "/vcpu2/cgroup.type", "threaded"),
		     logged("write", "/vcpu2/cgroup.threads", tids), "threaded before the move");
	/* period keeps the quota token, then the quota alone */
	cr_assert_geq(logged("write", "/vcpu2/cpu.max", "max 200000"), 0);
	cr_assert_str_eq(fx_get(SCOPE "/libvirt/vcpu2/cpu.max"), "50000");
	mv = logged("write", "/vcpu2/cgroup.threads", NULL);
	cr_assert_lt(mv, logged("write", "/vcpu2/cpuset.cpus", "1"), "thread moved before the limits");
	cr_assert_lt(mv, logged("write", "/vcpu2/cpu.max", NULL));
	cr_assert_eq(logged("write", "cgroup.procs", NULL), -1, "never cgroup.procs");
	cr_assert_eq(sched_getaffinity(tid, sizeof(set), &set), 0);
	cr_assert(CPU_ISSET(1, &set) && CPU_COUNT(&set) == 1);
	cr_assert_eq(cJSON_GetArraySize(warnings), 0);
}

Test(hostres, v2_quota_none_is_max_and_period_keeps_the_quota)
{
	struct hostres_tune t = tune();

	v2_libvirt_tree();
	fx_put(SCOPE "/libvirt/vcpu2/cpu.max", "30000 100000\n");
	open_fx();
	cr_assert_eq(hostres_cgroups_find(h, pid, NULL, &err), 1, "%s", err.msg);
	t.bw_src = HR_GIVEN;
	t.period = 250000;
	cr_assert_eq(hostres_vcpu_setup(h, pid, 2, tid, &t, &err), 0, "%s", err.msg);
	cr_assert_str_eq(fx_get(SCOPE "/libvirt/vcpu2/cpu.max"), "30000 250000");
	t.period = 0;
	t.quota = -1;
	cr_assert_eq(hostres_vcpu_setup(h, pid, 2, tid, &t, &err), 0, "%s", err.msg);
	cr_assert_str_eq(fx_get(SCOPE "/libvirt/vcpu2/cpu.max"), "max");
}

/* Hybrid: cpuset on v1, cpu on v2; the non-systemd libvirt layout. */
static void hybrid_tree(void)
{
	put_mountinfo("31 25 0:27 / @/v1/cpuset rw - cgroup cgroup rw,cpuset\n"
		      "32 25 0:28 / @/v1/cpuacct rw - cgroup cgroup rw,cpuacct\n"
		      "33 25 0:29 / @/v1/named rw - cgroup cgroup rw,name=systemd\n"
		      "34 25 0:30 / @/v2 rw - cgroup2 cgroup2 rw\n"
		      "35 25 0:30 /sub @/bind rw - cgroup2 cgroup2 rw\n");
	put_qemu_cgroup("4:name=systemd:/\n3:cpuset:/machine/qemu-1-vm1.libvirt-qemu/emulator\n"
			"2:cpuacct:/machine/qemu-1-vm1.libvirt-qemu/emulator\n"
			"0::/machine/qemu-1-vm1.libvirt-qemu/emulator\n");
	fx_put("v1/cpuset/machine/qemu-1-vm1.libvirt-qemu/cpuset.cpus", "0-1\n");
	fx_put("v1/cpuset/machine/qemu-1-vm1.libvirt-qemu/cpuset.mems", "0-1\n");
	fx_put("v1/cpuset/machine/qemu-1-vm1.libvirt-qemu/cpuset.memory_migrate", "1\n");
	fx_put("v1/cpuset/machine/qemu-1-vm1.libvirt-qemu/emulator/cpuset.mems", "1\n");
	/* a fresh v1 cpuset group: empty cpus and mems, it would refuse tasks */
	fx_put("v1/cpuset/machine/qemu-1-vm1.libvirt-qemu/vcpu2/cpuset.cpus", "\n");
	fx_put("v1/cpuset/machine/qemu-1-vm1.libvirt-qemu/vcpu2/cpuset.mems", "\n");
	fx_put("v1/cpuset/machine/qemu-1-vm1.libvirt-qemu/vcpu2/cpuset.memory_migrate", "0\n");
	fx_put("v1/cpuset/machine/qemu-1-vm1.libvirt-qemu/vcpu2/tasks", "");
	fx_put("v1/cpuacct/machine/qemu-1-vm1.libvirt-qemu/vcpu2/tasks", "");
	fx_put("v2/cgroup.controllers", "cpu io\n");
	fx_put("v2/machine/qemu-1-vm1.libvirt-qemu/cgroup.controllers", "cpu\n");
	fx_put("v2/machine/qemu-1-vm1.libvirt-qemu/cgroup.subtree_control", "cpu\n");
	v2_group("v2/machine/qemu-1-vm1.libvirt-qemu/vcpu2");
}

Test(hostres, hybrid_uses_v1_for_cpuset_and_v2_for_cpu)
{
	struct hostres_tune t = tune(), rb = tune();
	char tids[16];

	hybrid_tree();
	open_fx();
	cr_assert_eq(hostres_cgroups_find(h, pid, NULL, &err), 3, "%s", err.msg);
	cr_assert(hostres_has_cpu(h) && hostres_has_cpuset(h));
	t.bw_src = HR_GIVEN;
	t.quota = 20000;
	t.mems_src = HR_GIVEN;
	mask(t.mems, "1");
	cr_assert_eq(hostres_vcpu_setup(h, pid, 2, tid, &t, &err), 0, "%s", err.msg);
	snprintf(tids, sizeof(tids), "%d", tid);
	/* v1 cpuset: parent's cpus, mems and memory_migrate copied before the move */
	cr_assert_lt(logged("write", "cpuset/machine/qemu-1-vm1.libvirt-qemu/vcpu2/cpuset.cpus", "0-1"),
		     logged("write", "cpuset/machine/qemu-1-vm1.libvirt-qemu/vcpu2/tasks", tids));
	cr_assert_geq(logged("write", "vcpu2/cpuset.memory_migrate", "1"), 0);
	cr_assert_str_eq(fx_get("v1/cpuset/machine/qemu-1-vm1.libvirt-qemu/vcpu2/cpuset.mems"), "1");
	cr_assert_str_eq(fx_get("v1/cpuacct/machine/qemu-1-vm1.libvirt-qemu/vcpu2/tasks"), tids);
	/* v2: cpu only; subtree_control already had it; no cpuset files touched there */
	cr_assert_str_eq(fx_get("v2/machine/qemu-1-vm1.libvirt-qemu/vcpu2/cpu.max"), "20000");
	cr_assert_str_eq(fx_get("v2/machine/qemu-1-vm1.libvirt-qemu/vcpu2/cgroup.threads"), tids);
	cr_assert_eq(logged("write", "cgroup.subtree_control", NULL), -1);
	cr_assert_eq(logged("write", "v2/machine/qemu-1-vm1.libvirt-qemu/vcpu2/cpuset.mems", NULL), -1);
	cr_assert_eq(logged("write", "named/machine", NULL), -1, "never the named hierarchy");
	/* read back, once the kernel has kept the period beside the quota written alone */
	fx_put("v2/machine/qemu-1-vm1.libvirt-qemu/vcpu2/cpu.max", "20000 100000\n");
	cr_assert_eq(hostres_vcpu_read(h, 2, tid, &rb, HR_INHERITED, NULL, &err), 0);
	cr_assert_eq(rb.bw_src, HR_INHERITED);
	cr_assert_eq(rb.quota, 20000);
	cr_assert_eq(rb.period, 100000);
	cr_assert_eq(rb.mems_src, HR_INHERITED);
}

Test(hostres, v1_comounted_cpu_cpuacct_and_period_restored_when_the_quota_fails)
{
	struct hostres_tune t = tune();
	char tids[16];

	put_mountinfo("31 25 0:27 / @/v1/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n");
	put_qemu_cgroup("2:cpu,cpuacct:/vm1\n");
	fx_put("v1/cpu,cpuacct/vm1/vcpu2/tasks", "");
	fx_put("v1/cpu,cpuacct/vm1/vcpu2/cpu.cfs_period_us", "100000\n");
	fx_mkdir("v1/cpu,cpuacct/vm1/vcpu2/cpu.cfs_quota_us"); /* a write there fails */
	open_fx();
	cr_assert_eq(hostres_cgroups_find(h, pid, NULL, &err), 1, "one directory for both");
	t.bw_src = HR_GIVEN;
	t.period = 300000;
	t.quota = 60000;
	cr_assert_lt(hostres_vcpu_setup(h, pid, 2, tid, &t, &err), 0);
	cr_assert(strstr(err.msg, "cpu.cfs_quota_us"), "%s", err.msg);
	snprintf(tids, sizeof(tids), "%d", tid);
	cr_assert_str_eq(fx_get("v1/cpu,cpuacct/vm1/vcpu2/tasks"), tids);
	cr_assert_geq(logged("write", "vcpu2/cpu.cfs_period_us", "300000"), 0);
	cr_assert_str_eq(fx_get("v1/cpu,cpuacct/vm1/vcpu2/cpu.cfs_period_us"), "100000",
			 "the old period is back");
}

/*
 * What is read back from a vCPU's groups is inherited by the next one, so it is parsed
 * strictly: junk or out-of-range bandwidth is not taken, and a hierarchy without a cpuset
 * file does not wipe the cpus read from another (found by fuzz_hostres).
 */
Test(hostres, read_back_takes_only_values_the_kernel_would_accept)
{
	static const char *const bad[][2] = {
		{ "100000\n", "12abc\n" }, { "100000\n", "5\n" }, { "999\n", "50000\n" },
		{ "x\n", "50000\n" }, { "100000\n", "\n" }, { "100000\n", "99999999999999999999\n" },
	};
	struct hostres_tune rb;
	size_t i;

	put_mountinfo("31 25 0:27 / @/v1/cpu rw - cgroup cgroup rw,cpu\n"
		      "32 25 0:28 / @/v1/cpuset rw - cgroup cgroup rw,cpuset\n"
		      "33 25 0:29 / @/v2 rw - cgroup2 cgroup2 rw\n");
	put_qemu_cgroup("3:cpu:/vm1/emulator\n2:cpuset:/vm1/emulator\n0::/vm1/emulator\n");
	fx_put("v1/cpuset/vm1/vcpu2/cpuset.cpus", "1\n");
	fx_put("v1/cpuset/vm1/vcpu2/cpuset.mems", "0\n");
	fx_put("v2/vm1/cgroup.controllers", "cpuset\n");
	fx_mkdir("v2/vm1/vcpu2"); /* no cpuset files there */
	fx_mkdir("v1/cpu/vm1/vcpu2");
	open_fx();
	cr_assert_eq(hostres_cgroups_find(h, pid, NULL, &err), 3, "%s", err.msg);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fx_put("v1/cpu/vm1/vcpu2/cpu.cfs_period_us", bad[i][0]);
		fx_put("v1/cpu/vm1/vcpu2/cpu.cfs_quota_us", bad[i][1]);
		rb = tune();
		cr_assert_eq(hostres_vcpu_read(h, 2, tid, &rb, HR_INHERITED, NULL, &err), 0);
		cr_assert_eq(rb.bw_src, HR_UNSET, "period '%s' quota '%s' taken as %lld/%lld",
			     bad[i][0], bad[i][1], rb.period, rb.quota);
	}
	fx_put("v1/cpu/vm1/vcpu2/cpu.cfs_quota_us", "-1\n");
	rb = tune();
	cr_assert_eq(hostres_vcpu_read(h, 2, tid, &rb, HR_INHERITED, NULL, &err), 0);
	cr_assert_eq(rb.bw_src, HR_INHERITED);
	cr_assert_eq(rb.period, 100000);
	cr_assert_eq(rb.quota, -1);
	cr_assert_eq(rb.cpus_src, HR_INHERITED);
	cr_assert_eq(rb.cpus[0], 2, "cpus '1' survive the v2 group without cpuset.cpus");
	cr_assert_eq(rb.mems[0], 1);
}

Test(hostres, emulator_mems_widened_then_restored)
{
	hybrid_tree();
	open_fx();
	cr_assert_eq(hostres_cgroups_find(h, pid, NULL, &err), 3, "%s", err.msg);
	cr_assert_eq(hostres_emulator_widen(h, &err), 1, "%s", err.msg);
	cr_assert_str_eq(fx_get("v1/cpuset/machine/qemu-1-vm1.libvirt-qemu/emulator/cpuset.mems"), "0-1");
	hostres_emulator_restore(h);
	cr_assert_str_eq(fx_get("v1/cpuset/machine/qemu-1-vm1.libvirt-qemu/emulator/cpuset.mems"), "1");
}

Test(hostres, qemu_in_the_root_cgroup_gets_no_groups_and_a_warning)
{
	put_mountinfo("26 1 0:23 / @/cg rw - cgroup2 cgroup2 rw\n");
	put_qemu_cgroup("0::/\n");
	fx_put("cg/cgroup.controllers", "cpu\n");
	open_fx();
	cr_assert_eq(hostres_cgroups_find(h, pid, NULL, &err), 0, "%s", err.msg);
	cr_assert_eq(cJSON_GetArraySize(warnings), 1);
	cr_assert(strstr(cJSON_GetArrayItem(warnings, 0)->valuestring, "root"));
}

Test(hostres, override_path_with_a_symlink_is_refused)
{
	char target[128], link[128];

	v2_libvirt_tree();
	fx_mkdir("elsewhere/vcpu2");
	snprintf(target, sizeof(target), "%s/elsewhere", root);
	snprintf(link, sizeof(link), "%s/cg/sneaky", root);
	cr_assert_eq(symlink(target, link), 0);
	open_fx();
	cr_assert_lt(hostres_cgroups_find(h, pid, "/sneaky", &err), 0);
	cr_assert(strstr(err.msg, "symlink"), "%s", err.msg);
	memset(&err, 0, sizeof(err));
	cr_assert_lt(hostres_cgroups_find(h, pid, "/machine.slice/../../etc", &err), 0);
	cr_assert(strstr(err.msg, "without '.' or '..'"), "%s", err.msg);
}

Test(hostres, vcpu_group_that_is_a_symlink_is_refused)
{
	struct hostres_tune t = tune();
	char target[128], link[256];

	v2_libvirt_tree();
	fx_put("elsewhere/cgroup.threads", "");
	fx_put("elsewhere/cgroup.type", "domain");
	snprintf(target, sizeof(target), "%s/elsewhere", root);
	snprintf(link, sizeof(link), "%s/" SCOPE "/libvirt/vcpu3", root);
	cr_assert_eq(symlink(target, link), 0);
	open_fx();
	cr_assert_eq(hostres_cgroups_find(h, pid, NULL, &err), 1, "%s", err.msg);
	cr_assert_lt(hostres_vcpu_setup(h, pid, 3, tid, &t, &err), 0);
	cr_assert(strstr(err.msg, "symlink"), "%s", err.msg);
	cr_assert_str_eq(fx_get("elsewhere/cgroup.threads"), "", "nothing written through the link");
	cr_assert_str_eq(fx_get("elsewhere/cgroup.type"), "domain");
}

Test(hostres, cgroup_file_that_is_a_symlink_is_not_written)
{
	struct hostres_tune t = tune();
	char target[128], link[256];

	v2_libvirt_tree();
	fx_put("outside", "untouched");
	snprintf(target, sizeof(target), "%s/outside", root);
	snprintf(link, sizeof(link), "%s/" SCOPE "/libvirt/vcpu2/cgroup.threads", root);
	unlink(link);
	cr_assert_eq(symlink(target, link), 0);
	open_fx();
	cr_assert_eq(hostres_cgroups_find(h, pid, NULL, &err), 1, "%s", err.msg);
	cr_assert_lt(hostres_vcpu_setup(h, pid, 2, tid, &t, &err), 0);
	cr_assert(strstr(err.msg, "cgroup.threads"), "%s", err.msg);
	cr_assert_str_eq(fx_get("outside"), "untouched");
}

Test(hostres, existing_group_with_a_foreign_thread_is_refused)
{
	struct hostres_tune t = tune();

	v2_libvirt_tree();
	fx_put(SCOPE "/libvirt/vcpu2/cgroup.threads", "1\n");
	open_fx();
	cr_assert_eq(hostres_cgroups_find(h, pid, NULL, &err), 1, "%s", err.msg);
	cr_assert_lt(hostres_vcpu_setup(h, pid, 2, tid, &t, &err), 0);
	cr_assert(strstr(err.msg, "already holds thread 1, which is not QEMU's"), "%s", err.msg);
	cr_assert_str_eq(fx_get(SCOPE "/libvirt/vcpu2/cgroup.threads"), "1\n");
	/* and removal leaves it alone */
	cr_assert_eq(hostres_vcpu_remove(h, 2), 0);
	cr_assert(fx_exists(SCOPE "/libvirt/vcpu2"));
	cr_assert(strstr(cJSON_GetArrayItem(warnings, 0)->valuestring, "left cgroup"));
}

Test(hostres, a_tid_not_of_qemu_is_never_touched)
{
	struct hostres_tune t = tune();

	v2_libvirt_tree();
	open_fx();
	cr_assert_eq(hostres_cgroups_find(h, pid, NULL, &err), 1, "%s", err.msg);
	cr_assert_lt(hostres_vcpu_setup(h, pid, 2, 1, &t, &err), 0);
	cr_assert(strstr(err.msg, "thread 1 is not a thread of QEMU"), "%s", err.msg);
	cr_assert_eq(cJSON_GetArraySize(log_), 0, "nothing done");
}

Test(hostres, removal_of_an_empty_group)
{
	v2_libvirt_tree();
	fx_mkdir(SCOPE "/libvirt/vcpu5");
	open_fx();
	cr_assert_eq(hostres_cgroups_find(h, pid, NULL, &err), 1, "%s", err.msg);
	cr_assert(hostres_vcpu_has_group(h, 5));
	cr_assert_eq(hostres_vcpu_remove(h, 5), 1);
	cr_assert(!fx_exists(SCOPE "/libvirt/vcpu5"));
	cr_assert(!hostres_vcpu_has_group(h, 5));
	cr_assert_eq(hostres_vcpu_remove(h, 5), 0, "a second removal finds nothing");
}

Test(hostres, dry_mode_logs_and_writes_nothing)
{
	struct hostres_tune t = tune();

	v2_libvirt_tree();
	open_fx();
	hostres_set_dry(h, true);
	cr_assert_eq(hostres_cgroups_find(h, pid, NULL, &err), 1, "%s", err.msg);
	t.bw_src = HR_GIVEN;
	t.quota = 40000;
	t.sched_src = HR_GIVEN;
	t.policy = SCHED_BATCH;
	cr_assert_eq(hostres_vcpu_setup(h, pid, 7, 0, &t, &err), 0, "%s", err.msg);
	cr_assert_geq(logged("mkdir", "/libvirt/vcpu7", NULL), 0);
	cr_assert_geq(logged("write", "/vcpu7/cgroup.threads", "<tid>"), 0);
	cr_assert_geq(logged("write", "/vcpu7/cpu.max", "40000"), 0);
	cr_assert_geq(logged("sched_setscheduler", NULL, NULL), 0);
	cr_assert(!fx_exists(SCOPE "/libvirt/vcpu7"), "no directory made");
	cr_assert_eq(sched_getscheduler(tid), SCHED_OTHER, "no policy set");
}

/* ---- resctrl ---- */

static void resctrl_tree(void)
{
	fx_put("resctrl/tasks", "1\n");
	fx_put("resctrl/schemata", "L3:0=fff\n");
	fx_put("resctrl/G/tasks", "");
	fx_put("resctrl/G/mon_groups/M/tasks", "");
	fx_put("resctrl/mon_groups/M2/tasks", "");
	fx_mkdir("resctrl/info/L3");
}

Test(hostres, resctrl_allocation_and_monitor_groups)
{
	struct hostres_tune t = tune(), rb = tune();
	char tids[16];
	cJSON *j;

	resctrl_tree();
	open_fx();
	t.rc_src = HR_GIVEN;
	snprintf(t.cachetune, sizeof(t.cachetune), "G");
	snprintf(t.monitor, sizeof(t.monitor), "M");
	cr_assert_eq(hostres_validate(h, &t, &err), 0, "%s", err.msg);
	cr_assert_eq(hostres_vcpu_setup(h, pid, 2, tid, &t, &err), 0, "%s", err.msg);
	snprintf(tids, sizeof(tids), "%d", tid);
	cr_assert_str_eq(fx_get("resctrl/G/tasks"), tids);
	cr_assert_str_eq(fx_get("resctrl/G/mon_groups/M/tasks"), tids);
	cr_assert_eq(hostres_vcpu_read(h, 2, tid, &rb, HR_INHERITED, &j, &err), 0);
	cr_assert_str_eq(rb.cachetune, "G");
	cr_assert_str_eq(rb.monitor, "M");
	cr_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "resctrl"), 1)->valuestring,
			 "G/mon_groups/M");
	cJSON_Delete(j);
}

Test(hostres, resctrl_monitor_only_group_at_the_root)
{
	struct hostres_tune t = tune(), rb = tune();
	char tids[16];

	resctrl_tree();
	open_fx();
	t.rc_src = HR_GIVEN;
	snprintf(t.monitor, sizeof(t.monitor), "M2");
	cr_assert_eq(hostres_vcpu_setup(h, pid, 2, tid, &t, &err), 0, "%s", err.msg);
	snprintf(tids, sizeof(tids), "%d", tid);
	cr_assert_str_eq(fx_get("resctrl/mon_groups/M2/tasks"), tids);
	cr_assert_str_eq(fx_get("resctrl/G/tasks"), "");
	hostres_vcpu_read(h, 2, tid, &rb, HR_INHERITED, NULL, &err);
	cr_assert_str_eq(rb.cachetune, "");
	cr_assert_str_eq(rb.monitor, "M2");
}

Test(hostres, resctrl_missing_group_or_mount_names_the_path)
{
	struct hostres_tune t = tune();
	char want[160];

	resctrl_tree();
	open_fx();
	t.rc_src = HR_GIVEN;
	snprintf(t.cachetune, sizeof(t.cachetune), "nope");
	cr_assert_lt(hostres_validate(h, &t, &err), 0);
	snprintf(want, sizeof(want), "no resctrl group %s/resctrl/nope", root);
	cr_assert(strstr(err.msg, want), "%s", err.msg);
	snprintf(t.cachetune, sizeof(t.cachetune), "G");
	snprintf(t.monitor, sizeof(t.monitor), "M9");
	cr_assert_lt(hostres_validate(h, &t, &err), 0);
	cr_assert(strstr(err.msg, "no resctrl monitor group"), "%s", err.msg);
	cr_assert(strstr(err.msg, "G/mon_groups/M9"), "%s", err.msg);
	hostres_free(h);
	h = NULL;
	unlink(strcat(strcpy(want, root), "/resctrl/tasks")); /* a bare mount point */
	open_fx();
	cr_assert_lt(hostres_validate(h, &t, &err), 0);
	cr_assert(strstr(err.msg, "resctrl is not mounted at"), "%s", err.msg);
}

/* ---- host facts and checks ---- */

Test(hostres, default_affinity_is_online_minus_isolated)
{
	struct hostres_tune t = tune();
	char buf[64];

	fx_put("sys/devices/system/cpu/online", "0-7\n");
	fx_put("sys/devices/system/cpu/isolated", "2,6-7\n");
	open_fx();
	cr_assert_eq(hostres_default_affinity(h, &t, &err), 0, "%s", err.msg);
	topo_cpulist_format(t.aff, TOPO_MAX_CPUS, buf, sizeof(buf));
	cr_assert_str_eq(buf, "0-1,3-5");
	cr_assert_eq(t.aff_src, HR_DEFAULT);
}

Test(hostres, validate_refuses_cpus_and_nodes_the_host_or_parent_lacks)
{
	struct hostres_tune t = tune();

	v2_libvirt_tree();
	fx_put("sys/devices/system/cpu/online", "0-7\n");
	fx_put(SCOPE "/libvirt/cpuset.cpus.effective", "0-3\n");
	open_fx();
	cr_assert_eq(hostres_cgroups_find(h, pid, NULL, &err), 1, "%s", err.msg);
	t.cpus_src = HR_GIVEN;
	mask(t.cpus, "9");
	cr_assert_lt(hostres_validate(h, &t, &err), 0);
	cr_assert(strstr(err.msg, "CPU 9 is not online on this host"), "%s", err.msg);
	mask(t.cpus, "2-5");
	cr_assert_lt(hostres_validate(h, &t, &err), 0);
	cr_assert(strstr(err.msg, "CPU 4 is outside the cpuset of"), "%s", err.msg);
	t.cpus_src = HR_UNSET;
	t.mems_src = HR_GIVEN;
	mask(t.mems, "3");
	cr_assert_lt(hostres_validate(h, &t, &err), 0);
	cr_assert(strstr(err.msg, "memory node 3 is not online"), "%s", err.msg);
}

Test(hostres, sched_policy_and_priority_are_read_back)
{
	struct hostres_tune t = tune(), rb = tune();

	open_fx();
	t.sched_src = HR_GIVEN;
	t.policy = SCHED_RR;
	t.prio = 3;
	cr_assert_eq(hostres_vcpu_setup(h, pid, 2, tid, &t, &err), 0, "%s", err.msg);
	hostres_vcpu_read(h, 2, tid, &rb, HR_INHERITED, NULL, &err);
	cr_assert_eq(rb.policy, SCHED_RR);
	cr_assert_eq(rb.prio, 3);
}

/* ---- command-line values ---- */

struct parse_case {
	const char *in;
	int rc;
	long long v;
	const char *msg;
};

Test(hostres, period_and_quota_ranges)
{
	static const struct parse_case per[] = {
		{ "1000", 0, 1000, NULL }, { "1000000", 0, 1000000, NULL },
		{ "999", -ERANGE, 0, "out of range (1000 to 1000000)" },
		{ "1000001", -ERANGE, 0, "out of range" }, { "-1", -ERANGE, 0, "must not be negative" },
		{ "1e3", -EINVAL, 0, "not a whole number" }, { "", -EINVAL, 0, "" },
	};
	static const struct parse_case quo[] = {
		{ "1000", 0, 1000, NULL }, { "17592186044415", 0, 17592186044415LL, NULL },
		{ "-1", 0, -1, NULL }, { "-50000", 0, -1, NULL },
		{ "0", -ERANGE, 0, "or negative for no limit" }, { "999", -ERANGE, 0, "out of range" },
		{ "17592186044416", -ERANGE, 0, "out of range" },
		{ "99999999999999999999", -ERANGE, 0, "" }, { "12x", -EINVAL, 0, "" },
	};
	size_t i;
	long long v;

	for (i = 0; i < sizeof(per) / sizeof(per[0]); i++) {
		v = 0;
		cr_assert_eq(hostres_parse_period(per[i].in, &v, &err), per[i].rc, "period '%s'", per[i].in);
		if (per[i].rc == 0)
			cr_assert_eq(v, per[i].v);
		else
			cr_assert(strstr(err.msg, per[i].msg) && strstr(err.msg, "--period"), "%s", err.msg);
	}
	for (i = 0; i < sizeof(quo) / sizeof(quo[0]); i++) {
		v = 0;
		cr_assert_eq(hostres_parse_quota(quo[i].in, &v, &err), quo[i].rc, "quota '%s'", quo[i].in);
		if (quo[i].rc == 0)
			cr_assert_eq(v, quo[i].v, "quota '%s'", quo[i].in);
		else
			cr_assert(strstr(err.msg, quo[i].msg) && strstr(err.msg, "--quota"), "%s", err.msg);
	}
}

Test(hostres, sched_policies)
{
	static const struct {
		const char *in;
		int rc, policy, prio;
	} cases[] = {
		{ "other", 0, SCHED_OTHER, 0 }, { "batch", 0, SCHED_BATCH, 0 },
		{ "idle", 0, SCHED_IDLE, 0 },   { "fifo:1", 0, SCHED_FIFO, 1 },
		{ "rr:99", 0, SCHED_RR, 99 },   { "fifo", -EINVAL, 0, 0 },
		{ "rr:0", -ERANGE, 0, 0 },      { "fifo:100", -ERANGE, 0, 0 },
		{ "idle:1", -EINVAL, 0, 0 },    { "FIFO:1", -EINVAL, 0, 0 },
		{ "fifo:", -EINVAL, 0, 0 },     { "deadline", -EINVAL, 0, 0 },
	};
	size_t i;
	int pol, prio;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pol = prio = -7;
		cr_assert_eq(hostres_parse_sched(cases[i].in, &pol, &prio, &err), cases[i].rc, "'%s': %s",
			     cases[i].in, err.msg);
		if (cases[i].rc == 0) {
			cr_assert_eq(pol, cases[i].policy);
			cr_assert_eq(prio, cases[i].prio);
			cr_assert_str_eq(hostres_policy_name(pol), cases[i].in[0] == 'f' ? "fifo"
				: cases[i].in[0] == 'r' ? "rr" : cases[i].in);
		} else {
			cr_assert(strstr(err.msg, "--sched"), "%s", err.msg);
		}
	}
}

Test(hostres, resctrl_group_names)
{
	static const char *const good[] = { "G", "vcpus_0-3", "qemu-1-vm1-vcpus_2", "a.b:c+d" };
	static const char *const bad[] = { "", ".", "..", "a/b", "info", "mon_groups", "mon_data",
					   "sp ace", "new\nline", "x\x1b[0m" };
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_assert_eq(hostres_valid_group("--cachetune", good[i], &err), 0, "'%s'", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(hostres_valid_group("--cachetune", bad[i], &err), -EINVAL, "'%s'", bad[i]);
		cr_assert(strstr(err.msg, "--cachetune"), "%s", err.msg);
	}
}

/* Start a warm-up on a fresh hostres and wait for it; the previous one is freed. */
static void warm_up_once(void)
{
	hostres_free(h);
	open_fx();
	hostres_warm_start(h);
	hostres_warm_wait(h);
}

/*
 * The early no-op move: vcpuset's own pid into its own group's cgroup.procs, nothing else,
 * and before QEMU's hierarchies are known (vcpuset's own hierarchy serves).
 */
Test(hostres, warm_up_moves_vcpuset_into_its_own_group_only)
{
	char pids[16];

	v2_libvirt_tree();
	fx_put("proc/self/cgroup", "0::/admin.slice/ssh.scope\n");
	fx_put("cg/admin.slice/ssh.scope/cgroup.procs", "");
	fx_put("cg/cgroup.procs", "");
	open_fx();
	hostres_set_dry(h, true);
	hostres_warm_start(h);
	hostres_warm_wait(h);
	cr_assert_str_eq(fx_get("cg/admin.slice/ssh.scope/cgroup.procs"), "", "dry: no write");
	hostres_set_dry(h, false);
	hostres_warm_start(h);
	hostres_warm_start(h); /* a second start: the first still runs, or a new one */
	hostres_warm_wait(h);
	snprintf(pids, sizeof(pids), "%d", pid);
	cr_assert_str_eq(fx_get("cg/admin.slice/ssh.scope/cgroup.procs"), pids);
	cr_assert_str_eq(fx_get("cg/cgroup.procs"), "", "the root group is not touched");
	cr_assert_str_eq(fx_get(SCOPE "/libvirt/emulator/cgroup.type"), "threaded\n",
			 "QEMU's groups are not touched");
	cr_assert_eq(cJSON_GetArraySize(log_), 0, "not a change of the host: not logged");
}

/* cgroup v1: the first line of /proc/self/cgroup whose hierarchy is mounted. */
Test(hostres, warm_up_finds_a_mounted_v1_hierarchy_of_its_own)
{
	char pids[16];

	put_mountinfo("30 1 0:30 / @/v1cpu rw - cgroup cgroup rw,cpu,cpuacct\n"
		      "31 1 0:31 /sub @/v1bind rw - cgroup cgroup rw,pids\n");
	fx_put("proc/self/cgroup", "9:name=systemd:/user\n5:pids:/user\n3:cpu,cpuacct:/user\n");
	fx_put("v1cpu/user/cgroup.procs", "");
	fx_put("v1bind/user/cgroup.procs", "");
	warm_up_once();
	snprintf(pids, sizeof(pids), "%d", pid);
	cr_assert_str_eq(fx_get("v1cpu/user/cgroup.procs"), pids);
	cr_assert_str_eq(fx_get("v1bind/user/cgroup.procs"), "", "a bind mount of a subtree: not it");
}

Test(hostres, warm_up_refuses_a_dotdot_path_and_needs_a_mount)
{
	put_mountinfo("25 1 0:22 / /sys/fs/cgroup/x rw - tmpfs tmpfs rw\n");
	fx_put("proc/self/cgroup", "0::/machine.slice\n");
	fx_put("cg/machine.slice/cgroup.procs", "");
	warm_up_once(); /* no cgroup mount: nothing */
	cr_assert_str_eq(fx_get("cg/machine.slice/cgroup.procs"), "");
	v2_libvirt_tree();
	fx_put("proc/self/cgroup", "0::/a/../machine.slice\n");
	fx_mkdir("cg/a"); /* so that the path would resolve */
	warm_up_once();
	cr_assert_str_eq(fx_get("cg/machine.slice/cgroup.procs"), "");
	fx_put("proc/self/cgroup", "0::/machine.slice\n");
	warm_up_once(); /* the check is what refused it */
	cr_assert_neq(strlen(fx_get("cg/machine.slice/cgroup.procs")), 0);
}

/* ---- inheritance (issue 13 B2, B3): only what every tuned sibling has, and can be set ---- */

static void one_cpu(uint64_t *m, int cpu)
{
	memset(m, 0, HOSTRES_MASK_WORDS * sizeof(*m));
	m[cpu / 64] |= 1ULL << (cpu % 64);
}

Test(hostres, inherit_takes_only_what_every_sibling_agrees_on)
{
	struct hostres_tune sib[3], t;
	char why[HR_NSETTINGS][HOSTRES_WHY_MAX];
	int idx[3] = { 0, 1, 2 }, i;

	memset(sib, 0, sizeof(sib));
	for (i = 0; i < 3; i++) {
		sib[i].cpus_src = sib[i].mems_src = sib[i].aff_src = sib[i].sched_src = HR_INHERITED;
		one_cpu(sib[i].cpus, i); /* pinned one to one: not the VM's */
		one_cpu(sib[i].aff, i);
		one_cpu(sib[i].mems, 0); /* the same everywhere: the VM's */
		sib[i].policy = SCHED_OTHER;
		sib[i].bw_src = HR_INHERITED;
		sib[i].period = 100000;
		sib[i].quota = 50000;
	}
	sib[0].policy = SCHED_FIFO; /* a housekeeping vCPU */
	sib[0].prio = 5;
	memset(&t, 0, sizeof(t));
	cr_assert_eq(hostres_inherit(&t, sib, idx, 3, why), 2, "bandwidth and mems only");
	cr_assert_eq(t.bw_src, HR_INHERITED);
	cr_assert_eq(t.quota, 50000);
	cr_assert_eq(t.mems_src, HR_INHERITED);
	cr_assert_eq(t.cpus_src, HR_UNSET);
	cr_assert_eq(t.aff_src, HR_UNSET);
	cr_assert_eq(t.sched_src, HR_UNSET);
	cr_assert_str_eq(why[HR_S_CPUS], "siblings differ: vcpu0 0, vcpu1 1, vcpu2 2");
	cr_assert_str_eq(why[HR_S_AFF], "siblings differ: vcpu0 0, vcpu1 1, vcpu2 2");
	cr_assert_str_eq(why[HR_S_SCHED], "siblings differ: vcpu0 fifo:5, vcpu1 other, vcpu2 other");
	cr_assert_str_eq(why[HR_S_MEMS], "");
	cr_assert_str_eq(why[HR_S_BW], "");

	/* a quota only one sibling has is not the VM's either */
	sib[2].quota = -1;
	memset(&t, 0, sizeof(t));
	hostres_inherit(&t, sib, idx, 3, why);
	cr_assert_eq(t.bw_src, HR_UNSET);
	cr_assert_str_eq(why[HR_S_BW], "siblings differ: vcpu0 50000/100000, vcpu1 50000/100000, "
				       "vcpu2 none");

	/* what is given stays as given, and is not explained */
	memset(&t, 0, sizeof(t));
	t.cpus_src = HR_GIVEN;
	one_cpu(t.cpus, 1);
	hostres_inherit(&t, sib, idx, 3, why);
	cr_assert_eq(t.cpus_src, HR_GIVEN);
	cr_assert(t.cpus[0] == 2);
	cr_assert_str_eq(why[HR_S_CPUS], "");

	/* one tuned sibling is the VM */
	memset(&t, 0, sizeof(t));
	cr_assert_eq(hostres_inherit(&t, &sib[1], &idx[1], 1, why), 4, "all but the policy (other)");
	cr_assert_eq(t.cpus_src, HR_INHERITED);
	cr_assert(t.cpus[0] == 2);
}

Test(hostres, inherit_skips_a_policy_vcpuset_cannot_set)
{
	struct hostres_tune sib[2], t;
	char why[HR_NSETTINGS][HOSTRES_WHY_MAX];
	int idx[2] = { 0, 1 };

	memset(sib, 0, sizeof(sib));
	sib[0].sched_src = sib[1].sched_src = HR_INHERITED;
	sib[0].policy = sib[1].policy = 6; /* SCHED_DEADLINE */
	memset(&t, 0, sizeof(t));
	cr_assert_eq(hostres_inherit(&t, sib, idx, 2, why), 0);
	cr_assert_eq(t.sched_src, HR_UNSET);
	cr_assert(strstr(why[HR_S_SCHED], "siblings run deadline, which vcpuset cannot give a thread"),
		  "%s", why[HR_S_SCHED]);
	/* and validation refuses such a policy outright, before anything is sent */
	open_fx();
	t.sched_src = HR_INHERITED;
	t.policy = 6;
	cr_assert_eq(hostres_validate(h, &t, &err), -EINVAL);
	cr_assert(strstr(err.msg, "scheduler policy deadline (6) cannot be set by vcpuset"), "%s",
		  err.msg);
}

/* Issue 13 B5: node 1 is online but has no memory (a CPU-only or CXL node). */
Test(hostres, memoryless_nodes_are_never_given_to_a_cpuset)
{
	struct hostres_tune t = tune();

	hybrid_tree();
	fx_put("sys/devices/system/node/online", "0-1\n");
	fx_put("sys/devices/system/node/has_memory", "0\n");
	fx_put("v1/cpuset/machine/qemu-1-vm1.libvirt-qemu/emulator/cpuset.mems", "0\n");
	open_fx();
	cr_assert_eq(hostres_cgroups_find(h, pid, NULL, &err), 3, "%s", err.msg);
	cr_assert_eq(hostres_emulator_widen(h, &err), 0, "already every node with memory");
	cr_assert_str_eq(fx_get("v1/cpuset/machine/qemu-1-vm1.libvirt-qemu/emulator/cpuset.mems"), "0\n");
	t.mems_src = HR_GIVEN;
	mask(t.mems, "1");
	cr_assert_eq(hostres_validate(h, &t, &err), -EINVAL);
	cr_assert(strstr(err.msg, "memory node 1 has no memory (a cpuset cannot use it)"), "%s", err.msg);
	mask(t.mems, "2");
	cr_assert_eq(hostres_validate(h, &t, &err), -EINVAL);
	cr_assert(strstr(err.msg, "memory node 2 is not online"), "%s", err.msg);
	mask(t.mems, "0");
	cr_assert_eq(hostres_validate(h, &t, &err), 0, "%s", err.msg);
	hostres_free(h);
	h = NULL;

	/* node 2 has memory too: widened to the nodes with memory, never to online ones */
	fx_put("sys/devices/system/node/online", "0-3\n");
	fx_put("sys/devices/system/node/has_memory", "0,2\n");
	open_fx();
	cr_assert_eq(hostres_cgroups_find(h, pid, NULL, &err), 3, "%s", err.msg);
	cr_assert_eq(hostres_emulator_widen(h, &err), 1, "%s", err.msg);
	cr_assert_str_eq(fx_get("v1/cpuset/machine/qemu-1-vm1.libvirt-qemu/emulator/cpuset.mems"), "0,2");
	hostres_emulator_restore(h);
}

/*
 * Issue 13 B7: libvirt leaves QEMU in the root of a cpuacct mounted on its own (and of a v2
 * root without cpu or cpuset): normal, a note; the root of cpu or cpuset is a warning.
 */
Test(hostres, qemu_in_a_root_vcpuset_would_not_tune_is_a_note_not_a_warning)
{
	put_mountinfo("31 25 0:27 / @/v1/cpu rw - cgroup cgroup rw,cpu\n"
		      "32 25 0:28 / @/v1/cpuacct rw - cgroup cgroup rw,cpuacct\n"
		      "34 25 0:30 / @/v2 rw - cgroup2 cgroup2 rw\n");
	put_qemu_cgroup("3:cpu:/machine/qemu-1-vm1.libvirt-qemu/emulator\n2:cpuacct:/\n0::/\n");
	fx_mkdir("v1/cpu/machine/qemu-1-vm1.libvirt-qemu/emulator");
	fx_mkdir("v1/cpuacct");
	fx_put("v2/cgroup.controllers", "io memory\n");
	open_fx();
	cr_assert_eq(hostres_cgroups_find(h, pid, NULL, &err), 1, "%s", err.msg);
	cr_assert_eq(cJSON_GetArraySize(warnings), 0, "%s", cJSON_PrintUnformatted(warnings));
	cr_assert_eq(cJSON_GetArraySize(notes), 2);
	cr_assert(strstr(cJSON_GetArrayItem(notes, 0)->valuestring, "root of the cpuacct hierarchy"),
		  "%s", cJSON_GetArrayItem(notes, 0)->valuestring);
	hostres_free(h);
	h = NULL;
	/* the same with QEMU in the root of cpu: that one matters */
	put_qemu_cgroup("3:cpu:/\n2:cpuacct:/\n0::/\n");
	open_fx();
	cr_assert_eq(hostres_cgroups_find(h, pid, NULL, &err), 0, "%s", err.msg);
	cr_assert_eq(cJSON_GetArraySize(warnings), 1);
	cr_assert(strstr(cJSON_GetArrayItem(warnings, 0)->valuestring, "with the cpu or cpuset controller"));
}

/* Issue 20 M2: the key's start time is field 22 of /proc/<pid>/stat, as ps reads it. */
Test(hostres, vm_key_start_time_is_when_the_process_started)
{
	struct { unsigned long long start; } k;
	char cmd[160], line[64] = "", stat[256];
	unsigned long long btime = 0;
	long long ps_epoch;
	FILE *f;

	cr_assert_eq(hostres_open(NULL, &h, &err), 0, "%s", err.msg);
	cr_assert_eq(hostres_start_time(h, pid, &k.start, &err), 0, "%s", err.msg);
	cr_assert_gt(k.start, 0, "field 21 (itrealvalue) is always 0");
	f = fopen("/proc/stat", "r");
	cr_assert_not_null(f);
	while (fgets(stat, sizeof(stat), f))
		if (sscanf(stat, "btime %llu", &btime) == 1)
			break;
	fclose(f);
	snprintf(cmd, sizeof(cmd), "date -d \"$(ps -o lstart= -p %d)\" +%%s", pid);
	f = popen(cmd, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(line, sizeof(line), f), "ps and date answer");
	pclose(f);
	ps_epoch = atoll(line);
	cr_assert_leq(llabs((long long)(btime + k.start / (unsigned long long)sysconf(_SC_CLK_TCK)) -
			    ps_epoch), 1, "start %llu ticks after boot %llu, ps says %lld", k.start,
		      btime, ps_epoch);
}

/*
 * Issue 20 M1: a thread that exits during its setup, its number going to another process's
 * thread (here: its start time changes after the first act), stops the setup at once.
 */
static void thread_replaced(void *ctx, const char *act)
{
	char rel[96];

	(void)act;
	snprintf(rel, sizeof(rel), "proc/%d/task/%d/stat", pid, tid);
	fx_put(rel, (const char *)ctx);
}

Test(hostres, a_thread_replaced_during_its_setup_stops_it)
{
	struct hostres_tune t = tune();
	char rel[96];

	v2_libvirt_tree();
	snprintf(rel, sizeof(rel), "proc/%d/task/%d/stat", pid, tid);
	fx_put(rel, "1 (qemu) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 500 0 0\n");
	open_fx();
	cr_assert_eq(hostres_cgroups_find(h, pid, NULL, &err), 1, "%s", err.msg);
	hostres_set_act_hook(h, thread_replaced,
			     "1 (sleep) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777 0 0\n");
	t.sched_src = HR_GIVEN;
	t.policy = SCHED_BATCH;
	cr_assert_eq(hostres_vcpu_setup(h, pid, 2, tid, &t, &err), -ESRCH);
	cr_assert(strstr(err.msg, "exited during its setup, after none yet"), "%s", err.msg);
	cr_assert(strstr(err.msg, "its move into a cgroup may have reached"), "%s", err.msg);
	cr_assert_neq(sched_getscheduler(tid), SCHED_BATCH, "nothing after the change was done");
	/* the same thread throughout: done */
	hostres_set_act_hook(h, thread_replaced,
			     "1 (qemu) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 500 0 0\n");
	fx_put(rel, "1 (qemu) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 500 0 0\n");
	cr_assert_eq(hostres_vcpu_setup(h, pid, 2, tid, &t, &err), 0, "%s", err.msg);
	cr_assert_eq(sched_getscheduler(tid), SCHED_BATCH);
}

/* Issue 15: the settings a plug's intent writes ahead come back as they went, checked. */
Test(hostres, settings_written_ahead_come_back_as_they_went)
{
	struct hostres_tune t, back;
	char text[1024];

	memset(&t, 0, sizeof(t));
	t.bw_src = t.cpus_src = t.mems_src = t.aff_src = t.sched_src = t.rc_src = HR_GIVEN;
	t.period = 100000;
	t.quota = -1;
	t.cpus[0] = 0x3;
	t.mems[0] = 0x1;
	t.aff[0] = 0x2;
	t.policy = SCHED_FIFO;
	t.prio = 5;
	snprintf(t.cachetune, sizeof(t.cachetune), "%s", "vm1");
	snprintf(t.monitor, sizeof(t.monitor), "%s", "mon1");
	cr_assert_eq(hostres_tune_text(&t, text, sizeof(text)), 0);
	cr_assert_str_eq(text, "period=100000 quota=-1 cpus=0-1 mems=0 affinity=1 sched=fifo:5 "
			 "cachetune=vm1 monitor=mon1");
	cr_assert_eq(hostres_tune_parse(text, &back, &err), 0, "%s", err.msg);
	cr_assert_eq(memcmp(&back, &t, sizeof(t)), 0, "the same settings");
	memset(&t, 0, sizeof(t));
	cr_assert_eq(hostres_tune_text(&t, text, sizeof(text)), 0);
	cr_assert_str_eq(text, "", "nothing set, nothing written");
	cr_assert_eq(hostres_tune_text(&back, text, 20), -ENOSPC);
	cr_assert_eq(hostres_tune_parse("period=5 cpus=0", &back, &err), -EINVAL, "checked as on the "
		     "command line");
	cr_assert_eq(hostres_tune_parse("cachetune=../etc", &back, &err), -EINVAL);
	cr_assert_eq(hostres_tune_parse("bogus=1", &back, &err), -EINVAL);
	cr_assert(strstr(err.msg, "unknown setting 'bogus'"), "%s", err.msg);
}
