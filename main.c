/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vcpuset: set the live vCPU count of a running QEMU guest over its QMP monitor.
 *
 * Map of the modules:
 *   main.c    options, the five phases (parse, gather, plan, apply, report), exit code
 *   qmp.c     the monitor connection: greeting, commands by id, events, timeouts
 *   topo.c    QEMU's vCPU replies -> one table; COUNT -> steps; cpulists (pure)
 *   hostres.c everything on the host: /proc, sysfs, cgroups, affinity, resctrl
 * This file names no QMP command and no host path: it asks the modules.
 */
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "hostres.h"
#include "qmp.h"
#include "topo.h"

#define CONNECT_MS 3000  /* connect and greeting */
#define COMMAND_MS 30000 /* any one QMP command */
#define POLL_MS 10       /* re-query interval while waiting for an unplug */
#define REFRESH_TRIES 5

struct opts {
	const char *socket;
	const char *count;
	bool status;
	bool dry_run;
	bool json;
	bool verbose;
	bool timeout_set;
	double timeout_s;
};

enum step_status { ST_PLANNED, ST_DONE, ST_PENDING, ST_FAILED };
static const char *const status_names[] = { "planned", "done", "pending", "failed" };

struct step_result {
	enum step_status status;
	double ms;
	int tid;
	char alias[TOPO_NAME_MAX];
	char qom_path[TOPO_PATH_MAX];
	cJSON *qmp; /* the command sent, or to be sent */
	char error[512];
};

struct ctx {
	struct opts o;
	struct qmp *q;
	struct hostres *h;
	int pid;
	char name[256];
	char uuid[40];
	bool kvm;
	bool can_hotplug;
	int legacy_max;
	char hotplug_error[512];
	struct topo_table *t;
	struct topo_plan plan;
	struct step_result *res;
	int done_steps;
	int before, after;
	cJSON *warnings;
	struct vs_err err;
	bool failed;
	int exit;
};

static const char usage_text[] =
	"Usage: vcpuset [options] --socket PATH COUNT\n"
	"       vcpuset [options] --socket PATH --status\n"
	"\n"
	"Set the number of online vCPUs of a running QEMU guest through its QMP monitor.\n"
	"COUNT is absolute (6) or relative (+2, -1).\n"
	"\n"
	"Options:\n"
	" -n, --dry-run          print the plan and its QMP commands, change nothing\n"
	" -h, --help             print this help and exit\n"
	" -j, --json             print one JSON document on stdout\n"
	" -s, --socket PATH      QEMU's QMP monitor socket\n"
	" -l, --status           print the vCPU table and exit\n"
	" -t, --timeout SECONDS  wait this long for each unplug (default 5, 10 on pseries)\n"
	" -v, --verbose          print QMP traffic on stderr\n"
	" -V, --version          print the version and exit\n"
	"\n"
	"Exit status: 0 done, 1 failed (guest unchanged), 2 usage or impossible COUNT,\n"
	"3 unplug pending, 4 partial. See vcpuset(1).\n";

__attribute__((format(printf, 1, 2), noreturn)) static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("vcpuset: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'vcpuset --help' for more information.\n", stderr);
	exit(VS_EXIT_USAGE);
}

/*
 * "-1" is a COUNT, not an option: return a copy of argv with such a word (not an option's
 * value) moved behind a "--", so that getopt leaves it alone.
 */
static char **reorder_relative_count(int *argc, char **argv)
{
	static char dashdash[] = "--";
	char **out = calloc((size_t)*argc + 2, sizeof(*out));
	int i, n = 0, count = -1;
	bool dashed = false;

	if (!out) {
		fputs("vcpuset: out of memory\n", stderr);
		exit(VS_EXIT_FAIL);
	}
	for (i = 0; i < *argc; i++) {
		const char *a = argv[i], *prev = i ? argv[i - 1] : "";
		bool value = strcmp(prev, "-s") == 0 || strcmp(prev, "--socket") == 0 ||
			     strcmp(prev, "-t") == 0 || strcmp(prev, "--timeout") == 0;

		if (strcmp(a, "--") == 0) {
			dashed = true;
			while (i < *argc)
				out[n++] = argv[i++];
			break;
		}
		if (i && count < 0 && !value && a[0] == '-' && a[1] &&
		    strspn(a + 1, "0123456789") == strlen(a + 1))
			count = i;
		else
			out[n++] = argv[i];
	}
	if (count >= 0) {
		if (!dashed)
			out[n++] = dashdash;
		out[n++] = argv[count];
	}
	*argc = n;
	return out;
}

static void parse_args(int argc, char **argv0, struct opts *o)
{
	char **argv = reorder_relative_count(&argc, argv0);

	static const struct option longopts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 's' },
		{ "status", no_argument, NULL, 'l' },
		{ "timeout", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct vs_err err = { 0 };
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, "hjlns:t:vV", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(usage_text, stdout);
			exit(VS_EXIT_OK);
		case 'j':
			o->json = true;
			break;
		case 'l':
			o->status = true;
			break;
		case 'n':
			o->dry_run = true;
			break;
		case 's':
			o->socket = optarg;
			break;
		case 't':
			if (topo_parse_seconds("--timeout", optarg, 0.001, 86400, &o->timeout_s, &err) < 0)
				usage_error("%s", err.msg);
			o->timeout_set = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'V':
			printf("vcpuset %s\n", VCPUSET_VERSION);
			exit(VS_EXIT_OK);
		default:
			usage_error("%s", "invalid option");
		}
	}
	if (!o->socket)
		usage_error("%s", "--socket PATH is required");
	if (optind < argc)
		o->count = argv[optind++];
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	free(argv);
	if (o->status && o->count)
		usage_error("--status takes no COUNT (got '%s')", o->count);
	if (!o->status && !o->count)
		usage_error("%s", "COUNT is required (or --status)");
	if (o->count) {
		struct topo_count tc;

		if (topo_parse_count(o->count, &tc, &err) < 0)
			usage_error("%s", err.msg);
	}
}

static void trace_stderr(void *ctx, char dir, const char *line, size_t len)
{
	(void)ctx;
	fprintf(stderr, "%c %.*s\n", dir, (int)len, line);
}

static void warn(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct ctx *c, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	cJSON_AddItemToArray(c->warnings, cJSON_CreateString(buf));
	if (!c->o.json)
		fprintf(stderr, "vcpuset: warning: %s\n", buf);
}

static int is_qemu_thread(void *ctx, int tid)
{
	struct ctx *c = ctx;

	return hostres_is_thread_of(c->h, c->pid, tid);
}

/*
 * Query both vCPU replies and rebuild the table; retried when QEMU changed in between.
 * hp, if not NULL, is a query-hotpluggable-cpus reply just received: used for the first try
 * instead of asking again, and taken over.
 */
static int refresh(struct ctx *c, cJSON *hp, struct vs_err *err)
{
	struct topo_table *nt = NULL;
	cJSON *cf = NULL;
	int rc = 0, i, legacy_max = 0;

	for (i = 0; i < REFRESH_TRIES; i++) {
		if (i) {
			cJSON_Delete(hp);
			hp = NULL;
		}
		cJSON_Delete(cf);
		cf = NULL;
		if (c->can_hotplug && !hp) {
			rc = qmp_execute(c->q, TOPO_CMD_HOTPLUGGABLE, NULL, COMMAND_MS, &hp, err);
			if (rc < 0)
				break;
		}
		rc = qmp_execute(c->q, TOPO_CMD_CPUS, NULL, COMMAND_MS, &cf, err);
		if (rc < 0)
			break;
		legacy_max = c->legacy_max;
		rc = topo_build(c->can_hotplug ? hp : NULL, cf, c->pid, legacy_max, c->t, &nt, err);
		if (rc != -EAGAIN)
			break;
		usleep(20000);
	}
	cJSON_Delete(hp);
	cJSON_Delete(cf);
	if (rc < 0)
		return rc;
	rc = topo_check_tids(nt, c->pid, is_qemu_thread, c, err);
	if (rc < 0) {
		topo_free(nt);
		return rc;
	}
	topo_free(c->t);
	c->t = nt;
	return 0;
}

static void read_identity(struct ctx *c)
{
	struct vs_err e = { 0 };
	cJSON *r = NULL, *v;

	if (qmp_execute(c->q, TOPO_CMD_NAME, NULL, COMMAND_MS, &r, &e) == 0) {
		v = cJSON_GetObjectItemCaseSensitive(r, "name");
		if (cJSON_IsString(v) && strlen(v->valuestring) < sizeof(c->name))
			snprintf(c->name, sizeof(c->name), "%s", v->valuestring);
	}
	cJSON_Delete(r);
	r = NULL;
	if (qmp_execute(c->q, TOPO_CMD_UUID, NULL, COMMAND_MS, &r, &e) == 0) {
		v = cJSON_GetObjectItemCaseSensitive(r, "UUID");
		if (cJSON_IsString(v) && strlen(v->valuestring) == 36 &&
		    strspn(v->valuestring, "0123456789abcdefABCDEF-") == 36 &&
		    strspn(v->valuestring, "0-") != 36)
			snprintf(c->uuid, sizeof(c->uuid), "%s", v->valuestring);
	}
	cJSON_Delete(r);
	r = NULL;
	if (qmp_execute(c->q, TOPO_CMD_KVM, NULL, COMMAND_MS, &r, &e) == 0)
		c->kvm = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "enabled"));
	cJSON_Delete(r);
}

/* Does this QEMU list command name in query-commands? */
static bool has_command(struct ctx *c, const char *name)
{
	struct vs_err e = { 0 };
	cJSON *r = NULL, *it;
	bool found = false;

	if (qmp_execute(c->q, TOPO_CMD_COMMANDS, NULL, COMMAND_MS, &r, &e) < 0)
		return false;
	cJSON_ArrayForEach(it, r) {
		cJSON *n = cJSON_GetObjectItemCaseSensitive(it, "name");

		if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
			found = true;
	}
	cJSON_Delete(r);
	return found;
}

static int gather(struct ctx *c)
{
	struct vs_err *err = &c->err;
	cJSON *hp = NULL;
	int rc;

	rc = hostres_open(NULL, &c->h, err);
	if (rc < 0)
		return rc;
	rc = qmp_connect(c->o.socket, CONNECT_MS, &c->q, err);
	if (rc < 0)
		return rc;
	c->pid = qmp_peer_pid(c->q);
	if (c->o.verbose)
		qmp_set_trace(c->q, trace_stderr, NULL);
	rc = qmp_handshake(c->q, CONNECT_MS, err);
	if (rc < 0)
		return rc;
	read_identity(c);
	c->can_hotplug = true;
	rc = qmp_execute(c->q, TOPO_CMD_HOTPLUGGABLE, NULL, COMMAND_MS, &hp, err);
	if (rc == -EREMOTEIO) {
		c->can_hotplug = false;
		if (strcmp(err->qmp_class, "CommandNotFound") == 0 && has_command(c, TOPO_CMD_LEGACY_ADD))
			c->hotplug_error[0] = '\0'; /* legacy cpu-add */
		else
			snprintf(c->hotplug_error, sizeof(c->hotplug_error), "%s", err->msg);
		memset(err, 0, sizeof(*err));
	} else if (rc < 0) {
		return rc;
	}
	rc = refresh(c, hp, err); /* the probe's reply is the first refresh's */
	if (rc < 0)
		return rc;
	if (!c->can_hotplug && !c->hotplug_error[0] && c->o.count) {
		/* Legacy QEMU: it does not say its maximum; QEMU refuses cpu-add past it. */
		struct topo_count tc;
		long long want;

		topo_parse_count(c->o.count, &tc, NULL);
		want = tc.sign == '+' ? c->t->online + tc.n : tc.sign == '-' ? c->t->online - tc.n : tc.n;
		if (want > c->t->n && want <= VS_MAX_SLOTS) {
			c->legacy_max = (int)want;
			rc = refresh(c, NULL, err);
			if (rc < 0)
				return rc;
		}
	}
	c->before = c->after = c->t->online;
	return 0;
}

static double unplug_timeout_ms(const struct ctx *c)
{
	if (c->o.timeout_set)
		return c->o.timeout_s * 1000.0;
	return strcmp(c->t->target, "ppc64") == 0 ? 10000.0 : 5000.0;
}

static int plan(struct ctx *c)
{
	struct topo_count tc;
	int rc, i;

	if (!c->can_hotplug && c->hotplug_error[0]) {
		c->exit = VS_EXIT_FAIL;
		return vs_err_set(&c->err, EOPNOTSUPP, "QEMU cannot hot-plug vCPUs on this machine: %s",
				  c->hotplug_error);
	}
	topo_parse_count(c->o.count, &tc, NULL);
	rc = topo_plan(c->t, &tc, NULL, &c->plan, &c->err);
	if (rc < 0) {
		c->exit = VS_EXIT_USAGE;
		return rc;
	}
	c->res = calloc((size_t)c->plan.nsteps + 1, sizeof(*c->res));
	if (!c->res)
		return vs_err_set(&c->err, ENOMEM, "out of memory");
	for (i = 0; i < c->plan.nsteps; i++) {
		const struct topo_step *s = &c->plan.steps[i];
		struct step_result *r = &c->res[i];
		const char *cmd;
		cJSON *args = NULL;

		rc = topo_step_command(c->t, s, &cmd, &args, &c->err);
		if (rc < 0) {
			c->exit = VS_EXIT_USAGE;
			return rc;
		}
		r->qmp = qmp_command_new(cmd, args);
		cJSON_Delete(args);
		snprintf(r->alias, sizeof(r->alias), "vcpu%d", s->vcpu);
		if (s->op == TOPO_UNPLUG) {
			snprintf(r->alias, sizeof(r->alias), "%s", c->t->v[s->vcpu].alias);
			snprintf(r->qom_path, sizeof(r->qom_path), "%s", c->t->v[s->vcpu].qom_path);
			r->tid = c->t->tids_valid ? c->t->v[s->vcpu].tid : 0;
		} else if (c->t->legacy) {
			r->alias[0] = '\0';
		}
	}
	return 0;
}

static int step_fail(struct ctx *c, struct step_result *r, int rc, const char *what)
{
	vs_err_prefix(&c->err, "%s", what);
	snprintf(r->error, sizeof(r->error), "%s", c->err.msg);
	r->status = ST_FAILED;
	return rc;
}

static int do_plug(struct ctx *c, const struct topo_step *s, struct step_result *r)
{
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(r->qmp, "arguments");
	const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(r->qmp, "execute");
	const struct topo_vcpu *v;
	char what[96];
	int rc, i;

	snprintf(what, sizeof(what), "plug vCPU %d%s%s", s->vcpu, r->alias[0] ? " as " : "", r->alias);
	rc = qmp_execute(c->q, cmd->valuestring, args, COMMAND_MS, NULL, &c->err);
	if (rc < 0)
		return step_fail(c, r, rc, what);
	rc = refresh(c, NULL, &c->err);
	if (rc < 0)
		return step_fail(c, r, rc, what);
	v = &c->t->v[s->vcpu];
	for (i = s->vcpu; i < s->vcpu + s->vcpus; i++) {
		if (!c->t->v[i].online) {
			vs_err_set(&c->err, EPROTO, "QEMU accepted it but does not list vCPU %d online", i);
			return step_fail(c, r, -EPROTO, what);
		}
		if (c->t->tids_valid && c->t->v[i].tid <= 0) {
			vs_err_set(&c->err, EPROTO, "QEMU reports no thread for vCPU %d", i);
			return step_fail(c, r, -EPROTO, what);
		}
	}
	if (!c->t->tids_valid)
		warn(c, "vCPU %d: QEMU's thread ids are not one per vCPU (single-threaded TCG?): "
		     "no per-thread setup is possible", s->vcpu);
	r->tid = c->t->tids_valid ? v->tid : 0;
	snprintf(r->qom_path, sizeof(r->qom_path), "%s", v->qom_path);
	if (v->alias[0])
		snprintf(r->alias, sizeof(r->alias), "%s", v->alias);
	r->status = ST_DONE;
	return 0;
}

/* Is the unplugged entity gone from QEMU's slot list? 1 gone, 0 not yet, negative errno. */
static int slot_gone(struct ctx *c, const struct topo_vcpu *head, struct vs_err *err)
{
	cJSON *hp = NULL;
	int rc;

	rc = qmp_execute(c->q, TOPO_CMD_HOTPLUGGABLE, NULL, COMMAND_MS, &hp, err);
	if (rc == 0)
		rc = topo_slot_plugged(hp, head, err);
	cJSON_Delete(hp);
	return rc < 0 ? rc : rc == 0;
}

static int do_unplug(struct ctx *c, const struct topo_step *s, struct step_result *r)
{
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(r->qmp, "arguments");
	const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(r->qmp, "execute");
	struct topo_vcpu head = c->t->v[s->vcpu];
	double deadline, next_poll, now;
	bool gone = false, rejected = false, look;
	char what[96];
	cJSON *ev;
	int rc, i;

	head.props = NULL; /* a copy for matching only; the table may be rebuilt below */
	snprintf(what, sizeof(what), "unplug vCPU %d (%s)", s->vcpu, r->alias);
	rc = qmp_execute(c->q, cmd->valuestring, args, COMMAND_MS, NULL, &c->err);
	if (rc == -EREMOTEIO && strcmp(c->err.qmp_class, "DeviceNotFound") == 0) {
		gone = true; /* already removed: the refresh below confirms it */
		memset(&c->err, 0, sizeof(c->err));
	} else if (rc < 0) {
		return step_fail(c, r, rc, what);
	}
	deadline = vs_now_ms() + unplug_timeout_ms(c);
	next_poll = vs_now_ms() + POLL_MS;
	/*
	 * Under TCG QEMU never announces the vCPU device itself as deleted, only its lapic
	 * child: events only hurry the next look, the slot list is the proof.
	 */
	while (!gone && !rejected) {
		now = vs_now_ms();
		rc = qmp_next_event(c->q, (int)((next_poll < deadline ? next_poll : deadline) - now),
				    &ev, &c->err);
		if (rc < 0)
			return step_fail(c, r, rc, what);
		look = false;
		if (rc == 1) {
			switch (topo_event_kind(ev, head.alias, head.qom_path)) {
			case TOPO_EV_REJECTED:
				rejected = true;
				break;
			case TOPO_EV_DELETED:
			case TOPO_EV_RELATED:
				look = true;
				break;
			case TOPO_EV_OTHER:
				break;
			}
			cJSON_Delete(ev);
		}
		now = vs_now_ms();
		if (rejected)
			break;
		if (look || now >= next_poll || now >= deadline) {
			rc = slot_gone(c, &head, &c->err);
			if (rc < 0)
				return step_fail(c, r, rc, what);
			gone = rc == 1;
			next_poll = vs_now_ms() + POLL_MS;
		}
		if (!gone && now >= deadline)
			break;
	}
	if (rejected) {
		vs_err_set(&c->err, EPERM, "the guest refused to release it");
		return step_fail(c, r, -EPERM, what);
	}
	if (!gone) {
		r->status = ST_PENDING;
		snprintf(r->error, sizeof(r->error), "unplug of vCPU %d (%s) requested, not complete "
			 "after %.3g s; it may still complete: see 'vcpuset --status'", s->vcpu, r->alias,
			 unplug_timeout_ms(c) / 1000.0);
		return -EINPROGRESS;
	}
	rc = refresh(c, NULL, &c->err);
	if (rc < 0)
		return step_fail(c, r, rc, what);
	for (i = s->vcpu; i < s->vcpu + s->vcpus; i++)
		if (c->t->v[i].online || (c->t->tids_valid && c->t->v[i].tid)) {
			vs_err_set(&c->err, EPROTO, "QEMU still lists vCPU %d after removing it", i);
			return step_fail(c, r, -EPROTO, what);
		}
	r->status = ST_DONE;
	return 0;
}

static void apply(struct ctx *c)
{
	int i, rc;
	double t0;

	for (i = 0; i < c->plan.nsteps; i++) {
		const struct topo_step *s = &c->plan.steps[i];
		struct step_result *r = &c->res[i];

		t0 = vs_now_ms();
		rc = s->op == TOPO_PLUG ? do_plug(c, s, r) : do_unplug(c, s, r);
		r->ms = vs_now_ms() - t0;
		c->after = c->t->online;
		if (rc == -EINPROGRESS) {
			c->exit = VS_EXIT_PENDING;
			vs_err_set(&c->err, EINPROGRESS, "%s", r->error);
			c->failed = true;
			return;
		}
		if (rc < 0) {
			c->exit = c->done_steps ? VS_EXIT_PARTIAL : VS_EXIT_FAIL;
			c->failed = true;
			return;
		}
		c->done_steps++;
	}
}

/* ---- report ---- */

static cJSON *vm_json(const struct ctx *c)
{
	cJSON *vm = cJSON_CreateObject();

	if (c->pid > 0)
		cJSON_AddNumberToObject(vm, "pid", c->pid);
	else
		cJSON_AddNullToObject(vm, "pid");
	if (c->name[0])
		cJSON_AddStringToObject(vm, "name", c->name);
	else
		cJSON_AddNullToObject(vm, "name");
	if (c->uuid[0])
		cJSON_AddStringToObject(vm, "uuid", c->uuid);
	else
		cJSON_AddNullToObject(vm, "uuid");
	if (c->q) {
		cJSON_AddStringToObject(vm, "qemu", qmp_version(c->q));
		cJSON_AddStringToObject(vm, "virt", c->kvm ? "kvm" : "qemu");
	}
	if (c->t && c->t->target[0])
		cJSON_AddStringToObject(vm, "target", c->t->target);
	return vm;
}

static cJSON *step_json(const struct ctx *c, int i)
{
	const struct topo_step *s = &c->plan.steps[i];
	const struct step_result *r = &c->res[i];
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "op", s->op == TOPO_PLUG ? "plug" : "unplug");
	cJSON_AddNumberToObject(o, "vcpu", s->vcpu);
	cJSON_AddNumberToObject(o, "vcpus", s->vcpus);
	cJSON_AddNumberToObject(o, "old_count", s->before);
	cJSON_AddNumberToObject(o, "new_count", s->after);
	if (r->alias[0])
		cJSON_AddStringToObject(o, "alias", r->alias);
	else
		cJSON_AddNullToObject(o, "alias");
	if (s->op == TOPO_PLUG && c->t->v[s->vcpu].props)
		cJSON_AddItemToObject(o, "props", cJSON_Duplicate(c->t->v[s->vcpu].props, 1));
	else
		cJSON_AddNullToObject(o, "props");
	if (r->qom_path[0])
		cJSON_AddStringToObject(o, "qom_path", r->qom_path);
	else
		cJSON_AddNullToObject(o, "qom_path");
	if (r->tid > 0)
		cJSON_AddNumberToObject(o, "tid", r->tid);
	else
		cJSON_AddNullToObject(o, "tid");
	cJSON_AddStringToObject(o, "status", status_names[r->status]);
	cJSON_AddNumberToObject(o, "ms", (double)(long long)(r->ms * 1000) / 1000.0);
	cJSON_AddItemToObject(o, "qmp", cJSON_Duplicate(r->qmp, 1));
	if (r->error[0])
		cJSON_AddStringToObject(o, "error", r->error);
	else
		cJSON_AddNullToObject(o, "error");
	return o;
}

static void report_json(struct ctx *c)
{
	cJSON *doc = cJSON_CreateObject(), *steps, *e, *vcpus;
	char *text;
	int i;

	cJSON_AddBoolToObject(doc, "ok", c->exit == VS_EXIT_OK);
	cJSON_AddNumberToObject(doc, "exit", c->exit);
	cJSON_AddBoolToObject(doc, "dry_run", c->o.dry_run);
	cJSON_AddItemToObject(doc, "vm", vm_json(c));
	if (c->t) {
		cJSON_AddNumberToObject(doc, "before", c->before);
		cJSON_AddNumberToObject(doc, "after", c->after);
		cJSON_AddNumberToObject(doc, "max", c->t->n);
		cJSON_AddBoolToObject(doc, "hotpluggable", c->can_hotplug || !c->hotplug_error[0]);
		cJSON_AddBoolToObject(doc, "legacy", c->t->legacy);
	} else {
		cJSON_AddNullToObject(doc, "before");
		cJSON_AddNullToObject(doc, "after");
		cJSON_AddNullToObject(doc, "max");
	}
	if (c->o.count && c->plan.target)
		cJSON_AddNumberToObject(doc, "target", c->plan.target);
	steps = cJSON_AddArrayToObject(doc, "steps");
	for (i = 0; c->res && i < c->plan.nsteps; i++)
		cJSON_AddItemToArray(steps, step_json(c, i));
	if (c->o.status && c->t) {
		vcpus = cJSON_AddArrayToObject(doc, "vcpus");
		for (i = 0; i < c->t->n; i++)
			cJSON_AddItemToArray(vcpus, topo_vcpu_json(&c->t->v[i], c->t->tids_valid));
	}
	cJSON_AddItemToObject(doc, "warnings", cJSON_Duplicate(c->warnings, 1));
	if (c->err.msg[0] && c->exit != VS_EXIT_OK) {
		e = cJSON_AddObjectToObject(doc, "error");
		cJSON_AddStringToObject(e, "message", c->err.msg);
		if (c->err.qmp_class[0])
			cJSON_AddStringToObject(e, "qmp_class", c->err.qmp_class);
	} else {
		cJSON_AddNullToObject(doc, "error");
	}
	text = cJSON_Print(doc);
	if (text)
		printf("%s\n", text);
	free(text);
	cJSON_Delete(doc);
}

static void report_status_text(const struct ctx *c)
{
	char topo[160];
	int i;

	printf("%s%s%s pid %d, QEMU %s (%s, %s): %d of %d vCPUs online\n",
	       c->name[0] ? "vm '" : "vm", c->name, c->name[0] ? "'" : "", c->pid,
	       qmp_version(c->q), c->t->target[0] ? c->t->target : "?", c->kvm ? "kvm" : "tcg",
	       c->t->online, c->t->n);
	if (!c->can_hotplug)
		printf("%s\n", c->hotplug_error[0] ? c->hotplug_error
						   : "legacy QEMU: plug with cpu-add only, no unplug");
	printf("%-5s %-6s %-7s %-10s %-8s %-5s %-32s %s\n", "VCPU", "ONLINE", "HOTPLUG", "ALIAS",
	       "TID", "ORDER", "QOM-PATH", "TOPOLOGY");
	for (i = 0; i < c->t->n; i++) {
		const struct topo_vcpu *v = &c->t->v[i];
		char tid[16] = "-";

		if (v->online && v->tid > 0 && c->t->tids_valid)
			snprintf(tid, sizeof(tid), "%d", v->tid);
		printf("%-5d %-6s %-7s %-10s %-8s %-5d %-32s %s\n", i, v->online ? "yes" : "no",
		       v->hotpluggable ? "yes" : "no", v->alias[0] ? v->alias : "-", tid, v->order,
		       v->qom_path[0] ? v->qom_path : "-", topo_describe(v, topo, sizeof(topo)));
	}
}

static void report_text(const struct ctx *c)
{
	char topo[160];
	int i;

	if (!c->t)
		return;
	if (c->plan.nsteps == 0 && c->exit == VS_EXIT_OK) {
		printf("%d vCPUs online already (max %d): nothing to do\n", c->t->online, c->t->n);
		return;
	}
	if (!c->res)
		return;
	printf("%s%d -> %d vCPUs (max %d)%s\n", c->o.dry_run ? "plan: " : "", c->before,
	       c->plan.target, c->t->n, c->o.dry_run ? ", nothing changed" : "");
	for (i = 0; i < c->plan.nsteps; i++) {
		const struct topo_step *s = &c->plan.steps[i];
		const struct step_result *r = &c->res[i];
		char *cmd = cJSON_PrintUnformatted(r->qmp);

		if (c->o.dry_run)
			printf("  %-6s vCPU %-4d %s\n         %s\n", s->op == TOPO_PLUG ? "plug" : "unplug",
			       s->vcpu, topo_describe(&c->t->v[s->vcpu], topo, sizeof(topo)),
			       cmd ? cmd : "");
		else
			printf("  %-6s vCPU %-4d %-8s tid %-8d %-8s %.1f ms\n",
			       s->op == TOPO_PLUG ? "plug" : "unplug", s->vcpu,
			       r->alias[0] ? r->alias : "-", r->tid, status_names[r->status], r->ms);
		free(cmd);
	}
	if (!c->o.dry_run)
		printf("%d vCPUs online\n", c->after);
}

int main(int argc, char **argv)
{
	struct ctx c;
	int rc, i;

	memset(&c, 0, sizeof(c));
	signal(SIGPIPE, SIG_IGN);
	parse_args(argc, argv, &c.o);
	c.warnings = cJSON_CreateArray();
	c.exit = VS_EXIT_FAIL;

	rc = gather(&c);
	if (rc == 0 && c.o.status) {
		c.exit = VS_EXIT_OK;
	} else if (rc == 0) {
		rc = plan(&c);
		if (rc == 0) {
			c.exit = VS_EXIT_OK;
			if (!c.o.dry_run)
				apply(&c);
		}
	}
	if (c.o.json) {
		report_json(&c);
	} else {
		if (c.o.status && c.t && rc == 0)
			report_status_text(&c);
		else
			report_text(&c);
		if (c.exit != VS_EXIT_OK)
			fprintf(stderr, "vcpuset: %s\n", c.err.msg);
	}
	for (i = 0; c.res && i < c.plan.nsteps; i++)
		cJSON_Delete(c.res[i].qmp);
	free(c.res);
	topo_plan_clear(&c.plan);
	topo_free(c.t);
	qmp_free(c.q);
	hostres_free(c.h);
	cJSON_Delete(c.warnings);
	return c.exit;
}
