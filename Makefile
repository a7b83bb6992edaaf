# Set-up and entry points. `make test` and `make demo` each build .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
APT_PACKAGES := python-cartopy-data chromium chromium-driver
TORCH_CPU := torch>=2.4,<2.14

.PHONY: demo test lint bench clean apt

$(BIN)/nowcast: pyproject.toml
	$(MAKE) apt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	@if command -v nvidia-smi >/dev/null 2>&1; then \
		echo "GPU found: installing the default (CUDA) torch"; \
		$(BIN)/pip install --quiet "torch>=2.4"; \
	else \
		echo "No GPU: installing the CPU torch wheel"; \
		$(BIN)/pip install --quiet "$(TORCH_CPU)"; \
	fi
	$(BIN)/pip install --quiet -e ".[dev,satellite]"
	touch $(BIN)/nowcast

$(VENV): $(BIN)/nowcast

apt:
	@missing=""; for p in $(APT_PACKAGES); do \
		dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ] && command -v apt-get >/dev/null 2>&1; then \
		echo "apt-get install$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null \
		|| echo "warning: could not install$$missing (maps will render without coastlines)"; \
	fi

lint: $(VENV)
	$(BIN)/ruff check nowcast tests benchmarks
	$(BIN)/ruff format --check nowcast tests benchmarks

test: $(VENV) lint
	$(BIN)/pytest -q

demo: $(VENV)
	$(BIN)/nowcast demo

bench: $(VENV)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) runs .pytest_cache
