/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The audit record text, table-driven, and the name taken from a libvirt socket path. */
#include <criterion/criterion.h>

#include "audit.h"

struct fmt_case {
	const char *virt, *name, *uuid;
	int old_count, new_count;
	const char *want;
};

Test(audit, record_text_in_libvirts_layout)
{
	static const struct fmt_case cases[] = {
		/* plug 5 -> 6, KVM, a plain name */
		{ "kvm", "QEMUGuest1", "c7a5fdbd-edaf-9455-926a-d65c16db1809", 5, 6,
		  "virt=kvm resrc=vcpu reason=update vm=\"QEMUGuest1\" "
		  "uuid=c7a5fdbd-edaf-9455-926a-d65c16db1809 old-vcpu=5 new-vcpu=6" },
		/* unplug 8 -> 7, TCG */
		{ "qemu", "ol8", "c7a5fdbd-edaf-9455-926a-d65c16db1809", 8, 7,
		  "virt=qemu resrc=vcpu reason=update vm=\"ol8\" "
		  "uuid=c7a5fdbd-edaf-9455-926a-d65c16db1809 old-vcpu=8 new-vcpu=7" },
		/* a ppc64 core: eight at once */
		{ "kvm", "p9", "00000000-0000-0000-0000-000000000000", 8, 16,
		  "virt=kvm resrc=vcpu reason=update vm=\"p9\" "
		  "uuid=00000000-0000-0000-0000-000000000000 old-vcpu=8 new-vcpu=16" },
		/* a name with a space is hex-encoded */
		{ "kvm", "my vm", "00000000-0000-0000-0000-000000000000", 1, 2,
		  "virt=kvm resrc=vcpu reason=update vm=6D7920766D "
		  "uuid=00000000-0000-0000-0000-000000000000 old-vcpu=1 new-vcpu=2" },
		/* quotes too */
		{ "qemu", "a\"b", "00000000-0000-0000-0000-000000000000", 3, 2,
		  "virt=qemu resrc=vcpu reason=update vm=612262 "
		  "uuid=00000000-0000-0000-0000-000000000000 old-vcpu=3 new-vcpu=2" },
		/* and control characters */
		{ "qemu", "x\ny", "00000000-0000-0000-0000-000000000000", 3, 2,
		  "virt=qemu resrc=vcpu reason=update vm=780A79 "
		  "uuid=00000000-0000-0000-0000-000000000000 old-vcpu=3 new-vcpu=2" },
	};
	char buf[512];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vaudit_vm vm = { cases[i].virt, cases[i].name, cases[i].uuid };
		int n = vaudit_format(&vm, cases[i].old_count, cases[i].new_count, buf, sizeof(buf));

		cr_assert_eq(n, (int)strlen(cases[i].want), "case %zu: %s", i, buf);
		cr_assert_str_eq(buf, cases[i].want, "case %zu", i);
	}
	{
		struct vaudit_vm vm = { "kvm", "QEMUGuest1", "c7a5fdbd-edaf-9455-926a-d65c16db1809" };

		cr_assert_eq(vaudit_format(&vm, 1, 2, buf, 20), -ENOSPC);
	}
}
