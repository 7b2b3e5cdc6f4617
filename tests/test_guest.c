/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The guest's view (issue 18): ga.c's parsers and its client against the scripted agent
 * (resync past stale replies, every fault bounded), then vcpuset with the scripted QMP peer
 * and the scripted agent on a fixture host: plugs onlined or left offline, the unplug the
 * guest cannot do refused before anything is sent, --guest, and the agent's faults, which
 * never change the hotplug's result.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ga.h"
#include "ga_peer.h"
#include "peer.h"
#include "run.h"
#include "vcpuset.h"

static struct peer *peer;
static struct ga_peer *agent;
static char sock[64], asock[64];
static struct run_result r;
static pid_t other = -1;

static void serve(const struct peer_config *cfg)
{
	snprintf(sock, sizeof(sock), "/tmp/vcpuset-gq-%d.sock", (int)getpid());
	peer = peer_start_unix(sock, cfg);
}

static void serve_agent(const struct ga_peer_config *cfg)
{
	snprintf(asock, sizeof(asock), "/tmp/vcpuset-ga-%d.sock", (int)getpid());
	agent = ga_peer_start(asock, cfg);
}

/* The scripted agent at asock, served by a child process: another guest's agent. */
static void serve_agent_elsewhere(const struct ga_peer_config *cfg)
{
	int i;

	snprintf(asock, sizeof(asock), "/tmp/vcpuset-ga-%d.sock", (int)getpid());
	unlink(asock);
	other = fork();
	if (other == 0) {
		ga_peer_start(asock, cfg);
		pause();
		_exit(0);
	}
	for (i = 0; i < 200 && access(asock, F_OK) != 0; i++)
		usleep(10000);
}

static char *agent_log(void)
{
	static char buf[4096];
	char *l = ga_peer_log(agent);

	snprintf(buf, sizeof(buf), "%s", l);
	free(l);
	return buf;
}

static void on_fixture(void)
{
	run_sysroot(getpid());
}

static void teardown(void)
{
	run_free(&r);
	if (agent)
		free(ga_peer_stop(agent));
	agent = NULL;
	if (peer)
		free(peer_stop(peer));
	peer = NULL;
	if (other > 0) {
		kill(other, SIGKILL);
		waitpid(other, NULL, 0);
	}
	other = -1;
	run_sysroot_off();
}

TestSuite(guest, .init = on_fixture, .fini = teardown, .timeout = 60);

#define RUN(...) run_vcpuset(&r, (const char *const[]){ __VA_ARGS__, NULL })

static cJSON *step_guest(int i)
{
	return run_item(cJSON_GetArrayItem(run_item(r.json, "steps"), i), "guest");
}

static const char *step_state(int i)
{
	return cJSON_GetStringValue(run_item(step_guest(i), "state"));
}

static const char *error_message(void)
{
	return cJSON_GetStringValue(run_item(run_item(r.json, "error"), "message"));
}

/* ---- parsers ---- */

static int parse(const char *text, struct ga_cpu **c, int *n)
{
	cJSON *j = cJSON_Parse(text);
	struct vs_err e = { 0 };
	int rc;

	cr_assert_not_null(j, "%s", text);
	rc = ga_parse_vcpus(j, c, n, &e);
	cJSON_Delete(j);
	return rc;
}

Test(guest, the_agent_cpu_list_is_parsed_strictly)
{
	static const char *const bad[] = {
		"{}",
		"[{\"logical-id\": 0, \"online\": true}, {\"logical-id\": 0, \"online\": true}]",
		"[{\"logical-id\": -1, \"online\": true}]",
		"[{\"logical-id\": 1.5, \"online\": true}]",
		"[{\"logical-id\": 1e12, \"online\": true}]",
		"[{\"logical-id\": 1, \"online\": 1}]",
		"[{\"logical-id\": 1}]",
		"[{\"logical-id\": \"1\", \"online\": true}]",
		"[{\"logical-id\": 1, \"online\": true, \"can-offline\": \"yes\"}]",
		"[1]",
	};
	struct ga_cpu *c = NULL;
	size_t k;
	int n;

	cr_assert_eq(parse("[{\"logical-id\": 3, \"online\": false, \"can-offline\": true},"
			   "{\"logical-id\": 0, \"online\": true, \"can-offline\": false},"
			   "{\"logical-id\": 2, \"online\": true}]", &c, &n), 0);
	cr_assert_eq(n, 3);
	cr_assert(c[0].id == 0 && c[1].id == 2 && c[2].id == 3, "sorted by logical id");
	cr_assert(c[0].online && !c[0].can_offline && !c[2].online && c[2].can_offline);
	cr_assert(!c[1].can_offline, "no can-offline: never taken offline");
	cr_assert_eq(c[0].vcpu, -1, "not matched yet");
	free(c);
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		cr_assert_eq(parse(bad[k], &c, &n), -EBADMSG, "%s", bad[k]);
}

Test(guest, acpi_names_and_base64_are_parsed_strictly)
{
	static const char *const bad[] = { "\\_SB_.PCI0.C001", "\\_SB_.CPUS.C0G1",
					   "\\_SB_.CPUS.C01", "\\_SB_.CPUS.C0001", "\\_SB_.CPUS.c001",
					   "\\_SB_.CPUS.C0\0011", "", "C001", "\\_SB_.CPUS.C001\n\n" };
	unsigned char out[16];
	size_t k, len;
	int idx = -1;

	cr_assert_eq(ga_parse_acpi_path("\\_SB_.CPUS.C00A\n", 16, &idx, NULL), 0);
	cr_assert_eq(idx, 10);
	cr_assert_eq(ga_parse_acpi_path("\\_SB.CPUS.C1FF", 14, &idx, NULL), 0);
	cr_assert_eq(idx, 511);
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		cr_assert_eq(ga_parse_acpi_path(bad[k], strlen(bad[k]), &idx, NULL), -EBADMSG, "%s",
			     bad[k]);
	cr_assert_eq(ga_base64("QzAwMQo=", out, sizeof(out), &len), 0);
	cr_assert(len == 5 && memcmp(out, "C001\n", 5) == 0);
	cr_assert_eq(ga_base64("", out, sizeof(out), &len), 0);
	cr_assert_eq(len, 0);
	cr_assert_eq(ga_base64("QzA=wMQo", out, sizeof(out), &len), -1, "padding inside");
	cr_assert_eq(ga_base64("QzAwMQ", out, sizeof(out), &len), -1, "not a multiple of 4");
	cr_assert_eq(ga_base64("Qz!wMQo=", out, sizeof(out), &len), -1);
	cr_assert_eq(ga_base64("QUFBQUFBQUFBQUFBQUFBQUFBQUE=", out, sizeof(out), &len), -1,
		     "longer than the buffer");
}

/* ---- the client ---- */

static int connect_agent(int timeout_ms, struct ga **g, struct vs_err *e)
{
	return ga_connect(asock, getpid(), timeout_ms, NULL, NULL, g, e);
}

Test(guest, the_client_resyncs_past_what_an_earlier_client_left)
{
	struct ga_peer_config cfg = { .fault = GA_STALE, .ncpus = 3 };
	struct vs_err e = { 0 };
	struct ga_view v = { 0 };
	struct ga *g = NULL;
	int on[] = { 0, 1, 2 };

	serve_agent(&cfg);
	cr_assert_eq(connect_agent(2000, &g, &e), 0, "%s", e.msg);
	cr_assert_eq(ga_view(g, on, 3, 2000, &v, &e), 0, "%s", e.msg);
	cr_assert_eq(v.n, 3);
	cr_assert_eq(v.map, GA_MAP_ACPI);
	cr_assert_eq(ga_cpu_of(&v, 2)->id, 2);
	ga_view_clear(&v);
	ga_free(g);
}

/* Every fault ends within the bound given, with an error naming it. */
Test(guest, every_fault_of_the_agent_is_bounded)
{
	static const struct {
		enum ga_fault f;
		int rc;
		const char *says;
	} faults[] = {
		{ GA_HUNG, -ETIMEDOUT, "no delimiter from the guest agent" },
		{ GA_JUNK, -ETIMEDOUT, "no delimiter" },
		{ GA_CLOSE, -EPIPE, "the guest agent closed its channel" },
		{ GA_WRONG_SYNC, -ETIMEDOUT, "no delimiter" },
	};
	size_t k;

	for (k = 0; k < sizeof(faults) / sizeof(faults[0]); k++) {
		struct ga_peer_config cfg = { .fault = faults[k].f, .ncpus = 2 };
		struct vs_err e = { 0 };
		struct ga *g = NULL;
		double t0 = vs_now_ms();

		serve_agent(&cfg);
		cr_assert_eq(connect_agent(400, &g, &e), faults[k].rc, "fault %zu: %s", k, e.msg);
		cr_assert(vs_now_ms() - t0 < 1500, "fault %zu took %.0f ms", k, vs_now_ms() - t0);
		cr_assert(strstr(e.msg, faults[k].says), "fault %zu: %s", k, e.msg);
		cr_assert_null(g);
		free(ga_peer_stop(agent));
		agent = NULL;
	}
}

Test(guest, a_huge_or_malformed_cpu_list_is_an_error)
{
	struct ga_peer_config huge = { .fault = GA_HUGE, .ncpus = 2 };
	struct ga_peer_config dup = { .fault = GA_BAD_LIST, .ncpus = 2 };
	struct vs_err e = { 0 };
	struct ga_view v = { 0 };
	struct ga *g = NULL;
	int on[] = { 0, 1 };

	serve_agent(&huge);
	cr_assert_eq(connect_agent(2000, &g, &e), 0, "%s", e.msg);
	cr_assert_eq(ga_view(g, on, 2, 2000, &v, &e), -EMSGSIZE, "%s", e.msg);
	ga_free(g);
	free(ga_peer_stop(agent));
	serve_agent(&dup);
	cr_assert_eq(connect_agent(2000, &g, &e), 0, "%s", e.msg);
	cr_assert_eq(ga_view(g, on, 2, 2000, &v, &e), -EBADMSG, "%s", e.msg);
	cr_assert(strstr(e.msg, "twice"), "%s", e.msg);
	ga_free(g);
}

/* A socket another process serves (another QEMU's agent) is refused before a byte is sent. */
Test(guest, an_agent_another_process_serves_is_refused)
{
	struct ga_peer_config cfg = { .ncpus = 2 };
	struct vs_err e = { 0 };
	struct ga *g = NULL;

	serve_agent_elsewhere(&cfg);
	cr_assert_eq(ga_connect(asock, getpid(), 2000, NULL, NULL, &g, &e), -EPERM, "%s", e.msg);
	cr_assert(strstr(e.msg, "another guest's agent"), "%s", e.msg);
}

Test(guest, cpus_are_matched_by_acpi_name_else_by_order)
{
	struct peer_config qc = { .gen_slots = 8, .gen_online = 4 };
	struct ga_peer_config cfg = { .files_blocked = true };
	struct vs_err e = { 0 };
	struct ga_view v = { 0 };
	struct ga *g = NULL;
	int on[] = { 0, 1, 2, 3 };

	serve(&qc);
	cfg.qemu = peer;
	serve_agent(&cfg);
	cr_assert_eq(connect_agent(2000, &g, &e), 0, "%s", e.msg);
	cr_assert_eq(ga_view(g, on, 4, 2000, &v, &e), 0, "%s", e.msg);
	cr_assert_eq(v.map, GA_MAP_ORDER, "the guest's files cannot be read");
	cr_assert(strstr(v.why_order, "disabled"), "%s", v.why_order);
	cr_assert_eq(ga_cpu_of(&v, 3)->id, 3);
	/* QEMU lists another count: nothing can be matched by order */
	cr_assert_eq(ga_view(g, on, 3, 2000, &v, &e), 0, "%s", e.msg);
	cr_assert_eq(v.map, GA_MAP_NONE);
	cr_assert_null(ga_cpu_of(&v, 0));
	ga_view_clear(&v);
	ga_free(g);
}

/* ---- vcpuset with the scripted QEMU and agent ---- */

static void both(int online, const struct ga_peer_config *acfg)
{
	struct peer_config qc = { .gen_slots = 8, .gen_online = online, .unplug = PEER_UNPLUG_TCG,
				  .unplug_ms = 5 };
	struct ga_peer_config c = *acfg;

	serve(&qc);
	c.qemu = peer;
	serve_agent(&c);
}

Test(guest, plugged_vcpus_the_guest_leaves_offline_are_onlined)
{
	struct ga_peer_config cfg = { 0 };

	both(2, &cfg);
	RUN("--json", "--no-audit", "--no-cgroup", "--socket", sock, "--guest-agent", asock, "4");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert_str_eq(step_state(0), "onlined");
	cr_assert_str_eq(step_state(1), "onlined");
	cr_assert_eq(run_item(step_guest(1), "logical_id")->valueint, 3);
	cr_assert(cJSON_IsTrue(run_item(run_item(r.json, "guest"), "set_vcpus_sent")));
	cr_assert_str_eq(cJSON_GetStringValue(run_item(run_item(r.json, "guest"), "mapping")), "acpi");
	cr_assert(ga_peer_online(agent, 2) && ga_peer_online(agent, 3));
	cr_assert(strstr(agent_log(), "guest-set-vcpus"), "%s", agent_log());
	cr_assert_eq(cJSON_GetArraySize(run_item(r.json, "warnings")), 0, "%s", r.out);
	run_free(&r);
	/* the text report has the guest's column */
	RUN("--no-audit", "--no-cgroup", "--socket", sock, "--guest-agent", asock, "5");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "guest: onlined, CPU 4"), "%s", r.out);
}

Test(guest, with_no_guest_online_they_stay_offline_and_the_exit_says_so)
{
	struct ga_peer_config cfg = { 0 };

	both(2, &cfg);
	RUN("--json", "--no-audit", "--no-cgroup", "--socket", sock, "--guest-agent", asock,
	    "--no-guest-online", "3");
	cr_assert_eq(r.exit, VS_EXIT_GUEST, "%s%s", r.out, r.err);
	cr_assert_str_eq(step_state(0), "offline");
	cr_assert(strstr(cJSON_GetStringValue(run_item(step_guest(0), "reason")),
			 "--no-guest-online"));
	cr_assert(strstr(error_message(), "vCPU 2 is plugged, but the guest left it offline"),
		  "%s", error_message());
	cr_assert_str_eq(cJSON_GetStringValue(run_item(cJSON_GetArrayItem(run_item(r.json, "steps"),
									   0), "status")), "done");
	cr_assert_eq(peer_online(peer), 3, "the plug itself stands");
	cr_assert_null(strstr(agent_log(), "guest-set-vcpus"), "%s", agent_log());
	cr_assert(!ga_peer_online(agent, 2));
	run_free(&r);
	/* --status shows it */
	RUN("--json", "--no-audit", "--status", "--socket", sock, "--guest-agent", asock);
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(cJSON_IsFalse(run_item(run_item(cJSON_GetArrayItem(run_item(r.json, "vcpus"), 2),
						  "guest"), "online")), "%s", r.out);
	cr_assert(cJSON_IsTrue(run_item(run_item(cJSON_GetArrayItem(run_item(r.json, "vcpus"), 1),
						 "guest"), "online")), "%s", r.out);
	cr_assert(cJSON_IsNull(run_item(cJSON_GetArrayItem(run_item(r.json, "vcpus"), 5), "guest")));
	run_free(&r);
	RUN("--no-audit", "--status", "--socket", sock, "--guest-agent", asock);
	cr_assert(strstr(r.out, "GUEST") && strstr(r.out, "cpu2 off"), "%s", r.out);
}

Test(guest, a_guest_that_onlines_by_itself_is_left_to_it)
{
	struct ga_peer_config cfg = { .auto_online = true };

	both(2, &cfg);
	RUN("--json", "--no-audit", "--no-cgroup", "--socket", sock, "--guest-agent", asock, "4");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert_str_eq(step_state(0), "online");
	cr_assert_str_eq(step_state(1), "online");
	cr_assert(cJSON_IsFalse(run_item(run_item(r.json, "guest"), "set_vcpus_sent")));
	cr_assert_null(strstr(agent_log(), "guest-set-vcpus"), "%s", agent_log());
}

/* Out-of-order logical ids: the ACPI names say which is which; by order, when files are shut. */
Test(guest, logical_ids_are_matched_to_the_vcpus_they_are)
{
	struct ga_peer_config cfg = { .swap_ids = true };

	both(2, &cfg);
	RUN("--json", "--no-audit", "--no-cgroup", "--socket", sock, "--guest-agent", asock, "4");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert_eq(run_item(step_guest(0), "logical_id")->valueint, 3, "vCPU 2 is CPU 3");
	cr_assert_eq(run_item(step_guest(1), "logical_id")->valueint, 2, "vCPU 3 is CPU 2");
	run_free(&r);
	free(ga_peer_stop(agent));
	cfg = (struct ga_peer_config){ .files_blocked = true, .qemu = peer };
	serve_agent(&cfg);
	RUN("--json", "--no-audit", "--no-cgroup", "--socket", sock, "--guest-agent", asock, "5");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert_str_eq(cJSON_GetStringValue(run_item(run_item(r.json, "guest"), "mapping")),
			 "order");
	cr_assert_str_eq(step_state(0), "onlined");
}

/* The guest says it cannot take CPU 3 offline: the unplug is refused, nothing sent. */
Test(guest, an_unplug_the_guest_cannot_do_is_refused_before_device_del)
{
	struct ga_peer_config cfg = { .no_offline = 1ull << 3, .auto_online = true };
	char *log;

	both(2, &cfg);
	RUN("--json", "--no-audit", "--no-cgroup", "--socket", sock, "--guest-agent", asock, "4");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(cJSON_IsFalse(run_item(step_guest(1), "can_offline")), "%s", r.out);
	run_free(&r);
	RUN("--json", "--no-audit", "--no-cgroup", "--socket", sock, "--guest-agent", asock, "2");
	cr_assert_eq(r.exit, VS_EXIT_USAGE, "%s%s", r.out, r.err);
	cr_assert(strstr(error_message(), "vCPU 3 is CPU 3 in the guest, which says it cannot take "
			 "it offline"), "%s", error_message());
	log = peer_log(peer);
	cr_assert_null(strstr(log, "device_del"), "%s", log);
	free(log);
	cr_assert_eq(peer_online(peer), 4);
	run_free(&r);
	/* the one it can: fine */
	RUN("--json", "--no-audit", "--no-cgroup", "--socket", sock, "--guest-agent", asock,
	    "--disable", "2");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert_str_eq(step_state(0), "online", "what the guest said before the unplug");
	run_free(&r);
	/* without the agent's word vcpuset cannot know: it tries (the step would then pend) */
	RUN("--json", "--no-audit", "--no-cgroup", "--socket", sock, "--guest-agent", "off",
	    "--dry-run", "2");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(cJSON_IsNull(run_item(r.json, "guest")));
}

Test(guest, another_guests_agent_is_not_asked)
{
	struct ga_peer_config cfg = { .ncpus = 8 };

	serve(&(struct peer_config){ .gen_slots = 8, .gen_online = 2 });
	serve_agent_elsewhere(&cfg);
	RUN("--json", "--no-audit", "--no-cgroup", "--socket", sock, "--guest-agent", asock, "3");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert_str_eq(step_state(0), "unknown");
	cr_assert(strstr(cJSON_GetStringValue(run_item(step_guest(0), "reason")),
			 "another guest's agent"), "%s", r.out);
}

Test(guest, an_agent_that_never_onlines_is_waited_for_within_the_timeout)
{
	struct ga_peer_config cfg = { .set_ignored = true };
	double t0 = vs_now_ms();

	both(2, &cfg);
	RUN("--json", "--no-audit", "--no-cgroup", "--socket", sock, "--guest-agent", asock,
	    "--guest-timeout", "1.5", "3");
	cr_assert_eq(r.exit, VS_EXIT_GUEST, "%s%s", r.out, r.err);
	cr_assert(vs_now_ms() - t0 < 5000, "%.0f ms", vs_now_ms() - t0);
	cr_assert_str_eq(step_state(0), "offline");
	cr_assert(strstr(cJSON_GetStringValue(run_item(step_guest(0), "reason")),
			 "guest-set-vcpus did not bring it online"), "%s", r.out);
}

Test(guest, guest_mode_changes_only_the_guests_online_cpus)
{
	struct ga_peer_config cfg = { .no_offline = 1ull << 1 };
	cJSON *g;

	both(4, &cfg);
	RUN("--json", "--no-audit", "--socket", sock, "--guest-agent", asock, "--guest", "2");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	g = run_item(r.json, "guest");
	cr_assert_eq(run_item(g, "before")->valueint, 4);
	cr_assert_eq(run_item(g, "after")->valueint, 2);
	cr_assert_eq(cJSON_GetArrayItem(run_item(g, "offline"), 0)->valueint, 3, "highest first");
	cr_assert(!ga_peer_online(agent, 3) && !ga_peer_online(agent, 2) && ga_peer_online(agent, 1));
	run_assert_nothing_sent(peer);
	cr_assert_eq(peer_online(peer), 4, "no hotplug");
	run_free(&r);
	/* CPU 1 cannot go, CPU 0 neither: 1 online is impossible, nothing changes */
	RUN("--json", "--no-audit", "--socket", sock, "--guest-agent", asock, "--guest", "1");
	cr_assert_eq(r.exit, VS_EXIT_USAGE, "%s%s", r.out, r.err);
	cr_assert(strstr(error_message(), "can take only 0 of its 2"), "%s", error_message());
	run_free(&r);
	RUN("--json", "--no-audit", "--socket", sock, "--guest-agent", asock, "--guest", "5");
	cr_assert_eq(r.exit, VS_EXIT_USAGE, "%s%s", r.out, r.err);
	run_free(&r);
	RUN("--no-audit", "--socket", sock, "--guest-agent", asock, "--guest", "+1");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "guest: 2 -> 3 CPUs online (4 present)"), "%s", r.out);
	cr_assert(strstr(r.out, "online   CPU 2 (vCPU 2)"), "lowest first: %s", r.out);
	run_free(&r);
	RUN("--no-audit", "--socket", sock, "--guest-agent", asock, "--guest", "--status");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "4 CPUs, 3 online"), "%s", r.out);
}

Test(guest, a_partial_guest_set_vcpus_is_put_back)
{
	struct ga_peer_config cfg = { .set_fail_at = 3 + 1 };

	both(4, &cfg);
	RUN("--json", "--no-audit", "--socket", sock, "--guest-agent", asock, "--guest", "2");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err); /* 3 and 2 offline */
	run_free(&r);
	RUN("--json", "--no-audit", "--socket", sock, "--guest-agent", asock, "--guest", "4");
	cr_assert_eq(r.exit, VS_EXIT_FAIL, "%s%s", r.out, r.err);
	cr_assert(strstr(error_message(), "put back"), "%s", error_message());
	cr_assert(!ga_peer_online(agent, 2), "CPU 2, changed before the failure, is offline again");
}

Test(guest, guest_options_are_checked)
{
	static const char *const bad[][8] = {
		{ "--guest", "--enable", "3", NULL },
		{ "--guest", NULL },
		{ "--guest", "--status", "2", NULL },
		{ "--guest", "--guest-agent", "off", "2", NULL },
		{ "--guest-agent", "relative.sock", "2", NULL },
		{ "--guest-timeout", "0", "2", NULL },
		{ "--guest", "--wait", NULL },
	};
	size_t k;

	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		const char *args[12] = { "--socket", "/tmp/none.sock" };
		int n = 2, i;

		for (i = 0; bad[k][i]; i++)
			args[n++] = bad[k][i];
		run_vcpuset(&r, args);
		cr_assert_eq(r.exit, VS_EXIT_USAGE, "%zu: %s%s", k, r.out, r.err);
		run_free(&r);
	}
}
