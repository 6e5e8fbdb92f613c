"""Searching a job's whole log (not only the lines the pane keeps) and paging it in $PAGER."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Footer

from vp_tui.tui.log_search import ScanReport, read_window, scan_log
from vp_tui.tui.pager import pager_command
from vp_tui.tui.widgets.log_view import JobHeader, JobLog


class LogHost(App[None]):
    """A bare app around one job log."""

    def __init__(self, log_path: Path, max_lines: int = 100) -> None:
        super().__init__()
        self.log_path = log_path
        self.max_lines = max_lines

    def compose(self) -> ComposeResult:
        yield JobLog("job-7", max_lines=self.max_lines, log_path=self.log_path)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(JobLog).focus()


def log_text(start: int, stop: int, needles: set[int]) -> str:
    return "".join(f"line {i}{' needle' if i in needles else ''}\n" for i in range(start, stop))


def screen_text(app: App[None]) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def settle(pilot: Pilot[None]) -> None:
    """Let the file scan and any window load finish."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


# -- the file ------------------------------------------------------------------


def test_scan_finds_matching_lines_as_shown(tmp_path: Path) -> None:
    path = tmp_path / "job.log"
    lines = [f"step {i}" for i in range(50_000)]
    lines[7] = "\x1b[31mERR\x1b[0mOR disk"  # colours inside the word
    lines[31_000] = "progress 10%\rError at 20%"  # redrawn line: the visible part counts
    lines[31_001] = "Error\tafter a tab"
    path.write_text("\n".join(lines) + "\n")
    reports: list[ScanReport] = []
    scan_log(
        path,
        "error",
        origin_offset=0,
        lines_after_origin=40_000,
        cancelled=lambda: False,
        report=reports.append,
    )
    assert reports[-1].done
    assert [m for r in reports for m in r.matches] == [7, 31_000, 31_001]
    assert reports[-1].lines == 40_000  # stops where the pane's own lines begin
    checkpoints = [point for r in reports for point in r.checkpoints]
    text, count = read_window(path, 30_999, 3, checkpoints)
    assert count == 3
    assert text.splitlines()[0] == "step 30999"


def test_scan_counts_lines_before_the_origin_and_stops_when_cancelled(tmp_path: Path) -> None:
    path = tmp_path / "job.log"
    path.write_text(log_text(0, 1_000, set()))
    origin = len(log_text(0, 700, set()).encode())
    reports: list[ScanReport] = []
    scan_log(
        path,
        "",
        origin_offset=origin,
        lines_after_origin=0,
        cancelled=lambda: False,
        report=reports.append,
    )
    assert reports[-1].origin_line == 700
    assert reports[-1].done
    stopped: list[ScanReport] = []
    scan_log(
        path,
        "line",
        origin_offset=0,
        lines_after_origin=1_000,
        cancelled=lambda: True,
        report=stopped.append,
    )
    assert [r.matches for r in stopped] == [[]]


# -- the pane --------------------------------------------------------------------


async def test_n_walks_every_match_of_the_whole_log_and_back(tmp_path: Path) -> None:
    path = tmp_path / "job.log"
    text = log_text(0, 1_000, {5, 300, 990})
    path.write_text(text)
    app = LogHost(path, max_lines=100)
    async with app.run_test(size=(100, 30)) as pilot:
        log = app.query_one(JobLog)
        header = app.query_one(JobHeader)
        log.write_chunk(text)
        await pilot.pause()
        assert log.dropped_lines == 900
        await pilot.press("slash", *"needle", "enter")
        await settle(pilot)
        assert not log.searching
        assert log.match_count == 3
        assert log.current_match == 990
        assert "match 3 of 3" in str(log.border_subtitle)

        await pilot.press("n")  # wraps around to the oldest: read from the file
        await settle(pilot)
        assert log.older_part == (0, 100)
        assert log.current_match == 5
        assert not log.following
        assert "line 5 needle" in screen_text(app)
        assert "match 1 of 3" in str(log.border_subtitle)
        assert "older part" in str(log.border_subtitle)
        assert "lines 1-100 of 1,000" in str(header.render())

        await pilot.press("n")
        await settle(pilot)
        assert log.older_part == (250, 350)
        assert "line 300 needle" in screen_text(app)
        assert "lines 251-350 of 1,000" in str(header.render())
        await pilot.press("g")  # the top of the part shown names what is before it
        assert "… 250 earlier lines" in screen_text(app)
        assert log.older_part == (250, 350)

        await pilot.press("n")  # back in the lines held in memory
        await settle(pilot)
        assert log.older_part is None
        assert log.current_match == 990
        assert "match 3 of 3" in str(log.border_subtitle)
        assert "older part" not in str(header.render())

        await pilot.press("N")
        await settle(pilot)
        assert (log.older_part, log.current_match) == ((250, 350), 300)
        assert "match 2 of 3" in str(log.border_subtitle)
        log.write_chunk("line 1000\n")  # the tail goes on meanwhile
        await pilot.pause()
        assert "line 1000" not in screen_text(app)

        await pilot.press("G")  # the live tail again, following
        await pilot.pause()
        assert log.older_part is None
        assert log.following
        assert "line 1000" in screen_text(app)
        await pilot.press("N")
        await settle(pilot)
        assert log.current_match == 990
        await pilot.press("N", "N")
        await settle(pilot)
        assert log.current_match == 5
        await pilot.press("end")
        assert log.older_part is None
        await pilot.press("N")
        await settle(pilot)
        await pilot.press("f")
        assert log.older_part is None
        assert log.following


async def test_a_late_tail_and_a_growing_log_keep_every_match(tmp_path: Path) -> None:
    path = tmp_path / "job.log"
    first = log_text(0, 1_000, {5, 300, 850, 990})
    path.write_text(first)
    origin = len("".join(first.splitlines(keepends=True)[:800]))
    app = LogHost(path, max_lines=100)
    async with app.run_test(size=(100, 30)) as pilot:
        log = app.query_one(JobLog)
        log.set_log_origin(origin)  # the tail began at line 800
        log.write_chunk(first[origin:])
        await settle(pilot)
        await pilot.press("home")
        assert log.origin_line == 800
        assert log.total_lines == 1_000
        assert "… 900 earlier lines" in screen_text(app)

        await pilot.press("slash", *"needle", "enter", "end")
        await settle(pilot)
        assert log.match_count == 4
        more = log_text(1_000, 1_200, {1_050})
        with path.open("a") as handle:
            handle.write(more)
        log.write_chunk(more)  # 990 and 1,050 are dropped from memory as they pass
        await pilot.pause()
        assert log.dropped_lines == 300
        assert log.match_count == 5

        seen = []
        for _ in range(6):
            await pilot.press("n")
            await settle(pilot)
            seen.append(log.current_match)
            assert f"line {log.current_match} needle" in screen_text(app)
        assert seen == [5, 300, 850, 990, 1_050, 5]
        assert "match 5 of 5" not in str(log.border_subtitle)
        await pilot.press("N")
        await settle(pilot)
        assert "match 5 of 5" in str(log.border_subtitle)


async def test_a_new_job_resets_the_search(tmp_path: Path) -> None:
    path = tmp_path / "job.log"
    text = log_text(0, 500, {3, 450})
    path.write_text(text)
    app = LogHost(path, max_lines=100)
    async with app.run_test(size=(100, 30)) as pilot:
        log = app.query_one(JobLog)
        log.write_chunk(text)
        await pilot.press("slash", *"needle", "enter", "n")
        await settle(pilot)
        assert log.older_part is not None
        await pilot.press("slash")
        log.show_job("job-8", "python3 train.py", log_path=tmp_path / "other.log")
        await pilot.pause()
        assert log.search == ""
        assert log.match_count == 0
        assert log.current_match is None
        assert log.older_part is None
        assert not log.search_input.display
        assert log.search_input.value == ""
        assert "match" not in str(log.border_subtitle)
        assert "needle" not in screen_text(app)


# -- the pager -------------------------------------------------------------------


def test_pager_command_prefers_pager_then_less(tmp_path: Path) -> None:
    tool = tmp_path / "mypager"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    env = {"PATH": str(tmp_path), "PAGER": "mypager --raw"}
    assert pager_command("/x.log", env) == ["mypager", "--raw", "/x.log"]
    less = tmp_path / "less"
    less.write_text("#!/bin/sh\n")
    less.chmod(0o755)
    assert pager_command("/x.log", {"PATH": str(tmp_path)}) == ["less", "-R", "/x.log"]
    assert pager_command("/x.log", {"PATH": str(tmp_path), "PAGER": "gone"}) == [
        "less",
        "-R",
        "/x.log",
    ]
    less.unlink()
    assert pager_command("/x.log", {"PATH": str(tmp_path), "PAGER": "'unbalanced"}) is None


async def test_o_pages_the_whole_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "job.log"
    path.write_text(log_text(0, 50, set()))
    record = tmp_path / "argv.txt"
    pager = tmp_path / "pager.py"
    pager.write_text(f"import sys\nopen({str(record)!r}, 'w').write('\\n'.join(sys.argv[1:]))\n")
    monkeypatch.setenv("PAGER", f"{sys.executable} {pager} --flag")
    app = LogHost(path)
    async with app.run_test(size=(100, 30)) as pilot:
        # A headless run has no terminal to hand over: the pane says so.
        await pilot.press("o")
        await pilot.pause()
        assert any("Cannot open a pager" in str(n.message) for n in app._notifications)
        assert not record.exists()
        # Where the terminal can be handed over, the pager gets the log's path.
        monkeypatch.setattr(app, "suspend", contextlib.nullcontext)
        await pilot.press("o")
        await pilot.pause()
        assert record.read_text().splitlines() == ["--flag", str(path)]


async def test_o_without_any_pager_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "job.log"
    path.write_text("one\n")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("PAGER", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    app = LogHost(path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("o")
        await pilot.pause()
        messages = [str(n.message) for n in app._notifications]
        assert any("No pager found" in m and "~/job.log" in m for m in messages), messages
    assert os.environ["PATH"] == str(tmp_path / "empty")
