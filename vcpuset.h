/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vcpuset: types shared by every module — the error struct, exit codes, limits, clock. */
#ifndef VCPUSET_VCPUSET_H
#define VCPUSET_VCPUSET_H

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define VCPUSET_VERSION "0.1.0"

/* Exit statuses; the man page's EXIT STATUS table lists the same. */
enum vs_exit {
	VS_EXIT_OK = 0,      /* done, nothing to do, or dry run */
	VS_EXIT_FAIL = 1,    /* failed, guest unchanged */
	VS_EXIT_USAGE = 2,   /* bad usage or impossible COUNT, nothing sent */
	VS_EXIT_PENDING = 3, /* an unplug was asked for and has not completed yet */
	VS_EXIT_PARTIAL = 4, /* some steps done, then a failure */
	VS_EXIT_UNKNOWN = 5, /* QEMU never answered a plug or unplug and cannot be asked: unknown */
	VS_EXIT_GUEST = 6,   /* plugged, but the guest (its agent says) left some vCPUs offline */
};

/*
 * Ceilings on what vcpuset accepts from QEMU. Real machines stay far below: QEMU's largest
 * x86 maxcpus is 4096, whose query-hotpluggable-cpus reply is about 600 KiB.
 */
#define VS_MAX_MESSAGE (16u << 20) /* bytes in one QMP message */
#define VS_MAX_SLOTS 16384         /* vCPU slots in one table */
#define VS_MAX_EVENTS 4096         /* events queued while waiting for a reply */
#define VS_MAX_EVENT (64u << 10)   /* bytes in one event kept; larger ones are dropped */
#define VS_MAX_EVENT_BYTES (1u << 20) /* bytes of events queued; the oldest go first */

/*
 * Every fallible function returns >= 0 on success or a negative errno, and fills the
 * caller's error struct. qmp_class holds QEMU's error class when QEMU refused a command.
 */
struct vs_err {
	int errnum;
	char step[32];
	char qmp_class[48];
	char msg[512];
};

/* The positive errno for errnum (negative or positive; 0 and INT_MIN become EINVAL). */
static inline int vs_errno_of(int errnum)
{
	if (errnum < 0)
		errnum = errnum == INT_MIN ? EINVAL : -errnum;
	return errnum ? errnum : EINVAL;
}

__attribute__((format(printf, 3, 4))) static inline void
vs_err_fill(struct vs_err *e, int errnum, const char *fmt, ...)
{
	va_list ap;

	if (e) {
		e->errnum = vs_errno_of(errnum);
		e->qmp_class[0] = '\0';
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
	}
}

/*
 * Fill e (may be NULL) and give -errno: always negative, which callers (and the static
 * analyzer, that does not look into variadic functions) can rely on. errnum is read once,
 * before the message is formatted (formatting may change errno).
 */
#define vs_err_set(e, errnum, ...)                                 \
	__extension__({                                            \
		int vs_n_ = (errnum);                              \
		vs_err_fill((e), vs_n_, __VA_ARGS__);              \
		-vs_errno_of(vs_n_);                               \
	})

/* Put "CONTEXT: " in front of the message already there; returns -errnum. */
__attribute__((format(printf, 2, 3))) static inline int
vs_err_prefix(struct vs_err *e, const char *fmt, ...)
{
	char pre[256], old[sizeof(e->msg)];
	va_list ap;

	if (!e)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	if (snprintf(e->msg, sizeof(e->msg), "%s: %s", pre, old) < 0)
		e->msg[0] = '\0';
	return -(e->errnum ? e->errnum : EINVAL);
}

/*
 * Read all of fd (up to max bytes) into a new string (caller frees); the fd stays the
 * caller's. The length, -EFBIG past max, or another negative errno.
 */
static inline int vs_read_fd(int fd, size_t max, char **out)
{
	size_t cap = 16384, off = 0;
	char *buf = malloc(cap), *nb;
	ssize_t n;

	*out = NULL;
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (off + 1 >= cap) {
			if (cap >= max) {
				free(buf);
				return -EFBIG;
			}
			cap *= 2;
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		n = read(fd, buf + off, cap - 1 - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			free(buf);
			return -e;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	buf[off] = '\0';
	*out = buf;
	return (int)off;
}

/* Monotonic time in milliseconds. */
static inline double vs_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Milliseconds left until deadline (vs_now_ms), rounded up, for poll(): 0 when it has passed. */
static inline int vs_left_ms(double deadline)
{
	double left = deadline - vs_now_ms();

	if (left <= 0)
		return 0;
	return left >= (double)INT32_MAX ? INT32_MAX : (int)left + 1;
}

#endif
