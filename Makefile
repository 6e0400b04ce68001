# Every routine command of ChemChat. `make run` and `make test` are the two that matter first.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Keep build artefacts outside the clone so fresh clones (CI) reuse them.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/chemchat-target
CARGO ?= cargo
SERVICES := scripts/services.sh

.PHONY: help run build test test-rust services services-down lint fmt bench

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

run: ## run the server on the embedded defaults at http://localhost:3000
	$(CARGO) run --release -p chemchat-server -- serve

build: ## build every crate in release mode
	$(CARGO) build --release --workspace

services: ## start the services the tests need and print their CHEMCHAT_TEST_* variables
	@$(SERVICES) up

services-down: ## stop the services this project started (not the machine's own)
	@$(SERVICES) down

test: ## start the services, then run every test
	@set -a; eval "$$($(SERVICES) up)"; set +a; $(MAKE) --no-print-directory test-rust

test-rust:
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
	  $(CARGO) nextest run --workspace --no-fail-fast; \
	else \
	  $(CARGO) test --workspace --no-fail-fast; \
	fi

lint: ## formatting check and clippy with warnings as errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt: ## format the code
	$(CARGO) fmt --all

bench: ## benchmarks: throughput, latency percentiles, memory per connection
	@set -a; eval "$$($(SERVICES) up)"; set +a; $(CARGO) run --release -p chemchat-server --example bench

# --- kubernetes: CRDs, operator, chart, kind -------------------------------------------------

K8S_VERSION ?= 1.35.0
K8S_TOOLS := scripts/k8s-tools.sh

.PHONY: crds

crds: ## regenerate crds/*.yaml and the chart's CRDs from the Rust types
	$(CARGO) run -q -p chemchat-crds --bin crdgen -- crds charts/chemchat-operator/crds
