# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Both create the virtual environment first when it is missing or pyproject.toml changed.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
BI_VENV ?= .venv-bi

.PHONY: demo test lint venv bi-venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# The BI driver set (SQLAlchemy + duckdb-engine + DuckDB 1.4) in an environment of its own, exactly
# as bi/requirements-bi.txt pins it; remade when that file changes. tests/test_bi_connect.py
# connects through it to a published file (and runs this target itself when run on its own).
bi-venv: $(BI_VENV)/.installed

$(BI_VENV)/.installed: bi/requirements-bi.txt
	rm -rf $(BI_VENV)
	$(PYTHON) -m venv $(BI_VENV)
	$(BI_VENV)/bin/pip install --quiet --no-deps -r bi/requirements-bi.txt
	$(BI_VENV)/bin/pip check
	touch $@

demo: venv
	$(BIN)/vru demo

# Headless Chromium (Debian package) for tests/test_report.py, which opens every page of the HTML
# report in it through Playwright's own driver (never `playwright install`).
.PHONY: browser
browser:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

# The house rules (ruff for Python, sqlfluff with the dbt templater for the models; rules in
# pyproject.toml and .sqlfluff) run before the tests. dbt needs a warehouse path to compile the
# project: a throwaway DuckDB file, so linting never opens the real warehouse.
lint: venv
	$(BIN)/ruff check .
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	VRU_WAREHOUSE_PATH="$$tmp/lint.duckdb" $(BIN)/sqlfluff lint dbt_project --processes 2

test: venv bi-venv browser lint
	$(BIN)/pytest -n 2 --dist loadscope --durations=25

clean:
	rm -rf warehouse/*.duckdb warehouse/*.wal warehouse/published warehouse/gx warehouse/landing warehouse/logs
