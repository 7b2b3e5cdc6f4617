/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer harness: the QMP reader on arbitrary byte streams cut at arbitrary points.
 * Input: byte 0 picks the mode, bytes 1-2 seed the cut points, the rest is what "QEMU" sends.
 *  mode & 1 == 0: the stream arrives in pieces, with the event reader drained after each one
 *                 (a message split anywhere, several in one read, bare newlines, EOF mid-line);
 *  mode & 1 == 1: the whole stream is there at once, then EOF, and vcpuset's own sequence
 *                 runs on it: greeting + qmp_capabilities, one command, events.
 *  mode & 2: a 4 KiB message ceiling instead of the 16 MiB one.
 * Nothing may crash, leak, hang or read past what was sent.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT (1u << 17)

/* Read every event buffered now; false once the reader has failed for good. */
static bool drain(struct qmp *q)
{
	struct vs_err err;
	cJSON *ev;
	int rc;

	while ((rc = qmp_next_event(q, 0, &ev, &err)) == 1)
		cJSON_Delete(ev);
	return rc == 0;
}

static void pieces(struct qmp *q, int wfd, const uint8_t *p, size_t n, unsigned seed)
{
	bool alive = true;
	size_t off = 0;

	while (off < n && alive) {
		size_t len;
		ssize_t w;

		seed = seed * 1103515245u + 12345u;
		len = 1 + (seed >> 16) % 97;
		if (len > n - off)
			len = n - off;
		w = write(wfd, p + off, len);
		if (w > 0)
			off += (size_t)w;
		alive = drain(q);
	}
	shutdown(wfd, SHUT_WR);
	/* To EOF; after that the reader must keep failing cleanly, not block or crash. */
	drain(q);
	drain(q);
}

static void sequence(struct qmp *q, int wfd, const uint8_t *p, size_t n)
{
	struct vs_err err;
	cJSON *ret = NULL, *ev;
	ssize_t w;

	w = write(wfd, p, n);
	(void)w;
	shutdown(wfd, SHUT_WR);
	if (qmp_handshake(q, 1000, &err) == 0 &&
	    qmp_execute(q, "query-hotpluggable-cpus", NULL, 1000, &ret, &err) == 0)
		cJSON_Delete(ret);
	while (qmp_next_event(q, 1000, &ev, &err) == 1)
		cJSON_Delete(ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vs_err err;
	struct qmp *q = NULL;
	int sv[2], buf = 1 << 20;

	if (size < 3 || size > MAX_INPUT)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (qmp_adopt_fd(sv[0], "fuzz", &q, &err) < 0)
		abort();
	if (data[0] & 2)
		qmp_set_max_message(q, 4096);
	if (data[0] & 1)
		sequence(q, sv[1], data + 3, size - 3);
	else
		pieces(q, sv[1], data + 3, size - 3, (unsigned)data[1] << 8 | data[2]);
	qmp_free(q);
	close(sv[1]);
	return 0;
}
