# invited: the two commands of the README, and the pieces they are made of.
#   make run      install what building and running need, build, start the service on ./data
#                 with a demo organization
#   make test     install that and every test tool, build, run every test (unit, fuzz smoke,
#                 package, API, SMTP, browser)
#   make package  build the Debian package (build/package/invited_VERSION_ARCH.deb)
#   make fuzz     run every libFuzzer target for FUZZ_SECONDS each (default 900)

JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 900

.PHONY: all deps build build-asan build-fuzz fuzz package run test unit-test api-test bench-smoke format clean

# What scripts/install-deps installs: the test tools too when a test or fuzz goal is asked for
# (one run of it, so one apt-get update at most).
ifneq ($(filter test fuzz build-fuzz build-asan,$(MAKECMDGOALS)),)
DEPS_FLAGS = --test
endif

all: build

deps:
	@scripts/install-deps $(DEPS_FLAGS)

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release

# A build/ configured before GoogleTest was installed (by `make run`) is configured again, so
# that it builds the unit tests now.
build: deps $(BUILD)/build.ninja
	@if grep -q '^INVITED_UNIT_TESTS_BUILT:INTERNAL=OFF' $(BUILD)/CMakeCache.txt && \
	  [ -f /usr/include/gtest/gtest.h ]; then cmake -S . -B $(BUILD) >/dev/null; fi
	cmake --build $(BUILD) -j $(JOBS)

$(ASAN_BUILD)/build.ninja:
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DINVITED_SANITIZE=ON -DINVITED_TESTS=OFF

# The black-box tests run against this build, so memory and undefined-behaviour errors fail them.
build-asan: deps $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS) --target invited

$(FUZZ_BUILD)/build.ninja:
	cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_COMPILER=clang++-14 -DINVITED_FUZZ=ON -DINVITED_TESTS=OFF

# The libFuzzer targets of tests/fuzz and only the libraries they link (clang, ASan+UBSan).
build-fuzz: deps $(FUZZ_BUILD)/build.ninja
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_targets

fuzz: build-fuzz
	scripts/fuzz --seconds $(FUZZ_SECONDS)

run: build
	@scripts/run-demo

package: build
	cmake --build $(BUILD) --target package

test: build build-asan build-fuzz
	@scripts/test

format:
	clang-format -i $$(git ls-files 'src/*.cpp' 'src/*.hpp' 'tests/*.cpp' 'tests/*.hpp' 'bench/*.cpp' 'bench/*.hpp')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
