"""Argument types for `vp`: bad numbers, ids and paths are refused while parsing (exit 2).

Each function takes the text of one argument and returns the value, or raises
``argparse.ArgumentTypeError`` with a message that says what was expected.
"""

from __future__ import annotations

import argparse
import math
import posixpath
import re

from vp_tui.core.durations import parse_duration

MAX_COUNT = 1_000_000
"""Larger GPU counts or row limits than this are typing mistakes, not requests."""
MAX_SECONDS = 7 * 24 * 3600.0
"""The longest wait `vp` accepts: a week."""
MAX_AMOUNT = 1e9
"""Prices ($/h) and sizes (GB) above this are typing mistakes."""

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", re.ASCII)
_DIGITS = re.compile(r"[0-9]{1,9}", re.ASCII)


def _shown(text: str) -> str:
    """``text`` quoted for a message, cut short when it is long."""
    return repr(text if len(text) <= 40 else text[:37] + "...")


def positive_int(text: str) -> int:
    """A whole number from 1 to :data:`MAX_COUNT`, in ASCII digits."""
    value = text.strip()
    if not _DIGITS.fullmatch(value) or not 1 <= int(value) <= MAX_COUNT:
        raise argparse.ArgumentTypeError(
            f"expected a whole number from 1 to {MAX_COUNT:,}, got {_shown(text)}"
        )
    return int(value)


def _finite(text: str) -> float:
    value = text.strip()
    if not value.isascii():
        raise argparse.ArgumentTypeError(f"expected a number, got {_shown(text)}")
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {_shown(text)}") from None
    if not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {_shown(text)}")
    return number


def positive_amount(text: str) -> float:
    """A finite number above 0 (a price in $/h, a size in GB)."""
    number = _finite(text)
    if not 0 < number <= MAX_AMOUNT:
        raise argparse.ArgumentTypeError(
            f"expected a number above 0 (and at most {MAX_AMOUNT:g}), got {_shown(text)}"
        )
    return number


def timeout_seconds(text: str) -> float:
    """A finite number of seconds from 0 to :data:`MAX_SECONDS`."""
    number = _finite(text)
    if not 0 <= number <= MAX_SECONDS:
        raise argparse.ArgumentTypeError(
            f"expected seconds from 0 to {MAX_SECONDS:.0f}, got {_shown(text)}"
        )
    return number


def duration(text: str) -> float:
    """A positive duration: ``20s``, ``30m``, ``2h``, ``1h30m`` or seconds."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def identifier(text: str) -> str:
    """An instance or job id: ASCII letters, digits, ``_``, ``.``, ``-``; at most 64."""
    if not _ID.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"expected an id of ASCII letters and digits (at most 64), got {_shown(text)}"
        )
    return text


def offer_id(text: str) -> str:
    """An offer id as `vp offers` prints it: printable ASCII, at most 200 characters."""
    if not text.strip() or len(text) > 200 or not text.isascii() or not text.isprintable():
        raise argparse.ArgumentTypeError(
            f"expected an offer id from `vp offers`, got {_shown(text)}"
        )
    return text


def pull_path(text: str) -> str:
    """A path to pull: relative to the remote project directory and inside it."""
    if not text.strip() or "\0" in text or not text.isprintable():
        raise argparse.ArgumentTypeError(f"expected a path, got {_shown(text)}")
    clean = posixpath.normpath(text.replace("\\", "/"))
    if text.startswith("/") or clean == ".." or clean.startswith("../"):
        raise argparse.ArgumentTypeError(
            f"{_shown(text)}: give a path inside the remote directory, e.g. outputs/"
        )
    if ".." in text.replace("\\", "/").split("/"):
        raise argparse.ArgumentTypeError(f"{_shown(text)}: '..' is not allowed in a pull path")
    return text
