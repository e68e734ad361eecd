# The commands a user and CI run. Each installs missing Debian packages first, then builds.
BUILD_DIR ?= build
ASAN_DIR ?= build-asan
JOBS ?= 2
CMAKE_FLAGS ?=

.PHONY: all deps build test test-unit test-asan run cluster clean format

all: build

deps:
	@./scripts/install-deps

$(BUILD_DIR)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j$(JOBS)

# Unit tests and the simulation, then the core's tests again under ASan/UBSan.
test: test-unit test-asan

test-unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS)

test-asan: deps
	cmake -S . -B $(ASAN_DIR) -DCMAKE_BUILD_TYPE=Debug -DNOMAD_SANITIZE=ON -DNOMAD_SIM_SEEDS=150
	cmake --build $(ASAN_DIR) -j$(JOBS) --target raft-tests raft-sim
	cd $(ASAN_DIR) && ctest --output-on-failure -j$(JOBS)

run: build
	@echo "nomad-lite: the server is not built yet (see the open issues); 'make test' runs the" \
	      "consensus core's tests and simulation." >&2
	@exit 1

cluster: run

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR)

format:
	clang-format -i $$(git ls-files '*.h' '*.cc')
