/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vcpuset: set the live vCPU count of a running QEMU guest over its QMP monitor.
 *
 * Map of the modules:
 *   main.c    options, the phases (gather, plan, repair, apply, report), the exit code
 *   vm.c      the conversation with QEMU: connect, start-up, vCPU table, plug, unplug
 *   qmp.c     the monitor connection: greeting, commands by id, events, timeouts
 *   topo.c    QEMU's vCPU replies -> one table; COUNT -> steps; cpulists (pure)
 *   hostres.c everything on the host: /proc, sysfs, cgroups, affinity, resctrl
 *   state.c   the state directory: each VM's lock and its ledger of unfinished unplugs
 *   audit.c   the VIRT_RESOURCE records
 * This file names no QMP command, and no host path but the defaults (the state directory,
 * the trees under --sysroot): it asks the modules.
 */
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>

#include "audit.h"
#include "ga.h"
#include "hostres.h"
#include "libvirt.h"
#include "qmp.h"
#include "state.h"
#include "topo.h"
#include "vm.h"

#define CONNECT_MS 3000  /* connect and greeting */
#define COMMAND_MS command_ms /* any one QMP command: 30 s, or --command-timeout */
#define STATE_DIR "/run/vcpuset"
#ifndef VCPUSET_COMMIT
#define VCPUSET_COMMIT "" /* not built from a git checkout */
#endif
#define LOCK_TIMEOUT_S 10.0
#define ACK_TIMEOUT_S 3.0 /* the guest's answer to a plug comes in tens of ms when it comes */
#define GUEST_TIMEOUT_S 5.0 /* the guest's part of a run: its agent, its CPUs online */
#define GUEST_GRACE_MS 1000 /* a plugged CPU the guest lists offline: its own rule may online it */
#define AGENT_CONNECT_MS 3000 /* connect and resync with the agent, within the guest timeout */

static int command_ms = 30000;
static volatile sig_atomic_t stop_signal; /* SIGINT, SIGTERM, SIGHUP or SIGQUIT seen */

/* CPU time of this process (every thread), in milliseconds. */
static double cpu_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void on_signal(int sig)
{
	stop_signal = sig;
}

/* A host setting given for some vCPUs only ("--cpuset 2-3:4"). */
struct vset {
	uint64_t *vcpus; /* VS_MAX_SLOTS bits */
	int k;           /* HR_S_CPUS, HR_S_MEMS or HR_S_SCHED */
	uint64_t mask[HOSTRES_MASK_WORDS];
	int policy, prio;
	char opt[96];    /* as given, for messages */
};

#define VSETS_MAX 256

struct opts {
	/* grouped by size (clang's padding check): pointers, structs, doubles, ints, bools, text */
	const char *socket;
	const char *count;
	const char *list;      /* --enable / --disable LIST */
	const char *cgroup;
	const char *name;      /* --name, for audit records when QEMU has none */
	const char *uuid;      /* --uuid */
	const char *state_dir;
	const char *sysroot;   /* --sysroot: /proc, /sys, cgroup mounts and /run under it */
	const char *domain;    /* --domain: a libvirt domain's name, id or uuid */
	const char *agent;     /* --guest-agent PATH, "auto" or "off" */
	const char *guest_count; /* --guest COUNT: the guest's online CPUs */
	struct vset *vsets;    /* per-vCPU settings, in the order given */
	struct hostres_tune tune;
	double lock_timeout_s;
	double ack_timeout_s; /* --ack-timeout */
	double timeout_s;
	double guest_timeout_s; /* --guest-timeout */
	enum vaudit_mode audit;
	int nvsets;
	bool list_enable;
	bool no_cgroup;
	bool no_inherit;
	bool tune_given;
	bool no_libvirt;       /* --no-libvirt: neither read nor write libvirt's status file */
	bool guest;            /* --guest: the guest's online CPUs through its agent, no hotplug */
	bool no_guest_online;  /* --no-guest-online: report plugged vCPUs offline, do not online */
	bool wait;
	bool trust_pid; /* --trust-pid: a peer without a pidfd, or without proof */
	bool force;     /* --force: act on a paused or prelaunch VM */
	bool repair;    /* --repair: mend the drift, change nothing else */
	bool no_repair; /* --no-repair: report the drift only */
	bool status;
	bool dry_run;
	bool json;
	bool quiet;     /* -q: nothing on stdout, errors and warnings on stderr */
	bool verbose;
	bool timeout_set;
	char state_buf[1024];  /* the default state directory under --sysroot */
};

enum step_status { ST_PLANNED, ST_DONE, ST_PENDING, ST_FAILED, ST_UNKNOWN };

/*
 * How the run ended, as the phases report it; exit_status() alone turns it into 0-5.
 * FAILED, STOPPED, DRIFTED and AUDIT become 4 when the run changed the guest (1 otherwise,
 * STOPPED and DRIFTED always 4: steps were planned and some may have been done).
 */
enum outcome {
	OUT_DONE,     /* done, nothing to do, a dry run, --status, --wait with nothing left */
	OUT_FAILED,   /* an error: before any change, or after some */
	OUT_REFUSED,  /* bad usage, an impossible COUNT, settings the host cannot take */
	OUT_PENDING,  /* an unplug asked for has not completed yet */
	OUT_STOPPED,  /* a signal, between steps */
	OUT_DRIFTED,  /* another client changed the VM, or the count is not the one asked */
	OUT_AUDIT,    /* --audit=required, and a record could not be sent */
	OUT_UNKNOWN,  /* QEMU never answered a step and cannot be asked */
	OUT_GUEST,    /* all done in QEMU, but the guest left plugged vCPUs offline */
};

/*
 * What became of a ledger entry, as QEMU lists the vCPU now (classify()). A dead run's plug
 * intent: PLUGGED (QEMU has it) or NOT_PLUGGED; its unplug intent: FINISHED (gone) or
 * STILL_THERE (to be pending).
 */
enum fate { FATE_PENDING, FATE_FINISHED, FATE_MALFORMED, FATE_REPLUGGED, FATE_PLUGGED,
	    FATE_NOT_PLUGGED, FATE_STILL_THERE };
static const char *const status_names[] = { "planned", "done", "pending", "failed", "unknown" };

struct step_result {
	enum step_status status;
	double ms;     /* wall time */
	double cpu_ms; /* vcpuset's own CPU time (waits for QEMU and the kernel excluded) */
	int tid;
	char alias[TOPO_NAME_MAX];
	char qom_path[TOPO_PATH_MAX];
	int ack;     /* the guest's ACPI answer to a plug: 1 taken, 0 none (yet), -1 not applicable */
	int ack_status; /* its status when not 0 */
	cJSON *qmp;  /* the command sent, or to be sent */
	cJSON *host; /* host changes made (or to be made) and what the kernel reports after */
	const char *core; /* a plug's core scheduling: joined, had, none, differ, unsupported, failed */
	unsigned long core_cookie;
	char error[512];
};

struct ctx {
	/* grouped by size (clang's padding check): pointers, structs, ints, bools, text */
	struct vm *vm;      /* the QEMU conversation and the vCPU table */
	struct hostres *h;
	cJSON *host_log;          /* run-wide host changes (emulator cpuset.mems) */
	struct step_result *res;
	cJSON *warnings;
	struct vs_audit *audit;
	struct state *st;   /* the state directory, and the VM's lock */
	struct state_entry *pend; /* this VM's unplugs not finished (the ledger) */
	cJSON *reconciled;  /* pending unplugs finished by this run */
	cJSON *recovered;   /* steps of dead runs finished by this run (recover()) */
	cJSON *drift_log;   /* host changes of the drift repair */
	int *untuned;       /* drift: hot-plugged online vCPUs not in their groups */
	int *orphans;       /* drift: vcpuN groups with no vCPU */
	bool *busy;         /* slots of pending unplugs: not to be touched */
	enum fate *fate;    /* what became of each ledger entry (classify) */
	struct lv *lv;      /* libvirt's status file of the domain, NULL when not libvirt's */
	struct ga *ga;      /* the guest agent, once connected and answering; NULL otherwise */
	struct ga_result *gres; /* by step: the guest's part of a plug, its word before an unplug */
	const char *ga_from; /* where the agent's socket came from: given, qemu, libvirt */
	struct ga_view gview; /* the guest's CPUs as last seen */
	int *gpick;         /* --guest: the logical ids it changes (or would) */
	int ngpick;
	struct hostres_tune **vtune; /* by index: what a vCPU plugged or mended gets (tune_of) */
	char *lv_diff;      /* --dry-run: the change to libvirt's status file */
	struct lv_roots lvr;
	struct vm_opts vo;
	struct state_key key;
	struct topo_plan plan;
	struct hostres_tune tune; /* what each new vCPU thread gets */
	struct opts o;
	double countdown_at; /* live: the unplug wait's time when its countdown was drawn (ms) */
	int inherit_from;   /* the first sibling vCPU inherited from, or -1 */
	int nsiblings;      /* tuned online siblings looked at */
	int done_steps;
	int before, after;
	int cgroups_rc;     /* what finding them returned */
	enum outcome outcome;
	int exit;           /* exit_status(), once the run is over */
	int refused;        /* pending unplugs --wait saw the guest refuse */
	int nuntuned, norphans;
	int lv_persist;     /* vCPUs in libvirt's persistent config: > 0, 0 none, < 0 unknown */
	int npend;
	struct vs_err cgroups_err; /* why finding the cgroups failed */
	struct vs_err err;
	struct vs_err audit_err; /* --audit=required: the first record that could not be sent */
	bool host_tune;     /* per-thread setup runs for plugged vCPUs */
	bool have_key;
	bool cgroups_found;
	bool identified;    /* the identity replies are read, the audit identity set */
	bool repaired;      /* the drift found was mended */
	bool groups_noted;  /* where the VM's vcpuN groups are is in the state directory */
	bool left_plugged;  /* a failed step left its vCPU plugged (untuned, or its undo pending) */
	bool lv_written;    /* libvirt's status file was updated */
	bool ga_looked;     /* the agent was looked for (agent_open) */
	bool shown_before;  /* live: the lines before the steps are out (recovered, drift, plan) */
	bool countdown;     /* live: an unplug's countdown is on stderr, to be erased */
	int nshown;         /* live: steps whose line is out */
	int waiting_vcpu;   /* the vCPU whose unplug is being waited for */
	bool ga_answered;   /* and it answered at least once */
	bool ga_sent;       /* guest-set-vcpus was sent */
	bool gpick_on;      /* --guest: the picks go online (else offline) */
	int guest_before, guest_after, guest_target; /* --guest: CPUs online in the guest */
	bool lv_same;       /* it said already what it should */
	char lv_prev[1200]; /* where the status file before the update is kept */
	char ga_path[4200]; /* the agent's socket */
	char ga_why[600];   /* why the guest's side is unknown, "" when the agent answers */
	char lv_persist_path[1200];
	char lv_dirs[4][600]; /* libvirt's directories under --sysroot */
	char socket_buf[4200]; /* --domain's monitor socket */
	char audit_uuid[40];
	char audit_name[256];
	char why[HR_NSETTINGS][HOSTRES_WHY_MAX]; /* why a setting was not inherited, or "" */
};

/* The vCPU table as QEMU last described it (NULL before it was read). */
static const struct topo_table *tab(const struct ctx *c)
{
	return c->vm ? vm_table(c->vm) : NULL;
}

/* What QEMU says of the VM (all empty before it was asked). */
static const struct vm_info *info(const struct ctx *c)
{
	static const struct vm_info none;

	return c->vm ? vm_info(c->vm) : &none;
}

static int qemu_pid(const struct ctx *c)
{
	return info(c)->pid;
}

static const char usage_text[] =
	"Usage: vcpuset [options] --socket PATH | --domain NAME COUNT\n"
	"       vcpuset [options] --socket PATH | --domain NAME --enable | --disable LIST\n"
	"       vcpuset [options] --socket PATH | --domain NAME --status | --wait | --repair\n"
	"       vcpuset [options] --socket PATH | --domain NAME --guest COUNT | --status\n"
	"\n"
	"Set the number of online vCPUs of a running QEMU guest through its QMP monitor.\n"
	"COUNT is absolute (6) or relative (+2, -1); LIST names vCPU indices (4, 4-7, 2,6).\n"
	"\n"
	"Options:\n"
	" -n, --dry-run          print the plan and its QMP commands, change nothing\n"
	" -h, --help             print this help and exit\n"
	" -j, --json             print one JSON document on stdout\n"
	" -q, --quiet            print nothing on stdout; errors and warnings on stderr\n"
	" -s, --socket PATH      QEMU's QMP monitor socket\n"
	"     --enable LIST      plug exactly these vCPUs (whole entities), instead of COUNT\n"
	"     --disable LIST     unplug exactly these vCPUs (whole entities)\n"
	" -d, --domain NAME      a running libvirt domain (name, id or uuid): its socket\n"
	"     --no-libvirt       neither read nor update libvirt's status file of the domain\n"
	" -l, --status           print the vCPU table and exit\n"
	" -t, --timeout SECONDS  wait this long for each unplug (default 5, 10 on pseries)\n"
	" -v, --verbose          print QMP traffic on stderr\n"
	" -V, --version          print the version and exit\n"
	"     --force            change a paused or not yet started (prelaunch) VM\n"
	"     --ack-timeout S    wait this long for the guest to take each plugged vCPU (x86\n"
	"                        ACPI; default 3, 0 = do not wait)\n"
	"     --command-timeout S  wait this long for QEMU's answer to a command (default 30)\n"
	"     --trust-pid        accept QEMU's pid without proof (kernels before 6.5 have no\n"
	"                        pidfd for it): unsafe on a socket others can reach\n"
	"\n"
	"The guest's view (qemu-ga):\n"
	"     --guest-agent PATH|auto|off  the guest agent's socket (default auto: the one\n"
	"                        QEMU's org.qemu.guest_agent.0 port uses, or libvirt's)\n"
	"     --guest-timeout S  wait this long for the guest to bring plugged vCPUs online\n"
	"                        (default 5)\n"
	"     --no-guest-online  report plugged vCPUs the guest left offline, do not online them\n"
	"     --guest            COUNT is the guest's online CPUs: changed through its agent,\n"
	"                        no hotplug (with --status: the guest's CPUs)\n"
	"\n"
	"Host settings for each vCPU thread plugged (default: the VM's, i.e. what all its\n"
	"tuned vCPUs share, else libvirt's defaults):\n"
	"     --cgroup PATH      parent of the vcpuN cgroups (default: beside QEMU's)\n"
	"     --no-cgroup        no per-vCPU cgroups\n"
	"     --period US        CFS period, 1000..1000000\n"
	"     --quota US         CFS quota, 1000..17592186044415, negative for none\n"
	"     --cpuset [VCPUS:]LIST  cpuset.cpus and CPU affinity (e.g. 0-3,8; 2:4 for vCPU 2)\n"
	"     --mems [VCPUS:]LIST    cpuset.mems\n"
	"     --sched [VCPUS:]POLICY other, batch, idle, fifo:PRIO or rr:PRIO\n"
	"                        (VCPUS: only those vCPUs plugged by the run; repeatable)\n"
	"     --cachetune GROUP  resctrl allocation group to join\n"
	"     --monitor GROUP    resctrl monitoring group to join\n"
	"     --no-inherit       take nothing from the VM's tuned vCPUs\n"
	"\n"
	"Records and state:\n"
	"     --audit=MODE       auto (default: warn without audit), required (fail before\n"
	"                        any change if no record can be written) or off\n"
	"     --no-audit         write no audit records\n"
	"     --name NAME        VM name for audit records (before the libvirt socket path's\n"
	"                        and QEMU's own)\n"
	"     --uuid UUID        VM uuid for audit records (before QEMU's own)\n"
	"     --state-dir DIR    pending unplugs and locks (default /run/vcpuset)\n"
	"     --lock-timeout S   wait this long for another vcpuset on the same VM (default 10)\n"
	"     --wait             wait (up to --timeout) for pending unplugs to finish\n"
	"     --repair           mend drift only: vCPUs out of their groups, orphan groups\n"
	"                        (a run with a COUNT mends it too)\n"
	"     --no-repair        report drift, do not mend it\n"
	"\n"
	"Exit status: 0 done, 1 failed (guest unchanged), 2 usage or impossible COUNT,\n"
	"3 unplug pending, 4 partial, 5 outcome unknown, 6 plugged but left offline by the\n"
	"guest. See vcpuset(1).\n";

/*
 * Flush and close stdout before exiting, as util-linux's close_stdout does: a write error (a
 * full disk) is said on stderr and turns a success into exit 1, or 4 when the run changed
 * the guest. A reader that went away (EPIPE) is its own choice, not an error.
 */
static int stdout_errno; /* why a write that stdio did not buffer failed */

static int close_stdout(int status, bool changed)
{
	int e = 0;

	errno = 0;
	if (fflush(stdout) != 0)
		e = errno ? errno : EIO;
	else if (ferror(stdout))
		e = stdout_errno ? stdout_errno : EIO;
	if (fclose(stdout) != 0 && !e)
		e = errno ? errno : EIO;
	if (!e || e == EPIPE)
		return status;
	fprintf(stderr, "vcpuset: write error on standard output: %s\n", strerror(e));
	return status != VS_EXIT_OK ? status : changed ? VS_EXIT_PARTIAL : VS_EXIT_FAIL;
}

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
		static const char *const takes_value[] = {
			"-s", "--socket", "-t", "--timeout", "--cgroup", "--period", "--quota",
			"--cpuset", "--mems", "--sched", "--cachetune", "--monitor", "--name",
			"--uuid", "--state-dir", "--lock-timeout", "--command-timeout", "--ack-timeout",
			"--sysroot", "--guest-agent", "--guest-timeout",
		};
		const char *a = argv[i], *prev = i ? argv[i - 1] : "";
		bool value = false;
		size_t k;

		for (k = 0; k < sizeof(takes_value) / sizeof(takes_value[0]); k++)
			value = value || strcmp(prev, takes_value[k]) == 0;

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

enum {
	OPT_CGROUP = 256,
	OPT_NO_CGROUP,
	OPT_PERIOD,
	OPT_QUOTA,
	OPT_CPUSET,
	OPT_MEMS,
	OPT_SCHED,
	OPT_ENABLE,
	OPT_DISABLE,
	OPT_CACHETUNE,
	OPT_MONITOR,
	OPT_NO_INHERIT,
	OPT_AUDIT,
	OPT_NO_AUDIT,
	OPT_NAME,
	OPT_UUID,
	OPT_STATE_DIR,
	OPT_LOCK_TIMEOUT,
	OPT_WAIT,
	OPT_TRUST_PID,
	OPT_FORCE,
	OPT_COMMAND_TIMEOUT,
	OPT_ACK_TIMEOUT,
	OPT_SYSROOT,
	OPT_NO_LIBVIRT,
	OPT_REPAIR,
	OPT_NO_REPAIR,
	OPT_GUEST,
	OPT_GUEST_AGENT,
	OPT_GUEST_TIMEOUT,
	OPT_NO_GUEST_ONLINE,
};

static void parse_list(const char *what, const char *s, uint64_t *mask)
{
	struct vs_err err = { 0 };

	memset(mask, 0, HOSTRES_MASK_WORDS * sizeof(*mask));
	if (topo_cpulist_parse(s, mask, TOPO_MAX_CPUS, &err) < 0)
		usage_error("%s: %s", what, err.msg);
}

/* An option of the run itself; false when c is not one. */
/* --enable / --disable LIST: its syntax now, the vCPUs once the table is read. */
static void parse_list_opt(int c, struct opts *o)
{
	uint64_t *m = calloc(VS_MAX_SLOTS / 64, sizeof(uint64_t));
	struct vs_err err = { 0 };

	if (o->list)
		usage_error("%s", "one --enable or --disable list per run");
	if (!m || topo_cpulist_parse(optarg, m, VS_MAX_SLOTS, &err) < 0)
		usage_error("%s: %s", c == OPT_ENABLE ? "--enable" : "--disable",
			    m ? err.msg : "out of memory");
	free(m);
	o->list = optarg;
	o->list_enable = c == OPT_ENABLE;
}

static bool parse_run_opt(int c, struct opts *o)
{
	struct vs_err err = { 0 };

	switch (c) {
	case 'h':
		if (fputs(usage_text, stdout) == EOF) /* longer than stdio's buffer: written now */
			stdout_errno = errno;
		exit(close_stdout(VS_EXIT_OK, false));
	case 'j':
		o->json = true;
		return true;
	case 'q':
		o->quiet = true;
		return true;
	case 'l':
		o->status = true;
		return true;
	case 'n':
		o->dry_run = true;
		return true;
	case 's':
		o->socket = optarg;
		return true;
	case 't':
		if (topo_parse_seconds("--timeout", optarg, 0.001, 86400, &o->timeout_s, &err) < 0)
			usage_error("%s", err.msg);
		o->timeout_set = true;
		return true;
	case 'v':
		o->verbose = true;
		return true;
	case 'V':
		/* a build from a git checkout says which commit (the Makefile gives it) */
		printf("vcpuset %s%s%s%s\n", VCPUSET_VERSION, VCPUSET_COMMIT[0] ? " (git " : "",
		       VCPUSET_COMMIT, VCPUSET_COMMIT[0] ? ")" : "");
		exit(close_stdout(VS_EXIT_OK, false));
	case OPT_TRUST_PID:
		o->trust_pid = true;
		return true;
	case OPT_FORCE:
		o->force = true;
		return true;
	case OPT_ENABLE:
	case OPT_DISABLE:
		parse_list_opt(c, o);
		return true;
	case 'd':
		if (!*optarg || strlen(optarg) > 200 || strchr(optarg, '/'))
			usage_error("--domain: '%.64s' is not a domain name, id or uuid", optarg);
		o->domain = optarg;
		return true;
	case OPT_NO_LIBVIRT:
		o->no_libvirt = true;
		return true;
	case OPT_SYSROOT:
		if (optarg[0] != '/' || strlen(optarg) > 512)
			usage_error("--sysroot: '%.64s' is not an absolute path (512 bytes at most)",
				    optarg);
		o->sysroot = optarg;
		return true;
	case OPT_ACK_TIMEOUT:
		if (topo_parse_seconds("--ack-timeout", optarg, 0, 3600, &o->ack_timeout_s,
				       &err) < 0)
			usage_error("%s", err.msg);
		return true;
	case OPT_COMMAND_TIMEOUT: {
		double sec;

		if (topo_parse_seconds("--command-timeout", optarg, 0.1, 3600, &sec, &err) < 0)
			usage_error("%s", err.msg);
		command_ms = (int)(sec * 1000.0);
		return true;
	}
	}
	return false;
}

/*
 * "LIST:VALUE" (a cpulist of vCPU indices, then the value): the LIST into a new mask, the
 * VALUE returned; a value with no such prefix is returned as it is, *vcpus NULL.
 */
static const char *vcpu_prefix(const char *opt, const char *s, uint64_t **vcpus)
{
	const char *colon = strchr(s, ':');
	struct vs_err err = { 0 };
	char list[256];

	*vcpus = NULL;
	if (!colon || colon == s || strspn(s, "0123456789,-") != (size_t)(colon - s))
		return s;
	if ((size_t)(colon - s) >= sizeof(list))
		usage_error("%s '%.32s': the vCPU list is too long", opt, s);
	snprintf(list, sizeof(list), "%.*s", (int)(colon - s), s);
	*vcpus = calloc(VS_MAX_SLOTS / 64, sizeof(uint64_t));
	if (!*vcpus)
		usage_error("%s", "out of memory");
	if (topo_cpulist_parse(list, *vcpus, VS_MAX_SLOTS, &err) < 0)
		usage_error("%s '%.64s': the vCPUs before ':': %s", opt, s, err.msg);
	return colon + 1;
}

/*
 * --cpuset, --mems, --sched: for every vCPU plugged, or with a "VCPUS:" prefix for those
 * (repeatable; a later one for the same vCPU wins).
 */
static void parse_vcpu_setting(int c, const char *arg, struct opts *o)
{
	const char *opt = c == OPT_CPUSET ? "--cpuset" : c == OPT_MEMS ? "--mems" : "--sched";
	struct hostres_tune *tu = &o->tune;
	struct vs_err err = { 0 };
	uint64_t *vcpus;
	const char *v = vcpu_prefix(opt, arg, &vcpus);
	struct vset *x, *nv;

	if (!vcpus) {
		if (c == OPT_CPUSET) {
			parse_list("--cpuset", v, tu->cpus);
			memcpy(tu->aff, tu->cpus, sizeof(tu->aff));
			tu->cpus_src = tu->aff_src = HR_GIVEN;
		} else if (c == OPT_MEMS) {
			parse_list("--mems", v, tu->mems);
			tu->mems_src = HR_GIVEN;
		} else if (hostres_parse_sched(v, &tu->policy, &tu->prio, &err) < 0) {
			usage_error("%s", err.msg);
		} else {
			tu->sched_src = HR_GIVEN;
		}
		return;
	}
	if (o->nvsets >= VSETS_MAX || !(nv = realloc(o->vsets, (size_t)(o->nvsets + 1) * sizeof(*nv))))
		usage_error("%s: too many per-vCPU settings", opt);
	o->vsets = nv;
	x = &o->vsets[o->nvsets++];
	memset(x, 0, sizeof(*x));
	x->vcpus = vcpus;
	snprintf(x->opt, sizeof(x->opt), "%s %.80s", opt, arg);
	x->k = c == OPT_CPUSET ? HR_S_CPUS : c == OPT_MEMS ? HR_S_MEMS : HR_S_SCHED;
	if (c == OPT_SCHED && hostres_parse_sched(v, &x->policy, &x->prio, &err) < 0)
		usage_error("%s", err.msg);
	else if (c != OPT_SCHED)
		parse_list(opt, v, x->mask);
}

/* A host setting for each vCPU thread plugged; false when c is not one. */
static bool parse_tune_opt(int c, struct opts *o)
{
	struct hostres_tune *tu = &o->tune;
	struct vs_err err = { 0 };

	switch (c) {
	case OPT_CGROUP:
		o->cgroup = optarg;
		return true;
	case OPT_NO_CGROUP:
		o->no_cgroup = true;
		return true;
	case OPT_NO_INHERIT:
		o->no_inherit = true;
		return true;
	case OPT_PERIOD:
		if (hostres_parse_period(optarg, &tu->period, &err) < 0)
			usage_error("%s", err.msg);
		tu->bw_src = HR_GIVEN;
		return true;
	case OPT_QUOTA:
		if (hostres_parse_quota(optarg, &tu->quota, &err) < 0)
			usage_error("%s", err.msg);
		tu->bw_src = HR_GIVEN;
		return true;
	case OPT_CPUSET:
	case OPT_MEMS:
	case OPT_SCHED:
		parse_vcpu_setting(c, optarg, o);
		return true;
	case OPT_CACHETUNE:
	case OPT_MONITOR:
		if (hostres_valid_group(c == OPT_CACHETUNE ? "--cachetune" : "--monitor", optarg,
					&err) < 0)
			usage_error("%s", err.msg);
		snprintf(c == OPT_CACHETUNE ? tu->cachetune : tu->monitor, HOSTRES_NAME_MAX, "%s",
			 optarg);
		tu->rc_src = HR_GIVEN;
		return true;
	}
	return false;
}

/* An option of the guest's view; false when c is not one. */
static bool parse_guest_opt(int c, struct opts *o)
{
	struct vs_err err = { 0 };

	switch (c) {
	case OPT_GUEST:
		o->guest = true;
		return true;
	case OPT_GUEST_AGENT:
		if (strcmp(optarg, "auto") != 0 && strcmp(optarg, "off") != 0 &&
		    (optarg[0] != '/' || strlen(optarg) > 107))
			usage_error("--guest-agent: '%.64s' is not auto, off or an absolute socket path "
				    "(107 bytes at most)", optarg);
		o->agent = optarg;
		return true;
	case OPT_GUEST_TIMEOUT:
		if (topo_parse_seconds("--guest-timeout", optarg, 0.1, 3600, &o->guest_timeout_s,
				       &err) < 0)
			usage_error("%s", err.msg);
		return true;
	case OPT_NO_GUEST_ONLINE:
		o->no_guest_online = true;
		return true;
	}
	return false;
}

/* An option of the records and the state kept; false when c is not one. */
static bool parse_record_opt(int c, struct opts *o)
{
	struct vs_err err = { 0 };

	switch (c) {
	case OPT_AUDIT:
		if (strcmp(optarg, "required") == 0)
			o->audit = VAUDIT_REQUIRED;
		else if (strcmp(optarg, "auto") == 0)
			o->audit = VAUDIT_AUTO;
		else if (strcmp(optarg, "off") == 0)
			o->audit = VAUDIT_OFF;
		else
			usage_error("--audit: '%.32s' is not auto, required or off", optarg);
		return true;
	case OPT_NO_AUDIT:
		o->audit = VAUDIT_OFF;
		return true;
	case OPT_NAME:
		if (!*optarg || strlen(optarg) >= 256 || strpbrk(optarg, "\n\r"))
			usage_error("%s", "--name: 1..255 characters on one line");
		o->name = optarg;
		return true;
	case OPT_UUID:
		if (strlen(optarg) != 36 || strspn(optarg, "0123456789abcdefABCDEF-") != 36 ||
		    optarg[8] != '-' || optarg[13] != '-' || optarg[18] != '-' || optarg[23] != '-')
			usage_error("--uuid: '%.40s' is not a uuid like "
				    "c7a5fdbd-edaf-9455-926a-d65c16db1809", optarg);
		o->uuid = optarg;
		return true;
	case OPT_STATE_DIR:
		if (optarg[0] != '/')
			usage_error("--state-dir: '%.64s' is not an absolute path", optarg);
		o->state_dir = optarg;
		return true;
	case OPT_LOCK_TIMEOUT:
		if (topo_parse_seconds("--lock-timeout", optarg, 0, 86400, &o->lock_timeout_s,
				       &err) < 0)
			usage_error("%s", err.msg);
		return true;
	case OPT_WAIT:
		o->wait = true;
		return true;
	case OPT_REPAIR:
		o->repair = true;
		return true;
	case OPT_NO_REPAIR:
		o->no_repair = true;
		return true;
	}
	return false;
}

/* The options that exclude or need each other: a usage error (exit 2) otherwise. */
static void check_options(struct opts *o)
{
	const struct hostres_tune *tu = &o->tune;

	bool vmems = false;
	int i;

	for (i = 0; i < o->nvsets; i++)
		vmems = vmems || o->vsets[i].k == HR_S_MEMS;
	o->tune_given = tu->bw_src || tu->cpus_src || tu->mems_src || tu->sched_src || tu->rc_src ||
			o->nvsets;
	if (o->no_cgroup && o->cgroup)
		usage_error("%s", "--cgroup and --no-cgroup exclude each other");
	if (o->no_cgroup && (tu->bw_src || tu->mems_src || vmems))
		usage_error("%s", "--period, --quota and --mems need cgroups, and --no-cgroup was given");
	if (!o->socket && !o->domain)
		usage_error("%s", "--socket PATH or --domain NAME is required");
	if (o->socket && o->domain)
		usage_error("%s", "--socket and --domain exclude each other");
	if (o->domain && o->no_libvirt)
		usage_error("%s", "--domain finds the socket in libvirt's files: not with --no-libvirt");
	if (o->quiet && (o->json || o->verbose))
		usage_error("%s", "--quiet prints nothing on stdout: not with --json or --verbose");
}

/* --guest and the agent's options; --guest takes the COUNT for itself. */
static void check_guest_options(struct opts *o)
{
	if (!o->guest)
		return;
	if (o->list || o->wait || o->repair)
		usage_error("%s", "--guest changes the guest's online CPUs only: not with --enable, "
			    "--disable, --wait or --repair");
	if (strcmp(o->agent, "off") == 0)
		usage_error("%s", "--guest works through the guest agent: not with --guest-agent off");
	if (o->status && o->count)
		usage_error("--guest --status takes no COUNT (got '%s')", o->count);
	if (!o->status && !o->count)
		usage_error("%s", "--guest needs a COUNT (the guest's online CPUs) or --status");
	o->guest_count = o->count;
	o->count = NULL;
}

static const struct option longopts[] = {
	{ "dry-run", no_argument, NULL, 'n' },
	{ "help", no_argument, NULL, 'h' },
	{ "json", no_argument, NULL, 'j' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "socket", required_argument, NULL, 's' },
	{ "domain", required_argument, NULL, 'd' },
	{ "status", no_argument, NULL, 'l' },
	{ "timeout", required_argument, NULL, 't' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, 'V' },
	{ "cgroup", required_argument, NULL, OPT_CGROUP },
	{ "no-cgroup", no_argument, NULL, OPT_NO_CGROUP },
	{ "period", required_argument, NULL, OPT_PERIOD },
	{ "quota", required_argument, NULL, OPT_QUOTA },
	{ "cpuset", required_argument, NULL, OPT_CPUSET },
	{ "enable", required_argument, NULL, OPT_ENABLE },
	{ "disable", required_argument, NULL, OPT_DISABLE },
	{ "mems", required_argument, NULL, OPT_MEMS },
	{ "sched", required_argument, NULL, OPT_SCHED },
	{ "cachetune", required_argument, NULL, OPT_CACHETUNE },
	{ "monitor", required_argument, NULL, OPT_MONITOR },
	{ "no-inherit", no_argument, NULL, OPT_NO_INHERIT },
	{ "audit", required_argument, NULL, OPT_AUDIT },
	{ "no-audit", no_argument, NULL, OPT_NO_AUDIT },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "uuid", required_argument, NULL, OPT_UUID },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT },
	{ "trust-pid", no_argument, NULL, OPT_TRUST_PID },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "command-timeout", required_argument, NULL, OPT_COMMAND_TIMEOUT },
	{ "ack-timeout", required_argument, NULL, OPT_ACK_TIMEOUT },
	{ "sysroot", required_argument, NULL, OPT_SYSROOT },
	{ "no-libvirt", no_argument, NULL, OPT_NO_LIBVIRT },
	{ "repair", no_argument, NULL, OPT_REPAIR },
	{ "no-repair", no_argument, NULL, OPT_NO_REPAIR },
	{ "wait", no_argument, NULL, OPT_WAIT },
	{ "guest", no_argument, NULL, OPT_GUEST },
	{ "guest-agent", required_argument, NULL, OPT_GUEST_AGENT },
	{ "guest-timeout", required_argument, NULL, OPT_GUEST_TIMEOUT },
	{ "no-guest-online", no_argument, NULL, OPT_NO_GUEST_ONLINE },
	{ NULL, 0, NULL, 0 },
};

static void parse_args(int argc, char **argv0, struct opts *o)
{
	char **argv = reorder_relative_count(&argc, argv0);

	struct vs_err err = { 0 };
	int c;

	memset(o, 0, sizeof(*o));
	o->lock_timeout_s = LOCK_TIMEOUT_S;
	o->ack_timeout_s = ACK_TIMEOUT_S;
	o->guest_timeout_s = GUEST_TIMEOUT_S;
	o->agent = "auto";
	while ((c = getopt_long(argc, argv, "d:hjlnqs:t:vV", longopts, NULL)) != -1)
		if (!parse_run_opt(c, o) && !parse_tune_opt(c, o) && !parse_record_opt(c, o) &&
		    !parse_guest_opt(c, o))
			usage_error("%s", "invalid option");
	if (o->sysroot && !o->state_dir) {
		snprintf(o->state_buf, sizeof(o->state_buf), "%s%s", o->sysroot, STATE_DIR);
		o->state_dir = o->state_buf;
	}
	if (!o->state_dir)
		o->state_dir = STATE_DIR;
	check_options(o);
	if (optind < argc)
		o->count = argv[optind++];
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	free(argv);
	check_guest_options(o);
	if (o->list && (o->count || o->status || o->wait || o->repair))
		usage_error("%s takes no COUNT, --status, --wait or --repair: it is what to change",
			    o->list_enable ? "--enable" : "--disable");
	if (o->status && o->count)
		usage_error("--status takes no COUNT (got '%s')", o->count);
	if (o->wait && (o->count || o->status))
		usage_error("%s", "--wait takes no COUNT and no --status");
	if (o->repair && (o->count || o->status || o->wait || o->no_repair))
		usage_error("%s", "--repair takes no COUNT, --status, --wait or --no-repair (a run "
			    "with a COUNT repairs too)");
	if (!o->status && !o->count && !o->list && !o->wait && !o->repair && !o->guest)
		usage_error("%s", "COUNT is required (or --enable, --disable, --status, --wait or "
			    "--repair)");
	if (o->count || o->guest_count) {
		struct topo_count tc;

		if (topo_parse_count(o->count ? o->count : o->guest_count, &tc, &err) < 0)
			usage_error("%s", err.msg);
	}
}

/*
 * Text that may hold what QEMU (or a cgroup name) said, made safe for a terminal and a one-line
 * message: control characters (C0, DEL, and C1 as UTF-8: U+0080..U+009F, which terminals take
 * as CSI, OSC, ST), the bidirectional overrides, and bytes that are not UTF-8 become \xNN
 * byte by byte. Returns buf; size must be at least 4 * len + 1 to hold everything.
 */
static const char *esc(const char *s, size_t len, char *buf, size_t size)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, o = 0, k, n;

	while (i < len && u[i]) {
		unsigned int cp;
		bool bad, quote;

		n = u[i] < 0x80 ? 1 : (u[i] & 0xe0) == 0xc0 ? 2 : (u[i] & 0xf0) == 0xe0 ? 3
		  : (u[i] & 0xf8) == 0xf0 ? 4 : 0;
		bad = n == 0 || i + n > len;
		cp = n == 1 ? u[i] : n ? u[i] & (0x7f >> n) : 0;
		for (k = 1; !bad && k < n; k++) {
			bad = (u[i + k] & 0xc0) != 0x80;
			cp = (cp << 6) | (u[i + k] & 0x3f);
		}
		if (!bad && n > 1 && (cp < (n == 2 ? 0x80u : n == 3 ? 0x800u : 0x10000u) || cp > 0x10ffff))
			bad = true; /* overlong or out of range */
		if (bad)
			n = 1;
		quote = bad || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||
			(cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
		if (o + (quote ? 4 * n : n) + 1 > size)
			break;
		if (quote) {
			for (k = 0; k < n; k++)
				o += (size_t)snprintf(buf + o, size - o, "\\x%02x", u[i + k]);
		} else {
			memcpy(buf + o, s + i, n);
			o += n;
		}
		i += n;
	}
	buf[o] = '\0';
	return buf;
}

/* "vcpuset: [what: ]msg" on stderr, on one line whatever msg holds. */
static void put_line(const char *what, const char *msg)
{
	char buf[4 * sizeof(((struct vs_err *)0)->msg) + 8];

	fprintf(stderr, "vcpuset: %s%s\n", what, esc(msg, strlen(msg), buf, sizeof(buf)));
}

static void trace_stderr(void *ctx, char dir, const char *line, size_t len)
{
	char *buf = malloc(4 * len + 8);

	(void)ctx;
	if (buf)
		fprintf(stderr, "%c %s\n", dir, esc(line, len, buf, 4 * len + 8));
	free(buf);
}

/* The unplug countdown on a terminal's stderr: erased before anything else is said. */
static void countdown_erase(struct ctx *c)
{
	if (c->countdown)
		fputs("\r\033[K", stderr);
	c->countdown = false;
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
	countdown_erase(c);
	if (!c->o.json)
		put_line("warning: ", buf);
}

static void host_warn(void *ctx, const char *msg)
{
	warn(ctx, "%s", msg);
}

/* What is normal but worth telling: stderr with --verbose only. */
static void host_note(void *ctx, const char *msg)
{
	const struct ctx *c = ctx;

	if (c->o.verbose)
		put_line("note: ", msg);
}

/* Is there a libvirt status file to read and update? */
static bool lv_usable(const struct ctx *c)
{
	return c->lv && !lv_why(c->lv);
}

/*
 * The VM's identity for audit records, from the most trusted source that knows it: the
 * admin's --name / --uuid, then libvirt's socket path, then what QEMU claims (a hostile QEMU
 * may claim to be another VM). A claim of QEMU's that differs from a better source is warned
 * about.
 */
static void audit_identity(struct ctx *c)
{
	char qn[4 * sizeof(info(c)->name)], an[4 * sizeof(c->audit_name)];
	const char *src = "--name", *uuid = info(c)->uuid;
	size_t i;
	int id;

	if (lv_usable(c) && lv_uuid(c->lv)[0])
		uuid = lv_uuid(c->lv);
	if (c->o.name) {
		snprintf(c->audit_name, sizeof(c->audit_name), "%s", c->o.name);
	} else if (lv_usable(c)) {
		snprintf(c->audit_name, sizeof(c->audit_name), "%s", lv_name(c->lv));
		src = "libvirt's status file";
	} else if (lv_name_from_socket(c->o.socket, &id, c->audit_name, sizeof(c->audit_name))) {
		src = "libvirt's socket path";
	} else {
		snprintf(c->audit_name, sizeof(c->audit_name), "%s", info(c)->name[0] ? info(c)->name : "?");
	}
	snprintf(c->audit_uuid, sizeof(c->audit_uuid), "%s",
		 c->o.uuid ? c->o.uuid : uuid[0] ? uuid : "00000000-0000-0000-0000-000000000000");
	for (i = 0; c->audit_uuid[i]; i++)
		if (c->audit_uuid[i] >= 'A' && c->audit_uuid[i] <= 'F')
			c->audit_uuid[i] = (char)(c->audit_uuid[i] - 'A' + 'a');
	if (info(c)->name[0] && strcmp(info(c)->name, c->audit_name) != 0)
		warn(c, "QEMU calls the VM '%s', but it is '%s' (%s): records name '%s'",
		     esc(info(c)->name, sizeof(info(c)->name), qn, sizeof(qn)),
		     esc(c->audit_name, sizeof(c->audit_name), an, sizeof(an)), src, an);
	if (info(c)->uuid[0] && strcasecmp(info(c)->uuid, c->audit_uuid) != 0)
		warn(c, "QEMU gives the VM uuid %s, but %s says %s: records use %s", info(c)->uuid,
		     c->o.uuid ? "--uuid" : "libvirt's status file", c->audit_uuid, c->audit_uuid);
}

/*
 * The identity replies are read once, as late as possible (vm_identity), and the audit
 * identity follows from them: before the first change, or for the report.
 */
static int identity(struct ctx *c)
{
	int rc;

	if (c->identified || !c->vm || !c->vo.ask_identity)
		return 0;
	c->identified = true;
	rc = vm_identity(c->vm, &c->err);
	audit_identity(c);
	return rc;
}

/*
 * One audit record for a step. A failure to send is a warning, or with --audit=required an
 * error for the run: the first is kept in audit_err and the run stops after this step.
 */
static void audit_step(struct ctx *c, int old_count, int new_count, bool ok)
{
	struct vaudit_vm vm = { info(c)->kvm ? "kvm" : "qemu", c->audit_name, c->audit_uuid };
	struct vs_err e = { 0 };

	if (c->o.dry_run)
		return;
	if (vaudit_vcpu(c->audit, &vm, old_count, new_count, ok, &e) < 0) {
		if (c->o.audit != VAUDIT_REQUIRED)
			warn(c, "%s", e.msg);
		else if (!c->audit_err.msg[0])
			c->audit_err = e;
	}
}

/*
 * QEMU's cgroups, found once; < 0 with the reason in c->cgroups_err, every time. Before the table
 * is built (tab(c) NULL) only for a QEMU that hot-plugs: legacy cpu-add gets no groups.
 */
static int find_cgroups(struct ctx *c)
{
	if (!c->cgroups_found && !c->o.no_cgroup && !(tab(c) && tab(c)->legacy))
		c->cgroups_rc = hostres_cgroups_find(c->h, qemu_pid(c), c->o.cgroup, &c->cgroups_err);
	c->cgroups_found = true;
	return c->cgroups_rc;
}

/*
 * The state directory and the VM's lock, before connecting: runs queue here, in order. The
 * lock is keyed on the socket file opened (vm_open), not on its name.
 */
static int take_lock(struct ctx *c)
{
	unsigned long long dev, ino;
	int rc;

	rc = state_open(c->o.state_dir, &c->st, &c->err);
	if (rc < 0)
		return vs_err_prefix(&c->err, "no lock and no record of pending unplugs");
	vm_socket_id(c->vm, &dev, &ino);
	return state_lock(c->st, dev, ino, c->o.lock_timeout_s, &c->err);
}

/* The VM's key for its ledger: QEMU's pid and start time. */
static void vm_key(struct ctx *c)
{
	struct vs_err e = { 0 };

	c->key.pid = qemu_pid(c);
	if (qemu_pid(c) <= 0 || hostres_start_time(c->h, qemu_pid(c), &c->key.start, &e) < 0) {
		warn(c, "no record of pending unplugs: %s", e.msg[0] ? e.msg : "QEMU's pid is unknown");
		return;
	}
	c->have_key = true;
}

/* Is the QEMU of a ledger the one with that pid now (gc of the state directory)? */
static bool vm_alive(void *ctx, const struct state_key *k)
{
	struct ctx *c = ctx;
	unsigned long long start;

	return hostres_start_time(c->h, k->pid, &start, NULL) == 0 && start == k->start;
}

static void vm_gone(void *ctx, const char *name)
{
	struct ctx *c = ctx;
	char msg[256];

	snprintf(msg, sizeof(msg), "removed %s/%s: its QEMU is gone", c->o.state_dir, name);
	host_note(c, msg);
}

/* The vcpuN groups a QEMU that is gone left under parent: removed when empty. */
static void vm_groups_gone(void *ctx, const char *parent)
{
	struct ctx *c = ctx;
	char msg[2300];
	int n = hostres_remove_groups_at(c->h, parent);

	if (n) {
		snprintf(msg, sizeof(msg), "removed %d vCPU group%s of a QEMU that is gone, under %s",
			 n, n == 1 ? "" : "s", parent);
		host_note(c, msg);
	}
}

/*
 * Remember, once per run that places a vCPU thread, where this VM's vcpuN groups are: a
 * later run removes them when this QEMU is gone (vm_groups_gone).
 */
static void note_groups(struct ctx *c)
{
	enum { MAX = 8 };
	static char paths[MAX][2 * HOSTRES_PATH_MAX];
	const char *p[MAX];
	struct vs_err e = { 0 };
	int n, i;

	if (c->groups_noted || !c->have_key || !c->st || c->o.dry_run)
		return;
	c->groups_noted = true;
	n = hostres_group_parents(c->h, &paths[0][0], sizeof(paths[0]), MAX);
	for (i = 0; i < n; i++)
		p[i] = paths[i];
	if (n && state_groups_save(c->st, &c->key, p, n, &e) < 0)
		warn(c, "where this VM's vCPU groups are is not recorded: %s", e.msg);
}

static void ledger_save(struct ctx *c)
{
	struct vs_err e = { 0 };

	if (c->have_key && c->st && state_save(c->st, &c->key, c->pend, c->npend, &e) < 0)
		warn(c, "pending unplugs not recorded: %s", e.msg);
}

/*
 * Read only: what became of each unplug earlier runs left pending, and of each step a dead
 * run had started (its intent). A vCPU QEMU no longer lists has gone (to be finished); one
 * plugged again since, or an entry that does not fit the table, is to be dropped; the others
 * stay pending, and their slots are busy (leaving, and not to be touched) unless the guest
 * refused them.
 */
static void classify(struct ctx *c)
{
	int i, k;

	free(c->busy);
	free(c->fate);
	c->busy = calloc((size_t)tab(c)->n + 1, sizeof(*c->busy));
	c->fate = calloc((size_t)c->npend + 1, sizeof(*c->fate));
	for (k = 0; c->fate && k < c->npend; k++) {
		const struct state_entry *e = &c->pend[k];
		const struct topo_vcpu *sv;

		if (e->vcpu + e->vcpus > tab(c)->n || topo_valid_name("alias", e->alias, NULL) < 0) {
			c->fate[k] = FATE_MALFORMED;
			continue;
		}
		sv = &tab(c)->v[e->vcpu];
		if (e->kind == STATE_PLUG)
			c->fate[k] = sv->online ? FATE_PLUGGED : FATE_NOT_PLUGGED;
		else if (!sv->online)
			c->fate[k] = FATE_FINISHED;
		else if (tab(c)->tids_valid && e->tid && sv->tid > 0 && sv->tid != e->tid)
			c->fate[k] = FATE_REPLUGGED; /* no thread at all: QEMU is removing it */
		else if (e->kind == STATE_UNPLUG)
			c->fate[k] = FATE_STILL_THERE; /* pending from now on */
		for (i = e->vcpu; (c->fate[k] == FATE_PENDING || c->fate[k] == FATE_STILL_THERE) &&
		     !e->refused && i < e->vcpu + e->vcpus; i++)
			c->busy[i] = true;
	}
}

/*
 * Drop ledger entry k (and its fate) and write the ledger at once: an entry finished is
 * forgotten right after its record, so that a run killed then does not finish it again.
 * Nothing is written in a dry run.
 */
static void ledger_remove_at(struct ctx *c, int k)
{
	memmove(&c->pend[k], &c->pend[k + 1], (size_t)(c->npend - k - 1) * sizeof(*c->pend));
	if (c->fate)
		memmove(&c->fate[k], &c->fate[k + 1], (size_t)(c->npend - k - 1) * sizeof(*c->fate));
	c->npend--;
	if (!c->o.dry_run)
		ledger_save(c);
}

/* An unplug that completed while no run was there: its groups removed (how many), its record. */
static int finish_unplug(struct ctx *c, const struct state_entry *e)
{
	int i, n = 0;

	if (find_cgroups(c) < 0)
		warn(c, "groups of vCPU %d not removed: %s", e->vcpu, c->cgroups_err.msg);
	for (i = e->vcpu; i < e->vcpu + e->vcpus; i++)
		n += hostres_vcpu_remove(c->h, i);
	if (!e->recorded) /* a dead run may have sent it already */
		audit_step(c, e->old_count, e->new_count, true);
	return n;
}

/*
 * The irreversible part, run once the plan has accepted the COUNT (or for --status and
 * --wait): each unplug that has gone gets its groups removed and its success record, and the
 * ledger keeps only what is still pending. Nothing is changed in a dry run.
 */
static void finish_pending(struct ctx *c)
{
	int k = 0;

	while (c->fate && k < c->npend) {
		const struct state_entry *e = &c->pend[k];

		switch (c->fate[k]) {
		case FATE_MALFORMED:
			warn(c, "%s", "a pending-unplug entry is malformed; dropped");
			break;
		case FATE_REPLUGGED:
			warn(c, "vCPU %d was plugged again since its unplug was asked for; its pending "
			     "entry is dropped", e->vcpu);
			break;
		case FATE_FINISHED: {
			cJSON *done;

			if (e->kind != STATE_PENDING) { /* an intent: recover()'s */
				k++;
				continue;
			}
			done = state_entry_json(e);
			finish_unplug(c, e);
			cJSON_AddStringToObject(done, "status", "finished");
			cJSON_AddItemToArray(c->reconciled, done);
			break;
		}
		case FATE_PENDING:
		case FATE_PLUGGED:
		case FATE_NOT_PLUGGED:
		case FATE_STILL_THERE: /* intents: recover()'s */
			k++;
			continue;
		}
		ledger_remove_at(c, k); /* right after its record: a kill now leaves no twin */
	}
	free(c->fate);
	c->fate = calloc((size_t)c->npend + 1, sizeof(*c->fate)); /* all pending now */
}

/* Both, for a run that waits for the pending unplugs: after each look at QEMU's table. */
static void reconcile(struct ctx *c)
{
	classify(c);
	finish_pending(c);
}

/* vCPUs QEMU lists online whose unplug is pending (busy): COUNT counts them as gone. */
static int pending_count(const struct ctx *c)
{
	int i, n = 0;

	for (i = 0; c->busy && i < tab(c)->n; i++)
		if (c->busy[i] && tab(c)->v[i].online)
			n++;
	return n;
}

/* The count a COUNT is measured from: online minus pending. */
static int counted(const struct ctx *c)
{
	return tab(c)->online - pending_count(c);
}

/*
 * One line of the report's "recovered": what a dead run left of step e, what was done, and
 * the host changes that made (actions, taken).
 */
static void recovered(struct ctx *c, const struct state_entry *e, const char *action,
		      cJSON *actions)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "op", e->kind == STATE_PLUG ? "plug" : "unplug");
	cJSON_AddNumberToObject(o, "vcpu", e->vcpu);
	cJSON_AddStringToObject(o, "alias", e->alias);
	cJSON_AddStringToObject(o, "action", action);
	cJSON_AddItemToObject(o, "actions", actions);
	cJSON_AddItemToArray(c->recovered, o);
}

/*
 * A dead run's plug that QEMU has: the host setup it was to get (the settings written ahead,
 * checked again), then its success record. Returns the action for the report.
 */
static const char *finish_plug(struct ctx *c, const struct state_entry *e)
{
	const struct topo_table *t = tab(c);
	struct hostres_tune tune;
	struct vs_err err = { 0 };
	int i, rc = 0;

	if (!e->recorded) /* a dead run may have sent it already */
		audit_step(c, e->old_count, e->new_count, true);
	if (!e->settings[0])
		return "recorded (no host settings were due)";
	if (!t->tids_valid)
		return "recorded; not set up: QEMU's thread ids are not one per vCPU";
	rc = hostres_tune_parse(e->settings, &tune, &err);
	if (rc == 0 && find_cgroups(c) < 0 && (tune.bw_src || tune.mems_src))
		rc = vs_err_set(&err, ENOENT, "%s", c->cgroups_err.msg);
	if (rc == 0)
		rc = hostres_validate(c->h, &tune, &err);
	if (rc == 0)
		note_groups(c); /* before any group is made */
	for (i = e->vcpu; rc == 0 && i < e->vcpu + e->vcpus; i++)
		rc = hostres_vcpu_setup(c->h, qemu_pid(c), i, t->v[i].tid, &tune, &err);
	if (rc < 0) {
		warn(c, "vCPU %d, plugged by a run that died: its host setup failed: %s", e->vcpu,
		     err.msg);
		return "recorded; host setup failed";
	}
	return "set up and recorded";
}

/*
 * The named phase "recover", right after the VM is read and before the plan: each step a
 * dead run started (its intent; the lock says that run is gone) is finished as far as QEMU's
 * table tells. A plug QEMU has gets its host setup and record; a plug QEMU does not have is
 * dropped with no record (whether QEMU ever answered is unknowable); an unplug that
 * completed gets its groups removed and its record; one still there becomes pending (the
 * guest may still let it go). A dry run reports what it would do.
 */
static int recover(struct ctx *c)
{
	bool any = false;
	int k, n;
	char buf[96];

	for (k = 0; c->fate && k < c->npend; k++)
		any = any || c->pend[k].kind != STATE_PENDING;
	if (!any)
		return 0;
	if (identity(c) < 0) /* the records name the VM */
		return -1;
	for (k = 0; k < c->npend;) {
		struct state_entry *e = &c->pend[k];
		const char *action = NULL;
		cJSON *actions;
		bool keep = false;

		if (e->kind == STATE_PENDING) {
			k++;
			continue;
		}
		actions = cJSON_CreateArray();
		hostres_set_log(c->h, actions);
		switch (c->fate[k]) {
		case FATE_PLUGGED:
			action = finish_plug(c, e);
			break;
		case FATE_NOT_PLUGGED:
			action = "dropped: QEMU does not have it (no record: whether it answered is unknown)";
			break;
		case FATE_FINISHED:
			n = finish_unplug(c, e);
			snprintf(buf, sizeof(buf), "finished: %d group%s removed, recorded", n,
				 n == 1 ? "" : "s");
			action = buf;
			break;
		case FATE_STILL_THERE:
			action = "pending: QEMU still has it (the guest may still let it go)";
			keep = true;
			break;
		default:
			action = "dropped: it does not fit the VM any more";
			break;
		}
		hostres_set_log(c->h, NULL);
		recovered(c, e, action, actions);
		if (keep) { /* pending from now on */
			e->kind = STATE_PENDING;
			if (!c->o.dry_run)
				ledger_save(c);
			k++;
		} else {
			ledger_remove_at(c, k); /* right after its record */
		}
	}
	classify(c); /* the fates of what is left */
	c->before = c->after = counted(c);
	return 0;
}

/* Put e in the ledger in place of any entry for its vCPU, and write it; false if no room. */
static bool ledger_put(struct ctx *c, const struct state_entry *e)
{
	struct state_entry *np;
	int k, kept = 0;

	for (k = 0; k < c->npend; k++)
		if (c->pend[k].vcpu != e->vcpu)
			c->pend[kept++] = c->pend[k];
	c->npend = kept;
	np = realloc(c->pend, (size_t)(c->npend + 1) * sizeof(*np));
	if (!np)
		return false;
	c->pend = np;
	c->pend[c->npend++] = *e;
	ledger_save(c);
	return true;
}

/* Drop the entry of vCPU vcpu (a step complete), and write the ledger. */
/*
 * Just before a step's success record: its intent says the record is being sent, so that a
 * run killed between the record and the ledger's change does not get it sent twice (the
 * next run finishes the step without a record).
 */
static void ledger_mark_recorded(struct ctx *c, int vcpu)
{
	int k;

	for (k = 0; k < c->npend; k++)
		if (c->pend[k].vcpu == vcpu && c->pend[k].kind != STATE_PENDING) {
			c->pend[k].recorded = true;
			ledger_save(c);
			return;
		}
}

static void ledger_drop(struct ctx *c, int vcpu)
{
	int k, kept = 0;

	for (k = 0; k < c->npend; k++)
		if (c->pend[k].vcpu != vcpu)
			c->pend[kept++] = c->pend[k];
	if (kept == c->npend)
		return;
	c->npend = kept;
	ledger_save(c);
}

static const struct hostres_tune *tune_of(struct ctx *c, int i);

/* An entry for step s with result r. */
static void entry_of(struct state_entry *e, enum state_kind kind, const struct topo_step *s,
		     const struct step_result *r)
{
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->vcpu = s->vcpu;
	e->vcpus = s->vcpus;
	e->tid = r->tid;
	e->old_count = s->before;
	e->new_count = s->after;
	e->time = (long long)time(NULL);
	snprintf(e->alias, sizeof(e->alias), "%s", r->alias);
	snprintf(e->qom_path, sizeof(e->qom_path), "%s", r->qom_path);
}

/*
 * Write ahead: before a command that changes the guest goes to QEMU, the ledger says what it
 * is for (a plug with the settings its vCPU is to get). A run killed before the step is
 * complete leaves it, and the next run finishes the story (recover()).
 */
static void intent(struct ctx *c, enum state_kind kind, const struct topo_step *s,
		   const struct step_result *r)
{
	struct state_entry e;

	entry_of(&e, kind, s, r);
	if (kind == STATE_PLUG && c->host_tune &&
	    hostres_tune_text(tune_of(c, s->vcpu), e.settings, sizeof(e.settings)) < 0)
		warn(c, "vCPU %d: its settings are too long to be written ahead; a run killed "
		     "during its plug leaves it to drift repair", s->vcpu);
	if (!ledger_put(c, &e))
		warn(c, "vCPU %d: its step is not written ahead (out of memory)", s->vcpu);
}

/*
 * Record an unplug QEMU accepted and that has not completed: pending (counted as gone, its
 * slot left alone), or refused by the guest (still counted; finished all the same if the
 * vCPU goes later). It takes the place of the step's intent.
 */
static void ledger_add(struct ctx *c, const struct topo_step *s, const struct step_result *r,
		       bool refused)
{
	struct state_entry e;
	int i;

	entry_of(&e, STATE_PENDING, s, r);
	e.refused = refused;
	if (!ledger_put(c, &e)) {
		warn(c, "vCPU %d: its pending unplug is not recorded (out of memory)", s->vcpu);
		return;
	}
	for (i = s->vcpu; c->busy && i < s->vcpu + s->vcpus && i < tab(c)->n; i++)
		c->busy[i] = !refused;
	if (!c->have_key)
		warn(c, "vCPU %d: its pending unplug is not recorded (no state directory)", s->vcpu);
}

/* Is the VM's name, uuid or accelerator used: in audit records, the JSON or --status? */
static bool identity_used(const struct ctx *c)
{
	return vaudit_enabled(c->audit) || c->o.json || c->o.status;
}

/* Can this run change the vCPU count? A guess before the layout is known. */
static bool may_change(const struct ctx *c)
{
	return (c->o.count || c->o.list) && !c->o.status && !c->o.wait;
}

/* Can it plug a vCPU and move its thread into cgroups? */
static bool may_plug(const struct ctx *c)
{
	return may_change(c) && (c->o.list ? c->o.list_enable : c->o.count[0] != '-') &&
	       !c->o.dry_run && !c->o.no_cgroup;
}

static void note_event(void *ctx, const cJSON *ev);

static void test_pause(const char *point);

/* Tests: the pause points inside a step that other modules reach (VCPUSET_TEST_PAUSE). */
static bool live(const struct ctx *c);

/*
 * An unplug's wait, on a terminal: "waiting for the guest to release vCPU 5 ... 1.2 s of 5 s"
 * on stderr, redrawn every tenth of a second and erased when the wait ends. Live text only.
 */
static void countdown(void *ctx, double waited_ms, double timeout_ms, bool done)
{
	struct ctx *c = ctx;

	if (done || !live(c) || !isatty(STDERR_FILENO)) {
		countdown_erase(c);
		return;
	}
	if (c->countdown && waited_ms - c->countdown_at < 100)
		return;
	c->countdown_at = waited_ms;
	fprintf(stderr, "\r\033[Kwaiting for the guest to release vCPU %d ... %.1f s of %g s",
		c->waiting_vcpu, waited_ms / 1000.0, timeout_ms / 1000.0);
	fflush(stderr);
	c->countdown = true;
}

static void pause_waiting(void *ctx)
{
	(void)ctx;
	test_pause("unplug-waiting");
}

static void pause_in_setup(void *ctx, const char *act)
{
	(void)ctx;
	(void)act;
	test_pause("host-setup");
}

/* While QEMU answers query-cpus-fast at start-up: QEMU's cgroups are looked up. */
static void meanwhile(void *ctx)
{
	struct ctx *c = ctx;

	if (may_change(c))
		find_cgroups(c); /* a failure is host_prepare's to report */
}

/* The host's trees: the real ones, or those under --sysroot. */
static int open_host(struct ctx *c)
{
	char proc[600], sys[600], resctrl[600];
	struct hostres_roots roots = { proc, sys, resctrl, c->o.sysroot };
	const char *root = c->o.sysroot;

	if (!root)
		return hostres_open(NULL, &c->h, &c->err);
	snprintf(proc, sizeof(proc), "%s/proc", root);
	snprintf(sys, sizeof(sys), "%s/sys", root);
	snprintf(resctrl, sizeof(resctrl), "%s/sys/fs/resctrl", root);
	if (hostres_open(&roots, &c->h, &c->err) < 0)
		return vs_err_prefix(&c->err, "--sysroot");
	return 0;
}

/* libvirt's directories: the real ones, or those under --sysroot. */
static void libvirt_roots(struct ctx *c)
{
	const char *root = c->o.sysroot;
	static const char *const sub[] = { "run/libvirt/qemu", "etc/libvirt/qemu", "proc", "run" };
	int i;

	if (!root)
		return;
	for (i = 0; i < 4; i++)
		snprintf(c->lv_dirs[i], sizeof(c->lv_dirs[i]), "%s/%s", root, sub[i]);
	c->lvr = (struct lv_roots){ c->lv_dirs[0], c->lv_dirs[1], c->lv_dirs[2], c->lv_dirs[3], root };
}

/* The domain's name, safe to print. */
static const char *lv_shown(const struct ctx *c, char *buf, size_t size)
{
	return esc(lv_name(c->lv), strlen(lv_name(c->lv)), buf, size);
}

/*
 * Before connecting: the libvirt domain of the socket (or the socket of --domain). While a
 * libvirt daemon runs, the monitor is libvirt's and would never greet vcpuset: say so now.
 */
static int libvirt_find(struct ctx *c)
{
	char what[32], name[1100];
	int rc, pid;

	libvirt_roots(c);
	if (c->o.no_libvirt)
		return 0;
	if (c->o.domain) {
		rc = lv_find_domain(&c->lvr, c->o.domain, &c->lv, &c->err);
		if (rc < 0) {
			c->outcome = rc == -ENOENT ? OUT_REFUSED : OUT_FAILED;
			return rc;
		}
		snprintf(c->socket_buf, sizeof(c->socket_buf), "%s", lv_socket(c->lv));
		c->o.socket = c->socket_buf;
	} else {
		rc = lv_find_socket(&c->lvr, c->o.socket, &c->lv, &c->err);
		if (rc < 0) {
			warn(c, "libvirt: %s", c->err.msg);
			memset(&c->err, 0, sizeof(c->err));
		}
		if (rc <= 0)
			return 0;
	}
	lv_shown(c, name, sizeof(name));
	pid = lv_daemon(&c->lvr, what, sizeof(what));
	if (pid > 0)
		return vs_err_set(&c->err, EBUSY, "libvirt domain '%s' is %s's (pid %d), which holds "
				  "its monitor: use virsh setvcpus %s COUNT --live, or stop %s first",
				  name, what, pid, name, what);
	if (lv_why(c->lv))
		warn(c, "libvirt: %s: its settings are not read, its status not updated",
		     lv_why(c->lv));
	return 0;
}

/* Once QEMU's pid is proven: is the status file this QEMU's? */
static void libvirt_check(struct ctx *c)
{
	if (!lv_usable(c))
		return;
	lv_check_pid(c->lv, qemu_pid(c));
	if (lv_why(c->lv))
		warn(c, "libvirt: %s: its settings are not read, its status not updated",
		     lv_why(c->lv));
}

/* Connect to QEMU, read the VM, and what earlier runs left pending: nothing is changed. */
static int gather(struct ctx *c)
{
	struct vm_hooks hooks = { host_warn, note_event, meanwhile, NULL, NULL, c, countdown };
	struct vs_err *err = &c->err;
	int rc;

	rc = open_host(c);
	if (rc < 0)
		return rc;
	hostres_set_warn(c->h, host_warn, c);
	hostres_set_note(c->h, host_note, c);
	hostres_set_dry(c->h, c->o.dry_run); /* reconciliation too changes nothing in a dry run */
	rc = libvirt_find(c); /* --domain's socket, and libvirt still running */
	if (rc < 0)
		return rc;
	if (!c->o.dry_run) {
		const char *why = NULL;

		rc = vaudit_start(c->o.audit, &c->audit, &why, err);
		if (rc < 0)
			return rc;
		if (why)
			warn(c, "%s", why);
	}
	c->vo.socket = c->o.socket;
	c->vo.connect_ms = CONNECT_MS;
	c->vo.command_ms = COMMAND_MS;
	c->vo.trust_pid = c->o.trust_pid;
	c->vo.ask_state = may_change(c) || c->o.status; /* is the VM in a state to change? */
	c->vo.ask_identity = identity_used(c);
	c->vo.count = c->o.count;
	c->vo.stop = &stop_signal;
	if (c->o.verbose)
		hooks.trace = trace_stderr;
	if (getenv("VCPUSET_TEST_PAUSE")) {
		hooks.waiting = pause_waiting;
		hostres_set_act_hook(c->h, pause_in_setup, c); /* after the first act on a thread */
	}
	rc = vm_open(&c->vo, c->h, &hooks, &c->vm, err); /* the name is looked up here, once */
	if (rc == 0)
		rc = take_lock(c); /* before connecting: a second vcpuset queues here */
	if (rc == 0)
		rc = vm_connect(c->vm, err);
	if (rc == 0) /* all that needed more is done: QEMU's words are read with less */
		rc = hostres_drop_privileges(hostres_core_in_use(c->h, qemu_pid(c)), err);
	if (rc < 0)
		return rc;
	vm_key(c);
	libvirt_check(c);
	if (!c->o.dry_run)
		state_gc(c->st, vm_alive, vm_gone, vm_groups_gone, c);
	rc = vm_start(c->vm, err);
	if (rc < 0)
		return rc;
	if (may_plug(c))
		hostres_warm_start(c->h); /* the kernel's wait runs while QEMU answers */
	rc = vm_read(c->vm, err);
	if (rc < 0)
		return rc;
	if (c->have_key) { /* pending unplugs */
		char why[600];

		if (state_load(c->st, &c->key, &c->pend, &c->npend, why, sizeof(why)) < 0)
			return vs_err_set(err, ENOMEM, "out of memory");
		if (why[0])
			warn(c, "%s", why);
	}
	classify(c); /* finished later, once the plan has accepted the COUNT (finish_pending) */
	c->before = c->after = counted(c);
	return 0;
}

static double unplug_timeout_ms(const struct ctx *c)
{
	const struct topo_table *t = tab(c);

	if (c->o.timeout_set)
		return c->o.timeout_s * 1000.0;
	return t && strcmp(t->target, "ppc64") == 0 ? 10000.0 : 5000.0;
}

/* Does the plan plug vCPU i? */
static bool plan_plugs_vcpu(const struct ctx *c, int i)
{
	int k;

	for (k = 0; k < c->plan.nsteps; k++) {
		const struct topo_step *s = &c->plan.steps[k];

		if (s->op == TOPO_PLUG && i >= s->vcpu && i < s->vcpu + s->vcpus)
			return true;
	}
	return false;
}

/* A per-vCPU setting names only vCPUs the run plugs (exit 2 before anything, otherwise). */
static int vsets_plugged(struct ctx *c)
{
	char plugged[256] = "";
	size_t o = 0;
	int k, i;

	for (k = 0; k < c->plan.nsteps; k++)
		if (c->plan.steps[k].op == TOPO_PLUG && o < sizeof(plugged))
			o += (size_t)snprintf(plugged + o, sizeof(plugged) - o, "%s%d", o ? "," : "",
					      c->plan.steps[k].vcpu);
	for (k = 0; k < c->o.nvsets; k++)
		for (i = 0; i < VS_MAX_SLOTS; i++)
			if ((c->o.vsets[k].vcpus[i / 64] >> (i % 64)) & 1 && !plan_plugs_vcpu(c, i))
				return vs_err_set(&c->err, EINVAL, "%s: vCPU %d is not plugged by this "
						  "run (%s%s)", c->o.vsets[k].opt, i,
						  o ? "it plugs " : "it plugs none",
						  plugged);
	return 0;
}

static int plan(struct ctx *c)
{
	struct topo_count tc;
	int rc, i;

	if (!info(c)->can_hotplug && info(c)->hotplug_error[0]) {
		c->outcome = OUT_FAILED;
		return vs_err_set(&c->err, EOPNOTSUPP, "QEMU cannot hot-plug vCPUs on this machine: %s",
				  info(c)->hotplug_error);
	}
	/* c->busy lives in the context, freed at the end of main: clang 14's analyzer loses it. */
	if (c->o.list) {
		rc = topo_plan_list(tab(c), c->o.list, c->o.list_enable, c->busy, &c->plan, &c->err);
	} else {
		topo_parse_count(c->o.count, &tc, NULL); /* NOLINT(clang-analyzer-unix.Malloc) */
		rc = topo_plan(tab(c), &tc, c->busy, &c->plan, &c->err); /* NOLINT(clang-analyzer-unix.Malloc) */
	}
	if (rc == 0)
		rc = vsets_plugged(c);
	if (rc < 0) {
		c->outcome = OUT_REFUSED;
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

		rc = topo_step_command(tab(c), s, &cmd, &args, &c->err);
		if (rc < 0) {
			c->outcome = OUT_REFUSED;
			return rc;
		}
		r->qmp = qmp_command_new(cmd, args);
		cJSON_Delete(args);
		snprintf(r->alias, sizeof(r->alias), "vcpu%d", s->vcpu);
		if (s->op == TOPO_UNPLUG) {
			snprintf(r->alias, sizeof(r->alias), "%s", tab(c)->v[s->vcpu].alias);
			snprintf(r->qom_path, sizeof(r->qom_path), "%s", tab(c)->v[s->vcpu].qom_path);
			r->tid = tab(c)->tids_valid ? tab(c)->v[s->vcpu].tid : 0;
		} else if (tab(c)->legacy) {
			r->alias[0] = '\0';
		}
	}
	return 0;
}

/* Does the plan plug anything? */
static bool plan_plugs(const struct ctx *c)
{
	int i;

	for (i = 0; i < c->plan.nsteps; i++)
		if (c->plan.steps[i].op == TOPO_PLUG)
			return true;
	return false;
}

/*
 * The settings the new vCPUs take from their tuned online siblings (those with vcpuN groups):
 * only what they all agree on, the VM's settings, never one vCPU's own pinning or policy.
 */
static void inherit(struct ctx *c)
{
	struct hostres_tune *sib = calloc((size_t)tab(c)->n + 1, sizeof(*sib));
	int *idx = calloc((size_t)tab(c)->n + 1, sizeof(*idx));
	int i, n = 0;

	if (!sib || !idx) {
		warn(c, "%s", "out of memory: nothing inherited from sibling vCPUs");
		goto out;
	}
	for (i = 0; i < tab(c)->n; i++) {
		const struct topo_vcpu *v = &tab(c)->v[i];

		if (!v->online || v->tid <= 0 || !hostres_vcpu_has_group(c->h, i))
			continue;
		hostres_vcpu_read(c->h, i, v->tid, &sib[n], HR_INHERITED, NULL, NULL);
		idx[n++] = i;
	}
	if (n && hostres_inherit(&c->tune, sib, idx, n, c->why) > 0)
		c->inherit_from = idx[0];
	c->nsiblings = n;
out:
	free(sib);
	free(idx);
}

/* The command line's settings for vCPU i alone ("--cpuset 2:4"), in the order given. */
static void vsets_apply(const struct ctx *c, int i, struct hostres_tune *t)
{
	int k;

	for (k = 0; k < c->o.nvsets; k++) {
		const struct vset *x = &c->o.vsets[k];

		if (!((x->vcpus[i / 64] >> (i % 64)) & 1))
			continue;
		if (x->k == HR_S_CPUS) {
			memcpy(t->cpus, x->mask, sizeof(t->cpus));
			memcpy(t->aff, x->mask, sizeof(t->aff));
			t->cpus_src = t->aff_src = HR_GIVEN;
		} else if (x->k == HR_S_MEMS) {
			memcpy(t->mems, x->mask, sizeof(t->mems));
			t->mems_src = HR_GIVEN;
		} else {
			t->policy = x->policy;
			t->prio = x->prio;
			t->sched_src = HR_GIVEN;
		}
	}
}

/*
 * What vCPU i gets, each setting from the first source that has it: the command line,
 * libvirt's XML for that vCPU, what the tuned siblings share (c->tune), the defaults.
 */
static const struct hostres_tune *tune_of(struct ctx *c, int i)
{
	struct hostres_tune *t;
	char w[512];

	if (!c->vtune && tab(c))
		c->vtune = calloc((size_t)tab(c)->n, sizeof(*c->vtune)); /* NOLINT(bugprone-sizeof-expression): pointers */
	if (!c->vtune || i < 0 || i >= tab(c)->n)
		return &c->tune;
	if (c->vtune[i])
		return c->vtune[i];
	t = malloc(sizeof(*t));
	if (!t)
		return &c->tune;
	*t = c->o.tune;
	vsets_apply(c, i, t);
	if (lv_usable(c) && lv_tune(c->lv, i, t, w, sizeof(w)) >= 0 && w[0])
		warn(c, "libvirt: vCPU %d: %s", i, w);
	hostres_tune_fill(t, &c->tune);
	c->vtune[i] = t;
	return t;
}

/* The same once settled (the report), else the run's. */
static const struct hostres_tune *tune_at(const struct ctx *c, int i)
{
	return c->vtune && tab(c) && i >= 0 && i < tab(c)->n && c->vtune[i] ? c->vtune[i] : &c->tune;
}

/* Does some vCPU plugged take setting k from neither the command line nor libvirt? */
static bool plug_takes_default(const struct ctx *c, int k)
{
	const enum hostres_src *src;
	int i, j, n = 0;

	for (i = 0; i < c->plan.nsteps; i++)
		for (j = c->plan.steps[i].vcpu; c->plan.steps[i].op == TOPO_PLUG &&
		     j < c->plan.steps[i].vcpu + c->plan.steps[i].vcpus; j++, n++) {
			const struct hostres_tune *t = tune_at(c, j);

			src = k == HR_S_BW ? &t->bw_src : k == HR_S_CPUS ? &t->cpus_src
			      : k == HR_S_MEMS ? &t->mems_src : k == HR_S_AFF ? &t->aff_src
			      : k == HR_S_SCHED ? &t->sched_src : &t->rc_src;
			if (*src != HR_GIVEN && *src != HR_LIBVIRT)
				return true;
		}
	return n == 0;
}

/* The settings the siblings disagreed on, where a new vCPU gets the default instead. */
static void warn_not_inherited(struct ctx *c)
{
	char msg[4 * HOSTRES_WHY_MAX];
	size_t o = 0;
	int k;

	msg[0] = '\0';
	for (k = 0; k < HR_NSETTINGS; k++)
		if (c->why[k][0] && o < sizeof(msg) && plug_takes_default(c, k))
			o += (size_t)snprintf(msg + o, sizeof(msg) - o, "%s%s (%s)", o ? "; " : "",
					      hostres_setting_names[k], c->why[k]);
	if (msg[0])
		warn(c, "not inherited, the new vCPUs get the default: %s", msg);
}

/*
 * What a vCPU thread vcpuset places gets (tune_of), checked against the host for each vCPU
 * the plan plugs (c->err when it cannot take them).
 */
static int settle_tune(struct ctx *c)
{
	int i, j, rc;

	c->host_tune = true;
	c->tune = c->o.tune;
	if (!c->o.no_inherit)
		inherit(c);
	if (c->tune.aff_src == HR_UNSET) {
		struct vs_err e = { 0 };

		if (hostres_default_affinity(c->h, &c->tune, &e) < 0)
			warn(c, "no default CPU affinity: %s", e.msg);
	}
	rc = hostres_validate(c->h, &c->tune, &c->err);
	for (i = 0; rc == 0 && i < c->plan.nsteps; i++) {
		const struct topo_step *s = &c->plan.steps[i];

		for (j = s->vcpu; rc == 0 && s->op == TOPO_PLUG && j < s->vcpu + s->vcpus; j++)
			if (hostres_validate(c->h, tune_of(c, j), &c->err) < 0)
				rc = vs_err_prefix(&c->err, "vCPU %d", j);
	}
	if (rc == 0)
		warn_not_inherited(c);
	return rc;
}

/*
 * Before anything changes: find QEMU's cgroups, settle what each new vCPU thread gets
 * (options, else a tuned sibling's settings, else libvirt's defaults) and check it against
 * the host. Fails with exit 2 when the settings cannot be applied.
 */
static int host_prepare(struct ctx *c)
{
	bool plugs = plan_plugs(c);
	int rc;

	if (c->plan.nsteps == 0)
		return 0;
	rc = find_cgroups(c);
	if (rc < 0 && (c->o.cgroup || (plugs && c->o.tune_given))) {
		c->outcome = c->o.cgroup ? OUT_REFUSED : OUT_FAILED;
		c->err = c->cgroups_err;
		return vs_err_prefix(&c->err, "cgroups");
	}
	if (rc < 0)
		warn(c, "no per-vCPU cgroups: %s", c->cgroups_err.msg);
	if (!plugs)
		return 0;
	if (!tab(c)->tids_valid) {
		if (c->o.tune_given) {
			c->outcome = OUT_REFUSED;
			return vs_err_set(&c->err, EOPNOTSUPP, "QEMU's thread ids are not one per vCPU "
					  "(single-threaded TCG?): the host settings asked for cannot be "
					  "applied to a vCPU");
		}
		return 0;
	}
	rc = settle_tune(c);
	if (rc < 0)
		c->outcome = OUT_REFUSED;
	return rc;
}

/*
 * The cookie the VM's online vCPU threads other than step s's share: 1 with *cookie and a
 * thread *from that has it, 0 when none has one, -1 when they differ (why says how),
 * -EINVAL when the kernel has no core scheduling.
 */
static int sibling_cookie(const struct ctx *c, const struct topo_step *s, unsigned long *cookie,
			  int *from, char *why, size_t size)
{
	const struct topo_table *t = tab(c);
	unsigned long x;
	size_t o = 0;
	int i, n = 0, rc = 0;

	*cookie = 0;
	if (hostres_core_cookie(qemu_pid(c), &x) == -EINVAL)
		return -EINVAL;
	for (i = 0; i < t->n; i++) {
		if (!t->v[i].online || t->v[i].tid <= 0 || (i >= s->vcpu && i < s->vcpu + s->vcpus) ||
		    hostres_core_cookie(t->v[i].tid, &x) < 0)
			continue;
		if (o < size)
			o += (size_t)snprintf(why + o, size - o, "%svcpu%d %#lx", o ? ", " : "", i, x);
		if (n++ == 0) {
			*cookie = x;
			*from = t->v[i].tid;
		} else if (x != *cookie) {
			rc = -1;
		}
	}
	return rc < 0 ? -1 : *cookie != 0;
}

/* The host side of one step, for --dry-run: log what would be done. */
static void host_dry(struct ctx *c, const struct topo_step *s, struct step_result *r)
{
	struct vs_err e = { 0 };
	int i;

	if (!c->h)
		return;
	r->host = cJSON_CreateObject();
	hostres_set_log(c->h, cJSON_AddArrayToObject(r->host, "actions"));
	for (i = s->vcpu; i < s->vcpu + s->vcpus; i++) {
		if (s->op == TOPO_UNPLUG)
			hostres_vcpu_remove(c->h, i);
		else if (c->host_tune &&
			 hostres_vcpu_setup(c->h, qemu_pid(c), i, 0, tune_of(c, i), &e) < 0)
			warn(c, "vCPU %d: %s", i, e.msg);
	}
	if (s->op == TOPO_PLUG && tab(c)->tids_valid) { /* the core-scheduling cookie to join */
		unsigned long cookie;
		char why[512];
		int from = 0;

		if (sibling_cookie(c, s, &cookie, &from, why, sizeof(why)) > 0)
			for (i = s->vcpu; i < s->vcpu + s->vcpus; i++)
				hostres_core_share(c->h, from, 0, &e);
	}
	hostres_set_log(c->h, NULL);
}

static int step_fail(struct ctx *c, struct step_result *r, int rc, const char *what)
{
	vs_err_prefix(&c->err, "%s", what);
	snprintf(r->error, sizeof(r->error), "%s", c->err.msg);
	r->status = ST_FAILED;
	return rc;
}

/* An event read anywhere in the run: the guest's answer to one of this run's plugs? */
static void note_event(void *ctx, const cJSON *ev)
{
	struct ctx *c = ctx;
	const char *dev;
	int i, status;

	if (!c->res || !topo_ost_insert(ev, &dev, &status))
		return;
	for (i = 0; i < c->plan.nsteps; i++) {
		struct step_result *r = &c->res[i];

		if (c->plan.steps[i].op == TOPO_PLUG && r->ack == 0 && strcmp(r->alias, dev) == 0) {
			r->ack = status == 0 ? 1 : 0;
			r->ack_status = status;
		}
	}
}

/*
 * After an unplug (from old_count to new_count vCPUs) that returned rc: the groups of the vCPUs
 * gone are removed, and the record vm_unplug asked for is written.
 */
static void unplugged(struct ctx *c, const struct topo_step *s, int rc, const struct vm_unplug *u)
{
	int i;

	for (i = s->vcpu; rc == 0 && i < s->vcpu + s->vcpus; i++)
		hostres_vcpu_remove(c->h, i);
	if (u->record == VM_REC_OK)
		ledger_mark_recorded(c, s->vcpu);
	if (u->record != VM_REC_NONE)
		audit_step(c, s->before, s->after, u->record == VM_REC_OK);
}

/*
 * What the host log says was done before a failure: "after the thread was moved into 4 groups
 * and cpuset.cpus, cpuset.mems were written", or "before anything on the host changed".
 */
static void actions_done(const cJSON *actions, char *buf, size_t size)
{
	char files[256] = "";
	const cJSON *a;
	size_t fo = 0;
	int moved = 0, made = 0, aff = 0, sched = 0, n = 0;

	cJSON_ArrayForEach(a, actions) {
		const char *op = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "op"));
		const char *path = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "path"));
		const char *base = path && strrchr(path, '/') ? strrchr(path, '/') + 1 : path;

		if (!op || cJSON_GetObjectItemCaseSensitive(a, "error"))
			continue;
		n++;
		if (strcmp(op, "mkdir") == 0) {
			made++;
		} else if (strcmp(op, "sched_setaffinity") == 0) {
			aff++;
		} else if (strcmp(op, "sched_setscheduler") == 0) {
			sched++;
		} else if (strcmp(op, "write") == 0 && base &&
			   (strcmp(base, "tasks") == 0 || strcmp(base, "cgroup.threads") == 0)) {
			moved++;
		} else if (strcmp(op, "write") == 0 && base && !strstr(files, base) &&
			   strcmp(base, "cgroup.type") != 0 && strcmp(base, "cgroup.subtree_control") != 0 &&
			   fo < sizeof(files)) {
			fo += (size_t)snprintf(files + fo, sizeof(files) - fo, "%s%s", fo ? ", " : "",
					       base);
		}
	}
	if (!n) {
		snprintf(buf, size, "%s", "before anything on the host changed");
		return;
	}
	{
		const char *part[5];
		char wrote[300];
		size_t o;
		int k = 0, i;

		snprintf(wrote, sizeof(wrote), "%s %s written", files, strchr(files, ',') ? "were" : "was");
		if (moved)
			part[k++] = "the thread was moved into its groups";
		else if (made)
			part[k++] = "its groups were made";
		if (files[0])
			part[k++] = wrote;
		if (aff)
			part[k++] = "its affinity was set";
		if (sched)
			part[k++] = "its policy was set";
		o = (size_t)snprintf(buf, size, "%s", "after");
		for (i = 0; i < k && o < size; i++)
			o += (size_t)snprintf(buf + o, size - o, "%s %s",
					      i == 0 ? "" : i + 1 == k ? " and" : ",", part[i]);
	}
}

/*
 * Host setup of a just-plugged vCPU failed (c->err says why): the guest must not keep a
 * half-tuned vCPU, so unplug it again; an undo that does not complete in time is pending
 * like any other unplug (a later run finishes it). Returns the step's error; exit 4 if the
 * vCPU may stay.
 */
static int plug_rollback(struct ctx *c, const struct topo_step *s, struct step_result *r,
			 const char *what, const char *stage)
{
	struct topo_step u = { TOPO_UNPLUG, s->vcpu, s->vcpus, s->after, s->before };
	char why[sizeof(c->err.msg)], done[320];
	struct vm_unplug del;
	int rc;

	snprintf(why, sizeof(why), "%s", c->err.msg);
	actions_done(cJSON_GetObjectItemCaseSensitive(r->host, "actions"), done, sizeof(done));
	if (!tab(c)->legacy)
		intent(c, STATE_UNPLUG, &u, r); /* in place of the plug's */
	hostres_set_log(c->h, cJSON_GetObjectItemCaseSensitive(r->host, "actions"));
	rc = vm_unplug_again(c->vm, s, r->qmp, unplug_timeout_ms(c), &del, &c->err);
	unplugged(c, &u, rc, &del);
	hostres_set_log(c->h, NULL);
	r->status = ST_FAILED;
	if (rc != -ENOTRECOVERABLE && (rc == 0 || !(rc == -EINPROGRESS || (rc != -EPERM &&
									    del.accepted))))
		ledger_drop(c, s->vcpu); /* complete: gone, or staying (a later repair's) */
	if (rc == 0) {
		vs_err_set(&c->err, EIO, "%s: %s (%s) %s; unplugged it again", what, stage, why, done);
	} else if (rc == -EINPROGRESS || (rc != -EPERM && del.accepted)) {
		ledger_add(c, &u, r, false);
		vs_err_set(&c->err, EIO, "%s: %s (%s) %s; its unplug to undo it did not complete in "
			   "time: pending, a later run finishes it ('vcpuset --status' or '--wait')",
			   what, stage, why, done);
		c->left_plugged = true;
	} else {
		vs_err_set(&c->err, EIO, "%s: %s (%s) %s; %s: vCPU %d stays plugged with that much done",
			   what, stage, why, done, rc == -EOPNOTSUPP
			   ? "it cannot be unplugged (legacy QEMU)" : "unplugging it again failed",
			   s->vcpu);
		c->left_plugged = true;
	}
	snprintf(r->error, sizeof(r->error), "%s", c->err.msg);
	return -EIO;
}

/* Host setup of the threads of a vCPU just plugged, and what the kernel says after it. */
/*
 * Core scheduling: when the VM's vCPU threads share a cookie (libvirt's sched_core='vcpus'
 * and the like), the new vCPU threads of step s join it, so that they never share an SMT core
 * with another tenant. Siblings that differ, or a kernel without it: nothing (a note, and a
 * warning when the siblings have one the new vCPU cannot get).
 */
static void core_join(struct ctx *c, const struct topo_step *s, struct step_result *r)
{
	const struct topo_table *t = tab(c);
	char why[512] = "";
	unsigned long sc, x;
	struct vs_err e = { 0 };
	int i, from = 0, rc = sibling_cookie(c, s, &sc, &from, why, sizeof(why));

	r->core = rc == -EINVAL ? "unsupported" : rc < 0 ? "differ" : rc == 0 ? "none" : "had";
	if (rc == -EINVAL)
		host_note(c, "core scheduling: this kernel has none (no PR_SCHED_CORE)");
	if (rc < 0 && rc != -EINVAL)
		warn(c, "vCPU %d: its siblings' core-scheduling cookies differ (%s): it gets none",
		     s->vcpu, why);
	if (rc <= 0)
		return;
	r->core_cookie = sc;
	for (i = s->vcpu; i < s->vcpu + s->vcpus; i++) {
		if (hostres_core_cookie(t->v[i].tid, &x) == 0 && x == sc)
			continue; /* QEMU made it with the cookie already */
		if (hostres_core_share(c->h, from, t->v[i].tid, &e) < 0 ||
		    hostres_core_cookie(t->v[i].tid, &x) < 0 || x != sc) {
			r->core = "failed";
			warn(c, "vCPU %d: it could not get the core-scheduling cookie its siblings "
			     "share (%#lx)%s%s", i, sc, e.msg[0] ? ": " : "", e.msg);
			return;
		}
		r->core = "joined";
	}
}

static int tune_plugged(struct ctx *c, const struct topo_step *s, struct step_result *r)
{
	const struct topo_table *t = tab(c);
	cJSON *kernel;
	int rc, i;

	note_groups(c); /* before any group is made */
	r->host = cJSON_CreateObject();
	hostres_set_log(c->h, cJSON_AddArrayToObject(r->host, "actions"));
	for (i = s->vcpu, rc = 0; i < s->vcpu + s->vcpus && rc == 0; i++)
		rc = hostres_vcpu_setup(c->h, qemu_pid(c), i, t->v[i].tid, tune_of(c, i), &c->err);
	hostres_set_log(c->h, NULL);
	if (rc < 0)
		return rc;
	hostres_set_log(c->h, cJSON_GetObjectItemCaseSensitive(r->host, "actions"));
	core_join(c, s, r);
	hostres_set_log(c->h, NULL);
	kernel = cJSON_AddArrayToObject(r->host, "kernel");
	for (i = s->vcpu; i < s->vcpu + s->vcpus; i++) {
		struct hostres_tune rb;
		cJSON *o = NULL;

		memset(&rb, 0, sizeof(rb));
		hostres_vcpu_read(c->h, i, t->v[i].tid, &rb, HR_GIVEN, &o, NULL);
		cJSON_AddNumberToObject(o, "vcpu", i);
		cJSON_AddNumberToObject(o, "tid", t->v[i].tid);
		cJSON_AddItemToArray(kernel, o);
	}
	return 0;
}

/*
 * Tests: stop (SIGSTOP) at the named point of a step when VCPUSET_TEST_PAUSE names it, so
 * that a test can SIGKILL the run exactly there (the man page lists the points).
 */
static void test_pause(const char *point)
{
	const char *p = getenv("VCPUSET_TEST_PAUSE");

	if (p && strcmp(p, point) == 0)
		raise(SIGSTOP);
}

/* The plug's audit record, as vm_plug said: once QEMU's answer is known. */
static void plug_record(struct ctx *c, const struct topo_step *s, const struct vm_plug *p)
{
	if (p->record == VM_REC_OK)
		ledger_mark_recorded(c, s->vcpu);
	if (p->record != VM_REC_NONE)
		audit_step(c, s->before, s->after, p->record == VM_REC_OK);
}

/*
 * One plug: its intent written ahead, device_add, the check, host setup, then the record and
 * the intent dropped. A failure after QEMU took it takes the vCPU out again (plug_rollback);
 * an answer never learnt leaves the intent for a later run.
 */
static int do_plug(struct ctx *c, const struct topo_step *s, struct step_result *r)
{
	const struct topo_vcpu *v;
	struct vm_plug p;
	char what[96];
	int rc;

	snprintf(what, sizeof(what), "plug vCPU %d%s%s", s->vcpu, r->alias[0] ? " as " : "", r->alias);
	intent(c, STATE_PLUG, s, r);
	test_pause("plug-intent");
	if (c->host_tune)
		hostres_warm_start(c->h); /* the kernel's wait runs while QEMU works */
	rc = vm_plug(c->vm, s, r->qmp, &p, &c->err);
	if (p.learned)
		warn(c, "vCPU %d: device_add got no answer (%s), but QEMU has plugged it: going on",
		     s->vcpu, p.why);
	if (rc == -ENOTRECOVERABLE) { /* the intent stays: a later run finds out */
		step_fail(c, r, rc, what);
		r->status = ST_UNKNOWN;
		return rc;
	}
	if (rc < 0) {
		plug_record(c, s, &p);
		if (p.undo)
			return plug_rollback(c, s, r, what, "checking it failed");
		ledger_drop(c, s->vcpu);
		return step_fail(c, r, rc, what);
	}
	test_pause("plug-accepted");
	v = &tab(c)->v[s->vcpu];
	r->tid = tab(c)->tids_valid ? v->tid : 0;
	snprintf(r->qom_path, sizeof(r->qom_path), "%s", v->qom_path);
	if (v->alias[0])
		snprintf(r->alias, sizeof(r->alias), "%s", v->alias);
	if (!tab(c)->tids_valid)
		warn(c, "vCPU %d: QEMU's thread ids are not one per vCPU (single-threaded TCG?): "
		     "no per-thread setup is possible", s->vcpu);
	else if (c->host_tune && tune_plugged(c, s, r) < 0) {
		plug_record(c, s, &p);
		return plug_rollback(c, s, r, what, "host setup failed");
	}
	test_pause("plug-tuned");
	plug_record(c, s, &p);
	test_pause("plug-recorded");
	ledger_drop(c, s->vcpu);
	r->status = ST_DONE;
	return 0;
}

static int do_unplug(struct ctx *c, const struct topo_step *s, struct step_result *r)
{
	struct vm_unplug del;
	char what[96];
	int rc;

	snprintf(what, sizeof(what), "unplug vCPU %d (%s)", s->vcpu, r->alias);
	intent(c, STATE_UNPLUG, s, r);
	test_pause("unplug-intent");
	r->host = cJSON_CreateObject();
	hostres_set_log(c->h, cJSON_AddArrayToObject(r->host, "actions"));
	c->waiting_vcpu = s->vcpu;
	rc = vm_unplug(c->vm, s->vcpu, s->vcpus, r->qmp, unplug_timeout_ms(c), &del, &c->err);
	if (rc == 0)
		test_pause("unplug-gone");
	unplugged(c, s, rc, &del);
	hostres_set_log(c->h, NULL);
	if (rc == 0 || (rc < 0 && rc != -EINPROGRESS && rc != -ENOTRECOVERABLE && !del.accepted))
		ledger_drop(c, s->vcpu); /* complete: gone, or refused by QEMU */
	if (rc == -EINPROGRESS) {
		r->status = ST_PENDING;
		snprintf(r->error, sizeof(r->error), "unplug of vCPU %d (%s) requested, not complete "
			 "after %.3g s%s; it may still complete: a later run finishes it ('vcpuset "
			 "--status' or '--wait')", s->vcpu, r->alias, unplug_timeout_ms(c) / 1000.0,
			 stop_signal ? " (interrupted)" : "");
		ledger_add(c, s, r, false);
		return rc;
	}
	if (rc < 0 && rc != -EPERM && del.accepted) {
		/* QEMU took device_del, then the monitor failed: the guest may still let it go. */
		r->status = ST_PENDING;
		snprintf(r->error, sizeof(r->error), "unplug of vCPU %d (%s) requested, then: %.300s; "
			 "whether it completed is unknown: a later run finishes it ('vcpuset --status' "
			 "or '--wait')", s->vcpu, r->alias, c->err.msg);
		ledger_add(c, s, r, false);
		return -EINPROGRESS;
	}
	if (rc == -EPERM && del.accepted) {
		ledger_add(c, s, r, true); /* if the guest lets it go after all, a later run finishes it */
		vs_err_prefix(&c->err, "%s", what);
		snprintf(r->error, sizeof(r->error), "%.380s; it stays online (if the guest releases "
			 "it later, a later run finishes the unplug)", c->err.msg);
		snprintf(c->err.msg, sizeof(c->err.msg), "%s", r->error);
		r->status = ST_FAILED;
		return rc;
	}
	if (rc < 0)
		return step_fail(c, r, rc, what);
	r->status = ST_DONE;
	return 0;
}

/*
 * Does step s still fit the VM as QEMU last described it (each step refreshes the table)?
 * Another QMP client may have changed it since the plan: then going on would overshoot.
 */
static int step_fits(struct ctx *c, const struct topo_step *s, int i)
{
	const struct topo_vcpu *v = &tab(c)->v[s->vcpu];
	bool slot_ok = s->op == TOPO_PLUG ? !v->online : v->online && v->alias[0];

	if (counted(c) == s->before && slot_ok)
		return 0;
	return vs_err_set(&c->err, ESTALE, "the VM changed under vcpuset after %d of %d steps "
			  "(another QMP client?): %d vCPUs where %d were expected, vCPU %d %s; "
			  "stopped rather than overshoot COUNT %d", i, c->plan.nsteps, counted(c),
			  s->before, s->vcpu, v->online ? "online" : "offline", c->plan.target);
}

static void show_before(struct ctx *c);
static void show_step(struct ctx *c, int i);

static void apply(struct ctx *c)
{
	int i, rc;
	double t0, c0;

	for (i = 0; i < c->plan.nsteps; i++) {
		const struct topo_step *s = &c->plan.steps[i];
		struct step_result *r = &c->res[i];

		if (i && step_fits(c, s, i) < 0) {
			c->outcome = OUT_DRIFTED;
			return;
		}
		if (stop_signal) {
			c->outcome = OUT_STOPPED;
			vs_err_set(&c->err, EINTR, "stopped by %s after %d of %d steps; every step done is "
				   "complete (host setup, audit)", strsignal(stop_signal), i,
				   c->plan.nsteps);
			return;
		}
		show_before(c);
		t0 = vs_now_ms();
		c0 = cpu_now_ms();
		rc = s->op == TOPO_PLUG ? do_plug(c, s, r) : do_unplug(c, s, r);
		r->ms = vs_now_ms() - t0;
		r->cpu_ms = cpu_now_ms() - c0;
		c->after = counted(c);
		if (rc == -ENOTRECOVERABLE) {
			r->status = ST_UNKNOWN;
			snprintf(r->error, sizeof(r->error), "%s", c->err.msg);
		}
		show_step(c, i);
		if (rc == -ENOTRECOVERABLE) {
			c->outcome = OUT_UNKNOWN;
			return;
		}
		if (rc == -EINPROGRESS) {
			c->outcome = stop_signal && i + 1 < c->plan.nsteps ? OUT_STOPPED : OUT_PENDING;
			vs_err_set(&c->err, EINPROGRESS, "%s", r->error);
			return;
		}
		if (rc < 0) {
			c->outcome = OUT_FAILED;
			return;
		}
		c->done_steps++;
		if (c->audit_err.msg[0]) {
			c->outcome = OUT_AUDIT;
			c->err = c->audit_err;
			vs_err_prefix(&c->err, "--audit=required: stopped after %d of %d steps",
				      c->done_steps, c->plan.nsteps);
			return;
		}
	}
	if (c->plan.nsteps && counted(c) != c->plan.target) {
		c->outcome = OUT_DRIFTED;
		vs_err_set(&c->err, ESTALE, "the VM has %d vCPUs after the run, not the %d asked for "
			   "(another QMP client changed it?)", counted(c), c->plan.target);
	}
}

/* Is vCPU i's slot in the ledger (pending, or a step under way)? */
static bool in_ledger(const struct ctx *c, int i)
{
	int k;

	for (k = 0; k < c->npend; k++)
		if (i >= c->pend[k].vcpu && i < c->pend[k].vcpu + c->pend[k].vcpus)
			return true;
	return false;
}

static void add_index(int **v, int *n, int i)
{
	int *nv = realloc(*v, (size_t)(*n + 1) * sizeof(**v));

	if (nv) {
		*v = nv;
		(*v)[(*n)++] = i;
	}
}

/*
 * Read only: drift (issue 15), whatever made it (a crash before intents, a hand edit, a tool
 * that moved threads). Untuned: a hot-plugged online vCPU (a vcpuN alias) whose thread is not
 * in its vcpuN group in a hierarchy where QEMU's vCPUs have groups. Orphan: a vcpuN group
 * under QEMU's parent with no vCPU N online, no ledger entry, and no thread in it.
 */
static void find_drift(struct ctx *c)
{
	const struct topo_table *t = tab(c);
	int i, ng = 0, *groups = NULL;

	if (c->o.no_cgroup || !t || t->legacy || find_cgroups(c) < 0)
		return;
	for (i = 0; t->tids_valid && i < t->n; i++) {
		const struct topo_vcpu *v = &t->v[i], *hd = &t->v[v->head];

		if (hd->online && hd->alias[0] && v->tid > 0 && !in_ledger(c, i) &&
		    hostres_vcpu_placed(c->h, i, v->tid) == 0)
			add_index(&c->untuned, &c->nuntuned, i);
	}
	hostres_vcpu_groups(c->h, &groups, &ng);
	for (i = 0; i < ng; i++)
		if (!(groups[i] < t->n && t->v[groups[i]].online) && !in_ledger(c, groups[i]) &&
		    !hostres_vcpu_group_used(c->h, groups[i]))
			add_index(&c->orphans, &c->norphans, groups[i]);
	free(groups);
}

/* Should this run mend the drift it found? A run that may change the VM, or --repair. */
static bool repairs(const struct ctx *c)
{
	return !c->o.no_repair && (c->o.repair || may_change(c));
}

/*
 * Mend the drift: each untuned vCPU gets what a plug gives it (the same rules: options win,
 * then what the tuned siblings share, then the defaults); each orphan group is removed.
 * Never a group that holds a thread that is not QEMU's (hostres refuses). A dry run logs it.
 */
static void repair(struct ctx *c)
{
	struct vs_err e = { 0 };
	int i, rc = 0;

	if (!c->nuntuned && !c->norphans)
		return;
	c->drift_log = cJSON_CreateArray();
	hostres_set_log(c->h, c->drift_log);
	if (c->nuntuned && !c->host_tune)
		rc = settle_tune(c);
	if (rc < 0)
		warn(c, "untuned vCPUs left as they are: %s", c->err.msg);
	for (i = 0; rc == 0 && i < c->nuntuned; i++) {
		int v = c->untuned[i];

		note_groups(c); /* before any group is made */
		if (hostres_validate(c->h, tune_of(c, v), &e) < 0 ||
		    hostres_vcpu_setup(c->h, qemu_pid(c), v, tab(c)->v[v].tid, tune_of(c, v), &e) < 0)
			warn(c, "vCPU %d left untuned: %s", v, e.msg);
	}
	for (i = 0; i < c->norphans; i++)
		hostres_vcpu_remove(c->h, c->orphans[i]);
	hostres_set_log(c->h, NULL);
	memset(&c->err, 0, sizeof(c->err));
	c->repaired = true;
}

/* The report's "drift": what was found, whether it was mended, the host changes made. */
static cJSON *drift_json(const struct ctx *c)
{
	cJSON *o = cJSON_CreateObject(), *a;
	int i;

	a = cJSON_AddArrayToObject(o, "untuned");
	for (i = 0; i < c->nuntuned; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber(c->untuned[i]));
	a = cJSON_AddArrayToObject(o, "orphan_groups");
	for (i = 0; i < c->norphans; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber(c->orphans[i]));
	cJSON_AddBoolToObject(o, "repaired", c->repaired);
	cJSON_AddItemToObject(o, "actions", c->drift_log ? cJSON_Duplicate(c->drift_log, 1)
						       : cJSON_CreateArray());
	return o;
}

static void report_drift_text(const struct ctx *c)
{
	const char *then = c->repaired ? "mended" : c->o.no_repair ? "left (--no-repair)"
			   : "'vcpuset --repair' mends it";
	int i;

	for (i = 0; i < c->nuntuned; i++)
		printf("drift: vCPU %d is untuned (its thread is not in its vcpu%d groups): %s\n",
		       c->untuned[i], c->untuned[i], then);
	for (i = 0; i < c->norphans; i++)
		printf("drift: group vcpu%d is an orphan (no vCPU %d): %s\n", c->orphans[i],
		       c->orphans[i], then);
}

/* Does the guest answer plugs (x86 ACPI CPU hotplug through device_add)? */
static bool acks_apply(const struct ctx *c)
{
	const struct topo_table *t = tab(c);

	return t && !t->legacy && (strcmp(t->target, "x86_64") == 0 ||
				   strcmp(t->target, "i386") == 0);
}

/* Plugged vCPUs the guest has not answered for yet. */
static int unacked(const struct ctx *c)
{
	int i, n = 0;

	for (i = 0; i < c->plan.nsteps; i++)
		n += c->plan.steps[i].op == TOPO_PLUG && c->res[i].status == ST_DONE &&
		     c->res[i].ack == 0 && !c->res[i].ack_status;
	return n;
}

/*
 * Before exit: the guest's acknowledgment of each vCPU plugged (ACPI_DEVICE_OST, insert,
 * status 0), collected while the run went on, and waited for up to --ack-timeout. A booted
 * guest answers within tens of ms; an early-boot or broken one never does, and then QEMU
 * lists a vCPU the guest does not use.
 */
static void wait_acks(struct ctx *c)
{
	double deadline = vs_now_ms() + c->o.ack_timeout_s * 1000.0;
	cJSON *ev = NULL;
	int i, rc;

	if (!c->res || !c->vm)
		return;
	if (!acks_apply(c)) {
		for (i = 0; i < c->plan.nsteps; i++)
			c->res[i].ack = -1;
		return;
	}
	while (unacked(c) > 0 && !stop_signal) {
		/* --ack-timeout 0 takes what is here already and waits for nothing */
		rc = vm_next_event(c->vm, vs_left_ms(deadline), &ev, NULL);
		if (rc <= 0)
			break; /* no more in time, or the monitor is gone: what came is what we know */
		note_event(c, ev);
		cJSON_Delete(ev);
		ev = NULL;
	}
	for (i = 0; i < c->plan.nsteps; i++) {
		struct step_result *r = &c->res[i];

		if (c->plan.steps[i].op != TOPO_PLUG || r->status != ST_DONE || r->ack == 1)
			continue;
		if (!r->ack_status && c->o.ack_timeout_s <= 0) {
			r->ack = -1; /* not waited for: not known */
			continue;
		}
		if (r->ack_status)
			warn(c, "vCPU %d: the guest could not take it (ACPI status %d): QEMU lists it, "
			     "the guest does not use it", c->plan.steps[i].vcpu, r->ack_status);
		else
			warn(c, "vCPU %d: the guest did not acknowledge it within %.3g s (still booting, "
			     "or no ACPI CPU hotplug?): QEMU lists it, the guest may not use it",
			     c->plan.steps[i].vcpu, c->o.ack_timeout_s);
	}
}

/* Apply the plan, with QEMU's emulator cpuset widened for as long as plugs run. */
static void apply_all(struct ctx *c)
{
	struct vs_err e = { 0 };

	if (plan_plugs(c) && c->host_tune) {
		hostres_set_log(c->h, c->host_log);
		hostres_emulator_widen(c->h, &e);
		hostres_set_log(c->h, NULL);
	}
	apply(c);
	hostres_set_log(c->h, c->host_log);
	hostres_emulator_restore(c->h);
	hostres_set_log(c->h, NULL);
	wait_acks(c);
}

/* ---- the guest's view, through its agent ---- */

static void trace_agent(void *ctx, char dir, const char *line, size_t len)
{
	char *buf = malloc(4 * len + 8);

	(void)ctx;
	if (buf)
		fprintf(stderr, "agent%c %s\n", dir, esc(line, len, buf, 4 * len + 8));
	free(buf);
}

static int guest_timeout_ms(const struct ctx *c)
{
	return (int)(c->o.guest_timeout_s * 1000.0);
}

static bool is_socket(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

/*
 * libvirt's layout beside a monitor at <dir>/domain-<id>-<name>/monitor.sock: the agent's
 * channel at <dir>/channel/target/domain-<id>-<name>/org.qemu.guest_agent.0, if it is there.
 */
static int layout_agent(const struct ctx *c, char *path, size_t size)
{
	const char *s = c->o.socket, *end = strrchr(s, '/'), *dom;
	int id;

	if (!end || !lv_name_from_socket(s, &id, path, size))
		return -ENOENT;
	for (dom = end; dom > s && dom[-1] != '/'; dom--)
		;
	snprintf(path, size, "%.*schannel/target/%.*s/" GA_PORT_NAME, (int)(dom - s), s,
		 (int)(end - dom), dom);
	return is_socket(path) ? 0 : -ENOENT;
}

/*
 * Where the agent listens: --guest-agent PATH; else the socket QEMU's own port named
 * org.qemu.guest_agent.0 is connected to; else libvirt's status file when QEMU cannot say.
 * -ENOENT: there is none (silent with auto), -ENOTCONN: the guest has not opened its port.
 */
static int agent_path(struct ctx *c)
{
	struct vs_err e = { 0 };
	char path[sizeof(c->ga_path) - 700];
	bool open = false;
	int rc;

	if (strcmp(c->o.agent, "auto") != 0) {
		snprintf(c->ga_path, sizeof(c->ga_path), "%s", c->o.agent);
		c->ga_from = "given";
		return 0;
	}
	rc = vm_agent_channel(c->vm, GA_PORT_NAME, path, sizeof(path), &open, &e);
	if (rc == 0) {
		/* QEMU's word: a path relative to its working directory is taken from there */
		if (path[0] == '/')
			snprintf(c->ga_path, sizeof(c->ga_path), "%s%s",
				 c->o.sysroot ? c->o.sysroot : "", path);
		else
			snprintf(c->ga_path, sizeof(c->ga_path), "%s/proc/%d/cwd/%s",
				 c->o.sysroot ? c->o.sysroot : "", qemu_pid(c), path);
		c->ga_from = "qemu";
		if (!open) {
			snprintf(c->ga_why, sizeof(c->ga_why), "the guest has not opened its agent port "
				 "(qemu-ga is not running?)");
			return -ENOTCONN;
		}
		return 0;
	}
	/* QEMU cannot say (no QOM): libvirt's files, when a socket is there */
	if (rc != -ENOENT && ((c->lv && lv_agent_socket(c->lv, GA_PORT_NAME, path,
							sizeof(path)) == 0 && is_socket(path)) ||
			      layout_agent(c, path, sizeof(path)) == 0)) {
		snprintf(c->ga_path, sizeof(c->ga_path), "%s", path);
		c->ga_from = "libvirt";
		return 0;
	}
	snprintf(c->ga_why, sizeof(c->ga_why), "no guest agent: %s", rc == -ENOENT ? "QEMU has "
		 "no virtio-serial port named " GA_PORT_NAME : e.msg);
	return -ENOENT;
}

/* Connect to the agent once per run; c->ga, or c->ga_why says why not (warned once). */
static void agent_open(struct ctx *c)
{
	struct vs_err e = { 0 };
	int rc, ms;

	if (c->ga_looked)
		return;
	c->ga_looked = true;
	if (strcmp(c->o.agent, "off") == 0) {
		snprintf(c->ga_why, sizeof(c->ga_why), "--guest-agent off");
		return;
	}
	rc = agent_path(c);
	if (rc == -ENOENT)
		return; /* auto found no agent: nothing to warn of */
	if (rc == 0) {
		ms = guest_timeout_ms(c) < AGENT_CONNECT_MS ? guest_timeout_ms(c) : AGENT_CONNECT_MS;
		rc = ga_connect(c->ga_path, c->o.trust_pid ? 0 : qemu_pid(c), ms,
				c->o.verbose ? trace_agent : NULL, c, &c->ga, &e);
		if (rc < 0)
			snprintf(c->ga_why, sizeof(c->ga_why), "%s", e.msg);
	}
	if (rc < 0 && !c->o.guest)
		warn(c, "guest agent%s%s: %s; the guest's side is unknown", c->ga_path[0] ? " " : "",
		     c->ga_path, c->ga_why);
}

/* The agent failed mid-run: it is not asked again; one warning. */
static void agent_lost(struct ctx *c, const struct vs_err *e)
{
	snprintf(c->ga_why, sizeof(c->ga_why), "%s", e->msg);
	ga_free(c->ga);
	c->ga = NULL;
	if (!c->o.guest)
		warn(c, "guest agent %s: %s; the guest's side is unknown", c->ga_path, c->ga_why);
}

/* QEMU's online vCPUs, ascending (caller frees); *n of them. */
static int *online_vcpus(const struct ctx *c, int *n)
{
	int *v = malloc(((size_t)tab(c)->n + 1) * sizeof(*v)), i;

	*n = 0;
	for (i = 0; v && i < tab(c)->n; i++)
		if (tab(c)->v[i].online)
			v[(*n)++] = i;
	return v;
}

/* Ask the guest for its CPUs into c->gview: 0, or -1 when there is no agent (any more). */
static int guest_look(struct ctx *c)
{
	struct vs_err e = { 0 };
	int n, rc, *on;

	agent_open(c);
	if (!c->ga)
		return -1;
	on = online_vcpus(c, &n);
	rc = on ? ga_view(c->ga, on, n, guest_timeout_ms(c), &c->gview, &e)
		: vs_err_set(&e, ENOMEM, "out of memory");
	free(on);
	if (rc < 0) {
		agent_lost(c, &e);
		return -1;
	}
	c->ga_answered = true;
	return 0;
}

static bool guest_results(struct ctx *c)
{
	if (!c->gres)
		c->gres = calloc((size_t)c->plan.nsteps + 1, sizeof(*c->gres));
	return c->gres != NULL;
}

/*
 * Before any unplug: a vCPU the guest has online and says it cannot take offline (CPU 0 on
 * many guests) would never be ejected: the run is refused, nothing sent.
 */
static int guest_precheck(struct ctx *c)
{
	int i, j;

	for (i = 0; i < c->plan.nsteps && c->plan.steps[i].op != TOPO_UNPLUG; i++)
		;
	if (i == c->plan.nsteps || strcmp(c->o.agent, "off") == 0 || !guest_results(c) ||
	    guest_look(c) < 0)
		return 0;
	for (i = 0; i < c->plan.nsteps; i++) {
		const struct topo_step *s = &c->plan.steps[i];

		c->gres[i] = (struct ga_result){ GA_UNKNOWN, -1, -1, "" };
		for (j = s->vcpu; s->op == TOPO_UNPLUG && j < s->vcpu + s->vcpus; j++) {
			const struct ga_cpu *g = ga_cpu_of(&c->gview, j);

			if (!g) {
				snprintf(c->gres[i].reason, sizeof(c->gres[i].reason), "the guest's CPUs "
					 "could not be matched to vCPU %d (%s)", j, c->gview.map ==
					 GA_MAP_NONE ? "counts differ" : "not listed");
				continue;
			}
			c->gres[i] = (struct ga_result){ g->online ? GA_ONLINE : GA_OFFLINE, g->id,
							 g->can_offline, "" };
			if (g->online && !g->can_offline) {
				c->outcome = OUT_REFUSED;
				return vs_err_set(&c->err, EBUSY, "vCPU %d is CPU %d in the guest, which "
						  "says it cannot take it offline (guest agent: "
						  "can-offline false): its unplug would never complete; "
						  "nothing was sent", j, g->id);
			}
		}
	}
	return 0;
}

/* The worse of two results of one entity's vCPUs (offline, then unknown, then onlined). */
static void guest_merge(struct ga_result *into, const struct ga_result *r, bool first)
{
	static const int rank[] = { [GA_ONLINE] = 0, [GA_ONLINED] = 1, [GA_UNKNOWN] = 2,
				    [GA_OFFLINE] = 3 };

	if (first || rank[r->state] > rank[into->state]) {
		int id = first ? r->id : into->id;

		*into = *r;
		into->id = id;
	}
}

/* The plugged vCPUs of the run, one per thread (caller frees); *n of them. */
static int *plugged_vcpus(const struct ctx *c, int *n)
{
	int *v = malloc(((size_t)tab(c)->n + 1) * sizeof(*v)), i, j;

	*n = 0;
	for (i = 0; v && i < c->plan.nsteps; i++)
		for (j = 0; c->plan.steps[i].op == TOPO_PLUG && c->res[i].status == ST_DONE &&
			    j < c->plan.steps[i].vcpus; j++)
			v[(*n)++] = c->plan.steps[i].vcpu + j;
	return v;
}

/* Each plug's result from the per-vCPU ones; the exit status when some stay offline. */
static void guest_outcome(struct ctx *c, const struct ga_result *res)
{
	char list[256] = "";
	size_t o = 0;
	int i, j, k = 0, off = 0;

	for (i = 0; i < c->plan.nsteps; i++) {
		const struct topo_step *s = &c->plan.steps[i];

		if (s->op != TOPO_PLUG || c->res[i].status != ST_DONE)
			continue;
		for (j = 0; j < s->vcpus; j++, k++)
			guest_merge(&c->gres[i], &res[k], j == 0);
		if (c->gres[i].state == GA_OFFLINE && o < sizeof(list) - 16) {
			o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%d", off ? ", " : "", s->vcpu);
			off++;
		}
	}
	if (off && c->outcome == OUT_DONE) {
		c->outcome = OUT_GUEST;
		vs_err_set(&c->err, EAGAIN, "vCPU%s %s %s plugged, but the guest left %s offline%s",
			   off > 1 ? "s" : "", list, off > 1 ? "are" : "is", off > 1 ? "them" : "it",
			   c->o.no_guest_online ? " (--no-guest-online)" : ": see the guest's reason "
			   "in the report");
	}
}

/*
 * After the plugs: wait for the guest to list each new vCPU online; online those it leaves
 * offline (unless --no-guest-online). Without an agent, each is unknown with the reason.
 */
static void guest_settle(struct ctx *c)
{
	struct ga_result *res;
	struct vs_err e = { 0 };
	int *plugged, *on = NULL, n = 0, non = 0, k, rc;

	if (strcmp(c->o.agent, "off") == 0 || !guest_results(c))
		return;
	plugged = plugged_vcpus(c, &n);
	res = calloc((size_t)n + 1, sizeof(*res));
	if (plugged && res && n) {
		agent_open(c);
		on = c->ga ? online_vcpus(c, &non) : NULL;
		rc = on ? ga_settle(c->ga, on, non, plugged, n, !c->o.no_guest_online, GUEST_GRACE_MS,
				    guest_timeout_ms(c), res, &c->ga_sent, &c->gview, &e) : -1;
		if (rc == 0)
			c->ga_answered = true;
		else if (c->ga)
			agent_lost(c, &e);
		for (k = 0; !on && k < n; k++) {
			res[k] = (struct ga_result){ GA_UNKNOWN, -1, -1, "" };
			snprintf(res[k].reason, sizeof(res[k].reason), "%s", c->ga_why[0] ? c->ga_why
				 : "out of memory");
		}
		guest_outcome(c, res);
	}
	free(on);
	free(plugged);
	free(res);
}

static int guest_online_count(const struct ga_view *v)
{
	int k, n = 0;

	for (k = 0; k < v->n; k++)
		n += v->cpu[k].online;
	return n;
}

/* --guest COUNT: which CPUs change (c->gpick); a refusal when the guest cannot do it. */
static int guest_pick(struct ctx *c)
{
	int k, need = c->guest_target - c->guest_before;

	c->gpick_on = need > 0;
	need = need < 0 ? -need : need;
	c->gpick = calloc((size_t)need + 1, sizeof(*c->gpick));
	if (!c->gpick)
		return vs_err_set(&c->err, ENOMEM, "out of memory");
	/* online the lowest offline CPUs first; offline the highest that can go */
	for (k = 0; c->gpick_on && k < c->gview.n && c->ngpick < need; k++)
		if (!c->gview.cpu[k].online)
			c->gpick[c->ngpick++] = c->gview.cpu[k].id;
	for (k = c->gview.n - 1; !c->gpick_on && k >= 0 && c->ngpick < need; k--)
		if (c->gview.cpu[k].online && c->gview.cpu[k].can_offline)
			c->gpick[c->ngpick++] = c->gview.cpu[k].id;
	if (c->ngpick < need) {
		c->outcome = OUT_REFUSED;
		return vs_err_set(&c->err, EBUSY, "--guest %s: the guest can take only %d of its %d "
				  "online CPUs offline (the others: can-offline false); nothing "
				  "changed", c->o.guest_count, c->ngpick, c->guest_before);
	}
	return 0;
}

/* guest-set-vcpus for the picks; a partial change is put back. */
static int guest_change(struct ctx *c)
{
	bool *on = calloc((size_t)c->ngpick + 1, sizeof(*on));
	struct vs_err e = { 0 };
	int k, done = 0, rc;

	if (!on)
		return vs_err_set(&c->err, ENOMEM, "out of memory");
	for (k = 0; k < c->ngpick; k++)
		on[k] = c->gpick_on;
	c->ga_sent = true;
	rc = ga_set(c->ga, c->gpick, on, c->ngpick, guest_timeout_ms(c), &done, &e);
	if (rc < 0 && done > 0) {
		for (k = 0; k < done; k++)
			on[k] = !c->gpick_on;
		ga_set(c->ga, c->gpick, on, done, guest_timeout_ms(c), NULL, NULL);
		vs_err_prefix(&e, "the %d CPUs it changed are put back", done);
	}
	free(on);
	if (rc < 0) {
		c->err = e;
		return vs_err_prefix(&c->err, "guest-set-vcpus");
	}
	return 0;
}

/* --guest COUNT and --guest --status: the guest's online CPUs through its agent, no hotplug. */
static void guest_mode(struct ctx *c)
{
	struct topo_count tc;

	c->outcome = OUT_FAILED;
	if (guest_look(c) < 0) {
		vs_err_set(&c->err, EHOSTUNREACH, "guest agent%s%s: %s", c->ga_path[0] ? " " : "",
			   c->ga_path, c->ga_why[0] ? c->ga_why : "none");
		return;
	}
	c->guest_before = c->guest_after = guest_online_count(&c->gview);
	if (c->o.status) {
		c->outcome = OUT_DONE;
		return;
	}
	topo_parse_count(c->o.guest_count, &tc, NULL);
	c->guest_target = (int)topo_count_target(&tc, c->guest_before);
	if (c->guest_target < 1 || c->guest_target > c->gview.n) {
		c->outcome = OUT_REFUSED;
		vs_err_set(&c->err, ERANGE, "--guest %s: the guest has %d CPUs, %d online; it can have "
			   "1 to %d online (plug more first: vcpuset COUNT)", c->o.guest_count,
			   c->gview.n, c->guest_before, c->gview.n);
		return;
	}
	if (guest_pick(c) < 0 || c->o.dry_run || c->ngpick == 0) {
		if (c->outcome != OUT_REFUSED && c->err.errnum != ENOMEM)
			c->outcome = OUT_DONE;
		return;
	}
	if (guest_change(c) < 0 || guest_look(c) < 0) {
		if (!c->err.msg[0])
			vs_err_set(&c->err, EIO, "guest agent: %s", c->ga_why);
		return;
	}
	c->guest_after = guest_online_count(&c->gview);
	if (c->guest_after != c->guest_target) {
		vs_err_set(&c->err, EIO, "the guest has %d CPUs online after guest-set-vcpus, not "
			   "the %d asked (its own rules changed them?)", c->guest_after,
			   c->guest_target);
		return;
	}
	c->outcome = OUT_DONE;
}

/* ---- report ---- */

/* key: the string, or null when it is empty. */
static void add_text(cJSON *o, const char *key, const char *s)
{
	if (s[0])
		cJSON_AddStringToObject(o, key, s);
	else
		cJSON_AddNullToObject(o, key);
}

static cJSON *vm_json(const struct ctx *c)
{
	cJSON *vm = cJSON_CreateObject();

	if (qemu_pid(c) > 0)
		cJSON_AddNumberToObject(vm, "pid", qemu_pid(c));
	else
		cJSON_AddNullToObject(vm, "pid");
	/* the identity records use, then what QEMU itself claims */
	add_text(vm, "name", strcmp(c->audit_name, "?") != 0 ? c->audit_name : "");
	add_text(vm, "uuid", strspn(c->audit_uuid, "0-") != strlen(c->audit_uuid) ? c->audit_uuid : "");
	add_text(vm, "qemu_name", info(c)->name);
	add_text(vm, "qemu_uuid", info(c)->uuid);
	if (c->vm) {
		cJSON_AddStringToObject(vm, "qemu", vm_version(c->vm));
		cJSON_AddStringToObject(vm, "virt", info(c)->kvm ? "kvm" : "qemu");
	}
	if (tab(c) && tab(c)->target[0])
		cJSON_AddStringToObject(vm, "target", tab(c)->target);
	add_text(vm, "run_state", info(c)->run_state);
	add_text(vm, "migration", info(c)->migration);
	return vm;
}

/*
 * The object for setting k: {value fields..., "from", "reason"}; null when it is neither set
 * nor explained. A setting the siblings disagreed on is "from": "default" with its reason.
 */
static cJSON *setting_obj(cJSON *o, const struct ctx *c, int k, const char *key,
			  enum hostres_src src)
{
	cJSON *x;

	if (src == HR_UNSET && !c->why[k][0]) {
		cJSON_AddNullToObject(o, key);
		return NULL;
	}
	x = cJSON_AddObjectToObject(o, key);
	cJSON_AddStringToObject(x, "from", hostres_src_names[src == HR_UNSET ? HR_DEFAULT : src]);
	if (c->why[k][0])
		cJSON_AddStringToObject(x, "reason", c->why[k]);
	return src == HR_UNSET ? NULL : x;
}

static void add_list(cJSON *o, const struct ctx *c, int k, const char *key, const uint64_t *m,
		     enum hostres_src src)
{
	char buf[4096];
	cJSON *x = setting_obj(o, c, k, key, src);

	if (!x) {
		if (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(o, key)))
			cJSON_AddNullToObject(cJSON_GetObjectItemCaseSensitive(o, key), "list");
		return;
	}
	if (topo_cpulist_format(m, TOPO_MAX_CPUS, buf, sizeof(buf)) < 0)
		snprintf(buf, sizeof(buf), "%s", "?");
	cJSON_AddStringToObject(x, "list", buf);
}

/* What each new vCPU thread gets, where each setting comes from, and why not inherited. */
static cJSON *tune_json(const struct ctx *c, const struct hostres_tune *t)
{
	cJSON *o = cJSON_CreateObject(), *x;

	if ((x = setting_obj(o, c, HR_S_BW, "bandwidth", t->bw_src))) {
		cJSON_AddNumberToObject(x, "period", (double)t->period);
		cJSON_AddNumberToObject(x, "quota", (double)t->quota);
	}
	add_list(o, c, HR_S_CPUS, "cpus", t->cpus, t->cpus_src);
	add_list(o, c, HR_S_MEMS, "mems", t->mems, t->mems_src);
	add_list(o, c, HR_S_AFF, "affinity", t->aff, t->aff_src);
	if ((x = setting_obj(o, c, HR_S_SCHED, "sched", t->sched_src))) {
		cJSON_AddStringToObject(x, "policy", hostres_policy_name(t->policy));
		cJSON_AddNumberToObject(x, "priority", t->prio);
	}
	if ((x = setting_obj(o, c, HR_S_RC, "resctrl", t->rc_src))) {
		if (t->cachetune[0])
			cJSON_AddStringToObject(x, "cachetune", t->cachetune);
		else
			cJSON_AddNullToObject(x, "cachetune");
		if (t->monitor[0])
			cJSON_AddStringToObject(x, "monitor", t->monitor);
		else
			cJSON_AddNullToObject(x, "monitor");
	}
	return o;
}

static cJSON *host_json(const struct ctx *c)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddItemToObject(o, "cgroups", c->h ? hostres_cgroups_json(c->h) : cJSON_CreateArray());
	if (c->inherit_from >= 0)
		cJSON_AddNumberToObject(o, "inherited_from", c->inherit_from);
	else
		cJSON_AddNullToObject(o, "inherited_from");
	cJSON_AddNumberToObject(o, "siblings", c->nsiblings);
	if (c->host_tune)
		cJSON_AddItemToObject(o, "tune", tune_json(c, &c->tune));
	else
		cJSON_AddNullToObject(o, "tune");
	cJSON_AddItemToObject(o, "actions", cJSON_Duplicate(c->host_log, 1));
	return o;
}

static void add_int_or_null(cJSON *o, const char *key, int v)
{
	if (v >= 0)
		cJSON_AddNumberToObject(o, key, v);
	else
		cJSON_AddNullToObject(o, key);
}

/* A step's guest part: null when the guest was not asked (--guest-agent off, a dry run). */
static cJSON *guest_step_json(const struct ctx *c, int i)
{
	const struct ga_result *g = c->gres ? &c->gres[i] : NULL;
	cJSON *o;

	if (!g || (c->plan.steps[i].op == TOPO_PLUG && c->res[i].status != ST_DONE) ||
	    (c->plan.steps[i].op == TOPO_UNPLUG && !c->ga_answered))
		return cJSON_CreateNull();
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "state", ga_state_names[g->state]);
	add_int_or_null(o, "logical_id", g->id);
	if (g->can_offline >= 0)
		cJSON_AddBoolToObject(o, "can_offline", g->can_offline);
	else
		cJSON_AddNullToObject(o, "can_offline");
	add_text(o, "reason", g->reason);
	return o;
}

/* One CPU as the agent listed it (with its vCPU: the guest's list; without: --status's). */
static cJSON *guest_cpu_json(const struct ga_cpu *g, bool with_vcpu)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "logical_id", g->id);
	if (with_vcpu)
		add_int_or_null(o, "vcpu", g->vcpu);
	cJSON_AddBoolToObject(o, "online", g->online);
	cJSON_AddBoolToObject(o, "can_offline", g->can_offline);
	return o;
}

/* The guest's CPUs as the agent listed them last. */
static cJSON *guest_cpus_json(const struct ga_view *v)
{
	cJSON *a = cJSON_CreateArray();
	int k;

	for (k = 0; k < v->n; k++)
		cJSON_AddItemToArray(a, guest_cpu_json(&v->cpu[k], true));
	return a;
}

/* The run's guest part: the agent, what it said, --guest's counts; null with it off. */
static cJSON *guest_json(const struct ctx *c)
{
	cJSON *o, *a;
	int k;

	if (strcmp(c->o.agent, "off") == 0 || !c->ga_looked)
		return cJSON_CreateNull();
	o = cJSON_CreateObject();
	add_text(o, "agent", c->ga_path);
	add_text(o, "from", c->ga_from ? c->ga_from : "");
	cJSON_AddBoolToObject(o, "answered", c->ga_answered);
	add_text(o, "why", c->ga_why);
	cJSON_AddStringToObject(o, "mapping", ga_map_names[c->gview.map]);
	if (c->gview.why_order[0])
		cJSON_AddStringToObject(o, "why_order", c->gview.why_order);
	cJSON_AddBoolToObject(o, "set_vcpus_sent", c->ga_sent);
	cJSON_AddItemToObject(o, "cpus", guest_cpus_json(&c->gview));
	if (c->o.guest && c->ga_answered) {
		cJSON_AddNumberToObject(o, "before", c->guest_before);
		cJSON_AddNumberToObject(o, "after", c->guest_after);
		add_int_or_null(o, "target", c->o.status ? -1 : c->guest_target);
		a = cJSON_AddArrayToObject(o, c->gpick_on ? "online" : "offline");
		for (k = 0; k < c->ngpick; k++)
			cJSON_AddItemToArray(a, cJSON_CreateNumber(c->gpick[k]));
	}
	return o;
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
	if (s->op == TOPO_PLUG && tab(c)->v[s->vcpu].vcpus > 0 && tab(c)->v[s->vcpu].keys[0] >= 0)
		cJSON_AddItemToObject(o, "props", topo_props(&tab(c)->v[s->vcpu]));
	else
		cJSON_AddNullToObject(o, "props");
	if (r->core) {
		cJSON *k = cJSON_AddObjectToObject(o, "core_sched");
		char ck[32];

		cJSON_AddStringToObject(k, "action", r->core);
		snprintf(ck, sizeof(ck), "%#lx", r->core_cookie);
		if (r->core_cookie)
			cJSON_AddStringToObject(k, "cookie", ck);
		else
			cJSON_AddNullToObject(k, "cookie");
	} else {
		cJSON_AddNullToObject(o, "core_sched");
	}
	if (s->op == TOPO_PLUG && c->host_tune) /* what this vCPU got: libvirt's XML may differ */
		cJSON_AddItemToObject(o, "tune", tune_json(c, tune_at(c, s->vcpu)));
	else
		cJSON_AddNullToObject(o, "tune");
	if (r->qom_path[0])
		cJSON_AddStringToObject(o, "qom_path", r->qom_path);
	else
		cJSON_AddNullToObject(o, "qom_path");
	if (r->tid > 0)
		cJSON_AddNumberToObject(o, "tid", r->tid);
	else
		cJSON_AddNullToObject(o, "tid");
	cJSON_AddStringToObject(o, "status", status_names[r->status]);
	if (s->op == TOPO_PLUG && r->status == ST_DONE && r->ack >= 0)
		cJSON_AddBoolToObject(o, "acknowledged", r->ack == 1);
	else
		cJSON_AddNullToObject(o, "acknowledged");
	cJSON_AddNumberToObject(o, "ms", (double)(long long)(r->ms * 1000) / 1000.0);
	cJSON_AddNumberToObject(o, "cpu_ms", (double)(long long)(r->cpu_ms * 1000) / 1000.0);
	cJSON_AddItemToObject(o, "qmp", cJSON_Duplicate(r->qmp, 1));
	if (r->host)
		cJSON_AddItemToObject(o, "host", cJSON_Duplicate(r->host, 1));
	else
		cJSON_AddNullToObject(o, "host");
	if (r->error[0])
		cJSON_AddStringToObject(o, "error", r->error);
	else
		cJSON_AddNullToObject(o, "error");
	cJSON_AddItemToObject(o, "guest", guest_step_json(c, i));
	return o;
}

/* ---- libvirt's status file, once the run is over ---- */

/* The vCPU table as libvirt keeps it; in a dry run, as the plan leaves it (new threads unknown). */
static struct lv_vcpu *lv_table(const struct ctx *c)
{
	const struct topo_table *t = tab(c);
	struct lv_vcpu *v = calloc((size_t)t->n, sizeof(*v));
	int i, j, order = 0;

	for (i = 0; v && i < t->n; i++) {
		v[i].online = t->v[i].online;
		v[i].hotpluggable = t->v[t->v[i].head].alias[0] != '\0';
		v[i].order = t->v[i].order;
		v[i].tid = t->tids_valid ? t->v[i].tid : 0;
		order = v[i].order > order ? v[i].order : order;
	}
	for (i = 0; v && c->o.dry_run && i < c->plan.nsteps; i++) {
		const struct topo_step *s = &c->plan.steps[i];
		bool plug = s->op == TOPO_PLUG;

		order += plug;
		for (j = s->vcpu; j < s->vcpu + s->vcpus; j++)
			v[j] = (struct lv_vcpu){ plug, true, plug ? order : 0, 0 };
	}
	return v;
}

/* Was vCPU j plugged by this run (or, in a dry run, would it be)? */
static bool plugged_now(const struct ctx *c, int j)
{
	int i;

	for (i = 0; c->res && i < c->plan.nsteps; i++) {
		const struct topo_step *s = &c->plan.steps[i];

		if (s->op == TOPO_PLUG && j >= s->vcpu && j < s->vcpu + s->vcpus)
			return c->o.dry_run || c->res[i].status == ST_DONE;
	}
	return false;
}

/*
 * The <cputune> entries: a vcpupin and a vcpusched for the settings of the command line of
 * each vCPU plugged now; vcpuset's entries of the vCPUs gone (listed in the state directory)
 * dropped. tracked[] becomes the vCPUs with vcpuset's entries.
 */
static void lv_entries(const struct ctx *c, const struct lv_vcpu *v, char **pin, int *sched,
		       int *prio, bool *drop, bool *tracked)
{
	char *text = c->have_key ? state_file_get(c->st, &c->key, "cputune") : NULL, *w, *save = NULL;
	int j, n = tab(c)->n;
	long long x;

	for (w = text ? strtok_r(text, " \n", &save) : NULL; w; w = strtok_r(NULL, " \n", &save))
		if (topo_parse_ll("vcpu", w, 0, n - 1, &x, NULL) == 0)
			tracked[x] = true;
	free(text);
	for (j = 0; j < n; j++) {
		const struct hostres_tune *t = tune_at(c, j);
		char buf[4096];

		sched[j] = -1;
		drop[j] = tracked[j] && !v[j].online;
		tracked[j] = tracked[j] && v[j].online;
		if (!plugged_now(c, j) || !c->host_tune)
			continue;
		if (t->cpus_src == HR_GIVEN && topo_cpulist_format(t->cpus, TOPO_MAX_CPUS, buf, sizeof(buf)) > 0)
			pin[j] = strdup(buf);
		if (t->sched_src == HR_GIVEN) {
			sched[j] = t->policy;
			prio[j] = t->prio;
		}
		tracked[j] = tracked[j] || pin[j] || sched[j] >= 0;
	}
}

/* Keep the vCPUs with vcpuset's <cputune> entries in the state directory. */
static void lv_track(struct ctx *c, const bool *tracked)
{
	char *text = calloc((size_t)tab(c)->n, 8);
	struct vs_err e = { 0 };
	size_t o = 0;
	int j;

	if (!text || !c->have_key) {
		free(text);
		return;
	}
	for (j = 0; j < tab(c)->n; j++)
		if (tracked[j])
			o += (size_t)sprintf(text + o, "%d\n", j);
	if (state_file_put(c->st, &c->key, "cputune", o ? text : NULL, &e) < 0)
		warn(c, "libvirt: %s", e.msg);
	free(text);
}

/* Write the status file: the one before it kept in the state directory first. */
static void lv_put(struct ctx *c, const char *text, const bool *tracked)
{
	struct vs_err e = { 0 };

	if (!c->have_key || state_file_put(c->st, &c->key, "libvirt.xml", lv_text(c->lv), &e) < 0) {
		warn(c, "libvirt: status file %s not updated: no copy of it could be kept%s%s",
		     lv_path(c->lv), e.msg[0] ? ": " : "", e.msg);
		return;
	}
	snprintf(c->lv_prev, sizeof(c->lv_prev), "%s/qemu-%d-%llu.libvirt.xml", c->o.state_dir,
		 c->key.pid, c->key.start);
	if (lv_write(c->lv, &c->lvr, text, &e) < 0) {
		warn(c, "libvirt: status file not updated: %s", e.msg);
		return;
	}
	c->lv_written = true;
	lv_track(c, tracked);
}

/*
 * After the run: libvirt's status file says what libvirt would have written had it made
 * the change itself (a dry run shows the difference), and the persistent config's count.
 */
static void libvirt_sync(struct ctx *c)
{
	int n = tab(c) ? tab(c)->n : 0, j, *sched = calloc((size_t)n + 1, sizeof(int));
	int *prio = calloc((size_t)n + 1, sizeof(int));
	bool *drop = calloc((size_t)n + 1, 2 * sizeof(bool)), *tracked = drop + n;
	char **pin = calloc((size_t)n + 1, sizeof(char *)), *text = NULL;
	struct lv_vcpu *v = n ? lv_table(c) : NULL;
	struct vs_err e = { 0 };

	if (!lv_usable(c) || !v || !sched || !prio || !drop || !pin)
		goto out;
	lv_entries(c, v, pin, sched, prio, drop, tracked);
	{
		struct lv_change ch = { n, v, (const char *const *)pin, sched, prio, drop, tab(c)->tids_valid };

		if (lv_render(c->lv, &ch, &text, &c->lv_same, &e) < 0)
			warn(c, "libvirt: %s", e.msg);
	}
	if (text && c->o.dry_run && !c->lv_same)
		c->lv_diff = lv_diff(c->lv, text);
	else if (text && !c->lv_same)
		lv_put(c, text, tracked);
	c->lv_persist = lv_persistent_count(c->lv, &c->lvr, c->lv_persist_path,
					    sizeof(c->lv_persist_path));
out:
	for (j = 0; pin && j < n; j++)
		free(pin[j]);
	free(pin);
	free(text);
	free(v);
	free(sched);
	free(prio);
	free(drop);
}

/* The report's "libvirt": null when the socket is no libvirt domain's. */
static cJSON *libvirt_json(const struct ctx *c)
{
	cJSON *o, *p;
	char cmd[400];

	if (!c->lv)
		return cJSON_CreateNull();
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "domain", lv_name(c->lv));
	cJSON_AddNumberToObject(o, "id", lv_id(c->lv));
	add_text(o, "uuid", lv_uuid(c->lv));
	add_text(o, "status_file", lv_path(c->lv));
	add_text(o, "why", lv_why(c->lv) ? lv_why(c->lv) : "");
	cJSON_AddBoolToObject(o, "updated", c->lv_written);
	cJSON_AddBoolToObject(o, "unchanged", c->lv_same);
	add_text(o, "previous", c->lv_written ? c->lv_prev : "");
	add_text(o, "diff", c->lv_diff ? c->lv_diff : "");
	if (!lv_usable(c) || c->lv_persist < 0) {
		cJSON_AddNullToObject(o, "persistent");
		return o;
	}
	p = cJSON_AddObjectToObject(o, "persistent");
	add_text(p, "file", c->lv_persist ? c->lv_persist_path : "");
	if (c->lv_persist)
		cJSON_AddNumberToObject(p, "count", c->lv_persist);
	else
		cJSON_AddNullToObject(p, "count");
	snprintf(cmd, sizeof(cmd), "virsh setvcpus %s %d --config", lv_name(c->lv), c->after);
	add_text(p, "command", c->lv_persist && c->lv_persist != c->after ? cmd : "");
	return o;
}

/* The lines of the text report about libvirt's files. */
static void report_libvirt_text(const struct ctx *c)
{
	char name[1100];

	if (!lv_usable(c))
		return;
	lv_shown(c, name, sizeof(name));
	if (c->lv_diff)
		printf("libvirt: the status file would change:\n%s", c->lv_diff);
	if (c->lv_written)
		printf("libvirt: %s updated (the one before: %s)\n", lv_path(c->lv), c->lv_prev);
	if (c->o.dry_run || c->lv_persist < 0 || c->before == c->after)
		return;
	if (c->lv_persist == 0)
		printf("libvirt: %s is transient: no persistent config to update\n", name);
	else if (c->lv_persist != c->after)
		printf("libvirt: the persistent config still says %d vCPUs; to keep %d after the "
		       "domain restarts: virsh setvcpus %s %d --config\n", c->lv_persist, c->after,
		       name, c->after);
}

/* --status --json's "vcpus": the table, whether each can be disabled, its core cookie. */
static cJSON *status_vcpus_json(const struct ctx *c)
{
	cJSON *vcpus = cJSON_CreateArray();
	int i;

	for (i = 0; i < tab(c)->n; i++) {
		cJSON *v = topo_vcpu_json(&tab(c)->v[i], tab(c)->tids_valid);
		const char *why = topo_why_fixed(tab(c), i, c->busy);
		const struct ga_cpu *g;
		unsigned long ck;
		char cks[32];

		cJSON_AddBoolToObject(v, "can_disable", !why);
		if (tab(c)->v[i].online && tab(c)->v[i].tid > 0 && tab(c)->tids_valid &&
		    hostres_core_cookie(tab(c)->v[i].tid, &ck) == 0) {
			snprintf(cks, sizeof(cks), "%#lx", ck);
			cJSON_AddStringToObject(v, "cookie", ck ? cks : "0");
		} else {
			cJSON_AddNullToObject(v, "cookie");
		}
		if (why)
			cJSON_AddStringToObject(v, "why_not", why);
		else
			cJSON_AddNullToObject(v, "why_not");
		g = c->ga_answered ? ga_cpu_of(&c->gview, i) : NULL;
		cJSON_AddItemToObject(v, "guest", g ? guest_cpu_json(g, false) : cJSON_CreateNull());
		cJSON_AddItemToArray(vcpus, v);
	}
	return vcpus;
}

static void report_json(struct ctx *c)
{
	cJSON *doc = cJSON_CreateObject(), *steps, *e, *x;
	char *text;
	int i;

	cJSON_AddBoolToObject(doc, "ok", c->exit == VS_EXIT_OK);
	cJSON_AddNumberToObject(doc, "exit", c->exit);
	cJSON_AddBoolToObject(doc, "dry_run", c->o.dry_run);
	cJSON_AddItemToObject(doc, "vm", vm_json(c));
	if (tab(c)) {
		cJSON_AddNumberToObject(doc, "before", c->before);
		cJSON_AddNumberToObject(doc, "after", c->after);
		cJSON_AddNumberToObject(doc, "online", tab(c)->online);
		cJSON_AddNumberToObject(doc, "pending_count", pending_count(c));
		cJSON_AddNumberToObject(doc, "max", tab(c)->n);
		cJSON_AddBoolToObject(doc, "hotpluggable", info(c)->can_hotplug || !info(c)->hotplug_error[0]);
		cJSON_AddBoolToObject(doc, "legacy", tab(c)->legacy);
	} else {
		cJSON_AddNullToObject(doc, "before");
		cJSON_AddNullToObject(doc, "after");
		cJSON_AddNullToObject(doc, "online");
		cJSON_AddNullToObject(doc, "pending_count");
		cJSON_AddNullToObject(doc, "max");
	}
	if ((c->o.count || c->o.list) && c->plan.target)
		cJSON_AddNumberToObject(doc, "target", c->plan.target);
	x = cJSON_AddArrayToObject(doc, "pending");
	for (i = 0; i < c->npend; i++)
		cJSON_AddItemToArray(x, state_entry_json(&c->pend[i]));
	cJSON_AddItemToObject(doc, "reconciled", cJSON_Duplicate(c->reconciled, 1));
	cJSON_AddItemToObject(doc, "recovered", cJSON_Duplicate(c->recovered, 1));
	cJSON_AddItemToObject(doc, "drift", drift_json(c));
	cJSON_AddBoolToObject(doc, "audit", vaudit_enabled(c->audit));
	cJSON_AddItemToObject(doc, "libvirt", libvirt_json(c));
	cJSON_AddItemToObject(doc, "guest", guest_json(c));
	if (c->res)
		cJSON_AddItemToObject(doc, "host", host_json(c));
	else
		cJSON_AddNullToObject(doc, "host");
	steps = cJSON_AddArrayToObject(doc, "steps");
	for (i = 0; c->res && i < c->plan.nsteps; i++)
		cJSON_AddItemToArray(steps, step_json(c, i));
	if (c->o.status && tab(c))
		cJSON_AddItemToObject(doc, "vcpus", status_vcpus_json(c));
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

/* The DISABLE column: "yes", or why not in a word. */
static const char *disable_text(const struct topo_table *t, int i, const bool *busy)
{
	const char *why = topo_why_fixed(t, i, busy);

	if (!why)
		return "yes";
	return strncmp(why, "present", 7) == 0 ? "no (boot)" : strncmp(why, "its", 3) == 0
	       ? "no (pending)" : strncmp(why, "offline", 7) == 0 ? "-" : "no";
}

/* The GUEST cell of --status ("cpu3 on ", 10 wide), "" without an agent's answer. */
static const char *guest_cell(const struct ctx *c, int i, char *buf, size_t size)
{
	const struct ga_cpu *g = ga_cpu_of(&c->gview, i);
	char w[16] = "-";

	if (!c->ga_answered)
		return "";
	if (g)
		snprintf(w, sizeof(w), "cpu%d %s", g->id, g->online ? "on" : "off");
	snprintf(buf, size, "%-9s ", w);
	return buf;
}

/* "guest agent PATH: 4 CPUs, 3 online (matched to vCPUs by acpi)" */
static void print_agent_line(const struct ctx *c)
{
	printf("guest agent %s: %d CPUs, %d online (matched to vCPUs by %s)\n", c->ga_path,
	       c->gview.n, guest_online_count(&c->gview), ga_map_names[c->gview.map]);
}

/* --guest: the guest's CPUs (--status), or the change of its online count. */
static void report_guest_text(const struct ctx *c)
{
	int k;

	if (!c->ga_answered)
		return;
	if (c->o.status) {
		print_agent_line(c);
		printf("%-5s %-5s %-8s %s\n", "CPU", "VCPU", "ONLINE", "CAN-OFFLINE");
		for (k = 0; k < c->gview.n; k++) {
			char vc[16] = "?";

			if (c->gview.cpu[k].vcpu >= 0)
				snprintf(vc, sizeof(vc), "%d", c->gview.cpu[k].vcpu);
			printf("%-5d %-5s %-8s %s\n", c->gview.cpu[k].id, vc,
			       c->gview.cpu[k].online ? "yes" : "no",
			       c->gview.cpu[k].can_offline ? "yes" : "no");
		}
		return;
	}
	if (c->exit != VS_EXIT_OK)
		return;
	if (c->ngpick == 0) {
		printf("guest: %d CPUs online already (%d present): nothing to do\n",
		       c->guest_before, c->gview.n);
		return;
	}
	printf("%sguest: %d -> %d CPUs online (%d present)%s\n", c->o.dry_run ? "plan: " : "",
	       c->guest_before, c->guest_target, c->gview.n, c->o.dry_run ? ", nothing changed" : "");
	for (k = 0; k < c->ngpick; k++) {
		const struct ga_cpu *g = NULL;
		int j;

		for (j = 0; j < c->gview.n; j++)
			if (c->gview.cpu[j].id == c->gpick[k])
				g = &c->gview.cpu[j];
		if (g && g->vcpu >= 0)
			printf("  %-8s CPU %d (vCPU %d)\n", c->gpick_on ? "online" : "offline",
			       c->gpick[k], g->vcpu);
		else
			printf("  %-8s CPU %d\n", c->gpick_on ? "online" : "offline", c->gpick[k]);
	}
}

static void report_status_text(const struct ctx *c)
{
	char topo[160];
	int i;
	char name[4 * sizeof(c->audit_name)], why[4 * sizeof(info(c)->hotplug_error)];
	bool named = c->audit_name[0] && strcmp(c->audit_name, "?") != 0;

	printf("%s%s%s pid %d, QEMU %s (%s, %s): %d of %d vCPUs online%s%s%s%s\n",
	       named ? "vm '" : "vm", named ? esc(c->audit_name, sizeof(c->audit_name), name,
						   sizeof(name)) : "",
	       named ? "'" : "", qemu_pid(c),
	       vm_version(c->vm), tab(c)->target[0] ? tab(c)->target : "?", info(c)->kvm ? "kvm" : "tcg",
	       tab(c)->online, tab(c)->n, info(c)->run_state[0] ? ", " : "", info(c)->run_state,
	       strcmp(info(c)->migration, "none") != 0 && info(c)->migration[0] ? ", migration " : "",
	       strcmp(info(c)->migration, "none") != 0 ? info(c)->migration : "");
	if (!info(c)->can_hotplug)
		printf("%s\n", info(c)->hotplug_error[0]
				       ? esc(info(c)->hotplug_error, sizeof(info(c)->hotplug_error), why, sizeof(why))
				       : "legacy QEMU: plug with cpu-add only, no unplug");
	if (c->ga_answered)
		print_agent_line(c);
	else if (c->ga_why[0] && strcmp(c->o.agent, "off") != 0)
		printf("guest: unknown (%s)\n", c->ga_why);
	printf("%-5s %-6s %s%-7s %-12s %-10s %-8s %-5s %-32s %s\n", "VCPU", "ONLINE",
	       c->ga_answered ? "GUEST     " : "", "HOTPLUG", "DISABLE", "ALIAS", "TID", "ORDER",
	       "QOM-PATH", "TOPOLOGY");
	for (i = 0; i < tab(c)->n; i++) {
		const struct topo_vcpu *v = &tab(c)->v[i];
		char tid[16] = "-", gcell[32];

		if (v->online && v->tid > 0 && tab(c)->tids_valid)
			snprintf(tid, sizeof(tid), "%d", v->tid);
		printf("%-5d %-6s %s%-7s %-12s %-10s %-8s %-5d %-32s %s\n", i, v->online ? "yes" : "no",
		       guest_cell(c, i, gcell, sizeof(gcell)), v->hotpluggable ? "yes" : "no",
		       disable_text(tab(c), i, c->busy),
		       v->alias[0] ? v->alias : "-", tid, v->order,
		       v->qom_path[0] ? v->qom_path : "-", topo_describe(v, topo, sizeof(topo)));
	}
}

/* One action of the host log as a line: "write PATH = VALUE", "mkdir PATH", ... */
static void print_action(const cJSON *a)
{
	const char *op = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "op"));
	const char *path = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "path"));
	const char *val = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "value"));
	const cJSON *tid = cJSON_GetObjectItemCaseSensitive(a, "tid");
	char t[24] = "<tid>", *pb, *vb;

	if (cJSON_IsNumber(tid) && tid->valuedouble > 0)
		snprintf(t, sizeof(t), "%d", tid->valueint);
	if (!op)
		return;
	/* cgroup paths hold directory names anyone with a delegated subtree may have chosen */
	path = path ? path : "";
	pb = malloc(4 * strlen(path) + 1);
	vb = malloc(4 * (val ? strlen(val) : 0) + 1);
	if (!pb || !vb) {
		free(pb);
		free(vb);
		return;
	}
	path = esc(path, strlen(path), pb, 4 * strlen(path) + 1);
	if (val)
		val = esc(val, strlen(val), vb, 4 * strlen(val) + 1);
	if (strcmp(op, "sched_setaffinity") == 0)
		printf("           sched_setaffinity(%s, %s)\n", t,
		       cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "cpus")));
	else if (strcmp(op, "sched_setscheduler") == 0)
		printf("           sched_setscheduler(%s, %s, %d)\n", t,
		       cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "policy")),
		       cJSON_GetObjectItemCaseSensitive(a, "priority")->valueint);
	else if (strcmp(op, "core_share") == 0)
		printf("           prctl(PR_SCHED_CORE, SHARE_FROM %d, SHARE_TO %s)\n",
		       cJSON_GetObjectItemCaseSensitive(a, "from")->valueint, t);
	else if (val)
		printf("           %s %s = %s\n", op, path, val);
	else
		printf("           %s %s\n", op, path);
	free(pb);
	free(vb);
}

/* "vCPU 3 gets: cpus 0 (given), affinity 0 (given), mems 0 (libvirt)": one vCPU's own. */
static void print_vcpu_tune(const struct hostres_tune *t, int vcpu)
{
	const struct { const char *name; const uint64_t *m; enum hostres_src src; } lists[] = {
		{ "cpus", t->cpus, t->cpus_src }, { "affinity", t->aff, t->aff_src },
		{ "mems", t->mems, t->mems_src },
	};
	char line[8192], buf[4096];
	size_t k, o = 0;

	for (k = 0; k < sizeof(lists) / sizeof(lists[0]); k++)
		if (lists[k].src != HR_UNSET && o < sizeof(line) &&
		    topo_cpulist_format(lists[k].m, TOPO_MAX_CPUS, buf, sizeof(buf)) >= 0)
			o += (size_t)snprintf(line + o, sizeof(line) - o, ", %s %s (%s)", lists[k].name,
					      buf, hostres_src_names[lists[k].src]);
	if (t->sched_src != HR_UNSET && o < sizeof(line))
		o += (size_t)snprintf(line + o, sizeof(line) - o, ", sched %s%s%.0d (%s)",
				      hostres_policy_name(t->policy), t->prio ? ":" : "", t->prio,
				      hostres_src_names[t->sched_src]);
	if (t->bw_src != HR_UNSET && o < sizeof(line))
		o += (size_t)snprintf(line + o, sizeof(line) - o, ", period %lld quota %lld (%s)",
				      t->period, t->quota, hostres_src_names[t->bw_src]);
	if (t->rc_src != HR_UNSET && o < sizeof(line))
		o += (size_t)snprintf(line + o, sizeof(line) - o, ", resctrl %s%s%s (%s)",
				      t->cachetune[0] ? t->cachetune : "/", t->monitor[0] ? " monitor " : "",
				      t->monitor, hostres_src_names[t->rc_src]);
	printf("vCPU %d gets: %s\n", vcpu, o ? line + 2 : "the defaults");
}

/* "inherits from vCPU 1: period/quota, cpus, affinity" and the like. */
static void print_tune(const struct ctx *c)
{
	const struct hostres_tune *t = &c->tune;
	enum hostres_src src[6] = { t->bw_src, t->cpus_src, t->mems_src, t->aff_src, t->sched_src,
				    t->rc_src };
	enum hostres_src k;
	int i, n;

	if (!c->host_tune)
		return;
	for (k = HR_GIVEN; k <= HR_DEFAULT; k++) {
		for (i = n = 0; i < 6; i++)
			if (src[i] == k)
				printf("%s%s", n++ ? ", " : k == HR_GIVEN ? "new vCPUs get (as given): "
					       : k == HR_DEFAULT ? "new vCPUs get (default): "
					       : "new vCPUs inherit: ", hostres_setting_names[i]);
		if (k == HR_INHERITED && n == 0)
			continue;
		if (k == HR_INHERITED && n && c->nsiblings > 1)
			printf(" (the same on all %d tuned vCPUs)", c->nsiblings);
		else if (k == HR_INHERITED && n)
			printf(" (from vCPU %d)", c->inherit_from);
		if (n)
			printf("\n");
	}
	for (i = 0; (lv_usable(c) || c->o.nvsets) && i < c->plan.nsteps; i++) {
		const struct topo_step *s = &c->plan.steps[i];
		int j;

		for (j = s->vcpu; s->op == TOPO_PLUG && j < s->vcpu + s->vcpus; j++)
			print_vcpu_tune(tune_at(c, j), j);
	}
}

/* " (5 online, vCPU 4 leaving: its unplug is pending)", or "" when nothing is pending. */
static const char *pending_text(const struct ctx *c, char *buf, size_t size)
{
	size_t o;
	int n = pending_count(c), k = 0, i;

	buf[0] = '\0';
	if (!n)
		return buf;
	o = (size_t)snprintf(buf, size, " (%d online, vCPU", tab(c)->online);
	for (i = 0; i < c->npend; i++)
		if (o < size && !c->pend[i].refused)
			o += (size_t)snprintf(buf + o, size - o, "%s %d", k++ ? "," : "",
					      c->pend[i].vcpu);
	if (o < size)
		snprintf(buf + o, size - o, " leaving: %s pending)", k > 1 ? "their unplugs are"
									: "its unplug is");
	return buf;
}

/*
 * The guest column of a step line: what the agent said of a plug ("guest: onlined, CPU 3"),
 * else whether the guest took it (ACPI); "" when neither applies.
 */
static const char *step_guest_text(const struct ctx *c, int i, char *buf, size_t size)
{
	const struct topo_step *s = &c->plan.steps[i];
	const struct step_result *r = &c->res[i];
	const struct ga_result *g = c->gres ? &c->gres[i] : NULL;

	if (s->op != TOPO_PLUG || r->status != ST_DONE)
		return "";
	if (g && (c->ga_answered || c->ga_path[0])) {
		if (g->id >= 0)
			snprintf(buf, size, "  guest: %s, CPU %d", ga_state_names[g->state], g->id);
		else
			snprintf(buf, size, "  guest: %s", ga_state_names[g->state]);
		return buf;
	}
	return r->ack < 0 ? "" : r->ack ? "  guest: taken" : "  guest: no answer";
}

/* Text goes out as the run goes, each step's line when it ends: not with --json, -q, -n. */
static bool live(const struct ctx *c)
{
	return !c->o.json && !c->o.quiet && !c->o.dry_run;
}

/* The plan's lines: "2 -> 4 vCPUs (max 8)" and what the new vCPUs get. */
static void print_plan(const struct ctx *c)
{
	printf("%s%d -> %d vCPUs (max %d)%s%s\n", c->o.dry_run ? "plan: " : "", c->before,
	       c->plan.target, tab(c)->n, c->o.dry_run ? ", nothing changed" : "",
	       c->plan.pending ? ", not counting the vCPUs whose unplug is pending" : "");
	print_tune(c);
}

static void print_step(const struct ctx *c, int i)
{
	const struct topo_step *s = &c->plan.steps[i];
	const struct step_result *r = &c->res[i];
	char *cmd = cJSON_PrintUnformatted(r->qmp), topo[160];
	const cJSON *a;

	if (c->o.dry_run)
		printf("  %-6s vCPU %-4d %s\n         %s\n", s->op == TOPO_PLUG ? "plug" : "unplug",
		       s->vcpu, topo_describe(&tab(c)->v[s->vcpu], topo, sizeof(topo)), cmd ? cmd : "");
	else
		printf("  %-6s vCPU %-4d %-8s tid %-8d %-8s %.1f ms\n",
		       s->op == TOPO_PLUG ? "plug" : "unplug", s->vcpu, r->alias[0] ? r->alias : "-",
		       r->tid, status_names[r->status], r->ms);
	free(cmd);
	if (r->host && (c->o.dry_run || c->o.verbose))
		cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(r->host, "actions"))
			print_action(a);
}

static void report_ledger_text(const struct ctx *c, bool show_pending);

/* Live: what comes before the steps, once, as the first step begins. */
static void show_before(struct ctx *c)
{
	if (!live(c) || c->shown_before || !tab(c) || !c->res)
		return;
	report_ledger_text(c, false);
	report_drift_text(c);
	print_plan(c);
	fflush(stdout);
	c->shown_before = true;
}

/* Live: step i's line, as it ends. */
static void show_step(struct ctx *c, int i)
{
	if (!live(c) || i != c->nshown)
		return;
	countdown_erase(c);
	print_step(c, i);
	fflush(stdout);
	c->nshown++;
}

static void report_text(const struct ctx *c)
{
	char pend[256], gtext[64];
	int i;

	if (!tab(c))
		return;
	pending_text(c, pend, sizeof(pend));
	if (c->plan.nsteps == 0 && c->exit == VS_EXIT_OK) {
		printf("%d vCPUs%s already (max %d): nothing to do\n", c->before,
		       pend[0] ? pend : " online", tab(c)->n);
		return;
	}
	if (!c->res)
		return;
	if (!c->shown_before)
		print_plan(c);
	for (i = c->nshown; i < c->plan.nsteps; i++)
		print_step(c, i);
	/* what the guest made of the plugs, known once they are all done */
	for (i = 0; !c->o.dry_run && i < c->plan.nsteps; i++) {
		const char *g = step_guest_text(c, i, gtext, sizeof(gtext));

		if (g[0])
			printf("  vCPU %-4d %s\n", c->plan.steps[i].vcpu, g + 2);
	}
	if (!c->o.dry_run)
		printf("%d vCPUs%s\n", c->after, pend[0] ? pend : " online");
	report_libvirt_text(c);
}

/* Entries of the ledger still pending (not refused by the guest). */
static int pending_entries(const struct ctx *c)
{
	int i, n = 0;

	for (i = 0; i < c->npend; i++)
		n += c->pend[i].kind == STATE_PENDING && !c->pend[i].refused;
	return n;
}

/* --wait: until the pending unplugs finish, or the timeout. */
/*
 * A refusal by the guest of a pending unplug, seen while waiting: the vCPU stays, so it counts
 * again (the VM is one entity above the count that asked for its removal), and the entry is
 * kept as refused (finished all the same if the vCPU goes later). Believed only if QEMU
 * still lists the vCPU, which the refresh that follows every event tells.
 */
static void note_refusal(struct ctx *c, const cJSON *ev)
{
	int k;

	for (k = 0; k < c->npend; k++) {
		struct state_entry *e = &c->pend[k];
		int v = e->vcpu;

		if (e->refused || v >= tab(c)->n || !tab(c)->v[v].online ||
		    topo_event_kind(ev, e->alias, e->qom_path) != TOPO_EV_REJECTED)
			continue;
		e->refused = true;
		audit_step(c, e->old_count, e->new_count, false);
		warn(c, "the guest refused the pending unplug of vCPU %d (%s): it stays online, one "
		     "vCPU above the count that asked for its removal, and counts again", v, e->alias);
		c->refused++;
		if (!c->o.dry_run)
			ledger_save(c);
	}
}

static void wait_pending(struct ctx *c)
{
	double deadline = vs_now_ms() + unplug_timeout_ms(c);
	cJSON *ev = NULL;
	int rc;

	while (pending_entries(c) > 0 && vs_now_ms() < deadline && !stop_signal) {
		rc = vm_next_event(c->vm, 50, &ev, &c->err);
		if (rc < 0 || vm_refresh(c->vm, &c->err) < 0) {
			cJSON_Delete(ev);
			c->outcome = OUT_FAILED;
			return;
		}
		if (ev)
			note_refusal(c, ev);
		cJSON_Delete(ev);
		ev = NULL;
		reconcile(c);
	}
	c->before = c->after = counted(c);
	if (c->refused && pending_entries(c) == 0) {
		c->outcome = OUT_FAILED;
		vs_err_set(&c->err, EPERM, "the guest refused %d pending unplug(s): see the warnings",
			   c->refused);
	} else if (pending_entries(c) > 0) {
		c->outcome = OUT_PENDING;
		vs_err_set(&c->err, EINPROGRESS, "%d unplug(s) still pending after %.3g s",
			   pending_entries(c), unplug_timeout_ms(c) / 1000.0);
	} else {
		c->outcome = OUT_DONE;
	}
}

static void report_ledger_text(const struct ctx *c, bool show_pending)
{
	const cJSON *e;
	int i;

	cJSON_ArrayForEach(e, c->recovered)
		printf("recovered the %s of vCPU %d (%s), left by a run that died: %s\n",
		       cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "op")),
		       cJSON_GetObjectItemCaseSensitive(e, "vcpu")->valueint,
		       cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "alias")),
		       cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "action")));
	cJSON_ArrayForEach(e, c->reconciled)
		printf("finished the pending unplug of vCPU %d (%s)\n",
		       cJSON_GetObjectItemCaseSensitive(e, "vcpu")->valueint,
		       cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "alias")));
	if (!show_pending)
		return;
	for (i = 0; i < c->npend; i++) {
		time_t when = (time_t)c->pend[i].time;
		char ts[32] = "?";
		struct tm tm;

		if (localtime_r(&when, &tm))
			strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
		printf("%s of vCPU %d (%s) %s since %s\n",
		       c->pend[i].kind == STATE_PLUG ? "plug" : "unplug", c->pend[i].vcpu,
		       c->pend[i].alias, c->pend[i].refused ? "refused by the guest (still online)"
		       : c->pend[i].kind != STATE_PENDING ? "outcome unknown (a later run finds out)"
		       : "pending", ts);
	}
}

/* Did the run change the guest: a step done, or a vCPU left plugged by a failed one? */
static bool changed_guest(const struct ctx *c)
{
	return c->done_steps > 0 || c->left_plugged;
}

/* --audit=required, and a record of this run (a finished pending unplug) is lost. */
static void audit_outcome(struct ctx *c)
{
	if (c->audit_err.msg[0] && c->outcome == OUT_DONE) {
		c->outcome = OUT_AUDIT;
		c->err = c->audit_err;
		vs_err_prefix(&c->err, "--audit=required");
	}
}

/* The one place an outcome becomes an exit status (the man page's table). */
static int exit_status(const struct ctx *c)
{
	switch (c->outcome) {
	case OUT_DONE:
		return VS_EXIT_OK;
	case OUT_REFUSED:
		return VS_EXIT_USAGE;
	case OUT_PENDING:
		return VS_EXIT_PENDING;
	case OUT_UNKNOWN:
		return VS_EXIT_UNKNOWN;
	case OUT_GUEST:
		return VS_EXIT_GUEST;
	case OUT_STOPPED:
	case OUT_DRIFTED:
		return VS_EXIT_PARTIAL;
	case OUT_FAILED:
	case OUT_AUDIT:
		break;
	}
	return changed_guest(c) ? VS_EXIT_PARTIAL : VS_EXIT_FAIL;
}

/* The report, text or JSON; rc is how the phases ended (--status prints the table on 0). */
static void report(struct ctx *c, int rc)
{
	if (c->o.json) {
		report_json(c);
		return;
	}
	if (c->o.guest && !c->o.quiet) {
		report_guest_text(c);
		if (c->exit != VS_EXIT_OK)
			put_line("", c->err.msg);
		return;
	}
	if (c->o.quiet) {
		if (c->exit != VS_EXIT_OK)
			put_line("", c->err.msg);
		return;
	}
	if (!c->shown_before) {
		report_ledger_text(c, c->o.status || c->o.wait);
		report_drift_text(c);
	}
	if (c->o.status && tab(c) && rc == 0)
		report_status_text(c);
	else if (!c->o.wait && !c->o.repair)
		report_text(c);
	if (c->exit != VS_EXIT_OK)
		put_line("", c->err.msg);
}

static void ctx_free(struct ctx *c)
{
	int i;

	for (i = 0; c->res && i < c->plan.nsteps; i++) {
		cJSON_Delete(c->res[i].qmp);
		cJSON_Delete(c->res[i].host);
	}
	cJSON_Delete(c->host_log);
	free(c->pend);
	cJSON_Delete(c->reconciled);
	cJSON_Delete(c->recovered);
	cJSON_Delete(c->drift_log);
	free(c->untuned);
	free(c->orphans);
	free(c->busy);
	free(c->fate);
	vaudit_stop(c->audit);
	free(c->res);
	topo_plan_clear(&c->plan);
	for (i = 0; c->vtune && tab(c) && i < tab(c)->n; i++)
		free(c->vtune[i]);
	free(c->vtune);
	ga_free(c->ga);
	ga_view_clear(&c->gview);
	free(c->gres);
	free(c->gpick);
	vm_free(c->vm);
	free(c->lv_diff);
	lv_free(c->lv);
	for (i = 0; i < c->o.nvsets; i++)
		free(c->o.vsets[i].vcpus);
	free(c->o.vsets);
	lv_cleanup();
	state_free(c->st); /* the lock, once the monitor is free for the next run */
	hostres_free(c->h);
	cJSON_Delete(c->warnings);
}

/* What the run is for, once everything is read and checked. */
static void act(struct ctx *c)
{
	int i;

	if (c->o.guest) {
		guest_mode(c);
	} else if (c->o.status || c->o.repair) {
		c->outcome = OUT_DONE;
		if (c->o.status)
			guest_look(c);
	} else if (c->o.wait) {
		wait_pending(c);
	} else {
		c->outcome = OUT_DONE;
		if (c->o.dry_run)
			for (i = 0; i < c->plan.nsteps; i++)
				host_dry(c, &c->plan.steps[i], &c->res[i]);
		else
			apply_all(c);
		if (!c->o.dry_run && !stop_signal) /* the guest's side: online, or brought online */
			guest_settle(c);
	}
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	struct ctx c;
	int rc;

	memset(&c, 0, sizeof(c));
	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: waits end early and look at the flag */
	/* an ssh session that drops (HUP) or a Ctrl-\ (QUIT) finishes the step as TERM does */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	parse_args(argc, argv, &c.o);
	c.warnings = cJSON_CreateArray();
	c.host_log = cJSON_CreateArray();
	c.reconciled = cJSON_CreateArray();
	c.recovered = cJSON_CreateArray();
	c.inherit_from = -1;
	c.outcome = OUT_FAILED;

	/* connect and read: nothing changes */
	rc = gather(&c);
	/* recover: finish the steps a dead run started (its intents), before anything is planned */
	if (rc == 0)
		rc = recover(&c) < 0 ? -1 : 0;
	/* plan: every refusal, before anything changes */
	if (rc == 0 && (c.o.count || c.o.list)) {
		rc = vm_preflight(c.vm, c.o.force, &c.err);
		if (rc == 0)
			rc = plan(&c);
		if (rc == 0) /* an unplug the guest says it cannot do is refused here */
			rc = guest_precheck(&c);
		if (rc == 0)
			rc = host_prepare(&c);
		if (rc < 0) {
			struct vs_err why = c.err;

			identity(&c); /* QEMU answered so far: the report names the VM */
			c.err = why;
		}
	}
	/* before the first change: a monitor that answers them wrongly changes nothing */
	if (rc == 0)
		rc = identity(&c);
	/* repair: finishing what earlier runs left pending, the first change of a run */
	if (rc == 0)
		finish_pending(&c);
	/* repair: drift, whatever made it (mended by a run that may change the VM, or --repair) */
	if (rc == 0) {
		find_drift(&c);
		if (repairs(&c))
			repair(&c);
	}
	/* apply */
	if (rc == 0)
		act(&c);
	audit_outcome(&c);
	/* libvirt's status file says what the run did, as libvirt would have written it */
	if ((rc == 0 && !c.o.status && !c.o.guest) || changed_guest(&c))
		libvirt_sync(&c);
	/* report */
	c.exit = exit_status(&c);
	report(&c, rc);
	ctx_free(&c);
	return close_stdout(c.exit, changed_guest(&c));
}
