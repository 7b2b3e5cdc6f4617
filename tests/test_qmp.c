/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for qmp.c against a scripted peer on a socketpair. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peer.h"
#include "qmp.h"

static struct peer *peer;
static struct qmp *q;
static struct vs_err err;

static void start(const struct peer_config *cfg)
{
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	peer = peer_start_fd(sv[1], cfg);
	cr_assert_eq(qmp_adopt_fd(sv[0], "test", &q, &err), 0, "%s", err.msg);
}

static void finish(void)
{
	qmp_free(q);
	q = NULL;
	if (peer)
		free(peer_stop(peer));
	peer = NULL;
}

TestSuite(qmp, .fini = finish, .timeout = 20);

Test(qmp, handshake_reads_version_and_negotiates)
{
	struct peer_config cfg = { .gen_slots = 4, .gen_online = 1 };
	char *log;

	start(&cfg);
	cr_assert_eq(qmp_handshake(q, 2000, &err), 0, "%s", err.msg);
	cr_assert_str_eq(qmp_version(q), "10.0.2");
	cr_assert_gt(qmp_peer_pid(q), 0);
	log = peer_log(peer);
	cr_assert(strstr(log, "\"execute\":\"qmp_capabilities\""), "%s", log);
	cr_assert(strstr(log, "\"id\":\"vcpuset-1\""), "every command carries an id: %s", log);
	free(log);
}

Test(qmp, events_before_the_reply_are_kept_in_order)
{
	static const struct peer_override ov[] = {
		{ .cmd = "query-name", .raw =
		  "{\"event\": \"A\", \"data\": {}}\r\n{\"event\": \"B\", \"data\": {}}\r\n"
		  "{\"return\": {\"name\": \"x\"}, \"id\": %ID%}\r\n{\"event\": \"C\", \"data\": {}}\r\n" },
	};
	struct peer_config cfg = { .gen_slots = 2, .gen_online = 1, .overrides = ov, .noverrides = 1 };
	cJSON *ret = NULL, *ev = NULL;
	const char *want[] = { "A", "B", "C" };
	int i;

	start(&cfg);
	cr_assert_eq(qmp_handshake(q, 2000, &err), 0, "%s", err.msg);
	cr_assert_eq(qmp_execute(q, "query-name", NULL, 2000, &ret, &err), 0, "%s", err.msg);
	cr_assert_str_eq(cJSON_GetObjectItem(ret, "name")->valuestring, "x");
	cJSON_Delete(ret);
	for (i = 0; i < 3; i++) {
		cr_assert_eq(qmp_next_event(q, 1000, &ev, &err), 1, "event %d: %s", i, err.msg);
		cr_assert_str_eq(cJSON_GetObjectItem(ev, "event")->valuestring, want[i]);
		cJSON_Delete(ev);
	}
	cr_assert_eq(qmp_next_event(q, 50, &ev, &err), 0, "no fourth event");
}

Test(qmp, reply_split_across_reads_and_bare_newlines)
{
	static const struct peer_override ov[] = {
		{ .cmd = "query-name", .raw = "{\"return\": {\"name\": \"split\"}, \"id\": %ID%}\n",
		  .chunk = 3, .delay_ms = 1 },
	};
	struct peer_config cfg = { .gen_slots = 2, .gen_online = 1, .overrides = ov, .noverrides = 1 };
	cJSON *ret = NULL;

	start(&cfg);
	cr_assert_eq(qmp_handshake(q, 2000, &err), 0, "%s", err.msg);
	cr_assert_eq(qmp_execute(q, "query-name", NULL, 5000, &ret, &err), 0, "%s", err.msg);
	cr_assert_str_eq(cJSON_GetObjectItem(ret, "name")->valuestring, "split");
	cJSON_Delete(ret);
}

Test(qmp, huge_reply_is_read_whole)
{
	struct peer_config cfg = { .gen_slots = 4096, .gen_online = 2 };
	cJSON *ret = NULL;

	start(&cfg);
	cr_assert_eq(qmp_handshake(q, 2000, &err), 0, "%s", err.msg);
	cr_assert_eq(qmp_execute(q, "query-hotpluggable-cpus", NULL, 10000, &ret, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(cJSON_GetArraySize(ret), 4096);
	cJSON_Delete(ret);
}

Test(qmp, reply_over_the_limit_is_an_error)
{
	struct peer_config cfg = { .gen_slots = 1024, .gen_online = 2 };
	cJSON *ret = NULL;

	start(&cfg);
	qmp_set_max_message(q, 4096);
	cr_assert_eq(qmp_handshake(q, 2000, &err), 0, "%s", err.msg);
	cr_assert_eq(qmp_execute(q, "query-hotpluggable-cpus", NULL, 5000, &ret, &err), -EMSGSIZE);
	cr_assert(strstr(err.msg, "exceeds 4096 bytes"), "%s", err.msg);
	cr_assert_null(ret);
}

Test(qmp, error_reply_keeps_class_and_desc)
{
	struct peer_config cfg = { .gen_slots = 2, .gen_online = 1 };

	start(&cfg);
	cr_assert_eq(qmp_handshake(q, 2000, &err), 0, "%s", err.msg);
	cr_assert_eq(qmp_execute(q, "no-such-thing", NULL, 2000, NULL, &err), -EREMOTEIO);
	cr_assert_str_eq(err.qmp_class, "CommandNotFound");
	cr_assert_str_eq(err.msg, "The command has not been found");
}

/* What the peer answers to one command, and the error vcpuset must make of it. */
struct bad_reply_case {
	const char *raw; /* "" = never answer */
	bool close_after;
	int rc;
	const char *msg;
};

static struct bad_reply_case bad_reply_cases[] = {
	{ "{\"return\": {\"na", true, -EPIPE, "in the middle of a message" },
	{ "", false, -ETIMEDOUT, "no reply to 'query-name' within 0.2 s" },
	{ "{\"return\": {}, \"id\": \"other-7\"}\r\n", false, -EPROTO, "unexpected id 'other-7'" },
	{ "hello there\r\n", false, -EBADMSG, "malformed QMP message from QEMU: 'hello there'" },
};

ParameterizedTestParameters(qmp, bad_reply_is_a_bounded_error)
{
	return cr_make_param_array(struct bad_reply_case, bad_reply_cases,
				   sizeof(bad_reply_cases) / sizeof(bad_reply_cases[0]));
}

ParameterizedTest(struct bad_reply_case *bc, qmp, bad_reply_is_a_bounded_error)
{
	struct peer_override ov = { .cmd = "query-name", .raw = bc->raw, .close_after = bc->close_after };
	struct peer_config cfg = { .gen_slots = 2, .gen_online = 1, .overrides = &ov, .noverrides = 1 };
	double t0;

	start(&cfg);
	cr_assert_eq(qmp_handshake(q, 2000, &err), 0, "%s", err.msg);
	t0 = vs_now_ms();
	cr_assert_eq(qmp_execute(q, "query-name", NULL, 200, NULL, &err), bc->rc, "%s", err.msg);
	cr_assert_lt(vs_now_ms() - t0, 1500);
	cr_assert(strstr(err.msg, bc->msg), "got '%s', want '%s'", err.msg, bc->msg);
}

/* Lines of the peer's log that contain what, so far. */
static int logged(const char *what)
{
	char *log = peer_log(peer), *p = log;
	int n = 0;

	while ((p = strstr(p, what))) {
		n++;
		p += strlen(what);
	}
	free(log);
	return n;
}

Test(qmp, pipelined_commands_reach_qemu_before_any_reply_is_read)
{
	static const char *const cmds[] = { "query-name", "query-uuid", "query-kvm" };
	struct peer_config cfg = { .gen_slots = 2, .gen_online = 1, .name = "pipe" };
	unsigned long id[3];
	cJSON *ret = NULL;
	int i;

	start(&cfg);
	cr_assert_eq(qmp_handshake(q, 2000, &err), 0, "%s", err.msg);
	for (i = 0; i < 3; i++)
		cr_assert_eq(qmp_send(q, cmds[i], NULL, 2000, &id[i], &err), 0, "%s", err.msg);
	cr_assert(id[0] < id[1] && id[1] < id[2]);
	for (i = 0; i < 200 && logged("\"execute\":\"query-") < 3; i++)
		usleep(5000);
	cr_assert_eq(logged("\"execute\":\"query-"), 3, "all three sent before a reply was read");
	cr_assert_eq(qmp_receive(q, cmds[0], id[0], 2000, &ret, &err), 0, "%s", err.msg);
	cr_assert_str_eq(cJSON_GetObjectItem(ret, "name")->valuestring, "pipe");
	cJSON_Delete(ret);
	cr_assert_eq(qmp_receive(q, cmds[1], id[1], 2000, &ret, &err), 0, "%s", err.msg);
	cr_assert(cJSON_HasObjectItem(ret, "UUID"));
	cJSON_Delete(ret);
	cr_assert_eq(qmp_receive(q, cmds[2], id[2], 2000, &ret, &err), 0, "%s", err.msg);
	cr_assert(cJSON_HasObjectItem(ret, "enabled"));
	cJSON_Delete(ret);
}

Test(qmp, replies_nobody_waits_for_are_skipped_and_never_taken_twice)
{
	struct peer_config cfg = { .gen_slots = 2, .gen_online = 1, .name = "skip" };
	unsigned long a, b;
	cJSON *ret = NULL;

	start(&cfg);
	cr_assert_eq(qmp_handshake(q, 2000, &err), 0, "%s", err.msg);
	cr_assert_eq(qmp_send(q, "query-kvm", NULL, 2000, &a, &err), 0, "%s", err.msg);
	cr_assert_eq(qmp_send(q, "query-name", NULL, 2000, &b, &err), 0, "%s", err.msg);
	cr_assert_eq(qmp_receive(q, "query-name", b, 2000, &ret, &err), 0, "%s", err.msg);
	cr_assert_str_eq(cJSON_GetObjectItem(ret, "name")->valuestring, "skip", "not query-kvm's");
	cJSON_Delete(ret);
	cr_assert_eq(qmp_receive(q, "query-kvm", a, 200, &ret, &err), -EINVAL, "its reply is gone");
	cr_assert_eq(qmp_receive(q, "query-name", b, 200, &ret, &err), -EINVAL, "taken already");
	cr_assert_eq(qmp_receive(q, "query-name", b + 1, 200, &ret, &err), -EINVAL, "never sent");
	cr_assert_eq(qmp_execute(q, "query-name", NULL, 2000, NULL, &err), 0, "%s", err.msg);
}

Test(qmp, a_send_after_qemu_left_reports_how_it_left)
{
	static const struct peer_override ov[] = {
		{ .cmd = "query-name", .raw = "{\"return\": {\"na", .close_after = true },
	};
	struct peer_config cfg = { .gen_slots = 2, .gen_online = 1, .overrides = ov, .noverrides = 1 };
	unsigned long a, b;
	int i;

	start(&cfg);
	cr_assert_eq(qmp_handshake(q, 2000, &err), 0, "%s", err.msg);
	cr_assert_eq(qmp_send(q, "query-name", NULL, 2000, &a, &err), 0, "%s", err.msg);
	for (i = 0; i < 200 && logged("query-name") < 1; i++)
		usleep(5000);
	usleep(50000); /* the peer has closed its end by now */
	cr_assert_eq(qmp_send(q, "query-uuid", NULL, 2000, &b, &err), 0,
		     "a send QEMU closed on is reported by the receive: %s", err.msg);
	cr_assert_lt(qmp_receive(q, "query-uuid", b, 2000, NULL, &err), 0);
	cr_assert(strstr(err.msg, "in the middle of a message"), "%s", err.msg);
}

Test(qmp, no_greeting_means_the_monitor_is_busy)
{
	struct peer_config cfg = { .greet = PEER_NO_GREETING, .gen_slots = 2, .gen_online = 1 };

	start(&cfg);
	cr_assert_eq(qmp_handshake(q, 200, &err), -EBUSY);
	cr_assert(strstr(err.msg, "another client"), "%s", err.msg);
}

Test(qmp, close_before_greeting)
{
	struct peer_config cfg = { .greet = PEER_CLOSE_AT_ONCE, .gen_slots = 2, .gen_online = 1 };

	start(&cfg);
	cr_assert_eq(qmp_handshake(q, 2000, &err), -EPIPE);
	cr_assert(strstr(err.msg, "closed"), "%s", err.msg);
}

Test(qmp, close_after_greeting)
{
	struct peer_config cfg = { .greet = PEER_CLOSE_AFTER_GREETING, .gen_slots = 2, .gen_online = 1 };

	start(&cfg);
	cr_assert_lt(qmp_handshake(q, 2000, &err), 0);
	cr_assert(strstr(err.msg, "closed"), "%s", err.msg);
}

Test(qmp, command_text_has_execute_and_arguments)
{
	cJSON *a = cJSON_CreateObject(), *c;
	char *s;

	cJSON_AddStringToObject(a, "id", "vcpu3");
	c = qmp_command_new("device_del", a);
	s = cJSON_PrintUnformatted(c);
	cr_assert_str_eq(s, "{\"execute\":\"device_del\",\"arguments\":{\"id\":\"vcpu3\"}}");
	free(s);
	cJSON_Delete(c);
	cJSON_Delete(a);
}

Test(qmp, connect_refuses_what_is_not_a_socket)
{
	char path[] = "/tmp/vcpuset-test-XXXXXX";
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(qmp_connect(path, 500, &q, &err), -ENOTSOCK);
	cr_assert(strstr(err.msg, "is a regular file, not a unix socket"), "%s", err.msg);
	unlink(path);
	close(fd);
	cr_assert_eq(qmp_connect(path, 500, &q, &err), -ENOENT);
	cr_assert(strstr(err.msg, path), "%s", err.msg);
}

/* ---- bounds that hold whatever QEMU sends (issue 20 M3, M4) ---- */

struct flood {
	int fd;
	int kind; /* 0 blank lines, 1 events */
	double until;
};

static void write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static void *flooder(void *arg)
{
	struct flood *f = arg;
	static const char greeting[] = "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 2, \"minor\": 0, "
				       "\"major\": 10}}, \"capabilities\": []}}\r\n";
	char *big = malloc(300 << 10);
	int i;

	write_all(f->fd, greeting, sizeof(greeting) - 1);
	if (f->kind == 0) {
		char blanks[4096];

		memset(blanks, '\n', sizeof(blanks));
		while (vs_now_ms() < f->until)
			write_all(f->fd, blanks, sizeof(blanks));
	} else {
		/* 40 events too large to keep, 200 the caller does not keep, 40 of 48 KiB it keeps */
		for (i = 0; i < 40; i++) {
			int n = snprintf(big, 300 << 10, "{\"event\": \"ACPI_DEVICE_OST\", \"data\": "
					 "{\"pad\": \"");

			memset(big + n, 'x', 200 << 10);
			n += 200 << 10;
			n += snprintf(big + n, 64, "\"}}\r\n");
			write_all(f->fd, big, (size_t)n);
		}
		for (i = 0; i < 200; i++) {
			static const char other[] = "{\"event\": \"RTC_CHANGE\", \"data\": {\"offset\": 1}}\r\n";

			write_all(f->fd, other, sizeof(other) - 1);
		}
		for (i = 0; i < 40; i++) {
			int n = snprintf(big, 300 << 10, "{\"event\": \"DEVICE_DELETED\", \"data\": "
					 "{\"n\": %d, \"pad\": \"", i);

			memset(big + n, 'y', 48 << 10);
			n += 48 << 10;
			n += snprintf(big + n, 64, "\"}}\r\n");
			write_all(f->fd, big, (size_t)n);
		}
		write_all(f->fd, "{\"return\": {}, \"id\": \"vcpuset-1\"}\r\n", 35);
		while (vs_now_ms() < f->until)
			usleep(10000);
	}
	free(big);
	return NULL;
}

Test(qmp, a_stream_of_blank_lines_does_not_outlast_the_deadline)
{
	struct flood f;
	pthread_t th;
	unsigned long id;
	double t0;
	int sv[2], rc;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f = (struct flood){ sv[1], 0, vs_now_ms() + 5000 };
	pthread_create(&th, NULL, flooder, &f);
	cr_assert_eq(qmp_adopt_fd(sv[0], "test", &q, &err), 0, "%s", err.msg);
	cr_assert_eq(qmp_greet(q, 2000, &id, &err), 0, "%s", err.msg);
	t0 = vs_now_ms();
	rc = qmp_receive(q, "qmp_capabilities", id, 300, NULL, &err);
	cr_assert_eq(rc, -ETIMEDOUT, "%d %s", rc, err.msg);
	cr_assert_lt(vs_now_ms() - t0, 1500, "the 300 ms bound held for %.0f ms", vs_now_ms() - t0);
	qmp_free(q);
	q = NULL;
	pthread_join(th, NULL);
	close(sv[1]);
}

Test(qmp, queued_events_are_bounded_in_bytes_and_only_those_kept)
{
	static const char *const keep[] = { "DEVICE_DELETED", "ACPI_DEVICE_OST", NULL };
	struct flood f;
	pthread_t th;
	unsigned long id;
	cJSON *ev;
	int sv[2], n = 0, last = -1;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f = (struct flood){ sv[1], 1, vs_now_ms() + 3000 };
	pthread_create(&th, NULL, flooder, &f);
	cr_assert_eq(qmp_adopt_fd(sv[0], "test", &q, &err), 0, "%s", err.msg);
	qmp_keep_events(q, keep);
	cr_assert_eq(qmp_greet(q, 2000, &id, &err), 0, "%s", err.msg);
	cr_assert_eq(qmp_receive(q, "qmp_capabilities", id, 10000, NULL, &err), 0, "%s", err.msg);
	cr_assert_leq(qmp_queued_bytes(q), VS_MAX_EVENT_BYTES);
	cr_assert_gt(qmp_queued_bytes(q), VS_MAX_EVENT_BYTES / 2);
	while (qmp_next_event(q, 0, &ev, &err) == 1) {
		cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(ev, "event")), "DEVICE_DELETED",
				 "only kept events of a size kept");
		last = cJSON_GetObjectItem(cJSON_GetObjectItem(ev, "data"), "n")->valueint;
		n++;
		cJSON_Delete(ev);
	}
	cr_assert_eq(last, 39, "the newest are kept");
	cr_assert_lt(n, 40, "the oldest went first");
	cr_assert_eq(qmp_queued_bytes(q), 0);
	qmp_free(q);
	q = NULL;
	pthread_join(th, NULL);
	close(sv[1]);
}
