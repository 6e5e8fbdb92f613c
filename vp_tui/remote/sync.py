"""Project files to and from an instance: rsync over SSH, with an SFTP fallback.

``push`` sends the project directory to the instance's ``remote_dir``; ``pull``
brings the instance's copy (or only named paths such as ``outputs/``) back.
Both honour the same ignore rules (:mod:`vp_tui.remote.ignore`) whichever
transport carries the files:

* rsync (``-az --partial``) through the system ``ssh`` with vp-tui's key and
  known_hosts, when rsync exists here and on the instance. A missing rsync on
  the instance is installed non-interactively where the image allows
  (apt-get, apk, dnf, microdnf, yum, zypper);
* otherwise SFTP over the existing paramiko connection, comparing size and
  modification time.

On Vast a ``DaemonTarget`` (the platform's own transfer endpoint, from its
copy API) is tried first: rsync to ``user@host::module/remote_dir`` through
``ssh``, as ``vastai copy`` does, with the direct SSH rsync above as the
fallback when that fails.

A pull never deletes local files and never overwrites a local file that is
newer than the instance's copy, or that changed here since the last sync; a
push deletes files on the instance only with ``delete=True`` (and never files
the rules exclude). Where the two sides disagree on what a name is (a file
here, a directory or a symlink on the instance, or the other way round), or a
file changed on both sides since the last sync, the local entry is kept, the
remote one is left where it is, and the result lists the name in
``conflicts``. A pull never creates symlinks, device files or fifos, and never
writes through a local symlink.

Both take ``stop``: setting it raises :class:`~vp_tui.core.cancel.Cancelled`
within a fraction of a second, with rsync (and the ssh it started) terminated,
or the SFTP transfer abandoned between two blocks of a file and its partial
copy removed. Files already transferred stay.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import posixpath
import re
import select
import shlex
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import paramiko

from vp_tui import locations
from vp_tui.config import DEFAULT_EXCLUDES, Settings
from vp_tui.core import cancel
from vp_tui.core.models import SSHEndpoint, TransferEndpoint
from vp_tui.remote.ignore import IgnoreRules, load_rules
from vp_tui.remote.keys import HostAlias, RemoteError, ssh_options
from vp_tui.remote.ssh import Remote, remote_path_word

Direction = Literal["push", "pull"]
Method = Literal["rsync", "rsync-native", "sftp"]
"""How files moved: rsync over SSH, rsync through the platform's transfer endpoint, SFTP."""


class SyncError(RemoteError):
    """A sync failed; the message carries the transport's own words."""


@dataclass(frozen=True)
class SyncProgress:
    """How far a sync has come."""

    direction: Direction
    files: int
    """Files transferred so far."""
    bytes: int
    """Bytes of file data transferred so far."""
    percent: int | None = None
    """rsync's estimate of overall progress, when it gives one."""


@dataclass(frozen=True)
class SyncResult:
    """What a finished sync did."""

    direction: Direction
    method: Method
    files: int
    """Files transferred (created or updated)."""
    bytes: int
    """Bytes of file data transferred."""
    deleted: int = 0
    """Files or directories deleted on the instance (push with ``delete``)."""
    missing: list[str] = field(default_factory=list)
    """Named paths that do not exist on the instance (pull)."""
    skipped: int = 0
    """Entries the SFTP fallback does not copy (symlinks, devices, names no local file
    can have)."""
    note: str | None = None
    """Why SFTP was used instead of rsync, if it was."""
    seconds: float = 0.0
    native_fallback: str | None = None
    """Why the platform's transfer endpoint (a ``DaemonTarget``) was given up for the
    direct path, when one was given and failed."""
    conflicts: list[str] = field(default_factory=list)
    """Names a pull left alone to keep the local entry, each as ``"path: why"``: a
    different kind of entry on each side (file, directory, symlink), or a file
    changed both here and on the instance since the last sync."""

    @property
    def endpoint_host_key_changed(self) -> bool:
        """True when the transfer endpoint was given up because its SSH host key was not
        the one recorded for it (as OpenSSH, run by rsync, words it)."""
        reason = (self.native_fallback or "").lower()
        return any(sign in reason for sign in _HOST_KEY_SIGNS)


_HOST_KEY_SIGNS = ("remote host identification has changed", "host key verification failed")


@dataclass(frozen=True)
class DaemonTarget:
    """An rsync daemon reached over SSH: ``rsync -e "ssh -p PORT" SRC user@host::module/PATH``.

    This is Vast's native transfer path (its copy API names the endpoint; the module is
    the instance id). Its host key is checked against vp-tui's known_hosts under an
    alias of its own (``vp-<platform>-<id>-copy``), trusted on first use.
    """

    host: str
    port: int
    user: str
    module: str

    def __post_init__(self) -> None:
        if not self.host or any(ch.isspace() for ch in self.host):
            raise ValueError(f"unusable transfer host {self.host!r}")
        if not 1 <= self.port <= 65535:
            raise ValueError(f"transfer port {self.port} is out of range")
        if not self.user or any(ch.isspace() or ch in "@:" for ch in self.user):
            raise ValueError(f"unusable transfer user {self.user!r}")
        if not self.module or any(ch.isspace() or ch in "/:" for ch in self.module):
            raise ValueError(f"unusable rsync module {self.module!r}")

    @classmethod
    def from_endpoint(cls, endpoint: TransferEndpoint) -> DaemonTarget:
        """The target a platform's transfer endpoint names."""
        return cls(endpoint.host, endpoint.port, endpoint.user, endpoint.module)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.user}@{host}:{self.port}::{self.module}"


ProgressCallback = Callable[[SyncProgress], None]

RSYNC_INSTALL_SCRIPT = """\
command -v rsync >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ]; then vp_sudo=
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then vp_sudo="sudo -n"
else echo "vp: not root and no password-less sudo: cannot install rsync" >&2; exit 1; fi
vp_apt() {
  $vp_sudo env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=120 "$@"
}
if command -v apt-get >/dev/null 2>&1; then
  vp_apt install --no-install-recommends rsync >/dev/null 2>&1 ||
    { vp_apt update >/dev/null 2>&1; vp_apt install --no-install-recommends rsync; }
elif command -v apk >/dev/null 2>&1; then $vp_sudo apk add --no-cache -q rsync
elif command -v dnf >/dev/null 2>&1; then $vp_sudo dnf install -y -q rsync
elif command -v microdnf >/dev/null 2>&1; then $vp_sudo microdnf install -y rsync
elif command -v yum >/dev/null 2>&1; then $vp_sudo yum install -y -q rsync
elif command -v zypper >/dev/null 2>&1; then $vp_sudo zypper --non-interactive install rsync
else echo "vp: no known package manager to install rsync with" >&2; exit 1; fi
command -v rsync >/dev/null 2>&1 || { echo "vp: rsync is still missing" >&2; exit 1; }
"""
"""Installs rsync on an instance without questions, where the image allows it."""

_PROGRESS = re.compile(rb"^\s*(\d+)\s+(\d+)%.*?(?:xfr#(\d+))?")
_STAT_FILES = re.compile(rb"Number of (?:regular )?files transferred:\s*(\d+)")
_STAT_BYTES = re.compile(rb"Total transferred file size:\s*(\d+)")
_STAT_DELETED = re.compile(rb"Number of deleted files:\s*(\d+)")


_RSYNC_VERSION = re.compile(r"version\s+v?(\d+)\.(\d+)(?:\.(\d+))?")
_local_versions: dict[str, tuple[int, int, int]] = {}


def _local_rsync_version(rsync: str) -> tuple[int, int, int]:
    """The version of a local rsync binary ((0, 0, 0) if it does not say)."""
    if rsync not in _local_versions:
        try:
            text = subprocess.run(
                [rsync, "--version"], capture_output=True, text=True, timeout=10
            ).stdout
        except (OSError, subprocess.SubprocessError):
            text = ""
        found = _RSYNC_VERSION.search(text)
        _local_versions[rsync] = (
            (int(found.group(1)), int(found.group(2)), int(found.group(3) or 0))
            if found
            else (0, 0, 0)
        )
    return _local_versions[rsync]


def _local_rsync_problem(rsync: str | None) -> str | None:
    """Why the local rsync cannot be used (None when it can): missing, or older than 3.1
    (macOS ships rsync 2.6.9 or openrsync, without ``--info=progress2``)."""
    if not rsync or not (os.path.isfile(rsync) and os.access(rsync, os.X_OK)):
        return "rsync is not installed on this machine"
    version = _local_rsync_version(rsync)
    if version < (3, 1, 0):
        shown = ".".join(map(str, version[:2]))
        return f"rsync on this machine is too old ({shown}); install rsync 3 for faster syncs"
    return None


def _shell_escape_path(path: str) -> str:
    """A remote path as rsync before 3.2.4 needs it: the remote shell sees it verbatim."""
    safe = "._/-+~@%,:="
    return "".join(
        "\\" + char if ord(char) < 128 and not (char.isalnum() or char in safe) else char
        for char in path
    )


def _rsync_quote(word: str) -> str:
    """One word for rsync's ``-e`` command line (rsync splits it itself)."""
    if word and not re.search(r"[\s'\"\\]", word):
        return word
    return "'" + word.replace("'", "''") + "'"


def _check_relative(path: str) -> str:
    """A named path for pull: relative, inside the remote dir, ``/``-separated."""
    clean = posixpath.normpath(path.replace(os.sep, "/")).strip("/")
    if not clean or clean == "." or path.startswith("/") or clean.split("/")[0] == "..":
        raise ValueError(f"{path!r}: give a path inside the remote directory, e.g. outputs/")
    return clean


def _sftp_root(remote_dir: str) -> str:
    """The remote dir as an SFTP path: ``~/x`` becomes ``x`` (relative to the login dir)."""
    if remote_dir in ("~", "~/"):
        return "."
    if remote_dir.startswith("~/"):
        return remote_dir[2:].rstrip("/") or "."
    return remote_dir.rstrip("/") or "/"


def _kind(mode: int) -> str:
    """What an entry is, for a conflict message."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISREG(mode):
        return "a file"
    if stat.S_ISLNK(mode):
        return "a symlink"
    return "a special file"


def _safe_name(name: str) -> bool:
    """Whether a name the instance lists can be used as one local path component."""
    return bool(name) and name not in (".", "..") and "/" not in name and "\0" not in name


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return path.lstat()
    except FileNotFoundError:
        return None


def _rsync_literal(rel: str) -> str:
    """An rsync filter pattern naming exactly ``/rel`` (wildcards escaped)."""
    if any(char in rel for char in "*?["):
        rel = re.sub(r"([*?\[\\])", r"\\\1", rel)
    return "/" + rel


Stamp = tuple[int, int]
"""A file's size and whole-second modification time."""


class _Baseline:
    """What each project file was (size, mtime) when it was last pushed or pulled, kept
    in the data directory per instance, remote dir and project.

    A pull uses it to tell a local edit made while a job ran from a file that merely
    is older than the instance's copy: the edit is kept.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.stamps: dict[str, Stamp] = {}
        if path is None:
            return
        with contextlib.suppress(OSError, ValueError, TypeError):
            loaded = json.loads(path.read_text(encoding="utf-8"))
            self.stamps = {str(rel): (int(v[0]), int(v[1])) for rel, v in loaded.items()}

    def edited(self, rel: str, here: os.stat_result) -> bool:
        """Whether the local file changed since it was last synced."""
        known = self.stamps.get(rel)
        return known is not None and known != (here.st_size, int(here.st_mtime))

    def record(self, rel: str, here: os.stat_result) -> None:
        """Remember a file as synced in its current state."""
        if self.path is not None:
            self.stamps[rel] = (here.st_size, int(here.st_mtime))

    def save(self) -> None:
        """Write the record (best effort: a sync never fails for it)."""
        if self.path is None:
            return
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            partial = self.path.with_suffix(".partial")
            partial.write_text(json.dumps(self.stamps), encoding="utf-8")
            os.replace(partial, self.path)


def _pull_conflict(
    rel: str,
    here: os.stat_result | None,
    there_mode: int,
    there_size: int,
    there_mtime: float,
    baseline: _Baseline,
) -> str | None:
    """Why a pull must leave a remote entry alone to keep the local one (None: no clash).

    Directories on both sides are no clash (their contents are compared one by one),
    and neither is a local file that is only newer (the pull keeps it anyway).
    """
    if here is None:
        return None
    if stat.S_ISDIR(here.st_mode) and stat.S_ISDIR(there_mode):
        return None
    if stat.S_ISREG(here.st_mode) and stat.S_ISREG(there_mode):
        if _same(there_size, there_mtime, here.st_size, here.st_mtime):
            return None
        if here.st_mtime <= there_mtime and baseline.edited(rel, here):
            return f"{rel}: changed here and on the instance since the last sync (kept here)"
        return None
    return f"{rel}: {_kind(here.st_mode)} here, {_kind(there_mode)} on the instance (kept here)"


class Syncer:
    """Pushes a project to one instance and pulls results back."""

    def __init__(
        self,
        remote: Remote,
        project: Path,
        *,
        remote_dir: str = "/workspace",
        excludes: Sequence[str] = tuple(DEFAULT_EXCLUDES),
        method: Literal["auto", "rsync", "sftp"] = "auto",
        local_rsync: str | None = None,
        remote_rsync: str = "rsync",
        install_rsync: bool = True,
        daemon_target: DaemonTarget | None = None,
    ) -> None:
        """``local_rsync``: rsync binary here (default: found on PATH); ``remote_rsync``:
        the command on the instance (e.g. ``sudo rsync``); ``install_rsync``: install it on
        the instance when missing; ``method``: force one transport; ``daemon_target``: the
        platform's transfer endpoint, tried first by rsync (Vast's native path)."""
        self.remote = remote
        self.project = Path(project)
        self.remote_dir = remote_dir.rstrip("/") or "/"
        self.excludes = list(excludes)
        self.method = method
        self.local_rsync = local_rsync if local_rsync is not None else shutil.which("rsync")
        self.remote_rsync = remote_rsync
        self.install_rsync = install_rsync
        self.daemon_target = daemon_target
        self._rsync_ready: tuple[bool, str | None] | None = None

    @classmethod
    def from_settings(
        cls,
        remote: Remote,
        project: Path,
        settings: Settings,
        *,
        daemon_target: DaemonTarget | None = None,
    ) -> Syncer:
        """A Syncer using ``[sync]`` settings (remote dir and excludes)."""
        return cls(
            remote,
            project,
            remote_dir=settings.sync.remote_dir,
            excludes=settings.sync.exclude,
            daemon_target=daemon_target,
        )

    # ------------------------------------------------------------------ rules

    def rules(self, direction: Direction = "push") -> IgnoreRules:
        """The ignore rules for a direction.

        Push honours the settings, ``.gitignore`` and ``.vpignore``; pull honours
        the settings and ``.vpignore`` only, because ``.gitignore`` usually lists
        exactly what a job produces (outputs, checkpoints) and is wanted back.
        """
        return load_rules(self.project, self.excludes, gitignore=direction == "push")

    # -------------------------------------------------------------- transport

    def _choose(self, stop: threading.Event | None = None) -> tuple[Method, str | None]:
        if self.method == "sftp":
            return "sftp", None
        problem = _local_rsync_problem(self.local_rsync)
        if problem is not None:
            if self.method == "rsync":
                raise SyncError(problem)
            return "sftp", problem
        ready, reason = self._remote_rsync(stop)
        if ready:
            return "rsync", None
        if self.method == "rsync":
            raise SyncError(reason or "rsync is not available on the instance")
        return "sftp", reason

    def _remote_rsync(self, stop: threading.Event | None = None) -> tuple[bool, str | None]:
        if self._rsync_ready is None:
            check = f"command -v {shlex.quote(self.remote_rsync.split()[-1])} >/dev/null 2>&1"
            if self.remote.run(check, timeout=30, stop=stop).rc == 0:
                self._rsync_ready = (True, None)
            elif self.install_rsync and self.remote_rsync == "rsync":
                install = "sh -c " + shlex.quote(RSYNC_INSTALL_SCRIPT)
                result = self.remote.run(install, timeout=600, stop=stop)
                if result.rc == 0:
                    self._rsync_ready = (True, None)
                else:
                    why = result.err.strip().splitlines()[-1:] or ["install failed"]
                    self._rsync_ready = (
                        False,
                        f"rsync is not installed on the instance ({why[0].removeprefix('vp: ')})",
                    )
            else:
                self._rsync_ready = (False, "rsync is not installed on the instance")
        return self._rsync_ready

    def _native_usable(self) -> bool:
        """Whether to try the daemon target first: one is set, rsync may be used and works
        here, and the remote dir is absolute (the daemon has no home directory)."""
        return (
            self.daemon_target is not None
            and self.method != "sftp"
            and _local_rsync_problem(self.local_rsync) is None
            and self.remote_dir.startswith("/")
        )

    def _ensure_remote_dir(self, stop: threading.Event | None = None) -> None:
        command = f"mkdir -p {remote_path_word(self.remote_dir)}"
        self.remote.run(command, timeout=60, check=True, stop=stop)

    # ------------------------------------------------------------- operations

    def push(
        self,
        *,
        delete: bool = False,
        progress: ProgressCallback | None = None,
        stop: threading.Event | None = None,
    ) -> SyncResult:
        """Send the project to the instance's remote dir (deleting extra remote files
        only with ``delete``); setting ``stop`` raises ``Cancelled``."""
        if not self.project.is_dir():
            raise SyncError(f"{self.project} is not a directory")
        cancel.check(stop, "push cancelled")
        started = time.monotonic()
        rules = self.rules("push")
        # Taken before sending, so that an edit made while the push runs counts as one.
        sent = {rel: st for rel, st in rules.walk(self.project) if stat.S_ISREG(st.st_mode)}
        result = self._push(rules, delete, progress, stop, started)
        baseline = self._baseline(self.project)
        baseline.stamps = {}
        for rel, st in sent.items():
            baseline.record(rel, st)
        baseline.save()
        return result

    def _push(
        self,
        rules: IgnoreRules,
        delete: bool,
        progress: ProgressCallback | None,
        stop: threading.Event | None,
        started: float,
    ) -> SyncResult:
        fallback: str | None = None
        if self._native_usable():
            self._ensure_remote_dir(stop)
            try:
                result = self._rsync_push(rules, delete, progress, native=True, stop=stop)
                return _finish(result, None, started)
            except SyncError as exc:
                fallback = str(exc)
        method, note = self._choose(stop)
        if fallback is None:
            self._ensure_remote_dir(stop)
        if method == "rsync":
            result = self._rsync_push(rules, delete, progress, stop=stop)
        else:
            result = _SftpPush(self, rules, delete, progress, stop).run()
        return _finish(result, note, started, fallback)

    def _baseline(self, dest: Path) -> _Baseline:
        """The record of the last sync between ``dest`` and the remote dir; an empty one
        that is never saved when ``dest`` is not the project (``--pull-to``)."""
        project = self.project.resolve()
        if dest.resolve() != project:
            return _Baseline(None)
        key = f"{self.remote.alias.name}\n{self.remote_dir}\n{project}"
        digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:32]
        return _Baseline(locations.data_dir() / "sync" / f"{digest}.json")

    def pull(
        self,
        paths: Sequence[str] = (),
        *,
        dest: Path | None = None,
        progress: ProgressCallback | None = None,
        stop: threading.Event | None = None,
    ) -> SyncResult:
        """Bring the instance's copy back into ``dest`` (default: the project), or only
        ``paths`` (relative to the remote dir). Never deletes or overwrites newer
        local files. Setting ``stop`` raises ``Cancelled``."""
        cancel.check(stop, "pull cancelled")
        started = time.monotonic()
        dest = Path(dest) if dest is not None else self.project
        wanted = [_check_relative(path) for path in paths]
        rules = self.rules("pull")
        native = self._native_usable()
        method: Method
        note: str | None
        method, note = ("rsync-native", None) if native else self._choose(stop)
        present, missing = self._existing(wanted, stop)
        if wanted and not present:
            return _finish(SyncResult("pull", method, 0, 0, missing=missing), note, started)
        dest.mkdir(parents=True, exist_ok=True)
        baseline = self._baseline(dest)
        fallback: str | None = None
        result: SyncResult | None = None
        if native:
            try:
                result = self._rsync_pull(
                    rules, present, dest, baseline, progress, native=True, stop=stop
                )
            except SyncError as exc:
                fallback = str(exc)
                method, note = self._choose(stop)
        if result is None:
            if method == "rsync":
                result = self._rsync_pull(rules, present, dest, baseline, progress, stop=stop)
            else:
                result = _SftpPull(self, rules, present, dest, baseline, progress, stop).run()
        baseline.save()
        return _finish(
            SyncResult(
                "pull",
                result.method,
                result.files,
                result.bytes,
                skipped=result.skipped,
                missing=missing,
                conflicts=result.conflicts,
            ),
            note,
            started,
            fallback,
        )

    def unpulled(self, *, stop: threading.Event | None = None) -> list[str]:
        """Files under the remote dir written on the instance since the last sync with the
        project: new there, or changed from what the last push or pull recorded, and not
        already the same here. Ignored files (the pull's rules) are left out. Transfers
        nothing; setting ``stop`` raises ``Cancelled``.

        The record of the last sync is the one a pull keeps to spot local edits: every
        file a push sent or a pull brought back, with its size and modification time.
        Without one (never synced from this project) every remote file that differs
        from the local copy counts.
        """
        cancel.check(stop, "check cancelled")
        sftp = self.remote.sftp()
        try:
            try:
                root = sftp.stat(_sftp_root(self.remote_dir))
            except FileNotFoundError:
                return []  # nothing was ever pushed or written there
            finally:
                sftp.close()
        except OSError as exc:
            raise SyncError(f"cannot look at {self.remote_dir} on the instance: {exc}") from None
        if not stat.S_ISDIR(root.st_mode or 0):
            raise SyncError(f"{self.remote_dir} on the instance is not a directory")
        baseline = self._baseline(self.project)
        check = _SftpPull(
            self, self.rules("pull"), [], self.project, baseline, None, stop, check_only=True
        )
        check.every_file = True
        check.run()
        found: list[str] = []
        for rel, (size, mtime) in check.remote_files.items():
            if baseline.stamps.get(rel) == (size, int(mtime)):
                continue  # as the last push or pull left it
            here = _lstat(self.project / rel)
            if here is not None and _same(size, mtime, here.st_size, here.st_mtime):
                continue
            found.append(rel)
        # A name that clashes with the local entry was left on the instance by pulls.
        found.extend(check.clashing)
        return sorted(set(found))

    def _existing(
        self, wanted: list[str], stop: threading.Event | None = None
    ) -> tuple[list[str], list[str]]:
        if not wanted:
            return [], []
        root = remote_path_word(self.remote_dir)
        checks = "".join(
            f"[ -e {root}/{shlex.quote(path)} ] || printf '%s\\n' {shlex.quote(path)}\n"
            for path in wanted
        )
        missing_out = self.remote.run("sh -c " + shlex.quote(checks), timeout=60, stop=stop).out
        missing = [line for line in missing_out.splitlines() if line]
        return [path for path in wanted if path not in missing], missing

    # ------------------------------------------------------------------ rsync

    def _rsync_target(self, path: str) -> str:
        host = self.remote.endpoint.host
        if ":" in host:
            host = f"[{host}]"
        root = _sftp_root(self.remote_dir)
        full = f"{root}/{path}" if path else f"{root}/"
        assert self.local_rsync is not None
        if _local_rsync_version(self.local_rsync) < (3, 2, 4):
            full = _shell_escape_path(full)  # newer rsync protects remote args itself
        return f"{host}:{full}"

    def _daemon_url(self, path: str) -> str:
        """``user@host::module//remote_dir/path``, the form ``vastai copy`` hands to rsync."""
        target = self.daemon_target
        assert target is not None and self.local_rsync is not None
        host = f"[{target.host}]" if ":" in target.host else target.host
        root = self.remote_dir.rstrip("/")
        full = f"{root}/{path}" if path else f"{root}/"
        if _local_rsync_version(self.local_rsync) < (3, 2, 4):
            full = _shell_escape_path(full)
        return f"{target.user}@{host}::{target.module}/{full}"

    def daemon_alias(self) -> HostAlias:
        """The known_hosts alias of the transfer endpoint: ``vp-<platform>-<id>-copy``."""
        alias = self.remote.alias
        return HostAlias(alias.platform, f"{alias.instance_id}-copy")

    def _daemon_ssh_options(self) -> list[str]:
        target = self.daemon_target
        assert target is not None
        return ssh_options(
            SSHEndpoint(host=target.host, port=target.port, user=target.user),
            self.daemon_alias(),
            identity=self.remote.identity,
            known_hosts=self.remote.known_hosts,
            connect_timeout=self.remote.connect_timeout,
        )

    def _target(self, path: str, native: bool) -> str:
        return self._daemon_url(path) if native else self._rsync_target(path)

    def _rsync_base(self, filter_file: Path, native: bool = False) -> list[str]:
        assert self.local_rsync is not None
        options = self._daemon_ssh_options() if native else self.remote.ssh_options()
        ssh = " ".join(_rsync_quote(word) for word in ["ssh", *options])
        argv = [
            self.local_rsync,
            "-az",
            "--partial",
            "--no-owner",
            "--no-group",
            "--no-h",
            "--info=progress2",
            "--stats",
            f"--filter=merge {filter_file}",
            "-e",
            ssh,
        ]
        if not native:  # the transfer service runs its own rsync
            argv += ["--rsync-path", self.remote_rsync]
        return argv

    def _rsync_push(
        self,
        rules: IgnoreRules,
        delete: bool,
        progress: ProgressCallback | None,
        native: bool = False,
        stop: threading.Event | None = None,
    ) -> SyncResult:
        with _filter_file(rules.rsync_filter()) as filter_file:
            argv = self._rsync_base(filter_file, native)
            if delete:
                argv.append("--delete")
            argv += [f"{self.project}/", self._target("", native)]
            return _run_rsync(argv, "push", progress, native, stop)

    def _rsync_pull(
        self,
        rules: IgnoreRules,
        paths: list[str],
        dest: Path,
        baseline: _Baseline,
        progress: ProgressCallback | None,
        native: bool = False,
        stop: threading.Event | None = None,
    ) -> SyncResult:
        # rsync's --update only protects a newer local file of the same kind, and knows
        # nothing of edits made since the last sync: the names that clash are found
        # first (over SFTP) and left out of the transfer.
        check = _SftpPull(self, rules, paths, dest, baseline, None, stop, check_only=True)
        check.run()
        # A named path that clashes, or sits under a clash, is not asked for at all
        # (rsync would refuse the whole transfer for an excluded parent it implies).
        clashing = set(check.clashing)
        wanted = [
            path
            for path in paths
            if not any(path == c or path.startswith(c + "/") for c in clashing)
        ]
        if paths and not wanted:
            return SyncResult(
                "pull", "rsync-native" if native else "rsync", 0, 0, conflicts=check.conflicts
            )
        paths = wanted
        text = rules.rsync_filter()
        if paths:
            # Named paths come back even when a rule excludes them (their contents
            # still follow the rules).
            includes: list[str] = []
            for path in paths:
                parts = path.split("/")
                for depth in range(1, len(parts)):
                    includes.append("+ /" + "/".join(parts[:depth]) + "/")
                includes.append("+ /" + path)
            text = "".join(line + "\n" for line in dict.fromkeys(includes)) + text
        text = "".join(f"- {_rsync_literal(rel)}\n" for rel in check.clashing) + text
        with _filter_file(text) as filter_file:
            # No symlinks, devices or fifos come back: a link made here could point
            # anywhere (``x -> /etc/passwd``, ``up -> ..``) and later writes go through it.
            argv = [
                *self._rsync_base(filter_file, native),
                "--update",
                "--no-links",
                "--no-devices",
                "--no-specials",
            ]
            if paths:
                argv.append("--relative")
                argv += [self._target("./" + path, native) for path in paths]
            else:
                argv.append(self._target("", native))
            argv.append(f"{dest}/")
            result = _run_rsync(argv, "pull", progress, native, stop)
        for rel, (size, mtime) in check.remote_files.items():
            here = _lstat(dest / rel)
            if (
                here is not None
                and stat.S_ISREG(here.st_mode)
                and _same(size, mtime, here.st_size, here.st_mtime)
            ):
                baseline.record(rel, here)
        return SyncResult(
            "pull",
            result.method,
            result.files,
            result.bytes,
            conflicts=check.conflicts,
        )


def _finish(
    result: SyncResult, note: str | None, started: float, native_fallback: str | None = None
) -> SyncResult:
    return SyncResult(
        result.direction,
        result.method,
        result.files,
        result.bytes,
        deleted=result.deleted,
        missing=result.missing,
        skipped=result.skipped,
        note=note,
        seconds=time.monotonic() - started,
        native_fallback=native_fallback,
        conflicts=result.conflicts,
    )


@contextlib.contextmanager
def _filter_file(text: str) -> Iterator[Path]:
    fd, name = tempfile.mkstemp(prefix="vp-filter-", suffix=".rules")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


def _run_rsync(
    argv: list[str],
    direction: Direction,
    progress: ProgressCallback | None,
    native: bool = False,
    stop: threading.Event | None = None,
) -> SyncResult:
    cancel.check(stop, f"{direction} cancelled")
    env = dict(os.environ, LC_ALL="C")
    if native:  # the paths go to the daemon as plain arguments, as `vastai copy` sends them
        env.pop("RSYNC_PROTECT_ARGS", None)
        env.pop("RSYNC_OLD_ARGS", None)
    # A session of its own, so that a cancel ends rsync and the ssh it started together.
    process = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    assert process.stdout is not None and process.stderr is not None
    errors: list[bytes] = []
    stderr_pipe = process.stderr
    reader = threading.Thread(target=lambda: errors.append(stderr_pipe.read()), daemon=True)
    reader.start()
    tail = b""
    stats = b""
    files = transferred = 0
    out = process.stdout.fileno()
    try:
        while True:
            ready, _, _ = select.select([out], [], [], 0.1)
            cancel.check(stop, f"{direction} cancelled")
            if not ready:
                continue
            chunk = os.read(out, 65536)
            if not chunk:
                break
            stats = (stats + chunk)[-8192:]
            records = re.split(rb"[\r\n]", tail + chunk)
            tail = records.pop()
            for record in records:
                match = _PROGRESS.match(record)
                if match:
                    transferred = int(match.group(1))
                    if match.group(3):
                        files = int(match.group(3))
                    if progress is not None:
                        progress(SyncProgress(direction, files, transferred, int(match.group(2))))
        rc = process.wait()
    except BaseException:  # cancelled, a failing progress callback, Ctrl-C
        _terminate(process)
        raise
    finally:
        process.stdout.close()
        reader.join(timeout=10)
        stderr_pipe.close()
    stderr = b"".join(errors).decode("utf-8", errors="replace").strip()
    if rc not in (0, 24):  # 24: files vanished while being read
        lines = [line for line in stderr.splitlines() if line.strip()]
        detail = "\n".join(lines[-8:]) or f"rsync exited with code {rc}"
        where = " through the transfer endpoint" if native else ""
        raise SyncError(f"{direction} with rsync{where} failed (exit code {rc}): {detail}")
    if match_files := _STAT_FILES.search(stats):
        files = int(match_files.group(1))
    if match_bytes := _STAT_BYTES.search(stats):
        transferred = int(match_bytes.group(1))
    deleted = int(m.group(1)) if (m := _STAT_DELETED.search(stats)) else 0
    if progress is not None:
        progress(SyncProgress(direction, files, transferred, 100))
    method: Method = "rsync-native" if native else "rsync"
    return SyncResult(direction, method, files, transferred, deleted=deleted)


def _terminate(process: subprocess.Popen[bytes]) -> None:
    """End rsync and everything it started (its session): SIGTERM, then SIGKILL."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=2)
    # Whatever is left: rsync past its grace, the ssh it started.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


# -------------------------------------------------------------------- SFTP fallback


_READ_BATCH = 64
"""Read requests (of 32 KiB) in flight at once while an SFTP pull downloads a file."""


class _SftpJob:
    """Shared plumbing of the SFTP push and pull."""

    direction: Direction

    def __init__(
        self,
        syncer: Syncer,
        rules: IgnoreRules,
        progress: ProgressCallback | None,
        stop: threading.Event | None = None,
    ) -> None:
        self.syncer = syncer
        self.rules = rules
        self.progress = progress
        self.stop = stop
        self.root = _sftp_root(syncer.remote_dir)
        self.files = 0
        self.bytes = 0
        self.done_bytes = 0
        self.skipped = 0
        self.deleted = 0

    def remote_path(self, rel: str) -> str:
        return f"{self.root}/{rel}" if rel else self.root

    def report(self) -> None:
        if self.progress is not None:
            self.progress(SyncProgress(self.direction, self.files, self.bytes))

    def check(self) -> None:
        """Raise ``Cancelled`` when the sync was asked to stop."""
        cancel.check(self.stop, f"{self.direction} cancelled")

    def on_bytes(self, transferred: int, _total: int) -> None:
        """paramiko's progress callback, after each block of a file: also the cancel point."""
        self.check()
        self.bytes = self.done_bytes + transferred
        self.report()

    def result(self) -> SyncResult:
        return SyncResult(
            self.direction,
            "sftp",
            self.files,
            self.bytes,
            deleted=self.deleted,
            skipped=self.skipped,
        )


def _same(size_a: int, mtime_a: float, size_b: int | None, mtime_b: float | None) -> bool:
    return (
        size_b is not None
        and mtime_b is not None
        and size_a == size_b
        and int(mtime_a) == int(mtime_b)
    )


class _SftpPush(_SftpJob):
    direction: Direction = "push"

    def __init__(
        self,
        syncer: Syncer,
        rules: IgnoreRules,
        delete: bool,
        progress: ProgressCallback | None,
        stop: threading.Event | None = None,
    ) -> None:
        super().__init__(syncer, rules, progress, stop)
        self.delete = delete

    def run(self) -> SyncResult:
        sftp = self.syncer.remote.sftp()
        try:
            listings: dict[str, dict[str, paramiko.SFTPAttributes]] = {"": self.listing(sftp, "")}
            local_children: dict[str, set[str]] = {"": set()}
            for rel, st in self.rules.walk(self.syncer.project):
                self.check()
                parent, _, name = rel.rpartition("/")
                local_children.setdefault(parent, set()).add(name)
                there = listings.get(parent, {}).get(name)
                if stat.S_ISDIR(st.st_mode):
                    if there is not None and not stat.S_ISDIR(there.st_mode or 0):
                        self.remove(sftp, rel, there)
                        there = None
                    if there is None:
                        sftp.mkdir(self.remote_path(rel))
                        listings[rel] = {}
                    else:
                        listings[rel] = self.listing(sftp, rel)
                    local_children.setdefault(rel, set())
                elif stat.S_ISREG(st.st_mode):
                    if there is not None and stat.S_ISDIR(there.st_mode or 0):
                        self.remove(sftp, rel, there)
                        there = None
                    if there is not None and _same(
                        st.st_size, st.st_mtime, there.st_size, there.st_mtime
                    ):
                        continue
                    self.upload(sftp, rel, st)
                else:
                    self.skipped += 1
            if self.delete:
                for directory, names in local_children.items():
                    for name, attrs in listings.get(directory, {}).items():
                        rel = f"{directory}/{name}" if directory else name
                        is_dir = stat.S_ISDIR(attrs.st_mode or 0)
                        if name not in names and not self.rules.ignored(rel, is_dir):
                            self.check()
                            self.remove(sftp, rel, attrs)
        except OSError as exc:
            raise SyncError(f"push with SFTP failed: {exc}") from None
        finally:
            sftp.close()
        self.report()
        return self.result()

    def listing(self, sftp: paramiko.SFTPClient, rel: str) -> dict[str, paramiko.SFTPAttributes]:
        """A directory on the instance that exists (the remote dir was made first)."""
        path = self.remote_path(rel)
        try:
            return {attrs.filename: attrs for attrs in sftp.listdir_attr(path)}
        except OSError as exc:
            raise OSError(exc.errno, f"cannot list {path}: {exc.strerror or exc}") from None

    def upload(self, sftp: paramiko.SFTPClient, rel: str, st: os.stat_result) -> None:
        target = self.remote_path(rel)
        partial = f"{posixpath.dirname(target)}/.{posixpath.basename(target)}.vp-partial"
        try:
            sftp.put(str(self.syncer.project / rel), partial, callback=self.on_bytes, confirm=True)
        except BaseException:
            with contextlib.suppress(Exception):
                sftp.remove(partial)
            raise
        sftp.utime(partial, (st.st_atime, st.st_mtime))
        sftp.chmod(partial, stat.S_IMODE(st.st_mode))
        try:
            sftp.posix_rename(partial, target)
        except OSError:
            with contextlib.suppress(OSError):
                sftp.remove(target)
            sftp.rename(partial, target)
        self.files += 1
        self.done_bytes += st.st_size
        self.bytes = self.done_bytes
        self.report()

    def remove(self, sftp: paramiko.SFTPClient, rel: str, attrs: paramiko.SFTPAttributes) -> None:
        path = self.remote_path(rel)
        if stat.S_ISDIR(attrs.st_mode or 0):
            for child in sftp.listdir_attr(path):
                self.remove(sftp, f"{rel}/{child.filename}", child)
            sftp.rmdir(path)
        else:
            sftp.remove(path)
        self.deleted += 1


class _SftpPull(_SftpJob):
    """A pull over SFTP; with ``check_only``, the look before an rsync pull: which remote
    names clash with local entries (``clashing``) and what the remote files are
    (``remote_files``), transferring nothing.

    Every local path is looked at with ``lstat`` one component at a time, and a local
    symlink is never followed: where one stands in the way, that is a conflict.
    """

    direction: Direction = "pull"

    def __init__(
        self,
        syncer: Syncer,
        rules: IgnoreRules,
        paths: list[str],
        dest: Path,
        baseline: _Baseline,
        progress: ProgressCallback | None,
        stop: threading.Event | None = None,
        *,
        check_only: bool = False,
    ) -> None:
        super().__init__(syncer, rules, progress, stop)
        self.paths = paths
        self.dest = dest
        self.baseline = baseline
        self.check_only = check_only
        self.conflicts: list[str] = []
        self.clashing: list[str] = []
        self.remote_files: dict[str, tuple[int, float]] = {}
        self.every_file = False
        """With ``check_only``: also list the files of directories missing here."""

    def run(self) -> SyncResult:
        sftp = self.syncer.remote.sftp()
        try:
            if not self.paths:
                self.pull_dir(sftp, "")
            for path in self.paths:
                if self.parents_ready(path):
                    attrs = sftp.lstat(self.remote_path(path))
                    self.pull_entry(sftp, path, attrs, named=True)
        except OSError as exc:
            if self.check_only:
                raise SyncError(f"pull: cannot compare the instance's files: {exc}") from None
            raise SyncError(f"pull with SFTP failed: {exc}") from None
        finally:
            sftp.close()
        if not self.check_only:
            self.report()
        result = self.result()
        return SyncResult(
            "pull",
            "sftp",
            result.files,
            result.bytes,
            skipped=self.skipped,
            conflicts=self.conflicts,
        )

    def clash(self, rel: str, why: str) -> None:
        self.clashing.append(rel)
        self.conflicts.append(why)

    def parents_ready(self, path: str) -> bool:
        """Whether the local parents of a named path are directories (made if missing);
        a file or symlink in the way is a conflict."""
        parts = path.split("/")
        for depth in range(1, len(parts)):
            rel = "/".join(parts[:depth])
            here = _lstat(self.dest / rel)
            if here is None:
                if self.check_only:
                    return True  # nothing here to clash with below
                (self.dest / rel).mkdir()
            elif not stat.S_ISDIR(here.st_mode):
                self.clash(
                    rel,
                    f"{rel}: {_kind(here.st_mode)} here, a directory on the instance (kept here)",
                )
                return False
        return True

    def pull_dir(self, sftp: paramiko.SFTPClient, rel: str) -> None:
        if not rel:
            self.dest.mkdir(parents=True, exist_ok=True)
        listing = sorted(sftp.listdir_attr(self.remote_path(rel)), key=lambda a: a.filename)
        for attrs in listing:
            if not _safe_name(attrs.filename):
                self.skipped += 1  # a name no file here can have
                continue
            child = f"{rel}/{attrs.filename}" if rel else attrs.filename
            self.pull_entry(sftp, child, attrs)

    def pull_entry(
        self,
        sftp: paramiko.SFTPClient,
        rel: str,
        attrs: paramiko.SFTPAttributes,
        named: bool = False,
    ) -> None:
        self.check()
        mode = attrs.st_mode or 0
        is_dir = stat.S_ISDIR(mode)
        if not named and self.rules.ignored(rel, is_dir):
            return
        size, mtime = attrs.st_size or 0, float(attrs.st_mtime or 0)
        here = _lstat(self.dest / rel)
        why = _pull_conflict(rel, here, mode, size, mtime, self.baseline)
        if why is not None:
            self.clash(rel, why)
        elif is_dir:
            if here is None:
                if self.check_only and not self.every_file:
                    return  # made by rsync; nothing here to clash with
                if not self.check_only:
                    (self.dest / rel).mkdir()
            self.pull_dir(sftp, rel)
        elif not stat.S_ISREG(mode):
            self.skipped += 1  # symlinks, devices and fifos are never made here
        elif self.check_only:
            self.remote_files[rel] = (size, mtime)
        else:
            self.download(sftp, rel, attrs, here)

    def download(
        self,
        sftp: paramiko.SFTPClient,
        rel: str,
        attrs: paramiko.SFTPAttributes,
        here: os.stat_result | None,
    ) -> None:
        local = self.dest / rel
        size, mtime = attrs.st_size or 0, float(attrs.st_mtime or 0)
        if here is not None:
            if _same(size, mtime, here.st_size, here.st_mtime):
                self.baseline.record(rel, here)
                return
            if here.st_mtime > mtime:
                return  # newer here: keep the local copy
        partial = local.with_name(f".{local.name}.vp-partial")
        try:
            self.fetch(sftp, self.remote_path(rel), partial, size)
            os.utime(partial, (float(attrs.st_atime or mtime), mtime), follow_symlinks=False)
            os.chmod(partial, stat.S_IMODE(attrs.st_mode or 0o644) & 0o777)
        except BaseException:
            with contextlib.suppress(OSError):
                if (st := _lstat(partial)) is not None and not stat.S_ISDIR(st.st_mode):
                    partial.unlink()
            raise
        os.replace(partial, local)
        self.baseline.record(rel, local.lstat())
        self.files += 1
        self.done_bytes += size
        self.bytes = self.done_bytes
        self.report()

    def fetch(self, sftp: paramiko.SFTPClient, path: str, local: Path, size: int) -> None:
        """Copy ``size`` bytes of a file on the instance into ``local``, a batch of
        pipelined reads at a time.

        A cancel is honoured between batches, when no read request is in flight:
        paramiko sends a batch from a thread of its own, and a request sent after
        the session closed makes OpenSSH drop the whole connection.
        """
        block = paramiko.SFTPFile.MAX_REQUEST_SIZE
        done = 0
        # A fresh file, never one a symlink of that name points to.
        if (st := _lstat(local)) is not None and not stat.S_ISDIR(st.st_mode):
            local.unlink()
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        with sftp.open(path, "rb") as remote, os.fdopen(os.open(local, flags, 0o600), "wb") as out:
            while done < size:
                self.check()
                end = min(size, done + block * _READ_BATCH)
                batch = [(offset, min(block, end - offset)) for offset in range(done, end, block)]
                try:
                    for data in remote.readv(batch):
                        out.write(data)
                        done += len(data)
                        self.bytes = self.done_bytes + done
                        self.report()
                except EOFError:  # the file shrank while it was read
                    return
                if done < end:
                    return
