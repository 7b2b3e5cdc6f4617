# SPDX-License-Identifier: GPL-2.0-or-later
# vcpuset — see README.md. `make check` installs what the tests need (as root) and runs them.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
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

DEP_CFLAGS = $(shell $(PKG_CONFIG) --cflags libcjson audit libxml-2.0 2>/dev/null || \
	echo -I/usr/include/libxml2)
DEP_LIBS = $(shell $(PKG_CONFIG) --libs libcjson audit libxml-2.0 2>/dev/null || \
	echo -lcjson -laudit -lxml2) -lm
TEST_LIBS = $(shell $(PKG_CONFIG) --libs criterion 2>/dev/null || echo -lcriterion)

OBJS = qmp.o topo.o hostres.o state.o audit.o vm.o libvirt.o ga.o
TESTS = tests/test_qmp tests/test_topo tests/test_hostres tests/test_audit tests/test_cli \
	tests/test_security tests/test_state tests/test_vm \
	tests/test_faults tests/test_lvstatus tests/test_select tests/test_guest
E2E = tests/test_e2e
LIBVIRT = tests/test_libvirt

all: vcpuset

%.o: %.c
	$(CC) $(VS_CFLAGS) $(CFLAGS) $(CPPFLAGS) $(DEP_CFLAGS) -c -o $@ $<

# `vcpuset --version` names the commit of a build from a git checkout ("" otherwise); main.o
# is built again when it changes (.commit holds the last one)
COMMIT := $(shell git -C "$(CURDIR)" describe --always --dirty --abbrev=12 2>/dev/null)
main.o: VS_CFLAGS += -DVCPUSET_COMMIT='"$(COMMIT)"'
main.o: .commit
.commit: FORCE
	@echo '$(COMMIT)' | cmp -s - $@ 2>/dev/null || echo '$(COMMIT)' >$@
.PHONY: FORCE
FORCE:

vcpuset: main.o $(OBJS)
	$(CC) $(VS_LDFLAGS) $(LDFLAGS) -o $@ $^ $(DEP_LIBS)

tests/%.o: tests/%.c
	$(CC) $(VS_CFLAGS) $(CFLAGS) $(CPPFLAGS) $(DEP_CFLAGS) -I. -c -o $@ $<

# Criterion re-executes the test binary for each worker and passes parameters by address:
# the test binaries must not be position independent, or ASLR moves the strings.
tests/test_%: tests/test_%.o tests/peer.o tests/ga_peer.o tests/run.o $(OBJS)
	$(CC) $(filter-out -pie,$(VS_LDFLAGS)) -no-pie $(LDFLAGS) -o $@ $^ $(DEP_LIBS) $(TEST_LIBS) -lpthread

# A stand-in for libaudit's send, LD_PRELOAD'ed by test_cli (tests/audit_shim.c says why).
tests/audit_shim.so: tests/audit_shim.c
	$(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -shared -fPIC -o $@ $<

# A stand-in for the kernel's core scheduling, LD_PRELOAD'ed by test_select (tests/core_shim.c).
tests/core_shim.so: tests/core_shim.c
	$(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -shared -fPIC -o $@ $<

deps:
	sh tests/install-deps.sh

guest: deps
	sh tests/guest/build.sh

# cJSON_ArrayForEach is a macro cppcheck cannot see through without its definition.
lint-c:
	cppcheck --error-exitcode=1 --enable=warning,portability,performance --std=c11 --quiet \
		--inline-suppr -I . -I /usr/include/cjson \
		-D'cJSON_ArrayForEach(e,a)=for(e=(a)?(a)->child:NULL;e;e=e->next)' \
		main.c qmp.c topo.c hostres.c state.c audit.c vm.c libvirt.c ga.c

# clang-tidy with .clang-tidy (its comments give the reason for each check left out).
lint-tidy:
	clang-tidy --quiet main.c qmp.c topo.c hostres.c state.c audit.c vm.c libvirt.c ga.c -- -std=c11 -D_GNU_SOURCE \
		$(DEP_CFLAGS)

lint-man:
	@if command -v mandoc >/dev/null; then mandoc -Tlint -Wwarning man/vcpuset.1; \
	else groff -mandoc -ww -z man/vcpuset.1; fi

# The tests: unit (scripted QMP peer, fixtures), CLI, then end-to-end on a real QEMU guest.
check: deps
	$(MAKE) all $(TESTS) $(E2E) $(LIBVIRT) tests/audit_shim.so tests/core_shim.so
	$(MAKE) lint-man lint-c lint-tidy fuzz-regress
	sh tests/guest/build.sh
	@set -e; for t in $(TESTS); do echo "== $$t"; ./$$t --jobs 2; done
	@echo "== bash completion"; bash tests/completion/run.sh
	@echo "== make install / uninstall"; sh tests/install/run.sh
	sh tests/as-nobody.sh tests/test_cli tests/test_faults tests/test_vm tests/test_lvstatus tests/test_guest \
		tests/test_select
	@echo "== $(E2E) (real QEMU guest)"; sh tests/guest/run.sh ./$(E2E) --jobs 1
	@echo "== the Ansible module (ansible-core, a real QEMU guest)"; \
		sh tests/guest/run.sh sh tests/ansible/run.sh
	@echo "== $(LIBVIRT) (a libvirt domain, libvirtd stopped and started by the test)"; \
	VCPUSET_LV_TWINS=1 sh tests/libvirt/run.sh ./$(LIBVIRT) --jobs 1 || { rc=$$?; [ $$rc -eq 77 ] && \
		echo "== $(LIBVIRT) SKIPPED: libvirt is not installed"; [ $$rc -eq 77 ]; }

# Every supported build flavour builds warning-free: gcc and clang, at -O0 and -O2 (the
# warnings differ with the optimizer). Builds in place: ends with `make clean`.
FLAVOURS = "CC=gcc CFLAGS=-O0" "CC=gcc CFLAGS=-O2" "CC=clang CFLAGS=-O0" "CC=clang CFLAGS=-O2"
flavours: deps
	@set -e; for f in $(FLAVOURS); do echo "== build $$f"; $(MAKE) -s clean; \
		$(MAKE) -s $$f WERROR=1 all $(TESTS) $(E2E) $(LIBVIRT) tests/audit_shim.so tests/core_shim.so; done
	$(MAKE) -s clean

# The whole suite again with ASan+UBSan (a leak or UB in vcpuset changes its exit code), then
# the end-to-end scenario with vcpuset under valgrind. Builds in place: `make clean` after.
check-asan: deps
	$(MAKE) clean
	$(MAKE) SANITIZE=address,undefined all $(TESTS) $(E2E) tests/audit_shim.so tests/core_shim.so
	@set -e; export ASAN_OPTIONS=detect_leaks=1:exitcode=98 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1; \
	for t in $(TESTS); do echo "== asan $$t"; ./$$t --jobs 2; done; \
	echo "== asan $(E2E)"; sh tests/guest/run.sh ./$(E2E) --jobs 1
	$(MAKE) clean

check-valgrind: deps all $(E2E)
	@echo "== valgrind $(E2E)"; VCPUSET_BIN=tests/valgrind-vcpuset.sh sh tests/guest/run.sh ./$(E2E) --jobs 1

# libFuzzer harnesses (tests/fuzz), built with clang and ASan+UBSan from the sources. `make
# fuzz` runs each for FUZZ_SECONDS on a seed corpus made from tests/fixtures plus the corpus
# it grew before (tests/fuzz/out); a crash stops make and leaves its input in tests/fuzz/out.
# Inputs that once crashed live in tests/fuzz/regress/NAME and run in `make check`.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZERS = qmp topo cpulist hostres libvirt ga
FUZZ_BINS = $(FUZZERS:%=tests/fuzz/out/fuzz_%)
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I.

tests/fuzz/out/fuzz_%: tests/fuzz/fuzz_%.c qmp.c topo.c hostres.c state.c libvirt.c ga.c qmp.h \
		topo.h hostres.h state.h libvirt.h ga.h vcpuset.h
	@mkdir -p tests/fuzz/out
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(DEP_CFLAGS) -o $@ $< qmp.c topo.c hostres.c state.c libvirt.c \
		ga.c $(DEP_LIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: deps fuzz-build
	rm -rf tests/fuzz/out/seeds
	sh tests/fuzz/seeds.sh tests/fuzz/out/seeds
	@set -e; for f in $(FUZZERS); do \
		mkdir -p tests/fuzz/out/corpus/$$f tests/fuzz/regress/$$f; \
		echo "== fuzz $$f ($(FUZZ_SECONDS) s)"; \
		ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		./tests/fuzz/out/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) -max_len=131072 \
			-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
			-artifact_prefix=tests/fuzz/out/crash-$$f- \
			tests/fuzz/out/corpus/$$f tests/fuzz/out/seeds/$$f tests/fuzz/regress/$$f \
			2>tests/fuzz/out/$$f.log || { tail -n 60 tests/fuzz/out/$$f.log; exit 1; }; \
		grep -E '^stat::(number_of_executed_units|peak_rss_mb|new_units_added)' tests/fuzz/out/$$f.log; \
	done

# Every input that ever crashed a harness, run once each: in `make check`.
fuzz-regress: fuzz-build
	@set -e; for f in $(FUZZERS); do \
		set -- tests/fuzz/regress/$$f/*; [ -e "$$1" ] || continue; \
		echo "== fuzz regressions $$f ($$# inputs)"; \
		./tests/fuzz/out/fuzz_$$f "$$@" 2>tests/fuzz/out/$$f-regress.log || \
			{ tail -n 60 tests/fuzz/out/$$f-regress.log; exit 1; }; \
	done

# Benchmarks (not part of check): bench/overhead is vcpuset against a zero-latency scripted
# peer with 8, 288 and 4096 slots (time per step, peak RSS).
bench/overhead: bench/overhead.c bench/bench.c bench/bench.h tests/peer.c tests/peer.h vcpuset.h \
		state.c state.h
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -I. -Itests $(DEP_CFLAGS) -o $@ bench/overhead.c bench/bench.c \
		tests/peer.c state.c $(DEP_LIBS) -lpthread

# bench/compare is vcpuset against virsh setvcpus --live, a bare-QMP floor client (in-process)
# and floor-cli (the same as a fresh process) on one libvirt domain (tests/libvirt/run.sh boots it).
bench/compare: bench/compare.c bench/bench.c bench/bench.h qmp.c qmp.h vcpuset.h
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -I. $(DEP_CFLAGS) -o $@ bench/compare.c bench/bench.c qmp.c \
		$(DEP_LIBS)

# bench/scale is vcpuset against real QEMU at 64, 1024 and 4096 slots, and a raw client.
bench/scale: bench/scale.c bench/bench.c bench/bench.h qmp.c qmp.h vcpuset.h
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -I. $(DEP_CFLAGS) -o $@ bench/scale.c bench/bench.c qmp.c \
		$(DEP_LIBS)

bench: deps all bench/overhead bench/compare bench/scale
	sh tests/guest/build.sh
	./bench/overhead 21
	@echo
	./bench/scale 7
	@echo
	sh tests/libvirt/run.sh ./bench/compare 5

demo: deps all
	sh tests/guest/build.sh
	sh tests/guest/demo.sh ./vcpuset

# PREFIX (default /usr/local) and DESTDIR (a staging root, as packages use) are honoured;
# tests/install/run.sh checks that uninstall removes exactly what install put there
# The Debian package (debian/): built from a copy of the tree, lintian, installed, run and
# removed again (as root); the .deb stays in deb/. CI runs it.
deb:
	sh tests/deb/run.sh

install: vcpuset
	install -D -m 0755 vcpuset $(DESTDIR)$(BINDIR)/vcpuset
	install -D -m 0644 man/vcpuset.1 $(DESTDIR)$(MANDIR)/man1/vcpuset.1
	install -D -m 0644 vcpuset.bash $(DESTDIR)$(COMPLETIONDIR)/vcpuset

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/vcpuset $(DESTDIR)$(MANDIR)/man1/vcpuset.1 \
		$(DESTDIR)$(COMPLETIONDIR)/vcpuset

clean:
	rm -f vcpuset .commit *.o *.d tests/*.o tests/*.d tests/audit_shim.so tests/core_shim.so $(TESTS) $(E2E) $(LIBVIRT) $(FUZZ_BINS) bench/overhead bench/compare bench/scale

.PHONY: all check check-asan flavours check-valgrind lint-c deps guest lint-man demo install uninstall clean deb \
	fuzz fuzz-build fuzz-regress lint-tidy bench
.SECONDARY:

-include $(wildcard *.d tests/*.d)
