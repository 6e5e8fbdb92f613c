"""Demo SSH hosts: each simulated instance is a real SSH server on 127.0.0.1.

Every demo instance gets its own asyncssh listener, plus a second one on
another port standing in for Vast's SSH proxy (same server, same host key);
all listeners share one asyncio loop running in a daemon thread. Commands run as the local user in a
sandbox directory that stands in for the instance's ``/workspace``, so the
production code paths (fabric/paramiko, OpenSSH ``ssh``/``scp``/``sftp`` and
rsync in both directions) work unchanged against the demo cloud.

What a client sees on a demo host:

* exec requests run ``bash -c CMD`` (``/bin/sh`` without bash) with the
  sandbox as working directory, in a new session (process group) of their own;
* ``HOME`` is a per-instance directory beside the sandbox
  (``<sandbox>.home``), so ``~/.vp/jobs/...`` works and stays per instance;
* the environment is minimal, like sshd's (``PATH``, ``HOME``, ``USER``,
  ``LOGNAME``, ``SHELL``, ``LANG``/``LC_*``, ``SSH_CONNECTION``, ``TERM`` with
  a PTY) plus ``VP_SIM_SANDBOX`` and the instance's own variables given to
  :meth:`DemoSSHHosts.ensure_host` (the provider's per-instance id and API key,
  as the real clouds set them in the container); of the variables a client
  sends only ``LANG`` and ``LC_*`` are accepted (sshd's usual ``AcceptEnv``);
* ``/workspace`` in a command line is rewritten textually to the sandbox
  path. This is a convenience, **not a security boundary**: commands run as
  the local user and can reach anything that user can;
* SFTP (and OpenSSH ``scp``, which uses SFTP) sees ``/workspace`` (the
  sandbox, also the starting directory) and ``/root`` or ``~`` (the home
  directory); other paths do not exist;
* a PTY request gives a real pseudo-terminal, so ``ssh -t host`` opens an
  interactive shell;
* ``rsync --server --daemon`` (what ``rsync -e ssh SRC user@host::MODULE/PATH``
  runs) serves Vast's copy endpoint: an rsync daemon with a module named after
  the instance id (also ``C.<id>``) whose top is the sandbox; absolute paths
  under ``/workspace`` in the request are mapped into it, as on a Vast host
  where the module is the container's root. Any user name is accepted.

Jobs started with ``setsid``/``nohup`` outlive their session, a dropped
connection and even :meth:`DemoSSHHosts.stop`, like jobs on a real machine;
:meth:`DemoSSHHosts.remove_host` (instance destroyed) kills them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import posixpath
import re
import shlex
import shutil
import signal
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncssh

from vp_tui.sim.sandbox import home_of

__all__ = ["DemoSSHHosts", "rewrite_daemon_arg", "rsync_daemon_modules"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

LOOPBACK = "127.0.0.1"
WORKSPACE = "/workspace"
VIRTUAL_HOME = "/root"
SANDBOX_ENV = "VP_SIM_SANDBOX"

# `/workspace` as a path of its own: not the tail of a longer path, not a prefix of another name.
_WORKSPACE_RE = re.compile(r"(?<![\w./~$})-])/workspace(?![\w.-])")
_SHELL_SAFE_PATH = re.compile(r"[A-Za-z0-9_./+-]+")
_ACCEPTED_CLIENT_ENV = re.compile(r"LANG|LC_[A-Z_]+")

# Runs before the shell under a PTY: make the terminal on fd 0 the controlling
# terminal of the new session, then exec the real program.
_CTTY_SHIM = (
    "import fcntl, os, sys, termios\n"
    "fcntl.ioctl(0, termios.TIOCSCTTY, 0)\n"
    "os.execvp(sys.argv[1], sys.argv[1:])\n"
)


def rewrite_workspace(command: str, sandbox_path: str) -> str:
    """Replace the path ``/workspace`` in a command line with the sandbox path."""
    return _WORKSPACE_RE.sub(lambda _m: sandbox_path, command)


def rsync_daemon_modules(instance_key: str) -> list[str]:
    """The rsync modules a demo host serves: the instance id (``vast-123`` -> ``123``) and
    the ``C.<id>`` form ``vastai copy C.123:/path`` uses."""
    _platform, _, instance_id = instance_key.partition("-")
    name = instance_id or instance_key
    return [name, f"C.{name}"]


def rewrite_daemon_arg(arg: bytes, module: bytes) -> bytes:
    """One path of an rsync daemon request with the instance's ``/workspace`` mapped to the
    module's top (the sandbox); other paths are left as they are.

    ``123//workspace/proj/`` becomes ``123/proj/``, ``123//workspace/`` becomes ``123/./``.
    """
    prefix, rest = b"", arg
    if arg.startswith(module + b"/"):
        prefix, rest = arg[: len(module) + 1], arg[len(module) + 1 :]
    bare = rest.lstrip(b"/")
    if bare != b"workspace" and not bare.startswith(b"workspace/"):
        return arg
    tail = bare[len(b"workspace") :]
    inner = tail.lstrip(b"/")
    if not inner:
        inner = b"./" if tail else b"."
    return prefix + inner


def _rsync_daemon_command(command: str) -> list[str] | None:
    """The words of ``rsync --server --daemon ...`` (None for any other command)."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if not words or posixpath.basename(words[0]) != "rsync":
        return None
    if "--server" not in words or "--daemon" not in words:
        return None
    return words


def _rsync_daemon_config(instance_key: str, sandbox: str) -> str:
    """rsyncd.conf for a demo host: one writable module per name, rooted at the sandbox."""
    lines = [
        f"# rsync daemon of demo instance {instance_key} (Vast's copy endpoint)",
        "use chroot = no",
        "munge symlinks = no",
        "numeric ids = yes",
        "reverse lookup = no",
        "read only = no",
        "list = no",
        "log file = /dev/null",
    ]
    if os.getuid() == 0:  # a root daemon would switch to nobody; stay the sandbox's owner
        lines += [f"uid = {os.getuid()}", f"gid = {os.getgid()}"]
    for name in rsync_daemon_modules(instance_key):
        lines += ["", f"[{name}]", f"    path = {sandbox}"]
    return "\n".join(lines) + "\n"


async def _relay_daemon_request(
    reader: asyncssh.SSHReader[bytes], send: Callable[[bytes], Awaitable[None]], modules: list[str]
) -> None:
    """Pass the client's half of rsync's daemon handshake (greeting, module, arguments) on
    to the daemon, piece by piece as the exchange needs it, with instance paths mapped
    into the module; the caller passes on what follows as it is."""
    greeting = await reader.readuntil(b"\n")
    await send(greeting)
    version = re.match(rb"@RSYNCD: (\d+)", greeting)
    if version is None:
        return
    line = await reader.readuntil(b"\n")
    if line.startswith(b"#early_input="):
        size = int(line.partition(b"=")[2].strip() or b"0")
        await send(line + await reader.readexactly(size))
        line = await reader.readuntil(b"\n")
    await send(line)
    module = line.rstrip(b"\r\n")
    if os.fsdecode(module) not in modules:
        return  # the daemon answers with its own error
    end = b"\0" if int(version.group(1)) >= 30 else b"\n"
    args: list[bytes] = []
    paths = False  # options come first; "." separates them from the paths
    while True:
        arg = (await reader.readuntil(end))[:-1]
        if not arg:
            args.append(end)
            await send(b"".join(args))
            return
        if paths:
            arg = rewrite_daemon_arg(arg, module)
        elif arg == b".":
            paths = True
        args.append(arg + end)


def _file_name(instance_key: str) -> str:
    """A file name standing for an instance key (reversible, no path separators)."""
    name = urllib.parse.quote(instance_key, safe="")
    if name in {"", ".", ".."}:
        raise ValueError(f"unusable instance key: {instance_key!r}")
    return name


def _write_private(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 holding ``data``; fails if it exists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        path.chmod(0o700)
    return path


def _shell_path() -> str:
    return shutil.which("bash") or "/bin/sh"


def _sandbox_alias(real: str) -> Path:
    """Where the shell-safe symlink to a sandbox with an awkward path lives."""
    base = Path(tempfile.gettempdir()) / f"vp-sim-{os.getuid()}"
    return base / hashlib.sha256(real.encode()).hexdigest()[:16]


def _have_proc() -> bool:
    return os.path.exists("/proc/self/environ")


def _own_lineage() -> set[int]:
    """This process and its ancestors: never killed by a sandbox sweep."""
    pids = {os.getpid()}
    pid = os.getpid()
    while pid > 1:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            pid = int(stat.rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            break
        pids.add(pid)
    return pids


def _marked_pids(marker: bytes) -> list[int]:
    """Live processes whose environment carries ``marker`` (``NAME=value``), via /proc."""
    skip = _own_lineage()
    found: list[int] = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit() or int(entry) in skip:
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                environ = handle.read()
        except OSError:
            continue
        if marker in environ.split(b"\0"):
            found.append(int(entry))
    return found


def _signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to a process group; False when the group no longer exists."""
    if pgid <= 1 or pgid == os.getpgrp():
        return False
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _loop_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Report loop errors, except a known harmless asyncio bug (CPython gh-156512).

    A write pipe transport whose protocol calls ``write_eof()`` from ``resume_writing()``
    (asyncssh does, when the client's EOF arrives while stdin is backed up) calls
    ``_call_connection_lost`` twice; the second call only raises AttributeError.
    """
    handle = context.get("handle")
    callback = getattr(handle, "_callback", None)
    if (
        isinstance(context.get("exception"), AttributeError)
        and getattr(callback, "__name__", "") == "_call_connection_lost"
        and isinstance(getattr(callback, "__self__", None), asyncio.WriteTransport)
    ):
        return
    loop.default_exception_handler(context)


@dataclass(eq=False)
class _Session:
    """One running command or shell of a demo host."""

    pgid: int
    process: asyncio.subprocess.Process


@dataclass(eq=False)
class _Host:
    """Everything one demo instance's SSH server needs, owned by the loop thread."""

    key: str
    sandbox: str  # real path
    home: str  # real path
    command_sandbox: str  # the sandbox path as written into commands (shell-safe)
    authorized_keys: Callable[[], list[str]]
    host_key: asyncssh.SSHKey
    pgids_file: Path
    port: int = 0
    acceptor: asyncssh.SSHAcceptor | None = None
    proxy_port: int = 0
    """A second port of the same server: the instance's "proxy" endpoint."""
    proxy_acceptor: asyncssh.SSHAcceptor | None = None
    environment: dict[str, str] = field(default_factory=dict)
    """The instance's own variables, in the environment of every command run on it."""
    connections: set[asyncssh.SSHServerConnection] = field(default_factory=set)
    sessions: set[_Session] = field(default_factory=set)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)


class _HostServer(asyncssh.SSHServer):
    """Connection callbacks of one demo host: tracks connections, checks client keys."""

    def __init__(self, host: _Host) -> None:
        self._host = host
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._host.connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._host.connections.discard(self._conn)

    async def begin_auth(self, username: str) -> bool:
        assert self._conn is not None
        loop = asyncio.get_running_loop()
        try:
            lines = await loop.run_in_executor(None, self._host.authorized_keys)
        except Exception:
            log.exception("demo host %s: reading authorized keys failed", self._host.key)
            lines = []
        valid: list[str] = []
        for line in lines:
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            try:
                asyncssh.import_authorized_keys(text)
            except (asyncssh.KeyImportError, ValueError):
                log.warning("demo host %s: ignoring malformed authorized key", self._host.key)
                continue
            valid.append(text)
        self._conn.set_authorized_keys(asyncssh.import_authorized_keys("\n".join(valid) + "\n"))
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False


class _SandboxSFTP(asyncssh.SFTPServer):
    """SFTP view of a demo host: ``/workspace`` is the sandbox, ``/root`` and ``~`` the home."""

    def __init__(self, chan: asyncssh.SSHServerChannel, host: _Host) -> None:
        super().__init__(chan)
        self._roots = [
            (WORKSPACE.encode(), os.fsencode(host.sandbox)),
            (VIRTUAL_HOME.encode(), os.fsencode(host.home)),
        ]

    def map_path(self, path: bytes) -> bytes:
        if path == b"~" or path.startswith(b"~/"):
            virtual = VIRTUAL_HOME.encode() + path[1:]
        elif path.startswith(b"/"):
            virtual = path
        else:
            virtual = WORKSPACE.encode() + b"/" + path
        virtual = b"/" + posixpath.normpath(virtual).lstrip(b"/")
        for virtual_root, local_root in self._roots:
            if virtual == virtual_root:
                return local_root
            if virtual.startswith(virtual_root + b"/"):
                return local_root + virtual[len(virtual_root) :]
        raise asyncssh.SFTPNoSuchFile(f"{os.fsdecode(virtual)}: no such file on this instance")

    def reverse_map_path(self, path: bytes) -> bytes:
        for virtual_root, local_root in self._roots:
            if path == local_root:
                return virtual_root
            if path.startswith(local_root + b"/"):
                return virtual_root + path[len(local_root) :]
        raise asyncssh.SFTPNoSuchFile("no such file on this instance")

    async def scandir(self, path: bytes) -> AsyncIterator[asyncssh.SFTPName]:
        """A directory's entries; ``.`` and ``..`` describe the directory itself, since
        nothing above ``/workspace`` and ``/root`` exists on a demo host."""
        local = self.map_path(path)
        here = asyncssh.SFTPAttrs.from_local(os.lstat(local))
        for name in (b".", b".."):
            yield asyncssh.SFTPName(name, attrs=here)
        with os.scandir(local) as entries:
            for entry in entries:
                attrs = asyncssh.SFTPAttrs.from_local(entry.stat(follow_symlinks=False))
                yield asyncssh.SFTPName(os.fsencode(entry.name), attrs=attrs)

    def exit(self) -> None:
        # OpenSSH's scp treats a missing exit status as a failed copy.
        self.channel.exit(0)


class DemoSSHHosts:
    """SSH servers for demo instances: one listener per instance on 127.0.0.1, all on one
    asyncio loop in a daemon thread."""

    #: seconds between SIGHUP and SIGKILL when a channel closes under a running command
    hangup_grace: float = 2.0

    def __init__(self, state_dir: Path) -> None:
        self._state_dir = Path(state_dir)
        self._lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._hosts: dict[str, _Host] = {}

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Start the event loop thread that serves every demo host (idempotent)."""
        with self._lock:
            if self._loop is not None:
                return
            loop = asyncio.new_event_loop()
            ready = threading.Event()
            thread = threading.Thread(
                target=self._run_loop, args=(loop, ready), name="vp-sim-ssh", daemon=True
            )
            thread.start()
            ready.wait()
            self._loop, self._thread = loop, thread

    def stop(self) -> None:
        """Close every listener and live connection, kill running sessions, stop the loop.

        Detached jobs (``setsid``/``nohup``) keep running, as on a real machine whose
        sshd restarts; :meth:`remove_host` ends them.
        """
        with self._lock:
            loop, thread = self._loop, self._thread
            if loop is None or thread is None:
                return
            try:
                self._call(self._shutdown(), timeout=30)
            finally:
                loop.call_soon_threadsafe(loop.stop)
                thread.join(timeout=10)
                self._loop = self._thread = None
                self._hosts.clear()

    def __enter__(self) -> DemoSSHHosts:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- hosts

    def ensure_host(
        self,
        instance_key: str,
        sandbox: Path,
        authorized_keys: Callable[[], list[str]],
        environment: Mapping[str, str] | None = None,
    ) -> tuple[str, int]:
        """Serve ``instance_key`` over SSH (or return its running listener): ``(host, port)``.

        ``authorized_keys`` is called on every authentication attempt and returns the
        OpenSSH public key lines allowed to log in; only public key auth is offered.
        ``environment`` (the instance's own variables) is set for every command run on
        the host from now on, detached jobs inheriting it; None keeps what it was.
        The host key is kept under the state dir, so the instance keeps it across
        processes; the port is new in every process.
        """
        self.start()
        with self._lock:
            host = self._hosts.get(instance_key)
            if host is not None:
                if host.sandbox != os.path.realpath(sandbox):
                    raise ValueError(f"demo host {instance_key!r} already serves {host.sandbox}")
                host.authorized_keys = authorized_keys
                if environment is not None:
                    host.environment = dict(environment)
                return LOOPBACK, host.port
            host = self._new_host(instance_key, Path(sandbox), authorized_keys)
            host.environment = dict(environment or {})
            self._call(self._listen(host), timeout=30)
            self._hosts[instance_key] = host
            return LOOPBACK, host.port

    def remove_host(self, instance_key: str, *, forget_key: bool = False) -> None:
        """The instance is gone: close its listener and connections and kill every process
        started on it, detached jobs included. Works from any process sharing the state dir.

        ``forget_key`` also deletes the persisted host key.
        """
        with self._lock:
            host = self._hosts.pop(instance_key, None)
            if host is not None and self._loop is not None:
                self._call(self._close_host(host), timeout=30)
        record = self._read_record(instance_key)
        sandbox = host.sandbox if host is not None else record.get("sandbox")
        pgids_file = self._pgids_file(instance_key)
        if sandbox:
            self._kill_sandbox_processes(str(sandbox), pgids_file)
            alias = _sandbox_alias(str(sandbox))
            if os.path.islink(alias) and os.readlink(alias) == sandbox:
                alias.unlink()
        with contextlib.suppress(FileNotFoundError):
            pgids_file.unlink()
        with contextlib.suppress(FileNotFoundError):
            self._record_file(instance_key).unlink()
        with contextlib.suppress(FileNotFoundError):
            self._daemon_config_file(instance_key).unlink()
        if forget_key:
            with contextlib.suppress(FileNotFoundError):
                self._host_key_file(instance_key).unlink()

    def drop_connections(self, instance_key: str) -> None:
        """Abort every live connection to the host, as a network failure would.

        Sessions whose channel dies get SIGHUP (SIGKILL after ``hangup_grace``);
        detached jobs keep running. The listener stays up for reconnecting.
        """
        with self._lock:
            host = self._hosts.get(instance_key)
            if host is None or self._loop is None:
                return
            self._call(self._abort_connections(host), timeout=30)

    def host_public_key(self, instance_key: str) -> str:
        """The host's public key as one OpenSSH line (``ssh-ed25519 AAAA...``)."""
        key = self._host_key(instance_key)
        return key.export_public_key("openssh").decode().strip()

    def known_hosts_line(self, instance_key: str) -> str:
        """A known_hosts line for the running listener: ``[127.0.0.1]:PORT ssh-ed25519 ...``."""
        with self._lock:
            host = self._hosts.get(instance_key)
            if host is None:
                raise KeyError(f"demo host {instance_key!r} is not served by this process")
            port = host.port
        return f"[{LOOPBACK}]:{port} {self.host_public_key(instance_key)}"

    def proxy_endpoint(self, instance_key: str) -> tuple[str, int] | None:
        """The second ``(host, port)`` the host's server answers on (its "proxy"), or None
        when this process does not serve it."""
        with self._lock:
            host = self._hosts.get(instance_key)
            if host is None or not host.proxy_port:
                return None
            return LOOPBACK, host.proxy_port

    def served(self) -> dict[str, int]:
        """Instance keys served by this process and their ports."""
        with self._lock:
            return {key: host.port for key, host in self._hosts.items()}

    # ---------------------------------------------------------------- files

    def _host_key_file(self, instance_key: str) -> Path:
        return self._state_dir / "hostkeys" / _file_name(instance_key)

    def _record_file(self, instance_key: str) -> Path:
        return self._state_dir / "hosts" / f"{_file_name(instance_key)}.json"

    def _pgids_file(self, instance_key: str) -> Path:
        return self._state_dir / "hosts" / f"{_file_name(instance_key)}.pgids"

    def _daemon_config_file(self, instance_key: str) -> Path:
        return self._state_dir / "hosts" / f"{_file_name(instance_key)}.rsyncd.conf"

    def _write_daemon_config(self, host: _Host) -> Path:
        """(Re)write the host's rsyncd.conf atomically; returns its path."""
        path = self._daemon_config_file(host.key)
        _private_dir(path.parent)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        _write_private(tmp, _rsync_daemon_config(host.key, host.command_sandbox).encode())
        os.replace(tmp, path)
        return path

    def _host_key(self, instance_key: str) -> asyncssh.SSHKey:
        """Load the instance's host key, creating it on first use (race-free across processes)."""
        path = self._host_key_file(instance_key)
        if not path.exists():
            _private_dir(path.parent)
            key = asyncssh.generate_private_key("ssh-ed25519")
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
            _write_private(tmp, key.export_private_key("openssh"))
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        return asyncssh.read_private_key(str(path))

    def _read_record(self, instance_key: str) -> dict[str, Any]:
        try:
            data = json.loads(self._record_file(instance_key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _new_host(
        self, instance_key: str, sandbox: Path, authorized_keys: Callable[[], list[str]]
    ) -> _Host:
        sandbox.mkdir(parents=True, exist_ok=True)
        real = os.path.realpath(sandbox)
        home = home_of(Path(real))
        _private_dir(home)
        record = self._record_file(instance_key)
        _private_dir(record.parent)
        record.write_text(
            json.dumps({"instance_key": instance_key, "sandbox": real, "home": str(home)}),
            encoding="utf-8",
        )
        return _Host(
            key=instance_key,
            sandbox=real,
            home=os.path.realpath(home),
            command_sandbox=self._command_path(real),
            authorized_keys=authorized_keys,
            host_key=self._host_key(instance_key),
            pgids_file=self._pgids_file(instance_key),
        )

    @staticmethod
    def _command_path(real: str) -> str:
        """A shell-safe path to the sandbox, for textual rewriting into command lines.

        A path with spaces or shell characters gets a symlink under the temp dir.
        """
        if _SHELL_SAFE_PATH.fullmatch(real):
            return real
        link = _sandbox_alias(real)
        base = link.parent
        base.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(base)
        if not os.path.isdir(base) or os.path.islink(base) or info.st_uid != os.getuid():
            raise RuntimeError(f"{base} is not a private directory")
        if os.path.islink(link) and os.readlink(link) == real:
            return str(link)
        tmp = base / f".{link.name}.{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.symlink(real, tmp)
        os.replace(tmp, link)
        if not _SHELL_SAFE_PATH.fullmatch(str(link)):
            raise RuntimeError(f"no shell-safe path for the sandbox {real}")
        return str(link)

    @staticmethod
    def _update_pgids(path: Path, add: int | None = None, discard: int | None = None) -> None:
        """Add or drop a process group in a host's pgids file (locked across processes)."""
        _private_dir(path.parent)
        with open(path, "a+", encoding="ascii") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            pgids = [line.strip() for line in handle if line.strip().isdigit()]
            if add is not None:
                pgids.append(str(add))
            if discard is not None:
                pgids = [p for p in pgids if p != str(discard)]
            handle.seek(0)
            handle.truncate()
            handle.write("".join(f"{p}\n" for p in dict.fromkeys(pgids)))

    @staticmethod
    def _kill_sandbox_processes(sandbox: str, pgids_file: Path) -> None:
        """Kill every process started on the host: recorded process groups and every process
        whose environment carries the host's ``VP_SIM_SANDBOX`` (detached jobs in their own
        sessions included)."""
        try:
            recorded = {int(x) for x in pgids_file.read_text().split() if x.isdigit()}
        except OSError:
            recorded = set()
        if not _have_proc():
            # No /proc (macOS): recorded groups are all there is to go on.
            for pgid in recorded:
                _signal_group(pgid, signal.SIGKILL)
            return
        marker = f"{SANDBOX_ENV}={sandbox}".encode()
        for _ in range(100):
            pids = _marked_pids(marker)
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(OSError):
                    _signal_group(os.getpgid(pid), signal.SIGKILL)
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.01)
        log.warning("demo host sandbox %s: processes keep respawning", sandbox)

    # ---------------------------------------------------------------- loop plumbing

    @staticmethod
    def _run_loop(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.set_exception_handler(_loop_exception_handler)
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                loop.close()

    def _call(self, coro: Coroutine[Any, Any, _T], timeout: float) -> _T:
        loop = self._loop
        if loop is None:
            coro.close()
            raise RuntimeError("demo SSH hosts are not running")
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("DemoSSHHosts methods must not be called from its own loop")
        future: concurrent.futures.Future[_T] = asyncio.run_coroutine_threadsafe(coro, loop)
        return future.result(timeout)

    # ---------------------------------------------------------------- on the loop

    async def _listen(self, host: _Host) -> None:
        acceptor = await self._acceptor(host)
        host.acceptor = acceptor
        host.port = acceptor.get_port()
        proxy = await self._acceptor(host)
        host.proxy_acceptor = proxy
        host.proxy_port = proxy.get_port()

    async def _acceptor(self, host: _Host) -> asyncssh.SSHAcceptor:
        """A new listener on a free loopback port serving ``host``."""

        def process_factory(process: asyncssh.SSHServerProcess[bytes]) -> Any:
            return self._serve_session(host, process)

        return await asyncssh.create_server(
            lambda: _HostServer(host),
            LOOPBACK,
            0,
            server_host_keys=[host.host_key],
            process_factory=process_factory,
            sftp_factory=lambda chan: _SandboxSFTP(chan, host),
            allow_scp=False,
            encoding=None,
            line_editor=False,
            gss_host=None,
            agent_forwarding=False,
            x11_forwarding=False,
        )

    async def _shutdown(self) -> None:
        for host in list(self._hosts.values()):
            await self._close_host(host)
        current = asyncio.current_task()
        leftovers = [t for t in asyncio.all_tasks() if t is not current]
        for task in leftovers:
            task.cancel()
        if leftovers:
            await asyncio.wait(leftovers, timeout=5)

    async def _close_host(self, host: _Host) -> None:
        """Stop listening, kill the host's running sessions, close its connections."""
        for acceptor in (host.acceptor, host.proxy_acceptor):
            if acceptor is not None:
                acceptor.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(acceptor.wait_closed(), 5)
        host.acceptor = host.proxy_acceptor = None
        for session in list(host.sessions):
            _signal_group(session.pgid, signal.SIGKILL)
        for conn in list(host.connections):
            conn.close()
        await self._settle(host)

    async def _abort_connections(self, host: _Host) -> None:
        for conn in list(host.connections):
            conn.abort()
        await asyncio.sleep(0)

    async def _settle(self, host: _Host) -> None:
        """Wait for the host's connections and session handlers to finish."""
        conns = [asyncio.ensure_future(c.wait_closed()) for c in list(host.connections)]
        pending = [*conns, *host.tasks]
        if pending:
            _done, still = await asyncio.wait(pending, timeout=5)
            for task in still:
                task.cancel()
            if still:
                await asyncio.wait(still, timeout=1)

    async def _serve_session(self, host: _Host, process: asyncssh.SSHServerProcess[bytes]) -> None:
        task = asyncio.current_task()
        if task is not None:
            host.tasks.add(task)
        try:
            await self._run_session(host, process)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("demo host %s: session failed", host.key)
            with contextlib.suppress(Exception):
                process.exit(255)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(process.wait_closed(), 5)
            if task is not None:
                host.tasks.discard(task)

    def _environment(
        self, host: _Host, process: asyncssh.SSHServerProcess[bytes]
    ) -> dict[str, str]:
        user = process.get_extra_info("username") or "root"
        peer = process.get_extra_info("peername") or (LOOPBACK, 0)
        env = {
            "PATH": os.environ.get("PATH") or "/usr/local/bin:/usr/bin:/bin",
            "HOME": host.home,
            "USER": user,
            "LOGNAME": user,
            "SHELL": _shell_path(),
            "LANG": "C.UTF-8",
            "SSH_CONNECTION": f"{peer[0]} {peer[1]} {LOOPBACK} {host.port}",
            "SSH_CLIENT": f"{peer[0]} {peer[1]} {host.port}",
        }
        for name, value in os.environ.items():
            if _ACCEPTED_CLIENT_ENV.fullmatch(name):
                env[name] = value
        for raw_name, raw_value in process.env.items():
            name = os.fsdecode(raw_name) if isinstance(raw_name, bytes) else str(raw_name)
            value = os.fsdecode(raw_value) if isinstance(raw_value, bytes) else str(raw_value)
            if _ACCEPTED_CLIENT_ENV.fullmatch(name):
                env[name] = value
        if process.term_type:
            env["TERM"] = process.term_type
        env.update(host.environment)
        env[SANDBOX_ENV] = host.sandbox
        return env

    async def _run_session(self, host: _Host, process: asyncssh.SSHServerProcess[bytes]) -> None:
        if process.subsystem:
            process.stderr.write(f"subsystem {process.subsystem} is not available\n".encode())
            process.exit(1)
            return
        shell = _shell_path()
        command = process.command
        env = self._environment(host, process)
        daemon = _rsync_daemon_command(command) if command and not process.term_type else None
        rsync = shutil.which("rsync", path=env["PATH"]) if daemon else None
        if daemon and rsync:
            config = self._write_daemon_config(host)
            options = [word for word in daemon[1:] if not word.startswith("--config")]
            await self._run_rsync_daemon(
                host, process, [rsync, f"--config={config}", *options], env
            )
            return
        if command is None:
            argv = [shell, "-i"] if process.term_type else [shell]
        else:
            argv = [shell, "-c", rewrite_workspace(command, host.command_sandbox)]
        if process.term_type:
            await self._run_pty(host, process, argv, env)
        else:
            await self._run_pipes(host, process, argv, env)

    async def _run_pipes(
        self,
        host: _Host,
        process: asyncssh.SSHServerProcess[bytes],
        argv: list[str],
        env: dict[str, str],
    ) -> None:
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=in_r,
                stdout=out_w,
                stderr=err_w,
                cwd=host.sandbox,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            for fd in (in_r, in_w, out_r, out_w, err_r, err_w):
                os.close(fd)
            process.stderr.write(f"cannot start shell: {exc}\n".encode())
            process.exit(127)
            return
        for fd in (in_r, out_w, err_w):
            os.close(fd)
        await process.redirect(stdin=in_w, stdout=out_r, stderr=err_r, send_eof=False)
        await self._supervise(host, process, proc, [process.stdout, process.stderr])

    async def _run_rsync_daemon(
        self,
        host: _Host,
        process: asyncssh.SSHServerProcess[bytes],
        argv: list[str],
        env: dict[str, str],
    ) -> None:
        """rsync's daemon over SSH, with the request's instance paths mapped into the sandbox."""
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=out_w,
                stderr=err_w,
                cwd=host.sandbox,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            for fd in (out_r, out_w, err_r, err_w):
                os.close(fd)
            process.stderr.write(f"cannot start rsync: {exc}\n".encode())
            process.exit(127)
            return
        os.close(out_w)
        os.close(err_w)
        assert proc.stdin is not None
        await process.redirect(stdout=out_r, stderr=err_r, send_eof=False)
        modules = rsync_daemon_modules(host.key)
        feeder = asyncio.ensure_future(self._feed_daemon(process, proc.stdin, modules))
        try:
            await self._supervise(host, process, proc, [process.stdout, process.stderr])
        finally:
            feeder.cancel()
            await asyncio.wait([feeder], timeout=5)

    @staticmethod
    async def _feed_daemon(
        process: asyncssh.SSHServerProcess[bytes],
        stdin: asyncio.StreamWriter,
        modules: list[str],
    ) -> None:
        """Pass the client's bytes to the daemon, the handshake rewritten, until EOF."""

        async def send(data: bytes) -> None:
            stdin.write(data)
            await stdin.drain()

        try:
            await _relay_daemon_request(process.stdin, send, modules)
            while data := await process.stdin.read(65536):
                await send(data)
        except (asyncio.IncompleteReadError, ConnectionError, OSError, asyncssh.Error):
            pass
        finally:
            with contextlib.suppress(Exception):
                stdin.close()

    async def _run_pty(
        self,
        host: _Host,
        process: asyncssh.SSHServerProcess[bytes],
        argv: list[str],
        env: dict[str, str],
    ) -> None:
        master, slave = os.openpty()
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-I",
                "-S",
                "-c",
                _CTTY_SHIM,
                *argv,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                cwd=host.sandbox,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            os.close(master)
            os.close(slave)
            process.stderr.write(f"cannot start shell: {exc}\n".encode())
            process.exit(127)
            return
        os.close(slave)
        # The writer side sets the terminal size and forwards window changes.
        await process.redirect(stdin=os.dup(master), stdout=master, send_eof=False)
        await self._supervise(host, process, proc, [process.stdout])

    async def _supervise(
        self,
        host: _Host,
        process: asyncssh.SSHServerProcess[bytes],
        proc: asyncio.subprocess.Process,
        outputs: list[asyncssh.SSHWriter[bytes]],
    ) -> None:
        """Wait for the command; report its exit, or hang it up if the channel goes first."""
        session = _Session(pgid=proc.pid, process=proc)
        host.sessions.add(session)
        self._update_pgids(host.pgids_file, add=session.pgid)
        process.set_redirect_pid(-proc.pid)
        exited = asyncio.ensure_future(proc.wait())
        closed = asyncio.ensure_future(process.channel.wait_closed())
        try:
            await asyncio.wait({exited, closed}, return_when=asyncio.FIRST_COMPLETED)
            if not exited.done():
                await self._hang_up(session, exited)
                return
            returncode = exited.result()
            for output in outputs:
                with contextlib.suppress(OSError, asyncssh.Error):
                    await output.drain()
            if not process.is_closing():
                process.channel.write_eof()
                if returncode < 0:
                    name = signal.Signals(-returncode).name.removeprefix("SIG")
                    process.exit_with_signal(name)
                else:
                    process.exit(returncode)
        finally:
            closed.cancel()
            if not exited.done():
                _signal_group(session.pgid, signal.SIGKILL)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.shield(exited), 5)
            host.sessions.discard(session)
            if not _signal_group(session.pgid, 0):
                self._update_pgids(host.pgids_file, discard=session.pgid)

    async def _hang_up(self, session: _Session, exited: asyncio.Future[int]) -> None:
        """The channel closed under a running command: SIGHUP its group, SIGKILL if it lingers."""
        _signal_group(session.pgid, signal.SIGHUP)
        _signal_group(session.pgid, signal.SIGCONT)
        try:
            await asyncio.wait_for(asyncio.shield(exited), self.hangup_grace)
        except TimeoutError:
            _signal_group(session.pgid, signal.SIGKILL)
            await exited
