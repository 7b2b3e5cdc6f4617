/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vm: the conversation with one QEMU about its vCPUs (vm.h says what it owns). Ordering rule
 * of the wire: QEMU answers in the order asked, and a reply passed over cannot be read any
 * more; the identity replies, sent last at start-up, are read (settle_identity) before
 * anything new is sent or read after them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hostres.h"
#include "vm.h"

#define POLL_MS 10 /* re-query interval while waiting for an unplug */
#define REFRESH_TRIES 5

struct vm {
	struct qmp *q;
	struct hostres *h;
	struct topo_table *t;
	struct vm_opts o;
	struct vm_hooks hooks;
	struct vm_info info;
	unsigned long vq[2];  /* ids of query-hotpluggable-cpus, query-cpus-fast at start-up */
	unsigned long sq[2];  /* ids of query-status, query-migrate; 0 when not asked */
	unsigned long idq[3]; /* ids of query-name, query-uuid, query-kvm */
	unsigned long caps;   /* id of qmp_capabilities */
	int legacy_max;
	int pidfd;            /* QEMU's, owned by q; -1 without one (--trust-pid) */
	bool idq_pending;     /* identity queries sent, replies not read yet */
	bool tid_vanished;    /* the last tid refused is no thread at all */
};

static void vwarn(struct vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void vwarn(struct vm *vm, const char *fmt, ...)
{
	char buf[768];
	va_list ap;

	va_start(ap, fmt);
	/* clang 14's analyzer misses the va_start right above (a false positive): */
	vsnprintf(buf, sizeof(buf), fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized) */
	va_end(ap);
	if (vm->hooks.warn)
		vm->hooks.warn(vm->hooks.ctx, buf);
}

static int vm_new(const struct vm_opts *o, struct hostres *h, const struct vm_hooks *hooks,
		  struct vm **out, struct vs_err *err)
{
	struct vm *vm = calloc(1, sizeof(*vm));

	*out = NULL;
	if (!vm)
		return vs_err_set(err, ENOMEM, "out of memory");
	vm->o = *o;
	vm->h = h;
	if (hooks)
		vm->hooks = *hooks;
	vm->pidfd = -1;
	vm->info.can_hotplug = true;
	*out = vm;
	return 0;
}

int vm_open(const struct vm_opts *o, struct hostres *h, const struct vm_hooks *hooks,
	    struct vm **out, struct vs_err *err)
{
	int rc = vm_new(o, h, hooks, out, err);

	if (rc == 0)
		rc = qmp_open(o->socket, &(*out)->q, err); /* the name is looked up here, once */
	if (rc < 0) {
		vm_free(*out);
		*out = NULL;
	}
	return rc;
}

int vm_adopt(int fd, int pid, const struct vm_opts *o, struct hostres *h,
	     const struct vm_hooks *hooks, struct vm **out, struct vs_err *err)
{
	int rc = vm_new(o, h, hooks, out, err);

	if (rc < 0) {
		close(fd);
		return rc;
	}
	rc = qmp_adopt_fd(fd, o->socket ? o->socket : "socketpair", &(*out)->q, err);
	if (rc < 0) {
		vm_free(*out);
		*out = NULL;
		return rc;
	}
	(*out)->info.pid = pid;
	return 0;
}

void vm_free(struct vm *vm)
{
	if (!vm)
		return;
	topo_free(vm->t);
	qmp_free(vm->q);
	free(vm);
}

void vm_socket_id(const struct vm *vm, unsigned long long *dev, unsigned long long *ino)
{
	qmp_socket_id(vm->q, dev, ino);
}

const struct vm_info *vm_info(const struct vm *vm)
{
	return &vm->info;
}

const struct topo_table *vm_table(const struct vm *vm)
{
	return vm->t;
}

const char *vm_version(const struct vm *vm)
{
	return qmp_version(vm->q);
}

/*
 * Prove who serves the socket before believing anything of it. SO_PEERCRED's pid is whoever
 * last called listen() on it: that process may have exited and its number gone to another
 * (another VM's QEMU). The pidfd pins the process, and it must hold the other end of this
 * very connection; it is checked alive again after the proof (the pid was not reused
 * meanwhile) and after every refresh.
 */
static int prove_peer(struct vm *vm, struct vs_err *err)
{
	const char *sock = vm->o.socket;
	struct vs_err e = { 0 };
	unsigned long ino = 0;
	int pid = qmp_peer_pid(vm->q), rc;

	vm->pidfd = qmp_peer_pidfd(vm->q);
	/* kernels from 6.16 hand out a pidfd of an exited process too: ask it */
	if (qmp_peer_gone(vm->q) || (vm->pidfd >= 0 && !hostres_pidfd_alive(vm->pidfd)))
		return vs_err_set(err, ESRCH, "the process that listened on '%s' (pid %d) has "
				  "exited: the pid the kernel reports may be another process's now; "
				  "refusing", sock, pid);
	if (vm->pidfd < 0 && !vm->o.trust_pid)
		return vs_err_set(err, EOPNOTSUPP, "the kernel gives no pidfd for the process "
				  "serving '%s' (Linux 6.5 or later does): its pid %d cannot be proven "
				  "to be QEMU's; refusing (--trust-pid accepts it)", sock, pid);
	rc = qmp_peer_inode(vm->q, &ino, &e);
	if (rc == 0)
		rc = hostres_holds_socket(vm->h, pid, ino, &e);
	if (rc <= 0 && qmp_hung_up(vm->q)) /* nobody holds a closed end: say what happened */
		return vs_err_set(err, EPIPE, "QEMU closed the monitor connection");
	if (rc == 0)
		return vs_err_set(err, EPERM, "pid %d, which the kernel names as listening on '%s', "
				  "does not hold the other end of this connection: it is not the "
				  "process serving the monitor (the pid of whoever last called listen() "
				  "is reported, and it may be reused); refusing", pid, sock);
	if (rc < 0 && !vm->o.trust_pid)
		return vs_err_set(err, vs_errno_of(rc), "cannot prove that pid %d serves '%s': %s; "
				  "refusing (--trust-pid accepts it)", pid, sock, e.msg);
	if (rc < 0)
		vwarn(vm, "pid %d is trusted as QEMU without proof (--trust-pid): %s", pid, e.msg);
	if (vm->pidfd >= 0 && !hostres_pidfd_alive(vm->pidfd))
		return vs_err_set(err, ESRCH, "QEMU (pid %d) exited while it was identified", pid);
	vm->info.pid = pid;
	return 0;
}

int vm_connect(struct vm *vm, struct vs_err *err)
{
	int rc = qmp_dial(vm->q, vm->o.connect_ms, err);

	if (rc == 0) /* the greeting says QEMU has accepted: the connection's end is its fd now */
		rc = qmp_await(vm->q, vm->o.connect_ms, err);
	return rc < 0 ? rc : prove_peer(vm, err);
}

/*
 * A command went to QEMU and its answer never came (a timeout, a broken connection): ask QEMU
 * again on a new connection, through the same socket inode, to the same process. QEMU serves
 * one client at a time, so once it greets the new one the old command has been done or
 * dropped: the table read then is the truth. -EBUSY and the like when QEMU cannot be asked.
 */
static int reconnect(struct vm *vm, struct vs_err *err)
{
	int pid = vm->info.pid, rc;
	int old = vm->pidfd >= 0 ? fcntl(vm->pidfd, F_DUPFD_CLOEXEC, 0) : -1;

	rc = qmp_redial(vm->q, vm->o.connect_ms, err);
	if (rc == 0)
		rc = qmp_await(vm->q, vm->o.connect_ms, err);
	vm->pidfd = qmp_peer_pidfd(vm->q);
	/*
	 * The same process as proven at the start: the pid the kernel names now, and the process
	 * pinned then still alive (so that pid was not reused meanwhile).
	 */
	if (rc == 0 && (qmp_peer_pid(vm->q) != pid || (old >= 0 && !hostres_pidfd_alive(old)) ||
			(old < 0 && !vm->o.trust_pid)))
		rc = vs_err_set(err, ESRCH, "the socket is not served by QEMU (pid %d) any more", pid);
	if (old >= 0)
		close(old);
	if (rc == 0)
		rc = qmp_handshake(vm->q, vm->o.connect_ms, err);
	return rc;
}

/* ---- start-up ---- */

static int send_vcpu_queries(struct vm *vm, unsigned long ids[2], struct vs_err *err)
{
	int rc = 0;

	if (vm->info.can_hotplug)
		rc = qmp_send(vm->q, TOPO_CMD_HOTPLUGGABLE, NULL, vm->o.command_ms, &ids[0], err);
	return rc < 0 ? rc : qmp_send(vm->q, TOPO_CMD_CPUS, NULL, vm->o.command_ms, &ids[1], err);
}

/* Read both replies (hp stays NULL without hot-plug); the caller deletes them. */
static int receive_vcpu_queries(struct vm *vm, const unsigned long ids[2], cJSON **hp,
				cJSON **cf, struct vs_err *err)
{
	int rc = 0;

	*hp = *cf = NULL;
	if (vm->info.can_hotplug)
		rc = qmp_receive(vm->q, TOPO_CMD_HOTPLUGGABLE, ids[0], vm->o.command_ms, hp, err);
	return rc < 0 ? rc : qmp_receive(vm->q, TOPO_CMD_CPUS, ids[1], vm->o.command_ms, cf, err);
}

/*
 * An optional query's reply: QEMU may refuse it (older QEMU, not this machine type), and then
 * *r is NULL and the answer 0; anything else (a broken or closed monitor) is a negative errno
 * and ends the run.
 */
static int optional_reply(struct vm *vm, const char *cmd, unsigned long id, cJSON **r,
			  struct vs_err *err)
{
	struct vs_err e = { 0 };
	int rc;

	rc = qmp_receive(vm->q, cmd, id, vm->o.command_ms, r, &e);
	if (rc == -EREMOTEIO)
		return 0;
	if (rc < 0)
		*err = e;
	return rc;
}

/* The reply's string member key, when it is a name ("" otherwise). */
static void reply_name(const cJSON *r, const char *key, char *out, size_t size)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, key));

	if (s && strlen(s) < size && topo_valid_name(key, s, NULL) == 0)
		snprintf(out, size, "%s", s);
}

/* The replies to query-name, query-uuid and query-kvm, sent as vm->idq. */
static int read_identity(struct vm *vm, struct vs_err *err)
{
	struct vm_info *in = &vm->info;
	cJSON *r = NULL;
	const char *s;
	int rc;

	rc = optional_reply(vm, TOPO_CMD_NAME, vm->idq[0], &r, err);
	if (rc < 0)
		return rc;
	s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "name"));
	if (s && strlen(s) < sizeof(in->name))
		snprintf(in->name, sizeof(in->name), "%s", s);
	cJSON_Delete(r);
	rc = optional_reply(vm, TOPO_CMD_UUID, vm->idq[1], &r, err);
	if (rc < 0)
		return rc;
	s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "UUID"));
	if (s && strlen(s) == 36 && strspn(s, "0123456789abcdefABCDEF-") == 36 &&
	    strspn(s, "0-") != 36)
		snprintf(in->uuid, sizeof(in->uuid), "%s", s);
	cJSON_Delete(r);
	rc = optional_reply(vm, TOPO_CMD_KVM, vm->idq[2], &r, err);
	if (rc < 0)
		return rc;
	in->kvm = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "enabled"));
	cJSON_Delete(r);
	return 0;
}

int vm_identity(struct vm *vm, struct vs_err *err)
{
	if (!vm->idq_pending)
		return 0;
	vm->idq_pending = false;
	return read_identity(vm, err);
}

static int optional_query(struct vm *vm, const char *cmd, cJSON **r, struct vs_err *err)
{
	unsigned long id = 0;
	int rc;

	*r = NULL;
	rc = vm_identity(vm, err);
	if (rc == 0)
		rc = qmp_send(vm->q, cmd, NULL, vm->o.command_ms, &id, err);
	return rc < 0 ? rc : optional_reply(vm, cmd, id, r, err);
}

/* Does this QEMU list command name in query-commands? 1 yes, 0 no, < 0 broken monitor. */
static int has_command(struct vm *vm, const char *name, struct vs_err *err)
{
	cJSON *r = NULL, *it;
	int rc, found = 0;

	rc = optional_query(vm, TOPO_CMD_COMMANDS, &r, err);
	if (rc < 0)
		return rc;
	cJSON_ArrayForEach(it, r) {
		const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "name"));

		if (n && strcmp(n, name) == 0)
			found = 1;
	}
	cJSON_Delete(r);
	return found;
}

/* The replies to query-status and query-migrate, when they were asked. */
static int read_run_state(struct vm *vm, struct vs_err *err)
{
	struct vm_info *in = &vm->info;
	cJSON *r = NULL;
	int rc;

	if (!vm->sq[0])
		return 0;
	rc = optional_reply(vm, TOPO_CMD_STATUS, vm->sq[0], &r, err);
	if (rc < 0)
		return rc;
	reply_name(r, "status", in->run_state, sizeof(in->run_state));
	cJSON_Delete(r);
	rc = optional_reply(vm, TOPO_CMD_MIGRATE, vm->sq[1], &r, err);
	if (rc < 0)
		return rc;
	/* a reply without a status: no migration ever */
	snprintf(in->migration, sizeof(in->migration), "%s",
		 r && !cJSON_GetObjectItemCaseSensitive(r, "status") ? "none" : "");
	reply_name(r, "status", in->migration, sizeof(in->migration));
	cJSON_Delete(r);
	return 0;
}

int vm_start(struct vm *vm, struct vs_err *err)
{
	int rc;

	qmp_keep_events(vm->q, topo_events); /* and no other: they are dropped as they come */
	if (vm->hooks.trace)
		qmp_set_trace(vm->q, vm->hooks.trace, vm->hooks.ctx);
	/*
	 * Every start-up command in one go, right behind qmp_capabilities: QEMU answers them back
	 * to back. The identity queries go last and are read last (vm_identity), so that the
	 * caller's host work up to the first plug runs while QEMU answers them.
	 */
	rc = qmp_greet(vm->q, vm->o.connect_ms, &vm->caps, err);
	if (rc == 0)
		rc = send_vcpu_queries(vm, vm->vq, err);
	if (rc == 0 && vm->o.ask_state) {
		rc = qmp_send(vm->q, TOPO_CMD_STATUS, NULL, vm->o.command_ms, &vm->sq[0], err);
		if (rc == 0)
			rc = qmp_send(vm->q, TOPO_CMD_MIGRATE, NULL, vm->o.command_ms, &vm->sq[1], err);
	}
	if (rc == 0 && vm->o.ask_identity) {
		rc = qmp_send(vm->q, TOPO_CMD_NAME, NULL, vm->o.command_ms, &vm->idq[0], err);
		if (rc == 0)
			rc = qmp_send(vm->q, TOPO_CMD_UUID, NULL, vm->o.command_ms, &vm->idq[1], err);
		if (rc == 0)
			rc = qmp_send(vm->q, TOPO_CMD_KVM, NULL, vm->o.command_ms, &vm->idq[2], err);
		vm->idq_pending = rc == 0;
	}
	return rc;
}

static int refresh(struct vm *vm, cJSON *hp, cJSON *cf, struct vs_err *err);

/*
 * QEMU refused query-hotpluggable-cpus (probe says how): no hot-plug on this machine, unless
 * it is an older QEMU with cpu-add. *cf gets the start-up's query-cpus-fast reply.
 */
static int read_without_hotplug(struct vm *vm, const struct vs_err *probe, cJSON **cf,
				struct vs_err *err)
{
	int rc, legacy = 0;

	vm->info.can_hotplug = false;
	snprintf(vm->info.hotplug_error, sizeof(vm->info.hotplug_error), "%s", probe->msg);
	rc = qmp_receive(vm->q, TOPO_CMD_CPUS, vm->vq[1], vm->o.command_ms, cf, err);
	if (rc == 0)
		rc = read_run_state(vm, err);
	if (rc == 0 && strcmp(probe->qmp_class, "CommandNotFound") == 0)
		rc = legacy = has_command(vm, TOPO_CMD_LEGACY_ADD, err);
	if (rc < 0)
		return rc;
	if (legacy)
		vm->info.hotplug_error[0] = '\0'; /* legacy cpu-add */
	return 0;
}

/* Legacy QEMU does not say its maximum; it refuses cpu-add past it: COUNT's, if above. */
static int legacy_maximum(struct vm *vm, struct vs_err *err)
{
	struct topo_count tc;
	long long want;
	int n = vm->t->n, online = vm->t->online;

	if (vm->info.can_hotplug || vm->info.hotplug_error[0] || !vm->o.count ||
	    topo_parse_count(vm->o.count, &tc, NULL) < 0)
		return 0;
	want = tc.sign == '+' ? online + tc.n : tc.sign == '-' ? online - tc.n : tc.n;
	if (want <= n || want > VS_MAX_SLOTS)
		return 0;
	vm->legacy_max = (int)want;
	return refresh(vm, NULL, NULL, err);
}

int vm_read(struct vm *vm, struct vs_err *err)
{
	cJSON *hp = NULL, *cf = NULL;
	int rc;

	rc = qmp_receive(vm->q, "qmp_capabilities", vm->caps, vm->o.connect_ms, NULL, err);
	if (rc < 0)
		return rc;
	rc = qmp_receive(vm->q, TOPO_CMD_HOTPLUGGABLE, vm->vq[0], vm->o.command_ms, &hp, err);
	if (rc == -EREMOTEIO) {
		struct vs_err probe = *err;

		memset(err, 0, sizeof(*err));
		rc = read_without_hotplug(vm, &probe, &cf, err);
	} else if (rc == 0) {
		if (vm->hooks.meanwhile) /* host work while QEMU answers query-cpus-fast */
			vm->hooks.meanwhile(vm->hooks.ctx);
		rc = qmp_receive(vm->q, TOPO_CMD_CPUS, vm->vq[1], vm->o.command_ms, &cf, err);
		if (rc == 0)
			rc = read_run_state(vm, err);
	}
	if (rc < 0) {
		cJSON_Delete(hp);
		cJSON_Delete(cf);
		return rc;
	}
	rc = refresh(vm, hp, cf, err); /* the start-up replies are the first refresh's */
	return rc < 0 ? rc : legacy_maximum(vm, err);
}

int vm_preflight(struct vm *vm, bool force, struct vs_err *err)
{
	static const char *const settled[] = { "none", "completed", "failed", "cancelled" };
	const char *st = vm->info.run_state, *mig = vm->info.migration;
	bool paused = strcmp(st, "paused") == 0, prelaunch = strcmp(st, "prelaunch") == 0;
	char why[320];
	size_t i;

	/* the accelerator is known when the identity was asked; else assume the worst, TCG */
	if (topo_qemu_known_bad(qmp_version(vm->q), !vm->info.kvm, why, sizeof(why)))
		vwarn(vm, "%s", why);
	if (!st[0])
		vwarn(vm, "%s", "QEMU does not say whether the VM runs (query-status): not checked");
	else if (strcmp(st, "running") != 0 && !((paused || prelaunch) && force))
		return vs_err_set(err, EAGAIN, "the VM is %s, not running: %s; nothing was sent", st,
				  paused ? "a plug would not be seen and an unplug would stay pending "
					   "until it resumes (--force changes it anyway)"
				  : prelaunch ? "its guest has not started (--force changes it anyway: "
						"the vCPU is there at start)"
				  : "the guest cannot take a change now");
	else if (strcmp(st, "running") != 0)
		vwarn(vm, "the VM is %s (--force): the guest sees the change when it runs", st);
	for (i = 0; i < sizeof(settled) / sizeof(*settled); i++)
		if (strcmp(mig, settled[i]) == 0)
			return 0;
	if (!mig[0]) {
		vwarn(vm, "%s", "QEMU does not say whether a migration is under way (query-migrate): "
		      "not checked");
		return 0;
	}
	return vs_err_set(err, EBUSY, "a migration of the VM is under way (%s): a change now "
			  "would not reach the guest that runs after it, and QEMU may hang; nothing "
			  "was sent", mig);
}

/* ---- the table ---- */

static int is_qemu_thread(void *ctx, int tid)
{
	struct vm *vm = ctx;
	int rc = hostres_is_thread_of(vm->h, vm->info.pid, tid);

	/* not QEMU's: is it gone altogether (an unplugged vCPU's), or someone else's? */
	vm->tid_vanished = rc != 1 && hostres_is_thread_of(vm->h, tid, tid) == 0;
	return rc;
}

/* After acting on threads by number: was QEMU there all along? */
static int qemu_alive(const struct vm *vm, struct vs_err *err)
{
	if (vm->pidfd >= 0 && !hostres_pidfd_alive(vm->pidfd))
		return vs_err_set(err, ESRCH, "QEMU (pid %d) has exited: its thread ids may be "
				  "another process's now", vm->info.pid);
	return 0;
}

/* One try: the table from both replies, its thread ids checked. */
static int build(struct vm *vm, const cJSON *hp, const cJSON *cf, struct topo_table **nt,
		 struct vs_err *err)
{
	int rc;

	rc = topo_build(vm->info.can_hotplug ? hp : NULL, cf, vm->info.pid, vm->legacy_max, vm->t,
			nt, err);
	if (rc < 0)
		return rc;
	/*
	 * A vCPU being unplugged has its thread gone a moment before QEMU stops listing it: ask
	 * again. A thread of another process fails at once.
	 */
	rc = topo_check_tids(*nt, vm->info.pid, is_qemu_thread, vm, err);
	if (rc == 0)
		rc = qemu_alive(vm, err);
	if (rc < 0) {
		topo_free(*nt);
		*nt = NULL;
	}
	return rc;
}

/*
 * Rebuild the table from both vCPU queries; asked again when QEMU changed in between. hp and
 * cf, if not NULL, are replies just received (taken over): the first try uses them instead
 * of asking (hp alone: only query-cpus-fast is asked). Both queries go out in one go, so QEMU
 * answers the second without waiting.
 */
static int refresh(struct vm *vm, cJSON *hp, cJSON *cf, struct vs_err *err)
{
	struct topo_table *nt = NULL;
	unsigned long ids[2] = { 0 };
	int rc = 0, i;

	for (i = 0; i < REFRESH_TRIES; i++) {
		if (i) {
			cJSON_Delete(hp);
			cJSON_Delete(cf);
			hp = cf = NULL;
		}
		if (!cf) /* before QEMU is asked anything new */
			rc = vm_identity(vm, err);
		if (rc == 0 && !hp && !cf) {
			rc = send_vcpu_queries(vm, ids, err);
			if (rc == 0)
				rc = receive_vcpu_queries(vm, ids, &hp, &cf, err);
		} else if (rc == 0 && !cf) {
			rc = qmp_execute(vm->q, TOPO_CMD_CPUS, NULL, vm->o.command_ms, &cf, err);
		}
		if (rc == 0)
			rc = build(vm, hp, cf, &nt, err);
		else
			break;
		if (rc != -EAGAIN && (rc != -ESRCH || !vm->tid_vanished || i + 1 == REFRESH_TRIES))
			break;
		usleep(20000);
	}
	cJSON_Delete(hp);
	cJSON_Delete(cf);
	if (rc < 0)
		return rc;
	topo_free(vm->t);
	vm->t = nt;
	return 0;
}

/*
 * The table after a step, from the query-cpus-fast reply cf (taken) alone (topo_update), its
 * thread ids checked as a refresh checks them: a step costs the same at 64 slots or 4096.
 * When the reply is not prev after this step (another client changed the VM), or a thread
 * has just gone, both queries are asked again (refresh).
 */
static int follow(struct vm *vm, cJSON *cf, int slot, const char *new_path, struct vs_err *err)
{
	struct topo_undo *undo = NULL;
	int rc;

	vm->tid_vanished = false;
	rc = topo_update(vm->t, cf, vm->info.pid, slot, new_path, &undo, err);
	cJSON_Delete(cf);
	if (rc == 0)
		rc = topo_check_tids(vm->t, vm->info.pid, is_qemu_thread, vm, err);
	if (rc == 0)
		rc = qemu_alive(vm, err);
	if (rc == 0) {
		topo_undo_free(undo);
		return 0;
	}
	topo_undo(vm->t, undo); /* the table as it was before the step */
	if (rc != -EAGAIN && (rc != -ESRCH || !vm->tid_vanished))
		return rc;
	memset(err, 0, sizeof(*err));
	return refresh(vm, NULL, NULL, err);
}

int vm_refresh(struct vm *vm, struct vs_err *err)
{
	return refresh(vm, NULL, NULL, err);
}

int vm_next_event(struct vm *vm, int timeout_ms, cJSON **ev, struct vs_err *err)
{
	return qmp_next_event(vm->q, timeout_ms, ev, err);
}

/* ---- plug ---- */

/*
 * device_add went out and its answer never came: ask QEMU again (reconnect). 0 when QEMU has
 * plugged it (the table is fresh), -EIO when it has not, -ENOTRECOVERABLE when QEMU cannot be
 * asked: the outcome is unknown.
 */
static int learn_plug(struct vm *vm, const struct topo_step *s, struct vm_plug *res,
		      struct vs_err *err)
{
	struct vs_err why = *err, e = { 0 };
	int rc;

	rc = reconnect(vm, &e);
	if (rc == 0)
		rc = refresh(vm, NULL, NULL, &e);
	if (rc < 0)
		return vs_err_set(err, ENOTRECOVERABLE, "device_add got no answer (%.200s), and QEMU "
				  "cannot be asked again (%.200s): whether vCPU %d is plugged is "
				  "unknown; no audit record was written ('vcpuset --status' tells, once "
				  "QEMU answers)", why.msg, e.msg, s->vcpu);
	if (!vm->t->v[s->vcpu].online) {
		res->record = VM_REC_FAILED;
		return vs_err_set(err, EIO, "device_add got no answer (%.200s); asked again, QEMU has "
				  "not plugged it", why.msg);
	}
	res->record = VM_REC_OK;
	res->learned = true;
	snprintf(res->why, sizeof(res->why), "%.200s", why.msg);
	memset(err, 0, sizeof(*err));
	return 0;
}

/* The plugged entity as QEMU lists it now: online, with threads it did not have before. */
static int check_plugged(const struct vm *vm, const struct topo_step *s, const int *before,
			 int nbefore, struct vm_plug *res, struct vs_err *err)
{
	const struct topo_table *t = vm->t;
	int i, k;

	for (i = s->vcpu; i < s->vcpu + s->vcpus; i++)
		if (!t->v[i].online)
			return vs_err_set(err, EPROTO, "QEMU accepted it but does not list vCPU %d "
					  "online", i);
	for (i = s->vcpu; t->tids_valid && i < s->vcpu + s->vcpus; i++) {
		res->undo = true; /* plugged, and not to be kept as it is: out again */
		if (t->v[i].tid <= 0)
			return vs_err_set(err, EPROTO, "QEMU reports no thread for vCPU %d", i);
		for (k = 0; k < nbefore; k++)
			if (before[k] == t->v[i].tid)
				return vs_err_set(err, EPROTO, "QEMU names thread %d for the new vCPU %d, "
						  "but that thread was there before the plug: it is "
						  "not the new vCPU's; refusing to touch it",
						  t->v[i].tid, i);
	}
	res->undo = false;
	return 0;
}

/* The qom-path QEMU gives a device_add'ed vCPU: "/machine/peripheral/<id>" (NULL: no id). */
static const char *device_path(const cJSON *args, char *buf, size_t size)
{
	const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(args, "id"));

	if (!id || topo_valid_name("id", id, NULL) < 0 ||
	    (size_t)snprintf(buf, size, "/machine/peripheral/%s", id) >= size)
		return NULL;
	return buf;
}

int vm_plug(struct vm *vm, const struct topo_step *s, const cJSON *qmp, struct vm_plug *res,
	    struct vs_err *err)
{
	const char *cmd = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(qmp, "execute"));
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(qmp, "arguments");
	unsigned long ids[2] = { 0 }, id = 0;
	cJSON *hp = NULL, *cf = NULL;
	char buf[TOPO_PATH_MAX];
	const char *path = vm->t->legacy ? NULL : device_path(args, buf, sizeof(buf));
	struct vs_err qerr;
	int rc, nbefore = 0, *before = NULL;
	bool queried;

	memset(res, 0, sizeof(*res));
	rc = vm_identity(vm, err); /* before QEMU is asked anything new */
	if (rc < 0)
		return rc;
	/* QEMU's threads before: the new vCPU's must not be one of them */
	if (vm->t->tids_valid && hostres_tasks(vm->h, vm->info.pid, &before, &nbefore) < 0)
		nbefore = -1;
	/*
	 * What QEMU lists goes out with device_add: it answers right after it, plugged or not.
	 * query-cpus-fast alone tells what one step changed (follow); a legacy QEMU's table is
	 * made of it anyway.
	 */
	rc = qmp_send(vm->q, cmd, args, vm->o.command_ms, &id, err);
	if (rc == 0 && path)
		queried = qmp_send(vm->q, TOPO_CMD_CPUS, NULL, vm->o.command_ms, &ids[1], &qerr) == 0;
	else
		queried = rc == 0 && send_vcpu_queries(vm, ids, &qerr) == 0;
	if (rc == 0)
		rc = qmp_receive(vm->q, cmd, id, vm->o.command_ms, NULL, err);
	if (rc < 0 && rc != -EREMOTEIO && id) {
		/* sent, and no answer: never "unchanged" without asking QEMU what it did */
		rc = learn_plug(vm, s, res, err);
		queried = false; /* the table is the new connection's */
	} else if (id) { /* QEMU answered: success, or a refusal */
		res->record = rc == 0 ? VM_REC_OK : VM_REC_FAILED;
	}
	if (rc == 0 && queried && path) {
		rc = qmp_receive(vm->q, TOPO_CMD_CPUS, ids[1], vm->o.command_ms, &cf, err);
		if (rc == 0)
			rc = follow(vm, cf, s->vcpu, path, err);
		res->undo = rc < 0; /* QEMU took it: a failure takes the vCPU out again */
	} else if (rc == 0 && queried) {
		rc = receive_vcpu_queries(vm, ids, &hp, &cf, err);
		if (rc == 0)
			rc = refresh(vm, hp, cf, err);
		else
			cJSON_Delete(hp);
		res->undo = rc < 0;
	}
	if (rc == 0)
		rc = check_plugged(vm, s, before, nbefore, res, err);
	free(before);
	return rc;
}

/* ---- unplug ---- */

/*
 * Is the unplugged entity gone from QEMU's vCPUs (query-cpus-fast: the online ones, a reply
 * that does not grow with the slots)? 1 gone, 0 not yet, negative errno. When gone, *cf keeps
 * the reply that says so.
 */
static int slot_gone(struct vm *vm, const struct topo_vcpu *head, cJSON **cf, struct vs_err *err)
{
	int rc;

	rc = qmp_execute(vm->q, TOPO_CMD_CPUS, NULL, vm->o.command_ms, cf, err);
	if (rc == 0)
		rc = topo_cpus_list(*cf, head->qom_path, err);
	if (rc != 0) {
		cJSON_Delete(*cf);
		*cf = NULL;
	}
	return rc < 0 ? rc : rc == 0;
}

/*
 * Send device_del; when its answer is lost, ask again on a new connection (a second
 * device_del says whether the first was taken). 1 when QEMU says the entity is not there any
 * more (DeviceNotFound), 0 when taken, a negative errno otherwise.
 */
static int send_del(struct vm *vm, const char *cmd, const cJSON *args, struct vm_unplug *res,
		    struct vs_err *err)
{
	int rc;

	rc = qmp_execute(vm->q, cmd, args, vm->o.command_ms, NULL, err);
	if (rc < 0 && rc != -EREMOTEIO) {
		/* no answer: whether QEMU took it is unknown; ask again on a new connection */
		struct vs_err why = *err, e = { 0 };

		if (reconnect(vm, &e) < 0)
			return vs_err_set(err, ENOTRECOVERABLE, "device_del got no answer (%.200s) and "
					  "QEMU cannot be asked again (%.200s): whether the unplug "
					  "was taken is unknown", why.msg, e.msg);
		rc = qmp_execute(vm->q, cmd, args, vm->o.command_ms, NULL, err);
		if (rc == -EREMOTEIO && strstr(err->msg, "already in the process of unplug")) {
			rc = 0; /* the first one was taken after all */
			memset(err, 0, sizeof(*err));
		}
	}
	res->accepted = rc == 0;
	if (rc == -EREMOTEIO && strcmp(err->qmp_class, "DeviceNotFound") == 0) {
		memset(err, 0, sizeof(*err));
		return 1; /* already removed: the refresh after the wait confirms it */
	}
	if (rc < 0)
		res->record = VM_REC_FAILED; /* refused, or the monitor broke */
	return rc;
}

/*
 * Wait up to deadline for the entity (head) to leave QEMU's vCPUs: 1 gone (*freed keeps the
 * reply that showed it), 0 still there, -EPERM the guest refused it (and QEMU still lists
 * it), a negative errno on errors. Under TCG QEMU never announces the vCPU device itself
 * as deleted, only its lapic child: events only hurry the next look, QEMU's list is the
 * proof (query-cpus-fast: QEMU drops the vCPU from it and from the slot list at once).
 */
static int wait_gone(struct vm *vm, const struct topo_vcpu *head, double deadline,
		     cJSON **freed, struct vs_err *err)
{
	double start = vs_now_ms(), next_poll = start + POLL_MS, now;
	bool rejected = false, look;
	cJSON *ev;
	int rc;

	for (;;) {
		if (vm->hooks.progress)
			vm->hooks.progress(vm->hooks.ctx, vs_now_ms() - start, deadline - start, false);
		now = vs_now_ms();
		rc = qmp_next_event(vm->q, (int)((next_poll < deadline ? next_poll : deadline) - now),
				    &ev, err);
		if (rc < 0)
			return rc;
		look = false;
		if (rc == 1) {
			enum topo_event k = topo_event_kind(ev, head->alias, head->qom_path);

			if (vm->hooks.event)
				vm->hooks.event(vm->hooks.ctx, ev);
			rejected = k == TOPO_EV_REJECTED;
			look = k == TOPO_EV_DELETED || k == TOPO_EV_RELATED;
			cJSON_Delete(ev);
		}
		now = vs_now_ms();
		if (rejected)
			break;
		if (look || now >= next_poll || now >= deadline) {
			rc = slot_gone(vm, head, freed, err);
			if (rc != 0)
				return rc;
			next_poll = vs_now_ms() + POLL_MS;
		}
		if (now >= deadline || (vm->o.stop && *vm->o.stop))
			return 0; /* a signal: what is left of the wait is a later run's */
	}
	/* believed only if QEMU still lists it: a hostile QEMU may say so of a vCPU it frees */
	rc = slot_gone(vm, head, freed, err);
	if (rc == 0)
		return vs_err_set(err, EPERM, "the guest refused to release it");
	return rc;
}

int vm_unplug(struct vm *vm, int vcpu, int vcpus, const cJSON *qmp, double timeout_ms,
	      struct vm_unplug *res, struct vs_err *err)
{
	const char *cmd = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(qmp, "execute"));
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(qmp, "arguments");
	struct topo_vcpu head = vm->t->v[vcpu];
	char qom[TOPO_PATH_MAX];
	cJSON *freed = NULL;
	int rc, i;

	memset(res, 0, sizeof(*res));
	/* a copy for matching only, with nothing of the table's: it may be rebuilt below */
	snprintf(qom, sizeof(qom), "%s", head.qom_path);
	head.qom_path = qom;
	head.type = "";
	head.extra = NULL;
	rc = send_del(vm, cmd, args, res, err);
	if (rc < 0)
		return rc;
	if (rc == 0 && vm->hooks.waiting)
		vm->hooks.waiting(vm->hooks.ctx);
	if (rc == 0)
		rc = wait_gone(vm, &head, vs_now_ms() + timeout_ms, &freed, err);
	if (vm->hooks.progress) /* the wait is over, whatever became of it */
		vm->hooks.progress(vm->hooks.ctx, 0, timeout_ms, true);
	if (rc == -EPERM)
		res->record = VM_REC_FAILED;
	if (rc < 0)
		return rc;
	if (rc == 0)
		return -EINPROGRESS;
	/* the reply that showed it gone is the table's; DeviceNotFound: both queries */
	rc = freed ? follow(vm, freed, vcpu, NULL, err) : refresh(vm, NULL, NULL, err);
	if (rc < 0)
		return rc;
	if (!vm->t) /* a refresh that succeeds leaves a table: for the analyzer */
		return vs_err_set(err, EPROTO, "%s", "no vCPU table");
	for (i = vcpu; i < vcpu + vcpus; i++)
		if (vm->t->v[i].online || (vm->t->tids_valid && vm->t->v[i].tid)) {
			res->record = VM_REC_FAILED;
			return vs_err_set(err, EPROTO, "QEMU still lists vCPU %d after removing it", i);
		}
	res->record = VM_REC_OK;
	return 0;
}

int vm_unplug_again(struct vm *vm, const struct topo_step *s, const cJSON *plug_qmp,
		    double timeout_ms, struct vm_unplug *res, struct vs_err *err)
{
	struct topo_step u = { TOPO_UNPLUG, s->vcpu, s->vcpus, s->after, s->before };
	const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(plug_qmp, "arguments"), "id"));
	struct topo_vcpu *v = &vm->t->v[s->vcpu];
	const char *cmd;
	cJSON *args = NULL, *qmp;
	int rc;

	memset(res, 0, sizeof(*res));
	if (vm->t->legacy)
		return vs_err_set(err, EOPNOTSUPP, "it cannot be unplugged (legacy QEMU)");
	/* No refresh after the plug (it failed): the id is the one device_add was given. */
	if (!v->alias[0] && id && topo_valid_name("id", id, NULL) == 0 && strlen(id) < sizeof(v->alias))
		snprintf(v->alias, sizeof(v->alias), "%s", id);
	rc = topo_step_command(vm->t, &u, &cmd, &args, err);
	if (rc < 0)
		return rc;
	qmp = qmp_command_new(cmd, args);
	cJSON_Delete(args);
	rc = vm_unplug(vm, s->vcpu, s->vcpus, qmp, timeout_ms, res, err);
	cJSON_Delete(qmp);
	return rc;
}

/* ---- the guest agent's channel, as QEMU has it ---- */

#define QOM_LIST_MAX 4096 /* children of a container looked at */
#define PORTS_MAX 64      /* virtserialports asked for their name */

/* A QOM child's name as QEMU lists it: printable, no '/', short ("device[0]", "channel0"). */
static bool qom_child_name(const char *s)
{
	size_t n = strlen(s), i;

	for (i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e || s[i] == '/' || s[i] == '"' || s[i] == '\\')
			return false;
	return n > 0 && n < TOPO_NAME_MAX;
}

/* qom-get path.property, a string (NULL when it is none; caller frees). */
static char *qom_string(struct vm *vm, const char *path, const char *prop, struct vs_err *err)
{
	cJSON *a = cJSON_CreateObject(), *r = NULL;
	char *s = NULL;

	if (a && cJSON_AddStringToObject(a, "path", path) && cJSON_AddStringToObject(a, "property", prop) &&
	    qmp_execute(vm->q, "qom-get", a, vm->o.command_ms, &r, err) == 0 && cJSON_IsString(r) &&
	    strlen(r->valuestring) < TOPO_PATH_MAX)
		s = strdup(r->valuestring);
	cJSON_Delete(a);
	cJSON_Delete(r);
	return s;
}

/* The chardev label of the virtserialport named port among container's children, or NULL. */
static char *port_chardev(struct vm *vm, const char *container, const char *port, int *asked,
			  struct vs_err *err)
{
	cJSON *a = cJSON_CreateObject(), *r = NULL, *it;
	char path[TOPO_PATH_MAX], *label = NULL, *name;
	int k = 0;

	if (!a || !cJSON_AddStringToObject(a, "path", container) ||
	    qmp_execute(vm->q, "qom-list", a, vm->o.command_ms, &r, err) < 0) {
		cJSON_Delete(a);
		return NULL;
	}
	cJSON_ArrayForEach(it, r) {
		const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "name"));
		const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "type"));

		if (label || ++k > QOM_LIST_MAX || *asked >= PORTS_MAX)
			break;
		if (!n || !t || strcmp(t, "child<virtserialport>") != 0 || !qom_child_name(n))
			continue;
		snprintf(path, sizeof(path), "%s/%s", container, n);
		++*asked;
		name = qom_string(vm, path, "name", err);
		if (name && strcmp(name, port) == 0)
			label = qom_string(vm, path, "chardev", err);
		free(name);
	}
	cJSON_Delete(a);
	cJSON_Delete(r);
	return label;
}

/* "unix:PATH,server=on" (or "disconnected:unix:..."): PATH, when QEMU listens on it. */
static int chardev_socket(const char *filename, char *path, size_t size, struct vs_err *err)
{
	const char *p = filename, *comma;
	size_t n, i;

	if (strncmp(p, "disconnected:", 13) == 0)
		p += 13;
	if (strncmp(p, "unix:", 5) != 0)
		return vs_err_set(err, EOPNOTSUPP, "the guest agent's chardev is '%.80s', not a "
				  "unix socket", filename);
	p += 5;
	comma = strchr(p, ',');
	n = comma ? (size_t)(comma - p) : strlen(p);
	if (!comma || !strstr(comma, ",server"))
		return vs_err_set(err, EOPNOTSUPP, "the guest agent's chardev '%.80s' is not a socket "
				  "QEMU listens on", filename);
	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			break;
	if (n == 0 || i < n || n >= size || n >= 108)
		return vs_err_set(err, EINVAL, "the guest agent's socket path in '%.80s' is not one "
				  "vcpuset takes", filename);
	memcpy(path, p, n);
	path[n] = 0;
	return 0;
}

/* query-chardev: label's socket path and frontend-open. */
static int chardev_of(struct vm *vm, const char *label, char *path, size_t size, bool *open,
		      struct vs_err *err)
{
	cJSON *r = NULL, *it;
	int rc = qmp_execute(vm->q, "query-chardev", NULL, vm->o.command_ms, &r, err);

	if (rc < 0)
		return rc;
	rc = vs_err_set(err, ENOENT, "QEMU lists no chardev '%s'", label);
	cJSON_ArrayForEach(it, r) {
		const char *l = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "label"));
		const char *f = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "filename"));
		const cJSON *fo = cJSON_GetObjectItemCaseSensitive(it, "frontend-open");

		if (!l || strcmp(l, label) != 0)
			continue;
		rc = f ? chardev_socket(f, path, size, err)
		       : vs_err_set(err, EBADMSG, "QEMU's chardev '%s' has no filename", label);
		*open = !cJSON_IsBool(fo) || cJSON_IsTrue(fo);
		break;
	}
	cJSON_Delete(r);
	return rc;
}

int vm_agent_channel(struct vm *vm, const char *port, char *path, size_t size, bool *guest_open,
		     struct vs_err *err)
{
	static const char *const containers[] = { "/machine/peripheral", "/machine/peripheral-anon" };
	char *label = NULL;
	int rc, k, asked = 0;

	*guest_open = false;
	rc = vm_identity(vm, err);
	for (k = 0; rc == 0 && !label && k < 2; k++) {
		struct vs_err e = { 0 };

		label = port_chardev(vm, containers[k], port, &asked, &e);
		if (!label && (e.errnum == EPIPE || e.errnum == ETIMEDOUT))
			rc = vs_err_set(err, e.errnum, "%s", e.msg);
		else if (!label && strcmp(e.qmp_class, "CommandNotFound") == 0)
			rc = vs_err_set(err, EOPNOTSUPP, "QEMU cannot list its devices (%s)", e.msg);
	}
	if (rc < 0)
		return rc;
	if (!label)
		return vs_err_set(err, ENOENT, "QEMU has no virtio-serial port named %s", port);
	if (topo_valid_name("chardev", label, err) == 0)
		rc = chardev_of(vm, label, path, size, guest_open, err);
	else
		rc = -EINVAL;
	free(label);
	return rc;
}
