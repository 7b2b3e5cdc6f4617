/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * End-to-end tests on a real QEMU 10 TCG guest, booted once by tests/guest/run.sh for the
 * whole binary (run with --jobs 1). Each test first puts the guest at a known count.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run.h"

static struct run_result r;
static const char *sock, *serial;
static int qemu_pid;

static void setup(void)
{
	sock = getenv("VCPUSET_SOCKET");
	serial = getenv("VCPUSET_SERIAL");
	cr_assert(sock && serial && getenv("VCPUSET_QEMU_PID"),
		  "run through tests/guest/run.sh, which boots the guest");
	qemu_pid = atoi(getenv("VCPUSET_QEMU_PID"));
}

static void teardown(void)
{
	run_free(&r);
}

TestSuite(e2e, .init = setup, .fini = teardown, .timeout = 120);

#define RUN(...) run_vcpuset(&r, (const char *const[]){ __VA_ARGS__, NULL })

/* The guest's own last word on its online CPUs, from its serial console. */
static void guest_online(char *buf, size_t size)
{
	FILE *f = fopen(serial, "r");
	char line[256];

	buf[0] = '\0';
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VCPUSET-ONLINE ", 15) == 0) {
			line[strcspn(line, "\r\n")] = '\0';
			snprintf(buf, size, "%.63s", line + 15);
		}
	fclose(f);
}

static void wait_guest(const char *want)
{
	char got[64] = "";
	int i;

	for (i = 0; i < 200; i++) {
		guest_online(got, sizeof(got));
		if (strcmp(got, want) == 0)
			return;
		usleep(50000);
	}
	cr_assert_fail("guest shows CPUs '%s' online, want '%s'", got, want);
}

static bool qemu_has_thread(int tid)
{
	char p[64];
	struct stat st;

	snprintf(p, sizeof(p), "/proc/%d/task/%d", qemu_pid, tid);
	return stat(p, &st) == 0;
}

/* Put the guest at n vCPUs, confirmed by the guest. */
static void baseline(int n)
{
	char c[16], want[16];
	int i;

	snprintf(c, sizeof(c), "%d", n);
	snprintf(want, sizeof(want), n > 1 ? "0-%d" : "0", n - 1);
	for (i = 0; i < 3; i++) {
		RUN("--socket", sock, c);
		if (r.exit == 0)
			break;
		run_free(&r);
		sleep(1); /* an unplug from an earlier test may still be on its way */
	}
	cr_assert_eq(r.exit, 0, "baseline %d: %s", n, r.err);
	run_free(&r);
	wait_guest(want);
}

Test(e2e, plug_two_then_unplug_two_by_count)
{
	int tids[2], i;

	baseline(2);
	RUN("--json", "--socket", sock, "4");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert_eq(run_item(r.json, "before")->valueint, 2);
	cr_assert_eq(run_item(r.json, "after")->valueint, 4);
	cr_assert_eq(run_item(r.json, "max")->valueint, 64);
	cr_assert_eq(run_item(run_item(r.json, "vm"), "pid")->valueint, qemu_pid);
	cr_assert_str_eq(cJSON_GetStringValue(run_item(run_item(r.json, "vm"), "name")), "vcpuset-test");
	for (i = 0; i < 2; i++) {
		cJSON *s = cJSON_GetArrayItem(run_item(r.json, "steps"), i);

		cr_assert_str_eq(cJSON_GetStringValue(run_item(s, "status")), "done");
		cr_assert_eq(run_item(s, "vcpu")->valueint, 2 + i);
		tids[i] = run_item(s, "tid")->valueint;
		cr_assert(qemu_has_thread(tids[i]), "tid %d is a thread of QEMU", tids[i]);
	}
	run_free(&r);
	wait_guest("0-3");

	RUN("--json", "--socket", sock, "2");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	for (i = 0; i < 2; i++) {
		cJSON *s = cJSON_GetArrayItem(run_item(r.json, "steps"), i);

		cr_assert_str_eq(cJSON_GetStringValue(run_item(s, "op")), "unplug");
		cr_assert_eq(run_item(s, "vcpu")->valueint, 3 - i, "highest first");
		cr_assert_str_eq(cJSON_GetStringValue(run_item(s, "status")), "done");
		cr_assert_lt(run_item(s, "ms")->valuedouble, 5000);
	}
	cr_assert_eq(run_item(r.json, "after")->valueint, 2);
	cr_assert(!qemu_has_thread(tids[0]) && !qemu_has_thread(tids[1]), "vCPU threads have exited");
	wait_guest("0-1");
}

Test(e2e, relative_plus_one_minus_one)
{
	baseline(2);
	RUN("--socket", sock, "+1");
	cr_assert_eq(r.exit, 0, "%s", r.err);
	cr_assert(strstr(r.out, "3 vCPUs online"), "%s", r.out);
	run_free(&r);
	wait_guest("0-2");
	RUN("--socket", sock, "-1");
	cr_assert_eq(r.exit, 0, "%s", r.err);
	cr_assert(strstr(r.out, "2 vCPUs online"), "%s", r.out);
	wait_guest("0-1");
}

Test(e2e, refused_count_sends_nothing)
{
	static const char *const counts[] = { "65", "1", "0" };
	size_t i;

	baseline(2);
	for (i = 0; i < 3; i++) {
		RUN("--verbose", "--json", "--socket", sock, counts[i]);
		cr_assert_eq(r.exit, 2, "COUNT %s", counts[i]);
		cr_assert(strstr(r.err, "> {\"execute\":\"query-hotpluggable-cpus\""), "trace: %s", r.err);
		cr_assert_null(strstr(r.err, "\"execute\":\"device_"), "COUNT %s sent: %s", counts[i], r.err);
		cr_assert_not_null(cJSON_GetStringValue(run_item(run_item(r.json, "error"), "message")));
		run_free(&r);
	}
	RUN("--socket", sock, "65");
	cr_assert(strstr(r.err, "COUNT 65 is above the maximum of 64 vCPUs"), "%s", r.err);
}

Test(e2e, tiny_timeout_ends_pending_then_completes)
{
	char n[16];
	int i;

	baseline(3);
	RUN("--json", "--timeout", "0.001", "--socket", sock, "2");
	cr_assert_eq(r.exit, 3, "%s%s", r.out, r.err);
	cr_assert_str_eq(cJSON_GetStringValue(run_item(cJSON_GetArrayItem(run_item(r.json, "steps"), 0), "status")),
			 "pending");
	cr_assert(strstr(cJSON_GetStringValue(run_item(run_item(r.json, "error"), "message")), "may still complete"));
	run_free(&r);
	/* The guest finishes the eject on its own: a later look sees 2. */
	for (i = 0; i < 100; i++) {
		RUN("--json", "--status", "--socket", sock);
		cr_assert_eq(r.exit, 0);
		snprintf(n, sizeof(n), "%d", run_item(r.json, "after")->valueint);
		run_free(&r);
		if (strcmp(n, "2") == 0)
			break;
		usleep(50000);
	}
	cr_assert_str_eq(n, "2");
	wait_guest("0-1");
}

Test(e2e, status_and_dry_run_change_nothing)
{
	cJSON *v;

	baseline(2);
	RUN("--json", "--status", "--socket", sock);
	cr_assert_eq(r.exit, 0, "%s", r.err);
	v = run_item(r.json, "vcpus");
	cr_assert_eq(cJSON_GetArraySize(v), 64);
	cr_assert(cJSON_IsFalse(run_item(cJSON_GetArrayItem(v, 0), "hotpluggable")));
	cr_assert(qemu_has_thread(run_item(cJSON_GetArrayItem(v, 1), "tid")->valueint));
	cr_assert(cJSON_IsNull(run_item(cJSON_GetArrayItem(v, 2), "qom_path")));
	run_free(&r);
	RUN("--json", "--dry-run", "--socket", sock, "6");
	cr_assert_eq(r.exit, 0, "%s", r.err);
	cr_assert_eq(cJSON_GetArraySize(run_item(r.json, "steps")), 4);
	cr_assert_eq(run_item(r.json, "after")->valueint, 2);
	run_free(&r);
	RUN("--json", "--status", "--socket", sock);
	cr_assert_eq(run_item(r.json, "after")->valueint, 2);
}
