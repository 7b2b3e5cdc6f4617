# SPDX-License-Identifier: GPL-2.0-or-later
# vcpuset — see README.md. `make check` installs what the tests need (as root) and runs them.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=
PKG_CONFIG ?= pkg-config
CC ?= cc
CFLAGS ?= -O2 -g
SANITIZE ?=

VS_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wformat=2 -Wshadow \
	-Wstrict-prototypes -Wmissing-prototypes -Wimplicit-fallthrough \
	-fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE -MMD -MP
VS_LDFLAGS := -pie -Wl,-z,relro,-z,now
ifneq ($(SANITIZE),)
VS_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -U_FORTIFY_SOURCE
VS_LDFLAGS += -fsanitize=$(SANITIZE)
endif
ifneq ($(WERROR),)
VS_CFLAGS += -Werror
endif

DEP_CFLAGS = $(shell $(PKG_CONFIG) --cflags libcjson audit 2>/dev/null)
DEP_LIBS = $(shell $(PKG_CONFIG) --libs libcjson audit 2>/dev/null || echo -lcjson -laudit)
TEST_LIBS = $(shell $(PKG_CONFIG) --libs criterion 2>/dev/null || echo -lcriterion)

OBJS = qmp.o topo.o hostres.o audit.o
TESTS = tests/test_qmp tests/test_topo tests/test_hostres tests/test_audit tests/test_cli
E2E = tests/test_e2e

all: vcpuset

%.o: %.c
	$(CC) $(VS_CFLAGS) $(CFLAGS) $(CPPFLAGS) $(DEP_CFLAGS) -c -o $@ $<

vcpuset: main.o $(OBJS)
	$(CC) $(VS_LDFLAGS) $(LDFLAGS) -o $@ $^ $(DEP_LIBS)

tests/%.o: tests/%.c
	$(CC) $(VS_CFLAGS) $(CFLAGS) $(CPPFLAGS) $(DEP_CFLAGS) -I. -c -o $@ $<

# Criterion re-executes the test binary for each worker and passes parameters by address:
# the test binaries must not be position independent, or ASLR moves the strings.
tests/test_%: tests/test_%.o tests/peer.o tests/run.o $(OBJS)
	$(CC) $(filter-out -pie,$(VS_LDFLAGS)) -no-pie $(LDFLAGS) -o $@ $^ $(DEP_LIBS) $(TEST_LIBS) -lpthread

deps:
	sh tests/install-deps.sh

guest: deps
	sh tests/guest/build.sh

# cJSON_ArrayForEach is a macro cppcheck cannot see through without its definition.
lint-c:
	cppcheck --error-exitcode=1 --enable=warning,portability,performance --std=c11 --quiet \
		--inline-suppr -I . -I /usr/include/cjson \
		-D'cJSON_ArrayForEach(e,a)=for(e=(a)?(a)->child:NULL;e;e=e->next)' \
		main.c qmp.c topo.c hostres.c audit.c

lint-man:
	@if command -v mandoc >/dev/null; then mandoc -Tlint -Wwarning man/vcpuset.1; \
	else groff -mandoc -ww -z man/vcpuset.1; fi

# The tests: unit (scripted QMP peer, fixtures), CLI, then end-to-end on a real QEMU guest.
check: deps
	$(MAKE) all $(TESTS) $(E2E)
	$(MAKE) lint-man lint-c
	sh tests/guest/build.sh
	@set -e; for t in $(TESTS); do echo "== $$t"; ./$$t --jobs 2; done
	@echo "== $(E2E) (real QEMU guest)"; sh tests/guest/run.sh ./$(E2E) --jobs 1

# The whole suite again with ASan+UBSan (a leak or UB in vcpuset changes its exit code), then
# the end-to-end scenario with vcpuset under valgrind. Builds in place: `make clean` after.
check-asan: deps
	$(MAKE) clean
	$(MAKE) SANITIZE=address,undefined all $(TESTS) $(E2E)
	@set -e; export ASAN_OPTIONS=detect_leaks=1:exitcode=98 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1; \
	for t in $(TESTS); do echo "== asan $$t"; ./$$t --jobs 2; done; \
	echo "== asan $(E2E)"; sh tests/guest/run.sh ./$(E2E) --jobs 1
	$(MAKE) clean

check-valgrind: deps all $(E2E)
	@echo "== valgrind $(E2E)"; VCPUSET_BIN=tests/valgrind-vcpuset.sh sh tests/guest/run.sh ./$(E2E) --jobs 1

demo: deps all
	sh tests/guest/build.sh
	sh tests/guest/demo.sh ./vcpuset

install: vcpuset
	install -D -m 0755 vcpuset $(DESTDIR)$(BINDIR)/vcpuset
	install -D -m 0644 man/vcpuset.1 $(DESTDIR)$(MANDIR)/man1/vcpuset.1

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/vcpuset $(DESTDIR)$(MANDIR)/man1/vcpuset.1

clean:
	rm -f vcpuset *.o *.d tests/*.o tests/*.d $(TESTS) $(E2E)

.PHONY: all check check-asan check-valgrind lint-c deps guest lint-man demo install uninstall clean
.SECONDARY:

-include $(wildcard *.d tests/*.d)
