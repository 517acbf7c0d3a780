# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Both create the virtual environment first when it is missing or pyproject.toml changed.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: venv
	$(BIN)/vru demo

# The house rules (ruff for Python, sqlfluff with the dbt templater for the models; rules in
# pyproject.toml and .sqlfluff) run before the tests. dbt needs a warehouse path to compile the
# project: a throwaway DuckDB file, so linting never opens the real warehouse.
lint: venv
	$(BIN)/ruff check .
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	VRU_WAREHOUSE_PATH="$$tmp/lint.duckdb" $(BIN)/sqlfluff lint dbt_project --processes 2

test: venv lint
	$(BIN)/pytest -n 2 --dist loadscope --durations=25

clean:
	rm -rf warehouse/*.duckdb warehouse/*.wal warehouse/published warehouse/gx warehouse/landing warehouse/logs
