/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libvirt's status file (libvirt.c) on a fixture host: finding it, what a new vCPU takes
 * from it, what vcpuset writes back, and what it leaves alone. The vcpuset binary runs
 * against the scripted peer with --sysroot; the real libvirt is tests/test_libvirt.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "ga_peer.h"
#include "libvirt.h"
#include "peer.h"
#include "run.h"
#include "vcpuset.h"

#define MONITOR "/var/lib/libvirt/qemu/domain-3-ol8/monitor.sock"
#define UUID "c7a5fdbd-edaf-9455-926a-d65c16db1809"

static struct peer *peer;
static char sock[300], status[300];
static struct run_result r;

static void on_fixture(void)
{
	run_sysroot(getpid());
	run_sysroot_put("var/lib/libvirt/qemu/domain-3-ol8", NULL);
	snprintf(sock, sizeof(sock), "%s%s", run_sysroot_dir(), MONITOR);
	snprintf(status, sizeof(status), "%s/run/libvirt/qemu/ol8.xml", run_sysroot_dir());
}

static void teardown(void)
{
	run_free(&r);
	if (peer)
		free(peer_stop(peer));
	peer = NULL;
	run_sysroot_off();
}

TestSuite(lvstatus, .init = on_fixture, .fini = teardown, .timeout = 30);

#define RUN(...) run_vcpuset(&r, (const char *const[]){ __VA_ARGS__, NULL })

/*
 * A status file as libvirt 11 writes one (trimmed), for QEMU pid with a domain of 8 vCPUs,
 * 2 online; cputune (may be "") inside <domain>. A namespace, an entity and a comment, which
 * must come through a rewrite with their meaning.
 */
static void put_status(int pid, const char *cputune)
{
	char text[8192];

	snprintf(text, sizeof(text),
		 "<!--\nWARNING: THIS IS AN AUTO-GENERATED FILE.\n-->\n\n"
		 "<domstatus state='running' reason='booted' pid='%d'>\n"
		 "  <monitor path='" MONITOR "' type='unix'/>\n"
		 "  <namespaces>\n    <mount/>\n  </namespaces>\n"
		 "  <vcpus>\n    <vcpu id='0' pid='11'/>\n    <vcpu id='1' pid='12'/>\n  </vcpus>\n"
		 "  <qemuCaps>\n    <flag name='sdl'/>\n    <flag name='hda-duplex'/>\n  </qemuCaps>\n"
		 "  <libDir path='/var/lib/libvirt/qemu/domain-3-ol8'/>\n"
		 "  <domain type='kvm' id='3' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n"
		 "    <name>ol8</name>\n"
		 "    <uuid>" UUID "</uuid>\n"
		 "    <description>web &amp; mail &lt;prod&gt;</description>\n"
		 "    <metadata>\n      <app:info xmlns:app=\"http://example.org/app\" k=\"v\">x</app:info>\n"
		 "    </metadata>\n"
		 "    <memory unit='KiB'>262144</memory>\n"
		 "    <vcpu placement='static' current='2'>8</vcpu>\n"
		 "%s"
		 "    <os>\n      <type arch='x86_64' machine='pc-q35-10.0'>hvm</type>\n    </os>\n"
		 "    <devices>\n      <emulator>/usr/bin/qemu-system-x86_64</emulator>\n    </devices>\n"
		 "    <qemu:commandline>\n      <qemu:arg value='-no-user-config'/>\n"
		 "    </qemu:commandline>\n"
		 "  </domain>\n"
		 "</domstatus>\n", pid, cputune);
	run_sysroot_put("run/libvirt/qemu/ol8.xml", text);
	cr_assert_eq(chmod(status, 0600), 0);
}

static void serve(void)
{
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2 };

	peer = peer_start_unix(sock, &cfg);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 1 << 20);
	size_t n;

	cr_assert_not_null(f, "%s", path);
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static xmlNodePtr el(xmlNodePtr parent, const char *name)
{
	xmlNodePtr n;

	for (n = parent ? parent->children : NULL; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, BAD_CAST name) == 0)
			return n;
	return NULL;
}

static xmlDocPtr parse(const char *text)
{
	xmlDocPtr d = xmlReadMemory(text, (int)strlen(text), "status", NULL, XML_PARSE_NOBLANKS);

	cr_assert_not_null(d, "the status file does not parse: %s", text);
	return d;
}

/* What the file means, less what vcpuset may change: the tree, canonically written. */
static char *meaning(const char *text)
{
	xmlDocPtr d = parse(text);
	xmlNodePtr root = xmlDocGetRootElement(d), dom = el(root, "domain"), n, next, tune;
	xmlChar *out;
	char *s;
	int len;

	if ((n = el(root, "vcpus"))) {
		xmlUnlinkNode(n);
		xmlFreeNode(n);
	}
	if ((n = el(dom, "vcpus"))) {
		xmlUnlinkNode(n);
		xmlFreeNode(n);
	}
	xmlUnsetProp(el(dom, "vcpu"), BAD_CAST "current");
	tune = el(dom, "cputune");
	for (n = tune ? tune->children : NULL; n; n = next) {
		next = n->next;
		if (xmlStrcmp(n->name, BAD_CAST "vcpupin") == 0 ||
		    xmlStrcmp(n->name, BAD_CAST "vcpusched") == 0) {
			xmlUnlinkNode(n);
			xmlFreeNode(n);
		}
	}
	if (tune && !tune->children) {
		xmlUnlinkNode(tune);
		xmlFreeNode(tune);
	}
	xmlDocDumpMemory(d, &out, &len);
	s = strdup((const char *)out);
	xmlFree(out);
	xmlFreeDoc(d);
	return s;
}

/* Attribute a of the element found by path ("domain/vcpu"), "" if missing. */
static const char *attr_at(xmlDocPtr d, const char *path, const char *a, int nth)
{
	static char buf[256];
	xmlNodePtr n = xmlDocGetRootElement(d);
	char p[128], *tok, *save = NULL;
	xmlChar *v;
	int i;

	snprintf(p, sizeof(p), "%s", path);
	for (tok = strtok_r(p, "/", &save); tok && n; tok = strtok_r(NULL, "/", &save))
		n = el(n, tok);
	for (i = 0; n && i < nth; i++)
		for (n = n->next; n && n->type != XML_ELEMENT_NODE; n = n->next)
			;
	v = n ? xmlGetProp(n, BAD_CAST a) : NULL;
	snprintf(buf, sizeof(buf), "%s", v ? (const char *)v : "");
	xmlFree(v);
	return buf;
}

static int count_children(xmlNodePtr n)
{
	int k = 0;

	for (n = n ? n->children : NULL; n; n = n->next)
		k += n->type == XML_ELEMENT_NODE;
	return k;
}

static cJSON *step(int i)
{
	return cJSON_GetArrayItem(run_item(r.json, "steps"), i);
}

static const char *from(int i, const char *setting)
{
	cJSON *s = run_item(run_item(step(i), "tune"), setting);

	return cJSON_IsObject(s) ? cJSON_GetStringValue(run_item(s, "from")) : "none";
}

Test(lvstatus, a_plug_writes_back_what_libvirt_would_have)
{
	char *before, *after, *kept, path[512];
	struct stat st;
	xmlDocPtr d;
	int i;

	put_status(getpid(), "    <cputune>\n      <vcpupin vcpu='2' cpuset='0'/>\n"
			     "      <vcpupin vcpu='6' cpuset='1'/>\n    </cputune>\n");
	before = slurp(status);
	serve();
	RUN("--json", "--no-audit", "--socket", sock, "4", "--sched", "batch");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(cJSON_IsTrue(run_item(run_item(r.json, "libvirt"), "updated")), "%s", r.out);
	cr_assert_str_eq(from(0, "cpus"), "libvirt", "vCPU 2's pin: %s", r.out);
	cr_assert_str_eq(from(0, "affinity"), "libvirt");
	cr_assert_str_neq(from(1, "cpus"), "libvirt", "vCPU 3 has no pin in the XML");
	cr_assert_str_eq(from(0, "sched"), "given");
	after = slurp(status);
	d = parse(after);
	cr_assert_str_eq(attr_at(d, "domain/vcpu", "current", 0), "4");
	cr_assert_eq(count_children(el(el(xmlDocGetRootElement(d), "domain"), "vcpus")), 8);
	for (i = 0; i < 8; i++) {
		char order[8];

		snprintf(order, sizeof(order), "%d", i + 1);
		cr_assert_str_eq(attr_at(d, "domain/vcpus/vcpu", "enabled", i), i < 4 ? "yes" : "no");
		cr_assert_str_eq(attr_at(d, "domain/vcpus/vcpu", "hotpluggable", i), i < 2 ? "no" : "yes");
		cr_assert_str_eq(attr_at(d, "domain/vcpus/vcpu", "order", i), i < 4 ? order : "");
	}
	/* the thread list: QEMU's threads now, one per online vCPU */
	cr_assert_eq(count_children(el(xmlDocGetRootElement(d), "vcpus")), 4);
	cr_assert_eq(atoi(attr_at(d, "vcpus/vcpu", "pid", 2)),
		     run_item(step(0), "tid")->valueint);
	cr_assert_eq(atoi(attr_at(d, "vcpus/vcpu", "pid", 3)),
		     run_item(step(1), "tid")->valueint);
	/* <cputune>: the XML's pins kept; the command line's policy, one entry per vCPU */
	cr_assert_str_eq(attr_at(d, "domain/cputune/vcpupin", "vcpu", 0), "2");
	cr_assert_str_eq(attr_at(d, "domain/cputune/vcpupin", "cpuset", 0), "0");
	cr_assert_str_eq(attr_at(d, "domain/cputune/vcpupin", "vcpu", 1), "6");
	cr_assert_str_eq(attr_at(d, "domain/cputune/vcpusched", "vcpus", 0), "2");
	cr_assert_str_eq(attr_at(d, "domain/cputune/vcpusched", "scheduler", 0), "batch");
	cr_assert_str_eq(attr_at(d, "domain/cputune/vcpusched", "vcpus", 1), "3");
	xmlFreeDoc(d);
	/* all else means what it meant; mode kept; the file before kept in the state directory */
	{
		char *ma = meaning(after), *mb = meaning(before);

		cr_assert_str_eq(ma, mb);
		free(ma);
		free(mb);
	}
	cr_assert_eq(stat(status, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600);
	cr_assert_eq(st.st_uid, geteuid());
	snprintf(path, sizeof(path), "%s", cJSON_GetStringValue(run_item(run_item(r.json, "libvirt"),
									 "previous")));
	kept = slurp(path);
	cr_assert_str_eq(kept, before, "the file before, byte for byte, in %s", path);
	free(before);
	free(after);
	free(kept);
}

Test(lvstatus, an_unplug_drops_the_entries_vcpuset_wrote_and_keeps_the_xmls)
{
	xmlDocPtr d;
	char *after;

	put_status(getpid(), "    <cputune>\n      <vcpupin vcpu='5' cpuset='0'/>\n"
			     "    </cputune>\n");
	serve();
	RUN("--json", "--no-audit", "--socket", sock, "4", "--cpuset", "1", "--sched", "idle");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	run_free(&r);
	d = parse(after = slurp(status));
	cr_assert_str_eq(attr_at(d, "domain/cputune/vcpupin", "vcpu", 0), "2", "%s", after);
	cr_assert_str_eq(attr_at(d, "domain/cputune/vcpupin", "cpuset", 0), "1");
	cr_assert_str_eq(attr_at(d, "domain/cputune/vcpupin", "vcpu", 1), "3");
	cr_assert_str_eq(attr_at(d, "domain/cputune/vcpupin", "vcpu", 2), "5");
	xmlFreeDoc(d);
	free(after);
	RUN("--json", "--no-audit", "--socket", sock, "2");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	d = parse(after = slurp(status));
	cr_assert_str_eq(attr_at(d, "domain/vcpu", "current", 0), "2");
	cr_assert_str_eq(attr_at(d, "domain/vcpus/vcpu", "enabled", 2), "no");
	cr_assert_str_eq(attr_at(d, "domain/vcpus/vcpu", "order", 2), "");
	cr_assert_eq(count_children(el(xmlDocGetRootElement(d), "vcpus")), 2);
	/* vcpuset's pins and policies of vCPUs 2 and 3 gone, the XML's own pin of 5 kept */
	cr_assert_eq(count_children(el(el(xmlDocGetRootElement(d), "domain"), "cputune")), 1, "%s",
		     after);
	cr_assert_str_eq(attr_at(d, "domain/cputune/vcpupin", "vcpu", 0), "5");
	xmlFreeDoc(d);
	free(after);
}

Test(lvstatus, a_dry_run_shows_the_change_as_a_diff_and_writes_nothing)
{
	char *before, *after;

	put_status(getpid(), "");
	before = slurp(status);
	serve();
	RUN("--no-audit", "--dry-run", "--socket", sock, "3", "--cpuset", "0");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "libvirt: the status file would change:"), "%s", r.out);
	cr_assert(strstr(r.out, "--- ") && strstr(r.out, "+++ ") && strstr(r.out, "@@ -"), "%s", r.out);
	cr_assert(strstr(r.out, "\n-    <vcpu placement=\"static\" current=\"2\">8</vcpu>\n"), "%s", r.out);
	cr_assert(strstr(r.out, "\n+    <vcpu placement=\"static\" current=\"3\">8</vcpu>\n"), "%s", r.out);
	cr_assert(strstr(r.out, "\n+      <vcpu id=\"2\" enabled=\"yes\" hotpluggable=\"yes\" order=\"3\"/>\n"),
		  "%s", r.out);
	cr_assert(strstr(r.out, "\n+      <vcpupin vcpu=\"2\" cpuset=\"0\"/>\n"), "%s", r.out);
	cr_assert_null(strstr(r.out, "hda-duplex"), "only what changes, with 3 lines around: %s", r.out);
	after = slurp(status);
	cr_assert_str_eq(after, before, "a dry run writes nothing");
	free(before);
	free(after);
}

/* The file left byte for byte as it was, the plug done, one warning naming why. */
static void left_alone(const char *why)
{
	char *before = slurp(status), *after;

	serve();
	RUN("--json", "--no-audit", "--socket", sock, "3");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(run_has_warning(&r, why), "%s", r.out);
	run_free(&r);
	/* and found by its name: the socket where libvirt's layout puts it */
	RUN("--json", "--no-audit", "--domain", "ol8", "+1");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert_eq(run_item(r.json, "after")->valueint, 4);
	cr_assert(run_has_warning(&r, why), "%s", r.out);
	cr_assert(cJSON_IsFalse(run_item(run_item(r.json, "libvirt"), "updated")));
	after = slurp(status);
	cr_assert_str_eq(after, before);
	free(before);
	free(after);
}

Test(lvstatus, a_status_file_that_does_not_parse_is_left_alone)
{
	run_sysroot_put("run/libvirt/qemu/ol8.xml", "<domstatus pid='1'>\n  <monitor path='" MONITOR
			"'/>\n  <domain id='3'><name>ol8</name>\n");
	cr_assert_eq(chmod(status, 0600), 0);
	left_alone("does not parse");
}

Test(lvstatus, a_status_file_naming_another_qemu_is_left_alone)
{
	put_status(1, "");
	left_alone("names QEMU pid 1, but this monitor's QEMU is");
}

Test(lvstatus, a_status_file_others_can_write_is_not_trusted)
{
	put_status(getpid(), "    <cputune>\n      <vcpupin vcpu='2' cpuset='0'/>\n    </cputune>\n");
	cr_assert_eq(chmod(status, 0666), 0);
	left_alone("writable by others: not trusted");
	cr_assert_str_neq(from(0, "cpus"), "libvirt", "nothing read from it");
}

Test(lvstatus, no_libvirt_neither_reads_nor_writes)
{
	char *before, *after;

	put_status(getpid(), "    <cputune>\n      <vcpupin vcpu='2' cpuset='0'/>\n    </cputune>\n");
	before = slurp(status);
	serve();
	RUN("--json", "--no-audit", "--no-libvirt", "--socket", sock, "3");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(cJSON_IsNull(run_item(r.json, "libvirt")), "%s", r.out);
	cr_assert_str_neq(from(0, "cpus"), "libvirt");
	after = slurp(status);
	cr_assert_str_eq(after, before);
	free(before);
	free(after);
}

/* A libvirt daemon in the fixture's /proc, by pid file or not. */
static void fake_daemon(const char *comm)
{
	char p[64], text[64];

	snprintf(p, sizeof(p), "proc/%d/comm", 4000000);
	snprintf(text, sizeof(text), "%s\n", comm);
	run_sysroot_put(p, text);
}

Test(lvstatus, a_running_libvirt_daemon_fails_at_once_and_nothing_is_sent)
{
	static const char *const comms[] = { "libvirtd", "virtqemud" };
	struct peer_config cfg = { .gen_slots = 8, .gen_online = 2, .greet = PEER_NO_GREETING };
	double t0;
	size_t i;

	put_status(getpid(), "");
	peer = peer_start_unix(sock, &cfg);
	for (i = 0; i < 2; i++) {
		fake_daemon(comms[i]);
		t0 = vs_now_ms();
		RUN("--domain", "ol8", "3");
		cr_assert_eq(r.exit, 1, "%s%s", r.out, r.err);
		cr_assert(strstr(r.err, "virsh setvcpus ol8 COUNT --live") && strstr(r.err, comms[i]),
			  "%s", r.err);
		cr_assert_lt(vs_now_ms() - t0, 1000, "at once, not after a greeting's timeout");
		run_free(&r);
		RUN("--socket", sock, "--json", "3");
		cr_assert_eq(r.exit, 1, "by its socket too: %s%s", r.out, r.err);
		run_free(&r);
	}
	run_assert_nothing_sent(peer);
}

Test(lvstatus, domain_is_found_by_name_id_or_uuid)
{
	static const char *const ways[] = { "ol8", "3", UUID };
	size_t i;

	put_status(getpid(), "");
	serve();
	for (i = 0; i < 3; i++) {
		RUN("--json", "--no-audit", "--domain", ways[i], "--status");
		cr_assert_eq(r.exit, 0, "%s: %s%s", ways[i], r.out, r.err);
		cr_assert_str_eq(cJSON_GetStringValue(run_item(run_item(r.json, "libvirt"), "domain")),
				 "ol8");
		cr_assert_str_eq(cJSON_GetStringValue(run_item(run_item(r.json, "vm"), "uuid")), UUID,
				 "the audit identity is libvirt's: %s", r.out);
		run_free(&r);
	}
	RUN("--domain", "ol9", "3");
	cr_assert_eq(r.exit, 2, "%s%s", r.out, r.err);
	cr_assert(strstr(r.err, "--domain 'ol9': no running libvirt domain") &&
		  strstr(r.err, "ol8 (id 3)"), "%s", r.err);
}

Test(lvstatus, the_persistent_config_is_named_not_changed)
{
	char *before, *after, p[512];

	put_status(getpid(), "");
	run_sysroot_put("etc/libvirt/qemu/ol8.xml",
			"<domain type='kvm'>\n  <name>ol8</name>\n  <vcpu current='2'>8</vcpu>\n</domain>\n");
	snprintf(p, sizeof(p), "%s/etc/libvirt/qemu/ol8.xml", run_sysroot_dir());
	cr_assert_eq(chmod(p, 0600), 0);
	before = slurp(p);
	serve();
	RUN("--no-audit", "--socket", sock, "4");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "persistent config still says 2 vCPUs") &&
		  strstr(r.out, "virsh setvcpus ol8 4 --config"), "%s", r.out);
	after = slurp(p);
	cr_assert_str_eq(after, before, "the persistent config is not touched");
	free(after);
	free(before);
}

/* ---- libvirt.c itself ---- */

static struct lv *load(const char *cputune, const char *more_domain, const char *more_status)
{
	char text[8192], dir[256];
	struct lv_roots roots = { dir, NULL, NULL, NULL, NULL };
	struct vs_err e = { 0 };
	struct lv *lv;

	snprintf(text, sizeof(text),
		 "<domstatus state='running' pid='%d'>\n  <monitor path='/m.sock'/>\n%s"
		 "  <domain type='kvm' id='3'>\n    <name>ol8</name>\n"
		 "    %s\n    <cputune>%s</cputune>\n  </domain>\n</domstatus>\n", getpid(),
		 more_status, more_domain, cputune);
	run_sysroot_put("run/libvirt/qemu/ol8.xml", text);
	snprintf(dir, sizeof(dir), "%s/run/libvirt/qemu", run_sysroot_dir());
	snprintf(status, sizeof(status), "%s/ol8.xml", dir);
	cr_assert_eq(chmod(status, 0600), 0);
	cr_assert_eq(lv_find_domain(&roots, "ol8", &lv, &e), 0, "%s", e.msg);
	cr_assert_null(lv_why(lv), "%s", lv_why(lv));
	return lv;
}

static const char *list(const uint64_t *m)
{
	static char buf[256];

	topo_cpulist_format(m, TOPO_MAX_CPUS, buf, sizeof(buf));
	return buf;
}

static void tune(struct lv *lv, int vcpu, struct hostres_tune *t)
{
	char warn[512];

	memset(t, 0, sizeof(*t));
	lv_tune(lv, vcpu, t, warn, sizeof(warn));
	cr_assert_str_eq(warn, "", "vCPU %d: %s", vcpu, warn);
}

Test(lvstatus, cpu_mask_comes_from_vcpupin_then_numad_then_vcpu_cpuset)
{
	struct hostres_tune t;
	struct lv *lv;

	lv = load("<vcpupin vcpu='2' cpuset='4-6,^5'/>", "<vcpu placement='static' cpuset='0-3'>8</vcpu>", "");
	tune(lv, 2, &t);
	cr_assert_eq(t.cpus_src, HR_LIBVIRT);
	cr_assert_str_eq(list(t.cpus), "4,6");
	cr_assert_eq(t.aff_src, HR_LIBVIRT);
	cr_assert_str_eq(list(t.aff), "4,6");
	tune(lv, 3, &t);
	cr_assert_str_eq(list(t.cpus), "0-3", "the domain's <vcpu cpuset>");
	lv_free(lv);
	lv = load("", "<vcpu placement='auto' cpuset='0-3'>8</vcpu>",
		  "  <numad nodeset='1' cpuset='8-11'/>\n");
	tune(lv, 3, &t);
	cr_assert_str_eq(list(t.cpus), "8-11", "numad's advice, placement auto");
	lv_free(lv);
	lv = load("", "<vcpu placement='static'>8</vcpu>", "");
	tune(lv, 3, &t);
	cr_assert_eq(t.cpus_src, HR_UNSET, "no mask: the defaults");
	cr_assert_eq(t.aff_src, HR_UNSET);
	/* what the command line gave is not replaced */
	memset(&t, 0, sizeof(t));
	t.cpus_src = t.aff_src = HR_GIVEN;
	t.cpus[0] = t.aff[0] = 1;
	lv_free(lv);
	lv = load("<vcpupin vcpu='2' cpuset='4'/>", "", "");
	lv_tune(lv, 2, &t, NULL, 0);
	cr_assert_eq(t.cpus_src, HR_GIVEN);
	cr_assert_str_eq(list(t.cpus), "0");
	lv_free(lv);
}

Test(lvstatus, memory_nodes_come_from_strict_or_restrictive_numatune)
{
	struct hostres_tune t;
	struct lv *lv;

	lv = load("", "<numatune><memory mode='strict' nodeset='1'/></numatune>", "");
	tune(lv, 2, &t);
	cr_assert_eq(t.mems_src, HR_LIBVIRT);
	cr_assert_str_eq(list(t.mems), "1");
	lv_free(lv);
	lv = load("", "<numatune><memory mode='interleave' nodeset='0-1'/></numatune>", "");
	tune(lv, 2, &t);
	cr_assert_eq(t.mems_src, HR_UNSET, "interleave: no cpuset.mems");
	lv_free(lv);
	lv = load("", "<numatune><memory mode='strict' nodeset='0-1'/>"
		  "<memnode cellid='1' mode='restrictive' nodeset='1'/></numatune>"
		  "<cpu><numa><cell id='0' cpus='0-3' memory='1'/><cell id='1' cpus='4-7' memory='1'/>"
		  "</numa></cpu>", "");
	tune(lv, 2, &t);
	cr_assert_str_eq(list(t.mems), "0-1", "cell 0: the domain's");
	tune(lv, 5, &t);
	cr_assert_str_eq(list(t.mems), "1", "cell 1: its restrictive memnode");
	lv_free(lv);
	lv = load("", "<numatune><memory mode='strict' placement='auto'/></numatune>",
		  "  <numad nodeset='1' cpuset='8-11'/>\n");
	tune(lv, 2, &t);
	cr_assert_str_eq(list(t.mems), "1", "numad's nodes");
	lv_free(lv);
}

Test(lvstatus, policy_bandwidth_and_resctrl_groups)
{
	struct hostres_tune t;
	struct lv *lv;

	lv = load("<period>200000</period><quota>50000</quota>"
		  "<vcpusched vcpus='0-3,^1' scheduler='fifo' priority='10'/>"
		  "<vcpusched vcpus='5' scheduler='batch'/>"
		  "<cachetune vcpus='2-3'><cache id='0' level='3' type='both' size='3' unit='MiB'/>"
		  "<monitor level='3' vcpus='2-3'/><monitor level='3' vcpus='3'/></cachetune>"
		  "<cachetune vcpus='4'><monitor level='3' vcpus='4'/></cachetune>"
		  "<memorytune vcpus='5' id='mb'><node id='0' bandwidth='50'/></memorytune>", "", "");
	tune(lv, 2, &t);
	cr_assert_eq(t.bw_src, HR_LIBVIRT);
	cr_assert_eq(t.period, 200000);
	cr_assert_eq(t.quota, 50000);
	cr_assert_eq(t.sched_src, HR_LIBVIRT);
	cr_assert_eq(t.policy, SCHED_FIFO);
	cr_assert_eq(t.prio, 10);
	cr_assert_str_eq(t.cachetune, "qemu-3-ol8-vcpus_2-3");
	cr_assert_str_eq(t.monitor, "", "the monitor of the whole group is the group itself");
	tune(lv, 3, &t);
	cr_assert_str_eq(t.monitor, "qemu-3-ol8-vcpus_3");
	tune(lv, 1, &t);
	cr_assert_eq(t.sched_src, HR_UNSET, "^1: not covered");
	cr_assert_eq(t.rc_src, HR_UNSET);
	tune(lv, 4, &t);
	cr_assert_str_eq(t.cachetune, "", "a monitor-only group: no allocation");
	cr_assert_str_eq(t.monitor, "qemu-3-ol8-vcpus_4");
	tune(lv, 5, &t);
	cr_assert_eq(t.policy, SCHED_BATCH);
	cr_assert_str_eq(t.cachetune, "qemu-3-ol8-mb");
	lv_free(lv);
}

Test(lvstatus, values_vcpuset_cannot_use_are_said_not_taken)
{
	struct hostres_tune t;
	char warn[512];
	struct lv *lv;

	lv = load("<vcpupin vcpu='2' cpuset='x-y'/><quota>5</quota>"
		  "<vcpusched vcpus='2' scheduler='rr'/>", "", "");
	memset(&t, 0, sizeof(t));
	lv_tune(lv, 2, &t, warn, sizeof(warn));
	cr_assert_eq(t.cpus_src, HR_UNSET);
	cr_assert_eq(t.bw_src, HR_UNSET);
	cr_assert_eq(t.sched_src, HR_UNSET);
	cr_assert(strstr(warn, "'x-y' is not a set") && strstr(warn, "quota '5'") &&
		  strstr(warn, "rr without a priority"), "%s", warn);
	lv_free(lv);
}

Test(lvstatus, machine_names_as_libvirt_makes_them)
{
	static const struct { int id; const char *name, *want; } cases[] = {
		{ 3, "ol8", "qemu-3-ol8" },
		{ 12, "..web..01--x!", "qemu-12-web.01-x" },
		{ 1, "a_b c", "qemu-1-abc" },
		{ 7, "x-", "qemu-7-x" },
		{ 2, "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnop",
		  "qemu-2-abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcde" },
	};
	char buf[128];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		lv_machine_name(cases[i].id, cases[i].name, buf, sizeof(buf));
		cr_assert_str_eq(buf, cases[i].want, "'%s'", cases[i].name);
	}
}

Test(lvstatus, name_from_a_libvirt_socket_path)
{
	static const struct {
		const char *path, *name;
		int id;
	} cases[] = {
		{ "/var/lib/libvirt/qemu/domain-7-ol8/monitor.sock", "ol8", 7 },
		{ "/var/lib/libvirt/qemu/domain-123-my-vm-2/monitor.sock", "my-vm-2", 123 },
		{ "/run/libvirt/qemu/domain-1-x/monitor.sock", "x", 1 },
		{ "/var/lib/libvirt/qemu/domain-7-ol8/other.sock", NULL, 0 },
		{ "/var/lib/libvirt/qemu/domain--ol8/monitor.sock", NULL, 0 },
		{ "/var/lib/libvirt/qemu/domain-7-/monitor.sock", NULL, 0 },
		{ "/tmp/qmp.sock", NULL, 0 },
		{ "monitor.sock", NULL, 0 },
	};
	char name[64];
	size_t i;
	int id;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool ok = lv_name_from_socket(cases[i].path, &id, name, sizeof(name));

		cr_assert_eq(ok, cases[i].name != NULL, "%s", cases[i].path);
		if (ok) {
			cr_assert_str_eq(name, cases[i].name);
			cr_assert_eq(id, cases[i].id);
		}
	}
}

Test(lvstatus, other_domains_status_files_are_not_parsed)
{
	put_status(getpid(), "");
	run_sysroot_put("run/libvirt/qemu/web.xml", "<domstatus pid='7'><monitor path='/x/y.sock'/>");
	serve();
	RUN("--json", "--no-audit", "--socket", sock, "3");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(cJSON_IsTrue(run_item(run_item(r.json, "libvirt"), "updated")), "%s", r.out);
	cr_assert_null(strstr(r.out, "web.xml"), "web.xml is not ol8's: %s", r.out);
}

Test(lvstatus, a_run_killed_before_its_write_leaves_it_to_the_next_run)
{
	struct run_proc p;
	struct run_result dead;
	xmlDocPtr d;
	char *before, *after;
	int st;

	put_status(getpid(), "");
	before = slurp(status);
	serve();
	setenv("VCPUSET_TEST_PAUSE", "plug-tuned", 1);
	run_start(&p, (const char *const[]){ "--no-audit", "--socket", sock, "3", NULL });
	unsetenv("VCPUSET_TEST_PAUSE");
	cr_assert_eq(waitpid(p.pid, &st, WUNTRACED), p.pid);
	cr_assert(WIFSTOPPED(st), "it stops once the plug is tuned");
	kill(p.pid, SIGKILL);
	run_finish(&p, &dead);
	run_free(&dead);
	after = slurp(status);
	cr_assert_str_eq(after, before, "killed before its write: the file is as it was");
	free(after);
	/* the next run that may change the VM, with nothing else to do, writes what QEMU has */
	RUN("--json", "--no-audit", "--socket", sock, "3");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert_eq(cJSON_GetArraySize(run_item(r.json, "steps")), 0, "nothing to do: %s", r.out);
	cr_assert(cJSON_IsTrue(run_item(run_item(r.json, "libvirt"), "updated")), "%s", r.out);
	d = parse(after = slurp(status));
	cr_assert_str_eq(attr_at(d, "domain/vcpu", "current", 0), "3");
	cr_assert_str_eq(attr_at(d, "domain/vcpus/vcpu", "hotpluggable", 2), "yes");
	cr_assert_str_eq(attr_at(d, "domain/vcpus/vcpu", "enabled", 2), "yes");
	xmlFreeDoc(d);
	free(after);
	free(before);
	run_free(&r);
	/* and one more has nothing to write */
	RUN("--json", "--no-audit", "--socket", sock, "3");
	cr_assert(cJSON_IsTrue(run_item(run_item(r.json, "libvirt"), "unchanged")), "%s", r.out);
}

Test(lvstatus, a_run_with_nothing_to_do_on_a_domain_never_changed_writes_nothing)
{
	char *before, *after;
	int tids[2] = { 0, 0 }, i;
	char text[8192];
	cJSON *v;

	put_status(getpid(), "");
	serve();
	/* the status file as libvirt wrote it at boot: the threads QEMU has */
	RUN("--json", "--no-audit", "--socket", sock, "--status");
	for (i = 0; i < 2; i++) {
		v = cJSON_GetArrayItem(run_item(r.json, "vcpus"), i);
		tids[i] = run_item(v, "tid")->valueint;
	}
	run_free(&r);
	before = slurp(status);
	snprintf(text, sizeof(text), "%s", before);
	{
		char *p = strstr(text, "<vcpu id='0' pid='11'/>\n    <vcpu id='1' pid='12'/>");
		static char rest[8192];

		cr_assert_not_null(p);
		snprintf(rest, sizeof(rest), "%s", p + strlen("<vcpu id='0' pid='11'/>\n    <vcpu id='1' pid='12'/>"));
		snprintf(p, sizeof(text) - (size_t)(p - text), "<vcpu id='0' pid='%d'/>\n    <vcpu id='1' "
			 "pid='%d'/>%.7000s", tids[0], tids[1], rest);
	}
	run_sysroot_put("run/libvirt/qemu/ol8.xml", text);
	cr_assert_eq(chmod(status, 0600), 0);
	free(before);
	before = slurp(status);
	RUN("--no-audit", "--dry-run", "--socket", sock, "2");
	cr_assert_null(strstr(r.out, "libvirt: the status file would change"), "%s", r.out);
	run_free(&r);
	RUN("--json", "--no-audit", "--socket", sock, "2");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert(cJSON_IsTrue(run_item(run_item(r.json, "libvirt"), "unchanged")), "%s", r.out);
	after = slurp(status);
	cr_assert_str_eq(after, before, "no <vcpus> for a domain never hot-plugged, as libvirt");
	free(before);
	free(after);
}

/* ---- issue 18: the guest agent's channel, when QEMU cannot say ---- */

Test(lvstatus, the_status_file_names_the_agents_channel)
{
	static const char head[] = "<domstatus pid='42'><monitor path='" MONITOR "'/>%s<domain id='3'>"
				   "<name>ol8</name><devices>%s</devices></domain></domstatus>";
	char text[2048], path[512];
	struct lv *lv;

	snprintf(text, sizeof(text), head, "<channelTargetDir path='/run/libvirt/qemu/channel/3-ol8'/>",
		 "<channel type='unix'><source mode='bind' path='/run/x/agent.sock'/>"
		 "<target type='virtio' name='org.qemu.guest_agent.0'/></channel>");
	lv = lv_from_text(text, strlen(text));
	cr_assert_eq(lv_agent_socket(lv, "org.qemu.guest_agent.0", path, sizeof(path)), 0);
	cr_assert_str_eq(path, "/run/x/agent.sock", "the channel's own source first");
	lv_free(lv);
	snprintf(text, sizeof(text), head, "<channelTargetDir path='/run/libvirt/qemu/channel/3-ol8'/>",
		 "<channel type='unix'><target type='virtio' name='org.qemu.spice.0'/></channel>");
	lv = lv_from_text(text, strlen(text));
	cr_assert_eq(lv_agent_socket(lv, "org.qemu.guest_agent.0", path, sizeof(path)), 0);
	cr_assert_str_eq(path, "/run/libvirt/qemu/channel/3-ol8/org.qemu.guest_agent.0");
	lv_free(lv);
	snprintf(text, sizeof(text), head, "", "");
	lv = lv_from_text(text, strlen(text));
	cr_assert_eq(lv_agent_socket(lv, "org.qemu.guest_agent.0", path, sizeof(path)), -ENOENT);
	lv_free(lv);
}

/*
 * The scripted QEMU has no qom-list: auto takes the agent's socket from libvirt's layout
 * (channel/target/domain-<id>-<name>/ beside the monitor's directory) when one is there.
 */
Test(lvstatus, auto_takes_libvirts_channel_when_qemu_cannot_say)
{
	struct ga_peer_config ac = { 0 };
	struct ga_peer *agent;
	char asock[300];

	put_status(getpid(), "");
	serve();
	run_sysroot_put("var/lib/libvirt/qemu/channel/target/domain-3-ol8", NULL);
	snprintf(asock, sizeof(asock), "%s/var/lib/libvirt/qemu/channel/target/domain-3-ol8/"
		 "org.qemu.guest_agent.0", run_sysroot_dir());
	cr_assert_lt(strlen(asock), 108, "a unix socket's path: %s", asock);
	ac.qemu = peer;
	agent = ga_peer_start(asock, &ac);
	RUN("--json", "--no-audit", "--no-cgroup", "--socket", sock, "3");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert_str_eq(cJSON_GetStringValue(run_item(run_item(r.json, "guest"), "from")), "libvirt",
			 "%s", r.out);
	cr_assert_str_eq(cJSON_GetStringValue(run_item(run_item(r.json, "guest"), "agent")), asock);
	cr_assert_str_eq(cJSON_GetStringValue(run_item(run_item(cJSON_GetArrayItem(
		run_item(r.json, "steps"), 0), "guest"), "state")), "onlined", "%s", r.out);
	free(ga_peer_stop(agent));
	run_free(&r);
	/* no socket there: no agent, and nothing said */
	RUN("--json", "--no-audit", "--no-cgroup", "--socket", sock, "4");
	cr_assert_eq(r.exit, 0, "%s%s", r.out, r.err);
	cr_assert_eq(cJSON_GetArraySize(run_item(r.json, "warnings")), 0, "%s", r.out);
	cr_assert(cJSON_IsFalse(run_item(run_item(r.json, "guest"), "answered")), "%s", r.out);
}
