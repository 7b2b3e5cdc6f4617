/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Side by side with libvirt (run by tests/libvirt/run.sh, which boots a libvirt domain from
 * the test guest with current=2 of 64 vCPUs): stop libvirtd, set the domain's vCPUs with
 * vcpuset on libvirt's own monitor socket (2 -> 4 -> 3), check the guest and the host
 * against what libvirt made for its own vCPUs, start libvirtd again and check that virsh
 * sees and drives the result — then compare a vCPU libvirt plugged with one vcpuset did.
 */
#include <criterion/criterion.h>
#include <glob.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run.h"
#include "vcpuset.h"

static const char *const hiers[] = { "cpu", "cpuacct", "cpuset", "unified" };
#define NH 4

/* What the host has for one vCPU: its group in each hierarchy and the thread's settings. */
struct footprint {
	bool dir[NH];
	char period[32], quota[32], shares[32], cpus[64], mems[64], migrate[8], v2type[32];
	char affinity[64];
	int policy;
};

static char group[256], sock[256];
static struct run_result r;

static const char *env(const char *k)
{
	const char *v = getenv(k);

	cr_assert_not_null(v, "%s is not set: run this through tests/libvirt/run.sh", k);
	return v;
}

static void cg_read(const char *h, int vcpu, const char *file, char *buf, size_t size)
{
	char p[512];

	snprintf(p, sizeof(p), "/sys/fs/cgroup/%s/%s/vcpu%d/%s", h, group, vcpu, file);
	run_read_file(p, buf, size);
}

static bool cg_has(const char *h, int vcpu)
{
	char p[512];

	snprintf(p, sizeof(p), "/sys/fs/cgroup/%s/%s/vcpu%d", h, group, vcpu);
	return access(p, F_OK) == 0;
}

/* Is tid listed in the vCPU's thread file of hierarchy h? */
static bool cg_holds(const char *h, int vcpu, int tid)
{
	char buf[4096], want[24], *line, *save = NULL;

	cg_read(h, vcpu, strcmp(h, "unified") == 0 ? "cgroup.threads" : "tasks", buf, sizeof(buf));
	snprintf(want, sizeof(want), "%d", tid);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strcmp(line, want) == 0)
			return true;
	return false;
}

static void footprint(int vcpu, int tid, struct footprint *f)
{
	cpu_set_t set;
	int i, c, o = 0;

	memset(f, 0, sizeof(*f));
	for (i = 0; i < NH; i++)
		f->dir[i] = cg_has(hiers[i], vcpu);
	cg_read("cpu", vcpu, "cpu.cfs_period_us", f->period, sizeof(f->period));
	cg_read("cpu", vcpu, "cpu.cfs_quota_us", f->quota, sizeof(f->quota));
	cg_read("cpu", vcpu, "cpu.shares", f->shares, sizeof(f->shares));
	cg_read("cpuset", vcpu, "cpuset.cpus", f->cpus, sizeof(f->cpus));
	cg_read("cpuset", vcpu, "cpuset.mems", f->mems, sizeof(f->mems));
	cg_read("cpuset", vcpu, "cpuset.memory_migrate", f->migrate, sizeof(f->migrate));
	cg_read("unified", vcpu, "cgroup.type", f->v2type, sizeof(f->v2type));
	cr_assert_eq(sched_getaffinity(tid, sizeof(set), &set), 0, "vCPU %d thread %d", vcpu, tid);
	for (c = 0; c < CPU_SETSIZE && o < (int)sizeof(f->affinity) - 8; c++)
		if (CPU_ISSET(c, &set))
			o += snprintf(f->affinity + o, sizeof(f->affinity) - (size_t)o, "%s%d", o ? "," : "", c);
	f->policy = sched_getscheduler(tid);
}

#define SAME(a, b, field, what)                                                                 \
	cr_assert_str_eq((a)->field, (b)->field, "%s: %s '%s' against '%s'", what, #field, (a)->field, \
			 (b)->field)

static void assert_same(const struct footprint *a, const struct footprint *b, const char *what)
{
	int i;

	for (i = 0; i < NH; i++)
		cr_assert_eq(a->dir[i], b->dir[i], "%s: a group in %s on one side only", what, hiers[i]);
	SAME(a, b, period, what);
	SAME(a, b, quota, what);
	SAME(a, b, shares, what);
	SAME(a, b, cpus, what);
	SAME(a, b, mems, what);
	SAME(a, b, migrate, what);
	SAME(a, b, v2type, what);
	SAME(a, b, affinity, what);
	cr_assert_eq(a->policy, b->policy, "%s: policy", what);
}

static void wait_guest_online(const char *list)
{
	run_wait_guest(env("VCPUSET_LV_SERIAL"), list, 20000);
}

/* Run a shell command line, its stdout into out; returns its exit status. */
static int sh(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int sh(char *out, size_t size, const char *fmt, ...)
{
	char cmd[1024];
	size_t n = 0;
	va_list ap;
	FILE *p;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	cr_assert_not_null(p, "%s", cmd);
	if (out) {
		n = fread(out, 1, size - 1, p);
		out[n] = '\0';
	} else {
		char sink[4096];

		while (fread(sink, 1, sizeof(sink), p) > 0)
			;
	}
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

#define VIRSH "virsh -q -c qemu:///system "

static cJSON *step0(void)
{
	return cJSON_GetArrayItem(run_item(r.json, "steps"), 0);
}

static int step_tid(int i)
{
	return run_item(cJSON_GetArrayItem(run_item(r.json, "steps"), i), "tid")->valueint;
}

/* vCPU n's thread, from vcpuset --status --json (the daemon may be up or down: read-only). */
static int vcpu_tid(int n)
{
	cJSON *v;
	int tid;

	run_vcpuset(&r, (const char *const[]){ "--json", "--status", "--socket", sock, NULL });
	cr_assert_eq(r.exit, 0, "vcpuset --status: %s%s", r.out, r.err);
	v = cJSON_GetArrayItem(run_item(r.json, "vcpus"), n);
	tid = run_item(v, "tid")->valueint;
	run_free(&r);
	return tid;
}

Test(libvirt, rescue_a_domain_then_hand_it_back, .timeout = 300)
{
	const char *name = env("VCPUSET_LV_NAME"), *id = env("VCPUSET_LV_ID");
	const char *dir = env("VCPUSET_LV_DIR"), *daemon = env("VCPUSET_LV_DAEMON");
	struct footprint lv0, ours2, ours3, lv3, now;
	char out[65536], pattern[256], uuid[64];
	int tid0, tid2, tid3, i;
	glob_t g;

	/* libvirt's names: machine/qemu-<id>-<name, 20 characters at most>.libvirt-qemu */
	snprintf(group, sizeof(group), "machine/qemu-%s-%.20s.libvirt-qemu", id, name);
	snprintf(pattern, sizeof(pattern), "/var/lib/libvirt/qemu/domain-%s-*/monitor.sock", id);
	cr_assert_eq(glob(pattern, 0, NULL, &g), 0, "no %s", pattern);
	snprintf(sock, sizeof(sock), "%s", g.gl_pathv[0]);
	globfree(&g);
	cr_assert_eq(sh(uuid, sizeof(uuid), VIRSH "domuuid %s", name), 0);
	uuid[strcspn(uuid, "\n")] = '\0';

	/* libvirtd goes down; QEMU keeps running and its monitor is free */
	cr_assert_eq(sh(NULL, 0, "%s stop %s", daemon, dir), 0);
	tid0 = vcpu_tid(0);
	footprint(0, tid0, &lv0);
	cr_assert(lv0.dir[0] && lv0.dir[2] && lv0.dir[3], "libvirt made vcpu0 in cpu, cpuset, unified");

	/* the guest agent on libvirt's channel answers once qemu-ga runs in the guest */
	for (i = 0; i < 120; i++) {
		run_vcpuset(&r, (const char *const[]){ "--json", "--no-audit", "--socket", sock,
						       "--guest", "--status", NULL });
		if (r.exit == 0)
			break;
		run_free(&r);
		usleep(500000);
	}
	cr_assert_eq(r.exit, 0, "the agent on libvirt's channel: %s%s", r.out, r.err);
	cr_assert(strstr(cJSON_GetStringValue(run_item(run_item(r.json, "guest"), "agent")),
			 "/channel/"), "libvirt's channel directory: %s", r.out);
	run_free(&r);

	/* 2 -> 4 */
	run_vcpuset(&r, (const char *const[]){ "--json", "--socket", sock, "4", NULL });
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert_str_eq(cJSON_GetStringValue(run_item(run_item(cJSON_GetArrayItem(
		run_item(r.json, "steps"), 1), "guest"), "state")), "online",
		"the guest onlined vCPU 3 itself, its agent says: %s", r.out);
	cr_assert_eq(run_item(r.json, "after")->valueint, 4);
	cr_assert_str_eq(cJSON_GetStringValue(run_item(run_item(r.json, "vm"), "name")), name,
			 "the audit records carry the domain's name");
	cr_assert_str_eq(cJSON_GetStringValue(run_item(run_item(r.json, "vm"), "uuid")), uuid);
	tid2 = step_tid(0);
	tid3 = step_tid(1);
	run_free(&r);
	wait_guest_online("0-3");
	for (i = 0; i < NH; i++) {
		if (!lv0.dir[i])
			continue;
		cr_assert(cg_holds(hiers[i], 2, tid2), "vCPU 2's thread in %s/%s/vcpu2", hiers[i], group);
		cr_assert(cg_holds(hiers[i], 3, tid3), "vCPU 3's thread in %s/%s/vcpu3", hiers[i], group);
	}
	footprint(2, tid2, &ours2);
	footprint(3, tid3, &ours3);
	assert_same(&ours2, &lv0, "vcpuset's vCPU 2 against libvirt's vCPU 0");
	assert_same(&ours3, &lv0, "vcpuset's vCPU 3 against libvirt's vCPU 0");
	cr_assert_str_eq(ours3.v2type, "threaded");

	/* 4 -> 3: vcpuset unplugs the highest and removes its groups */
	run_vcpuset(&r, (const char *const[]){ "--json", "--socket", sock, "3", NULL });
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	run_free(&r);
	wait_guest_online("0-2");
	for (i = 0; i < NH; i++)
		cr_assert(!cg_has(hiers[i], 3), "vcpu3 left in %s", hiers[i]);

	/* libvirtd comes back and takes the domain over as vcpuset left it */
	cr_assert_eq(sh(NULL, 0, "%s start %s", daemon, dir), 0);
	cr_assert_eq(sh(out, sizeof(out), VIRSH "vcpucount %s --live --active", name), 0);
	cr_assert_eq(atoi(out), 3, "virsh vcpucount --live --active: %s", out);
	cr_assert_eq(sh(out, sizeof(out), VIRSH "dumpxml %s", name), 0);
	cr_assert(strstr(out, "<vcpu placement='static' current='3'>64</vcpu>"), "%s", out);
	cr_assert_eq(sh(out, sizeof(out), VIRSH "vcpuinfo %s", name), 0);
	cr_assert(strstr(out, "VCPU:           2"), "%s", out);
	cr_assert_null(strstr(out, "VCPU:           3"), "%s", out);
	cr_assert_eq(sh(out, sizeof(out), VIRSH "vcpupin %s 2 0 --live", name), 0, "%s", out);
	footprint(2, tid2, &now);
	cr_assert_str_eq(now.affinity, "0", "virsh vcpupin reached vcpuset's vCPU 2");
	cr_assert_str_eq(now.cpus, "0", "and its cpuset group");
	/* and a later setvcpus works from there: libvirt plugs vCPU 3 itself */
	cr_assert_eq(sh(out, sizeof(out), VIRSH "setvcpus %s 4 --live 2>&1", name), 0, "%s", out);
	wait_guest_online("0-3");
	cr_assert_eq(sh(out, sizeof(out), VIRSH "vcpucount %s --live --active", name), 0);
	cr_assert_eq(atoi(out), 4, "%s", out);

	/* a vCPU libvirt plugged against the one vcpuset plugged in the same slot */
	cr_assert_eq(sh(NULL, 0, "%s stop %s", daemon, dir), 0);
	footprint(3, vcpu_tid(3), &lv3);
	assert_same(&lv3, &ours3, "libvirt's vCPU 3 against vcpuset's");
	cr_assert_eq(sh(NULL, 0, "%s start %s", daemon, dir), 0);
}

/* The text of xml from the first open up to and with close ("" when it has none). */
static void part(const char *xml, const char *open, const char *close, char *out, size_t size)
{
	const char *a = strstr(xml, open), *b = a ? strstr(a, close) : NULL;

	out[0] = '\0';
	if (a && b)
		snprintf(out, size, "%.*s", (int)(b - a + (long)strlen(close)), a);
}

/* The lines of text that hold key, in order. */
static void lines_with(const char *text, const char *key, char *out, size_t size)
{
	const char *p = text, *e;
	size_t o = 0;

	out[0] = '\0';
	for (; (p = strstr(p, key)); p = e) {
		e = strchr(p, '\n');
		e = e ? e : p + strlen(p);
		o += (size_t)snprintf(out + o, size - o, "%.*s\n", (int)(e - p), p);
		if (o >= size)
			break;
	}
}

static void same_part(const char *xa, const char *xb, const char *open, const char *close)
{
	char pa[16384], pb[16384];

	part(xa, open, close, pa, sizeof(pa));
	part(xb, open, close, pb, sizeof(pb));
	cr_assert(pa[0], "libvirt's twin has no %s: %s", open, xa);
	cr_assert_str_eq(pb, pa, "vcpuset's twin differs from libvirt's in %s", open);
}

/* QEMU's command line of domain name, its NULs as spaces. */
static void qemu_cmdline(const char *name, char *out, size_t size)
{
	char p[256], pid[32];
	FILE *f;
	size_t n, i;

	snprintf(p, sizeof(p), "/run/libvirt/qemu/%s.pid", name);
	run_read_file(p, pid, sizeof(pid));
	snprintf(p, sizeof(p), "/proc/%s/cmdline", pid);
	f = fopen(p, "r");
	cr_assert_not_null(f, "%s", p);
	n = fread(out, 1, size - 1, f);
	fclose(f);
	for (i = 0; i < n; i++)
		out[i] = out[i] ? out[i] : ' ';
	out[n] = '\0';
}

/*
 * Twin domains from one XML (2 of 8 vCPUs, <vcpupin vcpu='2' cpuset='1'/>): libvirt plugs
 * two vCPUs on one, vcpuset on the other while libvirtd is away. libvirtd, back, sees the
 * same; a save and restore of vcpuset's twin starts QEMU with 2 vCPUs and plugs vcpu2 and
 * vcpu3 again, which can then be unplugged.
 */
Test(libvirt, twins_changed_by_libvirt_and_by_vcpuset_look_the_same, .timeout = 400)
{
	const char *a = env("VCPUSET_LV_TWIN_A"), *b = env("VCPUSET_LV_TWIN_B");
	const char *dir = env("VCPUSET_LV_DIR"), *daemon = env("VCPUSET_LV_DAEMON");
	static char xa[262144], xb[262144], la[16384], lb[16384];
	char serial_a[300], serial_b[300], out[65536], id[32], uuid[64], save[300], v[64];
	struct footprint fp;
	double t0;
	int tid2;

	snprintf(serial_a, sizeof(serial_a), "%s/serial-a.log", dir);
	snprintf(serial_b, sizeof(serial_b), "%s/serial-b.log", dir);
	cr_assert_eq(sh(out, sizeof(out), VIRSH "setvcpus %s 4 --live 2>&1", a), 0, "%s", out);
	run_wait_guest(serial_a, "0-3", 20000);

	/* libvirtd running: its monitor; vcpuset says so at once and sends nothing */
	t0 = vs_now_ms();
	run_vcpuset(&r, (const char *const[]){ "--domain", b, "4", NULL });
	cr_assert_eq(r.exit, 1, "%s%s", r.out, r.err);
	cr_assert(strstr(r.err, "virsh setvcpus") && strstr(r.err, "libvirtd"), "%s", r.err);
	cr_assert_lt(vs_now_ms() - t0, 2000, "it failed at once, not after a greeting's timeout");
	run_free(&r);

	/* libvirtd away: vcpuset plugs on the other twin, vCPU 2 as libvirt's XML says */
	cr_assert_eq(sh(NULL, 0, "%s stop %s", daemon, dir), 0);
	run_vcpuset(&r, (const char *const[]){ "--json", "--domain", b, "4", NULL });
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(cJSON_IsTrue(run_item(run_item(r.json, "libvirt"), "updated")), "%s", r.out);
	cr_assert_str_eq(cJSON_GetStringValue(run_item(run_item(run_item(step0(), "tune"), "cpus"),
						       "from")), "libvirt", "%s", r.out);
	cr_assert_str_eq(cJSON_GetStringValue(run_item(run_item(run_item(step0(), "tune"), "cpus"),
						       "list")), "1");
	tid2 = step_tid(0);
	snprintf(uuid, sizeof(uuid), "%s", cJSON_GetStringValue(run_item(run_item(r.json, "libvirt"),
									 "uuid")));
	snprintf(id, sizeof(id), "%d", run_item(run_item(r.json, "libvirt"), "id")->valueint);
	run_free(&r);
	run_wait_guest(serial_b, "0-3", 20000);
	snprintf(group, sizeof(group), "machine/qemu-%s-%.20s.libvirt-qemu", id, b);
	footprint(2, tid2, &fp);
	cr_assert_str_eq(fp.cpus, "1", "vCPU 2's cpuset group, from <vcpupin vcpu='2' cpuset='1'/>");
	cr_assert_str_eq(fp.affinity, "1", "vCPU 2's affinity");

	/* --domain by id and by uuid find it; an unknown one is exit 2 with the names known */
	run_vcpuset(&r, (const char *const[]){ "--json", "--domain", id, "--status", NULL });
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert_str_eq(cJSON_GetStringValue(run_item(run_item(r.json, "libvirt"), "domain")), b);
	run_free(&r);
	run_vcpuset(&r, (const char *const[]){ "--domain", uuid, "--status", NULL });
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	run_free(&r);
	run_vcpuset(&r, (const char *const[]){ "--domain", "no-such-domain", "3", NULL });
	cr_assert_eq(r.exit, 2, "%s%s", r.out, r.err);
	cr_assert(strstr(r.err, a) && strstr(r.err, b), "the names it knows: %s", r.err);
	run_free(&r);

	/* libvirtd back: the twins' <vcpu>, <vcpus> and <cputune> are the same */
	cr_assert_eq(sh(NULL, 0, "%s start %s", daemon, dir), 0);
	cr_assert_eq(sh(xa, sizeof(xa), VIRSH "dumpxml %s", a), 0);
	cr_assert_eq(sh(xb, sizeof(xb), VIRSH "dumpxml %s", b), 0);
	same_part(xa, xb, "<vcpu placement", "</vcpu>");
	same_part(xa, xb, "<vcpus>", "</vcpus>");
	same_part(xa, xb, "<cputune>", "</cputune>");
	cr_assert_eq(sh(la, sizeof(la), VIRSH "vcpupin %s --live", a), 0);
	cr_assert_eq(sh(lb, sizeof(lb), VIRSH "vcpupin %s --live", b), 0);
	cr_assert_str_eq(lb, la, "virsh vcpupin");
	cr_assert_eq(sh(out, sizeof(out), VIRSH "vcpuinfo %s", a), 0);
	lines_with(out, "Affinity", la, sizeof(la));
	cr_assert_eq(sh(out, sizeof(out), VIRSH "vcpuinfo %s", b), 0);
	lines_with(out, "Affinity", lb, sizeof(lb));
	cr_assert_str_eq(lb, la, "virsh vcpuinfo's affinities");

	/* save and restore: QEMU starts with 2 vCPUs and plugs vcpu2 and vcpu3 again */
	snprintf(save, sizeof(save), "%s/b.save", dir);
	cr_assert_eq(sh(out, sizeof(out), VIRSH "save %s %s 2>&1", b, save), 0, "%s", out);
	cr_assert_eq(sh(out, sizeof(out), VIRSH "restore %s 2>&1", save), 0, "%s", out);
	unlink(save);
	qemu_cmdline(b, out, sizeof(out));
	cr_assert(strstr(out, " -smp 2,"), "QEMU after restore: %s", out);
	cr_assert_eq(sh(NULL, 0, "%s stop %s", daemon, dir), 0);
	run_vcpuset(&r, (const char *const[]){ "--json", "--domain", b, "--status", NULL });
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	snprintf(v, sizeof(v), "%s", cJSON_GetStringValue(run_item(cJSON_GetArrayItem(
		run_item(r.json, "vcpus"), 2), "alias")) ?: "");
	cr_assert_str_eq(v, "vcpu2", "restored as a hot-plugged vCPU: %s", r.out);
	snprintf(v, sizeof(v), "%s", cJSON_GetStringValue(run_item(cJSON_GetArrayItem(
		run_item(r.json, "vcpus"), 3), "alias")) ?: "");
	cr_assert_str_eq(v, "vcpu3", "%s", r.out);
	run_free(&r);
	/* and they unplug */
	run_vcpuset(&r, (const char *const[]){ "--json", "--domain", b, "2", NULL });
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	run_free(&r);
	cr_assert_eq(sh(NULL, 0, "%s start %s", daemon, dir), 0);
	cr_assert_eq(sh(out, sizeof(out), VIRSH "vcpucount %s --live --active", b), 0);
	cr_assert_eq(atoi(out), 2, "virsh vcpucount after vcpuset's unplug: %s", out);
}
