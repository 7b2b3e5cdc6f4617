/* SPDX-License-Identifier: GPL-2.0-or-later */
/* peer: a scripted QMP peer for tests, with a small simulated QEMU behind it. */
#ifndef VCPUSET_TESTS_PEER_H
#define VCPUSET_TESTS_PEER_H

#include <stdbool.h>
#include <cjson/cJSON.h>

enum peer_greet { PEER_GREET, PEER_NO_GREETING, PEER_CLOSE_AT_ONCE, PEER_CLOSE_AFTER_GREETING };

/*
 * An override: the nth (1-based; 0 = every) time command cmd arrives, answer with raw
 * (each "%ID%" becomes the command's id as a JSON value), sent split into chunks of
 * chunk bytes (0 = at once) with delay_ms between them; close after it if close_after.
 * raw NULL with close_after: close instead of answering. raw "" : never answer.
 */
struct peer_override {
	const char *cmd;
	int nth;
	const char *raw;
	int chunk;
	int delay_ms;
	bool close_after;
	bool execute; /* the simulated QEMU carries the command out all the same */
};

/* GONE: the vCPU is already gone when device_del arrives, which answers DeviceNotFound. */
/* REJECT_LATE: the refusal event comes, then the vCPU goes all the same after unplug_ms. */
enum peer_unplug { PEER_UNPLUG_TCG, PEER_UNPLUG_KVM, PEER_UNPLUG_NEVER, PEER_UNPLUG_REJECT, PEER_UNPLUG_GONE,
		   PEER_UNPLUG_REJECT_LATE };

struct peer_config {
	enum peer_greet greet;
	const struct peer_override *overrides;
	int noverrides;
	const char *fixture;    /* tests/fixtures/NAME.json: the simulated QEMU's slots */
	int gen_slots;          /* or: generate an x86 q35 machine with this many slots */
	int gen_online;         /* of which this many boot vCPUs */
	enum peer_unplug unplug;
	int unplug_ms;          /* how long the guest takes to release a vCPU */
	bool no_hotplug;        /* query-hotpluggable-cpus: GenericError */
	bool legacy;            /* no query-hotpluggable-cpus, but cpu-add */
	const char *name;       /* query-name */
	const char *uuid;       /* query-uuid (all zeros when NULL) */
	const char *run_state;  /* query-status ("running" when NULL) */
	const char *migration;  /* query-migrate's status (none: {} when NULL) */
	int chunk;              /* send everything in pieces of this many bytes (0 = whole) */
	int hold_ms;            /* think this long before answering each command */
	bool meddle;            /* another client: with the first device_add, plug the last free slot too */
	bool old_thread;        /* a plugged vCPU's thread is a helper thread made at the start */
	bool greet_once;        /* later clients get no greeting (a QEMU hung for good) */
	bool no_ack;            /* the guest never answers a plug (ACPI_DEVICE_OST): early boot */
};

struct peer;

/* Serve over an fd (socketpair end, taken) or a new unix socket at path. */
struct peer *peer_start_fd(int fd, const struct peer_config *cfg);
struct peer *peer_start_unix(const char *path, const struct peer_config *cfg);
/* A new unix socket listening at path (an old file there removed); aborts when it cannot. */
int peer_listen_unix(const char *path);
/* Serve on a socket some other process bound and listen()ed on (lfd, taken). */
struct peer *peer_start_listen_fd(int lfd, const struct peer_config *cfg);

/* Wait for the client to leave (or stop it), free; returns the received log, caller frees. */
char *peer_stop(struct peer *p);

/* Lines received so far, one per line, caller frees. */
char *peer_log(struct peer *p);

/*
 * With hold_ms: the commands, space-separated, during whose hold the client had sent more
 * already (it pipelines after them). Caller frees.
 */
char *peer_ahead(struct peer *p);

/*
 * The guest lets go of every vCPU whose device_del it was holding on to (PEER_UNPLUG_NEVER
 * is a paused guest; this is its "cont"): they go on the peer's next turn.
 */
void peer_release(struct peer *p);

/* The guest refuses the device_del it was holding on to, telling the client connected now. */
void peer_refuse(struct peer *p);

/* vCPUs the simulated QEMU has now. */
int peer_online(struct peer *p);
/* A generated machine's online vCPU indices (core-ids), ascending, max at most; how many. */
int peer_online_vcpus(struct peer *p, int *out, int max);

/* Read a fixture file's JSON (tests/fixtures/NAME.json); caller deletes. */
cJSON *peer_fixture(const char *name);

#endif
