"""Who we are and whom we trust over SSH: vp-tui's key pair and its known_hosts file.

vp-tui logs in to instances with its own ed25519 key (``data_dir()/ssh/id_ed25519``,
created on first use), or with the key / agent the user configured in ``[ssh]``.

Host keys are trusted on first use, per instance: every entry in vp-tui's own
known_hosts file is recorded under an alias naming the instance
(``vp-<platform>-<instance id>``), never under ``host:port``. Providers reuse
addresses and ports (RunPod's proxy, Vast's shared IPs), so a new instance on a
reused endpoint is simply a new entry, while the same instance presenting a
different key is a :class:`HostKeyChanged` error the user sees.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import hmac
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vp_tui import locations
from vp_tui.config import SSHSettings
from vp_tui.core.models import Instance, SSHEndpoint

KEY_COMMENT = "vp-tui"
"""Comment of the public key vp-tui generates (shown in the providers' key lists)."""

_ALIAS_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class RemoteError(Exception):
    """Something went wrong talking to an instance; the message says what and what to do."""


class SSHKeyError(RemoteError):
    """The SSH key to log in with is missing, unreadable or protected by a passphrase."""


class HostKeyChanged(RemoteError):
    """An instance presented a host key different from the one recorded for it."""

    def __init__(
        self,
        alias: HostAlias,
        expected: list[str],
        got: str,
        known_hosts: Path,
        lines: list[int],
    ) -> None:
        self.alias = alias
        self.expected = expected
        self.got = got
        self.known_hosts = known_hosts
        self.lines = lines
        where = f"line {', '.join(map(str, lines))} of " if lines else ""
        super().__init__(
            f"The SSH host key of {alias.describe()} has changed: expected "
            f"{' or '.join(expected)}, got {got}. The instance may have been rebuilt, or "
            f"someone may be intercepting the connection; vp-tui will not connect. If you "
            f"trust the new key, run `vp ssh-forget {alias.instance_id}` or delete the "
            f"entries for {alias.name} ({where}{known_hosts}) and connect again."
        )


@dataclass(frozen=True)
class HostAlias:
    """The name an instance's host key is recorded under, whatever its address."""

    platform: str
    instance_id: str

    @classmethod
    def for_instance(cls, instance: Instance) -> HostAlias:
        """The alias of a platform's instance."""
        return cls(instance.platform, instance.instance_id)

    @property
    def name(self) -> str:
        """``vp-<platform>-<instance id>``, restricted to characters safe in known_hosts."""
        return "vp-" + _ALIAS_UNSAFE.sub("_", f"{self.platform}-{self.instance_id}")

    def describe(self) -> str:
        """The instance as named in messages: ``vast instance 123``."""
        return f"{self.platform} instance {self.instance_id}"

    def __str__(self) -> str:
        return self.name


# ---------------------------------------------------------------------------------- keys


def ssh_dir() -> Path:
    """vp-tui's SSH directory (mode 0700): its key pair and known_hosts live here."""
    return locations.data_dir() / "ssh"


def app_key_path() -> Path:
    """Where vp-tui's own private key lives."""
    return ssh_dir() / "id_ed25519"


def ensure_app_key(path: Path | None = None) -> Path:
    """vp-tui's own ed25519 key (created on first use: private 0600, ``.pub`` beside it).

    Safe when several processes race to create it: one key wins, all use it.
    """
    path = path or app_key_path()
    locations.ensure_private_dir(path.parent)
    if path.exists():
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)  # OpenSSH refuses private keys others can read
        if not path.with_name(path.name + ".pub").exists():
            _write_atomic(path.with_name(path.name + ".pub"), _public_line(path) + "\n", 0o644)
        return path
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    fd, tmp = tempfile.mkstemp(prefix=".id_ed25519-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(private)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)  # fails if another process created the key first
        except FileExistsError:
            return ensure_app_key(path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    _write_atomic(path.with_name(path.name + ".pub"), f"{public.decode()} {KEY_COMMENT}\n", 0o644)
    return path


def _write_atomic(path: Path, text: str, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _public_line(private_path: Path) -> str:
    key = _load_private(private_path)
    return f"{key.get_name()} {key.get_base64()} {KEY_COMMENT}"


def _load_private(path: Path) -> paramiko.PKey:
    try:
        return paramiko.PKey.from_path(path)
    except FileNotFoundError:
        raise SSHKeyError(f"SSH key {path} does not exist (check ssh.key_path)") from None
    except (paramiko.PasswordRequiredException, TypeError):
        # paramiko reports a passphrase-protected OpenSSH key as a TypeError
        raise SSHKeyError(
            f"SSH key {path} is protected by a passphrase: add it to your SSH agent and set "
            "ssh.use_agent = true, or use a key without a passphrase"
        ) from None
    except (OSError, ValueError, paramiko.SSHException) as exc:
        raise SSHKeyError(f"cannot read SSH key {path}: {exc}") from None


@dataclass(frozen=True)
class Identity:
    """How vp-tui proves who it is: a private key file, and/or the SSH agent."""

    key_path: Path | None
    use_agent: bool = False

    def load_key(self) -> paramiko.PKey | None:
        """The private key to authenticate with; None when the agent is to offer it
        (no key file, or a passphrase-protected one with ``use_agent``)."""
        if self.key_path is None:
            return None
        try:
            return _load_private(self.key_path)
        except SSHKeyError as exc:
            if self.use_agent and "passphrase" in str(exc):
                return None
            raise

    def public_key(self) -> str:
        """The OpenSSH public key line to register with a platform (``ssh-ed25519 AAAA... c``)."""
        if self.key_path is None:
            raise SSHKeyError("no SSH key file is configured (ssh.key_path), only the agent")
        pub = self.key_path.with_name(self.key_path.name + ".pub")
        try:
            line = pub.read_text(encoding="utf-8").strip()
        except OSError:
            line = ""
        return line or _public_line(self.key_path)


def resolve_identity(settings: SSHSettings | None = None) -> Identity:
    """The identity the settings ask for: the user's key, else vp-tui's own (created now)."""
    settings = settings or SSHSettings()
    if settings.key_path is not None:
        path = settings.key_path.expanduser()
        if not path.exists():
            raise SSHKeyError(f"SSH key {path} does not exist (check ssh.key_path)")
        return Identity(path, settings.use_agent)
    return Identity(ensure_app_key(), settings.use_agent)


# --------------------------------------------------------------------------- known hosts


def fingerprint(key_blob: bytes) -> str:
    """The OpenSSH-style SHA256 fingerprint of a public key blob."""
    digest = hashlib.sha256(key_blob).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


@dataclass(frozen=True)
class KnownKey:
    """One host key recorded for an alias."""

    key_type: str
    blob: bytes
    line: int
    """1-based line in the known_hosts file."""

    @property
    def fingerprint(self) -> str:
        """SHA256 fingerprint, as ``ssh-keygen -l`` shows it."""
        return fingerprint(self.blob)

    def to_pkey(self) -> paramiko.PKey:
        """The key as paramiko's object."""
        return paramiko.PKey.from_type_string(self.key_type, self.blob)


def _name_matches(field: str, name: str) -> bool:
    for entry in field.split(","):
        if entry.startswith("|1|"):
            try:
                _, _, salt, digest = entry.split("|")
                mac = hmac.new(base64.b64decode(salt), name.encode(), hashlib.sha1).digest()
            except (ValueError, TypeError):
                continue
            if hmac.compare_digest(mac, base64.b64decode(digest)):
                return True
        elif entry == name:
            return True
    return False


class KnownHosts:
    """vp-tui's own known_hosts file (OpenSSH format, entries under per-instance aliases).

    Shared with the system ``ssh`` and rsync through ``UserKnownHostsFile`` and
    ``HostKeyAlias``; appends are serialised with a lock so concurrent vp
    processes never corrupt it.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or ssh_dir() / "known_hosts"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        locations.ensure_private_dir(self.path.parent)
        lock = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _lines(self) -> list[str]:
        try:
            return self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return []

    def lookup(self, alias: HostAlias) -> list[KnownKey]:
        """The host keys recorded for an instance (empty: never seen)."""
        found = []
        for number, raw in enumerate(self._lines(), start=1):
            parts = raw.split()
            if len(parts) < 3 or parts[0].startswith(("#", "@")):
                continue
            if not _name_matches(parts[0], alias.name):
                continue
            try:
                blob = base64.b64decode(parts[2], validate=True)
            except ValueError:
                continue
            found.append(KnownKey(parts[1], blob, number))
        return found

    def is_known(self, alias: HostAlias) -> bool:
        """Whether any host key is recorded for the instance."""
        return bool(self.lookup(alias))

    def verify(self, alias: HostAlias, key: paramiko.PKey) -> bool:
        """Check ``key`` against what is recorded for the instance: record it on first use.

        Returns True when the key was new (now recorded), False when it matched;
        raises :class:`HostKeyChanged` when the instance is known with other keys.
        """
        blob = key.asbytes()
        with self._locked():
            known = self.lookup(alias)
            if any(entry.blob == blob for entry in known):
                return False
            if known:
                raise HostKeyChanged(
                    alias,
                    [entry.fingerprint for entry in known],
                    fingerprint(blob),
                    self.path,
                    [entry.line for entry in known],
                )
            self._append(f"{alias.name} {key.get_name()} {key.get_base64()}")
            return True

    def add(self, alias: HostAlias, key_type: str, key_base64: str) -> None:
        """Record a host key for an instance (e.g. one the provider published)."""
        with self._locked():
            blob = base64.b64decode(key_base64)
            if any(entry.blob == blob for entry in self.lookup(alias)):
                return
            self._append(f"{alias.name} {key_type} {key_base64}")

    def forget(self, alias: HostAlias) -> int:
        """Remove every entry for the instance (after a rebuild); returns how many."""
        with self._locked():
            lines = self._lines()
            kept = []
            removed = 0
            for raw in lines:
                parts = raw.split()
                if len(parts) >= 3 and _name_matches(parts[0], alias.name):
                    removed += 1
                else:
                    kept.append(raw)
            if removed:
                _write_atomic(self.path, "".join(line + "\n" for line in kept), 0o600)
            return removed

    def _append(self, line: str) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            size = os.fstat(fd).st_size
            prefix = b""
            if size:
                with open(self.path, "rb") as handle:
                    handle.seek(size - 1)
                    if handle.read(1) != b"\n":
                        prefix = b"\n"
            os.write(fd, prefix + line.encode() + b"\n")
        finally:
            os.close(fd)


# ---------------------------------------------------------------------- system ssh


def ssh_options(
    endpoint: SSHEndpoint,
    alias: HostAlias,
    *,
    identity: Identity | None = None,
    known_hosts: KnownHosts | None = None,
    batch: bool = True,
    connect_timeout: float = 10.0,
) -> list[str]:
    """Options for the system ``ssh`` (and rsync's ``-e``) to reach an instance safely.

    Logs in with vp-tui's identity only, checks the host key against vp-tui's
    known_hosts under the instance's alias (accepting a first key for a new
    instance, refusing a changed one), and gives up on dead connections.
    ``batch`` forbids password and passphrase prompts (for scripts and rsync).
    """
    identity = identity or resolve_identity()
    known_hosts = known_hosts or KnownHosts()
    strict = "yes" if known_hosts.is_known(alias) else "accept-new"
    options = ["-p", str(endpoint.port), "-l", endpoint.user]
    if identity.key_path is not None:
        options += ["-i", str(identity.key_path)]
        if not identity.use_agent:
            options += ["-o", "IdentitiesOnly=yes"]
    locations.ensure_private_dir(known_hosts.path.parent)
    options += [
        "-o", f"UserKnownHostsFile={known_hosts.path}",
        "-o", f"HostKeyAlias={alias.name}",
        "-o", f"StrictHostKeyChecking={strict}",
        "-o", "CheckHostIP=no",
        "-o", "UpdateHostKeys=no",
        "-o", "HashKnownHosts=no",
        "-o", f"ConnectTimeout={max(1, round(connect_timeout))}",
        "-o", "ServerAliveInterval=15",
        "-o", "ServerAliveCountMax=4",
        "-o", "LogLevel=ERROR",
    ]  # fmt: skip
    if batch:
        options += ["-o", "BatchMode=yes"]
    return options
