"""Sizes for people: bytes and file counts, and what a push or pull moved.

Every toast and line that says how much a sync moved is worded here, so `u`,
`p` and a job's own push and pull read the same.
"""

from __future__ import annotations

from typing import Literal

_UNITS = ("kB", "MB", "GB", "TB", "PB")


def format_bytes(count: int) -> str:
    """``512 B``, ``1.2 MB``-style text (decimal units, as file managers and rsync use)."""
    if count < 1000:
        return f"{max(0, count)} B"
    size = float(count)
    for unit in _UNITS:
        size /= 1000.0
        if size < 999.95 or unit == _UNITS[-1]:
            return f"{size:.1f} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def format_files(count: int) -> str:
    """``1 file``, ``3 files``."""
    return f"{count} file" if count == 1 else f"{count} files"


def describe_transfer(
    direction: Literal["push", "pull"], files: int, size: int, where: str, *, via: str = ""
) -> str:
    """What a sync moved, as one line: ``Pushed 3 files, 1.2 MB to 12345`` or
    ``Pulled 0 files (nothing changed) from 12345``; ``via`` names an unusual way it
    went (``SFTP (no rsync on the instance)``)."""
    verb, preposition = ("Pushed", "to") if direction == "push" else ("Pulled", "from")
    amount = (
        f"{format_files(files)} (nothing changed)"
        if files == 0 and size == 0
        else f"{format_files(files)}, {format_bytes(size)}"
    )
    how = f" via {via}" if via else ""
    return f"{verb} {amount} {preposition} {where}{how}"
