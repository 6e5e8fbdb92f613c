# Set-up is part of every target: a fresh clone needs only `make run` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run demo test check format screenshots bench lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installs come from the lock files (every dependency pinned, as tested), then the
# project itself; reinstall only when they changed. `make lock` renews the locks.
$(VENV)/.installed: pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml requirements-test.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-test.lock
	$(BIN)/python -m pip install --quiet --no-deps -e '.[test]'
	touch $@ $(VENV)/.installed

lock: $(BIN)/python
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 --python-platform linux \
		--no-header --quiet -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra test --python-version 3.11 \
		--python-platform linux --no-header --quiet -o requirements-test.lock

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
	TZ=UTC $(BIN)/python tests/scenes.py screenshots

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/market.py
	$(BIN)/python benchmarks/stream.py
	$(BIN)/python benchmarks/sync.py
	$(BIN)/python benchmarks/tui.py
	$(BIN)/python benchmarks/quit.py
	$(BIN)/python benchmarks/idle_requests.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
