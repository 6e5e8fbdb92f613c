"""Settings precedence, key discovery, config-set and config-show."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from vp_tui import locations
from vp_tui.cli import main as vp
from vp_tui.config import ConfigError, check_data_dir, load_config, mask

SECRET = "vk-0123456789abcdefSECRETwxyz"


def write_config(text: str) -> Path:
    path = locations.config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults() -> None:
    loaded = load_config()
    assert loaded.settings.vast.max_price_per_hour == 0.50
    assert loaded.settings.vast.default_image == "pytorch/pytorch"
    assert loaded.settings.runpod.cloud_type == "COMMUNITY"
    assert loaded.settings.runpod.default_gpu_type == "NVIDIA RTX 4000 Ada Generation"
    assert loaded.settings.sync.remote_dir == "/workspace"
    assert {".git", ".venv", "__pycache__", "node_modules", ".DS_Store", "*.pyc", ".env"} <= set(
        loaded.settings.sync.exclude
    )
    assert loaded.settings.vast.api_key is None
    assert set(loaded.sources.values()) == {"default"}


def test_precedence_default_file_env(monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(
        "[vast]\nmax_price_per_hour = 1.25\ndisk_gb = 40\n[general]\nrefresh_seconds = 5\n"
    )
    monkeypatch.setenv("VP_VAST__DISK_GB", "64")
    loaded = load_config()
    assert loaded.settings.vast.max_price_per_hour == 1.25
    assert loaded.settings.vast.disk_gb == 64
    assert loaded.settings.general.refresh_seconds == 5
    assert loaded.settings.vast.default_image == "pytorch/pytorch"
    assert loaded.sources["vast.max_price_per_hour"] == "file"
    assert loaded.sources["vast.disk_gb"] == "env"
    assert loaded.sources["vast.default_image"] == "default"


def test_config_file_path_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "elsewhere.toml"
    other.write_text('[runpod]\ncloud_type = "SECURE"\n')
    monkeypatch.setenv("VP_CONFIG_FILE", str(other))
    loaded = load_config()
    assert loaded.path == other
    assert loaded.settings.runpod.cloud_type == "SECURE"


@pytest.mark.parametrize(
    ("setup", "origin"),
    [
        (lambda home: os.environ.__setitem__("VAST_API_KEY", SECRET), "env VAST_API_KEY"),
        (
            lambda home: _write(home / ".config" / "vastai" / "vast_api_key", SECRET + "\n"),
            "vastai/vast_api_key",
        ),
        (lambda home: _write(home / ".vast_api_key", SECRET), ".vast_api_key"),
    ],
)
def test_vast_key_discovery(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch, setup: object, origin: str
) -> None:
    monkeypatch.setenv("VAST_API_KEY", "")
    setup(isolated_home)  # type: ignore[operator]
    loaded = load_config()
    assert loaded.settings.vast.api_key is not None
    assert loaded.settings.vast.api_key.get_secret_value() == SECRET
    assert loaded.sources["vast.api_key"] == "provider"
    assert origin in loaded.provider_files["vast.api_key"]


def test_vast_key_file_order(isolated_home: Path) -> None:
    _write(isolated_home / ".config" / "vastai" / "vast_api_key", "from-xdg-file-1234")
    _write(isolated_home / ".vast_api_key", "from-legacy-file-5678")
    assert load_config().settings.vast.api_key.get_secret_value() == "from-xdg-file-1234"  # type: ignore[union-attr]


def test_runpod_key_discovery(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(isolated_home / ".runpod" / "config.toml", f'[default]\napi_key = "{SECRET}"\n')
    loaded = load_config()
    assert loaded.settings.runpod.api_key.get_secret_value() == SECRET  # type: ignore[union-attr]
    assert loaded.provider_files["runpod.api_key"].endswith(".runpod/config.toml")
    monkeypatch.setenv("RUNPOD_API_KEY", "rp-from-env-9999")
    loaded = load_config()
    assert loaded.settings.runpod.api_key.get_secret_value() == "rp-from-env-9999"  # type: ignore[union-attr]
    assert loaded.provider_files["runpod.api_key"] == "env RUNPOD_API_KEY"


def test_own_key_beats_provider_files(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAST_API_KEY", "provider-key-0000")
    write_config('[vast]\napi_key = "own-key-1111"\n')
    loaded = load_config()
    assert loaded.settings.vast.api_key.get_secret_value() == "own-key-1111"  # type: ignore[union-attr]
    assert loaded.sources["vast.api_key"] == "file"


def test_malformed_toml_names_file_and_line() -> None:
    path = write_config("[vast]\nmax_price_per_hour = \n")
    with pytest.raises(ConfigError) as info:
        load_config()
    assert str(path) in str(info.value)
    assert "line 2" in str(info.value)


def test_invalid_field_names_file_and_field() -> None:
    path = write_config('[vast]\nmax_price_per_hour = "cheap"\napi_kye = "x"\n')
    with pytest.raises(ConfigError) as info:
        load_config()
    message = str(info.value)
    assert str(path) in message
    assert "vast.max_price_per_hour" in message
    assert "vast.api_kye: unknown setting" in message


def test_invalid_env_names_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VP_GENERAL__REFRESH_SECONDS", "often")
    with pytest.raises(ConfigError, match="VP_GENERAL__REFRESH_SECONDS"):
        load_config()


@pytest.mark.parametrize("value", ["inf", "-inf", "nan"])
def test_infinite_or_nan_numbers_are_refused(value: str) -> None:
    path = write_config(f"[vast]\nmax_price_per_hour = {value}\n")
    with pytest.raises(ConfigError) as info:
        load_config()
    assert str(path) in str(info.value) and "vast.max_price_per_hour" in str(info.value)


def test_data_dir_is_created_private_and_a_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VP_DATA_DIR", str(tmp_path / "new" / "data"))
    created = check_data_dir()
    assert created.is_dir() and stat.S_IMODE(created.stat().st_mode) == 0o700
    a_file = tmp_path / "file"
    a_file.write_text("x")
    monkeypatch.setenv("VP_DATA_DIR", str(a_file))
    with pytest.raises(ConfigError, match=f"VP_DATA_DIR={a_file}: not a directory"):
        check_data_dir()
    monkeypatch.setenv("VP_DATA_DIR", str(a_file / "below"))
    with pytest.raises(ConfigError, match="cannot be used as the data directory"):
        check_data_dir()


def test_cli_malformed_config_exit_2_no_traceback() -> None:
    path = write_config("[vast\n")
    result = subprocess.run(
        [sys.executable, "-m", "vp_tui.cli", "config-show"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert str(path) in result.stderr
    assert "line 1" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_config_set_writes_0600_in_0700_dir(capsys: pytest.CaptureFixture[str]) -> None:
    assert vp(["config-set", "--vast-api-key", SECRET, "--default-platform", "runpod"]) == 0
    path = locations.config_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    loaded = load_config()
    assert loaded.settings.vast.api_key.get_secret_value() == SECRET  # type: ignore[union-attr]
    assert loaded.settings.general.default_platform == "runpod"
    assert SECRET not in capsys.readouterr().out


def test_config_set_reads_key_from_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(SECRET + "\n"))
    assert vp(["config-set", "--runpod-api-key", "-"]) == 0
    loaded = load_config()
    assert loaded.settings.runpod.api_key.get_secret_value() == SECRET  # type: ignore[union-attr]


def test_config_set_keeps_other_settings_and_comments() -> None:
    path = write_config(
        "# my notes\n[vast]\ndisk_gb = 77 # big disk\n\n[sync]\nremote_dir = '/data'\n"
    )
    assert (
        vp(["config-set", "--set", "vast.max_price_per_hour=0.9", "--set", "ssh.use_agent=true"])
        == 0
    )
    text = path.read_text()
    assert "# my notes" in text and "# big disk" in text
    loaded = load_config()
    assert loaded.settings.vast.disk_gb == 77
    assert loaded.settings.sync.remote_dir == "/data"
    assert loaded.settings.vast.max_price_per_hour == 0.9
    assert loaded.settings.ssh.use_agent is True


def test_config_set_list_and_clear() -> None:
    assert vp(["config-set", "--set", "sync.exclude=.git,data/,*.ckpt"]) == 0
    assert load_config().settings.sync.exclude == [".git", "data/", "*.ckpt"]
    assert vp(["config-set", "--set", "ssh.key_path=~/.ssh/id_ed25519"]) == 0
    assert vp(["config-set", "--set", "ssh.key_path="]) == 0
    assert load_config().settings.ssh.key_path is None


@pytest.mark.parametrize(
    "assignment",
    [
        "vast.max_price_per_hour=abc",
        "vast.nope=1",
        "nosection.key=1",
        "justakey",
        "general.refresh_seconds=0",
    ],
)
def test_config_set_rejects_bad_values(assignment: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert vp(["config-set", "--set", assignment]) == 2
    err = capsys.readouterr().err
    assert "vp:" in err and "Traceback" not in err
    assert not locations.config_file().exists()


def test_config_show_masks_keys(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    vp(["config-set", "--vast-api-key", SECRET])
    monkeypatch.setenv("RUNPOD_API_KEY", "rp-SECRET-value-4321")
    capsys.readouterr()
    assert vp(["config-show"]) == 0
    out = capsys.readouterr().out
    assert SECRET not in out and "rp-SECRET-value-4321" not in out
    assert "****wxyz" in out and "****4321" in out
    assert "provider (env RUNPOD_API_KEY)" in out
    assert vp(["config-show", "--json"]) == 0
    raw = capsys.readouterr().out
    assert SECRET not in raw and "rp-SECRET-value-4321" not in raw
    data = json.loads(raw)
    assert data["settings"]["vast.api_key"] == {"value": "****wxyz", "source": "file"}
    assert data["settings"]["runpod.api_key"]["source"] == "provider"
    assert data["settings"]["vast.max_price_per_hour"] == {"value": 0.5, "source": "default"}


def test_mask_short_and_empty() -> None:
    assert mask(None) == ""
    assert mask("abc") == "****"
    assert mask("abcdefghij") == "****ghij"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        vp(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("vp 0.")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_a_shared_folder_keeps_its_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """VP_DATA_DIR or VP_CONFIG_FILE inside a shared (1777) folder: only what vp-tui
    creates is private; the existing folder keeps its mode."""
    from vp_tui import locations
    from vp_tui.services.store import Store

    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    monkeypatch.setenv("VP_DATA_DIR", str(shared))
    Store()
    assert shared.stat().st_mode & 0o7777 == 0o1777
    nested = shared / "vp" / "data"
    locations.ensure_private_dir(nested)
    assert nested.stat().st_mode & 0o777 == 0o700
    assert (shared / "vp").stat().st_mode & 0o777 == 0o700
    assert shared.stat().st_mode & 0o7777 == 0o1777
    monkeypatch.setenv("VP_CONFIG_FILE", str(shared / "config.toml"))
    assert vp(["config-set", "--set", "vast.disk_gb=30"]) == 0
    assert shared.stat().st_mode & 0o7777 == 0o1777
    assert (shared / "config.toml").stat().st_mode & 0o777 == 0o600
