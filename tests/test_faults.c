/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Injected faults: a scripted QMP peer that misbehaves in every way a monitor socket (or a
 * hostile QEMU) can. Each run must end in one clear line on stderr, the documented exit
 * status, and — before anything was asked of QEMU — nothing sent that changes the guest.
 * Under `make check-asan` the same runs also prove there is no leak (LeakSanitizer changes
 * the exit status) and no undefined behaviour.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ga_peer.h"
#include "peer.h"
#include "run.h"
#include "vcpuset.h"

static struct peer *peer;
static char sock[64];
static struct run_result r;

static void serve(const struct peer_config *cfg)
{
	snprintf(sock, sizeof(sock), "/tmp/vcpuset-faults-%d.sock", (int)getpid());
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

TestSuite(faults, .init = on_fixture, .fini = teardown, .timeout = 60);

/*
 * stderr is lines that all start "vcpuset: ", with no control character but the newlines,
 * exactly one of them not a warning, and that one holds want.
 */
static void assert_one_error_line(const char *want)
{
	const char *p = r.err, *nl;
	int errors = 0;

	cr_assert(strlen(r.err) > 0, "nothing on stderr");
	for (p = r.err; *p; p = nl + 1) {
		const char *c;

		nl = strchr(p, '\n');
		cr_assert_not_null(nl, "stderr does not end in a newline: %s", r.err);
		cr_assert_eq(strncmp(p, "vcpuset: ", 9), 0, "line without the prefix in: %s", r.err);
		for (c = p; c < nl; c++)
			cr_assert(*c >= 0x20 && *c != 0x7f, "control character 0x%02x in: %s",
				  (unsigned char)*c, r.err);
		if (strncmp(p, "vcpuset: warning: ", 18) != 0) {
			errors++;
			cr_assert(memmem(p, (size_t)(nl - p), want, strlen(want)), "want '%s' in: %s",
				  want, r.err);
		}
	}
	cr_assert_eq(errors, 1, "%d error lines: %s", errors, r.err);
}


#define OV(c, text) { .cmd = (c), .raw = (text) }
#define HP_REPLY(slots) "{\"return\": [" slots "], \"id\": %ID%}\r\n"
#define SLOT(props, extra) "{\"props\": " props ", \"vcpus-count\": 1, \"type\": \"qemu64-x86_64-cpu\"" extra "}"
#define BOOT ", \"qom-path\": \"/machine/unattached/device[0]\""
#define P(core) "{\"socket-id\": 0, \"core-id\": " #core ", \"thread-id\": 0}"
/* A plugged vCPU 1 whose qom-path (and so its alias) is path. */
#define PLUGGED(path)                                                                         \
	OV("query-hotpluggable-cpus", HP_REPLY(SLOT(P(1), ", \"qom-path\": \"" path "\"") ", "  \
					       SLOT(P(0), BOOT))),                               \
	OV("query-cpus-fast", "{\"return\": [{\"cpu-index\": 0, \"thread-id\": 77, \"qom-path\": " \
	   "\"/machine/unattached/device[0]\"}, {\"cpu-index\": 1, \"thread-id\": 77, "           \
	   "\"qom-path\": \"" path "\"}], \"id\": %ID%}\r\n")

struct fault {
	const char *name;
	struct peer_config cfg;
	const char *count; /* NULL: --status */
	int exit;
	const char *msg;
};

static const struct peer_override close_mid_reply[] = {
	{ .cmd = "query-hotpluggable-cpus", .raw = "{\"return\": [{\"props\": {\"core-", .close_after = true },
};
static const struct peer_override not_json[] = { OV("query-status", "this is not json\r\n") };
static const struct peer_override not_object[] = { OV("query-status", "[1, 2, 3]\r\n") };
static const struct peer_override wrong_id[] = {
	OV("query-hotpluggable-cpus", "{\"return\": [], \"id\": \"vcpuset-999\"}\r\n"),
};
static const struct peer_override no_id[] = { OV("query-status", "{\"return\": {}}\r\n") };
static const struct peer_override neither[] = { OV("query-status", "{\"id\": %ID%}\r\n") };
static const struct peer_override hp_not_list[] = { OV("query-hotpluggable-cpus", "{\"return\": {\"a\": 1}, \"id\": %ID%}\r\n") };
static const struct peer_override hp_type_number[] = {
	OV("query-hotpluggable-cpus", HP_REPLY("{\"props\": " P(0) ", \"vcpus-count\": 1, \"type\": 7" BOOT "}")),
};
static const struct peer_override hp_count_string[] = {
	OV("query-hotpluggable-cpus", HP_REPLY("{\"props\": " P(0) ", \"vcpus-count\": \"1\", \"type\": \"t\"" BOOT "}")),
};
static const struct peer_override hp_no_props[] = {
	OV("query-hotpluggable-cpus", HP_REPLY("{\"vcpus-count\": 1, \"type\": \"t\"" BOOT "}")),
};
static const struct peer_override hp_negative[] = {
	OV("query-hotpluggable-cpus", HP_REPLY(SLOT("{\"socket-id\": 0, \"core-id\": -3}", BOOT))),
};
static const struct peer_override hp_huge[] = {
	OV("query-hotpluggable-cpus", HP_REPLY(SLOT("{\"socket-id\": 0, \"core-id\": 1e300}", BOOT))),
};
static const struct peer_override hp_duplicate[] = {
	OV("query-hotpluggable-cpus", HP_REPLY(SLOT(P(0), BOOT) ", " SLOT(P(0), ""))),
};
static const struct peer_override hp_driver[] = {
	OV("query-hotpluggable-cpus", HP_REPLY(SLOT("{\"core-id\": 0, \"driver\": \"virtio-9p\"}", BOOT))),
};
static const struct peer_override cf_negative_tid[] = {
	OV("query-cpus-fast", "{\"return\": [{\"cpu-index\": 0, \"thread-id\": -1, \"qom-path\": "
	   "\"/machine/unattached/device[7]\"}], \"id\": %ID%}\r\n"),
};
static const struct peer_override alias_slash[] = { PLUGGED("/machine/peripheral/vcpu1/x") };
static const struct peer_override alias_dotdot[] = { PLUGGED("/machine/peripheral/../../etc") };
static const struct peer_override alias_space[] = { PLUGGED("/machine/peripheral/vcpu 1") };
static const struct peer_override alias_ctrl[] = { PLUGGED("/machine/peripheral/vcpu\\u001b[2J\\n") };
static const struct peer_override alias_odd[] = { PLUGGED("/machine/peripheral/vcpu;rm") };
static const struct peer_override error_newline[] = {
	OV("device_add", "{\"error\": {\"class\": \"GenericError\", \"desc\": \"line one\\nline two\\u001b[31m\"}, \"id\": %ID%}\r\n"),
};

#define GEN .gen_slots = 8, .gen_online = 2
static struct fault faults[] = {
	{ "close before the greeting", { .greet = PEER_CLOSE_AT_ONCE, GEN }, NULL, 1,
	  "QEMU closed the monitor connection" },
	{ "close after the greeting", { .greet = PEER_CLOSE_AFTER_GREETING, GEN }, "3", 1,
	  "QEMU closed the monitor connection" },
	{ "close in the middle of a reply", { GEN, .overrides = close_mid_reply, .noverrides = 1 }, "3", 1,
	  "QEMU closed the monitor in the middle of a message" },
	{ "no greeting (busy monitor)", { .greet = PEER_NO_GREETING, GEN }, "3", 1,
	  "another client (libvirtd?) holds the monitor" },
	{ "a line that is not JSON", { GEN, .overrides = not_json, .noverrides = 1 }, "3", 1,
	  "malformed QMP message from QEMU: 'this is not json'" },
	{ "JSON that is not an object", { GEN, .overrides = not_object, .noverrides = 1 }, "3", 1,
	  "malformed QMP message from QEMU: '[1, 2, 3]'" },
	{ "one byte at a time", { GEN, .chunk = 1 }, "3", 0, NULL },
	{ "a reply with a wrong id", { GEN, .overrides = wrong_id, .noverrides = 1 }, "3", 1,
	  "unexpected id 'vcpuset-999'" },
	{ "a reply without an id", { GEN, .overrides = no_id, .noverrides = 1 }, "3", 1,
	  "unexpected id (none)" },
	{ "a reply without return or error", { GEN, .overrides = neither, .noverrides = 1 }, "3", 1,
	  "has neither 'return' nor 'error'" },
	{ "hotpluggable: not a list", { GEN, .overrides = hp_not_list, .noverrides = 1 }, "3", 1,
	  "did not return a list" },
	{ "hotpluggable: type is a number", { GEN, .overrides = hp_type_number, .noverrides = 1 }, "3", 1,
	  "slot has no 'type'" },
	{ "hotpluggable: vcpus-count is a string", { GEN, .overrides = hp_count_string, .noverrides = 1 },
	  "3", 1, "vcpus-count is not a number" },
	{ "hotpluggable: no props", { GEN, .overrides = hp_no_props, .noverrides = 1 }, "3", 1,
	  "slot has no 'props'" },
	{ "hotpluggable: negative id", { GEN, .overrides = hp_negative, .noverrides = 1 }, "3", 1,
	  "core-id -3 is not an integer" },
	{ "hotpluggable: huge id", { GEN, .overrides = hp_huge, .noverrides = 1 }, "3", 1,
	  "is not an integer" },
	{ "hotpluggable: the same slot twice", { GEN, .overrides = hp_duplicate, .noverrides = 1 }, "3", 1,
	  "twice" },
	{ "hotpluggable: props name a driver", { GEN, .overrides = hp_driver, .noverrides = 1 }, "3", 1,
	  "props has a 'driver' key" },
	{ "cpus-fast: negative thread id", { GEN, .overrides = cf_negative_tid, .noverrides = 1 }, "3", 1,
	  "thread-id -1 is not an integer" },
	/* not a device id under /machine/peripheral: a vCPU vcpuset cannot unplug */
	{ "alias with a slash", { GEN, .overrides = alias_slash, .noverrides = 2 }, "1", 2,
	  "COUNT 1 is below the 2 vCPUs that cannot be unplugged" },
	{ "qom-path with ..", { GEN, .overrides = alias_dotdot, .noverrides = 2 }, "1", 1,
	  "has an empty, '.' or '..' component" },
	{ "qom-path with a space", { GEN, .overrides = alias_space, .noverrides = 2 }, "1", 1,
	  "has a space or control character" },
	{ "qom-path with control characters", { GEN, .overrides = alias_ctrl, .noverrides = 2 }, "1", 1,
	  "'/machine/peripheral/vcpu\\x1b[2J\\x0a'" },
	{ "alias with a shell character", { GEN, .overrides = alias_odd, .noverrides = 2 }, "1", 1,
	  "alias 'vcpu;rm' has a character outside [A-Za-z0-9_-]" },
	{ "device_add error with a newline and an escape", { GEN, .overrides = error_newline, .noverrides = 1 },
	  "3", 1, "line one\\x0aline two\\x1b[31m" },
};

ParameterizedTestParameters(faults, each_ends_in_one_line_and_its_exit_status)
{
	return cr_make_param_array(struct fault, faults, sizeof(faults) / sizeof(faults[0]));
}

ParameterizedTest(struct fault *f, faults, each_ends_in_one_line_and_its_exit_status)
{
	serve(&f->cfg);
	if (f->count)
		run_vcpuset(&r, (const char *const[]){ "--socket", sock, f->count, NULL });
	else
		run_vcpuset(&r, (const char *const[]){ "--socket", sock, "--status", NULL });
	cr_assert_eq(r.exit, f->exit, "%s: exit %d, want %d; stderr: %s", f->name, r.exit, f->exit, r.err);
	if (f->msg) {
		assert_one_error_line(f->msg);
		if (!strstr(f->name, "device_add"))
			run_assert_nothing_sent(peer);
	} else {
		cr_assert(strstr(r.out, "3 vCPUs online"), "%s: %s", f->name, r.out);
	}
}

/* Host settings need one thread per vCPU: QEMU saying otherwise is refused up front. */
static const struct peer_override same_tid[] = {
	OV("query-cpus-fast", "{\"return\": [{\"cpu-index\": 0, \"thread-id\": 4242, \"qom-path\": "
	   "\"/machine/unattached/device[0]\"}, {\"cpu-index\": 1, \"thread-id\": 4242, \"qom-path\": "
	   "\"/machine/unattached/device[1]\"}], \"id\": %ID%}\r\n"),
};

Test(faults, same_thread_for_every_vcpu_refuses_host_settings)
{
	struct peer_config cfg = { GEN, .overrides = same_tid, .noverrides = 1 };

	serve(&cfg);
	run_vcpuset(&r, (const char *const[]){ "--socket", sock, "--cpuset", "0", "3", NULL });
	cr_assert_eq(r.exit, 2, "%s", r.err);
	assert_one_error_line("QEMU's thread ids are not one per vCPU");
	run_assert_nothing_sent(peer);
}

/* Our own pid is the simulated QEMU's pid: the main thread as a vCPU thread. */
Test(faults, main_pid_as_a_vcpu_thread_refuses_host_settings)
{
	static char raw[512];
	static struct peer_override ov[1];
	struct peer_config cfg = { GEN, .overrides = ov, .noverrides = 1 };

	snprintf(raw, sizeof(raw), "{\"return\": [{\"cpu-index\": 0, \"thread-id\": %d, \"qom-path\": "
		 "\"/machine/unattached/device[0]\"}, {\"cpu-index\": 1, \"thread-id\": %d, "
		 "\"qom-path\": \"/machine/unattached/device[1]\"}], \"id\": %%ID%%}\r\n",
		 (int)getpid() + 100000, (int)getpid());
	ov[0] = (struct peer_override){ .cmd = "query-cpus-fast", .raw = raw };
	serve(&cfg);
	run_vcpuset(&r, (const char *const[]){ "--socket", sock, "--sched", "batch", "3", NULL });
	cr_assert_eq(r.exit, 2, "%s", r.err);
	assert_one_error_line("QEMU's thread ids are not one per vCPU");
	run_assert_nothing_sent(peer);
}

static int tid_of(const cJSON *vcpus, int i)
{
	return cJSON_GetObjectItem(cJSON_GetArrayItem(vcpus, i), "tid")->valueint;
}

/*
 * The new vCPU's thread, as QEMU reports it after device_add, is another process (a child
 * of the test): vcpuset refuses to touch it — no cgroup, no affinity, no policy — and takes
 * the vCPU back out.
 */
Test(faults, thread_of_another_process_is_never_touched)
{
	static char raw[512];
	static struct peer_override ov[1];
	struct peer_config cfg = { GEN, .overrides = ov, .noverrides = 1 };
	char cg_before[4096], cg_after[4096], path[64];
	cpu_set_t before, after;
	cJSON *vcpus;
	pid_t child;
	int st;

	/* learn the simulated QEMU's real vCPU threads first */
	serve(&(struct peer_config){ GEN });
	run_vcpuset(&r, (const char *const[]){ "--json", "--status", "--socket", sock, NULL });
	cr_assert_eq(r.exit, 0, "%s", r.err);
	vcpus = run_item(r.json, "vcpus");
	child = fork();
	if (child == 0) {
		pause();
		_exit(0);
	}
	run_sysroot_add(child); /* the host's other process, as the kernel shows it */
	snprintf(raw, sizeof(raw), "{\"return\": [{\"cpu-index\": 0, \"thread-id\": %d, \"qom-path\": "
		 "\"/machine/unattached/device[0]\"}, {\"cpu-index\": 1, \"thread-id\": %d, "
		 "\"qom-path\": \"/machine/unattached/device[1]\"}, {\"cpu-index\": 2, \"thread-id\": %d, "
		 "\"qom-path\": \"/machine/peripheral/vcpu2\"}], \"id\": %%ID%%}\r\n",
		 tid_of(vcpus, 7), tid_of(vcpus, 6), (int)child);
	finish();
	ov[0] = (struct peer_override){ .cmd = "query-cpus-fast", .nth = 2, .raw = raw };
	cr_assert_eq(sched_getaffinity(child, sizeof(before), &before), 0);
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)child);
	run_read_file(path, cg_before, sizeof(cg_before));
	serve(&cfg);
	run_vcpuset(&r, (const char *const[]){ "--socket", sock, "--cpuset", "0", "--sched", "batch",
					       "3", NULL });
	cr_assert_eq(sched_getaffinity(child, sizeof(after), &after), 0);
	cr_assert(CPU_EQUAL(&before, &after), "the other process's affinity changed");
	cr_assert_eq(sched_getscheduler(child), SCHED_OTHER);
	cr_assert_str_eq(run_read_file(path, cg_after, sizeof(cg_after)), cg_before,
			 "the other process moved between cgroups");
	kill(child, SIGKILL);
	waitpid(child, &st, 0);
	cr_assert_eq(r.exit, 1, "%s", r.err);
	assert_one_error_line("which is not a thread of QEMU");
	{
		char *log = peer_log(peer);

		cr_assert(strstr(log, "device_del"), "the vCPU is taken back out: %s", log);
		free(log);
	}
}

/*
 * A thread that is no thread at all any more (an unplugged vCPU's, a moment before QEMU
 * stops listing it): the refresh asks again, and the plug goes on with the next answer.
 */
Test(faults, a_thread_gone_altogether_is_asked_about_again)
{
	static char raw[512];
	static struct peer_override ov[1];
	struct peer_config cfg = { GEN, .overrides = ov, .noverrides = 1 };
	cJSON *vcpus;
	pid_t gone;
	char *log;
	int st;

	serve(&(struct peer_config){ GEN });
	run_vcpuset(&r, (const char *const[]){ "--json", "--status", "--socket", sock, NULL });
	cr_assert_eq(r.exit, 0, "%s", r.err);
	vcpus = run_item(r.json, "vcpus");
	gone = fork();
	if (gone == 0)
		_exit(0);
	waitpid(gone, &st, 0); /* reaped: no such thread anywhere */
	snprintf(raw, sizeof(raw), "{\"return\": [{\"cpu-index\": 0, \"thread-id\": %d, \"qom-path\": "
		 "\"/machine/unattached/device[0]\"}, {\"cpu-index\": 1, \"thread-id\": %d, "
		 "\"qom-path\": \"/machine/unattached/device[1]\"}, {\"cpu-index\": 2, \"thread-id\": %d, "
		 "\"qom-path\": \"/machine/peripheral/vcpu2\"}], \"id\": %%ID%%}\r\n",
		 tid_of(vcpus, 7), tid_of(vcpus, 6), (int)gone);
	finish();
	ov[0] = (struct peer_override){ .cmd = "query-cpus-fast", .nth = 2, .raw = raw };
	serve(&cfg);
	run_vcpuset(&r, (const char *const[]){ "--socket", sock, "3", NULL });
	cr_assert_eq(r.exit, 0, "%s", r.err);
	log = peer_log(peer);
	cr_assert_null(strstr(log, "device_del"), "the vCPU stays: %s", log);
	free(log);
}

/*
 * QEMU goes away after it took device_del: whether the vCPU left is unknown. vcpuset must
 * not claim it did, nor that nothing changed: the unplug is reported as pending, recorded,
 * and the exit status says so.
 */
#define STATE "/tmp/vcpuset-faults-state"

static void state_teardown(void)
{
	finish();
	run_remove_dir(STATE);
}

Test(faults, close_in_the_middle_of_an_unplug_wait, .fini = state_teardown)
{
	static const struct peer_override ov[] = {
		{ .cmd = "device_del", .raw = "{\"return\": {}, \"id\": %ID%}\r\n", .close_after = true },
	};
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .overrides = ov, .noverrides = 1 };

	serve(&cfg);
	run_vcpuset(&r, (const char *const[]){ "--socket", sock, "3", NULL });
	cr_assert_eq(r.exit, 0, "%s", r.err);
	run_free(&r);
	run_vcpuset(&r, (const char *const[]){ "--state-dir", STATE, "--socket", sock, "2", NULL });
	cr_assert_eq(r.exit, 3, "exit %d: %s", r.exit, r.err);
	assert_one_error_line("unplug of vCPU 2 (vcpu2) requested, then: QEMU closed the monitor "
			      "connection; whether it completed is unknown");
	run_free(&r);
	/* the next run knows: this QEMU never let it go, so it is still pending */
	run_vcpuset(&r, (const char *const[]){ "--state-dir", STATE, "--status", "--socket", sock, NULL });
	cr_assert_eq(r.exit, 0, "%s", r.err);
	cr_assert(strstr(r.out, "unplug of vCPU 2 (vcpu2) pending since"), "%s", r.out);
}

/* A reply of 64 MiB: vcpuset stops reading at its 16 MiB ceiling and says so. */
Test(faults, reply_of_64_mib_is_refused_at_the_ceiling)
{
	static struct peer_override ov[1];
	struct peer_config cfg = { GEN, .overrides = ov, .noverrides = 1 };
	size_t n = 64u << 20;
	char *raw = malloc(n + 64);

	cr_assert_not_null(raw);
	memcpy(raw, "{\"return\": [", 12);
	memset(raw + 12, ' ', n);
	strcpy(raw + 12 + n, "], \"id\": %ID%}\r\n");
	ov[0] = (struct peer_override){ .cmd = "query-hotpluggable-cpus", .raw = raw };
	serve(&cfg);
	run_vcpuset(&r, (const char *const[]){ "--socket", sock, "3", NULL });
	cr_assert_eq(r.exit, 1, "%s", r.err);
	assert_one_error_line("QMP message from QEMU exceeds 16777216 bytes");
	run_assert_nothing_sent(peer);
	finish();
	free(raw);
}

/* 100000 slots (about 9 MiB, under the message ceiling): refused by the slot ceiling. */
Test(faults, hundred_thousand_slots_are_refused)
{
	static struct peer_override ov[1];
	struct peer_config cfg = { GEN, .overrides = ov, .noverrides = 1 };
	size_t cap = 100000 * 120 + 256, off;
	char *raw = malloc(cap);
	int i;

	cr_assert_not_null(raw);
	off = (size_t)snprintf(raw, cap, "{\"return\": [");
	for (i = 0; i < 100000; i++)
		off += (size_t)snprintf(raw + off, cap - off, "%s{\"props\": {\"core-id\": %d}, "
					"\"vcpus-count\": 1, \"type\": \"qemu64-x86_64-cpu\"}",
					i ? ", " : "", i);
	snprintf(raw + off, cap - off, "], \"id\": %%ID%%}\r\n");
	ov[0] = (struct peer_override){ .cmd = "query-hotpluggable-cpus", .raw = raw };
	serve(&cfg);
	run_vcpuset(&r, (const char *const[]){ "--socket", sock, "3", NULL });
	cr_assert_eq(r.exit, 1, "%s", r.err);
	assert_one_error_line("100000 slots, more than the 16384");
	run_assert_nothing_sent(peer);
	finish();
	free(raw);
}

/* ---- a command whose answer never comes (issue 20 M6) ---- */

#define RUN(...) run_vcpuset(&r, (const char *const[]){ __VA_ARGS__, NULL })

Test(faults, a_plug_whose_answer_is_lost_but_done_is_found_out_and_finished)
{
	static const struct peer_override ov[] = {
		{ .cmd = "device_add", .raw = "", .execute = true }, /* plugs, never answers */
	};
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .overrides = ov, .noverrides = 1 };

	serve(&cfg);
	RUN("--json", "--no-audit", "--no-cgroup", "--command-timeout", "0.5", "--socket", sock, "3");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(
		cJSON_GetObjectItem(r.json, "steps"), 0), "status")), "done");
	cr_assert(strstr(r.out, "device_add got no answer"), "a warning says so: %s", r.out);
	cr_assert_eq(cJSON_GetObjectItem(r.json, "after")->valueint, 3);
}

Test(faults, a_plug_whose_answer_is_lost_and_not_done_is_a_failure)
{
	static const struct peer_override ov[] = {
		{ .cmd = "device_add", .raw = "" }, /* neither plugs nor answers */
	};
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .overrides = ov, .noverrides = 1 };

	serve(&cfg);
	RUN("--no-audit", "--no-cgroup", "--command-timeout", "0.5", "--socket", sock, "3");
	cr_assert_eq(r.exit, 1, "%s%s", r.out, r.err);
	assert_one_error_line("asked again, QEMU has not plugged it");
	cr_assert(strstr(r.err, "plug vCPU 2 as vcpu2: device_add got no answer ("), "%s", r.err);
}

Test(faults, a_plug_whose_answer_is_lost_by_a_hung_qemu_is_unknown_exit_5)
{
	static const struct peer_override ov[] = {
		{ .cmd = "device_add", .raw = "", .execute = true },
	};
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .overrides = ov, .noverrides = 1,
				   .greet_once = true };

	serve(&cfg);
	RUN("--json", "--no-audit", "--no-cgroup", "--command-timeout", "0.5", "--socket", sock, "3");
	cr_assert_eq(r.exit, 5, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "whether vCPU 2 is plugged is unknown"), "%s", r.out);
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(
		cJSON_GetObjectItem(r.json, "steps"), 0), "status")), "unknown");
}

/* ---- issue 15: a run killed at any instant, and the run after it ---- */

static char kill_log[64]; /* the audit shim's records */

/* Run vcpuset until it stops at point (VCPUSET_TEST_PAUSE), then SIGKILL it there. */
static void kill_at(const char *point, const char *const *args)
{
	struct run_proc p;
	struct run_result dead;
	int st;

	setenv("VCPUSET_TEST_PAUSE", point, 1);
	run_start(&p, args);
	unsetenv("VCPUSET_TEST_PAUSE");
	cr_assert_eq(waitpid(p.pid, &st, WUNTRACED), p.pid);
	if (!WIFSTOPPED(st)) {
		run_finish(&p, &dead);
		cr_assert_fail("it never reached %s: exit %d: %s%s", point, dead.exit, dead.out, dead.err);
	}
	kill(p.pid, SIGKILL);
	run_finish(&p, &dead);
	cr_assert_eq(dead.exit, 128 + SIGKILL);
	run_free(&dead);
}

/* The kernel's files of a new vcpuN group in every fixture hierarchy (parent /vm). */
static void fixture_group(int vcpu)
{
	static const char *const files[][2] = {
		{ "cpu", "cpu.cfs_period_us" }, { "cpu", "cpu.cfs_quota_us" }, { "cpu", "tasks" },
		{ "cpuacct", "tasks" }, { "cpuset", "cpuset.cpus" }, { "cpuset", "tasks" },
		{ "cpuset", "cpuset.mems" }, { "cpuset", "cpuset.memory_migrate" },
		{ "unified", "cgroup.threads" }, { "unified", "cgroup.type" },
	};
	char p[128], buf[256];
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(*files); i++) {
		snprintf(p, sizeof(p), "sys/fs/cgroup/%s/vm/vcpu%d/%s", files[i][0], vcpu, files[i][1]);
		run_sysroot_put(p, "");
	}
	run_sysroot_put("sys/fs/cgroup/unified/vm/cgroup.controllers", "");
	run_sysroot_put("sys/fs/cgroup/cpuset/vm/cpuset.memory_migrate", "0");
	run_read_file("/sys/devices/system/cpu/online", buf, sizeof(buf));
	run_sysroot_put("sys/fs/cgroup/cpuset/vm/cpuset.cpus", buf);
	run_read_file("/sys/devices/system/node/online", buf, sizeof(buf));
	run_sysroot_put("sys/fs/cgroup/cpuset/vm/cpuset.mems", buf);
}

static const char *fixture(const char *rel, char *buf, size_t size)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", run_sysroot_dir(), rel);
	return run_read_file(p, buf, size);
}

/* Records the shim saw holding needle; -1 when this host writes none (not root). */
static int records(const struct run_result *res, const char *needle)
{
	char buf[8192];
	const char *p;
	int n = 0;

	if (!cJSON_IsTrue(run_item(res->json, "audit")))
		return -1;
	run_read_file(kill_log, buf, sizeof(buf));
	for (p = strstr(buf, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static void kill_teardown(void)
{
	unsetenv("LD_PRELOAD");
	unlink(kill_log);
	finish();
}

/* The one entry of the report's "recovered": its op and action. */
static void assert_recovered(const char *op, int vcpu, const char *action)
{
	cJSON *rec = run_item(r.json, "recovered"), *e = cJSON_GetArrayItem(rec, 0);

	cr_assert_eq(cJSON_GetArraySize(rec), 1, "%s", r.out);
	cr_assert_str_eq(cJSON_GetStringValue(run_item(e, "op")), op);
	cr_assert_eq(run_item(e, "vcpu")->valueint, vcpu);
	cr_assert(strstr(cJSON_GetStringValue(run_item(e, "action")), action), "%s", r.out);
}

/*
 * The report in r is of the run after a killed plug of vCPU 2: it set the vCPU up with the
 * settings written ahead (--period 100000; this run gave none) in the fixture's groups.
 */
static void assert_set_up_next_run(void)
{
	char buf[64], tid[32];

	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	assert_recovered("plug", 2, "set up and recorded");
	snprintf(tid, sizeof(tid), "%d",
		 run_item(cJSON_GetArrayItem(run_item(r.json, "vcpus"), 2), "tid")->valueint);
	cr_assert_str_eq(fixture("sys/fs/cgroup/cpu/vm/vcpu2/tasks", buf, sizeof(buf)), tid);
	cr_assert_str_eq(fixture("sys/fs/cgroup/cpu/vm/vcpu2/cpu.cfs_period_us", buf, sizeof(buf)),
			 "100000", "the settings written ahead, not this run's");
}

/*
 * Killed after QEMU took the plug, before its host setup: the next run (--status, with no
 * host settings of its own) gives the vCPU the settings written ahead, and writes the one
 * success record the dead run owed.
 */
Test(faults, a_plug_killed_after_qemu_took_it_is_set_up_and_recorded_next_run,
     .fini = kill_teardown)
{
	struct peer_config cfg = { GEN };
	char buf[64];

	fixture_group(2);
	run_audit_shim(NULL, kill_log, sizeof(kill_log));
	serve(&cfg);
	kill_at("plug-accepted", (const char *const[]){ "--json", "--socket", sock, "--cgroup", "/vm",
							 "--period", "100000", "3", NULL });
	cr_assert_eq(peer_online(peer), 3, "QEMU has it");
	cr_assert_str_eq(fixture("sys/fs/cgroup/cpu/vm/vcpu2/tasks", buf, sizeof(buf)), "",
			 "not set up yet");
	run_vcpuset(&r, (const char *const[]){ "--json", "--status", "--socket", sock, "--cgroup",
					       "/vm", NULL });
	assert_set_up_next_run();
	cr_assert(records(&r, "old-vcpu=2 new-vcpu=3") == 1 || records(&r, "x") < 0,
		  "one success record");
	cr_assert_eq(cJSON_GetArraySize(run_item(r.json, "pending")), 0, "%s", r.out);
	run_free(&r);
	run_vcpuset(&r, (const char *const[]){ "--json", "--status", "--socket", sock, NULL });
	cr_assert_eq(cJSON_GetArraySize(run_item(r.json, "recovered")), 0, "once: %s", r.out);
}

/*
 * Killed after the plug's record, before its intent was dropped: the next run finishes the
 * step (the intent says the record went) and writes no second record.
 */
Test(faults, a_plug_killed_after_its_record_is_not_recorded_twice, .fini = kill_teardown)
{
	struct peer_config cfg = { GEN };

	run_audit_shim(NULL, kill_log, sizeof(kill_log));
	serve(&cfg);
	kill_at("plug-recorded", (const char *const[]){ "--socket", sock, "--no-cgroup", "3", NULL });
	run_vcpuset(&r, (const char *const[]){ "--json", "--status", "--socket", sock, NULL });
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	assert_recovered("plug", 2, "recorded");
	cr_assert(records(&r, "old-vcpu=2 new-vcpu=3") == 1 || records(&r, "x") < 0,
		  "one success record, the dead run's: %d", records(&r, "old-vcpu=2 new-vcpu=3"));
	cr_assert_eq(cJSON_GetArraySize(run_item(r.json, "pending")), 0, "%s", r.out);
}

/* Killed before device_add went out: QEMU never had it; dropped, and no record. */
Test(faults, a_plug_killed_before_qemu_was_asked_is_dropped_without_a_record,
     .fini = kill_teardown)
{
	struct peer_config cfg = { GEN };

	run_audit_shim(NULL, kill_log, sizeof(kill_log));
	serve(&cfg);
	kill_at("plug-intent", (const char *const[]){ "--socket", sock, "--no-cgroup", "3", NULL });
	run_assert_nothing_sent(peer);
	run_vcpuset(&r, (const char *const[]){ "--json", "--status", "--socket", sock, NULL });
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	assert_recovered("plug", 2, "dropped");
	cr_assert(records(&r, "new-vcpu=3") <= 0, "no record of a plug that did not happen");
	cr_assert_eq(run_item(r.json, "online")->valueint, 2);
}

/* Killed once the vCPU had gone, before its groups and record: the next run finishes both. */
Test(faults, an_unplug_killed_after_the_vcpu_went_is_finished_next_run, .fini = kill_teardown)
{
	struct peer_config cfg = { GEN, .unplug = PEER_UNPLUG_KVM, .unplug_ms = 5 };
	cJSON *a;
	bool removed = false;

	fixture_group(2);
	run_audit_shim(NULL, kill_log, sizeof(kill_log));
	serve(&cfg);
	run_vcpuset(&r, (const char *const[]){ "--socket", sock, "--cgroup", "/vm", "3", NULL });
	cr_assert_eq(r.exit, 0, "%s", r.err);
	run_free(&r);
	kill_at("unplug-gone", (const char *const[]){ "--socket", sock, "--cgroup", "/vm", "2", NULL });
	cr_assert_eq(peer_online(peer), 2, "the guest let it go");
	fixture_group(2); /* its thread has left its groups, as the kernel shows it */
	run_vcpuset(&r, (const char *const[]){ "--json", "--status", "--socket", sock, "--cgroup",
					       "/vm", NULL });
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	assert_recovered("unplug", 2, "finished");
	cJSON_ArrayForEach(a, run_item(cJSON_GetArrayItem(run_item(r.json, "recovered"), 0), "actions"))
		removed = removed || (strcmp(cJSON_GetStringValue(run_item(a, "op")), "rmdir") == 0 &&
				      strstr(cJSON_GetStringValue(run_item(a, "path")), "/vm/vcpu2"));
	cr_assert(removed, "its groups are removed: %s", r.out);
	cr_assert(records(&r, "old-vcpu=3 new-vcpu=2") == 1 || records(&r, "x") < 0,
		  "one success record");
}

/* Killed before device_del went out: the vCPU is there; it becomes a pending unplug. */
Test(faults, an_unplug_killed_before_qemu_was_asked_becomes_pending, .fini = kill_teardown)
{
	struct peer_config cfg = { GEN, .unplug = PEER_UNPLUG_KVM, .unplug_ms = 5 };

	serve(&cfg);
	run_vcpuset(&r, (const char *const[]){ "--socket", sock, "--no-cgroup", "3", NULL });
	cr_assert_eq(r.exit, 0, "%s", r.err);
	run_free(&r);
	kill_at("unplug-intent", (const char *const[]){ "--socket", sock, "--no-cgroup", "2", NULL });
	cr_assert_eq(peer_online(peer), 3);
	run_vcpuset(&r, (const char *const[]){ "--json", "--status", "--socket", sock, NULL });
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	assert_recovered("unplug", 2, "pending");
	cr_assert_eq(cJSON_GetArraySize(run_item(r.json, "pending")), 1, "%s", r.out);
	cr_assert_eq(run_item(r.json, "after")->valueint, 2, "it counts as leaving");
}

/* ---- drift: whatever made it, reported, and mended by a run that may change the VM ---- */

static cJSON *step(int i)
{
	return cJSON_GetArrayItem(run_item(r.json, "steps"), i);
}

static cJSON *drift(const char *key)
{
	return run_item(run_item(r.json, "drift"), key);
}

/* A vCPU thread moved out of its group by hand: --status says so, --repair puts it back. */
Test(faults, a_vcpu_out_of_its_group_is_reported_and_mended, .fini = kill_teardown)
{
	struct peer_config cfg = { GEN };
	char buf[64], tid[32];

	fixture_group(2);
	serve(&cfg);
	run_vcpuset(&r, (const char *const[]){ "--json", "--no-audit", "--socket", sock, "--cgroup",
					       "/vm", "3", NULL });
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	snprintf(tid, sizeof(tid), "%d", run_item(step(0), "tid")->valueint);
	cr_assert_str_eq(fixture("sys/fs/cgroup/cpu/vm/vcpu2/tasks", buf, sizeof(buf)), tid);
	cr_assert_eq(cJSON_GetArraySize(drift("untuned")), 0, "%s", r.out);
	run_free(&r);
	run_sysroot_put("sys/fs/cgroup/cpu/vm/vcpu2/tasks", ""); /* moved out by hand */
	run_vcpuset(&r, (const char *const[]){ "--json", "--status", "--socket", sock, "--cgroup",
					       "/vm", NULL });
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert_eq(cJSON_GetArraySize(drift("untuned")), 1, "%s", r.out);
	cr_assert_eq(cJSON_GetArrayItem(drift("untuned"), 0)->valueint, 2);
	cr_assert(cJSON_IsFalse(drift("repaired")), "--status only reports");
	run_free(&r);
	run_vcpuset(&r, (const char *const[]){ "--socket", sock, "--cgroup", "/vm", "--no-repair",
					       "3", NULL });
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "drift: vCPU 2 is untuned (its thread is not in its vcpu2 groups): "
			 "left (--no-repair)"), "%s", r.out);
	cr_assert_str_eq(fixture("sys/fs/cgroup/cpu/vm/vcpu2/tasks", buf, sizeof(buf)), "");
	run_free(&r);
	run_vcpuset(&r, (const char *const[]){ "--json", "--repair", "--socket", sock, "--cgroup",
					       "/vm", NULL });
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(cJSON_IsTrue(drift("repaired")), "%s", r.out);
	cr_assert_str_eq(fixture("sys/fs/cgroup/cpu/vm/vcpu2/tasks", buf, sizeof(buf)), tid,
			 "back in its group");
	run_free(&r);
	run_vcpuset(&r, (const char *const[]){ "--json", "--status", "--socket", sock, "--cgroup",
					       "/vm", NULL });
	cr_assert_eq(cJSON_GetArraySize(drift("untuned")), 0, "%s", r.out);
}

/*
 * A vcpuN group with no vCPU N, holding no thread, made by hand: reported and removed by a
 * changing run; one that holds a thread is nobody's to remove.
 */
Test(faults, an_orphan_group_is_reported_and_removed, .fini = kill_teardown)
{
	static const char *const hier[] = { "cpu", "cpuacct", "cpuset", "unified" };
	struct peer_config cfg = { GEN };
	char p[128];
	struct stat st;
	size_t i;

	for (i = 0; i < sizeof(hier) / sizeof(*hier); i++) {
		snprintf(p, sizeof(p), "sys/fs/cgroup/%s/vm", hier[i]);
		run_sysroot_put(p, NULL);
	}
	run_sysroot_put("sys/fs/cgroup/unified/vm/cgroup.controllers", "");
	run_sysroot_put("sys/fs/cgroup/cpu/vm/vcpu5", NULL);
	run_sysroot_put("sys/fs/cgroup/cpu/vm/vcpu6/tasks", "1\n"); /* a thread, not QEMU's */
	serve(&cfg);
	run_vcpuset(&r, (const char *const[]){ "--json", "--status", "--socket", sock, "--cgroup",
					       "/vm", NULL });
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert_eq(cJSON_GetArraySize(drift("orphan_groups")), 1, "%s", r.out);
	cr_assert_eq(cJSON_GetArrayItem(drift("orphan_groups"), 0)->valueint, 5);
	run_free(&r);
	run_vcpuset(&r, (const char *const[]){ "--repair", "--socket", sock, "--cgroup", "/vm", NULL });
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "drift: group vcpu5 is an orphan (no vCPU 5): mended"), "%s", r.out);
	snprintf(p, sizeof(p), "%s/sys/fs/cgroup/cpu/vm/vcpu5", run_sysroot_dir());
	cr_assert_neq(stat(p, &st), 0, "removed");
	snprintf(p, sizeof(p), "%s/sys/fs/cgroup/cpu/vm/vcpu6", run_sysroot_dir());
	cr_assert_eq(stat(p, &st), 0, "a group with a thread in it stays");
	run_assert_nothing_sent(peer);
}

/*
 * A QEMU that died left its vcpuN groups: the next run on any VM (the same state directory)
 * removes those that are empty, where the dead VM's groups file said they are.
 */
Test(faults, the_groups_of_a_qemu_that_is_gone_are_removed, .fini = kill_teardown)
{
	struct peer_config cfg = { GEN };
	char p[256], buf[1024];
	struct stat st;

	fixture_group(2);
	serve(&cfg);
	run_vcpuset(&r, (const char *const[]){ "--no-audit", "--socket", sock, "--cgroup", "/vm",
					       "3", NULL });
	cr_assert_eq(r.exit, 0, "%s", r.err);
	run_free(&r);
	/* this VM's groups are remembered */
	snprintf(p, sizeof(p), "%s/run/vcpuset", run_sysroot_dir());
	snprintf(buf, sizeof(buf), "grep -q '^%s/sys/fs/cgroup/cpu/vm$' %s/qemu-%d-*.groups",
		 run_sysroot_dir(), p, (int)getpid());
	cr_assert_eq(system(buf), 0, "a groups file for this VM");
	/* another VM's QEMU died, its groups file left behind */
	run_sysroot_put("sys/fs/cgroup/cpu/deadvm/vcpu3", NULL);
	run_sysroot_put("sys/fs/cgroup/cpu/deadvm/vcpu4/tasks", "1\n");
	snprintf(buf, sizeof(buf), "%s/sys/fs/cgroup/cpu/deadvm", run_sysroot_dir());
	snprintf(p, sizeof(p), "run/vcpuset/qemu-%d-1.groups", 4194304 - 7);
	run_sysroot_put(p, buf);
	snprintf(p, sizeof(p), "chmod 600 %s/run/vcpuset/qemu-%d-1.groups", run_sysroot_dir(),
		 4194304 - 7);
	cr_assert_eq(system(p), 0);
	run_vcpuset(&r, (const char *const[]){ "--status", "--socket", sock, "--cgroup", "/vm", NULL });
	cr_assert_eq(r.exit, 0, "%s", r.err);
	snprintf(p, sizeof(p), "%s/sys/fs/cgroup/cpu/deadvm/vcpu3", run_sysroot_dir());
	cr_assert_neq(stat(p, &st), 0, "the empty group of the dead QEMU is removed");
	snprintf(p, sizeof(p), "%s/sys/fs/cgroup/cpu/deadvm/vcpu4", run_sysroot_dir());
	cr_assert_eq(stat(p, &st), 0, "one that is not empty is left");
	snprintf(p, sizeof(p), "%s/run/vcpuset/qemu-%d-1.groups", run_sysroot_dir(), 4194304 - 7);
	cr_assert_neq(stat(p, &st), 0, "and the file is forgotten");
}

/* Killed inside the host setup (after its first act on the thread): the next run completes it. */
Test(faults, a_plug_killed_inside_its_host_setup_is_completed_next_run, .fini = kill_teardown)
{
	struct peer_config cfg = { GEN };
	char buf[64];

	fixture_group(2);
	serve(&cfg);
	kill_at("host-setup", (const char *const[]){ "--no-audit", "--socket", sock, "--cgroup", "/vm",
						     "--period", "100000", "3", NULL });
	cr_assert_str_eq(fixture("sys/fs/cgroup/cpu/vm/vcpu2/cpu.cfs_period_us", buf, sizeof(buf)), "",
			 "stopped before its bandwidth was written");
	run_vcpuset(&r, (const char *const[]){ "--json", "--no-audit", "--status", "--socket", sock,
					       "--cgroup", "/vm", NULL });
	assert_set_up_next_run();
}

/* Killed inside an unplug's wait (QEMU took device_del): pending, then finished when it goes. */
Test(faults, an_unplug_killed_inside_its_wait_is_pending_then_finished, .fini = kill_teardown)
{
	struct peer_config cfg = { GEN, .unplug = PEER_UNPLUG_NEVER };

	serve(&cfg);
	run_vcpuset(&r, (const char *const[]){ "--no-audit", "--socket", sock, "--no-cgroup", "3",
					       NULL });
	cr_assert_eq(r.exit, 0, "%s", r.err);
	run_free(&r);
	kill_at("unplug-waiting", (const char *const[]){ "--no-audit", "--socket", sock,
							 "--no-cgroup", "2", NULL });
	run_vcpuset(&r, (const char *const[]){ "--json", "--no-audit", "--status", "--socket", sock,
					       NULL });
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	assert_recovered("unplug", 2, "pending");
	run_free(&r);
	peer_release(peer); /* the guest lets it go */
	usleep(100000);
	run_vcpuset(&r, (const char *const[]){ "--json", "--no-audit", "--status", "--socket", sock,
					       NULL });
	cr_assert_eq(cJSON_GetArraySize(run_item(r.json, "reconciled")), 1, "%s", r.out);
	cr_assert_eq(cJSON_GetArraySize(run_item(r.json, "pending")), 0, "%s", r.out);
}

/*
 * Issue 18: the guest agent's faults. A plug's result and exit status stay what they are
 * without an agent (the guest part is unknown, with one warning naming the agent), within
 * --guest-timeout; with --guest the agent is the job: exit 1 and one error line.
 */
struct agent_fault {
	const char *name;
	enum ga_fault fault;
	bool absent; /* no socket at all */
	const char *says;
};

static struct agent_fault agent_faults[] = {
	{ "absent", GA_FINE, true, "No such file or directory" },
	{ "hung", GA_HUNG, false, "no delimiter from the guest agent" },
	{ "junk", GA_JUNK, false, "no delimiter from the guest agent" },
	{ "closes the channel", GA_CLOSE, false, "the guest agent closed its channel" },
	{ "a message over the limit", GA_HUGE, false, "exceeds 1048576 bytes" },
	{ "a logical id twice", GA_BAD_LIST, false, "lists logical-id 0 twice" },
	{ "answers another sync", GA_WRONG_SYNC, false, "no delimiter from the guest agent" },
	{ "stale replies first (works)", GA_STALE, false, NULL },
};

ParameterizedTestParameters(faults, agent_faults_leave_the_hotplug_result_alone)
{
	return cr_make_param_array(struct agent_fault, agent_faults,
				   sizeof(agent_faults) / sizeof(agent_faults[0]));
}

ParameterizedTest(struct agent_fault *f, faults, agent_faults_leave_the_hotplug_result_alone)
{
	struct ga_peer_config ac = { .fault = f->fault, .auto_online = true };
	struct ga_peer *agent = NULL;
	char asock[64];
	const char *w, *state;
	double t0;

	serve(&(struct peer_config){ GEN });
	ac.qemu = peer;
	snprintf(asock, sizeof(asock), "/tmp/vcpuset-faults-ga-%d.sock", (int)getpid());
	unlink(asock);
	if (!f->absent)
		agent = ga_peer_start(asock, &ac);
	t0 = vs_now_ms();
	run_vcpuset(&r, (const char *const[]){ "--json", "--no-audit", "--no-cgroup", "--socket", sock,
					       "--guest-agent", asock, "--guest-timeout", "1", "3",
					       NULL });
	cr_assert_eq(r.exit, 0, "%s: %s%s", f->name, r.out, r.err);
	cr_assert(vs_now_ms() - t0 < 4000, "%s: bounded (%.0f ms)", f->name, vs_now_ms() - t0);
	cr_assert_eq(peer_online(peer), 3, "%s: the plug stands", f->name);
	state = cJSON_GetStringValue(run_item(run_item(cJSON_GetArrayItem(run_item(r.json, "steps"),
									  0), "guest"), "state"));
	if (f->says) {
		cr_assert_str_eq(state, "unknown", "%s", f->name);
		cr_assert_eq(cJSON_GetArraySize(run_item(r.json, "warnings")), 1, "%s: %s", f->name,
			     r.out);
		w = cJSON_GetArrayItem(run_item(r.json, "warnings"), 0)->valuestring;
		cr_assert(strstr(w, "guest agent") && strstr(w, f->says), "%s: %s", f->name, w);
	} else {
		cr_assert_str_eq(state, "online", "%s: %s", f->name, r.out);
	}
	run_free(&r);
	/* --guest: the agent is the job */
	run_vcpuset(&r, (const char *const[]){ "--socket", sock, "--guest-agent", asock,
					       "--guest-timeout", "1", "--guest", "2", NULL });
	cr_assert_eq(r.exit, f->says ? 1 : 0, "%s: %s%s", f->name, r.out, r.err);
	if (f->says)
		assert_one_error_line(f->says);
	if (agent)
		free(ga_peer_stop(agent));
	unlink(asock);
}
