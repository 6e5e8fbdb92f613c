"""`vp costs`: the ledger's rows, totals and the accounts' balances, for people and scripts."""

from __future__ import annotations

import json

import pytest

from tests.cli_helpers import run_json
from vp_tui.cli import main as vp

ROW_KEYS = {
    "platform", "instance_id", "gpu", "started_at", "ended_at", "state", "spent",
    "started_by_vp_tui",
}  # fmt: skip


pytestmark = pytest.mark.usefixtures("cli_demo")


def test_costs_keep_a_destroyed_instance_and_give_the_balances(
    capsys: pytest.CaptureFixture[str],
) -> None:
    created = run_json(
        ["create-instance", "--platform", "vast", "--gpu-type", "RTX_4090", "--yes"], capsys
    )
    instance_id = created["instance_id"]  # type: ignore[index]
    assert vp(["--demo", "destroy-instance", instance_id, "--yes"]) == 0
    report = run_json(["costs"], capsys)
    assert isinstance(report, dict)
    (row,) = report["instances"]
    assert set(row) >= ROW_KEYS
    assert row["instance_id"] == instance_id and row["ended_at"] is not None
    assert row["started_by_vp_tui"] is True and row["spent"] > 0
    assert report["totals"]["today"] == pytest.approx(row["spent"])
    assert report["balances"]["vast"]["balance"] > 0
    assert set(report["balances"]) == {"vast", "runpod"}
    assert "demo-vast" not in json.dumps(report) and "demo-runpod" not in json.dumps(report)


def test_costs_for_people(capsys: pytest.CaptureFixture[str]) -> None:
    assert vp(["--demo", "costs", "--since", "2026-01-01"]) == 0
    out = capsys.readouterr().out
    assert "Spend since 2026-01-01" in out and "this month" in out and "balance $" in out


def test_a_bad_since_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        vp(["--demo", "costs", "--since", "last tuesday"])
    assert exited.value.code == 2
    assert "not a date" in capsys.readouterr().err


def test_a_platform_that_cannot_be_listed_makes_costs_fail(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VP_SIM_FAULTS", "runpod:error=500")
    assert vp(["--demo", "costs", "--json"]) == 1
    captured = capsys.readouterr()
    assert "runpod: instances could not be listed" in captured.err
    assert json.loads(captured.out)["balances"]["runpod"]["error"]
