"""`vp watch FILTER`: against the demo cloud, the exit codes and outputs scripts rely on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_cli_instances import OFFER_KEYS

from vp_tui.cli import main as vp
from vp_tui.cli import watch_cmd
from vp_tui.core.models import Offer


@pytest.fixture(autouse=True)
def demo_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("VP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("VP_SIM_FAULTS", raising=False)
    yield


def test_once_with_a_match_prints_the_offers_and_exits_0(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert vp(["--demo", "watch", "rtx 4090 <0.5", "--once", "--limit", "3"]) == 0
    out = capsys.readouterr().out
    assert out.count("RTX 4090") == 3
    assert "offers match `rtx 4090 <0.5`" in out


def test_once_json_lists_matching_offers_cheapest_first(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert vp(["--demo", "watch", "rtx 4090 <0.5 runpod", "--once", "--json"]) == 0
    offers = json.loads(capsys.readouterr().out)
    assert isinstance(offers, list) and offers
    for offer in offers:
        assert set(offer) >= OFFER_KEYS
        assert offer["gpu"] == "RTX 4090" and offer["platform"] == "runpod"
        assert offer["price_per_hour"] < 0.5
    prices = [o["price_per_hour"] for o in offers]
    assert prices == sorted(prices)


def test_once_without_a_match_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert vp(["--demo", "watch", "h100 <0.001", "--once", "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no offer matches `h100 <0.001`" in captured.err


@pytest.mark.parametrize("text", ["h100 <abc", "vram", "price<cheap", ""])
def test_a_filter_it_does_not_understand_exits_2(
    text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert vp(["--demo", "watch", text, "--once"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "vp:" in captured.err and ("not understood" in captured.err or "empty" in captured.err)


def test_bad_interval_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        vp(["--demo", "watch", "h100", "--interval", "soon"])
    assert exit_info.value.code == 2


def test_keeps_checking_until_something_matches(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = watch_cmd._check
    checks: list[str] = []
    waits: list[float] = []

    def check(*args: Any, **kwargs: Any) -> list[Offer] | None:
        checks.append("check")
        return None if len(checks) == 1 else real(*args, **kwargs)  # the market moved

    monkeypatch.setattr(watch_cmd, "_check", check)
    monkeypatch.setattr(watch_cmd, "_wait", waits.append)
    assert vp(["--demo", "watch", "rtx 4090 <0.5", "--interval", "10s", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)
    assert len(checks) == 2 and waits == [10.0]


def test_ctrl_c_ends_the_wait(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    waits: list[float] = []

    def interrupted(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(watch_cmd, "_wait", interrupted)
    assert vp(["--demo", "watch", "h100 <0.001", "--interval", "30s"]) == 130
    captured = capsys.readouterr()
    assert waits == [30.0, 30.0]
    assert captured.err.count("checking again in 30s") == 2
    assert "stopped watching" in captured.err
