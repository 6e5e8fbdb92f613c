"""vp-tui's SSH key, per-instance trust on first use, and connecting while an instance boots."""

from __future__ import annotations

import contextlib
import io
import socket
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import paramiko
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from requirements import require

from vp_tui.config import SSHSettings
from vp_tui.core.models import SSHEndpoint
from vp_tui.remote.keys import (
    HostAlias,
    HostKeyChanged,
    Identity,
    KnownHosts,
    SSHKeyError,
    app_key_path,
    ensure_app_key,
    fingerprint,
    resolve_identity,
    ssh_options,
)
from vp_tui.remote.ssh import ConnectError, Remote

if TYPE_CHECKING:
    from sshd_fixture import TransportHost

pytest_plugins = ["sshd_fixture"]


# ------------------------------------------------------------------------ our key


def test_app_key_is_created_once_privately() -> None:
    path = ensure_app_key()
    assert path == app_key_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    public = path.with_name("id_ed25519.pub").read_text().strip()
    assert public.startswith("ssh-ed25519 ")
    assert public.endswith(" vp-tui")
    # OpenSSH reads it and derives the same public key.
    derived = subprocess.run(
        ["ssh-keygen", "-y", "-f", str(path)], capture_output=True, text=True, check=True
    ).stdout.split()
    assert derived[:2] == public.split()[:2]
    before = path.read_bytes()
    assert ensure_app_key() == path
    assert path.read_bytes() == before
    identity = resolve_identity(SSHSettings())
    assert identity.key_path == path
    assert identity.public_key() == public
    assert isinstance(identity.load_key(), paramiko.Ed25519Key)


def test_app_key_permissions_are_repaired_and_missing_pub_rewritten() -> None:
    path = ensure_app_key()
    public = path.with_name("id_ed25519.pub").read_text()
    path.chmod(0o644)
    path.with_name("id_ed25519.pub").unlink()
    ensure_app_key()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.with_name("id_ed25519.pub").read_text().split()[:2] == public.split()[:2]


def test_configured_key_problems_are_explained(tmp_path: Path) -> None:
    with pytest.raises(SSHKeyError, match="does not exist"):
        resolve_identity(SSHSettings(key_path=tmp_path / "nope"))
    locked = tmp_path / "locked"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "secret", "-f", str(locked)], check=True
    )
    identity = resolve_identity(SSHSettings(key_path=locked))
    assert identity == Identity(locked)
    with pytest.raises(SSHKeyError, match=r"passphrase.*agent"):
        identity.load_key()
    # With the agent allowed, the agent is left to offer the key.
    assert Identity(locked, use_agent=True).load_key() is None


def test_host_alias_names_the_instance_safely() -> None:
    assert HostAlias("vast", "12345").name == "vp-vast-12345"
    assert HostAlias("runpod", "ab c/d*").name == "vp-runpod-ab_c_d_"
    assert HostAlias("vast", "1").describe() == "vast instance 1"


# --------------------------------------------------------------------- known_hosts


def _host_key() -> paramiko.PKey:
    """A fresh ed25519 host key."""
    pem = Ed25519PrivateKey.generate().private_bytes(
        Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()
    )
    return paramiko.Ed25519Key.from_private_key(io.StringIO(pem.decode()))


def test_trust_on_first_use_per_instance(tmp_path: Path) -> None:
    known = KnownHosts(tmp_path / "known_hosts")
    first, second = _host_key(), _host_key()
    one, two = HostAlias("vast", "1"), HostAlias("vast", "2")
    assert known.verify(one, first) is True
    assert known.verify(one, first) is False
    assert known.verify(two, second) is True  # another instance, another key: fine
    with pytest.raises(HostKeyChanged) as caught:
        known.verify(one, second)
    message = str(caught.value)
    assert "vast instance 1" in message
    assert fingerprint(first.asbytes()) in message
    assert fingerprint(second.asbytes()) in message
    assert "vp ssh-forget 1" in message
    assert str(known.path) in message
    assert stat.S_IMODE(known.path.stat().st_mode) == 0o600
    assert known.forget(one) == 1
    assert known.verify(one, second) is True
    assert [entry.fingerprint for entry in known.lookup(two)] == [fingerprint(second.asbytes())]


def test_hashed_entries_are_understood(tmp_path: Path) -> None:
    known = KnownHosts(tmp_path / "known_hosts")
    key = _host_key()
    alias = HostAlias("vast", "7")
    hashed = paramiko.HostKeys.hash_host(alias.name)
    known.path.write_text(f"# comment\n{hashed} {key.get_name()} {key.get_base64()}\n")
    assert known.verify(alias, key) is False
    with pytest.raises(HostKeyChanged):
        known.verify(alias, _host_key())


def test_ssh_options_check_host_keys_and_never_disable_checking(tmp_path: Path) -> None:
    known = KnownHosts(tmp_path / "ssh" / "known_hosts")
    endpoint = SSHEndpoint(host="203.0.113.5", port=2222, user="root")
    alias = HostAlias("vast", "9")
    identity = Identity(ensure_app_key())
    options = ssh_options(endpoint, alias, identity=identity, known_hosts=known)
    joined = " ".join(options)
    assert options[:2] == ["-p", "2222"]
    assert "-i " + str(identity.key_path) in joined
    assert "IdentitiesOnly=yes" in joined
    assert f"UserKnownHostsFile={known.path}" in joined
    assert "HostKeyAlias=vp-vast-9" in joined
    assert "StrictHostKeyChecking=accept-new" in joined
    assert "BatchMode=yes" in joined
    assert "ServerAliveInterval" in joined and "ConnectTimeout" in joined
    known.verify(alias, _host_key())
    options = ssh_options(endpoint, alias, identity=identity, known_hosts=known, batch=False)
    joined = " ".join(options)
    assert "StrictHostKeyChecking=yes" in joined
    assert "BatchMode" not in joined
    assert "StrictHostKeyChecking=no" not in joined and "/dev/null" not in joined


# ---------------------------------------------------------------- against servers


def test_host_keys_are_checked_per_instance(ssh_host: TransportHost) -> None:
    known = KnownHosts()
    first = HostAlias("vast", "100")
    ssh_host.remote(first).close()
    recorded = known.lookup(first)
    assert len(recorded) == 1
    # The same instance again: fine. Another instance on the same host:port: fine too.
    ssh_host.remote(first).close()
    ssh_host.remote(HostAlias("vast", "101")).close()
    before = known.path.read_text()

    # The same instance answering with another key (a second server): refused.
    other = ssh_host.other_endpoint()
    with pytest.raises(HostKeyChanged) as caught:
        ssh_host.remote(first, endpoint=other)
    assert caught.value.expected == [recorded[0].fingerprint]
    assert caught.value.got != recorded[0].fingerprint
    assert "vp ssh-forget 100" in str(caught.value)
    assert known.path.read_text() == before

    # After `vp ssh-forget`, the new key is trusted on first use.
    assert known.forget(first) == 1
    ssh_host.remote(first, endpoint=other).close()
    assert known.lookup(first)[0].fingerprint == caught.value.got


def _system_ssh(remote: Remote, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(remote.ssh_command(command), capture_output=True, text=True, timeout=60)


def test_system_ssh_shares_the_known_hosts(ssh_host: TransportHost) -> None:
    require("ssh")
    known = KnownHosts()
    # ssh first: it records the key under the alias (accept-new), paramiko agrees.
    alias = HostAlias("runpod", "pod-1")
    remote = Remote(ssh_host.endpoint, alias, identity=ssh_host.identity)
    result = _system_ssh(remote, "echo via-ssh")
    assert (result.returncode, result.stdout) == (0, "via-ssh\n"), result.stderr
    assert len(known.lookup(alias)) == 1
    remote.connect(timeout=30)
    assert remote.run("echo via-paramiko").out == "via-paramiko\n"
    remote.close()

    # A changed key stops ssh too, and nothing is rewritten.
    before = known.path.read_text()
    moved = Remote(ssh_host.other_endpoint(), alias, identity=ssh_host.identity)
    result = _system_ssh(moved, "echo should-not-run")
    assert result.returncode == 255
    assert "should-not-run" not in result.stdout
    assert "verification failed" in result.stderr or "CHANGED" in result.stderr
    assert known.path.read_text() == before


# ------------------------------------------------------------------ booting hosts


class _LateListener:
    """A port that refuses connections until ``open()``, then relays to ``target``."""

    def __init__(self, target: SSHEndpoint) -> None:
        self.target = target
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.endpoint = SSHEndpoint(host="127.0.0.1", port=self.port, user=target.user)
        self._closed = False

    def open(self) -> None:
        self.sock.listen(8)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            upstream = socket.create_connection((self.target.host, self.target.port))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closed = True
        self.sock.close()


@pytest.fixture
def late(ssh_host: TransportHost) -> Iterator[_LateListener]:
    listener = _LateListener(ssh_host.endpoint)
    try:
        yield listener
    finally:
        listener.close()


def test_connect_waits_for_the_port_to_open(ssh_host: TransportHost, late: _LateListener) -> None:
    attempts: list[str] = []

    def on_retry(attempt: int, error: Exception) -> None:
        attempts.append(type(error).__name__)
        late.open()

    remote = Remote(late.endpoint, HostAlias("vast", "boot"), identity=ssh_host.identity)
    remote.connect(timeout=30, on_retry=on_retry)
    assert remote.run("echo up").out == "up\n"
    remote.close()
    assert len(attempts) == 1


def test_connect_waits_for_the_key_to_be_installed(ssh_host: TransportHost) -> None:
    identity = resolve_identity()  # vp-tui's own key, new in this test's data dir
    errors: list[Exception] = []

    def on_retry(attempt: int, error: Exception) -> None:
        errors.append(error)
        ssh_host.authorize(identity.public_key())

    remote = Remote(ssh_host.endpoint, HostAlias("vast", "auth"), identity=identity)
    remote.connect(timeout=30, on_retry=on_retry)
    assert remote.run("echo in").out == "in\n"
    remote.close()
    assert len(errors) == 1 and isinstance(errors[0], paramiko.AuthenticationException)


def test_connect_gives_up_with_a_clear_error(ssh_host: TransportHost, late: _LateListener) -> None:
    remote = Remote(late.endpoint, HostAlias("vast", "never"), identity=ssh_host.identity)
    with pytest.raises(ConnectError, match=r"cannot reach vast instance never at .*attempt"):
        remote.connect(timeout=1)
    stranger = Remote(
        ssh_host.endpoint, HostAlias("vast", "stranger"), identity=Identity(ensure_app_key())
    )
    with pytest.raises(ConnectError, match="did not accept the SSH key"):
        stranger.connect(timeout=1)
