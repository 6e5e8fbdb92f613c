"""SSH hosts for the transport benchmarks: a private OpenSSH sshd and a demo SSH host.

Both listen on 127.0.0.1 only, log in one generated client key, and keep every
file (host key, config, log, the sessions' ``HOME``) in a directory the caller
owns. Nothing under /etc or the real home is touched. This module is a helper
of ``stream.py`` and ``sync.py``; running it on its own does nothing.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

SSHD = Path("/usr/sbin/sshd")
SFTP_SERVER_CANDIDATES = (
    "/usr/lib/openssh/sftp-server",
    "/usr/libexec/openssh/sftp-server",
    "/usr/libexec/sftp-server",
)


class Unavailable(RuntimeError):
    """The host cannot run here (no sshd binary, no /run/sshd, ...)."""


def keygen(path: Path, comment: str) -> str:
    """Create an unencrypted ed25519 key pair at ``path``; return the public line."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path.with_name(path.name + ".pub").read_text().strip()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
class Sshd:
    """A running private sshd: where it listens, the key that logs in, its files."""

    directory: Path
    port: int
    client_key: Path
    home: Path
    """``HOME`` of the server's sessions (jobs under ``~/.vp`` land here)."""
    process: subprocess.Popen[bytes] = field(repr=False)
    host: str = "127.0.0.1"
    user: str = field(default_factory=getpass.getuser)

    def kill_jobs(self) -> None:
        """Kill detached jobs started under this server's HOME that are still running."""
        for job in (self.home / ".vp" / "jobs").glob("*"):
            with contextlib.suppress(ValueError, OSError, IndexError):
                if (job / "exit_code").exists():
                    continue
                os.killpg(int((job / "pgid").read_text()), signal.SIGKILL)

    def stop(self) -> None:
        """Stop the server, its sessions and any job still running through it."""
        self.kill_jobs()
        for pid in _children(self.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_sshd(directory: Path) -> Sshd:
    """Start an sshd serving 127.0.0.1 from ``directory`` with a fresh client key."""
    if not SSHD.exists():
        raise Unavailable(f"{SSHD} is not installed (apt-get install openssh-server)")
    sftp_server = next((p for p in SFTP_SERVER_CANDIDATES if os.path.exists(p)), None)
    if sftp_server is None:
        raise Unavailable("no sftp-server binary found")
    if not os.path.isdir("/run/sshd"):
        try:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        except OSError as exc:
            raise Unavailable(f"sshd needs /run/sshd and it cannot be created: {exc}") from None
    directory.mkdir(parents=True, exist_ok=True)
    home = directory / "home"
    home.mkdir(exist_ok=True)
    host_key = directory / "host_ed25519"
    keygen(host_key, "vp-bench-host")
    client_key = directory / "client_ed25519"
    client_public = keygen(client_key, "vp-bench-client")
    (directory / "authorized_keys").write_text(client_public + "\n", encoding="utf-8")
    config = directory / "sshd_config"
    log_path = directory / "sshd.log"
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
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [str(SSHD), "-D", "-e", "-f", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                    if sock.recv(4).startswith(b"SSH-"):
                        return Sshd(directory, port, client_key, home, process)
            except OSError:
                time.sleep(0.05)
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
    raise Unavailable(f"sshd did not start: {log_path.read_text(errors='replace')[-2000:]}")


@dataclass
class DemoHost:
    """A demo SSH host (``vp_tui.sim.ssh_host``) serving one sandbox, in this process."""

    port: int
    client_key: Path
    sandbox: Path
    hosts: object = field(repr=False)
    host: str = "127.0.0.1"
    user: str = field(default_factory=getpass.getuser)
    name: str = "bench:demo"

    def stop(self) -> None:
        """Close the host and kill whatever was started on it."""
        from vp_tui.sim.ssh_host import DemoSSHHosts

        assert isinstance(self.hosts, DemoSSHHosts)
        with contextlib.suppress(Exception):
            self.hosts.remove_host(self.name)
        self.hosts.stop()


def start_demo_host(directory: Path) -> DemoHost:
    """Start a demo SSH host whose sandbox and state live in ``directory``."""
    from vp_tui.sim.ssh_host import DemoSSHHosts

    directory.mkdir(parents=True, exist_ok=True)
    client_key = directory / "client_ed25519"
    public = keygen(client_key, "vp-bench-client")
    sandbox = directory / "sandbox"
    sandbox.mkdir(exist_ok=True)
    hosts = DemoSSHHosts(directory / "state")
    hosts.start()
    _host, port = hosts.ensure_host("bench:demo", sandbox, authorized_keys=lambda: [public])
    return DemoHost(port, client_key, sandbox, hosts)


if __name__ == "__main__":
    print("benchmarks/_sshd.py is a helper of stream.py and sync.py; nothing to run.")
