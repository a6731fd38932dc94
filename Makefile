# sftpipe: two commands on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export MPLBACKEND := Agg

.PHONY: install install-ray browser demo test test-ray clean

install: $(STAMP)

# torch is pinned first so the `train` extra's range is already satisfied by the CPU build on disk.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "torch==2.13.0"
	$(BIN)/pip install -q -e ".[train,dev]"
	touch $(STAMP)

install-ray: install
	$(BIN)/python -c "import ray" 2>/dev/null || $(BIN)/pip install -q -e ".[ray]"

# Headless Chromium for the report's escaping test; installed only when missing, and the
# test skips cleanly when it cannot be installed.
browser:
	@command -v chromium >/dev/null 2>&1 || { (apt-get update -qq && apt-get install -y -qq chromium fonts-noto-cjk) \
		>/dev/null 2>&1 || echo "chromium not installed: the browser test will be skipped"; }

demo: install
	$(BIN)/python -m pipeline.demo

test: install browser
	$(BIN)/python -m pytest -x -p no:cacheprovider -m "not ray"

# The Ray engine's tests start a local Ray cluster; CI runs them after `make test`.
test-ray: install-ray
	$(BIN)/python -m pytest -x -p no:cacheprovider -m ray

clean:
	rm -rf out .pytest_cache
