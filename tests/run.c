/* SPDX-License-Identifier: GPL-2.0-or-later */
/* run: exec the built vcpuset binary and capture what it says (tests only). */
#include <criterion/criterion.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run.h"

static void drain(int fd, char **buf, size_t *len)
{
	char tmp[4096];
	ssize_t n = read(fd, tmp, sizeof(tmp));

	if (n <= 0)
		return;
	*buf = realloc(*buf, *len + (size_t)n + 1);
	memcpy(*buf + *len, tmp, (size_t)n);
	*len += (size_t)n;
	(*buf)[*len] = '\0';
}

void run_vcpuset(struct run_result *r, const char *const *args)
{
	const char *bin = getenv("VCPUSET_BIN") ? getenv("VCPUSET_BIN") : "./vcpuset";
	const char *argv[64];
	int po[2], pe[2], st, i, open_fds = 2, fds[2];
	size_t lo = 0, le = 0;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	argv[0] = bin;
	for (i = 0; args[i] && i < 62; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	if (pipe(po) < 0 || pipe(pe) < 0)
		abort();
	pid = fork();
	if (pid == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]);
		close(pe[0]);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	r->out = calloc(1, 1);
	r->err = calloc(1, 1);
	fds[0] = po[0];
	fds[1] = pe[0];
	while (open_fds) {
		struct pollfd p[2] = { { fds[0], POLLIN, 0 }, { fds[1], POLLIN, 0 } };

		poll(p, 2, -1);
		open_fds = 0;
		for (i = 0; i < 2; i++) {
			if (p[i].revents & POLLIN)
				drain(p[i].fd, i ? &r->err : &r->out, i ? &le : &lo);
			else if (p[i].revents & (POLLHUP | POLLERR))
				fds[i] = -1; /* poll ignores it from now on */
			if (fds[i] >= 0)
				open_fds++;
		}
	}
	close(po[0]);
	close(pe[0]);
	waitpid(pid, &st, 0);
	r->exit = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	r->json = cJSON_Parse(r->out);
}

void run_free(struct run_result *r)
{
	free(r->out);
	free(r->err);
	cJSON_Delete(r->json);
	memset(r, 0, sizeof(*r));
}

cJSON *run_item(const cJSON *o, const char *k)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	cr_assert_not_null(v, "JSON has no '%s'", k);
	return v;
}
