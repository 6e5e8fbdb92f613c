"""The job log pane: one job's output streaming live, bounded, searchable.

`JobLog` is the pane (header, output, search bar); `JobLogLines` renders the
output with Textual's line API so only visible rows cost anything; `LogBuffer`
holds the text. Output is cleaned once, when a line is complete: ANSI escape
sequences are stripped (colours are not rendered), tabs expanded, carriage
returns resolved the way a terminal would show a redrawn progress bar.
"""

from __future__ import annotations

import re
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
from textual.app import ComposeResult
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

from vp_tui.core.states import JobState

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
        self.buffer = LogBuffer(max_lines)
        """The text shown."""
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
            self._append(self.buffer.feed(data))

    def write_lines(self, lines: Iterable[str]) -> None:
        """Append whole lines; see `JobLog.write_lines`."""
        self._append(self.buffer.add_lines(lines))

    def clear(self) -> None:
        """Forget all output."""
        self.buffer.clear()
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

    def _forget(self, removed: int) -> None:
        """Drop what refers to lines the buffer just dropped."""
        if self._row_ends:
            self._row_base = self._row_ends[removed - 1]
            del self._row_ends[:removed]
        if self._matches:
            del self._matches[: bisect_left(self._matches, self.buffer.dropped)]
        if self.current_match is not None and self.current_match < self.buffer.dropped:
            self.current_match = None

    # -- rows -----------------------------------------------------------

    @property
    def _notice_rows(self) -> int:
        return 1 if self.buffer.dropped else 0

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

    def set_search(self, text: str) -> None:
        """Highlight case-insensitive occurrences of text ("" for none)."""
        self._pattern = re.compile(re.escape(text), re.IGNORECASE) if text else None
        self.current_match = None
        if self._pattern is None:
            self._matches = []
        else:
            search = self._pattern.search
            self._matches = [
                index
                for index, line in enumerate(self.buffer.lines, self.buffer.dropped)
                if search(line)
            ]
        self._cache.clear()
        self.refresh()

    def _match_lines(self) -> list[int]:
        """Absolute indices of the lines that match, the unfinished line included."""
        partial = self.buffer.partial
        if self._pattern is not None and partial and self._pattern.search(partial):
            return [*self._matches, self.buffer.total]
        return self._matches

    @property
    def match_count(self) -> int:
        """How many lines held in memory match the search."""
        return len(self._match_lines())

    @property
    def match_position(self) -> int | None:
        """1-based position of the current match among all matches, if there is one."""
        if self.current_match is None:
            return None
        matches = self._match_lines()
        position = bisect_left(matches, self.current_match)
        if position < len(matches) and matches[position] == self.current_match:
            return position + 1
        return None

    def jump(self, direction: int) -> bool:
        """Move to the next (+1) or previous (-1) matching line, wrapping around."""
        matches = self._match_lines()
        if not matches:
            return False
        current = self.current_match
        if current is None:
            if direction > 0:
                top = max(self.buffer.dropped, self._top_anchor()[0])
                position = bisect_left(matches, top)
                target = matches[position % len(matches)]
            else:
                bottom_row = round(self.scroll_y) + self.scrollable_content_region.height - 1
                bottom = self.row_line(bottom_row)[0]
                target = matches[bisect_right(matches, bottom) - 1]
        elif direction > 0:
            target = matches[bisect_right(matches, current) % len(matches)]
        else:
            target = matches[bisect_left(matches, current) - 1]
        self.current_match = target
        self._owner.following = False
        self._scroll(self.line_row(target) - self.scrollable_content_region.height // 2)
        self.refresh()
        return True

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
            where = f" in {self._owner.log_path}" if self._owner.log_path else " not shown"
            notice = f"… {buffer.dropped:,} earlier lines{where}"
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

    def update_job(
        self,
        command: str,
        state: JobState | str | None = None,
        elapsed: float | timedelta | None = None,
        exit_code: int | None = None,
    ) -> None:
        """Show a job's current facts."""
        state_text = str(state) if state else "-"
        if exit_code is None:
            exit_part: tuple[str, str] = ("-", "$text-muted")
        else:
            exit_part = (str(exit_code), "$text-success" if exit_code == 0 else "$text-error")
        self.update(
            Content.assemble(
                (state_text, f"bold {_STATE_STYLES.get(state_text, '$text-muted')}"),
                "  ",
                (format_elapsed(elapsed), ""),
                ("  exit ", "$text-muted"),
                exit_part,
                ("  $ ", "$text-muted"),
                command,
            )
        )


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
            self.lines_view.set_search(self.search)
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
        """Lines in memory that match the search."""
        return self.lines_view.match_count

    @property
    def current_match(self) -> int | None:
        """Absolute index of the matching line n/N went to last."""
        return self.lines_view.current_match

    @property
    def match_position(self) -> int | None:
        """1-based position of the current match, as shown in "3/17"."""
        return self.lines_view.match_position

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
        self.lines_view.clear()
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
    ) -> None:
        """Switch to another job: clear the output, follow, and fill the header."""
        self.job_id = job_id
        self.log_path = log_path
        self._command = command
        self.clear()
        self.following = True
        self.update_job(state=state, elapsed=elapsed, exit_code=exit_code)

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
        """Show the match position and follow state on the border."""
        view = self.lines_view
        facts = (self.search, view.match_position, view.match_count, self.following)
        if facts == self._subtitle:
            return
        self._subtitle = facts
        parts: list[str | tuple[str, str]] = []
        if self.search:
            count = view.match_count
            position = view.match_position
            parts.append((f"/{self.search} ", "$text-muted"))
            if position is not None:
                parts.append(f"{position}/{count}")
            else:
                parts.append(f"{count} match{'' if count == 1 else 'es'}")
            parts.append(" · ")
        parts.append("following" if self.following else ("paused", "$text-warning"))
        self.border_subtitle = Content.assemble(*parts)

    # -- reactives --------------------------------------------------------

    def watch_following(self, following: bool) -> None:
        """Jump to the bottom when following starts."""
        self.set_class(following, "-following")
        if following:
            self.lines_view.scroll_to_end()
        self.update_subtitle()

    def watch_wrap(self, wrap: bool) -> None:
        """Re-lay the output for the new wrap mode."""
        self.lines_view.set_wrap(wrap)

    def watch_search(self, search: str) -> None:
        """Recompute the matches."""
        self.lines_view.set_search(search)
        self.update_subtitle()

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

    def _jump(self, direction: int) -> None:
        if not self.lines_view.jump(direction):
            self.app.bell()
        self.update_subtitle()

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
