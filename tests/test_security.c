/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Attacks on a root vcpuset (issue 20, shared/reference/security-review.md): an unprivileged
 * local user (uid 65534) whose socket the admin points vcpuset at, and a hostile QEMU. The
 * attackers here are forked children of the test that drop to that user; vcpuset runs as
 * root, as it does on a host.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "peer.h"
#include "run.h"

#define NOBODY 65534

static struct run_result r;
static struct peer *peer, *peer2;
static pid_t kids[2];
static char dir[64], sock[96];

static void become_nobody(void)
{
	if (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
	    setresuid(NOBODY, NOBODY, NOBODY) < 0)
		_exit(99);
}

static void teardown(void)
{
	int i;
	char cmd[128];

	run_free(&r);
	for (i = 0; i < 2; i++)
		if (kids[i] > 0) {
			kill(-kids[i], SIGKILL);
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
			kids[i] = 0;
		}
	if (peer)
		free(peer_stop(peer));
	if (peer2)
		free(peer_stop(peer2));
	peer = peer2 = NULL;
	if (dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			cr_log_warn("could not remove %s", dir);
	}
	dir[0] = '\0';
}

TestSuite(security, .fini = teardown, .timeout = 60);

#define RUN(...) run_vcpuset(&r, (const char *const[]){ __VA_ARGS__, NULL })

static const char *error_message(void)
{
	return cJSON_GetStringValue(run_item(run_item(r.json, "error"), "message"));
}

static void make_dir(mode_t mode, uid_t owner)
{
	snprintf(dir, sizeof(dir), "/tmp/vcpuset-sec-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(chmod(dir, mode), 0);
	cr_assert_eq(chown(dir, owner, owner), 0);
}

/* A socket bound and listen()ed on by this process, at path; the fd. */
static int listen_at(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (strlen(path) >= sizeof(sa.sun_path))
		_exit(96);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0)
		_exit(98);
	return fd;
}

/*
 * H1. Process A calls listen() on the user's socket and hands it to B, the user's server; the
 * kernel keeps naming A as the listener. A then stays alive holding nothing (as an unrelated
 * process that got A's recycled pid would), or exits (dead_a). Root vcpuset must not take A
 * for QEMU: it would act on A's threads and cgroups.
 */
static void stale_listener(bool dead_a)
{
	int sync[2];
	char c;

	make_dir(0755, NOBODY);
	snprintf(sock, sizeof(sock), "%s/vm.sock", dir);
	cr_assert_eq(pipe(sync), 0);
	kids[0] = fork();
	if (kids[0] == 0) {
		struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .name = "alice-vm" };
		int lfd;

		setpgid(0, 0);
		become_nobody();
		lfd = listen_at(sock);
		if (fork() == 0) { /* B: serves the monitor, and pid A is named as its listener */
			peer_start_listen_fd(lfd, &cfg);
			if (write(sync[1], "b", 1) != 1)
				_exit(97);
			pause();
			_exit(0);
		}
		close(lfd);
		if (dead_a) /* B is reparented; A is gone */
			_exit(0);
		pause();
		_exit(0);
	}
	close(sync[1]);
	cr_assert_eq(read(sync[0], &c, 1), 1, "the server is up");
	close(sync[0]);
	if (dead_a) {
		waitpid(kids[0], NULL, 0);
		/* kill(-pgid) in teardown still reaches B */
	}
}

Test(security, a_listener_pid_that_does_not_serve_the_socket_is_refused)
{
	stale_listener(false);
	RUN("--json", "--no-audit", "--socket", sock, "--status");
	cr_assert_eq(r.exit, 1, "%s%s", r.out, r.err);
	cr_assert(strstr(error_message(), "does not hold the other end of this connection"), "%s",
		  error_message());
	cr_assert(cJSON_IsNull(run_item(r.json, "before")), "nothing of the VM was believed");
	run_free(&r);
	RUN("--json", "--no-audit", "--socket", sock, "3", "--cpuset", "0", "--sched", "batch");
	cr_assert_eq(r.exit, 1, "%s%s", r.out, r.err);
}

Test(security, a_listener_that_has_exited_is_refused)
{
	stale_listener(true);
	RUN("--json", "--no-audit", "--socket", sock, "3");
	cr_assert_eq(r.exit, 1, "%s%s", r.out, r.err);
	cr_assert(strstr(error_message(), "has exited"), "%s", error_message());
}

/*
 * H2. The user owns the socket's directory and swaps, in a loop, their own socket with a
 * symlink to a root-only monitor (another VM). vcpuset must only ever reach the user's own
 * VM, or refuse the symlink: never the other one.
 */
Test(security, a_socket_swapped_for_a_symlink_never_reaches_another_monitor)
{
	struct peer_config mine = { .gen_slots = 8, .gen_online = 2, .name = "alice-vm" };
	struct peer_config other = { .gen_slots = 8, .gen_online = 2, .name = "other-vm" };
	char root_dir[64], other_sock[128], link[160];
	int i, reached_mine = 0, refused = 0;

	snprintf(root_dir, sizeof(root_dir), "/tmp/vcpuset-sec-root-%d", (int)getpid());
	mkdir(root_dir, 0700);
	snprintf(other_sock, sizeof(other_sock), "%s/qmp.sock", root_dir);
	peer2 = peer_start_unix(other_sock, &other);
	make_dir(0755, NOBODY);
	snprintf(sock, sizeof(sock), "%s/vm.sock", dir);
	peer = peer_start_unix(sock, &mine);
	snprintf(link, sizeof(link), "%s/x", dir);
	cr_assert_eq(symlink(other_sock, link), 0);
	cr_assert_eq(lchown(link, NOBODY, NOBODY), 0);
	kids[0] = fork();
	if (kids[0] == 0) {
		int dfd = open(dir, O_RDONLY | O_DIRECTORY);

		become_nobody();
		for (;;)
			renameat2(dfd, "x", dfd, "vm.sock", RENAME_EXCHANGE);
	}
	for (i = 0; i < 60; i++) {
		const char *name;

		RUN("--json", "--no-audit", "--socket", sock, "--status");
		name = cJSON_GetStringValue(run_item(run_item(r.json, "vm"), "name"));
		cr_assert(!name || strcmp(name, "other-vm") != 0,
			  "run %d reached the root-only monitor through the swapped name", i);
		if (r.exit == 0)
			reached_mine++;
		else if (strstr(error_message(), "is a symbolic link, not a unix socket"))
			refused++;
		run_free(&r);
	}
	cr_log_info("60 runs: %d reached the user's own VM, %d refused the symlink", reached_mine,
		    refused);
	cr_assert_eq(reached_mine + refused, 60, "every run either reached its own VM or refused");
	kill(kids[0], SIGKILL);
	waitpid(kids[0], NULL, 0);
	kids[0] = 0;
	unlink(other_sock);
	rmdir(root_dir);
}

/* L5. A state directory the admin did not make safe is refused, never used silently. */
Test(security, an_unsafe_state_directory_is_refused_before_anything_is_sent)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2 };
	char state[200], target[96];
	struct stat st;

	make_dir(0755, NOBODY);
	snprintf(sock, sizeof(sock), "/tmp/vcpuset-sec-%d.sock", (int)getpid());
	peer = peer_start_unix(sock, &cfg);
	/* a user's directory */
	snprintf(state, sizeof(state), "%s", dir);
	RUN("--json", "--no-audit", "--socket", sock, "--state-dir", state, "3");
	cr_assert_eq(r.exit, 1, "%s%s", r.out, r.err);
	cr_assert(strstr(error_message(), "must be owned by uid 0"), "%s", error_message());
	run_assert_nothing_sent(peer);
	run_free(&r);
	/* a path through a user's symlink: root must not make /tmp/...-target/state */
	snprintf(target, sizeof(target), "%s-target", dir);
	mkdir(target, 0755);
	snprintf(state, sizeof(state), "%s/u", dir);
	cr_assert_eq(symlink(target, state), 0);
	snprintf(state, sizeof(state), "%s/u/state", dir);
	RUN("--json", "--no-audit", "--socket", sock, "--state-dir", state, "3");
	cr_assert_eq(r.exit, 1, "%s%s", r.out, r.err);
	cr_assert(strstr(error_message(), "goes through a symlink ('u')"), "%s", error_message());
	snprintf(state, sizeof(state), "%s/state", target);
	cr_assert_neq(stat(state, &st), 0, "root made %s", state);
	rmdir(target);
	run_free(&r);
	/* a root directory others may write to */
	snprintf(state, sizeof(state), "%s-open", dir);
	mkdir(state, 0777);
	chmod(state, 0777);
	RUN("--json", "--no-audit", "--socket", sock, "--state-dir", state, "3");
	rmdir(state);
	cr_assert_eq(r.exit, 1, "%s%s", r.out, r.err);
	cr_assert(strstr(error_message(), "writable by it alone"), "%s", error_message());
	run_assert_nothing_sent(peer);
	unlink(sock);
}

/* ---- a hostile QEMU (issue 20 M5, L3, L4) ---- */

static char shim_log[64];

static bool has_warning(const char *needle)
{
	return run_has_warning(&r, needle);
}

/* M5: the admin's --name, then libvirt's socket path, beat what QEMU claims to be. */
Test(security, audit_identity_is_the_admins_then_libvirts_then_qemus)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .name = "prod-db",
				   .uuid = "6f1c2a9e-0000-4000-8000-00000000abcd" };
	char d[82], text[2048];

	make_dir(0755, 0);
	snprintf(d, sizeof(d), "%s/domain-7-ol8", dir);
	mkdir(d, 0755);
	snprintf(sock, sizeof(sock), "%s/monitor.sock", d);
	peer = peer_start_unix(sock, &cfg);
	run_audit_shim(NULL, shim_log, sizeof(shim_log));
	RUN("--json", "--no-cgroup", "--socket", sock, "3", "--name", "ol8-admin", "--uuid",
	    "c7a5fdbd-edaf-9455-926a-d65c16db1809");
	if (!cJSON_IsTrue(run_item(r.json, "audit")))
		cr_skip_test("no audit subsystem here");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	run_read_file(shim_log, text, sizeof(text));
	cr_assert(strstr(text, "vm=\"ol8-admin\" uuid=c7a5fdbd-edaf-9455-926a-d65c16db1809"), "%s", text);
	cr_assert_null(strstr(text, "prod-db"), "%s", text);
	cr_assert(has_warning("QEMU calls the VM 'prod-db', but it is 'ol8-admin' (--name)"), "%s", r.out);
	cr_assert(has_warning("QEMU gives the VM uuid 6f1c2a9e"), "%s", r.out);
	cr_assert_str_eq(cJSON_GetStringValue(run_item(run_item(r.json, "vm"), "name")), "ol8-admin");
	cr_assert_str_eq(cJSON_GetStringValue(run_item(run_item(r.json, "vm"), "qemu_name")), "prod-db");
	run_free(&r);
	unlink(shim_log);
	/* no --name: libvirt's path is the VM */
	RUN("--json", "--no-cgroup", "--socket", sock, "2");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	run_read_file(shim_log, text, sizeof(text));
	cr_assert(strstr(text, "vm=\"ol8\""), "%s", text);
	cr_assert(has_warning("but it is 'ol8' (libvirt's socket path)"), "%s", r.out);
	unsetenv("LD_PRELOAD");
}

/* L4: C1 controls from QEMU (CSI as UTF-8) and escapes in cgroup names never reach a terminal. */
Test(security, terminal_controls_from_qemu_or_cgroup_names_are_escaped)
{
	static const struct peer_override ov[] = {
		{ .cmd = "device_add", .raw = "{\"error\": {\"class\": \"GenericError\", \"desc\": "
		  "\"plug failed \\u009b2J\\u009b31mRED \\u202e\"}, \"id\": %ID%}\r\n" },
	};
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .name = "vm\xc2\x9b" "2J",
				   .overrides = ov, .noverrides = 1 };
	char parent[128], p[256];
	size_t i;

	snprintf(sock, sizeof(sock), "/tmp/vcpuset-sec-%d.sock", (int)getpid());
	peer = peer_start_unix(sock, &cfg);
	RUN("--no-audit", "--socket", sock, "--status");
	cr_assert_eq(r.exit, 0, "%s", r.err);
	cr_assert_null(strstr(r.out, "\xc2\x9b"), "a CSI reached stdout: %s", r.out);
	cr_assert(strstr(r.out, "vm 'vm\\xc2\\x9b2J'"), "%s", r.out);
	run_free(&r);
	RUN("--no-audit", "--no-cgroup", "--socket", sock, "3");
	cr_assert_eq(r.exit, 1, "%s", r.err);
	cr_assert_null(strstr(r.err, "\xc2\x9b"), "a CSI reached stderr: %s", r.err);
	cr_assert_null(strstr(r.err, "\xe2\x80\xae"), "a bidi override reached stderr: %s", r.err);
	cr_assert(strstr(r.err, "plug failed \\xc2\\x9b2J"), "%s", r.err);
	run_free(&r);
	/* a cgroup directory name with an OSC and a CSI in it, shown by a dry run */
	snprintf(parent, sizeof(parent), "/vcpuset-esc-%d-\x1b]0;pwned\x07\x1b[2J", (int)getpid());
	for (i = 0; i < 4; i++) {
		static const char *const h[] = { "cpu", "cpuacct", "cpuset", "unified" };

		snprintf(p, sizeof(p), "/sys/fs/cgroup/%s%s", h[i], parent);
		cr_assert_eq(mkdir(p, 0755), 0, "mkdir %s", p);
	}
	RUN("--no-audit", "--dry-run", "--socket", sock, "--cgroup", parent, "3");
	for (i = 0; i < 4; i++) {
		static const char *const h[] = { "cpu", "cpuacct", "cpuset", "unified" };

		snprintf(p, sizeof(p), "/sys/fs/cgroup/%s%s", h[i], parent);
		rmdir(p);
	}
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "mkdir"), "%s", r.out);
	cr_assert_null(strchr(r.out, '\x1b'), "an escape reached stdout: %s", r.out);
	cr_assert_null(strchr(r.out, '\x07'), "a BEL reached stdout: %s", r.out);
	cr_assert(strstr(r.out, "\\x1b]0;pwned\\x07"), "%s", r.out);
	unlink(sock);
}

/* L3: a dropped ssh session (SIGHUP) ends the run as SIGTERM does: the step done, one JSON. */
Test(security, sighup_finishes_the_step_under_way_and_reports)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .hold_ms = 150 };
	struct run_proc rp;
	cJSON *s;
	int i;

	snprintf(sock, sizeof(sock), "/tmp/vcpuset-sec-%d.sock", (int)getpid());
	peer = peer_start_unix(sock, &cfg);
	run_start(&rp, (const char *const[]){ "--json", "--verbose", "--no-audit", "--no-cgroup",
					      "--socket", sock, "6", NULL });
	cr_assert(run_wait_stderr(&rp, "\"device_add\"", 5000), "%s", rp.err);
	kill(rp.pid, SIGHUP);
	run_finish(&rp, &r);
	cr_assert(r.exit == 4 || r.exit == 0, "exit %d: %s%s", r.exit, r.out, r.err);
	cr_assert_not_null(r.json, "one JSON document: %s", r.out);
	if (r.exit == 4)
		cr_assert(strstr(error_message(), "stopped by Hangup"), "%s", error_message());
	cJSON_ArrayForEach(s, run_item(r.json, "steps"))
		cr_assert(strcmp(cJSON_GetStringValue(run_item(s, "status")), "failed") != 0, "%s", r.out);
	for (i = 0; i < 100 && peer_online(peer) < 3; i++)
		usleep(10000);
	cr_assert_geq(peer_online(peer), 3, "the step under way was done");
	unlink(sock);
}

/* L1: QEMU names a thread that existed before the plug as the new vCPU's: never tuned. */
Test(security, a_thread_older_than_the_plug_is_not_the_new_vcpus)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .old_thread = true };

	snprintf(sock, sizeof(sock), "/tmp/vcpuset-sec-%d.sock", (int)getpid());
	peer = peer_start_unix(sock, &cfg);
	RUN("--json", "--no-audit", "--no-cgroup", "--socket", sock, "3", "--sched", "batch");
	cr_assert_eq(r.exit, 1, "%s%s", r.out, r.err);
	cr_assert(strstr(error_message(), "that thread was there before the plug"), "%s",
		  error_message());
	cr_assert(strstr(error_message(), "unplugged it again"), "%s", error_message());
	cr_assert_eq(peer_online(peer), 2);
	unlink(sock);
}

/* Info: QEMU's words are read with CAP_DAC_OVERRIDE, CAP_SYS_NICE and CAP_AUDIT_WRITE only. */
Test(security, hostile_input_is_read_with_only_the_capabilities_needed)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .hold_ms = 200 };
	const unsigned long long want = (1ULL << 1) | (1ULL << 23) | (1ULL << 29);
	struct run_proc rp;
	char path[64], line[128];
	unsigned long long eff = ~0ULL;
	int nnp = -1, i;

	snprintf(sock, sizeof(sock), "/tmp/vcpuset-sec-%d.sock", (int)getpid());
	peer = peer_start_unix(sock, &cfg);
	run_start(&rp, (const char *const[]){ "--no-audit", "--socket", sock, "--status", NULL });
	snprintf(path, sizeof(path), "/proc/%d/status", (int)rp.pid);
	for (i = 0; i < 200 && eff != want; i++) {
		FILE *f = fopen(path, "r");

		while (f && fgets(line, sizeof(line), f)) {
			sscanf(line, "CapEff: %llx", &eff);
			sscanf(line, "NoNewPrivs: %d", &nnp);
		}
		if (f)
			fclose(f);
		usleep(5000);
	}
	run_finish(&rp, &r);
	cr_assert_eq(r.exit, 0, "%s", r.err);
	cr_assert_eq(eff, want, "CapEff %llx while QEMU talks, want %llx", eff, want);
	cr_assert_eq(nnp, 1, "no_new_privs");
	unlink(sock);
}
