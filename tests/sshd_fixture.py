"""A real OpenSSH ``sshd`` on 127.0.0.1 for transport tests.

Use it from a test module with ``from sshd_fixture import sshd  # noqa: F401`` (tests/
is on ``sys.path`` under pytest, as for ``offers_fixtures``). ``ssh_host`` runs a
test against both a real sshd and a demo SSH host (``vp_tui.sim.ssh_host``).
The server runs from a private config (nothing under /etc is touched), logs in
the user running the tests with a generated client key, and sets ``HOME`` for
its sessions to a directory of its own, so jobs under ``~/.vp`` never land in
the real home. Tests are skipped when ``/usr/sbin/sshd`` is absent, unless
``VP_REQUIRE_SSHD=1`` (CI), which turns the skip into a failure (``requirements``).
Keys are made with asyncssh, so the demo host needs no OpenSSH program at all.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh
import pytest
from requirements import SSHD, require, unavailable

from vp_tui.core.models import SSHEndpoint
from vp_tui.remote.keys import HostAlias, Identity
from vp_tui.remote.ssh import Remote
from vp_tui.sim.ssh_host import DemoSSHHosts

SFTP_SERVER_CANDIDATES = (
    "/usr/lib/openssh/sftp-server",
    "/usr/libexec/openssh/sftp-server",
    "/usr/libexec/sftp-server",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _keygen(path: Path, comment: str) -> str:
    """A new ed25519 key pair at ``path`` and ``path.pub`` (OpenSSH format); the public line."""
    key = asyncssh.generate_private_key("ssh-ed25519", comment=comment)
    path.write_bytes(key.export_private_key("openssh"))
    path.chmod(0o600)
    public = key.export_public_key("openssh").decode().strip()
    path.with_name(path.name + ".pub").write_text(public + "\n", encoding="utf-8")
    return public


def _is_sshd(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "sshd"
    except OSError:
        return False


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            found.append(int(entry))
    return found


@dataclass
class SshdServer:
    """One running sshd: where it listens, who may log in, and its files."""

    directory: Path
    host: str
    port: int
    user: str
    client_key: Path
    """Private key (OpenSSH format, 0600) that may log in."""
    client_public: str
    home: Path
    """``HOME`` of the server's sessions (``~/.vp/jobs`` lands here)."""
    workdir: Path
    """An empty directory tests may use as the instance's project directory."""
    host_key_public: str
    process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def authorized_keys(self) -> Path:
        """The server's authorized_keys file (re-read on every login)."""
        return self.directory / "authorized_keys"

    def authorize(self, public_line: str) -> None:
        """Let another public key log in."""
        with self.authorized_keys.open("a", encoding="utf-8") as handle:
            handle.write(public_line.strip() + "\n")

    def drop_connections(self) -> None:
        """Kill every session process of this server, as a network failure would.

        With privilege separation a connection is served by a chain of sshd
        processes ("[priv]" -> "root@notty"); all of them go, the shells they
        started get the hang-up a dropped network gives them.
        """
        sessions: list[int] = []
        todo = [self.process.pid]
        while todo:
            for child in _children(todo.pop()):
                if _is_sshd(child):
                    sessions.append(child)
                    todo.append(child)
        for pid in sessions:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def log(self) -> str:
        """What sshd wrote to its log so far."""
        try:
            return (self.directory / "sshd.log").read_text(errors="replace")
        except OSError:
            return ""

    def kill_jobs(self) -> None:
        """Kill every detached job started under this server's HOME (they outlive sshd)."""
        for job in (self.home / ".vp" / "jobs").glob("*"):
            with contextlib.suppress(ValueError, OSError, IndexError):
                if (job / "exit_code").exists():
                    continue
                pid, started = (job / "pid").read_text().split()
                fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
                if fields[19] == started:  # the same process, not a reused pid
                    os.killpg(int((job / "pgid").read_text()), signal.SIGKILL)

    def stop(self) -> None:
        """Stop the server, its sessions and the jobs started through it."""
        self.kill_jobs()
        self.drop_connections()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_sshd(directory: Path, client_key: Path | None = None) -> SshdServer:
    """Start an sshd in ``directory``; reuse ``client_key`` or generate one.

    Calls ``pytest.skip`` (or ``pytest.fail`` under ``VP_REQUIRE_SSHD``) when sshd
    cannot run here.
    """
    require("sshd")
    sftp_server = next((p for p in SFTP_SERVER_CANDIDATES if os.path.exists(p)), None)
    if sftp_server is None:
        unavailable("no sftp-server binary found")
    if not os.path.isdir("/run/sshd"):
        try:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        except OSError as exc:
            unavailable(f"sshd needs /run/sshd and it cannot be created: {exc}")

    directory.mkdir(parents=True, exist_ok=True)
    home = directory / "home"
    workdir = directory / "work"
    home.mkdir(exist_ok=True)
    workdir.mkdir(exist_ok=True)
    host_key = directory / "host_ed25519"
    host_public = _keygen(host_key, "vp-test-host")
    if client_key is None:
        client_key = directory / "client_ed25519"
        client_public = _keygen(client_key, "vp-test-client")
    else:
        client_public = client_key.with_name(client_key.name + ".pub").read_text().strip()
    (directory / "authorized_keys").write_text(client_public + "\n", encoding="utf-8")
    config = directory / "sshd_config"

    last_error = ""
    for _attempt in range(5):
        port = _free_port()
        config.write_text(
            "\n".join(
                [
                    f"Port {port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {host_key}",
                    f"PidFile {directory / 'sshd.pid'}",
                    f"AuthorizedKeysFile {directory / 'authorized_keys'}",
                    "PermitRootLogin prohibit-password",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "StrictModes no",
                    "MaxSessions 100",
                    "MaxStartups 100:30:200",
                    f"SetEnv HOME={home}",
                    f"Subsystem sftp {sftp_server}",
                    "",
                ]
            ),
            encoding="utf-8",
        )
        check = subprocess.run([str(SSHD), "-t", "-f", str(config)], capture_output=True, text=True)
        if check.returncode != 0:
            unavailable(f"sshd -t rejected the test config: {check.stderr.strip()}")
        log = (directory / "sshd.log").open("ab")
        process = subprocess.Popen(
            [str(SSHD), "-D", "-e", "-f", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                    if sock.recv(4).startswith(b"SSH-"):
                        return SshdServer(
                            directory=directory,
                            host="127.0.0.1",
                            port=port,
                            user=getpass.getuser(),
                            client_key=client_key,
                            client_public=client_public,
                            home=home,
                            workdir=workdir,
                            host_key_public=host_public,
                            process=process,
                        )
            except OSError:
                time.sleep(0.05)
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        last_error = (directory / "sshd.log").read_text(errors="replace")[-2000:]
    unavailable(f"sshd did not start: {last_error}")


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshdServer]:
    """A real OpenSSH sshd on 127.0.0.1, shared by the whole test session."""
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    try:
        yield server
    finally:
        server.stop()


# ------------------------------------------------------------- both kinds of host


@dataclass
class TransportHost:
    """An SSH host for a transport test: a real sshd or a demo host, behind one face.

    ``remote_root`` is an empty directory of this test as the instance names it;
    ``local_root`` is the same directory seen from the test.
    """

    kind: str
    endpoint: SSHEndpoint
    client_key: Path
    remote_root: str
    local_root: Path
    drop: Callable[[], None] = field(repr=False)
    other: Callable[[], SSHEndpoint] = field(repr=False)
    authorize: Callable[[str], None] = field(repr=False)
    """Let another public key line log in."""

    @property
    def identity(self) -> Identity:
        """The client identity this host accepts."""
        return Identity(self.client_key)

    def remote(self, alias: HostAlias | None = None, endpoint: SSHEndpoint | None = None) -> Remote:
        """A connected Remote (vp-tui's known_hosts in the test's data dir)."""
        remote = Remote(
            endpoint or self.endpoint,
            alias or HostAlias("test", self.kind),
            identity=self.identity,
            connect_timeout=10,
        )
        return remote.connect(timeout=30)

    def drop_connections(self) -> None:
        """Abort every connection to the host from the server side."""
        self.drop()

    def other_endpoint(self) -> SSHEndpoint:
        """Another server with a different host key (the same client key logs in)."""
        return self.other()


@dataclass
class _DemoServer:
    hosts: DemoSSHHosts
    key: Path
    public: str
    sandbox: Path
    endpoint: SSHEndpoint
    base: Path
    authorized: list[str]
    others: dict[str, SSHEndpoint] = field(default_factory=dict)


@pytest.fixture(scope="session")
def demo_ssh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_DemoServer]:
    """One demo SSH host (vp_tui.sim.ssh_host) shared by the session."""
    base = tmp_path_factory.mktemp("demo-ssh")
    key = base / "client_ed25519"
    public = _keygen(key, "vp-test-client")
    sandbox = base / "sandbox"
    sandbox.mkdir()
    hosts = DemoSSHHosts(base / "state")
    hosts.start()
    authorized = [public]
    host, port = hosts.ensure_host("test:demo", sandbox, authorized_keys=lambda: list(authorized))
    endpoint = SSHEndpoint(host=host, port=port, user=getpass.getuser())
    server = _DemoServer(hosts, key, public, sandbox, endpoint, base, authorized)
    try:
        yield server
    finally:
        for name in ["test:demo", *server.others]:
            with contextlib.suppress(Exception):
                hosts.remove_host(name)
        hosts.stop()


@pytest.fixture(scope="session")
def second_sshd(sshd: SshdServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshdServer]:
    """Another sshd with its own host key, accepting the first one's client key."""
    server = start_sshd(tmp_path_factory.mktemp("sshd2"), client_key=sshd.client_key)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["openssh", "demo"])
def ssh_host(request: pytest.FixtureRequest, tmp_path: Path) -> TransportHost:
    """Each transport test runs twice: against a real OpenSSH sshd and a demo SSH host."""
    name = f"t-{tmp_path.name}"
    if request.param == "openssh":
        server: SshdServer = request.getfixturevalue("sshd")
        root = server.workdir / name
        root.mkdir()

        def other_openssh() -> SSHEndpoint:
            second: SshdServer = request.getfixturevalue("second_sshd")
            return SSHEndpoint(host=second.host, port=second.port, user=second.user)

        return TransportHost(
            "openssh",
            SSHEndpoint(host=server.host, port=server.port, user=server.user),
            server.client_key,
            str(root),
            root,
            server.drop_connections,
            other_openssh,
            server.authorize,
        )
    demo: _DemoServer = request.getfixturevalue("demo_ssh")
    root = demo.sandbox / name
    root.mkdir()

    def other_demo() -> SSHEndpoint:
        if "test:other" not in demo.others:
            sandbox = demo.base / "other-sandbox"
            sandbox.mkdir(exist_ok=True)
            host, port = demo.hosts.ensure_host(
                "test:other", sandbox, authorized_keys=lambda: list(demo.authorized)
            )
            demo.others["test:other"] = SSHEndpoint(host=host, port=port, user=getpass.getuser())
        return demo.others["test:other"]

    return TransportHost(
        "demo",
        demo.endpoint,
        demo.key,
        f"/workspace/{name}",
        root,
        lambda: demo.hosts.drop_connections("test:demo"),
        other_demo,
        demo.authorized.append,
    )


@pytest.fixture
def remote(ssh_host: TransportHost) -> Iterator[Remote]:
    """A ``Remote`` on ``ssh_host``, closed after the test."""
    connection = ssh_host.remote()
    try:
        yield connection
    finally:
        connection.close()
