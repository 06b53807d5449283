# tierq — the commands a developer and CI use. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export UV_PYTHON_DOWNLOADS := never
PY      := .venv/bin/python
PYTEST  := .venv/bin/pytest
# Where the local control plane writes its kubeconfig; every tool of the project reads it.
export TIERQ_KUBECONFIG_LOCAL ?= $(CURDIR)/.cache/cluster/kubeconfig

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z][a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

.venv/.installed: pyproject.toml uv.lock
	uv sync --frozen --all-extras --python python3.11
	@touch $@

.PHONY: install
install: .venv/.installed ## create .venv from the lock file (uv)

.PHONY: test
test: install ## run the whole test suite (unit, worker + PostgreSQL, real cluster)
	$(PYTEST) tests

.PHONY: lint
lint: install ## ruff, mypy --strict, import-linter (layering)
	.venv/bin/ruff check operator tests bench
	.venv/bin/mypy
	.venv/bin/lint-imports

.PHONY: crds
crds: install ## regenerate crds/ and charts/tierq/crds/ from the pydantic models
	$(PY) -m tierq.api.crdgen --out crds --out charts/tierq/crds

.PHONY: bench
bench: install ## scheduling-core and simulator benchmarks (figures printed, not asserted)
	PYTHONPATH=operator $(PY) bench/bench_core.py
	PYTHONPATH=operator $(PY) bench/bench_sim.py

.PHONY: bench-worker
bench-worker: install ## worker benchmarks: seed speed, records/s, peak RSS (SQLite + PostgreSQL)
	PYTHONPATH=operator:tests $(PY) bench/bench_worker.py

.PHONY: bench-operator
bench-operator: install ## operator benchmarks on the cluster: admission rate, latency, memory
	PYTHONPATH=operator:tests $(PY) bench/bench_operator.py

.PHONY: demo
demo: install ## simulate the brief's workload: tierq lanes vs one FIFO queue vs per-tier queues
	.venv/bin/tierq simulate --jobs 20000 --seed 1

.PHONY: binaries
binaries: ## build etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok (~/.cache/tierq)
	hack/build-binaries.sh

.PHONY: cluster
cluster: install ## start a cluster (kind with Docker, else the local control plane) and write its kubeconfig
	hack/cluster-up.sh

.PHONY: cluster-down
cluster-down: ## stop the cluster started by `make cluster`
	hack/cluster-down.sh

.PHONY: run
run: install ## run the operator against the current kubeconfig
	.venv/bin/kopf run --standalone --all-namespaces -m tierq.operator.main

.PHONY: up
up: install ## cluster + chart + sample customers + a burst of jobs + a live view
	hack/up.sh
