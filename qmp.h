/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qmp: a bounded QMP client for one unix socket — greeting, commands by id, events. */
#ifndef VCPUSET_QMP_H
#define VCPUSET_QMP_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "vcpuset.h"

struct qmp;

/* Called with every message sent ('>') or received ('<'), without its line end. */
typedef void (*qmp_trace_fn)(void *ctx, char dir, const char *line, size_t len);

/*
 * Open the socket file at path once (O_PATH, never following a symlink) and check that it is
 * a unix socket; nothing is connected yet. The name is not looked up again: qmp_dial connects
 * through this very inode, whatever the name points at by then. Returns 0 and a new client
 * in *out (free with qmp_free), or a negative errno naming what the path is instead.
 */
int qmp_open(const char *path, struct qmp **out, struct vs_err *err);

/* The socket file's device and inode, from the fstat of the opened path (the VM's lock key). */
void qmp_socket_id(const struct qmp *q, unsigned long long *dev, unsigned long long *ino);

/*
 * Connect a client made by qmp_open through /proc/self/fd/N, and learn who listens: the pid
 * from SO_PEERCRED and a pidfd from SO_PEERPIDFD. No bytes are exchanged yet.
 */
int qmp_dial(struct qmp *q, int timeout_ms, struct vs_err *err);

/*
 * Drop the connection (replies and events not read yet go with it) and connect again through
 * the inode opened by qmp_open: to learn what became of a command whose reply never came.
 * The peer must be proven again; the greeting and negotiation follow as after qmp_dial.
 */
int qmp_redial(struct qmp *q, int timeout_ms, struct vs_err *err);

/* qmp_open and qmp_dial in one (tests, benchmarks). */
int qmp_connect(const char *path, int timeout_ms, struct qmp **out, struct vs_err *err);

/*
 * The listener's pidfd (SO_PEERPIDFD, Linux 6.5), owned by the client; -1 when the kernel
 * gives none. qmp_peer_gone: the kernel refused one because that process has exited.
 */
int qmp_peer_pidfd(const struct qmp *q);
bool qmp_peer_gone(const struct qmp *q);

/*
 * The inode of the socket at the other end of this connection (sock_diag UNIX_DIAG_PEER):
 * the process serving the monitor holds it among its fds. 0 and *ino, or a negative errno.
 */
int qmp_peer_inode(const struct qmp *q, unsigned long *ino, struct vs_err *err);

/*
 * Events kept while waiting for replies: the NULL-terminated names (the array stays the
 * caller's), all when NULL. Others, and any over VS_MAX_EVENT bytes, are dropped as they are
 * read; the queue holds at most VS_MAX_EVENTS events and VS_MAX_EVENT_BYTES bytes.
 */
void qmp_keep_events(struct qmp *q, const char *const *names);

/* Bytes of events queued now (their text's). */
size_t qmp_queued_bytes(const struct qmp *q);

/* Wrap an already connected stream fd (tests: a socketpair); the client owns fd after. */
int qmp_adopt_fd(int fd, const char *name, struct qmp **out, struct vs_err *err);

/* Close the socket and free everything, queued events included. Accepts NULL. */
void qmp_free(struct qmp *q);

void qmp_set_trace(struct qmp *q, qmp_trace_fn fn, void *ctx);

/* Largest message accepted from the peer (default VS_MAX_MESSAGE). */
void qmp_set_max_message(struct qmp *q, size_t max);

/*
 * Read the greeting within timeout_ms and negotiate with qmp_capabilities. A missing
 * greeting is -EBUSY: QEMU serves one monitor client at a time, so another one holds it.
 */
int qmp_handshake(struct qmp *q, int timeout_ms, struct vs_err *err);

/*
 * Wait up to timeout_ms for the peer to say something (QEMU greets as soon as it has
 * accepted the connection), without reading it. -EBUSY when it stays silent: another client
 * holds the monitor.
 */
int qmp_await(struct qmp *q, int timeout_ms, struct vs_err *err);

/* Has the peer closed its end (or shut down its writing)? */
bool qmp_hung_up(const struct qmp *q);

/*
 * The first half of qmp_handshake, for pipelining: read the greeting and send
 * qmp_capabilities without waiting for its reply (its id in *caps_id, for qmp_receive).
 * QEMU takes commands in order, so the ones sent right after it are served once it is done.
 */
int qmp_greet(struct qmp *q, int timeout_ms, unsigned long *caps_id, struct vs_err *err);

/*
 * Send command cmd with optional arguments args (not taken) and a fresh id, and wait up to
 * timeout_ms for the reply with that id; events read meanwhile are queued in order. On
 * success *ret (if not NULL) gets the detached "return" value, owned by the caller.
 * QEMU's refusal is -EREMOTEIO with err->qmp_class and err->msg set as QEMU wrote them.
 */
int qmp_execute(struct qmp *q, const char *cmd, const cJSON *args, int timeout_ms,
		cJSON **ret, struct vs_err *err);

/*
 * Next event, oldest first: from the queue, else read for up to timeout_ms (0 = only what
 * is already buffered or readable now). Returns 1 and the event in *ev (caller frees),
 * 0 when none came in time, or a negative errno (EOF, malformed input).
 */
int qmp_next_event(struct qmp *q, int timeout_ms, cJSON **ev, struct vs_err *err);

/*
 * The two halves of qmp_execute, for pipelining: send several commands, then read their
 * replies in the order sent (QEMU answers in order). qmp_send gives the command's id in *id;
 * qmp_receive waits for the reply to id, skipping replies to commands sent before it that
 * were never received (a caller that gave up on them). Same results as qmp_execute.
 */
int qmp_send(struct qmp *q, const char *cmd, const cJSON *args, int timeout_ms,
	     unsigned long *id, struct vs_err *err);
int qmp_receive(struct qmp *q, const char *cmd, unsigned long id, int timeout_ms, cJSON **ret,
		struct vs_err *err);

/* QEMU's pid from SO_PEERCRED, or 0 when unknown (adopted fds that are not sockets). */
int qmp_peer_pid(const struct qmp *q);

/* QEMU's version from the greeting, "10.0.2"; "" before the handshake. */
const char *qmp_version(const struct qmp *q);

/*
 * For the guest agent, which speaks QMP's framing on its own channel: no greeting, no events,
 * a resync by the byte 0xFF. qmp_set_peer_name names the peer and its end in messages ("QEMU",
 * "the monitor" by default; both strings stay the caller's). qmp_send_raw sends bytes as they
 * are; qmp_skip_past drops what the peer says up to and including the next byte b, at most
 * the largest message's worth; qmp_read returns the next message, whatever it is (1 and *msg,
 * caller deletes, or a negative errno).
 */
void qmp_set_peer_name(struct qmp *q, const char *who, const char *chan);
int qmp_send_raw(struct qmp *q, const char *bytes, size_t len, int timeout_ms,
		 struct vs_err *err);
int qmp_skip_past(struct qmp *q, unsigned char b, int timeout_ms, struct vs_err *err);
int qmp_read(struct qmp *q, int timeout_ms, cJSON **msg, struct vs_err *err);

/*
 * Build {"execute": cmd, "arguments": args} as a new cJSON object (args duplicated), the
 * exact shape qmp_execute sends minus the id. Caller deletes it. NULL if out of memory.
 */
cJSON *qmp_command_new(const char *cmd, const cJSON *args);

#endif
