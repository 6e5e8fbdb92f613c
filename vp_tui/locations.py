"""The one place that knows where vp-tui keeps its files."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import platformdirs

APP_NAME = "vp-tui"


def home() -> Path:
    """The user's home directory (``$HOME`` first, so tests can move it)."""
    return Path(os.environ.get("HOME") or Path.home())


def xdg_config_home() -> Path:
    """``$XDG_CONFIG_HOME``, else ``~/.config``: where Vast's CLI and we keep config."""
    value = os.environ.get("XDG_CONFIG_HOME")
    return Path(value) if value else home() / ".config"


def config_file() -> Path:
    """vp-tui's config file: ``$VP_CONFIG_FILE``, else ``$XDG_CONFIG_HOME/vp-tui/config.toml``."""
    override = os.environ.get("VP_CONFIG_FILE")
    if override:
        return Path(override).expanduser()
    return xdg_config_home() / APP_NAME / "config.toml"


def data_dir() -> Path:
    """Where state lives (job store, logs, demo cloud, SSH key): ``$VP_DATA_DIR`` or the
    platform's user data directory."""
    override = os.environ.get("VP_DATA_DIR")
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) readable by the user only, and return it.

    A folder that exists already keeps its mode: ``VP_DATA_DIR`` or the config
    file may point into a shared folder, whose permissions are not ours to change.
    """
    if path.is_dir():
        return path
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    for created in missing:
        with contextlib.suppress(OSError):
            created.chmod(0o700)  # mkdir's mode is filtered by the umask
    return path


def vast_key_files() -> list[Path]:
    """Where Vast's own tools keep the API key, in the order they read them."""
    return [xdg_config_home() / "vastai" / "vast_api_key", home() / ".vast_api_key"]


def runpod_config_file() -> Path:
    """RunPod's own config file holding ``[default] api_key``."""
    return home() / ".runpod" / "config.toml"
