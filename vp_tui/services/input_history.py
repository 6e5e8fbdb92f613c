"""What the user typed before: offer filters and run commands, recalled with ``up``.

Kept in the store (table ``input_history``), newest first, one row per distinct
text and kind, at most :data:`KEEP` per kind. A store that cannot be read or
written costs the history, never the input: failures are logged and give an empty
list.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from typing import Literal

from vp_tui.services.store import Store

log = logging.getLogger(__name__)

HistoryKind = Literal["filter", "command"]
"""Which input a line was typed into: the offer filter or the run dialog's command."""

KEEP = 100
"""Lines kept per kind; older ones are dropped as new ones are added."""

MAX_LENGTH = 4_096
"""Longer lines are not remembered (a paste, not something to recall)."""


class InputHistory:
    """The lines typed into one kind of input, newest first."""

    def __init__(self, store: Store, kind: HistoryKind) -> None:
        self.store = store
        self.kind: HistoryKind = kind

    def add(self, text: str) -> None:
        """Remember ``text`` as the newest line (blank lines and very long ones are not kept)."""
        line = text.strip()
        if not line or len(line) > MAX_LENGTH:
            return
        try:
            with self.store.connect() as db:
                db.execute(
                    "INSERT INTO input_history (kind, text, used_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (kind, text) DO UPDATE SET used_at = excluded.used_at",
                    (self.kind, line, time.time()),
                )
                db.execute(
                    "DELETE FROM input_history WHERE kind = ? AND text NOT IN ("
                    "SELECT text FROM input_history WHERE kind = ? "
                    "ORDER BY used_at DESC LIMIT ?)",
                    (self.kind, self.kind, KEEP),
                )
        except sqlite3.Error as exc:
            log.warning("cannot remember a %s line: %s", self.kind, exc)

    def recent(self, limit: int = KEEP) -> list[str]:
        """The remembered lines, newest first."""
        try:
            with self.store.connect() as db:
                rows = db.execute(
                    "SELECT text FROM input_history WHERE kind = ? "
                    "ORDER BY used_at DESC, rowid DESC LIMIT ?",
                    (self.kind, limit),
                ).fetchall()
        except sqlite3.Error as exc:
            log.warning("cannot read the %s history: %s", self.kind, exc)
            return []
        return [str(row["text"]) for row in rows]
