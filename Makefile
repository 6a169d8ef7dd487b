# Entry points for people and CI; CMake does the building (see README.md).
#
#   make deps    install the Debian packages (skipped when all are there)
#   make build   build/ (RelWithDebInfo, warnings are errors)
#   make demo    deps + build, then run the GPT-2 example with `wsc eval`
#   make test    deps + build + every test: ctest in build/ and in a sanitizer
#                build (build-asan/), then the conformance cases of ../shared
#   make format  clang-format every C source and header
#   make fuzz    a libFuzzer build of the parser (build-fuzz/) and a 30 s run

SHELL := /bin/bash
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
# Debian's interpreter: python3-numpy and python3-torch install for it.
PYTHON ?= /usr/bin/python3
CLANG_FORMAT ?= clang-format
FUZZ_SECONDS ?= 30
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Build folders (overridable, e.g. to keep several checkouts' builds apart).
BUILD := build
ASAN_BUILD := build-asan
FUZZ_BUILD := build-fuzz

DEB_PACKAGES := cmake gcc make flex bison libcmocka-dev libjansson-dev libxxhash-dev pkg-config \
	llvm-19-dev clang-19 python3-torch python3-numpy libopenblas0-pthread

CONFORMANCE := ../shared/conformance
DEMO_MODEL := examples/gpt2.wsm
DEMO_CASE := tests/ref/cases/ex_gpt2
DEMO_OUT := out/gpt2
SOURCE_DIRS := driver ir frontend passes placer codegen runtime tests bench examples

.PHONY: all deps build demo test test-release test-asan conformance format fuzz fuzz-smoke clean
all: build

deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || \
	    missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: all Debian packages are installed"; exit 0; fi; \
	echo "deps: installing$$missing"; \
	$(SUDO) apt-get update && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWSC_WERROR=ON
	cmake --build $(BUILD) -j$(JOBS)

# Prints each output of the demo with its type and whether it agrees with the
# PyTorch reference to the spec's tolerance; exits 1 when one does not.
define DEMO_REPORT
import os, sys
import numpy as np
out, ref = sys.argv[1], sys.argv[2]
bad = 0
for f in sorted(os.listdir(out)):
    got = np.load(os.path.join(out, f))
    line = f"{os.path.join(out, f)}: {got.dtype} {list(got.shape)}"
    want_path = os.path.join(ref, f)
    if os.path.exists(want_path):
        want = np.load(want_path)
        ok = got.shape == want.shape and bool(np.all(np.abs(got - want) <= 1e-4 + 1e-3 * np.abs(want)))
        line += ", matches the PyTorch reference" if ok else ", DIFFERS from the PyTorch reference"
        bad += not ok
    print(line)
sys.exit(1 if bad else 0)
endef
export DEMO_REPORT

demo: deps build
	@set -e; \
	args=""; \
	if [ -f $(DEMO_CASE)/args ]; then args=$$(cat $(DEMO_CASE)/args); fi; \
	if [ -f $(DEMO_CASE)/weights.safetensors ]; then args="$${args:+$$args }--weights $(DEMO_CASE)/weights.safetensors"; fi; \
	for f in $(DEMO_CASE)/inputs/*.npy; do args="$$args -i $$(basename $$f .npy)=$$f"; done; \
	rm -rf $(DEMO_OUT); \
	echo "+ $(BUILD)/wsc eval $(DEMO_MODEL) $$args -o $(DEMO_OUT)"; \
	$(BUILD)/wsc eval $(DEMO_MODEL) $$args -o $(DEMO_OUT); \
	$(PYTHON) -c "$$DEMO_REPORT" $(DEMO_OUT) $(DEMO_CASE)/expected

# Every step runs even when an earlier one failed, so one CI run shows all
# failures; the summary repeats ctest's result lines at the end, and the
# target fails when any step did.
# fuzz: a short libFuzzer run of the parser (clang-19).
TEST_STEPS := test-release test-asan conformance fuzz-smoke
TEST_LOGS := $(BUILD)/ctest.log $(ASAN_BUILD)/ctest.log $(BUILD)/conformance.log $(BUILD)/bad.log $(ASAN_BUILD)/bad.log

test: deps build
	@rm -f $(TEST_LOGS); \
	failed=""; \
	for step in $(TEST_STEPS); do \
	  echo "==== make $$step"; \
	  $(MAKE) --no-print-directory $$step || failed="$$failed $$step"; \
	done; \
	echo; echo "==== summary"; \
	for d in $(BUILD) $(ASAN_BUILD); do \
	  if [ -f $$d/ctest.log ]; then echo "ctest in $$d/:"; sed -n '/tests passed/,$$p' $$d/ctest.log | grep -v '^\[ERROR_MESSAGE\]'; fi; \
	done; \
	for f in $(BUILD)/conformance.log $(BUILD)/bad.log $(ASAN_BUILD)/bad.log; do \
	  if [ -f $$f ]; then echo "$$f: $$(tail -n 1 $$f)"; fi; \
	done; \
	if [ -n "$$failed" ]; then echo "make test: FAILED:$$failed"; exit 1; fi; \
	echo "make test: all passed ($(TEST_STEPS))"

test-release: build
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS) -O $(BUILD)/ctest.log

# Debug + AddressSanitizer + UndefinedBehaviorSanitizer; Debug also turns on
# the IR verifier between passes.
test-asan:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DWSC_SANITIZE=ON -DWSC_WERROR=ON
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j$(JOBS) -O $(ASAN_BUILD)/ctest.log

# The bad inputs also go through the sanitizer build: a crash it catches is a
# failure even when the release build happens to survive it.
conformance: build
	@if [ ! -d $(CONFORMANCE) ]; then echo "conformance: skipped, $(CONFORMANCE) is absent"; exit 0; fi; \
	set -o pipefail; status=0; \
	$(PYTHON) $(CONFORMANCE)/check.py $(CONFORMANCE)/cases $(BUILD)/wsc eval | tee $(BUILD)/conformance.log || status=1; \
	$(PYTHON) $(CONFORMANCE)/check.py $(CONFORMANCE)/cases $(BUILD)/wsc run --fabric 32x32 | tee -a $(BUILD)/conformance.log || status=1; \
	$(PYTHON) $(CONFORMANCE)/check_bad.py $(BUILD)/wsc | tee $(BUILD)/bad.log || status=1; \
	if [ -x $(ASAN_BUILD)/wsc ]; then \
	  $(PYTHON) $(CONFORMANCE)/check_bad.py $(ASAN_BUILD)/wsc | tee $(ASAN_BUILD)/bad.log || status=1; \
	fi; \
	exit $$status

# Generated sources (the scanner and parser) live in the build folders and
# are not touched.
format:
	find $(SOURCE_DIRS) -name '*.[ch]' -print0 2>/dev/null | xargs -0 -r $(CLANG_FORMAT) -i

# Every library is built with coverage instrumentation (fuzzer-no-link) so
# the fuzzer sees inside the front end, not only its own entry point.
fuzz: deps
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang-19 -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DWSC_FUZZ=ON -DWSC_SANITIZE=ON -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzz_parser
	FUZZ_BIN=$(FUZZ_BUILD)/fuzz_parser FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/e2e/test_fuzz_smoke.sh

fuzz-smoke:
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=20

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) out
