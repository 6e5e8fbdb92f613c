"""The job log pane: streaming, bounds, following, search, wrap and cancel, driven by keys."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest
from rich.style import Style
from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.pilot import Pilot
from textual.widgets import Footer, Header, Input

from vp_tui.core.models import JobState
from vp_tui.tui.pager import readable_path
from vp_tui.tui.widgets.log_view import JobHeader, JobLog, LogBuffer, format_elapsed, strip_ansi


class LogHost(App[None]):
    """A bare app around one job log."""

    def __init__(self, max_lines: int = 10_000, log_path: str | None = None) -> None:
        super().__init__()
        self.max_lines = max_lines
        self.log_path = log_path
        self.cancel_requests: list[str] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield JobLog("job-7", max_lines=self.max_lines, log_path=self.log_path)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(JobLog).focus()

    def on_job_log_cancel_requested(self, message: JobLog.CancelRequested) -> None:
        self.cancel_requests.append(message.job_id)


def screen_rows(app: App[None]) -> list[str]:
    """The text on the screen, row by row."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def screen_text(app: App[None]) -> str:
    return "\n".join(screen_rows(app))


def numbered(start: int, stop: int) -> str:
    return "".join(f"line {i}\n" for i in range(start, stop))


async def at_bottom(pilot: Pilot[None], log: JobLog) -> bool:
    await pilot.pause()
    view = log.lines_view
    return view.scroll_y == view.max_scroll_y


# -- the text ------------------------------------------------------------------


def test_buffer_completes_partial_lines_across_chunks() -> None:
    buffer = LogBuffer()
    assert buffer.feed("ab") == []
    assert buffer.partial == "ab"
    assert buffer.feed("c\nde") == ["abc"]
    assert buffer.feed("f") == []
    assert buffer.lines == ["abc"]
    assert buffer.partial == "def"
    assert buffer.feed("\n") == ["def"]
    assert buffer.partial == ""


def test_buffer_strips_ansi_even_when_a_sequence_spans_chunks() -> None:
    buffer = LogBuffer()
    buffer.feed("\x1b[1;31merror\x1b[0m: bad\n\x1b[3")
    assert buffer.partial == ""
    buffer.feed("2mgreen\x1b]0;title\x07 done\n")
    assert buffer.lines == ["error: bad", "green done"]
    assert strip_ansi("plain") == "plain"


def test_buffer_resolves_carriage_returns_and_tabs() -> None:
    buffer = LogBuffer()
    buffer.feed("a\tb\r\n")
    for percent in range(0, 101, 10):
        buffer.feed(f"\rtraining {percent:3}%")
    assert buffer.partial == "training 100%"
    assert len(buffer._raw_partial) < 40
    buffer.feed("\n")
    assert buffer.lines == ["a       b", "training 100%"]


def test_buffer_breaks_overlong_lines() -> None:
    buffer = LogBuffer(max_line_length=10)
    assert buffer.feed("x" * 25 + "\n") == ["x" * 10, "x" * 10, "x" * 5]
    buffer.feed("y" * 23)
    assert buffer.lines[-2:] == ["y" * 10, "y" * 10]
    assert buffer.partial == "yyy"


def test_buffer_keeps_the_last_max_lines() -> None:
    buffer = LogBuffer(max_lines=100)
    for start in range(0, 100_000, 5_000):
        buffer.feed(numbered(start, start + 5_000))
        buffer.trim()
        assert len(buffer.lines) <= 100
    assert buffer.dropped == 99_900
    assert buffer.lines[0] == "line 99900"
    assert buffer.line(99_999) == "line 99999"


def test_write_lines_ends_an_unfinished_line_first() -> None:
    buffer = LogBuffer()
    buffer.feed("half")
    buffer.add_lines(["one\n", "two"])
    assert buffer.lines == ["half", "one", "two"]
    assert buffer.add_lines([]) == []


def test_elapsed_format() -> None:
    assert format_elapsed(None) == "-"
    assert format_elapsed(65) == "1:05"
    assert format_elapsed(3725.9) == "1:02:05"


# -- the pane --------------------------------------------------------------------


async def test_partial_lines_and_a_final_line_without_newline_show() -> None:
    app = LogHost()
    async with app.run_test(size=(100, 30)) as pilot:
        log = app.query_one(JobLog)
        log.write_chunk("first li")
        log.write_chunk("ne\nsecond")
        await pilot.pause()
        assert list(log.lines) == ["first line"]
        assert log.partial_line == "second"
        rows = screen_rows(app)
        assert any("first line" in row for row in rows)
        assert any("second" in row for row in rows)
        log.write_chunk(" line\nthird, no newline")
        await pilot.pause()
        assert list(log.lines) == ["first line", "second line"]
        assert "third, no newline" in screen_text(app)


async def test_max_lines_bounds_memory_and_names_the_log_file() -> None:
    app = LogHost(max_lines=500, log_path="/data/jobs/job-7.log")
    async with app.run_test(size=(100, 30)) as pilot:
        log = app.query_one(JobLog)
        for start in range(0, 200_000, 5_000):
            log.write_chunk(numbered(start, start + 5_000))
        await pilot.pause()
        assert len(log.lines) == 500
        assert log.dropped_lines == 199_500
        assert log.lines[-1] == "line 199999"
        await pilot.press("home")
        assert "… 199,500 earlier lines: /data/jobs/job-7.log (o opens it)" in screen_text(app)


async def test_following_keeps_the_newest_line_in_view() -> None:
    app = LogHost()
    async with app.run_test(size=(100, 30)) as pilot:
        log = app.query_one(JobLog)
        for start in range(0, 3_000, 500):
            log.write_chunk(numbered(start, start + 500))
            assert await at_bottom(pilot, log)
            assert f"line {start + 499}" in screen_text(app)
        assert log.following
        assert "following" in str(log.border_subtitle)


async def test_scrolling_up_stops_following_and_end_resumes() -> None:
    app = LogHost()
    async with app.run_test(size=(100, 30)) as pilot:
        log = app.query_one(JobLog)
        view = log.lines_view
        log.write_chunk(numbered(0, 200))
        await pilot.pause()
        await pilot.press("up")
        assert not log.following
        top = view.scroll_y
        log.write_chunk(numbered(200, 400))
        await pilot.pause()
        assert view.scroll_y == top
        assert "line 399" not in screen_text(app)
        assert "paused" in str(log.border_subtitle)
        await pilot.press("end")
        assert log.following
        assert await at_bottom(pilot, log)
        assert "line 399" in screen_text(app)


async def test_page_up_home_and_mouse_wheel_stop_following() -> None:
    app = LogHost()
    async with app.run_test(size=(100, 30)) as pilot:
        log = app.query_one(JobLog)
        view = log.lines_view
        log.write_chunk(numbered(0, 500))
        await pilot.pause()
        for key in ("pageup", "home"):
            await pilot.press(key)
            assert not log.following
            await pilot.press("end")
            assert log.following
        view.post_message(
            events.MouseScrollUp(view, 1, 1, 0, -1, 0, shift=False, meta=False, ctrl=False)
        )
        await pilot.pause()
        assert not log.following
        assert view.scroll_y < view.max_scroll_y
        for _ in range(50):  # wheel back down: reaching the bottom resumes following
            view.post_message(
                events.MouseScrollDown(view, 1, 1, 0, 1, 0, shift=False, meta=False, ctrl=False)
            )
            await pilot.pause()
            if log.following:
                break
        assert log.following
        assert await at_bottom(pilot, log)


async def test_scrolling_back_to_the_bottom_resumes_following() -> None:
    app = LogHost()
    async with app.run_test(size=(100, 30)) as pilot:
        log = app.query_one(JobLog)
        log.write_chunk(numbered(0, 300))
        await pilot.pause()
        await pilot.press("up", "up")
        assert not log.following
        await pilot.press("down")
        assert not log.following
        await pilot.press("down")
        assert log.following
        log.write_chunk(numbered(300, 400))
        assert await at_bottom(pilot, log)


async def test_paused_view_keeps_its_lines_while_old_ones_are_dropped() -> None:
    app = LogHost(max_lines=1_000)
    async with app.run_test(size=(100, 30)) as pilot:
        log = app.query_one(JobLog)
        view = log.lines_view
        log.write_chunk(numbered(0, 1_000))
        await pilot.pause()
        await pilot.press("pageup")
        top_line = view.row_line(view.scroll_offset.y)[0]
        log.write_chunk(numbered(1_000, 1_300))
        await pilot.pause()
        assert not log.following
        assert view.row_line(view.scroll_offset.y)[0] == top_line
        assert f"line {top_line}" in screen_rows(app)[view.region.y]


async def test_f_toggles_following() -> None:
    app = LogHost()
    async with app.run_test(size=(100, 30)) as pilot:
        log = app.query_one(JobLog)
        log.write_chunk(numbered(0, 100))
        await pilot.pause()
        await pilot.press("f")
        assert not log.following
        log.write_chunk(numbered(100, 200))
        await pilot.pause()
        assert "line 199" not in screen_text(app)
        await pilot.press("f")
        assert log.following
        assert await at_bottom(pilot, log)
        assert "line 199" in screen_text(app)


async def test_search_highlights_jumps_and_counts() -> None:
    app = LogHost()
    async with app.run_test(size=(100, 30)) as pilot:
        log = app.query_one(JobLog)
        view = log.lines_view
        lines = [f"step {i} ok" for i in range(300)]
        for i in (10, 120, 150, 230, 290):
            lines[i] = f"step {i} Error: disk full"
        log.write_lines(lines)
        await pilot.pause()
        await pilot.press("slash")
        assert log.search_input.display
        assert app.focused is log.search_input
        await pilot.press(*"error", "enter")
        await pilot.pause()
        assert log.search == "error"
        assert not log.search_input.display
        assert app.focused is log
        assert log.match_count == 5
        # the first match at or after the top of the view (following: near the end)
        assert log.current_match == 290
        assert log.match_position == 5
        assert "match 5 of 5" in str(log.border_subtitle)
        assert not log.following

        def visible(index: int) -> bool:
            row = view.line_row(index)
            return view.scroll_y <= row < view.scroll_y + view.scrollable_content_region.height

        assert visible(290)
        await pilot.press("n")  # wraps around to the oldest
        assert (log.current_match, log.match_position) == (10, 1)
        assert visible(10)
        assert "match 1 of 5" in str(log.border_subtitle)
        await pilot.press("n")
        assert (log.current_match, log.match_position) == (120, 2)
        assert visible(120)
        assert "match 2 of 5" in str(log.border_subtitle)
        await pilot.press("N", "N")
        assert (log.current_match, log.match_position) == (290, 5)
        assert visible(290)
        await pilot.press("N")
        assert log.current_match == 230
        await pilot.pause()

        # the matching text carries the theme's match styles
        current_style = view.get_component_rich_style("job-log--current-match")
        match_style = view.get_component_rich_style("job-log--match")
        row_strip = view.render_line(view.line_row(230) - view.scroll_y)
        styled = {seg.text: seg.style or Style() for seg in row_strip}
        assert styled["Error"].bgcolor == current_style.bgcolor
        other = view.render_line(view.line_row(290) - view.scroll_y)
        assert {seg.text: seg.style or Style() for seg in other}["Error"].bgcolor == (
            match_style.bgcolor
        )

        # escape closes the bar and keeps the search
        await pilot.press("slash", "x", "escape")
        assert not log.search_input.display
        assert app.focused is log
        assert log.search == "error"
        # new matching output counts as it arrives
        log.write_chunk("late error\n")
        await pilot.pause()
        assert log.match_count == 6
        assert "of 6" in str(log.border_subtitle)


async def test_search_without_matches_and_clearing_it() -> None:
    app = LogHost()
    async with app.run_test(size=(100, 30)) as pilot:
        log = app.query_one(JobLog)
        log.write_chunk(numbered(0, 50))
        await pilot.press("slash", *"nothing", "enter")
        assert log.match_count == 0
        assert log.current_match is None
        assert "0 matches" in str(log.border_subtitle)
        await pilot.press("n", "N")
        await pilot.press("slash", "ctrl+a", "ctrl+k", "enter")
        assert log.search == ""
        assert "match" not in str(log.border_subtitle)


async def test_w_wraps_long_lines_into_several_rows() -> None:
    app = LogHost()
    async with app.run_test(size=(60, 20)) as pilot:
        log = app.query_one(JobLog)
        view = log.lines_view
        long_line = "".join(f"{i:03}-" for i in range(50))  # 200 characters
        log.write_lines(["short", long_line, "tail"])
        await pilot.pause()
        assert view.row_count == 3
        assert long_line[:40] in screen_text(app)
        assert long_line[-20:] not in screen_text(app)
        await pilot.press("w")
        await pilot.pause()
        assert log.wrap
        width = view.scrollable_content_region.width
        rows_of_long = -(-len(long_line) // width)
        assert rows_of_long >= 3
        assert view.row_count == 2 + rows_of_long
        text = screen_text(app)
        for start in range(0, len(long_line), width):
            assert long_line[start : start + width] in text
        assert view.row_line(view.line_row(2))[0] == 2
        await pilot.press("w")
        await pilot.pause()
        assert not log.wrap
        assert view.row_count == 3


async def test_c_asks_the_app_to_cancel_the_job() -> None:
    app = LogHost()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("c")
        await pilot.pause()
        assert app.cancel_requests == ["job-7"]


async def test_show_job_resets_the_pane_and_fills_the_header() -> None:
    app = LogHost()
    async with app.run_test(size=(100, 30)) as pilot:
        log = app.query_one(JobLog)
        log.write_chunk(numbered(0, 100))
        await pilot.press("f")
        log.show_job("job-9", "python3 -c 'print(42)'", state=JobState.RUNNING, elapsed=75)
        await pilot.pause()
        assert log.job_id == "job-9"
        assert list(log.lines) == []
        assert log.following
        header = app.query_one(JobHeader)
        assert "running" in str(header.render())
        assert "1:15" in screen_text(app)
        assert "print(42)" in screen_text(app)
        log.write_chunk("42\n")
        log.update_job(state=JobState.SUCCEEDED, elapsed=76, exit_code=0)
        await pilot.pause()
        assert "succeeded" in screen_text(app)
        assert "exit 0" in screen_text(app)
        await pilot.press("c")
        await pilot.pause()
        assert app.cancel_requests == ["job-9"]


class SmallDashboard(App[None]):
    """The log among other panes at the smallest supported size."""

    BINDINGS: ClassVar = [("q", "quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield JobLog("job-1", max_lines=200)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(JobLog).focus()


async def test_80x24_every_key_without_crashing() -> None:
    app = SmallDashboard()
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(JobLog)
        log.write_chunk(
            "\x1b[32mok\x1b[0m\t" + "wide 数据 " * 30 + "\n" + numbered(0, 500) + "tail"
        )
        await pilot.pause()
        await pilot.press("w", "up", "pageup", "home", "down", "pagedown", "left", "right")
        await pilot.press("slash", *"line 4", "enter", "n", "N", "w", "f", "f", "end")
        await pilot.resize_terminal(60, 15)
        log.write_chunk(numbered(500, 900))
        await pilot.pause()
        await pilot.resize_terminal(80, 24)
        await pilot.press("w")
        await pilot.pause()
        assert log.lines[-1] == "line 899"
        assert log.following
        assert await at_bottom(pilot, log)
        log.clear()
        await pilot.pause()
        assert log.lines_view.row_count == 0


async def test_output_written_before_mount_shows_and_clicks_focus_the_pane() -> None:
    class Late(App[None]):
        def compose(self) -> ComposeResult:
            log = JobLog("job-1")
            log.write_chunk(numbered(0, 100) + "still running")
            yield Input(id="elsewhere")
            yield log

    app = Late()
    async with app.run_test(size=(100, 30)) as pilot:
        log = app.query_one(JobLog)
        assert await at_bottom(pilot, log)
        assert "still running" in screen_text(app)
        assert app.focused is app.query_one("#elsewhere")
        await pilot.click(log.lines_view)
        assert app.focused is log


async def test_title_names_the_instance_and_platform() -> None:
    app = LogHost()
    async with app.run_test(size=(100, 30)) as pilot:
        log = app.query_one(JobLog)
        log.border_title = "4 Log"
        log.show_job("ab12", "python3 train.py", where="12345 on vast")
        await pilot.pause()
        assert log.border_title == "4 Log · 12345 on vast"
        assert "4 Log · 12345 on vast" in screen_text(app)
        log.show_job("cd34", "python3 eval.py", where="pod-9 on runpod")
        assert log.border_title == "4 Log · pod-9 on runpod"
        log.show_job("ef56", "true")
        assert log.border_title == "4 Log · ef56"


async def test_the_earlier_lines_marker_shows_a_readable_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    log_path = tmp_path / ".local" / "share" / "vp-tui" / "jobs" / "ab12.log"
    app = LogHost(max_lines=100, log_path=str(log_path))
    async with app.run_test(size=(120, 30)) as pilot:
        log = app.query_one(JobLog)
        log.write_chunk(numbered(0, 1_334))
        await pilot.press("g")
        assert "… 1,234 earlier lines: ~/.local/share/vp-tui/jobs/ab12.log (o opens it)" in (
            screen_text(app)
        )
    assert readable_path("/elsewhere/x.log") == "/elsewhere/x.log"


async def test_j_k_g_and_G_move_like_a_pager() -> None:
    app = LogHost()
    async with app.run_test(size=(100, 30)) as pilot:
        log = app.query_one(JobLog)
        view = log.lines_view
        log.write_chunk(numbered(0, 300))
        await pilot.pause()
        bottom = view.scroll_y
        await pilot.press("k")
        assert not log.following
        assert view.scroll_y == bottom - 1
        await pilot.press("k", "k", "j")
        assert view.scroll_y == bottom - 2
        await pilot.press("g")
        assert view.scroll_y == 0
        assert "line 0" in screen_text(app)
        await pilot.press("G")
        assert log.following
        assert await at_bottom(pilot, log)
        log.write_chunk(numbered(300, 310))
        assert await at_bottom(pilot, log)
        assert "line 309" in screen_text(app)
        ids = {binding.id for binding in JobLog.BINDINGS if isinstance(binding, Binding)}
        assert {"log.j", "log.k", "log.top", "log.bottom", "log.copy", "log.pager"} <= ids


async def test_y_asks_the_app_to_copy_the_job_id() -> None:
    class CopyHost(LogHost):
        copied: ClassVar[list[str | None]] = []

        def action_copy_job_id(self) -> None:
            self.copied.append(self.query_one(JobLog).job_id)

    app = CopyHost()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("y")
        await pilot.pause()
        assert app.copied == ["job-7"]
