"""Reading a job's whole log file: the matches of a search in all of it, and a window of it.

The log pane keeps only the last lines of a job in memory; the whole log is on
disk. These functions read that file in blocks, off the UI thread, and never
hold more than a block of it: a log of millions of lines costs time, not
memory. Line numbers count from 0 and are the file's own (a line ends at
``\\n``); text is matched the way the pane shows it (escape sequences removed,
tabs expanded, carriage-return redraws resolved), case-insensitively.
"""

from __future__ import annotations

import re
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

__all__ = [
    "BLOCK_BYTES",
    "OlderMatches",
    "ScanReport",
    "read_window",
    "scan_log",
    "search_pattern",
]

BLOCK_BYTES = 1024 * 1024
"""How much of the file is read at a time (and how far apart the line checkpoints are)."""
REPORT_SECONDS = 0.1
"""How often a running scan reports what it found so far."""

# The pane's escape-sequence pattern, except that no sequence runs past the end of a line:
# a block is cleaned at once and must keep its line count.
_ANSI_IN_LINE = re.compile(
    r"\x1b(?:"
    r"\[[0-?]*[ -/]*[@-~]"
    r"|\][^\x07\x1b\n]*(?:\x07|\x1b\\)"
    r"|[PX^_][^\x1b\n]*\x1b\\"
    r"|[ -/]*[0-~]"
    r")"
)


def search_pattern(text: str) -> re.Pattern[str]:
    """The pattern the pane and the scan both use for a search text."""
    return re.compile(re.escape(text), re.IGNORECASE)


def _overstrike(line: str) -> str:
    """What a terminal shows for a line redrawn with carriage returns."""
    body = line.rstrip("\r")
    return body[body.rfind("\r") + 1 :]


def _shown_text(text: str) -> str:
    """Decoded lines as the pane shows them, with the same number of lines."""
    if "\x1b" in text:
        text = _ANSI_IN_LINE.sub("", text)
    if "\t" in text:
        text = text.expandtabs()
    if "\r" in text:
        text = "\n".join(_overstrike(line) if "\r" in line else line for line in text.split("\n"))
    return text


class _Finder:
    """Finds a search text case-insensitively: a plain lower-case scan for ASCII text
    (several times faster), the pane's own pattern for anything else."""

    def __init__(self, text: str) -> None:
        self.pattern = search_pattern(text)
        self.needle = text.lower() if text.isascii() else ""

    def lines(self, text: str, first: int) -> list[int]:
        """Numbers of the lines of ``text`` (the first being line ``first``) that match."""
        if self.needle and text.isascii():
            return self._lines_ascii(text.lower(), first)
        return self._lines_pattern(text, first)

    def _lines_ascii(self, text: str, first: int) -> list[int]:
        found: list[int] = []
        needle, size = self.needle, len(self.needle)
        position = 0
        line = first
        while (start := text.find(needle, position)) >= 0:
            line += text.count("\n", position, start)
            found.append(line)
            end = text.find("\n", start + size)
            if end < 0:
                break
            position = end + 1
            line += 1
        return found

    def _lines_pattern(self, text: str, first: int) -> list[int]:
        found: list[int] = []
        search = self.pattern.search
        position = 0
        line = first
        while (match := search(text, position)) is not None:
            line += text.count("\n", position, match.start())
            found.append(line)
            end = text.find("\n", match.end())
            if end < 0:
                break
            position = end + 1
            line += 1
        return found


@dataclass(frozen=True)
class ScanReport:
    """What a scan of the log file found since its previous report."""

    matches: list[int]
    """Lines that match, in file order."""
    lines: int
    """Lines scanned so far."""
    origin_line: int | None
    """The line at the pane's origin offset, once the scan has passed it."""
    checkpoints: list[tuple[int, int]]
    """New (line, byte offset) pairs, for seeking to a line later."""
    done: bool
    """The scan ended (at its stop line, at the end of the file, or on an error)."""


def scan_log(
    path: Path,
    search: str,
    *,
    origin_offset: int,
    lines_after_origin: int,
    cancelled: Callable[[], bool],
    report: Callable[[ScanReport], None],
) -> None:
    """Scan ``path`` from its start to ``lines_after_origin`` lines past ``origin_offset``.

    ``origin_offset`` is where the pane's own lines start in the file (a line
    start); the scan counts the lines before it, then goes on as far as the
    lines the pane has already dropped, and reports the lines that contain
    ``search`` (none when it is "": then it only counts). Lines the file gains later are
    the pane's business. Stops soon after ``cancelled()`` turns true.
    """
    finder = _Finder(search) if search else None
    matches: list[int] = []
    checkpoints: list[tuple[int, int]] = []
    origin_line: int | None = 0 if origin_offset == 0 else None
    stop_line: int | None = lines_after_origin if origin_line is not None else None
    line = 0
    position = 0  # the file offset of `carry`
    carry = b""
    last_report = time.monotonic()

    def send(done: bool) -> None:
        nonlocal matches, checkpoints, last_report
        report(ScanReport(matches, line, origin_line, checkpoints, done))
        matches, checkpoints = [], []
        last_report = time.monotonic()

    try:
        with path.open("rb") as handle:
            handle.seek(0)
            while not cancelled():
                if stop_line is not None and line >= stop_line:
                    break
                want = BLOCK_BYTES
                if origin_line is None:
                    want = max(1, min(want, origin_offset - position - len(carry)))
                data = handle.read(want)
                if not data:
                    break
                data = carry + data
                cut = data.rfind(b"\n") + 1
                if not cut:
                    carry = data
                    continue
                block, carry = data[:cut], data[cut:]
                count = block.count(b"\n")
                if stop_line is not None and line + count > stop_line:
                    end = -1
                    for _ in range(stop_line - line):
                        end = block.find(b"\n", end + 1)
                    block, count = block[: end + 1], stop_line - line
                checkpoints.append((line, position))
                if finder is not None:
                    text = _shown_text(block.decode("utf-8", errors="replace"))
                    matches.extend(finder.lines(text, line))
                line += count
                position += len(block)
                if origin_line is None and position >= origin_offset:
                    origin_line = line
                    stop_line = line + lines_after_origin
                if time.monotonic() - last_report >= REPORT_SECONDS:
                    send(False)
    except OSError:
        pass
    send(True)


def _skip_lines(handle: IO[bytes], count: int) -> None:
    """Move a binary file's position ``count`` lines on (or to its end)."""
    while count > 0:
        start = handle.tell()
        block = handle.read(BLOCK_BYTES)
        if not block:
            return
        found = block.count(b"\n")
        if found < count:
            count -= found
            continue
        end = -1
        for _ in range(count):
            end = block.find(b"\n", end + 1)
        handle.seek(start + end + 1)
        return


def read_window(
    path: Path, first: int, count: int, checkpoints: list[tuple[int, int]]
) -> tuple[str, int]:
    """The text of lines ``first`` to ``first + count`` of ``path``, and how many there were.

    ``checkpoints`` ((line, byte offset) pairs in line order, from a scan) let
    it start near the first line instead of at the top of the file.
    """
    lines = [line for line, _ in checkpoints]
    at = bisect_right(lines, first) - 1
    start_line, start_offset = checkpoints[at] if at >= 0 else (0, 0)
    chunks: list[bytes] = []
    with path.open("rb") as handle:
        handle.seek(start_offset)
        _skip_lines(handle, first - start_line)
        for _ in range(count):
            chunk = handle.readline()
            if not chunk.endswith(b"\n"):
                break  # the unfinished last line belongs to the live tail
            chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", errors="replace"), len(chunks)


@dataclass
class OlderMatches:
    """The matches of a whole-log search that lie before the lines the pane holds."""

    found: list[int] = field(default_factory=list)
    """File lines the scan found (all before the scan's stop line)."""
    dropped: list[int] = field(default_factory=list)
    """Pane line indices of matches the pane dropped after the search began."""
    scanning: bool = True
    """The scan is still running: more may be found."""

    def lines(self, origin_line: int | None) -> list[int]:
        """All of them as file lines, in order (dropped ones once the origin is known)."""
        if origin_line is None or not self.dropped:
            return self.found
        return [*self.found, *(origin_line + index for index in self.dropped)]

    def position(self, line: int, origin_line: int | None) -> int | None:
        """0-based place of the match at file line ``line`` among them, if it is one."""
        found = self.found
        at = bisect_left(found, line)
        if at < len(found) and found[at] == line:
            return at
        if origin_line is None:
            return None
        index = line - origin_line
        dropped = self.dropped
        at = bisect_left(dropped, index)
        if at < len(dropped) and dropped[at] == index:
            return len(found) + at
        return None

    def count(self, origin_line: int | None) -> int:
        """How many there are."""
        return len(self.found) + (len(self.dropped) if origin_line is not None else 0)
