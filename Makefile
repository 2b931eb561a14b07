# divan's front door. `make test` is what CI runs.
BUILD        ?= build
SAN_BUILD    ?= build-san
FUZZ_SECONDS ?= 10
FUZZ_LONG    ?= 600
JOBS         ?= $(shell nproc)

.PHONY: all build deps demo test unit pyunit pysuites interop browser sanitize fuzz fuzz-smoke valgrind format clean bench

all: build

deps:
	scripts/install-deps

# The Python extension is built for the project's .venv interpreter (scripts/install-python).
PYTHON_HINT = $(if $(wildcard .venv/bin/python),-DPython3_EXECUTABLE=$(CURDIR)/.venv/bin/python)

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja $(PYTHON_HINT)

build: $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# divan-server on localhost and the asyncio example against it: only the Debian packages of the
# build (scripts/install-deps --build), not the test tools or the official SDKs.
demo:
	scripts/install-deps --build
	$(MAKE) build
	scripts/demo

# Unit tests of the pure-Python modules of divan's SDK (no server, no extension), and mypy --strict
# over the packages' annotations (the extension's types are python/couchbase/_core.pyi).
pyunit:
	PYTHONPATH=python .venv/bin/python -m pytest -q -p no:cacheprovider tests/python/unit
	.venv/bin/python -m mypy --strict --no-incremental python/couchbase python/acouchbase python/txcouchbase python/divan

# The behavioural suites against divan-servers they start, on divan's SDK, then on the official one
# (scripts/run-pysuite): asyncio (standard loop and uvloop), then the three front ends (Twisted on
# the default reactor; divan's also on the asyncio reactor), the range scans (blocking and asyncio),
# and once more over TLS; then the extension's own tests; then that docs/python-names.md (the
# official SDK's public names in divan's) is current.
pysuites: build
	BUILD=$(BUILD) scripts/run-pysuite both tests/python/asyncio
	BUILD=$(BUILD) scripts/run-pysuite both tests/python/frontends
	BUILD=$(BUILD) scripts/run-pysuite both tests/python/query
	BUILD=$(BUILD) scripts/run-pysuite both tests/python/management
	BUILD=$(BUILD) scripts/run-pysuite both tests/python/scan
	DIVAN_REACTOR=asyncio BUILD=$(BUILD) scripts/run-pysuite divan tests/python/frontends -k twisted
	DIVAN_TLS=1 BUILD=$(BUILD) scripts/run-pysuite both tests/python/frontends
	DIVAN_TLS=1 BUILD=$(BUILD) scripts/run-pysuite both tests/python/query
	BUILD=$(BUILD) scripts/run-pysuite divan tests/python/core
	BUILD=$(BUILD) scripts/run-pysuite both tests/python/persist
	BUILD=$(BUILD) scripts/public-names --check

# The official Node.js, Python, Go and Java SDKs against divan-server (scripts/install-interop installs them).
interop: build
	scripts/run-interop

# The web console in Debian's headless Chromium (scripts/run-browser; screenshots in build/browser).
browser: build
	BUILD=$(BUILD) scripts/run-browser

# Clang with AddressSanitizer + UndefinedBehaviorSanitizer; the fuzz targets are built here too.
$(SAN_BUILD)/build.ninja:
	CC=clang cmake -S . -B $(SAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DDV_SANITIZE=ON -DDV_FUZZ=ON $(PYTHON_HINT)

# The C tests, then divan's Python suites on the sanitized extension (the runtime preloaded into
# the interpreter, CPython's own allocations not leak-checked) against the normal build's server
# (the sanitized one links its own runtime, which the preloaded one would clash with).
PY_SAN = ASAN_OPTIONS=detect_leaks=0 LD_PRELOAD=$$(clang -print-file-name=libclang_rt.asan-x86_64.so) \
	BUILD=$(SAN_BUILD) DIVAN_SERVER=$(CURDIR)/$(BUILD)/bin/divan-server
sanitize: build $(SAN_BUILD)/build.ninja
	cmake --build $(SAN_BUILD) -j $(JOBS)
	cd $(SAN_BUILD) && ctest --output-on-failure -j $(JOBS)
	$(PY_SAN) scripts/run-pysuite divan tests/python/frontends
	$(PY_SAN) scripts/run-pysuite divan tests/python/asyncio
	$(PY_SAN) scripts/run-pysuite divan tests/python/core

fuzz-smoke: $(SAN_BUILD)/build.ninja
	cmake --build $(SAN_BUILD) -j $(JOBS)
	scripts/run-fuzz $(SAN_BUILD) $(FUZZ_SECONDS)

fuzz: $(SAN_BUILD)/build.ninja
	cmake --build $(SAN_BUILD) -j $(JOBS)
	scripts/run-fuzz $(SAN_BUILD) $(FUZZ_LONG)

valgrind: build
	for t in $(BUILD)/tests/c/test_*; do \
	    echo "valgrind $$t"; \
	    valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite $$t >/dev/null || exit 1; \
	done

# Every comparison in one run (bench/run.py): bench/results/latest.md and its plots. A quick run
# (3 short repetitions) by default; BENCH=full for long runs. No pass or fail on speed.
BENCH ?= quick
bench: deps build
	scripts/install-bench
	cd bench && ../.venv/bin/python run.py $(if $(filter full,$(BENCH)),--full)

# divan's manylinux wheels into dist/ (scripts/build-wheels): divan-server (one py3 wheel) and
# divan-couchbase for each CPython 3.9-3.13 installed; check-wheel builds them, installs each into a
# fresh venv of its Python and runs the example, the fixture and the programs (scripts/check-wheel).
.PHONY: wheel check-wheel

wheel:
	CMAKE_BUILD_PARALLEL_LEVEL=$(JOBS) scripts/build-wheels dist

check-wheel: deps
	scripts/check-wheel

test: deps unit pyunit pysuites interop browser valgrind sanitize fuzz-smoke check-wheel

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(SAN_BUILD)
