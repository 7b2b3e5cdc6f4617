/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer harness: what a guest agent says. Byte 0 picks: 0 guest-get-vcpus's return value
 * (JSON), 1 an ACPI name as sysfs prints it, 2 base64, 3 the agent's whole side of a look at
 * the guest's CPUs (replies, ACPI names through guest-file-*), over a socketpair.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ga.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void stream(const uint8_t *data, size_t size)
{
	static const int online[] = { 0, 1, 2, 3 };
	struct ga_view v = { 0 };
	struct vs_err err;
	struct ga *g = NULL;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	/* the replies wait in the socket; what the client sends stays unread in sv[0] */
	if (size > 150000 || write(sv[0], data, size) != (ssize_t)size)
		size = 0;
	shutdown(sv[0], SHUT_WR);
	if (size && ga_adopt_fd(sv[1], &g, &err) == 0) {
		if (ga_view(g, online, 4, 50, &v, &err) == 0 && v.n > 0 && !ga_cpu_of(&v, v.cpu[0].vcpu)
		    && v.cpu[0].vcpu >= 0)
			abort(); /* a matched CPU is found by its vCPU */
		ga_view_clear(&v);
		ga_free(g);
	} else {
		close(sv[1]);
	}
	close(sv[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char out[64];
	struct ga_cpu *c = NULL;
	struct vs_err err;
	char *s;
	size_t len;
	int n, k, idx;
	cJSON *j;

	if (size < 1 || size > 200000)
		return 0;
	if (data[0] % 4 == 3) {
		stream(data + 1, size - 1);
		return 0;
	}
	s = malloc(size);
	if (!s)
		abort();
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 4) {
	case 0:
		j = cJSON_Parse(s);
		if (j && ga_parse_vcpus(j, &c, &n, &err) == 0)
			for (k = 1; k < n; k++)
				if (c[k].id <= c[k - 1].id || c[k].id >= GA_MAX_CPUS)
					abort(); /* sorted, unique, bounded */
		free(c);
		cJSON_Delete(j);
		break;
	case 1:
		if (ga_parse_acpi_path(s, strlen(s), &idx, &err) == 0 && (idx < 0 || idx > 0xfff))
			abort();
		break;
	case 2:
		if (ga_base64(s, out, sizeof(out), &len) == 0 && len > sizeof(out))
			abort();
		break;
	}
	free(s);
	return 0;
}
