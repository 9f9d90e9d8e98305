# persona-kit — `make help` lists the targets. Everything runs inside .venv, created on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PARAMS ?= notebooks/params/sample.yaml
PYTEST_ARGS ?=
# The committed sample is synthetic, so its hashing salt may be public; set your own secret for real data.
export PERSONA_KIT_SALT ?= synthetic-sample-salt-not-a-secret

.DEFAULT_GOAL := help
.PHONY: help setup browser report test lint lab bench sample clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

setup: $(STAMP) ## create .venv and install persona-kit with its dev tools

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

browser: ## install Debian's Chromium and a CJK font when missing (needed by the browser tests)
	@if ! command -v chromium >/dev/null || ! fc-list 2>/dev/null | grep -q 'Noto Sans CJK'; then \
	  if [ "$$(id -u)" != 0 ]; then echo "browser tests need: sudo apt-get install chromium fonts-noto-cjk"; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	fi

report: setup ## run every notebook on data/sample and write reports/<run>/ with an index (PARAMS=... for another run)
	$(BIN)/persona-kit run --params $(PARAMS)

test: setup browser ## run the whole test suite (unit, notebooks, reports in headless Chromium)
	$(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

lint: setup ## ruff over the package, tests and notebooks
	$(BIN)/ruff check persona_kit tests notebooks

LAB_PORT ?= 8888
lab: setup ## start JupyterLab on the project at http://localhost:8888/lab (LAB_PORT=...), notebooks/ open, .venv kernel
	@$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (persona-kit)" >/dev/null
	@test -d runs/sample || echo "note: no runs/sample yet: run the notebooks in order from 01, or \`make report\` first"
	@echo "JupyterLab: open the http://localhost:$(LAB_PORT)/lab/tree/notebooks?token=... link printed below (Ctrl-C stops it)"
	$(BIN)/jupyter lab --ServerApp.root_dir=. --LabApp.default_url=/lab/tree/notebooks --port=$(LAB_PORT) \
	  --port-retries=0 --LabApp.news_url=None --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate \
	  $(if $(DISPLAY)$(WAYLAND_DISPLAY),,--no-browser) $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

bench: setup ## run the benchmarks side by side with peer libraries (BENCH_ARGS="--people 250000" for a smaller run)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

sample: setup ## regenerate the committed synthetic sample in data/sample/
	$(BIN)/persona-kit generate --people 5000 --seed 7 --out data/sample

clean: ## remove generated reports and runs (keeps .venv)
	rm -rf reports/*/ runs/
