/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qmp: a bounded QMP client for one unix socket — greeting, commands by id, events. */
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "qmp.h"

#define BUF_KEEP (128u << 10) /* read buffer kept between messages */

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5; not in glibc 2.36's headers */
#endif

struct event_node {
	cJSON *ev;
	size_t size; /* its text's */
	struct event_node *next;
};

struct qmp {
	int fd;
	int path_fd;  /* O_PATH of the socket file, for qmp_dial; -1 once connected or adopted */
	unsigned long long dev, ino; /* the socket file's, from that fd's fstat */
	int pid;
	int pidfd;    /* SO_PEERPIDFD, -1 when the kernel has none */
	bool pid_gone; /* the kernel refused a pidfd: the listener has exited */
	char name[128];
	const char *who;  /* the peer, in messages: "QEMU" (or "the guest agent") */
	const char *chan; /* its end: "the monitor" */
	char version[32];
	unsigned long next_id;
	unsigned long recv_next; /* lowest id sent whose reply has not been read */
	unsigned long lost_from; /* first id whose command QEMU closed the socket on, 0 = none */
	struct vs_err lost;      /* and the error sending it gave */
	size_t max_msg;
	char *buf;
	size_t len, cap, scanned;
	bool eof;
	size_t start; /* buf[start..len) is unread: lines are consumed by moving start */
	struct event_node *head, *tail;
	size_t nevents, event_bytes;
	const char *const *keep; /* event names kept (NULL-terminated); NULL = all */
	qmp_trace_fn trace;
	void *trace_ctx;
};

static const char *file_kind(mode_t m)
{
	if (S_ISREG(m))
		return "a regular file";
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISLNK(m))
		return "a symbolic link";
	if (S_ISFIFO(m))
		return "a fifo";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	return "not a socket";
}

static int qmp_new(int fd, const char *name, struct qmp **out, struct vs_err *err)
{
	struct qmp *q = calloc(1, sizeof(*q));

	if (!q) {
		close(fd);
		return vs_err_set(err, ENOMEM, "out of memory");
	}
	q->fd = fd;
	q->path_fd = -1;
	q->pidfd = -1;
	q->max_msg = VS_MAX_MESSAGE;
	q->who = "QEMU";
	q->chan = "the monitor";
	q->next_id = 1;
	q->recv_next = 1;
	snprintf(q->name, sizeof(q->name), "%s", name ? name : "monitor");
	*out = q;
	return 0;
}

/*
 * Who listens: SO_PEERCRED's pid is whoever last called listen() on the socket, who may have
 * exited (and the number been given to another process); SO_PEERPIDFD pins that process, or
 * fails when it is gone.
 */
static void peer_ids(struct qmp *q)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	int pfd = -1;

	if (getsockopt(q->fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0 && len == sizeof(cr))
		q->pid = cr.pid;
	len = sizeof(pfd);
	if (getsockopt(q->fd, SOL_SOCKET, SO_PEERPIDFD, &pfd, &len) == 0 && len == sizeof(pfd))
		q->pidfd = pfd;
	else if (errno == ESRCH || errno == EINVAL)
		q->pid_gone = true;
}

int qmp_adopt_fd(int fd, const char *name, struct qmp **out, struct vs_err *err)
{
	int rc, fl;

	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		rc = -errno;
		close(fd);
		return vs_err_set(err, -rc, "monitor fd: %s", strerror(-rc));
	}
	rc = qmp_new(fd, name, out, err);
	if (rc < 0)
		return rc;
	peer_ids(*out);
	return 0;
}

int qmp_open(const char *path, struct qmp **out, struct vs_err *err)
{
	struct sockaddr_un sa;
	struct stat st;
	int pfd, rc;

	*out = NULL;
	if (strlen(path) >= sizeof(sa.sun_path))
		return vs_err_set(err, ENAMETOOLONG, "socket path '%s' is too long (%zu bytes at most)",
				  path, sizeof(sa.sun_path) - 1);
	/* the name is looked up once: what is checked is what is connected to, and locked */
	pfd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0)
		return vs_err_set(err, errno, "socket '%s': %s", path, strerror(errno));
	if (fstat(pfd, &st) < 0) {
		rc = vs_err_set(err, errno, "socket '%s': %s", path, strerror(errno));
		close(pfd);
		return rc;
	}
	if (!S_ISSOCK(st.st_mode)) {
		close(pfd);
		return vs_err_set(err, ENOTSOCK, "'%s' is %s, not a unix socket", path,
				  file_kind(st.st_mode));
	}
	rc = qmp_new(-1, path, out, err);
	if (rc < 0) {
		close(pfd);
		return rc;
	}
	(*out)->path_fd = pfd;
	(*out)->dev = (unsigned long long)st.st_dev;
	(*out)->ino = (unsigned long long)st.st_ino;
	return 0;
}

void qmp_socket_id(const struct qmp *q, unsigned long long *dev, unsigned long long *ino)
{
	*dev = q->dev;
	*ino = q->ino;
}

int qmp_dial(struct qmp *q, int timeout_ms, struct vs_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct pollfd pfd;
	socklen_t len;
	int fd = -1, rc, soerr = 0, fl;

	if (q->path_fd < 0 || q->fd >= 0)
		return vs_err_set(err, EINVAL, "'%s' is not a socket waiting to be connected", q->name);
	if (q->pidfd >= 0)
		close(q->pidfd);
	q->pidfd = -1;
	q->pid = 0;
	q->pid_gone = false;
	/* through the inode opened and checked, whatever the name points at now */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d", q->path_fd);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return vs_err_set(err, errno, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno != EAGAIN && errno != EINPROGRESS) {
			rc = vs_err_set(err, errno, "connect '%s': %s", q->name, strerror(errno));
			goto fail;
		}
		/* A full listen backlog: the monitor is not accepting anybody. */
		pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
		rc = poll(&pfd, 1, timeout_ms);
		len = sizeof(soerr);
		if (rc == 0) {
			rc = vs_err_set(err, EBUSY, "connect '%s': no answer within %d ms: the monitor "
					"is busy with another client", q->name, timeout_ms);
			goto fail;
		}
		if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr) {
			rc = vs_err_set(err, soerr ? soerr : errno, "connect '%s': %s", q->name,
					strerror(soerr ? soerr : errno));
			goto fail;
		}
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		rc = vs_err_set(err, errno, "monitor fd: %s", strerror(errno));
		goto fail;
	}
	q->fd = fd;
	peer_ids(q); /* path_fd stays: qmp_redial connects through the same inode again */
	if (q->pid <= 0 && !q->pid_gone)
		return vs_err_set(err, EPROTO, "socket '%s': the kernel did not report the peer's pid",
				  q->name);
	return 0;
fail:
	close(fd);
	return rc;
}

int qmp_redial(struct qmp *q, int timeout_ms, struct vs_err *err)
{
	struct event_node *n, *next;

	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
	for (n = q->head; n; n = next) {
		next = n->next;
		cJSON_Delete(n->ev);
		free(n);
	}
	q->head = q->tail = NULL;
	q->nevents = q->event_bytes = 0;
	q->len = q->start = q->scanned = 0;
	q->eof = false;
	q->lost_from = 0;
	memset(&q->lost, 0, sizeof(q->lost));
	q->recv_next = q->next_id; /* the old connection's replies are gone with it */
	return qmp_dial(q, timeout_ms, err);
}

int qmp_connect(const char *path, int timeout_ms, struct qmp **out, struct vs_err *err)
{
	int rc = qmp_open(path, out, err);

	if (rc == 0 && *out)
		rc = qmp_dial(*out, timeout_ms, err);
	if (rc < 0) {
		qmp_free(*out);
		*out = NULL;
	}
	return rc;
}

int qmp_peer_pidfd(const struct qmp *q)
{
	return q->pidfd;
}

bool qmp_peer_gone(const struct qmp *q)
{
	return q->pid_gone;
}

int qmp_peer_inode(const struct qmp *q, unsigned long *ino, struct vs_err *err)
{
	struct {
		struct nlmsghdr nlh;
		struct unix_diag_req req;
	} rq;
	union {
		struct nlmsghdr nlh;
		char buf[8192];
	} rb;
	struct sockaddr_nl nl = { .nl_family = AF_NETLINK };
	struct stat st;
	struct nlmsghdr *h;
	ssize_t n;
	int nfd, rc = -ENOENT;

	*ino = 0;
	if (fstat(q->fd, &st) < 0)
		return vs_err_set(err, errno, "fstat of the monitor connection: %s", strerror(errno));
	nfd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nfd < 0)
		return vs_err_set(err, errno, "sock_diag: %s", strerror(errno));
	memset(&rq, 0, sizeof(rq));
	rq.nlh.nlmsg_len = sizeof(rq);
	rq.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	rq.nlh.nlmsg_flags = NLM_F_REQUEST;
	rq.req.sdiag_family = AF_UNIX;
	rq.req.udiag_states = (__u32)-1;
	rq.req.udiag_ino = (__u32)st.st_ino;
	rq.req.udiag_show = UDIAG_SHOW_PEER;
	rq.req.udiag_cookie[0] = rq.req.udiag_cookie[1] = (__u32)-1;
	if (sendto(nfd, &rq, sizeof(rq), 0, (struct sockaddr *)&nl, sizeof(nl)) < 0) {
		rc = vs_err_set(err, errno, "sock_diag: %s", strerror(errno));
		goto out;
	}
	n = recv(nfd, &rb, sizeof(rb), 0);
	if (n < 0) {
		rc = vs_err_set(err, errno, "sock_diag: %s", strerror(errno));
		goto out;
	}
	for (h = &rb.nlh; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
		struct unix_diag_msg *m = NLMSG_DATA(h);
		struct rtattr *a;
		int alen;

		if (h->nlmsg_type == NLMSG_ERROR) {
			struct nlmsgerr *e = NLMSG_DATA(h);

			rc = vs_err_set(err, e->error ? -e->error : EIO, "sock_diag: %s",
					strerror(e->error ? -e->error : EIO));
			goto out;
		}
		if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)) ||
		    m->udiag_ino != (__u32)st.st_ino)
			continue;
		alen = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
		for (a = (struct rtattr *)(m + 1); RTA_OK(a, alen); a = RTA_NEXT(a, alen))
			if (a->rta_type == UNIX_DIAG_PEER && RTA_PAYLOAD(a) >= sizeof(__u32)) {
				*ino = *(__u32 *)RTA_DATA(a);
				rc = 0;
			}
	}
	if (rc < 0)
		rc = vs_err_set(err, ENOENT, "sock_diag does not name the other end of the monitor "
				"connection");
out:
	close(nfd);
	return rc;
}

void qmp_free(struct qmp *q)
{
	struct event_node *n, *next;

	if (!q)
		return;
	for (n = q->head; n; n = next) {
		next = n->next;
		cJSON_Delete(n->ev);
		free(n);
	}
	if (q->fd >= 0)
		close(q->fd);
	if (q->path_fd >= 0)
		close(q->path_fd);
	if (q->pidfd >= 0)
		close(q->pidfd);
	free(q->buf);
	free(q);
}

void qmp_set_trace(struct qmp *q, qmp_trace_fn fn, void *ctx)
{
	q->trace = fn;
	q->trace_ctx = ctx;
}

void qmp_set_max_message(struct qmp *q, size_t max)
{
	q->max_msg = max;
}

int qmp_peer_pid(const struct qmp *q)
{
	return q->pid;
}

const char *qmp_version(const struct qmp *q)
{
	return q->version;
}

/* Read what the socket has, waiting until deadline. 0 = got bytes, -ETIMEDOUT, -EPIPE at EOF. */
static int fill(struct qmp *q, double deadline, struct vs_err *err)
{
	struct pollfd pfd = { .fd = q->fd, .events = POLLIN };
	size_t want = 65536;
	ssize_t n;
	int rc;

	if (q->eof)
		return vs_err_set(err, EPIPE, "%s closed %s connection", q->who, q->chan);
	for (;;) {
		rc = poll(&pfd, 1, vs_left_ms(deadline));
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return vs_err_set(err, errno, "poll: %s", strerror(errno));
		if (rc == 0)
			return -ETIMEDOUT;
		break;
	}
	if (q->start && q->cap - q->len < want) {
		/* the lines read are gone: move the unread rest to the front, once per fill */
		memmove(q->buf, q->buf + q->start, q->len - q->start);
		q->len -= q->start;
		q->scanned -= q->start;
		q->start = 0;
	}
	if (q->cap - q->len < want) {
		size_t ncap = q->cap ? q->cap : want;
		char *nb;

		while (ncap - q->len < want)
			ncap *= 2;
		nb = realloc(q->buf, ncap);
		if (!nb)
			return vs_err_set(err, ENOMEM, "out of memory reading from %s", q->who);
		q->buf = nb;
		q->cap = ncap;
	}
	do
		n = read(q->fd, q->buf + q->len, want);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n < 0 && errno != ECONNRESET)
		return vs_err_set(err, errno, "read from monitor: %s", strerror(errno));
	if (n <= 0) {
		q->eof = true;
		return vs_err_set(err, EPIPE, "%s closed %s%s", q->who, q->chan,
				  q->len > q->start ? " in the middle of a message" : " connection");
	}
	q->len += (size_t)n;
	return 0;
}

/*
 * ---- one block for the tree of each large message ----
 * A 4096-slot query-hotpluggable-cpus reply is some 40000 cJSON nodes and key strings: one
 * malloc each, with its header, and one free each. While a message of ARENA_MIN bytes or more
 * is parsed, cJSON allocates from one mapping instead (bump allocation, no headers); frees of
 * its pieces only count down, and the mapping goes back to the kernel when the last piece of
 * the tree is freed. Per thread: a tree is freed by the thread that parsed it (the tests' peer
 * threads parse and free their own, from malloc).
 */
#define ARENA_MIN (64u << 10)
#define ARENA_PER_BYTE 8 /* mapping size per byte of text; a tree needs about 5 */

struct arena {
	char *base;
	size_t size, used;
	size_t live; /* pieces not freed yet */
	struct arena *next;
};

static __thread struct arena *arenas;  /* trees still alive */
static __thread struct arena *parsing; /* where cJSON allocates now, NULL = malloc */

static void *arena_malloc(size_t n)
{
	struct arena *a = parsing;
	size_t need = (n + 15) & ~(size_t)15;

	if (a && need >= n && a->size - a->used >= need) {
		void *p = a->base + a->used;

		a->used += need;
		a->live++;
		return p;
	}
	return malloc(n); /* outside a parse, or the mapping is full */
}

static void arena_release(struct arena *a)
{
	struct arena **pp;

	for (pp = &arenas; *pp && *pp != a; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = a->next;
	munmap(a->base, a->size);
	free(a);
}

static void arena_free(void *p)
{
	struct arena *a;

	for (a = arenas; a; a = a->next)
		if ((char *)p >= a->base && (char *)p < a->base + a->size) {
			if (--a->live == 0 && a != parsing)
				arena_release(a);
			return;
		}
	free(p);
}

/* Parse text with cJSON, from an arena when it is large. */
static cJSON *parse_text(const char *text, size_t len)
{
	static __thread bool hooked;
	struct arena *a = NULL;
	cJSON *j;

	if (!hooked) {
		cJSON_Hooks h = { arena_malloc, arena_free };

		cJSON_InitHooks(&h);
		hooked = true;
	}
	if (len >= ARENA_MIN && len <= SIZE_MAX / ARENA_PER_BYTE && (a = calloc(1, sizeof(*a)))) {
		a->size = len * ARENA_PER_BYTE;
		a->base = mmap(NULL, a->size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (a->base == MAP_FAILED) {
			free(a);
			a = NULL;
		} else {
			a->next = arenas;
			arenas = a;
		}
	}
	parsing = a;
	j = cJSON_ParseWithLength(text, len);
	parsing = NULL;
	if (a && a->live == 0)
		arena_release(a); /* nothing came of it (or it was all freed already) */
	return j;
}

/*
 * Past the deadline, a loop that keeps finding input goes round at most this many more
 * times: enough to take what had arrived in time (a message and the EOF behind it), never a
 * stream that does not stop (blank lines, events, a message trickling in byte by byte).
 */
#define LATE_ROUNDS 3

static bool too_late(double deadline, int *late)
{
	return vs_now_ms() >= deadline && ++*late > LATE_ROUNDS;
}

/*
 * Next complete message, parsed; waits until deadline, which holds whatever arrives: blank
 * lines are skipped, but one deadline bounds them all. Returns 1 with *msg (and its size in
 * *size, if not NULL), -ETIMEDOUT, or another negative errno.
 */
static int read_message(struct qmp *q, double deadline, cJSON **msg, size_t *size,
			struct vs_err *err)
{
	char *nl, *line;
	size_t linelen, used;
	int rc, late = 0;

	*msg = NULL;
	for (;;) {
		if (too_late(deadline, &late))
			return -ETIMEDOUT;
		if (q->scanned < q->start)
			q->scanned = q->start;
		nl = q->len > q->scanned ? memchr(q->buf + q->scanned, '\n', q->len - q->scanned) : NULL;
		if (!nl) {
			q->scanned = q->len;
			if (q->len - q->start > q->max_msg)
				return vs_err_set(err, EMSGSIZE, "QMP message from %s exceeds %zu bytes",
						  q->who, q->max_msg);
			rc = fill(q, deadline, err);
			if (rc < 0)
				return rc;
			continue;
		}
		line = q->buf + q->start;
		used = (size_t)(nl - line) + 1;
		linelen = used - 1;
		if (linelen > 0 && line[linelen - 1] == '\r')
			linelen--;
		if (linelen > q->max_msg)
			return vs_err_set(err, EMSGSIZE, "QMP message from %s exceeds %zu bytes",
					  q->who, q->max_msg);
		if (linelen > 0 && q->trace)
			q->trace(q->trace_ctx, '<', line, linelen);
		*msg = linelen ? parse_text(line, linelen) : NULL;
		rc = linelen == 0 ? 0 : (!*msg || !cJSON_IsObject(*msg)) ? -EBADMSG : 1;
		if (rc < 0) {
			/* Quote the line only: the buffer goes on with whatever came after it. */
			vs_err_set(err, EBADMSG, "malformed QMP message from %s: '%.*s%s'", q->who,
				   (int)(linelen > 60 ? 60 : linelen), line, linelen > 60 ? "..." : "");
			cJSON_Delete(*msg);
			*msg = NULL;
		}
		q->start += used;
		q->scanned = q->start;
		if (q->start == q->len) {
			q->start = q->len = q->scanned = 0;
			if (q->cap > BUF_KEEP) {
				/* after a large message: give the memory back */
				char *nb = realloc(q->buf, BUF_KEEP);

				if (nb) {
					q->buf = nb;
					q->cap = BUF_KEEP;
				}
			}
		}
		if (size)
			*size = linelen;
		if (rc != 0)
			return rc;
	}
}

void qmp_keep_events(struct qmp *q, const char *const *names)
{
	q->keep = names;
}

size_t qmp_queued_bytes(const struct qmp *q)
{
	return q->event_bytes;
}

/* Is ev one the caller keeps, and small enough? Others are dropped as they are read. */
static bool wanted(const struct qmp *q, const cJSON *ev, size_t size)
{
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "event"));
	size_t i;

	if (size > VS_MAX_EVENT || !name)
		return false;
	for (i = 0; q->keep && q->keep[i]; i++)
		if (strcmp(q->keep[i], name) == 0)
			return true;
	return !q->keep;
}

static void drop_oldest(struct qmp *q)
{
	struct event_node *n = q->head;

	q->head = n->next;
	if (!q->head)
		q->tail = NULL;
	q->event_bytes -= n->size;
	cJSON_Delete(n->ev);
	free(n);
	q->nevents--;
}

/*
 * Keep event ev (taken) of size bytes in order; bounded in count and bytes: the oldest go
 * first. One the caller does not keep, or larger than VS_MAX_EVENT, is dropped at once.
 */
static int queue_event(struct qmp *q, cJSON *ev, size_t size, struct vs_err *err)
{
	struct event_node *n;

	if (!wanted(q, ev, size)) {
		cJSON_Delete(ev);
		return 0;
	}
	while (q->head && (q->nevents >= VS_MAX_EVENTS || q->event_bytes + size > VS_MAX_EVENT_BYTES))
		drop_oldest(q);
	n = calloc(1, sizeof(*n));
	if (!n) {
		cJSON_Delete(ev);
		return vs_err_set(err, ENOMEM, "out of memory queueing a QMP event");
	}
	n->ev = ev;
	n->size = size;
	if (q->tail)
		q->tail->next = n;
	else
		q->head = n;
	q->tail = n;
	q->nevents++;
	q->event_bytes += size;
	return 0;
}

/* Send text and its line end in one piece (QEMU then reads pipelined commands at once). */
static int send_bytes(struct qmp *q, const char *buf, size_t len, double deadline,
		      struct vs_err *err)
{
	struct pollfd pfd = { .fd = q->fd, .events = POLLOUT };
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		n = send(q->fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (poll(&pfd, 1, vs_left_ms(deadline)) == 0)
				return vs_err_set(err, ETIMEDOUT, "%s does not take input", q->chan);
			continue;
		}
		if (n < 0) {
			if (errno == EPIPE)
				return vs_err_set(err, EPIPE, "write to %s: %s closed %s connection",
						  q->chan, q->who, q->chan);
			return vs_err_set(err, errno, "write to %s: %s", q->chan, strerror(errno));
		}
		off += (size_t)n;
	}
	return 0;
}

static int send_line(struct qmp *q, const char *text, double deadline, struct vs_err *err)
{
	size_t len = strlen(text);
	char *line;
	int rc;

	if (q->trace)
		q->trace(q->trace_ctx, '>', text, len);
	line = malloc(len + 3);
	if (!line)
		return vs_err_set(err, ENOMEM, "out of memory");
	snprintf(line, len + 3, "%s\r\n", text);
	rc = send_bytes(q, line, len + 2, deadline, err);
	free(line);
	return rc;
}

int qmp_send_raw(struct qmp *q, const char *bytes, size_t len, int timeout_ms,
		 struct vs_err *err)
{
	return send_bytes(q, bytes, len, vs_now_ms() + timeout_ms, err);
}

int qmp_skip_past(struct qmp *q, unsigned char b, int timeout_ms, struct vs_err *err)
{
	double deadline = vs_now_ms() + timeout_ms;
	size_t skipped = 0;
	char *hit;
	int rc;

	for (;;) {
		hit = q->len > q->start ? memchr(q->buf + q->start, b, q->len - q->start) : NULL;
		if (hit) {
			q->start = (size_t)(hit - q->buf) + 1;
			q->scanned = q->start;
			return 0;
		}
		skipped += q->len - q->start;
		q->start = q->len = q->scanned = 0;
		if (skipped > q->max_msg)
			return vs_err_set(err, EMSGSIZE, "%s sent over %zu bytes before its delimiter",
					  q->who, q->max_msg);
		rc = fill(q, deadline, err);
		if (rc == -ETIMEDOUT)
			return vs_err_set(err, ETIMEDOUT, "no delimiter from %s within %.1f s", q->who,
					  timeout_ms / 1000.0);
		if (rc < 0)
			return rc;
	}
}

int qmp_read(struct qmp *q, int timeout_ms, cJSON **msg, struct vs_err *err)
{
	int rc = read_message(q, vs_now_ms() + timeout_ms, msg, NULL, err);

	if (rc == -ETIMEDOUT)
		return vs_err_set(err, ETIMEDOUT, "nothing from %s within %.1f s", q->who,
				  timeout_ms / 1000.0);
	return rc;
}

void qmp_set_peer_name(struct qmp *q, const char *who, const char *chan)
{
	q->who = who;
	q->chan = chan;
}

/* QEMU stays silent after accepting: another client holds its one monitor slot. */
static int busy(const struct qmp *q, int timeout_ms, struct vs_err *err)
{
	return vs_err_set(err, EBUSY, "no QMP greeting from '%s' within %.1f s: another client "
			  "(libvirtd?) holds the monitor; QEMU serves one client at a time", q->name,
			  timeout_ms / 1000.0);
}

int qmp_await(struct qmp *q, int timeout_ms, struct vs_err *err)
{
	struct pollfd pfd = { .fd = q->fd, .events = POLLIN };
	double deadline = vs_now_ms() + timeout_ms;
	int rc;

	if (q->len > q->start)
		return 0;
	do
		rc = poll(&pfd, 1, vs_left_ms(deadline));
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return vs_err_set(err, errno, "poll: %s", strerror(errno));
	return rc == 0 ? busy(q, timeout_ms, err) : 0;
}

bool qmp_hung_up(const struct qmp *q)
{
	struct pollfd pfd = { .fd = q->fd, .events = POLLIN | POLLRDHUP };

	return q->eof || (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLRDHUP | POLLHUP)));
}

int qmp_greet(struct qmp *q, int timeout_ms, unsigned long *caps_id, struct vs_err *err)
{
	cJSON *msg = NULL, *v, *ver;
	double deadline = vs_now_ms() + timeout_ms;
	int rc;

	rc = read_message(q, deadline, &msg, NULL, err);
	if (rc == -ETIMEDOUT) {
		rc = busy(q, timeout_ms, err);
		goto out;
	}
	if (rc < 0)
		goto out;
	v = cJSON_GetObjectItemCaseSensitive(msg, "QMP");
	if (!cJSON_IsObject(v)) {
		rc = vs_err_set(err, EPROTO, "'%s' did not greet as a QMP monitor", q->name);
		goto out;
	}
	ver = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(v, "version"), "qemu");
	if (cJSON_IsObject(ver)) {
		cJSON *ma = cJSON_GetObjectItemCaseSensitive(ver, "major");
		cJSON *mi = cJSON_GetObjectItemCaseSensitive(ver, "minor");
		cJSON *mc = cJSON_GetObjectItemCaseSensitive(ver, "micro");

		if (cJSON_IsNumber(ma) && cJSON_IsNumber(mi) && cJSON_IsNumber(mc))
			snprintf(q->version, sizeof(q->version), "%d.%d.%d", ma->valueint,
				 mi->valueint, mc->valueint);
	}
	rc = qmp_send(q, "qmp_capabilities", NULL, timeout_ms, caps_id, err);
out:
	cJSON_Delete(msg);
	return rc;
}

int qmp_handshake(struct qmp *q, int timeout_ms, struct vs_err *err)
{
	unsigned long id;
	int rc;

	rc = qmp_greet(q, timeout_ms, &id, err);
	return rc < 0 ? rc : qmp_receive(q, "qmp_capabilities", id, timeout_ms, NULL, err);
}

cJSON *qmp_command_new(const char *cmd, const cJSON *args)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddStringToObject(o, "execute", cmd))
		goto fail;
	if (args) {
		cJSON *a = cJSON_Duplicate(args, 1);

		if (!a)
			goto fail;
		cJSON_AddItemToObject(o, "arguments", a);
	}
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

int qmp_send(struct qmp *q, const char *cmd, const cJSON *args, int timeout_ms,
	     unsigned long *id, struct vs_err *err)
{
	char sid[32], *text = NULL;
	cJSON *c;
	int rc;

	*id = 0;
	snprintf(sid, sizeof(sid), "vcpuset-%lu", q->next_id);
	c = qmp_command_new(cmd, args);
	if (!c || !cJSON_AddStringToObject(c, "id", sid) || !(text = cJSON_PrintUnformatted(c))) {
		rc = vs_err_set(err, ENOMEM, "out of memory");
	} else {
		struct vs_err e = { 0 };

		rc = q->lost_from ? -EPIPE : send_line(q, text, vs_now_ms() + timeout_ms, &e);
		if (rc == -EPIPE || rc == -ECONNRESET) {
			/*
			 * QEMU is gone. Replies to earlier commands may still be waiting, and how it
			 * went (an EOF in the middle of a reply?) says more: qmp_receive reports it.
			 */
			if (!q->lost_from) {
				q->lost_from = q->next_id;
				q->lost = e;
			}
			rc = 0;
		} else if (rc < 0 && err) {
			*err = e;
		}
		if (rc == 0)
			*id = q->next_id++;
	}
	cJSON_Delete(c);
	free(text);
	return rc;
}

/* The number of one of our ids ("vcpuset-12" is 12), 0 for anything else. */
static unsigned long id_number(const cJSON *mid)
{
	static const char pre[] = "vcpuset-";
	const char *s;
	unsigned long n = 0;

	if (!cJSON_IsString(mid) || strncmp(mid->valuestring, pre, sizeof(pre) - 1) != 0)
		return 0;
	s = mid->valuestring + sizeof(pre) - 1;
	if (*s < '1' || *s > '9' || strlen(s) > 15)
		return 0;
	for (; *s >= '0' && *s <= '9'; s++)
		n = n * 10 + (unsigned long)(*s - '0');
	return *s ? 0 : n;
}

int qmp_receive(struct qmp *q, const char *cmd, unsigned long id, int timeout_ms, cJSON **ret,
		struct vs_err *err)
{
	bool lost = q->lost_from && id >= q->lost_from; /* never reached QEMU */
	double deadline = vs_now_ms() + (lost ? 0 : timeout_ms);
	cJSON *msg = NULL, *mid, *e;
	unsigned long n;
	size_t size = 0;
	int rc, late = 0;

	if (ret)
		*ret = NULL;
	if (id < q->recv_next || id >= q->next_id)
		return vs_err_set(err, EINVAL, "no '%s' is waiting for its reply", cmd);
	for (;;) {
		cJSON_Delete(msg);
		msg = NULL;
		/* events (and stale replies) may keep coming: the one deadline holds across them */
		rc = too_late(deadline, &late) ? -ETIMEDOUT
					       : read_message(q, deadline, &msg, &size, err);
		if (rc == -ETIMEDOUT && lost) {
			/* nothing more said before it closed: the failed send is the news */
			if (err)
				*err = q->lost;
			rc = -vs_errno_of(q->lost.errnum);
			goto out;
		}
		if (rc == -ETIMEDOUT) {
			rc = vs_err_set(err, ETIMEDOUT, "no reply to '%s' within %.1f s", cmd,
					timeout_ms / 1000.0);
			goto out;
		}
		if (rc < 0)
			goto out;
		if (cJSON_HasObjectItem(msg, "event")) {
			rc = queue_event(q, msg, size, err);
			msg = NULL;
			if (rc < 0)
				goto out;
			continue;
		}
		mid = cJSON_GetObjectItemCaseSensitive(msg, "id");
		n = id_number(mid);
		if (n >= q->recv_next && n < id)
			continue; /* the reply to a command sent earlier whose answer nobody wants */
		if (n != id) {
			/* QEMU answers in order and echoes our id: anything else is not a reply to us. */
			rc = vs_err_set(err, EPROTO, "%s answered '%s' with an unexpected id %s%.40s%s",
					q->who, cmd, cJSON_IsString(mid) ? "'" : "",
					cJSON_IsString(mid) ? mid->valuestring : "(none)",
					cJSON_IsString(mid) ? "'" : "");
			goto out;
		}
		break;
	}
	q->recv_next = id + 1;
	e = cJSON_GetObjectItemCaseSensitive(msg, "error");
	if (e) {
		cJSON *cls = cJSON_GetObjectItemCaseSensitive(e, "class");
		cJSON *desc = cJSON_GetObjectItemCaseSensitive(e, "desc");

		rc = vs_err_set(err, EREMOTEIO, "%s", cJSON_IsString(desc) ? desc->valuestring
								   : "(QEMU gave no description)");
		if (err)
			snprintf(err->qmp_class, sizeof(err->qmp_class), "%s",
				 cJSON_IsString(cls) ? cls->valuestring : "GenericError");
		goto out;
	}
	if (!cJSON_HasObjectItem(msg, "return")) {
		rc = vs_err_set(err, EPROTO, "%s's reply to '%s' has neither 'return' nor 'error'",
				q->who, cmd);
		goto out;
	}
	if (ret)
		*ret = cJSON_DetachItemFromObjectCaseSensitive(msg, "return");
	rc = 0;
out:
	cJSON_Delete(msg);
	return rc;
}

int qmp_execute(struct qmp *q, const char *cmd, const cJSON *args, int timeout_ms,
		cJSON **ret, struct vs_err *err)
{
	unsigned long id;
	int rc;

	if (ret)
		*ret = NULL;
	rc = qmp_send(q, cmd, args, timeout_ms, &id, err);
	if (rc < 0)
		return rc;
	return qmp_receive(q, cmd, id, timeout_ms, ret, err);
}

int qmp_next_event(struct qmp *q, int timeout_ms, cJSON **ev, struct vs_err *err)
{
	double deadline = vs_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	struct event_node *n;
	cJSON *msg = NULL;
	size_t size = 0;
	int rc, late = 0;

	*ev = NULL;
	for (;;) {
		if (q->head) {
			n = q->head;
			q->head = n->next;
			if (!q->head)
				q->tail = NULL;
			q->nevents--;
			q->event_bytes -= n->size;
			*ev = n->ev;
			free(n);
			return 1;
		}
		if (too_late(deadline, &late))
			return 0; /* a flood of events dropped as they come ends at the deadline too */
		rc = read_message(q, deadline, &msg, &size, err);
		if (rc == -ETIMEDOUT)
			return 0;
		if (rc < 0)
			return rc;
		if (!cJSON_HasObjectItem(msg, "event")) {
			cJSON_Delete(msg);
			return vs_err_set(err, EPROTO, "QEMU sent a reply nobody asked for");
		}
		rc = queue_event(q, msg, size, err);
		msg = NULL;
		if (rc < 0)
			return rc;
	}
}
