"""The job log pane: one job's output streaming live, bounded, searchable.

`JobLog` is the pane (header, output, search bar); `JobLogLines` renders the
output with Textual's line API so only visible rows cost anything; `LogBuffer`
holds the text. The pane keeps the last lines only; a search also covers the
rest of the log file, scanned in a thread (`log_search`), and a match older
than the lines kept brings the part of the file around it into the pane.
Output is cleaned once, when a line is complete: ANSI escape sequences are
stripped (colours are not rendered), tabs expanded, carriage returns
resolved the way a terminal would show a redrawn progress bar.
"""

from __future__ import annotations

import re
import subprocess
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from datetime import timedelta
from itertools import accumulate
from pathlib import Path
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events, on
from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.content import Content
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollTo, ScrollUp
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Input, Static
from textual.worker import get_current_worker

from vp_tui.core.states import JobState
from vp_tui.tui.log_search import OlderMatches, ScanReport, read_window, scan_log, search_pattern
from vp_tui.tui.pager import pager_command, readable_path

__all__ = [
    "JobHeader",
    "JobLog",
    "JobLogLines",
    "JobLogSearch",
    "LogBuffer",
    "format_elapsed",
    "strip_ansi",
]

_ANSI = re.compile(
    r"\x1b(?:"
    r"\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor movement, erase
    r"|\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC: window titles, hyperlinks
    r"|[PX^_][^\x1b]*\x1b\\"  # DCS, SOS, PM, APC strings
    r"|[ -/]*[0-~]"  # short escapes: charset selection, keypad modes
    r")"
)
_ANSI_UNFINISHED = re.compile(r"\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*|[PX^_][^\x1b]*|[ -/]*)$")
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def strip_ansi(text: str) -> str:
    """Remove terminal escape sequences (colours, cursor moves, titles) from text."""
    return _ANSI.sub("", text) if "\x1b" in text else text


def _overstrike(line: str) -> str:
    """The text a terminal shows for a line redrawn with carriage returns."""
    body = line.rstrip("\r")
    cut = body.rfind("\r")
    return body if cut < 0 else body[cut + 1 :]


def _printable(line: str) -> str:
    """The line with control characters shown as replacement characters."""
    return line if line.isprintable() else _CONTROL.sub("\ufffd", line)


def _cell_width(line: str) -> int:
    """Terminal cells the line takes once rendered."""
    return len(line) if line.isascii() else cell_len(_printable(line))


def _widest(lines: Sequence[str]) -> int:
    """The widest of some lines, in cells."""
    if not lines:
        return 0
    if all(map(str.isascii, lines)):
        return max(map(len, lines))
    return max(map(_cell_width, lines))


class LogBuffer:
    """The last `max_lines` complete lines of a stream, plus its unfinished last line.

    Lines have absolute indices counted from the start of the stream (or the
    last `clear`), so an index stays valid while older lines are dropped.
    """

    def __init__(self, max_lines: int = 10_000, max_line_length: int = 4_096) -> None:
        self.max_lines = max_lines
        """Complete lines kept; older ones are dropped by `trim`."""
        self.max_line_length = max_line_length
        """Longer lines are broken into pieces of this many characters."""
        self.lines: list[str] = []
        """The complete lines kept, oldest first, already cleaned."""
        self.dropped = 0
        """Complete lines dropped from the front: the absolute index of `lines[0]`."""
        self._raw_partial = ""
        self._partial: str | None = ""

    @property
    def total(self) -> int:
        """Complete lines seen so far, kept or dropped (the index of the unfinished line)."""
        return self.dropped + len(self.lines)

    @property
    def partial(self) -> str:
        """The unfinished last line as it should be shown ("" when there is none)."""
        if self._partial is None:
            raw = self._raw_partial
            if "\x1b" in raw:
                raw = strip_ansi(_ANSI_UNFINISHED.sub("", raw))
            if "\t" in raw:
                raw = raw.expandtabs()
            self._partial = _overstrike(raw)
        return self._partial

    def line(self, index: int) -> str:
        """The line at an absolute index; the unfinished line at `total`."""
        if index == self.total:
            return self.partial
        return self.lines[index - self.dropped]

    def feed(self, data: str) -> list[str]:
        """Add raw output that may start or end mid-line; return the lines it completed."""
        if not data:
            return []
        text = self._raw_partial + data
        self._partial = None
        end = text.rfind("\n")
        if end < 0:
            self._raw_partial = self._bound_partial(text)
            return self._take_overflow()
        complete, self._raw_partial = text[:end], self._bound_partial(text[end + 1 :])
        new = self._clean(complete)
        self.lines.extend(new)
        overflow = self._take_overflow()
        return new + overflow if overflow else new

    def add_lines(self, lines: Iterable[str]) -> list[str]:
        """Add whole lines (an unfinished line from `feed` is ended first)."""
        items = [line.rstrip("\n") for line in lines]
        if not items:
            return []
        ended = self.feed("\n") if self._raw_partial else []
        return ended + self.feed("\n".join(items) + "\n")

    def trim(self) -> int:
        """Drop the oldest lines beyond `max_lines`; return how many were dropped."""
        excess = len(self.lines) - max(0, self.max_lines)
        if excess <= 0:
            return 0
        del self.lines[:excess]
        self.dropped += excess
        return excess

    def clear(self) -> None:
        """Forget everything, including the count of dropped lines."""
        self.lines.clear()
        self.dropped = 0
        self._raw_partial = ""
        self._partial = ""

    def _clean(self, complete: str) -> list[str]:
        """Split finished output into display lines."""
        if "\x1b" in complete:
            complete = _ANSI.sub("", complete)
        if "\t" in complete:
            complete = complete.expandtabs()
        lines = complete.split("\n")
        if "\r" in complete:
            lines = [_overstrike(line) if "\r" in line else line for line in lines]
        limit = self.max_line_length
        if max(map(len, lines)) > limit:
            lines = [
                piece
                for line in lines
                for piece in (
                    [line[i : i + limit] for i in range(0, len(line), limit)]
                    if len(line) > limit
                    else [line]
                )
            ]
        return lines

    def _bound_partial(self, raw: str) -> str:
        """Collapse carriage-return redraws so an unfinished line cannot grow forever."""
        body = raw.rstrip("\r")
        cut = body.rfind("\r")
        return raw if cut < 0 else raw[cut + 1 :]

    def _take_overflow(self) -> list[str]:
        """Break an unfinished line longer than the limit into complete lines."""
        limit = self.max_line_length
        raw = self._raw_partial
        if len(raw) <= limit:
            return []
        keep = len(raw) % limit or limit
        head, self._raw_partial = raw[:-keep], raw[-keep:]
        self._partial = None
        pieces = self._clean("\n".join(head[i : i + limit] for i in range(0, len(head), limit)))
        self.lines.extend(pieces)
        return pieces


class JobLogLines(ScrollView, can_focus=False):
    """The rows of a job's output: only visible rows are rendered.

    Part of `JobLog`, which owns the state (following, wrap, search) and the
    keys; this widget keeps the text, the wrap map and the search matches.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "job-log--match",
        "job-log--current-match",
        "job-log--notice",
    }

    DEFAULT_CSS = """
    JobLogLines {
        height: 1fr;
        overflow-y: scroll;
        overflow-x: auto;
        background: $surface;
        color: $foreground;
        &.-wrap {
            overflow-x: hidden;
        }
        & > .job-log--match {
            background: $warning-muted;
        }
        & > .job-log--current-match {
            background: $accent;
            color: $text;
            text-style: bold;
        }
        & > .job-log--notice {
            color: $text-muted;
            text-style: italic;
        }
    }
    """

    def __init__(self, owner: JobLog, max_lines: int) -> None:
        super().__init__()
        self._owner = owner
        self.live = LogBuffer(max_lines)
        """The last lines of the job, as they arrive."""
        self.buffer = self.live
        """The text shown: `live`, or a window of older lines read from the log file."""
        self.earlier_in_file = False
        """The log file holds lines before the first one that arrived (the tail began late)."""
        self.current_match: int | None = None
        """Absolute index of the line the last n/N jump went to."""
        self._max_width = 0
        self._wrap = False
        self._wrap_width = 0
        self._row_ends: list[int] = []
        self._row_base = 0
        self._pattern: re.Pattern[str] | None = None
        self._matches: list[int] = []
        self._cache: LRUCache[tuple[int, bool, int], tuple[Strip, ...]] = LRUCache(2048)
        self._scrolling = False
        self._base_style = Style()
        self._match_style = Style()
        self._current_style = Style()
        self._notice_style = Style()

    # -- writing --------------------------------------------------------

    def write_chunk(self, data: str) -> None:
        """Append raw output; see `JobLog.write_chunk`."""
        if data:
            self._append(self.live.feed(data))

    def write_lines(self, lines: Iterable[str]) -> None:
        """Append whole lines; see `JobLog.write_lines`."""
        self._append(self.live.add_lines(lines))

    @property
    def is_live(self) -> bool:
        """The live tail is shown (not a window of older lines)."""
        return self.buffer is self.live

    def clear(self) -> None:
        """Forget all output."""
        self.live.clear()
        self.buffer = self.live
        self.earlier_in_file = False
        self._max_width = 0
        self._row_ends.clear()
        self._row_base = 0
        self._matches.clear()
        self.current_match = None
        self._cache.clear()
        self._update_virtual_size()
        self._scroll(0)
        self.refresh()

    def _append(self, new: list[str]) -> None:
        """Take in lines just added to the buffer (and a changed unfinished line)."""
        if self.buffer is not self.live:
            self._append_unseen(new)
            return
        anchor = None if self._owner.following else self._top_anchor()
        buffer = self.buffer
        if new:
            self._max_width = max(self._max_width, _widest(new))
            if self._wrap_width:
                self._row_ends.extend(
                    accumulate(
                        map(self._rows_of, new),
                        initial=self._row_ends[-1] if self._row_ends else self._row_base,
                    )
                )
                del self._row_ends[-len(new) - 1]
            if self._pattern is not None:
                search = self._pattern.search
                first = buffer.total - len(new)
                self._matches.extend(index for index, line in enumerate(new, first) if search(line))
            removed = buffer.trim()
            if removed:
                self._forget(removed)
        self._update_virtual_size()
        if self._owner.following:
            self.scroll_to_end()
        elif anchor is not None:
            self._restore_anchor(anchor)
        self.refresh()
        self._owner.update_subtitle()

    def _append_unseen(self, new: list[str]) -> None:
        """Take in new live lines while a window of older lines is shown."""
        live = self.live
        if new:
            if self._pattern is not None:
                search = self._pattern.search
                first = live.total - len(new)
                self._matches.extend(index for index, line in enumerate(new, first) if search(line))
            if live.trim():
                self._forget_matches()
        self._owner.update_subtitle()

    def _forget(self, removed: int) -> None:
        """Drop what refers to lines the buffer just dropped."""
        if self._row_ends:
            self._row_base = self._row_ends[removed - 1]
            del self._row_ends[:removed]
        self._forget_matches()
        if self.current_match is not None and self.current_match < self.buffer.dropped:
            self.current_match = None

    def _forget_matches(self) -> None:
        """Hand the matches in lines the live buffer dropped to the whole-log search."""
        if self._matches:
            cut = bisect_left(self._matches, self.live.dropped)
            if cut:
                self._owner.matches_dropped(self._matches[:cut])
                del self._matches[:cut]

    # -- rows -----------------------------------------------------------

    @property
    def _notice_rows(self) -> int:
        buffer = self.buffer
        return 1 if buffer.dropped or (self.earlier_in_file and buffer is self.live) else 0

    @property
    def row_count(self) -> int:
        """Visual rows of the whole content (wrapped rows counted when wrapping)."""
        buffer = self.buffer
        partial = buffer.partial
        if not self._wrap_width:
            return self._notice_rows + len(buffer.lines) + (1 if partial else 0)
        complete = (self._row_ends[-1] - self._row_base) if self._row_ends else 0
        return self._notice_rows + complete + (self._rows_of(partial) if partial else 0)

    def _rows_of(self, line: str) -> int:
        width = _cell_width(line)
        return 1 if width <= self._wrap_width else -(-width // self._wrap_width)

    def line_row(self, index: int) -> int:
        """The first visual row of the line at an absolute index."""
        offset = index - self.buffer.dropped
        if not self._wrap_width:
            return self._notice_rows + offset
        start = self._row_ends[offset - 1] if offset > 0 else self._row_base
        return self._notice_rows + start - self._row_base

    def row_line(self, row: int) -> tuple[int, int]:
        """The (absolute line index, row within the line) at a visual row; -1 is the notice."""
        row -= self._notice_rows
        if row < 0:
            return -1, 0
        dropped = self.buffer.dropped
        if not self._wrap_width:
            return dropped + row, 0
        target = row + self._row_base
        offset = bisect_right(self._row_ends, target)
        start = self._row_ends[offset - 1] if offset else self._row_base
        return dropped + offset, target - start

    def _top_anchor(self) -> tuple[int, int]:
        return self.row_line(round(self.scroll_y))

    def _restore_anchor(self, anchor: tuple[int, int]) -> None:
        index, sub = anchor
        if index < self.buffer.dropped:
            self._scroll(0)
        else:
            self._scroll(self.line_row(index) + sub)

    def _update_virtual_size(self) -> None:
        if self._wrap_width:
            self.virtual_size = Size(self._wrap_width, self.row_count)
        else:
            partial = _cell_width(self.buffer.partial)
            self.virtual_size = Size(max(self._max_width, partial), self.row_count)

    def set_earlier_in_file(self, earlier: bool) -> None:
        """Say whether the log file holds lines before the first live one (a row says so)."""
        self.earlier_in_file = earlier
        self._update_virtual_size()
        self.refresh()

    def show_buffer(self, buffer: LogBuffer) -> None:
        """Show other text (a window of older lines, or the live tail again)."""
        self.buffer = buffer
        self.current_match = None
        self._max_width = _widest(buffer.lines)
        self._rebuild_rows()
        self._update_virtual_size()
        self.scroll_to(x=0, animate=False, immediate=True)
        self.scroll_to_end()
        self.refresh()

    def _rebuild_rows(self) -> None:
        """Map lines to visual rows for the current width (no-op when not wrapping)."""
        width = self.scrollable_content_region.width if self._wrap else 0
        self._wrap_width = max(0, width)
        self._row_base = 0
        if self._wrap_width:
            self._row_ends = list(accumulate(map(self._rows_of, self.buffer.lines)))
        else:
            self._row_ends = []
        self._cache.clear()

    def set_wrap(self, wrap: bool) -> None:
        """Turn soft wrapping on or off, keeping the top line in view."""
        anchor = self._top_anchor()
        self._wrap = wrap
        self.set_class(wrap, "-wrap")
        self._rebuild_rows()
        self._update_virtual_size()
        if wrap:
            self.scroll_to(x=0, animate=False, immediate=True)
        self._follow_or_restore((anchor[0], 0))
        self.refresh()

    def _follow_or_restore(self, anchor: tuple[int, int]) -> None:
        if self._owner.following:
            self.scroll_to_end()
        else:
            self._restore_anchor(anchor)

    def on_resize(self, event: events.Resize) -> None:
        """Re-wrap for the new width and keep following."""
        anchor = self._top_anchor()
        if self._wrap and self.scrollable_content_region.width != self._wrap_width:
            self._rebuild_rows()
            self._update_virtual_size()
            anchor = (anchor[0], 0)
        self._follow_or_restore(anchor)

    # -- scrolling and following -----------------------------------------

    def _scroll(self, y: int) -> None:
        """Scroll without it counting as the user's doing."""
        if not self.is_mounted:
            return
        self._scrolling = True
        try:
            self.scroll_to(y=y, animate=False, immediate=True, force=True)
        finally:
            self._scrolling = False

    def scroll_to_end(self) -> None:
        """Show the last rows."""
        self._scroll(self.max_scroll_y)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """Reaching the bottom by scrolling resumes following."""
        super().watch_scroll_y(old_value, new_value)
        if (
            not self._scrolling
            and self.buffer is self.live
            and new_value > old_value
            and new_value >= self.max_scroll_y
            and not self._owner.following
        ):
            self._owner.following = True

    def watch_show_horizontal_scrollbar(self, show: bool) -> None:
        """A scrollbar that comes or goes moves the bottom: keep the last row in view."""
        if self._owner.following:
            self.scroll_to_end()

    def stop_following(self) -> None:
        """The user moved up: stop following when there is anything to scroll."""
        if self.max_scroll_y > 0:
            self._owner.following = False

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        """Wheel up stops following."""
        self.stop_following()

    @on(ScrollUp)
    def _scrollbar_up(self, event: ScrollUp) -> None:
        self.stop_following()

    @on(ScrollTo)
    def _scrollbar_to(self, event: ScrollTo) -> None:
        if event.y is not None and event.y < self.max_scroll_y:
            self.stop_following()

    # -- search -----------------------------------------------------------

    def set_search(self, pattern: re.Pattern[str] | None) -> None:
        """Highlight what ``pattern`` matches (None for nothing) and list the live matches."""
        self._pattern = pattern
        self.current_match = None
        if pattern is None:
            self._matches = []
        else:
            search = pattern.search
            live = self.live
            self._matches = [
                index for index, line in enumerate(live.lines, live.dropped) if search(line)
            ]
        self._cache.clear()
        self.refresh()

    def live_matches(self) -> list[int]:
        """Absolute indices of the live lines that match, the unfinished line included."""
        partial = self.live.partial
        if self._pattern is not None and partial and self._pattern.search(partial):
            return [*self._matches, self.live.total]
        return self._matches

    @property
    def match_count(self) -> int:
        """How many live lines held in memory match the search."""
        return len(self.live_matches())

    @property
    def match_position(self) -> int | None:
        """1-based position of the current match among the live matches, if it is one."""
        if self.current_match is None or self.buffer is not self.live:
            return None
        matches = self.live_matches()
        position = bisect_left(matches, self.current_match)
        if position < len(matches) and matches[position] == self.current_match:
            return position + 1
        return None

    def first_live_match(self, direction: int) -> int | None:
        """With no current match: the first live match from the view's top down (+1), or
        the last from its bottom up (-1); None when there is none that way."""
        matches = self.live_matches()
        if direction > 0:
            top = max(self.live.dropped, self._top_anchor()[0])
            position = bisect_left(matches, top)
            return matches[position] if position < len(matches) else None
        bottom_row = round(self.scroll_y) + self.scrollable_content_region.height - 1
        position = bisect_right(matches, self.row_line(bottom_row)[0]) - 1
        return matches[position] if position >= 0 else None

    def go_to(self, index: int) -> None:
        """Make the line at an absolute index of the text shown the current match, centred."""
        buffer = self.buffer
        index = max(buffer.dropped, min(index, buffer.total))
        self.current_match = index
        self._owner.following = False
        self._scroll(self.line_row(index) - self.scrollable_content_region.height // 2)
        self.refresh()

    # -- rendering --------------------------------------------------------

    def notify_style_update(self) -> None:
        """Styles (theme) changed: rendered rows are stale."""
        super().notify_style_update()
        self._cache.clear()

    def render_lines(self, crop: Region) -> list[Strip]:
        """Resolve the styles once per paint, then render the visible rows."""
        base = self.rich_style
        self._base_style = base
        self._match_style = base + self.get_component_rich_style("job-log--match")
        self._current_style = base + self.get_component_rich_style("job-log--current-match")
        self._notice_style = base + self.get_component_rich_style("job-log--notice")
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        """One visible row."""
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        base = self._base_style
        index, sub = self.row_line(scroll_y + y)
        buffer = self.buffer
        if index < 0:
            notice = self._owner.notice_text(buffer)
            return Strip([Segment(notice, self._notice_style)]).crop_extend(0, width, base)
        if index > buffer.total or (index == buffer.total and not buffer.partial):
            return Strip.blank(width, base)
        rows = self._line_rows(index)
        if self._wrap_width:
            return rows[sub] if sub < len(rows) else Strip.blank(width, base)
        return rows[0].crop_extend(scroll_x, scroll_x + width, base)

    def _line_rows(self, index: int) -> tuple[Strip, ...]:
        """The rendered rows of one line (one row unless wrapping)."""
        is_current = index == self.current_match
        key = (index, is_current, self._wrap_width)
        buffer = self.buffer
        cacheable = index < buffer.total
        if cacheable and (rows := self._cache.get(key)) is not None:
            return rows
        text = _printable(buffer.line(index))
        base = self._base_style
        segments: list[Segment] = []
        if self._pattern is not None:
            style = self._current_style if is_current else self._match_style
            position = 0
            for match in self._pattern.finditer(text):
                start, end = match.span()
                if start > position:
                    segments.append(Segment(text[position:start], base))
                segments.append(Segment(text[start:end], style))
                position = end
            if position < len(text):
                segments.append(Segment(text[position:], base))
        else:
            segments.append(Segment(text, base))
        length = len(text) if text.isascii() else cell_len(text)
        strip = Strip(segments, length)
        wrap = self._wrap_width
        if wrap and length > wrap:
            cuts = [*range(wrap, length, wrap), length]
            rows = tuple(row.extend_cell_length(wrap, base) for row in strip.divide(cuts))
        elif wrap:
            rows = (strip.extend_cell_length(wrap, base),)
        else:
            rows = (strip,)
        if cacheable:
            self._cache[key] = rows
        return rows


class JobLogSearch(Input):
    """The search bar at the bottom of a job log: enter searches, escape closes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close search", id="log.search.close"),
    ]

    class Closed(Message):
        """The user closed the search bar without searching."""

    def action_close(self) -> None:
        """Close the bar, keeping the previous search."""
        self.post_message(self.Closed())


_STATE_STYLES: dict[str, str] = {
    JobState.PENDING: "$text-warning",
    JobState.SYNCING: "$text-warning",
    JobState.RUNNING: "$text-accent",
    JobState.PULLING: "$text-warning",
    JobState.SUCCEEDED: "$text-success",
    JobState.FAILED: "$text-error",
    JobState.CANCELED: "$text-warning",
    JobState.LOST: "$text-error",
}


def format_elapsed(elapsed: float | timedelta | None) -> str:
    """Elapsed time as m:ss or h:mm:ss ("-" when unknown)."""
    if elapsed is None:
        return "-"
    seconds = int(elapsed.total_seconds() if isinstance(elapsed, timedelta) else elapsed)
    hours, rest = divmod(max(0, seconds), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{seconds:02}" if hours else f"{minutes}:{seconds:02}"


class JobHeader(Static):
    """One line about a job: state, elapsed time, exit code and command."""

    DEFAULT_CSS = """
    JobHeader {
        height: 1;
        padding: 0 1;
        background: $panel;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    note: str = ""
    """Said first, in a warning colour (e.g. that an older part of the log is shown)."""
    _facts: tuple[str, JobState | str | None, float | timedelta | None, int | None] = (
        "",
        None,
        None,
        None,
    )

    def set_note(self, note: str) -> None:
        """Say ``note`` before the job's facts ("" for nothing)."""
        if note != self.note:
            self.note = note
            self.update_job(*self._facts)

    def update_job(
        self,
        command: str,
        state: JobState | str | None = None,
        elapsed: float | timedelta | None = None,
        exit_code: int | None = None,
    ) -> None:
        """Show a job's current facts."""
        self._facts = (command, state, elapsed, exit_code)
        state_text = str(state) if state else "-"
        if exit_code is None:
            exit_part: tuple[str, str] = ("-", "$text-muted")
        else:
            exit_part = (str(exit_code), "$text-success" if exit_code == 0 else "$text-error")
        note: list[str | tuple[str, str]] = (
            [(self.note, "bold $text-warning"), "  "] if self.note else []
        )
        self.update(
            Content.assemble(
                *note,
                (state_text, f"bold {_STATE_STYLES.get(state_text, '$text-muted')}"),
                "  ",
                (format_elapsed(elapsed), ""),
                ("  exit ", "$text-muted"),
                exit_part,
                ("  $ ", "$text-muted"),
                command,
            )
        )


class _ScanReported(Message, bubble=False):
    """A scan of the log file found more (posted by its thread)."""

    def __init__(self, token: int, report: ScanReport) -> None:
        super().__init__()
        self.token = token
        self.report = report


class _WindowLoaded(Message, bubble=False):
    """An older part of the log file was read (posted by its thread)."""

    def __init__(self, token: int, first: int, text: str, lines: int, target: int) -> None:
        super().__init__()
        self.token = token
        self.first = first
        self.text = text
        self.lines = lines
        self.target = target


class JobLog(Widget, can_focus=True):
    """Streaming output of one job: bounded, searchable, follows the tail until you scroll up."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "toggle_follow", "Follow", id="log.follow"),
        Binding("end", "follow_end", "End", id="log.end"),
        Binding("slash", "open_search", "Search", key_display="/", id="log.search"),
        Binding("n", "next_match", "Next match", id="log.next"),
        Binding("N", "prev_match", "Prev match", show=False, id="log.prev"),
        Binding("w", "toggle_wrap", "Wrap", id="log.wrap"),
        Binding("c", "cancel_job", "Cancel job", id="log.cancel"),
        Binding("up", "scroll_up", "Scroll up", show=False, id="log.up"),
        Binding("down", "scroll_down", "Scroll down", show=False, id="log.down"),
        Binding("pageup", "page_up", "Page up", show=False, id="log.page_up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="log.page_down"),
        Binding("home", "scroll_home", "Top", show=False, id="log.home"),
        Binding("j", "scroll_down", "Down", show=False, id="log.j"),
        Binding("k", "scroll_up", "Up", show=False, id="log.k"),
        Binding("g", "scroll_home", "Top", show=False, id="log.top"),
        Binding("G", "follow_end", "Bottom", show=False, id="log.bottom"),
        Binding("y", "app.copy_job_id", "Copy job id", id="log.copy"),
        Binding("o", "open_pager", "Pager", id="log.pager"),
        Binding("left", "scroll_left", "Scroll left", show=False, id="log.left"),
        Binding("right", "scroll_right", "Scroll right", show=False, id="log.right"),
    ]

    DEFAULT_CSS = """
    JobLog {
        height: 1fr;
        border: round $border-blurred;
        border-subtitle-align: right;
        border-subtitle-color: $text-muted;
        &:focus-within {
            border: round $border;
        }
        & > JobHeader {
            dock: top;
        }
        & > JobLogSearch {
            dock: bottom;
            display: none;
        }
    }
    """

    following: reactive[bool] = reactive(True, init=False)
    """Keep the last line in view as output arrives."""
    wrap: reactive[bool] = reactive(False, init=False)
    """Soft-wrap long lines instead of scrolling sideways."""
    search: reactive[str] = reactive("", init=False)
    """Text highlighted in the output (case-insensitive); "" for none."""

    class CancelRequested(Message):
        """The user asked to cancel the job shown; the app confirms, then cancels."""

        def __init__(self, job_log: JobLog, job_id: str) -> None:
            super().__init__()
            self.job_log = job_log
            self.job_id = job_id

        @property
        def control(self) -> JobLog:
            """The log the request came from."""
            return self.job_log

    def __init__(
        self,
        job_id: str | None = None,
        *,
        max_lines: int = 10_000,
        log_path: str | Path | None = None,
        show_header: bool = True,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self.job_id = job_id
        """The job shown (what `c` asks to cancel)."""
        self.log_path = log_path
        """Where the full log is on disk, named when older lines are dropped."""
        self.header: JobHeader | None = JobHeader() if show_header else None
        """The line above the output, unless the app shows its own."""
        self.lines_view = JobLogLines(self, max_lines)
        """The output rows."""
        self.search_input = JobLogSearch(
            placeholder="search (enter: find, esc: close)", compact=True
        )
        """The search bar, shown by `/`."""
        self._command = ""
        self._subtitle: tuple[object, ...] = ()
        self._title_prefix: str | None = None
        self._origin_offset = 0
        self.origin_line: int | None = 0
        """The file line the first live line is (None until the file has been counted)."""
        self._checkpoints: list[tuple[int, int]] = []
        self._older: OlderMatches | None = None
        self._older_current: int | None = None
        self._scan_token = 0
        self._window_token = 0

    def compose(self) -> ComposeResult:
        """Header, output, and the (hidden) search bar."""
        if self.header is not None:
            yield self.header
        yield self.lines_view
        yield self.search_input

    def on_mount(self) -> None:
        """Apply what was set before mounting; show the follow state."""
        self.set_class(self.following, "-following")
        if self.wrap:
            self.lines_view.set_wrap(True)
        if self.search:
            self._apply_search(self.search)
        self.update_subtitle()

    # -- the app's side ---------------------------------------------------

    @property
    def max_lines(self) -> int:
        """Lines kept in memory; the full log stays on disk."""
        return self.lines_view.buffer.max_lines

    @max_lines.setter
    def max_lines(self, value: int) -> None:
        self.lines_view.buffer.max_lines = value

    @property
    def lines(self) -> Sequence[str]:
        """The complete lines held in memory (read only)."""
        return self.lines_view.buffer.lines

    @property
    def partial_line(self) -> str:
        """The unfinished last line, shown below the complete ones."""
        return self.lines_view.buffer.partial

    @property
    def dropped_lines(self) -> int:
        """Lines no longer in memory (still in the log file)."""
        return self.lines_view.buffer.dropped

    @property
    def match_count(self) -> int:
        """Lines of the whole log that match the search (as far as it has been searched)."""
        older = self._older
        return self.lines_view.match_count + (older.count(self.origin_line) if older else 0)

    @property
    def current_match(self) -> int | None:
        """Absolute index of the matching line n/N went to last (a file line in an older part)."""
        return self.lines_view.current_match

    @property
    def match_position(self) -> int | None:
        """1-based position of the current match among all, as in "match 3 of 17"."""
        older = self._older
        if self._older_current is not None and older is not None:
            position = older.position(self._older_current, self.origin_line)
            return None if position is None else position + 1
        live_position = self.lines_view.match_position
        if live_position is None:
            return None
        return live_position + (older.count(self.origin_line) if older else 0)

    @property
    def searching(self) -> bool:
        """The whole log file is still being searched."""
        return self._older is not None and self._older.scanning

    @property
    def older_part(self) -> tuple[int, int] | None:
        """The file lines (first, last + 1) of the older part shown, when one is."""
        view = self.lines_view
        if view.is_live:
            return None
        return view.buffer.dropped, view.buffer.total

    @property
    def total_lines(self) -> int | None:
        """Complete lines in the log file as far as known (None before it is counted)."""
        if self.origin_line is None:
            return None
        return self.origin_line + self.lines_view.live.total

    def set_log_origin(self, offset: int) -> None:
        """The live lines start at byte ``offset`` of the log file (where tailing began).

        Lines before it are still searched and counted, from the file.
        """
        self._origin_offset = max(0, offset)
        self.origin_line = 0 if offset <= 0 else None
        self.lines_view.set_earlier_in_file(offset > 0)
        if self.search:
            self._apply_search(self.search)  # search again, from the new origin
        elif offset > 0:
            self._start_scan("")

    def write_chunk(self, data: str) -> None:
        """Append raw output that may end mid-line; the next chunk completes that line.

        Call once per batch: the pane repaints once, however many lines came.
        """
        self.lines_view.write_chunk(data)

    def write_lines(self, lines: Iterable[str]) -> None:
        """Append whole lines (without their line endings)."""
        self.lines_view.write_lines(lines)

    def clear(self) -> None:
        """Remove all output."""
        self._older_current = None
        self._origin_offset = 0
        self.origin_line = 0
        self._checkpoints = []
        self._scan_token += 1
        self._window_token += 1
        if self.is_mounted:
            self.workers.cancel_node(self)
        if self._older is not None:
            self._older = OlderMatches(scanning=False)
        self.lines_view.clear()
        self._show_note()
        self.update_subtitle()

    def show_job(
        self,
        job_id: str,
        command: str = "",
        *,
        log_path: str | Path | None = None,
        state: JobState | str | None = None,
        elapsed: float | timedelta | None = None,
        exit_code: int | None = None,
        where: str = "",
    ) -> None:
        """Switch to another job: clear the output and the search, follow, fill the header.

        ``where`` names the job's instance and platform in the pane's title
        ("12345 on vast").
        """
        self.job_id = job_id
        self.log_path = log_path
        self._command = command
        self.clear()
        self.search = ""
        self.search_input.value = ""
        if self.search_input.display:
            self._close_search()
        self.following = True
        self.update_job(state=state, elapsed=elapsed, exit_code=exit_code)
        if self._title_prefix is None:
            self._title_prefix = str(self.border_title or "Log")
        self.border_title = f"{self._title_prefix} · {where or job_id}"

    def update_job(
        self,
        *,
        state: JobState | str | None = None,
        elapsed: float | timedelta | None = None,
        exit_code: int | None = None,
        command: str | None = None,
    ) -> None:
        """Refresh the header line of the job shown."""
        if command is not None:
            self._command = command
        if self.header is not None:
            self.header.update_job(self._command, state, elapsed, exit_code)

    def update_subtitle(self) -> None:
        """Show the search, the match position and the follow state on the border."""
        older_part = not self.lines_view.is_live
        facts = (
            self.search,
            self.match_position,
            self.match_count,
            self.searching,
            self.following,
            older_part,
        )
        if facts == self._subtitle:
            return
        self._subtitle = facts
        search, position, count, searching = facts[:4]
        parts: list[str | tuple[str, str]] = []
        if search:
            parts.append((f"/{search} ", "$text-muted"))
            if position is not None:
                parts.append(f"match {position:,} of {count:,}")
            else:
                parts.append(f"{count:,} match{'' if count == 1 else 'es'}")
            if searching:
                parts.append((" (searching the log…)", "$text-muted"))
            parts.append(" · ")
        if older_part:
            parts.append(("older part", "$text-warning"))
        else:
            parts.append("following" if self.following else ("paused", "$text-warning"))
        self.border_subtitle = Content.assemble(*parts)

    def notice_text(self, buffer: LogBuffer) -> str:
        """The row above the text shown when the log file holds earlier lines."""
        if buffer is self.lines_view.live:
            known = self.origin_line
            earlier = None if known is None else known + buffer.dropped
        else:
            earlier = buffer.dropped
        count = "earlier lines" if earlier is None else f"{earlier:,} earlier lines"
        if not self.log_path:
            return f"… {count} not shown"
        return f"… {count}: {readable_path(self.log_path)} (o opens it)"

    def matches_dropped(self, indices: list[int]) -> None:
        """Live matches the pane no longer holds: the whole-log search keeps them."""
        if self._older is not None:
            self._older.dropped.extend(indices)

    def _show_note(self) -> None:
        """Say in the header which part of the log is shown, when it is an older one."""
        part = self.older_part
        note = ""
        if part is not None:
            first, end = part
            total = self.total_lines
            of = f" of {total:,}" if total is not None else ""
            note = f"lines {first + 1:,}-{end:,}{of} (older part; G: back to the tail)"
        if self.header is not None:
            self.header.set_note(note)

    # -- reactives --------------------------------------------------------

    def watch_following(self, following: bool) -> None:
        """Jump to the bottom (of the live tail) when following starts."""
        self.set_class(following, "-following")
        if following:
            if not self.lines_view.is_live:
                self._back_to_tail()
            self.lines_view.scroll_to_end()
        self.update_subtitle()

    def watch_wrap(self, wrap: bool) -> None:
        """Re-lay the output for the new wrap mode."""
        self.lines_view.set_wrap(wrap)

    def watch_search(self, search: str) -> None:
        """Recompute the matches, in memory at once and in the whole log file behind."""
        self._apply_search(search)
        self.update_subtitle()

    # -- the whole log ------------------------------------------------------

    def _apply_search(self, search: str) -> None:
        """Match ``search`` in the lines held, and start searching the file for the rest."""
        if not self.lines_view.is_live:
            self._back_to_tail()
        pattern = search_pattern(search) if search else None
        self.lines_view.set_search(pattern)
        self._older_current = None
        self._older = None
        if pattern is not None and self.log_path:
            self._older = OlderMatches()
            self._start_scan(search)
        elif self.origin_line is None and self.log_path:
            self._start_scan("")
        else:
            self._scan_token += 1
            if self.is_mounted:
                self.workers.cancel_group(self, "log-scan")

    def _start_scan(self, search: str) -> None:
        """Scan the log file in a thread: count the lines before the live ones, and find
        the lines holding ``search`` ("" to only count)."""
        if not self.log_path or not self.is_mounted:
            if self._older is not None:
                self._older.scanning = False
            return
        self._scan_token += 1
        token = self._scan_token
        path = Path(self.log_path)
        origin = self._origin_offset
        after = self.lines_view.live.dropped

        def report(found: ScanReport) -> None:
            self.post_message(_ScanReported(token, found))

        def scan() -> None:
            worker = get_current_worker()
            scan_log(
                path,
                search,
                origin_offset=origin,
                lines_after_origin=after,
                cancelled=lambda: worker.is_cancelled,
                report=report,
            )

        self.run_worker(
            scan,
            name="log scan",
            group="log-scan",
            thread=True,
            exclusive=True,
            exit_on_error=False,
        )

    @on(_ScanReported)
    def _scan_reported(self, message: _ScanReported) -> None:
        message.stop()
        if message.token != self._scan_token:
            return  # a scan for an earlier search or job
        report = message.report
        if report.origin_line is not None and self.origin_line is None:
            self.origin_line = report.origin_line
            self.lines_view.refresh()
        last = self._checkpoints[-1][0] if self._checkpoints else -1
        self._checkpoints.extend(point for point in report.checkpoints if point[0] > last)
        if self._older is not None:
            self._older.found.extend(report.matches)
            if report.done:
                self._older.scanning = False
        self.update_subtitle()

    def _show_older(self, line: int) -> None:
        """Show the older file line ``line`` (a match), loading the part of the file around it."""
        self._older_current = line
        self.following = False
        part = self.older_part
        if part is not None and part[0] <= line < part[1]:
            self.lines_view.go_to(line)
            return
        if not self.log_path:
            return
        self._window_token += 1
        token = self._window_token
        count = max(1, self.max_lines)
        first = max(0, line - count // 2)
        path = Path(self.log_path)
        checkpoints = list(self._checkpoints)

        def load() -> None:
            try:
                text, lines = read_window(path, first, count, checkpoints)
            except OSError:
                text, lines = "", 0
            self.post_message(_WindowLoaded(token, first, text, lines, line))

        self.run_worker(
            load,
            name="log window",
            group="log-window",
            thread=True,
            exclusive=True,
            exit_on_error=False,
        )

    @on(_WindowLoaded)
    def _window_loaded(self, message: _WindowLoaded) -> None:
        message.stop()
        if message.token != self._window_token or self._older_current != message.target:
            return
        if not message.lines:
            self.app.bell()
            return
        window = LogBuffer(
            max_lines=message.lines, max_line_length=self.lines_view.live.max_line_length
        )
        window.dropped = message.first
        window.feed(message.text)
        self.lines_view.show_buffer(window)
        self.lines_view.go_to(message.target)
        self._show_note()
        self.update_subtitle()

    def _back_to_tail(self) -> None:
        """Leave an older part of the log for the live tail."""
        self._older_current = None
        self._window_token += 1
        self.lines_view.show_buffer(self.lines_view.live)
        self._show_note()

    # -- actions ----------------------------------------------------------

    def action_toggle_follow(self) -> None:
        """Follow the tail, or stop following it."""
        self.following = not self.following

    def action_follow_end(self) -> None:
        """Go to the bottom and follow from there."""
        self.following = True
        self.lines_view.scroll_to_end()

    def action_open_search(self) -> None:
        """Show the search bar with the current search."""
        search_input = self.search_input
        search_input.value = self.search
        search_input.display = True
        search_input.focus()

    def action_next_match(self) -> None:
        """Go to the next matching line."""
        self._jump(+1)

    def action_prev_match(self) -> None:
        """Go to the previous matching line."""
        self._jump(-1)

    def action_toggle_wrap(self) -> None:
        """Wrap long lines, or stop wrapping them."""
        self.wrap = not self.wrap

    def action_cancel_job(self) -> None:
        """Ask the app to cancel the job shown (it confirms first)."""
        if self.job_id is None:
            self.app.bell()
            return
        self.post_message(self.CancelRequested(self, self.job_id))

    def action_scroll_up(self) -> None:
        """Scroll up a row (stops following)."""
        self.lines_view.stop_following()
        self.lines_view.scroll_up(animate=False)

    def action_scroll_down(self) -> None:
        """Scroll down a row (following resumes at the bottom)."""
        self.lines_view.scroll_down(animate=False)

    def action_page_up(self) -> None:
        """Scroll up a page (stops following)."""
        self.lines_view.stop_following()
        self.lines_view.scroll_page_up(animate=False)

    def action_page_down(self) -> None:
        """Scroll down a page (following resumes at the bottom)."""
        self.lines_view.scroll_page_down(animate=False)

    def action_scroll_home(self) -> None:
        """Go to the oldest line in memory (stops following)."""
        self.lines_view.stop_following()
        self.lines_view.scroll_home(animate=False)

    def action_scroll_left(self) -> None:
        """Scroll left (when not wrapping)."""
        self.lines_view.scroll_left(animate=False)

    def action_scroll_right(self) -> None:
        """Scroll right (when not wrapping)."""
        self.lines_view.scroll_right(animate=False)

    def action_open_pager(self) -> None:
        """Open the whole log in ``$PAGER`` (``less -R`` by default); the app waits meanwhile."""
        path = self.log_path
        if not path or not Path(path).is_file():
            self.notify(
                "This job has no log file yet.", title="Pager", severity="warning", markup=False
            )
            return
        argv = pager_command(str(path))
        if argv is None:
            self.notify(
                f"No pager found: set $PAGER or install less. The log is {readable_path(path)}",
                title="Pager",
                severity="warning",
                markup=False,
            )
            return
        failure = ""
        try:
            with self.app.suspend():
                try:
                    subprocess.call(argv)
                except OSError as exc:
                    failure = f"{argv[0]} did not start: {exc}"
        except SuspendNotSupported:
            failure = "the terminal cannot be handed over here"
        if failure:
            self.notify(
                f"Cannot open a pager: {failure}. The log is {readable_path(path)}",
                title="Pager",
                severity="warning",
                markup=False,
            )

    def _jump(self, direction: int) -> None:
        if not self._step(direction):
            self.app.bell()
        self.update_subtitle()

    def _step(self, direction: int) -> bool:
        """Go to the next (+1) or previous (-1) match in the whole log, wrapping around."""
        view = self.lines_view
        live = view.live_matches()
        older = self._older.lines(self.origin_line) if self._older is not None else []
        if not live and not older:
            return False
        older_current = self._older_current
        target: tuple[bool, int]  # (is it older, line)
        if older_current is not None:
            if direction > 0:
                position = bisect_right(older, older_current)
                if position < len(older):
                    target = (True, older[position])
                else:
                    target = (False, live[0]) if live else (True, older[0])
            else:
                position = bisect_left(older, older_current) - 1
                if position >= 0:
                    target = (True, older[position])
                else:
                    target = (False, live[-1]) if live else (True, older[-1])
        else:
            current = view.current_match
            if current is None:
                found = view.first_live_match(direction)
            elif direction > 0:
                position = bisect_right(live, current)
                found = live[position] if position < len(live) else None
            else:
                position = bisect_left(live, current) - 1
                found = live[position] if position >= 0 else None
            if found is not None:
                target = (False, found)
            elif direction > 0:
                target = (True, older[0]) if older else (False, live[0])
            else:
                target = (True, older[-1]) if older else (False, live[-1])
        is_older, line = target
        if is_older:
            self._show_older(line)
        else:
            if not view.is_live:
                self._back_to_tail()
            view.go_to(line)
        return True

    # -- search bar -------------------------------------------------------

    @on(Input.Submitted)
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._close_search()
        self.search = event.value
        if event.value:
            self._jump(+1)

    @on(JobLogSearch.Closed)
    def _search_closed(self, event: JobLogSearch.Closed) -> None:
        event.stop()
        self._close_search()

    def _close_search(self) -> None:
        self.search_input.display = False
        self.focus()
