/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Choosing vCPUs: --enable / --disable lists and per-vCPU settings ("--cpuset 3:0"), on the
 * scripted peer (x86 with gaps, a ppc64 core of 8 threads, s390x) and a fixture host. Every
 * refusal is checked to have sent nothing.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <sched.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "peer.h"
#include "run.h"
#include "vcpuset.h"

static struct peer *peer;
static char sock[64];
static struct run_result r;

static void serve(const struct peer_config *cfg)
{
	snprintf(sock, sizeof(sock), "/tmp/vcpuset-sel-%d.sock", (int)getpid());
	peer = peer_start_unix(sock, cfg);
}

static void on_fixture(void)
{
	run_sysroot(getpid());
}

static void teardown(void)
{
	run_free(&r);
	if (peer)
		free(peer_stop(peer));
	peer = NULL;
	run_sysroot_off();
}

TestSuite(select, .init = on_fixture, .fini = teardown, .timeout = 30);

#define RUN(...) run_vcpuset(&r, (const char *const[]){ __VA_ARGS__, NULL })

static cJSON *step(int i)
{
	return cJSON_GetArrayItem(run_item(r.json, "steps"), i);
}

static int nsteps(void)
{
	return cJSON_GetArraySize(run_item(r.json, "steps"));
}

static const char *error_message(void)
{
	return cJSON_GetStringValue(run_item(run_item(r.json, "error"), "message"));
}

Test(select, enable_plugs_exactly_those_and_a_count_fills_the_gap_lowest_first)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .unplug = PEER_UNPLUG_TCG,
				   .unplug_ms = 5 };
	char on[64];

	serve(&cfg);
	RUN("--json", "--no-audit", "--enable", "5", "--socket", sock);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert_eq(nsteps(), 1);
	cr_assert_eq(run_item(step(0), "vcpu")->valueint, 5);
	cr_assert_eq(run_item(r.json, "after")->valueint, 3);
	run_free(&r);
	run_online_vcpus(sock, on, sizeof(on));
	cr_assert_str_eq(on, "0,1,5");
	RUN("--json", "--no-audit", "--socket", sock, "4");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert_eq(run_item(step(0), "vcpu")->valueint, 2, "the gap, lowest first");
	run_free(&r);
	run_online_vcpus(sock, on, sizeof(on));
	cr_assert_str_eq(on, "0,1,2,5");
	RUN("--json", "--no-audit", "--socket", sock, "3");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert_eq(run_item(step(0), "vcpu")->valueint, 5, "a COUNT unplugs the highest");
	run_free(&r);
	run_online_vcpus(sock, on, sizeof(on));
	cr_assert_str_eq(on, "0,1,2");
}

Test(select, disable_unplugs_exactly_those_highest_first)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .unplug = PEER_UNPLUG_TCG,
				   .unplug_ms = 5 };
	char on[64];

	serve(&cfg);
	RUN("--json", "--no-audit", "--enable", "2-5", "--socket", sock);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert_eq(nsteps(), 4);
	cr_assert_eq(run_item(step(0), "vcpu")->valueint, 2, "plugs lowest first");
	run_free(&r);
	RUN("--json", "--no-audit", "--disable", "3,5", "--socket", sock);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert_eq(nsteps(), 2);
	cr_assert_eq(run_item(step(0), "vcpu")->valueint, 5, "unplugs highest first");
	cr_assert_eq(run_item(step(1), "vcpu")->valueint, 3);
	cr_assert_eq(run_item(r.json, "after")->valueint, 4);
	run_free(&r);
	run_online_vcpus(sock, on, sizeof(on));
	cr_assert_str_eq(on, "0,1,2,4");
}

/* A refusal: exit 2, the message holding want, nothing sent. */
static void refused(const char *want, const char *const *args)
{
	const char *a[16] = { "--json", "--no-audit", "--socket", sock };
	int i;

	for (i = 0; args[i]; i++)
		a[4 + i] = args[i];
	run_vcpuset(&r, a);
	cr_assert_eq(r.exit, 2, "%s: %s%s", args[0], r.out, r.err);
	cr_assert(error_message() && strstr(error_message(), want), "%s", r.out);
	run_assert_nothing_sent(peer);
	run_free(&r);
}

Test(select, refusals_name_the_vcpus_and_send_nothing)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2 };

	serve(&cfg);
	refused("--enable 8: vCPU 8 is past the last one, 7 (8 vCPUs at most)",
		(const char *const[]){ "--enable", "8", NULL });
	refused("--enable 1-2: vCPU 1 is online already (give only the others)",
		(const char *const[]){ "--enable", "1-2", NULL });
	refused("--disable 0: vCPU 0 was present at boot",
		(const char *const[]){ "--disable", "0", NULL });
	refused("--cpuset 7:1: vCPU 7 is not plugged by this run (it plugs 2)",
		(const char *const[]){ "--enable", "2", "--cpuset", "7:1", NULL });
	refused("--sched 3:batch: vCPU 3 is not plugged by this run (it plugs 2)",
		(const char *const[]){ "3", "--sched", "3:batch", NULL });
}

Test(select, all_already_in_the_asked_state_is_nothing_to_do)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2 };

	serve(&cfg);
	RUN("--no-audit", "--enable", "0-1", "--socket", sock);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "nothing to do"), "%s", r.out);
	run_free(&r);
	RUN("--no-audit", "--disable", "4-7", "--socket", sock);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "nothing to do"), "%s", r.out);
	run_assert_nothing_sent(peer);
}

Test(select, usage_errors_of_lists)
{
	static const char *const cases[][5] = {
		{ "--socket", "/x", "--enable", "3", "4" },
		{ "--socket", "/x", "--enable", "", NULL },
		{ "--socket", "/x", "--enable", "2", "--disable" },
		{ "--socket", "/x", "--enable", "x", NULL },
		{ "--socket", "/x", "--status", "--enable", "2" },
	};
	static const char *const want[] = { "takes no COUNT", "--enable: ", "one --enable or --disable",
					    "--enable: ", "takes no COUNT, --status" };
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *a[7] = { cases[i][0], cases[i][1], cases[i][2], cases[i][3], cases[i][4],
				     i == 2 ? "3" : NULL, NULL };

		run_vcpuset(&r, a);
		cr_assert_eq(r.exit, 2, "case %zu: %s", i, r.err);
		cr_assert(strstr(r.err, want[i]), "case %zu: %s", i, r.err);
		run_free(&r);
	}
}

Test(select, a_ppc64_core_is_enabled_whole_and_named_when_cut)
{
	struct peer_config cfg = { .fixture = "ppc64-pseries-t8" };

	serve(&cfg);
	refused("vCPUs 8-15 are one hot-pluggable entity", (const char *const[]){ "--enable", "9",
										      NULL });
	refused("--enable 8-15", (const char *const[]){ "--enable", "8-12", NULL });
	RUN("--json", "--no-audit", "--enable", "16-23", "--socket", sock);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert_eq(nsteps(), 1);
	cr_assert_eq(run_item(step(0), "vcpu")->valueint, 16);
	cr_assert_eq(run_item(step(0), "vcpus")->valueint, 8);
}

Test(select, s390x_refusals)
{
	struct peer_config cfg = { .fixture = "s390x-ccw" };

	serve(&cfg);
	refused("--enable 4: vCPU 4 is past the last one, 3", (const char *const[]){ "--enable", "4",
										      NULL });
	refused("--disable 1: vCPU 1 was present at boot", (const char *const[]){ "--disable", "1",
										     NULL });
	RUN("--json", "--no-audit", "--enable", "3", "--socket", sock);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert_eq(run_item(step(0), "vcpu")->valueint, 3);
}

/* Commands that change the guest the peer has received so far. */
static int changes_sent(void)
{
	char *log = peer_log(peer), *p;
	int n = 0;

	for (p = log; (p = strstr(p, "\"device_")); p++)
		n++;
	free(log);
	return n;
}

Test(select, a_vcpu_pending_unplug_is_refused_both_ways)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .unplug = PEER_UNPLUG_NEVER };
	int sent;

	serve(&cfg);
	RUN("--json", "--no-audit", "--enable", "3", "--socket", sock);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	run_free(&r);
	RUN("--json", "--no-audit", "--timeout", "0.2", "--disable", "3", "--socket", sock);
	cr_assert_eq(r.exit, 3, "pending: %s%s", r.out, r.err);
	run_free(&r);
	sent = changes_sent();
	RUN("--json", "--no-audit", "--disable", "3", "--socket", sock);
	cr_assert_eq(r.exit, 2, "%s%s", r.out, r.err);
	cr_assert(strstr(error_message(), "the unplug of vCPU 3 is pending"), "%s", r.out);
	run_free(&r);
	RUN("--json", "--no-audit", "--enable", "3", "--socket", sock);
	cr_assert_eq(r.exit, 2, "%s%s", r.out, r.err);
	cr_assert(strstr(error_message(), "the unplug of vCPU 3 is pending"), "%s", r.out);
	cr_assert_eq(changes_sent(), sent, "nothing sent");
}

Test(select, per_vcpu_settings_go_to_their_vcpu_alone)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2 };
	cpu_set_t set;
	int tid;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		cr_skip_test("needs 2 host CPUs");
	serve(&cfg);
	RUN("--json", "--no-audit", "--enable", "3-4", "--cpuset", "3:0", "--cpuset", "4:1",
	    "--sched", "3-4:batch", "--socket", sock);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert_str_eq(cJSON_GetStringValue(run_item(run_item(run_item(step(0), "tune"), "cpus"),
						       "list")), "0");
	cr_assert_str_eq(cJSON_GetStringValue(run_item(run_item(run_item(step(1), "tune"), "cpus"),
						       "list")), "1");
	cr_assert_str_eq(cJSON_GetStringValue(run_item(run_item(run_item(step(1), "tune"), "sched"),
						       "policy")), "batch");
	tid = run_item(step(0), "tid")->valueint;
	cr_assert_eq(sched_getaffinity(tid, sizeof(set), &set), 0);
	cr_assert(CPU_ISSET(0, &set) && CPU_COUNT(&set) == 1, "vCPU 3 on CPU 0 alone");
	cr_assert_eq(sched_getscheduler(tid), SCHED_BATCH);
	tid = run_item(step(1), "tid")->valueint;
	cr_assert_eq(sched_getaffinity(tid, sizeof(set), &set), 0);
	cr_assert(CPU_ISSET(1, &set) && CPU_COUNT(&set) == 1, "vCPU 4 on CPU 1 alone");
	run_free(&r);
	/* with a COUNT too, an unprefixed value for the rest */
	RUN("--json", "--no-audit", "--socket", sock, "6", "--cpuset", "2:1", "--cpuset", "0-1");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert_eq(run_item(step(0), "vcpu")->valueint, 2);
	cr_assert_str_eq(cJSON_GetStringValue(run_item(run_item(run_item(step(0), "tune"), "cpus"),
						       "list")), "1");
	cr_assert_str_eq(cJSON_GetStringValue(run_item(run_item(run_item(step(1), "tune"), "cpus"),
						       "list")), "0-1");
}

Test(select, the_dry_run_shows_each_vcpus_settings)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2 };

	serve(&cfg);
	RUN("--no-audit", "--dry-run", "--enable", "3-4", "--cpuset", "3:0", "--cpuset", "4:1",
	    "--socket", sock);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "plug   vCPU 3") && strstr(r.out, "plug   vCPU 4"), "%s", r.out);
	cr_assert(strstr(r.out, "vCPU 3 gets: cpus 0 (given), affinity 0 (given)") &&
		  strstr(r.out, "vCPU 4 gets: cpus 1 (given), affinity 1 (given)"), "%s", r.out);
	cr_assert(strstr(r.out, "sched_setaffinity(<tid>, 0)") &&
		  strstr(r.out, "sched_setaffinity(<tid>, 1)"), "%s", r.out);
	cr_assert(strstr(r.out, "plug   vCPU 3") < strstr(r.out, "sched_setaffinity(<tid>, 0)") &&
		  strstr(r.out, "sched_setaffinity(<tid>, 0)") < strstr(r.out, "plug   vCPU 4"),
		  "each under its step: %s", r.out);
	run_assert_nothing_sent(peer);
}

Test(select, status_says_which_vcpus_can_be_disabled_and_why_not)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2 };
	cJSON *v;

	serve(&cfg);
	RUN("--no-audit", "--enable", "3", "--socket", sock);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	run_free(&r);
	RUN("--json", "--no-audit", "--status", "--socket", sock);
	v = run_item(r.json, "vcpus");
	cr_assert(cJSON_IsFalse(run_item(cJSON_GetArrayItem(v, 0), "can_disable")));
	cr_assert(strstr(cJSON_GetStringValue(run_item(cJSON_GetArrayItem(v, 0), "why_not")),
			 "present at boot"));
	cr_assert(cJSON_IsTrue(run_item(cJSON_GetArrayItem(v, 3), "can_disable")));
	cr_assert(cJSON_IsNull(run_item(cJSON_GetArrayItem(v, 3), "why_not")));
	cr_assert_str_eq(cJSON_GetStringValue(run_item(cJSON_GetArrayItem(v, 2), "why_not")), "offline");
}

/* ---- core scheduling, through tests/core_shim.so (this kernel may have none) ---- */

static char cookies[128];

static void no_shim(void)
{
	unsetenv("LD_PRELOAD");
	if (cookies[0])
		unlink(cookies);
	teardown();
}

/* The peer's vCPU threads now, by index, from --status. */
static void vcpu_tids(int *tids, int n)
{
	int i;

	RUN("--json", "--no-audit", "--status", "--socket", sock);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	for (i = 0; i < n; i++) {
		cJSON *t = run_item(cJSON_GetArrayItem(run_item(r.json, "vcpus"), i), "tid");

		tids[i] = cJSON_IsNumber(t) ? t->valueint : 0;
	}
	run_free(&r);
}

/* Give vCPUs 0 and 1 the cookies a and b. */
static void sibling_cookies(unsigned long a, unsigned long b)
{
	int tids[2];
	FILE *f;

	vcpu_tids(tids, 2);
	snprintf(cookies, sizeof(cookies), "/tmp/vcpuset-cookies-%d", (int)getpid());
	f = fopen(cookies, "w");
	cr_assert_not_null(f);
	fprintf(f, "%d %lx\n%d %lx\n", tids[0], a, tids[1], b);
	fclose(f);
	run_core_shim(cookies);
}

static unsigned long shim_cookie(int tid)
{
	unsigned long c, found = 0;
	FILE *f = fopen(cookies, "r");
	long t;

	while (f && fscanf(f, "%ld %lx", &t, &c) == 2)
		if (t == tid)
			found = c;
	if (f)
		fclose(f);
	return found;
}

Test(select, a_new_vcpu_joins_the_core_cookie_its_siblings_share, .fini = no_shim)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2 };
	cJSON *k;
	int tid;

	serve(&cfg);
	sibling_cookies(0xabc, 0xabc);
	RUN("--no-audit", "--dry-run", "--socket", sock, "3");
	cr_assert(strstr(r.out, "prctl(PR_SCHED_CORE, SHARE_FROM"), "the dry run shows it: %s", r.out);
	run_free(&r);
	RUN("--json", "--no-audit", "--socket", sock, "3");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	k = run_item(step(0), "core_sched");
	cr_assert_str_eq(cJSON_GetStringValue(run_item(k, "action")), "joined", "%s", r.out);
	cr_assert_str_eq(cJSON_GetStringValue(run_item(k, "cookie")), "0xabc");
	tid = run_item(step(0), "tid")->valueint;
	cr_assert_eq(shim_cookie(tid), 0xabc, "the new vCPU thread has the cookie");
	run_free(&r);
	RUN("--json", "--no-audit", "--status", "--socket", sock);
	cr_assert_str_eq(cJSON_GetStringValue(run_item(cJSON_GetArrayItem(run_item(r.json, "vcpus"), 2),
						       "cookie")), "0xabc", "%s", r.out);
}

Test(select, siblings_with_different_core_cookies_give_none_and_a_warning, .fini = no_shim)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2 };

	serve(&cfg);
	sibling_cookies(0xabc, 0xdef);
	RUN("--json", "--no-audit", "--socket", sock, "3");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert_str_eq(cJSON_GetStringValue(run_item(run_item(step(0), "core_sched"), "action")),
			 "differ", "%s", r.out);
	cr_assert(run_has_warning(&r, "core-scheduling cookies differ (vcpu0 0xabc, vcpu1 0xdef)"),
		  "%s", r.out);
	cr_assert_eq(shim_cookie(run_item(step(0), "tid")->valueint), 0);
}

Test(select, siblings_without_a_core_cookie_leave_it_alone, .fini = no_shim)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2 };

	serve(&cfg);
	sibling_cookies(0, 0);
	RUN("--json", "--no-audit", "--socket", sock, "3");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert_str_eq(cJSON_GetStringValue(run_item(run_item(step(0), "core_sched"), "action")),
			 "none", "%s", r.out);
}

Test(select, a_kernel_without_core_scheduling_is_a_note)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2 };
	unsigned long c = 0;
	bool none = prctl(62, 0, 0, 0, (unsigned long)&c) < 0 && errno == EINVAL;

	serve(&cfg);
	RUN("--json", "--verbose", "--no-audit", "--socket", sock, "3");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert_str_eq(cJSON_GetStringValue(run_item(run_item(step(0), "core_sched"), "action")),
			 none ? "unsupported" : "none", "%s", r.out);
	if (none)
		cr_assert(strstr(r.err, "core scheduling: this kernel has none"), "%s", r.err);
}
