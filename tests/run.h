/* SPDX-License-Identifier: GPL-2.0-or-later */
/* run: exec the built vcpuset binary and capture what it says (tests only). */
#ifndef VCPUSET_TESTS_RUN_H
#define VCPUSET_TESTS_RUN_H

#include <cjson/cJSON.h>

struct run_result {
	int exit;
	char *out; /* stdout */
	char *err; /* stderr */
	cJSON *json; /* stdout parsed, when it is JSON */
};

/* Run ./vcpuset with the NULL-terminated args; fails the test if it cannot. */
void run_vcpuset(struct run_result *r, const char *const *args);
void run_free(struct run_result *r);

/* Member k of JSON object o; fails the test when it is missing. */
cJSON *run_item(const cJSON *o, const char *k);

#endif
