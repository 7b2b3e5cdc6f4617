/* SPDX-License-Identifier: GPL-2.0-or-later */
/* audit: one VIRT_RESOURCE record per vCPU step, in libvirt's layout, through libaudit. */
#ifndef VCPUSET_AUDIT_H
#define VCPUSET_AUDIT_H

#include <stdbool.h>
#include <stddef.h>

#include "vcpuset.h"

/* The VM as audit records name it. */
struct vaudit_vm {
	const char *virt; /* "kvm" or "qemu" */
	const char *name;
	const char *uuid; /* canonical 36-character form */
};

enum vaudit_mode { VAUDIT_AUTO, VAUDIT_REQUIRED, VAUDIT_OFF };

/*
 * The record's text, without what libaudit appends (exe, hostname, addr, terminal, res):
 * "virt=kvm resrc=vcpu reason=update vm="name" uuid=... old-vcpu=5 new-vcpu=6". A name with
 * spaces, quotes or control characters is hex-encoded as libaudit encodes untrusted values.
 * Returns the length, or -ENOSPC / -ENOMEM.
 */
int vaudit_format(const struct vaudit_vm *vm, int old_count, int new_count, char *buf, size_t size);

struct vs_audit;

/*
 * AUTO: no audit subsystem (no kernel support, no permission) gives a handle that sends
 * nothing and *warning set to why; REQUIRED: that is an error; OFF: a handle that sends
 * nothing. The handle is the caller's: vaudit_stop().
 */
int vaudit_start(enum vaudit_mode mode, struct vs_audit **out, const char **warning,
		struct vs_err *err);
void vaudit_stop(struct vs_audit *a);
bool vaudit_enabled(const struct vs_audit *a);

/* Send one record; 0, or -errno with err set (a failure to send is the caller's warning). */
int vaudit_vcpu(struct vs_audit *a, const struct vaudit_vm *vm, int old_count, int new_count,
	       bool success, struct vs_err *err);

#endif
