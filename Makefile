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
	# The exporter tests measure retry and batching delays; they run on their own
	# so the blocking process-driving suites cannot starve Swift's 2-thread
	# cooperative pool under them.
	# Both always run; the target fails if either did.
	$(SWIFT) test --skip-build --filter OTLPTests; a=$$?; \
	$(SWIFT) test --skip-build --skip OTLPTests; b=$$?; \
	test $$a -eq 0 -a $$b -eq 0

bench: release fixtures
	bash Benchmarks/symbols.sh

fuzz: setup
	bash Fuzz/run.sh $(FUZZ_SECONDS)

clean:
	rm -rf .build testdata/bin Fuzz/bin
