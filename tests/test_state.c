/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for state.c on a throw-away directory: the ledger's round trip, what is not trusted. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run.h"
#include "state.h"

static char dir[64];
static struct state *st;
static struct vs_err err;
static const struct state_key key = { 4242, 987654321ULL };

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/vcpuset-state-test-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(state_open(dir, &st, &err), 0, "%s", err.msg);
}

static void teardown(void)
{
	state_free(st);
	st = NULL;
	run_remove_dir(dir);
}

TestSuite(state, .init = setup, .fini = teardown, .timeout = 20);

static void put(const char *name, const char *text)
{
	char p[160];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "w");
	cr_assert_not_null(f, "%s", p);
	fputs(text, f);
	fclose(f);
	chmod(p, 0600);
}

Test(state, ledger_round_trip_and_empty_removes_the_file)
{
	struct state_entry e[4], *got = NULL;
	char why[256], p[160];
	int n = -1, i;

	memset(e, 0, sizeof(e));
	e[0] = (struct state_entry){ .vcpu = 3, .vcpus = 1, .tid = 77, .old_count = 4, .new_count = 3,
				     .time = 1700000000, .alias = "vcpu3",
				     .qom_path = "/machine/peripheral/vcpu3" };
	e[1] = (struct state_entry){ .vcpu = 8, .vcpus = 8, .old_count = 16, .new_count = 8,
				     .time = 1700000001, .refused = true, .alias = "vcpu8" };
	/* write-ahead intents (issue 15): a plug with its settings, an unplug */
	e[2] = (struct state_entry){ .kind = STATE_PLUG, .vcpu = 4, .vcpus = 1, .old_count = 3,
				     .new_count = 4, .time = 1700000002, .alias = "vcpu4",
				     .settings = "period=100000 quota=-1 cpus=0-1 sched=fifo:5" };
	e[3] = (struct state_entry){ .kind = STATE_UNPLUG, .vcpu = 5, .vcpus = 1, .tid = 78,
				     .old_count = 4, .new_count = 3, .time = 1700000003,
				     .alias = "vcpu5", .qom_path = "/machine/peripheral/vcpu5",
				     .recorded = true };
	cr_assert_eq(state_save(st, &key, e, 4, &err), 0, "%s", err.msg);
	snprintf(p, sizeof(p), "%s/qemu-4242-987654321.json", dir);
	cr_assert_eq(access(p, F_OK), 0, "the ledger is named after the VM's key");
	cr_assert_eq(state_load(st, &key, &got, &n, why, sizeof(why)), 0);
	cr_assert_str_eq(why, "");
	cr_assert_eq(n, 4);
	for (i = 0; i < 4; i++)
		cr_assert_eq(memcmp(&got[i], &e[i], sizeof(e[i])), 0, "entry %d comes back as it went", i);
	free(got);
	cr_assert_eq(state_save(st, &key, e, 0, &err), 0, "%s", err.msg);
	cr_assert_neq(access(p, F_OK), 0, "no entries, no file");
	cr_assert_eq(state_load(st, &key, &got, &n, why, sizeof(why)), 0);
	cr_assert_eq(n, 0);
	free(got);
}

struct untrusted_case {
	const char *text;
	int n;
	const char *why;
};

static const struct untrusted_case untrusted[] = {
	{ "{\"vcpuset_ledger\":1,\"qemu_pid\":4242,\"pend", 0, "is torn or not this VM's; ignored" },
	{ "{\"vcpuset_ledger\":1,\"qemu_pid\":4243,\"qemu_start\":987654321,\"pending\":[]}", 0,
	  "is torn or not this VM's" },
	{ "{\"vcpuset_ledger\":1,\"qemu_pid\":4242,\"qemu_start\":0,\"pending\":[]}", 0,
	  "is torn or not this VM's" },
	{ "{\"vcpuset_ledger\":1,\"qemu_pid\":4242,\"qemu_start\":987654321,\"pending\":[{\"vcpu\":2,"
	  "\"vcpus\":1,\"alias\":\"vcpu2\",\"qom_path\":\"\",\"tid\":0,\"old\":3,\"new\":2,\"time\":1},"
	  "{\"vcpu\":-1,\"vcpus\":1,\"alias\":\"vcpu2\",\"qom_path\":\"\",\"tid\":0,\"old\":3,\"new\":2,"
	  "\"time\":1},{\"vcpu\":2,\"vcpus\":1,\"alias\":\"\",\"qom_path\":\"\",\"tid\":0,\"old\":3,"
	  "\"new\":2,\"time\":1},{\"vcpu\":2,\"vcpus\":1.5,\"alias\":\"vcpu2\",\"qom_path\":\"\","
	  "\"tid\":0,\"old\":3,\"new\":2,\"time\":1}]}", 1, "a pending-unplug entry is malformed" },
	/* an intent of an unknown kind, settings with a control character */
	{ "{\"vcpuset_ledger\":1,\"qemu_pid\":4242,\"qemu_start\":987654321,\"pending\":[{\"vcpu\":2,"
	  "\"vcpus\":1,\"alias\":\"vcpu2\",\"qom_path\":\"\",\"tid\":0,\"old\":3,\"new\":2,\"time\":1,"
	  "\"kind\":\"plug\",\"settings\":\"cpus=0\"},{\"vcpu\":3,\"vcpus\":1,\"alias\":\"vcpu3\","
	  "\"qom_path\":\"\",\"tid\":0,\"old\":3,\"new\":2,\"time\":1,\"kind\":\"replug\"},"
	  "{\"vcpu\":4,\"vcpus\":1,\"alias\":\"vcpu4\",\"qom_path\":\"\",\"tid\":0,\"old\":3,"
	  "\"new\":2,\"time\":1,\"kind\":\"plug\",\"settings\":\"cpus=0\\u001b[2J\"}]}", 1,
	  "is malformed" },
};

Test(state, a_torn_foreign_or_malformed_ledger_is_not_trusted)
{
	struct state_entry *got = NULL;
	char why[256];
	size_t i;
	int n;

	for (i = 0; i < sizeof(untrusted) / sizeof(*untrusted); i++) {
		put("qemu-4242-987654321.json", untrusted[i].text);
		cr_assert_eq(state_load(st, &key, &got, &n, why, sizeof(why)), 0);
		cr_assert_eq(n, untrusted[i].n, "case %zu", i);
		cr_assert(strstr(why, untrusted[i].why), "case %zu: %s", i, why);
		free(got);
		got = NULL;
	}
}

Test(state, a_ledger_that_is_a_symlink_is_not_followed)
{
	struct state_entry *got = NULL;
	char p[160], why[256];
	int n;

	snprintf(p, sizeof(p), "%s/qemu-4242-987654321.json", dir);
	cr_assert_eq(symlink("/etc/passwd", p), 0);
	cr_assert_eq(state_load(st, &key, &got, &n, why, sizeof(why)), 0);
	cr_assert_eq(n, 0);
	cr_assert(strstr(why, "a symlink"), "%s", why);
	free(got);
}

static bool alive_only_4242(void *ctx, const struct state_key *k)
{
	(void)ctx;
	return k->pid == 4242 && k->start == 987654321ULL;
}

static void count_removed(void *ctx, const char *name)
{
	(void)name;
	(*(int *)ctx)++;
}

Test(state, ledgers_of_vms_that_are_gone_are_removed)
{
	char p[160];
	int removed = 0;

	put("qemu-4242-987654321.json", "{}");
	put("qemu-4242-5.json", "{}");
	put("qemu-99-987654321.json", "{}");
	put("sock-1-2.lock", "");
	put("qemu-x-1.json", "{}");
	/* the callback's ctx is the counter */
	state_gc(st, alive_only_4242, count_removed, NULL, &removed);
	cr_assert_eq(removed, 2);
	snprintf(p, sizeof(p), "%s/qemu-4242-987654321.json", dir);
	cr_assert_eq(access(p, F_OK), 0, "the live VM's ledger stays");
	snprintf(p, sizeof(p), "%s/sock-1-2.lock", dir);
	cr_assert_eq(access(p, F_OK), 0, "locks are not ledgers");
	snprintf(p, sizeof(p), "%s/qemu-x-1.json", dir);
	cr_assert_eq(access(p, F_OK), 0, "a name not of ours is left alone");
}

Test(state, a_held_lock_names_its_holder)
{
	struct state *other = NULL;
	pid_t child;
	int ready[2];
	char c;

	cr_assert_eq(pipe(ready), 0);
	child = fork();
	if (child == 0) {
		struct state *mine = NULL;

		if (state_open(dir, &mine, &err) < 0 || state_lock(mine, 1, 2, 1, &err) < 0)
			_exit(1);
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	cr_assert_eq(read(ready[0], &c, 1), 1);
	cr_assert_eq(state_open(dir, &other, &err), 0, "%s", err.msg);
	cr_assert_eq(state_lock(other, 1, 2, 0.1, &err), -EWOULDBLOCK);
	cr_assert(strstr(err.msg, "another vcpuset (pid"), "%s", err.msg);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	cr_assert_eq(state_lock(other, 1, 2, 1, &err), 0, "%s", err.msg);
	cr_assert_eq(state_lock(st, 3, 4, 1, &err), 0, "another VM's lock is free: %s", err.msg);
	state_free(other);
	close(ready[0]);
	close(ready[1]);
}

static char parents_seen[512];

static void saw_parent(void *ctx, const char *p)
{
	size_t n = strlen(parents_seen);

	(void)ctx;
	snprintf(parents_seen + n, sizeof(parents_seen) - n, "%s;", p);
}

/* Issue 15: where a VM's vcpuN groups are outlives its ledger, and is handed back once it is gone. */
Test(state, the_groups_of_a_vm_that_is_gone_are_handed_back_then_forgotten)
{
	const char *parents[] = { "/sys/fs/cgroup/cpu/machine/vm1", "/sys/fs/cgroup/unified/machine/vm1" };
	const char *relative[] = { "machine/vm1" };
	const struct state_key gone = { 99, 5 };
	char p[160];
	int removed = 0;

	cr_assert_eq(state_groups_save(st, &key, parents, 2, &err), 0, "%s", err.msg);
	cr_assert_eq(state_groups_save(st, &gone, parents, 1, &err), 0, "%s", err.msg);
	cr_assert_eq(state_groups_save(st, &gone, relative, 1, &err), -EINVAL);
	parents_seen[0] = '\0';
	state_gc(st, alive_only_4242, count_removed, saw_parent, &removed);
	cr_assert_str_eq(parents_seen, "/sys/fs/cgroup/cpu/machine/vm1;", "the gone VM's only");
	cr_assert_eq(removed, 1);
	snprintf(p, sizeof(p), "%s/qemu-99-5.groups", dir);
	cr_assert_neq(access(p, F_OK), 0, "forgotten");
	snprintf(p, sizeof(p), "%s/qemu-4242-987654321.groups", dir);
	cr_assert_eq(access(p, F_OK), 0, "the live VM's stays");
}
