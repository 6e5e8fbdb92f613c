# Set-up is part of every target: a fresh clone needs only `make run` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run demo test check format screenshots bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when pyproject.toml changed.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/vp-tui

demo: $(VENV)/.installed
	$(BIN)/vp-tui --demo

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check: $(VENV)/.installed-test
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

format: $(VENV)/.installed-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

screenshots: $(VENV)/.installed-test
	TZ=UTC $(BIN)/python -m vp_tui.tui.screenshots screenshots

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/market.py
	$(BIN)/python benchmarks/stream.py
	$(BIN)/python benchmarks/sync.py
	$(BIN)/python benchmarks/tui.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
