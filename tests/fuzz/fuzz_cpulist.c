/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer harness: the text parsers — cpulists (round trip: what parses, formats and parses
 * back to the same mask), bounded numbers, seconds, COUNT, period/quota/--sched values, and the
 * name validators. Byte 0 picks the mask width; the rest is the text.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "hostres.h"
#include "topo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define WORDS (TOPO_MAX_CPUS / 64)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t widths[] = { 1, 2, 63, 64, 65, 128, 4096, TOPO_MAX_CPUS };
	uint64_t a[WORDS], b[WORDS];
	char *s, out[TOPO_MAX_CPUS * 6];
	struct topo_count c;
	struct vs_err err;
	long long ll;
	double d;
	size_t nbits;
	int policy, prio, n;

	if (size < 1 || size > 65536)
		return 0;
	nbits = widths[data[0] % (sizeof(widths) / sizeof(*widths))];
	s = malloc(size);
	if (!s)
		abort();
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';

	memset(a, 0xa5, sizeof(a));
	if (topo_cpulist_parse(s, a, nbits, &err) == 0) {
		n = topo_cpulist_format(a, nbits, out, sizeof(out));
		if (n < 0 || (size_t)n >= sizeof(out))
			abort();
		if (topo_cpulist_parse(out, b, nbits, &err) != 0 ||
		    memcmp(a, b, (nbits + 63) / 64 * sizeof(*a)) != 0) {
			fprintf(stderr, "cpulist '%s' formats as '%s', which does not parse back\n", s, out);
			abort();
		}
	} else if (!err.msg[0]) {
		abort();
	}
	topo_parse_ll("n", s, -5, 1000000, &ll, &err);
	topo_parse_ll("n", s, 0, INT64_MAX, &ll, &err);
	if (topo_parse_seconds("t", s, 0, 3600, &d, &err) == 0 && !(d >= 0 && d <= 3600))
		abort();
	if (topo_parse_count(s, &c, &err) == 0 && !(c.sign == 0 || c.sign == '+' || c.sign == '-'))
		abort();
	if (hostres_parse_period(s, &ll, &err) == 0 &&
	    (ll < HOSTRES_PERIOD_MIN || ll > HOSTRES_PERIOD_MAX))
		abort();
	if (hostres_parse_quota(s, &ll, &err) == 0 && ll >= 0 &&
	    (ll < HOSTRES_QUOTA_MIN || ll > HOSTRES_QUOTA_MAX))
		abort();
	hostres_parse_sched(s, &policy, &prio, &err);
	hostres_valid_group("g", s, &err);
	topo_valid_name("alias", s, &err);
	topo_valid_qom_path(s, &err);
	free(s);
	return 0;
}
