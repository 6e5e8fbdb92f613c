"""Vast's native transfer path: the copy endpoint through the real SDK, rsync into the demo
host's daemon module (``vastai_kaalia@ADDR::ID/PATH`` over ssh), and the fall back to the
direct SSH rsync when that path is refused."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from demo_helpers import rent
from requirements import require

from vp_tui.bootstrap import Context
from vp_tui.core.models import Instance, TransferEndpoint
from vp_tui.platforms.base import NotFound, PlatformError
from vp_tui.platforms.vast import COPY_USER, VastPlatform
from vp_tui.remote.keys import HostAlias, KnownHosts, ssh_options
from vp_tui.remote.ssh import Remote
from vp_tui.remote.sync import DaemonTarget, Direction, Syncer
from vp_tui.sim.server import VAST_DEMO_KEY, DemoCloud
from vp_tui.sim.ssh_host import rewrite_daemon_arg, rsync_daemon_modules

pytest_plugins = ["demo_fixtures"]

TREE = {
    "train.py": "print('hello')\n",
    "name with space.txt": "spaces\n",
    "ünïcødé/ファイル.txt": "unicode\n",
    "sub dir/deeper/a b.py": "x = 1\n",
}


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture
def rented(context: Context) -> Instance:
    """A running demo Vast instance."""
    return rent(context, "vast")


@pytest.fixture
def vast(context: Context) -> VastPlatform:
    """The engine's Vast adapter, talking to the demo cloud through the real SDK."""
    platform = context.platforms["vast"]
    assert isinstance(platform, VastPlatform)
    return platform


@pytest.fixture
def remote(context: Context, rented: Instance) -> Remote:
    """The engine's SSH connection to the instance (for tests that run rsync)."""
    require("rsync", "ssh")
    return context.job_service.remote(rented)


@pytest.fixture
def sandbox(demo_cloud: DemoCloud, rented: Instance) -> Path:
    """The directory standing in for the instance's /workspace."""
    inst = demo_cloud.cloud.get("vast", rented.instance_id)
    assert inst is not None
    return demo_cloud.cloud.sandbox_dir(inst)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A small project with awkward file names."""
    root = tmp_path / "my project"
    _write(root, TREE)
    return root


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _files(root: Path) -> dict[str, str]:
    found = {}
    for directory, _dirs, names in os.walk(root):
        for name in names:
            path = Path(directory) / name
            found[path.relative_to(root).as_posix()] = path.read_text(encoding="utf-8")
    return found


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------- copy endpoint


def test_copy_endpoint_names_the_instance_module(vast: VastPlatform, rented: Instance) -> None:
    assert rented.ssh is not None
    push = vast.transfer_endpoint(rented.instance_id, "push", "/workspace//proj/")
    pull = vast.transfer_endpoint(rented.instance_id, "pull", "/workspace/proj")
    for endpoint in (push, pull):
        assert isinstance(endpoint, TransferEndpoint)
        assert endpoint.host == "127.0.0.1"
        assert endpoint.port == rented.ssh.port  # the demo serves it on the instance's sshd
        assert endpoint.user == COPY_USER == "vastai_kaalia"
        assert endpoint.module == rented.instance_id
        assert endpoint.path == "/workspace/proj"
        assert endpoint.rsync_url == (
            f"vastai_kaalia@127.0.0.1::{rented.instance_id}//workspace/proj"
        )


@pytest.mark.parametrize("path", ["proj", "~/proj", "/workspace/a:b", ""])
def test_copy_endpoint_is_not_offered_for_paths_it_cannot_express(
    vast: VastPlatform, rented: Instance, path: str
) -> None:
    assert vast.transfer_endpoint(rented.instance_id, "push", path) is None


def test_copy_endpoint_of_an_unknown_instance_is_not_found(
    vast: VastPlatform, rented: Instance
) -> None:
    with pytest.raises(NotFound):
        vast.transfer_endpoint("99999999", "push", "/workspace")
    with pytest.raises(NotFound):
        vast.transfer_endpoint("not-a-number", "pull", "/workspace")


def test_copy_endpoint_failure_is_a_platform_error(
    vast: VastPlatform, rented: Instance, demo_cloud: DemoCloud
) -> None:
    demo_cloud.set_faults("vast:error=403")
    try:
        with pytest.raises(PlatformError):
            vast.transfer_endpoint(rented.instance_id, "push", "/workspace")
    finally:
        demo_cloud.set_faults(None)


# ------------------------------------------------------------------------ native path


def _native(
    vast: VastPlatform, instance: Instance, direction: Direction, path: str
) -> DaemonTarget:
    endpoint = vast.transfer_endpoint(instance.instance_id, direction, path)
    assert endpoint is not None
    return DaemonTarget.from_endpoint(endpoint)


def test_native_push_and_pull_carry_awkward_names(
    vast: VastPlatform, rented: Instance, remote: Remote, sandbox: Path, project: Path
) -> None:
    target = _native(vast, rented, "push", "/workspace/proj")
    syncer = Syncer(remote, project, remote_dir="/workspace/proj", daemon_target=target)

    pushed = syncer.push()
    assert (pushed.method, pushed.native_fallback) == ("rsync-native", None)
    assert pushed.files == len(TREE)
    assert _files(sandbox / "proj") == TREE
    # The transfer endpoint's host key is trusted on first use under an alias of its own.
    assert syncer.daemon_alias().name == f"vp-vast-{rented.instance_id}-copy"
    assert KnownHosts().is_known(syncer.daemon_alias())

    again = syncer.push()  # now with the recorded host key
    assert (again.method, again.files) == ("rsync-native", 0)

    outputs = {"out dir/résultat 1.txt": "done\n", "out dir/日本/loss.csv": "0.1\n"}
    _write(sandbox / "proj", outputs)
    back = project.parent / "back"
    pulled = syncer.pull(dest=back)
    assert (pulled.method, pulled.native_fallback) == ("rsync-native", None)
    assert _files(back) == {**TREE, **outputs}

    only = project.parent / "only"
    named = syncer.pull(["out dir/日本", "missing dir"], dest=only)
    assert named.method == "rsync-native"
    assert named.missing == ["missing dir"]
    assert _files(only) == {"out dir/日本/loss.csv": "0.1\n"}


def test_native_pull_keeps_local_files(
    vast: VastPlatform, rented: Instance, remote: Remote, sandbox: Path, project: Path
) -> None:
    target = _native(vast, rented, "pull", "/workspace")
    syncer = Syncer(remote, project, daemon_target=target)
    _write(sandbox, {"result.txt": "from the instance\n"})
    (project / "local only.txt").write_text("mine\n")

    result = syncer.pull()
    assert result.method == "rsync-native"
    assert (project / "result.txt").read_text() == "from the instance\n"
    assert (project / "local only.txt").read_text() == "mine\n"


def test_from_settings_takes_the_daemon_target(
    context: Context,
    vast: VastPlatform,
    rented: Instance,
    remote: Remote,
    sandbox: Path,
    project: Path,
) -> None:
    remote_dir = context.settings.sync.remote_dir
    target = _native(vast, rented, "push", remote_dir)
    syncer = Syncer.from_settings(remote, project, context.settings, daemon_target=target)
    assert (syncer.daemon_target, syncer.remote_dir) == (target, "/workspace")
    assert syncer.push().method == "rsync-native"
    assert _files(sandbox).items() >= TREE.items()


def test_module_top_is_the_sandbox_as_vastai_copy_addresses_it(
    vast: VastPlatform, rented: Instance, remote: Remote, sandbox: Path, project: Path
) -> None:
    endpoint = vast.transfer_endpoint(rented.instance_id, "push", "/workspace")
    assert endpoint is not None
    options = ssh_options(
        remote.endpoint.model_copy(update={"port": endpoint.port, "user": endpoint.user}),
        HostAlias("vast", f"{rented.instance_id}-copy"),
        identity=remote.identity,
    )
    ssh = " ".join(["ssh", *options])
    module = endpoint.module
    for destination, where in [
        (f"{COPY_USER}@127.0.0.1::{module}/", sandbox),
        (f"{COPY_USER}@127.0.0.1::{module}//workspace/as cli/", sandbox / "as cli"),
        (f"{COPY_USER}@127.0.0.1::C.{module}//workspace/c form/", sandbox / "c form"),
    ]:
        done = subprocess.run(
            ["rsync", "-az", "-e", ssh, f"{project}/", destination],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert {k: v for k, v in _files(where).items() if k in TREE} == TREE


def _vastai(demo: DemoCloud, *args: str) -> subprocess.CompletedProcess[str]:
    """Vast's own ``vastai`` CLI against the demo cloud."""
    script = Path(sys.executable).parent / "vastai"
    main = "from vastai.cli.main import main; main()"
    cli = [str(script)] if script.exists() else [sys.executable, "-c", main]
    command = [*cli, "--url", demo.vast_url, "--api-key", VAST_DEMO_KEY, *args]
    env = dict(os.environ, VASTAI_NO_UPDATE_CHECK="1")
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def test_official_vastai_copy_moves_files_both_ways(
    demo_cloud: DemoCloud, rented: Instance, remote: Remote, sandbox: Path, project: Path
) -> None:
    # The official CLI runs rsync itself (with its own host-key settings, in this test's
    # HOME) and ignores rsync's exit code: the files are the proof.
    key = str(remote.identity.key_path)
    number = rented.instance_id
    up = _vastai(demo_cloud, "copy", f"{project}/", f"{number}:/workspace/cli/", "-i", key)
    assert up.returncode == 0, up.stderr
    assert f"vastai_kaalia@127.0.0.1::{number}//workspace/cli/" in up.stdout
    assert _files(sandbox / "cli") == TREE

    back = project.parent / "back"
    down = _vastai(demo_cloud, "copy", f"C.{number}:/workspace/cli/", f"local:{back}/", "-i", key)
    assert down.returncode == 0, down.stderr
    assert _files(back) == TREE


# --------------------------------------------------------------------------- fallback


def test_refused_module_falls_back_to_direct_ssh(
    rented: Instance, remote: Remote, sandbox: Path, project: Path
) -> None:
    assert rented.ssh is not None
    broken = DaemonTarget("127.0.0.1", rented.ssh.port, COPY_USER, "404")
    syncer = Syncer(remote, project, remote_dir="/workspace/proj", daemon_target=broken)

    pushed = syncer.push()
    assert pushed.method == "rsync"
    assert pushed.native_fallback is not None
    assert "Unknown module" in pushed.native_fallback
    assert _files(sandbox / "proj") == TREE

    back = project.parent / "back"
    pulled = syncer.pull(dest=back)
    assert pulled.method == "rsync"
    assert pulled.native_fallback is not None
    assert _files(back) == TREE


def test_unreachable_endpoint_falls_back_to_direct_ssh(
    rented: Instance, remote: Remote, sandbox: Path, project: Path
) -> None:
    dead = DaemonTarget("127.0.0.1", _closed_port(), COPY_USER, rented.instance_id)
    syncer = Syncer(remote, project, daemon_target=dead)
    pushed = syncer.push()
    assert pushed.method == "rsync"
    assert pushed.native_fallback
    assert "transfer endpoint" in pushed.native_fallback
    assert _files(sandbox).items() >= TREE.items()


def test_forced_sftp_never_tries_the_endpoint(
    rented: Instance, remote: Remote, sandbox: Path, project: Path
) -> None:
    assert rented.ssh is not None
    target = DaemonTarget("127.0.0.1", rented.ssh.port, COPY_USER, rented.instance_id)
    result = Syncer(remote, project, daemon_target=target, method="sftp").push()
    assert (result.method, result.native_fallback) == ("sftp", None)
    assert _files(sandbox).items() >= TREE.items()


# ------------------------------------------------------------------------- small parts


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        (b"123//workspace/proj/", b"123/proj/"),
        (b"123//workspace/", b"123/./"),
        (b"123//workspace", b"123/."),
        (b"123/workspace/a b/./out", b"123/a b/./out"),
        (b"123//workspace/proj/./out dir", b"123/proj/./out dir"),
        (b"123/", b"123/"),
        (b"123/proj", b"123/proj"),
        (b"123//workspaces/x", b"123//workspaces/x"),
        (b"123//root/x", b"123//root/x"),
        (b"/workspace/x", b"x"),
    ],
)
def test_daemon_paths_map_workspace_to_the_module_top(arg: bytes, expected: bytes) -> None:
    assert rewrite_daemon_arg(arg, b"123") == expected


def test_daemon_modules_are_named_after_the_instance() -> None:
    assert rsync_daemon_modules("vast-21007048") == ["21007048", "C.21007048"]


@pytest.mark.parametrize(
    "fields",
    [
        ("", 22, "u", "1"),
        ("h", 0, "u", "1"),
        ("h", 70000, "u", "1"),
        ("h", 22, "", "1"),
        ("h", 22, "a@b", "1"),
        ("h", 22, "u", ""),
        ("h", 22, "u", "a/b"),
    ],
)
def test_daemon_target_rejects_unusable_fields(fields: tuple[str, int, str, str]) -> None:
    with pytest.raises(ValueError):
        DaemonTarget(*fields)


def test_a_changed_endpoint_host_key_is_not_ignored(
    vast: VastPlatform,
    rented: Instance,
    remote: Remote,
    sandbox: Path,
    project: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A transfer endpoint presenting another host key than the one recorded is not
    used, and the user is told so, on the terminal and in `--json`."""
    import asyncssh

    from vp_tui.cli.jobs_cmd import _sync_warnings

    target = _native(vast, rented, "push", "/workspace/proj")
    syncer = Syncer(remote, project, remote_dir="/workspace/proj", daemon_target=target)
    assert syncer.push().method == "rsync-native"  # the endpoint's key is recorded now
    alias = syncer.daemon_alias()
    remote.known_hosts.forget(alias)
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh").decode()
    key_type, key_base64 = other.split()[:2]
    remote.known_hosts.add(alias, key_type, key_base64)

    again = Syncer(remote, project, remote_dir="/workspace/proj", daemon_target=target)
    pushed = again.push()
    assert pushed.method == "rsync" and pushed.endpoint_host_key_changed
    capsys.readouterr()
    _sync_warnings(pushed)
    assert "host key of Vast's transfer endpoint" in capsys.readouterr().err
