"""`vp offers`, `create-instance`, `list-instances`, `destroy-instance`, `stop/start-instance`
against the demo cloud, through the real SDKs: the JSON contracts and the messages users read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_helpers import run_json
from vp_tui.cli import main as vp

OFFER_KEYS = {
    "platform", "offer_id", "gpu", "gpu_raw", "gpu_count", "vram_gb", "price_per_hour",
    "interruptible", "min_bid", "reliability", "location", "cpu_cores", "ram_gb", "disk_gb",
    "inet_down_mbps", "stock", "verified", "tflops_bf16", "dollars_per_tflop_hour",
    "dollars_per_vram_gb_hour",
}  # fmt: skip
INSTANCE_KEYS = {
    "platform", "instance_id", "label", "gpu", "gpu_count", "state", "price_per_hour", "spent",
    "started_at", "ssh_host", "ssh_port",
}  # fmt: skip


pytestmark = pytest.mark.usefixtures("cli_demo")


def test_offers_json_contract_both_markets(capsys: pytest.CaptureFixture[str]) -> None:
    offers = run_json(["offers", "--gpu", "RTX_4090", "--max-price", "0.8"], capsys)
    assert isinstance(offers, list) and offers
    assert {o["platform"] for o in offers} == {"vast", "runpod"}
    for offer in offers:
        assert set(offer) >= OFFER_KEYS
        assert offer["gpu"] == "RTX 4090"
        assert offer["price_per_hour"] <= 0.8
    prices = [o["price_per_hour"] for o in offers]
    assert prices == sorted(prices)


def test_offers_by_gpu_compares_platforms(capsys: pytest.CaptureFixture[str]) -> None:
    rows = run_json(["offers", "--by-gpu"], capsys)
    assert isinstance(rows, list)
    row = next(r for r in rows if r["gpu"] == "RTX 4090")
    assert row["vast_per_gpu_hour"] and row["runpod_per_gpu_hour"]
    assert row["difference"] == pytest.approx(row["runpod_per_gpu_hour"] - row["vast_per_gpu_hour"])


def test_offers_human_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert vp(["--demo", "offers", "--gpu", "H100_SXM", "--limit", "5"]) == 0
    out = capsys.readouterr().out
    assert "H100 SXM" in out and "$/TFLOP-h" in out


def test_partial_failure_warns_and_exits_0(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VP_SIM_FAULTS", "runpod:error=500")
    assert vp(["--demo", "offers", "--json"]) == 0
    captured = capsys.readouterr()
    assert {o["platform"] for o in json.loads(captured.out)} == {"vast"}
    assert "RunPod" in captured.err and "500" in captured.err


def test_every_platform_failing_is_an_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VP_SIM_FAULTS", "*:auth")
    assert vp(["--demo", "offers"]) == 1
    err = capsys.readouterr().err
    assert "API key rejected" in err and "Traceback" not in err
    assert "demo-vast" not in err and "demo-runpod" not in err


def test_price_cap_error_names_cheapest(capsys: pytest.CaptureFixture[str]) -> None:
    assert vp(["--demo", "create-instance", "--platform", "vast", "--gpu-type", "H100_SXM"]) == 1
    err = capsys.readouterr().err
    assert "under $0.50/h" in err and "the cheapest is $" in err and "--max-price" in err
    assert run_json(["list-instances"], capsys) == []  # nothing rented


@pytest.mark.parametrize("platform", ["vast", "runpod"])
def test_create_list_stop_start_destroy(platform: str, capsys: pytest.CaptureFixture[str]) -> None:
    created = run_json(
        ["create-instance", "-y", "--platform", platform, "--gpu-type", "RTX_4090",
         "--max-price", "1", "--label", "cli-test", "--wait", "--timeout", "60"],
        capsys,
    )  # fmt: skip
    assert isinstance(created, dict)
    assert set(created) >= INSTANCE_KEYS
    assert created["state"] == "running" and created["ssh_port"]
    instance_id = created["instance_id"]
    listed = run_json(["list-instances"], capsys)
    assert [i["instance_id"] for i in listed] == [instance_id]  # type: ignore[union-attr]
    for item in listed:  # type: ignore[union-attr]
        assert set(item) >= INSTANCE_KEYS
        assert item["gpu"] == "RTX 4090" and item["label"] == "cli-test"

    assert vp(["--demo", "stop-instance", instance_id]) == 0
    assert run_json(["list-instances"], capsys)[0]["state"] == "stopped"  # type: ignore[index]
    assert vp(["--demo", "start-instance", instance_id]) == 0
    assert run_json(["list-instances"], capsys)[0]["state"] in {
        "starting",
        "running",
        "provisioning",
    }  # type: ignore[index]

    capsys.readouterr()
    assert vp(["--demo", "destroy-instance", instance_id, "--yes"]) == 0
    assert "verified gone" in capsys.readouterr().out
    assert run_json(["list-instances"], capsys) == []


def test_unverified_destroy_is_an_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    created = run_json(
        ["create-instance", "-y", "--platform", "vast", "--gpu-type", "RTX_3090"], capsys
    )
    instance_id = created["instance_id"]  # type: ignore[index]
    monkeypatch.setenv("VP_SIM_FAULTS", "vast:nodestroy")
    assert vp(["--demo", "destroy-instance", instance_id, "--yes", "--timeout", "1"]) == 1
    err = capsys.readouterr().err
    assert "still listed" in err and "billing" in err
    monkeypatch.delenv("VP_SIM_FAULTS")
    assert [i["instance_id"] for i in run_json(["list-instances"], capsys)] == [instance_id]  # type: ignore[union-attr]
    assert vp(["--demo", "destroy-instance", instance_id, "--yes"]) == 0


def test_destroy_needs_yes_off_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    created = run_json(
        ["create-instance", "--yes", "--platform", "runpod", "--gpu-type", "RTX_A4000"], capsys
    )
    assert vp(["--demo", "destroy-instance", created["instance_id"]]) == 2  # type: ignore[index]
    assert "--yes" in capsys.readouterr().err
    assert vp(["--demo", "destroy-instance", created["instance_id"], "--yes"]) == 0  # type: ignore[index]


def test_destroy_unknown_instance(capsys: pytest.CaptureFixture[str]) -> None:
    assert vp(["--demo", "destroy-instance", "424242", "--yes"]) == 1
    assert "no instance '424242'" in capsys.readouterr().err


def test_demo_reset_forgets_instances(capsys: pytest.CaptureFixture[str]) -> None:
    run_json(["create-instance", "--yes", "--platform", "vast", "--gpu-type", "RTX_3090"], capsys)
    assert vp(["demo", "reset"]) == 0
    assert run_json(["list-instances"], capsys) == []


def test_demo_serve_prints_urls_and_keys_for_the_official_clients(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    import requests

    proc = subprocess.Popen(
        [sys.executable, "-m", "vp_tui.cli", "demo", "serve"],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        assert proc.stdout is not None
        vast_line = proc.stdout.readline()
        runpod_line = proc.stdout.readline()
        assert vast_line.startswith("Vast.ai API:") and runpod_line.startswith("RunPod API:")
        vast_url, vast_key = vast_line.split()[2], vast_line.split()[4]
        answer = requests.get(
            f"{vast_url}/api/v0/users/current",
            headers={"Authorization": f"Bearer {vast_key}"},
            timeout=10,
        )
        assert answer.status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_list_instances_with_a_failing_platform_prints_the_rest_and_exits_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VP_SIM_FAULTS", "runpod:error=500")
    capsys.readouterr()
    assert vp(["--demo", "list-instances"]) == 1
    captured = capsys.readouterr()
    assert "No instances on vast." in captured.out and "Rent one" not in captured.out
    assert "runpod" in captured.err and "500" in captured.err

    monkeypatch.delenv("VP_SIM_FAULTS")
    created = run_json(
        ["create-instance", "-y", "--platform", "vast", "--gpu-type", "RTX_3090"], capsys
    )
    instance_id = created["instance_id"]  # type: ignore[index]
    monkeypatch.setenv("VP_SIM_FAULTS", "runpod:error=500")
    assert vp(["--demo", "list-instances"]) == 1
    captured = capsys.readouterr()
    assert instance_id in captured.out
    assert "runpod: instances could not be listed" in captured.err and "500" in captured.err
    assert "Traceback" not in captured.err

    assert vp(["--demo", "list-instances", "--json"]) == 1
    captured = capsys.readouterr()
    assert [i["instance_id"] for i in json.loads(captured.out)] == [instance_id]
    assert "runpod" in captured.err and "500" in captured.err


@pytest.mark.parametrize("platform", ["vast", "runpod"])
def test_stop_and_start_are_verified(
    platform: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VP_SIM_BOOT_SECONDS", "1.5")
    created = run_json(
        [
            "create-instance",
            "-y",
            "--platform",
            platform,
            "--gpu-type",
            "RTX_4090",
            "--max-price",
            "1",
        ],
        capsys,
    )
    instance_id = created["instance_id"]  # type: ignore[index]
    assert vp(["--demo", "stop-instance", instance_id]) == 0
    assert "stopped (verified" in capsys.readouterr().out
    stopped = run_json(["list-instances"], capsys)[0]  # type: ignore[index]
    assert stopped["state"] == "stopped"
    # What it billed since vp-tui rented it, from the spend ledger (past runs included).
    assert stopped["spent"] is not None and stopped["spent"] > 0

    assert vp(["--demo", "start-instance", instance_id]) == 0
    assert f"{instance_id} running (verified)" in capsys.readouterr().out
    assert run_json(["list-instances"], capsys)[0]["state"] == "running"  # type: ignore[index]


def test_no_wait_only_requests(capsys: pytest.CaptureFixture[str]) -> None:
    created = run_json(
        ["create-instance", "-y", "--platform", "vast", "--gpu-type", "RTX_3090"], capsys
    )
    instance_id = created["instance_id"]  # type: ignore[index]
    assert vp(["--demo", "stop-instance", instance_id, "--no-wait"]) == 0
    out = capsys.readouterr().out
    assert "stop requested" in out and "verified" not in out.replace("not verified", "")
    assert vp(["--demo", "start-instance", instance_id, "--no-wait"]) == 0
    assert "start requested" in capsys.readouterr().out


def test_a_start_not_seen_in_time_is_an_error_naming_the_last_state(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VP_SIM_BOOT_SECONDS", "60")
    created = run_json(
        ["create-instance", "--yes", "--platform", "runpod", "--gpu-type", "RTX_A4000"], capsys
    )
    instance_id = created["instance_id"]  # type: ignore[index]
    assert vp(["--demo", "stop-instance", instance_id]) == 0
    capsys.readouterr()
    assert vp(["--demo", "start-instance", instance_id, "--timeout", "1"]) == 1
    captured = capsys.readouterr()
    assert "not running" in captured.err and "last seen starting" in captured.err
    assert "running (verified)" not in captured.out and "Traceback" not in captured.err
