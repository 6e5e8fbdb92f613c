"""`vp create-instance` says what it will rent and what it costs before renting, asks on a
terminal, and refuses off one without `--yes`: on the demo cloud, through the real SDKs."""

from __future__ import annotations

import json
import re
import sys

import pytest

from tests.cli_helpers import Terminal
from vp_tui.cli import main as vp

RENT = ["--demo", "create-instance", "--platform", "runpod", "--gpu-type", "RTX_A4000"]
PRICE_LINE = re.compile(
    r"1x RTX A4000 on runpod \(offer .+\): \$(\d+\.\d{3})/h, \$(\d+\.\d{2})/day"
)


pytestmark = pytest.mark.usefixtures("cli_demo")


def instances(capsys: pytest.CaptureFixture[str]) -> list[object]:
    capsys.readouterr()
    assert vp(["--demo", "list-instances", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert isinstance(listed, list)
    return listed


def test_yes_prints_the_price_then_rents(capsys: pytest.CaptureFixture[str]) -> None:
    assert vp([*RENT, "--yes"]) == 0
    out = capsys.readouterr().out
    found = PRICE_LINE.search(out)
    assert found, out
    hourly, daily = float(found[1]), float(found[2])
    assert daily == pytest.approx(hourly * 24, abs=0.03)
    assert out.index("/day") < out.index("runpod instance")
    assert len(instances(capsys)) == 1


def test_json_keeps_stdout_json_and_says_the_price_on_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert vp([*RENT, "-y", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["platform"] == "runpod"
    assert PRICE_LINE.search(captured.err)


def test_off_a_terminal_without_yes_refuses(capsys: pytest.CaptureFixture[str]) -> None:
    assert vp(RENT) == 2
    err = capsys.readouterr().err
    refusal = [line for line in err.splitlines() if line.startswith("vp:")]
    assert len(refusal) == 1 and "--yes" in refusal[0] and "terminal" in refusal[0]
    assert instances(capsys) == []


def test_on_a_terminal_no_is_the_default(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", Terminal("\n"))
    assert vp(RENT) == 1
    captured = capsys.readouterr()
    assert PRICE_LINE.search(captured.out)
    assert "Rent it? [y/N]" in captured.err and "Not rented." in captured.err
    assert instances(capsys) == []


def test_on_a_terminal_yes_rents(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", Terminal("y\n"))
    assert vp(RENT) == 0
    captured = capsys.readouterr()
    assert "Rent it? [y/N]" in captured.err
    assert "runpod instance" in captured.out
    assert len(instances(capsys)) == 1


def test_a_price_above_the_cap_is_refused_before_asking(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    capsys.readouterr()
    assert vp(["--demo", "offers", "--gpu", "RTX_A4000", "--platform", "runpod", "--json"]) == 0
    offer = min(
        (o for o in json.loads(capsys.readouterr().out) if not o["interruptible"]),
        key=lambda o: o["price_per_hour"],
    )
    monkeypatch.setattr(sys, "stdin", Terminal("y\n"))
    cap = f"{offer['price_per_hour'] / 2:.4f}"
    argv = ["--demo", "create-instance", "--offer-id", offer["offer_id"], "--max-price", cap]
    assert vp(argv) == 1
    err = capsys.readouterr().err
    assert "above your cap" in err and "Rent it?" not in err
    assert instances(capsys) == []
