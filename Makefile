# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
# Test processes (pytest-xdist): 2 uses both cores, each test module kept on one worker
# (--dist loadscope); `make test TEST_WORKERS=0` runs everything in this process, e.g. to debug.
TEST_WORKERS ?= 2
# Let Python cache compiled modules: a machine that sets this recompiles prefect, dbt and pandas
# on every start (the ephemeral Prefect server alone takes twice as long).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: setup demo test lint dashboard bench lock clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -c constraints.txt -e '.[dev]'
	@command -v chromium >/dev/null 2>&1 || ./.ci/install-chromium
	touch $(STAMP)

demo: setup
	mkdir -p .trading
	PREFECT_HOME=$(CURDIR)/.trading/prefect $(BIN)/trading demo

test: setup
	mkdir -p .trading
	PREFECT_HOME=$(CURDIR)/.trading/prefect-test TEST_DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/pytest -n $(TEST_WORKERS) --dist loadscope

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy config ingestion strategies execution flows dashboard simulator

dashboard: setup
	$(BIN)/trading dashboard

bench: setup
	$(BIN)/trading bench ingest

lock:
	$(BIN)/uv pip install --python $(BIN)/python -e '.[dev]'
	(echo "# Lock: every package version, installed together on Python 3.11 (make setup uses this as constraints)."; \
	 echo "# Regenerate: make lock"; \
	 $(BIN)/uv pip freeze --python $(BIN)/python --exclude-editable) > constraints.txt

clean:
	rm -rf $(VENV) .trading
