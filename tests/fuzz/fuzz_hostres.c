/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer harness: hostres's readers on fixture trees whose contents come from the input —
 * /proc/self/mountinfo, /proc/<pid>/cgroup and stat, the sysfs CPU and node lists, a vCPU
 * group's cgroup files (v1 and v2), its task lists, and the pending-unplug ledger.
 * The input is sections separated by "\n%%\n", in the order of files[] below; in mountinfo
 * every '@' becomes the fixture's root, so that mounts can name the fixture's directories.
 * Only reading calls run (hostres in dry mode): a fuzzed mountinfo may name real
 * directories, and nothing here may write to them.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hostres.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[64];
static int pid, tid;

/* The files each section fills, relative to the root; %P is our pid, %T our tid. */
static const char *const files[] = {
	"proc/%P/cgroup",
	"proc/self/mountinfo",
	"proc/%P/stat",
	"sys/devices/system/cpu/online",
	"sys/devices/system/cpu/isolated",
	"sys/devices/system/node/online",
	"cg/cpu/machine/vm/vcpu0/cpu.cfs_period_us",
	"cg/cpu/machine/vm/vcpu0/cpu.cfs_quota_us",
	"cg/unified/machine/vm/vcpu0/cpu.max",
	"cg/cpuset/machine/vm/vcpu0/cpuset.cpus",
	"cg/cpuset/machine/vm/vcpu0/cpuset.mems",
	"cg/cpu/machine/vm/vcpu0/tasks",
	"cg/unified/machine/vm/vcpu0/cgroup.threads",
	"cg/unified/machine/vm/cgroup.controllers",
	"cg/cpuset/machine/vm/cpuset.cpus",
	"state/ledger",
};
#define NFILES (sizeof(files) / sizeof(*files))

static void path_of(const char *rel, char *out, size_t size)
{
	char buf[256];
	size_t o = 0;

	for (; *rel && o + 16 < sizeof(buf); rel++) {
		if (rel[0] == '%' && rel[1] == 'P')
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%d", pid), rel++;
		else if (rel[0] == '%' && rel[1] == 'T')
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%d", tid), rel++;
		else
			buf[o++] = *rel;
	}
	buf[o] = '\0';
	snprintf(out, size, "%s/%s", root, buf);
}

static void mkdirs(const char *rel)
{
	char p[512], *s;

	path_of(rel, p, sizeof(p));
	for (s = p + strlen(root) + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			mkdir(p, 0700);
			*s = '/';
		}
	mkdir(p, 0700);
}

static void put(const char *rel, const uint8_t *p, size_t n, bool at_root)
{
	char path[512];
	FILE *f;
	size_t i;

	path_of(rel, path, sizeof(path));
	f = fopen(path, "w");
	if (!f)
		abort();
	for (i = 0; i < n; i++) {
		if (at_root && p[i] == '@')
			fputs(root, f);
		else
			fputc(p[i], f);
	}
	fclose(f);
}

static void setup(void)
{
	static const char *const dirs[] = {
		"proc/%P/task/%T", "proc/self", "sys/devices/system/cpu", "sys/devices/system/node",
		"cg/cpu/machine/vm/emulator", "cg/cpu/machine/vm/vcpu0",
		"cg/cpuset/machine/vm/emulator", "cg/cpuset/machine/vm/vcpu0",
		"cg/unified/machine/vm/emulator", "cg/unified/machine/vm/vcpu0", "state",
	};
	size_t i;

	pid = getpid();
	tid = (int)syscall(SYS_gettid);
	snprintf(root, sizeof(root), "/tmp/vcpuset-fuzz-XXXXXX");
	if (!mkdtemp(root))
		abort();
	for (i = 0; i < sizeof(dirs) / sizeof(*dirs); i++)
		mkdirs(dirs[i]);
}

static void quiet(void *ctx, const char *msg)
{
	(void)ctx;
	(void)msg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hostres_roots roots;
	struct hostres_tune tune;
	struct state_key key;
	struct state *st = NULL;
	struct state_entry *ents = NULL;
	int nents = 0;
	struct hostres *h = NULL;
	struct vs_err err;
	char proc[128], sys[128], resctrl[128], state[128], ledger[128], name[128], named[256];
	cJSON *json = NULL;
	const uint8_t *p = data, *end = data + size;
	size_t i;
	int n;

	if (size > (1u << 18))
		return 0;
	if (!root[0])
		setup();
	for (i = 0; i < NFILES; i++) {
		const uint8_t *sep = NULL, *s;

		for (s = p; s + 4 <= end; s++)
			if (memcmp(s, "\n%%\n", 4) == 0) {
				sep = s;
				break;
			}
		put(files[i], p, (size_t)((sep ? sep : end) - p), i == 1);
		p = sep ? sep + 4 : end;
	}
	snprintf(proc, sizeof(proc), "%s/proc", root);
	snprintf(sys, sizeof(sys), "%s/sys", root);
	snprintf(resctrl, sizeof(resctrl), "%s/resctrl", root);
	snprintf(state, sizeof(state), "%s/state", root);
	roots = (struct hostres_roots){ proc, sys, resctrl };
	if (hostres_open(&roots, &h, &err) < 0)
		abort();
	hostres_set_dry(h, true);
	hostres_set_warn(h, quiet, NULL);
	hostres_is_thread_of(h, pid, tid);
	memset(&tune, 0, sizeof(tune));
	hostres_default_affinity(h, &tune, &err);
	n = hostres_cgroups_find(h, pid, NULL, &err);
	if (getenv("FUZZ_DEBUG"))
		fprintf(stderr, "cgroups: %d %s\n", n, n < 0 ? err.msg : "");
	if (n >= 0) {
		json = hostres_cgroups_json(h);
		cJSON_Delete(json);
		json = NULL;
		hostres_vcpu_has_group(h, 0);
		n = hostres_vcpu_read(h, 0, tid, &tune, HR_INHERITED, &json, &err);
		if (n == 0)
			n = hostres_validate(h, &tune, &err);
		if (getenv("FUZZ_DEBUG")) {
			char *j = cJSON_PrintUnformatted(json);

			fprintf(stderr, "read+validate: %d %s\n%s\n", n, n < 0 ? err.msg : "", j);
			free(j);
		}
		cJSON_Delete(json);
		json = NULL;
	}
	key.pid = pid;
	if (hostres_start_time(h, pid, &key.start, &err) == 0 && state_open(state, &st, &err) == 0) {
		snprintf(name, sizeof(name), "qemu-%d-%llu.json", key.pid, key.start);
		snprintf(ledger, sizeof(ledger), "%s/ledger", state);
		snprintf(named, sizeof(named), "%s/%s", state, name);
		if (rename(ledger, named) == 0) {
			chmod(named, 0600);
			if (state_load(st, &key, &ents, &nents, NULL, 0) == 0) {
				for (i = 0; i < (size_t)nents; i++) {
					if (ents[i].vcpus < 1 || !ents[i].alias[0])
						abort(); /* state_load lets no such entry through */
					cJSON_Delete(state_entry_json(&ents[i]));
				}
				if (getenv("FUZZ_DEBUG"))
					fprintf(stderr, "ledger: %d entries\n", nents);
				free(ents);
			}
			rename(named, ledger);
		}
	}
	state_free(st);
	hostres_free(h);
	return 0;
}
