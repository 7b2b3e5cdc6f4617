/* SPDX-License-Identifier: GPL-2.0-or-later */
/* run: exec the built vcpuset binary and capture what it says (tests only). */
#ifndef VCPUSET_TESTS_RUN_H
#define VCPUSET_TESTS_RUN_H

#include <stdbool.h>
#include <sys/types.h>
#include <cjson/cJSON.h>

struct run_result {
	int exit;
	char *out; /* stdout */
	char *err; /* stderr */
	cJSON *json; /* stdout parsed, when it is JSON */
};

/* A vcpuset running in the background. */
struct run_proc {
	pid_t pid;
	int fd[2];
	char *out, *err;
	size_t lout, lerr;
};

void run_start(struct run_proc *p, const char *const *args);
/* Read its stderr until needle shows (true) or timeout_ms pass or it ends (false). */
bool run_wait_stderr(struct run_proc *p, const char *needle, int timeout_ms);
/* The same for its stdout. */
bool run_wait_stdout(struct run_proc *p, const char *needle, int timeout_ms);
/* Wait for it to end; r takes its output. */
void run_finish(struct run_proc *p, struct run_result *r);

/* Run ./vcpuset with the NULL-terminated args; fails the test if it cannot. */
void run_vcpuset(struct run_result *r, const char *const *args);
void run_free(struct run_result *r);

/* The simulated QEMU p has received nothing that changes a guest (device_add, device_del,
 * cpu-add); fails the test with its log otherwise. */
struct peer;
void run_assert_nothing_sent(struct peer *p);

/* Remove dir and the files in it (a state directory; no subdirectories). */
void run_remove_dir(const char *dir);

/* Read up to size - 1 bytes of path into buf, trailing newlines and spaces dropped ("" if
 * it cannot be read). Returns buf. */
char *run_read_file(const char *path, char *buf, size_t size);

/*
 * The test guests print "VCPUSET-ONLINE <cpulist>" on their serial console whenever their
 * CPUs change: wait up to timeout_ms for the last such line in serial to be want.
 */
void run_wait_guest(const char *serial, const char *want, int timeout_ms);

/* Wait up to timeout_ms for the guest's last word to list want CPUs, whichever they are. */
void run_wait_guest_count(const char *serial, int want, int timeout_ms);

/* Send QMP command cmd (no arguments) to the monitor at sock; fails the test if refused. */
void run_qmp(const char *sock, const char *cmd);
/* The same with arguments (JSON text, or NULL); the "return" value, caller deletes. */
cJSON *run_qmp_args(const char *sock, const char *cmd, const char *args);

/*
 * Start another throw-away TCG guest (the test guest's kernel and initrd, 2 of 8 vCPUs) with
 * the NULL-terminated extra QEMU arguments; its files go in dir, its QMP socket path to sock.
 * Returns its pid once the socket is there. run_qemu_stop ends it.
 */
pid_t run_qemu(const char *dir, const char *const *extra, char *sock, size_t size);
void run_qemu_stop(pid_t pid);

/* The vCPUs QEMU at sock lists online, as "0,1,5" (from vcpuset --status). */
void run_online_vcpus(const char *sock, char *buf, size_t size);

/* Does the JSON report of res have a warning holding needle? */
bool run_has_warning(const struct run_result *res, const char *needle);

/*
 * From now on, vcpuset runs with tests/audit_shim.so in place of libaudit's send (mode as the
 * shim's VCPUSET_SHIM_AUDIT, NULL: every send succeeds); the records it was asked for go to
 * the file named in log. Unset LD_PRELOAD to end it.
 */
void run_audit_shim(const char *mode, char *log, size_t size);

/*
 * From now on, vcpuset runs with tests/core_shim.so in place of the kernel's core scheduling:
 * the cookies are in the file cookies ("TID COOKIE" lines). Unset LD_PRELOAD to end it.
 */
void run_core_shim(const char *cookies);

/*
 * From now on, vcpuset runs with --sysroot on a fixture host made for this process: the cgroup
 * v1 mounts of this machine (cpu, cpuacct, cpuset, and v2 unified) with QEMU in their roots,
 * its CPUs and nodes, an empty /run, and proc/<qemu_pid> linked to the kernel's (the peer is a
 * real process). No root needed. run_sysroot_off removes it; run_sysroot_dir names it ("" off).
 */
void run_sysroot(int qemu_pid);
void run_sysroot_off(void);
/* Write text into the fixture's file rel, its directories made (text NULL: a directory). */
void run_sysroot_put(const char *rel, const char *text);
/* Another QEMU (a peer in another process): its proc entries in the fixture too. */
void run_sysroot_add(int pid);
const char *run_sysroot_dir(void);

/* This test needs the real host (cgroups, real-time policies): no fixture; skipped unless root. */
void run_real_host(void);

/* Member k of JSON object o; fails the test when it is missing. */
cJSON *run_item(const cJSON *o, const char *k);

#endif
