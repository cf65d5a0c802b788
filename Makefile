# uprobe-trace: the two commands are `make demo` (run it) and `make test` (test it).
SWIFT ?= swift
BIN := .build/debug/uprobe-trace

.PHONY: setup build release fixtures demo test bench fuzz clean

setup:
	bash scripts/setup.sh

build: setup
	$(SWIFT) build

release: setup
	$(SWIFT) build -c release --static-swift-stdlib

fixtures: setup
	bash testdata/build.sh

# Starts the testdata Go server, traces it, sends requests, shows the spans (root).
demo: build fixtures
	UPROBE_TRACE_BIN=$(BIN) bash scripts/demo.sh

# All tests; the root/BPF ones need root (CI runs as root with CI=true, where they must not skip).
test: setup fixtures
	$(SWIFT) build --build-tests
	# Five groups, each its own run: the exporter tests (they measure retry and
	# batching delays), the end-to-end tracing tests (they measure span timing
	# against the server's own clock) and the exit-time test (it measures detach
	# time, which other suites' uprobe registrations would lengthen) must not share
	# 2 cores with the blocking, process-driving suites. All groups run; the target
	# fails if any did.
	$(SWIFT) test --skip-build --filter OTLPTests; a=$$?; \
	$(SWIFT) test --skip-build --skip OTLPTests --skip GoHTTPTraceTests --skip LibraryTraceTests --skip ExitTimeTests; b=$$?; \
	$(SWIFT) test --skip-build --filter GoHTTPTraceTests; c=$$?; \
	$(SWIFT) test --skip-build --filter LibraryTraceTests; d=$$?; \
	$(SWIFT) test --skip-build --filter ExitTimeTests; e=$$?; \
	test $$a -eq 0 -a $$b -eq 0 -a $$c -eq 0 -a $$d -eq 0 -a $$e -eq 0

bench: release fixtures
	bash Benchmarks/symbols.sh

fuzz: setup
	bash Fuzz/run.sh $(FUZZ_SECONDS)

clean:
	rm -rf .build testdata/bin Fuzz/bin
