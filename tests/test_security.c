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
