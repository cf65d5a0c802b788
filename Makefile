# uprobe-trace: the two commands are `make demo` (run it) and `make test` (test it).
SWIFT ?= swift
# The manifest lists the BPF sources to exclude by walking Sources/ (Package.swift's
# bpfSources): SwiftPM's shared manifest cache would keep a list made before a new
# *.bpf.c existed (so can one in .build): the manifest is evaluated each time (~2 s).
SWIFTPM := --manifest-cache none
BIN := .build/debug/uprobe-trace

.PHONY: setup build release fixtures demo test bench fuzz clean

setup:
	bash scripts/setup.sh

build: setup
	$(SWIFT) build $(SWIFTPM)

release: setup
	$(SWIFT) build -c release --static-swift-stdlib

fixtures: setup
	bash testdata/build.sh

# Starts the testdata Go server, traces it, sends requests, shows the spans (root).
demo: build fixtures
	UPROBE_TRACE_BIN=$(BIN) bash scripts/demo.sh

# All tests; the root/BPF ones need root (CI runs as root with CI=true, where they must not skip).
test: setup fixtures
	$(SWIFT) build --build-tests $(SWIFTPM)
	# Five groups, each its own run: the exporter tests (they measure retry and
	# batching delays), the end-to-end tracing tests (they measure span timing
	# against the server's own clock) and the exit-time test (it measures detach
	# time, which other suites' uprobe registrations would lengthen) must not share
	# 2 cores with the blocking, process-driving suites. All groups run; the target
	# fails if any did.
	$(SWIFT) test --skip-build $(SWIFTPM) --filter OTLPTests; a=$$?; \
	$(SWIFT) test --skip-build $(SWIFTPM) --skip OTLPTests --skip GoHTTPTraceTests --skip GoHTTP2TraceTests --skip LibraryTraceTests --skip ExitTimeTests; b=$$?; \
	$(SWIFT) test --skip-build $(SWIFTPM) --filter "GoHTTPTraceTests|GoHTTP2TraceTests"; c=$$?; \
	$(SWIFT) test --skip-build $(SWIFTPM) --filter LibraryTraceTests; d=$$?; \
	$(SWIFT) test --skip-build $(SWIFTPM) --filter ExitTimeTests; e=$$?; \
	test $$a -eq 0 -a $$b -eq 0 -a $$c -eq 0 -a $$d -eq 0 -a $$e -eq 0

bench: release fixtures
	bash Benchmarks/symbols.sh

fuzz: setup
	bash Fuzz/run.sh $(FUZZ_SECONDS)

clean:
	rm -rf .build testdata/bin Fuzz/bin
