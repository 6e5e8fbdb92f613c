"""One SSH connection to an instance: short commands and detached jobs that survive us.

A job runs **detached on the instance**, in a session of its own, with its
output (stdout and stderr interleaved) appended to ``~/.vp/jobs/<id>/output``
and its exit code written to ``~/.vp/jobs/<id>/exit_code`` when it ends.
Nothing about the job depends on the SSH connection that started it: a
dropped connection, a sleeping laptop or a closed dashboard leave it running,
and :meth:`Remote.stream_job` picks its output up again from any byte offset.

Output is read through raw paramiko channels (``recv(65536)``), never through
fabric's ``run()``, whose buffering makes large outputs quadratic. Every
script sent to the instance is POSIX ``sh``.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import select
import shlex
import socket
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal, NamedTuple

import fabric
import paramiko

from vp_tui.config import Settings
from vp_tui.core import cancel
from vp_tui.core.cancel import Cancelled
from vp_tui.core.models import Instance, SSHEndpoint
from vp_tui.remote.keys import (
    HostAlias,
    HostKeyChanged,
    Identity,
    KnownHosts,
    RemoteError,
    SSHKeyError,
    fingerprint,
    resolve_identity,
    ssh_options,
)

__all__ = [
    "Cancelled",
    "CommandResult",
    "CommandTimeout",
    "ConnectError",
    "ConnectionLost",
    "HostKeyChanged",
    "JobExists",
    "JobNotFound",
    "JobStatus",
    "JobStream",
    "Remote",
    "RemoteError",
    "job_dir",
]

JOBS_DIR = ".vp/jobs"
"""Where jobs live on an instance, relative to the login user's home."""

_JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_COMMAND = 64 * 1024
_CHUNK = 65536

# Exit codes of vp's own remote scripts (chosen away from common ones).
_RC_NO_JOB = 44
_RC_BAD_OFFSET = 45
_RC_JOB_EXISTS = 73
_RC_NO_WORKDIR = 74
_RC_NOT_STARTED = 75


class ConnectError(RemoteError):
    """The instance could not be reached or would not let us in before the deadline."""


class ConnectionLost(RemoteError):
    """The connection dropped under an operation; reconnect and retry or resume."""


class CommandTimeout(RemoteError):
    """A short command did not finish in time."""


class JobNotFound(RemoteError):
    """No job with that id exists on the instance."""


class JobExists(RemoteError):
    """A job with that id was already started on the instance."""


class CommandResult(NamedTuple):
    """What a short command left behind: exit code, stdout and stderr (decoded UTF-8)."""

    rc: int
    out: str
    err: str


JobState = Literal["running", "exited", "lost", "unknown"]


@dataclass(frozen=True)
class JobStatus:
    """A job as the instance sees it now.

    ``running``: still going; ``exited``: ended with ``exit_code``; ``lost``: its
    process is gone without an exit code (killed hard, instance rebooted);
    ``unknown``: no such job on the instance.
    """

    state: JobState
    exit_code: int | None = None
    output_size: int | None = None
    """Bytes of output the job has written so far."""
    canceled: bool = False
    """Whether vp-tui asked the job to stop."""

    @property
    def ended(self) -> bool:
        """Whether the job will produce no more output."""
        return self.state in ("exited", "lost")


def job_dir(job_id: str) -> str:
    """The job's directory on the instance as a shell word (``"$HOME"/.vp/jobs/<id>``)."""
    _check_job_id(job_id)
    return f'"$HOME/{JOBS_DIR}/{job_id}"'


def _check_job_id(job_id: str) -> None:
    if not _JOB_ID.fullmatch(job_id):
        raise ValueError(f"job id {job_id!r}: use letters, digits, '.', '_' and '-' only")


def remote_path_word(path: str) -> str:
    """A remote path as one shell word, expanding a leading ``~`` to ``$HOME``."""
    if path == "~":
        return '"$HOME"'
    if path.startswith("~/"):
        return '"$HOME"/' + shlex.quote(path[2:])
    return shlex.quote(path)


# ------------------------------------------------------------------------ remote scripts

# Sleeps of 0.1 s where `sleep` takes fractions (GNU, busybox), else 1 s; `_BEAT`
# naps between heartbeats on stderr while following a job.
_NAP = """\
if sleep 0 2>/dev/null && sleep 0.01 2>/dev/null; then vp_nap=0.1; vp_beat=50; vp_quick=0.01
else vp_nap=1; vp_beat=5; vp_quick=1; fi
"""

# `vp_alive`: the job's wrapper process still runs: same pid, same start time (so a
# pid reused after a reboot does not count), not a zombie. Without /proc: kill -0.
_ALIVE = (
    "vp_alive() {\n"
    '  set -- $(cat "$d/pid" 2>/dev/null)\n'
    '  [ -n "${1:-}" ] || return 1\n'
    '  if [ -r "/proc/$1/stat" ]; then\n'
    "    read -r _ _ vp_ps " + "_ " * 18 + 'vp_st _ 2>/dev/null < "/proc/$1/stat" || return 1\n'
    '    [ "$vp_ps" != Z ] && [ "$vp_ps" != X ] || return 1\n'
    '    [ -z "${2:-}" ] || [ "$vp_st" = "$2" ]\n'
    "    return\n"
    "  fi\n"
    "  [ -r /proc/self/stat ] && return 1\n"
    '  kill -0 "$1" 2>/dev/null\n'
    "}\n"
)

_STATUS = """\
vp_cancel=0; [ -e "$d/canceled" ] && vp_cancel=1
if [ -e "$d/exit_code" ]; then vp_s="exited $(cat "$d/exit_code")"
elif vp_alive; then vp_s="running -"
elif [ -e "$d/exit_code" ]; then vp_s="exited $(cat "$d/exit_code")"
else vp_s="lost -"; fi
vp_n=$(wc -c < "$d/output" 2>/dev/null) || vp_n=0
printf 'VPSTATUS %s %s %s\\n' "$vp_s" "$((vp_n + 0))" "$vp_cancel" >&2
"""


def _prelude(job_id: str) -> str:
    return f"d={job_dir(job_id)}\n"


def _require_job(job_id: str) -> str:
    return (
        f'[ -d "$d" ] || {{ echo "vp: no job {job_id} on this instance" >&2; '
        f"exit {_RC_NO_JOB}; }}\n"
    )


def _job_script(command: str, workdir: str | None, env: Mapping[str, str]) -> str:
    """The wrapper that runs on the instance as the job: records pid, runs, records rc."""
    lines = [
        "d=$1; vp_mode=$2; vp_pg=${3:-}",
        'if [ "$vp_mode" = plain ]; then trap "" HUP; else vp_pg=$$; fi',
        '[ -n "$vp_pg" ] && printf "%s\\n" "$vp_pg" > "$d/pgid"',
        "vp_st=; read -r _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ vp_st _ 2>/dev/null"
        ' < "/proc/$$/stat" || vp_st=',
        'printf "%s %s\\n" "$$" "$vp_st" > "$d/pid.tmp" && mv -f "$d/pid.tmp" "$d/pid"',
        "vp_sig=",
        'trap "vp_sig=1" INT TERM',
        '[ "$vp_mode" = plain ] || trap "vp_sig=1" HUP',
    ]
    if workdir:
        word = remote_path_word(workdir)
        lines.append(
            f"cd {word} 2>/dev/null || {{ printf 'vp: cannot enter %s\\n' {shlex.quote(workdir)}"
            ' >> "$d/output"; printf "126\\n" > "$d/exit_code.tmp";'
            ' mv -f "$d/exit_code.tmp" "$d/exit_code"; exit 126; }'
        )
    for name, value in env.items():
        lines.append(f"export {name}={shlex.quote(value)}")
    lines += [
        f'"${{SHELL:-/bin/sh}}" -c {shlex.quote(command)} < /dev/null >> "$d/output" 2>&1',
        "vp_rc=$?",
        'printf "%s\\n" "$vp_rc" > "$d/exit_code.tmp" && mv -f "$d/exit_code.tmp" "$d/exit_code"',
        "",
    ]
    return "\n".join(lines)


_DETACH = {
    "setsid": 'setsid sh "$d/job.sh" "$d" setsid',
    "python3": (
        "python3 -c 'import os, sys\n"
        "try:\n    os.setsid()\nexcept OSError:\n    pass\n"
        'os.execvp(sys.argv[1], sys.argv[1:])\' sh "$d/job.sh" "$d" python3'
    ),
}


def _launch_script(
    job_id: str,
    command: str,
    workdir: str | None,
    env: Mapping[str, str],
    detachers: tuple[str, ...],
) -> str:
    body = _job_script(command, workdir, env)
    delimiter = "VP_JOB_" + secrets.token_hex(8)
    while delimiter in body:  # pragma: no cover - 64 random bits
        delimiter = "VP_JOB_" + secrets.token_hex(8)
    parts = [
        _prelude(job_id),
        _NAP,
        f'mkdir -p "$HOME/{JOBS_DIR}" || exit 70\n',
        f'mkdir "$d" 2>/dev/null || {{ echo "vp: job {job_id} already exists on this '
        f'instance" >&2; exit {_RC_JOB_EXISTS}; }}\n',
    ]
    if workdir:
        parts.append(
            f"if ! cd {remote_path_word(workdir)} 2>/dev/null; then echo "
            f"{shlex.quote(f'vp: no such directory on the instance: {workdir}')} >&2; "
            f'rm -rf "$d"; exit {_RC_NO_WORKDIR}; fi\n'
        )
    parts += [
        f"cat > \"$d/job.sh\" <<'{delimiter}'\n{body}{delimiter}\n",
        ': > "$d/output"\n',
        "vp_how=\n",
    ]
    for name in detachers:
        parts.append(
            f'if [ -z "$vp_how" ] && command -v {name} >/dev/null 2>&1; then\n'
            f"  {_DETACH[name]} </dev/null >/dev/null 2>&1 &\n"
            f"  vp_how={name}\n"
            "fi\n"
        )
    parts += [
        'if [ -z "$vp_how" ]; then\n'
        # No way to start a new session: the job stays in this shell's group, which
        # sshd made a session of its own, and ignores SIGHUP like nohup.
        "  vp_g=; read -r _ _ _ _ vp_g _ 2>/dev/null < /proc/$$/stat || vp_g=\n"
        '  [ "$vp_g" = "$$" ] || vp_g=\n'
        '  sh "$d/job.sh" "$d" plain "$vp_g" </dev/null >/dev/null 2>&1 &\n'
        "  vp_how=plain\n"
        "fi\n",
        "vp_i=0\n",
        # Quick naps first (a job usually starts within milliseconds), then slower ones.
        'while [ ! -e "$d/pid" ] && [ "$vp_i" -lt 150 ]; do '
        'if [ "$vp_i" -lt 50 ]; then sleep "$vp_quick"; else sleep "$vp_nap"; fi; '
        "vp_i=$((vp_i + 1)); done\n",
        f'[ -e "$d/pid" ] || {{ echo "vp: the job did not start" >&2; exit {_RC_NOT_STARTED}; }}\n',
        'echo "$vp_how"\n',
    ]
    return "".join(parts)


def _status_script(job_id: str) -> str:
    return (
        _prelude(job_id)
        + '[ -d "$d" ] || { echo "VPSTATUS unknown - 0 0" >&2; exit 0; }\n'
        + _ALIVE
        + _STATUS
    )


def _catch_up_script(job_id: str, offset: int) -> str:
    """Status first, then every byte from ``offset`` to the current end of the output.

    The status is taken before reading, so an ``exited`` status means the bytes
    sent are all the job will ever write.
    """
    return (
        _prelude(job_id)
        + _require_job(job_id)
        + _ALIVE
        + _STATUS
        + f'[ "$((vp_n + 0))" -ge {offset} ] || exit {_RC_BAD_OFFSET}\n'
        + f'[ "$((vp_n + 0))" -gt {offset} ] && exec tail -c +{offset + 1} "$d/output"\n'
        + "exit 0\n"
    )


def _follow_script(job_id: str, offset: int) -> str:
    """Send output from ``offset`` as it is written, until the job ends or we go away.

    A heartbeat byte goes to stderr every few seconds so the client can tell a
    quiet job from a dead connection. A watcher on stdin kills everything when
    the client disconnects, so no ``tail`` outlives its reader.
    """
    return (
        _prelude(job_id)
        + _require_job(job_id)
        + _ALIVE
        + _NAP
        + "exec 3<&0\n"
        + f'tail -c +{offset + 1} -f "$d/output" </dev/null &\n'
        + "vp_t=$!\n"
        + '{ cat <&3 >/dev/null 2>&1; kill "$vp_t" 2>/dev/null; kill "$$" 2>/dev/null; }'
        " </dev/null >/dev/null 2>&1 &\n"
        + "vp_w=$!\n"
        + "vp_i=0\n"
        + 'while [ ! -e "$d/exit_code" ] && vp_alive && kill -0 "$vp_t" 2>/dev/null; do\n'
        + '  sleep "$vp_nap"; vp_i=$((vp_i + 1))\n'
        + '  if [ "$vp_i" -ge "$vp_beat" ]; then printf . >&2; vp_i=0; fi\n'
        + "done\n"
        + 'kill "$vp_t" "$vp_w" 2>/dev/null\n'
        + "exit 0\n"
    )


def _cancel_script(job_id: str, grace: float) -> str:
    naps = max(1, round(grace * 10))
    return (
        _prelude(job_id)
        + '[ -d "$d" ] || { echo "VPSTATUS unknown - 0 0" >&2; exit 0; }\n'
        + _ALIVE
        + _NAP
        + 'if [ ! -e "$d/exit_code" ]; then\n'
        + '  : > "$d/canceled"\n'
        + "  if vp_alive; then\n"
        + '    set -- $(cat "$d/pid"); vp_p=$1; vp_g=$(cat "$d/pgid" 2>/dev/null)\n'
        + '    vp_signal() { if [ -n "$vp_g" ]; then kill -s "$1" -- "-$vp_g" 2>/dev/null'
        ' || kill -s "$1" "$vp_p" 2>/dev/null; else kill -s "$1" "$vp_p" 2>/dev/null; fi; }\n'
        + "    vp_signal TERM\n"
        + f'    [ "$vp_nap" = 1 ] && vp_n={max(1, round(grace))} || vp_n={naps}\n'
        + "    vp_i=0\n"
        + '    while [ ! -e "$d/exit_code" ] && vp_alive && [ "$vp_i" -lt "$vp_n" ]; do\n'
        + '      sleep "$vp_nap"; vp_i=$((vp_i + 1)); done\n'
        + '    if [ ! -e "$d/exit_code" ]; then\n'
        + "      vp_signal KILL; sleep 0.2 2>/dev/null || sleep 1\n"
        + "    fi\n"
        + "  fi\n"
        # Killed before it could record its end: record 137 (128 + SIGKILL) for it.
        + '  [ -e "$d/exit_code" ] || { printf "137\\n" > "$d/exit_code.tmp" &&'
        ' mv -f "$d/exit_code.tmp" "$d/exit_code"; }\n' + "fi\n" + _STATUS
    )


def _parse_status(stderr: str) -> JobStatus:
    for line in reversed(stderr.splitlines()):
        parts = line.split()
        if len(parts) == 5 and parts[0] == "VPSTATUS":
            state, rc, size, canceled = parts[1], parts[2], parts[3], parts[4]
            if state not in ("running", "exited", "lost", "unknown"):
                break
            try:
                exit_code = int(rc) if rc != "-" else None
            except ValueError:
                exit_code = None
            return JobStatus(
                state,  # type: ignore[arg-type]
                exit_code=exit_code,
                output_size=int(size) if size.isdigit() else None,
                canceled=canceled == "1",
            )
    raise RemoteError(f"unexpected answer from the instance: {stderr.strip()[:500]!r}")


# ------------------------------------------------------------------------- host keys


class _TrustOnFirstUse(paramiko.MissingHostKeyPolicy):
    """paramiko's hook for a host key not yet known: check it per instance alias."""

    def __init__(self, known_hosts: KnownHosts, alias: HostAlias) -> None:
        self._known_hosts = known_hosts
        self._alias = alias

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        self._known_hosts.verify(self._alias, key)


_TRANSIENT = (OSError, EOFError, paramiko.SSHException)


class Remote:
    """A connection to one instance: run short commands, start, follow and cancel jobs.

    Host keys are checked against vp-tui's known_hosts under the instance's
    alias (trust on first use). One ``Remote`` may be used from several threads
    at once: they share one connection (the first to need it opens it, the
    others wait for it) and every operation opens its own channel on it.
    """

    detachers: tuple[str, ...] = ("setsid", "python3")
    """Ways to start a job in a new session, tried in order; without any, the job
    is started with SIGHUP ignored in the login session's process group."""

    def __init__(
        self,
        endpoint: SSHEndpoint,
        alias: HostAlias,
        *,
        identity: Identity | None = None,
        known_hosts: KnownHosts | None = None,
        connect_timeout: float = 10.0,
    ) -> None:
        self.endpoint = endpoint
        self.alias = alias
        self.identity = identity or resolve_identity()
        self.known_hosts = known_hosts or KnownHosts()
        self.connect_timeout = connect_timeout
        self._connection: fabric.Connection | None = None
        self._connect_lock = threading.RLock()

    @classmethod
    def for_instance(cls, instance: Instance, settings: Settings | None = None) -> Remote:
        """A (not yet connected) Remote for an instance, with the configured identity."""
        if instance.ssh is None:
            raise RemoteError(
                f"{instance.platform} instance {instance.instance_id} has no SSH endpoint yet"
            )
        settings = settings or Settings()
        return cls(
            instance.ssh,
            HostAlias.for_instance(instance),
            identity=resolve_identity(settings.ssh),
            connect_timeout=settings.ssh.connect_timeout,
        )

    # --------------------------------------------------------------- connection

    def __enter__(self) -> Remote:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def is_connected(self) -> bool:
        """Whether the SSH connection is up."""
        transport = self._connection.transport if self._connection is not None else None
        return transport is not None and transport.is_active()

    def connect(
        self,
        timeout: float = 60.0,
        on_retry: Callable[[int, Exception], None] | None = None,
        *,
        stop: threading.Event | None = None,
    ) -> Remote:
        """Connect, retrying with backoff while the instance boots, for up to ``timeout`` s.

        Refused connections, missing banners and rejected keys (not yet
        installed on a booting instance) are retried; a changed host key or an
        unusable local key is raised at once. ``on_retry(attempt, error)`` is
        called before each wait. Threads calling at once share one connection.
        Setting ``stop`` raises :class:`Cancelled` (between attempts: an attempt
        itself lasts at most ``connect_timeout``).
        """
        with self._connecting(stop):
            if self.is_connected:
                return self
            self.close()
            key = self.identity.load_key()
            started = time.monotonic()
            deadline = started + timeout
            attempt = 0
            while True:
                attempt += 1
                try:
                    self._connection = self._open(key)
                    return self
                except (HostKeyChanged, SSHKeyError):
                    raise
                except _TRANSIENT as exc:
                    last: Exception = exc
                cancel.check(stop, "connecting cancelled")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    elapsed = time.monotonic() - started
                    raise ConnectError(self._connect_failure(last, attempt, elapsed))
                if on_retry is not None:
                    on_retry(attempt, last)
                cancel.pause(
                    min(remaining, 0.25 * 2 ** min(attempt - 1, 5)), stop, "connecting cancelled"
                )

    def reconnect(self, timeout: float = 60.0, *, stop: threading.Event | None = None) -> Remote:
        """Drop the current connection (if any) and connect again."""
        with self._connecting(stop):
            self.close()
            return self.connect(timeout, stop=stop)

    @contextlib.contextmanager
    def _connecting(self, stop: threading.Event | None) -> Iterator[None]:
        """Hold the connect lock (one thread connects, the others wait to share its
        connection), waiting for it no longer than ``stop`` allows."""
        while not self._connect_lock.acquire(timeout=0.1):
            cancel.check(stop, "connecting cancelled")
        try:
            cancel.check(stop, "connecting cancelled")
            yield
        finally:
            self._connect_lock.release()

    def _open(self, key: paramiko.PKey | None) -> fabric.Connection:
        timeout = self.connect_timeout
        connection = fabric.Connection(
            self.endpoint.host,
            user=self.endpoint.user,
            port=self.endpoint.port,
            config=fabric.Config(ssh_config=paramiko.SSHConfig(), lazy=True),
            connect_kwargs={
                "pkey": key,
                "allow_agent": self.identity.use_agent,
                "look_for_keys": False,
                "timeout": timeout,
                "banner_timeout": timeout,
                "auth_timeout": timeout,
                "channel_timeout": timeout,
            },
        )
        client: paramiko.SSHClient = connection.client
        # fabric's default AutoAddPolicy trusts anything: check per instance instead.
        client.set_missing_host_key_policy(_TrustOnFirstUse(self.known_hosts, self.alias))
        known = self.known_hosts.lookup(self.alias)
        name = (
            self.endpoint.host
            if self.endpoint.port == 22
            else f"[{self.endpoint.host}]:{self.endpoint.port}"
        )
        host_keys = client.get_host_keys()
        for entry in known:
            with contextlib.suppress(paramiko.SSHException, ValueError):
                host_keys.add(name, entry.key_type, entry.to_pkey())
        try:
            connection.open()
        except paramiko.BadHostKeyException as exc:
            connection.close()
            raise HostKeyChanged(
                self.alias,
                [entry.fingerprint for entry in known],
                fingerprint(exc.key.asbytes()),
                self.known_hosts.path,
                [entry.line for entry in known],
            ) from None
        except BaseException:
            connection.close()
            raise
        transport = connection.transport
        if transport is not None:
            transport.set_keepalive(15)
            # Short commands follow each other: don't let Nagle + delayed ACKs add ~40 ms.
            sock = transport.sock
            if isinstance(sock, socket.socket):
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection

    def _connect_failure(self, error: Exception, attempts: int, elapsed: float) -> str:
        where = f"{self.alias.describe()} at {self.endpoint}"
        tries = f"{attempts} attempt{'s' if attempts != 1 else ''} in {elapsed:.0f} s"
        if isinstance(error, paramiko.AuthenticationException):
            key = self.identity.key_path or "the SSH agent's keys"
            return (
                f"{where} did not accept the SSH key {key} ({tries}). Was the key registered "
                f"with {self.alias.platform} before the instance was created?"
            )
        detail = str(error) or type(error).__name__
        return f"cannot reach {where} ({tries}): {detail}"

    def close(self) -> None:
        """Close the connection (running jobs are not affected)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()

    def _transport(self) -> paramiko.Transport:
        connection = self._connection
        if connection is None:
            connection = self.connect(timeout=self.connect_timeout)._connection
        transport = connection.transport if connection is not None else None
        if transport is None or not transport.is_active():
            raise ConnectionLost(f"the connection to {self.alias.describe()} was lost")
        return transport

    def _open_channel(self, command: str) -> paramiko.Channel:
        transport = self._transport()
        try:
            channel = transport.open_session(timeout=self.connect_timeout)
        except paramiko.ChannelException as exc:  # the server refused (e.g. MaxSessions)
            raise RemoteError(f"{self.alias.describe()}: cannot open a session: {exc}") from None
        except _TRANSIENT as exc:
            raise self._lost(str(exc) or type(exc).__name__) from None
        try:
            channel.exec_command(command)
        except _TRANSIENT as exc:
            channel.close()
            raise self._lost(str(exc) or type(exc).__name__) from None
        return channel

    def _lost(self, detail: str) -> ConnectionLost:
        self.close()
        return ConnectionLost(f"the connection to {self.alias.describe()} was lost: {detail}")

    def _pump(
        self,
        channel: paramiko.Channel,
        on_stderr: Callable[[bytes], None],
        *,
        timeout: float | None = None,
        idle_timeout: float | None = None,
        stop: threading.Event | None = None,
    ) -> Iterator[bytes]:
        """Yield stdout chunks as they arrive, hand stderr to ``on_stderr``; return at EOF.

        ``timeout`` bounds the whole command (:class:`CommandTimeout`);
        ``idle_timeout`` bounds silence on both streams (:class:`ConnectionLost`);
        setting ``stop`` raises :class:`Cancelled` within a fraction of a second.
        """
        start = last = time.monotonic()
        try:
            while True:
                cancel.check(stop, "cancelled")
                active = False
                if channel.recv_stderr_ready():
                    on_stderr(channel.recv_stderr(_CHUNK))
                    active = True
                if channel.recv_ready():
                    data = channel.recv(_CHUNK)
                    if data:
                        active = True
                        yield data
                if active:
                    last = time.monotonic()
                    continue
                if channel.eof_received or channel.closed:
                    if channel.recv_ready() or channel.recv_stderr_ready():
                        continue
                    break
                now = time.monotonic()
                if timeout is not None and now - start > timeout:
                    raise CommandTimeout(
                        f"{self.alias.describe()}: command did not finish within {timeout:g} s"
                    )
                if idle_timeout is not None and now - last > idle_timeout:
                    raise self._lost(f"nothing heard for {idle_timeout:g} s")
                select.select([channel], [], [], 0.5 if stop is None else 0.2)
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise self._lost(str(exc) or type(exc).__name__) from None

    def _finish(self, channel: paramiko.Channel, wait: float = 30.0) -> int:
        """The exit status after EOF; :class:`ConnectionLost` if the connection died."""
        transport = self._connection.transport if self._connection is not None else None
        deadline = time.monotonic() + wait
        # Wait for the status, but not for one a dead connection can no longer bring.
        while not channel.status_event.wait(0.1):
            if transport is None or not transport.is_active() or time.monotonic() > deadline:
                break
        status = channel.exit_status if channel.exit_status_ready() else -1
        if status == -1 and (transport is None or not transport.is_active()):
            raise self._lost("the command's channel closed without an exit status")
        return status

    # ---------------------------------------------------------------- commands

    def run(
        self,
        command: str,
        timeout: float | None = 60.0,
        *,
        check: bool = False,
        stop: threading.Event | None = None,
    ) -> CommandResult:
        """Run a short command (through the login shell) and collect its output.

        For anything that may print a lot, start a job and stream it instead.
        ``check`` raises :class:`RemoteError` on a non-zero exit code; setting
        ``stop`` raises :class:`Cancelled` and closes the command's channel.
        """
        channel = self._open_channel(command)
        out: list[bytes] = []
        err: list[bytes] = []
        try:
            for chunk in self._pump(channel, err.append, timeout=timeout, stop=stop):
                out.append(chunk)
            rc = self._finish(channel)
        finally:
            channel.close()
        result = CommandResult(
            rc,
            b"".join(out).decode("utf-8", errors="replace"),
            b"".join(err).decode("utf-8", errors="replace"),
        )
        if check and rc != 0:
            detail = result.err.strip() or result.out.strip()
            raise RemoteError(
                f"{self.alias.describe()}: command failed with exit code {rc}: {detail[-1000:]}"
            )
        return result

    def _run_sh(self, script: str, timeout: float | None = 60.0) -> CommandResult:
        return self.run("sh -c " + shlex.quote(script), timeout=timeout)

    # -------------------------------------------------------------------- jobs

    def start_job(
        self,
        job_id: str,
        command: str,
        workdir: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """Start ``command`` detached on the instance and return once it runs.

        The command runs through the login shell (``$SHELL -c``), in ``workdir``
        (``~`` allowed; default the home directory), with ``env`` added (values
        are passed literally), in a session of its own. Its stdout and stderr go
        to ``~/.vp/jobs/<job_id>/output``, its exit code to ``exit_code`` there.
        """
        _check_job_id(job_id)
        env = dict(env or {})
        for name in env:
            if not _ENV_NAME.fullmatch(name):
                raise ValueError(f"environment variable name {name!r} is not valid")
        if len(command.encode()) > _MAX_COMMAND:
            raise ValueError(
                f"the command is over {_MAX_COMMAND // 1024} KB; put it in a script in the project"
            )
        if not command.strip():
            raise ValueError("the command is empty")
        script = _launch_script(job_id, command, workdir, env, self.detachers)
        result = self._run_sh(script, timeout=max(60.0, self.connect_timeout))
        if result.rc == _RC_JOB_EXISTS:
            raise JobExists(f"job {job_id} already exists on {self.alias.describe()}")
        if result.rc == _RC_NO_WORKDIR:
            raise RemoteError(f"{self.alias.describe()}: {result.err.strip().removeprefix('vp: ')}")
        if result.rc != 0:
            raise RemoteError(
                f"{self.alias.describe()}: could not start job {job_id} (exit code {result.rc}): "
                f"{result.err.strip()[-1000:]}"
            )

    def stream_job(
        self,
        job_id: str,
        offset: int = 0,
        *,
        idle_timeout: float = 30.0,
        stop: threading.Event | None = None,
    ) -> JobStream:
        """The job's output from byte ``offset`` on, as chunks of bytes, until the job ends.

        Iterate the returned :class:`JobStream`; ``stream.offset`` counts the bytes
        received (from the start of the output), ``stream.status`` holds the final
        :class:`JobStatus` after the last chunk. On :class:`ConnectionLost`,
        reconnect and call ``stream_job(job_id, stream.offset)``: no byte is lost
        or repeated. ``idle_timeout`` is how long total silence (no output, no
        heartbeat) means the connection is dead. Setting ``stop`` ends the
        iteration with :class:`Cancelled` (the job keeps running; resume from
        ``stream.offset``).
        """
        _check_job_id(job_id)
        if offset < 0:
            raise ValueError("offset must be >= 0")
        return JobStream(self, job_id, offset, idle_timeout, stop)

    def job_status(self, job_id: str) -> JobStatus:
        """Whether the job runs, how it ended, and how much output it wrote."""
        result = self._run_sh(_status_script(job_id))
        return _parse_status(result.err)

    def cancel_job(self, job_id: str, grace: float = 5.0) -> JobStatus:
        """Stop the job: SIGTERM to its whole process group, SIGKILL after ``grace`` s.

        Returns the final status (already-ended jobs are left as they are).
        """
        result = self._run_sh(_cancel_script(job_id, grace), timeout=grace + 60.0)
        return _parse_status(result.err)

    def remove_job(self, job_id: str) -> None:
        """Delete a finished job's files on the instance."""
        status = self.job_status(job_id)
        if status.state == "running":
            raise RemoteError(f"job {job_id} is still running on {self.alias.describe()}")
        self._run_sh(_prelude(job_id) + 'rm -rf "$d"\n')

    def list_jobs(self) -> list[str]:
        """Ids of the jobs whose files are on the instance."""
        result = self._run_sh(
            f'[ -d "$HOME/{JOBS_DIR}" ] && cd "$HOME/{JOBS_DIR}" && for j in *; do '
            '[ -d "$j" ] && printf "%s\\n" "$j"; done; exit 0\n'
        )
        return sorted(line for line in result.out.splitlines() if _JOB_ID.fullmatch(line))

    # ------------------------------------------------------------ files, ssh

    def sftp(self) -> paramiko.SFTPClient:
        """A new SFTP session on this connection (close it when done)."""
        transport = self._transport()
        try:
            client = paramiko.SFTPClient.from_transport(transport)
        except _TRANSIENT as exc:
            if not transport.is_active():
                raise self._lost(str(exc)) from None
            raise RemoteError(f"{self.alias.describe()}: SFTP is not available: {exc}") from None
        if client is None:
            raise RemoteError(f"{self.alias.describe()}: SFTP is not available")
        return client

    def ssh_options(self, *, batch: bool = True) -> list[str]:
        """Options for the system ``ssh`` (or rsync's ``-e``) reaching this instance."""
        return ssh_options(
            self.endpoint,
            self.alias,
            identity=self.identity,
            known_hosts=self.known_hosts,
            batch=batch,
            connect_timeout=self.connect_timeout,
        )

    def ssh_command(self, command: str | None = None, *, tty: bool = False) -> list[str]:
        """argv for the system ``ssh``: an interactive shell, or ``command`` on the instance."""
        argv = ["ssh", *self.ssh_options(batch=command is not None and not tty)]
        if tty:
            argv.append("-t")
        argv.append(self.endpoint.host)
        if command is not None:
            argv += ["--", command]
        return argv


class JobStream(Iterator[bytes]):
    """A job's output as it arrives: iterate for chunks of bytes.

    ``offset`` is the number of output bytes received so far (counting from the
    start of the job's output, including the starting offset); ``status`` is the
    job's final status once iteration has ended.
    """

    def __init__(
        self,
        remote: Remote,
        job_id: str,
        offset: int,
        idle_timeout: float,
        stop: threading.Event | None = None,
    ) -> None:
        self.job_id = job_id
        self.offset = offset
        self.status: JobStatus | None = None
        self._remote = remote
        self._idle_timeout = idle_timeout
        self._stop = stop
        self._commands = 0
        self._chunks = self._run()

    def __iter__(self) -> JobStream:
        return self

    def __next__(self) -> bytes:
        return next(self._chunks)

    def close(self) -> None:
        """Stop following (the job keeps running)."""
        self._chunks.close()

    def _run(self) -> Generator[bytes, None, None]:
        idle_follow = False
        while True:
            # 1. Status, then everything written so far.
            errors: list[bytes] = []
            rc = yield from self._command(_catch_up_script(self.job_id, self.offset), errors)
            stderr = b"".join(errors).decode("utf-8", errors="replace")
            if rc == _RC_NO_JOB:
                raise JobNotFound(f"no job {self.job_id} on {self._remote.alias.describe()}")
            if rc == _RC_BAD_OFFSET:
                raise RemoteError(
                    f"job {self.job_id}: offset {self.offset} is past the end of its output"
                )
            status = _parse_status(stderr)
            if status.ended:
                self.status = status
                return
            if idle_follow:
                # The follower could not follow (no `tail`?): poll gently.
                cancel.pause(0.5, self._stop, "following the job cancelled")
            # 2. Follow until the job ends (or the follower stops for any reason).
            before = self.offset
            started = time.monotonic()
            # (its stderr carries only heartbeats)
            rc = yield from self._command(_follow_script(self.job_id, self.offset), None)
            if rc == _RC_NO_JOB:
                raise JobNotFound(f"no job {self.job_id} on {self._remote.alias.describe()}")
            idle_follow = self.offset == before and time.monotonic() - started < 1.0

    def _command(self, script: str, errors: list[bytes] | None) -> Generator[bytes, None, int]:
        """Run one script, yielding its stdout; stderr goes to ``errors`` (or nowhere)."""
        remote = self._remote
        if self._commands and remote._connection is None:
            # Closed while we followed: say so, rather than quietly logging in again.
            raise ConnectionLost(f"the connection to {remote.alias.describe()} was closed")
        self._commands += 1
        channel = remote._open_channel("sh -c " + shlex.quote(script))

        def on_stderr(data: bytes) -> None:
            if errors is not None:
                errors.append(data)

        try:
            chunks = remote._pump(
                channel, on_stderr, idle_timeout=self._idle_timeout, stop=self._stop
            )
            for chunk in chunks:
                self.offset += len(chunk)
                yield chunk
            return remote._finish(channel)
        finally:
            with contextlib.suppress(Exception):
                channel.close()
