# edo — the two commands: `make demo` and `make test`. Everything else is optional.
#
#   make demo        build (release) and run the demo
#   make test        build (release) and run every test under ctest
#   make test-asan   the tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   make test-tsan   the tests under ThreadSanitizer
#   make test-valgrind  coroutine, switch and task tests under valgrind memcheck
#   make test-gdb    gdb unwinds a coroutine's stack (installs gdb via apt if missing)
#   make test-aarch64  cross-built for AArch64, run under qemu-user (installs both via apt if missing)
#   make test-alloc-fail  the allocation-failure runs: tests/alloc/ with edo's 1st, 2nd, ...
#                    allocation failing, under ASan (.ci/alloc-fail.sh; docs/reliability.md)
#   make bench       edo vs Tokio side by side (installs Rust/Tokio from Debian via apt if missing);
#                    bench=copy too (bench/net/copy.sh)
#   make bench-net   edo's TCP echo/HTTP servers vs Tokio, Go and raw epoll (bench/net/run.sh)
#   make bench-copy  a copy_bidirectional proxy, edo's against Tokio's (bench/net/copy.sh)
#   make bench-redis examples/mini_redis vs redis-server with redis-benchmark (bench/redis.sh)
#   make soak        tests/soak.sh: echo_server and mini_redis under load and faults, 10 minutes
#                    (SOAK_SECONDS=N, SOAK_ASAN=1, SOAK_PUBLISH=1: docs/soak.md; not in CI)
#   make models      the spin models of the run queue and the task state word, and their
#                    broken variants (.ci/models.sh; installs spin via apt if missing)
#   make fuzz        every libFuzzer target (decoders, addresses, scheduler API), 20 s each
#                    (.ci/fuzz.sh; FUZZ_SECONDS=N each for longer, FUZZ_TARGETS="addr sched")
#   make install     install headers, libraries, CMake package and pkg-config (PREFIX=/usr/local;
#                    README.md, Installing)
#   make format      clang-format the sources

JOBS ?= $(shell nproc 2>/dev/null || echo 2)
PREFIX ?= /usr/local
CTEST_FLAGS ?= --output-on-failure -j$(JOBS)
CMAKE ?= cmake

.PHONY: all build demo test test-asan test-tsan test-valgrind test-gdb test-aarch64 test-alloc-fail bench bench-net bench-copy bench-redis soak models fuzz install format clean

all: build

build:
	$(CMAKE) -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=$(PREFIX)
	$(CMAKE) --build build/release -j$(JOBS)

demo: build
	./build/release/examples/echo_demo --seconds 3

test: build
	cd build/release && ctest $(CTEST_FLAGS)

test-asan:
	$(CMAKE) -S . -B build/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEDO_SANITIZE=address -DEDO_BUILD_BENCH=OFF
	$(CMAKE) --build build/asan -j$(JOBS)
	cd build/asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest $(CTEST_FLAGS)

test-tsan:
	$(CMAKE) -S . -B build/tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEDO_SANITIZE=thread -DEDO_BUILD_BENCH=OFF
	$(CMAKE) --build build/tsan -j$(JOBS)
	cd build/tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 ctest $(CTEST_FLAGS)

test-aarch64:
	JOBS=$(JOBS) .ci/aarch64.sh

test-valgrind:
	.ci/valgrind.sh

test-gdb:
	.ci/gdb.sh

test-alloc-fail:
	JOBS=$(JOBS) .ci/alloc-fail.sh

bench:
	bench/run.sh
	bench/net/copy.sh

bench-net:
	bench/net/run.sh

bench-copy:
	bench/net/copy.sh

bench-redis:
	bench/redis.sh

soak:
	JOBS=$(JOBS) tests/soak.sh

models:
	.ci/models.sh

fuzz:
	.ci/fuzz.sh

install: build
	$(CMAKE) --install build/release

format:
	clang-format -i include/*.h include/edo/*.h src/*/*.c src/*/*.h tests/*.c tests/*.h \
		tests/*/test-*.c examples/*.c bench/*.c

clean:
	rm -rf build
