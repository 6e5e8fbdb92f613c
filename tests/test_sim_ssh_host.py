"""Demo SSH hosts against real clients: paramiko, OpenSSH ssh/sftp/scp and rsync over loopback."""

from __future__ import annotations

import base64
import os
import shlex
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh
import paramiko
import pytest
from requirements import require

from vp_tui.sim.ssh_host import DemoSSHHosts, rewrite_workspace

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")


@pytest.fixture(autouse=True)
def _clients() -> None:
    """The OpenSSH client and rsync (skip without them; fail under VP_REQUIRE_SSHD)."""
    require("ssh", "rsync")


INSTANCE = "vast:4242"
MB10 = 10 * 1024 * 1024


def _new_key(directory: Path, name: str) -> tuple[Path, str]:
    key = asyncssh.generate_private_key("ssh-ed25519")
    path = directory / name
    path.write_bytes(key.export_private_key("openssh"))
    path.chmod(0o600)
    return path, key.export_public_key("openssh").decode().strip()


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # gone, possibly while reading
        return False
    return stat.rpartition(")")[2].split()[0] not in {"Z", "X"}


def _gone(pid: int) -> Callable[[], bool]:
    return lambda: not _alive(pid)


def _wait_until(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting: {what}")
        time.sleep(0.02)


def _marked(sandbox: Path) -> list[int]:
    marker = f"VP_SIM_SANDBOX={os.path.realpath(sandbox)}".encode()
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                environ = Path(f"/proc/{entry}/environ").read_bytes()
            except OSError:
                continue
            if marker in environ.split(b"\0"):
                pids.append(int(entry))
    return pids


@dataclass
class Demo:
    """One demo host served for a test, with a registered client key."""

    hosts: DemoSSHHosts
    state_dir: Path
    sandbox: Path
    tmp: Path
    key: Path
    authorized: list[str]
    port: int = 0
    known_hosts: Path = field(init=False)

    def __post_init__(self) -> None:
        self.known_hosts = self.tmp / "known_hosts"

    def serve(self) -> None:
        _, self.port = self.hosts.ensure_host(INSTANCE, self.sandbox, lambda: list(self.authorized))
        self.known_hosts.write_text(self.hosts.known_hosts_line(INSTANCE) + "\n")

    def ssh_options(
        self, key: Path | None = None, known_hosts: Path | None = None, accept_new: bool = False
    ) -> list[str]:
        return [
            "-F",
            "/dev/null",
            "-i",
            str(key or self.key),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "IdentityAgent=none",
            "-o",
            "BatchMode=yes",
            "-o",
            "LogLevel=ERROR",
            "-o",
            f"UserKnownHostsFile={known_hosts or self.known_hosts}",
            "-o",
            f"StrictHostKeyChecking={'accept-new' if accept_new else 'yes'}",
        ]

    def run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)

    def ssh(self, command: str, *extra: str) -> subprocess.CompletedProcess[str]:
        argv = ["ssh", "-p", str(self.port), *self.ssh_options(), *extra, "root@127.0.0.1", command]
        return self.run(argv)

    def rsync_shell(self) -> str:
        return shlex.join(["ssh", "-p", str(self.port), *self.ssh_options()])

    def paramiko(self) -> paramiko.SSHClient:
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        kind, blob = self.hosts.host_public_key(INSTANCE).split()[:2]
        host_key = paramiko.PKey.from_type_string(kind, base64.b64decode(blob))
        client.get_host_keys().add(f"[127.0.0.1]:{self.port}", kind, host_key)
        client.connect(
            "127.0.0.1",
            port=self.port,
            username="root",
            key_filename=str(self.key),
            look_for_keys=False,
            allow_agent=False,
            timeout=10,
        )
        return client

    def start_detached(self) -> int:
        """Start a setsid/nohup job on the host and return its pid."""
        pidfile = self.sandbox / "job.pid"
        result = self.ssh(
            "setsid nohup sh -c 'echo $$ > job.pid.tmp; mv job.pid.tmp job.pid; exec sleep 30'"
            " >/dev/null 2>&1 &"
        )
        assert result.returncode == 0, result.stderr
        _wait_until(lambda: pidfile.exists(), "the detached job writes its pid")
        pid = int(pidfile.read_text())
        pidfile.unlink()
        assert _alive(pid)
        return pid


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    key, public = _new_key(tmp_path, "id_ed25519")
    state_dir = tmp_path / "state"
    hosts = DemoSSHHosts(state_dir)
    hosts.hangup_grace = 0.3
    demo = Demo(hosts, state_dir, tmp_path / "boxes" / "ws", tmp_path, key, [public])
    demo.serve()
    try:
        yield demo
    finally:
        demo.hosts.remove_host(INSTANCE)
        demo.hosts.stop()
        assert _marked(demo.sandbox) == [], "processes left behind"


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("cd /workspace && ls", "cd /sb && ls"),
        (
            "rsync --server -logDtprze.iLsfxCIvu . /workspace/proj/",
            "rsync --server -logDtprze.iLsfxCIvu . /sb/proj/",
        ),
        ("A=/workspace/a:/workspace/b 'x' \"/workspace\"", "A=/sb/a:/sb/b 'x' \"/sb\""),
        ("cat /data/workspace/x $HOME/workspace ~/workspace /workspaces", None),
    ],
)
def test_rewrite_touches_only_the_workspace_path(command: str, expected: str | None) -> None:
    assert rewrite_workspace(command, "/sb") == (expected or command)


def _exec(client: paramiko.SSHClient, command: str) -> tuple[bytes, bytes, int]:
    _stdin, stdout, stderr = client.exec_command(command)
    out, err = stdout.read(), stderr.read()
    return out, err, stdout.channel.recv_exit_status()


def test_paramiko_exec_reports_exit_code_stderr_and_unicode(demo: Demo) -> None:
    client = demo.paramiko()
    try:
        out, err, code = _exec(
            client, "printf 'héllo ✓\\n'; echo 'ошибка' >&2; printf 'last line'; exit 7"
        )
    finally:
        client.close()
    assert out.decode() == "héllo ✓\nlast line"
    assert err.decode() == "ошибка\n"
    assert code == 7


def test_paramiko_channel_streams_10mb(demo: Demo) -> None:
    client = demo.paramiko()
    try:
        transport = client.get_transport()
        assert transport is not None
        channel = transport.open_session()
        channel.exec_command("head -c 10485760 /dev/zero | tr '\\0' x; echo done >&2; exit 4")
        total = 0
        wrong = 0
        while chunk := channel.recv(65536):
            total += len(chunk)
            wrong += len(chunk) - chunk.count(b"x")
        code = channel.recv_exit_status()
        err = channel.recv_stderr(100)
    finally:
        client.close()
    assert (total, wrong, code, err) == (MB10, 0, 4, b"done\n")


def test_openssh_client_gets_exit_code_and_learns_host_key(demo: Demo) -> None:
    fresh = demo.tmp / "fresh_known_hosts"
    argv = ["ssh", "-p", str(demo.port), *demo.ssh_options(known_hosts=fresh, accept_new=True)]
    result = demo.run([*argv, "root@127.0.0.1", "echo hi; exit 3"])
    assert (result.returncode, result.stdout) == (3, "hi\n"), result.stderr
    learned = fresh.read_text().split()
    assert learned[0] == f"[127.0.0.1]:{demo.port}"
    assert " ".join(learned[1:3]) == demo.hosts.host_public_key(INSTANCE)


def test_only_registered_keys_get_in(demo: Demo) -> None:
    other, other_public = _new_key(demo.tmp, "other")
    argv = ["ssh", "-p", str(demo.port), *demo.ssh_options(key=other), "root@127.0.0.1", "true"]
    refused = demo.run(argv)
    assert refused.returncode == 255
    assert "Permission denied" in refused.stderr
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    with pytest.raises(paramiko.AuthenticationException):
        client.connect(
            "127.0.0.1",
            port=demo.port,
            username="root",
            key_filename=str(other),
            look_for_keys=False,
            allow_agent=False,
            password="not-offered",
        )
    client.close()
    # the key list is read on every attempt: registering the key lets it in at once
    demo.authorized.append(other_public)
    assert demo.run(argv).returncode == 0


def test_commands_see_workspace_home_and_a_clean_environment(
    demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAST_API_KEY", "do-not-leak-1234")
    (demo.sandbox / "sub").mkdir()
    client = demo.paramiko()
    try:
        out, err, code = _exec(
            client,
            "cd /workspace/sub && pwd -P; echo ~; echo ${VAST_API_KEY:-unset};"
            ' echo ${LC_DEMO:-none} ${EVIL:-none}; echo "$VP_SIM_SANDBOX"',
        )
        _stdin, stdout, _stderr = client.exec_command(
            "echo ${LC_DEMO:-none} ${EVIL:-none}", environment={"LC_DEMO": "yes", "EVIL": "x"}
        )
        sent_env = stdout.read().decode()
    finally:
        client.close()
    sandbox = os.path.realpath(demo.sandbox)
    assert code == 0, err
    assert out.decode().splitlines() == [
        f"{sandbox}/sub",
        f"{sandbox}.home",
        "unset",
        "none none",
        sandbox,
    ]
    assert sent_env == "yes none\n"


def test_workspace_rewrite_copes_with_spaces_in_the_sandbox_path(demo: Demo) -> None:
    sandbox = demo.tmp / "my boxes" / "ws ü"
    port = demo.hosts.ensure_host("runpod:x y", sandbox, lambda: list(demo.authorized))[1]
    known_hosts = demo.tmp / "kh_spaces"
    known_hosts.write_text(demo.hosts.known_hosts_line("runpod:x y") + "\n")
    try:
        argv = ["ssh", "-p", str(port), *demo.ssh_options(known_hosts=known_hosts)]
        argv.append("root@127.0.0.1")
        result = demo.run([*argv, "echo data > /workspace/f.txt && cd /workspace && pwd -P"])
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"{os.path.realpath(sandbox)}\n"
        assert (sandbox / "f.txt").read_text() == "data\n"
    finally:
        demo.hosts.remove_host("runpod:x y", forget_key=True)


def test_sftp_and_scp_move_files_with_awkward_names(demo: Demo) -> None:
    name = "my résumé ü.txt"
    local = demo.tmp / "local"
    local.mkdir()
    (local / name).write_text("payload ✓\n")
    back = demo.tmp / "back"
    back.mkdir()
    batch = demo.tmp / "batch"
    batch.write_text(
        "mkdir docs\n"
        f'put "{local / name}" "/workspace/docs/{name}"\n'
        f'get "docs/{name}" "{back / "via sftp.txt"}"\n'
    )
    sftp = ["sftp", "-P", str(demo.port), *demo.ssh_options(), "-b", str(batch)]
    result = demo.run([*sftp, "root@127.0.0.1"])
    assert result.returncode == 0, result.stderr
    assert (demo.sandbox / "docs" / name).read_text() == "payload ✓\n"
    assert (back / "via sftp.txt").read_text() == "payload ✓\n"

    scp = ["scp", "-P", str(demo.port), *demo.ssh_options()]
    target = f"root@127.0.0.1:/workspace/docs/scp {name}"
    assert demo.run([*scp, str(local / name), target]).returncode == 0
    assert (demo.sandbox / "docs" / f"scp {name}").read_text() == "payload ✓\n"
    result = demo.run([*scp, target, str(back / f"scp {name}")])
    assert result.returncode == 0, result.stderr
    assert (back / f"scp {name}").read_text() == "payload ✓\n"
    # the legacy scp protocol runs `scp -t` on the host through the shell
    result = demo.run([*scp, "-O", str(local / name), "root@127.0.0.1:/workspace/legacy.txt"])
    assert result.returncode == 0, result.stderr
    assert (demo.sandbox / "legacy.txt").read_text() == "payload ✓\n"

    client = demo.paramiko()
    try:
        sftp_client = client.open_sftp()
        assert sftp_client.normalize(".") == "/workspace"
        assert sftp_client.normalize("~") == "/root"
        sftp_client.put(str(local / name), "paramiko ü.txt")
        sftp_client.put(str(local / name), "~/home copy.txt")
        with pytest.raises(FileNotFoundError):
            sftp_client.stat("/etc/passwd")
        sftp_client.close()
    finally:
        client.close()
    assert (demo.sandbox / "paramiko ü.txt").read_text() == "payload ✓\n"
    home = Path(f"{os.path.realpath(demo.sandbox)}.home")
    assert (home / "home copy.txt").read_text() == "payload ✓\n"


def test_rsync_pushes_and_pulls_a_tree(demo: Demo) -> None:
    src = demo.tmp / "project"
    (src / "sub" / "deeper").mkdir(parents=True)
    (src / "a.txt").write_text("a\n")
    (src / "sub" / "b ü.bin").write_bytes(os.urandom(70_000))
    (src / "sub" / "deeper" / "c.txt").write_text("c\n")
    push = ["rsync", "-az", "--partial", "-e", demo.rsync_shell()]
    result = demo.run([*push, f"{src}/", "root@127.0.0.1:/workspace/proj/"])
    assert result.returncode == 0, result.stderr
    remote = demo.sandbox / "proj"
    for rel in ("a.txt", "sub/b ü.bin", "sub/deeper/c.txt"):
        assert (remote / rel).read_bytes() == (src / rel).read_bytes()

    (remote / "out").mkdir()
    (remote / "out" / "result.txt").write_text("42\n")
    pulled = demo.tmp / "pulled"
    result = demo.run([*push, "root@127.0.0.1:/workspace/proj/", f"{pulled}/"])
    assert result.returncode == 0, result.stderr
    assert (pulled / "out" / "result.txt").read_text() == "42\n"
    assert (pulled / "sub" / "b ü.bin").read_bytes() == (src / "sub" / "b ü.bin").read_bytes()


def test_pty_gives_an_interactive_shell(demo: Demo) -> None:
    client = demo.paramiko()
    try:
        channel = client.invoke_shell(term="xterm", width=101, height=33)
        channel.sendall(b"stty size; tty; echo $((6*7))x; exit 5\n")
        output = b""
        while chunk := channel.recv(4096):
            output += chunk
        code = channel.recv_exit_status()
    finally:
        client.close()
    text = output.decode(errors="replace")
    assert "33 101" in text
    assert "/dev/pts/" in text
    assert "42x" in text
    assert code == 5


def test_closing_the_channel_hangs_up_the_command(demo: Demo) -> None:
    client = demo.paramiko()
    try:
        transport = client.get_transport()
        assert transport is not None
        pids = []
        for command in (
            "echo $$; exec sleep 30",
            "trap '' HUP; echo $$; while :; do sleep 0.05; done",
        ):
            channel = transport.open_session()
            channel.exec_command(command)
            pids.append(int(channel.makefile("rb").readline()))
            channel.close()
        for pid in pids:  # the second ignores SIGHUP and gets SIGKILL after the grace period
            _wait_until(_gone(pid), "the hung-up command ends")
    finally:
        client.close()


def test_dropped_connection_kills_the_session_not_a_detached_job(demo: Demo) -> None:
    detached = demo.start_detached()
    client = demo.paramiko()
    try:
        transport = client.get_transport()
        assert transport is not None
        channel = transport.open_session()
        channel.exec_command("echo $$; exec sleep 30")
        session = int(channel.makefile("rb").readline())
        demo.hosts.drop_connections(INSTANCE)
        _wait_until(lambda: not transport.is_active(), "the connection drops")
        _wait_until(_gone(session), "the session ends")
    finally:
        client.close()
    assert _alive(detached)
    assert demo.ssh("echo back").stdout == "back\n"  # the listener stays up
    demo.hosts.remove_host(INSTANCE)
    _wait_until(_gone(detached), "remove_host kills the detached job")


def test_detached_job_outlives_stop_and_dies_with_remove_host(demo: Demo) -> None:
    detached = demo.start_detached()
    client = demo.paramiko()
    channel = client.exec_command("echo $$; exec sleep 30")[1]
    session = int(channel.readline())
    demo.hosts.stop()
    client.close()
    _wait_until(_gone(session), "stop kills running sessions")
    assert _alive(detached)
    # another process (here: another DemoSSHHosts on the same state) destroys the instance
    DemoSSHHosts(demo.state_dir).remove_host(INSTANCE)
    _wait_until(_gone(detached), "remove_host kills the detached job")


def test_host_key_survives_a_new_server_process(demo: Demo) -> None:
    first = demo.hosts.host_public_key(INSTANCE)
    key_file = next((demo.state_dir / "hostkeys").iterdir())
    assert key_file.stat().st_mode & 0o777 == 0o600
    demo.hosts.stop()
    demo.hosts = DemoSSHHosts(demo.state_dir)
    demo.serve()
    assert demo.hosts.host_public_key(INSTANCE) == first
    client = demo.paramiko()  # verifies the host key strictly
    try:
        assert _exec(client, "echo same")[0] == b"same\n"
    finally:
        client.close()
