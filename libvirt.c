/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libvirt: a libvirt domain's live status file. libvirt keeps one per running domain
 * (<run>/NAME.xml, root's, 0600): <domstatus pid=...> with the monitor's path, the vCPU
 * threads, and the live <domain> definition. vcpuset reads it to give a new vCPU what
 * libvirt would, and writes the vCPU part back so that libvirtd, when it comes back, finds
 * the domain as it would have left it had it made the change itself.
 *
 * Parsing and writing go through libxml2. The file is rewritten whole (libxml2's own way of
 * writing it: double quotes); libvirtd writes it its own way again the first time it saves.
 */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdint.h>
#include <sys/stat.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlsave.h>

#include "libvirt.h"
#include "topo.h"

#define LV_MAX (16u << 20) /* bytes in a status file */
#define LV_BITS 16384      /* vCPU indices in a <vcpusched vcpus=...> set */
#define LV_WORDS (LV_BITS / 64)
#define LV_DIFF_MAX_D 2000 /* edits the diff looks for before it shows one hunk */

struct lv {
	xmlDocPtr doc;  /* NULL when the file could not be parsed */
	char *text;     /* the file as read */
	size_t len;
	char *dumped;   /* doc as lv_render writes documents, for the diff; made once */
	struct stat st; /* the file read */
	int id, pid;
	char path[PATH_MAX];
	char dir[PATH_MAX]; /* the status directory */
	char file[256];     /* the file's name in it */
	char name[256];
	char uuid[40];
	char monitor[PATH_MAX]; /* as the file says */
	char socket[PATH_MAX];  /* the same with the prefix */
	char why[640];
};

static const char *dflt(const char *v, const char *d)
{
	return v ? v : d;
}

/* ---- reading the XML: element children, attributes, text ---- */

static bool is_el(xmlNodePtr n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && (!name || xmlStrcmp(n->name, BAD_CAST name) == 0);
}

/* The first element child of parent named name (NULL: any), after after (NULL: from the start). */
static xmlNodePtr child_after(xmlNodePtr parent, xmlNodePtr after, const char *name)
{
	xmlNodePtr n;

	if (!parent)
		return NULL;
	for (n = after ? after->next : parent->children; n; n = n->next)
		if (is_el(n, name))
			return n;
	return NULL;
}

static xmlNodePtr child(xmlNodePtr parent, const char *name)
{
	return child_after(parent, NULL, name);
}

/* Attribute name of n into buf: false when missing or too long. */
static bool attr(xmlNodePtr n, const char *name, char *buf, size_t size)
{
	xmlChar *v = n ? xmlGetProp(n, BAD_CAST name) : NULL;
	bool ok = v && strlen((const char *)v) < size;

	if (ok)
		snprintf(buf, size, "%s", (const char *)v);
	else if (size)
		buf[0] = '\0';
	xmlFree(v);
	return ok;
}

static bool attr_is(xmlNodePtr n, const char *name, const char *want)
{
	char v[64];

	return attr(n, name, v, sizeof(v)) && strcmp(v, want) == 0;
}

/* The text of element n, spaces around it dropped: false when missing or too long. */
static bool text_of(xmlNodePtr n, char *buf, size_t size)
{
	xmlChar *v = n ? xmlNodeGetContent(n) : NULL;
	const char *s = (const char *)v;
	size_t len;
	bool ok = false;

	if (v) {
		while (isspace((unsigned char)*s))
			s++;
		len = strlen(s);
		while (len && isspace((unsigned char)s[len - 1]))
			len--;
		ok = len < size;
		if (ok) {
			memcpy(buf, s, len);
			buf[len] = '\0';
		}
	}
	if (!ok && size)
		buf[0] = '\0';
	xmlFree(v);
	return ok;
}

/* A decimal attribute in [min, max]: 0, or -EINVAL (missing or bad). */
static int int_attr(xmlNodePtr n, const char *name, long long min, long long max, long long *out)
{
	char v[32];

	if (!attr(n, name, v, sizeof(v)))
		return -EINVAL;
	return topo_parse_ll(name, v, min, max, out, NULL);
}

/* A vCPU index attribute, or -1 when missing or bad. */
static int vcpu_attr(xmlNodePtr n, const char *name)
{
	long long v;

	return int_attr(n, name, 0, LV_BITS - 1, &v) == 0 ? (int)v : -1;
}

/*
 * libvirt's sets ("0-3,^2,8"): ranges, single numbers, and exclusions of numbers or ranges
 * from what came before. 0 or -EINVAL.
 */
static int set_parse(const char *s, uint64_t *mask, int nbits)
{
	char buf[4096], *tok, *save = NULL;
	bool any = false;

	if (!s || strlen(s) >= sizeof(buf))
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", s);
	memset(mask, 0, (size_t)(nbits / 64) * sizeof(*mask));
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		bool neg = false;
		long long a, b;
		char *dash;

		while (isspace((unsigned char)*tok))
			tok++;
		if (*tok == '^') {
			neg = true;
			tok++;
		}
		dash = strchr(tok, '-');
		if (dash)
			*dash = '\0';
		if (topo_parse_ll("set", tok, 0, nbits - 1, &a, NULL) < 0 ||
		    (dash && topo_parse_ll("set", dash + 1, a, nbits - 1, &b, NULL) < 0))
			return -EINVAL;
		for (b = dash ? b : a; a <= b; a++) {
			if (neg)
				mask[a / 64] &= ~(1ULL << (a % 64));
			else
				mask[a / 64] |= 1ULL << (a % 64);
		}
		any = any || !neg;
	}
	return any ? 0 : -EINVAL;
}

static bool set_has(const uint64_t *mask, int bit)
{
	return bit >= 0 && (mask[bit / 64] >> (bit % 64)) & 1;
}

/* Does set attribute name of n cover i? */
static bool covers(xmlNodePtr n, const char *name, int i)
{
	uint64_t m[LV_WORDS];
	char v[4096];

	return attr(n, name, v, sizeof(v)) && set_parse(v, m, LV_BITS) == 0 && set_has(m, i);
}

/* ---- reading the file ---- */

static void lv_init_xml(void)
{
	static bool done;

	if (!done) {
		xmlInitParser();
		done = true;
	}
}

void lv_cleanup(void)
{
	xmlCleanupParser();
}

/*
 * Read name in directory dirfd: a regular file, not linked, under LV_MAX, owned by root or
 * by us and writable by nobody else (what libvirt writes: root's, 0600). why on refusal.
 */
static int read_trusted(int dirfd, const char *name, char **text, struct stat *st, char *why,
			size_t size)
{
	int fd, rc;

	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		snprintf(why, size, "%s", errno == ELOOP ? "a symlink" : strerror(errno));
		return rc;
	}
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode) || st->st_size > (off_t)LV_MAX) {
		close(fd);
		snprintf(why, size, "not a regular file under %u MiB", LV_MAX >> 20);
		return -EINVAL;
	}
	if ((st->st_uid != 0 && st->st_uid != geteuid()) || (st->st_mode & 022)) {
		close(fd);
		snprintf(why, size, "owned by uid %u or writable by others: not trusted",
			 (unsigned)st->st_uid);
		return -EPERM;
	}
	rc = vs_read_fd(fd, LV_MAX + 1, text);
	close(fd);
	if (rc < 0)
		snprintf(why, size, "%s", strerror(-rc));
	return rc;
}

static xmlDocPtr parse(const char *text, size_t len, const char *url, char *why, size_t size)
{
	xmlDocPtr doc;
	const xmlError *e;

	lv_init_xml();
	doc = xmlReadMemory(text, (int)len, url, NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc) {
		e = xmlGetLastError();
		snprintf(why, size, "does not parse (line %d: %.*s)", e ? e->line : 0,
			 e && e->message ? (int)strcspn(e->message, "\n") : 1,
			 e && e->message ? e->message : "?");
		return NULL;
	}
	if (doc->intSubset) { /* libvirt never writes a DTD; entities are not for us */
		xmlFreeDoc(doc);
		snprintf(why, size, "%s", "has a DOCTYPE, which libvirt never writes");
		return NULL;
	}
	return doc;
}

/* The domstatus fields: pid, monitor, the domain's name, id, uuid. */
static int read_status(struct lv *lv, const char *prefix)
{
	xmlNodePtr root = xmlDocGetRootElement(lv->doc), dom, mon;
	long long v;
	char id[32];

	dom = child(root, "domain");
	mon = child(root, "monitor");
	if (!is_el(root, "domstatus") || !dom) {
		snprintf(lv->why, sizeof(lv->why), "%.200s is not a libvirt status file (no "
			 "<domstatus><domain>)", lv->path);
		return -EINVAL;
	}
	if (int_attr(root, "pid", 1, INT_MAX, &v) < 0 || !attr(mon, "path", lv->monitor,
							    sizeof(lv->monitor)) ||
	    lv->monitor[0] != '/' || !text_of(child(dom, "name"), lv->name, sizeof(lv->name)) ||
	    !lv->name[0]) {
		snprintf(lv->why, sizeof(lv->why), "%.200s lacks the pid, the monitor's path or the "
			 "domain's name", lv->path);
		return -EINVAL;
	}
	lv->pid = (int)v;
	lv->id = attr(dom, "id", id, sizeof(id)) && topo_parse_ll("id", id, 0, INT_MAX, &v, NULL) == 0
			 ? (int)v : -1;
	text_of(child(dom, "uuid"), lv->uuid, sizeof(lv->uuid));
	snprintf(lv->socket, sizeof(lv->socket), "%s%s", prefix ? prefix : "", lv->monitor);
	return 0;
}

static struct lv *lv_new(const char *dir_path, const char *name)
{
	struct lv *lv = calloc(1, sizeof(*lv));

	if (!lv)
		return NULL;
	lv->id = -1;
	snprintf(lv->dir, sizeof(lv->dir), "%s", dir_path);
	snprintf(lv->file, sizeof(lv->file), "%s", name);
	snprintf(lv->path, sizeof(lv->path), "%s/%s", dir_path, name);
	return lv;
}

/* Parse lv->text; why set when it cannot be used. */
static void lv_parse(struct lv *lv, const char *prefix)
{
	char why[400];

	lv->doc = parse(lv->text, lv->len, lv->path, why, sizeof(why));
	if (!lv->doc)
		snprintf(lv->why, sizeof(lv->why), "status file %.200s %.200s", lv->path, why);
	else
		read_status(lv, prefix);
}

/*
 * Read and parse status file name of dir (an open fd, path dir_path); why set when unusable.
 * With want, a file it does not want (*skip) is not parsed.
 */
static struct lv *load(int dirfd, const char *dir_path, const char *name, const char *prefix,
		       bool (*want)(void *ctx, const struct lv *lv), void *ctx, bool *skip)
{
	struct lv *lv = lv_new(dir_path, name);
	char why[400];
	int rc;

	*skip = false;
	if (!lv)
		return NULL;
	rc = read_trusted(dirfd, name, &lv->text, &lv->st, why, sizeof(why));
	if (rc < 0) {
		snprintf(lv->why, sizeof(lv->why), "status file %.200s: %.200s", lv->path, why);
		return lv;
	}
	lv->len = (size_t)rc;
	if (want && !want(ctx, lv)) {
		*skip = true;
		return lv;
	}
	lv_parse(lv, prefix);
	return lv;
}

struct lv *lv_from_text(const char *text, size_t len)
{
	struct lv *lv = lv_new("(memory)", "status.xml");

	if (!lv || !(lv->text = malloc(len + 1))) {
		free(lv);
		return NULL;
	}
	memcpy(lv->text, text, len);
	lv->text[len] = '\0';
	lv->len = len;
	lv_parse(lv, NULL);
	return lv;
}

void lv_free(struct lv *lv)
{
	if (!lv)
		return;
	xmlFreeDoc(lv->doc);
	free(lv->text);
	free(lv->dumped);
	free(lv);
}

bool lv_name_from_socket(const char *path, int *id, char *name, size_t size)
{
	const char *end, *start, *p;
	size_t n = strlen(path);
	long v = 0;

	if (n < 22 || strcmp(path + n - 13, "/monitor.sock") != 0)
		return false;
	end = path + n - 13;
	for (start = end; start > path && start[-1] != '/'; start--)
		;
	if (strncmp(start, "domain-", 7) != 0 || !isdigit((unsigned char)start[7]))
		return false;
	for (p = start + 7; isdigit((unsigned char)*p) && v < INT_MAX / 10; p++)
		v = v * 10 + (*p - '0');
	if (*p != '-' || p + 1 >= end || (size_t)(end - p - 1) >= size)
		return false;
	*id = (int)v;
	memcpy(name, p + 1, (size_t)(end - p - 1));
	name[end - p - 1] = '\0';
	return true;
}

/*
 * Calls fn(ctx, lv) on each status file of the run directory: fn returns LV_DROP (freed here),
 * LV_KEEP (fn keeps it) or LV_STOP (fn keeps it, and the scan ends).
 */
enum { LV_DROP, LV_KEEP, LV_STOP };
static int scan(const struct lv_roots *r, bool (*want)(void *ctx, const struct lv *lv),
		int (*fn)(void *ctx, struct lv *lv), void *ctx, struct vs_err *err)
{
	const char *run = dflt(r->run, "/run/libvirt/qemu");
	struct dirent *d;
	DIR *dir;
	int fd;

	fd = open(run, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(dir = fdopendir(fd))) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return e == ENOENT ? 0 : vs_err_set(err, e, "%s: %s", run, strerror(e));
	}
	while ((d = readdir(dir))) {
		size_t n = strlen(d->d_name);
		struct lv *lv;

		if (d->d_name[0] == '.' || n < 5 || strcmp(d->d_name + n - 4, ".xml") != 0)
			continue;
		bool skip;
		int took;

		lv = load(dirfd(dir), run, d->d_name, r->prefix, want, ctx, &skip);
		took = lv && !skip ? fn(ctx, lv) : LV_DROP;
		if (took == LV_DROP)
			lv_free(lv);
		if (took == LV_STOP)
			break;
	}
	closedir(dir);
	return 0;
}

struct by_socket {
	const char *socket;
	struct stat st;
	bool have_st;
	int id;          /* from the socket's path, -1 if not libvirt's layout */
	char short_name[256];
	struct lv *found; /* the status file naming the socket */
	struct lv *near;  /* else the one the path points at, unusable */
	char tail[300];   /* "dir/name.sock": a status file naming the socket holds it */
};

/*
 * The last two components of path, when a status file would hold them as they are (no
 * character XML escapes), else "".
 */
static void tail_of(const char *path, char *buf, size_t size)
{
	const char *p = path + strlen(path);
	int slashes = 0;

	while (p > path && slashes < 2)
		if (*--p == '/')
			slashes++;
	snprintf(buf, size, "%s", p);
	if (strpbrk(buf, "<>&'\"") || strlen(p) >= size)
		buf[0] = '\0';
}

/*
 * Parse a status file only when it may be the socket's: it holds the socket's last path
 * components, or its name is the one the socket's path points at. On a host of many domains
 * a run parses one file, not all.
 */
static bool worth_parsing(void *ctx, const struct lv *lv)
{
	const struct by_socket *b = ctx;

	return strstr(lv->text, b->tail) ||
	       (b->id >= 0 && strncmp(lv->file, b->short_name, strlen(b->short_name)) == 0);
}

static int match_socket(void *ctx, struct lv *lv)
{
	struct by_socket *b = ctx;
	struct stat st;
	bool same;

	if (lv->doc && !lv->why[0]) {
		same = strcmp(lv->socket, b->socket) == 0 ||
		       (b->have_st && stat(lv->socket, &st) == 0 && st.st_dev == b->st.st_dev &&
			st.st_ino == b->st.st_ino);
		if (same) {
			b->found = lv;
			return LV_STOP;
		}
	}
	/* a file the socket's path points at (its short name starts the file's name) */
	if (b->id >= 0 && !b->near && strncmp(lv->file, b->short_name, strlen(b->short_name)) == 0 &&
	    (lv->why[0] || lv->id == b->id)) {
		if (!lv->why[0])
			snprintf(lv->why, sizeof(lv->why), "status file %.200s names the monitor %.200s, not %.200s",
				 lv->path, lv->monitor, b->socket);
		b->near = lv;
		return LV_KEEP; /* freed by lv_find_socket if a better one shows */
	}
	return LV_DROP;
}

int lv_find_socket(const struct lv_roots *r, const char *socket, struct lv **out,
		   struct vs_err *err)
{
	struct by_socket b = { .socket = socket, .id = -1 };
	struct lv *lv;
	int rc;

	*out = NULL;
	b.have_st = stat(socket, &b.st) == 0;
	if (!lv_name_from_socket(socket, &b.id, b.short_name, sizeof(b.short_name)))
		b.id = -1;
	tail_of(socket, b.tail, sizeof(b.tail));
	rc = scan(r, b.tail[0] ? worth_parsing : NULL, match_socket, &b, err);
	if (rc < 0) {
		lv_free(b.near);
		return rc;
	}
	if (b.found) {
		if (b.near != b.found)
			lv_free(b.near);
		*out = b.found;
		return 1;
	}
	if (b.near) {
		*out = b.near;
		return 1;
	}
	if (b.id < 0)
		return 0;
	lv = calloc(1, sizeof(*lv));
	if (!lv)
		return vs_err_set(err, ENOMEM, "out of memory");
	lv->id = b.id;
	snprintf(lv->name, sizeof(lv->name), "%s", b.short_name);
	snprintf(lv->socket, sizeof(lv->socket), "%s", socket);
	snprintf(lv->why, sizeof(lv->why), "no status file in %.200s names this monitor",
		 dflt(r->run, "/run/libvirt/qemu"));
	*out = lv;
	return 1;
}

struct by_domain {
	const char *want;
	bool by_id, by_uuid;
	struct lv *found;
	char seen[900];
	size_t o;
};

static int match_domain(void *ctx, struct lv *lv)
{
	struct by_domain *b = ctx;
	char id[24];
	bool hit;

	if (!lv->doc || lv->why[0]) {
		hit = strncmp(lv->file, b->want, strlen(b->want)) == 0 &&
		      strlen(lv->file) == strlen(b->want) + 4;
		if (hit) /* the status file of that name, unusable: say why */
			b->found = lv;
		return hit ? LV_STOP : LV_DROP;
	}
	snprintf(id, sizeof(id), "%d", lv->id);
	hit = b->by_id ? strcmp(id, b->want) == 0
	      : b->by_uuid ? strcasecmp(lv->uuid, b->want) == 0 : strcmp(lv->name, b->want) == 0;
	if (hit) {
		b->found = lv;
		return LV_STOP;
	}
	if (b->o < sizeof(b->seen))
		b->o += (size_t)snprintf(b->seen + b->o, sizeof(b->seen) - b->o, "%s%s (id %d)",
					 b->o ? ", " : "", lv->name, lv->id);
	return LV_DROP;
}

/*
 * The monitor of domain name where libvirt's layout puts it, for a status file that cannot
 * be read: <prefix>/var/lib/libvirt/qemu/domain-<id>-<first 20 characters>/monitor.sock,
 * when exactly one exists. true with lv->socket set.
 */
static bool layout_socket(const struct lv_roots *r, struct lv *lv, const char *name)
{
	char dir[PATH_MAX], want[64], found[PATH_MAX + 300] = "", p[PATH_MAX + 300];
	struct dirent *d;
	int n = 0, id;
	DIR *dp;

	snprintf(dir, sizeof(dir), "%s/var/lib/libvirt/qemu", r->prefix ? r->prefix : "");
	snprintf(want, sizeof(want), "%.20s", name);
	dp = opendir(dir);
	if (!dp)
		return false;
	while ((d = readdir(dp))) {
		char short_name[64];
		struct stat st;

		snprintf(p, sizeof(p), "%s/%s/monitor.sock", dir, d->d_name);
		if (lv_name_from_socket(p, &id, short_name, sizeof(short_name)) &&
		    strcmp(short_name, want) == 0 && stat(p, &st) == 0 && S_ISSOCK(st.st_mode) && !n++) {
			snprintf(found, sizeof(found), "%s", p);
			lv->id = id;
		}
	}
	closedir(dp);
	if (n != 1)
		return false;
	snprintf(lv->socket, sizeof(lv->socket), "%.4000s", found);
	snprintf(lv->name, sizeof(lv->name), "%s", name);
	return true;
}

int lv_find_domain(const struct lv_roots *r, const char *domain, struct lv **out,
		   struct vs_err *err)
{
	struct by_domain b = { .want = domain };
	int pass, rc;

	*out = NULL;
	/* as virsh takes it: an id, else a uuid, else a name */
	for (pass = 0; pass < 3 && !b.found; pass++) {
		b.by_id = pass == 0;
		b.by_uuid = pass == 1;
		if ((pass == 0 && strspn(domain, "0123456789") != strlen(domain)) ||
		    (pass == 1 && (strlen(domain) != 36 || domain[8] != '-')))
			continue;
		b.o = 0;
		b.seen[0] = '\0';
		rc = scan(r, NULL, match_domain, &b, err);
		if (rc < 0)
			return rc;
	}
	if (!b.found)
		return vs_err_set(err, ENOENT, "--domain '%.64s': no running libvirt domain has that "
				  "name, id or uuid (%s%s)", domain, b.seen[0] ? "running: " : "none in ",
				  b.seen[0] ? b.seen : dflt(r->run, "/run/libvirt/qemu"));
	if (b.found->why[0] && !layout_socket(r, b.found, domain)) {
		rc = vs_err_set(err, EINVAL, "--domain '%.64s': %s, and no one monitor socket in "
				"libvirt's layout has its name", domain, b.found->why);
		lv_free(b.found);
		return rc;
	}
	*out = b.found;
	return 0;
}

/* ---- is libvirt running? ---- */

static bool is_daemon(const char *proc, long pid, char *what, size_t size)
{
	char p[PATH_MAX], comm[64] = "";
	FILE *f;

	snprintf(p, sizeof(p), "%s/%ld/comm", proc, pid);
	f = fopen(p, "re");
	if (!f)
		return false;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = '\0';
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	if (strcmp(comm, "libvirtd") != 0 && strcmp(comm, "virtqemud") != 0)
		return false;
	snprintf(what, size, "%s", comm);
	return true;
}

static long pid_in(const char *dir, const char *name)
{
	char p[PATH_MAX], buf[32] = "";
	long long v;
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "re");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return topo_parse_ll("pid", buf, 1, INT_MAX, &v, NULL) == 0 ? (long)v : 0;
}

int lv_daemon(const struct lv_roots *r, char *what, size_t size)
{
	const char *proc = dflt(r->proc, "/proc"), *pidrun = dflt(r->pidrun, "/run");
	long pids[3];
	struct dirent *d;
	DIR *dir;
	int i, found = 0;

	/* the daemons' pid files, and the QEMU driver's own (held while it runs) */
	pids[0] = pid_in(pidrun, "libvirtd.pid");
	pids[1] = pid_in(pidrun, "virtqemud.pid");
	pids[2] = pid_in(dflt(r->run, "/run/libvirt/qemu"), "driver.pid");
	for (i = 0; i < 3; i++)
		if (pids[i] > 0 && is_daemon(proc, pids[i], what, size))
			return (int)pids[i];
	/* one started by hand, with its pid file elsewhere */
	dir = opendir(proc);
	if (!dir)
		return 0;
	while (!found && (d = readdir(dir))) {
		char *end;
		long pid = strtol(d->d_name, &end, 10);

		if (pid > 0 && *end == '\0' && is_daemon(proc, pid, what, size))
			found = (int)pid;
	}
	closedir(dir);
	return found;
}

/* ---- accessors ---- */

int lv_agent_socket(const struct lv *lv, const char *port, char *buf, size_t size)
{
	xmlNodePtr root = lv->doc ? xmlDocGetRootElement(lv->doc) : NULL, ch = NULL;
	xmlNodePtr devs = child(child(root, "domain"), "devices");
	size_t pre = strlen(lv->socket) - strlen(lv->monitor); /* --sysroot's prefix */
	char path[PATH_MAX];

	while ((ch = child_after(devs, ch, "channel")))
		if (attr_is(ch, "type", "unix") && attr_is(child(ch, "target"), "name", port) &&
		    attr(child(ch, "source"), "path", path, sizeof(path)) && path[0] == '/')
			break;
	if (!ch) {
		char dir[PATH_MAX];

		if (!attr(child(root, "channelTargetDir"), "path", dir, sizeof(dir)) || dir[0] != '/' ||
		    strlen(dir) + strlen(port) + 2 > sizeof(path))
			return -ENOENT;
		snprintf(path, sizeof(path), "%.3000s/%.200s", dir, port);
	}
	if (strlen(path) + pre >= size || strstr(path, "/../"))
		return -ENAMETOOLONG;
	snprintf(buf, size, "%.*s%s", (int)pre, lv->socket, path);
	return 0;
}

const char *lv_socket(const struct lv *lv)
{
	return lv->socket;
}

const char *lv_name(const struct lv *lv)
{
	return lv->name;
}

int lv_id(const struct lv *lv)
{
	return lv->id;
}

const char *lv_uuid(const struct lv *lv)
{
	return lv->uuid;
}

const char *lv_path(const struct lv *lv)
{
	return lv->path;
}

const char *lv_text(const struct lv *lv)
{
	return lv->text ? lv->text : "";
}

const char *lv_why(const struct lv *lv)
{
	return lv->why[0] ? lv->why : NULL;
}

void lv_check_pid(struct lv *lv, int qemu_pid)
{
	if (!lv->why[0] && lv->pid != qemu_pid)
		snprintf(lv->why, sizeof(lv->why), "status file %.200s names QEMU pid %d, but this "
			 "monitor's QEMU is %d", lv->path, lv->pid, qemu_pid);
}

/* ---- what libvirt gives a new vCPU ---- */

void lv_machine_name(int id, const char *name, char *buf, size_t size)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	size_t o = (size_t)snprintf(buf, size, "qemu-%d-", id);
	bool sep = false; /* the last character kept was '.' or '-' (none at the start) */

	if (o >= size)
		return;
	sep = true;
	for (; *name && o + 1 < size && o < 64; name++) {
		if (*name == '.' || *name == '-') {
			if (!sep)
				buf[o++] = *name;
			sep = true;
		} else if (strchr(ok, *name)) {
			buf[o++] = *name;
			sep = false;
		}
	}
	while (o > 0 && (buf[o - 1] == '-' || buf[o - 1] == '.'))
		o--;
	buf[o] = '\0';
}

/* Put msg at the end of warn (size bytes), "; " between messages. */
static void warn_add(char *warn, size_t size, const char *msg)
{
	size_t o = warn && size ? strlen(warn) : 0;

	if (warn && o + 3 < size)
		snprintf(warn + o, size - o, "%s%s", o ? "; " : "", msg);
}

#define add_warn(warn, size, ...)                             \
	do {                                                  \
		char add_warn_m[400];                         \
		snprintf(add_warn_m, sizeof(add_warn_m), __VA_ARGS__); \
		warn_add((warn), (size), add_warn_m);         \
	} while (0)

/* A host CPU or node set of libvirt's into mask: false (said in warn) when it is not one. */
static bool host_set(const char *what, const char *v, uint64_t *mask, char *warn, size_t size)
{
	uint64_t m[LV_WORDS];

	if (set_parse(v, m, TOPO_MAX_CPUS) < 0) {
		add_warn(warn, size, "%s '%.64s' is not a set vcpuset can read", what, v);
		return false;
	}
	memcpy(mask, m, HOSTRES_MASK_WORDS * sizeof(*mask));
	return true;
}

/* The CPU mask: <vcpupin>, numad's (placement auto), <vcpu cpuset>. */
static int tune_cpus(const struct lv *lv, int vcpu, struct hostres_tune *t, char *warn, size_t size)
{
	xmlNodePtr root = xmlDocGetRootElement(lv->doc), dom = child(root, "domain");
	xmlNodePtr tune = child(dom, "cputune"), v = child(dom, "vcpu"), pin;
	char set[4096] = "", what[64] = "";

	for (pin = child(tune, "vcpupin"); pin; pin = child_after(tune, pin, "vcpupin")) {
		if (vcpu_attr(pin, "vcpu") == vcpu && attr(pin, "cpuset", set, sizeof(set))) {
			snprintf(what, sizeof(what), "<vcpupin vcpu='%d'>", vcpu);
			break;
		}
	}
	if (!what[0] && attr_is(v, "placement", "auto") && attr(child(root, "numad"), "cpuset", set, sizeof(set)))
		snprintf(what, sizeof(what), "%s", "numad's cpuset");
	if (!what[0] && attr(v, "cpuset", set, sizeof(set)))
		snprintf(what, sizeof(what), "%s", "<vcpu cpuset>");
	if (!what[0] || !host_set(what, set, t->cpus, warn, size))
		return 0;
	t->cpus_src = HR_LIBVIRT;
	if (t->aff_src == HR_UNSET) {
		memcpy(t->aff, t->cpus, sizeof(t->aff));
		t->aff_src = HR_LIBVIRT;
	}
	return 1;
}

/* cpuset.mems: <numatune><memory> strict or restrictive, or the vCPU's cell's restrictive memnode. */
static int tune_mems(const struct lv *lv, int vcpu, struct hostres_tune *t, char *warn, size_t size)
{
	xmlNodePtr root = xmlDocGetRootElement(lv->doc), dom = child(root, "domain");
	xmlNodePtr nt = child(dom, "numatune"), mem = child(nt, "memory"), cell, mn;
	char mode[32] = "strict", set[4096] = "", id[24], want[24];

	if (mem && !attr(mem, "mode", mode, sizeof(mode)))
		snprintf(mode, sizeof(mode), "%s", "strict");
	if (mem && (strcmp(mode, "strict") == 0 || strcmp(mode, "restrictive") == 0) &&
	    !attr(mem, "nodeset", set, sizeof(set)) && attr_is(mem, "placement", "auto"))
		attr(child(root, "numad"), "nodeset", set, sizeof(set));
	if (mem && strcmp(mode, "strict") != 0 && strcmp(mode, "restrictive") != 0)
		set[0] = '\0';
	/* the guest NUMA cell holding the vCPU, and a restrictive memnode of that cell */
	for (cell = child(child(child(dom, "cpu"), "numa"), "cell"); cell;
	     cell = child_after(cell->parent, cell, "cell")) {
		if (!covers(cell, "cpus", vcpu) || !attr(cell, "id", want, sizeof(want)))
			continue;
		for (mn = child(nt, "memnode"); mn; mn = child_after(nt, mn, "memnode"))
			if (attr(mn, "cellid", id, sizeof(id)) && strcmp(id, want) == 0 &&
			    attr_is(mn, "mode", "restrictive"))
				attr(mn, "nodeset", set, sizeof(set));
		break;
	}
	if (!set[0] || !host_set("<numatune> nodeset", set, t->mems, warn, size))
		return 0;
	t->mems_src = HR_LIBVIRT;
	return 1;
}

static int tune_bw(const struct lv *lv, struct hostres_tune *t, char *warn, size_t size)
{
	xmlNodePtr tune = child(child(xmlDocGetRootElement(lv->doc), "domain"), "cputune");
	char p[32] = "", q[32] = "";
	long long period = 0, quota = 0;

	text_of(child(tune, "period"), p, sizeof(p));
	text_of(child(tune, "quota"), q, sizeof(q));
	if ((p[0] && strcmp(p, "0") != 0 && hostres_parse_period(p, &period, NULL) < 0) ||
	    (q[0] && strcmp(q, "0") != 0 && hostres_parse_quota(q, &quota, NULL) < 0)) {
		add_warn(warn, size, "<cputune> period '%.24s' or quota '%.24s' out of range", p, q);
		return 0;
	}
	if (!period && !quota)
		return 0;
	t->period = period;
	t->quota = quota;
	t->bw_src = HR_LIBVIRT;
	return 1;
}

static int tune_sched(const struct lv *lv, int vcpu, struct hostres_tune *t, char *warn, size_t size)
{
	static const struct { const char *name; int policy; } pol[] = {
		{ "batch", SCHED_BATCH }, { "idle", SCHED_IDLE }, { "fifo", SCHED_FIFO }, { "rr", SCHED_RR },
	};
	xmlNodePtr tune = child(child(xmlDocGetRootElement(lv->doc), "domain"), "cputune"), s;
	char name[32];
	long long prio = 0;
	size_t k;

	for (s = child(tune, "vcpusched"); s; s = child_after(tune, s, "vcpusched")) {
		if (!covers(s, "vcpus", vcpu))
			continue;
		attr(s, "scheduler", name, sizeof(name));
		for (k = 0; k < sizeof(pol) / sizeof(pol[0]) && strcmp(pol[k].name, name) != 0; k++)
			;
		if (k == sizeof(pol) / sizeof(pol[0])) /* "none": nothing is done */
			return 0;
		if ((pol[k].policy == SCHED_FIFO || pol[k].policy == SCHED_RR) &&
		    int_attr(s, "priority", 1, 99, &prio) < 0) {
			add_warn(warn, size, "<vcpusched> %s without a priority in 1..99", name);
			return 0;
		}
		t->policy = pol[k].policy;
		t->prio = (int)prio;
		t->sched_src = HR_LIBVIRT;
		return 1;
	}
	return 0;
}

/* The id of a resctrl group element: its id, else libvirt's default "vcpus_<set>". */
static bool group_id(xmlNodePtr g, char *buf, size_t size)
{
	uint64_t m[LV_WORDS];
	char v[4096];
	int n;

	if (attr(g, "id", buf, size))
		return true;
	if (!attr(g, "vcpus", v, sizeof(v)) || set_parse(v, m, LV_BITS) < 0)
		return false;
	n = snprintf(buf, size, "vcpus_");
	return topo_cpulist_format(m, LV_BITS, buf + n, size - (size_t)n) >= 0;
}

static bool same_set(xmlNodePtr a, xmlNodePtr b)
{
	uint64_t ma[LV_WORDS], mb[LV_WORDS];
	char va[4096], vb[4096];

	return attr(a, "vcpus", va, sizeof(va)) && attr(b, "vcpus", vb, sizeof(vb)) &&
	       set_parse(va, ma, LV_BITS) == 0 && set_parse(vb, mb, LV_BITS) == 0 &&
	       memcmp(ma, mb, sizeof(ma)) == 0;
}

/* "<machine>-<id>" into buf, checked as a resctrl group name: false (said) when not one. */
static bool group_name(const struct lv *lv, xmlNodePtr g, char *buf, size_t size, char *warn,
		       size_t wsize)
{
	char machine[80], id[200];

	lv_machine_name(lv->id, lv->name, machine, sizeof(machine));
	if (!group_id(g, id, sizeof(id)) || snprintf(buf, size, "%s-%s", machine, id) >= (int)size ||
	    hostres_valid_group("resctrl", buf, NULL) < 0) {
		add_warn(warn, wsize, "resctrl group '%.64s' of <%s> is not one vcpuset can name",
			 buf, (const char *)g->name);
		return false;
	}
	return true;
}

/* The first <cachetune>/<memorytune> covering the vCPU, and its first other monitor covering it. */
static int tune_resctrl(const struct lv *lv, int vcpu, struct hostres_tune *t, char *warn, size_t size)
{
	xmlNodePtr tune = child(child(xmlDocGetRootElement(lv->doc), "domain"), "cputune"), g, m;
	char alloc[HOSTRES_NAME_MAX] = "", mon[HOSTRES_NAME_MAX] = "";
	bool has_alloc;

	for (g = child(tune, NULL); g; g = child_after(tune, g, NULL))
		if ((is_el(g, "cachetune") || is_el(g, "memorytune")) && covers(g, "vcpus", vcpu))
			break;
	if (!g)
		return 0;
	has_alloc = child(g, is_el(g, "cachetune") ? "cache" : "node") != NULL;
	if (has_alloc && !group_name(lv, g, alloc, sizeof(alloc), warn, size))
		return 0;
	for (m = child(g, "monitor"); m; m = child_after(g, m, "monitor")) {
		if ((has_alloc && same_set(m, g)) || !covers(m, "vcpus", vcpu))
			continue;
		if (!group_name(lv, m, mon, sizeof(mon), warn, size))
			return 0;
		break;
	}
	if (!alloc[0] && !mon[0])
		return 0;
	memcpy(t->cachetune, alloc, sizeof(t->cachetune));
	memcpy(t->monitor, mon, sizeof(t->monitor));
	t->rc_src = HR_LIBVIRT;
	return 1;
}

int lv_tune(const struct lv *lv, int vcpu, struct hostres_tune *t, char *warn, size_t size)
{
	int n = 0;

	if (warn && size)
		warn[0] = '\0';
	if (!lv->doc || lv->why[0])
		return 0;
	if (t->cpus_src == HR_UNSET)
		n += tune_cpus(lv, vcpu, t, warn, size);
	if (t->mems_src == HR_UNSET)
		n += tune_mems(lv, vcpu, t, warn, size);
	if (t->bw_src == HR_UNSET)
		n += tune_bw(lv, t, warn, size);
	if (t->sched_src == HR_UNSET)
		n += tune_sched(lv, vcpu, t, warn, size);
	if (t->rc_src == HR_UNSET)
		n += tune_resctrl(lv, vcpu, t, warn, size);
	return n;
}

/* ---- writing it back ---- */

/* The whitespace before n on its line (its indentation), or depth * 2 spaces. */
static void indent_of(xmlNodePtr n, char *buf, size_t size)
{
	xmlNodePtr p;
	const char *nl;
	int depth = 0;

	if (n->prev && n->prev->type == XML_TEXT_NODE && n->prev->content &&
	    (nl = strrchr((const char *)n->prev->content, '\n')) && strspn(nl + 1, " \t") == strlen(nl + 1)) {
		snprintf(buf, size, "%s", nl + 1);
		return;
	}
	for (p = n->parent; p && p->type == XML_ELEMENT_NODE; p = p->parent)
		depth++;
	snprintf(buf, size, "%*s", depth * 2, "");
}

static xmlNodePtr ws(xmlDocPtr d, const char *ind)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "\n%s", ind);
	return xmlNewDocText(d, BAD_CAST buf);
}

/* Empty element parent. */
static void clear(xmlNodePtr parent)
{
	xmlNodePtr n;

	while ((n = parent->children)) {
		xmlUnlinkNode(n);
		xmlFreeNode(n);
	}
}

/*
 * el after ref, on its own line with ref's indentation. Elements go in first: libxml2 merges
 * a text node put beside another text node, and would put el after both.
 */
static void put_after(xmlNodePtr ref, xmlNodePtr el)
{
	char ind[128];

	indent_of(ref, ind, sizeof(ind));
	xmlAddNextSibling(ref, el);
	xmlAddPrevSibling(el, ws(ref->doc, ind));
}

/* el before ref, on its own line with ref's indentation. */
static void put_before(xmlNodePtr ref, xmlNodePtr el)
{
	char ind[128];

	indent_of(ref, ind, sizeof(ind));
	xmlAddPrevSibling(ref, el);
	xmlAddPrevSibling(ref, ws(ref->doc, ind));
}

/* el as the last element child of parent, indented one step further. */
static void put_last(xmlNodePtr parent, xmlNodePtr el)
{
	xmlNodePtr last = NULL, n;
	char ind[128], deeper[140];

	for (n = parent->children; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE)
			last = n;
	if (last) {
		put_after(last, el);
		return;
	}
	indent_of(parent, ind, sizeof(ind));
	snprintf(deeper, sizeof(deeper), "%s  ", ind);
	clear(parent); /* whitespace only: made again */
	xmlAddChild(parent, ws(parent->doc, deeper));
	xmlAddChild(parent, el);
	xmlAddChild(parent, ws(parent->doc, ind));
}

/* Remove element n with the whitespace that put it on its line. */
static void drop(xmlNodePtr n)
{
	xmlNodePtr p = n->prev;

	if (p && p->type == XML_TEXT_NODE && xmlIsBlankNode(p)) {
		xmlUnlinkNode(p);
		xmlFreeNode(p);
	}
	xmlUnlinkNode(n);
	xmlFreeNode(n);
}

static xmlNodePtr new_el(xmlDocPtr d, const char *name)
{
	return xmlNewDocNode(d, NULL, BAD_CAST name, NULL);
}

static void set_int(xmlNodePtr n, const char *name, long long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", v);
	xmlSetProp(n, BAD_CAST name, BAD_CAST buf);
}

/*
 * <domain><vcpus>: one <vcpu id enabled hotpluggable order/> per slot, after <vcpu>; made
 * only once a vCPU is hot-plugged (a domain never changed keeps none, as with libvirt).
 */
static void render_vcpus(xmlNodePtr dom, xmlNodePtr vcpu, const struct lv_change *ch)
{
	xmlNodePtr list = child(dom, "vcpus"), el;
	char ind[128], deeper[140];
	bool hot = false;
	int i;

	for (i = 0; i < ch->n; i++)
		hot = hot || (ch->v[i].online && ch->v[i].hotpluggable);
	if (!list && !hot) /* as libvirt: it writes them once it has hot-plugged a vCPU */
		return;
	if (!list) {
		list = new_el(dom->doc, "vcpus");
		put_after(vcpu, list);
	}
	indent_of(list, ind, sizeof(ind));
	snprintf(deeper, sizeof(deeper), "%s  ", ind);
	clear(list);
	for (i = 0; i < ch->n; i++) {
		const struct lv_vcpu *v = &ch->v[i];

		el = new_el(dom->doc, "vcpu");
		set_int(el, "id", i);
		xmlSetProp(el, BAD_CAST "enabled", BAD_CAST(v->online ? "yes" : "no"));
		xmlSetProp(el, BAD_CAST "hotpluggable",
			   BAD_CAST(!v->online || v->hotpluggable ? "yes" : "no"));
		if (v->online && v->order > 0)
			set_int(el, "order", v->order);
		xmlAddChild(list, ws(dom->doc, deeper));
		xmlAddChild(list, el);
	}
	xmlAddChild(list, ws(dom->doc, ind));
}

/* <domstatus><vcpus>: <vcpu id pid/> of each online vCPU with a thread; none: no element. */
static void render_threads(xmlNodePtr root, const struct lv_change *ch)
{
	xmlNodePtr list = child(root, "vcpus"), el, ref;
	char ind[128], deeper[140];
	int i, n = 0;

	for (i = 0; ch->tids_valid && i < ch->n; i++)
		n += ch->v[i].online && ch->v[i].tid > 0;
	if (!n) {
		if (list)
			drop(list);
		return;
	}
	if (!list) {
		list = new_el(root->doc, "vcpus");
		if ((ref = child(root, "qemuCaps")))
			put_before(ref, list);
		else if ((ref = child(root, "namespaces")) || (ref = child(root, "monitor")))
			put_after(ref, list);
		else
			put_last(root, list);
	}
	indent_of(list, ind, sizeof(ind));
	snprintf(deeper, sizeof(deeper), "%s  ", ind);
	clear(list);
	for (i = 0; i < ch->n; i++) {
		if (!ch->v[i].online || ch->v[i].tid <= 0)
			continue;
		el = new_el(root->doc, "vcpu");
		set_int(el, "id", i);
		set_int(el, "pid", ch->v[i].tid);
		xmlAddChild(list, ws(root->doc, deeper));
		xmlAddChild(list, el);
	}
	xmlAddChild(list, ws(root->doc, ind));
}

/* Take vCPU i out of every <vcpusched>, the emptied ones removed. */
static void unsched(xmlNodePtr tune, int i)
{
	xmlNodePtr s, next;
	uint64_t m[LV_WORDS];
	char v[4096];

	for (s = child(tune, "vcpusched"); s; s = next) {
		next = child_after(tune, s, "vcpusched");
		if (!attr(s, "vcpus", v, sizeof(v)) || set_parse(v, m, LV_BITS) < 0 || !set_has(m, i))
			continue;
		m[i / 64] &= ~(1ULL << (i % 64));
		if (topo_cpulist_format(m, LV_BITS, v, sizeof(v)) <= 0)
			drop(s);
		else
			xmlSetProp(s, BAD_CAST "vcpus", BAD_CAST v);
	}
}

static void unpin(xmlNodePtr tune, int i)
{
	xmlNodePtr p, next;

	for (p = child(tune, "vcpupin"); p; p = next) {
		next = child_after(tune, p, "vcpupin");
		if (vcpu_attr(p, "vcpu") == i)
			drop(p);
	}
}

/* el into <cputune> before the first child that libvirt writes after it, else last. */
static void put_in_tune(xmlNodePtr tune, xmlNodePtr el, const char *key, int i,
			const char *const *later)
{
	xmlNodePtr n;
	int k;

	for (n = child(tune, NULL); n; n = child_after(tune, n, NULL)) {
		if (is_el(n, (const char *)el->name) && vcpu_attr(n, key) > i)
			break;
		for (k = 0; later[k] && !is_el(n, later[k]); k++)
			;
		if (later[k])
			break;
	}
	if (n)
		put_before(n, el);
	else
		put_last(tune, el);
}

static void pin(xmlNodePtr tune, int i, const char *cpus)
{
	static const char *const later[] = { "emulatorpin", "iothreadpin", "emulatorsched",
					      "vcpusched", "iothreadsched", "cachetune",
					      "memorytune", NULL };
	xmlNodePtr el = new_el(tune->doc, "vcpupin");

	set_int(el, "vcpu", i);
	xmlSetProp(el, BAD_CAST "cpuset", BAD_CAST cpus);
	put_in_tune(tune, el, "vcpu", i, later);
}

static void sched(xmlNodePtr tune, int i, int policy, int prio)
{
	static const char *const later[] = { "iothreadsched", "cachetune", "memorytune", NULL };
	const char *name = policy == SCHED_BATCH ? "batch" : policy == SCHED_IDLE ? "idle"
			   : policy == SCHED_FIFO ? "fifo" : policy == SCHED_RR ? "rr" : NULL;
	xmlNodePtr el;

	if (!name) /* SCHED_OTHER: libvirt's "none", no element */
		return;
	el = new_el(tune->doc, "vcpusched");
	set_int(el, "vcpus", i);
	xmlSetProp(el, BAD_CAST "scheduler", BAD_CAST name);
	if (policy == SCHED_FIFO || policy == SCHED_RR)
		set_int(el, "priority", prio);
	put_in_tune(tune, el, "vcpus", i, later);
}

/* The <cputune> entries: the command line's pins and policies, vcpuset's dropped ones. */
static void render_tune(xmlNodePtr dom, const struct lv_change *ch)
{
	static const char *const before[] = { "defaultiothread", "iothreadids", "iothreads",
					      "vcpus", "vcpu", NULL };
	xmlNodePtr tune = child(dom, "cputune"), ref = NULL;
	int i, k;

	for (i = 0; i < ch->n; i++) {
		bool p = ch->pin && ch->pin[i] && ch->pin[i][0], s = ch->sched && ch->sched[i] >= 0;
		bool d = ch->drop && ch->drop[i];

		if (!p && !s && !d)
			continue;
		if (!tune && (p || s)) {
			for (k = 0; before[k] && !(ref = child(dom, before[k])); k++)
				;
			tune = new_el(dom->doc, "cputune");
			put_after(ref, tune);
		}
		if (!tune)
			continue;
		if (p || d)
			unpin(tune, i);
		if (s || d)
			unsched(tune, i);
		if (p)
			pin(tune, i, ch->pin[i]);
		if (s)
			sched(tune, i, ch->sched[i], ch->prio ? ch->prio[i] : 0);
	}
	if (tune && !child(tune, NULL))
		drop(tune);
}

/* doc as written: libxml2's serialisation, no declaration (libvirt writes none). */
static char *dump(xmlDocPtr doc)
{
	xmlBufferPtr b = xmlBufferCreate();
	xmlSaveCtxtPtr s;
	char *out = NULL;

	if (!b)
		return NULL;
	s = xmlSaveToBuffer(b, "UTF-8", XML_SAVE_NO_DECL);
	if (s) {
		xmlSaveDoc(s, doc);
		xmlSaveClose(s);
		out = strdup((const char *)xmlBufferContent(b));
	}
	xmlBufferFree(b);
	return out;
}

int lv_render(struct lv *lv, const struct lv_change *ch, char **out, bool *same,
	      struct vs_err *err)
{
	xmlNodePtr root, dom, vcpu;
	char max[32];
	long long m;
	xmlDocPtr d;
	int i, online = 0;

	*out = NULL;
	*same = false;
	if (!lv->doc || lv->why[0])
		return vs_err_set(err, EINVAL, "%s", lv->why[0] ? lv->why : "no status file");
	if (!lv->dumped && !(lv->dumped = dump(lv->doc)))
		return vs_err_set(err, ENOMEM, "out of memory");
	d = xmlCopyDoc(lv->doc, 1);
	if (!d)
		return vs_err_set(err, ENOMEM, "out of memory");
	root = xmlDocGetRootElement(d);
	dom = child(root, "domain");
	vcpu = child(dom, "vcpu");
	if (!text_of(vcpu, max, sizeof(max)) || topo_parse_ll("max", max, 1, LV_BITS, &m, NULL) < 0 ||
	    m != ch->n) {
		xmlFreeDoc(d);
		return vs_err_set(err, EINVAL, "status file %s says %s vCPUs at most, QEMU %d: not "
				  "written", lv->path, max[0] ? max : "no number of", ch->n);
	}
	for (i = 0; i < ch->n; i++)
		online += ch->v[i].online;
	if (online < ch->n)
		set_int(vcpu, "current", online);
	else
		xmlUnsetProp(vcpu, BAD_CAST "current");
	render_vcpus(dom, vcpu, ch);
	render_tune(dom, ch);
	render_threads(root, ch);
	*out = dump(d);
	xmlFreeDoc(d);
	if (!*out)
		return vs_err_set(err, ENOMEM, "out of memory");
	*same = strcmp(*out, lv->dumped) == 0;
	return 0;
}

/* ---- the change as a diff ---- */

struct line {
	const char *s;
	size_t len;
	uint32_t hash;
};

/* text cut into lines (the pointers into text); their number, or -ENOMEM. */
static int lines_of(const char *text, struct line **out)
{
	size_t n = 1, i = 0;
	const char *p, *e, *q;
	struct line *v;

	for (p = text; (p = strchr(p, '\n')); p++)
		n++;
	v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (p = text; *p && i < n; i++) {
		uint32_t h = 2166136261u;

		e = strchr(p, '\n');
		e = e ? e : p + strlen(p);
		for (q = p; q < e; q++)
			h = (h ^ (unsigned char)*q) * 16777619u;
		v[i].s = p;
		v[i].len = (size_t)(e - p);
		v[i].hash = h;
		p = *e ? e + 1 : e;
	}
	*out = v;
	return (int)i;
}

static bool same_line(const struct line *a, const struct line *b)
{
	return a->hash == b->hash && a->len == b->len && (!a->len || memcmp(a->s, b->s, a->len) == 0);
}

/* Myers' greedy walk: ' ', '-', '+' per line of the edit script into *ops; its length. */
static int myers(const struct line *a, int n, const struct line *b, int m, char **ops)
{
	int *tr = NULL, *nt, d, k, x, y, len = 0, found = -1;
	char *o;

	for (d = 0; d <= LV_DIFF_MAX_D && found < 0; d++) {
		int *cur, *prev;

		nt = realloc(tr, (size_t)(d + 1) * (size_t)(d + 1) * sizeof(*tr));
		if (!nt)
			break;
		tr = nt;
		cur = tr + (size_t)d * (size_t)d;
		prev = d ? tr + (size_t)(d - 1) * (size_t)(d - 1) : NULL;
		for (k = -d; k <= d; k += 2) {
			if (d == 0)
				x = 0;
			else if (k == -d || (k != d && prev[k - 1 + d - 1] < prev[k + 1 + d - 1]))
				x = prev[k + 1 + d - 1];
			else
				x = prev[k - 1 + d - 1] + 1;
			for (y = x - k; x < n && y < m && same_line(&a[x], &b[y]); x++, y++)
				;
			cur[k + d] = x;
			if (x >= n && y >= m) {
				found = d;
				break;
			}
		}
	}
	o = found >= 0 ? malloc((size_t)n + (size_t)m + 1) : NULL;
	if (!o) {
		free(tr);
		return -1;
	}
	/* back from (n, m): the ops come out last first */
	for (x = n, y = m, d = found; d > 0; d--) {
		int *prev = tr + (size_t)(d - 1) * (size_t)(d - 1), pk, px, mx;
		bool down;

		k = x - y;
		down = k == -d || (k != d && prev[k - 1 + d - 1] < prev[k + 1 + d - 1]);
		pk = down ? k + 1 : k - 1;
		px = prev[pk + d - 1];
		mx = down ? px : px + 1;
		for (; x > mx; x--, y--)
			o[len++] = ' ';
		o[len++] = down ? '+' : '-';
		x = px;
		y = px - pk;
	}
	for (; x > 0; x--)
		o[len++] = ' ';
	for (k = 0; k < len / 2; k++) {
		char t = o[k];

		o[k] = o[len - 1 - k];
		o[len - 1 - k] = t;
	}
	free(tr);
	*ops = o;
	return len;
}

/* The hunks of the edit script ops (3 lines of context), in unified diff form. */
static void hunks(FILE *w, const struct line *a, const struct line *b, const char *ops, int nops)
{
	int i = 0, ai = 0, bi = 0;

	while (i < nops) {
		int j, end, a0, b0, an = 0, bn = 0, x, ax, bx;

		for (j = i; j < nops && ops[j] == ' '; j++)
			;
		if (j == nops)
			break;
		/* the hunk: from 3 before the change to 3 after the last change closer than 7 */
		end = j;
		while (end < nops) {
			int run = 0;

			if (ops[end] != ' ') {
				end++;
				continue;
			}
			while (end + run < nops && ops[end + run] == ' ')
				run++;
			if (end + run == nops || run > 6) {
				end += run < 3 ? run : 3;
				break;
			}
			end += run;
		}
		x = j - 3 > i ? j - 3 : i;
		for (; i < x; i++, ai++, bi++)
			;
		a0 = ai;
		b0 = bi;
		for (j = x; j < end; j++) {
			an += ops[j] != '+';
			bn += ops[j] != '-';
		}
		fprintf(w, "@@ -%d,%d +%d,%d @@\n", an ? a0 + 1 : a0, an, bn ? b0 + 1 : b0, bn);
		for (ax = ai, bx = bi, j = x; j < end; j++) {
			const struct line *l = ops[j] == '+' ? &b[bx] : &a[ax];

			fprintf(w, "%c%.*s\n", ops[j], (int)l->len, l->s);
			ax += ops[j] != '+';
			bx += ops[j] != '-';
		}
		ai = ax;
		bi = bx;
		i = end;
	}
}

char *lv_diff(const struct lv *lv, const char *after)
{
	struct line *a = NULL, *b = NULL;
	char *ops = NULL, *out = NULL;
	size_t len = 0;
	int n, m, nops, i;
	FILE *w;

	n = lines_of(lv->dumped ? lv->dumped : lv_text(lv), &a);
	m = n < 0 ? -1 : lines_of(after, &b);
	w = n < 0 || m < 0 ? NULL : open_memstream(&out, &len);
	if (!w) {
		free(a);
		free(b);
		return NULL;
	}
	fprintf(w, "--- %s\n+++ %s (after vcpuset)\n", lv->path, lv->path);
	nops = myers(a, n, b, m, &ops);
	if (nops >= 0) {
		hunks(w, a, b, ops, nops);
	} else { /* too many changes to look for the smallest: the whole file, once */
		fprintf(w, "@@ -1,%d +1,%d @@\n", n, m);
		for (i = 0; i < n; i++)
			fprintf(w, "-%.*s\n", (int)a[i].len, a[i].s);
		for (i = 0; i < m; i++)
			fprintf(w, "+%.*s\n", (int)b[i].len, b[i].s);
	}
	free(ops);
	free(a);
	free(b);
	if (fclose(w) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* ---- the write ---- */

static int write_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t n = write(fd, s, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -(n < 0 ? errno : EIO);
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The file is still the one read (libvirt or another run did not write it meanwhile)? */
static bool unchanged(int dirfd, const struct lv *lv)
{
	struct stat st;

	return fstatat(dirfd, lv->file, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_ino == lv->st.st_ino &&
	       st.st_dev == lv->st.st_dev && st.st_size == lv->st.st_size &&
	       st.st_mtim.tv_sec == lv->st.st_mtim.tv_sec && st.st_mtim.tv_nsec == lv->st.st_mtim.tv_nsec;
}

int lv_write(struct lv *lv, const struct lv_roots *r, const char *text, struct vs_err *err)
{
	char tmp[300], what[32];
	int dfd, fd, rc = 0, pid;

	if (lv->why[0])
		return vs_err_set(err, EINVAL, "%s", lv->why);
	pid = lv_daemon(r, what, sizeof(what));
	if (pid > 0)
		return vs_err_set(err, EBUSY, "%s (pid %d) is running: %s left to it", what, pid,
				  lv->path);
	dfd = open(lv->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return vs_err_set(err, errno, "%s: %s", lv->dir, strerror(errno));
	if (!unchanged(dfd, lv)) {
		close(dfd);
		return vs_err_set(err, EAGAIN, "%s changed since vcpuset read it: not written",
				  lv->path);
	}
	snprintf(tmp, sizeof(tmp), ".%s.vcpuset-%d", lv->file, (int)getpid());
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = vs_err_set(err, errno, "cannot create %s/%s: %s", lv->dir, tmp, strerror(errno));
		close(dfd);
		return rc;
	}
	/* the old file's owner and mode (root's, 0600 from libvirt) */
	if ((fchown(fd, lv->st.st_uid, lv->st.st_gid) < 0 && errno != EPERM) ||
	    fchmod(fd, lv->st.st_mode & 07777) < 0)
		rc = -errno;
	if (rc == 0)
		rc = write_all(fd, text, strlen(text));
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && renameat(dfd, tmp, dfd, lv->file) < 0)
		rc = -errno;
	if (rc < 0) {
		unlinkat(dfd, tmp, 0);
		close(dfd);
		return vs_err_set(err, rc, "cannot write %s: %s", lv->path, strerror(-rc));
	}
	if (fsync(dfd) < 0)
		rc = vs_err_set(err, errno, "%s written, but its directory not synced: %s", lv->path,
				strerror(errno));
	close(dfd);
	return rc;
}

int lv_persistent_count(const struct lv *lv, const struct lv_roots *r, char *path, size_t size)
{
	const char *etc = dflt(r->etc, "/etc/libvirt/qemu");
	char name[300], why[300], v[32];
	struct stat st;
	xmlNodePtr vcpu;
	long long n = 0;
	char *text = NULL;
	xmlDocPtr doc;
	int dfd, rc;

	snprintf(name, sizeof(name), "%s.xml", lv->name);
	snprintf(path, size, "%s/%s", etc, name);
	if (strchr(lv->name, '/'))
		return -EINVAL;
	dfd = open(etc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : -errno;
	rc = read_trusted(dfd, name, &text, &st, why, sizeof(why));
	close(dfd);
	if (rc < 0)
		return rc == -ENOENT ? 0 : rc;
	doc = parse(text, (size_t)rc, path, why, sizeof(why));
	free(text);
	if (!doc)
		return -EINVAL;
	vcpu = child(xmlDocGetRootElement(doc), "vcpu");
	rc = -EINVAL;
	if ((attr(vcpu, "current", v, sizeof(v)) || text_of(vcpu, v, sizeof(v))) &&
	    topo_parse_ll("vcpu", v, 1, LV_BITS, &n, NULL) == 0)
		rc = (int)n;
	xmlFreeDoc(doc);
	return rc;
}
