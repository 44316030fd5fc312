# invited: the two commands of the README, and the pieces they are made of.
#   make run    install dependencies, build, start the service on ./data with a demo organization
#   make test   install dependencies, build, run every test (unit, API, SMTP, browser)

JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan

.PHONY: all deps build build-asan run test unit-test api-test bench-smoke format clean

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

$(ASAN_BUILD)/build.ninja:
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DINVITED_SANITIZE=ON -DINVITED_TESTS=OFF

# The black-box tests run against this build, so memory and undefined-behaviour errors fail them.
build-asan: deps $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS) --target invited

run: build
	@scripts/run-demo

test: build build-asan
	@scripts/test

format:
	clang-format -i $$(git ls-files 'src/*.cpp' 'src/*.hpp' 'tests/*.cpp' 'tests/*.hpp' 'bench/*.cpp')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
