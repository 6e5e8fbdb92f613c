"""The log file: written where the docs say, at the level asked for, with no key in it."""

from __future__ import annotations

import logging
import logging.handlers
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from vp_tui import logs


@pytest.fixture
def log_path(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "logs" / "vp-tui.log"
    yield path
    # Leave logging as the other tests expect it: no file handler of ours.
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, logging.handlers.RotatingFileHandler):
            root.removeHandler(handler)
            handler.close()
    logs._handler = None
    logging.getLogger("vp_tui").setLevel(logging.NOTSET)
    root.setLevel(logging.WARNING)


def _flush() -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()


def test_levels_and_private_file(log_path: Path) -> None:
    logs.setup_logging("warning", log_path)
    logging.getLogger("vp_tui.some.module").info("not this")
    logging.getLogger("vp_tui.some.module").warning("listing %s failed: %s", "vast", "HTTP 503")
    _flush()
    text = log_path.read_text()
    assert "listing vast failed: HTTP 503" in text and "not this" not in text
    assert log_path.stat().st_mode & 0o777 == 0o600
    logs.setup_logging("debug", log_path)
    logging.getLogger("vp_tui.x").debug("now this")
    _flush()
    assert "now this" in log_path.read_text()


def test_keys_never_reach_the_file(log_path: Path) -> None:
    logs.setup_logging("debug", log_path)
    key = "a1b2c3d4e5f6a7b8c9d0secretkey"
    logs.register_secrets([key, "short"])
    log = logging.getLogger("vp_tui.platforms.vast")
    log.debug("GET https://console.vast.ai/api/v0/instances/?owner=me&api_key=%s", key)
    log.debug("headers {'Authorization': 'Bearer rpa_%s'}", "ZZZZYYYYXXXX1234")
    log.warning("the key %s was rejected", key)
    # urllib3 logs URLs with the key in the query string at DEBUG
    logging.getLogger("urllib3.connectionpool").debug(
        '"GET /api/v0/users/current/?api_key=%s HTTP/1.1" 200 None', "abcdefgh12345678"
    )
    try:
        raise ValueError(f"bad answer for {key}")
    except ValueError:
        log.exception("failure")
    _flush()
    text = log_path.read_text()
    assert key not in text and "ZZZZYYYYXXXX1234" not in text and "abcdefgh12345678" not in text
    assert text.count("****") >= 5
    assert "Traceback" in text  # the traceback is kept, redacted


def test_control_characters_are_written_out(log_path: Path) -> None:
    logs.setup_logging("info", log_path)
    logging.getLogger("vp_tui.jobs").warning("job said %s", "\x1b[2J\x1b[31mred\x07")
    _flush()
    text = log_path.read_text()
    assert "\x1b" not in text and "\\x1b[2J" in text


def test_unknown_level_is_refused(log_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown log level"):
        logs.setup_logging("loud", log_path)


def test_vp_tui_takes_log_level() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "vp_tui", "--log-level", "loud"], capture_output=True, text=True
    )
    assert result.returncode == 2 and "--log-level" in result.stderr


def test_vp_logs_to_the_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vp_tui.cli import main as vp

    monkeypatch.setenv("VP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VP_SIM_FAULTS", "runpod:error=503")
    assert vp(["--demo", "--log-level", "info", "list-instances"]) == 1
    text = (tmp_path / "data" / "logs" / "vp-tui.log").read_text()
    assert "runpod" in text and "503" in text
    assert not any(
        isinstance(h, logging.handlers.RotatingFileHandler) for h in logging.getLogger().handlers
    )
