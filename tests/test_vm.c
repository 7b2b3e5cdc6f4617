/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vm.c against the scripted peer over a socketpair: start-up, plug with its check, unplug with
 * its wait, the guest's refusal, QEMU's refusal, the undo of a plug whose thread is not new,
 * preflight, legacy cpu-add. No exec, no root, no cgroups: the peer's vCPU threads are
 * threads of this process, read from the real /proc.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostres.h"
#include "peer.h"
#include "vm.h"

static struct peer *peer;
static struct hostres *h;
static struct vm *vm;
static struct vs_err err;
static char warned[2048];
static int events;

static void on_warn(void *ctx, const char *msg)
{
	size_t n = strlen(warned);

	(void)ctx;
	snprintf(warned + n, sizeof(warned) - n, "%s\n", msg);
}

static void on_event(void *ctx, const cJSON *ev)
{
	(void)ctx;
	(void)ev;
	events++;
}

/* Serve cfg over a socketpair and read the VM as a run would (opts: count for legacy). */
static void start(const struct peer_config *cfg, const char *count)
{
	struct vm_opts o = { .socket = "socketpair", .connect_ms = 3000, .command_ms = 3000,
			     .ask_state = true, .ask_identity = true, .count = count };
	struct vm_hooks hooks = { .warn = on_warn, .event = on_event };
	int sv[2];

	warned[0] = '\0';
	events = 0;
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	peer = peer_start_fd(sv[0], cfg);
	cr_assert_eq(hostres_open(NULL, &h, &err), 0, "%s", err.msg);
	cr_assert_eq(vm_adopt(sv[1], getpid(), &o, h, &hooks, &vm, &err), 0, "%s", err.msg);
	cr_assert_eq(vm_start(vm, &err), 0, "%s", err.msg);
	cr_assert_eq(vm_read(vm, &err), 0, "%s", err.msg);
	cr_assert_eq(vm_identity(vm, &err), 0, "%s", err.msg);
}

static void finish(void)
{
	vm_free(vm);
	vm = NULL;
	if (peer)
		free(peer_stop(peer));
	peer = NULL;
	hostres_free(h);
	h = NULL;
}

TestSuite(vm, .fini = finish, .timeout = 20);

/* The command of step s, as main.c builds it. */
static cJSON *command(const struct topo_step *s)
{
	const char *cmd;
	cJSON *args = NULL, *q;

	cr_assert_eq(topo_step_command(vm_table(vm), s, &cmd, &args, &err), 0, "%s", err.msg);
	q = qmp_command_new(cmd, args);
	cJSON_Delete(args);
	return q;
}

static int plug(int vcpu, struct vm_plug *res)
{
	const struct topo_table *t = vm_table(vm);
	struct topo_step s = { TOPO_PLUG, vcpu, 1, t->online, t->online + 1 };
	cJSON *q = command(&s);
	int rc = vm_plug(vm, &s, q, res, &err);

	cJSON_Delete(q);
	return rc;
}

static int unplug(int vcpu, double timeout_ms, struct vm_unplug *res)
{
	const struct topo_table *t = vm_table(vm);
	struct topo_step s = { TOPO_UNPLUG, vcpu, 1, t->online, t->online - 1 };
	cJSON *q = command(&s);
	int rc = vm_unplug(vm, vcpu, 1, q, timeout_ms, res, &err);

	cJSON_Delete(q);
	return rc;
}

Test(vm, start_up_reads_the_table_the_state_and_the_identity)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .name = "guest1",
				   .uuid = "c7a5fdbd-edaf-9455-926a-d65c16db1809" };
	const struct vm_info *in;

	start(&cfg, NULL);
	in = vm_info(vm);
	cr_assert_eq(vm_table(vm)->n, 8);
	cr_assert_eq(vm_table(vm)->online, 2);
	cr_assert(vm_table(vm)->tids_valid);
	cr_assert_str_eq(in->name, "guest1");
	cr_assert_str_eq(in->uuid, "c7a5fdbd-edaf-9455-926a-d65c16db1809");
	cr_assert_str_eq(in->run_state, "running");
	cr_assert_str_eq(in->migration, "none");
	cr_assert(in->can_hotplug);
	cr_assert_eq(vm_preflight(vm, false, &err), 0, "%s", err.msg);
}

Test(vm, a_plug_is_checked_and_an_unplug_waited_for)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .unplug = PEER_UNPLUG_KVM,
				   .unplug_ms = 30 };
	const struct topo_table *t;
	struct vm_plug p;
	struct vm_unplug u;
	int tid;

	start(&cfg, NULL);
	cr_assert_eq(plug(2, &p), 0, "%s", err.msg);
	t = vm_table(vm);
	cr_assert_eq(p.record, VM_REC_OK);
	cr_assert_not(p.undo);
	cr_assert_not(p.learned);
	cr_assert_eq(t->online, 3, "the table is fresh after the plug");
	tid = t->v[2].tid;
	cr_assert_gt(tid, 0);
	cr_assert_eq(hostres_is_thread_of(h, getpid(), tid), 1, "the new vCPU's thread is QEMU's");
	cr_assert_eq(peer_online(peer), 3);

	cr_assert_eq(unplug(2, 3000, &u), 0, "%s", err.msg);
	cr_assert(u.accepted);
	cr_assert_eq(u.record, VM_REC_OK);
	cr_assert_eq(vm_table(vm)->online, 2);
	cr_assert_not(vm_table(vm)->v[2].online);
	cr_assert_eq(peer_online(peer), 2);
	cr_assert_geq(events, 1, "the plug's ACPI answer reached the event hook during the wait");
}

Test(vm, an_unplug_the_guest_holds_is_pending_at_the_deadline)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .unplug = PEER_UNPLUG_NEVER };
	struct vm_unplug u;
	struct vm_plug p;
	double t0;

	start(&cfg, NULL);
	cr_assert_eq(plug(2, &p), 0, "%s", err.msg); /* boot vCPUs have no id to unplug by */
	t0 = vs_now_ms();
	cr_assert_eq(unplug(2, 100, &u), -EINPROGRESS, "%s", err.msg);
	cr_assert_geq(vs_now_ms() - t0, 100.0, "it waited the timeout");
	cr_assert(u.accepted);
	cr_assert_eq(u.record, VM_REC_NONE, "no record: it may still complete");
	cr_assert_eq(peer_online(peer), 3);
}

Test(vm, a_refusal_by_the_guest_is_believed_when_the_slot_list_agrees)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .unplug = PEER_UNPLUG_REJECT };
	struct vm_unplug u;
	struct vm_plug p;

	start(&cfg, NULL);
	cr_assert_eq(plug(2, &p), 0, "%s", err.msg);
	cr_assert_eq(unplug(2, 3000, &u), -EPERM, "%s", err.msg);
	cr_assert(strstr(err.msg, "the guest refused to release it"), "%s", err.msg);
	cr_assert(u.accepted);
	cr_assert_eq(u.record, VM_REC_FAILED);
}

Test(vm, a_device_add_qemu_refuses_is_a_failed_record_and_no_undo)
{
	static const struct peer_override ov[] = {
		{ .cmd = "device_add", .raw = "{\"error\": {\"class\": \"GenericError\", \"desc\": "
			"\"no more room\"}, \"id\": %ID%}" },
	};
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .overrides = ov, .noverrides = 1 };
	struct vm_plug p;

	start(&cfg, NULL);
	cr_assert_eq(plug(2, &p), -EREMOTEIO);
	cr_assert(strstr(err.msg, "no more room"), "%s", err.msg);
	cr_assert_eq(p.record, VM_REC_FAILED);
	cr_assert_not(p.undo);
	cr_assert_eq(vm_table(vm)->online, 2);
}

Test(vm, a_plugged_vcpu_whose_thread_is_old_is_taken_out_again)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .old_thread = true,
				   .unplug = PEER_UNPLUG_KVM };
	struct topo_step s = { TOPO_PLUG, 2, 1, 2, 3 };
	struct vm_plug p;
	struct vm_unplug u;
	cJSON *q;

	start(&cfg, NULL);
	q = command(&s);
	cr_assert_eq(vm_plug(vm, &s, q, &p, &err), -EPROTO);
	cr_assert(strstr(err.msg, "was there before the plug"), "%s", err.msg);
	cr_assert(p.undo, "QEMU took it: it must go again");
	cr_assert_eq(p.record, VM_REC_OK, "QEMU did plug it");
	cr_assert_eq(vm_unplug_again(vm, &s, q, 3000, &u, &err), 0, "%s", err.msg);
	cr_assert_eq(u.record, VM_REC_OK);
	cr_assert_eq(peer_online(peer), 2);
	cJSON_Delete(q);
}

Test(vm, a_paused_vm_is_refused_unless_forced)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .run_state = "paused" };

	start(&cfg, NULL);
	cr_assert_str_eq(vm_info(vm)->run_state, "paused");
	cr_assert_eq(vm_preflight(vm, false, &err), -EAGAIN);
	cr_assert(strstr(err.msg, "the VM is paused, not running"), "%s", err.msg);
	cr_assert_eq(vm_preflight(vm, true, &err), 0);
	cr_assert(strstr(warned, "the VM is paused (--force)"), "%s", warned);
}

Test(vm, a_legacy_qemu_is_sized_by_the_count_asked)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .legacy = true };

	start(&cfg, "+3");
	cr_assert_not(vm_info(vm)->can_hotplug);
	cr_assert_str_eq(vm_info(vm)->hotplug_error, "", "cpu-add is there");
	cr_assert(vm_table(vm)->legacy);
	cr_assert_eq(vm_table(vm)->n, 5, "online + 3");
}

Test(vm, a_machine_without_hotplug_says_why)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .no_hotplug = true };

	start(&cfg, NULL);
	cr_assert_not(vm_info(vm)->can_hotplug);
	cr_assert_neq(vm_info(vm)->hotplug_error[0], '\0');
}
