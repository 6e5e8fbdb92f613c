"""Where vp-tui's own log goes: a rotating file in the data directory, keys redacted.

The dashboard owns the terminal, so nothing may print there; every module logs
with ``logging.getLogger(__name__)`` and this module sends it to
``<data dir>/logs/vp-tui.log`` (``vp-tui --log-level`` / ``vp --log-level``
choose how much). API keys never reach the file: a filter on the handler
replaces every known secret, ``api_key=`` query values and bearer tokens, so
an SDK or urllib3 logging a URL at DEBUG leaks nothing either.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import threading
from collections.abc import Iterable
from pathlib import Path

from vp_tui import locations
from vp_tui.core.text import visible

__all__ = [
    "LEVELS",
    "SecretFilter",
    "close_logging",
    "log_file",
    "register_secrets",
    "setup_logging",
]

LEVELS = ("debug", "info", "warning", "error")
"""The names ``--log-level`` takes."""

_FORMAT = "%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s"
_PATTERNS = (
    (re.compile(r"(api_key=)[^&\s'\"]+", re.IGNORECASE), r"\1****"),
    (re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE), r"\1****"),
    (
        re.compile(r"((?:api[-_]?key|authorization)['\"]?\s*[:=]\s*['\"]?)[^'\"\s,}]+", re.I),
        r"\1****",
    ),
)


def log_file() -> Path:
    """The log file: ``<data dir>/logs/vp-tui.log``."""
    return locations.data_dir() / "logs" / "vp-tui.log"


class SecretFilter(logging.Filter):
    """Rewrites each record's message so no API key survives into the file."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, secrets: Iterable[str]) -> None:
        """Redact these values from now on (short values are ignored: too many false hits)."""
        with self._lock:
            self._secrets.update(s for s in secrets if s and len(s) >= 8)

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced by ``****``."""
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for secret in secrets:
            text = text.replace(secret, "****")
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Freeze the record's message, redacted (arguments are merged in first)."""
        try:
            message = record.getMessage()
        except Exception:  # a broken format string still gets logged, as text
            message = f"{record.msg!r} {record.args!r}"
        record.msg = visible(self.redact(message), newlines=True)  # no escapes reach a `tail -f`
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


_filter = SecretFilter()
_handler: logging.Handler | None = None


def register_secrets(secrets: Iterable[str]) -> None:
    """Tell the log filter about secrets (API keys) loaded at run time."""
    _filter.add(secrets)


def setup_logging(level: str = "info", path: Path | None = None) -> Path:
    """Send the ``vp_tui`` loggers (and the SDKs' warnings) to a rotating file.

    Called once per process by each face; calling it again changes the level.
    Returns the file's path.
    """
    global _handler
    path = path or log_file()
    locations.ensure_private_dir(path.parent)
    numeric = getattr(logging, level.upper(), None)
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}: choose one of {', '.join(LEVELS)}")
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
        _handler.close()
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=2 * 1024 * 1024, backupCount=3, encoding="utf-8", delay=True
    )
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.addFilter(_filter)
    handler.setLevel(numeric)
    root.addHandler(handler)
    # Our own modules at the chosen level; third-party libraries only from warnings
    # up unless debugging was asked for.
    logging.getLogger("vp_tui").setLevel(numeric)
    root.setLevel(numeric if numeric <= logging.DEBUG else logging.WARNING)
    if numeric > logging.DEBUG:
        for noisy in ("paramiko", "asyncssh", "urllib3"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    _handler = handler
    path.touch(mode=0o600, exist_ok=True)
    return path


def close_logging() -> None:
    """Detach and close the log file (the end of a `vp` command)."""
    global _handler
    if _handler is not None:
        logging.getLogger().removeHandler(_handler)
        _handler.close()
        _handler = None
