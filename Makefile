# nextclick — the two commands: `make demo` (build the wasm, serve the demo shop) and `make test` (all tests).
# Both install whatever is missing first (scripts/setup.sh, idempotent).
SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)
export CHROMEDRIVER ?= /usr/bin/chromedriver
export GECKODRIVER ?= $(HOME)/.cargo/bin/geckodriver
export NEXTCLICK_DATA ?= $(abspath ../shared/data)
PORT ?= 8080
WASM_TESTS := --test web

.PHONY: setup demo test lint test-native test-browser test-chrome test-firefox test-e2e wasm-release tools-release demo-data screenshots

setup:
	@scripts/setup.sh

## The release wasm + JS glue, as a shop would deploy it (www/pkg).
wasm-release: setup
	wasm-pack build --release --target web --out-dir www/pkg --out-name nextclick --no-pack
	@ls -l www/pkg/nextclick_bg.wasm | awk '{print "wasm: " $$5 " bytes"}'; gzip -9c www/pkg/nextclick_bg.wasm | wc -c | awk '{print "wasm gzip: " $$1 " bytes"}'

tools-release:
	cargo build --release -p nextclick-tools

## The main job: build the wasm and serve the demo on 127.0.0.1.
demo: wasm-release tools-release
	target/release/nextclick serve --root www --host 127.0.0.1 --port $(PORT)

## Regenerates the demo shop's products (www/demo/items.csv) and its catalog (stand-in: hashed vectors for
## the reference model, until models/default.onnx exists; then `nextclick catalog … --model models/default.onnx`).
demo-data: tools-release
	target/release/nextclick demo-catalog --out www/demo/items.csv --hash-catalog-for models/reference.onnx --catalog-out www/demo/catalog.bin --int8

## Screenshots of the demo for the README (docs/demo.png, docs/demo-consent.png).
screenshots: wasm-release tools-release
	cd www && npm run screenshots

## All tests: lint, native, headless Chrome + Firefox (wasm-pack), end-to-end (Playwright).
test: setup lint test-native test-browser test-e2e
	@echo "make test: all suites passed"

lint: setup
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p nextclick --target wasm32-unknown-unknown --all-targets -- -D warnings

test-native:
	cargo test --workspace

test-browser: test-chrome test-firefox

test-chrome: setup
	wasm-pack test --headless --chrome -- $(WASM_TESTS)

test-firefox: setup
	wasm-pack test --headless --firefox -- $(WASM_TESTS)

test-e2e:
	@if [ -f www/package.json ]; then $(MAKE) wasm-release tools-release && cd www && npm test; else echo "test-e2e: no www/package.json yet"; fi
