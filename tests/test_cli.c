/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for the vcpuset binary: options, exit codes and JSON, against the scripted peer. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "peer.h"
#include "run.h"
#include "vcpuset.h"

static struct peer *peer;
static char sock[64];
static struct run_result r;

static void serve(const struct peer_config *cfg)
{
	snprintf(sock, sizeof(sock), "/tmp/vcpuset-cli-%d.sock", (int)getpid());
	peer = peer_start_unix(sock, cfg);
}

static void finish(void)
{
	run_free(&r);
	if (peer)
		free(peer_stop(peer));
	peer = NULL;
}

/* Every test runs on a fixture host (--sysroot), unless it asks for the real one. */
static void on_fixture(void)
{
	run_sysroot(getpid());
}

static void teardown(void)
{
	finish();
	run_sysroot_off();
}

TestSuite(cli, .init = on_fixture, .fini = teardown, .timeout = 30);

static const char *error_message(void)
{
	return cJSON_GetStringValue(run_item(run_item(r.json, "error"), "message"));
}

static cJSON *step(int i)
{
	return cJSON_GetArrayItem(run_item(r.json, "steps"), i);
}

#define RUN(...) run_vcpuset(&r, (const char *const[]){ __VA_ARGS__, NULL })

Test(cli, help_and_version)
{
	RUN("--help");
	cr_assert_eq(r.exit, 0);
	cr_assert(strstr(r.out, "Usage: vcpuset [options] --socket PATH | --domain NAME COUNT"));
	run_free(&r);
	RUN("-V");
	cr_assert_eq(r.exit, 0);
	cr_assert(strncmp(r.out, "vcpuset ", 8) == 0, "%s", r.out);
}

struct usage_case {
	const char *a, *b, *c, *d;
	const char *msg;
};

Test(cli, usage_errors_exit_2_with_one_line)
{
	static const struct usage_case cases[] = {
		{ "4", NULL, NULL, NULL, "--socket PATH or --domain NAME is required" },
		{ "--socket", "/x", "--domain", "ol8", "--socket and --domain exclude each other" },
		{ "--domain", "ol8", "--no-libvirt", "4", "--domain finds the socket in libvirt's files" },
		{ "--domain", "a/b", "4", NULL, "--domain: 'a/b' is not a domain name, id or uuid" },
		{ "--socket", "/x", NULL, NULL, "COUNT is required" },
		{ "--socket", "/x", "six", NULL, "COUNT 'six' is not a number" },
		{ "--socket", "/x", "--timeout", "soon", "--timeout 'soon' is not a number of seconds" },
		{ "--socket", "/x", "--status", "4", "--status takes no COUNT" },
		{ "--socket", "/x", "4", "5", "unexpected argument '5'" },
		{ "--bogus", NULL, NULL, NULL, "unrecognized option" },
		{ "--socket", "/x", "--period", "999", "--period '999' is out of range (1000 to 1000000)" },
		{ "--socket", "/x", "--period", "1000001", "--period '1000001' is out of range" },
		{ "--socket", "/x", "--quota", "999", "--quota '999' is out of range (1000 to 17592186044415, or negative" },
		{ "--socket", "/x", "--quota", "17592186044416", "--quota '17592186044416' is out of range" },
		{ "--socket", "/x", "--sched", "fifo", "--sched: fifo needs a priority, fifo:1..99" },
		{ "--socket", "/x", "--sched", "rr:100", "--sched: priority 100 out of range 1..99 for rr" },
		{ "--socket", "/x", "--sched", "rr:0", "--sched: priority 0 out of range 1..99 for rr" },
		{ "--socket", "/x", "--sched", "batch:3", "--sched: batch takes no priority" },
		{ "--socket", "/x", "--sched", "realtime", "--sched: unknown policy 'realtime'" },
		{ "--socket", "/x", "--cpuset", "3-1", "--cpuset: " },
		{ "--socket", "/x", "--cpuset", "", "--cpuset: " },
		{ "--socket", "/x", "--mems", "0,x", "--mems: " },
		{ "--socket", "/x", "--cachetune", "../etc", "--cachetune: '../etc' is not a resctrl group name" },
		{ "--socket", "/x", "--monitor", "info", "--monitor: 'info' is not a resctrl group name" },
		{ "--cgroup", "/a", "--no-cgroup", "4", "--cgroup and --no-cgroup exclude each other" },
		{ "--socket", "/x", "--repair", "4", "--repair takes no COUNT" },
		{ "--socket", "/x", "--repair", "--no-repair", "--repair takes no COUNT, --status, --wait or --no-repair" },
		{ "--no-cgroup", "--quota", "5000", "4", "--period, --quota and --mems need cgroups" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *args[5] = { cases[i].a, cases[i].b, cases[i].c, cases[i].d, NULL };

		run_vcpuset(&r, args);
		cr_assert_eq(r.exit, 2, "case %zu: %s", i, r.err);
		cr_assert(strstr(r.err, cases[i].msg), "case %zu: %s", i, r.err);
		cr_assert(strstr(r.err, "Try 'vcpuset --help'"), "%s", r.err);
		cr_assert_str_eq(r.out, "");
		run_free(&r);
	}
}

Test(cli, missing_socket_fails_with_json_error)
{
	RUN("--json", "--socket", "/nonexistent/qmp.sock", "4");
	cr_assert_eq(r.exit, 1);
	cr_assert_not_null(r.json, "stdout is one JSON document: %s", r.out);
	cr_assert(cJSON_IsFalse(run_item(r.json, "ok")));
	cr_assert_eq(run_item(r.json, "exit")->valueint, 1);
	cr_assert(strstr(error_message(), "/nonexistent/qmp.sock"), "%s", error_message());
}

Test(cli, regular_file_is_not_a_socket)
{
	RUN("--socket", "tests/fixtures/x86-pc.json", "4");
	cr_assert_eq(r.exit, 1);
	cr_assert(strstr(r.err, "is a regular file, not a unix socket"), "%s", r.err);
}

Test(cli, plug_two_reports_json)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .name = "guest1" };
	char *log;

	serve(&cfg);
	RUN("--json", "--socket", sock, "4");
	cr_assert_eq(r.exit, 0, "%s", r.err);
	cr_assert(cJSON_IsTrue(run_item(r.json, "ok")));
	cr_assert(cJSON_IsFalse(run_item(r.json, "dry_run")));
	cr_assert_eq(run_item(r.json, "before")->valueint, 2);
	cr_assert_eq(run_item(r.json, "after")->valueint, 4);
	cr_assert_eq(run_item(r.json, "max")->valueint, 8);
	cr_assert_str_eq(cJSON_GetStringValue(run_item(run_item(r.json, "vm"), "name")), "guest1");
	cr_assert(cJSON_IsNull(run_item(run_item(r.json, "vm"), "uuid")), "all-zero uuid is unknown");
	cr_assert_eq(run_item(run_item(r.json, "vm"), "pid")->valueint, getpid());
	cr_assert_eq(cJSON_GetArraySize(run_item(r.json, "steps")), 2);
	cr_assert_str_eq(cJSON_GetStringValue(run_item(step(0), "op")), "plug");
	cr_assert_eq(run_item(step(0), "vcpu")->valueint, 2);
	cr_assert_eq(run_item(step(0), "vcpus")->valueint, 1);
	cr_assert_str_eq(cJSON_GetStringValue(run_item(step(0), "alias")), "vcpu2");
	cr_assert_str_eq(cJSON_GetStringValue(run_item(step(1), "qom_path")), "/machine/peripheral/vcpu3");
	cr_assert_str_eq(cJSON_GetStringValue(run_item(step(1), "status")), "done");
	cr_assert_gt(run_item(step(1), "tid")->valueint, 0);
	cr_assert(cJSON_IsNumber(run_item(step(1), "ms")));
	cr_assert(cJSON_IsNumber(run_item(step(1), "cpu_ms")));
	cr_assert_leq(run_item(step(1), "cpu_ms")->valuedouble, run_item(step(1), "ms")->valuedouble + 1,
		      "one thread's CPU time fits in the step's wall time");
	cr_assert_eq(run_item(run_item(step(0), "props"), "core-id")->valueint, 2);
	cr_assert(cJSON_IsNull(run_item(r.json, "error")));
	log = peer_log(peer);
	cr_assert(strstr(log, "\"execute\":\"device_add\",\"arguments\":{\"driver\":\"qemu64-x86_64-cpu\","
			      "\"id\":\"vcpu2\",\"core-id\":2,\"thread-id\":0,\"socket-id\":0}"), "%s", log);
	free(log);
}

/* QEMU thinks 20 ms over each command: vcpuset has sent the next ones meanwhile. */
Test(cli, queries_go_out_with_the_command_before_them)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .hold_ms = 20 };
	char *ahead;

	serve(&cfg);
	RUN("--json", "--no-audit", "--socket", sock, "3");
	cr_assert_eq(r.exit, 0, "%s", r.err);
	ahead = peer_ahead(peer);
	/*
	 * start-up: qmp_capabilities, both vCPU queries, the run state and migration, name, uuid and
	 * kvm in one go (kvm's reply is read before the plug goes out); the plug: device_add with
	 * query-cpus-fast (issue 14: what one step changed is read from it alone)
	 */
	cr_assert_str_eq(ahead, "qmp_capabilities query-hotpluggable-cpus query-cpus-fast "
				"query-status query-migrate query-name query-uuid device_add", "%s", ahead);
	free(ahead);
}

static int occurrences(const char *hay, const char *needle)
{
	int n = 0;

	for (hay = strstr(hay, needle); hay; hay = strstr(hay + 1, needle))
		n++;
	return n;
}

/*
 * Issue 14: a step reads what it changed from query-cpus-fast alone: the slot list, whose
 * reply grows with maxcpus, is asked once per run, however many steps, plug or unplug.
 */
Test(cli, a_bulk_run_asks_the_slot_list_once)
{
	struct peer_config cfg = { .gen_slots = 16, .gen_online = 2, .unplug = PEER_UNPLUG_KVM,
				   .unplug_ms = 5 };
	char *log;

	serve(&cfg);
	RUN("--json", "--no-audit", "--no-cgroup", "--socket", sock, "6");
	cr_assert_eq(r.exit, 0, "%s", r.out);
	cr_assert_eq(run_item(r.json, "after")->valueint, 6);
	cr_assert_eq(cJSON_GetArraySize(run_item(r.json, "steps")), 4);
	log = peer_log(peer);
	cr_assert_eq(occurrences(log, "query-hotpluggable-cpus"), 1, "%s", log);
	cr_assert_eq(occurrences(log, "query-cpus-fast"), 5, "start-up, then one per step: %s", log);
	free(log);
	run_free(&r);
	RUN("--json", "--no-audit", "--no-cgroup", "--socket", sock, "3");
	cr_assert_eq(r.exit, 0, "%s", r.out);
	cr_assert_eq(run_item(r.json, "after")->valueint, 3);
	log = peer_log(peer);
	cr_assert_eq(occurrences(log, "query-hotpluggable-cpus"), 2, "%s", log);
	free(log);
	run_free(&r);
	/* and the table it kept is QEMU's: a fresh run reads the same */
	RUN("--json", "--no-audit", "--socket", sock, "--status");
	cr_assert_eq(run_item(r.json, "online")->valueint, 3);
	cr_assert_eq(peer_online(peer), 3);
}

/* The VM's name, uuid and accelerator are asked only when something uses them. */
Test(cli, identity_is_asked_only_when_used)
{
	static const char *const asks[] = { "query-name", "query-uuid", "query-kvm" };
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2 };
	char *log;
	size_t i;

	serve(&cfg);
	RUN("--no-audit", "--socket", sock, "3"); /* text, no audit record: unused */
	cr_assert_eq(r.exit, 0, "%s", r.err);
	log = peer_stop(peer);
	peer = NULL;
	cr_assert(strstr(log, "device_add"), "%s", log);
	for (i = 0; i < 3; i++)
		cr_assert_null(strstr(log, asks[i]), "%s asked: %s", asks[i], log);
	free(log);
	run_free(&r);
	serve(&cfg);
	RUN("--no-audit", "--socket", sock, "--status"); /* the status line names the VM */
	cr_assert_eq(r.exit, 0, "%s", r.err);
	log = peer_stop(peer);
	peer = NULL;
	for (i = 0; i < 3; i++)
		cr_assert(strstr(log, asks[i]), "%s not asked: %s", asks[i], log);
	free(log);
}

Test(cli, refused_count_sends_nothing)
{
	static const char *const counts[] = { "9", "1", "0", "-2" };
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2 };
	char *log;
	size_t i;

	for (i = 0; i < 4; i++) {
		serve(&cfg);
		RUN("--json", "--socket", sock, "--", counts[i]);
		cr_assert_eq(r.exit, 2, "COUNT %s: %s", counts[i], r.out);
		cr_assert_eq(run_item(r.json, "exit")->valueint, 2);
		cr_assert_not_null(error_message());
		log = peer_stop(peer);
		peer = NULL;
		cr_assert_null(strstr(log, "device_"), "COUNT %s sent: %s", counts[i], log);
		free(log);
		run_free(&r);
	}
}

Test(cli, dry_run_plans_and_sends_nothing)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2 };

	serve(&cfg);
	RUN("--json", "--dry-run", "--socket", sock, "+3");
	cr_assert_eq(r.exit, 0, "%s", r.err);
	cr_assert(cJSON_IsTrue(run_item(r.json, "dry_run")));
	cr_assert_eq(cJSON_GetArraySize(run_item(r.json, "steps")), 3);
	cr_assert_str_eq(cJSON_GetStringValue(run_item(step(2), "status")), "planned");
	cr_assert_str_eq(cJSON_GetStringValue(run_item(run_item(step(2), "qmp"), "execute")), "device_add");
	cr_assert_eq(run_item(r.json, "after")->valueint, 2);
	run_assert_nothing_sent(peer);
}

Test(cli, unplug_confirmed_without_device_event)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .unplug = PEER_UNPLUG_TCG, .unplug_ms = 60 };

	serve(&cfg);
	RUN("--socket", sock, "4");
	cr_assert_eq(r.exit, 0, "%s", r.err);
	run_free(&r);
	RUN("--json", "--socket", sock, "-1");
	cr_assert_eq(r.exit, 0, "%s", r.out);
	cr_assert_str_eq(cJSON_GetStringValue(run_item(step(0), "op")), "unplug");
	cr_assert_eq(run_item(step(0), "vcpu")->valueint, 3);
	cr_assert_str_eq(cJSON_GetStringValue(run_item(step(0), "status")), "done");
	cr_assert_geq(run_item(step(0), "ms")->valuedouble, 55);
	cr_assert_lt(run_item(step(0), "ms")->valuedouble, 1000);
	cr_assert_eq(run_item(r.json, "after")->valueint, 3);
}

Test(cli, unplug_pending_exits_3)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .unplug = PEER_UNPLUG_NEVER };

	serve(&cfg);
	RUN("--socket", sock, "4");
	cr_assert_eq(r.exit, 0, "%s", r.err);
	run_free(&r);
	RUN("--json", "--timeout", "0.2", "--socket", sock, "2");
	cr_assert_eq(r.exit, 3, "%s", r.out);
	cr_assert_str_eq(cJSON_GetStringValue(run_item(step(0), "status")), "pending");
	cr_assert_str_eq(cJSON_GetStringValue(run_item(step(1), "status")), "planned");
	cr_assert(strstr(error_message(), "not complete after 0.2 s"), "%s", error_message());
	cr_assert_eq(run_item(r.json, "after")->valueint, 3, "the pending vCPU counts as gone");
	cr_assert_eq(run_item(r.json, "online")->valueint, 4);
	cr_assert_eq(run_item(r.json, "pending_count")->valueint, 1);
}

Test(cli, guest_rejection_ends_the_wait_at_once)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .unplug = PEER_UNPLUG_REJECT };

	serve(&cfg);
	RUN("--socket", sock, "3");
	run_free(&r);
	RUN("--json", "--socket", sock, "2");
	cr_assert_eq(r.exit, 1, "%s", r.out);
	cr_assert(strstr(error_message(), "unplug vCPU 2 (vcpu2): the guest refused to release it"),
		  "%s", error_message());
	cr_assert_lt(run_item(step(0), "ms")->valuedouble, 1000);
}

Test(cli, device_add_error_first_step_exits_1)
{
	static const struct peer_override ov[] = {
		{ .cmd = "device_add", .raw = "{\"error\": {\"class\": \"GenericError\", \"desc\": "
		  "\"Invalid CPU core-id: 2 must be in range 0:1\"}, \"id\": %ID%}\r\n" },
	};
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .overrides = ov, .noverrides = 1 };

	serve(&cfg);
	RUN("--socket", sock, "3");
	cr_assert_eq(r.exit, 1);
	cr_assert(strstr(r.err, "vcpuset: plug vCPU 2 as vcpu2: Invalid CPU core-id: 2 must be in range 0:1"),
		  "%s", r.err);
}

Test(cli, failure_after_a_done_step_is_partial)
{
	static const struct peer_override ov[] = {
		{ .cmd = "device_add", .nth = 2, .raw = "{\"error\": {\"class\": \"GenericError\", "
		  "\"desc\": \"no more\"}, \"id\": %ID%}\r\n" },
	};
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .overrides = ov, .noverrides = 1 };

	serve(&cfg);
	RUN("--json", "--socket", sock, "5");
	cr_assert_eq(r.exit, 4, "%s", r.out);
	cr_assert_str_eq(cJSON_GetStringValue(run_item(step(0), "status")), "done");
	cr_assert_str_eq(cJSON_GetStringValue(run_item(step(1), "status")), "failed");
	cr_assert_eq(run_item(r.json, "after")->valueint, 3);
}

Test(cli, busy_monitor_is_named)
{
	struct peer_config cfg = { .greet = PEER_NO_GREETING, .gen_slots = 8, .gen_online = 2 };

	serve(&cfg);
	RUN("--socket", sock, "--status");
	cr_assert_eq(r.exit, 1);
	cr_assert(strstr(r.err, "another client (libvirtd?) holds the monitor"), "%s", r.err);
}

Test(cli, status_json_lists_every_slot)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2 };
	cJSON *v, *first;
	char *log, *first_query;

	serve(&cfg);
	RUN("--json", "--status", "--socket", sock);
	cr_assert_eq(r.exit, 0, "%s", r.err);
	v = run_item(r.json, "vcpus");
	cr_assert_eq(cJSON_GetArraySize(v), 8);
	first = cJSON_GetArrayItem(v, 0);
	cr_assert(cJSON_IsTrue(run_item(first, "online")));
	cr_assert(cJSON_IsFalse(run_item(first, "hotpluggable")));
	cr_assert_gt(run_item(first, "tid")->valueint, 0);
	cr_assert_eq(run_item(first, "order")->valueint, 1);
	cr_assert_str_eq(cJSON_GetStringValue(run_item(first, "qom_path")), "/machine/unattached/device[0]");
	cr_assert_eq(run_item(run_item(first, "topology"), "core-id")->valueint, 0);
	cr_assert(cJSON_IsNull(run_item(cJSON_GetArrayItem(v, 5), "tid")));
	log = peer_log(peer);
	first_query = strstr(log, "query-hotpluggable-cpus");
	cr_assert_not_null(first_query);
	cr_assert_null(strstr(first_query + 1, "query-hotpluggable-cpus"), "asked twice: %s", log);
	free(log);
}

Test(cli, status_text_has_a_row_per_slot)
{
	struct peer_config cfg = { .gen_slots = 4, .gen_online = 2 };

	serve(&cfg);
	RUN("--status", "--socket", sock);
	cr_assert_eq(r.exit, 0, "%s", r.err);
	cr_assert(strstr(r.out, "2 of 4 vCPUs online"), "%s", r.out);
	cr_assert(strstr(r.out, "VCPU  ONLINE HOTPLUG DISABLE      ALIAS"), "%s", r.out);
	cr_assert(strstr(r.out, "\n3     no     yes     -  "), "%s", r.out);
	cr_assert(strstr(r.out, "\n0     yes    no      no (boot)  "), "%s", r.out);
}

Test(cli, legacy_qemu_plugs_with_cpu_add_and_refuses_unplug)
{
	struct peer_config cfg = { .gen_slots = 4, .gen_online = 2, .legacy = true };
	char *log;

	serve(&cfg);
	RUN("--json", "--socket", sock, "3");
	cr_assert_eq(r.exit, 0, "%s", r.out);
	cr_assert(cJSON_IsTrue(run_item(r.json, "legacy")));
	cr_assert_str_eq(cJSON_GetStringValue(run_item(run_item(step(0), "qmp"), "execute")), "cpu-add");
	log = peer_log(peer);
	cr_assert(strstr(log, "\"execute\":\"cpu-add\",\"arguments\":{\"id\":2}"), "%s", log);
	free(log);
	run_free(&r);
	RUN("--socket", sock, "2");
	cr_assert_eq(r.exit, 2);
	cr_assert(strstr(r.err, "needs an unplug, which this QEMU cannot do"), "%s", r.err);
}

Test(cli, machine_without_hotplug)
{
	struct peer_config cfg = { .gen_slots = 4, .gen_online = 2, .no_hotplug = true };

	serve(&cfg);
	RUN("--socket", sock, "3");
	cr_assert_eq(r.exit, 1);
	cr_assert(strstr(r.err, "QEMU cannot hot-plug vCPUs on this machine: machine does not support "
				"hot-plugging CPUs"), "%s", r.err);
	run_free(&r);
	RUN("--status", "--socket", sock);
	cr_assert_eq(r.exit, 0, "%s", r.err);
}

Test(cli, foreign_thread_id_is_refused)
{
	static const struct peer_override ov[] = {
		{ .cmd = "query-cpus-fast", .raw = "{\"return\": [{\"thread-id\": 1, \"qom-path\": "
		  "\"/machine/unattached/device[0]\", \"cpu-index\": 0, \"target\": \"x86_64\"}], "
		  "\"id\": %ID%}\r\n" },
	};
	struct peer_config cfg = { .gen_slots = 4, .gen_online = 1, .overrides = ov, .noverrides = 1 };

	serve(&cfg);
	RUN("--socket", sock, "--status");
	cr_assert_eq(r.exit, 1);
	cr_assert(strstr(r.err, "thread 1 for vCPU 0, which is not a thread of QEMU"), "%s", r.err);
}

Test(cli, device_not_found_means_already_gone)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .unplug = PEER_UNPLUG_GONE };

	serve(&cfg);
	RUN("--socket", sock, "3");
	cr_assert_eq(r.exit, 0, "%s", r.err);
	run_free(&r);
	RUN("--json", "--socket", sock, "2");
	cr_assert_eq(r.exit, 0, "%s", r.out);
	cr_assert_str_eq(cJSON_GetStringValue(run_item(step(0), "status")), "done");
	cr_assert_eq(run_item(r.json, "after")->valueint, 2);
}

Test(cli, kvm_style_device_deleted_event)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .unplug = PEER_UNPLUG_KVM, .unplug_ms = 30 };

	serve(&cfg);
	RUN("--socket", sock, "3");
	cr_assert_eq(r.exit, 0, "%s", r.err);
	run_free(&r);
	RUN("--json", "--verbose", "--socket", sock, "2");
	cr_assert_eq(r.exit, 0, "%s", r.out);
	cr_assert(strstr(r.err, "< {\"timestamp\":{\"seconds\":1,\"microseconds\":2},\"event\":\"DEVICE_DELETED\","
			 "\"data\":{\"device\":\"vcpu2\""), "%s", r.err);
	cr_assert_str_eq(cJSON_GetStringValue(run_item(step(0), "status")), "done");
}

Test(cli, negative_count_is_not_an_option)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 3, .unplug = PEER_UNPLUG_GONE };

	serve(&cfg);
	RUN("--json", "--dry-run", "-1", "--socket", sock, "--");
	cr_assert_eq(r.exit, 2, "boot vCPUs cannot go: %s", r.out);
	cr_assert(strstr(error_message(), "COUNT 2 is below the 3 vCPUs"), "%s", error_message());
	run_free(&r);
	RUN("--socket", sock, "-t", "1", "-2");
	cr_assert_eq(r.exit, 2);
	cr_assert(strstr(r.err, "COUNT 1 is below the 3 vCPUs"), "-2 after an option's value: %s", r.err);
}

/* ---- host settings (the simulated QEMU's vCPU threads are this process's threads) ---- */

Test(cli, missing_resctrl_group_is_refused_before_anything_changes)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2 };

	serve(&cfg);
	RUN("--json", "--socket", sock, "3", "--cachetune", "vcpuset-no-such-group");
	cr_assert_eq(r.exit, 2, "%s", r.out);
	cr_assert(strstr(error_message(), "/sys/fs/resctrl"), "%s", error_message());
	run_assert_nothing_sent(peer);
}

Test(cli, quota_without_a_cpu_cgroup_is_refused_before_anything_changes)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2 };

	serve(&cfg);
	/* this process sits in the root cgroups: no vcpuN group there, so no cpu controller */
	RUN("--json", "--socket", sock, "3", "--quota", "50000");
	cr_assert_eq(r.exit, 2, "%s", r.out);
	cr_assert(strstr(error_message(), "cgroup cpu controller is required"), "%s", error_message());
	run_assert_nothing_sent(peer);
}

/* A file of the fixture host (--sysroot), or "" when it has none. */
static const char *fixture_file(const char *rel, char *buf, size_t size)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", run_sysroot_dir(), rel);
	return run_read_file(p, buf, size);
}

/*
 * Issue 14: --sysroot re-roots every host path: the cgroup mounts mountinfo names, the groups
 * made and written, and the default state directory. The kernel's files of a new group are
 * the fixture's (mkdir there makes an empty directory).
 */
Test(cli, sysroot_puts_every_host_path_under_it)
{
	static const char *const files[] = {
		"cpu/vm/vcpu2/cpu.cfs_period_us", "cpu/vm/vcpu2/cpu.cfs_quota_us", "cpu/vm/vcpu2/tasks",
		"cpuacct/vm/vcpu2/tasks", "cpuset/vm/cpuset.cpus", "cpuset/vm/cpuset.mems",
		"cpuset/vm/vcpu2/cpuset.cpus", "cpuset/vm/vcpu2/cpuset.mems", "cpuset/vm/vcpu2/tasks",
		"cpuset/vm/cpuset.memory_migrate", "cpuset/vm/vcpu2/cpuset.memory_migrate",
		"unified/vm/cgroup.controllers", "unified/vm/vcpu2/cgroup.threads",
		"unified/vm/vcpu2/cgroup.type",
	};
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2 };
	char p[256], buf[256], tid[32];
	struct stat st;
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(*files); i++) {
		snprintf(p, sizeof(p), "sys/fs/cgroup/%s", files[i]);
		run_sysroot_put(p, "");
	}
	run_read_file("/sys/devices/system/cpu/online", buf, sizeof(buf));
	run_sysroot_put("sys/fs/cgroup/cpuset/vm/cpuset.cpus", buf);
	run_read_file("/sys/devices/system/node/online", buf, sizeof(buf));
	run_sysroot_put("sys/fs/cgroup/cpuset/vm/cpuset.mems", buf);
	serve(&cfg);
	RUN("--json", "--no-audit", "--socket", sock, "--cgroup", "/vm", "--period", "100000", "3");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	snprintf(tid, sizeof(tid), "%d", run_item(step(0), "tid")->valueint);
	cr_assert_str_eq(fixture_file("sys/fs/cgroup/cpu/vm/vcpu2/tasks", buf, sizeof(buf)), tid);
	cr_assert_str_eq(fixture_file("sys/fs/cgroup/cpu/vm/vcpu2/cpu.cfs_period_us", buf,
				      sizeof(buf)), "100000");
	cr_assert_neq(stat("/sys/fs/cgroup/cpu/vm/vcpu2", &st), 0, "nothing on the real host");
	snprintf(p, sizeof(p), "%s/run/vcpuset", run_sysroot_dir());
	cr_assert_eq(stat(p, &st), 0, "the state directory is under it");
	cr_assert(S_ISDIR(st.st_mode));
}

Test(cli, sysroot_that_is_no_host_tree_is_exit_1)
{
	RUN("--sysroot", "/nonexistent", "--socket", "/x", "3");
	cr_assert_eq(r.exit, 1, "%s", r.err);
	cr_assert(strstr(r.err, "--sysroot: cannot open '/nonexistent/proc'"), "%s", r.err);
	run_free(&r);
	RUN("--sysroot", "tmp", "--socket", "/x", "3");
	cr_assert_eq(r.exit, 2, "%s", r.err);
	cr_assert(strstr(r.err, "--sysroot: 'tmp' is not an absolute path"), "%s", r.err);
}

Test(cli, scheduler_and_affinity_reach_the_thread)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2 };
	cpu_set_t set;
	int tid;

	run_real_host(); /* a real-time policy */
	serve(&cfg);
	RUN("--json", "--no-cgroup", "--socket", sock, "3", "--sched", "rr:1", "--cpuset", "0");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	tid = run_item(step(0), "tid")->valueint;
	cr_assert_eq(sched_getscheduler(tid), SCHED_RR);
	cr_assert_eq(sched_getaffinity(tid, sizeof(set), &set), 0);
	cr_assert(CPU_ISSET(0, &set) && CPU_COUNT(&set) == 1);
	cr_assert_str_eq(cJSON_GetStringValue(run_item(run_item(run_item(run_item(r.json, "host"), "tune"),
								 "sched"), "policy")), "rr");
}

/* A test parent group in every cgroup hierarchy vcpuset uses, and a foreign process. */
static char cg_parent[64];
static pid_t stranger;

static const char *const cli_hier[] = { "cpu", "cpuacct", "cpuset", "unified" };

static void cg_put(const char *h, const char *leaf, const char *val)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "/sys/fs/cgroup/%s%s/%s", h, cg_parent, leaf);
	f = fopen(p, "w");
	cr_assert_not_null(f, "%s", p);
	fputs(val, f);
	cr_assert_eq(fclose(f), 0, "write %s", p);
}

static void cg_teardown(void)
{
	size_t i;
	char p[256];

	if (stranger > 0) {
		kill(stranger, SIGKILL);
		waitpid(stranger, NULL, 0);
	}
	stranger = 0;
	finish(); /* the simulated vCPU threads end with the peer */
	for (i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "/sys/fs/cgroup/%s%s/vcpu2", cli_hier[i], cg_parent);
		rmdir(p);
		snprintf(p, sizeof(p), "/sys/fs/cgroup/%s%s", cli_hier[i], cg_parent);
		rmdir(p);
	}
}

/* The test parent group in every hierarchy (v1 cpuset: with the root's cpus and mems). */
static void make_parent(void)
{
	char p[256], cpus[64] = "", mems[64] = "";
	FILE *f;
	size_t i;

	run_real_host();
	snprintf(cg_parent, sizeof(cg_parent), "/vcpuset-cli-%d", (int)getpid());
	for (i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "/sys/fs/cgroup/%s%s", cli_hier[i], cg_parent);
		cr_assert_eq(mkdir(p, 0755), 0, "mkdir %s", p);
	}
	f = fopen("/sys/fs/cgroup/cpuset/cpuset.cpus", "r");
	cr_assert(f && fgets(cpus, sizeof(cpus), f));
	fclose(f);
	f = fopen("/sys/fs/cgroup/cpuset/cpuset.mems", "r");
	cr_assert(f && fgets(mems, sizeof(mems), f));
	fclose(f);
	cg_put("cpuset", "cpuset.cpus", cpus);
	cg_put("cpuset", "cpuset.mems", mems);
}

/* make_parent(), and its cpu vcpu2 holds a process that is not "QEMU"'s. */
static void make_trap(void)
{
	char p[256], num[16];

	make_parent();
	snprintf(p, sizeof(p), "/sys/fs/cgroup/cpu%s/vcpu2", cg_parent);
	cr_assert_eq(mkdir(p, 0755), 0);
	stranger = fork();
	if (stranger == 0) {
		pause();
		_exit(0);
	}
	snprintf(num, sizeof(num), "%d", (int)stranger);
	cg_put("cpu", "vcpu2/tasks", num);
}

Test(cli, group_holding_a_foreign_thread_is_refused_and_the_vcpu_unplugged, .fini = cg_teardown)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2 };
	char p[256];
	FILE *f;

	make_trap();
	serve(&cfg);
	RUN("--json", "--socket", sock, "--cgroup", cg_parent, "3");
	cr_assert_eq(r.exit, 1, "%s%s", r.out, r.err);
	cr_assert(strstr(error_message(), "already holds thread"), "%s", error_message());
	cr_assert(strstr(error_message(), "unplugged it again"), "%s", error_message());
	cr_assert_eq(run_item(r.json, "after")->valueint, 2);
	/* the stranger was not moved, and its group was left alone */
	snprintf(p, sizeof(p), "/proc/%d/cgroup", (int)stranger);
	f = fopen(p, "r");
	cr_assert_not_null(f);
	{
		char line[256];
		bool in = false;

		while (fgets(line, sizeof(line), f))
			in = in || (strstr(line, ":cpu:") && strstr(line, "/vcpu2"));
		fclose(f);
		cr_assert(in, "the stranger still sits in cpu .../vcpu2");
	}
	snprintf(p, sizeof(p), "/sys/fs/cgroup/cpuset%s/vcpu2", cg_parent);
	cr_assert_neq(access(p, F_OK), 0, "our own cpuset vcpu2 was removed after the unplug");
}

static void cg_state_teardown(void);
static char state_dir[64];
static void make_state_dir(void);

/* Issue 13 B4: the undo of a plug that does not complete in time is pending like any unplug. */
Test(cli, failed_setup_whose_unplug_hangs_is_pending_and_finished_later, .fini = cg_state_teardown)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .unplug = PEER_UNPLUG_NEVER };
	char p[256];

	make_trap();
	make_state_dir();
	serve(&cfg);
	RUN("--json", "--socket", sock, "--cgroup", cg_parent, "--state-dir", state_dir,
	    "--timeout", "0.2", "3");
	cr_assert_eq(r.exit, 4, "%s%s", r.out, r.err);
	cr_assert(strstr(error_message(), "already holds thread"), "%s", error_message());
	cr_assert(strstr(error_message(), "after the thread was moved into its groups and "
			 "cpuset.cpus, cpuset.mems, cpuset.memory_migrate were written; its unplug to "
			 "undo it did not complete in time: pending, a later run finishes it"),
		  "%s", error_message());
	cr_assert_str_eq(cJSON_GetStringValue(run_item(step(0), "status")), "failed");
	cr_assert_eq(cJSON_GetArraySize(run_item(r.json, "pending")), 1, "recorded: %s", r.out);
	cr_assert_eq(run_item(r.json, "after")->valueint, 2);
	cr_assert_eq(run_item(r.json, "pending_count")->valueint, 1);
	run_free(&r);
	peer_release(peer); /* the guest lets it go */
	usleep(100 * 1000);
	RUN("--json", "--status", "--socket", sock, "--cgroup", cg_parent, "--state-dir", state_dir);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert_eq(cJSON_GetArraySize(run_item(r.json, "reconciled")), 1, "finished: %s", r.out);
	cr_assert_eq(cJSON_GetArraySize(run_item(r.json, "pending")), 0);
	snprintf(p, sizeof(p), "/sys/fs/cgroup/cpuset%s/vcpu2", cg_parent);
	cr_assert_neq(access(p, F_OK), 0, "no vcpu2 groups stay behind");
}

/* ---- lock, pending ledger, state files, audit availability ---- */


static void make_state_dir(void)
{
	snprintf(state_dir, sizeof(state_dir), "/tmp/vcpuset-state-XXXXXX");
	cr_assert_not_null(mkdtemp(state_dir));
}

static void state_teardown(void)
{
	finish();
	run_remove_dir(state_dir);
}

/* This process is "QEMU": the ledger's name is qemu-<pid>-<start time>.json. */
static void ledger_path(char *buf, size_t size)
{
	char stat[1024], *p;
	unsigned long long start = 0;
	int field;
	FILE *f = fopen("/proc/self/stat", "r");

	cr_assert(f && fgets(stat, sizeof(stat), f));
	fclose(f);
	p = strrchr(stat, ')');
	for (field = 2; field < 22; field++) /* field 22 is starttime */
		p = strchr(p + 1, ' ');
	sscanf(p + 1, "%llu", &start);
	snprintf(buf, size, "%s/qemu-%d-%llu.json", state_dir, (int)getpid(), start);
}

static bool has_warning(const char *needle)
{
	return run_has_warning(&r, needle);
}

Test(cli, pending_unplug_is_recorded_shown_and_its_slot_kept, .fini = state_teardown)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .unplug = PEER_UNPLUG_NEVER };
	char path[160];
	struct stat st;

	make_state_dir();
	serve(&cfg);
	RUN("--socket", sock, "--state-dir", state_dir, "3");
	cr_assert_eq(r.exit, 0, "%s", r.err);
	run_free(&r);
	RUN("--json", "--socket", sock, "--state-dir", state_dir, "--timeout", "0.05", "2");
	cr_assert_eq(r.exit, 3, "%s", r.out);
	run_free(&r);
	ledger_path(path, sizeof(path));
	cr_assert_eq(stat(path, &st), 0, "ledger %s written", path);
	cr_assert_eq(st.st_mode & 0777, 0600);
	RUN("--json", "--status", "--socket", sock, "--state-dir", state_dir);
	cr_assert_eq(r.exit, 0, "%s", r.out);
	cr_assert_eq(cJSON_GetArraySize(run_item(r.json, "pending")), 1);
	cr_assert_eq(run_item(cJSON_GetArrayItem(run_item(r.json, "pending"), 0), "vcpu")->valueint, 2);
	cr_assert_str_eq(cJSON_GetStringValue(run_item(cJSON_GetArrayItem(run_item(r.json, "pending"), 0),
							"alias")), "vcpu2");
	run_free(&r);
	RUN("--socket", sock, "--state-dir", state_dir, "--status");
	cr_assert(strstr(r.out, "unplug of vCPU 2 (vcpu2) pending since"), "%s", r.out);
	run_free(&r);
	/* the slot being removed counts as gone: 2 is reached already, and it is not sent twice */
	RUN("--json", "--socket", sock, "--state-dir", state_dir, "2");
	cr_assert_eq(r.exit, 0, "%s", r.out);
	cr_assert_eq(cJSON_GetArraySize(run_item(r.json, "steps")), 0, "%s", r.out);
	run_free(&r);
	RUN("--json", "--socket", sock, "--state-dir", state_dir, "1");
	cr_assert_eq(r.exit, 2, "%s", r.out);
	cr_assert(strstr(error_message(), "COUNT 1 is below the 2 vCPUs that cannot be unplugged"),
		  "%s", error_message());
	run_free(&r);
	RUN("--socket", sock, "--state-dir", state_dir, "--wait", "--timeout", "0.1");
	cr_assert_eq(r.exit, 3, "%s%s", r.out, r.err);
	cr_assert(strstr(r.err, "1 unplug(s) still pending"), "%s", r.err);
}

Test(cli, torn_or_linked_state_file_is_reported_and_ignored, .fini = state_teardown)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2 };
	char path[160];
	FILE *f;

	make_state_dir();
	ledger_path(path, sizeof(path));
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("{\"vcpuset_ledger\":1,\"qemu_pid\":1,\"pend", f);
	fclose(f);
	serve(&cfg);
	RUN("--json", "--status", "--socket", sock, "--state-dir", state_dir);
	cr_assert_eq(r.exit, 0, "%s", r.out);
	cr_assert(has_warning("is torn or not this VM's; ignored"), "%s", r.out);
	cr_assert_eq(cJSON_GetArraySize(run_item(r.json, "pending")), 0);
	run_free(&r);
	unlink(path);
	cr_assert_eq(symlink("/etc/passwd", path), 0);
	RUN("--json", "--status", "--socket", sock, "--state-dir", state_dir);
	cr_assert_eq(r.exit, 0, "%s", r.out);
	cr_assert(has_warning("a symlink"), "%s", r.out);
}

Test(cli, second_run_on_one_vm_waits_then_names_the_holder, .fini = state_teardown)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .unplug = PEER_UNPLUG_NEVER };
	char sock_b[80], holder[64];
	struct run_proc first;
	struct run_result r1;
	pid_t other;
	int i;

	make_state_dir();
	serve(&cfg);
	RUN("--socket", sock, "--state-dir", state_dir, "3");
	cr_assert_eq(r.exit, 0, "%s", r.err);
	run_free(&r);
	/* the first run holds the VM for 1.5 s, waiting for an unplug that never comes */
	run_start(&first, (const char *const[]){ "--socket", sock, "--state-dir", state_dir,
						 "--timeout", "1.5", "--verbose", "2", NULL });
	cr_assert(run_wait_stderr(&first, "device_del", 3000), "%s", first.err);
	close(first.fd[1]); /* its trace from now on would fill the pipe while nobody reads */
	first.fd[1] = -1;
	RUN("--socket", sock, "--state-dir", state_dir, "--lock-timeout", "0.3", "--status");
	cr_assert_eq(r.exit, 1, "%s", r.err);
	snprintf(holder, sizeof(holder), "another vcpuset (pid %d)", (int)first.pid);
	cr_assert(strstr(r.err, holder), "%s", r.err);
	run_free(&r);
	/* another VM (another QEMU process) is not blocked meanwhile */
	snprintf(sock_b, sizeof(sock_b), "/tmp/vcpuset-cli-b-%d.sock", (int)getpid());
	other = fork();
	if (other == 0) {
		struct peer_config cb = { .gen_slots = 4, .gen_online = 1 };

		peer_start_unix(sock_b, &cb);
		sleep(30);
		_exit(0);
	}
	run_sysroot_add(other);
	for (i = 0; i < 200 && access(sock_b, F_OK) != 0; i++)
		usleep(10000);
	RUN("--socket", sock_b, "--state-dir", state_dir, "--lock-timeout", "0.3", "--status");
	kill(other, SIGKILL);
	waitpid(other, NULL, 0);
	unlink(sock_b);
	cr_assert_eq(r.exit, 0, "%s", r.err);
	run_free(&r);
	/* and a patient second run gets the VM once the first is done */
	RUN("--socket", sock, "--state-dir", state_dir, "--lock-timeout", "10", "--status");
	run_finish(&first, &r1);
	cr_assert_eq(r1.exit, 3, "%s", r1.err);
	run_free(&r1);
	cr_assert_eq(r.exit, 0, "%s", r.err);
}

static char wrapper[64];

static void wrapper_teardown(void)
{
	unlink(wrapper);
	finish();
}

Test(cli, audit_required_without_cap_audit_write_fails_before_anything, .fini = wrapper_teardown)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2 };
	char bin[PATH_MAX];
	FILE *f;
	int fd;

	cr_assert_not_null(realpath(getenv("VCPUSET_BIN") ? getenv("VCPUSET_BIN") : "./vcpuset", bin));
	snprintf(wrapper, sizeof(wrapper), "/tmp/vcpuset-nocap-XXXXXX");
	fd = mkstemp(wrapper);
	cr_assert_geq(fd, 0);
	f = fdopen(fd, "w");
	fprintf(f, "#!/bin/sh\nexec setpriv --bounding-set -audit_write %s \"$@\"\n", bin);
	fclose(f);
	chmod(wrapper, 0700);
	setenv("VCPUSET_BIN", wrapper, 1);
	serve(&cfg);
	RUN("--json", "--audit=required", "--socket", sock, "3");
	cr_assert_eq(r.exit, 1, "%s%s", r.out, r.err);
	cr_assert(strstr(error_message(), "--audit=required"), "%s", error_message());
	cr_assert(strstr(error_message(), "CAP_AUDIT_WRITE"), "%s", error_message());
	run_assert_nothing_sent(peer);
	run_free(&r);
	RUN("--json", "--socket", sock, "3");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(has_warning("no audit records: CAP_AUDIT_WRITE is missing"), "%s", r.out);
	cr_assert(cJSON_IsFalse(run_item(r.json, "audit")));
}

static void write_pid(const char *path)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s", path);
	fprintf(f, "%d\n", (int)getpid());
	cr_assert_eq(fclose(f), 0, "write %s", path);
}

static void cg_state_teardown(void)
{
	state_teardown();
	write_pid("/sys/fs/cgroup/unified/cgroup.procs");
	cg_teardown();
}

static bool cpu_group_exists(const char *name)
{
	char p[256];

	snprintf(p, sizeof(p), "/sys/fs/cgroup/cpu%s/%s", cg_parent, name);
	return access(p, F_OK) == 0;
}

/* A dry run changes nothing, not even while it finishes the books on a pending unplug. */
Test(cli, dry_run_that_finds_a_finished_unplug_keeps_its_groups, .fini = cg_state_teardown)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .unplug_ms = 300 };
	char procs[256];

	make_parent();
	/* "QEMU" (this process) in the v2 parent, so that vcpu2 there can be a threaded group */
	snprintf(procs, sizeof(procs), "/sys/fs/cgroup/unified%s/cgroup.procs", cg_parent);
	write_pid(procs);
	make_state_dir();
	serve(&cfg);
	RUN("--socket", sock, "--cgroup", cg_parent, "--state-dir", state_dir, "3");
	cr_assert_eq(r.exit, 0, "%s", r.err);
	cr_assert(cpu_group_exists("vcpu2"));
	run_free(&r);
	RUN("--socket", sock, "--cgroup", cg_parent, "--state-dir", state_dir, "--timeout", "0.05", "2");
	cr_assert_eq(r.exit, 3, "%s%s", r.out, r.err);
	run_free(&r);
	usleep(500 * 1000); /* the guest lets it go */
	RUN("--json", "--dry-run", "--socket", sock, "--cgroup", cg_parent, "--state-dir", state_dir, "3");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert_eq(cJSON_GetArraySize(run_item(r.json, "reconciled")), 1, "%s", r.out);
	cr_assert(cpu_group_exists("vcpu2"), "the dry run removed vcpu2's group");
	run_free(&r);
	RUN("--json", "--status", "--socket", sock, "--cgroup", cg_parent, "--state-dir", state_dir);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert_eq(cJSON_GetArraySize(run_item(r.json, "reconciled")), 1, "%s", r.out);
	cr_assert(!cpu_group_exists("vcpu2"), "a real run removes it");
}

static int count_of(const char *log, const char *needle)
{
	int n = 0;

	for (; (log = strstr(log, needle)); log++)
		n++;
	return n;
}

/*
 * Issue 13 B1: guest at 5, the unplug of vCPU 4 pending (a paused guest). COUNT counts vCPU 4
 * as gone: 4 is nothing to do, 5 plugs the next free slot; once the guest lets vCPU 4 go,
 * it has the 5 asked for.
 */
Test(cli, count_is_measured_from_online_minus_pending, .fini = state_teardown)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .unplug = PEER_UNPLUG_NEVER };
	char *log;

	make_state_dir();
	serve(&cfg);
	RUN("--socket", sock, "--state-dir", state_dir, "5");
	cr_assert_eq(r.exit, 0, "%s", r.err);
	run_free(&r);
	RUN("--json", "--socket", sock, "--state-dir", state_dir, "--timeout", "0.1", "4");
	cr_assert_eq(r.exit, 3, "%s", r.out);
	cr_assert_eq(run_item(r.json, "before")->valueint, 5);
	cr_assert_eq(run_item(r.json, "after")->valueint, 4, "the pending vCPU counts as gone");
	cr_assert_eq(run_item(r.json, "online")->valueint, 5);
	cr_assert_eq(run_item(r.json, "pending_count")->valueint, 1);
	run_free(&r);

	RUN("--socket", sock, "--state-dir", state_dir, "4");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "4 vCPUs (5 online, vCPU 4 leaving: its unplug is pending) already"),
		  "%s", r.out);
	run_free(&r);
	RUN("--json", "--socket", sock, "--state-dir", state_dir, "4");
	cr_assert_eq(r.exit, 0, "%s", r.out);
	cr_assert_eq(cJSON_GetArraySize(run_item(r.json, "steps")), 0);
	cr_assert_eq(run_item(r.json, "before")->valueint, 4);
	cr_assert_eq(run_item(r.json, "pending_count")->valueint, 1);
	run_free(&r);

	RUN("--json", "--socket", sock, "--state-dir", state_dir, "5");
	cr_assert_eq(r.exit, 0, "%s", r.out);
	cr_assert_eq(cJSON_GetArraySize(run_item(r.json, "steps")), 1);
	cr_assert_str_eq(cJSON_GetStringValue(run_item(step(0), "op")), "plug");
	cr_assert_eq(run_item(step(0), "vcpu")->valueint, 5, "the next free slot, not the leaving one");
	cr_assert_eq(run_item(step(0), "old_count")->valueint, 4);
	cr_assert_eq(run_item(step(0), "new_count")->valueint, 5);
	cr_assert_eq(run_item(r.json, "before")->valueint, 4);
	cr_assert_eq(run_item(r.json, "after")->valueint, 5);
	cr_assert_eq(run_item(r.json, "online")->valueint, 6);
	run_free(&r);
	RUN("--json", "--socket", sock, "--state-dir", state_dir, "+1", "--dry-run");
	cr_assert_eq(r.exit, 0, "%s", r.out);
	cr_assert_eq(run_item(r.json, "target")->valueint, 6, "relative COUNTs start from 5 too");
	run_free(&r);
	log = peer_log(peer);
	cr_assert_eq(count_of(log, "\"device_del\""), 1, "one device_del only: %s", log);
	free(log);

	peer_release(peer); /* "cont": the guest lets vCPU 4 go */
	usleep(100 * 1000);
	RUN("--json", "--status", "--socket", sock, "--state-dir", state_dir);
	cr_assert_eq(r.exit, 0, "%s", r.out);
	cr_assert_eq(cJSON_GetArraySize(run_item(r.json, "reconciled")), 1, "%s", r.out);
	cr_assert_eq(run_item(r.json, "after")->valueint, 5);
	cr_assert_eq(run_item(r.json, "pending_count")->valueint, 0);
	cr_assert_eq(peer_online(peer), 5, "the guest ends at the 5 asked for");
}

/* ---- inheritance from siblings (issue 13 B2, B3), on the real cgroup v1 hierarchy ---- */

static int vcpu_tid(int i)
{
	struct run_result s = { 0 };
	int tid;

	run_vcpuset(&s, (const char *const[]){ "--json", "--status", "--no-audit", "--socket", sock,
					       NULL });
	cr_assert_eq(s.exit, 0, "%s", s.err);
	tid = run_item(cJSON_GetArrayItem(run_item(s.json, "vcpus"), i), "tid")->valueint;
	run_free(&s);
	return tid;
}

/* vcpu<i> under the test parent in hierarchy h, holding thread tid. */
static void sibling_group(const char *h, int i, int tid, const char *cpus)
{
	char p[256], leaf[64], num[16];

	snprintf(p, sizeof(p), "/sys/fs/cgroup/%s%s/vcpu%d", h, cg_parent, i);
	cr_assert_eq(mkdir(p, 0755), 0, "mkdir %s", p);
	if (cpus) {
		snprintf(leaf, sizeof(leaf), "vcpu%d/cpuset.cpus", i);
		cg_put(h, leaf, cpus);
		snprintf(leaf, sizeof(leaf), "vcpu%d/cpuset.mems", i);
		cg_put(h, leaf, "0");
	}
	snprintf(leaf, sizeof(leaf), "vcpu%d/tasks", i);
	snprintf(num, sizeof(num), "%d", tid);
	cg_put(h, leaf, num);
}

static void siblings_teardown(void)
{
	size_t i;
	int k;
	char p[256];

	write_pid("/sys/fs/cgroup/unified/cgroup.procs");
	finish(); /* the simulated vCPU threads end with the peer, and leave their groups */
	for (i = 0; i < 4; i++)
		for (k = 0; k < 2; k++) {
			snprintf(p, sizeof(p), "/sys/fs/cgroup/%s%s/vcpu%d", cli_hier[i], cg_parent, k);
			rmdir(p);
		}
	cg_teardown();
}

/* "QEMU" (this process) in the v2 parent too, so that vcpuN there can be a threaded group. */
static void parent_with_qemu(void)
{
	char procs[256];

	make_parent();
	snprintf(procs, sizeof(procs), "/sys/fs/cgroup/unified%s/cgroup.procs", cg_parent);
	write_pid(procs);
}

static cJSON *tune_item(const char *k)
{
	return run_item(run_item(run_item(r.json, "host"), "tune"), k);
}

static void assert_affinity_is_all(int tid)
{
	cpu_set_t set;
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	cr_assert_eq(sched_getaffinity(tid, sizeof(set), &set), 0);
	cr_assert_eq(CPU_COUNT(&set), n, "tid %d: affinity of %d CPUs, want all %ld", tid,
		     CPU_COUNT(&set), n);
}

Test(cli, per_vcpu_pinning_is_not_copied_onto_the_new_vcpu, .fini = siblings_teardown)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2 };
	char p[256], cpus[64];
	cpu_set_t one;
	int i, tid;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		cr_skip_test("needs 2 host CPUs to pin two vCPUs apart");
	parent_with_qemu();
	serve(&cfg);
	for (i = 0; i < 2; i++) {
		snprintf(cpus, sizeof(cpus), "%d", i);
		tid = vcpu_tid(i);
		sibling_group("cpuset", i, tid, cpus);
		CPU_ZERO(&one);
		CPU_SET(i, &one);
		cr_assert_eq(sched_setaffinity(tid, sizeof(one), &one), 0);
	}
	RUN("--json", "--no-audit", "--socket", sock, "--cgroup", cg_parent, "+1");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	tid = run_item(step(0), "tid")->valueint;
	/* libvirt's default: the parent's cpus (v1 copies them), every host CPU not isolated */
	snprintf(p, sizeof(p), "/sys/fs/cgroup/cpuset%s/vcpu2/cpuset.cpus", cg_parent);
	run_read_file(p, cpus, sizeof(cpus));
	cr_assert_str_eq(cpus, "0-1", "vcpu2 stacked on a sibling's pCPU: %s", cpus);
	assert_affinity_is_all(tid);
	cr_assert_str_eq(cJSON_GetStringValue(run_item(tune_item("cpus"), "from")), "default");
	cr_assert_str_eq(cJSON_GetStringValue(run_item(tune_item("cpus"), "reason")),
			 "siblings differ: vcpu0 0, vcpu1 1");
	cr_assert(cJSON_IsNull(run_item(tune_item("cpus"), "list")));
	cr_assert_str_eq(cJSON_GetStringValue(run_item(tune_item("affinity"), "from")), "default");
	cr_assert_str_eq(cJSON_GetStringValue(run_item(tune_item("affinity"), "reason")),
			 "siblings differ: vcpu0 0, vcpu1 1");
	cr_assert_str_eq(cJSON_GetStringValue(run_item(tune_item("mems"), "from")), "inherited",
			 "mems are the same on both: the VM's");
	cr_assert(has_warning("not inherited, the new vCPUs get the default: cpus (siblings differ: "
			      "vcpu0 0, vcpu1 1); affinity (siblings differ: vcpu0 0, vcpu1 1)"),
		  "%s", r.out);
	cr_assert_eq(run_item(run_item(r.json, "host"), "siblings")->valueint, 2);
}

#ifndef SCHED_DEADLINE
#define SCHED_DEADLINE 6
#endif

struct dl_attr {
	uint32_t size, policy;
	uint64_t flags;
	int32_t nice;
	uint32_t priority;
	uint64_t runtime, deadline, period;
};

static int set_deadline(int tid)
{
	struct dl_attr a = { .size = sizeof(a), .policy = SCHED_DEADLINE, .runtime = 1000000,
			     .deadline = 10000000, .period = 10000000 };

	return (int)syscall(SYS_sched_setattr, tid, &a, 0);
}

static int dl_tids[2];

static void deadline_teardown(void)
{
	struct sched_param sp = { 0 };
	int i;

	for (i = 0; i < 2; i++)
		if (dl_tids[i] > 0)
			sched_setscheduler(dl_tids[i], SCHED_OTHER, &sp);
	siblings_teardown();
}

Test(cli, sibling_policy_vcpuset_cannot_set_is_skipped_with_a_warning, .fini = deadline_teardown)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2 };
	int i, tid;

	parent_with_qemu();
	serve(&cfg);
	for (i = 0; i < 2; i++) {
		dl_tids[i] = vcpu_tid(i);
		sibling_group("cpu", i, dl_tids[i], NULL);
		if (set_deadline(dl_tids[i]) < 0)
			cr_skip_test("SCHED_DEADLINE not available: %s", strerror(errno));
	}
	cr_assert_eq(sched_getscheduler(dl_tids[0]), SCHED_DEADLINE);
	RUN("--json", "--dry-run", "--no-audit", "--socket", sock, "--cgroup", cg_parent, "+1");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert_null(strstr(r.out, "sched_setscheduler"), "the dry run plans a policy: %s", r.out);
	run_free(&r);
	RUN("--json", "--no-audit", "--socket", sock, "--cgroup", cg_parent, "+1");
	cr_assert_eq(r.exit, 0, "every plug failed before: %s%s", r.out, r.err);
	tid = run_item(step(0), "tid")->valueint;
	cr_assert_eq(sched_getscheduler(tid), SCHED_OTHER);
	cr_assert(strstr(cJSON_GetStringValue(run_item(tune_item("sched"), "reason")),
			 "siblings run deadline, which vcpuset cannot give a thread"), "%s", r.out);
	cr_assert(has_warning("policy (siblings run deadline"), "%s", r.out);
}

/* ---- audit records (issue 13 B6), through tests/audit_shim.so in place of libaudit's send ---- */

static char shim_log[64];

static void shim_on(const char *mode)
{
	run_audit_shim(mode, shim_log, sizeof(shim_log));
}

static void shim_teardown(void)
{
	unsetenv("LD_PRELOAD");
	unlink(shim_log);
	finish();
}

static int shim_count(const char *needle)
{
	char buf[8192];

	run_read_file(shim_log, buf, sizeof(buf));
	return count_of(buf, needle);
}

Test(cli, audit_send_answering_0_is_not_a_failure, .fini = shim_teardown)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2 };

	shim_on("zero");
	serve(&cfg);
	RUN("--json", "--no-cgroup", "--audit=required", "--socket", sock, "3");
	if (!cJSON_IsTrue(run_item(r.json, "audit")))
		cr_skip_test("no audit subsystem here: %s", r.out);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert_eq(shim_count("old-vcpu=2 new-vcpu=3"), 1, "the record was sent");
	cr_assert_eq(cJSON_GetArraySize(run_item(r.json, "warnings")), 0, "no warning: %s", r.out);
}

Test(cli, audit_required_record_lost_mid_run_stops_it_with_exit_4, .fini = shim_teardown)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2 };

	shim_on("fail:1");
	serve(&cfg);
	RUN("--json", "--no-cgroup", "--audit=required", "--socket", sock, "5");
	if (!cJSON_IsTrue(run_item(r.json, "audit")))
		cr_skip_test("no audit subsystem here: %s", r.out);
	cr_assert_eq(r.exit, 4, "%s%s", r.out, r.err);
	cr_assert(strstr(error_message(), "--audit=required: stopped after 2 of 3 steps: cannot send "
			 "the audit record"), "%s", error_message());
	cr_assert_str_eq(cJSON_GetStringValue(run_item(step(0), "status")), "done");
	cr_assert_str_eq(cJSON_GetStringValue(run_item(step(1), "status")), "done",
			 "the plug whose record failed is complete (tuned), then the run stops");
	cr_assert_str_eq(cJSON_GetStringValue(run_item(step(2), "status")), "planned");
	cr_assert_eq(peer_online(peer), 4);
	run_free(&r);
	/* without required it is a warning, and the run goes on */
	shim_on("fail:0");
	RUN("--json", "--no-cgroup", "--socket", sock, "5");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(has_warning("cannot send the audit record"), "%s", r.out);
}

Test(cli, monitor_broken_in_the_middle_of_a_step_gets_a_failed_record, .fini = shim_teardown)
{
	static const struct peer_override ov[] = {
		{ .cmd = "device_add", .raw = NULL, .close_after = true },
	};
	static const struct peer_override ov_del[] = {
		{ .cmd = "device_del", .raw = NULL, .close_after = true },
	};
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .overrides = ov, .noverrides = 1 };

	shim_on(NULL);
	serve(&cfg);
	RUN("--json", "--no-cgroup", "--socket", sock, "3");
	if (!cJSON_IsTrue(run_item(r.json, "audit")))
		cr_skip_test("no audit subsystem here: %s", r.out);
	cr_assert_neq(r.exit, 0, "%s", r.out);
	cr_assert_eq(shim_count("0 virt=qemu resrc=vcpu reason=update"), 1, "a failed record");
	cr_assert_eq(shim_count("old-vcpu=2 new-vcpu=3"), 1);
	run_free(&r);
	finish();
	unlink(shim_log);
	cfg = (struct peer_config){ .gen_slots = 8, .gen_online = 2, .overrides = ov_del,
				    .noverrides = 1 };
	serve(&cfg);
	RUN("--json", "--no-cgroup", "--socket", sock, "3");
	cr_assert_eq(r.exit, 0, "%s", r.out);
	run_free(&r);
	RUN("--json", "--no-cgroup", "--socket", sock, "2");
	cr_assert_neq(r.exit, 0, "%s", r.out);
	cr_assert_eq(shim_count("0 virt=qemu"), 1, "a failed record for the unplug");
	cr_assert_eq(shim_count("old-vcpu=3 new-vcpu=2"), 1);
}

/* Run vcpuset with stdout on /dev/full; its exit status, stderr in err. */
static int run_to_full(char *err, size_t size, const char *const *args)
{
	const char *bin = getenv("VCPUSET_BIN") ? getenv("VCPUSET_BIN") : "./vcpuset";
	const char *argv[32];
	char path[64];
	int st, i, n = 1;
	pid_t pid;

	snprintf(path, sizeof(path), "/tmp/vcpuset-full-%d.err", (int)getpid());
	argv[0] = bin;
	if (run_sysroot_dir()[0]) {
		argv[n++] = "--sysroot";
		argv[n++] = run_sysroot_dir();
	}
	for (i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid = fork();
	if (pid == 0) {
		int out = open("/dev/full", O_WRONLY), e = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(out, 1);
		dup2(e, 2);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	run_read_file(path, err, size);
	unlink(path);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Issue 13 B7: output that cannot be written is an error, on every output path. */
Test(cli, output_that_cannot_be_written_is_exit_1_with_a_message)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2 };
	char err[1024];

	cr_assert_eq(run_to_full(err, sizeof(err), (const char *const[]){ "--help", NULL }), 1, "%s", err);
	cr_assert(strstr(err, "vcpuset: write error on standard output: No space left on device"),
		  "%s", err);
	cr_assert_eq(run_to_full(err, sizeof(err), (const char *const[]){ "-V", NULL }), 1, "%s", err);
	serve(&cfg);
	cr_assert_eq(run_to_full(err, sizeof(err), (const char *const[]){ "--json", "--status",
		     "--socket", sock, NULL }), 1, "%s", err);
	cr_assert(strstr(err, "write error on standard output"), "%s", err);
	/* a run that changed the guest says so: exit 4, not "unchanged" */
	cr_assert_eq(run_to_full(err, sizeof(err), (const char *const[]){ "--json", "--no-cgroup",
		     "--no-audit", "--socket", sock, "3", NULL }), 4, "%s", err);
	cr_assert_eq(peer_online(peer), 3, "the step itself was done");
}

/*
 * Issue 20 M2: the ledger of a VM that is gone (its pid now another process's, started at
 * another time) is never taken for this VM's: no false record, and the file is removed.
 */
Test(cli, ledger_of_a_vm_that_is_gone_is_removed_and_never_finished, .fini = shim_teardown)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2 };
	char mine[160], stale[2][200], text[512];
	unsigned long long start;
	FILE *f;
	int i;

	make_state_dir();
	ledger_path(mine, sizeof(mine));
	cr_assert(sscanf(strrchr(mine, '-') + 1, "%llu", &start) == 1 && start > 0,
		  "the key's start time is the process's: %s", mine);
	/* the old off-by-one key, and a VM that had this pid before this process started */
	snprintf(stale[0], sizeof(stale[0]), "%s/qemu-%d-0.json", state_dir, (int)getpid());
	snprintf(stale[1], sizeof(stale[1]), "%s/qemu-%d-%llu.json", state_dir, (int)getpid(), start - 1);
	for (i = 0; i < 2; i++) {
		f = fopen(stale[i], "w");
		cr_assert_not_null(f);
		fprintf(f, "{\"vcpuset_ledger\":1,\"qemu_pid\":%d,\"qemu_start\":%llu,\"pending\":"
			   "[{\"vcpu\":2,\"vcpus\":1,\"alias\":\"vcpu2\",\"qom_path\":\"\",\"tid\":0,"
			   "\"old\":3,\"new\":2,\"time\":1}]}\n", (int)getpid(), i ? start - 1 : 0);
		fclose(f);
	}
	shim_on(NULL);
	serve(&cfg);
	RUN("--json", "--status", "--socket", sock, "--state-dir", state_dir);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert_eq(cJSON_GetArraySize(run_item(r.json, "reconciled")), 0, "%s", r.out);
	cr_assert_eq(cJSON_GetArraySize(run_item(r.json, "pending")), 0, "%s", r.out);
	cr_assert_eq(shim_count("old-vcpu=3 new-vcpu=2"), 0, "a false record: %s",
		     run_read_file(shim_log, text, sizeof(text)));
	for (i = 0; i < 2; i++)
		cr_assert_neq(access(stale[i], F_OK), 0, "%s was not removed", stale[i]);
}

/* ---- preflight (issue 20): the VM's run state and migration, before anything is sent ---- */

struct preflight_case {
	const char *state, *migration;
	bool force;
	int exit;
	const char *msg; /* in the error, or the warning when exit is 0 */
};

static const struct preflight_case preflight_cases[] = {
	{ "running", NULL, false, 0, NULL },
	{ "paused", NULL, false, 1, "the VM is paused, not running: a plug would not be seen" },
	{ "paused", NULL, true, 0, "the VM is paused (--force)" },
	{ "prelaunch", NULL, false, 1, "the VM is prelaunch, not running: its guest has not started" },
	{ "prelaunch", NULL, true, 0, "the VM is prelaunch (--force)" },
	{ "postmigrate", NULL, true, 1, "the VM is postmigrate, not running: the guest cannot take" },
	{ "inmigrate", NULL, true, 1, "the VM is inmigrate, not running" },
	{ "shutdown", NULL, true, 1, "the VM is shutdown, not running" },
	{ "guest-panicked", NULL, true, 1, "the VM is guest-panicked, not running" },
	{ "internal-error", NULL, false, 1, "the VM is internal-error" },
	{ "running", "active", true, 1, "a migration of the VM is under way (active)" },
	{ "running", "cancelling", false, 1, "a migration of the VM is under way (cancelling)" },
	{ "running", "postcopy-active", false, 1, "under way (postcopy-active)" },
	{ "running", "setup", false, 1, "under way (setup)" },
	{ "running", "completed", false, 0, NULL },
	{ "running", "failed", false, 0, NULL },
	{ "running", "cancelled", false, 0, NULL },
};

Test(cli, preflight_refuses_a_vm_that_is_not_running_or_is_migrating)
{
	size_t i;

	for (i = 0; i < sizeof(preflight_cases) / sizeof(preflight_cases[0]); i++) {
		const struct preflight_case *pc = &preflight_cases[i];
		struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .run_state = pc->state,
					   .migration = pc->migration };

		serve(&cfg);
		if (pc->force)
			RUN("--json", "--no-audit", "--no-cgroup", "--force", "--socket", sock, "3");
		else
			RUN("--json", "--no-audit", "--no-cgroup", "--socket", sock, "3");
		cr_assert_eq(r.exit, pc->exit, "%s/%s: %s", pc->state, pc->migration, r.out);
		cr_assert_str_eq(cJSON_GetStringValue(run_item(run_item(r.json, "vm"), "run_state")),
				 pc->state);
		if (pc->exit) {
			cr_assert(strstr(error_message(), pc->msg), "%s: %s", pc->state, error_message());
			run_assert_nothing_sent(peer);
			cr_assert_eq(cJSON_GetArraySize(run_item(r.json, "steps")), 0);
		} else {
			cr_assert_eq(peer_online(peer), 3, "%s/%s", pc->state, pc->migration);
			if (pc->msg)
				cr_assert(has_warning(pc->msg), "%s: %s", pc->state, r.out);
		}
		run_free(&r);
		free(peer_stop(peer));
		peer = NULL;
	}
}

Test(cli, status_shows_the_run_state)
{
	struct peer_config cfg = { .gen_slots = 4, .gen_online = 2, .run_state = "paused" };

	serve(&cfg);
	RUN("--status", "--socket", sock);
	cr_assert_eq(r.exit, 0, "%s", r.err);
	cr_assert(strstr(r.out, "2 of 4 vCPUs online, paused"), "%s", r.out);
}

/* Issue 20 L6: another client plugs a vCPU in the middle of the run: stop, never overshoot. */
Test(cli, a_vm_changed_by_another_client_stops_the_run)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .meddle = true };

	serve(&cfg);
	RUN("--json", "--no-audit", "--no-cgroup", "--socket", sock, "4");
	cr_assert_eq(r.exit, 4, "%s", r.out);
	cr_assert(strstr(error_message(), "the VM changed under vcpuset after 1 of 2 steps (another "
			 "QMP client?): 4 vCPUs where 3 were expected"), "%s", error_message());
	cr_assert_str_eq(cJSON_GetStringValue(run_item(step(1), "status")), "planned");
	cr_assert_eq(peer_online(peer), 4, "the 4 asked for, not 5");
}

/*
 * Issue 20 L2: a refusal is checked against the slot list, and a refused unplug is recorded:
 * if the vCPU goes after all (a guest that changed its mind, or a QEMU that lied), a later
 * run finishes it (groups, record) instead of leaving its groups behind.
 */
Test(cli, a_refused_unplug_that_completes_later_is_finished, .fini = cg_state_teardown)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .unplug = PEER_UNPLUG_REJECT_LATE,
				   .unplug_ms = 300 };
	cJSON *e;

	parent_with_qemu();
	make_state_dir();
	serve(&cfg);
	RUN("--socket", sock, "--cgroup", cg_parent, "--state-dir", state_dir, "3");
	cr_assert_eq(r.exit, 0, "%s", r.err);
	cr_assert(cpu_group_exists("vcpu2"));
	run_free(&r);
	RUN("--json", "--socket", sock, "--cgroup", cg_parent, "--state-dir", state_dir, "2");
	cr_assert_eq(r.exit, 1, "%s%s", r.out, r.err);
	cr_assert(strstr(error_message(), "the guest refused to release it; it stays online"), "%s",
		  error_message());
	e = cJSON_GetArrayItem(run_item(r.json, "pending"), 0);
	cr_assert(cJSON_IsTrue(run_item(e, "refused")), "recorded as refused: %s", r.out);
	cr_assert_eq(run_item(r.json, "pending_count")->valueint, 0, "a refused one still counts");
	cr_assert_eq(run_item(r.json, "after")->valueint, 3);
	run_free(&r);
	usleep(500 * 1000); /* it goes after all */
	RUN("--json", "--status", "--socket", sock, "--cgroup", cg_parent, "--state-dir", state_dir);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert_eq(cJSON_GetArraySize(run_item(r.json, "reconciled")), 1, "%s", r.out);
	cr_assert(!cpu_group_exists("vcpu2"), "its groups are removed");
}

/* ---- the guest's acknowledgment of a plug (issue 20, x86 ACPI) ---- */

Test(cli, each_plug_reports_whether_the_guest_took_it)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2 };

	serve(&cfg);
	RUN("--json", "--no-audit", "--no-cgroup", "--socket", sock, "4");
	cr_assert_eq(r.exit, 0, "%s", r.out);
	cr_assert(cJSON_IsTrue(run_item(step(0), "acknowledged")), "%s", r.out);
	cr_assert(cJSON_IsTrue(run_item(step(1), "acknowledged")), "%s", r.out);
	cr_assert_eq(cJSON_GetArraySize(run_item(r.json, "warnings")), 0, "%s", r.out);
	run_free(&r);
	RUN("--no-audit", "--no-cgroup", "--socket", sock, "5");
	cr_assert(strstr(r.out, "done") && strstr(r.out, "guest: taken"), "%s", r.out);
	run_free(&r);
	RUN("--json", "--no-audit", "--no-cgroup", "--socket", sock, "4");
	cr_assert(cJSON_IsNull(run_item(step(0), "acknowledged")), "an unplug: %s", r.out);
}

Test(cli, a_plug_the_guest_does_not_take_is_a_warning_after_the_ack_timeout)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .no_ack = true };
	double t0;

	serve(&cfg);
	t0 = vs_now_ms();
	RUN("--json", "--no-audit", "--no-cgroup", "--ack-timeout", "0.3", "--socket", sock, "3");
	cr_assert_eq(r.exit, 0, "%s", r.out);
	cr_assert_geq(vs_now_ms() - t0, 300, "it waited for the guest");
	cr_assert(cJSON_IsFalse(run_item(step(0), "acknowledged")), "%s", r.out);
	cr_assert(has_warning("vCPU 2: the guest did not acknowledge it within 0.3 s"), "%s", r.out);
	run_free(&r);
	RUN("--json", "--no-audit", "--no-cgroup", "--ack-timeout", "0", "--socket", sock, "4");
	cr_assert_eq(r.exit, 0, "%s", r.out);
	cr_assert(cJSON_IsNull(run_item(step(0), "acknowledged")), "not waited for: %s", r.out);
	cr_assert_eq(cJSON_GetArraySize(run_item(r.json, "warnings")), 0, "%s", r.out);
}

/*
 * Issue 13 B1: a pending unplug the guest refuses later. A run connected then (--wait) says
 * so: the vCPU counts again, one above the count that asked for its removal.
 */
Test(cli, a_pending_unplug_refused_later_counts_again_and_is_said, .fini = state_teardown)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .unplug = PEER_UNPLUG_NEVER };
	struct run_proc rp;

	make_state_dir();
	serve(&cfg);
	RUN("--socket", sock, "--state-dir", state_dir, "4");
	cr_assert_eq(r.exit, 0, "%s", r.err);
	run_free(&r);
	RUN("--json", "--socket", sock, "--state-dir", state_dir, "--timeout", "0.1", "3");
	cr_assert_eq(r.exit, 3, "%s", r.out);
	cr_assert_eq(run_item(r.json, "after")->valueint, 3);
	run_free(&r);
	run_start(&rp, (const char *const[]){ "--json", "--verbose", "--socket", sock, "--state-dir",
					      state_dir, "--wait", "--timeout", "5", NULL });
	cr_assert(run_wait_stderr(&rp, "query-hotpluggable-cpus", 3000), "%s", rp.err);
	peer_refuse(peer);
	run_finish(&rp, &r);
	cr_assert_eq(r.exit, 1, "%s", r.out);
	cr_assert(has_warning("the guest refused the pending unplug of vCPU 3 (vcpu3): it stays "
			      "online, one vCPU above the count"), "%s", r.out);
	cr_assert_eq(run_item(r.json, "after")->valueint, 4, "it counts again");
	cr_assert(cJSON_IsTrue(run_item(cJSON_GetArrayItem(run_item(r.json, "pending"), 0),
					"refused")), "%s", r.out);
	run_free(&r);
	RUN("--socket", sock, "--state-dir", state_dir, "--status");
	cr_assert(strstr(r.out, "unplug of vCPU 3 (vcpu3) refused by the guest (still online)"),
		  "%s", r.out);
}

/*
 * Issue 14: nothing irreversible before the plan has accepted the COUNT. A run whose COUNT is
 * refused leaves a finished pending unplug (its groups, its record) to the next run.
 */
Test(cli, a_refused_count_finishes_nothing_that_was_pending, .fini = cg_state_teardown)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .unplug_ms = 300 };

	parent_with_qemu();
	make_state_dir();
	serve(&cfg);
	RUN("--socket", sock, "--cgroup", cg_parent, "--state-dir", state_dir, "3");
	cr_assert_eq(r.exit, 0, "%s", r.err);
	run_free(&r);
	RUN("--socket", sock, "--cgroup", cg_parent, "--state-dir", state_dir, "--timeout", "0.05", "2");
	cr_assert_eq(r.exit, 3, "%s%s", r.out, r.err);
	run_free(&r);
	usleep(500 * 1000); /* the guest lets it go */
	RUN("--json", "--socket", sock, "--cgroup", cg_parent, "--state-dir", state_dir, "99");
	cr_assert_eq(r.exit, 2, "%s%s", r.out, r.err);
	cr_assert_eq(cJSON_GetArraySize(run_item(r.json, "reconciled")), 0, "%s", r.out);
	cr_assert(cpu_group_exists("vcpu2"), "a refused COUNT removed vcpu2's group");
	run_free(&r);
	RUN("--json", "--status", "--socket", sock, "--cgroup", cg_parent, "--state-dir", state_dir);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert_eq(cJSON_GetArraySize(run_item(r.json, "reconciled")), 1, "%s", r.out);
	cr_assert(!cpu_group_exists("vcpu2"), "the next run finishes it");
}

/* ---- issue 19: quiet runs, live progress, the version ---- */

Test(cli, quiet_prints_nothing_on_stdout_and_keeps_the_exit_status)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2 };

	serve(&cfg);
	RUN("-q", "--no-audit", "--no-cgroup", "--socket", sock, "3");
	cr_assert_eq(r.exit, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "");
	cr_assert_str_eq(r.err, "");
	cr_assert_eq(peer_online(peer), 3);
	run_free(&r);
	RUN("--quiet", "--no-audit", "--no-cgroup", "--socket", sock, "3"); /* nothing to do */
	cr_assert_eq(r.exit, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "");
	cr_assert_str_eq(r.err, "");
	run_free(&r);
	RUN("-q", "--no-audit", "--no-cgroup", "--socket", sock, "99");
	cr_assert_eq(r.exit, 2, "%s", r.err);
	cr_assert_str_eq(r.out, "");
	cr_assert(strstr(r.err, "vcpuset: ") && strchr(r.err, '\n') == r.err + strlen(r.err) - 1,
		  "one error line: %s", r.err);
	run_free(&r);
	RUN("-q", "--socket", sock, "--status");
	cr_assert_eq(r.exit, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "");
	run_free(&r);
	RUN("-q", "--json", "--socket", sock, "3");
	cr_assert_eq(r.exit, 2, "%s", r.err);
	cr_assert(strstr(r.err, "--quiet"), "%s", r.err);
}

/* Each step's line is out as the step ends, while the run goes on. */
Test(cli, each_step_line_is_printed_when_the_step_ends)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .hold_ms = 150 };
	struct run_proc p;

	serve(&cfg);
	run_start(&p, (const char *const[]){ "--no-audit", "--no-cgroup", "--ack-timeout", "0",
					     "--guest-agent", "off", "--socket", sock, "6", NULL });
	cr_assert(run_wait_stdout(&p, "plug   vCPU 2", 5000), "the first step's line: %s", p.out);
	cr_assert(strstr(p.out, "2 -> 6 vCPUs (max 8)"), "the plan first: %s", p.out);
	cr_assert_null(strstr(p.out, "vCPU 5"), "before the last step ends: %s", p.out);
	cr_assert_eq(kill(p.pid, 0), 0, "the run still goes on");
	run_finish(&p, &r);
	cr_assert_eq(r.exit, 0, "%s", r.err);
	cr_assert(strstr(r.out, "plug   vCPU 5") && strstr(r.out, "6 vCPUs online"), "%s", r.out);
	cr_assert_null(strstr(r.err, "waiting for"), "no countdown without a terminal: %s", r.err);
}

/* On a terminal, an unplug's wait counts down on stderr and is erased when it ends. */
Test(cli, an_unplug_wait_counts_down_on_a_terminal)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .unplug = PEER_UNPLUG_TCG,
				   .unplug_ms = 700 };
	char cmd[5000], out[8192], bin[PATH_MAX];
	FILE *f;
	size_t n;

	serve(&cfg);
	RUN("--no-audit", "--no-cgroup", "--socket", sock, "3");
	cr_assert_eq(r.exit, 0, "%s", r.err);
	run_free(&r);
	cr_assert_not_null(realpath("vcpuset", bin));
	/* script(1) gives the run a terminal; its sysroot as run_vcpuset gives it */
	snprintf(cmd, sizeof(cmd), "script -qec '%s --sysroot %s --no-audit --no-cgroup "
		 "--guest-agent off --socket %s 2' /dev/null", bin, run_sysroot_dir(), sock);
	f = popen(cmd, "r");
	cr_assert_not_null(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	cr_assert_eq(pclose(f), 0, "%s", out);
	cr_assert(strstr(out, "waiting for the guest to release vCPU 2 ... "), "%s", out);
	cr_assert(strstr(out, " s of 5 s"), "%s", out);
	cr_assert(strstr(out, "\r\033[K  unplug vCPU 2"), "erased before the step's line: %s", out);
	/* --json: none */
	RUN("--json", "--no-audit", "--no-cgroup", "--socket", sock, "3");
	cr_assert_eq(r.exit, 0, "%s", r.err);
	run_free(&r);
	snprintf(cmd, sizeof(cmd), "script -qec '%s --sysroot %s --json --no-audit --no-cgroup "
		 "--guest-agent off --socket %s 2' /dev/null", bin, run_sysroot_dir(), sock);
	f = popen(cmd, "r");
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	pclose(f);
	cr_assert_null(strstr(out, "waiting for"), "%s", out);
}

Test(cli, version_names_the_commit_of_a_git_build)
{
	char want[256] = "", line[160];
	FILE *f = popen("git describe --always --dirty --abbrev=12 2>/dev/null", "r");

	if (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n-")] = '\0'; /* the tree may be dirtier now than at the build */
		snprintf(want, sizeof(want), "vcpuset " VCPUSET_VERSION " (git %s)\n", line);
	}
	if (f)
		pclose(f);
	RUN("--version");
	cr_assert_eq(r.exit, 0);
	if (want[0]) {
		char *dirty = strstr(r.out, "-dirty)");

		if (dirty)
			memmove(dirty, dirty + 6, strlen(dirty + 6) + 1);
		cr_assert_str_eq(r.out, want);
	} else { /* a copy of the tree (as-nobody.sh): the build's commit, if it had one */
		const char *g = r.out + strlen("vcpuset " VCPUSET_VERSION);

		cr_assert_eq(strncmp(r.out, "vcpuset " VCPUSET_VERSION, strlen("vcpuset "
			     VCPUSET_VERSION)), 0, "%s", r.out);
		cr_assert(strcmp(g, "\n") == 0 || (strncmp(g, " (git ", 6) == 0 &&
			  strspn(g + 6, "0123456789abcdef") >= 7), "%s", r.out);
	}
}
