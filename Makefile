# Set-up and entry points. `make test` and `make demo` each build .venv when it is missing.
# `make ci` also runs the suite at both ends of the dependency range: .venv-lowest holds each
# dependency at its lowest declared release series (.ci/lowest.py), .venv-newest the newest.
# Those two legs leave out the tests marked slow (the wheel, kills, long renders, the two-rank
# DDP runs), which `make test` runs; every stage (ingest, models, training, forecast, verify,
# products, serve) keeps its tests in each leg. Each run prints its slowest tests.
PYTHON ?= python3
VENV := .venv
LOWEST := .venv-lowest
NEWEST := .venv-newest
BIN := $(VENV)/bin
APT_PACKAGES := python-cartopy-data chromium chromium-driver
TORCH_CPU := torch>=2.4,<2.14

.PHONY: demo docs test test-lowest test-newest ci lint bench faults clean apt pretrained

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
	$(BIN)/pip install --quiet -e ".[dev,satellite,maps,docs]"
	touch $(BIN)/nowcast

$(VENV): $(BIN)/nowcast

$(LOWEST)/bin/nowcast: pyproject.toml .ci/lowest.py
	$(MAKE) apt
	$(PYTHON) -m venv $(LOWEST)
	$(LOWEST)/bin/pip install --quiet "$(TORCH_CPU)"
	$(PYTHON) .ci/lowest.py > $(LOWEST)/constraints.txt
	$(LOWEST)/bin/pip install --quiet -c $(LOWEST)/constraints.txt -e ".[dev,satellite,maps]"
	touch $@

$(NEWEST)/bin/nowcast: pyproject.toml
	$(MAKE) apt
	$(PYTHON) -m venv $(NEWEST)
	$(NEWEST)/bin/pip install --quiet "$(TORCH_CPU)"
	$(NEWEST)/bin/pip install --quiet --upgrade --upgrade-strategy eager -e ".[dev,satellite,maps]"
	touch $@

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
	$(BIN)/ruff check nowcast tests benchmarks setup.py .ci/lowest.py
	$(BIN)/ruff format --check nowcast tests benchmarks setup.py .ci/lowest.py

DURATIONS := --durations=15
LEG := -m "not slow" $(DURATIONS)

test: $(VENV) lint docs
	$(BIN)/pytest -q $(DURATIONS)

test-lowest: $(LOWEST)/bin/nowcast
	$(LOWEST)/bin/pip list --format=freeze | grep -iE '^(numpy|pandas|xarray|zarr)='
	$(LOWEST)/bin/pytest -q $(LEG)

test-newest: $(NEWEST)/bin/nowcast
	$(NEWEST)/bin/pip list --format=freeze | grep -iE '^(numpy|pandas|xarray|zarr)='
	$(NEWEST)/bin/pytest -q $(LEG)

ci: test test-lowest test-newest

demo: $(VENV)
	$(BIN)/nowcast demo

# The documentation site (mkdocs.yml, docs/) into site/, offline; a warning fails the build.
# tests/test_docs.py runs the console examples on its pages.
docs: $(VENV)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# Rebuild the shipped radar checkpoint (models/pretrained/modernn-radar-guided) and its
# leave-one-day-out table on every shared radar day (scripts/crossval.sh, then the model trained
# on all days): about 45 min on 2 CPU cores; see its card.md.
pretrained: $(VENV)
	PYTHON=$(BIN)/python scripts/pretrained.sh

bench: $(VENV)
	$(BIN)/python benchmarks/run.py

# The fault suite (slow and hostile servers on 127.0.0.1, hostile files, kills, signals) and
# its figures: faults tried, kills survived, frames lost.
FAULT_TESTS := tests/test_faults_http.py tests/test_faults_inputs.py tests/test_faults_sizes.py \
	tests/test_faults_env.py tests/test_faults_concurrent_writes.py tests/test_faults_messages.py \
	tests/test_faults_kills.py tests/test_faults_scheduler.py tests/test_ingest_faults.py \
	tests/test_faults_second_probe.py tests/test_serve_stored_files.py
faults: $(VENV)
	mkdir -p runs
	$(BIN)/python -m pytest -q -p no:cacheprovider $(FAULT_TESTS) --junitxml=runs/faults.xml; \
	status=$$?; $(BIN)/python benchmarks/faults_summary.py runs/faults.xml && exit $$status

clean:
	rm -rf $(VENV) $(LOWEST) $(NEWEST) runs .pytest_cache
