# routecore — every set-up and check goes through these targets; `make help` lists them.
.DEFAULT_GOAL := help
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(VENV)/.ready: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip 'maturin>=1.9.4,<2'
	touch $@

.PHONY: install
install: $(VENV)/.ready ## create .venv, install every dependency, build the extension (release)
	$(VENV)/bin/maturin develop --release -q -E dev

.PHONY: demo
demo: install ## the main job: a demonstration on the embedded demo plan
	$(PY) -m routecore demo

.PHONY: proto
proto: ## regenerate python/routecore/v1/ from protos/ (the generated code is committed)
	$(PY) -m grpc_tools.protoc -Iprotos --python_out=python --pyi_out=python --grpc_python_out=python protos/routecore/v1/*.proto

.PHONY: format
format: ## format Rust and Python
	cargo fmt
	$(VENV)/bin/ruff format python tests bench tools
	$(VENV)/bin/ruff check --fix python tests bench tools

.PHONY: lint
lint: install ## cargo fmt --check, clippy -D warnings, ruff, stubtest
	cargo fmt --check
	cargo clippy --all-targets -q -- -D warnings
	$(VENV)/bin/ruff check python tests bench tools
	$(VENV)/bin/ruff format --check python tests bench tools
	$(PY) -m mypy.stubtest routecore._routecore --allowlist .mypy-stubtest-allowlist

.PHONY: test-rs
test-rs: ## Rust unit and property tests of the pure core (the Redis state's journal on a real redis-server)
	cargo test -q --no-default-features --features redis-state

.PHONY: test-py
test-py: install ## the Python test suite (acceptance vectors included)
	$(PY) -m pytest -q

.PHONY: system-deps
system-deps: ## Debian packages the suite runs for real (Kamailio, sipp, Redis, PostgreSQL), when missing
	tools/system-deps.sh

.PHONY: test
test: system-deps install lint test-rs test-py ## everything: lint, Rust tests, Python tests

FUZZ_SECONDS ?= 60
.PHONY: fuzz
fuzz: install ## the fuzzers, FUZZ_SECONDS each: cargo fuzz (number, pattern, yaml, plan, wire), atheris (plan, http)
	command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	cd fuzz && for t in number pattern yaml plan wire; do \
		mkdir -p corpus/$$t artifacts/$$t && \
		RUSTC_BOOTSTRAP=1 cargo fuzz run -O $$t corpus/$$t seeds/$$t -- \
			-max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 || exit 1; done
	for t in plan:yaml http:http; do \
		mkdir -p fuzz/corpus/$${t%%:*}_py fuzz/artifacts/$${t%%:*}_py && \
		$(PY) tests/fuzz_targets.py $${t%%:*} -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
			-artifact_prefix=fuzz/artifacts/$${t%%:*}_py/ fuzz/corpus/$${t%%:*}_py fuzz/seeds/$${t##*:} || exit 1; done

.PHONY: bench
bench: install ## run the benchmarks (bench/README.md holds the latest table)
	$(PY) -m pytest bench --benchmark-enable --benchmark-columns=median,ops -q -p no:randomly
