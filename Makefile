# Convoy's everyday targets. `make help` lists them.
.PHONY: help demo test lint fmt fixtures import-corpus example-goldens ap-types clean-build editors python-test

AP_TYPES ?= $(CURDIR)/build/ap_types
export AP_TYPES

help:        ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

ap-types:    ## fetch the open-source ap_types headers (from the hls4ml wheel) into build/
	bash tools/fetch_ap_types.sh

demo:        ## build, check and run examples/seed.cnn on a random input
	cargo build --release
	./target/release/convoy check examples/seed.cnn
	python3 tools/random_input.py build/demo/x.npy 16 32 64
	./target/release/convoy run examples/seed.cnn --input x=build/demo/x.npy --out build/demo

# Tests whose tool is missing say so (in CI they fail), as do tests of CPU features this
# CPU lacks (they check its own paths instead, in CI too); listed again at the end.
SKIPPED_TESTS = $(or $(CARGO_TARGET_DIR),target)/tmp/skipped-tests.txt

test: ap-types  ## the whole test suite, as CI runs it
	@rm -f $(SKIPPED_TESTS)
	cargo test --all-targets
	cargo run --quiet -- test examples
	@if [ -s $(SKIPPED_TESTS) ]; then echo "Skipped (a tool is missing) or not on this CPU:"; cat $(SKIPPED_TESTS); fi

lint:        ## formatting and clippy, warnings are errors (the Python package's crate too)
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
	cargo run --quiet -- fmt --check examples stdlib
	cd python && cargo fmt --all -- --check && cargo clippy --all-targets -- -D warnings

# The Python package: a venv under build/, the wheel built by maturin.
PYVENV ?= build/pyvenv

python-test: ## the Python package: build the wheel, install it with pytest and Ray in build/pyvenv, run python/tests
	test -x $(PYVENV)/bin/python || python3 -m venv $(PYVENV)
	$(PYVENV)/bin/pip install -q --disable-pip-version-check "maturin>=1.5,<2" pytest numpy "ray[data]"
	rm -rf build/wheels
	cd python && $(CURDIR)/$(PYVENV)/bin/maturin build --release -i $(CURDIR)/$(PYVENV)/bin/python -o $(CURDIR)/build/wheels
	$(PYVENV)/bin/pip install -q --disable-pip-version-check --force-reinstall --no-deps build/wheels/convoy-*.whl
	cargo build --quiet
	CONVOY_BIN=$(CURDIR)/target/debug/convoy $(PYVENV)/bin/python -m pytest -q python/tests

editors:     ## editor support: TextMate grammar, VS Code package, Vim syntax
	bash editors/test.sh

fixtures:    ## regenerate the ONNX reference fixtures (needs build/venv with numpy and onnx)
	build/venv/bin/python tools/onnx_fixtures.py

example-goldens: ## regenerate the example networks' weights and onnxruntime goldens (needs build/venv with numpy, onnx, onnxruntime)
	build/venv/bin/python tools/example_networks.py

import-corpus: ## regenerate the `convoy import` corpus (needs build/venv with numpy, onnx, onnxruntime)
	build/venv/bin/python tools/onnx_corpus.py
