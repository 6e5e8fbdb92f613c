"""Settings: defaults < config file < environment, plus the providers' own key files.

``load_config()`` is the one entry point; it returns the effective ``Settings``
and where every value came from, or raises ``ConfigError`` with a message that
names the file, line or field at fault.
"""

from __future__ import annotations

import getpass
import os
import sys
import tempfile
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import tomlkit
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from vp_tui import locations

Source = Literal["default", "file", "env", "provider"]

DEFAULT_EXCLUDES = [
    ".git",
    ".venv",
    "venv",
    "__pycache__",
    "node_modules",
    ".DS_Store",
    "*.pyc",
    ".env",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".env.*",
    "*.env",
    ".envrc",
    ".netrc",
    ".ssh/",
    ".aws/",
    "id_rsa",
    "id_ed25519",
    "id_ecdsa",
    "*.pem",
    "*.key",
]


class _Section(BaseModel):
    # No setting means anything at infinity or NaN: a cap of `inf` is no cap at all.
    model_config = ConfigDict(
        extra="forbid",
        use_attribute_docstrings=True,
        validate_assignment=True,
        allow_inf_nan=False,
    )


class GeneralSettings(_Section):
    """Settings for both faces."""

    default_platform: Literal["vast", "runpod", "demo"] = "vast"
    """Platform used when a command is given no --platform; `demo` always uses the demo cloud."""
    refresh_seconds: float = Field(default=300.0, ge=1.0, le=3600.0)
    """Seconds between dashboard refreshes of the offers (`R` refreshes at once). Calm on
    purpose: Vast counts every search against a daily quota."""
    instances_seconds: float = Field(default=10.0, ge=1.0, le=3600.0)
    """Seconds between refreshes of your instances (2 s while one is starting or stopping)."""
    accounts_seconds: float = Field(default=60.0, ge=5.0, le=3600.0)
    """Seconds between refreshes of the account balances."""


class VastSettings(_Section):
    """Vast.ai account and launch defaults."""

    api_key: SecretStr | None = None
    """Vast.ai API key (console -> Account -> API keys)."""
    max_price_per_hour: float = Field(default=0.50, gt=0)
    """Never rent above this many $/h (all GPUs) unless raised for one launch."""
    default_image: str = "pytorch/pytorch"
    """Docker image for new instances."""
    disk_gb: float = Field(default=20.0, gt=0)
    """Disk to allocate on new instances, in GB."""
    api_url: str = "https://console.vast.ai"
    """Base URL of the Vast.ai API."""
    timeout_seconds: float = Field(default=30.0, gt=0)
    """Per-request timeout for the Vast.ai API."""
    search_limit: int = Field(default=3000, ge=1, le=20_000)
    """Most offers asked for per search (the cheapest first): Vast counts searches
    against a daily quota, and a search for everything is the dearest kind."""


class RunPodSettings(_Section):
    """RunPod account and launch defaults."""

    api_key: SecretStr | None = None
    """RunPod API key (console -> Settings -> API Keys)."""
    cloud_type: Literal["COMMUNITY", "SECURE", "ALL"] = "COMMUNITY"
    """Which RunPod cloud to rent from."""
    default_gpu_type: str = "NVIDIA RTX 4000 Ada Generation"
    """RunPod GPU type id used when none is given."""
    default_image: str = "runpod/pytorch:2.8.0-py3.11-cuda12.8.1-cudnn-devel-ubuntu22.04"
    """Docker image for new pods."""
    container_disk_gb: int = Field(default=20, gt=0)
    """Container disk of new pods, in GB."""
    volume_gb: int = Field(default=0, ge=0)
    """Persistent volume of new pods, in GB (0 for none)."""
    max_price_per_hour: float = Field(default=0.50, gt=0)
    """Never rent above this many $/h (all GPUs) unless raised for one launch."""
    api_url: str = "https://api.runpod.io"
    """Base URL of the RunPod API: REST v2 under ``/v2``, GraphQL at ``/graphql``."""


class SyncSettings(_Section):
    """File sync between the project and an instance."""

    remote_dir: str = "/workspace"
    """Directory on the instance the project is pushed to."""
    exclude: list[str] = Field(default_factory=lambda: list(DEFAULT_EXCLUDES))
    """Patterns never synced (rsync syntax), in addition to .vpignore and .gitignore."""


class SSHSettings(_Section):
    """How vp-tui logs in to instances."""

    key_path: Path | None = None
    """Private key to use; empty means vp-tui's own ed25519 key in the data directory."""
    use_agent: bool = False
    """Also offer keys from the SSH agent."""
    connect_timeout: float = Field(default=10.0, gt=0)
    """Seconds to wait for one SSH connection attempt."""


def _duration(value: Any) -> float:
    from vp_tui.core.durations import parse_duration

    return parse_duration(value)


Duration = Annotated[float, BeforeValidator(_duration)]
"""Seconds, given as ``20s``, ``30m``, ``2h``, ``1h30m`` or a number of seconds."""

GuardAction = Literal["warn", "stop", "destroy"]


class BudgetSettings(_Section):
    """Spending limits the guards enforce on the instances vp-tui started."""

    daily_usd: float | None = Field(default=None, gt=0)
    """Most dollars to spend in a day (local time); unset for no daily limit."""
    monthly_usd: float | None = Field(default=None, gt=0)
    """Most dollars to spend in a calendar month; unset for no monthly limit."""
    action: GuardAction = "warn"
    """What to do at 100 %: warn, stop or destroy the instances vp-tui started."""


class IdleSettings(_Section):
    """Idle teardown: an instance no job of ours uses and whose GPU sleeps."""

    gpu_percent: float = Field(default=5.0, ge=0, le=100)
    """GPU utilisation (%) under which an instance counts as idle."""
    after: Duration = 1800.0
    """How long it must stay idle (e.g. 30m) before the action."""
    action: GuardAction | Literal["off"] = "warn"
    """What to do with an idle instance: off, warn, stop or destroy."""


class AlertSettings(_Section):
    """What to be told about: prices and balances."""

    prices: list[str] = Field(default_factory=list)
    """Price alerts, in the offers filter language (e.g. "h100 <2")."""
    balance_below_usd: float | None = Field(default=None, gt=0)
    """Warn when an account's balance drops below this many dollars."""


class Settings(BaseSettings):
    """Everything vp-tui can be configured with."""

    model_config = SettingsConfigDict(
        env_prefix="VP_",
        env_nested_delimiter="__",
        extra="forbid",
        use_attribute_docstrings=True,
        nested_model_default_partial_update=True,
    )

    general: GeneralSettings = Field(default_factory=GeneralSettings)
    """Settings for both faces."""
    vast: VastSettings = Field(default_factory=VastSettings)
    """Vast.ai."""
    runpod: RunPodSettings = Field(default_factory=RunPodSettings)
    """RunPod."""
    sync: SyncSettings = Field(default_factory=SyncSettings)
    """File sync."""
    ssh: SSHSettings = Field(default_factory=SSHSettings)
    """SSH."""
    budget: BudgetSettings = Field(default_factory=BudgetSettings)
    """Spending limits."""
    idle: IdleSettings = Field(default_factory=IdleSettings)
    """Idle teardown."""
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    """Price and balance alerts."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The config file arrives as init arguments; the environment wins over it.
        return (env_settings, init_settings)

    def has_any_key(self) -> bool:
        """Whether any platform has an API key: without one, vp-tui runs on the demo cloud."""
        return self.vast.api_key is not None or self.runpod.api_key is not None


SECTIONS: dict[str, type[_Section]] = {
    "general": GeneralSettings,
    "vast": VastSettings,
    "runpod": RunPodSettings,
    "sync": SyncSettings,
    "ssh": SSHSettings,
    "budget": BudgetSettings,
    "idle": IdleSettings,
    "alerts": AlertSettings,
}
SECRET_KEYS = {"vast.api_key", "runpod.api_key"}


class ConfigError(Exception):
    """The configuration cannot be used; the message says where and why."""


@dataclass
class LoadedConfig:
    """Effective settings and where each value came from."""

    settings: Settings
    path: Path
    sources: dict[str, Source] = field(default_factory=dict)
    """Dotted key -> origin of its value."""
    provider_files: dict[str, str] = field(default_factory=dict)
    """Dotted key -> the provider file or variable a key was found in."""


def mask(secret: SecretStr | str | None) -> str:
    """A secret shown safely: its last 4 characters at most."""
    if secret is None:
        return ""
    value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    if not value:
        return ""
    if len(value) <= 8:
        return "****"
    return "****" + value[-4:]


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def _format_validation(exc: ValidationError, where: str, env: bool = False) -> str:
    problems = []
    for err in exc.errors():
        loc = ".".join(str(part) for part in err["loc"])
        name = f"VP_{loc.replace('.', '__').upper()}" if env else loc
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown setting (check the spelling; see docs/configuration.md)"
        problems.append(f"{name}: {message}")
    return f"{where}: " + "; ".join(problems)


def _env_keys() -> set[str]:
    found = set()
    for name in os.environ:
        upper = name.upper()
        if not upper.startswith("VP_"):
            continue
        parts = upper[3:].lower().split("__")
        if len(parts) == 2 and parts[0] in SECTIONS:
            found.add(f"{parts[0]}.{parts[1]}")
    return found


def _provider_vast_key() -> tuple[str, str] | None:
    value = os.environ.get("VAST_API_KEY", "").strip()
    if value:
        return value, "env VAST_API_KEY"
    for path in locations.vast_key_files():
        try:
            value = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            continue
        if value:
            return value, str(path)
    return None


def _provider_runpod_key() -> tuple[str, str] | None:
    value = os.environ.get("RUNPOD_API_KEY", "").strip()
    if value:
        return value, "env RUNPOD_API_KEY"
    path = locations.runpod_config_file()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    default = data.get("default")
    found = default.get("api_key") if isinstance(default, dict) else None
    if isinstance(found, str) and found.strip():
        return found.strip(), str(path)
    return None


def load_config(path: Path | None = None) -> LoadedConfig:
    """Read the effective settings; raises ``ConfigError`` naming what is wrong."""
    path = path or locations.config_file()
    file_data = _read_toml(path)
    try:
        # Validate the file on its own first, so an error names the file, not the env.
        _validate_file_only(file_data)
    except ValidationError as exc:
        raise ConfigError(_format_validation(exc, str(path))) from None
    try:
        settings = Settings(**file_data)
    except ValidationError as exc:
        raise ConfigError(_format_validation(exc, "environment", env=True)) from None

    sources: dict[str, Source] = {}
    env_keys = _env_keys()
    for section, model in SECTIONS.items():
        file_section = file_data.get(section, {})
        for key in model.model_fields:
            dotted = f"{section}.{key}"
            if dotted in env_keys:
                sources[dotted] = "env"
            elif isinstance(file_section, dict) and key in file_section:
                sources[dotted] = "file"
            else:
                sources[dotted] = "default"

    provider_files: dict[str, str] = {}
    if settings.vast.api_key is None and (found := _provider_vast_key()):
        settings.vast.api_key = SecretStr(found[0])
        sources["vast.api_key"] = "provider"
        provider_files["vast.api_key"] = found[1]
    if settings.runpod.api_key is None and (found := _provider_runpod_key()):
        settings.runpod.api_key = SecretStr(found[0])
        sources["runpod.api_key"] = "provider"
        provider_files["runpod.api_key"] = found[1]
    return LoadedConfig(settings, path, sources, provider_files)


class _FileOnly(BaseModel):
    model_config = ConfigDict(extra="forbid")
    general: GeneralSettings = Field(default_factory=GeneralSettings)
    vast: VastSettings = Field(default_factory=VastSettings)
    runpod: RunPodSettings = Field(default_factory=RunPodSettings)
    sync: SyncSettings = Field(default_factory=SyncSettings)
    ssh: SSHSettings = Field(default_factory=SSHSettings)
    budget: BudgetSettings = Field(default_factory=BudgetSettings)
    idle: IdleSettings = Field(default_factory=IdleSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)


def _validate_file_only(data: Mapping[str, Any]) -> None:
    _FileOnly.model_validate(data)


def iter_settings(loaded: LoadedConfig) -> Iterator[tuple[str, Any, Source, str | None]]:
    """Every setting as (dotted key, display value with secrets masked, source, origin)."""
    for section, model in SECTIONS.items():
        values = getattr(loaded.settings, section)
        for key in model.model_fields:
            dotted = f"{section}.{key}"
            value = getattr(values, key)
            if isinstance(value, SecretStr) or dotted in SECRET_KEYS:
                shown: Any = mask(value) if value is not None else None
            elif isinstance(value, Path):
                shown = str(value)
            else:
                shown = value
            yield dotted, shown, loaded.sources[dotted], loaded.provider_files.get(dotted)


def parse_assignment(assignment: str) -> tuple[str, str, Any]:
    """Turn ``section.key=value`` into a validated (section, key, TOML value)."""
    if "=" not in assignment:
        raise ConfigError(f"--set {assignment!r}: expected section.key=value")
    dotted, raw = assignment.split("=", 1)
    dotted = dotted.strip()
    if dotted.count(".") != 1:
        raise ConfigError(f"--set {dotted!r}: expected section.key, e.g. vast.max_price_per_hour")
    section, key = dotted.split(".")
    model = SECTIONS.get(section)
    if model is None:
        raise ConfigError(f"--set {dotted}: unknown section {section!r} ({', '.join(SECTIONS)})")
    if key not in model.model_fields:
        known = ", ".join(model.model_fields)
        raise ConfigError(f"--set {dotted}: unknown setting {key!r} in [{section}] ({known})")
    return section, key, coerce_value(section, key, raw)


def coerce_value(section: str, key: str, raw: str | Any) -> Any:
    """Validate ``raw`` for one setting and return it as a plain TOML value."""
    info = SECTIONS[section].model_fields[key]
    value: Any = raw
    if isinstance(raw, str):
        stripped = raw.strip()
        if stripped.startswith("["):
            try:
                value = tomllib.loads(f"v = {stripped}")["v"]
            except tomllib.TOMLDecodeError:
                value = raw
        elif info.annotation == list[str]:
            value = [part.strip() for part in raw.split(",") if part.strip()]
    if isinstance(value, str) and value == "" and _is_optional(info.annotation):
        return None
    try:
        validated = getattr(SECTIONS[section].model_validate({key: value}), key)
    except ValidationError as exc:
        first = exc.errors()[0]["msg"]
        raise ConfigError(
            f"{section}.{key}: {first} (got {_safe_repr(section, key, raw)})"
        ) from None
    if isinstance(validated, SecretStr):
        return validated.get_secret_value()
    if isinstance(validated, Path):
        return str(validated)
    return validated


def _is_optional(annotation: Any) -> bool:
    return "None" in repr(annotation)


def _safe_repr(section: str, key: str, raw: Any) -> str:
    return "a secret" if f"{section}.{key}" in SECRET_KEYS else repr(raw)


def write_settings(updates: Mapping[tuple[str, str], Any], path: Path | None = None) -> Path:
    """Apply ``{(section, key): value}`` to the config file, keeping everything else.

    ``None`` removes a key. The file is replaced atomically, mode 0600, in a
    0700 directory. Comments and layout of the existing file are kept.
    """
    path = path or locations.config_file()
    _read_toml(path)  # refuse to rewrite a file we cannot parse
    try:
        document = tomlkit.parse(path.read_text(encoding="utf-8")) if path.exists() else None
    except (OSError, tomlkit.exceptions.ParseError) as exc:
        raise ConfigError(f"{path}: cannot update: {exc}") from None
    if document is None:
        document = tomlkit.document()
    for (section, key), value in updates.items():
        table = document.get(section)
        if table is None:
            if value is None:
                continue
            table = tomlkit.table()
            document[section] = table
        if value is None:
            table.pop(key, None)
        else:
            table[key] = value
    locations.ensure_private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".toml", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(tomlkit.dumps(document))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def check_data_dir() -> Path:
    """The data directory, created if missing; ``ConfigError`` when it cannot be used.

    Names ``VP_DATA_DIR`` when that variable chose the directory, so a mistyped
    value is found at once rather than as a failure deep inside a command.
    """
    path = locations.data_dir()
    where = f"VP_DATA_DIR={path}" if os.environ.get("VP_DATA_DIR") else f"data directory {path}"
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{where}: not a directory")
    try:
        locations.ensure_private_dir(path)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(f"{where}: cannot be used as the data directory: {reason}") from None
    if not os.access(path, os.R_OK | os.W_OK | os.X_OK):
        raise ConfigError(f"{where}: not writable")
    return path


def read_secret(prompt: str) -> str:
    """A secret from stdin (one line) or, on a terminal, a hidden prompt."""
    if sys.stdin is not None and sys.stdin.isatty():
        value = getpass.getpass(prompt)
    else:
        value = sys.stdin.readline() if sys.stdin is not None else ""
    value = value.strip()
    if not value:
        raise ConfigError("no key given on standard input")
    return value
