# Every routine command of ChemChat. `make run` and `make test` are the two that matter first.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Keep build artefacts outside the clone so fresh clones (CI) reuse them.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/chemchat-target
CARGO ?= cargo
# Node (npm, and the test clients it installs) trusts only its own list of CAs; where registry
# traffic passes a proxy with a locally installed CA, npm fails with SELF_SIGNED_CERT_IN_CHAIN.
# Trust the system's store too, as curl and pip do.
export NODE_EXTRA_CA_CERTS ?= $(wildcard /etc/ssl/certs/ca-certificates.crt)
SERVICES := scripts/services.sh

# Starts the services and exports what they print, for the recipe line it begins. A service that
# does not start stops the run here: with its variables missing, every test that needs it would
# fail on its own, hundreds of failures for one cause.
WITH_SERVICES = services="$$($(SERVICES) up)" || { echo "make: the services did not start (see above)" >&2; exit 1; }; set -a; eval "$$services"; set +a;

.PHONY: help run build test test-rust services services-down lint fmt bench

help: ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

run: ## run the server on the embedded defaults at http://localhost:3000
	MALLOC_MMAP_THRESHOLD_=131072 $(CARGO) run -p chemchat-server -- serve

build: ## build every crate in release mode
	$(CARGO) build --release --workspace

services: ## start the services the tests need and print their CHEMCHAT_TEST_* variables
	@$(SERVICES) up

services-down: ## stop the services this project started (not the machine's own)
	@$(SERVICES) down

test: ## start the services, then run every test, then check the chart and rendered manifests
	@$(WITH_SERVICES) $(MAKE) --no-print-directory test-rust
	@$(MAKE) --no-print-directory k8s-check

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

bench: ## benchmarks: message throughput and latency, WebSocket fan-out, memory per connection (docs/benchmarks.md)
	@$(WITH_SERVICES) scripts/bench.sh

# --- kubernetes: CRDs, operator, chart, kind -------------------------------------------------

K8S_VERSION ?= 1.35.0
K8S_TOOLS := scripts/k8s-tools.sh
K8S_OUT ?= $(CARGO_TARGET_DIR)/k8s-check
CHART := charts/chemchat-operator
KIND_CLUSTER ?= chemchat
IMAGE_TAG ?= dev
SERVER_IMAGE ?= chemchat/chemchat-server:$(IMAGE_TAG)
OPERATOR_IMAGE ?= chemchat/chemchat-operator:$(IMAGE_TAG)
PLATFORM_NS ?= chemchat-system

.PHONY: crds crds-apply chart k8s-check kind-up images kind-load deploy e2e

crds: ## regenerate crds/*.yaml and the chart's CRDs from the Rust types
	$(CARGO) run -q -p chemchat-crds --bin crdgen -- crds $(CHART)/crds

crds-apply: ## apply the chart's CRDs to the current kube context (helm never upgrades them)
	@eval "$$($(K8S_TOOLS) env)"; kubectl apply --server-side --force-conflicts -f $(CHART)/crds/

chart: ## helm lint and template the operator chart (both autoscaling modes), validate against Kubernetes 1.35, check the alerts and dashboard with promtool
	@eval "$$($(K8S_TOOLS) env)"; mkdir -p $(K8S_OUT); \
	helm lint $(CHART); \
	helm lint $(CHART) -f $(CHART)/ci-values-keda.yaml; \
	helm template chemchat-operator $(CHART) -n $(PLATFORM_NS) --include-crds > $(K8S_OUT)/chart-default.yaml; \
	helm template chemchat-operator $(CHART) -n $(PLATFORM_NS) -f $(CHART)/ci-values-keda.yaml > $(K8S_OUT)/chart-keda.yaml; \
	kubernetes-validate --quiet --strict -k $(K8S_VERSION) $(K8S_OUT)/chart-default.yaml $(K8S_OUT)/chart-keda.yaml; \
	helm template chemchat-operator $(CHART) -n $(PLATFORM_NS) --set metrics.rules.enabled=true \
	  --show-only templates/observability.yaml > $(K8S_OUT)/chart-observability.yaml; \
	grep -q 'alert: ChemChatDeliveryLatencyHigh' $(K8S_OUT)/chart-observability.yaml; \
	python3 scripts/check-observability.py "$$(command -v promtool)"; \
	echo "chart: lint, template, kubernetes-validate --strict $(K8S_VERSION) and the alerting rules and dashboard passed"

k8s-check: chart ## chart checks + every object the operator renders (snapshots and examples) validated against Kubernetes 1.35
	@eval "$$($(K8S_TOOLS) env)"; mkdir -p $(K8S_OUT); \
	for t in examples/tenant-*.yaml; do \
	  $(CARGO) run -q -p chemchat-operator -- render -f $$t --cluster examples/cluster.yaml > $(K8S_OUT)/render-$$(basename $$t); \
	done; \
	kubernetes-validate --quiet --strict -k $(K8S_VERSION) operator/tests/snapshots/*.yaml $(K8S_OUT)/render-*.yaml examples/platform.yaml; \
	echo "k8s-check: rendered tenant objects pass kubernetes-validate --strict $(K8S_VERSION)"

kind-up: ## create the local kind cluster (needs Docker and kind)
	@command -v kind >/dev/null || { echo "kind-up: kind is not installed (https://kind.sigs.k8s.io)"; exit 1; }
	@docker info >/dev/null 2>&1 || { echo "kind-up: no Docker engine is reachable"; exit 1; }
	@kind get clusters 2>/dev/null | grep -qx $(KIND_CLUSTER) || kind create cluster --name $(KIND_CLUSTER) --config kind-config.yaml
	@kubectl --context kind-$(KIND_CLUSTER) cluster-info

images: ## build the server and operator images (needs Docker)
	docker build -f docker/Dockerfile.server -t $(SERVER_IMAGE) .
	docker build -f docker/Dockerfile.operator -t $(OPERATOR_IMAGE) .

kind-load: ## load the images into the kind cluster
	kind load docker-image --name $(KIND_CLUSTER) $(SERVER_IMAGE) $(OPERATOR_IMAGE)

deploy: ## install the chart, the development backends and the example cluster on kind
	@eval "$$($(K8S_TOOLS) env)"; \
	kubectl --context kind-$(KIND_CLUSTER) apply -f examples/platform.yaml; \
	helm --kube-context kind-$(KIND_CLUSTER) upgrade --install chemchat-operator $(CHART) \
	  -n $(PLATFORM_NS) --set image.tag=$(IMAGE_TAG) --set image.pullPolicy=Never --wait --timeout 5m; \
	kubectl --context kind-$(KIND_CLUSTER) apply -f examples/cluster.yaml

e2e: ## end-to-end tests on the kind cluster (not part of `make test`)
	@eval "$$($(K8S_TOOLS) env)"; \
	kubectl --context kind-$(KIND_CLUSTER) version >/dev/null 2>&1 || { \
	  echo "e2e: no Kubernetes cluster reachable at context kind-$(KIND_CLUSTER); run 'make kind-up images kind-load deploy' first" >&2; exit 1; }; \
	CHEMCHAT_E2E_KUBECONTEXT=kind-$(KIND_CLUSTER) IMAGE_TAG=$(IMAGE_TAG) \
	  $(CARGO) test -p chemchat-e2e --features cluster -- --test-threads=1
