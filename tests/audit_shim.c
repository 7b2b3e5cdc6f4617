/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * audit_shim: LD_PRELOAD'ed into vcpuset by test_cli, it stands in for libaudit's send for
 * what the machine cannot do on demand: a kernel that answers 0 ("audit is off for you", as
 * in a container) or a send that fails in the middle of a run. Every record vcpuset asks for
 * is appended to $VCPUSET_SHIM_LOG as "RESULT MESSAGE". $VCPUSET_SHIM_AUDIT:
 *   zero       every send returns 0
 *   fail:N     the first N sends succeed, the others fail with ECONNREFUSED
 *   (unset)    every send succeeds
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int audit_log_user_message(int fd, int type, const char *message, const char *hostname,
			   const char *addr, const char *tty, int result);

int audit_log_user_message(int fd, int type, const char *message, const char *hostname,
			   const char *addr, const char *tty, int result)
{
	static int sent;
	const char *mode = getenv("VCPUSET_SHIM_AUDIT"), *log = getenv("VCPUSET_SHIM_LOG");
	FILE *f;

	(void)fd;
	(void)type;
	(void)hostname;
	(void)addr;
	(void)tty;
	if (log && (f = fopen(log, "a"))) {
		fprintf(f, "%d %s\n", result, message);
		fclose(f);
	}
	sent++;
	if (mode && strcmp(mode, "zero") == 0) {
		errno = ECONNREFUSED; /* libaudit leaves errno set when it hides a refusal */
		return 0;
	}
	if (mode && strncmp(mode, "fail:", 5) == 0 && sent > atoi(mode + 5)) {
		errno = ECONNREFUSED;
		return -1;
	}
	return sent;
}
