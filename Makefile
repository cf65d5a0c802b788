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

# Shows what the tool sees in the test server and in the system's libssl.
demo: build fixtures
	$(BIN) symbols resolve testdata/bin/go-server main.main 'net/http.serverHandler.ServeHTTP'
	$(BIN) symbols dump libssl.so.3 --grep SSL_read
	$(BIN) symbols dump testdata/bin/go-server --grep serverHandler

# All tests; the root/BPF ones need root (CI runs as root with CI=true, where they must not skip).
test: setup fixtures
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --parallel

bench: release fixtures
	bash Benchmarks/symbols.sh

fuzz: setup
	bash Fuzz/run.sh $(FUZZ_SECONDS)

clean:
	rm -rf .build testdata/bin Fuzz/bin
