"""The input history: offer filters and run commands remembered in the store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from vp_tui.services.input_history import KEEP, InputHistory
from vp_tui.services.store import Store


def test_newest_first_and_distinct(tmp_path: Path) -> None:
    history = InputHistory(Store(tmp_path / "s.sqlite3"), "filter")
    for line in ["4090", "a100 <1", "4090", "  ", "h100"]:
        history.add(line)
    assert history.recent() == ["h100", "4090", "a100 <1"]


def test_kinds_are_apart_and_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    InputHistory(Store(path), "filter").add("4090")
    InputHistory(Store(path), "command").add("python train.py")
    assert InputHistory(Store(path), "filter").recent() == ["4090"]
    assert InputHistory(Store(path), "command").recent() == ["python train.py"]


def test_bounded(tmp_path: Path) -> None:
    history = InputHistory(Store(tmp_path / "s.sqlite3"), "command")
    for n in range(KEEP + 20):
        history.add(f"echo {n}")
    recent = history.recent(limit=KEEP * 2)
    assert len(recent) == KEEP
    assert recent[0] == f"echo {KEEP + 19}"
    assert "echo 0" not in recent


def test_a_broken_store_costs_the_history_only(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite3")
    with sqlite3.connect(store.path) as db:
        db.execute("DROP TABLE input_history")
    history = InputHistory(store, "filter")
    history.add("4090")  # logged, not raised
    assert history.recent() == []
