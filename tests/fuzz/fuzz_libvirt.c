/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer harness: libvirt's status file as libvirt.c reads it — parsed, the settings of
 * a new vCPU read for every index, the vCPU part written back for a table of 8 vCPUs (2
 * online, 2 plugged with a pin and a policy, one dropped), and the change as a diff.
 */
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "libvirt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lv_vcpu v[8] = { { true, false, 1, 100 }, { true, false, 2, 101 },
				{ true, true, 3, 102 }, { true, true, 4, 0 } };
	const char *pin[8] = { NULL, NULL, "1", "0-1,3" };
	int sched[8] = { -1, -1, SCHED_FIFO, SCHED_OTHER, -1, -1, -1, -1 }, prio[8] = { 0, 0, 5 };
	bool drop[8] = { false, false, false, false, false, true };
	struct lv_change ch = { 8, v, pin, sched, prio, drop, true };
	struct hostres_tune t;
	struct vs_err err = { 0 };
	char warn[512], *out = NULL, *diff;
	struct lv *lv = lv_from_text((const char *)data, size);
	bool same;
	int i;

	if (!lv)
		return 0;
	for (i = 0; i < 10; i++) {
		memset(&t, 0, sizeof(t));
		lv_tune(lv, i, &t, warn, sizeof(warn));
	}
	if (lv_render(lv, &ch, &out, &same, &err) == 0) {
		diff = lv_diff(lv, out);
		free(diff);
	}
	free(out);
	lv_free(lv);
	return 0;
}
