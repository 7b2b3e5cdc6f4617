/* SPDX-License-Identifier: GPL-2.0-or-later */
/* audit: one VIRT_RESOURCE record per vCPU step, in libvirt's layout, through libaudit. */
#include <libaudit.h>
#include <stdlib.h>
#include <unistd.h>

#include "audit.h"

struct vs_audit {
	int fd; /* -1: send nothing */
};

int vaudit_format(const struct vaudit_vm *vm, int old_count, int new_count, char *buf, size_t size)
{
	char *vmfield;
	int n;

	vmfield = audit_encode_nv_string("vm", vm->name ? vm->name : "?", 0);
	if (!vmfield)
		return -ENOMEM;
	n = snprintf(buf, size, "virt=%s resrc=vcpu reason=update %s uuid=%s old-vcpu=%d new-vcpu=%d",
		     vm->virt, vmfield, vm->uuid, old_count, new_count);
	free(vmfield);
	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	return n;
}

int vaudit_start(enum vaudit_mode mode, struct vs_audit **out, const char **warning,
		struct vs_err *err)
{
	struct vs_audit *a = calloc(1, sizeof(*a));
	int e;

	*out = NULL;
	*warning = NULL;
	if (!a)
		return vs_err_set(err, ENOMEM, "out of memory");
	a->fd = -1;
	*out = a;
	if (mode == VAUDIT_OFF)
		return 0;
	a->fd = audit_open();
	e = errno;
	if (a->fd >= 0 && !audit_can_write()) {
		close(a->fd);
		a->fd = -1;
		e = EPERM;
	}
	if (a->fd >= 0)
		return 0;
	if (mode == VAUDIT_REQUIRED)
		return vs_err_set(err, e, "--audit=required: no audit subsystem to write to (%s)",
				  e == EPERM ? "CAP_AUDIT_WRITE is missing" : strerror(e));
	*warning = e == EPERM ? "no audit records: CAP_AUDIT_WRITE is missing"
			      : "no audit records: the kernel has no audit support";
	return 0;
}

void vaudit_stop(struct vs_audit *a)
{
	if (!a)
		return;
	if (a->fd >= 0)
		audit_close(a->fd);
	free(a);
}

bool vaudit_enabled(const struct vs_audit *a)
{
	return a && a->fd >= 0;
}

int vaudit_vcpu(struct vs_audit *a, const struct vaudit_vm *vm, int old_count, int new_count,
	       bool success, struct vs_err *err)
{
	char msg[1024];
	int rc;

	if (!vaudit_enabled(a))
		return 0;
	rc = vaudit_format(vm, old_count, new_count, msg, sizeof(msg));
	if (rc < 0)
		return vs_err_set(err, rc, "audit record too long");
	/*
	 * 0 is libaudit's "the kernel refused in a way that means audit is off for you" (another
	 * pid namespace, a container): not a failure, as libvirt reads it too.
	 */
	errno = 0;
	if (audit_log_user_message(a->fd, AUDIT_VIRT_RESOURCE, msg, NULL, NULL, NULL,
				   success ? 1 : 0) < 0)
		return vs_err_set(err, errno ? errno : EIO, "cannot send the audit record '%s': %s",
				  msg, strerror(errno ? errno : EIO));
	return 0;
}
