/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ga_peer: a scripted guest agent for tests, on a unix socket: guest-sync-delimited,
 * guest-get-vcpus, guest-set-vcpus and guest-file-open/read/close of the CPUs' ACPI names,
 * over a simulated guest whose CPUs follow a scripted QMP peer's vCPUs; and the faults of a
 * real channel (silence, junk, a closed channel, stale replies, a huge message).
 */
#ifndef VCPUSET_TESTS_GA_PEER_H
#define VCPUSET_TESTS_GA_PEER_H

#include <stdbool.h>

struct peer;

enum ga_fault {
	GA_FINE,
	GA_HUNG,      /* reads everything, answers nothing */
	GA_JUNK,      /* answers every command with a line that is not JSON */
	GA_CLOSE,     /* closes the connection at the first command */
	GA_STALE,     /* replies an earlier client never read, an older sync's among them, first */
	GA_HUGE,      /* answers guest-get-vcpus with a message over the limit */
	GA_BAD_LIST,  /* answers guest-get-vcpus with a logical id twice */
	GA_WRONG_SYNC, /* answers guest-sync-delimited with another id, always */
};

struct ga_peer_config {
	enum ga_fault fault;
	struct peer *qemu;      /* the guest's CPUs are this peer's online vCPUs (NULL: ncpus) */
	int ncpus;              /* without qemu: CPUs 0..ncpus-1, all online */
	bool auto_online;       /* the guest onlines new CPUs itself (else they come offline) */
	bool files_blocked;     /* guest-file-* are disabled (RHEL's default): CommandNotFound */
	bool swap_ids;          /* logical ids 2 and 3 name vCPUs 3 and 2 (out-of-order plugs) */
	unsigned long long no_offline; /* logical ids whose can-offline is false (bit per id) */
	int set_fail_at;        /* guest-set-vcpus cannot online this logical id + 1 (0 = none) */
	bool set_ignored;       /* guest-set-vcpus answers, and nothing changes */
};

struct ga_peer;

/* Serve at path (a new unix socket) from a thread of this process. */
struct ga_peer *ga_peer_start(const char *path, const struct ga_peer_config *cfg);
/* Stop, remove the socket; returns the log (caller frees): each command's name on a line. */
char *ga_peer_stop(struct ga_peer *g);
/* The commands so far (caller frees). */
char *ga_peer_log(struct ga_peer *g);
/* Is logical id's CPU online in the simulated guest? */
bool ga_peer_online(struct ga_peer *g, int id);

#endif
