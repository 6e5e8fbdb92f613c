"""RunPod after GraphQL goes dark, pods that cannot be reached, and images without RunPod's
start script, through both faces.

``runpod:nographql`` makes every GraphQL request of the demo cloud answer
``410 Gone``, as RunPod's will in early 2027: everything but the balance runs on
REST v2 and keeps working. ``runpod:noport`` gives new pods no public port 22,
as Community hosts without a public IP do: the launch fails fast and says why.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tui_helpers import running_app, wait_for

from tests.cli_helpers import run_json
from vp_tui.cli import main as vp
from vp_tui.tui.widgets.platforms_pane import PlatformsPane


@pytest.fixture(autouse=True)
def demo_env(cli_demo: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VP_SIM_FAULTS", "runpod:nographql")


def test_the_whole_loop_works_without_graphql(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    offers = run_json(["offers", "--platform", "runpod", "--gpu", "RTX_A4000"], capsys)
    assert isinstance(offers, list) and offers
    assert {o["platform"] for o in offers} == {"runpod"}
    assert not any(o["interruptible"] for o in offers)

    created = run_json(
        ["create-instance", "--yes", "--platform", "runpod", "--gpu-type", "RTX_A4000", "--wait",
         "--timeout", "60"],
        capsys,
    )  # fmt: skip
    assert isinstance(created, dict)
    assert created["state"] == "running" and created["ssh_port"]
    pod = created["instance_id"]
    assert [i["instance_id"] for i in run_json(["list-instances"], capsys)] == [pod]  # type: ignore[union-attr]

    assert vp(["--demo", "stop-instance", pod]) == 0
    assert run_json(["list-instances"], capsys)[0]["state"] == "stopped"  # type: ignore[index]
    assert vp(["--demo", "start-instance", pod]) == 0

    project = tmp_path / "project"
    project.mkdir()
    (project / "hello.py").write_text("print('hello from the pod')\n")
    capsys.readouterr()
    status = vp(["--demo", "run", "--project", str(project), "--", "python3", "hello.py"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert captured.out == "hello from the pod\n"

    assert vp(["--demo", "destroy-instance", pod, "--yes"]) == 0
    assert "verified gone" in capsys.readouterr().out
    assert run_json(["list-instances"], capsys) == []


def test_a_pod_without_a_public_port_fails_the_launch_fast(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VP_SIM_FAULTS", "runpod:noport")
    argv = ["--demo", "create-instance", "--yes", "--platform", "runpod", "--gpu-type", "RTX_A4000"]
    capsys.readouterr()
    assert vp([*argv, "--wait", "--timeout", "300"]) == 1
    err = capsys.readouterr().err
    assert "cannot be reached over SSH" in err and "no public IP" in err
    assert "Secure Cloud" in err
    assert "billing $" in err and "vp destroy-instance" in err
    listed = run_json(["list-instances"], capsys)
    assert isinstance(listed, list) and len(listed) == 1  # still there, and said so


def test_any_image_is_reachable_with_the_keys_set_up_at_launch(
    capsys: pytest.CaptureFixture[str],
) -> None:
    created = run_json(
        ["create-instance", "--yes", "--platform", "runpod", "--gpu-type", "RTX_A4000", "--image",
         "ubuntu:24.04", "--wait", "--timeout", "60"],
        capsys,
    )  # fmt: skip
    assert isinstance(created, dict) and created["state"] == "running"
    capsys.readouterr()
    assert vp(["--demo", "run", "--no-sync", "--no-pull", "--", "echo", "in ubuntu"]) == 0
    assert capsys.readouterr().out == "in ubuntu\n"


def test_a_pod_that_errors_fails_the_launch_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--demo", "create-instance", "--yes", "--platform", "runpod", "--gpu-type", "RTX_A4000"]
    capsys.readouterr()
    status = vp([*argv, "--image", "example/does-not-exist:1", "--wait", "--timeout", "300"])
    assert status == 1
    err = capsys.readouterr().err
    assert "failed to start" in err and "does-not-exist" in err


async def test_the_dashboard_shows_the_balance_unknown_with_the_reason(tmp_path: Path) -> None:
    async with running_app(tmp_path, faults="runpod:nographql") as (app, pilot, _cloud):
        pane = app.query_one("#platforms", PlatformsPane)

        def told() -> bool:
            account = pane.views["runpod"].account
            return account is not None and account.balance_unknown is not None

        await wait_for(pilot, told, what="the RunPod balance read")
        text = " ".join(pane.render().plain.split())
        assert "balance unknown" in text
        assert "GraphQL API is switched off and REST v2 has no balance route yet" in text
        assert pane.views["runpod"].account_error is None  # not a failure of the platform
        assert pane.views["vast"].account is not None
        assert pane.views["vast"].account.balance is not None
        await wait_for(pilot, lambda: pane.views["runpod"].offers > 0, what="RunPod offers")
        assert pane.views["runpod"].status is not None and pane.views["runpod"].status.ok


def test_a_greeting_is_not_readiness(tmp_path: Path) -> None:
    """A pod of an image without RunPod's start script, made elsewhere without the sshd
    set-up: its port answers with a banner, but vp-tui's key opens nothing there."""
    from vp_tui.bootstrap import build_context
    from vp_tui.remote.probe import ssh_banner
    from vp_tui.services.fleet import LaunchTimeout
    from vp_tui.sim.server import DemoCloud

    with DemoCloud(tmp_path / "demo", boot_seconds=0.3, faults="") as cloud:
        context = build_context(demo_cloud=cloud)
        try:
            assert context.fleet.public_key is not None
            runpod = context.fleet.platform("runpod")
            runpod.ensure_ssh_key(context.fleet.public_key())
            made = cloud.cloud.create_runpod(
                gpu_type_id="NVIDIA RTX A4000", image="ubuntu:24.04", cloud_type="COMMUNITY"
            )
            seen = runpod.get_instance(made.id)
            assert seen is not None
            with pytest.raises(LaunchTimeout):
                context.fleet.wait_ready(seen, timeout=4, poll_seconds=0.2)
            up = runpod.get_instance(made.id)
            assert up is not None and up.ssh is not None and ssh_banner(up.ssh)
        finally:
            context.close()
