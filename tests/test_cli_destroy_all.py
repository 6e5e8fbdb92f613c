"""`vp destroy-instance --all`: every instance (of a platform) destroyed and verified,
one line each; asks once on a terminal, refuses off one without `--yes`, and never
reads a platform that failed to list as having nothing to destroy. On the demo cloud,
through the real SDKs."""

from __future__ import annotations

import json
import sys

import pytest

from tests.cli_helpers import Terminal
from vp_tui.cli import main as vp

pytestmark = pytest.mark.usefixtures("cli_demo")


def rent(platform: str, gpu: str, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    args = ["--demo", "create-instance", "-y", "--platform", platform, "--gpu-type", gpu, "--json"]
    assert vp(args) == 0
    created = json.loads(capsys.readouterr().out)
    return str(created["instance_id"])


def listed(capsys: pytest.CaptureFixture[str]) -> list[tuple[str, str]]:
    capsys.readouterr()
    assert vp(["--demo", "list-instances", "--json"]) == 0
    return sorted((i["platform"], i["instance_id"]) for i in json.loads(capsys.readouterr().out))


def test_all_destroys_both_platforms_and_says_so_for_each(
    capsys: pytest.CaptureFixture[str],
) -> None:
    vast = rent("vast", "RTX_4090", capsys)
    runpod = rent("runpod", "RTX_A4000", capsys)
    capsys.readouterr()
    assert vp(["--demo", "destroy-instance", "--all", "--yes"]) == 0
    out = capsys.readouterr().out
    assert f"vast instance {vast}: destroyed (verified gone)" in out
    assert f"runpod instance {runpod}: destroyed (verified gone)" in out
    assert listed(capsys) == []


def test_all_of_one_platform_leaves_the_other(capsys: pytest.CaptureFixture[str]) -> None:
    rent("vast", "RTX_4090", capsys)
    runpod = rent("runpod", "RTX_A4000", capsys)
    capsys.readouterr()
    assert vp(["--demo", "destroy-instance", "--all", "--platform", "vast", "--yes"]) == 0
    assert "runpod" not in capsys.readouterr().out
    assert listed(capsys) == [("runpod", runpod)]


def test_nothing_to_destroy(capsys: pytest.CaptureFixture[str]) -> None:
    assert vp(["--demo", "destroy-instance", "--all", "--yes"]) == 0
    assert "nothing to destroy" in capsys.readouterr().out


def test_all_refuses_off_a_terminal_without_yes(capsys: pytest.CaptureFixture[str]) -> None:
    vast = rent("vast", "RTX_3090", capsys)
    capsys.readouterr()
    assert vp(["--demo", "destroy-instance", "--all"]) == 2
    assert "--yes" in capsys.readouterr().err
    assert listed(capsys) == [("vast", vast)]


def test_all_on_a_terminal_lists_them_and_asks_once(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    vast = rent("vast", "RTX_4090", capsys)
    runpod = rent("runpod", "RTX_A4000", capsys)
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdin", Terminal("n\n"))
    assert vp(["--demo", "destroy-instance", "--all"]) == 1
    captured = capsys.readouterr()
    assert vast in captured.out and runpod in captured.out and "$" in captured.out
    assert captured.err.count("[y/N]") == 1 and "Not destroyed." in captured.err
    assert len(listed(capsys)) == 2
    monkeypatch.setattr(sys, "stdin", Terminal("y\n"))
    assert vp(["--demo", "destroy-instance", "--all"]) == 0
    assert capsys.readouterr().out.count("verified gone") == 2
    assert listed(capsys) == []


def test_a_platform_that_cannot_list_fails_the_command(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    vast = rent("vast", "RTX_4090", capsys)
    rent("runpod", "RTX_A4000", capsys)
    capsys.readouterr()
    monkeypatch.setenv("VP_SIM_FAULTS", "runpod:error=500")
    assert vp(["--demo", "destroy-instance", "--all", "--yes"]) == 1
    captured = capsys.readouterr()
    assert f"vast instance {vast}: destroyed (verified gone)" in captured.out
    assert "runpod: instances could not be listed" in captured.err
    assert "billing" in captured.err
    monkeypatch.delenv("VP_SIM_FAULTS")
    assert [p for p, _ in listed(capsys)] == ["runpod"]


def test_only_runpod_failing_is_not_nothing_to_destroy(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VP_SIM_FAULTS", "runpod:error=500")
    assert vp(["--demo", "destroy-instance", "--all", "--platform", "runpod", "--yes"]) == 1
    captured = capsys.readouterr()
    assert "nothing to destroy" not in captured.out
    assert "runpod: instances could not be listed" in captured.err


def test_id_and_all_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        vp(["--demo", "destroy-instance", "123", "--all"])
    assert raised.value.code == 2
    with pytest.raises(SystemExit) as raised:
        vp(["--demo", "destroy-instance"])
    assert raised.value.code == 2
