"""Handing a file to the user's pager, and naming files the way people read them."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
from collections.abc import Mapping
from pathlib import Path

__all__ = ["DEFAULT_PAGER", "pager_command", "readable_path"]


def readable_path(path: str | Path) -> str:
    """A file path as a person reads it: the home directory as ``~``."""
    text = str(path)
    home = str(Path.home())
    if home not in ("", os.sep) and (text == home or text.startswith(home + os.sep)):
        return "~" + text[len(home) :]
    return text


DEFAULT_PAGER = ("less", "-R")
"""The pager used when ``$PAGER`` is unset (or does not run)."""


def pager_command(path: str, environ: Mapping[str, str] | None = None) -> list[str] | None:
    """The command that pages ``path``: ``$PAGER``, else ``less -R``; None if neither exists."""
    env = os.environ if environ is None else environ
    candidates: list[list[str]] = []
    pager = env.get("PAGER", "").strip()
    if pager:
        with contextlib.suppress(ValueError):  # unbalanced quotes: try the default
            candidates.append(shlex.split(pager))
    candidates.append(list(DEFAULT_PAGER))
    for argv in candidates:
        if argv and shutil.which(argv[0], path=env.get("PATH")):
            return [*argv, path]
    return None
