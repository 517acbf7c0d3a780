# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Both create the virtual environment first when it is missing or pyproject.toml changed.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: venv
	$(BIN)/vru demo

test: venv
	$(BIN)/pytest

clean:
	rm -rf warehouse/*.duckdb warehouse/*.wal warehouse/published warehouse/gx warehouse/landing warehouse/logs
